import type { DocsTopic } from '../errors/config-error.js';
import { OptionChecker } from '../options/validate.js';

/**
 * The adapters take a guard where `requireAuth()` takes options. Options passed by mistake (or
 * nothing) would only fail per request, as a 500 and "guard.check is not a function" in the log,
 * so they are refused at start-up with the fix spelt out.
 */
export function adapterChecker<G>(adapter: 'nodeAuth' | 'webAuth', guard: G, topic: DocsTopic): OptionChecker {
  const check = new OptionChecker(`${adapter}()`, topic);
  if (typeof (guard as { check?: unknown } | null | undefined)?.check !== 'function') {
    check.fail('config_options', `takes a guard: ${adapter}(createGuard({ issuer, audience, … })), not the guard's options`);
  }
  return check;
}
