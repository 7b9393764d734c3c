// The operating system's reason for a failed call, in words, for messages that also name the file or the
// setting involved (the raw `ENOENT: no such file or directory, open 'x'` says neither why it matters nor what to change).
import { getSystemErrorMap } from 'node:util';

/** `address already in use (EADDRINUSE)` for a Node system error; the message of any other error. */
export function systemReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const words = typeof e.errno === 'number' ? getSystemErrorMap().get(e.errno)?.[1] : undefined;
  if (words && e.code) return `${words} (${e.code})`;
  return err instanceof Error ? err.message : String(err);
}

/** Whether this is an error of a system call (it has an errno), as opposed to one of llmtap's own. */
export const isSystemError = (err: unknown): err is NodeJS.ErrnoException =>
  err instanceof Error && typeof (err as NodeJS.ErrnoException).errno === 'number' && typeof (err as NodeJS.ErrnoException).code === 'string';
