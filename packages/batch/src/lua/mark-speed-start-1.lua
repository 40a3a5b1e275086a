--[[
  Records that a speed worker began writing a view's generation: the latest such start is kept, as
  the generation's real-time keys are complete only for hours after every worker writes them.

  KEYS[1]  the view's registry hash (see register-generation-1.lua); field `speed:<n>`
  ARGV[1]  generation n
  ARGV[2]  now, epoch ms

  Returns the start kept (epoch ms).
]]
local field = 'speed:' .. ARGV[1]
local current = tonumber(redis.call('HGET', KEYS[1], field) or '0')
local now = tonumber(ARGV[2])
if now > current then
  redis.call('HSET', KEYS[1], field, ARGV[2])
  return now
end
return current
