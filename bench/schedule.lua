-- wrk script for bench/scheduled.py: POST N proactive messages, each once, round-robin over
-- the users, then stop.
--
--   wrk -tT -cC -d120s -s bench/schedule.lua http://127.0.0.1:PORT -- IDS N T SEND_AT TOKEN [KEYTAG]
--
-- IDS     a file with one user id a line; message i goes to user i mod #ids
-- N, T    messages in all and wrk's thread count: thread k sends messages k, k+T, k+2T, ...
-- SEND_AT the messages' send_at; TOKEN the admin token; KEYTAG: an Idempotency-Key
--         KEYTAG-i on every request (absent: none)
--
-- Once a thread has sent its share, its connections ask GET /ready (answered 200, not
-- counted) until the last of its messages is answered; then it writes "SCHEDULE_DONE k"
-- on stderr and stops (or 3 s after its last answer, when wrk lost a request to a socket
-- error: done() reports posted - answered). wrk itself keeps its -d, so scheduled.py times the run by those
-- lines and ends wrk with SIGINT. done() prints one "SCHEDULE_JSON {...}" line.

local threads = {}
local nthreads = 0

function setup(thread)
   thread:set("tid", nthreads)
   nthreads = nthreads + 1
   table.insert(threads, thread)
end

tid = tid or 0
posted = 0
answered = 0
accepted = 0
refused = 0
local ids, quota, step, i, sendat, token, keytag, ready = {}, 0, 1, 0, "", "", nil, false

function init(args)
   for line in io.lines(args[1]) do
      if line ~= "" then ids[#ids + 1] = line end
   end
   local total = tonumber(args[2])
   step = tonumber(args[3])
   sendat, token, keytag = args[4], args[5], args[6]
   quota = math.floor((total - tid + step - 1) / step)
   i = tid
   ready = true
end

local probed = false

function request()
   if not ready then
      return wrk.format("GET", "/ready")
   end
   -- wrk 4.1 calls request() once on thread 0's script before it starts (to check the
   -- script's requests: script_verify_request) and never sends what it gets: that call
   -- must not take a message, or the thread waits for its answer until it gives up.
   if tid == 0 and not probed then
      probed = true
      return "GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
   end
   if posted >= quota then
      return "GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
   end
   local body = string.format(
      '{"body":"Reminder %d: your appointment is tomorrow at 3 pm.","send_at":"%s"}', i, sendat)
   local key = ""
   if keytag ~= nil and keytag ~= "" then
      key = "Idempotency-Key: " .. keytag .. "-" .. i .. "\r\n"
   end
   local id = ids[(i % #ids) + 1]
   i = i + step
   posted = posted + 1
   return "POST /sms-router/admin/users/" .. id .. "/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n" ..
      "Authorization: Bearer " .. token .. "\r\nContent-Type: application/json\r\n" .. key ..
      "Content-Length: " .. #body .. "\r\n\r\n" .. body
end

local finished = false
local last_post = nil

local function finish()
   if finished then return end
   finished = true
   io.stderr:write("SCHEDULE_DONE " .. tid .. "\n")
   io.stderr:flush()
   wrk.thread:stop()
end

function response(status, headers, body)
   if status == 200 then
      -- GET /ready after the share was sent. A request wrk lost to a socket error (it
      -- builds a new one on the new connection) is never answered: give up on it 3 s
      -- after the last POST answer; done() reports it as unanswered.
      if last_post ~= nil and os.time() - last_post >= 3 then finish() end
      return
   end
   answered = answered + 1
   last_post = os.time()
   if status == 202 then accepted = accepted + 1 else refused = refused + 1 end
   if answered == quota then finish() end
end

function done(summary, latency, requests)
   local p, a, ok, no = 0, 0, 0, 0
   for _, t in ipairs(threads) do
      p = p + (t:get("posted") or 0)
      a = a + (t:get("answered") or 0)
      ok = ok + (t:get("accepted") or 0)
      no = no + (t:get("refused") or 0)
   end
   local e = summary.errors
   io.write(string.format(
      'SCHEDULE_JSON {"posted":%d,"answered":%d,"accepted":%d,"refused":%d,"requests":%d,' ..
      '"err_connect":%d,"err_read":%d,"err_write":%d,"err_timeout":%d,' ..
      '"lat_us":{"p50":%d,"p99":%d,"max":%d}}\n',
      p, a, ok, no, summary.requests, e.connect, e.read, e.write, e.timeout,
      latency:percentile(50), latency:percentile(99), latency.max))
end
