-- write.lua: fenced writes of customer values, with a partition's
-- checkpoint and outbox. No domain logic: values are computed and encoded
-- in Go (value.go); this script only decides whether they may land.
--
-- ARGV[1]  'c': KEYS[1] is the partition's checkpoint key and KEYS[2] its
--          outbox, the customers follow; '-': all keys are customers
-- ARGV[2]  the writing partition's id, 8 bytes (PartitionID, big-endian)
-- ARGV[3]  its watermark field in a release-1 hash (o:<topic>:<partition>)
-- ARGV[4]  the checkpoint the writer expects to find (-1: none)
-- ARGV[5]  the checkpoint after this batch (the next offset to process),
--          a space and the writer's token
-- ARGV[6]  m, the number of customers whose outbox entries are cleared,
--          then their ids; then n, the number of outbox entries written,
--          then n pairs (customer id, messages)
-- then per customer key, three arguments: the value's watermark for the
--          partition (-1: none), '1' when the write applies events
--          (strict) or '0' (a sweep or a restore), the value.
--
-- Checkpoint ('c'): stored as "<offset> <token>". Stored below the
-- expected one (or missing while one is expected) means Redis lost writes:
-- nothing is written, the reply is {1, stored}. The very checkpoint and
-- token of this call mean the writer's earlier attempt landed (its reply
-- was lost): nothing is written, the reply is {3, stored}. Stored above it
-- otherwise means another writer (an owner that lost the partition, or
-- the new one) wrote since: nothing is written, the reply is {2, stored}.
-- Otherwise the outbox entries are cleared and written, and the
-- checkpoint becomes ARGV[5] (when its offset is higher).
--
-- Fence: a customer's write lands only if the stored watermark for the
-- partition is lower than the value's (strict) or not higher (not
-- strict); a release-1 hash is fenced by its watermark field and replaced.
--
-- Reply: {0, checkpoint, i...}: the 1-based indexes (among the customer
-- keys) of the writes the fence refused.
local i0 = 1
local reply = {0, -1}
local function parse(v)
  local o, t = string.match(v, '^(%-?%d+) ?(.*)$')
  return tonumber(o), t
end
if ARGV[1] == 'c' then
  local cur = redis.call('GET', KEYS[1])
  local stored, token = -1, ''
  if cur then stored, token = parse(cur) end
  local expect = tonumber(ARGV[4])
  local next, mine = parse(ARGV[5])
  if stored < expect then return {1, stored} end
  if stored ~= expect then
    if stored == next and token == mine then return {3, stored} end
    return {2, stored}
  end
  if next > stored then
    redis.call('SET', KEYS[1], ARGV[5])
  else
    next = stored
  end
  reply[2] = next
  i0 = 3
end

local i = 7
local m = tonumber(ARGV[6])
while m > 0 do
  local k = math.min(m, 500)
  redis.call('HDEL', KEYS[2], unpack(ARGV, i, i + k - 1))
  i = i + k
  m = m - k
end
local n = tonumber(ARGV[i])
i = i + 1
while n > 0 do
  local m = math.min(n, 500)
  redis.call('HSET', KEYS[2], unpack(ARGV, i, i + 2 * m - 1))
  i = i + 2 * m
  n = n - m
end

local tag = ARGV[2]
for j = i0, #KEYS do
  local k = KEYS[j]
  local off = tonumber(ARGV[i])
  local strict = ARGV[i + 1] == '1'
  local stored = -1
  local cur = redis.pcall('GET', k)
  local hash = type(cur) == 'table'
  if hash then
    local w = redis.call('HGET', k, ARGV[3])
    if w then stored = tonumber(w) end
  elseif cur then
    local nw = string.byte(cur, 2) or 0
    for x = 0, nw - 1 do
      local p = 3 + 16 * x
      if string.sub(cur, p, p + 7) == tag then
        local o = 0
        for q = p + 8, p + 15 do o = o * 256 + string.byte(cur, q) end
        if string.byte(cur, p + 8) >= 128 then o = o - 18446744073709551616 end
        stored = o
        break
      end
    end
  end
  if stored > off or (strict and stored == off) then
    reply[#reply + 1] = j - i0 + 1
  else
    if hash then redis.call('DEL', k) end
    redis.call('SET', k, ARGV[i + 2])
  end
  i = i + 3
end
return reply
