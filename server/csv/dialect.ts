// A CSV's dialect from its header line: the delimiter (the most frequent of , ; and tab outside
// quotes) and the line end. Shared by convert and the analysis join, apart from convert so that
// the join does not load the tokenizer.
export const DETECTED_DELIMITERS = [',', ';', '\t'];

export interface Dialect {
  delimiter: string;
  /** undefined: let csv-parse find it (a file of one line without its end). */
  recordDelimiter: string | undefined;
}

/** The header line's most frequent delimiter outside quotes (a comma when none), and its line end. */
export function detectDialect(head: string, delimiter?: string): Dialect {
  const counts = new Map<string, number>();
  let quoted = false;
  let index = 0;
  for (; index < head.length; index++) {
    const char = head[index]!;
    if (char === '"') quoted = !quoted;
    else if (!quoted && char === '\n') break;
    else if (!quoted) counts.set(char, (counts.get(char) ?? 0) + 1);
  }
  const recordDelimiter = index === head.length ? undefined : head[index - 1] === '\r' ? '\r\n' : '\n';
  const detected = DETECTED_DELIMITERS.reduce((best, candidate) =>
    (counts.get(candidate) ?? 0) > (counts.get(best) ?? 0) ? candidate : best,
  );
  return { delimiter: delimiter ?? detected, recordDelimiter };
}
