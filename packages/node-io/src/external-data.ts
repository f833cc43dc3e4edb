/**
 * Safe resolution of external-data files. A model is untrusted input: its `location` strings must not
 * reach outside the model's folder, through `..`, absolute paths, symlinks or hard links.
 */
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { checkExternalLocation, ExternalDataError, type ExternalDataResolver } from '@fuselab/graph-core';
import { openFileSource, type FileSource } from './file-source.ts';

export interface ExternalDataResolverHandle extends ExternalDataResolver {
  /** Closes every file opened so far. */
  close(): void;
}

/**
 * Resolves external-data locations relative to `modelDir`, refusing (with ExternalDataError) paths
 * that escape it: `..`, absolute paths, symbolic links anywhere on the path, files with more than one
 * hard link, and anything that is not a regular file. Opened files are cached until `close()`.
 */
export function externalDataResolver(modelDir: string): ExternalDataResolverHandle {
  const root = realpathSync(modelDir);
  const open = new Map<string, FileSource>();
  return {
    open(location: string, tensorName: string): FileSource {
      const cached = open.get(location);
      if (cached) return cached;
      checkExternalLocation(location, tensorName);
      const refuse = (why: string): never => {
        throw new ExternalDataError(tensorName, location, `${why}; refused as unsafe (external data must be a regular file inside ${root})`);
      };
      const parts = location.split(/[\\/]/).filter((p) => p && p !== '.');
      let p = root;
      for (const part of parts) {
        p = join(p, part);
        let st;
        try {
          st = lstatSync(p);
        } catch {
          throw new ExternalDataError(tensorName, location, `file not found: ${p}`);
        }
        if (st.isSymbolicLink()) refuse(`'${relative(root, p)}' is a symbolic link`);
      }
      const real = realpathSync(p);
      const rel = relative(root, real);
      if (rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) refuse('resolves outside the model folder');
      const st = statSync(real);
      if (!st.isFile()) refuse('is not a regular file');
      if (st.nlink > 1) refuse(`has ${st.nlink} hard links (a hard link can point at any file on the volume)`);
      const src = openFileSource(real);
      open.set(location, src);
      return src;
    },
    close(): void {
      for (const s of open.values()) s.close();
      open.clear();
    },
  };
}
