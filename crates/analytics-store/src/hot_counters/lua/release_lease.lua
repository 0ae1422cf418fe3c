#!lua flags=allow-oom
-- Releases a flush lease if the caller holds it.
--
-- KEYS[1]  partition lease      {prefix}:{p}:flush:lease
-- ARGV[1]  run id
-- Reply: 1 released, 0 not held by this run.
local lease, run_id = KEYS[1], ARGV[1]

if redis.call('GET', lease) == run_id then
  return redis.call('DEL', lease)
end
return 0
