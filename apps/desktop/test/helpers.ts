/** Shared fixtures for the desktop tests: temp folders with real files, a trusted sender, fake dialogs. */
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dialogs, SaveKind, SenderInfo } from '../src/ipc.ts';

export function tempDir(prefix = 'fuselab-desktop-'): { dir: string; cleanup(): void } {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export const APP_PAGE: SenderInfo = { id: 1, url: 'app://fuselab/index.html', isMainFrame: true };
export const OTHER_WINDOW: SenderInfo = { id: 2, url: 'app://fuselab/index.html', isMainFrame: true };

/** Dialogs that answer from queues (null = the user cancelled). */
export class FakeDialogs implements Dialogs {
  opens: Array<string | null> = [];
  saves: Array<string | null> = [];
  readonly asked: Array<{ kind: SaveKind; suggestedName: string }> = [];
  async openModel(): Promise<string | null> {
    return this.opens.shift() ?? null;
  }
  async save(kind: SaveKind, suggestedName: string): Promise<string | null> {
    this.asked.push({ kind, suggestedName });
    return this.saves.shift() ?? null;
  }
}
