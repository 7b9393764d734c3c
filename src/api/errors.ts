// How /api says no: `{"error":{"message"}}`, and the error that becomes a 400.

export const apiError = (message: string): { error: { message: string } } => ({ error: { message } });

/** A bad parameter or body: answered 400 with its message. */
export class BadRequest extends Error {
  override name = 'BadRequest';
}
