#!lua flags=allow-oom
-- Deletes a batch once its counts are durable in the rollups, only while
-- the lease is still ours, and takes its values off the partition's waiting
-- sum (once: a second call finds the batch no longer open). A sum down to
-- zero is deleted, so an idle partition leaves no keys behind. The caller
-- read the batch to apply it, so it passes the batch's count units (what
-- ingest added to the waiting sum for these hashes) instead of this script
-- reading every hash again.
--
-- KEYS[1]  partition lease      {prefix}:{p}:flush:lease
-- KEYS[2]  open batch id        {prefix}:{p}:flush:open
-- KEYS[3]  waiting sum          {prefix}:{p}:waiting
-- ARGV[1]  run id (must hold the lease)
-- ARGV[2]  id of the batch
-- ARGV[3]  manifest key of the batch
-- ARGV[4]  the batch's batched-key prefix
-- ARGV[5]  the batch's count units (sum of its count fields)
-- Reply: 1 deleted, 0 not the open batch (already finished), -1 lease lost.
local lease, open_key, waiting = KEYS[1], KEYS[2], KEYS[3]
local run_id, batch_id, manifest, batched_prefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local flushed = tonumber(ARGV[5])

if redis.call('GET', lease) ~= run_id then return -1 end
if redis.call('GET', open_key) ~= batch_id then return 0 end
local batched = redis.call('SMEMBERS', manifest)
for i = 1, #batched do
  batched[i] = batched_prefix .. batched[i]
end
-- DEL in slices: unpack() is bounded by the Lua stack.
for i = 1, #batched, 1000 do
  redis.call('DEL', unpack(batched, i, math.min(i + 999, #batched)))
end
redis.call('DEL', manifest, open_key)
if flushed ~= 0 and redis.call('DECRBY', waiting, flushed) <= 0 then
  redis.call('DEL', waiting)
end
return 1
