/**
 * The Cluster and Sentinel suites (fixtures/redis-suites.ts) on Valkey. Without valkey-server:
 * skipped with one line, or failed when CI is set (.ci/run installs it).
 */
import { topologySuite } from '../fixtures/redis-suites.js';
import { flavour } from '../fixtures/redis-topology.js';

topologySuite('cluster', flavour('valkey'));
topologySuite('sentinel', flavour('valkey'));
