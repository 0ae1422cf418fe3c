-- wrk request generator: every event_id distinct, each from one of 100k
-- users (so the unique-viewer registers and the raw log are exercised).
-- BENCH_BATCH=n > 0 posts batches of n events to the batch route instead
-- of single events (the script's URL must be the batch route then).
-- BENCH_USERS=0 leaves user_id out (no unique-viewer registers).
local threads = {}
local now = os.date("!%Y-%m-%dT%H:%M:%SZ")
local run = os.getenv("BENCH_RUN") or "run"
local batch = tonumber(os.getenv("BENCH_BATCH") or "0")
local with_users = os.getenv("BENCH_USERS") ~= "0"
local counter = 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local function event()
  counter = counter + 1
  return '{"event_id":"' .. run .. '-' .. tid .. '-' .. counter ..
    '","domain":"jav","entity_type":"movie","entity_id":"movie-' .. (counter % 100000) ..
    '","action":"view","value":1,"occurred_at":"' .. now .. '"' ..
    (with_users and (',"user_id":' .. (counter % 100000)) or '') .. '}'
end

request = function()
  local body
  if batch > 0 then
    local items = {}
    for i = 1, batch do items[i] = event() end
    body = '[' .. table.concat(items, ',') .. ']'
  else
    body = event()
  end
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end
