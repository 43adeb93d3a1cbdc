#!/usr/bin/env bash
# Fetch GOV.UK Frontend from npm and build static/build/app.css and static/govuk/. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f node_modules/govuk-frontend/package.json ] || [ package.json -nt node_modules/.installed ]; then
  npm install --no-audit --no-fund --loglevel=error
  touch node_modules/.installed
fi
mkdir -p static/build static/govuk
if [ ! -f static/build/app.css ] || [ static/css/app.scss -nt static/build/app.css ]; then
  npx --no-install sass --no-source-map --style=compressed --quiet-deps --load-path=node_modules \
    static/css/app.scss static/build/app.css
fi
rsync -a --delete node_modules/govuk-frontend/dist/govuk/assets/ static/govuk/assets/ 2>/dev/null \
  || { rm -rf static/govuk/assets; cp -r node_modules/govuk-frontend/dist/govuk/assets static/govuk/assets; }
cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js static/govuk/
# Content-hashed copies, gzip + Brotli beside them, static/build/manifest.json (issue 18).
.venv/bin/python scripts/hash_assets.py
