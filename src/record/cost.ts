// Storage thread. What a call cost, the OpenInference way: `llm.cost.*` in USD from a span's token counts,
// priced by @pydantic/genai-prices (its price data ships in the package: no network, ever) for the model,
// the provider and the time of the span (prices change: o3's fell in 2025), or by LLMTAP_PRICES for the
// models it names. A model neither knows gets no cost attributes, never a zero. Nothing here depends on an
// endpoint: any span with OpenInference token counts can be priced (Chat, Responses, embeddings, Realtime).
import { SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';
import { calcPrice, type ModelPrice, type PriceCalculation, type Provider, type Usage } from '@pydantic/genai-prices';

import type { PriceOverrides } from './price-file.js';
import type { Attributes } from './span.js';

/** Models priced (or found unpriceable) per provider, kept for the next span; model names come from clients. */
const RESOLVED_MAX = 1000;

export class Pricing {
  /** provider + model → a provider holding that one model (cheap to match again), or null: no price. */
  readonly #resolved = new Map<string, Provider | null>();
  readonly #overrides = new Map<string, Provider>();

  constructor(overrides: PriceOverrides = {}) {
    for (const [model, prices] of Object.entries(overrides)) {
      const id = model.toLowerCase();
      this.#overrides.set(id, { id: 'llmtap-prices', name: 'LLMTAP_PRICES', api_pattern: '', models: [{ id, match: { equals: id }, prices }] });
    }
  }

  /**
   * `llm.cost.*` for a span: its model, its `llm.provider`, when it started, and its `llm.token_count.*`
   * attributes (only those are read). Empty when there are no counts, or no price for the model.
   */
  costAttributes(model: string, provider: string, startNs: bigint, tokens: Attributes): Attributes {
    const usage = usageOf(tokens);
    if (!usage) return {};
    const timestamp = new Date(Number(startNs / 1_000_000n));
    const own = this.#overrides.get(model.toLowerCase()) ?? this.#resolve(model, provider, usage, timestamp);
    if (!own) return {};
    let price: PriceCalculation | null;
    try {
      price = calcPrice(usage, model, { provider: own, timestamp });
    } catch {
      return {}; // counts the price table cannot take (e.g. more cached tokens than prompt tokens)
    }
    return price ? attributes(price, usage, model, own, timestamp) : {};
  }

  #resolve(model: string, provider: string, usage: Usage, timestamp: Date): Provider | null {
    const key = `${provider}\n${model}`;
    let own = this.#resolved.get(key);
    if (own === undefined) {
      let found: PriceCalculation | null;
      try {
        found = calcPrice(usage, model, { providerId: provider, timestamp });
      } catch {
        // unpriceable counts say nothing about the model: resolved again next time
        return null;
      }
      own = found && { id: found.provider.id, name: found.provider.name, api_pattern: '', models: [found.model] };
      if (this.#resolved.size >= RESOLVED_MAX) this.#resolved.clear();
      this.#resolved.set(key, own);
    }
    return own;
  }
}

const num = (attrs: Attributes, key: string): number | undefined => (typeof attrs[key] === 'number' ? (attrs[key] as number) : undefined);

/** OpenInference counts → genai-prices usage. Like OpenAI's, its totals include their cached, audio and reasoning parts. */
function usageOf(a: Attributes): Usage | undefined {
  const input = num(a, SC.LLM_TOKEN_COUNT_PROMPT);
  const output = num(a, SC.LLM_TOKEN_COUNT_COMPLETION);
  if (input === undefined && output === undefined) return undefined;
  const usage: Usage = {
    input_tokens: input,
    cache_read_tokens: num(a, SC.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ),
    cache_write_tokens: num(a, SC.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE),
    input_audio_tokens: num(a, SC.LLM_TOKEN_COUNT_PROMPT_DETAILS_AUDIO),
    output_tokens: output,
    output_audio_tokens: num(a, SC.LLM_TOKEN_COUNT_COMPLETION_DETAILS_AUDIO),
    output_reasoning_tokens: num(a, SC.LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING),
  };
  for (const k of Object.keys(usage)) if (usage[k] === undefined) delete usage[k];
  return usage;
}

/** The usage a per-million price applies to (`cache_read_mtok` → `cache_read_tokens`), by the library's naming. */
const usageKey = (priceKey: string): string | undefined => (priceKey.endsWith('_mtok') ? `${priceKey.slice(0, -5)}_tokens` : undefined);

/**
 * What each price key of `prices` contributed to one direction's total: the keys whose usage is counted
 * are priced again alone (every other price zeroed: which keys are priced decides how the usage splits
 * between them, so the parts add up), the first takes the rest of the direction's total.
 */
function parts(keys: string[], total: number, usage: Usage, model: string, prices: ModelPrice, own: Provider, timestamp: Date): Map<string, number> {
  const out = new Map<string, number>();
  let rest = total;
  for (const key of keys.slice(1)) {
    const alone: ModelPrice = {};
    for (const [k, v] of Object.entries(prices)) if (v !== undefined) alone[k] = k === key ? v : typeof v === 'number' ? 0 : { base: 0, tiers: [] };
    const one = calcPrice(usage, model, { provider: { ...own, models: [{ ...own.models[0]!, prices: alone }] }, timestamp });
    const part = one?.total_price ?? 0;
    out.set(key, part);
    rest -= part;
  }
  if (keys.length > 0) out.set(keys[0]!, rest);
  return out;
}

function attributes(price: PriceCalculation, usage: Usage, model: string, own: Provider, timestamp: Date): Attributes {
  const counted = (key: string): boolean => (usage[usageKey(key) ?? ''] ?? 0) > 0;
  const keys = Object.keys(price.model_price).filter(counted);
  const input = parts(
    keys.filter((k) => !k.startsWith('output_')),
    price.input_price,
    usage,
    model,
    price.model_price,
    own,
    timestamp,
  );
  const output = parts(
    keys.filter((k) => k.startsWith('output_')),
    price.output_price,
    usage,
    model,
    price.model_price,
    own,
    timestamp,
  );
  const sum = (of: Map<string, number>, test: (key: string) => boolean): number => [...of].reduce((s, [k, v]) => (test(k) ? s + v : s), 0);

  const cacheRead = sum(input, (k) => k.startsWith('cache_') && k.includes('read'));
  const cacheWrite = sum(input, (k) => k.startsWith('cache_write'));
  const audioIn = sum(input, (k) => k === 'input_audio_mtok');
  const audioOut = sum(output, (k) => k.startsWith('output_audio'));
  let reasoning = sum(output, (k) => k.includes('reasoning'));
  let text = sum(output, (k) => !k.startsWith('output_audio') && !k.includes('reasoning'));
  // Reasoning tokens are part of the completion and, unless the model prices them apart, billed at its text rate.
  const reasoningTokens = usage.output_reasoning_tokens ?? 0;
  const textTokens = (usage.output_tokens ?? 0) - (usage.output_audio_tokens ?? 0);
  if (reasoning === 0 && reasoningTokens > 0 && textTokens > 0) {
    reasoning = (text * Math.min(reasoningTokens, textTokens)) / textTokens;
    text -= reasoning;
  }
  const attrs: Attributes = { [SC.LLM_COST_PROMPT]: price.input_price, [SC.LLM_COST_COMPLETION]: price.output_price, [SC.LLM_COST_TOTAL]: price.total_price };
  const detail = (key: string, value: number): void => {
    if (value > 0) attrs[key] = value;
  };
  detail(SC.LLM_COST_INPUT, price.input_price - cacheRead - cacheWrite - audioIn);
  detail(SC.LLM_COST_PROMPT_DETAILS_CACHE_READ, cacheRead);
  detail(SC.LLM_COST_PROMPT_DETAILS_CACHE_WRITE, cacheWrite);
  detail(SC.LLM_COST_PROMPT_DETAILS_AUDIO, audioIn);
  detail(SC.LLM_COST_OUTPUT, text);
  detail(SC.LLM_COST_COMPLETION_DETAILS_REASONING, reasoning);
  detail(SC.LLM_COST_COMPLETION_DETAILS_AUDIO, audioOut);
  return attrs;
}
