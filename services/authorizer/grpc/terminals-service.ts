// gRPC handlers of terminal management: AdminService's terminal methods (register, enable,
// parameters, read, search, cashiers) and AuthorizationService.GetTerminalParameters (a terminal
// fetching its own parameters). Each decodes and validates, hands the request to the use case
// (usecases/terminals.ts) as the caller's principal, and maps the answer.

import { invalidArgument } from '../../../actors/errors';
import type { TerminalAnswer } from '../../../actors/terminal/actor';
import type { TerminalParameters, TerminalState } from '../../../actors/terminal/rules';
import type {
  AdminServiceServer,
  GetTerminalRequest,
  GetTerminalResponse,
  RegisterTerminalRequest,
  RegisterTerminalResponse,
  SearchTerminalsRequest,
  SearchTerminalsResponse,
  SetTerminalCashierRequest,
  SetTerminalCashierResponse,
  SetTerminalEnabledRequest,
  SetTerminalEnabledResponse,
  TerminalRecord,
  UpdateTerminalParametersRequest,
  UpdateTerminalParametersResponse,
} from '../../../gen/tapline/v1/admin';
import type { GetTerminalParametersRequest, GetTerminalParametersResponse } from '../../../gen/tapline/v1/authorization';
import type { TerminalParameters as WireParameters } from '../../../gen/tapline/v1/types';
import { actingOf } from '../../common/auth/grpc-access';
import { decodeTerminalsPageToken, terminals_page_size_max, type TerminalsPage } from '../store/terminals';
import type { TerminalAdmin } from '../usecases/terminals';
import { unaryAsync, type Handler, type ServiceDeps } from './service';
import { parseCashierCode, parseLocation, parseParameters, parseSerialNumber, parseTerminalFilter } from './terminals-validate';
import { requireId } from './validate';

export interface TerminalServiceDeps extends ServiceDeps {
  readonly terminals: TerminalAdmin;
}

type TerminalMethods =
  'registerTerminal' | 'setTerminalEnabled' | 'updateTerminalParameters' | 'getTerminal' | 'searchTerminals' | 'setTerminalCashier';

/** Parameters numbers are versions: a uint64 on the wire, far below 2^53 in practice (one per change). */
const version_max = BigInt(Number.MAX_SAFE_INTEGER);

export function terminalAdminHandlers(deps: TerminalServiceDeps): Pick<AdminServiceServer, TerminalMethods> {
  const { terminals } = deps;
  return {
    registerTerminal: unaryAsync<RegisterTerminalRequest, RegisterTerminalResponse, TerminalAnswer>(
      deps,
      'RegisterTerminal',
      (request, call) => {
        const terminalId = requireId('terminal_id', request.terminalId);
        const merchantId = requireId('merchant_id', request.merchantId);
        const command = {
          type: 'register' as const,
          terminalId,
          merchantId,
          location: parseLocation(request.location),
          serialNumber: parseSerialNumber(request.serialNumber),
          parameters: parseParameters(request.parameters),
        };
        return terminals.register(command, actingOf(call));
      },
      ({ state, unchanged }) => ({
        terminalId: state.terminalId,
        merchantId: state.merchantId,
        enabled: state.enabled,
        alreadyExisted: unchanged,
        parametersVersion: BigInt(state.parametersVersion),
      }),
    ),
    setTerminalEnabled: unaryAsync<SetTerminalEnabledRequest, SetTerminalEnabledResponse, TerminalAnswer>(
      deps,
      'SetTerminalEnabled',
      (request, call) => terminals.setEnabled(requireId('terminal_id', request.terminalId), request.enabled, actingOf(call)),
      ({ state }) => ({ terminalId: state.terminalId, enabled: state.enabled }),
    ),
    updateTerminalParameters: unaryAsync<UpdateTerminalParametersRequest, UpdateTerminalParametersResponse, TerminalAnswer>(
      deps,
      'UpdateTerminalParameters',
      (request, call) => {
        const terminalId = requireId('terminal_id', request.terminalId);
        if (request.parameters === undefined) throw invalidArgument('parameters is required', { field: 'parameters' });
        const parameters = parseParameters(request.parameters);
        if (request.expectedVersion > version_max) throw invalidArgument('expected_version is too large', { field: 'expected_version' });
        return terminals.setParameters(terminalId, parameters, Number(request.expectedVersion), actingOf(call));
      },
      ({ state }) => ({ terminal: terminalRecord(state) }),
    ),
    getTerminal: unaryAsync<GetTerminalRequest, GetTerminalResponse, TerminalState>(
      deps,
      'GetTerminal',
      (request) => terminals.get(requireId('terminal_id', request.terminalId)),
      (state) => ({ terminal: terminalRecord(state) }),
    ),
    searchTerminals: unaryAsync<SearchTerminalsRequest, SearchTerminalsResponse, TerminalsPage>(
      deps,
      'SearchTerminals',
      (request) => {
        const filter = parseTerminalFilter(request);
        if (request.pageSize > terminals_page_size_max)
          throw invalidArgument(`page_size must be at most ${terminals_page_size_max}`, { field: 'page_size' });
        const cursor = decodeTerminalsPageToken(request.pageToken);
        return terminals.search(cursor, request.pageSize === 0 ? terminals_page_size_max : request.pageSize, filter);
      },
      (page) => ({ terminals: page.terminals.map(terminalRecord), nextPageToken: page.next ?? '' }),
    ),
    setTerminalCashier: unaryAsync<SetTerminalCashierRequest, SetTerminalCashierResponse, TerminalAnswer & { cashierId: string }>(
      deps,
      'SetTerminalCashier',
      async (request, call) => {
        const terminalId = requireId('terminal_id', request.terminalId);
        const cashierId = requireId('cashier_id', request.cashierId);
        const code = parseCashierCode(request.code, false);
        const answer = await terminals.setCashier(terminalId, cashierId, code, request.granted, actingOf(call));
        return { ...answer, cashierId };
      },
      ({ state, cashierId }) => ({ terminalId: state.terminalId, cashierId, granted: state.cashiers[cashierId] === true }),
    ),
  };
}

/** AuthorizationService.GetTerminalParameters: the access policy lets a terminal ask for itself only. */
export function getTerminalParametersHandler(
  deps: TerminalServiceDeps,
): Handler<GetTerminalParametersRequest, GetTerminalParametersResponse> {
  return unaryAsync<GetTerminalParametersRequest, GetTerminalParametersResponse, GetTerminalParametersResponse>(
    deps,
    'GetTerminalParameters',
    async (request) => {
      const terminalId = requireId('terminal_id', request.terminalId);
      const state = await deps.terminals.get(terminalId);
      const version = BigInt(state.parametersVersion);
      if (request.knownVersion === version) return { terminalId, version, unchanged: true, parameters: undefined };
      return { terminalId, version, unchanged: false, parameters: wireParameters(state.parameters) };
    },
    (response) => response,
  );
}

function wireParameters(parameters: TerminalParameters): WireParameters {
  return {
    receiptHeader: parameters.receiptHeader,
    receiptFooter: parameters.receiptFooter,
    communication: { ...parameters.communication },
    offlineProfile: parameters.offlineProfile,
  };
}

/** A terminal's record as operators read it: cashiers by id and grant, never their codes. */
function terminalRecord(state: TerminalState): TerminalRecord {
  return {
    terminalId: state.terminalId,
    merchantId: state.merchantId,
    location: state.location,
    serialNumber: state.serialNumber,
    enabled: state.enabled,
    parameters: wireParameters(state.parameters),
    parametersVersion: BigInt(state.parametersVersion),
    cashiers: Object.entries(state.cashiers)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([cashierId, granted]) => ({ cashierId, granted })),
  };
}
