-- Coordination on a server that is not a raft member: the SQL objects exist,
-- the status view is empty, the membership calls refuse clearly, and the
-- key-value store works as a single server (no raft path).
SELECT count(*) AS rows FROM nosql.raft_status;
SELECT node_id, role FROM nosql.raft_status_info();
SELECT nosql.raft_add_member(2, '127.0.0.1:7402');
SELECT nosql.raft_remove_member(2);
SELECT nosql.raft_transfer_leadership(2);
SELECT nosql.raft_add_member(NULL, '127.0.0.1:7402') IS NULL AS strict;
-- the durable state is not readable by ordinary roles
CREATE ROLE raft_nobody;
SET ROLE raft_nobody;
SELECT * FROM nosql.raft_log;
SELECT * FROM nosql.raft_state;
SELECT nosql.raft_transfer_leadership(1);
RESET ROLE;
DROP ROLE raft_nobody;
-- a single server's store still takes writes in a transaction block
BEGIN;
SELECT nosql.kv_put('raft-regress', 'v') > 0 AS put;
ROLLBACK;
SELECT count(*) FROM nosql.kv_range('raft-regress');
-- the settings
SHOW nosql.raft_node_id;
SHOW nosql.raft_heartbeat_ms;
SHOW nosql.raft_election_timeout_ms;
SHOW nosql.raft_database;
SET nosql.raft_peers = '1=127.0.0.1:7401';
SHOW nosql.raft_request_timeout;
SET nosql.raft_request_timeout = 50;
SET nosql.raft_allow_in_transaction = on;
