#!/usr/bin/env node
// Checks the workspace's dependency direction from package.json files (the lint rule checks imports):
// graph-core ← optimizer ← gpu-runtime ← apps; node-io and cli are adapters at the edge.
import { readFileSync, existsSync } from 'node:fs';

const allowed = {
  '@fuselab/graph-core': [],
  '@fuselab/node-io': ['@fuselab/graph-core'],
  '@fuselab/optimizer': ['@fuselab/graph-core'],
  '@fuselab/gpu-runtime': ['@fuselab/graph-core', '@fuselab/optimizer'],
  '@fuselab/cli': ['@fuselab/graph-core', '@fuselab/node-io', '@fuselab/optimizer', '@fuselab/gpu-runtime'],
  '@fuselab/examples': ['@fuselab/graph-core', '@fuselab/node-io', '@fuselab/optimizer', '@fuselab/gpu-runtime', '@fuselab/cli'],
  '@fuselab/editor': ['@fuselab/graph-core', '@fuselab/optimizer', '@fuselab/gpu-runtime'],
  '@fuselab/desktop': ['@fuselab/graph-core', '@fuselab/optimizer', '@fuselab/gpu-runtime', '@fuselab/node-io', '@fuselab/editor'],
};
const root = JSON.parse(readFileSync('package.json', 'utf8'));
let bad = 0;
for (const ws of root.workspaces) {
  const file = `${ws}/package.json`;
  if (!existsSync(file)) continue;
  const pkg = JSON.parse(readFileSync(file, 'utf8'));
  const ok = allowed[pkg.name];
  if (!ok) { console.error(`${file}: unknown workspace package '${pkg.name}': add it to tools/check-deps.mjs`); bad++; continue; }
  // test harnesses may use higher layers (devDependencies); shipped code may not
  const deps = { ...pkg.dependencies, ...pkg.peerDependencies };
  for (const dep of Object.keys(deps)) {
    if (dep.startsWith('@fuselab/') && !ok.includes(dep)) {
      console.error(`${file}: ${pkg.name} must not depend on ${dep} (dependency direction graph-core ← optimizer ← gpu-runtime ← apps)`);
      bad++;
    }
  }
}
if (bad) process.exit(1);
console.log('check-deps: dependency direction ok');
