// The benchmark's fake OpenAI upstream (node:http), as cheap as possible so it measures the proxies.
//   POST /v1/chat/completions          a ~700-byte chat.completion (non-streaming)
//   … with "stream":true in the body   SSE: a role chunk, N token chunks, a finish chunk, usage if asked for, [DONE]
// Stream shape comes from request headers: x-bench-tokens (default 50), x-bench-delay-ms between tokens
// (default 0), x-bench-ttfb-ms before the first byte (default 0).
import { createServer, type ServerResponse } from 'node:http';

const port = Number(process.argv[2] ?? 0);
const created = 1_700_000_000;
const completion = Buffer.from(
  JSON.stringify({
    id: 'chatcmpl-bench',
    object: 'chat.completion',
    created,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'Hello! This is a benchmark answer of a typical short length, about thirty tokens long in all.', refusal: null },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: 19,
      completion_tokens: 30,
      total_tokens: 49,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0 },
    },
    system_fingerprint: 'fp_bench',
  }),
);
// Serialized as OpenAI does: `"usage":null` on every chunk and a final usage chunk only when the request
// asked for usage (stream_options.include_usage), `obfuscation` last.
const chunk = (delta: object, usage: boolean, finish: string | null = null): Buffer =>
  Buffer.from(
    `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created, model: 'gpt-4o-mini-2024-07-18', service_tier: 'default', system_fingerprint: 'fp_bench', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...(usage && { usage: null }), obfuscation: 'aB3x' })}\n\n`,
  );
const frames = (usage: boolean) => ({
  role: chunk({ role: 'assistant', content: '', refusal: null }, usage),
  token: chunk({ content: ' token' }, usage),
  finish: chunk({}, usage, 'stop'),
});
const WITH_USAGE = frames(true);
const WITHOUT_USAGE = frames(false);
const USAGE = Buffer.from(
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created, model: 'gpt-4o-mini-2024-07-18', service_tier: 'default', system_fingerprint: 'fp_bench', choices: [], usage: { prompt_tokens: 19, completion_tokens: 50, total_tokens: 69 }, obfuscation: 'Qz' })}\n\n`,
);
const DONE = Buffer.from('data: [DONE]\n\n');

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function stream(res: ServerResponse, usage: boolean, tokens: number, delayMs: number, ttfbMs: number): Promise<void> {
  const f = usage ? WITH_USAGE : WITHOUT_USAGE;
  if (ttfbMs > 0) await sleep(ttfbMs);
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
  res.write(f.role);
  for (let i = 0; i < tokens && !res.destroyed; i++) {
    if (delayMs > 0) await sleep(delayMs);
    res.write(f.token);
  }
  res.write(f.finish);
  if (usage) res.write(USAGE);
  res.end(DONE);
}

createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    res.on('error', () => {});
    const body = Buffer.concat(chunks);
    if (body.includes('"stream":true')) {
      const h = req.headers;
      const usage = body.includes('"include_usage":true');
      void stream(res, usage, Number(h['x-bench-tokens'] ?? 50), Number(h['x-bench-delay-ms'] ?? 0), Number(h['x-bench-ttfb-ms'] ?? 0));
    } else {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': completion.length });
      res.end(completion);
    }
  });
}).listen(port, '127.0.0.1', () => process.send?.('ready'));
