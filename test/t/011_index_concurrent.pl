# Index builds that do not block writers: nosql.create_indexes_sql() gives
# the CREATE INDEX CONCURRENTLY statements of a createIndexes command; while
# they run (psql \gexec in a background session) on a large collection,
# another session keeps inserting and updating through run_command and is
# never held up for the build; the createIndexes that follows finds the
# indexes built (same PostgreSQL indexes, nothing rebuilt) and the planner
# uses them.  A concurrent unique build over duplicates leaves an invalid
# index, which createIndexes drops and reports as MongoDB's 11000.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep time);
use NosqlTest;

my $node = nosql_node('concurrent');
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');

sub command { return run_command($node, $_[0]); }

# a collection big enough for builds of a few seconds
$node->safe_psql('postgres', q{
	SELECT sum(nosql.insert_many('db.c', docs)) FROM (
	  SELECT ('[' || string_agg(format('{"_id": %s, "a": %s, "s": "s%s", "pad": "%s"}', g, g % 5000, g, repeat('x', 60)), ',') || ']')::nosql.bson AS docs
	    FROM generate_series(1, 400000) g GROUP BY g / 10000) b});
is($node->safe_psql('postgres', 'SELECT count(*) FROM nosql_data."db.c"'), '400000', '400,000 documents');

my $create = '{"createIndexes": "c", "indexes": [{"key": {"a": 1, "s": -1}, "name": "a_s"}, {"key": {"s": 1}, "name": "s_1", "unique": true}]}';
my $statements = $node->safe_psql('postgres', "SELECT nosql.create_indexes_sql('db', '$create')");
my @statements = split /\n/, $statements;
is(scalar(@statements), 2, 'two CREATE INDEX CONCURRENTLY statements');
like($statements[0], qr/^CREATE INDEX CONCURRENTLY nosql_ix_\d+_[0-9a-f]+_b[0-9a-f]+ ON nosql_data\."db\.c"/, 'the compound one');
like($statements[1], qr/^CREATE UNIQUE INDEX CONCURRENTLY nosql_ix_/, 'the unique one');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_index WHERE indrelid = 'nosql_data."db.c"'::regclass}),
	'1', 'nothing built or recorded by create_indexes_sql');
unlike(command('{"listIndexes": "c"}'), qr/"a_s"/, 'listIndexes does not show the specs yet');

# build in the background; meanwhile write and time each write
my ($out, $err) = ('', '');
my $builder = IPC::Run::start(
	[ 'psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres') ],
	'<', \("SET maintenance_work_mem = '1MB';\n" . join('', map { "$_;\n" } @statements) . "SELECT 'built';\n"),
	'>', \$out, '2>', \$err);
my $started = time;
my ($writes, $slowest) = (0, 0);
while ($out !~ /built/ && time - $started < 300)
{
	my $t0 = time;
	my $id = 1000000 + $writes;
	my $reply = command(qq({"insert": "c", "documents": [{"_id": $id, "a": 7, "s": "w$id"}]}));
	my $target = $writes + 1;
	command(qq({"update": "c", "updates": [{"q": {"_id": $target}, "u": {"\$set": {"a": 4999}}}]}));
	my $took = time - $t0;
	$slowest = $took if $took > $slowest;
	$writes++ if $reply =~ /"n": 1,/;
	$builder->pump_nb;
}
$builder->finish;
my $build_time = time - $started;
is($err, '', 'the concurrent builds ran without error');
like($out, qr/built/, 'the builds finished');
cmp_ok($writes, '>', 10, "$writes inserts and updates went in during the ${\ sprintf('%.1f', $build_time)} s build");
cmp_ok($slowest, '<', $build_time / 2, sprintf('no write waited for the build (slowest %.3f s of %.1f s)', $slowest, $build_time));

my $before = $node->safe_psql('postgres', q{SELECT string_agg(indexrelid::text, ',' ORDER BY indexrelid) FROM pg_index WHERE indrelid = 'nosql_data."db.c"'::regclass});
like(command($create), qr/"numIndexesAfter": 3\b.*"ok": 1\.0/, 'createIndexes records the specs');
is($node->safe_psql('postgres', q{SELECT string_agg(indexrelid::text, ',' ORDER BY indexrelid) FROM pg_index WHERE indrelid = 'nosql_data."db.c"'::regclass}),
	$before, 'createIndexes found the indexes built: nothing rebuilt');
like(command('{"listIndexes": "c"}'), qr/"name": "a_s".*"name": "s_1", "unique": true/, 'listIndexes shows both');
like(command('{"insert": "c", "documents": [{"_id": 1, "s": "s2"}]}'), qr/"code": 11000\b/, 'the unique index is enforced');
like(command('{"explain": {"find": "c", "filter": {"a": 7, "s": "w1000000"}}, "verbosity": "queryPlanner"}'),
	qr/"indexName": "(a_s|s_1)"/, 'a find uses one of them');
is(command('{"count": "c", "query": {"a": 7}}') =~ /"n": (\d+)/ ? $1 : -1,
	$node->safe_psql('postgres', q{SET enable_indexscan = off; SET enable_bitmapscan = off;
		SELECT count(*) FROM nosql_data."db.c" WHERE document OPERATOR(nosql.@@) '{"a": 7}'}),
	'counts through the index equal a sequential scan');

# the contrast: a plain createIndexes (CREATE INDEX, SHARE lock) holds
# writers until its transaction ends (kept open two seconds after it here)
my ($bout, $berr) = ('', '');
my $blocking = IPC::Run::start(
	[ 'psql', '-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'),
	  '-c', q{BEGIN; SELECT nosql.run_command('db', '{"createIndexes": "c", "indexes": [{"key": {"pad": 1, "s": 1}, "name": "pad_s"}]}'); SELECT pg_sleep(2); COMMIT;} ],
	'>', \$bout, '2>', \$berr);
$node->poll_query_until('postgres', q{SELECT count(*) > 0 FROM pg_locks WHERE relation = 'nosql_data."db.c"'::regclass AND mode = 'ShareLock' AND granted})
  or die 'the plain build did not take its lock';
my $t0 = time;
command('{"insert": "c", "documents": [{"_id": 2000000, "a": 1, "s": "blocked"}]}');
my $waited = time - $t0;
$blocking->finish;
like($bout, qr/"ok": 1\.0/, 'the plain createIndexes built pad_s');
cmp_ok($waited, '>', $slowest, sprintf('a write waited %.3f s for the plain build (longer than any write during the concurrent one)', $waited));

# a concurrent unique build over duplicates fails and leaves an invalid index
command('{"insert": "d", "documents": [{"_id": 1, "k": 1}, {"_id": 2, "k": 1}]}');
my $unique = '{"createIndexes": "d", "indexes": [{"key": {"k": 1}, "name": "k_u", "unique": true}]}';
my ($stmt) = split /\n/, $node->safe_psql('postgres', "SELECT nosql.create_indexes_sql('db', '$unique')");
my ($ret, $o, $e) = $node->psql('postgres', $stmt);
isnt($ret, 0, 'CREATE UNIQUE INDEX CONCURRENTLY over duplicates fails');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_index WHERE indrelid = 'nosql_data."db.d"'::regclass AND NOT indisvalid}),
	'1', 'it leaves an invalid index');
like(command($unique), qr/"code": 11000\b.*"keyValue": \{"k": 1\}/, 'createIndexes rebuilds it and reports 11000');
# the failed command rolled back, so the invalid index is still there (and,
# being ready, still checks uniqueness on writes, as PostgreSQL does):
# create_indexes_sql starts with dropping it
my @again = split /\n/, $node->safe_psql('postgres', "SELECT nosql.create_indexes_sql('db', '$unique')");
like($again[0], qr/^DROP INDEX CONCURRENTLY IF EXISTS nosql_data\.nosql_ix_/, 'create_indexes_sql drops the invalid index first');
$node->safe_psql('postgres', $again[0]);
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_index WHERE indrelid = 'nosql_data."db.d"'::regclass}),
	'1', 'then only the primary key is left');

$node->stop;
done_testing();
