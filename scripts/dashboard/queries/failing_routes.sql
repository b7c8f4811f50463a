-- Failing routes, as opposed to a failing origin: failures the health check showed to be one
-- route's trouble (blob13 = 'held', kept from the breaker), per origin, route pattern (blob9) and
-- failure class (blob3), over the window. A route that always answers 500 shows here, and the
-- breaker stays closed for everyone else.
SELECT
  index1 AS origin,
  blob9 AS route,
  blob3 AS failure,
  SUM(_sample_interval) AS failures,
  max(timestamp) AS last_seen
FROM {{dataset}}
WHERE blob1 = 'request' AND blob13 = 'held' AND timestamp >= toDateTime('{{from}}') AND timestamp < toDateTime('{{to}}')
GROUP BY origin, route, failure
ORDER BY failures DESC
LIMIT 50
