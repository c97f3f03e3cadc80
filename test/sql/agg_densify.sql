-- $densify (src/agg_densify.c): gaps of numbers and dates filled over the
-- full range, per partition or over an explicit range, with and without
-- partitions; MongoDB's errors; the plan (window functions over a Sort,
-- then a set-returning function).  Also the window functions $derivative,
-- $integral and $linearFill and $fill's method "linear" (src/agg_window.c).
SET search_path = public, nosql;
SET max_parallel_workers_per_gather = 0;

SELECT insert_many('dens.n', '[
  {"_id": 1, "t": 0, "p": "a"}, {"_id": 2, "t": 30, "p": "a"}, {"_id": 3, "t": null, "p": "a"},
  {"_id": 4, "t": 15, "p": "b"}, {"_id": 5, "t": 7, "p": "b"}, {"_id": 6, "p": "b"}]');
SELECT insert_many('dens.d', '[
  {"_id": 1, "t": {"$date": "2024-01-31T00:00:00Z"}, "k": {"x": 1}},
  {"_id": 2, "t": {"$date": "2024-05-01T00:00:00Z"}, "k": {"x": 1}},
  {"_id": 3, "t": {"$date": "2024-01-03T12:00:00Z"}, "k": {"x": 2}}]');
SELECT create_collection('dens.e');

CREATE FUNCTION dens(coll text, pipeline text) RETURNS SETOF bson LANGUAGE sql AS $$
    SELECT aggregate('dens.' || coll, pipeline::bson)
$$;
CREATE FUNCTION dens_error(pipeline text) RETURNS jsonb LANGUAGE sql AS $$
    SELECT run_command('dens', ('{"aggregate": "n", "pipeline": ' || pipeline || ', "cursor": {}}')::bson)::jsonb - 'errmsg'
$$;

-- numbers: the full range (nulls and missing values first, passed through)
SELECT dens('n', '[{"$densify": {"field": "t", "range": {"step": 10, "bounds": "full"}}}]');
-- an explicit range: steps from its lower bound, its upper bound excluded
SELECT dens('n', '[{"$densify": {"field": "t", "range": {"step": 4, "bounds": [-6, 20]}}}]');
-- partitions: the full range in each (sorted by the field alone, each
-- partition's steps before its next document, its last steps at the end),
-- the partition's own range, a range (its last steps at the end)
SELECT dens('n', '[{"$densify": {"field": "t", "partitionByFields": ["p"], "range": {"step": 10, "bounds": "full"}}}, {"$project": {"_id": 0}}]');
SELECT dens('n', '[{"$densify": {"field": "t", "partitionByFields": ["p"], "range": {"step": 3, "bounds": "partition"}}}, {"$project": {"_id": 0}}]');
SELECT dens('n', '[{"$densify": {"field": "t", "partitionByFields": ["p"], "range": {"step": 5, "bounds": [5, 16]}}}, {"$project": {"_id": 0}}]');
SELECT dens('n', '[{"$densify": {"field": "t", "partitionByFields": ["p"], "range": {"step": 10, "bounds": [0, 50]}}}, {"$project": {"_id": 0}}]');
-- doubles and longs keep their types
SELECT dens('n', '[{"$densify": {"field": "t", "range": {"step": 2.5, "bounds": [{"$numberDouble": "0"}, {"$numberDouble": "8"}]}}}, {"$match": {"_id": {"$exists": false}}}]');
SELECT dens('n', '[{"$densify": {"field": "t", "range": {"step": {"$numberLong": "5"}, "bounds": [{"$numberLong": "20"}, {"$numberLong": "30"}]}}}, {"$match": {"_id": {"$exists": false}}}]');
SELECT dens('n', '[{"$densify": {"field": "t", "range": {"step": 2.5, "bounds": "full"}}}, {"$match": {"_id": {"$exists": false}}}]');
-- an explicit range over an empty or missing collection is filled all the
-- same (without partitions)
SELECT dens('e', '[{"$densify": {"field": "t", "range": {"step": 1, "bounds": [0, 3]}}}]');
SELECT dens('e', '[{"$densify": {"field": "t", "range": {"step": 1, "bounds": "full"}}}]');
SELECT dens('nothere', '[{"$densify": {"field": "t", "range": {"step": 1, "bounds": [0, 2]}}}]');
SELECT dens('nothere', '[{"$densify": {"field": "t", "partitionByFields": ["p"], "range": {"step": 1, "bounds": [0, 2]}}}]');

-- partitions: a missing field is not a null one
SELECT dens('n', '[{"$match": {"_id": {"$in": [1, 2]}}}, {"$set": {"p": {"$cond": [{"$eq": ["$_id", 1]}, null, "$$REMOVE"]}}}, {"$densify": {"field": "t", "partitionByFields": ["p"], "range": {"step": 10, "bounds": "full"}}}]');

-- dates: calendar months step after step (a day clamped stays so), hours,
-- partitions by a dotted path
SELECT dens('d', '[{"$match": {"k.x": 1}}, {"$densify": {"field": "t", "range": {"step": 1, "unit": "month", "bounds": "full"}}}]');
SELECT dens('d', '[{"$densify": {"field": "t", "range": {"step": 36, "unit": "hour", "bounds": [{"$date": "2024-01-30T00:00:00Z"}, {"$date": "2024-02-03T00:00:00Z"}]}}}, {"$match": {"_id": {"$exists": false}}}]');
SELECT dens('d', '[{"$densify": {"field": "t", "partitionByFields": ["k.x"], "range": {"step": 1, "unit": "week", "bounds": "partition"}}}, {"$match": {"_id": {"$exists": false}}}]');

-- errors
SELECT dens_error('[{"$densify": 1}]');
SELECT dens_error('[{"$densify": {"range": {"step": 1, "bounds": "full"}}}]');
SELECT dens_error('[{"$densify": {"field": "t"}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"bounds": "full"}}}]');
SELECT dens_error('[{"$densify": {"field": 1, "range": {"step": 1, "bounds": "full"}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": "1", "bounds": "full"}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "partitionByFields": "p", "range": {"step": 1, "bounds": "full"}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1, "bounds": "full", "unit": 1}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1, "bounds": "full", "unit": "fortnight"}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1, "bounds": "full", "x": 1}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "x": 1, "range": {"step": 1, "bounds": "full"}}}]');
SELECT dens_error('[{"$densify": {"field": "$t", "range": {"step": 1, "bounds": "full"}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "partitionByFields": ["t"], "range": {"step": 1, "bounds": "full"}}}]');
SELECT dens_error('[{"$densify": {"field": "t.u", "partitionByFields": ["t"], "range": {"step": 1, "bounds": "full"}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 0, "bounds": "full"}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1, "bounds": "all"}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1, "bounds": 1}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1, "bounds": "partition"}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1, "bounds": [0]}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1, "bounds": [2, 1]}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1, "bounds": ["$$NOW", 10]}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1, "bounds": [1, 2], "unit": "day"}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1, "bounds": [1, {"$date": "2024-01-01T00:00:00Z"}]}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1, "bounds": [{"$date": "2024-01-01T00:00:00Z"}, 1]}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1, "unit": "day", "bounds": [{"$date": "2024-01-01T00:00:00Z"}, {"$maxKey": 1}]}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1, "bounds": [{"$date": "2024-01-01T00:00:00Z"}, {"$date": "2024-01-02T00:00:00Z"}]}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1, "bounds": ["a", "b"]}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1, "bounds": [0, 2.5]}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1.5, "unit": "day", "bounds": "full"}}}]');
-- runtime: a value of another type, a number with a unit, a date without one
SELECT dens_error('[{"$set": {"t": "x"}}, {"$densify": {"field": "t", "range": {"step": 1, "bounds": "full"}}}]');
SELECT dens_error('[{"$densify": {"field": "t", "range": {"step": 1, "unit": "day", "bounds": "full"}}}]');
SELECT run_command('dens', '{"aggregate": "d", "pipeline": [{"$densify": {"field": "t", "range": {"step": 1, "bounds": "full"}}}], "cursor": {}}')::jsonb - 'errmsg';
-- beyond 500000 generated documents, in one gap or in all
SELECT count(*) FROM dens('n', '[{"$densify": {"field": "t", "range": {"step": 0.00001, "bounds": "full"}}}]');
SELECT count(*) FROM dens('n', '[{"$densify": {"field": "t", "partitionByFields": ["p"], "range": {"step": 0.0001, "bounds": "full"}}}]');
SELECT count(*) FROM dens('n', '[{"$densify": {"field": "t", "partitionByFields": ["p"], "range": {"step": 0.0002, "bounds": "full"}}}]');

-- the plan: a Sort for the window functions, the generating function in a
-- nested loop over them; "full" with partitions sorts the output again by
-- the field alone, the last steps of each partition at the end
SELECT jsonb_array_elements_text(run_command('dens', '{"aggregate": "n", "pipeline": [{"$densify": {"field": "t", "partitionByFields": ["p"], "range": {"step": 10, "bounds": "partition"}}}], "explain": true}')::jsonb->'postgres'->'plan') AS plan;
SELECT jsonb_array_elements_text(run_command('dens', '{"aggregate": "n", "pipeline": [{"$densify": {"field": "t", "partitionByFields": ["p"], "range": {"step": 10, "bounds": "full"}}}], "explain": true}')::jsonb->'postgres'->'plan') AS plan;

-- $derivative, $integral (trapezoids), $linearFill
SELECT insert_many('dens.w', '[
  {"_id": 1, "t": 0, "y": 0, "z": 0, "d": {"$date": "2024-01-01T00:00:00Z"}},
  {"_id": 2, "t": 1, "y": 42, "z": 42, "d": {"$date": "2024-01-01T01:00:00Z"}},
  {"_id": 3, "t": 3, "y": null, "z": 50, "d": {"$date": "2024-01-01T03:00:00Z"}},
  {"_id": 4, "t": 7, "z": 70.5, "d": {"$date": "2024-01-01T07:00:00Z"}},
  {"_id": 5, "t": 9, "y": 99, "z": 99, "d": {"$date": "2024-01-01T09:00:00Z"}},
  {"_id": 6, "t": 10, "y": 20, "z": 20, "d": {"$date": "2024-01-01T10:00:00Z"}}]');
SELECT dens('w', '[{"$setWindowFields": {"sortBy": {"t": 1}, "output": {
  "der": {"$derivative": {"input": "$z"}, "window": {"documents": [-1, 0]}},
  "int": {"$integral": {"input": "$z"}, "window": {"documents": [-1, 1]}},
  "one": {"$integral": {"input": "$z"}, "window": {"documents": [0, 0]}},
  "all": {"$integral": {"input": "$z"}},
  "run": {"$integral": {"input": "$t"}, "window": {"range": ["unbounded", 0]}},
  "lin": {"$linearFill": "$y"}}}}, {"$project": {"d": 0, "z": 0}}]');
SELECT dens('w', '[{"$setWindowFields": {"sortBy": {"d": 1}, "output": {
  "perHour": {"$derivative": {"input": "$t", "unit": "hour"}, "window": {"range": [-2, 0], "unit": "hour"}},
  "hours": {"$integral": {"input": "$t", "unit": "hour"}, "window": {"documents": ["unbounded", "current"]}},
  "lin": {"$linearFill": "$y"}}}}, {"$project": {"d": 0, "z": 0}}]');
-- $fill with the method "linear", and "locf" beside it
SELECT dens('w', '[{"$fill": {"sortBy": {"t": 1}, "output": {"y": {"method": "linear"}, "u": {"method": "locf"}}}}, {"$project": {"d": 0, "z": 0}}]');

-- errors of the window functions
SELECT run_command('dens', '{"aggregate": "w", "pipeline": [{"$setWindowFields": {"sortBy": {"t": 1}, "output": {"a": {"$derivative": {"input": "$y"}}}}}], "cursor": {}}')::jsonb - 'errmsg';
SELECT run_command('dens', '{"aggregate": "w", "pipeline": [{"$setWindowFields": {"output": {"a": {"$integral": {"input": "$y"}}}}}], "cursor": {}}')::jsonb - 'errmsg';
SELECT run_command('dens', '{"aggregate": "w", "pipeline": [{"$setWindowFields": {"sortBy": {"t": 1, "y": 1}, "output": {"a": {"$integral": {"input": "$y"}}}}}], "cursor": {}}')::jsonb - 'errmsg';
SELECT run_command('dens', '{"aggregate": "w", "pipeline": [{"$setWindowFields": {"sortBy": {"t": 1}, "output": {"a": {"$integral": {"y": 1}}}}}], "cursor": {}}')::jsonb - 'errmsg';
SELECT run_command('dens', '{"aggregate": "w", "pipeline": [{"$setWindowFields": {"sortBy": {"t": 1}, "output": {"a": {"$integral": {"input": "$y", "unit": "month"}}}}}], "cursor": {}}')::jsonb - 'errmsg';
SELECT run_command('dens', '{"aggregate": "w", "pipeline": [{"$setWindowFields": {"sortBy": {"t": 1}, "output": {"a": {"$integral": {"input": "$y", "unit": "hour"}}}}}], "cursor": {}}')::jsonb - 'errmsg';
SELECT run_command('dens', '{"aggregate": "w", "pipeline": [{"$setWindowFields": {"sortBy": {"d": 1}, "output": {"a": {"$integral": {"input": "$y"}}}}}], "cursor": {}}')::jsonb - 'errmsg';
SELECT run_command('dens', '{"aggregate": "w", "pipeline": [{"$setWindowFields": {"sortBy": {"t": 1}, "output": {"a": {"$derivative": {"input": "$y", "unit": "day"}, "window": {"documents": [-1, 0]}}}}}], "cursor": {}}')::jsonb - 'errmsg';
SELECT run_command('dens', '{"aggregate": "w", "pipeline": [{"$setWindowFields": {"sortBy": {"d": 1}, "output": {"a": {"$derivative": {"input": "$y"}, "window": {"documents": [-1, 0]}}}}}], "cursor": {}}')::jsonb - 'errmsg';
SELECT run_command('dens', '{"aggregate": "w", "pipeline": [{"$setWindowFields": {"sortBy": {"t": 1}, "output": {"a": {"$derivative": {"input": "$y"}, "window": {"documents": [-1, 0]}}}}}], "cursor": {}}')::jsonb - 'errmsg';
SELECT run_command('dens', '{"aggregate": "w", "pipeline": [{"$setWindowFields": {"sortBy": {"_id": 1}, "output": {"a": {"$derivative": {"input": "$z"}, "window": {"documents": [-1, 0]}}}}}, {"$set": {"t": "x"}}, {"$setWindowFields": {"sortBy": {"t": 1}, "output": {"a": {"$derivative": {"input": "$z"}, "window": {"documents": [-1, 0]}}}}}], "cursor": {}}')::jsonb - 'errmsg';
SELECT run_command('dens', '{"aggregate": "w", "pipeline": [{"$setWindowFields": {"sortBy": {"t": 1}, "output": {"a": {"$integral": {"input": "$y"}}}}}], "cursor": {}}')::jsonb - 'errmsg';
SELECT run_command('dens', '{"aggregate": "w", "pipeline": [{"$setWindowFields": {"output": {"a": {"$linearFill": "$y"}}}}], "cursor": {}}')::jsonb - 'errmsg';
SELECT run_command('dens', '{"aggregate": "w", "pipeline": [{"$setWindowFields": {"sortBy": {"t": 1}, "output": {"a": {"$linearFill": "$y", "window": {"documents": [-1, 0]}}}}}], "cursor": {}}')::jsonb - 'errmsg';
SELECT run_command('dens', '{"aggregate": "w", "pipeline": [{"$set": {"t": 1}}, {"$setWindowFields": {"sortBy": {"t": 1}, "output": {"a": {"$linearFill": "$y"}}}}], "cursor": {}}')::jsonb - 'errmsg';
SELECT run_command('dens', '{"aggregate": "w", "pipeline": [{"$set": {"y": "x"}}, {"$setWindowFields": {"sortBy": {"t": 1}, "output": {"a": {"$linearFill": "$y"}}}}], "cursor": {}}')::jsonb - 'errmsg';
SELECT run_command('dens', '{"aggregate": "w", "pipeline": [{"$set": {"t": "x"}}, {"$setWindowFields": {"sortBy": {"t": 1}, "output": {"a": {"$linearFill": "$y"}}}}], "cursor": {}}')::jsonb - 'errmsg';
SELECT run_command('dens', '{"aggregate": "w", "pipeline": [{"$fill": {"output": {"y": {"method": "linear"}}}}], "cursor": {}}')::jsonb - 'errmsg';

SELECT drop_collection('dens.n');
SELECT drop_collection('dens.d');
SELECT drop_collection('dens.e');
SELECT drop_collection('dens.w');
DROP FUNCTION dens(text, text);
DROP FUNCTION dens_error(text);
