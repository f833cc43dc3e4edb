import { useCallback, useMemo, useRef, useState } from 'react';
import { Background, BackgroundVariant, Controls, MiniMap, ReactFlow, ReactFlowProvider, useReactFlow, type Connection, type Edge, type EdgeChange, type NodeChange } from '@xyflow/react';
import { useActions } from '../hooks/useActions.ts';
import { useEditor } from '../hooks/useEditor.ts';
import { connectionError, nextId, FlowError } from '../workflow/document.ts';
import { CATEGORY_COLORS, KIND_BY_ID, portType } from '../workflow/kinds.ts';
import { FlowNodeCard, PORT_COLORS, type FlowCardData, type FlowCardNode } from './FlowNodeCard.tsx';
import { useSaveEngine } from './EngineView.tsx';
import { useTritonExport } from '../hooks/useTritonExport.ts';
import { profileHeadline } from '../model/profile-rows.ts';
import type { DeployState } from '../store/deploy.ts';
import type { EngineState } from '../store/playground.ts';
import { fmtBytes } from '../format.ts';

/** The card's extra lines for the deploy nodes: a profiles node's profiles, an export node's plan and its button. */
function deployDetail(kind: string, id: string, deploy: DeployState, engine: EngineState, exportTriton: (id: string) => void): FlowCardData['detail'] {
  if (kind === 'profiles') {
    const r = deploy.profiles[id];
    if (!r) return undefined;
    return { lines: [...r.profiles.map((p) => ({ text: profileHeadline(p) })), ...r.notes.map((n) => ({ text: n, tone: 'dim' as const }))], buttons: [] };
  }
  if (kind === 'export-triton' && engine.state === 'ready') {
    const t = deploy.triton[id];
    return {
      lines: t
        ? [{ text: `${t.name}/ · max_batch_size ${t.maxBatchSize}` }, { text: `${t.inputs} inputs · ${t.outputs} outputs${t.kvCache ? ' · KV stateless' : ''}`, tone: 'dim' }, { text: t.files.map((f) => f.path.split('/').slice(1).join('/')).join(', '), tone: 'dim' }]
        : [{ text: `from ${engine.name}`, tone: 'dim' }],
      buttons: [{ label: 'Export .tar', onClick: () => exportTriton(id), testId: 'export-triton-download' }],
    };
  }
  return undefined;
}

const nodeTypes = { card: FlowNodeCard };
export const KIND_MIME = 'application/x-fuselab-kind';

function Canvas() {
  const doc = useEditor((s) => s.flow.history.present);
  const selected = useEditor((s) => s.flow.selected);
  const statuses = useEditor((s) => s.flow.statuses);
  const source = useEditor((s) => s.source);
  const engine = useEditor((s) => s.engine);
  const deploy = useEditor((s) => s.deploy);
  const actions = useActions();
  const save = useSaveEngine();
  const tritonExport = useTritonExport();
  const exportTriton = useCallback((id: string) => void tritonExport(id), [tritonExport]);
  const engineDetail = useMemo((): FlowCardData['detail'] => {
    const m = engine.manifest;
    if (engine.state !== 'ready' || !m) return undefined;
    const fused = Object.values(m.graph.fused).reduce((a, b) => a + b, 0);
    return {
      lines: [
        { text: `${engine.name} · ${fmtBytes(engine.byteLength)}` },
        { text: `${m.sections.length} sections: ${m.sections.map((x) => x.name).join(', ')}`, tone: 'dim' },
        { text: `${m.graph.nodes} nodes · ${fused} fused · ${m.device.backend === 'webgpu' ? `webgpu ${m.device.architecture || m.device.vendor}` : 'wasm'}`, tone: 'dim' },
        ...(m.profiles.length ? [{ text: `profiles: ${m.profiles.map((p) => p.name).join(', ')}`, tone: 'dim' as const }] : []),
        m.validation ? { text: m.validation.passed ? `✓ validated (${m.validation.tolerance})` : '✗ validation failed', tone: m.validation.passed ? 'ok' : 'bad' } : { text: 'not validated', tone: 'dim' },
      ],
      buttons: [
        ...(save ? [{ label: 'Save engine', onClick: save, testId: 'save-engine' }] : []),
        { label: 'Playground →', onClick: () => actions.setTab('playground'), testId: 'open-playground' },
      ],
    };
  }, [engine, save, actions]);
  const rf = useReactFlow();
  const measured = useRef(new Map<string, { width: number; height: number }>());
  const [, bump] = useState(0);
  const dragging = useRef(false);

  const nodes: FlowCardNode[] = useMemo(() => doc.nodes.map((n) => ({
    id: n.id, type: 'card', position: n.position, selected: selected.includes(n.id),
    ...(measured.current.has(n.id) ? { measured: measured.current.get(n.id) } : {}),
    deletable: n.kind !== 'source',
    data: {
      kind: n.kind, params: n.params, enabled: n.enabled, status: statuses[n.id],
      subtitle: n.kind === 'source' ? (source ? `${source.name}` : 'no model open') : undefined,
      onParam: (key: string, value: unknown) => actions.edit({ type: 'set-param', node: n.id, key, value }),
      onRun: n.kind === 'playground' && engine.state === 'ready' ? () => actions.setTab('playground') : () => void actions.runFlow(n.kind.startsWith('pass:') ? n.id : undefined),
      ...(n.kind === 'build-engine' && engineDetail ? { detail: engineDetail } : {}),
      ...(n.kind === 'profiles' || n.kind === 'export-triton' ? { detail: deployDetail(n.kind, n.id, deploy, engine, exportTriton) } : {}),
    },
  })), [doc.nodes, selected, statuses, source, actions, engine, engineDetail, deploy, exportTriton]);

  const edges: Edge[] = useMemo(() => doc.edges.map((e) => {
    const src = doc.nodes.find((n) => n.id === e.source);
    const t = src ? portType(src.kind, e.sourceHandle) : undefined;
    const running = statuses[e.target]?.state === 'running';
    return { id: e.id, source: e.source, sourceHandle: e.sourceHandle, target: e.target, targetHandle: e.targetHandle, animated: running, style: { stroke: t ? PORT_COLORS[t] : '#64748b', strokeWidth: 2, opacity: 0.8 } };
  }), [doc.edges, doc.nodes, statuses]);

  const onNodesChange = useCallback((changes: NodeChange<FlowCardNode>[]) => {
    const positions: Record<string, { x: number; y: number }> = {};
    let ended = false;
    const removed: string[] = [];
    let sel: string[] | null = null;
    for (const c of changes) {
      if (c.type === 'position' && c.position) {
        if (!dragging.current && c.dragging) { dragging.current = true; actions.beginDrag(); }
        positions[c.id] = c.position;
        if (c.dragging === false) ended = true;
      } else if (c.type === 'position' && c.dragging === false) ended = true;
      else if (c.type === 'dimensions' && c.dimensions) { measured.current.set(c.id, c.dimensions); bump((x) => x + 1); }
      else if (c.type === 'remove') removed.push(c.id);
      else if (c.type === 'select') {
        sel ??= [...selected];
        if (c.selected && !sel.includes(c.id)) sel.push(c.id);
        if (!c.selected) sel = sel.filter((x) => x !== c.id);
      }
    }
    if (Object.keys(positions).length) actions.edit({ type: 'move', positions }, { history: false });
    if (ended && dragging.current) { dragging.current = false; actions.commitPositions(); }
    if (removed.length) actions.edit({ type: 'remove', nodeIds: removed, edgeIds: [] });
    if (sel) actions.selectFlow(sel);
  }, [actions, selected]);

  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    const removed = changes.filter((c) => c.type === 'remove').map((c) => c.id);
    if (removed.length) actions.edit({ type: 'remove', nodeIds: [], edgeIds: removed });
  }, [actions]);

  const onConnect = useCallback((c: Connection) => {
    try {
      actions.edit({ type: 'connect', edge: { source: c.source, sourceHandle: c.sourceHandle ?? 'out:model', target: c.target, targetHandle: c.targetHandle ?? 'in:model' } });
    } catch (e) {
      actions.toast(e instanceof FlowError ? e.message : String(e), 'error');
    }
  }, [actions]);

  const isValidConnection = useCallback((c: Connection | Edge) => connectionError(doc, { source: c.source, sourceHandle: c.sourceHandle ?? '', target: c.target, targetHandle: c.targetHandle ?? '' }) === null, [doc]);

  const onDrop = useCallback((e: React.DragEvent) => {
    const kind = e.dataTransfer.getData(KIND_MIME);
    if (!kind || !KIND_BY_ID.has(kind)) return;
    e.preventDefault();
    const position = rf.screenToFlowPosition({ x: e.clientX, y: e.clientY });
    actions.edit({ type: 'add-node', node: { id: nextId(doc), kind, position, params: {}, enabled: true } });
  }, [actions, doc, rf]);

  return (
    <div className="h-full w-full" data-testid="workflow-canvas" onDragOver={(e) => { if (e.dataTransfer.types.includes(KIND_MIME)) { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; } }} onDrop={onDrop}>
      <ReactFlow<FlowCardNode, Edge> nodes={nodes} edges={edges} nodeTypes={nodeTypes} onNodesChange={onNodesChange} onEdgesChange={onEdgesChange}
        onConnect={onConnect} isValidConnection={isValidConnection} fitView fitViewOptions={{ padding: 0.15 }} colorMode="dark" minZoom={0.2} maxZoom={2}
        deleteKeyCode={['Delete', 'Backspace']} multiSelectionKeyCode="Shift" proOptions={{ hideAttribution: true }} onPaneClick={() => actions.selectFlow([])}>
        <Background variant={BackgroundVariant.Dots} gap={20} size={1.2} color="#1f2937" />
        <MiniMap pannable zoomable className="!bg-slate-900/90" maskColor="rgba(11,15,20,0.7)" nodeColor={(n) => { const k = KIND_BY_ID.get((n.data as { kind: string }).kind); return k ? CATEGORY_COLORS[k.category] : '#64748b'; }} />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}

export function WorkflowCanvas() {
  return <ReactFlowProvider><Canvas /></ReactFlowProvider>;
}
