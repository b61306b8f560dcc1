"""Times sentence-transformers 6.3's CrossEncoder.predict for `cargo xtask bench predict`.

    python predict_bench.py create MINILM_DIR OUTPUT_DIR
    python predict_bench.py predict MODEL_DIR PAIRS_JSONL THREADS BATCH_SIZE SCORES_NPY

`create` builds the benchmark's cross-encoder once: all-MiniLM-L6-v2's transformer under a new
one-label head, `CrossEncoder(MINILM_DIR, num_labels=1)` after torch.manual_seed(SEED), saved
with CrossEncoder.save into OUTPUT_DIR (written beside it first, then renamed into place).

`predict` loads MODEL_DIR on the CPU, reads the pairs (one JSON object a line, `premise` and
`hypothesis`), and times one `predict` call over all of them with the raw logits
(activation_fn=torch.nn.Identity()), as `train-cli predict --activation identity` times its own
call: no warm-up on either side, loading the model and the pairs not timed. The scores go to
SCORES_NPY as float32 [pairs, labels]; one JSON line reports the time.
"""

import json
import os
import shutil
import sys
import time

import numpy as np
import torch
import transformers
from sentence_transformers import CrossEncoder

SEED = 42


def create(minilm_dir: str, output_dir: str) -> None:
    torch.manual_seed(SEED)
    model = CrossEncoder(minilm_dir, num_labels=1, device="cpu")
    partial = output_dir + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    model.save(partial)
    os.replace(partial, output_dir)
    print(json.dumps({"created": output_dir, "seed": SEED, "num_labels": model.num_labels,
                      "max_seq_length": model.max_seq_length}), flush=True)


def predict(model_dir: str, pairs_file: str, threads: str, batch_size: str, scores_file: str) -> None:
    torch.set_num_threads(int(threads))
    with open(pairs_file, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    pairs = [(row["premise"], row["hypothesis"]) for row in rows]
    model = CrossEncoder(model_dir, device="cpu")

    start = time.perf_counter()
    scores = model.predict(pairs, batch_size=int(batch_size), activation_fn=torch.nn.Identity(),
                           convert_to_numpy=True, show_progress_bar=False)
    seconds = time.perf_counter() - start

    scores = np.asarray(scores, dtype=np.float32).reshape(len(pairs), -1)
    np.save(scores_file, scores)
    print(json.dumps({
        "side": "python", "pairs": len(pairs), "labels": int(scores.shape[1]), "seconds": seconds,
        "rate": len(pairs) / seconds, "threads": torch.get_num_threads(), "batch_size": int(batch_size),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "sentence_transformers": __import__("sentence_transformers").__version__},
    }), flush=True)


if __name__ == "__main__":
    transformers.utils.logging.disable_progress_bar()
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "create" and len(args) == 2:
        create(*args)
    elif mode == "predict" and len(args) == 5:
        predict(*args)
    else:
        sys.exit(__doc__)
