#!/usr/bin/env python3
"""Linearity check for dynamic bit allocation (HIGGS linearity theorem): for a few random per-layer bit
allocations, compare the predicted perplexity increase sum_l alpha_l * t_l with the measured one.

    bench/linearity_check.py --model DIR --alphas alphas.json --text EVAL.txt [--n 6] [--seed 0]
                             [--method rtn] [--group-size 128] [--eval-tokens 8192] [--out DIR]

t_l is the layer's relative MSE as the job measured it (quantization_config per_layer rel_mse_rtn: RTN at the
chosen bits, exactly the error an RTN job makes). Each allocation draws every layer's bits from {2, 3, 4, 8}
with probabilities that vary across allocations, so the predicted increases spread out. Prints one JSON line
per allocation and a markdown table with the Pearson correlations of
  predicted dPPL  = sum alpha_l t_l                      vs measured ppl - ppl_fp
  predicted dNLL  = sum alpha_nll_l t_l                  vs measured log(ppl / ppl_fp)
(alphas are measured on the calibration text; the eval text's base perplexity differs, so the log form is the
one that transfers across texts).
"""
import argparse
import json
import math
import pathlib
import random
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def sq(*args, cli):
    proc = subprocess.run([cli, *map(str, args)], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"streamquant {' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc.stdout


def ppl(model, text, tokens, cli):
    out = sq("eval", model, "--text", text, "--seqlen", 512, "--max-tokens", tokens, "--json", cli=cli)
    return json.loads(out)["perplexity"]


def pearson(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--alphas", required=True)
    ap.add_argument("--text", required=True)
    ap.add_argument("--calib", help="calibration text for the job (RTN ignores it; default: --text)")
    ap.add_argument("--n", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--method", default="rtn")
    ap.add_argument("--group-size", type=int, default=128)
    ap.add_argument("--eval-tokens", type=int, default=8192)
    ap.add_argument("--out", default="bench/work/linearity")
    ap.add_argument("--cli", default=str(ROOT / "build" / "bin" / "streamquant"))
    a = ap.parse_args()
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    doc = json.loads(pathlib.Path(a.alphas).read_text())
    alpha = {l["name"]: l["alpha"] for l in doc["layers"]}
    alpha_nll = {l["name"]: l["alpha_nll"] for l in doc["layers"]}
    base = ppl(a.model, a.text, a.eval_tokens, a.cli)
    rng = random.Random(a.seed)
    # Bit-width mixes from mild to harsh, so the predicted increases cover a range.
    mixes = [(0.0, 0.2, 0.6, 0.2), (0.0, 0.5, 0.5, 0.0), (0.0, 0.8, 0.2, 0.0), (0.1, 0.6, 0.3, 0.0),
             (0.2, 0.5, 0.3, 0.0), (0.3, 0.4, 0.3, 0.0), (0.0, 0.0, 1.0, 0.0), (0.05, 0.3, 0.6, 0.05)]
    rows = []
    for k in range(a.n):
        mix = mixes[k % len(mixes)]
        plan = {name: rng.choices((2, 3, 4, 8), weights=mix)[0] for name in alpha}
        plan_file = out / f"plan_{k}.json"
        plan_file.write_text(json.dumps(plan, indent=1))
        qdir = out / f"alloc_{k}"
        if qdir.exists():
            subprocess.run(["rm", "-rf", str(qdir)], check=True)
        sq("quantize", a.model, "-o", qdir, "--calib", a.calib or a.text, "--nsamples", 2, "--seqlen", 128,
           "--method", a.method, "--group-size", a.group_size, "--bit-plan", plan_file, cli=a.cli)
        qc = json.loads((qdir / "config.json").read_text())["quantization_config"]
        t = {n: e["rel_mse_rtn"] for n, e in qc["per_layer"].items()}
        pred = sum(alpha[n] * t[n] for n in t)
        pred_nll = sum(alpha_nll[n] * t[n] for n in t)
        p = ppl(qdir, a.text, a.eval_tokens, a.cli)
        row = {"alloc": k, "mix_2_3_4_8": mix, "bpw": qc["achieved_bpw"], "pred_dppl": pred, "meas_dppl": p - base,
               "pred_dnll": pred_nll, "meas_dnll": math.log(p / base), "ppl": p, "ppl_fp": base}
        print(json.dumps(row), flush=True)
        rows.append(row)
        subprocess.run(["rm", "-rf", str(qdir)], check=True)
    r_ppl = pearson([r["pred_dppl"] for r in rows], [r["meas_dppl"] for r in rows])
    r_nll = pearson([r["pred_dnll"] for r in rows], [r["meas_dnll"] for r in rows])
    print(f"\n| alloc | bpw | predicted dPPL | measured dPPL | predicted dNLL | measured dNLL |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['alloc']} | {r['bpw']:.3f} | {r['pred_dppl']:.3f} | {r['meas_dppl']:.3f} | "
              f"{r['pred_dnll']:.4f} | {r['meas_dnll']:.4f} |")
    print(f"\nPearson r (dPPL) = {r_ppl:.3f}; Pearson r (dNLL) = {r_nll:.3f}; fp perplexity {base:.3f}")
    print(json.dumps({"pearson_dppl": r_ppl, "pearson_dnll": r_nll, "ppl_fp": base, "n": len(rows)}))


if __name__ == "__main__":
    main()
