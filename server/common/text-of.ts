// A value from parsed JSON as text for people: a string as it is, anything else as its JSON
// (String() would print an object as "[object Object]").

export const textOf = (value: unknown): string =>
  typeof value === 'string' ? value : value === undefined ? 'undefined' : JSON.stringify(value);
