-- Plan cache commands through nosql.run_command: planCacheClear (frees the
-- backend's saved plans), planCacheSetFilter (checked, nothing recorded),
-- planCacheClearFilters, planCacheListFilters, and their errors.
SET search_path = public, nosql;

CREATE FUNCTION cmd(db text, c text) RETURNS bson
    LANGUAGE sql AS $$ SELECT nosql.run_command(db, c::bson) $$;

SELECT cmd('pc', '{"insert": "c", "documents": [{"_id": 1, "a": 1}]}');
SELECT cmd('pc', '{"find": "c", "filter": {"_id": 1}}');
-- clear: all shapes, one shape, a missing collection (nothing checked)
SELECT cmd('pc', '{"planCacheClear": "c"}');
SELECT cmd('pc', '{"planCacheClear": "c", "query": {"a": 1}, "sort": {"a": 1}, "collation": {"locale": "fr"}, "comment": 1}');
SELECT cmd('pc', '{"planCacheClear": "missing", "query": 5, "sort": "x"}');
SELECT cmd('pc', '{"find": "c", "filter": {"_id": 1}}');
-- clear errors: the collection name, a shape without query, a bad query
SELECT cmd('pc', '{"planCacheClear": 1}');
SELECT cmd('pc', '{"planCacheClear": "c", "sort": {"a": 1}}');
SELECT cmd('pc', '{"planCacheClear": "c", "query": {"$bad": 1}}');
-- set a filter: accepted after the checks
SELECT cmd('pc', '{"planCacheSetFilter": "c", "query": {"a": 1}, "indexes": [{"a": 1}, "a_1"], "unknown": 1}');
SELECT cmd('pc', '{"planCacheSetFilter": "c", "query": [], "projection": [], "indexes": [{"a": 1}]}');
-- set errors: missing collection, indexes, query, sort, collation
SELECT cmd('pc', '{"planCacheSetFilter": "missing", "query": {"a": 1}, "indexes": [{"a": 1}]}');
SELECT cmd('pc', '{"planCacheSetFilter": "c", "query": {"a": 1}}');
SELECT cmd('pc', '{"planCacheSetFilter": "c", "query": {"a": 1}, "indexes": []}');
SELECT cmd('pc', '{"planCacheSetFilter": "c", "query": {"a": 1}, "indexes": [1]}');
SELECT cmd('pc', '{"planCacheSetFilter": "c", "query": {"a": 1}, "indexes": [{}]}');
SELECT cmd('pc', '{"planCacheSetFilter": "c", "query": null, "indexes": [{"a": 1}]}');
SELECT cmd('pc', '{"planCacheSetFilter": "c", "query": {"a": 1}, "sort": 1, "indexes": [{"a": 1}]}');
SELECT cmd('pc', '{"planCacheSetFilter": "c", "query": {"a": 1}, "collation": {}, "indexes": [{"a": 1}]}');
SELECT cmd('pc', '{"planCacheSetFilter": "c", "query": {"a": 1}, "collation": {"strength": 1}, "indexes": [{"a": 1}]}');
-- filters: none are kept
SELECT cmd('pc', '{"planCacheListFilters": "c"}');
SELECT cmd('pc', '{"planCacheClearFilters": "c"}');
SELECT cmd('pc', '{"planCacheClearFilters": "c", "projection": {"a": 1}}');

SELECT cmd('pc', '{"dropDatabase": 1}');
DROP FUNCTION cmd(text, text);
