-- wrk script: walk a pre-signed corpus (bench/gen_corpus.py) without replaying a request.
--
--   wrk -t2 -c64 -d10s -s bench/walk.lua http://127.0.0.1:PORT/sms-router/webhook/sms \
--       -- PREFIX [CURSORS]
--
-- PREFIX   the corpus: thread k reads the shard file PREFIX.k, lines
--          "SIGNATURE<TAB>FORM-BODY", sequentially, one line per request, never loading
--          the file into memory. wrk's -t must not exceed the number of shards.
-- CURSORS  "-" (start of every shard) or comma-separated byte offsets, one per thread,
--          as printed by the previous run in "cursors": the next run continues there, so
--          successive runs against one database never send a MessageSid twice.
--
-- A thread that reaches the end of its shard wraps to the start and counts every further
-- request in "replayed". Against smsrouter a replay is a dedupe hit, not a new message, so
-- run.py grows the corpus ahead of each run and flags any replayed > 0. Against nginx,
-- which keeps no state, replays are harmless (it gets the same bytes either way).
--
-- done() prints one line "WALK_JSON {...}": requests (completed responses), non2xx
-- (status > 399, wrk's own count), socket errors, latency percentiles in microseconds,
-- records sent (requests built, including those still in flight at the end), replays,
-- and per thread the records sent and the cursor for the next run.

local threads = {}
local nthreads = 0

-- Paced load (run.py's half-load rounds): with WALK_DELAY_MS set, each connection waits a
-- random 0..2*WALK_DELAY_MS ms (mean WALK_DELAY_MS, whole ms as wrk takes them) after each
-- answer before it sends the next request. The random wait keeps the connections out of
-- step, so arrivals spread out. wrk only calls delay() if the script defines it, so the
-- unpaced runs are not touched.
local pace = tonumber(os.getenv("WALK_DELAY_MS") or "")
if pace ~= nil and pace > 0 then
   function delay()
      return math.floor(math.random() * 2 * pace + 0.5)
   end
end

function setup(thread)
   thread:set("tid", nthreads)
   nthreads = nthreads + 1
   table.insert(threads, thread)
end

-- Per-thread state, global so that done() can read it with thread:get().
tid = tid or 0
sent = 0       -- records turned into requests
replayed = 0   -- of those, sent after a wrap
wraps = 0
cursor = 0     -- byte offset of the next record in this thread's shard

local f, head, ready = nil, nil, false

function init(args)
   local prefix = args[1]
   if prefix == nil then error("walk.lua: pass -- PREFIX [CURSORS]") end
   local path = prefix .. "." .. tid
   f = io.open(path, "rb")
   if f == nil then error("walk.lua: no shard " .. path .. " (more wrk threads than shards?)") end
   local size = f:seek("end")
   if size == 0 then error("walk.lua: empty shard " .. path) end
   local cur = args[2]
   if cur ~= nil and cur ~= "-" and cur ~= "" then
      local k = 0
      for v in string.gmatch(cur, "[^,]+") do
         if k == tid then cursor = tonumber(v) end
         k = k + 1
      end
      if cursor < 0 or cursor > size then error("walk.lua: cursor beyond the end of " .. path) end
   end
   f:seek("set", cursor)
   math.randomseed(1000 + tid)
   head = "POST " .. wrk.path .. " HTTP/1.1\r\nHost: " .. wrk.host .. ":" .. wrk.port ..
      "\r\nContent-Type: application/x-www-form-urlencoded\r\nUser-Agent: TwilioProxy/1.1" ..
      "\r\nX-Twilio-Signature: "
   ready = true
end

function request()
   if not ready then
      -- wrk calls request() once in its main Lua state (which has no init()) to check the
      -- request's shape: answer a well-formed one without touching the corpus.
      return wrk.format("POST", wrk.path, {["Content-Type"] = "application/x-www-form-urlencoded"}, "x=1")
   end
   local line = f:read("*l")
   if line == nil then
      f:seek("set", 0)
      cursor = 0
      wraps = wraps + 1
      line = f:read("*l")
   end
   cursor = cursor + #line + 1
   sent = sent + 1
   if wraps > 0 then replayed = replayed + 1 end
   local tab = string.find(line, "\t", 1, true)
   if tab == nil then error("walk.lua: not a corpus record (a cursor off a line start?)") end
   local body = string.sub(line, tab + 1)
   return head .. string.sub(line, 1, tab - 1) .. "\r\nContent-Length: " .. #body .. "\r\n\r\n" .. body
end

function done(summary, latency, requests)
   local s, r, w, cur, per = 0, 0, 0, {}, {}
   for i, t in ipairs(threads) do
      local ts = t:get("sent") or 0
      s = s + ts
      r = r + (t:get("replayed") or 0)
      w = w + (t:get("wraps") or 0)
      per[i] = string.format("%d", ts)
      cur[i] = string.format("%d", t:get("cursor") or 0)
   end
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      'WALK_JSON {"threads":%d,"duration_s":%.3f,"requests":%d,"rps":%.1f,"bytes":%d,' ..
      '"non2xx":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_timeout":%d,' ..
      '"lat_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f},' ..
      '"sent":%d,"replayed":%d,"wraps":%d,"sent_per_thread":[%s],"cursors":"%s"}\n',
      #threads, secs, summary.requests, summary.requests / secs, summary.bytes,
      e.status, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max, latency.mean,
      s, r, w, table.concat(per, ","), table.concat(cur, ",")))
end
