# pglive — `make demo` and `make test` on a fresh Debian 12 machine: install what is
# missing, build, run. Every install step lives here so a clean clone (CI) needs nothing else.

BUILD    ?= build
JOBS     ?= $(shell nproc)
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian bookworm packages: build, run (a private PostgreSQL for demo/tests), browser tests.
DEB_PACKAGES := build-essential cmake pkg-config g++ \
	libboost-dev libboost-system-dev libpqxx-dev libpq-dev nlohmann-json3-dev libssl-dev \
	libgtest-dev googletest postgresql-15 postgresql-client-15 chromium

.PHONY: all deps build test demo bench clean node-deps model-long

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
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

node-deps: deps
	@[ -d tests/browser/node_modules/playwright-core ] && [ -d tests/browser/node_modules/json-patch-test-suite ] || \
	  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$${BUILD_TYPE:-Release} >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

test: build node-deps
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 600

demo: build
	./$(BUILD)/pglive demo

# The Nchan comparison (bench §6) runs Debian's nginx with the Nchan module from a temp dir.
BENCH_PACKAGES := nginx-light libnginx-mod-nchan

bench: build
	@missing=""; for p in $(BENCH_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
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
