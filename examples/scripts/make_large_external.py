#!/usr/bin/env python3
"""A > 2 GB external-data ONNX decoder for import tests, written fast and without holding its weights.

    /usr/bin/python3 examples/scripts/make_large_external.py                      # ~3.0 GB of weights
    /usr/bin/python3 examples/scripts/make_large_external.py --layers 60          # ~4.7 GB: past 4 GiB
    /usr/bin/python3 examples/scripts/make_large_external.py --layers 1 --hidden 64 --heads 4 --kv-heads 2 \\
        --intermediate 128 --vocab 256 --io --out /tmp/large-small                 # check the mechanism

Writes into examples/generated/large-external/ (git-ignored, never committed):
  model.onnx          the graph (~100 KB): Optimum-style decoder step with KV cache (input_ids,
                      attention_mask, position_ids, past_key_values.{i}.key/value -> logits,
                      present.{i}.key/value), the same module code and TorchScript export as llama-tiny-kv
  model.onnx_data     every weight as external data, one file, offsets aligned to 4096 bytes
  manifest.json       per tensor: name, dims, offset, length and its fill value (import tests can
                      check bytes at any offset), sizes and timings
  model.io.json       with --io only: a PyTorch decoder step on the same (constant) weights

Default shape: Qwen2.5-0.5B's layer (d=896, 14 heads / 2 KV heads, intermediate 4864, vocab 151936)
at 32 layers with an untied lm head: 749 M parameters, 3.0 GB (> 2 GiB, so offsets pass 2^31).

How it stays fast and small in memory: the modules are built with their weight allocation left
untouched (reset_parameters skipped), every parameter is then replaced by a stride-0 view of one
zero (`expand`), and the graph is traced with `export_params=False`, so torch exports the parameters
as graph inputs (the exporter still folds Linear weights' transposes, giving the usual
`onnx::MatMul_*` names and pre-transposed shapes). Each such input becomes an initializer whose data
is a constant (parameter i in named_parameters order holds (1 + i % 64) / 1024 everywhere, exact in
float32; a folded transpose holds its parameter's constant, since transposing a
constant tensor changes nothing) written in chunks of --chunk-mib MiB, so no weight is ever held in
memory. `--fill zeros` writes a sparse file instead (seek, no data written: faster, no disk used).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import time
from contextlib import contextmanager
from typing import Any, Dict, List

sys.dont_write_bytecode = True  # no __pycache__ next to the committed scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

import fixture_lib as fl  # noqa: E402
import fuselab_models as fm  # noqa: E402

DEFAULT_OUT = os.path.join(fl.REPO_ROOT, "examples", "generated", "large-external")
DATA_NAME = "model.onnx_data"
ALIGN = 4096
OPSET = 17


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024)


def fill_value(i: int) -> float:
    """The constant parameter i (named_parameters order) is filled with: exact in float32."""
    return (1 + i % 64) / 1024


@contextmanager
def no_weight_init():
    """Build modules without touching their weight memory (torch.empty pages stay unmapped)."""
    saved = nn.Linear.reset_parameters, nn.Embedding.reset_parameters
    nn.Linear.reset_parameters = lambda self: None
    nn.Embedding.reset_parameters = lambda self: None
    try:
        yield
    finally:
        nn.Linear.reset_parameters, nn.Embedding.reset_parameters = saved


def stride0_parameters(model: nn.Module) -> None:
    """Replace every parameter by a stride-0 view of one scalar (4 bytes, whatever its shape).

    Parameter i (named_parameters order) gets the scalar (1 + i) / 1024: distinct values, because the
    exporter de-duplicates parameters that are equal (it would merge same-shaped all-zero weights).
    """
    params = dict(model.named_parameters())
    index = {n: i for i, n in enumerate(params)}
    for m_name, m in model.named_modules():
        for name, p in list(m._parameters.items()):
            if p is not None:
                full = f"{m_name}.{name}" if m_name else name
                scalar = torch.full((1,), (1 + index[full]) / 1024)
                m._parameters[name] = nn.Parameter(scalar.expand(*p.shape), requires_grad=False)


def constant_parameters(model: nn.Module, values: Dict[str, float]) -> None:
    """Materialize parameters filled with their constants (for the --io reference only)."""
    for m_name, m in model.named_modules():
        for name, p in list(m._parameters.items()):
            if p is not None:
                full = f"{m_name}.{name}" if m_name else name
                m._parameters[name] = nn.Parameter(torch.full(tuple(p.shape), values[full]), requires_grad=False)


def parameter_of(graph: onnx.GraphProto, input_name: str, param_names: List[str]) -> str:
    """The model parameter behind a parameter input: its own name, or, for a transpose the exporter
    folded (`onnx::MatMul_NNN`), the Linear whose MatMul consumes it (`/model/layers.0/mlp/up_proj/MatMul`
    -> `model.layers.0.mlp.up_proj.weight`)."""
    if input_name in param_names:
        return input_name
    for n in graph.node:
        if input_name in n.input and n.op_type in ("MatMul", "Gemm"):
            path = n.name.strip("/").rsplit("/", 1)[0].replace("/", ".")
            cand = path + ".weight"
            if cand in param_names:
                return cand
    raise LookupError(f"no parameter found behind graph input {input_name}")


def write_constant(f, nbytes: int, value: float, chunk: int, sparse: bool) -> None:
    if sparse or value == 0.0:
        f.seek(nbytes, os.SEEK_CUR)
        return
    block = np.full(min(nbytes, chunk) // 4, value, dtype="<f4").tobytes()
    left = nbytes
    while left:
        n = min(left, len(block))
        f.write(block[:n] if n < len(block) else block)
        left -= n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=DEFAULT_OUT)
    p.add_argument("--layers", type=int, default=32)
    p.add_argument("--hidden", type=int, default=896)
    p.add_argument("--heads", type=int, default=14)
    p.add_argument("--kv-heads", type=int, default=2)
    p.add_argument("--intermediate", type=int, default=4864)
    p.add_argument("--vocab", type=int, default=151936)
    p.add_argument("--fill", choices=("constant", "zeros"), default="constant",
                   help="constant: each tensor its own constant, written; zeros: a sparse file, nothing written")
    p.add_argument("--chunk-mib", type=int, default=64, help="write buffer size")
    p.add_argument("--io", action="store_true",
                   help="also record model.io.json from PyTorch on the same constant weights (materializes them)")
    p.add_argument("--no-check", action="store_true", help="skip onnx.checker / shape inference")
    args = p.parse_args(argv)

    t_all = time.perf_counter()
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    cfg = fm.LlamaConfig(vocab_size=args.vocab, hidden_size=args.hidden, intermediate_size=args.intermediate,
                         num_hidden_layers=args.layers, num_attention_heads=args.heads,
                         num_key_value_heads=args.kv_heads, max_position_embeddings=32768, rope_theta=1000000.0)
    with no_weight_init():
        lm = fm.LlamaForCausalLM(cfg)
    stride0_parameters(lm)
    lm.eval()
    n_params = sum(p.numel() for p in lm.parameters())
    hd = cfg.hidden_size // cfg.num_attention_heads
    print(f"built: {cfg.num_hidden_layers} layers, d={cfg.hidden_size}, {n_params / 1e6:.1f} M parameters "
          f"({n_params * 4 / 1e9:.3f} GB fp32), peak RSS {rss_gib():.2f} GiB")

    # ---- trace the graph (parameters become graph inputs)
    ins, outs, dyn = fl.decoder_kv_signature(cfg.num_hidden_layers)
    past_len, new = 5, 3
    past = tuple((torch.zeros(1, cfg.num_key_value_heads, past_len, hd), torch.zeros(1, cfg.num_key_value_heads, past_len, hd))
                 for _ in range(cfg.num_hidden_layers))
    step_args = (torch.zeros(1, new, dtype=torch.int64), torch.ones(1, past_len + new, dtype=torch.int64),
                 torch.arange(past_len, past_len + new, dtype=torch.int64)[None], past)
    t0 = time.perf_counter()
    buf = io.BytesIO()
    with fl.CaptureWarnings() as cw, torch.no_grad():
        torch.onnx.export(fm.CausalLMWithPast(lm), step_args, buf, input_names=ins, output_names=outs,
                          dynamic_axes=dyn, opset_version=OPSET, do_constant_folding=True, export_params=False)
    model = onnx.ModelProto.FromString(buf.getvalue())
    t_trace = time.perf_counter() - t0
    print(f"traced + exported the graph in {t_trace:.1f} s: {len(model.graph.node)} nodes, peak RSS {rss_gib():.2f} GiB")

    # ---- parameter inputs -> external initializers, data written in chunks
    g = model.graph
    user = set(ins)
    param_inputs = [v for v in g.input if v.name not in user]
    keep = [v for v in g.input if v.name in user]
    del g.input[:]
    g.input.extend(keep)
    tensors: List[Dict[str, Any]] = []
    param_names = [n for n, _ in lm.named_parameters()]
    data_path = os.path.join(args.out, DATA_NAME)
    t0 = time.perf_counter()
    chunk = args.chunk_mib << 20
    with open(data_path, "wb") as f:
        for i, v in enumerate(param_inputs):
            tt = v.type.tensor_type
            if tt.elem_type != onnx.TensorProto.FLOAT:
                raise TypeError(f"parameter input {v.name}: element type {tt.elem_type}, expected float")
            dims = [d.dim_value for d in tt.shape.dim]
            if any(d <= 0 for d in dims):
                raise ValueError(f"parameter input {v.name}: non-static dims {dims}")
            nbytes = 4 * int(np.prod(dims))
            pad = (-f.tell()) % ALIGN
            f.seek(pad, os.SEEK_CUR)
            offset = f.tell()
            param = parameter_of(g, v.name, param_names)
            value = 0.0 if args.fill == "zeros" else fill_value(param_names.index(param))
            write_constant(f, nbytes, value, chunk, args.fill == "zeros")
            t = g.initializer.add()
            t.name, t.data_type = v.name, onnx.TensorProto.FLOAT
            t.dims.extend(dims)
            t.data_location = onnx.TensorProto.EXTERNAL
            for k, val in (("location", DATA_NAME), ("offset", str(offset)), ("length", str(nbytes))):
                e = t.external_data.add()
                e.key, e.value = k, val
            tensors.append({"name": v.name, "parameter": param, "dims": dims, "offset": offset, "length": nbytes,
                            "value": value})
        f.truncate(f.tell())
    data_size = os.path.getsize(data_path)
    t_data = time.perf_counter() - t0
    model_path = os.path.join(args.out, "model.onnx")
    with open(model_path, "wb") as f:
        f.write(model.SerializeToString())
    print(f"wrote {fl.rel(data_path)}: {data_size / 1e9:.3f} GB ({data_size / 2**30:.2f} GiB), {len(tensors)} tensors, "
          f"in {t_data:.1f} s ({data_size / 1e6 / max(t_data, 1e-9):.0f} MB/s); {fl.rel(model_path)} "
          f"{os.path.getsize(model_path) / 1e3:.1f} KB")

    chk: Dict[str, Any] = {}
    if not args.no_check:
        t0 = time.perf_counter()
        chk = fl.check_and_infer(onnx.load(model_path, load_external_data=False), path_for_checker=model_path)
        for t in tensors:  # every range inside the data file
            assert t["offset"] + t["length"] <= data_size, t["name"]
        print(f"checker {chk.get('checker')}; shape inference {chk.get('shape_inference')} "
              f"({time.perf_counter() - t0:.1f} s)")

    if args.io:
        # PyTorch on the same constant weights (each parameter's value, as written for its tensor)
        values = {n: (0.0 if args.fill == "zeros" else fill_value(i)) for i, n in enumerate(param_names)}
        constant_parameters(lm, values)
        r = np.random.RandomState(0)
        step_ids = torch.from_numpy(r.randint(0, cfg.vocab_size, size=(1, new)).astype(np.int64))
        step_past = tuple((torch.from_numpy(r.normal(size=a.shape).astype(np.float32)),
                           torch.from_numpy(r.normal(size=b.shape).astype(np.float32))) for a, b in past)
        io_in = {"input_ids": step_ids, "attention_mask": step_args[1], "position_ids": step_args[2]}
        for i, (k, v) in enumerate(step_past):
            io_in[f"past_key_values.{i}.key"], io_in[f"past_key_values.{i}.value"] = k, v
        with torch.no_grad():
            logits, present = fm.CausalLMWithPast(lm)(step_ids, step_args[1], step_args[2], step_past)
        io_out = {"logits": logits}
        for i, (k, v) in enumerate(present):
            io_out[f"present.{i}.key"], io_out[f"present.{i}.value"] = k, v
        fl.write_if_changed(os.path.join(args.out, "model.io.json"), fl.json_bytes(fl.io_json(
            "model.onnx", io_in, io_out, 1e-4, 1e-3,
            f"batch 1, past {past_len} (random N(0,1) cache), {new} new tokens; weights: the constants of manifest.json")))
        print("wrote model.io.json (PyTorch reference on the constant weights)")

    manifest = {
        "generator": "examples/scripts/make_large_external.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "file": "model.onnx", "external_data_file": DATA_NAME, "external_data_bytes": data_size,
        "alignment": ALIGN, "fill": args.fill, "fill_rule": "parameter i (named_parameters order) = (1 + i % 64) / 1024; a folded transpose "
        "(onnx::MatMul_*) holds its parameter's value"
        if args.fill == "constant" else "zeros (sparse file)",
        "config": cfg.to_dict(), "parameters": n_params, "torch_version": fl.TORCH_VERSION, "opset": OPSET,
        "seconds": {"trace": round(t_trace, 2), "data": round(t_data, 2), "total": round(time.perf_counter() - t_all, 2)},
        "peak_rss_gib": round(rss_gib(), 2), "node_count": len(model.graph.node), **chk,
        "export_warnings": cw.messages, "tensors": tensors,
    }
    fl.write_if_changed(os.path.join(args.out, "manifest.json"), fl.json_bytes(manifest))
    print(f"done in {time.perf_counter() - t_all:.1f} s, peak RSS {rss_gib():.2f} GiB")
    return 0 if str(chk.get("checker", "ok")).startswith("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
