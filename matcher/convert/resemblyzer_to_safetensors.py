#!/usr/bin/env python3
"""Convert Resemblyzer's GE2E speaker encoder (PyPI resemblyzer==0.1.4, Apache-2.0) to
safetensors without torch.

`resemblyzer/pretrained.pt` is torch's legacy (non-zip) serialisation: a magic-number pickle,
a protocol-version pickle, a sys-info pickle, the object pickle whose tensors refer to
storages by persistent id, a pickle listing the storage keys, then for each storage an int64
element count followed by its raw little-endian data.

Usage: resemblyzer_to_safetensors.py PRETRAINED_PT OUT.safetensors   (needs numpy)
"""
import pickle
import struct
import sys

import numpy as np

from dlib_to_safetensors import write_safetensors

DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "LongStorage": np.int64}


class Storage:
    def __init__(self, key, dtype):
        self.key, self.dtype, self.data = key, dtype, None


class TensorRef:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)

    def array(self):
        itemsize = np.dtype(self.storage.dtype).itemsize
        return np.lib.stride_tricks.as_strided(
            self.storage.data[self.offset:], shape=self.size,
            strides=[s * itemsize for s in self.stride]).copy()


def rebuild_tensor_v2(storage, offset, size, stride, *args):
    return TensorRef(storage, offset, size, stride)


class Unpickler(pickle.Unpickler):
    def __init__(self, f, storages):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return rebuild_tensor_v2
        if module == "torch" and name in DTYPES:
            return name
        if module == "collections" and name == "OrderedDict":
            import collections
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"refusing {module}.{name}")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, size[, view_metadata])
        _, storage_type, key, _location, _size = pid[:5]
        if key not in self.storages:
            self.storages[key] = Storage(key, DTYPES[storage_type])
        return self.storages[key]


def load(path):
    with open(path, "rb") as f:
        for _ in range(3):  # magic number, protocol version, sys info
            pickle.load(f)
        storages = {}
        obj = Unpickler(f, storages).load()
        keys = pickle.load(f)
        for key in keys:
            (n,) = struct.unpack("<q", f.read(8))
            st = storages[key]
            st.data = np.frombuffer(f.read(n * np.dtype(st.dtype).itemsize), dtype=st.dtype)
    return obj


def main():
    src, dst = sys.argv[1:3]
    ckpt = load(src)
    state = ckpt["model_state"]
    tensors = []
    for name, t in state.items():
        a = t.array().astype(np.float32)
        print(name, a.shape, file=sys.stderr)
        tensors.append((name, a))
    write_safetensors(dst, tensors, {"source": "resemblyzer 0.1.4 pretrained.pt", "licence": "Apache-2.0"})


if __name__ == "__main__":
    main()
