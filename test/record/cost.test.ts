// What calls cost: `llm.cost.*` from @pydantic/genai-prices for the model, provider and time of a span, or
// from LLMTAP_PRICES; none for a model without a price; estimated counts priced too.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { calcPrice } from '@pydantic/genai-prices';
import { describe, expect, it } from 'vitest';

import { Pricing } from '../../src/record/cost.js';
import { chatBody, rawRequest } from '../support/http.js';
import { fakeAndLlmtap, runCli } from '../support/llmtap.js';
import { waitForSpan } from '../support/spans.js';

const dir = mkdtempSync(join(tmpdir(), 'llmtap-prices-'));
const pricesFile = (name: string, content: string): string => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const PRICES = pricesFile(
  'prices.json',
  JSON.stringify({ 'my-llama-2024-07-18': { input_mtok: 1, output_mtok: 2 }, 'GPT-4O-2024-07-18': { input_mtok: 100, output_mtok: 200, cache_read_mtok: 10 } }),
);

const ns = (iso: string): bigint => BigInt(Date.parse(iso)) * 1_000_000n;
const tokens = (prompt: number, completion: number, cached?: number, reasoning?: number) => ({
  'llm.token_count.prompt': prompt,
  'llm.token_count.completion': completion,
  ...(cached === undefined ? {} : { 'llm.token_count.prompt_details.cache_read': cached }),
  ...(reasoning === undefined ? {} : { 'llm.token_count.completion_details.reasoning': reasoning }),
});

describe('Pricing.costAttributes', () => {
  const pricing = new Pricing();

  it("is genai-prices' price for the model, provider and time, split the OpenInference way", () => {
    // o3 cost 10/40 per million before 2025-06-10, then 2/8.
    const usage = { input_tokens: 10_000, cache_read_tokens: 8000, output_tokens: 3000, output_reasoning_tokens: 2500 };
    for (const at of ['2025-05-01T00:00:00Z', '2025-09-01T00:00:00Z']) {
      const expected = calcPrice(usage, 'o3-2025-04-16', { providerId: 'openai', timestamp: new Date(at) })!;
      const cost = pricing.costAttributes('o3-2025-04-16', 'openai', ns(at), tokens(10_000, 3000, 8000, 2500));
      expect(cost['llm.cost.total']).toBe(expected.total_price);
      expect(cost['llm.cost.prompt']).toBe(expected.input_price);
      expect(cost['llm.cost.completion']).toBe(expected.output_price);
    }
    const cost = pricing.costAttributes('o3-2025-04-16', 'openai', ns('2025-09-01T00:00:00Z'), tokens(10_000, 3000, 8000, 2500));
    // 2000 uncached at $2, 8000 cached at $0.50; 3000 out at $8 of which 2500 reasoning.
    expect(cost['llm.cost.prompt_details.input']).toBeCloseTo(0.004, 12);
    expect(cost['llm.cost.prompt_details.cache_read']).toBeCloseTo(0.004, 12);
    expect(cost['llm.cost.completion_details.output']).toBeCloseTo(0.004, 12);
    expect(cost['llm.cost.completion_details.reasoning']).toBeCloseTo(0.02, 12);
  });

  it('Azure deployments by the model they name; embeddings too', () => {
    const azure = pricing.costAttributes('gpt-4o-mini-2024-07-18', 'azure', ns('2025-09-01T00:00:00Z'), tokens(1000, 500));
    const openai = pricing.costAttributes('gpt-4o-mini-2024-07-18', 'openai', ns('2025-09-01T00:00:00Z'), tokens(1000, 500));
    expect(azure['llm.cost.total']).toBeGreaterThan(0);
    expect(azure['llm.cost.total']).toBe(openai['llm.cost.total']);
    const embed = pricing.costAttributes('text-embedding-3-small', 'openai', ns('2025-09-01T00:00:00Z'), { 'llm.token_count.prompt': 1000 });
    expect(embed['llm.cost.total']).toBeCloseTo(0.00002, 12);
  });

  it('no cost attributes for an unknown model or provider, or without counts', () => {
    expect(pricing.costAttributes('llama3', 'openai', ns('2025-09-01T00:00:00Z'), tokens(1000, 500))).toEqual({});
    expect(pricing.costAttributes('gpt-4o-mini', 'vllm.internal', ns('2025-09-01T00:00:00Z'), tokens(1000, 500))).toEqual({});
    expect(pricing.costAttributes('gpt-4o-mini', 'openai', ns('2025-09-01T00:00:00Z'), {})).toEqual({});
    expect(pricing.costAttributes('gpt-4o-mini', 'openai', ns('2025-09-01T00:00:00Z'), tokens(10, 5, 400))).toEqual({}); // more cached than prompt
  });

  it('LLMTAP_PRICES rates, whatever the provider, and over the bundled ones', () => {
    const own = new Pricing({ 'my-model': { input_mtok: 1, output_mtok: 2, cache_read_mtok: 0.5 } });
    const cost = own.costAttributes('My-Model', 'localhost', ns('2025-09-01T00:00:00Z'), tokens(1000, 500, 400));
    expect(cost['llm.cost.total']).toBeCloseTo(600e-6 + 400 * 0.5e-6 + 1000e-6, 15);
    expect(cost['llm.cost.prompt_details.cache_read']).toBeCloseTo(200e-6, 15);
  });
});

describe('cost on recorded spans', () => {
  const servers = fakeAndLlmtap({ LLMTAP_LOG_LEVEL: 'silent', LLMTAP_FLUSH_INTERVAL_MS: '10', LLMTAP_PROVIDER: 'openai', LLMTAP_PRICES: PRICES });
  const post = (body: string, headers: Record<string, string> = {}) => ({ method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const spanOf = async (r: { headers: Record<string, unknown> }) => waitForSpan(servers.proxy.dbPath, r.headers['x-llmtap-span-id'] as string);

  it('an aborted stream has estimated completion tokens and a cost', async () => {
    const r = await rawRequest(`${servers.proxy.baseURL}/chat/completions`, {
      ...post(chatBody({ stream: true }), { 'x-fake-delay-ms': '100' }),
      abortAfterBytes: 700, // the role chunk and a word or two
    });
    expect(r.complete).toBe(false);
    const span = await spanOf(r);
    expect(span.attributes['llm.token_count.completion']).toBeGreaterThan(0);
    expect(span.attributes['llm.token_count.prompt']).toBeGreaterThan(0);
    expect(span.attributes['llmtap.token_count.source']).toBe('estimate');
    expect(span.attributes['llm.token_count.completion_details.reasoning']).toBeUndefined();
    const price = calcPrice(
      { input_tokens: span.attributes['llm.token_count.prompt'] as number, output_tokens: span.attributes['llm.token_count.completion'] as number },
      'gpt-4o-mini-2024-07-18',
      { providerId: 'openai', timestamp: new Date(Number(span.startNs / 1_000_000n)) },
    )!;
    expect(span.attributes['llm.cost.total']).toBe(price.total_price);
  });

  it('a model without a price has tokens and no cost attributes; an error answer has neither', async () => {
    const span = await spanOf(await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post(chatBody({ model: 'mystery-model' }))));
    expect(span.attributes['llm.token_count.total']).toBeGreaterThan(0);
    expect(span.attributes['llmtap.token_count.source']).toBe('upstream');
    expect(Object.keys(span.attributes).filter((k) => k.startsWith('llm.cost.'))).toEqual([]);
    const failed = await spanOf(await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post(chatBody(), { 'x-fake-behavior': 'error-429' })));
    expect(Object.keys(failed.attributes).filter((k) => k.startsWith('llm.cost.') || k.startsWith('llm.token_count.') || k.startsWith('llmtap.token'))).toEqual(
      [],
    );
  });

  it('LLMTAP_PRICES prices a model the bundled data does not know, and overrides one it does', async () => {
    const llama = await spanOf(await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post(chatBody({ model: 'my-llama' }))));
    const p = llama.attributes['llm.token_count.prompt'] as number;
    const c = llama.attributes['llm.token_count.completion'] as number;
    expect(llama.attributes['llm.cost.total']).toBeCloseTo(p * 1e-6 + c * 2e-6, 15);

    const gpt = await spanOf(await rawRequest(`${servers.proxy.baseURL}/chat/completions`, post(chatBody({ model: 'gpt-4o' }))));
    const cached = gpt.attributes['llm.token_count.prompt_details.cache_read'] as number;
    const prompt = gpt.attributes['llm.token_count.prompt'] as number;
    const completion = gpt.attributes['llm.token_count.completion'] as number;
    expect(gpt.attributes['llm.cost.total']).toBeCloseTo((prompt - cached) * 100e-6 + cached * 10e-6 + completion * 200e-6, 12);
  });
});

describe('a broken LLMTAP_PRICES stops start-up, naming the variable and the fault', () => {
  const cases: [string, string, RegExp][] = [
    ['not-json.json', '{"gpt-x": {', /LLMTAP_PRICES: .*not-json\.json is not JSON/],
    [
      'unknown-rate.json',
      '{"gpt-x": {"input_mtok": 1, "output_mtok": 2, "input_per_token": 3}}',
      /LLMTAP_PRICES: .*"gpt-x" has an unknown rate "input_per_token"; known: input_mtok/,
    ],
    ['negative.json', '{"gpt-x": {"input_mtok": -1, "output_mtok": 2}}', /LLMTAP_PRICES: .*"gpt-x"\.input_mtok must be a non-negative number/],
    ['missing.json', '{"gpt-x": {"input_mtok": 1}}', /LLMTAP_PRICES: .*"gpt-x" needs output_mtok/],
    ['list.json', '[]', /LLMTAP_PRICES: .*must hold a JSON object of models/],
  ];
  for (const [name, content, message] of cases) {
    it(name, async () => {
      const { code, output } = await runCli({ LLMTAP_PRICES: pricesFile(name, content) });
      expect(code).toBe(2);
      expect(output).toMatch(message);
    });
  }

  it('a file that is not there', async () => {
    const { code, output } = await runCli({ LLMTAP_PRICES: join(dir, 'absent.json') });
    expect(code).toBe(2);
    expect(output).toMatch(/LLMTAP_PRICES: cannot read .*absent\.json/);
  });
});
