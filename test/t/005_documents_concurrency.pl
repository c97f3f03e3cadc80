# Concurrent writers on one document serialize: 8 clients incrementing the
# same counter through update_one, run_command's update and findAndModify
# lose no increment; concurrent upserts of one _id make one document; and
# a rolled back transaction leaves no document behind.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NosqlTest;

my $node = nosql_node('concurrency');
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');
$node->safe_psql('postgres',
	q{SELECT nosql.insert_many('test.counters', '[{"_id": 1, "n": 0}, {"_id": 2, "n": 0}, {"_id": 3, "n": 0}]')});

my $clients = 8;
my $per_client = 150;

sub counter
{
	my $id = shift;
	return $node->safe_psql('postgres',
		"SELECT (nosql.find_one('test.counters', '{\"_id\": $id}')->'n')::int");
}

$node->pgbench(
	"--no-vacuum --client=$clients --jobs=$clients --transactions=$per_client",
	0, [qr{processed: @{[ $clients * $per_client ]}/}], [qr{^$}],
	'8 clients $inc one document with update_one',
	{
		'001_update_one' => q{SELECT nosql.update_one('test.counters', '{"_id": 1}', '{"$inc": {"n": 1}}');}
	});
is(counter(1), $clients * $per_client, 'no lost $inc through update_one');

$node->pgbench(
	"--no-vacuum --client=$clients --jobs=$clients --transactions=$per_client",
	0, [qr{processed: @{[ $clients * $per_client ]}/}], [qr{^$}],
	'8 clients $inc one document with run_command update',
	{
		'002_run_command' => q{SELECT nosql.run_command('test', '{"update": "counters", "updates": [{"q": {"_id": 2}, "u": {"$inc": {"n": 1}}}]}');}
	});
is(counter(2), $clients * $per_client, 'no lost $inc through run_command update');

$node->pgbench(
	"--no-vacuum --client=$clients --jobs=$clients --transactions=$per_client",
	0, [qr{processed: @{[ $clients * $per_client ]}/}], [qr{^$}],
	'8 clients $inc one document with findAndModify',
	{
		'003_find_and_modify' => q{SELECT nosql.run_command('test', '{"findAndModify": "counters", "query": {"_id": 3}, "update": {"$inc": {"n": 1}}, "new": true}');}
	});
is(counter(3), $clients * $per_client, 'no lost $inc through findAndModify');

# every findAndModify saw a distinct value: the returned counters are 1..N
$node->safe_psql('postgres',
	q{SELECT nosql.insert_one('test.tickets', '{"_id": "t", "n": 0}')});
$node->safe_psql('postgres', 'CREATE TABLE seen (n int)');
$node->pgbench(
	"--no-vacuum --client=$clients --jobs=$clients --transactions=50",
	0, [qr{processed: @{[ $clients * 50 ]}/}], [qr{^$}],
	'8 clients take tickets with find_one_and_update',
	{
		'004_tickets' => q{INSERT INTO seen SELECT (nosql.find_one_and_update('test.tickets', '{"_id": "t"}', '{"$inc": {"n": 1}}', NULL, true)->'n')::int;}
	});
is($node->safe_psql('postgres', 'SELECT count(DISTINCT n) = count(*) AND min(n) = 1 AND max(n) = count(*) FROM seen'),
	't', 'every ticket is handed out exactly once');

# concurrent upserts with the same _id: one document, the others update it
$node->pgbench(
	"--no-vacuum --client=$clients --jobs=$clients --transactions=20",
	0, [qr{processed: @{[ $clients * 20 ]}/}], [],
	'8 clients upsert the same _id',
	{
		'005_upsert' => q{SELECT nosql.run_command('test', '{"update": "upserts", "updates": [{"q": {"_id": "u"}, "u": {"$inc": {"n": 1}}, "upsert": true}]}');}
	});
is($node->safe_psql('postgres', q{SELECT nosql.count('test.upserts', '{}')}), '1',
	'one document after concurrent upserts');
my $n = $node->safe_psql('postgres',
	q{SELECT (nosql.find_one('test.upserts')->'n')::int});
ok($n >= $clients * 20 - $clients && $n <= $clients * 20,
	"upserts counted (duplicate-key races reported as write errors): $n");

# transactional with SQL
$node->safe_psql('postgres', 'CREATE TABLE t (x int)');
$node->safe_psql('postgres', q{
	BEGIN;
	SELECT nosql.insert_one('test.tx', '{"_id": 1}');
	INSERT INTO t VALUES (1);
	ROLLBACK;
});
is($node->safe_psql('postgres', q{SELECT nosql.count('test.tx', '{}') || '/' || (SELECT count(*) FROM t)}),
	'0/0', 'a rolled back transaction leaves neither the document nor the row');

$node->stop;
done_testing();
