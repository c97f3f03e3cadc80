-- MongoDB collations: string comparisons of filters, sorts and distinct
-- under ICU collators, per command and as a collection's default.  The
-- comparison rules themselves are unit-tested in test/unit/test_collation.c.
SET search_path = public, nosql;

SELECT run_command('coll', '{"insert": "fruit", "documents": [
  {"_id": 1, "x": "apple"}, {"_id": 2, "x": "Apple"}, {"_id": 3, "x": "APPLE"},
  {"_id": 4, "x": "cafe"}, {"_id": 5, "x": "café"}, {"_id": 6, "x": "banana"},
  {"_id": 7, "x": "file10"}, {"_id": 8, "x": "file2"}, {"_id": 9, "x": "co-op"},
  {"_id": 10, "x": "coop"}, {"_id": 11, "x": 5}, {"_id": 12, "x": ["Banana", "cherry"]}]}');

-- without a collation strings compare byte-wise
SELECT run_command('coll', '{"count": "fruit", "query": {"x": "apple"}}');
-- strength 2: case-insensitive; strength 1: also accent-insensitive
SELECT run_command('coll', '{"find": "fruit", "filter": {"x": "apple"}, "collation": {"locale": "en", "strength": 2}}');
SELECT run_command('coll', '{"count": "fruit", "query": {"x": "cafe"}, "collation": {"locale": "en", "strength": 2}}');
SELECT run_command('coll', '{"count": "fruit", "query": {"x": "CAFE"}, "collation": {"locale": "en", "strength": 1}}');
-- ranges, $in, $nin, $ne, arrays and $elemMatch follow the collation; $regex does not
SELECT run_command('coll', '{"find": "fruit", "filter": {"x": {"$gte": "b", "$lt": "C"}}, "projection": {"_id": 1}, "collation": {"locale": "en"}}');
SELECT run_command('coll', '{"count": "fruit", "query": {"x": {"$in": ["APPLE", "BANANA"]}}, "collation": {"locale": "en", "strength": 2}}');
SELECT run_command('coll', '{"count": "fruit", "query": {"x": {"$nin": ["APPLE"]}}, "collation": {"locale": "en", "strength": 2}}');
SELECT run_command('coll', '{"count": "fruit", "query": {"x": {"$ne": "apple"}}, "collation": {"locale": "en", "strength": 2}}');
SELECT run_command('coll', '{"find": "fruit", "filter": {"x": {"$elemMatch": {"$eq": "CHERRY"}}}, "collation": {"locale": "en", "strength": 1}}');
SELECT run_command('coll', '{"count": "fruit", "query": {"x": {"$regex": "^apple$"}}, "collation": {"locale": "en", "strength": 1}}');
-- numbers are not strings
SELECT run_command('coll', '{"count": "fruit", "query": {"x": 5}, "collation": {"locale": "en", "strength": 1}}');

-- sort: the collation's order (numericOrdering, caseFirst, alternate)
SELECT run_command('coll', '{"find": "fruit", "filter": {"x": {"$regex": "^file"}}, "sort": {"x": 1}, "projection": {"_id": 0}, "collation": {"locale": "en", "numericOrdering": true}}');
SELECT run_command('coll', '{"find": "fruit", "filter": {"x": {"$regex": "^file"}}, "sort": {"x": 1}, "projection": {"_id": 0}}');
SELECT run_command('coll', '{"find": "fruit", "filter": {"x": {"$regex": "^a", "$options": "i"}}, "sort": {"x": 1}, "projection": {"_id": 0}, "collation": {"locale": "en", "caseFirst": "upper"}}');
SELECT run_command('coll', '{"find": "fruit", "filter": {"x": {"$regex": "^a", "$options": "i"}}, "sort": {"x": -1}, "projection": {"_id": 0}, "collation": {"locale": "en", "caseFirst": "lower"}}');
SELECT run_command('coll', '{"count": "fruit", "query": {"x": "coop"}, "collation": {"locale": "en", "alternate": "shifted"}}');
-- an array sorts by its smallest (ascending) element under the collation
SELECT run_command('coll', '{"find": "fruit", "filter": {"_id": {"$in": [6, 12]}}, "sort": {"x": 1, "_id": 1}, "projection": {"_id": 1}, "collation": {"locale": "en", "strength": 1}}');

-- distinct de-duplicates under the collation, keeping the first value found
SELECT run_command('coll', '{"distinct": "fruit", "key": "x", "query": {"x": {"$type": "string"}}, "collation": {"locale": "en", "strength": 1}}');

-- update, delete and findAndModify, per statement
SELECT run_command('coll', '{"update": "fruit", "updates": [{"q": {"x": "APPLE"}, "u": {"$set": {"seen": true}}, "multi": true, "collation": {"locale": "en", "strength": 2}}, {"q": {"x": "APPLE"}, "u": {"$set": {"upper": true}}, "multi": true}]}');
SELECT run_command('coll', '{"findAndModify": "fruit", "query": {"x": "BANANA"}, "update": {"$set": {"y": 1}}, "new": true, "collation": {"locale": "en", "strength": 2}}');
SELECT run_command('coll', '{"delete": "fruit", "deletes": [{"q": {"x": "CAFE"}, "limit": 0, "collation": {"locale": "fr", "strength": 1}}]}');
-- the update operators compare under it too
SELECT run_command('coll', '{"insert": "tags", "documents": [{"_id": 1, "t": ["Red", "green"], "m": "b"}]}');
SELECT run_command('coll', '{"update": "tags", "updates": [{"q": {"_id": 1}, "u": {"$addToSet": {"t": "RED"}, "$max": {"m": "B"}}, "collation": {"locale": "en", "strength": 2}}]}');
SELECT run_command('coll', '{"update": "tags", "updates": [{"q": {"_id": 1}, "u": {"$pull": {"t": "GREEN"}}, "collation": {"locale": "en", "strength": 2}}]}');
SELECT run_command('coll', '{"find": "tags"}');

-- a collection's default collation, and {locale: "simple"} to bypass it
SELECT run_command('coll', '{"create": "ci", "collation": {"locale": "en", "strength": 2}}');
SELECT run_command('coll', '{"listCollections": 1, "filter": {"name": "ci"}, "nameOnly": false}') -> 'cursor' -> 'firstBatch' -> 0 -> 'options';
SELECT run_command('coll', '{"insert": "ci", "documents": [{"_id": "a", "x": "Hello"}, {"_id": "B", "x": "hello"}]}');
SELECT run_command('coll', '{"count": "ci", "query": {"x": "HELLO"}}');
SELECT run_command('coll', '{"count": "ci", "query": {"x": "HELLO"}, "collation": {"locale": "simple"}}');
SELECT run_command('coll', '{"find": "ci", "filter": {"_id": "b"}}');
SELECT run_command('coll', '{"find": "ci", "sort": {"_id": -1}}');
-- text and 2d indexes do not support collations, given or inherited
SELECT run_command('coll', '{"createIndexes": "ci", "indexes": [{"key": {"x": "text"}, "name": "x_text"}]}');
SELECT run_command('coll', '{"createIndexes": "ci", "indexes": [{"key": {"x": "text"}, "name": "x_text", "collation": {"locale": "simple"}}]}');
SELECT run_command('coll', '{"createIndexes": "fruit", "indexes": [{"key": {"p": "2d"}, "name": "p_2d", "collation": {"locale": "en"}}]}');
SELECT run_command('coll', '{"create": "bin", "collation": {"locale": "simple"}}');
SELECT run_command('coll', '{"listCollections": 1, "filter": {"name": "bin"}}') -> 'cursor' -> 'firstBatch' -> 0 -> 'options';

-- invalid collations get MongoDB's errors
SELECT run_command('coll', '{"find": "fruit", "collation": "en"}');
SELECT run_command('coll', '{"find": "fruit", "collation": {"strength": 2}}');
SELECT run_command('coll', '{"find": "fruit", "collation": {"locale": "xx_YY"}}');
SELECT run_command('coll', '{"find": "fruit", "collation": {"locale": "en", "strength": 6}}');
SELECT run_command('coll', '{"find": "fruit", "collation": {"locale": "en", "strength": "2"}}');
SELECT run_command('coll', '{"find": "fruit", "collation": {"locale": "en", "caseLevel": 1}}');
SELECT run_command('coll', '{"find": "fruit", "collation": {"locale": "en", "caseFirst": "sideways"}}');
SELECT run_command('coll', '{"find": "fruit", "collation": {"locale": "en", "strength": 1, "caseFirst": "upper"}}');
SELECT run_command('coll', '{"find": "fruit", "collation": {"locale": "en", "colour": "blue"}}');
SELECT run_command('coll', '{"find": "nothere", "collation": {"locale": "xx"}}');
SELECT run_command('coll', '{"delete": "fruit", "deletes": [{"q": {}, "limit": 0, "collation": {"locale": "xx"}}]}');
SELECT run_command('coll', '{"create": "bad", "collation": {"locale": "en", "numericOrdering": "yes"}}');

-- the SQL functions
SELECT '{"x": "ÄPFEL"}'::bson @@ '{"x": "apfel"}'::bson AS binary,
       bson_matches('{"x": "ÄPFEL"}', '{"x": "apfel"}', '{"locale": "de", "strength": 1}') AS collated;
SELECT bson_sort_value('{"x": ["b", "A"]}', 'x', false, '{"locale": "en"}')
     = bson_sort_value('{"x": "a"}', 'x', false, '{"locale": "en", "strength": 1}') AS different_strengths,
       bson_sort_value('{"x": ["b", "A"]}', 'x', false, '{"locale": "en", "strength": 1}')
     = bson_sort_value('{"x": "a"}', 'x', false, '{"locale": "en", "strength": 1}') AS equal_keys,
       bson_sort_value('{"x": 3}', 'x', false, '{"locale": "en"}') AS numbers_unchanged;
SELECT bson_matches('{"x": 1}', '{"x": 1}', '{"locale": "zz"}');

SELECT run_command('coll', '{"dropDatabase": 1}');
