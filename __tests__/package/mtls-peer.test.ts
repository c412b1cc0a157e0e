/**
 * undici, the optional peer dependency behind the `tls` option (RFC 8705 client certificates), as a
 * user meets it from the packed package: without it installed, importing the package never needs
 * it and `tls` is a ConfigError saying `npm install undici` (ESM and CommonJS); with it installed,
 * `tls` loads it from the user's node_modules.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestPki } from '../../fixtures/certificates.js';
import { installConsumer, packPackage, pinned, run } from '../support/pack.js';

let without: string;
let withUndici: string;

beforeAll(() => {
  const { tarball } = packPackage();
  without = mkdtempSync(join(tmpdir(), 'oauth-kit-no-undici-'));
  withUndici = mkdtempSync(join(tmpdir(), 'oauth-kit-undici-'));
  installConsumer(without, tarball, [pinned('express')], { type: 'module' });
  installConsumer(withUndici, tarball, [pinned('express'), pinned('undici')], { type: 'module' });
  const pki = makeTestPki();
  for (const dir of [without, withUndici]) {
    writeFileSync(join(dir, 'client.crt'), pki.clientA.cert);
    writeFileSync(join(dir, 'client.key'), pki.clientA.key);
  }
}, 240_000);

afterAll(() => {
  for (const dir of [without, withUndici]) rmSync(dir, { recursive: true, force: true });
});

const program = (load: string) => `${load}
const fs = await import('node:fs');
const tls = { cert: fs.readFileSync('client.crt'), key: fs.readFileSync('client.key') };
try {
  kit.createM2MClient({ tokenEndpoint: 'https://idp.example.com/token', clientId: 'svc', tls });
  console.log('ok');
} catch (err) {
  console.log(err instanceof kit.ConfigError ? err.code + ': ' + err.message : 'other: ' + err);
}
`;

test('without undici: the package loads, and tls is a ConfigError that says how to install it (ESM and CommonJS)', () => {
  writeFileSync(join(without, 'esm.mjs'), program("const kit = await import('express-oauth-kit');"));
  writeFileSync(join(without, 'cjs.cjs'), `(async () => {${program("const kit = require('express-oauth-kit');")}})();`);
  for (const file of ['esm.mjs', 'cjs.cjs']) {
    const out = run(process.execPath, ['--no-warnings', file], without).trim();
    expect(out).toMatch(/^config_mtls: createM2MClient\(\): tls needs the optional peer dependency undici .*npm install undici/);
  }
});

test('with undici installed: tls loads it from the application', () => {
  writeFileSync(join(withUndici, 'esm.mjs'), program("const kit = await import('express-oauth-kit');"));
  expect(run(process.execPath, ['--no-warnings', 'esm.mjs'], withUndici).trim()).toBe('ok');
});
