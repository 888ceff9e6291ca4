#!/bin/sh
# render_check.sh - renders the report's HTML page to a PNG in headless Chromium, to look
# at it (the page loads nothing from the network: everything is inline).
#   compare/cmd/benchreport/render_check.sh [report.html [out.png]]
# Without a page it makes one with a short run of the report. Needs chromium
# (apt-get install -y chromium).
set -eu
html=${1:-}
png=${2:-report.png}
if [ -z "$html" ]; then
    html=$(mktemp --suffix=.html)
    go run ./compare/cmd/benchreport -duration 1s -html "$html" > /dev/null
fi
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
    echo "chromium not found: apt-get install -y chromium" >&2
    exit 1
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --screenshot="$png" --window-size=1400,3000 \
    "file://$(realpath "$html")" 2>/dev/null
echo "wrote $png from $html"
