// tests/js/export-to.test.js — Collection.exportTo(path): the committed image written to a file
// as its writer would (under its lock, through a synced temporary renamed over it), refusing to
// clobber a file unless told, and refusing a file a live writer holds.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createDatabase, openCollection } from '../../web/index.js';

test('exportTo writes the export() bytes, refuses an existing file unless overwrite, and a file with a live writer', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-exportto-'));
  try {
    for (const workers of [0, 2]) {
      const db = await createDatabase({ workers });
      const col = await db.createCollection('c', { dimension: 3, idType: 'string' });
      await col.insertBatch([{ id: 'a', vector: [1, 2, 3], metadata: { t: 'x' } }, { id: 'b', vector: [3, 2, 1] }]);
      const out = path.join(dir, `out-${workers}.rvf`);
      const r = await col.exportTo(out);
      assert.equal(r.bytes, fs.statSync(out).size);
      assert.deepEqual(new Uint8Array(fs.readFileSync(out)), await col.export());
      assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('.tmp-')), [], 'no temporary left behind');
      await assert.rejects(col.exportTo(out), { code: 'EINVAL', message: /already exists/ });
      await col.insert({ id: 'c', vector: [1, 1, 1] });
      await col.exportTo(out, { overwrite: true });
      const back = await openCollection(out, { readOnly: true });
      assert.equal(await back.count(), 3);
      assert.deepEqual((await back.get('a')).metadata, { t: 'x' });
      await back.close();
      // a file whose writer is alive is not replaced under it
      const holder = await openCollection(out);
      await assert.rejects(col.exportTo(out, { overwrite: true }), { code: 'ELOCK' });
      await holder.close();
      await assert.rejects(col.exportTo(''), { code: 'EINVAL' });
      await assert.rejects(col.exportTo(out, { clobber: true }), { code: 'EINVAL' });
      await db.close();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a temporary copy a killed export left is replaced by the next export; an empty .rvf a failed create left is no collection', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-exportto-'));
  try {
    const out = path.join(dir, 'out.rvf');
    fs.writeFileSync(`${out}.compact.tmp`, Buffer.alloc(4096, 7)); // what a SIGKILL mid-export leaves
    const db = await createDatabase({ path: dir });
    const c = await db.createCollection('src', { dimension: 2 });
    await c.insert({ id: 1, vector: [1, 2] });
    await c.exportTo(out);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('tmp')), [], 'no temporary left behind');
    // an empty m.rvf (a create that failed before its first commit) is not listed, getCollection
    // answers null, and a create of that name takes it over
    fs.writeFileSync(path.join(dir, 'm.rvf'), '');
    assert.deepEqual(await db.listCollections(), ['out', 'src']);
    assert.equal(await db.getCollection('m'), null);
    const m = await db.createCollection('m', { dimension: 2 });
    await m.insert({ id: 1, vector: [1, 1] });
    assert.deepEqual(await db.listCollections(), ['m', 'out', 'src']);
    await db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
