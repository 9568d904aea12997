// Which batches make one cascade: pass 2 names its pass 1 in `cascade_of`. A retry of either pass
// copies its metadata but holds only the lines that failed: it is no pass, and is analysed alone.
import { CASCADE_METADATA as KEYS } from '../protocol/cascade.js';
import type { Batch } from '../protocol/openai.js';

export interface CascadePasses {
  passOne: Batch;
  /** Undefined until the daemon makes it from pass 1's shortlist. */
  passTwo: Batch | undefined;
}

const isRetry = (batch: Batch): boolean => batch.metadata?.retry_of !== undefined;

/** The pass 2 of a pass 1, if it has been made. */
export const passTwoIn = (batches: readonly Batch[], passOneId: string): Batch | undefined =>
  batches.find((batch) => batch.metadata?.[KEYS.of] === passOneId && !isRetry(batch));

/** Both passes of the cascade a batch is a pass of; null for any other batch. */
export function cascadePasses(batch: Batch, batches: readonly Batch[]): CascadePasses | null {
  if (isRetry(batch)) return null;
  const pass = batch.metadata?.[KEYS.pass];
  if (pass === '1') return { passOne: batch, passTwo: passTwoIn(batches, batch.id) };
  const passOne = pass === '2' ? batches.find((other) => other.id === batch.metadata?.[KEYS.of]) : undefined;
  return passOne ? { passOne, passTwo: batch } : null;
}
