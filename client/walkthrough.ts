// Completes the walkthrough's steps on their real events (see model/walkthrough.ts): a context key
// set once is enough, since VS Code keeps a completed step completed.
import * as vscode from 'vscode';
import type { Ctx } from './ctx.js';
import { WALKTHROUGH_EVENTS, type WalkthroughEvent } from './model/walkthrough.js';

export function completeWalkthroughStep(event: WalkthroughEvent): void {
  void vscode.commands.executeCommand('setContext', WALKTHROUGH_EVENTS[event], true);
}

/**
 * The events the Ctx sees by itself: a batch that runs, and a line answered (so an engine answers).
 * Not the daemon's engine as it connects: VS Code does not credit a key already set when it
 * registers the walkthrough (it may do so later, when the Welcome page first opens), and would
 * then ignore the key for the rest of the session.
 */
export function watchWalkthrough(ctx: Ctx): vscode.Disposable {
  return ctx.onDidChangeBatch((batch) => {
    completeWalkthroughStep('batchRan');
    if (batch.request_counts.completed > 0) completeWalkthroughStep('engineAnswered');
  });
}
