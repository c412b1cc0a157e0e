/**
 * RFC 6750 §3 `WWW-Authenticate: Bearer` challenges. Attribute values are quoted-strings whose
 * allowed characters exclude '"' and '\' (§3: %x20-21 / %x23-5B / %x5D-7E), so anything else is
 * replaced rather than escaped: some clients do not unescape.
 */
export interface ChallengeParams {
  realm?: string;
  error?: string;
  errorDescription?: string;
  scope?: readonly string[];
}

function quoted(value: string): string {
  return `"${value.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '?')}"`;
}

export function bearerChallenge(params: ChallengeParams): string {
  return challenge('Bearer', params);
}

/** RFC 9449 §7.1: the same attributes under the DPoP scheme, plus the proof algorithms accepted. */
export function dpopChallenge(params: ChallengeParams & { algs: string }): string {
  return challenge('DPoP', params);
}

function challenge(scheme: string, { realm, error, errorDescription, scope, algs }: ChallengeParams & { algs?: string }): string {
  const attrs: string[] = [];
  if (realm !== undefined) attrs.push(`realm=${quoted(realm)}`);
  if (error !== undefined) attrs.push(`error=${quoted(error)}`);
  if (errorDescription !== undefined) attrs.push(`error_description=${quoted(errorDescription)}`);
  if (scope !== undefined && scope.length > 0) attrs.push(`scope=${quoted(scope.join(' '))}`);
  if (algs !== undefined) attrs.push(`algs=${quoted(algs)}`);
  return attrs.length ? `${scheme} ${attrs.join(', ')}` : scheme;
}
