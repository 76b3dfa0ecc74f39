// Staff accounts of the portal: a username, a scrypt hash of the password, one role and its scope.
// In production the identity provider signs staff in; these accounts serve the development
// environment and the tests (tools/devenv writes them) and small deployments without one.

import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { role_names } from '../common/auth/policy';
import { ConfigError } from '../common/process';

/** scrypt cost: N = 2^15 takes ~50 ms here, dear enough for guessing and cheap for one login. */
const scrypt_cost = 32_768;
const scrypt_block_size = 8;
const scrypt_key_bytes = 32;
const scrypt_memory_max_bytes = 64 * 1024 * 1024;
/** Passwords longer than this are refused unhashed (scrypt of megabytes is a denial of service). */
export const password_chars_max = 256;

const user_schema = z
  .object({
    username: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/),
    password_hash: z.string().regex(/^scrypt\$[0-9a-f]{32}\$[0-9a-f]{64}$/),
    role: z.enum(role_names as [string, ...string[]]),
    scope: z
      .array(z.string().regex(/^(\*|[A-Za-z0-9._-]{1,64})$/))
      .min(1)
      .max(1_000),
  })
  .strict();
export type StaffUser = z.infer<typeof user_schema>;

function derive(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(
      password,
      salt,
      scrypt_key_bytes,
      { N: scrypt_cost, r: scrypt_block_size, p: 1, maxmem: scrypt_memory_max_bytes },
      (error, key) => (error === null ? resolve(key) : reject(error)),
    ),
  );
}

/** "scrypt$<salt hex>$<key hex>": what a users file stores for a password. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString('hex')}$${(await derive(password, salt)).toString('hex')}`;
}

export class StaffDirectory {
  private readonly users: ReadonlyMap<string, StaffUser>;
  /** Compared against when the username is unknown, so the answer takes as long either way. */
  private readonly decoy = `scrypt$${'0'.repeat(32)}$${'0'.repeat(64)}`;

  constructor(users: readonly StaffUser[]) {
    this.users = new Map(users.map((user) => [user.username, user]));
  }

  static fromFile(path: string): StaffDirectory {
    const parsed = z
      .array(user_schema)
      .max(10_000)
      .safeParse(JSON.parse(readFileSync(path, 'utf8')));
    if (!parsed.success)
      throw new ConfigError(`invalid configuration: TAPLINE_PORTAL_USERS_FILE: ${parsed.error.issues[0]?.message ?? ''}`);
    return new StaffDirectory(parsed.data);
  }

  /** The usernames of the merchant admins who may act for `merchant` (its own or every merchant). */
  merchantAdminsOf(merchant: string): string[] {
    return [...this.users.values()]
      .filter((user) => user.role === 'merchant_admin' && (user.scope.includes(merchant) || user.scope.includes('*')))
      .map((user) => user.username)
      .sort();
  }

  /** The account whose password this is, or undefined (unknown user and wrong password alike). */
  async verify(username: string, password: string): Promise<StaffUser | undefined> {
    if (password.length === 0 || password.length > password_chars_max) return undefined;
    const user = this.users.get(username);
    const [, salt = '', key = ''] = (user?.password_hash ?? this.decoy).split('$');
    const derived = await derive(password, Buffer.from(salt, 'hex'));
    const matches = timingSafeEqual(derived, Buffer.from(key, 'hex'));
    return user !== undefined && matches ? user : undefined;
  }
}
