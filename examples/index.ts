/**
 * @packageDocumentation
 * Example-model generators (TypeScript side). The Python exporters live in `examples/scripts/`.
 */
export { buildGpt2Shaped, GPT2_SMALL, type Gpt2ShapeConfig } from './gen/gpt2-shaped.ts';
