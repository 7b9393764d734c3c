/** A bad command line: the message and a pointer to --help go to stderr, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
