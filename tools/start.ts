/**
 * `npm run tour` (`npm start` opens the editor, apps/editor): the product on a bundled example model in the
 * terminal — inspect it, optimize it with the default workflow (validated in onnxruntime-web), then
 * stream greedy text from the plain and the optimized model side by side with their speed.
 *
 *   npm run tour [-- --model examples/models/kjv-gpt2 --prompt "..." --max-new-tokens 48]
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { serializeModelToBytes, loadModel } from '@fuselab/graph-core';
import { writeFileAtomic } from '@fuselab/node-io';
import { defaultWorkflow, PASSES, runPasses, workflowSteps } from '@fuselab/optimizer';
import { validateModels } from '@fuselab/gpu-runtime';
import { TextGenerator } from '../examples/scripts/generate.ts';

const { values } = parseArgs({
  options: {
    model: { type: 'string', default: 'examples/models/kjv-llama' },
    prompt: { type: 'string', default: 'And the king said unto' },
    'max-new-tokens': { type: 'string', default: '48' },
  },
});
const dir = values.model as string;
const maxNewTokens = Number(values['max-new-tokens']);
const out = (s = '') => process.stdout.write(`${s}\n`);

out('Fuselab — a TensorRT you can see. (This is the terminal tour; `npm start` opens the editor.)');
out(`model   ${dir}/model.onnx`);
const bytes = readFileSync(join(dir, 'model.onnx'));
const model = loadModel(bytes, { file: `${dir}/model.onnx` });
const params = model.parameterStats();
out(`        ${model.graph.nodeCount} nodes, ${(params.count / 1e6).toFixed(2)} M parameters, producer ${model.producerName} ${model.producerVersion}`);

out('\noptimize (default workflow: cleanup → fusion → dead code)');
const original = model.clone();
const rec = runPasses(model, workflowSteps(defaultWorkflow(), PASSES), {
  onPass: (r) => { if (r.modified) out(`  ${r.name.padEnd(34)} ${String(r.nodesBefore).padStart(5)} → ${String(r.nodesAfter).padEnd(5)} ${r.ms.toFixed(0)} ms`); },
});
const optimized = serializeModelToBytes(rec.model);
const v = await validateModels(original, optimized, { originalBytes: bytes });
const main = ['MultiHeadAttention', 'GroupQueryAttention', 'SkipLayerNormalization', 'SkipSimplifiedLayerNormalization', 'SimplifiedLayerNormalization', 'LayerNormalization', 'FastGelu', 'Gelu', 'BiasGelu', 'QuickGelu'];
out(`  nodes ${rec.nodesBefore} → ${rec.nodesAfter}; ${main.filter((o) => rec.fused[o]).map((o) => `${o}×${rec.fused[o]}`).join(', ')}`);
out(`  validation ${v.passed ? 'passed' : 'FAILED'} (${v.tolerance.name}); worst logits error ${v.outputs.find((o) => o.name === 'logits')?.maxAbsErr.toExponential(1)}`);

// the optimized model runs from a copy of the folder (config and tokenizer beside it)
const tmp = mkdtempSync(join(tmpdir(), 'fuselab-start-'));
try {
  for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(dir, f), join(tmp, f));
  writeFileAtomic(join(tmp, 'model.onnx'), optimized);
  const results = [];
  for (const [label, folder] of [['plain', dir], ['optimized', tmp]] as const) {
    const gen = await TextGenerator.load(folder);
    out(`\n${label} (onnxruntime-web, wasm) › ${values.prompt}`);
    process.stdout.write('  ');
    let printed = 0;
    const r = await gen.generate({
      prompt: values.prompt as string,
      maxNewTokens,
      strategy: { kind: 'greedy' },
      onToken: (_id, text) => { process.stdout.write(text.slice(printed).replace(/\n/g, ' ')); printed = text.length; },
    });
    const tps = r.newIds.length > 1 ? ((r.newIds.length - 1) * 1000) / r.decodeMs : 0;
    out(`\n  TTFT ${r.prefillMs.toFixed(1)} ms, decode ${tps.toFixed(1)} tok/s`);
    results.push(r.newIds.join(','));
  }
  out(`\ngreedy tokens ${results[0] === results[1] ? 'identical' : 'DIFFER'} between plain and optimized`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
out('\nnext: npx fuselab --help · npx fuselab optimize examples/models/kjv-gpt2/model.onnx -o /tmp/opt.onnx --report /tmp/r.json');

