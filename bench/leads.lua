-- wrk script of the HTTP benches (bench/wrk.py runs it): POST /v1/leads, every body its
-- own lead (a new email per request: the thread's id and its counter), optionally paced
-- at a fixed rate, and a JSON summary written where LF_OUT says.
--
-- Read from the environment (top-level code runs in every Lua state wrk makes, and only
-- there can it decide whether delay() exists):
--   LF_TAG    unique per phase: in every email, and the leads' campaign
--   LF_TOKEN  bearer credential (empty: none)
--   LF_RATE   requests/s per thread, 0 or unset for flat out
--   LF_OUT    where done() writes the summary

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } lf_timespec;
int clock_gettime(int clock_id, lf_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("lf_timespec")
local function now_ms()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local tag = os.getenv("LF_TAG") or "bench"
local token = os.getenv("LF_TOKEN") or ""
local rate = tonumber(os.getenv("LF_RATE") or "0") or 0
local domains = { "walmart.com", "initech.com", "globex.com", "gmail.com", "example.org" }

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

-- Per thread (each has its own Lua state): its id, set by setup(); its counter.
tid = 0
sent = 0
max_lag_ms = 0

local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function request()
  sent = sent + 1
  local body = string.format(
    '{"email":"%s-%d-%d@%s","name":"Person %d","company":"Bench Co",'
      .. '"title":"Director of IT","phone":"+1 415 555 0100","country":"US",'
      .. '"source":"bench","campaign":"%s"}',
    tag, tid, sent, domains[sent % #domains + 1], sent, tag
  )
  return wrk.format(nil, nil, nil, body)
end

if rate > 0 then
  -- Slot k of this thread is start + k / rate. A connection that is ready early waits for
  -- the next free slot; one that is late (every connection was busy: the server is behind)
  -- sends at once, and how late is kept (max_lag_ms). wrk rounds a delay down to whole ms.
  local interval = 1000 / rate
  local next_slot = nil
  function delay()
    local now = now_ms()
    next_slot = next_slot or now
    local wait = next_slot - now
    next_slot = next_slot + interval
    if wait < 0 then
      if -wait > max_lag_ms then
        max_lag_ms = -wait
      end
      return 0
    end
    return wait
  end
end

function done(summary, latency, requests)
  local lag = 0
  for _, thread in ipairs(threads) do
    lag = math.max(lag, thread:get("max_lag_ms") or 0)
  end
  local e = summary.errors
  local out = assert(io.open(os.getenv("LF_OUT"), "w"))
  out:write(string.format(
    '{"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,'
      .. '"timeout":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"max_lag_ms":%.1f}',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, lag
  ))
  out:close()
end
