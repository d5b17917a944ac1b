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
# The wasm tests run attacks on a single-threaded CPU: give each test minutes, not 20 s.
export WASM_BINDGEN_TEST_TIMEOUT ?= 900
export TRUNK_OFFLINE := true
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
export DEBIAN_FRONTEND := noninteractive

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
MNIST_TEST := data/mnist/t10k-images-idx3-ubyte.gz data/mnist/t10k-labels-idx1-ubyte.gz

.PHONY: serve dist run test test-native test-wasm test-e2e deps deps-web deps-browser build bench bench-attacks fmt lint

## serve: install what is missing, fetch MNIST, build the page, serve it on http://127.0.0.1:8080
serve: deps-web $(MNIST_TEST)
	trunk serve --release

## dist: the static site for GitHub Pages (dist/, works from any sub-path).
dist: deps-web $(MNIST_TEST)
	trunk build --release

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
	  $(CARGO) install -q wasm-bindgen-cli --version =$(WASM_BINDGEN)
	@trunk --version 2>/dev/null | grep -q " $(TRUNK)$$" || \
	  $(CARGO) install -q trunk --version =$(TRUNK) --locked
	@[ -d node_modules/playwright-core ] && [ -d node_modules/chart.js ] || npm ci --no-audit --no-fund --silent

## deps-browser: what the browser tests add: pinned wasm-pack, Debian's chromium and chromedriver.
deps-browser: deps-web
	@wasm-pack --version 2>/dev/null | grep -q " $(WASM_PACK)$$" || \
	  $(CARGO) install -q wasm-pack --version =$(WASM_PACK) --locked
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq chromium chromium-driver >/dev/null; }

## test: every test — native (release, so the model runs at speed), wasm in headless
## Chromium, and the page end to end on both backends.
test: test-native test-wasm test-e2e

test-native: deps
	$(CARGO) test --release --locked -q

test-wasm: deps-browser
	wasm-pack test --headless --chrome --release --mode no-install -- --locked --no-default-features --test web

test-e2e: deps-browser
	ADVDROP_MNIST=$${ADVDROP_TEST_MNIST:-../shared/data/mnist} trunk build --release
	npm run -s e2e

bench:
	$(CARGO) bench --bench core

# Each attack at batch 100 under none and all (about 30 minutes on 2 cores; name attacks to narrow it,
# e.g. make bench-attacks ATTACKS="deepfool fgsm").
bench-attacks:
	$(CARGO) bench --bench attacks -- $(ATTACKS)

fmt:
	$(CARGO) fmt --check

lint:
	$(CARGO) clippy --release --all-targets --locked -- -D warnings
	$(CARGO) clippy --release --locked --lib --target $(WASM_TARGET) --no-default-features -- -D warnings
