# Rollups and the background worker: the worker refreshes a rollup by
# itself as its owner, folds in late writes made while it refreshes
# (concurrent writers never slip between a refresh's snapshot and its new
# watermark), and keeps the error of a refresh that fails until one
# succeeds.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NosqlTest;

my $node = nosql_node('ts_rollup',
	extra_conf => "nosql.worker_naptime = 200\ntimezone = 'UTC'");
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');
$node->safe_psql('postgres', q{
	CREATE ROLE ts_owner LOGIN;
	GRANT CREATE ON SCHEMA public TO ts_owner;
	SET ROLE ts_owner;
	CREATE TABLE public.m (time timestamptz NOT NULL, dev int, v int);
	INSERT INTO public.m SELECT now() - i * interval '1 minute', i % 4, i FROM generate_series(0, 299) i;
	SELECT nosql.create_timeseries('public.m', 'time', '{dev}', '1 hour');
	SELECT nosql.create_rollup('public.m', 'm_10min', '10 minutes',
	                           '{"count(*) AS n", "sum(v) AS total", "max(v) AS top"}', '{dev}',
	                           schedule => '100 milliseconds');
});

# the rows of a rollup (count, sum and max of v per bucket and dev) below
# its watermark that differ from the same GROUP BY computed from the raw
# rows: 0 when the rollup is right
sub diff
{
	my ($rollup, $width) = @_;
	return $node->safe_psql('postgres', qq{
	WITH w AS (SELECT watermark FROM nosql.timeseries_rollup WHERE rollup = '$rollup'::regclass),
	fresh AS (SELECT nosql.time_bucket('$width', time) AS bucket, dev, count(*) AS n, sum(v) AS total, max(v) AS top
	            FROM public.m, w WHERE time < w.watermark GROUP BY 1, 2),
	kept AS (SELECT r.* FROM $rollup r, w WHERE r.bucket < w.watermark)
	SELECT count(*) FROM ((SELECT * FROM fresh EXCEPT ALL SELECT * FROM kept)
	                      UNION ALL (SELECT * FROM kept EXCEPT ALL SELECT * FROM fresh)) d});
}

is(wait_for_value($node, 'postgres',
		"SELECT watermark IS NOT NULL AND last_run IS NOT NULL FROM nosql.timeseries_rollups", 't', 60),
	't', 'the worker refreshes the rollup by itself');
is($node->safe_psql('postgres', 'SELECT rows_written > 0 AND last_error IS NULL FROM nosql.timeseries_rollups'),
	't', 'and records the rows written');
is(diff('public.m_10min', '10 minutes'), '0', 'the rollup equals the GROUP BY over the raw rows');
is($node->safe_psql('postgres', "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'public.m_10min'::regclass"),
	'ts_owner', 'the rollup belongs to its creator');

# late data, by another role: folded in by the worker
$node->safe_psql('postgres', q{
	CREATE ROLE ts_writer LOGIN;
	GRANT INSERT, UPDATE, DELETE, SELECT ON public.m TO ts_writer;
	SET ROLE ts_writer;
	INSERT INTO public.m VALUES (now() - interval '2 hours', 9, 1000000);
	UPDATE public.m SET v = v + 1 WHERE v = 100;
	DELETE FROM public.m WHERE v = 200;
});
is(wait_for_value($node, 'postgres',
		"SELECT pending_invalidations = 0 AND (SELECT count(*) FROM public.m_10min WHERE dev = 9) = 1 FROM nosql.timeseries_rollups",
		't', 60),
	't', 'late writes are folded in by the worker');
is(diff('public.m_10min', '10 minutes'), '0', 'the rollup equals the GROUP BY after late writes');

# writers while the worker refreshes every round: late writes, and writes
# of now() in transactions that stay open while the watermark of a rollup
# of 100 ms buckets passes them (a refresh must wait for them: its
# snapshot does not see them, and their triggers read the old watermark)
$node->safe_psql('postgres', q{
	SET ROLE ts_owner;
	SELECT nosql.create_rollup('public.m', 'm_fast', '100 milliseconds',
	                           '{"count(*) AS n", "sum(v) AS total", "max(v) AS top"}', '{dev}',
	                           schedule => '10 milliseconds');
});
$node->pgbench(
	'--no-vacuum --client=4 --jobs=2 --time=5',
	0, [qr{processed: [1-9]}], [qr{^$}], 'concurrent writes',
	{
		'026_ts_rollup_late' => q{
			\set d random(0, 10800)
			\set dev random(0, 3)
			INSERT INTO public.m VALUES (now() - :d * interval '1 second', :dev, :d);
			UPDATE public.m SET v = v + 1 WHERE time = (SELECT max(time) FROM public.m WHERE dev = :dev AND time < now() - :d * interval '1 second');
		},
		'026_ts_rollup_open' => q{
			\set dev random(0, 3)
			BEGIN;
			INSERT INTO public.m VALUES (now(), :dev, 1);
			SELECT pg_sleep(0.3);
			COMMIT;
		}
	});
# once a refresh has run after the last write, nothing is pending and the rollups are exact
my $written = $node->safe_psql('postgres', 'SELECT now()');
is(wait_for_value($node, 'postgres',
		"SELECT bool_and(last_run > '$written' AND pending_invalidations = 0) FROM nosql.timeseries_rollups", 't', 60),
	't', 'the worker catches up after the writers');
is(diff('public.m_10min', '10 minutes'), '0', 'no concurrent late write was lost');
is(diff('public.m_fast', '100 milliseconds'), '0', 'no write of an open transaction was lost');
ok($node->safe_psql('postgres', "SELECT count(*) FROM public.m_fast WHERE bucket > now() - interval '1 minute'") > 5,
	'the fast rollup saw the writes');
$node->safe_psql('postgres', 'SELECT nosql.drop_rollup(\'public.m_fast\')');

# an error is kept until a refresh succeeds
$node->safe_psql('postgres', q{
	SET ROLE ts_owner;
	SELECT nosql.create_rollup('public.m', 'm_inv', '1 hour', '{"sum(1000 / v) AS inv"}', schedule => '100 milliseconds');
	INSERT INTO public.m VALUES (now() - interval '1 day', 0, 0);
});
is(wait_for_value($node, 'postgres',
		"SELECT last_error IS NOT NULL FROM nosql.timeseries_rollups WHERE rollup = 'public.m_inv'::regclass", 't', 60),
	't', 'a refresh that fails keeps its error');
like($node->safe_psql('postgres', "SELECT last_error FROM nosql.timeseries_rollups WHERE rollup = 'public.m_inv'::regclass"),
	qr/division by zero/, 'the error says why');
is($node->safe_psql('postgres', "SELECT last_error FROM nosql.timeseries_rollups WHERE rollup = 'public.m_10min'::regclass"),
	'', 'the other rollup goes on');
$node->safe_psql('postgres', 'DELETE FROM public.m WHERE v = 0');
is(wait_for_value($node, 'postgres',
		"SELECT last_error IS NULL AND watermark IS NOT NULL FROM nosql.timeseries_rollups WHERE rollup = 'public.m_inv'::regclass",
		't', 60),
	't', 'the next successful refresh clears the error');

# dropped by SQL: the worker has nothing left to do for it
$node->safe_psql('postgres', 'DROP TABLE public.m_inv; DROP TABLE public.m_10min');
is($node->safe_psql('postgres', "SELECT count(*) FROM nosql.timeseries_rollup"), '0', 'dropped rollups are forgotten');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.m'::regclass"), '0',
	'with the triggers of their source');
ok(!$node->log_contains('nosql worker: refresh of rollup \d+ failed: (?!division)'), 'no other refresh failed');

$node->stop;
done_testing();
