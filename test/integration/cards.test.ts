// Proves card management through CardService against a real node, real Redis and real gRPC:
// programs (defined, versioned, read back, audited; invalid ones refused), issuing named and
// anonymous cards with deposit, expiry and PIN (holder data and PIN never in a document, the PIN
// stored only as a keyed hash), idempotent re-issue, bulk issuance with its record (idempotent
// by issuance id), and every audited state transition with its effect on purchases. Every
// invalid request is refused with its precise status and leaves Redis byte-for-byte unchanged.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import { CardStatus, DeclineReason, Outcome } from '../../gen/tapline/v1/types';
import { CardAction, ChangeCardStateResponse, IdDocumentType, type CardServiceIssueCardRequest } from '../../gen/tapline/v1/cards';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { CardClient, programConfig } from '../../tools/client/card-client';
import { startInProcessNode, startTestRedis, test_shard_count, accessTo, testToken } from '../support/harness';
import { shardOf } from '../../actors/sharding/shard-key';
import { connectInspector, type Inspector } from '../support/redis-inspect';

const pin_secret = 'test-pin-secret-0123456789';

function issueRequest(cardId: string, fields: Partial<CardServiceIssueCardRequest> = {}): CardServiceIssueCardRequest {
  return {
    cardId,
    params: { initialBalance: { amountMinor: 5_000n, currency: 'EUR' }, programId: 'fest', deposit: undefined, expiresAtUnixMs: 0n },
    holder: undefined,
    pin: '',
    operatorId: 'ops',
    ...fields,
  };
}

const holder = {
  name: 'Ada Lovelace',
  idDocumentType: IdDocumentType.ID_DOCUMENT_TYPE_PASSPORT,
  idDocumentNumber: 'X1234567',
  phone: '+44 20 7946 0000',
  email: 'ada@example.org',
};

async function refused(call: Promise<unknown>, code: grpc.status): Promise<void> {
  await assert.rejects(call, (error: grpc.ServiceError) => {
    assert.equal(error.code, code, `expected ${grpc.status[code]}, got ${grpc.status[error.code]}: ${error.details}`);
    return true;
  });
}

describe('card management (CardService, real Redis, real gRPC)', function () {
  this.timeout(60_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let cards: CardClient;
  let inspect: Inspector;

  before(async function () {
    redis = await startTestRedis('cards');
    node = await startInProcessNode(redis.url, { TAPLINE_PIN_SECRET: pin_secret });
    client = new TaplineClient(await accessTo(node));
    cards = new CardClient(await accessTo(node));
    inspect = await connectInspector(redis.url);
    await client.registerTerminal('till-1', 'bar');
    await cards.defineProgram('fest', programConfig({ depositMinor: 200n, maxBalanceMinor: 50_000n }));
  });

  after(async function () {
    client?.close();
    cards?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  describe('programs', () => {
    it('defines a program with a version that changes only when the configuration does, and audits each change', async () => {
      const first = await cards.defineProgram('p-versions', programConfig({ pinRequired: true, holdExpiryMs: 3_600_000n }));
      assert.equal(first.version, 1n);
      assert.equal((await cards.defineProgram('p-versions', programConfig({ pinRequired: true, holdExpiryMs: 3_600_000n }))).version, 1n);
      assert.equal((await cards.defineProgram('p-versions', programConfig({ completionToleranceBp: 2_000 }))).version, 2n);
      const read = await cards.getProgram('p-versions');
      assert.equal(read.version, 2n);
      assert.equal(read.config?.completionToleranceBp, 2_000);
      assert.equal(read.config?.pinRequired, false);
      assert.equal(read.config?.holdExpiryMs, 7n * 86_400_000n, 'zero means the default of 7 days');
      assert.equal(read.config?.pinAttemptsMax, 3);
      const audits = (await inspect.outbox()).filter((d) => d['type'] === 'operator_action' && d['subject'] === 'p-versions');
      assert.equal(audits.length, 2);
      // Who acted is the caller's token subject (the request's operator_id is not read).
      assert.equal(audits[0]?.['operator'], 'dev-issuer_admin');
    });

    it('reads a program never defined as version 0 with the defaults', async () => {
      const read = await cards.getProgram('never-defined');
      assert.equal(read.version, 0n);
      assert.equal(read.config?.depositMinor, 0n);
    });

    const bad: [string, () => Promise<unknown>][] = [
      ['an empty program id', () => cards.defineProgram('', programConfig())],
      ['a negative max balance', () => cards.defineProgram('p-bad', programConfig({ maxBalanceMinor: -1n }))],
      ['a tolerance above 100 %', () => cards.defineProgram('p-bad', programConfig({ completionToleranceBp: 10_001 }))],
      ['a hold expiry above 31 days', () => cards.defineProgram('p-bad', programConfig({ holdExpiryMs: 32n * 86_400_000n }))],
      ['a deposit above the max balance', () => cards.defineProgram('p-bad', programConfig({ maxBalanceMinor: 100n, depositMinor: 101n }))],
      ['21 PIN attempts', () => cards.defineProgram('p-bad', programConfig({ pinAttemptsMax: 21 }))],
    ];
    for (const [what, call] of bad) {
      it(`refuses ${what} as INVALID_ARGUMENT, Redis unchanged`, async () => {
        const before = await inspect.snapshot();
        await refused(call(), grpc.status.INVALID_ARGUMENT);
        assert.equal(await inspect.snapshot(), before);
      });
    }
  });

  describe('issuing', () => {
    it('issues a named card with deposit, expiry and PIN; holder and PIN never reach a document', async () => {
      const expiresAt = BigInt(Date.now() + 86_400_000);
      const reply = await cards.issue(
        issueRequest('named-1', {
          holder,
          pin: '4321',
          params: {
            initialBalance: { amountMinor: 5_000n, currency: 'EUR' },
            programId: 'fest',
            deposit: { amountMinor: 300n, currency: 'EUR' },
            expiresAtUnixMs: expiresAt,
          },
        }),
      );
      assert.equal(reply.alreadyExisted, false);
      assert.equal(reply.card?.named, true);
      assert.equal(reply.card?.pinSet, true);
      assert.equal(reply.card?.deposit?.amountMinor, 300n);
      assert.equal(reply.card?.expiresAtUnixMs, expiresAt);
      assert.equal(reply.card?.balance?.amountMinor, 5_000n);
      const snapshot = await inspect.snapshot();
      assert.ok(!snapshot.includes('"4321"') && !snapshot.includes(':4321'), 'the PIN is never stored in clear');
      const documents = await inspect.outbox();
      const outbox = JSON.stringify(documents);
      // Whole values only: a 4-digit fragment of the phone number turns up by chance in timestamps and ids.
      const personal = [
        holder.name,
        'Lovelace',
        holder.idDocumentNumber,
        holder.phone,
        holder.phone.replace(/\D/g, ''),
        '7946 0000',
        '79460000',
        holder.email,
      ];
      for (const value of personal) assert.ok(!outbox.includes(value), `outbox must not hold ${value}`);
      const issued = documents.find((d) => d['type'] === 'card_issued' && d['card'] === 'named-1');
      assert.deepEqual(
        [issued?.['deposit'], issued?.['named'], issued?.['expires_at'], issued?.['amount']],
        [300, true, Number(expiresAt), 5_000],
      );
      const stored = await inspect.client.hGetAll(`tl:{s${shardOf('holder', 'named-1', test_shard_count)}}:holder:named-1`);
      assert.equal((JSON.parse(String(stored['d'])) as { name: string }).name, 'Ada Lovelace');
    });

    it('issues an anonymous card with the program deposit, and answers a repeat as already existing', async () => {
      const first = await cards.issue(issueRequest('anon-1'));
      assert.equal(first.card?.named, false);
      assert.equal(first.card?.deposit?.amountMinor, 200n, "the program's deposit");
      const again = await cards.issue(issueRequest('anon-1'));
      assert.equal(again.alreadyExisted, true);
      const before = await inspect.snapshot();
      await refused(
        cards.issue(
          issueRequest('anon-1', {
            params: {
              initialBalance: { amountMinor: 5_000n, currency: 'EUR' },
              programId: 'fest',
              deposit: { amountMinor: 1n, currency: 'EUR' },
              expiresAtUnixMs: 0n,
            },
          }),
        ),
        grpc.status.ALREADY_EXISTS,
      );
      assert.equal(await inspect.snapshot(), before);
    });

    const invalid: [string, Partial<CardServiceIssueCardRequest>, grpc.status][] = [
      ['a 3-digit PIN', { pin: '123' }, grpc.status.INVALID_ARGUMENT],
      ['a PIN with letters', { pin: '12a4' }, grpc.status.INVALID_ARGUMENT],
      ['a holder without a name', { holder: { ...holder, name: ' ' } }, grpc.status.INVALID_ARGUMENT],
      ['a malformed e-mail', { holder: { ...holder, email: 'ada' } }, grpc.status.INVALID_ARGUMENT],
      ['a document type without number', { holder: { ...holder, idDocumentNumber: '' } }, grpc.status.INVALID_ARGUMENT],
      ['a name with a newline', { holder: { ...holder, name: 'Ada\nLovelace' } }, grpc.status.INVALID_ARGUMENT],
      ['no params', { params: undefined }, grpc.status.INVALID_ARGUMENT],
      [
        'a deposit in another currency',
        {
          params: {
            initialBalance: { amountMinor: 1n, currency: 'EUR' },
            programId: 'fest',
            deposit: { amountMinor: 1n, currency: 'USD' },
            expiresAtUnixMs: 0n,
          },
        },
        grpc.status.INVALID_ARGUMENT,
      ],
      [
        'an expiry in the past',
        { params: { initialBalance: { amountMinor: 1n, currency: 'EUR' }, programId: 'fest', deposit: undefined, expiresAtUnixMs: 1n } },
        grpc.status.INVALID_ARGUMENT,
      ],
      [
        'a balance above the program maximum',
        {
          params: { initialBalance: { amountMinor: 50_001n, currency: 'EUR' }, programId: 'fest', deposit: undefined, expiresAtUnixMs: 0n },
        },
        grpc.status.INVALID_ARGUMENT,
      ],
      [
        'a negative initial balance',
        { params: { initialBalance: { amountMinor: -1n, currency: 'EUR' }, programId: 'fest', deposit: undefined, expiresAtUnixMs: 0n } },
        grpc.status.INVALID_ARGUMENT,
      ],
    ];
    for (const [what, fields, code] of invalid) {
      it(`refuses ${what} as ${grpc.status[code]}, Redis unchanged`, async () => {
        const before = await inspect.snapshot();
        await refused(cards.issue(issueRequest('invalid-card', fields)), code);
        assert.equal(await inspect.snapshot(), before);
      });
    }
  });

  describe('bulk issuance', () => {
    const ids = Array.from({ length: 2_000 }, (_, i) => `band-${i}`);
    const params = { initialBalance: { amountMinor: 0n, currency: 'EUR' }, programId: 'fest', deposit: undefined, expiresAtUnixMs: 0n };

    it('issues 2,000 wristbands at once, records the issuance, and issues nothing twice on a retry', async () => {
      const first = await cards.bulkIssue({ issuanceId: 'box-1', cardIds: ids, params, operatorId: 'ops' });
      assert.deepEqual([first.issued, first.alreadyExisted], [2_000, 0]);
      const card = await cards.getCard('band-1999');
      assert.equal(card.card?.issuanceId, 'box-1');
      assert.equal(card.card?.deposit?.amountMinor, 200n);
      const issuedDocs = (await inspect.outbox()).filter((d) => d['type'] === 'card_issued' && d['issuance'] === 'box-1');
      assert.equal(issuedDocs.length, 2_000);
      const retry = await cards.bulkIssue({ issuanceId: 'box-1', cardIds: ids, params, operatorId: 'ops' });
      assert.deepEqual([retry.issued, retry.alreadyExisted], [0, 2_000]);
      assert.equal((await inspect.outbox()).filter((d) => d['type'] === 'card_issued' && d['issuance'] === 'box-1').length, 2_000);
      assert.equal((await inspect.outbox()).filter((d) => d['action'] === 'cards_bulk_issued' && d['subject'] === 'box-1').length, 1);
    });

    it('refuses the issuance id with other cards as ALREADY_EXISTS, and duplicate or too many ids as INVALID_ARGUMENT, Redis unchanged', async () => {
      const before = await inspect.snapshot();
      await refused(cards.bulkIssue({ issuanceId: 'box-1', cardIds: ['other-1'], params, operatorId: 'ops' }), grpc.status.ALREADY_EXISTS);
      await refused(
        cards.bulkIssue({ issuanceId: 'box-2', cardIds: ['x-1', 'x-1'], params, operatorId: 'ops' }),
        grpc.status.INVALID_ARGUMENT,
      );
      await refused(cards.bulkIssue({ issuanceId: 'box-2', cardIds: [], params, operatorId: 'ops' }), grpc.status.INVALID_ARGUMENT);
      await refused(
        cards.bulkIssue({ issuanceId: 'box-2', cardIds: Array.from({ length: 10_001 }, (_, i) => `y-${i}`), params, operatorId: 'ops' }),
        grpc.status.INVALID_ARGUMENT,
      );
      await refused(cards.bulkIssue({ issuanceId: 'box 2', cardIds: ['x-1'], params, operatorId: 'ops' }), grpc.status.INVALID_ARGUMENT);
      assert.equal(await inspect.snapshot(), before);
    });
  });

  describe('state transitions', () => {
    let txn = 1;
    const buy = (cardId: string): ReturnType<TaplineClient['authorize']> => client.authorize(purchase('till-1', txn++, cardId, 10));
    const change = (cardId: string, action: CardAction, approverId = ''): ReturnType<CardClient['changeState']> =>
      cards.changeState({ cardId, action, reason: 'test reason', operatorId: 'op-1', approverId });

    it('freeze and unfreeze: purchases declined while frozen, audited with operator, reason and previous status', async () => {
      await cards.issue(issueRequest('t-freeze'));
      const frozen = await change('t-freeze', CardAction.CARD_ACTION_FREEZE);
      assert.deepEqual([frozen.status, frozen.previous], [CardStatus.CARD_STATUS_FROZEN, CardStatus.CARD_STATUS_ACTIVE]);
      assert.equal((await buy('t-freeze')).declineReason, DeclineReason.DECLINE_REASON_CARD_FROZEN);
      await change('t-freeze', CardAction.CARD_ACTION_UNFREEZE);
      assert.equal((await buy('t-freeze')).outcome, Outcome.OUTCOME_APPROVED);
      const audit = (await inspect.outbox()).filter((d) => d['type'] === 'card_status_changed' && d['card'] === 't-freeze');
      assert.deepEqual(
        audit.map((d) => [d['action'], d['status'], d['previous'], d['operator'], d['reason']]),
        [
          ['freeze', 'frozen', 'active', 'dev-issuer_admin', 'test reason'],
          ['unfreeze', 'active', 'frozen', 'dev-issuer_admin', 'test reason'],
        ],
      );
    });

    it('reports a named card lost (then declined), refuses it for an anonymous card', async () => {
      await cards.issue(issueRequest('t-lost', { holder }));
      await change('t-lost', CardAction.CARD_ACTION_REPORT_LOST);
      assert.equal((await buy('t-lost')).declineReason, DeclineReason.DECLINE_REASON_CARD_BLOCKED);
      await cards.issue(issueRequest('t-anon'));
      const before = await inspect.snapshot();
      await refused(change('t-anon', CardAction.CARD_ACTION_REPORT_LOST), grpc.status.FAILED_PRECONDITION);
      await refused(change('t-lost', CardAction.CARD_ACTION_UNFREEZE), grpc.status.FAILED_PRECONDITION);
      assert.equal(await inspect.snapshot(), before);
    });

    it('blocks, and unblocks only when a second principal with the approver role approves it (four eyes)', async () => {
      await cards.issue(issueRequest('t-block'));
      await change('t-block', CardAction.CARD_ACTION_BLOCK);
      assert.equal((await buy('t-block')).declineReason, DeclineReason.DECLINE_REASON_CARD_BLOCKED);
      // The unblock is held: nothing changes on the card (a self-declared approver_id is not read).
      const held = await change('t-block', CardAction.CARD_ACTION_UNBLOCK, 'supervisor-7');
      assert.match(held.pendingApprovalId, /^[0-9a-f-]{36}$/);
      assert.equal((await buy('t-block')).declineReason, DeclineReason.DECLINE_REASON_CARD_BLOCKED);
      // The requester itself, even holding the approver role, cannot approve it; nothing changes.
      const before = await inspect.snapshot();
      const self = new CardClient(await accessTo(node, { overrides: { token: () => testToken('approver', ['*'], 'dev-issuer_admin') } }));
      try {
        await refused(self.approve(held.pendingApprovalId), grpc.status.PERMISSION_DENIED);
      } finally {
        self.close();
      }
      assert.equal(await inspect.snapshot(), before);
      const approved = await cards.approve(held.pendingApprovalId);
      assert.equal(ChangeCardStateResponse.decode(approved.response).status, CardStatus.CARD_STATUS_ACTIVE);
      assert.equal((await buy('t-block')).outcome, Outcome.OUTCOME_APPROVED);
      await refused(cards.approve(held.pendingApprovalId), grpc.status.FAILED_PRECONDITION);
      const unblock = (await inspect.outbox()).find((d) => d['card'] === 't-block' && d['action'] === 'unblock');
      assert.deepEqual([unblock?.['operator'], unblock?.['approver']], ['dev-issuer_admin', 'dev-approver']);
    });

    it('expires a card: purchases declined CARD_EXPIRED', async () => {
      await cards.issue(issueRequest('t-expire'));
      await change('t-expire', CardAction.CARD_ACTION_EXPIRE);
      assert.equal((await buy('t-expire')).declineReason, DeclineReason.DECLINE_REASON_CARD_EXPIRED);
      assert.equal((await cards.getCard('t-expire')).card?.status, CardStatus.CARD_STATUS_EXPIRED);
    });

    it('AdminService.SetCardStatus goes through the transition table: no dead card comes back, no unblock without approval', async () => {
      await cards.issue(issueRequest('s-lost', { holder }));
      await change('s-lost', CardAction.CARD_ACTION_REPORT_LOST);
      await cards.issue(issueRequest('s-expired'));
      await change('s-expired', CardAction.CARD_ACTION_EXPIRE);
      await cards.issue(issueRequest('s-replaced'));
      await cards.replace('s-replaced', 's-replacement');
      await cards.issue(issueRequest('s-closed'));
      await cards.returnCard('s-closed', 'return-s-closed');
      await cards.issue(issueRequest('s-blocked'));
      await change('s-blocked', CardAction.CARD_ACTION_BLOCK);
      const before = await inspect.snapshot();
      for (const cardId of ['s-lost', 's-expired', 's-replaced', 's-closed'])
        await refused(client.setCardStatus(cardId, CardStatus.CARD_STATUS_ACTIVE), grpc.status.FAILED_PRECONDITION);
      await refused(client.setCardStatus('s-lost', CardStatus.CARD_STATUS_FROZEN), grpc.status.FAILED_PRECONDITION);
      await refused(client.setCardStatus('s-closed', CardStatus.CARD_STATUS_BLOCKED), grpc.status.FAILED_PRECONDITION);
      // Unblocking is the approval path's (ChangeCardState with a second person), never a status set.
      await refused(client.setCardStatus('s-blocked', CardStatus.CARD_STATUS_ACTIVE), grpc.status.PERMISSION_DENIED);
      assert.equal(await inspect.snapshot(), before, 'nothing was written');
      for (const cardId of ['s-lost', 's-expired', 's-blocked'])
        assert.equal((await buy(cardId)).outcome, Outcome.OUTCOME_DECLINED, `${cardId} still declines`);
      // What the table allows still works, audited with the action it took.
      await cards.issue(issueRequest('s-ok'));
      assert.equal((await client.setCardStatus('s-ok', CardStatus.CARD_STATUS_FROZEN)).status, CardStatus.CARD_STATUS_FROZEN);
      assert.equal((await client.setCardStatus('s-ok', CardStatus.CARD_STATUS_ACTIVE)).status, CardStatus.CARD_STATUS_ACTIVE);
      assert.equal((await client.setCardStatus('s-ok', CardStatus.CARD_STATUS_ACTIVE)).status, CardStatus.CARD_STATUS_ACTIVE);
      assert.equal((await client.setCardStatus('s-lost', CardStatus.CARD_STATUS_BLOCKED)).status, CardStatus.CARD_STATUS_BLOCKED);
      const audit = (await inspect.outbox()).filter((d) => d['type'] === 'card_status_changed' && d['card'] === 's-ok');
      assert.deepEqual(
        audit.map((d) => [d['action'], d['status'], d['previous']]),
        [
          ['freeze', 'frozen', 'active'],
          ['unfreeze', 'active', 'frozen'],
        ],
      );
    });

    it('refuses an unknown card, an unknown action, a missing reason, Redis unchanged', async () => {
      const before = await inspect.snapshot();
      await refused(change('no-such-card', CardAction.CARD_ACTION_FREEZE), grpc.status.NOT_FOUND);
      await refused(change('t-freeze', CardAction.CARD_ACTION_UNSPECIFIED), grpc.status.INVALID_ARGUMENT);
      await refused(
        cards.changeState({ cardId: 't-freeze', action: CardAction.CARD_ACTION_FREEZE, reason: '', operatorId: 'op', approverId: '' }),
        grpc.status.INVALID_ARGUMENT,
      );

      await refused(cards.getCard('no-such-card'), grpc.status.NOT_FOUND);
      assert.equal(await inspect.snapshot(), before);
    });
  });
});
