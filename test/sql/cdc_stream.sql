-- nosql.watch_stream: one call that returns the events as they are logged,
-- and the shared ring the reads take them from.  Tokens and times are
-- masked; the checks compare streams with each other.
SET search_path = public, nosql;
SET client_min_messages = warning;

CREATE FUNCTION cs_cmd(db text, c text) RETURNS bson
    LANGUAGE sql AS $$ SELECT nosql.run_command(db, c::bson) $$;
CREATE FUNCTION cs_mask(data bson) RETURNS text LANGUAGE sql AS $$
    SELECT regexp_replace(regexp_replace(regexp_replace(data::text,
        '"_data": "[0-9A-F]{24}"', '"_data": "<token>"'),
        '"\$timestamp": \{"t": [0-9]+,', '"$timestamp": {"t": <secs>,'),
        '"\$date": "[^"]*"', '"$date": "<commit>"')
$$;

SELECT cs_cmd('cs', '{"create": "a"}') ->> 'ok' AS ok;
SELECT cs_cmd('cs', '{"create": "b"}') ->> 'ok' AS ok;
SELECT nosql.watch_start_token() AS t0 \gset

SELECT cs_cmd('cs', '{"insert": "a", "documents": [{"_id": 1}, {"_id": 2}]}') ->> 'n' AS n;
SELECT cs_cmd('cs', '{"insert": "b", "documents": [{"_id": "b1"}]}') ->> 'n' AS n;
SELECT cs_cmd('cs', '{"update": "a", "updates": [{"q": {"_id": 1}, "u": {"x": 10}}]}') ->> 'nModified' AS n;
SELECT cs_cmd('cs', '{"delete": "a", "deletes": [{"q": {"_id": 2}, "limit": 1}]}') ->> 'n' AS n;
SELECT cs_cmd('cs', '{"insert": "a", "documents": [{"_id": 3}]}') ->> 'n' AS n;

-- max_events: the stream waits for the events (blocking on the decoder's
-- condition variable) and ends with the fifth
SELECT cs_mask(e) FROM (SELECT nosql.watch_stream('cs.a', resume_after => :'t0', max_events => 5) e) s;
-- idle_timeout_ms: every event there is, then the idle time ends it
SELECT e ->> 'operationType' AS op, e -> 'ns' ->> 'coll' AS coll
  FROM (SELECT nosql.watch_stream('cs', resume_after => :'t0', idle_timeout_ms => 300) e) s;
-- through a pipeline, in the select list with LIMIT
SELECT nosql.watch_stream('cs.a', '[{"$match": {"operationType": "insert"}}, {"$project": {"_id": 0, "documentKey": 1}}]',
                          resume_after => :'t0') LIMIT 3;
-- start_after the first event: the others
SELECT nosql.watch_stream('cs.a', resume_after => :'t0', max_events => 1) -> '_id' AS t1 \gset
SELECT count(*) FROM (SELECT nosql.watch_stream('cs.a', start_after => :'t1', idle_timeout_ms => 100)) s;

-- In FROM only when bounded: PostgreSQL returns the rows when it ends
\set VERBOSITY terse
SELECT * FROM nosql.watch_stream('cs.a', resume_after => :'t0');
\set VERBOSITY default
SELECT count(*) FROM nosql.watch_stream('cs.a', resume_after => :'t0', max_events => 3);
SELECT count(*) FROM nosql.watch_stream('cs.a', resume_after => :'t0', idle_timeout_ms => 100);

-- The ring and the log give the same events: each namespace, from the
-- start token (the ring holds them), read with the ring and without
SELECT md5(string_agg(e::text, ',')) AS ring_all FROM nosql.watch(NULL, resume_after => :'t0') e \gset
SELECT md5(string_agg(e::text, ',')) AS ring_db FROM nosql.watch('cs', start_after => :'t0') e \gset
SELECT md5(string_agg(e::text, ',')) AS ring_stream
  FROM (SELECT nosql.watch_stream('cs.a', resume_after => :'t0', idle_timeout_ms => 100) e) s \gset
SET nosql.change_stream_ring = off;
SELECT md5(string_agg(e::text, ',')) = :'ring_all' AS same_all FROM nosql.watch(NULL, resume_after => :'t0') e;
SELECT md5(string_agg(e::text, ',')) = :'ring_db' AS same_db FROM nosql.watch('cs', start_after => :'t0') e;
SELECT md5(string_agg(e::text, ',')) = :'ring_stream' AS same_stream
  FROM (SELECT nosql.watch_stream('cs.a', resume_after => :'t0', idle_timeout_ms => 100) e) s;
RESET nosql.change_stream_ring;
-- from the horizon on, in commit order
SELECT json_build_object('_data', horizon)::text AS th FROM nosql.change_streams \gset
SELECT count(*) >= 6 AS from_horizon, bool_and(tok > prev) AS increasing
  FROM (SELECT e -> '_id' ->> '_data' AS tok, lag(e -> '_id' ->> '_data', 1, '') OVER () AS prev
          FROM nosql.watch_stream(NULL, start_after => :'th', idle_timeout_ms => 100) e) s;

-- Who may read: SELECT on the collection's table, checked for the ring's
-- events as for the log's
CREATE ROLE regress_cs_watcher;
GRANT SELECT ON nosql.change_log TO regress_cs_watcher;
GRANT USAGE ON SCHEMA nosql TO regress_cs_watcher;
SET ROLE regress_cs_watcher;
SELECT count(*) AS seen FROM nosql.watch('cs', resume_after => :'t0');
SELECT count(*) AS seen FROM (SELECT nosql.watch_stream('cs', resume_after => :'t0', idle_timeout_ms => 100)) s;
SET nosql.change_stream_ring = off;
SELECT count(*) AS seen FROM nosql.watch('cs', resume_after => :'t0');
RESET nosql.change_stream_ring;
RESET ROLE;
SELECT format('GRANT SELECT ON %s TO regress_cs_watcher', relation::regclass) FROM nosql.collection
 WHERE database = 'cs' AND name = 'b' \gexec
SET ROLE regress_cs_watcher;
SELECT e ->> 'operationType' AS op, e -> 'ns' ->> 'coll' AS coll
  FROM (SELECT nosql.watch_stream('cs', resume_after => :'t0', idle_timeout_ms => 100) e) s;
RESET ROLE;

-- Argument errors: those of nosql.watch, and the stream's own
\set VERBOSITY terse
SELECT nosql.watch_stream('cs.a', max_events => -1);
SELECT nosql.watch_stream('cs.a', idle_timeout_ms => -1);
SELECT nosql.watch_stream('.a', max_events => 1);
SELECT nosql.watch_stream('cs.a', full_document => 'sometimes', max_events => 1);
SELECT nosql.watch_stream('cs.a', full_document_before_change => 'maybe', max_events => 1);
SELECT nosql.watch_stream('cs.a', resume_after => :'t0', start_after => :'t0', max_events => 1);
SELECT nosql.watch_stream('cs.a', resume_after => '{"_data": "XYZ"}', max_events => 1);
SELECT nosql.watch_stream('cs.a', '[{"$out": "x"}]', max_events => 1);
SELECT nosql.watch_stream('cs.a', start_at_operation_time => '1', max_events => 1);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT nosql.watch_stream('cs.a', max_events => 1);
ROLLBACK;
\set VERBOSITY default

-- An invalidate ends an unbounded stream
SELECT nosql.watch_start_token() AS t2 \gset
SELECT cs_cmd('cs', '{"insert": "b", "documents": [{"_id": "b2"}]}') ->> 'n' AS n;
SELECT cs_cmd('cs', '{"drop": "b"}') ->> 'ok' AS ok;
SELECT e ->> 'operationType' AS op FROM (SELECT nosql.watch_stream('cs.b', resume_after => :'t2') e) s;
-- resuming after the drop returns the invalidate again
SELECT e -> '_id' AS tdrop
  FROM (SELECT nosql.watch_stream('cs.b', resume_after => :'t2', max_events => 2) e) s OFFSET 1 \gset
SELECT e ->> 'operationType' AS op FROM (SELECT nosql.watch_stream('cs.b', resume_after => :'tdrop') e) s;

SELECT cs_cmd('cs', '{"dropDatabase": 1}') ->> 'ok' AS ok;
DROP OWNED BY regress_cs_watcher;
DROP ROLE regress_cs_watcher;
