-- wrk script of the Groundswell bench: replays prepared requests, counts answers by status
-- and prints one JSON line ("BENCH-JSON {...}") when done.
--
-- BENCH_REQUESTS names a file of requests, one a line: METHOD<TAB>PATH<TAB>BODY<TAB>HEADER...
-- (each header "Name: value"). Lines are shared out among wrk's threads; a thread stops when
-- its share is used up and answered, so a run is bounded in count as well as in time (-d). Without a file,
-- every request is wrk's default (the URL given on the command line). The summary's
-- "window_us" runs from the first request sent to the last answer received, over all threads.

local threads = {}

-- A wall clock (wrk's own timings cover the whole -d, even when every thread stopped early).
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
int getpid(void);
int tgkill(int tgid, int tid, int sig);
]]
local ts = ffi.new("bench_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

local function split(line)
  local fields = {}
  local start = 1
  while true do
    local i = string.find(line, "\t", start, true)
    if not i then
      table.insert(fields, string.sub(line, start))
      return fields
    end
    table.insert(fields, string.sub(line, start, i - 1))
    start = i + 1
  end
end

function init(args)
  statuses = {}
  first_us = 0
  last_us = 0
  prepared = nil
  cursor = 0
  in_flight = 0 -- requests of this thread sent and not yet answered
  used = false -- this thread's share of the lines is used up
  -- wrk calls request() once on thread 0's script to check it (script_verify_request) and
  -- never sends what it returns; that call must not use up a prepared line.
  verifying = (thread_index == 0)
  local path = os.getenv("BENCH_REQUESTS")
  local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")
  if path and path ~= "" then
    prepared = {}
    local n = 0
    for line in io.lines(path) do
      if n % thread_count == thread_index and line ~= "" then
        local f = split(line)
        local headers = {}
        for k = 4, #f do
          local colon = string.find(f[k], ": ", 1, true)
          if colon then
            headers[string.sub(f[k], 1, colon - 1)] = string.sub(f[k], colon + 2)
          end
        end
        local body = f[3]
        if body == "" then body = nil end
        table.insert(prepared, wrk.format(f[1], f[2], headers, body))
      end
      n = n + 1
    end
  end
end

-- wrk sleeps out the whole -d before it reports, even once every thread has stopped. Each
-- thread that used up its share appends a byte to BENCH_STOPPED (an append is atomic); the one
-- that makes it a byte a thread wakes wrk's main thread as Ctrl-C does (SIGINT: wrk stops
-- waiting, joins the threads and reports). Sent to that thread (whose id is the process's):
-- a signal sent to the process could be taken by a thread still running.
local stopped_marked = false
function used_up()
  local path = os.getenv("BENCH_STOPPED")
  if stopped_marked or not path or path == "" then return end
  stopped_marked = true
  local file = io.open(path, "a")
  file:write("x")
  file:close()
  file = io.open(path, "r")
  local marks = #file:read("*a")
  file:close()
  if marks >= tonumber(os.getenv("BENCH_THREADS") or "1") then
    local pid = ffi.C.getpid()
    ffi.C.tgkill(pid, pid, 2)
  end
end

-- Once a thread's share is used up, it stops when the answers still on their way on its
-- other connections have come: stopped at once, it would leave them sent and uncounted.
local function stop_when_answered()
  if used and in_flight == 0 then
    wrk.thread:stop()
    used_up()
  end
end

function request()
  if verifying then
    verifying = false
    if prepared ~= nil and #prepared > 0 then return prepared[1] end
    return wrk.request()
  end
  if first_us == 0 then
    first_us = now_us()
  end
  if prepared == nil then
    return wrk.request()
  end
  cursor = cursor + 1
  if cursor > #prepared then
    -- Used up: this connection sends nothing more (an empty request writes nothing, so no
    -- line is sent twice).
    used = true
    stop_when_answered()
    return ""
  end
  in_flight = in_flight + 1
  return prepared[cursor]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  last_us = now_us()
  if prepared ~= nil then
    in_flight = in_flight - 1
    stop_when_answered()
  end
end

function done(summary, latency, requests)
  local counts = {}
  local first, last = nil, 0
  for _, thread in ipairs(threads) do
    local f = thread:get("first_us")
    if f > 0 and (first == nil or f < first) then first = f end
    local l = thread:get("last_us")
    if l > last then last = l end
    local s = thread:get("statuses")
    for code, n in pairs(s) do
      counts[code] = (counts[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(counts) do
    table.insert(parts, string.format('"%d": %d', code, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH-JSON {"window_us": %d, "duration_us": %d, "requests": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"min": %d, "max": %d, "mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "p999": %d}, ' ..
    '"statuses": {%s}}\n',
    (first and last > first) and (last - first) or 0,
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.max, latency.mean,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    table.concat(parts, ", ")))
end
