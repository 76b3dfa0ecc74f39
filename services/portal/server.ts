// The Tapline portal: one HTTPS web application for cardholders, fleet managers, merchants and the
// organizer / issuer. It signs people in (a card number and PIN checked by the card itself; staff
// passwords from the staff directory), keeps the session on the server, and does everything a page
// shows or a form asks by calling the node's operator API and the reports service as that person
// (backend.ts, issuer.ts). Every route has a rule in policy.ts (portal_rules) that the portal applies
// first; the backends apply their own rules again to the person's token.

import { readFileSync } from 'node:fs';
import fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyFormbody from '@fastify/formbody';
import type { Logger } from 'pino';
import { permissionDenied, RejectedError, TaplineError } from '../../actors/errors';
import type { OperatorPrincipal } from '../../actors/principal';
import { operatorGrant, type AccessLookups } from '../common/auth/access';
import { portal_rules } from '../common/auth/policy';
import { live_script, stylesheet } from './assets';
import { localeOf, locales } from './i18n';
import { csrfMatches, type Locale } from './sessions';
import { form_body_bytes_max, pageContext, sessionOf, setSessionCookie, session_cookie, type PortalDeps } from './context';
import { errorPage } from './views';
import { registerPages } from './pages';

const no_lookups: AccessLookups = { merchantOfTerminal: () => Promise.resolve(undefined) };

/** Every response: no framing, no sniffing, scripts and styles only from the portal, no caching of pages. */
function securityHeaders(reply: FastifyReply): void {
  reply.header(
    'content-security-policy',
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
  );
  reply.header('x-content-type-options', 'nosniff');
  reply.header('referrer-policy', 'no-referrer');
  reply.header('strict-transport-security', 'max-age=31536000');
  reply.header('cache-control', 'no-store');
}

/** Applies the route's rule to the session's person: undefined when allowed, or the refusal. */
async function admit(request: FastifyRequest, deps: PortalDeps): Promise<'login' | RejectedError | undefined> {
  const name = request.routeOptions.config.rule;
  const rule = name === undefined ? undefined : portal_rules[name];
  if (rule === undefined) return permissionDenied('this route has no access rule');
  if (rule.who === 'public') return undefined;
  const principal = sessionOf(request).principal;
  if (principal === undefined) return 'login';
  const operator: OperatorPrincipal = {
    kind: 'operator',
    subject: principal.subject,
    issuer: deps.issuer.issuer,
    grants: [principal.grant],
  };
  const id = (request.params as Record<string, string> | undefined)?.['id'] ?? '';
  try {
    await operatorGrant(rule, operator, undefined, rule.scope?.([id]), no_lookups);
    return undefined;
  } catch (error) {
    if (error instanceof RejectedError) return error;
    throw error;
  }
}

const status_of: Readonly<Record<string, 400 | 403 | 404 | 409>> = {
  invalid_argument: 400,
  permission_denied: 403,
  unauthenticated: 403,
  not_found: 404,
  failed_precondition: 409,
  already_exists: 409,
};

/** The page of a failure: a refusal as its status (and nothing of what was refused), anything else as 503. */
function failurePage(request: FastifyRequest, reply: FastifyReply, error: unknown, logger: Logger): FastifyReply {
  const validation = typeof error === 'object' && error !== null && 'validation' in error;
  const status = validation ? 400 : error instanceof RejectedError ? (status_of[error.code] ?? 403) : 503;
  if (status === 503) logger.warn({ err: error, route: request.routeOptions.config.rule }, 'portal request failed');
  const wantsJson = request.url.startsWith('/api/');
  if (wantsJson) return reply.code(status).type('application/json').send({ error: status });
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(errorPage(pageContext(request), status));
}

function hooks(app: FastifyInstance, deps: PortalDeps): void {
  app.addHook('onRequest', async (request, reply) => {
    securityHeaders(reply);
    const now_ms = deps.clock();
    let session = deps.sessions.get(request.cookies[session_cookie], now_ms);
    if (session === undefined) {
      session = deps.sessions.open(localeOf(request.headers['accept-language']), now_ms);
      // A navigation from another site (the PSP returning a holder) arrives without the
      // SameSite=Strict cookie even when the browser holds one: a new cookie would sign them out.
      if (request.headers['sec-fetch-site'] !== 'cross-site') setSessionCookie(reply, session);
    }
    request.portalSession = session;
  });
  app.addHook('preHandler', async (request, reply) => {
    if (request.method === 'POST' && !csrfMatches(sessionOf(request), (request.body as Record<string, unknown> | undefined)?.['_csrf']))
      return failurePage(request, reply, permissionDenied('the form is stale or not from this site'), deps.logger);
    const refusal = await admit(request, deps);
    if (refusal === 'login') return request.url.startsWith('/api/') ? reply.code(401).send({ error: 401 }) : reply.redirect('/login', 303);
    if (refusal !== undefined) return failurePage(request, reply, refusal, deps.logger);
    return undefined;
  });
  app.setErrorHandler((error, request, reply) => failurePage(request, reply, error, deps.logger));
  app.setNotFoundHandler((request, reply) => failurePage(request, reply, new RejectedError('not_found', 'no such page'), deps.logger));
}

function staticRoutes(app: FastifyInstance): void {
  app.get('/static/portal.css', { config: { rule: 'portal.static' } }, (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'max-age=3600').send(stylesheet),
  );
  app.get('/static/live.js', { config: { rule: 'portal.static' } }, (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'max-age=3600').send(live_script),
  );
  app.get<{ Params: { locale: string }; Querystring: { back?: string } }>(
    '/language/:locale',
    {
      config: { rule: 'portal.language' },
      schema: { params: { type: 'object', properties: { locale: { enum: [...locales] } }, required: ['locale'] } },
    },
    (request, reply) => {
      sessionOf(request).locale = request.params.locale as Locale;
      const back = request.query.back ?? '/';
      // Only a path of this site: never an open redirect.
      return reply.redirect(/^\/(?![/\\])[^\s]*$/.test(back) ? back : '/', 303);
    },
  );
}

export class PortalServer {
  private constructor(
    private readonly app: FastifyInstance,
    readonly port: number,
    /** The rule names of the routes it serves (each one in portal_rules). */
    readonly route_rules: readonly string[],
  ) {}

  static async start(deps: PortalDeps, tls: { cert: string; key: string }, port: number, host: string): Promise<PortalServer> {
    const app = fastify({
      https: { cert: readFileSync(tls.cert), key: readFileSync(tls.key) },
      bodyLimit: form_body_bytes_max,
      logger: false,
      routerOptions: { maxParamLength: 200 },
    });
    const rules = new Set<string>();
    // A route without a rule in policy.ts is a defect: the portal refuses to start with one.
    app.addHook('onRoute', (route) => {
      const rule = route.config?.rule;
      if (rule === undefined || portal_rules[rule] === undefined)
        throw new Error(`assertion: portal route ${route.url} has no access rule`);
      rules.add(rule);
    });
    await app.register(fastifyCookie);
    await app.register(fastifyFormbody, { bodyLimit: form_body_bytes_max });
    hooks(app, deps);
    staticRoutes(app);
    registerPages(app, deps);
    await app.listen({ port, host });
    const address = app.server.address();
    return new PortalServer(app, typeof address === 'object' && address !== null ? address.port : port, [...rules].sort());
  }

  async stop(): Promise<void> {
    await this.app.close();
  }
}

export { TaplineError };
