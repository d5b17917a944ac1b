# The two commands a newcomer needs: `make run` and `make test`.
# One shared target directory outside the clone keeps rebuilds incremental.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/advdrop-target
CARGO ?= cargo
BIN := $(CARGO_TARGET_DIR)/release/advdrop
WASM_TARGET := wasm32-unknown-unknown

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test deps build bench bench-attacks fmt lint

## run: fetch MNIST into data/mnist if missing, then print Table 1 for the shipped weights.
run: build
	$(BIN) fetch-mnist
	$(BIN) eval

build:
	$(CARGO) build --release --locked

## deps: what the tests need beyond Rust: the wasm32 target, and a Vulkan driver for the wgpu
## tests (Mesa's lavapipe runs Vulkan on the CPU where there is no GPU).
deps:
	@rustup target list --installed | grep -qx $(WASM_TARGET) || rustup target add $(WASM_TARGET)
	@ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null; }

## test: every test — native (release, so the model runs at speed) and the wasm build.
test: deps
	$(CARGO) test --release --locked -q
	$(CARGO) build --release --locked --lib --target $(WASM_TARGET) -q
	@echo "wasm build: ok"

bench:
	$(CARGO) bench --bench core

# Each attack at batch 100 under none and all (about an hour; name attacks to narrow it,
# e.g. make bench-attacks ATTACKS="deepfool fgsm").
bench-attacks:
	$(CARGO) bench --bench attacks -- $(ATTACKS)

fmt:
	$(CARGO) fmt --check

lint:
	$(CARGO) clippy --release --all-targets --locked -- -D warnings
