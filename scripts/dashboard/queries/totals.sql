-- Whole-window totals per origin: the numbers at the top of the dashboard. Request and breaker
-- points only: the write path's points are indexed by the writer region (or '', or 'writes' for
-- the backlog) and count nothing here; an origin is one that answered or whose breaker moved.
SELECT
  index1 AS origin,
  sumIf(_sample_interval, blob1 = 'request') AS answers,
  sumIf(_sample_interval, blob1 = 'request' AND blob2 IN ('lkg_served', 'no_lkg')) AS edge_fallback_triggered,
  sumIf(_sample_interval, blob1 = 'request' AND blob2 = 'lkg_served') AS lkg_served,
  sumIf(_sample_interval, blob1 = 'request' AND blob2 = 'no_lkg') AS no_lkg,
  sumIf(_sample_interval, blob1 = 'request' AND (blob2 = 'lkg_served' OR (blob2 = 'no_lkg' AND blob6 IN ('miss', 'expired')))) AS lookups,
  sumIf(_sample_interval, blob1 = 'request' AND blob2 = 'no_lkg' AND blob6 IN ('miss', 'expired')) AS lookup_misses,
  if(lookups = 0, 0, lookup_misses / lookups) AS cache_miss_rate,
  sumIf(_sample_interval, blob1 = 'breaker' AND blob2 = 'closed' AND blob3 = 'open') AS breaker_trips
FROM {{dataset}}
WHERE blob1 IN ('request', 'breaker') AND timestamp >= toDateTime('{{from}}') AND timestamp < toDateTime('{{to}}')
GROUP BY origin
ORDER BY origin
