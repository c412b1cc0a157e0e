import { UnsupportedMediaTypeError } from '../errors/request-errors.js';

/** What a proxy request body may be. Nothing else is read: see `bodyFormat()`. */
export type BodyFormat = 'form' | 'json';

export const FORM = 'application/x-www-form-urlencoded';
export const JSON_TYPE = 'application/json';

// RFC 9110 §8.3.1 / §5.6: media-type = type "/" subtype *( OWS ";" OWS parameter ), with
// parameter = token "=" ( token / quoted-string ). Stricter than some body parsers on purpose
// (no empty parameters, no trailing ";", no repeats): a header a parser in front of the proxy
// might read differently is refused here instead of parsed.
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const TYPE_RE = new RegExp(`^(${TOKEN})/(${TOKEN})[ \\t]*`);
const PARAM_RE = new RegExp(`^;[ \\t]*(${TOKEN})=(${TOKEN}|"(?:[\\t !#-\\[\\]-~]|\\\\[\\t !-~])*")[ \\t]*`);

const SUPPORTED = `Content-Type must be ${FORM} or ${JSON_TYPE} (UTF-8)`;

/**
 * The one rule for which request bodies a proxy reads, shared by `proxyRequestParser()`, the
 * proxies' own body reading and their check of a body another parser already produced:
 * exactly `application/x-www-form-urlencoded` or `application/json`, compared case-insensitively,
 * parameters allowed, but a `charset` must be UTF-8. Everything else (`+json` types, text/plain,
 * multipart, no Content-Type) is a 415 `invalid_request`.
 */
export function bodyFormat(header: string | undefined): BodyFormat {
  if (typeof header !== 'string' || header.length > 256) throw new UnsupportedMediaTypeError(SUPPORTED);
  const m = TYPE_RE.exec(header.trim());
  if (!m) throw new UnsupportedMediaTypeError(SUPPORTED);
  const type = `${m[1]}/${m[2]}`.toLowerCase();
  const format: BodyFormat | undefined = type === FORM ? 'form' : type === JSON_TYPE ? 'json' : undefined;
  if (!format) throw new UnsupportedMediaTypeError(SUPPORTED);
  let rest = header.trim().slice(m[0].length);
  const seen = new Set<string>();
  while (rest !== '') {
    const p = PARAM_RE.exec(rest);
    if (!p) throw new UnsupportedMediaTypeError(`The Content-Type header is malformed; ${SUPPORTED}`);
    const name = p[1]!.toLowerCase();
    if (seen.has(name)) throw new UnsupportedMediaTypeError(`The Content-Type parameter ${name.slice(0, 32)} is repeated`);
    seen.add(name);
    let value = p[2]!;
    if (value.startsWith('"')) value = value.slice(1, -1).replace(/\\(.)/g, '$1');
    if (name === 'charset' && value.toLowerCase() !== 'utf-8') {
      throw new UnsupportedMediaTypeError(`Only the UTF-8 charset is accepted (got ${value.slice(0, 32)})`);
    }
    rest = rest.slice(p[0].length);
  }
  return format;
}
