// Server thread, at start-up (config.ts): LLMTAP_PRICES, a JSON file of per-model rates that add to or
// override the price data (self-hosted and fine-tuned models), read and checked once. The rates travel to
// the storage thread as data; cost.ts prices with them.
import { readFileSync } from 'node:fs';

import { isObject } from '../json.js';

/** Model id (as responses name it, any case) → USD per million tokens, by kind. */
export type PriceOverrides = Record<string, Record<string, number>>;

/** The rates a model may have (genai-prices' names); the first two are required. */
export const RATES = ['input_mtok', 'output_mtok', 'cache_read_mtok', 'cache_write_mtok'] as const;

/** The file's rates; throws an Error saying what is wrong with it. */
export function readPriceFile(path: string): PriceOverrides {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path} is not JSON: ${(err as Error).message}`, { cause: err });
  }
  const example = '{"my-model": {"input_mtok": 0.15, "output_mtok": 0.6, "cache_read_mtok": 0.075}}';
  if (!isObject(parsed)) throw new Error(`${path} must hold a JSON object of models and their rates, e.g. ${example}`);
  const out: PriceOverrides = {};
  for (const [model, rates] of Object.entries(parsed)) {
    if (!isObject(rates)) throw new Error(`${path}: "${model}" must be an object of rates in USD per million tokens, e.g. ${example}`);
    for (const [rate, value] of Object.entries(rates)) {
      if (!(RATES as readonly string[]).includes(rate)) throw new Error(`${path}: "${model}" has an unknown rate "${rate}"; known: ${RATES.join(', ')}`);
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw new Error(`${path}: "${model}".${rate} must be a non-negative number (USD per million tokens), got ${JSON.stringify(value)}`);
      }
    }
    for (const rate of RATES.slice(0, 2)) if (!(rate in rates)) throw new Error(`${path}: "${model}" needs ${rate}`);
    out[model] = rates as Record<string, number>;
  }
  return out;
}
