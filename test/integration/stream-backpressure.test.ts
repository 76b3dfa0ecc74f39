// Proves that an AuthorizeStream client that sends and never reads cannot grow a node's memory:
// the node stops reading a stream (HTTP/2 flow control then stops the client) once a bounded
// number of its items are waiting for their results to be read, so the node's resident memory
// stays under `rss_bound_bytes` however much the client tries to send; the node keeps serving
// other calls meanwhile.
//
// How: a real node process on a private Redis; a client speaking gRPC over HTTP/2 by hand (a
// grpc-js client would keep receiving into its own memory), with terminal pos-1's certificate on
// the terminal door, writes frames of 1,000 items (mostly
// items the node refuses at once, each still owed a result; one in a hundred a real purchase) as
// fast as HTTP/2 flow control lets it, never reads, and stops after
// `items_offered` items or once the node has stopped taking them (a write waiting 3 s for
// 'drain'). The node's VmRSS is read from /proc every 100 ms; the peak is compared to the bound.
//
// The bound: an idle node measures ~110-140 MB here (V8 heap, the 3 x 16 MB young generation of
// --max-semi-space-size=16, code, Redis and gRPC buffers). The stream's share is bounded by
// TAPLINE_STREAM_PENDING_ITEMS_MAX (10,000 items, ~10 MB with their requests and results) plus
// what HTTP/2 flow control lets sit in socket buffers (~1 MB). 300 MB leaves room for GC timing
// and the load of a shared machine; without back-pressure the same client drives the node past
// 600 MB (every result of every item buffered for a client that never reads).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { AuthorizeStreamRequest, GetBalanceRequest, type AuthorizeStreamItem } from '../../gen/tapline/v1/authorization';
import { IssueCardRequest, RegisterTerminalRequest } from '../../gen/tapline/v1/admin';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { ServerProcess } from '../../tools/devenv/node-process';
import { purchase } from '../../tools/client/tapline-client';
import { startNodeProcess, startTestRedis } from '../support/harness';
import { rawDoors, type RawDoors } from '../support/raw-grpc';

const rss_bound_bytes = 300 * 1024 * 1024;
const items_offered = 6_000_000;
const frame_items = 1_000;
/** A write that has waited this long for 'drain' means the node stopped taking the stream. */
const blocked_after_ms = 3_000;
const stream_path = '/tapline.v1.AuthorizationService/AuthorizeStream';

/** The process's resident memory; 0 once it is gone (the test then fails on the node's exit). */
function rssBytes(pid: number): number {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return 0;
  }
  const match = /VmRSS:\s+(\d+) kB/.exec(status);
  return match === null ? 0 : Number(match[1]) * 1024;
}

function frame(first: number): Buffer {
  const items: AuthorizeStreamItem[] = [];
  for (let n = first; n < first + frame_items; n++) {
    const correlationId = `item-${String(n).padStart(24, '0')}`;
    // One in a hundred is a real 1-cent purchase; the rest lack their request and are refused at once.
    items.push(n % 100 === 0 ? { correlationId, request: purchase('pos-1', n + 1, 'card-1', 1) } : { correlationId, request: undefined });
  }
  return Buffer.from(AuthorizeStreamRequest.encode({ items }).finish());
}

describe('AuthorizeStream back-pressure: a client that never reads (real node process, real gRPC)', function () {
  this.timeout(180_000);
  let redis: RedisInstance;
  let node: ServerProcess;
  let doors: RawDoors;

  before(async function () {
    redis = await startTestRedis('stream-backpressure');
    node = await startNodeProcess(redis.url, { TAPLINE_LOG_LEVEL: 'warn' });
    doors = await rawDoors(node, { identity: { terminal: 'pos-1' } });
    const admin = doors.forService('tapline.v1.AdminService');
    const register = RegisterTerminalRequest.encode({
      terminalId: 'pos-1',
      merchantId: 'm-1',
      location: '',
      operatorId: 'ops',
      serialNumber: '',
    });
    assert.equal((await admin.unary('/tapline.v1.AdminService/RegisterTerminal', Buffer.from(register.finish()))).code, grpc.status.OK);
    const issue = IssueCardRequest.encode({
      cardId: 'card-1',
      initialBalance: { amountMinor: 100_000n, currency: 'EUR' },
      programId: 'test',
      operatorId: 'ops',
    });
    assert.equal((await admin.unary('/tapline.v1.AdminService/IssueCard', Buffer.from(issue.finish()))).code, grpc.status.OK);
  });

  after(async function () {
    doors?.close();
    await node?.terminate();
    await redis?.stop();
  });

  it(`node RSS stays under ${rss_bound_bytes / 1024 / 1024} MB while a stream is written and never read`, async function () {
    const baseline = rssBytes(node.pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes(node.pid))), 100);
    const connection = doors.rawConnection();
    const stream = connection.unreadStream(stream_path);
    let outcome: { written: number; blocked: boolean };
    try {
      outcome = await stream.writeUntilBlocked((index) => frame(index * frame_items), {
        messages_max: items_offered / frame_items,
        blocked_after_ms,
        // Past the bound the test has failed; writing on would only grow the node further.
        enough: () => peak >= rss_bound_bytes,
      });
      // The node serves other calls while the stream waits for its reader.
      const balance = await doors
        .forService('tapline.v1.AuthorizationService')
        .unary('/tapline.v1.AuthorizationService/GetBalance', Buffer.from(GetBalanceRequest.encode({ cardId: 'card-1' }).finish()), 5_000);
      assert.equal(balance.code, grpc.status.OK, `GetBalance during the stream: ${grpc.status[balance.code]} ${balance.details}`);
      peak = Math.max(peak, rssBytes(node.pid));
    } finally {
      clearInterval(sampler);
      stream.close();
      connection.close();
    }
    const sent = outcome.written * frame_items;
    const blocked = outcome.blocked;
    const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
    console.log(
      `      node RSS ${mb(baseline)} before, peak ${mb(peak)}; the client sent ${sent} items and was ${blocked ? '' : 'not '}stopped`,
    );
    assert.ok(peak < rss_bound_bytes, `node RSS peaked at ${mb(peak)} (bound ${mb(rss_bound_bytes)}) after ${sent} items`);
    assert.ok(blocked, `expected the node to stop taking the stream before ${items_offered} items; it took ${sent}`);
  });
});
