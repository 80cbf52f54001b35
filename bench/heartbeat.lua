-- Continuing-session heartbeats for wrk, one seeded session per child profile.
--
--   wrk -t2 -c64 -d15s -s bench/heartbeat.lua URL -- DATA_FILE PATH THREADS
--
-- DATA_FILE has one line per viewer: "token profile_id title_id session_id" (bench/seed.py).
-- Each wrk thread takes every THREADS-th viewer and cycles through them, so no two threads
-- beat the same session and a session's beats are a whole cycle apart. The body and headers
-- are the same whichever PATH is hit: the service and the yardstick get byte-identical load.

local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
end

function init(args)
   local file, path, threads = args[1], args[2], tonumber(args[3])
   requests = {}
   local i = 0
   for line in io.lines(file) do
      if i % threads == id then
         local token, profile, title, session = line:match("(%S+) (%S+) (%S+) (%S+)")
         local body = string.format(
            '{"profile_id":"%s","title_id":"%s","session_id":"%s","device_id":"bench-%d","device_type":"tv","is_paused":false}',
            profile, title, session, i)
         requests[#requests + 1] = wrk.format("POST", path, {
            ["Authorization"] = "Bearer " .. token,
            ["Content-Type"] = "application/json",
         }, body)
      end
      i = i + 1
   end
   -- A random start: short runs (the warm-ups) do not all beat the same first profiles.
   math.randomseed(os.time() * 64 + id)
   position = math.random(#requests) - 1
end

function request()
   position = position % #requests + 1
   return requests[position]
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
      '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,' ..
      '"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
      latency.mean))
end
