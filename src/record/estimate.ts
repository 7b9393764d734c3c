// Storage thread. Token counts for a span whose upstream gave none (a stream whose usage was not asked for or
// was refused, a stream the client or the upstream cut short): the visible text of the prompt and of the
// completion, read from the span's attributes and counted with gpt-tokenizer in the model's encoding
// (cl100k_base for gpt-4, gpt-3.5 and the older embeddings, o200k_base for every newer or unknown model).
// What is not on the wire is never estimated: reasoning tokens, images, audio. Each encoding is loaded the
// first time a span needs it (~0.3 s and ~40–60 MB), on this thread only.
import { createRequire } from 'node:module';

import { SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';
import { modelToEncodingMap } from 'gpt-tokenizer/mapping';

import type { Attributes } from './span.js';

type Encoding = 'o200k_base' | 'cl100k_base';
type Encoder = { countTokens(text: string, options: { disallowedSpecial: Set<string> }): number };

const require = createRequire(import.meta.url);
const encoders = new Map<Encoding, Encoder>();

/** Loaded on first use, synchronously (the tables are large: only the encodings spans need). */
function encoder(encoding: Encoding): Encoder {
  let e = encoders.get(encoding);
  if (!e) encoders.set(encoding, (e = require(`gpt-tokenizer/encoding/${encoding}`) as Encoder));
  return e;
}

const CL100K_FAMILY = /^(?:gpt-4(?:-|$)|gpt-3\.5|gpt-35|text-embedding-(?:3|ada))/;

export function encodingFor(model: string): Encoding {
  const base = model.startsWith('ft:') ? (model.split(':')[1] ?? model) : model; // ft:gpt-4o-mini-2024-07-18:org::id
  const listed = (modelToEncodingMap as Record<string, string | undefined>)[base];
  if (listed === 'cl100k_base' || (listed === undefined && CL100K_FAMILY.test(base))) return 'cl100k_base';
  return 'o200k_base';
}

// Text in user content may spell special tokens (`<|endoftext|>`): counted as the plain text it is.
const PLAIN = { disallowedSpecial: new Set<string>() };

// The tokenizer's cost grows with the square of an unbroken run's length (BPE merges within one word):
// 100,000 characters without a space took 3.8 s, so a client's prompt could stall this thread for hours.
// Runs are counted in pieces of RUN characters (a run that long is a URL, base64 or the like, whose count
// changes little), and past EXACT_CHARS characters per span the rest is counted at the rate seen so far.
const RUN = 64;
const LONG_RUN = new RegExp(`(\\S{${RUN}})`);
const EXACT_CHARS = 128 * 1024;

/** Counts text with bounded work (see above); one per span. */
function boundedCounter(enc: Encoder): (text: unknown) => number {
  let left = EXACT_CHARS;
  let chars = 0;
  let tokens = 0;
  return (text) => {
    if (typeof text !== 'string' || text === '') return 0;
    const exact = text.length <= left ? text : text.slice(0, left);
    left -= exact.length;
    let n = 0;
    for (const piece of exact.split(LONG_RUN)) if (piece) n += enc.countTokens(piece, PLAIN);
    chars += exact.length;
    tokens += n;
    const rest = text.length - exact.length;
    return rest === 0 ? n : n + Math.round(rest * (chars > 0 ? tokens / chars : 1 / 4));
  };
}

/** OpenAI's counting for chat: every message costs 3 tokens and a name 1 more; every reply is primed with 3. */
const PER_MESSAGE = 3;
const PER_NAME = 1;
const REPLY_PRIMING = 3;

const MESSAGE = /^llm\.(input|output)_messages\.(\d+)\./;
/** What a message holds as text: its role (input only: a reply's role is the priming), content, name, tool calls. */
const MESSAGE_TEXT = [
  SC.MESSAGE_CONTENT,
  SC.MESSAGE_NAME,
  SC.MESSAGE_CONTENT_TEXT,
  SC.TOOL_CALL_FUNCTION_NAME,
  SC.TOOL_CALL_FUNCTION_ARGUMENTS_JSON,
  SC.MESSAGE_FUNCTION_CALL_NAME,
  SC.MESSAGE_FUNCTION_CALL_ARGUMENTS_JSON,
].map((k) => `.${k}`);
const PROMPT_TEXT = [`.${SC.TOOL_JSON_SCHEMA}`, '.prompt.text', `.${SC.EMBEDDING_TEXT}`];
const PROMPT_LISTS = [SC.LLM_TOOLS, SC.LLM_PROMPTS, SC.EMBEDDING_EMBEDDINGS].map((k) => `${k}.`);

export interface Estimate {
  prompt?: number;
  completion?: number;
}

/**
 * The counts of the visible text a span records: messages (chat, Responses), prompts and choices (legacy
 * completions), embedded texts, tool definitions. A side with no text recorded gets no count.
 */
export function estimateTokens(attrs: Attributes, model: string): Estimate {
  const enc = encoder(encodingFor(model));
  const count = boundedCounter(enc);
  const messages = { input: new Set<string>(), output: new Set<string>() };
  let prompt = 0;
  let completion = 0;
  let promptText = false;
  let completionText = false;
  for (const [key, value] of Object.entries(attrs)) {
    const m = MESSAGE.exec(key);
    if (m) {
      const input = m[1] === 'input';
      messages[input ? 'input' : 'output'].add(m[2]!);
      if (!MESSAGE_TEXT.some((s) => key.endsWith(s)) && !(input && key.endsWith(`.${SC.MESSAGE_ROLE}`))) continue;
      if (key.endsWith(`.${SC.MESSAGE_CONTENT_TEXT}`) && attrs[key.replace(/text$/, 'type')] === 'reasoning') continue;
      if (input) prompt += count(value) + (key.endsWith(`.${SC.MESSAGE_NAME}`) ? PER_NAME : 0);
      else completion += count(value);
    } else if (PROMPT_LISTS.some((p) => key.startsWith(p)) && PROMPT_TEXT.some((s) => key.endsWith(s))) {
      prompt += count(value);
      promptText = true;
    } else if (key.startsWith('llm.choices.') && key.endsWith('.completion.text')) {
      completion += count(value);
      completionText = true;
    }
  }
  if (messages.input.size > 0) prompt += messages.input.size * PER_MESSAGE + REPLY_PRIMING;
  const out: Estimate = {};
  if (promptText || messages.input.size > 0) out.prompt = prompt;
  if (completionText || messages.output.size > 0) out.completion = completion;
  return out;
}
