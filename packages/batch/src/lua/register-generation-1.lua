--[[
  Registers a view's current definition in its generation registry (one hash per view, one slot).

  KEYS[1]  the view's registry hash: fields `active`, `next`, `fp:<fingerprint>` → n,
           `gen:<n>` → JSON {n, fingerprint, state, since}, `spec:<n>` → the spec's JSON text
  ARGV[1]  fingerprint
  ARGV[2]  spec JSON (stored as given, never re-encoded)
  ARGV[3]  now, epoch ms
  ARGV[4]  adopt at: the number the view's existing data has (used only when the hash is empty)

  A known fingerprint keeps its number. Active, building or previous: nothing changes (a previous
  one is there because an operator rolled back; that choice stands until someone switches again).
  Retired (the config went back to it): it becomes building again, and the builder finds what is
  still in the lake. A new fingerprint gets `next + 1` and is building; on an empty hash (first contact) it
  is adopted at ARGV[4] and made active at once, since its data already exists. Any other building
  generation is retired: only the newest definition is built.

  Returns {n, state, created (1|0)}.
]]
local key = KEYS[1]
local fp = ARGV[1]
local now = tonumber(ARGV[3])

local function load(n)
  return cjson.decode(redis.call('HGET', key, 'gen:' .. n))
end
local function save(gen)
  redis.call('HSET', key, 'gen:' .. gen.n, cjson.encode(gen))
end

-- Checks first: which generations are building besides the one registered.
local known = redis.call('HGET', key, 'fp:' .. fp)
local building = {}
local fields = redis.call('HKEYS', key)
for _, field in ipairs(fields) do
  if string.sub(field, 1, 4) == 'gen:' then
    local gen = load(string.sub(field, 5))
    if gen.state == 'building' and gen.fingerprint ~= fp then table.insert(building, gen) end
  end
end

if known then
  local gen = load(known)
  if gen.state ~= 'retired' then
    return {gen.n, gen.state, 0}
  end
  for _, other in ipairs(building) do
    other.state = 'retired'; other.since = now; save(other)
  end
  gen.state = 'building'; gen.since = now; save(gen)
  return {gen.n, 'building', 0}
end

local n, state
if redis.call('HEXISTS', key, 'active') == 0 and redis.call('HEXISTS', key, 'next') == 0 then
  n = tonumber(ARGV[4]); state = 'active'
  redis.call('HSET', key, 'active', n)
else
  n = tonumber(redis.call('HGET', key, 'next') or '0') + 1; state = 'building'
end
for _, other in ipairs(building) do
  other.state = 'retired'; other.since = now; save(other)
end
redis.call('HSET', key, 'next', n, 'fp:' .. fp, n, 'spec:' .. n, ARGV[2])
save({n = n, fingerprint = fp, state = state, since = now})
return {n, state, 1}
