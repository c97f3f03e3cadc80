-- $changeStream: aggregate opens a change stream behind a tailable cursor,
-- getMore returns the next events (waiting up to maxTimeMS), every reply
-- carries postBatchResumeToken.  Tokens, times and cursor ids depend on the
-- WAL position, the clock and chance: the listings mask them; the checks
-- compare them with each other.
SET search_path = public, nosql;
SET client_min_messages = warning;

CREATE FUNCTION ca_cmd(db text, c text) RETURNS bson
    LANGUAGE sql AS $$ SELECT nosql.run_command(db, c::bson) $$;
CREATE FUNCTION ca_mask(data bson) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(data::text,
        '"_data": "[0-9A-F]{24}"', '"_data": "<token>"', 'g'),
        '"\$timestamp": \{"t": [0-9]+,', '"$timestamp": {"t": <secs>,', 'g'),
        '"\$date": "[^"]*"', '"$date": "<commit>"', 'g'),
        '"id": [0-9]+', '"id": <cursor>', 'g')
$$;
-- The cursor id of an aggregate's reply, as text
CREATE FUNCTION ca_id(r bson) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(r -> 'cursor' ->> 'id', '[^0-9]', '', 'g')
$$;
-- getMore on a change stream cursor until n events came (or the cursor
-- closed): the events in order.  Checks on the way that every reply has a
-- postBatchResumeToken, that it never goes back, and that a reply with
-- events has the last one's token.
CREATE FUNCTION ca_next(db text, coll text, id text, n int, batch int DEFAULT 0)
RETURNS SETOF bson LANGUAGE plpgsql AS $$
DECLARE
    r bson;
    e bson;
    k int;
    got int := 0;
    prev text := '';
    pbrt text;
    last text;
BEGIN
    FOR i IN 1..60 LOOP
        r := nosql.run_command(db, format('{"getMore": {"$numberLong": "%s"}, "collection": "%s", "maxTimeMS": 1000%s}',
                                          id, coll, CASE WHEN batch > 0 THEN ', "batchSize": ' || batch ELSE '' END)::bson);
        IF r -> 'cursor' IS NULL THEN
            RAISE EXCEPTION 'getMore failed: %', r;
        END IF;
        pbrt := r -> 'cursor' -> 'postBatchResumeToken' ->> '_data';
        IF pbrt IS NULL OR pbrt COLLATE "C" < prev COLLATE "C" THEN
            RAISE EXCEPTION 'postBatchResumeToken % after %', pbrt, prev;
        END IF;
        prev := pbrt;
        last := NULL;
        k := 0;
        LOOP
            e := r -> 'cursor' -> 'nextBatch' -> k::text;
            EXIT WHEN e IS NULL;
            RETURN NEXT e;
            last := e -> '_id' ->> '_data';
            got := got + 1;
            k := k + 1;
        END LOOP;
        IF last IS NOT NULL AND last <> pbrt THEN
            RAISE EXCEPTION 'postBatchResumeToken % is not the last event''s %', pbrt, last;
        END IF;
        IF batch > 0 AND k > batch THEN
            RAISE EXCEPTION 'batch larger than batchSize';
        END IF;
        IF got >= n OR ca_id(r) = '0' THEN
            RETURN;
        END IF;
    END LOOP;
END $$;

SELECT ca_cmd('ca', '{"create": "a"}') ->> 'ok' AS ok;
SELECT ca_cmd('ca', '{"create": "b"}') ->> 'ok' AS ok;

-- A stream on a collection: the first batch is empty (it starts now)
SELECT ca_cmd('ca', '{"aggregate": "a", "pipeline": [{"$changeStream": {}}], "cursor": {}}') AS r \gset
SELECT ca_mask(:'r');
SELECT ca_id(:'r') AS s1 \gset
SELECT :'r'::bson -> 'cursor' -> 'postBatchResumeToken' AS p0 \gset
-- a stream on the database, one with a $match and a $project
SELECT ca_id(ca_cmd('ca', '{"aggregate": 1, "pipeline": [{"$changeStream": {}}], "cursor": {}}')) AS sdb \gset
SELECT ca_id(ca_cmd('ca', '{"aggregate": "a", "pipeline": [{"$changeStream": {}}, {"$match": {"operationType": "delete"}},
                                              {"$project": {"operationType": 1, "documentKey": 1}}], "cursor": {}}')) AS sdel \gset
-- $redact too: this one prunes every event but the delete
SELECT ca_id(ca_cmd('ca', '{"aggregate": "a", "pipeline": [{"$changeStream": {}},
    {"$redact": {"$cond": [{"$eq": ["$operationType", "delete"]}, "$$KEEP", "$$PRUNE"]}},
    {"$project": {"_id": 0, "operationType": 1}}], "cursor": {}}')) AS sred \gset

SELECT ca_cmd('ca', '{"insert": "a", "documents": [{"_id": 1, "x": 1}, {"_id": 2, "x": 2}]}') ->> 'n' AS n;
SELECT ca_cmd('ca', '{"update": "a", "updates": [{"q": {"_id": 1}, "u": {"$set": {"x": 10}}}]}') ->> 'nModified' AS n;
SELECT ca_cmd('ca', '{"delete": "a", "deletes": [{"q": {"_id": 2}, "limit": 1}]}') ->> 'n' AS n;
SELECT ca_cmd('ca', '{"insert": "b", "documents": [{"_id": "b1"}]}') ->> 'n' AS n;

-- getMore returns the collection's events, in commit order
SELECT ca_mask(e) FROM ca_next('ca', 'a', :'s1', 4) e;
-- the database's stream sees both collections
SELECT e ->> 'operationType' AS op, e -> 'ns' AS ns, e -> 'documentKey' AS key
  FROM ca_next('ca', '$cmd.aggregate', :'sdb', 5) e;
-- the stages after $changeStream apply to each event
SELECT ca_mask(e) FROM ca_next('ca', 'a', :'sdel', 1) e;
SELECT e FROM ca_next('ca', 'a', :'sred', 1) e;

-- Nothing new: getMore waits maxTimeMS, then an empty batch whose
-- postBatchResumeToken is not behind the last event's
SELECT clock_timestamp() AS before \gset
SELECT ca_cmd('ca', format('{"getMore": {"$numberLong": "%s"}, "collection": "a", "maxTimeMS": 300}', :'s1')) AS r \gset
SELECT ca_mask(:'r');
SELECT clock_timestamp() - :'before'::timestamptz >= interval '300 ms' AS waited;
SELECT (:'r'::bson -> 'cursor' -> 'postBatchResumeToken' ->> '_data') COLLATE "C"
       > (:'p0'::bson ->> '_data') COLLATE "C" AS moved_on;

-- batchSize: at most that many events per batch; the rest in the next
SELECT ca_cmd('ca', '{"insert": "a", "documents": [{"_id": 3}, {"_id": 4}, {"_id": 5}]}') ->> 'n' AS n;
SELECT e -> 'documentKey' AS key FROM ca_next('ca', 'a', :'s1', 3, 1) e;

-- Resuming: resumeAfter an event's token returns the events after it,
-- startAfter too; the first batch has what is logged already
SELECT ca_cmd('ca', '{"aggregate": "a", "pipeline": [{"$changeStream": {}}], "cursor": {}}') AS r \gset
SELECT ca_id(:'r') AS s2 \gset
SELECT ca_cmd('ca', '{"insert": "a", "documents": [{"_id": 6}]}') ->> 'n' AS n;
SELECT ca_cmd('ca', '{"insert": "a", "documents": [{"_id": 7}]}') ->> 'n' AS n;
SELECT e -> '_id' AS t6 FROM ca_next('ca', 'a', :'s2', 2) e LIMIT 1 \gset
SELECT ca_mask(ca_cmd('ca', format('{"aggregate": "a", "pipeline": [{"$changeStream": {"resumeAfter": %s}},
                                      {"$project": {"documentKey": 1}}], "cursor": {}}', :'t6')));
SELECT ca_mask(ca_cmd('ca', format('{"aggregate": "a", "pipeline": [{"$changeStream": {"startAfter": %s}},
                                      {"$project": {"documentKey": 1}}], "cursor": {"batchSize": 0}}', :'t6')));
-- startAtOperationTime: the stream starts at the first event, in commit
-- order, whose clusterTime is at or after the time.  In a new second, so
-- that no earlier event (nor the horizon) shares the events' second.
SELECT pg_sleep(floor(extract(epoch FROM clock_timestamp())) + 1.01 - extract(epoch FROM clock_timestamp()));
SELECT ca_cmd('ca', '{"insert": "a", "documents": [{"_id": 8}, {"_id": 9}]}') ->> 'n' AS n;
SELECT ca_cmd('ca', '{"insert": "a", "documents": [{"_id": 10}]}') ->> 'n' AS n;
CREATE TEMP TABLE at_time AS SELECT row_number() OVER () AS n, e FROM ca_next('ca', 'a', :'s2', 3) e;
SELECT e -> 'documentKey' AS key FROM at_time ORDER BY n;
SELECT e -> 'clusterTime' AS ct9, e -> '_id' ->> '_data' AS tok9 FROM at_time WHERE n = 2 \gset
SELECT e -> '_id' ->> '_data' AS tok8 FROM at_time WHERE n = 1 \gset
SELECT e -> '_id' ->> '_data' AS tok10 FROM at_time WHERE n = 3 \gset
-- the first batch: that event and the ones after it (the third, the
-- first change of its transaction, has a smaller increment if it committed
-- in the same second: it comes after in commit order all the same)
SELECT ca_cmd('ca', format('{"aggregate": "a", "pipeline": [{"$changeStream": {"startAtOperationTime": %s}},
                                      {"$project": {"documentKey": 1}}], "cursor": {}}', :'ct9')) AS r \gset
SELECT ca_mask(:'r');
SELECT ca_cmd('ca', format('{"killCursors": "a", "cursors": [{"$numberLong": "%s"}]}', ca_id(:'r'))) ->> 'ok' AS ok;
-- batchSize 0: the resume point is just before that event (here the
-- event before it, of the same transaction), and getMore goes on from it
SELECT ca_cmd('ca', format('{"aggregate": "a", "pipeline": [{"$changeStream": {"startAtOperationTime": %s}}], "cursor": {"batchSize": 0}}',
                           :'ct9')) AS r \gset
SELECT :'r'::bson -> 'cursor' -> 'postBatchResumeToken' ->> '_data' = :'tok8' AS before_first;
SELECT e -> 'documentKey' AS key FROM ca_next('ca', 'a', ca_id(:'r'), 2) e;
SELECT ca_cmd('ca', format('{"killCursors": "a", "cursors": [{"$numberLong": "%s"}]}', ca_id(:'r'))) ->> 'ok' AS ok;
-- a time not reached yet: an empty first batch, then getMore waits
SELECT ca_cmd('ca', '{"aggregate": "a", "pipeline": [{"$changeStream": {"startAtOperationTime": {"$timestamp": {"t": 4000000000, "i": 1}}}}],
                      "cursor": {}}') AS r \gset
SELECT ca_mask(:'r');
SELECT (:'r'::bson -> 'cursor' -> 'postBatchResumeToken' ->> '_data') COLLATE "C" >= :'tok9' AS not_behind;
SELECT ca_mask(ca_cmd('ca', format('{"getMore": {"$numberLong": "%s"}, "collection": "a", "maxTimeMS": 100}', ca_id(:'r'))));
SELECT ca_cmd('ca', format('{"killCursors": "a", "cursors": [{"$numberLong": "%s"}]}', ca_id(:'r'))) ->> 'ok' AS ok;

-- The open cursors are watchers: namespace, resume point, last read
SELECT kind, database, coll, events, last_read IS NOT NULL AS read
  FROM nosql.change_stream_watchers WHERE pid = pg_backend_pid() ORDER BY started;
-- s2 read the newest event of the log, s1 not yet
SELECT resume_token = :'tok10' AS after_last_read, lag_bytes = 0 AS caught_up
  FROM nosql.change_stream_watchers WHERE cursor_id = :'s2'::bigint;
SELECT lag_bytes > 0 AS behind FROM nosql.change_stream_watchers WHERE cursor_id = :'s1'::bigint;
SELECT count(*) AS db_streams FROM nosql.change_stream_watchers
 WHERE cursor_id = :'sdb'::bigint AND database = 'ca' AND coll IS NULL;
-- a role that may not watch sees only its own (none)
CREATE ROLE regress_cdc_agg_other;
SET ROLE regress_cdc_agg_other;
SELECT count(*) FROM nosql.change_stream_watchers;
RESET ROLE;
DROP ROLE regress_cdc_agg_other;

-- fullDocument updateLookup
SELECT ca_cmd('ca', '{"aggregate": "a", "pipeline": [{"$changeStream": {"fullDocument": "updateLookup"}}], "cursor": {}}') AS r \gset
SELECT ca_id(:'r') AS s3 \gset
SELECT ca_cmd('ca', '{"update": "a", "updates": [{"q": {"_id": 1}, "u": {"$inc": {"x": 1}}}]}') ->> 'nModified' AS n;
SELECT e ->> 'operationType' AS op, e -> 'fullDocument' AS doc FROM ca_next('ca', 'a', :'s3', 1) e;

-- killCursors closes a change stream cursor
SELECT ca_cmd('ca', format('{"killCursors": "a", "cursors": [{"$numberLong": "%s"}]}', :'s3')) AS r \gset
SELECT regexp_replace((:'r'::bson -> 'cursorsKilled')::text, '[^0-9]', '', 'g') = :'s3' AS killed;
SELECT ca_cmd('ca', format('{"getMore": {"$numberLong": "%s"}, "collection": "a"}', :'s3')) ->> 'code' AS code;
-- and it is no watcher any more
SELECT count(*) AS listed FROM nosql.change_stream_watchers WHERE cursor_id = :'s3'::bigint;
-- getMore on another namespace
SELECT ca_cmd('ca', format('{"getMore": {"$numberLong": "%s"}, "collection": "b"}', :'s2')) ->> 'code' AS code;

-- Dropping the watched collection: the drop, then an invalidate, and the
-- cursor is closed (id 0)
SELECT ca_cmd('ca', '{"drop": "a"}') ->> 'ok' AS ok;
CREATE TEMP TABLE dropped AS SELECT row_number() OVER () AS n, e FROM ca_next('ca', 'a', :'s1', 10) e;
SELECT ca_mask(e) FROM dropped ORDER BY n;
SELECT e -> '_id' AS tdrop FROM dropped WHERE e ->> 'operationType' = 'drop' \gset
SELECT ca_cmd('ca', format('{"getMore": {"$numberLong": "%s"}, "collection": "a"}', :'s1')) ->> 'code' AS code;
SELECT count(*) AS listed FROM nosql.change_stream_watchers WHERE cursor_id = :'s1'::bigint;
-- resumeAfter the drop: the invalidate again, and no cursor
SELECT ca_mask(ca_cmd('ca', format('{"aggregate": "a", "pipeline": [{"$changeStream": {"resumeAfter": %s}}], "cursor": {}}', :'tdrop')));

-- Errors
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$match": {}}, {"$changeStream": {}}], "cursor": {}}') ->> 'code' AS not_first;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {}}, {"$changeStream": {}}], "cursor": {}}') ->> 'code' AS twice;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": 1}], "cursor": {}}') ->> 'code' AS not_object;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {"bogus": 1}}], "cursor": {}}') ->> 'code' AS unknown_option;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {"fullDocument": 1}}], "cursor": {}}') ->> 'code' AS wrong_type;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {"fullDocument": "all"}}], "cursor": {}}') ->> 'code' AS bad_value;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {"fullDocumentBeforeChange": true}}], "cursor": {}}') ->> 'code' AS wrong_type;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {"fullDocumentBeforeChange": "on"}}], "cursor": {}}') ->> 'code' AS bad_value;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {"allChangesForCluster": "yes"}}], "cursor": {}}') ->> 'code' AS wrong_type;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {"showExpandedEvents": 1}}], "cursor": {}}') ->> 'code' AS wrong_type;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {"resumeAfter": "x"}}], "cursor": {}}') ->> 'code' AS wrong_type;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {"resumeAfter": {"_data": "xyz"}}}], "cursor": {}}') ->> 'code' AS bad_token;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {"resumeAfter": {"x": 1}}}], "cursor": {}}') ->> 'code' AS bad_token;
SELECT ca_cmd('ca', format('{"aggregate": "b", "pipeline": [{"$changeStream": {"resumeAfter": %s, "startAfter": %s}}], "cursor": {}}',
                           :'p0', :'p0')) ->> 'code' AS both;
SELECT ca_cmd('ca', format('{"aggregate": "b", "pipeline": [{"$changeStream": {"resumeAfter": %s, "startAtOperationTime": {"$timestamp": {"t": 1, "i": 1}}}}], "cursor": {}}',
                           :'p0')) ->> 'code' AS two_kinds;
SELECT ca_cmd('ca', format('{"aggregate": "b", "pipeline": [{"$changeStream": {"startAtOperationTime": {"$timestamp": {"t": 1, "i": 1}}, "startAfter": %s}}], "cursor": {}}',
                           :'p0')) ->> 'code' AS two_kinds;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {"startAtOperationTime": 5}}], "cursor": {}}') ->> 'code' AS wrong_type;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {"startAtOperationTime": {"$date": "2026-01-01T00:00:00Z"}}}], "cursor": {}}') ->> 'code' AS wrong_type;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {"startAtOperationTime": {"$timestamp": {"t": 1, "i": 1}}}}], "cursor": {}}') ->> 'code' AS history_lost;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {"startAtOperationTime": {"$timestamp": {"t": 1, "i": 1}}}}], "cursor": {"batchSize": 0}}') ->> 'code' AS history_lost;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {"allChangesForCluster": true}}], "cursor": {}}') ->> 'code' AS cluster_not_admin;
SELECT ca_cmd('admin', '{"aggregate": 1, "pipeline": [{"$changeStream": {}}], "cursor": {}}') ->> 'code' AS admin_not_cluster;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {}}, {"$group": {"_id": null}}], "cursor": {}}') ->> 'errmsg' AS msg;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {}}, {"$sort": {"x": 1}}], "cursor": {}}') ->> 'code' AS not_permitted;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {}}, {"$bogus": {}}], "cursor": {}}') ->> 'code' AS unknown_stage;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {}}, {"$match": {"$bad": 1}}], "cursor": {}}') ->> 'code' AS bad_match;
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {}}], "explain": true}') ->> 'code' AS explain;

-- History lost: a token before the horizon
SELECT ca_cmd('ca', '{"aggregate": "b", "pipeline": [{"$changeStream": {"resumeAfter": {"_data": "000000000000000100000000"}}}], "cursor": {}}') ->> 'code' AS history_lost;

-- Every database, from admin
SELECT ca_id(ca_cmd('admin', '{"aggregate": 1, "pipeline": [{"$changeStream": {"allChangesForCluster": true}},
                                  {"$match": {"ns.coll": "c"}}], "cursor": {}}')) AS sall \gset
SELECT ca_cmd('ca2', '{"insert": "c", "documents": [{"_id": 1}]}') ->> 'n' AS n;
SELECT e ->> 'operationType' AS op, e -> 'ns' AS ns FROM ca_next('admin', '$cmd.aggregate', :'sall', 1) e;
SELECT ca_cmd('admin', format('{"killCursors": "$cmd.aggregate", "cursors": [{"$numberLong": "%s"}]}', :'sall')) AS r \gset
SELECT regexp_replace((:'r'::bson -> 'cursorsKilled')::text, '[^0-9]', '', 'g') = :'sall' AS killed;

-- A stream on a view: CommandNotSupportedOnView (166)
SELECT ca_cmd('ca', '{"create": "av", "viewOn": "a", "pipeline": []}') ->> 'ok' AS ok;
SELECT r ->> 'code' AS code, r ->> 'errmsg' AS errmsg
  FROM ca_cmd('ca', '{"aggregate": "av", "pipeline": [{"$changeStream": {}}], "cursor": {}}') r;
SELECT ca_cmd('ca', '{"drop": "av"}') ->> 'ok' AS ok;

-- Dropping the database ends the database's stream
SELECT ca_cmd('ca', '{"dropDatabase": 1}') ->> 'ok' AS ok;
SELECT e ->> 'operationType' AS op, e -> 'ns' AS ns FROM ca_next('ca', '$cmd.aggregate', :'sdb', 1000) e;
SELECT ca_cmd('ca2', '{"dropDatabase": 1}') ->> 'ok' AS ok;
