-- Key records claimed before a commit, on Redis Cluster only (keys.ts): a request key's record
-- lives on its entity's shard, and the key record saying which shard that is lives on the key's
-- home shard, another hash slot, which one commit script cannot reach. So the committer first claims
-- the key records of a batch, one call of this script per home shard, then commits the entries whose
-- claims held, one call of commit.lua per entity shard.
--
-- KEYS[1]: any key of the home shard (routing only).
-- ARGV: ttlSeconds, then (keyRecordKey, recordKey) * n.
-- Per pair: absent -> set to recordKey with the TTL, answer ""; naming recordKey -> written again
-- unchanged (KEEPTTL: the WAIT after this script then covers it), answer ""; naming another record
-- key -> that key is the answer (the request key belongs to another shard's entity).
-- A claim is never undone: a key whose commit then fails stays with its shard for the TTL, and its
-- retries (same entity, same shard) pass.

local ttl = ARGV[1]
local result = {}
for at = 2, #ARGV, 2 do
  local key_record, record = ARGV[at], ARGV[at + 1]
  local named = redis.call('GET', key_record)
  if not named then
    redis.call('SET', key_record, record, 'EX', ttl)
    result[#result + 1] = ''
  elseif named == record then
    redis.call('SET', key_record, record, 'KEEPTTL')
    result[#result + 1] = ''
  else
    result[#result + 1] = named
  end
end
return result
