-- write.lua: the writes of a batch. No domain logic: values are computed
-- and encoded in Go (value.go); this script decides whether they may land.
--
-- It serves Redis Cluster, where a batch's customers live in other slots
-- than its partition's keys, and writes without a checkpoint; on a
-- standalone Redis a batch is one MULTI/EXEC transaction instead (Write).
--
-- ARGV[1]  'c': the partition's part of a batch: KEYS[1..5] are its
--          checkpoint, outbox, population, segment counts and due index
--          (one hash tag, one slot); the customers follow in '-' calls
--          once this one succeeded. '-': KEYS are customers, each fenced
--          by its watermark.
-- ARGV[2]  the writing partition's id, 8 bytes (PartitionID, big-endian)
-- ARGV[3]  its watermark field in a release-1 hash (o:<topic>:<partition>)
-- ARGV[4]  the checkpoint the writer expects ('' for none)
-- ARGV[5]  the checkpoint after this batch: "<next offset> <token>:<n>",
--          unique per write
-- ARGV[6..] groups, each a count and its items: outbox entries to clear
--          (ids), outbox entries to write (id, messages), population
--          increments (field, delta), segment-count increments (field,
--          delta), due times (score, id), ids off the due index; then per
--          customer key three arguments: the value's watermark for the
--          partition (-1: none), '1' when the write applies events (strict)
--          or '0' (a sweep, a restore), the value.
--
-- Checkpoint ('c'): the stored checkpoint must be exactly the expected
-- one; then the partition's keys are written and the checkpoint becomes
-- ARGV[5]. A
-- stored checkpoint equal to ARGV[5] means this very write landed before
-- (its reply was lost): {3}. One whose offset is below the expected one,
-- or none where one is expected, means Redis lost writes: {1}. Any other
-- means another writer (an owner that lost the partition, or the new one)
-- wrote since: {2}. Nothing is written in those cases.
--
-- Fence ('-'): a customer's write lands only if the stored watermark for
-- the partition is lower than the value's (strict) or not higher (not
-- strict); a release-1 hash is fenced by its watermark field and replaced.
--
-- Reply: {status, stored checkpoint, i...}: status 0 (written), 1, 2 or 3
-- as above; the i are the 1-based indexes (among the customer keys) of the
-- writes the fence refused.
local function offset(ck)
  return tonumber(string.match(ck or '', '^(%-?%d+)')) or -1
end

local i = 6
local function group(width, fn)
  local n = tonumber(ARGV[i])
  i = i + 1
  while n > 0 do
    local m = math.min(n, 500)
    fn(i, i + width * m - 1)
    i = i + width * m
    n = n - m
  end
end

local reply = {0, ''}
local i0 = 1
if ARGV[1] == 'c' then
  local stored = redis.call('GET', KEYS[1]) or ''
  reply[2] = stored
  if stored ~= ARGV[4] then
    if stored == ARGV[5] then
      reply[1] = 3
    elseif offset(stored) < offset(ARGV[4]) then
      reply[1] = 1
    else
      reply[1] = 2
    end
    return reply
  end
  redis.call('SET', KEYS[1], ARGV[5])
  reply[2] = ARGV[5]
  group(1, function(a, b) redis.call('HDEL', KEYS[2], unpack(ARGV, a, b)) end)
  group(2, function(a, b) redis.call('HSET', KEYS[2], unpack(ARGV, a, b)) end)
  group(2, function(a, b)
    for j = a, b, 2 do redis.call('HINCRBY', KEYS[3], ARGV[j], ARGV[j + 1]) end
  end)
  group(2, function(a, b)
    for j = a, b, 2 do redis.call('HINCRBY', KEYS[4], ARGV[j], ARGV[j + 1]) end
  end)
  group(2, function(a, b) redis.call('ZADD', KEYS[5], unpack(ARGV, a, b)) end)
  group(1, function(a, b) redis.call('ZREM', KEYS[5], unpack(ARGV, a, b)) end)
  return reply
end

i = 6
for _ = 1, 6 do group(1, function() end) end -- '-' calls carry empty groups

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
