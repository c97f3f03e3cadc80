# A raft group of three servers under a mixed put/get load on every member
# (test/raft/raftload.py), while the leader is killed with -m immediate
# and restarted, the next leader is paused with SIGSTOP and resumed, and
# the next one is cut off from the others by the proxy every link goes
# through (test/raft/raftproxy.py) and then healed.  Then a connection
# from the leader silently stops carrying bytes.  The history of every
# operation must be linearizable (test/raft/lincheck.py; an unknown
# outcome may or may not have happened), and all members must end with
# the same store.  A negative control shows that the checker catches an
# injected stale read.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use JSON::PP;
use NosqlTest;
use RaftTest;

my $g = raft_group('raft_faults', 3, proxy => 1);
my @n = @{ $g->{nodes} };
ok(raft_wait_leader($g, 60), 'a leader is elected through the proxy');

# the processes of a server, for SIGSTOP
sub server_pids
{
	my ($node) = @_;
	my $pm = $node->{_pid};
	my @kids = split /\s+/, `pgrep -P $pm`;
	return ($pm, grep { /^\d+$/ } @kids);
}

sub id_of { my ($node) = @_; return raft_status($node)->{id}; }

# A member other than $leader that says it leads, waiting up to $tries
# tenths of a second; undef if none
sub leader_besides
{
	my ($leader, $tries) = @_;
	for (1 .. $tries)
	{
		for my $node (@n)
		{
			next if $node == $leader;
			return $node if (raft_status($node)->{role} // '') eq 'leader';
		}
		usleep(100_000);
	}
	return undef;
}

my $load = raft_run_load($g, clients => 6, keys => 6, duration => 40, tag => 'faults', seed => 7);
sleep 4;

# 1. the leader is killed mid-load, and comes back
my $leader = raft_wait_leader($g, 30);
my $lid = id_of($leader);
note("killing leader $lid");
my $t0 = time;
$leader->stop('immediate');
my $next = raft_wait_leader($g, 30);
ok($next && id_of($next) != $lid, 'a new leader after the leader is killed') or raft_diag($g);
note(sprintf('new leader after %.2f s', time - $t0));
sleep 2;
$leader->start;
sleep 3;

# 2. the leader is paused and resumed
$leader = raft_wait_leader($g, 30);
$lid = id_of($leader);
my @pids = server_pids($leader);
note("pausing leader $lid (@pids)");
kill 'STOP', @pids;
sleep 4;
my $other = leader_besides($leader, 50);
ok($other, 'the others elect a leader while it is paused') or raft_diag($g);
kill 'CONT', @pids;
sleep 3;

# 3. the leader is partitioned from the others, then healed
$leader = raft_wait_leader($g, 30);
$lid = id_of($leader);
note("isolating leader $lid");
like(raft_proxy_command($g, "isolate $lid"), qr/^ok/, 'the proxy isolates the leader');
my $majority = leader_besides($leader, 60);
ok($majority, 'the majority side elects a leader') or raft_diag($g);
my $old = raft_status($leader);
sleep 2;
$old = raft_status($leader);
isnt($old->{role}, 'leader', 'the isolated leader steps down (check-quorum)');
like(raft_proxy_command($g, 'heal'), qr/^ok/, 'the partition heals');

my ($code, $report, $loadout) = raft_lincheck($load);
note($report);
like($loadout, qr/raftload: \d+ ops/, 'the load ran');
my ($ok) = $loadout =~ /ok (\d+)/;
cmp_ok($ok // 0, '>', 100, 'many operations succeeded');
is($code, 0, 'the history is linearizable');

my $digest = raft_wait_converged($g, 60);
ok($digest, "all members hold the same store after the faults: " . ($digest // 'no'));

# nothing acknowledged is lost: every put that returned is in every
# member's history (values are unique)
my %acked;
open my $hf, '<', $load->{history} or die "cannot read $load->{history}: $!";
while (my $line = <$hf>)
{
	my $e = JSON::PP::decode_json($line);
	$acked{ $e->{value} } = 1 if $e->{type} eq 'ok' && $e->{f} eq 'put';
}
close $hf;
cmp_ok(scalar(keys %acked), '>', 50, 'many puts were acknowledged');
for my $node (grep { $_->{_pid} } @n)
{
	my %have = map { $_ => 1 } split /\n/,
	  $node->safe_psql('postgres',
		"SELECT convert_from(value, 'UTF8') FROM nosql.kv_history WHERE value IS NOT NULL");
	my @lost = grep { !$have{$_} } keys %acked;
	is(scalar(@lost), 0, 'member ' . raft_status($node)->{id} . ' has every acknowledged put')
	  or diag("lost: @lost[0 .. (@lost > 10 ? 9 : $#lost)]");
}

# 4. a connection that stops carrying bytes without closing: the proxy
# drops what the leader sends to a follower, and what comes back, but
# keeps the connection open, so TCP on either end notices nothing.  The
# leader must find out from the missing acknowledgements, dial again, and
# the follower catch up through the new connection.
$leader = raft_wait_leader($g, 30);
$lid = id_of($leader);
my ($follower) = grep { $_ != $leader && $_->{_pid} } @n;
my $fid = id_of($follower);
my $log_mark = -s $g->{proxy_log};
like(raft_proxy_command($g, "stall $lid-$fid"), qr/^ok [1-9]/,
	'the proxy stalls the connection from the leader to a follower');
$leader->safe_psql('postgres', "SELECT nosql.kv_put('stalled', 'written after the stall')");
my $caught = 0;
for (1 .. 150)
{
	$caught = $follower->safe_psql('postgres',
		"SELECT count(*) FROM nosql.kv_history WHERE key = 'stalled'") + 0;
	last if $caught;
	usleep(100_000);
}
ok($caught, 'the follower gets the entry through a new connection') or raft_diag($g);
like(substr(slurp_file($g->{proxy_log}), $log_mark),
	qr/$lid-$fid: connection from port \d+: end of file from the dialer/,
	'the leader closed the stalled connection (for want of acknowledgements)');
like($leader->safe_psql('postgres',
		"SELECT m->>'link' FROM nosql.raft_status, jsonb_array_elements(members) m WHERE (m->>'id')::bigint = $fid"),
	qr/^out: ready /, "the leader's status shows its connection to the follower");

# negative control: an injected stale read must be caught
my $bad = raft_run_load($g, clients => 4, keys => 3, duration => 6, tag => 'stale',
	seed => 3, stale => 0.2);
my ($bcode, $breport, $bout) = raft_lincheck($bad);
like($bout, qr/injected [1-9]/, 'stale reads were injected');
is($bcode, 1, 'the checker catches them');

raft_stop_proxy($g);
$_->stop('fast') for grep { $_->{_pid} } @n;
done_testing();
