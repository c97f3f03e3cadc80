# Nothing acknowledged is lost: a client inserts 100 batches of 1,000
# documents with insert_many (100k documents), recording each batch once its
# statement returns; the server is stopped with -m immediate in the middle.
# After the restart every acknowledged batch is there in full, and every
# batch present is complete (no partial insert_many).
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);
use NosqlTest;

my $node = nosql_node('crash', extra_conf => "fsync = on\nsynchronous_commit = on");
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');
$node->safe_psql('postgres', q{SELECT nosql.create_collection('test.crash')});

my $acked = "${PostgreSQL::Test::Utils::tmp_check}/crash_acked.txt";
unlink $acked;
my $connstr = $node->connstr('postgres');
my $insert = q{SELECT nosql.insert_many('test.crash', (SELECT ('[' || string_agg(format('{"_id": %s, "batch": %s, "i": %s, "pad": "%s"}', B * 1000 + i, B, i, repeat('x', 100)), ',') || ']')::nosql.bson FROM generate_series(0, 999) i))};
my $script = <<"SH";
for b in \$(seq 0 99); do
  sql=\$(printf '%s' "\$INSERT" | sed "s/B/\$b/g")
  psql -X -q -v ON_ERROR_STOP=1 -d "\$CONNSTR" -c "\$sql" >/dev/null 2>&1 || exit 0
  echo \$b >> "\$ACKED"
done
SH
local $ENV{INSERT} = $insert;
local $ENV{CONNSTR} = $connstr;
local $ENV{ACKED} = $acked;
my $h = IPC::Run::start([ 'bash', '-c', $script ]);

# wait until a good part of the load is acknowledged, then crash
my $deadline = time + $PostgreSQL::Test::Utils::timeout_default;
my $count = 0;
while (time < $deadline)
{
	$count = -e $acked ? scalar(() = slurp_file($acked) =~ /\n/g) : 0;
	last if $count >= 30;
	usleep(50_000);
}
ok($count >= 30, "30 batches acknowledged before the crash ($count)");
$node->stop('immediate');
$h->finish;

my @acked = -e $acked ? split /\n/, slurp_file($acked) : ();
ok(@acked >= 30 && @acked < 100, scalar(@acked) . ' batches acknowledged when the server stopped');

$node->start;
my $rows = $node->safe_psql('postgres',
	q{SELECT (document->'batch')::int, count(*) FROM nosql_data."test.crash" GROUP BY 1 ORDER BY 1});
my %present = map { my ($b, $c) = split /\|/; ($b => $c) } split /\n/, $rows;
my @missing = grep { !defined $present{$_} || $present{$_} != 1000 } @acked;
is(scalar(@missing), 0, 'every acknowledged batch is there in full')
  or diag("missing or partial: @missing");
my @partial = grep { $present{$_} != 1000 } keys %present;
is(scalar(@partial), 0, 'no batch is partially there') or diag("partial: @partial");
my %is_acked = map { $_ => 1 } @acked;
my @extra = grep { !$is_acked{$_} } keys %present;
ok(@extra <= 1, 'at most the in-flight batch committed unacknowledged (' . scalar(@extra) . ')');
is($node->safe_psql('postgres', q{SELECT count(*) FROM nosql_data."test.crash" WHERE _id OPERATOR(nosql.<>) (document->'_id')}),
	'0', 'the _id column and the documents agree after recovery');
is($node->safe_psql('postgres', q{SELECT nosql.run_command('test', '{"insert": "crash", "documents": [{"_id": 0}]}')->'writeErrors'->0->'code'}),
	'11000', 'the _id index survived: a duplicate is refused');

$node->stop;
done_testing();
