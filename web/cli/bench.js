// web/cli/bench.js — `veclite bench`: a small benchmark through the public API on generated data.
//
// Data: `n` base vectors and `queries` query vectors drawn from one mixture of Gaussian clusters
// (seeded, so every run on every machine sees the same numbers; clustered because uniform noise
// in many dimensions is a poor stand-in for embeddings). Measures, single-threaded:
//   inserts/s  n / time of the insertBatch calls (in batches of `batch`; on --backend node each
//              batch is committed and fsynced, so that cost is included)
//   QPS        queries per second of Collection.search (k results, metadata off), after a short
//              warm-up, cycling the queries until at least one second has passed
//   recall@k   mean |returned ∩ exact| / k over the queries, the exact answer being a float64
//              brute-force scan of all n vectors
// Invariants: the benchmark writes only to a fresh temporary directory (node backend), which it
// removes afterwards, even on error.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6D2B79F5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Clustered Gaussian data.
 * @returns {{ base: Float32Array, queries: Float32Array }}
 */
export function generate(n, nq, dim, seed) {
  const rand = rng(seed);
  const gauss = () => {
    let u = 0;
    while (u === 0) u = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
  const nc = Math.max(1, Math.min(64, Math.round(Math.sqrt(n) / 4)));
  const centers = new Float64Array(nc * dim);
  for (let i = 0; i < centers.length; i++) centers[i] = gauss();
  const fill = (out, rows) => {
    for (let r = 0; r < rows; r++) {
      const c = Math.floor(rand() * nc);
      for (let j = 0; j < dim; j++) out[r * dim + j] = centers[c * dim + j] + 0.35 * gauss();
    }
    return out;
  };
  return { base: fill(new Float32Array(n * dim), n), queries: fill(new Float32Array(nq * dim), nq) };
}

/** Exact top-k row indices (float64), ties by index. */
function exactTopK(metric, q, base, n, dim, k) {
  const d = new Float64Array(n);
  let qn = 0;
  for (let j = 0; j < dim; j++) qn += q[j] * q[j];
  qn = Math.sqrt(qn);
  for (let i = 0; i < n; i++) {
    let s = 0, vn = 0;
    const o = i * dim;
    if (metric === 'euclidean') {
      for (let j = 0; j < dim; j++) { const t = q[j] - base[o + j]; s += t * t; }
      d[i] = s;
    } else {
      for (let j = 0; j < dim; j++) { s += q[j] * base[o + j]; vn += base[o + j] * base[o + j]; }
      d[i] = metric === 'dotProduct' ? -s : 1 - s / (qn * Math.sqrt(vn));
    }
  }
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => d[a] - d[b] || a - b);
  return idx.slice(0, k);
}

/**
 * Run the benchmark.
 * @param {typeof import('../index.js')} api
 * @param {{ n: number, dim: number, queries: number, k: number, metric: string, m?: number,
 *   efConstruction?: number, ef?: number, batch: number, seed: number, backend?: string }} o
 * @param {{ progress: (label: string, total: number) => { update(rows: number): void, done(): void } }} ui
 * @returns {Promise<object>} the measurements
 */
export async function runBench(api, o, ui) {
  const { n, dim, k, metric, batch } = o;
  const nq = o.queries;
  const { base, queries } = generate(n, nq, dim, o.seed);
  let dir = null;
  let db;
  if (o.backend === 'node') {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-bench-'));
    db = await api.createDatabase({ path: dir, backend: 'node' });
  } else {
    db = await api.createDatabase(o.backend ? { backend: o.backend } : {});
  }
  try {
    const index = { type: 'hnsw' };
    if (o.m !== undefined) index.m = o.m;
    if (o.efConstruction !== undefined) index.efConstruction = o.efConstruction;
    if (o.ef !== undefined) index.ef = o.ef;
    const col = await db.createCollection('bench', { dimension: dim, metric, index });

    const bar = ui.progress('insert', n);
    const t0 = performance.now();
    for (let s = 0; s < n; s += batch) {
      const e = Math.min(n, s + batch);
      const items = new Array(e - s);
      for (let i = s; i < e; i++) items[i - s] = { id: i, vector: base.subarray(i * dim, (i + 1) * dim) };
      await col.insertBatch(items);
      bar.update(e);
    }
    const insertSec = (performance.now() - t0) / 1000;
    bar.done();

    const so = { k, includeMetadata: false };
    const qv = (i) => queries.subarray(i * dim, (i + 1) * dim);
    for (let i = 0; i < Math.min(nq, 10); i++) await col.search(qv(i), so);    // warm-up

    // Recall: one pass over the queries, each checked against an exact scan (not timed).
    let hit = 0;
    for (let i = 0; i < nq; i++) {
      const hits = await col.search(qv(i), so);
      const truth = new Set(exactTopK(metric, qv(i), base, n, dim, k));
      for (const h of hits) if (truth.has(h.id)) hit++;
    }
    // QPS: the searches alone, cycling the queries until a second has passed.
    const t1 = performance.now();
    let searches = 0;
    let elapsed = 0;
    do {
      for (let i = 0; i < nq; i++) await col.search(qv(i), so);
      searches += nq;
      elapsed = performance.now() - t1;
    } while (elapsed < 1000 && searches < nq * 1000);
    const stats = await col.stats();
    return {
      n, dim, metric, k, queries: nq, batch, seed: o.seed,
      backend: o.backend ?? 'memory',
      implementation: stats.implementation,
      index: stats.index,
      insertSeconds: insertSec,
      insertsPerSecond: n / insertSec,
      searches,
      searchSeconds: elapsed / 1000,
      qps: searches / (elapsed / 1000),
      recall: hit / (nq * Math.min(k, n)),
      memoryBytes: stats.memoryBytes,
    };
  } finally {
    await db.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}
