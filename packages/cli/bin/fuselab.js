#!/usr/bin/env node
// Entry of the `fuselab` bin. The sources are TypeScript; tsx compiles them on the fly (cached), so a
// fresh `npm install` is enough to run the CLI with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
