// Decoding of terminal management requests: parameters, serial numbers, cashiers and search
// filters, each bounded. A refusal is INVALID_ARGUMENT naming the field and changes nothing.

import { invalidArgument } from '../../../actors/errors';
import { fingerprintOf, type MoneyRequest } from '../../../actors/card/transaction';
import { empty_terminal_parameters, receipt_text_chars_max, type TerminalParameters } from '../../../actors/terminal/rules';
import type { Cashier } from '../../../gen/tapline/v1/authorization';
import type { TerminalParameters as WireParameters } from '../../../gen/tapline/v1/types';
import { TerminalStatusFilter, type SearchTerminalsRequest } from '../../../gen/tapline/v1/admin';
import type { TerminalFilter } from '../store/terminals';
import { pin_pattern } from '../usecases/pin';
import { requireId } from './validate';

/** A DNS name (labels of letters, digits and hyphens) or an IPv4 / bracket-free IPv6 address. */
const host_pattern = /^[A-Za-z0-9.:-]{1,253}$/;
const communication_timeout_ms_max = 120_000;
const offline_profile_pattern = /^[A-Za-z0-9._-]{1,64}$/;
const location_chars_max = 256;
const location_filter_chars_max = 64;
const serial_pattern = /^[A-Za-z0-9._-]{1,64}$/;

export function parseSerialNumber(value: string): string {
  if (value !== '' && !serial_pattern.test(value))
    throw invalidArgument('serial_number must be 1-64 characters of A-Z a-z 0-9 . _ -', { field: 'serial_number' });
  return value;
}

export function parseLocation(value: string): string {
  if (value.length > location_chars_max)
    throw invalidArgument(`location is at most ${location_chars_max} characters`, { field: 'location' });
  return value;
}

/** Wire parameters to the terminal's; absent = empty parameters. */
export function parseParameters(wire: WireParameters | undefined): TerminalParameters {
  if (wire === undefined) return empty_terminal_parameters;
  for (const [field, text] of [
    ['receipt_header', wire.receiptHeader],
    ['receipt_footer', wire.receiptFooter],
  ] as const)
    if (text.length > receipt_text_chars_max)
      throw invalidArgument(`parameters.${field} is at most ${receipt_text_chars_max} characters`, { field: `parameters.${field}` });
  const communication = wire.communication ?? { host: '', port: 0, timeoutMs: 0 };
  if (communication.host !== '' && !host_pattern.test(communication.host))
    throw invalidArgument('parameters.communication.host must be a host name or address', { field: 'parameters.communication.host' });
  if (communication.port > 65_535)
    throw invalidArgument('parameters.communication.port must be at most 65535', { field: 'parameters.communication.port' });
  if (communication.timeoutMs > communication_timeout_ms_max)
    throw invalidArgument(`parameters.communication.timeout_ms must be at most ${communication_timeout_ms_max}`, {
      field: 'parameters.communication.timeout_ms',
    });
  if (wire.offlineProfile !== '' && !offline_profile_pattern.test(wire.offlineProfile))
    throw invalidArgument('parameters.offline_profile must be 1-64 characters of A-Z a-z 0-9 . _ -', {
      field: 'parameters.offline_profile',
    });
  return {
    receiptHeader: wire.receiptHeader,
    receiptFooter: wire.receiptFooter,
    communication: { host: communication.host, port: communication.port, timeoutMs: communication.timeoutMs },
    offlineProfile: wire.offlineProfile,
  };
}

export function parseCashierCode(code: string, required: boolean): string {
  if (code === '' && !required) return '';
  if (!pin_pattern.test(code)) throw invalidArgument('code must be 4-12 digits', { field: 'code' });
  return code;
}

/** The search's filters; a merchant admin's scope is checked by the access policy before this. */
export function parseTerminalFilter(request: SearchTerminalsRequest): TerminalFilter {
  const filter: { -readonly [K in keyof TerminalFilter]: TerminalFilter[K] } = {};
  if (request.merchantId !== '') filter.merchantId = requireId('merchant_id', request.merchantId);
  if (request.status === TerminalStatusFilter.TERMINAL_STATUS_FILTER_ENABLED) filter.enabled = true;
  else if (request.status === TerminalStatusFilter.TERMINAL_STATUS_FILTER_DISABLED) filter.enabled = false;
  else if (request.status !== TerminalStatusFilter.TERMINAL_STATUS_FILTER_UNSPECIFIED)
    throw invalidArgument('unknown status', { field: 'status' });
  if (request.serialNumber !== '') filter.serialNumber = parseSerialNumber(request.serialNumber);
  if (request.locationContains.length > location_filter_chars_max)
    throw invalidArgument(`location_contains is at most ${location_filter_chars_max} characters`, { field: 'location_contains' });
  if (request.locationContains !== '') filter.locationContains = request.locationContains.toLowerCase();
  return filter;
}

/**
 * The money request with its cashier, when one is named: the id and the code's keyed hash (the
 * terminal checks them). The cashier is part of the request's fingerprint.
 */
export function withCashier(request: MoneyRequest, wire: Cashier | undefined, credential: CredentialOf): MoneyRequest {
  if (wire === undefined) return request;
  const cashierId = requireId('cashier.cashier_id', wire.cashierId);
  if (!pin_pattern.test(wire.code)) throw invalidArgument('cashier.code must be 4-12 digits', { field: 'cashier.code' });
  const withIt = { ...request, cashier: credential(request.terminalId, cashierId, wire.code) };
  return { ...withIt, fingerprint: fingerprintOf(withIt) };
}

type CredentialOf = (terminalId: string, cashierId: string, code: string) => { cashierId: string; pinHash: string };
