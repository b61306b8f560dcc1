"""Times sentence-transformers `encode` for `cargo xtask bench encode`. Prints one JSON line.

Usage: python encode_bench.py MODEL_DIR TEXT_FILE BATCH_SIZE THREADS REPEATS [fp32|bf16] [cuda]
"""
import json, sys, time

import torch
from sentence_transformers import SentenceTransformer

model_dir, text_file, batch_size, threads, repeats = sys.argv[1:6]
extra = sys.argv[6:]
torch.set_num_threads(int(threads))
device = "cuda" if "cuda" in extra else "cpu"
model = SentenceTransformer(model_dir, device=device)
# Both sides compute in the same dtype, whatever the checkpoint stores.
model = model.to(torch.bfloat16 if "bf16" in extra else torch.float32)
texts = open(text_file, encoding="utf-8").read().split("\n")
if texts and texts[-1] == "":
    texts.pop()
model.encode(texts[:64], batch_size=int(batch_size))
seconds = []
for _ in range(int(repeats)):
    start = time.perf_counter()
    out = model.encode(texts, batch_size=int(batch_size), convert_to_numpy=True)
    if device == "cuda":
        torch.cuda.synchronize()
    seconds.append(time.perf_counter() - start)
    assert out.shape[0] == len(texts)
seconds.sort()
median = seconds[len(seconds) // 2]
print(json.dumps({"side": "python", "texts": len(texts), "median_seconds": median, "rate": len(texts) / median,
                  "threads": int(threads), "runs": seconds,
                  "versions": {"torch": torch.__version__, "sentence_transformers": __import__("sentence_transformers").__version__}}))
