# TTL indexes: the database's background worker deletes documents whose
# indexed date is older than expireAfterSeconds, batch by batch; documents
# without a date there, and dates in the future, stay; dropping the index
# stops the expiry.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NosqlTest;

my $node = nosql_node('ttl', extra_conf => 'nosql.ttl_interval = 1s');
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');
wait_for_value($node, 'postgres',
	"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'nosql worker'", '1', 30);

# 2,500 expired documents (more than one batch), and some that must stay
$node->safe_psql('postgres', q{
	SELECT nosql.insert_many('app.events', (SELECT ('[' || string_agg(format('{"_id": %s, "at": {"$date": "2020-01-01T00:00:00Z"}}', g), ',') || ']')::nosql.bson
	                                        FROM generate_series(1, 2500) g));
	SELECT nosql.insert_many('app.events', '[
	  {"_id": "future", "at": {"$date": "2999-01-01T00:00:00Z"}},
	  {"_id": "string", "at": "2020-01-01"},
	  {"_id": "missing"},
	  {"_id": "array", "at": [{"$date": "2999-01-01T00:00:00Z"}, {"$date": "2001-01-01T00:00:00Z"}]},
	  {"_id": "number", "at": 0}]');
});
is($node->safe_psql('postgres', q{SELECT nosql.count('app.events', '{}')}), '2505', 'documents in place');

$node->safe_psql('postgres', q{SELECT nosql.run_command('app', '{"createIndexes": "events", "indexes": [{"key": {"at": 1}, "name": "at_ttl", "expireAfterSeconds": 3600}]}')});
is(wait_for_value($node, 'postgres', q{SELECT nosql.count('app.events', '{}')}, '4', 60),
	'4', 'expired documents deleted by the worker');
is($node->safe_psql('postgres', q{SELECT string_agg(document->>'_id', ',' ORDER BY document->>'_id') FROM nosql_data."app.events"}),
	'future,missing,number,string', 'dates in the future, non-dates and missing fields stay')
  or diag('the array holding an expired date must go, as in MongoDB');

# without the TTL index nothing expires any more
$node->safe_psql('postgres', q{SELECT nosql.drop_index('app.events', 'at_ttl')});
$node->safe_psql('postgres', q{SELECT nosql.insert_one('app.events', '{"_id": "old", "at": {"$date": "2020-01-01T00:00:00Z"}}')});
sleep 3;    # three worker rounds at nosql.worker_naptime = 1s
is($node->safe_psql('postgres', q{SELECT nosql.count('app.events', '{"_id": "old"}')}),
	'1', 'no expiry without a TTL index');

$node->stop;
done_testing();
