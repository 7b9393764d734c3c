// A small fake OpenAI API on a real socket. Deterministic answers (same request → same bytes), so a
// call made directly and through llmtap can be compared byte for byte. It answers chat completions, the
// Responses API, embeddings and legacy completions, streaming as the real API does, and the same under
// Azure OpenAI's paths (`/openai/deployments/{deployment}/…`, `/openai/responses`), which need an
// `api-key` header and answer with the deployment's model. Started with a `prefix` it serves all that
// below that path only, as OpenRouter serves `/api/v1/…` (any other path: 404). Behaviour switches come in request headers,
// which llmtap forwards unchanged:
//   x-fake-behavior: error-500 | error-429 | stall | stall-body | reset-mid-stream | split-event |
//                    split-utf8 | ping | error-event | gzip | no-stream-options
//   x-fake-delay-ms: pause between SSE events
// Stream chunks are serialized the way OpenAI serializes them (compact JSON, its key order, `"usage":null`
// on every chunk when `stream_options.include_usage` is set — before `choices` in tool-call chunks, after
// it elsewhere — and a trailing `obfuscation` member), so that a stream through llmtap with usage injected
// can be compared byte for byte with one without.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  rawHeaders: string[];
  body: Buffer;
  /** Set when the connection closed before the response was complete (the client, or llmtap, went away). */
  closedEarly: boolean;
  /** Resolves when the response ended or the connection closed. */
  done: Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => boolean | Promise<boolean>;

export interface FakeOpenAI {
  url: string;
  requests: ReceivedRequest[];
  /** Takes precedence over the built-in routes when it returns true. */
  handler: Handler | undefined;
  close(): Promise<void>;
}

const CREATED = 1_700_000_000;
export const REPLY = 'Héllo wörld — 你好 👋, this is the fake model.';
/** The reasoning summary of a Responses call that asks for one (`reasoning.summary`). */
export const REASONING = 'The user greets me; I greet back.';
/** Azure OpenAI deployments of the fake and the model each runs. */
export const DEPLOYMENTS: Record<string, string> = { 'prod-chat': 'gpt-4o', 'prod-embed': 'text-embedding-3-small' };

/** The dated model name the fake answers with, as OpenAI does for an alias. */
export const servedModel = (requested: string): string => `${requested}-2024-07-18`;

export async function startFakeOpenAI(opts: { prefix?: string } = {}): Promise<FakeOpenAI> {
  const sockets = new Set<Socket>();
  const fake: FakeOpenAI = { url: '', requests: [], handler: undefined, close };
  const server: Server = createServer((req, res) => void onRequest(req, res));
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const record: ReceivedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      rawHeaders: req.rawHeaders,
      body,
      closedEarly: false,
      done: new Promise((resolve) =>
        res.once('close', () => {
          record.closedEarly = !res.writableFinished;
          resolve();
        }),
      ),
    };
    fake.requests.push(record);
    res.on('error', () => {});
    if (opts.prefix) {
      if (!record.url.startsWith(`${opts.prefix}/`)) return unknownUrl(res, req.method, record.url);
      req.url = record.url.slice(opts.prefix.length);
    }
    try {
      if (fake.handler && (await fake.handler(req, res, body))) return;
      await route(req, res, body);
    } catch (err) {
      if (!res.headersSent) json(res, 500, { error: { message: String(err), type: 'fake_error', param: null, code: null } });
      else res.destroy();
    }
  }

  async function close(): Promise<void> {
    for (const s of sockets) s.destroy();
    server.close();
    await once(server, 'close');
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

type Json = Record<string, unknown>;

function json(res: ServerResponse, status: number, value: unknown, extra: Record<string, string> = {}, gzip = false): void {
  const plain = Buffer.from(JSON.stringify(value));
  const body = gzip ? gzipSync(plain) : plain;
  const encoding: Record<string, string> = gzip ? { 'content-encoding': 'gzip' } : {};
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length, 'x-request-id': 'req_fake', ...encoding, ...extra });
  res.end(body);
}

const JSON_ENDPOINTS = new Set(['/v1/chat/completions', '/v1/responses', '/v1/completions', '/v1/embeddings']);

async function route(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
  const behavior = String(req.headers['x-fake-behavior'] ?? '');
  let path = (req.url ?? '').split('?', 1)[0]!;
  let deployment: string | undefined;
  if (path.startsWith('/openai/')) {
    if (!req.headers['api-key'])
      return json(res, 401, { error: { code: '401', message: 'Access denied due to invalid subscription key or wrong API endpoint.' } });
    const m = /^\/openai\/(?:deployments\/([^/]+)\/|v1\/)?(.*)$/.exec(path)!;
    deployment = m[1];
    if (deployment !== undefined && !DEPLOYMENTS[deployment]) {
      return json(res, 404, { error: { code: 'DeploymentNotFound', message: 'The API deployment for this resource does not exist.' } });
    }
    path = `/v1/${m[2]}`;
  }
  if (behavior === 'stall') return; // never answers: llmtap's headers timeout must fire
  if (behavior === 'error-500') {
    return json(res, 500, { error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } });
  }
  if (behavior === 'error-429') {
    return json(
      res,
      429,
      { error: { message: 'Rate limit reached for gpt-4o-mini.', type: 'requests', param: null, code: 'rate_limit_exceeded' } },
      { 'retry-after': '1' },
    );
  }
  let request: Json = {};
  try {
    if (body.length > 0) request = JSON.parse(body.toString('utf8')) as Json;
  } catch {
    // The JSON endpoints refuse a body that is not JSON; other paths (uploads) answer below.
    if (JSON_ENDPOINTS.has(path))
      return json(res, 400, {
        error: { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error', param: null, code: null },
      });
  }
  if (behavior === 'no-stream-options' && 'stream_options' in request) {
    // As some OpenAI-compatible servers do.
    return json(res, 400, {
      error: { message: 'Unrecognized request argument supplied: stream_options', type: 'invalid_request_error', param: 'stream_options', code: null },
    });
  }
  // Azure OpenAI ignores the body's model: the deployment decides.
  if (deployment) request.model = DEPLOYMENTS[deployment];
  if (req.method === 'GET' && path === '/v1/models') {
    return json(res, 200, { object: 'list', data: ['gpt-4o-mini', 'gpt-4o'].map((id) => ({ id, object: 'model', created: CREATED, owned_by: 'openai' })) });
  }
  if (req.method === 'POST' && path === '/v1/chat/completions') return chat(req, res, request, behavior, deployment !== undefined);
  if (req.method === 'POST' && path === '/v1/responses') return responses(req, res, request, behavior);
  if (req.method === 'POST' && path === '/v1/completions') return legacyCompletions(req, res, request, behavior);
  if (req.method === 'POST' && path === '/v1/embeddings') return json(res, 200, embeddings(request));
  if (behavior === 'gzip') return json(res, 200, { ok: true, path }, {}, true);
  unknownUrl(res, req.method, path);
}

function unknownUrl(res: ServerResponse, method: string | undefined, path: string): void {
  json(res, 404, { error: { message: `Unknown request URL: ${method} ${path}`, type: 'invalid_request_error', param: null, code: 'unknown_url' } });
}

// ---- chat completions -------------------------------------------------------------------------

/** A chat tool (`{type, function: {name}}`) or a Responses one (`{type, name}`). */
interface Tool {
  type: string;
  name?: string;
  function?: { name: string };
}

const words = (s: string): number => s.split(/\s+/).filter(Boolean).length;

function promptTokens(request: Json): number {
  return JSON.stringify(request.messages ?? request.input ?? request.prompt ?? '').length >> 2;
}

function usage(request: Json, completion: number): Json {
  const prompt = promptTokens(request);
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: 3, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 2, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  };
}

/** The tool calls the fake makes: one per tool offered (parallel), unless tool_choice is "none". */
function toolCalls(request: Json): { id: string; name: string; arguments: string }[] {
  const tools = ((request.tools as Tool[] | undefined) ?? []).filter((t) => t.type === 'function');
  if (tools.length === 0 || request.tool_choice === 'none') return [];
  const chosen = request.parallel_tool_calls === false ? tools.slice(0, 1) : tools;
  return chosen.map((t, i) => ({
    id: `call_fake_${i}`,
    name: t.function?.name ?? t.name ?? '',
    arguments: JSON.stringify({ location: 'Paris, France', unit: 'celsius', n: i }),
  }));
}

function chat(req: IncomingMessage, res: ServerResponse, request: Json, behavior: string, azure: boolean): Promise<void> | void {
  const model = servedModel(String(request.model ?? 'gpt-4o-mini'));
  const n = Number(request.n ?? 1);
  const calls = toolCalls(request);
  const base = { id: 'chatcmpl-fake', created: CREATED, model, system_fingerprint: 'fp_fake' };
  const text = (i: number): string => (n > 1 ? `${REPLY} (choice ${i})` : REPLY);
  const completionTokens = calls.length > 0 ? 12 * calls.length : words(REPLY) * n;
  if (!request.stream) {
    const choices = Array.from({ length: n }, (_, i) => ({
      index: i,
      message:
        calls.length > 0
          ? {
              role: 'assistant',
              content: null,
              tool_calls: calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
              refusal: null,
              annotations: [],
            }
          : { role: 'assistant', content: text(i), refusal: null, annotations: [] },
      logprobs: null,
      finish_reason: calls.length > 0 ? 'tool_calls' : 'stop',
    }));
    return json(
      res,
      200,
      { ...base, object: 'chat.completion', choices, usage: usage(request, completionTokens), service_tier: 'default' },
      {},
      behavior === 'gzip',
    );
  }

  const options = (request.stream_options as Json | undefined) ?? {};
  const nullUsage = options.include_usage === true ? { usage: null } : {};
  const head = { id: base.id, object: 'chat.completion.chunk', created: CREATED, model, service_tier: 'default', system_fingerprint: base.system_fingerprint };
  // OpenAI's order; tool-call chunks have been seen with `usage` before `choices`.
  const chunk = (choices: Json[], extra: Json = {}, usageFirst = false): Json => ({
    ...head,
    ...(usageFirst ? nullUsage : {}),
    choices,
    ...nullUsage,
    ...extra,
    ...obfuscation(options, choices),
  });
  // Azure OpenAI opens a stream with its prompt filter results: no choices, an empty model.
  const events: Json[] = azure
    ? [{ id: '', object: '', created: 0, model: '', choices: [], prompt_filter_results: [{ prompt_index: 0, content_filter_results: {} }] }]
    : [];
  const tools = calls.length > 0;
  for (let i = 0; i < n; i++) {
    events.push(chunk([{ index: i, delta: { role: 'assistant', content: tools ? null : '', refusal: null }, logprobs: null, finish_reason: null }], {}, tools));
    if (tools) {
      calls.forEach((c, k) => {
        events.push(
          chunk(
            [
              {
                index: i,
                delta: { tool_calls: [{ index: k, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] },
                logprobs: null,
                finish_reason: null,
              },
            ],
            {},
            true,
          ),
        );
        for (const part of splitInto(c.arguments, 3)) {
          events.push(
            chunk([{ index: i, delta: { tool_calls: [{ index: k, function: { arguments: part } }] }, logprobs: null, finish_reason: null }], {}, true),
          );
        }
      });
    } else {
      for (const part of text(i).split(/(?<= )/)) events.push(chunk([{ index: i, delta: { content: part }, logprobs: null, finish_reason: null }]));
    }
    events.push(chunk([{ index: i, delta: {}, logprobs: null, finish_reason: calls.length > 0 ? 'tool_calls' : 'stop' }]));
  }
  if (options.include_usage === true) events.push(chunk([], { usage: usage(request, completionTokens) }));
  return streamSSE(req, res, events, behavior);
}

/**
 * OpenAI pads each chunk with random characters unless told not to (`include_obfuscation: false`); the
 * fake's padding is derived from the chunk's choices, so the same call gives the same bytes.
 */
function obfuscation(options: Json, choices: Json[]): Json {
  if (options.include_obfuscation === false) return {};
  const digest = createHash('sha256').update(JSON.stringify(choices)).digest('base64url');
  return { obfuscation: digest.slice(0, 2 + (digest.charCodeAt(0) % 12)) };
}

function splitInto(s: string, parts: number): string[] {
  const size = Math.ceil(s.length / parts);
  return Array.from({ length: parts }, (_, i) => s.slice(i * size, (i + 1) * size)).filter(Boolean);
}

/**
 * Writes each event as its own TCP write, with optional pauses and the faults the tests need. `named`
 * streams (the Responses API) give each event an `event:` line and end without `[DONE]`.
 */
async function streamSSE(req: IncomingMessage, res: ServerResponse, events: Json[], behavior: string, named = false): Promise<void> {
  const delay = Number(req.headers['x-fake-delay-ms'] ?? 0);
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': 'req_fake' });
  res.flushHeaders();
  if (behavior === 'stall-body') return; // headers, then silence: llmtap's body timeout must fire
  const frame = (e: Json): Buffer => Buffer.from(`${named ? `event: ${String(e.type)}\n` : ''}data: ${JSON.stringify(e)}\n\n`);
  const frames = events.map(frame);
  const overloaded = 'The model overloaded mid-stream.';
  if (behavior === 'error-event') {
    // Chat: after the first two chunks; Responses: halfway, once some text has streamed.
    const at = named ? frames.length >> 1 : 2;
    frames.splice(
      at,
      frames.length,
      named
        ? frame({ type: 'error', code: 'server_error', message: overloaded, param: null, sequence_number: at })
        : frame({ error: { message: overloaded, type: 'server_error', param: null, code: null } }),
    );
  }
  if (!named) frames.push(Buffer.from('data: [DONE]\n\n'));
  for (let i = 0; i < frames.length; i++) {
    if (res.destroyed) return;
    if (behavior === 'reset-mid-stream' && i === 3) {
      await pause(30); // let the first events be read: a RST discards what the peer has not read yet
      res.socket?.resetAndDestroy();
      return;
    }
    if (behavior === 'ping' && i > 0) await write(res, Buffer.from(': ping\n\n'));
    const bytes = frames[i]!;
    if (behavior === 'split-event') {
      // One event across two TCP writes, cut mid-JSON.
      await write(res, bytes.subarray(0, bytes.length >> 1));
      await pause(5);
      await write(res, bytes.subarray(bytes.length >> 1));
    } else if (behavior === 'split-utf8') {
      // Cut inside a multi-byte UTF-8 character when the frame has one.
      const at = firstMultibyte(bytes);
      if (at > 0) {
        await write(res, bytes.subarray(0, at + 1));
        await pause(5);
        await write(res, bytes.subarray(at + 1));
      } else await write(res, bytes);
    } else await write(res, bytes);
    if (delay > 0) await pause(delay);
  }
  res.end();
}

function firstMultibyte(buf: Buffer): number {
  for (let i = 0; i < buf.length; i++) if (buf[i]! >= 0xc0) return i;
  return -1;
}

function write(res: ServerResponse, data: Buffer): Promise<void> {
  return new Promise((resolve) => {
    if (res.write(data)) resolve();
    else res.once('drain', resolve);
  });
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- embeddings -------------------------------------------------------------------------------

function vectorFor(text: string): number[] {
  return Array.from({ length: 8 }, (_, i) => Math.fround(((text.charCodeAt(i % text.length) || 1) * (i + 1)) / 1000));
}

function embeddings(request: Json): Json {
  const inputs = Array.isArray(request.input) ? (request.input as string[]) : [String(request.input)];
  const base64 = request.encoding_format === 'base64';
  const data = inputs.map((text, index) => {
    const v = vectorFor(String(text));
    return { object: 'embedding', index, embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v };
  });
  const tokens = inputs.reduce((sum, t) => sum + words(String(t)), 0);
  return { object: 'list', data, model: String(request.model ?? 'text-embedding-3-small'), usage: { prompt_tokens: tokens, total_tokens: tokens } };
}

// ---- Responses API ----------------------------------------------------------------------------

/** The output items: a reasoning summary when asked for, then a function call per tool offered, or a message. */
function responseItems(request: Json): Json[] {
  const items: Json[] = [];
  const reasoning = request.reasoning as Json | undefined;
  if (reasoning?.summary) items.push({ id: 'rs_fake', type: 'reasoning', summary: [{ type: 'summary_text', text: REASONING }] });
  const calls = toolCalls(request);
  calls.forEach((c, i) => items.push({ id: `fc_fake_${i}`, type: 'function_call', status: 'completed', arguments: c.arguments, call_id: c.id, name: c.name }));
  if (calls.length === 0) {
    items.push({
      id: 'msg_fake',
      type: 'message',
      status: 'completed',
      role: 'assistant',
      content: [{ type: 'output_text', annotations: [], logprobs: [], text: REPLY }],
    });
  }
  return items;
}

function responses(req: IncomingMessage, res: ServerResponse, request: Json, behavior: string): Promise<void> | void {
  const items = responseItems(request);
  const input = promptTokens(request);
  const output = words(REPLY) * items.length;
  const usage = {
    input_tokens: input,
    input_tokens_details: { cached_tokens: 3 },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: 2 },
    total_tokens: input + output,
  };
  const reasoning = (request.reasoning as Json | undefined) ?? {};
  const response = (status: string, output: Json[], usage: Json | null): Json => ({
    id: 'resp_fake',
    object: 'response',
    created_at: CREATED,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: request.instructions ?? null,
    max_output_tokens: request.max_output_tokens ?? null,
    model: servedModel(String(request.model ?? 'gpt-4o-mini')),
    output,
    parallel_tool_calls: request.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: reasoning.effort ?? null, summary: reasoning.summary ?? null },
    store: true,
    temperature: request.temperature ?? 1,
    text: { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: request.tool_choice ?? 'auto',
    tools: request.tools ?? [],
    top_p: 1,
    truncation: 'disabled',
    usage,
    user: null,
    metadata: {},
  });
  if (!request.stream) return json(res, 200, response('completed', items, usage), {}, behavior === 'gzip');

  // The event sequence of the real API, each event numbered.
  const events: Json[] = [];
  const ev = (type: string, fields: Json): number => events.push({ type, sequence_number: events.length, ...fields });
  ev('response.created', { response: response('in_progress', [], null) });
  ev('response.in_progress', { response: response('in_progress', [], null) });
  items.forEach((item, output_index) => {
    const item_id = item.id;
    if (item.type === 'message') {
      ev('response.output_item.added', { output_index, item: { ...item, status: 'in_progress', content: [] } });
      const part = { type: 'output_text', annotations: [], logprobs: [], text: '' };
      ev('response.content_part.added', { item_id, output_index, content_index: 0, part });
      for (const delta of REPLY.split(/(?<= )/)) ev('response.output_text.delta', { item_id, output_index, content_index: 0, delta, logprobs: [] });
      ev('response.output_text.done', { item_id, output_index, content_index: 0, text: REPLY, logprobs: [] });
      ev('response.content_part.done', { item_id, output_index, content_index: 0, part: { ...part, text: REPLY } });
    } else if (item.type === 'function_call') {
      ev('response.output_item.added', { output_index, item: { ...item, status: 'in_progress', arguments: '' } });
      for (const delta of splitInto(String(item.arguments), 3)) ev('response.function_call_arguments.delta', { item_id, output_index, delta });
      ev('response.function_call_arguments.done', { item_id, output_index, arguments: item.arguments });
    } else {
      ev('response.output_item.added', { output_index, item: { ...item, summary: [] } });
      const part = { type: 'summary_text', text: '' };
      ev('response.reasoning_summary_part.added', { item_id, output_index, summary_index: 0, part });
      for (const delta of REASONING.split(/(?<= )/)) ev('response.reasoning_summary_text.delta', { item_id, output_index, summary_index: 0, delta });
      ev('response.reasoning_summary_text.done', { item_id, output_index, summary_index: 0, text: REASONING });
      ev('response.reasoning_summary_part.done', { item_id, output_index, summary_index: 0, part: { ...part, text: REASONING } });
    }
    ev('response.output_item.done', { output_index, item });
  });
  ev('response.completed', { response: response('completed', items, usage) });
  return streamSSE(req, res, events, behavior, true);
}

// ---- legacy completions -----------------------------------------------------------------------

function legacyCompletions(req: IncomingMessage, res: ServerResponse, request: Json, behavior: string): Promise<void> | void {
  const prompts = Array.isArray(request.prompt) ? request.prompt.length : 1;
  const count = prompts * Number(request.n ?? 1);
  const text = (i: number): string => (count > 1 ? `${REPLY} (choice ${i})` : REPLY);
  const model = servedModel(String(request.model ?? 'gpt-3.5-turbo-instruct'));
  const base = { id: 'cmpl-fake', object: 'text_completion', created: CREATED };
  const prompt = promptTokens(request);
  const usage = { prompt_tokens: prompt, completion_tokens: words(REPLY) * count, total_tokens: prompt + words(REPLY) * count };
  if (!request.stream) {
    const choices = Array.from({ length: count }, (_, index) => ({ text: text(index), index, logprobs: null, finish_reason: 'stop' }));
    return json(res, 200, { ...base, model, choices, usage });
  }
  // OpenAI's order: the model and `"usage":null` after the choices; its usage chunk puts them first.
  const includeUsage = (request.stream_options as Json | undefined)?.include_usage === true;
  const chunk = (choices: Json[]): Json => ({ ...base, choices, model, ...(includeUsage ? { usage: null } : {}) });
  const events: Json[] = [];
  for (let index = 0; index < count; index++) {
    for (const part of text(index).split(/(?<= )/)) events.push(chunk([{ text: part, index, logprobs: null, finish_reason: null }]));
    events.push(chunk([{ text: '', index, logprobs: null, finish_reason: 'stop' }]));
  }
  if (includeUsage) events.push({ ...base, model, usage, choices: [] });
  return streamSSE(req, res, events, behavior);
}
