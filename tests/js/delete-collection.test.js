// tests/js/delete-collection.test.js — Database.deleteCollection removes the collection's .rvf
// file, and refuses (ELOCK, naming the other handle's kind, changing nothing) while another object
// of this process has that file open: an openCollection handle (writer or read-only), a collection
// of another database over the folder (writable, read-only, or in a worker pool), a derive child —
// reached by any name of the file (symlinks, `a/../a`). After that handle closes the delete works.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, openCollection } from '../../web/index.js';
import { rejectsWith } from './helpers.js';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-delcol-'));
after(() => fs.rmSync(TMP, { recursive: true, force: true }));

let seq = 0;
/** A database folder with collection `c` (3 rows), and the deleting database over it. */
async function setup() {
  const dir = path.join(TMP, `db${++seq}`);
  const db = await createDatabase({ path: dir });
  const c = await db.createCollection('c', { dimension: 2, metric: 'euclidean' });
  await c.insertBatch([{ id: 1, vector: [1, 0] }, { id: 2, vector: [0, 1] }, { id: 3, vector: [1, 1] }]);
  await c.close();
  return { dir, db, file: path.join(dir, 'c.rvf') };
}

/**
 * deleteCollection('c') is refused while another handle is open (ELOCK matching `kind`), the file
 * and the deleting database's own handle keep working (when the other is a reader, the deleting
 * database has one open too); after closeOther() it resolves true and the file is gone.
 */
async function refusedUntilClosed(db, file, kind, closeOther, otherIsWriter = false) {
  const own = otherIsWriter ? null : await db.getCollection('c');
  const bytes = fs.readFileSync(file);
  await rejectsWith(() => db.deleteCollection('c'), 'ELOCK', new RegExp(`collection 'c' \\(.*c\\.rvf\\) is open in this process by ${kind}.*; close that handle first`));
  assert.deepEqual(fs.readFileSync(file), bytes, 'the file is untouched');
  if (own) assert.equal(await own.count(), 3, 'the deleting database lost nothing');
  assert.deepEqual(await db.listCollections(), ['c']);
  await closeOther();
  assert.equal(await db.deleteCollection('c'), true);
  assert.equal(fs.existsSync(file), false);
  if (own) await rejectsWith(() => own.count(), 'ECLOSED', /was deleted/);
  assert.equal(await db.deleteCollection('c'), false);
}

test('an openCollection(path) writer, then a read-only one, each by the path as the database names it', async () => {
  let { dir, db, file } = await setup();
  const w = await openCollection(file);
  await refusedUntilClosed(db, file, 'an openCollection\\(path\\) handle \\(a writer\\)', () => w.close(), true);
  await db.close();

  ({ dir, db, file } = await setup());
  const r = await openCollection(file, { readOnly: true });
  await refusedUntilClosed(db, file, 'a read-only openCollection\\(path, \\{ readOnly: true \\}\\) handle', () => r.close());
  await db.close();
  void dir;
});

test('second names of the file: a symlink, a/../a, a relative path, a symlinked folder', async () => {
  {
    const { db, file } = await setup();
    const link = path.join(TMP, `link${seq}.rvf`);
    fs.symlinkSync(file, link);
    const r = await openCollection(link, { readOnly: true });
    await refusedUntilClosed(db, file, 'a read-only openCollection', () => r.close());
    await db.close();
  }
  {
    const { dir, db, file } = await setup();
    const dotted = `${dir}/../${path.basename(dir)}/./c.rvf`; // not normalised: a second name
    assert.notEqual(dotted, file);
    const w = await openCollection(dotted);
    await refusedUntilClosed(db, file, 'an openCollection\\(path\\) handle', () => w.close(), true);
    await db.close();
  }
  {
    const { db, file } = await setup();
    const rel = path.relative(process.cwd(), file);
    const r = await openCollection(rel, { readOnly: true });
    await refusedUntilClosed(db, file, 'a read-only openCollection', () => r.close());
    await db.close();
  }
  {
    const { dir, db, file } = await setup();
    const linkDir = path.join(TMP, `linkdir${seq}`);
    fs.symlinkSync(dir, linkDir);
    const other = await createDatabase({ path: linkDir, readOnly: true });
    await other.getCollection('c');
    await refusedUntilClosed(db, file, 'a collection of a read-only createDatabase', () => other.close());
    await db.close();
  }
});

test('a collection of another database over the same folder: writable, read-only, in a worker pool', async () => {
  {
    const { dir, db, file } = await setup();
    const other = await createDatabase({ path: dir });
    const oc = await other.getCollection('c');
    await refusedUntilClosed(db, file, 'a collection of another createDatabase', () => oc.close(), true);
    // the other database's object was closed by its own close(), not by the delete
    await other.close();
    await db.close();
  }
  {
    const { dir, db, file } = await setup();
    const other = await createDatabase({ path: dir, readOnly: true });
    await other.getCollection('c');
    await refusedUntilClosed(db, file, `a collection of a read-only createDatabase\\(\\{ path: "${dir.replace(/[\\.]/g, '\\$&')}", readOnly: true \\}\\)`, () => other.close());
    await db.close();
  }
  {
    const { dir, db, file } = await setup();
    const pool = await createDatabase({ path: dir, workers: 2 });
    const pc = await pool.getCollection('c');
    assert.equal(await pc.count(), 3);
    await refusedUntilClosed(db, file, 'a collection of another createDatabase', () => pool.close(), true);
    await db.close();
  }
  {
    // the pool database is the one deleting: the holders reach its worker session
    const { dir, db, file } = await setup();
    await db.close();
    const pool = await createDatabase({ path: dir, workers: 2 });
    const r = await openCollection(file, { readOnly: true });
    await refusedUntilClosed(pool, file, 'a read-only openCollection', () => r.close());
    await pool.close();
  }
});

test('a derive(path) child holds its own file', async () => {
  const { dir, db, file } = await setup();
  const src = await openCollection(path.join(TMP, `src${seq}.rvf`), { create: { dimension: 2 } });
  const child = await src.derive(path.join(dir, 'kid.rvf'));
  const kidFile = path.join(dir, 'kid.rvf');
  await rejectsWith(() => db.deleteCollection('kid'), 'ELOCK', /a derive\(path\) child handle/);
  assert.ok(fs.existsSync(kidFile));
  await child.close();
  assert.equal(await db.deleteCollection('kid'), true);
  assert.equal(fs.existsSync(kidFile), false);
  await src.close();
  // nothing else held: the database deletes its own open collection as before
  const own = await db.getCollection('c');
  assert.equal(await db.deleteCollection('c'), true);
  assert.equal(fs.existsSync(file), false);
  await rejectsWith(() => own.count(), 'ECLOSED');
  await db.close();
});

test('a failed open holds nothing; a memory database is unaffected', async () => {
  const { db, file } = await setup();
  await rejectsWith(() => openCollection(file, { create: { dimension: 3 } }), 'EINVAL', /dimension/);
  await rejectsWith(() => openCollection(path.join(path.dirname(file), 'none.rvf')), 'ENOTFOUND');
  assert.equal(await db.deleteCollection('c'), true);
  await db.close();
  const mem = await createDatabase();
  await mem.createCollection('c', { dimension: 2 });
  const img = await openCollection(new Uint8Array(0), { create: { dimension: 2 } });
  assert.equal(await mem.deleteCollection('c'), true);
  await img.close();
  await mem.close();
});
