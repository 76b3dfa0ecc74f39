// Operators (people and services) authenticate with signed bearer tokens: JWTs as an OpenID
// Connect provider issues them, verified with jose against the configured issuers and their keys.
// Each issuer is trusted with its own key set: a local JWKS file (development, or keys distributed
// as a Secret; reread when it changes) or a JWKS URL (a real identity provider; fetched and cached
// by jose, refetched on an unknown key id, so key rotation needs no restart).
//
// Claims read: iss (one of the issuers), aud (TAPLINE_OIDC_AUDIENCE), exp (required) and nbf, sub
// (who acted, in every audit record), and the roles claim (TAPLINE_OIDC_ROLES_CLAIM, default
// "tapline_roles"): a list of {"role": <role>, "scope": [<id> | "*", ...]}. Roles unknown to this
// build are ignored; a token granting none is authenticated and allowed nothing. Only asymmetric
// algorithms are accepted (a shared-secret HS256 key could mint tokens wherever it is stored).

import * as grpc from '@grpc/grpc-js';
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import { unauthenticated } from '../../../actors/errors';
import type { Grant, OperatorPrincipal } from '../../../actors/principal';
import { role_names, type Role } from './policy';
import { WatchedFile } from './watched-file';
import { ConfigError } from '../process';

export const token_algorithms = ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'];
/** A bearer token longer than this is refused unread (a JWT with a few grants is under 2 KB). */
export const token_chars_max = 8_192;
/** Grants one token may carry, and ids one grant's scope may list. */
export const grants_max = 16;
export const scope_ids_max = 1_000;
/** Verified tokens remembered (by their text) until they expire or this many are held. */
export const verified_tokens_max = 10_000;

/** One trusted issuer and where its signing keys are. */
export const issuer_schema = z
  .object({
    issuer: z.string().min(1).max(512),
    jwks_file: z.string().min(1).optional(),
    // Signing keys fetched in clear could be swapped on the way: HTTPS only.
    jwks_url: z
      .string()
      .url()
      .refine((url) => url.startsWith('https://'), 'jwks_url must be an https:// URL')
      .optional(),
  })
  .strict()
  .refine((value) => (value.jwks_file === undefined) !== (value.jwks_url === undefined), 'give exactly one of jwks_file and jwks_url');
export type IssuerSettings = z.infer<typeof issuer_schema>;

/** The issuers TAPLINE_OIDC_ISSUERS names (a ConfigError when it is not the JSON it must be). */
export function parseIssuers(text: string): IssuerSettings[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError('invalid configuration: TAPLINE_OIDC_ISSUERS must be a JSON array of {issuer, jwks_file | jwks_url}');
  }
  const parsed = z.array(issuer_schema).min(1).max(16).safeParse(value);
  if (!parsed.success)
    throw new ConfigError(`invalid configuration: TAPLINE_OIDC_ISSUERS: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  return parsed.data;
}

export interface TokenSettings {
  readonly issuers: readonly IssuerSettings[];
  readonly audience: string;
  readonly roles_claim: string;
  /** Seconds of clock skew tolerated on exp and nbf. */
  readonly clock_tolerance_s: number;
  /** How often a JWKS file is reread. */
  readonly reload_ms: number;
}

const subject_pattern = /^[A-Za-z0-9._@:+-]{1,128}$/;
const scope_id_pattern = /^(\*|[A-Za-z0-9._-]{1,64})$/;

const grant_schema = z.object({
  role: z.string().max(64),
  scope: z.array(z.string().regex(scope_id_pattern)).min(1).max(scope_ids_max),
});

/** The grants of a roles claim that name a role of this build. */
export function grantsOf(claim: unknown): Grant[] {
  const parsed = z
    .array(grant_schema)
    .max(grants_max)
    .safeParse(claim ?? []);
  if (!parsed.success) throw unauthenticated('the token roles claim is malformed');
  return parsed.data.filter((grant) => role_names.includes(grant.role as Role));
}

/** The key set of one issuer. */
function keySetOf(settings: IssuerSettings, reload_ms: number): JWTVerifyGetKey {
  if (settings.jwks_url !== undefined)
    return createRemoteJWKSet(new URL(settings.jwks_url), { cooldownDuration: 30_000, cacheMaxAge: 600_000 });
  const file = new WatchedFile(settings.jwks_file as string, reload_ms);
  let keys = createLocalJWKSet(JSON.parse(file.current.toString('utf8')) as Parameters<typeof createLocalJWKSet>[0]);
  file.onChange((content) => {
    try {
      keys = createLocalJWKSet(JSON.parse(content.toString('utf8')) as Parameters<typeof createLocalJWKSet>[0]);
    } catch {
      // A half-written file: keep the keys in use until it reads whole.
    }
  });
  return (header, token) => keys(header, token);
}

export class TokenVerifier {
  private readonly issuers = new Map<string, JWTVerifyGetKey>();
  private readonly verified = new Map<string, { principal: OperatorPrincipal; until_ms: number }>();

  constructor(
    private readonly settings: TokenSettings,
    private readonly clock: () => number = Date.now,
  ) {
    for (const issuer of settings.issuers) this.issuers.set(issuer.issuer, keySetOf(issuer, settings.reload_ms));
  }

  /** The principal of a bearer token, or UNAUTHENTICATED (a RejectedError) saying what is wrong. */
  async verify(token: string): Promise<OperatorPrincipal> {
    if (token.length === 0 || token.length > token_chars_max) throw unauthenticated('bearer token missing or too long');
    const now_ms = this.clock();
    const known = this.verified.get(token);
    if (known !== undefined && known.until_ms > now_ms) return known.principal;
    let issuer: string | undefined;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      throw unauthenticated('the bearer token is not a JWT');
    }
    const keys = issuer === undefined ? undefined : this.issuers.get(issuer);
    if (keys === undefined) throw unauthenticated('the token issuer is not trusted');
    const principal = await this.verifyWith(token, issuer as string, keys, now_ms);
    this.remember(token, principal.principal, Math.min(principal.exp_ms, now_ms + 60_000));
    return principal.principal;
  }

  private async verifyWith(
    token: string,
    issuer: string,
    keys: JWTVerifyGetKey,
    now_ms: number,
  ): Promise<{ principal: OperatorPrincipal; exp_ms: number }> {
    let payload: Awaited<ReturnType<typeof jwtVerify>>['payload'];
    try {
      ({ payload } = await jwtVerify(token, keys, {
        issuer,
        audience: this.settings.audience,
        algorithms: token_algorithms,
        clockTolerance: this.settings.clock_tolerance_s,
        currentDate: new Date(now_ms),
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      throw unauthenticated(reasonOf(error));
    }
    const subject = payload.sub ?? '';
    if (!subject_pattern.test(subject)) throw unauthenticated('the token subject is malformed');
    const grants = grantsOf(payload[this.settings.roles_claim]);
    return { principal: { kind: 'operator', subject, issuer, grants }, exp_ms: (payload.exp ?? 0) * 1000 };
  }

  private remember(token: string, principal: OperatorPrincipal, until_ms: number): void {
    if (this.verified.size >= verified_tokens_max) {
      const oldest = this.verified.keys().next();
      if (oldest.done !== true) this.verified.delete(oldest.value);
    }
    this.verified.set(token, { principal, until_ms });
  }
}

/** What a client is told about a refused token: the reason, never the token or a key. */
function reasonOf(error: unknown): string {
  if (error instanceof errors.JWTExpired) return 'the token has expired';
  if (error instanceof errors.JWTClaimValidationFailed) return `the token claim ${error.claim} is not accepted`;
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'the token signature does not verify';
  if (error instanceof errors.JWKSNoMatchingKey) return 'no key of the issuer matches the token';
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token algorithm is not accepted';
  return 'the token is not valid';
}

/** The token of an "authorization: Bearer <token>" header value, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer\s+([A-Za-z0-9._~+/=-]+)$/i.exec(header.trim());
  return match?.[1];
}

/** A client interceptor that sends `authorization: Bearer <token>` on every call (the token read fresh each time). */
export function bearerInterceptor(token: () => string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start: (metadata, listener, next) => {
        metadata.set('authorization', `Bearer ${token()}`);
        next(metadata, listener);
      },
    });
}
