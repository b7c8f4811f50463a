-- Why the origin path failed, per step: failure class (blob3), and answers with no copy to give.
SELECT
  toStartOfInterval(timestamp, INTERVAL '{{step}}' SECOND) AS t,
  index1 AS origin,
  sumIf(_sample_interval, blob3 = 'timeout') AS timeout,
  sumIf(_sample_interval, blob3 = 'connection') AS connection,
  sumIf(_sample_interval, blob3 = 'http_5xx') AS http_5xx,
  sumIf(_sample_interval, blob3 = 'slow') AS slow,
  sumIf(_sample_interval, blob3 = 'breaker_open') AS breaker_open,
  sumIf(_sample_interval, blob2 = 'no_lkg') AS no_lkg
FROM {{dataset}}
WHERE blob1 = 'request' AND timestamp >= toDateTime('{{from}}') AND timestamp < toDateTime('{{to}}')
GROUP BY t, origin
ORDER BY t, origin
