// refresh.test.js — read-only handles follow the writer: Collection.refresh() and
// openCollection(path, { readOnly: true, follow }). Oracle: a fresh read-only open of the same file
// (and brute force on flat).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openCollection, VecliteError } from '../../web/index.js';
import { BASE, QUERIES, DIM } from './helpers.js';

const tmp = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'vl-refresh-')), 'c.rvf');

async function sameAs(reader, file) {
  const fresh = await openCollection(file, { readOnly: true });
  try {
    assert.equal(await reader.count(), await fresh.count());
    for (const q of QUERIES.slice(0, 5)) {
      const a = await reader.search(q, { k: 10, ef: 500 });
      const b = await fresh.search(q, { k: 10, ef: 500 });
      assert.deepEqual(a.map((h) => h.id), b.map((h) => h.id));
    }
  } finally { await fresh.close(); }
}

for (const type of ['flat', 'hnsw']) {
  test(`refresh applies rows, deletes, metadata and string ids (${type}); a compaction reopens`, async () => {
    const file = tmp();
    const w = await openCollection(file, { create: { dimension: DIM, metric: 'euclidean', index: { type }, idType: 'string' } });
    await w.insertBatch(BASE.slice(0, 200).map((v, i) => ({ id: `a${i}`, vector: v, metadata: { n: i } })));
    const r = await openCollection(file, { readOnly: true });
    assert.deepEqual((await r.refresh()).changed, false);
    await w.insertBatch(BASE.slice(200, 300).map((v, i) => ({ id: `b${i}`, vector: v, metadata: { n: i } })));
    await w.delete(['a1', 'a2', 'a3']);
    await w.insert({ id: 'a2', vector: BASE[400], metadata: { back: true } });
    const res = await r.refresh();
    assert.equal(res.changed, true);
    assert.ok(res.added >= 101 && res.deleted === 3, JSON.stringify(res));
    assert.equal((await r.get('a2')).metadata.back, true);
    assert.equal(await r.get('a1'), null);
    assert.equal((await r.get('b7')).metadata.n, 7);
    await sameAs(r, file);
    await w.compact();
    await w.insert({ id: 'c0', vector: BASE[500] });
    const res2 = await r.refresh();
    assert.equal(res2.reopened, true);
    assert.ok(await r.get('c0'));
    await sameAs(r, file);
    await w.close();
    await r.close();
  });
}

test('a follower sees a commit without refresh(); close() stops it', async () => {
  const file = tmp();
  const w = await openCollection(file, { create: { dimension: DIM, metric: 'euclidean', index: { type: 'flat' } } });
  await w.insert({ id: 1, vector: BASE[0] });
  const r = await openCollection(file, { readOnly: true, follow: { intervalMs: 20 } });
  await w.insert({ id: 2, vector: BASE[1] });
  const t0 = Date.now();
  while (!(await r.get(2)) && Date.now() - t0 < 20000) await new Promise((ok) => setTimeout(ok, 20));
  assert.ok(await r.get(2), 'the follower saw the commit');
  await r.close();
  await w.close();
});

test('refresh on a writer is a no-op; on bytes it is EINVAL', async () => {
  const file = tmp();
  const w = await openCollection(file, { create: { dimension: DIM } });
  assert.equal((await w.refresh()).changed, false);
  const m = await openCollection(new Uint8Array(0), { create: { dimension: DIM } });
  await assert.rejects(m.refresh(), (e) => e instanceof VecliteError && e.code === 'EINVAL');
  await assert.rejects(openCollection(file, { follow: true }), (e) => e.code === 'EINVAL');
  await m.close();
  await w.close();
});

test('a follower never keeps a process alive: a script that opens with follow and never closes exits on its own', async () => {
  const { spawn } = await import('node:child_process');
  const f = tmp();
  const w = await openCollection(f, { create: { dimension: 2 } });
  await w.insert({ id: 1, vector: [1, 1] });
  await w.close();
  const index = new URL('../../web/index.js', import.meta.url).href;
  const child = spawn(process.execPath, ['--input-type=module', '-e',
    `const v = await import(${JSON.stringify(index)});` +
    `const r = await v.openCollection(${JSON.stringify(f)}, { readOnly: true, follow: { intervalMs: 20 } });` +
    `console.log(await r.count());`], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000); // a bound, not a timing assertion
  const [code, signal] = await new Promise((r) => child.once('exit', (c, s) => r([c, s])));
  clearTimeout(timer);
  assert.equal(signal, null, 'it exited by itself, it was not killed');
  assert.equal(code, 0);
  assert.equal(out.trim(), '1');
});

// ---- regressions found by an adversarial review -------------------------------------------------

test('regression: a file replaced by a store of another configuration: refresh() takes its dimension, metric and index', async () => {
  for (const how of ['rename', 'copy in place']) {
    const p = tmp();
    const q = path.join(path.dirname(p), 'other.rvf');
    const w = await openCollection(p, { create: { dimension: 4, metric: 'cosine', index: { type: 'flat' } } });
    await w.insert({ id: 1, vector: [1, 2, 3, 4] });
    await w.close();
    const r = await openCollection(p, { readOnly: true });
    const o = await openCollection(q, { create: { dimension: 3, metric: 'euclidean' } });
    await o.insert({ id: 'a', vector: [1, 2, 3] });
    await o.insert({ id: 'b', vector: [3, 2, 1] });
    await o.close();
    if (how === 'rename') fs.renameSync(q, p);
    else fs.writeFileSync(p, fs.readFileSync(q)); // same inode, new bytes: the engine reloads
    const res = await r.refresh();
    assert.equal(res.changed, true);
    const f = await openCollection(p, { readOnly: true });
    const [a, b] = [await r.stats(), await f.stats()];
    assert.equal(a.dimension, b.dimension, how);
    assert.equal(a.metric, b.metric, how);
    assert.deepEqual(a.index.type, b.index.type, how);
    assert.deepEqual(Array.from((await r.get('a')).vector), Array.from((await f.get('a')).vector));
    const hits = async (c) => (await c.search([1, 2, 2.5], { k: 2 })).map((h) => [h.id, h.distance]);
    assert.deepEqual(await hits(r), await hits(f), how);
    await r.close();
    await f.close();
  }
});

test('regression: close() while a refresh reopens a replaced file: ECLOSED, and nothing stays open', async () => {
  const p = tmp();
  const w = await openCollection(p, { create: { dimension: 2 } });
  for (let i = 0; i < 50; i++) await w.insert({ id: i, vector: [i, 1] });
  const r = await openCollection(p, { readOnly: true });
  await w.delete(3);
  await w.compact(); // a new inode at the path: the next refresh reopens
  const pending = r.refresh();
  await r.close();
  await assert.rejects(pending, (e) => e instanceof VecliteError && e.code === 'ECLOSED');
  await w.close();
  if (fs.existsSync('/proc/self/fd')) {
    const open = fs.readdirSync('/proc/self/fd').filter((fd) => {
      try { return fs.readlinkSync(`/proc/self/fd/${fd}`) === fs.realpathSync(p); } catch { return false; }
    });
    assert.deepEqual(open, [], 'no descriptor on the store is left open');
  }
});
