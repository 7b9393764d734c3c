// Both threads. LLMTAP_CAPTURE_MEMORY_BYTES: one budget for every byte llmtap holds because of an
// exchange — request bodies read before forwarding, response bytes copied for the span — so that no
// number or size of requests can exhaust memory. The server thread takes from it as it holds bytes (a
// Hold per exchange); what a finished exchange keeps for its span travels to the storage thread, which
// gives it back once the span is written. When the budget is spent, an exchange records what fit and is
// marked truncated: traffic itself is never slowed or refused because of it. The counters live in
// shared memory, so both threads see the one budget.

/**
 * What a byte kept for a span costs: the copy, then the span's text and the SQLite row built from it
 * (measured: recording 40 large streams took about twice the bytes it captured, beyond what carrying
 * the same streams unrecorded took). Captured bytes are charged at this rate.
 */
export const RECORDED_BYTE_COST = 2;

const HELD = 0; // bytes held, by either thread
const HANDED = 1; // of those, bytes handed to the storage thread and not yet given back

export class MemoryBudget {
  readonly #counts: BigInt64Array;

  /** `shared`: the counters of an existing budget (the storage thread's view of the server thread's). */
  constructor(
    readonly limit: number,
    readonly shared = new SharedArrayBuffer(2 * BigInt64Array.BYTES_PER_ELEMENT),
  ) {
    this.#counts = new BigInt64Array(shared);
  }

  /** Bytes held now. */
  get held(): number {
    return Number(Atomics.load(this.#counts, HELD));
  }

  /** Takes `n` bytes if they fit in the budget. */
  take(n: number): boolean {
    const after = Atomics.add(this.#counts, HELD, BigInt(n)) + BigInt(n);
    if (after <= BigInt(this.limit)) return true;
    Atomics.sub(this.#counts, HELD, BigInt(n));
    return false;
  }

  give(n: number): void {
    if (n > 0) Atomics.sub(this.#counts, HELD, BigInt(n));
  }

  /** Server thread: `n` bytes held travel to the storage thread, which gives them back (`given`). */
  handOver(n: number): void {
    Atomics.add(this.#counts, HANDED, BigInt(n));
  }

  /** Storage thread: the `n` bytes it was handed are no longer held. */
  given(n: number): void {
    Atomics.sub(this.#counts, HANDED, BigInt(n));
    this.give(n);
  }

  /** Server thread, when the storage thread was lost: what it had been handed went with it. */
  reclaimHanded(): void {
    this.give(Number(Atomics.exchange(this.#counts, HANDED, 0n)));
  }

  hold(): Hold {
    return new Hold(this);
  }
}

/** What one exchange holds of the budget. */
export class Hold {
  #bytes = 0;

  constructor(private readonly budget: MemoryBudget) {}

  /** Takes `n` more bytes if they fit. */
  take(n: number): boolean {
    if (!this.budget.take(n)) return false;
    this.#bytes += n;
    return true;
  }

  /** The bytes held leave with the captured exchange (given back later by whoever ends up with it); returns how many. */
  detach(): number {
    const out = this.#bytes;
    this.#bytes = 0;
    return out;
  }

  /** Gives back what is still held. */
  release(): void {
    this.budget.give(this.#bytes);
    this.#bytes = 0;
  }
}
