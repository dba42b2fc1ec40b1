#!/usr/bin/env python3
"""Evaluate cxscore's text analytics (sentiment and topics) against SnowNLP and VADER.

What it measures
----------------
On held-out texts that no model here was trained on, in one run and on exactly
the same texts, it measures

* cxscore (`cxscore text analyze FILE --column text --format json --threads 1`),
* SnowNLP 0.12.3 (`SnowNLP(text).sentiments`, Chinese texts only) and
* VADER 3.3.2 (`SentimentIntensityAnalyzer().polarity_scores(text)['compound']`,
  English texts only)

on three sets:

  waimai    Chinese food-delivery reviews, shared/data/zh-reviews/waimai_10k.csv
            (label 1 positive / 0 negative).  Binary.
  amazon    English Amazon review snippets from the VADER paper
            (amazonReviewSnippets_GroundTruth.txt in the vaderSentiment 3.3.2 sdist,
            fetched with `pip download` into train/.cache).  Gold: mean human rating
            > 0 positive, < 0 negative; snippets rated exactly 0 are dropped.  Binary.
  comments  hand-labelled survey comments, train/data/comments-test.jsonl
            (zh and en; positive / neutral / negative, plus topics with their own
            sentiment).  Three-class, and topic detection for cxscore.

For every (set x system): n, accuracy (with a 95 % Wilson interval), macro-F1,
the confusion matrix (rows gold, columns predicted) and texts per second on one
core, next to the majority-class baseline.  Class decisions:

  cxscore, binary sets   its "sentiment"; a text it calls "neutral" counts as
                         positive when score >= 0, else negative (its neutral
                         share is reported as well).
  SnowNLP                binary: p >= 0.5 positive; three-class: p < 0.4 negative,
                         p > 0.6 positive, else neutral.
  VADER                  binary: compound >= 0 positive; three-class: compound
                         >= 0.05 positive, <= -0.05 negative, else neutral.

Macro-F1 averages the per-class F1 over the classes that occur in the gold
labels or the predictions (scikit-learn's default label set).

For the comments set, cxscore's topics are scored too: micro precision
(predicted topics that are in the comment's gold list / all predicted topics),
micro recall (gold topics found / all gold topics), a per-topic table, and the
aspect-sentiment accuracy over correctly detected topics.

Throughput is one core everywhere.  cxscore runs as a child process with
`--threads 1` under `taskset -c CPU` (when taskset exists), timed around the
whole process (start-up and model load included; a 1-text warm-up run is
timed separately so that fixed cost is visible).  The peers run in this
process, pinned to the same CPU, with OMP/MKL/OpenBLAS threads set to 1; their
models are loaded before timing and only the scoring loop is timed.

How to run
----------
Once:   python3 -m venv train/.venv && train/.venv/bin/pip install -r train/requirements.txt
        cargo build --release
Then:   python3 train/evaluate.py            (re-executes itself under train/.venv)

    --sets waimai,amazon,comments   which sets (default: all three)
    --systems cxscore,snownlp,vader which systems (default: all three)
    --limit N                       only the first N texts of each set (quick check;
                                    note waimai_10k.csv is sorted by label)
    --shared DIR                    the shared data folder (default: <repo>/../shared)
    --comments FILE                 hand-labelled comments (default: train/data/comments-test.jsonl)
    --cxscore PATH                  the cxscore binary (default: target/release/cxscore)
    --cxscore-cmd CMD               a command line used instead of the binary, e.g.
                                    "python3 train/fake_analyzer.py" to test the harness
    --out FILE                      the report (default: train/results/evaluation.md)

The markdown report goes to stdout and to train/results/evaluation.md; the
figures as JSON to train/results/evaluation.json and every text's gold label
and predictions to train/results/predictions/<set>.jsonl (for error analysis).
Progress goes to stderr.  Exit status: 0 ok, 1 a failed or invalid cxscore run,
2 bad usage or setup (missing venv, binary or data).
"""
from __future__ import annotations

import os

# One core for the in-process peers (and anything they might load); set before
# any library that reads these is imported.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
             "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import collections
import csv
import datetime as _dt
import hashlib
import io
import json
import math
import platform
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent          # the repository root
TRAIN = ROOT / "train"
VENV = TRAIN / ".venv"
CACHE = TRAIN / ".cache"
RESULTS = TRAIN / "results"
DEFAULT_COMMENTS = TRAIN / "data" / "comments-test.jsonl"
DEFAULT_CXSCORE = ROOT / "target" / "release" / "cxscore"
SETUP_HINT = ("python3 -m venv train/.venv && "
              "train/.venv/bin/pip install -r train/requirements.txt")

ALL_SETS = ("waimai", "amazon", "comments")
ALL_SYSTEMS = ("cxscore", "snownlp", "vader")
BINARY = ("negative", "positive")
THREE = ("negative", "neutral", "positive")
LANGS = ("zh", "en")
TOPICS = ("product_quality", "price", "service_attitude", "response_speed", "delivery",
          "packaging", "documentation", "after_sales", "usability", "billing")

# Decision thresholds (stated in the report).
SNOW_BINARY = 0.5                 # p >= 0.5 positive
SNOW_NEG, SNOW_POS = 0.4, 0.6     # p < 0.4 negative, p > 0.6 positive, else neutral
VADER_BINARY = 0.0                # compound >= 0 positive
VADER_POS, VADER_NEG = 0.05, -0.05  # VADER's standard three-class thresholds

# The English set ships inside the vaderSentiment 3.3.2 sdist (pinned by hash).
VADER_SDIST = "vaderSentiment-3.3.2.tar.gz"
VADER_SDIST_SHA256 = "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9"
VADER_INNER_TAR = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
AMAZON_MEMBER = "hutto_ICWSM_2014/amazonReviewSnippets_GroundTruth.txt"
AMAZON_SHA256 = "11a9807a0974a2506a2d3b4851eaf69b3d6d20688ce4923adda2312a4f6dd6c2"

Z975 = 1.959963984540054          # two-sided 95 % normal quantile


class SetupError(Exception):
    """Something the user has to fix before a run (exit status 2)."""


class RunError(Exception):
    """cxscore failed or printed something invalid (exit status 1)."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Interpreter: run under train/.venv
# ---------------------------------------------------------------------------

def ensure_venv() -> None:
    """Re-execute under train/.venv/bin/python when started with another interpreter."""
    venv_python = VENV / "bin" / "python"
    try:
        in_venv = Path(sys.prefix).resolve() == VENV.resolve()
    except OSError:
        in_venv = False
    if in_venv:
        return
    if venv_python.exists() and not os.environ.get("CXEVAL_REEXEC"):
        os.environ["CXEVAL_REEXEC"] = "1"   # guards against an exec loop
        os.execv(str(venv_python), [str(venv_python), str(Path(__file__).resolve())]
                 + sys.argv[1:])
    # No venv: fine only if the peers happen to be importable here.
    try:
        import snownlp  # noqa: F401
        import vaderSentiment  # noqa: F401
    except ImportError:
        raise SetupError(f"the peers are not installed; set up the venv first:\n  {SETUP_HINT}")


# ---------------------------------------------------------------------------
# Evaluation sets
# ---------------------------------------------------------------------------

@dataclass
class Item:
    id: str
    text: str
    gold: str                                  # sentiment class
    lang: str                                  # gold language: zh or en
    topics: dict = field(default_factory=dict)  # comments only: topic -> sentiment


@dataclass
class EvalSet:
    name: str
    title: str
    source: str
    labels: tuple                 # BINARY or THREE
    items: list
    notes: list = field(default_factory=list)


def apply_limit(items: list, limit: int | None, notes: list) -> list:
    if limit is not None and limit < len(items):
        notes.append(f"--limit {limit}: only the first {limit:,} of {len(items):,} texts.")
        return items[:limit]
    return items


def load_waimai(shared: Path, limit: int | None) -> EvalSet:
    path = shared / "data" / "zh-reviews" / "waimai_10k.csv"
    if not path.exists():
        raise SetupError(f"{path} not found (pass --shared DIR, the folder holding data/zh-reviews/)")
    items = []
    with path.open(encoding="utf-8-sig", newline="") as f:
        for i, row in enumerate(csv.DictReader(f), start=1):
            label = (row.get("label") or "").strip()
            if label not in ("0", "1"):
                raise SetupError(f"{path}: row {i}: label {label!r} is not 0 or 1")
            items.append(Item(id=str(i), text=row["review"], lang="zh",
                              gold="positive" if label == "1" else "negative"))
    notes: list = []
    items = apply_limit(items, limit, notes)
    return EvalSet("waimai", "waimai_10k: Chinese food-delivery reviews (binary)",
                   f"`{path}` (label 1 positive, 0 negative)", BINARY, items, notes)


def fetch_amazon() -> Path:
    """The Amazon ground-truth file, downloaded (pip sdist) and extracted into train/.cache."""
    target = CACHE / AMAZON_MEMBER
    if target.exists() and sha256(target.read_bytes()) == AMAZON_SHA256:
        return target
    sdist = CACHE / VADER_SDIST
    if not sdist.exists():
        log(f"downloading the vaderSentiment 3.3.2 sdist into {CACHE} ...")
        cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
               "--no-binary", ":all:", "vaderSentiment==3.3.2", "-d", str(CACHE)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not sdist.exists():
            raise SetupError("could not download the vaderSentiment sdist:\n  "
                             + shlex.join(cmd) + "\n" + proc.stderr[-2000:])
    data = sdist.read_bytes()
    if sha256(data) != VADER_SDIST_SHA256:
        raise SetupError(f"{sdist}: unexpected SHA-256 (delete it to download it again)")
    # Read the two nested members into memory and write only the one file we need.
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as outer:
        inner_bytes = outer.extractfile(VADER_INNER_TAR).read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
        text_bytes = inner.extractfile(AMAZON_MEMBER).read()
    if sha256(text_bytes) != AMAZON_SHA256:
        raise SetupError(f"{AMAZON_MEMBER} in {sdist}: unexpected SHA-256")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(text_bytes)
    return target


def load_amazon(limit: int | None) -> EvalSet:
    path = fetch_amazon()
    items, dropped = [], 0
    with path.open(encoding="utf-8", newline="") as f:
        for i, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            parts = line.split("\t", 2)
            if len(parts) != 3:
                raise SetupError(f"{path}: line {i}: expected id<TAB>rating<TAB>text")
            rating = float(parts[1])
            if rating == 0:
                dropped += 1
                continue
            items.append(Item(id=parts[0], text=parts[2], lang="en",
                              gold="positive" if rating > 0 else "negative"))
    notes = [f"{dropped} snippets with a mean human rating of exactly 0 were dropped "
             f"({len(items):,} of {len(items) + dropped:,} kept)."]
    items = apply_limit(items, limit, notes)
    return EvalSet("amazon", "Amazon review snippets (English, binary)",
                   f"`{AMAZON_MEMBER}` from the vaderSentiment 3.3.2 sdist (Hutto & Gilbert, "
                   "ICWSM 2014; the set VADER was published with). Mean human rating "
                   "-4..4: > 0 positive, < 0 negative", BINARY, items, notes)


def load_comments(path: Path, limit: int | None) -> EvalSet:
    """The hand-labelled survey comments; malformed lines are errors (fix the file)."""
    items, notes, seen, blank = [], [], set(), 0
    problems = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}: line {lineno}"
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                problems.append(f"{where}: not JSON ({e})")
                continue
            missing = [k for k in ("id", "lang", "text", "sentiment", "topics") if k not in obj]
            if missing:
                problems.append(f"{where}: missing {', '.join(missing)}")
                continue
            if obj["lang"] not in LANGS:
                problems.append(f"{where}: lang {obj['lang']!r} is not zh or en")
            if obj["sentiment"] not in THREE:
                problems.append(f"{where}: sentiment {obj['sentiment']!r}")
            topics: dict = {}
            for t in obj["topics"] if isinstance(obj["topics"], list) else [None]:
                if not isinstance(t, dict) or t.get("topic") not in TOPICS \
                        or t.get("sentiment") not in THREE:
                    problems.append(f"{where}: bad topic entry {t!r}")
                elif t["topic"] in topics:
                    notes.append(f"{where}: topic {t['topic']} listed twice; the first kept.")
                else:
                    topics[t["topic"]] = t["sentiment"]
            if str(obj["id"]) in seen:
                notes.append(f"{where}: id {obj['id']!r} used twice.")
            seen.add(str(obj["id"]))
            if not str(obj["text"]).strip():
                blank += 1              # nothing to classify (SnowNLP even fails on "")
                continue
            items.append(Item(id=str(obj["id"]), text=str(obj["text"]), lang=obj["lang"],
                              gold=obj["sentiment"], topics=topics))
    if problems:
        more = f"\n  ... and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise SetupError("the comments file has errors:\n  " + "\n  ".join(problems[:20]) + more)
    if blank:
        notes.append(f"{blank} comments with an empty text were skipped.")
    items = apply_limit(items, limit, notes)
    return EvalSet("comments", "Hand-labelled survey comments (zh + en, three-class, topics)",
                   f"`{display_path(path)}`", THREE, items, notes)


# ---------------------------------------------------------------------------
# Systems
# ---------------------------------------------------------------------------

def run_cxscore(cmd: list, texts: list, workdir: Path, name: str, cpu: int | None) -> tuple:
    """Run `cmd text analyze FILE ...` on the texts; returns (outputs, seconds).

    Each output is validated: lang, sentiment, score in -1..1, topics list."""
    path = workdir / f"{name}.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
    argv = cmd + ["text", "analyze", str(path), "--column", "text", "--format", "json",
                  "--threads", "1"]
    if cpu is not None and shutil.which("taskset"):
        argv = ["taskset", "-c", str(cpu)] + argv
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RunError(f"cxscore exited with status {proc.returncode} on {name}:\n  "
                       + shlex.join(argv) + "\n" + proc.stderr.decode(errors="replace")[-3000:])
    lines = [l for l in proc.stdout.decode("utf-8", errors="replace").splitlines() if l.strip()]
    if len(lines) != len(texts):
        raise RunError(f"cxscore printed {len(lines)} lines for {len(texts)} texts on {name}:\n  "
                       + shlex.join(argv))
    outputs = []
    for i, line in enumerate(lines, start=1):
        try:
            o = json.loads(line)
            ok = (o.get("lang") in ("zh", "en", "mixed", "und")
                  and o.get("sentiment") in THREE
                  and isinstance(o.get("score"), (int, float)) and -1 <= o["score"] <= 1
                  and isinstance(o.get("topics"), list)
                  and all(isinstance(t, dict) and isinstance(t.get("topic"), str)
                          and t.get("sentiment") in THREE for t in o["topics"]))
        except (json.JSONDecodeError, AttributeError):
            ok = False
        if not ok:
            raise RunError(f"cxscore output line {i} on {name} is not a valid result: {line[:300]}")
        outputs.append(o)
    return outputs, seconds


def cxscore_version(cmd: list) -> str:
    try:
        p = subprocess.run(cmd + ["--version"], capture_output=True, text=True, timeout=30)
        return p.stdout.strip().splitlines()[0] if p.returncode == 0 and p.stdout.strip() else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def score_snownlp(texts: list) -> tuple:
    """SnowNLP probabilities positive; (scores, seconds of the scoring loop only)."""
    from snownlp import SnowNLP   # loads the segmenter and the sentiment model
    SnowNLP("好").sentiments       # warm-up outside the timing
    t0 = time.perf_counter()
    scores = [SnowNLP(t).sentiments for t in texts]
    return scores, time.perf_counter() - t0


def score_vader(texts: list) -> tuple:
    """VADER compound scores; (scores, seconds of the scoring loop only)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    analyzer = SentimentIntensityAnalyzer()   # loads the lexicon
    analyzer.polarity_scores("good")
    t0 = time.perf_counter()
    scores = [analyzer.polarity_scores(t)["compound"] for t in texts]
    return scores, time.perf_counter() - t0


def snow_class(p: float, labels: tuple) -> str:
    if labels == BINARY:
        return "positive" if p >= SNOW_BINARY else "negative"
    return "negative" if p < SNOW_NEG else "positive" if p > SNOW_POS else "neutral"


def vader_class(c: float, labels: tuple) -> str:
    if labels == BINARY:
        return "positive" if c >= VADER_BINARY else "negative"
    return "positive" if c >= VADER_POS else "negative" if c <= VADER_NEG else "neutral"


def cx_class(o: dict, labels: tuple) -> str:
    if labels == BINARY and o["sentiment"] == "neutral":
        return "positive" if o["score"] >= 0 else "negative"
    return o["sentiment"]


# ---------------------------------------------------------------------------
# Metrics (standard library only)
# ---------------------------------------------------------------------------

def wilson(k: int, n: int) -> tuple:
    """95 % Wilson score interval for k successes out of n."""
    if n == 0:
        return (math.nan, math.nan)
    p, z2 = k / n, Z975 * Z975
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z975 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def classification(gold: list, pred: list, labels: tuple) -> dict:
    """n, accuracy (+ Wilson CI), macro-F1, per-class P/R/F1 and the confusion matrix.

    Macro-F1 averages over the classes present in gold or predictions."""
    n = len(gold)
    confusion = {g: {p: 0 for p in labels} for g in labels}
    for g, p in zip(gold, pred):
        confusion[g][p] += 1
    correct = sum(confusion[c][c] for c in labels)
    per_class, f1s = {}, []
    for c in labels:
        tp = confusion[c][c]
        support = sum(confusion[c].values())
        predicted = sum(confusion[g][c] for g in labels)
        prec = tp / predicted if predicted else 0.0
        rec = tp / support if support else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_class[c] = {"support": support, "predicted": predicted,
                        "precision": prec, "recall": rec, "f1": f1}
        if support or predicted:
            f1s.append(f1)
    return {"n": n, "correct": correct,
            "accuracy": correct / n if n else math.nan,
            "accuracy_ci95": wilson(correct, n),
            "macro_f1": sum(f1s) / len(f1s) if f1s else math.nan,
            "per_class": per_class, "confusion": confusion}


def majority_baseline(gold: list, labels: tuple) -> tuple:
    """(majority class, its metrics when predicted for every text)."""
    counts = collections.Counter(gold)
    top = max(labels, key=lambda c: (counts[c], -labels.index(c)))
    return top, classification(gold, [top] * len(gold), labels)


def topic_metrics(items: list, outputs: list) -> dict:
    """cxscore topic detection against the gold topics (see the module docstring)."""
    per = {t: {"support": 0, "predicted": 0, "correct": 0, "sent_ok": 0} for t in TOPICS}
    unknown = collections.Counter()
    duplicates = 0
    for item, out in zip(items, outputs):
        predicted: dict = {}
        for t in out["topics"]:
            if t["topic"] in predicted:
                duplicates += 1         # the first mention counts
            else:
                predicted[t["topic"]] = t["sentiment"]
        for topic in item.topics:
            per[topic]["support"] += 1
        for topic, sent in predicted.items():
            if topic not in per:
                unknown[topic] += 1     # not a known topic: a false positive
                continue
            per[topic]["predicted"] += 1
            if topic in item.topics:
                per[topic]["correct"] += 1
                per[topic]["sent_ok"] += sent == item.topics[topic]
    tot = {k: sum(v[k] for v in per.values()) for k in ("support", "predicted", "correct", "sent_ok")}
    tot["predicted"] += sum(unknown.values())
    for row in list(per.values()) + [tot]:
        row["precision"] = row["correct"] / row["predicted"] if row["predicted"] else math.nan
        row["recall"] = row["correct"] / row["support"] if row["support"] else math.nan
        # 2PR/(P+R) written so that it is defined (0) when nothing was predicted.
        denom = row["predicted"] + row["support"]
        row["f1"] = 2 * row["correct"] / denom if denom else math.nan
        row["aspect_sentiment_accuracy"] = row["sent_ok"] / row["correct"] if row["correct"] else math.nan
    return {"micro": tot, "per_topic": per, "unknown_topics": dict(unknown),
            "duplicate_mentions": duplicates}


# ---------------------------------------------------------------------------
# Evaluating one set
# ---------------------------------------------------------------------------

def peer_for(lang: str) -> str:
    return "snownlp" if lang == "zh" else "vader"


PEER_NAME = {"snownlp": "SnowNLP 0.12.3", "vader": "VADER 3.3.2"}


def evaluate_set(es: EvalSet, systems: tuple, cx_cmd: list | None, workdir: Path,
                 cpu: int | None) -> dict:
    """Run the systems on one set; returns the set's result (rows, confusions, topics)."""
    items, labels = es.items, es.labels
    gold = [it.gold for it in items]
    result = {"name": es.name, "title": es.title, "source": es.source, "labels": list(labels),
              "notes": list(es.notes), "gold_counts": dict(collections.Counter(gold)),
              "scopes": {}, "speed": {}, "predictions": [{} for _ in items]}
    for rec, it in zip(result["predictions"], items):
        rec.update({"id": it.id, "lang": it.lang, "text": it.text, "gold": it.gold})
        if es.name == "comments":
            rec["gold_topics"] = it.topics

    # Scopes: binary sets have one language; comments are scored overall and per language.
    scopes = {"all": list(range(len(items)))}
    if es.name == "comments":
        for lang in LANGS:
            scopes[lang] = [i for i, it in enumerate(items) if it.lang == lang]

    preds: dict = {}          # system -> list of class labels (None where not run)
    if "cxscore" in systems and cx_cmd is not None:
        log(f"[{es.name}] cxscore on {len(items):,} texts ...")
        outputs, secs = run_cxscore(cx_cmd, [it.text for it in items], workdir, es.name, cpu)
        preds["cxscore"] = [cx_class(o, labels) for o in outputs]
        for rec, o in zip(result["predictions"], outputs):
            rec["cxscore"] = o
        result["speed"]["cxscore"] = {"n": len(items), "seconds": secs}
        result["cx_neutral_share"] = (sum(o["sentiment"] == "neutral" for o in outputs) / len(items)
                                      if items else math.nan)
        result["cx_lang"] = dict(collections.Counter(o["lang"] for o in outputs))
        if es.name == "comments":
            result["topics"] = {"all": topic_metrics(items, outputs)}
            for lang in LANGS:
                idx = scopes[lang]
                result["topics"][lang] = topic_metrics([items[i] for i in idx],
                                                       [outputs[i] for i in idx])

    for peer in ("snownlp", "vader"):
        if peer not in systems:
            continue
        idx = [i for i, it in enumerate(items) if peer_for(it.lang) == peer]
        if not idx:
            continue
        log(f"[{es.name}] {PEER_NAME[peer]} on {len(idx):,} texts ...")
        scorer, decide = (score_snownlp, snow_class) if peer == "snownlp" else (score_vader, vader_class)
        scores, secs = scorer([items[i].text for i in idx])
        preds[peer] = [None] * len(items)
        for i, s in zip(idx, scores):
            preds[peer][i] = decide(s, labels)
            result["predictions"][i][peer] = {"score": s, "class": preds[peer][i]}
        result["speed"][peer] = {"n": len(idx), "seconds": secs}

    # Rows per scope: majority baseline, cxscore, the scope's peer(s).
    for scope, idx in scopes.items():
        if not idx:
            continue
        g = [gold[i] for i in idx]
        top, base = majority_baseline(g, labels)
        rows = [{"system": f"majority class ({top})", "key": "majority", "metrics": base}]
        if "cxscore" in preds:
            rows.append({"system": "cxscore", "key": "cxscore",
                         "metrics": classification(g, [preds["cxscore"][i] for i in idx], labels)})
        peers = [p for p in ("snownlp", "vader") if p in preds
                 and all(preds[p][i] is not None for i in idx)]
        for p in peers:
            rows.append({"system": PEER_NAME[p], "key": p,
                         "metrics": classification(g, [preds[p][i] for i in idx], labels)})
        if scope == "all" and not peers:
            # Mixed-language scope: each text scored by its language's peer.
            both = [p for p in ("snownlp", "vader") if p in preds]
            if both and all(any(preds[p][i] is not None for p in both) for i in idx):
                combined = [next(preds[p][i] for p in both if preds[p][i] is not None) for i in idx]
                rows.append({"system": " + ".join(f"{PEER_NAME[p]} ({'zh' if p == 'snownlp' else 'en'})"
                                                  for p in both),
                             "key": "+".join(both),
                             "metrics": classification(g, combined, labels)})
        result["scopes"][scope] = {"n": len(idx), "gold_counts": dict(collections.Counter(g)),
                                   "rows": rows}
    return result


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

def pct(x: float, digits: int = 1) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.{digits}f}%"


def num3(x: float) -> str:
    return "—" if x is None or math.isnan(x) else f"{x:.3f}"


def rate(speed: dict | None) -> str:
    if not speed or speed["seconds"] <= 0:
        return "—"
    r = speed["n"] / speed["seconds"]
    return f"{r:,.0f}" if r >= 100 else f"{r:,.1f}"


def speed_for(result: dict, key: str, scope: str) -> dict | None:
    """Throughput belongs to a whole timed run: shown on the scope that run covered."""
    sp = result["speed"]
    if key == "cxscore":
        return sp.get("cxscore") if scope == "all" else None
    if key in sp:
        return sp[key]
    if "+" in key:
        parts = [sp[k] for k in key.split("+") if k in sp]
        return {"n": sum(p["n"] for p in parts), "seconds": sum(p["seconds"] for p in parts)}
    return None


def confusion_table(m: dict, labels: tuple) -> list:
    head = "| gold \\ predicted | " + " | ".join(labels) + " | total |"
    lines = [head, "|---|" + "---:|" * (len(labels) + 1)]
    for g in labels:
        row = m["confusion"][g]
        lines.append(f"| **{g}** | " + " | ".join(f"{row[p]:,}" for p in labels)
                     + f" | {sum(row.values()):,} |")
    return lines


def counts_line(counts: dict, labels: tuple) -> str:
    n = sum(counts.values())
    return ", ".join(f"{c} {counts.get(c, 0):,} ({pct(counts.get(c, 0) / n if n else math.nan)})"
                     for c in labels)


def render_set(result: dict) -> list:
    labels = tuple(result["labels"])
    out = [f"## {result['title']}", "", f"Source: {result['source']}.", ""]
    for note in result["notes"]:
        out.append(f"- {note}")
    if result["notes"]:
        out.append("")
    if "cx_lang" in result:
        out.append("cxscore's detected language: "
                   + ", ".join(f"{k} {v:,}" for k, v in sorted(result["cx_lang"].items())) + ".")
        if labels == BINARY:
            out.append(f"cxscore called {pct(result['cx_neutral_share'])} of the texts neutral "
                       "(counted as positive when score ≥ 0, else negative).")
        out.append("")
    for scope, sc in result["scopes"].items():
        if len(result["scopes"]) > 1:
            out += [f"### Sentiment, {'all comments' if scope == 'all' else scope + ' comments'}", ""]
        out.append(f"n = {sc['n']:,}; gold: {counts_line(sc['gold_counts'], labels)}.")
        if len([c for c in labels if sc["gold_counts"].get(c)]) < 2:
            out.append("**Only one gold class in this selection: accuracy here says little** "
                       "(waimai_10k.csv is sorted by label, so `--limit` takes positives only).")
        out += ["", "| system | n | accuracy (95% CI) | macro-F1 | texts/s (1 core) |",
                "|---|---:|---:|---:|---:|"]
        for row in sc["rows"]:
            m = row["metrics"]
            lo, hi = m["accuracy_ci95"]
            speed = "—" if row["key"] == "majority" else rate(speed_for(result, row["key"], scope))
            out.append(f"| {row['system']} | {m['n']:,} | {pct(m['accuracy'])} "
                       f"({pct(lo)}–{pct(hi)}) | {num3(m['macro_f1'])} | {speed} |")
        out.append("")
        for row in sc["rows"]:
            if row["key"] == "majority":
                continue
            out += [f"Confusion, {row['system']} (rows gold, columns predicted):", ""]
            out += confusion_table(row["metrics"], labels) + [""]
    if "topics" in result:
        out += render_topics(result["topics"])
    return out


def render_topics(topics: dict) -> list:
    out = ["### Topics (cxscore)", "",
           "A predicted topic is correct when it is in the comment's gold list. Precision = "
           "correct / predicted, recall = correct / gold, micro-averaged over comments; "
           "aspect-sentiment accuracy is over the correctly detected topics.", "",
           "| comments | gold topics | predicted | correct | precision | recall | F1 "
           "| aspect-sentiment accuracy |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for scope, tm in topics.items():
        m = tm["micro"]
        out.append(f"| {scope} | {m['support']:,} | {m['predicted']:,} | {m['correct']:,} | "
                   f"{pct(m['precision'])} | {pct(m['recall'])} | {num3(m['f1'])} | "
                   f"{pct(m['aspect_sentiment_accuracy'])} ({m['sent_ok']}/{m['correct']}) |")
    allt = topics["all"]
    out += ["", "Per topic, all comments:", "",
            "| topic | support | predicted | correct | precision | recall | F1 "
            "| aspect-sentiment accuracy |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for t in TOPICS:
        r = allt["per_topic"][t]
        out.append(f"| {t} | {r['support']:,} | {r['predicted']:,} | {r['correct']:,} | "
                   f"{pct(r['precision'])} | {pct(r['recall'])} | {num3(r['f1'])} | "
                   f"{pct(r['aspect_sentiment_accuracy'])} |")
    if allt["unknown_topics"]:
        out.append("")
        out.append("Predicted topics outside the topic list (counted as wrong): "
                   + ", ".join(f"`{k}` {v}" for k, v in sorted(allt["unknown_topics"].items())) + ".")
    if allt["duplicate_mentions"]:
        out.append(f"{allt['duplicate_mentions']} repeated topic mentions within a comment "
                   "(only the first counted).")
    out.append("")
    return out


def render_summary(results: list) -> list:
    out = ["## Summary", "",
           "| set | system | n | accuracy | macro-F1 | texts/s (1 core) |",
           "|---|---|---:|---:|---:|---:|"]
    for r in results:
        for scope, sc in r["scopes"].items():
            label = r["name"] if scope == "all" else f"{r['name']} ({scope})"
            for row in sc["rows"]:
                m = row["metrics"]
                speed = "—" if row["key"] == "majority" else rate(speed_for(r, row["key"], scope))
                out.append(f"| {label} | {row['system']} | {m['n']:,} | {pct(m['accuracy'])} | "
                           f"{num3(m['macro_f1'])} | {speed} |")
        if "topics" in r:
            m = r["topics"]["all"]["micro"]
            out.append(f"| {r['name']} topics | cxscore | {m['support']:,} gold | "
                       f"P {pct(m['precision'])} / R {pct(m['recall'])} | F1 {num3(m['f1'])} | |")
    return out + [""]


def render_method(ctx: dict) -> list:
    cx = ctx["cx_display"]
    lines = ["## Method", "",
             f"- cxscore: `{cx} text analyze FILE --column text --format json --threads 1`"
             + (f" under `taskset -c {ctx['cpu']}`" if ctx["taskset"] else "")
             + "; each set is written to a temporary JSONL file (field `text`) and the whole "
             "process is timed, start-up and model load included"
             + (f" (a 1-text run took {ctx['cx_startup']:.3f} s)" if ctx.get("cx_startup") is not None
                else "") + ".",
             "- cxscore on the binary sets: a text called neutral counts as positive when "
             "score ≥ 0, else negative.",
             f"- SnowNLP 0.12.3, `SnowNLP(text).sentiments` = p(positive), Chinese texts only. "
             f"Binary: p ≥ {SNOW_BINARY} positive. Three-class: p < {SNOW_NEG} negative, "
             f"p > {SNOW_POS} positive, else neutral.",
             f"- VADER 3.3.2, `polarity_scores(text)['compound']`, English texts only. "
             f"Binary: compound ≥ {VADER_BINARY:g} positive. Three-class (VADER's standard): "
             f"≥ {VADER_POS} positive, ≤ {VADER_NEG} negative, else neutral.",
             "- Peers run in-process, models loaded before timing, only the scoring loop timed, "
             f"pinned to CPU {ctx['cpu']}, OMP/MKL/OpenBLAS threads = 1.",
             "- Macro-F1 averages per-class F1 over the classes in the gold labels or the "
             "predictions. Accuracy intervals: 95 % Wilson.",
             ""]
    return lines


def render_report(results: list, skipped: list, ctx: dict) -> str:
    out = ["# cxscore text analytics: evaluation", "",
           f"{ctx['when']} · commit `{ctx['commit']}` · {ctx['machine']} · "
           f"load average {ctx['load']} at start", "",
           f"cxscore: `{ctx['cx_display']}` ({ctx['cx_version']}) · SnowNLP "
           f"{ctx['versions'].get('snownlp', '?')} · vaderSentiment "
           f"{ctx['versions'].get('vaderSentiment', '?')} · Python {platform.python_version()}",
           "", "Command: `" + ctx["argv"] + "`", ""]
    for s in skipped:
        out.append(f"- {s}")
    if skipped:
        out.append("")
    out += render_summary(results) + render_method(ctx)
    for r in results:
        out += render_set(r)
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------------------
# Helpers and main
# ---------------------------------------------------------------------------

def jsonable(x):
    """NaN -> None and tuples -> lists, so evaluation.json is strict JSON."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    return x


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def display_path(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=30).stdout.strip()
        return (head or "?") + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs"


def pick_cpu() -> int | None:
    """Pin this process (and so its children) to one CPU: CPU 0 when allowed."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    cpu = 0 if 0 in allowed else allowed[0]
    os.sched_setaffinity(0, {cpu})
    return cpu


def parse_args(argv: list) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default=",".join(ALL_SETS),
                    help="comma-separated: waimai,amazon,comments (default: all)")
    ap.add_argument("--systems", default=",".join(ALL_SYSTEMS),
                    help="comma-separated: cxscore,snownlp,vader (default: all)")
    ap.add_argument("--limit", type=int, help="only the first N texts of each set")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared",
                    help="shared data folder (default: <repo>/../shared)")
    ap.add_argument("--comments", type=Path, help=f"hand-labelled comments (default: {DEFAULT_COMMENTS})")
    ap.add_argument("--cxscore", type=Path, default=DEFAULT_CXSCORE, help="the cxscore binary")
    ap.add_argument("--cxscore-cmd", help="command line to run instead of the binary "
                                          "(e.g. 'python3 train/fake_analyzer.py')")
    ap.add_argument("--out", type=Path, default=RESULTS / "evaluation.md", help="report file")
    args = ap.parse_args(argv)
    args.sets = tuple(s for s in args.sets.split(",") if s)
    args.systems = tuple(s for s in args.systems.split(",") if s)
    for what, chosen, allowed in (("--sets", args.sets, ALL_SETS), ("--systems", args.systems, ALL_SYSTEMS)):
        bad = [c for c in chosen if c not in allowed]
        if bad or not chosen:
            ap.error(f"{what}: unknown or empty {bad}; choose from {','.join(allowed)}")
    if args.limit is not None and args.limit < 1:
        ap.error("--limit must be at least 1")
    return args


def main(argv: list) -> int:
    args = parse_args(argv)
    ensure_venv()
    load = "%.2f" % os.getloadavg()[0] if hasattr(os, "getloadavg") else "?"
    cpu = pick_cpu()

    # The system under test.
    cx_cmd = None
    cx_display = "—"
    if "cxscore" in args.systems:
        if args.cxscore_cmd:
            cx_cmd = shlex.split(args.cxscore_cmd)
            cx_display = args.cxscore_cmd
        else:
            binary = args.cxscore.resolve()
            if not binary.exists():
                raise SetupError(f"cxscore binary not found at {binary}: build it with "
                                 "`cargo build --release` (or pass --cxscore PATH, "
                                 "--cxscore-cmd CMD, or --systems snownlp,vader)")
            cx_cmd = [str(binary)]
            cx_display = display_path(binary)

    # Load (and validate) every set before running anything.
    sets, skipped = [], []
    if "waimai" in args.sets:
        sets.append(load_waimai(args.shared, args.limit))
    if "amazon" in args.sets:
        sets.append(load_amazon(args.limit))
    if "comments" in args.sets:
        path = args.comments or DEFAULT_COMMENTS
        if path.exists():
            sets.append(load_comments(path, args.limit))
        elif args.comments:
            raise SetupError(f"--comments {path}: file not found")
        else:
            skipped.append(f"Comments section skipped: `{display_path(path)}` does not exist yet.")
    if not sets:
        raise SetupError("nothing to evaluate" + "".join(f"\n  {s}" for s in skipped))

    versions = {}
    for pkg in ("snownlp", "vaderSentiment"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    ctx = {"when": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
           "commit": git_commit(), "machine": machine(), "load": load, "cpu": cpu,
           "taskset": cpu is not None and shutil.which("taskset") is not None,
           "cx_display": cx_display, "versions": versions,
           "cx_version": cxscore_version(cx_cmd) if cx_cmd else "not run",
           "argv": shlex.join(["python3", "train/evaluate.py"] + argv)}

    results = []
    with tempfile.TemporaryDirectory(prefix="cxeval-") as tmp:
        workdir = Path(tmp)
        if cx_cmd:
            # Warm-up run on one text (page cache); its time shows cxscore's fixed cost.
            _, ctx["cx_startup"] = run_cxscore(cx_cmd, [sets[0].items[0].text], workdir, "warmup", cpu)
        for es in sets:
            results.append(evaluate_set(es, args.systems, cx_cmd, workdir, cpu))

    report = render_report(results, skipped, ctx)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    (args.out.parent / "evaluation.json").write_text(
        json.dumps(jsonable({"context": ctx, "skipped": skipped,
                             "sets": [{k: v for k, v in r.items() if k != "predictions"}
                                      for r in results]}),
                   ensure_ascii=False, indent=1, allow_nan=False), encoding="utf-8")
    pred_dir = args.out.parent / "predictions"
    pred_dir.mkdir(exist_ok=True)
    for r in results:
        with (pred_dir / f"{r['name']}.jsonl").open("w", encoding="utf-8") as f:
            for rec in r["predictions"]:
                f.write(json.dumps(jsonable(rec), ensure_ascii=False) + "\n")
    print(report, end="")
    log(f"report written to {display_path(args.out)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except SetupError as e:
        log(f"evaluate.py: {e}")
        sys.exit(2)
    except RunError as e:
        log(f"evaluate.py: {e}")
        sys.exit(1)
