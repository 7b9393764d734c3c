// Storage thread. POST /v1/completions (legacy) → the attributes @arizeai/openinference-instrumentation-openai writes
// (the prompt as `input.value`, choice 0's text as `output.value`), and more: every prompt and choice in
// the spec's `llm.prompts` / `llm.choices` lists, the finish reason, and streams, for which the JS
// instrumentation records no span at all.
import { MimeType, OpenInferenceSpanKind, SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';

import { asArray, isObject, type Json } from '../../json.js';
import { SPAN_NAMES } from '../route.js';
import { type Attributes, OI, put } from '../span.js';
import { ChoiceStream, completionUsage } from './choices.js';
import { type Endpoint } from './endpoint.js';

export const completions: Endpoint = {
  spanName: SPAN_NAMES.completions[0],
  spanKind: OpenInferenceSpanKind.LLM,
  modelKey: SC.LLM_MODEL_NAME,

  request(body, attrs) {
    const { prompt, ...invocation } = body;
    put(attrs, SC.LLM_MODEL_NAME, body.model);
    put(attrs, SC.LLM_INVOCATION_PARAMETERS, JSON.stringify(invocation));
    const prompts = typeof prompt === 'string' ? [prompt] : asArray(prompt).every((p) => typeof p === 'string') ? (prompt as string[]) : [];
    prompts.forEach((text, i) => put(attrs, `${SC.LLM_PROMPTS}.${i}.${OI.PROMPT_TEXT}`, text));
    // As the JS instrumentation: the first prompt as text. Token-id prompts, which it leaves out, as JSON.
    if (prompts.length > 0) {
      put(attrs, SC.INPUT_VALUE, prompts[0]);
      put(attrs, SC.INPUT_MIME_TYPE, MimeType.TEXT);
    } else if (prompt !== undefined) {
      put(attrs, SC.INPUT_VALUE, JSON.stringify(prompt));
      put(attrs, SC.INPUT_MIME_TYPE, MimeType.JSON);
    }
  },

  response(body, attrs) {
    put(attrs, SC.LLM_MODEL_NAME, body.model || undefined);
    const choices = asArray(body.choices).filter(isObject);
    const first = choices[0];
    // As the JS instrumentation: choice 0's text, or the response JSON when there is no choice.
    put(attrs, SC.OUTPUT_VALUE, first ? String(first.text) : JSON.stringify(body));
    put(attrs, SC.OUTPUT_MIME_TYPE, first ? MimeType.TEXT : MimeType.JSON);
    choices.forEach((c, position) => putChoice(attrs, Number(c.index ?? position), String(c.text ?? ''), c.finish_reason));
    completionUsage(attrs, body.usage);
  },

  stream: () => new CompletionStream(),
};

function putChoice(attrs: Attributes, index: number, text: string, finishReason: unknown): void {
  put(attrs, `${OI.LLM_CHOICES}.${index}.${OI.COMPLETION_TEXT}`, text);
  if (index === 0) put(attrs, SC.LLM_FINISH_REASON, finishReason);
}

interface MergedText {
  text: string;
  finishReason?: unknown;
}

/** Merges `text_completion` chunks by choice index. */
class CompletionStream extends ChoiceStream<MergedText> {
  protected newChoice(): MergedText {
    return { text: '' };
  }

  protected merge(merged: MergedText, c: Json): boolean {
    if (c.finish_reason) merged.finishReason = c.finish_reason;
    if (typeof c.text !== 'string' || !c.text) return false;
    merged.text += c.text;
    return true;
  }

  protected record(attrs: Attributes, choices: [number, MergedText][]): void {
    put(attrs, SC.OUTPUT_VALUE, choices.find(([index]) => index === 0)?.[1].text ?? '');
    put(attrs, SC.OUTPUT_MIME_TYPE, MimeType.TEXT);
    for (const [index, c] of choices) putChoice(attrs, index, c.text, c.finishReason);
  }
}
