// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Node builtins and DOM-only modules the pure core packages must not import. */
const nodeBuiltins = ['fs', 'path', 'os', 'child_process', 'worker_threads', 'url', 'crypto', 'stream', 'util', 'module', 'process', 'buffer', 'zlib', 'http', 'https', 'net'];
const noNode = nodeBuiltins.flatMap((m) => [m, `node:${m}`, `${m}/*`, `node:${m}/*`]);

/** The layers, lowest first. A package may import only packages listed before it. */
const layers = {
  'packages/graph-core': [],
  'packages/optimizer': ['@fuselab/graph-core'],
  'packages/gpu-runtime': ['@fuselab/graph-core', '@fuselab/optimizer'],
  'packages/node-io': ['@fuselab/graph-core'],
  'packages/cli': ['@fuselab/graph-core', '@fuselab/node-io', '@fuselab/optimizer', '@fuselab/gpu-runtime'],
  'apps/editor': ['@fuselab/graph-core', '@fuselab/optimizer', '@fuselab/gpu-runtime'],
  'apps/desktop': ['@fuselab/graph-core', '@fuselab/optimizer', '@fuselab/gpu-runtime', '@fuselab/node-io', '@fuselab/editor'],
};
const all = ['@fuselab/graph-core', '@fuselab/node-io', '@fuselab/optimizer', '@fuselab/gpu-runtime', '@fuselab/cli', '@fuselab/editor', '@fuselab/desktop'];

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '.device/**', '.scratch/**', 'test-results/**', 'examples/generated/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: { console: 'readonly', process: 'readonly', globalThis: 'readonly', URL: 'readonly', performance: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly' } },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  // Dependency direction: graph-core ← optimizer ← gpu-runtime ← apps. Core packages are pure.
  ...Object.entries(layers).map(([dir, allowed]) => ({
    files: [`${dir}/src/**/*.ts`, `${dir}/src/**/*.tsx`],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [
          ...all.filter((p) => !allowed.includes(p)).map((name) => ({ name, message: `${dir} may only import ${allowed.join(', ') || 'nothing from the workspace'} (dependency direction graph-core ← optimizer ← gpu-runtime ← apps)` })),
          ...(['packages/node-io', 'packages/cli', 'apps/desktop'].includes(dir) ? [] : noNode.filter((m) => !m.includes('*')).map((name) => ({ name, message: `${dir} is pure TypeScript that runs in a browser worker: no Node builtins (put file access in @fuselab/node-io)` }))),
        ],
        patterns: [{ group: ['../../*/src/*', '../../../packages/*'], message: 'import other packages through their public entry (@fuselab/...)' }],
      }],
    },
  })),
);
