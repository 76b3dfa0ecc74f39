// The public gRPC servers of a node, one per door, each on its own listener with its own TLS
// settings and access check (services/common/auth): the terminal door serves AuthorizationService
// and OfflineService, the operator door the Admin, Card, FleetAdmin, Approval and OfflineAdmin
// services. Both serve standard health
// checking (load balancers and k6 probe it without credentials) and server reflection (grpcurl
// describes what the caller's door serves). Every call is measured, then checked, before any
// handler runs.

import type * as grpc from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import { AdminServiceService } from '../../../gen/tapline/v1/admin';
import { ApprovalServiceService } from '../../../gen/tapline/v1/approvals';
import { AuthorizationServiceService } from '../../../gen/tapline/v1/authorization';
import { CardServiceService } from '../../../gen/tapline/v1/cards';
import { FleetAdminServiceService } from '../../../gen/tapline/v1/fleet';
import type { AccessLookups } from '../../common/auth/access';
import { accessInterceptor, type Authenticator } from '../../common/auth/grpc-access';
import { rpc_rules, type Door } from '../../common/auth/policy';
import { servedDescriptors } from '../../common/descriptors';
import { approvalService, type ApprovalServiceDeps } from './approval-service';
import { authorizationService } from './authorization-service';
import { listBalancesHandler, type BalancesServiceDeps } from './balances-service';
import { terminalAdminHandlers } from './terminals-service';
import { cardService, type CardServiceDeps } from './cards-service';
import { fleetAdminService } from './fleet-service';
import { adminService } from './service';
import { OfflineAdminServiceService, OfflineServiceService } from '../../../gen/tapline/v1/offline';
import { offlineAdminService, offlineService, type OfflineServiceDeps } from './offline-service';
import { WireSchemas } from '../../common/wire-check';
import { createStrictServer } from './strict-server';

export const terminal_services = ['tapline.v1.AuthorizationService', 'tapline.v1.OfflineService'] as const;
export const operator_services = [
  'tapline.v1.AdminService',
  'tapline.v1.CardService',
  'tapline.v1.FleetAdminService',
  'tapline.v1.ApprovalService',
  'tapline.v1.OfflineAdminService',
] as const;
/** The API services of both public doors (health statuses are kept per name). */
export const served_services = [...terminal_services, ...operator_services] as const;

const standard_services = [
  'grpc.health.v1.Health',
  'grpc.reflection.v1.ServerReflection',
  'grpc.reflection.v1alpha.ServerReflection',
] as const;

/** What reflection lists on each door: its API services and the standard ones served beside them. */
export const reflected_services: Readonly<Record<'terminal' | 'operator', readonly string[]>> = {
  terminal: [...terminal_services, ...standard_services],
  operator: [...operator_services, ...standard_services],
};

export type ServiceDepsAll = CardServiceDeps & BalancesServiceDeps & ApprovalServiceDeps & OfflineServiceDeps;

/** Wraps a service implementation (cluster routing, four eyes) before it is added. */
export type ServiceWrapper = (
  service: grpc.ServiceDefinition,
  implementation: grpc.UntypedServiceImplementation,
) => grpc.UntypedServiceImplementation;

export interface DoorServerOptions {
  readonly message_max_bytes: number;
  /** Calls open at once on one client connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). */
  readonly streams_per_connection_max: number;
  /** A client connection older than this is sent GOAWAY (plus grpc-js' jitter of up to 10%). */
  readonly connection_age_max_ms: number;
  /** Then its calls still open get this long before the connection is closed. */
  readonly connection_age_grace_ms: number;
  readonly authenticate: Authenticator;
  readonly lookups: AccessLookups;
  readonly wrap?: ServiceWrapper;
}

function doorServer(door: Door, deps: ServiceDepsAll, options: DoorServerOptions): grpc.Server {
  // Every method decodes strictly and answers bytes that are not a request with INVALID_ARGUMENT
  // (after the access check: a caller the door does not admit learns nothing about its bytes).
  return createStrictServer(WireSchemas.shared(), {
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
    // Every call of every service (health and reflection too) is measured, then checked, once, here.
    interceptors: [
      deps.metrics.grpc.interceptor,
      accessInterceptor({
        door,
        rules: rpc_rules[door],
        authenticate: options.authenticate,
        lookups: options.lookups,
        logger: deps.logger,
      }),
    ],
  });
}

function addStandard(server: grpc.Server, door: 'terminal' | 'operator', health: HealthImplementation): void {
  health.addToServer(server);
  // Reflection serves the proto files as written (built by buf into dist/proto at build time), so
  // grpcurl, Python's protobuf and k6 resolve them; the whitelist keeps to what this door serves.
  new ReflectionService(servedDescriptors(), { services: [...reflected_services[door]] }).addToServer(server);
}

/** Health statuses shared by both doors' health services: NOT_SERVING until the node serves. */
export function createHealth(): HealthImplementation {
  return new HealthImplementation(Object.fromEntries(['', ...served_services].map((name) => [name, 'NOT_SERVING' as const])));
}

/** The terminal door: AuthorizationService and OfflineService. */
export function createTerminalServer(deps: ServiceDepsAll, options: DoorServerOptions, health: HealthImplementation): grpc.Server {
  const server = doorServer('terminal', deps, options);
  const wrap = options.wrap ?? ((_service, implementation) => implementation);
  const services: [grpc.ServiceDefinition, grpc.UntypedServiceImplementation][] = [
    [AuthorizationServiceService, authorizationService(deps)],
    [OfflineServiceService, offlineService(deps)],
  ];
  for (const [service, implementation] of services) {
    deps.metrics.grpc.addService(service);
    server.addService(service, wrap(service, implementation));
  }
  addStandard(server, 'terminal', health);
  return server;
}

/** The operator door: AdminService, CardService, FleetAdminService, ApprovalService and OfflineAdminService. */
export function createOperatorServer(deps: ServiceDepsAll, options: DoorServerOptions, health: HealthImplementation): grpc.Server {
  const server = doorServer('operator', deps, options);
  const wrap = options.wrap ?? ((_service, implementation) => implementation);
  const services: [grpc.ServiceDefinition, grpc.UntypedServiceImplementation][] = [
    [AdminServiceService, { ...adminService(deps), ...terminalAdminHandlers(deps), listBalances: listBalancesHandler(deps) }],
    [CardServiceService, cardService(deps)],
    [FleetAdminServiceService, fleetAdminService(deps)],
    [ApprovalServiceService, approvalService(deps)],
    [OfflineAdminServiceService, offlineAdminService(deps)],
  ];
  for (const [service, implementation] of services) {
    deps.metrics.grpc.addService(service);
    server.addService(service, wrap(service, implementation));
  }
  addStandard(server, 'operator', health);
  return server;
}

export function bindServer(server: grpc.Server, address: string, credentials: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (error, port) => (error ? reject(error) : resolve(port)));
  });
}
