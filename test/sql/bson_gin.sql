-- GIN operator class nosql.bson_gin_ops: doc @@ filter through an index.
-- Every filter is counted twice, through the index (enable_seqscan off) and
-- by a sequential scan (index and bitmap scans off): the counts must agree,
-- whether the filter is indexable or scans the whole index.
SET search_path = public, nosql;
SET max_parallel_workers_per_gather = 0;

-- a few thousand documents: nested documents, arrays, every numeric type,
-- strings (some long), dates, booleans, nulls and missing fields
CREATE TABLE gin_docs (id int, doc bson);
INSERT INTO gin_docs
SELECT i, format('{%s "s": %s, "d": {"$date": {"$numberLong": "%s"}}, "b": %s, "tags": ["t%s", "t%s", %s], '
                 '"n": {"x": %s, "y": [{"z": %s}, {"z": %s, "w": "w%s"}]}, "m": %s, "arr": %s}',
    CASE
        WHEN i % 13 = 0 THEN ''
        WHEN i % 17 = 0 THEN '"a": null,'
        WHEN i % 4 = 0 THEN format('"a": %s,', i % 100)
        WHEN i % 4 = 1 THEN format('"a": {"$numberLong": "%s"},', i % 100)
        WHEN i % 4 = 2 THEN format('"a": %s.5,', i % 100)
        ELSE format('"a": {"$numberDecimal": "%s.00"},', i % 100)
    END,
    CASE WHEN i % 29 = 0 THEN format('"%s%s"', repeat('x', 200), i % 3)
         WHEN i % 31 = 0 THEN 'null'
         ELSE format('"str%s"', i % 50) END,
    1600000000000 + (i % 365) * 86400000::bigint,
    CASE WHEN i % 2 = 0 THEN 'true' ELSE 'false' END,
    i % 7, i % 11, i % 5,
    i % 10, i % 3, i % 4, i % 6,
    CASE WHEN i % 3 = 0 THEN '[]' WHEN i % 3 = 1 THEN '{"k": [1, 2]}' ELSE '[1, [2, 3]]' END,
    CASE WHEN i % 5 = 0 THEN '[[1, 2], [3]]' WHEN i % 5 = 1 THEN '[1, 2]' ELSE format('[%s, %s.0]', i % 3, i % 6) END
)::bson
FROM generate_series(1, 3000) AS i;
INSERT INTO gin_docs VALUES (0, '[1, 2, 3]'), (-1, '{}'),
  (-2, '{"a": {"$numberDouble": "NaN"}}'), (-3, '{"a": {"$numberDouble": "-Infinity"}}'),
  (-4, '{"a": {"$numberLong": "9007199254740993"}}'), (-5, '{"a": -0.0}');

CREATE INDEX gin_docs_doc ON gin_docs USING gin (doc nosql.bson_gin_ops);
ANALYZE gin_docs;

CREATE TABLE gin_filters (id serial, filter bson);
INSERT INTO gin_filters (filter) VALUES
  ('{"a": 5}'), ('{"a": 5.5}'), ('{"a": {"$numberLong": "6"}}'), ('{"a": {"$numberDecimal": "7.0"}}'),
  ('{"a": {"$gt": 90}}'), ('{"a": {"$gte": 90.5}}'), ('{"a": {"$lt": 3}}'), ('{"a": {"$lte": {"$numberDecimal": "2.5"}}}'),
  ('{"a": {"$gt": 10, "$lt": 12}}'), ('{"a": {"$gt": -1e308}}'), ('{"a": {"$lt": {"$numberDouble": "NaN"}}}'),
  ('{"a": {"$gte": {"$numberDouble": "NaN"}}}'), ('{"a": {"$lt": 0}}'), ('{"a": 0}'),
  ('{"a": {"$numberLong": "9007199254740992"}}'), ('{"a": {"$gt": {"$numberLong": "9007199254740992"}}}'),
  ('{"a": {"$in": [1, 2.5, {"$numberLong": "3"}]}}'), ('{"a": {"$in": []}}'), ('{"a": {"$in": [1, null]}}'),
  ('{"a": null}'), ('{"a": {"$exists": true}}'), ('{"a": {"$exists": false}}'), ('{"a": {"$ne": 5}}'),
  ('{"a": {"$nin": [1, 2]}}'), ('{"a": {"$not": {"$gt": 5}}}'), ('{"a": {"$type": "decimal"}}'),
  ('{"a": {"$gt": "a"}}'), ('{"s": "str7"}'), ('{"s": {"$gt": "str45"}}'), ('{"s": {"$lt": "str10"}}'),
  ('{"s": {"$gte": "xxxx"}}'), ('{"s": {"$regex": "^str1"}}'), ('{"s": null}'),
  ('{"s": {"$gt": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1"}}'),
  ('{"s": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx2"}'),
  ('{"d": {"$gte": {"$date": {"$numberLong": "1610000000000"}}}}'), ('{"d": {"$lt": {"$date": {"$numberLong": "1601000000000"}}}}'),
  ('{"d": {"$date": {"$numberLong": "1600086400000"}}}'), ('{"b": true}'), ('{"b": {"$gt": false}}'),
  ('{"tags": "t3"}'), ('{"tags": 4}'), ('{"tags": {"$all": ["t1", "t2"]}}'), ('{"tags": {"$all": []}}'),
  ('{"tags": {"$size": 3}}'), ('{"tags": {"$elemMatch": {"$gte": 3, "$lt": 4}}}'),
  ('{"tags.0": "t1"}'), ('{"n.x": 3}'), ('{"n.y.z": 2}'), ('{"n.y.w": "w5"}'), ('{"n.y.z": {"$gt": 2}}'),
  ('{"n.y": {"$elemMatch": {"z": 1, "w": "w1"}}}'), ('{"n.y": {"$elemMatch": {"z": {"$ne": 1}}}}'),
  ('{"n": {"x": 3, "y": [{"z": 0}, {"z": 3, "w": "w3"}]}}'), ('{"n.y": {"z": 1}}'),
  ('{"m": []}'), ('{"m": [1, 2]}'), ('{"m.k": 2}'), ('{"m": 2}'), ('{"m": [2, 3]}'), ('{"m": {"$exists": true}}'),
  ('{"arr": [1, 2]}'), ('{"arr": 2}'), ('{"arr": [3]}'), ('{"arr": {"$elemMatch": {"$elemMatch": {"$eq": 3}}}}'),
  ('{"arr": {"$all": [[1, 2], [3]]}}'), ('{"arr": {"$gt": 4}}'),
  ('{"$or": [{"a": 5}, {"s": "str9"}]}'), ('{"$or": [{"a": 5}, {"s": {"$regex": "9$"}}]}'),
  ('{"$and": [{"a": {"$gt": 5}}, {"a": {"$lt": 8}}, {"b": true}]}'), ('{"$nor": [{"a": 5}]}'),
  ('{"a": {"$gt": 50}, "s": {"$ne": "str1"}}'), ('{"$or": [{"$and": [{"a": 1}, {"b": true}]}, {"tags": {"$in": ["t6", "t10"]}}]}'),
  ('{"$alwaysFalse": 1}'), ('{"$alwaysTrue": 1}'), ('{}'), ('{"missing.path": {"$exists": true}}');

-- some plans: indexable filters use a bitmap scan of the index
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM gin_docs WHERE doc @@ '{"a": 5}';
EXPLAIN (COSTS OFF) SELECT count(*) FROM gin_docs WHERE doc @@ '{"a": {"$gt": 90}}';
EXPLAIN (COSTS OFF) SELECT count(*) FROM gin_docs WHERE doc @@ '{"$or": [{"a": 5}, {"s": "str9"}]}';
EXPLAIN (COSTS OFF) SELECT count(*) FROM gin_docs WHERE doc @@ '{"n.y": {"$elemMatch": {"z": 1, "w": "w1"}}}';
RESET enable_seqscan;

-- count a filter both ways
CREATE FUNCTION gin_count(f bson, use_index boolean) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM set_config('enable_seqscan', CASE WHEN use_index THEN 'off' ELSE 'on' END, true);
    PERFORM set_config('enable_indexscan', CASE WHEN use_index THEN 'on' ELSE 'off' END, true);
    PERFORM set_config('enable_bitmapscan', CASE WHEN use_index THEN 'on' ELSE 'off' END, true);
    EXECUTE 'SELECT count(*) FROM gin_docs WHERE doc @@ $1' INTO n USING f;
    RETURN n;
END
$$;

-- whether the plan of a filter scans the index
CREATE FUNCTION gin_uses_index(f bson) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    PERFORM set_config('enable_seqscan', 'off', true);
    PERFORM set_config('enable_indexscan', 'on', true);
    PERFORM set_config('enable_bitmapscan', 'on', true);
    FOR line IN EXECUTE format('EXPLAIN (COSTS OFF) SELECT count(*) FROM gin_docs WHERE doc @@ %L', f::text)
    LOOP
        IF line LIKE '%Bitmap Index Scan on gin_docs_%' THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END
$$;

-- the rows the index returns for a filter (the recheck keeps the matches):
-- all of them (3006) when the filter has nothing indexable
CREATE FUNCTION gin_candidates(f bson) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    plan jsonb;
BEGIN
    PERFORM set_config('enable_seqscan', 'off', true);
    PERFORM set_config('enable_indexscan', 'on', true);
    PERFORM set_config('enable_bitmapscan', 'on', true);
    EXECUTE format('EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF, FORMAT JSON) '
                   'SELECT count(*) FROM gin_docs WHERE doc @@ %L', f::text) INTO plan;
    RETURN jsonb_path_query_first(plan, 'lax $.**?(@."Node Type" == "Bitmap Index Scan")."Actual Rows"');
END
$$;

SELECT id, left(filter::text, 60) AS filter, gin_count(filter, true) AS by_index, gin_count(filter, false) AS by_scan,
       gin_candidates(filter) AS candidates
  FROM gin_filters ORDER BY id;
SELECT count(*) AS filters, count(*) FILTER (WHERE gin_count(filter, true) = gin_count(filter, false)) AS agree
  FROM gin_filters;

-- randomized: filters built from paths, operators and values at random
SELECT setseed(0.42);
CREATE TABLE gin_random (id serial, filter bson);
CREATE FUNCTION gin_random_leaf() RETURNS text
LANGUAGE sql AS $$
    SELECT format('{"%s": %s}',
        (ARRAY['a', 's', 'd', 'b', 'tags', 'n.x', 'n.y.z', 'n.y.w', 'm', 'm.k', 'arr'])[1 + floor(random() * 11)::int],
        format((ARRAY['%s', '{"$gt": %s}', '{"$gte": %s}', '{"$lt": %s}', '{"$lte": %s}', '{"$in": [%s, 3]}',
                      '{"$ne": %s}', '{"$exists": true}', '{"$elemMatch": {"$gt": %s}}', '{"$all": [%s]}',
                      '{"$gt": %s, "$lt": 40}'])[1 + floor(random() * 11)::int],
               (ARRAY['1', '2.5', '{"$numberLong": "40"}', '{"$numberDecimal": "7"}', '"str3"', '"t4"', 'true',
                      '"w2"', '{"$date": {"$numberLong": "1605000000000"}}', '[1, 2]', '[]', '2', '0', '"str"'])[1 + floor(random() * 14)::int]));
$$;
INSERT INTO gin_random (filter)
SELECT (CASE floor(random() * 4)::int
            WHEN 0 THEN gin_random_leaf()
            WHEN 1 THEN format('{"$and": [%s, %s]}', gin_random_leaf(), gin_random_leaf())
            WHEN 2 THEN format('{"$or": [%s, %s]}', gin_random_leaf(), gin_random_leaf())
            ELSE format('{"$or": [{"$and": [%s, %s]}, %s]}', gin_random_leaf(), gin_random_leaf(), gin_random_leaf())
        END)::bson
  FROM generate_series(1, 300);
SELECT count(*) AS filters,
       count(*) FILTER (WHERE gin_count(filter, true) = gin_count(filter, false)) AS agree,
       count(*) FILTER (WHERE gin_uses_index(filter)) > 0 AS some_use_index
  FROM gin_random;
-- any disagreement, in full
SELECT id, filter, gin_count(filter, true) AS by_index, gin_count(filter, false) AS by_scan
  FROM gin_random WHERE gin_count(filter, true) <> gin_count(filter, false) ORDER BY id;

-- a path-restricted index (option paths, blanks around a path ignored):
-- keys only for the listed paths, reached through nested documents and
-- arrays; a condition on another path is not indexable (an AND answers its
-- other conditions, an OR with such a branch cannot use the index)
DROP INDEX gin_docs_doc;
CREATE INDEX gin_docs_paths ON gin_docs USING gin (doc nosql.bson_gin_ops(paths = 'a, s,tags,n.y.z,arr'));
SELECT pg_get_indexdef('gin_docs_paths'::regclass);
ANALYZE gin_docs;
-- the planner's own choice: the index for its paths, a sequential scan otherwise
EXPLAIN (COSTS OFF) SELECT count(*) FROM gin_docs WHERE doc @@ '{"a": 5}';
EXPLAIN (COSTS OFF) SELECT count(*) FROM gin_docs WHERE doc @@ '{"n.y.z": {"$gt": 2}, "s": "str7"}';
EXPLAIN (COSTS OFF) SELECT count(*) FROM gin_docs WHERE doc @@ '{"a": 5, "n.x": 3}';
EXPLAIN (COSTS OFF) SELECT count(*) FROM gin_docs WHERE doc @@ '{"n.y": {"$elemMatch": {"z": 1, "w": "w1"}}}';
EXPLAIN (COSTS OFF) SELECT count(*) FROM gin_docs WHERE doc @@ '{"n.x": 3}';
EXPLAIN (COSTS OFF) SELECT count(*) FROM gin_docs WHERE doc @@ '{"d": {"$date": {"$numberLong": "1600086400000"}}}';
EXPLAIN (COSTS OFF) SELECT count(*) FROM gin_docs WHERE doc @@ '{"$or": [{"a": 5}, {"n.y.w": "w5"}]}';
EXPLAIN (COSTS OFF) SELECT count(*) FROM gin_docs WHERE doc @@ '{"n": {"x": 3, "y": [{"z": 0}, {"z": 3, "w": "w3"}]}}';
-- the same filters through the restricted index: the counts still agree;
-- candidates are every row (3006) for the filters it cannot narrow
SELECT id, left(filter::text, 60) AS filter, gin_count(filter, true) AS by_index, gin_count(filter, false) AS by_scan,
       gin_candidates(filter) AS candidates
  FROM gin_filters ORDER BY id;
SELECT count(*) AS filters, count(*) FILTER (WHERE gin_count(filter, true) = gin_count(filter, false)) AS agree
  FROM gin_filters;
SELECT count(*) AS filters,
       count(*) FILTER (WHERE gin_count(filter, true) = gin_count(filter, false)) AS agree,
       count(*) FILTER (WHERE gin_uses_index(filter)) > 0 AS some_use_index
  FROM gin_random;
SELECT id, filter, gin_count(filter, true) AS by_index, gin_count(filter, false) AS by_scan
  FROM gin_random WHERE gin_count(filter, true) <> gin_count(filter, false) ORDER BY id;

-- a subtree entry: "n.$**" lists n and every path below it (the GIN of
-- MongoDB's wildcard index n.$**), here beside the plain path a
DROP INDEX gin_docs_paths;
CREATE INDEX gin_docs_subtree ON gin_docs USING gin (doc nosql.bson_gin_ops(paths = 'n.$**, a'));
ANALYZE gin_docs;
EXPLAIN (COSTS OFF) SELECT count(*) FROM gin_docs WHERE doc @@ '{"n.x": 3}';
EXPLAIN (COSTS OFF) SELECT count(*) FROM gin_docs WHERE doc @@ '{"n.y.w": "w5"}';
EXPLAIN (COSTS OFF) SELECT count(*) FROM gin_docs WHERE doc @@ '{"n": {"$exists": true}, "a": 5}';
EXPLAIN (COSTS OFF) SELECT count(*) FROM gin_docs WHERE doc @@ '{"s": "str7"}';
SELECT count(*) AS filters, count(*) FILTER (WHERE gin_count(filter, true) = gin_count(filter, false)) AS agree
  FROM gin_filters;
SELECT count(*) AS filters,
       count(*) FILTER (WHERE gin_count(filter, true) = gin_count(filter, false)) AS agree,
       count(*) FILTER (WHERE gin_uses_index(filter)) > 0 AS some_use_index
  FROM gin_random;
SELECT id, filter, gin_count(filter, true) AS by_index, gin_count(filter, false) AS by_scan
  FROM gin_random WHERE gin_count(filter, true) <> gin_count(filter, false) ORDER BY id;
-- "$**" alone is every path
CREATE INDEX gin_docs_all ON gin_docs USING gin (doc nosql.bson_gin_ops(paths = '$**'));
SELECT gin_count('{"s": "str7"}', true) = gin_count('{"s": "str7"}', false) AS agree;
DROP INDEX gin_docs_all;
DROP INDEX gin_docs_subtree;
CREATE INDEX gin_docs_paths ON gin_docs USING gin (doc nosql.bson_gin_ops(paths = 'a, s,tags,n.y.z,arr'));

-- errors: invalid paths
CREATE INDEX ON gin_docs USING gin (doc nosql.bson_gin_ops(paths = 'a.$**.b'));
CREATE INDEX ON gin_docs USING gin (doc nosql.bson_gin_ops(paths = '.$**'));
CREATE INDEX ON gin_docs USING gin (doc nosql.bson_gin_ops(paths = 'a,,b'));
CREATE INDEX ON gin_docs USING gin (doc nosql.bson_gin_ops(paths = ''));
CREATE INDEX ON gin_docs USING gin (doc nosql.bson_gin_ops(paths = 'a.'));
CREATE INDEX ON gin_docs USING gin (doc nosql.bson_gin_ops(paths = '.a'));
CREATE INDEX ON gin_docs USING gin (doc nosql.bson_gin_ops(paths = 'a..b'));
CREATE INDEX ON gin_docs USING gin (doc nosql.bson_gin_ops(paths = 'a.$b'));
CREATE INDEX ON gin_docs USING gin (doc nosql.bson_gin_ops(paths = '$or'));
CREATE INDEX ON gin_docs USING gin (doc nosql.bson_gin_ops(path = 'a'));

-- the index is also used for the whole-index scan of unindexable filters,
-- and stays correct after updates and deletes
UPDATE gin_docs SET doc = '{"a": 12345, "tags": ["new"]}' WHERE id % 100 = 1;
DELETE FROM gin_docs WHERE id % 100 = 2;
SELECT gin_count('{"a": 12345}', true) AS by_index, gin_count('{"a": 12345}', false) AS by_scan;
SELECT gin_count('{"tags": "new"}', true) AS by_index, gin_count('{"tags": {"$ne": "new"}}', true) AS ne_by_index,
       gin_count('{"tags": {"$ne": "new"}}', false) AS ne_by_scan;

-- errors: an invalid filter fails as in a scan
SET enable_seqscan = off;
SELECT count(*) FROM gin_docs WHERE doc @@ '{"a": {"$bad": 1}}';
RESET enable_seqscan;

DROP TABLE gin_docs, gin_filters, gin_random;
DROP FUNCTION gin_count(bson, boolean), gin_uses_index(bson), gin_candidates(bson), gin_random_leaf();
