-- Checks every limit of one request and, only if all allow it, counts it in each: atomic, with Redis'
-- own clock (TIME), so gateway nodes whose clocks disagree still share one window. One call carries the
-- requests of one event-loop tick of one gateway worker (each request still costs one round trip).
-- ARGV[1]: number of requests; then per request: number of limits n, then 5 per limit: strategy (1 fixed,
-- 2 sliding, 3 moving), amount, window_ms, cost, mode (0 hit, 1 check only, 2 add without check).
-- KEYS: the base keys of every limit of every request, in order.
-- Returns one array per request: {refused (0 or 1-based index), retry_ms, remaining_1, reset_ms_1, ...}.
-- Window keys (<key>:<window index>) are derived here from Redis time; this targets a single Redis
-- (or a primary with replicas), not Redis Cluster.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function request(k0, a0, n)
local out = {0, 0}
local plan = {}
local refused = 0
local retry = 0

for i = 1, n do
    local base = a0 + (i - 1) * 5
    local strategy = tonumber(ARGV[base + 1])
    local amount = tonumber(ARGV[base + 2])
    local w = tonumber(ARGV[base + 3])
    local cost = tonumber(ARGV[base + 4])
    local mode = tonumber(ARGV[base + 5])
    local need = cost
    if mode == 2 then need = 0 elseif mode == 1 then need = 1 end
    local key = KEYS[k0 + i]
    local used, reset, over, skey, expiry
    if strategy == 3 then
        -- a list of timestamps, newest first, capped at `amount` (as limits' moving window)
        local lo, hi = 0, redis.call('LLEN', key)
        while lo < hi do
            local mid = math.floor((lo + hi) / 2)
            if tonumber(redis.call('LINDEX', key, mid)) > now - w then lo = mid + 1 else hi = mid end
        end
        used = lo
        over = used + need - amount
        if over > 0 then
            local idx = used - over
            if idx < 0 then idx = 0 end
            reset = tonumber(redis.call('LINDEX', key, idx)) + w - now
        elseif used > 0 then
            reset = tonumber(redis.call('LINDEX', key, used - 1)) + w - now
        else
            reset = w
        end
        skey = key
        expiry = w
    else
        local idx = math.floor(now / w)
        skey = key .. ':' .. idx
        local count = tonumber(redis.call('GET', skey)) or 0
        local elapsed = now - idx * w
        local prev = 0
        if strategy == 2 then
            prev = tonumber(redis.call('GET', key .. ':' .. (idx - 1))) or 0
            used = math.floor(prev * (w - elapsed) / w) + count
            expiry = (idx + 2) * w - now
        else
            used = count
            expiry = (idx + 1) * w - now
        end
        over = used + need - amount
        reset = w - elapsed
        if over > 0 and strategy == 2 and count + need <= amount and prev > 0 then
            local allowed = amount - need - count
            reset = (w - elapsed) - math.floor(((allowed + 1) * w) / prev) + 1
            if reset < 1 then reset = 1 end
        end
    end
    local counted = cost
    if mode == 1 then counted = 0 end
    plan[i] = {strategy, skey, counted, expiry, amount}
    local remaining = amount - used
    if mode == 0 then remaining = remaining - cost end
    if remaining < 0 then remaining = 0 end
    if over > 0 then
        if refused == 0 then refused = i end
        if reset > retry then retry = reset end
    end
    out[#out + 1] = remaining
    out[#out + 1] = reset
end

if refused > 0 then
    out[1] = refused
    out[2] = retry
    return out
end

for i = 1, #plan do
    local step = plan[i]
    local counted = step[3]
    if counted > 0 then
        if step[1] == 3 then
            local n = counted
            if n > step[5] then n = step[5] end
            for _ = 1, n do redis.call('LPUSH', step[2], now) end
            redis.call('LTRIM', step[2], 0, step[5] - 1)
            redis.call('PEXPIRE', step[2], step[4])
        else
            if redis.call('INCRBY', step[2], counted) == counted then
                redis.call('PEXPIRE', step[2], step[4])
            end
        end
    end
end
return out
end

local results = {}
local k0, a0 = 0, 2
for r = 1, tonumber(ARGV[1]) do
    local n = tonumber(ARGV[a0])
    results[r] = request(k0, a0, n)
    k0 = k0 + n
    a0 = a0 + 1 + n * 5
end
return results
