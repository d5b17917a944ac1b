#!/usr/bin/env bash
# advdrop beside PyTorch in one run: makes benches/pytorch/.venv from requirements.txt (PyPI;
# torch's Linux wheel pulls the CUDA packages, ~5 GB, once), then runs side_by_side.py, which
# checks the PyTorch copy against advdrop's logits, times it, runs `cargo bench --bench core`
# and prints the table. Arguments go to side_by_side.py (--ndarray, --profile, --seconds N).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
stamp="$venv/.requirements"
if ! cmp -s "$here/requirements.txt" "$stamp"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet -r "$here/requirements.txt"
    cp "$here/requirements.txt" "$stamp"
fi
cd "$here/../.."
# The project's one target directory (the Makefile's), so cargo reuses its build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/advdrop-target}"
exec "$venv/bin/python" "$here/side_by_side.py" "$@"
