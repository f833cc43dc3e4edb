/** The desktop slice, handed down through React context: null in the browser (no desktop shell). */
import { createContext } from 'react';
import type { DesktopStore } from './desktop-store.ts';

export const DesktopContext = createContext<DesktopStore | null>(null);
