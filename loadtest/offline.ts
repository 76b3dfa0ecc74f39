// Benchmark phases of offline selling (docs/OFFLINE.md), on the benchmark's node and Redis:
//
// `offlineMergeVsStream`: alternating rounds of gateway streams (AuthorizeStream, online
//   authorizations) and of uploads (simulated terminals, each uploading its signed batches of 500
//   entries one after the other, all terminals at once); a round of uploads counts the entries
//   merged per second in steady state, as the streams are counted: after the same warm-up, over a
//   window as long as theirs (uploadRound says why). The ratio is the median of the rounds' own
//   ratios (ratios.offline_merge_vs_stream).
// `denylistDelta`: a denylist of 1,000,000 listed cards written straight into Redis in the commit
//   script's layout (services/authorizer/store/keys.ts), then 1,000 real listing changes through
//   the node (cards blocked), then the latency of GetDenylistDelta from the versions held before
//   those changes (denylist_delta_ms, p50 / p99).

import { createClient } from 'redis';
import { CardClient, programConfig } from '../tools/client/card-client';
import { OfflineClient } from '../tools/client/offline-client';
import { TaplineClient } from '../tools/client/tapline-client';
import type { ClientAccess } from '../tools/client/access';
import { OfflineTerminalSimulator, generateTerminalKey } from '../tools/offline-terminal/simulator';
import { CardStatus } from '../gen/tapline/v1/types';
import { shardOf } from '../actors/sharding/shard-key';
import { denylistPrefix } from '../services/authorizer/store/keys';
import { medianOf, pairedRatio, round, type PhaseResult } from './driver';
import type { AofWatch } from './aof-watch';

export const offline_settings = {
  program: 'bench-offline',
  cards: 5_000,
  terminals: 16,
  /**
   * Enough that every terminal still uploads at the end of the window (warm-up 1 s, 4 s measured):
   * 16 x 20 x 500 = 160,000 entries a round, ~6.4 s at 25,000 merged per second. A grant allows
   * offline_count_max (10,000) sales, 20 batches of 500, and each round sells under a new grant.
   * (With 8 batches the uploads ran out ~2 s into the window at 20,000-25,000 per second: the
   * merges were measured over half the streams' window, the lockstep start included.)
   */
  batches_per_terminal: 20,
  batch_entries: 500,
  listed_cards: 1_000_000,
  delta_changes: 1_000,
  delta_requests: 200,
};

type Phase = (name: string, run: () => Promise<PhaseResult>) => Promise<PhaseResult>;

/** The offline cards and terminals the rounds use, synced. */
export async function seedOffline(access: ClientAccess): Promise<{ terminals: OfflineTerminalSimulator[]; offline: OfflineClient }> {
  const cards = new CardClient(access);
  await cards.defineProgram(
    offline_settings.program,
    // Limits far above what the rounds sell: every entry is merged as the issuer's.
    programConfig({
      offline: { txnMaxMinor: 1_000_000n, cardMaxMinor: 1_000_000_000n, debtThresholdMinor: 1_000_000_000n, cardCounter: false },
    }),
  );
  cards.close();
  const admin = new TaplineClient(access);
  for (let start = 0; start < offline_settings.cards; start += 200) {
    const ids = Array.from({ length: Math.min(200, offline_settings.cards - start) }, (_, k) => `bench-o${start + k}`);
    await Promise.all(ids.map((id) => admin.issueCard(id, 1_000_000_000, 'EUR', offline_settings.program)));
  }
  // Each terminal uploads over mutual TLS with its own certificate, as in the field.
  const offline = new OfflineClient(access);
  const terminals: OfflineTerminalSimulator[] = [];
  for (let t = 0; t < offline_settings.terminals; t++) {
    const id = `bench-ot${t}`;
    await admin.registerTerminal(id, `bench-om${t % 4}`);
    const key = generateTerminalKey();
    await offline.setTerminalOffline({
      terminalId: id,
      publicKey: key.spki,
      programIds: [offline_settings.program],
      totalMaxMinor: 1_000_000_000_000,
      currency: 'EUR',
      countMax: 10_000,
      offlineMaxMs: 7 * 86_400_000,
    });
    const sim = new OfflineTerminalSimulator(id, offline, key, { clock: () => 0, batch_entries_max: offline_settings.batch_entries });
    await sim.sync();
    terminals.push(sim);
  }
  admin.close();
  return { terminals, offline };
}

/** When a batch was sent, when its answer came, and how many entries it merged. */
interface Answered {
  readonly sent: bigint;
  readonly at: bigint;
  readonly entries: number;
}

/**
 * The entries of a batch merged inside [from, to], its entries spread evenly over its upload: all
 * terminals upload in step, so their answers come in waves of 16 batches, and counting whole
 * batches by their answer swung a 4-second window between one wave and two.
 */
function mergedWithin(batch: Answered, from: bigint, to: bigint): number {
  const start = batch.sent > from ? batch.sent : from;
  const end = batch.at < to ? batch.at : to;
  if (end <= start) return 0;
  return (batch.entries * Number(end - start)) / Number(batch.at - batch.sent);
}

/**
 * One round of uploads: every terminal sells and closes its batches, then all upload at once, each
 * terminal one batch after the other. Entries merged per second in steady state, measured as the
 * streams are: after a warm-up, over a window (the entries merged inside it, mergedWithin), a
 * closed loop. The window ends early when a terminal runs out of batches: from then on fewer
 * terminals upload and the node waits on them (the tail), which the streams never measure either.
 * (Counting the whole round from the first upload to the last answer charged the merge with the
 * lockstep start of 16 terminals and that tail: the node was idle most of the round's last seconds.)
 */
async function uploadRound(
  terminals: readonly OfflineTerminalSimulator[],
  round: number,
  window: { readonly warmup_s: number; readonly measure_s: number },
): Promise<PhaseResult> {
  const perTerminal = offline_settings.batches_per_terminal * offline_settings.batch_entries;
  for (const [t, sim] of terminals.entries()) {
    for (let n = 0; n < perTerminal; n++) {
      const card = `bench-o${(round * 7_919 + t * 613 + n * 31) % offline_settings.cards}`;
      sim.sell({ cardId: card, programId: offline_settings.program }, 1 + (n % 500), 'EUR');
    }
    sim.closeBatches();
  }
  const started = process.hrtime.bigint();
  let errors = 0;
  const answered: Answered[] = [];
  // When each terminal had no batch left to send: the steady state ends with the first of them.
  const finished = await Promise.all(
    terminals.map(async (sim) => {
      while (sim.pending.length > 0) {
        const batch = sim.pending[0];
        if (batch === undefined) break;
        const sent = process.hrtime.bigint();
        try {
          const entries = (await sim.uploadBatch(batch)).results.length;
          answered.push({ sent, at: process.hrtime.bigint(), entries });
        } catch {
          // Sent again, unchanged (as a terminal does), after a failure.
          errors += 1;
        }
      }
      return process.hrtime.bigint();
    }),
  );
  const from = started + BigInt(Math.round(window.warmup_s * 1e9));
  const last = finished.reduce((first, at) => (at < first ? at : first));
  const to = bigMin(from + BigInt(Math.round(window.measure_s * 1e9)), last);
  if (to <= from) throw new Error(`a terminal ran out of batches within the warm-up (${window.warmup_s} s): sell more per round`);
  const requests = Math.round(answered.reduce((sum, batch) => sum + mergedWithin(batch, from, to), 0));
  const seconds = Number(to - from) / 1e9;
  // The next round sells under a new grant (the caps count per grant). The simulators forget the
  // round's entries and results: a field terminal holds its own, while this one process would
  // otherwise keep every terminal's (480,000 of each over three rounds) in its heap.
  for (const sim of terminals) {
    await sim.sync();
    sim.entries.clear();
    sim.results.clear();
  }
  return {
    requests,
    errors,
    approved: requests,
    declined: 0,
    seconds: round3(seconds),
    rps: Math.round(requests / seconds),
    p50_ms: 0,
    p99_ms: 0,
  };
}

function bigMin(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function round3(value: number): number {
  return round(value, 3);
}

/** A round of one side of the comparison, and what it appended to the AOF per outbox document (one per item). */
export interface ComparedRound {
  readonly result: PhaseResult;
  readonly aof_bytes_per_item: number;
}

/**
 * Alternating rounds of AuthorizeStream and of uploads; their paired ratio. The rounds run with
 * Redis' automatic AOF rewrites off, so none falls inside a round (loadtest/aof-watch.ts says
 * why); what each side appends to the AOF per item is measured instead.
 */
export async function offlineMergeVsStream(
  access: ClientAccess,
  stream: () => Promise<PhaseResult>,
  rounds: number,
  window: { readonly warmup_s: number; readonly measure_s: number },
  phase: Phase,
  aof: Pick<AofWatch, 'withoutRewrites' | 'appended'>,
  log: (message: string, fields?: Record<string, unknown>) => void,
): Promise<{ stream: ComparedRound[]; merge: ComparedRound[]; ratio: number }> {
  const started = Date.now();
  const { terminals, offline } = await seedOffline(access);
  log('offline seeded', { cards: offline_settings.cards, terminals: terminals.length, seconds: (Date.now() - started) / 1000 });
  const compared = async (name: string, run: () => Promise<PhaseResult>): Promise<ComparedRound> => {
    const before = await aof.appended();
    const result = await phase(name, run);
    const after = await aof.appended();
    const items = after.documents - before.documents;
    const aof_bytes_per_item = items > 0 ? Math.round((after.aof_bytes - before.aof_bytes) / items) : 0;
    log(`${name}: appended`, { aof_bytes_per_item });
    return { result, aof_bytes_per_item };
  };
  const streams: ComparedRound[] = [];
  const merges: ComparedRound[] = [];
  try {
    await aof.withoutRewrites(async () => {
      for (let r = 1; r <= rounds; r++) {
        streams.push(await compared(`round ${r}: authorize stream (offline comparison)`, stream));
        merges.push(await compared(`round ${r}: offline uploads merged`, () => uploadRound(terminals, r, window)));
      }
    });
  } finally {
    offline.close();
  }
  const results = (side: readonly ComparedRound[]): PhaseResult[] => side.map((compared) => compared.result);
  return { stream: streams, merge: merges, ratio: pairedRatio(results(merges), results(streams), (result) => result.rps) };
}

/** Writes `count` listed cards into the denylist keys of their shards, as commit.lua leaves them. */
async function writeListedCards(redisUrl: string, shardCount: number, count: number): Promise<void> {
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    const byShard = new Map<number, string[]>();
    for (let i = 0; i < count; i++) {
      const card = `bench-dl${i}`;
      const shard = shardOf('card', card, shardCount);
      const list = byShard.get(shard);
      if (list === undefined) byShard.set(shard, [card]);
      else list.push(card);
    }
    const writes: Promise<unknown>[] = [];
    for (const [shard, cards] of byShard) {
      const prefix = denylistPrefix(shard);
      const base = Number((await client.get(`${prefix}v`)) ?? 0);
      for (let start = 0; start < cards.length; start += 1_000) {
        const chunk = cards.slice(start, start + 1_000);
        const fields: string[] = [];
        const members: { score: number; value: string }[] = [];
        chunk.forEach((card, k) => {
          const version = base + start + k + 1;
          fields.push(card, `${version} blocked`);
          members.push({ score: version, value: `${version} ${card} blocked` });
        });
        writes.push(client.sendCommand(['HSET', `${prefix}cards`, ...fields]));
        writes.push(client.zAdd(`${prefix}log`, members));
      }
      writes.push(client.set(`${prefix}v`, String(base + cards.length)));
      // The log keeps what the commit script would have kept (its default, 4,096 per shard).
      writes.push(client.zRemRangeByRank(`${prefix}log`, 0, -4_097));
      if (writes.length > 2_000) await Promise.all(writes.splice(0));
    }
    await Promise.all(writes);
  } finally {
    await client.close();
  }
}

async function shardVersions(redisUrl: string, shardCount: number): Promise<bigint[]> {
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    const versions = await Promise.all(Array.from({ length: shardCount }, (_, shard) => client.get(`${denylistPrefix(shard)}v`)));
    return versions.map((version) => BigInt(version ?? 0));
  } finally {
    await client.close();
  }
}

/** p50 / p99 latency of a 1,000-change delta over 1,000,000 listed cards. */
export async function denylistDelta(
  access: ClientAccess,
  redisUrl: string,
  shardCount: number,
  log: (message: string, fields?: Record<string, unknown>) => void,
): Promise<{ p50: number; p99: number; changes: number; listed_cards: number }> {
  const started = Date.now();
  await writeListedCards(redisUrl, shardCount, offline_settings.listed_cards);
  log('denylist written', { listed_cards: offline_settings.listed_cards, seconds: (Date.now() - started) / 1000 });
  const offline = new OfflineClient(access);
  const admin = new TaplineClient(access);
  try {
    // The versions a terminal current now holds (what a snapshot would end with), read from Redis.
    const since = await shardVersions(redisUrl, shardCount);
    for (let start = 0; start < offline_settings.delta_changes; start += 100) {
      const ids = Array.from({ length: 100 }, (_, k) => `bench-o${start + k}`);
      await Promise.all(ids.map((id) => admin.setCardStatus(id, CardStatus.CARD_STATUS_FROZEN)));
    }
    const latencies: number[] = [];
    let changes = 0;
    for (let n = 0; n < offline_settings.delta_requests; n++) {
      const sent = process.hrtime.bigint();
      const page = await offline.delta('bench-ot0', since, '', 10_000);
      latencies.push(Number(process.hrtime.bigint() - sent) / 1e6);
      changes = page.changes.length;
      if (page.snapshot || page.more)
        throw new Error(`the delta was not one page of changes (snapshot ${page.snapshot}, more ${page.more})`);
    }
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.min(latencies.length - 1, Math.ceil(latencies.length * 0.99) - 1)] as number;
    return { p50: round3(medianOf(latencies)), p99: round3(p99), changes, listed_cards: offline_settings.listed_cards };
  } finally {
    offline.close();
    admin.close();
  }
}
