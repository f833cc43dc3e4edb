/**
 * The desktop shell's security policy as data and pure functions (after Electron's security
 * checklist): window options, the Content-Security-Policy, the app:// origin, and the decisions for
 * navigation, new windows and permission requests. main.ts only wires these into Electron.
 */
import type { BrowserWindowConstructorOptions, WebPreferences } from 'electron';

/** The app's own scheme; the editor is served from `app://fuselab/` (never from the network). */
export const APP_SCHEME = 'app';
export const APP_HOST = 'fuselab';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_ENTRY = `${APP_ORIGIN}/index.html`;

/**
 * Privileges for `protocol.registerSchemesAsPrivileged`: standard (relative URLs, origin) and secure
 * (a secure context: WebGPU and SharedArrayBuffer need one), fetch for onnxruntime-web's wasm,
 * streaming for big responses. No CORS bypass, no service workers.
 */
export const APP_SCHEME_PRIVILEGES = {
  standard: true,
  secure: true,
  supportFetchAPI: true,
  stream: true,
  codeCache: true,
  corsEnabled: false,
  allowServiceWorkers: false,
  bypassCSP: false,
} as const;

/**
 * The CSP for every app:// response. Scripts and workers only from the app itself; onnxruntime-web
 * compiles wasm (`'wasm-unsafe-eval'`, not `'unsafe-eval'`); no network (`connect-src 'self'`), no
 * plugins, frames, forms or <base>. Images may be data:/blob: (the favicon, graph PNG export).
 */
export const CSP_DIRECTIVES: Readonly<Record<string, readonly string[]>> = {
  'default-src': ["'none'"],
  'script-src': ["'self'", "'wasm-unsafe-eval'"],
  'worker-src': ["'self'"],
  'style-src': ["'self'"],
  'img-src': ["'self'", 'data:', 'blob:'],
  'font-src': ["'self'"],
  'connect-src': ["'self'"],
  'object-src': ["'none'"],
  'frame-src': ["'none'"],
  'frame-ancestors': ["'none'"],
  'base-uri': ["'none'"],
  'form-action': ["'none'"],
};

export function contentSecurityPolicy(directives = CSP_DIRECTIVES): string {
  return Object.entries(directives).map(([k, v]) => `${k} ${v.join(' ')}`).join('; ');
}

/**
 * Headers on every app:// response: the CSP, cross-origin isolation (onnxruntime-web's threaded
 * wasm needs SharedArrayBuffer), no sniffing, no referrer.
 */
export function securityHeaders(): Record<string, string> {
  return {
    'Content-Security-Policy': contentSecurityPolicy(),
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Embedder-Policy': 'require-corp',
    'Cross-Origin-Resource-Policy': 'same-origin',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  };
}

/** Adds the CSP to response headers (`session.webRequest.onHeadersReceived`), replacing any CSP. */
export function withSecurityHeaders(headers: Record<string, string | string[]> | undefined): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (k.toLowerCase() === 'content-security-policy') continue;
    out[k] = Array.isArray(v) ? v : [v];
  }
  out['Content-Security-Policy'] = [contentSecurityPolicy()];
  return out;
}

/** webPreferences of every window: sandboxed, isolated, no Node, web security on. */
export function secureWebPreferences(preload: string): WebPreferences {
  return {
    preload,
    sandbox: true,
    contextIsolation: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    spellcheck: false,
    safeDialogs: true,
    enableWebSQL: false,
    // the editor's model and layout workers run on their own threads; background throttling would
    // slow token streaming when the window is not focused
    backgroundThrottling: false,
  };
}

export function mainWindowOptions(preload: string): BrowserWindowConstructorOptions {
  return {
    width: 1440,
    height: 900,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: 'Fuselab',
    backgroundColor: '#0b0d12',
    autoHideMenuBar: true,
    webPreferences: secureWebPreferences(preload),
  };
}

/** True when `url` is the app's own content (app://fuselab/…). Everything else is remote. */
export function isAppUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST && !u.username && !u.password;
  } catch {
    return false;
  }
}

export type NavigationDecision = { allow: true } | { allow: false; reason: string; openFile?: string };

/**
 * `will-navigate` / `will-redirect` / `will-frame-navigate`: only reloads of the app's own pages.
 * A `file:` URL of an .onnx/.engine file (a drop that no page handler caught) becomes an open
 * request instead of a navigation.
 */
export function navigationDecision(url: string): NavigationDecision {
  if (isAppUrl(url)) return { allow: true };
  let u: URL | null = null;
  try { u = new URL(url); } catch { /* not a URL */ }
  if (u?.protocol === 'file:' && /\.(onnx|engine)$/i.test(u.pathname)) {
    return { allow: false, reason: 'file dropped on the window: opened as a model instead of navigating', openFile: fileUrlPath(u) };
  }
  return { allow: false, reason: `navigation to ${u ? u.protocol : 'an invalid URL'} content is not allowed (the app shows only its own pages)` };
}

function fileUrlPath(u: URL): string {
  const p = decodeURIComponent(u.pathname);
  return /^\/[a-zA-Z]:\//.test(p) ? p.slice(1).replace(/\//g, '\\') : p;
}

/** `setWindowOpenHandler`: never a new Electron window. https links may go to the OS browser. */
export function windowOpenDecision(url: string): { action: 'deny'; openExternally: string | null } {
  try {
    const u = new URL(url);
    if (u.protocol === 'https:' && !u.username && !u.password) return { action: 'deny', openExternally: u.href };
  } catch { /* invalid: deny */ }
  return { action: 'deny', openExternally: null };
}

/**
 * Permissions the app grants, and only to its own origin. WebGPU itself asks for no permission in
 * Chromium (it needs a secure context, which app:// is), so the set holds only what the editor uses
 * beyond it: writing to the clipboard from its copy buttons.
 */
export const GRANTED_PERMISSIONS: ReadonlySet<string> = new Set(['clipboard-sanitized-write']);

/** `setPermissionRequestHandler` / `setPermissionCheckHandler`: deny unless granted and from the app. */
export function permissionDecision(permission: string, requestingUrl: string | undefined | null): boolean {
  return GRANTED_PERMISSIONS.has(permission) && !!requestingUrl && isAppUrl(requestingUrl);
}
