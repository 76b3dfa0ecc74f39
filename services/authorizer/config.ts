// Configuration of an authorizer node, from environment variables, validated at startup.
// Every bound says why it has its default; relations between bounds are checked together.

import { hostname } from 'node:os';
import { z } from 'zod';
import { ConfigError, envInt, log_level, optionalEnvInt, parseEnv } from '../common/process';
import { CardAuthKeys } from './usecases/card-auth';
import { redis_target_env, redisTargetOf, type RedisTarget } from '../common/redis-target';

// Integers must be written as plain decimal digits (envInt): z.coerce.number() would read an
// empty value ("TAPLINE_SHUTDOWN_GRACE_MS=") as 0 and accept "0x10" or "1e3".
const int = envInt;

const schema = z.object({
  TAPLINE_NODE_ID: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/)
    .default(hostname().slice(0, 64)),
  TAPLINE_GRPC_HOST: z.string().default('127.0.0.1'),
  TAPLINE_GRPC_PORT: int(0, 65535, 50051),
  // Prometheus /metrics and /healthz, /readyz. 0 picks a free port; -1 turns it off (tests).
  TAPLINE_METRICS_PORT: int(-1, 65535, 9464),
  // Where Redis is (single server, Sentinel, Cluster) and how many replicas a commit waits for.
  ...redis_target_env,
  TAPLINE_LOG_LEVEL: log_level,
  // Virtual shards. Fixed for the life of a deployment: it decides where every entity lives.
  // 256 gives an even spread over tens of nodes while keeping the per-shard bookkeeping small.
  TAPLINE_SHARD_COUNT: int(1, 65536, 256),
  // Idle actors are stopped after this long. 60 s keeps a card that is used every few minutes
  // (a festival visitor at the bar) warm enough while bounding memory for millions of cards.
  TAPLINE_PASSIVATE_AFTER_MS: int(1000, 86_400_000, 60_000),
  TAPLINE_PASSIVATION_SWEEP_MS: int(100, 600_000, 5_000),
  // Hard cap on actors in memory; past it new activations get RESOURCE_EXHAUSTED. Unset, it
  // follows the V8 heap (activeEntitiesMax below); set, it may not promise more than that heap
  // holds.
  TAPLINE_ACTIVE_ENTITIES_MAX: optionalEnvInt(1, 50_000_000),
  // Commands queued on one entity. A hot card at a venue takes hundreds of taps per second; 10,000
  // is seconds of backlog, beyond which waiting longer helps nobody.
  TAPLINE_MAILBOX_MAX: int(1, 1_000_000, 10_000),
  TAPLINE_DRAIN_BATCH_MAX: int(1, 100_000, 512),
  // Requests accepted and not yet answered, node-wide (unary and stream items together).
  TAPLINE_IN_FLIGHT_MAX: int(1, 10_000_000, 250_000),
  // Items accepted on one AuthorizeStream and not yet answered.
  TAPLINE_STREAM_IN_FLIGHT_MAX: int(1, 1_000_000, 100_000),
  // Items in one AuthorizeStream frame (and results in one frame sent back).
  TAPLINE_STREAM_FRAME_ITEMS_MAX: int(1, 100_000, 1_000),
  // Items of one stream (AuthorizeStream, or a peer's Forward) read and not yet written back:
  // running, or answered and waiting for the client to read its results. At this bound the node
  // stops reading the stream and HTTP/2 flow control stops the client, so a client that never
  // reads holds at most this much of the node's memory (~1 KB per item with its request and
  // result: ~10 MB). 10,000 is ten full frames: a gateway that reads its results never meets it.
  TAPLINE_STREAM_PENDING_ITEMS_MAX: int(1, 1_000_000, 10_000),
  // The same over all streams of one client connection, so opening more streams on one
  // connection does not multiply the bound: two streams' worth.
  TAPLINE_CONNECTION_PENDING_ITEMS_MAX: int(1, 10_000_000, 20_000),
  // Calls open at once on one client connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); a
  // client's further calls wait in its own queue until one ends. A terminal has one call open, a
  // gateway one stream and a few calls, a load driver a few hundred: 1,000 serves them all and
  // bounds what one connection can hold open.
  TAPLINE_GRPC_STREAMS_PER_CONNECTION_MAX: int(1, 1_000_000, 1_000),
  // A client connection older than this is asked to reconnect (HTTP/2 GOAWAY; grpc-js adds up
  // to 10% jitter), so gateways that keep one stream open for days rebalance over the nodes and
  // release what the connection holds. 30 minutes is rare next to a terminal's calls.
  TAPLINE_GRPC_CONNECTION_AGE_MAX_MS: int(1_000, 86_400_000, 1_800_000),
  // After the GOAWAY, calls still open get this long to finish before the connection is closed.
  // One minute covers a gateway finishing its frames and moving its stream to a new connection;
  // a call cut short at the end is retried by its client with the same key.
  TAPLINE_GRPC_CONNECTION_AGE_GRACE_MS: int(0, 3_600_000, 60_000),
  // Entries per commit script: bounds how long Redis is blocked by one script (10-25 µs each).
  // Script calls in flight: a script is written to Redis as soon as it fills (redis-write-now.ts),
  // so with 8 small scripts in flight Redis runs a burst's first entries while the node still
  // decides the rest, and replies the busy node has not read yet do not hold every slot; a script
  // that is not full waits until fewer than 2 are in flight. Bounds the entries in flight to
  // 4,000, as 2 x 2,000 did (docs/DECISIONS.md, "Commit scripts are written at once").
  TAPLINE_COMMIT_BATCH_MAX: int(1, 100_000, 500),
  TAPLINE_COMMIT_IN_FLIGHT_MAX: int(1, 64, 8),
  TAPLINE_COMMIT_PENDING_MAX: int(1, 10_000_000, 500_000),
  // A Redis command slower than this is treated as failed (outcome unknown; clients retry with
  // the same key). Well above a healthy fsync (an AOF rewrite can hold one for a second), well
  // below terminal time-outs (~15-30 s), and shorter than the shard lease (checked below): a node
  // whose Redis stalls learns that its commits' outcome is unknown before the lease it writes
  // under can lapse and another node take the shard, so its callers retry on the next owner
  // instead of waiting on a node that may no longer own anything.
  TAPLINE_REDIS_COMMAND_TIMEOUT_MS: int(10, 300_000, 2_000),
  TAPLINE_REDIS_RECONNECT_BACKOFF_MAX_MS: int(10, 60_000, 1_000),
  // Idempotency records are kept 7 days: terminals retry within minutes and reverse within hours;
  // a week covers offline terminals uploading after an event and keeps Redis memory bounded.
  TAPLINE_IDEMPOTENCY_TTL_S: int(60, 400 * 86_400, 7 * 86_400),
  // Answers kept in memory for quick retries (older keys are still found in Redis, at the cost
  // of a reload of the card). 50,000 is several seconds of peak traffic: retries come sooner.
  TAPLINE_IDEMPOTENCY_RECENT_MAX: int(0, 10_000_000, 50_000),
  TAPLINE_CONFLICT_ATTEMPTS_MAX: int(1, 100, 5),
  // Requests that may wait for the answer of one idempotency key still committing (retries of a
  // request in flight). A terminal retries a few times; more than this is a retry storm, refused
  // with RESOURCE_EXHAUSTED rather than grown without bound.
  TAPLINE_IDEMPOTENCY_WAITERS_MAX: int(1, 100_000, 1_024),
  // Largest request message accepted, bytes. A frame of 1,000 stream items is ~150 KB.
  TAPLINE_GRPC_MESSAGE_MAX_BYTES: int(1024, 64 * 1024 * 1024, 4 * 1024 * 1024),
  // On SIGTERM: stop accepting, wait this long for in-flight requests and commits, then exit.
  // Kept below Kubernetes' terminationGracePeriodSeconds (chart: 30 s).
  TAPLINE_SHUTDOWN_GRACE_MS: int(0, 600_000, 20_000),
  // Key of the PIN hashes (HMAC-SHA256). No default: a secret must never be a constant
  // in the code. Unset, cards can be issued and used without a PIN but a PIN is refused
  // (FAILED_PRECONDITION). At least 16 characters; never logged.
  TAPLINE_PIN_SECRET: z.string().min(16).optional(),
  // Wrong manager PINs (refunds) in a row before that manager is refused for
  // TAPLINE_MANAGER_LOCK_MS, whatever PIN is given: a 4-digit PIN is not guessable at 5 tries per
  // 15 minutes. Counted in Redis, one count for every node, kept across restarts.
  TAPLINE_MANAGER_PIN_ATTEMPTS_MAX: int(1, 1_000, 5),
  TAPLINE_MANAGER_LOCK_MS: int(1_000, 86_400_000, 900_000),
  // Master keys of cards that authenticate (anti-cloning; docs/CARDS.md, "Cards that authenticate"):
  // "<key id>:<32 hex digits>" (AES-128), comma-separated, at most 32; from a Secret, never logged.
  // A program names the key its cards are diversified from; every node holds the same keys. Unset:
  // no program or card may name a key, and a card that authenticates is declined (key_unavailable).
  TAPLINE_CARD_AUTH_KEYS: z.string().optional(),
  // Key of the hashes that stand for visitors' bank card numbers (open loop: HMAC-SHA256 of the
  // PAN, docs/CARDS.md "Bank cards"). No default; unset, bank cards by PAN are refused
  // (FAILED_PRECONDITION) and PARs still work. At least 32 characters; never logged. Changing it
  // orphans every registered PAN (they must be registered again).
  TAPLINE_TOKEN_SECRET: z.string().min(32).optional(),
  // Shared secret of the signed PSP callbacks (HMAC-SHA256) of an integration that signs them (the
  // simulated PSP of the demo and the tests; the production entry point refuses it). No default.
  // At least 16 characters; never logged.
  TAPLINE_PSP_SECRET: z.string().min(16).optional(),
  // The production PSP (docs/CARDS.md, "Top-ups"): none, or mollie (Payments API v2). None: PSP
  // top-ups and auto-reload are refused (FAILED_PRECONDITION).
  TAPLINE_PSP_PROVIDER: z.enum(['none', 'mollie']).default('none'),
  // Mollie's API key ("live_..." or "test_..."), from a Secret; never logged.
  TAPLINE_MOLLIE_API_KEY: z
    .string()
    .regex(/^(live|test)_[A-Za-z0-9]{10,100}$/, 'must be a Mollie API key (live_... or test_...)')
    .optional(),
  // Mollie's API. Only tests point it elsewhere (a local server that implements the contract).
  TAPLINE_MOLLIE_API_URL: z.string().url().default('https://api.mollie.com'),
  // A payment method Mollie's checkout preselects ("ideal"); unset, it offers every enabled one.
  TAPLINE_MOLLIE_METHOD: z
    .string()
    .regex(/^[a-z0-9_]{1,32}$/)
    .optional(),
  // The public URL of this deployment's PSP webhook (an ingress to TAPLINE_PSP_WEBHOOK_PORT): Mollie
  // posts payment status changes there. Its path is the one the listener serves.
  TAPLINE_PSP_WEBHOOK_URL: z.string().url().optional(),
  // Where the holder's browser returns after paying at the PSP.
  TAPLINE_PSP_REDIRECT_URL: z.string().url().optional(),
  // The PSP webhook listener (HTTP). -1: none; 0 picks a free port (tests). It serves only the
  // webhook's path, so it may face the internet through an ingress while the gRPC ports do not.
  TAPLINE_PSP_WEBHOOK_PORT: int(-1, 65535, -1),
  // A call to the PSP's API slower than this is given up (PSP_UNAVAILABLE; the caller or the PSP
  // retries). 10 s: Mollie answers in well under a second, and a webhook answered later than that
  // is retried by Mollie anyway.
  TAPLINE_PSP_REQUEST_TIMEOUT_MS: int(100, 60_000, 10_000),
  // A program's cached configuration is reread after this long, so a change made through
  // another node reaches this one within 10 s; cards reread it anyway when they are loaded.
  TAPLINE_PROGRAM_REFRESH_MS: int(100, 3_600_000, 10_000),
  // --- Cluster (docs/CLUSTER.md). The internal port serves only the node-to-node API.
  TAPLINE_INTERNAL_HOST: z.string().optional(),
  TAPLINE_INTERNAL_PORT: int(0, 65535, 50052),
  // host:port peers use to reach this node's internal port (a pod's stable DNS name in Kubernetes).
  // Default: TAPLINE_INTERNAL_HOST (or TAPLINE_GRPC_HOST) with the bound internal port.
  TAPLINE_ADVERTISE_ADDRESS: z
    .string()
    .regex(/^[A-Za-z0-9.\-[\]:]+:[0-9]{1,5}$/)
    .optional(),
  // Heartbeat / lease renewal / placement period. 500 ms: a graceful hand-off completes within
  // about one period, and it costs each node two small scripts per period.
  TAPLINE_CLUSTER_TICK_MS: int(20, 60_000, 500),
  // A member that has not heartbeat for this long is gone; its shards move once their leases
  // expire. 3 s is 6 missed heartbeats: a GC pause or a Redis hiccup does not evict a node.
  TAPLINE_MEMBER_TTL_MS: int(100, 600_000, 3_000),
  // A shard lease not renewed for this long may be taken by the shard's new owner; this bounds
  // the unavailability of a crashed node's shards (plus one take retry).
  TAPLINE_SHARD_LEASE_MS: int(100, 600_000, 3_000),
  // While a shard it should own is still leased elsewhere, a node retries the take this often.
  TAPLINE_TAKE_RETRY_MS: int(5, 60_000, 50),
  // A call whose shard is moving is retried this often, for at most TAPLINE_ROUTE_WAIT_MAX_MS
  // (and never past its deadline). The wait bound covers a crashed owner's lease plus a margin.
  TAPLINE_ROUTE_RETRY_MS: int(1, 10_000, 20),
  TAPLINE_ROUTE_WAIT_MAX_MS: int(10, 600_000, 10_000),
  // Forwarded calls awaiting their owner's answer, per peer link.
  TAPLINE_FORWARD_IN_FLIGHT_MAX: int(1, 10_000_000, 100_000),
  // Terminals of other nodes' shards are read from Redis and trusted this long: a disabled
  // terminal may still transact on other nodes for up to this long (docs/CLUSTER.md).
  TAPLINE_TERMINAL_CACHE_MS: int(0, 600_000, 1_000),
  TAPLINE_TERMINAL_CACHE_MAX: int(1, 10_000_000, 100_000),
  // --- Offline selling (docs/OFFLINE.md).
  // Listing changes kept per shard for denylist deltas; a terminal further behind gets a snapshot.
  // 4,096 per shard (about a million changes over 256 shards, ~60 MB of Redis) covers a terminal
  // that was away for a busy event; a snapshot of a million listed cards is ~20 MB, paged.
  TAPLINE_DENYLIST_LOG_PER_SHARD_MAX: int(16, 10_000_000, 4_096),
  // Tapline's Ed25519 private key (PEM, PKCS#8) that signs the bases of card offline-spend
  // counters (RefreshCardCounter). No default: unset, programs whose cards carry a counter cannot
  // be sold offline within it (their offline sales are the merchant's), and RefreshCardCounter is
  // FAILED_PRECONDITION. Never logged.
  TAPLINE_OFFLINE_COUNTER_KEY_FILE: z.string().optional(),
  // Cards an offline batch's merge works on at once (each card's entries stay in order). The
  // default is a whole batch (500 entries at most, so at most 500 cards): its entries reach their
  // cards in one wave and are committed in the same group commits, instead of in rounds of a
  // Redis round trip each (64 cards at once merged at under half the rate of online streams).
  // A batch bounds it anyway; a lower value spreads one upload's calls on the cluster.
  TAPLINE_OFFLINE_MERGE_CARDS_IN_FLIGHT: int(1, 10_000, 500),
  // Terminals a node reports the denylist age of (tapline_offline_denylist_age_seconds, one series
  // each): those of its shards whose offline grant is valid. 10,000 covers the offline terminals of
  // a large venue group on one node while the series stay a few MB in Prometheus; past it, further
  // terminals are not reported (logged).
  TAPLINE_OFFLINE_DENYLIST_AGE_TERMINALS_MAX: int(1, 1_000_000, 10_000),
  // --- Doors (README "Doors and roles"). The terminal API listens on TAPLINE_GRPC_HOST:PORT, the
  // operator API (Admin, Card, FleetAdmin and Approval services) on its own port, the node-to-node
  // API on TAPLINE_INTERNAL_PORT: each with its own TLS settings and access rules.
  TAPLINE_OPERATOR_HOST: z.string().optional(),
  TAPLINE_OPERATOR_PORT: int(0, 65535, 50053),
  // The development switch: every gRPC door plaintext, terminals trusted to name themselves, any
  // caller on the internal port taken for a node. Logged as an error at start and on every door.
  // Never set in production (the chart has no value for it).
  TAPLINE_DEV_PLAINTEXT: z.enum(['true', 'false']).default('false'),
  // The node's certificate and key: the server identity of every door and the client identity of
  // its links to peers. It must name this node (spiffe://<trust domain>/node/<TAPLINE_NODE_ID>).
  TAPLINE_TLS_CERT_FILE: z.string().optional(),
  TAPLINE_TLS_KEY_FILE: z.string().optional(),
  // CA bundle that signs terminal and gateway certificates (the terminal door).
  TAPLINE_TLS_CLIENT_CA_FILE: z.string().optional(),
  // CA bundle that signs node certificates (the internal door, both ways). May be the same file.
  TAPLINE_TLS_CLUSTER_CA_FILE: z.string().optional(),
  // Revoked client certificate serials, one hex serial per line; reread when it changes, checked
  // on every call. Optional: without it nothing is revoked.
  TAPLINE_TLS_REVOKED_FILE: z.string().optional(),
  // How often certificate, CA, revocation and key files are reread (rotation without a restart).
  // 10 s: a revocation takes effect within seconds; a reread costs a few small file reads.
  TAPLINE_TLS_RELOAD_MS: int(50, 3_600_000, 10_000),
  // The SPIFFE trust domain of client and node certificates.
  TAPLINE_TRUST_DOMAIN: z
    .string()
    .regex(/^[a-z0-9.-]{1,253}$/)
    .default('tapline'),
  // Trusted token issuers, as JSON: [{"issuer":"https://idp.example/","jwks_url":"https://idp.example/jwks"}]
  // or with "jwks_file" (a local JWKS, reread when it changes). Required: the operator door
  // accepts no caller without a token from one of them.
  TAPLINE_OIDC_ISSUERS: z.string().optional(),
  // The audience tokens must be issued for.
  TAPLINE_OIDC_AUDIENCE: z.string().min(1).max(256).default('tapline'),
  // The claim holding the role grants: [{"role":"support","scope":["*"]}].
  TAPLINE_OIDC_ROLES_CLAIM: z
    .string()
    .regex(/^[A-Za-z0-9_:/.-]{1,128}$/)
    .default('tapline_roles'),
  // Clock skew tolerated on a token's exp and nbf: clocks of an identity provider and a node drift
  // by seconds; 30 s is the usual allowance and shorter than any useful token lifetime.
  TAPLINE_OIDC_CLOCK_TOLERANCE_S: int(0, 600, 30),
  // Four eyes: an issuance whose initial balances together exceed this (minor units, any
  // currency) waits for a second principal. 100,000 is 1,000.00 of a two-decimal currency, above
  // what a festival wristband or a gift card is loaded with, so only unusual issuances wait.
  TAPLINE_FOUR_EYES_AMOUNT_MINOR: int(0, 1_000_000_000_000_000, 100_000),
  // A held request not approved within this is dropped (a week covers a weekend and a holiday).
  TAPLINE_APPROVAL_TTL_S: int(60, 90 * 86_400, 7 * 86_400),
  // Terminals whose merchant a node remembers for gateway and merchant-admin checks (a terminal's
  // merchant never changes once registered, so remembered answers never go stale).
  TAPLINE_TERMINAL_MERCHANTS_MAX: int(1, 10_000_000, 100_000),
});

export type NodeConfig = z.infer<typeof schema> & { readonly redis: RedisTarget };

export { ConfigError };

export function loadConfig(env: Record<string, string | undefined> = process.env): NodeConfig {
  const config = parseEnv(schema, env);
  const problems: string[] = [];
  if (config.TAPLINE_DRAIN_BATCH_MAX > config.TAPLINE_MAILBOX_MAX) problems.push('TAPLINE_DRAIN_BATCH_MAX must be <= TAPLINE_MAILBOX_MAX');
  if (config.TAPLINE_STREAM_IN_FLIGHT_MAX > config.TAPLINE_IN_FLIGHT_MAX)
    problems.push('TAPLINE_STREAM_IN_FLIGHT_MAX must be <= TAPLINE_IN_FLIGHT_MAX');
  if (config.TAPLINE_STREAM_PENDING_ITEMS_MAX > config.TAPLINE_CONNECTION_PENDING_ITEMS_MAX)
    problems.push('TAPLINE_STREAM_PENDING_ITEMS_MAX must be <= TAPLINE_CONNECTION_PENDING_ITEMS_MAX');
  if (config.TAPLINE_STREAM_FRAME_ITEMS_MAX > config.TAPLINE_STREAM_PENDING_ITEMS_MAX)
    problems.push('TAPLINE_STREAM_FRAME_ITEMS_MAX must be <= TAPLINE_STREAM_PENDING_ITEMS_MAX (a frame is read whole)');
  if (config.TAPLINE_COMMIT_PENDING_MAX < config.TAPLINE_COMMIT_BATCH_MAX)
    problems.push('TAPLINE_COMMIT_PENDING_MAX must be >= TAPLINE_COMMIT_BATCH_MAX');
  if (config.TAPLINE_PASSIVATION_SWEEP_MS > config.TAPLINE_PASSIVATE_AFTER_MS)
    problems.push('TAPLINE_PASSIVATION_SWEEP_MS must be <= TAPLINE_PASSIVATE_AFTER_MS');
  if (config.TAPLINE_CLUSTER_TICK_MS * 2 > config.TAPLINE_SHARD_LEASE_MS)
    problems.push('TAPLINE_CLUSTER_TICK_MS must be at most half of TAPLINE_SHARD_LEASE_MS (a lease must survive one missed renewal)');
  if (config.TAPLINE_CLUSTER_TICK_MS * 2 > config.TAPLINE_MEMBER_TTL_MS)
    problems.push('TAPLINE_CLUSTER_TICK_MS must be at most half of TAPLINE_MEMBER_TTL_MS');
  if (config.TAPLINE_REDIS_COMMAND_TIMEOUT_MS >= config.TAPLINE_SHARD_LEASE_MS)
    problems.push(
      'TAPLINE_REDIS_COMMAND_TIMEOUT_MS must be shorter than TAPLINE_SHARD_LEASE_MS (a stalled write is given up before its lease can lapse)',
    );
  if (config.TAPLINE_ROUTE_RETRY_MS > config.TAPLINE_ROUTE_WAIT_MAX_MS)
    problems.push('TAPLINE_ROUTE_RETRY_MS must be <= TAPLINE_ROUTE_WAIT_MAX_MS');
  problems.push(...doorProblems(config));
  problems.push(...pspProblems(config));
  try {
    CardAuthKeys.parse(config.TAPLINE_CARD_AUTH_KEYS);
  } catch (error) {
    // The message names the entry, never a key.
    problems.push(`TAPLINE_CARD_AUTH_KEYS: ${(error as Error).message}`);
  }
  const redis = redisTargetOf(config, config.TAPLINE_REDIS_COMMAND_TIMEOUT_MS, problems);
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  return { ...config, redis };
}

/** A PSP provider needs all of its settings; settings of a provider not chosen are a mistake. */
function pspProblems(config: z.infer<typeof schema>): string[] {
  const problems: string[] = [];
  if (config.TAPLINE_PSP_PROVIDER === 'mollie') {
    for (const [name, value] of [
      ['TAPLINE_MOLLIE_API_KEY', config.TAPLINE_MOLLIE_API_KEY],
      ['TAPLINE_PSP_WEBHOOK_URL', config.TAPLINE_PSP_WEBHOOK_URL],
      ['TAPLINE_PSP_REDIRECT_URL', config.TAPLINE_PSP_REDIRECT_URL],
    ] as const) {
      if (value === undefined) problems.push(`TAPLINE_PSP_PROVIDER=mollie needs ${name}`);
    }
    if (config.TAPLINE_PSP_WEBHOOK_PORT < 0)
      problems.push('TAPLINE_PSP_PROVIDER=mollie needs TAPLINE_PSP_WEBHOOK_PORT (Mollie reports payments there)');
  } else if (config.TAPLINE_MOLLIE_API_KEY !== undefined) {
    problems.push('TAPLINE_MOLLIE_API_KEY is set but TAPLINE_PSP_PROVIDER is not mollie');
  }
  return problems;
}

/**
 * Share of the V8 heap that active entity actors may fill. The rest is the node's working set:
 * requests and decisions in flight, commit batches, stream buffers, caches, and the garbage V8
 * lets build up between collections.
 */
export const active_entities_heap_share = 0.5;

/**
 * What one active entity actor holds, bytes. loadtest/card-memory.ts measures 1,808 for a card's
 * actor and state alone (docs/CLUSTER.md); a node process holding actors at its cap measured
 * ~2,600 each (nact's system map and its dictionary-mode objects grow with them). Rounded up, for
 * cards with holds, review entries and rule counters.
 */
export const active_entity_bytes_estimate = 3_072;

/**
 * The cap on actors in memory for a heap of `heap_size_limit_bytes` (v8.getHeapStatistics()):
 * TAPLINE_ACTIVE_ENTITIES_MAX when set, else as many as half the heap holds. A fixed cap would
 * either waste a large heap or, past what a small one holds, let the node die of heap exhaustion
 * instead of answering RESOURCE_EXHAUSTED (2,000,000 actors are ~5 GB; the chart's 768 MB heap
 * holds 131,072 with room for its working set). A configured cap past what the heap holds is
 * refused at start.
 */
export function activeEntitiesMax(config: Pick<NodeConfig, 'TAPLINE_ACTIVE_ENTITIES_MAX'>, heap_size_limit_bytes: number): number {
  const fits = Math.max(1, Math.floor((heap_size_limit_bytes * active_entities_heap_share) / active_entity_bytes_estimate));
  const configured = config.TAPLINE_ACTIVE_ENTITIES_MAX;
  if (configured === undefined) return fits;
  if (configured > fits) {
    const heap_mb = Math.round(heap_size_limit_bytes / 1024 / 1024);
    throw new ConfigError(
      `invalid configuration: TAPLINE_ACTIVE_ENTITIES_MAX (${configured}) is more actors than this process's V8 heap (${heap_mb} MB) holds: at most ${fits} (${active_entities_heap_share * 100}% of the heap at ${active_entity_bytes_estimate} bytes each); raise --max-old-space-size or unset it`,
    );
  }
  return configured;
}

/** Secure by default: without the development switch, every door needs its TLS files and tokens an issuer. */
function doorProblems(config: Omit<NodeConfig, 'redis'>): string[] {
  const problems: string[] = [];
  if (config.TAPLINE_OIDC_ISSUERS === undefined)
    problems.push('TAPLINE_OIDC_ISSUERS is required (the operator door takes no caller without a token)');
  if (config.TAPLINE_DEV_PLAINTEXT === 'true') return problems;
  for (const name of [
    'TAPLINE_TLS_CERT_FILE',
    'TAPLINE_TLS_KEY_FILE',
    'TAPLINE_TLS_CLIENT_CA_FILE',
    'TAPLINE_TLS_CLUSTER_CA_FILE',
  ] as const)
    if (config[name] === undefined) problems.push(`${name} is required (set TAPLINE_DEV_PLAINTEXT=true only for development)`);
  return problems;
}

/** The node runs its doors in plaintext (the development switch). */
export function plaintext(config: NodeConfig): boolean {
  return config.TAPLINE_DEV_PLAINTEXT === 'true';
}
