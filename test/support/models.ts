// Model files for tests: written once per checkout under .tmp/models (git-ignored).
import { access, mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeModel } from './gguf/model.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const modelsDir = join(repoRoot, '.tmp', 'models');

let tinyPending: Promise<string> | undefined;

/**
 * The absolute path of the tiny random-weight model (seed 1), written on first use. The file
 * appears by rename, so parallel test processes never read a half-written model.
 */
export function tinyModelPath(): Promise<string> {
  tinyPending ??= (async () => {
    const path = join(modelsDir, 'tiny.gguf');
    try {
      await access(path);
      return path;
    } catch {
      await mkdir(dirname(path), { recursive: true });
      await writeModel({ out: path, shape: 'tiny', seed: 1 });
      return path;
    }
  })();
  tinyPending.catch(() => (tinyPending = undefined));
  return tinyPending;
}
