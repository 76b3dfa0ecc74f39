// Texts and formats of the portal. Every text a page shows is a key of the English catalog; the
// Dutch catalog must have the same keys (its type says so, so a missing translation does not
// compile). Money is shown from integer minor units without floating point: the amount becomes an
// exact decimal string that Intl formats for the locale; dates are shown in the locale's format.

import type { Locale } from './sessions';

const en = {
  'app.title': 'Tapline portal',
  'nav.skip': 'Skip to content',
  'nav.logout': 'Sign out',
  'nav.language': 'Language',
  'login.title': 'Sign in',
  'login.card.heading': 'Cardholder',
  'login.card.number': 'Card number',
  'login.card.pin': 'PIN',
  'login.staff.heading': 'Staff',
  'login.staff.username': 'Username',
  'login.staff.password': 'Password',
  'login.submit': 'Sign in',
  'login.failed': 'Those details do not match. Check them and try again.',
  'card.title': 'Card {id}',
  'card.balance': 'Balance',
  'card.available': 'Available',
  'card.status': 'Status',
  'card.expires': 'Expires',
  'card.history': 'History',
  'card.history.empty': 'No transactions yet.',
  'card.history.when': 'When',
  'card.history.kind': 'Kind',
  'card.history.amount': 'Amount',
  'card.history.where': 'Where',
  'card.history.unavailable': 'The history cannot be shown right now.',
  'card.lost': 'Report lost',
  'card.freeze': 'Freeze card',
  'card.stop.heading': 'Stop this card',
  'card.stop.help': 'A lost or frozen card is refused at every terminal. The desk can start it again.',
  'card.stopped': 'Done: the card is now {status}.',
  'card.back': 'Back to the card',
  'card.top_up.heading': 'Top up',
  'card.top_up.help': 'Pay at our payment provider; the money is on the card as soon as the payment is done.',
  'card.top_up.amount': 'Amount',
  'card.top_up.submit': 'Continue to payment',
  'card.top_up.title': 'Top up',
  'card.top_up.started': 'A top-up of {amount} is ready to pay. Nothing is charged until you pay it.',
  'card.top_up.pay': 'Pay {amount}',
  'card.top_up.returned': 'Thank you for your payment',
  'card.top_up.returned_help': 'The money is on your card as soon as the payment provider confirms the payment.',
  'card.receipt.title': 'Receipt',
  'card.receipt.merchant': 'Merchant',
  'card.receipt.terminal': 'Terminal',
  'card.receipt.outcome': 'Result',
  'card.receipt.approved': 'approved',
  'card.receipt.declined': 'declined',
  'card.receipt.balance_after': 'Balance after',
  'card.receipt.transaction': 'Transaction',
  'status.active': 'active',
  'status.frozen': 'frozen',
  'status.blocked': 'blocked',
  'status.lost': 'reported lost',
  'status.expired': 'expired',
  'status.closed': 'closed',
  'status.replaced': 'replaced',
  'status.unknown': 'unknown',
  'fleet.title': 'Fleet {id}',
  'fleet.credit_limit': 'Credit limit',
  'fleet.available_credit': 'Available credit',
  'fleet.owed': 'Balance',
  'fleet.limits.heading': 'Card limits',
  'fleet.card_no': 'Card number',
  'fleet.per_txn': 'Per fill-up',
  'fleet.daily': 'Per day',
  'fleet.limits.submit': 'Save limits',
  'fleet.limits.saved': 'Limits of card {id} saved.',
  'fleet.card.heading': 'Card {id}',
  'fleet.card.spent_day': 'Spent today',
  'fleet.card.status': 'Status',
  'fleet.card.block': 'Block card',
  'fleet.card.blocked': 'Card {id} is blocked.',
  'fleet.status.active': 'active',
  'fleet.status.frozen': 'frozen',
  'fleet.status.blocked': 'blocked',
  'fleet.reviews.heading': 'Review queue',
  'fleet.reviews.empty': 'Nothing to review.',
  'fleet.reviews.flags': 'Flagged by',
  'fleet.consumption.heading': 'Consumption per vehicle',
  'fleet.consumption.empty': 'No fill-ups in this period.',
  'merchant.title': 'Merchant {id}',
  'merchant.terminals.heading': 'Terminals',
  'merchant.terminal_id': 'Terminal',
  'merchant.enable': 'Enable',
  'merchant.disable': 'Disable',
  'merchant.terminal.saved': 'Terminal {id} is now {state}.',
  'merchant.enabled': 'enabled',
  'merchant.disabled': 'disabled',
  'merchant.fees.heading': 'Sales and fees this month',
  'merchant.currency': 'Currency',
  'merchant.gross': 'Sales',
  'merchant.fees': 'Fees',
  'merchant.net': 'Net payout',
  'merchant.fees.unavailable': 'The fee report cannot be shown right now.',
  'organizer.title': 'Event statistics',
  'organizer.program': 'Event',
  'organizer.show': 'Show',
  'organizer.sales': 'Sales',
  'organizer.spent': 'Spent',
  'organizer.top_ups': 'Top-ups',
  'organizer.remaining': 'Float (remaining on cards)',
  'organizer.top_merchants': 'Top merchants',
  'organizer.merchant': 'Merchant',
  'organizer.live': 'Updated live',
  'organizer.lookup.heading': 'Card lookup',
  'organizer.lookup.card': 'Card number',
  'organizer.lookup.submit': 'Look up',
  'organizer.none': 'Choose an event.',
  'error.403': 'You may not see this page.',
  'error.404': 'Not found.',
  'error.400': 'That request is not valid.',
  'error.409': 'That cannot be done in the current state.',
  'error.503': 'The service is unavailable. Try again shortly.',
  'error.back': 'Back to your start page',
};

export type MessageKey = keyof typeof en;

const nl: Record<MessageKey, string> = {
  'app.title': 'Tapline-portaal',
  'nav.skip': 'Naar de inhoud',
  'nav.logout': 'Afmelden',
  'nav.language': 'Taal',
  'login.title': 'Aanmelden',
  'login.card.heading': 'Kaarthouder',
  'login.card.number': 'Kaartnummer',
  'login.card.pin': 'Pincode',
  'login.staff.heading': 'Medewerker',
  'login.staff.username': 'Gebruikersnaam',
  'login.staff.password': 'Wachtwoord',
  'login.submit': 'Aanmelden',
  'login.failed': 'Deze gegevens kloppen niet. Controleer ze en probeer het opnieuw.',
  'card.title': 'Kaart {id}',
  'card.balance': 'Saldo',
  'card.available': 'Beschikbaar',
  'card.status': 'Status',
  'card.expires': 'Geldig tot',
  'card.history': 'Geschiedenis',
  'card.history.empty': 'Nog geen transacties.',
  'card.history.when': 'Wanneer',
  'card.history.kind': 'Soort',
  'card.history.amount': 'Bedrag',
  'card.history.where': 'Waar',
  'card.history.unavailable': 'De geschiedenis kan nu niet worden getoond.',
  'card.lost': 'Verlies melden',
  'card.freeze': 'Kaart bevriezen',
  'card.stop.heading': 'Deze kaart stoppen',
  'card.stop.help': 'Een verloren of bevroren kaart wordt op elke terminal geweigerd. De balie kan hem weer activeren.',
  'card.stopped': 'Gedaan: de kaart is nu {status}.',
  'card.back': 'Terug naar de kaart',
  'card.top_up.heading': 'Opwaarderen',
  'card.top_up.help': 'Betaal bij onze betaalprovider; het geld staat op de kaart zodra de betaling rond is.',
  'card.top_up.amount': 'Bedrag',
  'card.top_up.submit': 'Verder naar betalen',
  'card.top_up.title': 'Opwaarderen',
  'card.top_up.started': 'Een opwaardering van {amount} staat klaar om te betalen. Er wordt niets afgeschreven tot u betaalt.',
  'card.top_up.pay': 'Betaal {amount}',
  'card.top_up.returned': 'Bedankt voor uw betaling',
  'card.top_up.returned_help': 'Het geld staat op uw kaart zodra de betaalprovider de betaling bevestigt.',
  'card.receipt.title': 'Bon',
  'card.receipt.merchant': 'Handelaar',
  'card.receipt.terminal': 'Terminal',
  'card.receipt.outcome': 'Resultaat',
  'card.receipt.approved': 'goedgekeurd',
  'card.receipt.declined': 'geweigerd',
  'card.receipt.balance_after': 'Saldo na afloop',
  'card.receipt.transaction': 'Transactie',
  'status.active': 'actief',
  'status.frozen': 'bevroren',
  'status.blocked': 'geblokkeerd',
  'status.lost': 'als verloren gemeld',
  'status.expired': 'verlopen',
  'status.closed': 'gesloten',
  'status.replaced': 'vervangen',
  'status.unknown': 'onbekend',
  'fleet.title': 'Wagenpark {id}',
  'fleet.credit_limit': 'Kredietlimiet',
  'fleet.available_credit': 'Beschikbaar krediet',
  'fleet.owed': 'Saldo',
  'fleet.limits.heading': 'Kaartlimieten',
  'fleet.card_no': 'Kaartnummer',
  'fleet.per_txn': 'Per tankbeurt',
  'fleet.daily': 'Per dag',
  'fleet.limits.submit': 'Limieten opslaan',
  'fleet.limits.saved': 'Limieten van kaart {id} opgeslagen.',
  'fleet.card.heading': 'Kaart {id}',
  'fleet.card.spent_day': 'Vandaag besteed',
  'fleet.card.status': 'Status',
  'fleet.card.block': 'Kaart blokkeren',
  'fleet.card.blocked': 'Kaart {id} is geblokkeerd.',
  'fleet.status.active': 'actief',
  'fleet.status.frozen': 'bevroren',
  'fleet.status.blocked': 'geblokkeerd',
  'fleet.reviews.heading': 'Te beoordelen',
  'fleet.reviews.empty': 'Niets te beoordelen.',
  'fleet.reviews.flags': 'Gemarkeerd door',
  'fleet.consumption.heading': 'Verbruik per voertuig',
  'fleet.consumption.empty': 'Geen tankbeurten in deze periode.',
  'merchant.title': 'Handelaar {id}',
  'merchant.terminals.heading': 'Terminals',
  'merchant.terminal_id': 'Terminal',
  'merchant.enable': 'Inschakelen',
  'merchant.disable': 'Uitschakelen',
  'merchant.terminal.saved': 'Terminal {id} is nu {state}.',
  'merchant.enabled': 'ingeschakeld',
  'merchant.disabled': 'uitgeschakeld',
  'merchant.fees.heading': 'Omzet en kosten deze maand',
  'merchant.currency': 'Valuta',
  'merchant.gross': 'Omzet',
  'merchant.fees': 'Kosten',
  'merchant.net': 'Netto uitbetaling',
  'merchant.fees.unavailable': 'Het kostenoverzicht kan nu niet worden getoond.',
  'organizer.title': 'Evenementstatistieken',
  'organizer.program': 'Evenement',
  'organizer.show': 'Tonen',
  'organizer.sales': 'Verkopen',
  'organizer.spent': 'Besteed',
  'organizer.top_ups': 'Opwaarderingen',
  'organizer.remaining': 'Float (resterend op kaarten)',
  'organizer.top_merchants': 'Beste handelaars',
  'organizer.merchant': 'Handelaar',
  'organizer.live': 'Live bijgewerkt',
  'organizer.lookup.heading': 'Kaart opzoeken',
  'organizer.lookup.card': 'Kaartnummer',
  'organizer.lookup.submit': 'Opzoeken',
  'organizer.none': 'Kies een evenement.',
  'error.403': 'U mag deze pagina niet zien.',
  'error.404': 'Niet gevonden.',
  'error.400': 'Dit verzoek is niet geldig.',
  'error.409': 'Dat kan in de huidige toestand niet.',
  'error.503': 'De dienst is niet beschikbaar. Probeer het zo opnieuw.',
  'error.back': 'Terug naar uw startpagina',
};

const catalogs: Readonly<Record<Locale, Record<MessageKey, string>>> = { en, nl };
export const locales: readonly Locale[] = ['en', 'nl'];
const intl_locale: Readonly<Record<Locale, string>> = { en: 'en-GB', nl: 'nl-NL' };

/** The text of `key` in `locale`, with {name} placeholders filled. */
export function t(locale: Locale, key: MessageKey, values: Readonly<Record<string, string>> = {}): string {
  return catalogs[locale][key].replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);
}

/** The locale a browser asks for first among the supported ones (English otherwise). */
export function localeOf(acceptLanguage: string | undefined): Locale {
  for (const part of (acceptLanguage ?? '').split(',').slice(0, 20)) {
    const tag = part.trim().slice(0, 2).toLowerCase();
    if ((locales as readonly string[]).includes(tag)) return tag as Locale;
  }
  return 'en';
}

/** Minor units as an exact decimal string ("-1234.50" for -123450 with 2 digits). */
export function decimalOf(amount_minor: bigint, digits: number): string {
  const negative = amount_minor < 0n;
  const magnitude = (negative ? -amount_minor : amount_minor).toString().padStart(digits + 1, '0');
  const whole = magnitude.slice(0, magnitude.length - digits);
  const fraction = magnitude.slice(magnitude.length - digits);
  return `${negative ? '-' : ''}${whole}${digits > 0 ? `.${fraction}` : ''}`;
}

/** An amount in minor units of `currency`, formatted for the locale ("€ 12,50", "€12.50"). */
export function formatMoney(locale: Locale, amount_minor: bigint | number, currency: string): string {
  const format = new Intl.NumberFormat(intl_locale[locale], { style: 'currency', currency });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  // Intl formats a decimal string exactly (no conversion to a float on the way).
  return format.format(decimalOf(BigInt(amount_minor), digits) as unknown as number);
}

/** A moment (Unix milliseconds) in the locale's date and time format, in UTC. */
export function formatDate(locale: Locale, unix_ms: number): string {
  return new Intl.DateTimeFormat(intl_locale[locale], { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(
    new Date(unix_ms),
  );
}

export function formatCount(locale: Locale, count: number): string {
  return new Intl.NumberFormat(intl_locale[locale]).format(count);
}
