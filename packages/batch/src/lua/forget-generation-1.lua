--[[
  Forgets a collected generation of a view: its record, spec, fingerprint entry and speed start,
  only while it is still retired (a config that brought it back in between keeps it).

  KEYS[1]  the view's registry hash (see register-generation-1.lua)
  ARGV[1]  generation n

  Returns 1 when forgotten, 0 when it is not (or no longer) retired.
]]
local raw = redis.call('HGET', KEYS[1], 'gen:' .. ARGV[1])
if not raw then
  return 0
end
local gen = cjson.decode(raw)
if gen.state ~= 'retired' then
  return 0
end
redis.call('HDEL', KEYS[1], 'gen:' .. ARGV[1], 'spec:' .. ARGV[1], 'fp:' .. gen.fingerprint, 'speed:' .. ARGV[1])
return 1
