-- Group commit: applies a batch of independent entries, each atomically, in order.
--
-- ARGV is flat (no JSON, so nothing is escaped or parsed twice):
--   ttlSeconds, shardCount, (epochKey, expectedEpoch) * shardCount,
--   then per entry:
--     shardIndex (1-based; "i,j,..." for an entry that writes on several shards, e.g. a card
--       replacement: it is fenced by every one of them), writeCount,
--     (key, expectedVersion, data or "") * writeCount,
--     idempotencyKey or "", idempotencyValue,
--     claimCount, (claimKey, claimValue) * claimCount,
--     outboxStream or "", outboxPayload (empty: the same document as the idempotency value),
--     extraOutboxCount, (outboxStream, payload) * extraOutboxCount (documents for other cards or shards)
-- An empty data string means "check the version only"; entity states are never empty.
--
-- Per entry, nothing is written unless every check passes:
--   F  the shard's epoch is not the one the writer holds (a newer owner took it: fenced)
--   C  an entity version differs from the expected one, or a claim key exists (conflict)
--   D  the idempotency key exists: the request was already answered; its record is returned
--   K  committed: states written (version + 1), idempotency record and claims set with the TTL,
--      outbox entry appended
-- Versions are tracked across entries, so entries of one entity chain within a batch.
-- Returns { "<one status letter per entry>", entryIndex1, record1, entryIndex2, record2, ... }.

local ttl = ARGV[1]
local shard_count = tonumber(ARGV[2])
local shard_ok = {}
local at = 3
for i = 1, shard_count do
  shard_ok[i] = (redis.call('GET', ARGV[at]) == ARGV[at + 1])
  at = at + 2
end

local versions = {}
local statuses = {}
local duplicates = {}
local argc = #ARGV

local function current_version(key)
  local version = versions[key]
  if version == nil then
    version = tonumber(redis.call('HGET', key, 'v') or '0')
    versions[key] = version
  end
  return version
end

local entry = 0
while at <= argc do
  entry = entry + 1
  local status = 'K'
  local shard_index = tonumber(ARGV[at])
  if shard_index then
    if not shard_ok[shard_index] then status = 'F' end
  else
    for index in string.gmatch(ARGV[at], '[^,]+') do
      if not shard_ok[tonumber(index)] then status = 'F' end
    end
  end
  local write_count = tonumber(ARGV[at + 1])
  local writes_at = at + 2
  at = writes_at + 3 * write_count
  local idem_key, idem_value = ARGV[at], ARGV[at + 1]
  local claim_count = tonumber(ARGV[at + 2])
  local claims_at = at + 3
  at = claims_at + 2 * claim_count
  local outbox_key, outbox_value = ARGV[at], ARGV[at + 1]
  local extra_count = tonumber(ARGV[at + 2])
  local extras_at = at + 3
  at = extras_at + 2 * extra_count

  if status == 'K' then
    for w = 0, write_count - 1 do
      local base = writes_at + 3 * w
      if current_version(ARGV[base]) ~= tonumber(ARGV[base + 1]) then
        status = 'C'
        break
      end
    end
  end
  if status == 'K' and idem_key ~= '' then
    local existing = redis.call('GET', idem_key)
    if existing then
      status = 'D'
      duplicates[#duplicates + 1] = entry
      duplicates[#duplicates + 1] = existing
    end
  end
  if status == 'K' then
    for c = 0, claim_count - 1 do
      if redis.call('EXISTS', ARGV[claims_at + 2 * c]) == 1 then
        status = 'C'
        break
      end
    end
  end
  if status == 'K' then
    for w = 0, write_count - 1 do
      local base = writes_at + 3 * w
      if ARGV[base + 2] ~= '' then
        local next_version = tonumber(ARGV[base + 1]) + 1
        redis.call('HSET', ARGV[base], 'v', next_version, 'd', ARGV[base + 2])
        versions[ARGV[base]] = next_version
      end
    end
    if idem_key ~= '' then
      redis.call('SET', idem_key, idem_value, 'EX', ttl)
    end
    for c = 0, claim_count - 1 do
      redis.call('SET', ARGV[claims_at + 2 * c], ARGV[claims_at + 2 * c + 1], 'EX', ttl)
    end
    if outbox_key ~= '' then
      if outbox_value == '' then outbox_value = idem_value end
      redis.call('XADD', outbox_key, '*', 'd', outbox_value)
    end
    for x = 0, extra_count - 1 do
      redis.call('XADD', ARGV[extras_at + 2 * x], '*', 'd', ARGV[extras_at + 2 * x + 1])
    end
  end
  statuses[entry] = status
end

local result = { table.concat(statuses) }
for _, value in ipairs(duplicates) do
  result[#result + 1] = value
end
return result
