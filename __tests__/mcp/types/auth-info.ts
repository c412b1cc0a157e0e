/**
 * Compiled twice: by the project's `tsc --noEmit` (strict), and by auth-info-types.test.ts with
 * `exactOptionalPropertyTypes` on as well, the strictest setting a user's project may have. It
 * must compile under both: req.auth goes to the MCP SDK as it is, with no cast.
 */
import type { Request, Response } from 'express';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthResult } from '../../../lib/index.js';

/** The SDK's handleRequest() takes `IncomingMessage & { auth?: AuthInfo }`: an Express request after requireAuth() is one. */
export function handOver(transport: StreamableHTTPServerTransport, req: Request, res: Response): Promise<void> {
  return transport.handleRequest(req, res, req.body);
}

/** What nodeAuth()/webAuth() return is an AuthInfo too. */
export const asAuthInfo = (auth: AuthResult): AuthInfo => auth;

/** Each member with the SDK's type. */
export const members = (auth: AuthResult): [string, string, string[], number | undefined, URL | undefined, Record<string, unknown> | undefined] => [
  auth.token,
  auth.clientId,
  auth.scopes,
  auth.expiresAt,
  auth.resource,
  auth.extra,
];
