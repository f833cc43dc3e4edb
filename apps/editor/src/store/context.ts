/** The store of the open document, handed down through React context. */
import { createContext } from 'react';
import type { EditorStore } from './editor-store.ts';

export const StoreContext = createContext<EditorStore | null>(null);
