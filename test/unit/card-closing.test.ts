// Proves the pure rules of how a card ends and of on-tab accounts: which statuses can be replaced
// or returned, that open holds block both, that the replacement carries money and terms and links
// both cards, that apply() empties the old card and closes or replaces it, that a return of a card
// owing on its tab is declined, and the tab limit / settlement rules (named only, never below the
// debt, never settle more than owed).

import assert from 'node:assert/strict';
import { decideCashOut, decideReplace, replacementState } from '../../actors/card/closing';
import {
  apply,
  availableMinor,
  balanceDeltaMinor,
  decide,
  type CardDecision,
  type CardProfile,
  type CardState,
  type CardStatus,
} from '../../actors/card/rules';

const now_ms = 1_700_000_000_000;
const profile: CardProfile = { named: true, depositMinor: 300, expiresAtMs: 0, pinHash: 'h', pinFailures: 0, issuance: 'box' };

function card(overrides: Partial<CardState> = {}): CardState {
  return {
    cardId: 'old',
    currency: 'EUR',
    programId: 'p',
    status: 'active',
    balanceMinor: 2_000,
    heldMinor: 0,
    issuedAtMs: 0,
    profile,
    ...overrides,
  };
}

function event(decision: CardDecision): Extract<CardDecision, { kind: 'approved' }>['event'] {
  assert.equal(decision.kind, 'approved', JSON.stringify(decision));
  return decision.event;
}

describe('card replacement rules', () => {
  it('replaces active, frozen and lost cards; refuses blocked, expired, closed and replaced ones, itself, and open holds', () => {
    for (const status of ['active', 'frozen', 'lost'] as CardStatus[])
      assert.equal(decideReplace(card({ status }), 'new', now_ms).kind, 'approved', status);
    for (const status of ['blocked', 'expired', 'closed', 'replaced'] as CardStatus[]) {
      const decision = decideReplace(card({ status }), 'new', now_ms);
      assert.equal(decision.kind === 'rejected' && decision.code, 'failed_precondition', status);
    }
    assert.equal(decideReplace(card(), 'old', now_ms).kind, 'rejected');
    const held = card({ heldMinor: 100, holds: { h: { amountMinor: 100, expiresAtMs: now_ms + 1 } } });
    assert.equal(decideReplace(held, 'new', now_ms).kind, 'rejected');
  });

  it('empties the old card and links it; the new card carries balance, deposit and terms but no PIN', () => {
    const old = card();
    const replaced = apply(old, event(decideReplace(old, 'new', now_ms)));
    assert.deepEqual(
      [replaced.status, replaced.balanceMinor, replaced.profile?.depositMinor, replaced.profile?.replacedBy],
      ['replaced', 0, 0, 'new'],
    );
    const fresh = replacementState(old, 'new', now_ms);
    assert.deepEqual(
      [
        fresh.cardId,
        fresh.balanceMinor,
        fresh.profile?.depositMinor,
        fresh.profile?.named,
        fresh.profile?.pinHash,
        fresh.profile?.replaces,
      ],
      ['new', 2_000, 300, true, '', 'old'],
    );
    assert.equal(balanceDeltaMinor(event(decideReplace(old, 'new', now_ms))), -2_000);
  });
});

describe('return / cash-out rules', () => {
  it('pays out balance and deposit of active, frozen, expired and lost cards, then the card is closed and empty', () => {
    for (const status of ['active', 'frozen', 'expired', 'lost'] as CardStatus[]) {
      const decided = event(decideCashOut(card({ status }), now_ms));
      assert.deepEqual(decided, { type: 'cashed_out', balanceMinor: 2_000, depositMinor: 300 }, status);
      const after = apply(card({ status }), decided);
      assert.deepEqual([after.status, after.balanceMinor, after.profile?.depositMinor], ['closed', 0, 0]);
    }
  });

  it('declines blocked (card_blocked), closed or replaced (card_closed), open holds and an owing tab', () => {
    assert.equal((decideCashOut(card({ status: 'blocked' }), now_ms) as { reason: string }).reason, 'card_blocked');
    assert.equal((decideCashOut(card({ status: 'closed' }), now_ms) as { reason: string }).reason, 'card_closed');
    assert.equal((decideCashOut(card({ status: 'replaced' }), now_ms) as { reason: string }).reason, 'card_closed');
    assert.equal(
      (decideCashOut(card({ heldMinor: 1, holds: { h: { amountMinor: 1, expiresAtMs: now_ms + 1 } } }), now_ms) as { rule: string }).rule,
      'open_holds',
    );
    assert.equal(
      (decideCashOut(card({ balanceMinor: -5, profile: { ...profile, tabLimitMinor: 100 } }), now_ms) as { rule: string }).rule,
      'tab_open',
    );
  });
});

describe('on-tab account rules', () => {
  it('spends on credit down to -limit and no further', () => {
    const tab = card({ balanceMinor: 0, profile: { ...profile, tabLimitMinor: 1_000 } });
    assert.equal(availableMinor(tab), 1_000);
    assert.equal(decide(tab, { type: 'purchase', amountMinor: 1_000, currency: 'EUR' }).kind, 'approved');
    assert.deepEqual(decide(tab, { type: 'purchase', amountMinor: 1_001, currency: 'EUR' }), {
      kind: 'declined',
      reason: 'insufficient_funds',
      rule: 'balance',
    });
    assert.equal(apply(tab, event(decide(tab, { type: 'purchase', amountMinor: 1_000, currency: 'EUR' }))).balanceMinor, -1_000);
  });

  it('gives a tab to named cards only, never a limit below the debt; 0 closes the tab', () => {
    assert.equal(decide(card({ profile: { ...profile, named: false } }), { type: 'set_tab_limit', limitMinor: 10 }).kind, 'rejected');
    const owing = card({ balanceMinor: -500, profile: { ...profile, tabLimitMinor: 1_000 } });
    assert.equal(decide(owing, { type: 'set_tab_limit', limitMinor: 499 }).kind, 'rejected');
    assert.equal(decide(owing, { type: 'set_tab_limit', limitMinor: 500 }).kind, 'approved');
    const closed = apply(card(), event(decide(card(), { type: 'set_tab_limit', limitMinor: 0 })));
    assert.equal(closed.profile?.tabLimitMinor, undefined);
  });

  it('settles up to the debt and never more', () => {
    const owing = card({ balanceMinor: -500, profile: { ...profile, tabLimitMinor: 1_000 } });
    assert.deepEqual(decide(owing, { type: 'settle_tab', amountMinor: 500, currency: 'EUR' }), {
      kind: 'approved',
      event: { type: 'credited', amountMinor: 500 },
    });
    assert.deepEqual(decide(owing, { type: 'settle_tab', amountMinor: 501, currency: 'EUR' }), {
      kind: 'declined',
      reason: 'settlement_exceeds_debt',
      rule: 'tab_debt',
    });
    assert.equal(
      (decide(owing, { type: 'settle_tab', amountMinor: 1, currency: 'USD' }) as { reason: string }).reason,
      'currency_mismatch',
    );
  });
});
