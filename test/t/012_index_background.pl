# Background index builds in one command: createIndexes with background:
# true (or nosql.background_index_builds = on) returns at once, listIndexes
# shows the index, and a background worker builds it with CREATE INDEX
# CONCURRENTLY while writers go on unblocked.  A failed build (duplicates
# for a unique index) leaves no index and records MongoDB's 11000 in
# nosql.index_build; dropping the index or the collection aborts the build
# at once; a build interrupted by a crash is finished after the restart;
# a createIndexes that rolls back builds nothing; an index whose documents
# get arrays after its build gets its multikey GIN in the background.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use NosqlTest;

my $node = nosql_node('background');
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');

sub command { return run_command($node, $_[0]); }

sub load
{
	my ($coll, $n) = @_;
	$node->safe_psql('postgres', qq{
		SELECT sum(nosql.insert_many('db.$coll', docs)) FROM (
		  SELECT ('[' || string_agg(format('{"_id": %s, "a": %s, "s": "s%s", "pad": "%s"}', g, g % 5000, g, repeat('x', 60)), ',') || ']')::nosql.bson AS docs
		    FROM generate_series(1, $n) g GROUP BY g / 10000) b});
}

sub in_flight
{
	my ($coll) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM nosql.index_build WHERE collection = '$coll' AND state <> 'failed'");
}

sub pg_indexes
{
	my ($coll) = @_;
	return $node->safe_psql('postgres',
		qq{SELECT count(*) || '/' || count(*) FILTER (WHERE indisvalid) FROM pg_index WHERE indrelid = 'nosql_data."db.$coll"'::regclass});
}

# A session holding a snapshot: a CREATE INDEX CONCURRENTLY
# waits for it before its index becomes valid, so the build is surely in
# progress meanwhile (and writers must still go on).
sub hold_snapshot
{
	my $h = $node->background_psql('postgres');
	$h->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
	$h->query_safe('SELECT count(*) FROM nosql.collection');
	return $h;
}

load('c', 300000);
$node->safe_psql('postgres', 'CREATE EXTENSION amcheck');

# 1. the command returns at once; the specs are listed; writers go on
my $create = '{"createIndexes": "c", "indexes": [{"key": {"a": 1, "s": -1}, "name": "a_s", "background": true}, {"key": {"s": 1}, "name": "s_1", "unique": true, "background": true}]}';
my $holder = hold_snapshot();
my $t0 = time;
my $reply = command($create);
my $returned = time - $t0;
like($reply, qr/"numIndexesAfter": 3\b.*"note": "index builds started in the background.*"ok": 1\.0/, 'createIndexes answers at once');
like(command('{"listIndexes": "c"}'), qr/"name": "a_s".*"name": "s_1"/, 'listIndexes shows the builds in progress');
my $started = time;
my ($writes, $slowest) = (0, 0);
while (in_flight('c') ne '0' && time - $started < 300)
{
	my $w0 = time;
	my $id = 1000000 + $writes;
	my $r = command(qq({"insert": "c", "documents": [{"_id": $id, "a": 7, "s": "w$id"}]}));
	my $target = $writes + 1;
	command(qq({"update": "c", "updates": [{"q": {"_id": $target}, "u": {"\$set": {"a": 4999}}}]}));
	my $took = time - $w0;
	$slowest = $took if $took > $slowest;
	$writes++ if $r =~ /"n": 1,/;
	if ($holder && time - $started > 2)
	{
		$holder->query_safe('COMMIT');
		$holder->quit;
		undef $holder;
	}
}
my $build_time = time - $started;
is(in_flight('c'), '0', sprintf('the builds finished (%.1f s; the command took %.3f s)', $build_time, $returned));
cmp_ok($returned, '<', $build_time / 2, 'the command did not wait for the builds');
cmp_ok($writes, '>', 10, "$writes inserts and updates went in during the builds");
cmp_ok($slowest, '<', $build_time / 2, sprintf('no write waited for the builds (slowest %.3f s)', $slowest));
is(pg_indexes('c'), '3/3', 'both PostgreSQL indexes are built and valid');
is($node->safe_psql('postgres', q{SELECT count(*) FROM nosql.index_build}), '0', 'no build row left');
like(command('{"insert": "c", "documents": [{"_id": 5000000, "s": "s2"}]}'), qr/"code": 11000\b.*"keyPattern": \{"s": 1\}/,
	'the unique index is enforced');
like(command('{"explain": {"find": "c", "filter": {"a": 7, "s": "w1000000"}}, "verbosity": "queryPlanner"}'),
	qr/"indexName": "(a_s|s_1)"/, 'a find uses them');
is(command('{"count": "c", "query": {"a": 7}}') =~ /"n": (\d+)/ ? $1 : -1,
	$node->safe_psql('postgres', q{SET enable_indexscan = off; SET enable_bitmapscan = off;
		SELECT count(*) FROM nosql_data."db.c" WHERE document OPERATOR(nosql.@@) '{"a": 7}'}),
	'counts through the index built while writes went on equal a sequential scan');
my ($checked, $errors) = amcheck_btrees($node, 'postgres', 'db.c');
is(scalar(@$checked), 3, 'amcheck ran on the three btrees');
is_deeply($errors, [], 'amcheck (heapallindexed, parent check) passes on every btree');

# 2. a unique build over duplicates fails: no index, the error is recorded
command('{"insert": "d", "documents": [{"_id": 1, "k": 1}, {"_id": 2, "k": 1}, {"_id": 3, "k": 2}]}');
like(command('{"createIndexes": "d", "indexes": [{"key": {"k": 1}, "name": "k_u", "unique": true, "background": true}]}'),
	qr/"ok": 1\.0/, 'the unique build is accepted');
is(wait_for_value($node, 'postgres', q{SELECT state || ' ' || code FROM nosql.index_build WHERE name = 'k_u'}, 'failed 11000'),
	'failed 11000', 'then fails with 11000');
like($node->safe_psql('postgres', q{SELECT error FROM nosql.index_build WHERE name = 'k_u'}), qr/duplicate|duplicated/,
	'the error names the duplicates');
unlike(command('{"listIndexes": "d"}'), qr/k_u/, 'the failed index is not listed');
is(pg_indexes('d'), '1/1', 'and nothing of it is left');
# asked again once the duplicate is gone, it is built
command('{"delete": "d", "deletes": [{"q": {"_id": 2}, "limit": 1}]}');
command('{"createIndexes": "d", "indexes": [{"key": {"k": 1}, "name": "k_u", "unique": true, "background": true}]}');
is(wait_for_value($node, 'postgres', q{SELECT count(*) FROM nosql.index_build WHERE collection = 'd'}, '0'), '0',
	'asked again, the failed row is replaced and the build succeeds');
is(pg_indexes('d'), '2/2', 'the unique index is there');

# 3. dropping an index being built aborts the build at once
$holder = hold_snapshot();
command('{"createIndexes": "c", "indexes": [{"key": {"pad": 1, "a": 1}, "name": "pad_a", "background": true}]}');
wait_for_value($node, 'postgres', q{SELECT state FROM nosql.index_build WHERE name = 'pad_a'}, 'building');
$t0 = time;
like(command('{"dropIndexes": "c", "index": "pad_a"}'), qr/"ok": 1\.0/, 'dropIndexes during the build');
my $drop_took = time - $t0;
$holder->query_safe('COMMIT');
$holder->quit;
cmp_ok($drop_took, '<', $build_time / 2, sprintf('did not wait for the build (%.3f s)', $drop_took));
is(wait_for_value($node, 'postgres', q{SELECT count(*) FROM nosql.index_build}, '0'), '0', 'the build row is gone');
is(wait_for_value($node, 'postgres', qq{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'nosql index build'}, '0'),
	'0', 'the builder exited');
is(pg_indexes('c'), '3/3', 'nothing of the aborted index is left');

# 4. so does dropping the collection
load('e', 100000);
$holder = hold_snapshot();
command('{"createIndexes": "e", "indexes": [{"key": {"pad": 1, "s": 1}, "name": "pad_s", "background": true}]}');
wait_for_value($node, 'postgres', q{SELECT state FROM nosql.index_build WHERE name = 'pad_s'}, 'building');
like(command('{"drop": "e"}'), qr/"ok": 1\.0/, 'drop during the build');
$holder->query_safe('COMMIT');
$holder->quit;
is($node->safe_psql('postgres', q{SELECT count(*) FROM nosql.index_build}), '0', 'the build row went with it');
is(wait_for_value($node, 'postgres', qq{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'nosql index build'}, '0'),
	'0', 'the builder exited');

# 5. a rolled back createIndexes builds nothing
$node->safe_psql('postgres', q{BEGIN; SELECT nosql.run_command('db', '{"createIndexes": "d", "indexes": [{"key": {"z": 1}, "name": "z_1", "background": true}]}'); ROLLBACK;});
usleep(500_000);
is($node->safe_psql('postgres', q{SELECT count(*) FROM nosql.index_build}), '0', 'rolled back: no build row');
is(pg_indexes('d'), '2/2', 'and no index');

# 6. the setting makes every build of an existing collection a background one
$node->safe_psql('postgres', q{ALTER SYSTEM SET nosql.background_index_builds = on; SELECT pg_reload_conf();});
like(command('{"createIndexes": "d", "indexes": [{"key": {"y": 1}, "name": "y_1"}]}'), qr/"note": "index builds started in the background/,
	'nosql.background_index_builds = on');
is(wait_for_value($node, 'postgres', q{SELECT count(*) FROM nosql.index_build}, '0'), '0', 'built');
is(pg_indexes('d'), '3/3', 'y_1 is there');
like(command('{"createIndexes": "fresh", "indexes": [{"key": {"y": 1}, "name": "y_1"}]}'), qr/"createdCollectionAutomatically": true(?!.*background)/,
	'a collection created by the command builds at once');
$node->safe_psql('postgres', q{ALTER SYSTEM RESET nosql.background_index_builds; SELECT pg_reload_conf();});

# 7. an index created on an empty collection whose documents then get
# arrays: the database's worker adds the multikey GIN beside it
command('{"createIndexes": "mk", "indexes": [{"key": {"tags": 1}, "name": "tags_1"}]}');
$node->safe_psql('postgres', q{
	SELECT nosql.insert_many('db.mk', ('[' || string_agg(format('{"_id": %s, "tags": [%s, %s]}', g, g % 7, g % 11), ',') || ']')::nosql.bson)
	  FROM generate_series(1, 20000) g});
is(wait_for_value($node, 'postgres', q{
	SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	 WHERE i.indrelid = 'nosql_data."db.mk"'::regclass AND c.relname ~ '_m[0-9a-f]+$' AND i.indisvalid}, '1', 60),
	'1', 'the multikey GIN was built in the background');
is($node->safe_psql('postgres', q{SELECT count(*) FROM nosql.index_build}), '0', 'its build row is gone');
like($node->safe_psql('postgres', q{SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT * FROM nosql_data."db.mk"
	WHERE document OPERATOR(nosql.@@) '{"tags": 3}'}), qr/_m[0-9a-f]+/, 'and serves multikey matches');
is(command('{"count": "mk", "query": {"tags": 3}}') =~ /"n": (\d+)/ ? $1 : -1,
	$node->safe_psql('postgres', q{SET enable_indexscan = off; SET enable_bitmapscan = off;
		SELECT count(*) FROM nosql_data."db.mk" WHERE document OPERATOR(nosql.@@) '{"tags": 3}'}),
	'counts through it equal a sequential scan');

# 8. a crash during the build: the database's worker finishes it after the restart
$holder = hold_snapshot();
command('{"createIndexes": "c", "indexes": [{"key": {"pad": 1, "s": 1}, "name": "pad_s", "background": true}]}');
wait_for_value($node, 'postgres', q{SELECT state FROM nosql.index_build WHERE name = 'pad_s'}, 'building');
usleep(300_000);
$node->stop('immediate');
eval { $holder->quit; };
$node->start;
like(command('{"listIndexes": "c"}'), qr/"name": "pad_s"/, 'after the crash the index is still listed');
is(wait_for_value($node, 'postgres', q{SELECT count(*) FROM nosql.index_build}, '0', 120), '0',
	'the build was finished after the restart');
is(pg_indexes('c'), '4/4', 'every index is valid, none left over');
like(command('{"explain": {"find": "c", "filter": {"pad": "x", "s": "s5"}}, "verbosity": "queryPlanner"}'),
	qr/"indexName": "(pad_s|s_1)"/, 'and used');

$node->stop;
done_testing();
