// tests/js/readonly-database.test.js — createDatabase({ path, readOnly: true }) (docs/api.md §6):
// it opens a folder's collections without writer locks, also while another process holds them
// and writes; reads see the commit each collection opened at until refresh() (or follow); every
// write rejects with EREADONLY and changes no byte; bad combinations are EINVAL.
//
// Expectations come from what the test itself wrote (rows and their count), never from the code
// under test.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createDatabase } from '../../web/index.js';
import { rejectsWith, within } from './helpers.js';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-rodb-'));
const children = new Set();
after(() => {
  for (const c of children) c.kill('SIGKILL');
  fs.rmSync(TMP, { recursive: true, force: true });
});
const INDEX = new URL('../../web/index.js', import.meta.url).href;

let seq = 0;
function freshDir() {
  const d = path.join(TMP, `db${++seq}`);
  fs.mkdirSync(d);
  return d;
}

/** A folder with collections a (ids 0..n-1, metadata { i }) and b. */
async function seed(dir, n = 20) {
  const db = await createDatabase({ path: dir });
  const a = await db.createCollection('a', { dimension: 3, metric: 'euclidean' });
  await a.insertBatch(Array.from({ length: n }, (_, i) => ({ id: i, vector: [i, 1, 0], metadata: { i } })));
  const b = await db.createCollection('b', { dimension: 2 });
  await b.insert({ id: 'x', vector: [1, 0] });
  await db.close();
}

/**
 * Another process that opens `dir` as a writable database, holds collection a (its writer lock)
 * and inserts `insert N` rows on each line it reads, answering `done <count>`.
 */
async function writerProcess(dir) {
  const src = `
    import { createDatabase } from ${JSON.stringify(INDEX)};
    import readline from 'node:readline';
    const db = await createDatabase({ path: ${JSON.stringify(dir)} });
    const a = await db.getCollection('a');
    let next = 1000;
    console.log(JSON.stringify({ ready: true, count: await a.count() }));
    for await (const line of readline.createInterface({ input: process.stdin })) {
      const n = Number(line.split(' ')[1]);
      const rows = Array.from({ length: n }, () => { const i = next++; return { id: i, vector: [i, 2, 0], metadata: { i } }; });
      await a.insertBatch(rows);
      console.log(JSON.stringify({ done: await a.count() }));
    }
    await db.close();`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', src], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(child);
  const lines = [];
  let wake = null;
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (d) => {
    buf += d;
    let k;
    while ((k = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, k)));
      buf = buf.slice(k + 1);
      wake?.();
    }
  });
  const nextLine = () => within(20000, new Promise((resolve) => {
    const check = () => { if (lines.length) { wake = null; resolve(lines.shift()); } else wake = check; };
    check();
  }), 'writer process');
  const ready = await nextLine();
  assert.equal(ready.ready, true);
  return {
    async insert(n) {
      child.stdin.write(`insert ${n}\n`);
      return (await nextLine()).done;
    },
    async stop() {
      const closed = new Promise((resolve) => child.on('close', resolve));
      child.stdin.end();
      assert.equal(await closed, 0);
      children.delete(child);
    },
  };
}

const WRITES = (db, col) => [
  ['insert', () => col.insert({ id: 99, vector: [1, 1, 1] })],
  ['insertBatch', () => col.insertBatch([{ id: 98, vector: [1, 1, 1] }])],
  ['update', () => col.update(1, { metadata: { i: -1 } })],
  ['delete', () => col.delete(1)],
  ['deleteWhere', () => col.deleteWhere({ i: { $lt: 5 } })],
  ['clear', () => col.clear()],
  ['compact', () => col.compact()],
  ['createCollection', () => db.createCollection('c', { dimension: 2 })],
  ['deleteCollection', () => db.deleteCollection('b')],
];

test('reads while another process holds the writer lock and writes; every write is EREADONLY and changes nothing', async () => {
  const dir = freshDir();
  await seed(dir, 20);
  const writer = await writerProcess(dir);
  try {
    const db = await createDatabase({ path: dir, readOnly: true });
    assert.equal(db.readOnly, true);
    assert.deepEqual(await db.listCollections(), ['a', 'b']);
    const a = await db.getCollection('a');           // no ELOCK: a reader takes no lock
    assert.equal(await a.count(), 20);
    assert.deepEqual((await a.get(7)).metadata, { i: 7 });
    const hits = await a.search([7, 1, 0], { k: 1 });
    assert.equal(hits[0].id, 7);
    assert.equal((await a.status()).readOnly, true);
    assert.equal(await db.getCollection('nope'), null);

    // the writer commits 5 rows: the reader keeps its commit until refresh()
    assert.equal(await writer.insert(5), 25);
    assert.equal(await a.count(), 20);
    const r = await a.refresh();
    assert.equal(r.changed, true);
    assert.equal(r.added, 5);
    assert.equal(await a.count(), 25);
    assert.equal((await a.search([1002, 2, 0], { k: 1 }))[0].id, 1002);

    // writes: EREADONLY naming the read-only database, and no byte of the folder changes
    const before = Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.statSync(path.join(dir, f)).size]));
    for (const [what, fn] of WRITES(db, a)) {
      await rejectsWith(fn, 'EREADONLY', new RegExp(`^${what}: .*readOnly: true`));
    }
    const afterSizes = Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.statSync(path.join(dir, f)).size]));
    assert.deepEqual(afterSizes, before);
    assert.equal(await a.count(), 25);
    assert.deepEqual((await a.get(1)).metadata, { i: 1 });
    await db.close();

    // follow: a read-only database's collections refresh themselves
    const fdb = await createDatabase({ path: dir, readOnly: true, follow: { intervalMs: 20 } });
    const fa = await fdb.getCollection('a');
    assert.equal(await fa.count(), 25);
    assert.equal(await writer.insert(3), 28);
    await within(10000, (async () => { while ((await fa.count()) !== 28) await new Promise((res) => setTimeout(res, 20)); })(), 'follow');
    await fdb.close();
  } finally {
    await writer.stop();
  }
  // the writer's rows are all there for a writable open afterwards
  const w = await createDatabase({ path: dir });
  assert.equal(await (await w.getCollection('a')).count(), 28);
  await w.close();
});

test('in a worker (workers: 1) the same rules hold', async () => {
  const dir = freshDir();
  await seed(dir, 10);
  const db = await createDatabase({ path: dir, readOnly: true, workers: 1 });
  const a = await db.getCollection('a');
  assert.equal(await a.count(), 10);
  await rejectsWith(() => a.insert({ id: 50, vector: [1, 2, 3] }), 'EREADONLY', /readOnly: true/);
  await rejectsWith(() => db.createCollection('z', { dimension: 2 }), 'EREADONLY', /readOnly: true/);
  assert.equal(await a.count(), 10);
  await db.close();
});

test('bad combinations are EINVAL with the reason; a missing folder is ENOTFOUND and is not created', async () => {
  await rejectsWith(() => createDatabase({ readOnly: true }), 'EINVAL', /memory database starts empty/);
  await rejectsWith(() => createDatabase({ backend: 'memory', readOnly: true }), 'EINVAL', /nothing to read/);
  await rejectsWith(() => createDatabase({ path: TMP, readOnly: 'yes' }), 'EINVAL', /readOnly must be true or false/);
  await rejectsWith(() => createDatabase({ path: TMP, follow: true }), 'EINVAL', /follow needs a read-only database/);
  await rejectsWith(() => createDatabase({ path: TMP, readOnly: true, follow: { intervalMs: 0 } }), 'EINVAL', /follow must be/);
  await rejectsWith(() => createDatabase({ path: TMP, readOnly: true, workers: 2 }), 'EINVAL', /read replicas of a readOnly database/);
  for (const backend of ['opfs', 'indexeddb']) {
    await rejectsWith(() => createDatabase({ path: 'x', backend, readOnly: true }), 'EINVAL',
      new RegExp(`Node file backend only, not '${backend}'.*openCollection\\('<database>/<collection>', \\{ backend: '${backend}', readOnly: true \\}\\)`));
  }
  const missing = path.join(TMP, 'missing', 'deeper');
  await rejectsWith(() => createDatabase({ path: missing, readOnly: true }), 'ENOTFOUND', /does not exist; a read-only database opens an existing one/);
  assert.equal(fs.existsSync(path.join(TMP, 'missing')), false);
  const file = path.join(TMP, 'plain-file');
  fs.writeFileSync(file, 'x');
  await rejectsWith(() => createDatabase({ path: file, readOnly: true }), 'EINVAL', /is not a directory/);
  // a writable database over the same folder is unaffected by a read-only one
  const dir = freshDir();
  await seed(dir, 3);
  const ro = await createDatabase({ path: dir, readOnly: true });
  const roA = await ro.getCollection('a');
  const rw = await createDatabase({ path: dir });
  const rwA = await rw.getCollection('a');                 // the reader holds no lock
  await rwA.insert({ id: 3, vector: [3, 1, 0] });
  assert.equal(await roA.count(), 3);
  assert.equal(await rwA.count(), 4);
  await rw.close();
  await ro.close();
});

// db.close() released its collections without stopping their follow timers: each kept stat-ing
// its file every intervalMs for the rest of the process (unref()ed, so nothing showed).
test('db.close() stops the follow timers of its collections', async () => {
  const dir = freshDir();
  await seed(dir);
  const file = path.join(dir, 'a.rvf');
  const real = fs.statSync;
  let stats = 0;
  fs.statSync = function statSync(p, ...rest) {
    if (String(p) === file) stats++;
    return real.call(this, p, ...rest);
  };
  try {
    const db = await createDatabase({ path: dir, readOnly: true, follow: { intervalMs: 5 } });
    const a = await db.getCollection('a');
    assert.equal(await a.count(), 20);
    await new Promise((r) => setTimeout(r, 60));
    assert.ok(stats > 0, 'the follower polls the file while open');
    await db.close();
    stats = 0;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(stats, 0, 'stat() calls on the file after db.close()');
  } finally {
    fs.statSync = real;
  }
});
