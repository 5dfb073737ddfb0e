#!/usr/bin/env bash
# Writes docs/report-sample.png: the HTML report of the bundled sample log
# (events/agent-log.txt) as Chromium shows it, through the same pinned
# playwright-core as the browser tests (scripts/test installs it into
# target/ci-tools/). Regenerate after changing the page; never edit by hand.
set -euo pipefail
cd "$(dirname "$0")/.."

PLAYWRIGHT_VERSION=$(node -p "require('./tests/browser/package.json').dependencies['playwright-core']")
BROWSER_TOOLS=$PWD/target/ci-tools/playwright-core-$PLAYWRIGHT_VERSION
if [ ! -f "$BROWSER_TOOLS/node_modules/playwright-core/package.json" ]; then
  rm -rf "$BROWSER_TOOLS" && mkdir -p "$BROWSER_TOOLS"
  cp tests/browser/package.json tests/browser/package-lock.json "$BROWSER_TOOLS/"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$BROWSER_TOOLS" --no-audit --no-fund --loglevel=error
fi
export PLAYWRIGHT_CORE_PREFIX=$BROWSER_TOOLS

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo run --quiet --release -- classify --html "$out" events/agent-log.txt >/dev/null
node tests/browser/screenshot.mjs "$out/agent-log.txt.html" docs/report-sample.png
echo "wrote docs/report-sample.png"
