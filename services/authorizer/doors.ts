// The security of a node's three gRPC doors, built once from the configuration (README "Doors and
// roles", docs/DECISIONS.md "Doors, certificates and tokens"):
//   terminal door   TLS with the node's certificate; asks for a client certificate signed by the
//                   client CA; the caller is the terminal or gateway its SPIFFE URI names;
//   operator door   TLS with the node's certificate; the caller is the subject of a bearer token
//                   signed by a trusted issuer;
//   internal door   TLS with the node's certificate; asks for a node certificate signed by the
//                   cluster CA. Links to peers present the same certificate and require the peer's
//                   to name the node they meant to reach.
// Certificates, CA bundles, the revocation list and local token keys are reread when they change.
// TAPLINE_DEV_PLAINTEXT=true turns all of it into plaintext for development, and says so loudly.

import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { dev_plaintext_nodes, dev_plaintext_terminals } from '../common/auth/access';
import { doorCredentials, nodeIdOfCertificate, nodeLinkCredentials, RevokedSerials, type TlsFiles } from '../common/auth/certificates';
import { certificateAuthenticator, plaintextAuthenticator, tokenAuthenticator, type Authenticator } from '../common/auth/grpc-access';
import { parseIssuers, TokenVerifier } from '../common/auth/tokens';
import { WatchedFile } from '../common/auth/watched-file';
import { ConfigError } from '../common/process';
import { plaintext, type NodeConfig } from './config';

export interface Door {
  readonly credentials: grpc.ServerCredentials;
  readonly authenticate: Authenticator;
}

export interface DoorSecurity {
  readonly plaintext: boolean;
  readonly terminal: Door;
  readonly operator: Door;
  readonly internal: Door;
  /** Credentials of a link to the peer node `nodeId`. */
  peerCredentials(nodeId: string): grpc.ChannelCredentials;
  readonly revoked: RevokedSerials;
  /** The certificate files the doors present or trust, by role (none in plaintext development). */
  readonly certificateFiles: readonly (readonly [string, WatchedFile])[];
}

function tokenDoor(config: NodeConfig, clock: () => number): Authenticator {
  const verifier = new TokenVerifier(
    {
      issuers: parseIssuers(config.TAPLINE_OIDC_ISSUERS ?? ''),
      audience: config.TAPLINE_OIDC_AUDIENCE,
      roles_claim: config.TAPLINE_OIDC_ROLES_CLAIM,
      clock_tolerance_s: config.TAPLINE_OIDC_CLOCK_TOLERANCE_S,
      reload_ms: config.TAPLINE_TLS_RELOAD_MS,
    },
    clock,
  );
  return tokenAuthenticator(verifier);
}

export function buildDoorSecurity(config: NodeConfig, logger: Logger, clock: () => number): DoorSecurity {
  const operatorAuth = tokenDoor(config, clock);
  if (plaintext(config)) {
    logger.error(
      { doors: ['terminal', 'operator', 'internal'] },
      'TAPLINE_DEV_PLAINTEXT=true: NO TLS on any door; terminals are trusted to name themselves and any caller of the internal port is taken for a node. Development only.',
    );
    const insecure = grpc.ServerCredentials.createInsecure();
    return {
      plaintext: true,
      terminal: { credentials: insecure, authenticate: plaintextAuthenticator({ kind: 'system', name: dev_plaintext_terminals }) },
      operator: { credentials: grpc.ServerCredentials.createInsecure(), authenticate: operatorAuth },
      internal: {
        credentials: grpc.ServerCredentials.createInsecure(),
        authenticate: plaintextAuthenticator({ kind: 'system', name: dev_plaintext_nodes }),
      },
      peerCredentials: () => grpc.credentials.createInsecure(),
      revoked: new RevokedSerials(undefined),
      certificateFiles: [],
    };
  }
  const reload_ms = config.TAPLINE_TLS_RELOAD_MS;
  const file = (path: string | undefined): WatchedFile => new WatchedFile(path as string, reload_ms);
  const cert = file(config.TAPLINE_TLS_CERT_FILE);
  const key = file(config.TAPLINE_TLS_KEY_FILE);
  const named = nodeIdOfCertificate(cert.current, config.TAPLINE_TRUST_DOMAIN);
  if (named !== config.TAPLINE_NODE_ID)
    throw new ConfigError(
      `invalid configuration: TAPLINE_TLS_CERT_FILE must name this node (spiffe://${config.TAPLINE_TRUST_DOMAIN}/node/${config.TAPLINE_NODE_ID}); it names ${named ?? 'no node'}`,
    );
  const clientCa = file(config.TAPLINE_TLS_CLIENT_CA_FILE);
  const clusterCa = file(config.TAPLINE_TLS_CLUSTER_CA_FILE);
  const revoked = new RevokedSerials(config.TAPLINE_TLS_REVOKED_FILE === undefined ? undefined : file(config.TAPLINE_TLS_REVOKED_FILE));
  const certificates = certificateAuthenticator({ trust_domain: config.TAPLINE_TRUST_DOMAIN, revoked, clock });
  const cluster: TlsFiles = { cert, key, ca: clusterCa };
  return {
    plaintext: false,
    terminal: { credentials: doorCredentials({ cert, key, ca: clientCa }), authenticate: certificates },
    operator: { credentials: doorCredentials({ cert, key }), authenticate: operatorAuth },
    internal: { credentials: doorCredentials(cluster), authenticate: certificates },
    peerCredentials: (nodeId) => nodeLinkCredentials(cluster, nodeId, config.TAPLINE_TRUST_DOMAIN),
    revoked,
    certificateFiles: [
      ['node', cert],
      ['client_ca', clientCa],
      ['cluster_ca', clusterCa],
    ],
  };
}
