import { calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';

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
