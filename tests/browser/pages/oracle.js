// tests/browser/pages/oracle.js — seeded test data and the exact brute-force kNN oracle.
//
// How it fits: the same plain ES module runs in four places — the browser page, the module Worker
// (both via tests/browser/pages/check.js), the workerd test worker and the Node test process — so
// every runtime builds bit-identical data from a seed and is judged by the same oracle.
// It imports nothing and uses no runtime-specific globals.
//
// Invariants:
//   - data is a pure function of (n, dim, seed): vectors hold float32 values (Math.fround), so
//     passing them through JSON or a Float32Array changes nothing;
//   - the oracle computes in float64 over those float32 values and never calls veclite;
//   - distances follow docs/api.md §4: cosine 1 − cos, euclidean true L2, dotProduct −dot;
//     score: cosine cos, dotProduct dot, euclidean 1 / (1 + distance);
//   - verifyRun() returns a list of human-readable problems (empty = pass) instead of throwing,
//     so a page or worker can run it and hand the list back over a structured-clone boundary.

/**
 * mulberry32: a tiny seeded PRNG returning floats in [0, 1).
 * @param {number} seed
 * @returns {() => number}
 */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` vectors of `dim` float32 values in [-1, 1), a pure function of the seed.
 * @returns {Float32Array[]}
 */
export function makeVectors(count, dim, seed) {
  const rnd = mulberry32(seed);
  const out = [];
  for (let i = 0; i < count; i++) {
    const v = new Float32Array(dim);
    for (let j = 0; j < dim; j++) v[j] = rnd() * 2 - 1;
    out.push(v);
  }
  return out;
}

/** The metadata stored with item i (every collection uses the same scheme). */
export function makeMetadata(i) {
  const m = { group: i % 5, tag: i % 2 ? 'odd' : 'even', rank: i, weight: (i % 10) / 10, title: `doc ${i}` };
  if (i % 7 === 0) m.flag = true;
  return m;
}

/** The query vectors: two stored vectors (exact self-match) and random ones. */
export function makeQueries({ n, dim, seed, nQueries }) {
  const stored = makeVectors(n, dim, seed);
  const random = makeVectors(nQueries, dim, seed + 7919);
  const out = [];
  for (let q = 0; q < nQueries; q++) out.push(q < 2 ? stored[(q * 211 + 37) % n] : random[q]);
  return out;
}

/**
 * Structured filters (docs/api.md §5) with the equivalent JS predicate the oracle uses.
 * `name` is how runs refer to them. `null` filter = unfiltered.
 */
export const FILTERS = [
  { name: 'none', filter: null, pred: null },
  { name: 'eq group=2', filter: { group: 2 }, pred: (m) => m.group === 2 },
  { name: '$and tag=even,rank<250', filter: { $and: [{ tag: 'even' }, { rank: { $lt: 250 } }] },
    pred: (m) => m.tag === 'even' && m.rank < 250 },
  { name: 'multi-key $in+$gte', filter: { group: { $in: [1, 3] }, rank: { $gte: 100 } },
    pred: (m) => (m.group === 1 || m.group === 3) && m.rank >= 100 },
  { name: 'selective $range 10..29', filter: { rank: { $range: [10, 29] } },
    pred: (m) => m.rank >= 10 && m.rank <= 29 },
  { name: '$or/$not', filter: { $or: [{ group: 0 }, { $not: { tag: 'odd' } }] },
    pred: (m) => m.group === 0 || m.tag !== 'odd' },
  { name: '$exists flag', filter: { flag: { $exists: true } }, pred: (m) => 'flag' in m },
  { name: '$ne+$le', filter: { group: { $ne: 4 }, weight: { $le: 0.5 } },
    pred: (m) => m.group !== 4 && m.weight <= 0.5 },
  { name: 'js function group=4', filter: 'function', pred: (m) => m.group === 4 },
];

/** @returns {(typeof FILTERS)[number]} */
export function filterByName(name) {
  const f = FILTERS.find((x) => x.name === name);
  if (!f) throw new Error(`unknown filter ${name}`);
  return f;
}

/** The metric's distance in float64 (docs/api.md §4). */
export function distance(metric, a, b) {
  let dot = 0, na = 0, nb = 0, l2 = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i], y = b[i];
    dot += x * y; na += x * x; nb += y * y; l2 += (x - y) * (x - y);
  }
  if (metric === 'cosine') return 1 - dot / (Math.sqrt(na) * Math.sqrt(nb));
  if (metric === 'euclidean') return Math.sqrt(l2);
  if (metric === 'dotProduct') return -dot;
  throw new Error(`unknown metric ${metric}`);
}

/** The score that belongs to a distance. */
export function scoreOf(metric, d) {
  if (metric === 'cosine') return 1 - d;
  if (metric === 'euclidean') return 1 / (1 + d);
  if (metric === 'dotProduct') return -d;
  throw new Error(`unknown metric ${metric}`);
}

/**
 * Every item passing `pred`, sorted by true distance to q (ties by index).
 * @returns {{i: number, distance: number}[]}
 */
export function bruteForce(metric, vectors, q, pred) {
  const all = [];
  for (let i = 0; i < vectors.length; i++) {
    if (pred && !pred(makeMetadata(i), i)) continue;
    all.push({ i, distance: distance(metric, q, vectors[i]) });
  }
  all.sort((x, y) => x.distance - y.distance || x.i - y.i);
  return all;
}

/** Item index of an engine id: numbers are the index, strings are `doc-<index>`. */
export function indexOfId(id) {
  if (typeof id === 'number') return id;
  if (typeof id === 'string' && /^doc-\d+$/.test(id)) return Number(id.slice(4));
  return NaN;
}

/** Engine id of item i for an id kind. */
export function idOf(i, idKind) {
  return idKind === 'string' ? `doc-${i}` : i;
}

const tolFor = (d) => 2e-5 * Math.max(1, Math.abs(d));

function sameJson(a, b) {
  const norm = (o) => JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]));
  return norm(a) === norm(b);
}

/**
 * Compare one search's hits with the oracle.
 * @param {object} s a search record from check.js: {label, metric, mode, k, threshold?, hits}
 * @param {{i:number, distance:number}[]} oracle all candidates passing the filter, sorted
 * @param {{recallFloor?: number}} [opt]
 * @returns {{problems: string[], recall: number}}
 */
export function compareTopK(s, oracle, { recallFloor = 0.9 } = {}) {
  const problems = [];
  const p = (msg) => problems.push(`${s.label}: ${msg}`);
  let expected = oracle.slice(0, s.k);
  if (s.threshold != null) expected = expected.filter((o) => scoreOf(s.metric, o.distance) >= s.threshold);
  const distOf = new Map(oracle.map((o) => [o.i, o.distance]));
  const hits = s.hits;
  if (!Array.isArray(hits)) return { problems: [`${s.label}: hits is not an array`], recall: 0 };
  if (hits.length !== expected.length) p(`got ${hits.length} hits, expected ${expected.length}`);
  const seen = new Set();
  for (let r = 0; r < hits.length; r++) {
    const h = hits[r];
    const i = indexOfId(h.id);
    if (seen.has(i)) p(`rank ${r}: duplicate id ${h.id}`);
    seen.add(i);
    if (!distOf.has(i)) { p(`rank ${r}: id ${JSON.stringify(h.id)} is not a candidate (unknown id or fails the filter)`); continue; }
    const d = distOf.get(i);
    if (!(Math.abs(h.distance - d) <= tolFor(d))) p(`rank ${r}: id ${h.id} distance ${h.distance}, true ${d}`);
    const sc = scoreOf(s.metric, d);
    if (!(Math.abs(h.score - sc) <= tolFor(sc))) p(`rank ${r}: id ${h.id} score ${h.score}, expected ${sc}`);
    if (r > 0 && h.distance < hits[r - 1].distance - tolFor(h.distance)) p(`rank ${r}: not sorted best first`);
    if (s.threshold != null && !(h.score >= s.threshold)) p(`rank ${r}: score ${h.score} below threshold ${s.threshold}`);
    if (s.includeMetadata !== false) {
      const md = { ...(h.metadata ?? {}) };
      delete md.$id;
      if (!h.metadata || !sameJson(md, makeMetadata(i))) {
        p(`rank ${r}: metadata ${JSON.stringify(h.metadata)} != ${JSON.stringify(makeMetadata(i))}`);
      }
    }
    if (s.mode === 'exact' && r < expected.length && i !== expected[r].i) {
      // A different id at this rank is only acceptable for a genuine tie in true distance.
      if (!(Math.abs(d - expected[r].distance) <= tolFor(d))) {
        p(`rank ${r}: got id ${h.id} (true distance ${d}), brute force has ${expected[r].i} (${expected[r].distance})`);
      }
    }
  }
  const want = new Set(expected.map((o) => o.i));
  let inter = 0;
  for (const i of seen) if (want.has(i)) inter++;
  const recall = expected.length ? inter / expected.length : 1;
  if (s.mode === 'recall' && recall < recallFloor) p(`recall@${s.k} ${recall} below ${recallFloor}`);
  return { problems, recall };
}

/**
 * Judge a whole run produced by check.js runCheck(), recomputing everything from its params.
 * @returns {{problems: string[], searches: number, minRecall: number}}
 */
export function verifyRun(run) {
  const problems = [];
  const { n, dim, seed, nQueries } = run.params;
  const vectors = makeVectors(n, dim, seed);
  const queries = makeQueries(run.params);
  let minRecall = 1;
  const oracleCache = new Map();
  for (const s of run.searches) {
    const key = `${s.metric}|${s.query}|${s.filter}`;
    if (!oracleCache.has(key)) {
      oracleCache.set(key, bruteForce(s.metric, vectors, queries[s.query], filterByName(s.filter).pred));
    }
    const r = compareTopK(s, oracleCache.get(key), { recallFloor: s.recallFloor ?? 0.9 });
    problems.push(...r.problems);
    if (s.mode === 'recall') minRecall = Math.min(minRecall, r.recall);
  }
  if (run.searches.length < nQueries) problems.push(`only ${run.searches.length} searches ran`);
  for (const g of run.gets ?? []) {
    const i = indexOfId(g.id);
    const want = Array.from(vectors[i]);
    if (!g.found) { problems.push(`get(${g.id}) returned null`); continue; }
    if (g.vector.length !== dim || g.vector.some((x, j) => x !== want[j])) problems.push(`get(${g.id}) vector differs from the inserted one`);
    const md = { ...g.metadata };
    delete md.$id;
    if (!sameJson(md, makeMetadata(i))) problems.push(`get(${g.id}) metadata ${JSON.stringify(g.metadata)}`);
  }
  for (const v of run.withVectors ?? []) {
    for (const h of v.hits) {
      const want = Array.from(vectors[indexOfId(h.id)]);
      if (!Array.isArray(h.vector) || h.vector.length !== dim || h.vector.some((x, j) => x !== want[j])) {
        problems.push(`includeVectors: hit ${h.id} vector differs from the inserted one`);
      }
    }
  }
  return { problems, searches: run.searches.length, minRecall };
}

/** The VecliteError cases runErrorChecks() performs, with the code each must produce. */
export const ERROR_CASES = [
  ['createCollection dimension 0', 'EINVAL'],
  ['createCollection dimension 65536', 'EINVAL'],
  ['insert wrong dimension', 'EINVAL'],
  ['insert NaN component', 'EINVAL'],
  ['insert empty string id', 'EINVAL'],
  ['search with unknown filter operator', 'EINVAL'],
  ['update with a bad patch', 'EINVAL'],
  ['createDatabase backend "nope"', 'EBACKEND'],
  ['collection.count() after db.close()', 'ECLOSED'],
];

/**
 * Judge the records of runErrorChecks().
 * @returns {string[]} problems
 */
export function verifyErrors(rec) {
  const problems = [];
  for (const [what, code] of ERROR_CASES) {
    const r = rec.cases.find((c) => c.what === what);
    if (!r) { problems.push(`${what}: not run`); continue; }
    if (r.resolved) { problems.push(`${what}: resolved (${r.value}) instead of rejecting with ${code}`); continue; }
    if (r.name !== 'VecliteError') problems.push(`${what}: err.name ${JSON.stringify(r.name)} (${r.message})`);
    if (!r.isVecliteError) problems.push(`${what}: not an instance of the exported VecliteError`);
    if (!r.isError) problems.push(`${what}: not an instance of Error`);
    if (r.code !== code) problems.push(`${what}: code ${JSON.stringify(r.code)}, expected ${code} (${r.message})`);
    if (typeof r.message !== 'string' || r.message.length < 8) problems.push(`${what}: message ${JSON.stringify(r.message)} says nothing`);
  }
  if (rec.updateMissing !== false) problems.push(`update of a missing id resolved ${rec.updateMissing}, expected false`);
  if (rec.countAfterBadInserts !== rec.countBefore) {
    problems.push(`bad inserts changed the collection: count ${rec.countBefore} -> ${rec.countAfterBadInserts}`);
  }
  return problems;
}
