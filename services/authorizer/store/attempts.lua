-- Takes one attempt at a guessable credential (a merchant manager's PIN), shared by every node.
--
-- KEYS[1]: the subject's attempts hash (fields n = attempts in a row, u = locked until, Unix ms,
--   k = the last attempt's id).
-- ARGV: nowMs, attemptsMax, lockMs, ttlMs, attemptId ("" when attempts have no id).
-- Returns 0 when the subject is locked (nothing counted), 1 when the attempt may be checked, 2 when
-- it may be checked and locks the subject (this was attempt attemptsMax in a row), 3 when it may be
-- checked and is the last attempt again (its id is the last one counted: not counted twice).
--
-- An attempt's id names the request and the credential it carries (a retry of one request with
-- the same credential compares the same thing again and learns nothing new); another credential,
-- or the same one in another request, is another attempt and is counted.
--
-- The attempt is counted before the credential is compared (a right one clears the hash, see
-- attempts.ts), so guesses sent at once, to any nodes, cannot compare more than attemptsMax
-- credentials: the attemptsMax-th attempt locks the subject for lockMs. The hash expires ttlMs
-- after its last attempt, so Redis keeps nothing of subjects nobody tries.

local now = tonumber(ARGV[1])
local locked_until = tonumber(redis.call('HGET', KEYS[1], 'u') or '0')
if locked_until > now then
  return 0
end
local id = ARGV[5] or ''
if id ~= '' and redis.call('HGET', KEYS[1], 'k') == id then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return 3
end
local attempts = redis.call('HINCRBY', KEYS[1], 'n', 1)
if id ~= '' then redis.call('HSET', KEYS[1], 'k', id) end
local result = 1
if attempts >= tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], 'n', 0, 'u', now + tonumber(ARGV[3]))
  result = 2
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return result
