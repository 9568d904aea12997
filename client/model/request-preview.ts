// The first request of a conversion as a person reads it before the file is written: each
// message's text as the model will get it, the settings that shape the answer, and the line itself.
import type { BatchInputLine } from '../../server/protocol/openai.js';

function contentText(content: BatchInputLine['body']['messages'][number]['content']): string {
  if (typeof content === 'string') return content;
  if (content === null) return '';
  return content.map((part) => part.text ?? `[${part.type}]`).join('\n');
}

/** Markdown: a heading per message, its text in a fence (a rubric's own headings stay text). */
export function renderRequest(line: BatchInputLine, source: string): string {
  const { body } = line;
  const format = body.response_format;
  const settings = [
    `model \`${body.model}\``,
    `max_tokens ${body.max_tokens ?? body.max_completion_tokens ?? 'not set'}`,
    ...(format?.type === 'json_schema'
      ? [`answers follow the JSON schema${format.json_schema.name ? ` "${format.json_schema.name}"` : ''}`]
      : format
        ? [`response_format ${format.type}`]
        : []),
    ...(body.reasoning_effort ? [`reasoning_effort ${body.reasoning_effort}`] : []),
  ];
  // A fence longer than any run of backticks in the text, so that none closes it early.
  const fence = (text: string): string =>
    '`'.repeat(Math.max(3, ...(text.match(/`+/g) ?? []).map((run) => run.length + 1)));
  const block = (text: string, language = 'text'): string => `${fence(text)}${language}\n${text}\n${fence(text)}`;
  return [
    `# The first request of ${source}`,
    '',
    `custom_id \`${line.custom_id}\`: ${settings.join(', ')}.`,
    ...body.messages.flatMap((message) => ['', `## ${message.role}`, '', block(contentText(message.content))]),
    '',
    '## The line as written',
    '',
    block(JSON.stringify(line, null, 2), 'json'),
    '',
  ].join('\n');
}
