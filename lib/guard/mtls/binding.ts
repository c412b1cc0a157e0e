import type { ChallengeBase } from '../dpop/sender-constraint.js';
import { bearerChallenge } from '../../bearer/challenge.js';
import type { GuardRequest } from '../../bearer/guard-request.js';
import { InvalidRequestError, InvalidTokenError } from '../../errors/oauth-error.js';
import type { VerifiedToken } from '../verifier.js';
import { certificateFromHeader, certificateThumbprint, sameThumbprint } from './certificate.js';
import type { ResolvedMtls } from './options.js';

/** What `req.auth.mtls` holds once a certificate-bound token matched the request's certificate. */
export interface MtlsResult {
  /** RFC 8705 §3.1 SHA-256 thumbprint of the client certificate (the token's `cnf["x5t#S256"]`). */
  x5tS256: string;
}

/** The certificate thumbprint a token is bound to (`cnf["x5t#S256"]`): undefined when unbound, null when the claim is there but not a string. */
export function boundCertificate(payload: VerifiedToken['payload']): string | undefined | null {
  const cnf = payload.cnf as Record<string, unknown> | undefined;
  if (cnf === undefined || cnf === null || typeof cnf !== 'object' || !Object.hasOwn(cnf, 'x5t#S256')) return undefined;
  const x5t = cnf['x5t#S256'];
  return typeof x5t === 'string' && x5t !== '' ? x5t : null;
}

/**
 * RFC 8705 §3 on the resource server: a token bound to a certificate is accepted only on a
 * request whose client certificate has that thumbprint. Per request, never cached: the same token
 * answered from the verified-token cache goes through here again. The certificate is read only
 * for a bound token, so an unbound one costs nothing.
 */
export class CertificateBinding {
  constructor(
    private readonly cfg: ResolvedMtls,
    /** The guard's realm and, with resourceMetadata, the RFC 9728 document URL: every challenge names them. */
    private readonly base: ChallengeBase,
    /** One operator line when a bound token arrives where no certificate can be read at all. */
    private readonly hint: (line: string) => void,
  ) {}

  #refuse(description: string): InvalidTokenError {
    return new InvalidTokenError(description, {
      headers: { 'WWW-Authenticate': bearerChallenge({ ...this.base, error: 'invalid_token', errorDescription: description }) },
    });
  }

  /**
   * The binding the mode lets through: undefined for an unbound token that may pass, the
   * thumbprint a bound one needs; throws the refusal otherwise.
   */
  #bound(verified: VerifiedToken): string | undefined {
    const bound = boundCertificate(verified.payload);
    const { mode } = this.cfg;
    if (bound === undefined) {
      if (mode === 'required') throw this.#refuse('This API accepts only certificate-bound tokens (RFC 8705); request one with your client certificate');
      return undefined;
    }
    if (mode === 'disabled') throw this.#refuse('The token is bound to a client certificate (RFC 8705), which this API does not check');
    if (bound === null) throw this.#refuse('The token\'s cnf "x5t#S256" is not a certificate thumbprint');
    return bound;
  }

  #match(bound: string, der: Uint8Array | undefined): MtlsResult {
    if (der === undefined) throw this.#refuse('The token is bound to a client certificate and the request presented none');
    const x5tS256 = certificateThumbprint(der);
    if (!sameThumbprint(x5tS256, bound)) throw this.#refuse('The token is bound to another client certificate');
    return { x5tS256 };
  }

  /**
   * Outside a request (`verify(token, { clientCertificate })`): the DER the caller read from the
   * connection (or from its proxy's header) is the certificate. Anything but bytes counts as none.
   */
  checkCertificate(verified: VerifiedToken, der: unknown): MtlsResult | undefined {
    const bound = this.#bound(verified);
    if (bound === undefined) return undefined;
    return this.#match(bound, der instanceof Uint8Array && der.length > 0 ? der : undefined);
  }

  /** Undefined for an unbound token (allowed), the match for a bound one; throws the refusal otherwise. Synchronous: the cache-hit path. */
  check(req: GuardRequest, verified: VerifiedToken): MtlsResult | undefined {
    const bound = this.#bound(verified);
    if (bound === undefined) return undefined;
    const { header } = this.cfg;
    let der: Uint8Array | undefined | null = undefined;
    if (header !== undefined) {
      der = certificateFromHeader(req.headers[header.name], header.format);
      if (der === null) {
        const description = 'The client certificate forwarded by the proxy could not be read';
        throw new InvalidRequestError(description, {
          headers: { 'WWW-Authenticate': bearerChallenge({ ...this.base, error: 'invalid_request', errorDescription: description }) },
        });
      }
    } else if (req.clientCertificate === undefined) {
      this.hint('a certificate-bound token (RFC 8705) arrived where no TLS client certificate can be read (plain http, or webAuth()); behind a TLS-terminating proxy, set mtls.certificateHeader');
    } else {
      der = req.clientCertificate();
    }
    return this.#match(bound, der);
  }
}
