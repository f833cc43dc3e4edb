import { useContext } from 'react';
import { useStore } from 'zustand';
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { DesktopState } from './desktop-store.ts';
import { DesktopContext } from './context.ts';

/** Stands in for the desktop store in the browser, so the hook is called the same way everywhere. */
const NONE: StoreApi<DesktopState | null> = createStore<DesktopState | null>(() => null);

/** A slice of the desktop store, or null in the browser (no `window.fuselabDesktop`). */
export function useDesktop<T>(selector: (s: DesktopState) => T): T | null {
  const store: StoreApi<DesktopState | null> = useContext(DesktopContext) ?? NONE;
  return useStore(store, (s) => (s ? selector(s) : null));
}
