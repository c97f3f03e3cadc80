-- The metadata stages (src/agg_meta.c): $collStats, $indexStats,
-- $planCacheStats, $listClusterCatalog, $querySettings and $currentOp as the
-- sources of their pipelines, the stages after them, where they may appear,
-- their specification errors with MongoDB's codes, and what a role without
-- privileges sees.  Machine-specific values (sizes, times, pids, the host)
-- are checked by type or sign.
SET search_path = public, nosql;

CREATE FUNCTION cmd(db text, c text) RETURNS bson
    LANGUAGE sql AS $$ SELECT nosql.run_command(db, c::bson) $$;
-- the documents of an aggregate (errors as {code, errmsg} like run_command)
CREATE FUNCTION agg(db text, coll text, pipeline text) RETURNS bson
    LANGUAGE sql AS $$
    SELECT nosql.run_command(db, ('{"aggregate": ' ||
        CASE WHEN coll IS NULL THEN '1' ELSE to_json(coll)::text END ||
        ', "pipeline": ' || pipeline || ', "cursor": {}}')::bson)
$$;

SELECT cmd('mt', '{"insert": "c", "documents": [{"_id": 1, "a": 1, "s": "x"}, {"_id": 2, "a": 2}, {"_id": 3}]}');
SELECT cmd('mt', '{"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "a_1"}, {"key": {"s": -1, "a": 1}, "name": "s_a", "sparse": true}]}');
-- a hidden index is renamed in PostgreSQL: still counted
SELECT cmd('mt', '{"collMod": "c", "index": {"name": "s_a", "hidden": true}}');
SELECT cmd('mt', '{"create": "v", "viewOn": "c", "pipeline": []}');
SELECT cmd('mt', '{"create": "vv", "viewOn": "v", "pipeline": []}');
SELECT cmd('mt', '{"create": "vp", "viewOn": "c", "pipeline": [{"$match": {"a": 1}}]}');
SELECT cmd('mt', '{"create": "capped", "capped": true, "size": 4096, "max": 10}');

-- $collStats: every section; sizes are real, so only their signs are shown
SELECT agg('mt', 'c', '[{"$collStats": {"count": {}}}, {"$project": {"localTime": 0, "host": 0}}]');
SELECT agg('mt', 'c', '[{"$collStats": {"latencyStats": {"histograms": true}, "storageStats": {"scale": 2}, "count": {}, "queryExecStats": {}}},
  {"$project": {"_id": 0, "ns": 1, "host": {"$type": "$host"}, "localTime": {"$type": "$localTime"},
    "reads": {"$type": "$latencyStats.reads.ops"}, "writes": {"$type": "$latencyStats.writes.latency"},
    "histogram": "$latencyStats.reads.histogram",
    "count": 1, "storageCount": "$storageStats.count", "capped": "$storageStats.capped",
    "nindexes": "$storageStats.nindexes", "indexBuilds": "$storageStats.indexBuilds",
    "indexNames": {"$map": {"input": {"$objectToArray": "$storageStats.indexSizes"}, "in": "$$this.k"}},
    "sized": {"$gt": ["$storageStats.storageSize", 0]}, "scaleFactor": "$storageStats.scaleFactor",
    "totals": {"$eq": ["$storageStats.totalSize", {"$add": ["$storageStats.storageSize", "$storageStats.totalIndexSize"]}]},
    "indexTotal": {"$eq": ["$storageStats.totalIndexSize", {"$sum": {"$map": {"input": {"$objectToArray": "$storageStats.indexSizes"}, "in": "$$this.v"}}}]},
    "allSized": {"$allElementsTrue": [{"$map": {"input": {"$objectToArray": "$storageStats.indexSizes"}, "in": {"$gt": ["$$this.v", 0]}}}]},
    "scans": {"$type": "$queryExecStats.collectionScans.total"}}}]');
-- a capped collection reports its limits
SELECT agg('mt', 'capped', '[{"$collStats": {"storageStats": {}}}, {"$project": {"_id": 0, "capped": "$storageStats.capped", "max": "$storageStats.max", "maxSize": "$storageStats.maxSize", "count": "$storageStats.count"}}]');
-- the stages after it work on its document
SELECT agg('mt', 'c', '[{"$collStats": {"count": {}}}, {"$match": {"count": {"$gte": 3}}}, {"$project": {"_id": 0, "n": "$count"}}]');
-- no section: ns, host and localTime only; a missing collection has those too
SELECT agg('mt', 'c', '[{"$collStats": {}}, {"$project": {"ns": 1, "fields": {"$size": {"$objectToArray": "$$ROOT"}}}}]');
SELECT agg('mt', 'missing', '[{"$collStats": {"latencyStats": {}}}, {"$project": {"ns": 1, "ops": "$latencyStats.reads.ops"}}]');
-- in a $lookup's sub-pipeline: the stats of the foreign collection
SELECT agg('mt', 'c', '[{"$match": {"_id": 1}}, {"$lookup": {"from": "c", "pipeline": [{"$collStats": {"count": {}}}, {"$project": {"_id": 0, "count": 1}}], "as": "stats"}}, {"$project": {"stats": 1}}]');
-- errors: the specification
SELECT agg('mt', 'c', '[{"$collStats": 1}]');
SELECT agg('mt', 'c', '[{"$collStats": {"unknown": {}}}]');
SELECT agg('mt', 'c', '[{"$collStats": {"latencyStats": 1}}]');
SELECT agg('mt', 'c', '[{"$collStats": {"latencyStats": {"histograms": 1}}}]');
SELECT agg('mt', 'c', '[{"$collStats": {"latencyStats": {"x": true}}}]');
SELECT agg('mt', 'c', '[{"$collStats": {"storageStats": {"scale": 0}}}]');
SELECT agg('mt', 'c', '[{"$collStats": {"storageStats": {"scale": {"$numberDecimal": "0.5"}}}}]');
SELECT agg('mt', 'c', '[{"$collStats": {"storageStats": {"scale": "1"}}}]');
SELECT agg('mt', 'c', '[{"$collStats": {"storageStats": {"verbose": 1}}}]');
SELECT agg('mt', 'c', '[{"$collStats": {"count": {"x": 1}, "latencyStats": {"x": 1}}}]');
SELECT agg('mt', 'c', '[{"$collStats": {"queryExecStats": []}}]');
-- errors: a missing collection, a view
SELECT agg('mt', 'missing', '[{"$collStats": {"count": {}}}]');
SELECT agg('mt', 'v', '[{"$collStats": {"storageStats": {}}}]');
-- errors: position, {aggregate: 1}, $facet, sub-pipelines
SELECT agg('mt', 'c', '[{"$match": {}}, {"$collStats": {}}]');
SELECT agg('mt', NULL, '[{"$collStats": {}}]');
SELECT agg('mt', 'c', '[{"$facet": {"a": [{"$collStats": {}}]}}]');
SELECT agg('mt', 'c', '[{"$facet": {"a": [{"$lookup": {"from": "c", "pipeline": [{"$collStats": {}}], "as": "j"}}]}}]');
SELECT agg('mt', 'c', '[{"$lookup": {"from": "c", "pipeline": [{"$match": {}}, {"$collStats": {}}], "as": "j"}}]');
SELECT agg('mt', 'c', '[{"$collStats": {}}, {"$unionWith": {"coll": "c", "pipeline": [{"$match": {}}, {"$collStats": {}}]}}]');

-- $indexStats: one document per index, accesses counting the index scans
SELECT agg('mt', 'c', '[{"$indexStats": {}}, {"$project": {"_id": 0, "name": 1, "key": 1, "spec": 1, "ops": {"$type": "$accesses.ops"}, "since": {"$type": "$accesses.since"}, "host": {"$type": "$host"}}}, {"$sort": {"name": 1}}]');
SET enable_seqscan = off;
SELECT cmd('mt', '{"find": "c", "filter": {"a": 2}}');
SELECT cmd('mt', '{"find": "c", "filter": {"a": 1}}');
RESET enable_seqscan;
SELECT pg_stat_force_next_flush();
SELECT pg_sleep(0.1);
SELECT agg('mt', 'c', '[{"$indexStats": {}}, {"$match": {"name": "a_1"}}, {"$project": {"_id": 0, "name": 1, "used": {"$gte": ["$accesses.ops", 2]}}}]');
SELECT agg('mt', 'c', '[{"$indexStats": {}}, {"$group": {"_id": null, "n": {"$sum": 1}}}]');
-- through nosql.aggregate
SELECT aggregate('mt.c', '[{"$indexStats": {}}, {"$project": {"_id": 0, "name": 1}}, {"$sort": {"name": -1}}]');
-- a missing collection has none
SELECT agg('mt', 'missing', '[{"$indexStats": {}}]');
-- errors
SELECT agg('mt', 'c', '[{"$indexStats": {"a": 1}}]');
SELECT agg('mt', 'c', '[{"$indexStats": []}]');
SELECT agg('mt', 'c', '[{"$indexStats": {}}, {"$indexStats": {}}]');
-- a view runs its stages first: through views without stages, the
-- collection's indexes; after a view's stages it is not first
SELECT agg('mt', 'vv', '[{"$indexStats": {}}, {"$project": {"_id": 0, "name": 1}}]');
SELECT agg('mt', 'vp', '[{"$indexStats": {}}]');
SELECT agg('mt', 'c', '[{"$facet": {"a": [{"$unionWith": {"coll": "c", "pipeline": [{"$indexStats": {}}]}}]}}]');

-- $planCacheStats: this backend's saved plans that read the collection
SELECT cmd('mt', '{"planCacheClear": "c"}');
SELECT agg('mt', 'c', '[{"$planCacheStats": {}}]');
SELECT cmd('mt', '{"find": "c", "filter": {"s": "x"}}');
SELECT agg('mt', 'c', '[{"$planCacheStats": {}}, {"$project": {"_id": 0, "isActive": 1, "works": 1, "indexFilterSet": 1,
  "sql": {"$regexMatch": {"input": "$createdFromQuery.sql", "regex": "^SELECT"}},
  "key": {"$strLenCP": "$planCacheKey"}, "created": {"$type": "$timeOfCreation"}, "bytes": {"$gt": ["$estimatedSizeBytes", 0]}}}]');
-- other collections' plans are not listed
SELECT agg('mt', 'capped', '[{"$planCacheStats": {}}]');
-- errors
SELECT agg('mt', 'c', '[{"$planCacheStats": 1}]');
SELECT agg('mt', 'c', '[{"$planCacheStats": {"allHosts": 1}}]');
SELECT agg('mt', 'c', '[{"$planCacheStats": {"allHosts": true}}]');
SELECT agg('mt', 'c', '[{"$planCacheStats": {"x": 1}}]');
SELECT agg('mt', 'missing', '[{"$planCacheStats": {}}]');
SELECT agg('mt', 'v', '[{"$planCacheStats": {}}, {"$count": "n"}]');
SELECT agg('mt', 'vp', '[{"$planCacheStats": {}}]');
SELECT agg('mt', 'c', '[{"$project": {"a": 1}}, {"$planCacheStats": {}}]');
SELECT cmd('mt', '{"aggregate": "c", "pipeline": [{"$planCacheStats": {}}], "cursor": {}, "readConcern": {"level": "majority"}}');

-- $listClusterCatalog: the collections of the database (all of them on admin)
SELECT agg('mt', NULL, '[{"$listClusterCatalog": {}}, {"$project": {"_id": 0, "db": 1, "ns": 1, "name": 1, "type": 1, "options": 1, "idIndex": 1, "sharded": 1, "uuid": {"$type": "$info.uuid"}}}]');
SELECT agg('admin', NULL, '[{"$listClusterCatalog": {"shards": true}}, {"$match": {"db": "mt"}}, {"$count": "n"}]');
SELECT agg('nothing_here', NULL, '[{"$listClusterCatalog": {}}]');
-- errors
SELECT agg('mt', NULL, '[{"$listClusterCatalog": 1}]');
SELECT agg('mt', NULL, '[{"$listClusterCatalog": {"shards": 1}}]');
SELECT agg('mt', NULL, '[{"$listClusterCatalog": {"x": true}}]');
SELECT agg('mt', NULL, '[{"$match": {}}, {"$listClusterCatalog": {}}]');
SELECT agg('mt', NULL, '[{"$listClusterCatalog": {}}, {"$listClusterCatalog": {}}]');
SELECT agg('mt', 'c', '[{"$listClusterCatalog": {}}]');
SELECT agg('mt', 'c', '[{"$lookup": {"from": "c", "pipeline": [{"$listClusterCatalog": {}}], "as": "j"}}]');
SELECT agg('mt', NULL, '[{"$facet": {"a": [{"$listClusterCatalog": {}}]}}]');

-- $querySettings: there is no query settings store, so no documents
SELECT agg('admin', NULL, '[{"$querySettings": {"showDebugQueryShape": true}}]');
SELECT agg('mt', NULL, '[{"$querySettings": {}}, {"$count": "n"}]');
-- errors
SELECT agg('admin', NULL, '[{"$querySettings": 1}]');
SELECT agg('admin', NULL, '[{"$querySettings": {"showDebugQueryShape": 1}}]');
SELECT agg('admin', NULL, '[{"$querySettings": {"x": 1}}]');
SELECT agg('mt', 'c', '[{"$querySettings": {}}]');
SELECT agg('admin', NULL, '[{"$querySettings": {}}, {"$querySettings": {}}]');

-- $currentOp: this backend's command is active, with MongoDB's fields
SELECT agg('admin', NULL, '[{"$currentOp": {}}, {"$match": {"command.sql": {"$regex": "currentOp"}}},
  {"$project": {"_id": 0, "type": 1, "active": 1, "op": 1, "desc": {"$substrCP": ["$desc", 0, 4]},
    "opid": {"$type": "$opid"}, "secs": {"$type": "$secs_running"}, "user": {"$first": "$effectiveUsers.user"},
    "time": {"$type": "$currentOpTime"}, "backend": "$postgres.backendType", "state": "$postgres.state"}}]');
-- without idleConnections, no inactive operations; with it, idle backends too
SELECT agg('admin', NULL, '[{"$currentOp": {"idleConnections": false}}, {"$match": {"active": false, "type": {"$ne": "idleSession"}}}, {"$count": "n"}]');
SELECT agg('admin', NULL, '[{"$currentOp": {"allUsers": true, "idleConnections": true, "localOps": true, "truncateOps": true}}, {"$match": {"desc": "checkpointer"}}, {"$project": {"_id": 0, "desc": 1, "active": 1, "op": 1}}]');
-- with idleCursors, this backend's open cursors
SELECT cmd('mt', '{"find": "c", "batchSize": 1}')->'cursor'->'ns';
SELECT agg('admin', NULL, '[{"$currentOp": {"idleCursors": true}}, {"$match": {"type": "idleCursor"}}, {"$project": {"_id": 0, "ns": 1, "id": {"$type": "$cursor.cursorId"}, "used": {"$type": "$cursor.lastAccessDate"}}}]');
-- errors
SELECT agg('admin', NULL, '[{"$currentOp": 1}]');
SELECT agg('admin', NULL, '[{"$currentOp": {"allUsers": 1}}]');
SELECT agg('admin', NULL, '[{"$currentOp": {"idleConnections": null}}]');
SELECT agg('admin', NULL, '[{"$currentOp": {"x": true}}]');
SELECT agg('admin', NULL, '[{"$currentOp": {"targetAllNodes": true}}]');
SELECT agg('admin', NULL, '[{"$currentOp": {}}, {"$currentOp": {}}]');
SELECT agg('mt', NULL, '[{"$currentOp": {}}]');
SELECT agg('admin', 'c', '[{"$currentOp": {}}]');
SELECT agg('admin', NULL, '[{"$facet": {"a": [{"$currentOp": {}}]}}]');
SELECT cmd('admin', '{"aggregate": 1, "pipeline": [{"$currentOp": {}}], "cursor": {}, "readConcern": {"level": "snapshot"}}');
SELECT cmd('mt', '{"aggregate": 1, "pipeline": [{"$currentOp": {}}], "cursor": {}, "apiVersion": "1", "apiStrict": true}');

-- the explain option shows the stage's function as the source
SELECT cmd('mt', '{"aggregate": "c", "pipeline": [{"$indexStats": {}}, {"$match": {"name": "a_1"}}], "explain": true}')->'postgres';

-- a role without privileges on the table sees no statistics, and other
-- roles' backends only with allUsers (pg_stat_activity hides their queries)
CREATE ROLE meta_nobody;
GRANT USAGE ON SCHEMA nosql TO meta_nobody;
SET ROLE meta_nobody;
SELECT agg('mt', 'c', '[{"$collStats": {"count": {}}}, {"$project": {"localTime": 0, "host": 0}}]');
SELECT agg('mt', 'c', '[{"$indexStats": {}}]');
RESET ROLE;
DROP OWNED BY meta_nobody;
DROP ROLE meta_nobody;

SELECT cmd('mt', '{"dropDatabase": 1}');
DROP FUNCTION agg(text, text, text);
DROP FUNCTION cmd(text, text);
