-- The etcd v3 key-value store: revisions, versions, ranges, deletes.
-- A new store is at revision 1, as etcd's.
SELECT nosql.kv_current_revision();
SELECT nosql.kv_get('a') IS NULL AS absent;

-- Put: version 1 and create_revision = mod_revision on create, +1 per put.
SELECT nosql.kv_put('a', 'one');
SELECT nosql.kv_put('a', 'two');
SELECT nosql.kv_put('b', '\x00ff'::bytea);
SELECT nosql.kv_put('c', '');
SELECT * FROM nosql.kv_get('a');
SELECT key, convert_from(value, 'UTF8') AS value, create_revision, mod_revision, version, lease
  FROM nosql.kv_get('a');
SELECT * FROM nosql.kv_get('b');
SELECT * FROM nosql.kv_get('c');
SELECT nosql.kv_current_revision();

-- Historical reads: the state as of a revision; 0 or less is the current one.
SELECT * FROM nosql.kv_get('a', 2);
SELECT * FROM nosql.kv_get('a', 3);
SELECT nosql.kv_get('b', 3) IS NULL AS b_absent_at_3;
SELECT * FROM nosql.kv_get('a', -1);
SELECT * FROM nosql.kv_get('a', 0, true);
SELECT * FROM nosql.kv_get('a', 1);

-- Ranges: range_end NULL is the one key, '' every key >= key, otherwise
-- [key, range_end) in byte order.
SELECT nosql.kv_put('B', 'upper');
SELECT nosql.kv_put('ab', 'ab');
SELECT nosql.kv_put('a/x', 'ax');
SELECT key, mod_revision FROM nosql.kv_range('a');
SELECT key, mod_revision FROM nosql.kv_range('a', '');
SELECT key, mod_revision FROM nosql.kv_range('', '');
SELECT key, mod_revision FROM nosql.kv_range('a', 'b');
SELECT key, mod_revision FROM nosql.kv_range('ab', 'c');
SELECT key FROM nosql.kv_range('', 'a');
SELECT count(*) AS end_before_key FROM nosql.kv_range('c', 'a');
SELECT count(*) AS end_equals_key FROM nosql.kv_range('a', 'a');
SELECT count(*) AS missing_key FROM nosql.kv_range('zz');
-- limit: the first keys in key order; 0 or less is no limit.
SELECT key FROM nosql.kv_range('', '', 2);
SELECT count(*) FROM nosql.kv_range('', '', 0);
SELECT count(*) FROM nosql.kv_range('', '', -5);
SELECT key FROM nosql.kv_range('a', '', "limit" => 1);
-- historical ranges
SELECT key, value, mod_revision FROM nosql.kv_range('', '', revision => 4);
SELECT key, mod_revision FROM nosql.kv_range('a', 'b', revision => 7);

-- Prefixes: as etcd's WithPrefix; '' is every key.
SELECT key FROM nosql.kv_prefix('a');
SELECT key FROM nosql.kv_prefix('a/');
SELECT key FROM nosql.kv_prefix('');
SELECT key FROM nosql.kv_prefix('a', 2);
SELECT key FROM nosql.kv_prefix('a', revision => 3);
SELECT count(*) FROM nosql.kv_prefix('zz');
-- multibyte keys: the prefix end is the prefix with its last byte + 1
SELECT nosql.kv_put('é1', 'x'), nosql.kv_put('é2', 'y'), nosql.kv_put('ê', 'z');
SELECT key FROM nosql.kv_prefix('é');
SELECT key FROM nosql.kv_range('é', 'ê');

-- Delete: the count; a delete of several keys is one revision; deleting
-- nothing creates no revision.
SELECT nosql.kv_current_revision() AS before_delete \gset
SELECT nosql.kv_delete('zz') AS deleted_nothing;
SELECT nosql.kv_current_revision() = :before_delete AS no_revision;
SELECT nosql.kv_delete('é', 'ë') AS deleted_range;
SELECT nosql.kv_current_revision() = :before_delete + 1 AS one_revision;
SELECT key, mod_revision - :before_delete AS rev, deleted FROM nosql.kv_history
 WHERE deleted ORDER BY key;
SELECT count(*) FROM nosql.kv_prefix('é');
SELECT nosql.kv_delete('é', 'ë') AS again_nothing;
SELECT nosql.kv_current_revision() = :before_delete + 1 AS still_one_revision;
-- the deleted keys as of before the delete
SELECT key FROM nosql.kv_prefix('é', revision => :before_delete);
SELECT nosql.kv_delete('a/x') AS deleted_one;
SELECT nosql.kv_get('a/x') IS NULL AS gone;

-- A put after a delete starts a new life: create_revision is its revision,
-- version 1; the old life stays readable at its revisions.
SELECT nosql.kv_delete('a') AS deleted_a;
SELECT nosql.kv_current_revision() AS a_deleted_at \gset
SELECT nosql.kv_get('a') IS NULL AS a_gone;
SELECT nosql.kv_put('a', 'three') AS a_recreated_at \gset
SELECT create_revision = :a_recreated_at AS new_create, mod_revision = :a_recreated_at AS mod,
       version, convert_from(value, 'UTF8') AS value
  FROM nosql.kv_get('a');
SELECT nosql.kv_get('a', :a_deleted_at) IS NULL AS absent_at_delete;
SELECT version, convert_from(value, 'UTF8') AS value FROM nosql.kv_get('a', :a_deleted_at - 1);
SELECT nosql.kv_put('a', 'four') AS rev, (nosql.kv_get('a')).version;

-- Each call is one etcd request and takes its own revision, also in one
-- SQL transaction.
BEGIN;
SELECT nosql.kv_put('t1', 'x') - nosql.kv_current_revision() AS first;
SELECT nosql.kv_put('t2', 'x') AS t2_rev \gset
SELECT (nosql.kv_get('t1')).mod_revision = :t2_rev - 1 AS consecutive;
COMMIT;

-- A rolled-back write consumes no revision: revisions stay gap-free.
SELECT nosql.kv_current_revision() AS before_rollback \gset
BEGIN;
SELECT nosql.kv_put('r', 'x') = :before_rollback + 1 AS taken;
SELECT nosql.kv_delete('', '') > 0 AS deleted_everything;
ROLLBACK;
SELECT nosql.kv_current_revision() = :before_rollback AS returned;
SELECT nosql.kv_get('r') IS NULL AS r_never_existed;
SELECT count(*) > 0 AS keys_kept FROM nosql.kv_prefix('');
BEGIN;
SELECT nosql.kv_put('s', '1') = :before_rollback + 1 AS first;
SAVEPOINT sp;
SELECT nosql.kv_put('s', '2') = :before_rollback + 2 AS second;
ROLLBACK TO sp;
SELECT nosql.kv_put('s', '3') = :before_rollback + 2 AS second_again;
COMMIT;
SELECT version, convert_from(value, 'UTF8') AS value FROM nosql.kv_get('s');
SELECT nosql.kv_put('after', 'x') = :before_rollback + 3 AS next_in_line;
-- gap-free: every revision from 2 to the current one has its write
SELECT count(DISTINCT mod_revision) = nosql.kv_current_revision() - 1 AS gap_free,
       min(mod_revision) AS first, max(mod_revision) = nosql.kv_current_revision() AS last
  FROM nosql.kv_history;

-- Sizes: up to 1.5 MiB (etcd's request limit) for a key and for a value.
SELECT nosql.kv_put(repeat('k', 1572864), repeat('v', 1572864)) > 0 AS largest_accepted;
SELECT length(key), length(value), version FROM nosql.kv_get(repeat('k', 1572864));
SELECT nosql.kv_delete(repeat('k', 1572864));
-- Long keys are indexed by their first 1024 bytes: keys sharing them stay
-- distinct, in byte order, and a range delete numbers them (sub) in one revision.
SELECT nosql.kv_put(repeat('h', 2000) || 'b', 'B'), nosql.kv_put(repeat('h', 2000) || 'a', 'A'),
       nosql.kv_put(repeat('h', 1024), 'short');
SELECT length(key), right(key, 1), convert_from(value, 'UTF8') AS value, version
  FROM nosql.kv_prefix(repeat('h', 1000));
SELECT convert_from(value, 'UTF8') AS value FROM nosql.kv_get(repeat('h', 2000) || 'b');
SELECT right(key, 1) FROM nosql.kv_range(repeat('h', 2000) || 'a', repeat('h', 2000) || 'b');
SELECT nosql.kv_delete(repeat('h', 1024), 'i') AS deleted_long;
SELECT length(key), right(key, 1), sub, mod_revision = nosql.kv_current_revision() AS latest
  FROM nosql.kv_history WHERE deleted AND key LIKE 'hhh%' ORDER BY sub;
SELECT length(nosql.kv_key_head(repeat('h', 2000))) AS head_bytes,
       octet_length(nosql.kv_key_head('a' || repeat('é', 1000))) AS head_cut_at_character;
SELECT nosql.kv_current_revision() AS before_errors \gset

-- Errors.
SELECT nosql.kv_put('', 'x');
SELECT nosql.kv_get('');
SELECT * FROM nosql.kv_range('');
SELECT nosql.kv_delete('');
SELECT nosql.kv_put(repeat('k', 1572865), 'x');
SELECT nosql.kv_put('big', repeat('v', 1572865));
SELECT nosql.kv_put('big', convert_to(repeat('v', 1572865), 'UTF8'));
SELECT * FROM nosql.kv_range('a', repeat('k', 1572865));
SELECT nosql.kv_get(repeat('k', 1572865));
SELECT nosql.kv_get('big') IS NULL AS big_not_written;
SELECT nosql.kv_get('a', nosql.kv_current_revision() + 1);
SELECT * FROM nosql.kv_range('a', '', revision => 1000000);
SELECT * FROM nosql.kv_prefix('a', revision => 1000000);
SELECT nosql.kv_put('leased', 'x', 42);
SELECT nosql.kv_put(NULL, 'x');
SELECT nosql.kv_put('a', NULL::bytea);
SELECT nosql.kv_put('a', 'x', NULL);
SELECT nosql.kv_get(NULL);
SELECT nosql.kv_get('a', NULL);
SELECT * FROM nosql.kv_range(NULL);
SELECT * FROM nosql.kv_range('a', '', NULL);
SELECT * FROM nosql.kv_prefix(NULL);
SELECT nosql.kv_delete(NULL);
SELECT nosql.kv_current_revision() = :before_errors AS errors_took_no_revision;

-- their SQLSTATEs
\set VERBOSITY sqlstate
SELECT nosql.kv_put('', 'x');
SELECT nosql.kv_put('big', repeat('v', 1572865));
SELECT nosql.kv_get('a', 1000000);
SELECT nosql.kv_put('leased', 'x', 42);
SELECT nosql.kv_delete(NULL);
\set VERBOSITY default

-- The store's tables carry no rights for other roles.
CREATE ROLE nosql_kv_user;
SET ROLE nosql_kv_user;
SELECT nosql.kv_put('a', 'x');
SELECT nosql.kv_get('a');
RESET ROLE;
DROP ROLE nosql_kv_user;

-- Put with prev_kv: the revision and the version replaced (NULL for a new key).
SELECT nosql.kv_delete('', '') >= 0 AS cleared;
SELECT * FROM nosql.kv_put_prev('p', 'v1');
SELECT revision > 0 AS ok, (prev_kv).key, convert_from((prev_kv).value, 'UTF8') AS prev_value,
       (prev_kv).version FROM nosql.kv_put_prev('p', 'v2');
-- ignore_value keeps the value, ignore_lease the lease; both need the key
SELECT (nosql.kv_put_prev('p', NULL, ignore_value => true)).prev_kv IS NOT NULL AS had_prev;
SELECT convert_from(value, 'UTF8') AS value, version FROM nosql.kv_get('p');
SELECT (nosql.kv_put_prev('p', 'v3', ignore_lease => true)).revision > 0 AS ok;
SELECT convert_from(value, 'UTF8') AS value, version, lease FROM nosql.kv_get('p');
SELECT * FROM nosql.kv_put_prev('nokey', NULL, ignore_value => true);
SELECT * FROM nosql.kv_put_prev('nokey', 'x', ignore_lease => true);
SELECT * FROM nosql.kv_put_prev('p', 'x', ignore_value => true);
SELECT * FROM nosql.kv_put_prev('p', 'x', 7, ignore_lease => true);
SELECT * FROM nosql.kv_put_prev('p', NULL);
SELECT * FROM nosql.kv_put_prev('p', 'x', 7);

-- Range options: keys_only, count, sort order and target, revision filters.
SELECT nosql.kv_current_revision() AS r0 \gset
SELECT nosql.kv_put('s/a', 'c'), nosql.kv_put('s/b', 'a'), nosql.kv_put('s/c', 'b');
SELECT nosql.kv_put('s/b', 'aa');
SELECT key, value IS NULL AS no_value FROM nosql.kv_prefix('s/', keys_only => true);
SELECT nosql.kv_count('s/', 's0'), nosql.kv_count('s/a'), nosql.kv_count('s/zz'),
       nosql.kv_count('', ''), nosql.kv_count('s/', 's0', revision => :r0 + 1);
SELECT key FROM nosql.kv_prefix('s/', sort_order => 'DESCEND');
SELECT key FROM nosql.kv_prefix('s/', sort_order => 'ASCEND', sort_target => 'VALUE');
SELECT key FROM nosql.kv_prefix('s/', sort_target => 'VALUE');  -- target alone sorts ascending
SELECT key FROM nosql.kv_prefix('s/', sort_order => 'DESCEND', sort_target => 'VERSION');
SELECT key FROM nosql.kv_prefix('s/', sort_order => 'descend', sort_target => 'mod', "limit" => 2);
SELECT key FROM nosql.kv_prefix('s/', sort_order => 'ASCEND', sort_target => 'CREATE', "limit" => 1);
SELECT key FROM nosql.kv_prefix('s/', min_mod_revision => :r0 + 2);
SELECT key FROM nosql.kv_prefix('s/', max_mod_revision => :r0 + 2);
SELECT key FROM nosql.kv_prefix('s/', min_create_revision => :r0 + 2, max_create_revision => :r0 + 2);
SELECT key FROM nosql.kv_prefix('s/', min_mod_revision => :r0 + 2, "limit" => 1);
SELECT key FROM nosql.kv_range('s/', 's0', keys_only => true, revision => :r0 + 2);
SELECT * FROM nosql.kv_prefix('s/', sort_order => 'UP');
SELECT * FROM nosql.kv_prefix('s/', sort_target => 'LEASE');
SELECT * FROM nosql.kv_prefix('s/', keys_only => NULL);
SELECT nosql.kv_count(NULL);

-- Delete with prev_kv: the deleted versions, all at one revision.
SELECT key, convert_from(value, 'UTF8') AS value, version FROM nosql.kv_delete_prev('s/', 's0');
SELECT count(*) FROM nosql.kv_delete_prev('s/', 's0');
SELECT DISTINCT mod_revision = nosql.kv_current_revision() AS one_revision
  FROM nosql.kv_history WHERE key LIKE 's/%' AND deleted;

-- Compaction: superseded versions at or below the revision go; the store as
-- of that revision stays readable, older revisions fail.
SELECT nosql.kv_put('c1', 'a') AS c1a \gset
SELECT nosql.kv_put('c1', 'b') AS c1b \gset
SELECT nosql.kv_put('c2', 'x') AS c2x \gset
SELECT nosql.kv_delete('c2') AS deleted_c2;
SELECT nosql.kv_current_revision() AS c2del \gset
SELECT nosql.kv_put('c1', 'c') AS c1c \gset
SELECT nosql.kv_compact(:c1b + 1) > 0 AS removed;
SELECT key, convert_from(value, 'UTF8') AS value, mod_revision = :c1b AS at_c1b
  FROM nosql.kv_get('c1', :c1b + 1);
SELECT convert_from(value, 'UTF8') AS value FROM nosql.kv_get('c1');
SELECT count(*) AS c1_versions FROM nosql.kv_history WHERE key = 'c1';
SELECT * FROM nosql.kv_get('c1', :c1a);
SELECT count(*) FROM nosql.kv_range('', '', revision => :c1a);
SELECT nosql.kv_count('c1', revision => :c1a);
SELECT nosql.kv_compact(:c1b);
SELECT nosql.kv_compact(nosql.kv_current_revision() + 1);
-- compacting the tombstone removes the deleted key's history
SELECT nosql.kv_compact(:c2del) AS removed_at_c2del;
SELECT count(*) AS c2_rows FROM nosql.kv_history WHERE key = 'c2';
SELECT nosql.kv_compact(NULL) IS NULL AS null_is_null;

-- Writers keep the revision in shared memory for the next writer: rolled
-- back savepoints, rolled back transactions and TRUNCATE must not let it
-- go wrong (revisions stay gap-free and the history agrees).
SELECT nosql.kv_current_revision() AS s0 \gset
BEGIN;
SELECT nosql.kv_put('sp', '1') - :s0 AS first;
SAVEPOINT a;
SELECT nosql.kv_put('sp', '2') - :s0 AS rolled_back;
ROLLBACK TO a;
SELECT nosql.kv_put('sp', '3') - :s0 AS reused;
COMMIT;
SELECT nosql.kv_put('sp', '4') - :s0 AS next;
BEGIN;
SELECT nosql.kv_put('sp', '5') - :s0 AS in_rolled_back_transaction;
ROLLBACK;
SELECT nosql.kv_put('sp', '6') - :s0 AS again_next;
SELECT version, convert_from(value, 'UTF8') AS value FROM nosql.kv_get('sp');
BEGIN;
SAVEPOINT b;
SELECT nosql.kv_put('sp', '7') - :s0 AS in_savepoint;
ROLLBACK TO b;
COMMIT;
SELECT nosql.kv_put('sp', '8') - :s0 AS after_empty_commit;
SELECT nosql.kv_current_revision() = max(mod_revision) AS agrees FROM nosql.kv_history;

-- A range without filters is a walk of the key index (src/kv.c, "The range
-- scan"); with a filter that keeps everything (min_mod_revision 1) it is
-- the statement.  Randomized puts and deletes, long keys sharing a head
-- among them, a rolled back write: both give the same rows at every
-- revision, with and without a limit.
SELECT setseed(0.42);
SELECT nosql.kv_current_revision() AS r0 \gset
CREATE TEMP TABLE rs_ops AS
  SELECT i, CASE WHEN random() < 0.3 THEN repeat('p', 1024) || (random() * 5)::int
                 ELSE 'rs/' || (random() * 40)::int END AS key,
         random() < 0.2 AS del
    FROM generate_series(1, 300) i;
SELECT count(*) > 0 AS wrote FROM (
  SELECT CASE WHEN del THEN nosql.kv_delete(key) ELSE nosql.kv_put(key, 'v' || i) END
    FROM rs_ops ORDER BY i) w;
BEGIN;
SELECT nosql.kv_put('rs/1', 'rolled back') > 0 AS wrote;
ROLLBACK;
SELECT count(*) AS differing FROM generate_series(:r0, nosql.kv_current_revision(), 7) r,
  LATERAL (SELECT count(*) AS n FROM (
      (SELECT * FROM nosql.kv_range('rs/', 'rs0', revision => r) EXCEPT ALL
       SELECT * FROM nosql.kv_range('rs/', 'rs0', revision => r, min_mod_revision => 1))
      UNION ALL
      (SELECT * FROM nosql.kv_range('rs/', 'rs0', revision => r, min_mod_revision => 1) EXCEPT ALL
       SELECT * FROM nosql.kv_range('rs/', 'rs0', revision => r))
      UNION ALL
      (SELECT * FROM nosql.kv_range(repeat('p', 1000), '', revision => r) EXCEPT ALL
       SELECT * FROM nosql.kv_range(repeat('p', 1000), '', revision => r, min_mod_revision => 1))
      UNION ALL
      (SELECT * FROM nosql.kv_range(repeat('p', 1000), '', revision => r, min_mod_revision => 1) EXCEPT ALL
       SELECT * FROM nosql.kv_range(repeat('p', 1000), '', revision => r))) d) x
 WHERE x.n > 0;
-- order and limit: the same keys in the same order
SELECT (SELECT array_agg(key) FROM nosql.kv_range('', '', 25)) =
       (SELECT array_agg(key) FROM nosql.kv_range('', '', 25, min_mod_revision => 1)) AS same_first_25,
       (SELECT array_agg(key) FROM nosql.kv_range('rs/', 'rs0')) =
       (SELECT array_agg(key) FROM nosql.kv_range('rs/', 'rs0', min_mod_revision => 1)) AS same_order,
       (SELECT count(*) FROM nosql.kv_range('rs/1', NULL)) AS one_key;
SELECT nosql.kv_delete('rs/', 'rs0') >= 0 AS cleaned, nosql.kv_delete(repeat('p', 1024), repeat('p', 1024) || 'z') >= 0 AS cleaned_long;
DROP TABLE rs_ops;
