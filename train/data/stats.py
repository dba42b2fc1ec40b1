#!/usr/bin/env python3
"""Print a markdown table of counts for the cxscore hand-labelled comment set.

Usage: python3 train/data/stats.py   (from the repository root, or any directory)
No third-party packages needed.
"""
import json
import os
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = [("calibration", "comments-calibration.jsonl"), ("test", "comments-test.jsonl")]
TOPICS = ["product_quality", "price", "service_attitude", "response_speed", "delivery",
          "packaging", "documentation", "after_sales", "usability", "billing"]
SENTS = ["positive", "neutral", "negative"]


def count(path):
    c = Counter()
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            c["comments"] += 1
            c["lang:" + r["lang"]] += 1
            c["segment:" + r["segment"]] += 1
            c["sentiment:" + r["sentiment"]] += 1
            if r["topics"]:
                c["with_topics"] += 1
            for t in r["topics"]:
                c["topic:" + t["topic"]] += 1
                c["topic:" + t["topic"] + ":" + t["sentiment"]] += 1
    return c


def main():
    counts = [(name, count(os.path.join(HERE, fn))) for name, fn in FILES]
    total = Counter()
    for _, c in counts:
        total.update(c)
    cols = counts + [("total", total)]

    def topic_cell(c, t):
        return "%d (%d/%d/%d)" % (c["topic:" + t], *(c["topic:%s:%s" % (t, s)] for s in SENTS))

    rows = [("comments", lambda c: str(c["comments"]))]
    rows += [("lang: " + l, lambda c, l=l: str(c["lang:" + l])) for l in ("zh", "en")]
    rows += [("segment: " + g, lambda c, g=g: str(c["segment:" + g])) for g in ("b2b", "b2c")]
    rows += [("sentiment: " + s, lambda c, s=s: str(c["sentiment:" + s])) for s in SENTS]
    rows += [("with >= 1 topic", lambda c: "%d (%.0f%%)" % (c["with_topics"], 100.0 * c["with_topics"] / c["comments"]))]
    rows += [("topic: " + t, lambda c, t=t: topic_cell(c, t)) for t in TOPICS]

    print("| | " + " | ".join(n for n, _ in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for label, fn in rows:
        print("| %s | %s |" % (label, " | ".join(fn(c) for _, c in cols)))
    print()
    print("Topic cells: mentions (positive/neutral/negative).")


if __name__ == "__main__":
    main()
