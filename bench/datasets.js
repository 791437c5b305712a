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
export function makeRng(seed) {
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
  // gtK = 0: no ground truth (gt is an empty Int32Array), for build / open measurements.
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
  const gt = gtK > 0 ? bruteForceGroundTruth(base, n, queries, nq, dim, gtK) : new Int32Array(0);
  return {
    name: `synthetic-clustered-${n}x${dim}`,
    source: `generated in-process (Gaussian mixture, ${C} clusters, seed ${seed})${gtK > 0 ? ', exact brute-force ground truth' : ', no ground truth'}`,
    synthetic: true,
    metric: 'euclidean',
    n, dim, base, nq, queries, gtK, gt,
  };
}

/**
 * Picks the dataset: --data DIR, else BENCH_DATA, else the optional local dataset copy
 * ../shared/data/sigmod24-yfcc-clip100 (beside the repository) when present, else a generated synthetic set.
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

// ---- filtered-search data (SIGMOD 2024 contest layout) ---------------------------------------

/**
 * Reads a contest binary file: u32 count, then count × width little-endian values.
 * @param {string} file @param {number} width values per row @param {'f32'|'i32'} kind
 * @returns {{ rows: number, data: Float32Array | Int32Array }}
 */
export function readContestBin(file, width, kind) {
  const buf = fs.readFileSync(file);
  if (buf.length < 4) throw new Error(`${file}: empty or truncated`);
  const rows = buf.readUInt32LE(0);
  if (buf.length !== 4 + rows * width * 4) throw new Error(`${file}: ${buf.length} bytes, expected 4 + ${rows} × ${width} × 4`);
  const bytes = buf.buffer.slice(buf.byteOffset + 4, buf.byteOffset + buf.length); // aligned copy
  return { rows, data: kind === 'f32' ? new Float32Array(bytes) : new Int32Array(bytes) };
}

/** @returns {boolean} dir holds dummy-data.bin and dummy-filtered-queries.bin */
export function hasFilteredDir(dir) {
  return ['dummy-data.bin', 'dummy-filtered-queries.bin'].every((f) => fs.existsSync(path.join(dir, f)));
}

/**
 * Timestamp windows [l, r] covering a log-uniform share in [fMin, fMax] of the sorted values
 * (so selectivities spread over orders of magnitude), seeded.
 */
function makeWindows(ts, count, fMin, fMax, rnd) {
  const sorted = Float64Array.from(ts).sort();
  const n = sorted.length, out = [];
  for (let i = 0; i < count; i++) {
    const f = fMin * Math.pow(fMax / fMin, rnd());
    const w = Math.max(1, Math.round(f * n));
    const s = Math.floor(rnd() * (n - w + 1));
    out.push([sorted[s], sorted[s + w - 1]]);
  }
  return out;
}

/**
 * Builds the filtered query table from parallel arrays.
 * @returns {{ count, vecs: Float32Array, type: Uint8Array, v: Float64Array, l: Float64Array, r: Float64Array }}
 */
function queryTable(rows, dim) {
  const count = rows.length;
  const t = { count, vecs: new Float32Array(count * dim), type: new Uint8Array(count), v: new Float64Array(count), l: new Float64Array(count), r: new Float64Array(count) };
  rows.forEach((q, i) => { t.vecs.set(q.vec, i * dim); t.type[i] = q.type; t.v[i] = q.v; t.l[i] = q.l; t.r[i] = q.r; });
  return t;
}

/**
 * Loads the SIGMOD 2024 contest files (dummy-data.bin, dummy-filtered-queries.bin, optional
 * dummy-filtered-groundtruth.bin). Query types absent from the file among 2 and 3 are DERIVED:
 * real query vectors (of type-0 queries) and real attributes, with generated (seeded) filters:
 * type 2 a timestamp window of 0.2%–50% of the base (log-uniform), type 3 the category of a
 * type-1 query of the file plus a window of 10%–100%. Labelled as such in typeOrigin.
 * @param {string} dir @param {{ derivedPerType?: number }} [opt]
 */
export function loadFilteredDir(dir, { derivedPerType = 500 } = {}) {
  const d = readContestBin(path.join(dir, 'dummy-data.bin'), 102, 'f32');
  const q = readContestBin(path.join(dir, 'dummy-filtered-queries.bin'), 104, 'f32');
  const n = d.rows, dim = 100;
  const base = new Float32Array(n * dim), cat = new Float64Array(n), ts = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    cat[i] = d.data[i * 102]; ts[i] = d.data[i * 102 + 1];
    base.set(d.data.subarray(i * 102 + 2, i * 102 + 102), i * dim);
  }
  const rows = [];
  for (let i = 0; i < q.rows; i++) {
    const o = i * 104, type = q.data[o];
    if (![0, 1, 2, 3].includes(type)) throw new Error(`${dir}/dummy-filtered-queries.bin: query ${i} has type ${type}`);
    rows.push({ type, v: q.data[o + 1], l: q.data[o + 2], r: q.data[o + 3], vec: q.data.subarray(o + 4, o + 104), fileRow: i });
  }
  const typeOrigin = {};
  for (const t of [0, 1, 2, 3]) if (rows.some((x) => x.type === t)) typeOrigin[t] = 'file';
  const rnd = makeRng(0x51C0D24);
  const plain = rows.filter((x) => x.type === 0), cats = rows.filter((x) => x.type === 1).map((x) => x.v);
  if (!typeOrigin[2] && plain.length) {
    const w = makeWindows(ts, derivedPerType, 0.002, 0.5, rnd);
    for (let i = 0; i < derivedPerType; i++) rows.push({ type: 2, v: -1, l: w[i][0], r: w[i][1], vec: plain[Math.floor(rnd() * plain.length)].vec, fileRow: -1 });
    typeOrigin[2] = 'derived';
  }
  if (!typeOrigin[3] && plain.length && cats.length) {
    const w = makeWindows(ts, derivedPerType, 0.1, 1, rnd);
    for (let i = 0; i < derivedPerType; i++) rows.push({ type: 3, v: cats[Math.floor(rnd() * cats.length)], l: w[i][0], r: w[i][1], vec: plain[Math.floor(rnd() * plain.length)].vec, fileRow: -1 });
    typeOrigin[3] = 'derived';
  }
  let contestGt = null;
  const gtFile = path.join(dir, 'dummy-filtered-groundtruth.bin');
  if (fs.existsSync(gtFile)) {
    const g = readContestBin(gtFile, 100, 'i32');
    if (g.rows === q.rows) contestGt = { k: 100, ids: g.data, fileRows: rows.map((x) => x.fileRow) };
  }
  let meta = {};
  try { meta = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')); } catch { /* optional */ }
  return {
    name: meta.name || path.basename(path.resolve(dir)),
    source: path.resolve(dir),
    synthetic: false,
    n, dim, base, cat, ts,
    queries: queryTable(rows, dim),
    fileRows: Int32Array.from(rows, (x) => x.fileRow),
    typeOrigin,
    contestGt,
  };
}

/**
 * SYNTHETIC filtered set: clustered vectors (generateClustered), a category per vector
 * (Zipf-like over 100 categories, correlated with nothing) and a uniform timestamp in [0, 1];
 * perType queries of each type 0..3 (categories drawn from the base's own distribution,
 * windows as in loadFilteredDir).
 */
export function generateFiltered({ n = 10000, dim = 100, perType = 500, seed = 20240602 } = {}) {
  const g = generateClustered({ n, dim, nq: 4 * perType, seed, gtK: 0 });
  const rnd = makeRng(seed ^ 0xF11E);
  const ncat = 100, cum = new Float64Array(ncat);
  let acc = 0;
  for (let c = 0; c < ncat; c++) { acc += 1 / (c + 1); cum[c] = acc; }
  const pickCat = () => { const x = rnd() * acc; let c = 0; while (cum[c] < x) c++; return c; };
  const cat = new Float64Array(n), ts = new Float64Array(n);
  for (let i = 0; i < n; i++) { cat[i] = pickCat(); ts[i] = Math.fround(rnd()); }
  const w2 = makeWindows(ts, perType, 0.002, 0.5, rnd), w3 = makeWindows(ts, perType, 0.1, 1, rnd);
  const rows = [];
  for (let i = 0; i < 4 * perType; i++) {
    const type = i % 4, j = i >> 2, vec = g.queries.subarray(i * dim, (i + 1) * dim);
    const w = type === 2 ? w2[j] : type === 3 ? w3[j] : [-1, -1];
    rows.push({ type, v: type & 1 ? cat[Math.floor(rnd() * n)] : -1, l: w[0], r: w[1], vec });
  }
  return {
    name: `synthetic-filtered-${n}x${dim}`,
    source: `generated in-process: ${g.source}; categories Zipf over ${ncat}, timestamps uniform [0,1]`,
    synthetic: true,
    n, dim, base: g.base, cat, ts,
    queries: queryTable(rows, dim),
    fileRows: new Int32Array(rows.length).fill(-1),
    typeOrigin: { 0: 'synthetic', 1: 'synthetic', 2: 'synthetic', 3: 'synthetic' },
    contestGt: null,
  };
}
