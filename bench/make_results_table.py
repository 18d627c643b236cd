#!/usr/bin/env python3
"""Turn bench/work/smollm2/results.jsonl (from run_smollm2_results.sh) into the markdown table of RESULTS.md."""
import json
import sys

path = sys.argv[1] if len(sys.argv) > 1 else "bench/work/smollm2/results.jsonl"
rows = [json.loads(line) for line in open(path) if line.strip()]
fp = next((r for r in rows if r["method"] == "fp16"), None)
print("| method | bits | group | format | eff. bits/weight | sotu-test ppl | moby-dick ppl | d sotu vs FP16 | wall s | peak RSS MiB |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for r in rows:
    g = r["group_size"]
    group = "-" if r["method"] == "fp16" else ("per-channel" if g == -1 else str(g))
    delta = "" if fp is None or r is fp else f"{100 * (r['ppl_sotu_test'] / fp['ppl_sotu_test'] - 1):+.1f}%"
    wall = "-" if r["wall_s"] is None else f"{r['wall_s']:.0f}"
    rss = "-" if r["peak_rss_mb"] is None else str(r["peak_rss_mb"])
    bpw = "-" if r.get("bpw") is None else f"{r['bpw']:.3f}"
    print(f"| {r['method']} | {r['bits']} | {group} | {r.get('format', 'safetensors')} | {bpw} | {r['ppl_sotu_test']:.3f} | "
          f"{r['ppl_moby_dick']:.3f} | {delta} | {wall} | {rss} |")
