#!/usr/bin/env python3
"""Side by side with dlib, the reference implementation of the same networks.

One image goes through dlib's CNN face detector, 5-point shape predictor and ResNet
(Python API from PyPI `dlib-bin`, with the original `.dat` models of PyPI
`face_recognition_models==0.3.0`) and through `matcher bench-embed` / `matcher embed`.
Prints both median times for detect + landmarks + align + embed, their ratio, and the
cosine between the two embeddings of the same face.

Usage: compare_with_dlib.py MATCHER_BIN DAT_DIR IMAGE [RUNS]
Both run in this one invocation, one after the other, on the same machine.
"""
import json
import statistics
import subprocess
import sys
import time

import dlib
import numpy as np

matcher, dat, image = sys.argv[1], sys.argv[2], sys.argv[3]
runs = int(sys.argv[4]) if len(sys.argv) > 4 else 5

detector = dlib.cnn_face_detection_model_v1(f"{dat}/mmod_human_face_detector.dat")
predictor = dlib.shape_predictor(f"{dat}/shape_predictor_5_face_landmarks.dat")
resnet = dlib.face_recognition_model_v1(f"{dat}/dlib_face_recognition_resnet_model_v1.dat")
img = dlib.load_rgb_image(image)

detect_ms, total_ms, descriptor = [], [], None
for _ in range(runs):
    t0 = time.perf_counter()
    faces = detector(img, 0)
    t1 = time.perf_counter()
    shape = predictor(img, faces[0].rect)
    descriptor = np.array(resnet.compute_face_descriptor(img, shape))
    t2 = time.perf_counter()
    detect_ms.append((t1 - t0) * 1e3)
    total_ms.append((t2 - t0) * 1e3)

ours = json.loads(subprocess.check_output([matcher, "bench-embed", image, "--runs", str(runs)]))
embedding = np.array(json.loads(subprocess.check_output([matcher, "embed", image]))["embedding"])
cosine = float(descriptor @ embedding / np.linalg.norm(descriptor) / np.linalg.norm(embedding))

dlib_total = statistics.median(total_ms)
ours_total = ours["detect_landmarks_align_embed_ms_median"]
result = {
    "image": image,
    "runs": runs,
    "dlib_version": dlib.__version__,
    "dlib_detect_ms_median": round(statistics.median(detect_ms), 1),
    "dlib_total_ms_median": round(dlib_total, 1),
    "matcher_detect_ms_median": round(ours["detect_ms_median"], 1),
    "matcher_total_ms_median": round(ours_total, 1),
    "matcher_over_dlib_time": round(ours_total / dlib_total, 2),
    "embedding_cosine": round(cosine, 7),
}
print(json.dumps(result, indent=2))
