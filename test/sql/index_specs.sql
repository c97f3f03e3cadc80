-- Index specifications: createIndexes' validation with MongoDB's codes,
-- the index signature (which specs are the same index), the recorded form
-- of specs (listIndexes), dropIndexes by name, list and key pattern.
SET search_path = public, nosql;
-- (IndexSync notes the PostgreSQL indexes it keeps)
SET client_min_messages = warning;

-- the error code of a command, or its reply when it succeeds
CREATE FUNCTION ix(c text) RETURNS text
    LANGUAGE sql AS $$
    SELECT CASE WHEN r->>'code' IS NOT NULL THEN (r->>'code') || ' ' || (r->>'codeName')
                ELSE r::text END
      FROM (SELECT nosql.run_command('ix', c::bson) AS r) s $$;

-- field names and types
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "a_1", "bogus": true}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "a_1", "bogus": true}], "ignoreUnknownIndexOptions": true}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "x", "unique": "yes"}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "x", "hidden": 1}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "x", "partialFilterExpression": 1}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "x", "v": 3}]}');
-- key patterns
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {}, "name": "x"}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a..b": 1}, "name": "x"}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"$a": 1}, "name": "x"}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": "btree"}, "name": "x"}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": "text", "b": "2dsphere"}, "name": "x"}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": "hashed", "b": "hashed"}, "name": "x"}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": "hashed"}, "name": "x", "unique": true}]}');
-- the _id index and reserved names
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"_id": 1}, "name": "_id_", "hidden": true}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"_id": -1}, "name": "x"}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "_id_"}]}');
-- TTL
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "x", "expireAfterSeconds": "1"}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "x", "expireAfterSeconds": -1}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1, "b": 1}, "name": "x", "expireAfterSeconds": 60}]}');
-- partial filters: allowed operators, sparse
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "x", "partialFilterExpression": {"a": {"$ne": 1}}}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "x", "partialFilterExpression": {"a": {"$exists": false}}}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "x", "partialFilterExpression": {"$expr": {"$gt": ["$a", 1]}}}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "x", "partialFilterExpression": {"a": {"$gt": 1}}, "sparse": true}]}');
-- wildcard indexes and projections
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"$**": 1}, "name": "x", "unique": true}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"$**": 1, "a": 1}, "name": "x"}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "x", "wildcardProjection": {"a": 1}}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a.$**": 1}, "name": "x", "wildcardProjection": {"b": 1}}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"$**": 1}, "name": "x", "wildcardProjection": {"a": 1, "b": 0}}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"$**": 1}, "name": "x", "wildcardProjection": {"a": 1, "a.b": 1}}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1, "$**": 1}, "name": "x", "wildcardProjection": {"b": 0}}]}');
-- text, 2d and 2dsphere options
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": "text"}, "name": "x", "weights": {"a": -1}}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": "text"}, "name": "x", "language_override": 1}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": "text"}, "name": "x", "textIndexVersion": 4}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": "2d"}, "name": "x", "bits": 33}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": "2dsphere"}, "name": "x", "2dsphereIndexVersion": 0}]}');

-- the index signature: key, collation, partial filter, unique, sparse
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "a_1"}, {"key": {"a": 1}, "name": "a_sparse", "sparse": true}, {"key": {"a": 1}, "name": "a_ci", "collation": {"locale": "en", "strength": 2}}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "a_1"}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "other"}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "a_1", "unique": true}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "a_1", "hidden": true}]}');
-- one text index per collection; text keys are recorded as MongoDB does
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"t": "text", "u": "text"}, "name": "t_text", "weights": {"u": 5}}]}');
SELECT ix('{"createIndexes": "c", "indexes": [{"key": {"v": "text"}, "name": "v_text"}]}');
SELECT ix('{"listIndexes": "c"}');
SELECT ix('{"listIndexes": "c", "includeIndexBuildInfo": true, "includeBuildUUIDs": true}');
SELECT ix('{"listIndexes": "c", "cursor": {"batchSize": -1}}');

-- dropIndexes: an ambiguous key pattern, names in turn, text by key
SELECT ix('{"dropIndexes": "c", "index": {"a": 1}}');
SELECT ix('{"dropIndexes": "c", "index": ["a_sparse", "a_sparse"]}');
SELECT ix('{"dropIndexes": "c", "index": {"t": "text"}}');
SELECT ix('{"dropIndexes": "c", "index": ["a_sparse", "a_ci"]}');
SELECT ix('{"dropIndexes": "c", "index": {"a": 1}}');
SELECT ix('{"dropIndexes": "c", "index": "*"}');

SELECT ix('{"dropDatabase": 1}');
DROP FUNCTION ix(text);
