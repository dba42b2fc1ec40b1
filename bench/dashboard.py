#!/usr/bin/env python3
"""Dashboard speed on 1M stored responses (embedded SQLite): the overview page
(`GET /app`, which computes the trend with period comparisons and a breakdown
by region by push-down) and the metrics endpoint, timed from a client on the same
machine (so the figure is server time plus a local round trip).

    cargo build --release -p cxscore
    python3 bench/dashboard.py [--rows 1000000] [--repeat 5] [--compare-raw]

The database is built once under bench/data/ (kept for reruns)."""
import argparse
import http.cookiejar
import os
import random
import re
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CXSCORE = os.path.join(ROOT, "target/release/cxscore")
REGIONS = ["华东", "华南", "华北", "华中", "西南", "西北", "东北", "Europe"]
LINES = ["云服务", "IoT Platform", "维保服务", "Hardware"]
TEAMS = ["华东销售部", "华南销售部", "Global Key Accounts", "EMEA Team"]


def generate(path, rows, seed=7):
    rnd = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        f.write("response_id,submitted_at,region,product_line,sales_team,channel,language,nps,csat,ces,"
                "product_quality,service_attitude,response_speed,delivery_speed,price,comment\n")
        for i in range(rows):
            day = 20089 + rnd.randrange(730)  # 2025-01-01 + up to two years
            y, m, d = time.gmtime(day * 86400)[:3]
            q = rnd.randint(1, 5)
            nps = min(10, max(0, 2 * q + rnd.randint(-2, 1)))
            f.write(f"B{i},{y:04d}-{m:02d}-{d:02d}T10:00:00Z,{rnd.choice(REGIONS)},{rnd.choice(LINES)},"
                    f"{rnd.choice(TEAMS)},web,zh,{nps},{rnd.randint(1, 5)},{rnd.randint(1, 7)},{q},"
                    f"{rnd.randint(1, 5)},{rnd.randint(1, 5)},{rnd.randint(1, 5)},{rnd.randint(1, 5)},"
                    f"{'交付及时' if i % 7 == 0 else ''}\n")


def cx(db, *args, stdin=None):
    return subprocess.run([CXSCORE, "--db", db, *args], input=stdin, capture_output=True, text=True,
                          check=True, cwd=ROOT).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--compare-raw", action="store_true",
                    help="also time the same requests with the daily counts switched off")
    args = ap.parse_args()
    data = os.path.join(ROOT, "bench/data")
    os.makedirs(data, exist_ok=True)
    dbfile = os.path.join(data, f"dashboard-{args.rows}.db")
    db = f"sqlite://{dbfile}"
    if not os.path.exists(dbfile):
        csv = os.path.join(data, f"responses-{args.rows}.csv")
        t = time.time()
        generate(csv, args.rows)
        print(f"generated {args.rows} rows in {time.time() - t:.1f} s", file=sys.stderr)
        cx(db, "survey", "create", "examples/survey.json")
        t = time.time()
        cx(db, "import", "responses", csv, "--survey", "relationship-2026")
        print(f"imported in {time.time() - t:.1f} s", file=sys.stderr)
        cx(db, "user", "add", "bench", "--role", "analyst", "--password-stdin", stdin="bench password 123\n")
        os.remove(csv)
    token = cx(db, "token", "create", "--user", "bench", "--scope", "read").strip()
    pages(db, token, args, {}, "daily counts (the default)")
    if args.compare_raw:
        pages(db, token, args, {"CXSCORE_NO_CUBE": "1"}, "every answer read (CXSCORE_NO_CUBE=1, the path before the daily counts)")


def pages(db, token, args, env, label):
    server = subprocess.Popen([CXSCORE, "--db", db, "serve", "--addr", "127.0.0.1:0", "--rate-limit", "0"],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT, env={**os.environ, **env})
    url = re.search(r"http://[0-9.:]+", server.stdout.readline()).group(0)
    try:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(url + "/app/login").read().decode()
        csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)
        opener.open(url + "/app/login", urllib.parse.urlencode(
            {"_csrf": csrf, "username": "bench", "password": "bench password 123"}).encode())

        def timed(name, fetch):
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                fetch()
                times.append((time.perf_counter() - t) * 1000)
            print(f"| {name} | {statistics.median(times):.0f} | {min(times):.0f} | {max(times):.0f} |")

        print(f"\n{args.rows:,} responses in SQLite, {label}; milliseconds over {args.repeat} request(s)\n")
        print("| request | median ms | min | max |")
        print("|---|---:|---:|---:|")
        timed("GET /app (overview: quarterly trend with comparisons + breakdown by region)",
              lambda: opener.open(url + "/app?survey=relationship-2026&interval=quarter&by=region", timeout=600).read())
        timed("GET /app/feedback (first page of verbatims, polarity shares)",
              lambda: opener.open(url + "/app/feedback?survey=relationship-2026").read())
        timed("GET /app/drivers (relative weights over the newest 20,000 responses)",
              lambda: opener.open(url + "/app/drivers?survey=relationship-2026").read())
        timed("GET /app/accounts",
              lambda: opener.open(url + "/app/accounts?survey=relationship-2026").read())
        timed("GET /app filtered to one region",
              lambda: opener.open(url + "/app?survey=relationship-2026&region=%E5%8D%8E%E4%B8%9C").read())
        req = urllib.request.Request(url + "/api/v1/metrics?survey=relationship-2026&nps=nps&by=region",
                                     headers={"Authorization": f"Bearer {token}"})
        timed("GET /api/v1/metrics NPS by region", lambda: urllib.request.urlopen(req, timeout=600).read())
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
