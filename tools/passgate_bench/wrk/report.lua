-- wrk script: prints the run as one JSON line, which `passgate_bench wrk` reads (tools/bench
-- builds its table from it). Used alone for plain GETs; login.lua loads it and adds a body
-- and per-status counts. Latencies are in microseconds from wrk, printed in milliseconds.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests)
  -- Only scripts with a response() callback count statuses (the callback makes wrk parse
  -- each answer, which costs client CPU the cheap GET runs cannot spare).
  local statuses = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    if counts then
      for status, n in pairs(counts) do
        table.insert(statuses, string.format('"%d":%d', status, n))
      end
    end
  end
  table.sort(statuses)
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  io.write(string.format(
    '{"requests":%d,"seconds":%.6f,"requests_per_s":%.3f,"p50_ms":%.3f,"p99_ms":%.3f,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d},' ..
    '"statuses":{%s}}\n',
    summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    errors.connect, errors.read, errors.write, errors.timeout, errors.status,
    table.concat(statuses, ",")))
end
