#!/usr/bin/env python3
"""Write models/manifest.json: sha256, size, licence and source of each converted file.

Usage: write_manifest.py MODELS_DIR. Files not present are kept from the old manifest.
"""
import hashlib
import json
import os
import sys

FR_MODELS = "PyPI face_recognition_models==0.3.0, face_recognition_models/models/{} (Davis King, dlib-models)"
MODELS = [
    ("dlib_face_recognition_resnet_model_v1.safetensors", FR_MODELS.format("dlib_face_recognition_resnet_model_v1.dat"),
     "CC0-1.0", "convert/dlib_to_safetensors.py", True),
    ("shape_predictor_5_face_landmarks.safetensors", FR_MODELS.format("shape_predictor_5_face_landmarks.dat"),
     "CC0-1.0", "convert/dlib_to_safetensors.py", True),
    ("mmod_human_face_detector.safetensors", FR_MODELS.format("mmod_human_face_detector.dat"),
     "CC0-1.0", "convert/dlib_to_safetensors.py", True),
    ("resemblyzer_ge2e.safetensors", "PyPI resemblyzer==0.1.4 wheel, resemblyzer/pretrained.pt (Corentin Jemine)",
     "Apache-2.0", "convert/resemblyzer_to_safetensors.py", True),
    ("mediapipe_iris_landmark.safetensors",
     "PyPI mediapipe==0.10.14 wheel (cp311 manylinux), mediapipe/modules/iris_landmark/iris_landmark.tflite (Google)",
     "Apache-2.0", "convert/mediapipe_iris_to_safetensors.py", True),
    ("mediapipe_face_detection_short_range.safetensors",
     "PyPI mediapipe==0.10.14 wheel (cp311 manylinux), "
     "mediapipe/modules/face_detection/face_detection_short_range.tflite (Google)",
     "Apache-2.0", "convert/mediapipe_blazeface_to_safetensors.py", True),
]

d = sys.argv[1]
path = os.path.join(d, "manifest.json")
old = {}
if os.path.exists(path):
    old = {m["file"]: m for m in json.load(open(path))["models"]}
out = []
for f, src, lic, conv, committed in MODELS:
    p = os.path.join(d, f)
    if os.path.exists(p):
        b = open(p, "rb").read()
        out.append({"file": f, "sha256": hashlib.sha256(b).hexdigest(), "bytes": len(b), "licence": lic,
                    "source": src, "converter": conv, "committed": committed})
    elif f in old:
        out.append(old[f])
json.dump({"models": out}, open(path, "w"), indent=2)
open(path, "a").write("\n")
