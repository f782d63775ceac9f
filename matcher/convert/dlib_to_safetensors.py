#!/usr/bin/env python3
"""Convert dlib's CC0 models (PyPI face_recognition_models 0.3.0) to safetensors.

Reads dlib's own serialisation (see dlib/serialize.h): an integer is one control byte
(low nibble = number of following little-endian bytes, 0x80 = negative) then the bytes;
a float is an integer mantissa and an integer exponent; a DNN tensor is a version int,
four dims (n, k, nr, nc) and raw little-endian f32.

Usage: dlib_to_safetensors.py MODELS_DIR OUT_DIR
Writes OUT_DIR/dlib_face_recognition_resnet_model_v1.safetensors and
OUT_DIR/shape_predictor_5_face_landmarks.safetensors and
OUT_DIR/mmod_human_face_detector.safetensors. Needs only numpy.
"""
import json
import re
import struct
import sys

import numpy as np


class Reader:
    def __init__(self, data, pos=0):
        self.d = data
        self.p = pos

    def int(self):
        c = self.d[self.p]
        self.p += 1
        n = c & 0x0F
        v = int.from_bytes(self.d[self.p:self.p + n], "little")
        self.p += n
        return -v if c & 0x80 else v

    def float(self):
        m = self.int()
        e = self.int()
        if e == 32000:
            return float("inf")
        if e == 32001:
            return float("-inf")
        if e == 32002:
            return float("nan")
        return float(m) * 2.0 ** e

    def string(self):
        n = self.int()
        s = self.d[self.p:self.p + n].decode("ascii")
        self.p += n
        return s

    def tensor(self):
        version = self.int()
        assert version == 2, version
        n, k, nr, nc = (self.int() for _ in range(4))
        count = n * k * nr * nc
        a = np.frombuffer(self.d, dtype="<f4", count=count, offset=self.p).copy()
        self.p += 4 * count
        return (n, k, nr, nc), a

    def matrix_col(self):
        nr = self.int()
        nc = self.int()
        # Newer dlib writes negative sizes to mark the format; the magnitudes are the sizes.
        nr, nc = abs(nr), abs(nc)
        assert nc == 1, nc
        return np.array([self.float() for _ in range(nr)], dtype=np.float32)


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": {k: str(v) for k, v in metadata.items()}}
    offset = 0
    blobs = []
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr)
        dtype = {np.dtype("float32"): "F32", np.dtype("uint32"): "U32"}[arr.dtype]
        b = arr.astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def convert_resnet(src, dst):
    d = open(src, "rb").read()
    tensors = []
    convs = affines = 0
    fc = None
    # Layers are stored from the input outwards, each details block starting with its
    # version string; only con_, affine_ and fc_ carry parameters.
    for m in re.finditer(rb"\x01\x05con_4|\x01\x07affine_|\x01\x04fc_2", d):
        r = Reader(d, m.start())
        name = r.string()
        if name == "con_4":
            shape, params = r.tensor()
            num_filters, nr, nc, sy, sx, py, px = (r.int() for _ in range(7))
            # params holds the filters (num_filters, k, nr, nc) followed by the biases.
            nw = params.size - num_filters
            k = nw // (num_filters * nr * nc)
            w = params[:nw].reshape(num_filters, k, nr, nc)
            b = params[nw:]
            tensors.append((f"conv{convs}.weight", w))
            tensors.append((f"conv{convs}.bias", b))
            print(f"conv{convs}: {w.shape} stride {sy} pad {py}", file=sys.stderr)
            convs += 1
        elif name == "affine_":
            shape, params = r.tensor()
            k = params.size // 2
            tensors.append((f"affine{affines}.weight", params[:k]))
            tensors.append((f"affine{affines}.bias", params[k:]))
            affines += 1
        else:
            num_outputs = r.int()
            num_inputs = r.int()
            shape, params = r.tensor()
            assert params.size == num_inputs * num_outputs, (params.size, num_inputs, num_outputs)
            # dlib computes out = in x W with W (num_inputs, num_outputs); store (out, in).
            w = params.reshape(num_inputs, num_outputs).T
            tensors.append(("fc.weight", w))
            fc = w.shape
    assert convs == 29 and affines == 29 and fc == (128, 256), (convs, affines, fc)
    write_safetensors(dst, tensors, {"source": "dlib_face_recognition_resnet_model_v1.dat", "licence": "CC0-1.0"})


def convert_shape_predictor(src, dst):
    r = Reader(open(src, "rb").read())
    assert r.int() == 1
    initial = r.matrix_col()
    n_cascades = r.int()
    splits_idx, splits_thr, leaves = [], [], []
    for _ in range(n_cascades):
        n_trees = r.int()
        ci, ct, cl = [], [], []
        for _ in range(n_trees):
            n_splits = r.int()
            idx, thr = [], []
            for _ in range(n_splits):
                idx.append((r.int(), r.int()))
                thr.append(r.float())
            n_leaves = r.int()
            lv = [r.matrix_col() for _ in range(n_leaves)]
            ci.append(idx)
            ct.append(thr)
            cl.append(lv)
        splits_idx.append(ci)
        splits_thr.append(ct)
        leaves.append(cl)
    anchors = []
    for _ in range(r.int()):
        anchors.append([r.int() for _ in range(r.int())])
    deltas = []
    for _ in range(r.int()):
        deltas.append([(r.float(), r.float()) for _ in range(r.int())])
    assert r.p == len(r.d), (r.p, len(r.d))
    tensors = [
        ("initial_shape", initial.reshape(-1, 2)),
        ("split_idx", np.array(splits_idx, dtype=np.uint32)),
        ("split_thresh", np.array(splits_thr, dtype=np.float32)),
        ("leaf_values", np.array(leaves, dtype=np.float32)),
        ("anchor_idx", np.array(anchors, dtype=np.uint32)),
        ("deltas", np.array(deltas, dtype=np.float32)),
    ]
    for n, t in tensors:
        print(n, t.shape, file=sys.stderr)
    write_safetensors(dst, tensors, {"source": "shape_predictor_5_face_landmarks.dat", "licence": "CC0-1.0"})


def convert_mmod(src, dst):
    d = open(src, "rb").read()
    r = Reader(d)
    assert r.int() == 1  # add_loss_layer version
    assert r.string() == "loss_mmod_"
    opt_version = r.int()
    assert opt_version == 1, opt_version
    win_w, win_h = r.int(), r.int()
    _false_alarm, _missed, _truth_iou = r.float(), r.float(), r.float()
    nms_iou, nms_covered = r.float(), r.float()
    tensors = []
    convs = affines = 0
    for m in re.finditer(rb"\x01\x05con_4|\x01\x07bn_con2", d):
        r = Reader(d, m.start())
        name = r.string()
        if name == "con_4":
            _, params = r.tensor()
            num_filters, nr, nc, sy, sx, py, px = (r.int() for _ in range(7))
            nw = params.size - num_filters
            k = nw // (num_filters * nr * nc)
            tensors.append((f"conv{convs}.weight", params[:nw].reshape(num_filters, k, nr, nc)))
            tensors.append((f"conv{convs}.bias", params[nw:]))
            print(f"mmod conv{convs}: {(num_filters, k, nr, nc)} stride {sy} pad {py}", file=sys.stderr)
            convs += 1
        else:
            _, params = r.tensor()
            for _ in range(2):  # gamma and beta alias_tensor: version + 4 dims
                assert r.int() == 1
                [r.int() for _ in range(4)]
            _, _means = r.tensor()
            _, _invstds = r.tensor()
            _, running_means = r.tensor()
            _, running_vars = r.tensor()
            r.int()  # num_updates
            r.int()  # running_stats_window_size
            [r.float() for _ in range(4)]  # learning-rate and weight-decay multipliers
            eps = r.float()
            # dlib turns a trained bn_con into affine_ at load: w = g / sqrt(var + eps),
            # b = beta - w * mean.
            k = params.size // 2
            g, beta = params[:k], params[k:]
            w = (g / np.sqrt(running_vars + eps)).astype(np.float32)
            b = (beta - w * running_means).astype(np.float32)
            tensors.append((f"affine{affines}.weight", w))
            tensors.append((f"affine{affines}.bias", b))
            affines += 1
    assert convs == 7 and affines == 6, (convs, affines)
    meta = {"source": "mmod_human_face_detector.dat", "licence": "CC0-1.0", "window_width": win_w,
            "window_height": win_h, "nms_iou": repr(nms_iou), "nms_percent_covered": repr(nms_covered)}
    print(meta, file=sys.stderr)
    write_safetensors(dst, tensors, meta)


if __name__ == "__main__":
    src, out = sys.argv[1], sys.argv[2]
    convert_resnet(f"{src}/dlib_face_recognition_resnet_model_v1.dat", f"{out}/dlib_face_recognition_resnet_model_v1.safetensors")
    convert_shape_predictor(f"{src}/shape_predictor_5_face_landmarks.dat", f"{out}/shape_predictor_5_face_landmarks.safetensors")
    convert_mmod(f"{src}/mmod_human_face_detector.dat", f"{out}/mmod_human_face_detector.safetensors")
