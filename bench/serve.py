#!/usr/bin/env python3
"""Durable submissions per second under load: `cxscore serve` on SQLite versus a
bare handler that answers 201 without storing (the ceiling), in the same run,
with the same load generator (wrk) and request.

    cargo build --release -p cxscore -p cx-server --examples --bins
    python3 bench/serve.py [--connections 64] [--seconds 10]

Needs `wrk` (Debian package). Prints a Markdown table; every figure is measured here.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CXSCORE = os.path.join(ROOT, "target/release/cxscore")
CEILING = os.path.join(ROOT, "target/release/examples/ceiling")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cx(db, *args, stdin=None):
    return subprocess.run([CXSCORE, "--db", db, *args], input=stdin, capture_output=True,
                          text=True, check=True, cwd=ROOT).stdout


def wait_up(port):
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on port {port}")


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def wrk(url, token, connections, seconds, run):
    env = dict(os.environ, CX_TOKEN=token, CX_RUN=run)
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", os.path.join(ROOT, "bench/serve_submit.lua"), url],
                         capture_output=True, text=True, env=env, check=True).stdout
    total = int(re.search(r"(\d+) requests in", out).group(1))
    duration = float(re.search(r"requests in ([\d.]+)s", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    lat = {}
    for p in ("50", "90", "99"):
        m = re.search(rf"^\s+{p}(?:\.000)?%\s+([\d.]+)(us|ms|s)", out, re.M)
        v = float(m.group(1))
        lat[p] = v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    return {"requests": total, "seconds": duration, "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(1) if errors else "", "latency_ms": lat, "raw": out}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    for exe in (CXSCORE, CEILING):
        if not os.path.exists(exe):
            sys.exit(f"missing {exe}: cargo build --release -p cxscore -p cx-server --examples --bins")
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    tmp = tempfile.mkdtemp(prefix="cx-serve-bench-")
    db = f"sqlite://{tmp}/bench.db"
    cx(db, "survey", "create", "examples/survey.json")
    cx(db, "user", "add", "bench", "--role", "analyst", "--password-stdin", stdin="bench password 123\n")
    token = cx(db, "token", "create", "--user", "bench", "--scope", "submit").strip()
    rows = []
    # The ceiling first, then cxscore, each on a fresh port.
    port = free_port()
    ceiling = subprocess.Popen([CEILING, f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL)
    wait_up(port)
    r = wrk(f"http://127.0.0.1:{port}", token, args.connections, args.seconds, "ceiling")
    r["rss"] = peak_rss_mib(ceiling.pid)
    ceiling.terminate()
    ceiling.wait()
    rows.append(("bare handler, 201 without storing (ceiling)", r, r["requests"]))

    port = free_port()
    server = subprocess.Popen([CXSCORE, "--db", db, "serve", "--addr", f"127.0.0.1:{port}", "--rate-limit", "0"],
                              stdout=subprocess.DEVNULL, cwd=ROOT)
    wait_up(port)
    r = wrk(f"http://127.0.0.1:{port}", token, args.connections, args.seconds, f"run{time.time()}")
    r["rss"] = peak_rss_mib(server.pid)
    server.terminate()
    server.wait()
    stored = json.loads(cx(db, "--format", "json", "survey", "list"))[0]["responses"]
    rows.append(("cxscore serve, SQLite (synchronous=FULL, group commit)", r, stored))

    print(f"wrk -t2 -c{args.connections} -d{args.seconds}s, POST /api/v1/surveys/…/responses "
          f"(JSON body, bearer token, Idempotency-Key)\n")
    print("| server | 2xx answered | per second | responses stored | p50 ms | p90 ms | p99 ms | non-2xx | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r, stored in rows:
        ok = r["requests"] - r["non2xx"]
        print(f"| {name} | {ok} | {ok / r['seconds']:.0f} | {stored if name.startswith('cxscore') else '–'} | "
              f"{r['latency_ms']['50']:.2f} | {r['latency_ms']['90']:.2f} | {r['latency_ms']['99']:.2f} | "
              f"{r['non2xx']} | {r['rss']:.0f} |")
        if r["socket_errors"]:
            print(f"  socket errors: {r['socket_errors']}")
    ceiling, durable = rows[0][1], rows[1][1]
    durable_ok = durable["requests"] - durable["non2xx"]
    if rows[1][2] < durable_ok:
        print(f"\nERROR: {durable_ok} acknowledged but only {rows[1][2]} stored")
    print(f"\ndurable submissions: {durable_ok / durable['seconds']:.0f}/s, "
          f"{100 * (durable_ok / durable['seconds']) / (ceiling['requests'] / ceiling['seconds']):.0f}% of the ceiling")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
