# A raft group of three real servers on 127.0.0.1: a leader is elected;
# writes on any member go through the leader and reach every member with
# the same revisions; reads are linearizable from any member; leases are
# granted and expired through the log; a write in a transaction block is
# refused; a member with the wrong secret, and a stranger's connection,
# are rejected; leadership moves on request; nosql.raft_status answers on
# every member.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IO::Socket::INET;
use IPC::Run;
use Time::HiRes qw(usleep time);
use NosqlTest;
use RaftTest;

my $g = raft_group('raft_basic', 3);
my @n = @{ $g->{nodes} };

my $leader = raft_wait_leader($g, 60);
ok($leader, 'a leader is elected');
my $lid = raft_status($leader)->{id};
my @followers = grep { raft_status($_)->{id} != $lid } @n;
is(scalar(@followers), 2, 'two followers');
for my $node (@n)
{
	my $st = raft_status($node);
	is($st->{leader}, $lid, "member $st->{id} knows the leader");
	like($st->{role}, qr/^(leader|follower)$/, "member $st->{id} is $st->{role}");
}

# writes on every member, in order
my @revs;
for my $i (0 .. 8)
{
	my $node = $n[ $i % 3 ];
	push @revs, $node->safe_psql('postgres', "SELECT nosql.kv_put('k$i', 'v$i')");
}
is_deeply(\@revs, [ 2 .. 10 ], 'puts on leader and followers get consecutive revisions');

# a read right after a write on another member sees it (ReadIndex)
for my $i (0 .. 5)
{
	my $w = $n[ $i % 3 ];
	my $r = $n[ ($i + 1) % 3 ];
	$w->safe_psql('postgres', "SELECT nosql.kv_put('rw', 'x$i')");
	is($r->safe_psql('postgres', "SELECT convert_from((nosql.kv_get('rw')).value, 'UTF8')"),
		"x$i", "linearizable read on another member sees write $i");
}

# delete, txn, prev_kv and compaction through the log
is($followers[0]->safe_psql('postgres', "SELECT nosql.kv_delete('k0')"), '1', 'delete on a follower');
is($followers[1]->safe_psql('postgres',
		"SELECT (nosql.kv_put_prev('k1', 'new')).prev_kv IS NOT NULL"), 't', 'put with prev_kv on a follower');
like($followers[1]->safe_psql('postgres',
		q{SELECT nosql.kv_txn('{"compare": [{"key": "k2", "target": "VALUE", "value": "v2"}], "success": [{"request_put": {"key": "k2", "value": "txn"}}], "failure": []}')}),
	qr/"succeeded" : true|"succeeded": true/, 'txn on a follower');
my ($rc, $out, $err) = $followers[0]->psql('postgres',
	q{SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "a"}}, {"request_put": {"key": "a"}}]}')});
isnt($rc, 0, 'a bad txn fails');
like($err, qr/duplicate key|more than once|twice/i, 'with the same error as on one server');
my $rev = $leader->safe_psql('postgres', 'SELECT nosql.kv_current_revision()');
ok($followers[0]->safe_psql('postgres', "SELECT nosql.kv_compact($rev - 3)") >= 0, 'compaction through the log');
($rc, $out, $err) = $followers[1]->psql('postgres', "SELECT * FROM nosql.kv_get('k1', 2)");
like($err, qr/compacted/, 'a read below the compaction point fails on every member');

# leases: grant on a follower, key with it, expiry by the leader through the log
my $lease = $followers[0]->safe_psql('postgres', 'SELECT nosql.lease_grant(2)');
$followers[1]->safe_psql('postgres', "SELECT nosql.kv_put('leased', 'x', $lease)");
is($leader->safe_psql('postgres', "SELECT count(*) FROM nosql.kv_range('leased')"), '1',
	'a leased key is there');
my $t0 = time;
my $gone = wait_for_value($followers[1], 'postgres', "SELECT count(*) FROM nosql.kv_range('leased')", '0', 30);
is($gone, '0', 'the leased key is deleted when the lease expires');
cmp_ok(time - $t0, '<', 10, 'within seconds of its TTL');
($rc, $out, $err) = $followers[0]->psql('postgres', "SELECT nosql.lease_keepalive($lease)");
like($err, qr/not found/, 'an expired lease cannot be kept alive');

# watches work on every member: the events of writes made elsewhere
my $wrev = $n[0]->safe_psql('postgres', "SELECT nosql.kv_put('watched', 'w1')");
$n[1]->safe_psql('postgres', "SELECT nosql.kv_put('watched', 'w2')");
for my $node (@n)
{
	is($node->safe_psql('postgres',
			"SELECT string_agg(type || ':' || convert_from(value, 'UTF8'), ',' ORDER BY revision) FROM nosql.kv_watch('watched', NULL, $wrev)"),
		'PUT:w1,PUT:w2', 'a watch on member ' . raft_status($node)->{id} . ' sees both writes');
}
# a blocking watch on a follower wakes when another member writes
my ($wout, $werr) = ('', '');
my $watch = IPC::Run::start(
	[ 'psql', '-XAtq', '-d', $followers[1]->connstr('postgres'), '-c',
		"SELECT convert_from(value, 'UTF8') FROM nosql.kv_watch('watched', NULL, $wrev + 2, 20000)" ],
	'>', \$wout, '2>', \$werr);
sleep 1;
$followers[0]->safe_psql('postgres', "SELECT nosql.kv_put('watched', 'w3')");
$watch->finish;
is($wout, "w3\n", 'a blocking watch on a follower wakes for a write on another member');

# a write in a transaction block is refused unless allowed
($rc, $out, $err) = $followers[0]->psql('postgres',
	"BEGIN; SELECT nosql.kv_put('tx', '1'); COMMIT;");
like($err, qr/cannot run inside a transaction block/, 'a write in a transaction block is refused');
is($followers[0]->safe_psql('postgres',
		"SET nosql.raft_allow_in_transaction = on; BEGIN; SELECT nosql.kv_put('tx', '1') > 0; ROLLBACK;"),
	't', 'allowed on request');
is($leader->safe_psql('postgres', "SELECT count(*) FROM nosql.kv_range('tx')"), '1',
	'and then the ROLLBACK does not undo it (as documented)');

# every member has the same store
my $digest = raft_wait_converged($g, 60);
ok($digest, "members converge: $digest");

# a stranger without the secret is rejected
my $port = $g->{raft_ports}{$lid};
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp');
ok($s, 'connected to the leader\'s raft port');
my $hello = 'NOSQLRFT' . pack('N', 1) . pack('Q>', 99) . pack('Q>', $lid) . ('x' x 32);
print $s $hello;
my $challenge = '';
$s->recv($challenge, 64);
is(length($challenge), 64, 'the member answers with a challenge');
print $s ('z' x 32);	# a wrong proof
my $more = '';
$s->recv($more, 10);
is($more, '', 'and closes the connection after a wrong proof');
close $s;
ok($leader->wait_for_log(qr/rejected: the peer does not know nosql.raft_secret/, 0),
	'the member logs the rejection');

# leadership transfer
my $to = raft_status($followers[0])->{id};
$leader->safe_psql('postgres', "SELECT nosql.raft_transfer_leadership($to)");
my $moved = 0;
for (1 .. 100)
{
	my $st = raft_status($followers[0]);
	if ($st->{role} eq 'leader') { $moved = 1; last }
	usleep(100_000);
}
ok($moved, "leadership moved to member $to on request");
is($leader->safe_psql('postgres', "SELECT nosql.kv_put('after-transfer', '1') > 0"), 't',
	'writes work after the transfer');

# a member with the wrong secret is kept out, and the group works without it
my $odd = raft_status($n[2])->{id};
$n[2]->stop('fast');
$n[2]->append_conf('postgresql.conf', "nosql.raft_secret = 'wrong'");
$n[2]->start;
ok($n[0]->wait_for_log(qr/does not know nosql.raft_secret/, 0)
	  || $n[1]->wait_for_log(qr/does not know nosql.raft_secret/, 0),
	'the members reject the one with the wrong secret');
is($n[0]->safe_psql('postgres', "SELECT nosql.kv_put('two-of-three', '1') > 0"), 't',
	'the other two still commit');
my $st3 = raft_status($n[2]);
isnt($st3->{applied}, raft_status($n[0])->{applied}, 'the outsider does not get the entries');

# status on every member, and the errors of a non-member call
like($n[0]->safe_psql('postgres', 'SELECT members::text FROM nosql.raft_status'),
	qr/"match"|"voter"/, 'raft_status lists the members');
($rc, $out, $err) = $n[0]->psql('postgres', "SELECT nosql.raft_remove_member(0)");
like($err, qr/invalid raft node id/, 'a bad member id is refused');

$_->stop('fast') for @n;
done_testing();
