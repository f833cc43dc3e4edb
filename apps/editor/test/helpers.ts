/** Shared fixtures for the editor's headless tests. */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel, inferShapes } from '@fuselab/graph-core';
import { buildModelView, indexView, type IndexedView } from '../src/model/view.ts';

export const REPO = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
export const KJV_LLAMA = resolve(REPO, 'examples/models/kjv-llama/model.onnx');
export const KJV_GPT2 = resolve(REPO, 'examples/models/kjv-gpt2/model.onnx');

export function readBytes(path: string): Uint8Array {
  const b = readFileSync(path);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function viewOf(path: string): IndexedView {
  const m = loadModel(readBytes(path), { file: path });
  inferShapes(m);
  return indexView(buildModelView(m, path));
}
