// The reports HTTP API (node:http). Each route names the query parameters and sections it
// accepts; every parameter is validated before any query runs, so a bad request is answered 400
// without touching ClickHouse or Redis. Errors map to HTTP statuses here and only here.
//
//   GET /reports/float[?currency=EUR]
//   GET /reports/reconciliation
//   GET /reports/merchants?from=YYYY-MM-DD&to=YYYY-MM-DD[&granularity=day|month][&by=merchant|terminal]
//   GET /reports/operations?from=YYYY-MM-DD&to=YYYY-MM-DD
//   GET /reports/cards/<cardId>/history
//   GET /reports/events/<programId>/statistics
//   GET /reports/top-ups?from=YYYY-MM-DD&to=YYYY-MM-DD
//   GET /reports/audit?from=YYYY-MM-DD&to=YYYY-MM-DD[&principal=<token subject>]
//   GET /reports/merchants/<merchantId>/fees?from=YYYY-MM-DD&to=YYYY-MM-DD  (at the merchant's settlement rates)
//   GET /reports/merchants/<merchantId>/terminals                           (when each terminal was last seen)
//   GET /reports/merchants/<merchantId>/sales?from=YYYY-MM-DD&to=YYYY-MM-DD  (per day, terminal and product, merchant-sales.ts)
//   GET /reports/cards/<cardId>/transactions/<id>/lines                     (a transaction's line items, transaction-lines.ts)
//   GET /reports/merchants/<merchantId>/transactions/<id>/lines
//   GET /reports/fleets/<fleetId>/invoice?from=YYYY-MM-DD&to=YYYY-MM-DD
//   GET /reports/fleets/<fleetId>/invoices/<cycle>                          (the invoice of a closed billing cycle)
//   GET /reports/fleets/<fleetId>/cards                                     (the cards issued to it, the vehicles that fuelled)
//   GET /reports/fleets/<fleetId>/statement?from=YYYY-MM-DD&to=YYYY-MM-DD   (invoices, payments, open items)
//   GET /reports/taps?from=YYYY-MM-DD&to=YYYY-MM-DD[&terminal=<id>]   (poured vs paid per beer tap, taps.ts)
//   GET /reports/campaigns/<campaignId>/breakage   (a refund campaign's unclaimed money, breakage.ts)
// Every report: JSON by default; ?format=csv returns one section (?section=<name>, default the first);
// the fleet invoice of a cycle and the fleet statement also answer ?format=pdf (the whole document).
//   /settlement/... (GET, PUT, POST with a JSON body): merchant fee rates and settlement batches, see settlement.ts.
//   /webhooks/, /notices/, /deliveries/, /events/: notices and webhooks, see services/events/http.ts.

import * as http from 'node:http';
import * as https from 'node:https';
import type { Acting } from '../../actors/principal';
import type { HttpAccess } from '../common/auth/http-access';
import type { WatchedFile } from '../common/auth/watched-file';
import type { AddressInfo } from 'node:net';
import { TaplineError } from '../../actors/errors';
import type { Logger } from '../common/logger';
import type { ReportsMetrics } from './metrics';
import { sectionCsv } from './csv';
import {
  ParameterError,
  ReportBackendError,
  ReportNotFoundError,
  ReportNotReadyError,
  ReportsBusyError,
  ReportTooLargeError,
  SettlementConflictError,
  SettlementForbiddenError,
} from './errors';
import { merchantSalesReport } from './merchant-sales';
import { merchantFeesReport, settlement_body_bytes_max, settlementRequest, settlementRouteOf, type HttpAnswer } from './settlement';
import { fleetCycleInvoiceReport, fleetInvoiceReport } from './fleet-invoice';
import { fleetStatementReport } from './fleet-statement';
import { fleetCardsReport } from './fleet-cards';
import { refundClaimRequest, refundClaimRouteOf } from './refund-claims/http';
import { invoicePdf, statementPdf } from './fleet-documents';
import { cycle_max } from '../../actors/outbox/contract';
import { breakageReport } from './breakage';
import { tapsReport } from './taps';
import { terminalHistoryReport, terminalsLastSeenReport, terminalStatisticsReport } from './terminal-reports';
import { transactionIdSegment, transactionLinesReport } from './transaction-lines';
import { eventsRequest, eventsRouteOf } from '../events/http';
import { id_pattern } from '../common/ids';
import { cardIdSegment, entityId, QueryParameters, query_string_chars_max } from './params';
import {
  auditReport,
  topUpsReport,
  cardHistoryReport,
  eventStatisticsReport,
  floatReport,
  merchantsReport,
  offlineReport,
  offlineTerminalsReport,
  operationsReport,
  reconciliationReport,
  type Report,
  type ReportContext,
} from './reports';

/** A token subject, as principals appear in the audit trail. */
const principal_pattern = /^[A-Za-z0-9._@:+-]{1,128}$/;

/** Reports computed at once; more get 503. Each may scan a month of FINAL data on a 2-core box. */
export const reports_in_flight_max = 4;
/** A whole request (headers and answer) may take this long; above the query timeout. */
export const request_timeout_ms = 60_000;
/** Paths served by services/events/http.ts (notices, webhooks, their deliveries, relay status). */
const events_prefixes = ['/webhooks/', '/notices/', '/deliveries/', '/events/'];
/** Clients are told to retry a busy server after this many seconds. */
const busy_retry_after_s = 1;

interface Route {
  /** The route's name in metrics: fixed here, never taken from the request. */
  readonly name: string;
  readonly pattern: RegExp;
  readonly parameters: readonly string[];
  readonly sections: readonly string[];
  /** Validates the parameters and path now (throwing ParameterError); the returned work runs later. */
  readonly plan: (query: QueryParameters, path: readonly string[]) => ReportWork;
  /** Renders the whole report as a PDF document (fleet-documents.ts); routes without one answer json and csv. */
  readonly pdf?: (report: Report) => Promise<Buffer>;
}

/** A billing cycle in a path: 1 to 4294967295, digits only. */
function cycleSegment(value: string): number {
  const cycle = /^[1-9][0-9]{0,9}$/.test(value) ? Number(value) : 0;
  if (cycle < 1 || cycle > cycle_max) throw new ParameterError('cycle', `must be a billing cycle number, 1 to ${cycle_max}`);
  return cycle;
}

type ReportWork = (context: ReportContext) => Promise<Report>;

const output = ['format', 'section'];

const routes: readonly Route[] = [
  {
    name: 'float',
    pattern: /^\/reports\/float$/,
    parameters: ['currency', ...output],
    sections: ['programs'],
    plan: (query) => {
      const currency = query.currency('currency');
      return (context) => floatReport(context, currency);
    },
  },
  {
    name: 'reconciliation',
    pattern: /^\/reports\/reconciliation$/,
    parameters: output,
    sections: ['differences', 'summary', 'fleet_differences'],
    plan: () => (context) => reconciliationReport(context),
  },
  {
    name: 'merchants',
    pattern: /^\/reports\/merchants$/,
    parameters: ['from', 'to', 'granularity', 'by', ...output],
    sections: ['periods'],
    plan: (query) => {
      const range = query.dateRange();
      const granularity = query.oneOf('granularity', ['day', 'month'], 'day');
      const by = query.oneOf('by', ['merchant', 'terminal'], 'merchant');
      return (context) => merchantsReport(context, range, granularity, by);
    },
  },
  {
    name: 'operations',
    pattern: /^\/reports\/operations$/,
    parameters: ['from', 'to', ...output],
    sections: ['summary', 'by_reason', 'by_terminal', 'by_hour', 'by_flag'],
    plan: (query) => {
      const range = query.dateRange();
      return (context) => operationsReport(context, range);
    },
  },
  {
    name: 'card_history',
    pattern: /^\/reports\/cards\/([^/]*)\/history$/,
    parameters: output,
    sections: ['entries', 'summary'],
    plan: (_query, path) => {
      const card = cardIdSegment('cardId', path[0] ?? '');
      return (context) => cardHistoryReport(context, card);
    },
  },
  {
    name: 'top_ups',
    pattern: /^\/reports\/top-ups$/,
    parameters: ['from', 'to', ...output],
    sections: ['days'],
    plan: (query) => {
      const range = query.dateRange();
      return (context) => topUpsReport(context, range);
    },
  },
  {
    name: 'audit',
    pattern: /^\/reports\/audit$/,
    // ?principal= (or its older name ?operator=): one principal's actions.
    parameters: ['from', 'to', 'principal', 'operator', ...output],
    sections: ['entries', 'records'],
    plan: (query) => {
      const range = query.dateRange();
      const principal = query.optional('principal') ?? query.optional('operator');
      if (principal !== undefined && !principal_pattern.test(principal))
        throw new ParameterError('principal', 'must be 1..128 of A-Z a-z 0-9 . _ @ : + -');
      return (context) => auditReport(context, range, principal);
    },
  },
  {
    name: 'merchant_fees',
    pattern: /^\/reports\/merchants\/([^/]*)\/fees$/,
    parameters: ['from', 'to', ...output],
    sections: ['currencies', 'rates'],
    plan: (query, path) => {
      const merchant = entityId('merchantId', path[0] ?? '');
      const range = query.dateRange();
      return (context) => merchantFeesReport(context, merchant, range);
    },
  },
  {
    name: 'merchant_sales',
    pattern: /^\/reports\/merchants\/([^/]*)\/sales$/,
    parameters: ['from', 'to', ...output],
    sections: ['days', 'terminals', 'products'],
    plan: (query, path) => {
      const merchant = entityId('merchantId', path[0] ?? '');
      const range = query.dateRange();
      return (context) => merchantSalesReport(context, merchant, range);
    },
  },
  {
    name: 'fleet_invoice',
    pattern: /^\/reports\/fleets\/([^/]*)\/invoice$/,
    parameters: ['from', 'to', ...output],
    sections: ['transactions', 'lines', 'vehicles', 'totals'],
    plan: (query, path) => {
      const fleet = entityId('fleetId', path[0] ?? '');
      const range = query.dateRange();
      return (context) => fleetInvoiceReport(context, fleet, range);
    },
  },
  {
    name: 'fleet_cards',
    pattern: /^\/reports\/fleets\/([^/]*)\/cards$/,
    parameters: output,
    sections: ['cards', 'vehicles'],
    plan: (_query, path) => {
      const fleet = entityId('fleetId', path[0] ?? '');
      return (context) => fleetCardsReport(context, fleet);
    },
  },
  {
    name: 'offline',
    pattern: /^\/reports\/offline$/,
    parameters: ['from', 'to', ...output],
    sections: ['sales', 'debt'],
    plan: (query) => {
      const range = query.dateRange();
      return (context) => offlineReport(context, range);
    },
  },
  {
    name: 'offline_terminals',
    pattern: /^\/reports\/offline\/terminals$/,
    parameters: output,
    sections: ['terminals'],
    plan: () => (context) => offlineTerminalsReport(context),
  },
  {
    name: 'fleet_cycle_invoice',
    pattern: /^\/reports\/fleets\/([^/]*)\/invoices\/([^/]*)$/,
    parameters: output,
    sections: ['invoice', 'vehicles', 'transactions', 'lines', 'totals'],
    plan: (_query, path) => {
      const fleet = entityId('fleetId', path[0] ?? '');
      const cycle = cycleSegment(path[1] ?? '');
      return (context) => fleetCycleInvoiceReport(context, fleet, cycle);
    },
    pdf: invoicePdf,
  },
  {
    name: 'fleet_statement',
    pattern: /^\/reports\/fleets\/([^/]*)\/statement$/,
    parameters: ['from', 'to', ...output],
    sections: ['summary', 'entries', 'open_items'],
    plan: (query, path) => {
      const fleet = entityId('fleetId', path[0] ?? '');
      const range = query.dateRange();
      return (context) => fleetStatementReport(context, fleet, range);
    },
    pdf: statementPdf,
  },
  {
    name: 'merchant_terminals',
    pattern: /^\/reports\/merchants\/([^/]*)\/terminals$/,
    parameters: output,
    sections: ['terminals'],
    plan: (_query, path) => {
      const merchant = entityId('merchantId', path[0] ?? '');
      return (context) => terminalsLastSeenReport(context, merchant);
    },
  },
  {
    name: 'card_transaction_lines',
    pattern: /^\/reports\/cards\/([^/]*)\/transactions\/([^/]*)\/lines$/,
    parameters: output,
    sections: ['lines', 'transaction'],
    plan: (_query, path) => {
      const card = cardIdSegment('cardId', path[0] ?? '');
      const transaction = transactionIdSegment('transactionId', path[1] ?? '');
      return (context) => transactionLinesReport(context, { card }, transaction);
    },
  },
  {
    name: 'merchant_transaction_lines',
    pattern: /^\/reports\/merchants\/([^/]*)\/transactions\/([^/]*)\/lines$/,
    parameters: output,
    sections: ['lines', 'transaction'],
    plan: (_query, path) => {
      const merchant = entityId('merchantId', path[0] ?? '');
      const transaction = transactionIdSegment('transactionId', path[1] ?? '');
      return (context) => transactionLinesReport(context, { merchant }, transaction);
    },
  },
  {
    name: 'terminal_history',
    pattern: /^\/reports\/merchants\/([^/]*)\/terminals\/([^/]*)\/history$/,
    parameters: ['from', 'to', ...output],
    sections: ['entries'],
    plan: (query, path) => {
      const merchant = entityId('merchantId', path[0] ?? '');
      const terminal = entityId('terminalId', path[1] ?? '');
      const range = query.dateRange();
      return (context) => terminalHistoryReport(context, merchant, terminal, range);
    },
  },
  {
    name: 'terminal_statistics',
    pattern: /^\/reports\/merchants\/([^/]*)\/terminals\/([^/]*)\/statistics$/,
    parameters: ['from', 'to', ...output],
    sections: ['days', 'declines', 'cashiers'],
    plan: (query, path) => {
      const merchant = entityId('merchantId', path[0] ?? '');
      const terminal = entityId('terminalId', path[1] ?? '');
      const range = query.dateRange();
      return (context) => terminalStatisticsReport(context, merchant, terminal, range);
    },
  },
  {
    name: 'taps',
    pattern: /^\/reports\/taps$/,
    parameters: ['from', 'to', 'terminal', ...output],
    sections: ['days', 'sales'],
    plan: (query) => {
      const range = query.dateRange();
      const terminal = query.optional('terminal');
      if (terminal !== undefined && !id_pattern.test(terminal)) throw new ParameterError('terminal', 'must be 1..64 of A-Z a-z 0-9 . _ -');
      return (context) => tapsReport(context, range, terminal);
    },
  },
  {
    name: 'breakage',
    pattern: /^\/reports\/campaigns\/([^/]*)\/breakage$/,
    parameters: output,
    sections: ['currencies', 'summary'],
    plan: (_query, path) => {
      const campaign = entityId('campaignId', path[0] ?? '');
      return (context) => breakageReport(context, campaign);
    },
  },
  {
    name: 'event_statistics',
    pattern: /^\/reports\/events\/([^/]*)\/statistics$/,
    parameters: output,
    sections: ['totals', 'top_merchants', 'top_products', 'sales_per_hour', 'sales_per_minute', 'declines_by_reason'],
    plan: (_query, path) => {
      const program = entityId('programId', path[0] ?? '');
      return (context) => eventStatisticsReport(context, program);
    },
  },
];

/**
 * Validates everything the request says and returns the work to do, or throws ParameterError /
 * ReportNotFoundError. Nothing here touches a backend: only the returned `run` does.
 */
export function planRequest(rawUrl: string): {
  run: ReportWork;
  format: 'json' | 'csv' | 'pdf';
  section: string | undefined;
  pdf?: ((report: Report) => Promise<Buffer>) | undefined;
} {
  const question = rawUrl.indexOf('?');
  const path = question < 0 ? rawUrl : rawUrl.slice(0, question);
  const search = question < 0 ? '' : rawUrl.slice(question + 1);
  if (search.length > query_string_chars_max)
    throw new ParameterError('query', `query string longer than ${query_string_chars_max} characters`);
  for (const route of routes) {
    const match = route.pattern.exec(path);
    if (match === null) continue;
    const query = new QueryParameters(new URLSearchParams(search), route.parameters);
    const format = query.oneOf('format', route.pdf === undefined ? ['json', 'csv'] : ['json', 'csv', 'pdf'], 'json');
    const section = query.optional('section') === undefined ? undefined : query.oneOf('section', route.sections, route.sections[0] ?? '');
    return { run: route.plan(query, match.slice(1)), format, section, pdf: route.pdf };
  }
  throw new ReportNotFoundError('no such report', { path: path.slice(0, 200) });
}

/** The name of the route a URL asks for (metrics label), or "unknown"; validates nothing. */
export function routeName(rawUrl: string): string {
  return reportRouteOf(rawUrl)?.name ?? 'unknown';
}

/** The report route a URL asks for and its path parameters (for the access check), or undefined. */
export function reportRouteOf(rawUrl: string): { name: string; params: string[] } | undefined {
  const question = rawUrl.indexOf('?');
  const path = question < 0 ? rawUrl : rawUrl.slice(0, question);
  for (const route of routes) {
    const match = route.pattern.exec(path);
    if (match !== null) return { name: route.name, params: match.slice(1) };
  }
  return undefined;
}

/** The names of every route this service serves (what policy.ts must have a rule for). */
export const report_route_names: readonly string[] = routes.map((route) => route.name);

export function statusOf(error: unknown): number {
  if (error instanceof ParameterError) return 400;
  if (error instanceof ReportNotFoundError) return 404;
  if (error instanceof SettlementConflictError) return 409;
  if (error instanceof SettlementForbiddenError) return 403;
  if (error instanceof ReportTooLargeError) return 413;
  if (error instanceof ReportsBusyError || error instanceof ReportBackendError || error instanceof ReportNotReadyError) return 503;
  return 500;
}

function errorBody(error: unknown): string {
  if (error instanceof ParameterError)
    return JSON.stringify({ error: { code: error.code, parameter: error.parameter, message: `${error.parameter} ${error.message}` } });
  if (error instanceof TaplineError && statusOf(error) !== 500)
    return JSON.stringify({ error: { code: error.code, message: error.message } });
  return JSON.stringify({ error: { code: 'internal', message: 'internal error' } });
}

export function reportJson(report: Report): string {
  const body: Record<string, unknown> = { report: report.report, parameters: report.parameters };
  for (const [name, section] of Object.entries(report.sections)) body[name] = section.single ? (section.rows[0] ?? null) : section.rows;
  return JSON.stringify(body);
}

/** How the service authenticates its callers and secures its port. */
export interface ReportsServerSecurity {
  /** Every route but /healthz and /metrics needs a bearer token its rule allows (policy.ts). */
  readonly access: HttpAccess;
  /** HTTPS with this certificate (reread when it changes); absent only in the development plaintext mode. */
  readonly tls?: { readonly cert: WatchedFile; readonly key: WatchedFile } | undefined;
}

export class ReportsServer {
  private in_flight_count = 0;

  private constructor(
    private readonly server: http.Server,
    private readonly metrics: ReportsMetrics | undefined,
    private readonly access: HttpAccess,
  ) {}

  private get in_flight(): number {
    return this.in_flight_count;
  }

  private set in_flight(value: number) {
    this.in_flight_count = value;
    this.metrics?.inFlight.set(value);
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** With `metrics`, requests are counted and timed, and /metrics serves them. */
  static async start(
    context: ReportContext,
    port: number,
    logger: Logger,
    security: ReportsServerSecurity,
    metrics?: ReportsMetrics,
  ): Promise<ReportsServer> {
    const holder: { instance?: ReportsServer } = {};
    const listener = (request: http.IncomingMessage, response: http.ServerResponse): void => {
      holder.instance?.handle(context, logger, request, response);
    };
    const tls = security.tls;
    const server: http.Server =
      tls === undefined ? http.createServer(listener) : https.createServer({ cert: tls.cert.current, key: tls.key.current }, listener);
    if (tls !== undefined) {
      // Rotation: a new certificate or key serves new connections without a restart.
      const reload = (): void => (server as https.Server).setSecureContext({ cert: tls.cert.current, key: tls.key.current });
      tls.cert.onChange(reload);
      tls.key.onChange(reload);
    }
    server.requestTimeout = request_timeout_ms;
    const instance = new ReportsServer(server, metrics, security.access);
    holder.instance = instance;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '0.0.0.0', () => resolve());
    });
    return instance;
  }

  /** Stops accepting, lets requests in progress finish (at most `grace_ms`), then closes the rest. */
  async stop(grace_ms: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const timer = setTimeout(() => this.server.closeAllConnections(), grace_ms);
    await closed;
    clearTimeout(timer);
  }

  private handle(context: ReportContext, logger: Logger, request: http.IncomingMessage, response: http.ServerResponse): void {
    const answer = (status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...headers });
      response.end(request.method === 'HEAD' ? undefined : body);
    };
    const url = request.url ?? '/';
    // The route's name once known; a request that matches no route is counted as "unknown".
    let route = 'unknown';
    const metrics = this.metrics;
    if (metrics !== undefined) {
      const stopTimer = metrics.requestSeconds.startTimer();
      response.once('close', () => {
        stopTimer({ route });
        metrics.requests.inc({ route, status: response.headersSent ? String(response.statusCode) : 'aborted' });
      });
    }
    if (url === '/healthz') {
      route = 'healthz';
      return answer(200, 'text/plain', 'ok\n');
    }
    if (url === '/metrics' && metrics !== undefined) {
      route = 'metrics';
      metrics.registry.metrics().then(
        (text) => answer(200, metrics.registry.contentType, text),
        () => answer(500, 'text/plain', 'metrics unavailable\n'),
      );
      return;
    }
    const method = request.method === 'HEAD' ? 'GET' : (request.method ?? 'GET');
    const target = this.routeOf(method, url);
    route = target.metric;
    const header = request.headers.authorization;
    this.access.decide(target.name, target.params, typeof header === 'string' ? header : undefined).then(
      (decision) => {
        if (!decision.ok) {
          const challenge: Record<string, string> = decision.status === 401 ? { 'www-authenticate': 'Bearer' } : {};
          answer(
            decision.status,
            'application/json',
            JSON.stringify({ error: { code: decision.code, message: decision.message } }),
            challenge,
          );
          return;
        }
        if (target.kind === 'settlement') this.handleSettlement(context, logger, request, answer, url, decision.acting);
        else if (target.kind === 'refund_claims')
          this.handleRefundClaims(context, logger, request, answer, url, decision.acting, typeof header === 'string' ? header : '');
        else if (target.kind === 'events') this.handleEvents(context, logger, request, answer, url, decision.acting);
        else this.handleReport(context, logger, request, response, answer, url);
      },
      (error: unknown) => {
        logger.error({ err: error, url: url.slice(0, 300) }, 'access check failed');
        answer(500, 'application/json', errorBody(error));
      },
    );
  }

  /**
   * What a request asks for: its kind, the name of its rule in the access policy (policy.ts
   * http_rules), the path parameters a scoped role must cover, and its name in the metrics.
   */
  private routeOf(
    method: string,
    url: string,
  ): { kind: 'settlement' | 'refund_claims' | 'events' | 'report'; name: string; params: string[]; metric: string } {
    if (url.startsWith('/refund-claims/')) {
      const target = refundClaimRouteOf(method, url);
      return { kind: 'refund_claims', name: target?.name ?? 'unknown', params: target?.params ?? [], metric: 'refund_claims' };
    }
    if (url.startsWith('/settlement/')) {
      const target = settlementRouteOf(method, url);
      return { kind: 'settlement', name: target?.name ?? 'unknown', params: target?.params ?? [], metric: 'settlement' };
    }
    if (events_prefixes.some((prefix) => url.startsWith(prefix))) {
      const matched = eventsRouteOf(method, url.split('?', 1)[0] ?? url);
      const name = matched === undefined ? 'unknown' : `events.${matched.route.name}`;
      return { kind: 'events', name, params: matched?.path ?? [], metric: matched?.route.name ?? 'unknown' };
    }
    const target = reportRouteOf(url);
    return { kind: 'report', name: target?.name ?? 'unknown', params: target?.params ?? [], metric: routeName(url) };
  }

  /** A report (GET): validated, then run within the bound of reports in progress. */
  private handleReport(
    context: ReportContext,
    logger: Logger,
    request: http.IncomingMessage,
    response: http.ServerResponse,
    answer: (status: number, type: string, body: string | Buffer, headers?: Record<string, string>) => void,
    url: string,
  ): void {
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return answer(
        405,
        'application/json',
        JSON.stringify({ error: { code: 'method_not_allowed', message: 'reports are read with GET' } }),
        { allow: 'GET, HEAD' },
      );
    let plan: ReturnType<typeof planRequest>;
    try {
      plan = planRequest(url);
    } catch (error) {
      return answer(statusOf(error), 'application/json', errorBody(error));
    }
    if (this.in_flight >= reports_in_flight_max) {
      const busy = new ReportsBusyError(reports_in_flight_max);
      return answer(503, 'application/json', errorBody(busy), { 'retry-after': String(busy_retry_after_s) });
    }
    this.in_flight += 1;
    plan
      .run(context)
      .then((report) => {
        if (plan.format === 'json') return answer(200, 'application/json', reportJson(report));
        if (plan.format === 'pdf' && plan.pdf !== undefined) {
          const name = Object.values(report.parameters).join('-');
          return plan
            .pdf(report)
            .then((document) =>
              answer(200, 'application/pdf', document, { 'content-disposition': `inline; filename="${report.report}-${name}.pdf"` }),
            );
        }
        const name = plan.section ?? Object.keys(report.sections)[0] ?? '';
        const section = report.sections[name];
        if (section === undefined) throw new Error(`assertion: report ${report.report} has no section ${name}`);
        return answer(200, 'text/csv; charset=utf-8', sectionCsv(section), {
          'content-disposition': `attachment; filename="${report.report}-${name}.csv"`,
        });
      })
      .catch((error: unknown) => {
        const status = statusOf(error);
        if (status >= 500) logger.error({ err: error, url: url.slice(0, 300) }, 'report failed');
        if (!response.headersSent) answer(status, 'application/json', errorBody(error));
        else response.destroy();
      })
      .finally(() => {
        this.in_flight -= 1;
      });
  }

  /** A settlement request (settlement.ts), made by the authenticated caller. */
  private handleSettlement(
    context: ReportContext,
    logger: Logger,
    request: http.IncomingMessage,
    answer: (status: number, type: string, body: string, headers?: Record<string, string>) => void,
    url: string,
    acting: Acting | undefined,
  ): void {
    const store = context.settlement;
    if (store === undefined) return answer(404, 'application/json', errorBody(new ReportNotFoundError('settlement is not served here')));
    const settlement = {
      query: context.query,
      database: context.database,
      store,
      now: context.now ?? Date.now,
      debtor: context.sepa_debtor,
    };
    this.handleWithBody(logger, request, answer, url, (method, body) => settlementRequest(settlement, method, url, acting, body));
  }

  /**
   * A refund-claim request (refund-claims/http.ts), made by the authenticated caller; its bearer
   * token goes on to the node, which it calls as that person (the holder's card, the approver's
   * cash-outs).
   */
  private handleRefundClaims(
    context: ReportContext,
    logger: Logger,
    request: http.IncomingMessage,
    answer: (status: number, type: string, body: string, headers?: Record<string, string>) => void,
    url: string,
    acting: Acting | undefined,
    authorization: string,
  ): void {
    const claims = context.refund_claims;
    if (claims === undefined)
      return answer(404, 'application/json', errorBody(new ReportNotFoundError('refund claims are not served here')));
    const bearer = authorization.replace(/^Bearer\s+/i, '');
    this.handleWithBody(logger, request, answer, url, (method, body) => refundClaimRequest(claims, method, url, acting, bearer, body));
  }

  /** A notices and webhooks request (services/events/http.ts), made by the authenticated caller. */
  private handleEvents(
    context: ReportContext,
    logger: Logger,
    request: http.IncomingMessage,
    answer: (status: number, type: string, body: string, headers?: Record<string, string>) => void,
    url: string,
    acting: Acting | undefined,
  ): void {
    const events = context.events;
    if (events === undefined)
      return answer(404, 'application/json', errorBody(new ReportNotFoundError('notices and webhooks are not served here')));
    this.handleWithBody(logger, request, answer, url, (method, body) => eventsRequest(events, method, url, acting, body));
  }

  /**
   * Settlement (settlement.ts) and notices/webhooks (services/events/http.ts): reads a bounded JSON
   * body, then runs the request like a report (counted, errors mapped here).
   */
  private handleWithBody(
    logger: Logger,
    request: http.IncomingMessage,
    answer: (status: number, type: string, body: string, headers?: Record<string, string>) => void,
    url: string,
    run: (method: string, body: string) => Promise<HttpAnswer>,
  ): void {
    if (url.includes('?'))
      return answer(400, 'application/json', errorBody(new ParameterError('query', 'this resource takes no query parameters')));
    const chunks: Buffer[] = [];
    let bytes = 0;
    let refused = false;
    request.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > settlement_body_bytes_max && !refused) {
        refused = true;
        answer(413, 'application/json', errorBody(new ParameterError('body', `longer than ${settlement_body_bytes_max} bytes`)));
        request.destroy();
      }
      if (!refused) chunks.push(chunk);
    });
    request.on('end', () => {
      if (refused) return;
      if (this.in_flight >= reports_in_flight_max) {
        const busy = new ReportsBusyError(reports_in_flight_max);
        return answer(503, 'application/json', errorBody(busy), { 'retry-after': String(busy_retry_after_s) });
      }
      this.in_flight += 1;
      run(request.method ?? 'GET', Buffer.concat(chunks).toString('utf8'))
        .then((result: HttpAnswer) => answer(result.status, result.type, result.body, result.headers))
        .catch((error: unknown) => {
          const status = statusOf(error);
          if (status >= 500) logger.error({ err: error, url: url.slice(0, 300) }, 'request failed');
          answer(status, 'application/json', errorBody(error));
        })
        .finally(() => {
          this.in_flight -= 1;
        });
    });
  }
}
