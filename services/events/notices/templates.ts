// Notice texts: one template per notice kind, program and language, with built-in English
// defaults so a notice never goes out empty. Pure: rendering takes the values in, does no I/O.
//
// A template is plain text with placeholders `{{name}}` from a fixed list (`placeholders`); a
// template naming anything else is refused when it is stored, never at send time. Values are
// inserted as text (e-mails are sent as text/plain: there is no markup to escape).

import { z } from 'zod';
import { decimalAmount } from '../../reports/settlement-rules';

export const notice_kinds = ['transaction', 'top_up', 'low_balance', 'card_blocked', 'refund_paid'] as const;
export type NoticeKind = (typeof notice_kinds)[number];

export const placeholders = ['card', 'program', 'merchant', 'amount', 'balance', 'currency', 'status', 'kind'] as const;
export type Placeholder = (typeof placeholders)[number];
export type NoticeValues = Readonly<Record<Placeholder, string>>;

/** Languages are BCP 47 primary tags with an optional region (en, de, nl-BE). */
export const language_pattern = /^[a-z]{2,3}(-[A-Z]{2})?$/;
export const default_language = 'en';

export interface NoticeTemplate {
  readonly email_subject: string;
  readonly email_text: string;
  readonly sms_text: string;
}

/** An SMS longer than this is several messages (and costs as many): templates must fit. */
export const sms_chars_max = 320;
export const email_subject_chars_max = 200;
export const email_text_chars_max = 8_000;

const placeholder_use = /\{\{\s*([A-Za-z_]+)\s*\}\}/g;

function knownPlaceholders(text: string): boolean {
  for (const match of text.matchAll(placeholder_use)) if (!(placeholders as readonly string[]).includes(match[1] ?? '')) return false;
  return true;
}

const template_text = (max: number): z.ZodString =>
  z
    .string()
    .min(1)
    .max(max)
    .refine(knownPlaceholders, { message: `names a placeholder outside ${placeholders.join(', ')}` });

export const template_schema = z
  .object({
    email_subject: template_text(email_subject_chars_max).refine((text) => !/[\r\n]/.test(text), { message: 'must be one line' }),
    email_text: template_text(email_text_chars_max),
    sms_text: template_text(sms_chars_max),
  })
  .strict();

export const default_templates: Readonly<Record<NoticeKind, NoticeTemplate>> = {
  transaction: {
    email_subject: 'Card {{card}}: payment of {{amount}} {{currency}}',
    email_text:
      'A payment of {{amount}} {{currency}} was made with card {{card}} at {{merchant}}.\nBalance now: {{balance}} {{currency}}.\n',
    sms_text: 'Card {{card}}: paid {{amount}} {{currency}} at {{merchant}}. Balance {{balance}} {{currency}}.',
  },
  top_up: {
    email_subject: 'Card {{card}}: top-up of {{amount}} {{currency}}',
    email_text: 'Your card {{card}} was topped up with {{amount}} {{currency}}.\nBalance now: {{balance}} {{currency}}.\n',
    sms_text: 'Card {{card}}: topped up {{amount}} {{currency}}. Balance {{balance}} {{currency}}.',
  },
  low_balance: {
    email_subject: 'Card {{card}}: low balance',
    email_text: 'The balance of card {{card}} is down to {{balance}} {{currency}}.\n',
    sms_text: 'Card {{card}}: balance low, {{balance}} {{currency}}.',
  },
  card_blocked: {
    email_subject: 'Card {{card}} is {{status}}',
    email_text: 'Card {{card}} is now {{status}} and cannot pay. Contact the program operator if you did not ask for this.\n',
    sms_text: 'Card {{card}} is now {{status}} and cannot pay.',
  },
  refund_paid: {
    email_subject: 'Card {{card}}: refund of {{amount}} {{currency}}',
    email_text: 'A refund of {{amount}} {{currency}} was paid for card {{card}}.\n',
    sms_text: 'Card {{card}}: refund of {{amount}} {{currency}} paid.',
  },
};

/** Fills the placeholders in. */
export function renderText(text: string, values: NoticeValues): string {
  return text.replace(placeholder_use, (_whole, name: string) => values[name as Placeholder] ?? '');
}

/** Shows only the last four characters of a card id: a notice may be read by someone else. */
export function maskedCard(card: string): string {
  return card.length <= 4 ? card : `…${card.slice(-4)}`;
}

/** Money as a decimal in the currency's exponent ("12.50"); unknown currencies stay in minor units. */
export function moneyText(amount_minor: number, currency: string): string {
  try {
    return decimalAmount(amount_minor, currency);
  } catch {
    return String(amount_minor);
  }
}

/**
 * The template for a notice: the program's in the language, else the program's in the default
 * language, else the default program's ("*") in the language, then in the default language, else
 * the built-in one. `lookup` answers stored templates.
 */
export function chooseTemplate(
  kind: NoticeKind,
  program: string,
  language: string,
  lookup: (program: string, kind: NoticeKind, language: string) => NoticeTemplate | undefined,
): NoticeTemplate {
  for (const [p, l] of [
    [program, language],
    [program, default_language],
    ['*', language],
    ['*', default_language],
  ] as const) {
    const found = lookup(p, kind, l);
    if (found !== undefined) return found;
  }
  return default_templates[kind];
}
