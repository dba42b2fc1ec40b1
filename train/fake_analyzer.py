#!/usr/bin/env python3
"""A stand-in for `cxscore text analyze`, to test train/evaluate.py without a build.

    python3 train/fake_analyzer.py text analyze FILE --column text --format json [--threads N]
    python3 train/evaluate.py --cxscore-cmd "python3 train/fake_analyzer.py"

Reads FILE as CSV or JSONL (by extension) and prints, for each row in order, one
JSON object shaped like cxscore's: {"lang", "sentiment", "score", "topics"}.
The language is guessed from the characters (CJK -> zh, Latin letters -> en,
both -> mixed); sentiment, score and topics are random but valid and
deterministic (seeded by the text), so its accuracy should sit near chance:
a harness that reports much better than that for the fake is broken.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import sys

TOPICS = ("product_quality", "price", "service_attitude", "response_speed", "delivery",
          "packaging", "documentation", "after_sales", "usability", "billing")
SENTIMENTS = ("negative", "neutral", "positive")


def rows(path: str, column: str):
    if path.endswith(".jsonl"):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield str(json.loads(line).get(column, ""))
    elif path.endswith(".csv"):
        with open(path, encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                yield row.get(column, "")
    else:
        sys.exit(f"fake_analyzer: {path}: expected a .csv or .jsonl file")


def guess_lang(text: str) -> str:
    cjk = any("\u4e00" <= ch <= "\u9fff" for ch in text)
    latin = any(ch.isascii() and ch.isalpha() for ch in text)
    return "mixed" if cjk and latin else "zh" if cjk else "en"


def analyze(text: str) -> dict:
    rng = random.Random(hashlib.sha256(text.encode("utf-8")).digest())
    sentiment = rng.choice(SENTIMENTS)
    score = {"negative": rng.uniform(-1, -0.05), "neutral": rng.uniform(-0.05, 0.05),
             "positive": rng.uniform(0.05, 1)}[sentiment]
    topics = [{"topic": t, "sentiment": rng.choice(SENTIMENTS)}
              for t in rng.sample(TOPICS, rng.choice((0, 1, 1, 2)))]
    return {"lang": guess_lang(text), "sentiment": sentiment, "score": round(score, 4),
            "topics": topics}


def main() -> None:
    ap = argparse.ArgumentParser(prog="cxscore (fake)")
    ap.add_argument("--version", action="version", version="cxscore-fake 0 (train/fake_analyzer.py)")
    ap.add_argument("group", choices=["text"])
    ap.add_argument("command", choices=["analyze"])
    ap.add_argument("file")
    ap.add_argument("--column", default="text")
    ap.add_argument("--format", choices=["json"], default="json")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    out = sys.stdout
    for text in rows(args.file, args.column):
        out.write(json.dumps(analyze(text), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
