// The messages between the metrics panel and its webview, the only thing both sides share.
// The webview gets plain numbers: it never sees the daemon's objects or imports their types.

/** What the metrics panel shows of a batch. Times are Unix seconds. */
export interface BatchView {
  id: string;
  status: string;
  model: string | null;
  pausedReason: string | null;
  total: number;
  completed: number;
  failed: number;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  startedAt: number | null;
  endedAt: number | null;
  /** Completed, failed, expired or cancelled: nothing will change any more. */
  over: boolean;
}

/** Extension → webview: first a snapshot (after `ready`), then every change of the followed batch. */
export type ToWebview = { type: 'snapshot'; batch: BatchView | null } | { type: 'batch'; batch: BatchView };

/** Webview → extension: the script has loaded and listens. */
export type FromWebview = { type: 'ready' };
