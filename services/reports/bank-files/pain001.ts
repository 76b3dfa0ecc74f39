// SEPA credit transfer initiation, ISO 20022 pain.001.001.03 (the version the EPC's SEPA Credit
// Transfer rulebook implementation guidelines and most European banks accept). Pure: the batch and
// the debtor in, the XML text out. The file is validated in the tests against the published XSD
// vendored at services/reports/bank-files/schemas/pain.001.001.03.xsd.
//
// What goes in: every EUR credit of the batch (the merchant's net when positive, the deployer's
// share), one CdtTrfTxInf each, in one PmtInf paid from the operator's account (the debtor). SEPA
// moves euros only and a credit transfer cannot collect: a batch's debits (a merchant owing the
// operator) and other currencies stay in the CSV file and are collected another way. Identifiers
// are derived from the batch id, so an approved batch's file is the same bytes every time.

import { createHash } from 'node:crypto';
import { bankPayments, decimalAmount, type BankFileInput, type BankPayment } from '../settlement-rules';

export interface SepaDebtor {
  readonly name: string;
  readonly iban: string;
  readonly bic: string;
}

export interface Pain001Input extends BankFileInput {
  readonly debtor: SepaDebtor;
  /** When the batch was approved (unix ms): the file's creation time and requested execution date. */
  readonly approved_at_ms: number;
}

/** XML text: the five predefined entities. Names and IBANs come from validated alphabets; this is belt and braces. */
function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** A Max35Text identifier derived from the batch (and a suffix): stable, unique per batch. */
export function sepaId(batch_id: string, suffix: string): string {
  return `TL${createHash('sha256').update(batch_id).digest('hex').slice(0, 24)}${suffix}`.slice(0, 35);
}

/** The credits a pain.001 of this batch carries (EUR, to be paid), in file order. */
export function sepaCredits(input: BankFileInput): BankPayment[] {
  return bankPayments(input).filter((payment) => payment.direction === 'credit' && payment.currency === 'EUR');
}

function sumText(credits: readonly BankPayment[]): string {
  const total = credits.reduce((sum, credit) => sum + BigInt(credit.amount_minor), 0n);
  if (total > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('assertion: SEPA control sum exceeds safe integers');
  return decimalAmount(Number(total), 'EUR');
}

/** A credit of a file: a batch's payment, or a holder's refund with the BIC the holder gave ('' or absent: none). */
export interface SepaCredit extends BankPayment {
  readonly payee_bic?: string;
}

function transaction(file_id: string, credit: SepaCredit, index: number): string {
  return [
    '      <CdtTrfTxInf>',
    `        <PmtId><EndToEndId>${sepaId(file_id, `-${index + 1}`)}</EndToEndId></PmtId>`,
    `        <Amt><InstdAmt Ccy="EUR">${decimalAmount(credit.amount_minor, 'EUR')}</InstdAmt></Amt>`,
    ...(credit.payee_bic === undefined || credit.payee_bic === ''
      ? []
      : [`        <CdtrAgt><FinInstnId><BIC>${xml(credit.payee_bic)}</BIC></FinInstnId></CdtrAgt>`]),
    `        <Cdtr><Nm>${xml(credit.payee_name)}</Nm></Cdtr>`,
    `        <CdtrAcct><Id><IBAN>${xml(credit.payee_iban)}</IBAN></Id></CdtrAcct>`,
    `        <RmtInf><Ustrd>${xml(credit.reference.slice(0, 140))}</Ustrd></RmtInf>`,
    '      </CdtTrfTxInf>',
  ].join('\n');
}

/** The pain.001.001.03 document, or undefined when the batch has no EUR credit to pay. */
export function pain001(input: Pain001Input): string | undefined {
  const credits = sepaCredits(input);
  if (credits.length === 0) return undefined;
  return pain001OfCredits({ file_id: input.batch_id, debtor: input.debtor, created_at_ms: input.approved_at_ms, credits });
}

/**
 * The pain.001.001.03 document paying `credits` (EUR, each > 0, at least one) from the debtor;
 * every identifier derived from `file_id`, so the same input is the same bytes.
 */
export function pain001OfCredits(input: {
  readonly file_id: string;
  readonly debtor: SepaDebtor;
  readonly created_at_ms: number;
  readonly credits: readonly SepaCredit[];
}): string {
  const { credits } = input;
  if (credits.length === 0 || credits.some((credit) => credit.currency !== 'EUR' || credit.amount_minor <= 0))
    throw new Error('assertion: a SEPA file pays at least one credit, each in EUR and above 0');
  const created = new Date(input.created_at_ms).toISOString().slice(0, 19);
  const execution = created.slice(0, 10);
  const count = String(credits.length);
  const control = sumText(credits);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">',
    '  <CstmrCdtTrfInitn>',
    '    <GrpHdr>',
    `      <MsgId>${sepaId(input.file_id, '')}</MsgId>`,
    `      <CreDtTm>${created}</CreDtTm>`,
    `      <NbOfTxs>${count}</NbOfTxs>`,
    `      <CtrlSum>${control}</CtrlSum>`,
    `      <InitgPty><Nm>${xml(input.debtor.name)}</Nm></InitgPty>`,
    '    </GrpHdr>',
    '    <PmtInf>',
    `      <PmtInfId>${sepaId(input.file_id, '-P')}</PmtInfId>`,
    '      <PmtMtd>TRF</PmtMtd>',
    '      <BtchBookg>true</BtchBookg>',
    `      <NbOfTxs>${count}</NbOfTxs>`,
    `      <CtrlSum>${control}</CtrlSum>`,
    '      <PmtTpInf><SvcLvl><Cd>SEPA</Cd></SvcLvl></PmtTpInf>',
    `      <ReqdExctnDt>${execution}</ReqdExctnDt>`,
    `      <Dbtr><Nm>${xml(input.debtor.name)}</Nm></Dbtr>`,
    `      <DbtrAcct><Id><IBAN>${xml(input.debtor.iban)}</IBAN></Id></DbtrAcct>`,
    `      <DbtrAgt><FinInstnId><BIC>${xml(input.debtor.bic)}</BIC></FinInstnId></DbtrAgt>`,
    '      <ChrgBr>SLEV</ChrgBr>',
    ...credits.map((credit, index) => transaction(input.file_id, credit, index)),
    '    </PmtInf>',
    '  </CstmrCdtTrfInitn>',
    '</Document>',
    '',
  ].join('\n');
}
