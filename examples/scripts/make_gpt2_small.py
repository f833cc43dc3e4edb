#!/usr/bin/env python3
"""Benchmark-size GPT-2 (GPT-2-small shape, random weights) exported with the TorchScript exporter.

    /usr/bin/python3 examples/scripts/make_gpt2_small.py                 # both variants, single files
    /usr/bin/python3 examples/scripts/make_gpt2_small.py --external      # weights in <file>.data
    /usr/bin/python3 examples/scripts/make_gpt2_small.py --variants nokv --no-io

Writes into examples/generated/ (git-ignored, never committed):
  gpt2-small.onnx      input_ids, attention_mask -> logits                       (~650 MB)
  gpt2-small-kv.onnx   Optimum-style decoder step with past_key_values.{i}.key/value in,
                       present.{i}.key/value out                                   (~650 MB)
  <name>.io.json       a recorded PyTorch input/output pair (same format as the fixtures),
  gpt2-small.manifest.json.

Same module code as the gpt2-tiny fixture (fuselab_models.GPT2LMHeadModel): 12 layers, d=768, 12 heads,
vocab 50257, n_positions 1024, tied lm head (the exporter folds the transpose into a second
50257x768 initializer, hence ~650 MB rather than ~500 MB).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ next to the committed scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import onnx  # noqa: E402
import torch  # noqa: E402

import fixture_lib as fl  # noqa: E402
import fuselab_models as fm  # noqa: E402
import make_fixtures as mf  # noqa: E402

DEFAULT_OUT = os.path.join(fl.REPO_ROOT, "examples", "generated")


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=DEFAULT_OUT)
    p.add_argument("--external", action="store_true", help="save weights as external data (<file>.onnx.data)")
    p.add_argument("--variants", default="nokv,kv", help="comma list of nokv,kv")
    p.add_argument("--no-io", action="store_true", help="skip the recorded io.json pairs")
    p.add_argument("--no-check", action="store_true", help="skip onnx.checker / shape inference")
    p.add_argument("--layers", type=int, default=12, help="override n_layer (for quick trials)")
    args = p.parse_args(argv)

    mf.set_determinism()
    torch.set_num_threads(os.cpu_count() or 1)
    os.makedirs(args.out, exist_ok=True)
    variants = args.variants.split(",")

    t0 = time.perf_counter()
    cfg = fm.GPT2Config(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=args.layers, n_head=12)
    lm = fm.GPT2LMHeadModel(cfg)
    fm.init_weights(lm, mf.SEED)
    lm.eval()
    n_params = sum(p.numel() for p in lm.parameters())
    t_build = time.perf_counter() - t0
    print(f"built GPT-2 ({cfg.n_layer} layers, d={cfg.n_embd}, {n_params / 1e6:.1f} M params) in {t_build:.1f} s")

    t0 = time.perf_counter()
    specs = mf.causal_lm_specs("gpt2-small", "gpt2", lm, cfg, cfg.n_layer, cfg.vocab_size)
    print(f"reference forward passes (io pairs + KV self-check) in {time.perf_counter() - t0:.1f} s")
    specs = [s for s in specs if ("kv" if s.has_kv else "nokv") in variants]

    entries = []
    for spec in specs:
        t0 = time.perf_counter()
        data, warns, t_export = fl.export_torchscript(
            spec.module, spec.args, spec.input_names, spec.output_names, spec.dynamic_axes, mf.OPSET
        )
        path = os.path.join(args.out, spec.file)
        t1 = time.perf_counter()
        if args.external:
            loc = spec.file + ".data"
            fl.save_external(data, path, loc, size_threshold=1024)
        else:
            fl.write_if_changed(path, data)
        t_write = time.perf_counter() - t1
        sha = fl.sha256_bytes(data)
        size = len(data)
        model = onnx.ModelProto.FromString(data)
        del data
        gc.collect()
        print(f"{spec.file}: torch.onnx.export {t_export:.1f} s, write {t_write:.1f} s, {size / 1e6:.1f} MB, "
              f"{len(model.graph.node)} nodes, peak RSS {rss_gib():.1f} GiB")
        chk = {}
        if not args.no_check:
            t1 = time.perf_counter()
            if args.external:
                chk = fl.check_and_infer(onnx.load(path, load_external_data=False), path_for_checker=path)
            else:
                chk = fl.check_and_infer(model)
            print(f"  checker {chk.get('checker')} shape_inference {chk.get('shape_inference')} "
                  f"({time.perf_counter() - t1:.1f} s)")
        if not args.no_io:
            io_name = spec.name + ".io.json"
            fl.write_if_changed(
                os.path.join(args.out, io_name),
                fl.json_bytes(fl.io_json(spec.file, spec.io_inputs, spec.io_outputs, 1e-3, 1e-3, spec.io_note)),
            )
        summ = fl.summarize(model)
        summ.pop("initializers", None)
        e = {
            "file": spec.file, "architecture": "gpt2", "exporter": "torchscript", "torch_version": fl.TORCH_VERSION,
            "opset": mf.OPSET, "has_kv": spec.has_kv, "config": spec.config, "external_data": args.external,
            "serialized_bytes": size, "sha256_of_single_file_serialization": sha,
            "export_seconds": round(t_export, 2), "total_seconds": round(time.perf_counter() - t0, 2),
        }
        e.update(summ)
        e.update(chk)
        e["export_warnings"] = warns
        entries.append(e)
        del model
        gc.collect()

    fl.write_if_changed(os.path.join(args.out, "gpt2-small.manifest.json"), fl.json_bytes({"fixtures": entries}))
    print(f"done; peak RSS {rss_gib():.1f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
