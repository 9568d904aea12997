// Completion windows: OpenAI's `24h`, and longer ones (`72h`, `7d`) because a 170,000-line run on
// one small GPU can take more than a day; never shorter, as OpenAI's never is.
import { ServiceError } from './errors.js';

export const DEFAULT_COMPLETION_WINDOW = '24h';
/** What the CLI and the extension ask for unless told otherwise. */
export const CLIENT_COMPLETION_WINDOW = '7d';

const UNIT_SECONDS = { h: 3600, d: 86_400 } as const;
const MIN_WINDOW_SECONDS = 86_400;
const MAX_WINDOW_SECONDS = 24 * 86_400;

/** The window's length in seconds, or a ServiceError naming the parameter. */
export function windowSeconds(window: string): number {
  const match = /^(\d{1,4})([hd])$/.exec(window);
  const seconds = match ? Number(match[1]) * UNIT_SECONDS[match[2] as 'h' | 'd'] : NaN;
  if (!(seconds >= MIN_WINDOW_SECONDS && seconds <= MAX_WINDOW_SECONDS)) {
    throw new ServiceError(
      'invalid_request',
      `completion_window must be hours or days such as "24h", "72h" or "7d", from 24h to 24d; got ${JSON.stringify(window)}`,
      'completion_window',
    );
  }
  return seconds;
}
