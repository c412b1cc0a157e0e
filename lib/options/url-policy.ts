import { forLog } from '../log/operator-log.js';

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/;

/**
 * Why `value` may not be used as an IdP URL, or undefined when it may. Plain http is accepted
 * only for loopback hosts (tests, the demo, a sidecar): tokens and client secrets must not cross a
 * network in clear text (RFC 6749 §2.3.1). Shared by option checks (start-up) and by URLs an
 * IdP hands out at run time (discovery), which must meet the same policy: an option is a
 * ConfigError at construction (`OptionChecker.url`), a discovered URL a MisconfigurationError.
 */
export function checkIdpUrl(value: unknown, { allowHttp = false } = {}): string | undefined {
  if (typeof value !== 'string' || value === '') return 'must be a URL string';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `is not a valid URL: "${forLog(value, 200)}"`;
  }
  const loopbackHttp = url.protocol === 'http:' && LOOPBACK.test(url.hostname);
  if (url.protocol !== 'https:' && !loopbackHttp && !(allowHttp && url.protocol === 'http:')) {
    return `must use https: (got "${url.protocol}"); plain http is allowed only for localhost, or with allowInsecureHttp: true`;
  }
  if (url.username || url.password) return 'must not carry credentials in the URL; use clientId/clientSecret';
  return undefined;
}
