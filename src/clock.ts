// Wall-clock time in nanoseconds since the epoch with the monotonic clock's resolution: spans keep
// ns times, and durations never go backwards when the system clock is adjusted.
const hrBase = process.hrtime.bigint();
const epochBaseNs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));

export const nowNs = (): bigint => epochBaseNs + (process.hrtime.bigint() - hrBase);

export const msBetween = (fromNs: bigint, toNs: bigint): number => Number(toNs - fromNs) / 1e6;
