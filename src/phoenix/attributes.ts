// Flat OpenInference attributes ⇄ the nested form Phoenix holds in `Span.attributes` (its `unflatten`
// and `flatten`, phoenix/trace/attributes.py): each `.` opens a level; an all-digit segment followed by
// more segments is a list index (lists compacted, in index order); a trailing all-digit segment is a
// plain key; a key with both a value and children keeps both (`a` and `a.b` side by side). Phoenix
// orders keys by a Python set; here they keep the order of the flat keys, so output is deterministic.
import { isObject } from '../json.js';
import type { Attributes, AttributeValue } from '../record/span.js';

/** Keys Phoenix parses from JSON strings on ingestion (its JSON_STRING_ATTRIBUTES, matched as suffixes). */
const JSON_STRING_SUFFIXES = ['document.metadata', 'llm.prompt_template.variables', 'metadata', 'tool.parameters'];
const isJsonStringKey = (key: string): boolean => JSON_STRING_SUFFIXES.some((s) => key.endsWith(s));

const DIGITS = /^[0-9]+$/;

class Trie {
  value: unknown = undefined;
  readonly indices = new Set<number>();
  readonly branches = new Set<string>();
  readonly children = new Map<string, Trie>();

  child(key: string): Trie {
    let t = this.children.get(key);
    if (!t) this.children.set(key, (t = new Trie()));
    return t;
  }

  setValue(value: unknown): void {
    this.value = value;
    // A value and list indices cannot coexist: the indices become plain keys.
    for (const i of this.indices) this.branches.add(String(i));
    this.indices.clear();
  }

  addIndex(i: number): Trie {
    if (this.value !== undefined) this.branches.add(String(i));
    else if (!this.branches.has(String(i))) this.indices.add(i);
    return this.child(String(i));
  }

  addBranch(key: string): Trie {
    if (DIGITS.test(key)) this.indices.delete(Number(key));
    this.branches.add(key);
    return this.child(key);
  }
}

function* walk(t: Trie, prefix = ''): Generator<[string, unknown]> {
  const sorted = (): number[] => [...t.indices].sort((a, b) => a - b);
  if (t.value !== undefined) yield [prefix, t.value];
  else if (prefix && t.indices.size > 0) yield [prefix, sorted().map((i) => Object.fromEntries(walk(t.child(String(i)))))];
  else if (t.indices.size > 0) for (const i of sorted()) yield* walk(t.child(String(i)), String(i));
  else if (prefix) {
    yield [prefix, Object.fromEntries(walk(t))];
    return;
  }
  for (const b of t.branches) yield* walk(t.children.get(b)!, prefix ? `${prefix}.${b}` : b);
}

/** Phoenix's view of a JSON-string attribute: the parsed value, or the string when it is not JSON. */
function parseJsonString(value: AttributeValue): unknown {
  if (typeof value !== 'string') return value;
  try {
    const parsed: unknown = JSON.parse(value);
    // Phoenix drops a key whose JSON is empty ({}, null, 0, ""); keeping the string loses nothing.
    return parsed ? parsed : value;
  } catch {
    return value;
  }
}

export function nest(flat: Attributes): Record<string, unknown> {
  const root = new Trie();
  for (const [key, raw] of Object.entries(flat)) {
    if (raw === null || raw === undefined) continue;
    const value = isJsonStringKey(key) ? parseJsonString(raw) : raw;
    const segments = key.split('.');
    let t = root;
    segments.forEach((segment, i) => {
      const last = i === segments.length - 1;
      if (DIGITS.test(segment)) t = last ? t.addBranch(String(Number(segment))) : t.addIndex(Number(segment));
      else t = t.addBranch(segment);
    });
    t.setValue(value);
  }
  return Object.fromEntries(walk(root));
}

const isPrimitive = (v: unknown): v is string | number | boolean => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/**
 * Nested (or the 2023 flat form with lists of flat dicts: keys are joined the same way) → flat
 * attributes. JSON-string keys such as `metadata` go back to JSON strings; lists of objects become
 * indexed keys; lists of plain values stay lists; anything else that an attribute cannot hold is kept
 * as its JSON text.
 */
export function flatten(nested: Record<string, unknown>, out: Attributes = {}, prefix = ''): Attributes {
  for (const [k, v] of Object.entries(nested)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v === null || v === undefined) continue;
    if (isJsonStringKey(key) && typeof v !== 'string') out[key] = JSON.stringify(v);
    else if (isObject(v)) flatten(v, out, key);
    else if (Array.isArray(v) && v.some(isObject)) v.forEach((e, i) => isObject(e) && flatten(e, out, `${key}.${i}`));
    else if (Array.isArray(v)) out[key] = v.every(isPrimitive) ? (v as AttributeValue) : JSON.stringify(v);
    else if (isPrimitive(v)) out[key] = v;
  }
  return out;
}
