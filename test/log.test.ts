// Log lines: JSON for whatever reads a pipe or a file, pretty for a person at a terminal, or as
// LLMTAP_LOG_FORMAT says — the storage thread's lines (the request lines) included.
import { spawn } from 'node:child_process';
import { once } from 'node:events';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { logFormat } from '../src/log.js';
import { eventually } from './support/eventually.js';
import { type FakeOpenAI, startFakeOpenAI } from './support/fake-openai.js';
import { chatBody, rawRequest } from './support/http.js';
import { CLI, spawnLlmtap, tempDbPath } from './support/llmtap.js';

let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
afterAll(() => fake.close());

const chat = { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody() };

describe('log format', () => {
  it('is pretty at a terminal and JSON otherwise, unless LLMTAP_LOG_FORMAT says', () => {
    expect(logFormat(undefined, true)).toBe('pretty');
    expect(logFormat(undefined, false)).toBe('json');
    expect(logFormat('json', true)).toBe('json');
    expect(logFormat('pretty', false)).toBe('pretty');
  });

  it('JSON lines when standard output is a pipe', async () => {
    const llmtap = await spawnLlmtap({ LLMTAP_UPSTREAM_URL: fake.url });
    await rawRequest(`${llmtap.baseURL}/chat/completions`, chat);
    await eventually(() => llmtap.output().includes('"msg":"request"'), 'the request log line');
    llmtap.proc.kill('SIGTERM');
    await llmtap.exited;
    const lines = llmtap.output().trimEnd().split('\n');
    for (const line of lines) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
  });

  it('LLMTAP_LOG_FORMAT=pretty: readable lines, the request lines of the storage thread too', async () => {
    const proc = spawn(process.execPath, [CLI], {
      env: { PATH: process.env.PATH, LLMTAP_PORT: '0', LLMTAP_DB_PATH: tempDbPath(), LLMTAP_UPSTREAM_URL: fake.url, LLMTAP_LOG_FORMAT: 'pretty' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const url = await eventually(() => /INFO: llmtap listening \{"url":"(http:[^"]+)"/.exec(out)?.[1], 'the listening line', 10_000);
    // Several at once: the storage thread hands over the lines of a tick together.
    await Promise.all([1, 2, 3].map(() => rawRequest(`${url}/v1/chat/completions`, chat)));
    const requests = await eventually(() => {
      const found = out.split('\n').filter((l) => l.includes('INFO: request'));
      return found.length === 3 && found;
    }, 'the request lines');
    for (const request of requests) {
      expect(request).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: request \{"method":"POST","path":"\/v1\/chat\/completions","status":200,/);
    }
    proc.kill('SIGTERM');
    await once(proc, 'exit');
    expect(out).not.toContain('{"level"'); // no JSON line among them
    expect(out).not.toContain('\u001b['); // no colours: standard output is not a terminal
  });
});
