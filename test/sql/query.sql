-- doc @@ filter: MongoDB filters from SQL (the compiler's own semantics are
-- unit-tested in test/unit/test_query.c; this checks the SQL surface).
SET search_path = public, nosql;

CREATE TABLE people (id int, doc bson);
INSERT INTO people VALUES
  (1, '{"name": "Ada", "age": 36, "tags": ["math", "poetry"], "address": {"city": "London"}}'),
  (2, '{"name": "alan", "age": 41, "tags": ["math", "crypto"], "address": {"city": "Wilmslow"}}'),
  (3, '{"name": "Grace", "age": {"$numberLong": "85"}, "tags": [], "address": null}'),
  (4, '{"name": "Edsger", "age": 72.5, "scores": [{"k": "a", "v": 3}, {"k": "b", "v": 9}]}'),
  (5, '{"name": "Barbara", "age": "unknown"}'),
  (6, '[1, 2, 3]');

-- equality, comparison across numeric types, type brackets
SELECT id FROM people WHERE doc @@ '{"name": "Ada"}' ORDER BY id;
SELECT id FROM people WHERE doc @@ '{"age": {"$gt": 40}}' ORDER BY id;
SELECT id FROM people WHERE doc @@ '{"age": {"$gte": 85.0, "$lt": {"$numberDecimal": "86"}}}' ORDER BY id;
-- arrays, dotted paths, null/missing, $exists, $type
SELECT id FROM people WHERE doc @@ '{"tags": "math"}' ORDER BY id;
SELECT id FROM people WHERE doc @@ '{"tags": {"$size": 0}}' ORDER BY id;
SELECT id FROM people WHERE doc @@ '{"address.city": "London"}' ORDER BY id;
SELECT id FROM people WHERE doc @@ '{"address": null}' ORDER BY id;
SELECT id FROM people WHERE doc @@ '{"scores": {"$elemMatch": {"k": "b", "v": {"$gt": 5}}}}' ORDER BY id;
SELECT id FROM people WHERE doc @@ '{"age": {"$type": "string"}}' ORDER BY id;
SELECT id FROM people WHERE doc @@ '{"tags": {"$exists": false}}' ORDER BY id;
-- logic and regular expressions (PCRE)
SELECT id FROM people WHERE doc @@ '{"$or": [{"age": {"$lt": 40}}, {"name": {"$regex": "^a", "$options": "i"}}]}' ORDER BY id;
SELECT id FROM people WHERE doc @@ '{"name": {"$in": [{"$regularExpression": {"pattern": "^[BE]", "options": ""}}, "Grace"]}}' ORDER BY id;
SELECT id FROM people WHERE doc @@ '{"name": {"$not": {"$regex": "a"}}}' ORDER BY id;
-- the empty filter matches every document; a non-document matches nothing
SELECT count(*) FROM people WHERE doc @@ '{}';

-- a different filter on every row: each one is compiled and used correctly
SELECT p.id, f.filter, p.doc @@ f.filter AS matches
  FROM people p
  JOIN (VALUES (1, '{"age": 36}'::bson), (2, '{"age": {"$ne": 41}}'), (4, '{"scores.v": 9}')) f(id, filter)
    ON f.id = p.id
 ORDER BY p.id;

-- errors carry MongoDB's code in the detail
SELECT '{"a": 1}'::bson @@ '{"a": {"$foo": 1}}';
SELECT '{"a": 1}'::bson @@ '{"$foo": 1}';
SELECT '{"a": 1}'::bson @@ '{"$where": "this.a == 1"}';
SELECT '{"a": 1}'::bson @@ '{"a": {"$regex": "("}}';
SELECT '{"a": 1}'::bson @@ '{"a": {"$regex": "a", "$options": "q"}}';
SELECT '{"a": 1}'::bson @@ '{"$and": []}';
SELECT '{"a": 1}'::bson @@ '{"a": {"$mod": [0, 1]}}';
SELECT '{"a": 1}'::bson @@ '[1]';

DROP TABLE people;

-- $expr: an aggregation expression over the document, true when truthy
SELECT '{"a": 5, "b": 3}'::nosql.bson OPERATOR(nosql.@@) '{"$expr": {"$gt": ["$a", "$b"]}}' AS gt,
       '{"a": 1, "b": 3}'::nosql.bson OPERATOR(nosql.@@) '{"$expr": {"$gt": ["$a", "$b"]}}' AS not_gt,
       '{"a": [1, 2]}'::nosql.bson OPERATOR(nosql.@@) '{"$expr": {"$eq": ["$a", [1, 2]]}}' AS whole_array,
       '{"a": 2}'::nosql.bson OPERATOR(nosql.@@) '{"a": 2, "$expr": {"$cond": [{"$eq": ["$a", 2]}, 0, 1]}}' AS zero_is_false;
-- errors: unknown operators when compiling, evaluation errors when matching
SELECT '{"a": 1}'::nosql.bson OPERATOR(nosql.@@) '{"$expr": {"$nosuch": 1}}';
SELECT '{"a": 1}'::nosql.bson OPERATOR(nosql.@@) '{"$expr": {"$divide": ["$a", 0]}}';
SELECT '{"a": 1}'::nosql.bson OPERATOR(nosql.@@) '{"b": {"$expr": {"$eq": [1, 1]}}}';
