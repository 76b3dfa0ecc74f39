// The HTTP API of notices and webhooks, served by the reports process (services/reports/server.ts
// routes /webhooks/, /notices/, /deliveries/ and /events/ here). One table names every route and
// its method; the access policy (services/common/auth/policy.ts http_rules, "events.<name>") says
// who may call each, and the reports server has authenticated the caller before a handler runs.
// Every write is made as that caller (the token's subject) and writes its audit record in the same
// Redis script as the change (store.ts); personal data (e-mail, phone) is recorded as changed,
// never with its value.
//
// Every body and path segment is validated before Redis is touched: a bad request is 400 naming the
// field and changes nothing.

import { ParameterError, ReportNotFoundError } from '../reports/errors';
import { id_pattern } from '../common/ids';
import { entityId } from '../reports/params';
import type { HttpAnswer } from '../reports/settlement';
import { auditRecord } from '../../actors/outbox/builders';
import type { Acting } from '../../actors/principal';
import type { z } from 'zod';
import { card_contact_schema, operator_subscription_schema, type CardContact, type OperatorSubscription } from './notices/rules';
import { language_pattern, notice_kinds, template_schema } from './notices/templates';
import { keys, type EventsStore } from './store';
import { endpoint_schema, endpointView, endpoints_max, type WebhookEndpoint } from './webhooks';
import { newWebhookSecret } from './webhook-signature';

export interface EventsHttpContext {
  readonly store: EventsStore;
  readonly now: () => number;
  /** What GET /events/status reports about the relay and the worker. */
  readonly status: () => Promise<Record<string, unknown>>;
}

/** Deliveries one history listing returns. */
export const history_entries_max = 200;

interface Call {
  readonly context: EventsHttpContext;
  /** Who acts (the authenticated caller); its subject is the operator of every write. */
  readonly acting: Acting;
  readonly operator: string;
  readonly body: string;
  readonly path: readonly string[];
}

/** The audit record of a configuration change made by the call's caller. */
function audited(call: Call, entity: string, before: unknown, after: unknown): string {
  return auditRecord({ actor: call.acting, changes: [{ entity, before, after }], at: call.context.now() });
}

export interface EventsRoute {
  /** The route's name: what an access policy and the metrics refer to. */
  readonly name: string;
  readonly method: 'GET' | 'PUT' | 'POST' | 'DELETE';
  readonly pattern: RegExp;
  readonly handle: (call: Call) => Promise<HttpAnswer>;
}

const json = (status: number, value: unknown): HttpAnswer => ({ status, type: 'application/json', body: JSON.stringify(value) });

function parseJson<T>(schema: z.ZodType<T>, body: string): T {
  let value: unknown;
  try {
    value = JSON.parse(body === '' ? '{}' : body);
  } catch {
    throw new ParameterError('body', 'is not JSON');
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ParameterError(
      issue === undefined || issue.path.length === 0 ? 'body' : issue.path.join('.'),
      issue?.message ?? 'is invalid',
    );
  }
  return parsed.data;
}

const segment = (call: Call, index: number, name: string): string => entityId(name, call.path[index] ?? '');

function programSegment(call: Call, index: number): string {
  const value = call.path[index] ?? '';
  if (value !== '*' && !id_pattern.test(value)) throw new ParameterError('program', 'must be * or 1..64 of A-Z a-z 0-9 . _ -');
  return value;
}

function historyAnswer(scope: string, context: EventsHttpContext): Promise<HttpAnswer> {
  return context.store.history(scope, history_entries_max).then((deliveries) => json(200, { scope, deliveries }));
}

async function putEndpoint(call: Call): Promise<HttpAnswer> {
  const id = segment(call, 0, 'endpointId');
  const input = parseJson(endpoint_schema, call.body);
  const existing = await call.context.store.getJson<WebhookEndpoint>(keys.endpoint(id));
  if (existing === undefined && (await call.context.store.members(keys.endpoints, endpoints_max + 1)).length >= endpoints_max)
    throw new ParameterError('endpointId', `at most ${endpoints_max} endpoints`);
  const endpoint: WebhookEndpoint = {
    ...input,
    id,
    secret: existing?.secret ?? newWebhookSecret(),
    updated_by: call.operator,
    updated_at_ms: call.context.now(),
  };
  const audit = audited(
    call,
    `webhook-endpoint:${id}`,
    existing === undefined ? undefined : endpointView(existing),
    endpointView(endpoint),
  );
  await call.context.store.putJson(keys.endpoint(id), endpoint, audit, { key: keys.endpoints, member: id });
  // The secret is shown when the endpoint is created, never again.
  return json(existing === undefined ? 201 : 200, existing === undefined ? endpoint : endpointView(endpoint));
}

async function putContact(call: Call): Promise<HttpAnswer> {
  const card = segment(call, 0, 'cardId');
  const input = parseJson(card_contact_schema, call.body);
  const contact: CardContact = { ...input, card, consent_by: call.operator, consent_at_ms: call.context.now() };
  const before = await call.context.store.getJson<CardContact>(keys.contact(card));
  await call.context.store.putJson(keys.contact(card), contact, audited(call, `notice-contact:${card}`, before, contact));
  return json(200, contact);
}

async function putOperator(call: Call): Promise<HttpAnswer> {
  const operator = segment(call, 0, 'operatorId');
  const input = parseJson(operator_subscription_schema, call.body);
  const subscription: OperatorSubscription = { ...input, operator, updated_by: call.operator, updated_at_ms: call.context.now() };
  const before = await call.context.store.getJson<OperatorSubscription>(keys.operator(operator));
  const audit = audited(call, `notice-operator:${operator}`, before, subscription);
  await call.context.store.putJson(keys.operator(operator), subscription, audit, { key: keys.operators, member: operator });
  return json(200, subscription);
}

function templateKey(call: Call): string {
  const program = programSegment(call, 0);
  const kind = call.path[1] ?? '';
  if (!(notice_kinds as readonly string[]).includes(kind)) throw new ParameterError('kind', `must be one of ${notice_kinds.join(', ')}`);
  const language = call.path[2] ?? '';
  if (!language_pattern.test(language)) throw new ParameterError('language', 'must be a language tag like en or nl-BE');
  return keys.template(program, kind, language);
}

async function found<T>(value: Promise<T | undefined>, what: string): Promise<T> {
  const resolved = await value;
  if (resolved === undefined) throw new ReportNotFoundError(`no such ${what}`);
  return resolved;
}

const delivery_id_pattern = /^[0-9a-f]{32}$/;

function deliveryIdOf(call: Call): string {
  const id = call.path[0] ?? '';
  if (!delivery_id_pattern.test(id)) throw new ParameterError('deliveryId', 'must be 32 hex digits');
  return id;
}

export const events_routes: readonly EventsRoute[] = [
  { name: 'webhook_endpoints', method: 'GET', pattern: /^\/webhooks\/endpoints$/, handle: listEndpoints },
  { name: 'webhook_endpoint_put', method: 'PUT', pattern: /^\/webhooks\/endpoints\/([^/]*)$/, handle: putEndpoint },
  {
    name: 'webhook_endpoint_get',
    method: 'GET',
    pattern: /^\/webhooks\/endpoints\/([^/]*)$/,

    handle: async (call) =>
      json(
        200,
        endpointView(await found(call.context.store.getJson<WebhookEndpoint>(keys.endpoint(segment(call, 0, 'endpointId'))), 'endpoint')),
      ),
  },
  {
    name: 'webhook_endpoint_delete',
    method: 'DELETE',
    pattern: /^\/webhooks\/endpoints\/([^/]*)$/,

    handle: async (call) => {
      const id = segment(call, 0, 'endpointId');
      const audit = audited(call, `webhook-endpoint:${id}`, { removed: false }, { removed: true });
      return json(200, { id, removed: await call.context.store.remove(keys.endpoint(id), audit, { key: keys.endpoints, member: id }) });
    },
  },
  {
    name: 'webhook_endpoint_deliveries',
    method: 'GET',
    pattern: /^\/webhooks\/endpoints\/([^/]*)\/deliveries$/,

    handle: (call) => historyAnswer(`endpoint:${segment(call, 0, 'endpointId')}`, call.context),
  },
  { name: 'notice_contact_put', method: 'PUT', pattern: /^\/notices\/cards\/([^/]*)$/, handle: putContact },
  {
    name: 'notice_contact_get',
    method: 'GET',
    pattern: /^\/notices\/cards\/([^/]*)$/,

    handle: async (call) =>
      json(200, await found(call.context.store.getJson<CardContact>(keys.contact(segment(call, 0, 'cardId'))), 'contact')),
  },
  {
    name: 'notice_contact_delete',
    method: 'DELETE',
    pattern: /^\/notices\/cards\/([^/]*)$/,

    handle: async (call) => {
      const card = segment(call, 0, 'cardId');
      const audit = audited(call, `notice-contact:${card}`, { removed: false }, { removed: true });
      return json(200, { card, removed: await call.context.store.remove(keys.contact(card), audit) });
    },
  },
  {
    name: 'notice_card_deliveries',
    method: 'GET',
    pattern: /^\/notices\/cards\/([^/]*)\/deliveries$/,

    handle: (call) => historyAnswer(`card:${segment(call, 0, 'cardId')}`, call.context),
  },
  { name: 'notice_operator_put', method: 'PUT', pattern: /^\/notices\/operators\/([^/]*)$/, handle: putOperator },
  {
    name: 'notice_operator_get',
    method: 'GET',
    pattern: /^\/notices\/operators\/([^/]*)$/,

    handle: async (call) =>
      json(
        200,
        await found(call.context.store.getJson<OperatorSubscription>(keys.operator(segment(call, 0, 'operatorId'))), 'subscription'),
      ),
  },
  {
    name: 'notice_operator_delete',
    method: 'DELETE',
    pattern: /^\/notices\/operators\/([^/]*)$/,

    handle: async (call) => {
      const id = segment(call, 0, 'operatorId');
      const audit = audited(call, `notice-operator:${id}`, { removed: false }, { removed: true });
      return json(200, {
        operator: id,
        removed: await call.context.store.remove(keys.operator(id), audit, { key: keys.operators, member: id }),
      });
    },
  },
  {
    name: 'notice_operator_deliveries',
    method: 'GET',
    pattern: /^\/notices\/operators\/([^/]*)\/deliveries$/,

    handle: (call) => historyAnswer(`operator:${segment(call, 0, 'operatorId')}`, call.context),
  },
  {
    name: 'notice_template_put',
    method: 'PUT',
    pattern: /^\/notices\/templates\/([^/]*)\/([^/]*)\/([^/]*)$/,

    handle: async (call) => {
      const key = templateKey(call);
      const template = parseJson(template_schema, call.body);
      const before = await call.context.store.getJson(key);
      await call.context.store.putJson(key, template, audited(call, `notice-template:${call.path.join('/')}`, before, template));
      return json(200, template);
    },
  },
  {
    name: 'notice_template_get',
    method: 'GET',
    pattern: /^\/notices\/templates\/([^/]*)\/([^/]*)\/([^/]*)$/,

    handle: async (call) => json(200, await found(call.context.store.getJson(templateKey(call)), 'template')),
  },
  {
    name: 'delivery_get',
    method: 'GET',
    pattern: /^\/deliveries\/([^/]*)$/,

    handle: async (call) => json(200, await found(call.context.store.delivery(deliveryIdOf(call)), 'delivery')),
  },
  {
    name: 'delivery_retry',
    method: 'POST',
    pattern: /^\/deliveries\/([^/]*)\/retry$/,

    handle: async (call) => {
      const id = deliveryIdOf(call);
      const state = await call.context.store.retry(
        id,
        call.context.now(),
        audited(call, `delivery:${id}`, { state: 'failed' }, { state: 'pending' }),
      );
      if (state === 'missing') throw new ReportNotFoundError('no such delivery');
      return json(200, { id, state, changed: state === 'pending' });
    },
  },
  {
    name: 'events_status',
    method: 'GET',
    pattern: /^\/events\/status$/,

    handle: async (call) => json(200, await call.context.status()),
  },
];

async function listEndpoints(call: Call): Promise<HttpAnswer> {
  const ids = await call.context.store.members(keys.endpoints, endpoints_max);
  const endpoints = await call.context.store.getMany<WebhookEndpoint>(ids.map(keys.endpoint));
  return json(200, { endpoints: endpoints.filter((e): e is WebhookEndpoint => e !== undefined).map(endpointView) });
}

/** The route a method and path name, if any (for metrics and access policies). */
export function eventsRouteOf(method: string, path: string): { route: EventsRoute; path: string[] } | undefined {
  for (const route of events_routes) {
    if (route.method !== method) continue;
    const match = route.pattern.exec(path);
    if (match !== null) return { route, path: match.slice(1) };
  }
  return undefined;
}

/** Serves one request below /webhooks/, /notices/, /deliveries/ or /events/. */
export async function eventsRequest(
  context: EventsHttpContext,
  method: string,
  path: string,
  acting: Acting | undefined,
  body: string,
): Promise<HttpAnswer> {
  const matched = eventsRouteOf(method === 'HEAD' ? 'GET' : method, path.split('?', 1)[0] ?? path);
  if (matched === undefined) throw new ReportNotFoundError('no such resource', { path: path.slice(0, 200) });
  if (matched.route.method !== 'GET' && acting === undefined) throw new Error('assertion: a notices or webhooks change without its caller');
  const caller = acting ?? { subject: '', role: '', scope: '', action: matched.route.name };
  return matched.route.handle({ context, acting: caller, operator: caller.subject, body, path: matched.path });
}
