import { describe, expect, it } from 'vitest';
import { decodeModelBytes, encodeModelToBytes, modelFromProto, modelToProto, type Graph, type Model } from '../../src/index.ts';
import { DataType } from '../../src/proto/onnx-types.ts';
import { fullModel, tensorType, valueInfo } from '../proto/fixtures.ts';

/** The proto fixture exercises the wire format; as a graph it also needs its free input 'w' declared. */
function fullGraphModel() {
  const p = fullModel();
  p.graph!.input.push(valueInfo('w', tensorType(DataType.FLOAT, [4])));
  return p;
}

/** proto → IR → proto must keep everything the IR models (and pass unknown fields through). */
const viaIr = (bytes: Uint8Array): { model: Model; bytes: Uint8Array } => {
  const model = modelFromProto(decodeModelBytes(bytes, 'full.onnx'), { file: 'full.onnx' });
  return { model, bytes: encodeModelToBytes(modelToProto(model)) };
};

describe('IR round trip of a model using every ONNX feature', () => {
  const first = viaIr(encodeModelToBytes(fullGraphModel()));
  const second = viaIr(first.bytes);

  it('reaches a fixed point after one pass through the IR', () => {
    expect(Buffer.from(second.bytes).equals(Buffer.from(first.bytes))).toBe(true);
  });

  it('keeps nodes, domains, overloads, omitted inputs and attributes of every kind', () => {
    const g = second.model.graph;
    const custom = g.nodes.find((n) => n.name === 'n0')!;
    expect(custom.domain).toBe('com.example');
    expect(custom.overload).toBe('v2');
    expect(custom.inputs.map((v) => v?.name ?? null)).toEqual(['x', null, 'w']);
    expect(custom.metadata.get('source')).toBe('layer.0');
    expect(custom.unknownFields?.length).toBe(1);
    const kinds = new Set([...custom.attributes.values()].map((a) => a.type));
    for (const k of ['float', 'int', 'string', 'tensor', 'graph', 'floats', 'ints', 'strings', 'tensors', 'graphs', 'sparse_tensor', 'sparse_tensors', 'type_proto', 'type_protos']) {
      expect(kinds.has(k as never), k).toBe(true);
    }
  });

  it('keeps initializers of every dtype bit for bit, and graph-level extras', () => {
    const a = first.model.graph;
    const b = second.model.graph;
    expect([...b.initializers.keys()]).toEqual([...a.initializers.keys()]);
    for (const [name, v] of a.initializers) {
      const t = v.initializer!;
      const u = b.initializers.get(name)!.initializer!;
      expect(u.dtype).toBe(t.dtype);
      expect(u.dims).toEqual(t.dims);
      if (t.dtype === 'string') expect(u.strings()).toEqual(t.strings());
      else if (t.storage.kind === 'external') expect({ ...u.storage, resolver: undefined }).toEqual({ ...t.storage, resolver: undefined });
      else expect(Buffer.from(u.bytes()).equals(Buffer.from(t.bytes())), name).toBe(true);
    }
    expect(b.extras.sparseInitializer).toEqual(a.extras.sparseInitializer);
    expect(b.extras.quantizationAnnotation).toEqual(a.extras.quantizationAnnotation);
    expect(b.docString).toBe('the main graph — ünïcödé 🚀');
    expect(b.unknownFields?.length).toBe(3);
  });

  it('keeps local functions with attribute references and defaults', () => {
    const f = second.model.functions.get('local::MyFn::o1')!;
    expect(f.attributes).toEqual(['alpha']);
    expect(f.attributeDefaults.get('beta')).toEqual({ type: 'float', value: 1 });
    const body: Graph = f.body;
    expect(body.inputs.map((v) => v.name)).toEqual(['a']);
    expect(body.nodes[0].attributes.get('alpha')).toEqual({ type: 'ref', ref: 'alpha', refType: 'float' });
    expect(body.outputs[0].dtype).toBe('float32');
    expect(second.model.modelVersion).toBe(2n ** 53n + 1n);
    expect(second.model.unknownFields?.length).toBe(2);
  });
});
