// The gRPC server of a node: Tapline's services, standard health checking (so load balancers and
// k6 can probe it) and server reflection (so grpcurl works without the proto files).

import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { AdminServiceService } from '../../../gen/tapline/v1/admin';
import { AuthorizationServiceService } from '../../../gen/tapline/v1/authorization';
import { FleetAdminServiceService } from '../../../gen/tapline/v1/fleet';
import { fleetAdminService } from './fleet-service';
import { servedDescriptors } from '../../common/descriptors';
import { adminService } from './service';
import { authorizationService } from './authorization-service';
import { CardServiceService } from '../../../gen/tapline/v1/cards';
import { cardService, type CardServiceDeps } from './cards-service';
import { listBalancesHandler, type BalancesServiceDeps } from './balances-service';
import { WireSchemas } from '../../common/wire-check';
import { createStrictServer } from './strict-server';

export const served_services = [
  'tapline.v1.AuthorizationService',
  'tapline.v1.AdminService',
  'tapline.v1.CardService',
  'tapline.v1.FleetAdminService',
] as const;

/** What reflection lists: the API services and the standard ones served beside them. */
export const reflected_services = [
  ...served_services,
  'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
] as const;

export interface TlsFiles {
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  /** With a CA, clients must present a certificate it signed (mTLS). */
  readonly caFile?: string | undefined;
}

export interface GrpcServerOptions {
  readonly message_max_bytes: number;
  /** Calls open at once on one client connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  readonly streams_per_connection_max: number;
  /** A client connection older than this is sent GOAWAY (plus grpc-js' jitter of up to 10%). */
  readonly connection_age_max_ms: number;
  /** Then its calls still open get this long before the connection is closed. */
  readonly connection_age_grace_ms: number;
  readonly tls: TlsFiles;
  /** Cluster routing: wraps each service so calls run on their entity's owner (cluster/router.ts). */
  readonly route?: (
    service: grpc.ServiceDefinition,
    implementation: grpc.UntypedServiceImplementation,
  ) => grpc.UntypedServiceImplementation;
}

export function serverCredentials(tls: TlsFiles): grpc.ServerCredentials {
  if (tls.certFile === undefined || tls.keyFile === undefined) return grpc.ServerCredentials.createInsecure();
  const ca = tls.caFile === undefined ? null : readFileSync(tls.caFile);
  return grpc.ServerCredentials.createSsl(
    ca,
    [{ cert_chain: readFileSync(tls.certFile), private_key: readFileSync(tls.keyFile) }],
    ca !== null,
  );
}

export function createGrpcServer(
  deps: CardServiceDeps & BalancesServiceDeps,
  options: GrpcServerOptions,
): { server: grpc.Server; health: HealthImplementation } {
  // Every method decodes strictly and answers bytes that are not a request with INVALID_ARGUMENT.
  const server = createStrictServer(WireSchemas.shared(), {
    // Channelz (grpc-js' per-call introspection) is not served here; off, each call skips its
    // bookkeeping: ~1.5 KB of garbage and some CPU per call.
    'grpc.enable_channelz': 0,
    'grpc.max_receive_message_length': options.message_max_bytes,
    'grpc.max_send_message_length': options.message_max_bytes,
    // Gateways keep streams open for hours; keepalive pings find dead peers behind NAT.
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    // What one connection can hold: its open calls, and its age (it is asked to reconnect, which
    // also spreads long-lived gateway streams over the nodes again).
    'grpc.max_concurrent_streams': options.streams_per_connection_max,
    'grpc.max_connection_age_ms': options.connection_age_max_ms,
    'grpc.max_connection_age_grace_ms': options.connection_age_grace_ms,
    // Every call of every service (health and reflection too) is measured once, here.
    interceptors: [deps.metrics.grpc.interceptor],
  });
  for (const service of [AuthorizationServiceService, AdminServiceService, CardServiceService, FleetAdminServiceService])
    deps.metrics.grpc.addService(service);
  const route = options.route ?? ((_service, implementation) => implementation);
  server.addService(AuthorizationServiceService, route(AuthorizationServiceService, authorizationService(deps)));
  server.addService(AdminServiceService, route(AdminServiceService, { ...adminService(deps), listBalances: listBalancesHandler(deps) }));
  server.addService(CardServiceService, route(CardServiceService, cardService(deps)));
  server.addService(FleetAdminServiceService, route(FleetAdminServiceService, fleetAdminService(deps)));

  const health = new HealthImplementation(Object.fromEntries(['', ...served_services].map((name) => [name, 'NOT_SERVING' as const])));
  health.addToServer(server);

  // Reflection serves the proto files as written (built by buf into dist/proto at build time), so
  // grpcurl, Python's protobuf and k6 resolve them; the whitelist keeps to what this port serves.
  new ReflectionService(servedDescriptors(), { services: [...reflected_services] }).addToServer(server);
  return { server, health };
}

export function bindServer(server: grpc.Server, address: string, credentials: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) => (error ? reject(error) : resolve(port)));
  });
}
