#!/usr/bin/env python3
"""Convert MediaPipe's short-range face detector (BlazeFace, Apache-2.0) from TFLite to
safetensors.

Source: PyPI mediapipe==0.10.14, mediapipe/modules/face_detection/face_detection_short_range.tflite
(229,714 bytes, weights stored as float16 and dequantised by the graph). The network takes a
128x128 RGB image, values in [-1, 1], and returns for each of 896 anchors one score logit
and 16 regression values (box centre, size and six keypoints, in input pixels).

Every weight tensor is written under its TFLite name with '/Kernel' and '/Bias' turned into
'.weight' and '.bias', widened from float16 to float32 (exact), in candle's layouts:
convolution kernels OHWI -> OIHW, depthwise kernels 1HWC -> C1HW. The channel-padding
constants are implied by the architecture (zeros appended to the channels) and dropped after
checking that they say so.

Usage: mediapipe_blazeface_to_safetensors.py FACE_DETECTION_SHORT_RANGE_TFLITE OUT.safetensors
Needs numpy and tflite==2.18.0 (a flatbuffer reader; no TensorFlow). Deterministic: the same
input gives the same bytes.
"""
import sys

import numpy as np
import tflite

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from dlib_to_safetensors import write_safetensors  # noqa: E402

src, dst = sys.argv[1:3]
model = tflite.Model.GetRootAsModel(open(src, "rb").read(), 0)
graph = model.Subgraphs(0)
dtypes = {tflite.TensorType.FLOAT16: "<f2", tflite.TensorType.FLOAT32: "<f4"}
tensors = []
for i in range(graph.TensorsLength()):
    t = graph.Tensors(i)
    data = model.Buffers(t.Buffer()).DataAsNumpy()
    if not isinstance(data, np.ndarray) or data.size == 0:
        continue  # activations and dequantised copies have no buffer
    name = t.Name().decode()
    shape = t.ShapeAsNumpy()
    if name.startswith("channel_padding"):
        pads = np.frombuffer(data.tobytes(), dtype="<i4").reshape(shape)
        assert (pads[:3] == 0).all() and pads[3, 0] == 0 and pads[3, 1] > 0, (name, pads)
        continue
    arr = np.frombuffer(data.tobytes(), dtype=dtypes[t.Type()]).reshape(shape).astype(np.float32)
    layer, kind = name.rsplit("/", 1)
    if kind == "Kernel" and layer.startswith("depthwise"):
        arr = arr[0].transpose(2, 0, 1)[:, None]
    elif kind == "Kernel":
        arr = arr.transpose(0, 3, 1, 2)
    suffix = {"Kernel": "weight", "Bias": "bias"}[kind]
    tensors.append((f"{layer}.{suffix}", np.ascontiguousarray(arr)))
tensors.sort(key=lambda x: x[0])
write_safetensors(dst, tensors, {"source": "mediapipe==0.10.14 face_detection_short_range.tflite", "licence": "Apache-2.0"})
print(f"{len(tensors)} tensors -> {dst}", file=sys.stderr)
