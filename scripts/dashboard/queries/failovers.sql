-- Failovers: requests tried first at one region (blob15) and answered by another (blob14), per
-- pair and the routing reason that chose the first (blob16), with how many and when last seen.
SELECT
  blob15 AS from_region,
  blob14 AS to_region,
  blob16 AS routing_reason,
  SUM(_sample_interval) AS failovers,
  max(timestamp) AS last_seen
FROM {{dataset}}
WHERE blob1 = 'request' AND blob15 != '' AND timestamp >= toDateTime('{{from}}') AND timestamp < toDateTime('{{to}}')
GROUP BY from_region, to_region, routing_reason
ORDER BY failovers DESC, from_region, to_region, routing_reason
LIMIT 100
