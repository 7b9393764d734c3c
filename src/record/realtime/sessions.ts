// Storage thread. The WebSocket sessions open on the server thread, kept up to date as the parts of what
// they captured arrive (one per tick): each message parsed and read into its session's conversation,
// each finished response or transcription made a span and written at once, and the session's own span
// written when it ends, with its children's totals.
import { SemanticConventions as SC } from '@arizeai/openinference-semantic-conventions';

import { isObject } from '../../json.js';
import type { SessionResult } from '../../proxy/session.js';
import type { SessionSummary } from '../../report.js';
import type { AssembleOptions } from '../assemble.js';
import type { Pricing } from '../cost.js';
import { chunksOf } from '../decode.js';
import { routeFor } from '../route.js';
import type { Span } from '../span.js';
import type { CapturedMessages, SessionPart, SessionStart } from './capture.js';
import { Conversation, type Finished } from './conversation.js';
import { addTotals, responseSpan, sessionSpan, type SessionSpans, transcriptionSpan } from './spans.js';

interface Open {
  start: SessionStart;
  spans: SessionSpans;
  conversation: Conversation;
  /** Token counts of the spans written so far, added up (spans.ts). */
  totals: Map<string, number>;
  dropped: number;
}

export class RealtimeSessions {
  readonly #open = new Map<string, Open>();

  constructor(
    private readonly opts: AssembleOptions,
    private readonly pricing: Pricing,
    /** Where each span goes (the writer). */
    private readonly write: (span: Span) => void,
    /** Told when a session ended and its span was written (its log line). */
    private readonly ended: (result: SessionResult, summary: SessionSummary) => void,
  ) {}

  take(part: SessionPart): void {
    const id = part.session.ctx.spanId;
    let open = this.#open.get(id);
    // A session's first part, or its first since the storage thread restarted.
    if (!open) this.#open.set(id, (open = this.#begin(part.session)));
    if (part.messages) this.#read(open, part.messages);
    if (part.end) {
      this.#open.delete(id);
      this.#end(open, part.end);
    }
  }

  #begin(start: SessionStart): Open {
    const { providers } = this.opts;
    const spans: SessionSpans = {
      ctx: start.ctx,
      project: this.opts.project,
      provider: routeFor('GET', start.path).azure ? providers.azure : providers.upstream,
      mask: this.opts.mask,
      pricing: this.pricing,
    };
    const open: Open = {
      start,
      spans,
      conversation: new Conversation(this.opts.captureMaxBytes, (finished) => this.#finished(open, finished)),
      totals: new Map(),
      dropped: 0,
    };
    return open;
  }

  #read(open: Open, messages: CapturedMessages): void {
    open.dropped += messages.dropped;
    let i = 0;
    for (const [bytes, atNs] of chunksOf(messages)) {
      const fromClient = messages.fromClient[i] === 1;
      const audio = messages.audio[i++]!;
      let event: unknown;
      try {
        event = JSON.parse(bytes.toString('utf8'));
      } catch {
        continue; // not the API's JSON: relayed all the same, nothing to trace
      }
      if (isObject(event)) open.conversation.event(event, fromClient, atNs, audio);
    }
  }

  #finished(open: Open, finished: Finished): void {
    const { conversation, start } = open;
    const span =
      finished.kind === 'response'
        ? responseSpan(open.spans, conversation, finished, conversation.model ?? start.query.model ?? start.query.deployment)
        : transcriptionSpan(open.spans, conversation, finished);
    addTotals(open.totals, span.attributes);
    this.write(span);
  }

  #end(open: Open, result: SessionResult): void {
    const { conversation, start } = open;
    if (start.realtime) conversation.end(result.endNs);
    const root = sessionSpan(open.spans, start, result, start.realtime ? conversation : undefined, open.totals, open.dropped);
    this.write(root);
    const summary: SessionSummary = { spanId: root.spanId, responses: conversation.responses, errors: conversation.errorCount };
    const model = root.attributes[SC.LLM_MODEL_NAME];
    if (typeof model === 'string') summary.model = model;
    const total = open.totals.get('token_count.total');
    if (total !== undefined) summary.totalTokens = total;
    this.ended(result, summary);
  }
}
