// The extension as the UI tests install it: the packed .vsix, its manifest, and what it lacks.
import { readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, type Scratch } from '../scratch.js';

export const VSIX = join(repoRoot, 'out', 'ollama-batch.vsix');

export interface Manifest {
  displayName: string;
  contributes: {
    commands: { command: string; title: string; category?: string }[];
    menus?: { commandPalette?: { command: string; when?: string }[] };
    viewsContainers?: Record<string, { id: string; title: string }[]>;
    views?: Record<string, { id: string; name: string }[]>;
  };
}
export const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as Manifest;

/** "Category: Title" as the palette shows it. */
export function commandTitle(id: string): string {
  const command = manifest.contributes.commands.find((contributed) => contributed.command === id);
  if (!command) throw new Error(`package.json contributes no command ${id}`);
  return command.category ? `${command.category}: ${command.title}` : command.title;
}

/**
 * The vsix has no node_modules: esbuild bundles everything but node-llama-cpp (native binaries per
 * platform), which the daemon needs for the llama-cpp engine and names when it is missing. A user
 * of that engine starts the daemon from a checkout; this test lends the installed extension the
 * checkout's node_modules instead, so that the daemon the extension starts is the packaged one.
 */
export function lendNodeModules(scratch: Scratch): void {
  const installed = readdirSync(scratch.extensionsDir).find((name) => name.startsWith('ollama-batch.ollama-batch-'));
  if (!installed) throw new Error(`the extension is not in ${scratch.extensionsDir}`);
  symlinkSync(join(repoRoot, 'node_modules'), join(scratch.extensionsDir, installed, 'node_modules'));
}
