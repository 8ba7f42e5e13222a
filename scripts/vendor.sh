#!/usr/bin/env bash
# Copy the front-end files the app serves from node_modules into static/vendor/.
# They are dependencies pinned in package.json, never committed.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p static/vendor
cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
# The QR decoder the camera scanner loads where the browser has no BarcodeDetector.
cp node_modules/jsqr/dist/jsQR.js static/vendor/jsQR.js
# Brand icons (webauth/icons.py matches them on the issuer): the SVGs, their data and licence.
rm -rf static/vendor/simple-icons
mkdir -p static/vendor/simple-icons
cp -R node_modules/simple-icons/icons static/vendor/simple-icons/icons
cp node_modules/simple-icons/data/simple-icons.json node_modules/simple-icons/LICENSE.md static/vendor/simple-icons/
# MD5 for mOTP codes in the offline copy (WebCrypto has none): @noble/hashes' legacy module and
# the modules it imports, as ES modules, with the licence.
rm -rf static/vendor/noble-hashes
mkdir -p static/vendor/noble-hashes
cp node_modules/@noble/hashes/{legacy.js,_md.js,_u64.js,utils.js,LICENSE} static/vendor/noble-hashes/
