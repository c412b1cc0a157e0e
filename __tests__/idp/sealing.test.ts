/**
 * The one sealing construction (lib/idp/sealing.ts), used by the M2M token store and the
 * introspection cache: entries sealed before the M2M store moved onto it still open (a fleet
 * upgraded instance by instance keeps sharing tokens), and keys for one purpose open nothing of another.
 */
import { deriveSealer } from '../../lib/idp/sealing.js';
import { deriveSealKeys } from '../../lib/m2m/store/seal.js';

// Written by lib/m2m/store/seal.ts as it was before it used lib/idp/sealing.ts.
const VECTOR = {
  storeKey: 'm2m:vector#kxDIRxi_POSJpAy7',
  sealed:
    'v1.yFT-wYTNkuCMONR_.U60vhdfFWIOthqkD6tuV3oii1DZWsXmp5kNEHtPdfL2p_ZHTBfZjonswbWZebm2l9n6j9uBIy9NIW9IU9jg2_O0fviIPdmuUgKQrEv28VXEU0SmPTPCp5ZlyUA21daGm9O4rEWu2QCLS21xywY87rq9i8-s.yEOek7acgmmEG3solf4z8w',
};

test('an M2M store entry sealed by the earlier code opens, under the same store key', async () => {
  const keys = await deriveSealKeys('vector-secret-1234', 'https://idp.example/token', 'vector-client');
  expect(keys.storeKey('m2m:vector')).toBe(VECTOR.storeKey);
  expect(keys.unseal(VECTOR.sealed, VECTOR.storeKey)).toEqual({ accessToken: 'vector.token', tokenType: 'Bearer', expiresAt: 2000000000000, issuedAt: 1000000000000, scope: 'a b' });
  // Another key, another secret: a miss.
  expect(keys.unseal(VECTOR.sealed, 'm2m:other#kxDIRxi_POSJpAy7')).toBeUndefined();
  const other = await deriveSealKeys('another-secret-1234', 'https://idp.example/token', 'vector-client');
  expect(other.unseal(VECTOR.sealed, VECTOR.storeKey)).toBeUndefined();
});

test('keys for one purpose or context open nothing sealed for another; garbage is undefined', async () => {
  const a = await deriveSealer('same-secret-1234', 'introspection cache', ['https://idp', 'https://idp/introspect', 'api']);
  const b = await deriveSealer('same-secret-1234', 'introspection cache', ['https://idp', 'https://idp/other', 'api']);
  const m2m = await deriveSealer('same-secret-1234', 'm2m token store', ['https://idp/introspect', 'api']);
  const key = a.storeKey('x');
  const sealed = a.seal({ active: true }, key);
  expect(a.unseal(sealed, key)).toEqual({ active: true });
  expect(b.unseal(sealed, key)).toBeUndefined();
  expect(m2m.unseal(sealed, key)).toBeUndefined();
  expect(a.storeKey('x')).not.toBe(b.storeKey('x'));
  expect(a.mac('token')).not.toBe(b.mac('token'));
  for (const junk of [undefined, null, 42, '', 'v1.a.b.c', 'v2.' + sealed.slice(3), sealed.slice(0, -2)]) expect(a.unseal(junk, key)).toBeUndefined();
});
