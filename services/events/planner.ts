// Turns one event into the deliveries it causes (webhooks and notices), with ids derived from the
// event and the recipient only: planning an event twice plans the same ids, which is what makes
// "exactly once per event" hold across relay restarts and duplicate rows.

import { createHash } from 'node:crypto';
import { eventName, type RelayEvent } from './events';
import { planNotices, type CardContact, type OperatorSubscription, type TemplateLookup } from './notices/rules';
import type { NewDelivery } from './store';
import { endpointsFor, webhookBody, type WebhookEndpoint } from './webhooks';

/** A delivery id: 32 hex digits of sha256 over what makes it unique. */
export function deliveryId(event_id: string, channel: string, target: string, notice: string): string {
  return createHash('sha256').update(`${event_id}\n${channel}\n${target}\n${notice}`).digest('hex').slice(0, 32);
}

export interface PlanningContext {
  readonly endpoints: readonly WebhookEndpoint[];
  readonly operators: readonly OperatorSubscription[];
  /** The card's notice contact, if one is recorded. */
  readonly contactOf: (card: string) => CardContact | undefined;
  readonly templates: TemplateLookup;
}

export function planDeliveries(event: RelayEvent, context: PlanningContext): NewDelivery[] {
  const name = eventName(event);
  const deliveries: NewDelivery[] = [];
  const body = webhookBody(event);
  for (const endpoint of endpointsFor(event, context.endpoints)) {
    deliveries.push({
      id: deliveryId(event.event_id, 'webhook', endpoint.id, ''),
      channel: 'webhook',
      target: endpoint.id,
      scope: `endpoint:${endpoint.id}`,
      event_id: event.event_id,
      event: name,
      notice: '',
      payload: body,
    });
  }
  const contact = event.card === '' ? undefined : context.contactOf(event.card);
  for (const notice of planNotices(event, contact, context.operators, context.templates)) {
    deliveries.push({
      id: deliveryId(event.event_id, notice.channel, notice.target, notice.notice),
      channel: notice.channel,
      target: notice.target,
      scope: notice.scope,
      event_id: event.event_id,
      event: name,
      notice: notice.notice,
      payload: JSON.stringify(notice.payload),
    });
  }
  return deliveries;
}
