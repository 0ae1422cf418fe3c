-- wrk request generator: single-event POSTs, every event_id distinct.
local threads = {}
local now = os.date("!%Y-%m-%dT%H:%M:%SZ")
local run = os.getenv("BENCH_RUN") or "run"
local counter = 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

request = function()
  counter = counter + 1
  local body = '{"event_id":"' .. run .. '-' .. tid .. '-' .. counter ..
    '","domain":"jav","entity_type":"movie","entity_id":"movie-' .. (counter % 100000) ..
    '","action":"view","value":1,"occurred_at":"' .. now .. '"}'
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
end
