// What the engine tests share: the sample job's answer schema, and catching EngineErrors.
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';
import { EngineError } from '../../server/engines/engine.js';
import { SAMPLE_JOB } from '../fixtures/recruiting/sample-job.js';

/** The candidate-scoring answer schema (every string has maxLength: random weights stay parseable). */
export const scoreSchemaUrl = pathToFileURL(SAMPLE_JOB.schema);

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
