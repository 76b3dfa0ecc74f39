// Proves the pure rules of offline selling (actors/offline, actors/card/offline.ts): grants are
// refused while sales are unmerged or a batch is merging, and issued with the facts read at the
// terminal's version; a batch is judged entry by entry against its grant (every reason the
// merchant carries a sale, only the issuer's sales counted against the caps), entry numbers and
// their gaps are kept exactly (property against a set of numbers); the denylist's listing follows
// the card's status and debt, `listedAt` reads a history as commit.lua writes it; deltas are
// planned page by page and a trimmed log means a snapshot; signatures bind their bytes and their
// purpose; and the loss bound formula is what docs/OFFLINE.md states.

import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import fc from 'fast-check';
import { apply, type CardState } from '../../actors/card/rules';
import { offlineLiabilityReason } from '../../actors/card/offline';
import { default_program_config } from '../../actors/program/config';
import { assessBatch, missingEntries, receive, received, type OfflineBatchInput, type OfflineEntryInput } from '../../actors/offline/batch';
import { continues, decodeSnapshotToken, encodeSnapshotToken, needsSnapshot, planDeltaPage } from '../../actors/offline/delta';
import {
  changesBehind,
  debtMinor,
  holdsAtLeast,
  listedAt,
  listingReasonOf,
  parseListingHistory,
  withListing,
} from '../../actors/offline/denylist';
import {
  acknowledgeDenylist,
  configureOffline,
  decideGrant,
  heldVersionFor,
  legacyCardUsage,
  type EntryNumbers,
  type TerminalOffline,
} from '../../actors/offline/grant';
import { lossBoundMinor, perGrantCardMaxMinor } from '../../actors/offline/loss-bound';
import type { ProgramOfflinePolicy, TerminalOfflineSettings } from '../../actors/offline/policy';
import {
  batchDigest,
  batchSigned,
  batchSigningBytes,
  counterSigned,
  counterSigningBytes,
  normalizePublicKey,
} from '../../actors/offline/signature';
import { decideAccept } from '../../actors/offline/uploads';
import type { MoneyRequest } from '../../actors/card/transaction';
import { shardOf } from '../../actors/sharding/shard-key';
import { announceSeed, assertProperty } from './fast-check-seed';

const at = 1_769_000_000_000;
const shards = 8;
const policy: ProgramOfflinePolicy = { txnMaxMinor: 1_000, cardMaxMinor: 2_500, debtThresholdMinor: 500, cardCounter: false };
const settings: TerminalOfflineSettings = {
  publicKey: Buffer.alloc(32, 7).toString('base64'),
  programs: ['fest'],
  currency: 'EUR',
  totalMaxMinor: 4_000,
  countMax: 5,
  offlineMaxMs: 3_600_000,
};
const card: CardState = {
  cardId: 'c-1',
  currency: 'EUR',
  programId: 'fest',
  status: 'active',
  balanceMinor: 1_000,
  heldMinor: 0,
  issuedAtMs: at,
};

/** A terminal with a first grant issued at `at` requiring version 3 on every shard. */
function granted(): TerminalOffline {
  const decision = decideGrant(
    configureOffline(undefined, settings),
    4,
    {
      lastEntry: 0,
      readAtVersion: 4,
      required: Array.from({ length: shards }, () => 3),
      programs: { fest: { ...policy, programVersion: 2 } },
    },
    at,
  );
  assert.equal(decision.kind, 'granted');
  return (decision as { after: TerminalOffline }).after;
}

function sale(entry: number, fields: Partial<OfflineEntryInput> = {}): OfflineEntryInput {
  return {
    entry,
    kind: 'sale',
    cardId: 'c-1',
    programId: 'fest',
    amountMinor: 500,
    currency: 'EUR',
    voidOf: 0,
    grant: 1,
    offsetMs: 60_000,
    receipt: 0,
    ...fields,
  };
}

const env = { nowMs: at + 7_200_000, shardCount: shards, counterSigned: () => true };

describe('offline rules (pure)', () => {
  before(() => announceSeed('offline rules'));

  describe('grants', () => {
    it('are refused to a terminal not set up, with unmerged sales or a batch merging, and stale when the terminal moved', () => {
      const request = { lastEntry: 0, readAtVersion: 1, required: [0], programs: {} };
      assert.equal(decideGrant(undefined, 1, request, at).kind, 'rejected');
      const offline = granted();
      assert.equal(decideGrant(offline, 1, { ...request, lastEntry: 3 }, at).kind, 'rejected', 'sales used but never uploaded');
      assert.equal(decideGrant({ ...offline, pendingBatches: [2] }, 1, request, at).kind, 'rejected', 'a batch still merging');
      assert.equal(
        decideGrant({ ...offline, entries: { high: 5, missing: [[2, 2]] } }, 1, { ...request, lastEntry: 5 }, at).kind,
        'rejected',
        'a gap',
      );
      assert.equal(decideGrant(offline, 2, request, at).kind, 'stale');
      const next = decideGrant(offline, 1, request, at + 1);
      assert.equal(next.kind === 'granted' ? next.grant.number : 0, 2);
    });

    it('hold the acknowledged denylist from the entry after the acknowledgement on', () => {
      const offline = acknowledgeDenylist(granted(), [9, 9, 9, 9, 9, 9, 9, 9], 4, 2, at + 1);
      const grant = offline.grant;
      if (grant === undefined) throw new Error('no grant');
      assert.deepEqual([heldVersionFor(grant, 4, 0), heldVersionFor(grant, 5, 0)], [3, 9]);
      assert.deepEqual(offline.ack, { versions: [9, 9, 9, 9, 9, 9, 9, 9], atMs: at + 1, behind: 2 });
    });
  });

  describe('batches', () => {
    it("judge each sale against the grant, and count only the issuer's against the caps", () => {
      const offline = granted();
      const batch: OfflineBatchInput = {
        terminalId: 't-1',
        batch: 1,
        entries: [
          sale(1, { amountMinor: 1_000 }),
          sale(2, { amountMinor: 1_001 }),
          sale(3, { offsetMs: 3_600_001 }),
          sale(4, { programId: 'other' }),
          sale(5, { currency: 'CHF' }),
          sale(6, { grant: 0 }),
          sale(7, { amountMinor: 1_000 }),
          sale(8, { amountMinor: 1_000 }),
          sale(9, { cardId: 'c-2', amountMinor: 1_000 }),
          sale(10, { cardId: 'c-3', amountMinor: 100 }),
          sale(11, { cardId: 'c-4', amountMinor: 1_000 }),
          sale(12, { cardId: 'c-5', amountMinor: 10 }),
          sale(13, { cardId: 'c-6', amountMinor: 10 }),
          { ...sale(14), kind: 'void', amountMinor: 0, voidOf: 7, currency: '' },
        ],
      };
      const judged = assessBatch(offline, new Map(), batch, env);
      if ('error' in judged) throw judged.error;
      assert.deepEqual(
        judged.entries.map((entry) => [entry.entry, entry.merchantReason]),
        [
          [1, ''],
          [2, 'txn_cap'],
          [3, 'offline_window'],
          [4, 'program'],
          [5, 'currency'],
          [6, 'unknown_grant'],
          [7, ''],
          [8, 'card_cap'],
          [9, ''],
          [10, ''],
          [11, 'terminal_cap'],
          [12, ''],
          [13, 'count_cap'],
          [14, ''],
        ],
      );
      assert.deepEqual(judged.after.usage, { count: 5, totalMinor: 3_110 });
      assert.deepEqual(
        [...judged.cardsAdded],
        [
          ['c-1', 2_000],
          ['c-2', 1_000],
          ['c-3', 100],
          ['c-5', 10],
        ],
      );
      assert.deepEqual(judged.after.pendingBatches, [1]);
      assert.equal(judged.entries[0]?.capturedAtMs, at + 60_000, 'dated by the grant plus the offset');
      assert.equal(judged.entries[0]?.held, 3);
    });

    it("count what earlier batches of the grant charged each card against its cap, and add only this batch's sales", () => {
      const offline = { ...granted(), usage: { count: 2, totalMinor: 2_000 } };
      const spent = new Map([['c-1', 2_000]]);
      const batch: OfflineBatchInput = {
        terminalId: 't-1',
        batch: 1,
        entries: [sale(1, { amountMinor: 600 }), sale(2, { amountMinor: 500 }), sale(3, { cardId: 'c-2', amountMinor: 600 })],
      };
      const judged = assessBatch(offline, spent, batch, env);
      if ('error' in judged) throw judged.error;
      assert.deepEqual(
        judged.entries.map((entry) => entry.merchantReason),
        ['card_cap', '', ''],
      );
      assert.deepEqual(
        [...judged.cardsAdded],
        [
          ['c-1', 500],
          ['c-2', 600],
        ],
      );
      assert.deepEqual(judged.after.usage, { count: 4, totalMinor: 3_100 });
      assert.deepEqual([...spent], [['c-1', 2_000]], 'the usage read is not changed');
    });

    it('move the per-card usage of a terminal read from layout 3 out of its state', () => {
      const offline = { ...granted(), usage: { count: 2, totalMinor: 2_000, cards: { 'c-1': 2_000 } } };
      const judged = assessBatch(
        offline,
        legacyCardUsage(offline),
        { terminalId: 't-1', batch: 1, entries: [sale(1, { amountMinor: 600 })] },
        env,
      );
      if ('error' in judged) throw judged.error;
      assert.equal(judged.entries[0]?.merchantReason, 'card_cap', 'the cards the state held still count');
      assert.deepEqual(judged.after.usage, { count: 2, totalMinor: 2_000 });
    });

    it('refuse a batch that reuses a received number, repeats one, jumps too far or names a future grant', () => {
      const offline = { ...granted(), entries: { high: 4, missing: [[2, 2]] as [number, number][] } };
      const refused = (entries: OfflineEntryInput[]): string => {
        const judged = assessBatch(offline, new Map(), { terminalId: 't-1', batch: 2, entries }, env);
        return 'error' in judged ? judged.error.code : 'accepted';
      };
      assert.equal(refused([sale(3)]), 'already_exists');
      assert.equal(refused([sale(2)]), 'accepted', 'a missing number may still arrive');
      assert.equal(refused([sale(5), sale(5)]), 'invalid_argument');
      assert.equal(refused([sale(200_000)]), 'invalid_argument');
      assert.equal(refused([sale(5, { grant: 2 })]), 'invalid_argument');
    });

    it('keep entry numbers and their gaps exactly (property)', () => {
      assertProperty(
        fc.property(fc.array(fc.uniqueArray(fc.integer({ min: 1, max: 60 }), { maxLength: 8 }), { maxLength: 8 }), (batches) => {
          let numbers: EntryNumbers = { high: 0, missing: [] };
          const seen = new Set<number>();
          for (const batch of batches) {
            const fresh = batch.filter((n) => !seen.has(n)).sort((a, b) => a - b);
            for (const n of fresh) assert.equal(received(numbers, n), false, `${n} not received yet`);
            numbers = receive(numbers, fresh);
            for (const n of fresh) seen.add(n);
          }
          const high = Math.max(0, ...seen);
          const expected = Array.from({ length: high }, (_, i) => i + 1).filter((n) => !seen.has(n));
          assert.deepEqual(missingEntries(numbers, 1_000), expected);
          for (let n = 1; n <= high + 2; n++) assert.equal(received(numbers, n), seen.has(n), `received(${n})`);
        }),
        300,
      );
    });

    it('are accepted once: the same bytes replay, other bytes under the number are refused, a bad signature changes nothing', () => {
      const offline = granted();
      const batch: OfflineBatchInput = { terminalId: 't-1', batch: 1, entries: [sale(1)] };
      const acceptEnv = { ...env, resume_within_ms: 60_000 };
      const accepted = decideAccept(offline, new Map(), undefined, batch, { digest: 'd1', signed: true }, acceptEnv);
      assert.equal(accepted.kind, 'accept');
      const record = (accepted as { record: NonNullable<Parameters<typeof decideAccept>[2]> }).record;
      assert.equal(
        decideAccept(offline, new Map(), record, batch, { digest: 'd1', signed: true }, { ...acceptEnv, nowMs: record.acceptedAtMs }).kind,
        'replay',
      );
      const other = decideAccept(offline, new Map(), record, batch, { digest: 'd2', signed: true }, acceptEnv);
      assert.equal(other.kind === 'rejected' ? other.error.code : other.kind, 'already_exists');
      const unsigned = decideAccept(offline, new Map(), undefined, batch, { digest: 'd1', signed: false }, acceptEnv);
      assert.equal(unsigned.kind === 'rejected' ? unsigned.error.code : unsigned.kind, 'permission_denied');
      const late = decideAccept(
        offline,
        new Map(),
        record,
        batch,
        { digest: 'd1', signed: true },
        { ...acceptEnv, nowMs: record.acceptedAtMs + 60_001 },
      );
      assert.equal(late.kind === 'rejected' ? late.error.code : late.kind, 'failed_precondition', 'too late to complete safely');
    });
  });

  describe('denylist', () => {
    it('lists cards of offline programs that are not active or owe more than the threshold', () => {
      assert.equal(listingReasonOf(card, undefined), undefined, 'a program that sells nothing offline lists nothing');
      assert.equal(listingReasonOf({ ...card, status: 'lost' }, policy), 'lost');
      assert.equal(listingReasonOf({ ...card, balanceMinor: -500 }, policy), undefined, 'at the threshold');
      assert.equal(listingReasonOf({ ...card, balanceMinor: -501 }, policy), 'debt');
      assert.equal(debtMinor({ ...card, balanceMinor: 100, heldMinor: 300 }), 200, 'debt is what the available balance lacks');
      const same = withListing(card, policy);
      assert.equal(same.after, card);
      const listed = withListing({ ...card, status: 'blocked' }, policy);
      assert.deepEqual(
        [listed.change, listed.after.denylisted, listed.after.denylistHistory],
        [{ card: 'c-1', reason: 'blocked' }, 'blocked', true],
      );
      const unlisted = withListing({ ...listed.after, status: 'active' }, policy);
      assert.deepEqual([unlisted.change, unlisted.after.denylisted], [{ card: 'c-1', reason: '' }, undefined]);
    });

    it('tells whether a card was listed at a version, from its history as the commit script writes it', () => {
      const history = parseListingHistory('4:blocked,7:,9:debt');
      assert.deepEqual(
        [3, 4, 6, 7, 8, 9, 20].map((version) => listedAt(history, version)),
        [undefined, 'blocked', 'blocked', undefined, undefined, 'debt', 'debt'],
      );
      assert.equal(
        listedAt(parseListingHistory('12:,15:lost'), 11),
        'unknown',
        'a shortened history whose oldest kept change is a removal',
      );
      assert.deepEqual(parseListingHistory(undefined), []);
    });

    it('makes the merchant carry a sale on a card listed in the denylist the terminal held, and the issuer otherwise', () => {
      const request = (held: number, fields: Partial<MoneyRequest> = {}): MoneyRequest => ({
        kind: 'offline_purchase',
        key: 'o:t-1:1',
        fingerprint: '',
        cardId: 'c-1',
        terminalId: 't-1',
        amountMinor: 500,
        currency: 'EUR',
        source: 'offline',
        operatorId: '',
        originalKey: '',
        offline: { capturedAtMs: at, programId: 'fest', merchantReason: '', held },
        ...fields,
      });
      const program = { ...default_program_config, offline: policy };
      const history = parseListingHistory('5:blocked');
      assert.equal(offlineLiabilityReason(card, request(4), program, history), '');
      assert.equal(offlineLiabilityReason(card, request(5), program, history), 'denylisted');
      assert.equal(offlineLiabilityReason(card, request(4, { currency: 'CHF' }), program, history), 'currency');
      assert.equal(offlineLiabilityReason(card, request(4), default_program_config, history), 'program');
      const overdrawn = apply(card, { type: 'offline_debited', amountMinor: 1_700 });
      assert.deepEqual([overdrawn.balanceMinor, overdrawn.offlineMergedMinor, debtMinor(overdrawn)], [-700, 1_700, 700]);
    });

    it('plans deltas page by page, and a snapshot when the terminal is behind the log or holds a foreign vector', () => {
      const logs = [
        { current: 10, oldest: 5, after: 3 },
        { current: 0, oldest: 0, after: 0 },
        { current: 4, oldest: 1, after: 4 },
      ];
      assert.equal(needsSnapshot([7, 0, 0], logs), false);
      assert.equal(needsSnapshot([3, 0, 0], logs), true, 'changes 4 of shard 0 were trimmed');
      assert.equal(needsSnapshot([4, 0, 0], logs), false, 'the next change (5) is still logged');
      assert.equal(needsSnapshot([11, 0, 0], logs), true, 'a version the shard never had');
      assert.equal(needsSnapshot([7, 0], logs), true);
      assert.equal(needsSnapshot([], logs), true);
      assert.deepEqual(planDeltaPage(logs, 5), [
        { shard: 0, count: 3 },
        { shard: 2, count: 2 },
      ]);
      assert.equal(continues(7, [8, 9, 10]), true);
      assert.equal(continues(7, [9, 10]), false);
      assert.deepEqual(
        [changesBehind([7, 0, 2], [10, 0, 4]), holdsAtLeast([7, 0, 2], [7, 0, 1]), holdsAtLeast([7, 0, 0], [7, 0, 1])],
        [5, true, false],
      );
    });

    it('issues snapshot page tokens it reads back, and refuses any other', () => {
      for (const position of [
        { shard: 3, cursor: '0', startVersion: -1 },
        { shard: 0, cursor: '1234', startVersion: 17 },
      ])
        assert.deepEqual(decodeSnapshotToken(encodeSnapshotToken(position), 8), position);
      for (const token of ['', 's:8:0:x', 's:1:5:x', 'x:1:0:3', 's:1:0:3:4', 's:-1:0:3'])
        assert.equal(decodeSnapshotToken(token, 8), undefined, token);
    });
  });

  describe('signatures', () => {
    it('bind a batch to its terminal key and its bytes, and a counter base to Tapline and its card', () => {
      const terminal = generateKeyPairSync('ed25519');
      const spki = terminal.publicKey.export({ format: 'der', type: 'spki' });
      const stored = normalizePublicKey(spki);
      assert.equal(stored, normalizePublicKey(spki.subarray(12)), 'SPKI DER and raw 32 bytes are the same key');
      assert.equal(normalizePublicKey(Buffer.alloc(31)), undefined);
      const bytes = Buffer.from('batch bytes');
      const signature = sign(null, batchSigningBytes(bytes), terminal.privateKey);
      assert.equal(batchSigned(stored as string, bytes, signature), true);
      assert.equal(batchSigned(stored as string, Buffer.from('batch byteS'), signature), false);
      assert.equal(
        batchSigned(
          normalizePublicKey(generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' })) as string,
          bytes,
          signature,
        ),
        false,
      );
      const tapline = generateKeyPairSync('ed25519');
      const base = sign(null, counterSigningBytes('c-1', 300, at), tapline.privateKey);
      assert.equal(counterSigned(tapline.publicKey, 'c-1', 300, at, base), true);
      assert.equal(counterSigned(tapline.publicKey, 'c-2', 300, at, base), false);
      assert.equal(counterSigned(tapline.publicKey, 'c-1', 0, at, base), false);
      assert.equal(
        batchSigned(stored as string, counterSigningBytes('c-1', 300, at), base),
        false,
        'a counter signature is no batch signature',
      );
      assert.equal(batchDigest(bytes), batchDigest(Buffer.from('batch bytes')));
      assert.equal(shardOf('card', 'c-1', shards) >= 0, true);
    });
  });

  describe('the loss bound', () => {
    it('is theta plus each terminal grant, or with the counter theta plus at most the card maximum', () => {
      const terminals = [
        { totalMaxMinor: 4_000, countMax: 5 },
        { totalMaxMinor: 1_200, countMax: 50 },
        { totalMaxMinor: 100_000, countMax: 1 },
      ];
      assert.deepEqual(
        terminals.map((terminal) => perGrantCardMaxMinor(policy, terminal)),
        [2_500, 1_200, 1_000],
      );
      assert.deepEqual(lossBoundMinor(policy, terminals), { withoutCounter: 500 + 4_700, withCounter: 500 + 2_500, applies: 5_200 });
      assert.equal(lossBoundMinor({ ...policy, cardCounter: true }, terminals).applies, 3_000);
      assert.equal(lossBoundMinor({ ...policy, cardCounter: true }, [terminals[2] as (typeof terminals)[number]]).applies, 1_500);
    });
  });
});
