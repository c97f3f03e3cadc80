-- pipeline-style updates ($set/$addFields, $project, $unset, $replaceRoot/
-- $replaceWith run on each matched document, with let and $$NOW bound) in
-- update, findAndModify, bulkWrite and $merge's whenMatched pipeline
SET search_path = public, nosql;

SELECT insert_many('up.p', '[{"_id": 1, "a": 1, "b": 2}, {"_id": 2, "a": 5, "b": [1, 2]}]');
SELECT run_command('up', '{"update": "p", "updates": [{"q": {"_id": 1}, "u": [{"$set": {"c": {"$add": ["$a", "$b"]}}}, {"$unset": "b"}]}]}');
SELECT run_command('up', '{"update": "p", "updates": [{"q": {}, "u": [{"$set": {"x": "$$v", "t": {"$type": "$$NOW"}}}], "multi": true}], "let": {"v": 42}}');
SELECT find('up.p', '{}');
-- _id is immutable: removed it comes back, changed it is 66
SELECT run_command('up', '{"update": "p", "updates": [{"q": {"_id": 1}, "u": [{"$set": {"_id": 9}}]}]}');
SELECT run_command('up', '{"update": "p", "updates": [{"q": {"_id": 1}, "u": [{"$project": {"a": 1, "_id": 0}}]}]}');
SELECT find('up.p', '{"_id": 1}');
-- unchanged documents are matched, not modified
SELECT run_command('up', '{"update": "p", "updates": [{"q": {"_id": 1}, "u": [{"$set": {"a": 1}}]}]}');
-- upsert: the pipeline runs on the query's equality fields
SELECT run_command('up', '{"update": "p", "updates": [{"q": {"_id": 7, "k": "z"}, "u": [{"$set": {"d": {"$concat": ["$k", "!"]}}}], "upsert": true}]}');
SELECT run_command('up', '{"findAndModify": "p", "query": {"_id": 2}, "update": [{"$replaceWith": {"_id": "$_id", "r": {"$size": "$b"}, "v": "$$v"}}], "new": true, "let": {"v": "w"}}');
SELECT run_command('admin', '{"bulkWrite": 1, "ops": [{"update": 0, "filter": {"_id": 7}, "updateMods": [{"$set": {"e": {"$toUpper": "$d"}}}]}], "nsInfo": [{"ns": "up.p"}]}')::jsonb - 'cursor';
SELECT find('up.p', '{}');
-- errors: stages an update cannot hold, arrayFilters, a stage's own checks
SELECT run_command('up', '{"update": "p", "updates": [{"q": {"_id": 2}, "u": [{"$match": {}}]}]}');
SELECT run_command('up', '{"update": "p", "updates": [{"q": {"_id": 2}, "u": [{"$set": {"a": 1}}], "arrayFilters": [{"x": 1}]}]}');
SELECT run_command('up', '{"update": "p", "updates": [{"q": {"_id": 2}, "u": [{"$replaceWith": 5}]}]}');
SELECT run_command('up', '{"update": "p", "updates": [{"q": {"_id": 2}, "u": [{"$unset": 5}]}]}');
SELECT run_command('up', '{"update": "p", "updates": [{"q": {"_id": 2}, "u": [{"$set": {"a": {"$divide": [1, 0]}}}]}]}');
-- $merge with a whenMatched pipeline: $$new and let (evaluated on the
-- incoming document)
SELECT insert_many('up.src', '[{"_id": 1, "v": 10}, {"_id": 5, "v": 50}]');
SELECT run_command('up', '{"aggregate": "src", "pipeline": [{"$merge": {"into": "p", "whenMatched": [{"$set": {"fromNew": "$$new.v", "w": "$$w"}}], "let": {"w": {"$multiply": ["$v", 2]}, "new": "$$ROOT"}, "whenNotMatched": "insert"}}], "cursor": {}}');
SELECT run_command('up', '{"aggregate": "src", "pipeline": [{"$merge": {"into": "p", "whenMatched": [{"$set": {"seen": true}}], "whenNotMatched": "discard"}}], "cursor": {}}');
SELECT run_command('up', '{"aggregate": "src", "pipeline": [{"$project": {"_id": {"$add": ["$_id", 100]}}}, {"$merge": {"into": "p", "whenMatched": [{"$set": {"seen": true}}], "whenNotMatched": "fail"}}], "cursor": {}}');
SELECT find('up.p', '{}');
SELECT drop_collection('up.src');
SELECT drop_collection('up.p');
