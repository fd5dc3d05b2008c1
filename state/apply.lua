-- apply.lua: apply one event to one customer's hash, atomically, exactly once.
--
-- KEYS[1]  the customer's hash
-- ARGV[1]  watermark field (o:<topic>:<partition>)
-- ARGV[2]  offset of the message in that partition
-- ARGV[3]  event id hash (8 bytes)
-- ARGV[4]  id memory: how many recent event id hashes are kept
-- ARGV[5]  event type: p (sale), r (refund), c (complaint), k (contact)
-- ARGV[6]  event time, unix seconds
-- ARGV[7]  bucket days
-- ARGV[8]  window days
-- ARGV[9..] by type:
--   p, r: amount (minor units), margin (minor units)
--   c:    severity 1..4, opened (1) or resolved (0)
--   k:    response (1 or 0)
--
-- Returns {status, HGETALL}: status 0 applied, 1 redelivery (offset at or
-- below the watermark), 2 duplicate event id. Money is summed with HINCRBY,
-- which is exact 64-bit integer arithmetic in Redis, never in Lua numbers.
local k = KEYS[1]
local wf = ARGV[1]
local off = tonumber(ARGV[2])

local w = redis.call('HGET', k, wf)
if w and tonumber(w) >= off then
  return {1, redis.call('HGETALL', k)}
end

local id = ARGV[3]
local mem = tonumber(ARGV[4])
local ids = redis.call('HGET', k, 'ids') or ''
for i = 1, #ids, 8 do
  if string.sub(ids, i, i + 7) == id then
    redis.call('HSET', k, wf, ARGV[2])
    return {2, redis.call('HGETALL', k)}
  end
end
ids = id .. ids
if #ids > 8 * mem then
  ids = string.sub(ids, 1, 8 * mem)
end
redis.call('HSET', k, wf, ARGV[2], 'ids', ids)

local typ = ARGV[5]
local t = tonumber(ARGV[6])

local function setmin(f, v)
  local cur = redis.call('HGET', k, f)
  if not cur or v < tonumber(cur) then
    redis.call('HSET', k, f, v)
    return true
  end
  return false
end

local function setmax(f, v)
  local cur = redis.call('HGET', k, f)
  if not cur or v > tonumber(cur) then
    redis.call('HSET', k, f, v)
    return true, cur
  end
  return false, cur
end

setmin('fs', t)
setmax('le', t)

if typ == 'p' or typ == 'r' then
  local amt = ARGV[9]
  local mg = ARGV[10]
  local bd = tonumber(ARGV[7])
  local wd = tonumber(ARGV[8])
  local day = math.floor(t / 86400)
  local bucket = math.floor(day / bd) * bd
  -- the latest day this customer has seen decides what has left the window
  local latest = math.floor(tonumber(redis.call('HGET', k, 'le')) / 86400)
  local inwin = bucket + bd > latest - wd
  if typ == 'p' then
    redis.call('HINCRBY', k, 'n', 1)
    redis.call('HINCRBY', k, 'm', amt)
    if mg ~= '0' then redis.call('HINCRBY', k, 'mg', mg) end
    -- a sale on a day already counted (that of the earliest or latest sale)
    -- is not a new purchase day; exact for in-order streams
    local lp = redis.call('HGET', k, 'lp')
    local fp = redis.call('HGET', k, 'fp')
    local newday = true
    if lp and math.floor(tonumber(lp) / 86400) == day then newday = false end
    if fp and math.floor(tonumber(fp) / 86400) == day then newday = false end
    if newday then redis.call('HINCRBY', k, 'pd', 1) end
    setmin('fp', t)
    local later = setmax('lp', t)
    if later then redis.call('HSET', k, 'kc', 0) end
    if inwin then
      redis.call('HINCRBY', k, 'b' .. bucket, 1)
      redis.call('HINCRBY', k, 'v' .. bucket, amt)
      if mg ~= '0' then redis.call('HINCRBY', k, 'g' .. bucket, mg) end
    end
  else
    redis.call('HINCRBY', k, 'rf', 1)
    redis.call('HINCRBY', k, 'rm', amt)
    redis.call('HINCRBY', k, 'm', '-' .. amt)
    if mg ~= '0' then redis.call('HINCRBY', k, 'mg', -tonumber(mg)) end
    if inwin then
      redis.call('HINCRBY', k, 'v' .. bucket, '-' .. amt)
      if mg ~= '0' then redis.call('HINCRBY', k, 'g' .. bucket, -tonumber(mg)) end
    end
  end
  -- drop buckets that left the window; their count is bounded by wd/bd+1
  local fields = redis.call('HKEYS', k)
  for _, f in ipairs(fields) do
    local c = string.sub(f, 1, 1)
    if (c == 'b' or c == 'v' or c == 'g') and #f > 1 then
      local b = tonumber(string.sub(f, 2))
      if b and b + bd <= latest - wd then
        redis.call('HDEL', k, f)
      end
    end
  end
elseif typ == 'c' then
  local sev = ARGV[9]
  if ARGV[10] == '1' then
    redis.call('HINCRBY', k, 'ct', 1)
    redis.call('HINCRBY', k, 'c' .. sev, 1)
    setmax('lc', t)
  else
    local open = tonumber(redis.call('HGET', k, 'c' .. sev) or '0')
    if open > 0 then redis.call('HINCRBY', k, 'c' .. sev, -1) end
  end
elseif typ == 'k' then
  redis.call('HINCRBY', k, 'k', 1)
  local lp = redis.call('HGET', k, 'lp')
  if not lp or t > tonumber(lp) then redis.call('HINCRBY', k, 'kc', 1) end
  if ARGV[9] == '1' then redis.call('HINCRBY', k, 'kr', 1) end
  setmax('lk', t)
end

return {0, redis.call('HGETALL', k)}
