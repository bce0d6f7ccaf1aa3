-- wrk script for bench/registration.py (run by it; not meant to be run by hand).
--
-- BENCH_MODE=register: every request POSTs a new, valid registration for a distinct
-- person. The NIK is region(6) + DDMMYY (women: day + 40) + serial(4); the region is
-- "31" + batch + thread so no two wrk runs or threads ever produce the same person.
-- Any other BENCH_MODE: wrk's static request (the URL given on the command line).
-- BENCH_EMAIL=1: every body also carries an e-mail address (so, with messages on, every
-- registration queues its confirmation or waitlist message in the same statement).
--
-- Every mode counts responses by status per thread and, for 201s, the registration id,
-- and done() prints one line "@@BENCH {json}" for the Python driver to parse.

local mode = os.getenv("BENCH_MODE") or "get"
local batch = tonumber(os.getenv("BENCH_BATCH") or "0")
local with_email = os.getenv("BENCH_EMAIL") == "1"
local slugs = {}
for slug in string.gmatch(os.getenv("BENCH_EVENTS") or "", "[^,]+") do
   slugs[#slugs + 1] = slug
end

-- Main state: the threads, numbered in creation order.
local threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   threads[#threads + 1] = thread
end

-- Thread state.
local DAYS = 10000 -- birth dates from 1970-01-02 on: everyone is 17+ on the 2015 race days
local MALE = { "Budi", "Agus", "Rudi", "Andi", "Joko", "Hendra", "Yusuf", "Dedi" }
local FEMALE = { "Siti", "Dewi", "Rina", "Ayu", "Fitri", "Lestari", "Intan", "Nur" }
local LAST = { "Santoso", "Wijaya", "Saputra", "Hidayat", "Siregar", "Nasution", "Lubis" }
local SIZES = { "S", "M", "L", "XL" }

sent = 0
statuses = {}
ids = {}

function init(args)
   region = string.format("31%02d%02d", batch % 100, tid % 100)
   headers = { ["Content-Type"] = "application/json" }
end

local function pick(list, n)
   return list[(n % #list) + 1]
end

local function person(n)
   local day_index = (n - 1) % DAYS
   local serial = 1 + math.floor((n - 1) / DAYS) % 9999
   local born = os.date("!*t", (day_index + 1) * 86400 + 43200)
   local female = n % 2 == 1
   local nik_day = born.day + (female and 40 or 0)
   local nik = string.format(
      "%s%02d%02d%02d%04d", region, nik_day, born.month, born.year % 100, serial
   )
   local first = female and pick(FEMALE, n) or pick(MALE, n)
   local email = ""
   if with_email then
      email = string.format(',"email":"runner.%s.%d@example.com"', region, n)
   end
   return string.format(
      '{"full_name":"%s %s","nik":"%s","birth_date":"%04d-%02d-%02d","gender":"%s",'
         .. '"phone":"0812%08d","shirt_size":"%s","member":false,"consent":true%s}',
      first, pick(LAST, n), nik, born.year, born.month, born.day, female and "F" or "M",
      (n * 7919 + tid) % 100000000, pick(SIZES, n), email
   )
end

if mode == "register" then
   function request()
      sent = sent + 1
      local path = "/api/v1/events/" .. slugs[((sent - 1) % #slugs) + 1] .. "/registrations"
      return wrk.format("POST", path, headers, person(sent))
   end
end

function response(status, _, body)
   local key = tostring(status)
   statuses[key] = (statuses[key] or 0) + 1
   if status == 201 then
      ids[#ids + 1] = tonumber(string.match(body, '"id":%s*(%d+)'))
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
      local got_ids = thread:get("ids")
      local id_text = {}
      for j = 1, #got_ids do
         id_text[j] = string.format("%d", got_ids[j])
      end
      out[i] = string.format(
         '{"sent":%d,"statuses":%s,"ids":[%s]}',
         thread:get("sent"), json_object(thread:get("statuses")), table.concat(id_text, ",")
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
