// The Dockerfile, parsed (dockerfile-ast) and linted (dockerfile-utils): what makes or breaks the image,
// checked without a Docker engine. scripts/docker-smoke.sh builds and runs the real thing.
import { execFile } from 'node:child_process';
import { posix } from 'node:path';
import { promisify } from 'node:util';

import type { From, ModifiableInstruction } from 'dockerfile-ast';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';

import { settings } from '../../src/config.js';
import { readImage, readRepoFile } from '../support/deploy-files.js';
import { startLlmtap } from '../support/llmtap.js';

const text = readRepoFile('Dockerfile');
const image = readImage(text);
const all = image.dockerfile.getInstructions();
const runs = (instructions = all): string[] => instructions.filter((i) => i.getKeyword() === 'RUN').map((i) => i.getArgumentsContent() ?? '');
const flags = (i: (typeof all)[number]): string[] => (i as ModifiableInstruction).getFlags?.().map((f) => f.getName()) ?? [];

describe('Dockerfile', () => {
  it('lints clean and needs nothing the legacy builder lacks (no syntax directive, RUN flags or heredocs)', () => {
    expect(validate(text).map((d) => `line ${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
    expect(image.dockerfile.getDirectives()).toEqual([]);
    for (const i of all) {
      if (i.getKeyword() === 'RUN') expect(flags(i), i.toString()).toEqual([]);
      if (i.getKeyword() === 'COPY')
        expect(
          flags(i).every((f) => f === 'from' || f === 'chown'),
          i.toString(),
        ).toBe(true);
      expect(i.getRawArgumentsContent() ?? '', i.toString()).not.toMatch(/<<-?\s*["']?[A-Z]/);
    }
  });

  it('every base image is a version tag of node 20 slim, never latest', () => {
    const stages: string[] = [];
    for (const from of image.dockerfile.getFROMs() as From[]) {
      const name = from.getImageName();
      if (!name || !stages.includes(name)) {
        expect(name).toBe('node');
        expect(from.getImageTag(), from.toString()).toMatch(/^20\.\d+\.\d+-[a-z]+-slim$/);
      }
      const stage = from.getBuildStage();
      if (stage) stages.push(stage);
    }
    expect(stages.length).toBeGreaterThanOrEqual(2); // multi-stage
    expect(text).not.toMatch(/:latest\b/);
  });

  it('runs as a non-root user who owns /data, the volume that holds the database', () => {
    expect(image.user).toBeDefined();
    expect(image.user).not.toMatch(/^(root|0)(:|$)/);
    expect(image.volumes).toEqual([posix.dirname(image.env.LLMTAP_DB_PATH!)]);
    const [volume] = image.volumes;
    // Ownership must be set before VOLUME: changes to a volume's path after it are discarded.
    const chown = image.runtime.findIndex(
      (i) => i.getKeyword() === 'RUN' && new RegExp(`chown ${image.user}(:\\S+)? ${volume}\\b`).test(i.getArgumentsContent() ?? ''),
    );
    expect(chown).toBeGreaterThanOrEqual(0);
    expect(chown).toBeLessThan(image.runtime.findIndex((i) => i.getKeyword() === 'VOLUME'));
  });

  it('listens on 0.0.0.0 as the README says, on the default port it EXPOSEs', () => {
    expect(image.exposed).toEqual([settings.port.default]);
    expect(image.env.LLMTAP_PORT).toBeUndefined();
    expect(settings.host.doc).toContain(`the Docker image sets \`${image.env.LLMTAP_HOST}\``);
    expect(image.env.LLMTAP_HOST).toBe('0.0.0.0');
  });

  it('PID 1 is tini, handing signals to node running the package bin', () => {
    const bin = (JSON.parse(readRepoFile('package.json')) as { bin: Record<string, string> }).bin.llmtap;
    expect(image.entrypoint).toEqual(['tini', '--', 'node', bin]);
    expect(image.cmd).toEqual(['serve']);
    expect(image.workdir).toBe('/app');
    expect(runs(image.runtime).some((r) => /apt-get install\b.*\btini\b/.test(r))).toBe(true);
  });

  it('has the `llmtap` command on the PATH, as the README says (`docker exec <container> llmtap outbox`)', () => {
    const bin = (JSON.parse(readRepoFile('package.json')) as { bin: Record<string, string> }).bin.llmtap!;
    expect(runs(image.runtime).some((r) => r.includes(`ln -s ${image.workdir}/${bin} /usr/local/bin/llmtap`))).toBe(true);
    const build = all.slice(0, all.indexOf(image.runtime[0]!));
    expect(runs(build).some((r) => r.includes(`chmod 755 ${bin}`))).toBe(true);
  });

  it('the runtime stage gets the whole build output and production dependencies only', () => {
    const copies = image.runtime.filter((i) => i.getKeyword() === 'COPY').map((i) => i.getArguments().map((a) => a.getValue()));
    expect(copies).toContainEqual([`${image.workdir}/dist`, './dist']);
    expect(copies).toContainEqual([`${image.workdir}/node_modules`, './node_modules']);
    expect(copies).toContainEqual([`${image.workdir}/package.json`, './']); // "type": "module"
    const build = all.slice(0, all.indexOf(image.runtime[0]!));
    expect(runs(build).some((r) => /npm (prune|ci)\b[^&]*--omit=dev/.test(r))).toBe(true);
  });

  it('bakes in no secret, fetches nothing remote with ADD, and keeps local state out of the build context', () => {
    for (const i of all) {
      if (i.getKeyword() === 'ADD') expect(i.getArgumentsContent()).not.toMatch(/\b(https?|git|ssh):\/\/|git@/);
      if (i.getKeyword() === 'ENV' || i.getKeyword() === 'ARG') expect(i.getArgumentsContent()).not.toMatch(/KEY|TOKEN|SECRET|PASSWORD/i);
    }
    const ignored = readRepoFile('.dockerignore').split('\n');
    for (const entry of ['.git', 'node_modules', 'dist', 'data', '.env', '.env.*']) expect(ignored).toContain(entry);
  });

  it('the HEALTHCHECK needs only node: it passes against a running llmtap and fails when nothing listens', async () => {
    const [command, ...args] = image.healthcheck!;
    expect(command).toBe('node');
    const check = (port: number): Promise<number> =>
      promisify(execFile)(process.execPath, args, { env: { LLMTAP_PORT: String(port) }, timeout: 10_000 }).then(
        () => 0,
        (err: { code?: number }) => err.code ?? -1,
      );
    const llmtap = await startLlmtap({ LLMTAP_LOG_LEVEL: 'silent' });
    const port = Number(new URL(llmtap.url).port);
    try {
      expect(await check(port)).toBe(0);
    } finally {
      await llmtap.shutdown();
    }
    expect(await check(port)).toBe(1);
  });
});
