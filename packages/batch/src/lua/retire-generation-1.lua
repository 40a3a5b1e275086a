--[[
  Retires a view's previous generation once the rollback window (the retention period) has passed.

  KEYS[1]  the view's registry hash (see register-generation-1.lua)
  ARGV[1]  generation n
  ARGV[2]  latest `since` of a previous generation that may be retired (now - retention), epoch ms
  ARGV[3]  now, epoch ms

  Returns 1 when retired, 0 when it is not previous or not old enough.
]]
local raw = redis.call('HGET', KEYS[1], 'gen:' .. ARGV[1])
if not raw then
  return 0
end
local gen = cjson.decode(raw)
if gen.state ~= 'previous' or gen.since > tonumber(ARGV[2]) then
  return 0
end
gen.state = 'retired'
gen.since = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'gen:' .. ARGV[1], cjson.encode(gen))
return 1
