-- $changeStream in the SQL function nosql.aggregate: a set, not a cursor,
-- so it holds the events logged after the stream's start (resumeAfter,
-- startAfter, startAtOperationTime; none: now) through the stages after
-- $changeStream, with the aggregate command's checks and errors.  Tokens
-- and times are masked; the checks compare the set with nosql.watch.
SET search_path = public, nosql;
SET client_min_messages = warning;

CREATE FUNCTION sa_cmd(db text, c text) RETURNS bson
    LANGUAGE sql AS $$ SELECT nosql.run_command(db, c::bson) $$;
CREATE FUNCTION sa_mask(data bson) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(regexp_replace(regexp_replace(data::text,
        '"_data": "[0-9A-F]{24}"', '"_data": "<token>"', 'g'),
        '"\$timestamp": \{"t": [0-9]+,', '"$timestamp": {"t": <secs>,'),
        '"\$date": "[^"]*"', '"$date": "<commit>"')
$$;

SELECT sa_cmd('sa', '{"create": "a"}') ->> 'ok' AS ok;
SELECT sa_cmd('sa', '{"create": "b"}') ->> 'ok' AS ok;
SELECT nosql.watch_start_token() AS t0 \gset

-- no start point: the stream starts now, so the set is empty
SELECT count(*) AS none FROM nosql.aggregate('sa.a', '[{"$changeStream": {}}]');

SELECT sa_cmd('sa', '{"insert": "a", "documents": [{"_id": 1, "x": 1}, {"_id": 2, "x": 2}]}') ->> 'n' AS n;
SELECT sa_cmd('sa', '{"insert": "b", "documents": [{"_id": "b1"}]}') ->> 'n' AS n;
SELECT sa_cmd('sa', '{"update": "a", "updates": [{"q": {"_id": 1}, "u": {"$set": {"x": 10}}}]}') ->> 'nModified' AS n;
SELECT sa_cmd('sa', '{"delete": "a", "deletes": [{"q": {"_id": 2}, "limit": 1}]}') ->> 'n' AS n;
-- wait (blocking, no polling) until the decoder has logged the delete
SELECT count(*) AS logged FROM nosql.watch('sa.a', resume_after => :'t0', max_wait_ms => 60000,
                                           pipeline => '[{"$match": {"operationType": "delete"}}]');

-- resumeAfter: every event of the collection after the token, in order,
-- equal to what nosql.watch returns
SELECT sa_mask(e) FROM nosql.aggregate('sa.a', format('[{"$changeStream": {"resumeAfter": %s}}]', :'t0')::bson) e;
SELECT (SELECT array_agg(e::text) FROM nosql.aggregate('sa.a', format('[{"$changeStream": {"resumeAfter": %s}}]', :'t0')::bson) e)
     = (SELECT array_agg(w::text) FROM nosql.watch('sa.a', resume_after => :'t0') w) AS same_as_watch;
-- the stages after $changeStream apply; fullDocument too
SELECT e FROM nosql.aggregate('sa.a', format('[{"$changeStream": {"startAfter": %s, "fullDocument": "updateLookup"}},
    {"$match": {"operationType": {"$in": ["update", "delete"]}}},
    {"$project": {"_id": 0, "operationType": 1, "documentKey": 1, "fullDocument": 1}}]', :'t0')::bson) e;
-- resuming after the first event returns the rest
SELECT e -> '_id' AS t1 FROM nosql.aggregate('sa.a', format('[{"$changeStream": {"resumeAfter": %s}}]', :'t0')::bson) e LIMIT 1 \gset
SELECT e ->> 'operationType' AS op, e -> 'documentKey' AS key
  FROM nosql.aggregate('sa.a', format('[{"$changeStream": {"resumeAfter": %s}}]', :'t1')::bson) e;
-- startAtOperationTime: from the first event at or after that time (in a
-- new second, so that no earlier event shares the event's second)
SELECT pg_sleep(floor(extract(epoch FROM clock_timestamp())) + 1.01 - extract(epoch FROM clock_timestamp()));
SELECT sa_cmd('sa', '{"insert": "a", "documents": [{"_id": 3}]}') ->> 'n' AS n;
SELECT w -> 'clusterTime' AS ct FROM nosql.watch('sa.a', resume_after => :'t1', max_wait_ms => 60000,
                                               pipeline => '[{"$match": {"documentKey._id": 3}}]') w \gset
SELECT e ->> 'operationType' AS op, e -> 'documentKey' AS key
  FROM nosql.aggregate('sa.a', format('[{"$changeStream": {"startAtOperationTime": %s}}]', :'ct')::bson) e;
-- the set is no watcher once the call is over
SELECT count(*) AS listed FROM nosql.change_stream_watchers WHERE pid = pg_backend_pid();

-- errors: the aggregate command's
SELECT count(*) FROM nosql.aggregate('sa.a', '[{"$match": {}}, {"$changeStream": {}}]');
SELECT count(*) FROM nosql.aggregate('sa.a', '[{"$changeStream": 1}]');
SELECT count(*) FROM nosql.aggregate('sa.a', '[{"$changeStream": {"bogus": 1}}]');
SELECT count(*) FROM nosql.aggregate('sa.a', '[{"$changeStream": {"resumeAfter": {"_data": "000000000000000100000000"}}}]');
SELECT count(*) FROM nosql.aggregate('sa.a', '[{"$changeStream": {}}, {"$group": {"_id": null}}]');
-- a role that may not read the collection
CREATE ROLE regress_cdc_sqlagg;
GRANT USAGE ON SCHEMA nosql TO regress_cdc_sqlagg;
SET ROLE regress_cdc_sqlagg;
SELECT count(*) FROM nosql.aggregate('sa.a', format('[{"$changeStream": {"resumeAfter": %s}}]', :'t0')::bson);
RESET ROLE;
DROP OWNED BY regress_cdc_sqlagg;
DROP ROLE regress_cdc_sqlagg;

-- a drop ends the set with the drop and an invalidate
SELECT sa_cmd('sa', '{"drop": "a"}') ->> 'ok' AS ok;
SELECT count(*) AS logged FROM nosql.watch('sa.a', resume_after => :'t1', max_wait_ms => 60000,
                                           pipeline => '[{"$match": {"operationType": "invalidate"}}]');
SELECT e ->> 'operationType' AS op FROM nosql.aggregate('sa.a', format('[{"$changeStream": {"resumeAfter": %s}}]', :'t1')::bson) e;
SELECT sa_cmd('sa', '{"dropDatabase": 1}') ->> 'ok' AS ok;
