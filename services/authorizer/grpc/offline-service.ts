// gRPC handlers of OfflineService (the terminal API of offline selling) and OfflineAdminService
// (its operator API): each decodes and validates, hands the request to its use case and maps the
// answer (docs/OFFLINE.md). Every handler answers exactly once through service.ts's `unaryAsync`.

import { invalidArgument, permissionDenied } from '../../../actors/errors';
import { missingEntries } from '../../../actors/offline/batch';
import { offlineSettingsProblem } from '../../../actors/offline/policy';
import { versionSum } from '../../../actors/offline/denylist';
import type { EntryResult } from '../../../actors/offline/records';
import {
  OfflineEntryResultKind,
  OfflineLiability,
  type AckDenylistRequest,
  type AckDenylistResponse,
  type GetDenylistDeltaRequest,
  type GetDenylistDeltaResponse,
  type GetOfflineProfileRequest,
  type GetOfflineProfileResponse,
  type GetTerminalOfflineRequest,
  type GetTerminalOfflineResponse,
  type ListDenylistRequest,
  type ListDenylistResponse,
  type OfflineAdminServiceServer,
  type OfflineEntryResult,
  type OfflineServiceServer,
  type RefreshCardCounterRequest,
  type RefreshCardCounterResponse,
  type SetTerminalOfflineRequest,
  type SetTerminalOfflineResponse,
  type UploadOfflineBatchRequest,
  type UploadOfflineBatchResponse,
} from '../../../gen/tapline/v1/offline';
import type { CardCounters, CounterBase } from '../usecases/offline-counters';
import type { DenylistDeltas, DenylistPage } from '../usecases/denylist';
import type { IssuedGrant, OfflineProfiles } from '../usecases/offline-profiles';
import type { OfflineUploads, UploadAnswer, Uploader } from '../usecases/offline-uploads';
import { unaryAsync, type ServiceDeps } from './service';
import { actingOf, callerOf, type Caller } from '../../common/auth/grpc-access';
import { dev_plaintext_terminals } from '../../common/auth/access';
import { parseSetTerminalOffline, parseUpload, parseVersions } from './offline-validate';
import { requireId } from './validate';
import type { TerminalState } from '../../../actors/terminal/rules';

export interface OfflineDeps {
  readonly profiles: OfflineProfiles;
  readonly deltas: DenylistDeltas;
  readonly uploads: OfflineUploads;
  readonly counters: CardCounters;
}

export interface OfflineServiceDeps extends ServiceDeps {
  readonly offline: OfflineDeps;
}

/**
 * Who is uploading: the principal the caller's certificate names (a terminal, or a gateway speaking
 * for its merchants' terminals), never a request field. The door already refused a request naming
 * a terminal outside it; the upload checks again against the batch itself. Only the plaintext
 * development switch, where nothing authenticates a terminal, takes the request's terminal id.
 */
export function uploaderOf(caller: Caller | undefined, terminalId: string): Uploader {
  const principal = caller?.principal;
  if (principal?.kind === 'terminal') return { kind: 'terminal', terminalId: principal.terminalId };
  if (principal?.kind === 'gateway') return { kind: 'gateway', merchantIds: new Set(principal.merchantIds) };
  if (principal?.kind === 'system' && principal.name === dev_plaintext_terminals) return { kind: 'terminal', terminalId };
  throw permissionDenied('only terminals and gateways upload offline batches');
}

export function offlineService(deps: OfflineServiceDeps): OfflineServiceServer {
  const { offline } = deps;
  return {
    getOfflineProfile: unaryAsync<GetOfflineProfileRequest, GetOfflineProfileResponse, IssuedGrant>(
      deps,
      'GetOfflineProfile',
      (request) => offline.profiles.grant(requireId('terminal_id', request.terminalId), Number(clampCount(request.lastEntry))),
      toProfileResponse,
    ),
    getDenylistDelta: unaryAsync<GetDenylistDeltaRequest, GetDenylistDeltaResponse, DenylistPage>(
      deps,
      'GetDenylistDelta',
      (request) => {
        requireId('terminal_id', request.terminalId);
        return offline.deltas.page(parseVersions('since', request.since), request.pageToken, request.pageSize);
      },
      (page) => ({
        snapshot: page.snapshot,
        reset: page.reset,
        changes: page.changes.map((change) => ({ cardId: change.card, listed: change.listed, reason: change.reason })),
        to: page.to.map(BigInt),
        more: page.more,
        nextPageToken: page.nextPageToken,
      }),
    ),
    ackDenylist: unaryAsync<AckDenylistRequest, AckDenylistResponse, number>(
      deps,
      'AckDenylist',
      (request) =>
        offline.deltas.acknowledge(
          requireId('terminal_id', request.terminalId),
          parseVersions('shard_versions', request.shardVersions),
          Number(clampCount(request.lastEntry)),
        ),
      (behind) => ({ behind: BigInt(behind) }),
    ),
    uploadOfflineBatch: unaryAsync<UploadOfflineBatchRequest, UploadOfflineBatchResponse, UploadAnswer>(
      deps,
      'UploadOfflineBatch',
      (request, call) => {
        const upload = parseUpload(request);
        return offline.uploads.upload(uploaderOf(callerOf(call), upload.terminalId), upload);
      },
      toUploadResponse,
    ),
    refreshCardCounter: unaryAsync<RefreshCardCounterRequest, RefreshCardCounterResponse, CounterBase>(
      deps,
      'RefreshCardCounter',
      (request) => {
        requireId('terminal_id', request.terminalId);
        return offline.counters.refresh(requireId('card_id', request.cardId));
      },
      (base) => ({
        cardId: base.cardId,
        baseMergedMinor: BigInt(base.mergedMinor),
        baseIssuedAtUnixMs: BigInt(base.issuedAtMs),
        baseSignature: Buffer.from(base.signature),
      }),
    ),
  };
}

export function offlineAdminService(deps: OfflineServiceDeps): OfflineAdminServiceServer {
  const { offline } = deps;
  return {
    setTerminalOffline: unaryAsync<SetTerminalOfflineRequest, SetTerminalOfflineResponse, { terminalId: string; version: number }>(
      deps,
      'SetTerminalOffline',
      async (request, call) => {
        const { terminalId, settings } = parseSetTerminalOffline(request);
        const problem = offlineSettingsProblem(settings);
        if (problem !== undefined) throw invalidArgument(problem);
        // Who acted is the caller's token subject; the request's operator_id is ignored.
        const version = await offline.profiles.configure(terminalId, settings, actingOf(call));
        return { terminalId, version };
      },
      ({ terminalId, version }) => ({ terminalId, version: BigInt(version) }),
    ),
    getTerminalOffline: unaryAsync<GetTerminalOfflineRequest, GetTerminalOfflineResponse, TerminalState>(
      deps,
      'GetTerminalOffline',
      async (request) => (await offline.profiles.inspect(requireId('terminal_id', request.terminalId))).state,
      toTerminalOfflineResponse,
    ),
    listDenylist: unaryAsync<ListDenylistRequest, ListDenylistResponse, Awaited<ReturnType<DenylistDeltas['listed']>>>(
      deps,
      'ListDenylist',
      (request) => offline.deltas.listed(request.pageToken, request.pageSize),
      ({ page, versions }) => ({
        entries: page.changes.map((change) => ({ cardId: change.card, listed: change.listed, reason: change.reason })),
        shardVersions: versions.map(BigInt),
        version: BigInt(versionSum(versions)),
        nextPageToken: page.nextPageToken,
      }),
    ),
  };
}

/** A count sent by a terminal, held to what a JavaScript number keeps exactly. */
function clampCount(value: bigint): bigint {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw invalidArgument('last_entry is out of range', { field: 'last_entry' });
  return value;
}

function money(amountMinor: number, currency: string): { amountMinor: bigint; currency: string } {
  return { amountMinor: BigInt(amountMinor), currency };
}

function toProfileResponse({ terminal, offline, grant, counterPublicKey }: IssuedGrant): GetOfflineProfileResponse {
  return {
    terminalId: terminal.terminalId,
    version: BigInt(offline.version),
    grantNumber: BigInt(grant.number),
    issuedAtUnixMs: BigInt(grant.issuedAtMs),
    validUntilUnixMs: BigInt(grant.issuedAtMs + grant.offlineMaxMs),
    offlineMaxMs: BigInt(grant.offlineMaxMs),
    totalMax: money(grant.totalMaxMinor, grant.currency),
    countMax: grant.countMax,
    programs: Object.entries(grant.programs).map(([programId, program]) => ({
      programId,
      programVersion: BigInt(program.programVersion),
      txnMax: money(program.txnMaxMinor, grant.currency),
      cardMax: money(program.cardMaxMinor, grant.currency),
      cardCounter: program.cardCounter,
    })),
    denylistRequired: grant.required.map(BigInt),
    counterPublicKey: Buffer.from(counterPublicKey),
  };
}

const result_kinds: Readonly<Record<EntryResult['kind'], OfflineEntryResultKind>> = {
  sale: OfflineEntryResultKind.OFFLINE_ENTRY_RESULT_KIND_SALE,
  voided: OfflineEntryResultKind.OFFLINE_ENTRY_RESULT_KIND_VOIDED,
  nothing_to_void: OfflineEntryResultKind.OFFLINE_ENTRY_RESULT_KIND_NOTHING_TO_VOID,
  already_voided: OfflineEntryResultKind.OFFLINE_ENTRY_RESULT_KIND_ALREADY_VOIDED,
  unknown_card: OfflineEntryResultKind.OFFLINE_ENTRY_RESULT_KIND_UNKNOWN_CARD,
};

const liabilities: Readonly<Record<EntryResult['liability'], OfflineLiability>> = {
  issuer: OfflineLiability.OFFLINE_LIABILITY_ISSUER,
  merchant: OfflineLiability.OFFLINE_LIABILITY_MERCHANT,
  '': OfflineLiability.OFFLINE_LIABILITY_UNSPECIFIED,
};

/** An upload's answer on the wire. */
export function toUploadResponse(answer: UploadAnswer): UploadOfflineBatchResponse {
  return {
    batchNumber: BigInt(answer.batch),
    results: answer.results.map((result): OfflineEntryResult => ({
      entryNumber: BigInt(result.entry),
      kind: result_kinds[result.kind],
      liability: liabilities[result.liability],
      liabilityReason: result.reason,
      transactionId: result.transactionId,
      amount: money(result.amountMinor, result.currency),
      balanceAfter: money(result.balanceAfterMinor, result.currency),
      debtAfter: money(result.debtAfterMinor, result.currency),
    })),
    missingEntries: answer.missing.map(BigInt),
    replayed: answer.replayed,
  };
}

function toTerminalOfflineResponse(state: TerminalState): GetTerminalOfflineResponse {
  const offline = state.offline;
  return {
    terminalId: state.terminalId,
    version: BigInt(offline?.version ?? 0),
    grantNumber: BigInt(offline?.grantNumber ?? 0),
    grantIssuedAtUnixMs: BigInt(offline?.grant?.issuedAtMs ?? 0),
    denylistAckedVersion: BigInt(offline?.ack === undefined ? 0 : versionSum(offline.ack.versions)),
    denylistAckedAtUnixMs: BigInt(offline?.ack?.atMs ?? 0),
    denylistAckedBehind: BigInt(offline?.ack?.behind ?? 0),
    highestEntry: BigInt(offline?.entries.high ?? 0),
    missingEntries: offline === undefined ? [] : missingEntries(offline.entries, 1_000).map(BigInt),
    pendingBatches: (offline?.pendingBatches ?? []).map(BigInt),
  };
}
