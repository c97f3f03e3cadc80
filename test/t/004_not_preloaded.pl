# Without shared_preload_libraries the extension still works, minus the
# background workers: no launcher, wake-up says so, bson and its settings
# work once the library is loaded on first use.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('plain');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE EXTENSION nosql');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'nosql%'"),
	'0', 'no background workers without preloading');
is($node->safe_psql('postgres', 'SELECT nosql.worker_wakeup()'),
	'f', 'worker_wakeup reports that no launcher runs');
is($node->safe_psql('postgres', q{SELECT '{"a": {"$numberLong": "5"}}'::nosql.bson -> 'a'}),
	'{"$numberLong": "5"}', 'bson works');
is( $node->safe_psql(
		'postgres', q{SET nosql.bson_output = canonical; SELECT '{"a": 1}'::nosql.bson}),
	'{"a": {"$numberInt": "1"}}',
	'settings work once the library is loaded');
my ($ret, $out, $err) =
  $node->psql('postgres', q{LOAD 'nosql'; SET nosql.no_such_setting = 1});
isnt($ret, 0, 'the nosql. prefix is reserved');
like($err, qr/reserved prefix/, 'with a clear message');

$node->stop;
done_testing();
