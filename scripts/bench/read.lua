-- wrk request generator for read-api: admin GETs with the bearer token.
-- BENCH_PATH is the route; "{id}" in it becomes a random seeded movie id.
local path = os.getenv("BENCH_PATH")
local entities = tonumber(os.getenv("BENCH_ENTITIES") or "1000000")
local token = os.getenv("BENCH_TOKEN") or "dev-admin-token"
math.randomseed(os.time())

request = function()
  local p = path:gsub("{id}", string.format("movie-%07d", math.random(0, entities - 1)))
  return wrk.format("GET", p, { ["Authorization"] = "Bearer " .. token })
end
