#!/usr/bin/env python3
"""PyTorch-eager baseline for tools/bench/decode.ts: same model code, config and weight seed as the ONNX
exports (examples/scripts/fuselab_models.py + make_fixtures.SEED), greedy decode with an HF-style KV cache
(a tuple of (key, value) per layer, grown by torch.cat), batch 1, fp32, on CUDA when available.

    /usr/bin/python3 tools/bench/torch_decode.py --model gpt2-small --prompt-len 16,512 --context 16,1024 --decode 128
    /usr/bin/python3 tools/bench/torch_decode.py --model gpt2-tiny --device cpu        # smoke check here
    /usr/bin/python3 tools/bench/torch_decode.py --model qwen2.5-0.5b:12               # preset[:layers]

Prints one JSON object in the shape decode.ts prints (models[].variants["pytorch-eager"] with ttft[] and
decode[]); decode.ts --torch FILE merges it into its own record so the ratios come from one session.

Timing: TTFT = prefill of the prompt through argmax of the last position and `.item()` (the token on the
host, as the WebGPU loop has it); each decode step likewise ends with the token on the host. CUDA work is
synchronized by that `.item()`. Warm-up runs (every shape once) are outside the timed region.
Prompt token ids: id[i] = (i * 7919 + 13) % vocab, the same as decode.ts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPTS = os.environ.get("FUSELAB_SCRIPTS", os.path.join(HERE, "..", "..", "examples", "scripts"))
sys.path.insert(0, os.path.abspath(SCRIPTS))

import torch  # noqa: E402

import fuselab_models as fm  # noqa: E402
import make_fixtures as mf  # noqa: E402  (SEED: the weights seed every export uses)


GPT2_PRESETS = {
    # examples/scripts/make_gpt2_small.py
    "gpt2-small": dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12),
    # examples/scripts/make_fixtures.py (gpt2-tiny-kv.onnx)
    "gpt2-tiny": dict(vocab_size=256, n_positions=128, n_embd=64, n_layer=2, n_head=4),
}
LLAMA_PRESETS = {
    # examples/scripts/make_fixtures.py (llama-tiny-kv.onnx)
    "llama-tiny": dict(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                       num_key_value_heads=2, max_position_embeddings=128, tie_word_embeddings=False),
}
try:  # examples/scripts/make_llama_shaped.py's presets (qwen2.5-0.5b, llama3-8b-depth), when present
    import make_llama_shaped  # noqa: E402

    LLAMA_PRESETS.update({k: dict(v["config"]) for k, v in make_llama_shaped.PRESETS.items()})
except ImportError:
    pass


def build(spec: str):
    """`name` or `name:layers` -> (arch, config, model), built and initialised exactly as its export script does."""
    name, _, layers = spec.partition(":")
    if name in GPT2_PRESETS:
        c = dict(GPT2_PRESETS[name])
        if layers:
            c["n_layer"] = int(layers)  # make_gpt2_small.py --layers
        cfg = fm.GPT2Config(**c)
        lm = fm.GPT2LMHeadModel(cfg)
        arch = "gpt2"
    elif name in LLAMA_PRESETS:
        c = dict(LLAMA_PRESETS[name])
        if layers:
            c["num_hidden_layers"] = int(layers)  # make_llama_shaped.py --layers
        tied = c.pop("tie_word_embeddings")
        cfg = fm.LlamaConfig(**c, tie_word_embeddings=tied)
        lm = fm.LlamaForCausalLM(cfg)
        if tied:  # as make_llama_shaped.py: the head shares the embedding (init keeps the embedding's values)
            lm.lm_head.weight = lm.model.embed_tokens.weight
        arch = "llama"
    else:
        raise SystemExit(f"unknown model preset '{name}' (known: {', '.join([*GPT2_PRESETS, *LLAMA_PRESETS])})")
    fm.init_weights(lm, mf.SEED)
    return arch, cfg, lm.eval()


def prompt_ids(n: int, vocab: int):
    return [(i * 7919 + 13) % vocab for i in range(n)]


def percentile(xs, q):
    s = sorted(xs)
    if not s:
        return 0.0
    return s[min(len(s) - 1, int(round(q / 100 * (len(s) - 1))))]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append",
                   help=f"preset[:layers], repeatable ({', '.join([*GPT2_PRESETS, *LLAMA_PRESETS])}); default gpt2-small")
    p.add_argument("--prompt-len", default="16,512")
    p.add_argument("--context", default="16,1024", help="past length before the timed decode steps")
    p.add_argument("--decode", type=int, default=128, help="timed decode steps per context")
    p.add_argument("--repeats", type=int, default=5, help="TTFT runs per prompt length (median reported)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: leave torch's default)")
    p.add_argument("--out", help="also write the JSON here")
    args = p.parse_args(argv)

    torch.manual_seed(mf.SEED)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    prompt_lens = [int(x) for x in args.prompt_len.split(",") if x]
    contexts = [int(x) for x in args.context.split(",") if x]
    models = []
    for name in args.model or ["gpt2-small"]:
        t0 = time.perf_counter()
        arch, cfg, lm = build(name)
        lm.to(dev)
        build_s = time.perf_counter() - t0
        vocab = cfg.vocab_size
        # learned position table (GPT-2): context + decode must fit it; rotary (Llama) has no table to overrun,
        # as decode.ts, which clamps only where position_ids index an initializer
        max_pos = cfg.n_positions if arch == "gpt2" else None
        fit = (lambda c: max(1, min(c, max_pos - args.decode))) if max_pos else (lambda c: c)
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)

        def forward(ids, past):
            return lm(ids, past_key_values=past, use_cache=True)

        def next_token(logits):
            return int(logits[0, -1].argmax().item())

        def generate(prompt, new_tokens):
            """Greedy; returns tokens, ttft_ms, step_ms[]."""
            ids = torch.tensor([prompt], dtype=torch.long, device=dev)
            t = time.perf_counter()
            logits, past = forward(ids, None)
            tok = next_token(logits)
            ttft = (time.perf_counter() - t) * 1000
            tokens, steps = [tok], []
            for _ in range(new_tokens - 1):
                t = time.perf_counter()
                logits, past = forward(torch.tensor([[tok]], dtype=torch.long, device=dev), past)
                tok = next_token(logits)
                steps.append((time.perf_counter() - t) * 1000)
                tokens.append(tok)
            return tokens, ttft, steps

        with torch.inference_mode():
            # warm-up: every prefill shape once, plus a few decode steps
            t0 = time.perf_counter()
            for n in sorted(set([min(n, max_pos) if max_pos else n for n in prompt_lens] + [fit(c) for c in contexts])):
                generate(prompt_ids(max(1, n), vocab), 4 if not max_pos or n + 3 <= max_pos else 1)
            warm_s = time.perf_counter() - t0

            ttft = []
            for requested in prompt_lens:
                n = min(requested, max_pos) if max_pos else requested
                runs = [generate(prompt_ids(n, vocab), 1)[1] for _ in range(args.repeats)]
                med = statistics.median(runs)
                ttft.append({"promptLen": n, **({"requestedPromptLen": requested} if n != requested else {}), "ms": round(med, 3), "minMs": round(min(runs), 3), "runsMs": [round(x, 3) for x in runs],
                             "prefillTokPerSec": round(n * 1000 / med, 1)})
            decode = []
            for c in contexts:
                used = fit(c)
                tokens, _, steps = generate(prompt_ids(used, vocab), args.decode + 1)
                total = sum(steps)
                decode.append({
                    "context": used, "requestedContext": c, "steps": len(steps),
                    "tokPerSec": round(len(steps) * 1000 / total, 2) if total else 0,
                    "meanMs": round(total / len(steps), 3) if steps else 0,
                    "p50Ms": round(percentile(steps, 50), 3), "p95Ms": round(percentile(steps, 95), 3),
                    "tokens": tokens,
                })
        mem = None
        if dev.type == "cuda":
            mem = {"allocatedMiB": round(torch.cuda.memory_allocated(dev) / 2**20, 1),
                   "peakAllocatedMiB": round(torch.cuda.max_memory_allocated(dev) / 2**20, 1),
                   "reservedMiB": round(torch.cuda.memory_reserved(dev) / 2**20, 1)}
        models.append({
            "model": name.partition(":")[0], "arch": arch, "config": cfg.to_dict(),
            "params": sum(p.numel() for p in {id(p): p for p in lm.parameters()}.values()),
            "buildSeconds": round(build_s, 2), "warmupSeconds": round(warm_s, 2),
            "variants": {"pytorch-eager": {"ttft": ttft, "decode": decode, "gpuMemory": mem}},
        })
        del lm
        if dev.type == "cuda":
            torch.cuda.empty_cache()

    out = {
        "bench": "decode",
        "runtime": "pytorch-eager",
        "device": {
            "name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)",
            "torch": torch.__version__, "cuda": torch.version.cuda, "dtype": "float32",
            "tf32Matmul": bool(torch.backends.cuda.matmul.allow_tf32),
        },
        "config": {"promptLens": prompt_lens, "contexts": contexts, "decode": args.decode, "repeats": args.repeats,
                   "kvCache": "HF-style tuple of (key, value), torch.cat per step", "promptIds": "(i * 7919 + 13) % vocab"},
        "models": models,
    }
    text = json.dumps(out, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
