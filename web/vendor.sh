#!/bin/sh
# Copies the console's one runtime library, uPlot (MIT), from node_modules into vendor/, with its
# licence. vendor/ is committed so that dfly-control serves web/ as it is, with no build step; run
# this (`npm ci && npm run vendor`) only to move to another uPlot version (pinned in package.json).
set -eu
cd "$(dirname "$0")"
mkdir -p vendor/uplot
cp node_modules/uplot/dist/uPlot.esm.js node_modules/uplot/dist/uPlot.min.css vendor/uplot/
cp node_modules/uplot/LICENSE vendor/uplot/LICENSE
echo "vendor: uPlot $(node -p "require('./node_modules/uplot/package.json').version") in vendor/uplot"
