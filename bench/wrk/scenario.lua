-- The requests of one bench/run.py scenario, for wrk (4.x, LuaJIT).
--
--   wrk ... -s bench/wrk/scenario.lua URL -- SCENARIO DATA_FILE RUN_ID
--
-- SCENARIO: product_get | product_list | product_list_deep | order_get | order_list |
--           order_place | hot_sku | order_replay | audit_list.
-- DATA_FILE, written by bench/run.py, holds one item per line:
--   S <sku>                      a SKU to read or order (order_place: one at random per
--                                request; hot_sku: the first)
--   T <token>                    an access token (one at random per request): a customer's
--                                (order_place, hot_sku, order_list: its page of orders), an
--                                admin's (audit_list)
--   O <token> <order id>         one of that customer's own orders (order_get)
--   C <cursor>                   the page to resume after (product_list_deep)
--   R <token> <key> <sku>        an order placed already, resent as it was (order_replay)
-- RUN_ID makes the keys of order_place and hot_sku unique to this run.
--
-- done() prints one line, "WRK_RESULT {json}", that bench/run.py reads.

local thread_number = 0

function setup(thread)
  thread_number = thread_number + 1
  thread:set("thread_id", thread_number)
end

local scenario, skus, tokens, replays, reads, cursors, run_id
local counter = 0
local replay_next = 1

local function order_body(sku)
  return '{"lines":[{"sku":"' .. sku .. '","quantity":1}]}'
end

local function order_request(token, key, sku)
  return wrk.format("POST", "/api/v1/orders", {
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = key,
    ["Content-Type"] = "application/json",
  }, order_body(sku))
end

function init(args)
  scenario, run_id = args[1], args[3] or "run"
  skus, tokens, replays, reads, cursors = {}, {}, {}, {}, {}
  for line in io.lines(args[2]) do
    local kind, rest = line:match("^(%u) (.*)$")
    if kind == "S" then
      skus[#skus + 1] = rest
    elseif kind == "T" then
      tokens[#tokens + 1] = rest
    elseif kind == "C" then
      cursors[#cursors + 1] = rest
    elseif kind == "R" then
      local token, key, sku = rest:match("^(%S+) (%S+) (%S+)$")
      replays[#replays + 1] = { token, key, sku }
    elseif kind == "O" then
      local token, order_id = rest:match("^(%S+) (%S+)$")
      reads[#reads + 1] = { token, order_id }
    end
  end
  math.randomseed(thread_id * 7919 + os.time())
  -- Threads start at different places of the replay list, so no two resend one key at once.
  replay_next = ((thread_id - 1) * 997) % math.max(#replays, 1) + 1
  if scenario == "product_list" then
    wrk.path = "/api/v1/products?limit=50"
  end
end

function request()
  if scenario == "product_get" then
    return wrk.format("GET", "/api/v1/products/" .. skus[math.random(#skus)])
  elseif scenario == "product_list" then
    return wrk.format("GET", "/api/v1/products?limit=50")
  elseif scenario == "product_list_deep" then
    return wrk.format("GET", "/api/v1/products?limit=50&cursor=" .. cursors[1])
  elseif scenario == "order_get" then
    local item = reads[math.random(#reads)]
    return wrk.format("GET", "/api/v1/orders/" .. item[2], {
      ["Authorization"] = "Bearer " .. item[1],
    })
  elseif scenario == "order_list" then
    return wrk.format("GET", "/api/v1/orders?limit=50", {
      ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)],
    })
  elseif scenario == "audit_list" then
    return wrk.format("GET", "/api/v1/audit?limit=50", {
      ["Authorization"] = "Bearer " .. tokens[math.random(#tokens)],
    })
  elseif scenario == "order_place" or scenario == "hot_sku" then
    counter = counter + 1
    local key = run_id .. "-" .. thread_id .. "-" .. counter
    local sku = scenario == "hot_sku" and skus[1] or skus[math.random(#skus)]
    return order_request(tokens[math.random(#tokens)], key, sku)
  elseif scenario == "order_replay" then
    local item = replays[replay_next]
    replay_next = replay_next % #replays + 1
    return order_request(item[1], item[2], item[3])
  end
  error("unknown scenario " .. tostring(scenario))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
