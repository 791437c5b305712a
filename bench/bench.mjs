// veclite benchmark harness (`make bench` → `node bench/bench.mjs`).
//
// One Node process measures, on the same data: veclite SIMD build, veclite scalar build,
// hnswlib-wasm, hnswlib-node (native) and an exact JS brute force. Phase 1, engine after engine:
// a 1,000-vector throwaway build in a separate instance (JIT warm-up), the timed build of the
// whole base (M=16, efConstruction=200; wall time, inserts/s), memory (engine accounting and RSS
// delta) and recall@10 at ef ∈ {10, 50, 100, 200}. Phase 2: single-threaded QPS (k=10, one
// public-API search per query, queries cycled for ≥ 2 s after a warm-up), in 3 rounds
// interleaved across engines so load from other processes hits all alike; best round reported.
// Also the .wasm size raw and gzip -9 of each veclite build. That is the CORE section; FILTERED
// (bench/filtered.js: the SIGMOD 2024 filtered set, exact filtered ground truth) and STORAGE
// (bench/storage.js: durable commits, file size, reopen of a 100K store, RSS of a bulk build; only when web/index.js
// exports openCollection), WRITER (bench/writer.js: restart after SIGKILL, the per-write check, salvage)
// WORKERS (bench/workers.js: searchBatch over worker sessions vs in-thread, the worker hop per
// call, replica lag) and BROWSER (bench/browser.js: headless Chromium, OPFS / IndexedDB ingest and
// reopen-to-first-query against page memory, the bytes' read time and Node files) follow. Prints tables, ratios and a TARGETS section (docs/benchmarks.md), and
// writes bench/out/results.json.
//
// Invariants: targets are printed, never asserted. Exit code 0 unless something crashed (an
// engine that cannot be loaded is reported as unavailable, not a crash).
//
// usage: node bench/bench.mjs [--quick] [--sections core,filtered,quant,text,storage,writer,mcp,workers,browser,toolbox] [--data DIR]
//                             [--filtered-data DIR] [--storage-data DIR] [--engines a,b,..]
//                             [--seconds S] [--rounds R] [--out FILE]
//   --quick     smoke run: ≤ 200 queries (per type in FILTERED), 1 round, 0.3 s per timed point,
//               a 20,000-vector store and smaller commit runs in STORAGE (CI); BROWSER: 2,000-row
//               ingest, 20,000-row store, 1 round, 2 reopens
//   --sections  which sections to run, in this order (default all ten; MCP: tools/call query
//               round trips to `veclite mcp`, bench/mcp.js; QUANT: quantization none/scalar/product on the CORE dataset, bench/quant.js;
//               TEXT: keyword, hybrid and MMR search, bench/text.js;
//               TOOLBOX: similarityMatrix and kmeans, SIMD vs scalar build vs a plain JS loop, bench/toolbox.js; BROWSER needs
//               /usr/bin/chromium and playwright-core)
//   --seconds   minimum seconds per timed point (default 2)
//   --rounds    timed rounds, interleaved across engines; best of rounds is reported (default 3;
//               FILTERED defaults to 2: it has 40 timed points; WORKERS interleaves its configurations)
//   --data DIR  CORE: any dir with base.fvecs, query.fvecs, groundtruth.ivecs (BENCH_DATA env also
//               works); STORAGE also takes its base.fvecs from it unless --storage-data is given
//   --filtered-data DIR  FILTERED and WORKERS: dir with dummy-data.bin, dummy-filtered-queries.bin
//               (default: ../shared/data/sigmod24-yfcc-clip100 beside the repository, an optional
//               local copy of the dataset, when present; else SYNTHETIC data is generated)
//   --storage-data DIR   STORAGE: any dir with base.fvecs;
//               default: a generated SYNTHETIC 100,000 × 128 clustered set
//   --engines   subset of veclite-simd,veclite-scalar,hnswlib-wasm,hnswlib-node,js-brute
//               (FILTERED uses the veclite ones and hnswlib-node among them)

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
import { runFiltered } from './filtered.js';
import { runStorage } from './storage.js';
import { runWriter } from './writer.js';
import { runMcp } from './mcp.js';
import { runWorkers } from './workers.js';
import { runBrowser } from './browser.js';
import { runQuant, printQuant } from './quant.js';
import { runToolbox, printToolbox } from './toolbox.js';
import { runText, printText } from './text.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WARMUP_VECTORS = 1000;
const ENGINE_KEYS = ['veclite-simd', 'veclite-scalar', 'hnswlib-wasm', 'hnswlib-node', 'js-brute'];
const SECTIONS = ['core', 'filtered', 'quant', 'text', 'storage', 'writer', 'mcp', 'workers', 'browser', 'toolbox'];

function parseArgs(argv) {
  const a = { quick: false, data: null, filteredData: null, storageData: null, sections: SECTIONS, engines: ENGINE_KEYS, seconds: null, rounds: null, out: path.join(repoRoot, 'bench', 'out', 'results.json') };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i];
    const next = () => { if (i + 1 >= argv.length) throw new Error(`${v} needs a value`); return argv[++i]; };
    if (v === '--quick') a.quick = true;
    else if (v === '--data') a.data = path.resolve(next());
    else if (v === '--filtered-data') a.filteredData = path.resolve(next());
    else if (v === '--storage-data') a.storageData = path.resolve(next());
    else if (v === '--sections') a.sections = next().split(',').map((s) => s.trim()).filter(Boolean);
    else if (v === '--engines') a.engines = next().split(',').map((s) => s.trim()).filter(Boolean);
    else if (v === '--seconds') a.seconds = Number(next());
    else if (v === '--rounds') a.rounds = Number(next());
    else if (v === '--out') a.out = path.resolve(next());
    else if (v === '-h' || v === '--help') {
      console.log('usage: node bench/bench.mjs [--quick] [--sections ' + SECTIONS.join(',') + '] [--data DIR] [--filtered-data DIR] [--storage-data DIR]\n'
        + '                          [--engines ' + ENGINE_KEYS.join(',') + '] [--seconds S] [--rounds R] [--out FILE]');
      process.exit(0);
    } else throw new Error(`unknown argument ${v} (try --help)`);
  }
  for (const x of a.sections) if (!SECTIONS.includes(x)) throw new Error(`unknown section ${x}; known: ${SECTIONS.join(', ')}`);
  if (!a.sections.length) throw new Error('--sections needs at least one section');
  a.sections = SECTIONS.filter((x) => a.sections.includes(x));
  for (const e of a.engines) if (!ENGINE_KEYS.includes(e)) throw new Error(`unknown engine ${e}; known: ${ENGINE_KEYS.join(', ')}`);
  if (a.seconds !== null && !(a.seconds > 0)) throw new Error('--seconds must be > 0');
  if (a.rounds !== null && !(Number.isInteger(a.rounds) && a.rounds >= 1)) throw new Error('--rounds must be an integer ≥ 1');
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

/**
 * Phase 1 for one engine: load, warm up, build (timed), memory, recall curve. Leaves the engine
 * open for the timed rounds. Never throws: failures land in the returned record.
 * @returns {Promise<{ rec: object, eng: object | null }>}
 */
async function buildEngine(key, ds, cfg) {
  const rec = { key, available: false };
  let eng;
  try {
    eng = await FACTORIES[key]();
  } catch (e) {
    if (e instanceof EngineUnavailable) { rec.reason = e.message; log(`  ${key}: unavailable — ${e.message}`); return { rec, eng: null }; }
    rec.error = `load: ${errText(e)}`; log(`  ${key}: FAILED to load — ${rec.error}`); return { rec, eng: null };
  }
  Object.assign(rec, { available: true, label: eng.label, runtime: eng.runtime, simd: eng.simd, info: eng.info });
  // Size of the .wasm as loaded for this measurement (read now, not after a possible rebuild).
  if (eng.wasmFile) rec.wasm = wasmSizes(fs.readFileSync(eng.wasmFile), path.relative(repoRoot, eng.wasmFile));
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
    const { ms, cpuSeconds, waitFraction } = await timeIt(() => eng.insertAll());
    const snap2 = memSnapshot();
    rec.build = eng.key === 'js-brute'
      ? { ms, insertsPerSec: null, cpuSeconds, waitFraction, note: 'copy into one Float32Array; no index' }
      : { ms, insertsPerSec: ds.n / (ms / 1000), cpuSeconds, cpuInsertsPerSec: cpuSeconds ? ds.n / cpuSeconds : null, waitFraction };
    log(`  ${key}: build ${(ms / 1000).toFixed(2)} s` + (rec.build.insertsPerSec ? ` (${fmtInt(rec.build.insertsPerSec)} inserts/s)` : '')
      + (waitFraction != null ? `, run-queue wait ${(100 * waitFraction).toFixed(0)}%` : ''));
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
    eng.dropInputs?.();
    rec.curve = [];
    for (const ef of eng.efs) {
      phase = `recall ef=${ef ?? 'exact'}`;
      eng.setEf(ef);
      const results = await resultPass(eng, cfg.nq);
      const recall = recallAtK(results, ds.gt, ds.gtK, K);
      rec.curve.push({ ef, recall, qps: null, cpuQps: null, rounds: [] });
      log(`  ${key}: ef=${ef ?? 'exact'} recall@10 ${recall.toFixed(4)}`);
    }
    return { rec, eng };
  } catch (e) {
    rec.error = `${phase}: ${errText(e)}`;
    log(`  ${key}: FAILED in ${rec.error}`);
    await closeEngine(rec, eng);
    return { rec, eng: null };
  }
}

async function closeEngine(rec, eng) {
  if (!eng) return;
  try { await eng.close(); } catch (e) { if (!rec.error) rec.closeError = errText(e); }
  fullGc();
}

/**
 * Phase 2: timed QPS. Rounds × ef × engine, interleaved so that load from other processes on
 * this shared machine hits every engine alike; each point is a short warm-up at that ef, then
 * ≥ minMs of cycled single queries. The reported QPS of a point is the best of its rounds.
 */
async function timeRounds(live, ds, cfg) {
  const efs = [...new Set(live.flatMap(({ eng }) => eng.efs))];
  const warmN = Math.min(cfg.nq, 200);
  for (let r = 0; r < cfg.rounds; r++) {
    log(`timing round ${r + 1}/${cfg.rounds} ...`);
    for (const ef of efs) {
      for (const item of live) {
        const { rec, eng } = item;
        if (rec.error || !eng.efs.includes(ef)) continue;
        try {
          eng.setEf(ef);
          await resultPass(eng, warmN);
          const t = await timeQueries(eng, cfg.nq, cfg.minMs);
          const pt = rec.curve.find((p) => p.ef === ef);
          pt.rounds.push(t);
          pt.qps = Math.max(...pt.rounds.map((x) => x.qps));
          pt.cpuQps = t.cpuQps == null ? null : Math.max(...pt.rounds.map((x) => x.cpuQps));
          pt.maxWaitFraction = t.waitFraction == null ? null : Math.max(...pt.rounds.map((x) => x.waitFraction));
          log(`  ${rec.key}: ef=${ef ?? 'exact'} ${fmtInt(t.qps)} QPS` + (t.cpuQps ? ` (${fmtInt(t.cpuQps)} per CPU-s, run-queue wait ${(100 * t.waitFraction).toFixed(0)}%)` : ''));
        } catch (e) {
          rec.error = `search ef=${ef ?? 'exact'} (round ${r + 1}): ${errText(e)}`;
          log(`  ${rec.key}: FAILED in ${rec.error}`);
        }
      }
    }
    for (const { rec, eng } of live) {
      if (rec.error || !eng.batchQps) continue;
      const hit = rec.curve.find((p) => p.recall >= 0.99);
      const ef = hit ? hit.ef : 100;
      try {
        const b = await eng.batchQps(cfg.nq, ef, cfg.minMs, () => performance.now());
        rec.batchRounds = [...(rec.batchRounds ?? []), b];
        rec.batch = rec.batchRounds.reduce((a, x) => (x.qps > a.qps ? x : a));
        log(`  ${rec.key}: searchBatch ef=${ef} ${fmtInt(b.qps)} QPS`);
      } catch (e) {
        rec.error = `searchBatch ef=${ef}: ${errText(e)}`;
        log(`  ${rec.key}: FAILED in ${rec.error}`);
      }
    }
  }
  for (const { rec } of live) {
    if (!rec.curve) continue;
    const hit = rec.curve.find((p) => p.recall >= 0.99 && p.qps != null);
    rec.at099 = hit ? { ef: hit.ef, qps: hit.qps, cpuQps: hit.cpuQps, recall: hit.recall } : null;
  }
}

function errText(e) {
  if (e && typeof e === 'object') return `${e.name || 'Error'}${e.code ? ` [${e.code}]` : ''}: ${e.message}` + (e.stack ? `\n${e.stack.split('\n').slice(1, 4).join('\n')}` : '');
  return String(e);
}
const fmtInt = (x) => Math.round(x).toLocaleString('en-US');

/** CORE section: the original engine-by-engine build + QPS comparison. */
async function runCore(args, run) {
  const tLoad = performance.now();
  const { ds, note } = pickDataset({ repoRoot, dataDir: args.data, quick: args.quick });
  const nq = args.quick ? Math.min(200, ds.nq) : ds.nq;
  const minMs = (args.seconds ?? (args.quick ? 0.3 : 2)) * 1000;
  const rounds = args.rounds ?? (args.quick ? 1 : 3);
  const cfg = { nq, minMs, rounds };
  Object.assign(run, {
    queriesUsed: nq,
    minSecondsPerPoint: minMs / 1000,
    rounds,
    warmupVectors: WARMUP_VECTORS,
    method: 'index engines first build+search a throwaway index of the first warmupVectors base rows in a separate instance (JIT/tier-up warm-up, kept alive so its code and memory stay out of the RSS delta); build = one timed insertBatch / addPoint loop of the whole base, engines one after the other; recall@10 = one pass over all used queries per ef; QPS: all engines stay open, then `rounds` rounds of (ef × engine) points interleaved, each point = 200-query warm-up then single-threaded single-query public-API calls cycling the queries for ≥ minSecondsPerPoint; reported QPS = best of rounds, on wall clock (qps) and per second of main-thread on-CPU time from /proc/self/task/<pid>/schedstat (cpuQps; waitFraction = run-queue wait / wall, i.e. how contended the point was)',
  });
  const dataset = {
    name: ds.name, source: ds.source, synthetic: ds.synthetic, selectedBy: note,
    n: ds.n, dim: ds.dim, queries: ds.nq, gtK: ds.gtK, metric: ds.metric,
    loadSeconds: (performance.now() - tLoad) / 1000,
  };
  log(`veclite bench [core]: ${ds.name} (${ds.synthetic ? 'SYNTHETIC' : 'real data'}), ${ds.n} × ${ds.dim}, ${nq} of ${ds.nq} queries, ≥ ${minMs / 1000} s per point${args.quick ? ' [--quick]' : ''}`);

  const engines = [], live = [];
  for (const key of args.engines) {
    log(`building ${key} ...`);
    const { rec, eng } = await buildEngine(key, ds, cfg);
    engines.push(rec);
    if (eng) live.push({ rec, eng });
  }
  await timeRounds(live, ds, cfg);
  for (const { rec, eng } of live) await closeEngine(rec, eng);
  const hw = hnswlibWasmBinary(repoRoot);
  const peerWasmSizes = hw ? { 'hnswlib-wasm': wasmSizes(hw, 'embedded base64 in node_modules/hnswlib-wasm/dist') } : {};
  const ratios = computeRatios(engines);
  return { ds, dataset, engines, peerWasmSizes, ratios };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const tStart = performance.now();
  const run = {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.platform()} ${os.arch()}`,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    loadAvgAtStart: os.loadavg().map((x) => +x.toFixed(2)),
    quick: args.quick,
    sections: args.sections,
    k: K, m: M, efConstruction: EF_CONSTRUCTION,
  };
  const results = { run };
  let core = null;
  if (args.sections.includes('core')) {
    core = await runCore(args, run);
    Object.assign(results, { dataset: core.dataset, engines: core.engines, peerWasmSizes: core.peerWasmSizes, ratios: core.ratios });
  }
  if (args.sections.includes('filtered')) {
    results.filtered = await runFiltered({
      repoRoot, quick: args.quick, log,
      engines: args.engines,
      minMs: (args.seconds ?? (args.quick ? 0.3 : 2)) * 1000,
      rounds: args.rounds ?? (args.quick ? 1 : 2),
      dataDir: args.filteredData,
    });
  }
  if (args.sections.includes('quant')) {
    log('quant section ...');
    try {
      const { ds } = pickDataset({ repoRoot, dataDir: args.data, quick: args.quick });
      results.quant = await runQuant({ repoRoot, ds, quick: args.quick, seconds: args.seconds, rounds: args.rounds, log });
    } catch (e) {
      results.quant = { error: String(e?.stack ?? e) };
    }
  }
  if (args.sections.includes('text')) {
    log('text section ...');
    try {
      results.text = await runText({ repoRoot, quick: args.quick, seconds: args.seconds, log });
    } catch (e) {
      results.text = { error: String(e?.stack ?? e) };
    }
  }
  if (args.sections.includes('toolbox')) {
    log('toolbox section ...');
    try {
      results.toolbox = await runToolbox({ repoRoot, quick: args.quick, rounds: args.rounds, log });
    } catch (e) {
      results.toolbox = { error: String(e?.stack ?? e) };
    }
  }
  if (args.sections.includes('storage')) {
    log('storage section ...');
    results.storage = await runStorage({ repoRoot, quick: args.quick, dataDir: args.storageData ?? args.data, log });
  }

  if (args.sections.includes('writer')) {
    log('writer section ...');
    results.writer = await runWriter({ repoRoot, quick: args.quick, log });
  }

  if (args.sections.includes('mcp')) {
    log('mcp section ...');
    results.mcp = await runMcp({ repoRoot, quick: args.quick, seconds: args.seconds, rounds: args.rounds, log });
  }

  if (args.sections.includes('workers')) {
    log('workers section ...');
    results.workers = await runWorkers({ ...args, repoRoot }, log);
  }

  if (args.sections.includes('browser')) {
    log('browser section ...');
    results.browser = await runBrowser({ repoRoot, quick: args.quick, rounds: args.rounds, log });
  }

  run.loadAvgAtEnd = os.loadavg().map((x) => +x.toFixed(2));
  run.totalSeconds = +((performance.now() - tStart) / 1000).toFixed(1);
  results.targets = computeTargets({ core, filtered: results.filtered ?? null, storage: results.storage ?? null, workers: results.workers ?? null });
  printReport(results);
  if (results.quant) {
    console.log();
    if (results.quant.error) console.log(`QUANT failed: ${results.quant.error}`);
    else printQuant(results.quant, console.log);
  }
  if (results.text) {
    console.log();
    if (results.text.error) console.log(`TEXT failed: ${results.text.error}`);
    else printText(results.text, console.log);
  }
  if (results.toolbox) {
    console.log();
    if (results.toolbox.error) console.log(`TOOLBOX failed: ${results.toolbox.error}`);
    else printToolbox(results.toolbox, console.log);
  }
  if (results.writer && !results.writer.error) {
    const w = results.writer;
    console.log('\nWRITER (single writer and damage reporting; bench/writer.js)');
    console.log(`  open after a SIGKILLed writer     ${w.restart.afterKillMs} ms   (clean open ${w.restart.cleanOpenMs} ms; median of ${w.restart.rounds})`);
    console.log(`  single-row commits/s, with check  ${w.writeCheck.withCheckPerS}   (without ${w.writeCheck.withoutCheckPerS}: ratio ${w.writeCheck.ratio})`);
    console.log(`  salvage scan, forged headers      ${w.salvage.forgedMs} ms for ${(w.salvage.forgedBytes / 1048576).toFixed(0)} MiB   ` +
      `(honest ${(w.salvage.honestBytes / 1048576).toFixed(1)} MiB store: ${w.salvage.honestMs} ms; ratio ${w.salvage.ratio})`);
    console.log(`  reader refresh() after 100 rows    ${w.follow.refreshMs} ms on ${w.follow.rows} rows   (fresh read-only open ${w.follow.reopenMs} ms)`);
  }

  if (results.mcp && !results.mcp.error) {
    const m = results.mcp;
    console.log(`\nMCP (tools/call query round trips to 'veclite mcp', one in flight; bench/mcp.js; ${m.n} x ${m.dim} ${m.metric}, k=${m.k})`);
    console.log(`  API search, in process            ${m.apiQps} queries/s   (with refresh() before each: ${m.apiRefreshQps})`);
    console.log(`  veclite mcp FILE (read-only)      ${m.mcpQps} queries/s   (${m.mcpOverApi}x the API; request ${m.requestBytes} B, reply ${m.replyBytes} B)`);
    console.log(`  veclite mcp --write FILE          ${m.mcpWriteQps} queries/s   (no refresh)`);
  }

  fs.mkdirSync(path.dirname(args.out), { recursive: true });
  fs.writeFileSync(args.out, JSON.stringify(results, (k, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n');
  console.log(`\nresults written to ${path.relative(process.cwd(), args.out) || args.out}`);

  const crashed = [
    ...(results.engines ?? []).filter((e) => e.error).map((e) => `core ${e.key} (${e.error.split('\n')[0]})`),
    ...(results.filtered?.engines ?? []).filter((e) => e.error).map((e) => `filtered ${e.key} (${e.error.split('\n')[0]})`),
    ...(results.storage?.error ? [`storage (${results.storage.error.split('\n')[0]})`] : []),
    ...(results.toolbox?.error ? [`toolbox (${results.toolbox.error.split('\n')[0]})`] : []),
    ...(results.writer?.error ? [`writer (${results.writer.error.split('\n')[0]})`] : []),
    ...(results.mcp?.error ? [`mcp (${results.mcp.error.split('\n')[0]})`] : []),
    ...(results.workers?.error ? [`workers (${results.workers.error.split('\n')[0]})`] : []),
    ...(results.browser?.error ? [`browser (${results.browser.error.split('\n')[0]})`] : []),
  ];
  if (crashed.length) {
    console.log(`\nCRASHED: ${crashed.join('; ')}`);
    process.exitCode = 1;
  }
}

main().catch((e) => {
  console.error(`bench: ${errText(e)}`);
  process.exitCode = 1;
});
