# The output plugin end to end through the streaming replication protocol:
# pg_recvlogical creates slots with plugin nosql and receives, while the
# writes happen, one line per change: etcd watch events for the key-value
# store and MongoDB change events for collections, filtered by the options
# it passes; the BSON format gives the same events as binary messages; bad
# options end the stream with the plugin's error.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use JSON::PP;
use Time::HiRes qw(usleep time);
use NosqlTest;

my $node = nosql_node('cdc_recvlogical');
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');
my $connstr = $node->connstr('postgres');
my $dir = PostgreSQL::Test::Utils::tempdir();

# pg_recvlogical with its arguments; returns (exit ok, stdout, stderr)
sub recvlogical
{
	my @args = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run([ 'pg_recvlogical', '-d', $connstr, @args ],
		'>', \$out, '2>', \$err, IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	return ($ok, $out, $err);
}

my ($ok, $out, $err);
for my $slot ('cdc_json', 'cdc_bson')
{
	($ok, $out, $err) = recvlogical('--slot', $slot, '--create-slot', '-P', 'nosql');
	ok($ok, "pg_recvlogical creates slot $slot with plugin nosql") or diag($err);
}
is($node->safe_psql('postgres',
		"SELECT string_agg(plugin || ':' || slot_type, ',' ORDER BY slot_name) FROM pg_replication_slots"),
	'nosql:logical,nosql:logical', 'the slots are logical slots of plugin nosql');

# the collection to watch and one that the options leave out
run_command($node, '{"create": "orders"}', 'shop');
run_command($node, '{"create": "other"}', 'shop');

# Receive in the background while the writes happen.
my $file = "$dir/events.json";
my ($rout, $rerr) = ('', '');
my $receiver = IPC::Run::start(
	[
		'pg_recvlogical', '-d', $connstr, '--slot', 'cdc_json', '--start', '--no-loop',
		'-f', $file, '-o', 'kv_prefix=app/', '-o', 'collections=shop.orders',
		'-o', 'include_kv'
	],
	'>', \$rout, '2>', \$rerr);

$node->safe_psql('postgres', "SELECT nosql.kv_put('app/a', 'one')");
$node->safe_psql('postgres', "SELECT nosql.kv_put('skip/x', 'not watched')");
$node->safe_psql('postgres',
	q{SELECT nosql.kv_txn('{"success": [{"request_put": {"key": "app/b", "value": "two"}}, {"request_put": {"key": "app/c", "value": {"$binary": {"base64": "AAE=", "subType": "00"}}}}]}')});
run_command($node, '{"insert": "orders", "documents": [{"_id": 1, "item": "pen", "qty": 2}]}', 'shop');
run_command($node, '{"insert": "other", "documents": [{"_id": 1}]}', 'shop');
run_command($node, '{"update": "orders", "updates": [{"q": {"_id": 1}, "u": {"$inc": {"qty": 1}}}]}', 'shop');
$node->safe_psql('postgres', "SELECT nosql.kv_delete('app/a')");
run_command($node, '{"delete": "orders", "deletes": [{"q": {"_id": 1}, "limit": 1}]}', 'shop');
$node->safe_psql('postgres', 'CREATE TABLE plain (a int); INSERT INTO plain VALUES (1)');
# a rolled back transaction sends nothing
$node->safe_psql('postgres',
	q{BEGIN; SELECT nosql.kv_put('app/never', 'x'); SELECT nosql.run_command('shop', '{"insert": "orders", "documents": [{"_id": "never"}]}'); ROLLBACK});
# the last write, to know when everything has come
$node->safe_psql('postgres', "SELECT nosql.kv_put('app/end', 'last')");
my $end_lsn = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');

# wait for the last event, then stop the receiver
my @lines;
my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
while (time() < $deadline)
{
	$receiver->pump_nb;
	if (open my $fh, '<', $file)
	{
		@lines = <$fh>;
		close $fh;
		last if @lines && $lines[-1] =~ /app\/end/ && $lines[-1] =~ /\n$/;
	}
	usleep(50_000);
}
$receiver->signal('INT');
$receiver->finish;
chomp @lines;

my @events = map { decode_json($_) } @lines;
is(scalar(@events), 8, 'one line per change of the watched keys and collection')
  or diag(join("\n", @lines), $rerr);

# what each line says: the KV events' type, key and revision, the
# collection events' operation and document
my @summary = map {
	exists $_->{type}
	  ? "$_->{type} $_->{kv}{key} rev=$_->{header}{revision}{'$numberLong'}"
	  : "$_->{operationType} $_->{ns}{db}.$_->{ns}{coll} "
	  . encode_json($_->{documentKey})
	  . (exists $_->{fullDocument} ? ' ' . JSON::PP->new->canonical->encode($_->{fullDocument}) : '')
	  . (exists $_->{updateDescription} ? ' ' . JSON::PP->new->canonical->encode($_->{updateDescription}) : '')
} @events;
is_deeply(
	\@summary,
	[
		'PUT app/a rev=2',
		'PUT app/b rev=4',
		'PUT app/c rev=4',
		'insert shop.orders {"_id":1} {"_id":1,"item":"pen","qty":2}',
		'update shop.orders {"_id":1} {"removedFields":[],"truncatedArrays":[],"updatedFields":{"qty":3}}',
		'DELETE app/a rev=5',
		'delete shop.orders {"_id":1}',
		'PUT app/end rev=6',
	],
	'the events, in commit order')
  or diag(explain(\@summary));

# the shapes, as etcd and MongoDB have them
is_deeply([ sort keys %{ $events[0]{kv} } ],
	[qw(create_revision key lease mod_revision value version)], 'a PUT carries the whole KeyValue');
is_deeply([ sort keys %{ $events[5]{kv} } ], [qw(key mod_revision)], 'a DELETE only the key and its revision');
is_deeply($events[2]{kv}{value}, { '$binary' => { base64 => 'AAE=', subType => '00' } },
	'bytes that are not UTF-8 come as BSON binary');
like($lines[3],
	qr/^\{"_id": \{"_data": "[0-9A-F]{24}"\}, "operationType": "insert", "clusterTime": \{"\$timestamp": \{"t": \d+, "i": \d+\}\}, "wallTime": \{"\$date": "[^"]+"\}, "fullDocument": /,
	'a change event has MongoDB\'s fields in MongoDB\'s order');
my @tokens = map { $_->{_id}{_data} } grep { exists $_->{operationType} } @events;
is_deeply(\@tokens, [ sort @tokens ], 'resume tokens sort in commit order');
is(scalar(keys %{ { map { $_ => 1 } @tokens } }), 3, 'and are unique');

# The BSON format: the same events as binary messages (each followed by the
# newline pg_recvlogical writes), up to a given position.
my $binfile = "$dir/events.bson";
($ok, $out, $err) = recvlogical(
	'--slot', 'cdc_bson', '--start', '--no-loop', '--endpos', $end_lsn,
	'-f', $binfile, '-o', 'format=bson', '-o', 'kv_prefix=app/',
	'-o', 'collections=shop.orders');
ok($ok, 'pg_recvlogical receives the BSON format up to an end position') or diag($err);
my $bytes = slurp_file($binfile);
my @messages;
while (length($bytes) >= 5)
{
	my $len = unpack('V', $bytes);
	push @messages, substr($bytes, 0, $len);
	is(substr($bytes, $len, 1), "\n", "message " . scalar(@messages) . " is one BSON document")
	  or last;
	$bytes = substr($bytes, $len + 1);
}
is($bytes, '', 'nothing but whole messages');
is(scalar(@messages), scalar(@lines), 'as many binary messages as text lines');
# each message read as bson is the text line read as bson
my $values = join(',', map { "('\\x" . unpack('H*', $messages[$_]) . "'::bytea, " . ($_ + 1) . ')' } 0 .. $#messages);
my $texts = join(',', map { my $l = $lines[$_]; $l =~ s/'/''/g; "('$l', " . ($_ + 1) . ')' } 0 .. $#lines);
is($node->safe_psql('postgres', qq{
	SELECT count(*) FILTER (WHERE b.m = t.l::nosql.bson::bytea) || '/' || count(*)
	  FROM (VALUES $values) b(m, n) JOIN (VALUES $texts) t(l, n) USING (n)}),
	scalar(@lines) . '/' . scalar(@lines), 'the binary messages are the text events byte for byte');

# Bad options end the stream with the plugin's error.
($ok, $out, $err) = recvlogical('--slot', 'cdc_bson', '--start', '--no-loop',
	'--endpos', $end_lsn, '-f', '-', '-o', 'colour=blue');
ok(!$ok, 'an unknown option ends the stream');
like($err, qr/unrecognized option "colour" of output plugin "nosql"/, 'with the plugin\'s message');
($ok, $out, $err) = recvlogical('--slot', 'cdc_bson', '--start', '--no-loop',
	'--endpos', $end_lsn, '-f', '-', '-o', 'format');
ok(!$ok, 'an option that needs a value, without one, ends the stream');
like($err, qr/option "format" of output plugin "nosql" needs a value/, 'with the plugin\'s message');

for my $slot ('cdc_json', 'cdc_bson')
{
	($ok, $out, $err) = recvlogical('--slot', $slot, '--drop-slot');
	ok($ok, "pg_recvlogical drops slot $slot") or diag($err);
}

$node->stop;
done_testing();
