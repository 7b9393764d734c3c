// compose.yaml against the Compose Specification schema (as shipped by dclint, checked with ajv), and the
// sidecar setup kept in line across compose.yaml, the Dockerfile and the README.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, posix } from 'node:path';

import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

import { settings } from '../../src/config.js';
import { type ComposeService, readCompose, readImage, readmeBlocks, readmeSection, ROOT } from '../support/deploy-files.js';

const compose = readCompose();
const image = readImage();
const port = image.exposed[0]!;
const { phoenix, llmtap, demo } = compose.services;

const env = (s: ComposeService | undefined): Record<string, string | null> =>
  Array.isArray(s?.environment)
    ? Object.fromEntries(s.environment.map((e) => [e.split('=')[0]!, e.includes('=') ? e.slice(e.indexOf('=') + 1) : null]))
    : (s?.environment ?? {});
/** Published ports as [host ip, host port, container port]. */
const ports = (s: ComposeService | undefined): string[][] =>
  (s?.ports ?? []).map((p) => (typeof p === 'string' ? p.replace(/\/tcp$/, '').split(':') : [p.host_ip ?? '', String(p.published ?? ''), String(p.target)]));
/** Volume mounts as [source, target]. */
const mounts = (s: ComposeService | undefined): string[][] =>
  (s?.volumes ?? []).map((v) => (typeof v === 'string' ? v.split(':').slice(0, 2) : [v.source ?? '', v.target]));

describe('compose.yaml', () => {
  it('is valid against the Compose Specification JSON schema', () => {
    const require = createRequire(import.meta.url);
    const schemaFile = join(dirname(require.resolve('dclint/package.json')), 'schemas', 'compose.schema.json');
    const { $schema: _meta, ...schema } = JSON.parse(readFileSync(schemaFile, 'utf8')) as Record<string, unknown>;
    expect(schema.title).toBe('Compose Specification');
    const validate = new Ajv({ allErrors: true, allowUnionTypes: true, strict: false }).compile(schema);
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
    // The schema is strict enough to catch a misspelt key.
    expect(validate({ services: { llmtap: { ...llmtap, enviroment: {} } } })).toBe(false);
  });

  it('runs phoenix, llmtap and, behind the demo profile, an example client; every pulled image has a version tag', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['demo', 'llmtap', 'phoenix']);
    expect(demo?.profiles).toEqual(['demo']);
    expect(phoenix?.profiles).toBeUndefined();
    expect(llmtap?.profiles).toBeUndefined();
    expect(phoenix?.image).toMatch(/^arizephoenix\/phoenix:version-\d+\.\d+\.\d+$/);
    for (const s of Object.values(compose.services).filter((s) => !s.build)) {
      expect(s.image, s.image).toMatch(/:[\w.-]*\d[\w.-]*$/);
      expect(s.image).not.toMatch(/:latest$/);
    }
  });

  it('llmtap is the Dockerfile image: its port, its /data volume, its healthcheck', () => {
    expect(llmtap?.build === '.' || (typeof llmtap?.build === 'object' && llmtap.build.context === '.')).toBe(true);
    expect(existsSync(join(ROOT, 'Dockerfile'))).toBe(true);
    expect(ports(llmtap)).toEqual([['127.0.0.1', port, port]]);
    const [volume, target] = mounts(llmtap)[0]!;
    expect(target).toBe(image.volumes[0]);
    expect(posix.dirname(image.env.LLMTAP_DB_PATH!)).toBe(target);
    expect(Object.keys(compose.volumes ?? {})).toContain(volume);
    expect(image.healthcheck).toBeDefined(); // the demo waits for it
    // No LLMTAP_* override undoes what the image sets for containers.
    for (const name of Object.keys(env(llmtap))) expect(Object.keys(image.env)).not.toContain(name);
  });

  it('llmtap mirrors to the phoenix service, and waits for it', () => {
    expect(ports(phoenix)).toEqual([['127.0.0.1', '6006', '6006']]);
    expect(env(llmtap).PHOENIX_COLLECTOR_ENDPOINT).toBe('http://phoenix:6006');
    expect(llmtap?.depends_on).toEqual(['phoenix']);
    const phoenixVolume = mounts(phoenix)[0]!;
    expect(phoenixVolume[1]).toBe(env(phoenix).PHOENIX_WORKING_DIR);
    expect(Object.keys(compose.volumes ?? {})).toContain(phoenixVolume[0]);
  });

  it('every variable given to llmtap is one of its settings, and documented', () => {
    const known = new Set(Object.values(settings).map((s) => s.env));
    const readme = readmeSection('Run as a sidecar');
    for (const name of Object.keys(env(llmtap))) {
      expect(known.has(name), name).toBe(true);
      expect(readme, name).toContain(name);
    }
  });

  it('stopping leaves llmtap time to drain streams and flush', () => {
    const grace = /^(\d+)s$/.exec(llmtap?.stop_grace_period ?? '');
    expect(grace).not.toBeNull();
    expect(Number(grace![1]) * 1000).toBeGreaterThan(Number(settings.shutdownTimeoutMs.default));
  });

  it('the demo calls OpenAI through llmtap, once healthy, with only OPENAI_API_KEY from the environment', () => {
    expect(env(demo)).toEqual({ OPENAI_BASE_URL: `http://llmtap:${port}/v1`, OPENAI_API_KEY: null });
    expect(demo?.depends_on).toEqual({ llmtap: { condition: 'service_healthy' } });
    // The script it runs is in the directory it mounts.
    const [source, target] = mounts(demo)[0]!;
    const script = [demo?.command].flat().find((a) => a?.startsWith(`${target}/`));
    expect(script).toBeDefined();
    expect(existsSync(join(ROOT, source!, script!.slice(target!.length)))).toBe(true);
  });
});

describe('README', () => {
  it('"Run as a sidecar" names the services, images, ports and volumes compose.yaml has', () => {
    const section = readmeSection('Run as a sidecar');
    for (const [name, s] of Object.entries(compose.services)) {
      expect(section).toContain(`| \`${name}\``);
      if (s.image) expect(section).toContain(s.image);
    }
    for (const volume of Object.keys(compose.volumes ?? {})) expect(section).toContain(volume);
    expect(section).toContain('docker compose up');
    expect(section).toContain('docker compose --profile demo up');
    expect(section).toContain(`http://localhost:${port}/v1`);
    expect(section).toContain(`OPENAI_BASE_URL=http://llmtap:${port}/v1`);
    expect(section).toContain('http://localhost:6006');
    expect(section).toContain(readImage().dockerfile.getFROMs()[0]!.getImage()!);
  });

  it('the Kubernetes snippet runs llmtap as a second container that the app reaches on localhost', () => {
    const [manifest] = readmeBlocks('Run as a sidecar', 'yaml');
    interface Container {
      name: string;
      env?: { name: string; value?: string }[];
      ports?: { containerPort: number }[];
      volumeMounts?: { name: string; mountPath: string }[];
      livenessProbe?: { httpGet: { path: string; port: number } };
      readinessProbe?: { httpGet: { path: string; port: number } };
    }
    const pod = parseYaml(manifest!) as {
      kind: string;
      spec: { containers: Container[]; terminationGracePeriodSeconds: number; volumes: { name: string }[] };
    };
    expect(pod.kind).toBe('Pod');
    const [app, sidecar] = pod.spec.containers;
    expect(pod.spec.containers).toHaveLength(2);
    expect(app!.env).toContainEqual({ name: 'OPENAI_BASE_URL', value: `http://localhost:${port}/v1` });
    expect(sidecar!.name).toBe('llmtap');
    expect(sidecar!.ports).toEqual([{ containerPort: Number(port) }]);
    expect(sidecar!.volumeMounts).toEqual([{ name: pod.spec.volumes[0]!.name, mountPath: image.volumes[0] }]);
    expect(sidecar!.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: Number(port) });
    expect(sidecar!.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: Number(port) });
    expect(sidecar!.env?.map((e) => e.name)).toContain('PHOENIX_COLLECTOR_ENDPOINT');
    expect(pod.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(Number(settings.shutdownTimeoutMs.default));
  });

  it('"Scaling out" says what is per instance and what is global', () => {
    const section = readmeSection('Scaling out');
    expect(section).toMatch(/\*\*Per instance\*\*: the SQLite store/);
    expect(section).toMatch(/\*\*Global\*\*: Phoenix or the collector/);
    expect(section).toContain('OpenTelemetry Collector');
    expect(section).toContain('PostgreSQL');
  });
});
