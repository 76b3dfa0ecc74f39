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
