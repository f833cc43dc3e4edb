/**
 * The deploy slice of the editor's store: what the profiles nodes computed (prefill/decode shape
 * ranges, from the model worker) and what the export-triton nodes planned. Actions are thin: the
 * model worker works out profiles on the model; the Triton repository is laid out here from the
 * engine already in memory — its model section is a view of the engine's bytes, the ONNX decode is
 * zero-copy, and the tar archive is a rope over those same bytes, so nothing big is copied or sent
 * to a worker. The download itself (a Blob of the chunks) is the component's.
 */
import { loadModel, type Model } from '@fuselab/graph-core';
import type { OptimizationProfile } from '@fuselab/optimizer';
import { parseEngine, tarArchive, TritonConfigError, tritonRepository, type TarArchive, type TritonInstanceKind } from '@fuselab/gpu-runtime';
import { kindSpec } from '../workflow/kinds.ts';
import type { FlowDoc, FlowNode } from '../workflow/document.ts';
import type { ProfilesResult } from '../worker/protocol.ts';
import type { ModelService } from '../worker/services.ts';
import type { EngineState } from './playground.ts';

export interface TritonSummary {
  name: string;
  fileName: string;
  maxBatchSize: number;
  kvCache: boolean;
  inputs: number;
  outputs: number;
  files: Array<{ path: string; bytes: number }>;
  /** Archive size (set once exported). */
  archiveBytes: number | null;
}

export interface DeployState {
  /** Profiles node id → what it computed for the current model. */
  profiles: Record<string, ProfilesResult>;
  /** Export-triton node id → the repository planned from the current engine. */
  triton: Record<string, TritonSummary>;
}

export interface TritonExport {
  fileName: string;
  archive: TarArchive;
  summary: TritonSummary;
}

export interface DeployActions {
  /** Works out the profiles node's prefill/decode profiles on the current model (status + result). */
  computeProfiles(nodeId: string): Promise<ProfilesResult | null>;
  /** The profiles feeding a build-engine node's `in:profiles` (computed when missing); null when none is connected. */
  profilesFor(buildNodeId: string): Promise<OptimizationProfile[] | null>;
  /** Plans the export-triton node's repository from the engine (status + summary); null when there is no engine. */
  planTriton(nodeId: string): Promise<TritonSummary | null>;
  /** Packs the export-triton node's repository as one .tar (chunks; the caller downloads or writes them). */
  exportTriton(nodeId: string): Promise<TritonExport | null>;
}

export interface DeployContext {
  get(): { flow: { history: { present: FlowDoc } }; assets: { maxPositions: number | null }; engine: EngineState; deploy: DeployState };
  set(patch: { deploy: DeployState }): void;
  model: ModelService;
  engineBytes(): Uint8Array | null;
  toast(text: string, kind?: 'info' | 'error' | 'success'): void;
  setNodeStatus(id: string, st: { state: 'running' | 'done' | 'error'; stat?: string; ms?: number; error?: string }): void;
}

export const emptyDeploy = (): DeployState => ({ profiles: {}, triton: {} });

/** A node's parameters with its kind's defaults filled in. */
export function paramsOf(n: FlowNode): Record<string, unknown> {
  const spec = kindSpec(n.kind);
  return { ...Object.fromEntries(Object.entries(spec.params).map(([k, p]) => [k, p.default])), ...n.params };
}

/** `kjv-llama-model.engine` → `kjv-llama-model`, as `fuselab export-triton` names a model after its file. */
export const tritonName = (engineName: string) => engineName.replace(/\.(onnx|engine)$/i, '').replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^[.-]+/, '') || 'model';

function maxBatchOf(text: unknown): number | undefined {
  const t = String(text ?? '').trim();
  if (t === '' || t === 'auto') return undefined;
  if (!/^\d+$/.test(t)) throw new TritonConfigError(`max_batch must be 'auto' or an integer ≥ 0 (got '${t}')`);
  return Number(t);
}

const message = (e: unknown) => (e as Error)?.message ?? String(e);

export function createDeployActions(ctx: DeployContext): DeployActions {
  /** The engine's model, parsed once per engine. */
  let cache: { seq: number; model: Model; bytes: Uint8Array } | null = null;
  const node = (id: string): FlowNode => {
    const n = ctx.get().flow.history.present.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node '${id}'`);
    return n;
  };
  const setDeploy = (f: (d: DeployState) => DeployState) => ctx.set({ deploy: f(ctx.get().deploy) });

  const engineModel = async (): Promise<{ model: Model; bytes: Uint8Array; engineName: string }> => {
    const e = ctx.get().engine;
    const bytes = ctx.engineBytes();
    if (e.state !== 'ready' || !bytes) throw new Error('no engine yet: build one with the build engine node (or open an .engine file)');
    if (cache?.seq !== e.seq) {
      // sections were verified when the engine was built or opened
      const parsed = await parseEngine(bytes, { file: e.name, verifySections: false });
      if (parsed.section('weights')) throw new TritonConfigError(`${e.name}: engines with external weights are not exported yet; export the ONNX model it was built from with \`fuselab export-triton\``);
      const section = parsed.section('model') as Uint8Array;
      cache = { seq: e.seq, model: loadModel(section, { file: `${e.name} (model section)` }), bytes: section };
    }
    return { model: cache.model, bytes: cache.bytes, engineName: e.name };
  };

  const plan = async (id: string) => {
    const p = paramsOf(node(id));
    const { model, bytes, engineName } = await engineModel();
    const name = String(p.name ?? '').trim() || tritonName(engineName);
    const repo = tritonRepository(model, bytes, {
      name, maxBatchSize: maxBatchOf(p.max_batch), instances: Number(p.instances ?? 1), kind: String(p.kind ?? 'KIND_GPU') as TritonInstanceKind,
      source: engineName, exporter: 'the Fuselab editor', comment: `Generated by the Fuselab editor from ${engineName}`,
    });
    const summary: TritonSummary = {
      name, fileName: `${name}.tar`, maxBatchSize: repo.plan.maxBatchSize, kvCache: repo.plan.kvCache, inputs: repo.plan.inputs.length, outputs: repo.plan.outputs.length,
      files: repo.files.map((f) => ({ path: f.path, bytes: f.data.byteLength })), archiveBytes: null,
    };
    return { repo, summary };
  };

  const actions: DeployActions = {
    async computeProfiles(id) {
      const n = node(id);
      const p = paramsOf(n);
      const positions = ctx.get().assets.maxPositions;
      const maxContext = Number(p.max_context) || positions || 1024;
      const t0 = performance.now();
      ctx.setNodeStatus(id, { state: 'running', stat: 'working out shapes…' });
      try {
        const r = await ctx.model.request({ type: 'profiles', profiles: { batch: Number(p.batch), maxContext, prefillTokens: Number(p.prefill_tokens) || maxContext, typicalPrompt: Number(p.typical_prompt) } });
        const notes = [
          ...(Number(p.max_context) ? [] : [positions ? `context from config.json: ${positions} positions` : 'no config.json: context 1024 (set max_context)']),
          ...r.notes,
          ...(positions && maxContext > positions ? [`max_context ${maxContext} is beyond the ${positions} positions the model was trained for`] : []),
        ];
        const result = { ...r, notes };
        setDeploy((d) => ({ ...d, profiles: { ...d.profiles, [id]: result } }));
        ctx.setNodeStatus(id, { state: 'done', ms: performance.now() - t0, stat: `${r.profiles.length} profile${r.profiles.length === 1 ? '' : 's'}, ctx ≤ ${r.maxContext}` });
        return result;
      } catch (e) {
        setDeploy((d) => {
          const profiles = { ...d.profiles };
          delete profiles[id];
          return { ...d, profiles };
        });
        ctx.setNodeStatus(id, { state: 'error', ms: performance.now() - t0, error: message(e) });
        return null;
      }
    },

    async profilesFor(buildId) {
      const d = ctx.get().flow.history.present;
      const e = d.edges.find((x) => x.target === buildId && x.targetHandle === 'in:profiles');
      if (!e) return null;
      const r = ctx.get().deploy.profiles[e.source] ?? (await actions.computeProfiles(e.source));
      if (!r) throw new Error('its profiles node failed (the node says why)');
      return r.profiles;
    },

    async planTriton(id) {
      try {
        const { summary } = await plan(id);
        setDeploy((d) => ({ ...d, triton: { ...d.triton, [id]: summary } }));
        ctx.setNodeStatus(id, { state: 'done', stat: `ready: ${summary.fileName} · max_batch_size ${summary.maxBatchSize}${summary.kvCache ? ' (KV decoder, stateless)' : ''}` });
        return summary;
      } catch (e) {
        ctx.setNodeStatus(id, { state: 'error', error: message(e) });
        return null;
      }
    },

    async exportTriton(id) {
      const t0 = performance.now();
      try {
        const { repo, summary } = await plan(id);
        const archive = tarArchive(repo.files, { mtime: Math.floor(Date.now() / 1000) });
        const done = { ...summary, archiveBytes: archive.byteLength };
        setDeploy((d) => ({ ...d, triton: { ...d.triton, [id]: done } }));
        ctx.setNodeStatus(id, { state: 'done', ms: performance.now() - t0, stat: `exported ${done.fileName} (${(archive.byteLength / 2 ** 20).toFixed(1)} MiB, ${repo.files.length} files)` });
        ctx.toast(`Triton repository ${done.fileName}: config.pbtxt, 1/model.onnx, README.md and samples`, 'success');
        return { fileName: done.fileName, archive, summary: done };
      } catch (e) {
        ctx.setNodeStatus(id, { state: 'error', ms: performance.now() - t0, error: message(e) });
        ctx.toast(`Triton export failed: ${message(e)}`, 'error');
        return null;
      }
    },
  };
  return actions;
}
