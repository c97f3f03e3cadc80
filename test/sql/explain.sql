-- explain through nosql.run_command: MongoDB 8's plan shapes read from
-- PostgreSQL's plan of the same query, execution statistics from EXPLAIN
-- ANALYZE, and the errors.  Timings, hashes and the PostgreSQL plan vary,
-- so xp() shows the reply without them.
SET search_path = public, nosql;

CREATE FUNCTION cmd(db text, c text) RETURNS bson
    LANGUAGE sql AS $$ SELECT nosql.run_command(db, c::bson) $$;

-- a reply as jsonb without the fields that vary from run to run
CREATE FUNCTION strip(j jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT CASE jsonb_typeof(j)
        WHEN 'object' THEN (SELECT coalesce(jsonb_object_agg(k, strip(v)), '{}')
                              FROM jsonb_each(j) AS e(k, v)
                             WHERE k NOT IN ('executionTimeMillisEstimate', 'executionTimeMillis',
                                             'optimizationTimeMillis', 'queryHash',
                                             'planCacheShapeHash', 'planCacheKey',
                                             'serverInfo', 'serverParameters', 'postgres'))
        WHEN 'array' THEN (SELECT coalesce(jsonb_agg(strip(v) ORDER BY n), '[]')
                             FROM jsonb_array_elements(j) WITH ORDINALITY AS a(v, n))
        ELSE j END $$;

CREATE FUNCTION xp(c text, part text DEFAULT NULL) RETURNS text LANGUAGE sql AS $$
    SELECT jsonb_pretty(strip(CASE WHEN part IS NULL THEN r::jsonb ELSE (r -> part)::jsonb END))
      FROM cmd('ex', c) AS r $$;

-- the winning plan only
CREATE FUNCTION wp(c text) RETURNS text LANGUAGE sql AS $$
    SELECT jsonb_pretty(strip((cmd('ex', c) -> 'queryPlanner' -> 'winningPlan')::jsonb)) $$;

SELECT cmd('ex', '{"insert": "c", "documents": [{"_id": 1, "a": 5, "b": "x"}, {"_id": 2, "a": 6}, {"_id": 3, "a": 7}, {"_id": 4, "a": [5, 8]}]}');

-- a collection scan: the whole reply, queryPlanner only
SELECT xp('{"explain": {"find": "c", "filter": {"a": 5, "b": {"$exists": true}}}, "verbosity": "queryPlanner"}');
-- executionStats: docs examined are the rows the scan read
SELECT xp('{"explain": {"find": "c", "filter": {"a": 5}}, "verbosity": "executionStats"}', 'executionStats');
-- allPlansExecution (the default) adds the other plans' statistics: none
SELECT xp('{"explain": {"find": "c", "filter": {"a": 7}}}', 'executionStats') ~ 'allPlansExecution';
-- skip, limit, projection; the natural order backward
SELECT wp('{"explain": {"find": "c", "filter": {}, "projection": {"a": 1}, "skip": 1, "limit": 2}}');
SELECT wp('{"explain": {"find": "c", "sort": {"$natural": -1}}}');
-- a sort with a limit keeps the top skip + limit
SELECT wp('{"explain": {"find": "c", "sort": {"a": -1}, "skip": 1, "limit": 2}}');
SELECT wp('{"explain": {"find": "c", "sort": {"a": 1, "_id": -1}}}');
-- the command echoed with its database, the PostgreSQL plan beside
SELECT cmd('ex', '{"explain": {"find": "c", "filter": {"a": 5}}}') -> 'command';
SELECT cmd('ex', '{"explain": {"find": "c", "filter": {"a": 5}}}') -> 'postgres' ->> 'query';
SELECT (cmd('ex', '{"explain": {"find": "c"}}') -> 'postgres' -> 'plan' -> 'Plan' ->> 'Node Type');
SELECT cmd('ex', '{"explain": {"find": "c"}}') -> 'serverInfo' ->> 'version';

-- the query shape's hash: 8 hex digits, the same for other values
SELECT cmd('ex', '{"explain": {"find": "c", "filter": {"a": 5}}}') -> 'queryPlanner' ->> 'queryHash' ~ '^[0-9A-F]{8}$';
SELECT (cmd('ex', '{"explain": {"find": "c", "filter": {"a": 5}}}') -> 'queryPlanner' ->> 'queryHash') =
       (cmd('ex', '{"explain": {"find": "c", "filter": {"a": 6}}}') -> 'queryPlanner' ->> 'queryHash') AS same_shape,
       (cmd('ex', '{"explain": {"find": "c", "filter": {"a": 5}}}') -> 'queryPlanner' ->> 'queryHash') =
       (cmd('ex', '{"explain": {"find": "c", "filter": {"b": 5}}}') -> 'queryPlanner' ->> 'queryHash') AS other_shape;

-- indexes: the primary key is _id_, a spec's GIN index its MongoDB name;
-- (the planner does not estimate the selectivity of @@ yet: seq scans off)
SELECT cmd('ex', '{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "a_1"}, {"key": {"b": -1}, "name": "by_b"}]}');
SELECT cmd('ex', json_build_object('insert', 'c', 'documents',
           json_agg(json_build_object('_id', i, 'a', i % 100, 'b', 's' || i)))::text)
  FROM generate_series(10, 1009) AS i;
ANALYZE nosql_data."ex.c";
SET enable_seqscan = off;
SELECT wp('{"explain": {"find": "c", "filter": {"_id": 20}}}');
SELECT wp('{"explain": {"count": "c", "query": {"_id": 20}}}');
SELECT wp('{"explain": {"find": "c", "filter": {"a": {"$gte": 6, "$lt": 7}}}}');
SELECT xp('{"explain": {"find": "c", "filter": {"a": {"$in": [5, 7]}}}, "verbosity": "executionStats"}', 'executionStats');
SELECT wp('{"explain": {"find": "c", "filter": {"b": {"$gt": "s999"}}, "sort": {"a": 1}}}');
SELECT wp('{"explain": {"find": "c", "filter": {"$or": [{"a": 6}, {"b": "s11"}]}}}');
-- PostgreSQL's EXPLAIN shows the same index at work
DO $$
DECLARE
    line text;
BEGIN
    FOR line IN EXPLAIN (COSTS OFF) SELECT document FROM nosql_data."ex.c" WHERE document OPERATOR(nosql.@@) '{"a": 5}'
    LOOP
        RAISE NOTICE '%', regexp_replace(line, 'nosql_ix_[0-9]+_[0-9a-f]{8}(_[a-z])?[0-9a-f]*', 'nosql_ix_<oid>_<hash>\1');
    END LOOP;
END $$;
RESET enable_seqscan;

-- count: of everything, of a filter, with skip and limit
SELECT xp('{"explain": {"count": "c"}, "verbosity": "executionStats"}', 'executionStats');
SELECT xp('{"explain": {"count": "c", "query": {"a": 5}, "skip": 1, "limit": 5}, "verbosity": "executionStats"}', 'executionStats');
SELECT wp('{"explain": {"distinct": "c", "key": "a", "query": {"a": {"$ne": 6}}}}');

-- writes are explained, not done
SELECT xp('{"explain": {"update": "c", "updates": [{"q": {"a": 6, "_id": {"$lt": 10}}, "u": {"$set": {"z": 1}}, "upsert": true}]}, "verbosity": "executionStats"}', 'executionStats');
SELECT wp('{"explain": {"update": "c", "updates": [{"q": {"a": 60}, "u": {"$set": {"z": 1}}, "multi": true}]}}');
-- nWouldModify: setting a field to the value it has modifies nothing
SELECT cmd('ex', '{"explain": {"update": "c", "updates": [{"q": {"_id": {"$lt": 10}}, "u": {"$set": {"a": 6}}, "multi": true}]}, "verbosity": "executionStats"}') -> 'executionStats' -> 'executionStages' -> 'nWouldModify';
SELECT cmd('ex', '{"explain": {"findAndModify": "c", "query": {"_id": 2}, "update": {"$set": {"a": 6}}}, "verbosity": "executionStats"}') -> 'executionStats' -> 'executionStages' -> 'nWouldModify';
SELECT xp('{"explain": {"delete": "c", "deletes": [{"q": {"_id": {"$lt": 10}, "a": {"$gte": 6}}, "limit": 0}]}, "verbosity": "executionStats"}', 'executionStats');
SELECT wp('{"explain": {"findAndModify": "c", "query": {"a": 6}, "sort": {"_id": 1}, "update": {"$inc": {"a": 1}}}}');
SELECT wp('{"explain": {"findAndModify": "c", "query": {"a": 6}, "remove": true}}');
SELECT cmd('ex', '{"find": "c", "filter": {"_id": {"$lt": 10}}, "sort": {"_id": 1}}') -> 'cursor' -> 'firstBatch';
SELECT cmd('ex', '{"count": "c", "query": {"z": {"$exists": true}}}');
SELECT cmd('ex', '{"count": "c"}');

-- a collection that does not exist: EOF
SELECT xp('{"explain": {"find": "missing", "filter": {"a": 1}}, "verbosity": "executionStats"}');
SELECT wp('{"explain": {"delete": "missing", "deletes": [{"q": {}, "limit": 1}]}}');
SELECT cmd('ex', '{"listCollections": 1, "filter": {"name": "missing"}}') -> 'cursor' -> 'firstBatch';

-- errors: the explain field, verbosity, unknown fields, the commands
SELECT cmd('ex', '{"explain": null}');
SELECT cmd('ex', '{"explain": "find"}');
SELECT cmd('ex', '{"explain": {}}');
SELECT cmd('ex', '{"explain": {"find": "c"}, "verbosity": true}');
SELECT cmd('ex', '{"explain": {"find": "c"}, "verbosity": "everything"}');
SELECT cmd('ex', '{"explain": {"find": "c"}, "unknown": 1}');
SELECT cmd('ex', '{"explain": {"find": "c", "unknown": 1}}');
SELECT cmd('ex', '{"explain": {"find": "c", "filter": {"$bad": 1}}}');
SELECT cmd('ex', '{"explain": {"find": "missing", "filter": {"a": {"$bad": 1}}}}');
SELECT cmd('ex', '{"explain": {"find": "c", "hint": "nope"}}');
SELECT cmd('ex', '{"explain": {"find": 5}}');
SELECT cmd('ex', '{"explain": {"insert": "c", "documents": [{"_id": 9}]}}');
SELECT cmd('ex', '{"explain": {"frobnicate": "c"}}');
SELECT cmd('ex', '{"explain": {"aggregate": "c", "pipeline": []}}');
SELECT cmd('ex', '{"explain": {"update": "c", "updates": [{"q": {}, "u": {"$set": {"a": 1}}}, {"q": {}, "u": {"$set": {"a": 2}}}]}}');
SELECT cmd('ex', '{"explain": {"update": "c", "updates": [{"q": {}, "u": {"$bad": {"a": 1}}}]}}');
SELECT cmd('ex', '{"explain": {"delete": "c", "deletes": [{"q": {}}]}}');
SELECT cmd('ex', '{"explain": {"distinct": "c"}}');
SELECT cmd('ex', '{"explain": {"findAndModify": "c", "query": {}}}');
-- $near is answered by a geospatial index only: hinting another fails
SET client_min_messages = warning;
SELECT cmd('ex', '{"createIndexes": "c", "indexes": [{"key": {"loc": "2dsphere"}, "name": "loc_2dsphere"}]}');
RESET client_min_messages;
SELECT cmd('ex', '{"explain": {"find": "c", "filter": {"loc": {"$nearSphere": {"$geometry": {"type": "Point", "coordinates": [0, 0]}}}}, "hint": {"a": 1}}}');
SELECT cmd('ex', '{"explain": {"find": "c", "filter": {"loc": {"$nearSphere": {"$geometry": {"type": "Point", "coordinates": [0, 0]}}}}, "hint": "loc_2dsphere"}}') -> 'ok';

-- {explain: {aggregate}}: the aggregate's explain (no cursor needed), its
-- query run under EXPLAIN ANALYZE beyond queryPlanner
SELECT cmd('ex', '{"explain": {"aggregate": "c", "pipeline": [{"$match": {"a": {"$gt": 5}}}, {"$group": {"_id": null, "n": {"$sum": 1}}}]}, "verbosity": "queryPlanner"}')::jsonb->'postgres'->'plan';
SELECT cmd('ex', '{"explain": {"aggregate": "c", "pipeline": [{"$match": {"a": {"$gt": 5}}}]}, "verbosity": "executionStats"}')::jsonb->'postgres'->'plan'->>0;
SELECT cmd('ex', '{"explain": {"aggregate": "c", "pipeline": [], "explain": true}}');
SELECT cmd('ex', '{"explain": {"aggregate": "c", "pipeline": {}}}');
SELECT cmd('ex', '{"dropDatabase": 1}');
DROP FUNCTION wp(text);
DROP FUNCTION xp(text, text);
DROP FUNCTION strip(jsonb);
DROP FUNCTION cmd(text, text);
