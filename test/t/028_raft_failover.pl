# A leader whose server goes down is replaced at once: its followers see
# its Raft port refuse connections with nothing of it left open, and elect
# a new leader without waiting out the election timeout (5 s here).  The
# group then takes writes, and the old leader rejoins as a follower.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use NosqlTest;
use RaftTest;

my $g = raft_group('raft_failover', 3, conf => 'nosql.raft_election_timeout_ms = 5000');
my @n = @{ $g->{nodes} };
my $leader = raft_wait_leader($g, 60);
ok($leader, 'a leader is elected');
my $lid = raft_status($leader)->{id};
$leader->safe_psql('postgres', "SELECT nosql.kv_put('before', 'the failover')");

my $t0 = time;
$leader->stop('immediate');
my $next;
while (!$next && time - $t0 < 15)
{
	for my $node (grep { $_ != $leader } @n)
	{
		$next = $node if (raft_status($node)->{role} // '') eq 'leader';
	}
	usleep(20_000) unless $next;
}
my $elapsed = time - $t0;
ok($next, 'a new leader after the leader went down') or raft_diag($g);
note(sprintf('new leader after %.2f s', $elapsed));
cmp_ok($elapsed, '<', 3, 'elected well within the 5 s election timeout, without waiting it out')
  or raft_diag($g);
my $nid = $next ? raft_status($next)->{id} : 0;
like(slurp_file($next->logfile), qr/raft: member $nid campaigns for term/,
	'the new leader campaigned');

# the group works, and the old leader comes back as a follower
is($next->safe_psql('postgres', "SELECT nosql.kv_put('after', 'the failover') > 0"),
	't', 'the new leader takes writes');
$leader->start;
ok(raft_wait_converged($g, 60), 'the old leader catches up');
is(raft_status($leader)->{leader}, $nid, 'and follows the new leader');
is($leader->safe_psql('postgres', "SELECT count(*) FROM nosql.kv_history WHERE key IN ('before', 'after')"),
	'2', 'with both writes');

$_->stop('fast') for @n;
done_testing();
