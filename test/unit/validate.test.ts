// Proves the gRPC input boundary (services/authorizer/grpc/validate.ts): parseAuthorize,
// parseTopUp and parseReverse turn good wire requests into domain requests with the idempotency
// key "t:<terminal>:<n>" or "k:<client key>" and a fingerprint that changes with the amount and
// the card but not with the key; and they refuse each bad input with the exact TaplineError code
// the gRPC status mapping relies on: 'invalid_argument' for malformed fields (ids, transaction
// numbers, amounts, currencies, line items, key forms, self-reversal) and 'unimplemented' for
// contract features this version does not serve (non-purchase kinds, offline uploads). Requests
// are built with the generated ts-proto types, int64 fields as bigint, and one is sent through
// the protobuf encoder and decoder to show wire values validate like in-memory ones.

import assert from 'node:assert/strict';
import { TaplineError, type ErrorCode } from '../../actors/errors';
import { parseAuthorize, parseReverse, parseTopUp } from '../../services/authorizer/grpc/validate';
import { AuthorizeRequest, ReverseRequest, TopUpRequest, TopUpSource, type DeepPartial } from '../../gen/tapline/v1/authorization';
import { AuthorizationKind } from '../../gen/tapline/v1/types';

const id_64 = 'a'.repeat(64);
const id_65 = 'a'.repeat(65);
const int64_max = (1n << 63n) - 1n;

function authorize(fields: DeepPartial<AuthorizeRequest> = {}): AuthorizeRequest {
  return AuthorizeRequest.create({
    terminalId: 'till-1',
    terminalTxnNumber: 42n,
    cardId: 'card-1',
    amount: { amountMinor: 1_250n, currency: 'EUR' },
    ...fields,
  });
}

function topUpByTerminal(fields: DeepPartial<TopUpRequest> = {}): TopUpRequest {
  return TopUpRequest.create({
    terminalId: 'till-1',
    terminalTxnNumber: 7n,
    cardId: 'card-1',
    amount: { amountMinor: 5_000n, currency: 'EUR' },
    source: TopUpSource.TOP_UP_SOURCE_CASH,
    ...fields,
  });
}

function topUpByKey(fields: DeepPartial<TopUpRequest> = {}): TopUpRequest {
  return TopUpRequest.create({
    idempotencyKey: 'psp:ref-123',
    cardId: 'card-1',
    amount: { amountMinor: 5_000n, currency: 'EUR' },
    source: TopUpSource.TOP_UP_SOURCE_PSP,
    ...fields,
  });
}

function reverse(fields: DeepPartial<ReverseRequest> = {}): ReverseRequest {
  return ReverseRequest.create({
    terminalId: 'till-1',
    terminalTxnNumber: 43n,
    cardId: 'card-1',
    original: { ref: { $case: 'terminalTxn', value: { terminalId: 'till-1', txnNumber: 42n } } },
    ...fields,
  });
}

/** Runs `parse` and requires a TaplineError with exactly `code`. */
function assertRefused(parse: () => unknown, code: ErrorCode, what: string, message?: RegExp): void {
  assert.throws(
    parse,
    (error: unknown) => {
      assert.ok(error instanceof TaplineError, `${what}: expected a TaplineError, got ${String(error)}`);
      assert.equal(error.code, code, `${what}: expected code ${code}, got ${error.code} (${error.message})`);
      if (message) assert.match(error.message, message, what);
      return true;
    },
    `${what}: expected a refusal with code ${code}, but it was accepted`,
  );
}

describe('validate: parseAuthorize accepts', () => {
  it('a purchase, keyed t:<terminal>:<n>, with every domain field set', () => {
    const parsed = parseAuthorize(authorize());
    const { fingerprint, ...rest } = parsed;
    assert.deepEqual(rest, {
      kind: 'purchase',
      key: 't:till-1:42',
      cardId: 'card-1',
      terminalId: 'till-1',
      amountMinor: 1_250,
      currency: 'EUR',
      source: '',
      operatorId: '',
      originalKey: '',
    });
    assert.equal(typeof fingerprint, 'string');
    assert.notEqual(fingerprint, '');
  });

  it('the same fingerprint for a retry and for another key, a different one for another amount or card', () => {
    const base = parseAuthorize(authorize()).fingerprint;
    assert.equal(parseAuthorize(authorize()).fingerprint, base, 'a retry');
    assert.equal(parseAuthorize(authorize({ terminalTxnNumber: 99n })).fingerprint, base, 'the key is not part of the fingerprint');
    assert.notEqual(parseAuthorize(authorize({ amount: { amountMinor: 1_251n, currency: 'EUR' } })).fingerprint, base, 'another amount');
    assert.notEqual(parseAuthorize(authorize({ cardId: 'card-2' })).fingerprint, base, 'another card');
    assert.notEqual(parseAuthorize(authorize({ amount: { amountMinor: 1_250n, currency: 'USD' } })).fingerprint, base, 'another currency');
  });

  it('kind UNSPECIFIED and PURCHASE alike', () => {
    const unspecified = parseAuthorize(authorize({ kind: AuthorizationKind.AUTHORIZATION_KIND_UNSPECIFIED }));
    const purchase = parseAuthorize(authorize({ kind: AuthorizationKind.AUTHORIZATION_KIND_PURCHASE }));
    assert.deepEqual(purchase, unspecified);
  });

  it('the edges: 64-character ids of every allowed character, txn 1 and 2^63-1, amount 1 and 10^12', () => {
    assert.equal(parseAuthorize(authorize({ terminalId: id_64 })).key, `t:${id_64}:42`);
    assert.equal(parseAuthorize(authorize({ cardId: 'Card_9.x-Z' })).cardId, 'Card_9.x-Z');
    assert.equal(parseAuthorize(authorize({ terminalTxnNumber: 1n })).key, 't:till-1:1');
    assert.equal(parseAuthorize(authorize({ terminalTxnNumber: int64_max })).key, 't:till-1:9223372036854775807');
    assert.equal(parseAuthorize(authorize({ amount: { amountMinor: 1n, currency: 'EUR' } })).amountMinor, 1);
    assert.equal(parseAuthorize(authorize({ amount: { amountMinor: 10n ** 12n, currency: 'JPY' } })).amountMinor, 1_000_000_000_000);
  });

  it('line items that add up to the amount, including zero-amount lines', () => {
    const lineItems = [
      { productCode: 'BEER', amountMinor: 900n },
      { productCode: 'CUP-DEPOSIT', amountMinor: 350n },
      { productCode: 'NAPKIN', amountMinor: 0n },
    ];
    assert.equal(parseAuthorize(authorize({ lineItems })).amountMinor, 1_250);
  });

  it('a request that went through the protobuf encoder and decoder', () => {
    const wire = AuthorizeRequest.encode(authorize({ terminalTxnNumber: int64_max })).finish();
    const decoded = AuthorizeRequest.decode(wire);
    assert.equal(decoded.terminalTxnNumber, int64_max);
    assert.deepEqual(parseAuthorize(decoded), parseAuthorize(authorize({ terminalTxnNumber: int64_max })));
  });
});

describe('validate: parseAuthorize refuses', () => {
  const invalid: readonly [string, DeepPartial<AuthorizeRequest>][] = [
    ['empty terminal_id', { terminalId: '' }],
    ['empty card_id', { cardId: '' }],
    ['65-character terminal_id', { terminalId: id_65 }],
    ['65-character card_id', { cardId: id_65 }],
    ['terminal_id with a space', { terminalId: 'till 1' }],
    ['card_id with a space', { cardId: 'card 1' }],
    ['terminal_id with a colon', { terminalId: 'till:1' }],
    ['card_id with a colon', { cardId: 'card:1' }],
    ['card_id with a slash', { cardId: 'card/1' }],
    ['card_id with a non-ASCII letter', { cardId: 'kärtchen' }],
    ['txn number 0', { terminalTxnNumber: 0n }],
    ['negative txn number', { terminalTxnNumber: -1n }],
    ['txn number 2^63', { terminalTxnNumber: 1n << 63n }],
    ['missing amount', { amount: undefined }],
    ['amount 0', { amount: { amountMinor: 0n, currency: 'EUR' } }],
    ['negative amount', { amount: { amountMinor: -5n, currency: 'EUR' } }],
    ['amount 10^12+1', { amount: { amountMinor: 10n ** 12n + 1n, currency: 'EUR' } }],
    ['amount past the stored bound', { amount: { amountMinor: 10n ** 15n + 1n, currency: 'EUR' } }],
    ['amount int64 max', { amount: { amountMinor: int64_max, currency: 'EUR' } }],
    ['unknown currency XXX', { amount: { amountMinor: 100n, currency: 'XXX' } }],
    ['lower-case currency eur', { amount: { amountMinor: 100n, currency: 'eur' } }],
    ['empty currency', { amount: { amountMinor: 100n, currency: '' } }],
    ['line items adding up to less', { lineItems: [{ productCode: 'BEER', amountMinor: 1_249n }] }],
    [
      'line items adding up to more',
      {
        lineItems: [
          { productCode: 'BEER', amountMinor: 900n },
          { productCode: 'FRIES', amountMinor: 351n },
        ],
      },
    ],
    [
      'a negative line item',
      {
        lineItems: [
          { productCode: 'BEER', amountMinor: 1_300n },
          { productCode: 'DISCOUNT', amountMinor: -50n },
        ],
      },
    ],
    ['a line item without a product code', { lineItems: [{ productCode: '', amountMinor: 1_250n }] }],
    [
      '201 line items',
      {
        amount: { amountMinor: 201n, currency: 'EUR' },
        lineItems: Array.from({ length: 201 }, () => ({ productCode: 'X', amountMinor: 1n })),
      },
    ],
    ['an original reference on a purchase', { original: { ref: { $case: 'idempotencyKey', value: 'abc' } } }],
    ['an authorization kind outside the enum', { kind: 99 as AuthorizationKind }],
    ['the UNRECOGNIZED authorization kind', { kind: AuthorizationKind.UNRECOGNIZED }],
  ];
  for (const [what, fields] of invalid) {
    it(`${what} as invalid_argument`, () => assertRefused(() => parseAuthorize(authorize(fields)), 'invalid_argument', what));
  }

  const unserved = [AuthorizationKind.AUTHORIZATION_KIND_REFUND];
  for (const kind of unserved) {
    it(`kind ${AuthorizationKind[kind]} as unimplemented`, () => {
      assertRefused(() => parseAuthorize(authorize({ kind })), 'unimplemented', AuthorizationKind[kind] ?? String(kind));
    });
  }

  for (const kind of [AuthorizationKind.AUTHORIZATION_KIND_INCREMENTAL, AuthorizationKind.AUTHORIZATION_KIND_COMPLETION]) {
    it(`kind ${AuthorizationKind[kind]} without original, or referring to itself, as invalid_argument`, () => {
      assertRefused(() => parseAuthorize(authorize({ kind })), 'invalid_argument', 'no original', /original/);
      const self = { ref: { $case: 'terminalTxn' as const, value: { terminalId: 'pos-1', txnNumber: 1_000n } } };
      const request = authorize({ kind, original: self });
      assertRefused(
        () => parseAuthorize({ ...request, terminalId: 'pos-1', terminalTxnNumber: 1_000n }),
        'invalid_argument',
        'self',
        /original/,
      );
    });
  }

  it('a pre-authorization with an original as invalid_argument', () => {
    assertRefused(
      () =>
        parseAuthorize(
          authorize({
            kind: AuthorizationKind.AUTHORIZATION_KIND_PRE_AUTHORIZATION,
            original: { ref: { $case: 'idempotencyKey', value: 'abc' } },
          }),
        ),
      'invalid_argument',
      'original',
    );
  });

  it('parses the hold kinds: pre-authorization keyed by its own terminal transaction, completion naming its hold', () => {
    const pre = parseAuthorize(authorize({ kind: AuthorizationKind.AUTHORIZATION_KIND_PRE_AUTHORIZATION }));
    assert.equal(pre.kind, 'pre_authorization');
    assert.equal(pre.originalKey, '');
    const completion = parseAuthorize(
      authorize({
        kind: AuthorizationKind.AUTHORIZATION_KIND_COMPLETION,
        original: { ref: { $case: 'terminalTxn', value: { terminalId: 'pos-9', txnNumber: 7n } } },
      }),
    );
    assert.equal(completion.kind, 'completion');
    assert.equal(completion.originalKey, 't:pos-9:7');
    assert.notEqual(completion.fingerprint, pre.fingerprint);
  });

  it('an offline upload as unimplemented', () => {
    assertRefused(
      () => parseAuthorize(authorize({ offline: { capturedAtUnixMs: 1_700_000_000_000n, approvedOffline: true } })),
      'unimplemented',
      'offline',
    );
  });

  it('names the offending field in the message', () => {
    assertRefused(() => parseAuthorize(authorize({ cardId: '' })), 'invalid_argument', 'card_id', /card_id/);
    assertRefused(() => parseAuthorize(authorize({ terminalTxnNumber: 0n })), 'invalid_argument', 'txn', /terminal_txn_number/);
    assertRefused(
      () => parseAuthorize(authorize({ amount: { amountMinor: 0n, currency: 'EUR' } })),
      'invalid_argument',
      'amount',
      /amount/,
    );
  });

  it('an UNRECOGNIZED kind that arrived over the wire as invalid_argument', () => {
    const decoded = AuthorizeRequest.decode(AuthorizeRequest.encode(authorize({ kind: AuthorizationKind.UNRECOGNIZED })).finish());
    assert.equal(decoded.kind, -1);
    assertRefused(() => parseAuthorize(decoded), 'invalid_argument', 'wire kind -1');
  });
});

describe('validate: parseTopUp', () => {
  it("accepts a cash top-up at a till, keyed t:<terminal>:<n>; the request's operator_id is not who acted", () => {
    const { fingerprint, ...rest } = parseTopUp(topUpByTerminal({ operatorId: 'cashier-3' }));
    assert.deepEqual(rest, {
      kind: 'top_up',
      key: 't:till-1:7',
      cardId: 'card-1',
      terminalId: 'till-1',
      amountMinor: 5_000,
      currency: 'EUR',
      source: 'cash',
      operatorId: '',
      originalKey: '',
    });
    assert.notEqual(fingerprint, '');
  });

  it('maps the sources a till has (cash, a card payment through a PSP)', () => {
    const sources: readonly [TopUpSource, string][] = [
      [TopUpSource.TOP_UP_SOURCE_CASH, 'cash'],
      [TopUpSource.TOP_UP_SOURCE_PSP, 'psp'],
    ];
    for (const [source, name] of sources) assert.equal(parseTopUp(topUpByTerminal({ source })).source, name);
  });

  it('gives a different fingerprint for another amount, card or source', () => {
    const base = parseTopUp(topUpByTerminal()).fingerprint;
    assert.notEqual(parseTopUp(topUpByTerminal({ amount: { amountMinor: 5_001n, currency: 'EUR' } })).fingerprint, base);
    assert.notEqual(parseTopUp(topUpByTerminal({ cardId: 'card-2' })).fingerprint, base);
    assert.notEqual(parseTopUp(topUpByTerminal({ source: TopUpSource.TOP_UP_SOURCE_PSP })).fingerprint, base);
  });

  // Credits without a terminal, and sources no till has, belong to the operator API and the PSP callback.
  const not_a_tills: readonly [string, TopUpRequest][] = [
    ['a top-up keyed by a client key (PSP)', topUpByKey()],
    ['a top-up keyed by a client key (ADMIN)', topUpByKey({ source: TopUpSource.TOP_UP_SOURCE_ADMIN })],
    ['both key forms', topUpByTerminal({ idempotencyKey: 'psp-1' })],
    ['a txn number with an idempotency key', topUpByKey({ terminalTxnNumber: 5n })],
    ['an idempotency key with a space', topUpByKey({ idempotencyKey: 'psp ref' })],
    ['source ADMIN at a till', topUpByTerminal({ source: TopUpSource.TOP_UP_SOURCE_ADMIN })],
    ['source AUTO_RELOAD at a till', topUpByTerminal({ source: TopUpSource.TOP_UP_SOURCE_AUTO_RELOAD })],
  ];
  for (const [what, wire] of not_a_tills) {
    it(`refuses ${what} as permission_denied`, () => assertRefused(() => parseTopUp(wire), 'permission_denied', what));
  }

  const invalid: readonly [string, TopUpRequest][] = [
    ['no key at all', topUpByKey({ idempotencyKey: '' })],
    ['a terminal id without a txn number', topUpByKey({ idempotencyKey: '', terminalId: 'till-1' })],
    ['a txn number without a terminal id', topUpByKey({ idempotencyKey: '', terminalTxnNumber: 5n })],
    ['txn number 2^63', topUpByTerminal({ terminalTxnNumber: 1n << 63n })],
    ['a terminal id with a colon', topUpByTerminal({ terminalId: 'till:1' })],
    ['an empty card id', topUpByTerminal({ cardId: '' })],
    ['a 65-character card id', topUpByTerminal({ cardId: id_65 })],
    ['source UNSPECIFIED', topUpByTerminal({ source: TopUpSource.TOP_UP_SOURCE_UNSPECIFIED })],
    ['source outside the enum', topUpByTerminal({ source: 42 as TopUpSource })],
    ['a missing amount', topUpByTerminal({ amount: undefined })],
    ['amount 0', topUpByTerminal({ amount: { amountMinor: 0n, currency: 'EUR' } })],
    ['a negative amount', topUpByTerminal({ amount: { amountMinor: -1n, currency: 'EUR' } })],
    ['amount 10^12+1', topUpByTerminal({ amount: { amountMinor: 10n ** 12n + 1n, currency: 'EUR' } })],
    ['currency XXX', topUpByTerminal({ amount: { amountMinor: 100n, currency: 'XXX' } })],
  ];
  for (const [what, wire] of invalid) {
    it(`refuses ${what} as invalid_argument`, () => assertRefused(() => parseTopUp(wire), 'invalid_argument', what));
  }
});

describe('validate: parseReverse', () => {
  it('accepts a reversal of a terminal transaction, keyed by its own terminal transaction', () => {
    const { fingerprint, ...rest } = parseReverse(reverse());
    assert.deepEqual(rest, {
      kind: 'reverse',
      key: 't:till-1:43',
      cardId: 'card-1',
      terminalId: 'till-1',
      amountMinor: 0,
      currency: '',
      source: '',
      operatorId: '',
      originalKey: 't:till-1:42',
    });
    assert.notEqual(fingerprint, '');
  });

  it('accepts a reversal of a request sent with a client key', () => {
    const parsed = parseReverse(reverse({ original: { ref: { $case: 'idempotencyKey', value: 'shop:ref-9' } } }));
    assert.equal(parsed.originalKey, 'k:shop:ref-9');
  });

  it('refuses a system key as the original (a PSP top-up, a tab settlement, a refund run, a credit)', () => {
    for (const value of ['psp:ref-9', 'tab:inv-1', 'refund-run:r1:card-1', 'credit:goodwill-1']) {
      const wire = reverse({ original: { ref: { $case: 'idempotencyKey', value } } });
      assertRefused(() => parseReverse(wire), 'invalid_argument', value);
    }
  });

  it('gives a different fingerprint for another original or card', () => {
    const base = parseReverse(reverse()).fingerprint;
    assert.notEqual(parseReverse(reverse({ cardId: 'card-2' })).fingerprint, base);
    assert.notEqual(
      parseReverse(reverse({ original: { ref: { $case: 'terminalTxn', value: { terminalId: 'till-1', txnNumber: 41n } } } })).fingerprint,
      base,
    );
  });

  const invalid: readonly [string, ReverseRequest][] = [
    ['a reversal of itself', reverse({ original: { ref: { $case: 'terminalTxn', value: { terminalId: 'till-1', txnNumber: 43n } } } })],
    ['a missing original', reverse({ original: undefined })],
    ['an original with no reference set', reverse({ original: {} })],
    [
      'an original with an empty terminal id',
      reverse({ original: { ref: { $case: 'terminalTxn', value: { terminalId: '', txnNumber: 42n } } } }),
    ],
    [
      'an original with txn number 0',
      reverse({ original: { ref: { $case: 'terminalTxn', value: { terminalId: 'till-1', txnNumber: 0n } } } }),
    ],
    [
      'an original with txn number 2^63',
      reverse({ original: { ref: { $case: 'terminalTxn', value: { terminalId: 'till-1', txnNumber: 1n << 63n } } } }),
    ],
    ['an original with an empty client key', reverse({ original: { ref: { $case: 'idempotencyKey', value: '' } } })],
    ['an original with a client key containing a space', reverse({ original: { ref: { $case: 'idempotencyKey', value: 'psp ref' } } })],
    ['an empty terminal id', reverse({ terminalId: '' })],
    ['txn number 0', reverse({ terminalTxnNumber: 0n })],
    ['a card id with a colon', reverse({ cardId: 'card:1' })],
  ];
  for (const [what, wire] of invalid) {
    it(`refuses ${what} as invalid_argument`, () => assertRefused(() => parseReverse(wire), 'invalid_argument', what));
  }

  it('says why a self-reversal is refused', () => {
    const self = reverse({ original: { ref: { $case: 'terminalTxn', value: { terminalId: 'till-1', txnNumber: 43n } } } });
    assertRefused(() => parseReverse(self), 'invalid_argument', 'self', /cannot reverse itself/);
  });
});
