"""Perplexity (sotu-test) against bits per weight, one line per (tool, method), from bench/peers/results.json.

The y axis is the perplexity divided by the FP16 perplexity of the same evaluator: streamquant's `eval` and the
reference drivers share one evaluation (common.py; their FP16 numbers agree to 0.002%), while llama-perplexity
scores differently (BOS per window, second half only), so its rows are divided by its own F16 number.

Usage: python3 bench/peers/plot.py [bench/peers/results.json] [bench/peers_ppl_vs_bpw.png]
Rows with several seeds are drawn at their mean, with the spread as an error bar. The y axis stops at 20x FP16:
the diverged 2-bit RTN and GPTQ rows are off the top (they are in the tables).
"""
import json
import sys
from collections import defaultdict

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "bench/peers/results.json"
    dst = sys.argv[2] if len(sys.argv) > 2 else "bench/peers_ppl_vs_bpw.png"
    with open(src) as f:
        data = json.load(f)
    series = defaultdict(lambda: defaultdict(list))  # (tool, method) -> bpw -> [ppl]
    labels = []  # (bpw, ratio, llama.cpp type): the point labels of llama.cpp's one line
    for r in data["rows"]:
        if r.get("ppl_sotu_test") is None or r.get("bpw") is None or r["method"] == "fp16":
            continue
        base = data["fp16"]["ppl_sotu_test"]
        if r["tool"] == "llama.cpp":
            base = data["llamacpp_f16"]["ppl_sotu_test"]
        method = "k/i-quants + imatrix" if r["tool"] == "llama.cpp" else r["method"]
        series[(r["tool"], method)][round(r["bpw"], 3)].append(r["ppl_sotu_test"] / base)
        if r["tool"] == "llama.cpp":
            labels.append((r["bpw"], r["ppl_sotu_test"] / base, r["type"]))
    fig, ax = plt.subplots(figsize=(9, 6))
    colors = plt.get_cmap("tab20").colors
    for i, ((tool, method), pts) in enumerate(sorted(series.items())):
        xs = sorted(pts)
        ys = [sum(pts[x]) / len(pts[x]) for x in xs]
        err = [[y - min(pts[x]) for x, y in zip(xs, ys)], [max(pts[x]) - y for x, y in zip(xs, ys)]]
        style = "-" if tool == "streamquant" else "--"
        ax.errorbar(xs, ys, yerr=err, fmt=("o" if tool == "streamquant" else "s") + style, capsize=3,
                    color=colors[i % len(colors)], label=f"{method} ({tool})")
    for i, (x, y, text) in enumerate(sorted(labels)):
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, 8 if i % 2 else -12), fontsize=7)
    ax.axhline(1.0, color="gray", lw=0.8, ls=":", label="FP16")
    ax.set_xlabel("bits per weight of the quantized linear layers (every stored byte)")
    ax.set_ylabel("perplexity / FP16 perplexity, sotu-test")
    ax.set_yscale("log")
    # Diverged rows (2-bit RTN and GPTQ, hundreds to 10^4 x FP16) would squash the rest; they are in the tables.
    ax.set_ylim(0.9, 20)
    ax.set_title("SmolLM2-135M: perplexity vs bits per weight")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(dst, dpi=120)
    print("wrote", dst)


if __name__ == "__main__":
    main()
