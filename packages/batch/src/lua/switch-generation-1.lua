--[[
  Moves a view's active pointer from one generation to another in one step (compare-and-set), so
  every serving process sees the switch at once and none builds an answer from two generations.

  KEYS[1]  the view's registry hash (see register-generation-1.lua)
  ARGV[1]  expected active generation n (the switch is refused when the pointer moved meanwhile)
  ARGV[2]  target generation n (building, or the previous one for a rollback)
  ARGV[3]  now, epoch ms

  The old active generation becomes previous (kept for rollback); an older previous one is
  retired (collected after the retention period). A retired generation is never switched to: its
  data may already be collected.

  Returns {1, target} when switched, {0, active} when the pointer was not ARGV[1],
  {-1, state} when the target is unknown ('none') or retired.
]]
local key = KEYS[1]
local now = tonumber(ARGV[3])
local active = redis.call('HGET', key, 'active')
if active ~= ARGV[1] then
  return {0, active or ''}
end
local raw = redis.call('HGET', key, 'gen:' .. ARGV[2])
if not raw then
  return {-1, 'none'}
end
local target = cjson.decode(raw)
if target.state == 'retired' then
  return {-1, 'retired'}
end
if ARGV[2] == active then
  return {1, target.n}
end

local fields = redis.call('HKEYS', key)
for _, field in ipairs(fields) do
  if string.sub(field, 1, 4) == 'gen:' then
    local gen = cjson.decode(redis.call('HGET', key, field))
    if gen.state == 'previous' and gen.n ~= target.n then
      gen.state = 'retired'; gen.since = now
      redis.call('HSET', key, field, cjson.encode(gen))
    end
  end
end
local old = cjson.decode(redis.call('HGET', key, 'gen:' .. active))
old.state = 'previous'; old.since = now
redis.call('HSET', key, 'gen:' .. active, cjson.encode(old))
target.state = 'active'; target.since = now
redis.call('HSET', key, 'gen:' .. target.n, cjson.encode(target), 'active', target.n)
return {1, target.n}
