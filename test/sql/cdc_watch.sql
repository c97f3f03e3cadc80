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

DROP OWNED BY regress_cdc_watcher;
DROP ROLE regress_cdc_watcher;

-- Dropping the watched database ends a database's stream
SELECT nosql.watch_start_token() AS t3 \gset
SELECT cw_cmd('cw', '{"dropDatabase": 1}') ->> 'ok' AS ok;
SELECT cw_cmd('cw2', '{"insert": "a", "documents": [{"_id": 5}]}') ->> 'n' AS n;
SELECT caught_up(:'t3', 5, 'cw2.a');
SELECT e ->> 'operationType' AS op, e ->> 'ns' AS ns FROM nosql.watch('cw', resume_after => :'t3') e;
SELECT e ->> 'operationType' AS op, e ->> 'ns' AS ns FROM nosql.watch(NULL, resume_after => :'t3') e;
SELECT cw_cmd('cw2', '{"dropDatabase": 1}') ->> 'ok' AS ok;
