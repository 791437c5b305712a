// worker/toolbox.js — what a session does for the toolbox messages (worker/protocol.js
// similarityMatrix, kmeans): whole-set computations in the engine (src/toolbox.c), over rows the
// facade sends or over a collection's stored rows.
//
// Invariants:
// - The facade (web/toolbox.js) has read and checked every argument into plain data: finite
//   float32 rows of one dimension, a metric name, k and the k-means options in range.
// - A collection form reads the rows through the binding (getBatch, liveIds) and never writes.
// - Results are fresh typed arrays (transferred by a worker host).

import { VecliteError, einval, plural } from './errors.js';
import { METRICS } from './config.js';
import { publicId, resolveId } from './rows.js';
import { layout } from './bind.js';

/** The C metric code of a metric name. */
function metricCode(engine, metric) {
  return engine.C.metrics[METRICS[metric]];
}

/** The k-means options as the binding takes them. */
function kmeansOptions(engine, o) {
  return {
    iterations: o.iterations, tolerance: o.tolerance, seed: BigInt(o.seed),
    init: engine.C.kmeans[o.init === 'random' ? 'RANDOM' : 'PLUSPLUS'],
  };
}

/** similarityMatrix { metric, dim, a, b } -> Float32Array (row-major a x b). */
export function similarity(engine, a) {
  return engine.simMatrix(metricCode(engine, a.metric), a.dim, a.a, a.b);
}

/** kmeans { metric, dim, x, k, options } -> the binding's result. */
export function kmeans(engine, a) {
  return engine.kmeans(metricCode(engine, a.metric), a.dim, a.x, a.k, kmeansOptions(engine, a.options));
}

/** The stored vectors of public ids, in order (ENOTFOUND naming the first absent one). */
function vectorsOf(s, ids, where) {
  const n = ids.length;
  layout([n * 8, n * s.dim * 4], `${where}: reading ${plural(n, 'vector')}`);
  const pairs = new Uint32Array(2 * n);
  for (let i = 0; i < n; i++) {
    if (!s.idKind || !resolveId(s, ids[i], pairs, i, `${where}[${i}]`)) throw absent(s, ids[i], where);
  }
  const g = s.engine.getBatch(s.h, s.dim, n, pairs, false, true);
  for (let i = 0; i < n; i++) if (!g.found[i]) throw absent(s, ids[i], where);
  return g.vecs;
}

function absent(s, id, where) {
  return new VecliteError('ENOTFOUND', `${where}: id ${typeof id === 'string' ? JSON.stringify(id) : String(id)} is not in collection '${s.name}'`);
}

/** A collection's similarity matrix over stored ids { idsA, idsB | null } in its metric. */
export function collectionSimilarity(s, a) {
  if (s.dim === 0) throw einval(`similarityMatrix: collection '${s.name}' has no vectors yet`);
  const va = vectorsOf(s, a.idsA, 'similarityMatrix idsA');
  const vb = a.idsB ? vectorsOf(s, a.idsB, 'similarityMatrix idsB') : va;
  return s.engine.simMatrix(metricCode(s.engine, s.metric), s.dim, va, vb);
}

/** k-means over a collection's live rows -> the binding's result plus ids (row i's id). */
export function collectionKmeans(s, a) {
  const metric = a.options.metric ?? s.metric;
  if (metric === 'dotProduct') {
    throw einval(`kmeans: collection '${s.name}' uses dotProduct, which has no centroid that minimizes it; ` +
      "pass { metric: 'euclidean' } or { metric: 'cosine' }");
  }
  const n = s.engine.count(s.h);
  if (n === 0 || s.dim === 0) throw einval(`kmeans: collection '${s.name}' is empty`);
  if (a.k > n) {
    throw einval(`kmeans: k = ${a.k} is more than the ${plural(n, 'vector')} of collection '${s.name}'; k must be at most the number of vectors`);
  }
  layout([n * 8, n * s.dim * 4, n * 4], `kmeans: ${plural(n, 'vector')} of dimension ${s.dim}`);
  const pairs = s.engine.liveIds(s.h, null, n);
  const g = s.engine.getBatch(s.h, s.dim, n, pairs, false, true);
  const r = s.engine.kmeans(metricCode(s.engine, metric), s.dim, g.vecs, a.k, kmeansOptions(s.engine, a.options));
  const ids = new Array(n);
  for (let i = 0; i < n; i++) ids[i] = publicId(s, pairs, i);
  return { ...r, ids, metric, dim: s.dim };
}
