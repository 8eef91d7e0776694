-- wrk: step CartPole over REST, one instance per connection, reset on termination.
--
-- Run with as many threads as connections (-t8 -c8): wrk keeps one Lua state per
-- thread, so a thread with one connection is the only way to tie a connection to
-- its own instance. WRK_INSTANCES holds the instance ids, comma-separated, one per
-- thread. done() prints "STEPS <n> RESETS <n> ERRORS <n>" for bench/run.py.

local ids = {}
for id in string.gmatch(os.getenv("WRK_INSTANCES") or "", "[^,]+") do
  table.insert(ids, id)
end

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("instance_id", ids[((counter - 1) % #ids) + 1])
  thread:set("seed", counter)
  table.insert(threads, thread)
end

local base, need_reset
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  base = "/v1/envs/" .. instance_id .. "/"
  math.randomseed(seed)
  need_reset = true
  steps, resets, errors = 0, 0, 0
end

function request()
  if need_reset then
    return wrk.format("POST", base .. "reset/", headers, "{}")
  end
  return wrk.format("POST", base .. "step/", headers, '{"action":' .. math.random(0, 1) .. '}')
end

function response(status, headers, body)
  if status ~= 200 then
    errors = errors + 1
    need_reset = true
    return
  end
  if need_reset then
    resets = resets + 1
    need_reset = false
    return
  end
  steps = steps + 1
  if string.find(body, '"terminated":%s*true') or string.find(body, '"truncated":%s*true') then
    need_reset = true
  end
end

function done(summary, latency, requests)
  local total_steps, total_resets, total_errors = 0, 0, 0
  for _, thread in ipairs(threads) do
    total_steps = total_steps + thread:get("steps")
    total_resets = total_resets + thread:get("resets")
    total_errors = total_errors + thread:get("errors")
  end
  io.write(string.format("STEPS %d RESETS %d ERRORS %d\n", total_steps, total_resets, total_errors))
end
