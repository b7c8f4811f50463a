-- Every change of the fleet's routing controls, in order (routing points, index1 the region):
-- evacuate, drain, shed, restore, left, returned, ramp_step, ramp_abort, ramp_done, leader, and the
-- writer lease's promote, promote_done, freeze, unfreeze (blob2), why (blob3), who (blob4: admin,
-- isolate, object), the ramp or shed percent after it (double1; the epoch for a lease change),
-- the ramp step (double2) and the snapshot generation it made (double3).
SELECT
  timestamp AS t,
  index1 AS region,
  blob2 AS action,
  blob3 AS reason,
  blob4 AS source,
  double1 AS percent,
  double2 AS step,
  double3 AS generation
FROM {{dataset}}
WHERE blob1 = 'routing' AND timestamp >= toDateTime('{{from}}') AND timestamp < toDateTime('{{to}}')
ORDER BY t, region
LIMIT 10000
