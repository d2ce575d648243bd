/**
 * Lua scripts run atomically by Redis. Each reads the clock with `TIME` so
 * every node agrees on "now" without trusting its own clock. There are two
 * sets: one Redis (`PUBLISH`, one epoch key for the whole prefix) and Redis
 * Cluster (`SPUBLISH`, an epoch per topic in the topic's slot), so that every
 * script touches only keys and channels of one topic's hash slot.
 */

/** Which Redis the scripts run on. */
export type RedisMode = 'single' | 'cluster';

export interface RedisScripts {
  readonly publish: string;
  readonly read: string;
  readonly presenceJoin: string;
  readonly presenceLeave: string;
  readonly presenceRefresh: string;
  readonly presenceList: string;
}

/** `PUBLISH` on one Redis; on a cluster `SPUBLISH`, which only the shard owning the channel's slot sees. */
const publishCommand = (mode: RedisMode) => (mode === 'single' ? 'PUBLISH' : 'SPUBLISH');

/** Milliseconds from Redis's clock, as a Lua number. */
const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * A cluster topic's epoch, in a key in the topic's slot holding
 * `<epoch> <node id>`: the epoch (positions before it refer to history this
 * master does not have) and the cluster node id of the master that wrote it.
 * Redis replicates asynchronously, so when another node serves the slot
 * (its master failed over, or the slot moved) writes acknowledged by the old
 * master may be missing here: the epoch then moves to now, and every older position gets a
 * `reset` gap instead of a silent hole. The key expires `ttlMs` after its
 * last use, never before the stream (which expires `ttlMs` after its last
 * publish): a missing key with a position younger than `ttlMs` means lost data.
 * One GETEX reads it and extends it, as every publish and read does.
 * Needs `now` (NOW_MS).
 */
const TOPIC_EPOCH = `local function topicEpoch(key, ttl)
  local node = redis.call('CLUSTER', 'MYID')
  local meta = redis.call('GETEX', key, 'PX', ttl)
  if meta then
    local sep = string.find(meta, ' ', 1, true)
    if sep and string.sub(meta, sep + 1) == node then return string.sub(meta, 1, sep - 1) end
  end
  local epoch = tostring(now - 1)
  redis.call('SET', key, epoch .. ' ' .. node, 'PX', ttl)
  return epoch
end`;

/**
 * Append + trim + notify, as one step, so no subscriber can see a message
 * before it is in history, and two publishers get one order.
 * KEYS: stream, epoch (one Redis: the prefix's; cluster: the topic's), and
 * for a publish made once (`PublishOnce`) its record, in the topic's slot.
 * ARGV: data, maxlen, ttlMs, pubsub channel, the record's ttlMs, and the
 * trace context ('' for none: stored as field `t`, and sent after the id
 * on the pubsub channel, `<id> <trace>\n<data>`).
 *
 * A record that exists means this publish happened: its id is returned and
 * nothing is stored or sent. Otherwise the record is written with the
 * append, in the same step, so a publish whose reply was lost is known by
 * the next one with its tag, whichever order Redis runs them in.
 *
 * Trimming uses XDEL rather than XADD MAXLEN or XTRIM MINID because only
 * XDEL advances the stream's `max-deleted-entry-id`, which is how a resume
 * learns that history dropped something after its position.
 * The stream key expires `ttlMs` after its last publish, exactly when its last
 * entry would have aged out, so an idle topic leaves nothing behind.
 */
const publishScript = (mode: RedisMode) => `if KEYS[3] then
  local published = redis.call('GET', KEYS[3])
  if published then return published end
end
${NOW_MS}
${mode === 'single' ? "redis.call('SET', KEYS[2], now - 1, 'NX')" : `${TOPIC_EPOCH}
topicEpoch(KEYS[2], tonumber(ARGV[3]))`}
local id
if ARGV[6] ~= '' then
  id = redis.call('XADD', KEYS[1], '*', 'd', ARGV[1], 't', ARGV[6])
else
  id = redis.call('XADD', KEYS[1], '*', 'd', ARGV[1])
end
local excess = redis.call('XLEN', KEYS[1]) - tonumber(ARGV[2])
if excess > 0 then
  for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', excess)) do
    redis.call('XDEL', KEYS[1], entry[1])
  end
end
local ttl = tonumber(ARGV[3])
if now - ttl > 0 then
  for _, entry in ipairs(redis.call('XRANGE', KEYS[1], '-', '(' .. (now - ttl) .. '-0', 'COUNT', 1000)) do
    redis.call('XDEL', KEYS[1], entry[1])
  end
end
redis.call('PEXPIRE', KEYS[1], ttl)
local head = id
if ARGV[6] ~= '' then head = id .. ' ' .. ARGV[6] end
redis.call('${publishCommand(mode)}', ARGV[4], head .. '\\n' .. ARGV[1])
if KEYS[3] then redis.call('SET', KEYS[3], id, 'PX', tonumber(ARGV[5])) end
return id`;

/**
 * A consistent snapshot for resume and history: clock, epoch, the stream's
 * last and newest-dropped ids, and entries (after a position, or the newest).
 * KEYS: stream, epoch. ARGV: mode ('after' | 'latest'), position or '', count, ttlMs.
 * Returns { now, epoch, exists, lastGenerated, maxDeleted, entries }.
 */
const readScript = (mode: RedisMode) => `${NOW_MS}
${
  mode === 'single'
    ? `local epoch = redis.call('GET', KEYS[2])
if not epoch then
  redis.call('SET', KEYS[2], now - 1)
  epoch = tostring(now - 1)
end`
    : `${TOPIC_EPOCH}
local epoch = topicEpoch(KEYS[2], tonumber(ARGV[4]))`
}
local exists = redis.call('EXISTS', KEYS[1])
local lastGenerated = ''
local maxDeleted = ''
local entries = {}
if exists == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then lastGenerated = info[i + 1] end
    if info[i] == 'max-deleted-entry-id' then maxDeleted = info[i + 1] end
  end
  if ARGV[1] == 'after' and ARGV[2] ~= '' then
    entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[2], '+', 'COUNT', ARGV[3])
  elseif ARGV[1] == 'latest' then
    entries = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[3])
  end
end
return { tostring(now), epoch, exists, lastGenerated, maxDeleted, entries }`;

/**
 * KEYS: members zset (score = expiry ms), records hash. ARGV: clientId,
 * record JSON, ttlMs, pubsub channel, event JSON.
 */
const presenceJoinScript = (mode: RedisMode) => `${NOW_MS}
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]) * 2)
redis.call('${publishCommand(mode)}', ARGV[4], ARGV[5])
return 1`;

/** KEYS: members zset, records hash. ARGV: clientId, pubsub channel, event JSON. Publishes only if it removed something. */
const presenceLeaveScript = (mode: RedisMode) => `if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('${publishCommand(mode)}', ARGV[2], ARGV[3])
  return 1
end
return 0`;

/**
 * Extends this node's live entries; an entry a sweep already removed (the
 * node looked dead, e.g. during a Redis outage) is added back with a join.
 * KEYS: members zset, records hash. ARGV: ttlMs, pubsub channel, then
 * (clientId, record JSON, join event JSON) triples.
 */
const presenceRefreshScript = (mode: RedisMode) => `${NOW_MS}
local ttl = tonumber(ARGV[1])
for i = 3, #ARGV, 3 do
  local present = redis.call('ZSCORE', KEYS[1], ARGV[i])
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[i])
  if not present then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
    redis.call('${publishCommand(mode)}', ARGV[2], ARGV[i + 2])
  end
end
redis.call('PEXPIRE', KEYS[1], ttl * 2)
redis.call('PEXPIRE', KEYS[2], ttl * 2)
return 1`;

/**
 * Removes entries whose node stopped refreshing them (announcing each leave
 * exactly once, whichever node sweeps first) and returns the live records.
 * KEYS: members zset, records hash. ARGV: pubsub channel.
 */
const presenceListScript = (mode: RedisMode) => `${NOW_MS}
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, id in ipairs(expired) do
  if redis.call('ZREM', KEYS[1], id) == 1 then
    redis.call('HDEL', KEYS[2], id)
    redis.call('${publishCommand(mode)}', ARGV[1], cjson.encode({ type = 'leave', clientId = id }))
  end
end
local ids = redis.call('ZRANGE', KEYS[1], 0, -1)
local records = {}
for i = 1, #ids, 500 do
  local chunk = redis.call('HMGET', KEYS[2], unpack(ids, i, math.min(i + 499, #ids)))
  for _, record in ipairs(chunk) do
    if record then records[#records + 1] = record end
  end
end
return records`;


function redisScripts(mode: RedisMode): RedisScripts {
  return {
    publish: publishScript(mode),
    read: readScript(mode),
    presenceJoin: presenceJoinScript(mode),
    presenceLeave: presenceLeaveScript(mode),
    presenceRefresh: presenceRefreshScript(mode),
    presenceList: presenceListScript(mode),
  };
}

/** The scripts for each mode, built once. */
export const SCRIPTS: Readonly<Record<RedisMode, RedisScripts>> = { single: redisScripts('single'), cluster: redisScripts('cluster') };
