-- The write backlog per step, from the backlog points (blob1 = 'backlog', index1 = 'writes'):
-- each a count the backlog object made, so a step shows its largest: queued writes not yet
-- delivered (double1), the age of the oldest of them (double2, ms, shown in s) and the dead
-- letters waiting for a replay (double3). Gauges, not counts: not weighted by _sample_interval.
SELECT
  toStartOfInterval(timestamp, INTERVAL '{{step}}' SECOND) AS t,
  max(double1) AS queued_writes,
  max(double2) / 1000 AS oldest_age_s,
  max(double3) AS dead_letters
FROM {{dataset}}
WHERE blob1 = 'backlog' AND timestamp >= toDateTime('{{from}}') AND timestamp < toDateTime('{{to}}')
GROUP BY t
ORDER BY t
