// The extension as the UI tests install it: the packed .vsix, its manifest, and what it lacks.
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, type Scratch } from '../scratch.js';

export const VSIX = join(repoRoot, 'out', 'ollama-batch.vsix');

export interface Manifest {
  displayName: string;
  dependencies: Record<string, string>;
  contributes: {
    commands: { command: string; title: string; category?: string }[];
    menus?: { commandPalette?: { command: string; when?: string }[] };
    viewsContainers?: Record<string, { id: string; title: string }[]>;
    views?: Record<string, { id: string; name: string }[]>;
  };
}
export const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as Manifest;

/** The title of the extension's walkthrough, as Welcome: Open Walkthrough... lists it. */
export const walkthroughTitle = (): string =>
  (manifest.contributes as unknown as { walkthroughs: Array<{ title: string }> }).walkthroughs[0]!.title;

/** "Category: Title" as the palette shows it. */
export function commandTitle(id: string): string {
  const command = manifest.contributes.commands.find((contributed) => contributed.command === id);
  if (!command) throw new Error(`package.json contributes no command ${id}`);
  return command.category ? `${command.category}: ${command.title}` : command.title;
}

/** Where Install Embedded Engine puts node-llama-cpp: the extension's global storage, a folder per version. */
export function engineFolder(scratch: Scratch): string {
  const storage = join(scratch.userDataDir, 'User', 'globalStorage', 'ollama-batch.ollama-batch');
  return join(storage, `node-llama-cpp-${manifest.dependencies['node-llama-cpp']}`);
}

/**
 * The vsix has no node_modules: the daemon finds node-llama-cpp where Install Embedded Engine
 * installs it. For the tests about other things, the checkout's node_modules stand in there, as if
 * installed (ui.test.ts installs it for real); the extension itself stays as packed.
 */
export function lendEngine(scratch: Scratch): void {
  mkdirSync(engineFolder(scratch), { recursive: true });
  symlinkSync(join(repoRoot, 'node_modules'), join(engineFolder(scratch), 'node_modules'));
}
