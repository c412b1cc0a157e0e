import type { Sealer } from '../../idp/sealing.js';
import * as clock from '../../clock.js';
import type { IntrospectionStore } from './options.js';

/** After a store failure, the store is left alone this long: an outage costs one timeout, not one per miss. */
const BACKOFF_MS = 5_000;

/** What the fleet shares per token: the IdP's answer as it came, and when it was given (epoch ms). */
export interface SharedAnswer {
  answer: Record<string, unknown>;
  at: number;
}

const isSharedAnswer = (v: unknown): v is SharedAnswer => {
  const s = v as Partial<SharedAnswer> | null;
  return typeof s === 'object' && s !== null && typeof s.at === 'number' && Number.isFinite(s.at) && typeof s.answer === 'object' && s.answer !== null && !Array.isArray(s.answer);
};

/**
 * Introspection answers shared through the application's store. Entries are named by a keyed
 * hash of the token and sealed (lib/idp/sealing.ts) under keys derived from the introspection
 * client's credentials, salted with issuer, endpoint and client id: a reader of the store learns
 * nothing about tokens, and cannot plant or replay an entry into a deployment with other
 * credentials. The raw answer is kept, not a verdict, so each instance checks it against its own
 * settings and its own clock. Every call is bounded in time and never throws: garbage is a miss,
 * a failure is a miss (reported), and a store that fails is skipped for a few seconds.
 */
export class SharedAnswers {
  #skipUntil = 0;
  #sealer: Sealer | undefined;
  #sealerFailed = false;

  constructor(
    private readonly store: IntrospectionStore,
    private readonly sealing: Promise<Sealer>,
    private readonly timeoutMs: number,
    private readonly report: (line: string) => void,
  ) {}

  async #keys(): Promise<Sealer | undefined> {
    if (this.#sealer !== undefined || this.#sealerFailed) return this.#sealer;
    try {
      this.#sealer = await this.sealing;
    } catch {
      this.#sealerFailed = true;
      this.report('the introspection store is not used: its sealing keys could not be derived');
    }
    return this.#sealer;
  }

  async #call<T>(op: string, run: () => T | Promise<T>): Promise<T | undefined> {
    if (clock.now() < this.#skipUntil) return undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const late = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
        timer.unref();
      });
      return await Promise.race([Promise.resolve().then(run), late]);
    } catch (err) {
      this.#skipUntil = clock.now() + BACKOFF_MS;
      // The adapter's message may echo command arguments: only its name and code go in the line.
      const e = err as { name?: unknown; code?: unknown; message?: unknown } | null;
      const what = e?.message === `did not answer within ${this.timeoutMs} ms` ? (e.message as string) : `failed (${[e?.name, e?.code].filter((x) => typeof x === 'string').join(' ') || 'Error'})`;
      this.report(`the introspection store's ${op}() ${what}; asking the introspection endpoint directly for ${BACKOFF_MS / 1000} s`);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The store key of a token's entry: a keyed hash, so the key says nothing about the token. */
  #name(k: Sealer, token: string): string {
    return k.storeKey(`introspection:${k.mac(token)}`);
  }

  async get(token: string): Promise<SharedAnswer | undefined> {
    const k = await this.#keys();
    if (k === undefined) return undefined;
    const key = this.#name(k, token);
    const value = await this.#call('get', () => this.store.get(key));
    const entry = value === undefined || value === null ? undefined : k.unseal(value, key);
    return isSharedAnswer(entry) ? entry : undefined;
  }

  async set(token: string, entry: SharedAnswer, ttlMs: number): Promise<void> {
    if (!(ttlMs >= 1)) return;
    const k = await this.#keys();
    if (k === undefined) return;
    const key = this.#name(k, token);
    await this.#call('set', () => this.store.set(key, k.seal(entry, key), Math.ceil(ttlMs)));
  }
}
