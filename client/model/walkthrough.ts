// The walkthrough's steps that complete on what really happened, not on a command being started:
// the client sets these context keys and package.json's steps complete on `onContext:` them.
import type { DaemonInfo } from '../../server/protocol/methods.js';

export const WALKTHROUGH_EVENTS = {
  /** An engine answered: the daemon connected with one up, Check Engine found one, or a line was answered. */
  engineAnswered: { key: 'ollamaBatch.walkthrough.engineAnswered', step: 'install' },
  /** Check Engine ran and found an engine that answers. */
  engineChecked: { key: 'ollamaBatch.walkthrough.engineChecked', step: 'engine' },
  /** Convert CSV to Batch wrote its JSONL file. */
  converted: { key: 'ollamaBatch.walkthrough.converted', step: 'convert' },
  /** A batch ran (the daemon told of a change to one). */
  batchRan: { key: 'ollamaBatch.walkthrough.batchRan', step: 'run' },
  /** A metrics panel opened on a batch. */
  metricsShown: { key: 'ollamaBatch.walkthrough.metricsShown', step: 'metrics' },
} as const;
/** The walkthrough as VS Code names it: the extension's id (publisher.name), then its id in package.json. */
export const WALKTHROUGH_ID = 'ollama-batch.ollama-batch#ollamaBatch.start';

export type WalkthroughEvent = keyof typeof WALKTHROUGH_EVENTS;

/** Whether any engine of the daemon answers: the default one, or any endpoint of its pool. */
export const engineAnswers = (info: Pick<DaemonInfo, 'engine' | 'endpoints'>): boolean =>
  info.engine.up || (info.endpoints ?? []).some((endpoint) => endpoint.up);
