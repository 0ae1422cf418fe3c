#!lua flags=allow-oom
-- Extends a flush lease if the caller still holds it (fencing).
--
-- KEYS[1]  partition lease      {prefix}:{p}:flush:lease
-- ARGV[1]  run id
-- ARGV[2]  new time to live in milliseconds
-- Reply: 1 renewed, 0 another run holds it (or nobody does).
local lease, run_id, ttl_ms = KEYS[1], ARGV[1], ARGV[2]

if redis.call('GET', lease) == run_id then
  return redis.call('PEXPIRE', lease, ttl_ms)
end
return 0
