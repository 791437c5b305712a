// examples/cloudflare-worker.js — veclite on Cloudflare Workers (and plain workerd): a small
// vector-search HTTP service. tests/workerd/workerd.test.js runs this exact file in the real
// workerd binary.
//
// Why it looks like this: Workers refuse to compile WebAssembly from bytes at runtime ("Wasm code
// generation disallowed by embedder") and have no import.meta.url, so the .wasm is imported as a
// module — the platform hands us a compiled WebAssembly.Module — and passed to createDatabase as
// `wasmModule`. Wrangler's default rules already treat `*.wasm` imports as CompiledWasm.
//
// In your own project, import from the package instead of the repository paths:
//   import { createDatabase, getImplementation, getWasmInfo, VecliteError } from 'veclite';
//   import simdWasm from 'veclite/pkg-simd/veclite.wasm';
//   import scalarWasm from 'veclite/pkg/veclite.wasm';
//
// State: the database lives in the memory of one isolate. Cloudflare may start several isolates
// and evict them at any time, so treat it as a cache you can rebuild (load your vectors at start
// from R2/KV/D1), not as storage.
//
// Routes (JSON in, JSON out):
//   GET  /          { implementation, simdEnabled, count, dimension }
//   POST /upsert    { items: [{ id, vector, metadata? }, ...] }       -> { upserted, count }
//   POST /search    { vector, k?, filter?, ef?, threshold? }           -> { hits: [{ id, score, distance, metadata }] }
//   POST /delete    { ids: [...] }                                     -> { deleted, count }
// Errors: a VecliteError (or a body that is not JSON) becomes 400 { error: { code, message } };
// anything else 500.
// Config: env.VECLITE_DIMENSION (a wrangler var; default 384, the size of many sentence embeddings).

import { createDatabase, getImplementation, getWasmInfo, VecliteError } from '../web/index.js';
import simdWasm from '../pkg-simd/veclite.wasm';
import scalarWasm from '../pkg/veclite.wasm';

let opening; // Promise<{ db, docs, dimension }> shared by all requests of this isolate

function open(env) {
  opening ??= (async () => {
    const dimension = Number(env?.VECLITE_DIMENSION ?? 384);
    // Cloudflare Workers support wasm SIMD; asking keeps the example right on runtimes without it.
    const simd = getWasmInfo().simdSupported;
    const db = await createDatabase({ simd, wasmModule: simd ? simdWasm : scalarWasm });
    const docs = await db.createCollection('docs', {
      dimension,
      metric: 'cosine',
      index: { type: 'hnsw', m: 16, efConstruction: 200, ef: 64 },
    });
    return { db, docs, dimension };
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
  /**
   * @param {Request} request
   * @param {{ VECLITE_DIMENSION?: string }} env
   */
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    try {
      const { docs, dimension } = await open(env);
      if (request.method === 'GET' && pathname === '/') {
        return json({ implementation: getImplementation().build, simdEnabled: getWasmInfo().simdEnabled,
          count: await docs.count(), dimension });
      }
      if (request.method === 'POST' && pathname === '/upsert') {
        const { items } = await body(request);
        const upserted = await docs.insertBatch(items); // atomic: all items or none
        return json({ upserted, count: await docs.count() });
      }
      if (request.method === 'POST' && pathname === '/search') {
        const { vector, k = 10, filter, ef, threshold } = await body(request);
        const options = { k };
        if (filter !== undefined) options.filter = filter;
        if (ef !== undefined) options.ef = ef;
        if (threshold !== undefined) options.threshold = threshold;
        const hits = await docs.search(vector, options);
        return json({ hits });
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
