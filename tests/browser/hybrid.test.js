// tests/browser/hybrid.test.js — hybrid mode and migrate in real headless Chromium
// (docs/browser.md §4-§5): vectors in OPFS .rvf files, each row's metadata cached in IndexedDB.
//
// What it checks, against the deterministic rows of pages/rows.js (never what the code produced):
//   - the cache answers every row's metadata after inserts, updates, deletes and a reload, and
//     records the store's epoch;
//   - failure mode 2: the store written past the cache (by a writer without the cache, or a page
//     closed between the two writes) is reconciled on open — cache rebuilt, epochs equal; a cache
//     ahead of its store is reported and rebuilt from the store;
//   - a cache update that failed leaves the cache behind (later writes do not advance its epoch over
//     the missing rows), so the next open rebuilds it;
//   - a cache IndexedDB cannot rebuild at open (every put throws) does not fail the open: the store
//     serves it, status().cache.warning says why, cachedMetadata answers from the store (never a
//     stale copy) until rebuildCache(), and the next open finds the cache in sync;
//   - rebuildCache() runs after the write in flight, so a write the store fails to keep never
//     reaches the cache;
//   - a store restored from an older copy and written to up to the cache's epoch (same fileId, same
//     epoch, another history) is rebuilt as 'replaced';
//   - failure mode 4: migrate (IndexedDB → OPFS) copies and verifies; run again it is a no-op; it
//     never changes its source; dryRun writes nothing; a different target is a conflict, untouched,
//     also when a writer creates it between migrate's look and its write;
//
// Invariants: one browser per file, a fresh context per test, unique database names.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newPage, useBrowser, withContext, within } from './harness.js';
import { row } from './pages/rows.js';

const DIM = 8;
let browser;
let server;
let seq = 0;
const dbName = (what) => `h${process.pid}-${++seq}-${what}`;

useBrowser((b, s) => { browser = b; server = s; });
const inContext = (fn, o) => withContext(browser, fn, o);


/** Run fn(veclite, rows, args) in the page; rows(i) is pages/rows.js row(i, DIM). */
function inPage(page, args, fn) {
  return within(60_000, 'page step', page.evaluate(async ([src, a]) => {
    const veclite = await import('/web/index.js');
    const { row } = await import('/tests/browser/pages/rows.js');
    // eslint-disable-next-line no-new-func
    const f = new Function('veclite', 'row', 'a', `return (${src})(veclite, row, a);`);
    return f(veclite, (i) => row(i, a.dim), a);
  }, [fn.toString(), { dim: DIM, ...args }]));
}

const meta = (i) => row(i, DIM).metadata;

test('the metadata cache follows inserts, updates, deletes and a reload, at the store epoch', { timeout: 90_000 }, async () => {
  await inContext(async (ctx) => {
    const { page, log } = await newPage(ctx, server);
    const path = dbName('basic');
    const r = await inPage(page, { path }, async (veclite, row, a) => {
      const db = await veclite.createDatabase({ backend: 'opfs', path: a.path, cache: 'indexeddb' });
      const col = await db.createCollection('docs', { dimension: a.dim, metric: 'euclidean' });
      await col.insertBatch(Array.from({ length: 300 }, (_, i) => row(i)));
      await col.update('r7', { metadata: { i: 7, group: 99, note: 'changed' } });
      await col.delete(['r8', 'r9']);
      const out = {
        m0: await col.cachedMetadata('r0'), m299: await col.cachedMetadata('r299'), m7: await col.cachedMetadata('r7'),
        m8: await col.cachedMetadata('r8'), status: await col.status(),
      };
      await db.close();
      return out;
    });
    assert.deepEqual(r.m0, meta(0));
    assert.deepEqual(r.m299, meta(299));
    assert.deepEqual(r.m7, { i: 7, group: 99, note: 'changed' });
    assert.equal(r.m8, null);
    assert.equal(r.status.cache.epoch, r.status.epoch);
    assert.equal(r.status.cache.rows, 298);
    await page.reload();
    const again = await inPage(page, { path }, async (veclite, row, a) => {
      const db = await veclite.createDatabase({ backend: 'opfs', path: a.path, cache: 'indexeddb' });
      const col = await db.getCollection('docs');
      const out = { status: await col.status(), m100: await col.cachedMetadata('r100'), rebuilt: await col.rebuildCache() };
      await db.close();
      return out;
    });
    assert.equal(again.status.cache.rebuilt, null, 'in sync: nothing to rebuild on open');
    assert.deepEqual(again.m100, meta(100));
    assert.deepEqual(again.rebuilt, { rows: 298, epoch: again.status.epoch });
    assert.deepEqual(log.errors, []);
  });
});

test('failure mode 2: a store written past its cache is reconciled on open; a cache ahead is reported and rebuilt', { timeout: 90_000 }, async () => {
  await inContext(async (ctx) => {
    const { page, log } = await newPage(ctx, server);
    const path = dbName('reconcile');
    // 1. hybrid writes 0..199; 2. a writer without the cache writes 200..299 (the store is now ahead);
    // 3. the hybrid open reconciles.
    const r = await inPage(page, { path }, async (veclite, row, a) => {
      let db = await veclite.createDatabase({ backend: 'opfs', path: a.path, cache: 'indexeddb' });
      let col = await db.createCollection('docs', { dimension: a.dim, metric: 'euclidean' });
      await col.insertBatch(Array.from({ length: 200 }, (_, i) => row(i)));
      await db.close();
      db = await veclite.createDatabase({ backend: 'opfs', path: a.path });
      col = await db.getCollection('docs');
      await col.insertBatch(Array.from({ length: 100 }, (_, i) => row(200 + i)));
      await col.delete('r3');
      await db.close();
      db = await veclite.createDatabase({ backend: 'opfs', path: a.path, cache: 'indexeddb' });
      col = await db.getCollection('docs');
      const behind = { status: await col.status(), m250: await col.cachedMetadata('r250'), m3: await col.cachedMetadata('r3') };
      await db.close();
      // the cache claims a future epoch
      const { openCache } = await import('/idb/metadata-cache.js');
      const cache = await openCache('opfs', a.path);
      await cache.setEpoch('docs', behind.status.epoch + 5);
      cache.close();
      db = await veclite.createDatabase({ backend: 'opfs', path: a.path, cache: 'indexeddb' });
      col = await db.getCollection('docs');
      const ahead = { status: await col.status(), m299: await col.cachedMetadata('r299') };
      await db.close();
      return { behind, ahead };
    });
    assert.equal(r.behind.status.cache.rebuilt, 'behind');
    assert.equal(r.behind.status.cache.epoch, r.behind.status.epoch);
    assert.equal(r.behind.status.cache.rows, 299);
    assert.deepEqual(r.behind.m250, meta(250));
    assert.equal(r.behind.m3, null);
    assert.equal(r.ahead.status.cache.rebuilt, 'ahead');
    assert.match(r.ahead.status.cache.warning, /ahead of the store/);
    assert.equal(r.ahead.status.cache.epoch, r.ahead.status.epoch);
    assert.deepEqual(r.ahead.m299, meta(299));
    assert.ok(log.warnings.some((w) => /ahead of the store/.test(w)), 'the warning reaches the console');
  });
});

test('failure mode 2: a page closed mid-ingest in hybrid mode reopens with cache and store at one epoch', { timeout: 90_000 }, async () => {
  await inContext(async (ctx) => {
    const { page, log } = await newPage(ctx, server);
    const path = dbName('crash');
    const running = inPage(page, { path }, async (veclite, row, a) => {
      const db = await veclite.createDatabase({ backend: 'opfs', path: a.path, cache: 'indexeddb' });
      const col = await db.createCollection('docs', { dimension: a.dim, metric: 'euclidean' });
      for (let i = 0; ; i += 100) {
        await col.insertBatch(Array.from({ length: 100 }, (_, j) => row(i + j)));
        console.log(`acked ${i + 100}`);
      }
    }).catch(() => null);
    for (let t = 0; t < 600 && log.acked < 1000; t++) await new Promise((res) => setTimeout(res, 50));
    const acked = log.acked;
    assert.ok(acked >= 1000);
    await page.close({ runBeforeUnload: false });
    await running;
    const { page: p2 } = await newPage(ctx, server);
    const r = await inPage(p2, { path }, async (veclite, row, a) => {
      const db = await veclite.createDatabase({ backend: 'opfs', path: a.path, cache: 'indexeddb' });
      const col = await db.getCollection('docs');
      const n = await col.count();
      const out = { n, status: await col.status(), last: await col.cachedMetadata(`r${n - 1}`), next: await col.cachedMetadata(`r${n}`) };
      await db.close();
      return out;
    });
    assert.ok(r.n >= acked && r.n % 100 === 0, `count ${r.n}, acknowledged ${acked}`);
    assert.equal(r.status.cache.epoch, r.status.epoch);
    assert.equal(r.status.cache.rows, r.n);
    assert.deepEqual(r.last, meta(r.n - 1));
    assert.equal(r.next, null);
  });
});

test('failure mode 4: migrate IndexedDB → OPFS copies and verifies, is a no-op the second time, never touches its source', { timeout: 90_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const from = { backend: 'indexeddb', path: dbName('src') };
    const to = { backend: 'opfs', path: dbName('dst') };
    const r = await inPage(page, { from, to }, async (veclite, row, a) => {
      const src = await veclite.createDatabase({ backend: 'indexeddb', path: a.from.path });
      const c1 = await src.createCollection('docs', { dimension: a.dim, metric: 'euclidean' });
      await c1.insertBatch(Array.from({ length: 250 }, (_, i) => row(i)));
      const c2 = await src.createCollection('more', { dimension: a.dim });
      await c2.insertBatch(Array.from({ length: 40 }, (_, i) => row(1000 + i)));
      await src.close();
      const dry = await veclite.migrate({ from: a.from, to: a.to, dryRun: true });
      const probe = await veclite.createDatabase({ backend: 'opfs', path: a.to.path });
      const afterDry = await probe.listCollections();
      await probe.close();
      const first = await veclite.migrate({ from: a.from, to: a.to, verify: true });
      const second = await veclite.migrate({ from: a.from, to: a.to, verify: true });
      // the target opens in hybrid mode, its cache built from the migrated store
      const dst = await veclite.createDatabase({ backend: 'opfs', path: a.to.path, cache: 'indexeddb' });
      const d1 = await dst.getCollection('docs');
      const target = { count: await d1.count(), m17: await d1.cachedMetadata('r17'), cache: (await d1.status()).cache };
      await d1.insert(row(5000)); // the target diverges: the next migrate must not overwrite it
      await dst.close();
      const third = await veclite.migrate({ from: a.from, to: a.to });
      const again = await veclite.createDatabase({ backend: 'indexeddb', path: a.from.path });
      const source = { docs: await (await again.getCollection('docs')).count(), more: await (await again.getCollection('more')).count() };
      await again.close();
      const check = await veclite.createDatabase({ backend: 'opfs', path: a.to.path });
      const kept = await (await check.getCollection('docs')).count();
      await check.close();
      return { dry, afterDry, first, second, target, third, source, kept };
    });
    assert.deepEqual(r.dry.collections.map((c) => c.action), ['would copy', 'would copy']);
    assert.equal(r.dry.noop, false);
    assert.deepEqual(r.afterDry, [], 'dryRun wrote nothing');
    assert.equal(r.first.copied, 2);
    assert.deepEqual(r.first.collections.map((c) => [c.name, c.action, c.rows, c.verified]), [['docs', 'copied', 250, true], ['more', 'copied', 40, true]]);
    assert.equal(r.second.noop, true);
    assert.deepEqual(r.second.collections.map((c) => [c.action, c.verified]), [['unchanged', true], ['unchanged', true]]);
    assert.equal(r.target.count, 250);
    assert.deepEqual(r.target.m17, meta(17));
    assert.equal(r.target.cache.rebuilt, 'behind', 'the cache of a migrated store is built on first open');
    assert.deepEqual(r.third.collections.map((c) => c.action), ['conflict', 'unchanged']);
    assert.match(r.third.collections[0].reason, /other contents/);
    assert.deepEqual(r.source, { docs: 250, more: 40 }, 'the source is intact');
    assert.equal(r.kept, 251, 'a conflicting target is not overwritten');
  });
});

test('a cache of another store of the same name (deleted and recreated without the cache) is rebuilt', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const r = await inPage(page, { path: dbName('replaced') }, async (veclite, row, a) => {
      let db = await veclite.createDatabase({ backend: 'opfs', path: a.path, cache: 'indexeddb' });
      let col = await db.createCollection('docs', { dimension: a.dim });
      await col.insertBatch(Array.from({ length: 5 }, (_, i) => row(i)));
      await db.close();
      db = await veclite.createDatabase({ backend: 'opfs', path: a.path });
      await db.deleteCollection('docs');
      col = await db.createCollection('docs', { dimension: a.dim });
      await col.insertBatch(Array.from({ length: 5 }, (_, i) => row(100 + i)));
      await db.close();
      db = await veclite.createDatabase({ backend: 'opfs', path: a.path, cache: 'indexeddb' });
      col = await db.getCollection('docs');
      const out = { status: (await col.status()).cache, old1: await col.cachedMetadata('r1'), new1: await col.cachedMetadata('r101') };
      await db.close();
      return out;
    });
    assert.equal(r.status.rebuilt, 'replaced');
    assert.equal(r.old1, null);
    assert.deepEqual(r.new1, meta(101));
  });
});

test('hybrid on the main thread: a failed write after a good one leaves the cache matching the store', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const r = await inPage(page, { path: dbName('failed') }, async (veclite, row, a) => {
      let db = await veclite.createDatabase({ backend: 'opfs', path: a.path, workers: 0, cache: 'indexeddb' });
      let col = await db.createCollection('docs', { dimension: a.dim });
      await col.insertBatch(Array.from({ length: 3 }, (_, i) => row(i)));
      // the second swap-file write from now on fails: the OPFS quota is exhausted
      const cw = FileSystemFileHandle.prototype.createWritable;
      let calls = 0;
      FileSystemFileHandle.prototype.createWritable = function (...args) {
        calls += 1;
        if (calls === 2) return Promise.reject(new DOMException('quota', 'QuotaExceededError'));
        return cw.apply(this, args);
      };
      const p1 = col.update('r1', { metadata: { v: 'A' } });
      await new Promise((res) => setTimeout(res, 0));
      const p2 = col.update('r1', { metadata: { v: 'B' } }).then(() => 'resolved', (e) => e.code);
      await p1;
      const second = await p2;
      FileSystemFileHandle.prototype.createWritable = cw;
      await db.close().catch(() => {});
      db = await veclite.createDatabase({ backend: 'opfs', path: a.path, workers: 0, cache: 'indexeddb' });
      col = await db.getCollection('docs');
      const out = { second, stored: (await col.get('r1')).metadata, cached: await col.cachedMetadata('r1'), cache: (await col.status()).cache };
      await db.close();
      return out;
    });
    assert.equal(r.second, 'EIO');
    assert.deepEqual(r.stored, { v: 'A' });
    assert.deepEqual(r.cached, r.stored, 'the cache holds what the store holds');
  });
});

test('a cache update that failed is not papered over by the next write: the reopen rebuilds it', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const r = await inPage(page, { path: dbName('missed') }, async (veclite, row, a) => {
      let db = await veclite.createDatabase({ backend: 'opfs', path: a.path, workers: 0, cache: 'indexeddb' });
      let col = await db.createCollection('docs', { dimension: a.dim });
      await col.insert(row(0));
      // the cache's row put of the next write throws (quota); the write after it succeeds
      const put = IDBObjectStore.prototype.put;
      let armed = true;
      IDBObjectStore.prototype.put = function (...args) {
        if (armed && this.name === 'rows') { armed = false; throw new DOMException('quota', 'QuotaExceededError'); }
        return put.apply(this, args);
      };
      try {
        await col.insert(row(1));
        await col.insert(row(2));
      } finally {
        IDBObjectStore.prototype.put = put;
      }
      const warning = (await col.status()).cache.warning;
      await db.close();
      db = await veclite.createDatabase({ backend: 'opfs', path: a.path, workers: 0, cache: 'indexeddb' });
      col = await db.getCollection('docs');
      const out = { warning, cache: (await col.status()).cache, epoch: (await col.status()).epoch, m: [] };
      for (let i = 0; i < 3; i++) out.m.push(await col.cachedMetadata(`r${i}`));
      await db.close();
      return out;
    });
    assert.match(r.warning, /could not be updated/);
    assert.equal(r.cache.rebuilt, 'behind', 'the cache stayed behind the store, so the open rebuilt it');
    assert.equal(r.cache.epoch, r.epoch);
    assert.deepEqual(r.m, [meta(0), meta(1), meta(2)]);
  });
});

test('failure mode 4: migrate never overwrites a target a writer created after migrate looked at it', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const r = await inPage(page, { from: { backend: 'indexeddb', path: dbName('rsrc') }, to: { backend: 'opfs', path: dbName('rdst') } }, async (veclite, row, a) => {
      const src = await veclite.createDatabase(a.from);
      await (await src.createCollection('docs', { dimension: a.dim })).insert(row(1));
      await src.close();
      // Another writer (another tab) creates the target and commits a row after migrate found no
      // target and before migrate holds the target's lease: the hook runs it right there.
      const request = navigator.locks.request;
      let hooked = false;
      navigator.locks.request = async function (name, ...rest) {
        if (!hooked && name === `veclite:opfs:${a.to.path}/docs`) {
          hooked = true;
          const db = await veclite.createDatabase({ ...a.to, workers: 0 });
          await (await db.createCollection('docs', { dimension: a.dim })).insert(row(2));
          await db.close();
        }
        return request.call(this, name, ...rest);
      };
      let report;
      try {
        report = await veclite.migrate({ from: a.from, to: a.to });
      } finally {
        navigator.locks.request = request;
      }
      const db = await veclite.createDatabase({ ...a.to, workers: 0 });
      const col = await db.getCollection('docs');
      const out = { hooked, actions: report.collections.map((c) => c.action), ids: (await col.ids()).ids };
      await db.close();
      return out;
    });
    assert.equal(r.hooked, true);
    assert.deepEqual(r.actions, ['conflict']);
    assert.deepEqual(r.ids, ['r2'], 'the other writer\'s acknowledged row is kept, nothing is copied over it');
  });
});

test('rebuildCache() waits for the write in flight: a write the store fails to keep never reaches the cache', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page, log } = await newPage(ctx, server);
    const r = await inPage(page, { path: dbName('rebuildrace') }, async (veclite, row, a) => {
      let db = await veclite.createDatabase({ backend: 'opfs', path: a.path, workers: 0, cache: 'indexeddb' });
      let col = await db.createCollection('docs', { dimension: a.dim });
      await col.insert(row(1));
      // the next swap-file write fails after a while: its commit is in the engine, not in the file
      const cw = FileSystemFileHandle.prototype.createWritable;
      FileSystemFileHandle.prototype.createWritable = function () {
        return new Promise((_, reject) => setTimeout(() => reject(new DOMException('quota', 'QuotaExceededError')), 50));
      };
      const out = {};
      try {
        const w = col.update('r1', { metadata: { v: 'B' } }).then(() => 'resolved', (e) => e.code);
        await new Promise((res) => setTimeout(res, 10)); // the update has committed in the engine
        out.rebuild = await col.rebuildCache().then(() => 'resolved', (e) => e.code);
        out.write = await w;
      } finally {
        FileSystemFileHandle.prototype.createWritable = cw;
      }
      await db.close().catch(() => {});
      db = await veclite.createDatabase({ backend: 'opfs', path: a.path, workers: 0, cache: 'indexeddb' });
      col = await db.getCollection('docs');
      out.cache = (await col.status()).cache;
      out.cached = await col.cachedMetadata('r1');
      await db.close();
      return out;
    });
    assert.equal(r.write, 'EIO');
    assert.equal(r.rebuild, 'EIO', 'the rebuild ran after the failed write, on a poisoned handle');
    assert.equal(r.cache.rebuilt, null, 'the cache never got ahead of the store');
    assert.deepEqual(r.cached, meta(1));
    assert.deepEqual(log.warnings, []);
  });
});

test('a write during rebuildCache() of a cache that missed an update reaches the cache (not skipped as missed, then papered over)', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const r = await inPage(page, { path: dbName('rebuildmissed') }, async (veclite, row, a) => {
      const { MetadataCache } = await import('/idb/metadata-cache.js');
      const { MirrorDevice } = await import('/idb/mirror-device.js');
      let db = await veclite.createDatabase({ backend: 'opfs', path: a.path, workers: 0, cache: 'indexeddb' });
      let col = await db.createCollection('docs', { dimension: a.dim });
      await col.insert(row(0));
      // the cache's row put of the next write throws (quota): the cache is behind from then on
      const put = IDBObjectStore.prototype.put;
      let armed = true;
      IDBObjectStore.prototype.put = function (...args) {
        if (armed && this.name === 'rows') { armed = false; throw new DOMException('quota', 'QuotaExceededError'); }
        return put.apply(this, args);
      };
      try {
        await col.insert(row(1));
      } finally {
        IDBObjectStore.prototype.put = put;
      }
      const out = { warning: (await col.status()).cache.warning };
      // rebuildCache() reads the rows, then its cache transaction waits until the next write's
      // commit is durable in the store: that write runs while the rebuild is under way
      let open;
      const gate = new Promise((res) => { open = res; });
      const rebuild = MetadataCache.prototype.rebuild;
      const settle = MirrorDevice.prototype.settle;
      MetadataCache.prototype.rebuild = async function (...args) { await gate; return rebuild.apply(this, args); };
      MirrorDevice.prototype.settle = async function () { const r = await settle.call(this); open(); return r; };
      try {
        const p = col.rebuildCache();
        const w = col.insert(row(2));
        out.calls = await Promise.all([p.then(() => 'resolved', (e) => e.code), w.then(() => 'resolved', (e) => e.code)]);
      } finally {
        MetadataCache.prototype.rebuild = rebuild;
        MirrorDevice.prototype.settle = settle;
      }
      await col.insert(row(3));
      out.now = [];
      for (let i = 0; i < 4; i++) out.now.push(await col.cachedMetadata(`r${i}`));
      await db.close();
      db = await veclite.createDatabase({ backend: 'opfs', path: a.path, workers: 0, cache: 'indexeddb' });
      col = await db.getCollection('docs');
      out.reopened = [];
      for (let i = 0; i < 4; i++) out.reopened.push(await col.cachedMetadata(`r${i}`));
      await db.close();
      return out;
    });
    assert.match(r.warning, /could not be updated/);
    assert.deepEqual(r.calls, ['resolved', 'resolved']);
    const want = [meta(0), meta(1), meta(2), meta(3)];
    assert.deepEqual(r.now, want, 'the cache after the rebuild and two writes');
    assert.deepEqual(r.reopened, want, 'the cache the reopen trusted or rebuilt');
  });
});

test('a store restored from an older copy and written to up to the cache\'s epoch is not taken for the cached one', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const r = await inPage(page, { path: dbName('restored') }, async (veclite, row, a) => {
      const O = await import('/idb/opfs-store.js');
      const { openCache } = await import('/idb/metadata-cache.js');
      const cfg = { dimension: a.dim, metric: 'euclidean', index: { type: 'flat' } };
      let db = await veclite.createDatabase({ backend: 'opfs', path: a.path, workers: 0, cache: 'indexeddb' });
      let col = await db.createCollection('docs', cfg);
      await col.insert(row(0));
      const backup = await col.export();
      await col.insertBatch([row(1), row(2)]);
      await col.insert(row(3));
      await db.close();
      const cache = await openCache('opfs', a.path);
      const cacheEpoch = (await cache.state('docs')).epoch;
      cache.close();
      // the backup file is put back, and a writer without the cache brings it to the cache's epoch
      const fh = await O.fileOf(await O.opfsDirectory(a.path), 'docs', false);
      const w = await fh.createWritable();
      await w.write(backup);
      await w.close();
      db = await veclite.createDatabase({ backend: 'opfs', path: a.path, workers: 0 });
      col = await db.getCollection('docs');
      for (let i = 10; (await col.status()).epoch < cacheEpoch && i < 30; i++) await col.insert(row(i));
      const storeEpoch = (await col.status()).epoch;
      await db.close();
      db = await veclite.createDatabase({ backend: 'opfs', path: a.path, workers: 0, cache: 'indexeddb' });
      col = await db.getCollection('docs');
      const out = { cacheEpoch, storeEpoch, cache: (await col.status()).cache, r1: await col.cachedMetadata('r1'), r10: await col.cachedMetadata('r10') };
      await db.close();
      return out;
    });
    assert.equal(r.storeEpoch, r.cacheEpoch, 'the restored store reached the epoch the cache records');
    assert.equal(r.cache.rebuilt, 'replaced');
    assert.equal(r.r1, null, 'r1 is not in the restored store');
    assert.deepEqual(r.r10, meta(10));
  });
});

test('a cache IndexedDB cannot rebuild at open leaves the open to the store, and a cache known to be behind never answers cachedMetadata', { timeout: 60_000 }, async () => {
  await inContext(async (ctx) => {
    const { page } = await newPage(ctx, server);
    const r = await inPage(page, { path: dbName('broken') }, async (veclite, row, a) => {
      const opts = { backend: 'opfs', path: a.path, workers: 0 };
      let db = await veclite.createDatabase({ ...opts, cache: 'indexeddb' });
      let col = await db.createCollection('docs', { dimension: a.dim });
      await col.insertBatch([row(0), row(1)]);
      await db.close();
      // a writer without the cache: the cache is behind, so the next open must rebuild it
      db = await veclite.createDatabase(opts);
      await (await db.getCollection('docs')).insert(row(2));
      await db.close();
      // every put into the cache's rows fails (a full disk) while the database opens and writes
      const put = IDBObjectStore.prototype.put;
      IDBObjectStore.prototype.put = function (...args) {
        if (this.name === 'rows') throw new DOMException('quota', 'QuotaExceededError');
        return put.apply(this, args);
      };
      const out = {};
      try {
        db = await veclite.createDatabase({ ...opts, cache: 'indexeddb' });
        col = await db.getCollection('docs');
        out.opened = { warning: (await col.status()).cache.warning, count: await col.count(), m2: await col.cachedMetadata('r2') };
        await col.update('r0', { metadata: { changed: true } });
        out.updated = { stored: (await col.get('r0')).metadata, cached: await col.cachedMetadata('r0'), gone: await col.cachedMetadata('r9') };
      } finally {
        IDBObjectStore.prototype.put = put;
      }
      out.rebuilt = await col.rebuildCache();
      out.after = { warning: (await col.status()).cache.warning, m0: await col.cachedMetadata('r0') };
      await db.close();
      db = await veclite.createDatabase({ ...opts, cache: 'indexeddb' });
      col = await db.getCollection('docs');
      out.reopened = { cache: (await col.status()).cache.rebuilt, m0: await col.cachedMetadata('r0'), m2: await col.cachedMetadata('r2') };
      await db.close();
      return out;
    });
    assert.match(r.opened.warning ?? '', /could not be reconciled with the store at open/);
    assert.equal(r.opened.count, 3);
    assert.deepEqual(r.opened.m2, meta(2), 'the store answers while the cache is behind');
    assert.deepEqual(r.updated, { stored: { changed: true }, cached: { changed: true }, gone: null });
    assert.equal(r.rebuilt.rows, 3);
    assert.deepEqual(r.after, { warning: null, m0: { changed: true } });
    assert.deepEqual(r.reopened, { cache: null, m0: { changed: true }, m2: meta(2) });
  });
});
