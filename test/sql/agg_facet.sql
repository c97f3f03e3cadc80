-- $facet, $bucketAuto, $unionWith and $graphLookup (src/agg_facet.c,
-- src/agg_lookup.c, src/agg_pipeline.c): results, MongoDB's errors, and
-- the plans (a materialized CTE for $facet, window aggregates for
-- $bucketAuto, an Append for $unionWith, a recursive union for
-- $graphLookup).
SET search_path = public, nosql;
SET max_parallel_workers_per_gather = 0;

SELECT insert_many('fc.items', '[
  {"_id": 1, "cat": "A", "price": 10, "tags": ["x", "y"]},
  {"_id": 2, "cat": "A", "price": 20, "tags": ["y"]},
  {"_id": 3, "cat": "B", "price": 30, "tags": ["z"]},
  {"_id": 4, "cat": "C", "price": 40, "tags": []},
  {"_id": 5, "cat": "C", "price": 40}]');

-- $facet: each sub-pipeline over the same input, in its order
SELECT aggregate('fc.items', '[{"$facet": {
  "byCat": [{"$sortByCount": "$cat"}, {"$sort": {"count": -1, "_id": 1}}],
  "cheap": [{"$match": {"price": {"$lt": 25}}}, {"$project": {"_id": 1}}],
  "top": [{"$sort": {"price": -1, "_id": 1}}, {"$limit": 2}, {"$project": {"_id": 1}}],
  "n": [{"$count": "n"}]}}]');
-- the stages before it filter the input once; the output flows on
SELECT aggregate('fc.items', '[{"$match": {"cat": "A"}}, {"$facet": {"ids": [{"$project": {"_id": 1}}], "n": [{"$count": "n"}]}}, {"$project": {"k": {"$size": "$ids"}, "n": 1}}]');
-- no documents, and a missing collection: one document of empty arrays
SELECT aggregate('fc.items', '[{"$match": {"cat": "Z"}}, {"$facet": {"a": [{"$match": {}}], "b": [{"$count": "n"}]}}]');
SELECT aggregate('fc.nope', '[{"$facet": {"a": [{"$match": {}}]}}]');
-- a $sample before it is drawn once for all facets
SELECT aggregate('fc.items', '[{"$sample": {"size": 3}}, {"$facet": {"a": [{"$sort": {"_id": 1}}], "b": [{"$sort": {"_id": 1}}]}}, {"$project": {"same": {"$eq": ["$a", "$b"]}, "n": {"$size": "$a"}}}]');
-- inside a $lookup pipeline (a correlated CTE)
SELECT aggregate('fc.items', '[{"$match": {"_id": {"$lte": 2}}}, {"$lookup": {"from": "items", "localField": "cat", "foreignField": "cat", "as": "same", "pipeline": [{"$facet": {"n": [{"$count": "n"}]}}]}}, {"$project": {"same": 1}}]');

-- $facet errors
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$facet": 1}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$facet": {}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$facet": {"a": "x"}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$facet": {"a": [null]}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$facet": {"$a": []}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$facet": {"a.b": []}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$facet": {"": []}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$facet": {"a": [{"$nope": {}}]}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$facet": {"a": [{"$out": "o"}]}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$facet": {"a": [{"$facet": {"b": []}}]}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$facet": {"a": [{"$collStats": {}}]}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": 1, "pipeline": [{"$documents": [{"a": 1}]}, {"$facet": {"a": [{"$documents": []}]}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$facet": {"a": [{"$lookup": {"from": "x", "pipeline": [{"$indexStats": {}}], "as": "j"}}]}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$facet": {"a": [{"$project": {"x": {"$divide": [1, 0]}}}]}}], "cursor": {}}');
-- a facet that outgrows a document fails with MongoDB's error
SELECT run_command('fc', format('{"insert": "big", "documents": [{"_id": 1, "s": "%s", "n": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]}]}', repeat('x', 1000000))::bson);
SELECT run_command('fc', '{"aggregate": "big", "pipeline": [{"$facet": {"a": [{"$unwind": "$n"}]}}, {"$project": {"k": {"$size": "$a"}}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "big", "pipeline": [{"$facet": {"a": [{"$unwind": "$n"}, {"$limit": 10}]}}, {"$project": {"k": {"$size": "$a"}}}], "cursor": {}}');

-- $bucketAuto: equal values stay in one bucket, the last bucket's max is
-- its largest value, fewer buckets when there are not enough values
SELECT aggregate('fc.items', '[{"$bucketAuto": {"groupBy": "$price", "buckets": 2}}]');
SELECT aggregate('fc.items', '[{"$bucketAuto": {"groupBy": "$price", "buckets": 3, "output": {"ids": {"$push": "$_id"}, "avg": {"$avg": "$price"}}}}]');
SELECT aggregate('fc.items', '[{"$bucketAuto": {"groupBy": "$cat", "buckets": 10}}]');
SELECT aggregate('fc.items', '[{"$bucketAuto": {"groupBy": "$nope", "buckets": 2}}]');
-- granularities round the bounds
SELECT aggregate('fc.items', '[{"$bucketAuto": {"groupBy": "$price", "buckets": 2, "granularity": "R5"}}]');
SELECT aggregate('fc.items', '[{"$bucketAuto": {"groupBy": "$price", "buckets": 2, "granularity": "1-2-5"}}]');
SELECT aggregate('fc.items', '[{"$bucketAuto": {"groupBy": "$price", "buckets": 3, "granularity": "POWERSOF2"}}]');
SELECT aggregate('fc.items', '[{"$bucketAuto": {"groupBy": "$price", "buckets": 2, "granularity": "E24"}}]');
-- $bucketAuto errors
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$bucketAuto": 1}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$bucketAuto": {"groupBy": "$price"}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$bucketAuto": {"groupBy": "price", "buckets": 2}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$bucketAuto": {"groupBy": "$price", "buckets": "2"}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$bucketAuto": {"groupBy": "$price", "buckets": 2.5}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$bucketAuto": {"groupBy": "$price", "buckets": 0}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$bucketAuto": {"groupBy": "$price", "buckets": 2, "output": 1}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$bucketAuto": {"groupBy": "$price", "buckets": 2, "output": {"a": 1}}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$bucketAuto": {"groupBy": "$price", "buckets": 2, "granularity": 5}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$bucketAuto": {"groupBy": "$price", "buckets": 2, "granularity": "R7"}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$bucketAuto": {"groupBy": "$price", "buckets": 2, "x": 1}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$bucketAuto": {"groupBy": "$cat", "buckets": 2, "granularity": "R5"}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$bucketAuto": {"groupBy": {"$multiply": ["$price", -1]}, "buckets": 2, "granularity": "R5"}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$bucketAuto": {"groupBy": "$price", "buckets": 1, "output": {"r": {"$sum": {"$divide": [1, 0]}}}}}], "cursor": {}}');

-- $unionWith: a collection, a pipeline over one, $documents, a missing one
SELECT aggregate('fc.items', '[{"$match": {"_id": 1}}, {"$project": {"_id": 1}}, {"$unionWith": {"coll": "items", "pipeline": [{"$match": {"_id": {"$gt": 3}}}, {"$project": {"cat": 1}}]}}]');
SELECT aggregate('fc.items', '[{"$match": {"_id": 1}}, {"$unionWith": "nope"}, {"$count": "n"}]');
SELECT aggregate('fc.nope', '[{"$unionWith": {"pipeline": [{"$documents": [{"a": 1}, {"a": 2}]}]}}]');
SELECT aggregate('fc.items', '[{"$unionWith": "items"}, {"$group": {"_id": "$cat", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]');
-- $unionWith errors
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$unionWith": 1}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$unionWith": {"coll": 1}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$unionWith": {"coll": "x", "z": 1}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$unionWith": {"pipeline": [{"$match": {}}]}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "items", "pipeline": [{"$unionWith": {"coll": "x", "pipeline": [{"$out": "o"}]}}], "cursor": {}}');

-- $graphLookup: a cycle, depths, maxDepth, restrictSearchWithMatch
SELECT insert_many('fc.people', '[
  {"_id": 1, "name": "a", "boss": "b"},
  {"_id": 2, "name": "b", "boss": ["c", "a"]},
  {"_id": 3, "name": "c", "boss": "d", "on": false},
  {"_id": 4, "name": "d"},
  {"_id": 5, "name": "e", "boss": null},
  {"_id": 6, "boss": "e"}]');
SELECT aggregate('fc.people', '[{"$match": {"_id": 1}}, {"$graphLookup": {"from": "people", "startWith": "$boss", "connectFromField": "boss", "connectToField": "name", "as": "chain"}}, {"$project": {"ids": {"$sortArray": {"input": "$chain._id", "sortBy": 1}}}}]');
SELECT aggregate('fc.people', '[{"$match": {"_id": 1}}, {"$graphLookup": {"from": "people", "startWith": "$boss", "connectFromField": "boss", "connectToField": "name", "as": "chain", "depthField": "depth"}}, {"$unwind": "$chain"}, {"$project": {"id": "$chain._id", "depth": "$chain.depth"}}, {"$sort": {"id": 1}}]');
SELECT aggregate('fc.people', '[{"$match": {"_id": 1}}, {"$graphLookup": {"from": "people", "startWith": "$boss", "connectFromField": "boss", "connectToField": "name", "as": "chain", "maxDepth": 1}}, {"$project": {"ids": {"$sortArray": {"input": "$chain._id", "sortBy": 1}}}}]');
SELECT aggregate('fc.people', '[{"$match": {"_id": 1}}, {"$graphLookup": {"from": "people", "startWith": "$boss", "connectFromField": "boss", "connectToField": "name", "as": "chain", "restrictSearchWithMatch": {"on": {"$ne": false}}}}, {"$project": {"ids": {"$sortArray": {"input": "$chain._id", "sortBy": 1}}}}]');
-- a missing startWith or an empty array starts nowhere; null matches a
-- missing connectToField; an ordered index on connectToField serves it
SELECT aggregate('fc.people', '[{"$graphLookup": {"from": "people", "startWith": "$boss", "connectFromField": "boss", "connectToField": "name", "as": "chain"}}, {"$project": {"ids": {"$sortArray": {"input": "$chain._id", "sortBy": 1}}}}]');
SELECT aggregate('fc.people', '[{"$match": {"_id": 1}}, {"$graphLookup": {"from": "people", "startWith": [], "connectFromField": "boss", "connectToField": "name", "as": "chain"}}]');
SELECT run_command('fc', '{"createIndexes": "people", "indexes": [{"key": {"name": 1}, "name": "name_1"}]}');
SELECT aggregate('fc.people', '[{"$graphLookup": {"from": "people", "startWith": "$boss", "connectFromField": "boss", "connectToField": "name", "as": "chain", "depthField": "d"}}, {"$project": {"ids": {"$sortArray": {"input": "$chain._id", "sortBy": 1}}, "depths": {"$sortArray": {"input": "$chain.d", "sortBy": 1}}}}]');
SELECT aggregate('fc.people', '[{"$match": {"_id": {"$gte": 4}}}, {"$graphLookup": {"from": "nope", "startWith": "$boss", "connectFromField": "boss", "connectToField": "name", "as": "chain"}}]');
-- $graphLookup errors
SELECT run_command('fc', '{"aggregate": "people", "pipeline": [{"$graphLookup": {"from": "people", "startWith": "$boss", "connectFromField": "boss", "as": "c"}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "people", "pipeline": [{"$graphLookup": {"from": "people", "startWith": "$boss", "connectFromField": "boss", "connectToField": 1, "as": "c"}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "people", "pipeline": [{"$graphLookup": {"from": "people", "startWith": "$boss", "connectFromField": "boss", "connectToField": "name", "as": "c", "maxDepth": -1}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "people", "pipeline": [{"$graphLookup": {"from": "people", "startWith": "$boss", "connectFromField": "boss", "connectToField": "name", "as": "c", "maxDepth": "1"}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "people", "pipeline": [{"$graphLookup": {"from": "people", "startWith": "$boss", "connectFromField": "boss", "connectToField": "name", "as": "c", "restrictSearchWithMatch": 1}}], "cursor": {}}');
SELECT run_command('fc', '{"aggregate": "people", "pipeline": [{"$graphLookup": {"from": "people", "startWith": "$boss", "connectFromField": "boss", "connectToField": "name", "as": "c", "z": 1}}], "cursor": {}}');

-- the plans
CREATE FUNCTION fc_plan(coll text, pipeline text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    l text;
BEGIN
    FOR l IN SELECT jsonb_array_elements_text(run_command('fc', format('{"aggregate": "%s", "pipeline": %s, "explain": true}', coll, pipeline)::bson)::jsonb->'postgres'->'plan')
    LOOP
        RETURN NEXT regexp_replace(l, 'nosql_([ih])x_[0-9]+_[0-9a-f]+_([a-z])[0-9a-f]+', 'nosql_\1x_\2', 'g');
    END LOOP;
END
$$;
SELECT fc_plan('items', '[{"$facet": {"a": [{"$match": {"cat": "A"}}], "n": [{"$count": "n"}]}}]');
SELECT fc_plan('items', '[{"$bucketAuto": {"groupBy": "$price", "buckets": 2}}]');
SELECT fc_plan('items', '[{"$unionWith": "people"}]');
SELECT fc_plan('people', '[{"$graphLookup": {"from": "people", "startWith": "$boss", "connectFromField": "boss", "connectToField": "name", "as": "c"}}]');
SELECT fc_plan('people', '[{"$graphLookup": {"from": "people", "startWith": "$boss", "connectFromField": "boss", "connectToField": "name", "as": "c", "maxDepth": 2}}]');
SET enable_seqscan = off;
SELECT fc_plan('people', '[{"$graphLookup": {"from": "people", "startWith": "$boss", "connectFromField": "boss", "connectToField": "name", "as": "c"}}]');
RESET enable_seqscan;

DROP FUNCTION fc_plan(text, text);
SELECT drop_collection('fc.items'), drop_collection('fc.people'), drop_collection('fc.big');
