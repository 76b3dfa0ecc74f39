// Development credentials: a local certificate authority, certificates for terminals, gateways and
// nodes, a token signing key published as a JWKS file, and signed tokens per role. `npm start`
// writes them under .data/dev-credentials/ with a manifest (manifest.json, see writeManifest); the
// test support makes one set per test process under .test-data/; the benchmark makes its own. The
// same code serves all three, so what the tests prove is what the demo runs.
//
// Production never uses this: certificates come from the operator's CA (e.g. cert-manager) and
// tokens from an identity provider; the node only verifies. Keys are ECDSA P-256 (fast to make, so
// a test can mint a certificate for every terminal it names). Private keys are written mode 0600.

import 'reflect-metadata';
import { createPrivateKey, generateKeyPairSync, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as x509 from '@peculiar/x509';
import { exportJWK, SignJWT } from 'jose';
import type { Principal } from '../../actors/principal';
import { identityUri } from '../../services/common/auth/certificates';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ec = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const day_ms = 86_400_000;
/** The dev issuer's name in tokens (`iss`) and the audience nodes expect by default. */
export const dev_issuer = 'https://tapline.dev.invalid/issuer';
export const dev_audience = 'tapline';

export interface CertificateFiles {
  readonly cert: string;
  readonly key: string;
  /** Upper-case hex serial, as revocation lists name it. */
  readonly serial: string;
}

export interface TokenRequest {
  readonly role: string;
  readonly scope?: readonly string[];
  readonly subject?: string;
  /** Seconds from now; negative for an already expired token. */
  readonly expires_in_s?: number;
  readonly issuer?: string;
  readonly audience?: string;
}

function pem(label: string, der: ArrayBuffer | Buffer): string {
  const base64 = Buffer.from(der as ArrayBuffer).toString('base64');
  return `-----BEGIN ${label}-----\n${base64.replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

function write(path: string, content: string, secret = false): void {
  writeFileSync(path, content, secret ? { mode: 0o600 } : {});
}

/** A local CA and what it signs. */
export class DevAuthority {
  private serial = BigInt(Date.now()) * 1000n;

  private constructor(
    readonly dir: string,
    readonly caFile: string,
    private readonly ca: x509.X509Certificate,
    private readonly caKeys: CryptoKeyPair,
    readonly trustDomain: string,
  ) {}

  /** The CA of `dir` (made once and kept, so certificates issued earlier stay valid), or a new one. */
  static async open(dir: string, name = 'Tapline development CA', trustDomain = 'tapline'): Promise<DevAuthority> {
    mkdirSync(dir, { recursive: true });
    const caFile = join(dir, 'ca.pem');
    const keyFile = join(dir, 'ca-key.pem');
    if (existsSync(caFile) && existsSync(keyFile)) {
      const ca = new x509.X509Certificate(readFileSync(caFile, 'utf8'));
      const privateKey = await importPkcs8(readFileSync(keyFile, 'utf8'));
      const publicKey = await webcrypto.subtle.importKey('spki', ca.publicKey.rawData, ec, true, ['verify']);
      if (ca.notAfter.getTime() > Date.now() + 30 * day_ms)
        return new DevAuthority(dir, caFile, ca, { privateKey, publicKey }, trustDomain);
    }
    const keys = await webcrypto.subtle.generateKey(ec, true, ['sign', 'verify']);
    const ca = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: `CN=${name}`,
      notBefore: new Date(Date.now() - day_ms),
      notAfter: new Date(Date.now() + 3_650 * day_ms),
      signingAlgorithm: ec,
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      ],
    });
    write(caFile, ca.toString('pem') + '\n');
    write(keyFile, pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), true);
    return new DevAuthority(dir, caFile, ca, keys, trustDomain);
  }

  /**
   * Issues a certificate for a principal (its SPIFFE URI; nodes also get localhost and 127.0.0.1 so
   * they can serve), written as <name>.pem and <name>-key.pem. Valid from a day ago (clock skew)
   * for `days`; negative days make an already expired certificate.
   */
  async issue(
    principal: Principal | undefined,
    name: string,
    options: { days?: number; dns?: readonly string[] } = {},
  ): Promise<CertificateFiles> {
    const keys = await webcrypto.subtle.generateKey(ec, true, ['sign', 'verify']);
    this.serial += 1n;
    const serial = this.serial.toString(16).toUpperCase();
    const days = options.days ?? 365;
    // A node (or a service, principal undefined) serves: it also names localhost and 127.0.0.1.
    const serves = principal === undefined || principal.kind === 'node';
    const names: x509.JsonGeneralNames = principal === undefined ? [] : [{ type: 'url', value: identityUri(principal, this.trustDomain) }];
    for (const dns of serves ? ['localhost', ...(options.dns ?? [])] : (options.dns ?? [])) names.push({ type: 'dns', value: dns });
    if (serves) names.push({ type: 'ip', value: '127.0.0.1' });
    const notAfter = days >= 0 ? new Date(Date.now() + days * day_ms) : new Date(Date.now() + days * day_ms);
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: `CN=${name}`,
      issuer: this.ca.subject,
      notBefore: new Date(Math.min(Date.now(), notAfter.getTime()) - day_ms),
      notAfter,
      signingAlgorithm: ec,
      publicKey: keys.publicKey,
      signingKey: this.caKeys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension(names),
        await x509.AuthorityKeyIdentifierExtension.create(this.ca),
      ],
    });
    const cert = join(this.dir, `${name}.pem`);
    const key = join(this.dir, `${name}-key.pem`);
    write(cert, certificate.toString('pem') + '\n');
    write(key, pem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)), true);
    return { cert, key, serial };
  }
}

async function importPkcs8(text: string): Promise<CryptoKey> {
  const der = Buffer.from(text.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  return webcrypto.subtle.importKey('pkcs8', der, ec, true, ['sign']);
}

/** A token signing key, its public JWKS file (what nodes trust) and the tokens it signs. */
export class DevIssuer {
  private constructor(
    readonly jwksFile: string,
    private readonly key: KeyObject,
    private readonly kid: string,
    readonly issuer: string,
  ) {}

  static async open(dir: string, issuer = dev_issuer): Promise<DevIssuer> {
    mkdirSync(dir, { recursive: true });
    const keyFile = join(dir, 'token-signing-key.pem');
    const jwksFile = join(dir, 'jwks.json');
    let key: KeyObject;
    if (existsSync(keyFile)) key = createPrivateKey(readFileSync(keyFile, 'utf8'));
    else {
      key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      write(keyFile, key.export({ type: 'pkcs8', format: 'pem' }).toString(), true);
    }
    const jwk = await exportJWK(key);
    const kid = `dev-${Buffer.from(String(jwk.x)).toString('hex').slice(0, 16)}`;
    // The JWKS publishes the public half only.
    const publicJwk = { ...jwk };
    delete publicJwk.d;
    write(jwksFile, JSON.stringify({ keys: [{ ...publicJwk, kid, alg: 'ES256', use: 'sig' }] }, null, 2) + '\n');
    return new DevIssuer(jwksFile, key, kid, issuer);
  }

  /** TAPLINE_OIDC_ISSUERS trusting this issuer. */
  get issuersSetting(): string {
    return JSON.stringify([{ issuer: this.issuer, jwks_file: this.jwksFile }]);
  }

  async token(request: TokenRequest): Promise<string> {
    const now_s = Math.floor(Date.now() / 1000);
    return new SignJWT({ tapline_roles: [{ role: request.role, scope: [...(request.scope ?? ['*'])] }] })
      .setProtectedHeader({ alg: 'ES256', kid: this.kid, typ: 'JWT' })
      .setIssuer(request.issuer ?? this.issuer)
      .setAudience(request.audience ?? dev_audience)
      .setSubject(request.subject ?? `dev-${String(request.role)}`)
      .setIssuedAt(now_s)
      .setJti(randomBytes(8).toString('hex'))
      .setExpirationTime(now_s + (request.expires_in_s ?? 12 * 3_600))
      .sign(this.key);
  }
}

/** Everything one environment (npm start, a test process, a benchmark) authenticates with. */
export class DevCredentials {
  private readonly nodes = new Map<string, Promise<CertificateFiles>>();
  private readonly terminals = new Map<string, Promise<CertificateFiles>>();
  private readonly gateways = new Map<string, Promise<CertificateFiles>>();
  private readonly tokens = new Map<string, Promise<string>>();
  readonly revokedFile: string;

  private constructor(
    readonly dir: string,
    readonly authority: DevAuthority,
    readonly issuer: DevIssuer,
  ) {
    this.revokedFile = join(dir, 'revoked-serials.txt');
    if (!existsSync(this.revokedFile)) write(this.revokedFile, '# revoked client certificate serials, one per line\n');
  }

  static async open(dir: string): Promise<DevCredentials> {
    const [authority, issuer] = await Promise.all([DevAuthority.open(dir), DevIssuer.open(dir)]);
    return new DevCredentials(dir, authority, issuer);
  }

  get caFile(): string {
    return this.authority.caFile;
  }

  node(nodeId: string): Promise<CertificateFiles> {
    return remember(this.nodes, nodeId, () => this.authority.issue({ kind: 'node', nodeId }, `node-${nodeId}`));
  }

  terminal(terminalId: string): Promise<CertificateFiles> {
    return remember(this.terminals, terminalId, () => this.authority.issue({ kind: 'terminal', terminalId }, `terminal-${terminalId}`));
  }

  gateway(merchantIds: readonly string[]): Promise<CertificateFiles> {
    const name = merchantIds.join('+');
    return remember(this.gateways, name, () => this.authority.issue({ kind: 'gateway', merchantIds }, `gateway-${name}`));
  }

  /** A server certificate of a service that is no principal (the reports service's HTTPS). */
  server(name: string): Promise<CertificateFiles> {
    return remember(this.nodes, `server:${name}`, () => this.authority.issue(undefined, `server-${name}`));
  }

  /** A token of one role (scope "*" unless given), remembered per role, scope and subject. */
  token(role: string, scope: readonly string[] = ['*'], subject?: string): Promise<string> {
    const name = `${role}|${scope.join(',')}|${subject ?? ''}`;
    return remember(this.tokens, name, () => this.issuer.token({ role, scope, ...(subject === undefined ? {} : { subject }) }));
  }

  /** Writes a token of `role` to a file (a service reads its own token from one) and returns the path. */
  async tokenFile(role: string, name: string): Promise<string> {
    const path = join(this.dir, `${name}.token`);
    write(path, `${await this.token(role)}\n`, true);
    return path;
  }

  /** Adds a serial to the revocation list nodes watch. */
  revoke(serial: string): void {
    write(this.revokedFile, `${readFileSync(this.revokedFile, 'utf8')}${serial}\n`);
  }

  /** The environment a node needs to serve with these credentials (its certificate names it). */
  async nodeEnv(nodeId: string): Promise<Record<string, string>> {
    const files = await this.node(nodeId);
    return {
      TAPLINE_NODE_ID: nodeId,
      TAPLINE_TLS_CERT_FILE: files.cert,
      TAPLINE_TLS_KEY_FILE: files.key,
      TAPLINE_TLS_CLIENT_CA_FILE: this.caFile,
      TAPLINE_TLS_CLUSTER_CA_FILE: this.caFile,
      TAPLINE_TLS_REVOKED_FILE: this.revokedFile,
      TAPLINE_OIDC_ISSUERS: this.issuer.issuersSetting,
      TAPLINE_OIDC_AUDIENCE: dev_audience,
    };
  }
}

function remember<T>(map: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

/**
 * What `npm start` writes to .data/dev-credentials/manifest.json (README "Doors and roles"): the CA
 * that signed the servers, the doors, a certificate per terminal, gateway and node, and a token
 * per role. Paths are relative to the repository root. The benchmark writes one of its own in the
 * same shape, and the clients of tools/client/access.ts read either (manifestAccess).
 */
export interface DevManifest {
  readonly ca: string;
  readonly endpoints: { readonly terminal: string; readonly operator: string; readonly internal: string; readonly reports: string };
  readonly terminals: readonly { readonly terminal_id: string; readonly cert: string; readonly key: string }[];
  readonly gateways: readonly { readonly merchant_id: string; readonly cert: string; readonly key: string }[];
  readonly nodes: readonly { readonly node_id: string; readonly cert: string; readonly key: string }[];
  readonly operators: readonly {
    readonly role: string;
    readonly scope: readonly string[];
    readonly subject: string;
    readonly token: string;
  }[];
}

/** What a manifest lists: the doors, and the terminals, gateway merchants and nodes to certify. */
export interface ManifestContents {
  readonly endpoints: DevManifest['endpoints'];
  readonly terminals: readonly string[];
  /** One gateway certificate per merchant. */
  readonly gateways: readonly string[];
  readonly nodes: readonly string[];
  /** One token per role, scope "*", subject dev-<role>. */
  readonly roles: readonly string[];
}

/**
 * Writes `manifest.json` into the credential set's folder (mode 0600: it holds bearer tokens) and
 * returns its path. Paths inside are relative to `root` (the repository root).
 */
export async function writeManifest(credentials: DevCredentials, contents: ManifestContents, root: string): Promise<string> {
  const rel = (path: string): string => relative(root, path);
  const pair = (files: CertificateFiles): { cert: string; key: string } => ({ cert: rel(files.cert), key: rel(files.key) });
  const manifest: DevManifest = {
    ca: rel(credentials.caFile),
    endpoints: contents.endpoints,
    terminals: await Promise.all(
      contents.terminals.map(async (terminal_id) => ({ terminal_id, ...pair(await credentials.terminal(terminal_id)) })),
    ),
    gateways: await Promise.all(
      contents.gateways.map(async (merchant_id) => ({ merchant_id, ...pair(await credentials.gateway([merchant_id])) })),
    ),
    nodes: await Promise.all(contents.nodes.map(async (node_id) => ({ node_id, ...pair(await credentials.node(node_id)) }))),
    operators: await Promise.all(
      contents.roles.map(async (role) => ({ role, scope: ['*'], subject: `dev-${role}`, token: await credentials.token(role) })),
    ),
  };
  const path = join(credentials.dir, 'manifest.json');
  write(path, `${JSON.stringify(manifest, null, 2)}\n`, true);
  return path;
}
