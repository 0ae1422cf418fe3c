#!lua flags=allow-oom
-- Claims a batch for the flush: with the lease held, resumes the open batch
-- if there is one, else moves up to N dirty counter keys whose entity order
-- is within the round's order range into a new batch by RENAME, so events
-- arriving meanwhile land in fresh keys.
--
-- KEYS[1]  partition lease      {prefix}:{p}:flush:lease
-- KEYS[2]  open batch id        {prefix}:{p}:flush:open
-- KEYS[3]  dirty set (zset)     {prefix}:{p}:dirty
-- ARGV[1]  run id (must hold the lease)
-- ARGV[2]  id of the new batch
-- ARGV[3]  most keys to claim (N)
-- ARGV[4]  manifest key of the new batch (the set of its counter keys)
-- ARGV[5]  prefix a claimed counter key is renamed under (the manifest's
--          batched-key prefix; the renamed key is prefix .. counter key)
-- ARGV[6]  lowest entity order to claim (inclusive)
-- ARGV[7]  highest entity order to claim (inclusive)
-- Reply: {status, batch id, keys claimed}; status -1 lease lost, 0 nothing
-- dirty in the range, 1 resumed the open batch (keys 0: the caller reads
-- its manifest), 2 claimed a new batch, 3 only stale dirty entries were
-- taken (claim again).
local lease, open_key, dirty = KEYS[1], KEYS[2], KEYS[3]
local run_id, batch_id, most = ARGV[1], ARGV[2], tonumber(ARGV[3])
local manifest, batched_prefix, order_min, order_max = ARGV[4], ARGV[5], ARGV[6], ARGV[7]

if redis.call('GET', lease) ~= run_id then return {-1, '', 0} end
local open = redis.call('GET', open_key)
if open then return {1, open, 0} end
local popped = redis.call('ZRANGEBYSCORE', dirty, order_min, order_max, 'LIMIT', 0, most)
if #popped == 0 then return {0, '', 0} end
-- ZREM and SADD in slices: unpack() is bounded by the Lua stack.
local function each_slice(command, key, members)
  for i = 1, #members, 1000 do
    redis.call(command, key, unpack(members, i, math.min(i + 999, #members)))
  end
end
each_slice('ZREM', dirty, popped)
local claimed = {}
for _, key in ipairs(popped) do
  -- A dirty entry whose key is gone was already claimed: stale, skip it.
  if redis.call('EXISTS', key) == 1 then
    redis.call('RENAME', key, batched_prefix .. key)
    claimed[#claimed + 1] = key
  end
end
if #claimed == 0 then return {3, '', 0} end
each_slice('SADD', manifest, claimed)
redis.call('SET', open_key, batch_id)
return {2, batch_id, #claimed}
