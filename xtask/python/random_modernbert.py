"""A random ModernBERT the size of all-MiniLM-L6-v2, for timing the ModernBERT training path
(no pretrained ModernBERT is available offline). Not a model to train for quality.

Usage: python random_modernbert.py MINILM_DIR OUT_DIR
MINILM_DIR: a local all-MiniLM-L6-v2 folder (e.g. from `cargo xtask fetch-model`); its
tokenizer, pooling and sentence-transformers files are copied, its weights replaced by a
ModernBERT (hidden 384, 6 layers, 6 heads, GeGLU 1,152, window 128, every third layer global)
drawn with seed 0 by transformers 5.24.
"""
import os, shutil, sys

import torch
from transformers import AutoConfig, AutoModel

src, dst = sys.argv[1], sys.argv[2]
shutil.copytree(src, dst, dirs_exist_ok=True)
for name in ["model.safetensors", "config.json", "pytorch_model.bin", "rust_model.ot", "tf_model.h5"]:
    path = os.path.join(dst, name)
    if os.path.lexists(path):
        os.remove(path)
torch.manual_seed(0)
config = AutoConfig.for_model(
    "modernbert", vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=6,
    intermediate_size=1152, max_position_embeddings=512, global_attn_every_n_layers=3,
    local_attention=128, pad_token_id=0, cls_token_id=101, sep_token_id=102, bos_token_id=101,
    eos_token_id=102)
AutoModel.from_config(config).save_pretrained(dst)
