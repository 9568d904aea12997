// The chat completions request format, as the validator, the CSV converter, the engines, the
// context budget and the editor all read it (below them all, so none reaches up for it).
import type { ChatMessage } from '../protocol/openai.js';

/** The endpoint a batch's request lines name (the only one a local engine serves). */
export const CHAT_COMPLETIONS_ENDPOINT = '/v1/chat/completions';

/** Plain text of a message's content (OpenAI allows a string or an array of parts). */
export function messageText(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content;
  if (!content) return '';
  return content.map((part) => part.text ?? '').join('');
}
