-- wrk's script for bench/run.mjs. The request comes from the environment: WRK_METHOD,
-- WRK_BODY and WRK_HEADERS ("name: value" lines). With WRK_TOKENS (a file of refresh
-- tokens, one per line) each request sends a token the last answers returned instead: every
-- connection follows a chain of refresh-token rotations. At the end one line of JSON with
-- the figures: "answered" counts the answers below 400 (wrk counts 400 and above as errors;
-- a broken chain's connection would otherwise add fast refusals to the rate).
wrk.method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body and body ~= "" then wrk.body = body end
for line in (os.getenv("WRK_HEADERS") or ""):gmatch("[^\n]+") do
  local name, value = line:match("^([^:]+):%s*(.*)$")
  if name then wrk.headers[name] = value end
end

local tokens_file = os.getenv("WRK_TOKENS")
if tokens_file and tokens_file ~= "" then
  local threads = 0
  function setup(thread)
    thread:set("index", threads)
    threads = threads + 1
  end

  -- The tokens this thread's connections start from (lines index, index + threads, ...):
  -- each answer puts the token it returned back in the queue, and each request takes one,
  -- so a connection's next request carries a token that has not been used yet.
  local queue, head, tail = {}, 1, 0
  -- wrk calls the first thread's request() once before it starts, only to parse what it
  -- returns: that call must not take a token.
  local verifying
  function init(args)
    verifying = index == 0
    local every = tonumber(os.getenv("WRK_THREADS") or "1")
    local n = 0
    for line in io.lines(tokens_file) do
      if n % every == index then
        tail = tail + 1
        queue[tail] = line
      end
      n = n + 1
    end
  end

  local function escape(s)
    return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
  end

  function request()
    local token = queue[head]
    if verifying then
      verifying = false
    elseif token then
      queue[head] = nil
      head = head + 1
    else
      token = "none-left" -- answered invalid_grant, counted as an error
    end
    return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. escape(token))
  end

  function response(status, headers, body)
    if status ~= 200 and os.getenv("BENCH_DEBUG") then
      io.stderr:write(status, " ", body, "\n")
    end
    local token = status == 200 and body:match('"refresh_token"%s*:%s*"([^"]+)"')
    if token then
      tail = tail + 1
      queue[tail] = token
    end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"answered":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.requests - e.status, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
