# The two commands a newcomer needs: `make serve` (the lab in the browser) and `make test`.
# One shared target directory outside the clone keeps rebuilds incremental.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/advdrop-target
CARGO ?= cargo
BIN := $(CARGO_TARGET_DIR)/release/advdrop
WASM_TARGET := wasm32-unknown-unknown
# Pinned tools. wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock; trunk 0.22
# needs a newer rustc than this project's 1.95.
WASM_BINDGEN := 0.2.130
TRUNK := 0.21.14
WASM_PACK := 0.15.1
# The pinned tools are compiled without their own release profiles' fat LTO and single codegen
# unit (trunk's alone took 13.5 of a cold CI's minutes, one core busy): they only drive the build.
# wasm-bindgen, which rewrites the 25 MB module, is optimised lightly (opt-level 1: seconds, as at
# 3); trunk and wasm-pack, which run commands, not at all (trunk compiles in 317 s instead of 615
# at opt-level 1, and builds the page in 12 s instead of 8.5).
INSTALL_WITH = $(CARGO) install -q --config profile.release.lto=false \
  --config profile.release.codegen-units=16 --config profile.release.opt-level=$(1)
INSTALL := $(call INSTALL_WITH,1)
INSTALL_UNOPTIMISED := $(call INSTALL_WITH,0)
# The wasm tests run attacks on a single-threaded CPU: give each test minutes, not 20 s.
export WASM_BINDGEN_TEST_TIMEOUT ?= 900
export TRUNK_OFFLINE := true
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
export DEBIAN_FRONTEND := noninteractive

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
MNIST_TEST := data/mnist/t10k-images-idx3-ubyte.gz data/mnist/t10k-labels-idx1-ubyte.gz

.PHONY: bench-browser bench-gpu serve dist run test test-native test-wasm test-e2e test-fidelity deps deps-web deps-browser deps-fidelity build bench bench-attacks fmt lint fidelity lbfgsb-fixtures

## serve: install what is missing, fetch MNIST, build the page, serve it on http://127.0.0.1:8080
serve: deps-web $(MNIST_TEST)
	trunk serve --release

## dist: the static site for GitHub Pages (dist/, works from any sub-path), and its size.
dist: deps-web $(MNIST_TEST)
	trunk build --release
	node e2e/size.mjs dist --budget-wasm-gzip $(WASM_GZIP_BUDGET)

# Only when the files are missing: the CLI is built for its fetch-mnist command.
$(MNIST_TEST):
	$(CARGO) build --release --locked
	$(BIN) fetch-mnist

## run: Table 1 for the shipped weights, in the terminal.
run: build $(MNIST_TEST)
	$(BIN) eval

build:
	$(CARGO) build --release --locked

## deps: what the native tests need beyond Rust: a Vulkan driver for the wgpu tests (Mesa's
## lavapipe runs Vulkan on the CPU where there is no GPU).
deps:
	@ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null; }

## deps-web: what building the page needs: the wasm32 target, pinned trunk and wasm-bindgen,
## and the npm packages (Chart.js, and playwright-core for the tests).
deps-web:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@# Not --locked: wasm-bindgen-cli 0.2.130's own lockfile pins a yanked webpki-roots.
	@wasm-bindgen --version 2>/dev/null | grep -q " $(WASM_BINDGEN)$$" || \
	  $(INSTALL) wasm-bindgen-cli --version =$(WASM_BINDGEN)
	@trunk --version 2>/dev/null | grep -q " $(TRUNK)$$" || \
	  $(INSTALL_UNOPTIMISED) trunk --version =$(TRUNK) --locked
	@# TensorFlow.js (~290 MB, optional dependencies) only for `make bench-browser`.
	@[ -d node_modules/playwright-core ] && [ -d node_modules/chart.js ] || npm ci --omit=optional --no-audit --no-fund --silent

## deps-browser: what the browser tests add: pinned wasm-pack, Debian's chromium and chromedriver.
deps-browser: deps-web
	@wasm-pack --version 2>/dev/null | grep -q " $(WASM_PACK)$$" || \
	  $(INSTALL_UNOPTIMISED) wasm-pack --version =$(WASM_PACK) --locked
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; }

## test: every test — native (release, so the model runs at speed), wasm in headless
## Chromium, the page end to end on both backends, and a smoke of the Foolbox 0.8 fidelity check.
test: test-native test-wasm test-e2e test-fidelity

test-native: deps
	$(CARGO) test --release --locked -q

# The page's cargo profile (index.html's data-cargo-profile-release): the wasm tests use it too,
# so both builds share one compilation of burn for wasm32.
WASM_PROFILE := wasm-size
# The gzip-compressed wasm module may not grow past this (bytes; measured 2.89 MB, 2026-11-30).
WASM_GZIP_BUDGET := 3000000

test-wasm: deps-browser
	wasm-pack test --headless --chrome --mode no-install -- --profile $(WASM_PROFILE) --locked --no-default-features --test web

test-e2e: deps-browser build
	ADVDROP_MNIST=$${ADVDROP_TEST_MNIST:-../shared/data/mnist} trunk build --release
	node e2e/size.mjs dist --budget-wasm-gzip $(WASM_GZIP_BUDGET) >/dev/null
	ADVDROP_BIN=$(BIN) ADVDROP_MNIST=$${ADVDROP_TEST_MNIST:-../shared/data/mnist} npm run -s e2e

bench:
	$(CARGO) bench --bench core

## bench-browser: the page's CPU backend beside the same CNN in TensorFlow.js (installs TF.js,
## the optional npm dependencies, when missing).
bench-browser: dist
	@[ -d node_modules/@tensorflow/tfjs-backend-wasm ] || npm ci --no-audit --no-fund --silent
	npm run -s bench:browser

# Each attack at batch 100 under none and all (about 30 minutes on 2 cores; name attacks to narrow it,
# e.g. make bench-attacks ATTACKS="deepfool fgsm").
bench-attacks:
	$(CARGO) bench --bench attacks -- $(ATTACKS)

## bench-gpu: on a machine with a GPU: burn wgpu beside PyTorch CUDA, the attacks and the
## protocol at N = 100 on wgpu (benches/gpu.sh; logs in results/gpu).
bench-gpu:
	benches/gpu.sh results/gpu

fmt:
	$(CARGO) fmt --check

lint:
	$(CARGO) clippy --release --all-targets --all-features --locked -- -D warnings
	$(CARGO) clippy --profile $(WASM_PROFILE) --locked --lib --target $(WASM_TARGET) --no-default-features -- -D warnings

# The fidelity harness: the real Foolbox 0.8 (and scipy's L-BFGS-B) in a venv of pinned packages.
VENV := fidelity/.venv
PY := $(VENV)/bin/python
MNIST_SHARED ?= ../shared/data/mnist
FIDELITY_MNIST ?= $(if $(wildcard $(MNIST_SHARED)/t10k-images-idx3-ubyte.gz),$(MNIST_SHARED),data/mnist)

## deps-fidelity: the venv with Foolbox 0.8.1, numpy and scipy at fidelity/requirements.txt's pins.
deps-fidelity: $(VENV)/.installed
$(VENV)/.installed: fidelity/requirements.txt
	@command -v python3 >/dev/null && python3 -c "import venv, ensurepip" 2>/dev/null || { \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3 python3-venv >/dev/null; }
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r fidelity/requirements.txt
	touch $@

## test-fidelity: CI's smoke of `make fidelity`: 2 images, JSMA and L-BFGS, no dropout, checked
## image by image against the real Foolbox 0.8.
test-fidelity: build deps-fidelity
	$(PY) fidelity/selftest.py >/dev/null
	rm -rf $(CARGO_TARGET_DIR)/fidelity-smoke
	$(BIN) reproduce --samples 2 --seed 5 --attacks jsma,lbfgs --goals targeted,top3 --schemes none \
	  --votes 1 --out $(CARGO_TARGET_DIR)/fidelity-smoke --mnist $(FIDELITY_MNIST) >/dev/null
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) fidelity/harness.py --run $(CARGO_TARGET_DIR)/fidelity-smoke \
	  --out $(CARGO_TARGET_DIR)/fidelity-smoke/report --mnist $(FIDELITY_MNIST) --jobs 2 --check --quiet

## fidelity: advdrop against the real Foolbox 0.8, every attack × goal under none and all
## (results/fidelity/; under 30 minutes on 2 cores).
fidelity: build deps-fidelity
	$(BIN) reproduce --samples $(FIDELITY_N) --seed 5 --schemes "none;all" --votes 1 --streams batch \
	  --out results/fidelity/run --resume --mnist $(FIDELITY_MNIST)
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) fidelity/harness.py --run results/fidelity/run \
	  --out results/fidelity --mnist $(FIDELITY_MNIST) --jobs 2 --check
FIDELITY_N ?= 10

## lbfgsb-fixtures: regenerate tests/fixtures' record of scipy's L-BFGS-B (tests/lbfgsb.rs replays it).
lbfgsb-fixtures: deps-fidelity
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(PY) fidelity/scipy_lbfgsb_fixtures.py --mnist $(FIDELITY_MNIST)
