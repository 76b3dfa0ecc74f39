// How the dev and test clients reach a node's doors and prove who they are: the endpoints, the CA
// that signed the servers, a client certificate per terminal or gateway, and a bearer token for
// each operator call. Two sources:
//   - a DevCredentials set (tests, the benchmark, `npm start` itself): certificates and tokens are
//     minted on demand, one token per role (scope "*"), each call sent with a role the access
//     policy allows for it (services/common/auth/policy.ts), so a test reads like what it tests;
//   - a manifest (.data/dev-credentials/manifest.json): only what `npm start` wrote.
// A fixed principal can be forced (a given terminal certificate, a given token) for tests that
// check what a particular caller may do.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { AuthorizationServiceClient } from '../../gen/tapline/v1/authorization';
import { operatorRuleOf, type Role } from '../../services/common/auth/policy';
import { projectRoot } from '../../services/common/paths';
import type { DevCredentials, DevManifest } from '../devenv/credentials';

export interface Endpoints {
  readonly terminal: string;
  readonly operator: string;
  readonly internal?: string;
  readonly reports?: string;
}

export interface ClientAccess {
  readonly endpoints: Endpoints;
  /** Options every channel to these endpoints takes (the TLS name of a local node). */
  readonly channelOptions: grpc.ChannelOptions;
  /** Plaintext (the development switch): no certificates, tokens still sent. */
  readonly plaintext: boolean;
  /** The CA that signed the servers (HTTPS to the reports service too); undefined in plaintext. */
  readonly ca: Buffer | undefined;
  /** A terminal's channel: mutual TLS with its certificate. */
  terminalCredentials(terminalId: string): Promise<grpc.ChannelCredentials>;
  /** A gateway's channel: mutual TLS with a certificate for these merchants. */
  gatewayCredentials(merchantIds: readonly string[]): Promise<grpc.ChannelCredentials>;
  /** The operator door's channel: TLS verifying the server (the token travels per call). */
  operatorCredentials(): grpc.ChannelCredentials;
  /** The bearer token an operator call of method `path` is sent with. */
  operatorToken(path: string): Promise<string>;
}

/** The roles a call of `path` may be made with, in the policy's order (issuer_admin first where allowed). */
export function rolesFor(path: string): readonly Role[] {
  const rule = operatorRuleOf(path);
  if (rule === undefined) return ['auditor'];
  return typeof rule.roles === 'function' ? rule.roles(undefined) : rule.roles;
}

function tls(ca: Buffer | undefined, key?: Buffer, cert?: Buffer): grpc.ChannelCredentials {
  if (ca === undefined) return grpc.credentials.createInsecure();
  return grpc.credentials.createSsl(ca, key ?? null, cert ?? null);
}

/**
 * Local nodes' certificates name localhost: a client of 127.0.0.1 checks that name (TLS does not
 * send an IP address as the server name).
 */
function localName(endpoints: Endpoints, plaintext: boolean): grpc.ChannelOptions {
  return !plaintext && endpoints.terminal.startsWith('127.0.0.1:') ? { 'grpc.ssl_target_name_override': 'localhost' } : {};
}

/** Forces the principals of an access: a token for every operator call, a fixed terminal certificate. */
export interface AccessOverrides {
  readonly token?: string | (() => Promise<string>);
  readonly terminal?: { readonly cert: string; readonly key: string };
}

/** Access minted from a credential set (tests, the benchmark). */
export function credentialAccess(
  credentials: DevCredentials,
  endpoints: Endpoints,
  options: { readonly plaintext?: boolean; readonly overrides?: AccessOverrides } = {},
): ClientAccess {
  const plaintext = options.plaintext ?? false;
  const ca = plaintext ? undefined : readFileSync(credentials.caFile);
  const fixed = options.overrides?.terminal;
  const files = (pair: { cert: string; key: string }): grpc.ChannelCredentials => tls(ca, readFileSync(pair.key), readFileSync(pair.cert));
  return {
    endpoints,
    channelOptions: localName(endpoints, plaintext),
    plaintext,
    ca,
    terminalCredentials: async (terminalId) =>
      plaintext ? grpc.credentials.createInsecure() : files(fixed ?? (await credentials.terminal(terminalId))),
    gatewayCredentials: async (merchantIds) =>
      plaintext ? grpc.credentials.createInsecure() : files(fixed ?? (await credentials.gateway(merchantIds))),
    operatorCredentials: () => tls(ca),
    operatorToken: (path) => {
      const token = options.overrides?.token;
      if (typeof token === 'string') return Promise.resolve(token);
      if (token !== undefined) return token();
      return credentials.token(rolesFor(path)[0] ?? 'auditor');
    },
  };
}

/** The manifest `npm start` writes, read from the repository's .data/dev-credentials/. */
export function readManifest(path = join(projectRoot(), '.data', 'dev-credentials', 'manifest.json')): DevManifest {
  return JSON.parse(readFileSync(path, 'utf8')) as DevManifest;
}

/** Access from a manifest: its terminals, gateways and role tokens only. */
export function manifestAccess(manifest: DevManifest, root = projectRoot()): ClientAccess {
  const ca = readFileSync(join(root, manifest.ca));
  const pair = (entry: { cert: string; key: string } | undefined, what: string): grpc.ChannelCredentials => {
    if (entry === undefined) throw new Error(`the manifest has no certificate for ${what}`);
    return tls(ca, readFileSync(join(root, entry.key)), readFileSync(join(root, entry.cert)));
  };
  return {
    endpoints: manifest.endpoints,
    channelOptions: localName(manifest.endpoints, false),
    plaintext: false,
    ca,
    terminalCredentials: (terminalId) =>
      Promise.resolve(
        pair(
          // Balance reads name no terminal (any terminal may read one): the manifest's first reads them.
          manifest.terminals.find((t) => t.terminal_id === terminalId) ??
            (terminalId === reader_terminal ? manifest.terminals[0] : undefined),
          `terminal ${terminalId}`,
        ),
      ),
    gatewayCredentials: (merchantIds) =>
      Promise.resolve(
        pair(
          manifest.gateways.find((g) => merchantIds.includes(g.merchant_id)),
          `a gateway of ${merchantIds.join(', ')}`,
        ),
      ),
    operatorCredentials: () => tls(ca),
    operatorToken: (path) => {
      const role = rolesFor(path).find((candidate) => manifest.operators.some((operator) => operator.role === candidate));
      const operator = manifest.operators.find((entry) => entry.role === role);
      if (operator === undefined) return Promise.reject(new Error(`the manifest has no token for ${path}`));
      return Promise.resolve(operator.token);
    },
  };
}

/** The client interceptor that adds each operator call's bearer token (chosen by its method). */
export function tokenInterceptor(access: ClientAccess): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        access.operatorToken(options.method_definition.path).then(
          (token) => {
            metadata.set('authorization', `Bearer ${token}`);
            next(metadata, listener);
          },
          () => next(metadata, listener),
        );
      },
    });
}

/** Channel options and credentials of an operator client. */
export function operatorChannel(
  access: ClientAccess,
  options: grpc.ChannelOptions = {},
): [string, grpc.ChannelCredentials, grpc.ClientOptions] {
  return [
    access.endpoints.operator,
    access.operatorCredentials(),
    { ...access.channelOptions, ...options, interceptors: [tokenInterceptor(access)] },
  ];
}

/** The terminal that reads balances and sends requests whose terminal id is not an id at all (bad-input tests). */
export const reader_terminal = 'client-reader';
const terminal_id_pattern = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The terminal API as many terminals: one channel per terminal id (its own certificate), opened
 * on first use; and as gateways. A request naming something that is not a terminal id goes out
 * on the reader terminal's channel, so the node answers it as it answers malformed input.
 */
export class TerminalChannels {
  private readonly clients = new Map<string, Promise<AuthorizationServiceClient>>();

  constructor(
    private readonly access: ClientAccess,
    private readonly options: grpc.ChannelOptions = {},
  ) {}

  terminal(terminalId: string): Promise<AuthorizationServiceClient> {
    const id = terminal_id_pattern.test(terminalId) ? terminalId : reader_terminal;
    return this.open(`t:${id}`, () => this.access.terminalCredentials(id));
  }

  gateway(merchantIds: readonly string[]): Promise<AuthorizationServiceClient> {
    return this.open(`g:${merchantIds.join(',')}`, () => this.access.gatewayCredentials(merchantIds));
  }

  private open(key: string, credentials: () => Promise<grpc.ChannelCredentials>): Promise<AuthorizationServiceClient> {
    let client = this.clients.get(key);
    if (client === undefined) {
      client = credentials().then(
        (c) => new AuthorizationServiceClient(this.access.endpoints.terminal, c, { ...this.access.channelOptions, ...this.options }),
      );
      this.clients.set(key, client);
    }
    return client;
  }

  close(): void {
    for (const client of this.clients.values())
      void client.then(
        (c) => c.close(),
        () => undefined,
      );
    this.clients.clear();
  }
}
