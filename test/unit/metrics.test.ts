// Proves the per-request counters (services/common/metrics.ts): counts made through a counting
// child reach the Prometheus text at scrape time exactly, a scrape does not count them twice, the
// children of one label set are one child (so a child per stream cannot grow without bound), and
// prom-client's own label API still counts alongside.

import assert from 'node:assert/strict';
import { Metrics } from '../../services/common/metrics';

function valueOf(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics: per-request counters', () => {
  it('counts through a counting child appear in the scrape, exactly once', async () => {
    const metrics = new Metrics();
    const ok = metrics.countingChild(metrics.streamItems, { grpc_code: 'OK' });
    for (let i = 0; i < 1_234; i++) ok.inc();
    metrics.streamItems.inc({ grpc_code: 'NOT_FOUND' });
    const first = await metrics.registry.metrics();
    assert.equal(valueOf(first, 'tapline_stream_items_total{grpc_code="OK"}'), 1_234);
    assert.equal(valueOf(first, 'tapline_stream_items_total{grpc_code="NOT_FOUND"}'), 1);
    ok.inc();
    const second = await metrics.registry.metrics();
    assert.equal(valueOf(second, 'tapline_stream_items_total{grpc_code="OK"}'), 1_235, 'a second scrape adds only what came since');
  });

  it('one child per label set, shared by every caller', () => {
    const metrics = new Metrics();
    const a = metrics.countingChild(metrics.streamItems, { grpc_code: 'OK' });
    const b = metrics.countingChild(metrics.streamItems, { grpc_code: 'OK' });
    const c = metrics.countingChild(metrics.streamItems, { grpc_code: 'UNAVAILABLE' });
    assert.equal(a, b);
    assert.notEqual(a, c);
  });

  it('decisions are counted per kind, outcome and reason', async () => {
    const metrics = new Metrics();
    metrics.countDecision('purchase', 'approved', '');
    metrics.countDecision('purchase', 'approved', '');
    metrics.countDecision('purchase', 'declined', 'insufficient_funds');
    const text = await metrics.registry.metrics();
    assert.equal(valueOf(text, 'tapline_decisions_total{kind="purchase",outcome="approved",reason=""}'), 2);
    assert.equal(valueOf(text, 'tapline_decisions_total{kind="purchase",outcome="declined",reason="insufficient_funds"}'), 1);
  });
});
