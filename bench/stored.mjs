// What read-side.mjs and stats.mjs share: a database of realistic chat spans, filled once through the span
// inserter (so its spend totals are kept as the server keeps them) and reused while it holds enough, a
// server over it, and a timed GET.
import { spawn } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

import { openDatabase } from '../dist/store/db.js';
import { spanInserter } from '../dist/store/spans.js';

const MODELS = ['gpt-4o-mini-2024-07-18', 'gpt-4o-2024-08-06', 'gpt-4.1-nano-2025-04-14'];
const ENDPOINTS = {
  chat: { name: 'OpenAI Chat Completions', kind: 'LLM' },
  8: { name: 'OpenAI Responses', kind: 'LLM' },
  9: { name: 'OpenAI Embeddings', kind: 'EMBEDDING' },
};
const TAGS = ['eval', 'prod', 'beta'];
const WORDS =
  'the weather report for paris shows rain later today while the tides along the atlantic coast stay calm and the refund policy covers thirty days'.split(' ');

export const hex = (n, len) => n.toString(16).padStart(len, '0');
const sentence = (i, words) => Array.from({ length: words }, (_, k) => WORDS[(i * 7 + k * 13) % WORDS.length]).join(' ');

/**
 * The i-th of `count` spans (one every 0.6 s, the last one now): 1,000 sessions and 97 users take turns; every
 * tenth span is an embeddings call and the one before it a Responses call, half the chat calls are streams
 * (with a time to first token), and one span in ten carries a tag.
 */
function span(i, count, nowNs) {
  const start = nowNs - BigInt(count - i) * 600_000_000n;
  const endpoint = ENDPOINTS[i % 10] ?? ENDPOINTS.chat;
  const stream = endpoint.name === ENDPOINTS.chat.name && i % 2 === 0;
  const question = `${sentence(i, 25)} (request ${i})`;
  const answer = sentence(i + 1, 60);
  const model = MODELS[i % MODELS.length];
  const error = i % 20 === 0;
  const request_ = {
    model: model.slice(0, -11),
    messages: [
      { role: 'system', content: 'You are a concise assistant.' },
      { role: 'user', content: question },
    ],
    temperature: 0.2,
  };
  return {
    traceId: hex(i + 1, 32),
    spanId: hex(i + 1, 16),
    name: endpoint.name,
    kind: endpoint.kind,
    startNs: start,
    endNs: start + BigInt(200 + (i % 900)) * 1_000_000n,
    statusCode: error ? 'ERROR' : 'OK',
    statusMessage: error ? 'RateLimitError: Rate limit reached' : '',
    attributes: {
      'openinference.span.kind': endpoint.kind,
      'llm.system': 'openai',
      'llm.provider': 'openai',
      'llm.model_name': model,
      'input.value': JSON.stringify(request_),
      'input.mime_type': 'application/json',
      'llm.invocation_parameters': JSON.stringify({ model: request_.model, temperature: 0.2 }),
      'llm.input_messages.0.message.role': 'system',
      'llm.input_messages.0.message.content': 'You are a concise assistant.',
      'llm.input_messages.1.message.role': 'user',
      'llm.input_messages.1.message.content': question,
      ...(error
        ? {}
        : {
            'output.value': JSON.stringify({
              id: `chatcmpl-${i}`,
              model,
              choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }],
            }),
            'output.mime_type': 'application/json',
            'llm.output_messages.0.message.role': 'assistant',
            'llm.output_messages.0.message.content': answer,
            'llm.finish_reason': 'stop',
            'llm.token_count.prompt': 40 + (i % 50),
            'llm.token_count.completion': 80 + (i % 120),
            'llm.token_count.total': 120 + (i % 50) + (i % 120),
            'llm.token_count.prompt_details.cache_read': i % 3 === 0 ? 32 : 0,
            'llmtap.token_count.source': 'upstream',
            'llm.cost.prompt': (40 + (i % 50)) * 0.15e-6,
            'llm.cost.completion': (80 + (i % 120)) * 0.6e-6,
            'llm.cost.total': (40 + (i % 50)) * 0.15e-6 + (80 + (i % 120)) * 0.6e-6,
          }),
      ...(stream && { 'llmtap.time_to_first_token_ms': 150 + (i % 400) }),
      ...(i % 10 === 3 && { 'tag.tags': [TAGS[((i / 10) % 3) | 0]] }),
      'session.id': `session-${i % 1000}`,
      'user.id': `user-${i % 97}`,
      'http.response.status_code': error ? 429 : 200,
    },
    events: stream ? [{ name: 'First Token Stream Event', timeNs: start + BigInt(150 + (i % 400)) * 1_000_000n, attributes: {} }] : [],
    project: 'default',
  };
}

/** Fills `path` up to `count` spans, once: a file that holds them already is used as it is. */
export function fill(path, count) {
  mkdirSync(dirname(path), { recursive: true });
  const db = openDatabase(path);
  const have = db.prepare('SELECT count(*) AS n FROM spans').get().n;
  if (have >= count) {
    db.close();
    return console.log(`database: ${path} already holds ${have} spans`);
  }
  const insert = spanInserter(db, { outbox: false });
  const nowNs = BigInt(Date.now()) * 1_000_000n;
  const t0 = performance.now();
  for (let i = have; i < count; i += 5000) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + 5000); j++) batch.push(span(j, count, nowNs));
    insert(batch);
    if ((i / 5000) % 20 === 0) process.stderr.write(`  filled ${i + batch.length}\r`);
  }
  db.close();
  console.log(`database: ${count - have} spans written in ${((performance.now() - t0) / 1000).toFixed(0)} s (${(statSync(path).size / 1e9).toFixed(2)} GB)`);
}

/** A GET, with its status, size and time. */
export function get(url) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    request(url, (res) => {
      let bytes = 0;
      res.on('data', (c) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode, bytes, ms: performance.now() - t0 }));
    })
      .on('error', reject)
      .end();
  });
}

/** The built llmtap serving `db` (retention off); resolves with its URL once it listens. */
export async function server(db) {
  const proc = spawn(process.execPath, [fileURLToPath(new URL('../dist/cli.js', import.meta.url))], {
    env: { ...process.env, LLMTAP_DB_PATH: db, LLMTAP_PORT: '0', LLMTAP_RETENTION_DAYS: '0', LLMTAP_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise((resolve) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /"url":"(http:[^"]+)".*"msg":"llmtap listening"/.exec(out);
      if (m) resolve(m[1]);
    });
  });
  return { url, proc };
}
