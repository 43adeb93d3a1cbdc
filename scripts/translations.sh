#!/usr/bin/env bash
# Translations (issue 16): gettext catalogues in translations/<lang>/LC_MESSAGES/messages.po.
#
#   scripts/translations.sh          compile each .po into its .mo (not committed), only when the
#                                    .po is newer; idempotent and fast (make run / make test do it)
#   scripts/translations.sh update   re-extract translations/messages.pot from the code and
#                                    templates (babel.cfg), then merge it into pl and ro: new
#                                    strings arrive untranslated (no fuzzy guesses), strings no
#                                    longer used are dropped; then compile. Translate the empty
#                                    msgstr entries and run tests/community/test_i18n.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL=${PYBABEL:-.venv/bin/pybabel}
LANGS="pl ro"

if [ "${1:-compile}" = "update" ]; then
  "$PYBABEL" -q extract -F babel.cfg -k lazy_gettext -k lazy_ngettext:1,2 --no-wrap --sort-by-file \
    --project="Thriving Communities" --copyright-holder="Derbyshire County Council" \
    --msgid-bugs-address="digital@derbyshire.example" -o translations/messages.pot .
  for lang in $LANGS; do
    "$PYBABEL" -q update -i translations/messages.pot -d translations -l "$lang" \
      --no-fuzzy-matching --ignore-obsolete --no-wrap
  done
elif [ "${1:-compile}" != "compile" ]; then
  echo "usage: scripts/translations.sh [compile|update]" >&2
  exit 2
fi

for lang in $LANGS; do
  po=translations/$lang/LC_MESSAGES/messages.po
  mo=translations/$lang/LC_MESSAGES/messages.mo
  if [ ! -f "$mo" ] || [ "$po" -nt "$mo" ]; then
    "$PYBABEL" -q compile -i "$po" -o "$mo" -l "$lang"
  fi
done
