#!/usr/bin/env python3
"""RFM benchmark: a 10M-row transaction log (CSV) to per-customer recency,
frequency and monetary value with quintile scores, written out as CSV.

    bench/.venv/bin/python bench/rfm_bench.py [--rows 10000000] [--customers 1000000] [--runs 3]

cxscore:  cxscore customers rfm --transactions FILE --format csv > /dev/null
DuckDB:   GROUP BY customer + NTILE(5) windows, COPY … TO '/dev/null'
pandas:   read_csv(engine="pyarrow") + groupby + rank-based quintiles, to_csv('/dev/null')

Each run is a separate process (wall time and peak RSS by GNU time include start-up
and imports). Writes bench/results/rfm.md.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DUCKDB = """
import duckdb, sys
duckdb.sql(f'''COPY (
  WITH t AS (SELECT customer_id, max(order_date) AS last, count(*) AS orders, sum(amount) AS spend
             FROM read_csv('{sys.argv[1]}') GROUP BY customer_id),
       mx AS (SELECT max(last) AS d FROM t)
  SELECT customer_id, (SELECT d FROM mx) - last AS recency_days, orders, spend,
         ntile(5) OVER (ORDER BY last) AS r, ntile(5) OVER (ORDER BY orders) AS f, ntile(5) OVER (ORDER BY spend) AS m
  FROM t) TO '/dev/null' (FORMAT csv)''')
"""

PANDAS = """
import pandas as pd, sys
df = pd.read_csv(sys.argv[1], engine="pyarrow", parse_dates=["order_date"])
t = df.groupby("customer_id").agg(last=("order_date", "max"), orders=("order_date", "size"), spend=("amount", "sum"))
t["recency_days"] = (t["last"].max() - t["last"]).dt.days
for col, name in (("last", "r"), ("orders", "f"), ("spend", "m")):
    t[name] = (t[col].rank(method="min", pct=True) * 5).clip(upper=5).apply(lambda v: int(v) + 1 if v < 5 else 5)
t.to_csv("/dev/null")
"""


def generate(path, rows, customers, seed=7):
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pc

    rng = np.random.default_rng(seed)
    chunk = 1_000_000
    writer = None
    for start in range(0, rows, chunk):
        n = min(chunk, rows - start)
        # Customers buy with skewed frequency (a few buy a lot).
        ids = (rng.pareto(1.2, n) * customers / 20).astype(np.int64) % customers
        days = rng.integers(0, 730, n)
        dates = (np.datetime64("2024-01-01") + days.astype("timedelta64[D]")).astype(str)
        amount = np.round(rng.lognormal(5, 1, n), 2)
        table = pa.table({
            "customer_id": pa.array(np.char.add("C", np.char.zfill(ids.astype(str), 7))),
            "order_date": pa.array(dates),
            "amount": pa.array(amount),
        })
        if writer is None:
            writer = pc.CSVWriter(path, table.schema, write_options=pc.WriteOptions(quoting_style="needed"))
        writer.write_table(table)
    writer.close()


def timed(cmd, stdout=subprocess.DEVNULL):
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], stdout=stdout, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    lines = proc.stderr.decode().strip().splitlines()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed: {proc.stderr.decode()}")
    return wall, int(lines[-1]) / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--data", default=os.path.join(ROOT, "bench/data/transactions.csv"))
    ap.add_argument("--cxscore", default=os.path.join(ROOT, "target/release/cxscore"))
    args = ap.parse_args()
    if not os.path.exists(args.data):
        os.makedirs(os.path.dirname(args.data), exist_ok=True)
        t0 = time.perf_counter()
        generate(args.data, args.rows, args.customers)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    py = sys.executable
    tools = {
        "cxscore": [args.cxscore, "customers", "rfm", "--transactions", args.data, "--format", "csv"],
        "duckdb": [py, "-c", DUCKDB, args.data],
        "pandas": [py, "-c", PANDAS, args.data],
    }
    results = {}
    for name, cmd in tools.items():
        timed(cmd)  # warm-up: every tool reads from the page cache
        for _ in range(args.runs):
            wall, rss = timed(cmd)
            results.setdefault(name, []).append((wall, rss))
            print(f"{name:<8} {wall:7.2f} s {rss:8.1f} MiB", file=sys.stderr)
    size = os.path.getsize(args.data) / 2**20
    lines = [
        "# RFM benchmark\n",
        f"- {args.rows:,} transactions ({size:.0f} MiB CSV), ~{args.customers:,} customer ids; median of {args.runs} runs after a warm-up",
        f"- command: `bench/.venv/bin/python bench/rfm_bench.py --rows {args.rows} --runs {args.runs}`\n",
        "| tool | median wall (s) | peak RSS (MiB) | time vs cxscore |",
        "|---|---:|---:|---:|",
    ]
    base = statistics.median(w for w, _ in results["cxscore"])
    for name, runs in results.items():
        w = statistics.median(x for x, _ in runs)
        m = statistics.median(x for _, x in runs)
        lines.append(f"| {name} | {w:.2f} | {m:.0f} | {w / base:.2f}× |")
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench/results/rfm.md"), "w", encoding="utf-8") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
