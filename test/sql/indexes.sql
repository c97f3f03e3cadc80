-- MongoDB indexes as PostgreSQL indexes (src/indexes.c, src/index_key.c):
-- btree indexes over nosql.bson_index_key for ordered specs (unique,
-- sparse, partial, compound), hashed indexes, hidden indexes; the key
-- conditions find/count/update/delete put in their SQL; EXPLAIN plans; and
-- a randomized equivalence test: every filter counted through run_command
-- with sequential scans disabled (so the index conditions are what answers)
-- equals the sequential-scan count of document @@ filter.  Then indexes
-- with a collation and the queries under collations they serve (or not),
-- with the same kind of randomized test against an unindexed copy.
SET search_path = public, nosql;
SET max_parallel_workers_per_gather = 0;
-- sequential scans are turned off below, whose cost would make every query JIT compiled
SET jit = off;

-- mixed data: every numeric type, NaN, infinities, strings (some over the
-- btree key limit), dates, booleans, nulls, missing fields, nested
-- documents, and arrays on indexed paths (multikey documents)
SELECT run_command('ix', '{"create": "c"}');
INSERT INTO nosql_data."ix.c"
SELECT bson_get_path(d, '_id'), d FROM (
SELECT format('{"_id": %s, %s "b": %s, "c": %s, "n": {"x": %s}, "h": %s, %s %s "u": %s, "t": [%s, %s]}',
    i,
    CASE
        WHEN i % 53 = 0 THEN ''
        WHEN i % 47 = 0 THEN '"a": null,'
        WHEN i % 97 = 0 THEN format('"a": [%s, %s],', i % 100, (i + 7) % 100)
        WHEN i % 5 = 0 THEN format('"a": %s,', i % 100)
        WHEN i % 5 = 1 THEN format('"a": {"$numberLong": "%s"},', i % 100)
        WHEN i % 5 = 2 THEN format('"a": %s.5,', i % 100)
        WHEN i % 5 = 3 THEN format('"a": {"$numberDecimal": "%s.00"},', i % 100)
        ELSE format('"a": "s%s",', i % 100)
    END,
    CASE WHEN i % 89 = 0 THEN format('"%s%s"', repeat('y', 1500), i % 3)
         WHEN i % 31 = 0 THEN 'null'
         WHEN i % 7 = 0 THEN format('{"$date": {"$numberLong": "%s"}}', 1600000000000 + (i % 30) * 86400000::bigint)
         ELSE format('"str%s"', i % 40) END,
    i % 10,
    CASE WHEN i % 101 = 0 THEN format('[%s]', i % 30) ELSE (i % 30)::text END,
    i % 20,
    CASE WHEN i % 3 = 0 THEN format('"s": %s,', i % 15) ELSE '' END,
    CASE WHEN i % 2 = 0 THEN format('"p": %s,', i % 25) ELSE '' END,
    i,
    i % 7, i % 11
)::bson d FROM generate_series(1, 3000) AS i) s;
SELECT run_command('ix', '{"insert": "c", "documents": [{"_id": -1, "u": -1, "a": {"$numberDouble": "NaN"}}, {"_id": -2, "u": -2, "a": {"$numberDouble": "-Infinity"}}, {"_id": -3, "u": -3, "a": {"$numberDouble": "Infinity"}}, {"_id": -4, "u": -4, "a": {"$numberLong": "9007199254740993"}}, {"_id": -5, "u": -5, "a": -0.0}, {"_id": -6, "u": -6, "a": true}, {"_id": -7, "u": -7, "a": {"$date": "2020-01-01T00:00:00Z"}}, {"_id": -8, "u": -8, "a": {"$oid": "5f0000000000000000000001"}}, {"_id": -9, "u": -9, "a": {"x": 1}}, {"_id": -10, "u": -10, "a": {"$minKey": 1}}, {"_id": -11, "u": -11, "a": {"$maxKey": 1}}, {"_id": -12, "u": -12, "a": "s5"}, {"_id": -13, "u": -13, "a": {"$regularExpression": {"pattern": "^s", "options": ""}}}, {"_id": -14, "u": -14, "a": []}]}');

SELECT run_command('ix', '{"createIndexes": "c", "indexes": [
  {"key": {"a": 1}, "name": "a_1"},
  {"key": {"b": 1, "c": -1}, "name": "b_1_c_-1"},
  {"key": {"n.x": 1}, "name": "nx_1"},
  {"key": {"h": "hashed"}, "name": "h_hashed"},
  {"key": {"s": 1}, "name": "s_1", "sparse": true},
  {"key": {"p": 1}, "name": "p_1", "partialFilterExpression": {"p": {"$gt": 10}}},
  {"key": {"u": 1}, "name": "u_1", "unique": true},
  {"key": {"t": 1}, "name": "t_1"}]}');
ANALYZE nosql_data."ix.c";

-- which PostgreSQL index serves which spec: btrees over the keys, a GIN
-- beside the multikey ones (a has arrays, t is all arrays)
SELECT regexp_replace(indexdef, 'nosql_ix_[0-9]+_[0-9a-f]+_([a-z])[0-9a-f]+', 'nosql_ix_\1') AS indexdef
  FROM pg_indexes WHERE schemaname = 'nosql_data' AND tablename = 'ix.c'
 ORDER BY indexname ~ '_m', indexdef;

CREATE FUNCTION ix_explain(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    RETURN NEXT regexp_replace(l, 'nosql_([ih])x_[0-9]+_[0-9a-f]+_([a-z])[0-9a-f]+', 'nosql_\1x_\2', 'g');
  END LOOP;
END $$;

-- SQL over the keys uses the btrees: equality, both ends of a range in one
-- scan, $in, compound prefixes, the NULL (multikey) entries of the index
SET enable_seqscan = off;
SELECT ix_explain($q$SELECT _id FROM nosql_data."ix.c"
 WHERE bson_index_key(document, 'n.x') = '5'$q$);
SELECT ix_explain($q$SELECT _id FROM nosql_data."ix.c"
 WHERE bson_index_key(document, 'n.x') > '3' AND bson_index_key(document, 'n.x') <= '7'$q$);
SELECT ix_explain($q$SELECT _id FROM nosql_data."ix.c"
 WHERE bson_index_key(document, 'n.x') = ANY (ARRAY['1', '2']::bson[])$q$);
SELECT ix_explain($q$SELECT _id FROM nosql_data."ix.c"
 WHERE bson_index_key(document, 'b', ARRAY['b', 'c']) = '"str3"'
   AND bson_index_key(document, 'c', ARRAY['b', 'c']) > '2'$q$);
-- sort + limit reads the index in order and stops
SELECT ix_explain($q$SELECT _id FROM nosql_data."ix.c"
 ORDER BY bson_index_key(document, 'n.x') DESC LIMIT 5$q$);
SELECT ix_explain($q$SELECT _id FROM nosql_data."ix.c"
 WHERE bson_index_hash(document, 'h') = bson_index_hash('{"h": 3}', 'h')$q$);
RESET enable_seqscan;

-- key values
SELECT bson_index_key('{"a": {"b": 5}}', 'a.b') AS nested,
       bson_index_key('{"a": 5}', 'a.b') AS through_scalar,
       bson_index_key('{"x": 1}', 'a') AS missing,
       bson_index_key('{"a": [1, 2]}', 'a') IS NULL AS array_is_null,
       bson_index_key('{"a": [{"b": 1}]}', 'a.b') IS NULL AS through_array_is_null,
       bson_index_key('{"a": 1, "b": [1]}', 'a', ARRAY['a', 'b']) IS NULL AS compound_multikey,
       bson_index_key(format('{"a": "%s"}', repeat('z', 2000))::bson, 'a') IS NULL AS too_large,
       bson_index_present('{"a": null}', ARRAY['a']) AS null_present,
       bson_index_present('{"b": 1}', ARRAY['a', 'c']) AS absent,
       bson_index_hash('{"a": 1}', 'a') = bson_index_hash('{"a": 1.0}', 'a') AS hash_numeric;
-- parallel arrays and hashed arrays are refused, as in MongoDB
SELECT bson_index_key('{"a": [1], "b": [2]}', 'a', ARRAY['a', 'b']);
SELECT bson_index_hash('{"a": [1]}', 'a');
SELECT run_command('ix', '{"createIndexes": "par", "indexes": [{"key": {"x": 1, "y": 1}, "name": "xy"}]}');
SELECT run_command('ix', '{"insert": "par", "documents": [{"x": [1, 2], "y": [3]}]}');
SELECT run_command('ix', '{"insert": "par", "documents": [{"_id": 1, "x": [{"a": 1}], "y": 1}, {"_id": 2, "x": [1], "y": 2}]}');

-- unique: 11000 with keyPattern and keyValue; missing fields are null keys
SELECT run_command('ix', '{"insert": "c", "documents": [{"_id": 100000, "u": 7}]}');
SELECT run_command('ix', '{"createIndexes": "uq", "indexes": [{"key": {"k": 1, "j": -1}, "name": "kj", "unique": true}]}');
SELECT run_command('ix', '{"insert": "uq", "documents": [{"_id": 1, "k": 1, "j": "x"}, {"_id": 2, "k": 1, "j": "y"}, {"_id": 3, "k": 1.0, "j": "x"}, {"_id": 4}, {"_id": 5}], "ordered": false}');
SELECT run_command('ix', '{"update": "uq", "updates": [{"q": {"_id": 2}, "u": {"$set": {"j": "x"}}}]}');
SELECT run_command('ix', '{"findAndModify": "uq", "query": {"_id": 2}, "update": {"$set": {"k": 1, "j": "x"}}}');
SELECT run_command('ix', '{"update": "uq", "updates": [{"q": {"_id": 9}, "u": {"$set": {"k": 1, "j": "x"}}, "upsert": true}]}');
SELECT run_command('ix', '{"find": "uq", "filter": {}, "sort": {"_id": 1}}');
-- sparse unique: documents without the field are not in the index
SELECT run_command('ix', '{"createIndexes": "sq", "indexes": [{"key": {"k": 1}, "name": "k", "unique": true, "sparse": true}]}');
SELECT run_command('ix', '{"insert": "sq", "documents": [{"_id": 1}, {"_id": 2}, {"_id": 3, "k": null}, {"_id": 4, "k": null}]}');
-- partial unique: only documents matching the filter are unique
SELECT run_command('ix', '{"createIndexes": "pq", "indexes": [{"key": {"k": 1}, "name": "k", "unique": true, "partialFilterExpression": {"v": {"$gte": 5}}}]}');
SELECT run_command('ix', '{"insert": "pq", "documents": [{"_id": 1, "k": 1, "v": 1}, {"_id": 2, "k": 1, "v": 2}, {"_id": 3, "k": 1, "v": 5}, {"_id": 4, "k": 1, "v": 6}]}');
-- unique over array elements (a trigger beside the btree, whose keys are
-- NULL for arrays): each element is a key, as in MongoDB
SELECT run_command('ix', '{"createIndexes": "mq", "indexes": [{"key": {"v": 1}, "name": "v_u", "unique": true}]}');
SELECT run_command('ix', '{"createIndexes": "mq2", "indexes": [{"key": {"a.b": 1}, "name": "ab_u", "unique": true}]}');
SELECT run_command('ix', '{"insert": "mq", "documents": [{"_id": 1, "v": [1, 2, 3]}, {"_id": 2, "v": [1, 1]}, {"_id": 3, "v": [3, 4]}, {"_id": 4, "v": 2}, {"_id": 5, "v": [7]}, {"_id": 6, "v": 7}, {"_id": 7, "v": []}, {"_id": 8, "v": []}, {"_id": 9, "v": [[1, 2]]}, {"_id": 10, "v": [[1, 2]]}], "ordered": false}');
SELECT run_command('ix', '{"insert": "mq2", "documents": [{"_id": 11, "a": [{"b": 1}, {"b": 2}]}, {"_id": 12, "a": {"b": 1}}, {"_id": 13, "a": {"b": 9}}, {"_id": 14, "a": [{"b": 9}]}, {"_id": 15, "a": [{"c": 1}]}, {"_id": 16}], "ordered": false}');
SELECT run_command('ix', '{"find": "mq2", "filter": {}, "sort": {"_id": 1}}');
SELECT run_command('ix', '{"update": "mq", "updates": [{"q": {"_id": 5}, "u": {"$set": {"v": [8, 2]}}}]}');
SELECT run_command('ix', '{"find": "mq", "filter": {}, "sort": {"_id": 1}}');
-- compound, sparse and partial unique indexes over array elements: each
-- element with the other fields is a key; documents outside a sparse or
-- partial index have none
SELECT run_command('ix', '{"createIndexes": "mqc", "indexes": [{"key": {"a": 1, "b": -1}, "name": "ab_u", "unique": true}]}');
SELECT run_command('ix', '{"insert": "mqc", "documents": [{"_id": 1, "a": [1, 2], "b": 1}, {"_id": 2, "a": 2, "b": 1}, {"_id": 3, "a": 2, "b": 2}, {"_id": 4, "a": [3, 1], "b": 1}, {"_id": 5, "a": [3, 4], "b": 1}, {"_id": 6, "a": 1, "b": [2, 1]}, {"_id": 7, "a": 5, "b": [7, 8]}, {"_id": 8, "a": [], "b": 1}, {"_id": 9, "a": [], "b": 1}, {"_id": 10, "a": [], "b": 2}], "ordered": false}');
SELECT run_command('ix', '{"update": "mqc", "updates": [{"q": {"_id": 3}, "u": {"$set": {"b": [1, 9]}}}]}');
SELECT run_command('ix', '{"find": "mqc", "filter": {}, "sort": {"_id": 1}}');
SELECT run_command('ix', '{"createIndexes": "mqs", "indexes": [{"key": {"s": 1}, "name": "s_u", "unique": true, "sparse": true}]}');
SELECT run_command('ix', '{"insert": "mqs", "documents": [{"_id": 1, "s": [1, 2]}, {"_id": 2, "s": [2, 3]}, {"_id": 3}, {"_id": 4}, {"_id": 5, "s": 1}, {"_id": 6, "s": [9]}, {"_id": 7, "s": 9}], "ordered": false}');
SELECT run_command('ix', '{"find": "mqs", "filter": {}, "sort": {"_id": 1}}');
SELECT run_command('ix', '{"createIndexes": "mqp", "indexes": [{"key": {"p": 1}, "name": "p_u", "unique": true, "partialFilterExpression": {"q": {"$gt": 5}}}]}');
SELECT run_command('ix', '{"insert": "mqp", "documents": [{"_id": 1, "p": [1, 2], "q": 6}, {"_id": 2, "p": [2], "q": 1}, {"_id": 3, "p": 2, "q": 7}, {"_id": 4, "p": [1], "q": 8}], "ordered": false}');
SELECT run_command('ix', '{"update": "mqp", "updates": [{"q": {"_id": 2}, "u": {"$set": {"q": 9}}}]}');
SELECT run_command('ix', '{"find": "mqp", "filter": {}, "sort": {"_id": 1}}');
-- with a collation, elements are keys under it ("Abc" = "aBC" at strength 2)
SELECT run_command('ix', '{"createIndexes": "mqk", "indexes": [{"key": {"n": 1}, "name": "n_ci", "unique": true, "collation": {"locale": "en", "strength": 2}}]}');
SELECT run_command('ix', '{"insert": "mqk", "documents": [{"_id": 1, "n": ["Abc", "x"]}, {"_id": 2, "n": "aBC"}, {"_id": 3, "n": ["X"]}, {"_id": 4, "n": ["y", "Y"]}, {"_id": 5, "n": "q"}, {"_id": 6, "n": ["Q"]}], "ordered": false}');
SELECT run_command('ix', '{"find": "mqk", "filter": {}, "sort": {"_id": 1}}');
-- building a compound unique index over shared elements is refused too
SELECT run_command('ix', '{"insert": "mqb", "documents": [{"_id": 1, "a": [1, 2], "b": 1}, {"_id": 2, "a": [2, 3], "b": 1}, {"_id": 3, "a": [2, 3], "b": 2}]}');
SELECT run_command('ix', '{"createIndexes": "mqb", "indexes": [{"key": {"a": 1, "b": 1}, "name": "ab_u", "unique": true}]}');
SELECT run_command('ix', '{"delete": "mqb", "deletes": [{"q": {"_id": 2}, "limit": 1}]}');
SELECT run_command('ix', '{"createIndexes": "mqb", "indexes": [{"key": {"a": 1, "b": 1}, "name": "ab_u", "unique": true}]}');

-- a unique index built over array elements that repeat across documents is refused
SELECT run_command('ix', '{"insert": "mr", "documents": [{"_id": 1, "t": ["x", "y"]}, {"_id": 2, "t": ["y", "z"]}]}');
SELECT run_command('ix', '{"createIndexes": "mr", "indexes": [{"key": {"t": 1}, "name": "t_u", "unique": true}]}');
SELECT run_command('ix', '{"listIndexes": "mr"}');

-- createIndexes on data that violates uniqueness fails and leaves nothing
SELECT run_command('ix', '{"createIndexes": "uq", "indexes": [{"key": {"k": 1}, "name": "k_u", "unique": true}]}');
SELECT run_command('ix', '{"listIndexes": "uq"}');

-- hidden indexes stay maintained but the planner does not see them
SELECT run_command('ix', '{"collMod": "c", "index": {"name": "nx_1", "hidden": true}}');
SELECT count(*) AS hidden FROM pg_indexes
 WHERE schemaname = 'nosql_data' AND tablename = 'ix.c' AND indexname LIKE 'nosql_hx_%';
SET enable_seqscan = off;
SELECT ix_explain($q$SELECT _id FROM nosql_data."ix.c" WHERE bson_index_key(document, 'n.x') = '5'$q$);
RESET enable_seqscan;
SELECT run_command('ix', '{"collMod": "c", "index": {"name": "nx_1", "hidden": false}}');
SELECT count(*) AS hidden FROM pg_indexes
 WHERE schemaname = 'nosql_data' AND tablename = 'ix.c' AND indexname LIKE 'nosql_hx_%';

-- wildcard indexes: a GIN of bson_gin_ops over the paths the spec covers
-- (a.$** below a; $** with an inclusion wildcardProjection below each
-- included field; $** alone or with an exclusion projection every path)
SELECT run_command('ix', '{"insert": "wc", "documents": [{"_id": 1, "a": {"x": 1, "y": [1, 2]}, "b": {"z": 1}, "c": 1}, {"_id": 2, "a": {"x": 2}, "b": {"z": 2}, "c": 2}, {"_id": 3, "a": [{"x": 1}, {"x": 3}], "c": 3}]}');
SELECT run_command('ix', '{"createIndexes": "wc", "indexes": [
  {"key": {"a.$**": 1}, "name": "a_wild"},
  {"key": {"$**": 1}, "name": "b_wild", "wildcardProjection": {"b": 1}},
  {"key": {"$**": 1}, "name": "not_c", "wildcardProjection": {"c": 0}}]}');
SELECT regexp_replace(indexdef, 'nosql_ix_[0-9]+_[0-9a-f]+_([a-z])[0-9a-f]+', 'nosql_ix_\1') AS indexdef
  FROM pg_indexes WHERE schemaname = 'nosql_data' AND tablename = 'ix.wc' ORDER BY indexdef;
SET enable_seqscan = off;
SELECT run_command('ix', '{"collMod": "wc", "index": {"name": "not_c", "hidden": true}}');
SELECT ix_explain($q$SELECT _id FROM nosql_data."ix.wc" WHERE document @@ '{"a.x": 1}'$q$);
SELECT ix_explain($q$SELECT _id FROM nosql_data."ix.wc" WHERE document @@ '{"b.z": 2}'$q$);
SELECT run_command('ix', '{"find": "wc", "filter": {"a.x": 1}, "projection": {"_id": 1}}');
SELECT run_command('ix', '{"find": "wc", "filter": {"a.y": 2}, "projection": {"_id": 1}}');
SELECT run_command('ix', '{"find": "wc", "filter": {"b.z": {"$gte": 1}}, "projection": {"_id": 1}}');
RESET enable_seqscan;

-- randomized equivalence: filters over the indexed paths, through
-- run_command with sequential scans off, against document @@ filter by a
-- sequential scan
CREATE TABLE ix_filters (id serial, filter bson);
SELECT setseed(0.42);
CREATE FUNCTION ix_value() RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT (ARRAY['5', '5.5', '{"$numberLong": "7"}', '{"$numberDecimal": "12.00"}', '"s5"', '"s50"',
                'null', 'true', '{"$numberDouble": "NaN"}', '{"$numberDouble": "Infinity"}',
                '"str3"', '"str39"', '{"$date": "2020-09-14T12:26:40Z"}', '0', '-0.0', '99', '"y"',
                '{"x": 1}', '3', '13', '20', '{"$minKey": 1}', '{"$maxKey": 1}',
                '{"$oid": "5f0000000000000000000001"}', '"st"', '[5, 12]', '2'])[1 + floor(random() * 27)::int]
$$;
CREATE FUNCTION ix_cond() RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT CASE floor(random() * 12)::int
    WHEN 0 THEN ix_value()
    WHEN 1 THEN format('{"$gt": %s}', ix_value())
    WHEN 2 THEN format('{"$gte": %s, "$lt": %s}', ix_value(), ix_value())
    WHEN 3 THEN format('{"$lte": %s}', ix_value())
    WHEN 4 THEN format('{"$in": [%s, %s, %s]}', ix_value(), ix_value(), ix_value())
    WHEN 5 THEN format('{"$regex": "^%s"}', (ARRAY['s', 's5', 'str1', 'y', 'st.'])[1 + floor(random() * 5)::int])
    WHEN 6 THEN format('{"$ne": %s}', ix_value())
    WHEN 7 THEN format('{"$exists": %s}', (random() < 0.5)::text)
    WHEN 8 THEN format('{"$eq": %s}', ix_value())
    WHEN 9 THEN format('{"$gt": %s, "$lte": %s}', ix_value(), ix_value())
    WHEN 10 THEN format('{"$in": [%s]}', ix_value())
    ELSE format('{"$lt": %s}', ix_value())
  END
$$;
CREATE FUNCTION ix_path() RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT (ARRAY['a', 'a', 'b', 'c', 'n.x', 'h', 's', 'p', 'u', '_id', 't', 'n'])[1 + floor(random() * 12)::int]
$$;
INSERT INTO ix_filters (filter)
SELECT (CASE floor(random() * 5)::int
    WHEN 0 THEN format('{"%s": %s}', ix_path(), ix_cond())
    WHEN 1 THEN format('{"%s": %s, "%s": %s}', ix_path(), ix_cond(), ix_path(), ix_cond())
    WHEN 2 THEN format('{"$or": [{"%s": %s}, {"%s": %s}]}', ix_path(), ix_cond(), ix_path(), ix_cond())
    WHEN 3 THEN format('{"$and": [{"%s": %s}, {"%s": %s}], "%s": %s}', ix_path(), ix_cond(), ix_path(), ix_cond(), ix_path(), ix_cond())
    ELSE format('{"b": %s, "c": %s}', ix_cond(), ix_cond())
  END)::bson
FROM generate_series(1, 600);
CREATE TABLE ix_results (id int, via_command bigint, via_scan bigint, ids_equal boolean, error text);
DO $$
DECLARE
  f record;
  reply bson;
  n_cmd bigint;
  n_scan bigint;
  ids_cmd bson;
  same boolean;
BEGIN
  FOR f IN SELECT * FROM ix_filters ORDER BY id LOOP
    SET LOCAL enable_seqscan = off;
    reply := run_command('ix', format('{"count": "c", "query": %s}', f.filter::text)::bson);
    IF (reply->>'ok')::float <> 1 THEN
      INSERT INTO ix_results VALUES (f.id, NULL, NULL, NULL, reply::text);
      CONTINUE;
    END IF;
    n_cmd := (reply->>'n')::bigint;
    reply := run_command('ix', format('{"find": "c", "filter": %s, "projection": {"_id": 1}, "batchSize": 100000}', f.filter::text)::bson);
    SET LOCAL enable_seqscan = on;
    SET LOCAL enable_indexscan = off;
    SET LOCAL enable_bitmapscan = off;
    SELECT count(*) INTO n_scan FROM nosql_data."ix.c" WHERE document @@ f.filter;
    SELECT coalesce((SELECT array_agg(x ORDER BY x)
                       FROM (SELECT (e->>'_id')::bigint AS x
                               FROM jsonb_array_elements((reply->'cursor'->'firstBatch')::text::jsonb) AS e) q), '{}')
         = coalesce((SELECT array_agg(y ORDER BY y)
                       FROM (SELECT (document->>'_id')::bigint AS y
                               FROM nosql_data."ix.c" WHERE document @@ f.filter) r), '{}')
      INTO same;
    RESET enable_indexscan;
    RESET enable_bitmapscan;
    INSERT INTO ix_results VALUES (f.id, n_cmd, n_scan, same, NULL);
  END LOOP;
END $$;
SELECT count(*) AS filters,
       count(*) FILTER (WHERE error IS NOT NULL) AS errors,
       count(*) FILTER (WHERE via_command <> via_scan OR NOT ids_equal) AS mismatches,
       count(*) FILTER (WHERE via_scan > 0) AS matching_something
  FROM ix_results;
SELECT r.*, f.filter FROM ix_results r JOIN ix_filters f USING (id)
 WHERE error IS NOT NULL OR via_command <> via_scan OR NOT ids_equal ORDER BY id LIMIT 10;

-- the same after updates that move keys (scalars into arrays and back) and deletes
SELECT run_command('ix', '{"update": "c", "updates": [{"q": {"n.x": 3}, "u": {"$set": {"a": [1, 2, 3], "n.x": [3, 4]}}, "multi": true}, {"q": {"a": 4}, "u": {"$set": {"a": 400}}, "multi": true}]}');
SELECT run_command('ix', '{"delete": "c", "deletes": [{"q": {"b": {"$regex": "^str1"}}, "limit": 0}]}');
VACUUM ANALYZE nosql_data."ix.c";
TRUNCATE ix_results;
DO $$
DECLARE
  f record;
  n_cmd bigint;
  n_scan bigint;
BEGIN
  FOR f IN SELECT * FROM ix_filters ORDER BY id LOOP
    SET LOCAL enable_seqscan = off;
    n_cmd := (run_command('ix', format('{"count": "c", "query": %s}', f.filter::text)::bson)->>'n')::bigint;
    SET LOCAL enable_seqscan = on;
    SET LOCAL enable_indexscan = off;
    SET LOCAL enable_bitmapscan = off;
    SELECT count(*) INTO n_scan FROM nosql_data."ix.c" WHERE document @@ f.filter;
    RESET enable_indexscan;
    RESET enable_bitmapscan;
    INSERT INTO ix_results VALUES (f.id, n_cmd, n_scan, true, NULL);
  END LOOP;
END $$;
SELECT count(*) AS filters, count(*) FILTER (WHERE via_command IS DISTINCT FROM via_scan) AS mismatches
  FROM ix_results;

-- selectivity: the conditions left to document @@ are estimated by the
-- operator's estimator (matchingsel) from ANALYZE's sample of the
-- documents, not by a constant; estimates within a factor of 2 here
CREATE FUNCTION ix_estimate(f bson) RETURNS TABLE (estimated numeric, actual bigint) LANGUAGE plpgsql AS $$
DECLARE
  plan json;
BEGIN
  EXECUTE format('EXPLAIN (FORMAT JSON) SELECT 1 FROM nosql_data."ix.c" WHERE document @@ %L', f) INTO plan;
  estimated := (plan->0->'Plan'->>'Plan Rows')::numeric;
  EXECUTE format('SELECT count(*) FROM nosql_data."ix.c" WHERE document @@ %L', f) INTO actual;
  RETURN NEXT;
END $$;
SELECT f, actual, estimated BETWEEN actual / 2.0 AND actual * 2.0 AS close
  FROM (VALUES ('{"c": 3}'::bson), ('{"c": {"$lt": 3}}'), ('{"h": {"$gte": 15}}'), ('{"n.x": {"$lt": 5}}'),
               ('{"b": {"$in": ["str5", "str6"]}}'), ('{"c": {"$gt": 1}, "h": {"$lt": 10}}'), ('{"t": 3}')) v(f),
       LATERAL ix_estimate(f);

-- sorts served by an index equal the sort without one
SELECT run_command('ix', '{"find": "c", "filter": {"u": {"$gt": 10}}, "sort": {"u": -1}, "limit": 3, "projection": {"u": 1}}');
SELECT run_command('ix', '{"find": "c", "sort": {"b": 1, "c": -1}, "limit": 4, "projection": {"b": 1, "c": 1}}')
     = run_command('ix', '{"find": "c", "sort": {"b": 1, "c": -1}, "limit": 4, "projection": {"b": 1, "c": 1}, "hint": {"$natural": 1}}') AS same_order;

-- hint: only the hinted index's conditions are planned and sequential
-- scans are off ($natural: index scans off); same results
CREATE FUNCTION ix_stages(r bson) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(m[1], ' ') FROM regexp_matches(r::text, '"(?:stage|indexName)": "([A-Za-z_0-9.-]+)"', 'g') m
$$;
SELECT ix_stages(run_command('ix', '{"explain": {"find": "c", "filter": {"u": {"$lt": 50}, "n.x": 3}, "hint": "u_1"}, "verbosity": "queryPlanner"}')) AS hint_u,
       ix_stages(run_command('ix', '{"explain": {"find": "c", "filter": {"u": {"$lt": 50}, "n.x": 3}, "hint": {"$natural": 1}}, "verbosity": "queryPlanner"}')) AS hint_natural;
SELECT run_command('ix', '{"count": "c", "query": {"u": {"$lt": 50}, "n.x": 3}, "hint": "u_1"}') AS by_u,
       run_command('ix', '{"count": "c", "query": {"u": {"$lt": 50}, "n.x": 3}, "hint": {"$natural": 1}}') AS by_scan,
       run_command('ix', '{"count": "c", "query": {"u": 1}, "hint": "no_such_index"}') AS bad_hint;
DROP FUNCTION ix_stages(bson);
-- min (inclusive) and max (exclusive) bound the hinted index's keys in its
-- order (b descending here), and the documents come in that order; they
-- need a hint (51173) that names an ordered index with their fields (51174)
SELECT run_command('ix', '{"insert": "mm", "documents": [{"_id": 1, "a": 1, "b": 5}, {"_id": 2, "a": 2, "b": 1}, {"_id": 3, "a": 2, "b": 9}, {"_id": 4, "a": 3, "b": 2}, {"_id": 5, "a": 4}, {"_id": 6, "a": 2, "b": 5}]}');
SELECT run_command('ix', '{"createIndexes": "mm", "indexes": [{"key": {"a": 1, "b": -1}, "name": "ab"}, {"key": {"$**": 1}, "name": "w"}, {"key": {"s.$**": 1}, "name": "ws"}]}');
SELECT run_command('ix', '{"find": "mm", "hint": "ab", "min": {"a": 2, "b": 5}, "max": {"a": 3, "b": 2}}');
SELECT run_command('ix', '{"find": "mm", "hint": {"a": 1, "b": -1}, "min": {"a": 2, "b": {"$maxKey": 1}}, "projection": {"_id": 1}}');
SELECT run_command('ix', '{"find": "mm", "hint": "_id_", "max": {"_id": 3}, "filter": {"a": {"$gt": 0}}}');
SELECT run_command('ix', '{"find": "mm", "min": {"a": 2}}');
SELECT run_command('ix', '{"find": "mm", "hint": "ab", "min": {"a": 2}}');
SELECT run_command('ix', '{"find": "mm", "hint": "ab", "max": {"b": 2, "a": 1}}');
SELECT run_command('ix', '{"find": "mm", "hint": "w", "min": {"a": 2}}');
-- returnKey: the keys of the index read (hinted, or the planner's), {} for a scan
SELECT run_command('ix', '{"find": "mm", "filter": {"a": 3}, "returnKey": true}');
SELECT run_command('ix', '{"find": "mm", "filter": {"a": 3}, "hint": "_id_", "returnKey": true}');
SELECT run_command('ix', '{"find": "mm", "filter": {"b": 2}, "returnKey": true}');
-- a hinted wildcard index must cover a path of the filter (291)
SELECT run_command('ix', '{"find": "mm", "hint": "w", "filter": {"a": 4}}');
SELECT run_command('ix', '{"find": "mm", "hint": "w", "filter": {"_id": 4}}');
SELECT run_command('ix', '{"find": "mm", "hint": "ws", "filter": {"a": 4}}');

-- indexes with a collation serve queries under the same collation: their
-- keys hold the strings' sort keys (also inside documents), so equality,
-- ranges, $in and sorts read them when the query's collation is the
-- index's; any other index serves only conditions whose values hold no
-- strings, and a prefix regex never reads a collated index
SELECT run_command('ix', '{"create": "k"}');
SELECT run_command('ix', '{"create": "k_plain"}');
CREATE FUNCTION ix_word() RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT (ARRAY['"apple"', '"Apple"', '"APPLE"', '"àpple"', '"banana"', '"Banana"', '"bánana"',
                '"cherry"', '"Cherry"', '"éclair"', '"Eclair"', '"eclair"', '"zebra"', '"Zebra"',
                '""', '"a"', '"A"', '"ab"', '"AB"', '"straße"', '"STRASSE"', '"Ωmega"', '"ωmega"'])[1 + floor(random() * 23)::int]
$$;
SELECT setseed(0.17);
CREATE TABLE ix_kdocs AS
SELECT i, format('{"_id": %s, %s "t": %s, "n": %s, "u": %s}',
    CASE WHEN i % 101 = 0 THEN format('"Key%s"', i / 101) WHEN i % 103 = 0 THEN format('"key%s"', i / 103) ELSE i::text END,
    CASE
        WHEN i % 61 = 0 THEN ''
        WHEN i % 59 = 0 THEN '"s": null,'
        WHEN i % 53 = 0 THEN format('"s": [%s, %s],', ix_word(), ix_word())
        WHEN i % 47 = 0 THEN format('"s": {"x": %s},', ix_word())
        WHEN i % 43 = 0 THEN format('"s": "%s%s",', repeat('Ωb', 300), i % 2)
        WHEN i % 41 = 0 THEN format('"s": {"$symbol": %s},', ix_word())
        WHEN i % 7 = 0 THEN format('"s": %s,', i % 20)
        ELSE format('"s": %s,', ix_word())
    END,
    CASE WHEN i % 9 = 0 THEN (i % 5)::text ELSE ix_word() END,
    i % 12,
    CASE WHEN i % 3 = 0 THEN ix_word() ELSE (i % 30)::text END)::bson AS d
FROM generate_series(1, 2000) AS i;
INSERT INTO nosql_data."ix.k" SELECT bson_get_path(d, '_id'), d FROM ix_kdocs;
INSERT INTO nosql_data."ix.k_plain" SELECT bson_get_path(d, '_id'), d FROM ix_kdocs;
SELECT run_command('ix', '{"createIndexes": "k", "indexes": [
  {"key": {"s": 1}, "name": "s_ci2", "collation": {"locale": "en", "strength": 2}},
  {"key": {"t": 1, "n": -1}, "name": "tn_ci1", "collation": {"locale": "en", "strength": 1}},
  {"key": {"u": 1}, "name": "u_1"}]}');
ANALYZE nosql_data."ix.k";

-- the plan of a command as EXPLAIN (COSTS OFF) shows it (nodes, indexes,
-- directions; the conditions hold sort keys), from the explain command,
-- and the stages and index names of MongoDB's plan
CREATE FUNCTION ix_cmd_explain(cmd text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
  reply bson := run_command('ix', format('{"explain": %s, "verbosity": "queryPlanner"}', cmd)::bson);
  plan jsonb := (reply -> 'postgres' -> 'plan')::text::jsonb -> 'Plan';
BEGIN
  RETURN NEXT 'MongoDB: ' || (SELECT string_agg(m[1], ' ')
                                FROM regexp_matches((reply -> 'queryPlanner' -> 'winningPlan')::text,
                                                    '"(?:stage|indexName)": "([A-Za-z_0-9.-]+)"', 'g') m);
  RETURN QUERY WITH RECURSIVE walk(node, depth, ord) AS (
    SELECT plan, 0, ARRAY[0]
    UNION ALL
    SELECT c.value, w.depth + 1, w.ord || c.ordinality::int
      FROM walk w, jsonb_array_elements(w.node -> 'Plans') WITH ORDINALITY c
  )
  SELECT repeat('  ', depth) || (node ->> 'Node Type') ||
         CASE WHEN node ? 'Index Name'
              THEN ' ' || coalesce(node ->> 'Scan Direction' || ' ', '') || 'on ' ||
                   regexp_replace(node ->> 'Index Name', 'nosql_([ih])x_[0-9]+_[0-9a-f]+_([a-z])[0-9a-f]+', 'nosql_\1x_\2')
              ELSE '' END
    FROM walk ORDER BY ord;
END $$;
SET enable_seqscan = off;
-- the query's collation is the index's: equality, range, $in, compound,
-- sort + limit (s has arrays: its NULL keys are read by the matcher)
SELECT ix_cmd_explain('{"find": "k", "filter": {"s": "APPLE"}, "collation": {"locale": "en", "strength": 2}}');
SELECT ix_cmd_explain('{"find": "k", "filter": {"s": {"$gte": "b", "$lt": "D"}}, "collation": {"locale": "en", "strength": 2}}');
SELECT ix_cmd_explain('{"find": "k", "filter": {"s": {"$in": ["apple", "ZEBRA"]}}, "collation": {"strength": 2, "locale": "en", "caseLevel": false}}');
SELECT ix_cmd_explain('{"find": "k", "filter": {"t": "Apple", "n": {"$gt": 3}}, "collation": {"locale": "en", "strength": 1}}');
SELECT ix_cmd_explain('{"find": "k", "sort": {"t": 1, "n": -1}, "limit": 3, "collation": {"locale": "en", "strength": 1}}');
SELECT ix_cmd_explain('{"find": "k", "filter": {"t": {"$gt": "B"}}, "sort": {"t": -1}, "limit": 3, "collation": {"locale": "en", "strength": 1}}');
-- another collation (or none): a collated index serves no string
-- condition, but numeric ones; a prefix regex never reads it; a simple
-- index serves numbers and prefix regexes under any collation
SELECT ix_cmd_explain('{"find": "k", "filter": {"s": "APPLE"}, "collation": {"locale": "en", "strength": 1}}');
SELECT ix_cmd_explain('{"find": "k", "filter": {"t": "Apple"}, "collation": {"locale": "en", "strength": 2}}');
SELECT ix_cmd_explain('{"find": "k", "filter": {"t": {"$regex": "^App"}}, "collation": {"locale": "en", "strength": 1}}');
SELECT ix_cmd_explain('{"find": "k", "filter": {"t": {"$in": [3, 4]}}}');
SELECT ix_cmd_explain('{"find": "k", "filter": {"s": {"$gt": 5}}, "collation": {"locale": "fr"}}');
SELECT ix_cmd_explain('{"find": "k", "filter": {"u": "apple"}, "collation": {"locale": "en", "strength": 2}}');
SELECT ix_cmd_explain('{"find": "k", "filter": {"u": {"$lt": 7}}, "collation": {"locale": "en", "strength": 2}}');
SELECT ix_cmd_explain('{"find": "k", "filter": {"u": {"$regex": "^App"}}, "collation": {"locale": "en", "strength": 2}}');
SELECT ix_cmd_explain('{"find": "k", "sort": {"t": 1, "n": -1}, "limit": 3}');
SELECT ix_cmd_explain('{"find": "k", "sort": {"u": 1}, "limit": 3, "collation": {"locale": "en", "strength": 2}}');
RESET enable_seqscan;
SELECT run_command('ix', '{"find": "k", "filter": {"s": "APPLE"}, "collation": {"locale": "en", "strength": 2}, "projection": {"_id": 0, "s": 1}, "sort": {"s": 1}, "limit": 3}');
SELECT run_command('ix', '{"count": "k", "query": {"s": {"$in": ["apple", "ZEBRA"]}}, "collation": {"locale": "en", "strength": 2}}') AS via_index,
       run_command('ix', '{"count": "k_plain", "query": {"s": {"$in": ["apple", "ZEBRA"]}}, "collation": {"locale": "en", "strength": 2}}') AS via_scan;

-- a unique index with strength 2 refuses case variants (also of non-ASCII
-- strings, whose sort keys are printed in the key of the violation)
SELECT run_command('ix', '{"createIndexes": "uk", "indexes": [{"key": {"w": 1}, "name": "w_ci", "unique": true, "collation": {"locale": "de", "strength": 2}}]}');
SELECT run_command('ix', '{"insert": "uk", "documents": [{"_id": 1, "w": "Straße"}, {"_id": 2, "w": "Äpfel"}, {"_id": 3, "w": {"k": "ä"}}, {"_id": 4, "w": 4}]}');
SELECT r->'writeErrors'->0->>'code' AS code, r->'writeErrors'->0->'keyPattern' AS key_pattern
  FROM (SELECT run_command('ix', format('{"insert": "uk", "documents": [{"w": %s}]}', w)::bson) AS r
          FROM unnest(ARRAY['"straße"', '"äPFEL"', '{"k": "Ä"}', '4.0', '"Apfel"']) AS w) q;
SELECT r->'n' AS n, r->'writeErrors'->0->'index' AS failed, r->'writeErrors'->0->>'code' AS code
  FROM run_command('ix', '{"insert": "uk", "documents": [{"_id": 6, "w": {"k": "a"}}, {"_id": 7, "w": "APFEL"}]}') AS r;
SET enable_seqscan = off;
SELECT run_command('ix', '{"find": "uk", "filter": {"w": {"$in": ["ÄPFEL", {"k": "Ä"}]}}, "collation": {"locale": "de", "strength": 2}, "sort": {"_id": 1}}');
RESET enable_seqscan;

-- a collection's default collation is its indexes' and its queries'
SELECT run_command('ix', '{"create": "dc", "collation": {"locale": "en", "strength": 2}}');
SELECT run_command('ix', '{"createIndexes": "dc", "indexes": [{"key": {"a": 1}, "name": "a_1"}, {"key": {"b": 1}, "name": "b_simple", "collation": {"locale": "simple"}}]}');
SELECT jsonb_path_query_array((run_command('ix', '{"listIndexes": "dc"}')->'cursor'->'firstBatch')::text::jsonb,
                              '$[*] ? (@.name != "_id_").collation.strength') AS strengths;
INSERT INTO nosql_data."ix.dc"
SELECT bson_get_path(d, '_id'), d FROM (
  SELECT format('{"_id": %s, "a": "%s", "b": "%s"}', i, (ARRAY['x', 'X', 'y'])[1 + i % 3], (ARRAY['p', 'P'])[1 + i % 2])::bson AS d
    FROM generate_series(1, 300) AS i) s;
ANALYZE nosql_data."ix.dc";
SET enable_seqscan = off;
SELECT ix_cmd_explain('{"find": "dc", "filter": {"a": "X"}}');
SELECT ix_cmd_explain('{"find": "dc", "filter": {"a": "X"}, "collation": {"locale": "simple"}}');
SELECT ix_cmd_explain('{"find": "dc", "filter": {"b": "p"}, "collation": {"locale": "simple"}}');
SELECT ix_cmd_explain('{"find": "dc", "filter": {"b": "p"}}');
SELECT ix_cmd_explain('{"find": "dc", "sort": {"a": 1}, "limit": 2}');
SELECT run_command('ix', '{"count": "dc", "query": {"a": "X"}}') AS default_collation,
       run_command('ix', '{"count": "dc", "query": {"a": "X"}, "collation": {"locale": "simple"}}') AS simple,
       run_command('ix', '{"count": "dc", "query": {"b": "p"}, "collation": {"locale": "simple"}}') AS simple_index;
SELECT run_command('ix', '{"update": "dc", "updates": [{"q": {"a": "Y"}, "u": {"$set": {"c": 1}}, "multi": true}]}');
SELECT run_command('ix', '{"delete": "dc", "deletes": [{"q": {"a": "x", "b": "P"}, "limit": 0}]}');
RESET enable_seqscan;

-- randomized equivalence under collations: filters through run_command
-- with sequential scans off on the indexed collection, against the same
-- command on its unindexed copy (the matcher alone)
CREATE TABLE ix_kfilters (id serial, filter text, coll text);
SELECT setseed(0.23);
CREATE FUNCTION ix_kvalue() RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT CASE WHEN random() < 0.6 THEN ix_word()
              ELSE (ARRAY['3', '4.0', '7', '11', 'null', '{"x": "apple"}', '{"x": "APPLE"}', '"Ab"',
                          '{"$minKey": 1}', '{"$maxKey": 1}', '"key1"', '{"$symbol": "Apple"}'])[1 + floor(random() * 12)::int] END
$$;
CREATE FUNCTION ix_kcond() RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT CASE floor(random() * 11)::int
    WHEN 0 THEN ix_kvalue()
    WHEN 1 THEN format('{"$gt": %s}', ix_kvalue())
    WHEN 2 THEN format('{"$gte": %s, "$lt": %s}', ix_kvalue(), ix_kvalue())
    WHEN 3 THEN format('{"$lte": %s}', ix_kvalue())
    WHEN 4 THEN format('{"$in": [%s, %s, %s]}', ix_kvalue(), ix_kvalue(), ix_kvalue())
    WHEN 5 THEN format('{"$regex": "^%s"}', (ARRAY['a', 'A', 'App', 'b', 'é'])[1 + floor(random() * 5)::int])
    WHEN 6 THEN format('{"$ne": %s}', ix_kvalue())
    WHEN 7 THEN format('{"$eq": %s}', ix_kvalue())
    WHEN 8 THEN format('{"$gt": %s, "$lte": %s}', ix_kvalue(), ix_kvalue())
    WHEN 9 THEN format('{"$nin": [%s]}', ix_kvalue())
    ELSE format('{"$lt": %s}', ix_kvalue())
  END
$$;
CREATE FUNCTION ix_kpath() RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT (ARRAY['s', 's', 't', 'n', 'u', '_id', 's.x'])[1 + floor(random() * 7)::int]
$$;
INSERT INTO ix_kfilters (filter, coll)
SELECT CASE floor(random() * 4)::int
    WHEN 0 THEN format('{"%s": %s}', ix_kpath(), ix_kcond())
    WHEN 1 THEN format('{"%s": %s, "%s": %s}', ix_kpath(), ix_kcond(), ix_kpath(), ix_kcond())
    WHEN 2 THEN format('{"$or": [{"%s": %s}, {"%s": %s}]}', ix_kpath(), ix_kcond(), ix_kpath(), ix_kcond())
    ELSE format('{"t": %s, "n": %s}', ix_kcond(), ix_kcond())
  END,
  (ARRAY['{"locale": "en", "strength": 2}', '{"locale": "en", "strength": 1}', '{"locale": "simple"}',
         '{"locale": "en"}', '{"locale": "en", "strength": 2}', '{"locale": "en", "strength": 1}'])[1 + floor(random() * 6)::int]
FROM generate_series(1, 600);
CREATE TABLE ix_kresults (id int, via_index bigint, via_scan bigint, ids_equal boolean, error text);
CREATE FUNCTION ix_kids(reply bson) RETURNS text[] LANGUAGE sql AS $$
  SELECT coalesce(array_agg(e->>'_id' ORDER BY e->>'_id'), '{}')
    FROM jsonb_array_elements((reply->'cursor'->'firstBatch')::text::jsonb) AS e
$$;
DO $$
DECLARE
  f record;
  r_index bson;
  r_scan bson;
  n_index bigint;
BEGIN
  FOR f IN SELECT * FROM ix_kfilters ORDER BY id LOOP
    SET LOCAL enable_seqscan = off;
    n_index := (run_command('ix', format('{"count": "k", "query": %s, "collation": %s}', f.filter, f.coll)::bson)->>'n')::bigint;
    r_index := run_command('ix', format('{"find": "k", "filter": %s, "collation": %s, "projection": {"_id": 1}, "batchSize": 100000}', f.filter, f.coll)::bson);
    SET LOCAL enable_seqscan = on;
    r_scan := run_command('ix', format('{"find": "k_plain", "filter": %s, "collation": %s, "projection": {"_id": 1}, "batchSize": 100000}', f.filter, f.coll)::bson);
    IF (r_index->>'ok')::float <> 1 OR (r_scan->>'ok')::float <> 1 THEN
      INSERT INTO ix_kresults VALUES (f.id, NULL, NULL, NULL, r_index::text || ' ' || r_scan::text);
      CONTINUE;
    END IF;
    INSERT INTO ix_kresults VALUES (f.id, n_index, cardinality(ix_kids(r_scan)), ix_kids(r_index) = ix_kids(r_scan), NULL);
  END LOOP;
END $$;
SELECT count(*) AS filters,
       count(*) FILTER (WHERE error IS NOT NULL) AS errors,
       count(*) FILTER (WHERE via_index <> via_scan OR NOT ids_equal) AS mismatches,
       count(*) FILTER (WHERE via_scan > 0) AS matching_something
  FROM ix_kresults;
SELECT r.*, f.filter, f.coll FROM ix_kresults r JOIN ix_kfilters f USING (id)
 WHERE error IS NOT NULL OR via_index <> via_scan OR NOT ids_equal ORDER BY id LIMIT 10;

-- sorts read from a collated index order as the sort without one (ties
-- aside: the sequences of sort values are compared)
CREATE TABLE ix_ksorts (id int, same boolean);
CREATE FUNCTION ix_ksorted(reply bson, sort text, coll text) RETURNS text[] LANGUAGE sql AS $$
  SELECT array_agg(bson_sort_value(reply -> 'cursor' -> 'firstBatch' -> i, p, (sort::jsonb ->> p)::int < 0,
                                   coll::bson)::text
                   ORDER BY i, p)
    FROM generate_series(0, 6) AS i, jsonb_object_keys(sort::jsonb) AS p
   WHERE reply -> 'cursor' -> 'firstBatch' -> i IS NOT NULL
$$;
DO $$
DECLARE
  f record;
  sort text;
  cmd text;
  a text[];
BEGIN
  FOR f IN SELECT * FROM ix_kfilters WHERE id <= 150 ORDER BY id LOOP
    sort := (ARRAY['{"s": 1}', '{"s": -1}', '{"t": 1, "n": -1}', '{"t": -1, "n": 1}', '{"t": 1}'])[1 + f.id % 5];
    cmd := format('{"find": "%%s", "filter": %s, "sort": %s, "limit": 7, "collation": %s}',
                  CASE WHEN f.id % 2 = 0 THEN '{}' ELSE f.filter END, sort, f.coll);
    SET LOCAL enable_seqscan = off;
    a := ix_ksorted(run_command('ix', format(cmd, 'k')::bson), sort, f.coll);
    SET LOCAL enable_seqscan = on;
    INSERT INTO ix_ksorts
      VALUES (f.id, a IS NOT DISTINCT FROM ix_ksorted(run_command('ix', format(cmd, 'k_plain')::bson), sort, f.coll));
  END LOOP;
END $$;
SELECT count(*) AS sorts, count(*) FILTER (WHERE NOT same) AS mismatches FROM ix_ksorts;
DROP TABLE ix_kdocs, ix_kfilters, ix_kresults, ix_ksorts;
DROP FUNCTION ix_word(), ix_kvalue(), ix_kcond(), ix_kpath(), ix_kids(bson), ix_ksorted(bson, text, text),
  ix_cmd_explain(text);

SELECT run_command('ix', '{"dropIndexes": "c", "index": "*"}');
SELECT count(*) AS left_behind FROM pg_indexes
 WHERE schemaname = 'nosql_data' AND tablename = 'ix.c' AND indexname LIKE 'nosql_%';
SELECT run_command('ix', '{"dropDatabase": 1}');
DROP TABLE ix_filters, ix_results;
DROP FUNCTION ix_value(), ix_cond(), ix_path(), ix_explain(text);
