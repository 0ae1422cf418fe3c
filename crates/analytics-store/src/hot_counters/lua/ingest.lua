-- Counts one event exactly once: dedupe, increment, mark dirty and add to
-- the partition's waiting sum together or not at all.
--
-- KEYS[1]  dedupe marker        {prefix}:{p}:evt:<event_id>
-- KEYS[2]  counter hash         {prefix}:{p}:cnt:<domain>:<type>:<id>
-- KEYS[3]  dirty set (zset)     {prefix}:{p}:dirty
-- KEYS[4]  waiting sum          {prefix}:{p}:waiting
-- ARGV[1]  fingerprint of the event (a retry carries the same one)
-- ARGV[2]  dedupe TTL in seconds
-- ARGV[3]  counter field        action|YYYY-MM-DD|HH (local hour)
-- ARGV[4]  value to add
-- ARGV[5]  entity order (the dirty set's score: every partition is
--          claimed in the same entity order)
-- Reply: 0 counted, 1 duplicate (same fingerprint), 2 conflict (the id
-- was used by another event; nothing counted).
local marker, counter, dirty, waiting = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local fingerprint, ttl, field, value, order = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]

if redis.call('SET', marker, fingerprint, 'NX', 'EX', ttl) then
  redis.call('HINCRBY', counter, field, value)
  redis.call('ZADD', dirty, order, counter)
  redis.call('INCRBY', waiting, value)
  return 0
end
if redis.call('GET', marker) == fingerprint then
  return 1
end
return 2
