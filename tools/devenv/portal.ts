// Development credentials of the portal: its token signing key, the JWKS the nodes and the reports
// service trust it by, and staff accounts with known demo passwords. `npm start` and the portal
// tests make them with this one function, so what the tests prove is what the demo runs.

import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { portalJwks } from '../../services/portal/issuer';
import { hashPassword, type StaffUser } from '../../services/portal/users';

/** The portal's issuer name in development (the `iss` of the tokens it mints). */
export const dev_portal_issuer = 'https://tapline.dev.invalid/portal';

export interface DemoUser {
  readonly username: string;
  readonly password: string;
  readonly role: string;
  readonly scope: readonly string[];
}

export interface PortalFiles {
  readonly signing_key_file: string;
  readonly jwks_file: string;
  readonly users_file: string;
  readonly issuer: string;
}

/** Writes (or keeps) the signing key, and writes the JWKS and the staff directory of `users`. */
export async function writePortalFiles(dir: string, users: readonly DemoUser[]): Promise<PortalFiles> {
  mkdirSync(dir, { recursive: true });
  const signing_key_file = join(dir, 'portal-signing-key.pem');
  if (!existsSync(signing_key_file)) {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    writeFileSync(signing_key_file, key.export({ type: 'pkcs8', format: 'pem' }).toString(), { mode: 0o600 });
  }
  const jwks_file = join(dir, 'portal-jwks.json');
  writeFileSync(jwks_file, `${JSON.stringify(await portalJwks(readFileSync(signing_key_file, 'utf8')), null, 2)}\n`);
  const staff: StaffUser[] = await Promise.all(
    users.map(async (user) => ({
      username: user.username,
      password_hash: await hashPassword(user.password),
      role: user.role,
      scope: [...user.scope],
    })),
  );
  const users_file = join(dir, 'portal-users.json');
  writeFileSync(users_file, `${JSON.stringify(staff, null, 2)}\n`, { mode: 0o600 });
  return { signing_key_file, jwks_file, users_file, issuer: dev_portal_issuer };
}

/** TAPLINE_OIDC_ISSUERS trusting the issuers of `setting` and the portal's. */
export function issuersWithPortal(setting: string, files: PortalFiles): string {
  const issuers = JSON.parse(setting) as unknown[];
  return JSON.stringify([...issuers, { issuer: files.issuer, jwks_file: files.jwks_file }]);
}

/**
 * The demo's portal accounts of one `npm start` run: a fleet manager of the demo fleet, a merchant
 * admin of the demo bar, an organizer (issuer admin), a settlement approver and an auditor. Development passwords, printed by `npm
 * start`; a deployment uses its identity provider or its own users file.
 */
export function demoPortalUsers(run: string): DemoUser[] {
  return [
    { username: 'fleet', password: 'fleet-demo', role: 'fleet_manager', scope: [`haulage-${run}`] },
    { username: 'bar', password: 'bar-demo', role: 'merchant_admin', scope: ['main-stage-bar'] },
    { username: 'organizer', password: 'organizer-demo', role: 'issuer_admin', scope: ['*'] },
    // The second person of settlement approval, and the reader of the audit log.
    { username: 'approver', password: 'approver-demo', role: 'settlement_approver', scope: ['*'] },
    { username: 'auditor', password: 'auditor-demo', role: 'auditor', scope: ['*'] },
  ];
}

/** The demo cardholder's PIN (its card is issued by `npm start` with it). */
export const demo_cardholder_pin = '1234';

/** The portal process's environment: its HTTPS certificate, issuer key, users and backends. */
export function portalEnv(
  files: PortalFiles,
  tls: { cert: string; key: string },
  backends: { operator: string; reports: string; ca: string },
  port: number,
  programs: readonly string[],
): Record<string, string> {
  return {
    TAPLINE_PORTAL_PORT: String(port),
    TAPLINE_PORTAL_HOST: '127.0.0.1',
    TAPLINE_TLS_CERT_FILE: tls.cert,
    TAPLINE_TLS_KEY_FILE: tls.key,
    TAPLINE_AUTHORIZER_GRPC_ADDRESS: backends.operator,
    TAPLINE_REPORTS_URL: backends.reports,
    TAPLINE_PORTAL_CA_FILE: backends.ca,
    TAPLINE_PORTAL_TLS_SERVER_NAME: 'localhost',
    TAPLINE_PORTAL_ISSUER: files.issuer,
    TAPLINE_PORTAL_SIGNING_KEY_FILE: files.signing_key_file,
    TAPLINE_PORTAL_USERS_FILE: files.users_file,
    TAPLINE_PORTAL_PROGRAMS: programs.join(','),
    TAPLINE_LOG_LEVEL: process.env['TAPLINE_LOG_LEVEL'] ?? 'warn',
  };
}
