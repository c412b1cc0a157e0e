import { OAuthError } from './oauth-error.js';

// Errors about the shape of an HTTP request to a proxy endpoint. On the wire they are all
// `invalid_request` (RFC 6749 §5.2); `code` tells them apart for callers.

/** 413: the body is over `bodyLimit`. Still an OAuth-shaped `invalid_request` so clients parse one format. */
export class RequestTooLargeError extends OAuthError {
  /** Always `'request_too_large'`. */
  readonly code = 'request_too_large' as const;
  constructor(limit: number) {
    // The unread rest of the body must not be parsed as a next request on this connection.
    super('invalid_request', `The request body is larger than ${limit} bytes`, 413, { Connection: 'close' });
  }
}

/** 405: the proxies are POST endpoints (RFC 6749 §3.2, RFC 7009 §2.1). */
export class MethodNotAllowedError extends OAuthError {
  /** Always `'method_not_allowed'`. */
  readonly code = 'method_not_allowed' as const;
  constructor() {
    super('invalid_request', 'Use POST', 405, { Allow: 'POST' });
  }
}

/**
 * 415: the body is neither application/x-www-form-urlencoded (RFC 6749 §3.2) nor application/json
 * in UTF-8. Refused rather than guessed at, so a rate limiter in front of the proxy and the proxy
 * itself always agree on what the request says.
 */
export class UnsupportedMediaTypeError extends OAuthError {
  /** Always `'unsupported_media_type'`. */
  readonly code = 'unsupported_media_type' as const;
  constructor(description: string) {
    // The body is not read; closing keeps it from being parsed as a next request.
    super('invalid_request', description, 415, { Connection: 'close' });
  }
}
