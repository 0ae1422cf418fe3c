-- wrk request generator for read-api: admin requests with the bearer token.
-- BENCH_PATH is the route; "{id}" in it becomes a random seeded movie id.
-- BENCH_BODY, when set, is POSTed as JSON instead of a GET.
local path = os.getenv("BENCH_PATH")
local entities = tonumber(os.getenv("BENCH_ENTITIES") or "1000000")
local token = os.getenv("BENCH_TOKEN") or "dev-admin-token"
local body = os.getenv("BENCH_BODY")
math.randomseed(os.time())

request = function()
  local p = path:gsub("{id}", string.format("movie-%07d", math.random(0, entities - 1)))
  if body and body ~= "" then
    return wrk.format("POST", p, {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/json",
    }, body)
  end
  return wrk.format("GET", p, { ["Authorization"] = "Bearer " .. token })
end
