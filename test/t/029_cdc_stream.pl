# nosql.watch_stream read by a real client, psql running
# COPY (SELECT nosql.watch_stream(...)) TO STDOUT, while a writer commits:
# every event arrives once and in order, and arrives while the stream is
# still open (the function flushes before it sleeps).  A server restart
# (fast, then immediate: a crash) ends the stream; a new one resumed from
# the last token received gets the rest without a gap (the ring is empty
# after the restart: those reads come from the log).  Last, with a ring
# smaller than a burst of events, streams still get every event (the
# reads the ring does not cover come from the log).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);
use NosqlTest;

my $node = nosql_node('cdc_stream');
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');
run_command($node, '{"create": "c"}', 'w');

# Insert documents $from .. $to, one transaction each (with a padding of
# $pad bytes), or all in one command with $one.
sub insert_ids
{
	my ($from, $to, %o) = @_;
	my $pad = 'x' x ($o{pad} // 0);
	if ($o{one})
	{
		my $docs = join(',', map { qq({"_id": $_, "p": "$pad"}) } ($from .. $to));
		run_command($node, qq({"insert": "c", "documents": [$docs]}), 'w');
		return;
	}
	run_command($node, qq({"insert": "c", "documents": [{"_id": $_, "p": "$pad"}]}), 'w')
	  for ($from .. $to);
}

# A stream read by psql with COPY: returns the IPC::Run handle; its
# output accumulates in $$out.
sub start_stream
{
	my ($token, $out, $extra) = @_;
	$token =~ s/'/''/g;
	my $sql = "COPY (SELECT nosql.watch_stream('w.c', resume_after => '$token'"
	  . ($extra // '') . ")) TO STDOUT";
	my $err = '';
	# psql's own output is line-buffered, to see each event as it comes
	return IPC::Run::start(
		[ 'stdbuf', '-oL', 'psql', '-XAtq', '-d', $node->connstr('postgres'), '-c', $sql ],
		'>', $out, '2>', \$err);
}

# the documentKey _ids of the events in a stream's output
sub ids_of
{
	my ($out) = @_;
	return map { /"documentKey": \{"_id": (\d+)\}/ ? $1 : () } split /\n/, $out;
}

# the resume token of the last event in a stream's output
sub last_token
{
	my ($out) = @_;
	my @t = map { /"_id": \{"_data": "([0-9A-F]{24})"\}/ ? $1 : () } split /\n/, $out;
	return qq({"_data": "$t[-1]"});
}

# pump a stream until its output has $n events or $secs pass
sub pump_events
{
	my ($h, $out, $n, $secs) = @_;
	my $deadline = time + ($secs // 60);
	while (scalar(ids_of($$out)) < $n && time < $deadline)
	{
		$h->pump_nb;
		usleep(20_000);
	}
	return scalar(ids_of($$out));
}

# ---- events arrive as they are committed, once, in order ----
my $t0 = $node->safe_psql('postgres', 'SELECT nosql.watch_start_token()');
my $out = '';
my $h = start_stream($t0, \$out, ', max_events => 200');
insert_ids(1, 5);
is(pump_events($h, \$out, 5), 5, 'the first events reach the client while the stream is open');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM nosql.change_stream_watchers WHERE kind = 'stream'"),
	'1', 'the stream is listed as a watcher of kind stream');
insert_ids(6, 200);
$h->finish;
is(join(',', ids_of($out)), join(',', 1 .. 200), 'every event once, in commit order');

# ---- a restart ends the stream; resuming from its last token loses nothing ----
for my $mode ('fast', 'immediate')
{
	my $base = $mode eq 'fast' ? 1000 : 2000;
	my $start = $node->safe_psql('postgres', 'SELECT nosql.watch_start_token()');
	my $o = '';
	my $s = start_stream($start, \$o);
	insert_ids($base + 1, $base + 20);
	is(pump_events($s, \$o, 20), 20, "$mode: 20 events before the restart");
	$node->stop($mode);
	$s->finish;
	my $last = last_token($o);
	$node->start;
	insert_ids($base + 21, $base + 40);
	my $o2 = '';
	my $s2 = start_stream($last, \$o2, ', max_events => 20');
	$s2->finish;
	is(join(',', ids_of($o . $o2)), join(',', $base + 1 .. $base + 40),
		"$mode: resumed after the restart without a gap");
}

# ---- a ring smaller than a burst: every event still arrives ----
$node->append_conf('postgresql.conf', "nosql.change_stream_ring_size = '64kB'");
$node->restart;
my $t1 = $node->safe_psql('postgres', 'SELECT nosql.watch_start_token()');
my $o = '';
my $s = start_stream($t1, \$o, ', max_events => 420');
# 300 events of 1 kB in one transaction (more than the ring), then more
insert_ids(3001, 3300, pad => 1000, one => 1);
insert_ids(3301, 3420, pad => 1000);
$s->finish;
is(join(',', ids_of($o)), join(',', 3001 .. 3420), 'a burst larger than the ring: every event, in order');
# a stream started after the burst, from before it
my $o3 = '';
my $s3 = start_stream($t1, \$o3, ', max_events => 420');
$s3->finish;
is(join(',', ids_of($o3)), join(',', 3001 .. 3420), 'read again from before the burst: the same events');

# ---- many streams: the decoder gathers events before it wakes them ----
# (nosql.change_stream_gather_watchers = 1 makes this one stream many)
$node->append_conf('postgresql.conf',
	"nosql.change_stream_gather_watchers = 1\nnosql.change_stream_gather_delay = '400ms'");
$node->reload;
my $t2 = $node->safe_psql('postgres', 'SELECT nosql.watch_start_token()');
my $o4 = '';
my $s4 = start_stream($t2, \$o4, ', max_events => 3');
my $listed = 0;
for (1 .. 100)
{
	$listed = $node->safe_psql('postgres',
		"SELECT count(*) FROM nosql.change_stream_watchers WHERE kind = 'stream'");
	last if $listed eq '1';
	usleep(50_000);
}
is($listed, '1', 'gathering: the stream is open');
my $first = Time::HiRes::time();
insert_ids(4001, 4003);
is(pump_events($s4, \$o4, 1), 3, 'gathering: the three events arrive');
my $took = Time::HiRes::time() - $first;
$s4->finish;
is(join(',', ids_of($o4)), '4001,4002,4003', 'gathering: in order, once');
cmp_ok($took, '>=', 0.3, 'gathering: delivered after the gather delay, not at the first commit');

done_testing();
