// The `ollamaBatch.*` settings. Nothing is cached: each use reads them, so changes apply without a
// reload; only what a running daemon read at its start needs a restart, which is offered.
import * as vscode from 'vscode';
import { DAEMON_SETTINGS, type SettingReader } from './model/daemon-settings.js';

const SECTION = 'ollamaBatch';

/** The settings the user set for the resource (any level), leaving defaults to the daemon's config. */
export function explicitSettings(resource?: vscode.Uri): SettingReader {
  const configuration = vscode.workspace.getConfiguration(SECTION, resource);
  return (key) => {
    const inspected = configuration.inspect(key);
    return inspected?.workspaceFolderValue ?? inspected?.workspaceValue ?? inspected?.globalValue;
  };
}

/** A setting's effective value for the resource, defaults included. */
export function setting<T>(key: string, resource?: vscode.Uri): T | undefined {
  return vscode.workspace.getConfiguration(SECTION, resource).get<T>(key);
}

/** What watchSettings acts on (the extension's Ctx, which reads these settings itself). */
interface DaemonLifecycle {
  readonly state: string;
  reconnect(): Promise<void>;
}

/** Reconnects when the data dir changes; offers a restart when a daemon-level setting does. */
export function watchSettings(ctx: DaemonLifecycle): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration(async (event) => {
    if (event.affectsConfiguration(`${SECTION}.dataDir`)) {
      void ctx.reconnect();
      return;
    }
    if (!DAEMON_SETTINGS.some((key) => event.affectsConfiguration(`${SECTION}.${key}`)) || ctx.state === 'stopped')
      return;
    const choice = await vscode.window.showInformationMessage(
      'Ollama Batch: the daemon reads this setting when it starts. Running batches resume after a restart.',
      'Restart Daemon to apply',
    );
    if (choice) await vscode.commands.executeCommand('ollamaBatch.restartDaemon');
  });
}
