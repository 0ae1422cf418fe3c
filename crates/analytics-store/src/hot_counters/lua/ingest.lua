-- Counts events exactly once: for each, dedupe, add its counter fields,
-- raise its unique-viewer registers, mark its keys dirty, add to the
-- partition's waiting sum and append it to the raw event log, together or
-- not at all. One call carries any number of events of one partition; the
-- dirty marks go in one ZADD and the accepted events in one log entry
-- (their JSON lines joined by newlines), so a batch costs Redis little more
-- than its events' own writes.
--
-- Dedupe: an accepted event leaves an entry (8-byte id hash -> 8-byte
-- fingerprint) in one of its partition's hashes of the UTC day it was
-- accepted on; each hash expires whole, 48 h after its day ends. An event
-- is looked up in its shard's hashes of today and the two days before, so
-- any event accepted in the last 48 h (up to 72 h) is found. The day is
-- Redis's own (TIME): ingest processes whose clocks differ still agree on
-- it, as a partition lives on one server. The hashes' names are built here
-- from the partition's base, under the same {p} hash tag as the keys
-- declared, so the script stays on one slot.
--
-- KEYS[1]  dirty set (zset)     {prefix}:{p}:dirty
-- KEYS[2]  waiting sum          {prefix}:{p}:waiting
-- KEYS[3]  raw event log        {prefix}:{p}:log (a stream; an entry's
--                               field 'e' holds one event per line)
-- then two keys per event:
--   counter hash                {prefix}:{p}:cnt:<domain>:<type>:<id>
--   site hash                   {prefix}:{p}:cnt:<domain>:site:p<p>
-- ARGV[1]  the dedupe hashes' base: {prefix}:{p}:seen: (then <day>:<shard>;
--          enter_seen.lua enters entries the same way)
-- ARGV[2]  '1' to append accepted events to the log, '0' not to
-- ARGV[3]  the dedupe window in seconds: a hash lives this long past its day
-- then, per event, in order:
--   shard, id hash (the dedupe field), fingerprint (a retry carries the
--          same one)
--   entity order of the counter hash, entity order of the site hash
--          (dirty-set scores: every partition is claimed in that order)
--   units: what the event adds to the waiting sum
--   log entry (the normalised event as one line of JSON)
--   n, then n pairs (field, increment) added to the counter hash
--   r, then r pairs (field, rank) raised on the counter hash (registers)
--   s, then s pairs (field, rank) raised on the site hash
-- Reply: one integer per event: 0 counted, 1 duplicate (same
-- fingerprint, or an entry copied from the replaced system), 2 conflict
-- (the id was used by another event; nothing counted).
local dirty, waiting, log = KEYS[1], KEYS[2], KEYS[3]
local seen, logging, window = ARGV[1], ARGV[2] == '1', tonumber(ARGV[3])
local day = math.floor(tonumber(redis.call('TIME')[1]) / 86400)
-- Numbers are turned into strings once here, not per event: Lua formats a
-- number with sprintf each time it meets one in a concatenation or a call.
local expire_at = string.format('%d', (day + 1) * 86400 + window)
local today_base = seen .. day .. ':'
local yesterday_base, before_base = seen .. (day - 1) .. ':', seen .. (day - 2) .. ':'

-- A register keeps the highest rank it has seen. Most raises meet a new
-- register: HSETNX sets it in one command; only an existing one is read
-- and compared.
local function raise(key, from, to)
  for i = from, to, 2 do
    local field, rank = ARGV[i], ARGV[i + 1]
    if redis.call('HSETNX', key, field, rank) == 0
      and tonumber(rank) > (tonumber(redis.call('HGET', key, field)) or 0) then
      redis.call('HSET', key, field, rank)
    end
  end
end

-- ZADD in slices: unpack() is bounded by the Lua stack.
local function zadd_all(key, pairs)
  for i = 1, #pairs, 2000 do
    redis.call('ZADD', key, unpack(pairs, i, math.min(i + 1999, #pairs)))
  end
end

local replies, added, marks, logged, site_marked = {}, 0, {}, {}, {}
local a, k = 4, 4
while a <= #ARGV do
  local counter, site = KEYS[k], KEYS[k + 1]
  local shard, id, fingerprint = ARGV[a], ARGV[a + 1], ARGV[a + 2]
  local order, site_order = ARGV[a + 3], ARGV[a + 4]
  local units, entry = ARGV[a + 5], ARGV[a + 6]
  local counts_at = a + 7
  local registers_at = counts_at + 1 + 2 * tonumber(ARGV[counts_at])
  local site_at = registers_at + 1 + 2 * tonumber(ARGV[registers_at])
  local next_event = site_at + 1 + 2 * tonumber(ARGV[site_at])
  -- The older days first, then today's entry set only if it is new: a new
  -- event (the usual case) costs two lookups and one write.
  local today = today_base .. shard
  local held = redis.call('HGET', yesterday_base .. shard, id)
    or redis.call('HGET', before_base .. shard, id)
  if not held and redis.call('HSETNX', today, id, fingerprint) == 0 then
    held = redis.call('HGET', today, id)
  end
  if not held then
    redis.call('EXPIREAT', today, expire_at)
    for i = counts_at + 1, registers_at - 1, 2 do
      redis.call('HINCRBY', counter, ARGV[i], ARGV[i + 1])
    end
    raise(counter, registers_at + 1, site_at - 1)
    marks[#marks + 1], marks[#marks + 2] = order, counter
    if site_at + 1 < next_event then
      raise(site, site_at + 1, next_event - 1)
      -- The call's events share their site hash: one dirty mark for it.
      if not site_marked[site] then
        site_marked[site] = true
        marks[#marks + 1], marks[#marks + 2] = site_order, site
      end
    end
    logged[#logged + 1] = entry
    added = added + tonumber(units)
    replies[#replies + 1] = 0
  elseif held == fingerprint or held == 'legacy' then
    -- 'legacy': copied from the replaced system, whose dedupe was by id
    -- alone, so any event under it is a retry.
    replies[#replies + 1] = 1
  else
    replies[#replies + 1] = 2
  end
  a, k = next_event, k + 2
end
if #marks > 0 then
  zadd_all(dirty, marks)
end
if logging and #logged > 0 then
  redis.call('XADD', log, '*', 'e', table.concat(logged, '\n'))
end
if added > 0 then
  redis.call('INCRBY', waiting, added)
end
return replies
