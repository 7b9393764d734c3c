// Reads /metrics. parse-prometheus-text-format (a port of the Prometheus Python client's parser) checks
// that the whole text parses and reads counters and gauges; it folds labelled histograms into one, so
// histogram counts are read from their `_count` samples directly.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

import { rawRequest } from './http.js';

interface Family {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string> }[];
}

export interface Scrape {
  families: Family[];
  /** Sum of a counter's or gauge's samples whose labels include `labels`. */
  value(name: string, labels?: Record<string, string>): number;
  /** Sum of a histogram's `_count` samples whose labels include `labels`. */
  count(name: string, labels?: Record<string, string>): number;
}

const matches = (have: Record<string, string> | undefined, want: Record<string, string>): boolean => Object.entries(want).every(([k, v]) => have?.[k] === v);

export async function scrape(baseUrl: string): Promise<Scrape> {
  const r = await rawRequest(`${baseUrl}/metrics`);
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  if (!String(r.headers['content-type']).startsWith('text/plain')) throw new Error(`unexpected content type ${r.headers['content-type']}`);
  const text = r.body.toString();
  const families = parsePrometheusTextFormat(text) as Family[];
  return {
    families,
    value(name, labels = {}) {
      const family = families.find((f) => f.name === name);
      if (!family) throw new Error(`no metric ${name}`);
      if (family.type === 'HISTOGRAM') throw new Error(`${name} is a histogram: use count()`);
      return family.metrics.filter((m) => matches(m.labels, labels)).reduce((sum, m) => sum + Number(m.value), 0);
    },
    count(name, labels = {}) {
      let sum = 0;
      for (const m of text.matchAll(new RegExp(`^${name}_count(?:\\{(.*)\\})? (\\S+)$`, 'gm'))) {
        const have = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
        if (matches(have, labels)) sum += Number(m[2]);
      }
      return sum;
    },
  };
}
