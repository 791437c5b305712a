# veclite — one flat Makefile (docs/conventions.md §11).
#
#   make run     build, then run the main job (examples/node.mjs) end to end
#   make serve   build, then serve the repository on 127.0.0.1 (tools/serve.mjs) for the example
#                pages examples/browser.html and examples/worker-offload.html (PORT=8080;
#                PORT=0 picks a free port)
#   make test    build, then run every test: the C table natively under
#                ASan+UBSan, then one `node --test` run over the C table as
#                WASM (both builds), the JS API (both builds), types, headless
#                Chromium (page + module Worker) and workerd
#   make bench   benchmarks against hnswlib-wasm, hnswlib-node, JS brute force
#   make build   pkg/ (scalar) and pkg-simd/ (-msimd128), identical names
#
# Each target first runs tools/ensure-deps.sh, which apt-get installs what is
# missing and runs `npm ci`: build, run, serve and bench need only the build
# toolchain (emscripten binaryen wabt: `ensure-deps.sh build`); test, test-native
# and fuzz also need clang + compiler-rt and chromium (`ensure-deps.sh test`).
#
# Toolchain pin: Debian's emscripten 3.1.6 (checked in the banner). Its emcc
# needs NODE_PATH to find acorn (docs/building.md §1).
export NODE_PATH := /usr/share/nodejs
EMCC      ?= emcc
WASM_OPT  ?= wasm-opt
CLANG     ?= clang
EMSDK_PIN := 3.1.6

CORE_SRC := $(sort $(filter-out src/wasm.c,$(wildcard src/*.c)))
CORE_HDR := $(wildcard src/*.h)
# The POSIX file device is native-only (tests, fuzzing, tools); in WebAssembly files are JS devices.
WASM_SRC := $(filter-out src/io_posix.c,$(CORE_SRC))
TEST_SRC := $(sort $(wildcard tests/unit/*.c))
# Off the search and open paths (commits, compaction, refresh, devices, the store's bookkeeping,
# the export wrappers, the keyword index, MMR's greedy pick, JSON paths, SHA-256): compiled for
# size (-Os) in the .wasm builds, so each build stays within the 150 KB gzip target
# (docs/benchmarks.md) while the distance, quantizer, graph, filter and open loops keep -O3.
# Measured on the SIMD build: all -O3 152.8 KB, this split 149.8 KB, all -Os ~122 KB. Cold functions
# inside the -O3 files are marked VL_COLD (src/internal.h: clang's minsize), e.g. the INDEX encoder.
WASM_COLD := src/branch.c src/io_mem.c src/io_view.c src/mem.c src/rvf_commit.c src/rvf_compact.c \
  src/rvf_refresh.c src/rvf_witness.c src/store.c src/store_quant.c src/store_refresh.c src/store_text.c src/text.c src/wasm.c src/mmr.c src/json.c src/sha256.c
WASM_HOT := $(filter-out $(WASM_COLD),$(WASM_SRC))

CFLAGS_COMMON := -std=c11 -Wall -Wextra -Wshadow -Wno-unused-parameter -Isrc
# -O3 without -ffast-math: kernels must be exact IEEE (docs/conventions.md §5); SIMD kernels
# are hand-written with wasm_simd128.h intrinsics.
EM_CFLAGS := $(CFLAGS_COMMON) -O3 -DNDEBUG
# Link flags, one reason each:
#   ENVIRONMENT=web,worker  no Node path: 3.1.6's is broken on Node 20, and the same glue then
#                           serves browsers, workers and workerd (docs/building.md §3, §5)
#   FILESYSTEM=0            the engine does its I/O through vl_io, never stdio files
#   DYNAMIC_EXECUTION=0     no eval/new Function: workerd and strict CSPs forbid them
#   ALLOW_MEMORY_GROWTH=1   grow on demand; also makes malloc return NULL instead of aborting
#   MAXIMUM_MEMORY=4GB      dlmalloc (the default) handles 4 GB correctly; emmalloc does not in 3.1.6
#   TOTAL_STACK=1MB         3.1.6's name (STACK_SIZE does not exist yet); the core never recurses deeply
#   ERROR_ON_UNDEFINED_SYMBOLS=1  a missing C symbol is a build error, not a runtime abort
#   INCOMING_MODULE_JS_API  the only Module options the loader passes
EM_LDFLAGS := -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createVecliteModule \
  -sENVIRONMENT=web,worker -sFILESYSTEM=0 -sDYNAMIC_EXECUTION=0 \
  -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -sINITIAL_MEMORY=16MB -sTOTAL_STACK=1MB \
  -sERROR_ON_UNDEFINED_SYMBOLS=1 \
  -sEXPORTED_FUNCTIONS=@src/wasm-exports.json \
  -sEXPORTED_RUNTIME_METHODS=HEAPU8,HEAPU32,HEAPF32,HEAPF64,UTF8ToString \
  -sINCOMING_MODULE_JS_API=instantiateWasm,locateFile,print,printErr

ifeq ($(VARIANT),simd)
  OUT      := pkg-simd
  ISAFLAGS := -msimd128
  OPTFEAT  := --mvp-features --enable-simd
else
  OUT      := pkg
  ISAFLAGS :=
  OPTFEAT  := --mvp-features
endif

# A recipe that fails removes its half-made target, so make never takes it for up to date.
.DELETE_ON_ERROR:

.PHONY: all build deps deps-build deps-test deps-npm run serve test test-native test-js bench fuzz clean banner variant

all: build

deps: deps-test

deps-build:
	@tools/ensure-deps.sh build

deps-test:
	@tools/ensure-deps.sh test

deps-npm:
	@tools/ensure-deps.sh npm

banner:
	@v=$$($(EMCC) --version 2>/dev/null | head -1 | sed -E 's/.* ([0-9]+\.[0-9]+\.[0-9]+).*/\1/'); \
	  echo "veclite build: emcc $$v (pinned $(EMSDK_PIN)), $$($(WASM_OPT) --version)"; \
	  [ "$$v" = "$(EMSDK_PIN)" ] || echo "warning: emcc $$v is not the pinned $(EMSDK_PIN)"

build: deps-build
	@$(MAKE) --no-print-directory banner
	@$(MAKE) --no-print-directory VARIANT=scalar variant
	@$(MAKE) --no-print-directory VARIANT=simd variant

# One rule for both variants, parameterised by VARIANT (no $(eval)).
variant: $(OUT)/veclite.mjs

# Built in build/$(OUT).tmp/ and moved into $(OUT)/ only when optimised: the .wasm first, the
# .mjs (the target) last. An interrupted or failed emcc / wasm-opt leaves $(OUT)/ as it was,
# and a stop between the two moves leaves a target older than its .wasm: make builds again.
STAGE := build/$(OUT).tmp
$(OUT)/veclite.mjs: $(WASM_SRC) src/wasm.c $(CORE_HDR) src/wasm-exports.json Makefile
	@rm -rf $(STAGE) && mkdir -p $(OUT) $(STAGE)
	for f in $(WASM_COLD); do \
	  $(EMCC) $(CFLAGS_COMMON) -Os -DNDEBUG $(ISAFLAGS) -c $$f -o $(STAGE)/$$(basename $$f .c).o || exit 1; done
	$(EMCC) $(EM_CFLAGS) $(ISAFLAGS) $(WASM_HOT) $(patsubst src/%.c,$(STAGE)/%.o,$(WASM_COLD)) $(EM_LDFLAGS) -o $(STAGE)/veclite.mjs
	$(WASM_OPT) -O3 $(OPTFEAT) $(STAGE)/veclite.wasm -o $(STAGE)/veclite.opt.wasm
	mv -f $(STAGE)/veclite.opt.wasm $(OUT)/veclite.wasm
	mv -f $(STAGE)/veclite.mjs $@
	@rm -rf $(STAGE)
	@echo "$(OUT)/veclite.wasm: $$(stat -c %s $(OUT)/veclite.wasm) bytes, gzip $$(gzip -9c $(OUT)/veclite.wasm | wc -c)"

# ---- tests -------------------------------------------------------------------

# The C test table, natively, under AddressSanitizer + UndefinedBehaviorSanitizer.
build/test-native: $(CORE_SRC) $(CORE_HDR) $(TEST_SRC) tests/unit/test.h tests/golden/rvf/golden_data.h Makefile
	@mkdir -p build
	$(CLANG) $(CFLAGS_COMMON) -g -O1 -fno-omit-frame-pointer \
	  -fsanitize=address,undefined -fno-sanitize-recover=all \
	  $(CORE_SRC) $(TEST_SRC) -o $@ -lm

# The same table as WASM (both variants), driven by tests/js/c-unit.test.js.
build/unit-scalar.mjs build/unit-simd.mjs: build/unit-%.mjs: $(CORE_SRC) $(CORE_HDR) $(TEST_SRC) tests/unit/test.h tests/golden/rvf/golden_data.h Makefile
	@mkdir -p build
	$(EMCC) $(CFLAGS_COMMON) -O2 $(if $(filter simd,$*),-msimd128) -DVL_TEST_WASM \
	  $(WASM_SRC) $(TEST_SRC) \
	  -sMODULARIZE=1 -sEXPORT_ES6=1 -sEXPORT_NAME=createUnitModule -sENVIRONMENT=web,worker \
	  -sFILESYSTEM=0 -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -sTOTAL_STACK=1MB \
	  -sERROR_ON_UNDEFINED_SYMBOLS=1 \
	  -sEXPORTED_FUNCTIONS=_vl_test_count,_vl_test_name,_vl_test_run \
	  -sEXPORTED_RUNTIME_METHODS=UTF8ToString -o $@

# The golden .rvf files (written by rvf-node, never regenerated) embedded for the WASM test run.
tests/golden/rvf/golden_data.h: tools/embed-golden.mjs tests/golden/rvf/expected.json $(wildcard tests/golden/rvf/*.rvf)
	node tools/embed-golden.mjs

# ---- fuzzing (libFuzzer, Debian clang) -------------------------------------------
# `make fuzz` fuzzes the .rvf open path for FUZZ_SECONDS per harness; every crash it ever
# found is minimized into tests/golden/corrupt/ and replayed by the C test table (rvf_hostile)
# and by `make test` (`build/fuzz_open -runs=0` over the corpus, no fuzzing).
# fuzz_open_nohash skips content hashes (VL_FUZZ_SKIP_HASH) so mutations reach the parsers;
# that define exists only for this build.
FUZZ_SRC   := src/rvf.c src/rvf_commit.c src/rvf_compact.c src/rvf_witness.c src/rvf_refresh.c src/crc32.c src/io_mem.c src/idmap.c src/mem.c tests/fuzz/fuzz_open.c
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Isrc
FUZZ_SECONDS ?= 120
build/fuzz_open: $(FUZZ_SRC) $(CORE_HDR) Makefile
	@mkdir -p build
	$(CLANG) $(FUZZ_FLAGS) $(FUZZ_SRC) -o $@
build/fuzz_open_nohash: $(FUZZ_SRC) $(CORE_HDR) Makefile
	@mkdir -p build
	$(CLANG) $(FUZZ_FLAGS) -DVL_FUZZ_SKIP_HASH $(FUZZ_SRC) -o $@
# fuzz_filter: filter programs and the JSON path reader (src/filter.c, src/json.c) over any bytes.
build/fuzz_filter: $(CORE_SRC) $(CORE_HDR) tests/fuzz/fuzz_filter.c Makefile
	@mkdir -p build
	$(CLANG) $(FUZZ_FLAGS) $(CORE_SRC) tests/fuzz/fuzz_filter.c -o $@ -lm
fuzz: deps-test build/fuzz_open build/fuzz_open_nohash build/fuzz_filter
	@mkdir -p build/fuzz-corpus build/fuzz-artifacts build/fuzz-filter-corpus
	./build/fuzz_filter -max_len=4096 -timeout=10 -rss_limit_mb=1024 -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build/fuzz-artifacts/filter- build/fuzz-filter-corpus
	cp tests/golden/rvf/*.rvf tests/golden/corrupt/*.rvf build/fuzz-corpus/
	./build/fuzz_open_nohash -max_len=16384 -timeout=10 -rss_limit_mb=1024 -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build/fuzz-artifacts/nohash- build/fuzz-corpus
	./build/fuzz_open -max_len=16384 -timeout=10 -rss_limit_mb=1024 -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=build/fuzz-artifacts/ build/fuzz-corpus

test-native: deps-test build/test-native
	./build/test-native

test-js: deps-test build build/unit-scalar.mjs build/unit-simd.mjs
	node --test --test-concurrency=1 tests/

test: deps-test build build/test-native build/unit-scalar.mjs build/unit-simd.mjs build/fuzz_open build/fuzz_filter
	./build/test-native
	./build/fuzz_open -runs=0 tests/golden/rvf tests/golden/corrupt
	./build/fuzz_filter -seed=1 -runs=20000 -max_len=1024
	node --test --test-concurrency=1 tests/

run: build
	node examples/node.mjs

# The example pages: tools/serve.mjs prints their URLs; open them in any browser (none is needed here).
PORT ?= 8080
serve: build
	node tools/serve.mjs --port $(PORT) --page /examples/browser.html --page /examples/worker-offload.html

bench: build
	@node -e "require('hnswlib-node')" 2>/dev/null || npm rebuild hnswlib-node >/dev/null 2>&1 || echo "bench: hnswlib-node could not be built; it will be reported as unavailable"
	node bench/bench.mjs

clean:
	rm -rf build pkg pkg-simd
