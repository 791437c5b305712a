// veclite benchmark harness (`make bench` → `node bench/bench.mjs`).
//
// One Node process measures, one after the other on the same data: veclite SIMD build, veclite
// scalar build, hnswlib-wasm, hnswlib-node (native) and an exact JS brute force. For each: build
// wall time and inserts/s (M=16, efConstruction=200; each index engine first builds and searches
// a 1,000-vector throwaway index in a separate instance as JIT warm-up), single-threaded QPS (k=10, queries cycled
// for ≥ 2 s after a warm-up pass) and recall@10 at ef ∈ {10, 50, 100, 200}, bytes per vector,
// and for veclite the .wasm size raw and gzip -9. Prints a table, ratios and a TARGETS section
// (BENCH.md), and writes bench/out/results.json.
//
// Invariants: targets are printed, never asserted. Exit code 0 unless something crashed (an
// engine that cannot be loaded is reported as unavailable, not a crash).
//
// usage: node bench/bench.mjs [--quick] [--data DIR] [--engines a,b,..] [--seconds S] [--out FILE]
//   --quick     smoke run: ≤ 200 queries, 0.3 s per timed point (CI)
//   --data DIR  any dir with base.fvecs, query.fvecs, groundtruth.ivecs (BENCH_DATA env also works)
//   --engines   subset of veclite-simd,veclite-scalar,hnswlib-wasm,hnswlib-node,js-brute

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { pickDataset } from './datasets.js';
import { memSnapshot, recallAtK, resultPass, timeQueries, timeIt, fullGc } from './measure.js';
import {
  K, M, EF_CONSTRUCTION, EngineUnavailable,
  vecliteEngine, hnswlibWasmEngine, hnswlibNodeEngine, bruteForceEngine, hnswlibWasmBinary,
} from './peers.js';
import { printReport, computeRatios, computeTargets, wasmSizes } from './report.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WARMUP_VECTORS = 1000;
const ENGINE_KEYS = ['veclite-simd', 'veclite-scalar', 'hnswlib-wasm', 'hnswlib-node', 'js-brute'];

function parseArgs(argv) {
  const a = { quick: false, data: null, engines: ENGINE_KEYS, seconds: null, out: path.join(repoRoot, 'bench', 'out', 'results.json') };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    const next = () => { if (i + 1 >= argv.length) throw new Error(`${v} needs a value`); return argv[++i]; };
    if (v === '--quick') a.quick = true;
    else if (v === '--data') a.data = path.resolve(next());
    else if (v === '--engines') a.engines = next().split(',').map((s) => s.trim()).filter(Boolean);
    else if (v === '--seconds') a.seconds = Number(next());
    else if (v === '--out') a.out = path.resolve(next());
    else if (v === '-h' || v === '--help') {
      console.log('usage: node bench/bench.mjs [--quick] [--data DIR] [--engines ' + ENGINE_KEYS.join(',') + '] [--seconds S] [--out FILE]');
      process.exit(0);
    } else throw new Error(`unknown argument ${v} (try --help)`);
  }
  for (const e of a.engines) if (!ENGINE_KEYS.includes(e)) throw new Error(`unknown engine ${e}; known: ${ENGINE_KEYS.join(', ')}`);
  if (a.seconds !== null && !(a.seconds > 0)) throw new Error('--seconds must be > 0');
  return a;
}

const log = (...m) => process.stderr.write(m.join(' ') + '\n');

const FACTORIES = {
  'veclite-simd': () => vecliteEngine({ repoRoot, simd: true }),
  'veclite-scalar': () => vecliteEngine({ repoRoot, simd: false }),
  'hnswlib-wasm': () => hnswlibWasmEngine({ repoRoot }),
  'hnswlib-node': () => hnswlibNodeEngine({ repoRoot }),
  'js-brute': () => bruteForceEngine(),
};

/** Measures one engine; never throws (failures land in the returned record). */
async function measureEngine(key, ds, cfg) {
  const rec = { key, available: false };
  let eng;
  try {
    eng = await FACTORIES[key]();
  } catch (e) {
    if (e instanceof EngineUnavailable) { rec.reason = e.message; log(`  ${key}: unavailable — ${e.message}`); return rec; }
    rec.error = errText(e); log(`  ${key}: FAILED to load — ${rec.error}`); return rec;
  }
  Object.assign(rec, { available: true, label: eng.label, runtime: eng.runtime, simd: eng.simd, info: eng.info });
  let phase = 'prepare';
  try {
    if (eng.warmup) {
      phase = 'warmup';
      const nWarm = Math.min(WARMUP_VECTORS, ds.n);
      const w = await timeIt(() => eng.warmup(ds, nWarm));
      rec.warmup = { vectors: nWarm, ms: w.ms };
      phase = 'prepare';
    }
    const snap0 = memSnapshot();
    await eng.prepare(ds);
    const snap1 = memSnapshot();
    phase = 'build';
    const { ms } = await timeIt(() => eng.insertAll());
    const snap2 = memSnapshot();
    rec.build = eng.key === 'js-brute'
      ? { ms, insertsPerSec: null, note: 'copy into one Float32Array; no index' }
      : { ms, insertsPerSec: ds.n / (ms / 1000) };
    log(`  ${key}: build ${(ms / 1000).toFixed(2)} s` + (rec.build.insertsPerSec ? ` (${fmtInt(rec.build.insertsPerSec)} inserts/s)` : ''));
    phase = 'memory';
    const mem = await eng.memory();
    rec.memory = {
      ...mem,
      rssDeltaBytes: snap2.rss - snap1.rss,
      rssDeltaPerVector: (snap2.rss - snap1.rss) / ds.n,
      rssDeltaNote: 'process RSS after build minus RSS after creating the empty index (both after full GC); inputs prepared before',
      prepareRssDeltaBytes: snap1.rss - snap0.rss,
      rssAfterBuild: snap2.rss,
    };
    rec.curve = [];
    for (const ef of eng.efs) {
      phase = `search ef=${ef ?? 'exact'}`;
      eng.setEf(ef);
      const results = await resultPass(eng, cfg.nq);          // recall over cfg.nq queries; also the warm-up
      const recall = recallAtK(results, ds.gt, ds.gtK, K);
      const t = await timeQueries(eng, cfg.nq, cfg.minMs);
      rec.curve.push({ ef, recall, qps: t.qps, timedQueries: t.queries, seconds: t.seconds });
      log(`  ${key}: ef=${ef ?? 'exact'} recall@10 ${recall.toFixed(4)}  ${fmtInt(t.qps)} QPS`);
    }
    const hit = rec.curve.find((p) => p.recall >= 0.99);
    rec.at099 = hit ? { ef: hit.ef, qps: hit.qps, recall: hit.recall } : null;
    if (eng.batchQps) {
      phase = 'searchBatch';
      const ef = hit ? hit.ef : 100;
      rec.batch = await eng.batchQps(cfg.nq, ef, cfg.minMs, () => performance.now());
      log(`  ${key}: searchBatch ef=${ef} ${fmtInt(rec.batch.qps)} QPS`);
    }
    if (eng.wasmFile) rec.wasm = wasmSizes(fs.readFileSync(eng.wasmFile), path.relative(repoRoot, eng.wasmFile));
  } catch (e) {
    rec.error = `${phase}: ${errText(e)}`;
    log(`  ${key}: FAILED in ${rec.error}`);
  } finally {
    try { await eng.close(); } catch (e) { if (!rec.error) rec.closeError = errText(e); }
    eng = null;
    fullGc();
  }
  return rec;
}

function errText(e) {
  if (e && typeof e === 'object') return `${e.name || 'Error'}${e.code ? ` [${e.code}]` : ''}: ${e.message}` + (e.stack ? `\n${e.stack.split('\n').slice(1, 4).join('\n')}` : '');
  return String(e);
}
const fmtInt = (x) => Math.round(x).toLocaleString('en-US');

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const tLoad = performance.now();
  const { ds, note } = pickDataset({ repoRoot, dataDir: args.data, quick: args.quick });
  const nq = args.quick ? Math.min(200, ds.nq) : ds.nq;
  const minMs = (args.seconds ?? (args.quick ? 0.3 : 2)) * 1000;
  const cfg = { nq, minMs };
  const run = {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.arch()}`,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    quick: args.quick,
    k: K, m: M, efConstruction: EF_CONSTRUCTION,
    queriesUsed: nq,
    minSecondsPerPoint: minMs / 1000,
    warmupVectors: WARMUP_VECTORS,
    method: 'index engines first build+search a throwaway index of the first warmupVectors base rows in a separate instance (JIT/tier-up warm-up, kept alive so its code and memory stay out of the RSS delta); build = one timed insertBatch / addPoint loop of the whole base; search: single-threaded, one search per call via each public API, queries cycled in order after a full recall pass at the same ef',
  };
  const dataset = {
    name: ds.name, source: ds.source, synthetic: ds.synthetic, selectedBy: note,
    n: ds.n, dim: ds.dim, queries: ds.nq, gtK: ds.gtK, metric: ds.metric,
    loadSeconds: (performance.now() - tLoad) / 1000,
  };
  log(`veclite bench: ${ds.name} (${ds.synthetic ? 'SYNTHETIC' : 'real data'}), ${ds.n} × ${ds.dim}, ${nq} of ${ds.nq} queries, ≥ ${minMs / 1000} s per point${args.quick ? ' [--quick]' : ''}`);

  const engines = [];
  for (const key of args.engines) {
    log(`measuring ${key} ...`);
    engines.push(await measureEngine(key, ds, cfg));
  }
  const hw = hnswlibWasmBinary(repoRoot);
  const peerSizes = hw ? { 'hnswlib-wasm': wasmSizes(hw, 'embedded base64 in node_modules/hnswlib-wasm/dist') } : {};

  const ratios = computeRatios(engines);
  const targets = computeTargets(engines, ratios, ds);
  const results = { run, dataset, engines, peerWasmSizes: peerSizes, ratios, targets };
  printReport(results);

  fs.mkdirSync(path.dirname(args.out), { recursive: true });
  fs.writeFileSync(args.out, JSON.stringify(results, null, 2) + '\n');
  console.log(`\nresults written to ${path.relative(process.cwd(), args.out) || args.out}`);

  const crashed = engines.filter((e) => e.error);
  if (crashed.length) {
    console.log(`\nCRASHED: ${crashed.map((e) => `${e.key} (${e.error.split('\n')[0]})`).join('; ')}`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(`bench: ${errText(e)}`);
  process.exitCode = 1;
});
