#!/usr/bin/env python3
"""Run every <name>.io.json in a fixtures folder through onnxruntime (CPU) and compare.

    python3 examples/scripts/check_fixtures_ort.py [examples/fixtures]

Needs the `onnxruntime` Python package (not on the dev machine; it is on the GPU machine). On the dev
machine the same check runs in Node with onnxruntime-web's wasm EP (the project's own tests).
Exit status 1 when an output differs beyond the io.json's tolerance or its dims differ.
"""

from __future__ import annotations

import base64
import json
import os
import sys

import numpy as np

_DT = {"float32": np.float32, "float16": np.float16, "float64": np.float64, "int64": np.int64,
       "int32": np.int32, "int8": np.int8, "uint8": np.uint8, "bool": np.bool_}


def decode(e):
    a = np.frombuffer(base64.b64decode(e["data"]), dtype=np.dtype(_DT[e["dtype"]]).newbyteorder("<"))
    return a.reshape(e["dims"]).astype(_DT[e["dtype"]])


def main(argv) -> int:
    import onnxruntime as ort

    folder = argv[1] if len(argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fixtures")
    bad = 0
    files = sorted(f for f in os.listdir(folder) if f.endswith(".io.json"))
    print(f"onnxruntime {ort.__version__}, {len(files)} io pairs in {folder}")
    for f in files:
        with open(os.path.join(folder, f)) as fh:
            io = json.load(fh)
        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(os.path.join(folder, io["model"]), so, providers=["CPUExecutionProvider"])
        feeds = {k: decode(v) for k, v in io["inputs"].items()}
        names = list(io["outputs"])
        got = sess.run(names, feeds)
        atol, rtol = io["tolerance"]["atol"], io["tolerance"]["rtol"]
        worst, msg = 0.0, ""
        for n, g in zip(names, got):
            ref = decode(io["outputs"][n])
            if list(g.shape) != list(ref.shape):
                bad += 1
                msg += f" {n}: dims {list(g.shape)} != {list(ref.shape)}"
                continue
            err = np.abs(g.astype(np.float64) - ref.astype(np.float64))
            worst = max(worst, float(err.max()) if err.size else 0.0)
            if not np.all(err <= atol + rtol * np.abs(ref)):
                bad += 1
                msg += f" {n}: beyond tolerance"
        print(f"  {f:40s} max abs err {worst:.2e}{'  FAIL' + msg if msg else ''}")
    print("all match" if not bad else f"{bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
