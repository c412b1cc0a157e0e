/**
 * The client certificate's private key (RFC 8705 tls_client_auth) as the secret a shared token
 * store's sealing keys derive from: the key itself, not its PEM text. An encrypted key's
 * passphrase must protect the sealed tokens too, one key in two PEM forms must seal alike (a
 * fleet shares its tokens), and the material must survive the KDF wiping the buffer it was given.
 */
import { createPrivateKey } from 'node:crypto';
import { IdpClient } from '../../lib/idp/idp-client.js';
import { OptionChecker } from '../../lib/options/validate.js';
import { makeTestPki, type TestPki } from '../../fixtures/certificates.js';

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});

function storeSecret(tls: { cert: string; key: string; passphrase?: string }): Buffer {
  const idp = new IdpClient({ clientId: 'svc', tokenEndpoint: 'https://idp.example.test/token', tls } as never, new OptionChecker('createM2MClient()', 'mtls.md#client-certificates'));
  return idp.storeSecret() as Buffer;
}

test('one key in PKCS#8, SEC1 and passphrase-encrypted PEM: the same store secret, not derived from the PEM text', () => {
  const { cert, key } = pki.clientA;
  const keyObject = createPrivateKey(key);
  const sec1 = keyObject.export({ format: 'pem', type: 'sec1' }) as string;
  const encrypted = keyObject.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'correct horse' }) as string;

  const plain = storeSecret({ cert, key });
  expect(storeSecret({ cert, key: sec1 })).toEqual(plain);
  expect(storeSecret({ cert, key: key.replace(/\n/g, '\r\n') })).toEqual(plain);
  const fromEncrypted = storeSecret({ cert, key: encrypted, passphrase: 'correct horse' });
  expect(fromEncrypted).toEqual(plain);
  // What the encrypted file alone gives is not what the store's keys come from.
  expect(fromEncrypted.includes(Buffer.from(encrypted))).toBe(false);
  expect(plain.includes(Buffer.from('PRIVATE KEY'))).toBe(false);
  // Another key: another secret.
  expect(storeSecret({ cert: pki.clientB.cert, key: pki.clientB.key })).not.toEqual(plain);
});

test('the store secret is a fresh copy each time: the KDF wiping one does not zero the next', () => {
  const idp = new IdpClient({ clientId: 'svc', tokenEndpoint: 'https://idp.example.test/token', tls: { cert: pki.clientA.cert, key: pki.clientA.key } } as never, new OptionChecker('createM2MClient()', 'mtls.md#client-certificates'));
  const first = idp.storeSecret() as Buffer;
  const copy = Buffer.from(first);
  first.fill(0); // what deriveSealKeys() does once scrypt has read it
  const second = idp.storeSecret() as Buffer;
  expect(second).toEqual(copy);
  expect(second.some((b) => b !== 0)).toBe(true);
});
