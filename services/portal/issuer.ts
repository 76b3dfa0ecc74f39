// The portal's own token issuer. The portal authenticates people (a card number and PIN, a staff
// password) and then calls the node's operator API and the reports service *as that person*: each
// call carries a short-lived token signed here, naming the person as subject and carrying exactly
// the person's role and scope. The nodes and the reports service trust this issuer like any other
// (TAPLINE_OIDC_ISSUERS), so every access rule and the audit trail apply unchanged and the portal
// can never do more than the person signed in to it.

import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint, exportJWK, SignJWT, type JWK } from 'jose';
import type { Grant } from '../../actors/principal';

export class PortalIssuer {
  private constructor(
    readonly issuer: string,
    private readonly audience: string,
    private readonly key: KeyObject,
    private readonly kid: string,
    private readonly ttl_s: number,
  ) {}

  static async fromPem(pem: string, issuer: string, audience: string, ttl_s: number): Promise<PortalIssuer> {
    const key = createPrivateKey(pem);
    return new PortalIssuer(issuer, audience, key, await keyIdOf(key), ttl_s);
  }

  static fromFile(path: string, issuer: string, audience: string, ttl_s: number): Promise<PortalIssuer> {
    return PortalIssuer.fromPem(readFileSync(path, 'utf8'), issuer, audience, ttl_s);
  }

  /** A token for one person: `subject` acting with `grant`, valid for the configured seconds. */
  mint(subject: string, grant: Grant, now_ms: number): Promise<string> {
    const now_s = Math.floor(now_ms / 1000);
    return new SignJWT({ tapline_roles: [{ role: grant.role, scope: [...grant.scope] }] })
      .setProtectedHeader({ alg: 'ES256', kid: this.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setSubject(subject)
      .setIssuedAt(now_s)
      .setJti(randomBytes(8).toString('hex'))
      .setExpirationTime(now_s + this.ttl_s)
      .sign(this.key);
  }
}

async function keyIdOf(key: KeyObject): Promise<string> {
  return `portal-${(await calculateJwkThumbprint(await publicJwkOf(key))).slice(0, 16)}`;
}

async function publicJwkOf(key: KeyObject): Promise<JWK> {
  const jwk = await exportJWK(key);
  delete jwk.d;
  return jwk;
}

/** The JWKS (public half only) that the nodes and the reports service trust the portal's tokens by. */
export async function portalJwks(pem: string): Promise<{ keys: JWK[] }> {
  const key = createPrivateKey(pem);
  return { keys: [{ ...(await publicJwkOf(key)), kid: await keyIdOf(key), alg: 'ES256', use: 'sig' }] };
}
