-- nosql.watch: change streams over the database's decoder and the change
-- log.  Resume tokens and commit times depend on the WAL position and the
-- clock: the listings mask them; the checks compare them with each other.
SET search_path = public, nosql;
SET client_min_messages = warning;

CREATE FUNCTION cw_cmd(db text, c text) RETURNS bson
    LANGUAGE sql AS $$ SELECT nosql.run_command(db, c::bson) $$;
CREATE FUNCTION cw_mask(data bson) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(regexp_replace(regexp_replace(data::text,
        '"_data": "[0-9A-F]{24}"', '"_data": "<token>"'),
        '"\$timestamp": \{"t": [0-9]+,', '"$timestamp": {"t": <secs>,'),
        '"\$date": "[^"]*"', '"$date": "<commit>"')
$$;
-- Wait (blocking in watch, no polling) until the decoder has logged the
-- marker document mark inserted into cw.mark: then every change committed
-- before it is in the log too (the log is filled in commit order).  Each
-- round resumes after the last event seen, so that it blocks for new ones.
CREATE FUNCTION caught_up(after bson, mark int, ns text DEFAULT 'cw.mark') RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    last bson := after;
    e bson;
BEGIN
    FOR i IN 1..60 LOOP
        FOR e IN SELECT w FROM nosql.watch(ns, resume_after => last, max_wait_ms => 1000) w LOOP
            IF e -> 'documentKey' ->> '_id' = mark::text THEN
                RETURN true;
            END IF;
            last := e -> '_id';
        END LOOP;
    END LOOP;
    RETURN false;
END $$;

SELECT cw_cmd('cw', '{"create": "a"}') ->> 'ok' AS ok;
SELECT cw_cmd('cw', '{"create": "b"}') ->> 'ok' AS ok;
SELECT cw_cmd('cw', '{"create": "mark"}') ->> 'ok' AS ok;
SELECT cw_cmd('cw2', '{"create": "a"}') ->> 'ok' AS ok;

-- The start: a stream from here misses nothing (this starts the decoder)
SELECT nosql.watch_start_token() AS t0 \gset
SELECT :'t0'::bson ->> '_data' ~ '^[0-9A-F]{16}0{8}$' AS start_token_shape;

SELECT cw_cmd('cw', '{"insert": "a", "documents": [{"_id": 1, "x": 1}, {"_id": 2, "x": 2}]}') ->> 'n' AS n;
SELECT cw_cmd('cw', '{"update": "a", "updates": [{"q": {"_id": 1}, "u": {"x": 10}}]}') ->> 'nModified' AS n;
SELECT cw_cmd('cw', '{"delete": "a", "deletes": [{"q": {"_id": 2}, "limit": 1}]}') ->> 'n' AS n;
SELECT cw_cmd('cw', '{"insert": "b", "documents": [{"_id": "b1"}]}') ->> 'n' AS n;
SELECT cw_cmd('cw2', '{"insert": "a", "documents": [{"_id": "other"}]}') ->> 'n' AS n;
SELECT cw_cmd('cw', '{"insert": "mark", "documents": [{"_id": 1}]}') ->> 'n' AS n;
SELECT caught_up(:'t0', 1);

-- A collection's events, in commit order
SELECT cw_mask(e) FROM nosql.watch('cw.a', resume_after => :'t0') e;
-- tokens increase strictly, and are the logged rows' keys
SELECT bool_and(tok > prev) AS increasing, count(*) AS events
  FROM (SELECT e -> '_id' ->> '_data' AS tok,
               lag(e -> '_id' ->> '_data', 1, '') OVER () AS prev
          FROM nosql.watch(NULL, resume_after => :'t0') e) s;
SELECT count(*) = 7 AS all_logged FROM nosql.change_log
 WHERE token > (:'t0'::bson ->> '_data') COLLATE "C";

-- Resuming after the first event returns the others, once
SELECT e -> '_id' AS t1 FROM nosql.watch('cw.a', resume_after => :'t0') e LIMIT 1 \gset
SELECT e ->> 'operationType' AS op, e -> 'documentKey' AS key
  FROM nosql.watch('cw.a', resume_after => :'t1') e;
SELECT count(*) FROM nosql.watch('cw.a', start_after => :'t1');
-- lower-case hex is the same token
SELECT count(*) FROM nosql.watch('cw.a', resume_after => json_build_object('_data', lower(:'t1'::bson ->> '_data'))::text::bson);

-- Namespaces: a collection, a database, every database
SELECT e -> 'ns' AS ns, count(*) FROM nosql.watch('cw', resume_after => :'t0') e GROUP BY 1 ORDER BY 1;
SELECT e -> 'ns' AS ns, count(*) FROM nosql.watch(NULL, resume_after => :'t0') e GROUP BY 1 ORDER BY 1;
SELECT count(*) FROM nosql.watch('cw.none', resume_after => :'t0');
SELECT count(*) FROM nosql.watch('nodb', resume_after => :'t0');

-- A pipeline over the events
SELECT e FROM nosql.watch('cw', '[{"$match": {"operationType": "insert"}}, {"$project": {"_id": 0, "ns": 1, "documentKey": 1}}]',
                          resume_after => :'t0') e;
SELECT e FROM nosql.watch('cw.a', '[{"$match": {"operationType": {"$in": ["replace", "delete"]}}},
                                     {"$addFields": {"k": "$documentKey._id"}}, {"$unset": ["clusterTime", "wallTime", "_id", "ns"]},
                                     {"$set": {"seen": true}}]', resume_after => :'t0') e;
SELECT e FROM nosql.watch('cw.a', '[{"$match": {"fullDocument.x": 10}}, {"$replaceRoot": {"newRoot": "$fullDocument"}}]',
                          resume_after => :'t0') e;
SELECT count(*) FROM nosql.watch('cw.a', '[]', resume_after => :'t0');

-- fullDocument: the events of this step carry their documents already
SELECT count(*) FROM nosql.watch('cw.a', resume_after => :'t0', full_document => 'updateLookup');
SELECT count(*) FROM nosql.watch('cw.a', resume_after => :'t0', full_document => 'whenAvailable');
SELECT count(*) FROM nosql.watch('cw.a', resume_after => :'t0', full_document => 'required');

-- A new stream starts now: nothing yet, after waiting max_wait_ms
SELECT clock_timestamp() AS before \gset
SELECT count(*) FROM nosql.watch('cw.a', max_wait_ms => 200);
SELECT clock_timestamp() - :'before'::timestamptz >= interval '200 ms' AS waited;
-- and returns as soon as an event arrives (here: one already logged)
SELECT clock_timestamp() AS before \gset
SELECT count(*) FROM nosql.watch('cw.a', resume_after => :'t0', max_wait_ms => 60000);
SELECT clock_timestamp() - :'before'::timestamptz < interval '30 s' AS at_once;

-- Bad arguments
\set SHOW_CONTEXT never
SELECT * FROM nosql.watch('cw.a', resume_after => '{"_data": "xyz"}');
SELECT * FROM nosql.watch('cw.a', resume_after => '{"x": 1}');
SELECT * FROM nosql.watch('cw.a', resume_after => '{"_data": 5}');
SELECT * FROM nosql.watch('cw.a', resume_after => '5');
SELECT * FROM nosql.watch('cw.a', resume_after => :'t0', start_after => :'t0');
SELECT * FROM nosql.watch('cw.a', full_document => 'whatever');
SELECT * FROM nosql.watch('cw.a', max_wait_ms => -1);
SELECT * FROM nosql.watch('cw.a', '[{"$group": {"_id": null}}]');
SELECT * FROM nosql.watch('cw.a', '[{"match": {}}]');
SELECT * FROM nosql.watch('cw.a', '[{"$match": {}, "$project": {"a": 1}}]');
SELECT * FROM nosql.watch('cw.a', '[1]');
SELECT * FROM nosql.watch('cw.a', '{"$match": {}}');
SELECT * FROM nosql.watch('cw.a', '[{"$match": {"$bad": 1}}]');
SELECT * FROM nosql.watch('.a');
SELECT * FROM nosql.watch('cw.');
SELECT * FROM nosql.watch('');
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT * FROM nosql.watch('cw.a', max_wait_ms => 10);
ROLLBACK;

-- Who may watch: REPLICATION or SELECT on nosql.change_log, and then only
-- the collections whose tables the role may read
CREATE ROLE regress_cdc_watcher;
GRANT USAGE ON SCHEMA nosql_data TO regress_cdc_watcher;
SET ROLE regress_cdc_watcher;
\set VERBOSITY terse
SELECT count(*) FROM nosql.watch('cw', resume_after => :'t0');
\set VERBOSITY default
RESET ROLE;
GRANT SELECT ON nosql.change_log TO regress_cdc_watcher;
SET ROLE regress_cdc_watcher;
SELECT count(*) FROM nosql.watch('cw', resume_after => :'t0');
RESET ROLE;
SELECT format('GRANT SELECT ON %s TO regress_cdc_watcher', relation) AS grant_a
  FROM nosql.collections WHERE database = 'cw' AND name = 'a' \gset
:grant_a;
SET ROLE regress_cdc_watcher;
SELECT e -> 'ns' AS ns, count(*) FROM nosql.watch(NULL, resume_after => :'t0') e GROUP BY 1 ORDER BY 1;
RESET ROLE;
REVOKE SELECT ON nosql.change_log FROM regress_cdc_watcher;
ALTER ROLE regress_cdc_watcher REPLICATION;
SET ROLE regress_cdc_watcher;
SELECT e -> 'ns' AS ns, count(*) FROM nosql.watch(NULL, resume_after => :'t0') e GROUP BY 1 ORDER BY 1;
\set VERBOSITY terse
SELECT nosql.change_log_trim();
SELECT count(*) FROM nosql.change_log;
\set VERBOSITY default
RESET ROLE;

-- Monitoring
SELECT slot_name ~ '^nosql_cdc_[0-9]+$' AS slot, decoder_pid IS NOT NULL AS decoding,
       decoded_events >= 7 AS decoded, lag_bytes >= 0 AS lag, retained_wal_bytes >= 0 AS retained,
       log_rows >= 7 AS rows, oldest_token <= newest_token AS ordered,
       horizon <= (:'t0'::bson ->> '_data') COLLATE "C" AS horizon_before_start
  FROM nosql.change_streams;

-- Retention: nothing is older than an hour; then everything older than now
SELECT max(token) AS last FROM nosql.change_log \gset
SET nosql.change_log_retention = '1h';
SELECT nosql.change_log_trim();
SELECT nosql.change_log_trim('0 seconds') >= 7 AS trimmed;
SELECT count(*) FROM nosql.change_log;
SELECT horizon = :'last' AS horizon_moved FROM nosql.change_streams;
RESET nosql.change_log_retention;
-- history lost: the events after these tokens are gone
SELECT * FROM nosql.watch('cw.a', resume_after => :'t0');
SELECT * FROM nosql.watch('cw.a', resume_after => :'t1');
-- from the horizon itself nothing was lost
SELECT json_build_object('_data', horizon)::text AS th FROM nosql.change_streams \gset
SELECT count(*) FROM nosql.watch(NULL, resume_after => :'th');

-- Later events come after the horizon
SELECT cw_cmd('cw', '{"insert": "mark", "documents": [{"_id": 2}]}') ->> 'n' AS n;
SELECT caught_up(:'th', 2);
SELECT cw_mask(e) FROM nosql.watch('cw', resume_after => :'th') e;

-- fullDocument of update events (which this step's plugin does not emit
-- yet: one is put into the log by hand, after every real event)
SELECT cw_cmd('cw', '{"insert": "up", "documents": [{"_id": 1, "v": "now"}]}') ->> 'n' AS n;
INSERT INTO nosql.change_log (token, database, coll, event) VALUES
    ('FFFFFFFFFFFFFFF000000001', 'cw', 'up', '{"_id": {"_data": "FFFFFFFFFFFFFFF000000001"}, "operationType": "update",
      "ns": {"db": "cw", "coll": "up"}, "documentKey": {"_id": 1}, "updateDescription": {"updatedFields": {"v": "now"}}}'),
    ('FFFFFFFFFFFFFFF000000002', 'cw', 'up', '{"_id": {"_data": "FFFFFFFFFFFFFFF000000002"}, "operationType": "update",
      "ns": {"db": "cw", "coll": "up"}, "documentKey": {"_id": 2}, "fullDocument": null, "updateDescription": {}}');
SELECT e FROM nosql.watch('cw.up', '[{"$project": {"_id": 0, "fullDocument": 1, "documentKey": 1}}]',
                          resume_after => '{"_data": "FFFFFFFFFFFFFFF000000000"}') e;
SELECT e FROM nosql.watch('cw.up', '[{"$project": {"_id": 0, "fullDocument": 1, "documentKey": 1}}]',
                          resume_after => '{"_data": "FFFFFFFFFFFFFFF000000000"}', full_document => 'updateLookup') e;
SELECT e ->> 'operationType' AS op, e -> 'fullDocument' AS doc, e -> 'ns' AS ns
  FROM nosql.watch('cw.up', resume_after => '{"_data": "FFFFFFFFFFFFFFF000000000"}', full_document => 'whenAvailable') e;
\set SHOW_CONTEXT never
SELECT e FROM nosql.watch('cw.up', resume_after => '{"_data": "FFFFFFFFFFFFFFF000000000"}', full_document => 'required') e;
\set SHOW_CONTEXT errors
-- a role that may not read the collection gets none of its events
SET ROLE regress_cdc_watcher;
\set VERBOSITY terse
SELECT count(*) FROM nosql.watch('cw.up', resume_after => '{"_data": "FFFFFFFFFFFFFFF000000000"}', full_document => 'updateLookup');
\set VERBOSITY default
RESET ROLE;
DELETE FROM nosql.change_log WHERE token >= 'FFFFFFFFFFFFFFF000000000';

-- The plugin's update events: fullDocument looked up at read time
SELECT nosql.watch_start_token() AS t2 \gset
SELECT cw_cmd('cw', '{"update": "up", "updates": [{"q": {"_id": 1}, "u": {"$set": {"v": "later"}}}]}') ->> 'nModified' AS n;
SELECT cw_cmd('cw', '{"update": "up", "updates": [{"q": {"_id": 1}, "u": {"$set": {"v": "latest"}, "$unset": {"gone": 1}}}]}') ->> 'nModified' AS n;
SELECT cw_cmd('cw', '{"insert": "mark", "documents": [{"_id": 3}]}') ->> 'n' AS n;
SELECT caught_up(:'t2', 3);
SELECT e ->> 'operationType' AS op, e -> 'updateDescription' AS description, e -> 'fullDocument' AS doc
  FROM nosql.watch('cw.up', resume_after => :'t2') e;
SELECT e ->> 'operationType' AS op, e -> 'fullDocument' AS doc
  FROM nosql.watch('cw.up', resume_after => :'t2', full_document => 'updateLookup') e;

-- Dropping the watched collection: the drop, then an invalidate with the
-- drop's token, and the stream ends there
SELECT cw_cmd('cw', '{"drop": "up"}') ->> 'ok' AS ok;
SELECT cw_cmd('cw', '{"insert": "up", "documents": [{"_id": "again"}]}') ->> 'n' AS n;
SELECT cw_cmd('cw', '{"insert": "mark", "documents": [{"_id": 4}]}') ->> 'n' AS n;
SELECT caught_up(:'t2', 4);
SELECT cw_mask(e) FROM nosql.watch('cw.up', resume_after => :'t2', full_document => 'whenAvailable') e;
SELECT e -> '_id' AS tdrop FROM nosql.watch('cw.up', resume_after => :'t2') e
 WHERE e ->> 'operationType' = 'drop' \gset
-- resuming after the drop gives the invalidate again; starting after it
-- watches the new collection of that name
SELECT e ->> 'operationType' AS op, e -> '_id' = :'tdrop' AS drop_token
  FROM nosql.watch('cw.up', resume_after => :'tdrop') e;
SELECT e ->> 'operationType' AS op, e -> 'documentKey' AS key
  FROM nosql.watch('cw.up', start_after => :'tdrop', max_wait_ms => 1000) e;
-- a database's stream sees the drop and goes on
SELECT e ->> 'operationType' AS op, e ->> 'ns' AS ns
  FROM nosql.watch('cw', resume_after => :'t2') e;

-- Pre-images: the log keeps the plugin's fullDocumentBeforeChange of a
-- collection with changeStreamPreAndPostImages; full_document_before_change
-- 'off' (the default) takes it out, 'whenAvailable' gives it where there
-- is one, 'required' fails on an update, replace or delete without one.
SELECT cw_cmd('cw', '{"create": "pre", "changeStreamPreAndPostImages": {"enabled": true}}') ->> 'ok' AS ok;
SELECT cw_cmd('cw', '{"insert": "pre", "documents": [{"_id": 1, "v": 1}]}') ->> 'n' AS n;
SELECT cw_cmd('cw', '{"insert": "b", "documents": [{"_id": "nopre"}]}') ->> 'n' AS n;
SELECT nosql.watch_start_token() AS t4 \gset
SELECT cw_cmd('cw', '{"update": "pre", "updates": [{"q": {"_id": 1}, "u": {"$set": {"v": 2}}}]}') ->> 'nModified' AS n;
SELECT cw_cmd('cw', '{"update": "pre", "updates": [{"q": {"_id": 1}, "u": {"w": 3}}]}') ->> 'nModified' AS n;
SELECT cw_cmd('cw', '{"delete": "pre", "deletes": [{"q": {"_id": 1}, "limit": 1}]}') ->> 'n' AS n;
SELECT cw_cmd('cw', '{"insert": "pre", "documents": [{"_id": 2}]}') ->> 'n' AS n;
SELECT cw_cmd('cw', '{"delete": "b", "deletes": [{"q": {"_id": "nopre"}, "limit": 1}]}') ->> 'n' AS n;
SELECT cw_cmd('cw', '{"insert": "mark", "documents": [{"_id": 10}]}') ->> 'n' AS n;
SELECT caught_up(:'t4', 10);
SELECT count(*) AS logged_pre_images FROM nosql.change_log
 WHERE token > (:'t4'::bson ->> '_data') COLLATE "C" AND event -> 'fullDocumentBeforeChange' IS NOT NULL;
SELECT e ->> 'operationType' AS op, e -> 'fullDocumentBeforeChange' IS NOT NULL AS has_before
  FROM nosql.watch('cw.pre', resume_after => :'t4') e;
SELECT e ->> 'operationType' AS op, e -> 'fullDocumentBeforeChange' AS before
  FROM nosql.watch('cw.pre', resume_after => :'t4', full_document_before_change => 'whenAvailable') e;
SELECT e ->> 'operationType' AS op, e -> 'fullDocumentBeforeChange' AS before
  FROM nosql.watch('cw.pre', resume_after => :'t4', full_document_before_change => 'required') e;
-- with fullDocument: the lookup comes before ns, the pre-image stays last
SELECT cw_mask(e) FROM nosql.watch('cw.pre', resume_after => :'t4', full_document => 'whenAvailable',
                                   full_document_before_change => 'whenAvailable') e
 WHERE e ->> 'operationType' = 'update';
-- a collection without pre-images: whenAvailable gives none, required fails
SELECT e ->> 'operationType' AS op, e -> 'fullDocumentBeforeChange' IS NOT NULL AS has_before
  FROM nosql.watch('cw.b', resume_after => :'t4', full_document_before_change => 'whenAvailable') e;
SELECT e FROM nosql.watch('cw.b', resume_after => :'t4', full_document_before_change => 'required') e;
SELECT * FROM nosql.watch('cw.b', full_document_before_change => 'on');
-- positional calls of the six arguments before it still work
SELECT count(*) FROM nosql.watch('cw.pre', NULL, :'t4', NULL, 'default', 0);

-- start_at_operation_time: the stream starts at the first event, in
-- commit order, whose clusterTime is at or after the time, and goes on in
-- commit order.  Events of the horizon's second may be missing (here:
-- trimmed above), so times in it are history lost; and the events of
-- this second could come first: wait for the next second.
SELECT pg_sleep(floor(extract(epoch FROM clock_timestamp())) + 1.01 - extract(epoch FROM clock_timestamp()));
SELECT nosql.watch_start_token() AS t5 \gset
SELECT cw_cmd('cw', '{"insert": "sat", "documents": [{"_id": 1}, {"_id": 2}]}') ->> 'n' AS n;
SELECT cw_cmd('cw', '{"insert": "sat", "documents": [{"_id": 3}]}') ->> 'n' AS n;
SELECT cw_cmd('cw', '{"insert": "mark", "documents": [{"_id": 11}]}') ->> 'n' AS n;
SELECT caught_up(:'t5', 11);
SELECT e -> 'clusterTime' AS ct1 FROM nosql.watch('cw.sat', resume_after => :'t5') e
 WHERE e -> 'documentKey' ->> '_id' = '1' \gset
SELECT e -> 'clusterTime' AS ct2 FROM nosql.watch('cw.sat', resume_after => :'t5') e
 WHERE e -> 'documentKey' ->> '_id' = '2' \gset
-- the two events of one transaction: the same second, increasing increments
SELECT nosql.bson_typeof(:'ct1') AS type, :'ct1'::bson < :'ct2'::bson AS ordered,
       (regexp_match(:'ct1', '"t": (\d+)'))[1] = (regexp_match(:'ct2', '"t": (\d+)'))[1] AS same_second;
SELECT e -> 'documentKey' AS key FROM nosql.watch('cw.sat', start_at_operation_time => :'ct1') e;
-- at the second event's time: it and every event after it (the third,
-- the first change of its transaction, has a smaller increment if it
-- committed in the same second: it comes after in commit order all the same)
SELECT e -> 'documentKey' AS key FROM nosql.watch('cw.sat', start_at_operation_time => :'ct2') e;
-- a database's stream and a pipeline
SELECT e ->> 'ns' AS ns, e -> 'documentKey' AS key
  FROM nosql.watch('cw', '[{"$match": {"ns.coll": {"$in": ["sat", "mark"]}}}]',
                   start_at_operation_time => :'ct2') e;
-- a time no event has reached: nothing yet, after waiting max_wait_ms
SELECT clock_timestamp() AS before \gset
SELECT count(*) FROM nosql.watch('cw.sat', max_wait_ms => 200,
                                 start_at_operation_time => '{"$timestamp": {"t": 4000000000, "i": 1}}');
SELECT clock_timestamp() - :'before'::timestamptz >= interval '200 ms' AS waited;
-- the search for the first event can use the log's clusterTime index
-- (what the planner takes for a log this small varies: the others are off)
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF)
SELECT min(l.token) FROM (SELECT l.token FROM nosql.change_log l
                           WHERE (l.event OPERATOR(nosql.->) 'clusterTime') OPERATOR(nosql.>=) '{"$timestamp": {"t": 4000000000, "i": 1}}'
                             AND l.token > '' COLLATE "C" OFFSET 0) l;
RESET enable_seqscan;
RESET enable_bitmapscan;
-- errors: with a resume token (MongoDB's 40674), not a timestamp (14),
-- in the horizon's second or before (286)
\set SHOW_CONTEXT never
SELECT * FROM nosql.watch('cw.sat', resume_after => :'t5', start_at_operation_time => :'ct1');
SELECT * FROM nosql.watch('cw.sat', start_after => :'t5', start_at_operation_time => :'ct1');
SELECT * FROM nosql.watch('cw.sat', start_at_operation_time => '5');
SELECT * FROM nosql.watch('cw.sat', start_at_operation_time => '{"t": 5, "i": 1}');
SELECT * FROM nosql.watch('cw.sat', start_at_operation_time => '{"$date": "2026-01-01T00:00:00Z"}');
SELECT * FROM nosql.watch('cw.sat', start_at_operation_time => '{"$timestamp": {"t": 1, "i": 1}}');
SELECT format('{"$timestamp": {"t": %s, "i": 4294967295}}', floor(extract(epoch FROM lost_until))::bigint) AS lost
  FROM nosql.change_stream_horizon \gset
SELECT * FROM nosql.watch('cw.sat', start_at_operation_time => :'lost');
\set SHOW_CONTEXT errors
-- positional: the eighth argument
SELECT count(*) FROM nosql.watch('cw.sat', NULL, NULL, NULL, 'default', 0, 'off', :'ct1');
-- a call that ended, also by an error, is not listed as a watcher
SELECT count(*) AS listed FROM nosql.change_stream_watchers WHERE pid = pg_backend_pid();

DROP OWNED BY regress_cdc_watcher;
DROP ROLE regress_cdc_watcher;

-- A stream on a view: CommandNotSupportedOnView (166)
SELECT cw_cmd('cw', '{"create": "av", "viewOn": "a", "pipeline": []}') ->> 'ok' AS ok;
\set SHOW_CONTEXT never
SELECT * FROM nosql.watch('cw.av');
\set SHOW_CONTEXT errors
SELECT cw_cmd('cw', '{"drop": "av"}') ->> 'ok' AS ok;

-- Dropping the watched database ends a database's stream
SELECT nosql.watch_start_token() AS t3 \gset
SELECT cw_cmd('cw', '{"dropDatabase": 1}') ->> 'ok' AS ok;
SELECT cw_cmd('cw2', '{"insert": "a", "documents": [{"_id": 5}]}') ->> 'n' AS n;
SELECT caught_up(:'t3', 5, 'cw2.a');
SELECT e ->> 'operationType' AS op, e ->> 'ns' AS ns FROM nosql.watch('cw', resume_after => :'t3') e;
SELECT e ->> 'operationType' AS op, e ->> 'ns' AS ns FROM nosql.watch(NULL, resume_after => :'t3') e;
SELECT cw_cmd('cw2', '{"dropDatabase": 1}') ->> 'ok' AS ok;
