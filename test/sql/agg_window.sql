-- $setWindowFields and $fill (src/agg_window.c): window functions over
-- partitions and sort orders, documents and range frames (numbers and
-- dates with units), $shift, ranks, running functions, errors with
-- MongoDB's codes, and the plan (one WindowAgg over a Sort).
SET search_path = public, nosql;
SET max_parallel_workers_per_gather = 0;

SELECT insert_many('win.c', '[
  {"_id": 1, "p": "a", "v": 10, "w": 1, "d": {"$date": "2024-01-01T00:00:00Z"}},
  {"_id": 2, "p": "a", "v": 20, "w": 2, "d": {"$date": "2024-01-02T00:00:00Z"}},
  {"_id": 3, "p": "b", "v": 30, "w": 3, "d": {"$date": "2024-01-05T00:00:00Z"}},
  {"_id": 4, "p": "a", "v": 40, "w": 5, "d": {"$date": "2024-02-01T00:00:00Z"}},
  {"_id": 5, "p": "b", "v": null, "w": 8, "d": {"$date": "2024-04-01T00:00:00Z"}},
  {"_id": 6, "p": "a", "w": 9, "d": {"$date": "2024-04-02T00:00:00Z"}}]');

CREATE FUNCTION win(pipeline text) RETURNS SETOF bson LANGUAGE sql AS $$
    SELECT aggregate('win.c', pipeline::bson)
$$;
CREATE FUNCTION win_error(pipeline text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT run_command('win', ('{"aggregate": "c", "pipeline": ' || pipeline || ', "cursor": {}}')::bson)::jsonb - 'errmsg'
$$;

-- accumulators over whole partitions (no window) and running sums
SELECT win('[{"$setWindowFields": {"partitionBy": "$p", "sortBy": {"w": 1}, "output": {
  "total": {"$sum": "$v"}, "n": {"$count": {}}, "avg": {"$avg": "$v"}, "lo": {"$min": "$v"},
  "hi": {"$max": "$v"}, "all": {"$push": "$v"}, "set": {"$addToSet": "$p"},
  "run": {"$sum": "$v", "window": {"documents": ["unbounded", "current"]}}}}}]');

-- sliding documents windows, empty frames ($sum 0, $push [], $first null)
SELECT win('[{"$setWindowFields": {"sortBy": {"w": 1}, "output": {
  "around": {"$push": "$w", "window": {"documents": [-1, 1]}},
  "ahead": {"$sum": "$w", "window": {"documents": [1, 2]}},
  "none": {"$push": "$w", "window": {"documents": [10, 20]}},
  "first": {"$first": "$w", "window": {"documents": [10, 20]}},
  "last": {"$last": "$w", "window": {"documents": ["current", "unbounded"]}}}}},
  {"$project": {"around": 1, "ahead": 1, "none": 1, "first": 1, "last": 1}}]');

-- range windows on numbers (peers included) and on dates with units
SELECT win('[{"$setWindowFields": {"sortBy": {"w": 1}, "output": {
  "near": {"$push": "$w", "window": {"range": [-2, 2]}},
  "upto": {"$count": {}, "window": {"range": ["unbounded", "current"]}}}}},
  {"$project": {"near": 1, "upto": 1}}]');
SELECT win('[{"$setWindowFields": {"sortBy": {"d": 1}, "output": {
  "month": {"$push": "$_id", "window": {"range": [-1, 0], "unit": "month"}},
  "days": {"$push": "$_id", "window": {"range": [-3, 0], "unit": "day"}},
  "quarter": {"$count": {}, "window": {"range": [-1, 0], "unit": "quarter"}}}}},
  {"$project": {"month": 1, "days": 1, "quarter": 1}}]');

-- ranks (ties), document numbers, descending sort, $shift with default
SELECT win('[{"$setWindowFields": {"sortBy": {"p": 1}, "output": {
  "r": {"$rank": {}}, "dr": {"$denseRank": {}}, "dn": {"$documentNumber": {}}}}},
  {"$project": {"p": 1, "r": 1, "dr": 1, "dn": 1}}]');
SELECT win('[{"$setWindowFields": {"partitionBy": "$p", "sortBy": {"w": -1}, "output": {
  "prev": {"$shift": {"output": "$w", "by": -1, "default": "none"}},
  "next": {"$shift": {"output": "$w", "by": 1}},
  "same": {"$shift": {"output": "$w", "by": 0}}}}},
  {"$project": {"p": 1, "w": 1, "prev": 1, "next": 1, "same": 1}}]');

-- running functions, standard deviations and covariances, dotted outputs
SELECT win('[{"$setWindowFields": {"sortBy": {"w": 1}, "output": {
  "locf": {"$locf": "$v"}, "ema": {"$expMovingAvg": {"input": "$w", "alpha": 0.5}},
  "emaN": {"$expMovingAvg": {"input": "$w", "N": 3}},
  "sd.pop": {"$stdDevPop": "$w"}, "sd.samp": {"$stdDevSamp": "$w", "window": {"documents": [-1, 0]}},
  "cov": {"$covariancePop": ["$w", "$v"]}, "covs": {"$covarianceSamp": ["$w", "$w"]}}}},
  {"$project": {"locf": 1, "ema": 1, "emaN": 1, "sd": 1, "cov": 1, "covs": 1}}]');

-- a collation: partitions and sort keys follow it
SELECT insert_many('win.coll', '[{"_id": 1, "k": "a"}, {"_id": 2, "k": "A"}, {"_id": 3, "k": "b"}]');
SELECT run_command('win', '{"aggregate": "coll", "pipeline": [{"$setWindowFields": {"partitionBy": "$k", "sortBy": {"_id": 1}, "output": {"n": {"$count": {}}}}}, {"$sort": {"_id": 1}}], "collation": {"locale": "en", "strength": 2}, "cursor": {}}')::jsonb->'cursor'->'firstBatch';
SELECT run_command('win', '{"aggregate": "coll", "pipeline": [{"$setWindowFields": {"sortBy": {"k": 1}, "output": {"r": {"$denseRank": {}}}}}], "collation": {"locale": "en", "strength": 2}, "cursor": {}}')::jsonb->'cursor'->'firstBatch';
SELECT run_command('win', '{"aggregate": "coll", "pipeline": [{"$setWindowFields": {"sortBy": {"k": 1}, "output": {"r": {"$denseRank": {}}}}}], "cursor": {}}')::jsonb->'cursor'->'firstBatch';
SELECT drop_collection('win.coll');

-- $fill: locf in the input order per partition, a constant value
SELECT win('[{"$sort": {"_id": 1}}, {"$fill": {"partitionByFields": ["p"], "output": {"v": {"method": "locf"}, "x": {"value": 0}}}}, {"$project": {"p": 1, "v": 1, "x": 1}}]');
SELECT win('[{"$fill": {"sortBy": {"w": -1}, "output": {"v": {"method": "locf"}}}}, {"$project": {"v": 1}}]');

-- errors
SELECT win_error('[{"$setWindowFields": 1}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": {"$sum": 1}}, "bogus": 1}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": 1}}}]');
SELECT win_error('[{"$setWindowFields": {"output": 1}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": [1], "output": {"a": {"$sum": 1}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": 2}, "output": {"a": {"$sum": 1}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": "up"}, "output": {"a": {"$sum": 1}}}}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": 1}}}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": {"window": {}}}}}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": {"$sum": 1, "$avg": 1}}}}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": {"$sum": 1, "x": 1}}}}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": {"$nope": 1}}}}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": {"$sum": {"$nope": 1}}}}}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": {"$sum": "$a..b"}}}}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": {"$sum": 1, "window": 5}}}}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": {"$sum": 1, "window": {"rows": [0, 1]}}}}}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": {"$sum": 1, "window": {"documents": [0]}}}}}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": {"$sum": 1, "window": {"documents": [null, 0]}}}}}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": {"$sum": 1, "window": {"documents": [-1.5, 0]}}}}}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": {"$sum": 1, "window": {"documents": ["x", 0]}}}}}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": {"$sum": 1, "window": {"documents": [0, 1], "range": [0, 1]}}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": 1}, "output": {"a": {"$sum": 1, "window": {"documents": [1, -1]}}}}}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": {"$sum": 1, "window": {"documents": ["unbounded", "current"]}}}}}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": {"$sum": 1, "window": {"range": [-1, 1]}}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": 1, "v": 1}, "output": {"a": {"$sum": 1, "window": {"range": [-1, 1]}}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": -1}, "output": {"a": {"$sum": 1, "window": {"range": [-1, 1]}}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": 1}, "output": {"a": {"$sum": 1, "window": {"range": [true, 1]}}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": 1}, "output": {"a": {"$sum": 1, "window": {"range": [-1, 0], "unit": "fortnight"}}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": 1}, "output": {"a": {"$sum": 1, "window": {"documents": [-1, 0], "unit": "day"}}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"v": 1}, "output": {"a": {"$sum": 1, "window": {"range": [-1, 0]}}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": 1}, "output": {"a": {"$sum": 1, "window": {"range": [-1, 0], "unit": "day"}}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"d": 1}, "output": {"a": {"$sum": 1, "window": {"range": [-1, 0]}}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": 1}, "output": {"a": {"$rank": {}, "window": {"documents": [0, 1]}}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": 1}, "output": {"a": {"$rank": {}, "$denseRank": {}}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": 1}, "output": {"a": {"$documentNumber": 1}}}}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": {"$documentNumber": {}}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": 1}, "output": {"a": {"$shift": {"output": "$w"}}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": 1}, "output": {"a": {"$shift": {"output": "$w", "by": 1.5}}}}}]');
SELECT win_error('[{"$setWindowFields": {"output": {"a": {"$shift": {"output": "$w", "by": 1}}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": 1}, "output": {"a": {"$expMovingAvg": {"input": "$w"}}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": 1}, "output": {"a": {"$expMovingAvg": {"input": "$w", "alpha": 2}}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": 1}, "output": {"a": {"$locf": "$v", "window": {"documents": [0, 1]}}}}}]');
SELECT win_error('[{"$setWindowFields": {"sortBy": {"w": 1}, "output": {"a": {"$derivative": {"input": "$v"}}}}}]');
SELECT win_error('[{"$fill": {"sortBy": {"$$NOW": 1}, "output": {"v": {"method": "locf"}}}}]');
SELECT win_error('[{"$fill": {"output": {"v": {"method": "nearest"}}}}]');
SELECT win_error('[{"$fill": {"output": {"v": {"method": "locf", "value": 1}}}}]');
SELECT win_error('[{"$fill": {"partitionBy": "$p", "partitionByFields": ["p"], "output": {"v": {"value": 1}}}}]');
SELECT win_error('[{"$fill": {"sortBy": {"w": 1}, "output": {"v": {"method": "linear"}}}}]');
SELECT win_error('[{"$fill": {"sortBy": {"w": 1}}}]');

-- the plan: the window functions of a stage in one WindowAgg over a Sort
SELECT jsonb_array_elements_text(run_command('win', '{"aggregate": "c", "pipeline": [{"$setWindowFields": {"partitionBy": "$p", "sortBy": {"w": 1}, "output": {"s": {"$sum": "$v", "window": {"documents": ["unbounded", "current"]}}, "r": {"$rank": {}}}}}], "explain": true}')::jsonb->'postgres'->'plan') AS plan;
SELECT run_command('win', '{"aggregate": "c", "pipeline": [{"$setWindowFields": {"sortBy": {"w": 1}, "output": {"s": {"$sum": "$v", "window": {"range": [-1, 1]}}}}}], "explain": true}')::jsonb->'postgres'->>'sql' AS sql;

-- the ranked accumulators as window functions ($topN, $lastN, $median)
SELECT win('[{"$setWindowFields": {"partitionBy": "$p", "sortBy": {"w": 1}, "output": {"t": {"$topN": {"n": 2, "sortBy": {"v": -1}, "output": "$v"}, "window": {"documents": ["unbounded", "current"]}}, "m": {"$median": {"input": "$v", "method": "approximate"}}, "l": {"$lastN": {"input": "$_id", "n": 2}, "window": {"documents": [-1, 1]}}}}}]');

SELECT drop_collection('win.c');
DROP FUNCTION win(text);
DROP FUNCTION win_error(text);
