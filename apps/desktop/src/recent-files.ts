/**
 * Recent files, persisted as JSON in the app's user-data folder with atomic writes (a crash never
 * leaves a half-written list). The renderer sees ids, names and folders; reopening goes by id, so
 * no path ever comes back from the renderer.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { writeFileAtomic } from '@fuselab/node-io';
import type { RecentFile } from '@fuselab/editor';
import { fileKind } from './file-table.ts';

export const RECENT_FILES_VERSION = 1;
export const MAX_RECENT = 12;

interface Stored {
  path: string;
  openedAt: string;
}

export function recentId(path: string): string {
  return createHash('sha256').update(path).digest('hex').slice(0, 16);
}

export class RecentFiles {
  private items: Stored[];
  /** Why the stored list was dropped on load (unreadable or invalid), or null. */
  readonly loadProblem: string | null;

  constructor(private readonly file: string, private readonly now: () => Date = () => new Date()) {
    const { items, problem } = load(file);
    this.items = items;
    this.loadProblem = problem;
  }

  /** Moves `path` to the front (adding it), keeps MAX_RECENT, and saves. */
  add(path: string): void {
    this.items = [{ path, openedAt: this.now().toISOString() }, ...this.items.filter((i) => i.path !== path)].slice(0, MAX_RECENT);
    this.save();
  }

  list(): RecentFile[] {
    return this.items.map((i) => ({ id: recentId(i.path), name: basename(i.path), folder: dirname(i.path), kind: fileKind(i.path), openedAt: i.openedAt, exists: existsSync(i.path) }));
  }

  /** The path of a recent entry, or null for an unknown id. */
  pathOf(id: string): string | null {
    return this.items.find((i) => recentId(i.path) === id)?.path ?? null;
  }

  remove(id: string): void {
    const before = this.items.length;
    this.items = this.items.filter((i) => recentId(i.path) !== id);
    if (this.items.length !== before) this.save();
  }

  private save(): void {
    writeFileAtomic(this.file, new TextEncoder().encode(`${JSON.stringify({ version: RECENT_FILES_VERSION, files: this.items }, null, 2)}\n`));
  }
}

function load(file: string): { items: Stored[]; problem: string | null } {
  if (!existsSync(file)) return { items: [], problem: null };
  try {
    const doc = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown; files?: unknown };
    if (doc?.version !== RECENT_FILES_VERSION || !Array.isArray(doc.files)) return { items: [], problem: `${file}: not a version ${RECENT_FILES_VERSION} recent-files list; starting empty` };
    const items = doc.files.filter((f): f is Stored => typeof f?.path === 'string' && typeof f?.openedAt === 'string' && f.path.length < 4096).slice(0, MAX_RECENT);
    return { items, problem: null };
  } catch (e) {
    return { items: [], problem: `${file}: unreadable (${(e as Error).message}); starting empty` };
  }
}
