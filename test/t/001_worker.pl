# The background workers: the launcher starts with the server, starts a
# worker in each database that has the extension, survives a configuration
# reload, is restarted after being killed, releases a database that is being
# dropped and exits when the postmaster dies.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NosqlTest;

my $node = nosql_node('worker', extra_conf => 'restart_after_crash = on');

my $launcher_q =
  "SELECT pid FROM pg_stat_activity WHERE backend_type = 'nosql launcher'";
my $worker_q = sub {
	my $db = shift;
	return "SELECT count(*) FROM pg_stat_activity "
	  . "WHERE backend_type = 'nosql worker' AND datname = '$db'";
};

# The launcher runs as soon as the server is up.
my $pid = wait_for_value($node, 'postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'nosql launcher'",
	'1');
is($pid, '1', 'launcher runs');
my $launcher = $node->safe_psql('postgres', $launcher_q);

# No worker stays in a database without the extension.
$node->safe_psql('postgres', 'CREATE DATABASE plain');
sleep 2;    # two launcher rounds at nosql.worker_naptime = 1s
is($node->safe_psql('postgres', $worker_q->('plain')),
	'0', 'no worker in a database without the extension');

# CREATE EXTENSION wakes the launcher; the worker starts well within a naptime.
$node->safe_psql('postgres', 'CREATE DATABASE app');
$node->safe_psql('app', 'CREATE EXTENSION nosql');
is(wait_for_value($node, 'postgres', $worker_q->('app'), '1', 30),
	'1', 'worker started in the database with the extension');
ok(wait_for_log_line($node, qr/nosql worker started for database "app"/),
	'worker start is logged');

# A configuration reload keeps the same launcher.
$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
ok( $node->poll_query_until(
		'postgres', "SELECT true",
		't') && wait_for_log_line($node, qr/nosql launcher reloaded its configuration/),
	'launcher reloads its configuration on SIGHUP');
is($node->safe_psql('postgres', $launcher_q), $launcher, 'launcher survives SIGHUP');

# SIGTERM: the launcher exits and the postmaster starts a new one.
kill 'TERM', $launcher;
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'nosql launcher' AND pid <> $launcher"
	),
	'launcher restarted after SIGTERM');
$launcher = $node->safe_psql('postgres', $launcher_q);

# SIGKILL: the postmaster resets all backends; launcher and worker return.
kill 'KILL', $launcher;
ok( $node->poll_query_until(
		'postgres',
		"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'nosql launcher' AND pid <> $launcher"
	),
	'launcher back after SIGKILL and crash recovery');
is(wait_for_value($node, 'postgres', $worker_q->('app'), '1', 60),
	'1', 'worker back after crash recovery');

# A database with a worker can still be renamed, used as a template and dropped.
$node->safe_psql('postgres', 'ALTER DATABASE app RENAME TO app2');
$node->safe_psql('postgres', 'CREATE DATABASE app3 TEMPLATE app2');
$node->safe_psql('postgres', 'DROP DATABASE app2');
pass('database with a worker renamed, copied and dropped');

# The worker leaves when the extension is dropped.
is(wait_for_value($node, 'postgres', $worker_q->('app3'), '1', 60),
	'1', 'worker runs in the copied database');
$node->safe_psql('app3', 'DROP EXTENSION nosql');
is(wait_for_value($node, 'postgres', $worker_q->('app3'), '0', 30),
	'0', 'worker exits when the extension is dropped');

# Postmaster death: the launcher exits by itself.
$launcher = $node->safe_psql('postgres', $launcher_q);
$node->kill9;
my $gone = 0;
for (1 .. 100)
{
	if (!kill(0, $launcher)) { $gone = 1; last; }
	select(undef, undef, undef, 0.1);
}
ok($gone, 'launcher exits on postmaster death');
$node->stop('immediate', fail_ok => 1);

done_testing();

# Wait up to the default timeout for a line in the server log.
sub wait_for_log_line
{
	my ($node, $re) = @_;
	for (1 .. $PostgreSQL::Test::Utils::timeout_default * 10)
	{
		return 1 if $node->log_contains($re);
		select(undef, undef, undef, 0.1);
	}
	return 0;
}
