/**
 * @packageDocumentation
 * `@fuselab/editor`'s public door for other workspaces: the desktop contract. The desktop shell
 * (apps/desktop) depends on the editor and implements this API — its preload exposes
 * `window.fuselabDesktop`, its main process answers the IPC channels — while the editor uses it
 * when present. Types, constants and page-side helpers only: nothing React, nothing Node.
 */
export {
  DESKTOP_API_KEY, RUNTIME_PORT_MESSAGE, CHANNELS, EVENTS, MAX_READ_BYTES, MAX_SAVE_BYTES, MAX_WORKFLOW_CHARS, desktopErrorCode,
  type FileHandle, type FileKind, type OpenedFile, type SavedFile, type RecentFile, type OpenFilesReason, type OpenFilesBatch,
  type FuselabDesktopApi, type Channel, type IpcResult,
} from './api.ts';
export { desktopApi, connectRuntimePort, type MessageSource } from './page.ts';
