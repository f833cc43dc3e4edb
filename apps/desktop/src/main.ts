/**
 * Electron main process: wiring only. The policies live in security.ts, the IPC handlers in ipc.ts,
 * file access in file-table.ts, the app:// mapping in app-protocol.ts, the runtime host in
 * runtime-host.ts / runtime-process.ts — all plain modules tested in Node.
 *
 * Built by scripts/build.mjs into dist/main.cjs (with dist/preload.cjs, dist/runtime-process.cjs).
 */
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { app, BrowserWindow, dialog, ipcMain, Menu, MessageChannelMain, protocol, session, shell, utilityProcess, type IpcMainInvokeEvent, type UtilityProcess, type WebContents } from 'electron';
import { CHANNELS, EVENTS, type OpenFilesBatch } from '@fuselab/editor';
import { defaultRoots, resolveAppRequest } from './app-protocol.ts';
import { FileTable } from './file-table.ts';
import { createIpcHandlers, SAVE_EXTENSIONS, type Dialogs, type SaveKind, type SenderInfo } from './ipc.ts';
import { modelPathsFromArgv } from './launch-files.ts';
import { RecentFiles } from './recent-files.ts';
import { RUNTIME_CONNECT } from './runtime-host.ts';
import { APP_ENTRY, APP_SCHEME, APP_SCHEME_PRIVILEGES, isAppUrl, mainWindowOptions, navigationDecision, permissionDecision, securityHeaders, windowOpenDecision, withSecurityHeaders } from './security.ts';

protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { ...APP_SCHEME_PRIVILEGES } }]);

if (!app.requestSingleInstanceLock()) app.quit();

const argvSkip = app.isPackaged ? 1 : 2;
/** Files asked for before a window could take them (macOS open-file fires before ready). */
const pendingPaths: string[] = modelPathsFromArgv(process.argv, process.cwd(), argvSkip);
let mainWindow: BrowserWindow | null = null;
let handlers: ReturnType<typeof createIpcHandlers> | null = null;
const runtimes = new Map<number, UtilityProcess>();

app.on('open-file', (event, path) => {
  event.preventDefault();
  openFromOs([path]);
});

app.on('second-instance', (_event, argv, cwd) => {
  openFromOs(modelPathsFromArgv(argv, cwd, argvSkip));
  if (mainWindow) {
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  }
});

/** Opens OS-given paths in the main window (queued until it has loaded). */
function openFromOs(paths: string[], reason: OpenFilesBatch['reason'] = 'os'): void {
  if (!paths.length) return;
  const wc = mainWindow?.webContents;
  if (!wc || !handlers || wc.isLoading()) {
    pendingPaths.push(...paths);
    return;
  }
  wc.send(EVENTS.openFiles, handlers.openPaths(wc.id, paths, reason));
}

// Every web contents, including any the app never meant to create: no navigation away, no new
// windows, no <webview>.
app.on('web-contents-created', (_event, contents) => {
  const guard = (e: { preventDefault(): void }, url: string) => {
    const d = navigationDecision(url);
    if (d.allow) return;
    e.preventDefault();
    if (d.openFile) openFromOs([d.openFile], 'drop');
  };
  contents.on('will-navigate', (e) => guard(e, e.url));
  contents.on('will-redirect', (e) => guard(e, e.url));
  contents.on('will-frame-navigate', (e) => { if (!e.isMainFrame) guard(e, e.url); });
  contents.on('will-attach-webview', (e) => e.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    const d = windowOpenDecision(url);
    if (d.openExternally) void shell.openExternal(d.openExternally);
    return { action: d.action };
  });
});

function dialogs(): Dialogs {
  const filters: Record<SaveKind, Electron.FileFilter[]> = {
    engine: [{ name: 'Fuselab engine', extensions: ['engine'] }],
    model: [{ name: 'ONNX model', extensions: ['onnx'] }],
    workflow: [{ name: 'Fuselab workflow', extensions: ['json'] }],
  };
  return {
    async openModel() {
      const options: Electron.OpenDialogOptions = { title: 'Open a model', properties: ['openFile'], filters: [{ name: 'ONNX model or Fuselab engine', extensions: ['onnx', 'engine'] }] };
      const r = mainWindow ? await dialog.showOpenDialog(mainWindow, options) : await dialog.showOpenDialog(options);
      return r.canceled || !r.filePaths[0] ? null : r.filePaths[0];
    },
    async save(kind, suggestedName) {
      const name = suggestedName.includes('.') ? suggestedName : `${suggestedName}${SAVE_EXTENSIONS[kind]}`;
      const options: Electron.SaveDialogOptions = { defaultPath: join(app.getPath('documents'), name), filters: filters[kind], properties: ['showOverwriteConfirmation', 'createDirectory'] };
      const r = mainWindow ? await dialog.showSaveDialog(mainWindow, options) : await dialog.showSaveDialog(options);
      return r.canceled || !r.filePath ? null : r.filePath;
    },
  };
}

function senderOf(event: IpcMainInvokeEvent): SenderInfo {
  const frame = event.senderFrame;
  return { id: event.sender.id, url: frame?.url ?? null, isMainFrame: !!frame && frame.parent === null };
}

/** One runtime utility process per window: a reload or a second request gets a fresh one. */
function connectRuntime(wc: WebContents): void {
  runtimes.get(wc.id)?.kill();
  const child = utilityProcess.fork(join(__dirname, 'runtime-process.cjs'), [], { serviceName: 'Fuselab GPU runtime', stdio: 'inherit' });
  runtimes.set(wc.id, child);
  child.once('exit', () => { if (runtimes.get(wc.id) === child) runtimes.delete(wc.id); });
  const { port1, port2 } = new MessageChannelMain();
  child.postMessage({ type: RUNTIME_CONNECT }, [port1]);
  wc.postMessage(EVENTS.runtimePort, null, [port2]);
}

function forget(id: number): void {
  handlers?.forgetSender(id);
  runtimes.get(id)?.kill();
  runtimes.delete(id);
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow(mainWindowOptions(join(__dirname, 'preload.cjs')));
  const id = win.webContents.id;
  win.once('ready-to-show', () => win.show());
  win.webContents.on('did-start-navigation', (e) => { if (e.isMainFrame && !e.isSameDocument) forget(id); });
  win.webContents.on('did-finish-load', () => openFromOs(pendingPaths.splice(0)));
  win.webContents.once('destroyed', () => forget(id));
  win.on('closed', () => { if (mainWindow === win) mainWindow = null; });
  void win.loadURL(APP_ENTRY);
  return win;
}

function menu(): Menu {
  const isMac = process.platform === 'darwin';
  return Menu.buildFromTemplate([
    ...(isMac ? [{ role: 'appMenu' as const }] : []),
    {
      label: 'File',
      submenu: [
        { label: 'Open Model…', accelerator: 'CmdOrCtrl+O', click: () => void dialogs().openModel().then((p) => p && openFromOs([p])) },
        { type: 'separator' },
        isMac ? { role: 'close' } : { role: 'quit' },
      ],
    },
    { role: 'editMenu' },
    { role: 'viewMenu' },
    { role: 'windowMenu' },
  ]);
}

void app.whenReady().then(() => {
  const roots = defaultRoots(app.getAppPath(), process.resourcesPath ?? null, app.isPackaged);
  protocol.handle(APP_SCHEME, (request) => {
    const r = resolveAppRequest(request.url, roots);
    if (r.status !== 200) return new Response(r.reason, { status: r.status, headers: { 'Content-Type': 'text/plain', ...securityHeaders() } });
    const body = Readable.toWeb(createReadStream(r.file)) as unknown as ReadableStream<Uint8Array>;
    return new Response(body, { headers: { 'Content-Type': r.mime, 'Content-Length': String(r.size), ...securityHeaders() } });
  });

  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((wc, permission, callback, details) => callback(permissionDecision(permission, details.requestingUrl ?? wc.getURL())));
  ses.setPermissionCheckHandler((_wc, permission, origin) => permissionDecision(permission, origin));
  ses.webRequest.onHeadersReceived((details, callback) => callback({ responseHeaders: withSecurityHeaders(details.responseHeaders) }));
  // nothing from the network: the app's own scheme, devtools and in-page data/blob URLs only
  ses.webRequest.onBeforeRequest((details, callback) => {
    const ok = isAppUrl(details.url) || /^(devtools|data|blob):/.test(details.url);
    callback({ cancel: !ok });
  });

  const files = new FileTable();
  const recent = new RecentFiles(join(app.getPath('userData'), 'recent-files.json'));
  if (recent.loadProblem) console.warn(recent.loadProblem);
  handlers = createIpcHandlers({
    files,
    recent,
    dialogs: dialogs(),
    connectRuntime: (s) => {
      const wc = BrowserWindow.getAllWindows().map((w) => w.webContents).find((c) => c.id === s.id);
      if (wc) connectRuntime(wc);
    },
  });
  for (const channel of Object.values(CHANNELS)) {
    ipcMain.handle(channel, (event, ...args: unknown[]) => (handlers as NonNullable<typeof handlers>).invoke(channel, senderOf(event), args));
  }

  Menu.setApplicationMenu(menu());
  mainWindow = createWindow();
  app.on('activate', () => { if (!BrowserWindow.getAllWindows().length) mainWindow = createWindow(); });
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
