-- Collection commands through nosql.run_command: create (option checks,
-- idempotence), drop, listCollections, renameCollection, collMod, capped
-- collections (insertion order, trimming), convertToCapped,
-- cloneCollectionAsCapped, validateDBMetadata, dropDatabase.
SET search_path = public, nosql;

CREATE FUNCTION cmd(db text, c text) RETURNS bson
    LANGUAGE sql AS $$ SELECT nosql.run_command(db, c::bson) $$;

-- create, idempotent with equivalent options, NamespaceExists otherwise
SELECT cmd('ct', '{"create": "plain"}');
SELECT cmd('ct', '{"create": "plain", "storageEngine": {}, "collation": {"locale": "simple"}}');
SELECT cmd('ct', '{"create": "plain", "validator": {"x": {"$exists": true}}}');
-- option errors: types, values, combinations
SELECT cmd('ct', '{"create": "e1", "capped": "yes", "size": 4096}');
SELECT cmd('ct', '{"create": "e2", "size": 4096}');
SELECT cmd('ct', '{"create": "e3", "capped": true}');
SELECT cmd('ct', '{"create": "e4", "capped": true, "size": 0}');
SELECT cmd('ct', '{"create": "e5", "collation": {"locale": "en", "strength": 6}}');
SELECT cmd('ct', '{"create": "e6", "idIndex": {"key": {"_id": -1}, "name": "_id_"}}');
SELECT cmd('ct', '{"create": "e7", "timeseries": {}}');
SELECT cmd('ct', '{"create": "e8", "pipeline": [{"$match": {}}]}');
SELECT cmd('ct', '{"create": "e9", "viewOn": "plain", "pipeline": [{"$out": "x"}]}');
SELECT cmd('ct', '{"create": "e10", "writeConcern": {"w": 2}}');
SELECT cmd('ct', '{"create": "e11", "readConcern": {"level": "majority"}}');
SELECT cmd('ct', '{"create": "e12", "maxTimeMS": 1.5}');
SELECT cmd('ct', '{"create": "e13", "clusteredIndex": {"key": {"_id": 1}, "unique": true}, "capped": true, "size": 4096}');
-- views are kept in the catalog
SELECT cmd('ct', '{"create": "v", "viewOn": "plain", "pipeline": [{"$match": {"a": 1}}]}');
SELECT cmd('ct', '{"listCollections": 1, "nameOnly": true}');
SELECT cmd('ct', '{"listCollections": 1, "writeConcern": {}}');

-- a capped collection keeps insertion order and its newest documents
SELECT cmd('ct', '{"create": "log", "capped": true, "size": 100000, "max": 3}');
SELECT cmd('ct', '{"insert": "log", "documents": [{"_id": 5}, {"_id": 4}, {"_id": 3}, {"_id": 2}]}');
SELECT cmd('ct', '{"insert": "log", "documents": [{"_id": 1}]}');
SELECT cmd('ct', '{"find": "log"}');
SELECT cmd('ct', '{"find": "log", "sort": {"$natural": -1}}');
-- and the size limit (at least 4096 bytes): 100 documents of ~100 bytes
SELECT cmd('ct', '{"create": "small", "capped": true, "size": 4096}');
SELECT cmd('ct', format('{"insert": "small", "documents": [%s]}',
    string_agg(format('{"_id": %s, "pad": "%s"}', i, repeat('x', 80)), ', '))::text)
  FROM generate_series(1, 100) i;
SELECT cmd('ct', '{"count": "small"}');
SELECT cmd('ct', '{"find": "small", "limit": 1}');
-- collMod shrinks the cap at once
SELECT cmd('ct', '{"collMod": "log", "cappedMax": 2}');
SELECT cmd('ct', '{"find": "log"}');
SELECT cmd('ct', '{"collMod": "plain", "cappedSize": 1000}');

-- convertToCapped and cloneCollectionAsCapped keep natural order
SELECT cmd('ct', '{"insert": "plain", "documents": [{"_id": "a"}, {"_id": "b"}, {"_id": "c"}]}');
SELECT cmd('ct', '{"cloneCollectionAsCapped": "plain", "toCollection": "copy", "size": 4096}');
SELECT cmd('ct', '{"find": "copy"}');
SELECT cmd('ct', '{"convertToCapped": "plain", "size": 4096}');
SELECT cmd('ct', '{"insert": "plain", "documents": [{"_id": "d"}]}');
SELECT cmd('ct', '{"find": "plain"}');
SELECT cmd('ct', '{"convertToCapped": "missing", "size": 4096}');
SELECT cmd('ct', '{"convertToCapped": "plain", "size": 0}');
SELECT cmd('ct', '{"cloneCollectionAsCapped": "v", "toCollection": "v2", "size": 4096}');

-- renameCollection (on admin)
SELECT cmd('admin', '{"renameCollection": "ct.copy", "to": "ct.copy2"}');
SELECT cmd('ct', '{"find": "copy2"}');
SELECT cmd('admin', '{"renameCollection": "ct.copy2", "to": "ct.log"}');
SELECT cmd('ct', '{"renameCollection": "ct.copy2", "to": "ct.x"}');

-- validateDBMetadata: indexes outside API version 1
SELECT cmd('ct', '{"createIndexes": "log", "indexes": [{"key": {"t": "text"}, "name": "t_text"}]}');
SELECT cmd('admin', '{"validateDBMetadata": 1, "apiParameters": {"version": "1", "strict": true}, "db": "ct"}');
SELECT cmd('admin', '{"validateDBMetadata": 1, "apiParameters": {"version": "1", "strict": false}, "db": "ct"}');
SELECT cmd('admin', '{"validateDBMetadata": 1}');

-- renameCollection: dropTarget as a UUID, namespace errors, time-series
SELECT cmd('ct', '{"create": "r1"}');
SELECT cmd('ct', '{"create": "r2"}');
SELECT cmd('admin', '{"renameCollection": "ct.r1", "to": "ct.r2", "dropTarget": {"$binary": {"base64": "AAAAAAAAAAAAAAAAAAAAAA==", "subType": "04"}}}');
SELECT cmd('admin', '{"renameCollection": "ct.r1", "to": "ct.r2", "dropTarget": {"$binary": {"base64": "AAAAAAAAAAA=", "subType": "04"}}}');
SELECT cmd('admin', '{"renameCollection": "ct.r1", "to": "other.r2", "dropTarget": {"$binary": {"base64": "AAAAAAAAAAAAAAAAAAAAAA==", "subType": "04"}}}');
SELECT cmd('admin', '{"renameCollection": "ct.r1", "to": "ct.r2", "dropTarget": 1}');
SELECT cmd('admin', '{"renameCollection": "ct.r1", "to": "ct.r3", "stayTemp": 1}');
SELECT cmd('admin', '{"renameCollection": "ct.r1", "to": "ct.r3", "collectionUUID": "x"}');
SELECT cmd('admin', '{"renameCollection": null, "to": "ct.r3"}');
SELECT cmd('admin', '{"renameCollection": "ct.r1", "to": "ct.system.js"}');
SELECT cmd('admin', '{"renameCollection": "ct.r1", "to": "ct.$x"}');
SELECT cmd('admin', '{"renameCollection": "ct.r1", "to": "ct..x"}');
SELECT cmd('admin', '{"renameCollection": "ct.r1", "to": "local.oplog.x"}');
SELECT cmd('ct', '{"create": "ts", "timeseries": {"timeField": "t"}}');
SELECT cmd('admin', '{"renameCollection": "ct.ts", "to": "ct.ts2"}');
SELECT cmd('admin', '{"renameCollection": "ct.r1", "to": "ct.ts", "dropTarget": true}');
SELECT cmd('admin', '{"renameCollection": "ct.r1", "to": "ct.r2", "dropTarget": true}');
SELECT cmd('ct', '{"listCollections": 1, "nameOnly": true, "filter": {"name": {"$in": ["r1", "r2"]}}}');

-- create: view options MongoDB ignores, null stages, pipeline limits;
-- capped size and max bounds; time-series spans
SELECT cmd('ct', '{"create": "v1", "viewOn": "r2", "pipeline": [null, {"$match": {}}], "capped": true, "size": 1, "validator": {"a": 1}}');
SELECT cmd('ct', '{"listCollections": 1, "filter": {"name": "v1"}}')->'cursor'->'firstBatch'->0->'options';
SELECT cmd('ct', '{"create": "v2", "viewOn": "v2"}');
SELECT cmd('ct', '{"create": "v3", "viewOn": "r2", "pipeline": [{"$lookup": {"from": "a", "pipeline": [{"$facet": {"f": [{"$unionWith": {"coll": "b", "pipeline": []}}]}}]}}]}');
SELECT cmd('ct', '{"create": "c1", "capped": true, "size": 0.9}');
SELECT cmd('ct', '{"create": "c1", "capped": true, "size": 4096, "max": {"$numberDouble": "Infinity"}}');
SELECT cmd('ct', '{"create": "c1", "capped": true, "size": 4096, "max": 2147483647.9}');
SELECT cmd('ct', '{"create": "c2", "clusteredIndex": null}');
SELECT cmd('ct', '{"create": "c2", "collation": {"locale": "en", "backwards": null}}');
SELECT cmd('ct', '{"create": "t1", "timeseries": {"timeField": "t", "granularity": "minutes", "bucketMaxSpanSeconds": 86400}}');
SELECT cmd('ct', '{"create": "t2", "timeseries": {"timeField": "t", "granularity": "minutes", "bucketMaxSpanSeconds": 3600}}');
SELECT cmd('ct', '{"create": "t3", "timeseries": {"timeField": "t", "bucketMaxSpanSeconds": 3.9, "bucketRoundingSeconds": 3}}');

-- collMod: time-series buckets only coarser; an index made unique over duplicates
SELECT cmd('ct', '{"create": "ts2", "timeseries": {"timeField": "t", "granularity": "minutes"}}');
SELECT cmd('ct', '{"collMod": "ts2", "timeseries": {"granularity": "seconds"}}');
SELECT cmd('ct', '{"collMod": "ts2", "timeseries": {"bucketMaxSpanSeconds": 7200, "bucketRoundingSeconds": 7200}}');
SELECT cmd('ct', '{"collMod": "ts2", "timeseries": {"bucketMaxSpanSeconds": 90000}}');
SELECT cmd('ct', '{"collMod": "ts2", "timeseries": {"bucketMaxSpanSeconds": 90000, "bucketRoundingSeconds": 90000.5}}');
SELECT cmd('ct', '{"collMod": "ts2", "timeseries": {"granularity": "hours"}}');
SELECT cmd('ct', '{"listCollections": 1, "filter": {"name": "ts2"}}')->'cursor'->'firstBatch'->0->'options';
SELECT cmd('ct', '{"collMod": "ts2", "changeStreamPreAndPostImages": {"enabled": false}}');
SELECT cmd('ct', '{"insert": "u", "documents": [{"_id": 1, "a": 1}, {"_id": 2, "a": 1}, {"_id": 3}]}');
SELECT cmd('ct', '{"createIndexes": "u", "indexes": [{"key": {"a": 1}, "name": "a_1"}]}');
SELECT cmd('ct', '{"collMod": "u", "index": {"name": "a_1", "unique": true}}');
SELECT cmd('ct', '{"collMod": "u", "index": {"name": "a_1", "keyPattern": {"a": 1}, "hidden": true}}');
SELECT cmd('ct', '{"collMod": "u", "index": {"name": "a_1", "prepareUnique": true}}');
SELECT cmd('ct', '{"collMod": "u", "index": {"name": "a_1", "unique": true}}');
SELECT cmd('ct', '{"delete": "u", "deletes": [{"q": {"_id": 2}, "limit": 1}]}');
SELECT cmd('ct', '{"collMod": "u", "index": {"name": "a_1", "unique": true}}');

-- list commands: bool flags, batchSize, restricted filter operators, apiVersion
SELECT cmd('ct', '{"listCollections": 1, "nameOnly": 1}');
SELECT cmd('ct', '{"listCollections": 1, "cursor": {"batchSize": -1}}');
SELECT cmd('admin', '{"listDatabases": 1, "filter": {"name": {"$near": [0, 0]}}}');
SELECT cmd('admin', '{"listDatabases": 1, "filter": {"$text": {"$search": "x"}}}');
SELECT cmd('admin', '{"listDatabases": 1, "apiVersion": "2"}');
SELECT cmd('ct', '{"create": "vx", "validator": {"$expr": {"$badOp": 1}}}');
SELECT cmd('ct', '{"create": "vx", "validator": {"$or": [{"a": {"$nearSphere": [0, 0]}}]}}');

-- cloneCollectionAsCapped: names must be strings, unknown fields ignored,
-- the client-writable system collections allowed as targets
SELECT cmd('ct', '{"cloneCollectionAsCapped": "u", "size": 4096}');
SELECT cmd('ct', '{"cloneCollectionAsCapped": 1, "toCollection": "u2", "size": 4096}');
SELECT cmd('ct', '{"cloneCollectionAsCapped": "u", "toCollection": "system.js", "size": 4096, "other": 1}');
SELECT cmd('ct', '{"cloneCollectionAsCapped": "u", "toCollection": "system.other", "size": 4096}');

-- compact: nothing to free (PostgreSQL vacuums)
SELECT cmd('ct', '{"compact": "u", "force": true}');
SELECT cmd('ct', '{"compact": "u", "dryRun": true}');
SELECT cmd('ct', '{"compact": "nope"}');
SELECT cmd('ct', '{"compact": "v1"}');

-- drop and dropDatabase (which takes only 1)
SELECT cmd('ct', '{"drop": "small"}');
SELECT cmd('ct', '{"dropDatabase": true}');
SELECT cmd('ct', '{"dropDatabase": null}');
SELECT cmd('ct', '{"dropDatabase": 0.9}');
SELECT cmd('ct', '{"dropDatabase": {"$numberDecimal": "0.9"}}');
SELECT cmd('ct', '{"dropDatabase": 1}');
SELECT cmd('ct', '{"listCollections": 1, "nameOnly": true}');
DROP FUNCTION cmd(text, text);
