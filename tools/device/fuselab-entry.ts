// The fuselab CLI as one file for the GPU machine (bundled by tools/device/bundle.sh with esbuild;
// onnxruntime-web and webgpu stay external and ship trimmed beside it).
import { main } from '../../packages/cli/src/main.ts';

process.exitCode = await main(process.argv.slice(2));
