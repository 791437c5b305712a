// examples/cloudflare-worker.js — veclite on Cloudflare Workers (and plain workerd): a vector-search
// HTTP service over a store that ships inside the Worker bundle. The package tests run this exact
// file in the real workerd binary, importing 'veclite' from the installed tarball
// (tests/js/package.test.js) and from the repository (tests/workerd/workerd.test.js).
//
// Why it looks like this:
// - Workers refuse to compile WebAssembly from bytes at runtime ("Wasm code generation disallowed
//   by embedder") and give modules no import.meta.url, so the .wasm is imported as a module — the
//   platform hands over a compiled WebAssembly.Module — and passed to veclite as `wasmModule`.
//   Wrangler's default rules already treat `*.wasm` imports as CompiledWasm.
// - The store is an .rvf file imported as a Data module (an ArrayBuffer). Build it with
//   `node examples/cloudflare-store.mjs` (5,000 sample documents, 64 dimensions, cosine, with its
//   HNSW graph) and tell wrangler that .rvf files are data:
//     rules = [{ type = "Data", globs = ["**/*.rvf"] }]
//   openCollection(bytes) opens it in memory with the graph the file carries (no rebuild).
//
// State: each isolate holds its own in-memory copy of the store. /upsert and /delete change only
// that copy; Cloudflare may start several isolates and evict them at any time, so treat writes as
// a cache (persist the source of truth elsewhere, e.g. R2, and rebuild the .rvf from it).
//
// Routes (JSON in, JSON out):
//   GET  /          { implementation, simdEnabled, count, dimension, metric }
//   POST /search    { vector, k?, filter?, ef?, threshold? }  -> { hits: [{ id, score, distance, metadata }] }
//   POST /upsert    { items: [{ id, vector, metadata? }, ...] } -> { upserted, count }
//   POST /delete    { ids: [...] }                              -> { deleted, count }
// Errors: a VecliteError (or a body that is not JSON) becomes 400 { error: { code, message } };
// anything else 500.

import { openCollection, getImplementation, getWasmInfo, VecliteError } from 'veclite';
import simdWasm from 'veclite/pkg-simd/veclite.wasm';
import scalarWasm from 'veclite/pkg/veclite.wasm';
import storeBytes from './docs.rvf';

let opening; // Promise<Collection> shared by all requests of this isolate

function open() {
  opening ??= (async () => {
    // Cloudflare Workers support wasm SIMD; asking keeps the example right on runtimes without it.
    const simd = getWasmInfo().simdSupported;
    return openCollection(new Uint8Array(storeBytes), { simd, wasmModule: simd ? simdWasm : scalarWasm });
  })().catch((e) => {
    opening = undefined; // let the next request try again
    throw e;
  });
  return opening;
}

// JSON has no BigInt: ids above 2^53 (which veclite returns as bigint) are sent as strings.
const json = (body, status = 200) => new Response(
  JSON.stringify(body, (_, v) => (typeof v === 'bigint' ? v.toString() : v)),
  { status, headers: { 'content-type': 'application/json' } });

class BadRequest extends Error {}

async function body(request) {
  try {
    return await request.json();
  } catch {
    throw new BadRequest('the request body must be JSON');
  }
}

export default {
  /** @param {Request} request */
  async fetch(request) {
    const { pathname } = new URL(request.url);
    try {
      const docs = await open();
      if (request.method === 'GET' && pathname === '/') {
        return json({ implementation: getImplementation().build, simdEnabled: getWasmInfo().simdEnabled,
          count: await docs.count(), dimension: docs.dimension, metric: docs.metric });
      }
      if (request.method === 'POST' && pathname === '/search') {
        const { vector, k = 10, filter, ef, threshold } = await body(request);
        const options = { k };
        if (filter !== undefined) options.filter = filter;
        if (ef !== undefined) options.ef = ef;
        if (threshold !== undefined) options.threshold = threshold;
        return json({ hits: await docs.search(vector, options) });
      }
      if (request.method === 'POST' && pathname === '/upsert') {
        const { items } = await body(request);
        const upserted = await docs.insertBatch(items); // atomic: all items or none
        return json({ upserted, count: await docs.count() });
      }
      if (request.method === 'POST' && pathname === '/delete') {
        const { ids } = await body(request);
        const deleted = await docs.delete(ids);
        return json({ deleted, count: await docs.count() });
      }
      return json({ error: { code: 'ENOTFOUND', message: `no route ${request.method} ${pathname}` } }, 404);
    } catch (e) {
      if (e instanceof VecliteError) return json({ error: { code: e.code, message: e.message } }, 400);
      if (e instanceof BadRequest) return json({ error: { code: 'EINVAL', message: e.message } }, 400);
      return json({ error: { code: 'EINTERNAL', message: String(e?.message ?? e) } }, 500);
    }
  },
};
