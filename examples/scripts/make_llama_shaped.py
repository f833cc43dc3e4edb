#!/usr/bin/env python3
"""Benchmark-size Llama-style decoders (random weights), exported with the TorchScript exporter.

    /usr/bin/python3 examples/scripts/make_llama_shaped.py --preset qwen2.5-0.5b     # ~2.5 GB, external data
    /usr/bin/python3 examples/scripts/make_llama_shaped.py --preset llama3-8b-depth  # 7685 nodes, 9 MB
    /usr/bin/python3 examples/scripts/make_llama_shaped.py --preset qwen2.5-0.5b --layers 2   # quick trial

Writes into examples/generated/<preset>/ (git-ignored, never committed):
  model.onnx (+ model.onnx.data with --external, the default of qwen2.5-0.5b)
      Optimum-style decoder step: input_ids, attention_mask, position_ids, past_key_values.{i}.key/value
      -> logits, present.{i}.key/value (the same module code and export path as llama-tiny-kv)
  model.io.json       a recorded PyTorch decoder step (same format as the fixtures; atol/rtol 1e-3)
  manifest.json       config, sizes, node count, op histogram, timings, checker results

Presets (fuselab_models.LlamaForCausalLM; RMSNorm, rotary, GQA, SwiGLU):
  qwen2.5-0.5b      Qwen2.5-0.5B dimensions: 24 layers, d=896, 14 heads / 2 KV heads (head_dim 64),
                    intermediate 4864, vocab 151936, tied embeddings, rope_theta 1e6, 494 M parameters.
                    Llama-style, so without Qwen2's q/k/v biases. The TorchScript exporter folds
                    the tied lm head's transpose into a second 151936x896 initializer (+544 MB).
  llama3-8b-depth   Llama-3-8B's depth and head layout at 1/64 of its width: 32 layers, d=64,
                    32 heads / 8 KV heads (head_dim 2), intermediate 224, vocab 2048, rope_theta 5e5:
                    a realistic node count (7685; --layers 42 gives ~10k) in a small file, for
                    editor load tests.

Weights: fuselab_models.init_weights (numpy RandomState per parameter name), as the fixtures.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
from typing import Any, Dict

sys.dont_write_bytecode = True  # no __pycache__ next to the committed scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import onnx  # noqa: E402

import fixture_lib as fl  # noqa: E402
import fuselab_models as fm  # noqa: E402
import make_fixtures as mf  # noqa: E402

# Tolerance of the recorded io pair and of the KV-vs-full self-check: wide, deep random-weight models
# accumulate fp32 summation-order differences (~2e-4 on 24 layers of d=896; same as gpt2-small's 1e-3).
IO_ATOL, IO_RTOL = 1e-3, 1e-3

PRESETS: Dict[str, Dict[str, Any]] = {
    "qwen2.5-0.5b": dict(
        config=dict(vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24,
                    num_attention_heads=14, num_key_value_heads=2, max_position_embeddings=32768,
                    rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True),
        external=True,
    ),
    "llama3-8b-depth": dict(
        config=dict(vocab_size=2048, hidden_size=64, intermediate_size=224, num_hidden_layers=32,
                    num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=8192,
                    rms_norm_eps=1e-5, rope_theta=500000.0, tie_word_embeddings=False),
        external=False,
    ),
}


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", choices=sorted(PRESETS), required=True)
    p.add_argument("--out", default="", help="output folder (default examples/generated/<preset>)")
    p.add_argument("--layers", type=int, default=0, help="override the layer count (quick trials)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--external", dest="external", action="store_true", default=None,
                   help="weights in model.onnx.data (default for qwen2.5-0.5b)")
    g.add_argument("--single-file", dest="external", action="store_false", help="one .onnx file (< 2 GB only)")
    p.add_argument("--no-io", action="store_true", help="skip the recorded io.json")
    p.add_argument("--no-check", action="store_true", help="skip onnx.checker / shape inference")
    args = p.parse_args(argv)

    preset = PRESETS[args.preset]
    external = preset["external"] if args.external is None else args.external
    out = args.out or os.path.join(fl.REPO_ROOT, "examples", "generated", args.preset)
    os.makedirs(out, exist_ok=True)
    mf.set_determinism()
    t_all = time.perf_counter()

    cdict = dict(preset["config"])
    if args.layers:
        cdict["num_hidden_layers"] = args.layers
    tied = cdict.pop("tie_word_embeddings")
    cfg = fm.LlamaConfig(**cdict, tie_word_embeddings=tied)
    t0 = time.perf_counter()
    lm = fm.LlamaForCausalLM(cfg)
    if tied:  # fuselab's LlamaForCausalLM leaves the head untied; tie it as Qwen2.5-0.5B does
        lm.lm_head.weight = lm.model.embed_tokens.weight
    fm.init_weights(lm, mf.SEED)
    lm.eval()
    n_params = sum(p.numel() for p in {id(p): p for p in lm.parameters()}.values())
    print(f"built {args.preset} ({cfg.num_hidden_layers} layers, d={cfg.hidden_size}, {n_params / 1e6:.1f} M "
          f"parameters) in {time.perf_counter() - t0:.1f} s, peak RSS {rss_gib():.1f} GiB")

    t0 = time.perf_counter()
    specs = mf.causal_lm_specs(args.preset, "llama", lm, cfg, cfg.num_hidden_layers, cfg.vocab_size,
                               kv_check_atol=IO_ATOL)
    spec = specs[1]  # the KV-cache decoder step
    del specs
    print(f"reference forward passes (io pair + KV self-check) in {time.perf_counter() - t0:.1f} s")

    model_path = os.path.join(out, "model.onnx")
    data_name = "model.onnx.data"
    for stale in (model_path, os.path.join(out, data_name)):
        if os.path.exists(stale):
            os.remove(stale)
    with tempfile.TemporaryDirectory(dir=out) as td:
        path, warns, t_export = fl.export_torchscript_to_dir(
            spec.module, spec.args, spec.input_names, spec.output_names, spec.dynamic_axes, td, mf.OPSET
        )
        print(f"torch.onnx.export {t_export:.1f} s, peak RSS {rss_gib():.1f} GiB")
        del lm, spec.module
        gc.collect()
        t1 = time.perf_counter()
        model = onnx.load(path, load_external_data=False)
        stats = {}
        if external:
            stats = fl.externalize(model, td, os.path.join(out, data_name))
        elif any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
            raise SystemExit("the model is over 2 GB: it needs --external")
        with open(model_path, "wb") as f:
            f.write(model.SerializeToString())
        t_write = time.perf_counter() - t1
    size = os.path.getsize(model_path)
    data_size = os.path.getsize(os.path.join(out, data_name)) if external else 0
    print(f"wrote {fl.rel(model_path)} ({size / 1e6:.2f} MB"
          + (f" + {data_name} {data_size / 1e9:.3f} GB, {stats['external']} external tensors" if external else "")
          + f") in {t_write:.1f} s; {len(model.graph.node)} nodes")

    chk: Dict[str, Any] = {}
    if not args.no_check:
        t1 = time.perf_counter()
        chk = fl.check_and_infer(model, path_for_checker=model_path)
        print(f"checker {chk.get('checker')}; shape inference {chk.get('shape_inference')} "
              f"({time.perf_counter() - t1:.1f} s)")
    if not args.no_io:
        fl.write_if_changed(os.path.join(out, "model.io.json"), fl.json_bytes(
            fl.io_json("model.onnx", spec.io_inputs, spec.io_outputs, IO_ATOL, IO_RTOL, spec.io_note)))

    summ = fl.summarize(model)
    manifest = {
        "generator": "examples/scripts/make_llama_shaped.py --preset " + args.preset
                     + (f" --layers {args.layers}" if args.layers else ""),
        "file": "model.onnx", "architecture": "llama", "exporter": "torchscript", "torch_version": fl.TORCH_VERSION,
        "onnx_version": fl.ONNX_VERSION, "opset": mf.OPSET, "has_kv": True, "parameters": n_params,
        "config": dict(cfg.to_dict(), tie_word_embeddings=tied), "model_bytes": size,
        "external_data": {"location": data_name, "bytes": data_size, **stats} if external else None,
        "export_seconds": round(t_export, 1), "total_seconds": round(time.perf_counter() - t_all, 1),
        "peak_rss_gib": round(rss_gib(), 2), **summ, **chk, "export_warnings": warns,
    }
    fl.write_if_changed(os.path.join(out, "manifest.json"), fl.json_bytes(manifest))
    print(f"done in {time.perf_counter() - t_all:.1f} s; peak RSS {rss_gib():.1f} GiB")
    return 0 if str(chk.get("checker", "ok")).startswith("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
