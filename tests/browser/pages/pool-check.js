// tests/browser/pages/pool-check.js — the worker pool (createDatabase({ workers })) checked in a
// real browser page: module Web Workers running worker/host.js, one writer and a read replica.
//
// How it fits: tests/browser/pool.test.js opens pages/index.html and calls one of the exported
// checks through page.evaluate(import('/tests/browser/pages/pool-check.js')), handing it the
// module namespace of /web/index.js. Each check opens its own database, closes it in `finally`
// and reports the facts the Node side asserts on.
//
// Invariants:
//   - nothing here trusts the code under test for an expected value: rows and queries come from
//     oracle.js (a pure function of a seed), top-k from its exact brute force (compareTopK), row
//     contents from what this file inserted, and a pool's answer is also compared with an
//     in-thread database (createDatabase()) holding the same rows;
//   - a check never throws: it returns { problems: string[], ...facts } (empty problems = pass),
//     and an unexpected exception becomes a problem carrying its name, code and message;
//   - nothing waits without a bound: every wait is raced against a timer;
//   - the pool is observed through the diagnostic hook db[Symbol.for('veclite.pool')] only:
//     its `clients` (index 0 the writer), `client.kill()` (a crash as a browser would see it:
//     Worker.terminate() fires no event) and `workers`; `served()` below wraps a client's
//     call() to count which session answered which message, and changes nothing else.

import { makeVectors, makeMetadata, makeQueries, bruteForce, compareTopK } from './oracle.js';

const POOL = Symbol.for('veclite.pool');
const DIM = 16;
const SEED = 20260214;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Race a promise against a timer; resolves { ok, value|error, ms } and never rejects. */
async function settleWithin(ms, promise) {
  const t0 = performance.now();
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve({ timedOut: true }), ms); });
  const r = await Promise.race([promise.then((value) => ({ value }), (error) => ({ error: error ?? new Error('rejected') })), timeout]);
  clearTimeout(timer);
  return { ...r, ms: performance.now() - t0 };
}

/** Poll `cond` every 20 ms for up to `ms`; true once it held. */
async function until(ms, cond) {
  const end = performance.now() + ms;
  for (;;) {
    if (cond()) return true;
    if (performance.now() > end) return false;
    await sleep(20);
  }
}

const errInfo = (e) => ({ name: e?.name, code: e?.code, message: String(e?.message ?? e) });

/** Count, per message type, the calls a WorkerClient was asked to serve (an own-property wrapper). */
function served(client) {
  const tally = {};
  const orig = client.call;
  client.call = function call(type, args) {
    tally[type] = (tally[type] ?? 0) + 1;
    return orig.call(this, type, args);
  };
  return tally;
}

const rowOf = (vectors, i) => ({ id: i, vector: vectors[i], metadata: makeMetadata(i) });

/** Problems with a get() answer for row i (null, id, bit-exact vector, metadata). */
function checkGot(g, vectors, i, where) {
  if (!g) return [`${where}: get(${i}) returned null`];
  const p = [];
  if (g.id !== i) p.push(`${where}: get(${i}).id is ${JSON.stringify(g.id)}`);
  const v = Array.from(g.vector ?? []), want = Array.from(vectors[i]);
  if (v.length !== want.length || v.some((x, j) => x !== want[j])) p.push(`${where}: get(${i}).vector differs from the inserted one`);
  const md = { ...(g.metadata ?? {}) };
  delete md.$id;
  if (JSON.stringify(md) !== JSON.stringify(makeMetadata(i))) p.push(`${where}: get(${i}).metadata ${JSON.stringify(g.metadata)}`);
  return p;
}

/** Hits as plain data (typed arrays become arrays) for an exact structural comparison. */
const plain = (rows) => rows.map((hits) => hits.map((h) => ({
  ...h, ...(h.vector ? { vector: Array.from(h.vector) } : {}),
})));

/** searchBatch answers judged against the exact brute force over rows [0, n). */
function judgeBatch(got, { metric, vectors, queries, n, k, pred, includeMetadata, label }) {
  const problems = [];
  if (!Array.isArray(got) || got.length !== queries.length) return [`${label}: ${got?.length} result rows for ${queries.length} queries`];
  for (let q = 0; q < queries.length; q++) {
    const oracle = bruteForce(metric, vectors.slice(0, n), queries[q], pred);
    const hits = got[q];
    const rec = { label: `${label} q${q}`, metric, mode: 'exact', k, hits, includeMetadata };
    problems.push(...compareTopK(rec, oracle).problems);
    // ids rank by rank, distances within 1e-4 (the brief's tolerance; compareTopK above is stricter)
    for (let r = 0; r < Math.min(k, oracle.length); r++) {
      const h = hits[r];
      if (!h) break;
      if (!(Math.abs(h.distance - oracle[r].distance) <= 1e-4)) problems.push(`${label} q${q} rank ${r}: distance ${h.distance}, brute force ${oracle[r].distance}`);
      if (h.id !== oracle[r].i && Math.abs(oracle[r].distance - (oracle.find((o) => o.i === h.id)?.distance ?? Infinity)) > 1e-6) {
        problems.push(`${label} q${q} rank ${r}: id ${h.id}, brute force ${oracle[r].i}`);
      }
    }
  }
  return problems;
}

async function withPool(veclite, workers, body) {
  const { createDatabase, getWasmInfo } = veclite;
  const facts = { problems: [], poolSizeBefore: getWasmInfo().workerPoolSize };
  let db = null;
  try {
    db = await createDatabase({ workers });
    facts.dbWorkers = db.workers;
    facts.poolSizeOpen = getWasmInfo().workerPoolSize;
    const pool = db[POOL];
    facts.hasPool = !!pool && Array.isArray(pool.clients);
    facts.clientsOpen = pool?.clients?.length;
    await body(db, pool, facts);
  } catch (e) {
    facts.problems.push(`unexpected exception: ${JSON.stringify(errInfo(e))}\n${e?.stack ?? ''}`);
  } finally {
    if (db) {
      const c = await settleWithin(5000, db.close());
      if (c.timedOut) facts.problems.push('db.close() did not settle within 5 s');
      else if (c.error) facts.problems.push(`db.close() rejected: ${JSON.stringify(errInfo(c.error))}`);
    }
    facts.poolSizeAfterClose = getWasmInfo().workerPoolSize;
    facts.poolWorkersAfterClose = db?.[POOL]?.workers;
  }
  return facts;
}

/**
 * (a) createDatabase({ workers: 2 }): after each resolved insert, four consecutive count() calls
 * and four get() calls (round robin over writer and replica) all see it.
 */
export function checkReadsFollowWrites(veclite, { n = 40 } = {}) {
  return withPool(veclite, 2, async (db, pool, f) => {
    const vectors = makeVectors(n, DIM, SEED);
    const col = await db.createCollection('follow', { dimension: DIM, metric: 'cosine', index: { type: 'flat' } });
    const tallies = pool.clients.map(served);
    f.reads = 0;
    for (let i = 0; i < n; i++) {
      await col.insert(rowOf(vectors, i));
      const counts = [];
      for (let j = 0; j < 4; j++) counts.push(await col.count());
      f.reads += 4;
      if (counts.some((c) => c !== i + 1)) f.problems.push(`after insert ${i}: count() x4 gave ${JSON.stringify(counts)}, expected ${i + 1}`);
      for (let j = 0; j < 4; j++) f.problems.push(...checkGot(await col.get(i), vectors, i, `after insert ${i}, get #${j}`));
      f.reads += 4;
    }
    // every earlier row is still readable on both sessions
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < 2; j++) f.problems.push(...checkGot(await col.get(i), vectors, i, `final get #${j}`));
    }
    f.served = tallies.map((t) => ({ count: t.count ?? 0, get: t.get ?? 0, insert: t.insert ?? 0, apply: t.apply ?? 0 }));
  });
}

/**
 * (b) searchBatch of 20 queries on a flat euclidean collection: the exact brute-force top-k, the
 * same answer as an in-thread database, and the queries really split over both sessions.
 */
export async function checkSearchBatch(veclite, { n = 300, nQueries = 20, k = 8 } = {}) {
  const ref = await veclite.createDatabase();
  const f = await withPool(veclite, 2, async (db, pool, f) => {
    const vectors = makeVectors(n, DIM, SEED);
    const queries = makeQueries({ n, dim: DIM, seed: SEED, nQueries });
    const rows = vectors.map((_, i) => rowOf(vectors, i));
    const cfg = { dimension: DIM, metric: 'euclidean', index: { type: 'flat' } };
    const col = await db.createCollection('batch', cfg);
    const rcol = await ref.createCollection('batch', cfg);
    f.inserted = await col.insertBatch(rows);
    await rcol.insertBatch(rows);
    const tallies = pool.clients.map(served);
    const variants = [
      { label: 'unfiltered', opts: { k }, pred: null },
      { label: 'group=2 +vectors', opts: { k, filter: { group: 2 }, includeVectors: true }, pred: (m) => m.group === 2 },
    ];
    f.judged = 0;
    for (const v of variants) {
      const got = await col.searchBatch(queries, v.opts);
      const want = await rcol.searchBatch(queries, v.opts);
      f.problems.push(...judgeBatch(got, { metric: 'euclidean', vectors, queries, n, k, pred: v.pred, includeMetadata: true, label: v.label }));
      f.judged += got.length;
      if (JSON.stringify(plain(got)) !== JSON.stringify(plain(want))) {
        f.problems.push(`${v.label}: the pool's searchBatch differs from the in-thread database's`);
      }
      if (v.opts.includeVectors) {
        for (const hits of got) {
          for (const h of hits) {
            const w = Array.from(vectors[h.id]);
            if (!h.vector || Array.from(h.vector).some((x, j) => x !== w[j])) f.problems.push(`${v.label}: hit ${h.id} vector differs`);
          }
        }
      }
    }
    f.searchCalls = tallies.map((t) => t.search ?? 0);
  });
  await ref.close();
  return f;
}

/**
 * (c) A replica killed while ~10 searchBatch calls are in flight: all settle within 1 s (the
 * failures are EBACKEND), the pool is back to 2 live workers, and reads are exact again.
 */
export function checkReplicaKill(veclite, { n = 300, nQueries = 20, k = 5, calls = 10 } = {}) {
  return withPool(veclite, 2, async (db, pool, f) => {
    const vectors = makeVectors(n + 1, DIM, SEED);
    const queries = makeQueries({ n, dim: DIM, seed: SEED, nQueries });
    const col = await db.createCollection('crash', { dimension: DIM, metric: 'euclidean', index: { type: 'flat' } });
    await col.insertBatch(vectors.slice(0, n).map((_, i) => rowOf(vectors, i)));
    const victim = pool.clients[1];
    const inFlight = Array.from({ length: calls }, () => col.searchBatch(queries, { k }));
    // Wait (microtask/macrotask ticks, bounded) until the replica really holds some of them.
    f.victimPendingAtKill = 0;
    for (let t = 0; t < 200 && victim.pending === 0; t++) await (t < 100 ? Promise.resolve() : sleep(0));
    f.victimPendingAtKill = victim.pending;
    victim.kill('killed by the browser test');
    f.victimAliveAfterKill = victim.alive;
    const s = await settleWithin(1000, Promise.allSettled(inFlight));
    f.settleMs = s.ms;
    if (s.timedOut) { f.problems.push('searchBatch calls in flight did not all settle within 1 s of the kill'); return; }
    const rejected = s.value.filter((r) => r.status === 'rejected');
    f.rejected = rejected.length;
    f.fulfilled = s.value.length - rejected.length;
    f.rejections = rejected.map((r) => errInfo(r.reason));
    for (const r of rejected) {
      if (r.reason?.name !== 'VecliteError' || r.reason?.code !== 'EBACKEND') {
        f.problems.push(`a call in flight rejected with ${JSON.stringify(errInfo(r.reason))}, expected VecliteError EBACKEND`);
      }
    }
    for (const r of s.value) {
      if (r.status === 'fulfilled') f.problems.push(...judgeBatch(r.value, { metric: 'euclidean', vectors, queries, n, k, pred: null, includeMetadata: true, label: 'in flight, fulfilled' }));
    }
    // The pool replaces the replica.
    const back = await until(2000, () => pool.workers === 2 && pool.clients[1] !== victim && pool.clients[1].alive &&
      veclite.getWasmInfo().workerPoolSize === 2);
    f.replaced = pool.clients[1] !== victim;
    f.workersAfter = pool.workers;
    f.poolSizeAfterKill = veclite.getWasmInfo().workerPoolSize;
    if (!back) { f.problems.push(`the pool did not get back to 2 live workers within 2 s (workers ${pool.workers})`); return; }
    // Reads: right count on every session; the new replica serves once it is synced.
    const tally = served(pool.clients[1]);
    await col.insert(rowOf(vectors, n));
    const synced = await (async () => {
      const end = performance.now() + 2000;
      while (performance.now() < end) {
        const counts = [];
        for (let j = 0; j < 4; j++) counts.push(await col.count());
        if (counts.some((c) => c !== n + 1)) f.problems.push(`after the replacement: count() x4 gave ${JSON.stringify(counts)}, expected ${n + 1}`);
        if ((tally.count ?? 0) > 0) return true;
        await sleep(20);
      }
      return false;
    })();
    f.newReplicaServedCount = tally.count ?? 0;
    if (!synced) f.problems.push('the new replica served no read within 2 s of being started');
    for (let j = 0; j < 3; j++) {
      const got = await col.searchBatch(queries, { k });
      f.problems.push(...judgeBatch(got, { metric: 'euclidean', vectors, queries, n: n + 1, k, pred: null, includeMetadata: true, label: `after replacement #${j}` }));
    }
    f.newReplicaServedSearch = tally.search ?? 0;
  });
}

/**
 * (d) The writer killed with writes in flight: they settle within 1 s (failures EBACKEND), the
 * next insert succeeds and every acknowledged row is still there.
 */
export function checkWriterKill(veclite, { n = 50, more = 20 } = {}) {
  return withPool(veclite, 2, async (db, pool, f) => {
    const vectors = makeVectors(n + more + 1, DIM, SEED);
    const col = await db.createCollection('writer', { dimension: DIM, metric: 'euclidean' });
    const acked = new Set();
    for (let i = 0; i < n; i++) { await col.insert(rowOf(vectors, i)); acked.add(i); }
    const writer = pool.clients[0];
    const inFlight = [];
    for (let i = n; i < n + more; i++) inFlight.push(col.insert(rowOf(vectors, i)).then(() => { acked.add(i); }));
    for (let t = 0; t < 200 && writer.pending === 0; t++) await (t < 100 ? Promise.resolve() : sleep(0));
    f.writerPendingAtKill = writer.pending;
    writer.kill('killed by the browser test');
    const s = await settleWithin(1000, Promise.allSettled(inFlight));
    f.settleMs = s.ms;
    if (s.timedOut) { f.problems.push('writes in flight did not all settle within 1 s of the kill'); return; }
    const rejected = s.value.filter((r) => r.status === 'rejected');
    f.rejected = rejected.length;
    f.fulfilled = s.value.length - rejected.length;
    for (const r of rejected) {
      if (r.reason?.name !== 'VecliteError' || r.reason?.code !== 'EBACKEND') {
        f.problems.push(`a write in flight rejected with ${JSON.stringify(errInfo(r.reason))}, expected VecliteError EBACKEND`);
      }
    }
    const last = n + more;
    const ins = await settleWithin(3000, col.insert(rowOf(vectors, last)));
    if (ins.timedOut) { f.problems.push('the insert after the kill did not settle within 3 s'); return; }
    if (ins.error) { f.problems.push(`the insert after the kill failed: ${JSON.stringify(errInfo(ins.error))}`); return; }
    acked.add(last);
    f.acked = acked.size;
    f.writerReplaced = pool.clients[0] !== writer;
    f.count = await col.count();
    if (!(f.count >= acked.size)) f.problems.push(`${f.count} rows, ${acked.size} acknowledged`);
    for (const i of [...acked].sort((a, b) => a - b)) {
      for (let j = 0; j < 2; j++) f.problems.push(...checkGot(await col.get(i), vectors, i, `acknowledged row, get #${j}`));
    }
    f.workersAfter = pool.workers;
  });
}
