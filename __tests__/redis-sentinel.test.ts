/**
 * redisTokenStore, the DPoP replay claim and the rate-limit recipe on a real Redis Sentinel started by
 * the test (fixtures/redis-topology.ts), including a master kill under load. The same suite runs
 * on Valkey in redis-valkey.test.ts.
 */
import { topologySuite } from '../fixtures/redis-suites.js';
import { flavour } from '../fixtures/redis-topology.js';

topologySuite('sentinel', flavour('redis'));
