// Benchmark datasets: loads fvecs/ivecs directories (base, query, groundtruth) or generates a
// deterministic clustered synthetic set with exact brute-force ground truth.
//
// Invariants:
// - Every dataset is { name, source, synthetic, metric: 'euclidean', n, dim, base, nq, queries,
//   gtK, gt } with base/queries row-major Float32Array (n*dim, nq*dim) and gt an Int32Array
//   (nq*gtK) of row indices into base, nearest first.
// - Generated data is a pure function of its parameters (seeded PRNG, no Math.random), and its
//   ground truth is exact (squared L2 accumulated in float64 over the float32 values).

import fs from 'node:fs';
import path from 'node:path';

/**
 * Reads an .fvecs / .ivecs file: per row an int32 dim, then dim × (float32 | int32).
 * @param {string} file
 * @param {'f32'|'i32'} kind
 * @returns {{ rows: number, dim: number, data: Float32Array | Int32Array }}
 */
export function readVecs(file, kind) {
  const buf = fs.readFileSync(file);
  if (buf.length < 4) throw new Error(`${file}: empty or truncated`);
  const dim = buf.readInt32LE(0);
  if (dim <= 0 || dim > 1 << 20) throw new Error(`${file}: bad row dimension ${dim}`);
  const rec = 4 + dim * 4;
  if (buf.length % rec !== 0) throw new Error(`${file}: size ${buf.length} is not a multiple of the ${rec}-byte row`);
  const rows = buf.length / rec;
  const data = kind === 'f32' ? new Float32Array(rows * dim) : new Int32Array(rows * dim);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let r = 0; r < rows; r++) {
    const o = r * rec;
    if (view.getInt32(o, true) !== dim) throw new Error(`${file}: row ${r} has dimension ${view.getInt32(o, true)}, expected ${dim}`);
    for (let j = 0; j < dim; j++) {
      data[r * dim + j] = kind === 'f32' ? view.getFloat32(o + 4 + j * 4, true) : view.getInt32(o + 4 + j * 4, true);
    }
  }
  return { rows, dim, data };
}

/** @returns {boolean} true when dir holds base.fvecs, query.fvecs and groundtruth.ivecs */
export function hasVecsDir(dir) {
  return ['base.fvecs', 'query.fvecs', 'groundtruth.ivecs'].every((f) => fs.existsSync(path.join(dir, f)));
}

/**
 * Loads a directory with base.fvecs, query.fvecs, groundtruth.ivecs (and optional meta.json).
 * @param {string} dir
 */
export function loadVecsDir(dir) {
  const b = readVecs(path.join(dir, 'base.fvecs'), 'f32');
  const q = readVecs(path.join(dir, 'query.fvecs'), 'f32');
  const g = readVecs(path.join(dir, 'groundtruth.ivecs'), 'i32');
  if (q.dim !== b.dim) throw new Error(`${dir}: query dim ${q.dim} != base dim ${b.dim}`);
  if (g.rows !== q.rows) throw new Error(`${dir}: ${g.rows} ground-truth rows for ${q.rows} queries`);
  if (g.dim < 10) throw new Error(`${dir}: ground truth has only top-${g.dim}, need ≥ 10`);
  let meta = {};
  try { meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')); } catch { /* optional */ }
  if (meta.metric && meta.metric !== 'euclidean') throw new Error(`${dir}: metric ${meta.metric}; this harness measures euclidean only`);
  for (let i = 0; i < g.data.length; i++) {
    if (g.data[i] < 0 || g.data[i] >= b.rows) throw new Error(`${dir}: ground-truth id ${g.data[i]} out of range`);
  }
  return {
    name: meta.name || path.basename(path.resolve(dir)),
    source: path.resolve(dir),
    synthetic: meta.synthetic === true,
    metric: 'euclidean',
    n: b.rows, dim: b.dim, base: b.data,
    nq: q.rows, queries: q.data,
    gtK: g.dim, gt: g.data,
  };
}

/** Seeded PRNG (mulberry32-style), returns floats in [0, 1). */
function makeRng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6D2B79F5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Exact top-k by squared L2 (float64 accumulation), brute force.
 * @param {Float32Array} base @param {number} n @param {Float32Array} queries @param {number} nq
 * @param {number} dim @param {number} k
 * @returns {Int32Array} nq*k row ids, nearest first (ties: lower id first)
 */
export function bruteForceGroundTruth(base, n, queries, nq, dim, k) {
  const gt = new Int32Array(nq * k);
  const ids = new Int32Array(k), ds = new Float64Array(k);
  for (let qi = 0; qi < nq; qi++) {
    ids.fill(-1); ds.fill(Infinity);
    const qo = qi * dim;
    for (let i = 0; i < n; i++) {
      let d = 0; const bo = i * dim;
      for (let j = 0; j < dim; j++) { const x = base[bo + j] - queries[qo + j]; d += x * x; }
      if (d < ds[k - 1]) {
        let p = k - 1;
        while (p > 0 && ds[p - 1] > d) { ds[p] = ds[p - 1]; ids[p] = ids[p - 1]; p--; }
        ds[p] = d; ids[p] = i;
      }
    }
    gt.set(ids, qi * k);
  }
  return gt;
}

/**
 * Deterministic clustered (Gaussian-mixture) dataset with exact ground truth. SYNTHETIC.
 * @param {{ n?: number, dim?: number, nq?: number, clusters?: number, seed?: number, gtK?: number }} [opt]
 */
export function generateClustered({ n = 10000, dim = 100, nq = 500, clusters = 64, seed = 20240601, gtK = 100 } = {}) {
  const rnd = makeRng(seed);
  let spare = null;
  const gauss = () => {
    if (spare !== null) { const v = spare; spare = null; return v; }
    let u = 0; while (u === 0) u = rnd();
    const v = rnd(), r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
  const C = clusters;
  const centres = new Float32Array(C * dim), scale = new Float32Array(C * dim), sig = new Float32Array(C);
  const cum = new Float64Array(C);
  let acc = 0;
  for (let c = 0; c < C; c++) {
    for (let j = 0; j < dim; j++) { centres[c * dim + j] = gauss(); scale[c * dim + j] = 0.5 + rnd(); }
    sig[c] = 0.25 + 0.35 * rnd();
    acc += 1 / Math.sqrt(c + 1); cum[c] = acc;
  }
  const pick = () => {
    const x = rnd() * acc; let lo = 0, hi = C - 1;
    while (lo < hi) { const m = (lo + hi) >> 1; if (cum[m] < x) lo = m + 1; else hi = m; }
    return lo;
  };
  const sample = (a, off) => {
    const c = pick();
    for (let j = 0; j < dim; j++) a[off + j] = centres[c * dim + j] + sig[c] * scale[c * dim + j] * gauss();
  };
  const base = new Float32Array(n * dim); for (let i = 0; i < n; i++) sample(base, i * dim);
  const queries = new Float32Array(nq * dim); for (let i = 0; i < nq; i++) sample(queries, i * dim);
  const gt = bruteForceGroundTruth(base, n, queries, nq, dim, gtK);
  return {
    name: `synthetic-clustered-${n}x${dim}`,
    source: `generated in-process (Gaussian mixture, ${C} clusters, seed ${seed}), exact brute-force ground truth`,
    synthetic: true,
    metric: 'euclidean',
    n, dim, base, nq, queries, gtK, gt,
  };
}

/**
 * Picks the dataset: --data DIR, else BENCH_DATA, else ../shared/data/sigmod24-yfcc-clip100
 * relative to the repo root, else a generated synthetic set.
 * @param {{ repoRoot: string, dataDir?: string, quick?: boolean }} opt
 * @returns {{ ds: object, note: string }}
 */
export function pickDataset({ repoRoot, dataDir, quick }) {
  if (dataDir) {
    if (!hasVecsDir(dataDir)) throw new Error(`--data ${dataDir}: needs base.fvecs, query.fvecs, groundtruth.ivecs`);
    return { ds: loadVecsDir(dataDir), note: '--data' };
  }
  const envDir = process.env.BENCH_DATA;
  if (envDir) {
    if (!hasVecsDir(envDir)) throw new Error(`BENCH_DATA=${envDir}: needs base.fvecs, query.fvecs, groundtruth.ivecs`);
    return { ds: loadVecsDir(envDir), note: 'BENCH_DATA' };
  }
  const def = path.resolve(repoRoot, '..', 'shared', 'data', 'sigmod24-yfcc-clip100');
  if (hasVecsDir(def)) return { ds: loadVecsDir(def), note: 'default' };
  return {
    ds: generateClustered({ n: 10000, dim: 100, nq: quick ? 200 : 500 }),
    note: `${def} not found; generated synthetic data instead`,
  };
}
