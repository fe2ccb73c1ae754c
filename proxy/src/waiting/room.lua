-- The waiting room's queue in Redis: the machine of room.rs (two buckets), step for step,
-- in one script so that every node of a fleet sees one queue. Keys (one hash slot): state hash, tickets zset
-- (score = ticket number), deadlines zset (score = deadline in ms).
-- ARGV: op ("enter" | "poll"), now ms, admissions per ms, burst, ttl ms, ticket, key ttl ms,
-- capacity. Returns {kind, ticket, ahead}: kind 0 unknown, 1 admitted, 2 waiting, 3 full.
local state, tickets, deadlines = KEYS[1], KEYS[2], KEYS[3]
local now = tonumber(ARGV[2])
local rate = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
local s = redis.call('HMGET', state, 'credit', 'tokens', 'last', 'next', 'head')
local credit = tonumber(s[1]) or burst
local tokens = tonumber(s[2]) or burst
local last = tonumber(s[3]) or now
local next_ticket = tonumber(s[4]) or 0
local head = tonumber(s[5]) or 0
if now < last then now = last end

local expired = redis.call('ZRANGEBYSCORE', deadlines, '-inf', '(' .. now, 'LIMIT', 0, 1000)
if #expired > 0 then
  redis.call('ZREM', tickets, unpack(expired))
  redis.call('ZREM', deadlines, unpack(expired))
end
local accrued = (now - last) * rate
tokens = math.min(tokens + accrued, burst)
credit = credit + accrued
last = now
if credit >= 1 then
  local due = redis.call('ZRANGEBYSCORE', tickets, head, '+inf', 'LIMIT', 0, math.min(math.floor(credit), 10000))
  if #due > 0 then
    head = tonumber(due[#due]) + 1
    credit = credit - #due
  end
end
credit = math.min(credit, burst)

local result
if ARGV[1] == 'enter' then
  if redis.call('ZCARD', tickets) == 0 and tokens >= 1 then
    tokens = tokens - 1
    credit = credit - 1
    result = {1, 0, 0}
  elseif redis.call('ZCARD', tickets) >= tonumber(ARGV[8]) then
    result = {3, 0, 0}
  else
    local t = next_ticket
    next_ticket = next_ticket + 1
    redis.call('ZADD', tickets, t, t)
    redis.call('ZADD', deadlines, now + ttl, t)
    result = {2, t, t - head}
  end
else
  local t = tonumber(ARGV[6])
  if not redis.call('ZSCORE', tickets, t) then
    result = {0, t, 0}
  elseif t < head and tokens >= 1 then
    tokens = tokens - 1
    redis.call('ZREM', tickets, t)
    redis.call('ZREM', deadlines, t)
    result = {1, t, 0}
  else
    redis.call('ZADD', deadlines, now + ttl, t)
    result = {2, t, math.max(t - head, 0)}
  end
end
redis.call('HSET', state, 'credit', tostring(credit), 'tokens', tostring(tokens), 'last', tostring(last),
  'next', tostring(next_ticket), 'head', tostring(head))
for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ARGV[7]) end
return result
