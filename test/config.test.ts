// The configuration table: validation, and the README's table kept equal to the code's.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ConfigError, loadConfig, settings, unknownVariables } from '../src/config.js';

const root = new URL('..', import.meta.url).pathname;

function readmeRows(): Map<string, { def: string; doc: string }> {
  const rows = new Map<string, { def: string; doc: string }>();
  for (const line of readFileSync(join(root, 'README.md'), 'utf8').split('\n')) {
    const m = /^\| `([A-Z0-9_]+)` \| (.*?) \| (.*) \|$/.exec(line);
    if (m) rows.set(m[1]!, { def: m[2]!, doc: m[3]! });
  }
  return rows;
}

describe('config', () => {
  it('defaults load without any variable set', () => {
    const c = loadConfig({});
    expect(c.port).toBe(8780);
    expect(c.host).toBe('127.0.0.1');
    expect(c.upstreamUrl.href).toBe('https://api.openai.com/');
    expect(c.headersTimeoutMs).toBe(600_000);
  });

  it('names every bad variable at once', () => {
    expect(() => loadConfig({ LLMTAP_PORT: '-1', LLMTAP_MAX_BODY_BYTES: '1e3', LLMTAP_UPSTREAM_URL: 'not a url' })).toThrow(ConfigError);
    try {
      loadConfig({ LLMTAP_PORT: '-1', LLMTAP_MAX_BODY_BYTES: '1e3', LLMTAP_UPSTREAM_URL: 'not a url' });
    } catch (err) {
      const msg = (err as Error).message;
      for (const name of ['LLMTAP_PORT', 'LLMTAP_MAX_BODY_BYTES', 'LLMTAP_UPSTREAM_URL']) expect(msg).toContain(name);
    }
  });

  it('booleans are true/false or 1/0', () => {
    expect(loadConfig({ LLMTAP_RECORD_OTHER: '1' }).recordOther).toBe(true);
    expect(loadConfig({ LLMTAP_RECORD_OTHER: 'TRUE' }).recordOther).toBe(true);
    expect(loadConfig({ LLMTAP_RECORD_OTHER: '0' }).recordOther).toBe(false);
    expect(loadConfig({}).recordOther).toBe(false);
    expect(() => loadConfig({ LLMTAP_RECORD_OTHER: 'yes' })).toThrow(/LLMTAP_RECORD_OTHER must be true or false/);
  });

  it('unknown LLMTAP_*, PHOENIX_* and OPENINFERENCE_* variables are found, each with the nearest known name', () => {
    const env = {
      LLMTAP_UPSTREAM: 'https://api.openai.com',
      PHOENIX_COLECTOR_ENDPOINT: 'http://phoenix:6006',
      OPENINFERENCE_HIDE_INPUT: 'true',
      LLMTAP_PORT: '8780', // known
      OTEL_FOO: 'x', // not one of llmtap's families
      PATH: '/usr/bin',
    };
    expect(unknownVariables(env)).toEqual([
      { variable: 'LLMTAP_UPSTREAM', nearest: 'LLMTAP_UPSTREAM_URL' },
      { variable: 'OPENINFERENCE_HIDE_INPUT', nearest: 'OPENINFERENCE_HIDE_INPUTS' },
      { variable: 'PHOENIX_COLECTOR_ENDPOINT', nearest: 'PHOENIX_COLLECTOR_ENDPOINT' },
    ]);
    expect(unknownVariables({ LLMTAP_PORT: '1' })).toEqual([]);
  });

  it('OTLP is spoken over HTTP with protobuf only: another protocol stops start-up, naming the variable', () => {
    expect(loadConfig({}).otlpProtocol).toBe('http/protobuf');
    expect(loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: 'HTTP/Protobuf', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }).otlpTracesProtocol).toBe(
      'http/protobuf',
    );
    for (const env of ['OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL']) {
      for (const value of ['grpc', 'http/json']) {
        expect(() => loadConfig({ [env]: value })).toThrow(`${env}=${value} is not supported`);
      }
    }
  });

  it('the README configuration table lists every variable with its real default and meaning', () => {
    const rows = readmeRows();
    const table = Object.values(settings).map((s) => [s.env, s.default === '' ? '(unset)' : `\`${s.default}\``, s.doc]);
    for (const [env, def, doc] of table) {
      expect(rows.get(env!), `${env} missing from the README`).toBeDefined();
      expect(rows.get(env!)).toEqual({ def, doc });
    }
    expect([...rows.keys()].sort()).toEqual(table.map(([env]) => env).sort());
  });

  it('no module but config.ts reads the environment', () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (path.endsWith('.ts') && !path.endsWith('/src/config.ts') && /process\.env/.test(readFileSync(path, 'utf8'))) offenders.push(path);
      }
    };
    walk(join(root, 'src'));
    expect(offenders).toEqual([]);
  });
});
