-- cache_miss_rate: of the LKG lookups made while falling back (the origin failed or the breaker
-- was open), the share that found no usable copy (none stored, or only copies older than the cap).
-- A lookup counts when its answer came from the fallback path: a copy served (lkg_served), or no
-- copy to serve (no_lkg after a lookup; credentialed requests and writes are never looked up).
SELECT
  toStartOfInterval(timestamp, INTERVAL '{{step}}' SECOND) AS t,
  index1 AS origin,
  sumIf(_sample_interval, blob2 = 'lkg_served' OR (blob2 = 'no_lkg' AND blob6 IN ('miss', 'expired'))) AS lookups,
  sumIf(_sample_interval, blob2 = 'no_lkg' AND blob6 IN ('miss', 'expired')) AS misses,
  if(lookups = 0, 0, misses / lookups) AS miss_rate
FROM {{dataset}}
WHERE blob1 = 'request' AND timestamp >= toDateTime('{{from}}') AND timestamp < toDateTime('{{to}}')
GROUP BY t, origin
ORDER BY t, origin
