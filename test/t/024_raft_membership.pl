# Membership changes of a raft group under load: 3 -> 5 -> 3 members while
# clients put and get on the first three.  The group compacts its log
# after 50 entries (nosql.raft_snapshot_entries), so the new members catch
# up by snapshot; then they are removed again.  The history must be
# linearizable and the members that stay must hold the same store, and so
# must the new ones while they are members.  Also runs the self-tests of
# the test tools (lincheck, raftproxy).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep time);
use NosqlTest;
use RaftTest;

# the tools' own tests
for my $t ('test_lincheck.py', 'test_raftproxy.py')
{
	my ($out, $err) = ('', '');
	IPC::Run::run([ $RaftTest::python, "$ENV{NOSQL_SRCDIR}/test/raft/$t" ], '>', \$out, '2>', \$err);
	my $all = $out . $err;
	like($all, qr/tests: \d+ passed, 0 failed/, "$t passes");
}

my $g = raft_group('raft_members', 3, conf => 'nosql.raft_snapshot_entries = 50');
my $leader = raft_wait_leader($g, 60);
ok($leader, 'a leader is elected');
$leader->safe_psql('postgres', "SELECT nosql.kv_put('pre' || i, repeat('x', 100)) FROM generate_series(1, 200) i");

my $load = raft_run_load($g, clients => 4, keys => 6, duration => 40, tag => 'members', seed => 11);
sleep 3;

# 3 -> 5: each new member joins empty, as a learner, then votes
for my $id (4, 5)
{
	my $node = raft_add_node($g, $id);
	$leader = raft_wait_leader($g, 30);
	my $addr = "127.0.0.1:$g->{raft_ports}{$id}";
	my ($rc, $out, $err) = $leader->psql('postgres', "SELECT nosql.raft_add_member($id, '$addr')",
		on_error_stop => 0);
	is($rc, 0, "member $id added") or diag($err);
	# a log that starts after index 1 came from a snapshot
	is($node->safe_psql('postgres', 'SELECT first_index > 1 FROM nosql.raft_status'), 't',
		"member $id caught up by snapshot");
}
my $members = $leader->safe_psql('postgres',
	q{SELECT count(*) FILTER (WHERE (m->>'voter')::boolean) FROM nosql.raft_status, jsonb_array_elements(members) m});
is($members, '5', 'the group has five voters');
is($g->{nodes}[4]->safe_psql('postgres', "SELECT role FROM nosql.raft_status"), 'follower',
	'the new member follows');
sleep 3;

# 5 -> 3
for my $id (5, 4)
{
	$leader = raft_wait_leader($g, 30);
	my ($rc, $out, $err) = $leader->psql('postgres', "SELECT nosql.raft_remove_member($id)",
		on_error_stop => 0);
	is($rc, 0, "member $id removed") or diag($err);
}
$leader = raft_wait_leader($g, 30);
$members = $leader->safe_psql('postgres',
	q{SELECT count(*) FROM nosql.raft_status, jsonb_array_elements(members) m});
is($members, '3', 'the group is back to three members');

my ($code, $report, $loadout) = raft_lincheck($load);
note($report);
my ($ok) = $loadout =~ /ok (\d+)/;
cmp_ok($ok // 0, '>', 100, 'many operations succeeded');
is($code, 0, 'the history is linearizable');

# the removed members stop; the three that stay converge
$g->{nodes}[$_]->stop('fast') for (3, 4);
my $digest = raft_wait_converged($g, 60);
ok($digest, 'the remaining members hold the same store: ' . ($digest // 'no'));
like($leader->safe_psql('postgres', "SELECT first_index > 1 FROM nosql.raft_status"), qr/t/,
	'the log was compacted');

$_->stop('fast') for grep { $_ && $_->{_pid} } @{ $g->{nodes} };
done_testing();
