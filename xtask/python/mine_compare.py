"""sentence-transformers 6.3's mine_hard_negatives on MNLI's (premise, entailment hypothesis)
pairs, for comparison with `train-cli mine` on the same pairs and parameters.

    .venv-bench/bin/python xtask/python/mine_compare.py OUT_DIR [ROWS]

Writes OUT_DIR/st-<name>.jsonl (the mined dataset) and OUT_DIR/st-<name>.txt (the printed
statistics) for each parameter set in PARAMS; the first ROWS (default 5000) entailment pairs of
the hub's glue/mnli train split (HF_ENDPOINT), premise as the anchor.
"""

import contextlib
import io
import json
import sys
from pathlib import Path

import pandas as pd
import torch
from datasets import Dataset
from huggingface_hub import hf_hub_download
from sentence_transformers import SentenceTransformer
from sentence_transformers.util import mine_hard_negatives

PARAMS = {
    "default": {},
    "relative": {"relative_margin": 0.05, "num_negatives": 5, "output_format": "n-tuple"},
    "window": {"range_min": 10, "range_max": 50, "max_score": 0.8, "num_negatives": 3},
    "random": {"range_max": 20, "num_negatives": 3, "sampling_strategy": "random"},
}

out = Path(sys.argv[1])
rows = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
out.mkdir(parents=True, exist_ok=True)
path = hf_hub_download("nyu-mll/glue", "mnli/train-00000-of-00001.parquet", repo_type="dataset")
frame = pd.read_parquet(path)
frame = frame[frame["label"] == 0].head(rows)
pairs = Dataset.from_dict({"anchor": frame["premise"].tolist(), "positive": frame["hypothesis"].tolist()})
model = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2", device="cpu")
for name, params in PARAMS.items():
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        mined = mine_hard_negatives(
            pairs, model, batch_size=32, cache_folder=str(out / "st-cache"), verbose=True, **params
        )
    (out / f"st-{name}.txt").write_text(text.getvalue())
    with open(out / f"st-{name}.jsonl", "w") as f:
        for row in mined:
            f.write(json.dumps(row) + "\n")
    print(name, len(mined), "rows", flush=True)
