#!/usr/bin/env python3
"""BG/NBD + Gamma-Gamma fit on 1M customers simulated from the CDNOW parameters:
cxscore against the Python package `lifetimes` (BetaGeoFitter + GammaGammaFitter).

    bench/.venv/bin/pip install lifetimes scipy     # once, next to bench/requirements.txt
    bench/.venv/bin/python bench/clv_bench.py [--customers 1000000] [--runs 3]

Customers are simulated from the BG/NBD and Gamma-Gamma processes with Fader, Hardie
& Lee's CDNOW estimates (r = 0.243, α = 4.414, a = 0.793, b = 2.426; p = 6.25,
q = 3.74, γ = 15.44), acquired over 12 weeks and observed to week 39, times rounded to
days as in CDNOW. Both tools read the same summary CSV and fit both models; the table
reports whole-process wall time and peak RSS (median of runs after a warm-up), the
time of the fits alone once the file is read (lifetimes: timed around its two `fit`
calls; cxscore: its own CXSCORE_TIMINGS split), the fitted parameters, and their
largest relative difference. Writes bench/results/clv.md.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LIFETIMES = """
import json, sys, time
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
t0 = time.perf_counter()
d = pd.read_csv(sys.argv[1])
t1 = time.perf_counter()
bg = BetaGeoFitter(penalizer_coef=0.0).fit(d["frequency"], d["recency"], d["T"])
rep = d[d["frequency"] > 0]
gg = GammaGammaFitter(penalizer_coef=0.0).fit(rep["frequency"], rep["monetary_value"])
print(json.dumps({"r": bg.params_["r"], "alpha": bg.params_["alpha"], "a": bg.params_["a"], "b": bg.params_["b"],
                  "p": gg.params_["p"], "q": gg.params_["q"], "v": gg.params_["v"], "seconds": time.perf_counter() - t0,
                  "fit_seconds": time.perf_counter() - t1}))
"""


def simulate(path, n, seed=2005):
    import numpy as np
    rng = np.random.default_rng(seed)
    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    p, q, g = 6.25, 3.74, 15.44
    lam = rng.gamma(r, 1.0 / alpha, n)
    drop = rng.beta(a, b, n)
    T = 39.0 - np.floor(rng.uniform(0, 12 * 7, n)) / 7.0  # acquired in the first 12 weeks
    x = np.zeros(n, dtype=np.int64)
    tx = np.zeros(n)
    t = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    while alive.any():
        idx = np.nonzero(alive)[0]
        t[idx] += rng.exponential(1.0 / np.maximum(lam[idx], 1e-12))
        within = t[idx] <= T[idx]
        buyers = idx[within]
        x[buyers] += 1
        tx[buyers] = t[buyers]
        alive[idx[~within]] = False
        dies = rng.uniform(size=buyers.size) < drop[buyers]
        alive[buyers[dies]] = False
    tx = np.round(tx * 7.0) / 7.0  # days, as in CDNOW
    nu = rng.gamma(q, 1.0 / g, n)
    spend = np.where(x > 0, rng.gamma(p * np.maximum(x, 1), 1.0 / nu) / np.maximum(x, 1), 0.0)
    with open(path, "w") as f:
        f.write("customer_id,frequency,recency,T,monetary_value\n")
        for i in range(n):
            f.write(f"{i},{x[i]},{tx[i]:.4f},{T[i]:.4f},{spend[i]:.4f}\n")


def timed(cmd):
    start = time.perf_counter()
    env = dict(os.environ, CXSCORE_TIMINGS="1")
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed: {proc.stderr.decode()}")
    err = proc.stderr.decode().strip().splitlines()
    rss = int(err[-1]) / 1024
    # cxscore's own split (CXSCORE_TIMINGS): "timing: read 98.1 ms, fit 31.0 ms"
    fit = next((float(l.split("fit ")[1].split(" ms")[0]) / 1e3 for l in err if l.startswith("timing:")), None)
    return wall, rss, proc.stdout.decode(), fit


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data", default=os.path.join(ROOT, "bench/data/clv_summary.csv"))
    ap.add_argument("--cxscore", default=os.path.join(ROOT, "target/release/cxscore"))
    args = ap.parse_args()
    if not os.path.exists(args.data):
        os.makedirs(os.path.dirname(args.data), exist_ok=True)
        t0 = time.perf_counter()
        simulate(args.data, args.customers)
        print(f"simulated {args.customers:,} customers in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    tools = {
        "cxscore": [args.cxscore, "clv", "fit", "--summary", args.data, "--format", "json"],
        "lifetimes": [sys.executable, "-c", LIFETIMES, args.data],
    }
    results, params, fit_median = {}, {}, {}
    for name, cmd in tools.items():
        timed(cmd)
        fits = []
        for _ in range(args.runs):
            wall, rss, out, fit = timed(cmd)
            results.setdefault(name, []).append((wall, rss))
            if name == "lifetimes":
                fit = json.loads(out)["fit_seconds"]
            fits.append(fit)
            print(f"{name:<10} {wall:8.3f} s {rss:8.1f} MiB  fit {fit:.3f} s", file=sys.stderr)
        fit_median[name] = statistics.median(fits)
        doc = json.loads(out)
        if name == "cxscore":
            bg, gg = doc["bgnbd"], doc["gamma_gamma"]
            params[name] = {k: bg[k] for k in ("r", "alpha", "a", "b")} | {k: gg[k] for k in ("p", "q", "v")}
            params[name]["distinct_tuples"] = doc["distinct_tuples"]
        else:
            params[name] = {k: doc[k] for k in ("r", "alpha", "a", "b", "p", "q", "v")}
            params[name]["in_process_s"] = doc["seconds"]
    keys = ("r", "alpha", "a", "b", "p", "q", "v")
    worst = max(abs(params["cxscore"][k] - params["lifetimes"][k]) / abs(params["lifetimes"][k]) for k in keys)
    med = {k: (statistics.median(w for w, _ in v), statistics.median(m for _, m in v)) for k, v in results.items()}
    lines = [
        "# CLV model fit benchmark\n",
        f"- {args.customers:,} customers simulated from the CDNOW estimates ({params['cxscore']['distinct_tuples']:,} distinct (x, t_x, T)); median of {args.runs} runs after a warm-up",
        f"- command: `bench/.venv/bin/python bench/clv_bench.py --customers {args.customers} --runs {args.runs}`\n",
        "| tool | median wall (s) | fit only (s) | peak RSS (MiB) | r | alpha | a | b | p | q | v |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in ("cxscore", "lifetimes"):
        pr = params[name]
        lines.append(f"| {name} | {med[name][0]:.3f} | {fit_median[name]:.3f} | {med[name][1]:.0f} | " + " | ".join(f"{pr[k]:.4f}" for k in keys) + " |")
    lines.append(f"\nspeed-up, whole process (reading the CSV, both fits, start-up): {med['lifetimes'][0] / med['cxscore'][0]:.1f}×; "
                 f"fits alone (after the file is read): {fit_median['lifetimes'] / fit_median['cxscore']:.0f}×; "
                 f"largest relative parameter difference: {worst:.2e}")
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench/results/clv.md"), "w", encoding="utf-8") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
