// Proves the pure rules of open-loop tokens (actors/card/tokens.ts) and the boundary's handling of
// bank cards: a card lists at most 4 bank cards and only while it can pay; the index keeps one card
// per program and at most 8 programs, refusing another card of the same program; a purchase picks
// the named program's card or the one card of its currency, and refuses an ambiguous currency;
// a PAN is checked (12-19 digits, Luhn) and refused without repeating it, and becomes a keyed hash
// that depends on the secret; a PAR is checked for its 29 characters.

import assert from 'node:assert/strict';
import { decideIndexToken, decideLinkToken, pickTokenCard, token_pattern, type TokenRecord } from '../../actors/card/tokens';
import type { CardState } from '../../actors/card/rules';
import { TokenHasher } from '../../services/authorizer/usecases/card-tokens';
import { parseBankCard } from '../../services/authorizer/grpc/validate';
import type { TaplineError } from '../../actors/errors';
import { decideCancelIssuance } from '../../actors/card/issuance-cancel';

const token = (n: number): string => `h:${n.toString(16).padStart(64, '0')}`;

function card(tokens?: readonly string[], status: CardState['status'] = 'active'): CardState {
  return {
    cardId: 'c-1',
    currency: 'EUR',
    programId: 'fest',
    status,
    balanceMinor: 0,
    heldMinor: 0,
    issuedAtMs: 0,
    ...(tokens === undefined ? {} : { tokens }),
  };
}

describe('open-loop tokens: rules', () => {
  it('lists a bank card on a card that can pay, at most 4, idempotently; takes one off whatever the status', () => {
    assert.deepEqual(decideLinkToken(card(), token(1), true), { kind: 'approved', event: { type: 'tokens_changed', tokens: [token(1)] } });
    assert.deepEqual(decideLinkToken(card([token(1)]), token(1), true), { kind: 'unchanged' });
    assert.equal(decideLinkToken(card([token(1), token(2), token(3), token(4)]), token(5), true).kind, 'rejected');
    for (const status of ['closed', 'replaced', 'blocked', 'lost', 'expired'] as const)
      assert.equal(decideLinkToken(card(undefined, status), token(1), true).kind, 'rejected', status);
    assert.equal(decideLinkToken(card(undefined, 'frozen'), token(1), true).kind, 'approved');
    assert.deepEqual(decideLinkToken(card([token(1), token(2)], 'closed'), token(1), false), {
      kind: 'approved',
      event: { type: 'tokens_changed', tokens: [token(2)] },
    });
    assert.deepEqual(decideLinkToken(card(), token(1), false), { kind: 'unchanged' });
    assert.equal(decideLinkToken(undefined, token(1), true).kind, 'rejected');
  });

  it('indexes one card per program, at most 8 programs; removes only its own entry', () => {
    const eur = { program: 'fest-eur', currency: 'EUR', card: 'c-1' };
    const record: TokenRecord = { cards: [eur] };
    assert.deepEqual(decideIndexToken(undefined, eur, true), { kind: 'write', record });
    assert.deepEqual(decideIndexToken(record, eur, true), { kind: 'unchanged' });
    assert.equal(decideIndexToken(record, { ...eur, card: 'c-2' }, true).kind, 'rejected');
    assert.deepEqual(decideIndexToken(record, { program: 'fest-chf', currency: 'CHF', card: 'c-9' }, true), {
      kind: 'write',
      record: { cards: [eur, { program: 'fest-chf', currency: 'CHF', card: 'c-9' }] },
    });
    const full: TokenRecord = { cards: Array.from({ length: 8 }, (_, i) => ({ program: `p-${i}`, currency: 'EUR', card: `c-${i}` })) };
    assert.equal(decideIndexToken(full, { program: 'p-9', currency: 'EUR', card: 'c-9' }, true).kind, 'rejected');
    assert.deepEqual(decideIndexToken(record, { ...eur, card: 'c-2' }, false), { kind: 'unchanged' }, "another card's entry stays");
    assert.deepEqual(decideIndexToken(record, eur, false), { kind: 'write', record: { cards: [] } });
  });

  it("picks the named program's card, else the one card of the payment's currency", () => {
    const record: TokenRecord = {
      cards: [
        { program: 'fest-eur', currency: 'EUR', card: 'c-eur' },
        { program: 'fest-chf', currency: 'CHF', card: 'c-chf' },
      ],
    };
    assert.deepEqual(pickTokenCard(record, '', 'EUR'), { card: 'c-eur' });
    assert.deepEqual(pickTokenCard(record, '', 'CHF'), { card: 'c-chf' });
    assert.deepEqual(pickTokenCard(record, 'fest-chf', 'EUR'), { card: 'c-chf' }, 'a named program wins; its card declines the currency');
    assert.equal((pickTokenCard(record, '', 'GBP') as { code: string }).code, 'not_found');
    assert.equal((pickTokenCard(undefined, '', 'EUR') as { code: string }).code, 'not_found');
    const twoEur: TokenRecord = { cards: [...record.cards, { program: 'other-eur', currency: 'EUR', card: 'c-2' }] };
    assert.equal((pickTokenCard(twoEur, '', 'EUR') as { code: string }).code, 'failed_precondition');
    assert.deepEqual(pickTokenCard(twoEur, 'other-eur', 'EUR'), { card: 'c-2' });
  });
});

describe('open-loop tokens and cancelled issuances', () => {
  it('refuses to put a card a bank card pays from back into stock, and cancels it once the bank card is off', () => {
    const issued = { ...card([token(1)]), unmoved: true as const };
    const refused = decideCancelIssuance(issued, { reason: 'mistake', operatorId: 'ops' }, { holder: undefined }, 1_000);
    assert.equal(refused.kind, 'rejected');
    const cleared = { ...issued, tokens: undefined };
    delete (cleared as { tokens?: unknown }).tokens;
    assert.equal(decideCancelIssuance(cleared, { reason: 'mistake', operatorId: 'ops' }, { holder: undefined }, 1_000).kind, 'cancel');
  });
});

describe('open-loop tokens: bank cards at the boundary', () => {
  it('checks a PAN (12-19 digits, Luhn) and refuses it without repeating it; checks a PAR', () => {
    assert.deepEqual(parseBankCard('bank_card', { id: { $case: 'pan', value: '4111111111111111' } }), { pan: '4111111111111111' });
    for (const bad of ['4111111111111112', '411111111111', '4111 1111 1111 1111', '41111111111111111111', ''])
      assert.throws(
        () => parseBankCard('bank_card', { id: { $case: 'pan', value: bad } }),
        (error: TaplineError) => error.code === 'invalid_argument' && (bad === '' || !error.message.includes(bad.slice(0, 8))),
        bad,
      );
    assert.deepEqual(parseBankCard('bank_card', { id: { $case: 'par', value: 'V0010013816180398153213464128' } }), {
      par: 'V0010013816180398153213464128',
    });
    assert.throws(() => parseBankCard('bank_card', { id: { $case: 'par', value: 'v001' } }));
    assert.throws(() => parseBankCard('bank_card', undefined));
    assert.throws(() => parseBankCard('bank_card', { id: undefined }));
  });

  it('turns a PAN into a keyed hash that depends on the secret and never contains the PAN', () => {
    const a = new TokenHasher('secret-a-0123456789abcdef0123456789');
    const b = new TokenHasher('secret-b-0123456789abcdef0123456789');
    const token_a = a.tokenOfPan('4111111111111111');
    assert.match(token_a, token_pattern);
    assert.equal(token_a, a.tokenOfPan('4111111111111111'));
    assert.notEqual(token_a, b.tokenOfPan('4111111111111111'));
    assert.notEqual(token_a, a.tokenOfPan('5555555555554444'));
    assert.ok(!token_a.includes('4111111111111111'));
  });
});
