# nosql.watch across restarts: a resume token taken before a restart (fast,
# then immediate: a crash) gives exactly the events after it, none lost and
# none twice, also for events committed just before the crash that the
# decoder had not copied yet.  Then a measurement, noted and not asserted:
# the time from a commit to its delivery to a watcher blocked in
# nosql.watch.  Then a slot invalidated by max_slot_wal_keep_size is
# replaced, and resuming from before it is history lost.  Last, DROP
# EXTENSION drops the decoder's slot.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);
use NosqlTest;

my $node = nosql_node('cdc_watch');
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');
run_command($node, '{"create": "c"}', 'w');

my $t0 = $node->safe_psql('postgres', 'SELECT nosql.watch_start_token()');
like($t0, qr/^\{"_data": "[0-9A-F]{24}"\}$/, 'a start token');

sub insert_ids
{
	my ($from, $to) = @_;
	run_command($node, qq({"insert": "c", "documents": [{"_id": $_}]}), 'w')
	  for ($from .. $to);
}

# The _ids of the events after $token, waiting (blocked in watch) until
# there are $n of them.
sub ids_after
{
	my ($token, $n) = @_;
	return watch_ids($node, 'w.c', $token, sub { @_ >= $n });
}

# the token of the event of document $id after $token
sub token_of
{
	my ($token, $id) = @_;
	$token =~ s/'/''/g;
	return $node->safe_psql('postgres', qq(
		SELECT e -> '_id' FROM nosql.watch('w.c', resume_after => '$token') e
		 WHERE e -> 'documentKey' ->> '_id' = '$id'));
}

insert_ids(1, 10);
is(ids_after($t0, 10), join(',', 1 .. 10), 'the first ten events');
my $t5 = token_of($t0, 5);
like($t5, qr/_data/, 'the token of the fifth event');

# a clean restart: the slot and the log stay; a new decoder goes on
$node->restart;
insert_ids(11, 12);
is(ids_after($t5, 7), join(',', 6 .. 12), 'after a restart: exactly the later events');

# a crash right after commits the decoder may not have copied yet
insert_ids(13, 15);
$node->stop('immediate');
$node->start;
is(ids_after($t5, 10), join(',', 6 .. 15),
	'after a crash: exactly the later events, none lost, none twice');
is(ids_after($t0, 15), join(',', 1 .. 15), 'and from the start, all of them once');
insert_ids(16, 16);
is(ids_after(token_of($t0, 15), 1), '16', 'a stream resumed at the newest event goes on');

# the log has one row per event, no duplicate tokens
is($node->safe_psql('postgres',
		"SELECT count(*) = count(DISTINCT token) AND count(*) >= 16 FROM nosql.change_log"),
	't', 'one row per event');
is($node->safe_psql('postgres',
		"SELECT decoder_pid IS NOT NULL AND slot_name IS NOT NULL FROM nosql.change_streams"),
	't', 'a decoder runs after the crash');

# DROP DATABASE of a database with a decoder and its slot works
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION nosql');
$node->safe_psql('other', 'SELECT nosql.watch_start_token()');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_replication_slots WHERE database = 'other'"),
	'1', 'the other database has its decoder slot');
$node->safe_psql('postgres', 'DROP DATABASE other');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'nosql_cdc_%'"),
	'1', 'dropping the database dropped its slot');

# Commit-to-delivery: a watcher blocked in nosql.watch, then one insert;
# the watcher reports how long after the commit (the event's wallTime,
# in milliseconds) it had the event.
run_command($node, '{"create": "lat"}', 'w');
my @lat;
for my $i (1 .. 30)
{
	my ($out, $err) = ('', '');
	my $watcher = IPC::Run::start(
		[
			'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
			"SELECT extract(epoch FROM clock_timestamp() - (e -> 'wallTime')::timestamptz) * 1000
			   FROM nosql.watch('w.lat', max_wait_ms => 10000) e LIMIT 1"
		],
		'>', \$out, '2>', \$err);
	# wait until it sleeps in watch
	wait_for_value($node, 'postgres',
		"SELECT count(*) > 0 FROM pg_stat_activity WHERE query LIKE '%w.lat%' AND wait_event = 'Extension' AND pid <> pg_backend_pid()",
		't', 10);
	run_command($node, qq({"insert": "lat", "documents": [{"_id": $i}]}), 'w');
	$watcher->finish;
	chomp $out;
	push @lat, $out if $out =~ /^-?[0-9.]+$/;
}
is(scalar @lat, 30, 'every watcher got its event');
my @sorted = sort { $a <=> $b } @lat;
note sprintf('commit-to-delivery through nosql.watch over %d round trips: p50 %.1f ms, p90 %.1f ms, max %.1f ms (wallTime has millisecond resolution)',
	scalar @sorted, $sorted[ int(@sorted * 0.5) ], $sorted[ int(@sorted * 0.9) ], $sorted[-1])
  if @sorted;

# Watcher positions: a nosql.watch blocked in another session is listed in
# nosql.change_stream_watchers while it runs, with its namespace and resume
# point; a role that may not watch sees no one else's; the line goes when
# the call returns, and when its backend is terminated.
$node->safe_psql('postgres', q{
	CREATE ROLE watch_nobody LOGIN;
	CREATE ROLE watch_stats LOGIN IN ROLE pg_read_all_stats;
});
sub start_watcher
{
	my ($out, $err) = @_;
	return IPC::Run::start(
		[
			'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c',
			"SELECT e -> 'documentKey' ->> '_id' FROM nosql.watch('w.pos', max_wait_ms => 60000) e"
		],
		'>', $out, '2>', $err);
}
my ($wout, $werr) = ('', '');
my $watcher = start_watcher(\$wout, \$werr);
is(wait_for_value($node, 'postgres',
		"SELECT count(*) FROM nosql.change_stream_watchers WHERE coll = 'pos'", '1', 30),
	'1', 'a blocked nosql.watch is listed as a watcher');
my $watcher_pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE query LIKE '%w.pos%' AND pid <> pg_backend_pid()");
is($node->safe_psql('postgres', qq(
		SELECT pid = $watcher_pid AND role = current_user AND kind = 'watch' AND cursor_id IS NULL
		       AND database = 'w' AND resume_token ~ '^[0-9A-F]{24}\$' AND last_read IS NOT NULL
		       AND events = 0 AND lag_bytes >= 0
		  FROM nosql.change_stream_watchers WHERE coll = 'pos')),
	't', 'its pid, role, kind, namespace, resume point and last read');
is($node->safe_psql('postgres',
		"SET ROLE watch_nobody; SELECT count(*) FROM nosql.change_stream_watchers"),
	'0', 'a role that may not watch sees no one else\'s watchers');
is($node->safe_psql('postgres',
		"SET ROLE watch_stats; SELECT count(*) FROM nosql.change_stream_watchers WHERE coll = 'pos'"),
	'1', 'pg_read_all_stats sees them');
run_command($node, '{"insert": "pos", "documents": [{"_id": "p1"}]}', 'w');
$watcher->finish;
chomp $wout;
is($wout, 'p1', 'the watcher got its event');
is($node->safe_psql('postgres', "SELECT count(*) FROM nosql.change_stream_watchers"),
	'0', 'and is no longer listed once the call returned');

($wout, $werr) = ('', '');
$watcher = start_watcher(\$wout, \$werr);
wait_for_value($node, 'postgres',
	"SELECT count(*) FROM nosql.change_stream_watchers WHERE coll = 'pos'", '1', 30);
$node->safe_psql('postgres',
	"SELECT pg_terminate_backend(pid) FROM nosql.change_stream_watchers WHERE coll = 'pos'");
$watcher->finish;
is(wait_for_value($node, 'postgres', "SELECT count(*) FROM nosql.change_stream_watchers", '0', 30),
	'0', 'a terminated watcher is no longer listed');

# max_slot_wal_keep_size: a decoder that falls behind (stopped here with
# SIGSTOP) loses its slot at a checkpoint; the next decoder drops the
# invalidated slot and starts a new one, and resuming from before it is
# history lost (286), never a gap.
insert_ids(300, 300);
my $t_before = token_of($t0, 300);
like($t_before, qr/_data/, 'a token before the slot is lost');
my $decoder = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'nosql cdc decoder'");
like($decoder, qr/^\d+$/, 'the decoder runs');
kill 'STOP', $decoder;
$node->safe_psql('postgres', q{
	ALTER SYSTEM SET max_slot_wal_keep_size = '1MB';
	SELECT pg_reload_conf();
});
$node->safe_psql('postgres', q{
	CREATE TABLE filler AS SELECT repeat('x', 1000) AS pad FROM generate_series(1, 40000);
	SELECT pg_switch_wal();
	DROP TABLE filler;
	SELECT pg_switch_wal();
});
my ($cout, $cerr) = ('', '');
my $checkpoint = IPC::Run::start(
	[ 'psql', '-X', '-q', '-c', 'CHECKPOINT', '-d', $node->connstr('postgres') ],
	'>', \$cout, '2>', \$cerr);
# the checkpoint asks the stopped decoder to exit and waits for it
wait_for_value($node, 'postgres',
	q{SELECT count(*) > 0 FROM pg_stat_activity WHERE query = 'CHECKPOINT' AND wait_event IS NOT NULL},
	't', 30);
kill 'CONT', $decoder;
$checkpoint->finish;
is($node->safe_psql('postgres',
		q{SELECT wal_status FROM pg_replication_slots WHERE slot_name LIKE 'nosql_cdc_%'}),
	'lost', 'the slot lost its WAL');
$node->safe_psql('postgres', q{
	ALTER SYSTEM RESET max_slot_wal_keep_size;
	SELECT pg_reload_conf();
});
my ($ok, $out, $err) = (undef, '', '');
{
	my $tb = $t_before;
	$tb =~ s/'/''/g;
	$node->psql('postgres', qq(SELECT count(*) FROM nosql.watch('w.c', resume_after => '$tb')),
		stdout => \$out, stderr => \$err);
}
like($err, qr/286/, 'resuming from before the new slot: ChangeStreamHistoryLost');
ok($node->log_contains('dropped replication slot "nosql_cdc_\d+": its WAL was removed'),
	'the decoder said it dropped the lost slot');
my $t_after = $node->safe_psql('postgres', 'SELECT nosql.watch_start_token()');
insert_ids(301, 301);
is(watch_ids($node, 'w.c', $t_after, sub { @_ >= 1 }), '301', 'events flow again on the new slot');

# DROP EXTENSION: the database worker drops the decoder's slot, which would
# otherwise keep WAL for ever
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'nosql_cdc_%'"),
	'1', 'the decoder\'s slot exists');
$node->safe_psql('postgres', 'DROP EXTENSION nosql CASCADE');
is(wait_for_value($node, 'postgres',
		"SELECT count(*) = 0 FROM pg_replication_slots WHERE slot_name LIKE 'nosql_cdc_%'",
		't', 60),
	't', 'after DROP EXTENSION the decoder\'s slot is dropped');

done_testing();
