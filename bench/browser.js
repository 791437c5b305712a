// BROWSER section of the benchmark (issue 8): browser persistence in headless Chromium
// (playwright-core driving Debian's /usr/bin/chromium through tests/browser/harness.js, which also
// serves the repository with tools/serve.mjs; no browser is ever downloaded), against Node files.
// The page side is bench/browser-page.js, imported in page.evaluate().
//
//   (a) ingest: 10,000 × 128 euclidean rows (2,000 with --quick; SYNTHETIC clustered, fixed seed),
//       HNSW M=16, efConstruction=200, insertBatch in batches of 1,000, each batch a durable commit
//       (it resolves after the commit), into: OPFS in the page's default mode (createDatabase({
//       backend: 'opfs', path }): session in a worker, sync access handles), OPFS on the main thread
//       (workers: 0, createWritable swap files), IndexedDB, and memory in the page (main thread:
//       the baseline, same browser process; and memory with workers: 1, the baseline of the worker
//       mode). Each configuration in a fresh page; a 1,000-row warm-up collection in the same
//       session first (JIT tier-up). Node: the same loop into a file directory and into memory.
//       Rounds (3; 1 with --quick) interleaved across configurations; best round reported; ratios vs page memory.
//   (b) reopen-to-first-query of a 100,000 × 128 store (20,000 with --quick): built ONCE in Node
//       with the same API (HNSW M=16, efConstruction=64, to keep the build short; closed, so the
//       graph is stored as an INDEX segment and loaded, not rebuilt), then its .rvf is fetched by a
//       page and put into OPFS (veclite/<path>/big.rvf) and IndexedDB (chunk [big, 0], head
//       { length }: idb/indexeddb-store.js's layout). Then, per round, in a FRESH page of the same
//       browser context: import /web/index.js, then createDatabase + getCollection + first k=10
//       search, timed (OPFS worker, OPFS main thread, IndexedDB); and in a fresh page, reading the
//       same bytes only (OPFS getFile().arrayBuffer(), IndexedDB getAll of the chunks): first touch
//       of fresh memory costs ~3 ms/MB on these VMs, so reading the bytes is the honest floor, and
//       the reopen is reported against it; the first touch of a fresh buffer of the same size is
//       timed apart in the same page / process (ms and ms per MiB). Node reference: fresh child processes
//       (bench/browser-node-child.mjs) reading the file, then createDatabase({ path }) + getCollection
//       + first search on the same file.
//
// Invariants: nothing is asserted; the generated data and the store live in one directory under
// bench/out/ (the server's root is the repository), removed at the end, also on failure; the
// browser and server are closed in finally; a failure is returned as { error } (a crash in the report).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { generateClustered } from './datasets.js';

const K = 10, M = 16, EF_CONSTRUCTION = 200, STORE_EF_CONSTRUCTION = 64, BATCH = 1000, SEED = 20240611, DIM = 128;
const STEP_MS = 600_000;

export const INGEST_CONFIGS = [
  { key: 'opfs-worker', label: "OPFS, page default (worker, sync access handle)", backend: 'opfs' },
  { key: 'opfs-main', label: 'OPFS, main thread (workers: 0, swap files)', backend: 'opfs', workers: 0 },
  { key: 'indexeddb', label: 'IndexedDB (main thread)', backend: 'indexeddb' },
  { key: 'memory-page', label: 'memory in the page (main thread) = baseline', backend: 'memory' },
  { key: 'memory-worker', label: 'memory, workers: 1 (baseline of the worker mode)', backend: 'memory', workers: 1 },
];
const REOPEN_CONFIGS = [
  { key: 'opfs-worker', label: 'OPFS, page default (worker)', kind: 'opfs', backend: 'opfs' },
  { key: 'opfs-main', label: 'OPFS, main thread (workers: 0)', kind: 'opfs', backend: 'opfs', workers: 0 },
  { key: 'indexeddb', label: 'IndexedDB', kind: 'indexeddb', backend: 'indexeddb' },
];

const median = (xs) => { const s = xs.filter((x) => x != null).sort((a, b) => a - b); return s.length ? s[s.length >> 1] : null; };
const r1 = (x) => (x == null ? null : +x.toFixed(1));
const r2 = (x) => (x == null ? null : +x.toFixed(2));
const errText = (e) => `${e?.name ?? 'Error'}${e?.code ? ` [${e.code}]` : ''}: ${e?.message ?? e}` + (e?.stack ? `\n${e.stack.split('\n').slice(1, 4).join('\n')}` : '');
const load = () => os.loadavg().map((x) => +x.toFixed(2));

function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function nodeChild(repoRoot, dir, name, qfile) {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repoRoot, 'bench', 'browser-node-child.mjs'), dir, name, qfile, repoRoot], { timeout: 120000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const line = String(stdout).trim().split('\n').pop();
      try { resolve(JSON.parse(line)); } catch { resolve({ error: `child failed: ${err ? errText(err) : 'no JSON'}; stderr: ${String(stderr).trim().split('\n').slice(-3).join(' | ')}` }); }
    });
  });
}

/** Node ingest: the same rows, batches and config, into a file directory or memory. */
async function nodeIngest(api, data, n, dir) {
  const db = await api.createDatabase(dir ? { path: dir } : {});
  const cfg = { dimension: DIM, metric: 'euclidean', index: { type: 'hnsw', m: M, efConstruction: EF_CONSTRUCTION, seed: SEED } };
  const rowsOf = (from, to) => { const it = []; for (let i = from; i < to; i++) it.push({ id: i, vector: data.subarray(i * DIM, (i + 1) * DIM) }); return it; };
  const warm = await db.createCollection('warm', cfg);
  await warm.insertBatch(rowsOf(0, Math.min(1000, n)));
  const col = await db.createCollection('ingest', cfg);
  const lat = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i += BATCH) { const t = performance.now(); await col.insertBatch(rowsOf(i, Math.min(n, i + BATCH))); lat.push(performance.now() - t); }
  const ms = performance.now() - t0;
  const count = await col.count();
  await db.close();
  lat.sort((a, b) => a - b);
  return { ms, vectors: n, vectorsPerSec: n / (ms / 1000), commits: lat.length, medianCommitMs: lat[lat.length >> 1], maxCommitMs: lat[lat.length - 1], count };
}

/**
 * @param {{ repoRoot: string, quick: boolean, rounds: number|null, log: (s: string) => void }} args
 * @returns {Promise<object>} the figures (or { error }), printed by bench/report.js
 */
export async function runBrowser({ repoRoot, quick, rounds: roundsArg, log }) {
  const nIngest = quick ? 2000 : 10000;
  const nStore = quick ? 20000 : 100000;
  const rounds = roundsArg ?? (quick ? 1 : 3);
  const reopenRuns = quick ? 2 : 3;
  const out = {
    loadAvgAtStart: load(), cpus: os.cpus().length, rounds, reopenRuns,
    ingest: { n: nIngest, dim: DIM, metric: 'euclidean', m: M, efConstruction: EF_CONSTRUCTION, batch: BATCH, warmupRows: Math.min(1000, nIngest), configs: [], node: {} },
    reopen: { n: nStore, dim: DIM, index: `hnsw M=${M} efConstruction=${STORE_EF_CONSTRUCTION} (built once in Node, closed: graph stored)`, configs: [], node: null },
  };
  fs.mkdirSync(path.join(repoRoot, 'bench', 'out'), { recursive: true });
  const work = fs.mkdtempSync(path.join(repoRoot, 'bench', 'out', '.browser-')); // the server serves the repository
  const urlOf = (f) => '/' + path.relative(repoRoot, f).split(path.sep).join('/');
  let browser, server;
  const tStart = performance.now();
  try {
    const harness = await import(pathToFileURL(path.join(repoRoot, 'tests', 'browser', 'harness.js')).href);
    const api = await import(pathToFileURL(path.join(repoRoot, 'web', 'index.js')).href);
    // data: ingest rows and the store rows, SYNTHETIC clustered, deterministic
    const g = generateClustered({ n: nStore, dim: DIM, nq: 1, clusters: 256, seed: 20240601, gtK: 0 });
    out.dataset = { name: g.name, source: `${g.source}; deterministic (fixed generator and seed); the ingest uses the first ${nIngest} rows`, synthetic: true };
    const ingestFile = path.join(work, 'ingest.f32');
    const ing = g.base.slice(0, nIngest * DIM);
    fs.writeFileSync(ingestFile, Buffer.from(ing.buffer));
    const query = g.queries.slice(0, DIM);
    const qfile = path.join(work, 'query.f32');
    fs.writeFileSync(qfile, Buffer.from(query.buffer));

    // ---- Node ingest (reference) -------------------------------------------------------------
    ({ browser, server } = await harness.startBrowser());
    out.chromium = browser.version();
    log(`browser: Chromium ${out.chromium}; ingest ${nIngest} × ${DIM}, ${rounds} round(s); reopen of ${nStore} rows, ${reopenRuns} run(s); load ${out.loadAvgAtStart.join(' ')}`);
    const ctx = await browser.newContext();
    let seq = 0;
    const inPage = async (fn, o, what) => {
      const page = await ctx.newPage();
      const errors = [];
      page.on('pageerror', (e) => errors.push(e.message));
      try {
        const resp = await page.goto(server.url + harness.PAGE);
        if (resp?.status() !== 200) throw new Error(`page ${harness.PAGE}: HTTP ${resp?.status()}`);
        const r = await within(STEP_MS, what, page.evaluate(async ([f, a]) => (await import('/bench/browser-page.js'))[f](a), [fn, o]));
        if (errors.length) r.pageErrors = errors;
        return r;
      } finally {
        await page.close();
      }
    };

    // ---- (a) ingest ----------------------------------------------------------------------------
    const recs = INGEST_CONFIGS.map((c) => ({ key: c.key, label: c.label, backend: c.backend, workers: c.workers ?? null, rounds: [] }));
    const nodeRecs = { file: { label: 'Node, files (createDatabase({ path }))', rounds: [] }, memory: { label: 'Node, memory (createDatabase())', rounds: [] } };
    for (let r = 0; r < rounds; r++) {
      log(`browser: ingest round ${r + 1}/${rounds} (load ${load().join(' ')}) ...`);
      for (let i = 0; i < INGEST_CONFIGS.length; i++) {
        const c = INGEST_CONFIGS[i];
        const res = await inPage('ingest', { backend: c.backend, workers: c.workers, path: `bench-${process.pid}-${++seq}`, url: urlOf(ingestFile), dim: DIM, n: nIngest, batch: BATCH, m: M, efConstruction: EF_CONSTRUCTION, seed: SEED, warmup: 1000 }, `ingest ${c.key}`);
        recs[i].rounds.push(res);
        log(res.error ? `  ${c.key}: ERROR ${res.error}` : `  ${c.key}: ${Math.round(res.vectorsPerSec)} vectors/s (median commit ${res.medianCommitMs.toFixed(0)} ms; backend ${res.backend}, workers ${res.workers})`);
      }
      for (const kind of ['file', 'memory']) {
        const dir = kind === 'file' ? fs.mkdtempSync(path.join(work, 'node-ingest-')) : null;
        try { nodeRecs[kind].rounds.push(await nodeIngest(api, ing, nIngest, dir)); } catch (e) { nodeRecs[kind].rounds.push({ error: errText(e) }); }
        const x = nodeRecs[kind].rounds.at(-1);
        log(x.error ? `  node-${kind}: ERROR ${x.error}` : `  node-${kind}: ${Math.round(x.vectorsPerSec)} vectors/s`);
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    const best = (rs) => { const ok = rs.filter((x) => !x.error); return ok.length ? ok.reduce((a, x) => (x.vectorsPerSec > a.vectorsPerSec ? x : a)) : null; };
    for (const rec of recs) {
      const b = best(rec.rounds);
      Object.assign(rec, b ? { vectorsPerSec: Math.round(b.vectorsPerSec), ms: Math.round(b.ms), medianCommitMs: r1(b.medianCommitMs), maxCommitMs: r1(b.maxCommitMs), count: b.count, actualBackend: b.backend, actualWorkers: b.workers } : { vectorsPerSec: null, error: rec.rounds.find((x) => x.error)?.error });
    }
    for (const k of ['file', 'memory']) {
      const b = best(nodeRecs[k].rounds);
      Object.assign(nodeRecs[k], b ? { vectorsPerSec: Math.round(b.vectorsPerSec), ms: Math.round(b.ms), medianCommitMs: r1(b.medianCommitMs), count: b.count } : { vectorsPerSec: null, error: nodeRecs[k].rounds.find((x) => x.error)?.error });
    }
    const memPage = recs.find((x) => x.key === 'memory-page').vectorsPerSec;
    const memWorker = recs.find((x) => x.key === 'memory-worker').vectorsPerSec;
    for (const rec of recs) {
      rec.vsPageMemory = memPage && rec.vectorsPerSec ? r2(rec.vectorsPerSec / memPage) : null;
      rec.vsNodeFile = nodeRecs.file.vectorsPerSec && rec.vectorsPerSec ? r2(rec.vectorsPerSec / nodeRecs.file.vectorsPerSec) : null;
    }
    const ow = recs.find((x) => x.key === 'opfs-worker');
    ow.vsWorkerMemory = memWorker && ow.vectorsPerSec ? r2(ow.vectorsPerSec / memWorker) : null;
    nodeRecs.file.vsNodeMemory = nodeRecs.memory.vectorsPerSec && nodeRecs.file.vectorsPerSec ? r2(nodeRecs.file.vectorsPerSec / nodeRecs.memory.vectorsPerSec) : null;
    out.ingest.configs = recs;
    out.ingest.node = nodeRecs;

    // ---- (b) reopen ----------------------------------------------------------------------------
    log(`browser: building the ${nStore}-row store in Node (M=${M}, efConstruction=${STORE_EF_CONSTRUCTION}) ...`);
    const storeDir = path.join(work, 'store');
    fs.mkdirSync(storeDir);
    {
      const db = await api.createDatabase({ path: storeDir });
      const col = await db.createCollection('big', { dimension: DIM, metric: 'euclidean', index: { type: 'hnsw', m: M, efConstruction: STORE_EF_CONSTRUCTION, seed: SEED } });
      const items = new Array(nStore);
      for (let i = 0; i < nStore; i++) items[i] = { id: i, vector: g.base.subarray(i * DIM, (i + 1) * DIM) };
      const t = performance.now();
      await col.insertBatch(items);
      const buildMs = performance.now() - t;
      const before = (await col.search(query, { k: K, includeMetadata: false })).map((h) => Number(h.id));
      await db.close();
      const bytes = fs.statSync(path.join(storeDir, 'big.rvf')).size;
      Object.assign(out.reopen, { buildMs: Math.round(buildMs), fileBytes: bytes, fileMiB: r1(bytes / 1048576), top10: before });
      log(`browser: store built in ${(buildMs / 1000).toFixed(1)} s, ${(bytes / 1048576).toFixed(1)} MiB`);
    }
    const storeUrl = urlOf(path.join(storeDir, 'big.rvf'));
    const paths = { opfs: `bench-${process.pid}-store`, indexeddb: `bench-${process.pid}-store` };
    out.reopen.put = {};
    for (const kind of ['opfs', 'indexeddb']) {
      const r = await inPage('putStore', { kind, path: paths[kind], name: 'big', url: storeUrl }, `put ${kind}`);
      out.reopen.put[kind] = r;
      if (r.error) throw new Error(`putting the store into ${kind}: ${r.error}`);
      log(`browser: store put into ${kind} in ${r.writeMs.toFixed(0)} ms`);
    }
    const overlap = (ids) => (ids ? ids.filter((x) => out.reopen.top10.includes(x)).length : null);
    const rrecs = REOPEN_CONFIGS.map((c) => ({ key: c.key, label: c.label, kind: c.kind, runs: [], readRuns: [] }));
    const nodeRuns = [];
    for (let r = 0; r < reopenRuns; r++) {
      log(`browser: reopen run ${r + 1}/${reopenRuns} (load ${load().join(' ')}) ...`);
      for (let i = 0; i < REOPEN_CONFIGS.length; i++) {
        const c = REOPEN_CONFIGS[i];
        const res = await inPage('reopen', { backend: c.backend, workers: c.workers, path: paths[c.kind], name: 'big', query: Array.from(query) }, `reopen ${c.key}`);
        rrecs[i].runs.push(res);
        const rd = await inPage('readBytes', { kind: c.kind, path: paths[c.kind], name: 'big' }, `read ${c.kind}`);
        rrecs[i].readRuns.push(rd);
        log(res.error ? `  ${c.key}: ERROR ${res.error}` : `  ${c.key}: create ${res.createMs.toFixed(0)} + getCollection ${res.getMs.toFixed(0)} + first search ${res.firstQueryMs.toFixed(1)} = ${res.openFirstQueryMs.toFixed(0)} ms (import ${res.importMs.toFixed(0)} ms; reading the bytes alone ${rd.error ? 'ERROR ' + rd.error : rd.ms.toFixed(0) + ' ms; first touch of as much fresh memory ' + rd.touchMs.toFixed(0) + ' ms'})`);
      }
      const nr = await nodeChild(repoRoot, storeDir, 'big', qfile);
      nodeRuns.push(nr);
      log(nr.error ? `  node: ERROR ${nr.error}` : `  node: create ${nr.createMs.toFixed(0)} + getCollection ${nr.getMs.toFixed(0)} + first search ${nr.firstQueryMs.toFixed(1)} = ${nr.openFirstQueryMs.toFixed(0)} ms (reading the file alone ${nr.readMs.toFixed(0)} ms; first touch ${nr.touchMs.toFixed(0)} ms)`);
    }
    const summarize = (runs, reads) => {
      const ok = runs.filter((x) => !x.error);
      const okR = reads.filter((x) => !x.error);
      const s = {
        openFirstQueryMs: r1(median(ok.map((x) => x.openFirstQueryMs))), createMs: r1(median(ok.map((x) => x.createMs))), getMs: r1(median(ok.map((x) => x.getMs))),
        firstQueryMs: r2(median(ok.map((x) => x.firstQueryMs))), warmQueryMs: r2(median(ok.map((x) => x.warmQueryMs))), importMs: r1(median(ok.map((x) => x.importMs))),
        readBytesMs: r1(median(okR.map((x) => x.ms))), firstTouchMs: r1(median(okR.map((x) => x.touchMs))), indexLoaded: ok.length ? ok.every((x) => x.indexLoaded === true) : null,
        count: ok[0]?.count ?? null, top10Overlap: ok.length ? Math.min(...ok.map((x) => overlap(x.ids))) : null,
        error: ok.length ? null : runs[0]?.error ?? null,
      };
      s.vsReadBytes = s.openFirstQueryMs != null && s.readBytesMs ? r2(s.openFirstQueryMs / s.readBytesMs) : null;
      s.firstTouchMsPerMiB = s.firstTouchMs != null && out.reopen.fileBytes ? r2(s.firstTouchMs / (out.reopen.fileBytes / 1048576)) : null;
      return s;
    };
    for (const rec of rrecs) Object.assign(rec, summarize(rec.runs, rec.readRuns));
    const nodeS = summarize(nodeRuns, nodeRuns.map((x) => (x.error ? x : { ms: x.readMs, touchMs: x.touchMs })));
    out.reopen.node = { key: 'node-file', label: 'Node, file (fresh process)', runs: nodeRuns, ...nodeS };
    for (const rec of rrecs) rec.vsNode = rec.openFirstQueryMs != null && nodeS.openFirstQueryMs ? r2(rec.openFirstQueryMs / nodeS.openFirstQueryMs) : null;
    out.reopen.configs = rrecs;
    await ctx.close();
  } catch (e) {
    out.error = errText(e);
    log(`browser: FAILED — ${out.error}`);
  } finally {
    try { await browser?.close(); } catch { /* closing */ }
    try { await server?.close(); } catch { /* closing */ }
    fs.rmSync(work, { recursive: true, force: true });
    out.tmpRemoved = !fs.existsSync(work);
    out.loadAvgAtEnd = load();
    out.seconds = r1((performance.now() - tStart) / 1000);
  }
  return out;
}
