#!/usr/bin/env python3
"""Independent reference implementation for cxscore's golden test.

This script shares no code with cxscore. It reads examples/responses.csv with
Python's csv module, computes the figures that

    cxscore ... --by region
    cxscore ... --time submitted_at --interval quarter --compare previous

are expected to report, and writes them to tests/reference/expected.json.
Statistics come from numpy/scipy so that the Rust implementation is checked
against a well-known library rather than against itself.

Rerun after changing the example data or a definition:

    python tests/reference/reference.py

(needs numpy and scipy; nothing in cxscore needs them at run time).

Definitions (kept in sync with the cxscore brief):
  * group n = rows in the group; for time groups, rows whose date parses.
  * a blank score cell is not an answer; a non-blank cell that is not an
    integer (e.g. "4.5", "N/A") or is outside the scale is excluded from that
    metric only and listed under "invalid_cells".
  * NPS 0-10: promoters 9-10, passives 7-8, detractors 0-6,
    score = 100 (P - D) / n; 95% CI by adjusted Wald (P+0.75, D+0.75, n+3),
    clipped to [-100, 100].
  * CSAT 1-5: top2_pct = share of 4-5 (Wilson 95%), mean (Student-t 95%).
  * CES 1-7 (higher = easier): mean (t 95%), easy_pct = share of 5-7 (Wilson).
  * dimensions 1-5: n, mean, t 95% CI, index = 100 (mean - 1) / 4.
  * csi = unweighted mean of the dimension indices that are available.
  * compare previous = the calendar quarter immediately before, when present:
      NPS: z test with trinomial variance (unadjusted p, d);
      proportions (CSAT top2, CES easy): two-proportion z with pooled p;
      means: Welch t test (scipy.stats.ttest_ind, equal_var=False).
    All p-values two-sided. diff = current - previous.
  * the first period, or one whose previous quarter has no rows, has no
    "change" objects.
"""

from __future__ import annotations

import csv
import datetime
import json
import math
import re
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "examples" / "responses.csv"
DST = Path(__file__).resolve().parent / "expected.json"

Z95 = 1.959963984540054

SCALES = {
    "nps": (0, 10),
    "csat": (1, 5),
    "ces": (1, 7),
    "product_quality": (1, 5),
    "service_attitude": (1, 5),
    "response_speed": (1, 5),
    "delivery_speed": (1, 5),
    "price": (1, 5),
}
DIMS = ["product_quality", "service_attitude", "response_speed", "delivery_speed", "price"]

DATE_PATTERNS = [
    re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"),
    re.compile(r"^(\d{4})-(\d{2})-(\d{2}) \d{2}:\d{2}:\d{2}$"),
    re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})$"),
    re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$"),
    re.compile(r"^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?Z$"),
]


def parse_date(text: str):
    """Calendar date as written (no time-zone conversion), or None."""
    s = text.strip()
    for pat in DATE_PATTERNS:
        m = pat.match(s)
        if m:
            y, mo, d = (int(g) for g in m.groups())
            try:
                return datetime.date(y, mo, d)
            except ValueError:
                return None
    return None


def quarter_label(d) -> str:
    return f"{d.year}-Q{(d.month - 1) // 3 + 1}"


def quarter_index(label: str) -> int:
    y, q = label.split("-Q")
    return int(y) * 4 + int(q) - 1


# ---------------------------------------------------------------- reading


def read_rows():
    """Return (rows, invalid_cells). Each row carries its physical start line."""
    rows = []
    invalid = []
    with open(SRC, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        prev_end = reader.line_num  # physical lines consumed so far
        for rec in reader:
            start_line = prev_end + 1
            prev_end = reader.line_num
            row = dict(zip(header, rec))
            row["_line"] = start_line
            for col, (lo, hi) in SCALES.items():
                raw = row[col]
                if raw.strip() == "":
                    row[col] = None
                    continue
                try:
                    v = int(raw.strip())
                except ValueError:
                    v = None
                if v is None or not (lo <= v <= hi):
                    invalid.append(
                        {
                            "column": col,
                            "line": start_line,
                            "response_id": row["response_id"],
                            "value": raw,
                        }
                    )
                    row[col] = None
                else:
                    row[col] = v
            rows.append(row)
    return header, rows, invalid


# ---------------------------------------------------------------- statistics


def wilson(x: int, n: int):
    if n == 0:
        return None
    p = x / n
    z2 = Z95 * Z95
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return [100 * (centre - half), 100 * (centre + half)]


def mean_ci(values):
    n = len(values)
    if n == 0:
        return None, None
    a = np.asarray(values, dtype=float)
    mean = float(a.mean())
    if n < 2:
        return mean, None
    s = float(a.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1)) * s / math.sqrt(n)
    return mean, [mean - half, mean + half]


def nps_block(values):
    n = len(values)
    p = sum(1 for v in values if v >= 9)
    pas = sum(1 for v in values if 7 <= v <= 8)
    d = sum(1 for v in values if v <= 6)
    out = {"n": n, "score": None, "promoters": p, "passives": pas, "detractors": d, "ci95": None}
    if n == 0:
        return out
    out["score"] = 100 * (p - d) / n
    n2 = n + 3
    pp = (p + 0.75) / n2
    dd = (d + 0.75) / n2
    c = pp - dd
    se = math.sqrt((pp + dd - c * c) / n2)
    out["ci95"] = [max(-100.0, 100 * (c - Z95 * se)), min(100.0, 100 * (c + Z95 * se))]
    return out


def csat_block(values):
    n = len(values)
    top2 = sum(1 for v in values if v >= 4)
    mean, ci = mean_ci(values)
    return {
        "n": n,
        "top2_pct": 100 * top2 / n if n else None,
        "top2_ci95": wilson(top2, n),
        "mean": mean,
        "mean_ci95": ci,
    }


def ces_block(values):
    n = len(values)
    easy = sum(1 for v in values if v >= 5)
    mean, ci = mean_ci(values)
    return {
        "n": n,
        "mean": mean,
        "mean_ci95": ci,
        "easy_pct": 100 * easy / n if n else None,
        "easy_ci95": wilson(easy, n),
    }


def dim_block(values):
    n = len(values)
    mean, ci = mean_ci(values)
    return {
        "n": n,
        "mean": mean,
        "mean_ci95": ci,
        "index": 100 * (mean - 1) / 4 if mean is not None else None,
    }


def column(rows, col):
    return [r[col] for r in rows if r[col] is not None]


def group_figures(key, rows):
    g = {
        "key": key,
        "n": len(rows),
        "nps": nps_block(column(rows, "nps")),
        "csat": csat_block(column(rows, "csat")),
        "ces": ces_block(column(rows, "ces")),
        "dims": {dim: dim_block(column(rows, dim)) for dim in DIMS},
    }
    idx = [g["dims"][dim]["index"] for dim in DIMS if g["dims"][dim]["index"] is not None]
    g["csi"] = sum(idx) / len(idx) if idx else None
    return g


# ---------------------------------------------------------------- comparisons


def two_sided_p(z: float) -> float:
    return float(2 * stats.norm.sf(abs(z)))


def nps_change(cur_vals, prev_vals):
    def parts(vals):
        n = len(vals)
        promoters = sum(1 for v in vals if v >= 9)
        detractors = sum(1 for v in vals if v <= 6)
        p, d = promoters / n, detractors / n
        score = 100 * (promoters - detractors) / n  # same formula as nps_block
        return score, (p + d - (p - d) ** 2) / n

    if not cur_vals or not prev_vals:
        return None
    cur, vc = parts(cur_vals)
    prev, vp = parts(prev_vals)
    z = (cur - prev) / 100 / math.sqrt(vc + vp)
    return {"previous": prev, "diff": cur - prev, "statistic": z, "p_value": two_sided_p(z)}


def prop_change(cur_vals, prev_vals, hit):
    if not cur_vals or not prev_vals:
        return None
    n1, n2 = len(cur_vals), len(prev_vals)
    x1 = sum(1 for v in cur_vals if hit(v))
    x2 = sum(1 for v in prev_vals if hit(v))
    p1, p2 = x1 / n1, x2 / n2
    pool = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pool * (1 - pool) * (1 / n1 + 1 / n2))
    z = (p1 - p2) / se
    cur_pct, prev_pct = 100 * x1 / n1, 100 * x2 / n2  # same formula as the group figures
    return {"previous": prev_pct, "diff": cur_pct - prev_pct, "statistic": z, "p_value": two_sided_p(z)}


def mean_change(cur_vals, prev_vals):
    if len(cur_vals) < 2 or len(prev_vals) < 2:
        return None
    res = stats.ttest_ind(cur_vals, prev_vals, equal_var=False)
    prev = float(np.mean(prev_vals))
    out = {
        "previous": prev,
        "diff": float(np.mean(cur_vals)) - prev,
        "statistic": float(res.statistic),
        "p_value": float(res.pvalue),
    }
    df = getattr(res, "df", None)
    if df is not None:
        out["df"] = float(df)
    return out


def attach_changes(g, cur_rows, prev_rows):
    def cv(col):
        return column(cur_rows, col), column(prev_rows, col)

    c, p = cv("nps")
    g["nps"]["change"] = {"score": nps_change(c, p)}
    c, p = cv("csat")
    g["csat"]["change"] = {"top2_pct": prop_change(c, p, lambda v: v >= 4), "mean": mean_change(c, p)}
    c, p = cv("ces")
    g["ces"]["change"] = {"mean": mean_change(c, p), "easy_pct": prop_change(c, p, lambda v: v >= 5)}
    for dim in DIMS:
        c, p = cv(dim)
        g["dims"][dim]["change"] = {"mean": mean_change(c, p)}


# ---------------------------------------------------------------- main


def main():
    header, rows, invalid = read_rows()

    # (a) --by region, groups in order of first appearance, plus overall
    regions = []
    for r in rows:
        if r["region"] not in regions:
            regions.append(r["region"])
    by_region = {
        "args": ["--by", "region"],
        "group_order": "first appearance in the file",
        "groups": [group_figures({"region": reg}, [r for r in rows if r["region"] == reg]) for reg in regions],
        "overall": group_figures({}, rows),
    }

    # (b) --time submitted_at --interval quarter --compare previous
    dated = []
    undated = []
    for r in rows:
        d = parse_date(r["submitted_at"])
        if d is None:
            undated.append({"line": r["_line"], "value": r["submitted_at"]})
        else:
            dated.append((quarter_label(d), r))
    periods = sorted({q for q, _ in dated}, key=quarter_index)
    by_period_rows = {q: [r for qq, r in dated if qq == q] for q in periods}
    groups = []
    for q in periods:
        g = group_figures({"period": q}, by_period_rows[q])
        prev_label = None
        for cand in periods:
            if quarter_index(cand) == quarter_index(q) - 1:
                prev_label = cand
        g["previous_period"] = prev_label
        if prev_label is not None:
            attach_changes(g, by_period_rows[q], by_period_rows[prev_label])
        groups.append(g)
    by_quarter = {
        "args": ["--time", "submitted_at", "--interval", "quarter", "--compare", "previous"],
        "group_order": "chronological",
        "n_rows_with_date": len(dated),
        "unparsed_dates": undated,
        "groups": groups,
    }

    out = {
        "source": "examples/responses.csv",
        "generated_by": "tests/reference/reference.py",
        "n_rows": len(rows),
        "columns": header,
        "invalid_cells": invalid,
        "blank_cells": {col: sum(1 for r in rows if r[col] is None) - sum(1 for i in invalid if i["column"] == col) for col in SCALES},
        "by_region": by_region,
        "by_quarter": by_quarter,
    }
    with open(DST, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=2, allow_nan=False)
        f.write("\n")
    print(f"wrote {DST.relative_to(ROOT)}: {len(rows)} rows, {len(invalid)} invalid cells, "
          f"{len(regions)} regions, {len(periods)} quarters")


if __name__ == "__main__":
    main()
