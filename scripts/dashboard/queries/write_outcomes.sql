-- Writes by outcome per step, fleet-wide. At the edge, from the request points' write outcome
-- (blob17): passed on to the writer, queued (202: a new queued write, so queued = delivered +
-- dead-lettered + backlog over time), replayed (Idempotency-Replayed: a stored result, or a 202
-- again), and the refusals: in_flight (409), mismatch (422), missing_key (400), too_large (503).
-- In the queue, from the consumer's write points (blob2): delivered, duplicate_dropped (already
-- delivered: nothing sent twice), retry, dead_lettered, replayed_dead (an operator's replay).
SELECT
  toStartOfInterval(timestamp, INTERVAL '{{step}}' SECOND) AS t,
  sumIf(_sample_interval, blob1 = 'request' AND blob17 = 'passed') AS passed,
  sumIf(_sample_interval, blob1 = 'request' AND blob17 = 'queued') AS queued,
  sumIf(_sample_interval, blob1 = 'request' AND blob17 = 'replayed') AS replayed,
  sumIf(_sample_interval, blob1 = 'request' AND blob17 = 'in-flight') AS in_flight,
  sumIf(_sample_interval, blob1 = 'request' AND blob17 = 'mismatch') AS mismatch,
  sumIf(_sample_interval, blob1 = 'request' AND blob17 = 'missing-key') AS missing_key,
  sumIf(_sample_interval, blob1 = 'request' AND blob17 = 'too-large') AS too_large,
  sumIf(_sample_interval, blob1 = 'write' AND blob2 = 'delivered') AS delivered,
  sumIf(_sample_interval, blob1 = 'write' AND blob2 = 'duplicate_dropped') AS duplicate_dropped,
  sumIf(_sample_interval, blob1 = 'write' AND blob2 = 'retry') AS retry,
  sumIf(_sample_interval, blob1 = 'write' AND blob2 = 'dead_lettered') AS dead_lettered,
  sumIf(_sample_interval, blob1 = 'write' AND blob2 = 'replayed_dead') AS replayed_dead
FROM {{dataset}}
WHERE (blob1 = 'write' OR (blob1 = 'request' AND blob17 != '')) AND timestamp >= toDateTime('{{from}}') AND timestamp < toDateTime('{{to}}')
GROUP BY t
ORDER BY t
