// The shape every recorded endpoint has: request → attributes, response or stream → attributes.
import type { Attributes } from './span.js';

export type Json = Record<string, unknown>;

export interface StreamOutcome {
  /** When the first content or tool delta reached the client. */
  firstTokenNs?: bigint;
  /** An error event inside a 200 stream. */
  error?: { type: string; message: string };
}

/** Accumulates a streamed response event by event, keeping only what the span needs. */
export interface StreamReader {
  event(data: Json, atNs: bigint, name?: string): void;
  finish(attrs: Attributes): StreamOutcome;
}

export interface Endpoint {
  spanName: string;
  /** OpenInference span kind. */
  spanKind: string;
  request(body: Json, attrs: Attributes): void;
  response(body: Json, attrs: Attributes): void;
  stream(): StreamReader;
}

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
