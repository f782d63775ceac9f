#!/usr/bin/env python3
"""Golden values for the voice encoder: Resemblyzer's mel features (librosa) and its network
evaluated in numpy with the weights of pretrained.pt (no torch), on a committed clip.

Run once by hand (never in CI), in a virtualenv with numpy and librosa==0.10.2.post1:
  make_voice_golden.py PRETRAINED_PT CLIP_WAV OUT_JSON
The clip goes through Resemblyzer's volume normalisation but not its WebRTC VAD (the matcher
uses an energy VAD instead), so the fixture checks the features and the network exactly.
"""
import json
import sys

import librosa
import numpy as np

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from resemblyzer_to_safetensors import load  # noqa: E402

pt, clip, out = sys.argv[1:4]
state = {k: v.array() for k, v in load(pt)["model_state"].items()}
wav, sr = librosa.load(clip, sr=None)
assert sr == 16000, sr

int16_max = 2 ** 15 - 1
rms = np.sqrt(np.mean((wav * int16_max) ** 2))
change = -30 - 20 * np.log10(rms / int16_max)
if change > 0:
    wav = wav * (10 ** (change / 20))

# Resemblyzer's compute_partial_slices(rate=1.3, min_coverage=0.75) and embed_utterance.
n = len(wav)
n_frames = int(np.ceil((n + 1) / 160))
step = int(np.round((16000 / 1.3) / 160))
slices = [(i, i + 160) for i in range(0, max(1, n_frames - 160 + step + 1), step)]
cov = (n - slices[-1][0] * 160) / (160 * 160)
if cov < 0.75 and len(slices) > 1:
    slices = slices[:-1]
need = slices[-1][1] * 160
if need >= n:
    wav = np.pad(wav, (0, need - n), "constant")
mel = librosa.feature.melspectrogram(y=wav, sr=16000, n_fft=400, hop_length=160, n_mels=40).astype(np.float32).T


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def encoder(x):  # x: (frames, 40)
    h_seq = x.astype(np.float64)
    for l in range(3):
        wi, wh = state[f"lstm.weight_ih_l{l}"], state[f"lstm.weight_hh_l{l}"]
        b = state[f"lstm.bias_ih_l{l}"] + state[f"lstm.bias_hh_l{l}"]
        h = np.zeros(256)
        c = np.zeros(256)
        outs = []
        for t in range(h_seq.shape[0]):
            z = wi @ h_seq[t] + wh @ h + b
            i, f, g, o = sigmoid(z[:256]), sigmoid(z[256:512]), np.tanh(z[512:768]), sigmoid(z[768:])
            c = f * c + i * g
            h = o * np.tanh(c)
            outs.append(h)
        h_seq = np.array(outs)
    e = np.maximum(state["linear.weight"] @ h_seq[-1] + state["linear.bias"], 0)
    return e / np.linalg.norm(e)


partials = np.array([encoder(mel[a:b]) for a, b in slices])
raw = partials.mean(axis=0)
embed = raw / np.linalg.norm(raw)
json.dump({"generator": "librosa " + librosa.__version__ + " + numpy GE2E", "clip": clip.rsplit("/", 1)[-1],
           "slices": slices, "mel_frame_10": mel[10].tolist(), "mel_frames": int(mel.shape[0]),
           "embedding": embed.tolist()}, open(out, "w"), indent=1)
print("partials", len(slices), file=sys.stderr)
