/**
 * Entry: one store for the open document, the model and layout workers, and the first model
 * (`?model=/examples/...` or the bundled kjv-llama example). Inside the desktop shell
 * (`window.fuselabDesktop`), the GPU runtime is the shell's utility process instead of a Web Worker,
 * and a desktop slice routes open/save through the shell (desktop/desktop-store.ts).
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import '@xyflow/react/dist/style.css';
import './styles.css';
import { App } from './App.tsx';
import { EXAMPLES } from './components/Chrome.tsx';
import { createEditorStore } from './store/editor-store.ts';
import { StoreContext } from './store/context.ts';
import { workerLayoutService, workerModelService } from './worker/services.ts';
import { workerRuntime } from './worker/runtime-service.ts';
import { DesktopContext } from './desktop/context.ts';
import { createDesktopStore, startDesktopEffects } from './desktop/desktop-store.ts';
import { desktopApi } from './desktop/page.ts';
import { desktopRuntime } from './desktop/runtime.ts';

const desktop = desktopApi();

// the GPU runtime's host, started on first use: in the desktop shell its utility process (through a
// MessagePort), in the browser its own worker (WebGPU, or wasm with the reason)
const runtime = desktop
  ? desktopRuntime(desktop)
  : workerRuntime(() => new Worker(new URL('./worker/runtime.worker.ts', import.meta.url), { type: 'module', name: 'fuselab-runtime' }));

const store = createEditorStore({
  runtime,
  model: workerModelService(() => new Worker(new URL('./worker/model-worker.ts', import.meta.url), { type: 'module', name: 'fuselab-model' })),
  layout: workerLayoutService(() => new Worker(new URL('./worker/layout-worker.ts', import.meta.url), { type: 'module', name: 'fuselab-layout' })),
  storage: typeof localStorage === 'undefined' ? null : localStorage,
});

const desktopStore = desktop ? createDesktopStore({ api: desktop, editor: store }) : null;
if (desktop && desktopStore) startDesktopEffects(desktopStore, desktop);

// tests and the benchmark read the store through this handle
(window as unknown as { __fuselab?: typeof store; __fuselabRuntime?: typeof runtime }).__fuselab = store;
(window as unknown as { __fuselabRuntime?: typeof runtime }).__fuselabRuntime = runtime;

const params = new URLSearchParams(location.search);
const url = params.get('model') ?? EXAMPLES[0].url;
void store.getState().actions.open({ kind: 'url', url, name: params.get('model') ? url.split('/').slice(-2).join('/') : EXAMPLES[0].name });
if (params.get('tab')) store.getState().actions.setTab(params.get('tab') as 'graph');

createRoot(document.getElementById('root') as HTMLElement).render(
  <StrictMode>
    <StoreContext.Provider value={store}>
      <DesktopContext.Provider value={desktopStore}>
        <App />
      </DesktopContext.Provider>
    </StoreContext.Provider>
  </StrictMode>,
);
