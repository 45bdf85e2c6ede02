/**
 * The Lua scripts behind RedisCounterStore. Each runs atomically on the Redis server, so checking
 * and charging several limits cannot interleave with another node's request.
 *
 * Per counter window there are two keys:
 * - a hash `w:<counter>:<windowStart>`: `u` = used, `r` = sum of live holds, `a:<member>` = one hold;
 * - a sorted set `wr:<counter>:<windowStart>`: hold members scored by the Redis time (ms) they expire.
 * A hold's member is `<reservationId>:<check index>`. The invariant `r = sum of a:<m> for m in the
 * sorted set` is kept by every script, and expired holds are pruned before every read, so leaked
 * holds stop counting and `r` cannot drift upward. A reservation's record, a list
 * `rsv:<reservationId>` of (hash, sorted set, expiry ms) triples, lets settle find its holds.
 * All amounts are integer nano-units added with HINCRBY (64-bit, exact); Lua numbers are used
 * only to compare.
 */

const COMMON = `
if redis.replicate_commands then redis.replicate_commands() end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function negate(s)
  if s == '0' then return nil end
  if string.sub(s, 1, 1) == '-' then return string.sub(s, 2) end
  return '-' .. s
end

local function drop_hold(h, z, m)
  local field = 'a:' .. m
  local a = redis.call('HGET', h, field)
  if a then redis.call('HDEL', h, field) end
  if redis.call('ZREM', z, m) == 1 and a then
    local d = negate(a)
    if d then redis.call('HINCRBY', h, 'r', d) end
  end
end

local function prune(h, z, now)
  local expired = redis.call('ZRANGEBYSCORE', z, '-inf', now)
  if #expired == 0 then return end
  for _, m in ipairs(expired) do drop_hold(h, z, m) end
  if redis.call('ZCARD', z) == 0 then redis.call('HDEL', h, 'r') end
end
`

/**
 * KEYS: record, released marker, epoch, then (hash, sorted set) per check.
 * ARGV: reservation id, ttl ms, record ttl ms, the epoch the caller knows, then (limit or '' for
 * none, amount, expiry ms or '0') per check.
 * Returns {1, hold..., room left after the hold ('' when unlimited)...} or {0, failing index (1-based), used, reserved, limit},
 * {-1} when the epoch is missing (Redis lost its data: seed, then reserve again), {-2} when the id
 * was already released, {-3, epoch} when the counters were seeded since the caller last looked.
 */
export const RESERVE_LUA = `${COMMON}
local rid = ARGV[1]
local ttl = tonumber(ARGV[2])
local n = (#KEYS - 3) / 2
local epoch = redis.call('GET', KEYS[3])
if not epoch then return {-1} end
if epoch ~= ARGV[4] then return {-3, epoch} end
if redis.call('EXISTS', KEYS[2]) == 1 then return {-2} end
if redis.call('EXISTS', KEYS[1]) == 1 then
  local out = {1}
  for i = 1, n do
    out[i + 1] = redis.call('HGET', KEYS[2 * i + 2], 'a:' .. rid .. ':' .. i) or '0'
  end
  return out
end
local now = now_ms()
local grants = {}
local left = {}
local pending = {}
for i = 1, n do
  local h, z = KEYS[2 * i + 2], KEYS[2 * i + 3]
  local lim, amt = ARGV[3 * i + 2], ARGV[3 * i + 3]
  prune(h, z, now)
  local grant = amt
  if lim ~= '' then
    local used = redis.call('HGET', h, 'u') or '0'
    local reserved = tonumber(redis.call('HGET', h, 'r') or '0') + (pending[h] or 0)
    local room = tonumber(lim) - tonumber(used) - reserved
    if room <= 0 then
      return {0, i, used, string.format('%.0f', reserved), lim}
    end
    if tonumber(amt) > room then grant = string.format('%.0f', room) end
    left[i] = string.format('%.0f', room - tonumber(grant))
  else
    left[i] = ''
  end
  pending[h] = (pending[h] or 0) + tonumber(grant)
  grants[i] = grant
end
for i = 1, n do
  local h, z = KEYS[2 * i + 2], KEYS[2 * i + 3]
  local m = rid .. ':' .. i
  local expiry = ARGV[3 * i + 4]
  redis.call('HSET', h, 'a:' .. m, grants[i])
  if grants[i] ~= '0' then redis.call('HINCRBY', h, 'r', grants[i]) end
  redis.call('ZADD', z, now + ttl, m)
  if expiry ~= '0' then
    redis.call('PEXPIRE', h, expiry)
    redis.call('PEXPIRE', z, expiry)
  end
  redis.call('RPUSH', KEYS[1], h, z, expiry)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
local out = {1}
for i = 1, n do out[i + 1] = grants[i] end
for i = 1, n do out[n + i + 1] = left[i] end
return out
`

/**
 * Settle and release. KEYS: record, finished marker, epoch, then optionally the hash of each check.
 * ARGV: reservation id, marker ttl ms, the epoch the caller knows ('' for a release, which checks
 * none), then the actual amount per check (none for a release), then with the hashes each one's
 * expiry ms or '0'. A finished reservation keeps the marker a minute (a retried settle does
 * nothing), an unknown one longer (a reserve of it arriving late holds nothing). An unknown,
 * unmarked id with hashes given is one whose record Redis lost: its amounts are charged to the
 * hashes. Returns {1}, {2} when charged without the record, {0} when already finished, {-1} when
 * the epoch is missing, {-3, epoch} when the counters were seeded since the caller last looked
 * (nothing charged: what the caller charged before is added back by its node, see onReseeded).
 */
export const SETTLE_LUA = `${COMMON}
if ARGV[3] ~= '' then
  local epoch = redis.call('GET', KEYS[3])
  if not epoch then return {-1} end
  if epoch ~= ARGV[3] then return {-3, epoch} end
end
local rec = redis.call('LRANGE', KEYS[1], 0, -1)
if #rec == 0 then
  if not redis.call('SET', KEYS[2], '1', 'PX', ARGV[2], 'NX') then return {0} end
  local m = #KEYS - 3
  if m == 0 then return {0} end
  for i = 1, m do
    local actual = ARGV[i + 3]
    if actual and actual ~= '0' then
      redis.call('HINCRBY', KEYS[i + 3], 'u', actual)
      local expiry = ARGV[m + i + 3]
      if expiry ~= '0' then redis.call('PEXPIRE', KEYS[i + 3], expiry) end
    end
  end
  return {2}
end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], '1', 'PX', 60000)
local rid = ARGV[1]
for i = 1, #rec / 3 do
  local h, z, expiry = rec[3 * i - 2], rec[3 * i - 1], rec[3 * i]
  drop_hold(h, z, rid .. ':' .. i)
  if redis.call('ZCARD', z) == 0 then redis.call('HDEL', h, 'r') end
  local actual = ARGV[i + 3]
  if actual and actual ~= '0' then
    redis.call('HINCRBY', h, 'u', actual)
    if expiry ~= '0' then redis.call('PEXPIRE', h, expiry) end
  end
end
return {1}
`

/** KEYS: hash, sorted set. Returns {used, reserved}. */
export const READ_LUA = `${COMMON}
prune(KEYS[1], KEYS[2], now_ms())
return {redis.call('HGET', KEYS[1], 'u') or '0', redis.call('HGET', KEYS[1], 'r') or '0'}
`

/** KEYS: hash. ARGV: 'add' or 'set', amount, expiry ms or '0'. */
export const CHARGE_LUA = `
if ARGV[1] == 'set' then
  redis.call('HSET', KEYS[1], 'u', ARGV[2])
elseif ARGV[2] ~= '0' then
  redis.call('HINCRBY', KEYS[1], 'u', ARGV[2])
end
if ARGV[3] ~= '0' and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
`

/**
 * Seeds counters from the durable store once after Redis lost its data. KEYS: epoch, then one hash
 * per counter window. ARGV: epoch value, then (used, expiry ms or '0') per hash. Never lowers a
 * figure already there, so a seed that races a charge, or a needless one, costs nothing.
 * Returns 1, or 0 when another node seeded first.
 */
export const SEED_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
for i = 2, #KEYS do
  local used = ARGV[2 * i - 2]
  local cur = redis.call('HGET', KEYS[i], 'u')
  if not cur or tonumber(cur) < tonumber(used) then redis.call('HSET', KEYS[i], 'u', used) end
  local expiry = ARGV[2 * i - 1]
  if expiry ~= '0' then redis.call('PEXPIRE', KEYS[i], expiry) end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
`
