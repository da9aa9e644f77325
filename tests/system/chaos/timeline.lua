-- wrk script of the chaos suite: bench/lua/replay.lua (prepared requests, bounded in count,
-- the summary line), plus one line per answer, "<unix time in seconds> <status>", in the file
-- CHAOS_TIMELINE.<thread>, so that every 5xx can be placed inside or outside an outage.
-- CHAOS_DELAY_MS, when above 0, is how long each connection waits before each request (a wave
-- spread over a given time).

dofile(os.getenv("CHAOS_REPLAY"))

local ffi = require("ffi")
local ts = ffi.new("bench_timespec") -- declared by replay.lua
local replay_init, replay_response = init, response
local out

local function wall_s()
  ffi.C.clock_gettime(0, ts) -- CLOCK_REALTIME, comparable with the harness's time.time()
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local delay_ms = tonumber(os.getenv("CHAOS_DELAY_MS") or "0")
if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

function init(args)
  replay_init(args)
  out = io.open(os.getenv("CHAOS_TIMELINE") .. "." .. thread_index, "w")
  out:setvbuf("line")
end

function response(status, headers, body)
  replay_response(status, headers, body)
  out:write(string.format("%.3f %d\n", wall_s(), status))
end
