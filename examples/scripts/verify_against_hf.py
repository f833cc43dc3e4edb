#!/usr/bin/env python3
"""Check that the self-written modules compute what Hugging Face `transformers` computes.

    python3 examples/scripts/verify_against_hf.py

Needs `transformers` (not on the dev machine; it is on the GPU machine). Builds each fixture's model
exactly as make_fixtures.py does, loads the same weights into the HF reference class (eager
attention), and compares outputs: no-cache logits / hidden states, padded batches, and a cached
decoder step (logits and the present key/value tensors). Exit status 1 on any difference > 1e-4.
"""

from __future__ import annotations

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ next to the committed scripts
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import make_fixtures as mf  # noqa: E402

TOL = 1e-4


def _eager(cfg):
    for attr in ("_attn_implementation", "attn_implementation"):
        try:
            setattr(cfg, attr, "eager")
        except Exception:
            pass
    return cfg


def _load(hf, sd, name):
    missing, unexpected = hf.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith(("attn.bias", "attn.masked_bias", "inv_freq", "position_ids"))]
    if missing or unexpected:
        print(f"  [{name}] state_dict: missing {missing} unexpected {unexpected}")
    return not missing and not unexpected


def _cache_kv(cache, i):
    """(key, value) of layer i from whatever cache type this transformers version returns."""
    if hasattr(cache, "layers"):
        return cache.layers[i].keys, cache.layers[i].values
    if hasattr(cache, "key_cache"):
        return cache.key_cache[i], cache.value_cache[i]
    return cache[i][0], cache[i][1]


def _diff(a, b):
    return (a.float() - b.float()).abs().max().item()


def check_causal_lm(name, specs, hf, results):
    nokv, kv = specs
    ok = _load(hf, nokv.module.state_dict(), name)
    hf.eval()
    with torch.no_grad():
        ids, mask = nokv.io_inputs["input_ids"], nokv.io_inputs["attention_mask"]
        ref = hf(input_ids=ids, attention_mask=mask).logits
        results.append((f"{name} logits (no cache)", _diff(ref, nokv.io_outputs["logits"])))
        # right padding on row 1: compare the non-padded positions
        pmask = mask.clone()
        pmask[1, -3:] = 0
        mine = nokv.module(ids, pmask)
        ref = hf(input_ids=ids, attention_mask=pmask).logits
        keep = pmask.bool()
        results.append((f"{name} logits (right-padded row, valid positions)", _diff(ref[keep], mine[keep])))
        # cached step: a first step over the past tokens, then the recorded step
        step_ids = kv.io_inputs["input_ids"]
        n_past = kv.io_inputs["past_key_values.0.key"].shape[2]
        n_new = step_ids.shape[1]
        full_ids = torch.cat([torch.zeros(step_ids.shape[0], n_past, dtype=torch.long), step_ids], 1)
        # the first n_past ids are not stored in the io pair; rebuild them as make_fixtures does
        r = mf.rng_inputs(name)
        import numpy as np

        ids_all = torch.from_numpy(r.randint(0, kv.config["vocab"], size=full_ids.shape).astype(np.int64))
        assert torch.equal(ids_all[:, n_past:], step_ids)
        first = hf(input_ids=ids_all[:, :n_past], attention_mask=torch.ones(ids_all.shape[0], n_past, dtype=torch.long),
                   use_cache=True)
        out = hf(
            input_ids=step_ids, attention_mask=kv.io_inputs["attention_mask"],
            position_ids=kv.io_inputs["position_ids"], past_key_values=first.past_key_values, use_cache=True,
        )
        results.append((f"{name}-kv logits (cached step)", _diff(out.logits, kv.io_outputs["logits"])))
        worst = 0.0
        n_layers = sum(1 for k in kv.io_outputs if k.startswith("present.")) // 2
        for i in range(n_layers):
            k, v = _cache_kv(out.past_key_values, i)
            worst = max(worst, _diff(k, kv.io_outputs[f"present.{i}.key"]), _diff(v, kv.io_outputs[f"present.{i}.value"]))
        results.append((f"{name}-kv present.* (cache contents)", worst))
    return ok


def main() -> int:
    import transformers as tf

    print(f"transformers {tf.__version__}, torch {torch.__version__}")
    mf.set_determinism()
    torch.use_deterministic_algorithms(False)
    results = []

    g = mf.gpt2_specs()
    c = g[0].config["hf_config"]
    hf_cfg = _eager(tf.GPT2Config(
        vocab_size=c["vocab_size"], n_positions=c["n_positions"], n_embd=c["n_embd"], n_layer=c["n_layer"],
        n_head=c["n_head"], activation_function="gelu_new", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        layer_norm_epsilon=c["layer_norm_epsilon"], tie_word_embeddings=True,
    ))
    check_causal_lm("gpt2-tiny", g, tf.GPT2LMHeadModel(hf_cfg), results)

    l = mf.llama_specs()
    c = l[0].config["hf_config"]
    hf_cfg = _eager(tf.LlamaConfig(
        vocab_size=c["vocab_size"], hidden_size=c["hidden_size"], intermediate_size=c["intermediate_size"],
        num_hidden_layers=c["num_hidden_layers"], num_attention_heads=c["num_attention_heads"],
        num_key_value_heads=c["num_key_value_heads"], max_position_embeddings=c["max_position_embeddings"],
        rms_norm_eps=c["rms_norm_eps"], hidden_act="silu", attention_bias=False, mlp_bias=False,
        tie_word_embeddings=False,
    ))
    check_causal_lm("llama-tiny", l, tf.LlamaForCausalLM(hf_cfg), results)

    b = mf.bert_spec()
    c = b.config["hf_config"]
    hf_cfg = _eager(tf.BertConfig(
        vocab_size=c["vocab_size"], hidden_size=c["hidden_size"], num_hidden_layers=c["num_hidden_layers"],
        num_attention_heads=c["num_attention_heads"], intermediate_size=c["intermediate_size"],
        max_position_embeddings=c["max_position_embeddings"], type_vocab_size=c["type_vocab_size"],
        layer_norm_eps=c["layer_norm_eps"], hidden_act="gelu", hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    ))
    hf = tf.BertModel(hf_cfg, add_pooling_layer=True)
    sd = {k.replace("encoder.", "encoder.layer.", 1) if k.startswith("encoder.") else k: v
          for k, v in b.module.state_dict().items()}
    _load(hf, sd, "bert-tiny")
    hf.eval()
    with torch.no_grad():
        out = hf(**{k: v for k, v in b.io_inputs.items()})
        results.append(("bert-tiny last_hidden_state", _diff(out.last_hidden_state, b.io_outputs["last_hidden_state"])))
        results.append(("bert-tiny pooler_output", _diff(out.pooler_output, b.io_outputs["pooler_output"])))
        pm = b.io_inputs["attention_mask"].clone()
        pm[1, -3:] = 0
        mine = b.module(b.io_inputs["input_ids"], pm, b.io_inputs["token_type_ids"])[0]
        ref = hf(input_ids=b.io_inputs["input_ids"], attention_mask=pm, token_type_ids=b.io_inputs["token_type_ids"])
        results.append(("bert-tiny last_hidden_state (padded row, valid positions)",
                        _diff(ref.last_hidden_state[pm.bool()], mine[pm.bool()])))

    bad = 0
    for what, d in results:
        flag = "ok" if d <= TOL else "MISMATCH"
        bad += d > TOL
        print(f"  {what:60s} max abs diff {d:.2e}  {flag}")
    print("all match the HF reference" if not bad else f"{bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
