#!/usr/bin/env python3
"""Golden fixtures for the iris landmark network, made with the TFLite runtime itself.

Run once by hand (never in CI), in a virtualenv with
`pip install ai-edge-litert==2.3.0 numpy pillow`:
  make_iris_golden.py IRIS_TFLITE FIXTURES_DIR
For each face of FIXTURES_DIR/golden.json (dlib's 5 landmarks of obama.png, obama2.png,
biden.png) it cuts the two eye crops as `face::eyes::eye_crops` documents them (square of
2.3 eye widths around the corners' midpoint, eye axis horizontal, the image-right eye
mirrored), stores them as NAME_eye{0,1}.png, and records the network's outputs on them in
iris_golden.json. The Rust tests check the crops to within one grey level and the outputs
to within 1e-4 of the crop side.
"""
import json
import sys

import numpy as np
from ai_edge_litert.interpreter import Interpreter
from PIL import Image

SIZE, SCALE = 64, 2.3
model, fixtures = sys.argv[1:3]
interp = Interpreter(model_path=model)
interp.allocate_tensors()
inp = interp.get_input_details()[0]["index"]
outs = {d["name"]: d["index"] for d in interp.get_output_details()}


def crop(img, a, b, mirror):
    a, b = np.array(a, float), np.array(b, float)
    width = np.hypot(*(b - a))
    axis = (b - a) / width
    centre = (a + b) / 2
    side = SCALE * width
    step = side / SIZE
    h, w = img.shape[:2]
    out = np.zeros((SIZE, SIZE, 3), np.uint8)
    for cy in range(SIZE):
        for cx in range(SIZE):
            u = (SIZE - 1 - cx) if mirror else cx
            u, v = (u + 0.5) * step - side / 2, (cy + 0.5) * step - side / 2
            x = centre[0] + u * axis[0] - v * axis[1] - 0.5
            y = centre[1] + u * axis[1] + v * axis[0] - 0.5
            x0, y0 = np.floor(x), np.floor(y)
            fx, fy = x - x0, y - y0

            def px(xx, yy):
                return img[int(np.clip(yy, 0, h - 1)), int(np.clip(xx, 0, w - 1))].astype(float)

            top = px(x0, y0) * (1 - fx) + px(x0 + 1, y0) * fx
            bottom = px(x0, y0 + 1) * (1 - fx) + px(x0 + 1, y0 + 1) * fx
            out[cy, cx] = np.clip(np.round(top * (1 - fy) + bottom * fy), 0, 255)
    return out


cases = []
for case in json.load(open(f"{fixtures}/golden.json"))["cases"]:
    img = np.array(Image.open(f"{fixtures}/{case['image']}").convert("RGB"))
    lm = case["landmarks"]
    for k, (a, b, mirror) in enumerate([(lm[2], lm[3], False), (lm[1], lm[0], True)]):
        c = crop(img, a, b, mirror)
        name = f"{case['name']}_eye{k}.png"
        Image.fromarray(c).save(f"{fixtures}/{name}")
        x = (np.array(Image.open(f"{fixtures}/{name}")).astype(np.float32) / 255.0)[None]
        interp.set_tensor(inp, x)
        interp.invoke()
        cases.append({
            "image": case["image"],
            "eye": k,
            "crop": name,
            "contour": interp.get_tensor(outs["output_eyes_contours_and_brows"])[0].tolist(),
            "iris": interp.get_tensor(outs["output_iris"])[0].tolist(),
        })
json.dump({"generator": "ai-edge-litert 2.3.0, mediapipe 0.10.14 iris_landmark.tflite", "cases": cases},
          open(f"{fixtures}/iris_golden.json", "w"), indent=1)
