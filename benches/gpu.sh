#!/usr/bin/env bash
# The GPU figures in one run, on a machine with a GPU that Vulkan reaches: the best case a WebGPU
# user of the page can expect (the page's WebGPU path is burn's same wgpu backend).
#
#   1. core throughput, burn wgpu beside PyTorch on CUDA (benches/pytorch/side_by_side.py --gpu):
#      forward img/s at batch 1/64/256, input gradients at batch 64, a training step;
#   2. each attack at batch 100 under `none` and `all`, both goals (benches/attacks.rs on wgpu);
#   3. the paper's protocol at N = 100 on wgpu (`advdrop --backend wgpu reproduce --samples 100`),
#      and its report.
#
# Usage: benches/gpu.sh OUT_DIR      (from the repository root)
# Environment:
#   ADVDROP_MNIST       the four MNIST files (default: data/mnist)
#   ADVDROP_BIN_DIR     prebuilt `advdrop`, `core` and `attacks` executables (a GPU machine without
#                       the Rust toolchain); without it, cargo builds them here
#   PYTHON              a Python with torch, numpy and safetensors (default: python3)
#   ATTACK_SECONDS      time limit of each attack's line group in step 2 (default 240)
#   PROTOCOL_SECONDS    time limit of step 3 (default 3600); an unfinished protocol is reported
#                       as it stands (finished cells, and the images done in the others)
# Each step's log lands in OUT_DIR; a step that fails or runs out of time does not stop the next.
set -uo pipefail
out="${1:?usage: benches/gpu.sh OUT_DIR}"
mkdir -p "$out"
export ADVDROP_MNIST="${ADVDROP_MNIST:-data/mnist}"
python="${PYTHON:-python3}"
attack_seconds="${ATTACK_SECONDS:-240}"
protocol_seconds="${PROTOCOL_SECONDS:-3600}"

if [ -n "${ADVDROP_BIN_DIR:-}" ]; then
    advdrop="$ADVDROP_BIN_DIR/advdrop" core="$ADVDROP_BIN_DIR/core" attacks="$ADVDROP_BIN_DIR/attacks"
else
    export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/advdrop-target}"
    cargo build --release --locked -q || exit 1
    advdrop="$CARGO_TARGET_DIR/release/advdrop"
    executable() {
        cargo bench --locked --bench "$1" --no-run --message-format=json 2>/dev/null |
            "$python" -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"):
        print(m["executable"])' | tail -1
    }
    core="$(executable core)" attacks="$(executable attacks)"
fi

{
    date -u '+%Y-%m-%d %H:%M UTC'
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>&1
    grep -m1 'model name' /proc/cpuinfo
    echo "cores: $(nproc)"
} | tee "$out/machine.txt"

step() { echo; echo "== $1 ($(date -u +%H:%M:%S))"; }

step "1. core throughput: burn wgpu beside PyTorch CUDA"
"$python" benches/pytorch/side_by_side.py --gpu --bench-binary "$core" --seconds 2 \
    --criterion-seconds 3 >"$out/core.md" 2>"$out/core.log"
echo "exit $?"; cat "$out/core.md"

step "2. attacks at batch 100 on wgpu"
for attack in fgsm-wide jsma deepfool lbfgs; do
    ADVDROP_BACKEND=wgpu timeout "$attack_seconds" "$attacks" "$attack" >"$out/attack-$attack.txt" \
        2>"$out/attack-$attack.log"
    echo "$attack: exit $? (124: stopped at its ${attack_seconds} s limit)"
    cat "$out/attack-$attack.txt"
done

step "3. the protocol at N = 100 on wgpu"
run="$out/protocol-n100"
started=$(date +%s)
# Cheap attacks first, so that a time limit leaves as many finished cells as it can.
timeout "$protocol_seconds" "$advdrop" --backend wgpu reproduce --samples 100 --seed 0 \
    --attacks fgsm,jsma,deepfool,lbfgs --jobs 1 --out "$run" >"$out/protocol.log" 2>&1
echo "exit $? after $(( $(date +%s) - started )) s (124: stopped at its ${protocol_seconds} s limit)"
"$advdrop" --backend wgpu reproduce --samples 100 --seed 0 --attacks fgsm,jsma,deepfool,lbfgs \
    --jobs 1 --out "$run" --resume --report-only >>"$out/protocol.log" 2>&1
sed -n '/^## Cells/,/^## Table 2/p' "$run/tables.md" | grep '^|'
tar -czf "$out/protocol-n100.tar.gz" --exclude='*.f32' -C "$out" protocol-n100
