#!/usr/bin/env bash
# Refreshes the browser chart library the dashboard loads (Apache ECharts,
# Apache-2.0) from the npm registry at a pinned version, and records its
# SHA-256. The file is served by cxscore itself (/app/static/echarts.min.js):
# nothing is fetched from anywhere else at run time.
#
#   bash scripts/vendor-echarts.sh            # the version below
#   bash scripts/vendor-echarts.sh 5.6.0      # another one (update VERSION too)
set -euo pipefail
VERSION="${1:-5.6.0}"
here="$(cd "$(dirname "$0")/.." && pwd)"
out="$here/crates/cx-server/static/vendor"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "echarts@$VERSION" >/dev/null)
tar -xzf "$tmp/echarts-$VERSION.tgz" -C "$tmp"
mkdir -p "$out"
cp "$tmp/package/dist/echarts.min.js" "$out/echarts.min.js"
cp "$tmp/package/LICENSE" "$out/ECHARTS-LICENSE"
cp "$tmp/package/NOTICE" "$out/ECHARTS-NOTICE" 2>/dev/null || true
sum="$(sha256sum "$out/echarts.min.js" | cut -d' ' -f1)"
printf '%s\n' "$VERSION" > "$out/ECHARTS-VERSION"
printf '%s  echarts.min.js\n' "$sum" > "$out/echarts.min.js.sha256"
echo "echarts $VERSION → $out/echarts.min.js (sha256 $sum)"
