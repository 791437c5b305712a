// worker/instantiate.js — turns an Emscripten glue factory plus a compiled WebAssembly.Module into a
// ready Module object, the same way in Node, browsers, module Workers and workerd (docs/building.md §2).
//
// Invariants:
// - Never fetches and never compiles bytes: workerd forbids byte compilation, so the caller
//   brings a WebAssembly.Module (Module -> Instance is allowed everywhere).
// - `locateFile` is overridden so the glue never evaluates `new URL('x.wasm', import.meta.url)`
//   (import.meta.url is undefined in workerd).
// - A failed instantiation (LinkError, or a module whose exports do not fit the glue) rejects the
//   returned promise; without the race the glue's `ready` promise would hang forever.

/**
 * Instantiate an Emscripten MODULARIZE factory with a pre-compiled module.
 * @param {(moduleArg: object) => Promise<any>} factory the glue's default export
 * @param {WebAssembly.Module} wasmModule the matching compiled .wasm
 * @param {object} [moduleArg] extra Module settings (print, printErr)
 * @returns {Promise<any>} the Emscripten Module object
 */
export function instantiate(factory, wasmModule, moduleArg = {}) {
  let fail;
  const failed = new Promise((_, reject) => { fail = reject; });
  let ready;
  try {
    ready = factory({
      ...moduleArg,
      locateFile: (path) => path,
      instantiateWasm(imports, receiveInstance) {
        WebAssembly.instantiate(wasmModule, imports)
          .then((instance) => receiveInstance(instance, wasmModule))
          .catch(fail);
        return {}; // asynchronous instantiation
      },
    });
  } catch (e) {
    return Promise.reject(e);
  }
  return Promise.race([ready, failed]);
}
