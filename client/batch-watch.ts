// The batch the status bar and the metrics panel follow: the one the daemon is running, else the
// last one that ran. Fed by BatchChangedNotification and the running batch's metrics, re-read
// from the daemon on every connect.
import * as vscode from 'vscode';
import type { Batch } from '../server/protocol/openai.js';
import { BatchGetRequest } from '../server/protocol/methods.js';
import type { Ctx } from './ctx.js';
import { doneCount, isTerminal, paceOf, type Pace } from './model/format.js';

export class BatchWatch implements vscode.Disposable {
  private _current: Batch | undefined;
  private _pace: Pace | undefined;
  private readonly _onDidChange = new vscode.EventEmitter<Batch>();
  /** The followed batch changed, or its pace did. */
  readonly onDidChange = this._onDidChange.event;
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly ctx: Ctx) {
    this.subscriptions = [
      this._onDidChange,
      ctx.onDidChangeBatch((batch) => this.update(batch)),
      ctx.onDidReceiveMetrics(({ id, snapshot }) => {
        if (id !== this._current?.id) return;
        this._pace = paceOf(snapshot);
        this._onDidChange.fire(this._current);
      }),
      ctx.onDidConnect(({ runningBatchId }) => void this.resync(runningBatchId)),
    ];
  }

  get current(): Batch | undefined {
    return this._current;
  }

  /** The followed batch's pace while it runs. */
  get pace(): Pace | undefined {
    return this._pace;
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
    const follow =
      !current || current.id === batch.id || isTerminal(current) || (!isTerminal(batch) && doneCount(batch) > 0);
    if (!follow) return;
    if (current?.id !== batch.id) this._pace = undefined;
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
