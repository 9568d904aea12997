// Where the llama-cpp engine finds node-llama-cpp. The bundles leave it out (its native binaries
// differ per platform), so a checkout or an npm install finds it in the package's own
// node_modules, and the VS Code extension, whose package has none, installs it into a folder of
// its own and names that folder to the daemon it starts ($OLLAMA_BATCH_ENGINE_MODULES): that
// folder is looked in first.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ENGINE_MODULES_ENV, INSTALL_ENGINE_HINT } from '../common/embedded-engine.js';

/** node-llama-cpp is in neither place: the message says how to install it. */
export class NodeLlamaCppMissingError extends Error {}

/**
 * node-llama-cpp's entry file: from `installed/node_modules` when that has it, else by Node's own
 * resolution from the package root `packageRoot`. Throws what to do when neither has it.
 */
export function nodeLlamaCppEntry(installed: string | undefined, packageRoot: string): string {
  if (installed && existsSync(join(installed, 'node_modules', 'node-llama-cpp', 'package.json')))
    return createRequire(join(installed, 'package.json')).resolve('node-llama-cpp');
  try {
    return createRequire(join(packageRoot, 'package.json')).resolve('node-llama-cpp');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw error;
    throw new NodeLlamaCppMissingError(
      installed
        ? `the llama-cpp engine needs node-llama-cpp, which is not installed: ${INSTALL_ENGINE_HINT}, or use the ollama engine`
        : `the llama-cpp engine needs the node-llama-cpp package, which is not installed in ${join(packageRoot, 'node_modules')}: ` +
            'run `npm ci` in the checkout, or use the ollama engine',
      { cause: error },
    );
  }
}

/** node-llama-cpp for this process: from the folder in $OLLAMA_BATCH_ENGINE_MODULES, else beside the daemon. */
export async function importNodeLlamaCpp(): Promise<typeof import('node-llama-cpp')> {
  // This file sits two folders below the package root, as source and as a bundle chunk alike.
  const packageRoot = fileURLToPath(new URL('../..', import.meta.url));
  const entry = nodeLlamaCppEntry(process.env[ENGINE_MODULES_ENV] || undefined, packageRoot);
  return (await import(pathToFileURL(entry).href)) as typeof import('node-llama-cpp');
}
