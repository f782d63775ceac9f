#!/usr/bin/env python3
"""Lay out the voice evaluation set, one folder per speaker (stdlib only).

  prepare_voice_eval.py PYANNOTE_SAMPLE_DIR OUT_DIR
PYANNOTE_SAMPLE_DIR is pyannote/audio/sample from the PyPI pyannote.audio 4.0.7 wheel
(sample.wav + sample.rttm, MIT). The LibriVox reader comes from Debian's
pocketsphinx-testdata (/usr/share/pocketsphinx/test/data/librivox, public domain).
The pyannote sample is cut into single-speaker stretches of at least 1.5 s that overlap no
other speaker's turn, according to its RTTM.
"""
import glob
import os
import shutil
import sys
import wave

src, out = sys.argv[1:3]
turns = []
for line in open(os.path.join(src, "sample.rttm")):
    f = line.split()
    turns.append((float(f[3]), float(f[3]) + float(f[4]), f[7]))

w = wave.open(os.path.join(src, "sample.wav"))
rate, width, data = w.getframerate(), w.getsampwidth(), w.readframes(w.getnframes())
step = 0.01
for start, end, spk in turns:
    # Keep the parts of this turn where nobody else speaks.
    t, pieces, cur = start, [], None
    while t < end:
        alone = not any(s <= t < e for s, e, o in turns if o != spk)
        if alone and cur is None:
            cur = t
        if not alone and cur is not None:
            pieces.append((cur, t))
            cur = None
        t += step
    if cur is not None:
        pieces.append((cur, end))
    for a, b in pieces:
        # Split long stretches into parts of about 3 s, each at least 1.5 s.
        n = max(1, int((b - a) // 3))
        for k in range(n):
            pa, pb = a + (b - a) * k / n, a + (b - a) * (k + 1) / n
            if pb - pa < 1.5:
                continue
            d = os.path.join(out, spk)
            os.makedirs(d, exist_ok=True)
            o = wave.open(os.path.join(d, f"{spk}_{pa:06.2f}.wav"), "wb")
            o.setnchannels(1)
            o.setsampwidth(width)
            o.setframerate(rate)
            o.writeframes(data[int(pa * rate) * width:int(pb * rate) * width])
            o.close()

d = os.path.join(out, "librivox")
os.makedirs(d, exist_ok=True)
for f in sorted(glob.glob("/usr/share/pocketsphinx/test/data/librivox/*.wav")):
    shutil.copy(f, d)
