# The key-value apply loop (src/kv_apply.c): puts that are whole statements
# outside a transaction block, made while another writer holds the writers'
# lock, are applied by the database's apply worker in one transaction.
#
# - a contended put with no worker running starts one and waits for the
#   lock itself; the next ones queue for the worker (wait event Extension),
#   while a put in a transaction block or not alone in its statement waits
#   for the lock as before (wait event Lock);
# - a queued put that is cancelled stops at once and writes nothing; a
#   queued put with a lease that does not exist fails alone with the
#   ordinary path's error while the others of its batch are applied;
# - 16 clients x 300 eligible puts (fsync on): the history is gap-free,
#   every key's versions are 1..n in revision order, and the worker
#   applied puts in batches;
# - DROP DATABASE is not held up by the database's apply worker.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep time);
use NosqlTest;

my $node = nosql_node('kv_apply', extra_conf => "fsync = on\nsynchronous_commit = on");
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');

# psql running statements in the background as application $app of $db
sub background
{
	my ($db, $app, @sql) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr($db) . " application_name=$app",
		  map { ('-c', $_) } @sql ],
		'>', \$out, '2>', \$err);
	return { h => $h, out => \$out, err => \$err };
}

# the session holding the writers' lock, fed as the test goes
my $holder;

# wait (at most $secs) until the query returns 't'
sub wait_until
{
	my ($db, $query, $secs, $what) = @_;
	my $deadline = time() + $secs;
	while (time() < $deadline)
	{
		$holder->{h}->pump_nb if $holder && $holder->{h}->pumpable;
		return 1 if $node->safe_psql($db, $query) eq 't';
		usleep(20_000);
	}
	fail("timed out waiting for $what");
	return 0;
}

sub finish
{
	my ($bg) = @_;
	$bg->{h}->finish;
	chomp(my $out = ${ $bg->{out} });
	return ($out, ${ $bg->{err} });
}

# a session that holds the writers' lock until told to commit
sub hold_lock
{
	my ($db) = @_;
	my $in = "BEGIN;\nSELECT nosql.kv_put('hold', '1');\n";
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-XAtq', '-d', $node->connstr($db) . ' application_name=holder' ],
		'<', \$in, '>', \$out, '2>', \$err);
	$holder = { h => $h, in => \$in, out => \$out, err => \$err };
	wait_until($db,
		q{SELECT count(*) = 1 FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		  WHERE c.relname = 'kv_revision' AND l.granted AND l.mode = 'ExclusiveLock'},
		30, 'the holder to take the writers\' lock');
	return $holder;
}

sub release_lock
{
	${ $holder->{in} } .= "COMMIT;\n\\q\n";
	$holder->{h}->finish;
	$holder = undef;
}

sub waiting
{
	my ($db, $type, @apps) = @_;
	my $list = join(', ', map { "'$_'" } @apps);
	return wait_until($db,
		"SELECT count(*) = " . scalar(@apps) . " FROM pg_stat_activity
		 WHERE application_name IN ($list) AND wait_event_type = '$type'",
		30, "@apps to wait on $type");
}

# ---- queueing, cancellation, a failing request, eligibility ----
my $rev0 = $node->safe_psql('postgres', 'SELECT nosql.kv_current_revision()');
hold_lock('postgres');

my $b = background('postgres', 'b', "SELECT nosql.kv_put('b', '1')");
waiting('postgres', 'Lock', 'b');
wait_until('postgres', 'SELECT count(*) = 1 FROM nosql.kv_apply_stats()', 30,
	'the apply worker to start');

my $c = background('postgres', 'c', "SELECT nosql.kv_put('c', '1')");
my $d = background('postgres', 'd', "SELECT nosql.kv_put('d', '1')");
my $e = background('postgres', 'e', "SELECT nosql.kv_put('e', '1', 424242)");
waiting('postgres', 'Extension', 'c', 'd', 'e');

my $f = background('postgres', 'f', 'BEGIN', "SELECT nosql.kv_put('f', '1')", 'COMMIT');
my $g = background('postgres', 'g', "SELECT nosql.kv_put('g', '1'), 1");
ok(waiting('postgres', 'Lock', 'f', 'g'),
	'a put in a transaction block or not alone in its statement waits for the lock itself');

$node->safe_psql('postgres',
	q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'd'});
my $start = time();
$d->{h}->pump_nb while $d->{h}->pumpable && time() - $start < 10;
ok(!$d->{h}->pumpable, 'a queued put that is cancelled stops while the lock is still held');
my (undef, $derr) = finish($d);
like($derr, qr/canceling statement due to user request/, 'the cancelled put reports the cancel');

release_lock();
my ($bout) = finish($b);
my ($cout, $cerr) = finish($c);
my ($eout, $eerr) = finish($e);
my ($fout) = finish($f);
my ($gout) = finish($g);
like($cout, qr/^\d+$/, 'the queued put returns its revision') or diag($cerr);
like($eerr, qr/lease 424242 not found/, 'a queued put with a missing lease fails alone');
is($node->safe_psql('postgres',
		q{SELECT string_agg(key, ',' ORDER BY key) FROM nosql.kv_range('', '')}),
	'b,c,f,g,hold', 'the cancelled and the failed puts wrote nothing');
is($node->safe_psql('postgres',
		"SELECT mod_revision FROM nosql.kv_get('c')"), $cout,
	'the queued put\'s revision is the one stored');
is($node->safe_psql('postgres',
		"SELECT count(*) = 5 AND count(DISTINCT mod_revision) = 5 AND min(mod_revision) = $rev0 + 1
		   AND max(mod_revision) = $rev0 + 5 FROM nosql.kv_history"),
	't', 'revisions stay gap-free through the apply worker');
ok($node->safe_psql('postgres', 'SELECT sum(applied) >= 1 FROM nosql.kv_apply_stats()') eq 't',
	'the worker applied the queued put');

# ---- many clients ----
$node->safe_psql('postgres',
	'TRUNCATE nosql.kv_history, nosql.kv_revision, nosql.kv_compaction');
my $before = $node->safe_psql('postgres',
	'SELECT coalesce(sum(applied), 0) || \'|\' || coalesce(sum(batches), 0) FROM nosql.kv_apply_stats()');
$node->pgbench(
	'--no-vacuum --client=16 --jobs=4 --transactions=300 --protocol=prepared',
	0, [qr{processed: 4800/}], [qr{^$}],
	'16 clients x 300 puts that are whole statements',
	{
		'001_apply' => q{\set k random(1, 50)
SELECT nosql.kv_put(:k, 'value');}
	});
is($node->safe_psql('postgres',
		q{SELECT count(*) || '|' || count(DISTINCT mod_revision) || '|' || min(mod_revision) || '|' || max(mod_revision) FROM nosql.kv_history}),
	'4800|4800|2|4801', 'the history is revisions 2..4801 once each');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM (SELECT version, row_number() OVER (PARTITION BY key ORDER BY mod_revision) AS n,
		         create_revision, first_value(mod_revision) OVER (PARTITION BY key ORDER BY mod_revision) AS first
		    FROM nosql.kv_history) v WHERE version <> n OR create_revision <> first}),
	'0', 'every key\'s versions are 1..n in revision order');
my ($applied, $batches) = split /\|/, $node->safe_psql('postgres',
	'SELECT coalesce(sum(applied), 0) || \'|\' || coalesce(sum(batches), 0) FROM nosql.kv_apply_stats()');
my ($applied0, $batches0) = split /\|/, $before;
note('the apply worker applied ' . ($applied - $applied0) . ' puts in '
	  . ($batches - $batches0) . ' transactions');
ok($applied - $applied0 > $batches - $batches0,
	'the worker applied several puts per transaction');

# ---- DROP DATABASE ----
$node->safe_psql('postgres', 'CREATE DATABASE other');
$node->safe_psql('other', 'CREATE EXTENSION nosql');
my $oid = $node->safe_psql('postgres', q{SELECT oid FROM pg_database WHERE datname = 'other'});
hold_lock('other');
my $o1 = background('other', 'o1', "SELECT nosql.kv_put('o1', '1')");
wait_until('other', "SELECT count(*) = 1 FROM nosql.kv_apply_stats() WHERE database = $oid", 30,
	'the apply worker of the other database to start');
release_lock();
finish($o1);
is($node->safe_psql('other', "SELECT count(*) FROM nosql.kv_apply_stats() WHERE database = $oid"),
	'1', 'the other database has an apply worker');
my ($rc, $dout, $derr2) = $node->psql('postgres', 'DROP DATABASE other');
is($rc, 0, 'DROP DATABASE is not held up by the apply worker') or diag($derr2);

$node->stop;
done_testing();
