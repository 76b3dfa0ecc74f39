// Mutual TLS: who a client certificate says it is, which certificates are revoked, and the TLS
// credentials of the doors and of node-to-node links, reloaded when their files change.
//
// Identity lives in one URI subject alternative name of the certificate (SPIFFE form, trust domain
// TAPLINE_TRUST_DOMAIN, "tapline" by default):
//   spiffe://<domain>/terminal/<terminal id>                 one terminal
//   spiffe://<domain>/gateway/<merchant id>[/<merchant id>]  a venue gateway for its merchants
//   spiffe://<domain>/node/<node id>                         an authorizer node
// Ids are 1-64 of [A-Za-z0-9._-], like every id at the gRPC boundary. A certificate with none of
// these, or more than one, identifies nobody.
//
// The TLS handshake asks for a client certificate and verifies its chain (CA bundle, validity
// dates) but does not drop the connection when it fails: the access layer answers every call of
// that connection UNAUTHENTICATED, so a client learns what is wrong instead of seeing a broken
// connection. Revocation is a list of serial numbers checked on every call (and every frame of a
// stream), so a revoked certificate is refused without a restart, on connections already open too.

import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Principal } from '../../../actors/principal';
import type { WatchedFile } from './watched-file';
import { id_pattern } from '../ids';

export const default_trust_domain = 'tapline';

/** Merchants one gateway certificate may name. */
export const gateway_merchants_max = 64;

/** The SPIFFE URI naming a principal (what the dev CA writes and a production CA must write). */
export function identityUri(principal: Principal, trustDomain = default_trust_domain): string {
  switch (principal.kind) {
    case 'terminal':
      return `spiffe://${trustDomain}/terminal/${principal.terminalId}`;
    case 'gateway':
      return `spiffe://${trustDomain}/gateway/${principal.merchantIds.join('/')}`;
    case 'node':
      return `spiffe://${trustDomain}/node/${principal.nodeId}`;
    default:
      throw new Error(`assertion: a ${principal.kind} principal has no certificate identity`);
  }
}

/** The principal an identity URI names, or undefined when it names none. */
export function principalOfUri(uri: string, trustDomain = default_trust_domain): Principal | undefined {
  const prefix = `spiffe://${trustDomain}/`;
  if (!uri.startsWith(prefix)) return undefined;
  const [kind, ...ids] = uri.slice(prefix.length).split('/');
  if (ids.length === 0 || !ids.every((id) => id_pattern.test(id))) return undefined;
  if (kind === 'terminal' && ids.length === 1) return { kind: 'terminal', terminalId: ids[0] as string };
  if (kind === 'node' && ids.length === 1) return { kind: 'node', nodeId: ids[0] as string };
  if (kind === 'gateway' && ids.length <= gateway_merchants_max) return { kind: 'gateway', merchantIds: [...new Set(ids)] };
  return undefined;
}

/** The URIs of a certificate's subjectAltName text ("URI:a, DNS:b, ..."). */
function sanUris(subjectAltName: string | undefined): string[] {
  if (subjectAltName === undefined) return [];
  return subjectAltName
    .split(/,\s*/)
    .filter((entry) => entry.startsWith('URI:'))
    .map((entry) => entry.slice(4));
}

/** What a verified client certificate says: its principal, serial and end of validity. */
export interface CertificateIdentity {
  readonly principal: Principal;
  /** Upper-case hex, as revocation lists name it. */
  readonly serial: string;
  readonly valid_to_ms: number;
}

/** The identity a certificate carries, or why it carries none. */
export function identityOf(
  certificate: {
    readonly subjectAltName?: string | undefined;
    readonly subjectaltname?: string;
    readonly serialNumber: string;
    readonly validTo?: string;
    readonly valid_to?: string;
  },
  trustDomain: string,
): CertificateIdentity | string {
  const principals = sanUris(certificate.subjectAltName ?? certificate.subjectaltname)
    .map((uri) => principalOfUri(uri, trustDomain))
    .filter((principal) => principal !== undefined);
  if (principals.length === 0) return `the certificate names no principal of trust domain ${trustDomain}`;
  if (principals.length > 1) return 'the certificate names more than one principal';
  return {
    principal: principals[0] as Principal,
    serial: normalSerial(certificate.serialNumber),
    valid_to_ms: Date.parse(certificate.validTo ?? certificate.valid_to ?? ''),
  };
}

/** The identity of a TLS connection's client, read once per connection (it costs tens of µs). */
export function socketIdentity(socket: TLSSocket, trustDomain: string): CertificateIdentity | string {
  if (!socket.authorized) return `client certificate not accepted (${String(socket.authorizationError ?? 'none presented')})`;
  const certificate = socket.getPeerX509Certificate();
  if (certificate === undefined) return 'no client certificate';
  return identityOf(certificate, trustDomain);
}

/** The PEM blocks of a certificate file or CA bundle. */
const pem_certificate = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/**
 * When the first certificate of a PEM file or bundle stops being valid (ms since the epoch), or
 * undefined when the file holds no certificate that parses. For a CA bundle that is its earliest
 * CA: a bundle mid-rotation holds the old CA until its end, and the old CA's end is what must be
 * acted on.
 */
export function earliestNotAfterMs(content: Buffer | string): number | undefined {
  let earliest: number | undefined;
  for (const block of String(content).match(pem_certificate) ?? []) {
    let valid_to_ms: number;
    try {
      valid_to_ms = Date.parse(new X509Certificate(block).validTo);
    } catch {
      continue;
    }
    if (Number.isFinite(valid_to_ms) && (earliest === undefined || valid_to_ms < earliest)) earliest = valid_to_ms;
  }
  return earliest;
}

/**
 * Revoked certificate serial numbers: a text file of hexadecimal serials, one per line ("#"
 * starts a comment; colons allowed, as openssl prints them), reread when it changes. A CA's CRL
 * becomes this list with `openssl crl -in crl.pem -noout -text | awk '/Serial Number/ {print $3}'`.
 */
export class RevokedSerials {
  private serials: ReadonlySet<string> = new Set();

  constructor(private readonly file: WatchedFile | undefined) {
    if (file === undefined) return;
    this.serials = parseSerials(file.current);
    file.onChange((content) => {
      this.serials = parseSerials(content);
    });
  }

  has(serial: string): boolean {
    return this.serials.has(serial);
  }

  get size(): number {
    return this.serials.size;
  }
}

export function parseSerials(content: Buffer | string): ReadonlySet<string> {
  const serials = new Set<string>();
  for (const raw of content.toString('utf8').split('\n')) {
    const line = (raw.split('#')[0] ?? '').trim().replace(/:/g, '').toUpperCase();
    if (/^[0-9A-F]{1,64}$/.test(line)) serials.add(line.replace(/^0+(?=.)/, ''));
  }
  return serials;
}

/** A serial as parseSerials keeps it (no leading zeros). */
export function normalSerial(serial: string): string {
  return serial
    .toUpperCase()
    .replace(/:/g, '')
    .replace(/^0+(?=.)/, '');
}

/** The files of a door's or a link's TLS: its own certificate and key, and the CA bundle it trusts. */
export interface TlsFiles {
  readonly cert: WatchedFile;
  readonly key: WatchedFile;
  readonly ca?: WatchedFile | undefined;
}

/**
 * grpc-js' certificate provider over watched files: pushes the current identity and CA to a new
 * listener on the next tick (grpc-js registers the server's own watcher only after adding its
 * listeners, so a synchronous push would be lost and the door would refuse every connection), and
 * again whenever a file changes (rotation without a restart).
 */
export class WatchedCertificateProvider implements grpc.experimental.CertificateProvider {
  private readonly ca_listeners = new Set<grpc.experimental.CaCertificateUpdateListener>();
  private readonly identity_listeners = new Set<grpc.experimental.IdentityCertificateUpdateListener>();

  constructor(private readonly files: TlsFiles) {
    // A rotation rewrites the certificate and the key; each file is polled on its own, so for a
    // moment one may be new and the other old. Only a matching pair is pushed (grpc-js would refuse
    // the mismatch and keep serving the old pair anyway, with an error in the log).
    const pushIdentity = (): void => {
      const identity = this.identity();
      if (!pairMatches(identity.certificate, identity.privateKey)) return;
      for (const listener of this.identity_listeners) listener(identity);
    };
    files.cert.onChange(pushIdentity);
    files.key.onChange(pushIdentity);
    files.ca?.onChange(() => {
      for (const listener of this.ca_listeners) listener(this.caUpdate());
    });
  }

  private identity(): grpc.experimental.IdentityCertificateUpdate {
    return { certificate: this.files.cert.current, privateKey: this.files.key.current };
  }

  private caUpdate(): grpc.experimental.CaCertificateUpdate | null {
    return this.files.ca === undefined ? null : { caCertificate: this.files.ca.current };
  }

  addCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.ca_listeners.add(listener);
    process.nextTick(() => {
      if (this.ca_listeners.has(listener)) listener(this.caUpdate());
    });
  }

  removeCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.ca_listeners.delete(listener);
  }

  addIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identity_listeners.add(listener);
    process.nextTick(() => {
      if (this.identity_listeners.has(listener)) listener(this.identity());
    });
  }

  removeIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identity_listeners.delete(listener);
  }
}

/** True when the PEM certificate (the first of a chain) belongs to the PEM private key. */
export function pairMatches(certificate: Buffer, key: Buffer): boolean {
  try {
    return new X509Certificate(certificate).checkPrivateKey(createPrivateKey(key));
  } catch {
    return false;
  }
}

/**
 * Server credentials of a door: its certificate, and with a client CA bundle, a request for the
 * client's certificate (verified against it; the access layer refuses calls without a valid one).
 */
export function doorCredentials(files: TlsFiles): grpc.ServerCredentials {
  const provider = new WatchedCertificateProvider(files);
  // grpc-js takes the identity provider first, then the CA provider (null: no client certificate
  // requested), and `false` so that a bad client certificate reaches the access layer.
  return grpc.experimental.createCertificateProviderServerCredentials(provider, files.ca === undefined ? null : provider, false);
}

/**
 * Credentials of a link to a node: this node's certificate as client identity, the cluster CA,
 * and the peer's certificate required to name the expected node (not a DNS name: node addresses
 * are pod IPs and names that come and go).
 */
export function nodeLinkCredentials(files: TlsFiles, expectedNodeId: string, trustDomain: string): grpc.ChannelCredentials {
  const provider = new WatchedCertificateProvider(files);
  const expected = identityUri({ kind: 'node', nodeId: expectedNodeId }, trustDomain);
  return grpc.experimental.createCertificateProviderChannelCredentials(provider, provider, {
    checkServerIdentity: (_host, certificate) => {
      const uris = sanUris(certificate.subjectaltname);
      return uris.includes(expected) ? undefined : new Error(`peer certificate does not name ${expected}`);
    },
  });
}

/** The node id a certificate file names, to check at start that a node holds its own certificate. */
export function nodeIdOfCertificate(pem: Buffer, trustDomain: string): string | undefined {
  const identity = identityOf(new X509Certificate(pem), trustDomain);
  return typeof identity !== 'string' && identity.principal.kind === 'node' ? identity.principal.nodeId : undefined;
}
