// The viewer in real headless Chromium (a system one, else @sparticuz/chromium's; driven by playwright-core),
// over spans made through the proxy (fake upstream) of every kind and a week of imported ones: the dashboard's
// tiles equal /api/stats and its charts are drawn, the window and a filter change it; the requests list,
// its keys and the detail of each kind of span; a session and a trace; what the page loads, from where,
// and how much; a narrow window; the token prompt. UPDATE_SCREENSHOTS=1 also saves docs/viewer-*.png.
import OpenAI from 'openai';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { toPhoenixLine } from '../../src/phoenix/span-json.js';
import { postJsonl } from '../support/api.js';
import { CHROMIUM_FLAGS, findChromium } from '../support/chromium.js';
import { type FakeOpenAI, startFakeOpenAI } from '../support/fake-openai.js';
import { rawRequest } from '../support/http.js';
import { type InProcess, startLlmtap } from '../support/llmtap.js';
import { barrier, sampleSpan, waitForSpan } from '../support/spans.js';

const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1';
const docs = (name: string): string => new URL(`../../docs/${name}`, import.meta.url).pathname;

// A small picture for the image thumbnail.
const IMAGE = `data:image/svg+xml;base64,${Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="100"><rect width="160" height="100" fill="#4dabf7"/><circle cx="120" cy="30" r="14" fill="#ffe066"/></svg>',
).toString('base64')}`;
const WEATHER = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { location: { type: 'string' } }, required: ['location'] },
  },
};
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

let fake: FakeOpenAI;
let browser: Browser;

beforeAll(async () => {
  const { executablePath } = await findChromium();
  browser = await chromium.launch({ executablePath, args: CHROMIUM_FLAGS, headless: true });
  fake = await startFakeOpenAI();
});
afterAll(async () => {
  await browser?.close();
  await fake?.close();
});

function client(llmtap: InProcess, headers: Record<string, string> = {}): OpenAI {
  return new OpenAI({ baseURL: llmtap.baseURL, apiKey: 'sk-test-viewer', defaultHeaders: headers, maxRetries: 0 });
}

/** A week of calls an hour apart, imported, for the charts: three models, two users, some errors. */
async function history(llmtap: InProcess): Promise<void> {
  const now = BigInt(Date.now()) * 1_000_000n;
  const HOUR = 3_600_000_000_000n;
  const lines = Array.from({ length: 160 }, (_, i) => {
    const start = now - BigInt(i + 2) * HOUR + BigInt(i * 7919) * 1_000_000n;
    return toPhoenixLine(
      sampleSpan({
        traceId: (0x1000 + i).toString(16).padStart(32, '0'),
        spanId: (0x1000 + i).toString(16).padStart(16, '0'),
        startNs: start,
        endNs: start + BigInt(300 + ((i * 37) % 1500)) * 1_000_000n,
        statusCode: i % 9 === 0 ? 'ERROR' : 'OK',
        attributes: {
          'openinference.span.kind': 'LLM',
          'llm.model_name': ['gpt-4o-mini-2024-07-18', 'gpt-4o-2024-08-06', 'gpt-4.1-2025-04-14'][i % 3]!,
          'user.id': ['ada', 'grace'][i % 2]!,
          'session.id': `history-${i % 4}`,
          'llm.token_count.prompt': 100 + i,
          'llm.token_count.completion': 40 + (i % 50),
          'llm.token_count.total': 140 + i + (i % 50),
          'llm.cost.total': (100 + i) * 1e-6,
          ...(i % 2 ? { 'llmtap.time_to_first_token_ms': 120 + i } : {}),
        },
        events: [],
      }),
    );
  });
  await postJsonl(`${llmtap.url}/api/spans/import`, lines.join('\n'));
}

/** One call of every kind through the proxy; returns span ids by kind. */
async function traffic(llmtap: InProcess): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  const idOf = async (p: { withResponse(): Promise<{ response: Response }> }): Promise<string> =>
    (await p.withResponse()).response.headers.get('x-llmtap-span-id')!;
  const openai = client(llmtap, {
    'x-llmtap-session-id': 'checkout-42',
    'x-llmtap-user-id': 'ada',
    'x-llmtap-tags': 'nightly',
    'x-llmtap-metadata': '{"team":"payments"}',
  });
  ids.chat = await idOf(
    openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You are a concise assistant.' },
        { role: 'user', content: 'Summarise our refund policy in two sentences.' },
      ],
    }),
  );
  const stream = await openai.chat.completions
    .create({ model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'Write a haiku about proxies.' }] })
    .withResponse();
  for await (const _ of stream.data);
  ids.stream = stream.response.headers.get('x-llmtap-span-id')!;
  ids.tool = await idOf(
    openai.chat.completions.create({
      model: 'gpt-4o-mini',
      tools: [WEATHER],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is the weather in Paris, where this was taken?' },
            { type: 'image_url', image_url: { url: IMAGE } },
          ],
        },
      ],
    }),
  );
  const failing = await rawRequest(`${llmtap.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-fake-behavior': 'error-429', 'x-llmtap-session-id': 'checkout-42' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Translate "good morning" into French.' }] }),
  });
  ids.error = failing.headers['x-llmtap-span-id'] as string;
  const broken = await rawRequest(`${llmtap.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-fake-behavior': 'error-event' },
    body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'Tell me a long story.' }] }),
  });
  ids.partial = broken.headers['x-llmtap-span-id'] as string;
  ids.responses = await idOf(
    client(llmtap).responses.create({
      model: 'o4-mini',
      instructions: 'Think first.',
      input: 'Say hello.',
      reasoning: { summary: 'auto' },
      tools: [{ type: 'function', name: 'lookup', parameters: {}, strict: false }],
    }),
  );
  ids.embeddings = await idOf(client(llmtap).embeddings.create({ model: 'text-embedding-3-small', input: ['the first text to embed', 'a second one'] }));
  ids.completions = await idOf(client(llmtap).completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'Once upon a time' }));
  ids.light = (await rawRequest(`${llmtap.baseURL}/models`)).headers['x-llmtap-span-id'] as string;
  // Two calls of one trace (the caller's traceparent).
  const traced = client(llmtap, { traceparent: `00-${TRACE}-00f067aa0ba902b7-01` });
  ids.traceA = await idOf(traced.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Plan the trip.' }] }));
  ids.traceB = await idOf(traced.embeddings.create({ model: 'text-embedding-3-small', input: 'trip notes' }));
  await barrier(llmtap);
  return ids;
}

interface Opened {
  page: Page;
  /** Every request the page made, answered or not… */
  asked: string[];
  /** …and what those answered weighed (headers and body as transferred). */
  loaded: Promise<{ url: string; bytes: number }>[];
}

async function open(llmtap: InProcess, hash = '', width = 1440): Promise<Opened> {
  const page = await browser.newPage({ viewport: { width, height: 900 }, locale: 'en-US' });
  page.on('pageerror', (err) => {
    throw err;
  });
  const asked: string[] = [];
  page.on('request', (request) => void asked.push(request.url()));
  const loaded: Opened['loaded'] = [];
  page.on('requestfinished', (request) => {
    // A poll still answering when a test closes its page has no sizes: NaN (a sum over it fails).
    const sized = request.sizes().then(
      (s) => s.responseBodySize + s.responseHeadersSize,
      () => NaN,
    );
    loaded.push(sized.then((bytes) => ({ url: request.url(), bytes })));
  });
  await page.goto(`${llmtap.url}/${hash ? `ui/${hash}` : ''}`); // the root leads to the viewer
  return { page, asked, loaded };
}

const loadedView = (page: Page): Promise<unknown> => page.waitForSelector('main[data-loaded="true"]');
interface Totals {
  requests: number;
  errors: number;
  cost_usd: number;
  tokens: { prompt: number; completion: number };
  latency_ms: { p50: number | null };
  ttft_ms: { p50: number | null };
}
/** A group of /api/stats (`by=user` or `by=session`). */
type Group = Totals & { user?: string | null; session?: string | null; first_time: string; last_time: string };
const stats = async (llmtap: InProcess, query: string): Promise<{ total: Totals; groups: Group[] }> =>
  (await (await fetch(`${llmtap.url}/api/stats?${query}`)).json()) as never;
const tileOf = (page: Page) => (name: string) => page.locator(`.tile[data-tile="${name}"]`).getAttribute('data-value');
/** The dashboard's tiles equal the totals of /api/stats. */
async function expectTiles(page: Page, total: Totals): Promise<void> {
  const tile = tileOf(page);
  expect(Number(await tile('Requests'))).toBe(total.requests);
  expect(Number(await tile('Tokens'))).toBe(total.tokens.prompt + total.tokens.completion);
  expect(Number(await tile('Cost'))).toBeCloseTo(total.cost_usd, 9);
  expect(await tile('Latency')).toBe(String(total.latency_ms.p50 ?? ''));
  expect(await tile('Time to first token')).toBe(String(total.ttft_ms.p50 ?? ''));
  expect(await page.locator('.tile[data-tile="Requests"] .tile-detail').innerText()).toMatch(new RegExp(`^${total.errors} errors`));
}

describe('viewer', () => {
  let llmtap: InProcess;
  let ids: Record<string, string>;
  beforeAll(async () => {
    llmtap = await startLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_FLUSH_INTERVAL_MS: '20', LLMTAP_RECORD_OTHER: 'true', LLMTAP_PROVIDER: 'openai' });
    await history(llmtap);
    ids = await traffic(llmtap);
  });
  afterAll(() => llmtap.shutdown());

  it('opens on the dashboard: tiles equal /api/stats, charts drawn; the window and a filter change it; nothing from elsewhere, under 300 KB', async () => {
    const { page, asked, loaded } = await open(llmtap);
    await loadedView(page);
    await page.waitForFunction(() => document.querySelectorAll('.plot[data-drawn] canvas').length === 4);
    const since = (hours: number): string => new Date(Date.now() - hours * 3_600_000).toISOString();
    let want = await stats(llmtap, `from=${since(24)}&bucket=hour`);
    await expectTiles(page, want.total);
    expect(want.total.latency_ms.p50).toBeGreaterThan(0);
    expect(want.total.ttft_ms.p50).toBeGreaterThan(0);
    expect(await page.locator('.tile[data-tile="Requests"] .tile-value').innerText()).toBe(want.total.requests.toLocaleString('en-US'));
    expect(await page.locator('table[data-top="model"] tbody tr').count()).toBeGreaterThanOrEqual(3);
    // Each top table shows all its columns, none scrolled away.
    expect(await page.locator('section.top').evaluateAll((els) => els.map((el) => el.scrollWidth - el.clientWidth))).toEqual([0, 0, 0]);
    // The top users: the costliest first, their numbers as /api/stats gives them.
    const users = await stats(llmtap, `from=${since(24)}&by=user&limit=10`);
    expect(await page.locator('table[data-top="user"] tbody th').allInnerTexts()).toEqual(users.groups.map((g) => g.user ?? '(no user)'));
    expect(await page.locator('table[data-top="user"] tbody tr').first().locator('td').first().innerText()).toBe(String(users.groups[0]!.requests));
    if (SCREENSHOTS) await page.screenshot({ path: docs('viewer-dashboard.png'), fullPage: true });
    // Everything from llmtap itself, and little of it.
    await page.waitForLoadState('networkidle');
    expect(asked.filter((url) => !url.startsWith(`${llmtap.url}/`))).toEqual([]);
    const answered = await Promise.all(loaded);
    expect(answered.map((r) => r.url).sort()).toEqual([...asked].sort()); // none failed
    const total = answered.reduce((n, r) => n + r.bytes, 0);
    expect(total).toBeLessThan(300 * 1024);
    console.log(`viewer: the dashboard loaded ${answered.length} responses, ${(total / 1024).toFixed(0)} KB`);
    // Its icon.
    const icon = await fetch(await page.locator('link[rel="icon"]').evaluate((link: HTMLLinkElement) => link.href));
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
    expect(await icon.text()).toMatch(/^<svg /);

    await page.selectOption('select[name="window"]', '7d');
    await page.waitForFunction(() => location.hash.includes('window=7d') && document.querySelector('main[data-loaded="true"]'));
    want = await stats(llmtap, `from=${since(168)}&bucket=hour`);
    await expectTiles(page, want.total);
    // A window over several days names the day at both ends, today's included.
    expect(await page.locator('.window-note').innerText()).toMatch(/^From [A-Z][a-z]{2} \d+, [\d:]+ to [A-Z][a-z]{2} \d+, [\d:]+, by hour/);
    await page.selectOption('select[name="model"]', 'gpt-4o-2024-08-06');
    await page.waitForFunction(() => location.hash.includes('model=gpt-4o-2024-08-06') && document.querySelector('main[data-loaded="true"]'));
    want = await stats(llmtap, `from=${since(168)}&bucket=hour&model=gpt-4o-2024-08-06`);
    await expectTiles(page, want.total);
    expect(await page.locator('table[data-top="model"] tbody tr').count()).toBe(1);
    await page.close();
  });

  it('reopens a custom window, an endpoint and a tag from the address; the last hour by minute, 30 days by day', async () => {
    const hour = (back: number): string => new Date(Math.floor(Date.now() / 3_600_000 - back) * 3_600_000).toISOString();
    const { page, asked } = await open(llmtap, `#/dashboard?window=custom&from=${hour(50)}&to=${hour(10)}`);
    await loadedView(page);
    expect(await page.locator('#custom-window').isVisible()).toBe(true);
    expect(await page.inputValue('select[name="window"]')).toBe('custom');
    const want = await stats(llmtap, `from=${hour(50)}&to=${hour(10)}&bucket=hour`);
    expect(want.total.requests).toBeGreaterThan(35); // the imported history, about one an hour
    await expectTiles(page, want.total);
    const show = async (query: string): Promise<void> => {
      await page.evaluate((hash) => (location.hash = hash), `#/dashboard?${query}`);
      await page.waitForFunction((q) => location.hash.endsWith(q) && document.querySelector('main[data-loaded="true"]'), query);
    };
    const since = new Date(Date.now() - 24 * 3_600_000).toISOString();
    await show('endpoint=embeddings');
    expect(await page.inputValue('select[name="endpoint"]')).toBe('embeddings');
    await expectTiles(page, (await stats(llmtap, `from=${since}&bucket=hour&endpoint=embeddings`)).total);
    expect(Number(await tileOf(page)('Requests'))).toBe(2);
    await show('tag=nightly');
    expect(await page.inputValue('input[name="tag"]')).toBe('nightly');
    await expectTiles(page, (await stats(llmtap, `from=${since}&bucket=hour&tag=nightly`)).total);
    expect(Number(await tileOf(page)('Requests'))).toBe(3);
    // The other windows: the tiles equal the answer to the page's own request (asked again: the page
    // counted back from its own "now"), which covers the window by the bucket its charts use.
    for (const [window, hours, bucket] of [
      ['1h', 1, 'minute'],
      ['30d', 720, 'day'],
    ] as const) {
      await show(`window=${window}`);
      const series = new URL(asked.filter((url) => url.includes('/api/stats?') && !url.includes('by=')).at(-1)!);
      expect(series.searchParams.get('bucket')).toBe(bucket);
      expect(Math.abs(Date.parse(series.searchParams.get('from')!) - (Date.now() - hours * 3_600_000))).toBeLessThan(60_000);
      await expectTiles(page, ((await (await fetch(series)).json()) as { total: Totals }).total);
      await page.waitForFunction(() => document.querySelectorAll('.plot[data-drawn] canvas').length === 4);
    }
    await page.close();
  });

  it('lists requests with their columns; j/k and Enter open the detail beside them, Escape closes it; filters live in the address', async () => {
    const { page } = await open(llmtap, '#/requests');
    await loadedView(page);
    expect(await page.locator('table.spans thead th').allInnerTexts()).toEqual([
      'Time',
      'Endpoint',
      'Model',
      'Status',
      'Duration',
      'TTFT',
      'Tokens',
      'Cost',
      'Input',
      'Output',
    ]);
    const row = (id: string) => page.locator(`tr[data-span-id="${id}"]`);
    expect(await row(ids.stream!).locator('td.endpoint').innerText()).toBe('chat · stream');
    expect(await row(ids.error!).locator('td.status').innerText()).toBe('429');
    expect(await row(ids.error!).locator('td.output').innerText()).toContain('Rate limit reached');
    expect(await row(ids.embeddings!).locator('td.output').innerText()).toBe('2 vectors of 8 dimensions');
    expect(await row(ids.chat!).locator('td.cost').innerText()).toMatch(/^\$0\.0/);
    // One time format: today's calls by the clock, older ones with their date; the ISO time on hover.
    const item = (await (await fetch(`${llmtap.url}/api/spans?limit=50`)).json()) as { data: { span_id: string; start_time: string }[] };
    const time = (id: string) => row(id).locator('td.time time');
    expect(await time(ids.chat!).innerText()).toMatch(/^\d\d:\d\d:\d\d$/);
    const iso = (t: string): string => new Date(t).toISOString();
    expect(await time(ids.chat!).getAttribute('title')).toBe(iso(item.data.find((i) => i.span_id === ids.chat)!.start_time));
    const oldest = item.data.at(-1)!; // more than a day ago
    expect(await time(oldest.span_id).innerText()).toMatch(/^[A-Z][a-z]{2} \d{1,2}, \d\d:\d\d:\d\d$/);
    expect(await time(oldest.span_id).getAttribute('title')).toBe(iso(oldest.start_time));
    // j and k move the selection (and the focus), Enter opens it.
    const selection = () => page.locator('tr[aria-selected="true"]').getAttribute('data-span-id');
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    await page.keyboard.press('k');
    expect(await selection()).toBe(item.data[1]!.span_id);
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.spanId)).toBe(item.data[1]!.span_id);
    await page.keyboard.press('Enter');
    await page.waitForSelector(`#detail[data-span-id="${item.data[1]!.span_id}"]`);
    const selected = await selection();
    expect(page.url()).toContain(`span=${selected}`);
    // The list keeps its columns: the model column is in view, left of the detail, and the last one scrolls
    // into view there too (not under the pane); no time is cut short.
    const paneX = (await page.locator('#detail').boundingBox())!.x;
    const model = (await page.locator('table.spans thead th.model').boundingBox())!;
    expect(model.x + model.width).toBeLessThan(paneX);
    await page.locator('.table-wrap').evaluate((wrap) => (wrap.scrollLeft = wrap.scrollWidth));
    const output = (await page.locator('table.spans thead th.output').boundingBox())!;
    expect(output.x + output.width).toBeLessThanOrEqual(paneX);
    expect(
      await page.locator('td.time time').evaluateAll((els) => els.filter((el) => el.parentElement!.scrollWidth > el.parentElement!.clientWidth).length),
    ).toBe(0);
    await page.locator('.table-wrap').evaluate((wrap) => (wrap.scrollLeft = 0));
    // Every filter and the header stay beside the pane, not under it.
    for (const el of await page.locator('#filters > *:visible, header > *').all()) {
      const box = (await el.boundingBox())!;
      expect(box.x + box.width, await el.evaluate((e) => e.outerHTML.slice(0, 60))).toBeLessThanOrEqual(paneX);
    }
    await page.keyboard.press('j');
    await page.waitForFunction((id) => document.querySelector('#detail')!.getAttribute('data-span-id') !== id, selected);
    if (SCREENSHOTS) await page.screenshot({ path: docs('viewer-requests.png') });
    await page.keyboard.press('Escape');
    await page.waitForSelector('#detail', { state: 'hidden' });
    // A filter goes to the address, and the address brings it back.
    await page.fill('input[name="q"]', 'refund');
    await page.waitForFunction(() => location.hash.includes('q=refund') && document.querySelectorAll('table.spans tbody tr').length === 1);
    await page.reload();
    await page.waitForFunction(() => document.querySelectorAll('table.spans tbody tr').length === 1);
    expect(await page.inputValue('input[name="q"]')).toBe('refund');
    await page.close();
    // A link with filters opens the list they give, in a new tab.
    const linked = (await open(llmtap, '#/requests?endpoint=embeddings&status=OK')).page;
    await loadedView(linked);
    expect(await linked.inputValue('select[name="endpoint"]')).toBe('embeddings');
    expect(await linked.inputValue('select[name="status"]')).toBe('OK');
    expect((await linked.locator('table.spans tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-span-id')))).sort()).toEqual(
      [ids.embeddings, ids.traceB].sort(),
    );
    await linked.close();
  });

  it('shows each kind of span in detail', async () => {
    const { page } = await open(llmtap, '#/requests');
    const detail = page.locator('#detail');
    const show = async (id: string): Promise<string> => {
      await page.evaluate((span) => (location.hash = `#/requests?span=${span}`), id);
      await page.waitForSelector(`#detail[data-span-id="${id}"]`);
      return detail.innerText();
    };
    let text = await show(ids.chat!);
    expect(text).toMatch(/system\s+You are a concise assistant\./i);
    expect(text).toMatch(/Session\s+checkout-42/i);
    expect(text).toMatch(/Tags\s+nightly/i);
    expect(text).toMatch(/team\s+payments/i);
    expect(text).toMatch(/Token counts\s+from the API/i);
    expect(text).toMatch(/Cost\s+\$0\.0/i);
    expect(text).toMatch(/User\s+ada/i);
    expect(text).toMatch(/Project\s+default/i);
    expect(text).toMatch(/HTTP status\s+200/i);
    expect(text).toMatch(/Model\s+gpt-4o-mini-2024-07-18/i);
    if (SCREENSHOTS) await page.screenshot({ path: docs('viewer-detail.png') });
    text = await show(ids.stream!);
    expect(text).toMatch(/Stream\s+yes, first token after [\d.]+ ms/i);
    await show(ids.tool!);
    expect(await detail.locator('.tool-call pre').innerText()).toBe('{\n  "location": "Paris, France",\n  "unit": "celsius",\n  "n": 0\n}');
    expect(await detail.locator('img.thumb').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(160);
    await show(ids.error!);
    expect(await detail.locator('.error-box').innerText()).toBe('RateLimitError (HTTP 429): Rate limit reached for gpt-4o-mini.');
    // A stream that failed midway: the error, and what had streamed before it.
    text = await show(ids.partial!);
    expect(await detail.locator('.error-box').innerText()).toBe('APIError (HTTP 200): The model overloaded mid-stream.');
    expect(text).toMatch(/assistant \(output\)\s+Héllo/i);
    text = await show(ids.responses!);
    expect(text).toMatch(/system\s+Think first\./i); // input items
    expect(text).toMatch(/user\s+Say hello\./i);
    expect(text).toMatch(/Reasoning summary: The user greets me; I greet back\./); // output items
    expect(await detail.locator('.message.assistant .tool-call .tool-name').innerText()).toMatch(/^lookup/);
    expect(text).toMatch(/Reasoning tokens\s+2/i);
    text = await show(ids.embeddings!);
    expect(text).toMatch(/Model\s+text-embedding-3-small/i);
    expect(text).toMatch(/Embeddings \(2\)/i);
    expect(await detail.locator('ol.embeddings li .text').allInnerTexts()).toEqual(['the first text to embed', 'a second one']);
    expect(text).toMatch(/vector of 8 dimensions: \[/);
    await detail.locator('summary', { hasText: 'Raw span JSON' }).click();
    expect(await detail.locator('details.raw pre').innerText()).toContain('"vector": "[8 numbers]"');
    text = await show(ids.completions!);
    expect(text).toMatch(/prompt 0\s+Once upon a time/i);
    expect(text).toMatch(/choice 0 \(output\)\s+Héllo wörld/i);
    text = await show(ids.light!);
    expect(text).toMatch(/Method\s+GET/i);
    expect(text).toMatch(/Path\s+\/v1\/models/i);
    await page.close();
  });

  it('lists sessions, and shows one as a conversation with its totals', async () => {
    const { page } = await open(llmtap, '#/sessions');
    await loadedView(page);
    expect(await page.locator('table.sessions tbody tr').first().getAttribute('data-session')).toBe('checkout-42');
    // Its row: first and last call, calls, errors, tokens and cost, as /api/stats has them.
    const since = new Date(Date.now() - 24 * 3_600_000).toISOString();
    const [g] = (await stats(llmtap, `from=${since}&session_id=checkout-42&by=session`)).groups;
    const cells = await page.locator('table.sessions tbody tr').first().locator('td').allInnerTexts();
    expect(cells.slice(2, 5)).toEqual([
      String(g!.requests),
      `${g!.errors} (${Math.round((100 * g!.errors) / g!.requests)}%)`,
      String(g!.tokens.prompt + g!.tokens.completion),
    ]);
    expect(Math.abs(Number(cells[5]!.replace('$', '')) / g!.cost_usd - 1)).toBeLessThan(0.05); // two significant digits
    const times = page.locator('table.sessions tbody tr').first().locator('td time');
    expect(await times.evaluateAll((els) => els.map((t) => t.getAttribute('title')))).toEqual([g!.first_time, g!.last_time]);
    await page.keyboard.press('j');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => location.hash.startsWith('#/sessions/checkout-42'));
    await page.waitForFunction(() => document.querySelectorAll('.call .message, .call .error').length >= 6);
    const calls = page.locator('.call');
    expect(await calls.count()).toBe(4);
    expect(await calls.nth(0).innerText()).toContain('Summarise our refund policy');
    expect(await calls.nth(1).innerText()).toContain('Write a haiku about proxies.');
    expect(await calls.nth(1).innerText()).not.toContain('refund'); // only what the call added
    expect(await page.locator('.tile[data-tile="Calls"] .tile-value').innerText()).toBe('4');
    if (SCREENSHOTS) await page.screenshot({ path: docs('viewer-session.png'), fullPage: true });
    await page.close();
  });

  it('draws a trace as a waterfall', async () => {
    const { page } = await open(llmtap, `#/traces/${TRACE}`);
    await loadedView(page);
    expect(await page.locator('.wf-row').count()).toBe(2);
    expect(await page.locator('.wf-row').first().innerText()).toContain('OpenAI Chat Completions');
    // Each bar where its span starts on the trace's time line, with its offset and duration.
    const times = await page.locator('.wf-time').allInnerTexts();
    expect(times[0]).toMatch(/^\+0\.0 ms · [\d.]+ m?s$/);
    expect(times[1]).toMatch(/^\+[\d.]+ m?s · [\d.]+ m?s$/);
    const [first, second] = await page.locator('.wf-bar').evaluateAll((bars) => bars.map((bar) => parseFloat((bar as HTMLElement).style.left)));
    expect(first).toBe(0);
    expect(second).toBeGreaterThan(first!);
    if (SCREENSHOTS) await page.screenshot({ path: docs('viewer-trace.png') });
    await page.locator('.wf-row a').nth(1).click();
    await page.waitForSelector(`#detail[data-span-id="${ids.traceB}"]`);
    await page.close();
  });

  it('names every control and region, marks the current view, and skips to the content', async () => {
    const { page } = await open(llmtap, `#/requests?span=${ids.tool}`);
    await page.waitForSelector(`#detail[data-span-id="${ids.tool}"]`);
    const unnamed = await page.locator('input, select, button, a[href], table, nav, aside, [role]').evaluateAll((els) =>
      els
        .filter((el) => {
          if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return false;
          if (el instanceof HTMLInputElement || el instanceof HTMLSelectElement) return !el.labels?.length; // its options are no name
          return !(el.textContent!.trim() || el.querySelector('img[alt]:not([alt=""])'));
        })
        .map((el) => el.outerHTML.slice(0, 80)),
    );
    expect(unnamed).toEqual([]);
    expect(await page.locator('nav a[aria-current="page"]').innerText()).toBe('Requests');
    expect(await page.locator('img').evaluateAll((imgs) => imgs.filter((img) => !img.hasAttribute('alt')).length)).toBe(0);
    await page.locator('#skip').focus();
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement!.id)).toBe('main');
    await page.close();
  });

  it('stays readable in a narrow window', async () => {
    const { page } = await open(llmtap, '#/requests', 400);
    await loadedView(page);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(400);
    expect(await page.locator('table.spans th.ttft').isVisible()).toBe(false);
    // The detail takes the width; the dashboard's tiles and charts stack.
    await page.evaluate((span) => (location.hash = `#/requests?span=${span}`), ids.chat!);
    await page.waitForSelector(`#detail[data-span-id="${ids.chat}"]`);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(400);
    await page.evaluate(() => (location.hash = '#/dashboard'));
    await page.waitForFunction(() => document.querySelectorAll('.plot[data-drawn] canvas').length === 4);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(400);
    const charts = await page.locator('figure.chart').evaluateAll((els) => els.map((el) => el.getBoundingClientRect().width));
    expect(charts.every((w) => w > 300 && w <= 400)).toBe(true);
    await page.close();
  });

  it('shows what callers sent as text, never as markup, in every view', async () => {
    // Last: this call changes the most recent session and the totals the other tests read.
    const markup = '<img src="x" class="injected"><b class="injected">bold</b>';
    const r = await client(llmtap, {
      'x-llmtap-session-id': `s${markup}`,
      'x-llmtap-user-id': `u${markup}`,
      'x-llmtap-project': `p${markup}`,
      'x-llmtap-tags': `t${markup.replaceAll(',', '')}`,
      'x-llmtap-metadata': JSON.stringify({ [`k${markup}`]: `v${markup}` }),
    })
      .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `Hi ${markup}` }] })
      .withResponse();
    const id = r.response.headers.get('x-llmtap-span-id')!;
    await waitForSpan(llmtap.dbPath, id);
    const injected = (page: Page): Promise<number> => page.locator('.injected').count();
    const { page } = await open(llmtap, `#/requests?span=${id}`);
    await page.waitForSelector(`#detail[data-span-id="${id}"]`);
    expect(await page.locator(`tr[data-span-id="${id}"] td.text`).first().innerText()).toBe(`Hi ${markup}`);
    const detail = (await page.locator('#detail').textContent())!; // as written (labels are shown in capitals)
    for (const shown of [`Hi ${markup}`, `s${markup}`, `u${markup}`, `p${markup}`, `k${markup}`, `v${markup}`]) expect(detail).toContain(shown);
    expect(await injected(page)).toBe(0);
    await page.evaluate(() => (location.hash = '#/sessions'));
    await page.waitForSelector('table.sessions tbody tr');
    expect(await page.locator('table.sessions tbody tr').first().getAttribute('data-session')).toBe(`s${markup}`);
    await page.keyboard.press('j');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.call .message');
    expect(await page.locator('h1').innerText()).toBe(`Session s${markup}`);
    expect(await page.locator('.call .message').first().innerText()).toContain(`Hi ${markup}`);
    await page.evaluate(() => (location.hash = '#/dashboard'));
    await page.waitForSelector('table[data-top="user"] tbody tr');
    expect(await page.locator('table[data-top="user"] tbody th').allInnerTexts()).toContain(`u${markup}`);
    expect(await injected(page)).toBe(0);
    await page.close();
  });
});

describe('viewer with LLMTAP_ADMIN_TOKEN', () => {
  it('asks for the token, refuses a wrong one, then shows the spans and keeps the token for the tab', async () => {
    const token = 'viewer-secret-123';
    const llmtap = await startLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_ADMIN_TOKEN: token, LLMTAP_FLUSH_INTERVAL_MS: '20' });
    try {
      const r = await client(llmtap)
        .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Behind a token' }] })
        .withResponse();
      await waitForSpan(llmtap.dbPath, r.response.headers.get('x-llmtap-span-id')!);
      const { page } = await open(llmtap, '#/requests');
      const dialog = page.locator('#token-dialog');
      await dialog.waitFor({ state: 'visible' });
      expect(await page.locator('#token-error').isVisible()).toBe(false);
      await dialog.locator('input').fill('wrong-token');
      await dialog.locator('button').click();
      await page.locator('#token-error').waitFor({ state: 'visible' });
      await dialog.locator('input').fill(token);
      await dialog.locator('button').click();
      await page.locator('tr', { hasText: 'Behind a token' }).waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem('llmtap-admin-token'))).toBe(token);
      // A reload in the same tab does not ask again; another tab does.
      await page.reload();
      await page.locator('tr', { hasText: 'Behind a token' }).waitFor();
      expect(await dialog.isVisible()).toBe(false);
      const other = (await open(llmtap, '#/requests')).page;
      await other.locator('#token-dialog').waitFor({ state: 'visible' });
      await other.close();
      await page.close();
    } finally {
      await llmtap.shutdown();
    }
  });
});
