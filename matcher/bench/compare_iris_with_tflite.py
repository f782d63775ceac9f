#!/usr/bin/env python3
"""Side by side with the TFLite runtime, the reference implementation of the eyelid network.

The two eye crops of a face go through MediaPipe's `iris_landmark.tflite` in the TFLite
runtime (PyPI `ai-edge-litert`, XNNPACK on CPU, 2 threads) and through the candle
re-implementation (`matcher bench-embed`, whose `eye_crops_and_lids_ms_median` covers
cutting both crops and one batched network pass). Prints both medians and their ratio.

Usage: compare_iris_with_tflite.py MATCHER_BIN IRIS_TFLITE FIXTURES_DIR [RUNS]
FIXTURES_DIR is matcher/tests/fixtures (obama.png and its eye crops).
"""
import json
import statistics
import subprocess
import sys
import time

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image

matcher, model, fixtures = sys.argv[1:4]
runs = int(sys.argv[4]) if len(sys.argv) > 4 else 20

interp = Interpreter(model_path=model, num_threads=2)
interp.allocate_tensors()
inp = interp.get_input_details()[0]["index"]
crops = [np.array(Image.open(f"{fixtures}/obama_eye{k}.png")).astype(np.float32)[None] / 255.0 for k in (0, 1)]
tflite_ms = []
for _ in range(runs + 1):
    t = time.perf_counter()
    for c in crops:
        interp.set_tensor(inp, c)
        interp.invoke()
    tflite_ms.append((time.perf_counter() - t) * 1e3)
tflite = statistics.median(tflite_ms[1:])

out = subprocess.run([matcher, "bench-embed", f"{fixtures}/obama.png", "--runs", str(runs)],
                     check=True, capture_output=True, text=True).stdout
ours = json.loads(out)["eye_crops_and_lids_ms_median"]
print(json.dumps({"tflite_two_eyes_ms_median": round(tflite, 3), "matcher_two_eyes_ms_median": round(ours, 3),
                  "matcher_over_tflite": round(ours / tflite, 2)}))
