# Indexes survive a crash: a client inserts documents through run_command
# into a collection with the indexes {a: 1}, {a: 1, b: -1} and unique
# {u: 1}, recording every insert the server acknowledged; the server is
# stopped with -m immediate in the middle.  After the restart every
# acknowledged document is there and is found through the indexes by its
# a and by its u, amcheck passes on every btree index of the table, and
# every index, used alone, answers a set of filters as a sequential scan
# does.  Then a crash in the middle of a createIndexes: afterwards
# listIndexes and the PostgreSQL indexes agree, no invalid index is left,
# the data is intact, and createIndexes works again.
#
# gin_pending_list_limit is at its minimum so that GIN pending lists are
# merged into the indexes many times during the load (and maybe during
# the crash).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);
use NosqlTest;

my $node = nosql_node('crash', extra_conf => "fsync = on\nsynchronous_commit = on\ngin_pending_list_limit = 64kB");
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');
$node->safe_psql('postgres', 'CREATE EXTENSION amcheck');

sub command { return run_command($node, $_[0]); }

my $specs = q({"key": {"a": 1}, "name": "a_1"}, {"key": {"a": 1, "b": -1}, "name": "a_1_b_-1"},
	{"key": {"u": 1}, "name": "u_1", "unique": true});
like(command(qq({"createIndexes": "c", "indexes": [$specs]})), qr/"numIndexesAfter": 4\b.*"ok": 1\.0/,
	'createIndexes a_1, a_1_b_-1, u_1 (creates the collection)');

# document n: a = n % 300 (an array [n % 300, n % 300 + 1000] for every
# 11th), b = n % 7, u = "u<n>"; batch k holds the documents 50k .. 50k+49
my $acked = "${PostgreSQL::Test::Utils::tmp_check}/index_crash_acked.txt";
unlink $acked;
my $insert = q{SELECT nosql.run_command('db', (SELECT format('{"insert": "c", "documents": [%s]}', string_agg(format('{"_id": %s, "a": %s, "b": %s, "u": "u%s", "tags": ["t%s"]}', n, CASE WHEN n % 11 = 0 THEN format('[%s, %s]', n % 300, n % 300 + 1000) ELSE (n % 300)::text END, n % 7, n, n % 10), ',')) FROM generate_series(:k * 50, :k * 50 + 49) n)::nosql.bson)};
my $script = <<'SH';
for k in $(seq 0 999); do
  reply=$(printf '%s\n' "$INSERT" | psql -X -A -t -q -v ON_ERROR_STOP=1 -v k=$k -d "$CONNSTR" -f - 2>/dev/null) || exit 0
  case "$reply" in
    '{"n": 50, "ok": 1.0}') echo $k >> "$ACKED" ;;
    *) echo "unexpected reply: $reply" >&2; exit 1 ;;
  esac
done
SH
my ($stdout, $stderr) = ('', '');
my $h;
{
	local $ENV{INSERT} = $insert;
	local $ENV{CONNSTR} = $node->connstr('postgres');
	local $ENV{ACKED} = $acked;
	$h = IPC::Run::start([ 'bash', '-c', $script ], '>', \$stdout, '2>', \$stderr);
}

# wait until a good part of the load is acknowledged, then crash
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
my $count = 0;
while (time < $deadline)
{
	$count = -e $acked ? scalar(() = slurp_file($acked) =~ /\n/g) : 0;
	last if $count >= 100;
	usleep(50_000);
}
ok($count >= 100, "100 batches of 50 acknowledged before the crash ($count)");
$node->stop('immediate');
$h->finish;
is($stderr, '', 'the client saw only complete inserts');

my @acked = -e $acked ? split /\n/, slurp_file($acked) : ();
ok(@acked >= 100 && @acked < 1000, scalar(@acked) . ' batches acknowledged when the server stopped');
my @ids = map { my $k = $_; map { $k * 50 + $_ } 0 .. 49 } @acked;

$node->start;

# every acknowledged document is there (read with a sequential scan)
$node->safe_psql('postgres', 'CREATE TABLE acked (id int PRIMARY KEY)');
$node->safe_psql('postgres', 'INSERT INTO acked VALUES ' . join(',', map { "($_)" } @ids));
is($node->safe_psql('postgres', q{
	SET enable_indexscan = off; SET enable_bitmapscan = off;
	SELECT count(*) FROM acked WHERE id NOT IN (SELECT (document->'_id')::int FROM nosql_data."db.c")}),
	'0', scalar(@ids) . ' acknowledged documents are there');
my $present = $node->safe_psql('postgres', 'SELECT count(*) FROM nosql_data."db.c"');
ok($present - @ids <= 50, "at most the batch in flight committed unacknowledged ($present documents)");

# a_1 and a_1_b_-1 were created before any document had an array, so the
# worker builds the multikey GIN beside each (CREATE INDEX CONCURRENTLY,
# every few rounds); that build may have been cut by the crash or not yet
# started.  Wait for both, valid, and for no build in progress: the checks
# below drop indexes in a transaction, which would deadlock with a build.
is(wait_for_value($node, 'postgres', q{
	SELECT count(*) FILTER (WHERE c.relname LIKE 'nosql\_ix\_%\_m%' AND i.indisvalid AND i.indisready)
	       || ',' || (SELECT count(*) FROM nosql.index_build)
	       || ',' || (SELECT count(*) FROM pg_stat_progress_create_index)
	FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	WHERE i.indrelid = 'nosql_data."db.c"'::regclass}, '2,0,0'), '2,0,0',
	'the worker built the multikey GIN beside a_1 and a_1_b_-1 after recovery');

my @indexes = table_indexes($node, 'postgres', 'db.c');
my @nosql_ix = grep { $_->{name} =~ /^nosql_ix_/ } @indexes;
ok(@nosql_ix >= 3, scalar(@nosql_ix) . ' nosql_ix_ indexes for the three specs');
is(join(',', map { $_->{name} } grep { !($_->{valid} && $_->{ready} && $_->{live}) } @indexes), '',
	'every index is valid after recovery');

# every acknowledged document is found through an index by its u and by
# its a: each lookup is planned with its value as a constant, as the
# commands' queries are; a sample of the plans must use a nosql_ix_ index
my ($u_sample) = index_counts($node, 'postgres', 'db.c', ['{"u": "u' . $ids[-1] . '"}'], 'SET enable_seqscan = off');
like($u_sample->[1], qr/^nosql_ix_/, "a lookup by u uses an index ($u_sample->[1])");
my ($a_sample) = index_counts($node, 'postgres', 'db.c', ['{"a": 17}'], 'SET enable_seqscan = off');
like($a_sample->[1], qr/^nosql_ix_/, "a lookup by a uses an index ($a_sample->[1])");
is($node->safe_psql('postgres', q{
	SET enable_seqscan = off;
	CREATE FUNCTION pg_temp.by_u(id int) RETURNS bigint AS $$
	DECLARE n bigint;
	BEGIN
		-- the key condition the commands put in their SQL for {u: "u<id>"}
		EXECUTE format('SELECT count(*) FROM nosql_data."db.c" WHERE nosql.bson_index_key(document, ''u'') OPERATOR(nosql.=) %L::nosql.bson AND (document->''_id'')::int = %s',
		               format('"u%s"', id), id) INTO n;
		RETURN n;
	END $$ LANGUAGE plpgsql;
	SELECT count(*) || ' of ' || (SELECT count(*) FROM acked) FROM acked WHERE pg_temp.by_u(id) = 1}),
	scalar(@ids) . ' of ' . scalar(@ids), 'every acknowledged document is found by its u');
# by a: for every a value, the index finds as many documents as a
# sequential scan (the index's answers are rechecked, so equal counts are
# equal sets), and each acknowledged document is among the latter
my @a_values = (0 .. 299, 1000 .. 1299);
my @a_filters = map { qq({"a": $_}) } @a_values;
my @by_index = index_counts($node, 'postgres', 'db.c', \@a_filters, 'SET enable_seqscan = off');
my @by_seqscan = index_counts($node, 'postgres', 'db.c', \@a_filters, 'SET enable_indexscan = off; SET enable_bitmapscan = off');
my @differ = grep { $by_index[$_][0] != $by_seqscan[$_][0] } 0 .. $#a_filters;
is(scalar(@differ), 0, 'for each of the 600 values of a, the index finds what a sequential scan finds')
  or diag(join("\n", map { "$a_filters[$_]: index $by_index[$_][0] ($by_index[$_][1]), seqscan $by_seqscan[$_][0]" } @differ[0 .. ($#differ < 9 ? $#differ : 9)]));
is(scalar(grep { $_->[1] !~ /^nosql_ix_/ } @by_index), 0, 'every lookup by a used a nosql_ix_ index');
# amcheck on every btree index of the table
my ($checked, $errors) = amcheck_btrees($node, 'postgres', 'db.c');
ok(@$checked >= 1, 'amcheck checked the btree indexes: ' . join(', ', @$checked));
is(scalar(@$errors), 0, 'amcheck bt_index_check and bt_index_parent_check(heapallindexed) pass')
  or diag(join("\n", @$errors));

# each nosql_ix_ index alone answers as a sequential scan does
my @filters = ('{"a": 5}', '{"a": 1011}', '{"a": {"$gt": 290}}', '{"a": {"$gte": 100, "$lt": 110}}',
	'{"a": {"$in": [1, 2, 1003]}}', '{"a": 5, "b": {"$gte": 3}}', '{"b": 2, "a": {"$lt": 50}}',
	'{"u": "u' . $ids[0] . '"}', '{"u": {"$in": ["u1", "u' . $ids[-1] . '", "none"]}}', '{"u": {"$gte": "u9"}}',
	'{"tags": "t3"}', '{"a": {"$exists": true}}', '{"u": {"$exists": false}}');
my @seq = map { $_->[0] } index_counts($node, 'postgres', 'db.c', \@filters, 'SET enable_indexscan = off; SET enable_bitmapscan = off');
ok($seq[0] > 0 && $seq[7] == 1, 'the filters match documents (' . join(',', @seq) . ')');
for my $index (@nosql_ix)
{
	my @got = index_counts($node, 'postgres', 'db.c', \@filters, 'SET enable_seqscan = off', $index->{name});
	my @used = grep { $got[$_][1] eq $index->{name} } 0 .. $#filters;
	my @wrong = grep { $got[$_][0] != $seq[$_] } @used;
	ok(@used > 0, "$index->{name} ($index->{am}) serves " . scalar(@used) . ' of the filters');
	is(scalar(@wrong), 0, "$index->{name} ($index->{am}) answers as a sequential scan")
	  or diag(join("\n", map { "$filters[$_]: index $got[$_][0], seqscan $seq[$_]" } @wrong));
}

# the primary key and the unique index still refuse duplicates
is(command(qq({"insert": "c", "documents": [{"_id": $ids[0], "u": "fresh"}]})) =~ /"code": 11000\b/ ? 1 : 0,
	1, 'a duplicate _id is refused after recovery');
like(command(qq({"insert": "c", "documents": [{"_id": "dup", "u": "u$ids[0]"}]})), qr/"code": 11000\b/,
	'a duplicate u is refused after recovery');

# ---- a crash in the middle of createIndexes ----

is($node->safe_psql('postgres', q{
	SELECT nosql.insert_many('db.big', (SELECT ('[' || string_agg(format('{"_id": %s, "a": %s, "b": %s, "u": "u%s", "tags": ["t%s", "t%s"], "pad": "%s"}', g, g % 1000, g % 7, g, g % 10, g % 13, repeat('x', 40)), ',') || ']')::nosql.bson
	                                 FROM generate_series(b * 50000 + 1, b * 50000 + 50000) g))
	FROM generate_series(0, 5) b}), join("\n", (50000) x 6), '300,000 documents in db.big');
my $big_sum = $node->safe_psql('postgres', q{SELECT count(*), sum((document->'_id')::bigint), sum((document->'a')::bigint) FROM nosql_data."db.big"});

my $create = qq{SELECT nosql.run_command('db', '{"createIndexes": "big", "indexes": [$specs, {"key": {"tags": 1, "b": 1}, "name": "tags_b"}]}')};
$create =~ s/\n\t/ /g;
my ($cout, $cerr) = ('', '');
my $ch = IPC::Run::start([ 'psql', '-X', '-A', '-t', '-d', $node->connstr('postgres'), '-c', $create ],
	'>', \$cout, '2>', \$cerr);
# poll without pause: the build of the four indexes takes about a second
my $phase = '';
my $until = time + $PostgreSQL::Test::Utils::timeout_default;
while ($phase eq '' && time < $until)
{
	$phase = $node->safe_psql('postgres', q{
		SELECT coalesce(string_agg(phase, ','), '') FROM pg_stat_progress_create_index
		WHERE relid = 'nosql_data."db.big"'::regclass});
	$ch->pump_nb;
	last if $cout ne "" || $cerr ne "";    # createIndexes is over: missed
}
isnt($phase, '', "createIndexes is building an index when the server stops ($phase)");
$node->stop('immediate');
$ch->finish;
unlike($cout, qr/"ok": 1\.0/, 'createIndexes was not acknowledged');
$node->start;

my $listed = command('{"listIndexes": "big"}');
my @specs = grep { $_ ne '_id_' } $listed =~ /"name": "([^"]+)"/g;
my @big = table_indexes($node, 'postgres', 'db.big');
my @big_ix = grep { $_->{name} =~ /^nosql_ix_/ } @big;
is(join(',', map { $_->{name} } grep { !($_->{valid} && $_->{ready}) } @big), '',
	'no invalid or unready index is left on db.big');
is(scalar(@big_ix) > 0 ? 1 : 0, scalar(@specs) > 0 ? 1 : 0,
	'listIndexes (' . join(',', @specs) . ') and the PostgreSQL indexes (' . scalar(@big_ix) . ' nosql_ix_) agree');
is($node->safe_psql('postgres', q{SELECT count(*), sum((document->'_id')::bigint), sum((document->'a')::bigint) FROM nosql_data."db.big"}),
	$big_sum, 'the data of db.big is intact');
is($node->safe_psql('postgres', q{SELECT count(*) FROM nosql_data."db.big" WHERE _id OPERATOR(nosql.<>) (document->'_id')}),
	'0', 'the _id column and the documents agree');

# createIndexes works again, and its indexes answer as a sequential scan
like($node->safe_psql('postgres', $create), qr/"ok": 1\.0/, 'createIndexes after the restart');
@big = table_indexes($node, 'postgres', 'db.big');
@big_ix = grep { $_->{name} =~ /^nosql_ix_/ } @big;
ok(@big_ix >= 4, scalar(@big_ix) . ' nosql_ix_ indexes for the four specs, all valid')
  and is(scalar(grep { !$_->{valid} } @big), 0, 'no invalid index');
like(command('{"listIndexes": "big"}'), qr/"a_1".*"a_1_b_-1".*"u_1".*"tags_b"/, 'listIndexes names the four specs');
my @big_filters = ('{"a": 5}', '{"a": {"$gte": 990}}', '{"u": "u123456"}', '{"tags": "t7", "b": 3}', '{"a": 5, "b": 5}');
my @big_seq = index_counts($node, 'postgres', 'db.big', \@big_filters, 'SET enable_indexscan = off; SET enable_bitmapscan = off');
my @big_idx = index_counts($node, 'postgres', 'db.big', \@big_filters, 'SET enable_seqscan = off');
is(join(',', map { $_->[0] } @big_idx), join(',', map { $_->[0] } @big_seq),
	'the rebuilt indexes answer as a sequential scan (' . join(',', map { $_->[0] } @big_seq) . ')');
is(scalar(grep { $_->[1] !~ /^nosql_ix_/ } @big_idx), 0, 'through nosql_ix_ indexes (' . join(',', map { $_->[1] } @big_idx) . ')');
($checked, $errors) = amcheck_btrees($node, 'postgres', 'db.big');
is(scalar(@$errors), 0, 'amcheck passes on the btree indexes of db.big: ' . join(', ', @$checked))
  or diag(join("\n", @$errors));

$node->stop;
done_testing();
