import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JWK,
  type JWTPayload,
} from 'jose';

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

const ALG = 'RS256';

async function newKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(ALG);
  const jwk = await exportJWK(publicKey);
  // A thumbprint kid is stable for the key and unique across rotations without a counter.
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, privateKey, publicJwk: { ...jwk, kid, alg: ALG, use: 'sig' } };
}

/**
 * Current key plus at most one previous key, like a real IdP mid-rotation: tokens signed just before a
 * rotation keep verifying until the next rotation (or an explicit removeOld) drops the old key.
 */
export class KeyStore {
  private constructor(
    private current: SigningKey,
    private previous?: SigningKey,
  ) {}

  static async create(): Promise<KeyStore> {
    return new KeyStore(await newKey());
  }

  async rotate(removeOld = false): Promise<void> {
    const next = await newKey();
    this.previous = removeOld ? undefined : this.current;
    this.current = next;
  }

  jwks(): { keys: JWK[] } {
    return { keys: [this.current, this.previous].filter((k): k is SigningKey => !!k).map((k) => k.publicJwk) };
  }

  /**
   * `kid` picks a published key; an unknown kid still signs with the current key but advertises the
   * unknown kid, which is exactly what tests of "kid not in JWKS" need.
   */
  async sign(payload: JWTPayload, typ: string, kid?: string): Promise<string> {
    const key = [this.current, this.previous].find((k) => k && k.kid === kid) ?? this.current;
    return new SignJWT(payload)
      .setProtectedHeader({ alg: ALG, typ, kid: kid ?? key.kid })
      .sign(key.privateKey);
  }

  /** Verifies against the currently published set only. */
  async verify(token: string, issuer: string): Promise<JWTPayload | undefined> {
    try {
      const { payload } = await jwtVerify(token, createLocalJWKSet(this.jwks()), {
        issuer,
        algorithms: [ALG],
      });
      return payload;
    } catch {
      return undefined;
    }
  }
}
