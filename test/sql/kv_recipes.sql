-- Locks and elections on the key-value store, as etcd's concurrency package.
-- (Waiting between sessions is in test/t/017_kv_recipes.pl.)
TRUNCATE nosql.kv_history, nosql.kv_compaction;

-- lock: the key <name>/<suffix> and its create revision, the fencing token
CALL nosql.lock('jobs') \gset
SELECT :'key' LIKE 'jobs/x%' AS key_ok, :revision = nosql.kv_current_revision() AS token_ok;
SELECT key LIKE 'jobs/x%' AS under_name, create_revision = mod_revision AS fresh
  FROM nosql.kv_prefix('jobs/');
-- held: try_lock gets nothing, lock times out and leaves no key behind
SELECT * FROM nosql.try_lock('jobs');
CALL nosql.lock('jobs', timeout_ms => 100);
SELECT count(*) AS waiters FROM nosql.kv_prefix('jobs/');
-- unlock, then try_lock succeeds with a later fencing token
SELECT nosql.unlock(key) FROM nosql.kv_prefix('jobs/');
SELECT nosql.unlock('jobs/nothing');
SELECT key LIKE 'jobs/x%' AS ok, revision = nosql.kv_current_revision() AS token
  FROM nosql.try_lock('jobs');
-- a lock on another name is independent; 'jobsx' is not under 'jobs/'
SELECT key IS NOT NULL AS got FROM nosql.try_lock('jobsx');
SELECT nosql.unlock(key) FROM nosql.kv_prefix('jobs');
-- in a transaction block the blocking call refuses to run (it commits)
BEGIN;
CALL nosql.lock('jobs') \gset
SELECT :'key' LIKE 'jobs/x%' AS key_ok, :revision = nosql.kv_current_revision() AS token_ok;
ROLLBACK;
CALL nosql.lock('');
CALL nosql.lock(NULL);
SELECT * FROM nosql.try_lock('');
SELECT * FROM nosql.try_lock('jobs', NULL);
CALL nosql.lock('jobs', 424242);

-- elections: campaign, leader, proclaim, observe, resign
CALL nosql.campaign('svc', 'node-1') \gset
SELECT :'key' LIKE 'svc/x%' AS key_ok;
SELECT key LIKE 'svc/x%' AS ok, convert_from(value, 'UTF8') AS value FROM nosql.leader('svc');
SELECT (nosql.leader('svc')).create_revision AS lrev, (nosql.leader('svc')).key AS lkey \gset
SELECT nosql.proclaim(:'lkey', :lrev, 'node-1 v2') = nosql.kv_current_revision() AS proclaimed;
SELECT convert_from(value, 'UTF8') AS value, version FROM nosql.leader('svc');
\set VERBOSITY terse
SELECT nosql.proclaim(:'lkey', :lrev + 1, 'impostor');
\set VERBOSITY default
-- observe: the leader once it changed after a revision
SELECT convert_from(value, 'UTF8') AS value FROM nosql.observe('svc');
SELECT nosql.observe('svc', nosql.kv_current_revision()) IS NULL AS unchanged;
SELECT nosql.observe('svc', nosql.kv_current_revision(), 100) IS NULL AS unchanged_after_wait;
-- a second candidate waits behind the leader
CALL nosql.campaign('svc', 'node-2', timeout_ms => 100);
SELECT count(*) AS candidates FROM nosql.kv_prefix('svc/');
SELECT nosql.resign(:'lkey', :lrev + 1) AS wrong_revision;
SELECT nosql.resign(:'lkey', :lrev) AS resigned;
SELECT nosql.resign(:'lkey', :lrev) AS again;
SELECT nosql.leader('svc') IS NULL AS no_leader;
SELECT nosql.observe('svc') IS NULL AS nobody;
CALL nosql.campaign('', 'x');
SELECT nosql.proclaim(NULL, 1, 'x');
SELECT nosql.observe('svc', NULL);
