// What the engine tests share: the answer schema from ../shared/data, and catching EngineErrors.
import assert from 'node:assert/strict';
import { EngineError } from '../../server/engines/engine.js';

/** The candidate-scoring answer schema (every string has maxLength: random weights stay parseable). */
export const scoreSchemaUrl = new URL('../../../shared/data/score-schema.json', import.meta.url);

/** A signal that never aborts. */
export const never = (): AbortSignal => new AbortController().signal;

/** The EngineError a call fails with (fails the test when it succeeds or throws anything else). */
export async function engineError(promise: Promise<unknown>): Promise<EngineError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof EngineError, `expected an EngineError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected the call to fail');
}
