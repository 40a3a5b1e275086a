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
         indexPosition (1..V), bucketMs, expireAtMs, nAdd, nMin,
         fieldsJson   JSON array of the fields: nAdd `add` cells, then nMin `min`, then the `max` ones
         valuesJson   JSON array of their numbers as decimal strings, in the same order
    A bucket's cells are read with one HMGET and written with one HSET (chunked below Lua's
    unpack limit) rather than a call per cell: the per-call overhead of redis.call, not the hash
    work, is most of the cost of a cell. `add` cells are summed as doubles, as core's merge does;
    `min`/`max` cells keep the smaller/larger; a cell whose stored value does not change is not
    written. A new bucket hash also gets key-schema.ts's BUCKET_MARKER_FIELD. A new cell stores
    the worker's text as is (most cells of a batch are new, and Redis formatting a Lua number costs
    more than the rest of the cell); a merged one stores the text Redis gives a Lua number. Lua's
    tonumber and JavaScript's Number read both back exactly.

  Output:
    { 'OK', nextOffset, epoch }            applied
    { 'FENCED', storedEpoch, storedOwner } the partition was claimed since: nothing written
    { 'OFFSET', storedOffset }             stored offset is not prevOffset (replay or gap): nothing written
    { 'INVALID', bucketKey, reason }       a bucket's arguments are malformed, or an `add` cell's sum
                                           would leave the range of a double (it would be stored as
                                           "inf" and read back as NaN): nothing written. The same
                                           batch is refused again on every attempt; the worker
                                           dead-letters it instead of retrying.

  Every check happens before the first write (Redis does not roll back a script that fails midway):
  the buckets are read and merged first, and written only once every one of them has passed.
]]
local meta = redis.call('HMGET', KEYS[1], 'epoch', 'owner', 'offset')
if meta[1] ~= ARGV[1] or meta[2] ~= ARGV[2] then
  return { 'FENCED', meta[1] or '', meta[2] or '' }
end
local stored = meta[3] or ''
if stored ~= ARGV[3] then
  return { 'OFFSET', stored }
end

local indexCount = tonumber(ARGV[12])
local upserts = tonumber(ARGV[13])
local deletions = tonumber(ARGV[14])
local a = 15 + 2 * indexCount + 2 * upserts + deletions

-- decode and check every bucket's cells before anything is written
local buckets = {}
for k = 3 + indexCount, #KEYS do
  local ok, fields = pcall(cjson.decode, ARGV[a + 5])
  local okValues, values = pcall(cjson.decode, ARGV[a + 6])
  local nAdd = tonumber(ARGV[a + 3])
  local nMin = tonumber(ARGV[a + 4])
  if not (ok and okValues and nAdd and nMin) or type(fields) ~= 'table' or type(values) ~= 'table'
    or #fields ~= #values or nAdd + nMin > #fields then
    return { 'INVALID', KEYS[k], 'the fields and values do not decode as two JSON arrays of equal length' }
  end
  for i = 1, #values do
    if type(fields[i]) ~= 'string' or not tonumber(values[i]) then
      return { 'INVALID', KEYS[k], 'cell ' .. i .. ' is not a field name with a number' }
    end
  end
  buckets[#buckets + 1] = {
    key = KEYS[k],
    indexPosition = tonumber(ARGV[a]),
    bucketMs = ARGV[a + 1],
    expireAt = ARGV[a + 2],
    nAdd = nAdd,
    nMin = nMin,
    fields = fields,
    values = values,
  }
  a = a + 7
end

-- read and merge every bucket before the first write: a sum that overflows refuses the batch
local CHUNK = 3000 -- fields per HMGET / HSET: unpack stays far below LUAI_MAXCSTACK (8000)
-- key-schema.ts BUCKET_MARKER_FIELD: not a cell (no `dims\tmeasure\tcell` of any view), readers skip it
local MARKER_FIELD = '\t\t(tandem speed: this field keeps the bucket a hash table, not a listpack)'
local HUGE = math.huge
for _, bucket in ipairs(buckets) do
  local key = bucket.key
  local fields = bucket.fields
  local values = bucket.values
  local n = #fields
  local addEnd = bucket.nAdd
  local minEnd = bucket.nAdd + bucket.nMin
  local out = {}
  local o = 0
  if redis.call('EXISTS', key) == 0 then
    -- a new bucket: nothing to read, and the marker (longer than hash-max-listpack-value) in the
    -- first HSET makes Redis create a real hash table, not a listpack, whose lookups are linear
    -- scans over the hundreds of fields a bucket gains per batch
    out[1] = MARKER_FIELD
    out[2] = '1'
    o = 2
    for i = 1, n do
      out[o + 1] = fields[i]
      out[o + 2] = values[i]
      o = o + 2
    end
  else
    for s = 1, n, CHUNK do
      local e = math.min(n, s + CHUNK - 1)
      local current = redis.call('HMGET', key, unpack(fields, s, e))
      for i = s, e do
        local v = values[i]
        local stored = current[i - s + 1]
        if stored then
          local c = tonumber(stored)
          local x = tonumber(v)
          if i <= addEnd then
            if x == 0 then
              v = nil
            else
              v = c + x
              if v == HUGE or v == -HUGE or v ~= v then
                return { 'INVALID', key, 'the sum of cell ' .. fields[i] .. ' (' .. stored .. ' + ' .. values[i]
                  .. ') leaves the range of a double' }
              end
            end
          elseif i <= minEnd then
            if c <= x then v = nil end
          elseif c >= x then
            v = nil
          end
        end
        if v then
          out[o + 1] = fields[i]
          out[o + 2] = v
          o = o + 2
        end
      end
    end
  end
  bucket.out = out
  bucket.o = o
end

-- every check has passed; writes start here
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

a = 15

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

-- bucket deltas, merged above
for _, bucket in ipairs(buckets) do
  local key = bucket.key
  local out = bucket.out
  local o = bucket.o
  for s = 1, o, 2 * CHUNK do
    redis.call('HSET', key, unpack(out, s, math.min(o, s + 2 * CHUNK - 1)))
  end
  redis.call('PEXPIREAT', key, bucket.expireAt)
  local indexKey = KEYS[2 + bucket.indexPosition]
  redis.call('ZADD', indexKey, bucket.bucketMs, bucket.bucketMs)
  redis.call('PEXPIRE', indexKey, indexTtl[bucket.indexPosition])
end

return { 'OK', ARGV[4], ARGV[1] }
