#!/usr/bin/env bash
# CUDA checks on a GPU machine without Rust or internet (run from a folder `.gpu/` that holds
# what it needs; docs/benchmarks.md records the last results). Preparing `.gpu/` on the dev
# machine:
#   - CUDA-linked release binaries, built against a torch==2.11.0 (cu130) wheel install:
#       LIBTORCH=<venv>/lib/python3.*/site-packages/torch cargo build --release \
#         -p train-cli --bin train-cli -p model --example encode_bench
#     then stripped and xz-compressed as train-cli.xz and encode_bench.xz;
#   - model/: all-MiniLM-L6-v2 with its weights stored in fp16 (to fit the 64 MiB transfer
#     limit); both sides load them into fp32 and compute in the dtype under test;
#   - stsb_validation.parquet, stsb_validation_sentences.txt (the 3,000 sentences of
#     `cargo xtask bench encode`) and xtask/python/encode_bench.py.
# The machine's python3 must have torch 2.11.0 and sentence-transformers.
set -u
cd "$(dirname "$0")"
for f in train-cli encode_bench; do python3 -c "import lzma,sys; open(sys.argv[1],'wb').write(lzma.open(sys.argv[1]+'.xz').read())" $f; chmod +x $f; done
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
TL=$(python3 -c "import torch,os;print(os.path.dirname(torch.__file__))")/lib
export LD_LIBRARY_PATH=$TL:${LD_LIBRARY_PATH:-}
python3 -c "import torch, sentence_transformers as s; print('torch', torch.__version__, 'st', s.__version__)"
echo "== eval on cuda"
./train-cli eval --model model --dataset stsb_validation.parquet --device cuda --json 2>&1 | tail -3
echo "== parity: rust cuda vs python cuda (same weights, fp32)"
./train-cli encode --model model --input stsb_validation_sentences.txt --output $OUT/rust_cuda.npy --device cuda --quiet 2>&1 | tail -2
./train-cli encode --model model --input stsb_validation_sentences.txt --output $OUT/rust_cpu.npy --device cpu --quiet 2>&1 | tail -2
python3 - <<'PY' 2>&1 | grep -v Warn
import os, numpy as np, torch
from sentence_transformers import SentenceTransformer
texts = open("stsb_validation_sentences.txt").read().split("\n")[:-1]
m = SentenceTransformer("model", device="cuda").float()
py = m.encode(texts, batch_size=32)
r = np.load(os.environ["OUT"] + "/rust_cuda.npy"); c = np.load(os.environ["OUT"] + "/rust_cpu.npy")
print("max abs diff rust-cuda vs python-cuda", float(np.abs(r - py).max()))
print("max abs diff rust-cuda vs rust-cpu", float(np.abs(r - c).max()))
PY
echo "== speed (16 cpu threads for tokenization side work)"
for dt in fp32 bf16; do
  for bs in 32 128; do
    python3 encode_bench.py model stsb_validation_sentences.txt $bs 16 5 $dt cuda 2>/dev/null | tail -1
    ./encode_bench model stsb_validation_sentences.txt $bs 16 5 $dt cuda 2>&1 | tail -1
  done
done
echo "== cpu threads=16 fp32 batch 32"
python3 encode_bench.py model stsb_validation_sentences.txt 32 16 3 fp32 2>/dev/null | tail -1
./encode_bench model stsb_validation_sentences.txt 32 16 3 fp32 2>&1 | tail -1
