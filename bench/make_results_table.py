#!/usr/bin/env python3
"""Markdown table for RESULTS.md from run_smollm2_results.sh output: a results.jsonl, or a JSON list of rows that
also carry a "run" label (bench/results/smollm2.json). Usage: make_results_table.py [FILE]"""
import json
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "bench/work/smollm2/results.jsonl"
text = open(path).read()
rows = json.loads(text) if text.lstrip().startswith("[") else [json.loads(l) for l in text.splitlines() if l.strip()]
fp = next((r for r in rows if r["method"] == "fp16"), None)
# Widest first, then a fixed method order, then group size (grouped before per-channel), then run label.
METHODS = ["fp16", "rtn", "gptq", "leanquant-affine", "leanquant", "quantease", "claq", "higgs", "higgs-gptq"]
rows.sort(key=lambda r: (-r["bits"], METHODS.index(r["method"]) if r["method"] in METHODS else len(METHODS),
                         r["group_size"] if r["group_size"] > 0 else 1 << 30, r.get("options") or "", r.get("run", "")))


def num(v, fmt):
    return "-" if v is None else format(v, fmt)


print("| method | bits | group | options | format | eff. bits/weight | sotu-test ppl | moby-dick ppl | d sotu vs FP16 "
      "| wall s | peak RSS MiB | run |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    g = r["group_size"]
    group = "-" if r["method"] == "fp16" else ("per-channel" if g == -1 else str(g))
    delta = "" if fp is None or r is fp else f"{100 * (r['ppl_sotu_test'] / fp['ppl_sotu_test'] - 1):+.1f}%"
    ppl = lambda v: f"{v:.3f}" if v < 1e4 else f"{v:.3g}"  # noqa: E731  (diverged runs: 3 significant digits)
    print(f"| {r['method']} | {r['bits']} | {group} | {r.get('options') or ''} | {r.get('format', 'safetensors')} | "
          f"{num(r.get('bpw'), '.3f')} | {ppl(r['ppl_sotu_test'])} | {ppl(r['ppl_moby_dick'])} | {delta} | "
          f"{num(r.get('wall_s'), '.0f')} | {num(r.get('peak_rss_mb'), 'd')} | {r.get('run', '')} |")
