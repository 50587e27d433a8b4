#!/usr/bin/env bash
# web-build.sh: installs the operator console's map and chart libraries from npm at the
# versions pinned in web/console/package-lock.json (npm ci) and copies their built, minified
# files into internal/web/console/static/vendor, which is committed: `go build` needs no npm.
# Run it after changing web/console/package.json (then `npm install --package-lock-only` there
# first) and commit the result; TestVendorMatchesLock checks the copies against the lock, and
# TestWebBuildReproduces runs this script into a temporary directory (its one argument, an
# absolute path; default the committed vendor directory) and compares what it copies with the
# committed files.
set -euo pipefail
cd "$(dirname "$0")/../web/console"
out=${1:-../../internal/web/console/static/vendor}
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
rm -rf "$out" && mkdir -p "$out/images"
cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css "$out/"
cp node_modules/leaflet/dist/images/*.png "$out/images/"
cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css "$out/"
cp node_modules/leaflet/LICENSE "$out/LICENSE.leaflet"
cp node_modules/uplot/LICENSE "$out/LICENSE.uplot"
# the versions copied, read back by the test against package-lock.json
node -e 'const l=require("./package-lock.json").packages;console.log(JSON.stringify({leaflet:l["node_modules/leaflet"].version,uplot:l["node_modules/uplot"].version}))' > "$out/versions.json"
rm -rf node_modules
echo "copied into $out:" && ls -l "$out"
