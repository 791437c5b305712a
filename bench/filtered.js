// FILTERED section of the benchmark: filtered k-NN on the SIGMOD 2024 contest's filtered set
// (docs/benchmarks.md target "recall@10 ≥ 0.95 at ≥ 50% of unfiltered QPS").
//
// The base (10,000 × 100, with a category C and a timestamp T per vector) is inserted into veclite
// (SIMD and scalar builds; euclidean, M=16, efConstruction=200) with metadata { C, T }; each query
// becomes a veclite filter: type 1 { C: v }, type 2 { T: { $range: [l, r] } }, type 3 both, type 0
// none (the unfiltered reference, same collection). hnswlib-node, when it loads, is a peer for
// types 0 and 1 through its searchKnn(query, k, filterFn) callback.
//
// Invariants:
// - Ground truth is computed here by exact filtered brute force (float64 over the float32
//   values); the contest's dummy-filtered-groundtruth.bin is only compared against (it pads
//   queries with few matches with non-matching ids), never used for recall.
// - recall@10 of a query = returned ids that satisfy the filter and lie within the exact
//   min(10, matches)-th filtered distance (ties count) / min(10, matches); queries with no match
//   at all are left out of the mean (and any id returned for them is counted as a violation).
// - The verdict ratio, per engine and filter type t, is
//     QPS(type t, at the smallest ef whose recall@10 ≥ 0.95 on type t)
//   / QPS(type 0, at the smallest ef whose recall@10 ≥ 0.95 on type 0), same engine, same run;
//   MET when both exist and the ratio ≥ 0.5. Printed, never asserted.
// - Query types absent from the contest file (2 and 3) are DERIVED (real vectors and attributes,
//   generated filter windows); without the data files everything is SYNTHETIC. Both are labelled.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { hasFilteredDir, loadFilteredDir, generateFiltered } from './datasets.js';
import { resultPass, timeQueries, timeIt, fullGc } from './measure.js';
import { K, EFS, M, EF_CONSTRUCTION, EngineUnavailable } from './peers.js';

export const TYPES = [0, 1, 2, 3];
export const FILTER_RECALL = 0.95;
export const FILTER_QPS_SHARE = 0.5;
export const TYPE_NAMES = { 0: 'unfiltered', 1: 'C == v', 2: 'l ≤ T ≤ r', 3: 'C == v and l ≤ T ≤ r' };
const QUICK_PER_TYPE = 200;

// ---- ground truth --------------------------------------------------------------------------

const matches = (ds, qi, i) => {
  const Q = ds.queries, t = Q.type[qi];
  if ((t & 1) && ds.cat[i] !== Q.v[qi]) return false;
  if ((t & 2) && !(ds.ts[i] >= Q.l[qi] && ds.ts[i] <= Q.r[qi])) return false;
  return true;
};

function sqDist(ds, qi, i) {
  const dim = ds.dim, b = ds.base, q = ds.queries.vecs, bo = i * dim, qo = qi * dim;
  let d = 0;
  for (let j = 0; j < dim; j++) { const x = b[bo + j] - q[qo + j]; d += x * x; }
  return d;
}

/**
 * Exact filtered top-K per used query: { matches, ids (K, -1 padded), thr (squared distance of
 * the min(K, matches)-th match) }.
 */
function exactFiltered(ds, used) {
  const out = new Map();
  const ids = new Int32Array(K), dd = new Float64Array(K);
  for (const qi of used) {
    ids.fill(-1); dd.fill(Infinity);
    let m = 0;
    for (let i = 0; i < ds.n; i++) {
      if (!matches(ds, qi, i)) continue;
      m++;
      const d = sqDist(ds, qi, i);
      if (d < dd[K - 1]) {                     // rows ascend, so ties keep the lower id
        let p = K - 1;
        while (p > 0 && (dd[p - 1] > d)) { dd[p] = dd[p - 1]; ids[p] = ids[p - 1]; p--; }
        dd[p] = d; ids[p] = i;
      }
    }
    const want = Math.min(K, m);
    out.set(qi, { matches: m, ids: Int32Array.from(ids), thr: want ? dd[want - 1] : -1 });
  }
  return out;
}

/** Is id a correct member of qi's top-K (matches the filter, within the exact K-th distance)? */
function correct(ds, g, qi, id) {
  if (!(id >= 0 && id < ds.n) || !matches(ds, qi, id)) return false;
  return sqDist(ds, qi, id) <= g.thr + 1e-9 * Math.max(1, g.thr);
}

/** Mean recall@K, violations (returned ids failing the filter) and short answers. */
function scoreResults(ds, gt, qis, results) {
  let sum = 0, counted = 0, violations = 0, short = 0;
  for (let j = 0; j < qis.length; j++) {
    const qi = qis[j], g = gt.get(qi), want = Math.min(K, g.matches);
    const seen = new Set();
    let good = 0;
    for (const raw of results[j]) {
      const id = Number(raw);
      if (seen.has(id)) continue;
      seen.add(id);
      if (!(id >= 0 && id < ds.n) || !matches(ds, qi, id)) { violations++; continue; }
      if (correct(ds, g, qi, id)) good++;
    }
    if (seen.size < want) short++;
    if (want === 0) continue;
    sum += Math.min(good, want) / want; counted++;
  }
  return { recall: counted ? sum / counted : null, violations, short, counted };
}

/** How the contest's own filtered ground truth compares with the exact one (top-10 only). */
function checkContestGt(ds, gt, used) {
  const c = ds.contestGt;
  if (!c) return null;
  let rows = 0, padded = 0, disagree = 0, under10 = 0, under100 = 0;
  for (const qi of used) {
    const fr = ds.fileRows[qi];
    if (fr < 0) continue;
    rows++;
    const g = gt.get(qi), want = Math.min(K, g.matches);
    if (g.matches < K) under10++;
    if (g.matches < c.k) under100++;
    const top = Array.from(c.ids.subarray(fr * c.k, fr * c.k + K));
    if (top.some((id) => !(id >= 0 && id < ds.n) || !matches(ds, qi, id))) padded++;
    const ok = top.slice(0, want).filter((id) => correct(ds, g, qi, id)).length;
    if (ok < want || top.slice(0, want).length < want) disagree++;
  }
  return { rows, padded, disagree, under10, under100, note: 'top-10 of each dummy-filtered-groundtruth.bin row vs exact filtered brute force (ties tolerated); padded = that top-10 holds an id failing the query\'s filter' };
}

// ---- engines -------------------------------------------------------------------------------

const toFilter = (Q, qi) => {
  const t = Q.type[qi];
  if (t === 0) return undefined;
  if (t === 1) return { C: Q.v[qi] };
  if (t === 2) return { T: { $range: [Q.l[qi], Q.r[qi]] } };
  return { C: Q.v[qi], T: { $range: [Q.l[qi], Q.r[qi]] } };
};

async function vecliteFiltered(repoRoot, simd) {
  const pkgDir = simd ? 'pkg-simd' : 'pkg';
  const need = ['web/index.js', `${pkgDir}/veclite.mjs`, `${pkgDir}/veclite.wasm`];
  const missing = need.filter((f) => !fs.existsSync(path.join(repoRoot, f)));
  if (missing.length) throw new EngineUnavailable(`missing ${missing.join(', ')} (run \`make build\`)`);
  const api = await import(pathToFileURL(path.join(repoRoot, 'web', 'index.js')).href);
  return {
    key: simd ? 'veclite-simd' : 'veclite-scalar',
    label: simd ? 'veclite SIMD' : 'veclite scalar',
    async: true,
    types: TYPES,
    info: {},
    async build(ds) {
      this.db = await api.createDatabase({ simd });
      this.info.implementation = api.getImplementation().build;
      const want = simd ? 'wasm-simd' : 'wasm';
      if (this.info.implementation !== want) this.info.warning = `getImplementation() is '${this.info.implementation}', expected '${want}'`;
      this.col = await this.db.createCollection('filtered', {
        dimension: ds.dim, metric: 'euclidean', index: { type: 'hnsw', m: M, efConstruction: EF_CONSTRUCTION },
      });
      const items = new Array(ds.n);
      for (let i = 0; i < ds.n; i++) items[i] = { id: i, vector: ds.base.subarray(i * ds.dim, (i + 1) * ds.dim), metadata: { C: ds.cat[i], T: ds.ts[i] } };
      this.ds = ds;
      const t = await timeIt(() => this.col.insertBatch(items));
      if (t.value !== undefined && t.value !== ds.n) throw new Error(`insertBatch returned ${t.value}, expected ${ds.n}`);
      return t;
    },
    /** Points the engine at a query list (row indices into ds.queries) at one ef. */
    setPoint(qis, ef) {
      const Q = this.ds.queries, dim = this.ds.dim;
      this.cur = qis.map((qi) => ({ vec: Q.vecs.subarray(qi * dim, (qi + 1) * dim), opts: { k: K, ef, filter: toFilter(Q, qi), includeMetadata: false } }));
    },
    search(i) { const c = this.cur[i]; return this.col.search(c.vec, c.opts); },
    ids(hits) { return hits.map((h) => h.id); },
    async close() { if (this.db) { const d = this.db; this.db = this.col = null; await d.close(); } },
  };
}

async function hnswlibNodeFiltered(repoRoot) {
  const require = createRequire(path.join(repoRoot, 'package.json'));
  let lib, version;
  try {
    lib = require('hnswlib-node');
    version = require('hnswlib-node/package.json').version;
  } catch (e) {
    throw new EngineUnavailable(`require('hnswlib-node') failed: ${String(e.message).split('\n')[0]} (try \`npm rebuild hnswlib-node\`)`);
  }
  return {
    key: 'hnswlib-node',
    label: `hnswlib-node ${version} (filter callback)`,
    async: false,
    types: [0, 1],
    info: { filter: 'searchKnn(query, 10, (label) => C[label] === v): a JS callback per visited node' },
    async build(ds) {
      this.ds = ds;
      this.index = new lib.HierarchicalNSW('l2', ds.dim);
      this.index.initIndex(ds.n, M, EF_CONSTRUCTION, 100);
      const rows = new Array(ds.n);
      for (let i = 0; i < ds.n; i++) rows[i] = Array.from(ds.base.subarray(i * ds.dim, (i + 1) * ds.dim));
      this.qArr = new Map();
      return timeIt(async () => { for (let i = 0; i < ds.n; i++) this.index.addPoint(rows[i], i); });
    },
    setPoint(qis, ef) {
      const Q = this.ds.queries, dim = this.ds.dim, cat = this.ds.cat;
      this.index.setEf(ef);
      this.cur = qis.map((qi) => {
        let q = this.qArr.get(qi);
        if (!q) { q = Array.from(Q.vecs.subarray(qi * dim, (qi + 1) * dim)); this.qArr.set(qi, q); }
        const v = Q.v[qi];
        return { q, f: Q.type[qi] === 1 ? (label) => cat[label] === v : undefined };
      });
    },
    search(i) { const c = this.cur[i]; return c.f ? this.index.searchKnn(c.q, K, c.f) : this.index.searchKnn(c.q, K); },
    ids(r) { return r.neighbors; },
    async close() { this.index = null; },
  };
}

const FACTORIES = {
  'veclite-simd': (root) => vecliteFiltered(root, true),
  'veclite-scalar': (root) => vecliteFiltered(root, false),
  'hnswlib-node': (root) => hnswlibNodeFiltered(root),
};

// ---- section ---------------------------------------------------------------------------------

function pickDataset(repoRoot, dir, quick) {
  const def = path.resolve(repoRoot, '..', 'shared', 'data', 'sigmod24-yfcc-clip100');
  if (dir) {
    if (!hasFilteredDir(dir)) throw new Error(`--filtered-data ${dir}: needs dummy-data.bin and dummy-filtered-queries.bin`);
    return { ds: loadFilteredDir(dir, { derivedPerType: quick ? QUICK_PER_TYPE : 500 }), note: '--filtered-data' };
  }
  if (hasFilteredDir(def)) return { ds: loadFilteredDir(def, { derivedPerType: quick ? QUICK_PER_TYPE : 500 }), note: 'default' };
  return { ds: generateFiltered({ perType: quick ? QUICK_PER_TYPE : 500 }), note: `${def}/dummy-*.bin not found; generated SYNTHETIC data instead` };
}

/** Up to cap query rows of a type, evenly strided over the file order. */
function pickQueries(ds, type, cap) {
  const all = [];
  for (let i = 0; i < ds.queries.count; i++) if (ds.queries.type[i] === type) all.push(i);
  if (all.length <= cap) return all;
  const out = [];
  for (let j = 0; j < cap; j++) out.push(all[Math.floor((j * all.length) / cap)]);
  return out;
}

function selectivity(gt, qis, n) {
  const m = qis.map((qi) => gt.get(qi).matches).sort((a, b) => a - b);
  if (!m.length) return null;
  return {
    min: m[0], median: m[m.length >> 1], max: m[m.length - 1],
    medianShare: m[m.length >> 1] / n,
    underK: m.filter((x) => x < K).length, none: m.filter((x) => x === 0).length,
  };
}

const errText = (e) => (e && typeof e === 'object' ? `${e.name || 'Error'}${e.code ? ` [${e.code}]` : ''}: ${e.message}` : String(e));

/**
 * Runs the FILTERED section.
 * @param {{ repoRoot: string, quick: boolean, engines: string[], minMs: number, rounds: number,
 *   dataDir?: string|null, log: (...m: string[]) => void }} cfg
 */
export async function runFiltered({ repoRoot, quick, engines: wanted, minMs, rounds, dataDir, log }) {
  const t0 = performance.now();
  const { ds, note } = pickDataset(repoRoot, dataDir, quick);
  const cap = quick ? QUICK_PER_TYPE : Infinity;
  const used = {};
  for (const t of TYPES) used[t] = pickQueries(ds, t, cap);
  const present = TYPES.filter((t) => used[t].length);
  log(`filtered: ${ds.name} (${ds.synthetic ? 'SYNTHETIC' : 'real data'}), ${ds.n} × ${ds.dim}; queries used per type ${present.map((t) => `${t}:${used[t].length}`).join(' ')}; exact filtered ground truth ...`);
  const tg = performance.now();
  const gt = exactFiltered(ds, present.flatMap((t) => used[t]));
  const gtSeconds = (performance.now() - tg) / 1000;
  const contest = checkContestGt(ds, gt, present.flatMap((t) => used[t]));
  const dataset = {
    name: ds.name, source: ds.source, synthetic: ds.synthetic, selectedBy: note, n: ds.n, dim: ds.dim,
    typeOrigin: ds.typeOrigin, queriesUsed: Object.fromEntries(present.map((t) => [t, used[t].length])),
    queriesInFile: Object.fromEntries(TYPES.map((t) => [t, ds.fileRows.filter((fr, qi) => fr >= 0 && ds.queries.type[qi] === t).length])),
    selectivity: Object.fromEntries(present.map((t) => [t, selectivity(gt, used[t], ds.n)])),
    groundTruth: { method: 'exact filtered brute force, float64 squared L2 over the float32 values, computed in this run', seconds: gtSeconds },
    contestGroundTruth: contest,
  };

  const keys = ['veclite-simd', 'veclite-scalar', 'hnswlib-node'].filter((k) => wanted.includes(k));
  const recs = [], live = [];
  for (const key of keys) {
    const rec = { key, available: false };
    recs.push(rec);
    let eng;
    try { eng = await FACTORIES[key](repoRoot); } catch (e) {
      if (e instanceof EngineUnavailable) { rec.reason = e.message; log(`  filtered ${key}: unavailable — ${e.message}`); continue; }
      rec.error = `load: ${errText(e)}`; log(`  filtered ${key}: FAILED — ${rec.error}`); continue;
    }
    Object.assign(rec, { available: true, label: eng.label, info: eng.info, types: {} });
    let phase = 'build';
    try {
      const b = await eng.build(ds);
      rec.build = { ms: b.ms, insertsPerSec: ds.n / (b.ms / 1000) };
      log(`  filtered ${key}: build ${(b.ms / 1000).toFixed(2)} s (with metadata)`);
      for (const t of eng.types) {
        if (!used[t].length) continue;
        const tr = rec.types[t] = { curve: [] };
        for (const ef of EFS) {
          phase = `recall type ${t} ef=${ef}`;
          eng.setPoint(used[t], ef);
          const s = scoreResults(ds, gt, used[t], await resultPass(eng, used[t].length));
          tr.curve.push({ ef, recall: s.recall, violations: s.violations, short: s.short, qps: null, cpuQps: null, rounds: [] });
          log(`  filtered ${key}: type ${t} ef=${ef} recall@10 ${s.recall == null ? '—' : s.recall.toFixed(4)}${s.violations ? ` VIOLATIONS ${s.violations}` : ''}`);
        }
      }
      live.push({ rec, eng });
    } catch (e) {
      rec.error = `${phase}: ${errText(e)}`;
      log(`  filtered ${key}: FAILED in ${rec.error}`);
      try { await eng.close(); } catch { /* already reported */ }
    }
  }

  for (let r = 0; r < rounds; r++) {
    log(`filtered: timing round ${r + 1}/${rounds} ...`);
    for (const ef of EFS) {
      for (const t of present) {
        for (const { rec, eng } of live) {
          if (rec.error || !rec.types[t]) continue;
          try {
            eng.setPoint(used[t], ef);
            await resultPass(eng, Math.min(used[t].length, 200));
            const m = await timeQueries(eng, used[t].length, minMs);
            const pt = rec.types[t].curve.find((p) => p.ef === ef);
            pt.rounds.push(m);
            pt.qps = Math.max(...pt.rounds.map((x) => x.qps));
            pt.cpuQps = m.cpuQps == null ? null : Math.max(...pt.rounds.map((x) => x.cpuQps));
            pt.maxWaitFraction = m.waitFraction == null ? null : Math.max(...pt.rounds.map((x) => x.waitFraction));
          } catch (e) {
            rec.error = `search type ${t} ef=${ef}: ${errText(e)}`;
            log(`  filtered ${rec.key}: FAILED in ${rec.error}`);
          }
        }
      }
    }
  }
  for (const { rec, eng } of live) {
    try { await eng.close(); } catch (e) { if (!rec.error) rec.closeError = errText(e); }
  }
  fullGc();

  for (const rec of recs) {
    if (!rec.types) continue;
    for (const tr of Object.values(rec.types)) {
      const hit = tr.curve.find((p) => p.recall != null && p.recall >= FILTER_RECALL && p.qps != null);
      tr.at095 = hit ? { ef: hit.ef, qps: hit.qps, cpuQps: hit.cpuQps, recall: hit.recall } : null;
    }
    const ref = rec.types[0]?.at095;
    rec.ratios = {};
    for (const t of [1, 2, 3]) {
      const f = rec.types[t];
      if (!f) continue;
      rec.ratios[t] = !ref || !f.at095
        ? { value: null, cpuValue: null, missing: !f.at095 ? `type ${t} never reached recall@10 ≥ ${FILTER_RECALL} (ef ≤ ${EFS[EFS.length - 1]})` : `type 0 never reached recall@10 ≥ ${FILTER_RECALL}` }
        : { value: f.at095.qps / ref.qps, cpuValue: f.at095.cpuQps != null && ref.cpuQps != null ? f.at095.cpuQps / ref.cpuQps : null, num: f.at095, den: ref };
    }
  }
  return {
    dataset, engines: recs, minSecondsPerPoint: minMs / 1000, rounds,
    ratioDefinition: `QPS(type t at its smallest ef with recall@10 ≥ ${FILTER_RECALL}) / QPS(type 0, unfiltered, same engine and collection, at ITS smallest ef with recall@10 ≥ ${FILTER_RECALL}); wall clock, best of rounds; target ≥ ${FILTER_QPS_SHARE}`,
    seconds: (performance.now() - t0) / 1000,
  };
}

