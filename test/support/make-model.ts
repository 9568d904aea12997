// Writes a random-weight llama GGUF for tests, demos and benchmarks:
//   tsx test/support/make-model.ts --out FILE.gguf [--shape tiny|0.5b|1b] [--seed N]
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { SHAPES, writeModel, type ModelShape } from './gguf/model.js';

const usage = 'usage: make-model --out FILE.gguf [--shape tiny|0.5b|1b] [--seed N]';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', short: 'o' },
      shape: { type: 'string', default: 'tiny' },
      seed: { type: 'string', default: '1' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (!values.out) {
    console.error(usage);
    return 2;
  }
  const shape = values.shape as ModelShape;
  if (!Object.hasOwn(SHAPES, shape)) {
    console.error(`unknown shape "${values.shape}"; ${usage}`);
    return 2;
  }
  const seed = Number(values.seed);
  if (!Number.isInteger(seed)) {
    console.error(`--seed must be an integer; ${usage}`);
    return 2;
  }
  const started = performance.now();
  const { path, bytes } = await writeModel({ out: resolve(values.out), shape, seed });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${path} ${bytes} bytes (${(bytes / 1e6).toFixed(1)} MB, shape ${shape}, seed ${seed}) in ${seconds.toFixed(2)} s`,
  );
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
