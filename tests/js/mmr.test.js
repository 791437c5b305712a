// tests/js/mmr.test.js — search option mmr (maximal marginal relevance, docs/api.md §4): lambda 1
// is the plain search; an exact f64 MMR oracle over the brute-force candidates picks the same rows
// on a flat index (every metric); on clustered data the spread of the picks grows as lambda
// falls; filters apply inside; searchBatch agrees with search; bad options are EINVAL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDatabase } from '../../web/index.js';
import { BASE, QUERIES, DIM, bruteForce, dist64, scoreOf, rejectsWith } from './helpers.js';

const METRICS = ['cosine', 'euclidean', 'dotProduct'];

/** The metric's similarity (docs/api.md §4 mmr) between two rows, in f64. */
function sim(metric, a, b) {
  if (metric === 'euclidean') return 1 / (1 + dist64('euclidean', a, b));
  if (metric === 'dotProduct') return -dist64('dotProduct', a, b);
  return 1 - dist64('cosine', a, b);
}

/** Exact greedy MMR over the fetchK brute-force candidates: row indices in pick order. */
function mmrOracle(metric, q, rows, k, fetchK, lambda, pred) {
  const cand = bruteForce(metric, q, rows, fetchK, pred);
  const picked = [];
  const maxSim = new Array(cand.length).fill(0);
  const taken = new Array(cand.length).fill(false);
  for (let j = 0; j < Math.min(k, cand.length); j++) {
    let best = -1, bs = 0;
    for (let c = 0; c < cand.length; c++) {
      if (taken[c]) continue;
      const s = lambda * scoreOf(metric, cand[c].d) - (1 - lambda) * (j ? maxSim[c] : 0);
      if (best < 0 || s > bs) { best = c; bs = s; }
    }
    taken[best] = true;
    picked.push(cand[best].i);
    for (let c = 0; c < cand.length; c++) {
      if (taken[c]) continue;
      const s = sim(metric, rows[cand[c].i], rows[cand[best].i]);
      if (j === 0 || s > maxSim[c]) maxSim[c] = s;
    }
  }
  return picked;
}

async function collection(metric, rows, index = { type: 'flat' }, meta = () => undefined) {
  const db = await createDatabase();
  const c = await db.createCollection('c', { dimension: rows[0].length, metric, index });
  await c.insertBatch(rows.map((v, i) => ({ id: i, vector: v, ...(meta(i) ? { metadata: meta(i) } : {}) })));
  return { db, c };
}

test('mmr lambda 1 equals the plain search (same ids, same order, same distances)', async () => {
  for (const metric of METRICS) {
    const { db, c } = await collection(metric, BASE.slice(0, 600));
    for (const q of QUERIES.slice(0, 8)) {
      const plain = await c.search(q, { k: 10 });
      const m = await c.search(q, { k: 10, mmr: { lambda: 1, fetchK: 40 } });
      assert.deepEqual(m.map((h) => h.id), plain.map((h) => h.id), metric);
      assert.deepEqual(m.map((h) => h.distance), plain.map((h) => h.distance), metric);
    }
    await db.close();
  }
});

test('mmr picks what an exact f64 MMR oracle over the brute-force candidates picks (flat, every metric)', async () => {
  const rows = BASE.slice(0, 800);
  for (const metric of METRICS) {
    const { db, c } = await collection(metric, rows);
    let checked = 0;
    for (const [qi, q] of QUERIES.slice(0, 12).entries()) {
      for (const lambda of [0, 0.3, 0.5, 0.7, 0.9]) {
        const k = 3 + (qi % 8), fetchK = k * 3 + qi;
        const want = mmrOracle(metric, q, rows, k, fetchK, lambda);
        const got = await c.search(q, { k, mmr: { lambda, fetchK } });
        assert.deepEqual(got.map((h) => h.id), want, `${metric} query ${qi} lambda ${lambda}`);
        for (const h of got) assert.ok(Math.abs(h.distance - dist64(metric, q, rows[h.id])) < 1e-4);
        checked++;
      }
    }
    assert.equal(checked, 60);
    await db.close();
  }
});

test('mmr spreads the picks over clusters as lambda falls (mean pairwise distance monotone)', async () => {
  // 6 tight clusters of 20 rows; cluster c's centre lies at distance 1 + c/2 from the query, so
  // lambda 1 takes the query's own cluster and lambda 0 one row of each cluster
  const dim = 8, rows = [], cluster = [];
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
  for (let c = 0; c < 6; c++) {
    const centre = new Array(dim).fill(0);
    centre[c] = 1 + c / 2;
    for (let i = 0; i < 20; i++) { rows.push(Float32Array.from(centre, (x) => x + rnd() * 0.05)); cluster.push(c); }
  }
  const q = new Float32Array(dim);
  const { db, c } = await collection('euclidean', rows);
  const spread = [];
  for (const lambda of [1, 0.8, 0.6, 0.4, 0.2, 0]) {
    const hits = await c.search(q, { k: 6, mmr: { lambda, fetchK: rows.length } });
    assert.equal(hits.length, 6);
    let sum = 0, n = 0;
    for (let a = 0; a < 6; a++) for (let b = a + 1; b < 6; b++, n++) sum += dist64('euclidean', rows[hits[a].id], rows[hits[b].id]);
    spread.push({ lambda, mean: sum / n, clusters: new Set(hits.map((h) => cluster[h.id])).size });
  }
  for (let i = 1; i < spread.length; i++) assert.ok(spread[i].mean >= spread[i - 1].mean - 1e-9, JSON.stringify(spread));
  assert.equal(spread[0].clusters, 1, 'lambda 1: the nearest cluster only');
  assert.equal(spread.at(-1).clusters, 6, 'lambda 0: one row per cluster');
  assert.ok(spread.at(-1).mean > 2 * spread[0].mean);
  await db.close();
});

test('mmr with a filter: a filtered-out row never appears; the oracle agrees', async () => {
  const rows = BASE.slice(0, 500);
  const { db, c } = await collection('cosine', rows, { type: 'flat' }, (i) => ({ g: i % 3 }));
  for (const q of QUERIES.slice(0, 6)) {
    const got = await c.search(q, { k: 8, filter: { g: 1 }, mmr: { lambda: 0.4, fetchK: 30 } });
    assert.equal(got.length, 8);
    for (const h of got) assert.equal(h.metadata.g, 1);
    assert.deepEqual(got.map((h) => h.id), mmrOracle('cosine', q, rows, 8, 30, 0.4, (i) => i % 3 === 1));
  }
  await db.close();
});

test('mmr on HNSW (plain and scalar-quantized): picks come from the fetchK nearest, distinct, exact distances', async () => {
  const rows = BASE.slice(0, 1500);
  for (const quantization of ['none', 'scalar']) {
    const db = await createDatabase();
    const c = await db.createCollection('h', { dimension: DIM, metric: 'euclidean', quantization });
    await c.insertBatch(rows.map((v, i) => ({ id: i, vector: v })));
    for (const q of QUERIES.slice(0, 5)) {
      const pool = new Set((await c.search(q, { k: 40, ef: 40 })).map((h) => h.id));
      const got = await c.search(q, { k: 10, ef: 40, mmr: { lambda: 0.5, fetchK: 40 } });
      assert.equal(got.length, 10);
      assert.equal(new Set(got.map((h) => h.id)).size, 10);
      for (const h of got) {
        assert.ok(pool.has(h.id), `${quantization}: ${h.id} is one of the 40 candidates`);
        assert.ok(Math.abs(h.distance - dist64('euclidean', q, rows[h.id])) < 1e-3);
      }
    }
    await db.close();
  }
});

test('mmr: searchBatch equals search per query; k above the live rows; threshold skips, not stops', async () => {
  const rows = BASE.slice(0, 300);
  const { db, c } = await collection('cosine', rows);
  const qs = QUERIES.slice(0, 4);
  const batch = await c.searchBatch(qs, { k: 5, mmr: { lambda: 0.2 } });
  for (let i = 0; i < qs.length; i++) {
    assert.deepEqual(batch[i].map((h) => h.id), (await c.search(qs[i], { k: 5, mmr: { lambda: 0.2 } })).map((h) => h.id));
  }
  const all = await c.search(qs[0], { k: 1000, mmr: { lambda: 0.5 } });
  assert.equal(all.length, 300);
  const some = await c.search(qs[0], { k: 10, mmr: { lambda: 0 } });
  const cut = some.map((h) => h.score).sort((a, b) => a - b)[5];
  const kept = await c.search(qs[0], { k: 10, mmr: { lambda: 0 }, threshold: cut });
  assert.deepEqual(kept.map((h) => h.id), some.filter((h) => h.score >= cut).map((h) => h.id));
  await db.close();
});

test('mmr: bad options are EINVAL and change nothing', async () => {
  const { db, c } = await collection('cosine', BASE.slice(0, 50));
  const q = QUERIES[0];
  for (const mmr of [{ lambda: -0.1 }, { lambda: 1.5 }, { lambda: NaN }, { lambda: '0.5' }, { fetchK: 5 },
    { fetchK: 10.5 }, { fetchK: 100001 }, { lambda: 0.5, extra: 1 }, 'yes', 3]) {
    await rejectsWith(() => c.search(q, { k: 10, mmr }), 'EINVAL', /mmr/);
  }
  await rejectsWith(() => c.search(q, { mmr: {}, filter: () => true }), 'EINVAL', /predicate/);
  assert.equal(await c.count(), 50);
  await db.close();
});
