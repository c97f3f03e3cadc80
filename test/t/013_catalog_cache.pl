# The per-backend cache of collection lookups follows every change made by
# other sessions: a collection dropped and created again (another table),
# renamed, given new indexes or options, its table renamed or dropped by
# SQL; and a change rolled back leaves the cache as the catalog is.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NosqlTest;

my $node = nosql_node('catalog_cache');
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');

sub command { return run_command($node, $_[0]); }

# a long-lived session whose cache gets filled
my $a = $node->background_psql('postgres');
sub in_a
{
	my ($cmd) = @_;
	$cmd =~ s/'/''/g;
	return $a->query_safe("SELECT nosql.run_command('db', '$cmd')");
}

command('{"insert": "c", "documents": [{"_id": 1, "v": "first"}]}');
like(in_a('{"find": "c"}'), qr/"v": "first"/, 'session A reads c');

# dropped and created again by another session: a new table
command('{"drop": "c"}');
command('{"insert": "c", "documents": [{"_id": 2, "v": "second"}]}');
like(in_a('{"find": "c"}'), qr/"v": "second"/, 'A sees the new c (new table)');
like(in_a('{"insert": "c", "documents": [{"_id": 3}]}'), qr/"n": 1/, 'and writes into it');

# renamed away, and another created under the name
like($node->safe_psql('postgres', q{SELECT nosql.run_command('admin', '{"renameCollection": "db.c", "to": "db.d"}')}),
	qr/"ok": 1\.0/, 'another session renames c to d');
like(in_a('{"find": "c"}'), qr/"firstBatch": \[\]/, 'after the rename c is empty for A');
like(in_a('{"find": "d", "sort": {"_id": 1}}'), qr/"_id": 2.*"_id": 3/, 'and d has the documents');

# an index created by another session is used by A's queries
command('{"createIndexes": "d", "indexes": [{"key": {"v": 1}, "name": "v_1", "unique": true}]}');
like(in_a('{"insert": "d", "documents": [{"_id": 4, "v": "second"}]}'), qr/"code": 11000/,
	"A's insert meets the new unique index");
like(in_a('{"listIndexes": "d"}'), qr/"name": "v_1"/, 'A lists it');

# options: a validator added by another session applies to A's writes
command('{"collMod": "d", "validator": {"v": {"$type": "string"}}}');
like(in_a('{"insert": "d", "documents": [{"_id": 5, "v": 5}]}'), qr/"code": 121/, "A's write meets the validator");

# the table renamed by SQL behind the catalog's back
$node->safe_psql('postgres', 'ALTER TABLE nosql_data."db.d" RENAME TO "db.d_renamed"');
like(in_a('{"find": "d", "filter": {"_id": 2}}'), qr/"v": "second"/, 'A finds d through its renamed table');

# the table dropped by SQL: the collection is gone
$node->safe_psql('postgres', 'DROP TABLE nosql_data."db.d_renamed"');
like(in_a('{"find": "d"}'), qr/"firstBatch": \[\]/, 'A sees d gone');

# a change rolled back in A's own transaction leaves nothing cached
$a->query_safe('BEGIN');
in_a('{"create": "e", "capped": true, "size": 4096}');
like(in_a('{"listCollections": 1, "filter": {"name": "e"}}'), qr/"capped": true/, 'inside the transaction e is capped');
$a->query_safe('ROLLBACK');
command('{"create": "e"}');
unlike(in_a('{"listCollections": 1, "filter": {"name": "e"}}'), qr/"capped"/, 'after the rollback A sees the other session\'s e');
like(in_a('{"insert": "e", "documents": [{"_id": 1}]}'), qr/"n": 1/, 'and writes into it');

$a->quit;
$node->stop;
done_testing();
