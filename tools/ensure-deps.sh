#!/usr/bin/env bash
# ensure-deps.sh — install what `make build` / `make run` / `make test` need on a fresh
# Debian 12 machine with Node 20, and nothing when it is all there.
#   build:  emcc (emscripten 3.1.6), wasm-opt (binaryen), wasm-validate and
#           wasm-objdump (wabt), then npm. What `make build`, `run`, `serve` need.
#   test:   build's packages plus clang + compiler-rt (native ASan/UBSan and
#           libFuzzer) and chromium (browser tests; never a downloaded browser).
#   npm:    `npm ci` from the committed lockfile. Maintenance reminder: package-lock.json
#           carries hand-added entries for @ruvector/rvf-node's platform packages that the
#           registry lacks at 0.2.2 (darwin, linux-arm64, win32; npm skips them on this
#           platform); `npm install` drops them and `npm ci` then fails with "Missing: ...".
#           Re-add them (see git log) after changing dependencies.
#           (scripts ignored: no test
#           needs them; `make bench` rebuilds hnswlib-node itself).
# Usage: tools/ensure-deps.sh [build|test|system|npm|all]   (default all = test)
#          build   build toolchain + npm          test    build + test tools + npm
#          system  every Debian package (no npm)  npm     npm ci only
#        tools/ensure-deps.sh --list GROUP   print GROUP's Debian packages (installed or not)
#          and exit: installs nothing (tests/js/makefile.test.js reads it).
set -euo pipefail
cd "$(dirname "$0")/.."
list=0
if [ "${1:-}" = --list ]; then list=1; shift; fi
what=${1:-all}
case "$what" in
  build) sys=build; npm=1 ;;
  test|all) sys=test; npm=1 ;;
  system) sys=test; npm=0 ;;
  npm) sys=""; npm=1 ;;
  *) echo "ensure-deps: unknown group '$what' (build|test|system|npm|all)" >&2; exit 2 ;;
esac

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

# need_system GROUP [all]: the Debian packages GROUP needs that are missing (with "all": every
# package GROUP needs, installed or not).
need_system() {
  local group=$1 every=${2:-} missing=()
  have() { [ "$every" != all ] && "$@" >/dev/null 2>&1; }
  have command -v emcc          || missing+=(emscripten)
  have command -v wasm-opt      || missing+=(binaryen)
  have command -v wasm-validate || missing+=(wabt)
  if [ "$group" = test ]; then
    need_test_tools
  fi
  [ ${#missing[@]} -eq 0 ] || printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' '
}
# Only `make test` (and fuzz) use these: the native sanitizer build, libFuzzer, Chromium.
need_test_tools() {
  have command -v clang         || missing+=(clang)
  have compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.asan-x86_64.a' \
    || missing+=(libclang-rt-14-dev)
  have compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a' \
    || missing+=(libclang-rt-14-dev)
  have test -x /usr/bin/chromium || missing+=(chromium)
}

if [ "$list" = 1 ]; then
  [ -z "$sys" ] || need_system "$sys" all
  echo
  exit 0
fi

if [ -n "$sys" ]; then
  pkgs=$(need_system "$sys")
  if [ -n "${pkgs// /}" ]; then
    echo "ensure-deps: installing Debian packages: $pkgs"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
  fi
fi

if [ "$npm" = 1 ]; then
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
