--[[
  Extends a held batch lease; doubles as the fencing check right before a pointer write.

  KEYS[1]  lease key
  ARGV[1]  expected value "<token>:<owner>"
  ARGV[2]  new TTL, ms

  Returns 1 when the lease is still ours (and is extended), 0 when it expired or was taken.
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
