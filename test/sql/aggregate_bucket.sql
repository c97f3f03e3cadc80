-- $bucket (a $group keyed by each document's bucket, src/agg_group.c),
-- $sample and $redact: results, defaults, output accumulators, errors with
-- MongoDB's codes and the plan of a $bucket (an aggregate, then a sort).
SET search_path = public, nosql;
SET max_parallel_workers_per_gather = 0;

SELECT insert_many('bkt.c', '[
  {"_id": 1, "x": 1, "v": 10},
  {"_id": 2, "x": 5.5, "v": 20},
  {"_id": 3, "x": {"$numberLong": "10"}, "v": 30},
  {"_id": 4, "x": 25, "v": 40},
  {"_id": 5, "x": "str", "v": 50},
  {"_id": 6, "v": 60},
  {"_id": 7, "x": {"$numberDecimal": "19.5"}, "v": 70}]');

CREATE FUNCTION bkt(pipeline text) RETURNS SETOF bson LANGUAGE sql AS $$
    SELECT aggregate('bkt.c', pipeline::bson)
$$;

-- buckets by lower boundary, numbers across types, the default for the rest
SELECT bkt('[{"$bucket": {"groupBy": "$x", "boundaries": [0, 10, 20, 30], "default": "other"}}]');
SELECT bkt('[{"$bucket": {"groupBy": "$x", "boundaries": [0, 10, 20, 30], "default": -1, "output": {"s": {"$sum": "$v"}, "ids": {"$push": "$_id"}}}}]');
SELECT bkt('[{"$bucket": {"groupBy": {"$multiply": ["$v", 2]}, "boundaries": [0, 50, 100, 200], "output": {}}}]');
SELECT bkt('[{"$match": {"x": {"$type": "number"}}}, {"$bucket": {"groupBy": "$x", "boundaries": [0, 100]}}]');
-- no bucket and no default
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$bucket": {"groupBy": "$x", "boundaries": [0, 10]}}], "cursor": {}}');

-- errors
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$bucket": 1}], "cursor": {}}');
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$bucket": {"groupBy": "x", "boundaries": [0, 10]}}], "cursor": {}}');
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$bucket": {"groupBy": "$x", "boundaries": 1}}], "cursor": {}}');
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$bucket": {"groupBy": "$x", "boundaries": [1]}}], "cursor": {}}');
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$bucket": {"groupBy": "$x", "boundaries": [0, "a"]}}], "cursor": {}}');
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$bucket": {"groupBy": "$x", "boundaries": [5, 5]}}], "cursor": {}}');
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$bucket": {"groupBy": "$x", "boundaries": [0, "$v"]}}], "cursor": {}}');
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$bucket": {"groupBy": "$x", "boundaries": [0, {"$add": ["$v", 1]}]}}], "cursor": {}}');
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$bucket": {"groupBy": "$x", "boundaries": [0, 10], "default": 5}}], "cursor": {}}');
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$bucket": {"groupBy": "$x", "boundaries": [0, 10], "output": 1}}], "cursor": {}}');
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$bucket": {"groupBy": "$x", "boundaries": [0, 10], "output": {"_id": {"$sum": 1}}}}], "cursor": {}}');
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$bucket": {"groupBy": "$x", "boundaries": [0, 10], "extra": 1}}], "cursor": {}}');
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$bucket": {"boundaries": [0, 10]}}], "cursor": {}}');

-- the plan: the key and accumulators as an aggregate, then a sort by _id
SELECT jsonb_array_elements_text(run_command('bkt', '{"aggregate": "c", "pipeline": [{"$bucket": {"groupBy": "$x", "boundaries": [0, 10, 20], "default": "other"}}], "explain": true}')::jsonb->'postgres'->'plan') AS plan;

-- $sample: the size, rounded as MongoDB rounds, and members of the collection
SELECT count(*) FROM bkt('[{"$sample": {"size": 3}}]');
SELECT count(*) FROM bkt('[{"$sample": {"size": 100}}]');
SELECT count(*) FROM bkt('[{"$sample": {"size": {"$numberDecimal": "2.5"}}}]');
SELECT count(*) FROM bkt('[{"$sample": {"size": 2.9}}]');
SELECT count(DISTINCT d::text) = 4 AS distinct_docs, bool_and(d::text IN (SELECT c::text FROM bkt('[]') c)) AS members
  FROM bkt('[{"$sample": {"size": 4}}]') d;
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$sample": 3}], "cursor": {}}');
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$sample": {"size": "3"}}], "cursor": {}}');
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$sample": {"size": 0.5}}], "cursor": {}}');
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$sample": {"size": -1, "x": 1}}], "cursor": {}}');
SELECT run_command('bkt', '{"aggregate": "c", "pipeline": [{"$sample": {}}], "cursor": {}}');

-- $redact: levels, arrays of documents, $$CURRENT and $$ROOT
SELECT insert_many('bkt.r', '[
  {"_id": 1, "level": 1, "a": {"level": 2, "b": 1}, "l": [{"level": 1, "c": 1}, {"level": 3}, 5, [{"level": 3}]], "keep": {"level": 5, "z": {"level": 9}}},
  {"_id": 2, "level": 4}]');
SELECT aggregate('bkt.r', '[{"$redact": {"$cond": [{"$lte": ["$level", 2]}, "$$DESCEND", "$$PRUNE"]}}]');
SELECT aggregate('bkt.r', '[{"$redact": {"$cond": [{"$eq": ["$level", 5]}, "$$KEEP", {"$cond": [{"$lte": ["$$CURRENT.level", 2]}, "$$DESCEND", "$$PRUNE"]}]}}]');
SELECT aggregate('bkt.r', '[{"$redact": {"$cond": [{"$eq": ["$$ROOT._id", 1]}, "$$KEEP", "$$PRUNE"]}}]');
SELECT run_command('bkt', '{"aggregate": "r", "pipeline": [{"$redact": "keep"}], "cursor": {}}');
SELECT run_command('bkt', '{"aggregate": "r", "pipeline": [{"$redact": "$$UNKNOWN"}], "cursor": {}}');
