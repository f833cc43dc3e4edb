/**
 * Inferred shapes against onnxruntime-web on every fixture model (examples/fixtures):
 *
 * 1. With the recorded input dims substituted (`inputShapes`), every graph output and every
 *    intermediate value (each non-Constant node output, fetched from onnxruntime by marking it as a
 *    graph output of a copy) has exactly the dtype and dims onnxruntime produces.
 * 2. Without substitution, graph outputs come out with the manifest's declared symbolic dims, and
 *    every intermediate's symbolic dims, evaluated with the recorded symbol values, equal
 *    onnxruntime's dims.
 */
import { describe, expect, it } from 'vitest';
import { loadModel, serializeModelToBytes, tensorType, type Dim, type Model, type Value } from '../../src/index.ts';
import { inferShapes } from '../../src/shape-inference.ts';
import { canonicalDim, substituteDim } from '../../src/symbolic.ts';
import { fixtureBytes, fixtureExternalData, listFixtures, readFixtureIo, type FixtureEntry } from '../helpers/fixtures.ts';
import { runOrt, type OrtTensorValue } from '../helpers/ort.ts';

const fixtures = listFixtures();

/** Symbol values of a run: declared input dims that are plain names, bound to the recorded dims. */
function symbolBindings(entry: FixtureEntry, inputs: Record<string, OrtTensorValue>): Map<string, Dim> {
  const bindings = new Map<string, Dim>();
  for (const io of entry.inputs) {
    const recorded = inputs[io.name]?.dims;
    io.dims?.forEach((d, i) => {
      if (typeof d === 'string' && /^[A-Za-z_][A-Za-z0-9_]*$/.test(d) && recorded) bindings.set(d, recorded[i]);
    });
  }
  return bindings;
}

/** Node outputs worth probing: tensors produced by non-Constant nodes. */
function probeNames(model: Model): string[] {
  const names: string[] = [];
  const outputs = new Set(model.graph.outputs.map((v) => v.name));
  for (const n of model.graph.nodes) {
    if (n.opType === 'Constant') continue;
    for (const v of n.outputs) if (v && !outputs.has(v.name)) names.push(v.name);
  }
  return names;
}

/** Runs a copy of the model with `names` added as graph outputs; returns what onnxruntime fetched. */
async function probe(entry: FixtureEntry, names: string[], dtypes: Map<string, Value>, inputs: Record<string, OrtTensorValue>): Promise<Record<string, OrtTensorValue>> {
  const copy = loadModel(fixtureBytes(entry), { file: entry.file });
  const values = copy.graph.valueMap();
  for (const name of names) {
    const v = values.get(name);
    if (!v) throw new Error(`no value '${name}' in the copy of ${entry.file}`);
    v.type = tensorType(dtypes.get(name)?.dtype ?? null, null);
    copy.graph.addOutput(v);
  }
  const bytes = serializeModelToBytes(copy, { valueInfo: false });
  return runOrt(bytes, inputs, { externalData: fixtureExternalData(entry) });
}

const fmt = (dims: readonly Dim[] | null | undefined): string => (dims ? `[${dims.map((d) => (d === null ? '?' : d)).join(',')}]` : '?');

describe.skipIf(fixtures.length === 0)('shape inference agrees with onnxruntime-web on the fixtures', () => {
  for (const entry of fixtures) {
    it(`${entry.name} (${entry.exporter}, opset ${entry.opset})`, async () => {
      const bytes = fixtureBytes(entry);
      const io = readFixtureIo(entry);

      // concrete: the recorded input dims substituted
      const model = loadModel(bytes, { file: entry.file });
      const inputShapes = Object.fromEntries(Object.entries(io.inputs).map(([k, t]) => [k, t.dims]));
      const report = inferShapes(model, { inputShapes, overwrite: true });
      expect(report.errors.map((e) => e.message)).toEqual([]);
      expect(report.unknownOps.map((u) => u.opType)).toEqual([]);
      expect(report.unresolved.map((u) => `${u.value.name}: ${u.reason}`)).toEqual([]);

      // symbolic: as declared
      const sym = loadModel(bytes, { file: entry.file });
      const symReport = inferShapes(sym, { overwrite: true });
      expect(symReport.errors.map((e) => e.message)).toEqual([]);
      expect(symReport.unresolved.map((u) => `${u.value.name}: ${u.reason}`)).toEqual([]);
      for (const out of entry.outputs) {
        const v = sym.graph.outputs.find((o) => o.name === out.name);
        expect(v?.dtype, out.name).toBe(out.dtype);
        expect(v?.shape?.map(canonicalDim), `symbolic dims of output '${out.name}'`).toEqual(out.dims?.map((d) => canonicalDim(d)));
      }

      // onnxruntime: graph outputs and every intermediate
      const concrete = model.graph.valueMap();
      const symbolic = sym.graph.valueMap();
      const names = probeNames(model);
      const fetched = await probe(entry, names, concrete, io.inputs);
      const bindings = symbolBindings(entry, io.inputs);
      const mismatches: string[] = [];
      let symbolicChecked = 0;
      for (const name of [...model.graph.outputs.map((v) => v.name), ...names]) {
        const actual = fetched[name];
        if (!actual) {
          mismatches.push(`${name}: not fetched from onnxruntime`);
          continue;
        }
        const v = concrete.get(name);
        if (v?.dtype !== actual.dtype || fmt(v?.shape) !== fmt(actual.dims)) {
          mismatches.push(`${name} (${v?.producer?.opType}): inferred ${v?.dtype}${fmt(v?.shape)}, onnxruntime ${actual.dtype}${fmt(actual.dims)}`);
        }
        const s = symbolic.get(name)?.shape;
        if (s) {
          const evaluated = s.map((d) => substituteDim(d, bindings));
          if (s.length !== actual.dims.length || evaluated.some((d, i) => d !== null && d !== actual.dims[i])) {
            mismatches.push(`${name} (${v?.producer?.opType}): symbolic ${fmt(s)} evaluates to ${fmt(evaluated)}, onnxruntime ${fmt(actual.dims)}`);
          }
          symbolicChecked++;
        }
      }
      // the recorded outputs have the dims onnxruntime gives
      for (const [name, t] of Object.entries(io.outputs)) expect(fetched[name]?.dims, name).toEqual(t.dims);
      expect(mismatches).toEqual([]);
      expect(symbolicChecked).toBeGreaterThan(names.length * 0.9);
      console.log(`${entry.name}: ${names.length} intermediates + ${model.graph.outputs.length} outputs match onnxruntime (${symbolicChecked} checked symbolically)`);
    });
  }
});
