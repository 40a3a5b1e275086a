--[[
  Reads a view's active generation in one round trip: the pointer and what it points at, from one
  hash, so the record and spec always belong to the number returned.

  KEYS[1]  the view's registry hash (see register-generation-1.lua)

  Returns {n, record JSON, spec JSON}, or {} when the view has no registry yet.
]]
local active = redis.call('HGET', KEYS[1], 'active')
if not active then
  return {}
end
local values = redis.call('HMGET', KEYS[1], 'gen:' .. active, 'spec:' .. active)
return {tonumber(active), values[1], values[2]}
