"""Append the rows of a run to bench/results/smollm2.json under a run label (the table of bench/RESULTS.md).

Reads run_smollm2_results.sh output (results.jsonl) and/or bench/peers/queue.sh's streamquant rows (ours.jsonl, whose
bits per weight come from the quantize log beside each output). Rows of the same config, options and seed as rows
already present are added, not merged; --replace-identical drops older rows with an identical config and result.

Usage: python3 bench/add_results_rows.py --run F [--results OUT/results.jsonl] [--ours PEERS_OUT/ours.jsonl]
       [--replace-identical] [bench/results/smollm2.json]
"""
import argparse
import json
import os


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip().startswith("{")]


def from_ours(r, out_dir):
    """A queue.sh streamquant row in the run_smollm2_results.sh shape."""
    log = os.path.join(out_dir, f"q-{r['method']}-{r['bits']}-{r['group_size']}-s{r['seed']}.log")
    bpw = None
    if os.path.exists(log):
        for line in open(log):
            if line.startswith("effective bits per weight:"):
                bpw = float(line.split(":")[1].split()[0])
    opts = f"seed={r['seed']}" if r["seed"] else ""
    return {"config": f"{r['method']}:{r['bits']}:{r['group_size']}" + (f":{opts}" if opts else ""),
            "method": r["method"], "bits": r["bits"], "group_size": r["group_size"], "options": opts,
            "format": r["format"], "ppl_sotu_test": r["ppl_sotu_test"], "ppl_moby_dick": r["ppl_moby_dick"],
            "wall_s": r["quant_wall_s"], "peak_rss_mb": r["peak_rss_mb"], "bpw": bpw, "nsamples": 16, "seqlen": 512}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dst", nargs="?", default="bench/results/smollm2.json")
    p.add_argument("--run", required=True)
    p.add_argument("--results")
    p.add_argument("--ours")
    p.add_argument("--replace-identical", action="store_true",
                   help="drop older rows whose config, options and perplexities equal a new row's")
    args = p.parse_args()
    rows = json.load(open(args.dst))
    new = []
    if args.results:
        new += read_jsonl(args.results)
    if args.ours:
        new += [from_ours(r, os.path.dirname(args.ours)) for r in read_jsonl(args.ours)]
    for r in new:
        r["run"] = args.run
        if r.get("bpw") is not None:
            r["bpw"] = float(r["bpw"])

    def same(a, b):
        return all(a.get(k) == b.get(k) for k in ("method", "bits", "group_size", "format")) and \
            (a.get("options") or "") == (b.get("options") or "") and \
            abs(a["ppl_sotu_test"] - b["ppl_sotu_test"]) <= 1e-6 * b["ppl_sotu_test"]

    if args.replace_identical:
        dropped = [r for r in rows if any(same(r, n) for n in new)]
        rows = [r for r in rows if r not in dropped]
        for r in dropped:
            print(f"replaced: {r['config']} run {r.get('run')}")
    rows += new
    tmp = args.dst + ".tmp"
    with open(tmp, "w") as f:
        f.write("[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n")  # one row per line
    os.replace(tmp, args.dst)
    print(f"{args.dst}: {len(new)} rows added as run {args.run}, {len(rows)} in all")


if __name__ == "__main__":
    main()
