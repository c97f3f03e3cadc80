# Time-series tables and the background worker: the worker (not a user's
# insert) makes the partitions ahead of time, moves backfilled rows out of
# the default partition, applies retention, and keeps the error of a
# table it cannot maintain; a streaming standby reads the same rows.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NosqlTest;

my $node = nosql_node('ts_worker', allows_streaming => 1,
	extra_conf => "nosql.worker_naptime = 200\ntimezone = 'UTC'");
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');
$node->safe_psql('postgres', q{
	CREATE ROLE ts_owner LOGIN;
	GRANT CREATE ON SCHEMA public TO ts_owner;
	SET ROLE ts_owner;
	CREATE TABLE public.m (time timestamptz NOT NULL, dev int, v float8);
	INSERT INTO public.m SELECT now() - i * interval '1 minute', i % 4, i FROM generate_series(0, 99) i;
	SELECT nosql.create_timeseries('public.m', 'time', '{dev}', '1 hour', drop_after => '30 days');
});
is($node->safe_psql('postgres', 'SELECT count(*) FROM public.m'), '100', 'rows kept by the conversion');

# the future partition, dropped by hand, is made again by the worker
my $next = $node->safe_psql('postgres', q{
	SELECT partition FROM nosql.timeseries_partition
	 WHERE relid = 'public.m'::regclass AND range_start > now() ORDER BY range_start DESC LIMIT 1});
ok($next ne '', "a partition ahead of time exists ($next)");
$node->safe_psql('postgres', "DROP TABLE $next");
is(wait_for_value($node, 'postgres',
		"SELECT count(*) FROM nosql.timeseries_partition WHERE relid = 'public.m'::regclass AND range_start > now()",
		'2', 30), '2', 'the worker makes the partitions ahead again');
is($node->safe_psql('postgres',
		"SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = (SELECT partition FROM nosql.timeseries_partition WHERE relid = 'public.m'::regclass ORDER BY range_start DESC LIMIT 1)"),
	'ts_owner', 'owned by the table\'s owner');

# backfill lands in the default partition; the worker moves it
$node->safe_psql('postgres', "INSERT INTO public.m VALUES (now() - interval '10 days', 9, 1), (now() + interval '3 days', 9, 2)");
is(wait_for_value($node, 'postgres',
		"SELECT count(*) FROM public.m WHERE tableoid = 'public.m_ts_default'::regclass", '0', 30),
	'0', 'the worker moves rows out of the default partition');
is($node->safe_psql('postgres', 'SELECT count(*) FROM public.m WHERE dev = 9'), '2', 'into partitions of their own');

# retention by the worker
$node->safe_psql('postgres', "INSERT INTO public.m VALUES (now() - interval '90 days', 8, 1)");
is(wait_for_value($node, 'postgres', 'SELECT count(*) FROM public.m WHERE dev = 8', '0', 30),
	'0', 'the worker drops partitions older than drop_after');
ok($node->safe_psql('postgres', "SELECT partitions_dropped >= 1 AND last_retention IS NOT NULL FROM nosql.timeseries") eq 't',
	'and records it');

# an error is kept, and the next rounds go on
$node->safe_psql('postgres', q{
	CREATE TABLE public.bad (time timestamptz NOT NULL);
	SELECT nosql.create_timeseries('public.bad', 'time', chunk_interval => '1 hour');
	REVOKE CREATE ON SCHEMA public FROM ts_owner;
	ALTER TABLE public.bad OWNER TO ts_owner;
	DROP TABLE public.bad_ts_default;
});
$node->safe_psql('postgres', "INSERT INTO public.bad VALUES (now())");
$node->safe_psql('postgres', q{
	DELETE FROM nosql.timeseries_partition WHERE relid = 'public.bad'::regclass AND range_start > now()});
my $err = wait_for_value($node, 'postgres',
	"SELECT last_error IS NOT NULL FROM nosql.timeseries WHERE relid = 'public.bad'::regclass", 't', 30);
is($err, 't', 'a table the worker cannot maintain keeps its error');
like($node->safe_psql('postgres', "SELECT last_error FROM nosql.timeseries WHERE relid = 'public.bad'::regclass"),
	qr/permission denied|already exists/, 'the error says why');

# a streaming standby reads the same rows
$node->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('ts_standby');
$standby->init_from_backup($node, 'b', has_streaming => 1);
$standby->start;
$node->safe_psql('postgres', "INSERT INTO public.m VALUES (now(), 1, 42)");
$node->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT count(*), sum(v) FROM public.m'),
	$node->safe_psql('postgres', 'SELECT count(*), sum(v) FROM public.m'), 'the standby reads the same rows');

$standby->stop;
$node->stop;
done_testing();
