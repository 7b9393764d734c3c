// Times as Python's `datetime.isoformat()` writes UTC times, the form Phoenix's span JSON uses:
// `2024-01-11T23:45:17.982858+00:00`, microseconds left out when zero. Spans keep nanoseconds; this form
// carries microseconds: written, a time is the microsecond Phoenix's own OTLP decoder makes of the same
// nanoseconds, so that llmtap's JSONL of a span equals Phoenix's; read, ns = µs × 1000.
import { PhoenixFormatError } from './format-error.js';

const NS_PER_MS = 1_000_000n;

export function nsToIso(ns: bigint): string {
  const { seconds, micros } = phoenixMicroseconds(ns);
  const whole = new Date(seconds * 1000).toISOString().slice(0, 19);
  return `${whole}${micros === 0 ? '' : `.${String(micros).padStart(6, '0')}`}+00:00`;
}

/**
 * Phoenix decodes an OTLP time as `datetime.fromtimestamp(time_unix_nano / 1e9, tz=timezone.utc)`
 * (phoenix/trace/otel.py): the nanoseconds as a double, divided into seconds, whose fraction CPython
 * rounds half to even at the microsecond (_PyTime_ROUND_HALF_EVEN, in double arithmetic). The same steps,
 * in the same IEEE doubles: the nearest microsecond, give or take the double's rounding within about
 * 0.25 µs of a half microsecond, exactly as Phoenix has it. A time made of whole microseconds (an
 * imported one) comes back unchanged.
 */
export function phoenixMicroseconds(ns: bigint): { seconds: number; micros: number } {
  const t = Number(ns) / 1e9;
  let seconds = Math.trunc(t); // modf: t - seconds is exact
  let micros = roundHalfEven((t - seconds) * 1e6);
  if (micros >= 1e6) {
    micros -= 1e6;
    seconds += 1;
  } else if (micros < 0) {
    micros += 1e6;
    seconds -= 1;
  }
  return { seconds, micros };
}

/** CPython's pytime_round_half_even. */
function roundHalfEven(x: number): number {
  const rounded = Math.round(x);
  return Math.abs(x - rounded) === 0.5 ? 2 * Math.round(x / 2) : rounded;
}

// What Python's `datetime.fromisoformat` reads in practice: a date, optionally a time with up to nine
// fraction digits, optionally an offset (`Z`, `±HH`, `±HH:MM`, `±HHMM`). A time without an offset
// (the 2023 Phoenix tracer wrote naive times) is taken as UTC.
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?)?(?:([Zz])|([+-])(\d{2})(?::?(\d{2}))?)?$/;

/** Nanoseconds since the epoch, or undefined when the text is not such a time. */
export function isoToNs(text: string): bigint | undefined {
  const m = ISO.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', fraction = '', , sign, oh = '0', om = '0'] = m;
  const parts = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)] as const;
  const ms = Date.UTC(...parts);
  const date = new Date(ms);
  // Date.UTC rolls over out-of-range fields (Feb 30 → Mar 2); a real date reads back the same.
  if (date.getUTCFullYear() !== parts[0] || date.getUTCMonth() !== parts[1] || date.getUTCDate() !== parts[2] || date.getUTCHours() !== parts[3])
    return undefined;
  if (parts[4] > 59 || parts[5] > 59 || Number(oh) > 23 || Number(om) > 59) return undefined;
  const offsetMinutes = sign ? (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) : 0;
  return BigInt(ms - offsetMinutes * 60_000) * NS_PER_MS + BigInt(fraction.padEnd(9, '0'));
}

/** An ISO time given as `name` (a parameter, an option), in ns; a PhoenixFormatError says what was expected. */
export function parseIsoTime(name: string, value: string): bigint {
  const ns = isoToNs(value);
  if (ns === undefined) throw new PhoenixFormatError(`${name} must be an ISO-8601 time such as 2024-05-01T12:00:00Z, got "${value}"`);
  return ns;
}
