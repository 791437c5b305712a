// web/cli/toolbox.js — the `veclite kmeans` and `veclite similarity` commands (docs/cli.md):
// Collection.kmeans and Collection.similarityMatrix of the public API on a store opened
// read-only, and kmeans() on the vectors of a data file (.fvecs, .json, .ndjson). main.js
// registers them and hands in its store helpers.
//
// Invariants:
// - The store or file is only read (no lock taken; a writer may be running).
// - --json prints one document; text output is a summary plus a table. Nothing but that goes
//   to stdout; the one-line "working" note goes to stderr, only on a terminal, never with --json
//   or --no-progress, and is erased before the result prints.

import { VecliteError } from '../../worker/errors.js';
import { UsageError } from './args.js';
import { idText, num, plural, table } from './output.js';
import { detectFormat, readQueryVectors } from './readers.js';

/** A one-line note on stderr while the engine works (see the invariants); returns its eraser. */
function note(ctx, text) {
  const s = ctx.io.stderr;
  if (ctx.json || ctx.opt['no-progress'] || !s.isTTY) return () => {};
  s.write(`\r${text}\x1b[K`);
  return () => s.write('\r\x1b[K');
}

/**
 * veclite kmeans FILE --k N [--iterations N] [--seed N] [--init k-means++|random]
 * [--tolerance X] [--metric euclidean|cosine] [--assignments]
 * @param {any} ctx main.js's command context
 * @param {{ withStore: Function }} h
 */
export async function runKmeans(ctx, { withStore }) {
  const { api, args: [file], opt, backend } = ctx;
  if (opt.k < 1) throw new UsageError(`--k must be at least 1 (got ${opt.k})`, 'kmeans');
  const o = { iterations: opt.iterations, seed: opt.seed, init: opt.init, tolerance: opt.tolerance };
  if (opt.metric !== undefined) o.metric = opt.metric;
  /** Run fn with the working note up for n vectors. */
  const clustering = async (n, fn) => {
    const erase = note(ctx, `kmeans: clustering ${plural(n, 'vector')} of ${file} into ${opt.k} clusters ...`);
    try {
      return await fn();
    } finally {
      erase();
    }
  };
  const fmt = detectFormat(file);
  if (fmt === 'fvecs' || fmt === 'json' || fmt === 'ndjson') {
    // a data file: its vectors in file order, ids are row numbers (0, 1, ...)
    const { vectors } = await readQueryVectors(file);
    const r = await clustering(vectors.length, () => api.kmeans(vectors, opt.k, o));
    return report(file, opt, { ...r, ids: Array.from(vectors, (_, i) => i) }, vectors[0].length, o.metric ?? 'euclidean');
  }
  return withStore(api, file, { write: false, backend, command: 'kmeans' }, async (col) => {
    const r = await clustering(await col.count(), () => col.kmeans(opt.k, o));
    return report(file, opt, r, col.dimension, opt.metric ?? col.metric);
  });
}

/** The { doc, text } of a k-means result r (with ids) of `file`. */
function report(file, opt, r, dim, metric) {
  const centroids = Array.from({ length: opt.k }, (_, c) => Array.from(r.centroids.subarray(c * dim, (c + 1) * dim)));
  const doc = {
    file, k: opt.k, vectors: r.ids.length, dimension: dim, metric, inertia: r.inertia, iterations: r.iterations,
    emptyClusters: r.emptyClusters, reseeded: r.reseeded, sizes: Array.from(r.sizes), centroids,
  };
  if (opt.assignments) doc.assignments = r.ids.map((id, i) => ({ id, cluster: r.assignments[i] }));
  const what = metric === 'cosine' ? 'sum of 1 - cos' : 'sum of squared distances';
  let text = `k-means of ${plural(r.ids.length, 'vector')} (dimension ${dim}, ${metric}) into ${opt.k} clusters: ` +
    `inertia ${num(r.inertia, 4)} (${what}) after ${plural(r.iterations, 'update')}` +
    (r.emptyClusters ? `, ${plural(r.emptyClusters, 'empty cluster')} (fewer distinct vectors than k)` : '') + '\n';
  text += table(['cluster', 'size'], Array.from(r.sizes, (s, c) => [c, s]));
  if (opt.assignments) text += '\n' + table(['id', 'cluster'], r.ids.map((id, i) => [idText(id), r.assignments[i]]));
  return { doc, text };
}

/**
 * veclite similarity FILE ID... [--with ID,ID,...] [--id-type string|number]
 * @param {any} ctx
 * @param {{ withStore: Function, argId: Function }} h
 */
export async function runSimilarity(ctx, { withStore, argId }) {
  const { api, args: [file, ...raws], opt, backend } = ctx;
  const rawB = opt.with === undefined ? null : opt.with.split(',').map((s) => s.trim());
  if (rawB && rawB.some((s) => s === '')) throw new UsageError('--with lists ids separated by commas, none of them empty', 'similarity');
  return withStore(api, file, { write: false, backend, command: 'similarity' }, async (col) => {
    const a = [], b = [];
    for (const raw of raws) a.push(await argId(col, raw, opt['id-type']));
    for (const raw of rawB ?? []) b.push(await argId(col, raw, opt['id-type']));
    const m = await col.similarityMatrix(a, rawB ? b : null);
    const cols = rawB ? b : a;
    if (m.length !== a.length * cols.length) throw new VecliteError('EIO', 'similarity: the matrix has the wrong size; this is a bug in veclite');
    const rows = a.map((_, i) => Array.from(m.subarray(i * cols.length, (i + 1) * cols.length)));
    const doc = { file, metric: col.metric, rows: a, columns: cols, scores: rows };
    const text = `scores (${col.metric}; higher is more similar):\n` +
      table(['', ...cols.map(idText)], rows.map((r, i) => [idText(a[i]), ...r.map((x) => Number(x.toFixed(6)))]));
    return { doc, text };
  });
}
