-- Age of the copies served (double3, seconds): how stale the fallback answers were.
SELECT
  toStartOfInterval(timestamp, INTERVAL '{{step}}' SECOND) AS t,
  index1 AS origin,
  quantileExactWeighted(0.5)(double3, _sample_interval) AS p50_s,
  quantileExactWeighted(0.95)(double3, _sample_interval) AS p95_s,
  MAX(double3) AS max_s
FROM {{dataset}}
WHERE blob1 = 'request' AND blob2 = 'lkg_served' AND timestamp >= toDateTime('{{from}}') AND timestamp < toDateTime('{{to}}')
GROUP BY t, origin
ORDER BY t, origin
