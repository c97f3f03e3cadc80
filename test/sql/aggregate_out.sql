-- The write stages $out and $merge (src/agg_write.c): results, option
-- errors, and atomicity (a failing $out or $merge leaves nothing behind).
SET search_path = public, nosql;

SELECT insert_many('aggw.src', '[
  {"_id": 1, "a": 1, "k": "x"},
  {"_id": 2, "a": 2, "k": "y"},
  {"_id": 3, "a": 3, "k": "z"}]');

-- $out creates the target; the reply's cursor is empty
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$match": {"a": {"$gte": 2}}}, {"$out": "dst"}], "cursor": {}}');
SELECT d FROM find('aggw.dst', '{}') d ORDER BY 1;

-- $out replaces the documents and keeps the indexes
SELECT run_command('aggw', '{"createIndexes": "dst", "indexes": [{"key": {"k": 1}, "name": "k_1", "unique": true}]}');
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$project": {"k": 1}}, {"$out": {"db": "aggw", "coll": "dst"}}], "cursor": {}}');
SELECT d FROM find('aggw.dst', '{}') d ORDER BY 1;
SELECT run_command('aggw', '{"listIndexes": "dst"}');

-- a duplicate key: 11000, and the target is as it was
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$set": {"k": "same"}}, {"$out": "dst"}], "cursor": {}}');
SELECT count(*) FROM find('aggw.dst', '{}');
-- a target that did not exist is not created
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$set": {"_id": 1}}, {"$out": "never"}], "cursor": {}}');
SELECT run_command('aggw', '{"listCollections": 1, "filter": {"name": "never"}}');

-- $out to its own source
SELECT run_command('aggw', '{"aggregate": "dst", "pipeline": [{"$set": {"again": true}}, {"$out": "dst"}], "cursor": {}}');
SELECT d FROM find('aggw.dst', '{}') d ORDER BY 1;

-- $merge: the default mode merges matched documents and inserts the others
SELECT insert_many('aggw.m', '[{"_id": 1, "old": true}]');
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$merge": "m"}], "cursor": {}}');
SELECT d FROM find('aggw.m', '{}') d ORDER BY 1;
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$set": {"r": 1}}, {"$project": {"a": 0}}, {"$merge": {"into": "m", "whenMatched": "replace"}}], "cursor": {}}');
SELECT d FROM find('aggw.m', '{}') d ORDER BY 1;
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$set": {"kept": false}}, {"$merge": {"into": "m", "whenMatched": "keepExisting"}}], "cursor": {}}');
SELECT d FROM find('aggw.m', '{}') d ORDER BY 1;

-- on fields need a unique index (51183); with one, documents match by them
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$merge": {"into": "m", "on": "k"}}], "cursor": {}}');
SELECT run_command('aggw', '{"createIndexes": "m", "indexes": [{"key": {"k": 1}, "name": "k_1", "unique": true}]}');
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$project": {"_id": 0, "k": 1, "via": "k"}}, {"$merge": {"into": "m", "on": "k", "whenNotMatched": "discard"}}], "cursor": {}}');
SELECT d FROM find('aggw.m', '{}') d ORDER BY 1;

-- whenMatched fail and whenNotMatched fail roll the whole command back
SELECT insert_many('aggw.f', '[{"_id": 3}]');
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$sort": {"_id": 1}}, {"$merge": {"into": "f", "whenMatched": "fail"}}], "cursor": {}}');
SELECT d FROM find('aggw.f', '{}') d ORDER BY 1;
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$merge": {"into": "f", "whenNotMatched": "fail"}}], "cursor": {}}');
SELECT d FROM find('aggw.f', '{}') d ORDER BY 1;

-- option errors
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$out": "a"}, {"$match": {}}], "cursor": {}}');
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$out": 1}], "cursor": {}}');
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$out": {"db": "admin", "coll": "x"}}], "cursor": {}}');
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$out": {"coll": "x"}}], "cursor": {}}');
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$out": {"db": "aggw", "coll": "x", "timeseries": {"timeField": "t", "granularity": "days"}}}], "cursor": {}}');
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$merge": {"into": 1}}], "cursor": {}}');
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$merge": {"into": "m", "on": []}}], "cursor": {}}');
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$merge": {"into": "m", "whenMatched": "fail", "whenNotMatched": "discard"}}], "cursor": {}}');
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$merge": {"into": "m", "whenMatched": "merge", "let": {}}}], "cursor": {}}');
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$merge": {"into": "m", "whenMatched": [{"$group": {"_id": 1}}]}}], "cursor": {}}');
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$facet": {"b": [{"$out": "x"}]}}], "cursor": {}}');

-- explain writes nothing
SELECT run_command('aggw', '{"aggregate": "src", "pipeline": [{"$out": "explained"}], "explain": true}') IS NOT NULL;
SELECT run_command('aggw', '{"listCollections": 1, "filter": {"name": "explained"}}');

SELECT run_command('aggw', '{"dropDatabase": 1}');
