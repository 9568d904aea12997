// The batch the status bar and the metrics panel follow: the one the daemon is running, else the
// last one that ran. Fed by BatchChangedNotification, re-read from the daemon on every connect.
import * as vscode from 'vscode';
import { TERMINAL_STATUSES, type Batch } from '../server/openai/types.js';
import { BatchGetRequest } from '../server/protocol/methods.js';
import type { Ctx } from './ctx.js';

export const isTerminal = (batch: Batch): boolean => TERMINAL_STATUSES.includes(batch.status);

/** Lines finished either way: written to the output or to the error file. */
export const doneCount = (batch: Batch): number => batch.request_counts.completed + batch.request_counts.failed;

export class BatchWatch implements vscode.Disposable {
  private _current: Batch | undefined;
  private readonly _onDidChange = new vscode.EventEmitter<Batch>();
  readonly onDidChange = this._onDidChange.event;
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly ctx: Ctx) {
    this.subscriptions = [
      this._onDidChange,
      ctx.onDidChangeBatch((batch) => this.update(batch)),
      ctx.onDidConnect(({ runningBatchId }) => void this.resync(runningBatchId)),
    ];
  }

  get current(): Batch | undefined {
    return this._current;
  }

  dispose(): void {
    vscode.Disposable.from(...this.subscriptions).dispose();
  }

  /**
   * Follows a batch while it is the same one, while the followed one is over, or when another
   * one makes progress (a queued batch announced as in_progress with nothing done yet does not
   * take over from the one that runs).
   */
  private update(batch: Batch): void {
    const current = this._current;
    const follow = !current || current.id === batch.id || isTerminal(current) || (!isTerminal(batch) && doneCount(batch) > 0);
    if (!follow) return;
    this._current = batch;
    this._onDidChange.fire(batch);
  }

  /** After a (re)connect: what happened to the followed batch meanwhile, and what runs now. */
  private async resync(runningBatchId: string | null): Promise<void> {
    const client = this.ctx.client;
    if (!client) return;
    const followed = this._current && !isTerminal(this._current) ? this._current.id : null;
    for (const id of new Set([followed, runningBatchId])) {
      if (id === null) continue;
      try {
        this.update(await client.sendRequest(BatchGetRequest.type, { id }));
      } catch (error) {
        this.ctx.log.error(`batch/get ${id} failed`, error);
      }
    }
  }
}
