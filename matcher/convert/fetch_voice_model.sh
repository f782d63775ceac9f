#!/bin/sh
# Fetches Resemblyzer 0.1.4 from PyPI and converts its encoder to
# matcher/models/resemblyzer_ge2e.safetensors (5.7 MB, Apache-2.0), reproducing the committed
# file: the result must match the sha256 in models/manifest.json.
# Needs python3 (a virtualenv with numpy is made in CACHE if numpy is missing). CACHE
# defaults to a temporary directory.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${CACHE:-$(mktemp -d)}
py=python3
if ! $py -c "import numpy" 2>/dev/null; then
    python3 -m venv "$cache/venv"
    "$cache/venv/bin/pip" install -q numpy
    py="$cache/venv/bin/python"
fi
python3 -m pip download -q --no-deps resemblyzer==0.1.4 -d "$cache"
python3 -c "import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extract('resemblyzer/pretrained.pt', sys.argv[2])" \
    "$cache"/Resemblyzer-0.1.4-py3-none-any.whl "$cache"
$py "$here/resemblyzer_to_safetensors.py" "$cache/resemblyzer/pretrained.pt" \
    "$here/../models/resemblyzer_ge2e.safetensors" 2>/dev/null
want=$(python3 -c "import json,sys; print([m['sha256'] for m in json.load(open(sys.argv[1]))['models'] if m['file']=='resemblyzer_ge2e.safetensors'][0])" "$here/../models/manifest.json")
got=$(sha256sum "$here/../models/resemblyzer_ge2e.safetensors" | cut -d' ' -f1)
[ "$want" = "$got" ] || { echo "sha256 mismatch: $got != $want" >&2; exit 1; }
echo "models/resemblyzer_ge2e.safetensors ok"
