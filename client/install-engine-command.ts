// Install Embedded Engine: node-llama-cpp for the llama-cpp engine (client/embedded-engine.ts),
// then the daemon, which could not start without it.
import * as vscode from 'vscode';
import type { Ctx } from './ctx.js';
import { engineName, installEngine } from './embedded-engine.js';

export async function installEmbeddedEngine(context: vscode.ExtensionContext, ctx: Ctx): Promise<void> {
  if (!(await installEngine(context, ctx.log))) return;
  const installed = `Ollama Batch: the embedded engine (${engineName(context)}) is installed`;
  if (!ctx.client) {
    // A start that fails again has said why.
    await ctx.start();
    if (ctx.client) void vscode.window.showInformationMessage(`${installed}; the daemon started.`);
    return;
  }
  const restart = 'Restart Daemon';
  const choice = await vscode.window.showInformationMessage(
    `${installed}; the daemon loads it when it starts on the llama-cpp engine.`,
    restart,
  );
  if (choice === restart) await vscode.commands.executeCommand('ollamaBatch.restartDaemon');
}
