#!lua flags=allow-oom
-- Takes a partition's flush lease if nobody holds it. A script, not a
-- plain SET, for its flag: a full Redis (maxmemory) refuses SET, and the
-- flush is what empties it.
--
-- KEYS[1]  partition lease      {prefix}:{p}:flush:lease
-- ARGV[1]  run id
-- ARGV[2]  time to live in milliseconds
-- Reply: 1 taken, 0 another run holds it.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
return 0
