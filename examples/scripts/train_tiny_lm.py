#!/usr/bin/env python3
"""Train the bundled text generators (GPT-2-style and Llama-style) on the KJV text, and export them.

    # 1. train (GPU machine: ~1 min per model on an H100; CPU works too, see --help of `train`)
    python3 examples/scripts/train_tiny_lm.py train --out examples/generated/kjv-train
    # 2. export here (Debian torch 1.13: TorchScript exporter) from those weights
    /usr/bin/python3 examples/scripts/train_tiny_lm.py export --weights examples/generated/kjv-train
    # on a torch >= 2.1 machine, `export --exporters dynamo` writes model.dynamo.onnx as well

The models (configs in MODELS below; the same tokenizer, examples/models/*/tokenizer.json):
  kjv-gpt2   GPT-2 (fuselab_models.GPT2LMHeadModel): 4 layers, d=192, 6 heads, learned positions,
             LayerNorm, gelu_new, tied lm head, context 256, vocab 2048
  kjv-llama  Llama (fuselab_models.LlamaForCausalLM): 4 layers, d=192, 6 heads / 2 KV heads (GQA),
             RMSNorm, rotary, SwiGLU (intermediate 512), untied lm head, context 256, vocab 2048

`train`: fixed seeds (weights from numpy RandomState streams per parameter name, batch offsets from
a numpy RandomState), AdamW, linear warm-up then cosine decay, residual/embedding dropout (applied
with forward hooks during training only, so the modules and their exports are unchanged), validation
perplexity every --eval-every steps; the weights with the best validation loss are kept. Writes
<out>/<name>/weights.npz and train.json (log, timings, device). On CUDA the run is made
deterministic (torch.use_deterministic_algorithms); numbers still differ across GPU types and
torch versions.

`export`: loads weights.npz and writes into examples/models/<name>/:
  model.onnx            TorchScript exporter, opset 17, KV-cache interface with Optimum names:
                        input_ids, attention_mask, position_ids, past_key_values.{i}.key/value ->
                        logits, present.{i}.key/value
  model.dynamo.onnx     the torch.export-based exporter (torch >= 2.1 only; same names and axes), or
                        copied from --dynamo-from
  model.io.json         one recorded decoder step (same format as examples/fixtures/*.io.json)
  config.json           Hugging Face config (model_type gpt2 / llama) + a "fuselab" section
  generation_config.json  bos/eos/pad ids, max_length, suggested sampling
  greedy.json           prompt, prompt ids, 32 greedy new ids from PyTorch (prefill + KV decode), text
It also re-measures validation perplexity with this torch, and where `onnxruntime` (Python) is
installed it runs the same greedy loop on every exported file and compares.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

sys.dont_write_bytecode = True  # no __pycache__ next to the committed scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import bpe_tokenizer as bt  # noqa: E402
import fixture_lib as fl  # noqa: E402
import fuselab_models as fm  # noqa: E402
import make_fixtures as mf  # noqa: E402
import prepare_kjv  # noqa: E402

SEED = 1611
DATA_DIR = os.path.join(fl.REPO_ROOT, "examples", "data")
MODELS_DIR = os.path.join(fl.REPO_ROOT, "examples", "models")
DEFAULT_TRAIN_OUT = os.path.join(fl.REPO_ROOT, "examples", "generated", "kjv-train")
TOKENIZER = os.path.join(MODELS_DIR, "kjv-gpt2", "tokenizer.json")
VOCAB = 2048
CONTEXT = 256
GREEDY_NEW_TOKENS = 32
DEFAULT_PROMPT = "And the king said unto"
# Greedy ids are compared exactly across runtimes (PyTorch vs onnxruntime-web, fp32): the recorded
# prompt must not have a near-tie between the top two logits anywhere in the 32 steps.
MIN_GREEDY_MARGIN = 1e-3
# PyTorch vs onnxruntime logits on the same inputs (fp32 on CPU): agreement we expect.
ORT_LOGITS_ATOL = 1e-3

MODELS: Dict[str, Tuple[str, Any]] = {
    "kjv-gpt2": ("gpt2", fm.GPT2Config(vocab_size=VOCAB, n_positions=CONTEXT, n_embd=192, n_layer=4, n_head=6)),
    "kjv-llama": ("llama", fm.LlamaConfig(
        vocab_size=VOCAB, hidden_size=192, intermediate_size=512, num_hidden_layers=4, num_attention_heads=6,
        num_key_value_heads=2, max_position_embeddings=CONTEXT, rms_norm_eps=1e-6, rope_theta=10000.0,
    )),
}


# ------------------------------------------------------------------------------------------
# Models
# ------------------------------------------------------------------------------------------

def build(name: str) -> Tuple[str, Any, torch.nn.Module]:
    arch, cfg = MODELS[name]
    lm = fm.GPT2LMHeadModel(cfg) if arch == "gpt2" else fm.LlamaForCausalLM(cfg)
    return arch, cfg, lm


def shape_of(arch: str, cfg) -> Dict[str, int]:
    if arch == "gpt2":
        return {"layers": cfg.n_layer, "heads": cfg.n_head, "kv_heads": cfg.n_head, "head_dim": cfg.n_embd // cfg.n_head,
                "d_model": cfg.n_embd}
    return {"layers": cfg.num_hidden_layers, "heads": cfg.num_attention_heads, "kv_heads": cfg.num_key_value_heads,
            "head_dim": cfg.hidden_size // cfg.num_attention_heads, "d_model": cfg.hidden_size}


def init_for_training(lm: torch.nn.Module, arch: str, n_layers: int, seed: int) -> None:
    """GPT-2's recipe: N(0, 0.02) for matrices and embeddings, residual output projections scaled by
    1/sqrt(2 * layers), zero biases, unit norm gains. Values from numpy RandomState streams keyed by
    parameter name (fuselab_models._rng), so every torch version and device starts from the same weights."""
    seen = set()
    resid = ("c_proj.weight", "o_proj.weight", "down_proj.weight")
    for pname, p in lm.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        if pname.endswith("bias"):
            arr = np.zeros(tuple(p.shape))
        elif p.dim() == 1:
            arr = np.ones(tuple(p.shape))
        else:
            std = 0.02 / math.sqrt(2 * n_layers) if pname.endswith(resid) else 0.02
            arr = fm._rng(seed, pname).normal(0.0, std, size=tuple(p.shape))
        fm._fill(p, arr)


class DropoutHooks:
    """Dropout on the embeddings and on each attention / MLP output, during training only.

    Forward hooks rather than module changes: the module code (and so every export) stays the
    reference one; the hooks are removed before export and do nothing in eval mode.
    """

    def __init__(self, lm: torch.nn.Module, p: float):
        self.handles = []
        if p <= 0:
            return
        kinds = (fm.GPT2Attention, fm.GPT2MLP, fm.LlamaAttention, fm.LlamaMLP, torch.nn.Embedding)

        def hook(module, _inputs, out):
            if isinstance(out, tuple):
                return (F.dropout(out[0], p, module.training),) + tuple(out[1:])
            return F.dropout(out, p, module.training)

        for m in lm.modules():
            if isinstance(m, kinds):
                self.handles.append(m.register_forward_hook(hook))

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []


def state_to_npz(lm: torch.nn.Module, path: str) -> None:
    """Parameters (tied ones once, under their first name) as float32 arrays."""
    seen = {}
    arrays = {}
    for n, p in lm.named_parameters():
        if id(p) in seen:
            continue
        seen[id(p)] = n
        arrays[n] = p.detach().float().cpu().numpy()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    np.savez(path, **arrays)


def load_npz(lm: torch.nn.Module, path: str) -> None:
    with np.load(path) as z:
        names = set(z.files)
        seen = set()
        for n, p in lm.named_parameters():
            if id(p) in seen:
                continue
            seen.add(id(p))
            if n not in names:
                raise KeyError(f"{path}: no array for parameter {n}")
            fm._fill(p, z[n])
            names.discard(n)
        if names:
            raise KeyError(f"{path}: arrays that are no parameter of the model: {sorted(names)}")


# ------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------

def token_stream(path: str, tok: bt.ByteLevelBPE) -> np.ndarray:
    """Chapters as documents, each preceded by <|endoftext|> (the tokenizer's BOS), concatenated."""
    ids: List[int] = []
    for doc in prepare_kjv.chapter_documents(path):
        ids.extend(tok.encode(doc, add_special_tokens=True))
    return np.asarray(ids, dtype=np.int64)


@torch.no_grad()
def evaluate(lm: torch.nn.Module, stream: np.ndarray, device: str, ctx: int = CONTEXT, batch: int = 32) -> float:
    """Mean next-token NLL over non-overlapping windows of `ctx` predictions covering the stream."""
    was = lm.training
    lm.eval()
    n_win = (len(stream) - 1) // ctx
    total, count = 0.0, 0
    starts = np.arange(n_win) * ctx
    for i in range(0, n_win, batch):
        s = starts[i:i + batch]
        x = torch.from_numpy(np.stack([stream[o:o + ctx] for o in s])).to(device)
        y = torch.from_numpy(np.stack([stream[o + 1:o + ctx + 1] for o in s])).to(device)
        logits, _ = lm(x)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum")
        total += loss.item()
        count += y.numel()
    lm.train(was)
    return total / count


# ------------------------------------------------------------------------------------------
# train
# ------------------------------------------------------------------------------------------

def lr_at(step: int, args) -> float:
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    t = (step - args.warmup) / max(1, args.steps - args.warmup)
    return args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * min(1.0, t)))


def train_one(name: str, args, tok: bt.ByteLevelBPE, train_ids: np.ndarray, valid_ids: np.ndarray) -> Dict[str, Any]:
    device = args.device
    torch.manual_seed(args.seed)
    arch, cfg, lm = build(name)
    n_layers = shape_of(arch, cfg)["layers"]
    init_for_training(lm, arch, n_layers, args.seed)
    lm.to(device).train()
    hooks = DropoutHooks(lm, args.dropout)
    n_params = sum(p.numel() for p in {id(p): p for p in lm.parameters()}.values())

    decay = [p for n, p in lm.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in lm.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.95), eps=1e-8,
    )
    rs = np.random.RandomState(args.seed)
    ctx = CONTEXT
    log: List[Dict[str, Any]] = []
    best = (float("inf"), -1, None)
    t_start = time.perf_counter()
    run_loss, run_n = 0.0, 0
    print(f"[{name}] {arch}: {n_params / 1e6:.2f} M parameters, {len(train_ids)} train / {len(valid_ids)} valid "
          f"tokens, {args.steps} steps of {args.batch} x {ctx} tokens on {device}")
    for step in range(args.steps + 1):
        if step % args.eval_every == 0 or step == args.steps:
            vl = evaluate(lm, valid_ids, device)
            entry = {"step": step, "train_loss": (run_loss / run_n) if run_n else None, "valid_loss": vl,
                     "valid_ppl": math.exp(vl), "seconds": round(time.perf_counter() - t_start, 2)}
            log.append(entry)
            tl = f"{entry['train_loss']:.4f}" if run_n else "  -   "
            print(f"[{name}] step {step:5d}  train loss {tl}  valid loss {vl:.4f}  valid ppl {math.exp(vl):8.2f}  "
                  f"{entry['seconds']:7.1f} s", flush=True)
            run_loss, run_n = 0.0, 0
            if vl < best[0]:
                best = (vl, step, {k: v.detach().cpu().clone() for k, v in lm.state_dict().items()})
        if step == args.steps:
            break
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        offs = rs.randint(0, len(train_ids) - ctx - 1, size=args.batch)
        xy = torch.from_numpy(np.stack([train_ids[o:o + ctx + 1] for o in offs])).to(device)
        logits, _ = lm(xy[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), xy[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(lm.parameters(), args.grad_clip)
        opt.step()
        run_loss += loss.item()
        run_n += 1
    t_train = time.perf_counter() - t_start
    hooks.remove()
    lm.load_state_dict(best[2])
    lm.eval()
    out = os.path.join(args.out, name)
    state_to_npz(lm.cpu(), os.path.join(out, "weights.npz"))
    dev_name = torch.cuda.get_device_name(0) if device.startswith("cuda") else platform.processor() or "cpu"
    summary = {
        "model": name, "architecture": arch, "parameters": n_params, "config": cfg.to_dict(),
        "best_step": best[1], "best_valid_loss": best[0], "best_valid_ppl": math.exp(best[0]),
        "train_seconds": round(t_train, 1), "device": device, "device_name": dev_name,
        "torch_version": torch.__version__, "threads": torch.get_num_threads(),
        "hyper_parameters": {k: getattr(args, k) for k in ("steps", "batch", "lr", "min_lr", "warmup", "weight_decay",
                                                          "dropout", "grad_clip", "eval_every", "seed")},
        "context": ctx, "train_tokens": int(len(train_ids)), "valid_tokens": int(len(valid_ids)),
        "tokens_seen": args.steps * args.batch * ctx, "log": log,
    }
    with open(os.path.join(out, "train.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"[{name}] best valid ppl {math.exp(best[0]):.2f} at step {best[1]}; {t_train:.1f} s; "
          f"wrote {fl.rel(out)}/weights.npz")
    return summary


def cmd_train(args) -> int:
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device.startswith("cuda"):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    try:
        torch.use_deterministic_algorithms(True)
    except Exception:
        pass
    if args.threads:
        torch.set_num_threads(args.threads)
    tok = bt.ByteLevelBPE.load(args.tokenizer)
    t0 = time.perf_counter()
    train_ids = token_stream(os.path.join(args.data, "kjv-train.txt"), tok)
    valid_ids = token_stream(os.path.join(args.data, "kjv-valid.txt"), tok)
    print(f"tokenized train/valid in {time.perf_counter() - t0:.1f} s (torch {torch.__version__})")
    for name in args.models.split(","):
        train_one(name, args, tok, train_ids, valid_ids)
    return 0


# ------------------------------------------------------------------------------------------
# export
# ------------------------------------------------------------------------------------------

@torch.no_grad()
def greedy_torch(lm: torch.nn.Module, arch: str, cfg, prompt_ids: List[int], n_new: int) -> Dict[str, Any]:
    """Prefill + KV-cache decode with the export view of the model (the graph that is exported)."""
    s = shape_of(arch, cfg)
    kv = fm.CausalLMWithPast(lm).eval()
    past = tuple((torch.zeros(1, s["kv_heads"], 0, s["head_dim"]), torch.zeros(1, s["kv_heads"], 0, s["head_dim"]))
                 for _ in range(s["layers"]))
    ids = torch.tensor([prompt_ids], dtype=torch.int64)
    pos = torch.arange(len(prompt_ids), dtype=torch.int64)[None]
    new: List[int] = []
    margins: List[float] = []
    total = len(prompt_ids)
    for _ in range(n_new):
        logits, past = kv(ids, torch.ones(1, total, dtype=torch.int64), pos, past)
        last = logits[0, -1]
        top2 = torch.topk(last, 2).values
        margins.append(float(top2[0] - top2[1]))
        nxt = int(torch.argmax(last))
        new.append(nxt)
        ids = torch.tensor([[nxt]], dtype=torch.int64)
        pos = torch.tensor([[total]], dtype=torch.int64)
        total += 1
    # self-check: the same tokens from full (no-cache) forwards
    full = torch.tensor([prompt_ids + new], dtype=torch.int64)
    logits, _ = lm(full)
    again = torch.argmax(logits[0, len(prompt_ids) - 1:-1], dim=-1).tolist()
    if again != new:
        raise AssertionError(f"KV-cache greedy {new} differs from no-cache argmax {again}")
    return {"new_ids": new, "min_margin": min(margins)}


def ort_greedy(path: str, arch: str, cfg, prompt_ids: List[int], n_new: int) -> List[int]:
    """The same prefill + decode loop on onnxruntime (Python, CPU)."""
    import onnxruntime as ort

    s = shape_of(arch, cfg)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    ins, outs, _ = fl.decoder_kv_signature(s["layers"])
    feeds = {n: np.zeros((1, s["kv_heads"], 0, s["head_dim"]), np.float32) for n in ins[3:]}
    ids = np.asarray([prompt_ids], np.int64)
    pos = np.arange(len(prompt_ids), dtype=np.int64)[None]
    total = len(prompt_ids)
    new = []
    for _ in range(n_new):
        feeds.update(input_ids=ids, attention_mask=np.ones((1, total), np.int64), position_ids=pos)
        res = dict(zip(outs, sess.run(outs, feeds)))
        nxt = int(np.argmax(res["logits"][0, -1]))
        new.append(nxt)
        for n in ins[3:]:
            feeds[n] = res[n.replace("past_key_values", "present")]
        ids = np.asarray([[nxt]], np.int64)
        pos = np.asarray([[total]], np.int64)
        total += 1
    return new


def hf_config(name: str, arch: str, cfg, eot: int) -> Dict[str, Any]:
    common = {"bos_token_id": eot, "eos_token_id": eot, "pad_token_id": eot, "torch_dtype": "float32",
              "use_cache": True, "vocab_size": cfg.vocab_size, "tie_word_embeddings": cfg.tie_word_embeddings}
    if arch == "gpt2":
        return dict(common, architectures=["GPT2LMHeadModel"], model_type="gpt2", n_positions=cfg.n_positions,
                    n_ctx=cfg.n_positions, n_embd=cfg.n_embd, n_layer=cfg.n_layer, n_head=cfg.n_head,
                    n_inner=cfg.n_inner, activation_function="gelu_new", layer_norm_epsilon=cfg.layer_norm_epsilon,
                    resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, scale_attn_weights=True,
                    initializer_range=0.02)
    return dict(common, architectures=["LlamaForCausalLM"], model_type="llama", hidden_size=cfg.hidden_size,
                intermediate_size=cfg.intermediate_size, num_hidden_layers=cfg.num_hidden_layers,
                num_attention_heads=cfg.num_attention_heads, num_key_value_heads=cfg.num_key_value_heads,
                head_dim=cfg.hidden_size // cfg.num_attention_heads, hidden_act="silu",
                max_position_embeddings=cfg.max_position_embeddings, rms_norm_eps=cfg.rms_norm_eps,
                rope_theta=cfg.rope_theta, rope_scaling=None, attention_bias=False, attention_dropout=0.0,
                mlp_bias=False, initializer_range=0.02)


def hf_check(arch: str, cfg_json: Dict[str, Any], lm: torch.nn.Module) -> Optional[float]:
    """Max |logits| difference between our module and transformers' class built from config.json."""
    try:
        import transformers as tf
    except ImportError:
        return None
    keys = {k: v for k, v in cfg_json.items() if k not in ("fuselab", "architectures", "model_type", "torch_dtype")}
    hf = (tf.GPT2LMHeadModel(tf.GPT2Config(**keys)) if arch == "gpt2" else tf.LlamaForCausalLM(tf.LlamaConfig(**keys)))
    for attr in ("_attn_implementation", "attn_implementation"):
        try:
            setattr(hf.config, attr, "eager")
        except Exception:
            pass
    missing, unexpected = hf.load_state_dict(lm.state_dict(), strict=False)
    missing = [k for k in missing if not k.endswith(("attn.bias", "attn.masked_bias", "inv_freq"))]
    if missing or unexpected:
        raise AssertionError(f"transformers state_dict mismatch: missing {missing}, unexpected {unexpected}")
    hf.eval()
    ids = torch.from_numpy(np.random.RandomState(0).randint(0, cfg_json["vocab_size"], size=(2, 40)).astype(np.int64))
    with torch.no_grad():
        return float((hf(input_ids=ids).logits - lm(ids)[0]).abs().max())


def export_one(name: str, args, tok: bt.ByteLevelBPE, valid_ids: np.ndarray) -> Dict[str, Any]:
    arch, cfg, lm = build(name)
    wdir = os.path.join(args.weights, name)
    load_npz(lm, os.path.join(wdir, "weights.npz"))
    lm.eval()
    train_info = {}
    if os.path.exists(os.path.join(wdir, "train.json")):
        with open(os.path.join(wdir, "train.json")) as f:
            train_info = json.load(f)
    s = shape_of(arch, cfg)
    out = os.path.join(args.models_dir, name)
    os.makedirs(out, exist_ok=True)
    report: Dict[str, Any] = {"model": name}

    t0 = time.perf_counter()
    vl = evaluate(lm, valid_ids, "cpu")
    report["valid_ppl"] = math.exp(vl)
    print(f"[{name}] valid ppl {math.exp(vl):.3f} with torch {torch.__version__} on CPU "
          f"({time.perf_counter() - t0:.1f} s); at training: {train_info.get('best_valid_ppl', float('nan')):.3f}")

    # reference decoder step (random ids, batch 2, past 5, 3 new) as in the fixtures
    spec = mf.causal_lm_specs(name, arch, lm, cfg, s["layers"], cfg.vocab_size)[1]
    written: List[str] = []

    def emit(fname: str, data: bytes) -> None:
        path = os.path.join(out, fname)
        changed = fl.write_if_changed(path, data)
        written.append(f"{fl.rel(path)} ({len(data)} bytes{'' if changed else ', unchanged'})")

    exporters = args.exporters.split(",") if args.exporters else []
    if "torchscript" in exporters:
        data, warns, dt = fl.export_torchscript(spec.module, spec.args, spec.input_names, spec.output_names,
                                                spec.dynamic_axes, mf.OPSET)
        again, _, _ = fl.export_torchscript(spec.module, spec.args, spec.input_names, spec.output_names,
                                            spec.dynamic_axes, mf.OPSET)
        if again != data:
            raise AssertionError(f"[{name}] two TorchScript exports in one process differ: not deterministic")
        emit("model.onnx", data)
        emit("model.io.json", fl.json_bytes(fl.io_json("model.onnx", spec.io_inputs, spec.io_outputs, 1e-4, 1e-3,
                                                       spec.io_note)))
        report["torchscript"] = {"seconds": round(dt, 2), "warnings": warns,
                                 "nodes": len(onnx.ModelProto.FromString(data).graph.node)}
    if "dynamo" in exporters:
        if not fl.dynamo_available():
            print(f"[{name}] torch {torch.__version__}: no dynamo exporter here (needs torch >= 2.1); skipped")
        else:
            data, notes, dt, how = fl.export_dynamo(spec.module, spec.args, spec.input_names, spec.output_names,
                                                    spec.dynamic_axes)
            if data is None:
                raise RuntimeError(f"[{name}] dynamo export failed: " + " | ".join(notes[-3:]))
            emit("model.dynamo.onnx", data)
            report["dynamo"] = {"seconds": round(dt, 2), "how": how, "notes": notes[:10],
                                "nodes": len(onnx.ModelProto.FromString(data).graph.node)}
    if args.dynamo_from:
        src = os.path.join(args.dynamo_from, name, "model.dynamo.onnx")
        with open(src, "rb") as f:
            emit("model.dynamo.onnx", f.read())

    if not args.no_metadata:
        eot = tok.special_id
        cfg_json = hf_config(name, arch, cfg, eot)
        cfg_json["fuselab"] = {
            "description": f"{name}: a {arch} decoder trained by examples/scripts/train_tiny_lm.py on the King James "
                           "Bible (examples/data, public domain)",
            "parameters": sum(p.numel() for p in {id(p): p for p in lm.parameters()}.values()),
            "onnx": {"model.onnx": "TorchScript exporter, opset 17", "model.dynamo.onnx": "torch.export-based exporter",
                     "inputs": "input_ids, attention_mask, position_ids, past_key_values.{i}.key/value",
                     "outputs": "logits, present.{i}.key/value",
                     "kv_shape": f"[batch_size, {s['kv_heads']}, past_sequence_length, {s['head_dim']}]"},
            "tokenizer": "tokenizer.json (byte-level BPE trained by examples/scripts/bpe_tokenizer.py)",
            "valid_ppl": round(math.exp(vl), 3),
            "training": {k: train_info.get(k) for k in ("best_step", "best_valid_ppl", "train_seconds", "device_name",
                                                         "torch_version", "hyper_parameters", "tokens_seen",
                                                         "train_tokens", "valid_tokens")},
        }
        emit("config.json", fl.json_bytes(cfg_json))
        gen = {"bos_token_id": eot, "eos_token_id": eot, "pad_token_id": eot, "max_length": CONTEXT,
               "do_sample": True, "temperature": 0.8, "top_k": 40, "top_p": 1.0,
               "fuselab_note": "suggested sampling; greedy (do_sample false) is what greedy.json records"}
        emit("generation_config.json", fl.json_bytes(gen))
        prompt_ids = tok.encode(args.prompt, add_special_tokens=True)
        g = greedy_torch(lm, arch, cfg, prompt_ids, GREEDY_NEW_TOKENS)
        if g["min_margin"] < MIN_GREEDY_MARGIN:
            print(f"[{name}] WARNING: greedy top-2 logit margin {g['min_margin']:.2e} < {MIN_GREEDY_MARGIN}: "
                  "choose another --prompt, runtimes may disagree on a near-tie")
        greedy = {
            "prompt": args.prompt, "prompt_ids": prompt_ids, "new_ids": g["new_ids"],
            "text": tok.decode(g["new_ids"]), "full_text": tok.decode(prompt_ids + g["new_ids"], skip_special_tokens=True),
            "min_top2_logit_margin": round(g["min_margin"], 6), "torch_version": torch.__version__,
            "note": f"PyTorch greedy decoding: prefill of the prompt ids (with the <|endoftext|> BOS the tokenizer "
                    f"adds), then {GREEDY_NEW_TOKENS - 1} single-token steps with the KV cache; EOS does not stop it",
        }
        emit("greedy.json", fl.json_bytes(greedy))
        report["greedy"] = greedy
        report["hf_max_abs_diff"] = hf_check(arch, cfg_json, lm)
        if report["hf_max_abs_diff"] is not None:
            print(f"[{name}] transformers class from config.json: max |logits diff| {report['hf_max_abs_diff']:.2e}")
        print(f"[{name}] greedy: {args.prompt!r} -> {greedy['text']!r} (min margin {g['min_margin']:.3f})")

    # onnxruntime cross-check of every exported file (where the Python package exists)
    try:
        import onnxruntime  # noqa: F401
        have_ort = True
    except ImportError:
        have_ort = False
    if have_ort and "greedy" in report:
        for fname in ("model.onnx", "model.dynamo.onnx"):
            p = os.path.join(out, fname)
            if os.path.exists(p):
                got = ort_greedy(p, arch, cfg, report["greedy"]["prompt_ids"], GREEDY_NEW_TOKENS)
                ok = got == report["greedy"]["new_ids"]
                report[f"ort_greedy_{fname}"] = ok
                print(f"[{name}] onnxruntime greedy on {fname}: {'equal to PyTorch' if ok else 'DIFFERS: ' + str(got)}")
    for w in written:
        print(f"  {w}")
    return report


def cmd_export(args) -> int:
    mf.set_determinism()
    tok = bt.ByteLevelBPE.load(args.tokenizer)
    valid_ids = token_stream(os.path.join(args.data, "kjv-valid.txt"), tok)
    bad = 0
    for name in args.models.split(","):
        r = export_one(name, args, tok, valid_ids)
        bad += sum(1 for k, v in r.items() if k.startswith("ort_greedy") and not v)
        if r.get("hf_max_abs_diff") is not None and r["hf_max_abs_diff"] > ORT_LOGITS_ATOL:
            bad += 1
    return 1 if bad else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--models", default=",".join(MODELS), help=f"comma list of {', '.join(MODELS)}")
    common.add_argument("--data", default=DATA_DIR, help="folder with kjv-train.txt / kjv-valid.txt")
    common.add_argument("--tokenizer", default=TOKENIZER, help="tokenizer.json (from bpe_tokenizer.py train)")
    sub = p.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("train", parents=[common], help="train and write <out>/<name>/weights.npz + train.json",
                       description="Measured with the defaults (3000 steps of 64 x 256 tokens): 71 s (kjv-gpt2) and "
                                   "81 s (kjv-llama) on an NVIDIA H200 with torch 2.11. The dev machine's Debian torch "
                                   "1.13 uses the reference BLAS on one thread (~2.6 GFLOP/s): ~2 min per step, days per "
                                   "model; train on a GPU, or a CPU torch with MKL/OpenBLAS (~0.3 TFLOP per step).")
    t.add_argument("--out", default=DEFAULT_TRAIN_OUT, help="where weights.npz / train.json go (per model)")
    t.add_argument("--device", default="auto", help="cuda, cpu or auto")
    t.add_argument("--steps", type=int, default=3000)
    t.add_argument("--batch", type=int, default=64, help="sequences of 256 tokens per step")
    t.add_argument("--lr", type=float, default=2e-3)
    t.add_argument("--min-lr", type=float, default=2e-4)
    t.add_argument("--warmup", type=int, default=200)
    t.add_argument("--weight-decay", type=float, default=0.1)
    t.add_argument("--dropout", type=float, default=0.1)
    t.add_argument("--grad-clip", type=float, default=1.0)
    t.add_argument("--eval-every", type=int, default=250)
    t.add_argument("--seed", type=int, default=SEED)
    t.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")

    e = sub.add_parser("export", parents=[common], help="export weights.npz to examples/models/<name>/")
    e.add_argument("--weights", default=DEFAULT_TRAIN_OUT, help="folder with <name>/weights.npz (from `train`)")
    e.add_argument("--models-dir", default=MODELS_DIR)
    e.add_argument("--exporters", default="torchscript,dynamo",
                   help="comma list of torchscript,dynamo (dynamo is skipped where torch < 2.1); '' for none")
    e.add_argument("--dynamo-from", default="", help="copy <dir>/<name>/model.dynamo.onnx (made on a torch 2.x machine)")
    e.add_argument("--no-metadata", action="store_true",
                   help="only the ONNX files (no config/generation_config/greedy.json)")
    e.add_argument("--prompt", default=DEFAULT_PROMPT, help="prompt recorded in greedy.json")
    args = p.parse_args(argv)
    return {"train": cmd_train, "export": cmd_export}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
