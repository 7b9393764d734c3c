// The deployment files (Dockerfile, compose.yaml, README.md), parsed, for the tests that check each one
// and keep them in line with each other.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { type Dockerfile, DockerfileParser, type Instruction, type JSONInstruction, type PropertyInstruction } from 'dockerfile-ast';
import { parse as parseYaml } from 'yaml';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const readRepoFile = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

export interface ImageFacts {
  dockerfile: Dockerfile;
  /** The instructions of the last stage: what the published image is made of. */
  runtime: Instruction[];
  env: Record<string, string>;
  exposed: string[];
  volumes: string[];
  user: string | undefined;
  workdir: string | undefined;
  /** HEALTHCHECK CMD in exec form. */
  healthcheck: string[] | undefined;
  entrypoint: string[];
  cmd: string[];
}

const execForm = (i: Instruction | undefined): string[] => ((i as JSONInstruction | undefined)?.getJSONStrings() ?? []).map((s) => s.getJSONValue());

export function readImage(text = readRepoFile('Dockerfile')): ImageFacts {
  const dockerfile = DockerfileParser.parse(text);
  const all = dockerfile.getInstructions();
  const lastFrom = all.map((i) => i.getKeyword()).lastIndexOf('FROM');
  const runtime = all.slice(lastFrom);
  const of = (keyword: string): Instruction[] => runtime.filter((i) => i.getKeyword() === keyword);
  const args = (keyword: string): string[] => of(keyword).flatMap((i) => i.getArguments().map((a) => a.getValue()));
  const env = Object.fromEntries((of('ENV') as PropertyInstruction[]).flatMap((i) => i.getProperties().map((p) => [p.getName(), p.getUnescapedValue() ?? ''])));
  const health = of('HEALTHCHECK')
    .at(-1)
    ?.getRawArgumentsContent()
    ?.replace(/^CMD\s+/, '');
  // The last WORKDIR may come from the stage this one is based on.
  const workdir = all
    .slice(0, lastFrom + 1)
    .concat(runtime)
    .filter((i) => i.getKeyword() === 'WORKDIR')
    .at(-1)
    ?.getArguments()[0]
    ?.getValue();
  return {
    dockerfile,
    runtime,
    env,
    exposed: args('EXPOSE'),
    volumes: of('VOLUME').flatMap((i) => {
      const json = execForm(i);
      return json.length > 0 ? json : i.getArguments().map((a) => a.getValue());
    }),
    user: args('USER').at(-1),
    workdir,
    healthcheck: health === undefined ? undefined : (JSON.parse(health) as string[]),
    entrypoint: execForm(of('ENTRYPOINT').at(-1)),
    cmd: execForm(of('CMD').at(-1)),
  };
}

/** compose.yaml as plain data (the parts the tests read are typed loosely on purpose: the schema test checks the shape). */
export interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  environment?: Record<string, string | null> | string[];
  ports?: (string | { target: number; published?: string | number; host_ip?: string })[];
  volumes?: (string | { type?: string; source?: string; target: string })[];
  depends_on?: string[] | Record<string, { condition: string }>;
  profiles?: string[];
  command?: string | string[];
  stop_grace_period?: string;
}
export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

export const readCompose = (): ComposeFile => parseYaml(readRepoFile('compose.yaml')) as ComposeFile;

/** One `## ` section of the README, up to the next. */
export function readmeSection(section: string): string {
  const readme = readRepoFile('README.md');
  const start = readme.indexOf(`\n## ${section}\n`);
  if (start < 0) throw new Error(`README has no "## ${section}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The fenced code blocks of one language in one README section. */
export const readmeBlocks = (section: string, lang: string): string[] =>
  [...readmeSection(section).matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
