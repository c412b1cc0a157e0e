import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';

/** A client's DPoP key: the private key that signs proofs, its public JWK and RFC 7638 thumbprint (cnf.jkt). */
export interface DpopHolder {
  privateKey: CryptoKey;
  jwk: JWK;
  jkt: string;
}

export async function dpopHolder(): Promise<DpopHolder> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = (await exportJWK(publicKey)) as JWK;
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

/** A fresh DPoP proof (RFC 9449 §4.2) by `holder` for one request: its own jti, iat now, ath of the access token. */
export function dpopProof(holder: DpopHolder, o: { htm: string; htu: string; accessToken: string; nonce?: string }): Promise<string> {
  const claims: Record<string, string> = { htm: o.htm, htu: o.htu, ath: createHash('sha256').update(o.accessToken).digest('base64url'), jti: randomUUID() };
  if (o.nonce !== undefined) claims.nonce = o.nonce;
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: holder.jwk }).setIssuedAt().sign(holder.privateKey);
}
