--[[
  claim-partition: a worker takes ownership of one Kafka partition's real-time state.

  Bumps the partition's fencing epoch, so every batch still in flight from an earlier owner (or
  from this worker before a rebalance) is rejected by apply-batch, and records the new owner.
  There is nothing to check first: a claim always wins; the fence does the rest.

  Input:
    KEYS[1]  partition meta hash   <prefix>:{p<N>}:meta
    ARGV[1]  owner                 claim token of the worker (random per worker process)
    ARGV[2]  nowMs                 wall clock of the worker, for operators only

  Output:
    { epoch, appliedOffset, maxEventTime, previousOwner }
    epoch is the new fencing epoch (integer); the others are strings, '' when absent.
]]
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
local previous = redis.call('HMGET', KEYS[1], 'owner', 'offset', 'maxEventTime')
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'claimedAt', ARGV[2])
return { epoch, previous[2] or '', previous[3] or '', previous[1] or '' }
