// tests/workerd/example-check.js — what examples/cloudflare-worker.js must do, checked over HTTP
// against a running workerd: used for the repository's build (workerd.test.js) and for the
// installed tarball (tests/js/package.test.js).
//
// Invariants:
// - The store is examples/cloudflare-store.mjs's (the 5,000 documents of examples/demo-data.js).
// - EXAMPLE_QUERIES are deterministic; `nodeTopK(queries)` is the reference: the same store
//   opened by veclite in Node. The Worker's top-10 must equal it (same ids in the same order,
//   distances within 1e-6), and both are judged against an exact brute force over the documents.
// - Writes in the Worker change only its in-memory copy; the checks end by proving that failed
//   calls changed nothing.

import assert from 'node:assert/strict';
import { generate, centroid, randomQuery, CATEGORIES } from '../../examples/demo-data.js';
import { distance } from '../browser/pages/oracle.js';
import { request } from './workerd-process.js';

const FILTERS = [
  { name: 'none', filter: undefined, pred: () => true },
  { name: 'music', filter: { category: 'music' }, pred: (d) => d.category === 'music' },
  { name: 'recent', filter: { year: { $gte: 2015 } }, pred: (d) => d.year >= 2015 },
];

/** The queries both sides answer: random vectors and category centroids, each with each filter, two ef. */
export function exampleQueries() {
  const { docs } = generate();
  const vectors = [...[1, 2, 3, 4, 5, 6].map((s) => randomQuery(s)), ...CATEGORIES.slice(0, 4).map((c) => centroid(docs, c))];
  const out = [];
  for (const [v, vector] of vectors.entries()) {
    for (const f of FILTERS) {
      for (const ef of [undefined, 200]) {
        out.push({ label: `q${v} [${f.name}] ef=${ef ?? 'default'}`, vector: Array.from(vector), k: 10, filter: f.filter, ef, fname: f.name });
      }
    }
  }
  return out;
}

/** Reference answers in Node: [{ id, distance }[]] per query, for a veclite collection `col`. */
export async function topKWith(col, queries) {
  const out = [];
  for (const q of queries) {
    const opts = { k: q.k };
    if (q.filter) opts.filter = q.filter;
    if (q.ef) opts.ef = q.ef;
    out.push((await col.search(q.vector, opts)).map((h) => ({ id: h.id, distance: h.distance })));
  }
  return out;
}

/**
 * Check the example service at `base` (e.g. http://127.0.0.1:P).
 * @param {string} base
 * @param {(queries: object[]) => Promise<{id: number, distance: number}[][]>} nodeTopK
 */
export async function checkExample(base, nodeTopK) {
  const { dim, docs } = generate();
  const post = (route, body) => request(`${base}${route}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });

  let r = await request(`${base}/`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, { implementation: 'wasm-simd', simdEnabled: true, count: docs.length, dimension: dim, metric: 'cosine' });

  // Same top-10 as Node, and both near the exact answer.
  const queries = exampleQueries();
  const expected = await nodeTopK(queries);
  assert.equal(expected.length, queries.length);
  let recallSum = 0;
  for (const [i, q] of queries.entries()) {
    const body = { vector: q.vector, k: q.k };
    if (q.filter) body.filter = q.filter;
    if (q.ef) body.ef = q.ef;
    const res = await post('/search', body);
    assert.equal(res.status, 200, `${q.label}: ${JSON.stringify(res.body)}`);
    const got = res.body.hits;
    assert.deepEqual(got.map((h) => h.id), expected[i].map((h) => h.id), `${q.label}: the Worker's top-10 ids differ from Node's`);
    for (const [j, h] of got.entries()) {
      assert.ok(Math.abs(h.distance - expected[i][j].distance) <= 1e-6, `${q.label} #${j}: distance ${h.distance} vs Node ${expected[i][j].distance}`);
      const d = docs[h.id];
      assert.deepEqual(h.metadata, { title: d.title, category: d.category, year: d.year }, `${q.label}: metadata of ${h.id}`);
      assert.ok(FILTERS.find((f) => f.name === q.fname).pred(d), `${q.label}: ${h.id} does not pass the filter`);
    }
    const exact = docs.filter(FILTERS.find((f) => f.name === q.fname).pred)
      .map((d) => ({ id: d.id, distance: distance('cosine', q.vector, d.vector) }))
      .sort((a, b) => a.distance - b.distance || a.id - b.id).slice(0, q.k);
    const exactIds = new Set(exact.map((e) => e.id));
    recallSum += got.filter((h) => exactIds.has(h.id)).length / exact.length;
    assert.ok(Math.abs(got[0].distance - distance('cosine', q.vector, docs[got[0].id].vector)) < 1e-5, `${q.label}: distance of the top hit`);
  }
  const recall = recallSum / queries.length;
  assert.ok(recall >= 0.95, `mean recall@10 against the brute force: ${recall}`);

  // Writes change this isolate's copy: a new document is found; deletes remove it.
  const q = randomQuery(99);
  r = await post('/upsert', { items: [{ id: 100000, vector: Array.from(q), metadata: { title: 'new', category: 'music', year: 2026 } }] });
  assert.deepEqual(r.body, { upserted: 1, count: docs.length + 1 });
  r = await post('/search', { vector: Array.from(q), k: 1, filter: { category: 'music' } });
  assert.equal(r.body.hits[0].id, 100000);
  r = await post('/delete', { ids: [100000, 0, 123456789] });
  assert.deepEqual(r.body, { deleted: 2, count: docs.length - 1 });
  r = await post('/search', { vector: Array.from(docs[0].vector), k: 5 });
  assert.ok(!r.body.hits.some((h) => h.id === 0 || h.id === 100000), 'deleted ids are never returned');

  // Bad input: a VecliteError, 400, nothing changed.
  r = await post('/search', { vector: [1, 2, 3], k: 3 });
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error.code, 'EINVAL', 'wrong dimension is a VecliteError EINVAL');
  assert.match(r.body.error.message, /64/, 'the message names the dimension');
  r = await request(`${base}/search`, { method: 'POST', body: 'not json' });
  assert.equal(r.status, 400);
  r = await post('/upsert', { items: [{ id: 7, vector: Array.from(q) }, { id: 8, vector: [Number.NaN] }] });
  assert.equal(r.status, 400);
  r = await request(`${base}/nope`);
  assert.equal(r.status, 404);
  r = await request(`${base}/`);
  assert.equal(r.body.count, docs.length - 1, 'the failed calls changed nothing');
  return { queries: queries.length, recall };
}
