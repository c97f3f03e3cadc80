-- etcd's Watch over the key-value store: nosql.kv_watch.
-- A fresh store (the kv test leaves history behind), at revision 1.
TRUNCATE nosql.kv_history, nosql.kv_revision, nosql.kv_compaction;
SELECT nosql.kv_current_revision();

-- Nothing yet: no events, whatever the start.
SELECT count(*) FROM nosql.kv_watch('a');
SELECT count(*) FROM nosql.kv_watch('', '', 1);

-- Some history: puts, two requests in one transaction (two revisions), a
-- delete of two keys at one revision, a new life of a key.
SELECT nosql.kv_put('a', 'a1');                 -- 2
SELECT nosql.kv_put('b', 'b1');                 -- 3
SELECT nosql.kv_put('a', 'a2');                 -- 4
BEGIN;
SELECT nosql.kv_put('c', 'c1');                 -- 5
SELECT nosql.kv_put('b', 'b2');                 -- 6
COMMIT;
SELECT nosql.kv_delete('a', 'c');               -- 7: a and b
SELECT nosql.kv_put('a', 'a3');                 -- 8: version 1 again
SELECT nosql.kv_put('ab', '\x00ff'::bytea);     -- 9

-- Every key from revision 1: revision order, then sub (key) order within a
-- revision; a DELETE has the key and mod_revision only, as etcd's.
SELECT * FROM nosql.kv_watch('', '', 1);

-- One key (range_end NULL); start_revision is inclusive.
SELECT revision, type, key, convert_from(value, 'UTF8') AS value, version
  FROM nosql.kv_watch('a', start_revision => 1);
SELECT revision, type, key FROM nosql.kv_watch('a', NULL, 7);
SELECT revision, type, key FROM nosql.kv_watch('a', NULL, 8);
SELECT revision, type, key FROM nosql.kv_watch('a', NULL, 9);
-- [key, range_end) in byte order; '' is every key >= key
SELECT revision, type, key FROM nosql.kv_watch('a', 'b', 1);
SELECT revision, type, key FROM nosql.kv_watch('ab', 'c', 1);
SELECT revision, type, key FROM nosql.kv_watch('b', '', 5);
SELECT count(*) AS end_before_key FROM nosql.kv_watch('c', 'a', 1);
-- the empty key with a range_end is the smallest key, as kv_range's
SELECT count(*) FROM nosql.kv_watch('', 'b', 1);

-- prev_kv: the value of the key's version before the event (NULL: none,
-- as for a key's first put or its put after a delete); without prev_kv
-- prev_value is NULL.
SELECT revision, type, key, convert_from(value, 'UTF8') AS value,
       convert_from(prev_value, 'UTF8') AS prev_value
  FROM nosql.kv_watch('', '', 1, prev_kv => true) WHERE key <> 'ab';
SELECT revision, prev_value FROM nosql.kv_watch('ab', NULL, 1, prev_kv => true);
SELECT count(*) FILTER (WHERE prev_value IS NOT NULL) AS with_prev
  FROM nosql.kv_watch('', '', 1, prev_kv => false);

-- filters, as etcd's FilterType (case does not matter)
SELECT revision, type, key FROM nosql.kv_watch('', '', 1, filters => '{NOPUT}');
SELECT revision, type, key FROM nosql.kv_watch('', '', 6, filters => '{NODELETE}');
SELECT count(*) FROM nosql.kv_watch('', '', 1, filters => '{NOPUT,NODELETE}');
SELECT count(*) FROM nosql.kv_watch('', '', 1, filters => '{noput}');
SELECT count(*) FROM nosql.kv_watch('', '', 1, filters => '{}');

-- start_revision 0 (or less) is "from the next revision": no history.
SELECT count(*) FROM nosql.kv_watch('', '');
SELECT count(*) FROM nosql.kv_watch('', '', -1);
-- a future start_revision is allowed: its events when they happen
SELECT count(*) FROM nosql.kv_watch('', '', 100);
SELECT nosql.kv_current_revision() AS before_rollback \gset

-- A rolled back write never reaches a watcher: its revision is handed out
-- again, to the next committed write.
BEGIN;
SELECT nosql.kv_put('r', 'gone') = :before_rollback + 1 AS took_next;
SELECT count(*) AS own_write_visible FROM nosql.kv_watch('r', NULL, 1);
ROLLBACK;
SELECT nosql.kv_put('r', 'kept') = :before_rollback + 1 AS same_revision;
SELECT revision - :before_rollback AS delta, type, convert_from(value, 'UTF8') AS value
  FROM nosql.kv_watch('r', NULL, 1);
BEGIN;
SAVEPOINT s;
SELECT nosql.kv_delete('r') AS deleted;
ROLLBACK TO s;
COMMIT;
SELECT count(*) AS rolled_back_delete FROM nosql.kv_watch('r', NULL, 1, filters => '{NOPUT}');

-- max_wait_ms: with nothing arriving, no rows after the wait.
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM nosql.kv_watch('nothing', max_wait_ms => 200);
SELECT clock_timestamp() - :'t0' >= interval '200 ms' AS waited;
SELECT count(*) FROM nosql.kv_watch('nothing', '', max_wait_ms => 100, filters => '{NOPUT}');
-- the wait honours statement_timeout (and query cancel)
SET statement_timeout = '100ms';
SELECT count(*) FROM nosql.kv_watch('nothing', max_wait_ms => 60000);
RESET statement_timeout;
-- events already there: at once (it would take a minute otherwise)
SELECT clock_timestamp() AS t0 \gset
SELECT count(*) FROM nosql.kv_watch('a', NULL, 1, max_wait_ms => 60000);
SELECT clock_timestamp() - :'t0' < interval '30 s' AS at_once;
-- in REPEATABLE READ a watch reads its snapshot: fine without waiting ...
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM nosql.kv_watch('a', NULL, 1);
-- ... but a blocking one could never see a new event
SELECT count(*) FROM nosql.kv_watch('a', max_wait_ms => 10);
ROLLBACK;
BEGIN ISOLATION LEVEL SERIALIZABLE;
SELECT count(*) FROM nosql.kv_watch('a', max_wait_ms => 10);
ROLLBACK;

-- Compaction: a watch from below the compacted revision fails as etcd's
-- (ErrCompacted); from the compacted revision on it works.
SELECT nosql.kv_compact(6) >= 0 AS compacted;
SELECT * FROM nosql.kv_watch('', '', 5);
SELECT revision, type, key FROM nosql.kv_watch('', '', 6);
SELECT revision, type, key, prev_value FROM nosql.kv_watch('', '', 7, prev_kv => true)
  WHERE key <> 'r';

-- Errors.
SELECT * FROM nosql.kv_watch(NULL);
SELECT * FROM nosql.kv_watch('');
SELECT * FROM nosql.kv_watch('a', NULL, NULL);
SELECT * FROM nosql.kv_watch('a', NULL, 1, NULL);
SELECT * FROM nosql.kv_watch('a', NULL, 1, 0, NULL);
SELECT * FROM nosql.kv_watch('a', NULL, 1, 0, false, NULL);
SELECT * FROM nosql.kv_watch('a', NULL, 1, filters => '{NOPUT,NULL}');
SELECT * FROM nosql.kv_watch('a', NULL, 1, filters => '{PUT}');
SELECT * FROM nosql.kv_watch('a', NULL, 1, max_wait_ms => -1);
SELECT * FROM nosql.kv_watch(repeat('k', 1572865));
-- their SQLSTATEs
\set VERBOSITY sqlstate
SELECT * FROM nosql.kv_watch('', '', 5);
SELECT * FROM nosql.kv_watch('a', NULL, 1, filters => '{PUT}');
SELECT * FROM nosql.kv_watch('a', NULL, 1, max_wait_ms => -1);
SELECT * FROM nosql.kv_watch(NULL);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM nosql.kv_watch('a', max_wait_ms => 10);
ROLLBACK;
\set VERBOSITY default

-- The read of a watch from a recent revision takes an index of the history,
-- never a sequential scan: the primary key (mod_revision, sub) for a wide
-- range; a narrow one may take the key index.  (Scan counts of this
-- transaction, before and after.)
SELECT count(nosql.kv_put('bulk/' || (g % 50), 'v' || g)) FROM generate_series(1, 3000) g;
ANALYZE nosql.kv_history;
CREATE FUNCTION pg_temp.scans() RETURNS TABLE (seq bigint, pkey bigint, key_index bigint)
    LANGUAGE sql AS $$
    SELECT pg_stat_get_xact_numscans('nosql.kv_history'::regclass),
           pg_stat_get_xact_numscans('nosql.kv_history_pkey'::regclass),
           pg_stat_get_xact_numscans('nosql.kv_history_key'::regclass) $$;
SELECT nosql.kv_current_revision() - 10 AS recent \gset
BEGIN;
SELECT * FROM pg_temp.scans() \gset before_
SELECT count(*) FROM nosql.kv_watch('', '', :recent);
SELECT seq - :before_seq AS seq_scans, pkey - :before_pkey > 0 AS pkey_used
  FROM pg_temp.scans();
SELECT * FROM pg_temp.scans() \gset before_
SELECT count(*) FROM nosql.kv_watch('bulk/', 'bulk0', :recent, prev_kv => true);
SELECT seq - :before_seq AS seq_scans, pkey - :before_pkey > 0 AS pkey_used
  FROM pg_temp.scans();
SELECT * FROM pg_temp.scans() \gset before_
SELECT count(*) FROM nosql.kv_watch('bulk/7', NULL, :recent - 200);
SELECT seq - :before_seq AS seq_scans,
       (pkey - :before_pkey) + (key_index - :before_key_index) > 0 AS index_used
  FROM pg_temp.scans();
COMMIT;

-- A watch runs as its caller: a role that may read only some keys
-- (kv_grant with a prefix, row-level security) sees only their events.
CREATE ROLE nosql_watch_reader;
SELECT nosql.kv_grant('nosql_watch_reader', 'read', 'a');
SET ROLE nosql_watch_reader;
SELECT revision, type, key, prev_value FROM nosql.kv_watch('', '', 6, prev_kv => true);
SELECT count(*) FROM nosql.kv_watch('b', '', 6);
RESET ROLE;
SELECT nosql.kv_revoke('nosql_watch_reader');
REVOKE USAGE ON SCHEMA nosql FROM nosql_watch_reader;
DROP ROLE nosql_watch_reader;
