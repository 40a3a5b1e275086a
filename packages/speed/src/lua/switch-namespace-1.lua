--[[
  switch-namespace: points a stream's readers and live worker at another Redis namespace, but only
  if the pointer still names the namespace the caller started from (compare-and-set), so two
  replays racing cannot leave readers on a namespace nobody maintains.

  Input:
    KEYS[1]  the stream's active-namespace pointer   <REDIS_PREFIX>:speed:active (web stream)
                                                     <REDIS_PREFIX>:speed:<stream>:active (others)
    ARGV[1]  from   the namespace the caller expects to be active
    ARGV[2]  to     the namespace to make active
    ARGV[3]  base   the base prefix (REDIS_PREFIX), which an absent or empty pointer means

  Output:
    'OK'        switched
    namespace   the namespace found active instead: nothing written
]]
local current = redis.call('GET', KEYS[1])
if current == false or current == '' then
  current = ARGV[3]
end
if current ~= ARGV[1] then
  return current
end
redis.call('SET', KEYS[1], ARGV[2])
return 'OK'
