// Worker-thread entry of the reference runner: worker threads don't inherit the main thread's tsx
// registration, so this plain-JS file registers it and then loads the TypeScript worker.
import { register } from 'tsx/esm/api';

register();
await import('./reference-worker.ts');
