// The first check on any parsed JSON or message from outside: an object with fields, not null and
// not an array. One meaning everywhere; a caller that accepts arrays says so itself.

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
