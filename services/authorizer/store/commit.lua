-- Group commit: applies a batch of independent entries atomically per entry, in order.
--
-- ARGV[1] is JSON: { "s": [[epochKey, expectedEpoch], ...], "t": ttlSeconds,
--                    "e": [ { "h": shardIndex (0-based into s),
--                             "w": [[key, expectedVersion, dataOrFalse], ...],
--                             "k": [idempotencyKey, value] (optional),
--                             "c": [[claimKey, value], ...] (optional, must not exist),
--                             "o": [streamKey, payload] (optional) }, ... ] }
--
-- Per entry, nothing is written unless every check passes:
--   F  the shard's epoch is not the one the writer holds (a newer owner took it: fenced)
--   C  an entity version differs from the expected one, or a claim key exists (conflict)
--   D  the idempotency key exists: the request was already answered; its record is returned
--   K  committed: states written (version + 1), idempotency record and claims set with the TTL,
--      outbox entry appended
-- Versions are tracked across entries, so entries of one entity chain within a batch.
-- Returns { "<one status letter per entry>", entryIndex1, record1, entryIndex2, record2, ... }.

local batch = cjson.decode(ARGV[1])
local ttl = batch.t

local shard_ok = {}
for i, shard in ipairs(batch.s) do
  shard_ok[i] = (redis.call('GET', shard[1]) == shard[2])
end

local versions = {}
local statuses = {}
local duplicates = {}

local function current_version(key)
  local version = versions[key]
  if version == nil then
    version = tonumber(redis.call('HGET', key, 'v') or '0')
    versions[key] = version
  end
  return version
end

for i, entry in ipairs(batch.e) do
  local status = 'K'
  if not shard_ok[entry.h + 1] then
    status = 'F'
  end
  if status == 'K' and entry.w then
    for _, write in ipairs(entry.w) do
      if current_version(write[1]) ~= write[2] then
        status = 'C'
        break
      end
    end
  end
  if status == 'K' and entry.k then
    local existing = redis.call('GET', entry.k[1])
    if existing then
      status = 'D'
      duplicates[#duplicates + 1] = i
      duplicates[#duplicates + 1] = existing
    end
  end
  if status == 'K' and entry.c then
    for _, claim in ipairs(entry.c) do
      if redis.call('EXISTS', claim[1]) == 1 then
        status = 'C'
        break
      end
    end
  end
  if status == 'K' then
    if entry.w then
      for _, write in ipairs(entry.w) do
        if write[3] ~= false then
          local next_version = write[2] + 1
          redis.call('HSET', write[1], 'v', next_version, 'd', write[3])
          versions[write[1]] = next_version
        end
      end
    end
    if entry.k then
      redis.call('SET', entry.k[1], entry.k[2], 'EX', ttl)
    end
    if entry.c then
      for _, claim in ipairs(entry.c) do
        redis.call('SET', claim[1], claim[2], 'EX', ttl)
      end
    end
    if entry.o then
      redis.call('XADD', entry.o[1], '*', 'd', entry.o[2])
    end
  end
  statuses[i] = status
end

local result = { table.concat(statuses) }
for _, value in ipairs(duplicates) do
  result[#result + 1] = value
end
return result
