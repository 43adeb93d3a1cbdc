#!/usr/bin/env bash
# Browser tests use Debian's Chromium (Playwright cannot download browsers here) and
# poppler-utils (pdftotext/pdftoppm). Install them when missing and we may; otherwise the
# browser tests skip with a clear reason.
set -euo pipefail
if command -v chromium >/dev/null && command -v pdftotext >/dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium and poppler-utils for the browser tests…"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null
else
  echo "chromium not found and cannot install it (not root / no apt-get): browser tests will skip."
fi
