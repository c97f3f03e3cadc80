-- The aggregation pipeline (src/agg_pipeline.c, src/agg_stages.c): the
-- aggregate command and nosql.aggregate(), each stage of this slice, the
-- command's errors, cursors with getMore, and the plans of the SQL a
-- pipeline becomes (an index for a leading $match, an ordered index scan
-- for $sort + $limit).
SET search_path = public, nosql;
SET max_parallel_workers_per_gather = 0;

SELECT insert_many('agg.c', '[
  {"_id": 1, "a": 1, "tags": ["x", "y"], "n": {"v": 3}},
  {"_id": 2, "a": 2, "tags": []},
  {"_id": 3, "a": 3, "tags": null},
  {"_id": 4, "a": 2, "tags": "z", "n": {"v": 1}},
  {"_id": 5, "a": 5}]');

-- first batches of simple pipelines
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{"$match": {"a": {"$gte": 2}}}, {"$sort": {"a": -1, "_id": 1}}, {"$limit": 3}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "missing", "pipeline": [{"$match": {"a": 1}}, {"$count": "n"}], "cursor": {}}');

-- $match after other stages, consecutive $match
SELECT aggregate('agg.c', '[{"$match": {"a": {"$gt": 1}}}, {"$match": {"a": {"$lt": 5}}}, {"$project": {"a": 1}}, {"$match": {"a": 2}}]');
-- $limit, $skip in both orders (merged as MongoDB does)
SELECT aggregate('agg.c', '[{"$sort": {"_id": 1}}, {"$skip": 1}, {"$limit": 2}]');
SELECT aggregate('agg.c', '[{"$sort": {"_id": 1}}, {"$limit": 3}, {"$skip": 1}]');
SELECT aggregate('agg.c', '[{"$project": {"a": 1}}, {"$sort": {"_id": -1}}, {"$limit": 3}, {"$skip": 1}, {"$limit": 1}]');
-- $sort after a streaming stage, on a computed field
SELECT aggregate('agg.c', '[{"$addFields": {"k": "$n.v"}}, {"$sort": {"k": -1, "_id": 1}}, {"$project": {"k": 1}}]');
-- $count: int32, and nothing for no input
SELECT aggregate('agg.c', '[{"$match": {"a": 2}}, {"$count": "twos"}]');
SELECT aggregate('agg.c', '[{"$match": {"a": 99}}, {"$count": "none"}]');
SELECT aggregate('agg.c', '[{"$unwind": "$tags"}, {"$count": "tags"}]');
-- $project: inclusion, exclusion, computed paths and literals
SELECT aggregate('agg.c', '[{"$match": {"_id": 1}}, {"$project": {"_id": 0, "a": 1, "v": "$n.v", "lit": {"$literal": 1}}}]');
SELECT aggregate('agg.c', '[{"$match": {"_id": 1}}, {"$project": {"tags": 0, "n": 0}}]');
-- $addFields and $set: numbers are values, nested documents merge
SELECT aggregate('agg.c', '[{"$match": {"_id": {"$in": [1, 2]}}}, {"$addFields": {"one": 1, "t": true, "n.w": "$a"}}]');
SELECT aggregate('agg.c', '[{"$match": {"_id": 1}}, {"$set": {"n": {"z": 0}}}]');
-- $unset
SELECT aggregate('agg.c', '[{"$match": {"_id": 1}}, {"$unset": ["tags", "n.v"]}]');
SELECT aggregate('agg.c', '[{"$match": {"_id": 4}}, {"$unset": "n"}]');
-- $replaceRoot / $replaceWith
SELECT aggregate('agg.c', '[{"$match": {"n": {"$exists": true}}}, {"$replaceRoot": {"newRoot": "$n"}}]');
SELECT aggregate('agg.c', '[{"$match": {"_id": 4}}, {"$replaceWith": {"id": "$_id", "v": "$n.v", "k": 1}}]');
-- $unwind: a path, then every option
SELECT aggregate('agg.c', '[{"$unwind": "$tags"}]');
SELECT aggregate('agg.c', '[{"$unwind": {"path": "$tags", "includeArrayIndex": "i", "preserveNullAndEmptyArrays": true}}]');
SELECT aggregate('agg.c', '[{"$unwind": {"path": "$tags", "includeArrayIndex": "pos.i"}}, {"$project": {"tags": 1, "pos": 1}}]');
-- $documents with {aggregate: 1}
SELECT run_command('agg', '{"aggregate": 1, "pipeline": [{"$documents": [{"x": 1}, {"x": 2}, {"x": 3}]}, {"$match": {"x": {"$gte": 2}}}, {"$sort": {"x": -1}}], "cursor": {}}');

-- errors
SELECT run_command('agg', '{"aggregate": "c", "pipeline": []}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": {}, "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [1], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{"$match": {}, "$limit": 1}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{"$foo": {}}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{"$densify": {}}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": 1, "pipeline": [], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": 1, "pipeline": [{"$match": {}}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": 2, "pipeline": [{"$documents": []}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{"$documents": []}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [], "cursor": {"batchSize": -1}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [], "cursor": {"bogus": 1}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [], "cursor": {}, "explain": 1}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [], "cursor": {}, "let": {"Bad": 1}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{"$limit": 0}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{"$skip": "x"}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{"$sort": {"a": 2}}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{"$count": "a.b"}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{"$unwind": "tags"}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{"$unwind": {"path": "$tags", "bogus": 1}}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{"$unset": []}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{"$project": {}}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{"$project": {"a.$": 1}}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{"$project": {"a": {"$elemMatch": {"x": 1}}}}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{"$set": "x"}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{"$replaceRoot": {"newRoot": "$a"}}], "cursor": {}}');
SELECT run_command('agg', '{"aggregate": "c", "pipeline": [{"$project": {"a": 1}}, {"$match": {"$text": {"$search": "x"}}}], "cursor": {}}');
SELECT aggregate('agg.c', '{"$match": {}}');
SELECT aggregate('agg.c', '[{"$limit": -1}]');

-- cursors: batchSize, getMore until exhausted, killCursors
SELECT insert_many('agg.big', (SELECT format('[%s]', string_agg(format('{"_id": %s, "k": %s}', i, i % 10), ', ')) FROM generate_series(1, 30) i)::bson);
CREATE TEMP TABLE agg_reply AS
SELECT run_command('agg', '{"aggregate": "big", "pipeline": [{"$match": {"k": {"$lt": 5}}}, {"$sort": {"_id": 1}}, {"$project": {"k": 0}}], "cursor": {"batchSize": 4}}') AS r;
SELECT r->'cursor'->'firstBatch' AS first, (r->'cursor'->>'id')::bigint <> 0 AS open FROM agg_reply;
SELECT r2->'cursor'->'nextBatch' AS next, (r2->'cursor'->>'id')::bigint <> 0 AS open
  FROM agg_reply, run_command('agg', format('{"getMore": {"$numberLong": "%s"}, "collection": "big", "batchSize": 5}', r->'cursor'->>'id')::bson) r2;
SELECT r2->'cursor'->'nextBatch' AS rest, r2->'cursor'->'id' AS id
  FROM agg_reply, run_command('agg', format('{"getMore": {"$numberLong": "%s"}, "collection": "big"}', r->'cursor'->>'id')::bson) r2;
SELECT run_command('agg', '{"aggregate": "big", "pipeline": [{"$unwind": "$k"}], "cursor": {"batchSize": 0}}')->'cursor'->'firstBatch';

-- plans: the index answers a leading $match, an ordered index scan with
-- early stop answers $sort + $limit; the streaming stages run above
SELECT create_index('agg.big', '{"k": 1}');
ANALYZE nosql_data."agg.big";
CREATE FUNCTION agg_plan(pipeline text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    l text;
BEGIN
    SET LOCAL enable_seqscan = off;
    FOR l IN SELECT jsonb_array_elements_text(run_command('agg', format('{"aggregate": "big", "pipeline": %s, "explain": true}', pipeline)::bson)::jsonb->'postgres'->'plan')
    LOOP
        RETURN NEXT regexp_replace(l, 'nosql_([ih])x_[0-9]+_[0-9a-f]+_([a-z])[0-9a-f]+', 'nosql_\1x_\2', 'g');
    END LOOP;
END
$$;
SELECT agg_plan('[{"$match": {"k": 3}}, {"$project": {"_id": 1}}]');
SELECT agg_plan('[{"$sort": {"k": -1}}, {"$limit": 3}, {"$addFields": {"x": 1}}]');
SELECT agg_plan('[{"$unwind": "$k"}, {"$sort": {"k": 1}}, {"$skip": 2}, {"$count": "n"}]');
SELECT aggregate('agg.big', '[{"$sort": {"k": -1, "_id": 1}}, {"$limit": 3}, {"$addFields": {"x": 1}}]');

SELECT drop_collection('agg.c'), drop_collection('agg.big');
