// tests/browser/pages/check.js — the real-runtime smoke check of the veclite JS API.
//
// How it fits: the browser page, the module Worker (pages/worker.js) and the workerd test worker
// (tests/workerd/worker.js) all call runCheck()/runErrorChecks() with the veclite module they
// imported (`/web/index.js` over HTTP, or the module bundled into workerd), so the same code runs
// on the main thread, in a Worker and at the edge. The caller passes the createDatabase options
// ({} = auto-detect, {simd:false}, or {simd, wasmModule} in workerd).
//
// Invariants:
//   - results are plain JSON-able data (ids are numbers or strings, vectors become arrays), so they
//     survive page.evaluate, postMessage and Response.json unchanged;
//   - nothing here judges the engine: oracle.js verifyRun()/verifyErrors() does that, either in
//     the same runtime or in the Node test process;
//   - every database opened here is closed, even when a step throws.

import { FILTERS, makeVectors, makeMetadata, makeQueries, bruteForce, scoreOf, idOf } from './oracle.js';

/** Default size of a run: ~500 vectors, as the brief asks; small enough for well under a second. */
export const DEFAULT_PARAMS = { n: 500, dim: 24, seed: 20261121, nQueries: 6, k: 10 };

const plainHits = (hits) => hits.map((h) => ({
  id: h.id, score: h.score, distance: h.distance, metadata: h.metadata,
  ...(h.vector ? { vector: Array.from(h.vector) } : {}),
}));

/**
 * Build four collections, search them and return the raw results.
 * @param {object} veclite the module namespace of web/index.js
 * @param {object} dbOptions passed to createDatabase unchanged
 * @param {Partial<typeof DEFAULT_PARAMS>} [params]
 */
export async function runCheck(veclite, dbOptions = {}, params = {}) {
  const P = { ...DEFAULT_PARAMS, ...params };
  const { createDatabase, getImplementation, getWasmInfo } = veclite;
  const run = {
    params: P,
    implementationBefore: getImplementation().build,
    searches: [], gets: [], withVectors: [], counts: {},
  };
  const vectors = makeVectors(P.n, P.dim, P.seed);
  const queries = makeQueries(P);
  const items = (idKind) => vectors.map((v, i) => ({ id: idOf(i, idKind), vector: v, metadata: makeMetadata(i) }));

  const db = await createDatabase(dbOptions);
  try {
    run.implementation = getImplementation().build;
    run.wasmInfo = { ...getWasmInfo() };

    const specs = [
      { name: 'flat-cosine', metric: 'cosine', index: { type: 'flat' }, idKind: 'number', filters: FILTERS },
      { name: 'flat-euclidean', metric: 'euclidean', index: { type: 'flat' }, idKind: 'number', filters: FILTERS.slice(0, 2) },
      { name: 'flat-dot', metric: 'dotProduct', index: { type: 'flat' }, idKind: 'number', filters: FILTERS.slice(0, 2) },
      { name: 'hnsw-cosine', metric: 'cosine', index: { type: 'hnsw', m: 16, efConstruction: 200, ef: 64, seed: 42 },
        idKind: 'string', filters: [FILTERS[0], FILTERS[3], FILTERS[4]] },
    ];
    for (const spec of specs) {
      const col = await db.createCollection(spec.name, { dimension: P.dim, metric: spec.metric, index: spec.index });
      if (spec.index.type === 'flat') {
        run.counts[`${spec.name} insertBatch returned`] = await col.insertBatch(items(spec.idKind));
      } else {
        for (const it of items(spec.idKind)) await col.insert(it);
      }
      run.counts[spec.name] = await col.count();
      const mode = spec.index.type === 'flat' ? 'exact' : 'recall';
      for (let q = 0; q < P.nQueries; q++) {
        for (const f of spec.filters) {
          const filter = f.filter === 'function' ? (m, id) => f.pred(m, id) : f.filter ?? undefined;
          const opts = { k: P.k, ...(filter ? { filter } : {}) };
          run.searches.push({
            label: `${spec.name} q${q} [${f.name}]`, collection: spec.name, metric: spec.metric, mode,
            query: q, filter: f.name, k: P.k,
            recallFloor: f.name === 'none' ? 0.9 : 0.8,
            hits: plainHits(await col.search(queries[q], opts)),
          });
        }
      }
      if (spec.name === 'flat-cosine') {
        // searchBatch must agree with the oracle row by row.
        const rows = await col.searchBatch(queries, { k: P.k });
        rows.forEach((hits, q) => run.searches.push({
          label: `${spec.name} searchBatch row ${q}`, collection: spec.name, metric: spec.metric, mode,
          query: q, filter: 'none', k: P.k, hits: plainHits(hits),
        }));
        // threshold: halfway between the true scores of ranks 5 and 6 of query 2.
        const o = bruteForce(spec.metric, vectors, queries[2], null);
        const threshold = (scoreOf(spec.metric, o[5].distance) + scoreOf(spec.metric, o[6].distance)) / 2;
        run.searches.push({
          label: `${spec.name} q2 threshold`, collection: spec.name, metric: spec.metric, mode, query: 2,
          filter: 'none', k: P.k, threshold, hits: plainHits(await col.search(queries[2], { k: P.k, threshold })),
        });
        const hv = await col.search(queries[3], { k: 3, includeVectors: true, includeMetadata: false });
        run.withVectors.push({ hits: plainHits(hv) });
        run.searches.push({
          label: `${spec.name} q3 includeVectors`, collection: spec.name, metric: spec.metric, mode, query: 3,
          filter: 'none', k: 3, includeMetadata: false, hits: plainHits(hv),
        });
      }
      for (const i of [0, 123, P.n - 1]) {
        const g = await col.get(idOf(i, spec.idKind));
        run.gets.push(g ? { id: g.id, found: true, vector: Array.from(g.vector), metadata: g.metadata }
          : { id: idOf(i, spec.idKind), found: false });
      }
    }
    run.listCollections = (await db.listCollections()).map((c) => (typeof c === 'string' ? c : c?.name));
  } finally {
    await db.close();
  }
  return run;
}

function describe(e) {
  return { name: e?.name, code: e?.code, message: String(e?.message ?? e) };
}

/**
 * Provoke each case of oracle.js ERROR_CASES and record what was thrown.
 * @param {object} veclite the module namespace of web/index.js
 * @param {object} dbOptions passed to createDatabase
 */
export async function runErrorChecks(veclite, dbOptions = {}) {
  const { createDatabase, VecliteError } = veclite;
  const rec = { cases: [] };
  const attempt = async (what, fn) => {
    try {
      const value = await fn();
      rec.cases.push({ what, resolved: true, value: String(value) });
    } catch (e) {
      rec.cases.push({ what, ...describe(e), isVecliteError: e instanceof VecliteError, isError: e instanceof Error });
    }
  };
  const db = await createDatabase(dbOptions);
  let col;
  try {
    await attempt('createCollection dimension 0', () => db.createCollection('bad0', { dimension: 0 }));
    await attempt('createCollection dimension 65536', () => db.createCollection('bad1', { dimension: 65536 }));
    col = await db.createCollection('ok', { dimension: 4, metric: 'euclidean', index: { type: 'flat' } });
    await col.insert({ id: 1, vector: [1, 2, 3, 4], metadata: { a: 1 } });
    rec.countBefore = await col.count();
    await attempt('insert wrong dimension', () => col.insert({ id: 2, vector: [1, 2, 3] }));
    await attempt('insert NaN component', () => col.insert({ id: 3, vector: [1, NaN, 3, 4] }));
    const scol = await db.createCollection('ok-str', { dimension: 4, idType: 'string' });
    await attempt('insert empty string id', () => scol.insert({ id: '', vector: [1, 2, 3, 4] }));
    rec.countAfterBadInserts = await col.count();
    await attempt('search with unknown filter operator', () => col.search([1, 2, 3, 4], { k: 1, filter: { a: { $foo: 1 } } }));
    rec.updateMissing = await col.update(999, { metadata: { a: 2 } }); // the seed's update: false, no error
    await attempt('update with a bad patch', () => col.update(1, { colour: 'red' }));
  } finally {
    await db.close();
  }
  await attempt('collection.count() after db.close()', () => col.count());
  await attempt('createDatabase backend "nope"', async () => {
    const d = await createDatabase({ ...dbOptions, backend: 'nope' });
    await d.close();
    return 'a database';
  });
  return rec;
}
