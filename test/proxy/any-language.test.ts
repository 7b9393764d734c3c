// Any language, same spans: `curl -N` and a Python client on the standard library alone
// (examples/chat_stream.py) go through llmtap, and each exchange is recorded as a complete span.
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { beforeAll, describe, expect, it } from 'vitest';

import type { Span } from '../../src/record/span.js';
import { ROOT } from '../support/deploy-files.js';
import { REPLY } from '../support/fake-openai.js';
import { chatBody } from '../support/http.js';
import { fakeAndLlmtap } from '../support/llmtap.js';
import { waitForSpan } from '../support/spans.js';

const run = promisify(execFile);
const KEY = 'sk-any-language-test-key';

/** These tests need the real programs; a machine without one fails here, saying what to install. */
function requireProgram(program: string, debianPackage: string): void {
  const probe = spawnSync(program, ['--version']);
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `${program} is needed by this test and is not on PATH (${probe.error?.message ?? `exit ${probe.status}`}); install it: apt-get install ${debianPackage}`,
    );
  }
}

beforeAll(() => {
  requireProgram('curl', 'curl');
  requireProgram('python3', 'python3');
});
const servers = fakeAndLlmtap({ LLMTAP_LOG_LEVEL: 'silent', LLMTAP_FLUSH_INTERVAL_MS: '10' });

/** The text a client assembles from the SSE `data:` lines it received. */
const assembled = (sse: string): string =>
  sse
    .split('\n')
    .filter((l) => l.startsWith('data: {'))
    .map((l) => (JSON.parse(l.slice(6)) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '')
    .join('');

function expectComplete(span: Span): void {
  expect(span.name).toBe('OpenAI Chat Completions');
  expect(span.statusCode).toBe('OK');
  expect(span.endNs).toBeGreaterThan(span.startNs);
  expect(span.attributes['llm.input_messages.0.message.content']).toBeTypeOf('string');
  expect(span.attributes['output.value']).toBe(REPLY);
  expect(span.attributes['llm.output_messages.0.message.content']).toBe(REPLY);
  expect(span.attributes['llm.finish_reason']).toBe('stop');
  expect(span.events.map((e) => e.name)).toContain('First Token Stream Event');
  expect(JSON.stringify(span, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).not.toContain(KEY);
}

describe('any language', () => {
  it('curl -N: a streamed chat completion arrives whole and is recorded as a complete span', async () => {
    const { stdout } = await run(
      'curl',
      [
        '-sS',
        '-N',
        '-i',
        '--max-time',
        '20',
        `${servers.proxy.baseURL}/chat/completions`,
        '-H',
        `Authorization: Bearer ${KEY}`,
        '-H',
        'content-type: application/json',
        '-d',
        chatBody({ stream: true }),
      ],
      { timeout: 30_000 },
    );
    const [head, body] = stdout.split('\r\n\r\n', 2) as [string, string];
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    expect(body.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(assembled(body)).toBe(REPLY);
    const spanId = /^x-llmtap-span-id: (\w+)/im.exec(head)?.[1];
    expect(spanId).toBeDefined();
    expectComplete(await waitForSpan(servers.proxy.dbPath, spanId!));
    expect(servers.fake.requests.at(-1)!.headers['user-agent']).toMatch(/^curl\//);
  });

  it('Python, standard library only (urllib, SSE read line by line): recorded as a complete span with token counts', async () => {
    // -I -S: isolated, and no site-packages at all, so nothing beyond the standard library can be imported.
    const { stdout, stderr } = await run('python3', ['-I', '-S', join(ROOT, 'examples', 'chat_stream.py')], {
      env: { PATH: process.env.PATH, OPENAI_BASE_URL: servers.proxy.baseURL, OPENAI_API_KEY: KEY },
      timeout: 30_000,
    });
    expect(stdout).toBe(`${REPLY}\n`);
    const ids = /llmtap recorded trace (\w+) span (\w+)/.exec(stderr);
    expect(ids, stderr).not.toBeNull();
    const span = await waitForSpan(servers.proxy.dbPath, ids![2]!);
    expectComplete(span);
    expect(span.traceId).toBe(ids![1]);
    expect(span.attributes['llm.token_count.total']).toBeGreaterThan(0); // the script asks for usage on its stream
    expect(servers.fake.requests.at(-1)!.headers['user-agent']).toMatch(/^Python-urllib\//);
    expect(servers.fake.requests.at(-1)!.headers.authorization).toBe(`Bearer ${KEY}`);
  });

  it('the Python client says clearly when llmtap cannot be reached', async () => {
    const failed = await run('python3', ['-I', '-S', join(ROOT, 'examples', 'chat_stream.py')], {
      env: { PATH: process.env.PATH, OPENAI_BASE_URL: 'http://127.0.0.1:9/v1', OPENAI_API_KEY: KEY },
      timeout: 30_000,
    }).catch((err: { code: number; stderr: string }) => err);
    expect(failed).toMatchObject({ code: 1, stderr: expect.stringContaining('cannot reach http://127.0.0.1:9/v1') });
  });
});
