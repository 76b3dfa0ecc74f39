// The event relay: reads committed outbox documents back from ClickHouse, in commit order, and
// turns each into its deliveries (webhooks and notices) exactly once. Off the authorization path
// entirely: it reads ClickHouse and writes only its own {events} keys in Redis.
//
// One step (`step`), repeated every poll interval by whichever process holds the relay's lease:
//   1. read the outbox horizon (horizon.ts): every document committed before it is in ClickHouse;
//   2. read the next page of relay_events after the cursor and below the horizon;
//   3. plan the deliveries of each event (planner.ts) from the configuration in Redis;
//   4. create the deliveries and move the cursor past the page in one fenced script.
// A crash between steps repeats the page and creates nothing twice (delivery ids are derived from
// the event); a relay that lost its lease is refused at step 4 and writes nothing.
//
// Backlog: the backlog is the part of relay_events past the cursor, which ClickHouse keeps anyway;
// the relay holds one page in memory and Redis holds only deliveries not yet sent. The age of the
// cursor (`lag_ms`) is what to watch.

import type { Logger } from '../common/logger';
import { RedisLease } from '../common/redis-lease';
import type { QueryRunner } from '../reports/reports';
import { eventOfRow, relayEventsSql, type RelayCursor, type RelayEvent } from './events';
import { outboxHorizonMs, outboxKeys } from './horizon';
import { notice_kinds, type NoticeKind, type NoticeTemplate } from './notices/templates';
import type { CardContact, OperatorSubscription } from './notices/rules';
import { planDeliveries, type PlanningContext } from './planner';
import { keys, type Commands, type ContactErasure, type EventsStore, type NewDelivery } from './store';
import { endpoints_max, type WebhookEndpoint } from './webhooks';

export interface RelayOptions {
  readonly database: string;
  /** Must equal the authorizer's: it names the outbox streams the horizon reads. */
  readonly shard_count: number;
  readonly page_events_max: number;
  readonly poll_interval_ms: number;
  readonly lease_ttl_ms: number;
  readonly log_entries_max: number;
  /** The lease holder's name (the process). */
  readonly holder: string;
}

/** Operator subscriptions one relay reads per page. */
export const operators_max = 1_000;

export interface RelayStep {
  readonly held: boolean;
  readonly events: number;
  readonly created: number;
  /** Horizon minus cursor after the step: how far behind the relay is (ms of commit time). */
  readonly lag_ms: number;
}

export class EventRelay {
  private readonly lease: RedisLease;
  private readonly outboxes: string[];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  lastStep: RelayStep = { held: false, events: 0, created: 0, lag_ms: 0 };
  /** When this process last completed a step holding the lease (epoch ms; 0 = never). */
  lastHeldStepAtMs = 0;

  constructor(
    private readonly redis: Commands,
    private readonly store: EventsStore,
    private readonly query: QueryRunner,
    private readonly options: RelayOptions,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {
    this.lease = new RedisLease(redis, keys.lease, options.holder, options.lease_ttl_ms);
    this.outboxes = outboxKeys(options.shard_count);
  }

  /** Polls until stop(): one step per interval (a full page is followed at once by the next). */
  start(): void {
    const loop = async (): Promise<void> => {
      let full = false;
      try {
        const step = await this.step();
        this.lastStep = step;
        if (step.held) this.lastHeldStepAtMs = this.clock();
        full = step.events >= this.options.page_events_max;
      } catch (error) {
        this.logger.warn({ err: error }, 'event relay step failed; retrying');
      }
      if (!this.stopped)
        this.timer = setTimeout(
          () => {
            this.running = loop();
          },
          full ? 0 : this.options.poll_interval_ms,
        );
    };
    this.running = loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.lease.release().catch(() => undefined);
  }

  /** One page, if this process holds (or can take) the lease. */
  async step(): Promise<RelayStep> {
    if (!(await this.lease.hold())) return { held: false, events: 0, created: 0, lag_ms: 0 };
    const horizon_ms = await outboxHorizonMs(this.redis, this.outboxes);
    const cursor = await this.store.cursor();
    if (cursor === undefined) {
      // First start: history is not announced; everything committed from the horizon on is.
      await this.store.enqueue(this.lease, { stream_ms: horizon_ms, event_id: '' }, [], this.clock(), this.options.log_entries_max);
      this.logger.info({ horizon_ms }, 'event relay starts at the outbox horizon');
      return { held: true, events: 0, created: 0, lag_ms: 0 };
    }
    const rows = await this.query(relayEventsSql(this.options.database, cursor, horizon_ms, this.options.page_events_max));
    const events = rows.map(eventOfRow);
    const last = events[events.length - 1];
    if (last === undefined) return { held: true, events: 0, created: 0, lag_ms: Math.max(0, horizon_ms - cursor.stream_ms) };
    const loaded = await this.planningContext(events);
    // A cancelled issuance ends its holder's contact (erased in the enqueue script): later events of
    // the page no longer reach it.
    const erasures: ContactErasure[] = [];
    const erased = new Set<string>();
    const context: PlanningContext = { ...loaded, contactOf: (card) => (erased.has(card) ? undefined : loaded.contactOf(card)) };
    const seen = new Set<string>();
    const deliveries: NewDelivery[] = [];
    for (const event of events) {
      if (seen.has(event.event_id)) continue;
      seen.add(event.event_id);
      deliveries.push(...planDeliveries(event, context));
      const contact = event.type === 'card_issuance_cancelled' ? context.contactOf(event.card) : undefined;
      if (contact !== undefined && contact.consent_at_ms <= event.at_ms) {
        erasures.push({ card: event.card, at_ms: event.at_ms });
        erased.add(event.card);
      }
    }
    const next: RelayCursor = { stream_ms: last.stream_ms, event_id: last.event_id };
    const result = await this.store.enqueue(this.lease, next, deliveries, this.clock(), this.options.log_entries_max, erasures);
    if (result.status === 'fenced') return { held: false, events: 0, created: 0, lag_ms: 0 };
    return { held: true, events: events.length, created: result.created, lag_ms: Math.max(0, horizon_ms - last.stream_ms) };
  }

  /** Loads what planning a page needs: endpoints, operators, the page's card contacts, the templates they may use. */
  private async planningContext(events: readonly RelayEvent[]): Promise<PlanningContext> {
    const endpointIds = await this.store.members(keys.endpoints, endpoints_max);
    const operatorIds = await this.store.members(keys.operators, operators_max);
    const cards = [...new Set(events.map((event) => event.card).filter((card) => card !== ''))];
    const [endpoints, operators, contacts] = await Promise.all([
      this.store.getMany<WebhookEndpoint>(endpointIds.map(keys.endpoint)),
      this.store.getMany<OperatorSubscription>(operatorIds.map(keys.operator)),
      this.store.getMany<CardContact>(cards.map(keys.contact)),
    ]);
    const contactByCard = new Map<string, CardContact>();
    contacts.forEach((contact, index) => {
      if (contact !== undefined) contactByCard.set(cards[index] as string, contact);
    });
    const presentOperators = operators.filter((operator): operator is OperatorSubscription => operator !== undefined);
    const languages = new Set<string>(['en']);
    for (const recipient of [...contactByCard.values(), ...presentOperators]) languages.add(recipient.language);
    const programs = new Set<string>(['*', ...events.map((event) => event.program)]);
    const templateKeys: string[] = [];
    const combos: [string, NoticeKind, string][] = [];
    for (const program of programs)
      for (const kind of notice_kinds)
        for (const language of languages) {
          templateKeys.push(keys.template(program, kind, language));
          combos.push([program, kind, language]);
        }
    const stored = contactByCard.size === 0 && presentOperators.length === 0 ? [] : await this.store.getMany<NoticeTemplate>(templateKeys);
    const templates = new Map<string, NoticeTemplate>();
    stored.forEach((template, index) => {
      const combo = combos[index];
      if (template !== undefined && combo !== undefined) templates.set(combo.join('\n'), template);
    });
    return {
      endpoints: endpoints.filter((endpoint): endpoint is WebhookEndpoint => endpoint !== undefined),
      operators: presentOperators,
      contactOf: (card) => contactByCard.get(card),
      templates: (program, kind, language) => templates.get([program, kind, language].join('\n')),
    };
  }
}
