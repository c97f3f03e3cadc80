-- reading views: aggregate, find, count and distinct run the view's
-- pipeline (and those of the views under it) before their own stages,
-- over the collection underneath; the view's collation is theirs
SET search_path = public, nosql;
SET max_parallel_workers_per_gather = 0;

SELECT insert_many('vw.src', '[{"_id": 1, "a": 1, "g": "x", "t": ["p", "q"]}, {"_id": 2, "a": 5, "g": "y", "t": "q"}, {"_id": 3, "a": 9, "g": "x"}, {"_id": 4, "a": 7, "g": "X", "t": []}]');
SELECT run_command('vw', '{"create": "big", "viewOn": "src", "pipeline": [{"$match": {"a": {"$gt": 2}}}, {"$project": {"a": 1, "g": 1, "t": 1}}]}');
SELECT run_command('vw', '{"create": "dbl", "viewOn": "big", "pipeline": [{"$addFields": {"b": {"$multiply": ["$a", 2]}}}]}');
SELECT run_command('vw', '{"create": "ci", "viewOn": "src", "collation": {"locale": "en", "strength": 2}}');
SELECT run_command('vw', '{"create": "nothing", "viewOn": "missing"}');

SELECT aggregate('vw.big', '[{"$group": {"_id": "$g", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}]');
SELECT aggregate('vw.dbl', '[{"$match": {"b": {"$gt": 12}}}, {"$sort": {"_id": 1}}]');
SELECT run_command('vw', '{"aggregate": "dbl", "pipeline": [{"$sort": {"b": -1}}, {"$limit": 1}], "cursor": {}}');
SELECT run_command('vw', '{"aggregate": "nothing", "pipeline": [], "cursor": {}}');
-- the view's collation applies; a command may only repeat it (167)
SELECT run_command('vw', '{"aggregate": "ci", "pipeline": [{"$match": {"g": "x"}}, {"$count": "n"}], "cursor": {}}');
SELECT run_command('vw', '{"aggregate": "ci", "pipeline": [], "cursor": {}, "collation": {"locale": "fr"}}');
SELECT run_command('vw', '{"aggregate": "big", "pipeline": [{"$match": {"g": "x"}}, {"$count": "n"}], "cursor": {}, "collation": {"locale": "en", "strength": 2}}');
-- find, count and distinct
SELECT run_command('vw', '{"find": "big", "filter": {"g": "x"}}');
SELECT run_command('vw', '{"find": "dbl", "filter": {}, "sort": {"b": -1}, "projection": {"b": 1}, "skip": 1, "limit": 1}');
SELECT run_command('vw', '{"find": "dbl", "sort": {"_id": 1}, "batchSize": 1}')::jsonb->'cursor'->'firstBatch';
SELECT run_command('vw', '{"find": "ci", "filter": {"g": "x"}, "sort": {"_id": 1}}');
SELECT run_command('vw', '{"find": "big", "hint": {"_id": 1}}');
SELECT run_command('vw', '{"count": "big"}');
SELECT run_command('vw', '{"count": "big", "query": {"g": "zz"}}');
SELECT run_command('vw', '{"count": "ci", "query": {"g": "x"}}');
SELECT run_command('vw', '{"distinct": "src", "key": "t"}');
SELECT run_command('vw', '{"distinct": "big", "key": "t"}');
SELECT run_command('vw', '{"distinct": "dbl", "key": "b", "query": {"b": {"$lt": 15}}}');
-- sub-pipelines over views: $lookup (equality, pipeline, both) and $unionWith
SELECT aggregate('vw.src', '[{"$lookup": {"from": "big", "localField": "_id", "foreignField": "_id", "as": "m"}}, {"$project": {"m": 1}}, {"$sort": {"_id": 1}}]');
SELECT aggregate('vw.src', '[{"$lookup": {"from": "dbl", "pipeline": [{"$count": "n"}], "as": "m"}}, {"$project": {"m": 1}}, {"$limit": 1}]');
SELECT aggregate('vw.src', '[{"$lookup": {"from": "big", "localField": "g", "foreignField": "g", "pipeline": [{"$project": {"_id": 1}}], "as": "m"}}, {"$project": {"m": 1}}, {"$sort": {"_id": 1}}]');
SELECT aggregate('vw.src', '[{"$project": {"a": 1}}, {"$unionWith": {"coll": "dbl", "pipeline": [{"$project": {"b": 1}}]}}, {"$sort": {"_id": 1, "b": 1}}]');
SELECT aggregate('vw.src', '[{"$unionWith": "nothing"}, {"$count": "n"}]');
SELECT run_command('vw', '{"aggregate": "src", "pipeline": [{"$unionWith": "big"}], "cursor": {}, "collation": {"locale": "fr"}}');
SELECT run_command('vw', '{"aggregate": "src", "pipeline": [{"$lookup": {"from": "ci", "localField": "g", "foreignField": "g", "as": "m"}}], "cursor": {}}');
-- $graphLookup through a view (the hidden document breaks the cycle)
SELECT insert_many('vw.gr', '[{"_id": 1, "name": "a", "next": "b"}, {"_id": 2, "name": "b", "next": "c"}, {"_id": 3, "name": "c", "next": "a", "hidden": true}]');
SELECT run_command('vw', '{"create": "grv", "viewOn": "gr", "pipeline": [{"$match": {"hidden": {"$ne": true}}}]}');
SELECT aggregate('vw.gr', '[{"$match": {"_id": 1}}, {"$graphLookup": {"from": "grv", "startWith": "$next", "connectFromField": "next", "connectToField": "name", "as": "path", "depthField": "d"}}]');
SELECT aggregate('vw.gr', '[{"$match": {"_id": 1}}, {"$graphLookup": {"from": "grv", "startWith": "$name", "connectFromField": "next", "connectToField": "name", "as": "path"}}]');
SELECT drop_collection('vw.grv');
SELECT drop_collection('vw.gr');
-- a view cannot be written
SELECT run_command('vw', '{"insert": "big", "documents": [{"_id": 9}]}');

SELECT drop_collection('vw.nothing');
SELECT drop_collection('vw.ci');
SELECT drop_collection('vw.dbl');
SELECT drop_collection('vw.big');
SELECT drop_collection('vw.src');
