--[[
  Releases a batch lease only if it is still ours (never another owner's newer lease).

  KEYS[1]  lease key
  ARGV[1]  expected value "<token>:<owner>"

  Returns 1 when released, 0 when it was no longer ours.
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
