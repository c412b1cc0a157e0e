import type { AuthResult } from '../../guard/types.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by requireAuth() when the request carried a valid token. */
      auth?: AuthResult;
    }
  }
}
