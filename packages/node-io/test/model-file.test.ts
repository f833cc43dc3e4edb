import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExternalDataError, GraphBuilder, loadModel, serializeModelToBytes, type Model } from '@fuselab/graph-core';
import { openModelFile, saveModelFile, writeFileAtomic } from '../src/index.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'fuselab-nodeio-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** x[batch,64] → MatMul(W[64,64]) → Add(b) : W is 16 KiB, b is 256 bytes. */
function smallModel(): Model {
  const b = new GraphBuilder({ opsets: { '': 17 } });
  const x = b.input('x', 'float32', ['batch', 64]);
  const w = b.f32('W', [64, 64], Array.from({ length: 4096 }, (_, i) => Math.sin(i)));
  const bias = b.f32('bias', [64], Array.from({ length: 64 }, (_, i) => i / 64));
  b.output(b.op('Add', [b.op('MatMul', [x, w]), bias]), 'y');
  return b.build();
}

/** A model whose only initializer points at external data `location` with the given range. */
function externalRef(location: string, offset = 0): Uint8Array {
  const m = smallModel();
  const w = m.graph.initializers.get('bias')!;
  w.initializer!.storage = { kind: 'external', location, offset, length: 256 };
  return serializeModelToBytes(m);
}

describe('saveModelFile / openModelFile', () => {
  it('round-trips a model through a file, atomically, without leftover temp files', () => {
    const d = tmp();
    const p = join(d, 'm.onnx');
    const m = smallModel();
    saveModelFile(m, p);
    expect(readdirSync(d)).toEqual(['m.onnx']);
    const f = openModelFile(p);
    expect(f.model.graph.nodes.map((n) => n.opType)).toEqual(['MatMul', 'Add']);
    expect(Array.from(f.model.graph.initializers.get('W')!.initializer!.data() as Float32Array).slice(0, 3)).toEqual(Array.from(new Float32Array([0, Math.sin(1), Math.sin(2)])));
    f.close();
  });

  it('writes external data, resolves it lazily, and streams big files without reading tensor bytes', () => {
    const d = tmp();
    const p = join(d, 'ext.onnx');
    const { externalBytes } = saveModelFile(smallModel(), p, { externalData: { location: 'ext.onnx.data', threshold: 1024 } });
    expect(externalBytes).toBeGreaterThanOrEqual(4096 * 4);
    expect(statSync(p).size).toBeLessThan(2048);
    for (const inMemory of [true, false]) {
      const f = openModelFile(p, { inMemory });
      const w = f.model.graph.initializers.get('W')!.initializer!;
      expect(w.storage.kind).toBe('external');
      expect(f.externalFiles.get('ext.onnx.data')).toBe(statSync(join(d, 'ext.onnx.data')).size);
      expect((w.data() as Float32Array)[1]).toBeCloseTo(Math.sin(1), 6);
      expect(f.model.graph.initializers.get('bias')!.initializer!.storage.kind).toBe('raw');
      f.close();
    }
  });

  it('re-saves a model in place from its own external data', () => {
    const d = tmp();
    const p = join(d, 'ext.onnx');
    saveModelFile(smallModel(), p, { externalData: { location: 'ext.onnx.data' } });
    const f = openModelFile(p);
    saveModelFile(f.model, p, { externalData: { location: 'ext.onnx.data' } });
    f.close();
    const g = openModelFile(p);
    expect((g.model.graph.initializers.get('W')!.initializer!.data() as Float32Array)[2]).toBeCloseTo(Math.sin(2), 6);
    g.close();
  });
});

describe('external data safety', () => {
  const setup = (location: string, prepare?: (dir: string) => void) => {
    const outer = tmp();
    const d = join(outer, 'model');
    mkdirSync(d);
    writeFileSync(join(outer, 'secret.bin'), new Uint8Array(1024).fill(7));
    writeFileSync(join(d, 'ok.bin'), new Uint8Array(1024).fill(1));
    prepare?.(d);
    const p = join(d, 'model.onnx');
    writeFileSync(p, externalRef(location));
    return p;
  };
  const readBias = (p: string) => {
    const f = openModelFile(p);
    try {
      return f.model.graph.initializers.get('bias')!.initializer!.bytes();
    } finally {
      f.close();
    }
  };

  it('reads a legitimate relative location', () => {
    expect(readBias(setup('ok.bin'))[0]).toBe(1);
  });

  it.each([
    ['../secret.bin', /'\.\.'/],
    ['sub/../../secret.bin', /'\.\.'/],
    ['/etc/passwd', /absolute path/],
    ['C:\\Windows\\win.ini', /absolute path/],
  ])('refuses %s at load time', (location, why) => {
    expect(() => openModelFile(setup(location))).toThrow(ExternalDataError);
    expect(() => openModelFile(setup(location))).toThrow(why);
  });

  it('refuses a symbolic link, even one pointing inside the folder', () => {
    const p = setup('link.bin', (d) => symlinkSync(join(d, '..', 'secret.bin'), join(d, 'link.bin')));
    expect(() => readBias(p)).toThrow(/symbolic link; refused as unsafe/);
    const q = setup('inner.bin', (d) => symlinkSync(join(d, 'ok.bin'), join(d, 'inner.bin')));
    expect(() => readBias(q)).toThrow(/symbolic link/);
  });

  it('refuses a symlinked directory on the path', () => {
    const p = setup('dir/secret.bin', (d) => symlinkSync(join(d, '..'), join(d, 'dir')));
    expect(() => readBias(p)).toThrow(/'dir' is a symbolic link/);
  });

  it('refuses a hard link to a file outside the folder', () => {
    const p = setup('hard.bin', (d) => linkSync(join(d, '..', 'secret.bin'), join(d, 'hard.bin')));
    expect(() => readBias(p)).toThrow(/hard links/);
  });

  it('refuses ranges past the end of the file and missing files', () => {
    const d = tmp();
    writeFileSync(join(d, 'short.bin'), new Uint8Array(100));
    const p = join(d, 'm.onnx');
    writeFileSync(p, externalRef('short.bin'));
    expect(() => readBias(p)).toThrow(/past the end of the file \(100 bytes\)/);
    writeFileSync(p, externalRef('missing.bin'));
    expect(() => readBias(p)).toThrow(/file not found/);
  });
});

describe('writeFileAtomic', () => {
  it('replaces the target only when complete', () => {
    const d = tmp();
    const p = join(d, 'a.bin');
    writeFileAtomic(p, [new Uint8Array([1, 2]), new Uint8Array([3])]);
    expect(Array.from(readFileSync(p))).toEqual([1, 2, 3]);
    expect(() => writeFileAtomic(join(d, 'nope', 'b.bin'), new Uint8Array(1))).toThrow();
    expect(readdirSync(d)).toEqual(['a.bin']);
  });

  it('loads the same bytes that were written', () => {
    const d = tmp();
    const p = join(d, 'm.onnx');
    const bytes = serializeModelToBytes(smallModel());
    writeFileAtomic(p, bytes);
    expect(loadModel(readFileSync(p)).graph.nodeCount).toBe(2);
  });
});
