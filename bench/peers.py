#!/usr/bin/env python3
"""Peer implementations of `cxscore metrics ... --by region` for the benchmark.

    python bench/peers.py duckdb  csv     bench/data/responses.csv
    python bench/peers.py pandas  parquet bench/data/responses.parquet

prints one JSON object: {"tool", "format", "path", "groups": {region: figures},
"overall": figures, "timing": {...}}.  run.py times this whole process
(interpreter start-up and imports included).

Both peers do the heavy work (reading the file, grouping by region) with their
own engine and reduce each region to exact integer sufficient statistics:
row count, and per score column the non-blank count, sum, sum of squares and
the category counts the metrics need (promoters/passives/detractors, CSAT 4-5,
CES 5-7).  The small finishing arithmetic (scores, means, intervals) is shared
Python below (`finish`), so the two peers can only differ if their
aggregation differs.  Because the statistics are exact integers, the sample
variance is computed exactly ((n*sum_sq - sum^2) / (n(n-1)), one rounding).

Formulas (all intervals 95 %, two-sided):
  NPS     score = 100 (P - D) / n over non-blank nps; P = 9-10, passives 7-8, D = 0-6.
          Adjusted Wald: P' = P + 0.75, D' = D + 0.75, n' = n + 3, p = P'/n', d = D'/n',
          c = p - d, se = sqrt((p + d - (p - d)^2) / n'), ci = 100 (c -/+ z se)
          clipped to [-100, 100], z = 1.959963984540054 (the exact 97.5% normal
          quantile that SPEC's "1.96" rounds, as cx-core uses).
  CSAT    top2_pct = 100 x/n with x = count of 4-5; Wilson interval with
          z = 1.959963984540054, in percent.  mean and mean_ci95.
  CES     mean, mean_ci95; easy_pct = 100 share of 5-7, Wilson interval.
  dims    mean, mean_ci95, index = 100 (mean - 1) / 4.
  mean_ci95 = mean -/+ t(0.975, n-1) * s / sqrt(n), s = sample sd (n-1 divisor),
          t quantile computed exactly (see t_quantile_975); None when n < 2.
Values that need n >= 1 (or n >= 2 for mean CIs) are None when not defined.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time

Z975 = 1.959963984540054
# The NPS interval uses the same exact quantile as cx-core (SPEC writes it "1.96").
NPS_Z = float(os.environ.get("CXBENCH_NPS_Z", repr(Z975)))

SCORES = ["nps", "csat", "ces", "product_quality", "service_attitude", "response_speed"]
DIMS = ["product_quality", "service_attitude", "response_speed"]
READ_COLUMNS = ["region"] + SCORES
# Raw statistic names per region (all integers).
RAW_KEYS = (
    ["n"]
    + [f"{c}_{s}" for c in SCORES for s in ("n", "sum", "sumsq")]
    + ["nps_pro", "nps_pas", "nps_det", "csat_top2", "ces_easy"]
)


# ---------------------------------------------------------------------------
# Student t quantile (no scipy)
# ---------------------------------------------------------------------------

def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the regularized incomplete beta (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 100000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
           + a * math.log(x) + b * math.log1p(-x))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b


def _t_upper_tail(t: float, df: float) -> float:
    """P(T > t) for t >= 0."""
    return 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))


def t_quantile_975(df: int) -> float:
    """0.975 quantile of Student's t with df degrees of freedom.

    df < 1000: bisection on the exact CDF (regularized incomplete beta), to
    machine precision.  df >= 1000: Cornish-Fisher / Hill expansion in 1/df
    to the 1/df^4 term (A&S 26.7.5), truncation error < 1e-14 there.
    """
    if df < 1:
        raise ValueError("df must be >= 1")
    if df >= 1000:
        z = Z975
        z2 = z * z
        g1 = (z2 + 1.0) * z / 4.0
        g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0
        g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0
        g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0
        v = float(df)
        return z + g1 / v + g2 / v ** 2 + g3 / v ** 3 + g4 / v ** 4
    lo, hi = Z975, 20.0
    while _t_upper_tail(hi, df) > 0.025:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _t_upper_tail(mid, df) > 0.025:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 4e-16 * hi:
            break
    return 0.5 * (lo + hi)


# ---------------------------------------------------------------------------
# Finishing arithmetic (shared by both peers)
# ---------------------------------------------------------------------------

def wilson_pct(x: int, n: int):
    if n <= 0:
        return None
    z = Z975
    p = x / n
    z2n = z * z / n
    denom = 1.0 + z2n
    center = (p + z2n / 2.0) / denom
    half = z / denom * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
    return [100.0 * max(0.0, center - half), 100.0 * min(1.0, center + half)]


def mean_stats(n: int, s: int, ss: int):
    """(mean, [lo, hi]) from exact integer count, sum and sum of squares."""
    if n <= 0:
        return None, None
    mean = s / n
    if n < 2:
        return mean, None
    num = n * ss - s * s          # exact integer = n(n-1) var
    var = num / (n * (n - 1)) if num > 0 else 0.0
    half = t_quantile_975(n - 1) * math.sqrt(var / n)
    return mean, [mean - half, mean + half]


def nps_figures(n: int, pro: int, pas: int, det: int) -> dict:
    out = {"n": n, "score": None, "promoters": pro, "passives": pas, "detractors": det, "ci95": None}
    if n <= 0:
        return out
    out["score"] = 100.0 * (pro - det) / n
    n2 = n + 3.0
    p = (pro + 0.75) / n2
    d = (det + 0.75) / n2
    c = p - d
    se = math.sqrt(max(0.0, p + d - c * c) / n2)
    out["ci95"] = [max(-100.0, 100.0 * (c - NPS_Z * se)), min(100.0, 100.0 * (c + NPS_Z * se))]
    return out


def finish(r: dict) -> dict:
    """Turn one region's (or the overall) raw integer statistics into figures."""
    r = {k: int(v) for k, v in r.items()}
    fig = {"n": r["n"]}
    fig["nps"] = nps_figures(r["nps_n"], r["nps_pro"], r["nps_pas"], r["nps_det"])

    n = r["csat_n"]
    mean, mci = mean_stats(n, r["csat_sum"], r["csat_sumsq"])
    fig["csat"] = {"n": n, "top2_pct": 100.0 * r["csat_top2"] / n if n else None,
                   "top2_ci95": wilson_pct(r["csat_top2"], n), "mean": mean, "mean_ci95": mci}

    n = r["ces_n"]
    mean, mci = mean_stats(n, r["ces_sum"], r["ces_sumsq"])
    fig["ces"] = {"n": n, "mean": mean, "mean_ci95": mci,
                  "easy_pct": 100.0 * r["ces_easy"] / n if n else None,
                  "easy_ci95": wilson_pct(r["ces_easy"], n)}

    dims = {}
    for d in DIMS:
        n = r[f"{d}_n"]
        mean, mci = mean_stats(n, r[f"{d}_sum"], r[f"{d}_sumsq"])
        dims[d] = {"n": n, "mean": mean, "mean_ci95": mci,
                   "index": 100.0 * (mean - 1.0) / 4.0 if mean is not None else None}
    fig["dims"] = dims
    return fig


def finish_all(raw: dict) -> tuple[dict, dict]:
    """raw: {region: {stat: int}} -> ({region: figures}, overall figures)."""
    groups = {str(k): finish(v) for k, v in sorted(raw.items(), key=lambda kv: str(kv[0]))}
    total = {k: 0 for k in RAW_KEYS}
    for v in raw.values():
        for k in RAW_KEYS:
            total[k] += int(v[k])
    return groups, finish(total)


# ---------------------------------------------------------------------------
# DuckDB
# ---------------------------------------------------------------------------

def _duckdb_sql(source: str) -> str:
    parts = ["count(*) AS n"]
    for c in SCORES:
        parts += [f"count({c}) AS {c}_n",
                  f"sum({c}::BIGINT) AS {c}_sum",
                  f"sum({c}::BIGINT * {c}::BIGINT) AS {c}_sumsq"]
    parts += ["count_if(nps >= 9) AS nps_pro",
              "count_if(nps BETWEEN 7 AND 8) AS nps_pas",
              "count_if(nps <= 6) AS nps_det",
              "count_if(csat >= 4) AS csat_top2",
              "count_if(ces >= 5) AS ces_easy"]
    return "SELECT region,\n  " + ",\n  ".join(parts) + f"\nFROM {source}\nGROUP BY region"


def _duckdb_source(path: str) -> str:
    lit = "'" + path.replace("'", "''") + "'"
    if path.lower().endswith((".parquet", ".pq")):
        return f"read_parquet({lit})"
    return f"read_csv({lit})"


def duckdb_raw(path: str, timing: dict | None = None) -> dict:
    import duckdb

    con = duckdb.connect()  # in-memory; default threads = all cores
    sql = _duckdb_sql(_duckdb_source(path))
    t0 = time.perf_counter()
    cur = con.execute(sql)
    cols = [d[0] for d in cur.description]
    rows = cur.fetchall()
    if timing is not None:
        timing["query_s"] = time.perf_counter() - t0
        timing["threads"] = con.execute("SELECT current_setting('threads')").fetchone()[0]
    con.close()
    raw = {}
    for row in rows:
        rec = dict(zip(cols, row))
        region = rec.pop("region")
        raw[region] = {k: (0 if v is None else int(v)) for k, v in rec.items()}
    return raw


def duckdb_metrics(path: str) -> dict:
    """{region: figures} computed by DuckDB straight from the CSV/Parquet file."""
    return finish_all(duckdb_raw(path))[0]


# ---------------------------------------------------------------------------
# pandas
# ---------------------------------------------------------------------------

def _pandas_read(path: str):
    import pandas as pd

    if path.lower().endswith((".parquet", ".pq")):
        return pd.read_parquet(path, columns=READ_COLUMNS)
    return pd.read_csv(path, usecols=READ_COLUMNS, engine="pyarrow")


def pandas_raw(path: str, timing: dict | None = None) -> dict:
    import pandas as pd

    t0 = time.perf_counter()
    df = _pandas_read(path)
    t1 = time.perf_counter()
    # Score columns come back as float64 with NaN for blanks (both formats).
    # Region -> categorical first (cheap, makes every groupby below much faster).
    region = df["region"].astype("category")
    scores = df[SCORES]
    g = scores.groupby(region, observed=True, sort=True)
    cnt = g.count()
    sums = g.sum()
    sumsq = scores.pow(2).groupby(region, observed=True, sort=True).sum()
    nps, csat, ces = df["nps"], df["csat"], df["ces"]
    flags = pd.DataFrame({
        "nps_pro": nps >= 9,
        "nps_pas": (nps >= 7) & (nps <= 8),
        "nps_det": nps <= 6,
        "csat_top2": csat >= 4,
        "ces_easy": ces >= 5,
    }).groupby(region, observed=True, sort=True).sum()
    rows = region.value_counts(sort=False)
    agg = pd.concat([rows.rename("n"), cnt.add_suffix("_n"), sums.add_suffix("_sum"),
                     sumsq.add_suffix("_sumsq"), flags], axis=1)
    t2 = time.perf_counter()
    if timing is not None:
        timing["read_s"] = t1 - t0
        timing["compute_s"] = t2 - t1
    raw = {}
    for key, row in agg.iterrows():
        # float sums of small integers are exact (< 2^53), round() just drops the ".0"
        raw[key] = {k: int(round(float(row[k]))) for k in RAW_KEYS}
    return raw


def pandas_metrics(path: str) -> dict:
    """{region: figures} computed with pandas (read_csv pyarrow engine / read_parquet)."""
    return finish_all(pandas_raw(path))[0]


# ---------------------------------------------------------------------------
# CLI: python bench/peers.py TOOL FORMAT PATH
# ---------------------------------------------------------------------------

TOOLS = {"duckdb": duckdb_raw, "pandas": pandas_raw}


def _versions(tool: str) -> dict:
    v = {"python": sys.version.split()[0]}
    if tool == "duckdb":
        import duckdb
        v["duckdb"] = duckdb.__version__
    else:
        import numpy
        import pandas
        import pyarrow
        v.update(pandas=pandas.__version__, pyarrow=pyarrow.__version__, numpy=numpy.__version__)
    return v


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or argv[0] not in TOOLS or argv[1] not in ("csv", "parquet"):
        print("usage: peers.py {duckdb|pandas} {csv|parquet} PATH", file=sys.stderr)
        return 2
    tool, fmt, path = argv
    if not os.path.exists(path):
        print(f"peers.py: no such file: {path}", file=sys.stderr)
        return 2
    timing: dict = {}
    t0 = time.perf_counter()
    raw = TOOLS[tool](path, timing)
    t1 = time.perf_counter()
    groups, overall = finish_all(raw)
    timing["work_s"] = t1 - t0
    timing["finish_s"] = time.perf_counter() - t1
    out = {"tool": tool, "format": fmt, "path": path, "groups": groups, "overall": overall,
           "timing": timing, "versions": _versions(tool)}
    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
