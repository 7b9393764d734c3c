// The viewer in real headless Chromium (a system one, else @sparticuz/chromium's; driven by playwright-core): spans made
// through the proxy are listed, a new one appears live, the detail view shows the conversation and
// the tool call, and the token prompt works. UPDATE_SCREENSHOTS=1 also saves docs/viewer-*.png.
import OpenAI from 'openai';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { CHROMIUM_FLAGS, findChromium } from '../support/chromium.js';
import { type FakeOpenAI, startFakeOpenAI } from '../support/fake-openai.js';
import { type InProcess, startLlmtap } from '../support/llmtap.js';
import { waitForSpan } from '../support/spans.js';

const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === '1';
const docs = (name: string): string => new URL(`../../docs/${name}`, import.meta.url).pathname;

// A small picture for the image thumbnail.
const IMAGE = `data:image/svg+xml;base64,${Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="160" height="100"><defs><linearGradient id="g"><stop offset="0" stop-color="#4dabf7"/><stop offset="1" stop-color="#f783ac"/></linearGradient></defs><rect width="160" height="100" fill="url(#g)"/><circle cx="120" cy="30" r="14" fill="#ffe066"/><path d="M0 100 L50 45 L90 80 L120 60 L160 100 Z" fill="#2b8a3e"/></svg>',
).toString('base64')}`;
const WEATHER = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: { location: { type: 'string' }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
      required: ['location'],
    },
  },
};

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

/** A few realistic exchanges through the proxy; returns the span id of the tool call. */
async function traffic(llmtap: InProcess): Promise<string> {
  const openai = client(llmtap, { 'x-llmtap-session-id': 'checkout-42', 'x-llmtap-user-id': 'ada' });
  await openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [
      { role: 'system', content: 'You are a concise assistant.' },
      { role: 'user', content: 'Summarise our refund policy in two sentences.' },
    ],
  });
  const stream = await openai.chat.completions.create({
    model: 'gpt-4o',
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'Write a haiku about proxies.' }],
  });
  for await (const _ of stream);
  await openai.chat.completions.create({
    model: 'gpt-4o',
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this picture?' },
          { type: 'image_url', image_url: { url: IMAGE } },
        ],
      },
    ],
  });
  await client(llmtap, { 'x-fake-behavior': 'error-429' })
    .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Translate "good morning" into French.' }] })
    .catch(() => undefined);
  const tool = await openai.chat.completions
    .create({
      model: 'gpt-4o-mini',
      tools: [WEATHER],
      messages: [
        { role: 'system', content: 'Use tools when they help.' },
        { role: 'user', content: 'What is the weather in Paris right now?' },
      ],
    })
    .withResponse();
  const id = tool.response.headers.get('x-llmtap-span-id')!;
  await waitForSpan(llmtap.dbPath, id);
  return id;
}

async function open(llmtap: InProcess): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  page.on('pageerror', (err) => {
    throw err;
  });
  await page.goto(`${llmtap.url}/`); // the root leads to the viewer
  return page;
}

describe('viewer', () => {
  let llmtap: InProcess;
  let toolSpan: string;
  beforeAll(async () => {
    llmtap = await startLlmtap({ LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_FLUSH_INTERVAL_MS: '20' });
    toolSpan = await traffic(llmtap);
  });
  afterAll(() => llmtap.shutdown());

  it('lists the spans made through the proxy; a new span appears without a reload', async () => {
    const page = await open(llmtap);
    await page.waitForSelector('#rows tr');
    const rows = page.locator('#rows tr');
    expect(await rows.count()).toBe(5);
    const text = await page.locator('#rows').innerText();
    expect(text).toContain('What is the weather in Paris right now?');
    expect(text).toContain('Summarise our refund policy');
    expect(text).toContain('gpt-4o-mini-2024-07-18');
    expect(await page.locator('#rows tr.error').count()).toBe(1);
    expect(await page.locator('select[name="model"] option').allInnerTexts()).toEqual(expect.arrayContaining(['gpt-4o-2024-07-18', 'gpt-4o-mini-2024-07-18']));
    if (SCREENSHOTS) await page.screenshot({ path: docs('viewer-list.png') });

    await client(llmtap).chat.completions.create({
      model: 'gpt-4.1-nano',
      messages: [{ role: 'user', content: 'A brand new question, asked while the page is open' }],
    });
    await page.locator('#rows tr', { hasText: 'A brand new question' }).waitFor({ timeout: 10_000 });
    expect(await rows.count()).toBe(6);
    expect(await rows.first().innerText()).toContain('A brand new question'); // newest first

    // Filters: text search and status narrow the list.
    const only = (text: string) =>
      page.waitForFunction((t) => document.querySelectorAll('#rows tr').length === 1 && document.querySelector('#rows tr')!.textContent!.includes(t), text);
    await page.fill('input[name="q"]', 'refund');
    await only('Summarise our refund policy');
    await page.fill('input[name="q"]', '');
    await page.selectOption('select[name="status"]', 'ERROR');
    await only('Translate');
    await page.close();
  });

  it('the detail view shows the conversation, the tool call with pretty arguments, tokens, params and the trace', async () => {
    const page = await open(llmtap);
    await page.locator('#rows tr', { hasText: 'weather in Paris' }).click();
    await page.waitForSelector('#detail .tool-call');
    expect(page.url()).toContain(`#span/${toolSpan}`);
    const detail = page.locator('#detail');
    const messages = await detail.locator('.message').allInnerTexts();
    expect(messages[0]).toMatch(/system[\s\S]*Use tools when they help\./i);
    expect(messages[1]).toMatch(/user[\s\S]*What is the weather in Paris right now\?/i);
    expect(messages[2]).toMatch(/assistant \(output\)[\s\S]*get_weather/i);
    expect(await detail.locator('.tool-call pre').innerText()).toBe('{\n  "location": "Paris, France",\n  "unit": "celsius",\n  "n": 0\n}');
    const text = await detail.innerText();
    expect(text).toMatch(/Tokens\s+\d+ prompt \+ 12 completion = \d+/i);
    expect(text).toContain('"model": "gpt-4o-mini"'); // invocation parameters, pretty-printed
    expect(text).toContain('checkout-42');
    expect(await detail.locator('.trace li').count()).toBe(1);
    await detail.locator('summary', { hasText: 'Raw span JSON' }).click();
    expect(await detail.locator('details.raw pre').innerText()).toContain(`"span_id": "${toolSpan}"`);
    if (SCREENSHOTS) {
      await detail.locator('details.raw').evaluate((d) => d.removeAttribute('open'));
      await detail.evaluate((d) => d.scrollTo(0, 0));
      await page.screenshot({ path: docs('viewer-detail.png') });
    }

    // The image span: its picture as a thumbnail. The error span: its message.
    await page.locator('#rows tr', { hasText: 'What is in this picture?' }).click();
    await page.waitForSelector('#detail img.thumb');
    expect(await page.locator('#detail img.thumb').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(160);
    await page.locator('#rows tr', { hasText: 'Translate' }).click();
    await page.waitForSelector('#detail .error-box');
    expect(await page.locator('#detail .error-box').innerText()).toContain('RateLimitError: Rate limit reached for gpt-4o-mini.');
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
      const page = await open(llmtap);
      const dialog = page.locator('#token-dialog');
      await dialog.waitFor({ state: 'visible' });
      expect(await page.locator('#token-error').isVisible()).toBe(false);
      await dialog.locator('input').fill('wrong-token');
      await dialog.locator('button').click();
      await page.locator('#token-error').waitFor({ state: 'visible' });
      await dialog.locator('input').fill(token);
      await dialog.locator('button').click();
      await page.locator('#rows tr', { hasText: 'Behind a token' }).waitFor();
      expect(await page.evaluate(() => sessionStorage.getItem('llmtap-admin-token'))).toBe(token);
      // A reload in the same tab does not ask again.
      await page.reload();
      await page.locator('#rows tr', { hasText: 'Behind a token' }).waitFor();
      expect(await dialog.isVisible()).toBe(false);
      await page.close();
    } finally {
      await llmtap.shutdown();
    }
  });
});
