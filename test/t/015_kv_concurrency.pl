# Concurrent writers of the key-value store, and watchers: revisions stay
# gap-free and in commit order, and a watcher sees every event once, in
# order.
#
# - the first-writer race: 8 clients make the very first writes of a fresh
#   store (the counter row does not exist yet): revisions are gap-free;
# - 8 clients x 1,000 kv_put (pgbench, fsync on: the group-commit path),
#   with rolled back kv_puts in the mix, while 2 watchers (one from revision
#   1, one from "the next revision") consume with blocking kv_watch, each
#   continuing from the last revision it saw + 1: the history is revisions
#   2..8001 once each, every watcher saw exactly those events in revision
#   order with the history's keys, values and versions, every key's
#   versions are 1..n in revision order, and no rolled back put shows.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);
use NosqlTest;

my $node = nosql_node('kv_concurrency', extra_conf => "fsync = on\nsynchronous_commit = on");
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');

my $clients = 8;
my $per_client = 1000;
my $total = $clients * $per_client;

sub fresh_store
{
	$node->safe_psql('postgres',
		'TRUNCATE nosql.kv_history, nosql.kv_revision, nosql.kv_compaction');
}

# revisions of the history: "count|distinct|min|max" of the puts
sub history_revisions
{
	return $node->safe_psql('postgres',
		q{SELECT count(*) || '|' || count(DISTINCT mod_revision) || '|' || min(mod_revision) || '|' || max(mod_revision) FROM nosql.kv_history});
}

# ---- the first-writer race ----
for my $round (1 .. 5)
{
	fresh_store();
	$node->pgbench(
		"--no-vacuum --client=$clients --jobs=$clients --transactions=5",
		0, [qr{processed: @{[ $clients * 5 ]}/}], [qr{^$}],
		"first writes of a fresh store, round $round",
		{
			"001_first_$round" => q{SELECT nosql.kv_put('race/' || :client_id, 'x');}
		});
	is(history_revisions(), join('|', $clients * 5, $clients * 5, 2, $clients * 5 + 1),
		"round $round: revisions 2..41 once each");
	is($node->safe_psql('postgres', 'SELECT nosql.kv_current_revision()'), $clients * 5 + 1,
		"round $round: the counter is at the last revision");
}

# ---- 8 writers and 2 blocking watchers ----
fresh_store();
$node->safe_psql('postgres', q{
	CREATE TABLE seen (watcher int, n int, revision bigint, type text, key text,
	                   value bytea, version bigint, PRIMARY KEY (watcher, n));
	-- consume every event of the store with blocking watches until $3 are
	-- seen (or 5 minutes pass), each from the last revision seen + 1
	CREATE PROCEDURE watcher(w int, first_start bigint, total int) LANGUAGE plpgsql AS $$
	DECLARE
		start bigint := first_start;
		count int := 0;
		got int;
		deadline timestamptz := clock_timestamp() + interval '300 s';
	BEGIN
		LOOP
			INSERT INTO seen
			SELECT w, count + e.i, e.revision, e.type, e.key, e.value, e.version
			FROM nosql.kv_watch('', '', start, max_wait_ms => 5000) WITH ORDINALITY
			     AS e(revision, type, key, value, create_revision, mod_revision, version, lease, prev_value, i);
			GET DIAGNOSTICS got = ROW_COUNT;
			IF got > 0 THEN
				count := count + got;
				SELECT s.revision + 1 INTO start FROM seen s WHERE s.watcher = w AND s.n = count;
			END IF;
			COMMIT;
			EXIT WHEN count >= total OR clock_timestamp() > deadline;
		END LOOP;
	END $$;});

my $connstr = $node->connstr('postgres');
my @watchers;
# watcher 1 from revision 1 (the whole history), watcher 2 from 0 (the next
# revision): it must be waiting before the first write
for my $w ([ 1, 1 ], [ 2, 0 ])
{
	my ($out, $err) = ('', '');
	push @watchers, IPC::Run::start(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $connstr,
		  '-c', "CALL watcher($w->[0], $w->[1], $total)" ],
		'>', \$out, '2>', \$err);
}
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 2 FROM pg_stat_activity WHERE wait_event_type = 'Extension' AND query LIKE 'CALL watcher%'}),
	'both watchers wait in kv_watch before the first write');

$node->pgbench(
	"--no-vacuum --client=$clients --jobs=$clients --transactions=$per_client",
	0, [qr{processed: $total/}], [qr{^$}],
	"$clients clients x $per_client kv_put, some rolled back puts among them",
	{
		'002_put' => q{
\set k random(1, 50)
\set r random(1, 40)
\if :r = 1
BEGIN;
SELECT nosql.kv_put('aborted/' || :client_id, 'never');
ROLLBACK;
\endif
SELECT nosql.kv_put('key/' || :k, :client_id || '-' || :k);
}
	});

for my $h (@watchers)
{
	ok($h->finish, 'a watcher finished');
}

is(history_revisions(), join('|', $total, $total, 2, $total + 1),
	"the history holds revisions 2..@{[ $total + 1 ]}, once each");
is($node->safe_psql('postgres', 'SELECT nosql.kv_current_revision()'), $total + 1,
	'the counter is at the last revision');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (
		SELECT version, row_number() OVER (PARTITION BY key ORDER BY mod_revision) AS rn
		FROM nosql.kv_history) v
	WHERE version <> rn}),
	'0', "every key's versions are 1..n in revision order");
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM nosql.kv_history WHERE key LIKE 'aborted/%'}),
	'0', 'no rolled back put is in the history');

for my $w (1, 2)
{
	is($node->safe_psql('postgres', qq{
		SELECT count(*) || '|' || count(DISTINCT revision) || '|' ||
		       bool_and(revision = n + 1)::int FROM seen WHERE watcher = $w}),
		"$total|$total|1",
		"watcher $w saw revisions 2..@{[ $total + 1 ]} once each, in revision order");
	is($node->safe_psql('postgres', qq{
		SELECT count(*) FROM seen s JOIN nosql.kv_history h ON h.mod_revision = s.revision
		WHERE s.watcher = $w AND s.type = 'PUT' AND s.key = h.key
		  AND s.value = h.value AND s.version = h.version}),
		$total, "watcher $w saw the history's keys, values and versions");
	is($node->safe_psql('postgres',
			qq{SELECT count(*) FROM seen WHERE watcher = $w AND key LIKE 'aborted/%'}),
		'0', "watcher $w saw no rolled back put");
}

# wake-up: a watcher blocked on nothing returns the event of a put made
# while it waits
sub blocked_watch
{
	my ($n, $key) = @_;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-qAt', '-d', $n->connstr('postgres'),
		  '-c', "SELECT revision || '|' || convert_from(value, 'UTF8') FROM nosql.kv_watch('$key', max_wait_ms => 60000)" ],
		'>', \$out, '2>', \$err);
	$n->poll_query_until('postgres',
		qq{SELECT count(*) = 1 FROM pg_stat_activity WHERE query LIKE '%kv_watch(''$key''%' AND state = 'active' AND pid <> pg_backend_pid()})
	  or die 'the watcher did not start';
	usleep(200_000);
	my $rev = $n->safe_psql('postgres', "SELECT nosql.kv_put('$key', 'woken')");
	$h->finish;
	return ($out, $rev);
}

my ($seen, $rev) = blocked_watch($node, 'wake/1');
is($seen, "$rev|woken\n", 'a blocked watcher returns the put made while it waits');
$node->stop;

# Without shared_preload_libraries there is no condition variable: a
# blocking watch polls, and still returns the event, or nothing after the
# time.
my $plain = nosql_node('kv_not_preloaded', extra_conf => "shared_preload_libraries = ''");
$plain->safe_psql('postgres', 'CREATE EXTENSION nosql');
($seen, $rev) = blocked_watch($plain, 'wake/2');
is($seen, "$rev|woken\n", 'not preloaded: a blocked watcher returns the put made while it waits');
is($plain->safe_psql('postgres', q{
	SELECT count(*) || '|' || (clock_timestamp() - now() >= interval '300 ms')
	FROM nosql.kv_watch('nothing', max_wait_ms => 300)}),
	'0|true', 'not preloaded: a watch with nothing returns no rows after the wait');
$plain->stop;
done_testing();
