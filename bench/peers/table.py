"""Markdown tables for bench/PEERS.md from bench/peers/results.json (collect.py).

Usage: python3 bench/peers/table.py [bench/peers/results.json]
Prints: (1) streamquant vs each reference on the same method and settings, seed 0, with the time ratio
(theirs / ours, median over the seeds both ran);
(2) every calibration seed of the configurations run with several; (3) llama.cpp against its own F16.
"""
import json
import statistics
import sys

REF = {"gptq": "IST-DASLab/gptq", "rtn": "IST-DASLab/gptq", "leanquant": "LeanModels/LeanQuant",
       "quantease": "linkedin/QuantEase", "quantease-outlier": "linkedin/QuantEase", "claq": "fayuge/CLAQ"}


def key(r):
    return (r["method"], r["bits"], r["group_size"])


def group_name(g):
    return "per-channel" if g == -1 else str(g)


def main():
    data = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "bench/peers/results.json"))
    fp16 = data["fp16"]["ppl_sotu_test"]
    rows = [r for r in data["rows"] if r["method"] != "fp16"]
    ours = {key(r) + (r["seed"],): r for r in rows if r["tool"] == "streamquant" and "source" not in r}
    # a reference run with a fix applied at run time is named "tool (what was fixed)"
    theirs = {key(r) + (r["seed"],): r for r in rows if r["tool"].split(" (")[0] in REF.values()}
    # A configuration not run again beside the reference: its bench/RESULTS.md row (same data, seed and threads)
    # gives the perplexity; its time was taken under other load, so no time ratio is formed from it.
    earlier = {key(r) + (r["seed"],): r for r in rows if r["tool"] == "streamquant" and "source" in r}
    for k in theirs:
        if k not in ours and k in earlier:
            ours[k] = dict(earlier[k], timing_note=earlier[k]["source"])

    print("| method | bits | group | tool | bits/weight | sotu-test | moby-dick | d sotu vs FP16 | quant wall s "
          "| theirs / ours time | peak RSS MiB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for k in sorted({k for k in ours if k[3] == 0 and k in theirs}, key=lambda k: (k[0], -k[1], k[2])):
        o, t = ours[k], theirs[k]
        # Time ratio: the median over every seed run by both (one job at a time), with the pair count.
        # Rows with a "timing_note" (the run was paused or disturbed) give their perplexity but not their time.
        pairs = [(ours.get(k[:3] + (s,)), theirs.get(k[:3] + (s,))) for s in range(10)]
        ratios = [b["quant_wall_s"] / a["quant_wall_s"] for a, b in pairs
                  if a and b and "timing_note" not in a and "timing_note" not in b]
        rat = (f"{statistics.median(ratios):.2f}x" + (f" (median of {len(ratios)})" if len(ratios) > 1 else "")
               if ratios else "not timed together")
        ours_name = "streamquant" + (f" ({o['source'].split()[-2]} {o['source'].split()[-1]})" if "source" in o else "")
        for r, tool, rat in ((o, ours_name, ""), (t, t["tool"], rat)):
            print(f"| {k[0]} | {k[1]} | {group_name(k[2])} | {tool} | {r['bpw']:.3f} | {r['ppl_sotu_test']:.4g} | "
                  f"{r['ppl_moby_dick']:.4g} | {100 * (r['ppl_sotu_test'] / fp16 - 1):+.1f}% | {r['quant_wall_s']:.0f} | "
                  f"{rat} | {r['peak_rss_mb']} |")

    print()
    print("| method | bits | group | tool | seeds | sotu-test per seed | mean | moby-dick per seed | mean |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    multi = sorted({k[:3] for k in list(ours) + list(theirs) if k[3] > 0})
    for k in multi:
        for tool, table in (("streamquant", ours), (REF[k[0]], theirs)):
            rs = [table[k + (s,)] for s in range(10) if k + (s,) in table]
            if not rs:
                continue
            a = [r["ppl_sotu_test"] for r in rs]
            b = [r["ppl_moby_dick"] for r in rs]
            print(f"| {k[0]} | {k[1]} | {group_name(k[2])} | {tool} | {len(rs)} | {' / '.join(f'{x:.2f}' for x in a)} | "
                  f"{statistics.mean(a):.2f} | {' / '.join(f'{x:.2f}' for x in b)} | {statistics.mean(b):.2f} |")

    f16 = data.get("llamacpp_f16")
    if f16:
        print()
        print("| llama.cpp type | bits/weight, linear layers | bits/weight, whole file | tensor types of the linear layers "
              "| sotu-test | d vs its F16 | moby-dick | d vs its F16 | quant wall s |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        print(f"| F16 | 16 | 16 | F16 | {f16['ppl_sotu_test']:.4f} | | {f16['ppl_moby_dick']:.4f} | | |")
        for r in [r for r in rows if r["tool"] == "llama.cpp"]:
            types = ", ".join(f"{n} {t}" for t, n in sorted(r.get("linear_tensor_types", {}).items(), key=lambda x: -x[1]))
            print(f"| {r['type']} | {r['bpw']:.3f} | {r.get('bpw_file', '')} | {types} | {r['ppl_sotu_test']:.4f} | "
                  f"{100 * (r['ppl_sotu_test'] / f16['ppl_sotu_test'] - 1):+.1f}% | {r['ppl_moby_dick']:.4f} | "
                  f"{100 * (r['ppl_moby_dick'] / f16['ppl_moby_dick'] - 1):+.1f}% | {r['quant_wall_s']:.1f} |")


if __name__ == "__main__":
    main()
