-- Replaces one entry of a partition's raw event log by what is left of it
-- once a user's events are taken out (erasure), only while the flush lease
-- is ours: no flush can be copying the stream meanwhile. The rest goes in a
-- new entry at the end (the flush copies by event id, so order is free); an
-- entry with nothing left is only deleted, and an emptied stream with it.
--
-- KEYS[1]  partition lease      {prefix}:{p}:flush:lease
-- KEYS[2]  raw event log        {prefix}:{p}:log
-- ARGV[1]  run id (must hold the lease)
-- ARGV[2]  id of the entry to replace
-- ARGV[3]  the entry's remaining lines ('' for none)
-- Reply: 1 replaced, 0 the entry was already gone, -1 the lease is lost.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
if redis.call('XDEL', KEYS[2], ARGV[2]) == 0 then return 0 end
if ARGV[3] ~= '' then
  redis.call('XADD', KEYS[2], '*', 'e', ARGV[3])
elseif redis.call('XLEN', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[2])
end
return 1
