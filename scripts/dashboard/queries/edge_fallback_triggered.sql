-- edge_fallback_triggered: answers that needed the fallback path (from a copy, or none to give),
-- and breaker openings, per step. Weighted by _sample_interval: AE samples at high volume.
-- Request and breaker points only (the write path's are indexed by region or 'writes', not origin).
SELECT
  toStartOfInterval(timestamp, INTERVAL '{{step}}' SECOND) AS t,
  index1 AS origin,
  sumIf(_sample_interval, blob1 = 'request' AND blob2 = 'lkg_served') AS fallback_answers,
  sumIf(_sample_interval, blob1 = 'request' AND blob2 = 'no_lkg') AS fallback_misses,
  sumIf(_sample_interval, blob1 = 'breaker' AND blob3 = 'open' AND blob2 = 'closed') AS breaker_trips
FROM {{dataset}}
WHERE blob1 IN ('request', 'breaker') AND timestamp >= toDateTime('{{from}}') AND timestamp < toDateTime('{{to}}')
GROUP BY t, origin
ORDER BY t, origin
