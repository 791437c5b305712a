// WORKERS section of the benchmark: what running a database in worker sessions
// (createDatabase({ workers: n }); worker/pool.js) buys and costs, each figure against a baseline
// measured in this same Node process (the default in-thread session, createDatabase()).
//
//   (a) searchBatch throughput: the same 10,000 × 100 euclidean rows (the SIGMOD 2024 set's
//       dummy-data.bin beside the repository, else a generated SYNTHETIC clustered set; which one
//       is printed), inserted with one insertBatch into the same HNSW config (M=16,
//       efConstruction=200, fixed seed) in three databases open side by side: in-thread,
//       workers: 1, workers: 2. Calls of B queries (the dataset's query vectors, cycled; k=10,
//       ef=100) repeated for ≥ minMs per point, rounds interleaved across configurations, best
//       round reported as queries/s. Ratio workers:2 / in-thread (target ≥ 1.7× on 2 cores).
//       The ids of the first call of each batch size are compared across the three databases.
//       Each point also records "cores busy" (process.cpuUsage() of all threads per wall second),
//       which shows whether the worker sessions actually got the cores.
//   (b) round-trip overhead per call: median and p99 of count() and of search(q, { k: 10 }),
//       in-thread against workers: 1, in interleaved chunks; the difference of the medians is
//       the time the worker hop adds per call.
//   (c) replica lag with workers: 2 (writer + one replica), memory and file databases: the
//       latency of a single-row insert() against the in-thread database of the same backend
//       (the pool posts the commit to the replica before the write resolves, so the lag is
//       inside it), then two count() calls issued together right after the write resolved (the
//       pool round-robins reads over writer and replica, so one of them is served by the
//       replica): the time until both answered (max of the two), and how many counts already
//       showed the write (anything under 100% would be a stale read).
//
// Invariants: ratios are only taken between figures of this run; nothing is asserted, only
// printed (the caller prints the target); every database is closed and the temp directory
// removed at the end, also on failure; a failure is returned as { error } (a crash in the report).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { hasFilteredDir, readContestBin, generateClustered } from './datasets.js';

export const WORKERS_TARGET_RATIO = 1.7;
const K = 10, EF = 100, M = 16, EF_CONSTRUCTION = 200, SEED = 20240607;
const CONFIGS = [
  { key: 'in-thread', label: 'in-thread (createDatabase())', workers: 0 },
  { key: 'workers:1', label: 'createDatabase({ workers: 1 })', workers: 1 },
  { key: 'workers:2', label: 'createDatabase({ workers: 2 })', workers: 2 },
];

const sorted = (xs) => Float64Array.from(xs).sort();
const quantile = (s, q) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : null);
const r2 = (x) => (x == null ? null : +x.toFixed(2));
const r1 = (x) => (x == null ? null : +x.toFixed(1));

/** The base rows and query vectors: the SIGMOD files when present, else SYNTHETIC. */
function loadData(repoRoot, dataDir, quick) {
  const def = path.resolve(repoRoot, '..', 'shared', 'data', 'sigmod24-yfcc-clip100');
  const dir = dataDir ?? def;
  if (hasFilteredDir(dir)) {
    const d = readContestBin(path.join(dir, 'dummy-data.bin'), 102, 'f32');
    const q = readContestBin(path.join(dir, 'dummy-filtered-queries.bin'), 104, 'f32');
    const dim = 100, n = d.rows, nq = q.rows;
    const base = new Float32Array(n * dim), queries = new Float32Array(nq * dim);
    for (let i = 0; i < n; i++) base.set(d.data.subarray(i * 102 + 2, i * 102 + 102), i * dim);
    for (let i = 0; i < nq; i++) queries.set(q.data.subarray(i * 104 + 4, i * 104 + 104), i * dim);
    return { name: path.basename(dir), source: `${dir}: dummy-data.bin (attributes dropped), query vectors of dummy-filtered-queries.bin (filters dropped)`, synthetic: false, n, dim, nq, base, queries };
  }
  if (dataDir) throw new Error(`--filtered-data ${dataDir}: needs dummy-data.bin and dummy-filtered-queries.bin`);
  const g = generateClustered({ n: 10000, dim: 100, nq: quick ? 500 : 2000, gtK: 0 });
  return { name: g.name, source: `${dir} not found: ${g.source}`, synthetic: true, n: g.n, dim: g.dim, nq: g.nq, base: g.base, queries: g.queries };
}

const row = (a, dim, i) => a.subarray(i * dim, (i + 1) * dim);

/**
 * @param {{ repoRoot: string, quick: boolean, seconds: number|null, rounds: number|null, filteredData: string|null }} args
 * @param {(s: string) => void} log
 * @returns {Promise<object>} figures (or { error }), also printed by bench/report.js
 */
export async function runWorkers(args, log) {
  const { repoRoot, quick } = args;
  const minMs = (args.seconds ?? (quick ? 0.3 : 2)) * 1000;
  const rounds = args.rounds ?? (quick ? 1 : 3);
  const batches = quick ? [200, 500] : [500, 2000];
  const out = { loadAvgAtStart: os.loadavg().map((x) => +x.toFixed(2)), cpus: os.cpus().length, minSecondsPerPoint: minMs / 1000, rounds, k: K, ef: EF, m: M, efConstruction: EF_CONSTRUCTION, seed: SEED, targetRatio: WORKERS_TARGET_RATIO };
  const open = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-bench-workers-'));
  const closeAll = async () => {
    for (const db of open.splice(0)) { try { await db.close(); } catch { /* reported by the section that used it */ } }
  };
  try {
    const api = await import(pathToFileURL(path.join(repoRoot, 'web/index.js')).href);
    const ds = loadData(repoRoot, args.filteredData ?? null, quick);
    out.dataset = { name: ds.name, source: ds.source, synthetic: ds.synthetic, n: ds.n, dim: ds.dim, queries: ds.nq, metric: 'euclidean' };
    log(`workers: data ${ds.name} (${ds.synthetic ? 'SYNTHETIC' : 'real data'}), ${ds.n} × ${ds.dim}, ${ds.nq} query vectors; ${os.cpus().length} CPUs; ≥ ${minMs / 1000} s per point, ${rounds} round(s)`);
    const colConfig = { dimension: ds.dim, metric: 'euclidean', index: { type: 'hnsw', m: M, efConstruction: EF_CONSTRUCTION, seed: SEED } };
    const items = Array.from({ length: ds.n }, (_, i) => ({ id: i, vector: row(ds.base, ds.dim, i) }));

    // ---- (a) searchBatch throughput ---------------------------------------------------------
    const live = [];
    for (const c of CONFIGS) {
      let t = performance.now();
      const db = await api.createDatabase(c.workers ? { workers: c.workers } : {});
      open.push(db);
      const startMs = performance.now() - t;
      const col = await db.createCollection('bench', colConfig);
      t = performance.now();
      const written = await col.insertBatch(items);
      const buildMs = performance.now() - t;
      const count = await col.count();
      if (written !== ds.n || count !== ds.n) throw new Error(`${c.key}: insertBatch wrote ${written}, count() ${count}, expected ${ds.n}`);
      live.push({ c, db, col, rec: { key: c.key, label: c.label, workers: db.workers, implementation: db.implementation, startMs: r1(startMs), buildMs: Math.round(buildMs), points: {} } });
      log(`workers: ${c.key}: started in ${startMs.toFixed(0)} ms, insertBatch of ${ds.n} rows ${(buildMs / 1000).toFixed(2)} s (${db.workers} worker session(s), ${db.implementation})`);
    }
    const opts = { k: K, ef: EF, includeMetadata: false };
    const batchOf = (B) => Array.from({ length: B }, (_, i) => row(ds.queries, ds.dim, i % ds.nq));
    out.identical = {};
    for (const B of batches) {
      const qs = batchOf(B);
      const answers = [];
      for (const { col } of live) answers.push((await col.searchBatch(qs, opts)).map((hits) => hits.map((h) => h.id)));
      let differ = 0, firstDiff = null;
      for (let q = 0; q < B; q++) {
        const ref = answers[0][q].join(',');
        if (answers.some((a) => a[q].join(',') !== ref)) { differ++; if (firstDiff === null) firstDiff = q; }
      }
      out.identical[B] = { queries: B, differ, firstDiff, identical: differ === 0, configs: CONFIGS.map((c) => c.key) };
      log(`workers: batch ${B}: ids ${differ === 0 ? 'identical' : `DIFFER on ${differ} of ${B} queries (first: query ${firstDiff})`} across ${CONFIGS.map((c) => c.key).join(', ')}`);
    }
    for (let r = 0; r < rounds; r++) {
      log(`workers: searchBatch round ${r + 1}/${rounds} ...`);
      for (const B of batches) {
        const qs = batchOf(B);
        for (const { c, col, rec } of live) {
          await col.searchBatch(qs, opts); // warm-up at this size
          let calls = 0, t1;
          const cpu0 = process.cpuUsage();
          const t0 = performance.now();
          do { await col.searchBatch(qs, opts); calls++; t1 = performance.now(); } while (t1 - t0 < minMs);
          const cpu = process.cpuUsage(cpu0);
          const qps = (calls * B) / ((t1 - t0) / 1000);
          // CPU seconds of every thread of this process per wall second: ~1 in-thread, up to the
          // number of sessions with workers; well below that means the cores were taken by others.
          const cores = (cpu.user + cpu.system) / 1000 / (t1 - t0);
          const p = (rec.points[B] ??= { batch: B, rounds: [], qps: null });
          p.rounds.push({ qps: Math.round(qps), calls, seconds: +((t1 - t0) / 1000).toFixed(3), msPerCall: r2((t1 - t0) / calls), coresBusy: r2(cores) });
          const best = p.rounds.reduce((a, x) => (x.qps > a.qps ? x : a));
          Object.assign(p, { qps: best.qps, msPerCall: best.msPerCall, coresBusy: best.coresBusy });
          log(`  ${c.key}: batch ${B}: ${Math.round(qps).toLocaleString('en-US')} queries/s (${calls} calls, ${cores.toFixed(2)} cores busy)`);
        }
      }
    }
    out.searchBatch = live.map(({ rec }) => rec);
    const qpsOf = (key, B) => out.searchBatch.find((x) => x.key === key)?.points[B]?.qps ?? null;
    out.ratios = {};
    for (const B of batches) {
      const base = qpsOf('in-thread', B);
      out.ratios[B] = {
        'workers:2 / in-thread': base ? r2(qpsOf('workers:2', B) / base) : null,
        'workers:1 / in-thread': base ? r2(qpsOf('workers:1', B) / base) : null,
      };
    }
    out.bestRatio = Math.max(...batches.map((B) => out.ratios[B]['workers:2 / in-thread'] ?? -Infinity));

    // ---- (b) round-trip overhead per call ---------------------------------------------------
    const n = quick ? 400 : 3000, chunks = quick ? 2 : 6;
    const rt = { calls: n, chunks, count: {}, search: {} };
    const pair = [live[0], live[1]];
    const samples = { count: [[], []], search: [[], []] };
    const sq = { k: K };
    for (const x of pair) { for (let i = 0; i < 200; i++) { await x.col.count(); await x.col.search(row(ds.queries, ds.dim, i % ds.nq), sq); } }
    for (let ch = 0; ch < chunks; ch++) {
      for (let j = 0; j < 2; j++) {
        const { col } = pair[j];
        for (let i = 0; i < n / chunks; i++) {
          const t = performance.now(); await col.count(); samples.count[j].push(performance.now() - t);
        }
        for (let i = 0; i < n / chunks; i++) {
          const q = row(ds.queries, ds.dim, (ch * n + i) % ds.nq);
          const t = performance.now(); await col.search(q, sq); samples.search[j].push(performance.now() - t);
        }
      }
    }
    for (const what of ['count', 'search']) {
      const [a, b] = samples[what].map(sorted);
      const us = (v) => r1(v * 1000);
      rt[what] = {
        inThread: { medianUs: us(quantile(a, 0.5)), p99Us: us(quantile(a, 0.99)) },
        workers1: { medianUs: us(quantile(b, 0.5)), p99Us: us(quantile(b, 0.99)) },
        addedMedianUs: us(quantile(b, 0.5) - quantile(a, 0.5)),
        addedP99Us: us(quantile(b, 0.99) - quantile(a, 0.99)),
      };
      log(`workers: ${what}(): in-thread median ${rt[what].inThread.medianUs} µs (p99 ${rt[what].inThread.p99Us}), workers:1 median ${rt[what].workers1.medianUs} µs (p99 ${rt[what].workers1.p99Us}): +${rt[what].addedMedianUs} µs per call`);
    }
    out.roundTrip = rt;
    await closeAll();

    // ---- (c) replica lag ----------------------------------------------------------------------
    try { out.tmpFs = execFileSync('df', ['-T', tmp], { encoding: 'utf8' }).trim().split('\n').pop().split(/\s+/)[1]; } catch { out.tmpFs = null; }
    const writes = quick ? 40 : 300, seedRows = 1000;
    out.lag = [];
    for (const backend of ['memory', 'file']) {
      const recs = [];
      for (const workers of [0, 2]) {
        const cfg = { ...(workers ? { workers } : {}), ...(backend === 'file' ? { path: fs.mkdtempSync(path.join(tmp, `lag-w${workers}-`)) } : {}) };
        const db = await api.createDatabase(cfg);
        open.push(db);
        const col = await db.createCollection('lag', colConfig);
        await col.insertBatch(items.slice(0, seedRows));
        recs.push({ workers, db, col, write: [], readBoth: [], fresh: 0, counts: 0 });
      }
      // Interleaved: write i on each database in turn, so drift hits both alike.
      for (let i = 0; i < writes; i++) {
        for (const r of recs) {
          const id = seedRows + i;
          const t = performance.now();
          await r.col.insert({ id, vector: row(ds.base, ds.dim, id % ds.n) });
          const t0 = performance.now();
          r.write.push(t0 - t);
          const ends = [0, 0];
          const got = await Promise.all([0, 1].map((j) => r.col.count().then((v) => { ends[j] = performance.now(); return v; })));
          r.readBoth.push(Math.max(...ends) - t0);
          r.counts += 2;
          r.fresh += got.filter((v) => v === seedRows + i + 1).length;
        }
      }
      const summary = (r) => {
        const w = sorted(r.write), b = sorted(r.readBoth);
        return {
          workers: r.workers, writes, writeMedianMs: r2(quantile(w, 0.5)), writeP99Ms: r2(quantile(w, 0.99)),
          readBothMedianUs: r1(quantile(b, 0.5) * 1000), readBothP99Us: r1(quantile(b, 0.99) * 1000),
          countsShowingWrite: r.fresh, counts: r.counts, freshShare: r.fresh / r.counts,
        };
      };
      const [s0, s2] = recs.map(summary);
      const rec = { backend, seedRows, inThread: s0, workers2: s2, writeAddedMedianMs: r2(s2.writeMedianMs - s0.writeMedianMs) };
      out.lag.push(rec);
      log(`workers: lag (${backend}): insert() median ${s0.writeMedianMs} ms in-thread vs ${s2.writeMedianMs} ms workers:2; ` +
        `two counts after the write answered in ${s2.readBothMedianUs} µs median (p99 ${s2.readBothP99Us}) vs ${s0.readBothMedianUs} µs in-thread; ` +
        `${s2.countsShowingWrite}/${s2.counts} counts showed the write`);
      for (const r of recs) { open.splice(open.indexOf(r.db), 1); await r.db.close(); }
    }
    out.loadAvgAtEnd = os.loadavg().map((x) => +x.toFixed(2));
    return out;
  } catch (e) {
    out.error = `${e?.name ?? 'Error'}${e?.code ? ` [${e.code}]` : ''}: ${e?.message ?? e}` + (e?.stack ? `\n${e.stack.split('\n').slice(1, 4).join('\n')}` : '');
    log(`workers: FAILED — ${out.error}`);
    return out;
  } finally {
    await closeAll();
    fs.rmSync(tmp, { recursive: true, force: true });
    out.tmpRemoved = !fs.existsSync(tmp);
  }
}
