import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GraphBuilder, ModelTooLargeError, serializeModel, serializeModelToBytes, Tensor } from '@fuselab/graph-core';
import { openModelFile, saveModelFile } from '../src/index.ts';

/**
 * Files over 2 GiB: external-data offsets past 2^31 and 2^32 are read with positional reads, and a
 * model whose protobuf would pass 2 GiB is refused with advice. The data file is sparse (ftruncate),
 * so the test takes milliseconds and no disk.
 */
const dir = mkdtempSync(join(tmpdir(), 'fuselab-big-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('external data beyond 4 GiB', () => {
  it('reads tensors at offsets past 2^31 and 2^32 of a 5 GiB sparse data file', () => {
    const dataPath = join(dir, 'big.onnx.data');
    const fd = openSync(dataPath, 'w');
    const size = 5 * 2 ** 30;
    ftruncateSync(fd, size);
    const marks = [2 ** 31 + 64, 2 ** 32 + 4096, size - 16];
    marks.forEach((off, i) => writeSync(fd, new Float32Array([i + 1, i + 2, i + 3, i + 4]), 0, 16, off));
    closeSync(fd);
    expect(statSync(dataPath).size).toBe(size);

    const b = new GraphBuilder();
    const x = b.input('x', 'float32', [4]);
    let y = x;
    marks.forEach((off, i) => {
      const t = new Tensor({ name: `w${i}`, dtype: 'float32', dims: [4], storage: { kind: 'external', location: 'big.onnx.data', offset: off, length: 16 } });
      y = b.op('Add', [y, b.initializer(`w${i}`, t)]);
    });
    b.output(y, 'y');
    const modelPath = join(dir, 'big.onnx');
    saveModelFile(b.build(), modelPath);
    const f = openModelFile(modelPath);
    try {
      marks.forEach((off, i) => {
        const t = f.model.graph.initializers.get(`w${i}`)!.initializer!;
        expect(t.storage.kind === 'external' && t.storage.offset).toBe(off);
        expect(Array.from(t.data() as Float32Array)).toEqual([i + 1, i + 2, i + 3, i + 4]);
      });
      expect(f.externalFiles.get('big.onnx.data')).toBe(size);
    } finally {
      f.close();
    }
  });
});

describe('the 2 GiB protobuf limit', () => {
  it('refuses to serialize an oversize model inline and points at external data', () => {
    // 3 tensors of 800 MiB that share one zero buffer: nothing is allocated per tensor
    const zeros = new Uint8Array(800 * 2 ** 20);
    const b = new GraphBuilder();
    let y = b.input('x', 'float32', [zeros.byteLength / 4]);
    for (let i = 0; i < 3; i++) y = b.op('Add', [y, b.initializer(`w${i}`, new Tensor({ name: `w${i}`, dtype: 'float32', dims: [zeros.byteLength / 4], storage: { kind: 'raw', bytes: zeros } }))]);
    b.output(y, 'y');
    const m = b.build();
    expect(() => serializeModel(m)).toThrow(ModelTooLargeError);
    expect(() => serializeModelToBytes(m)).toThrow(/over protobuf's 2 GiB limit; save it with external data/);
  });
});
