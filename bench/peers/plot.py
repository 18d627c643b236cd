"""Perplexity (sotu-test) against bits per weight, one line per (tool, method), from bench/peers/results.json.

Usage: python3 bench/peers/plot.py [bench/peers/results.json] [bench/peers_ppl_vs_bpw.png]
Rows with several seeds are drawn at their mean, with the spread as an error bar.
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
    for r in data["rows"]:
        if r.get("ppl_sotu_test") is None or r.get("bpw") is None:
            continue
        series[(r["tool"], r["method"])][round(r["bpw"], 3)].append(r["ppl_sotu_test"])
    fig, ax = plt.subplots(figsize=(7.5, 5))
    for (tool, method), pts in sorted(series.items()):
        xs = sorted(pts)
        ys = [sum(pts[x]) / len(pts[x]) for x in xs]
        err = [[y - min(pts[x]) for x, y in zip(xs, ys)], [max(pts[x]) - y for x, y in zip(xs, ys)]]
        style = "-" if tool == "streamquant" else "--"
        ax.errorbar(xs, ys, yerr=err, fmt="o" + style, capsize=3, label=f"{method} ({tool})")
    fp16 = data.get("fp16", {}).get("ppl_sotu_test")
    if fp16:
        ax.axhline(fp16, color="gray", lw=0.8, ls=":", label=f"fp16 ({fp16:.2f})")
    ax.set_xlabel("bits per weight")
    ax.set_ylabel("perplexity, sotu-test (512-token windows, first 8192 tokens)")
    ax.set_yscale("log")
    ax.set_title("SmolLM2-135M: perplexity vs bits per weight")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(dst, dpi=120)
    print("wrote", dst)


if __name__ == "__main__":
    main()
