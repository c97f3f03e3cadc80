-- The options the read commands share with MongoDB's parsers
-- (src/command.c, src/cmd_read.c): readConcern (types first, then
-- atClusterTime, then the levels each command and stage supports, then what
-- a single server cannot do), writeConcern on aggregate (checked and taken,
-- refused with explain), the hints of count and distinct, count's skip and
-- limit.
SET search_path = public, nosql;

CREATE FUNCTION ocmd(c text) RETURNS bson
    LANGUAGE sql AS $$ SELECT nosql.run_command('ot', c::bson) $$;

SELECT ocmd('{"insert": "c", "documents": [{"_id": 1, "x": 1}, {"_id": 2, "x": 2}, {"_id": 3}]}');
SELECT ocmd('{"createIndexes": "c", "indexes": [{"key": {"x": 1}, "name": "x_1"}]}');

-- readConcern
SELECT ocmd('{"count": "c", "readConcern": {"level": "majority"}}');
SELECT ocmd('{"count": "c", "readConcern": {"level": "snapshot"}}');
SELECT ocmd('{"distinct": "c", "key": "x", "readConcern": {"level": "snapshot"}}');
SELECT ocmd('{"distinct": "c", "key": "x", "readConcern": {"level": 1}}');
SELECT ocmd('{"distinct": "c", "key": "x", "readConcern": {"level": "nope"}}');
SELECT ocmd('{"distinct": "c", "key": "x", "readConcern": {"atClusterTime": {"$timestamp": {"t": 1, "i": 1}}}}');
SELECT ocmd('{"aggregate": "c", "pipeline": [], "cursor": {}, "readConcern": {"level": "snapshot", "atClusterTime": {"$timestamp": {"t": 0, "i": 1}}}}');
SELECT ocmd('{"aggregate": "c", "pipeline": [], "cursor": {}, "readConcern": {"afterClusterTime": {"$timestamp": {"t": 1, "i": 1}}}}');
SELECT ocmd('{"aggregate": "c", "pipeline": [], "cursor": {}, "readConcern": {"level": "linearizable"}}');
SELECT ocmd('{"aggregate": "c", "pipeline": [{"$out": "o2"}], "cursor": {}, "readConcern": {"level": "linearizable"}}');
SELECT ocmd('{"aggregate": 1, "pipeline": [{"$currentOp": {}}], "cursor": {}, "readConcern": {"level": "majority"}}');
SELECT ocmd('{"aggregate": "c", "pipeline": [{"$count": "n"}], "cursor": {}, "readConcern": {"level": "majority"}}');

-- writeConcern on aggregate
SELECT ocmd('{"aggregate": "c", "pipeline": [{"$count": "n"}], "cursor": {}, "writeConcern": {"w": 1}}');
SELECT ocmd('{"aggregate": "c", "pipeline": [], "cursor": {}, "writeConcern": {"w": 2}}');
SELECT ocmd('{"aggregate": "c", "pipeline": [], "cursor": {}, "writeConcern": {"w": 51}}');
SELECT ocmd('{"aggregate": "c", "pipeline": [], "cursor": {}, "writeConcern": {"w": true}}');
SELECT ocmd('{"aggregate": "c", "pipeline": [], "cursor": {}, "writeConcern": {"j": "yes"}}');
SELECT ocmd('{"aggregate": "c", "pipeline": [], "cursor": {}, "writeConcern": {"wtimeout": 2147483648}}');
SELECT ocmd('{"aggregate": "c", "pipeline": [], "cursor": {}, "writeConcern": {"bogus": 1}}');
SELECT ocmd('{"aggregate": "c", "pipeline": [], "explain": true, "writeConcern": {}}');
SELECT ocmd('{"count": "c", "writeConcern": {"w": 1}}');

-- hints of count and distinct
SELECT ocmd('{"count": "c", "hint": "x_1"}');
SELECT ocmd('{"count": "c", "hint": {"$natural": -1}}');
SELECT ocmd('{"count": "c", "hint": 1}');
SELECT ocmd('{"count": "c", "hint": {"$natural": 2}}');
SELECT ocmd('{"count": "c", "hint": {"$natural": 1, "x": 1}}');
SELECT ocmd('{"count": "c", "hint": "nope"}');
SELECT ocmd('{"count": "nope", "hint": {"a": 1}}');
SELECT ocmd('{"distinct": "c", "key": "x", "hint": null}');
SELECT ocmd('{"distinct": "c", "key": "x", "hint": {"x": 0}}');
SELECT ocmd('{"distinct": "c", "key": "x", "hint": {"x": 1}}');

-- a hinted sparse or partial index answers for the documents it holds
SELECT ocmd('{"createIndexes": "c", "indexes": [{"key": {"x": 1}, "name": "x_sparse", "sparse": true},
  {"key": {"x": -1}, "name": "x_partial", "partialFilterExpression": {"x": {"$gt": 1}}}]}');
SELECT ocmd('{"count": "c", "hint": "x_sparse"}');
SELECT ocmd('{"count": "c", "hint": "x_partial"}');
SELECT ocmd('{"count": "c", "hint": "x_partial", "query": {"x": {"$exists": true}}}');
SELECT ocmd('{"distinct": "c", "key": "_id", "hint": "x_partial"}');

-- count's skip and limit
SELECT ocmd('{"count": "c", "skip": {"$numberDouble": "NaN"}}');
SELECT ocmd('{"count": "c", "skip": {"$numberDouble": "Infinity"}}');
SELECT ocmd('{"count": "c", "skip": 1.9}');
SELECT ocmd('{"count": "c", "skip": -1}');
SELECT ocmd('{"count": "c", "skip": "1"}');
SELECT ocmd('{"count": "c", "limit": -2}');
SELECT ocmd('{"count": "c", "limit": 1.5}');
SELECT ocmd('{"count": "c", "limit": "1"}');
SELECT ocmd('{"count": "c", "limit": {"$numberLong": "-9223372036854775808"}}');

-- distinct's key: null is missing, empty components are field names
SELECT ocmd('{"insert": "k", "documents": [{"_id": 1, "": "empty", "x": {"y": "h", "": {"y": "e"}}}]}');
SELECT ocmd('{"distinct": "k", "key": null}');
SELECT ocmd('{"distinct": "k", "key": ""}');
SELECT ocmd('{"distinct": "k", "key": "x..y"}');
SELECT ocmd('{"distinct": "k", "key": "x.y"}');

-- aggregate: a hint with $text, explain under apiStrict
SELECT ocmd('{"aggregate": "c", "pipeline": [{"$match": {"$text": {"$search": "a"}}}], "hint": "x_1", "cursor": {}}');
SELECT ocmd('{"aggregate": "c", "pipeline": [], "explain": true, "apiVersion": "1", "apiStrict": true}');
SELECT ocmd('{"aggregate": 1, "pipeline": [{"$listSessions": {}}], "cursor": {}, "apiVersion": "1", "apiStrict": true}');

DROP FUNCTION ocmd(text);
SELECT drop_collection('ot.c');
SELECT drop_collection('ot.k');
