// Polling for what happens off the request's path: spans written on a timer, log lines and exports
// that come from the storage thread.

/**
 * Calls `get` every 20 ms until it returns something other than `undefined` or `false`, and returns
 * that; throws "`what` did not happen within …" past the timeout.
 */
export async function eventually<T>(get: () => T | Promise<T>, what: string, timeoutMs = 5000): Promise<Exclude<T, undefined | false>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await get();
    if (value !== undefined && value !== false) return value as Exclude<T, undefined | false>;
    if (Date.now() > end) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
