-- $group and $sortByCount (src/agg_group.c): keys by MongoDB's equality,
-- every accumulator's result types, null and missing, input order for
-- $first/$last/$push, errors, plans (HashAggregate) and a hash aggregation
-- that spills to disk under a small work_mem.
SET search_path = public, nosql;
SET max_parallel_workers_per_gather = 0;

SELECT insert_many('grp.c', '[
  {"_id": 1, "k": "a", "v": 1},
  {"_id": 2, "k": "a", "v": {"$numberLong": "2"}},
  {"_id": 3, "k": "b", "v": 2.5},
  {"_id": 4, "k": "b", "v": {"$numberDecimal": "1.5"}},
  {"_id": 5, "k": "B"},
  {"_id": 6, "k": null, "v": null},
  {"_id": 7, "v": "x"},
  {"_id": 8, "k": 1, "v": 2147483647},
  {"_id": 9, "k": 1.0, "v": 1},
  {"_id": 10, "k": {"$numberLong": "1"}, "v": [1, 2]}]');

CREATE FUNCTION grp(pipeline text) RETURNS SETOF bson LANGUAGE sql AS $$
    SELECT aggregate('grp.c', pipeline::bson)
$$;

-- keys: numbers equal across types, null and missing together, strings by case
SELECT grp('[{"$group": {"_id": "$k", "n": {"$count": {}}}}, {"$sort": {"_id": 1}}]');
SELECT grp('[{"$group": {"_id": {"k": "$k"}, "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]');
SELECT grp('[{"$group": {"_id": null, "n": {"$sum": 1}}}]');
SELECT grp('[{"$match": {"_id": {"$gt": 100}}}, {"$group": {"_id": null, "n": {"$sum": 1}}}]');

-- numeric accumulators: int32 widening to int64 and double, decimals, non-numbers ignored
SELECT grp('[{"$group": {"_id": "$k", "s": {"$sum": "$v"}, "a": {"$avg": "$v"}, "p": {"$stdDevPop": "$v"}, "q": {"$stdDevSamp": "$v"}}}, {"$sort": {"_id": 1}}]');
SELECT grp('[{"$group": {"_id": null, "s": {"$sum": {"$literal": 2147483647}}}}]');
SELECT aggregate('grp.c', '[{"$group": {"_id": null, "s": {"$sum": {"$literal": {"$numberLong": "9223372036854775807"}}}}}]');

-- $min/$max ignore null and missing; $first/$last keep them as null
SELECT grp('[{"$sort": {"_id": 1}}, {"$group": {"_id": "$k", "mn": {"$min": "$v"}, "mx": {"$max": "$v"}, "f": {"$first": "$v"}, "l": {"$last": "$v"}}}, {"$sort": {"_id": 1}}]');

-- input order: $first, $last, $push after a $sort, in either direction
SELECT grp('[{"$sort": {"_id": -1}}, {"$group": {"_id": null, "f": {"$first": "$_id"}, "l": {"$last": "$_id"}, "p": {"$push": "$_id"}}}]');
SELECT grp('[{"$sort": {"_id": 1}}, {"$group": {"_id": null, "f": {"$first": "$_id"}, "l": {"$last": "$_id"}, "p": {"$push": "$_id"}}}]');

-- lists: $push skips missing, $addToSet dedups by equality, $concatArrays, $setUnion, $mergeObjects
SELECT grp('[{"$sort": {"_id": 1}}, {"$group": {"_id": null, "p": {"$push": "$v"}, "s": {"$addToSet": "$k"}}}]');
SELECT grp('[{"$sort": {"_id": 1}}, {"$match": {"v": {"$type": "array"}}}, {"$group": {"_id": null, "c": {"$concatArrays": "$v"}, "u": {"$setUnion": "$v"}}}]');
SELECT grp('[{"$sort": {"_id": 1}}, {"$group": {"_id": null, "m": {"$mergeObjects": {"a": "$_id", "k": "$k"}}}}]');
SELECT grp('[{"$group": {"_id": "$k", "c": {"$push": "$$ROOT"}}}, {"$match": {"_id": "B"}}]');

-- $sortByCount
SELECT grp('[{"$sortByCount": "$k"}]');
SELECT grp('[{"$sortByCount": {"$type": "$v"}}]');

-- a collation groups strings equal under it; _id is the first document's
SELECT run_command('grp', '{"aggregate": "c", "pipeline": [{"$sort": {"_id": 1}}, {"$match": {"k": {"$type": "string"}}}, {"$group": {"_id": "$k", "n": {"$sum": 1}}}, {"$sort": {"n": 1}}], "collation": {"locale": "en", "strength": 2}, "cursor": {}}');

-- errors
SELECT run_command('grp', '{"aggregate": "c", "pipeline": [{"$group": 1}], "cursor": {}}');
SELECT run_command('grp', '{"aggregate": "c", "pipeline": [{"$group": {}}], "cursor": {}}');
SELECT run_command('grp', '{"aggregate": "c", "pipeline": [{"$group": {"_id": null, "$x": {"$sum": 1}}}], "cursor": {}}');
SELECT run_command('grp', '{"aggregate": "c", "pipeline": [{"$group": {"_id": null, "a.b": {"$sum": 1}}}], "cursor": {}}');
SELECT run_command('grp', '{"aggregate": "c", "pipeline": [{"$group": {"_id": null, "a": 1}}], "cursor": {}}');
SELECT run_command('grp', '{"aggregate": "c", "pipeline": [{"$group": {"_id": null, "a": {"$sum": 1, "$avg": 1}}}], "cursor": {}}');
SELECT run_command('grp', '{"aggregate": "c", "pipeline": [{"$group": {"_id": null, "a": {"$add": 1}}}], "cursor": {}}');
SELECT run_command('grp', '{"aggregate": "c", "pipeline": [{"$group": {"_id": null, "a": {"$push": [1]}}}], "cursor": {}}');
SELECT run_command('grp', '{"aggregate": "c", "pipeline": [{"$group": {"_id": {"a": true}}}], "cursor": {}}');
SELECT run_command('grp', '{"aggregate": "c", "pipeline": [{"$group": {"_id": null, "a": {"$sum": 1}, "a": {"$sum": 2}}}], "cursor": {}}');
SELECT run_command('grp', '{"aggregate": "c", "pipeline": [{"$group": {"_id": null, "a": {"$sum": {"$divide": [1, 0]}}}}], "cursor": {}}');
SELECT run_command('grp', '{"aggregate": "c", "pipeline": [{"$group": {"_id": null, "a": {"$mergeObjects": "$v"}}}], "cursor": {}}');
SELECT run_command('grp', '{"aggregate": "c", "pipeline": [{"$group": {"_id": null, "a": {"$setUnion": "$v"}}}], "cursor": {}}');
SELECT run_command('grp', '{"aggregate": "c", "pipeline": [{"$sortByCount": "k"}], "cursor": {}}');

-- $push past 100 MiB: ExceededMemoryLimit
SELECT sum(insert_many('grp.big', json_build_array(json_build_object('_id', i, 's', repeat('x', 1024 * 1024)))::text::bson)) FROM generate_series(1, 101) i;
SELECT run_command('grp', '{"aggregate": "big", "pipeline": [{"$group": {"_id": null, "p": {"$push": "$s"}}}], "cursor": {}}')::jsonb - 'errmsg';
SELECT run_command('grp', '{"aggregate": "big", "pipeline": [{"$group": {"_id": null, "n": {"$sum": {"$strLenCP": "$s"}}}}], "cursor": {}}');
SELECT drop_collection('grp.big');

-- plans: a hash aggregation over the index scan of a leading $match
SELECT insert_many('grp.many', (SELECT json_agg(json_build_object('_id', i, 'g', i % 5000, 'v', i, 's', 'k' || (i % 3)))::text FROM generate_series(1, 20000) i)::bson);
SELECT run_command('grp', '{"createIndexes": "many", "indexes": [{"key": {"v": 1}, "name": "v_1"}]}');
ANALYZE;
SELECT regexp_replace(jsonb_array_elements_text(run_command('grp', '{"aggregate": "many", "pipeline": [{"$match": {"v": {"$lt": 10}}}, {"$group": {"_id": "$g", "s": {"$sum": "$v"}}}], "explain": true}')::jsonb->'postgres'->'plan'), 'nosql_ix_\w+', 'nosql_ix_N') AS plan;
SELECT regexp_replace(jsonb_array_elements_text(run_command('grp', '{"aggregate": "many", "pipeline": [{"$sort": {"v": 1}}, {"$group": {"_id": "$s", "f": {"$first": "$v"}}}], "explain": true}')::jsonb->'postgres'->'plan'), 'nosql_ix_\w+', 'nosql_ix_N') AS plan;

-- spilling: the same results with a small work_mem (HashAggregate writes batches)
SET work_mem = '256MB';
CREATE TEMP TABLE in_memory AS
    SELECT aggregate('grp.many', '[{"$group": {"_id": "$g", "s": {"$sum": "$v"}, "a": {"$avg": "$v"}, "f": {"$first": "$v"}, "l": {"$last": "$v"}, "p": {"$push": "$s"}, "t": {"$addToSet": "$s"}}}]')::text AS d;
SET work_mem = '64kB';
SET enable_sort = off;
CREATE TEMP TABLE spilled AS
    SELECT aggregate('grp.many', '[{"$group": {"_id": "$g", "s": {"$sum": "$v"}, "a": {"$avg": "$v"}, "f": {"$first": "$v"}, "l": {"$last": "$v"}, "p": {"$push": "$s"}, "t": {"$addToSet": "$s"}}}]')::text AS d;
SELECT count(*) AS groups FROM spilled;
SELECT d FROM spilled WHERE d LIKE '{"_id": 7,%';
SELECT (SELECT count(*) FROM (SELECT d FROM in_memory EXCEPT ALL SELECT d FROM spilled) x) AS missing,
       (SELECT count(*) FROM (SELECT d FROM spilled EXCEPT ALL SELECT d FROM in_memory) x) AS extra;
-- the aggregation did spill: EXPLAIN ANALYZE of the same SQL reports disk batches
CREATE FUNCTION spill_lines() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    l text;
BEGIN
    FOR l IN EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
        SELECT nosql.bson_group_result(g.key, '{"f": ["s", "p"]}',
               ARRAY[nosql.bson_group_accumulate(g.document, '{"k": 0, "e": "$v"}', 0),
                     nosql.bson_group_accumulate(g.document, '{"k": 6, "e": "$s"}', g.ord)])
          FROM (SELECT nosql.bson_group_key(d.document, '{"e": "$g"}') AS key, d.document,
                       row_number() OVER () AS ord
                  FROM nosql_data."grp.many" d) g
         GROUP BY g.key
    LOOP
        IF l ~ 'Aggregate' THEN
            RETURN NEXT regexp_replace(l, '\s+\(actual.*', '');
        ELSIF l ~ 'Batches' THEN
            RETURN NEXT CASE WHEN l ~ 'Disk Usage' THEN 'spilled to disk' ELSE 'in memory' END;
        END IF;
    END LOOP;
END
$$;
SELECT spill_lines();
RESET enable_sort;
RESET work_mem;
-- the ranked accumulators: $top $bottom $topN $bottomN $firstN $lastN
-- $maxN $minN $median $percentile, and their errors
SELECT insert_many('grp.rk', '[{"_id": 1, "g": "a", "v": 5, "s": 3}, {"_id": 2, "g": "a", "v": 1, "s": 1}, {"_id": 3, "g": "a", "v": 9, "s": 2}, {"_id": 4, "g": "b", "v": null, "s": 7}, {"_id": 5, "g": "b", "v": "x"}, {"_id": 6, "g": "a", "v": 7, "s": 0}]');
SELECT aggregate('grp.rk', '[{"$sort": {"_id": 1}}, {"$group": {"_id": "$g", "top": {"$top": {"sortBy": {"s": 1}, "output": "$v"}}, "bot": {"$bottom": {"sortBy": {"s": 1}, "output": "$v"}}, "topN": {"$topN": {"n": 2, "sortBy": {"s": -1}, "output": ["$_id", "$v"]}}, "botN": {"$bottomN": {"n": 2, "sortBy": {"s": 1}, "output": "$_id"}}}}, {"$sort": {"_id": 1}}]');
SELECT aggregate('grp.rk', '[{"$sort": {"_id": 1}}, {"$group": {"_id": "$g", "fN": {"$firstN": {"input": "$v", "n": 2}}, "lN": {"$lastN": {"input": "$v", "n": 2}}, "maxN": {"$maxN": {"input": "$v", "n": 3}}, "minN": {"$minN": {"input": "$v", "n": 2.0}}}}, {"$sort": {"_id": 1}}]');
SELECT aggregate('grp.rk', '[{"$group": {"_id": "$g", "med": {"$median": {"input": "$v", "method": "approximate"}}, "pct": {"$percentile": {"input": "$v", "p": [0, 0.5, 0.9, 1], "method": "discrete"}}, "pctc": {"$percentile": {"input": "$v", "p": [0.5], "method": "continuous"}}}}, {"$sort": {"_id": 1}}]');
-- the bound: 20000 documents through a $topN of 3 and a $lastN of 2 (a
-- hash aggregation over many groups, compacting as it goes)
SELECT aggregate('grp.many', '[{"$group": {"_id": "$s", "t": {"$topN": {"n": 3, "sortBy": {"v": -1}, "output": "$v"}}, "l": {"$lastN": {"input": "$v", "n": 2}}, "f": {"$firstN": {"input": "$v", "n": 2}}, "m": {"$median": {"input": "$v", "method": "approximate"}}}}, {"$sort": {"_id": 1}}]');
SELECT aggregate('grp.rk', '[{"$group": {"_id": null, "r": {"$topN": {"n": 0, "sortBy": {"s": 1}, "output": "$v"}}}}]');
SELECT aggregate('grp.rk', '[{"$group": {"_id": null, "r": {"$firstN": {"n": "bad", "input": "$v"}}}}]');
SELECT aggregate('grp.rk', '[{"$group": {"_id": null, "r": {"$topN": {"sortBy": {"s": 1}, "output": "$v"}}}}]');
SELECT aggregate('grp.rk', '[{"$group": {"_id": null, "r": {"$top": {"n": 1, "sortBy": {"s": 1}, "output": "$v"}}}}]');
SELECT aggregate('grp.rk', '[{"$group": {"_id": null, "r": {"$lastN": {"input": "$v"}}}}]');
SELECT aggregate('grp.rk', '[{"$group": {"_id": null, "r": {"$topN": {"n": 1, "sortBy": {"s": 2}, "output": "$v"}}}}]');
SELECT aggregate('grp.rk', '[{"$group": {"_id": null, "r": {"$percentile": {"input": "$v", "p": [1.5], "method": "approximate"}}}}]');
SELECT aggregate('grp.rk', '[{"$group": {"_id": null, "r": {"$percentile": {"input": "$v", "p": [], "method": "approximate"}}}}]');
SELECT aggregate('grp.rk', '[{"$group": {"_id": null, "r": {"$percentile": {"input": "$v", "p": [0.5]}}}}]');
SELECT aggregate('grp.rk', '[{"$group": {"_id": null, "r": {"$percentile": {"input": "$v", "p": [0.5], "method": "exact"}}}}]');
SELECT aggregate('grp.rk', '[{"$group": {"_id": null, "r": {"$median": {"input": "$v", "method": "approximate", "p": [0.5]}}}}]');
SELECT aggregate('grp.rk', '[{"$group": {"_id": null, "r": {"$minN": {"input": "$v", "n": "$s"}}}}]');
SELECT drop_collection('grp.rk');
SELECT drop_collection('grp.many');
SELECT drop_collection('grp.c');
-- $unwind + $group: the unwound copies keep only the fields the $group
-- reads (a projection before the $unwinds); results must not change,
-- including when it reads $$ROOT, $$CURRENT paths, $getField or sortBy keys
SELECT insert_many('grp.tr', '[{"_id": 1, "a": {"b": 1, "c": 9}, "t": [1, 2], "x": 5, "s": "p"}, {"_id": 2, "a": {"b": 2}, "t": [2, 3], "x": 7, "s": "q"}, {"_id": 3, "t": [], "x": 1}]');
SELECT aggregate('grp.tr', '[{"$unwind": "$t"}, {"$group": {"_id": "$t", "n": {"$sum": 1}, "x": {"$sum": "$x"}, "ids": {"$push": "$_id"}}}, {"$sort": {"_id": 1}}]');
SELECT aggregate('grp.tr', '[{"$unwind": "$t"}, {"$group": {"_id": "$t", "r": {"$push": "$$ROOT"}}}, {"$sort": {"_id": 1}}]');
SELECT aggregate('grp.tr', '[{"$unwind": "$t"}, {"$group": {"_id": "$t", "r": {"$push": "$$CURRENT.a.b"}}}, {"$sort": {"_id": 1}}]');
SELECT aggregate('grp.tr', '[{"$unwind": "$t"}, {"$group": {"_id": "$t", "r": {"$push": {"$getField": "s"}}}}, {"$sort": {"_id": 1}}]');
SELECT aggregate('grp.tr', '[{"$unwind": {"path": "$t", "includeArrayIndex": "i", "preserveNullAndEmptyArrays": true}}, {"$group": {"_id": "$i", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]');
SELECT aggregate('grp.tr', '[{"$addFields": {"y": 1}}, {"$unwind": "$t"}, {"$group": {"_id": "$t", "y": {"$sum": "$y"}, "d": {"$addToSet": {"$let": {"vars": {"q": "$a.c"}, "in": "$$q"}}}}}, {"$sort": {"_id": 1}}]');
SELECT aggregate('grp.tr', '[{"$unwind": "$t"}, {"$unwind": "$t"}, {"$group": {"_id": {"k": "$t", "b": "$a.b"}, "n": {"$count": {}}}}, {"$sort": {"_id.k": 1, "_id.b": 1}}]');
SELECT drop_collection('grp.tr');
