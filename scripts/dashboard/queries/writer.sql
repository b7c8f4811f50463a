-- Every change of the writer lease, in order: the routing points (index1 the region) with
-- action (blob2) promote (a promotion starts: writes drain), promote_done (the region holds the
-- lease under the new epoch), freeze, unfreeze; why (blob3), who (blob4: admin, isolate,
-- object) and the lease's epoch (double1).
SELECT
  timestamp AS t,
  index1 AS region,
  blob2 AS action,
  blob3 AS reason,
  blob4 AS source,
  double1 AS epoch
FROM {{dataset}}
WHERE blob1 = 'routing' AND blob2 IN ('promote', 'promote_done', 'freeze', 'unfreeze') AND timestamp >= toDateTime('{{from}}') AND timestamp < toDateTime('{{to}}')
ORDER BY t, region
LIMIT 10000
