import { useCallback } from 'react';
import { useActions } from './useActions.ts';

/**
 * "Export": packs the export-triton node's Triton repository (the store's `exportTriton`) and hands
 * it to the browser as one `.tar` download — a Blob over the archive's chunks, so the model's bytes
 * are not copied again.
 */
export function useTritonExport(): (nodeId: string) => Promise<void> {
  const actions = useActions();
  return useCallback(async (nodeId: string) => {
    const r = await actions.exportTriton(nodeId);
    if (!r) return;
    const a = document.createElement('a');
    a.href = URL.createObjectURL(new Blob(r.archive.chunks as BlobPart[], { type: 'application/x-tar' }));
    a.download = r.fileName;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  }, [actions]);
}
