#!lua flags=allow-oom
-- Deletes entries of a partition's raw event log once they are durable in
-- MySQL, only while the flush lease is still ours (fencing). An emptied
-- stream is deleted, so an idle partition leaves no key behind.
--
-- KEYS[1]  partition lease      {prefix}:{p}:flush:lease
-- KEYS[2]  raw event log        {prefix}:{p}:log
-- ARGV[1]  run id (must hold the lease)
-- ARGV[2..] ids of the entries to delete
-- Reply: entries deleted, or -1 when the lease is lost.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
local deleted = redis.call('XDEL', KEYS[2], unpack(ARGV, 2))
if redis.call('XLEN', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[2])
end
return deleted
