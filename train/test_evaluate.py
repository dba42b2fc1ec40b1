#!/usr/bin/env python3
"""Tests of the evaluation harness (train/evaluate.py), standard library only.

    python3 train/test_evaluate.py

The metric tests need nothing installed; the end-to-end test runs evaluate.py
with the fake analyzer (train/fake_analyzer.py) on a small made-up comments
file and needs train/.venv (it is skipped without it).
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import evaluate as ev  # noqa: E402

COMMENTS = [
    {"id": "1", "lang": "zh", "segment": "a", "text": "质量很好，价格太贵", "sentiment": "neutral",
     "topics": [{"topic": "product_quality", "sentiment": "positive"},
                {"topic": "price", "sentiment": "negative"}]},
    {"id": "2", "lang": "zh", "segment": "a", "text": "客服态度差", "sentiment": "negative",
     "topics": [{"topic": "service_attitude", "sentiment": "negative"}]},
    {"id": "3", "lang": "en", "segment": "b", "text": "Great docs, easy to use.", "sentiment": "positive",
     "topics": [{"topic": "documentation", "sentiment": "positive"},
                {"topic": "usability", "sentiment": "positive"}]},
    {"id": "4", "lang": "en", "segment": "b", "text": "It is fine.", "sentiment": "neutral", "topics": []},
]


class Metrics(unittest.TestCase):
    def test_classification(self):
        gold = ["positive", "positive", "positive", "negative", "negative"]
        pred = ["positive", "positive", "negative", "negative", "positive"]
        m = ev.classification(gold, pred, ev.BINARY)
        self.assertEqual(m["correct"], 3)
        self.assertAlmostEqual(m["accuracy"], 0.6)
        # positive: P 2/3, R 2/3 -> F1 2/3; negative: P 1/2, R 1/2 -> F1 1/2.
        self.assertAlmostEqual(m["macro_f1"], (2 / 3 + 1 / 2) / 2)
        self.assertEqual(m["confusion"]["positive"]["negative"], 1)   # rows gold
        self.assertEqual(m["confusion"]["negative"]["positive"], 1)

    def test_macro_f1_skips_absent_classes(self):
        # neutral is in neither gold nor predictions: not averaged in.
        m = ev.classification(["positive", "negative"], ["positive", "negative"], ev.THREE)
        self.assertAlmostEqual(m["macro_f1"], 1.0)
        # predicted but absent from gold: counts with F1 0.
        m = ev.classification(["positive", "negative"], ["positive", "neutral"], ev.THREE)
        self.assertAlmostEqual(m["macro_f1"], (1 + 0 + 0) / 3)

    def test_majority(self):
        top, m = ev.majority_baseline(["negative", "negative", "positive"], ev.BINARY)
        self.assertEqual(top, "negative")
        self.assertAlmostEqual(m["accuracy"], 2 / 3)

    def test_wilson(self):
        lo, hi = ev.wilson(50, 100)
        self.assertAlmostEqual(lo, 0.4038, places=4)
        self.assertAlmostEqual(hi, 0.5962, places=4)
        self.assertTrue(all(math.isnan(x) for x in ev.wilson(0, 0)))

    def test_decisions(self):
        self.assertEqual(ev.cx_class({"sentiment": "neutral", "score": 0.0}, ev.BINARY), "positive")
        self.assertEqual(ev.cx_class({"sentiment": "neutral", "score": -0.01}, ev.BINARY), "negative")
        self.assertEqual(ev.cx_class({"sentiment": "neutral", "score": -0.01}, ev.THREE), "neutral")
        self.assertEqual(ev.snow_class(0.5, ev.BINARY), "positive")
        self.assertEqual([ev.snow_class(p, ev.THREE) for p in (0.39, 0.4, 0.6, 0.61)],
                         ["negative", "neutral", "neutral", "positive"])
        self.assertEqual(ev.vader_class(0.0, ev.BINARY), "positive")
        self.assertEqual([ev.vader_class(c, ev.THREE) for c in (-0.05, -0.04, 0.04, 0.05)],
                         ["negative", "neutral", "neutral", "positive"])

    def test_topics(self):
        items = [ev.Item("1", "t", "neutral", "zh", {"price": "negative", "delivery": "positive"}),
                 ev.Item("2", "t", "positive", "en", {})]
        outs = [{"topics": [{"topic": "price", "sentiment": "negative"},
                            {"topic": "packaging", "sentiment": "neutral"},
                            {"topic": "price", "sentiment": "positive"}]},      # repeat ignored
                {"topics": [{"topic": "shipping", "sentiment": "neutral"}]}]   # unknown: wrong
        tm = ev.topic_metrics(items, outs)
        m = tm["micro"]
        self.assertEqual((m["support"], m["predicted"], m["correct"]), (2, 3, 1))
        self.assertAlmostEqual(m["precision"], 1 / 3)
        self.assertAlmostEqual(m["recall"], 1 / 2)
        self.assertAlmostEqual(m["aspect_sentiment_accuracy"], 1.0)
        self.assertEqual(tm["unknown_topics"], {"shipping": 1})
        self.assertEqual(tm["duplicate_mentions"], 1)
        self.assertEqual(tm["per_topic"]["delivery"]["f1"], 0.0)     # missed, none predicted
        self.assertTrue(math.isnan(tm["per_topic"]["billing"]["f1"]))

    def test_load_comments(self):
        with tempfile.TemporaryDirectory() as d:
            good = Path(d) / "c.jsonl"
            good.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in COMMENTS) + "\n",
                            encoding="utf-8")
            es = ev.load_comments(good, None)
            self.assertEqual(len(es.items), 4)
            self.assertEqual(es.items[0].topics, {"product_quality": "positive", "price": "negative"})
            self.assertEqual(len(ev.load_comments(good, 2).items), 2)
            bad = Path(d) / "bad.jsonl"
            bad.write_text('{"id": "x", "lang": "fr", "text": "a", "sentiment": "ok", "topics": []}\n')
            with self.assertRaises(ev.SetupError):
                ev.load_comments(bad, None)


class EndToEnd(unittest.TestCase):
    @unittest.skipUnless((ev.VENV / "bin" / "python").exists(), "train/.venv not set up")
    def test_fake_run(self):
        with tempfile.TemporaryDirectory() as d:
            comments = Path(d) / "c.jsonl"
            comments.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in COMMENTS),
                                encoding="utf-8")
            out = Path(d) / "report.md"
            fake = f"{sys.executable} {ev.TRAIN / 'fake_analyzer.py'}"
            proc = subprocess.run([sys.executable, str(ev.TRAIN / "evaluate.py"), "--sets", "comments",
                                   "--comments", str(comments), "--cxscore-cmd", fake,
                                   "--out", str(out)], capture_output=True, text=True, timeout=300)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            report = out.read_text(encoding="utf-8")
            self.assertEqual(report, proc.stdout)
            for needle in ("### Topics (cxscore)", "SnowNLP 0.12.3", "VADER 3.3.2",
                           "majority class", "| cxscore | 4 |"):
                self.assertIn(needle, report)
            data = json.loads((Path(d) / "evaluation.json").read_text(encoding="utf-8"))
            self.assertEqual(data["sets"][0]["scopes"]["all"]["n"], 4)
            preds = (Path(d) / "predictions" / "comments.jsonl").read_text(encoding="utf-8").splitlines()
            self.assertEqual(len(preds), 4)


if __name__ == "__main__":
    unittest.main()
