/**
 * The contract between the editor and the desktop shell (apps/desktop): the API the shell's preload
 * exposes on `window.fuselabDesktop` (one method per capability), the IPC channel names behind it,
 * and the shapes that cross. Types and constants only. It lives in the editor because the editor is
 * what uses it; the shell (which depends on the editor) implements it — the preload, the main
 * process and its IPC handlers import it from `@fuselab/editor`.
 *
 * Files cross IPC as opaque handles (`FileHandle`), never as paths the renderer could choose: the
 * main process opens a file only after a native dialog, an OS "open with", a drag-drop the preload
 * saw, or a recent-files entry, and hands back a handle valid for that window only.
 */

/** The key of the API on `window` (`window.fuselabDesktop`). */
export const DESKTOP_API_KEY = 'fuselabDesktop';

/** An opaque token for a file the main process opened for this window (`f_` + 32 hex digits). */
export type FileHandle = string;

export type FileKind = 'onnx' | 'engine' | 'json' | 'data';

/** A file the main process opened for the renderer. */
export interface OpenedFile {
  handle: FileHandle;
  /** The file's base name (e.g. `model.onnx`), for display. */
  name: string;
  kind: FileKind;
  /** Size in bytes; reads past it are refused. */
  size: number;
  /** Plain files beside it that the renderer may open with `openCompanion` (tokenizer.json, …). */
  companions: string[];
}

export interface SavedFile {
  name: string;
  bytes: number;
}

export interface RecentFile {
  /** Opaque id for `openRecent` (a hash of the path). */
  id: string;
  name: string;
  /** The folder, for display only: nothing accepts a path back. */
  folder: string;
  kind: FileKind;
  openedAt: string;
  exists: boolean;
}

/** Why files arrived without the renderer asking: OS "open with" / argv, or a drop on the window. */
export type OpenFilesReason = 'os' | 'drop';

/** Files that arrived together, with why any others were refused (one line each). */
export interface OpenFilesBatch {
  reason: OpenFilesReason;
  files: OpenedFile[];
  refused: string[];
}

/** `window.fuselabDesktop`. Every method rejects with an Error whose message starts with `[CODE]`. */
export interface FuselabDesktopApi {
  readonly platform: string;
  readonly versions: { electron: string; chrome: string; node: string };
  /** Native open dialog for .onnx / .engine; null when cancelled. */
  openModel(): Promise<OpenedFile | null>;
  /** Opens a plain file beside an opened model (tokenizer.json, external data), refusing `..`, absolute paths and symlinks. */
  openCompanion(model: FileHandle, name: string): Promise<OpenedFile>;
  /** `length` bytes at `offset` (at most MAX_READ_BYTES per call). */
  readFileRange(handle: FileHandle, offset: number, length: number): Promise<Uint8Array>;
  closeFile(handle: FileHandle): Promise<void>;
  /** Native save dialog, then an atomic write (temp file, fsync, rename). null when cancelled. */
  saveEngine(bytes: Uint8Array, suggestedName: string): Promise<SavedFile | null>;
  saveModel(bytes: Uint8Array, suggestedName: string): Promise<SavedFile | null>;
  saveWorkflow(json: string, suggestedName: string): Promise<SavedFile | null>;
  recentFiles(): Promise<RecentFile[]>;
  openRecent(id: string): Promise<OpenedFile>;
  /** Files opened from the OS or dropped on the window. Returns an unsubscribe function. */
  onOpenFiles(listener: (batch: OpenFilesBatch) => void): () => void;
  /**
   * Asks for a MessagePort to the GPU runtime host (the `RuntimeClient` protocol of
   * @fuselab/gpu-runtime). A port cannot cross the context bridge, so it arrives as a window
   * `message` event (`data` = RUNTIME_PORT_MESSAGE, `ports[0]`); `connectRuntimePort` wraps this.
   */
  requestRuntimePort(): Promise<void>;
}

/** `data` of the window message that carries the runtime port into the page. */
export const RUNTIME_PORT_MESSAGE = 'fuselab:runtime-port';

/** IPC channels (renderer → main, `invoke`). */
export const CHANNELS = {
  openModel: 'fuselab:open-model',
  openCompanion: 'fuselab:open-companion',
  readFileRange: 'fuselab:read-file-range',
  closeFile: 'fuselab:close-file',
  saveEngine: 'fuselab:save-engine',
  saveModel: 'fuselab:save-model',
  saveWorkflow: 'fuselab:save-workflow',
  recentFiles: 'fuselab:recent-files',
  openRecent: 'fuselab:open-recent',
  openDropped: 'fuselab:open-dropped',
  runtimePort: 'fuselab:runtime-port',
} as const;

export type Channel = (typeof CHANNELS)[keyof typeof CHANNELS];

/** main → renderer events (`webContents.send` / `postMessage`). */
export const EVENTS = {
  openFiles: 'fuselab:open-files',
  runtimePort: 'fuselab:runtime-port-ready',
} as const;

/** Every IPC reply: a value, or an error with a code (Electron would drop a thrown error's fields). */
export type IpcResult<T> = { ok: true; value: T } | { ok: false; code: string; message: string };

/** Largest single `readFileRange` (64 MiB): read big files in pieces. */
export const MAX_READ_BYTES = 64 * 1024 * 1024;
/** Largest `saveEngine` / `saveModel` payload (structured clone limit territory: 2 GiB - 1). */
export const MAX_SAVE_BYTES = 2 ** 31 - 1;
/** Largest `saveWorkflow` JSON (64 MiB). */
export const MAX_WORKFLOW_CHARS = 64 * 1024 * 1024;

/** The code in a desktop API error message (`[BAD_ARGUMENT] …` → `BAD_ARGUMENT`), or null. */
export function desktopErrorCode(error: unknown): string | null {
  const m = /^\[([A-Z_]+)\]/.exec(String((error as { message?: unknown })?.message ?? ''));
  return m ? m[1] : null;
}
