/**
 * Errors in Stripe's shape. The domain throws these; the HTTP layer renders them.
 * Nothing here knows about HTTP frameworks: the status code is data.
 */
export type ErrorType =
  | 'api_error'
  | 'card_error'
  | 'idempotency_error'
  | 'invalid_request_error'
  | 'authentication_error'
  | 'rate_limit_error';

export interface ErrorBody {
  type: ErrorType;
  code?: string;
  decline_code?: string;
  message: string;
  param?: string;
  doc_url?: string;
  [extra: string]: unknown;
}

/** Stripe's page about an error code (`card_declined` -> .../error-codes/card-declined). */
export const errorDocUrl = (code: string) => `https://docs.stripe.com/error-codes/${code.replace(/_/g, '-')}`;

export class ApiError extends Error {
  readonly status: number;
  readonly body: ErrorBody;
  readonly headers: Record<string, string>;
  /**
   * A transient refusal (another request holds the object): not saved under the idempotency
   * key, so a retry with the same key runs again instead of replaying the refusal.
   */
  readonly transient: boolean;

  constructor(status: number, body: ErrorBody, headers: Record<string, string> = {}, transient = false) {
    super(body.message);
    this.status = status;
    this.body = body;
    this.headers = headers;
    this.transient = transient;
  }
}

/** Another request is changing this object right now (Stripe's lock_timeout). Retry shortly. */
export function objectBusy(kind: string, id: string): ApiError {
  return new ApiError(409, {
    type: 'invalid_request_error',
    code: 'lock_timeout',
    message: `This ${kind} (${id}) is being changed by another request right now. Retry shortly.`,
  }, { 'Retry-After': '1', 'Stripe-Should-Retry': 'true' }, true);
}

export function invalidRequest(message: string, param?: string, code?: string): ApiError {
  return new ApiError(400, { type: 'invalid_request_error', message, ...(code ? { code } : {}), ...(param ? { param } : {}) });
}

export function missingParam(param: string): ApiError {
  return invalidRequest(`Missing required param: ${param}.`, param, 'parameter_missing');
}

export function unknownParam(param: string): ApiError {
  return invalidRequest(`Received unknown parameter: ${param}`, param, 'parameter_unknown');
}

/** 404 when the URL names the object, 400 when a parameter does (as Stripe answers). */
export function resourceMissing(kind: string, id: string, param = 'id'): ApiError {
  return new ApiError(param === 'id' ? 404 : 400, {
    type: 'invalid_request_error',
    code: 'resource_missing',
    message: `No such ${kind}: '${id}'`,
    param,
  });
}


/** An unexpected failure: safe to retry, the idempotency engine resumes where it stopped. */
/**
 * The database could not be reached or went away mid-request (a restart, a failover): 503, retry.
 * A command's committed phases stay committed and its key keeps its recovery point, so the
 * retry with the same key resumes it; nothing is done twice.
 */
export function databaseUnavailable(): ApiError {
  return new ApiError(503, {
    type: 'api_error', code: 'database_unavailable',
    message: 'The database is unavailable right now (restarting or unreachable). Retry with the same Idempotency-Key: the request resumes where it stopped.',
  }, { 'Retry-After': '1', 'Stripe-Should-Retry': 'true' });
}

export function apiError(message = 'An unexpected error occurred while processing your request. Retrying with the same Idempotency-Key resumes it safely.'): ApiError {
  return new ApiError(500, { type: 'api_error', message }, { 'Stripe-Should-Retry': 'true' });
}
