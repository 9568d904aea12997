// `{{column}}` templates: the user message of each request, filled from a CSV row. A template is
// checked against the header before any row is read, so a typo fails at once, not 170,000 times.

export class TemplateError extends Error {}

export interface Template {
  /** The static text around the slots: one more than there are slots. */
  readonly statics: readonly string[];
  /** For each slot, the index of the column that fills it. */
  readonly slots: readonly number[];
}

/** `{{name}}`, with optional whitespace inside the braces: `{{ name }}`. */
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

export function compileTemplate(text: string, columns: readonly string[]): Template {
  const statics: string[] = [];
  const slots: number[] = [];
  const unknown = new Set<string>();
  let end = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    const column = columns.indexOf(match[1]!);
    if (column === -1) unknown.add(match[1]!);
    statics.push(text.slice(end, match.index));
    slots.push(column);
    end = match.index + match[0].length;
  }
  statics.push(text.slice(end));
  const known = `the columns are: ${columns.join(', ')}`;
  if (unknown.size > 0) {
    const names = [...unknown].map((name) => `{{${name}}}`).join(', ');
    throw new TemplateError(
      `the template uses ${names}, which ${unknown.size === 1 ? 'is not a column' : 'are not columns'} of the CSV; ${known}`,
    );
  }
  if (slots.length === 0)
    throw new TemplateError(
      `the template has no {{column}} placeholders, so every request would be the same; ${known}`,
    );
  return { statics, slots };
}

/** Without a template: every column as a `column: value` line. */
export function defaultTemplate(columns: readonly string[]): Template {
  return {
    statics: columns.map((column, index) => `${index === 0 ? '' : '\n'}${column}: `).concat(''),
    slots: columns.map((_, index) => index),
  };
}

export function renderTemplate(template: Template, fields: readonly string[]): string {
  const { statics, slots } = template;
  let text = statics[0]!;
  for (let slot = 0; slot < slots.length; slot++) text += fields[slots[slot]!]! + statics[slot + 1]!;
  return text;
}
