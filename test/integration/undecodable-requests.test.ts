// Proves that bytes which are not a well-formed message of a method's request type get
// INVALID_ARGUMENT on every method a node answers (public, health, reflection, the internal
// Forward stream and the fan-out calls inside it), never INTERNAL, and change nothing in Redis.
// "Well-formed" is strict protobuf: every tag names a field number >= 1 with a wire type proto3
// writes, every length stays inside its message, a known field has its type's wire type, a
// string is UTF-8, and nothing follows the end of the message. A lenient decoder stops at a zero
// tag and returns what it read so far, so a gateway's frame "00 <item>" would otherwise pass as an
// empty frame and end the stream OK with no result for the item it carried.
//
// How: an in-process node on a private Redis, a client sending raw bytes (identity serializers)
// with the credentials each door admits (so the bytes reach the decoders: terminal pos-1's
// certificate, an operator token, a peer node's certificate), a whole-database snapshot before
// and after.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { ScalarType, type DescField, type DescMessage } from '@bufbuild/protobuf';
import type { AuthorizerNode } from '../../services/authorizer/node';
import type { RedisInstance } from '../../tools/devenv/redis';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { AuthorizeStreamRequest, AuthorizeStreamResponse } from '../../gen/tapline/v1/authorization';
import { ForwardRequest, ForwardResponse } from '../../gen/tapline/internal/v1/cluster';
import { accessTo, forwardedCaller, startInProcessNode, startTestRedis } from '../support/harness';
import { connectInspector, type Inspector } from '../support/redis-inspect';
import { rawDoors, type RawDoors, type RawOutcome } from '../support/raw-grpc';
import { apiMethods, type ApiMethod } from '../support/api-methods';

/** Bytes that no message type accepts, each with what is wrong with it. */
const undecodable_anywhere: readonly { readonly why: string; readonly bytes: Buffer }[] = [
  { why: 'a length past the end', bytes: Buffer.from([0x0a, 0x05, 0x61]) },
  { why: 'a varint cut short', bytes: Buffer.from([0x08, 0x80]) },
  { why: 'a tag varint longer than 5 bytes', bytes: Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]) },
  { why: 'field number 0', bytes: Buffer.from([0x00, 0x0a, 0x01, 0x61]) },
  { why: 'an end-group tag with no group', bytes: Buffer.from([0x0c]) },
  { why: 'wire type 7', bytes: Buffer.from([0x0f, 0x00]) },
];

/** A tag byte sequence for a field number and wire type. */
function tag(field: number, wire: number): Buffer {
  const bytes: number[] = [];
  let value = (field << 3) | wire;
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  bytes.push(value);
  return Buffer.from(bytes);
}

function firstField(message: DescMessage, accept: (field: DescField) => boolean): DescField | undefined {
  return message.fields.find(accept);
}

/** Cases that depend on the request type: a known field with the wrong wire type, a string that is not UTF-8. */
function undecodableFor(input: DescMessage): { why: string; bytes: Buffer }[] {
  const cases: { why: string; bytes: Buffer }[] = [];
  const text = firstField(input, (field) => field.fieldKind === 'scalar' && field.scalar === ScalarType.STRING);
  if (text !== undefined) {
    cases.push({
      why: `string field ${text.name} not UTF-8`,
      bytes: Buffer.concat([tag(text.number, 2), Buffer.from([0x02, 0xc3, 0x28])]),
    });
    // A string sent as a varint: a lenient decoder skips it and sees the field as empty.
    cases.push({ why: `string field ${text.name} sent as a varint`, bytes: Buffer.concat([tag(text.number, 0), Buffer.from([0x01])]) });
  }
  const nested = firstField(input, (field) => field.fieldKind === 'message');
  if (nested !== undefined) {
    // An embedded message whose own content has a zero tag: the lenient decoder stops early inside it.
    cases.push({
      why: `message field ${nested.name} holding a zero tag`,
      bytes: Buffer.concat([tag(nested.number, 2), Buffer.from([0x02, 0x00, 0x00])]),
    });
  }
  return cases;
}

function describeOutcome(outcome: RawOutcome): string {
  return `${grpc.status[outcome.code]} "${outcome.details}" with ${outcome.messages.length} message(s)`;
}

describe('bytes that do not decode get INVALID_ARGUMENT on every method (real gRPC, real Redis)', function () {
  this.timeout(120_000);
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let doors: RawDoors;
  let inspect: Inspector;
  let client: TaplineClient;

  before(async function () {
    redis = await startTestRedis('undecodable');
    node = await startInProcessNode(redis.url);
    doors = await rawDoors(node, { identity: { terminal: 'pos-1' } });
    inspect = await connectInspector(redis.url);
    client = new TaplineClient(await accessTo(node));
    await client.registerTerminal('pos-1', 'merchant-1');
    await client.issueCard('card-1', 10_000);
  });

  after(async function () {
    client?.close();
    doors?.close();
    await inspect?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  /** Sends one undecodable request to a method the way its kind is called; the outcome. */
  async function send(method: ApiMethod, bytes: Buffer): Promise<RawOutcome> {
    if (method.reach === 'forwarded') {
      // A fan-out call inside a well-formed Forward frame: the result carries the call's status.
      const frame = Buffer.from(
        ForwardRequest.encode({
          calls: [{ callId: 1n, method: method.path, request: bytes, timeoutMs: 5_000, caller: forwardedCaller() }],
        }).finish(),
      );
      const outcome = await doors.internal.bidi('/tapline.internal.v1.ClusterService/Forward', [frame]);
      const result = outcome.messages.map((message) => ForwardResponse.decode(message)).flatMap((response) => response.results)[0];
      if (result === undefined) return outcome;
      return { code: result.statusCode, details: result.statusMessage, messages: [] };
    }
    const channel = doors.forService(method.service);
    if (method.kind === 'unary') return channel.unary(method.path, bytes);
    if (method.kind === 'server_streaming') return channel.serverStream(method.path, bytes);
    return channel.bidi(method.path, [bytes]);
  }

  for (const method of apiMethods()) {
    it(`${method.path} (${method.kind}${method.reach === 'forwarded' ? ', inside Forward' : ''})`, async function () {
      const before = await inspect.snapshot();
      const cases = [...undecodable_anywhere, ...undecodableFor(method.input)];
      const outcomes = await Promise.all(cases.map((undecodable) => send(method, undecodable.bytes)));
      const wrong = cases
        .map((undecodable, index) => ({ why: undecodable.why, outcome: outcomes[index] as RawOutcome }))
        .filter(({ outcome }) => outcome.code !== grpc.status.INVALID_ARGUMENT);
      assert.deepEqual(
        wrong.map(({ why, outcome }) => `${why}: ${describeOutcome(outcome)}`),
        [],
        'expected INVALID_ARGUMENT for every undecodable request',
      );
      assert.equal(await inspect.snapshot(), before, 'Redis changed');
    });
  }

  it('an AuthorizeStream frame whose item follows a zero tag ends the stream INVALID_ARGUMENT, not OK without a result', async function () {
    const before = await inspect.snapshot();
    const item = AuthorizeStreamRequest.encode({
      items: [{ correlationId: 'c-1', request: purchase('pos-1', 1, 'card-1', 100) }],
    }).finish();
    const channel = doors.forService('tapline.v1.AuthorizationService');
    const outcome = await channel.bidi('/tapline.v1.AuthorizationService/AuthorizeStream', [Buffer.concat([Buffer.from([0x00]), item])]);
    const results = outcome.messages.flatMap((message) => AuthorizeStreamResponse.decode(message).results);
    assert.equal(outcome.code, grpc.status.INVALID_ARGUMENT, `expected INVALID_ARGUMENT, got ${describeOutcome(outcome)}`);
    assert.deepEqual(results, []);
    assert.equal(await inspect.snapshot(), before, 'Redis changed');
  });

  it('an undecodable frame after a good one ends the stream INVALID_ARGUMENT', async function () {
    const good = AuthorizeStreamRequest.encode({
      items: [{ correlationId: 'c-2', request: purchase('pos-1', 2, 'card-1', 100) }],
    }).finish();
    const channel = doors.forService('tapline.v1.AuthorizationService');
    const outcome = await channel.bidi('/tapline.v1.AuthorizationService/AuthorizeStream', [
      Buffer.from(good),
      Buffer.from([0x0a, 0x05, 0x61]),
    ]);
    assert.equal(outcome.code, grpc.status.INVALID_ARGUMENT, `expected INVALID_ARGUMENT, got ${describeOutcome(outcome)}`);
  });
});
