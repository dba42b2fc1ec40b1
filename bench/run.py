#!/usr/bin/env python3
"""Benchmark `cxscore metrics` against DuckDB and pandas on the same survey data.

Run from anywhere (it switches to the repository root), with the bench venv:

    bench/.venv/bin/python bench/run.py                      # 10M rows, all tools
    bench/.venv/bin/python bench/run.py --rows 200000 --runs 2 --tools duckdb,pandas

For each format (csv, parquet) and tool, every run is a separate child process
(`target/release/cxscore metrics ...` or `python bench/peers.py TOOL FORMAT FILE`);
wall time is measured around the child and its peak RSS is read from the
rusage that os.wait4() returns for that child alone.  Medians are reported.
All tools' figures are checked against cxscore's (or, when cxscore is not run,
against the first peer's): counts exactly, point estimates to 1e-9 relative,
intervals to 1e-6 absolute.  The table goes to stdout and, with machine info
and the exact commands, to bench/results/latest.md (raw data: latest.json).
Exit status: 0 ok, 1 a figure mismatch or a failed run, 2 bad usage.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
FORMATS = ("csv", "parquet")
ALL_TOOLS = ("cxscore", "duckdb", "pandas")
POINT_RTOL = 1e-9
POINT_ATOL = 1e-12   # only matters for values that are (near) zero
CI_ATOL = 1e-6

CXSCORE_ARGS = [
    "metrics", "--input", "{file}",
    "--nps", "nps", "--csat", "csat", "--ces", "ces",
    "--dim", "product_quality=product_quality",
    "--dim", "service_attitude=service_attitude",
    "--dim", "response_speed=response_speed",
    "--by", "region", "--format", "json",
]


def log(msg: str = "") -> None:
    print(msg, file=sys.stderr, flush=True)


def rel(p: Path | str) -> str:
    """Path as shown in commands: relative to the repo root when inside it."""
    p = Path(p)
    try:
        return str(p.resolve().relative_to(ROOT))
    except ValueError:
        return str(p)


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------

def data_ok(data: Path, rows: int, seed: int) -> tuple[bool, str]:
    meta_path = data / "meta.json"
    if not meta_path.exists():
        return False, f"{rel(meta_path)} missing"
    try:
        meta = json.loads(meta_path.read_text())
    except ValueError as e:
        return False, f"{rel(meta_path)} unreadable: {e}"
    if meta.get("rows") != rows or meta.get("seed") != seed:
        return False, f"data has rows={meta.get('rows')} seed={meta.get('seed')}, want rows={rows} seed={seed}"
    for fmt in FORMATS:
        f = data / f"responses.{fmt}"
        if not f.exists():
            return False, f"{rel(f)} missing"
        want = meta.get("files", {}).get(fmt, {}).get("bytes")
        if want is not None and f.stat().st_size != want:
            return False, f"{rel(f)} size {f.stat().st_size} != {want} recorded in meta.json"
    return True, "ok"


def ensure_data(args) -> dict:
    ok, why = data_ok(args.data, args.rows, args.seed)
    if not ok:
        if args.skip_gen:
            log(f"ERROR: --skip-gen given but the data set is not usable: {why}")
            sys.exit(2)
        log(f"generating data ({why}) ...")
        cmd = [args.python, "bench/gen.py", "--rows", str(args.rows), "--out", rel(args.data),
               "--seed", str(args.seed)]
        log("  $ " + shlex.join(cmd))
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        log(f"  generation took {time.perf_counter() - t0:.1f} s")
    return json.loads((args.data / "meta.json").read_text())


# ---------------------------------------------------------------------------
# running one child
# ---------------------------------------------------------------------------

def run_child(cmd: list[str], timeout: float) -> dict:
    """Run cmd once; wall time, peak RSS (this child only, via wait4) and output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=ROOT)
        killed = []

        def _kill():
            killed.append(True)
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, _kill)
        timer.start()
        try:
            _, status, ru = os.wait4(p.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)  # reaped here; keep Popen quiet
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    return {
        "wall_s": wall,
        "maxrss_mib": ru.ru_maxrss / 1024.0,   # Linux: KiB
        "user_s": ru.ru_utime,
        "sys_s": ru.ru_stime,
        "rc": p.returncode,
        "timed_out": bool(killed),
        "stdout": stdout,
        "stderr": stderr,
    }


def tool_command(tool: str, fmt: str, file: Path, args, shown: bool = False) -> list[str]:
    """The child's argv (shown=True: the same command as printed in the report)."""
    if tool == "cxscore":
        exe = args.cxscore_shown if shown else str(args.cxscore)
        return [exe] + [a.replace("{file}", rel(file)) for a in CXSCORE_ARGS]
    exe = args.python_shown if shown else args.python
    return [exe, "bench/peers.py", tool, fmt, rel(file)]


# ---------------------------------------------------------------------------
# normalising and comparing figures
# ---------------------------------------------------------------------------

def normalise_cxscore(doc: dict) -> dict:
    groups = {}
    for g in doc.get("groups", []):
        key = g.get("key", {})
        region = key.get("region") if isinstance(key, dict) else key
        groups[str(region)] = {k: v for k, v in g.items() if k != "key"}
    return {"groups": groups, "overall": doc.get("overall")}


def parse_output(tool: str, stdout: str) -> dict:
    doc = json.loads(stdout)
    if tool == "cxscore":
        return normalise_cxscore(doc)
    return {"groups": doc["groups"], "overall": doc.get("overall"),
            "timing": doc.get("timing", {}), "versions": doc.get("versions", {})}


def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def compare(ref, got, path: str, out: list, ignored: set, interval: bool = False,
            names: tuple = ("expected", "got")) -> None:
    """Compare `got` against `ref`; keys of ref are the contract, extra keys in got are noted."""
    if isinstance(ref, dict):
        if not isinstance(got, dict):
            out.append(f"{path}: expected an object, got {got!r}")
            return
        for k, v in ref.items():
            if k not in got:
                out.append(f"{path}.{k}: missing")
                continue
            compare(v, got[k], f"{path}.{k}", out, ignored, interval or "ci95" in k, names)
        for k in got:
            if k not in ref:
                ignored.add(k)
        return
    if isinstance(ref, list):
        if not isinstance(got, list) or len(got) != len(ref):
            out.append(f"{path}: {names[0]} {ref!r}, {names[1]} {got!r}")
            return
        for i, (a, b) in enumerate(zip(ref, got)):
            compare(a, b, f"{path}[{i}]", out, ignored, interval, names)
        return
    if ref is None or got is None:
        if ref is not got:
            out.append(f"{path}: {names[0]} {ref!r}, {names[1]} {got!r}")
        return
    if not (_is_num(ref) and _is_num(got)):
        if ref != got:
            out.append(f"{path}: {names[0]} {ref!r}, {names[1]} {got!r}")
        return
    if isinstance(ref, int) and not interval and float(got).is_integer() is False:
        out.append(f"{path}: {names[0]} integer {ref}, {names[1]} {got!r}")
        return
    a, b = float(ref), float(got)
    if math.isnan(a) or math.isnan(b):
        if not (math.isnan(a) and math.isnan(b)):
            out.append(f"{path}: {names[0]} {ref!r}, {names[1]} {got!r}")
        return
    if isinstance(ref, int) and isinstance(got, int):
        ok = ref == got
        tol = "exact"
    elif interval:
        ok = abs(a - b) <= CI_ATOL
        tol = f"abs {CI_ATOL:g}"
    else:
        ok = abs(a - b) <= max(POINT_RTOL * max(abs(a), abs(b)), POINT_ATOL)
        tol = f"rel {POINT_RTOL:g}"
    if not ok:
        out.append(f"{path}: {names[0]} {ref!r}, {names[1]} {got!r} (diff {b - a:.3g}, tolerance {tol})")


def compare_results(ref: dict, got: dict, names: tuple = ("expected", "got")) -> tuple[list, set]:
    mism: list = []
    ignored: set = set()
    rg, gg = ref["groups"], got["groups"]
    if set(rg) != set(gg):
        mism.append(f"groups: regions differ: only in {names[0]} {sorted(set(rg) - set(gg))}, "
                    f"only in {names[1]} {sorted(set(gg) - set(rg))}")
    for region in sorted(set(rg) & set(gg)):
        compare(rg[region], gg[region], f"groups[{region}]", mism, ignored, False, names)
    if ref.get("overall") is not None and got.get("overall") is not None:
        compare(ref["overall"], got["overall"], "overall", mism, ignored, False, names)
    elif ref.get("overall") is not None or got.get("overall") is not None:
        ignored.add("overall (present on one side only)")
    return mism, ignored


# ---------------------------------------------------------------------------
# machine info
# ---------------------------------------------------------------------------

def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine_info(args) -> dict:
    cpu = "unknown"
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = "unknown"
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
            break
    os_name = "unknown"
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            os_name = line.split("=", 1)[1].strip('"')
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    except OSError:
        nproc = str(len(os.sched_getaffinity(0)))
    versions = {"python": platform.python_version()}
    for pkg in ("duckdb", "pandas", "pyarrow", "numpy"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    cx = "not run"
    if "cxscore" in args.tools:
        if args.cxscore.exists():
            try:
                r = subprocess.run([str(args.cxscore), "--version"], capture_output=True, text=True, timeout=30)
                cx = (r.stdout or r.stderr).strip() or f"(--version exited {r.returncode})"
            except (OSError, subprocess.TimeoutExpired) as e:
                cx = f"unknown ({e})"
        else:
            cx = f"missing ({rel(args.cxscore)})"
    versions["cxscore"] = cx
    git = "unknown"
    try:
        r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
        if r.returncode == 0:
            git = r.stdout.strip()
            d = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, cwd=ROOT)
            if d.stdout.strip():
                git += " (dirty)"
        else:
            git = "no commit"
    except OSError:
        pass
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": nproc, "cpu": cpu, "memory": mem, "os": os_name,
        "kernel": platform.release(), "loadavg_at_start": " ".join(_read("/proc/loadavg").split()[:3]),
        "git": git, "versions": versions,
    }


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------

def fmt_s(x) -> str:
    if x is None:
        return "—"
    return f"{x:.3f}" if x < 10 else f"{x:.2f}"


def engine_time(parsed: dict | None) -> float | None:
    """In-process work time a peer reports: DuckDB query, pandas read+groupby."""
    if not parsed:
        return None
    t = parsed.get("timing") or {}
    if "query_s" in t:
        return t["query_s"]
    if "read_s" in t and "compute_s" in t:
        return t["read_s"] + t["compute_s"]
    return None


def build_markdown(args, meta, info, results, checks, commands, notes) -> str:
    L = []
    L.append("# cxscore benchmark results")
    L.append("")
    L.append(f"- date: {info['date']}")
    L.append(f"- data: {meta['rows']:,} rows, seed {meta['seed']}, `{rel(args.data)}` "
             f"(generated in {meta['seconds']['total']:.1f} s)")
    for fmt in FORMATS:
        fb = meta.get("files", {}).get(fmt, {}).get("bytes")
        if fb is not None:
            L.append(f"  - `responses.{fmt}`: {fb / 2**20:.1f} MiB ({fb:,} bytes)")
    L.append(f"- runs per tool and format: {args.runs} (pandas {args.pandas_runs}), "
             f"after {args.warmup} unmeasured warm-up run(s); figures are medians")
    L.append(f"- machine: {info['nproc']} CPUs (nproc), {info['cpu']}, {info['memory']} RAM, "
             f"{info['os']}, kernel {info['kernel']}, load average at start {info['loadavg_at_start']}")
    v = info["versions"]
    L.append(f"- versions: cxscore {v['cxscore']}; duckdb {v['duckdb']}; pandas {v['pandas']}; "
             f"pyarrow {v['pyarrow']}; numpy {v['numpy']}; Python {v['python']}; git {info['git']}")
    L.append("")
    have_cx = any(r["tool"] == "cxscore" and r["median_wall_s"] is not None for r in results)
    head = ["format", "tool", "runs", "median wall (s)", "min–max (s)", "median peak RSS (MiB)",
            "in-process work (s)"]
    if have_cx:
        head.append("time vs cxscore")
    head.append("figures")
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "|".join("---" if i < 2 else "---:" for i in range(len(head) - 1)) + "|---|")
    cx_time = {r["format"]: r["median_wall_s"] for r in results if r["tool"] == "cxscore"}
    for r in results:
        row = [r["format"], r["tool"], str(r["ok_runs"]) + ("" if r["ok_runs"] == r["runs"] else f"/{r['runs']}"),
               fmt_s(r["median_wall_s"]),
               "—" if r["min_wall_s"] is None else f"{fmt_s(r['min_wall_s'])}–{fmt_s(r['max_wall_s'])}",
               "—" if r["median_rss_mib"] is None else f"{r['median_rss_mib']:.0f}",
               fmt_s(r["median_engine_s"])]
        if have_cx:
            base = cx_time.get(r["format"])
            row.append(f"{r['median_wall_s'] / base:.2f}×" if base and r["median_wall_s"] else "—")
        row.append(r["check"])
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    L.append("Wall time and peak RSS are for the whole child process: for the Python peers that "
             "includes interpreter start-up and `import duckdb` / `import pandas`. "
             "\"in-process work\" is what the peer measures itself: DuckDB = the SQL query "
             "(file scan + GROUP BY), pandas = read_csv/read_parquet + groupby.")
    L.append("")
    L.append("## Correctness")
    L.append("")
    for c in checks:
        L.append(f"- {c}")
    if notes:
        L.append("")
        L.append("## Notes")
        L.append("")
        for n in notes:
            L.append(f"- {n}")
    L.append("")
    L.append("## Commands")
    L.append("")
    L.append("Run from the repository root:")
    L.append("")
    L.append("```sh")
    L.append(shlex.join([args.python_shown, "bench/run.py"] + args.argv))
    for c in commands:
        L.append(c)
    L.append("```")
    L.append("")
    return "\n".join(L)


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5, help="measured runs per tool and format (default 5)")
    ap.add_argument("--pandas-runs", type=int, default=None,
                    help="measured runs for pandas (default min(3, --runs))")
    ap.add_argument("--warmup", type=int, default=1,
                    help="unmeasured runs per tool and format before measuring (default 1)")
    ap.add_argument("--data", default=None, help="data directory (default bench/data)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--skip-gen", action="store_true", help="never generate; fail if data is missing")
    ap.add_argument("--tools", default=",".join(ALL_TOOLS), help="comma list of cxscore,duckdb,pandas")
    ap.add_argument("--formats", default=",".join(FORMATS), help="comma list of csv,parquet")
    ap.add_argument("--cxscore", default=None, help="cxscore binary (default target/release/cxscore)")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds before a run is killed")
    ap.add_argument("--results", default=None, help="where latest.md/latest.json go (default bench/results)")
    args = ap.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)

    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    bad = [t for t in args.tools if t not in ALL_TOOLS]
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    badf = [f for f in formats if f not in FORMATS]
    if bad or badf or not args.tools or not formats:
        ap.error(f"unknown tool(s) {bad} / format(s) {badf}")
    if args.runs < 1 or args.warmup < 0:
        ap.error("--runs must be >= 1 and --warmup >= 0")
    if args.pandas_runs is None:
        args.pandas_runs = min(3, args.runs)

    # relative paths given on the command line are taken from the caller's cwd;
    # the defaults are relative to the repo root.  Then work from the repo root.
    def _path(value, default):
        if value is None:
            return ROOT / default
        return Path(value).resolve()

    args.data = _path(args.data, "bench/data")
    args.cxscore = _path(args.cxscore, "target/release/cxscore")
    res_dir = _path(args.results, "bench/results")
    os.chdir(ROOT)
    args.cxscore_shown = rel(args.cxscore)
    # keep the venv's python path as invoked (resolving it would follow the symlink to /usr/bin)
    args.python = sys.executable
    args.python_shown = sys.executable
    venv = (ROOT / "bench/.venv").resolve()
    if Path(sys.prefix).resolve() == venv:
        args.python = str(ROOT / "bench/.venv/bin/python")
        args.python_shown = "bench/.venv/bin/python"

    peers = [t for t in args.tools if t != "cxscore"]
    if peers:
        missing = []
        for pkg in (["duckdb"] if "duckdb" in peers else []) + (["pandas", "pyarrow"] if "pandas" in peers else []):
            try:
                metadata.version(pkg)
            except metadata.PackageNotFoundError:
                missing.append(pkg)
        if missing:
            log(f"ERROR: {', '.join(missing)} not importable from {sys.executable}; run with the bench venv:\n"
                "  python3 -m venv bench/.venv && bench/.venv/bin/pip install -r bench/requirements.txt\n"
                "  bench/.venv/bin/python bench/run.py ...")
            return 2

    notes: list[str] = []
    tools = list(args.tools)
    if "cxscore" in tools and not (args.cxscore.is_file() and os.access(args.cxscore, os.X_OK)):
        msg = (f"cxscore binary not found at {rel(args.cxscore)} — build it with `cargo build --release` "
               "or pass --cxscore PATH. Skipping cxscore: its timings are missing and the peers are "
               "only checked against each other, NOT against cxscore.")
        log("!" * 78)
        log("WARNING: " + msg)
        log("!" * 78)
        notes.append("**" + msg + "**")
        tools.remove("cxscore")
        if not tools:
            return 1

    if os.environ.get("CXBENCH_NPS_Z"):
        notes.append(f"CXBENCH_NPS_Z={os.environ['CXBENCH_NPS_Z']}: the peers' NPS interval used this z "
                     "instead of 1.959963984540054.")
    meta = ensure_data(args)
    info = machine_info(args)
    log(f"machine: {info['nproc']} CPUs, {info['cpu']}, {info['memory']}; versions {info['versions']}")

    results = []
    outputs: dict = {}     # (tool, fmt) -> parsed figures from the first successful run
    commands = []
    failed = False
    for fmt in formats:
        file = args.data / f"responses.{fmt}"
        for tool in tools:
            cmd = tool_command(tool, fmt, file, args, shown=True)
            exec_cmd = tool_command(tool, fmt, file, args)
            commands.append(shlex.join(cmd))
            n_runs = args.pandas_runs if tool == "pandas" else args.runs
            runs = []
            for i in range(args.warmup + n_runs):
                warm = i < args.warmup
                r = run_child(exec_cmd, args.timeout)
                label = "warm-up" if warm else f"run {i - args.warmup + 1}/{n_runs}"
                if r["rc"] != 0:
                    failed = True
                    log(f"!! {tool} {fmt} {label} FAILED (exit {r['rc']}{', timed out' if r['timed_out'] else ''})")
                    log("   $ " + shlex.join(cmd))
                    log("   stderr: " + r["stderr"].strip()[-2000:])
                    r["parsed"] = None
                else:
                    try:
                        r["parsed"] = parse_output(tool, r["stdout"])
                    except (ValueError, KeyError, TypeError) as e:
                        failed = True
                        log(f"!! {tool} {fmt} {label}: could not parse output: {e}")
                        log("   stdout head: " + r["stdout"][:500])
                        r["parsed"] = None
                    if r["parsed"] is not None and (tool, fmt) not in outputs:
                        outputs[(tool, fmt)] = r["parsed"]
                    log(f"{tool:8s} {fmt:8s} {label:9s} {r['wall_s']:8.3f} s  {r['maxrss_mib']:8.1f} MiB"
                        + (f"  (in-process {engine_time(r['parsed']):.3f} s)" if engine_time(r["parsed"]) else ""))
                if not warm:
                    runs.append(r)
            ok = [r for r in runs if r["rc"] == 0 and r["parsed"] is not None]
            eng = [engine_time(r["parsed"]) for r in ok if engine_time(r["parsed"]) is not None]
            results.append({
                "format": fmt, "tool": tool, "runs": len(runs), "ok_runs": len(ok),
                "median_wall_s": statistics.median(r["wall_s"] for r in ok) if ok else None,
                "min_wall_s": min(r["wall_s"] for r in ok) if ok else None,
                "max_wall_s": max(r["wall_s"] for r in ok) if ok else None,
                "median_rss_mib": statistics.median(r["maxrss_mib"] for r in ok) if ok else None,
                "median_engine_s": statistics.median(eng) if eng else None,
                "wall_s": [r["wall_s"] for r in runs], "maxrss_mib": [r["maxrss_mib"] for r in runs],
                "user_s": [r["user_s"] for r in runs], "sys_s": [r["sys_s"] for r in runs],
                "rc": [r["rc"] for r in runs], "command": shlex.join(cmd),
                "timing": [(r["parsed"] or {}).get("timing") for r in runs],
                "check": "—",
            })

    # correctness
    checks: list[str] = []
    mismatch = False
    ref_tool = "cxscore" if "cxscore" in tools else tools[0]
    if "cxscore" not in tools:
        checks.append(f"cxscore was not run: figures compared against **{ref_tool}** instead.")
    for fmt in formats:
        ref = outputs.get((ref_tool, fmt))
        for res in results:
            if res["format"] != fmt:
                continue
            tool = res["tool"]
            got = outputs.get((tool, fmt))
            if tool == ref_tool:
                res["check"] = "reference" if ref else "no output"
                continue
            if ref is None or got is None:
                res["check"] = "not checked (no output)"
                checks.append(f"{fmt}: {tool} vs {ref_tool}: NOT CHECKED, a side produced no output")
                continue
            mism, ignored = compare_results(got, ref, (tool, ref_tool))  # peer's keys are the contract
            if mism:
                mismatch = True
                res["check"] = f"**MISMATCH ({len(mism)})**"
                checks.append(f"{fmt}: {tool} vs {ref_tool}: **{len(mism)} MISMATCHES**, first ones:")
                checks.extend(f"  - `{m}`" for m in mism[:20])
                log("#" * 78)
                log(f"MISMATCH: {fmt}: {tool} vs {ref_tool}: {len(mism)} differences")
                for m in mism[:40]:
                    log("  " + m)
                log("#" * 78)
            else:
                res["check"] = f"= {ref_tool}"
                extra = f" ({ref_tool} keys not compared: {', '.join(sorted(ignored))})" if ignored else ""
                checks.append(f"{fmt}: {tool} agrees with {ref_tool} on every figure "
                              f"(counts exact, points rel {POINT_RTOL:g}, intervals abs {CI_ATOL:g}){extra}")
    # same tool, the two formats must give the same figures
    if "csv" in formats and "parquet" in formats:
        for tool in tools:
            a, b = outputs.get((tool, "csv")), outputs.get((tool, "parquet"))
            if a and b:
                mism, _ = compare_results(a, b, ("csv", "parquet"))
                if mism:
                    mismatch = True
                    checks.append(f"{tool}: csv vs parquet: **{len(mism)} MISMATCHES**, e.g. `{mism[0]}`")
                    log(f"MISMATCH: {tool}: csv vs parquet figures differ: {mism[0]}")
                else:
                    checks.append(f"{tool}: csv and parquet give the same figures")

    md = build_markdown(args, meta, info, results, checks, commands, notes)
    print(md)
    res_dir.mkdir(parents=True, exist_ok=True)
    (res_dir / "latest.md").write_text(md)
    raw = {"machine": info, "data": meta, "args": {k: str(v) for k, v in vars(args).items()},
           "results": results, "checks": checks, "notes": notes}
    (res_dir / "latest.json").write_text(json.dumps(raw, indent=2, ensure_ascii=False) + "\n")
    log(f"wrote {rel(res_dir / 'latest.md')} and {rel(res_dir / 'latest.json')}")
    if mismatch:
        log("FAILED: figure mismatches (see above)")
    if failed:
        log("FAILED: some runs failed (see above)")
    return 1 if (mismatch or failed) else 0


if __name__ == "__main__":
    sys.exit(main())
