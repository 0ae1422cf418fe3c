-- Moves one counter hash of the system this replaces into the hot counters,
-- exactly once: its counts are added to the entity's counter hash (marked
-- dirty, added to the waiting sum) and the old hash is deleted, together or
-- not at all, so the next flush counts them like any event. (Runs on one
-- Redis: the old hash has no hash tag of ours.)
--
-- The old hash kept, per action, an all-time field ('view') and one field
-- per day ('view:2026-02-19'), fed separately. Each day becomes a day count
-- ('view|2026-02-19'); what the all-time field holds above the sum of the
-- days becomes a total-only count ('view|all'). Fields of another form,
-- other actions, non-positive values and impossible dates are left out
-- (counted in the reply).
--
-- KEYS[1]  the old counter hash     anl:counters:<domain>:<type>:<id>
-- KEYS[2]  the entity's counter hash {prefix}:{p}:cnt:<domain>:<type>:<id>
-- KEYS[3]  dirty set (zset)          {prefix}:{p}:dirty
-- KEYS[4]  waiting sum               {prefix}:{p}:waiting
-- ARGV[1]  entity order (the dirty-set score)
-- ARGV[2]  '1' to only report what would move (nothing is written)
-- ARGV[3..] the actions the old hash may hold ('view', 'download')
-- Reply: {count units moved, fields left out, fields read}
local old, counter, dirty, waiting = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local order, dry_run = ARGV[1], ARGV[2] == '1'
local allowed = {}
for i = 3, #ARGV do
  allowed[ARGV[i]] = true
end

local function leap(y)
  return (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
end
local month_days = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
local function real_date(s)
  local y, m, d = string.match(s, '^(%d%d%d%d)%-(%d%d)%-(%d%d)$')
  if not y then
    return false
  end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if m < 1 or m > 12 or d < 1 then
    return false
  end
  local last = month_days[m]
  if m == 2 and leap(y) then
    last = 29
  end
  return d <= last
end

local fields = redis.call('HGETALL', old)
local totals, day_sums, days = {}, {}, {}
local left_out, read = 0, #fields / 2
for i = 1, #fields, 2 do
  local field, n = fields[i], tonumber(fields[i + 1])
  local action, date = string.match(field, '^([%a_]+):(.+)$')
  if n == nil or n <= 0 or n ~= math.floor(n) then
    left_out = left_out + 1
  elseif action then
    if allowed[action] and real_date(date) then
      days[#days + 1] = {action .. '|' .. date, n}
      day_sums[action] = (day_sums[action] or 0) + n
    else
      left_out = left_out + 1
    end
  elseif allowed[field] then
    totals[field] = (totals[field] or 0) + n
  else
    left_out = left_out + 1
  end
end

local units = 0
for _, day in ipairs(days) do
  units = units + day[2]
  if not dry_run then
    redis.call('HINCRBY', counter, day[1], day[2])
  end
end
for action, total in pairs(totals) do
  local rest = total - (day_sums[action] or 0)
  if rest > 0 then
    units = units + rest
    if not dry_run then
      redis.call('HINCRBY', counter, action .. '|all', rest)
    end
  end
end
if not dry_run then
  if units > 0 then
    redis.call('ZADD', dirty, order, counter)
    redis.call('INCRBY', waiting, units)
  end
  redis.call('DEL', old)
end
return {units, left_out, read}
