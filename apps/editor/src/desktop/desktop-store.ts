/**
 * The desktop slice: what the editor does through `window.fuselabDesktop` when the desktop shell
 * runs it. Open goes through the native dialog (or the recent-files list, or files the OS opened /
 * the user dropped) and reads the file by range (read-file.ts); saves go through the native save
 * dialog and the shell's atomic writes. One per window, made by a factory beside the editor store
 * and handed to React through DesktopContext (null in the browser, where everything works as before).
 *
 * It drives the editor store through its actions; the one thing the editor has no action for —
 * showing the error panel for a file the shell refused or could not read — goes through the
 * store's public setState.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { EditorStore } from '../store/editor-store.ts';
import { assetsFromFiles } from '../runtime/assets.ts';
import { fmtBytes } from '../format.ts';
import { desktopErrorCode, type FuselabDesktopApi, type OpenedFile, type OpenFilesBatch, type RecentFile, type SavedFile } from './api.ts';
import { readDesktopFile } from './read-file.ts';

/** Files beside a model that the Playground uses (tokenizer, configs), opened with it when present. */
export const COMPANION_ASSETS = ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'config.json'];

export interface DesktopState {
  recent: RecentFile[];
  /** The file being read from disk through the shell (range by range), or null. */
  reading: { name: string; done: number; total: number } | null;
  actions: DesktopActions;
}

export interface DesktopActions {
  /** The native open dialog, then the file (a model into the graph view, an .engine into the Playground). */
  openModel(): Promise<void>;
  openRecent(id: string): Promise<void>;
  /** Files the shell opened without being asked (OS "open with", drop on the window). */
  openBatch(batch: OpenFilesBatch): Promise<void>;
  refreshRecent(): Promise<void>;
  /** Native save dialogs with atomic writes; null when cancelled or failed (failures are toasted). */
  saveWorkflow(): Promise<SavedFile | null>;
  saveEngine(): Promise<SavedFile | null>;
  saveOptimizedModel(): Promise<SavedFile | null>;
}

export interface DesktopDeps {
  api: FuselabDesktopApi;
  editor: EditorStore;
  /** Bytes per range read (read-file.ts's default when unset). */
  chunkBytes?: number;
}

export type DesktopStore = StoreApi<DesktopState>;

/** The shell's `[CODE] message` split for the error panel. */
function errorOf(e: unknown, file?: string): { name: string; code?: string; message: string; file?: string } {
  const message = String((e as Error)?.message ?? e);
  const code = desktopErrorCode(e) ?? (e as { code?: unknown })?.code;
  return {
    name: (e as Error)?.name && (e as Error).name !== 'Error' ? (e as Error).name : 'DesktopError',
    ...(typeof code === 'string' ? { code } : {}),
    message: message.replace(/^\[[A-Z_]+\]\s*/, ''),
    ...(file ? { file } : {}),
  };
}

/** Resolves once the editor is not loading a model (so two opens never interleave in the model worker). */
function editorIdle(editor: EditorStore): Promise<void> {
  return new Promise((resolve) => {
    if (!editor.getState().loading) return resolve();
    const stop = editor.subscribe((s) => {
      if (s.loading) return;
      stop();
      resolve();
    });
  });
}

export function createDesktopStore(deps: DesktopDeps): DesktopStore {
  const { api, editor } = deps;
  const ea = () => editor.getState().actions;
  // opens run one after another, in the order asked
  let queue: Promise<void> = Promise.resolve();

  const store = createStore<DesktopState>()((set, get) => {
    const read = (f: OpenedFile) => readDesktopFile(api, f, {
      chunkBytes: deps.chunkBytes,
      onProgress: (done, total) => set({ reading: { name: f.name, done, total } }),
    });

    /** The tokenizer and configs beside a model; one that cannot be opened is reported, not fatal. */
    const companions = async (model: OpenedFile): Promise<File[]> => {
      const out: File[] = [];
      for (const name of COMPANION_ASSETS.filter((n) => model.companions.includes(n))) {
        try {
          const c = await api.openCompanion(model.handle, name);
          try { out.push(await read(c)); } finally { void api.closeFile(c.handle).catch(() => {}); }
        } catch (e) {
          ea().toast(`${name} beside ${model.name} was not opened: ${errorOf(e).message}`, 'error');
        }
      }
      return out;
    };

    /** Reads an opened file and hands it to the editor; closes its handle. */
    const load = async (f: OpenedFile): Promise<void> => {
      let file: File;
      let assets: File[] = [];
      set({ reading: { name: f.name, done: 0, total: f.size } });
      try {
        file = await read(f);
        if (f.kind === 'onnx') assets = await companions(f);
      } catch (e) {
        editor.setState({ error: errorOf(e, f.name) });
        return;
      } finally {
        set({ reading: null });
        void api.closeFile(f.handle).catch(() => {});
      }
      await editorIdle(editor);
      if (f.kind === 'engine') {
        await ea().openEngine(file);
        ea().setTab('playground');
        return;
      }
      await ea().open({ kind: 'file', file });
      if (editor.getState().error || !assets.length) return;
      try {
        ea().setAssets({ ...(await assetsFromFiles(assets)), from: `beside ${f.name}: ${assets.map((a) => a.name).join(', ')}` });
      } catch (e) {
        ea().toast(errorOf(e).message, 'error');
      }
    };

    const enqueue = (work: () => Promise<void>): Promise<void> => {
      const next = queue.then(work, work);
      queue = next.catch(() => {});
      return next;
    };

    /** Asks the shell for a file and loads it; a refusal shows in the error panel. */
    const open = (ask: () => Promise<OpenedFile | null>) => enqueue(async () => {
      let f: OpenedFile | null;
      try {
        f = await ask();
      } catch (e) {
        editor.setState({ error: errorOf(e) });
        return;
      }
      if (f) await load(f);
      void get().actions.refreshRecent();
    });

    const save = async (what: string, run: () => Promise<SavedFile | null>): Promise<SavedFile | null> => {
      try {
        const r = await run();
        if (r) {
          ea().toast(`Saved ${what} ${r.name} (${fmtBytes(r.bytes)})`, 'success');
          void get().actions.refreshRecent();
        }
        return r;
      } catch (e) {
        ea().toast(`Could not save the ${what}: ${errorOf(e).message}`, 'error');
        return null;
      }
    };

    const actions: DesktopActions = {
      openModel: () => open(() => api.openModel()),
      openRecent: (id) => open(() => api.openRecent(id)),
      openBatch: (batch) => enqueue(async () => {
        for (const line of batch.refused) ea().toast(`Not opened (${batch.reason === 'drop' ? 'dropped' : 'from the system'}): ${line}`, 'error');
        for (const f of batch.files) await load(f);
        void get().actions.refreshRecent();
      }),
      async refreshRecent() {
        try {
          set({ recent: await api.recentFiles() });
        } catch (e) {
          ea().toast(`Recent files are unavailable: ${errorOf(e).message}`, 'error');
        }
      },
      saveWorkflow: () => save('workflow', () => api.saveWorkflow(ea().saveWorkflow(), 'workflow.fuselab.json')),
      saveEngine: () => save('engine', async () => {
        const bytes = ea().engineBytes();
        if (!bytes) throw new Error('there is no engine: build one (Run workflow) or open an .engine file');
        return api.saveEngine(bytes, editor.getState().engine.name || 'model.engine');
      }),
      saveOptimizedModel: () => save('model', async () => {
        const base = (editor.getState().source?.name ?? 'model').split('/').pop()?.replace(/\.onnx$/, '') || 'model';
        return api.saveModel(await ea().exportOptimized(), `${base}.optimized.onnx`);
      }),
    };
    return { recent: [], reading: null, actions };
  });
  return store;
}

/** Listens for files from the OS and drops, and loads the recent list. Returns the stop function. */
export function startDesktopEffects(store: DesktopStore, api: FuselabDesktopApi): () => void {
  const stop = api.onOpenFiles((batch) => { void store.getState().actions.openBatch(batch); });
  void store.getState().actions.refreshRecent();
  return stop;
}
