-- Every answer by outcome per step, and the fallback share of all answers.
SELECT
  toStartOfInterval(timestamp, INTERVAL '{{step}}' SECOND) AS t,
  index1 AS origin,
  SUM(_sample_interval) AS answers,
  sumIf(_sample_interval, blob2 = 'origin_ok') AS origin_ok,
  sumIf(_sample_interval, blob2 = 'lkg_served') AS lkg_served,
  sumIf(_sample_interval, blob2 = 'no_lkg') AS no_lkg,
  sumIf(_sample_interval, blob2 = 'origin_error') AS origin_error,
  sumIf(_sample_interval, blob2 = 'rejected') AS rejected,
  if(answers = 0, 0, lkg_served / answers) AS fallback_share
FROM {{dataset}}
WHERE blob1 = 'request' AND timestamp >= toDateTime('{{from}}') AND timestamp < toDateTime('{{to}}')
GROUP BY t, origin
ORDER BY t, origin
