// IBANs and BICs of a holder's refund claim: normalised (spaces dropped, upper case), checked for
// form, for the country's length among the SEPA countries (a SEPA credit transfer reaches no other
// account) and for the ISO 13616 / ISO 7064 mod-97-10 check digits. Pure. An IBAN is personal
// data: masked() is what every answer and page shows; only the payout file carries it whole.

/** The SEPA scheme's countries and their IBAN lengths (SWIFT IBAN registry). */
export const sepa_iban_lengths: Readonly<Record<string, number>> = {
  AD: 24,
  AT: 20,
  BE: 16,
  BG: 22,
  CH: 21,
  CY: 28,
  CZ: 24,
  DE: 22,
  DK: 18,
  EE: 20,
  ES: 24,
  FI: 18,
  FR: 27,
  GB: 22,
  GI: 23,
  GR: 27,
  HR: 21,
  HU: 28,
  IE: 22,
  IS: 26,
  IT: 27,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  MC: 27,
  MT: 31,
  NL: 18,
  NO: 15,
  PL: 28,
  PT: 25,
  RO: 24,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  VA: 22,
};

/** Why an IBAN is refused (a stable code for the answer; the text never repeats the IBAN). */
export type IbanProblem = 'format' | 'country' | 'length' | 'checksum';

export type IbanCheck = { readonly ok: true; readonly iban: string } | { readonly ok: false; readonly problem: IbanProblem };

/** Spaces (and the non-breaking ones a copy from a bank's page brings) dropped, letters upper case. */
export function normaliseIban(text: string): string {
  return text.replace(/[\s\u00a0]+/g, '').toUpperCase();
}

/** ISO 7064 mod 97-10 over the rearranged IBAN (letters as 10..35), digit by digit: no big numbers. */
export function ibanRemainder(iban: string): number {
  const rearranged = `${iban.slice(4)}${iban.slice(0, 4)}`;
  let remainder = 0;
  for (const char of rearranged) {
    const value = char >= 'A' && char <= 'Z' ? char.charCodeAt(0) - 55 : char.charCodeAt(0) - 48;
    remainder = value >= 10 ? (remainder * 100 + value) % 97 : (remainder * 10 + value) % 97;
  }
  return remainder;
}

export function checkIban(text: string): IbanCheck {
  const iban = normaliseIban(text);
  if (!/^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$/.test(iban)) return { ok: false, problem: 'format' };
  const length = sepa_iban_lengths[iban.slice(0, 2)];
  if (length === undefined) return { ok: false, problem: 'country' };
  if (iban.length !== length) return { ok: false, problem: 'length' };
  if (ibanRemainder(iban) !== 1) return { ok: false, problem: 'checksum' };
  return { ok: true, iban };
}

/** A BIC (ISO 9362): 8 or 11 characters, normalised like an IBAN; undefined when malformed. */
export function checkBic(text: string): string | undefined {
  const bic = normaliseIban(text);
  return /^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/.test(bic) ? bic : undefined;
}

/** What is shown of an IBAN: its country and the last four characters ("NL•• •••• •••• ••12 34" style, shortened). */
export function maskIban(iban: string): string {
  return `${iban.slice(0, 2)}•• … ${iban.slice(-4)}`;
}
