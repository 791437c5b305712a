#!/usr/bin/env bash
# ensure-deps.sh — install what `make run` / `make test` need on a fresh
# Debian 12 machine with Node 20, and nothing when it is all there.
#   system: emcc (emscripten 3.1.6), wasm-opt (binaryen), wasm-validate and
#           wasm-objdump (wabt), clang + compiler-rt (native ASan/UBSan and
#           libFuzzer), chromium (browser tests; never a downloaded browser).
#   npm:    `npm ci` from the committed lockfile. Maintenance reminder: package-lock.json
#           carries hand-added entries for @ruvector/rvf-node's platform packages that the
#           registry lacks at 0.2.2 (darwin, linux-arm64, win32; npm skips them on this
#           platform); `npm install` drops them and `npm ci` then fails with "Missing: ...".
#           Re-add them (see git log) after changing dependencies.
#           (scripts ignored: no test
#           needs them; `make bench` rebuilds hnswlib-node itself).
# Usage: tools/ensure-deps.sh [system|npm|all]   (default all)
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

need_system() {
  local missing=()
  command -v emcc >/dev/null         || missing+=(emscripten)
  command -v wasm-opt >/dev/null     || missing+=(binaryen)
  command -v wasm-validate >/dev/null || missing+=(wabt)
  command -v clang >/dev/null        || missing+=(clang)
  ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.asan-x86_64.a >/dev/null 2>&1 \
    || ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.asan-x86_64.a >/dev/null 2>&1 \
    || missing+=(libclang-rt-14-dev)
  ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 \
    || missing+=(libclang-rt-14-dev)
  [ -x /usr/bin/chromium ]           || missing+=(chromium)
  printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' '
}

if [ "$what" = system ] || [ "$what" = all ]; then
  pkgs=$(need_system)
  if [ -n "${pkgs// /}" ]; then
    echo "ensure-deps: installing Debian packages: $pkgs"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  fi
fi

if [ "$what" = npm ] || [ "$what" = all ]; then
  stale=0
  [ -f node_modules/.package-lock.json ] || stale=1
  [ package-lock.json -nt node_modules/.package-lock.json ] && stale=1
  # A half-removed node_modules (an interrupted npm run) must not pass for installed.
  for p in playwright-core typescript workerd fake-indexeddb @ruvector/rvf-node hnswlib-wasm; do
    [ -f "node_modules/$p/package.json" ] || stale=1
  done
  if [ "$stale" = 1 ]; then
    echo "ensure-deps: npm ci (from package-lock.json)"
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error 2>&1 | grep -v 'Unknown user config' || true
    [ -f node_modules/.package-lock.json ] || { echo "ensure-deps: npm ci failed" >&2; exit 1; }
    touch node_modules/.package-lock.json
  fi
fi
