-- etcd leases on the key-value store: grant, attach by put, detach by put,
-- time to live, keepalive, revoke (all keys at one revision), list, errors.
-- The background worker runs here (nosql.worker_naptime = 1s), so every
-- lease committed has a TTL long enough to outlive the test; expiry itself
-- is tested in test/t/014_kv_lease.pl.

-- Grant with a given id; a TTL below etcd's minimum (2 s) is raised to it.
SELECT nosql.lease_grant(3600, 1001) AS l1001;
SELECT nosql.lease_grant(3600, 1002) AS l1002;
SELECT id, granted_ttl, ttl BETWEEN 3598 AND 3600 AS ttl_ok, keys
  FROM nosql.lease_ttl(1001);
-- (in a transaction rolled back, so that the worker never sees them)
BEGIN;
SELECT granted_ttl, ttl BETWEEN 0 AND 2 AS ttl_ok FROM nosql.lease_ttl(nosql.lease_grant(1, 1003));
SELECT granted_ttl FROM nosql.lease_ttl(nosql.lease_grant(2, 1004));
SELECT granted_ttl FROM nosql.lease_ttl(nosql.lease_grant(3, 1005));
ROLLBACK;
-- the largest TTL etcd grants
SELECT granted_ttl FROM nosql.lease_ttl(nosql.lease_grant(9000000000, 1006));
SELECT nosql.lease_revoke(1006);

-- id 0: the server chooses a positive id, at random, never one in use.
SELECT nosql.lease_grant(3600) AS r1 \gset
SELECT nosql.lease_grant(3600) AS r2 \gset
SELECT :r1 > 0 AS positive, :r2 > 0 AS positive, :r1 <> :r2 AS distinct_ids,
       :r1 NOT IN (1001, 1002) AND :r2 NOT IN (1001, 1002) AS not_reused;
SELECT count(*) FROM nosql.lease_list() l WHERE l IN (:r1, :r2);
SELECT nosql.lease_revoke(:r1), nosql.lease_revoke(:r2);

-- LeaseLeases: every lease, by id.
SELECT * FROM nosql.lease_list();

-- A put with a lease attaches the key; lease_ttl lists the keys in key order.
SELECT nosql.kv_current_revision() AS r0 \gset
SELECT nosql.kv_put('lease/b', 'b', 1001) - :r0 AS rev;
SELECT nosql.kv_put('lease/a', 'a', 1001) - :r0 AS rev;
SELECT nosql.kv_put('lease/c', 'c', 1001) - :r0 AS rev;
SELECT nosql.kv_put('lease/d', 'd', 1002) - :r0 AS rev;
SELECT nosql.kv_put('lease/e', 'e') - :r0 AS rev;
SELECT key, lease FROM nosql.kv_prefix('lease/');
SELECT id, granted_ttl, keys FROM nosql.lease_ttl(1001, true);
SELECT id, keys FROM nosql.lease_ttl(1001, keys => false);
SELECT id, keys FROM nosql.lease_ttl(1002, true);

-- A put without a lease detaches the key (etcd); a put with another lease
-- moves it; ignore_lease keeps the lease.
SELECT nosql.kv_put('lease/c', 'c2') - :r0 AS rev;
SELECT nosql.kv_put('lease/d', 'd2', 1001) - :r0 AS rev;
SELECT revision - :r0 AS rev, (prev_kv).lease AS prev_lease
  FROM nosql.kv_put_prev('lease/a', 'a2', ignore_lease => true);
SELECT key, lease FROM nosql.kv_prefix('lease/');
SELECT keys FROM nosql.lease_ttl(1001, true);
SELECT keys FROM nosql.lease_ttl(1002, true);
-- a deleted key is no longer attached, and a new life of it without the
-- lease is not either
SELECT nosql.kv_put('lease/f', 'f', 1002) - :r0 AS rev;
SELECT nosql.kv_delete('lease/f') AS deleted;
SELECT keys FROM nosql.lease_ttl(1002, true);
SELECT nosql.kv_put('lease/f', 'f2') - :r0 AS rev;
SELECT keys FROM nosql.lease_ttl(1002, true);

-- Keepalive renews to the granted TTL and returns it.
SELECT nosql.lease_keepalive(1001) AS ttl;
SELECT ttl BETWEEN 3598 AND 3600 AS renewed FROM nosql.lease_ttl(1001);

-- Revoke deletes every key attached, at ONE new revision, sub-numbered in
-- key order, and returns how many; keys once attached are left alone.
SELECT nosql.kv_current_revision() AS before_revoke \gset
SELECT nosql.lease_revoke(1001) AS deleted;
SELECT nosql.kv_current_revision() - :before_revoke AS new_revisions;
SELECT key, mod_revision - :before_revoke AS rev, sub, deleted, lease, version
  FROM nosql.kv_history WHERE mod_revision > :before_revoke ORDER BY sub;
SELECT key, lease FROM nosql.kv_prefix('lease/');
SELECT * FROM nosql.lease_ttl(1001, true);
-- the deleted keys as of before the revoke
SELECT key, lease FROM nosql.kv_prefix('lease/', revision => :before_revoke);
-- a revoke of a lease without keys creates no revision
SELECT nosql.kv_current_revision() AS before_revoke \gset
SELECT nosql.lease_revoke(1002) AS deleted;
SELECT nosql.kv_current_revision() = :before_revoke AS no_revision;
SELECT * FROM nosql.lease_list();

-- A revoke inside a transaction rolled back keeps lease and keys.
SELECT nosql.lease_grant(3600, 1010) AS l1010;
SELECT nosql.kv_put('lease/g', 'g', 1010) - :r0 AS rev;
BEGIN;
SELECT nosql.lease_revoke(1010) AS deleted;
ROLLBACK;
SELECT keys FROM nosql.lease_ttl(1010, true);
SELECT nosql.lease_revoke(1010) AS deleted;

-- An expired lease (here: in a transaction, so the worker cannot see it)
-- takes no puts and no keepalives; lease_ttl says 0 s left; it can still
-- be revoked.
BEGIN;
SELECT nosql.lease_grant(1, 1020) AS l1020;
SELECT nosql.kv_put('lease/h', 'h', 1020) - :r0 AS rev;
SELECT pg_sleep(2.2);
SELECT id, ttl, granted_ttl, keys FROM nosql.lease_ttl(1020, true);
SAVEPOINT s;
SELECT nosql.kv_put('lease/i', 'i', 1020);
ROLLBACK TO s;
SELECT nosql.lease_keepalive(1020);
ROLLBACK TO s;
SELECT 1020 IN (SELECT * FROM nosql.lease_list()) AS listed;
SELECT nosql.lease_revoke(1020) AS deleted;
SELECT nosql.kv_get('lease/h') IS NULL AS gone;
ROLLBACK;

-- Errors.
SELECT nosql.lease_grant(0);
SELECT nosql.lease_grant(-5);
SELECT nosql.lease_grant(9000000001);
SELECT nosql.lease_grant(60, -1);
SELECT nosql.lease_grant(3600, 1030);
SELECT nosql.lease_grant(60, 1030);
SELECT nosql.lease_revoke(1030);
SELECT nosql.lease_revoke(1030);
SELECT nosql.lease_revoke(424242);
SELECT nosql.lease_keepalive(424242);
SELECT * FROM nosql.lease_ttl(424242);
SELECT * FROM nosql.lease_ttl(424242, true);
SELECT nosql.kv_put('lease/x', 'x', 424242);
SELECT nosql.kv_put('lease/x', 'x', 1001);
SELECT nosql.lease_grant(NULL);
SELECT nosql.lease_grant(60, NULL);
SELECT nosql.lease_revoke(NULL);
SELECT nosql.lease_keepalive(NULL);
SELECT * FROM nosql.lease_ttl(NULL);
SELECT * FROM nosql.lease_ttl(1, NULL);

-- their SQLSTATEs
\set VERBOSITY sqlstate
SELECT nosql.lease_grant(0);
SELECT nosql.lease_grant(9000000001);
SELECT nosql.lease_grant(60, -1);
SELECT nosql.lease_grant(3600, 1031), nosql.lease_grant(3600, 1031);
SELECT nosql.lease_revoke(424242);
SELECT nosql.lease_keepalive(424242);
SELECT nosql.kv_put('lease/x', 'x', 424242);
SELECT nosql.lease_revoke(NULL);
\set VERBOSITY default

-- The leases carry no rights for other roles: the calls run as the caller.
CREATE ROLE nosql_lease_user;
SET ROLE nosql_lease_user;
SELECT nosql.lease_grant(60);
SELECT nosql.lease_revoke(1);
SELECT nosql.lease_keepalive(1);
SELECT * FROM nosql.lease_ttl(1);
SELECT * FROM nosql.lease_list();
RESET ROLE;
DROP ROLE nosql_lease_user;

-- A role limited to a key prefix (row-level security) cannot revoke a lease
-- with keys outside it, as etcd requires write permission on every key of
-- the lease; it can revoke one whose keys are all its own.
CREATE ROLE nosql_lease_prefix;
SELECT nosql.kv_grant('nosql_lease_prefix', 'write', 'lease/p/');
SELECT nosql.lease_grant(3600, 1040), nosql.lease_grant(3600, 1041);
SELECT nosql.kv_put('lease/p/1', 'x', 1040) > 0, nosql.kv_put('lease/q/1', 'y', 1040) > 0,
       nosql.kv_put('lease/p/2', 'x', 1041) > 0;
SET ROLE nosql_lease_prefix;
SELECT nosql.lease_revoke(1040);
SELECT nosql.lease_revoke(1041) AS deleted;
RESET ROLE;
SELECT key, lease FROM nosql.kv_prefix('lease/') WHERE lease <> 0;
SELECT nosql.lease_revoke(1040) AS deleted;
SELECT nosql.kv_revoke('nosql_lease_prefix');
REVOKE USAGE ON SCHEMA nosql FROM nosql_lease_prefix;
DROP ROLE nosql_lease_prefix;

-- Nothing left behind.
SELECT nosql.kv_delete('lease/', 'lease0') > 0 AS cleaned;
SELECT count(*) AS leases_left FROM nosql.lease_list();
