// Proves what an SRE's dashboards and alerts read from a node's /metrics, over real HTTP after
// real gRPC calls on a real node and Redis: a latency histogram per RPC method in the gRPC
// convention's names, handled calls counted under the status code's name (OK, INVALID_ARGUMENT,
// NOT_FOUND), the stream's messages counted per frame, the commit-batch histogram reaching the
// configured batch maximum, GC pauses, when the TLS certificates the doors use end, and no label
// value taken from request data.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import type { RedisInstance } from '../../tools/devenv/redis';
import type { AuthorizerNode } from '../../services/authorizer/node';
import type { AuthorizeStreamResponse } from '../../gen/tapline/v1/authorization';
import { TaplineClient, purchase } from '../../tools/client/tapline-client';
import { startInProcessNode, startTestRedis, accessTo } from '../support/harness';

const commit_batch_max = 700;

function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/metrics', timeout: 10_000 }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        response.statusCode === 200 ? resolve(body) : reject(new Error(`/metrics answered ${response.statusCode}`)),
      );
    }).on('error', reject);
  });
}

/** The value of the one series whose name and labels match exactly (label order as served). */
function series(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  const line = text.split('\n').find((l) => l.startsWith(name + '{') && wanted.every((pair) => l.includes(pair)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

const authorize = { grpc_service: 'tapline.v1.AuthorizationService', grpc_method: 'Authorize', grpc_type: 'unary' };
const stream = { grpc_service: 'tapline.v1.AuthorizationService', grpc_method: 'AuthorizeStream', grpc_type: 'bidi_stream' };

describe('/metrics after real calls (gRPC convention, bounded labels)', function () {
  let redis: RedisInstance;
  let node: AuthorizerNode;
  let client: TaplineClient;
  let text: string;

  before(async function () {
    redis = await startTestRedis('grpc-metrics');
    node = await startInProcessNode(redis.url, { TAPLINE_METRICS_PORT: '0', TAPLINE_COMMIT_BATCH_MAX: String(commit_batch_max) });
    client = new TaplineClient(await accessTo(node));
    await client.registerTerminal('till-m', 'bar-metrics');
    await client.issueCard('card-m', 10_000);
    for (let txn = 1; txn <= 3; txn++) await client.authorize(purchase('till-m', txn, 'card-m', 100));
    await assert.rejects(client.authorize(purchase('till-m', 10, 'card-m', 0)), /INVALID_ARGUMENT/);
    await assert.rejects(client.authorize(purchase('till-m', 11, 'card-of-request-data-xyz', 5)), /NOT_FOUND/);
    const call = (await client.gateway(['bar-metrics'])).authorizeStream();
    let results = 0;
    call.on('data', (frame: AuthorizeStreamResponse) => (results += frame.results.length));
    const ended = new Promise<void>((resolve, reject) => {
      call.on('end', resolve);
      call.on('error', reject);
    });
    call.write({ items: [{ correlationId: 'a', request: purchase('till-m', 20, 'card-m', 1) }] });
    call.write({ items: [{ correlationId: 'b', request: purchase('till-m', 21, 'card-m', 1) }] });
    call.end();
    await ended;
    assert.equal(results, 2, 'the stream answered both items');
    text = await scrape(node.metricsPort ?? -1);
  });

  after(async function () {
    client?.close();
    await node?.shutdown();
    await redis?.stop();
  });

  it('has a handling-time histogram per method, with every call of that method in it', function () {
    assert.equal(series(text, 'grpc_server_handling_seconds_count', authorize), 5, 'five Authorize calls were timed');
    assert.equal(series(text, 'grpc_server_handling_seconds_bucket', { ...authorize, le: '+Inf' }), 5);
    assert.ok(
      (series(text, 'grpc_server_handling_seconds_bucket', { ...authorize, le: '30' }) ?? 0) >= 5,
      'a loopback call ends within 30 s',
    );
    assert.equal(series(text, 'grpc_server_handling_seconds_count', stream), 1, 'the stream is timed once, as a whole');
    for (const method of ['IssueCard', 'RegisterTerminal'])
      assert.equal(
        series(text, 'grpc_server_handling_seconds_count', { grpc_service: 'tapline.v1.AdminService', grpc_method: method }),
        1,
        `AdminService.${method} has its own histogram`,
      );
    assert.equal(
      series(text, 'grpc_server_handling_seconds_count', { grpc_service: 'tapline.v1.AuthorizationService', grpc_method: 'Refund' }),
      0,
      'a method never called is there at zero, so rates and alerts see it',
    );
  });

  it('counts started and handled calls with the status code name', function () {
    assert.equal(series(text, 'grpc_server_started_total', authorize), 5);
    assert.equal(series(text, 'grpc_server_handled_total', { ...authorize, grpc_code: 'OK' }), 3);
    assert.equal(series(text, 'grpc_server_handled_total', { ...authorize, grpc_code: 'INVALID_ARGUMENT' }), 1);
    assert.equal(series(text, 'grpc_server_handled_total', { ...authorize, grpc_code: 'NOT_FOUND' }), 1);
    assert.equal(series(text, 'grpc_server_handled_total', { ...stream, grpc_code: 'OK' }), 1);
    assert.doesNotMatch(text, /grpc_code="\d+"/, 'codes are names, never numbers');
  });

  it('counts stream messages per frame in and out', function () {
    assert.equal(series(text, 'grpc_server_msg_received_total', stream), 2, 'two request frames');
    assert.ok((series(text, 'grpc_server_msg_sent_total', stream) ?? 0) >= 1, 'at least one result frame');
    assert.equal(series(text, 'grpc_server_msg_received_total', authorize), 5, 'one message per unary call');
  });

  it('says when the certificate and the CA bundles the doors use stop being valid, as the files say', function () {
    const notAfter = (path: string | undefined): number =>
      Math.floor(Date.parse(new X509Certificate(readFileSync(String(path))).validTo) / 1000);
    const { config } = node;
    assert.equal(series(text, 'tapline_tls_certificate_not_after_seconds', { file: 'node' }), notAfter(config.TAPLINE_TLS_CERT_FILE));
    assert.equal(
      series(text, 'tapline_tls_certificate_not_after_seconds', { file: 'client_ca' }),
      notAfter(config.TAPLINE_TLS_CLIENT_CA_FILE),
    );
    assert.equal(
      series(text, 'tapline_tls_certificate_not_after_seconds', { file: 'cluster_ca' }),
      notAfter(config.TAPLINE_TLS_CLUSTER_CA_FILE),
    );
    assert.ok(notAfter(config.TAPLINE_TLS_CERT_FILE) * 1000 > Date.now(), 'the test node runs on a certificate still valid');
  });

  it('commit batches are bucketed up to the configured batch maximum; GC pauses are exported', function () {
    assert.ok(
      series(text, 'tapline_commit_batch_entries_bucket', { le: String(commit_batch_max) }) !== undefined,
      `a bucket at ${commit_batch_max}`,
    );
    assert.match(text, /^tapline_commit_seconds_count [1-9]/m, 'commits are timed');
    assert.match(text, /^nodejs_gc_duration_seconds_bucket\{/m, 'GC pauses by kind (prom-client default metrics)');
  });

  it('no label value comes from request data', function () {
    for (const fromRequest of ['card-of-request-data-xyz', 'till-m', 'card-m', 'bar-metrics'])
      assert.ok(!text.includes(fromRequest), `"${fromRequest}" (request data) appears in no series`);
  });
});
