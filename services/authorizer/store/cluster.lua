-- Cluster membership and shard leases, one script with an operation name in ARGV[1].
-- Time is Redis' own clock (TIME), so node clocks need not agree.
--
-- Keys (documented in keys.ts):
--   tl:{cluster}:members zset  node id -> expiry (ms, Redis time) of its membership (KEYS[1] of heartbeat, leave)
--   tl:{cluster}:addr    hash  node id -> advertised internal address (host:port) (KEYS[2] of heartbeat, leave)
--   tl:{s<n>}:epoch      string  the shard's fencing epoch (checked by commit.lua)
--   tl:{s<n>}:lease      string  "<node id>|<epoch>" with a PX time-to-live: who holds the shard
--
-- heartbeat nodeId address ttlMs      -> { id1, addr1, id2, addr2, ... } live members after it
-- leave nodeId                        -> 1
-- take nodeId leaseMs (epochKey leaseKey)*  -> per shard the epoch now held, or "" (leased to
--     another node). A lease of the same node id (a previous process of this node) is taken over.
-- renew nodeId leaseMs (epochKey leaseKey epoch)*  -> per shard "1" (still held, lease extended)
--     or "0" (lost: the epoch moved on or another node holds the lease)
-- release nodeId (epochKey leaseKey epoch)*  -> 1; deletes each lease this node holds at that epoch
-- take, renew and release have KEYS[1] = a key of the shards' slot (on Redis Cluster they are
-- called once per shard; on one server once for all).

local op = ARGV[1]
local members_key = KEYS[1]
local addr_key = KEYS[2]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

if op == 'heartbeat' then
  local node, address, ttl = ARGV[2], ARGV[3], tonumber(ARGV[4])
  local now = now_ms()
  redis.call('ZADD', members_key, now + ttl, node)
  redis.call('HSET', addr_key, node, address)
  local dead = redis.call('ZRANGEBYSCORE', members_key, '-inf', now)
  for _, id in ipairs(dead) do
    redis.call('ZREM', members_key, id)
    redis.call('HDEL', addr_key, id)
  end
  local live = redis.call('ZRANGEBYSCORE', members_key, now, '+inf')
  local result = {}
  for _, id in ipairs(live) do
    result[#result + 1] = id
    result[#result + 1] = redis.call('HGET', addr_key, id) or ''
  end
  return result
elseif op == 'leave' then
  redis.call('ZREM', members_key, ARGV[2])
  redis.call('HDEL', addr_key, ARGV[2])
  return 1
elseif op == 'take' then
  local node, lease_ms = ARGV[2], ARGV[3]
  local prefix = node .. '|'
  local result = {}
  for at = 4, #ARGV, 2 do
    local epoch_key, lease_key = ARGV[at], ARGV[at + 1]
    local lease = redis.call('GET', lease_key)
    if lease and string.sub(lease, 1, #prefix) ~= prefix then
      result[#result + 1] = ''
    else
      local epoch = redis.call('INCR', epoch_key)
      redis.call('SET', lease_key, prefix .. epoch, 'PX', lease_ms)
      result[#result + 1] = tostring(epoch)
    end
  end
  return result
elseif op == 'renew' then
  local node, lease_ms = ARGV[2], ARGV[3]
  local result = {}
  for at = 4, #ARGV, 3 do
    local epoch_key, lease_key, epoch = ARGV[at], ARGV[at + 1], ARGV[at + 2]
    local held = node .. '|' .. epoch
    local lease = redis.call('GET', lease_key)
    -- An expired lease nobody took is still ours while the epoch has not moved: nobody can have
    -- written the shard since, so extending it is safe.
    if redis.call('GET', epoch_key) == epoch and (lease == held or not lease) then
      redis.call('SET', lease_key, held, 'PX', lease_ms)
      result[#result + 1] = '1'
    else
      result[#result + 1] = '0'
    end
  end
  return result
elseif op == 'release' then
  local node = ARGV[2]
  for at = 3, #ARGV, 3 do
    local lease_key, epoch = ARGV[at + 1], ARGV[at + 2]
    if redis.call('GET', lease_key) == node .. '|' .. epoch then redis.call('DEL', lease_key) end
  end
  return 1
end
return redis.error_reply('unknown cluster operation ' .. tostring(op))
