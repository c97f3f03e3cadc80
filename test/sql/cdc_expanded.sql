-- MongoDB's expanded change events (showExpandedEvents): create,
-- createIndexes, dropIndexes, modify, collectionUUID, a rename's
-- operationDescription and updateDescription.disambiguatedPaths; absent
-- from streams that do not ask for them.  Tokens, times and UUIDs are
-- masked in the listings; the checks compare them with the catalog.
SET search_path = public, nosql;
SET client_min_messages = warning;

CREATE FUNCTION cx_cmd(db text, c text) RETURNS bson
    LANGUAGE sql AS $$ SELECT nosql.run_command(db, c::bson) $$;
CREATE FUNCTION cx_mask(data text) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(data,
        '"_data": "[0-9A-F]{24}"', '"_data": "<token>"'),
        '"\$timestamp": \{"t": [0-9]+, "i": [0-9]+\}', '"$timestamp": <time>', 'g'),
        '"\$date": "[^"]*"', '"$date": "<commit>"'),
        '\{"\$binary": \{"base64": "[^"]*", "subType": "04"\}\}', '<uuid>', 'g')
$$;
-- Wait until the decoder logged the marker document mark of cx.mark
CREATE FUNCTION cx_caught_up(after bson, mark int) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    last bson := after;
    e bson;
BEGIN
    FOR i IN 1..60 LOOP
        FOR e IN SELECT w FROM nosql.watch('cx.mark', resume_after => last, max_wait_ms => 1000) w LOOP
            IF e -> 'documentKey' ->> '_id' = mark::text THEN
                RETURN true;
            END IF;
            last := e -> '_id';
        END LOOP;
    END LOOP;
    RETURN false;
END $$;
-- A collection's UUID as the events show it (listCollections' info.uuid)
CREATE FUNCTION cx_uuid(coll text) RETURNS text LANGUAGE sql AS $$
    SELECT (cx_cmd('cx', format('{"listCollections": 1, "filter": {"name": "%s"}}', coll))
            -> 'cursor' -> 'firstBatch' -> '0' -> 'info' -> 'uuid')::text
$$;

SELECT cx_cmd('cx', '{"create": "mark"}') ->> 'ok' AS ok;
SELECT 'created' FROM pg_create_logical_replication_slot('cx_slot', 'nosql');
SELECT nosql.watch_start_token() AS t0 \gset

-- explicit create with options; implicit create by an insert
SELECT cx_cmd('cx', '{"create": "c1", "validator": {"a": {"$exists": true}}, "validationLevel": "moderate"}') ->> 'ok' AS ok;
SELECT cx_cmd('cx', '{"insert": "c2", "documents": [{"_id": 1, "a": {"0": 1, "1": [5, 6]}, "arr": [1, 2], "b": 1}]}') ->> 'n' AS n;
-- two indexes in one createIndexes: one event; again: none
SELECT cx_cmd('cx', '{"createIndexes": "c1", "indexes": [{"key": {"a": 1}, "name": "a_1"}, {"key": {"b": -1}, "name": "b_-1", "expireAfterSeconds": 60}]}') ->> 'numIndexesAfter' AS n;
SELECT cx_cmd('cx', '{"createIndexes": "c1", "indexes": [{"key": {"a": 1}, "name": "a_1"}]}') ->> 'note' AS note;
-- collMod: validation, an index hidden, its TTL, pre-images
SELECT cx_cmd('cx', '{"collMod": "c1", "validator": {"b": {"$exists": true}}, "validationAction": "warn"}') ->> 'ok' AS ok;
SELECT cx_cmd('cx', '{"collMod": "c1", "index": {"name": "a_1", "hidden": true}}') ->> 'ok' AS ok;
SELECT cx_cmd('cx', '{"collMod": "c1", "index": {"name": "b_-1", "expireAfterSeconds": 120}}') ->> 'ok' AS ok;
SELECT cx_cmd('cx', '{"collMod": "c1", "changeStreamPreAndPostImages": {"enabled": true}}') ->> 'ok' AS ok;
-- dropIndexes of two: one event each
SELECT cx_cmd('cx', '{"dropIndexes": "c1", "index": "*"}') ->> 'ok' AS ok;
-- updates: "a.0" is a field named "0", "arr.1" an element, "a.1.0" both
SELECT cx_cmd('cx', '{"update": "c2", "updates": [{"q": {"_id": 1}, "u": {"$set": {"a.0": 2, "arr.1": 3, "a.1.0": 7}}}]}') ->> 'nModified' AS n;
SELECT cx_cmd('cx', '{"update": "c2", "updates": [{"q": {"_id": 1}, "u": {"$unset": {"a.0": 1}, "$set": {"b": 2}}}]}') ->> 'nModified' AS n;
-- a field name with a dot (made by a pipeline update)
SELECT cx_cmd('cx', '{"update": "c2", "updates": [{"q": {"_id": 1}, "u": [{"$replaceWith": {"$setField": {"field": "x.y", "input": "$$ROOT", "value": 1}}}]}]}') ->> 'nModified' AS n;
SELECT cx_uuid('c1') AS c1_uuid \gset
SELECT cx_uuid('c2') AS c2_uuid \gset
-- rename, then rename over an existing collection (dropTarget)
SELECT cx_cmd('admin', '{"renameCollection": "cx.c2", "to": "cx.c3"}') ->> 'ok' AS ok;
SELECT cx_cmd('cx', '{"create": "c4"}') ->> 'ok' AS ok;
SELECT cx_uuid('c4') AS c4_uuid \gset
SELECT cx_cmd('admin', '{"renameCollection": "cx.c1", "to": "cx.c4", "dropTarget": true}') ->> 'ok' AS ok;
SELECT cx_cmd('cx', '{"drop": "c3"}') ->> 'ok' AS ok;
SELECT cx_cmd('cx', '{"insert": "mark", "documents": [{"_id": 1}]}') ->> 'n' AS n;
SELECT cx_caught_up(:'t0', 1);

-- Without showExpandedEvents: none of the new events or fields
SELECT cx_mask(e::text) FROM nosql.watch('cx', resume_after => :'t0') e
 WHERE e -> 'ns' ->> 'coll' IS DISTINCT FROM 'mark';
-- With it: every event, in MongoDB's field order
SELECT cx_mask(e::text) FROM nosql.watch('cx', resume_after => :'t0', show_expanded_events => true) e
 WHERE e -> 'ns' ->> 'coll' IS DISTINCT FROM 'mark';
-- collectionUUID is the collection's, as listCollections showed it
SELECT e ->> 'operationType' AS op, e -> 'ns' ->> 'coll' AS coll,
       CASE (e -> 'collectionUUID')::text WHEN :'c1_uuid' THEN 'c1' WHEN :'c2_uuid' THEN 'c2'
            WHEN :'c4_uuid' THEN 'c4' ELSE (e -> 'collectionUUID')::text END AS uuid_of,
       CASE (e -> 'operationDescription' -> 'dropTarget')::text WHEN :'c4_uuid' THEN 'c4' END AS drop_target
  FROM nosql.watch('cx', resume_after => :'t0', show_expanded_events => true) e
 WHERE e -> 'ns' ->> 'coll' IS DISTINCT FROM 'mark';
-- the stream of one collection: its events only; rename invalidates
SELECT e ->> 'operationType' AS op
  FROM nosql.watch('cx.c2', resume_after => :'t0', show_expanded_events => true) e;
-- nosql.watch_stream takes the option too
SELECT count(*) AS expanded_events
  FROM nosql.watch_stream('cx', resume_after => :'t0', max_events => 100, idle_timeout_ms => 10,
                          show_expanded_events => true) e
 WHERE e ->> 'operationType' IN ('create', 'createIndexes', 'dropIndexes', 'modify');
SELECT count(*) AS expanded_events
  FROM nosql.watch_stream('cx', resume_after => :'t0', max_events => 100, idle_timeout_ms => 10) e
 WHERE e ->> 'operationType' IN ('create', 'createIndexes', 'dropIndexes', 'modify')
    OR (e -> 'collectionUUID') IS NOT NULL;

-- aggregate + $changeStream, and getMore
SELECT cx_cmd('cx', format('{"aggregate": 1, "pipeline": [{"$changeStream": {"showExpandedEvents": true, "resumeAfter": %s}},
    {"$match": {"ns.coll": {"$ne": "mark"}}}, {"$project": {"operationType": 1, "_id": 0}}],
    "cursor": {"batchSize": 3}}', :'t0')) AS r \gset
SELECT :'r'::bson -> 'cursor' -> 'firstBatch' AS first_batch;
SELECT cx_cmd('cx', format('{"getMore": %s, "collection": "$cmd.aggregate", "batchSize": 100}',
                           (:'r'::bson -> 'cursor' ->> 'id'))) -> 'cursor' -> 'nextBatch' AS next_batch;
SELECT cx_cmd('cx', format('{"aggregate": 1, "pipeline": [{"$changeStream": {"resumeAfter": %s}},
    {"$match": {"ns.coll": {"$ne": "mark"}}}, {"$project": {"operationType": 1, "_id": 0}}],
    "cursor": {"batchSize": 100}}', :'t0')) -> 'cursor' -> 'firstBatch' AS without_expanded;
SELECT cx_cmd('cx', format('{"aggregate": 1, "pipeline": [{"$changeStream": {"showExpandedEvents": false, "resumeAfter": %s}},
    {"$match": {"operationType": "update"}}, {"$project": {"updateDescription": 1, "_id": 0}}],
    "cursor": {"batchSize": 100}}', :'t0')) -> 'cursor' -> 'firstBatch' AS updates_without_expanded;
-- bad option values: MongoDB's TypeMismatch
SELECT cx_cmd('cx', '{"aggregate": 1, "pipeline": [{"$changeStream": {"showExpandedEvents": 1}}], "cursor": {}}');
SELECT cx_cmd('cx', '{"aggregate": 1, "pipeline": [{"$changeStream": {"showExpandedEvents": "yes"}}], "cursor": {}}');

-- A watcher sees the events of the collections it may read only
CREATE ROLE regress_cx_watcher;
GRANT SELECT ON nosql.change_log TO regress_cx_watcher;
SELECT format('GRANT SELECT ON %s TO regress_cx_watcher', relation) AS grant_c4
  FROM nosql.collection WHERE database = 'cx' AND name = 'c4' \gset
:grant_c4;
SET ROLE regress_cx_watcher;
SELECT e ->> 'operationType' AS op, e -> 'ns' ->> 'coll' AS coll
  FROM nosql.watch('cx', resume_after => :'t0', show_expanded_events => true) e;
RESET ROLE;
DROP OWNED BY regress_cx_watcher;
DROP ROLE regress_cx_watcher;

-- The output plugin: option show_expanded_events (off by default)
SELECT n, cx_mask(data) FROM (
    SELECT row_number() OVER () AS n, data
      FROM pg_logical_slot_peek_changes('cx_slot', NULL, NULL, 'collections', 'cx.c1,cx.c2,cx.c3,cx.c4',
                                        'include_kv', 'off')) s;
SELECT n, cx_mask(data) FROM (
    SELECT row_number() OVER () AS n, data
      FROM pg_logical_slot_peek_changes('cx_slot', NULL, NULL, 'collections', 'cx.c1,cx.c2,cx.c3,cx.c4',
                                        'include_kv', 'off', 'show_expanded_events', 'on')) s;
SELECT count(*) FROM pg_logical_slot_peek_changes('cx_slot', NULL, NULL, 'show_expanded_events', 'maybe');
SELECT 'dropped' FROM pg_drop_replication_slot('cx_slot');
