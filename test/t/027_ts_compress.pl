# Compressed time series: the background worker compresses partitions older
# than compress_after by itself; compression waits for the queries of the
# partition it moves without holding back others; a streaming standby reads compressed rows
# through the custom scan; and a crash (-m immediate) in the middle of
# compressions, decompressions, writes into compressed ranges and a COPY
# that compresses as it loads (into time ranges, and into ranges split by
# hash) loses nothing acknowledged and leaves every row there exactly once.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);
use NosqlTest;

my $node = nosql_node('ts_compress', allows_streaming => 1,
	extra_conf => "nosql.worker_naptime = 200\ntimezone = 'UTC'\nfsync = on\nsynchronous_commit = on");
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');

# rows that differ between a table and its plain copy, both ways
sub differences
{
	my ($n, $t, $plain, $where) = @_;
	$where //= 'true';
	return $n->safe_psql('postgres', qq{
		SELECT count(*) FROM ((SELECT x::text FROM $t x WHERE $where EXCEPT ALL SELECT x::text FROM $plain x WHERE $where)
		                      UNION ALL
		                      (SELECT x::text FROM $plain x WHERE $where EXCEPT ALL SELECT x::text FROM $t x WHERE $where)) d});
}

# ---- the policy: the worker compresses what is older than compress_after
$node->safe_psql('postgres', q{
	CREATE TABLE m (time timestamptz NOT NULL, dev int, v float8, note text);
	INSERT INTO m SELECT now() - i * interval '10 s', i % 5, i * 0.25, 'n' || (i % 3)
	  FROM generate_series(0, 8639) i;
	CREATE TABLE m_plain AS SELECT * FROM m;
	SELECT nosql.create_timeseries('m', 'time', '{dev}', '2 hours', compress_after => '4 hours');
});
is(wait_for_value($node, 'postgres', q{
		SELECT count(*) FILTER (WHERE blocks IS NULL) = 0 AND count(*) > 0
		  FROM nosql.timeseries_partition
		 WHERE relid = 'm'::regclass AND range_end <= now() - interval '4 hours'}, 't', 60),
	't', 'the worker compresses every partition older than compress_after');
is($node->safe_psql('postgres', q{
		SELECT count(*) FROM nosql.timeseries_partition
		 WHERE relid = 'm'::regclass AND blocks IS NOT NULL AND range_end > now() - interval '4 hours'}),
	'0', 'and none younger');
is($node->safe_psql('postgres',
		q{SELECT rows_compressed > 0 AND last_compression IS NOT NULL FROM nosql.timeseries_info WHERE "table" = 'm'::regclass}),
	't', 'the view shows the compression');
is(differences($node, 'm', 'm_plain'), '0', 'the compressed table reads the same rows as the plain copy');

# ---- a streaming standby reads the same rows
$node->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('ts_compress_standby');
$standby->init_from_backup($node, 'b', has_streaming => 1);
$standby->start;
$node->safe_psql('postgres', q{
	BEGIN;  -- one now() for both tables
	INSERT INTO m VALUES (now() - interval '20 hours', 7, 42, 'late');
	INSERT INTO m_plain VALUES (now() - interval '20 hours', 7, 42, 'late');
	UPDATE m SET v = -v WHERE dev = 2 AND time < now() - interval '12 hours';
	UPDATE m_plain SET v = -v WHERE dev = 2 AND time < now() - interval '12 hours';
	COMMIT;
	SELECT nosql.compress_timeseries('m', '4 hours');
});
$node->wait_for_catchup($standby);
is(differences($standby, 'm', 'm_plain'), '0', 'the standby reads the same rows, compressed ones included');
like($standby->safe_psql('postgres', q{EXPLAIN (COSTS OFF) SELECT max(note) FROM m WHERE time < now() - interval '12 hours'}),
	qr/Nosql Decompress/, 'through the custom scan');
is($standby->safe_psql('postgres', q{SELECT dev, count(*), max(time), min(v), max(v) FROM m GROUP BY dev ORDER BY dev}),
	$standby->safe_psql('postgres', q{SELECT dev, count(*), max(time), min(v), max(v) FROM m_plain GROUP BY dev ORDER BY dev}),
	'and aggregates from block statistics');
$standby->stop;

# ---- compression and the queries of the partition it moves: it waits
# until no query uses the partition, without queueing (so it holds back no
# reader), and gives up after 10 s of use
my $cs = $node->connstr('postgres');
$node->safe_psql('postgres', q{
	CREATE TABLE e (time timestamptz NOT NULL, dev int, v float8);
	INSERT INTO e SELECT timestamptz '2025-03-01' + i * interval '1 s', i % 4, i FROM generate_series(0, 9999) i;
	SELECT nosql.create_timeseries('e', 'time', '{dev}', '1 day');
});
my $reader = IPC::Run::start([ 'psql', '-X', '-q', '-d', $cs, '-c',
		'BEGIN; SELECT count(*) FROM e; SELECT pg_sleep(4); COMMIT;' ],
	'>', '/dev/null', '2>', '/dev/null');
$node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	 WHERE l.relation = 'e_ts_20250301_000000'::regclass AND a.query LIKE '%pg_sleep(4)%'});
my ($out, $err) = ('', '');
my $compressor = IPC::Run::start([ 'psql', '-X', '-q', '-At', '-d', $cs, '-c',
		"SELECT nosql.compress_timeseries('e')" ], '>', \$out, '2>', \$err);
$node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE '%compress_timeseries(''e'')%'
	   AND state = 'active' AND pid <> pg_backend_pid()});
usleep(500_000);
is($node->safe_psql('postgres', q{SET statement_timeout = '2s'; SELECT count(*) FROM e}), '10000',
	'a query of the partition runs while its compression waits for the one before');
$compressor->finish;
$reader->finish;
chomp $out;
is($out, '10000', 'the compression went through once the query before had ended');
is($node->safe_psql('postgres', q{SELECT nosql.timeseries_heap_rows('e_ts_20250301_000000', NULL)}), '0',
	'its rows are in blocks');
$node->safe_psql('postgres', q{INSERT INTO e VALUES ('2025-03-01 12:00:00.5', 9, 1)});
$reader = IPC::Run::start([ 'psql', '-X', '-q', '-d', $cs, '-c',
		'BEGIN; SELECT count(*) FROM e; SELECT pg_sleep(12); COMMIT;' ],
	'>', '/dev/null', '2>', '/dev/null');
$node->poll_query_until('postgres', q{
	SELECT count(*) > 0 FROM pg_locks l JOIN pg_stat_activity a USING (pid)
	 WHERE l.relation = 'e_ts_20250301_000000'::regclass AND a.query LIKE '%pg_sleep(12)%'});
my ($rc, $stdout, $stderr) = $node->psql('postgres', "SELECT nosql.compress_timeseries('e')");
like($stderr, qr/could not compress "e_ts_20250301_000000": it stayed in use for 10 s/,
	'a partition in use for 10 s fails its compression, clearly');
$reader->finish;
is($node->safe_psql('postgres', q{SELECT nosql.compress_timeseries('e'), count(*) FROM e}), '1|10001',
	'and the next compression moves the row');

# ---- crashes in the middle of compression, decompression and backfill
$node->safe_psql('postgres', q{
	CREATE TABLE c (time timestamptz NOT NULL, dev int, v float8);
	INSERT INTO c SELECT timestamptz '2025-01-01' + i * interval '1 s', i % 20, i
	  FROM generate_series(0, 199999) i;
	CREATE TABLE c_plain AS SELECT * FROM c;
	SELECT nosql.create_timeseries('c', 'time', '{dev}', '6 hours');
});
my $dir = $PostgreSQL::Test::Utils::tmp_check;
my $connstr = $node->connstr('postgres');
for my $round (1 .. 2)
{
	my $churn = "$dir/ts_churn_$round.sql";
	open my $fh, '>', $churn or die "cannot write $churn: $!";
	print $fh "SELECT nosql.compress_timeseries('c');\nSELECT nosql.decompress_timeseries('c');\n" for 1 .. 200;
	close $fh;
	# backfill into the compressed ranges, one transaction per row, each
	# acknowledged by a notice after its commit
	my $writer = "$dir/ts_writer_$round.sql";
	open $fh, '>', $writer or die "cannot write $writer: $!";
	print $fh qq{DO \$\$ BEGIN
		FOR i IN 1 .. 1000000 LOOP
			INSERT INTO c VALUES (timestamptz '2025-01-01' + (i * 7 % 200000) * interval '1 s' + interval '0.5 s', 99, $round * 10000000 + i);
			COMMIT;
			RAISE NOTICE 'acked %', i;
		END LOOP;
	END \$\$;\n};
	close $fh;

	my @handles;
	push @handles, IPC::Run::start([ 'psql', '-X', '-q', '-d', $connstr, '-f', $churn ],
		'>', '/dev/null', '2>', '/dev/null');
	push @handles, IPC::Run::start([ 'psql', '-X', '-q', '-d', $connstr, '-f', $writer ],
		'>', '/dev/null', '2>', "$dir/ts_writer_$round.err");
	ok($node->poll_query_until('postgres', qq{
			SELECT (SELECT rows_compressed FROM nosql.timeseries WHERE relid = 'c'::regclass) > 0
			   AND (SELECT count(*) FROM c WHERE dev = 99 AND v >= $round * 10000000) >= 50}),
		"round $round: compressions and backfill under way");
	# somewhere inside the next compression or decompression
	$node->poll_query_until('postgres', q{
		SELECT count(*) > 0 FROM pg_stat_activity
		 WHERE query LIKE '%compress_timeseries%' AND state = 'active' AND pid <> pg_backend_pid()});
	usleep(int(rand(300_000)));
	$node->stop('immediate');
	$_->finish for @handles;

	my @acked = map { /acked (\d+)/ ? $1 : () } split /\n/, slurp_file("$dir/ts_writer_$round.err");
	ok(@acked >= 50, "round $round: " . scalar(@acked) . ' backfill rows acknowledged before the crash');
	$node->start;
	my %have = map { $_ => 1 } split /\n/, $node->safe_psql('postgres',
		"SELECT (v - $round * 10000000)::bigint FROM c WHERE dev = 99 AND v >= $round * 10000000 AND v < ($round + 1) * 10000000");
	my @lost = grep { !$have{$_} } @acked;
	is(scalar(@lost), 0, "round $round: every acknowledged backfill row is there")
	  or diag("lost: @lost[0 .. ($#lost < 9 ? $#lost : 9)]");
	is($node->safe_psql('postgres', "SELECT count(*) = count(DISTINCT v) FROM c WHERE dev = 99"),
		't', "round $round: each once");
	is(differences($node, 'c', 'c_plain', 'dev <> 99'), '0',
		"round $round: the original rows are all there, each once, unchanged");
	# and the table still compresses and reads the same afterwards
	$node->safe_psql('postgres', "SELECT nosql.compress_timeseries('c')");
	is(differences($node, 'c', 'c_plain', 'dev <> 99'), '0', "round $round: the same after compressing again");
}

# ---- a crash in the middle of a COPY that compresses as it loads
# (nosql.timeseries_compress_copy): the load acknowledged before stays
# whole, the one cut off leaves nothing, and the table reads and compresses
# as before
$node->safe_psql('postgres', qq{
	CREATE TABLE d (time timestamptz NOT NULL, dev int, v float8);
	CREATE INDEX ON d (dev, time);
	INSERT INTO d SELECT timestamptz '2025-02-01' + i * interval '1 day', 0, 0 FROM generate_series(0, 3) i;
	SELECT nosql.create_timeseries('d', 'time', '{dev}', '1 day', compress_after => '1 day');
	DELETE FROM d;
	-- the same, each day split into 4 leaves by hash of dev
	CREATE TABLE dh (time timestamptz NOT NULL, dev int, v float8);
	CREATE INDEX ON dh (dev, time);
	INSERT INTO dh SELECT timestamptz '2025-02-01' + i * interval '1 day', 0, 0 FROM generate_series(0, 3) i;
	SELECT nosql.create_timeseries('dh', 'time', '{dev}', '1 day', compress_after => '1 day', hash_partitions => 4);
	DELETE FROM dh;
	CREATE TABLE d_plain (LIKE d);
	COPY (SELECT timestamptz '2025-02-01' + i * interval '1 s', i % 50, i * 0.5 FROM generate_series(0, 199999) i)
	  TO '$dir/ts_copy_1.txt';
	COPY (SELECT timestamptz '2025-02-03' + i * interval '0.1 s', i % 50, -i FROM generate_series(0, 1999999) i)
	  TO '$dir/ts_copy_2.txt';
});
is($node->safe_psql('postgres', qq{COPY d FROM '$dir/ts_copy_1.txt'}), '',
	'a load into due partitions is acknowledged');
$node->safe_psql('postgres', qq{COPY d_plain FROM '$dir/ts_copy_1.txt'});
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE blocks IS NOT NULL), sum(nosql.timeseries_heap_rows(partition, NULL))
	  FROM nosql.timeseries_partition WHERE relid = 'd'::regclass AND range_start < '2025-02-03'}),
	'2|0', 'it went into blocks, not the heap');
is($node->safe_psql('postgres', qq{COPY dh FROM '$dir/ts_copy_1.txt'}), '',
	'a load into due hash leaves is acknowledged');
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE blocks IS NOT NULL), sum(nosql.timeseries_heap_rows(partition, NULL))
	  FROM nosql.timeseries_partition WHERE relid = 'dh'::regclass AND range_start < '2025-02-03'}),
	'8|0', 'it went into the blocks of every leaf, not the heap');
my @loaders = map {
	IPC::Run::start([ 'psql', '-X', '-q', '-d', $connstr, '-c', "COPY $_ FROM '$dir/ts_copy_2.txt'" ],
		'>', '/dev/null', '2>', '/dev/null')
} ('d', 'dh');
ok($node->poll_query_until('postgres', q{
		SELECT count(*) = 2 AND min(tuples_processed) > 300000 FROM pg_stat_progress_copy}),
	'the second loads are under way');
usleep(int(rand(300_000)));
$node->stop('immediate');
$_->finish for @loaders;
$node->start;
is(differences($node, 'd', 'd_plain'), '0',
	'after the crash: the acknowledged load is whole and the cut-off one left nothing');
is(differences($node, 'dh', 'd_plain'), '0',
	'and so with hash leaves');
is($node->safe_psql('postgres', q{SELECT count(*), count(DISTINCT (time, dev)) FROM d WHERE dev = 7 AND time < '2025-02-02'}),
	'1728|1728', 'a series reads each of its rows once, through its index of blocks');
$node->safe_psql('postgres', qq{COPY d FROM '$dir/ts_copy_1.txt'});
$node->safe_psql('postgres', qq{COPY d_plain FROM '$dir/ts_copy_1.txt'});
$node->safe_psql('postgres', qq{COPY dh FROM '$dir/ts_copy_1.txt'});
$node->safe_psql('postgres', "SELECT nosql.compress_timeseries('d'), nosql.compress_timeseries('dh')");
is(differences($node, 'd', 'd_plain'), '0', 'and it loads and compresses as before');
is(differences($node, 'dh', 'd_plain'), '0', 'and so with hash leaves, after the crash');

$node->stop;
done_testing();
