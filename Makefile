# The two commands a newcomer needs: `make run` and `make test`.
# One shared target directory outside the clone keeps rebuilds incremental.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/advdrop-target
CARGO ?= cargo
BIN := $(CARGO_TARGET_DIR)/release/advdrop
WASM_TARGET := wasm32-unknown-unknown

.PHONY: run test build wasm bench fmt lint

## run: fetch MNIST into data/mnist if missing, then print Table 1 for the shipped weights.
run: build
	$(BIN) fetch-mnist
	$(BIN) eval

build:
	$(CARGO) build --release --locked

## test: every test — native (release, so the model runs at speed) and the wasm build.
test:
	rustup target add $(WASM_TARGET) >/dev/null 2>&1 || true
	$(CARGO) test --release --locked -q
	$(CARGO) build --release --locked --lib --target $(WASM_TARGET) -q
	@echo "wasm build: ok"

bench:
	$(CARGO) bench --bench core

fmt:
	$(CARGO) fmt --check

lint:
	$(CARGO) clippy --release --all-targets --locked -- -D warnings
