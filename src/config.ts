// Every environment variable llmtap reads, in one validated table. No other module reads process.env;
// the README's configuration table is checked against `settings` by a test.

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

const httpUrl = (raw: string, env: string): URL => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${env} must be an absolute http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigError(`${env} must be an http(s) URL, got "${raw}"`);
  }
  if (url.search || url.hash) throw new ConfigError(`${env} must not have a query or fragment, got "${raw}"`);
  return url;
};

export const settings = {
  host: setting('LLMTAP_HOST', '127.0.0.1', 'listen address (the Docker image sets `0.0.0.0`)', text),
  port: setting('LLMTAP_PORT', '8780', 'listen port', integer(0, 65535)),
  upstreamUrl: setting(
    'LLMTAP_UPSTREAM_URL',
    'https://api.openai.com',
    'where `/v1/*` goes; any OpenAI-compatible server works (a path prefix such as `https://openrouter.ai/api` is kept)',
    httpUrl,
  ),
  dbPath: setting('LLMTAP_DB_PATH', './data/llmtap.db', 'SQLite file for recorded spans', text),
  logLevel: setting(
    'LLMTAP_LOG_LEVEL',
    'info',
    'pino level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`',
    oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
  ),
  maxBodyBytes: setting('LLMTAP_MAX_BODY_BYTES', '67108864', 'request body limit; larger bodies get 413', integer(1)),
  connectTimeoutMs: setting('LLMTAP_CONNECT_TIMEOUT_MS', '5000', 'upstream TCP/TLS connect timeout', integer(1)),
  headersTimeoutMs: setting(
    'LLMTAP_HEADERS_TIMEOUT_MS',
    '600000',
    'time allowed for the upstream to send response headers (long generations are normal)',
    integer(1),
  ),
  bodyTimeoutMs: setting(
    'LLMTAP_BODY_TIMEOUT_MS',
    '600000',
    'longest silence allowed between two upstream body chunks',
    integer(1),
  ),
  shutdownTimeoutMs: setting(
    'LLMTAP_SHUTDOWN_TIMEOUT_MS',
    '30000',
    'on SIGTERM/SIGINT, how long in-flight requests may take to finish before they are cut',
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
