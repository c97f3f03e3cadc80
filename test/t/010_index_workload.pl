# A randomized workload over an indexed collection: three concurrent
# sessions insert, update and delete through run_command, and the updates
# move indexed keys (numbers, strings, arrays of them, missing fields;
# scalars become arrays and back).  Then, before and after VACUUM, amcheck
# passes on every btree index of the table (bt_index_parent_check with
# heapallindexed), and for 200 random filters the count the plans with the
# indexes give equals the count of a sequential scan, with the planner's
# choice of index and with every nosql_ix_ index alone.
#
# The workload is generated from a seed, printed; NOSQL_SEED=<n> repeats
# a run.  Autovacuum runs every second and GIN pending lists are small, so
# both happen during the workload.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);
use NosqlTest;

my $seed = $ENV{NOSQL_SEED} // 20261122;
die "NOSQL_SEED must be an integer\n" unless $seed =~ /^\d+$/;
diag("random seed $seed (NOSQL_SEED=$seed repeats this run)");
srand($seed);

my $sessions = 3;
my $ops_per_session = 3000;
my $initial = 2000;

my $node = nosql_node('workload',
	extra_conf => "autovacuum_naptime = 1s\nautovacuum_vacuum_threshold = 50\nautovacuum_vacuum_scale_factor = 0.05\ngin_pending_list_limit = 64kB");
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');
$node->safe_psql('postgres', 'CREATE EXTENSION amcheck');

sub command { return run_command($node, $_[0]); }

# ---- random values, documents, updates and filters ----

sub pick { return $_[ int(rand(@_)) ] }

# a value for the field a: mostly small integers, some strings, doubles,
# arrays of those, null
sub a_value
{
	my $r = rand();
	return int(rand(200)) if $r < 0.55;
	return '"s' . int(rand(50)) . '"' if $r < 0.65;
	return sprintf('%.1f', rand(200)) if $r < 0.7;
	return 'null' if $r < 0.73;
	return '[]' if $r < 0.75;
	my @elements = map { rand() < 0.85 ? int(rand(200)) : '"s' . int(rand(50)) . '"' } 1 .. 1 + int(rand(4));
	return '[' . join(', ', @elements) . ']';
}

sub tags_value
{
	return '"t' . int(rand(30)) . '"' if rand() < 0.25;
	return '[' . join(', ', map { '"t' . int(rand(30)) . '"' } 1 .. int(rand(4))) . ']';
}

# a document: every field but _id may be missing
sub document
{
	my ($id) = @_;
	my @fields = (qq("_id": $id));
	push @fields, '"a": ' . a_value() if rand() < 0.9;
	push @fields, '"b": ' . int(rand(10)) if rand() < 0.9;
	push @fields, '"tags": ' . tags_value() if rand() < 0.8;
	push @fields, qq("u": "u$id") if rand() < 0.95;
	return '{' . join(', ', @fields) . '}';
}

my $version = 0;

sub update_spec
{
	my ($id) = @_;
	my $r = rand();
	return '{"$set": {"a": ' . a_value() . '}}' if $r < 0.35;
	return '{"$unset": {"a": ""}}' if $r < 0.4;
	return '{"$set": {"tags": ' . tags_value() . '}}' if $r < 0.55;
	return '{"$inc": {"b": ' . (int(rand(5)) - 2) . '}}' if $r < 0.65;
	return '{"$set": {"a": ' . a_value() . ', "b": ' . int(rand(10)) . '}}' if $r < 0.75;
	return '{"$set": {"u": "u' . $id . '-' . ++$version . '"}}' if $r < 0.8;
	# a replacement: every indexed field may move or disappear
	(my $doc = document($id)) =~ s/^\{"_id": \d+, ?/{/;
	return $doc;
}

# the ids of session $s: its own inserts never collide with another's
my @next_id = map { 1_000_000 * ($_ + 1) } 0 .. $sessions - 1;

sub random_id
{
	my ($s) = @_;
	# the initial documents, or one of this session's or another's inserts
	return int(rand($initial)) if rand() < 0.7;
	my $t = int(rand($sessions));
	return 1_000_000 * ($t + 1) + int(rand($ops_per_session / 4 + 1));
}

sub operation
{
	my ($s) = @_;
	my $r = rand();
	if ($r < 0.25)
	{
		my @docs = map { document($next_id[$s]++) } 1 .. 1 + int(rand(3));
		return '{"insert": "w", "documents": [' . join(', ', @docs) . ']}';
	}
	if ($r < 0.75)
	{
		my $id = random_id($s);
		return qq({"update": "w", "updates": [{"q": {"_id": $id}, "u": ) . update_spec($id) . '}]}';
	}
	if ($r < 0.8)
	{
		# an upsert of one of this session's ids
		my $id = $next_id[$s]++;
		return qq({"update": "w", "updates": [{"q": {"_id": $id}, "u": ) . update_spec($id) . ', "upsert": true}]}';
	}
	if ($r < 0.85)
	{
		my $id = random_id($s);
		return qq({"findAndModify": "w", "query": {"_id": $id}, "update": ) . update_spec($id) . ', "new": true}';
	}
	if ($r < 0.97)
	{
		my $id = random_id($s);
		return qq({"delete": "w", "deletes": [{"q": {"_id": $id}, "limit": 1}]});
	}
	# a delete through an indexed field
	return '{"delete": "w", "deletes": [{"q": {"a": ' . int(rand(200)) . '}, "limit": 1}]}';
}

sub random_filter
{
	my $r = rand();
	my $n = sub { int(rand(210)) - 5 };
	return '{"a": ' . a_value() . '}' if $r < 0.15;
	return '{"a": {"' . pick('$gt', '$gte', '$lt', '$lte') . '": ' . $n->() . '}}' if $r < 0.27;
	if ($r < 0.37)
	{
		my $lo = $n->();
		return qq({"a": {"\$gte": $lo, "\$lt": ) . ($lo + int(rand(30))) . '}}';
	}
	return '{"a": {"$gt": "s' . int(rand(50)) . '"}}' if $r < 0.4;
	return '{"a": {"$in": [' . join(', ', map { rand() < 0.8 ? $n->() : '"s' . int(rand(50)) . '"' } 1 .. 1 + int(rand(5))) . ']}}'
	  if $r < 0.5;
	return '{"tags": "t' . int(rand(32)) . '"}' if $r < 0.6;
	return '{"tags": {"$in": ["t' . int(rand(30)) . '", "t' . int(rand(30)) . '"]}}' if $r < 0.65;
	return '{"' . pick('a', 'tags', 'b', 'u') . '": {"$exists": ' . pick('true', 'false') . '}}' if $r < 0.73;
	return '{"a": ' . $n->() . ', "b": {"$lt": ' . int(rand(10)) . '}}' if $r < 0.8;
	return '{"b": ' . int(rand(10)) . ', "a": {"$lte": ' . $n->() . '}}' if $r < 0.85;
	if ($r < 0.88)
	{
		my $lo = $n->();
		return qq({"a": {"\$elemMatch": {"\$gt": $lo, "\$lt": ) . ($lo + 20) . '}}}';
	}
	return '{"a": null}' if $r < 0.9;
	return '{"a": {"$ne": ' . $n->() . '}}' if $r < 0.92;
	return '{"u": "u' . random_id(0) . '"}' if $r < 0.96;
	return '{"$or": [{"a": ' . $n->() . '}, {"tags": "t' . int(rand(30)) . '"}]}';
}

# ---- the collection, its indexes and the workload ----

for my $k (0 .. $initial / 500 - 1)
{
	my $docs = join(', ', map { document($k * 500 + $_) } 0 .. 499);
	like(command(qq({"insert": "w", "documents": [$docs]})), qr/^\{"n": 500, "ok": 1\.0\}$/,
		"initial documents " . ($k * 500) . '..' . ($k * 500 + 499));
}
like(command(q({"createIndexes": "w", "indexes": [{"key": {"a": 1}, "name": "a_1"},
	{"key": {"a": 1, "b": -1}, "name": "a_1_b_-1"}, {"key": {"tags": 1}, "name": "tags_1"},
	{"key": {"u": 1}, "name": "u_1", "unique": true, "sparse": true}]})),
	qr/"numIndexesAfter": 5\b.*"ok": 1\.0/, 'createIndexes a_1, a_1_b_-1, tags_1, u_1');

my @runs;
for my $s (0 .. $sessions - 1)
{
	my $file = "${PostgreSQL::Test::Utils::tmp_check}/workload_$s.sql";
	open my $fh, '>', $file or die "cannot write $file: $!";
	for (1 .. $ops_per_session)
	{
		(my $op = operation($s)) =~ s/'/''/g;
		print $fh "SELECT nosql.run_command('db', '$op');\n";
	}
	close $fh;
	my %run = (out => '', err => '', file => $file);
	$run{h} = IPC::Run::start([ 'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
			'-d', $node->connstr('postgres'), '-f', $file ],
		'>', \$run{out}, '2>', \$run{err},
		IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default));
	push @runs, \%run;
}
my $start = time;
for my $s (0 .. $#runs)
{
	my $run = $runs[$s];
	ok($run->{h}->finish, "session $s ran its $ops_per_session operations") or diag($run->{err});
	my @replies = split /\n/, $run->{out};
	my @failed = grep { !/"ok": 1\.0\}$/ || /"writeErrors"/ } @replies;
	is(scalar(@replies), $ops_per_session, "session $s got $ops_per_session replies");
	is(scalar(@failed), 0, "session $s: every operation succeeded")
	  or diag(join("\n", @failed[0 .. ($#failed < 9 ? $#failed : 9)]));
}
note(sprintf('workload: %.1f s', time - $start));

my $stats = $node->safe_psql('postgres', q{
	SELECT count(*) || ' documents, ' || count(*) FILTER (WHERE nosql.bson_typeof(document->'a') = 'array')
	       || ' with an array a, ' || count(*) FILTER (WHERE document->'a' IS NULL) || ' without a'
	FROM nosql_data."db.w"});
note("after the workload: $stats");

my @indexes = table_indexes($node, 'postgres', 'db.w');
my @nosql_ix = grep { $_->{name} =~ /^nosql_ix_/ } @indexes;
ok(@nosql_ix >= 4, scalar(@nosql_ix) . ' nosql_ix_ indexes for the four specs');
is(join(',', map { $_->{name} } grep { !($_->{valid} && $_->{ready} && $_->{live}) } @indexes), '',
	'every index is valid');

my @filters = map { random_filter() } 1 .. 200;

# The checks, run before and after VACUUM: amcheck on the btrees, then the
# counts of the 200 filters with the indexes (the planner's choice, then
# each nosql_ix_ index alone) against a sequential scan.
sub check_indexes
{
	my ($when) = @_;
	my ($checked, $errors) = amcheck_btrees($node, 'postgres', 'db.w');
	ok(@$checked >= 1, "$when: amcheck checked " . join(', ', @$checked));
	is(scalar(@$errors), 0, "$when: bt_index_check and bt_index_parent_check(heapallindexed) pass")
	  or diag(join("\n", @$errors));

	my @seq = index_counts($node, 'postgres', 'db.w', \@filters,
		'SET enable_indexscan = off; SET enable_bitmapscan = off');
	is(scalar(grep { $_->[1] ne '' } @seq), 0, "$when: the sequential plans use no index");
	my @matching = grep { $_->[0] > 0 } @seq;
	ok(@matching >= 100, "$when: " . scalar(@matching) . ' of the 200 filters match documents');

	my @planned = index_counts($node, 'postgres', 'db.w', \@filters,
		'SET enable_seqscan = off; SET enable_bitmapscan = on');
	my @used = grep { $planned[$_][1] =~ /^nosql_ix_/ } 0 .. $#filters;
	my @wrong = grep { $planned[$_][0] != $seq[$_][0] } 0 .. $#filters;
	ok(@used >= 100, "$when: the planner uses a nosql_ix_ index for " . scalar(@used) . ' of the 200 filters');
	is(scalar(@wrong), 0, "$when: with the indexes, every filter counts what a sequential scan counts")
	  or diag(join("\n", map { "$filters[$_]: $planned[$_][0] through $planned[$_][1], $seq[$_][0] by a sequential scan" }
			  @wrong[0 .. ($#wrong < 19 ? $#wrong : 19)]));

	for my $index (@nosql_ix)
	{
		my @alone = index_counts($node, 'postgres', 'db.w', \@filters, 'SET enable_seqscan = off', $index->{name});
		my @served = grep { $alone[$_][1] eq $index->{name} } 0 .. $#filters;
		my @bad = grep { $alone[$_][0] != $seq[$_][0] } @served;
		ok(@served > 0, "$when: $index->{name} ($index->{am}) alone serves " . scalar(@served) . ' filters');
		is(scalar(@bad), 0, "$when: $index->{name} ($index->{am}) alone counts what a sequential scan counts")
		  or diag(join("\n", map { "$filters[$_]: $alone[$_][0] through the index, $seq[$_][0] by a sequential scan" }
				  @bad[0 .. ($#bad < 19 ? $#bad : 19)]));
	}
}

check_indexes('after the workload');
$node->safe_psql('postgres', 'VACUUM nosql_data."db.w"');
check_indexes('after VACUUM');

$node->stop;
done_testing();
