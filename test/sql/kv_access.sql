-- Who may use the key-value store: table privileges, and row-level
-- security on key prefixes through nosql.kv_grant.
CREATE ROLE kv_none;
CREATE ROLE kv_reader;
CREATE ROLE kv_writer;
CREATE ROLE kv_team;
SELECT nosql.kv_put('/team/a', 'x'), nosql.kv_put('/other/b', 'y') \gset

-- no rights: permission errors, for reads and writes alike
SET ROLE kv_none;
SELECT nosql.kv_get('/team/a');
SELECT nosql.kv_put('/team/a', 'z');
SELECT nosql.kv_delete('/team/a');
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "k", "value": "v"}}]}');
RESET ROLE;

SELECT nosql.kv_grant('kv_reader', 'read');
SELECT nosql.kv_grant('kv_writer');
SELECT nosql.kv_grant('kv_team', 'write', '/team/');
SELECT nosql.kv_grant('kv_team', 'sometimes');
SELECT nosql.kv_grant('kv_team', 'read', '');

SET ROLE kv_reader;
SELECT key FROM nosql.kv_range('/', '0');
SELECT nosql.kv_put('/team/a', 'z');
SELECT nosql.kv_compact(1);
RESET ROLE;

SET ROLE kv_writer;
SELECT nosql.kv_put('/other/c', 'w') > 0 AS wrote;
SELECT key FROM nosql.kv_range('/', '0');
SELECT nosql.kv_compact(2);
RESET ROLE;

-- a prefix: the role sees and writes only its keys
SET ROLE kv_team;
SELECT key FROM nosql.kv_range('/', '0');
SELECT nosql.kv_put('/team/b', 'v') > 0 AS wrote;
SELECT nosql.kv_put('/other/b', 'v');
SELECT nosql.kv_get('/other/b') IS NULL AS invisible;
SELECT nosql.kv_delete('/', '0') AS deleted_own_keys_only;
RESET ROLE;
SELECT key, deleted FROM nosql.kv_history WHERE key LIKE '/%' AND mod_revision = nosql.kv_current_revision();
SELECT count(*) AS other_keys FROM nosql.kv_prefix('/other/');

-- revoke takes everything back
SELECT nosql.kv_revoke('kv_team');
SET ROLE kv_team;
SELECT nosql.kv_get('/team/a');
RESET ROLE;
SELECT count(*) FROM pg_policy WHERE polrelid = 'nosql.kv_history'::regclass
   AND polroles = ARRAY['kv_team'::regrole::oid];
SELECT nosql.kv_revoke('kv_reader'), nosql.kv_revoke('kv_writer');
ALTER TABLE nosql.kv_history DISABLE ROW LEVEL SECURITY;
REVOKE USAGE ON SCHEMA nosql FROM kv_reader, kv_writer, kv_team;
DROP ROLE kv_none, kv_reader, kv_writer, kv_team;

-- The quota: puts fail with etcd's "database space exceeded", deletes work.
SET nosql.kv_quota = 1;
SELECT nosql.kv_put('q' || g, (SELECT string_agg(md5(g::text || i::text), '') FROM generate_series(1, 2000) i))
  FROM generate_series(1, 20) g;
SELECT nosql.kv_delete('q', 'r') >= 0 AS deletes_work;
SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "q", "value": "v"}}]}');
SELECT nosql.kv_txn('{"success": [{"request_delete_range": {"key": "q"}}]}') OPERATOR(nosql.->) 'succeeded';
RESET nosql.kv_quota;
SELECT nosql.kv_put('q', 'fits again') > 0 AS wrote;
SET nosql.kv_quota = -1;
