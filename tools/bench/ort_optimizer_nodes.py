#!/usr/bin/env python3
"""Node counts after onnxruntime's Python transformers optimizer, for comparison with `fuselab optimize`.

Runs `onnxruntime.transformers.optimizer.optimize_model` on each model given (default: the decoder and
encoder fixtures in examples/fixtures/) and prints JSON: nodes before/after and the op histogram of the
result. Needs Python onnxruntime (the GPU machine has it):

    python3 tools/bench/ort_optimizer_nodes.py [MODEL.onnx ...] > ort-nodes.json

Model types: GPT-2-style files use model_type 'gpt2', BERT-style 'bert'; Llama-style files have no
dedicated type in optimize_model, so they get 'gpt2' (its generic fusions: SkipLayerNorm,
SimplifiedLayerNorm, Gelu...), which is what is available to a user of that tool.
"""
import glob
import json
import os
import sys
import time
from collections import Counter

import onnx
from onnxruntime.transformers.optimizer import optimize_model


def config_for(path: str) -> tuple[str, int, int]:
    name = os.path.basename(path)
    if 'bert' in name:
        return 'bert', 4, 64
    if 'gpt2-small' in name:
        return 'gpt2', 12, 768
    if 'kjv' in path:
        return 'gpt2', 6, 192
    return 'gpt2', 4, 64


def main() -> None:
    paths = sys.argv[1:] or sorted(p for p in glob.glob('examples/fixtures/*.onnx') if 'cnn' not in p)
    out = {'onnxruntime': __import__('onnxruntime').__version__, 'models': {}}
    for path in paths:
        model_type, heads, hidden = config_for(path)
        before = onnx.load(path, load_external_data=False)
        t0 = time.perf_counter()
        try:
            opt = optimize_model(path, model_type=model_type, num_heads=heads, hidden_size=hidden)
            nodes = list(opt.model.graph.node)
            ops = Counter((n.domain + '::' if n.domain not in ('', 'ai.onnx') else '') + n.op_type for n in nodes)
            out['models'][path] = {
                'model_type': model_type,
                'nodesBefore': len(before.graph.node),
                'nodesAfter': len(nodes),
                'nonConstantNodesAfter': sum(1 for n in nodes if n.op_type != 'Constant'),
                'ops': dict(ops.most_common()),
                'seconds': round(time.perf_counter() - t0, 3),
            }
        except Exception as e:  # report, keep going
            out['models'][path] = {'model_type': model_type, 'error': f'{type(e).__name__}: {e}'}
        print(f"{path}: {out['models'][path].get('nodesAfter', out['models'][path].get('error'))}", file=sys.stderr)
    json.dump(out, sys.stdout, indent=2)


if __name__ == '__main__':
    main()
