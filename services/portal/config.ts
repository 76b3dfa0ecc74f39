// Configuration of the portal process, from environment variables, validated at startup. Every
// bound says why it has its default.

import { z } from 'zod';
import { envInt, log_level, parseEnv } from '../common/process';

const schema = z.object({
  TAPLINE_LOG_LEVEL: log_level,
  // 0 picks a free port (tests); the process prints the one it got.
  TAPLINE_PORTAL_PORT: envInt(0, 65535, 8443),
  TAPLINE_PORTAL_HOST: z.string().min(1).default('0.0.0.0'),
  // The portal serves HTTPS only: its session cookie is Secure and would not travel otherwise.
  TAPLINE_TLS_CERT_FILE: z.string().min(1),
  TAPLINE_TLS_KEY_FILE: z.string().min(1),
  // The node's operator door (gRPC over TLS) and the reports service (HTTPS), both verified
  // against this CA, both called with a token minted for the signed-in person.
  TAPLINE_AUTHORIZER_GRPC_ADDRESS: z.string().min(1),
  TAPLINE_REPORTS_URL: z
    .string()
    .url()
    .refine((url) => url.startsWith('https://'), 'must be an https:// URL'),
  TAPLINE_PORTAL_CA_FILE: z.string().min(1),
  // Overrides the name checked in the backends' certificates (their dev certificates name localhost).
  TAPLINE_PORTAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  // The portal's own token issuer: its name (the nodes and the reports service trust it by this
  // name and its public key) and its private signing key (PKCS#8 PEM, P-256).
  TAPLINE_PORTAL_ISSUER: z.string().min(1).max(512),
  TAPLINE_PORTAL_SIGNING_KEY_FILE: z.string().min(1),
  TAPLINE_OIDC_AUDIENCE: z.string().min(1).default('tapline'),
  // Staff accounts (JSON: [{username, password_hash, role, scope}]; hashes from hashPassword).
  TAPLINE_PORTAL_USERS_FILE: z.string().min(1),
  // Programs (events) the organizer's statistics page offers, comma separated.
  TAPLINE_PORTAL_PROGRAMS: z.string().default(''),
  // A session idle this long is forgotten: long enough for a shift at a desk, short enough that a
  // phone left unlocked does not stay signed in for the day.
  TAPLINE_PORTAL_SESSION_IDLE_MS: envInt(60_000, 86_400_000, 1_800_000),
  // Sessions held at once; the oldest is dropped beyond it (each is a few hundred bytes).
  TAPLINE_PORTAL_SESSIONS_MAX: envInt(10, 1_000_000, 50_000),
  // Tokens minted for a session live this long: a stolen one is useless soon after.
  TAPLINE_PORTAL_TOKEN_TTL_S: envInt(30, 3_600, 300),
  // Every backend call has a deadline.
  TAPLINE_PORTAL_CALL_TIMEOUT_MS: envInt(100, 60_000, 10_000),
});

export type PortalConfig = z.infer<typeof schema>;

export function loadPortalConfig(env: Record<string, string | undefined> = process.env): PortalConfig {
  return parseEnv(schema, env);
}
