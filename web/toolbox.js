// web/toolbox.js — argument reading for the toolbox API (docs/api.md §12): similarityMatrix()
// and kmeans() over vectors given by the caller, and their collection forms. The facade
// (web/index.js) sends what these return to a session (worker/toolbox.js), which runs the
// engine's kernels (src/toolbox.c).
//
// Invariants:
// - Every argument is read into fresh plain data here, in the caller's thread, before anything is
//   sent: rows as one Float32Array of finite float32 values (a zero row refused under cosine,
//   a row whose squared length exceeds 2^125 refused under every metric, as for insert/search).
// - Sizes are checked against the engine's one-call limit (STAGE_MAX) BEFORE any big array is
//   made, so a huge request is EBUDGET at once and allocates nothing.

import { VecliteError, einval, plural } from '../worker/errors.js';
import { describe, isPlainObject } from '../worker/metadata.js';
import { checkCosine, checkKeys, idKindOf, intIn, putVector } from '../worker/values.js';
import { METRICS } from '../worker/config.js';
import { STAGE_MAX } from '../worker/bind.js';

const SIM_KEYS = ['metric', 'dimension', 'simd', 'wasmModule'];
const KMEANS_KEYS = ['iterations', 'seed', 'init', 'tolerance', 'metric', 'dimension', 'simd', 'wasmModule'];
const COL_KMEANS_KEYS = ['iterations', 'seed', 'init', 'tolerance', 'metric'];
const TWO64 = 1n << 64n;

function budget(bytes, what) {
  if (bytes > STAGE_MAX) {
    throw new VecliteError('EBUDGET', `${what} would need ${bytes} bytes of WebAssembly memory in one call, more than the ` +
      `${STAGE_MAX}-byte limit (the heap is 4 GB at most); use fewer or shorter vectors`);
  }
}

function readMetric(m, where, dflt) {
  if (m === undefined) return dflt;
  if (typeof m !== 'string' || !Object.hasOwn(METRICS, m)) {
    throw einval(`${where}: metric must be 'cosine', 'euclidean' or 'dotProduct' (got ${describe(m)})`);
  }
  return m;
}

/**
 * A set of rows: an array of vectors (Float32Array, Float64Array or number[]) or one flat
 * Float32Array / Float64Array of n * dimension values with `dimension` given. rowBytes(dim): the
 * engine memory one row will need (EBUDGET checked on n of them before the copy is made).
 * @returns {{ x: Float32Array, n: number, dim: number }}
 */
export function readRows(v, dimension, metric, where, rowBytes = (dim) => dim * 4) {
  let dim = dimension;
  if (Array.isArray(v)) {
    const n = v.length;
    if (n === 0) return { x: new Float32Array(0), n: 0, dim: dim ?? 0 };
    const first = v[0];
    if (dim === undefined) {
      if (!Array.isArray(first) && !(first instanceof Float32Array) && !(first instanceof Float64Array)) {
        throw einval(`${where}[0]: a vector must be a Float32Array, a Float64Array or an array of numbers (got ${describe(first)})`);
      }
      dim = first.length;
    }
    if (dim < 1 || dim > 65535) throw einval(`${where}: vectors have ${plural(dim, 'component')}; a dimension is 1..65535`);
    budget(n * rowBytes(dim), `${where}: ${plural(n, 'vector')} of dimension ${dim}`);
    const x = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) {
      const r = v[i];
      if ((Array.isArray(r) || r instanceof Float32Array || r instanceof Float64Array) && r.length !== dim) {
        throw einval(`${where}[${i}]: vector has ${plural(r.length, 'component')}, the others ${dim}`);
      }
      putVector(r, x, i * dim, dim, `${where}[${i}]`, '');
      if (metric === 'cosine') checkCosine(x, i * dim, dim, `${where}[${i}]`);
    }
    return { x, n, dim };
  }
  if (v instanceof Float32Array || v instanceof Float64Array) {
    if (dim === undefined) throw einval(`${where}: a flat ${v.constructor.name} needs the dimension option`);
    if (v.length % dim !== 0) throw einval(`${where}: ${v.length} values are not a whole number of ${dim}-dimensional vectors`);
    const n = v.length / dim;
    budget(n * rowBytes(dim), `${where}: ${plural(n, 'vector')} of dimension ${dim}`);
    const x = new Float32Array(v.length);
    for (let i = 0; i < n; i++) {
      putVector(v.subarray(i * dim, (i + 1) * dim), x, i * dim, dim, `${where}[${i}]`, '');
      if (metric === 'cosine') checkCosine(x, i * dim, dim, `${where}[${i}]`);
    }
    return { x, n, dim };
  }
  throw einval(`${where} must be an array of vectors or a flat Float32Array with the dimension option (got ${describe(v)})`);
}

function readDimension(o, where) {
  return o.dimension === undefined ? undefined : intIn(o.dimension, 1, 65535, `${where} option dimension`);
}

/**
 * similarityMatrix(a, b?, metric | options) -> the message { metric, dim, a, b, na, nb } and the
 * load options { simd, wasmModule }.
 */
export function readSimilarity(a, b, opts) {
  if (typeof opts === 'string' || opts === undefined || opts === null) opts = { metric: opts ?? undefined };
  if (!isPlainObject(opts)) throw einval(`similarityMatrix: the third argument is a metric name or { metric, dimension } (got ${describe(opts)})`);
  checkKeys(opts, SIM_KEYS, 'similarityMatrix options');
  const metric = readMetric(opts.metric, 'similarityMatrix', 'cosine');
  const dimension = readDimension(opts, 'similarityMatrix');
  const ra = readRows(a, dimension, metric, 'similarityMatrix a');
  const rb = b === undefined || b === null ? ra : readRows(b, dimension ?? (ra.n ? ra.dim : undefined), metric, 'similarityMatrix b');
  if (ra.n && rb.n && ra.dim !== rb.dim) {
    throw einval(`similarityMatrix: a has dimension ${ra.dim} and b ${rb.dim}; both sets must have one dimension`);
  }
  budget(ra.n * rb.n * 4, `similarityMatrix: a ${ra.n} x ${rb.n} matrix`);
  budget((ra.n + rb.n) * ra.dim * 4 + ra.n * rb.n * 4, `similarityMatrix: a ${ra.n} x ${rb.n} matrix and its rows`);
  return {
    msg: { metric, dim: ra.dim || rb.dim, a: ra.x, b: rb === ra ? ra.x.slice() : rb.x, na: ra.n, nb: rb.n },
    load: { simd: opts.simd, wasmModule: opts.wasmModule },
  };
}

/** A collection's similarityMatrix(idsA, idsB?) -> { idsA, idsB | null }. */
export function readIdSets(idsA, idsB) {
  const one = (v, w) => {
    if (!Array.isArray(v)) throw einval(`similarityMatrix: ${w} must be an array of ids (got ${describe(v)})`);
    budget(v.length * 8, `similarityMatrix: ${plural(v.length, 'id')}`);
    const list = Array.from(v);
    for (let i = 0; i < list.length; i++) idKindOf(list[i], `similarityMatrix ${w}[${i}]`);
    return list;
  };
  const a = one(idsA, 'idsA');
  const b = idsB === undefined || idsB === null ? null : one(idsB, 'idsB');
  return { idsA: a, idsB: b };
}

/** The k-means options -> { iterations, seed, init, tolerance, metric? }. */
function readKmeansOptions(o, keys, where) {
  if (o === undefined || o === null) o = {};
  if (!isPlainObject(o)) throw einval(`${where}: options must be an object (got ${describe(o)})`);
  checkKeys(o, keys, `${where} options`);
  const iterations = o.iterations === undefined ? 100 : intIn(o.iterations, 0, 100000, `${where} option iterations`);
  let seed = 42n;
  if (o.seed !== undefined) {
    const ok = (typeof o.seed === 'number' && Number.isSafeInteger(o.seed) && o.seed >= 0) ||
      (typeof o.seed === 'bigint' && o.seed >= 0n && o.seed < TWO64);
    if (!ok) throw einval(`${where}: seed must be a non-negative safe integer or a bigint below 2^64 (got ${describe(o.seed)})`);
    seed = BigInt(o.seed);
  }
  const init = o.init === undefined ? 'k-means++' : o.init;
  if (init !== 'k-means++' && init !== 'random') throw einval(`${where}: init must be 'k-means++' or 'random' (got ${describe(o.init)})`);
  const tolerance = o.tolerance === undefined ? 1e-4 : o.tolerance;
  if (typeof tolerance !== 'number' || !(tolerance >= 0) || !Number.isFinite(tolerance)) {
    throw einval(`${where}: tolerance must be a finite number >= 0 (got ${describe(o.tolerance)})`);
  }
  let metric;
  if (o.metric !== undefined) {
    metric = readMetric(o.metric, where, undefined);
    if (metric === 'dotProduct') {
      throw einval(`${where}: k-means needs a distance to minimize; dotProduct has none (use 'euclidean' or 'cosine')`);
    }
  }
  return { iterations, seed, init, tolerance, metric };
}

function readK(k, where) {
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1) {
    throw einval(`${where}: k must be an integer >= 1 (got ${describe(k)})`);
  }
  return k;
}

/** kmeans(vectors, k, options) -> the message { metric, dim, x, k, options } and the load options. */
export function readKmeans(vectors, k, opts) {
  k = readK(k, 'kmeans');
  const o = readKmeansOptions(opts, KMEANS_KEYS, 'kmeans');
  const metric = o.metric ?? 'euclidean';
  // per row: its copy, its assignment, and at most one centroid (k <= n)
  const r = readRows(vectors, readDimension(opts ?? {}, 'kmeans'), metric, 'kmeans vectors',
    (dim) => dim * 8 + 4);
  if (r.n === 0) throw einval('kmeans: no vectors to cluster');
  if (k > r.n) throw einval(`kmeans: k = ${k} is more than the ${plural(r.n, 'vector')} given; k must be at most the number of vectors`);
  budget(r.n * r.dim * 4 + k * r.dim * 4 + r.n * 4 + k * 4, `kmeans: ${plural(r.n, 'vector')} into ${k} clusters`);
  return {
    msg: { metric, dim: r.dim, x: r.x, k, options: { ...o, metric } },
    load: { simd: opts?.simd, wasmModule: opts?.wasmModule },
  };
}

/** A collection's kmeans(k, options) -> { k, options }. */
export function readCollectionKmeans(k, opts) {
  return { k: readK(k, 'kmeans'), options: readKmeansOptions(opts, COL_KMEANS_KEYS, 'kmeans') };
}

/** The public shape of a k-means result. */
export function kmeansResult(r) {
  const out = {
    centroids: r.centroids, assignments: r.assignments, sizes: r.sizes, inertia: r.inertia,
    iterations: r.iterations, emptyClusters: r.empty, reseeded: r.reseeded,
  };
  if (r.ids) out.ids = r.ids;
  return out;
}
