// Completes the walkthrough's steps on their real events (see model/walkthrough.ts): a context key
// set once is enough, since VS Code keeps a completed step completed.
import * as vscode from 'vscode';
import type { Ctx } from './ctx.js';
import { engineAnswers, WALKTHROUGH_EVENTS, type WalkthroughEvent } from './model/walkthrough.js';

export function completeWalkthroughStep(event: WalkthroughEvent): void {
  void vscode.commands.executeCommand('setContext', WALKTHROUGH_EVENTS[event], true);
}

/** The events the Ctx sees by itself: a daemon whose engine answers, a batch that runs. */
export function watchWalkthrough(ctx: Ctx): vscode.Disposable {
  return vscode.Disposable.from(
    ctx.onDidConnect((info) => engineAnswers(info) && completeWalkthroughStep('engineAnswered')),
    ctx.onDidChangeBatch(() => completeWalkthroughStep('batchRan')),
  );
}
