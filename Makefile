# pglive — `make demo` and `make test` on a fresh Debian 12 machine: install what is
# missing, build, run. Every install step lives here so a clean clone (CI) needs nothing else.

BUILD    ?= build
JOBS     ?= $(shell nproc)
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian bookworm packages: build, run (a private PostgreSQL for demo/tests), browser tests,
# and the package test (dpkg-shlibdeps for `make package`, curl, systemd-analyze for the unit).
DEB_PACKAGES := build-essential cmake pkg-config g++ \
	libboost-dev libboost-system-dev libpqxx-dev libpq-dev nlohmann-json3-dev libssl-dev \
	libgtest-dev googletest postgresql-15 postgresql-client-15 chromium \
	dpkg-dev curl systemd

.PHONY: all deps build test demo bench clean node-deps model-long install package

# $(call install_missing,PACKAGES): installs those of PACKAGES that dpkg says are missing
# (--no-upgrade: never upgrade a package under a running PostgreSQL).
define install_missing
missing=""; for p in $(1); do \
  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
done; \
if [ -n "$$missing" ]; then \
  echo "installing:$$missing"; \
  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-upgrade $$missing; \
fi
endef

all: build

# Installs only what dpkg says is missing, so a ready machine pays nothing. Node and npm are
# looked for as commands: a machine may have them from another package (NodeSource's nodejs
# bundles npm and conflicts with Debian's npm package).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	command -v node >/dev/null && command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-upgrade $$missing; \
	fi

node-deps: deps
	@(for m in playwright-core json-patch-test-suite react react-dom typescript; do [ -d tests/browser/node_modules/$$m ] || exit 1; done) || \
	  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$${BUILD_TYPE:-Release} >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: build node-deps
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 600

demo: build
	./$(BUILD)/pglive demo

# Install on a server (issue 13). `make install` puts PREFIX/bin/pglive, PREFIX/share/pglive/
# (pglive.sql, dashboard/) and PREFIX/lib/systemd/system/pglive.service under DESTDIR; the
# config goes to /etc/pglive/pglive.conf when PREFIX is /usr, else to
# PREFIX/share/pglive/pglive.conf.example (nothing outside PREFIX). `make package` builds
# $(BUILD)/pglive_<version>_<arch>.deb (prefix /usr) for dpkg -i.
PREFIX  ?= /usr/local
DESTDIR ?=

install: build
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

package: build
	cmake --build $(BUILD) --target package

# The Nchan comparison (bench §6) runs Debian's nginx with the Nchan module from a temp dir.
BENCH_PACKAGES := nginx-light libnginx-mod-nchan

bench: build
	@$(call install_missing,$(BENCH_PACKAGES))
	./$(BUILD)/pglive_bench --out docs/BENCHMARKS.md --json $(BUILD)/bench/results.json

# Issue 9's randomized model test, long: MODEL_RUNS seeds from MODEL_SEED, MODEL_TX transactions
# each (default 5 x 20,000 = 100,000), every feature unless MODEL_FEATURES says otherwise. Prints
# each seed, its counts and time, and the total; a failing seed is printed with its re-run line.
MODEL_SEED     ?= $(shell date +%s)
MODEL_RUNS     ?= 5
MODEL_TX       ?= 20000
MODEL_SECONDS  ?= 300
MODEL_FEATURES ?= all

model-long: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$${BUILD_TYPE:-Release} >/dev/null
	cmake --build $(BUILD) -j $(JOBS) --target pglive model_tests
	PGLIVE_MODEL_SEED=$(MODEL_SEED) PGLIVE_MODEL_RUNS=$(MODEL_RUNS) PGLIVE_MODEL_TX=$(MODEL_TX) \
	  PGLIVE_MODEL_SECONDS=$(MODEL_SECONDS) PGLIVE_MODEL_FEATURES=$(MODEL_FEATURES) \
	  ./$(BUILD)/model_tests --gtest_color=no

clean:
	rm -rf $(BUILD)

# ---- fuzzing and sanitizers (issue 10) -----------------------------------------------------
# Not part of `make test`'s installs: clang, its libFuzzer/ASan runtimes (libclang-rt-14-dev
# holds libclang_rt.fuzzer) and llvm-symbolizer for readable reports.
FUZZ_PACKAGES := clang clang-14 libclang-rt-14-dev llvm-14
FUZZ_BUILD    ?= build-fuzz
ASAN_BUILD    ?= build-asan
FUZZ_SECONDS  ?= 60
FUZZ_TARGETS  := $(basename $(notdir $(wildcard fuzz/*.cpp)))
FUZZ_JOBS     ?= 2
SANITIZER_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

.PHONY: fuzz-deps fuzz-build fuzz sanitize

fuzz-deps: deps
	@$(call install_missing,$(FUZZ_PACKAGES))

fuzz-build: fuzz-deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_COMPILER=clang++ -DPGLIVE_FUZZ=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(FUZZ_JOBS) --target fuzzers

# Each target runs FUZZ_SECONDS on a temp copy of its corpus (new inputs stay out of the repo);
# a crash, leak or sanitizer report stops it with a non-zero status and leaves crash-* files
# in $(FUZZ_BUILD)/artifacts/<target>/.
fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	  work=$$(mktemp -d); cp -r fuzz/corpus/$$t/. $$work/; \
	  mkdir -p $(FUZZ_BUILD)/artifacts/$$t; \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  if ! $(SANITIZER_ENV) ./$(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	       -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t/ $$work > $(FUZZ_BUILD)/artifacts/$$t/log 2>&1; then \
	    tail -n 60 $(FUZZ_BUILD)/artifacts/$$t/log; rm -rf $$work; echo "fuzz: $$t FAILED"; exit 1; \
	  fi; \
	  grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units)' $(FUZZ_BUILD)/artifacts/$$t/log | sed "s/^/fuzz: $$t: /"; \
	  rm -rf $$work; \
	done

# The unit and net suites under ASan + UBSan (g++), in their own build dir.
sanitize: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Release -DPGLIVE_SANITIZE=ON >/dev/null
	cmake --build $(ASAN_BUILD) -j $(FUZZ_JOBS) --target unit_tests net_tests
	cd $(ASAN_BUILD) && $(SANITIZER_ENV) ./unit_tests --gtest_color=no
	cd $(ASAN_BUILD) && $(SANITIZER_ENV) ./net_tests --gtest_color=no
# ---- end fuzzing and sanitizers ------------------------------------------------------------
