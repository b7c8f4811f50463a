-- Every breaker transition, in order: from (blob2), to (blob3), cause (blob4), who decided (blob5).
SELECT
  timestamp AS t,
  index1 AS origin,
  blob2 AS from_state,
  blob3 AS to_state,
  blob4 AS cause,
  blob5 AS source,
  double1 AS attempt,
  double3 AS open_ms
FROM {{dataset}}
WHERE blob1 = 'breaker' AND timestamp >= toDateTime('{{from}}') AND timestamp < toDateTime('{{to}}')
ORDER BY t, origin
LIMIT 10000
