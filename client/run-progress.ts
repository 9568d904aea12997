// The running batch's progress on the Batches view: a badge with its percentage on the activity
// bar, and the view's progress bar while it runs. Quiet by design: no notification covers the
// editor for a whole run ("Show Progress" opens one on request).
import * as vscode from 'vscode';
import type { BatchWatch } from './batch-watch.js';
import { batchLabel, doneCount, isTerminal, progressLine } from './model/format.js';

export class RunProgress implements vscode.Disposable {
  private readonly subscriptions: vscode.Disposable[];
  /** Ends the view's progress bar; set while one shows. */
  private endViewProgress: (() => void) | undefined;

  constructor(
    private readonly viewId: string,
    private readonly view: vscode.TreeView<unknown>,
    private readonly watch: BatchWatch,
  ) {
    this.subscriptions = [watch.onDidChange(() => this.render())];
    this.render();
  }

  dispose(): void {
    this.endViewProgress?.();
    vscode.Disposable.from(...this.subscriptions).dispose();
  }

  private render(): void {
    const batch = this.watch.current;
    if (!batch || isTerminal(batch)) {
      this.view.badge = undefined;
      this.endViewProgress?.();
      this.endViewProgress = undefined;
      return;
    }
    const { total } = batch.request_counts;
    // At least 1: a badge of 0 is not shown, and the run has started.
    const percent = Math.max(1, total > 0 ? Math.floor((100 * doneCount(batch)) / total) : 0);
    this.view.badge = {
      value: percent,
      tooltip: `${batchLabel(batch)}: ${percent}% · ${progressLine(batch, this.watch.pace)}`,
    };
    if (this.endViewProgress) return;
    const running = new Promise<void>((resolve) => (this.endViewProgress = resolve));
    void vscode.window.withProgress({ location: { viewId: this.viewId } }, () => running);
  }
}
