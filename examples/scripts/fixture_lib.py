"""Helpers shared by make_fixtures.py and make_gpt2_small.py: export, io.json, summaries."""

from __future__ import annotations

import base64
import collections
import hashlib
import inspect
import io
import json
import os
import re
import shutil
import tempfile
import time
import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import onnx
import torch

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

TORCH_VERSION = torch.__version__
ONNX_VERSION = onnx.__version__


def torch_version_tuple() -> Tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", TORCH_VERSION)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def dynamo_available() -> bool:
    """torch >= 2.1 with torch.onnx.export(dynamo=True) or torch.onnx.dynamo_export."""
    if torch_version_tuple() < (2, 1):
        return False
    return "dynamo" in inspect.signature(torch.onnx.export).parameters or hasattr(torch.onnx, "dynamo_export")


# --------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------

def sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_if_changed(path: str, data: bytes) -> bool:
    """Write bytes unless the file already holds exactly them (keeps mtimes stable). Returns changed."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if os.path.exists(path) and os.path.getsize(path) == len(data):
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return True


def json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


def rel(path: str) -> str:
    return os.path.relpath(path, REPO_ROOT)


# --------------------------------------------------------------------------------------
# Tensors <-> io.json
# --------------------------------------------------------------------------------------

_NP_TO_NAME = {
    np.dtype("float32"): "float32",
    np.dtype("float16"): "float16",
    np.dtype("float64"): "float64",
    np.dtype("int64"): "int64",
    np.dtype("int32"): "int32",
    np.dtype("int8"): "int8",
    np.dtype("uint8"): "uint8",
    np.dtype("bool"): "bool",
}


def tensor_entry(t) -> Dict[str, Any]:
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    a = np.ascontiguousarray(a)
    name = _NP_TO_NAME[a.dtype]
    le = a.astype(a.dtype.newbyteorder("<"), copy=False)
    return {
        "dtype": name,
        "dims": [int(d) for d in a.shape],
        "data": base64.b64encode(le.tobytes()).decode("ascii"),
    }


def io_json(model_file: str, inputs: Dict[str, Any], outputs: Dict[str, Any], atol=1e-4, rtol=1e-3, note=None):
    d = {
        "model": model_file,
        "inputs": {k: tensor_entry(v) for k, v in inputs.items()},
        "outputs": {k: tensor_entry(v) for k, v in outputs.items()},
        "tolerance": {"atol": atol, "rtol": rtol},
    }
    if note:
        d["note"] = note
    return d


def flatten(x) -> List[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        return [x]
    out = []
    for e in x:
        out.extend(flatten(e))
    return out


# --------------------------------------------------------------------------------------
# Model summaries
# --------------------------------------------------------------------------------------

_ELEM = {v: k for k, v in onnx.TensorProto.DataType.items()}


def _type_str(elem_type: int) -> str:
    n = _ELEM.get(elem_type, str(elem_type)).lower()
    return {"float": "float32", "double": "float64", "float16": "float16"}.get(n, n)


def value_info_dims(vi) -> List[Any]:
    dims = []
    if not vi.type.HasField("tensor_type") or not vi.type.tensor_type.HasField("shape"):
        return None
    for d in vi.type.tensor_type.shape.dim:
        if d.HasField("dim_value"):
            dims.append(int(d.dim_value))
        elif d.HasField("dim_param"):
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return dims


def io_signature(graph) -> Tuple[List[dict], List[dict]]:
    init = {i.name for i in graph.initializer}
    ins = [
        {"name": v.name, "dtype": _type_str(v.type.tensor_type.elem_type), "dims": value_info_dims(v)}
        for v in graph.input
        if v.name not in init
    ]
    outs = [
        {"name": v.name, "dtype": _type_str(v.type.tensor_type.elem_type), "dims": value_info_dims(v)}
        for v in graph.output
    ]
    return ins, outs


def op_histogram(graph) -> Dict[str, int]:
    c = collections.Counter((n.domain + "::" if n.domain not in ("", "ai.onnx") else "") + n.op_type for n in graph.node)
    return dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))


def initializer_stats(graph) -> Dict[str, int]:
    total = 0
    external = 0
    for t in graph.initializer:
        n = 1
        for d in t.dims:
            n *= d
        sz = n * {1: 4, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 2: 1, 3: 1}.get(t.data_type, 4)
        total += sz
        if t.data_location == onnx.TensorProto.EXTERNAL:
            external += 1
    return {"count": len(graph.initializer), "bytes": total, "external": external}


def check_and_infer(model: onnx.ModelProto, path_for_checker: Optional[str] = None) -> Dict[str, Any]:
    """onnx.checker (full_check where possible) + onnx shape inference compared to declared outputs."""
    res: Dict[str, Any] = {}
    try:
        if path_for_checker is not None:
            # Not full_check on a path: onnx (1.12) then runs infer_shapes_path, which rewrites the
            # file in place. Check the path (external data resolved), infer on the in-memory model.
            onnx.checker.check_model(path_for_checker)
            onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
        else:
            onnx.checker.check_model(model, full_check=True)
        res["checker"] = "ok (full_check)"
    except Exception as e:  # pragma: no cover - reported, not fatal
        res["checker"] = "FAILED: " + str(e).splitlines()[0][:300]
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
        declared = {o.name: value_info_dims(o) for o in model.graph.output}
        got = {o.name: value_info_dims(o) for o in inferred.graph.output}
        res["shape_inference"] = {
            "ok": True,
            "value_info_count": len(inferred.graph.value_info),
            "outputs_agree_with_declared": all(declared[k] == got.get(k) for k in declared),
        }
    except Exception as e:  # pragma: no cover
        res["shape_inference"] = {"ok": False, "error": str(e).splitlines()[0][:300]}
    return res


def summarize(model: onnx.ModelProto) -> Dict[str, Any]:
    ins, outs = io_signature(model.graph)
    return {
        "opset_imports": {(o.domain or "ai.onnx"): int(o.version) for o in model.opset_import},
        "ir_version": int(model.ir_version),
        "producer": f"{model.producer_name} {model.producer_version}".strip(),
        "inputs": ins,
        "outputs": outs,
        "node_count": len(model.graph.node),
        "function_count": len(model.functions),
        "op_histogram": op_histogram(model.graph),
        "initializers": initializer_stats(model.graph),
    }


# --------------------------------------------------------------------------------------
# Warnings capture
# --------------------------------------------------------------------------------------

class CaptureWarnings:
    """Collects warnings as short stable strings (no absolute paths, deduplicated, ordered)."""

    def __enter__(self):
        self._cm = warnings.catch_warnings(record=True)
        self.records = self._cm.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._cm.__exit__(*exc)
        seen = []
        for w in self.records:
            fn = w.filename
            where = rel(fn) if fn.startswith(REPO_ROOT) else os.path.basename(fn)
            msg = str(w.message).strip().splitlines()[0]
            s = f"{w.category.__name__} at {where}:{w.lineno}: {msg}"
            if s not in seen:
                seen.append(s)
        self.messages = seen
        return False


# --------------------------------------------------------------------------------------
# Exporters
# --------------------------------------------------------------------------------------

def export_torchscript(
    module: torch.nn.Module,
    args: tuple,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Dict[str, Dict[int, str]],
    opset: int = 17,
    training=None,
) -> Tuple[bytes, List[str], float]:
    """torch.onnx.export (TorchScript-based exporter) into memory. Returns (bytes, warnings, seconds)."""
    buf = io.BytesIO()
    kwargs = dict(
        input_names=list(input_names),
        output_names=list(output_names),
        dynamic_axes=dynamic_axes,
        opset_version=opset,
        do_constant_folding=True,
        export_params=True,
    )
    if training is not None:
        kwargs["training"] = training
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False  # torch >= 2.9 defaults to the dynamo exporter
    t0 = time.perf_counter()
    with CaptureWarnings() as cw, torch.no_grad():
        torch.onnx.export(module, args, buf, **kwargs)
    dt = time.perf_counter() - t0
    return buf.getvalue(), cw.messages, dt


def _flatten_with_names(args, input_names):
    """Pair each tensor of the (possibly nested) args with its input name, in flatten order."""
    flat = flatten(args)
    assert len(flat) == len(input_names), (len(flat), len(input_names))
    return list(zip(input_names, flat))


def _dynamic_shapes_tree(args, input_names, dynamic_axes, dim_factory):
    it = iter(input_names)

    def build(x):
        if isinstance(x, torch.Tensor):
            name = next(it)
            axes = dynamic_axes.get(name, {})
            return {int(a): dim_factory(n) for a, n in axes.items()} or None
        return type(x)(build(e) for e in x) if isinstance(x, tuple) else [build(e) for e in x]

    return tuple(build(a) for a in args)


def _rename_io(model: onnx.ModelProto, input_names, output_names, dynamic_axes) -> List[str]:
    """Rename graph inputs/outputs by position and their symbolic dims to the Optimum names."""
    notes = []
    g = model.graph
    init = {i.name for i in g.initializer}
    real_inputs = [v for v in g.input if v.name not in init]
    mapping = {}
    if len(real_inputs) != len(input_names):
        notes.append(f"dynamo graph has {len(real_inputs)} inputs, expected {len(input_names)}")
    for v, want in zip(real_inputs, input_names):
        if v.name != want:
            mapping[v.name] = want
    if len(g.output) != len(output_names):
        notes.append(f"dynamo graph has {len(g.output)} outputs, expected {len(output_names)}")
    for v, want in zip(g.output, output_names):
        if v.name != want:
            mapping[v.name] = want
    if mapping:
        def ren(n):
            return mapping.get(n, n)

        for v in list(g.input) + list(g.output) + list(g.value_info):
            v.name = ren(v.name)
        for n in g.node:
            n.input[:] = [ren(x) for x in n.input]
            n.output[:] = [ren(x) for x in n.output]
    # symbolic dims
    dim_map = {}
    for v in list(g.input) + list(g.output):
        axes = dynamic_axes.get(v.name, {})
        dims = v.type.tensor_type.shape.dim
        for a, want in axes.items():
            if a >= len(dims):
                continue
            d = dims[a]
            if d.HasField("dim_value"):
                notes.append(f"{v.name} axis {a} came out static ({d.dim_value}), wanted '{want}'")
                continue
            if d.HasField("dim_param") and d.dim_param != want:
                dim_map.setdefault(d.dim_param, want)
            d.dim_param = want
    if dim_map:
        for v in g.value_info:
            for d in v.type.tensor_type.shape.dim:
                if d.HasField("dim_param") and d.dim_param in dim_map:
                    d.dim_param = dim_map[d.dim_param]
    return notes


def export_dynamo(
    module: torch.nn.Module,
    args: tuple,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Dict[str, Dict[int, str]],
) -> Tuple[Optional[bytes], List[str], float, str]:
    """Export with the torch.export-based exporter (torch >= 2.1). Returns (bytes|None, notes, seconds, how).

    Tries, in order: torch.onnx.export(dynamo=True, dynamic_shapes=Dim.AUTO tree) (torch >= 2.6),
    torch.onnx.export(dynamo=True, dynamic_axes=...) (torch >= 2.5), torch.onnx.dynamo_export (2.1-2.4).
    Graph inputs/outputs and their symbolic dims are then renamed to the Optimum names.
    """
    notes: List[str] = []
    attempts = []
    params = inspect.signature(torch.onnx.export).parameters
    if "dynamo" in params:
        Dim = getattr(torch.export, "Dim", None)
        if Dim is not None and hasattr(Dim, "AUTO"):
            ds = _dynamic_shapes_tree(args, input_names, dynamic_axes, lambda n: Dim.AUTO)
            attempts.append(
                (
                    "torch.onnx.export(dynamo=True, dynamic_shapes=Dim.AUTO)",
                    lambda: torch.onnx.export(
                        module, args, input_names=list(input_names), output_names=list(output_names),
                        dynamic_shapes=ds, dynamo=True,
                    ),
                )
            )
        attempts.append(
            (
                "torch.onnx.export(dynamo=True, dynamic_axes)",
                lambda: torch.onnx.export(
                    module, args, input_names=list(input_names), output_names=list(output_names),
                    dynamic_axes=dynamic_axes, dynamo=True,
                ),
            )
        )
    if hasattr(torch.onnx, "dynamo_export"):
        def _old():
            opts = torch.onnx.ExportOptions(dynamic_shapes=True)
            return torch.onnx.dynamo_export(module, *args, export_options=opts)

        attempts.append(("torch.onnx.dynamo_export(dynamic_shapes=True)", _old))

    t0 = time.perf_counter()
    for how, fn in attempts:
        try:
            with CaptureWarnings() as cw, torch.no_grad():
                prog = fn()
            model = prog.model_proto
            model = onnx.ModelProto.FromString(model.SerializeToString())
            if len(model.functions):
                try:
                    from onnx import inliner  # onnx >= 1.16

                    model = inliner.inline_local_functions(model)
                    notes.append("local functions inlined with onnx.inliner")
                except Exception as e:
                    notes.append(f"model has {len(model.functions)} local functions (not inlined: {e})")
            notes.extend(_rename_io(model, input_names, output_names, dynamic_axes))
            notes.extend(cw.messages[:40])
            dt = time.perf_counter() - t0
            return model.SerializeToString(), notes, dt, how
        except Exception as e:
            notes.append(f"{how} failed: {type(e).__name__}: {str(e).strip().splitlines()[0][:400] if str(e).strip() else ''}")
    return None, notes, time.perf_counter() - t0, "none"


def save_external(model_bytes: bytes, out_path: str, location: str, size_threshold: int = 1024) -> Tuple[bool, bool]:
    """Save with all tensors >= size_threshold in one external file next to out_path.

    onnx.save_model appends to an existing data file, so write into a fresh temp dir first, then
    copy over only what changed. Returns (model_changed, data_changed).
    """
    model = onnx.ModelProto.FromString(model_bytes)
    with tempfile.TemporaryDirectory() as td:
        tmp_model = os.path.join(td, os.path.basename(out_path))
        onnx.save_model(
            model,
            tmp_model,
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=location,
            size_threshold=size_threshold,
        )
        with open(tmp_model, "rb") as f:
            mb = f.read()
        with open(os.path.join(td, location), "rb") as f:
            db = f.read()
    return (
        write_if_changed(out_path, mb),
        write_if_changed(os.path.join(os.path.dirname(out_path), location), db),
    )


# --------------------------------------------------------------------------------------
# Models over 2 GB: export to a path, then one external data file written tensor by tensor
# --------------------------------------------------------------------------------------

_ELEM_SIZE = {1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}


def tensor_nbytes(t: onnx.TensorProto) -> int:
    n = 1
    for d in t.dims:
        n *= d
    return n * _ELEM_SIZE.get(t.data_type, 4)


def export_torchscript_to_dir(
    module: torch.nn.Module,
    args: tuple,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Dict[str, Dict[int, str]],
    out_dir: str,
    opset: int = 17,
) -> Tuple[str, List[str], float]:
    """torch.onnx.export to `<out_dir>/model.onnx`: the way past protobuf's 2 GB limit (torch then writes
    each initializer into its own file beside the model). Returns (path, warnings, seconds)."""
    path = os.path.join(out_dir, "model.onnx")
    kwargs = dict(input_names=list(input_names), output_names=list(output_names), dynamic_axes=dynamic_axes,
                  opset_version=opset, do_constant_folding=True, export_params=True)
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False
    t0 = time.perf_counter()
    with CaptureWarnings() as cw, torch.no_grad():
        torch.onnx.export(module, args, path, **kwargs)
    return path, cw.messages, time.perf_counter() - t0


def externalize(
    model: onnx.ModelProto,
    src_dir: str,
    data_path: str,
    size_threshold: int = 1024,
    align: int = 4096,
) -> Dict[str, int]:
    """Move every initializer of >= size_threshold bytes into ONE external data file, tensor by tensor.

    Handles both inline tensors (raw_data) and tensors already external (one file each, as
    torch.onnx.export writes them past 2 GB, read from src_dir). Offsets are aligned to `align` bytes
    (mmap-friendly, like onnx's own writer). Peak memory: one tensor. Returns counts and bytes.
    """
    location = os.path.basename(data_path)
    stats = {"external": 0, "inline": 0, "bytes": 0}
    with open(data_path, "wb") as out:
        for t in model.graph.initializer:
            if t.data_location == onnx.TensorProto.EXTERNAL:
                info = {e.key: e.value for e in t.external_data}
                with open(os.path.join(src_dir, info["location"]), "rb") as f:
                    f.seek(int(info.get("offset", 0)))
                    data = f.read(int(info["length"]) if "length" in info else -1)
            elif tensor_nbytes(t) >= size_threshold and t.HasField("raw_data"):
                data = t.raw_data
            else:
                stats["inline"] += 1
                continue
            pad = (-out.tell()) % align
            if pad:
                out.write(b"\0" * pad)
            offset = out.tell()
            out.write(data)
            t.ClearField("raw_data")
            del t.external_data[:]
            for k, v in (("location", location), ("offset", str(offset)), ("length", str(len(data)))):
                e = t.external_data.add()
                e.key, e.value = k, v
            t.data_location = onnx.TensorProto.EXTERNAL
            stats["external"] += 1
            stats["bytes"] += len(data)
            del data
    return stats


def decoder_kv_signature(n_layers: int) -> Tuple[List[str], List[str], Dict[str, Dict[int, str]]]:
    """Input names, output names and dynamic axes of an Optimum-style decoder step with KV cache."""
    b, s, p, t = "batch_size", "sequence_length", "past_sequence_length", "past_sequence_length + sequence_length"
    ins = ["input_ids", "attention_mask", "position_ids"]
    outs = ["logits"]
    dyn: Dict[str, Dict[int, str]] = {"input_ids": {0: b, 1: s}, "attention_mask": {0: b, 1: t},
                                      "position_ids": {0: b, 1: s}, "logits": {0: b, 1: s}}
    for i in range(n_layers):
        for kv in ("key", "value"):
            ins.append(f"past_key_values.{i}.{kv}")
            outs.append(f"present.{i}.{kv}")
            dyn[f"past_key_values.{i}.{kv}"] = {0: b, 2: p}
            dyn[f"present.{i}.{kv}"] = {0: b, 2: t}
    return ins, outs, dyn
