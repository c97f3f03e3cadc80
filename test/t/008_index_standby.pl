# Indexes on a physical streaming standby: the PostgreSQL indexes that
# createIndexes builds on the primary are replayed (the build and the
# later inserts, updates and deletes), the standby answers reads through
# nosql.run_command (find, getMore, count, distinct, listIndexes) with the
# primary's results, its planner uses the replayed indexes, and
# dropIndexes on the primary removes them on the standby.
#
# The checks name no index kind: "the indexes of the table" are every
# index whose name starts with nosql_ix_, plus the primary key, whatever
# access method createIndexes picks.
#
# Like every TAP test it runs against the installed extension
# (make installcheck).  To run it against a private installation, give
# make that installation's pg_config (PostgreSQL is relocatable, so the
# test servers then load the private nosql.so):
#   make installcheck REGRESS= PG_CONFIG=/path/to/inst/usr/lib/postgresql/15/bin/pg_config \
#        TAP=test/t/008_index_standby.pl PROVE_FLAGS=-v
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NosqlTest;

my $primary = nosql_node('primary', allows_streaming => 1);
$primary->safe_psql('postgres', 'CREATE EXTENSION nosql');

# the standby starts before the collection exists, so everything below
# (table, index builds, index inserts) reaches it through WAL replay
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');
like($standby->safe_psql('postgres', 'SHOW shared_preload_libraries'), qr/\bnosql\b/,
	'nosql is preloaded on the standby');

# run_command on $node; dies on an SQL error, returns the reply as text

# name|access method|indisvalid|indisready|indislive|indisunique of the
# table's indexes (the nosql_ix_ ones and the primary key), one a line
my $index_query = q{
	SELECT c.relname || '|' || am.amname || '|' || i.indisvalid || '|' || i.indisready
	       || '|' || i.indislive || '|' || i.indisunique
	FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
	WHERE i.indrelid = 'nosql_data."db.c"'::regclass
	  AND (c.relname LIKE 'nosql\_ix\_%' OR i.indisprimary)
	ORDER BY c.relname};

sub indexes
{
	my ($node) = @_;
	return $node->safe_psql('postgres', $index_query);
}

sub catch_up
{
	$primary->wait_for_catchup($standby, 'replay', $primary->lsn('insert'));
}

# 4,000 documents: a in 0..99, b in 0..6, a unique u, tags an array, and
# every 49th document (b = 0) with a as an array and every 97th without a
is(run_command($primary, '{"create": "c"}'), '{"ok": 1.0}', 'collection created');
for my $batch (0 .. 3)
{
	my $docs = $primary->safe_psql('postgres', qq{
		SELECT string_agg(format('{"_id": %s, "a": %s, "b": %s, "u": "u%s", "tags": ["t%s", "t%s"]}',
		                         g,
		                         CASE WHEN g % 97 = 0 THEN 'null, "noa": true'
		                              WHEN g % 49 = 0 THEN format('[%s, %s]', g % 100, g % 100 + 1000)
		                              ELSE (g % 100)::text END,
		                         g % 7, g, g % 10, g % 13), ',')
		FROM generate_series($batch * 1000 + 1, $batch * 1000 + 1000) g});
	$docs =~ s/"a": null, //g;
	like(run_command($primary, qq({"insert": "c", "documents": [$docs]})), qr/^\{"n": 1000, /,
		"batch $batch of 1,000 documents inserted");
}

my $created = run_command($primary, q({"createIndexes": "c", "indexes": [
	{"key": {"a": 1}, "name": "a_1"},
	{"key": {"a": 1, "b": -1}, "name": "a_1_b_-1"},
	{"key": {"u": 1}, "name": "u_1", "unique": true}]}));
like($created, qr/"numIndexesAfter": 4\b.*"ok": 1\.0/, 'createIndexes on the primary') or diag($created);

# changes after the build: they reach the standby as index inserts
# (updates moving keys, scalars turned into arrays) and deletes
like(run_command($primary, q({"update": "c", "updates": [
	{"q": {"b": 3}, "u": {"$inc": {"a": 1000}}, "multi": true},
	{"q": {"b": 4}, "u": {"$set": {"a": [7, 8, 9]}}, "multi": true}]})),
	qr/"nModified": 11\d\d\b/, 'documents updated after the build');
like(run_command($primary, q({"delete": "c", "deletes": [{"q": {"b": 5}, "limit": 0}]})),
	qr/^\{"n": 5\d\d\b/, 'documents deleted after the build');

catch_up();

my $primary_indexes = indexes($primary);
my $standby_indexes = indexes($standby);
my @nosql_ix = grep { /^nosql_ix_/ } split /\n/, $primary_indexes;
ok(@nosql_ix >= 3, scalar(@nosql_ix) . ' nosql_ix_ indexes for the three specs on the primary')
  or diag($primary_indexes);
is($standby_indexes, $primary_indexes, 'the standby has the same indexes as the primary');
is(scalar(grep { !/\|true\|true\|true\|(?:true|false)$/ } split /\n/, $standby_indexes), 0,
	'every index is valid, ready and live on the standby')
  or diag($standby_indexes);

# reads through run_command on the hot standby give the primary's replies
my $list_primary = run_command($primary, '{"listIndexes": "c"}');
my $list_standby = run_command($standby, '{"listIndexes": "c"}');
is($list_standby, $list_primary, 'listIndexes on the standby');
like($list_standby, qr/"a_1".*"a_1_b_-1".*"u_1"/, 'listIndexes names the three specs');

for my $filter ('{"a": 5}', '{"a": {"$gte": 7, "$lt": 10}}', '{"a": 1007}', '{"a": {"$in": [8, 49, 1050]}}',
	'{"a": 5, "b": {"$gt": 2}}', '{"u": "u1234"}', '{"u": {"$in": ["u7", "u3999", "nope"]}}',
	'{"tags": "t3", "a": {"$lt": 20}}', '{"a": {"$exists": false}}')
{
	my $find = qq({"find": "c", "filter": $filter, "sort": {"_id": 1}, "batchSize": 5000});
	my $on_primary = run_command($primary, $find);
	my $on_standby = run_command($standby, $find);
	my $n = () = $on_primary =~ /\{"_id": /g;
	ok($n > 0, "find $filter matches $n documents on the primary");
	is($on_standby, $on_primary, "find $filter on the standby returns the primary's documents");
	my $count = qq({"count": "c", "query": $filter});
	is(run_command($standby, $count), run_command($primary, $count), "count $filter on the standby");
}
my $distinct = '{"distinct": "c", "key": "b", "query": {"a": {"$lt": 10}}}';
is(run_command($standby, $distinct), run_command($primary, $distinct), 'distinct on the standby');

# a cursor on the standby: getMore continues a find within one session
my $cursor = $standby->safe_psql('postgres', q{
	SELECT nosql.run_command('db', '{"find": "c", "filter": {"a": {"$lt": 10}}, "sort": {"_id": 1}, "projection": {"_id": 1}, "batchSize": 10}')->'cursor'->'id' AS cid \gset
	SELECT nosql.run_command('db', format('{"getMore": %s, "collection": "c", "batchSize": 5000}', :'cid')::nosql.bson);
});
my @more = $cursor =~ /\{"_id": (\d+)\}/g;
my @all = $primary->safe_psql('postgres', q{
	SELECT string_agg(document->>'_id', ',' ORDER BY (document->'_id')::int)
	FROM nosql_data."db.c" WHERE document OPERATOR(nosql.@@) '{"a": {"$lt": 10}}'}) =~ /(\d+)/g;
splice(@all, 0, 10);
is(join(',', @more), join(',', @all), 'getMore on the standby returns the rest of the cursor (' . scalar(@more) . ' documents)');

# the standby's planner uses a replayed index, and it answers as a
# sequential scan does
for my $filter ('{"a": 5}', '{"a": {"$gte": 7, "$lt": 10}}', '{"u": "u1234"}', '{"a": 8}')
{
	my $plan = $standby->safe_psql('postgres', qq{
		SET enable_seqscan = off;
		EXPLAIN (COSTS OFF) SELECT document FROM nosql_data."db.c" WHERE document OPERATOR(nosql.\@\@) '$filter'});
	my ($used) = $plan =~ /Index (?:Only )?Scan (?:using|on) (\S+)/;
	ok(defined $used && $used =~ /^nosql_ix_/ && $standby_indexes =~ /^\Q$used\E\|/m,
		"the standby plans $filter with a nosql_ix_ index (" . ($used // 'none') . ')')
	  or diag($plan);
	my $by_index = $standby->safe_psql('postgres', qq{
		SET enable_seqscan = off;
		SELECT count(*), coalesce(sum((document->'_id')::int), 0) FROM nosql_data."db.c" WHERE document OPERATOR(nosql.\@\@) '$filter'});
	my $by_seqscan = $standby->safe_psql('postgres', qq{
		SET enable_indexscan = off; SET enable_bitmapscan = off;
		SELECT count(*), coalesce(sum((document->'_id')::int), 0) FROM nosql_data."db.c" WHERE document OPERATOR(nosql.\@\@) '$filter'});
	is($by_index, $by_seqscan, "$filter: the standby's index and a sequential scan agree ($by_index)");
}

# writes on the standby are refused, as errors and not crashes; MongoDB
# answers them with 10107 NotWritablePrimary, which drivers act on
for my $write ('{"insert": "c", "documents": [{"_id": "standby"}]}',
	'{"createIndexes": "c", "indexes": [{"key": {"z": 1}, "name": "z_1"}]}')
{
	my ($name) = $write =~ /^\{"(\w+)"/;
	(my $sql = $write) =~ s/'/''/g;
	$standby->psql('postgres', "SELECT nosql.run_command('db', '$sql')",
		stdout => \my $reply, stderr => \my $error);
	ok($reply =~ /"ok": 0\.0|"writeErrors"/ || $error =~ /ERROR/, "$name on the standby is refused")
	  or diag("reply: $reply, error: $error");
	like($reply, qr/"code": 10107\b/, "$name on the standby answers 10107 NotWritablePrimary")
	  or diag("reply: $reply, error: $error");
}
is($standby->safe_psql('postgres', 'SELECT 1'), '1', 'the standby is still up');

# dropIndexes on the primary removes the PostgreSQL indexes on the standby
like(run_command($primary, '{"dropIndexes": "c", "index": "a_1"}'), qr/"ok": 1\.0/, 'dropIndexes a_1 on the primary');
catch_up();
$standby_indexes = indexes($standby);
is($standby_indexes, indexes($primary), 'after dropIndexes a_1 the standby has the primary\'s indexes');
my @left = grep { /^nosql_ix_/ } split /\n/, $standby_indexes;
ok(@left >= 2 && @left < @nosql_ix, 'fewer nosql_ix_ indexes on the standby: ' . scalar(@left) . ' of ' . scalar(@nosql_ix));
my $list = run_command($standby, '{"listIndexes": "c"}');
unlike($list, qr/"name": "a_1"/, 'a_1 is gone from listIndexes on the standby');
like($list, qr/"name": "a_1_b_-1".*"name": "u_1"/, 'the other specs stay');

like(run_command($primary, '{"dropIndexes": "c", "index": "*"}'), qr/"ok": 1\.0/, 'dropIndexes * on the primary');
catch_up();
is(indexes($standby), indexes($primary), 'after dropIndexes * the standby has the primary\'s indexes');
is(scalar(grep { /^nosql_ix_/ } split /\n/, indexes($primary)), 0, 'no nosql_ix_ index left on the primary');
is(scalar(grep { /^nosql_ix_/ } split /\n/, indexes($standby)), 0, 'no nosql_ix_ index left on the standby');
like(indexes($standby), qr/^db\.c_pkey\|btree\|true\|true\|true\|true$/m, 'the _id primary key stays');
my $find = '{"find": "c", "filter": {"a": {"$gte": 7, "$lt": 10}}, "sort": {"_id": 1}, "batchSize": 5000}';
is(run_command($standby, $find), run_command($primary, $find), 'find on the standby without the indexes');

$standby->stop;
$primary->stop;
done_testing();
