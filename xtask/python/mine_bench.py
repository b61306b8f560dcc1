"""Times sentence-transformers 6.3's mine_hard_negatives for `cargo xtask bench mine`. Prints
one JSON line.

    python mine_bench.py MODEL_DIR MNLI_TRAIN_PARQUET ANCHORS CORPUS_FILE OUTPUT THREADS BATCH_SIZE default|faiss

The pairs are read as xtask/python/mine_compare.py reads them: the first ANCHORS entailment
rows (label 0) of MNLI train in file order, premise as the anchor. CORPUS_FILE holds one text a
line (no text contains a line break). The timed part is the mining call with its defaults
(use_faiss as asked, no cache) plus writing the mined rows as JSONL, as train-cli's own figure
covers mining and writing; loading the model and the inputs is not timed.
"""

import json
import sys
import time

import pandas as pd
import torch
from datasets import Dataset
from sentence_transformers import SentenceTransformer
from sentence_transformers.util import mine_hard_negatives

model_dir, pairs_file, anchors, corpus_file, output, threads, batch_size, mode = sys.argv[1:9]
assert mode in ("default", "faiss"), mode
use_faiss = mode == "faiss"
if use_faiss:
    import faiss  # noqa: F401  (fail here, before the model loads, if it is missing)
torch.set_num_threads(int(threads))

frame = pd.read_parquet(pairs_file)
frame = frame[frame["label"] == 0].head(int(anchors))
pairs = Dataset.from_dict({"anchor": frame["premise"].tolist(), "positive": frame["hypothesis"].tolist()})
with open(corpus_file, encoding="utf-8", newline="") as f:
    corpus = f.read().split("\n")
if corpus and corpus[-1] == "":
    corpus.pop()
model = SentenceTransformer(model_dir, device="cpu")

start = time.perf_counter()
mined = mine_hard_negatives(pairs, model, corpus=corpus, use_faiss=use_faiss, batch_size=int(batch_size))
mine_seconds = time.perf_counter() - start
mined.to_json(output)
seconds = time.perf_counter() - start

versions = {"torch": torch.__version__, "sentence_transformers": __import__("sentence_transformers").__version__}
if use_faiss:
    versions["faiss"] = faiss.__version__
anchors, positives = list(pairs["anchor"]), list(pairs["positive"])
print(json.dumps({
    "side": "python", "use_faiss": use_faiss, "pairs": len(pairs),
    "queries": len(dict.fromkeys(anchors)), "corpus": len(dict.fromkeys(corpus + positives)),
    "rows": len(mined), "seconds": seconds, "mine_seconds": mine_seconds, "threads": int(threads),
    "versions": versions,
}), flush=True)
