// STORAGE section of the benchmark (issue 3 persistence, Node file backend), run only when
// web/index.js exports openCollection.
//
//   (a) commit throughput: insertBatch in batches of 1, 100 and 10,000 vectors into a fresh .rvf
//       store each (every insertBatch is one commit: appended and fsynced before it resolves);
//       the same loop on the memory backend is shown next to it, so the cost of durability is
//       visible apart from the graph inserts;
//   (b) file bytes per vector after those commits, after compact(), and after close() (which
//       appends the HNSW graph as an INDEX segment);
//   (c) a 100,000-vector store (20,000 with --quick): full build (one insertBatch, M=16,
//       efC=200) and close(); then open + first k=10 query, in this process with a fresh handle
//       (openCollection, writer and read-only) and in fresh child processes (bench/open-child.mjs),
//       against the full build time; status().indexLoaded says the graph was loaded, not rebuilt;
//       @ruvector/rvf-node opening the same file read-only is timed as a peer;
//   (d) open at the speed of the bytes (issue 10): fresh processes alternately read the file into a
//       fresh buffer (fs.readFileSync) and open it read-only + answer the first query; the ratio of
//       the medians (3 each, 1 with --quick) in wall and in main-thread CPU time, with the engine's
//       breakdown (status().openCost: read, verify, manifest/directory, rows, graph, metadata), the JS around
//       it and the first query. The rows carry small metadata ({ j, tag }) so its decoding counts.
//   (e) build memory (issue 10 item 5): fresh child processes (bench/build-mem-child.mjs) build
//       50,000 × 128 (20,000 with --quick) in insertBatch calls of 10,000 (5,000), into a file store
//       and in memory; resident memory at the peak (VmHWM) and at the end, per vector, against
//       the engine's own count (stats().memoryBytes per vector), and their ratio (target ≤ 1.3×):
//       the run with the median peak of 3 per mode (1 with --quick), since a process's RSS also
//       holds what the runtime's own threads happened to allocate (allocator arenas, compiler
//       zones): a few MB more or less from run to run.
//
// Invariants: everything lives in one fs.mkdtemp directory under os.tmpdir(), removed at the end
// (also on failure). Target verdicts (docs/benchmarks.md: open + first query < 100 ms and < 10% of a
// rebuild) are printed by report.js, never asserted. Results of the reopened store are compared
// with the results before close (same top-10) as a sanity check, printed, not asserted.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { readVecs, generateClustered } from './datasets.js';
import { timeIt, fullGc, threadSched } from './measure.js';
import { K, M, EF_CONSTRUCTION } from './peers.js';

export const OPEN_LIMIT_MS = 100;
export const OPEN_SHARE = 0.10;
/** issue 10: open + first query within this many times the time to read the file. */
export const OPEN_READ_RATIO = 1.5;

// statfs f_type magic numbers (linux/magic.h): fsync on tmpfs is free, so the report names it.
const FS_MAGIC = { 0xEF53: 'ext2/3/4', 0x01021994: 'tmpfs', 0x794C7630: 'overlayfs', 0x9123683E: 'btrfs', 0x58465342: 'xfs', 0x6969: 'nfs', 0x2FC12FC1: 'zfs', 0x65735546: 'fuse' };

const errText = (e) => (e && typeof e === 'object' ? `${e.name || 'Error'}${e.code ? ` [${e.code}]` : ''}: ${e.message}` : String(e));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length ? s[s.length >> 1] : null; };

/** Loads the base for the section: --storage-data / --data DIR/base.fvecs, else synthetic. */
function pickBase({ dataDir, quick }) {
  const n = quick ? 20000 : 100000;
  if (dataDir) {
    const f = path.join(dataDir, 'base.fvecs');
    if (!fs.existsSync(f)) throw new Error(`${dataDir}: no base.fvecs for the storage section`);
    const b = readVecs(f, 'f32');
    const rows = Math.min(n, b.rows);
    let q = null;
    const qf = path.join(dataDir, 'query.fvecs');
    if (fs.existsSync(qf)) { const r = readVecs(qf, 'f32'); if (r.dim === b.dim) q = r.data.slice(0, b.dim); }
    let meta = {};
    try { meta = JSON.parse(fs.readFileSync(path.join(dataDir, 'meta.json'), 'utf8')); } catch { /* optional */ }
    return {
      name: meta.name || path.basename(path.resolve(dataDir)), source: path.resolve(f), synthetic: meta.synthetic === true || /synthetic/i.test(JSON.stringify(meta)),
      n: rows, dim: b.dim, base: b.data.subarray(0, rows * b.dim), query: q ?? b.data.slice(0, b.dim),
      queryNote: q ? 'query.fvecs row 0' : 'base row 0 (no query.fvecs)',
    };
  }
  const g = generateClustered({ n, dim: 128, nq: 1, clusters: 256, seed: 20240601, gtK: 0 });
  return { name: g.name, source: `${g.source}; deterministic (fixed generator and seed)`, synthetic: true, n, dim: 128, base: g.base, query: g.queries.slice(0, 128), queryNote: 'generated query row 0' };
}

const cfgOf = (dim) => ({ dimension: dim, metric: 'euclidean', index: { type: 'hnsw', m: M, efConstruction: EF_CONSTRUCTION } });
const fileSize = (f) => { try { return fs.statSync(f).size; } catch { return null; } };

/** Runs `commits` insertBatch calls of `size` rows each (row ids from startRow on, wrapping). */
async function commitLoop(col, data, startRow, size, commits) {
  const { base, dim, n } = data;
  const lat = [];
  let row = startRow;
  const batches = [];
  for (let c = 0; c < commits; c++) {
    const items = new Array(size);
    for (let j = 0; j < size; j++, row++) { const r = row % n; items[j] = { id: row, vector: base.subarray(r * dim, (r + 1) * dim) }; }
    batches.push(items);
  }
  const s0 = threadSched();
  const t0 = performance.now();
  for (const items of batches) {
    const t = performance.now();
    await col.insertBatch(items);
    lat.push(performance.now() - t);
  }
  const ms = performance.now() - t0;
  const s1 = threadSched();
  return {
    ms, vectors: size * commits, vectorsPerSec: (size * commits) / (ms / 1000), commitsPerSec: commits / (ms / 1000), medianCommitMs: median(lat), maxCommitMs: Math.max(...lat),
    // main-thread CPU seconds and run-queue wait (waiting for a core; fsync sleeps are neither)
    cpuSeconds: s0 && s1 ? (s1.cpuNs - s0.cpuNs) / 1e9 : null, waitFraction: s0 && s1 ? (s1.waitNs - s0.waitNs) / 1e6 / ms : null,
  };
}

function runChild(repoRoot, mode, file, qfile) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    execFile(process.execPath, [path.join(repoRoot, 'bench', 'open-child.mjs'), mode, file, qfile, repoRoot], { timeout: 120000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const wallMs = performance.now() - t0;
      const line = String(stdout).trim().split('\n').pop();
      try { resolve({ ...JSON.parse(line), processWallMs: wallMs }); } catch {
        resolve({ mode, error: `child failed: ${err ? errText(err) : 'no JSON'}; stderr: ${String(stderr).trim().split('\n').slice(-3).join(' | ')}` });
      }
    });
  });
}

/** issue 10 item 5: resident memory of a bulk build within this many times the engine's count. */
export const BUILD_RSS_RATIO = 1.3;

/** (e): one bulk build in a fresh process (bench/build-mem-child.mjs); its JSON line. */
function buildMemChild(repoRoot, n, batch, mode, dir) {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--expose-gc', path.join(repoRoot, 'bench', 'build-mem-child.mjs'), repoRoot, String(n), String(batch), mode, dir],
      { timeout: 600000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
        const line = String(stdout).trim().split('\n').pop();
        try { resolve(JSON.parse(line)); } catch {
          resolve({ mode, error: `child failed: ${err ? errText(err) : 'no JSON'}; stderr: ${String(stderr).trim().split('\n').slice(-3).join(' | ')}` });
        }
      });
  });
}

/** One line for a build-memory result. */
export function buildMemLine(r) {
  if (!r) return 'not measured';
  if (r.error) return `${r.mode}: ERROR ${r.error}`;
  return `${r.mode}: ${r.n.toLocaleString('en-US')} × 128 in batches of ${r.batch.toLocaleString('en-US')}: engine ${r.engineBytesPerVector.toFixed(0)} B/vector; ` +
    `RSS peak ${r.peakBytesPerVector.toFixed(0)} (${r.peakRatio.toFixed(2)}×, ${r.peakSource}), end ${r.endBytesPerVector.toFixed(0)} (${r.endRatio.toFixed(2)}×) ` +
    `— target ≤ ${BUILD_RSS_RATIO}×` +
    (r.runs?.length > 1 ? ` (the median peak of ${r.runs.length} runs: peaks ${r.runs.map((x) => (x ? `${x.peakRatio.toFixed(2)}×` : 'error')).join(', ')})` : '');
}

const overlap = (a, b) => (a && b ? a.filter((x) => b.includes(x)).length : null);

const PHASES = ['readMs', 'verifyMs', 'idMapMs', 'rowsMs', 'graphMs', 'metadataMs'];

/**
 * (d): `runs` fresh processes reading the file, alternating with `runs` opening it read-only +
 * first query; medians, their ratios, and the median of each part of the open.
 */
async function openVsRead(repoRoot, file, qfile, runs) {
  const reads = [], opens = [];
  for (let i = 0; i < runs; i++) {
    reads.push(await runChild(repoRoot, 'read', file, qfile));
    opens.push(await runChild(repoRoot, 'veclite-ro', file, qfile));
  }
  const okR = reads.filter((x) => !x.error), okO = opens.filter((x) => !x.error && x.openCost);
  if (!okR.length || !okO.length) return { runs, error: (reads.find((x) => x.error) ?? opens.find((x) => x.error) ?? { error: 'no openCost' }).error };
  const m = (xs, f) => median(xs.map(f).filter((v) => v != null));
  const readMs = m(okR, (x) => x.readMs), readCpuMs = m(okR, (x) => x.cpuMs);
  const openMs = m(okO, (x) => x.openFirstQueryMs), openCpuMs = m(okO, (x) => x.cpuMs);
  const breakdown = Object.fromEntries(PHASES.map((k) => [k, m(okO, (x) => x.openCost[k])]));
  breakdown.engineTotalMs = m(okO, (x) => x.openCost.totalMs);
  breakdown.jsMs = m(okO, (x) => x.openJsMs);
  breakdown.firstQueryMs = m(okO, (x) => x.firstQueryMs);
  return {
    runs, bytes: okR[0].bytes, readMs, readCpuMs, openFirstQueryMs: openMs, openCpuMs,
    ratio: openMs / readMs, cpuRatio: readCpuMs && openCpuMs != null ? openCpuMs / readCpuMs : null,
    breakdown, reads, opens,
  };
}

/** The one-line summary of (d), also printed by report.js. */
export function openVsReadLine(o) {
  if (!o) return 'open vs read: not measured';
  if (o.error) return `open vs read: ERROR ${o.error}`;
  const b = o.breakdown, f = (v) => (v == null ? '—' : v.toFixed(1));
  return `open + first query ${f(o.openFirstQueryMs)} ms, read the file ${f(o.readMs)} ms: ratio ${o.ratio.toFixed(2)}× `
    + `(CPU ${f(o.openCpuMs)} / ${f(o.readCpuMs)} ms = ${o.cpuRatio == null ? '—' : o.cpuRatio.toFixed(2) + '×'}; median of ${o.runs} fresh processes each); `
    + `breakdown: reads (with the VEC rows' CRC-32 a hashing device computes as it reads) ${f(b.readMs)}, verify ${f(b.verifyMs)}, manifest/directory ${f(b.idMapMs)}, rows ${f(b.rowsMs)}, graph ${f(b.graphMs)}, `
    + `metadata ${f(b.metadataMs)} (engine open ${f(b.engineTotalMs)}), JS around it ${f(b.jsMs)}, first query ${f(b.firstQueryMs)} ms`;
}

/**
 * Runs the STORAGE section.
 * @param {{ repoRoot: string, quick: boolean, dataDir?: string|null, log: (...m: string[]) => void }} cfg
 * @returns {Promise<object>} { available: false, reason } or the measurements
 */
export async function runStorage({ repoRoot, quick, dataDir, log }) {
  const api = await import(pathToFileURL(path.join(repoRoot, 'web', 'index.js')).href);
  if (typeof api.openCollection !== 'function') {
    return { available: false, reason: 'web/index.js does not export openCollection' };
  }
  const t0 = performance.now();
  // A build whose JS API exists but whose engine says the file backend is not there yet
  // (EBACKEND) is "not available", not a crash.
  const probeDir = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-bench-probe-'));
  try {
    const db = await api.createDatabase({ path: probeDir });
    await db.createCollection('probe', cfgOf(4));
    await db.close();
  } catch (e) {
    if (e?.code === 'EBACKEND') return { available: false, reason: `the Node file backend answers ${errText(e)}` };
    throw e;
  } finally {
    fs.rmSync(probeDir, { recursive: true, force: true });
  }
  const data = pickBase({ dataDir, quick });
  log(`storage: ${data.name} (${data.synthetic ? 'SYNTHETIC' : 'data'}), ${data.n} × ${data.dim}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-bench-storage-'));
  let fsType = null;
  try {
    const t = fs.statfsSync(tmp).type;
    fsType = `${FS_MAGIC[t] ?? 'unknown'} (statfs type 0x${t.toString(16)})`;
  } catch { /* statfs unavailable */ }
  const res = {
    available: true, tmpDir: tmp, fsType,
    dataset: { name: data.name, source: data.source, synthetic: data.synthetic, n: data.n, dim: data.dim, query: data.queryNote },
    rawVectorBytes: data.dim * 4,
    commits: [], errors: [],
  };
  let phase = 'commit throughput';
  try {
    // (a) + (b)
    const plan = quick ? [[1, 100], [100, 20], [10000, 1]] : [[1, 500], [100, 100], [10000, 5]];
    let row = 0;
    for (const [size, commits] of plan) {
      phase = `commits of ${size}`;
      const dir = path.join(tmp, `commit-${size}`);
      const db = await api.createDatabase({ path: dir });
      const col = await db.createCollection('c', cfgOf(data.dim));
      const file = path.join(dir, 'c.rvf');
      const empty = fileSize(file);
      const r = await commitLoop(col, data, row, size, commits);
      const st = await col.status();
      const afterCommits = fileSize(file);
      phase = `compact after commits of ${size}`;
      const tc = await timeIt(() => col.compact());
      const afterCompact = fileSize(file);
      phase = `close after commits of ${size}`;
      const tcl = await timeIt(() => db.close());
      const afterClose = fileSize(file);
      const count = r.vectors;
      // memory backend, same batches, for the durability overhead
      phase = `memory backend commits of ${size}`;
      const mdb = await api.createDatabase();
      const mcol = await mdb.createCollection('c', cfgOf(data.dim));
      const mr = await commitLoop(mcol, data, row, size, commits);
      await mdb.close();
      fullGc();
      const rec = {
        batch: size, commits, ...r, count: st.count, statusBytes: st.bytes, segments: st.segments, emptyFileBytes: empty,
        bytesPerVector: { afterCommits: afterCommits / count, afterCompact: afterCompact / count, afterClose: afterClose / count },
        fileBytes: { afterCommits, afterCompact, afterClose },
        compact: { ms: tc.ms, result: tc.value }, closeMs: tcl.ms,
        memory: { vectorsPerSec: mr.vectorsPerSec, medianCommitMs: mr.medianCommitMs, cpuSeconds: mr.cpuSeconds, waitFraction: mr.waitFraction },
      };
      res.commits.push(rec);
      log(`  storage: batches of ${size} × ${commits}: ${Math.round(r.vectorsPerSec)} vectors/s durable (${Math.round(mr.vectorsPerSec)} in memory), ${(afterCommits / count).toFixed(0)} B/vector, ${(afterCompact / count).toFixed(0)} after compact`);
      row += size * commits;
    }

    // (c) build, close, reopen
    phase = 'build';
    const dir = path.join(tmp, 'big');
    const file = path.join(dir, 'big.rvf');
    const qfile = path.join(tmp, 'query.f32');
    fs.writeFileSync(qfile, Buffer.from(data.query.buffer, data.query.byteOffset, data.query.byteLength));
    const items = new Array(data.n);
    for (let i = 0; i < data.n; i++) items[i] = { id: i, vector: data.base.subarray(i * data.dim, (i + 1) * data.dim), metadata: { j: i, tag: `t${i % 10}` } };
    const db = await api.createDatabase({ path: dir });
    const col = await db.createCollection('big', cfgOf(data.dim));
    fullGc();
    const tb = await timeIt(() => col.insertBatch(items));
    log(`  storage: build of ${data.n} × ${data.dim}: ${(tb.ms / 1000).toFixed(2)} s`);
    const before = (await col.search(data.query, { k: K, includeMetadata: false })).map((h) => Number(h.id));
    phase = 'close';
    const tcl = await timeIt(() => db.close());
    res.build = { n: data.n, ms: tb.ms, insertsPerSec: data.n / (tb.ms / 1000), cpuSeconds: tb.cpuSeconds, waitFraction: tb.waitFraction, closeMs: tcl.ms, fileBytes: fileSize(file), bytesPerVector: fileSize(file) / data.n, top10: before };

    const inProc = async (readOnly) => {
      fullGc();
      const s0 = threadSched();
      const t = performance.now();
      const c = await api.openCollection(file, { readOnly });
      const tOpen = performance.now();
      const hits = await c.search(data.query, { k: K, includeMetadata: false });
      const ms = performance.now() - t;
      const s1 = threadSched();
      const st = await c.status();
      const t2 = performance.now();
      for (let i = 0; i < 20; i++) await c.search(data.query, { k: K, includeMetadata: false });
      const warmQueryMs = (performance.now() - t2) / 20;
      await c.close();
      const ids = hits.map((h) => Number(h.id));
      return { readOnly, openFirstQueryMs: ms, openMs: tOpen - t, firstQueryMs: ms - (tOpen - t), cpuMs: s0 && s1 ? (s1.cpuNs - s0.cpuNs) / 1e6 : null, waitFraction: s0 && s1 ? (s1.waitNs - s0.waitNs) / 1e6 / ms : null, indexLoaded: st.indexLoaded, count: st.count, epoch: st.epoch, warmQueryMs, top10Overlap: overlap(ids, before) };
    };
    phase = 'reopen in process';
    res.openInProcess = [await inProc(false), await inProc(true)];
    for (const o of res.openInProcess) log(`  storage: open${o.readOnly ? ' (readOnly)' : ''} + first query in process: ${o.openFirstQueryMs.toFixed(1)} ms, indexLoaded ${o.indexLoaded}`);

    phase = 'reopen in child processes';
    const runs = quick ? 1 : 3;
    res.openChild = {};
    for (const mode of ['veclite', 'veclite-ro']) {
      const rs = [];
      for (let i = 0; i < runs; i++) rs.push(await runChild(repoRoot, mode, file, qfile));
      const ok = rs.filter((x) => !x.error);
      res.openChild[mode] = { runs: rs, medianOpenFirstQueryMs: median(ok.map((x) => x.openFirstQueryMs)), medianTotalMs: median(ok.map((x) => x.totalMs)), medianEngineMs: median(ok.map((x) => x.engineMs)), medianOpenMs: median(ok.map((x) => x.openMs)), medianFirstQueryMs: median(ok.map((x) => x.firstQueryMs)), medianCpuMs: median(ok.filter((x) => x.cpuMs != null).map((x) => x.cpuMs)), maxWaitFraction: ok.length ? Math.max(...ok.map((x) => x.waitFraction ?? 0)) : null, indexLoaded: ok.length ? ok.every((x) => x.indexLoaded === true) : null, top10Overlap: ok.length ? Math.min(...ok.map((x) => overlap(x.ids, before))) : null, error: ok.length ? null : rs[0]?.error };
      log(`  storage: ${mode} child open + first query: ${rs.map((x) => (x.error ? 'ERROR' : x.openFirstQueryMs.toFixed(1))).join(', ')} ms${ok.length ? '' : ` (${rs[0].error})`}`);
    }

    phase = 'open vs read';
    res.openVsRead = await openVsRead(repoRoot, file, qfile, runs);
    log(`  storage: ${openVsReadLine(res.openVsRead)}`);

    phase = 'build memory';
    res.buildMemory = [];
    for (const mode of ['file', 'memory']) {
      const rs = [];
      for (let i = 0; i < runs; i++) {
        const dir = path.join(tmp, `build-mem-${mode}-${i}`);
        fs.mkdirSync(dir);
        rs.push(await buildMemChild(repoRoot, quick ? 20000 : 50000, quick ? 5000 : 10000, mode, dir));
        fs.rmSync(dir, { recursive: true, force: true });
      }
      const ok = rs.filter((x) => !x.error).sort((a, b) => a.peakRatio - b.peakRatio);
      const r = ok.length ? { ...ok[(ok.length - 1) >> 1], runs: rs.map((x) => (x.error ? null : { peakRatio: x.peakRatio, endRatio: x.endRatio })) } : rs[0];
      res.buildMemory.push(r);
      log(`  storage: build memory, ${buildMemLine(r)}`);
    }
    // the application's share: the same rows built per batch without veclite (median of runs)
    const fileMs = res.buildMemory[0]?.ms;
    if (fileMs) {
      const app = [];
      for (let i = 0; i < runs; i++) app.push(await buildMemChild(repoRoot, quick ? 20000 : 50000, quick ? 5000 : 10000, 'none', String(fileMs)));
      const ok = app.filter((x) => !x.error).map((x) => x.appPeakBytes).sort((a, b) => a - b);
      res.buildMemoryApp = ok.length ? { peakBytes: ok[(ok.length - 1) >> 1], runs: ok } : { error: app[0]?.error };
      if (ok.length) {
        const eng = res.buildMemory[0].memoryBytes;
        log(`  storage: build memory, the rows alone (no veclite, same batches and time): RSS peak +${(res.buildMemoryApp.peakBytes / 1048576).toFixed(1)} MiB ` +
          `= ${(res.buildMemoryApp.peakBytes / eng).toFixed(2)}× the file store's engine count, of its ${res.buildMemory[0].peakRatio.toFixed(2)}×`);
      }
    }

    phase = 'rvf-node peer';
    let rvfOk = false;
    try { createRequire(path.join(repoRoot, 'package.json'))('@ruvector/rvf-node'); rvfOk = true; } catch (e) { res.rvfNode = { available: false, reason: errText(e).split('\n')[0] }; }
    if (rvfOk) {
      const rs = [];
      for (let i = 0; i < runs; i++) rs.push(await runChild(repoRoot, 'rvf-node', file, qfile));
      const ok = rs.filter((x) => !x.error);
      res.rvfNode = { available: true, runs: rs, medianOpenFirstQueryMs: median(ok.map((x) => x.openFirstQueryMs)), medianTotalMs: median(ok.map((x) => x.totalMs)), medianOpenMs: median(ok.map((x) => x.openMs)), medianFirstQueryMs: median(ok.map((x) => x.firstQueryMs)), medianCpuMs: median(ok.filter((x) => x.cpuMs != null).map((x) => x.cpuMs)), maxWaitFraction: ok.length ? Math.max(...ok.map((x) => x.waitFraction ?? 0)) : null, count: ok[0]?.count ?? null, top10Overlap: ok.length ? Math.min(...ok.map((x) => overlap(x.ids, before))) : null, error: ok.length ? null : rs[0]?.error };
      log(`  storage: rvf-node child openReadonly + query: ${rs.map((x) => (x.error ? 'ERROR' : x.openFirstQueryMs.toFixed(1))).join(', ')} ms${ok.length ? '' : ` (${rs[0].error})`}`);
    }
  } catch (e) {
    res.error = `${phase}: ${errText(e)}` + (e?.stack ? `\n${e.stack.split('\n').slice(1, 4).join('\n')}` : '');
    log(`  storage: FAILED in ${res.error}`);
  } finally {
    try { fs.rmSync(tmp, { recursive: true, force: true }); res.tmpRemoved = !fs.existsSync(tmp); } catch (e) { res.tmpRemoved = false; res.errors.push(`removing ${tmp}: ${errText(e)}`); }
  }
  res.seconds = (performance.now() - t0) / 1000;
  return res;
}
