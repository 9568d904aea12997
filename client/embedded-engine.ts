// The llama-cpp engine for the packaged extension. The .vsix carries no node_modules (esbuild
// bundles the rest; node-llama-cpp's native binaries differ per platform), so "Install Embedded
// Engine" runs the user's npm to install the pinned node-llama-cpp into the extension's global
// storage, and the daemon the extension starts looks there first
// (server/engines/node-llama-cpp-module.ts).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { ENGINE_MODULES_ENV } from '../server/common/embedded-engine.js';
import type { Log } from './log.js';
import { npmInstall, PACKAGE } from './model/npm-install.js';

/** The version package.json pins: the one the daemon was built and tested against. */
function pinnedVersion(context: vscode.ExtensionContext): string {
  return (context.extension.packageJSON as { dependencies: Record<string, string> }).dependencies[PACKAGE]!;
}

/** Where node-llama-cpp goes, per version: an extension update that pins another installs afresh. */
function engineFolder(context: vscode.ExtensionContext): string {
  return join(context.globalStorageUri.fsPath, `${PACKAGE}-${pinnedVersion(context)}`);
}

/** What the daemon the extension starts needs in its environment to find the installed engine. */
export function engineModulesEnv(context: vscode.ExtensionContext): Record<string, string> {
  return { [ENGINE_MODULES_ENV]: engineFolder(context) };
}

/** Installs node-llama-cpp unless it is there; false when the user cancelled. */
export async function installEngine(context: vscode.ExtensionContext, log: Log): Promise<boolean> {
  const folder = engineFolder(context);
  if (existsSync(join(folder, 'node_modules', PACKAGE, 'package.json'))) return true;
  return vscode.window.withProgress(
    {
      location: vscode.ProgressLocation.Notification,
      title: `Ollama Batch: installing the embedded engine (${engineName(context)}) with npm`,
      cancellable: true,
    },
    (_progress, token) => npmInstall(folder, pinnedVersion(context), log, token),
  );
}

/** "node-llama-cpp 3.21.1", as messages name it. */
export function engineName(context: vscode.ExtensionContext): string {
  return `${PACKAGE} ${pinnedVersion(context)}`;
}
