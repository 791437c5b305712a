// tests/js/c-unit.test.js — runs the C unit-test table (tests/unit/, docs/conventions.md §10 "one table, two
// runs") as WebAssembly, once per build: build/unit-scalar.mjs and build/unit-simd.mjs (made by
// `make build/unit-scalar.mjs build/unit-simd.mjs`, which `make test` does first).
//
// Each module is instantiated exactly like the engine: a WebAssembly.Module compiled from the
// adjacent .wasm (web/loader.js compileWasm) handed to worker/instantiate.js. One node:test per C
// test per build; a test passes when vl_test_run(i) returns 0. The C output (file:line of the
// failed CHECK) is captured and shown in the assertion message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { instantiate } from '../../worker/instantiate.js';
import { compileWasm } from '../../web/loader.js';

for (const variant of ['scalar', 'simd']) {
  const glueUrl = new URL(`../../build/unit-${variant}.mjs`, import.meta.url);
  const wasmUrl = new URL(`../../build/unit-${variant}.wasm`, import.meta.url);
  if (!existsSync(fileURLToPath(glueUrl)) || !existsSync(fileURLToPath(wasmUrl))) {
    test(`C unit table (${variant}) is built`, () => {
      assert.fail(`${fileURLToPath(glueUrl)} is missing: run \`make build/unit-${variant}.mjs\` (make test does)`);
    });
    continue;
  }
  const { default: factory } = await import(glueUrl.href);
  const out = [];
  const M = await instantiate(factory, await compileWasm(wasmUrl), {
    print: (s) => out.push(s),
    printErr: (s) => out.push(s),
  });
  const n = M._vl_test_count();
  test(`C unit table (${variant}) has tests`, () => assert.ok(n > 0, `vl_test_count() = ${n}`));
  for (let i = 0; i < n; i++) {
    const name = M.UTF8ToString(M._vl_test_name(i) >>> 0);
    test(`C ${variant}: ${name}`, () => {
      out.length = 0;
      const rc = M._vl_test_run(i);
      assert.equal(rc, 0, `vl_test_run(${i}) [${name}] returned ${rc}:\n${out.join('\n')}`);
    });
  }
}
