-- wrk script for bench/checkin.py (run by it; not meant to be run by hand).
--
-- BENCH_MODE=scan: every request POSTs the next JSON body of BENCH_SCANS (one body a
-- line, prepared by checkin.py) to the wrk URL with "Authorization: Bearer BENCH_TOKEN".
-- The lines are dealt out round-robin: thread t of BENCH_THREADS takes lines t, t+T, ...
-- so every thread walks the planned sequence at about the same pace (a repeat planned
-- far after its first scan is answered after it). If a thread runs out of lines it starts
-- again from its first one, and counts it ("wrapped"): checkin.py then warns.
-- Any other BENCH_MODE: wrk's static request (the URL given on the command line).
--
-- Every mode counts responses by status per thread; scans also by the "result" field of
-- the body ("<result>/replayed" for replays, "replayed": true). done() prints one line
-- "@@BENCH {json}" for the Python driver to parse.

local mode = os.getenv("BENCH_MODE") or "get"

-- Main state: the threads, numbered in creation order.
local threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   threads[#threads + 1] = thread
end

-- Thread state.
sent = 0
wrapped = 0
replayed = 0
statuses = {}
results = {}

function init(args)
   if mode ~= "scan" then
      return
   end
   local count = tonumber(os.getenv("BENCH_THREADS") or "1")
   local path = wrk.path
   local headers = {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN"),
   }
   requests = {}
   local n = 0
   for line in io.lines(os.getenv("BENCH_SCANS")) do
      if n % count == tid - 1 then
         requests[#requests + 1] = wrk.format("POST", path, headers, line)
      end
      n = n + 1
   end
   if #requests == 0 then
      error("no scan bodies for thread " .. tid)
   end
end

if mode == "scan" then
   function request()
      sent = sent + 1
      local i = sent
      if i > #requests then
         wrapped = wrapped + 1
         i = ((i - 1) % #requests) + 1
      end
      return requests[i]
   end
end

function response(status, _, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
   if mode == "scan" then
      local result = string.match(body, '"result":%s*"([%w_]+)"') or "none"
      if string.find(body, '"replayed":%s*true') then
         replayed = replayed + 1
         result = result .. "/replayed"
      end
      results[result] = (results[result] or 0) + 1
   end
end

local function json_object(tbl)
   local parts = {}
   for key, value in pairs(tbl) do
      parts[#parts + 1] = string.format('"%s":%d', key, value)
   end
   return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
   local out = {}
   for i, thread in ipairs(threads) do
      out[i] = string.format(
         '{"sent":%d,"wrapped":%d,"replayed":%d,"statuses":%s,"results":%s}',
         thread:get("sent"), thread:get("wrapped"), thread:get("replayed"),
         json_object(thread:get("statuses")), json_object(thread:get("results"))
      )
   end
   local e = summary.errors
   io.write(string.format(
      '@@BENCH {"duration_us":%d,"requests":%d,"bytes":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
         .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},'
         .. '"threads":[%s]}\n',
      summary.duration, summary.requests, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean, table.concat(out, ",")
   ))
end
