-- Failing routes, as opposed to a failing origin: failures a passing health check showed to be
-- route trouble (the origin answered its health path), from the confirming checks' points
-- (blob1 = 'health_check', blob2 = 'confirm', blob3 = 'ok'): per origin and the route classes
-- (blob5, first path segments, up to 8 per check) of the failures each check dismissed (double3).
-- A route that always answers 500 shows here, and the breaker stays closed for everyone else.
SELECT
  index1 AS origin,
  blob5 AS routes,
  SUM(_sample_interval * double3) AS failures,
  SUM(_sample_interval) AS checks,
  max(timestamp) AS last_seen
FROM {{dataset}}
WHERE blob1 = 'health_check' AND blob2 = 'confirm' AND blob3 = 'ok' AND double3 > 0
  AND timestamp >= toDateTime('{{from}}') AND timestamp < toDateTime('{{to}}')
GROUP BY origin, routes
ORDER BY failures DESC
LIMIT 50
