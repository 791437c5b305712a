// tests/browser/persist.test.js — browser persistence in real headless Chromium (Debian's
// /usr/bin/chromium driven by playwright-core; docs/browser.md): OPFS (through a sync access
// handle in the engine's worker, and through swap files on the main thread) and IndexedDB.
//
// What it checks, each judged by the exact brute force of pages/rows.js (rows are a pure function
// of their index, so the oracle needs nothing from the code under test):
//   - data written in a page survives page.reload() and a browser restart (launchPersistentContext)
//     for each backend and in hybrid mode (the metadata cache too); the default backend of a page is OPFS in a worker; status() says which;
//   - the writer lease: a second page gets ELOCK naming the holder, and the lease once the first
//     closes (failure mode 3); closing or crashing a page mid-ingest, or reloading it mid-write,
//     leaves the store at a commit boundary, at or after the last acknowledged batch, verifiable,
//     and the next page takes the lease at once (failure modes 1 and 6);
//   - a .rvf written by Node opens in the page, takes more rows there, and its export reads back in
//     Node (top-10 equal within 1e-6) and in @ruvector/rvf-node (failure mode 5);
//   - a file of a newer format version is refused with EVERSION and an upgrade hint (mode 7).
//   - a read-only IndexedDB handle of a store deleted and made again under the same name reopens
//     (its bytes equal a fresh handle's) instead of appending the new store's chunks to the old bytes.
//   - a read-only OPFS handle reopens a file its writer compacted and then grew to exactly the
//     handle's size and past it (the same bytes as the writer's), instead of appending to old bytes.
//   - without Web Locks, an IndexedDB writer that took over a lease (a clock an hour ahead) while the
//     old writer's commit was in flight gets ELOCK on its own commit: no acknowledged row is lost.
//     The old writer, closed after the takeover, leaves its close checkpoint unwritten.
//   - a read-only handle whose store was deleted gets ENOTFOUND from refresh() and keeps its rows.
//   - a read-only OPFS handle (at open and in refresh()) and migrate read again when a read of a
//     File snapshot fails because the writer changed the file (NotReadableError).
//   - without Web Locks, a lease check IndexedDB fails rejects the write with a clear EIO (not an
//     internal error) and writes nothing.
//   - closing a database, or a store opened alone (also one whose open failed with ELOCK), closes
//     every IndexedDB connection (store, metadata cache) and BroadcastChannel it opened; so does
//     a migrate that fails half-way.
//   - a reply the page cannot read (messageerror) from an OPFS writer worker ends that worker
//     (the pending call rejects EBACKEND), so its replacement takes the lease and writes on.
//
// Invariants: one browser per file; a fresh context per test (closed in finally); databases get
// unique names; tools/serve.mjs serves the repo; no browser is ever downloaded.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { ARGS, CHROMIUM, newPage, useBrowser, withContext } from './harness.js';
import { BACKENDS, assertChecked, step as stepIn } from './persist-steps.js';
import { createDatabase, openCollection } from '../../web/index.js';
import { bruteForce, query, row } from './pages/rows.js';

const require = createRequire(import.meta.url);
const DIM = 16;
const STEP_MS = 60_000;

let browser;
let server;
let seq = 0;
const dbName = (what) => `t${process.pid}-${++seq}-${what}`;

useBrowser((b, s) => { browser = b; server = s; });
const inContext = (fn, o) => withContext(browser, fn, o);



const step = (page, fn, o) => stepIn(page, fn, o, STEP_MS);


for (const b of BACKENDS) {
  test(`${b.name}: rows survive page.reload(), exact top-10 and verify() after reopening`, { timeout: 120_000 }, async () => {
    const ctx = await browser.newContext();
    try {
      const { page, log } = await newPage(ctx, server);
      const o = { backend: b.backend, workers: b.workers, path: dbName('reload'), dim: DIM, from: 0, to: 1200, batch: 300, close: true };
      const f = await step(page, 'fill', o);
      assert.equal(f.ok, true, JSON.stringify(f.error));
      assert.equal(f.backend, b.backend);
      assert.equal(f.statusBackend, b.backend);
      assert.equal(f.workers, b.workers === 0 ? 0 : b.backend === 'opfs' ? 1 : 0, 'OPFS in a page runs its session in a worker');
      await page.reload();
      assertChecked(await step(page, 'check', o), 1200, 'after reload');
      // more rows after the reopen, then again
      assert.equal((await step(page, 'fill', { ...o, from: 1200, to: 1500 })).ok, true);
      await page.reload();
      assertChecked(await step(page, 'check', o), 1500, 'after the second reload');
      assert.deepEqual(log.errors, []);
    } finally {
      await ctx.close();
    }
  });
}

test('a page without a backend picks OPFS (in a worker) and says so', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const r = await page.evaluate(async (name) => {
      const m = await import('/web/index.js');
      const db = await m.createDatabase({ path: name });
      const out = { backend: db.backend, workers: db.workers, info: m.getWasmInfo() };
      await db.close();
      return out;
    }, dbName('default'));
    assert.equal(r.backend, 'opfs');
    assert.equal(r.workers, 1);
    assert.equal(r.info.opfsEnabled, true);
    assert.equal(r.info.indexedDbEnabled, true);
    assert.equal(r.info.backend, 'opfs');
  });
});

for (const backend of ['opfs', 'indexeddb']) {
  test(`${backend}: a second writer page gets ELOCK naming the holder, and the lease once the first closes`, { timeout: 90_000 }, async () => {
    const ctx = await browser.newContext();
    try {
      const o = { backend, path: dbName('lease'), dim: DIM, from: 0, to: 100, close: true };
      const { page: p1 } = await newPage(ctx, server);
      assert.equal((await step(p1, 'fill', o)).ok, true);
      assert.equal((await step(p1, 'hold', o)).ok, true);
      const { page: p2 } = await newPage(ctx, server);
      const r = await step(p2, 'hold', o);
      assert.equal(r.ok, false);
      assert.equal(r.error.code, 'ELOCK');
      assert.match(r.error.message, /another writer holds this store/);
      assert.match(r.error.message, /tests\/browser\/pages\/index\.html/, 'the holder is named');
      await step(p1, 'release', {});
      assert.equal((await step(p2, 'hold', o)).ok, true, 'the lease is free once the holder closed');
      await step(p2, 'release', {});
    } finally {
      await ctx.close();
    }
  });

  for (const how of ['close', 'reload']) {
    test(`${backend}: a page ${how === 'close' ? 'closed' : 'reloaded'} mid-ingest leaves the last commit, and the next page gets the lease at once`, { timeout: 120_000 }, async () => {
      const ctx = await browser.newContext();
      try {
        const o = { backend, path: dbName(how), dim: DIM, from: 0, to: 200000, batch: 200 };
        const { page, log } = await newPage(ctx, server);
        const running = step(page, 'fill', o).catch(() => null);
        for (let t = 0; t < 600 && log.acked < 2000; t++) await new Promise((r) => setTimeout(r, 50));
        assert.ok(log.acked >= 2000, `the ingest got going (${log.acked} acked)`);
        const acked = log.acked;
        if (how === 'close') await page.close({ runBeforeUnload: false });
        else await page.reload();
        await running;
        const { page: p2 } = how === 'close' ? await newPage(ctx, server) : { page };
        const t0 = Date.now();
        const r = await step(p2, 'check', { ...o, queries: 3 });
        assert.equal(r.ok, true, JSON.stringify(r.error));
        assert.ok(Date.now() - t0 < 20_000, 'the lease did not have to go stale');
        assert.ok(r.count >= acked, `count ${r.count} >= acknowledged ${acked}`);
        assert.equal(r.count % o.batch, 0, `count ${r.count} is a commit boundary (whole batches)`);
        assert.deepEqual(r.problems, []);
        assert.equal(r.verify, true, JSON.stringify(r.verifyProblems));
      } finally {
        await ctx.close();
      }
    });
  }
}

test('without Web Locks the lease record decides: ELOCK while its heartbeat is fresh, taken over once stale, and two racing pages never both win', { timeout: 90_000 }, async () => {
  const ctx = await browser.newContext();
  // No Web Locks in these pages: only the IndexedDB record and its heartbeat protect the store.
  await ctx.addInitScript(() => { Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined, configurable: true }); });
  try {
    const lease = { heartbeatMs: 100, staleMs: 1500 };
    const o = { backend: 'indexeddb', workers: 0, path: dbName('nolocks'), dim: DIM, from: 0, to: 100, close: true, lease };
    const { page: p1 } = await newPage(ctx, server);
    assert.equal(await p1.evaluate(() => navigator.locks === undefined), true);
    assert.equal((await step(p1, 'fill', o)).ok, true);
    assert.equal((await step(p1, 'hold', o)).ok, true);
    const { page: p2 } = await newPage(ctx, server);
    const r = await step(p2, 'hold', o);
    assert.equal(r.error?.code, 'ELOCK', JSON.stringify(r));
    assert.match(r.error.message, /heartbeat .*s ago/);
    await p1.close({ runBeforeUnload: false }); // a crash: nothing releases the record
    // Still fresh right after: refused. Stale after staleMs: taken over.
    const early = await step(p2, 'hold', o);
    assert.equal(early.error?.code, 'ELOCK');
    await new Promise((res) => setTimeout(res, 1800));
    // Two pages race for the stale lease: exactly one wins.
    const { page: p3 } = await newPage(ctx, server);
    const [a, b2] = await Promise.all([step(p2, 'hold', o), step(p3, 'hold', o)]);
    assert.deepEqual([a.ok, b2.ok].sort(), [false, true], JSON.stringify([a, b2]));
    const loser = a.ok ? b2 : a;
    assert.equal(loser.error.code, 'ELOCK');
  } finally {
    await ctx.close();
  }
});

test('Node writes a .rvf, the page (OPFS) opens it and writes more, Node and rvf-node read it back (top-10 within 1e-6)', { timeout: 120_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-browser-'));
  const ctx = await browser.newContext();
  try {
    const file = path.join(tmp, 'docs.rvf');
    const nodeCol = await openCollection(file, { create: { dimension: DIM, metric: 'euclidean', index: { type: 'flat' } } });
    const rows = [];
    for (let i = 0; i < 500; i++) rows.push(row(i, DIM));
    await nodeCol.insertBatch(rows);
    await nodeCol.close();
    const o = { backend: 'opfs', path: dbName('interop'), name: 'docs', dim: DIM };
    const { page } = await newPage(ctx, server);
    assert.equal((await step(page, 'putOpfsFile', { ...o, bytes: Array.from(fs.readFileSync(file)) })).ok, true);
    const f = await step(page, 'fill', { ...o, from: 500, to: 800, batch: 100, close: true });
    assert.equal(f.ok, true, JSON.stringify(f.error));
    assert.equal(f.count, 800);
    const inPage = await step(page, 'searchAll', { ...o, queries: 5 });
    const bytes = Uint8Array.from(await step(page, 'exportBytes', o));
    const back = path.join(tmp, 'back.rvf');
    fs.writeFileSync(back, bytes);
    const col = await openCollection(back, { readOnly: true });
    assert.equal(await col.count(), 800);
    for (let q = 0; q < 5; q++) {
      const hits = await col.search(query(q, DIM), { k: 10 });
      const want = bruteForce(query(q, DIM), 800, DIM, 10);
      assert.equal(hits.length, 10);
      for (let r = 0; r < 10; r++) {
        assert.equal(hits[r].id, inPage[q][r][0], `query ${q} rank ${r}: Node and the page agree`);
        assert.ok(Math.abs(hits[r].distance - inPage[q][r][1]) <= 1e-6);
        assert.ok(Math.abs(hits[r].distance - want[r].d) <= 1e-4, 'and both equal the brute force');
      }
    }
    await col.close();
    const { RvfDatabase } = require('@ruvector/rvf-node');
    const rdb = RvfDatabase.openReadonly(back);
    assert.equal(rdb.status().totalVectors, 800);
    assert.equal(rdb.dimension(), DIM);
    // rvf-node's top-10 over the same file: the same distances (it reports L2 squared)
    for (let q = 0; q < 5; q++) {
      const got = rdb.query(query(q, DIM), 10);
      assert.equal(got.length, 10);
      for (let r = 0; r < 10; r++) {
        const mine = inPage[q][r][1] ** 2;
        assert.ok(Math.abs(got[r].distance - mine) <= 1e-5 * mine + 1e-6, `rvf-node query ${q} rank ${r}: ${got[r].distance} vs ${mine}`);
      }
    }
    rdb.close();
  } finally {
    await ctx.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('a store of a newer format version is refused in the page with EVERSION and an upgrade hint', { timeout: 60_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-browser-'));
  const ctx = await browser.newContext();
  try {
    const file = path.join(tmp, 'v.rvf');
    const c = await openCollection(file, { create: { dimension: DIM, metric: 'euclidean' } });
    await c.insert(row(0, DIM));
    await c.close();
    const buf = fs.readFileSync(file);
    // every segment header says format version 2 (byte 4 of each 64-byte header)
    for (let off = 0; off + 64 <= buf.length;) {
      buf[off + 4] = 2;
      const len = Number(buf.readBigUInt64LE(off + 16));
      off += 64 + len;
    }
    const o = { backend: 'opfs', path: dbName('newer'), name: 'docs', dim: DIM };
    const { page } = await newPage(ctx, server);
    await step(page, 'putOpfsFile', { ...o, bytes: Array.from(buf) });
    const r = await step(page, 'check', o);
    assert.equal(r.ok, false);
    assert.equal(r.error.code, 'EVERSION');
    assert.match(r.error.message, /version|newer|upgrade/i);
  } finally {
    await ctx.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('OPFS, IndexedDB and hybrid stores survive a browser restart (launchPersistentContext)', { timeout: 120_000 }, async () => {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-profile-'));
  try {
    const stores = [...BACKENDS, { backend: 'opfs', cache: 'indexeddb' }].map((b) => ({
      backend: b.backend, workers: b.workers, cache: b.cache, path: dbName('restart'), dim: DIM, from: 0, to: 600, batch: 200, close: true,
    }));
    let ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS });
    try {
      const { page } = await newPage(ctx, server);
      for (const o of stores) assert.equal((await step(page, 'fill', o)).ok, true);
    } finally {
      await ctx.close();
    }
    ctx = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: ARGS });
    try {
      const { page } = await newPage(ctx, server);
      for (const o of stores) assertChecked(await step(page, 'check', o), 600, `${o.backend} after a restart`);
    } finally {
      await ctx.close();
    }
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
});

for (const backend of ['opfs', 'indexeddb']) {
  test(`${backend}: a read-only handle in another page follows the writer's commits (notice, not polling) and its compaction`, { timeout: 90_000 }, async () => {
    const ctx = await browser.newContext();
    try {
      const o = { backend, path: dbName('follow'), dim: DIM, from: 0, to: 300, batch: 100 };
      const { page: writer } = await newPage(ctx, server);
      assert.equal((await step(writer, 'fill', o)).ok, true); // the writer stays open (globalThis.__db)
      const { page: reader } = await newPage(ctx, server);
      const first = await reader.evaluate(async (a) => {
        const m = await import('/web/index.js');
        // a long poll interval: only the writer's notice can bring the rows in quickly
        globalThis.__ro = await m.openCollection(`${a.path}/docs`, { backend: a.backend, readOnly: true, follow: { intervalMs: 60_000 } });
        return globalThis.__ro.count();
      }, o);
      assert.equal(first, 300);
      assert.equal((await step(writer, 'fill', { ...o, from: 300, to: 500 })).ok, true);
      const seen = await reader.evaluate(async () => {
        for (let t = 0; t < 100; t++) {
          if ((await globalThis.__ro.count()) === 500) return 500;
          await new Promise((r) => setTimeout(r, 20));
        }
        return globalThis.__ro.count();
      });
      assert.equal(seen, 500, 'the reader caught up within 2 s of the commit');
      // the writer deletes and compacts: the reader reopens the rewritten store
      const compacted = await writer.evaluate(async () => {
        const col = await globalThis.__db.getCollection('docs');
        await col.delete(Array.from({ length: 100 }, (_, i) => `r${i}`));
        return col.compact();
      });
      assert.ok(compacted.bytesAfter < compacted.bytesBefore);
      const after = await reader.evaluate(async () => {
        for (let t = 0; t < 100; t++) {
          if ((await globalThis.__ro.count()) === 400) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        const r = await globalThis.__ro.refresh();
        return { count: await globalThis.__ro.count(), gone: await globalThis.__ro.get('r5'), kept: (await globalThis.__ro.get('r150'))?.id, epoch: r.epoch };
      });
      assert.deepEqual([after.count, after.gone, after.kept], [400, null, 'r150']);
      await assert.rejects(reader.evaluate(() => globalThis.__ro.insert({ id: 'x', vector: new Float32Array(16) }).catch((e) => { throw new Error(e.code); })), /EREADONLY/);
      // the compacted store reopens exactly in a fresh page
      await writer.evaluate(async () => { await globalThis.__db.close(); globalThis.__db = null; });
      const reopened = await reader.evaluate(async (a) => {
        const m = await import('/web/index.js');
        const db = await m.createDatabase({ backend: a.backend, path: a.path });
        const col = await db.getCollection('docs');
        const out = { count: await col.count(), verify: (await col.verify()).ok, r0: await col.get('r0'), r499: (await col.get('r499'))?.id };
        await db.close();
        return out;
      }, o);
      assert.deepEqual(reopened, { count: 400, verify: true, r0: null, r499: 'r499' }, 'the compacted store reopens');
    } finally {
      await ctx.close();
    }
  });
}

for (const b of BACKENDS) {
  test(`${b.name}: writes after compact() land, and the store reopens with all of them`, { timeout: 90_000 }, async () => {
    const ctx = await browser.newContext();
    try {
      const { page } = await newPage(ctx, server);
      const o = { backend: b.backend, workers: b.workers, path: dbName('compact'), dim: DIM, from: 0, to: 400, batch: 100 };
      assert.equal((await step(page, 'fill', o)).ok, true);
      const r = await page.evaluate(async (dim) => {
        const { row } = await import('/tests/browser/pages/rows.js');
        const col = await globalThis.__db.getCollection('docs');
        await col.delete(Array.from({ length: 100 }, (_, i) => `r${300 + i}`));
        const c = await col.compact();
        for (let i = 300; i < 400; i += 50) await col.insertBatch(Array.from({ length: 50 }, (_, j) => row(i + j, dim)));
        await col.insert(row(400, dim));
        await globalThis.__db.close();
        globalThis.__db = null;
        return c;
      }, DIM);
      assert.ok(r.bytesAfter < r.bytesBefore);
      await page.reload();
      assertChecked(await step(page, 'check', o), 401, 'after compact, writes and a reload');
    } finally {
      await ctx.close();
    }
  });
}

test('a database path has one spelling: empty, "." and ".." parts and slashes at either end are EINVAL', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const codes = await page.evaluate(async () => {
      const m = await import('/web/index.js');
      const out = [];
      for (const path of ['P//b', 'P/b/', '/P/b', 'P/./b', 'P/../b']) {
        for (const backend of ['opfs', 'indexeddb']) {
          try { await (await m.createDatabase({ backend, path, workers: 0 })).close(); out.push('ok'); } catch (e) { out.push(e.code); }
        }
      }
      try { await m.openCollection('P//b/docs', { backend: 'indexeddb', readOnly: true }); out.push('ok'); } catch (e) { out.push(e.code); }
      return out;
    });
    assert.deepEqual(codes, Array(11).fill('EINVAL'));
  });
});

test('without Web Locks a writer whose lease was taken over gets ELOCK on its next write, before writing', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    // two commits: the second one's lease check records the first one's epoch
    const o = { backend: 'indexeddb', workers: 0, path: dbName('takeover'), dim: DIM, from: 0, to: 200, batch: 100, lease: { heartbeatMs: 5000, staleMs: 60000 } };
    const { page } = await newPage(ctx, server);
    assert.equal((await step(page, 'fill', o)).ok, true); // keeps the writer open
    const r = await page.evaluate(async (a) => {
      const { row } = await import('/tests/browser/pages/rows.js');
      const { readRecord } = await import('/idb/lease.js');
      const key = `indexeddb:${a.path}/docs`;
      const before = await readRecord(key);
      // Another holder takes the record over (what a takeover after staleness leaves behind).
      const db = await new Promise((res, rej) => { const q = indexedDB.open('veclite-leases', 1); q.onsuccess = () => res(q.result); q.onerror = () => rej(q.error); });
      await new Promise((res, rej) => {
        const tx = db.transaction('leases', 'readwrite');
        tx.objectStore('leases').put({ holder: { id: 'someone-else', who: 'another page', since: Date.now() }, heartbeatAt: Date.now(), epoch: before.epoch }, key);
        tx.oncomplete = res; tx.onabort = () => rej(tx.error);
      });
      db.close();
      const col = await globalThis.__db.getCollection('docs');
      let code = 'resolved';
      try { await col.insert(row(500, a.dim)); } catch (e) { code = e.code; }
      return { code, count: await col.count(), epochRecorded: before.epoch };
    }, o);
    assert.equal(r.code, 'ELOCK');
    assert.equal(r.count, 200, 'nothing was written');
    assert.ok(r.epochRecorded > 0, 'the lease record carries the committed epoch');
  }, { webLocks: false });
});

for (const b of BACKENDS.filter((x) => x.workers === 0 || x.backend === 'indexeddb')) {
  test(`${b.name}: writes overlapping a compact() all land, and the store reopens verified`, { timeout: 60_000 }, async () => {
    const ctx = await browser.newContext();
    try {
      const { page } = await newPage(ctx, server);
      const o = { backend: b.backend, workers: 0, path: dbName('overlap'), dim: DIM };
      const r = await page.evaluate(async (a) => {
        const m = await import('/web/index.js');
        const { row } = await import('/tests/browser/pages/rows.js');
        const db = await m.createDatabase({ backend: a.backend, path: a.path, workers: 0 });
        const col = await db.createCollection('docs', { dimension: a.dim, metric: 'euclidean' });
        await col.insert(row(0, a.dim));
        const p1 = col.insert(row(1, a.dim)); // its commit still in flight
        await new Promise((res) => setTimeout(res, 0));
        await Promise.all([col.insert(row(2, a.dim)), col.compact(), col.insert(row(3, a.dim))]);
        await p1;
        await db.close();
        return true;
      }, o);
      assert.equal(r, true);
      await page.reload();
      const after = await page.evaluate(async (a) => {
        const m = await import('/web/index.js');
        const db = await m.createDatabase({ backend: a.backend, path: a.path, workers: 0 });
        const col = await db.getCollection('docs');
        const out = { count: await col.count(), verify: (await col.verify()).ok };
        await db.close();
        return out;
      }, o);
      assert.deepEqual(after, { count: 4, verify: true });
    } finally {
      await ctx.close();
    }
  });
}

test('indexeddb: a compaction whose chunk put throws at once changes nothing (the transaction is aborted)', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const o = { path: dbName('putthrow'), dim: DIM };
    const r = await page.evaluate(async (a) => {
      const m = await import('/web/index.js');
      const { row } = await import('/tests/browser/pages/rows.js');
      const db = await m.createDatabase({ backend: 'indexeddb', path: a.path });
      const col = await db.createCollection('docs', { dimension: a.dim, metric: 'euclidean' });
      await col.insertBatch(Array.from({ length: 20 }, (_, i) => row(i, a.dim)));
      await col.delete(['r0', 'r1']);
      const put = IDBObjectStore.prototype.put;
      let armed = true;
      IDBObjectStore.prototype.put = function (...args) {
        if (armed && this.name === 'chunks') { armed = false; throw new DOMException('quota', 'QuotaExceededError'); }
        return put.apply(this, args);
      };
      let code = 'resolved';
      try { await col.compact(); } catch (e) { code = e.code; }
      IDBObjectStore.prototype.put = put;
      await db.close().catch(() => {});
      const again = await m.createDatabase({ backend: 'indexeddb', path: a.path });
      const c2 = await again.getCollection('docs');
      const out = { code, count: await c2.count(), verify: (await c2.verify()).ok };
      await again.close();
      return out;
    }, o);
    assert.deepEqual(r, { code: 'EIO', count: 18, verify: true });
  });
});

test('indexeddb: a read-only handle of a store deleted and made again with the same commit sizes reopens instead of appending the new store\'s chunks', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const r = await page.evaluate(async (a) => {
      const m = await import('/web/index.js');
      const batch = (p, b, v) => Array.from({ length: 50 }, (_, j) => ({ id: `${p}${b * 50 + j}`, vector: [v, j, b, 1], metadata: { p } }));
      const cfg = { dimension: 4, metric: 'euclidean', index: { type: 'flat' } };
      let db = await m.createDatabase({ backend: 'indexeddb', path: a.path, workers: 0 });
      let col = await db.createCollection('docs', cfg);
      for (let b = 0; b < 2; b++) await col.insertBatch(batch('a', b, 100));
      await db.close();
      const ro = await m.openCollection(`${a.path}/docs`, { backend: 'indexeddb', readOnly: true }); // no follow: refresh() below
      db = await m.createDatabase({ backend: 'indexeddb', path: a.path, workers: 0 });
      await db.deleteCollection('docs');
      col = await db.createCollection('docs', cfg); // the same commits, so the same chunk offsets, and one more
      for (let b = 0; b < 3; b++) await col.insertBatch(batch('b', b, -100));
      await db.close();
      await ro.refresh();
      const mine = await ro.export();
      const out = { count: await ro.count(), a0: await ro.get('a0'), verify: (await ro.verify()).ok };
      await ro.close();
      const fresh = await m.openCollection(`${a.path}/docs`, { backend: 'indexeddb', readOnly: true });
      const theirs = await fresh.export();
      await fresh.close();
      out.sameBytes = mine.length === theirs.length && mine.every((x, i) => x === theirs[i]);
      return out;
    }, { path: dbName('recreated') });
    assert.deepEqual(r, { count: 150, a0: null, verify: true, sameBytes: true });
  });
});

test('opfs: a read-only handle whose writer compacted and then committed up to exactly its size reopens instead of appending', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const r = await page.evaluate(async (a) => {
      const m = await import('/web/index.js');
      const db = await m.createDatabase({ backend: 'opfs', path: a.path, workers: 0 });
      const col = await db.createCollection('docs', { dimension: 4, metric: 'euclidean', index: { type: 'flat' } });
      await col.insertBatch(Array.from({ length: 200 }, (_, i) => ({ id: `r${i}`, vector: [i, 1, 2, 3], metadata: { i } })));
      await col.delete(Array.from({ length: 100 }, (_, i) => `r${2 * i}`));
      const n = (await col.status()).bytes;
      const ro = await m.openCollection(`${a.path}/docs`, { backend: 'opfs', readOnly: true }); // no follow: refresh() below
      await col.compact();
      // One row whose commit ends exactly at n: its metadata length found on a copy in memory.
      const img = await col.export();
      const pad = (len) => ({ id: 'pad', vector: [9, 9, 9, 9], metadata: { pad: 'x'.repeat(len) } });
      let len = Math.max(0, n - img.length - 1000);
      for (let tries = 0; tries < 20; tries++) {
        const mem = await m.openCollection(img);
        await mem.insert(pad(len));
        const size = (await mem.export()).length;
        await mem.close();
        if (size === n || len + n - size < 0) break;
        len += n - size;
      }
      await col.insert(pad(len));
      const aligned = (await col.status()).bytes === n;
      await col.insert({ id: 'last', vector: [5, 5, 5, 5], metadata: { i: -1 } });
      const refresh = await ro.refresh().then(() => 'ok', (e) => `${e.code}: ${e.message}`);
      const mine = await ro.export();
      const theirs = await col.export();
      const out = { aligned, refresh, count: await ro.count(), last: (await ro.get('last'))?.id ?? null, verify: (await ro.verify()).ok };
      out.sameBytes = mine.length === theirs.length && mine.every((x, i) => x === theirs[i]);
      await ro.close();
      await db.close();
      return out;
    }, { path: dbName('aligned') });
    assert.equal(r.aligned, true, 'the test built a commit ending exactly at the reader\'s size');
    assert.deepEqual(r, { aligned: true, refresh: 'ok', count: 102, last: 'last', verify: true, sameBytes: true });
  });
});

test('opfs: a read-only handle whose last manifest is over 4 KiB reopens when its writer compacted and committed a manifest with the same last 4 KiB up to exactly its size', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const r = await page.evaluate(async (a) => {
      const m = await import('/web/index.js');
      const db = await m.createDatabase({ backend: 'opfs', path: a.path, workers: 0 });
      const col = await db.createCollection('docs', { dimension: 4, metric: 'euclidean', index: { type: 'flat' } });
      const v = (i) => [i, 1, 2, 3];
      const ids = (from, to) => Array.from({ length: to - from }, (_, i) => from + i);
      await col.insertBatch(ids(0, 1200).map((i) => ({ id: i, vector: v(i) })));
      // rows written again leave dead bytes compaction drops (too few for automatic compaction)
      for (let k = 0; k < 1; k++) await col.insertBatch(ids(0, 600).map((i) => ({ id: i, vector: v(i) })));
      // 600 deleted ids: the manifest's deleted list (4800 bytes) and FIDI fill its last 4 KiB
      await col.delete(ids(600, 1200));
      const n = (await col.status()).bytes;
      const ro = await m.openCollection(`${a.path}/docs`, { backend: 'opfs', readOnly: true }); // no follow: refresh() below
      await col.compact();
      // The same ids inserted and deleted again: a manifest whose deleted list ends the same way,
      // its commit ending exactly at n (a padding row's metadata length found on a copy in memory).
      await col.insertBatch(ids(600, 1200).map((i) => ({ id: i, vector: v(i) })));
      const img = await col.export();
      const pad = (len) => ({ id: 5000, vector: [9, 9, 9, 9], metadata: { pad: 'x'.repeat(len) } });
      let len = Math.max(0, n - img.length - 6000);
      for (let tries = 0; tries < 20; tries++) {
        const mem = await m.openCollection(img);
        await mem.insert(pad(len));
        await mem.delete(ids(600, 1200));
        const size = (await mem.export()).length;
        await mem.close();
        if (size === n || len + n - size < 0) break;
        len += n - size;
      }
      await col.insert(pad(len));
      await col.delete(ids(600, 1200));
      const aligned = (await col.status()).bytes === n;
      await col.insert({ id: 7000, vector: [5, 5, 5, 5] });
      const refresh = await ro.refresh().then(() => 'ok', (e) => `${e.code}: ${e.message}`);
      const mine = await ro.export();
      const theirs = await col.export();
      const out = { aligned, refresh, count: await ro.count(), last: (await ro.get(7000))?.id ?? null, pad: (await ro.get(5000))?.id ?? null };
      out.verify = (await ro.verify()).ok;
      out.sameBytes = mine.length === theirs.length && mine.every((x, i) => x === theirs[i]);
      await ro.close();
      await db.close();
      return out;
    }, { path: dbName('aligned-big') });
    assert.equal(r.aligned, true, 'the test built a commit ending exactly at the reader\'s size');
    assert.deepEqual(r, { aligned: true, refresh: 'ok', count: 602, last: 7000, pad: 5000, verify: true, sameBytes: true });
  });
});

test('without Web Locks two writers never both commit on one head: a writer that took over, then saw the old one commit, gets ELOCK and loses nothing', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const o = { backend: 'indexeddb', workers: 0, path: dbName('fence'), dim: DIM };
    const { page: a } = await newPage(ctx, server);
    const { page: b } = await newPage(ctx, server);
    // A writes one row, then a second whose commit is held back after its lease check passed.
    await a.evaluate(async (o) => {
      const m = await import('/web/index.js');
      const { row } = await import('/tests/browser/pages/rows.js');
      const { MirrorDevice } = await import('/idb/mirror-device.js');
      const db = await m.createDatabase({ backend: o.backend, path: o.path, workers: 0 });
      const col = await db.createCollection('docs', { dimension: o.dim, metric: 'euclidean' });
      await col.insert(row(0, o.dim));
      let open;
      globalThis.gate = new Promise((res) => { open = res; });
      globalThis.openGate = open;
      const settle = MirrorDevice.prototype.settle;
      MirrorDevice.prototype.settle = async function () { await globalThis.gate; return settle.call(this); };
      globalThis.second = col.insert(row(1, o.dim)).then(() => 'acknowledged', (e) => e.code);
    }, o);
    // B's clock is an hour ahead: A's fresh lease looks stale, so B takes it over and loads the store.
    const opened = await b.evaluate(async (o) => {
      const now = Date.now;
      Date.now = () => now() + 3_600_000;
      const m = await import('/web/index.js');
      globalThis.__db = await m.createDatabase({ backend: o.backend, path: o.path, workers: 0 });
      globalThis.__col = await globalThis.__db.getCollection('docs');
      return globalThis.__col.count();
    }, o);
    assert.equal(opened, 1);
    const second = await a.evaluate(() => { globalThis.openGate(); return globalThis.second; });
    const third = await b.evaluate(async (dim) => {
      const { row } = await import('/tests/browser/pages/rows.js');
      const code = await globalThis.__col.insert(row(2, dim)).then(() => 'acknowledged', (e) => e.code);
      await globalThis.__db.close().catch(() => {});
      return code;
    }, DIM);
    // Whatever each writer was told, every acknowledged row is in the store, and it verifies.
    const check = await b.evaluate(async (o) => {
      const m = await import('/web/index.js');
      const db = await m.createDatabase({ backend: o.backend, path: o.path, workers: 0 });
      const col = await db.getCollection('docs');
      const out = { ids: (await col.ids()).ids.sort(), verify: (await col.verify()).ok };
      await db.close();
      return out;
    }, o);
    assert.equal(second, 'acknowledged', 'A\'s lease check passed before B took over, and nobody had committed since');
    assert.equal(third, 'ELOCK', 'B loaded the store before A\'s commit: its own commit is refused');
    assert.deepEqual(check, { ids: ['r0', 'r1'], verify: true });
  }, { webLocks: false });
});

test('a read-only handle whose store was deleted gets ENOTFOUND from refresh() and keeps what it read', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const r = await page.evaluate(async (a) => {
      const m = await import('/web/index.js');
      const { row } = await import('/tests/browser/pages/rows.js');
      const out = {};
      for (const backend of ['indexeddb', 'opfs']) {
        const path = `${a.path}-${backend}`;
        let db = await m.createDatabase({ backend, path, workers: 0 });
        await (await db.createCollection('docs', { dimension: a.dim })).insert(row(0, a.dim));
        await db.close();
        const ro = await m.openCollection(`${path}/docs`, { backend, readOnly: true });
        db = await m.createDatabase({ backend, path, workers: 0 });
        await db.deleteCollection('docs');
        await db.close();
        const refresh = await ro.refresh().then(() => 'resolved', (e) => `${e.code}: ${e.message}`);
        out[backend] = { refresh, count: await ro.count() };
        await ro.close();
      }
      return out;
    }, { path: dbName('gone'), dim: DIM });
    for (const backend of ['indexeddb', 'opfs']) {
      assert.match(r[backend].refresh, /^ENOTFOUND: .*no longer exists \(it was deleted\)/, backend);
      assert.equal(r[backend].count, 1, `${backend}: the handle keeps what it read`);
    }
  });
});

test('opfs: a read-only handle and migrate read again when the writer changes the file under a read (NotReadableError)', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const r = await page.evaluate(async (a) => {
      const m = await import('/web/index.js');
      const { row } = await import('/tests/browser/pages/rows.js');
      const db = await m.createDatabase({ backend: 'opfs', path: a.path, workers: 0 });
      const col = await db.createCollection('docs', { dimension: a.dim });
      await col.insert(row(0, a.dim));
      // What Chromium does when a writer changes a file while a File snapshot of it is read (seen
      // with a writer ingesting in a worker): the read rejects. Here the next two reads do.
      const arrayBuffer = Blob.prototype.arrayBuffer;
      let fail = 0;
      Blob.prototype.arrayBuffer = function () {
        if (fail > 0) { fail--; return Promise.reject(new DOMException('the file changed', 'NotReadableError')); }
        return arrayBuffer.call(this);
      };
      const out = {};
      try {
        fail = 1;
        const ro = await m.openCollection(`${a.path}/docs`, { backend: 'opfs', readOnly: true });
        await col.insert(row(1, a.dim));
        fail = 1;
        out.refresh = await ro.refresh().then(() => 'resolved', (e) => `${e.code}: ${e.message}`);
        out.count = await ro.count();
        await ro.close();
        // migrate reads its source (a live store, no lease) the same way
        fail = 1;
        const rep = await m.migrate({ from: { backend: 'opfs', path: a.path }, to: { backend: 'indexeddb', path: `${a.path}-copy` }, verify: true })
          .catch((e) => ({ collections: [{ action: `${e.code}: ${e.message}` }] }));
        out.migrate = rep.collections.map((c) => [c.action, c.rows]);
      } finally {
        Blob.prototype.arrayBuffer = arrayBuffer;
      }
      await db.close();
      return out;
    }, { path: dbName('notreadable'), dim: DIM });
    assert.deepEqual(r, { refresh: 'resolved', count: 2, migrate: [['copied', 2]] });
  });
});

test('without Web Locks a lease check that IndexedDB fails rejects the write with a clear EIO, writes nothing, and the next write goes on', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const r = await page.evaluate(async (a) => {
      const m = await import('/web/index.js');
      const { row } = await import('/tests/browser/pages/rows.js');
      const db = await m.createDatabase({ backend: 'indexeddb', path: a.path, workers: 0 });
      const col = await db.createCollection('docs', { dimension: a.dim });
      await col.insert(row(0, a.dim));
      const transaction = IDBDatabase.prototype.transaction;
      IDBDatabase.prototype.transaction = function (names, ...rest) {
        if (names === 'leases') throw new DOMException('the connection is closing', 'InvalidStateError');
        return transaction.call(this, names, ...rest);
      };
      let failed;
      try {
        failed = await col.insert(row(1, a.dim)).then(() => 'resolved', (e) => `${e.code}: ${e.message}`);
      } finally {
        IDBDatabase.prototype.transaction = transaction;
      }
      const next = await col.insert(row(2, a.dim)).then(() => 'resolved', (e) => e.code);
      const out = { failed, next, ids: (await col.ids()).ids.sort() };
      await db.close();
      return out;
    }, { path: dbName('leasefail'), dim: DIM });
    assert.match(r.failed, /^EIO: .*the writer lease could not be checked before this write .*nothing was written/);
    assert.equal(r.next, 'resolved');
    assert.deepEqual(r.ids, ['r0', 'r2']);
  }, { webLocks: false });
});

test('without Web Locks a writer whose lease was taken over closes without its checkpoint, so the new writer goes on', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const o = { path: dbName('closeafter'), dim: DIM };
    const { page: a } = await newPage(ctx, server);
    const { page: b } = await newPage(ctx, server);
    // A's HNSW graph is dirty: its close writes a checkpoint commit
    await a.evaluate(async (o) => {
      const m = await import('/web/index.js');
      const { row } = await import('/tests/browser/pages/rows.js');
      globalThis.__db = await m.createDatabase({ backend: 'indexeddb', path: o.path, workers: 0 });
      const col = await globalThis.__db.createCollection('docs', { dimension: o.dim, index: { type: 'hnsw' } });
      await col.insertBatch(Array.from({ length: 50 }, (_, i) => row(i, o.dim)));
    }, o);
    // B's clock is an hour ahead: it takes A's lease over and loads the store
    await b.evaluate(async (o) => {
      const now = Date.now;
      Date.now = () => now() + 3_600_000;
      const m = await import('/web/index.js');
      globalThis.__db = await m.createDatabase({ backend: 'indexeddb', path: o.path, workers: 0 });
      globalThis.__col = await globalThis.__db.getCollection('docs');
    }, o);
    const closed = await a.evaluate(() => globalThis.__db.close().then(() => 'closed', (e) => e.code));
    const r = await b.evaluate(async (dim) => {
      const { row } = await import('/tests/browser/pages/rows.js');
      const write = await globalThis.__col.insert(row(50, dim)).then(() => 'acknowledged', (e) => `${e.code}: ${e.message}`);
      const out = { write, count: await globalThis.__col.count(), verify: (await globalThis.__col.verify()).ok };
      await globalThis.__db.close();
      return out;
    }, DIM);
    assert.equal(closed, 'closed');
    assert.deepEqual(r, { write: 'acknowledged', count: 51, verify: true });
  }, { webLocks: false });
});

test('closing a database or a store opened alone closes its IndexedDB connections and notice channels (also after a failed open)', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const r = await page.evaluate(async (a) => {
      // Every connection veclite opens to a store or cache database, and every BroadcastChannel,
      // is tracked until its close() (the lease database is one per page, shared: not counted).
      const live = new Set();
      const open = IDBFactory.prototype.open;
      IDBFactory.prototype.open = function (name, ...rest) {
        const req = open.call(this, name, ...rest);
        if (/^veclite(-cache)?:/.test(name)) {
          req.addEventListener('success', () => {
            const conn = req.result, close = conn.close;
            live.add(conn);
            conn.close = function () { live.delete(conn); return close.call(this); };
          });
        }
        return req;
      };
      const BC = globalThis.BroadcastChannel;
      globalThis.BroadcastChannel = class extends BC {
        constructor(n) { super(n); live.add(this); }
        close() { live.delete(this); return super.close(); }
      };
      const m = await import('/web/index.js');
      const cfg = { dimension: 4, metric: 'euclidean' };
      const out = {};
      for (const backend of ['opfs', 'indexeddb']) {
        const p = `${a.path}-${backend}`, o = { backend };
        // hybrid mode (OPFS): its metadata cache is one more IndexedDB connection
        const db = await m.createDatabase({ ...o, path: p, workers: 0, ...(backend === 'opfs' ? { cache: 'indexeddb' } : {}) });
        const col = await db.createCollection('docs', cfg);
        await col.insert({ id: 'a', vector: [1, 2, 3, 4], metadata: { t: 1 } });
        const ro = await m.openCollection(`${p}/docs`, { ...o, readOnly: true, follow: { intervalMs: 50 } });
        const r = { open: live.size > 0 };
        // a second writer of the same store is refused: what it opened is closed again
        r.second = await m.openCollection(`${p}/docs`, o).then(() => 'opened', (e) => e.code);
        await ro.close();
        await db.close();
        r.afterClose = live.size;
        const alone = await m.openCollection(`${p}/docs`, o);
        await alone.insert({ id: 'b', vector: [4, 3, 2, 1] });
        r.count = await alone.count();
        await alone.close();
        r.afterAlone = live.size;
        out[backend] = r;
      }
      // a migrate that fails half-way (reading its IndexedDB source throws) closes both databases too
      const getAll = IDBObjectStore.prototype.getAll;
      IDBObjectStore.prototype.getAll = function () { throw new DOMException('broken', 'UnknownError'); };
      try {
        out.migrate = await m.migrate({ from: { backend: 'indexeddb', path: `${a.path}-indexeddb` }, to: { backend: 'opfs', path: `${a.path}-copy` } })
          .then(() => 'resolved', (e) => e.code);
      } finally {
        IDBObjectStore.prototype.getAll = getAll;
      }
      out.afterMigrate = live.size;
      return out;
    }, { path: dbName('connections') });
    const want = { open: true, second: 'ELOCK', afterClose: 0, count: 2, afterAlone: 0 };
    assert.deepEqual(r, { opfs: want, indexeddb: want, migrate: 'EIO', afterMigrate: 0 });
  });
});

test('opfs in a worker: a reply the page cannot read (messageerror) ends the writer worker, so its replacement takes the lease and the file', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const r = await page.evaluate(async (a) => {
      const m = await import('/web/index.js');
      const { row } = await import('/tests/browser/pages/rows.js');
      const db = await m.createDatabase({ backend: 'opfs', path: a.path, workers: 1 });
      const col = await db.createCollection('docs', { dimension: a.dim });
      await col.insert(row(0, a.dim));
      const pool = db[Symbol.for('veclite.pool')];
      const old = pool.clients[0];
      const pending = col.count().then(() => 'resolved', (e) => e.code);
      old.worker.dispatchEvent(new MessageEvent('messageerror'));
      const out = { pending: await pending };
      for (let t = 0; t < 300 && !(pool.clients[0] !== old && pool.clients[0].alive); t++) await new Promise((res) => setTimeout(res, 10));
      out.insert = await col.insert(row(1, a.dim)).then(() => 'ok', (e) => `${e.code}: ${e.message}`);
      out.count = await col.count().catch((e) => e.code);
      await db.close();
      return out;
    }, { path: dbName('messageerror'), dim: DIM });
    assert.deepEqual(r, { pending: 'EBACKEND', insert: 'ok', count: 2 });
  });
});
