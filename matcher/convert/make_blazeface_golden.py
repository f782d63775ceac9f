#!/usr/bin/env python3
"""Golden fixtures for the short-range face detector (BlazeFace), made with the TFLite runtime
and with MediaPipe itself.

Run once by hand (never in CI), in a virtualenv with the packages listed in
tests/fixtures/README.md:
  make_blazeface_golden.py FACE_DETECTION_SHORT_RANGE_TFLITE FIXTURES_DIR

It first composes two 640x480 "capture" frames from the committed photographs by copying
pixels (no resampling): capture_one_face.png (part of obama2.png on a grey canvas) and
capture_two_faces.png (obama.png and the top of biden.png side by side). For each of these and
of obama.png, obama2.png and biden.png it records in blazeface_golden.json:
- `input`: NAME_bf128.png, the 128x128 network input as MediaPipe's ImageToTensorCalculator
  makes it on the CPU (the image letterboxed into a square centred on it, corners mapped to
  the tensor's corners by cv2.warpPerspective, bilinear, zero outside);
- `logits` (all 896) and the 16 regression values of the 16 anchors with the highest logits
  (`top`: anchor index and values), computed by the TFLite runtime on that PNG scaled to
  [-1, 1];
- `mediapipe`: the detections of MediaPipe's own face detection solution
  (`mp.solutions.face_detection.FaceDetection(model_selection=0)`, the short-range graph with
  its anchors, decoding, weighted non-maximum suppression and letterbox removal) on the
  original image: score, box (xmin, ymin, width, height) and six keypoints, relative to the
  image size.
"""
import json
import sys

import cv2
import mediapipe as mp
import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image

SIZE = 128
model, fixtures = sys.argv[1:3]


def load(name):
    return np.array(Image.open(f"{fixtures}/{name}").convert("RGB"))


def compose():
    grey = np.full((480, 640, 3), 128, np.uint8)
    one = grey.copy()
    one[:, 160:480] = load("obama2.png")[60:540]
    Image.fromarray(one).save(f"{fixtures}/capture_one_face.png")
    two = grey.copy()
    two[40:440, :320] = load("obama.png")
    two[:, 320:] = load("biden.png")[:480]
    Image.fromarray(two).save(f"{fixtures}/capture_two_faces.png")


def letterbox(img):
    """MediaPipe's CPU ImageToTensor with keep_aspect_ratio and BORDER_ZERO."""
    h, w = img.shape[:2]
    side = max(w, h)
    cx, cy = w / 2, h / 2
    src = cv2.boxPoints(((cx, cy), (side, side), 0)).astype(np.float32)
    dst = np.array([[0, SIZE], [0, 0], [SIZE, 0], [SIZE, SIZE]], np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(img, m, (SIZE, SIZE), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)


compose()
interp = Interpreter(model_path=model)
interp.allocate_tensors()
inp = interp.get_input_details()[0]["index"]
outs = {d["name"]: d["index"] for d in interp.get_output_details()}
detector = mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.5)
cases = []
for name in ["obama.png", "obama2.png", "biden.png", "capture_one_face.png", "capture_two_faces.png"]:
    img = load(name)
    stem = name.rsplit(".", 1)[0]
    Image.fromarray(letterbox(img)).save(f"{fixtures}/{stem}_bf128.png")
    x = np.array(Image.open(f"{fixtures}/{stem}_bf128.png")).astype(np.float32) / 127.5 - 1.0
    interp.set_tensor(inp, x[None])
    interp.invoke()
    logits = interp.get_tensor(outs["classificators"])[0, :, 0]
    regressors = interp.get_tensor(outs["regressors"])[0]
    top = np.argsort(-logits, kind="stable")[:16]
    found = detector.process(img).detections or []
    cases.append({
        "image": name,
        "width": img.shape[1],
        "height": img.shape[0],
        "input": f"{stem}_bf128.png",
        "logits": logits.tolist(),
        "top": [{"anchor": int(i), "regressors": regressors[i].tolist()} for i in top],
        "mediapipe": [{
            "score": d.score[0],
            "box": [d.location_data.relative_bounding_box.xmin, d.location_data.relative_bounding_box.ymin,
                    d.location_data.relative_bounding_box.width, d.location_data.relative_bounding_box.height],
            "keypoints": [[k.x, k.y] for k in d.location_data.relative_keypoints],
        } for d in found],
    })
json.dump({"generator": "ai-edge-litert 2.3.0 and mediapipe 0.10.14, face_detection_short_range.tflite",
           "cases": cases}, open(f"{fixtures}/blazeface_golden.json", "w"), indent=1)
