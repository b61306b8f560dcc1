#!/usr/bin/env bash
# The same train-cli binary under torchrun, with no flag of its own: torchrun sets RANK,
# WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT and serves the store
# itself (TORCHELASTIC_USE_AGENT_STORE). torch comes from a throwaway venv: the one
# `cargo xtask bench train` makes (.venv-bench), or TORCHRUN=/path/to/torchrun.
# Needs the hub (or HF_ENDPOINT pointing at a mirror) for all-miniLM-L6-v2 and MNLI.
set -euo pipefail
cd "$(dirname "$0")/.."
torchrun=${TORCHRUN:-.venv-bench/bin/torchrun}
if [ ! -x "$torchrun" ]; then
  echo "no torchrun at $torchrun: run cargo xtask bench train once (it creates .venv-bench)" >&2
  echo "or set TORCHRUN to a torchrun of torch 2.11" >&2
  exit 1
fi
cargo build --release -p train-cli
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$torchrun" --no-python --nproc_per_node 2 target/release/train-cli \
  --max-rows 256 --max-steps 4 --set 'evaluation.evaluators=[]' --quiet -o "$out/run"
grep -q '| processes | 2 |' "$out/run/README.md"
grep -q '"world_size":2' "$out/run/metrics.jsonl"
echo "torchrun --no-python --nproc_per_node 2: trained; model card and metrics say 2 processes"
