// Storage thread. What a call cost, the OpenInference way: `llm.cost.*` in USD from a span's token counts,
// priced by @pydantic/genai-prices (its price data ships in the package: no network, ever) for the model,
// the provider and the time of the span (prices change: o3's fell in 2025), or by LLMTAP_PRICES for the
// models it names. A model neither knows gets no cost attributes, never a zero. Nothing here depends on an
// endpoint: any span with OpenInference token counts can be priced (Chat, Responses, embeddings, Realtime).
import { SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';
import { calcPrice, type ModelInfo, type ModelPrice, type PriceCalculation, type Provider, type Usage } from '@pydantic/genai-prices';

import type { PriceOverrides } from './price-file.js';
import { type Attributes, LLMTAP } from './span.js';

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

  /** Adds a span's `llm.cost.*`, from its model (at `modelKey`), its `llm.provider` and its token counts. */
  price(attrs: Attributes, modelKey: string, startNs: bigint): void {
    const model = attrs[modelKey];
    Object.assign(attrs, this.costAttributes(typeof model === 'string' ? model : '', String(attrs[SC.LLM_PROVIDER]), startNs, attrs));
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
      own = found && { id: found.provider.id, name: found.provider.name, api_pattern: '', models: [tokenPrices(found.model, model)] };
      if (this.#resolved.size >= RESOLVED_MAX) this.#resolved.clear();
      this.#resolved.set(key, own);
    }
    return own;
  }
}

/**
 * The model as this span's usage is priced: matched by the exact id that resolved to it, without the prices
 * token counts never feed (per-search, per-hour: they add nothing here, and half of calcPrice's time goes to
 * checking how the priced units relate). A per-request price stays.
 */
function tokenPrices(info: ModelInfo, id: string): ModelInfo {
  const keep = (prices: ModelPrice): ModelPrice =>
    Object.fromEntries(Object.entries(prices).filter(([key]) => key.endsWith('_mtok') || key === 'requests_kcount'));
  const prices = Array.isArray(info.prices) ? info.prices.map((c) => ({ ...c, prices: keep(c.prices) })) : keep(info.prices);
  return { ...info, match: { equals: id }, prices };
}

/** OpenInference counts → genai-prices usage. Like OpenAI's, its totals include their cached, audio and reasoning parts. */
const USAGE: [string, string][] = [
  [SC.LLM_TOKEN_COUNT_PROMPT, 'input_tokens'],
  [SC.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_READ, 'cache_read_tokens'],
  [SC.LLM_TOKEN_COUNT_PROMPT_DETAILS_CACHE_WRITE, 'cache_write_tokens'],
  [SC.LLM_TOKEN_COUNT_PROMPT_DETAILS_AUDIO, 'input_audio_tokens'],
  // The Realtime API says which cached tokens were audio: priced at their own rate (realtime/spans.ts).
  [LLMTAP.CACHE_READ_AUDIO_TOKENS, 'cache_audio_read_tokens'],
  [SC.LLM_TOKEN_COUNT_COMPLETION, 'output_tokens'],
  [SC.LLM_TOKEN_COUNT_COMPLETION_DETAILS_AUDIO, 'output_audio_tokens'],
  [SC.LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING, 'output_reasoning_tokens'],
];

function usageOf(a: Attributes): Usage | undefined {
  const usage: Usage = {};
  for (const [attr, key] of USAGE) if (typeof a[attr] === 'number') usage[key] = a[attr];
  return usage.input_tokens === undefined && usage.output_tokens === undefined ? undefined : usage;
}

/** The usage a per-million price applies to (`cache_read_mtok` → `cache_read_tokens`), by the library's naming. */
const usageKey = (priceKey: string): string => (priceKey.endsWith('_mtok') ? `${priceKey.slice(0, -5)}_tokens` : '');

/** Prices `usage` with only `key` of `prices` kept (every other price zeroed): what that key contributed. */
function alone(key: string, usage: Usage, model: string, prices: ModelPrice, own: Provider, timestamp: Date): number {
  const only: ModelPrice = {};
  for (const [k, v] of Object.entries(prices)) if (v !== undefined) only[k] = k === key ? v : typeof v === 'number' ? 0 : { base: 0, tiers: [] };
  return calcPrice(usage, model, { provider: { ...own, models: [{ ...own.models[0]!, prices: only }] }, timestamp })?.total_price ?? 0;
}

/**
 * The OpenInference cost attributes of a price. Each direction's total is split between the price keys
 * whose usage is counted: each key but the first is priced again alone (which keys are priced decides how
 * the usage splits between them, so the parts add up), the first takes the rest. Most calls count one
 * key per direction (no cached, audio or reasoning rate): no second pricing.
 */
function attributes(price: PriceCalculation, usage: Usage, model: string, own: Provider, timestamp: Date): Attributes {
  const split = { input: 0, cacheRead: 0, cacheWrite: 0, audioIn: 0, output: 0, reasoning: 0, audioOut: 0 };
  const first = { in: '', out: '' };
  const rest = { in: price.input_price, out: price.output_price };
  const part = (key: string, value: number): void => {
    if (key.startsWith('cache_write')) split.cacheWrite += value;
    else if (key.startsWith('cache_')) split.cacheRead += value;
    else if (key === 'input_audio_mtok') split.audioIn += value;
    else if (key.startsWith('output_audio')) split.audioOut += value;
    else if (key.includes('reasoning')) split.reasoning += value;
    else if (key.startsWith('output_')) split.output += value;
    else split.input += value;
  };
  for (const key in price.model_price) {
    if (!((usage[usageKey(key)] ?? 0) > 0)) continue;
    const side = key.startsWith('output_') ? 'out' : 'in';
    if (!first[side]) first[side] = key;
    else {
      const value = alone(key, usage, model, price.model_price, own, timestamp);
      rest[side] -= value;
      part(key, value);
    }
  }
  if (first.in) part(first.in, rest.in);
  if (first.out) part(first.out, rest.out);
  // Reasoning tokens are part of the completion and, unless the model prices them apart, billed at its text rate.
  const reasoningTokens = usage.output_reasoning_tokens ?? 0;
  const textTokens = (usage.output_tokens ?? 0) - (usage.output_audio_tokens ?? 0);
  if (split.reasoning === 0 && reasoningTokens > 0 && textTokens > 0) {
    split.reasoning = (split.output * Math.min(reasoningTokens, textTokens)) / textTokens;
    split.output -= split.reasoning;
  }
  const attrs: Attributes = { [SC.LLM_COST_PROMPT]: price.input_price, [SC.LLM_COST_COMPLETION]: price.output_price, [SC.LLM_COST_TOTAL]: price.total_price };
  const detail = (key: string, value: number): void => {
    if (value > 0) attrs[key] = value;
  };
  detail(SC.LLM_COST_INPUT, split.input);
  detail(SC.LLM_COST_PROMPT_DETAILS_CACHE_READ, split.cacheRead);
  detail(SC.LLM_COST_PROMPT_DETAILS_CACHE_WRITE, split.cacheWrite);
  detail(SC.LLM_COST_PROMPT_DETAILS_AUDIO, split.audioIn);
  detail(SC.LLM_COST_OUTPUT, split.output);
  detail(SC.LLM_COST_COMPLETION_DETAILS_REASONING, split.reasoning);
  detail(SC.LLM_COST_COMPLETION_DETAILS_AUDIO, split.audioOut);
  return attrs;
}
