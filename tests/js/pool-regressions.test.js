// tests/js/pool-regressions.test.js — regressions found by an adversarial review of the session
// and worker-pool rewrite: workers stopping at awkward moments (during a collection's sync, a
// restore, a close), collections closed or deleted in a pool, and facade details (a following
// handle's dimension, a predicate that closes its collection, configs that are not plain data).
//
// Workers are stopped behind the pool's back through its diagnostic hook (docs/workers.md §5);
// "stop it on message X" wraps one client's call() so the worker dies right after X was sent.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDatabase, getWasmInfo, openCollection } from '../../web/index.js';
import { within } from './helpers.js';
import { transferList } from '../../worker/protocol.js';

const POOL = Symbol.for('veclite.pool');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Make client stop its worker right after it sends a message of type `type`. */
function stopOn(client, type) {
  const orig = client.call.bind(client);
  client.call = (t, a) => {
    const p = orig(t, a);
    if (t === type) client.worker.terminate();
    return p;
  };
}

/** Wait until the pool's client at index i is a live replacement of `old`. */
async function replaced(pool, i, old) {
  for (let t = 0; t < 200; t++) {
    if (pool.clients[i] !== old && pool.clients[i].alive) return;
    await sleep(10);
  }
  throw new Error(`client ${i} was not replaced`);
}

test('a writer stopping while a new collection is copied to the replicas: create rejects, the others survive', async () => {
  const db = await createDatabase({ workers: 3 });
  try {
    const pool = db[POOL];
    const b = await db.createCollection('b', { dimension: 2 });
    await b.insert({ id: 1, vector: [1, 2] });
    const w = pool.clients[0];
    stopOn(w, 'export');
    await assert.rejects(within(1000, db.createCollection('c', { dimension: 2 }), 'createCollection'), { code: 'EBACKEND' });
    await replaced(pool, 0, w);
    assert.equal(await b.count(), 1, 'the acknowledged row of b survives (healthy replicas were not stopped)');
    assert.equal(pool.clients.filter((c) => c.alive).length, 3);
  } finally {
    await db.close();
  }
});

for (const how of ['close', 'deleteCollection']) {
  test(`after a collection's ${how}, a replacement replica syncs and serves, and a writer death loses nothing`, async () => {
    const db = await createDatabase({ workers: 3 });
    try {
      const pool = db[POOL];
      const a = await db.createCollection('a', { dimension: 2 });
      const b = await db.createCollection('b', { dimension: 2 });
      await b.insert({ id: 1, vector: [1, 2] });
      if (how === 'close') await a.close();
      else await db.deleteCollection('a');
      const r1 = pool.clients[1];
      r1.worker.terminate(); // not awaited: an idle pool's workers are unref()ed, so nothing would keep Node waiting for the exit
      await replaced(pool, 1, r1);
      await b.insert({ id: 2, vector: [3, 4] });
      // the new replica serves b (every session answers within a few rounds)
      const served = new Set();
      for (const c of pool.clients) {
        const orig = c.call.bind(c);
        c.call = (t, x) => { if (t === 'count') served.add(c.label); return orig(t, x); };
      }
      for (let t = 0; t < 50 && served.size < 3; t++) {
        assert.equal(await b.count(), 2);
        await sleep(5);
      }
      assert.deepEqual([...served].sort(), ['replica 1', 'replica 2', 'writer']);
      const w = pool.clients[0];
      w.worker.terminate(); // not awaited: an idle pool's workers are unref()ed, so nothing would keep Node waiting for the exit
      await replaced(pool, 0, w);
      assert.equal(await b.count(), 2);
    } finally {
      await db.close();
    }
  });
}

test('close() right after the writer died settles, leaves no worker and no lock behind', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-poolreg-'));
  try {
    const db = await createDatabase({ path: dir, workers: 2 });
    const a = await db.createCollection('a', { dimension: 2 });
    await a.insert({ id: 1, vector: [1, 2] });
    const pool = db[POOL];
    pool.clients[0].worker.terminate();
    await within(2000, db.close(), 'close after the writer died');
    await sleep(500);
    assert.equal(getWasmInfo().workerPoolSize, 0);
    assert.deepEqual(pool.clients.map((c) => c.alive), [false, false]);
    const again = await openCollection(path.join(dir, 'a.rvf')); // not ELOCK: nobody reopened it
    assert.equal(await again.count(), 1);
    await again.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a collection closed in a file pool stays closed when the writer is replaced', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-poolreg-'));
  try {
    const db = await createDatabase({ path: dir, workers: 2 });
    const a = await db.createCollection('a', { dimension: 2 });
    await a.close();
    const pool = db[POOL];
    const w = pool.clients[0];
    w.worker.terminate(); // not awaited: an idle pool's workers are unref()ed, so nothing would keep Node waiting for the exit
    await replaced(pool, 0, w);
    await db.listCollections(); // waits for the replacement to finish
    const other = await openCollection(path.join(dir, 'a.rvf'));
    await other.close();
    await db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

for (const stage of ['open', 'createDatabase', 'restoreCollection']) {
  test(`the replacement writer dying too (during '${stage}') loses nothing the replicas hold`, async () => {
    const db = await createDatabase({ workers: 3 });
    try {
      const pool = db[POOL];
      const b = await db.createCollection('b', { dimension: 2 });
      await b.insert({ id: 1, vector: [1, 2] });
      const old = pool.clients[0];
      old.worker.terminate();
      while (pool.clients[0] === old) await sleep(1);
      stopOn(pool.clients[0], stage);
      await sleep(1500);
      assert.equal(await b.count(), 1);
      await b.insert({ id: 3, vector: [3, 4] });
      assert.equal(await b.count(), 2);
      assert.equal(getWasmInfo().workerPoolSize >= 3, true);
    } finally {
      await db.close();
    }
  });
}

test('a writer death while the first source replica dies too: the other replica restores the data', async () => {
  const db = await createDatabase({ workers: 3 });
  try {
    const pool = db[POOL];
    const b = await db.createCollection('b', { dimension: 2 });
    await b.insert({ id: 1, vector: [1, 2] });
    stopOn(pool.clients[1], 'export');
    pool.clients[0].worker.terminate();
    await sleep(1000);
    assert.equal(await b.count(), 1);
  } finally {
    await db.close();
  }
});

test('close() of a collection its pool lost resolves; the database goes on', async () => {
  const db = await createDatabase({ workers: 1 });
  try {
    const c = await db.createCollection('c', { dimension: 2 });
    await c.insert({ id: 1, vector: [1, 2] });
    db[POOL].clients[0].kill('stopped by the test');
    await assert.rejects(c.count(), { code: 'EBACKEND', message: /lost/ });
    await c.close();
    await assert.rejects(c.count(), { code: 'ECLOSED' });
  } finally {
    await db.close();
  }
});

test('a following read-only handle on a dimension-0 store takes the dimension its writer sets', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-poolreg-'));
  try {
    const f = path.join(dir, 'z.rvf');
    fs.copyFileSync(path.join(ROOT, 'tests/golden/rvf/dim0-empty.rvf'), f);
    const reader = await openCollection(f, { readOnly: true, follow: { intervalMs: 20 } });
    const writer = await openCollection(f);
    assert.equal(reader.dimension, 0);
    await writer.insert({ id: 1, vector: [1, 2, 3] });
    for (let t = 0; t < 100 && (await reader.count()) === 0; t++) await sleep(20);
    assert.equal(reader.dimension, 3);
    assert.deepEqual((await reader.search([1, 2, 3], { k: 1 })).map((h) => h.id), [1]);
    assert.deepEqual((await reader.searchBatch([[1, 2, 3]], { k: 1 }))[0].map((h) => h.id), [1]);
    await reader.close();
    await writer.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a predicate that closes its collection stops the search with ECLOSED (in-thread and pooled)', async () => {
  for (const workers of [0, 2]) {
    const db = await createDatabase({ workers });
    const c = await db.createCollection('c', { dimension: 2, index: { type: 'flat' } });
    await c.insertBatch([{ id: 1, vector: [1, 2] }, { id: 2, vector: [2, 1] }]);
    await assert.rejects(c.search([1, 2], { filter: () => { c.close(); return true; } }), { code: 'ECLOSED' });
    await db.close();
  }
});

test('configs that are not plain data are refused the same way in-thread and in a pool; nothing of the caller is detached', async () => {
  class Idx { constructor() { this.type = 'flat'; } }
  for (const workers of [0, 2]) {
    const db = await createDatabase({ workers });
    const mine = new Float32Array([1, 2, 3]);
    for (const config of [{ dimension: 2, index: mine }, { dimension: 2, index: new Idx() },
      { dimension: 2, metric: new String('cosine') }, { dimension: 2, index: new Map() }]) {
      await assert.rejects(db.createCollection('x', config), { code: 'EINVAL', message: /plain data/ });
    }
    assert.equal(mine.byteLength, 12, `workers ${workers}: the caller's array is intact`);
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    await assert.rejects(db.createCollection(revoked.proxy, { dimension: 2 }), { name: 'VecliteError', code: 'EINVAL' });
    const c = await db.createCollection('ok', { dimension: 2 });
    await assert.rejects(c.get({}), { code: 'EINVAL', message: /^get: / });
    await db.close();
  }
});

test('a write held back by a replica copy while the writer is replaced lands in its own collection', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-poolreg-'));
  try {
    const db = await createDatabase({ path: dir, workers: 2 });
    const pool = db[POOL];
    const junk = await db.createCollection('junk', { dimension: 2 }); // shifts the handles a new writer hands out
    await junk.close();
    const y = await db.createCollection('y', { dimension: 2 });
    const z = await db.createCollection('z', { dimension: 2 });
    const r1 = pool.clients[1];
    r1.worker.terminate(); // not awaited: idle workers are unref()ed
    let nr;
    while (!(nr = pool.clients[1]) || nr === r1) await sleep(0);
    // Hold the new replica's copy of y until the new writer is being set up; meanwhile a write
    // to y waits on the copy, and the writer dies.
    let release;
    const gate = new Promise((r) => { release = r; });
    const origR = nr.call.bind(nr);
    let writeP;
    nr.call = (t, a) => {
      if (t === 'openReplica' && a.name === 'y') {
        const oldW = pool.clients[0];
        (async () => {
          await sleep(0);
          writeP = y.insert({ id: 42, vector: [4, 2] });
          oldW.worker.terminate();
          let w;
          while (!(w = pool.clients[0]) || w === oldW) await sleep(0);
          const origW = w.call.bind(w);
          w.call = (t2, a2) => {
            const p = origW(t2, a2);
            if (t2 === 'createDatabase') release();
            return p;
          };
        })();
        return gate.then(() => origR(t, a));
      }
      return origR(t, a);
    };
    while (!writeP) await sleep(5);
    await within(5000, writeP, 'the held write');
    assert.equal(await y.count(), 1);
    assert.equal(await z.count(), 0);
    assert.notEqual(await y.get(42), null);
    await db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a file write in flight while a new replica reads the file is seen on that replica', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-poolreg-'));
  try {
    const db = await createDatabase({ path: dir, workers: 2 });
    const pool = db[POOL];
    const big = await db.createCollection('big', { dimension: 2 });
    await big.insertBatch([{ id: 1, vector: [1, 2] }, { id: 2, vector: [2, 1] }]);
    const r1 = pool.clients[1];
    r1.worker.terminate(); // not awaited
    let nr;
    while (!(nr = pool.clients[1]) || nr === r1) await sleep(0);
    // Deterministic interleaving: the replica reads the file; only then does the writer commit a
    // write issued just before the copy began; the replica is registered only after that write
    // resolved (so the write's 'apply' was not sent to it).
    const origR = nr.call.bind(nr);
    let W;
    nr.call = (t, a) => {
      if (t === 'openReplica' && a.name === 'big') {
        const read = origR(t, a);
        const w = pool.clients[0];
        const origW = w.call.bind(w);
        w.call = (t2, a2) => (t2 === 'insert' ? read.then(() => origW(t2, a2)) : origW(t2, a2));
        W = big.insert({ id: 3, vector: [3, 3] });
        return read.then((info) => W.then(() => info));
      }
      return origR(t, a);
    };
    while (!W) await sleep(5);
    await W;
    while (pool.clients[1] !== nr || !nr.alive) await sleep(5);
    await sleep(100);
    for (let i = 0; i < 6; i++) {
      assert.notEqual(await big.get(3), null, `read ${i} after the write resolved`);
      assert.equal(await big.count(), 3);
    }
    await db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('a file collection another process takes while the pool replaces its writer is reopened later, not lost', async () => {
  const { spawn } = await import('node:child_process');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-poolreg-'));
  try {
    const file = path.join(dir, 'a.rvf');
    const db = await createDatabase({ path: dir, workers: 2 });
    const a = await db.createCollection('a', { dimension: 4 });
    await a.insert({ id: 'x', vector: [1, 2, 3, 4] });
    // Another process: open the file as its writer as soon as it can, write, hold it a moment, close.
    const index = new URL('../../web/index.js', import.meta.url).href;
    const child = spawn(process.execPath, ['--input-type=module', '-e', `import { openCollection } from ${JSON.stringify(index)};
      for (;;) { try { const c = await openCollection(${JSON.stringify(file)}); console.log('in');
        await c.insert({ id: 'child', vector: [1, 1, 1, 1] }); await new Promise((r) => setTimeout(r, 800)); await c.close(); break; }
      catch { await new Promise((r) => setTimeout(r, 2)); } }`], { stdio: ['ignore', 'pipe', 'inherit'] });
    const got = new Promise((res) => child.stdout.once('data', res));
    const exited = new Promise((res) => child.on('exit', res));
    await sleep(200);
    db[POOL].clients[0].worker.terminate(); // not awaited
    await within(10_000, got, 'the other process got the lock');
    // while the other process holds it: ELOCK, the collection is not marked lost
    await assert.rejects(a.insert({ id: 'y', vector: [4, 3, 2, 1] }), { code: 'ELOCK' });
    assert.equal(await exited, 0);
    // it closed: the same handle reopens the file and sees both writers' rows
    await a.insert({ id: 'y', vector: [4, 3, 2, 1] });
    for (let i = 0; i < 4; i++) assert.equal(await a.count(), 3);
    assert.notEqual(await a.get('child'), null);
    await db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

// A file pool's writer dying in a write that already committed to the file (one that compacts
// the file on its own, or a plain one): the replacement writer reopens the file and holds the
// write; the replicas used to keep the epoch before it until the next write, so consecutive
// count() calls answered 500, 3000, 500... by worker. The write's promise may reject (it was
// never acknowledged), but every worker must then answer alike, as the file does.
for (const [what, deleted] of [['compacts the file', 2500], ['appends', 10]]) {
  test(`a file writer dying in a write that ${what}: the replicas answer as the reopened file`, { timeout: 120_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-poolreg-'));
    const v = (i) => Array.from({ length: 8 }, (_, j) => Math.sin(i * 7 + j));
    try {
      for (const delay of [0, 1, 2, 3, 5, 8]) {
        const sub = path.join(dir, `d${delay}`);
        const db = await createDatabase({ path: sub, workers: 2 });
        try {
          const col = await db.createCollection('c', { dimension: 8, metric: 'euclidean', index: { type: 'flat' } });
          await col.insertBatch(Array.from({ length: 3000 }, (_, i) => ({ id: i, vector: v(i) })));
          const pool = db[POOL];
          const w = pool.clients[0];
          const del = col.delete(Array.from({ length: deleted }, (_, i) => i));
          await sleep(delay);
          w.worker.terminate();
          const [r] = await Promise.allSettled([del]);
          await replaced(pool, 0, w);
          const counts = new Set();
          for (let k = 0; k < 30; k++) counts.add(await col.count());
          assert.equal(counts.size, 1, `after ${delay} ms: the workers disagree: ${[...counts]}`);
          const [n] = counts;
          if (r.status === 'fulfilled') assert.equal(n, 3000 - deleted, `after ${delay} ms: the acknowledged delete`);
          assert.ok(n === 3000 || n === 3000 - deleted, `after ${delay} ms: ${n} rows`);
          await db.close();
          const again = await openCollection(path.join(sub, 'c.rvf'), { readOnly: true });
          assert.equal(await again.count(), n, `after ${delay} ms: the file holds what the workers answered`);
          await again.close();
        } finally {
          await db.close();
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('db.close() lets the reads sent before it finish on every session, as in-thread', async () => {
  const db = await createDatabase({ workers: 3 });
  const pool = db[POOL];
  const col = await db.createCollection('c', { dimension: 2 });
  await col.insertBatch([{ id: 1, vector: [1, 2] }, { id: 2, vector: [3, 4] }]);
  // Each replica is busy with a long job, so the reads queued behind it are still running when
  // the writer has closed the database: close() must not stop those workers under them.
  const n = 2000, dim = 64;
  const busy = pool.clients.slice(1).map((r) => r.call('similarityMatrix', {
    metric: 'cosine', dim, a: new Float32Array(n * dim).fill(1), b: new Float32Array(n * dim).fill(1),
  }));
  const reads = [col.count(), col.count(), col.count(), col.searchBatch([[1, 2], [3, 4], [5, 5]], { k: 1 })];
  const closed = db.close();
  const [a, b, c, batch] = await within(5000, Promise.all(reads), 'reads sent before close()');
  assert.deepEqual([a, b, c], [2, 2, 2]);
  assert.deepEqual(batch.map((h) => h[0].id), [1, 2, 2]);
  await closed;
  await Promise.allSettled(busy);
  assert.equal(pool.workers, 0, 'close() still stops every worker');
});

test('a reply of many small vectors (getMany) is copied, not transferred buffer by buffer; a large matrix is transferred', async () => {
  // Transferring costs ~13 µs per buffer: a getMany of 50,000 rows spent ten times as long as
  // in-thread listing every row's vector for transfer.
  const rows = Array.from({ length: 1000 }, (_, i) => ({ id: i, vector: new Float32Array(32), metadata: {} }));
  assert.deepEqual(transferList(rows), []);
  const big = new Float32Array(1 << 16);
  assert.deepEqual(transferList({ ids: [1], vecs: big, metas: [] }), [big.buffer]);
  // and through a pool: every row arrives whole
  const db = await createDatabase({ workers: 2 });
  try {
    const col = await db.createCollection('c', { dimension: 4 });
    await col.insertBatch(Array.from({ length: 300 }, (_, i) => ({ id: i, vector: [i + 1, 1, 2, 3] })));
    const got = await col.getMany(Array.from({ length: 300 }, (_, i) => i));
    got.forEach((r, i) => assert.deepEqual(Array.from(r.vector), [i + 1, 1, 2, 3]));
  } finally {
    await db.close();
  }
});

test('a memory collection lost because its writer and its only replica both stopped says so, not "use workers >= 2"', async () => {
  const db = await createDatabase({ workers: 2 });
  try {
    const pool = db[POOL];
    const col = await db.createCollection('c', { dimension: 2 });
    await col.insert({ id: 1, vector: [1, 2] });
    const r = pool.clients[1];
    r.worker.terminate(); // the replica (not awaited: an idle pool's workers are unref()ed)
    while (r.alive) await sleep(1);
    pool.clients[0].kill('killed by the test'); // its replacement has not copied 'c' yet
    const e = await within(5000, col.count().then(() => null, (x) => x), 'count after both stopped');
    assert.equal(e?.code, 'EBACKEND');
    assert.match(e.message, /lost/);
    assert.doesNotMatch(e.message, /use workers >= 2/);
    assert.match(e.message, /every replica that held a copy had stopped too/);
  } finally {
    await db.close();
  }
});

for (const where of ['memory', 'file']) {
  test(`a collection's close() whose writer stops under it resolves (${where}): the collection is closed, nothing acknowledged is lost`, async () => {
    const dir = where === 'file' ? fs.mkdtempSync(path.join(os.tmpdir(), 'vl-pool-close-')) : null;
    try {
      const db = await createDatabase(dir ? { path: dir, workers: 2 } : { workers: 2 });
      try {
        const pool = db[POOL];
        const a = await db.createCollection('a', { dimension: 2 });
        await a.insertBatch([{ id: 1, vector: [1, 2] }, { id: 2, vector: [3, 4] }]);
        const b = await db.createCollection('b', { dimension: 2 });
        await b.insert({ id: 1, vector: [1, 2] });
        const w = pool.clients[0];
        stopOn(w, 'close');
        await within(5000, a.close(), 'close() on a stopping writer');
        await assert.rejects(a.count(), { code: 'ECLOSED' });
        await replaced(pool, 0, w);
        assert.equal(await b.count(), 1);
        if (dir) {
          const again = await db.getCollection('a');
          assert.equal(await again.count(), 2, 'the file holds every acknowledged row');
        }
      } finally {
        await db.close();
      }
    } finally {
      if (dir) fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a reply the caller cannot read (messageerror) ends the writer like a crash: the call rejects, nothing hangs, the replacement takes the file', async () => {
  // Which call such a reply answered is unknown, so every pending call must reject; the worker is
  // terminated too (it would keep the file's lock, and its replacement would get ELOCK).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-poolreg-'));
  try {
    const db = await createDatabase({ path: dir, workers: 1 });
    const a = await db.createCollection('a', { dimension: 2 });
    await a.insert({ id: 1, vector: [1, 2] });
    const pool = db[POOL];
    const old = pool.clients[0];
    const pending = a.count();
    old.worker.emit('messageerror', new Error('could not deserialize'));
    const err = await within(2000, pending.then(() => null, (e) => e), 'the call pending at the messageerror');
    assert.equal(err?.code, 'EBACKEND');
    assert.match(err.message, /a reply could not be read/);
    await replaced(pool, 0, old);
    await a.insert({ id: 2, vector: [3, 4] });
    assert.equal(await a.count(), 2);
    await within(5000, db.close(), 'close');
    const again = await openCollection(path.join(dir, 'a.rvf'));
    assert.equal(await again.count(), 2);
    await again.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
