// Unique ids at the rate a batch writes lines: a random prefix drawn once per process and a
// counter, instead of reading the system's random source several times per request.
import { randomBytes } from 'node:crypto';

const processPrefix = randomBytes(8).toString('hex');
let counter = 0;

/** `prefix` + 24 hex characters, unique within and across daemon runs. */
export function uniqueId(prefix: string): string {
  counter++;
  return `${prefix}${processPrefix}${counter.toString(16).padStart(8, '0')}`;
}
