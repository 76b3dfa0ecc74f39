// Proves the strict wire-format check (services/common/wire-check.ts): every well-formed request
// of every method passes (seeded random messages of each request type, built from the compiled
// descriptors), bytes it passes always decode with the generated decoders, and each kind of
// malformed input a lenient decoder lets through (zero tag, end-group tag, wrong wire type, string
// not UTF-8, length past its message, packed numbers cut short) is named.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AuthorizeRequest, AuthorizeStreamRequest } from '../../gen/tapline/v1/authorization';
import { ForwardRequest } from '../../gen/tapline/internal/v1/cluster';
import { SetFleetPolicyRequest } from '../../gen/tapline/v1/fleet';
import { WireSchemas } from '../../services/common/wire-check';
import { apiMethods } from '../support/api-methods';
import { Rng, randomMessageBytes, type EntityPool } from '../support/proto-random';
import { announceSeed, assertProperty, fast_check_seed } from './fast-check-seed';

const pool: EntityPool = {
  cards: ['card-1'],
  terminals: ['pos-1'],
  merchants: ['m-1'],
  programs: ['p-1'],
  fleets: ['f-1'],
  currency: 'EUR',
};

const authorize = '/tapline.v1.AuthorizationService/Authorize';
const stream = '/tapline.v1.AuthorizationService/AuthorizeStream';
const forward = '/tapline.internal.v1.ClusterService/Forward';
const fleet_policy = '/tapline.v1.FleetAdminService/SetFleetPolicy';

describe('strict wire-format check of requests', function () {
  const schemas = WireSchemas.load();

  before(() => announceSeed('wire-check'));

  it('passes seeded random well-formed requests of every method (200 each)', function () {
    const rng = new Rng(fast_check_seed);
    for (const method of apiMethods()) {
      for (let i = 0; i < 200; i++) {
        const bytes = randomMessageBytes(method.input, rng, pool);
        assert.equal(schemas.requestProblem(method.path, bytes), undefined, `${method.path} ${bytes.toString('hex')}`);
      }
    }
  });

  it('passes maps, packed-free repeated messages and oneofs as the generated encoders write them', function () {
    const policy = SetFleetPolicyRequest.encode({
      fleetId: 'f-1',
      operatorId: 'ops',
      productGroups: { allowed: ['fuel', 'shop'] },
      prompts: undefined,
      program: {
        allowedMerchants: ['m'],
        blockedMerchants: [],
        allowedTerminals: [],
        blockedTerminals: [],
        velocity: [],
        restrictMerchants: true,
        restrictTerminals: false,
        loyalty: {
          minorPerUnit: 100n,
          pointsPerUnit: 1n,
          groupMultiplierBp: { fuel: 10_000n },
          merchantMultiplierBp: {},
          discountBpByGroup: { shop: -5n },
          pointValueMinor: 1n,
        },
      },
    }).finish();
    assert.equal(schemas.requestProblem(fleet_policy, policy), undefined);
    const frame = ForwardRequest.encode({
      calls: [
        {
          callId: 2n ** 63n,
          method: authorize,
          request: Buffer.from([0x0a, 0x01, 0x61]),
          timeoutMs: 1,
          caller: Buffer.from([0x0a, 0x01, 0x62]),
        },
      ],
    });
    assert.equal(schemas.requestProblem(forward, frame.finish()), undefined);
  });

  it('bytes it passes decode with the generated decoders (random bytes, seeded)', function () {
    assertProperty(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        for (const [path, type] of [
          [authorize, AuthorizeRequest],
          [stream, AuthorizeStreamRequest],
          [forward, ForwardRequest],
        ] as const) {
          if (schemas.requestProblem(path, bytes) === undefined) type.decode(bytes);
        }
      }),
      2_000,
    );
  });

  const refused: { name: string; path: string; bytes: number[]; problem: RegExp }[] = [
    { name: 'field number 0', path: authorize, bytes: [0x00, 0x0a, 0x01, 0x61], problem: /field number 0/ },
    { name: 'an end-group tag', path: authorize, bytes: [0x0c], problem: /wire type 4/ },
    { name: 'a start-group tag', path: authorize, bytes: [0x0b, 0x0c], problem: /wire type 3/ },
    { name: 'wire type 6', path: authorize, bytes: [0x0e], problem: /wire type 6/ },
    { name: 'a string sent as a varint', path: authorize, bytes: [0x08, 0x01], problem: /field 1 has wire type 0/ },
    { name: 'a string not UTF-8', path: authorize, bytes: [0x0a, 0x02, 0xc3, 0x28], problem: /not UTF-8/ },
    { name: 'a length past the end', path: authorize, bytes: [0x0a, 0x05, 0x61], problem: /runs past the end/ },
    { name: 'a varint cut short', path: authorize, bytes: [0x10, 0x80], problem: /runs past the end/ },
    { name: 'an 11-byte varint', path: authorize, bytes: [0x10, ...Array<number>(10).fill(0xff), 0x01], problem: /runs past the end/ },
    { name: 'a 6-byte tag', path: authorize, bytes: [0x80, 0x80, 0x80, 0x80, 0x80, 0x01], problem: /tag/ },
    { name: 'an embedded message holding a zero tag', path: stream, bytes: [0x0a, 0x02, 0x00, 0x00], problem: /field 1: field number 0/ },
    {
      name: 'an embedded message whose field runs past it',
      path: stream,
      bytes: [0x0a, 0x02, 0x0a, 0x05, 0x61, 0x61, 0x61, 0x61, 0x61],
      problem: /field 1: field 1 runs past/,
    },
    { name: 'an unknown field with wire type 7', path: authorize, bytes: [0xff, 0x01, 0x00], problem: /wire type 7/ },
  ];
  for (const testCase of refused) {
    it(`names ${testCase.name}`, function () {
      const problem = schemas.requestProblem(testCase.path, Buffer.from(testCase.bytes));
      assert.match(problem ?? 'passed', testCase.problem);
    });
  }

  it('accepts unknown well-formed fields (a newer peer during a rolling update) and the empty message', function () {
    assert.equal(schemas.requestProblem(authorize, Buffer.from([0xf8, 0x07, 0x01, 0xfa, 0x07, 0x01, 0x00])), undefined);
    assert.equal(schemas.requestProblem(authorize, Buffer.alloc(0)), undefined);
  });
});
