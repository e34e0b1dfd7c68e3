-- wrk script: POST /password/login, cycling through the users in the file named by
-- PASSGATE_BENCH_USERS ("<user id><TAB><password>" per line, written by tools/bench), and
-- counting answers by status. Reports through report.lua.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")

function init(args)
  statuses = {}
  requests = {}
  local path = os.getenv("PASSGATE_BENCH_USERS") or error("PASSGATE_BENCH_USERS is not set")
  for line in io.lines(path) do
    local id, password = line:match("^([^\t]+)\t(.+)$")
    if id then
      -- The bench writes passwords without JSON metacharacters; refuse any other.
      if (id .. password):find('["\\%c]') then error(path .. ": a user needs JSON escaping") end
      table.insert(requests, wrk.format("POST", nil, {["Content-Type"] = "application/json"},
        string.format('{"user_id":"%s","password":"%s"}', id, password)))
    end
  end
  if #requests == 0 then error(path .. ": no users") end
  next_request = 0
end

function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
