#!/usr/bin/env python3
"""Quantize a model with a progress display, stream its packed tensors, and read one tensor back.

    STREAMQUANT_LIB=build/lib python3 examples/python/quantize.py MODEL_DIR OUT_DIR
(PYTHONPATH=bindings/python/src, or `pip install ./bindings/python` first.)
"""
import sys

import numpy as np

import streamquant as sq

model_dir, out_dir = sys.argv[1], sys.argv[2]
model = sq.Model(model_dir)
job = sq.Job(model, method="gptq", bits=4, group_size=32)
vocab = model.describe()["vocab_size"]
job.set_calibration_tokens(np.random.default_rng(0).integers(0, vocab, size=(8, 64)))
job.on_progress(lambda p: print(f"\rblock {p.done}/{p.total}, eta {p.eta:.1f}s", end="", flush=True))
packed = 0
for name, array in job.stream():  # packed GPTQ tensors, as soon as each block is done
    packed += array.nbytes
print(f"\nstreamed {packed} packed bytes")
job.write(out_dir, "gptq")
name = "model.layers.0.self_attn.q_proj.weight"
w = sq.Model(out_dir).read(name)
print(f"{name}: {w.shape}, max |W - Wq| = {np.abs(model.read(name) - w).max():.4g}")
