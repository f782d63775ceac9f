#!/usr/bin/env python3
"""Produce the golden fixtures the Rust tests compare against, using dlib itself.

Run once by hand (never in CI), in a virtualenv with `pip install dlib-bin numpy pillow`:
  make_golden.py MODELS_DIR FACE_RECOGNITION_TEST_IMAGES_DIR OUT_DIR
MODELS_DIR holds the .dat files of PyPI face_recognition_models 0.3.0; the images come from
the PyPI face_recognition 1.3.0 source distribution (tests/test_images, public domain White
House photographs). Images are downscaled and stored as PNG so that decoding is exact.
"""
import json
import sys

import dlib
import numpy as np
from PIL import Image

models, images, out = sys.argv[1:4]
detector = dlib.get_frontal_face_detector()
sp = dlib.shape_predictor(f"{models}/shape_predictor_5_face_landmarks.dat")
net = dlib.face_recognition_model_v1(f"{models}/dlib_face_recognition_resnet_model_v1.dat")
cnn = dlib.cnn_face_detection_model_v1(f"{models}/mmod_human_face_detector.dat")

cases = []
for name in ["obama", "obama2", "biden"]:
    img = Image.open(f"{images}/{name}.jpg").convert("RGB")
    scale = 320 / img.width
    img = img.resize((320, round(img.height * scale)), Image.BILINEAR)
    img.save(f"{out}/{name}.png", optimize=True)
    arr = np.array(Image.open(f"{out}/{name}.png").convert("RGB"))
    dets = detector(arr, 1)
    assert len(dets) == 1, (name, len(dets))
    rect = dets[0]
    shape = sp(arr, rect)
    chip = dlib.get_face_chip(arr, shape, size=150, padding=0.25)
    Image.fromarray(chip).save(f"{out}/{name}_chip.png")
    # Embed the chip as stored (exact pixels) and the full pipeline's result.
    chip_desc = net.compute_face_descriptor(np.array(Image.open(f"{out}/{name}_chip.png")))
    mmod = [[d.rect.left(), d.rect.top(), d.rect.right(), d.rect.bottom(), d.confidence] for d in cnn(arr, 0)]
    cases.append({
        "mmod_detections": mmod,
        "name": name,
        "image": f"{name}.png",
        "chip": f"{name}_chip.png",
        "rect": [rect.left(), rect.top(), rect.right(), rect.bottom()],
        "landmarks": [[p.x, p.y] for p in shape.parts()],
        "chip_embedding": list(chip_desc),
    })
    print(name, rect, file=sys.stderr)

# A large face (obama.png enlarged 3x by pixel repetition, which the test repeats exactly):
# get_face_chip then goes through dlib's pyramid_down<2>.
large = []
for name, factor in [("obama", 3), ("biden", 4)]:
    arr = np.array(Image.open(f"{out}/{name}.png").convert("RGB")).repeat(factor, 0).repeat(factor, 1)
    dets = detector(arr, 0)
    assert len(dets) == 1, (name, len(dets))
    shape = sp(arr, dets[0])
    chip = dlib.get_face_chip(arr, shape, size=150, padding=0.25)
    Image.fromarray(chip).save(f"{out}/{name}_x{factor}_chip.png")
    large.append({"image": f"{name}.png", "repeat": factor, "chip": f"{name}_x{factor}_chip.png",
                  "landmarks": [[p.x, p.y] for p in shape.parts()]})
json.dump({"generator": "dlib " + dlib.__version__, "cases": cases, "large_chip_cases": large},
          open(f"{out}/golden.json", "w"), indent=1)
