-- Which region answered, per step: answers by the region whose answer was passed on (blob14),
-- an answer no region gave (a stored copy, or the worker's own error: blob14 empty) shown as
-- '(copy or edge error)'. Each region's share of all answers is answers / the step's total,
-- summed over these rows by the page (Analytics Engine SQL has no window functions or joins to
-- put the step's total on each row; Grafana stacks the series to 100 % instead).
SELECT
  toStartOfInterval(timestamp, INTERVAL '{{step}}' SECOND) AS t,
  if(blob14 = '', '(copy or edge error)', blob14) AS region,
  SUM(_sample_interval) AS answers
FROM {{dataset}}
WHERE blob1 = 'request' AND timestamp >= toDateTime('{{from}}') AND timestamp < toDateTime('{{to}}')
GROUP BY t, region
ORDER BY t, region
