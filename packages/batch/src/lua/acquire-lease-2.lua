--[[
  Acquires the batch lease of one (view, hour) and mints its fencing token.

  KEYS[1]  lease key: "<token>:<owner>" while held, expires after the lease TTL
  KEYS[2]  token counter of the (view, hour): only ever grows
  ARGV[1]  owner id (one per runner process)
  ARGV[2]  lease TTL, ms
  ARGV[3]  token floor: the highest token already published for the hour (from its pointer), so a
           counter lost to a Redis flush or expiry restarts above it and fencing stays monotonic
  ARGV[4]  counter TTL, ms (safe to expire: the floor restores it)

  Returns {1, token} when acquired, {0, holder} when the lease is held (holder = "<token>:<owner>").
]]
local holder = redis.call('GET', KEYS[1])
if holder then
  return {0, holder}
end
local floor = tonumber(ARGV[3])
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
-- every check is done; writes start here
if current < floor then
  redis.call('SET', KEYS[2], floor)
end
local token = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
redis.call('SET', KEYS[1], token .. ':' .. ARGV[1], 'PX', ARGV[2])
return {1, token}
