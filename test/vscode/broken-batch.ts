// A batch file with two faults on known lines, for the diagnostics tests in and out of VS Code.
const line = (id: string): string =>
  JSON.stringify({
    custom_id: id,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: 'tiny', messages: [{ role: 'user', content: 'hi' }] },
  });

/** Line 2 is not JSON; line 3 repeats line 1's custom_id. */
export const BROKEN_BATCH = [line('a'), '{"custom_id": "b", "method": ', line('a'), ''].join('\n');
/** Each fault's 0-based line, by the daemon's validation code. */
export const BROKEN_LINES = { invalid_json_line: 1, duplicate_custom_id: 2 };
