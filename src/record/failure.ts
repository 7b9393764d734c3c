// Storage thread. Why an exchange failed, named the way the openai SDKs name their errors, for the span's status
// (`<ErrorType>: <message>`) and its `exception` event.
import { isObject } from '../json.js';
import type { ExchangeResult } from '../proxy/exchange.js';

export interface Failure {
  type: string;
  message: string;
}

const BY_STATUS: Record<number, string> = {
  400: 'BadRequestError',
  401: 'AuthenticationError',
  403: 'PermissionDeniedError',
  404: 'NotFoundError',
  409: 'ConflictError',
  422: 'UnprocessableEntityError',
  429: 'RateLimitError',
};

const errorClass = (status: number): string => BY_STATUS[status] ?? (status >= 500 ? 'InternalServerError' : 'APIError');

/** An error answer from the upstream (or llmtap's own 4xx): the API's error message when it has one. */
export function httpFailure(status: number, body: Buffer | undefined): Failure {
  let message = `${status} status code (no body)`;
  if (body && body.length > 0) {
    const text = body.toString('utf8');
    try {
      const parsed: unknown = JSON.parse(text);
      const error = isObject(parsed) ? parsed.error : undefined;
      message = isObject(error) && typeof error.message === 'string' ? error.message : text.slice(0, 1000);
    } catch {
      message = text.slice(0, 1000);
    }
  }
  return { type: errorClass(status), message };
}

/** Failures of the exchange itself (transport, timeouts, the client leaving), as the proxy classified them. */
export function transportFailure(r: Pick<ExchangeResult, 'outcome' | 'error'>): Failure | undefined {
  const timeout = r.error?.kind === 'timeout';
  const detail = r.error?.message ?? 'unknown error';
  switch (r.outcome) {
    case 'upstream_failed':
      return timeout
        ? { type: 'APIConnectionTimeoutError', message: `upstream did not answer in time (${detail})` }
        : { type: 'APIConnectionError', message: `upstream unreachable (${detail})` };
    case 'upstream_broke':
      return timeout
        ? { type: 'APIConnectionTimeoutError', message: `upstream went silent mid-response (${detail})` }
        : { type: 'APIConnectionError', message: `upstream connection broke mid-response (${detail})` };
    case 'client_aborted':
      return { type: 'APIUserAbortError', message: 'Request was cancelled: the client disconnected before the response ended' };
    default:
      return undefined;
  }
}
