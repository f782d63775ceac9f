#!/usr/bin/env python3
"""Convert MediaPipe's iris landmark network (Apache-2.0) from TFLite to safetensors.

Source: PyPI mediapipe==0.10.14, mediapipe/modules/iris_landmark/iris_landmark.tflite
(float32, 2.6 MB). The network takes a 64x64 RGB crop around a left eye, values in [0, 1],
and returns 71 eye-contour and eyebrow points and 5 iris points (x, y, z in crop pixels).

Every constant tensor is written under its TFLite name with '/Kernel', '/Bias' and '/Alpha'
turned into '.weight', '.bias' and '.alpha', in candle's layouts: convolution kernels
OHWI -> OIHW, depthwise kernels 1HWC -> C1HW, PReLU slopes 11C -> C. The channel-padding
constant is implied by the architecture and dropped.

Usage: mediapipe_iris_to_safetensors.py IRIS_TFLITE OUT.safetensors
Needs numpy and tflite==2.18.0 (a flatbuffer reader; no TensorFlow).
"""
import sys

import numpy as np
import tflite

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from dlib_to_safetensors import write_safetensors  # noqa: E402

src, dst = sys.argv[1:3]
model = tflite.Model.GetRootAsModel(open(src, "rb").read(), 0)
graph = model.Subgraphs(0)
tensors = []
for i in range(graph.TensorsLength()):
    t = graph.Tensors(i)
    data = model.Buffers(t.Buffer()).DataAsNumpy()
    if not isinstance(data, np.ndarray) or data.size == 0:
        continue  # activations have no buffer
    name = t.Name().decode()
    if name == "channel_padding/Paddings":
        continue
    assert t.Type() == tflite.TensorType.FLOAT32, name
    arr = np.frombuffer(data.tobytes(), dtype="<f4").reshape(t.ShapeAsNumpy())
    layer, kind = name.rsplit("/", 1)
    if kind == "Kernel" and layer.startswith("depthwise"):
        arr = arr[0].transpose(2, 0, 1)[:, None]
    elif kind == "Kernel":
        arr = arr.transpose(0, 3, 1, 2)
    elif kind == "Alpha":
        arr = arr.reshape(-1)
    suffix = {"Kernel": "weight", "Bias": "bias", "Alpha": "alpha"}[kind]
    tensors.append((f"{layer}.{suffix}", arr.astype(np.float32)))
tensors.sort(key=lambda x: x[0])
write_safetensors(dst, tensors, {"source": "mediapipe==0.10.14 iris_landmark.tflite", "licence": "Apache-2.0"})
print(f"{len(tensors)} tensors -> {dst}", file=sys.stderr)
