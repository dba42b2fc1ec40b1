#!/usr/bin/env python3
"""Import benchmark: 1M transactions from CSV into SQLite and PostgreSQL.

cxscore validates every row (dates, amounts, required fields), recognises
re-imports (a unique key per row) and writes in batches of one transaction
each. The peers load the same file with no validation at all:
`sqlite3 DB '.import --csv FILE t'` and `psql -c '\\copy t FROM FILE CSV HEADER'`
into a plain table. Each run starts from an empty database, after the previous
loads' writes are flushed (sync, and a PostgreSQL CHECKPOINT).

Two more rows show what the schema alone costs: the rows cxscore stored
(validated, keyed), exported once and loaded by the same two tools straight into
cxscore's own `transactions` table, with its primary key and unique dedupe index
and no checks at all (`sqlite3 .import`, `psql \\copy`). One more row imports the
50,000 customers as accounts first, so that every transaction is linked to its account
(untimed), then times the same transactions import.

    python3 bench/import_bench.py [--rows 1000000] [--runs 3] [--pg postgres://postgres@127.0.0.1:5432/test]

Writes bench/results/import.md and prints it. Uses only the standard library.
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def generate(path, rows, seed=42):
    rng = random.Random(seed)
    lines = ["order_id,customer_id,order_date,amount,currency,product_line\n"]
    lines_per_flush = 100_000
    lines_written = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(lines[0])
        buf = []
        for i in range(rows):
            day = 1 + rng.randrange(730)
            y, doy = (2024, day) if day <= 366 else (2025, day - 366)
            m = min(12, 1 + doy * 12 // 367)
            d = 1 + rng.randrange(28)
            amount = f"{rng.lognormvariate(8, 1.1):.2f}"
            product = ("工业设备", "云服务", "备件", "维保服务")[rng.randrange(4)]
            buf.append(f"SO{i:08d},C{rng.randrange(50_000):06d},{y}-{m:02d}-{d:02d},{amount},CNY,{product}\n")
            if len(buf) == lines_per_flush:
                f.write("".join(buf))
                lines_written += len(buf)
                buf = []
        f.write("".join(buf))


QUIET_PG = None


def quiet():
    """Before each timed command: the previous loads' dirty pages written out
    (the kernel's, and PostgreSQL's through a checkpoint), so no loader pays for
    the background writes of the one before it."""
    os.sync()
    if QUIET_PG:
        psql(QUIET_PG, "CHECKPOINT")
    time.sleep(0.5)


def timed(cmd, env=None):
    """Wall time and peak RSS of `cmd` alone (GNU time reports the child's own peak)."""
    quiet()
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True, env=env)
    wall = time.perf_counter() - start
    err = proc.stderr.decode()
    lines = err.strip().splitlines()
    rss = int(lines[-1]) / 1024 if lines and lines[-1].isdigit() else float("nan")
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed: {err}")
    return wall, rss, proc.stdout.decode(), "\n".join(lines[:-1])


def psql(pg, sql):
    subprocess.run(["psql", pg, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pg", default=os.environ.get("CXSCORE_TEST_PG", "postgres://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--cxscore", default=os.path.join(ROOT, "target/release/cxscore"))
    args = ap.parse_args()
    global QUIET_PG
    QUIET_PG = args.pg

    work = tempfile.mkdtemp(prefix="cx-import-bench-")
    data = os.path.join(work, "transactions.csv")
    stored = os.path.join(work, "stored.csv")
    stored_with_id = os.path.join(work, "stored_with_id.csv")
    cols = "dedupe_key, external_id, customer, account_id, date, day, amount_minor, currency, product_line"
    t0 = time.perf_counter()
    generate(data, args.rows)
    accounts = os.path.join(work, "accounts.csv")
    with open(accounts, "w", encoding="utf-8") as f:
        f.write("customer_id,name,region\n")
        f.writelines(f"C{i:06d},客户{i},华东\n" for i in range(50_000))
    print(f"generated {args.rows:,} rows ({os.path.getsize(data) / 2**20:.1f} MiB) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    base = args.pg.rsplit("/", 1)[0]
    bench_db = "cx_import_bench"
    results = {}

    def record(name, wall, rss):
        results.setdefault(name, []).append((wall, rss))
        print(f"{name:<28} {wall:7.2f} s  {rss:7.1f} MiB", file=sys.stderr)

    for run in range(args.runs):
        # cxscore → SQLite
        db = os.path.join(work, "cx.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        wall, rss, out, err = timed([args.cxscore, "--db", f"sqlite://{db}", "import", "transactions", data, "--format", "csv"])
        assert f",{args.rows}," in out.replace("\n", ","), (out, err)
        record("cxscore import → SQLite", wall, rss)
        if run == 0:
            # The stored rows, for the schema-only loads.
            with open(stored_with_id, "w") as f:
                subprocess.run(["sqlite3", "-csv", db, f"SELECT id, {cols} FROM transactions ORDER BY id"], stdout=f, check=True)
            with open(stored, "w") as f:
                subprocess.run(["sqlite3", "-csv", db, f"SELECT {cols} FROM transactions ORDER BY id"], stdout=f, check=True)
        # cxscore → SQLite with the customers' accounts stored first (every row linked)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        subprocess.run([args.cxscore, "--db", f"sqlite://{db}", "import", "accounts", accounts], check=True, capture_output=True)
        wall, rss, out, err = timed([args.cxscore, "--db", f"sqlite://{db}", "import", "transactions", data, "--format", "csv"])
        assert f",{args.rows}," in out.replace("\n", ","), (out, err)
        record("cxscore import → SQLite, accounts stored first", wall, rss)
        # sqlite3 .import of the stored rows into cxscore's schema (no validation)
        schema_db = os.path.join(work, "schema.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(schema_db + suffix):
                os.remove(schema_db + suffix)
        subprocess.run([args.cxscore, "--db", f"sqlite://{schema_db}", "survey", "list"], check=True, capture_output=True)
        wall, rss, _, err = timed(["sqlite3", schema_db, ".import --csv " + stored_with_id + " transactions"])
        assert not err.strip(), err
        record("sqlite3 .import, stored rows into cxscore's table", wall, rss)
        # sqlite3 .import (no validation)
        raw = os.path.join(work, "raw.db")
        if os.path.exists(raw):
            os.remove(raw)
        wall, rss, _, err = timed(["sqlite3", raw, ".import --csv " + data + " t"])
        assert not err.strip(), err
        record("sqlite3 .import", wall, rss)
        # cxscore → PostgreSQL (fresh database)
        psql(args.pg, f"DROP DATABASE IF EXISTS {bench_db} WITH (FORCE)")
        psql(args.pg, f"CREATE DATABASE {bench_db}")
        wall, rss, out, err = timed([args.cxscore, "--db", f"{base}/{bench_db}", "import", "transactions", data, "--format", "csv"])
        assert f",{args.rows}," in out.replace("\n", ","), (out, err)
        record("cxscore import → PostgreSQL", wall, rss)
        psql(args.pg, f"DROP DATABASE IF EXISTS {bench_db} WITH (FORCE)")
        # psql \copy (no validation)
        psql(args.pg, f"DROP DATABASE IF EXISTS {bench_db} WITH (FORCE)")
        psql(args.pg, f"CREATE DATABASE {bench_db}")
        psql(f"{base}/{bench_db}", "CREATE TABLE t (order_id text, customer_id text, order_date text, amount text, currency text, product_line text)")
        wall, rss, _, err = timed(["psql", f"{base}/{bench_db}", "-q", "-c", f"\\copy t FROM '{data}' CSV HEADER"])
        assert not err.strip(), err
        record("psql \\copy", wall, rss)
        psql(args.pg, f"DROP DATABASE IF EXISTS {bench_db} WITH (FORCE)")
        # psql \copy of the stored rows into cxscore's schema (no validation)
        psql(args.pg, f"DROP DATABASE IF EXISTS {bench_db} WITH (FORCE)")
        psql(args.pg, f"CREATE DATABASE {bench_db}")
        subprocess.run([args.cxscore, "--db", f"{base}/{bench_db}", "survey", "list"], check=True, capture_output=True)
        wall, rss, _, err = timed(["psql", f"{base}/{bench_db}", "-q", "-c", f"\\copy transactions ({cols}) FROM '{stored}' CSV"])
        assert not err.strip(), err
        record("psql \\copy, stored rows into cxscore's table", wall, rss)
        psql(args.pg, f"DROP DATABASE IF EXISTS {bench_db} WITH (FORCE)")

    med = {k: (statistics.median(w for w, _ in v), statistics.median(r for _, r in v)) for k, v in results.items()}
    lines = [
        f"# Import benchmark\n",
        f"- {args.rows:,} transactions, CSV {os.path.getsize(data) / 2**20:.1f} MiB; median of {args.runs} runs, each into an empty database",
        f"- machine: {os.cpu_count()} CPUs; command: `python3 bench/import_bench.py --rows {args.rows} --runs {args.runs}`\n",
        "| loader | validates rows | median wall (s) | peak RSS (MiB) | vs peer |",
        "|---|---|---:|---:|---:|",
    ]
    pairs = [
        ("cxscore import → SQLite", "sqlite3 .import", "sqlite3 .import, stored rows into cxscore's table"),
        ("cxscore import → PostgreSQL", "psql \\copy", "psql \\copy, stored rows into cxscore's table"),
    ]
    for ours, peer, schema in pairs:
        lines.append(f"| {ours} | yes | {med[ours][0]:.2f} | {med[ours][1]:.0f} | {med[ours][0] / med[peer][0]:.2f}× |")
        lines.append(f"| {peer} | no | {med[peer][0]:.2f} | {med[peer][1]:.0f} | 1.00× |")
        lines.append(f"| {schema} | no | {med[schema][0]:.2f} | {med[schema][1]:.0f} | {med[schema][0] / med[peer][0]:.2f}× |")
        if peer == "sqlite3 .import":
            linked = "cxscore import → SQLite, accounts stored first"
            lines.append(f"| {linked} | yes | {med[linked][0]:.2f} | {med[linked][1]:.0f} | {med[linked][0] / med[peer][0]:.2f}× |")
    text = "\n".join(lines) + "\n"
    os.makedirs(os.path.join(ROOT, "bench/results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench/results/import.md"), "w", encoding="utf-8") as f:
        f.write(text)
    print(text)
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
