#!/usr/bin/env bash
# Copy the front-end files the app serves from node_modules into static/vendor/.
# They are dependencies pinned in package.json, never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p static/vendor
cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
