import { useEditor } from './useEditor.ts';
import type { EditorActions, EditorState } from '../store/editor-store.ts';

const selectActions = (s: EditorState) => s.actions;

/** The store's actions (stable for the store's lifetime). */
export function useActions(): EditorActions {
  return useEditor(selectActions);
}
