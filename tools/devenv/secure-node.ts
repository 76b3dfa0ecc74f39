// Credentials of benchmark and probe runs (loadtest/): the same generator `npm start` and the tests
// use, so the benchmark measures the doors as they run in production (mutual TLS, tokens).

import { join } from 'node:path';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { projectRoot } from '../../services/common/paths';
import { credentialAccess, type ClientAccess } from '../client/access';
import { DevCredentials } from './credentials';
import type { ServerProcess } from './node-process';

/** One credential set for benchmark runs, kept under .bench/credentials (its CA is reused). */
export function benchCredentials(): Promise<DevCredentials> {
  return DevCredentials.open(join(projectRoot(), '.bench', 'credentials'));
}

/**
 * A benchmark node's environment: its certificate and the set's issuer. Benchmarks issue cards
 * with balances far above the four-eyes bound (no request may decline for funds), so the bound is
 * raised: what they measure is authorization, not approval.
 */
export async function benchNodeEnv(credentials: DevCredentials, nodeId: string): Promise<Record<string, string>> {
  return { ...(await credentials.nodeEnv(nodeId)), TAPLINE_OPERATOR_PORT: '0', TAPLINE_FOUR_EYES_AMOUNT_MINOR: '1000000000000000' };
}

/** How clients reach a node process (or an in-process node) with these credentials. */
export function accessToNode(credentials: DevCredentials, node: ServerProcess | AuthorizerNode, plaintext = false): ClientAccess {
  const endpoints =
    'shutdown' in node
      ? { terminal: `127.0.0.1:${node.grpcPort}`, operator: `127.0.0.1:${node.operatorPort}` }
      : { terminal: node.address, operator: node.operatorAddress ?? '' };
  return credentialAccess(credentials, endpoints, { plaintext });
}
