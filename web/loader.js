// web/loader.js — picks and compiles one of the two engine builds (docs/api.md §1, docs/building.md §2).
//
//   pkg-simd/veclite.{mjs,wasm}  built with -msimd128 (SIMD distance kernels)
//   pkg/veclite.{mjs,wasm}       scalar, provably free of SIMD opcodes
//
// SIMD support is detected by validating a 29-byte module that uses one v128 instruction. The
// glue is imported with literal dynamic imports and the .wasm located with literal
// `new URL('../pkg…/veclite.wasm', import.meta.url)` expressions, so bundlers can follow both.
// Node reads file: URLs with node:fs/promises (Node 20's fetch has no file: support) and meanwhile
// loads the Node file backend's modules, so the first file open does not import them; browsers
// use compileStreaming and fall back to ArrayBuffer compilation on a wrong MIME type.
//
// Invariants:
// - When the caller passes a compiled WebAssembly.Module (workerd: byte compilation is not
//   allowed and import.meta.url is undefined) nothing is fetched or compiled and import.meta.url
//   is never read.
// - Compiled modules are cached per build; every load makes a fresh instance, so both builds
//   (and several databases) can live in one process side by side.
// - Every failure rejects with a VecliteError('EBACKEND'); nothing hangs on a LinkError.
// - This file never calls the engine's exports (worker/bind.js is the only one that does).

import { instantiateModule } from '../worker/engine.js';
import { VecliteError } from '../worker/errors.js';

// (module (func (result v128) (i32x4.splat (i32.const 0))))  -- 29 bytes, made with wasm-as
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 8, 1, 6, 0, 65, 0, 253, 17, 11,
]);

let simdCache;

/**
 * Whether this JavaScript engine supports WebAssembly SIMD (fixed-width, 128-bit).
 * @returns {boolean}
 */
export function simdSupported() {
  if (simdCache === undefined) {
    try { simdCache = WebAssembly.validate(SIMD_PROBE); } catch { simdCache = false; }
  }
  return simdCache;
}

/**
 * Compile a .wasm file from a URL (file:, http:, https:, blob:, data:).
 * @param {URL|string} url
 * @returns {Promise<WebAssembly.Module>}
 */
export async function compileWasm(url) {
  url = new URL(url);
  if (url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    // A file: URL means Node: load the file backend's modules (worker/stores.js nodeBackend: the
    // device, the lock module, node:fs & co.) while the wasm compiles, so the first file open does
    // not pay for them (issue 10 "open at the speed of the bytes"). A failure here is left to the
    // open that needs them, which reports it.
    const [mod] = await Promise.all([
      readFile(url).then((b) => WebAssembly.compile(b)),
      import('../worker/stores.js').then((st) => st.nodeBackend('prefetch')).catch(() => null),
    ]);
    return mod;
  }
  if (typeof WebAssembly.compileStreaming === 'function') {
    try {
      return await WebAssembly.compileStreaming(fetch(url, { credentials: 'same-origin' }));
    } catch (e) {
      if (!(e instanceof TypeError)) throw e; // wrong MIME type -> compile from bytes below
    }
  }
  const res = await fetch(url, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`HTTP ${res.status} for ${url}`);
  return WebAssembly.compile(await res.arrayBuffer());
}

/** @type {{ simd: Promise<WebAssembly.Module>|null, scalar: Promise<WebAssembly.Module>|null }} */
const compiled = { simd: null, scalar: null };

function compiledModule(simd) {
  const key = simd ? 'simd' : 'scalar';
  if (!compiled[key]) {
    compiled[key] = compileWasm(simd
      ? new URL('../pkg-simd/veclite.wasm', import.meta.url)
      : new URL('../pkg/veclite.wasm', import.meta.url));
    compiled[key].catch(() => { compiled[key] = null; }); // retry after a failure
  }
  return compiled[key];
}

/**
 * The compiled module a session instantiates: the caller's, or the chosen build compiled once
 * per process (SIMD when supported, unless `simd` says otherwise).
 * @param {{ simd?: boolean, wasmModule?: WebAssembly.Module }} [options]
 * @returns {Promise<{ simd: boolean, wasmModule: WebAssembly.Module }>} simd: which glue to use
 *   (the kernels actually compiled in are read from the instance: a passed module may be either build)
 */
export async function resolveWasm({ simd, wasmModule } = {}) {
  if (simd !== undefined && typeof simd !== 'boolean') {
    throw new VecliteError('EINVAL', `options.simd must be true, false or undefined (got ${typeof simd})`);
  }
  if (wasmModule !== undefined && !(wasmModule instanceof WebAssembly.Module)) {
    throw new VecliteError('EINVAL',
      'options.wasmModule must be a WebAssembly.Module compiled from pkg/veclite.wasm or pkg-simd/veclite.wasm');
  }
  const wantSimd = simd ?? simdSupported();
  if (wantSimd && !simdSupported() && !wasmModule) {
    throw new VecliteError('EBACKEND',
      'this JavaScript engine does not support WebAssembly SIMD; load the scalar build with { simd: false }');
  }
  if (wasmModule) return { simd: wantSimd, wasmModule };
  const dir = wantSimd ? 'pkg-simd' : 'pkg';
  try {
    return { simd: wantSimd, wasmModule: await compiledModule(wantSimd) };
  } catch (e) {
    const noUrl = e instanceof TypeError && /URL/i.test(String(e.message));
    throw new VecliteError('EBACKEND',
      `could not load ${dir}/veclite.wasm (${e?.name ?? 'Error'}: ${e?.message ?? e})` +
      (noUrl ? ': this runtime gives modules no usable import.meta.url, so the file cannot be located; ' : '; ') +
      `serve or ship ${dir}/veclite.wasm next to web/ (build it with \`make build\`), or import ${dir}/veclite.wasm as a ` +
      'WebAssembly.Module yourself and pass it as createDatabase({ wasmModule }) (required on Cloudflare Workers and ' +
      'other runtimes that forbid compiling bytes)', { cause: e });
  }
}

/**
 * Load a fresh Emscripten Module (resolveWasm, then instantiate in this thread).
 * @param {{ simd?: boolean, wasmModule?: WebAssembly.Module, print?: Function, printErr?: Function }} [options]
 * @returns {Promise<{ M: any, simd: boolean }>}
 */
export async function loadModule(options = {}) {
  const r = await resolveWasm(options);
  const M = await instantiateModule({ ...r, print: options.print, printErr: options.printErr });
  return { M, simd: r.simd };
}
