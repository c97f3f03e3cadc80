# Large transactions and change streams.  The decoder streams a transaction
# whose changes outgrow logical_decoding_work_mem (64kB here) and logs its
# events at its commit with their position filled in: a rolled-back
# savepoint's events are dropped, and a transaction of 500,000 inserts does
# not hold up the small commits made while it runs (each reaches a watcher
# in under a second).  A crash in the middle of a streamed transaction
# logs nothing of it; a crash just after one, followed by a restart where
# it is no longer streamed (other ordinals), does not log it twice.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep time);
use NosqlTest;

my $node = nosql_node('cdc_large', extra_conf => "logical_decoding_work_mem = '64kB'\n");
$node->safe_psql('postgres', q{
	CREATE EXTENSION nosql;
	CREATE FUNCTION many(coll text, first int, last int) RETURNS bigint LANGUAGE sql AS $$
	    SELECT (nosql.run_command('w', format('{"insert": "%s", "documents": [%s]}', coll,
	            string_agg(format('{"_id": %s, "pad": "%s"}', g, repeat('x', 200)), ','))::nosql.bson)
	            OPERATOR(nosql.->>) 'n')::bigint
	      FROM generate_series(first, last) g
	$$;
});
run_command($node, qq({"create": "$_"}), 'w') for qw(sp big small sp2 big2);
# starts the decoder
my $t0 = $node->safe_psql('postgres', 'SELECT nosql.watch_start_token()');

# the _ids of the events of w.small after $token, waiting until the last
# one is $last
sub small_after
{
	my ($token, $last) = @_;
	return watch_ids($node, 'w.small', $token, sub { @_ && $_[-1] eq $last });
}

# One transaction in collection $coll: documents 1..400, then 300 more in a
# savepoint rolled back, then 401 .. $last - 300 (ids from 701)
sub savepoint_txn
{
	my ($coll, $last) = @_;
	$node->safe_psql('postgres', qq{
		BEGIN;
		SELECT many('$coll', 1, 400);
		SAVEPOINT s;
		SELECT many('$coll', 401, 700);
		ROLLBACK TO s;
		SELECT many('$coll', 701, $last);
		COMMIT;
	});
}

# logged($coll) once it starts with "$n|", or after ~$secs seconds
sub wait_logged
{
	my ($coll, $n, $secs) = @_;
	my $got = '';
	for (1 .. 4 * $secs)
	{
		$got = logged($coll);
		last if $got =~ /^$n\|/;
		usleep(250_000);
	}
	return $got;
}

# the events of collection $coll after $token: "count|distinct tokens|
# distinct commit LSNs|first id|last id|ids in order"
sub logged
{
	my ($coll) = @_;
	return $node->safe_psql('postgres', qq(
		SELECT count(*), count(DISTINCT token), count(DISTINCT left(token, 16)),
		       coalesce(bool_and(left(token, 16) <> '0000000000000000'), true)
		  FROM nosql.change_log WHERE coll = '$coll'));
}

# ---- a streamed transaction with a rolled-back savepoint ----
savepoint_txn('sp', 701);
is(wait_logged('sp', 401, 15), '401|401|1|t',
	'streamed: the 401 committed events, one commit, real tokens');
is(watch_ids($node, 'w.sp', $t0, sub { @_ >= 401 }), join(',', 1 .. 400, 701),
	'in order, without the rolled-back savepoint');
is($node->safe_psql('postgres', q[
	SELECT count(*) FROM nosql.change_log
	 WHERE coll = 'sp' AND (event -> 'clusterTime' ->> '$timestamp') LIKE '%"t": 0,%'
	    OR (coll = 'sp' AND (event ->> 'wallTime') LIKE '%1970-01-01%')]), '0',
	'their clusterTime and wallTime are the commit\'s');

ok($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'nosql cdc decoder'}) eq '1',
	'one decoder');

# ---- 500,000 inserts in one transaction, small commits meanwhile ----
my $big_sql = "BEGIN;\n";
for my $i (0 .. 49)
{
	my ($from, $to) = ($i * 10000 + 1, ($i + 1) * 10000);
	# the pauses make it last long enough for several small commits
	$big_sql .= "SELECT many('big', $from, $to);\nSELECT pg_sleep(0.1);\n";
}
$big_sql .= "COMMIT;\n\\echo BIG_DONE\n";
my ($big_out, $big_err) = ('', '');
my $started = time;
my $big = IPC::Run::start(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres') ],
	'<', \$big_sql, '>', \$big_out, '2>', \$big_err);

my $token = $node->safe_psql('postgres', 'SELECT nosql.watch_start_token()');
my ($n, $worst, $during) = (0, 0, 0);
my @latencies;
while ($big_out !~ /BIG_DONE/)
{
	$n++;
	my $t = time;
	run_command($node, qq({"insert": "small", "documents": [{"_id": $n}]}), 'w');
	my $acked = time;
	my $tk = $token;
	$tk =~ s/'/''/g;
	my $got = $node->safe_psql('postgres', qq(
		SELECT e -> 'documentKey' ->> '_id' || ' ' || (e -> '_id')::text
		  FROM nosql.watch('w.small', resume_after => '$tk', max_wait_ms => 10000) e LIMIT 1));
	my $latency = time - $acked;
	my ($id, $next) = split / /, $got, 2;
	if (!defined $id || $id ne $n)
	{
		fail("small commit $n delivered: got " . ($got // 'nothing'));
		last;
	}
	$token = $next;
	# only while the big transaction runs (not after its commit)
	$big->pump_nb;
	if ($big_out !~ /BIG_DONE/)
	{
		$during++;
		push @latencies, $latency;
		$worst = $latency if $latency > $worst;
	}
	usleep(200_000);
	$big->pump_nb;
}
$big->finish;
is($big_err, '', 'the large transaction committed');
my $elapsed = time - $started;
@latencies = sort { $a <=> $b } @latencies;
note(sprintf('500k-insert transaction: %.1f s; %d small commits during it, delivery median %.0f ms, worst %.0f ms',
		$elapsed, $during, 1000 * ($latencies[ int(@latencies / 2) ] // 0), 1000 * $worst));
cmp_ok($during, '>=', 3, 'small commits were made while the large transaction ran');
cmp_ok($worst, '<', 1.0, 'none waited a second for the large transaction');

# the large transaction's events, logged at its commit
my $logged_at = time;
my $got = wait_logged('big', 500000, 300);
is($got, '500000|500000|1|t', 'the 500,000 events of the large transaction, one commit, real tokens');
note(sprintf('logged %.1f s after the commit was acknowledged', time - $logged_at));
is($node->safe_psql('postgres', q{
	SELECT (SELECT max(logged) FROM nosql.change_log WHERE coll = 'sp') <
	       (SELECT min(logged) FROM nosql.change_log WHERE coll = 'big')}), 't',
	'each logging has its own time (the log\'s "logged" column)');
$n++;
run_command($node, qq({"insert": "small", "documents": [{"_id": $n}]}), 'w');
my $tk = $token;
$tk =~ s/'/''/g;
is($node->safe_psql('postgres', qq(
	SELECT e -> 'documentKey' ->> '_id'
	  FROM nosql.watch('w.small', resume_after => '$tk', max_wait_ms => 30000) e LIMIT 1)),
	$n, 'a small commit after it comes next');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_ls_tmpdir()}), '0', 'the spool\'s temporary files are gone');

# ---- a crash in the middle of a streamed transaction ----
my $crash_file = $node->basedir . '/crash.sql';
open my $fh, '>', $crash_file or die "cannot write $crash_file: $!";
print $fh "BEGIN;\n", (map {
		my ($f, $t) = ($_ * 2000 + 1, ($_ + 1) * 2000);
		"SELECT many('big2', $f, $t);\n"
	} 0 .. 19), "SELECT pg_sleep(60);\nCOMMIT;\n";
close $fh;
my $crash = IPC::Run::start(
	[ 'psql', '-X', '-q', '-f', $crash_file, '-d', $node->connstr('postgres') ],
	'>', '/dev/null', '2>', '/dev/null');
wait_for_value($node, 'postgres',
	q{SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()},
	't', 120) eq 't' or die 'the transaction to crash did not start';
# its changes were streamed to the decoder
wait_for_value($node, 'postgres',
	q{SELECT count(*) > 0 FROM pg_ls_tmpdir()}, 't', 60);
$n++;
run_command($node, qq({"insert": "small", "documents": [{"_id": $n}]}), 'w');
$node->stop('immediate');
$crash->finish;
$node->start;
is(small_after($token, $n), $n - 1 . ",$n", 'after a crash: the small commits made before it');
is($node->safe_psql('postgres', q{SELECT count(*) FROM nosql.change_log WHERE coll = 'big2'}),
	'0', 'nothing of the transaction the crash ended');

# ---- a crash just after a streamed commit, decoded again unstreamed ----
savepoint_txn('sp2', 1100);
is(wait_logged('sp2', 800, 30), '800|800|1|t', 'streamed and logged');
$node->stop('immediate');
# decoded again, the transaction fits in memory: not streamed, so its
# ordinals are not those of the streamed events
$node->append_conf('postgresql.conf', "logical_decoding_work_mem = '64MB'\n");
$node->start;
$n++;
run_command($node, qq({"insert": "small", "documents": [{"_id": $n}]}), 'w');
like(small_after($token, $n), qr/,$n$/, 'the decoder runs again');
is(logged('sp2'), '800|800|1|t', 'the transaction is not logged twice');

$node->stop;
done_testing();
