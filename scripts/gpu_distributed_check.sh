#!/usr/bin/env bash
# The GPU checks of data-parallel training, for a session with a GPU machine: the NCCL build,
# a 1-rank NCCL run and a 2-rank Gloo run on CUDA tensors (both ranks on GPU 0 when there is
# one), each a few steps of the default recipe. Writes its log to docs/ (pass the path).
# Needs HF_ENDPOINT (or the hub) for all-MiniLM-L6-v2 and MNLI, and a torch 2.11 CUDA install
# or pip (cargo xtask setup --cuda).
set -euo pipefail
cd "$(dirname "$0")/.."
log=${1:-docs/gpu-distributed-$(date +%F).log}
exec > >(tee "$log") 2>&1
nvidia-smi --query-gpu=name,memory.total --format=csv || true
cargo xtask setup --cuda
cargo build --release -p train-cli --features torch-ext/nccl
bin=target/release/train-cli
common=(--max-rows 512 --max-steps 8 --set 'evaluation.evaluators=[]' --quiet --device cuda)
out=$(mktemp -d)

echo "== 1 rank, NCCL"
RANK=0 WORLD_SIZE=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=29561 \
  "$bin" "${common[@]}" --set training.ddp_backend=\"nccl\" -o "$out/nccl1"

echo "== 2 ranks, Gloo on CUDA tensors"
"$bin" --nproc 2 "${common[@]}" --set training.ddp_backend=\"gloo\" -o "$out/gloo2"

echo "== 1 process, for comparison"
"$bin" "${common[@]}" -o "$out/one"
echo "done: $log"
