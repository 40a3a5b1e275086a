--[[
  apply-batch: applies one micro-batch of one Kafka partition to the real-time views, exactly once.

  The key count varies with the buckets a batch touches (bullmq's "-<count>" naming cannot say
  it, hence "-n"); ioredis sends it with every call. Every key carries the partition's hash tag
  {p<N>}, so the script touches a single slot and is valid on Redis Cluster.

  Input:
    KEYS[1]            partition meta hash          <prefix>:{p<N>}:meta
    KEYS[2]            open sessions of the slot    <prefix>:{p<N>}:sessions
    KEYS[3 .. 2+V]     bucket index zset per view   <prefix>:{p<N>}:b:<view>:<version>
    KEYS[3+V .. #KEYS] bucket hashes                <prefix>:{p<N>}:v:<view>:<version>:<bucketMs>

    ARGV[1]  epoch         fencing epoch returned by claim-partition
    ARGV[2]  owner         claim token of the worker
    ARGV[3]  prevOffset    applied offset this batch builds on ('' = nothing applied yet)
    ARGV[4]  nextOffset    last Kafka offset of this batch (becomes the applied offset)
    ARGV[5]  maxEventTime  partition's max accepted event time after the batch, ms ('' = none)
    ARGV[6]  watermark     maxEventTime - outOfOrderness, ms ('' = none)
    ARGV[7]  nowMs         worker wall clock (updatedAt, index trimming)
    ARGV[8..11]  increments of the counters applied, dlq, late, duplicates
    ARGV[12] V             number of bucket index keys
    ARGV[13] S             number of session upserts
    ARGV[14] D             number of session deletions
    then V pairs   (trimBelowMs, ttlMs)  per index: drop index entries of expired buckets
    then S pairs   (user, state)         open sessions to store
    then D values  (user)                sessions closed by this batch
    then, per bucket hash (in KEYS order):
         indexPosition (1..V), bucketMs, expireAtMs, nIncr, nFloat, nMin, nMax,
         then nIncr (field, integer delta)  HINCRBY (HINCRBYFLOAT when the stored value is not integral)
              nFloat (field, delta)         HINCRBYFLOAT
              nMin (field, value)           keep the smaller
              nMax (field, value)           keep the larger

  Output:
    { 'OK', nextOffset, epoch }          applied
    { 'FENCED', storedEpoch, storedOwner } the partition was claimed since: nothing written
    { 'OFFSET', storedOffset }           stored offset is not prevOffset (replay or gap): nothing written

  Every check happens before the first write.
]]
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'owner', 'offset')
if meta[1] ~= ARGV[1] or meta[2] ~= ARGV[2] then
  return { 'FENCED', meta[1] or '', meta[2] or '' }
end
local stored = meta[3] or ''
if stored ~= ARGV[3] then
  return { 'OFFSET', stored }
end

-- meta: offset, event time, counters
local metaFields = { 'offset', ARGV[4], 'updatedAt', ARGV[7] }
if ARGV[5] ~= '' then
  metaFields[#metaFields + 1] = 'maxEventTime'
  metaFields[#metaFields + 1] = ARGV[5]
  metaFields[#metaFields + 1] = 'watermark'
  metaFields[#metaFields + 1] = ARGV[6]
end
redis.call('HSET', KEYS[1], unpack(metaFields))
local counters = { 'applied', 'dlq', 'late', 'duplicates' }
for i = 1, 4 do
  local inc = tonumber(ARGV[7 + i])
  if inc ~= 0 then
    redis.call('HINCRBY', KEYS[1], counters[i], inc)
  end
end

local indexCount = tonumber(ARGV[12])
local upserts = tonumber(ARGV[13])
local deletions = tonumber(ARGV[14])
local a = 15

-- bucket indexes: forget buckets whose hashes have expired
local indexTtl = {}
for i = 1, indexCount do
  local key = KEYS[2 + i]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[a])
  indexTtl[i] = ARGV[a + 1]
  a = a + 2
end

-- open sessions
for _ = 1, upserts do
  redis.call('HSET', KEYS[2], ARGV[a], ARGV[a + 1])
  a = a + 2
end
for _ = 1, deletions do
  redis.call('HDEL', KEYS[2], ARGV[a])
  a = a + 1
end

-- bucket deltas
for k = 3 + indexCount, #KEYS do
  local key = KEYS[k]
  local indexPosition = tonumber(ARGV[a])
  local bucketMs = ARGV[a + 1]
  local expireAt = ARGV[a + 2]
  local nIncr = tonumber(ARGV[a + 3])
  local nFloat = tonumber(ARGV[a + 4])
  local nMin = tonumber(ARGV[a + 5])
  local nMax = tonumber(ARGV[a + 6])
  a = a + 7
  for _ = 1, nIncr do
    local reply = redis.pcall('HINCRBY', key, ARGV[a], ARGV[a + 1])
    if type(reply) == 'table' and reply.err then
      redis.call('HINCRBYFLOAT', key, ARGV[a], ARGV[a + 1])
    end
    a = a + 2
  end
  for _ = 1, nFloat do
    redis.call('HINCRBYFLOAT', key, ARGV[a], ARGV[a + 1])
    a = a + 2
  end
  for _ = 1, nMin do
    local current = redis.call('HGET', key, ARGV[a])
    if not current or tonumber(ARGV[a + 1]) < tonumber(current) then
      redis.call('HSET', key, ARGV[a], ARGV[a + 1])
    end
    a = a + 2
  end
  for _ = 1, nMax do
    local current = redis.call('HGET', key, ARGV[a])
    if not current or tonumber(ARGV[a + 1]) > tonumber(current) then
      redis.call('HSET', key, ARGV[a], ARGV[a + 1])
    end
    a = a + 2
  end
  redis.call('PEXPIREAT', key, expireAt)
  local indexKey = KEYS[2 + indexPosition]
  redis.call('ZADD', indexKey, bucketMs, bucketMs)
  redis.call('PEXPIRE', indexKey, indexTtl[indexPosition])
end

return { 'OK', ARGV[4], ARGV[1] }
