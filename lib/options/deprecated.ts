import type { OptionChecker } from './validate.js';

/**
 * Old option names that keep working for one minor version after a rename (CHANGELOG.md lists
 * them). Each is reported once per process as a Node `DeprecationWarning` with a stable code, so
 * it shows at start-up, can be silenced with `--no-deprecation` like any other, and never
 * repeats per request. Both names at once is a ConfigError: which one was meant cannot be guessed.
 */

/** `{ oldName: 'newName' }`: the rename table of one options object. */
export type Renames = Readonly<Record<string, string>>;

const warned = new Set<string>();

/**
 * `options` with every old name in `renames` moved to its new name (the object is copied only when
 * something moved, so the common case allocates nothing). `prefix` names a nested object in
 * messages, e.g. `'dpop.'`. Values keep their unit: a rename never changes what a number means.
 */
export function renamed<T extends object>(check: OptionChecker, options: T, renames: Renames, prefix = ''): T {
  let out: Record<string, unknown> | undefined;
  // Options are read wherever they live, own or inherited (per-route options on a prototype of
  // shared settings): an old name is found, and the copy keeps the prototype, the same way.
  for (const [oldName, newName] of Object.entries(renames)) {
    if (!(oldName in options)) continue;
    if (newName in options) {
      check.fail('config_options', `both "${prefix}${oldName}" and "${prefix}${newName}" are set; "${prefix}${oldName}" is the old name of "${prefix}${newName}": keep only "${prefix}${newName}"`);
    }
    out ??= optionsCopy(options);
    out[newName] = (options as Record<string, unknown>)[oldName];
    delete out[oldName];
    // An inherited old name is hidden, not left for a later reader; non-enumerable, so no unknown-key check sees it.
    if (oldName in out) Object.defineProperty(out, oldName, { value: undefined, enumerable: false });
    warnOnce(check.factory, `${prefix}${oldName}`, `${prefix}${newName}`);
  }
  return (out ?? options) as T;
}

function warnOnce(factory: string, oldName: string, newName: string): void {
  const key = `${factory} ${oldName}`;
  if (warned.has(key)) return;
  warned.add(key);
  process.emitWarning(`${factory}: option "${oldName}" is renamed "${newName}"; the old name will stop working in the next minor version (see node_modules/express-oauth-kit/CHANGELOG.md, "Option names")`, {
    type: 'DeprecationWarning',
    code: 'EXPRESS_OAUTH_KIT_RENAMED_OPTION',
  });
}

/**
 * A copy of an options object to change: its own enumerable keys, as data properties (as a spread
 * copies them: a `"__proto__"` key from JSON stays a key, never the prototype, and is refused as
 * unknown), on the same prototype (options inherited from shared settings stay).
 */
export function optionsCopy<T extends object>(options: T): T & Record<string, unknown> {
  const out = Object.create(Object.getPrototypeOf(options) as object | null) as T & Record<string, unknown>;
  for (const key of Object.keys(options)) {
    Object.defineProperty(out, key, { value: (options as Record<string, unknown>)[key], enumerable: true, writable: true, configurable: true });
  }
  return out;
}
