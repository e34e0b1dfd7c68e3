-- wrk script: POST /password/login with a JSON body taken from the environment
-- (PASSGATE_BENCH_USER, PASSGATE_BENCH_PASSWORD), counting answers by status.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = string.format('{"user_id":"%s","password":"%s"}',
  os.getenv("PASSGATE_BENCH_USER"), os.getenv("PASSGATE_BENCH_PASSWORD"))

local counts = {}
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for status, n in pairs(s) do counts[status] = (counts[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(counts) do table.insert(parts, status .. "=" .. n) end
  table.sort(parts)
  io.write("statuses: " .. table.concat(parts, " ") .. "\n")
end
