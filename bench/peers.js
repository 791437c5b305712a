// Engine adapters for the benchmark: veclite (SIMD and scalar builds, through the public JS API
// in web/index.js), hnswlib-wasm 0.8.2, hnswlib-node (native) and an exact JS brute force.
//
// Every adapter has the same shape:
//   { key, label, runtime, simd, async, efs, warmup?(ds, nWarm), prepare(ds), insertAll(),
//     setEf(ef), search(i), ids(result), memory(), close() }
// Invariants:
// - warmup() (optional) builds and searches a small throwaway index in a separate instance that
//   stays alive until close(), so JIT / wasm tier-up code is neither timed nor counted in RSS Δ.
// - prepare() does all untimed work (load module, create the empty index, convert inputs to the
//   types each API wants); insertAll() is exactly the timed build; search(i) is one public-API
//   query for query row i with k = 10 at the ef last given to setEf().
// - A factory throws EngineUnavailable when the engine cannot be loaded at all (missing build,
//   native addon not compiled); any other exception is a real failure and is reported as such.

import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

export const K = 10;
export const EFS = [10, 50, 100, 200];
export const M = 16;
export const EF_CONSTRUCTION = 200;

/** The engine could not be loaded (as opposed to crashing while measured). */
export class EngineUnavailable extends Error {
  constructor(message) { super(message); this.name = 'EngineUnavailable'; }
}

const rowView = (a, dim, i) => a.subarray(i * dim, (i + 1) * dim);

/**
 * veclite through web/index.js.
 * @param {{ repoRoot: string, simd: boolean }} opt
 */
export async function vecliteEngine({ repoRoot, simd }) {
  const pkgDir = simd ? 'pkg-simd' : 'pkg';
  const need = ['web/index.js', `${pkgDir}/veclite.mjs`, `${pkgDir}/veclite.wasm`];
  const missing = need.filter((f) => !fs.existsSync(path.join(repoRoot, f)));
  if (missing.length) throw new EngineUnavailable(`missing ${missing.join(', ')} (run \`make build\`)`);
  const api = await import(pathToFileURL(path.join(repoRoot, 'web', 'index.js')).href);
  const eng = {
    key: simd ? 'veclite-simd' : 'veclite-scalar',
    label: simd ? 'veclite SIMD' : 'veclite scalar',
    runtime: `wasm (${pkgDir}/)`,
    simd,
    async: true,
    efs: EFS,
    wasmFile: path.join(repoRoot, pkgDir, 'veclite.wasm'),
    info: {},
    /** Throwaway build + searches in a separate database (JIT / wasm tier-up), kept open until close(). */
    async warmup(ds, nWarm) {
      this.warmDb = await api.createDatabase({ simd });
      const col = await this.warmDb.createCollection('warmup', {
        dimension: ds.dim, metric: 'euclidean', index: { type: 'hnsw', m: M, efConstruction: EF_CONSTRUCTION },
      });
      const items = [];
      for (let i = 0; i < nWarm; i++) items.push({ id: i, vector: rowView(ds.base, ds.dim, i) });
      await col.insertBatch(items);
      for (let i = 0; i < 200; i++) await col.search(rowView(ds.queries, ds.dim, i % ds.nq), { k: K, ef: 50, includeMetadata: false });
    },
    async prepare(ds) {
      this.ds = ds;
      this.db = await api.createDatabase({ simd });
      this.info.implementation = api.getImplementation().build;
      try { this.info.wasmInfo = api.getWasmInfo(); } catch (e) { this.info.wasmInfo = { error: String(e) }; }
      const want = simd ? 'wasm-simd' : 'wasm';
      if (this.info.implementation !== want) {
        this.info.warning = `getImplementation() is '${this.info.implementation}', expected '${want}'`;
      }
      this.col = await this.db.createCollection('bench', {
        dimension: ds.dim, metric: 'euclidean', index: { type: 'hnsw', m: M, efConstruction: EF_CONSTRUCTION },
      });
      this.items = new Array(ds.n);
      for (let i = 0; i < ds.n; i++) this.items[i] = { id: i, vector: rowView(ds.base, ds.dim, i) };
      this.qv = new Array(ds.nq);
      for (let i = 0; i < ds.nq; i++) this.qv[i] = rowView(ds.queries, ds.dim, i);
    },
    async insertAll() {
      const c = await this.col.insertBatch(this.items);
      if (c !== undefined && c !== this.ds.n) throw new Error(`insertBatch returned ${c}, expected ${this.ds.n}`);
      this.items = null;
    },
    setEf(ef) { this.opts = { k: K, ef, includeMetadata: false }; },
    search(i) { return this.col.search(this.qv[i], this.opts); },
    ids(hits) { return hits.map((h) => h.id); },
    /** Queries per second through searchBatch (one call over all nq queries, repeated). */
    async batchQps(nq, ef, minMs, now) {
      const qs = this.qv.slice(0, nq), opts = { k: K, ef, includeMetadata: false };
      await this.col.searchBatch(qs, opts);                 // warm-up
      let count = 0, t;
      const t0 = now();
      do { await this.col.searchBatch(qs, opts); count += qs.length; t = now(); } while (t - t0 < minMs);
      return { qps: count / ((t - t0) / 1000), queries: count, seconds: (t - t0) / 1000, ef };
    },
    async memory() {
      const s = await this.col.stats();
      const count = s.count ?? (await this.col.count());
      if (count !== this.ds.n) this.info.warning = `${this.info.warning ? this.info.warning + '; ' : ''}stats().count ${count} != ${this.ds.n}`;
      return {
        bytesPerVector: s.memoryBytes / count,
        source: 'stats().memoryBytes / count (engine accounting)',
        memoryBytes: s.memoryBytes,
        statsBytesPerVector: s.bytesPerVector,
        tombstones: s.tombstones,
        statsImplementation: s.implementation,
      };
    },
    async close() {
      try { if (this.db) await this.db.close(); } finally {
        this.col = null; this.db = null;
        if (this.warmDb) { const w = this.warmDb; this.warmDb = null; await w.close(); }
      }
    },
  };
  return eng;
}

/** Finds hnswlib-wasm's Emscripten factory module (dist/hnswlib-<hash>.js). */
function hnswlibWasmFactoryFile(repoRoot) {
  const dist = path.join(repoRoot, 'node_modules', 'hnswlib-wasm', 'dist');
  if (!fs.existsSync(dist)) throw new EngineUnavailable('node_modules/hnswlib-wasm missing (run `npm ci`)');
  const f = fs.readdirSync(dist).find((n) => /^hnswlib-[0-9a-f]+\.js$/.test(n));
  if (!f) throw new EngineUnavailable(`no hnswlib-<hash>.js factory in ${dist}`);
  return path.join(dist, f);
}

/**
 * The wasm embedded (base64 data URI) in hnswlib-wasm's factory, for the size comparison.
 * @returns {Uint8Array | null}
 */
export function hnswlibWasmBinary(repoRoot) {
  try {
    const src = fs.readFileSync(hnswlibWasmFactoryFile(repoRoot), 'latin1');
    const m = /data:application\/octet-stream;base64,([A-Za-z0-9+/=]+)/.exec(src);
    return m ? new Uint8Array(Buffer.from(m[1], 'base64')) : null;
  } catch { return null; }
}

/** hnswlib-wasm 0.8.2 (Emscripten build of hnswlib, no SIMD), factory called directly. */
export async function hnswlibWasmEngine({ repoRoot }) {
  const file = hnswlibWasmFactoryFile(repoRoot);
  const version = JSON.parse(fs.readFileSync(path.join(repoRoot, 'node_modules', 'hnswlib-wasm', 'package.json'), 'utf8')).version;
  // Its glue is built for ENVIRONMENT=web and touches `window`; loadHnswlib() would also insist
  // on mounting IDBFS, so we call the Emscripten factory ourselves.
  if (typeof globalThis.window === 'undefined') globalThis.window = globalThis;
  const mod = await import(pathToFileURL(file).href);
  return {
    key: 'hnswlib-wasm',
    label: `hnswlib-wasm ${version}`,
    runtime: 'wasm (Emscripten)',
    simd: false,
    async: false,
    efs: EFS,
    info: { factory: path.relative(repoRoot, file) },
    /** Throwaway build + searches in a separate module instance, kept alive until close(). */
    async warmup(ds, nWarm) {
      this.warmLib = await mod.default();
      const idx = new this.warmLib.HierarchicalNSW('l2', ds.dim, '');
      idx.initIndex(nWarm, M, EF_CONSTRUCTION, 100);
      for (let i = 0; i < nWarm; i++) idx.addPoint(rowView(ds.base, ds.dim, i), i, false);
      idx.setEfSearch(50);
      for (let i = 0; i < 200; i++) idx.searchKnn(rowView(ds.queries, ds.dim, i % ds.nq), K, undefined);
      this.warmIndex = idx;
    },
    async prepare(ds) {
      this.ds = ds;
      this.lib = await mod.default();
      this.index = new this.lib.HierarchicalNSW('l2', ds.dim, '');
      this.heap0 = this.lib.HEAPU8.buffer.byteLength;
      this.index.initIndex(ds.n, M, EF_CONSTRUCTION, 100);
      this.rows = new Array(ds.n);
      for (let i = 0; i < ds.n; i++) this.rows[i] = rowView(ds.base, ds.dim, i);
      this.qv = new Array(ds.nq);
      for (let i = 0; i < ds.nq; i++) this.qv[i] = rowView(ds.queries, ds.dim, i);
    },
    async insertAll() {
      const idx = this.index, rows = this.rows;
      for (let i = 0; i < rows.length; i++) idx.addPoint(rows[i], i, false);
      if (idx.getCurrentCount() !== this.ds.n) throw new Error(`getCurrentCount() ${idx.getCurrentCount()} != ${this.ds.n}`);
      this.rows = null;
    },
    setEf(ef) { this.index.setEfSearch(ef); },
    search(i) { return this.index.searchKnn(this.qv[i], K, undefined); },
    ids(r) { return r.neighbors; },
    async memory() {
      const heap = this.lib.HEAPU8.buffer.byteLength;
      return {
        bytesPerVector: null,
        source: `no engine accounting exposed; its wasm memory ${heap - this.heap0 === 0 ? 'stayed at' : 'grew to'} ${heap.toLocaleString('en-US')} B (page-granular, not a per-vector figure); see RSS delta`,
        wasmMemoryBytes: heap,
        wasmMemoryGrowthBytes: heap - this.heap0,
      };
    },
    async close() {
      for (const h of [this.index, this.warmIndex]) { try { h?.delete?.(); } catch { /* embind handle already gone */ } }
      this.index = this.warmIndex = null; this.lib = this.warmLib = null;
    },
  };
}

/** hnswlib-node (native C++ addon). Unavailable when the addon is not built. */
export async function hnswlibNodeEngine({ repoRoot }) {
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
    label: `hnswlib-node ${version}`,
    runtime: 'native C++ addon',
    simd: 'host',
    async: false,
    efs: EFS,
    info: {},
    /** Throwaway build + searches, for symmetry with the wasm engines. */
    async warmup(ds, nWarm) {
      const idx = new lib.HierarchicalNSW('l2', ds.dim);
      idx.initIndex(nWarm, M, EF_CONSTRUCTION, 100);
      for (let i = 0; i < nWarm; i++) idx.addPoint(Array.from(rowView(ds.base, ds.dim, i)), i);
      idx.setEf(50);
      for (let i = 0; i < 200; i++) idx.searchKnn(Array.from(rowView(ds.queries, ds.dim, i % ds.nq)), K);
    },
    async prepare(ds) {
      this.ds = ds;
      this.index = new lib.HierarchicalNSW('l2', ds.dim);
      this.index.initIndex(ds.n, M, EF_CONSTRUCTION, 100);
      // Its binding accepts only plain Arrays: convert outside the timed parts.
      this.rows = new Array(ds.n);
      for (let i = 0; i < ds.n; i++) this.rows[i] = Array.from(rowView(ds.base, ds.dim, i));
      this.qv = new Array(ds.nq);
      for (let i = 0; i < ds.nq; i++) this.qv[i] = Array.from(rowView(ds.queries, ds.dim, i));
    },
    async insertAll() {
      const idx = this.index, rows = this.rows;
      for (let i = 0; i < rows.length; i++) idx.addPoint(rows[i], i);
      if (idx.getCurrentCount() !== this.ds.n) throw new Error(`getCurrentCount() ${idx.getCurrentCount()} != ${this.ds.n}`);
    },
    dropInputs() { this.rows = null; },
    setEf(ef) { this.index.setEf(ef); },
    search(i) { return this.index.searchKnn(this.qv[i], K); },
    ids(r) { return r.neighbors; },
    async memory() {
      return { bytesPerVector: null, source: 'no engine accounting exposed; see RSS delta' };
    },
    async close() { this.index = null; this.rows = null; },
  };
}

/** Exact brute force over one Float32Array, squared L2, top-10 by insertion. */
export async function bruteForceEngine() {
  return {
    key: 'js-brute',
    label: 'JS brute force',
    runtime: 'JS (Float32Array, exact)',
    simd: false,
    async: false,
    efs: [null],
    info: {},
    async prepare(ds) {
      this.ds = ds;
      this.data = new Float32Array(ds.n * ds.dim);
      this.ids10 = new Int32Array(K); this.d10 = new Float64Array(K);
    },
    async insertAll() { this.data.set(this.ds.base); },
    setEf() {},
    search(qi) {
      // Squared L2 in float64 with 4 accumulators (unrolled), top-10 by insertion.
      const { dim, n, queries } = this.ds, data = this.data, ids = this.ids10, ds = this.d10;
      ids.fill(-1); ds.fill(Infinity);
      const qo = qi * dim;
      let worst = Infinity;
      for (let i = 0, bo = 0; i < n; i++, bo += dim) {
        let d0 = 0, d1 = 0, d2 = 0, d3 = 0, j = 0;
        for (; j + 3 < dim; j += 4) {
          const a = data[bo + j] - queries[qo + j], b = data[bo + j + 1] - queries[qo + j + 1];
          const c = data[bo + j + 2] - queries[qo + j + 2], e = data[bo + j + 3] - queries[qo + j + 3];
          d0 += a * a; d1 += b * b; d2 += c * c; d3 += e * e;
        }
        let d = d0 + d1 + d2 + d3;
        for (; j < dim; j++) { const a = data[bo + j] - queries[qo + j]; d += a * a; }
        if (d < worst) {
          let p = K - 1;
          while (p > 0 && ds[p - 1] > d) { ds[p] = ds[p - 1]; ids[p] = ids[p - 1]; p--; }
          ds[p] = d; ids[p] = i; worst = ds[K - 1];
        }
      }
      return ids;
    },
    ids(r) { return Array.from(r); },
    async memory() {
      return { bytesPerVector: this.data.byteLength / this.ds.n, source: 'raw Float32Array bytes / n (exact, by construction)' };
    },
    async close() { this.data = null; },
  };
}
