// Which URL and headers export uses, from the variables users already set for Phoenix and OpenTelemetry.
import { describe, expect, it } from 'vitest';

import { ConfigError, loadConfig } from '../../src/config.js';
import { describeTarget, exportTarget } from '../../src/export/target.js';

const target = (env: Record<string, string>) => exportTarget(loadConfig(env));

describe('export target', () => {
  it('is off when no endpoint is set', () => {
    expect(target({})).toBeUndefined();
  });

  it('PHOENIX_COLLECTOR_ENDPOINT: a base gets /v1/traces; a full traces URL is used as is', () => {
    expect(target({ PHOENIX_COLLECTOR_ENDPOINT: 'http://phoenix:6006' })!.url.href).toBe('http://phoenix:6006/v1/traces');
    expect(target({ PHOENIX_COLLECTOR_ENDPOINT: 'https://app.phoenix.arize.com/s/me/' })!.url.href).toBe('https://app.phoenix.arize.com/s/me/v1/traces');
    expect(target({ PHOENIX_COLLECTOR_ENDPOINT: 'http://phoenix:6006/v1/traces' })!.url.href).toBe('http://phoenix:6006/v1/traces');
  });

  it('then OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as is, then OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces', () => {
    expect(target({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/custom', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:1' })!.url.href).toBe(
      'http://collector:4318/custom',
    );
    expect(target({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })!.url.href).toBe('http://collector:4318/v1/traces');
    expect(target({ PHOENIX_COLLECTOR_ENDPOINT: 'http://phoenix:6006', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:1/t' })!.url.href).toBe(
      'http://phoenix:6006/v1/traces',
    );
  });

  it('headers: OTel lists (URL-decoded, traces wins over general), Phoenix headers, the API key as a bearer token', () => {
    const t = target({
      PHOENIX_COLLECTOR_ENDPOINT: 'http://phoenix:6006',
      OTEL_EXPORTER_OTLP_HEADERS: 'X-Tenant=a%20b, x-both=general',
      OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-both=traces',
      PHOENIX_CLIENT_HEADERS: 'api_key=legacy',
      PHOENIX_API_KEY: 'px-key',
    })!;
    expect(t.headers).toEqual({
      'x-tenant': 'a b',
      'x-both': 'traces',
      api_key: 'legacy',
      authorization: 'Bearer px-key',
      'content-type': 'application/x-protobuf',
      'content-encoding': 'gzip',
    });
    expect(JSON.stringify(describeTarget(t))).not.toContain('px-key');
  });

  it('an explicit authorization header wins over PHOENIX_API_KEY', () => {
    const t = target({ PHOENIX_COLLECTOR_ENDPOINT: 'http://p:1', PHOENIX_API_KEY: 'px-key', PHOENIX_CLIENT_HEADERS: 'Authorization=Basic%20abc' })!;
    expect(t.headers.authorization).toBe('Basic abc');
  });

  it('credentials in the URL become basic auth, and are never printed', () => {
    const t = target({ PHOENIX_COLLECTOR_ENDPOINT: 'https://user%40corp:s3cr%3At@phoenix.example:6006/base' })!;
    expect(t.url.href).toBe('https://phoenix.example:6006/base/v1/traces');
    expect(t.headers.authorization).toBe(`Basic ${Buffer.from('user@corp:s3cr:t').toString('base64')}`);
    expect(JSON.stringify(describeTarget(t))).not.toContain('s3cr');
    // An explicit header still wins; the URL is cleaned either way.
    const explicit = target({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://u:p@c:4318/t', OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20x' })!;
    expect(explicit.headers.authorization).toBe('Bearer x');
    expect(explicit.url.href).toBe('http://c:4318/t');
    // Nor does a configuration error repeat them.
    expect(() => loadConfig({ PHOENIX_COLLECTOR_ENDPOINT: 'ftp://user:s3cret@host' })).toThrow(/ftp:\/\/\*\*\*@host/);
    expect(() => loadConfig({ PHOENIX_COLLECTOR_ENDPOINT: 'ftp://user:s3cret@host' })).not.toThrow(/s3cret/);
    expect(() => loadConfig({ PHOENIX_COLLECTOR_ENDPOINT: 'not a url //user:s3cret@host' })).not.toThrow(/s3cret/);
  });

  it('malformed header lists and URLs stop start-up with the variable named', () => {
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: 'novalue' })).toThrow(ConfigError);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_HEADERS: 'novalue' })).toThrow(/OTEL_EXPORTER_OTLP_HEADERS/);
    expect(() => loadConfig({ PHOENIX_COLLECTOR_ENDPOINT: 'phoenix:6006' })).toThrow(/PHOENIX_COLLECTOR_ENDPOINT/);
    expect(() => loadConfig({ OTEL_RESOURCE_ATTRIBUTES: 'a=%zz' })).toThrow(/OTEL_RESOURCE_ATTRIBUTES/);
  });
});
