// The toast for a daemon that could not start: the model's sentence, and buttons that fix it.
import * as vscode from 'vscode';
import { INSTALL_ENGINE_COMMAND } from '../server/common/embedded-engine.js';
import { startFailure, type StartFix } from './model/start-failure.js';

const FIXES: Record<StartFix, { label: string; run(): Thenable<unknown> }> = {
  useAnyFreePort: {
    label: 'Use Any Free Port',
    // Port 0: the daemon takes a free one and writes it into its lock file, where clients read it.
    run: async () => {
      await vscode.workspace.getConfiguration('ollamaBatch').update('httpPort', 0, vscode.ConfigurationTarget.Global);
      await vscode.commands.executeCommand('ollamaBatch.restartDaemon');
    },
  },
  installEmbeddedEngine: {
    label: INSTALL_ENGINE_COMMAND.title,
    run: () => vscode.commands.executeCommand(INSTALL_ENGINE_COMMAND.id),
  },
  showDaemonLog: {
    label: 'Show Daemon Log',
    run: () => vscode.commands.executeCommand('ollamaBatch.showDaemonLog'),
  },
  openSettings: {
    label: 'Open Settings',
    run: () => vscode.commands.executeCommand('workbench.action.openSettings', 'ollamaBatch.'),
  },
};

export async function showStartFailure(error: unknown): Promise<void> {
  const { message, fixes } = startFailure(error);
  const choice = await vscode.window.showErrorMessage(message, ...fixes.map((fix) => FIXES[fix].label));
  const fix = fixes.find((candidate) => FIXES[candidate].label === choice);
  if (fix) await FIXES[fix].run();
}
