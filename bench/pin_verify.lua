-- PIN verifications for wrk, one account per wrk thread (run with -tN -cN: one in flight each).
--
--   wrk -t20 -c20 -d20s -s bench/pin_verify.lua URL -- TOKENS_FILE PATH PIN
--
-- TOKENS_FILE has one bearer token per line, one account (with PIN set) per line.

local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
end

function init(args)
   local file, path, pin = args[1], args[2], args[3]
   local tokens = {}
   for line in io.lines(file) do
      tokens[#tokens + 1] = line
   end
   local token = tokens[id % #tokens + 1]
   req = wrk.format("POST", path, {
      ["Authorization"] = "Bearer " .. token,
      ["Content-Type"] = "application/json",
   }, '{"pin":"' .. pin .. '"}')
end

function request()
   return req
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
