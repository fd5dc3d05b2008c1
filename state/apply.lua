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
-- then, only for an event with a source: the source's field (q:<source>)
-- and the event's source_seq (1..2^53-1, exact in a Lua number).
--
-- Returns one string: the hash after the event as field "\n" value "\n" ...
-- pairs (the ids value emptied: it is binary; pairs with an empty field are
-- deleted buckets, to be skipped), then the status: 0 applied, 1 redelivery
-- (offset at or below the watermark), 2 duplicate (an event id among the
-- recent ids, or a source_seq at or below the source's highest applied
-- one). No field name or value other than ids holds a newline (names,
-- sources and segments are validated identifiers, the rest are numbers).
--
-- The hash is read once (HGETALL) and written once (one HSET, and an HDEL
-- when buckets leave the window): each redis.call costs more than the Lua
-- around it. Sums are exact: in Lua numbers (doubles) while both operands
-- are below 5e13 in magnitude, where doubles hold every integer; above, in
-- decimal strings, failing like HINCRBY past the 64-bit range. A rolling-window bucket is one field, its
-- start day, holding "count:money[:margin]".
local k = KEYS[1]
local off = tonumber(ARGV[2])

local flat = redis.call('HGETALL', k)
local at = {} -- field -> index of its value in flat
for i = 1, #flat, 2 do
  at[flat[i]] = i + 1
end

local function reply(status)
  local i = at['ids']
  if i then flat[i] = '' end
  flat[#flat + 1] = status
  return table.concat(flat, '\n')
end

local function num(f)
  local i = at[f]
  if i then return tonumber(flat[i]) end
end

local w = num(ARGV[1])
if w and w >= off then
  return reply('1')
end

local id = ARGV[3]
local ids = ''
if at['ids'] then ids = flat[at['ids']] end
local from = 1
while true do
  local s = string.find(ids, id, from, true)
  if not s then break end
  if s % 8 == 1 then
    redis.call('HSET', k, ARGV[1], ARGV[2])
    return reply('2')
  end
  from = s + 1
end

-- a source's events are applied in increasing source_seq: one at or below
-- the highest applied is a duplicate, however old
local typ = ARGV[5]
local qi = 11 -- the source's field follows the type's arguments
if typ == 'k' then qi = 10 end
local qf = ARGV[qi]
if qf then
  local cur = num(qf)
  if cur and tonumber(ARGV[qi + 1]) <= cur then
    redis.call('HSET', k, ARGV[1], ARGV[2])
    return reply('2')
  end
end
ids = id .. ids
local mem = tonumber(ARGV[4])
if #ids > 8 * mem then
  ids = string.sub(ids, 1, 8 * mem)
end

local hset = {k} -- HSET arguments: the key, then field, value pairs
local function set(f, v)
  local i = at[f]
  if i then
    flat[i] = v
  else
    local n = #flat
    flat[n + 1] = f
    flat[n + 2] = v
    at[f] = n + 2
  end
  hset[#hset + 1] = f
  hset[#hset + 1] = v
end

-- slowadd sums decimal integer strings exactly, for the rare operands of
-- 5e13 or more: magnitudes as digit strings, the result checked against
-- int64. Its helpers are made only when it runs.
local function slowadd(x, y)
  local function cmpmag(a, b)
    if #a ~= #b then return #a < #b and -1 or 1 end
    if a == b then return 0 end
    return a < b and -1 or 1
  end

  local function digits(t)
    local i = #t
    while i > 1 and t[i] == 0 do i = i - 1 end
    local s = {}
    for j = i, 1, -1 do s[#s + 1] = t[j] end
    return table.concat(s)
  end

  local function addmag(a, b)
    local t, carry = {}, 0
    local i, j = #a, #b
    while i > 0 or j > 0 or carry > 0 do
      local d = carry
      if i > 0 then d = d + string.byte(a, i) - 48 end
      if j > 0 then d = d + string.byte(b, j) - 48 end
      t[#t + 1] = d % 10
      carry = math.floor(d / 10)
      i, j = i - 1, j - 1
    end
    return digits(t)
  end

  local function submag(a, b) -- a >= b
    local t, borrow = {}, 0
    local i, j = #a, #b
    while i > 0 do
      local d = string.byte(a, i) - 48 - borrow
      if j > 0 then d = d - (string.byte(b, j) - 48) end
      if d < 0 then d, borrow = d + 10, 1 else borrow = 0 end
      t[#t + 1] = d
      i, j = i - 1, j - 1
    end
    return digits(t)
  end

  local function bigadd(a, b)
    local na, nb = string.sub(a, 1, 1) == '-', string.sub(b, 1, 1) == '-'
    local ma = na and string.sub(a, 2) or a
    local mb = nb and string.sub(b, 2) or b
    local neg, mag
    if na == nb then
      neg, mag = na, addmag(ma, mb)
    else
      local c = cmpmag(ma, mb)
      if c == 0 then return '0' end
      if c > 0 then neg, mag = na, submag(ma, mb) else neg, mag = nb, submag(mb, ma) end
    end
    if cmpmag(mag, neg and '9223372036854775808' or '9223372036854775807') > 0 then
      error({err = 'ERR increment or decrement would overflow'})
    end
    if neg then return '-' .. mag end
    return mag
  end

  return bigadd(x, y)
end

local fmt = string.format
local function add(a, d)
  local x, y = tonumber(a), tonumber(d)
  if x > -5e13 and x < 5e13 and y > -5e13 and y < 5e13 then
    -- %d (a C long) prints every digit and is cheaper than tostring
    return fmt('%d', x + y)
  end
  return slowadd(a, d)
end

local function incr(f, d)
  local i = at[f]
  set(f, add(i and flat[i] or '0', d))
end

local function neg(v)
  if string.sub(v, 1, 1) == '-' then return string.sub(v, 2) end
  return '-' .. v
end

set(ARGV[1], ARGV[2])
set('ids', ids)
if qf then set(qf, ARGV[qi + 1]) end

local ts = ARGV[6]
local t = tonumber(ts)

local function setmin(f)
  local cur = num(f)
  if not cur or t < cur then set(f, ts) end
end

local function setmax(f)
  local cur = num(f)
  if not cur or t > cur then
    set(f, ts)
    return true
  end
  return false
end

setmin('fs')
setmax('le')

local hdel = nil
if typ == 'p' or typ == 'r' then
  local amt = ARGV[9]
  local mg = ARGV[10]
  local bd = tonumber(ARGV[7])
  local wd = tonumber(ARGV[8])
  local day = math.floor(t / 86400)
  local bucket = math.floor(day / bd) * bd
  -- the latest day this customer has seen decides what has left the window
  local latest = math.floor(num('le') / 86400)
  local dc, dv, dg
  if typ == 'p' then
    incr('n', '1')
    incr('m', amt)
    if mg ~= '0' then incr('mg', mg) end
    -- a sale on a day already counted (that of the earliest or latest sale)
    -- is not a new purchase day; exact for in-order streams
    local lp, fp = num('lp'), num('fp')
    local newday = true
    if lp and math.floor(lp / 86400) == day then newday = false end
    if fp and math.floor(fp / 86400) == day then newday = false end
    if newday then incr('pd', '1') end
    setmin('fp')
    if setmax('lp') and num('kc') ~= 0 then set('kc', '0') end
    dc, dv, dg = '1', amt, mg
  else
    incr('rf', '1')
    incr('rm', amt)
    incr('m', '-' .. amt)
    if mg ~= '0' then
      mg = neg(mg)
      incr('mg', mg)
    end
    dc, dv, dg = '0', '-' .. amt, mg
  end
  if bucket + bd > latest - wd then
    local f = fmt('%d', bucket)
    local i = at[f]
    local c, v, g = '0', '0', '0'
    if i then
      c, v, g = string.match(flat[i], '^([^:]*):([^:]*):?(.*)$')
      if g == '' then g = '0' end
    end
    c, v = add(c, dc), add(v, dv)
    if dg ~= '0' then g = add(g, dg) end
    if g == '0' then set(f, c .. ':' .. v) else set(f, c .. ':' .. v .. ':' .. g) end
    if not i then
      -- a new bucket: drop those that left the window, so a customer holds
      -- at most wd/bd+2 buckets (bucket fields are the names starting with
      -- a digit; b<D>, v<D>, g<D> are those of hashes written before
      -- buckets were packed into one field)
      local cut = latest - wd
      for j = 1, #flat, 2 do
        local b = flat[j]
        local d = nil
        if b < ':' then
          if b ~= '' then d = tonumber(b) end
        elseif #b > 1 then
          local c1 = string.byte(b)
          if c1 == 98 or c1 == 103 or c1 == 118 then d = tonumber(string.sub(b, 2)) end
        end
        if d and d + bd <= cut then
          hdel = hdel or {k}
          hdel[#hdel + 1] = b
          flat[j], flat[j + 1] = '', ''
          at[b] = nil
        end
      end
    end
  end
elseif typ == 'c' then
  local f = 'c' .. ARGV[9]
  if ARGV[10] == '1' then
    incr('ct', '1')
    incr(f, '1')
    setmax('lc')
  else
    local open = num(f)
    if open and open > 0 then incr(f, '-1') end
  end
elseif typ == 'k' then
  incr('k', '1')
  local lp = num('lp')
  if not lp or t > lp then incr('kc', '1') end
  if ARGV[9] == '1' then incr('kr', '1') end
  setmax('lk')
end

redis.call('HSET', unpack(hset))
if hdel then redis.call('HDEL', unpack(hdel)) end
return reply('0')
