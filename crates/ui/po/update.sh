#!/usr/bin/env bash
# Extracts the prompt's sentences into latchkey-ui.pot and merges them into each translation.
# The Rust sources are read as C (their string literals are C's); tr/trf take the msgid first,
# trn the singular and plural.
set -euo pipefail
cd "$(dirname "$0")"
xgettext --language=C --from-code=UTF-8 --keyword=tr --keyword=trf --keyword=trn:1,2 \
    --package-name=latchkey-ui --no-location --sort-output -o latchkey-ui.pot \
    $(find ../src -name '*.rs' | sort)
for po in *.po; do
    msgmerge --quiet --update --backup=none --no-fuzzy-matching "$po" latchkey-ui.pot
done
