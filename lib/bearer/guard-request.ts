/**
 * The request as the guard sees it, whatever the framework: each adapter (Express, node:http,
 * web-standard `Request`) fills it in from its own request object. Kept to what RFC 6750 token
 * extraction, an RFC 9449 proof check and an RFC 8705 certificate check read, so the core needs no framework.
 *
 * @typeParam Native - the framework's own request type, handed to user callbacks (`getToken`,
 * the `issuers` resolver) as `native`.
 */
export interface GuardRequest<Native = unknown> {
  /** HTTP method, upper case as sent (`GET`); a DPoP proof's `htm` must equal it. */
  readonly method: string;
  /**
   * The request target as received, path and query (`/orders?id=1`), before any router rewrote
   * it: a DPoP proof's `htu` names this path; the query is read for `tokenLocations: ['query']`.
   */
  readonly url: string;
  /** Header values by lower-case name (Node's `IncomingMessage.headers` shape). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /**
   * Name/value pairs as received (Node's `rawHeaders`), if the adapter has them: how a second
   * `Authorization` header is seen when `headers` kept only one. Optional.
   */
  readonly rawHeaders?: readonly string[];
  /** The parsed query, if the framework parsed it; otherwise the guard parses `url` when it needs to. */
  readonly query?: unknown;
  /** The parsed body, if a body parser ran (read only for `tokenLocations: ['body']`). */
  readonly body?: unknown;
  /** `http` or `https`, as the adapter trusts it (behind a proxy: its forwarded scheme). For DPoP `htu`. */
  readonly protocol: string;
  /** The host (and port) the client addressed, as the adapter trusts it; undefined when none. For DPoP `htu`. */
  readonly host: string | undefined;
  /**
   * The DER bytes of the client certificate the TLS connection presented, or undefined when it
   * presented none. Read only for a certificate-bound token (RFC 8705), so a function: reading the
   * peer certificate costs something. Absent when the request did not come over TLS (or the
   * adapter cannot see the connection, as with a web-standard `Request`).
   */
  readonly clientCertificate?: () => Uint8Array | undefined;
  /** The framework's request object, passed to the application's callbacks. */
  readonly native: Native;
}
