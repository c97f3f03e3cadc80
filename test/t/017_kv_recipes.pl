# The lock and election recipes between sessions: a waiter blocks until the
# holder unlocks (or its lease expires), fencing tokens grow, an election
# passes to the next candidate when the leader resigns, and observe wakes
# up with the new leader.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep time);
use NosqlTest;

my $node = nosql_node('kv_recipes');
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');

# start psql running one statement in the background
sub background
{
	my @sql = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr('postgres'), map { ('-c', $_) } @sql ],
		'>', \$out, '2>', \$err);
	return { h => $h, out => \$out, err => \$err };
}

# wait (at most $secs) until the query returns 't'
sub wait_until
{
	my ($query, $secs, $what) = @_;
	my $deadline = time() + $secs;
	while (time() < $deadline)
	{
		return 1 if $node->safe_psql('postgres', $query) eq 't';
		usleep(20_000);
	}
	fail("timed out waiting for $what");
	return 0;
}

# finish a background psql within $secs; its output and the seconds it took
sub finish_within
{
	my ($bg, $secs) = @_;
	my $start = time();
	while ($bg->{h}->pumpable && time() - $start < $secs)
	{
		$bg->{h}->pump_nb;
		usleep(5_000);
	}
	if ($bg->{h}->pumpable)
	{
		$bg->{h}->kill_kill;
		return (undef, time() - $start);
	}
	$bg->{h}->finish;
	return (${ $bg->{out} }, time() - $start);
}

# ---- a lock: the waiter blocks until the holder unlocks ----
my ($a_key, $a_rev) = split /\|/, $node->safe_psql('postgres', "CALL nosql.lock('m')");
like($a_key, qr{^m/x[0-9a-f]{32}$}, 'the holder has its key under the name');
my $b = background("CALL nosql.lock('m', timeout_ms => 30000)");
wait_until(q{SELECT count(*) = 2 FROM nosql.kv_prefix('m/')}, 10, 'the waiter to queue');
usleep(300_000);
ok($b->{h}->pumpable, 'the waiter still waits while the lock is held');
$b->{h}->pump_nb;
my $t0 = time();
is($node->safe_psql('postgres', "SELECT nosql.unlock('$a_key')"), 't', 'unlock');
my ($b_out, $b_secs) = finish_within($b, 10);
ok(defined $b_out, 'the waiter got the lock after the unlock');
my ($b_key, $b_rev) = split /\|/, ($b_out // '|');
chomp $b_rev if defined $b_rev;
cmp_ok($b_rev, '>', $a_rev, "fencing tokens grow ($a_rev, then $b_rev)");
cmp_ok(time() - $t0, '<', 2, 'the waiter was woken at once (' . sprintf('%.3f', time() - $t0) . ' s)');
is($node->safe_psql('postgres', q{SELECT key FROM nosql.leader('m')}), $b_key,
	'the holder is the key with the lowest create revision');

# three waiters get the lock in the order they queued
$node->safe_psql('postgres', 'CREATE SEQUENCE order_seq');
my @w;
for my $i (1 .. 3)
{
	push @w, background("CALL nosql.lock('m', timeout_ms => 30000)",
		"SELECT nosql.kv_put('order/' || nextval('order_seq'), '$i')");
	wait_until(qq{SELECT count(*) = @{[ 1 + $i ]} FROM nosql.kv_prefix('m/')}, 10, "waiter $i to queue");
}
# release the lock holder by holder; each waiter marks its turn
for my $round (1 .. 3)
{
	my $holder = $node->safe_psql('postgres', q{SELECT key FROM nosql.leader('m')});
	$node->safe_psql('postgres', "SELECT nosql.unlock('$holder')");
	wait_until(qq{SELECT count(*) = $round FROM nosql.kv_prefix('order/')}, 10, "waiter $round to run");
}
finish_within($_, 10) for @w;
is($node->safe_psql('postgres',
		q{SELECT string_agg(convert_from(value, 'UTF8'), ',' ORDER BY mod_revision) FROM nosql.kv_prefix('order/')}),
	'1,2,3', 'waiters got the lock in queue order');

# ---- a lock held by a lease: its expiry hands the lock over ----
my $lease = $node->safe_psql('postgres', 'SELECT nosql.lease_grant(2)');
my ($c_key, $c_rev) = split /\|/, $node->safe_psql('postgres', "CALL nosql.lock('l', $lease)");
is($c_key, sprintf('l/%x', $lease), "a lock with a lease is <name>/<lease in hex>");
my $d = background("CALL nosql.lock('l', timeout_ms => 30000)");
wait_until(q{SELECT count(*) = 2 FROM nosql.kv_prefix('l/')}, 10, 'the waiter to queue');
my ($d_out, $d_secs) = finish_within($d, 10);
ok(defined $d_out, 'the lease expired and the waiter got the lock');
cmp_ok($d_secs, '<', 4, sprintf('within the lease TTL and the expiry delay (%.2f s)', $d_secs));
my (undef, $d_rev) = split /\|/, ($d_out // '|');
chomp $d_rev if defined $d_rev;
cmp_ok($d_rev, '>', $c_rev, 'the new holder has a larger fencing token');

# ---- an election: the next candidate wins when the leader resigns ----
my ($e_key, $e_rev) = split /\|/, $node->safe_psql('postgres', "CALL nosql.campaign('e', 'n1')");
my $f = background("CALL nosql.campaign('e', 'n2', timeout_ms => 30000)");
wait_until(q{SELECT count(*) = 2 FROM nosql.kv_prefix('e/')}, 10, 'the candidate to queue');
my $leader_rev = $node->safe_psql('postgres', q{SELECT mod_revision FROM nosql.leader('e')});
my $g = background("SELECT convert_from(value, 'UTF8') FROM nosql.observe('e', $leader_rev, 20000)");
usleep(300_000);
ok($f->{h}->pumpable && $g->{h}->pumpable, 'the candidate and the observer wait');
is($node->safe_psql('postgres', "SELECT nosql.resign('$e_key', $e_rev)"), 't', 'the leader resigns');
my ($f_out) = finish_within($f, 10);
ok(defined $f_out, 'the second candidate is elected');
my ($g_out) = finish_within($g, 10);
chomp $g_out if defined $g_out;
is($g_out, 'n2', 'observe returns the new leader');
is($node->safe_psql('postgres', q{SELECT convert_from(value, 'UTF8') FROM nosql.leader('e')}), 'n2',
	'leader() names the new leader');

$node->stop;
done_testing();
