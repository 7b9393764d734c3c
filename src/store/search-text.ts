// What `q` searches in a span: the texts of its messages (contents, text parts, tool call arguments),
// capped so one huge conversation cannot stall the writer: the last 32 KiB of the input side (the
// newest messages), the first 32 KiB of the output.
import type { Attributes } from '../record/span.js';

const CAP = 32_768;
const SUFFIXES = ['.message.content', '.message_content.text', '.function.arguments'];

export function searchText(attrs: Attributes, side: 'input' | 'output'): string {
  const prefix = `llm.${side}_messages.`;
  const parts: string[] = [];
  for (const key in attrs) {
    if (key.startsWith(prefix) && SUFFIXES.some((s) => key.endsWith(s))) parts.push(String(attrs[key]));
  }
  const text = parts.join(' ');
  return side === 'input' ? text.slice(-CAP) : text.slice(0, CAP);
}
