// The walkthrough's steps that complete on what really happened, not on a command being started:
// the client sets these context keys and package.json's steps complete on `onContext:` them.
import type { DaemonInfo } from '../../server/protocol/methods.js';

export const WALKTHROUGH_EVENTS = {
  /** An engine answered: Check Engine found one up, or a batch line was answered. */
  engineAnswered: 'ollamaBatch.walkthrough.engineAnswered',
  /** Check Engine ran and found an engine that answers. */
  engineChecked: 'ollamaBatch.walkthrough.engineChecked',
  /** Convert CSV to Batch wrote its JSONL file. */
  converted: 'ollamaBatch.walkthrough.converted',
  /** A batch ran (the daemon told of a change to one). */
  batchRan: 'ollamaBatch.walkthrough.batchRan',
  /** A metrics panel opened on a batch. */
  metricsShown: 'ollamaBatch.walkthrough.metricsShown',
} as const;
export type WalkthroughEvent = keyof typeof WALKTHROUGH_EVENTS;

/** Whether any engine of the daemon answers: the default one, or any endpoint of its pool. */
export const engineAnswers = (info: Pick<DaemonInfo, 'engine' | 'endpoints'>): boolean =>
  info.engine.up || (info.endpoints ?? []).some((endpoint) => endpoint.up);
