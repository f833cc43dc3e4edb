import { useContext } from 'react';
import { useStore } from 'zustand';
import type { EditorState } from '../store/editor-store.ts';
import { StoreContext } from '../store/context.ts';

/** Reads a slice of the document's store; re-renders when the selected value changes. */
export function useEditor<T>(selector: (s: EditorState) => T): T {
  const store = useContext(StoreContext);
  if (!store) throw new Error('useEditor outside <StoreContext.Provider>');
  return useStore(store, selector);
}
