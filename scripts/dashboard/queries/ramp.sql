-- Return-to-home, per step and region: the answering region's ramp percent (double7: the share
-- of its weight it had, 100 when not ramping), weighted over that region's answers (blob14), so
-- a repaired region's climb through gradual_weights shows as a staircase.
SELECT
  toStartOfInterval(timestamp, INTERVAL '{{step}}' SECOND) AS t,
  blob14 AS region,
  SUM(_sample_interval) AS answers,
  SUM(_sample_interval * double7) / answers AS ramp_percent
FROM {{dataset}}
WHERE blob1 = 'request' AND blob14 != '' AND timestamp >= toDateTime('{{from}}') AND timestamp < toDateTime('{{to}}')
GROUP BY t, region
ORDER BY t, region
