#!/usr/bin/env bash
# Install what the browser and deployment tests need when it is missing: Debian's Chromium
# (Playwright cannot download its own browser here), the Noto fonts of the languages offered,
# nginx with its brotli module and Caddy (tests/deploy runs the files of deploy/ with them) and
# systemd-analyze (it checks the units). Needs root, as on the CI and developer machines.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
# The site of deploy/nginx sends the static files' brotli copies (brotli_static).
[ -e /usr/lib/nginx/modules/ngx_http_brotli_static_module.so ] || missing+=(libnginx-mod-http-brotli-static)
command -v caddy >/dev/null || missing+=(caddy)
command -v systemd-analyze >/dev/null || missing+=(systemd)
# Fonts for Chinese, Japanese, Korean, Thai and Arabic, so the browser tests and the screenshots
# render them (the style sheet names these families; no page ever loads a web font).
[ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing+=(fonts-noto-cjk)
[ -e /usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf ] || missing+=(fonts-noto-core)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Please install: ${missing[*]} (e.g. sudo apt-get install -y ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
