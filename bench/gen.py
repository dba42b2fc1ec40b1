#!/usr/bin/env python3
"""Deterministic synthetic survey-response generator for the cxscore benchmark.

    python bench/gen.py --rows 10000000 --out bench/data --seed 42

writes DIR/responses.csv and DIR/responses.parquet (same rows, same order) and
DIR/meta.json (rows, seed, sizes, timings).

Columns, in order:
  response_id      int64, 1..N
  submitted_at     string 'YYYY-MM-DD HH:MM:SS', non-decreasing, 2025-01-01 .. 2026-10-31
  region           string, 8 values (4 Chinese, 4 English), non-uniform weights
  product_line     string, 5 values
  channel          string: web, email, sms, phone, in_person
  nps              0-10   \
  csat             1-5     |  correlated through a per-response latent
  ces              1-7     |  satisfaction; ~3% of every score cell blank
  product_quality  1-5     |  (empty field in CSV, null in Parquet)
  service_attitude 1-5     |
  response_speed   1-5    /
  comment          ~90% blank (empty field in CSV, null in Parquet), otherwise a
                   short Chinese or English sentence; some contain ',' (quoted in
                   CSV), one contains '"' (quoted and doubled in CSV)

Parquet: pyarrow, snappy, one row group per generation chunk (--row-group, default
1,000,000 rows), pyarrow's default dictionary encoding. Score columns are nullable
int64 by default (--score-type int8/int16 to change). All string columns are plain
Arrow `string` (Parquet BYTE_ARRAY/UTF8), not Arrow dictionary type.

CSV: UTF-8 (no BOM), header row, ',' separator, '\\n' line ends, minimal quoting
(only fields containing ',' or '"' are quoted, RFC 4180 style).

Determinism: chunk i is drawn from SeedSequence(seed, spawn_key=(i,)), so the same
(--rows, --seed, --row-group) always gives byte-identical files, and the first k
chunks do not depend on --rows (except for submitted_at, which spreads the whole
date range over N rows).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from statistics import NormalDist

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

COLUMNS = [
    "response_id", "submitted_at", "region", "product_line", "channel",
    "nps", "csat", "ces", "product_quality", "service_attitude", "response_speed",
    "comment",
]
SCORE_COLUMNS = ["nps", "csat", "ces", "product_quality", "service_attitude", "response_speed"]

REGIONS = ["华东", "华南", "华北", "西南", "North America", "Europe", "APAC", "LATAM"]
REGION_WEIGHTS = [0.17, 0.14, 0.12, 0.07, 0.18, 0.15, 0.11, 0.06]
REGION_EFFECT = [0.10, 0.05, -0.05, -0.15, 0.08, 0.00, 0.12, -0.20]
REGION_IS_ZH = [True, True, True, True, False, False, False, False]

PRODUCT_LINES = ["Phones", "Laptops", "Smart Home", "Wearables", "Services"]
PRODUCT_WEIGHTS = [0.34, 0.22, 0.18, 0.14, 0.12]
PRODUCT_EFFECT = [0.05, 0.10, -0.10, 0.00, -0.20]

CHANNELS = ["web", "email", "sms", "phone", "in_person"]
CHANNEL_WEIGHTS = [0.38, 0.27, 0.15, 0.12, 0.08]
CHANNEL_EFFECT = [0.00, -0.05, -0.10, 0.05, 0.25]

# Marginal target distributions (before the small region/product/channel shifts).
# NPS: ~50% promoters, ~29% passives, ~21% detractors  -> NPS around +29.
NPS_P = [0.020, 0.008, 0.012, 0.018, 0.022, 0.050, 0.080, 0.120, 0.170, 0.200, 0.300]
CSAT_P = [0.05, 0.07, 0.15, 0.38, 0.35]            # top-2 ~73%
CES_P = [0.03, 0.04, 0.07, 0.14, 0.24, 0.28, 0.20]  # 5-7 "easy" ~72%
DIM_P = {
    "product_quality": [0.04, 0.07, 0.19, 0.40, 0.30],
    "service_attitude": [0.03, 0.05, 0.15, 0.39, 0.38],
    "response_speed": [0.07, 0.12, 0.25, 0.34, 0.22],
}
# Loading of each score on the shared latent satisfaction (rest is own noise).
LOADING = {"nps": 0.85, "csat": 0.80, "ces": 0.60,
           "product_quality": 0.70, "service_attitude": 0.65, "response_speed": 0.55}
BLANK_RATE = 0.03
COMMENT_RATE = 0.10

COMMENTS = {
    ("zh", "pos"): [
        "很满意",
        "服务态度很好，下次还会选择",
        "物流很快, 包装也不错",
        "客服耐心解答了我的问题",
        "产品质量超出预期",
        "整体体验不错",
        "安装师傅很专业，点赞",
        "性价比高",
    ],
    ("zh", "neg"): [
        "等待时间太长",
        "客服回复慢，问题没有解决",
        "产品有质量问题, 希望改进",
        "退货流程太复杂",
        "价格偏高",
        "说明书看不懂",
        "电话一直打不通，很失望",
        "一般般",
    ],
    ("en", "pos"): [
        "Great service",
        "Fast delivery, friendly staff",
        "Easy to set up and works well",
        "Support solved my issue on the first call",
        "Love it",
        "Good value for money",
        "The agent said \"no problem\" and fixed it",
        "Smooth checkout, quick shipping, no complaints",
    ],
    ("en", "neg"): [
        "Too slow",
        "Waited 40 minutes on hold, then got disconnected",
        "Product broke after two weeks",
        "Hard to reach support",
        "Billing was confusing, please simplify",
        "Not worth the price",
        "Instructions unclear",
        "Okay, but could be better",
    ],
}

START = np.datetime64("2025-01-01T00:00:00", "s")
END = np.datetime64("2026-11-01T00:00:00", "s")  # exclusive: last stamp is 2026-10-31 23:59:59


def _cuts(probs):
    """Standard-normal cut points that turn N(0,1) into the given categorical."""
    p = np.asarray(probs, dtype=float)
    p = p / p.sum()
    cum = np.cumsum(p)[:-1]
    nd = NormalDist()
    return np.array([nd.inv_cdf(float(c)) for c in cum])


def _categorical(rng, n, weights):
    cum = np.cumsum(np.asarray(weights, dtype=float))
    cum /= cum[-1]
    return np.searchsorted(cum, rng.random(n), side="right").astype(np.int8)


def make_chunk(seed: int, index: int, row0: int, n: int, total: int, score_type: pa.DataType) -> pa.Table:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))

    response_id = np.arange(row0 + 1, row0 + n + 1, dtype=np.int64)

    # Timestamps: this chunk owns the proportional slice of the date range;
    # sorted uniform draws inside it -> the whole file is non-decreasing in time.
    span = int((END - START) / np.timedelta64(1, "s"))
    lo = span * row0 // total
    hi = span * (row0 + n) // total
    secs = np.sort(rng.integers(lo, max(hi, lo + 1), size=n, dtype=np.int64))
    ts = pa.array(secs + START.astype(np.int64), type=pa.timestamp("s"))
    submitted_at = pc.strftime(ts, format="%Y-%m-%d %H:%M:%S")

    region = _categorical(rng, n, REGION_WEIGHTS)
    product = _categorical(rng, n, PRODUCT_WEIGHTS)
    channel = _categorical(rng, n, CHANNEL_WEIGHTS)

    shift = (np.asarray(REGION_EFFECT)[region] + np.asarray(PRODUCT_EFFECT)[product]
             + np.asarray(CHANNEL_EFFECT)[channel])
    latent = rng.standard_normal(n)

    cols = {
        "response_id": pa.array(response_id),
        "submitted_at": submitted_at,
        "region": pa.DictionaryArray.from_arrays(pa.array(region), pa.array(REGIONS)).cast(pa.string()),
        "product_line": pa.DictionaryArray.from_arrays(pa.array(product), pa.array(PRODUCT_LINES)).cast(pa.string()),
        "channel": pa.DictionaryArray.from_arrays(pa.array(channel), pa.array(CHANNELS)).cast(pa.string()),
    }

    specs = [("nps", NPS_P, 0), ("csat", CSAT_P, 1), ("ces", CES_P, 1)] + [
        (d, p, 1) for d, p in DIM_P.items()]
    for name, probs, base in specs:
        a = LOADING[name]
        z = a * latent + np.sqrt(1.0 - a * a) * rng.standard_normal(n) + shift
        vals = np.searchsorted(_cuts(probs), z).astype(np.int64) + base
        blank = rng.random(n) < BLANK_RATE
        cols[name] = pa.array(vals, mask=blank).cast(score_type)

    # Comments: language follows region, sentiment follows the latent.
    has_comment = rng.random(n) < COMMENT_RATE
    pool = []
    for key in [("zh", "pos"), ("zh", "neg"), ("en", "pos"), ("en", "neg")]:
        pool.extend(COMMENTS[key])
    k = len(COMMENTS[("zh", "pos")])
    is_en = ~np.asarray(REGION_IS_ZH)[region]
    # a few cross-language comments (expats, bilingual staff)
    is_en ^= rng.random(n) < 0.05
    neg = (latent + shift + 0.5 * rng.standard_normal(n)) < -0.3
    cidx = (is_en.astype(np.int64) * 2 + neg.astype(np.int64)) * k + rng.integers(0, k, size=n)
    cols["comment"] = pa.DictionaryArray.from_arrays(
        pa.array(cidx.astype(np.int32), mask=~has_comment), pa.array(pool)).cast(pa.string())

    return pa.table([cols[c] for c in COLUMNS], names=COLUMNS)


def _csv_field(arr: pa.Array, quote_if_needed: bool) -> pa.Array:
    s = arr if pa.types.is_string(arr.type) else pc.cast(arr, pa.string())
    if not quote_if_needed:
        return s
    needs = pc.or_(pc.match_substring(s, ","), pc.match_substring(s, '"'))
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(s, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, s)


def csv_bytes(table: pa.Table, header: bool) -> bytes:
    """Render a table as minimal-quoting RFC 4180 CSV, fully vectorised.

    pyarrow's own CSV writer quotes every string value; we want the common
    'quote only when needed' style, so each row is built with
    binary_join_element_wise and the value buffer is written out directly.
    """
    fields = []
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        quote = pa.types.is_string(col.type)
        fields.append(_csv_field(col, quote))
    lines = pc.binary_join_element_wise(*fields, ",", null_handling="replace", null_replacement="")
    lines = pc.binary_join_element_wise(lines, pa.scalar("\n"), "")
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    if lines.type != pa.large_string():
        lines = lines.cast(pa.large_string())
    _, offsets_buf, data_buf = lines.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64, count=len(lines) + 1, offset=lines.offset * 8)
    body = data_buf.to_pybytes()[offsets[0]:offsets[-1]] if data_buf is not None else b""
    if header:
        body = (",".join(table.column_names) + "\n").encode("utf-8") + body
    return body


def generate(rows: int, out: str, seed: int, row_group: int, score_type: str,
             formats=("csv", "parquet"), quiet=False) -> dict:
    os.makedirs(out, exist_ok=True)
    st = {"int64": pa.int64(), "int16": pa.int16(), "int8": pa.int8()}[score_type]
    csv_path = os.path.join(out, "responses.csv")
    pq_path = os.path.join(out, "responses.parquet")
    tmp_csv, tmp_pq = csv_path + ".tmp", pq_path + ".tmp"
    t0 = time.perf_counter()
    t_gen = t_csv = t_pq = 0.0
    schema = None
    writer = None
    fcsv = open(tmp_csv, "wb") if "csv" in formats else None
    try:
        nchunks = max(1, -(-rows // row_group))
        for i in range(nchunks):
            row0 = i * row_group
            n = min(row_group, rows - row0)
            if n <= 0:
                break
            a = time.perf_counter()
            table = make_chunk(seed, i, row0, n, rows, st)
            b = time.perf_counter()
            t_gen += b - a
            if fcsv is not None:
                fcsv.write(csv_bytes(table, header=(i == 0)))
            c = time.perf_counter()
            t_csv += c - b
            if "parquet" in formats:
                if writer is None:
                    schema = table.schema
                    writer = pq.ParquetWriter(tmp_pq, schema, compression="snappy")
                writer.write_table(table, row_group_size=row_group)
            t_pq += time.perf_counter() - c
            if not quiet:
                print(f"  chunk {i + 1}/{nchunks}: {row0 + n:,} rows", file=sys.stderr, flush=True)
    finally:
        if fcsv is not None:
            fcsv.close()
        if writer is not None:
            writer.close()
    if "csv" in formats:
        os.replace(tmp_csv, csv_path)
    if "parquet" in formats and os.path.exists(tmp_pq):
        os.replace(tmp_pq, pq_path)
    total = time.perf_counter() - t0
    meta = {
        "rows": rows, "seed": seed, "row_group": row_group, "score_type": score_type,
        "columns": COLUMNS,
        "files": {},
        "seconds": {"total": round(total, 3), "generate": round(t_gen, 3),
                    "csv_write": round(t_csv, 3), "parquet_write": round(t_pq, 3)},
        "numpy": np.__version__, "pyarrow": pa.__version__,
    }
    for fmt, p in (("csv", csv_path), ("parquet", pq_path)):
        if fmt in formats and os.path.exists(p):
            meta["files"][fmt] = {"path": os.path.basename(p), "bytes": os.path.getsize(p)}
    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return meta


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--out", default="bench/data")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--row-group", type=int, default=1_000_000,
                    help="rows per generation chunk = rows per Parquet row group")
    ap.add_argument("--score-type", choices=["int64", "int16", "int8"], default="int64",
                    help="Parquet physical type of the score columns (always nullable)")
    ap.add_argument("--formats", default="csv,parquet")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    if args.rows < 1 or args.row_group < 1:
        ap.error("--rows and --row-group must be >= 1")
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    meta = generate(args.rows, args.out, args.seed, args.row_group, args.score_type,
                    formats=formats, quiet=args.quiet)
    sizes = ", ".join(f"{k} {v['bytes'] / 2**20:.1f} MiB" for k, v in meta["files"].items())
    print(f"generated {args.rows:,} rows in {meta['seconds']['total']:.1f}s -> {args.out} ({sizes})",
          file=sys.stderr)


if __name__ == "__main__":
    main()
