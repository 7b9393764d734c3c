// Every environment variable llmtap reads, in one validated table. No other module reads process.env;
// the README's configuration table is checked against `settings` by a test.
import { closestMatch } from 'leven';

import { type PriceOverrides, readPriceFile } from './record/price-file.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

interface Setting<T> {
  env: string;
  /** The raw default, as a user would write it ('' = unset). */
  default: string;
  doc: string;
  parse: (raw: string, env: string) => T;
}

const setting = <T>(env: string, def: string, doc: string, parse: (raw: string, env: string) => T): Setting<T> => ({
  env,
  default: def,
  doc,
  parse,
});

const text = (raw: string): string => raw;

const integer =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (raw: string, env: string): number => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new ConfigError(`${env} must be an integer between ${min} and ${max}, got "${raw}"`);
    }
    return n;
  };

const oneOf =
  <T extends string>(...values: T[]) =>
  (raw: string, env: string): T => {
    const v = raw.trim().toLowerCase() as T;
    if (!values.includes(v)) throw new ConfigError(`${env} must be one of ${values.join(', ')}, got "${raw}"`);
    return v;
  };

const bool = (raw: string, env: string): boolean => {
  const v = raw.trim().toLowerCase();
  if (v !== 'true' && v !== 'false' && v !== '1' && v !== '0') throw new ConfigError(`${env} must be true or false (or 1 or 0), got "${raw}"`);
  return v === 'true' || v === '1';
};

/** A token a bearer header can carry (RFC 6750's token68). */
const bearerToken = (raw: string, env: string): string => {
  if (raw !== '' && !/^[A-Za-z0-9._~+/-]+=*$/.test(raw)) throw new ConfigError(`${env} may hold only letters, digits and . _ ~ + / - (then = padding)`);
  return raw;
};

/** A comma-separated list of host names (a DNS name or an IP address each, no port). */
const hostNames = (raw: string, env: string): string[] =>
  raw
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => {
      if (h && !/^[a-z0-9.-]+$|^\[?[0-9a-f:]+\]?$/.test(h)) throw new ConfigError(`${env} must list host names separated by commas, got "${h}"`);
      return h !== '';
    });

const hide = (env: string, doc: string) => setting(env, 'false', doc, bool);

/** OTel's `key1=value1,key2=value2` with URL-encoded values (OTEL_EXPORTER_OTLP_HEADERS, OTEL_RESOURCE_ATTRIBUTES). */
const keyValueList = (raw: string, env: string): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const item of raw.split(',')) {
    if (!item.trim()) continue;
    const eq = item.indexOf('=');
    const key = eq > 0 ? item.slice(0, eq).trim() : '';
    if (!key) throw new ConfigError(`${env} must be a list of key=value pairs separated by commas, got "${item.trim()}"`);
    try {
      out[key] = decodeURIComponent(item.slice(eq + 1).trim());
    } catch {
      throw new ConfigError(`${env}: the value of "${key}" is not valid URL encoding`);
    }
  }
  return out;
};

/** LLMTAP_PRICES: a file of per-model rates, read at start-up. */
const priceFile = (raw: string, env: string): PriceOverrides => {
  if (!raw) return {};
  try {
    return readPriceFile(raw);
  } catch (err) {
    throw new ConfigError(`${env}: ${(err as Error).message}`);
  }
};

const optionalUrl = (raw: string, env: string): URL | undefined => (raw ? httpUrl(raw, env) : undefined);

/** A URL as it may be printed: any user and password in it replaced by `***`. */
export function withoutCredentials(url: URL): string {
  if (!url.username && !url.password) return url.href;
  const shown = new URL(url);
  shown.username = '***';
  shown.password = '';
  return shown.href;
}

const httpUrl = (raw: string, env: string): URL => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${env} must be an absolute http(s) URL, got "${raw.replace(/\/\/[^/@]*@/, '//***@')}"`);
  }
  // Messages never repeat credentials a URL may carry (user:pass@).
  const shown = withoutCredentials(url);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${env} must be an http(s) URL, got "${shown}"`);
  }
  if (url.search || url.hash) throw new ConfigError(`${env} must not have a query or fragment, got "${shown}"`);
  return url;
};

/**
 * The upstream, written as a server's root (`https://api.openai.com`), with a prefix
 * (`https://openrouter.ai/api`) or as OPENAI_BASE_URL is written, the API's base ending in `/v1`
 * (`https://api.openai.com/v1`, Azure's `…/openai/v1`): requests to llmtap's `/v1/…` go below it,
 * so that `/v1` is dropped here rather than sent twice (`/v1/v1/chat/completions`).
 */
const upstreamRoot = (raw: string, env: string): URL => {
  const url = httpUrl(raw, env);
  url.pathname = url.pathname.replace(/\/+$/, '').replace(/\/v1$/, '') || '/';
  return url;
};

/** llmtap speaks OTLP over HTTP with protobuf bodies only; OTel's other transports would fail at every export. */
const otlpProtocol = (raw: string, env: string): 'http/protobuf' | undefined => {
  if (raw === '') return undefined; // the traces variable unset: the general one decides
  if (raw.trim().toLowerCase() === 'http/protobuf') return 'http/protobuf';
  throw new ConfigError(
    `${env}=${raw} is not supported: llmtap exports over OTLP/HTTP with protobuf only (Phoenix takes it on its HTTP port, 6006); unset ${env} or set it to http/protobuf`,
  );
};

export const settings = {
  host: setting('LLMTAP_HOST', '127.0.0.1', 'listen address (the Docker image sets `0.0.0.0`)', text),
  port: setting('LLMTAP_PORT', '8780', 'listen port', integer(0, 65535)),
  upstreamUrl: setting(
    'LLMTAP_UPSTREAM_URL',
    'https://api.openai.com',
    'where `/v1/*` goes: any OpenAI-compatible server, as its root or as its API base the way `OPENAI_BASE_URL` is written (`https://api.openai.com/v1`, `http://vllm:8000/v1`, `https://openrouter.ai/api/v1`; see Capture traffic)',
    upstreamRoot,
  ),
  dbPath: setting('LLMTAP_DB_PATH', './data/llmtap.db', 'SQLite file for recorded spans', text),
  logFormat: setting(
    'LLMTAP_LOG_FORMAT',
    '',
    '`json` (one JSON line each) or `pretty` (coloured, for a person); unset: `pretty` when standard output is a terminal, else `json`',
    (raw, env) => (raw === '' ? undefined : oneOf('json', 'pretty')(raw, env)),
  ),
  logLevel: setting(
    'LLMTAP_LOG_LEVEL',
    'info',
    'pino level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`',
    oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
  ),
  maxBodyBytes: setting(
    'LLMTAP_MAX_BODY_BYTES',
    '67108864',
    'request body limit; larger bodies get 413 (and a larger WebSocket message closes its session with 1009)',
    integer(1),
  ),
  connectTimeoutMs: setting('LLMTAP_CONNECT_TIMEOUT_MS', '5000', 'upstream TCP/TLS connect timeout', integer(1)),
  headersTimeoutMs: setting(
    'LLMTAP_HEADERS_TIMEOUT_MS',
    '600000',
    'time allowed for the upstream to send response headers (long generations are normal)',
    integer(1),
  ),
  bodyTimeoutMs: setting('LLMTAP_BODY_TIMEOUT_MS', '600000', 'longest silence allowed between two upstream body chunks', integer(1)),
  shutdownTimeoutMs: setting(
    'LLMTAP_SHUTDOWN_TIMEOUT_MS',
    '30000',
    'on SIGTERM/SIGINT, how long in-flight requests may take to finish before they are cut (WebSocket sessions still open are then closed with 1001)',
    integer(0),
  ),
  shutdownExportMs: setting(
    'LLMTAP_SHUTDOWN_EXPORT_MS',
    '2000',
    'on SIGTERM/SIGINT, how long the last export attempt may take; what it does not send waits in the outbox for the next start',
    integer(0),
  ),
  captureMaxBytes: setting(
    'LLMTAP_CAPTURE_MAX_BYTES',
    '10485760',
    'most bytes of one request or response kept for its span; past it the span records what fit and says it was truncated',
    integer(1024),
  ),
  captureMemoryBytes: setting(
    'LLMTAP_CAPTURE_MEMORY_BYTES',
    '134217728',
    'most bytes held at once for all exchanges together: request bodies before forwarding, and recorded bytes (counted twice) until their spans are written; past it an exchange records what fit, marked truncated, and traffic is unaffected. The default suits a 512 MiB container',
    integer(0),
  ),
  streamUsage: setting(
    'LLMTAP_STREAM_USAGE',
    'auto',
    'streams of chat and legacy completions that did not ask for usage: `auto` asks the upstream for it, hides from the client what that adds, and resends the request unchanged to an upstream that refuses it; `inject` always asks; `off` never (see Tokens and cost)',
    oneOf('auto', 'inject', 'off'),
  ),
  prices: setting(
    'LLMTAP_PRICES',
    '',
    'a JSON file of per-model rates in USD per million tokens (`input_mtok`, `output_mtok`, `cache_read_mtok`, `cache_write_mtok`) that add to or override the bundled price data (see Tokens and cost)',
    priceFile,
  ),
  writeQueueMax: setting('LLMTAP_WRITE_QUEUE_MAX', '20000', 'spans waiting for SQLite at most; past it new spans are dropped and counted', integer(1)),
  flushIntervalMs: setting('LLMTAP_FLUSH_INTERVAL_MS', '100', 'how often queued spans are written to SQLite (one transaction per batch)', integer(1, 60_000)),
  recordOther: setting(
    'LLMTAP_RECORD_OTHER',
    'false',
    '`true` (or `1`): requests to other paths get a light span (method, path, status, duration); they are forwarded either way',
    bool,
  ),
  provider: setting(
    'LLMTAP_PROVIDER',
    '',
    '`llm.provider` of every span; unset: `azure` on Azure OpenAI paths, else from the upstream host (see Providers)',
    text,
  ),
  retentionDays: setting('LLMTAP_RETENTION_DAYS', '30', 'spans older than this are deleted in the background; `0` keeps them forever', integer(0)),
  adminToken: setting('LLMTAP_ADMIN_TOKEN', '', 'bearer token required by `/api/*` and the viewer; unset: they answer loopback clients only', bearerToken),
  allowedHosts: setting(
    'LLMTAP_ALLOWED_HOSTS',
    '',
    'without `LLMTAP_ADMIN_TOKEN`, more host names (comma-separated) that `/api` and the viewer answer requests sent to, besides `localhost` and loopback addresses',
    hostNames,
  ),
  projectName: setting('PHOENIX_PROJECT_NAME', 'default', 'Phoenix project for spans (the `x-llmtap-project` request header overrides it per request)', text),
  project: setting('PHOENIX_PROJECT', '', 'the newer name of `PHOENIX_PROJECT_NAME`; wins when both are set', text),
  phoenixEndpoint: setting(
    'PHOENIX_COLLECTOR_ENDPOINT',
    '',
    'Phoenix to mirror spans to, e.g. `http://phoenix:6006` (spans go to `<base>/v1/traces`; a URL ending in `/v1/traces` is used as is)',
    optionalUrl,
  ),
  otlpTracesEndpoint: setting(
    'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    '',
    'OTLP/HTTP traces URL, used as is (when `PHOENIX_COLLECTOR_ENDPOINT` is unset)',
    optionalUrl,
  ),
  otlpEndpoint: setting(
    'OTEL_EXPORTER_OTLP_ENDPOINT',
    '',
    'OTLP/HTTP base URL; spans go to `<base>/v1/traces` (when neither of the above is set)',
    optionalUrl,
  ),
  phoenixApiKey: setting(
    'PHOENIX_API_KEY',
    '',
    'sent as `authorization: Bearer <key>` to the export target (Phoenix Cloud, auth-enabled Phoenix); never logged',
    text,
  ),
  phoenixHeaders: setting('PHOENIX_CLIENT_HEADERS', '', 'extra export headers, `k=v,k2=v2` (values URL-encoded)', keyValueList),
  otlpHeaders: setting('OTEL_EXPORTER_OTLP_HEADERS', '', 'extra export headers, `k=v,k2=v2` (values URL-encoded)', keyValueList),
  otlpTracesHeaders: setting('OTEL_EXPORTER_OTLP_TRACES_HEADERS', '', 'extra export headers; win over `OTEL_EXPORTER_OTLP_HEADERS`', keyValueList),
  otlpProtocol: setting(
    'OTEL_EXPORTER_OTLP_PROTOCOL',
    'http/protobuf',
    'the OTLP transport: only `http/protobuf`; another value (`grpc`, `http/json`) stops start-up',
    otlpProtocol,
  ),
  otlpTracesProtocol: setting('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', '', 'the same, for traces; only `http/protobuf`', otlpProtocol),
  otlpTimeoutMs: setting('OTEL_EXPORTER_OTLP_TIMEOUT', '10000', 'how long one export request may take, in ms', integer(1)),
  serviceName: setting('OTEL_SERVICE_NAME', 'llmtap', 'the `service.name` resource attribute of exported spans', text),
  resourceAttributes: setting('OTEL_RESOURCE_ATTRIBUTES', '', 'more resource attributes for exported spans, `k=v,k2=v2`', keyValueList),
  exportBatchSize: setting('LLMTAP_EXPORT_BATCH_SIZE', '512', 'most spans in one export request', integer(1, 100_000)),
  exportIntervalMs: setting('LLMTAP_EXPORT_INTERVAL_MS', '1000', 'how long spans wait to fill a batch before they are sent anyway', integer(1)),
  exportConcurrency: setting('LLMTAP_EXPORT_CONCURRENCY', '1', 'export requests in flight at once', integer(1, 64)),
  exportMaxBacklog: setting(
    'LLMTAP_EXPORT_MAX_BACKLOG',
    '1000000',
    'most spans waiting for export; past it the oldest are left unexported (still stored) and counted',
    integer(1),
  ),
  hideInputs: hide(
    'OPENINFERENCE_HIDE_INPUTS',
    'redact `input.value`, prompts and embedded texts; drop input messages, tools, and the request text the invocation parameters carry (instructions, tools, prediction, prompt template, suffix)',
  ),
  hideOutputs: hide('OPENINFERENCE_HIDE_OUTPUTS', 'redact `output.value`, drop output messages'),
  hideInputMessages: hide(
    'OPENINFERENCE_HIDE_INPUT_MESSAGES',
    'drop `llm.input_messages.*` (and the instructions, prediction and prompt template in the invocation parameters)',
  ),
  hideOutputMessages: hide('OPENINFERENCE_HIDE_OUTPUT_MESSAGES', 'drop `llm.output_messages.*`'),
  hideInputImages: hide('OPENINFERENCE_HIDE_INPUT_IMAGES', 'drop input message images and redact image URLs inside `input.value`'),
  hideInputText: hide(
    'OPENINFERENCE_HIDE_INPUT_TEXT',
    'redact the text of input messages (and the instructions in the invocation parameters; drop a prediction and prompt template there)',
  ),
  hideOutputText: hide('OPENINFERENCE_HIDE_OUTPUT_TEXT', 'redact the text of output messages'),
  hideLlmTools: hide('OPENINFERENCE_HIDE_LLM_TOOLS', 'drop `llm.tools.*` (and the tools in the invocation parameters)'),
  hideInvocationParameters: hide('OPENINFERENCE_HIDE_LLM_INVOCATION_PARAMETERS', 'drop `llm.invocation_parameters` and `embedding.invocation_parameters`'),
  hidePrompts: hide('OPENINFERENCE_HIDE_PROMPTS', 'redact `llm.prompts.*` (legacy completions; and drop their `suffix` from the invocation parameters)'),
  hideChoices: hide('OPENINFERENCE_HIDE_CHOICES', 'redact `llm.choices.*` (legacy completions)'),
  hideEmbeddingVectors: hide('OPENINFERENCE_HIDE_EMBEDDING_VECTORS', 'drop embedding vectors'),
  hideEmbeddingsVectors: hide('OPENINFERENCE_HIDE_EMBEDDINGS_VECTORS', 'the newer name of `OPENINFERENCE_HIDE_EMBEDDING_VECTORS`; either one hides them'),
  hideEmbeddingsText: hide('OPENINFERENCE_HIDE_EMBEDDINGS_TEXT', 'redact embedded texts'),
  base64ImageMaxLength: setting(
    'OPENINFERENCE_BASE64_IMAGE_MAX_LENGTH',
    '32000',
    'a `data:image/…;base64,…` URL longer than this is redacted, in messages and in `input.value`',
    integer(0),
  ),
};

type Settings = typeof settings;
export type Config = { [K in keyof Settings]: ReturnType<Settings[K]['parse']> };

/** Reads and validates every setting; throws one ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, s] of Object.entries(settings) as [string, Setting<unknown>][]) {
    const raw = env[s.env];
    try {
      out[key] = s.parse(raw === undefined || raw === '' ? s.default : raw, s.env);
    } catch (err) {
      problems.push(err instanceof ConfigError ? err.message : `${s.env}: ${String(err)}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return out as Config;
}

/** The families of variables that are llmtap's to read: a name in them that llmtap does not know is a mistake. */
const FAMILIES = /^(LLMTAP|PHOENIX|OPENINFERENCE)_/;

/** Variables of llmtap's families that no setting reads (a misspelling, an old name), each with the nearest name llmtap knows. */
export function unknownVariables(env: NodeJS.ProcessEnv = process.env): { variable: string; nearest: string }[] {
  const known = Object.values(settings).map((s: Setting<unknown>) => s.env);
  return Object.keys(env)
    .filter((name) => FAMILIES.test(name) && !known.includes(name))
    .sort()
    .map((variable) => ({ variable, nearest: closestMatch(variable, known)! }));
}

const MASK_KEYS = [
  'hideInputs',
  'hideOutputs',
  'hideInputMessages',
  'hideOutputMessages',
  'hideInputImages',
  'hideInputText',
  'hideOutputText',
  'hideLlmTools',
  'hideInvocationParameters',
  'hidePrompts',
  'hideChoices',
  'hideEmbeddingVectors',
  'hideEmbeddingsVectors',
  'hideEmbeddingsText',
  'base64ImageMaxLength',
] as const;

/** The OpenInference masking settings: they travel to the storage thread, which masks spans. */
export type MaskConfig = Pick<Config, (typeof MASK_KEYS)[number]>;

/** The masking settings alone, as plain data for the storage thread. */
export const maskSettings = (c: MaskConfig): MaskConfig => Object.fromEntries(MASK_KEYS.map((k) => [k, c[k]])) as MaskConfig;
