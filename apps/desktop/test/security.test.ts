import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { defaultRoots, resolveAppRequest, type AppRoots } from '../src/app-protocol.ts';
import { modelPathsFromArgv } from '../src/launch-files.ts';
import { APP_ENTRY, APP_SCHEME_PRIVILEGES, contentSecurityPolicy, isAppUrl, mainWindowOptions, navigationDecision, permissionDecision, secureWebPreferences, securityHeaders, windowOpenDecision, withSecurityHeaders } from '../src/security.ts';
import { tempDir } from './helpers.ts';

describe('window options', () => {
  it('sandboxes every window, isolates the preload, and gives the page no Node', () => {
    const w = mainWindowOptions('/app/dist/preload.cjs');
    expect(w.show).toBe(false);
    expect(w.webPreferences).toMatchObject({
      preload: '/app/dist/preload.cjs',
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
    });
    expect(secureWebPreferences('p')).toEqual(w.webPreferences && { ...w.webPreferences, preload: 'p' });
  });

  it('serves the app from its own secure, standard scheme without CORS or CSP bypass', () => {
    expect(APP_ENTRY).toBe('app://fuselab/index.html');
    expect(APP_SCHEME_PRIVILEGES).toMatchObject({ standard: true, secure: true, bypassCSP: false, corsEnabled: false, allowServiceWorkers: false });
  });
});

describe('content security policy', () => {
  const csp = contentSecurityPolicy();
  const directive = (name: string) => csp.split('; ').find((d) => d.startsWith(`${name} `));

  it('allows only the app itself, wasm compilation, and no network, frames, plugins or inline script', () => {
    expect(directive('default-src')).toBe("default-src 'none'");
    expect(directive('script-src')).toBe("script-src 'self' 'wasm-unsafe-eval'");
    expect(directive('worker-src')).toBe("worker-src 'self'");
    expect(directive('connect-src')).toBe("connect-src 'self'");
    expect(directive('object-src')).toBe("object-src 'none'");
    expect(directive('frame-ancestors')).toBe("frame-ancestors 'none'");
    expect(directive('base-uri')).toBe("base-uri 'none'");
    expect(csp).not.toContain("'unsafe-eval'");
    expect(csp).not.toContain("'unsafe-inline'");
    expect(csp).not.toMatch(/https?:|\*/);
  });

  it('goes on every app response with cross-origin isolation, and replaces any CSP in other responses', () => {
    expect(securityHeaders()).toMatchObject({ 'Content-Security-Policy': csp, 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp', 'X-Content-Type-Options': 'nosniff' });
    const h = withSecurityHeaders({ 'content-security-policy': ['default-src *'], 'Content-Type': 'text/html' });
    expect(h).toEqual({ 'Content-Type': ['text/html'], 'Content-Security-Policy': [csp] });
  });
});

describe('navigation, new windows and permissions', () => {
  it('allows navigation only within app://fuselab', () => {
    expect(navigationDecision('app://fuselab/index.html?model=x')).toEqual({ allow: true });
    for (const url of ['https://example.com/', 'http://localhost:5173/', 'app://other/index.html', 'app://user:pw@fuselab/', 'javascript:alert(1)', 'file:///etc/passwd', 'data:text/html,hi', 'not a url']) {
      const d = navigationDecision(url);
      expect(d.allow, url).toBe(false);
      expect(d).not.toHaveProperty('openFile');
    }
  });

  it('turns a dropped model file navigation into an open request', () => {
    expect(navigationDecision('file:///home/me/models/model%20a.onnx')).toMatchObject({ allow: false, openFile: '/home/me/models/model a.onnx' });
    expect(navigationDecision('file:///C:/models/m.engine')).toMatchObject({ allow: false, openFile: 'C:\\models\\m.engine' });
  });

  it('never opens a window; https links go to the OS browser, nothing else does', () => {
    expect(windowOpenDecision('https://onnx.ai/')).toEqual({ action: 'deny', openExternally: 'https://onnx.ai/' });
    for (const url of ['http://example.com/', 'file:///etc/passwd', 'app://fuselab/index.html', 'smb://host/share', 'https://u:p@example.com/', 'nonsense']) {
      expect(windowOpenDecision(url), url).toEqual({ action: 'deny', openExternally: null });
    }
  });

  it('denies every permission except clipboard writes from the app; WebGPU needs none', () => {
    for (const p of ['media', 'geolocation', 'notifications', 'openExternal', 'hid', 'usb', 'serial', 'fileSystem', 'clipboard-read', 'display-capture', 'unknown']) {
      expect(permissionDecision(p, 'app://fuselab/index.html'), p).toBe(false);
    }
    expect(permissionDecision('clipboard-sanitized-write', 'app://fuselab/index.html')).toBe(true);
    expect(permissionDecision('clipboard-sanitized-write', 'app://fuselab')).toBe(true);
    expect(permissionDecision('clipboard-sanitized-write', 'https://evil.example')).toBe(false);
    expect(permissionDecision('clipboard-sanitized-write', null)).toBe(false);
    expect(isAppUrl('app://fuselab')).toBe(true);
  });
});

describe('app:// protocol', () => {
  let tmp: ReturnType<typeof tempDir>;
  let roots: AppRoots;
  beforeEach(() => {
    tmp = tempDir();
    roots = { editor: join(tmp.dir, 'editor'), examples: join(tmp.dir, 'examples') };
    mkdirSync(join(roots.editor, 'assets'), { recursive: true });
    mkdirSync(join(roots.examples as string, 'm'), { recursive: true });
    writeFileSync(join(roots.editor, 'index.html'), '<!doctype html>');
    writeFileSync(join(roots.editor, 'assets', 'ort.wasm'), 'wasm');
    writeFileSync(join(roots.examples as string, 'm', 'model.onnx'), 'onnx');
    writeFileSync(join(roots.examples as string, 'm', 'notes.txt'), 'txt');
    writeFileSync(join(tmp.dir, 'secret.txt'), 'secret');
    symlinkSync(join(tmp.dir, 'secret.txt'), join(roots.editor, 'assets', 'leak.js'));
  });
  afterEach(() => tmp.cleanup());

  it('maps app URLs to the built editor and bundled examples', () => {
    expect(resolveAppRequest('app://fuselab/', roots)).toMatchObject({ status: 200, file: join(roots.editor, 'index.html'), mime: 'text/html; charset=utf-8' });
    expect(resolveAppRequest('app://fuselab/assets/ort.wasm', roots)).toMatchObject({ status: 200, mime: 'application/wasm', size: 4 });
    expect(resolveAppRequest('app://fuselab/examples/m/model.onnx', roots)).toMatchObject({ status: 200, size: 4 });
  });

  it('refuses escapes, symlinks out, other hosts and other example file types', () => {
    // the URL parser folds dot segments at the root (→ a missing file); encoded separators are refused
    for (const url of ['app://fuselab/%2e%2e/secret.txt', 'app://fuselab/../secret.txt', 'app://fuselab/assets/../../secret.txt']) expect(resolveAppRequest(url, roots).status, url).toBe(404);
    expect(resolveAppRequest('app://fuselab/assets/..%2f..%2fsecret.txt', roots)).toMatchObject({ status: 400, reason: "'..' in path" });
    expect(resolveAppRequest('app://fuselab/assets%5c..%5csecret.txt', roots)).toMatchObject({ status: 400, reason: 'bad characters in path' });
    expect(resolveAppRequest('app://fuselab/assets/leak.js', roots)).toMatchObject({ status: 404, reason: 'outside the app folder' });
    expect(resolveAppRequest('app://other/index.html', roots).status).toBe(404);
    expect(resolveAppRequest('app://fuselab/examples/m/notes.txt', roots).status).toBe(404);
    expect(resolveAppRequest('app://fuselab/assets', roots)).toMatchObject({ status: 404, reason: 'not a file' });
    expect(resolveAppRequest('app://fuselab/examples/m/model.onnx', { ...roots, examples: null }).status).toBe(404);
  });

  it('finds the editor build in the repository and in a packaged app', () => {
    expect(defaultRoots('/repo/apps/desktop', null, false)).toEqual({ editor: '/repo/apps/editor/dist', examples: '/repo/examples' });
    expect(defaultRoots('/opt/Fuselab/resources/app.asar', '/opt/Fuselab/resources', true)).toEqual({ editor: '/opt/Fuselab/resources/editor', examples: '/opt/Fuselab/resources/examples' });
  });
});

describe('files from the command line', () => {
  it('picks model paths out of argv, skipping flags, the executable and the app path', () => {
    expect(modelPathsFromArgv(['/usr/bin/electron', 'apps/desktop', '--enable-logging', 'm.onnx', 'x.txt', '/abs/e.ENGINE', 'm.onnx', '-v'], '/home/me', 2)).toEqual(['/home/me/m.onnx', '/abs/e.ENGINE']);
    expect(modelPathsFromArgv(['/opt/Fuselab/fuselab', 'model.onnx'], '/w', 1)).toEqual(['/w/model.onnx']);
  });
});
