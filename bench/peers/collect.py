"""Gather the JSON lines of a comparison run into bench/peers/results.json (what plot.py and PEERS.md use).

Usage: python3 bench/peers/collect.py OUT_DIR [bench/peers/results.json]
Reads OUT_DIR/ours.jsonl (streamquant), OUT_DIR/peers.jsonl (reference drivers), OUT_DIR/llamacpp.jsonl and
OUT_DIR/experiments.jsonl (streamquant runs with a setting changed to test an explanation; queue.sh run with OUT
set to a scratch directory, its ours.jsonl copied here).
Bits per weight of streamquant rows: the figure `streamquant quantize` printed (its log), with the reference rows'
storage count (common.py: b-bit codes + fp16 scale + b-bit zero per group, or 2^b fp16 centroids per row) kept
as bpw_formula.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "results", "smollm2.json")
FP16 = {"ppl_sotu_test": 27.373172, "ppl_moby_dick": 58.166428,
        "source": "streamquant eval of the fp16 model (bench/RESULTS.md)"}


def read(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip().startswith("{")]


LINEAR_PARTS = ("attn_q.", "attn_k.", "attn_v.", "attn_output.", "ffn_gate.", "ffn_up.", "ffn_down.")


def gguf_linear_bpw(path):
    """Bits per weight of the block linear layers only (what streamquant's figure covers), and the tensor types
    llama.cpp chose for them. llama.cpp's own BPW covers the whole file (embeddings, norms, output); and its
    256-wide k-quant blocks do not divide SmolLM2's 576 columns, so most of those tensors fall back to other types."""
    from gguf import GGUFReader  # PyPI `gguf`
    bits = n = 0
    types = {}
    for t in GGUFReader(path).tensors:
        if t.name.startswith("blk.") and any(k in t.name for k in LINEAR_PARTS):
            bits += int(t.n_bytes) * 8
            n += int(t.n_elements)
            types[t.tensor_type.name] = types.get(t.tensor_type.name, 0) + 1
    return round(bits / n, 4), types


def main():
    out_dir = sys.argv[1]
    dst = sys.argv[2] if len(sys.argv) > 2 else "bench/peers/results.json"
    model = os.path.join(out_dir, "smollm2-135m")
    rows = []
    for r in read(os.path.join(out_dir, "ours.jsonl")):
        args = r.get("args", "")
        suffix = "-" + re.sub(r"[^A-Za-z0-9.]", "", args) if args else ""  # as queue.sh names the output
        log = os.path.join(out_dir, f"q-{r['method']}-{r['bits']}-{r['group_size']}-s{r['seed']}{suffix}.log")
        if "outlier-fraction" in args:
            r["method"] += "-outlier"  # the reference driver's name for the same variant
        reported = [ln for ln in open(log) if ln.startswith("effective bits per weight")] if os.path.exists(log) else []
        if reported:  # what streamquant wrote: its own stored bytes, scales and zeros included
            r["bpw_reported"] = float(reported[-1].split(":")[1].split()[0])
        if r["method"] in ("leanquant", "claq"):
            r["bpw_formula"] = (common.claq_bpw(model, r["bits"]) if r["method"] == "claq"
                                else common.lut_bpw(model, r["bits"], 2 ** r["bits"], per_column=False))
        else:
            r["bpw_formula"] = common.affine_bpw(r["bits"], r["group_size"], cols=576)
        r["bpw"] = r.get("bpw_reported", r["bpw_formula"])
        rows.append(r)
    for r in read(os.path.join(out_dir, "peers.jsonl")):
        # rows written before the drivers counted the model's actual layer shapes
        if r["tool"] == "LeanModels/LeanQuant":
            r["bpw"] = common.lut_bpw(model, r["bits"], 2 ** r["bits"], per_column=False)
        if r["tool"] == "fayuge/CLAQ":
            r["bits"] = r.get("avg_bits", r["bits"])
            r["bpw"] = common.claq_bpw(model, r["bits"], r.get("outlierorder", 0.0))
        rows.append(r)
    # streamquant's other methods, from the same-settings runs of bench/RESULTS.md (seed 0, 2 threads), so the
    # plot shows them beside the peers; their times are from those runs, not from this comparison.
    measured_here = {(r["method"], r["bits"], r["group_size"]) for r in rows if r["tool"] == "streamquant"}
    if os.path.exists(RESULTS):
        for r in json.load(open(RESULTS)):
            method = r["method"] + ("-outlier" if "outlier" in (r.get("options") or "") else "")
            if method == "claq" and r["bits"] != int(r["bits"]):
                method = "claq-reserve"  # fractional bits reserve outliers by default; the reference's rows do not
            if (method, r["bits"], r["group_size"]) in measured_here:
                continue  # run again in this comparison, on the same quiet machine as the reference
            if r["method"] in ("leanquant-affine", "quantease", "claq", "higgs-gptq") and "seed" not in (r.get("options") or ""):
                rows.append({"tool": "streamquant", "method": method,
                             "bits": r["bits"], "group_size": r["group_size"], "seed": 0, "bpw": r["bpw"],
                             "ppl_sotu_test": r["ppl_sotu_test"], "ppl_moby_dick": r["ppl_moby_dick"],
                             "quant_wall_s": r.get("wall_s"), "peak_rss_mb": r.get("peak_rss_mb"),
                             "source": f"bench/results/smollm2.json run {r.get('run')}"})
    llama = read(os.path.join(out_dir, "llamacpp.jsonl"))
    for r in llama:
        q = os.path.join(out_dir, "gguf", f"smollm2-135m-{r['type']}.gguf")
        if r["method"] != "F16" and os.path.exists(q):
            r["bpw_file"] = r["bpw"]
            r["bpw"], r["linear_tensor_types"] = gguf_linear_bpw(q)
    data = {"fp16": FP16, "rows": rows + [r for r in llama if r["method"] != "F16"],
            # runs that test an explanation (e.g. a setting changed to the reference's), kept out of the tables
            "experiments": read(os.path.join(out_dir, "experiments.jsonl")),
            "llamacpp_f16": next((r for r in llama if r["method"] == "F16"), None),
            "settings": {"calibration": "sotu-calib, 16 x 512 tokens, seed 0 (mt19937_64 offsets)",
                         "evaluation": "non-overlapping 512-token windows over the first 8192 tokens",
                         "threads": 2}}
    with open(dst, "w") as f:
        json.dump(data, f, indent=1)
    print("wrote", dst, len(data["rows"]), "rows")


if __name__ == "__main__":
    main()
