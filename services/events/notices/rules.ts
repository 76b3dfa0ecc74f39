// Which notices an event causes and to whom: pure rules, no I/O (the relay loads the contacts,
// subscriptions and templates an event needs and passes them in).
//
//   transaction   an approved purchase or completion on the card
//   top_up        an approved top-up on the card
//   low_balance   an approved purchase or completion that takes the balance from at or above the
//                 holder's threshold to below it (once per crossing, not on every later purchase)
//   card_blocked  the card's status became blocked or lost
//   refund_paid   an approved refund to the card, or a cash-out (a return or a refund campaign payout)
//
// Consent: a channel is used only when its consent is recorded (`consent.email` / `consent.sms`
// true) and the recipient asked for that notice kind; nothing is sent on an absent or withdrawn
// consent. Operators subscribe by program ("*" = every program) and notice kind.

import { z } from 'zod';
import type { RelayEvent } from '../events';
import {
  chooseTemplate,
  language_pattern,
  maskedCard,
  moneyText,
  notice_kinds,
  renderText,
  type NoticeKind,
  type NoticeTemplate,
  type NoticeValues,
} from './templates';

/** An e-mail address as notices accept it: one mailbox, no display name, no spaces or line breaks. */
export const email_pattern = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})+$/;
/** A phone number in E.164 (what SMS providers take). */
export const phone_pattern = /^\+[1-9][0-9]{6,14}$/;

const consent_schema = z.object({ email: z.boolean(), sms: z.boolean() }).strict();

/** A cardholder's contact for notices (personal data: kept only here, never in an outbox document). */
export const card_contact_schema = z
  .object({
    email: z.string().regex(email_pattern).max(254).optional(),
    phone: z.string().regex(phone_pattern).optional(),
    language: z.string().regex(language_pattern).default('en'),
    consent: consent_schema,
    notices: z.array(z.enum(notice_kinds)).max(notice_kinds.length),
    low_balance_minor: z.number().int().min(0).max(1_000_000_000).default(0),
  })
  .strict();
export type CardContactInput = z.infer<typeof card_contact_schema>;

export interface CardContact extends CardContactInput {
  readonly card: string;
  /** Who recorded the consent and when (the audit of a consent). */
  readonly consent_by: string;
  readonly consent_at_ms: number;
}

export const operator_subscription_schema = z
  .object({
    email: z.string().regex(email_pattern).max(254).optional(),
    phone: z.string().regex(phone_pattern).optional(),
    language: z.string().regex(language_pattern).default('en'),
    consent: consent_schema,
    notices: z.array(z.enum(notice_kinds)).max(notice_kinds.length),
    /** Program ids, or ["*"] for every program. */
    programs: z
      .array(z.string().regex(/^(\*|[A-Za-z0-9._-]{1,64})$/))
      .min(1)
      .max(256),
  })
  .strict();
export type OperatorSubscriptionInput = z.infer<typeof operator_subscription_schema>;

export interface OperatorSubscription extends OperatorSubscriptionInput {
  readonly operator: string;
  readonly updated_by: string;
  readonly updated_at_ms: number;
}

const spend_kinds: readonly string[] = ['purchase', 'completion'];

/** The notice kinds an event causes, before any recipient is considered. */
export function noticeKindsOf(event: RelayEvent, low_balance_minor: number): NoticeKind[] {
  if (event.type === 'card_status_changed') return event.status === 'blocked' || event.status === 'lost' ? ['card_blocked'] : [];
  if (event.type !== 'transaction' || event.outcome !== 'approved' || event.card === '') return [];
  const kinds: NoticeKind[] = [];
  if (spend_kinds.includes(event.kind)) {
    kinds.push('transaction');
    const before_minor = event.balance_after_minor + event.amount_minor;
    if (low_balance_minor > 0 && event.balance_after_minor < low_balance_minor && before_minor >= low_balance_minor)
      kinds.push('low_balance');
  } else if (event.kind === 'top_up') kinds.push('top_up');
  else if (event.kind === 'refund' || event.kind === 'cash_out') kinds.push('refund_paid');
  return kinds;
}

export function noticeValues(event: RelayEvent): NoticeValues {
  return {
    card: maskedCard(event.card),
    program: event.program,
    merchant: event.merchant,
    amount: moneyText(event.amount_minor, event.currency),
    balance: moneyText(event.balance_after_minor, event.currency),
    currency: event.currency,
    status: event.status,
    kind: event.kind,
  };
}

export interface PlannedNotice {
  readonly channel: 'email' | 'sms';
  readonly notice: NoticeKind;
  /** The address or number. */
  readonly target: string;
  /** Whose delivery history it goes into: "card:<id>" or "operator:<id>". */
  readonly scope: string;
  /** What to send: {subject, text} for e-mail, {text} for SMS. */
  readonly payload: { readonly subject?: string; readonly text: string };
}

interface Recipient {
  readonly scope: string;
  readonly email?: string;
  readonly phone?: string;
  readonly language: string;
  readonly consent: { readonly email: boolean; readonly sms: boolean };
  readonly notices: readonly NoticeKind[];
}

export type TemplateLookup = (program: string, kind: NoticeKind, language: string) => NoticeTemplate | undefined;

function noticesFor(recipient: Recipient, kinds: readonly NoticeKind[], event: RelayEvent, templates: TemplateLookup): PlannedNotice[] {
  const planned: PlannedNotice[] = [];
  const values = noticeValues(event);
  for (const notice of kinds) {
    if (!recipient.notices.includes(notice)) continue;
    const template = chooseTemplate(notice, event.program, recipient.language, templates);
    if (recipient.email !== undefined && recipient.consent.email)
      planned.push({
        channel: 'email',
        notice,
        target: recipient.email,
        scope: recipient.scope,
        payload: { subject: renderText(template.email_subject, values), text: renderText(template.email_text, values) },
      });
    if (recipient.phone !== undefined && recipient.consent.sms)
      planned.push({
        channel: 'sms',
        notice,
        target: recipient.phone,
        scope: recipient.scope,
        payload: { text: renderText(template.sms_text, values) },
      });
  }
  return planned;
}

/** Every notice of one event: to the card's holder (if a contact is recorded) and to each subscribed operator. */
export function planNotices(
  event: RelayEvent,
  contact: CardContact | undefined,
  operators: readonly OperatorSubscription[],
  templates: TemplateLookup,
): PlannedNotice[] {
  const planned: PlannedNotice[] = [];
  if (contact !== undefined && contact.card === event.card) {
    const kinds = noticeKindsOf(event, contact.low_balance_minor);
    planned.push(...noticesFor({ ...contact, scope: `card:${contact.card}` }, kinds, event, templates));
  }
  // Operators get no low-balance notice (it is a holder's threshold); every other kind by subscription.
  const operatorKinds = noticeKindsOf(event, 0);
  if (operatorKinds.length === 0) return planned;
  for (const operator of operators) {
    if (!operator.programs.includes('*') && !operator.programs.includes(event.program)) continue;
    planned.push(...noticesFor({ ...operator, scope: `operator:${operator.operator}` }, operatorKinds, event, templates));
  }
  return planned;
}
