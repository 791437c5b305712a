// tests/js/makefile.test.js — the build rule never leaves a half-made package that make then
// takes for up to date.
//
// Runs the real Makefile on a copy of it and of src/, with stand-in compilers (shell scripts
// that write files quickly) so the rule's logic is tested without a 30 s emcc run:
// - a failing wasm-opt leaves pkg/ exactly as it was, and make still wants to rebuild;
// - an emcc killed mid-write (it leaves a partial .mjs and exits non-zero) likewise;
// - a good run puts the optimised .wasm and the .mjs in place, and then make is satisfied.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'veclite-make-'));
after(() => fs.rmSync(TMP, { recursive: true, force: true }));

/** A stand-in emcc: writes `<out>.mjs` and the matching .wasm; EMCC_FAIL=1 leaves half a file and fails. */
const EMCC_STUB = `#!/bin/sh
out=""
while [ $# -gt 0 ]; do [ "$1" = "-o" ] && out="$2"; shift; done
if [ "$EMCC_FAIL" = 1 ]; then printf 'half' > "$out"; exit 1; fi
printf 'glue %s' "$STAMP" > "$out"
printf 'raw %s' "$STAMP" > "\${out%.mjs}.wasm"
`;
/** A stand-in wasm-opt: copies input to -o with an "opt" mark; OPT_FAIL=1 writes half and fails. */
const OPT_STUB = `#!/bin/sh
in=""; out=""
while [ $# -gt 0 ]; do case "$1" in -o) out="$2"; shift;; -*) ;; *) in="$1";; esac; shift; done
if [ "$OPT_FAIL" = 1 ]; then printf 'half-optimised' > "$out"; exit 1; fi
{ printf 'opt '; cat "$in"; } > "$out"
`;

function setup() {
  const dir = fs.mkdtempSync(path.join(TMP, 'tree-'));
  fs.copyFileSync(path.join(ROOT, 'Makefile'), path.join(dir, 'Makefile'));
  fs.cpSync(path.join(ROOT, 'src'), path.join(dir, 'src'), { recursive: true });
  for (const [name, body] of [['emcc', EMCC_STUB], ['wasm-opt', OPT_STUB]]) {
    fs.writeFileSync(path.join(dir, name), body, { mode: 0o755 });
  }
  return dir;
}

function make(dir, env, ...goals) {
  return spawnSync('make', ['--no-print-directory', `EMCC=${dir}/emcc`, `WASM_OPT=${dir}/wasm-opt`, 'VARIANT=scalar', ...goals], {
    cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8',
  });
}

const read = (dir, f) => fs.readFileSync(path.join(dir, 'pkg', f), 'utf8');
/** Make the sources newer than the package, as an edit would. */
function touchSources(dir) {
  const t = new Date(Date.now() + 5000);
  fs.utimesSync(path.join(dir, 'src', 'wasm.c'), t, t);
}

test('a failed or interrupted build leaves pkg/ as it was and make still wants to rebuild', { skip: !hasMake() && 'no make here' }, () => {
  const dir = setup();
  let r = make(dir, { STAMP: 'v1' }, 'variant');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(read(dir, 'veclite.mjs'), 'glue v1');
  assert.equal(read(dir, 'veclite.wasm'), 'opt raw v1');
  assert.equal(make(dir, {}, '-q', 'variant').status, 0, 'up to date after a good build');

  touchSources(dir);
  for (const env of [{ OPT_FAIL: '1', STAMP: 'v2' }, { EMCC_FAIL: '1', STAMP: 'v2' }]) {
    r = make(dir, env, 'variant');
    assert.notEqual(r.status, 0, `${JSON.stringify(env)}: the build fails`);
    assert.equal(read(dir, 'veclite.mjs'), 'glue v1', `${JSON.stringify(env)}: the old glue stays`);
    assert.equal(read(dir, 'veclite.wasm'), 'opt raw v1', `${JSON.stringify(env)}: no half-optimised .wasm in pkg/`);
    assert.notEqual(make(dir, {}, '-q', 'variant').status, 0, `${JSON.stringify(env)}: make still wants to rebuild`);
  }
  r = make(dir, { STAMP: 'v3' }, 'variant');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(read(dir, 'veclite.wasm'), 'opt raw v3');
  assert.equal(read(dir, 'veclite.mjs'), 'glue v3');
});

function hasMake() {
  return spawnSync('make', ['--version']).status === 0;
}

// Issue 9 point 4: `make run` (and build, serve) must install only what building and running
// need — emscripten, binaryen, wabt and the npm packages — never clang or Chromium, which only
// `make test` (native sanitizer build, fuzz replay, browser tests) uses. Read from `make -n`
// (recursive makes print, nothing runs) and from `tools/ensure-deps.sh --list GROUP`, which
// prints a group's Debian packages and installs nothing.
/** The ensure-deps.sh invocations `make -n <goal>` would run, as [group] lists. */
function depsGroups(goal) {
  const r = spawnSync('make', ['-n', '--no-print-directory', goal], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return [...r.stdout.matchAll(/tools\/ensure-deps\.sh\s+(\S+)/g)].map((m) => m[1]);
}
function listed(group) {
  const r = spawnSync(path.join(ROOT, 'tools/ensure-deps.sh'), ['--list', group], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, `ensure-deps.sh --list ${group}: ${r.stderr}`);
  return r.stdout.trim().split(/\s+/).filter(Boolean).sort();
}

test('make run / build / serve install only the build toolchain; make test adds clang and chromium', { skip: !hasMake() && 'no make here' }, () => {
  const buildPkgs = ['binaryen', 'emscripten', 'wabt'];
  for (const goal of ['run', 'build', 'serve']) {
    const groups = depsGroups(goal);
    assert.ok(groups.length > 0, `make ${goal} runs tools/ensure-deps.sh`);
    const pkgs = [...new Set(groups.flatMap(listed))].sort();
    assert.deepEqual(pkgs, buildPkgs, `make ${goal} installs ${pkgs.join(' ')}`);
  }
  const testPkgs = [...new Set(depsGroups('test').flatMap(listed))];
  for (const p of [...buildPkgs, 'clang', 'libclang-rt-14-dev', 'chromium']) {
    assert.ok(testPkgs.includes(p), `make test installs ${p} (got ${testPkgs.join(' ')})`);
  }
  // Every group also runs `npm ci` when node_modules is stale: the script's npm step is shared.
  const script = fs.readFileSync(path.join(ROOT, 'tools/ensure-deps.sh'), 'utf8');
  assert.match(script, /npm ci/);
});
