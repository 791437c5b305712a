// worker/engine.js — makes a session's engine: the Emscripten glue of the chosen build plus a
// compiled veclite.wasm the facade hands over (web/loader.js compiles it once per process; a
// WebAssembly.Module crosses to a worker by structured clone), instantiated and checked.
//
// Invariants:
// - Never fetches or compiles bytes (workerd forbids it): it instantiates a given module.
// - Every failure is a VecliteError('EBACKEND') that says what to do.
// - The engine's published enums must match the JS mirrors (worker/config.js checkConstants):
//   a .wasm from another build is refused instead of misread.

import { VecliteError } from './errors.js';
import { instantiate } from './instantiate.js';
import { Engine } from './bind.js';
import { checkConstants } from './config.js';

/** The glue factory of a build (literal dynamic imports, so bundlers can follow them). */
export async function glueFactory(simd) {
  const dir = simd ? 'pkg-simd' : 'pkg';
  try {
    return simd
      ? (await import('../pkg-simd/veclite.mjs')).default
      : (await import('../pkg/veclite.mjs')).default;
  } catch (e) {
    throw new VecliteError('EBACKEND',
      `could not import ${dir}/veclite.mjs (${e?.message ?? e}); build it with \`make build\` and make sure your ` +
      'bundler or server ships the pkg/ and pkg-simd/ directories', { cause: e });
  }
}

/**
 * Instantiate the Emscripten Module of a build over a compiled module.
 * @param {{ simd: boolean, wasmModule: WebAssembly.Module, print?: Function, printErr?: Function }} o
 */
export async function instantiateModule({ simd, wasmModule, print, printErr }) {
  const factory = await glueFactory(simd);
  const moduleArg = {};
  if (print) moduleArg.print = print;
  if (printErr) moduleArg.printErr = printErr;
  try {
    return await instantiate(factory, wasmModule, moduleArg);
  } catch (e) {
    throw new VecliteError('EBACKEND',
      `could not instantiate the veclite WebAssembly module (${e?.name ?? 'Error'}: ${e?.message ?? e}); ` +
      'pass a WebAssembly.Module compiled from pkg/veclite.wasm or pkg-simd/veclite.wasm of this veclite version',
      { cause: e });
  }
}

/**
 * A checked engine over a compiled module.
 * @param {{ simd: boolean, wasmModule: WebAssembly.Module }} o
 * @returns {Promise<Engine>}
 */
export async function loadEngine(o) {
  const engine = new Engine(await instantiateModule(o));
  const bad = checkConstants(engine.C);
  if (bad) {
    throw new VecliteError('EBACKEND', `veclite.wasm disagrees with the JavaScript about ${bad}; the .wasm and the JS come from different builds`);
  }
  if (!engine.C.storeFlags) {
    throw new VecliteError('EBACKEND', 'veclite.wasm has no storage layer; the .wasm and the JS come from different builds — rebuild with `make build`');
  }
  return engine;
}
