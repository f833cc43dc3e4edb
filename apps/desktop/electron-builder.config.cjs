/* global module */
// electron-builder configuration for the Fuselab desktop app. Not run on the project's machines
// (electron-builder downloads Electron and platform tools); test/packaging.test.ts checks that it
// agrees with the code: the bundles scripts/build.mjs writes, the folders main.ts serves app:// from
// when packaged, the file types the shell opens, the modules the bundles load at run time.
//
//   npm run build -w apps/editor && npm run package -w apps/desktop
//
// A CommonJS file (electron-builder reads js configs; a file named electron-builder.js would clash
// with the package name), so the test can load it without a YAML parser.
module.exports = {
  appId: 'dev.fuselab.desktop',
  productName: 'Fuselab',
  copyright: 'Copyright © Fuselab contributors',
  directories: { output: 'release', buildResources: 'build' },
  // The shell is bundled by scripts/build.mjs (workspace packages included): only the modules it
  // leaves external, package.json "dependencies" (onnxruntime-web's wasm files, webgpu's dawn.node),
  // are loaded from node_modules at run time.
  files: ['dist/**', 'package.json', '!dist/**/*.map'],
  asar: true,
  asarUnpack: ['**/node_modules/webgpu/**', '**/node_modules/onnxruntime-web/dist/*.wasm', '**/node_modules/onnxruntime-web/dist/*.mjs'],
  // main.ts serves app://fuselab/ from <resources>/editor and /examples/ from <resources>/examples
  // (app-protocol.ts defaultRoots); the editor opens examples/models/kjv-llama on start.
  extraResources: [
    { from: '../editor/dist', to: 'editor' },
    { from: '../../examples/models/kjv-llama', to: 'examples/models/kjv-llama', filter: ['*.onnx', '*.json'] },
  ],
  fileAssociations: [
    { ext: 'onnx', name: 'ONNX model', role: 'Viewer' },
    { ext: 'engine', name: 'Fuselab engine', role: 'Viewer' },
  ],
  mac: { category: 'public.app-category.developer-tools', hardenedRuntime: true, target: ['dmg', 'zip'] },
  win: { target: ['nsis'] },
  linux: { category: 'Development', target: ['AppImage', 'deb'] },
  electronFuses: {
    runAsNode: false,
    enableCookieEncryption: true,
    enableNodeOptionsEnvironmentVariable: false,
    enableNodeCliInspectArguments: false,
    enableEmbeddedAsarIntegrityValidation: true,
    onlyLoadAppFromAsar: true,
  },
};
