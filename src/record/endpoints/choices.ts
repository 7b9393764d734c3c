// Storage thread. What chat completions and legacy completions share: OpenAI's `CompletionUsage` object, and streams of
// chunks whose `choices` are merged by index, with the model, the usage chunk and error events.
import { SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';

import { asArray, isObject, type Json } from '../../json.js';
import { type Attributes, put } from '../span.js';
import { type StreamOutcome, type StreamReader } from './endpoint.js';

export function completionUsage(attrs: Attributes, usage: unknown): void {
  if (!isObject(usage)) return;
  put(attrs, SC.LLM_TOKEN_COUNT_PROMPT, usage.prompt_tokens);
  put(attrs, SC.LLM_TOKEN_COUNT_COMPLETION, usage.completion_tokens);
  put(attrs, SC.LLM_TOKEN_COUNT_TOTAL, usage.total_tokens);
  const prompt = isObject(usage.prompt_tokens_details) ? usage.prompt_tokens_details : {};
  const completion = isObject(usage.completion_tokens_details) ? usage.completion_tokens_details : {};
  put(attrs, SC.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ, prompt.cached_tokens);
  put(attrs, SC.LLM_TOKEN_COUNT_PROMPT_DETAILS_AUDIO, prompt.audio_tokens);
  put(attrs, SC.LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING, completion.reasoning_tokens);
  put(attrs, SC.LLM_TOKEN_COUNT_COMPLETION_DETAILS_AUDIO, completion.audio_tokens);
}

/** A stream of `choices` chunks; subclasses say how one choice's deltas merge and what the merge records. */
export abstract class ChoiceStream<C> implements StreamReader {
  readonly #outcome: StreamOutcome = {};
  readonly #choices = new Map<number, C>();
  #model: unknown;
  #usage: unknown;

  protected abstract newChoice(): C;
  /** Merges one chunk's choice into `into`; returns whether it carried a token (the first marks TTFT). */
  protected abstract merge(into: C, choice: Json): boolean;
  /** Records the merged choices, in index order. */
  protected abstract record(attrs: Attributes, choices: [number, C][]): void;

  event(chunk: Json, atNs: bigint): void {
    if (isObject(chunk.error)) {
      // An error event inside a 200 stream.
      this.#outcome.error = { type: String(chunk.error.type ?? 'APIError'), message: String(chunk.error.message ?? JSON.stringify(chunk.error)) };
      return;
    }
    if (chunk.model) this.#model = chunk.model;
    if (isObject(chunk.usage)) this.#usage = chunk.usage;
    for (const c of asArray(chunk.choices)) {
      if (!isObject(c)) continue;
      const index = Number(c.index ?? 0);
      let merged = this.#choices.get(index);
      if (!merged) this.#choices.set(index, (merged = this.newChoice()));
      if (this.merge(merged, c)) this.#outcome.firstTokenNs ??= atNs;
    }
  }

  finish(attrs: Attributes): StreamOutcome {
    this.record(
      attrs,
      [...this.#choices].sort((a, b) => a[0] - b[0]),
    );
    if (this.#model) put(attrs, SC.LLM_MODEL_NAME, this.#model);
    completionUsage(attrs, this.#usage);
    return this.#outcome;
  }
}
