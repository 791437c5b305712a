// tests/workerd/worker.js — the workerd test worker (a Cloudflare-style module Worker).
//
// How it fits: tests/workerd/workerd-config.js bundles this file, web/ (and everything it
// imports), both .mjs glues and both .wasm files into a workerd config; workerd.test.js runs the
// real workerd binary and calls the endpoints below, then judges the JSON with oracle.js in Node.
//
// Endpoints (all GET, all answer JSON):
//   /health                  liveness, loads nothing
//   /check?build=simd|scalar runCheck() + runErrorChecks() of tests/browser/pages/check.js with
//                            createDatabase({ wasmModule, simd }) — the raw results, unjudged
//   /restrictions            what workerd refuses: byte compilation, eval, new Function; what it
//                            allows: WebAssembly.validate; import.meta.url; and what
//                            createDatabase() does when no wasmModule is given (must reject, not hang)
// Invariants: .wasm files arrive as WebAssembly.Module (imported, never compiled here); every
// failure becomes a 500 with {error:{name, code, message, stack}}.

import * as veclite from '../../web/index.js';
import createSimdGlue from '../../pkg-simd/veclite.mjs';
import createScalarGlue from '../../pkg/veclite.mjs';
import simdWasm from '../../pkg-simd/veclite.wasm';
import scalarWasm from '../../pkg/veclite.wasm';
import { runCheck, runErrorChecks } from '../browser/pages/check.js';

const EMPTY_MODULE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);
// (module (func (result v128) (i32x4.splat (i32.const 0)))) — docs/building.md §2
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 8, 1, 6, 0, 65, 0, 253, 17, 11]);

const errJson = (e) => ({ name: e?.name, code: e?.code, message: String(e?.message ?? e), stack: String(e?.stack ?? '') });

async function outcome(fn) {
  try {
    const value = await fn();
    return { refused: false, value: String(value) };
  } catch (e) {
    return { refused: true, ...errJson(e) };
  }
}

function within(ms, promise) {
  let t;
  return Promise.race([promise, new Promise((_, rej) => { t = setTimeout(() => rej(new Error(`no answer within ${ms} ms`)), ms); })])
    .finally(() => clearTimeout(t));
}

async function restrictions() {
  return {
    compileBytes: await outcome(() => WebAssembly.compile(EMPTY_MODULE)),
    instantiateBytes: await outcome(() => WebAssembly.instantiate(EMPTY_MODULE)),
    newModuleBytes: await outcome(() => new WebAssembly.Module(EMPTY_MODULE)),
    indirectEval: await outcome(() => (0, eval)('1 + 1')),
    newFunction: await outcome(() => new Function('return 2')()),
    validateSimdProbe: await outcome(() => WebAssembly.validate(SIMD_PROBE)),
    importMetaUrl: String(import.meta.url),
    importedWasmIsModule: simdWasm instanceof WebAssembly.Module && scalarWasm instanceof WebAssembly.Module,
    glueIsFactory: typeof createSimdGlue === 'function' && typeof createScalarGlue === 'function',
    createDatabaseWithoutModule: await outcome(() => within(5000, veclite.createDatabase().then(async (db) => {
      await db.close();
      return 'a database';
    }))),
  };
}

async function check(build) {
  if (build !== 'simd' && build !== 'scalar') throw new Error('build must be simd or scalar');
  const dbOptions = build === 'simd' ? { simd: true, wasmModule: simdWasm } : { simd: false, wasmModule: scalarWasm };
  const run = await runCheck(veclite, dbOptions);
  const errors = await runErrorChecks(veclite, dbOptions);
  return { run, errors, implementationAfter: veclite.getImplementation().build };
}

export default {
  async fetch(request) {
    const url = new URL(request.url);
    try {
      if (url.pathname === '/health') return Response.json({ ok: true });
      if (url.pathname === '/check') return Response.json(await check(url.searchParams.get('build')));
      if (url.pathname === '/restrictions') return Response.json(await restrictions());
      return Response.json({ error: { message: `no route ${url.pathname}` } }, { status: 404 });
    } catch (e) {
      return Response.json({ error: errJson(e) }, { status: 500 });
    }
  },
};
