// The running batch's progress on the Batches view: a badge with its percentage on the activity
// bar, seen from every other view. Quiet by design: no notification covers the editor for a whole
// run ("Show Progress" opens one on request). Not the view's own progress bar: while a view shows
// progress, VS Code puts a progress badge on the activity bar in place of the percentage.
import * as vscode from 'vscode';
import type { BatchWatch } from './batch-watch.js';
import { batchLabel, doneCount, isTerminal, progressLine } from './model/format.js';

export class RunProgress implements vscode.Disposable {
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly view: vscode.TreeView<unknown>,
    private readonly watch: BatchWatch,
  ) {
    this.subscription = watch.onDidChange(() => this.render());
    this.render();
  }

  dispose(): void {
    this.subscription.dispose();
  }

  private render(): void {
    const batch = this.watch.current;
    if (!batch || isTerminal(batch)) {
      this.view.badge = undefined;
      return;
    }
    const { total } = batch.request_counts;
    // At least 1: a badge of 0 is not shown, and the run has started.
    const percent = Math.max(1, total > 0 ? Math.floor((100 * doneCount(batch)) / total) : 0);
    this.view.badge = {
      value: percent,
      tooltip: `${batchLabel(batch)}: ${percent}% · ${progressLine(batch, this.watch.pace)}`,
    };
  }
}
