"""Writes test/ops/reference-schemas.json: the signatures (inputs, outputs, attributes with types,
required flags and defaults) of the ops graph-core's registry covers, every version, as the official
`onnx.defs` and onnxruntime's registered schemas define them. The conformance test compares the
registry against it.

Run where onnx and onnxruntime are installed (the GPU machine has both; this machine has neither):

    python3 packages/graph-core/scripts/dump_op_schemas.py OPS.json OUT.json

OPS.json lists the covered ops as ["::Add", "com.microsoft::Attention", ...] (print it with
`listOps({ allVersions: true })`). The committed file was made with onnx 1.23.1 and onnxruntime 1.30.0.
"""
import json
import sys

import onnx
import onnx.defs
import onnxruntime
from onnxruntime.capi import onnxruntime_pybind11_state as C

OPTION = {"Single": "single", "Optional": "optional", "Variadic": "variadic"}


def default_of(attr):
    raw = getattr(attr, "default_value", None) or getattr(attr, "_default_value", None)
    if isinstance(raw, (bytes, bytearray)):
        ap = onnx.AttributeProto()
        ap.ParseFromString(raw)
        raw = ap
    if raw is None or not raw.name:
        return None
    v = onnx.helper.get_attribute_value(raw)
    if isinstance(v, bytes):
        return v.decode("utf-8")
    if isinstance(v, list):
        return [x.decode("utf-8") if isinstance(x, bytes) else x for x in v]
    if isinstance(v, (int, float, str)):
        return v
    return None


def ser(s, source):
    def port(p):
        return {"name": p.name, "option": OPTION[str(p.option).split(".")[-1]]}

    return {
        "source": source,
        "domain": "" if s.domain in ("", "ai.onnx") else s.domain,
        "opType": s.name,
        "since": s.since_version,
        "inputs": [port(p) for p in s.inputs],
        "outputs": [port(p) for p in s.outputs],
        "attrs": {
            k: {"type": str(a.type).split(".")[-1].lower(), "required": bool(a.required), "default": default_of(a)}
            for k, a in sorted(s.attributes.items())
        },
    }


def main():
    wanted = set(json.load(open(sys.argv[1])))
    out = []
    seen = set()
    for s in onnx.defs.get_all_schemas_with_history():
        key = f"{'' if s.domain in ('', 'ai.onnx') else s.domain}::{s.name}"
        if key in wanted:
            out.append(ser(s, f"onnx {onnx.__version__}"))
            seen.add((key, s.since_version))
    for s in C.get_all_operator_schema():
        key = f"{'' if s.domain in ('', 'ai.onnx') else s.domain}::{s.name}"
        if key in wanted and (key, s.since_version) not in seen:
            out.append(ser(s, f"onnxruntime {onnxruntime.__version__}"))
    out.sort(key=lambda e: (e["domain"], e["opType"], e["since"]))
    doc = {
        "generator": "packages/graph-core/scripts/dump_op_schemas.py",
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
        "schemas": out,
    }
    with open(sys.argv[2], "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {len(out)} schemas of {len(wanted)} ops")


if __name__ == "__main__":
    main()
