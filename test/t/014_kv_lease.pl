# Key-value leases and the background worker: an expired lease is revoked
# within 500 ms of its deadline, its keys deleted at one revision (measured
# from the commit time of the tombstones), also when the worker was asleep
# until a later deadline or its naptime; keepalives postpone the expiry; the
# worker does not spin while an expired lease is held by a transaction; a
# put and a concurrent revoke never leave a key attached to a dead lease; a
# restart gives every lease its full TTL again, as etcd does.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use NosqlTest;

# With a naptime of a minute, only the lease deadlines (and the wake-ups of
# grants) can make the worker revoke in time.
my $node = nosql_node('kv_lease',
	extra_conf => "track_commit_timestamp = on\nnosql.worker_naptime = 60s");
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');
my $worker_q =
  "SELECT pid FROM pg_stat_activity WHERE backend_type = 'nosql worker' AND datname = 'postgres'";
is(wait_for_value($node, 'postgres', "SELECT count(*) FROM ($worker_q) w", '1', 30),
	'1', 'the worker runs');
# once idle, it has been through a round of its loop and sleeps for a naptime
is(wait_for_value($node, 'postgres',
	"SELECT state FROM pg_stat_activity WHERE pid = ($worker_q)", 'idle', 30),
	'idle', 'the worker sleeps');

my $max_delay = 0.5;

# Wait (at most $timeout s) until lease $id is gone; true if it went.
sub wait_lease_gone
{
	my ($id, $timeout) = @_;
	my $deadline = time + $timeout;
	while (time < $deadline)
	{
		return 1
		  if $node->safe_psql('postgres', "SELECT count(*) FROM nosql.kv_lease WHERE id = $id") eq '0';
		usleep(50_000);
	}
	return 0;
}

# The revision of the tombstones of the keys under $prefix, how many keys
# there are, their subs, and the seconds between $deadline (a timestamptz
# literal) and the commit of the tombstones.
sub tombstones
{
	my ($prefix, $deadline) = @_;
	return split /\|/, $node->safe_psql('postgres', qq{
		SELECT count(DISTINCT mod_revision), count(*), string_agg(sub::text, ',' ORDER BY sub),
		       extract(epoch FROM max(pg_xact_commit_timestamp(xmin)) - '$deadline'::timestamptz)
		FROM nosql.kv_history WHERE deleted AND key LIKE '$prefix%'});
}

# CPU seconds used so far by process $pid
sub cpu_seconds
{
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/stat" or return undef;
	my $stat = <$fh>;
	close $fh;
	$stat =~ s/^.*\)\s+//;
	my @f = split /\s+/, $stat;
	# utime and stime are fields 14 and 15 of the line, 12 and 13 here
	return ($f[11] + $f[12]) / 100.0;
}

# Whether an expiry delay measured by tombstones() is one within limits
sub in_time
{
	my ($delay, $what) = @_;
	diag(sprintf("expiry delay $what: %.1f ms", $delay * 1000)) if $delay ne '';
	ok($delay ne '' && $delay >= 0 && $delay < $max_delay, "deleted within 500 ms of the deadline $what")
	  or diag("delay was '$delay' s");
}

# ---- expiry: a 2 s lease with three keys, granted while the worker
# sleeps until its naptime (a minute)
$node->safe_psql('postgres', q{
	SELECT nosql.lease_grant(2, 101);
	SELECT nosql.kv_put('a/1', 'x', 101), nosql.kv_put('a/2', 'x', 101),
	       nosql.kv_put('a/3', 'x', 101), nosql.kv_put('a/other', 'x')});
my $deadline = $node->safe_psql('postgres', 'SELECT expires_at FROM nosql.kv_lease WHERE id = 101');
my $before = $node->safe_psql('postgres', 'SELECT nosql.kv_current_revision()');
ok(wait_lease_gone(101, 10), 'the worker revoked the expired lease')
  or diag('lease 101 still there 10 s after its grant');
my ($revisions, $keys, $subs, $delay) = tombstones('a/', $deadline);
is($keys, 3, 'its three keys are deleted');
is($revisions, 1, 'at one revision');
is($subs, '0,1,2', 'numbered as one request');
is($node->safe_psql('postgres', 'SELECT nosql.kv_current_revision()'), $before + 1,
	'the revoke is one new revision');
is($node->safe_psql('postgres', q{SELECT string_agg(key, ',') FROM nosql.kv_prefix('a/')}),
	'a/other', 'the key without the lease stays');
in_time($delay, '(worker asleep for its naptime)');

# ---- a short lease granted while the worker sleeps to a later deadline
$node->safe_psql('postgres', 'SELECT nosql.lease_grant(60, 102)');
usleep(200_000);    # the worker now sleeps until lease 102's deadline
$node->safe_psql('postgres', q{
	SELECT nosql.lease_grant(2, 103);
	SELECT nosql.kv_put('b/1', 'x', 103), nosql.kv_put('b/2', 'x', 103)});
$deadline = $node->safe_psql('postgres', 'SELECT expires_at FROM nosql.kv_lease WHERE id = 103');
ok(wait_lease_gone(103, 10), 'the earlier lease expired first');
($revisions, $keys, $subs, $delay) = tombstones('b/', $deadline);
is("$revisions|$keys", '1|2', 'its keys deleted at one revision');
in_time($delay, '(worker asleep until a later deadline)');
is($node->safe_psql('postgres', 'SELECT count(*) FROM nosql.kv_lease WHERE id = 102'), '1',
	'the later lease is still there');

# ---- keepalive postpones the expiry
$node->safe_psql('postgres', q{
	SELECT nosql.lease_grant(2, 104);
	SELECT nosql.kv_put('c/1', 'x', 104)});
my $first_deadline = $node->safe_psql('postgres', 'SELECT extract(epoch FROM expires_at) FROM nosql.kv_lease WHERE id = 104');
my $last;
for my $i (1 .. 4)
{
	usleep(1_000_000);
	$last = $node->safe_psql('postgres',
		'SELECT nosql.lease_keepalive(104); SELECT expires_at FROM nosql.kv_lease WHERE id = 104');
}
my ($ttl, $kept_deadline) = split /\n/, $last;
is($ttl, '2', 'keepalive returns the granted TTL');
my $now = $node->safe_psql('postgres', 'SELECT extract(epoch FROM clock_timestamp())');
ok($now > $first_deadline + 1, 'well past the first deadline');
is($node->safe_psql('postgres', q{SELECT count(*) FROM nosql.kv_get('c/1') WHERE lease = 104}), '1',
	'the key of the kept lease stays');
ok(wait_lease_gone(104, 10), 'without keepalives the lease expires');
($revisions, $keys, $subs, $delay) = tombstones('c/', $kept_deadline);
is($keys, 1, 'and its key is deleted');
in_time($delay, '(after keepalives)');

# ---- the worker sleeps while an expired lease is held by a transaction
my $worker = $node->safe_psql('postgres', $worker_q);
my $holder = $node->background_psql('postgres');
$node->safe_psql('postgres', 'SELECT nosql.lease_grant(2, 105)');
$holder->query_safe('BEGIN');
$holder->query_safe('SELECT id FROM nosql.kv_lease WHERE id = 105 FOR UPDATE');
usleep(2_500_000);    # the deadline passes while the row is held
my $cpu = cpu_seconds($worker);
usleep(2_000_000);
$cpu = cpu_seconds($worker) - $cpu;
diag(sprintf('worker CPU while an expired lease is held: %.2f s in 2 s', $cpu));
ok($cpu < 0.3, 'the worker does not spin');
is($node->safe_psql('postgres', 'SELECT count(*) FROM nosql.kv_lease WHERE id = 105'), '1',
	'the held lease is not revoked yet');
$holder->query_safe('COMMIT');
ok(wait_lease_gone(105, 5), 'revoked once released');
$holder->quit;

# ---- a put and a revoke of its lease never cross
$node->safe_psql('postgres', q{
	SELECT nosql.lease_grant(3600, 106), nosql.lease_grant(3600, 107);
	CREATE FUNCTION try_put(k text, l bigint) RETURNS text LANGUAGE plpgsql AS $$
	BEGIN
		PERFORM nosql.kv_put(k, 'v', l);
		RETURN 'put';
	EXCEPTION WHEN undefined_object THEN
		RETURN 'lease not found';
	WHEN serialization_failure THEN
		RETURN 'serialization failure';
	END $$});
my $a = $node->background_psql('postgres');
my $b = $node->background_psql('postgres');
sub wait_for_lock
{
	my $waiting = wait_for_value($node, 'postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'}, '1', 30);
	is($waiting, '1', $_[0]);
}
# the revoke first: the put waits for it, then finds the lease gone
$a->query_safe('BEGIN');
$a->query_safe('SELECT nosql.lease_revoke(106)');
$b->query_until(qr/started/, "\\echo started\nSELECT try_put('d/1', 106);\n");
wait_for_lock('the put waits for the revoke');
$a->query_safe('COMMIT');
like($b->query_safe("SELECT 'done'"), qr/lease not found/, 'then fails: lease not found');
is($node->safe_psql('postgres', q{SELECT nosql.kv_get('d/1') IS NULL}), 't', 'no key written');
# the put first: the revoke waits for it, then deletes the key
$a->query_safe('BEGIN');
is($a->query_safe(q{SELECT try_put('d/2', 107)}), 'put', "a put holds the writers' lock");
$b->query_until(qr/started/, "\\echo started\nSELECT nosql.lease_revoke(107);\n");
wait_for_lock('the revoke waits for the put');
$a->query_safe('COMMIT');
like($b->query_safe("SELECT 'done'"), qr/^1\n/, 'then deletes the key put');
is($node->safe_psql('postgres', q{SELECT nosql.kv_get('d/2') IS NULL}), 't',
	'no key is left attached to the revoked lease');
is($node->safe_psql('postgres', q{SELECT count(*) FROM nosql.kv_history h WHERE lease = 107
	AND NOT EXISTS (SELECT FROM nosql.kv_history n WHERE n.key = h.key AND n.mod_revision > h.mod_revision)}),
	'0', 'no version with the dead lease is the latest of its key');
# in REPEATABLE READ, a snapshot from before the revoke cannot attach
$node->safe_psql('postgres', 'SELECT nosql.lease_grant(3600, 109)');
$a->query_safe('BEGIN ISOLATION LEVEL REPEATABLE READ');
$a->query_safe('SELECT count(*) FROM nosql.kv_lease');
$node->safe_psql('postgres', 'SELECT nosql.lease_revoke(109)');
is($a->query_safe(q{SELECT try_put('d/3', 109)}), 'serialization failure',
	'a put from a snapshot older than the revoke fails to serialize');
$a->query_safe('ROLLBACK');
$a->quit;
$b->quit;

# ---- restart: every lease gets its full TTL again, as when etcd starts;
# a deadline passed while the server was down does not revoke the lease
$node->safe_psql('postgres', q{
	SELECT nosql.lease_grant(3600, 108);
	SELECT nosql.kv_put('e/1', 'x', 108);
	UPDATE nosql.kv_lease SET expires_at = clock_timestamp() + interval '1 s' WHERE id = 108});
$node->stop;
usleep(1_500_000);    # the deadline passes while the server is down
$node->start;
is(wait_for_value($node, 'postgres', 'SELECT ttl > 3500 FROM nosql.lease_ttl(108)', 't', 30),
	't', 'after the restart the lease has its full TTL again');
is($node->safe_psql('postgres', q{SELECT count(*) FROM nosql.kv_get('e/1') WHERE lease = 108}), '1',
	'and its key is still there');

$node->stop;
done_testing();
