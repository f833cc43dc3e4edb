#!/usr/bin/env python3
"""Make Fuselab's committed test fixtures: tiny random-weight ONNX exports of real architectures.

    /usr/bin/python3 examples/scripts/make_fixtures.py            # all exporters this torch has
    /usr/bin/python3 examples/scripts/make_fixtures.py --exporters torchscript
    python3 examples/scripts/make_fixtures.py --exporters dynamo   # on a torch >= 2.1 machine:
                                                                   # adds *.dynamo.onnx, keeps the rest

Writes into examples/fixtures/ (see examples/scripts/README.md):
  gpt2-tiny.onnx, gpt2-tiny-kv.onnx, llama-tiny.onnx, llama-tiny-kv.onnx, qwen2-tiny[-kv].onnx,
  mistral-tiny[-kv].onnx, phi3-tiny[-kv].onnx, bert-tiny.onnx, cnn-tiny.onnx,
  external/gpt2-tiny-external.onnx (+ .onnx.data), <name>.io.json for each, manifest.json.

Deterministic: weights come from numpy RandomState streams keyed by parameter name, inputs from a
fixed seed; files are rewritten only when their bytes change.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from typing import Any, Callable, Dict, List

sys.dont_write_bytecode = True  # no __pycache__ next to the committed scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402

import fixture_lib as fl  # noqa: E402
import fuselab_models as fm  # noqa: E402

SEED = 20240601
OPSET = 17
BATCH = 2
SEQ = 8  # no-KV fixtures
PAST = 5  # KV fixtures: past length ...
NEW = 3  # ... and new tokens in the recorded step
ATOL, RTOL = 1e-4, 1e-3

DEFAULT_OUT = os.path.join(fl.REPO_ROOT, "examples", "fixtures")

# Dimension names as Optimum writes them.
B, S, P, T = "batch_size", "sequence_length", "past_sequence_length", "past_sequence_length + sequence_length"

REPRODUCIBILITY_NOTE = (
    "torchscript fixtures: each export is done twice in-process and compared (bytes_identical_in_process); "
    "two full runs of this script with Debian python3-torch 1.13.0a0 / python3-onnx 1.12.0 produced "
    "byte-identical files (sha256 in this manifest). Other torch versions give different bytes "
    "(node/value names, constant folding), but the same weights (numpy RandomState init)."
)


def rng_inputs(tag: str) -> np.random.RandomState:
    return fm._rng(SEED, "inputs/" + tag)


def set_determinism():
    torch.manual_seed(SEED)
    np.random.seed(SEED % (2**32))
    try:
        torch.use_deterministic_algorithms(True)
    except Exception:
        pass
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


# --------------------------------------------------------------------------------------
# Fixture specs
# --------------------------------------------------------------------------------------

class Spec:
    """Everything needed to export one fixture and record its io pair."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def _arch_extras(cfg) -> Dict[str, Any]:
    """Summary keys only the Llama-family variants have (none for llama itself: its entries stay as they were)."""
    e: Dict[str, Any] = {}
    if getattr(cfg, "qkv_bias", False):
        e["qkv_bias"] = True
    if getattr(cfg, "sliding_window", None) is not None:
        e["sliding_window"] = cfg.sliding_window
        e["sliding_window_note"] = (
            f"window {cfg.sliding_window} > every position the fixture sees (max_position_embeddings "
            f"{cfg.max_position_embeddings}); the eager mask applies it only when the key length exceeds it, "
            "so the exported mask is the plain causal one"
        )
    if getattr(cfg, "fused_qkv", False):
        e["fused_projections"] = "qkv_proj (sliced into q/k/v), gate_up_proj (chunked into gate/up)"
    return e


def _lm_config_summary(arch: str, cfg) -> Dict[str, Any]:
    if arch == "gpt2":
        return {
            "layers": cfg.n_layer, "d_model": cfg.n_embd, "heads": cfg.n_head, "kv_heads": cfg.n_head,
            "head_dim": cfg.n_embd // cfg.n_head, "vocab": cfg.vocab_size, "max_positions": cfg.n_positions,
            "intermediate": cfg.n_inner or 4 * cfg.n_embd, "norm": "LayerNorm", "norm_eps": cfg.layer_norm_epsilon,
            "activation": "gelu_new (tanh approximation)", "positions": "learned", "tied_lm_head": cfg.tie_word_embeddings,
            "hf_config": cfg.to_dict(),
        }
    return {
        "layers": cfg.num_hidden_layers, "d_model": cfg.hidden_size, "heads": cfg.num_attention_heads,
        "kv_heads": cfg.num_key_value_heads, "head_dim": cfg.hidden_size // cfg.num_attention_heads,
        "vocab": cfg.vocab_size, "max_positions": cfg.max_position_embeddings, "intermediate": cfg.intermediate_size,
        "norm": "RMSNorm", "norm_eps": cfg.rms_norm_eps, "activation": "SwiGLU (SiLU)",
        "positions": f"rotary (rotate_half, theta {cfg.rope_theta})", "tied_lm_head": cfg.tie_word_embeddings,
        **_arch_extras(cfg),
        "hf_config": cfg.to_dict(),
    }


def causal_lm_specs(name: str, arch: str, lm: torch.nn.Module, cfg, n_layers: int, vocab: int,
                    kv_check_atol: float = 1e-4) -> List[Spec]:
    """Two specs: <name> (no KV) and <name>-kv (Optimum decoder step with past/present).

    kv_check_atol: how far the cached step's logits may be from the full forward's (fp32 summation
    order differs; deep, wide models need more than the tiny fixtures' 1e-4).
    """
    r = rng_inputs(name)
    ids_all = torch.from_numpy(r.randint(0, vocab, size=(BATCH, PAST + NEW)).astype(np.int64))

    # ---- no KV
    nokv = fm.CausalLMNoCache(lm).eval()
    ids = torch.from_numpy(r.randint(0, vocab, size=(BATCH, SEQ)).astype(np.int64))
    mask = torch.ones(BATCH, SEQ, dtype=torch.int64)
    with torch.no_grad():
        logits = nokv(ids, mask)
    s_nokv = Spec(
        name=name, file=f"{name}.onnx", architecture=arch, has_kv=False, module=nokv, args=(ids, mask),
        input_names=["input_ids", "attention_mask"], output_names=["logits"],
        dynamic_axes={"input_ids": {0: B, 1: S}, "attention_mask": {0: B, 1: S}, "logits": {0: B, 1: S}},
        io_inputs={"input_ids": ids, "attention_mask": mask}, io_outputs={"logits": logits},
        config=_lm_config_summary(arch, cfg), training=None,
        io_note=f"batch {BATCH}, sequence {SEQ}, attention_mask all ones; positions come from an in-graph arange",
    )

    # ---- KV step: a real first step (PAST tokens, empty past) feeds the recorded step (NEW tokens).
    kv = fm.CausalLMWithPast(lm).eval()
    n_kv = cfg.n_head if arch == "gpt2" else cfg.num_key_value_heads
    head_dim = (cfg.n_embd // cfg.n_head) if arch == "gpt2" else cfg.hidden_size // cfg.num_attention_heads
    empty = tuple(
        (torch.zeros(BATCH, n_kv, 0, head_dim), torch.zeros(BATCH, n_kv, 0, head_dim)) for _ in range(n_layers)
    )
    with torch.no_grad():
        _, past = kv(
            ids_all[:, :PAST], torch.ones(BATCH, PAST, dtype=torch.int64),
            torch.arange(PAST, dtype=torch.int64).unsqueeze(0).expand(BATCH, -1).contiguous(), empty,
        )
        step_ids = ids_all[:, PAST:].contiguous()
        step_mask = torch.ones(BATCH, PAST + NEW, dtype=torch.int64)
        step_pos = torch.arange(PAST, PAST + NEW, dtype=torch.int64).unsqueeze(0).expand(BATCH, -1).contiguous()
        past = tuple((k.contiguous(), v.contiguous()) for k, v in past)
        step_logits, present = kv(step_ids, step_mask, step_pos, past)
        # Self-check: the cached step equals the full no-cache forward on all PAST+NEW tokens.
        full = nokv(ids_all, torch.ones(BATCH, PAST + NEW, dtype=torch.int64))
        err = (full[:, PAST:] - step_logits).abs().max().item()
        assert err < kv_check_atol, f"{name}: KV step disagrees with full forward (max abs err {err})"

    in_names = ["input_ids", "attention_mask", "position_ids"]
    out_names = ["logits"]
    dyn = {"input_ids": {0: B, 1: S}, "attention_mask": {0: B, 1: T}, "position_ids": {0: B, 1: S}, "logits": {0: B, 1: S}}
    io_in = {"input_ids": step_ids, "attention_mask": step_mask, "position_ids": step_pos}
    io_out = {"logits": step_logits}
    for i in range(n_layers):
        for j, kvn in enumerate(("key", "value")):
            pin, pout = f"past_key_values.{i}.{kvn}", f"present.{i}.{kvn}"
            in_names.append(pin)
            out_names.append(pout)
            dyn[pin] = {0: B, 2: P}
            dyn[pout] = {0: B, 2: T}
            io_in[pin] = past[i][j]
            io_out[pout] = present[i][j]
    s_kv = Spec(
        name=f"{name}-kv", file=f"{name}-kv.onnx", architecture=arch, has_kv=True, module=kv,
        args=(step_ids, step_mask, step_pos, past), input_names=in_names, output_names=out_names,
        dynamic_axes=dyn, io_inputs=io_in, io_outputs=io_out, config=_lm_config_summary(arch, cfg), training=None,
        io_note=(
            f"decoder step: batch {BATCH}, past {PAST} (past_key_values are the presents of a real first step "
            f"over {PAST} tokens), {NEW} new tokens, attention_mask all ones over {PAST + NEW}, position_ids "
            f"{PAST}..{PAST + NEW - 1}; logits equal the no-cache model's last {NEW} positions (max abs err {err:.2e})"
        ),
    )
    return [s_nokv, s_kv]


def gpt2_specs() -> List[Spec]:
    cfg = fm.GPT2Config(vocab_size=256, n_positions=128, n_embd=64, n_layer=2, n_head=4)
    lm = fm.GPT2LMHeadModel(cfg)
    fm.init_weights(lm, SEED)
    lm.eval()
    return causal_lm_specs("gpt2-tiny", "gpt2", lm, cfg, cfg.n_layer, cfg.vocab_size)


def llama_specs() -> List[Spec]:
    cfg = fm.LlamaConfig(
        vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
    )
    lm = fm.LlamaForCausalLM(cfg)
    fm.init_weights(lm, SEED)
    lm.eval()
    return causal_lm_specs("llama-tiny", "llama", lm, cfg, cfg.num_hidden_layers, cfg.vocab_size)


def qwen2_specs() -> List[Spec]:
    cfg = fm.Qwen2Config(
        vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
    )
    lm = fm.LlamaForCausalLM(cfg)
    fm.init_weights(lm, SEED)
    lm.eval()
    return causal_lm_specs("qwen2-tiny", "qwen2", lm, cfg, cfg.num_hidden_layers, cfg.vocab_size)


def mistral_specs() -> List[Spec]:
    cfg = fm.MistralConfig(
        vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128, sliding_window=4096,
    )
    lm = fm.LlamaForCausalLM(cfg)
    fm.init_weights(lm, SEED)
    lm.eval()
    return causal_lm_specs("mistral-tiny", "mistral", lm, cfg, cfg.num_hidden_layers, cfg.vocab_size)


def phi3_specs() -> List[Spec]:
    cfg = fm.Phi3Config(
        vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128,
    )
    lm = fm.LlamaForCausalLM(cfg)
    fm.init_weights(lm, SEED)
    lm.eval()
    return causal_lm_specs("phi3-tiny", "phi3", lm, cfg, cfg.num_hidden_layers, cfg.vocab_size)


def bert_spec() -> Spec:
    cfg = fm.BertConfig(vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128, max_position_embeddings=128)
    m = fm.BertModel(cfg)
    fm.init_weights(m, SEED)
    m.eval()
    r = rng_inputs("bert-tiny")
    ids = torch.from_numpy(r.randint(0, cfg.vocab_size, size=(BATCH, SEQ)).astype(np.int64))
    mask = torch.ones(BATCH, SEQ, dtype=torch.int64)
    tt = torch.zeros(BATCH, SEQ, dtype=torch.int64)
    tt[:, SEQ // 2:] = 1  # sentence A / sentence B
    with torch.no_grad():
        last, pooled = m(ids, mask, tt)
    return Spec(
        name="bert-tiny", file="bert-tiny.onnx", architecture="bert", has_kv=False, module=m, args=(ids, mask, tt),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state", "pooler_output"],
        dynamic_axes={"input_ids": {0: B, 1: S}, "attention_mask": {0: B, 1: S}, "token_type_ids": {0: B, 1: S},
                      "last_hidden_state": {0: B, 1: S}, "pooler_output": {0: B}},
        io_inputs={"input_ids": ids, "attention_mask": mask, "token_type_ids": tt},
        io_outputs={"last_hidden_state": last, "pooler_output": pooled},
        config={
            "layers": cfg.num_hidden_layers, "d_model": cfg.hidden_size, "heads": cfg.num_attention_heads,
            "kv_heads": cfg.num_attention_heads, "head_dim": cfg.hidden_size // cfg.num_attention_heads,
            "vocab": cfg.vocab_size, "max_positions": cfg.max_position_embeddings,
            "intermediate": cfg.intermediate_size, "norm": "LayerNorm", "norm_eps": cfg.layer_norm_eps,
            "activation": "gelu (erf)", "positions": "learned (absolute)", "hf_config": cfg.to_dict(),
        },
        training=None,
        io_note=f"batch {BATCH}, sequence {SEQ}, attention_mask all ones, token_type_ids 0 then 1 from position {SEQ // 2}",
    )


def cnn_spec() -> Spec:
    cfg = fm.CNNConfig()
    m = fm.TinyResNet(cfg)
    fm.init_weights(m, SEED)
    m.eval()
    r = rng_inputs("cnn-tiny")
    x = torch.from_numpy(r.normal(0.0, 1.0, size=(BATCH, 3, cfg.image_size, cfg.image_size)).astype(np.float32))
    with torch.no_grad():
        y = m(x)
    return Spec(
        name="cnn-tiny", file="cnn-tiny.onnx", architecture="resnet-cnn", has_kv=False, module=m, args=(x,),
        input_names=["pixel_values"], output_names=["logits"],
        dynamic_axes={"pixel_values": {0: B}, "logits": {0: B}},
        io_inputs={"pixel_values": x}, io_outputs={"logits": y},
        config={
            "layers": 5, "widths": list(cfg.widths), "in_channels": cfg.in_channels, "image_size": cfg.image_size,
            "num_classes": cfg.num_classes,
            "blocks": "stem conv3x3-BN-ReLU, MaxPool 3/2, BasicBlock(16), BasicBlock(16->32, stride 2, 1x1 conv "
                      "shortcut), GlobalAveragePool, Flatten, Gemm",
            "batchnorm": "kept as BatchNormalization nodes (exported with TrainingMode.PRESERVE on an eval "
                         "model, so the exporter's Conv+BN fold is skipped): a Conv+BN folding target",
        },
        # PRESERVE on an eval-mode model: inference-mode BatchNormalization, not folded into Conv.
        training=torch.onnx.TrainingMode.PRESERVE,
        io_note=f"batch {BATCH}, pixel_values ~ N(0,1)",
    )


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------

def manifest_entry(spec: Spec, model: onnx.ModelProto, file_rel: str, exporter: str, model_bytes_sha: str,
                   size: int, warnings_: List[str], extra: Dict[str, Any]) -> Dict[str, Any]:
    summ = fl.summarize(model)
    opset = summ["opset_imports"].get("ai.onnx")
    # the concrete output dims recorded in the io pair, next to the symbolic ones
    for o in summ["outputs"]:
        t = spec.io_outputs.get(o["name"])
        if t is not None:
            o["recorded_dims"] = list(t.shape)
    for i in summ["inputs"]:
        t = spec.io_inputs.get(i["name"])
        if t is not None:
            i["recorded_dims"] = list(t.shape)
    e = {
        "name": spec.name if exporter == "torchscript" else spec.name + ".dynamo",
        "file": file_rel,
        "architecture": spec.architecture,
        "exporter": exporter,
        "torch_version": fl.TORCH_VERSION,
        "onnx_version": fl.ONNX_VERSION,
        "opset": opset,
        "has_kv": spec.has_kv,
        "config": spec.config,
        "io": None,
        "size_bytes": size,
        "sha256": model_bytes_sha,
    }
    e.update(summ)
    e.update(extra)
    e["export_warnings"] = warnings_
    return e


def run(args) -> int:
    set_determinism()
    out_dir = os.path.abspath(args.out)
    os.makedirs(out_dir, exist_ok=True)
    exporters = args.exporters.split(",")
    want_dynamo = "dynamo" in exporters
    if want_dynamo and not fl.dynamo_available():
        print(f"[dynamo] torch {fl.TORCH_VERSION}: no dynamo exporter (needs torch >= 2.1); skipping dynamo variants")
        want_dynamo = False
    want_ts = "torchscript" in exporters

    t_all = time.perf_counter()
    t0 = time.perf_counter()
    specs: List[Spec] = []
    specs += gpt2_specs()
    specs += llama_specs()
    specs += qwen2_specs()
    specs += mistral_specs()
    specs += phi3_specs()
    specs.append(bert_spec())
    specs.append(cnn_spec())
    if args.only:
        keep = set(args.only.split(","))
        specs = [s for s in specs if s.name in keep or s.name.split("-kv")[0] in keep]
    print(f"built {len(specs)} models and reference io in {time.perf_counter() - t0:.2f} s (torch {fl.TORCH_VERSION})")

    entries: Dict[str, Dict[str, Any]] = {}
    timings = []
    changed_files = []

    def emit(path: str, data: bytes):
        if fl.write_if_changed(path, data):
            changed_files.append(fl.rel(path))

    for spec in specs:
        if want_ts:
            data, warns, dt = fl.export_torchscript(
                spec.module, spec.args, spec.input_names, spec.output_names, spec.dynamic_axes, OPSET, spec.training
            )
            data2, _, _ = fl.export_torchscript(
                spec.module, spec.args, spec.input_names, spec.output_names, spec.dynamic_axes, OPSET, spec.training
            )
            same = data == data2
            path = os.path.join(out_dir, spec.file)
            emit(path, data)
            model = onnx.ModelProto.FromString(data)
            chk = fl.check_and_infer(model)
            io_name = spec.name + ".io.json"
            emit(os.path.join(out_dir, io_name),
                 fl.json_bytes(fl.io_json(spec.file, spec.io_inputs, spec.io_outputs, ATOL, RTOL, spec.io_note)))
            e = manifest_entry(spec, model, spec.file, "torchscript", fl.sha256_bytes(data), len(data), warns,
                               dict(chk, bytes_identical_in_process=same))
            e["io"] = io_name
            entries[spec.file] = e
            timings.append((spec.file, dt))
            print(f"  {spec.file:34s} {len(data) / 1024:8.1f} KiB  {len(model.graph.node):4d} nodes  export "
                  f"{dt:5.2f} s  {chk['checker']}  reproducible-in-process={same}")

            if spec.name == "gpt2-tiny":
                ext_rel = "external/gpt2-tiny-external.onnx"
                loc = "gpt2-tiny-external.onnx.data"
                ext_path = os.path.join(out_dir, ext_rel)
                os.makedirs(os.path.dirname(ext_path), exist_ok=True)
                c1, c2 = fl.save_external(data, ext_path, loc, size_threshold=1024)
                if c1:
                    changed_files.append(fl.rel(ext_path))
                if c2:
                    changed_files.append(fl.rel(os.path.join(os.path.dirname(ext_path), loc)))
                emodel = onnx.load(ext_path, load_external_data=False)
                chk2 = fl.check_and_infer(onnx.load(ext_path), path_for_checker=ext_path)
                data_path = os.path.join(os.path.dirname(ext_path), loc)
                ext_io = "gpt2-tiny-external.io.json"
                emit(os.path.join(out_dir, ext_io),
                     fl.json_bytes(fl.io_json(ext_rel, spec.io_inputs, spec.io_outputs, ATOL, RTOL,
                                              spec.io_note + "; same graph and weights as gpt2-tiny.onnx")))
                ext_spec = Spec(**dict(spec.__dict__, name="gpt2-tiny-external"))
                e2 = manifest_entry(ext_spec, emodel, ext_rel, "torchscript", fl.sha256_file(ext_path),
                                    os.path.getsize(ext_path), [], dict(chk2))
                e2["io"] = ext_io
                e2["external_data"] = {
                    "location": loc, "file": "external/" + loc, "size_bytes": os.path.getsize(data_path),
                    "sha256": fl.sha256_file(data_path), "size_threshold": 1024,
                    "all_tensors_to_one_file": True,
                    "same_model_as": "gpt2-tiny.onnx",
                }
                entries[ext_rel] = e2
                print(f"  {ext_rel:34s} {os.path.getsize(ext_path) / 1024:8.1f} KiB + "
                      f"{os.path.getsize(data_path) / 1024:.1f} KiB data  {chk2['checker']}")

        if want_dynamo:
            dfile = spec.name + ".dynamo.onnx"
            data, notes, dt, how = fl.export_dynamo(
                spec.module, spec.args, spec.input_names, spec.output_names, spec.dynamic_axes
            )
            if data is None:
                print(f"  {dfile:34s} FAILED: " + " | ".join(notes[-3:]))
                continue
            path = os.path.join(out_dir, dfile)
            emit(path, data)
            model = onnx.ModelProto.FromString(data)
            chk = fl.check_and_infer(model)
            io_name = spec.name + ".dynamo.io.json"
            emit(os.path.join(out_dir, io_name),
                 fl.json_bytes(fl.io_json(dfile, spec.io_inputs, spec.io_outputs, ATOL, RTOL, spec.io_note)))
            e = manifest_entry(spec, model, dfile, "dynamo", fl.sha256_bytes(data), len(data), notes,
                               dict(chk, dynamo_entry_point=how))
            e["io"] = io_name
            entries[dfile] = e
            timings.append((dfile, dt))
            print(f"  {dfile:34s} {len(data) / 1024:8.1f} KiB  {len(model.graph.node):4d} nodes  export "
                  f"{dt:5.2f} s  {chk['checker']}  via {how}")

    # ---- adopt fixtures made elsewhere (e.g. *.dynamo.onnx made on a torch 2.x machine)
    if args.adopt:
        with open(os.path.join(args.adopt, "manifest.json")) as f:
            for e in json.load(f).get("fixtures", []):
                if e.get("exporter") != "dynamo":
                    continue
                for fname in (e["file"], e.get("io")):
                    if fname:
                        with open(os.path.join(args.adopt, fname), "rb") as src:
                            emit(os.path.join(out_dir, fname), src.read())
                entries[e["file"]] = e
                print(f"  adopted {e['file']} (torch {e['torch_version']}) from {args.adopt}")

    # ---- manifest: merge with what is there (a dynamo-only run keeps the torchscript entries)
    mpath = os.path.join(out_dir, "manifest.json")
    old = {}
    if os.path.exists(mpath):
        try:
            with open(mpath) as f:
                old = {e["file"]: e for e in json.load(f).get("fixtures", [])}
        except Exception:
            old = {}
    for k, e in old.items():
        if k not in entries and os.path.exists(os.path.join(out_dir, k)):
            entries[k] = e
    order = ["gpt2-tiny", "gpt2-tiny-kv", "gpt2-tiny-external", "llama-tiny", "llama-tiny-kv", "qwen2-tiny", "qwen2-tiny-kv",
             "mistral-tiny", "mistral-tiny-kv", "phi3-tiny", "phi3-tiny-kv", "bert-tiny", "cnn-tiny"]

    def key(e):
        base = e["name"].replace(".dynamo", "")
        return (order.index(base) if base in order else 99, e["exporter"] != "torchscript", e["file"])

    total = 0
    for e in entries.values():
        total += e["size_bytes"] + (e.get("external_data") or {}).get("size_bytes", 0)
    manifest = {
        "generator": "examples/scripts/make_fixtures.py",
        "regenerate": "/usr/bin/python3 examples/scripts/make_fixtures.py",
        "seed": SEED,
        "weights": "numpy RandomState stream per parameter name (fuselab_models.init_weights): Linear/Conv1D weight "
                   "N(0, std 1/sqrt(fan_in)); Embedding N(0, std 0.5) (GPT-2's tied lm_head keeps wte's values); "
                   "biases N(0, std 0.1); LayerNorm/RMSNorm gamma 1 + N(0, std 0.1), beta N(0, std 0.1); Conv2d "
                   "He-normal; BatchNorm gamma 1 + N(0, 0.1), beta/running_mean N(0, 0.1), running_var U(0.5, 1.5)",
        "reproducibility": REPRODUCIBILITY_NOTE,
        "io_format": "examples/scripts/README.md#io-json",
        "total_bytes": total,
        "fixtures": sorted(entries.values(), key=key),
    }
    emit(mpath, fl.json_bytes(manifest))

    print(f"\nexport times: " + ", ".join(f"{f} {t:.2f}s" for f, t in timings))
    print(f"total fixture bytes {total / 1024:.1f} KiB in {fl.rel(out_dir)}; whole run {time.perf_counter() - t_all:.1f} s")
    print("changed files: " + (", ".join(changed_files) if changed_files else "none (all bytes identical)"))
    bad = [e["file"] for e in entries.values() if not str(e.get("checker", "")).startswith("ok")]
    if bad:
        print("onnx.checker FAILED for: " + ", ".join(bad))
        return 1
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=DEFAULT_OUT, help="output folder (default examples/fixtures)")
    p.add_argument("--exporters", default="torchscript,dynamo",
                   help="comma list of torchscript,dynamo (dynamo is skipped where torch < 2.1)")
    p.add_argument("--adopt", default="",
                   help="folder holding a manifest.json and *.dynamo.onnx/*.dynamo.io.json made elsewhere "
                        "(--out of a torch 2.x run): copy them in and merge their manifest entries")
    p.add_argument("--only", default="", help="comma list of fixture names (gpt2-tiny,llama-tiny,qwen2-tiny,mistral-tiny,phi3-tiny,bert-tiny,cnn-tiny)")
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
