// The extension's one log: a LogOutputChannel that the language client writes into too. It is
// never revealed on its own; "Show Log" buttons and the Output view open it.
import * as vscode from 'vscode';

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class Log implements vscode.Disposable {
  readonly channel = vscode.window.createOutputChannel('Ollama Batch', { log: true });

  info(message: string): void {
    this.channel.info(message);
  }

  warn(message: string): void {
    this.channel.warn(message);
  }

  error(message: string, error?: unknown): void {
    this.channel.error(error === undefined ? message : `${message}: ${errorMessage(error)}`);
  }

  show(): void {
    this.channel.show(true);
  }

  dispose(): void {
    this.channel.dispose();
  }
}
