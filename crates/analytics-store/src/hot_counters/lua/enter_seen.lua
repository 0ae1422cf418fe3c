-- Enters dedupe entries for events counted without this partition's
-- ingest script: markers copied from the replaced system ('legacy'), and
-- per-event markers of the layout before the day hashes. Each goes into
-- today's hash (Redis's day, as in ingest.lua), unless the event is
-- already entered in the last three days' hashes; today's hash lives 48 h
-- past the day's end, so an entry outlives the marker it replaces.
--
-- KEYS[1]  the partition's dedupe base {prefix}:{p}:seen: (the hashes are
--          <base><day>:<shard>, on the same slot)
-- ARGV[1]  the dedupe window in seconds, as ingest.lua's ARGV[3]
-- then     triples: shard, id hash (8 bytes), value (an 8-byte fingerprint
--          or 'legacy')
-- Reply: the entries newly entered.
local seen = KEYS[1]
local day = math.floor(tonumber(redis.call('TIME')[1]) / 86400)
local expire_at = (day + 1) * 86400 + tonumber(ARGV[1])
local entered = 0
for i = 2, #ARGV, 3 do
  local shard, id = ':' .. ARGV[i], ARGV[i + 1]
  local today = seen .. day .. shard
  local held = redis.call('HGET', today, id)
    or redis.call('HGET', seen .. (day - 1) .. shard, id)
    or redis.call('HGET', seen .. (day - 2) .. shard, id)
  if not held then
    redis.call('HSET', today, id, ARGV[i + 2])
    redis.call('EXPIREAT', today, expire_at)
    entered = entered + 1
  end
end
return entered
