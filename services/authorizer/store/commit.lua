-- Group commit: applies a batch of independent entries, each atomically, in order.
--
-- ARGV: ttlSeconds, preflight ("1" or "0"), shardCount, (epochKey, expectedEpoch) * shardCount, body.
-- KEYS[1]: the first shard's epoch key (routes the call to that slot's primary on Redis Cluster).
-- The body carries the entries as fields, each field ended by a NUL byte (committer.ts makes
-- sure no field contains one: JSON text never does and every key is built from validated ids).
-- One body string instead of one ARGV string per field: the node encodes and writes a batch as
-- one buffer, and Redis parses one bulk string instead of thousands.
-- Fields per entry:
--   shardIndex (1-based; "i,j,..." for an entry that writes on several shards, e.g. a card
--     replacement: it is fenced by every one of them), writeCount,
--   (key, expectedVersion, data or "") * writeCount,
--   recordKey or "", recordValue (the request key's idempotency record: on its home shard, or on
--     the entry's shard when the home shard is another slot of a Redis Cluster, whose key record
--     was then claimed beforehand by key-claims.lua; keys.ts),
--   claimCount, (claimKey, claimValue) * claimCount (tombstones of request keys, placed the same
--     way, and reversal claims),
--   outboxStream or "", outboxPayload (empty: the same document as the idempotency value),
--   extraOutboxCount, (outboxStream, payload) * extraOutboxCount (documents for other cards or shards),
--   denylist change or "": "<prefix> <card> <reason> <logMax>" (a card's listing changed; reason ""
--     = removed): the shard's denylist version is incremented, the change logged under it (the
--     log trimmed to logMax), the card's current listing and its listing history updated,
--   grant usage key or "" (a terminal's per-card usage of its offline grant; when "", no more
--     fields): reset ("1": the hash is deleted first, a new grant) or "", then the accepted
--     batch's field ("#<batch>") and its value (its cards' sales, "<card> <minor> ..."), set as
--     they are, or "" and nothing more (keys.ts offline_usage)
-- An empty data string means "check the version only"; entity states are never empty.
--
-- Per entry, nothing is written unless every check passes:
--   F  the shard's epoch is not the one the writer holds (a newer owner took it: fenced)
--   C  an entity version differs from the expected one, or a claim key exists (conflict)
--   D  the request was already answered: its record exists, or its key holds a key record (a record
--      key: written by key-claims.lua, or by an older build) naming a record that exists; that
--      record is returned
--   R  its key holds a key record naming a record that does not exist (yet): the key is taken
--   K  committed: states written (version + 1), idempotency record and claims set with the TTL,
--      outbox entry appended
-- A record returned for D is written again unchanged (KEEPTTL): the WAIT that follows the script
-- then covers it, so a duplicate answer, like a commit, is on the replicas before it is given.
-- Versions are tracked across entries, so entries of one entity chain within a batch.
-- Returns { "<one status letter per entry>", entryIndex1, record1, entryIndex2, record2, ... }.
--
-- Preflight (Redis Cluster): a script's writes are not undone when a later command fails, and while
-- its slot migrates a key already moved to another primary fails when touched. So before anything
-- is written every key of the batch is touched once (redis.pcall, which returns the failure instead
-- of raising it); if one is not here the script answers TRYAGAIN having written nothing. Once the
-- script runs, no key can move until it ends (a migration is a command too).

local ttl = ARGV[1]
local preflight = ARGV[2] == '1'
local shard_count = tonumber(ARGV[3])
local shard_ok = {}
local at = 4
for i = 1, shard_count do
  shard_ok[i] = (redis.call('GET', ARGV[at]) == ARGV[at + 1])
  at = at + 2
end

local body = ARGV[at]
local body_end = #body
local find, sub = string.find, string.sub
local pos = 1

-- The next field of the body.
local function field()
  local stop = find(body, '\0', pos, true)
  local value = sub(body, pos, stop - 1)
  pos = stop + 1
  return value
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

-- Reads a count field, then that many (key, value) field pairs into two arrays; returns the count.
local function pairs_into(keys, values)
  local count = tonumber(field())
  for i = 1, count do
    keys[i] = field()
    values[i] = field()
  end
  return count
end

-- A key record: a value naming the key of the record that answers a request key. Records are
-- JSON (an array or an object), so they never start like a key.
local function is_key_record(value)
  return sub(value, 1, 4) == 'tl:{'
end

-- The status and record of a request key whose key holds `existing` (a record or a key record):
-- 'D' with the record and the key it is under, or 'R' when a key record names a record not there.
local function answered(key, existing)
  if not is_key_record(existing) then return 'D', key, existing end
  local record = redis.call('GET', existing)
  if record then return 'D', existing, record end
  return 'R'
end

-- Returns a duplicate's record after writing it again unchanged (see above).
local function duplicate(key, value)
  redis.call('SET', key, value, 'KEEPTTL')
  return value
end

-- Transitions of a card's listing kept in its history (actors/offline/denylist.ts listing_history_max).
local history_max = 16

-- Applies a card's denylist change (see the header); the keys are the entry shard's.
local function denylist_change(spec)
  local prefix, card, reason, log_max = string.match(spec, '^(%S+) (%S+) (%S*) (%d+)$')
  local version = redis.call('INCR', prefix .. 'v')
  redis.call('ZADD', prefix .. 'log', version, version .. ' ' .. card .. ' ' .. reason)
  if reason == '' then
    redis.call('HDEL', prefix .. 'cards', card)
  else
    redis.call('HSET', prefix .. 'cards', card, version .. ' ' .. reason)
  end
  local item = version .. ':' .. reason
  local history = redis.call('HGET', prefix .. 'hist', card)
  if history then
    history = history .. ',' .. item
    local _, count = string.gsub(history, ',', ',')
    if count >= history_max then history = sub(history, find(history, ',', 1, true) + 1) end
  else
    history = item
  end
  redis.call('HSET', prefix .. 'hist', card, history)
  local excess = redis.call('ZCARD', prefix .. 'log') - tonumber(log_max)
  if excess > 0 then redis.call('ZREMRANGEBYRANK', prefix .. 'log', 0, excess - 1) end
end

-- The fields of the entry being applied, reused from one entry to the next.
local write_keys, write_versions, write_data = {}, {}, {}
local claim_keys, claim_values = {}, {}
local extra_keys, extra_values = {}, {}
local usage_reset = false
local usage_field, usage_value = '', ''

-- Reads the grant usage fields into the locals above (none when the key is ""); returns the key.
local function parse_usage()
  local key = field()
  usage_field = ''
  if key ~= '' then
    usage_reset = field() == '1'
    usage_field = field()
    if usage_field ~= '' then usage_value = field() end
  end
  return key
end

-- Applies a terminal's grant usage change (see the header): one field per accepted batch, written
-- as the node packed it; the node sums the fields when it reads the terminal. Not one counter per
-- card read and written here: an upload adds up to 500 cards, which cost Redis ~1.7 us per entry.
local function usage_change(key)
  if usage_reset then redis.call('DEL', key) end
  if usage_field ~= '' then redis.call('HSET', key, usage_field, usage_value) end
end

-- Reads the next entry's fields into the tables above; returns them (counts and single fields).
local function parse_entry()
  local fencing = field()
  local write_count = tonumber(field())
  for w = 1, write_count do
    write_keys[w] = field()
    write_versions[w] = tonumber(field())
    write_data[w] = field()
  end
  local idem_key, idem_value = field(), field()
  local claim_count = pairs_into(claim_keys, claim_values)
  local outbox_key, outbox_value = field(), field()
  local extra_count = pairs_into(extra_keys, extra_values)
  local denylist = field()
  local usage_key = parse_usage()
  return fencing, write_count, idem_key, idem_value, claim_count, outbox_key, outbox_value, extra_count, denylist, usage_key
end

if preflight then
  local missing = nil
  local function touch(key)
    if key ~= '' and not missing then
      local reply = redis.pcall('EXISTS', key)
      if type(reply) == 'table' and reply.err then missing = key end
    end
  end
  while pos <= body_end and not missing do
    local _, write_count, idem_key, _, claim_count, outbox_key, _, extra_count, denylist, usage_key = parse_entry()
    for w = 1, write_count do touch(write_keys[w]) end
    touch(idem_key)
    for c = 1, claim_count do touch(claim_keys[c]) end
    touch(outbox_key)
    for x = 1, extra_count do touch(extra_keys[x]) end
    if denylist ~= '' then
      local prefix = string.match(denylist, '^(%S+)')
      for _, suffix in ipairs({ 'v', 'log', 'cards', 'hist' }) do touch(prefix .. suffix) end
    end
    touch(usage_key)
  end
  if missing then return redis.error_reply('TRYAGAIN key ' .. missing .. ' is not on this primary (slot moving); nothing written') end
  pos = 1
end

local entry = 0
while pos <= body_end do
  entry = entry + 1
  local status = 'K'
  local fencing, write_count, idem_key, idem_value, claim_count, outbox_key, outbox_value, extra_count, denylist, usage_key =
    parse_entry()
  local shard_index = tonumber(fencing)
  if shard_index then
    if not shard_ok[shard_index] then status = 'F' end
  else
    for index in string.gmatch(fencing, '[^,]+') do
      if not shard_ok[tonumber(index)] then status = 'F' end
    end
  end

  if status == 'K' then
    for w = 1, write_count do
      if current_version(write_keys[w]) ~= write_versions[w] then
        status = 'C'
        break
      end
    end
  end
  -- An entry without claims (nearly every one) checks and writes its record in one command: SET NX
  -- GET writes it only if the key is free and answers what the key held otherwise.
  local record_written = false
  if status == 'K' and idem_key ~= '' then
    local existing
    if claim_count == 0 then
      existing = redis.call('SET', idem_key, idem_value, 'NX', 'GET', 'EX', ttl)
      record_written = not existing
    else
      existing = redis.call('GET', idem_key)
    end
    if existing then
      local found_key, record
      status, found_key, record = answered(idem_key, existing)
      if status == 'D' then
        duplicates[#duplicates + 1] = entry
        duplicates[#duplicates + 1] = duplicate(found_key, record)
      end
    end
  end
  if status == 'K' then
    for c = 1, claim_count do
      if redis.call('EXISTS', claim_keys[c]) == 1 then
        status = 'C'
        break
      end
    end
  end
  if status == 'K' then
    for w = 1, write_count do
      if write_data[w] ~= '' then
        local next_version = write_versions[w] + 1
        redis.call('HSET', write_keys[w], 'v', next_version, 'd', write_data[w])
        versions[write_keys[w]] = next_version
      end
    end
    if idem_key ~= '' and not record_written then redis.call('SET', idem_key, idem_value, 'EX', ttl) end
    for c = 1, claim_count do
      redis.call('SET', claim_keys[c], claim_values[c], 'EX', ttl)
    end
    if outbox_key ~= '' then
      if outbox_value == '' then outbox_value = idem_value end
      redis.call('XADD', outbox_key, '*', 'd', outbox_value)
    end
    for x = 1, extra_count do
      redis.call('XADD', extra_keys[x], '*', 'd', extra_values[x])
    end
    if denylist ~= '' then denylist_change(denylist) end
    if usage_key ~= '' then usage_change(usage_key) end
  end
  statuses[entry] = status
end

local result = { table.concat(statuses) }
for _, value in ipairs(duplicates) do
  result[#result + 1] = value
end
return result
