import { OAuthKitError, setErrorName, type OAuthKitErrorOptions } from './base.js';
import type { ConfigErrorCode } from './codes.js';

export type { ConfigErrorCode } from './codes.js';

/** A section of a page under docs/, e.g. `require-auth.md#options`. */
export type DocsTopic = `${string}.md#${string}`;

// The docs ship in the package (docs/*.md), so this path exists on every machine that can throw
// the error, offline and for the installed version; a web URL could describe another version.
const DOCS = 'express-oauth-kit/docs/';

/**
 * Where each code is explained when the thrower names no page of its own: one section per code
 * in docs/errors.md, saying what it means and how to fix it. A Record, so a new code without a
 * section does not compile; docs-links.test.ts proves every section exists.
 */
export const CONFIG_ERROR_DOCS: Readonly<Record<ConfigErrorCode, DocsTopic>> = {
  config_options: 'errors.md#config_options',
  config_issuer: 'errors.md#config_issuer',
  config_audience: 'errors.md#config_audience',
  config_keys: 'errors.md#config_keys',
  config_algorithms: 'errors.md#config_algorithms',
  config_url: 'errors.md#config_url',
  config_client: 'errors.md#config_client',
  config_grants: 'errors.md#config_grants',
  config_number: 'errors.md#config_number',
  config_token_location: 'errors.md#config_token_location',
  config_cookie: 'errors.md#config_cookie',
  config_store: 'errors.md#config_store',
  config_resource_metadata: 'errors.md#config_resource_metadata',
  config_mtls: 'errors.md#config_mtls',
};

/** Options of {@link ConfigError}. */
export interface ConfigErrorOptions extends OAuthKitErrorOptions {
  /** Which kind of option is wrong. @defaultValue `'config_options'` */
  code?: ConfigErrorCode;
  /** The docs section that explains the option; without one, the code's section in docs/errors.md. */
  topic?: `${string}.md#${string}`;
}

/**
 * Thrown synchronously by a factory (`requireAuth`, `tokenProxy`, `createM2MClient`,
 * `redisTokenStore`, ...) when its options are invalid, so a bad deployment fails at start-up
 * instead of answering requests wrongly. Never sent to an HTTP client. The message names the
 * option, never a secret's value. Like every error of the package it extends {@link OAuthKitError}
 * (0.1 made it a `TypeError`; see CHANGELOG.md).
 *
 * @example
 * ```ts
 * try {
 *   app.use('/api', requireAuth({ issuer: process.env.ISSUER!, audience: 'api' }));
 * } catch (err) {
 *   if (err instanceof ConfigError) {
 *     console.error(`${err.code}: ${err.message}\nSee ${err.docs}`);
 *     process.exit(1);
 *   }
 *   throw err;
 * }
 * ```
 */
export class ConfigError extends OAuthKitError {
  /** Always `"ConfigError"`. */
  declare readonly name: 'ConfigError';
  static {
    setErrorName(this, 'ConfigError');
  }
  /** Stable identifier of what is wrong (which kind of option); see {@link ConfigErrorCode}. */
  readonly code: ConfigErrorCode;
  /** Page and section that explain the option, e.g. `express-oauth-kit/docs/require-auth.md#options`. */
  readonly docs: string;
  /**
   * @param description - names the factory and the option and says what to fix; never a secret's value.
   * @param options - `code` (default `config_options`) and `topic`, the page section that documents
   * the option (the factory's options table); without one, the code's section in docs/errors.md.
   */
  constructor(description: string, options?: ConfigErrorOptions) {
    const code = options?.code ?? 'config_options';
    const docs = DOCS + (options?.topic ?? CONFIG_ERROR_DOCS[code]);
    super(`${description} (${code}, see node_modules/${docs})`, options);
    this.code = code;
    this.docs = docs;
  }
}
