// Completes the walkthrough's steps on their real events (see model/walkthrough.ts). VS Code keeps
// a completed step completed, across sessions.
import * as vscode from 'vscode';
import type { Ctx } from './ctx.js';
import { engineAnswers, WALKTHROUGH_EVENTS, WALKTHROUGH_ID, type WalkthroughEvent } from './model/walkthrough.js';

/** Each event once a session: every change of a running batch would otherwise ask VS Code again. */
const completed = new Set<WalkthroughEvent>();

export function completeWalkthroughStep(event: WalkthroughEvent): void {
  if (completed.has(event)) return;
  completed.add(event);
  const { key, step } = WALKTHROUGH_EVENTS[event];
  void vscode.commands.executeCommand('setContext', key, true);
  // The key alone is not enough: VS Code makes its walkthrough service on first use (the Welcome
  // page opened) and takes a key already set then as seen, without ticking its step, for the rest
  // of the session; a CSV converted before Welcome was opened would never tick. Marking the step
  // works whenever it comes (a VS Code without the command still has the key).
  vscode.commands.executeCommand('welcome.markStepComplete', `${WALKTHROUGH_ID}#${step}`).then(undefined, () => {});
}

/** The events the Ctx sees by itself: the daemon's engine up as it connects, a batch that runs, a line answered. */
export function watchWalkthrough(ctx: Ctx): vscode.Disposable {
  return vscode.Disposable.from(
    ctx.onDidConnect((info) => {
      if (engineAnswers(info)) completeWalkthroughStep('engineAnswered');
    }),
    ctx.onDidChangeBatch((batch) => {
      completeWalkthroughStep('batchRan');
      if (batch.request_counts.completed > 0) completeWalkthroughStep('engineAnswered');
    }),
  );
}
