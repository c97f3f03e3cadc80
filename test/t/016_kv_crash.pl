# The key-value store loses nothing acknowledged and its revision never goes
# backwards across a crash (fsync on; writes commit asynchronously and are
# flushed before the client hears of them, reads wait for the flush of what
# they saw: see src/kv.c).
#
# Three times: four writers run kv_put in a loop (two of them as whole
# statements, which the apply worker takes when writers queue), each
# acknowledged revision recorded with its key and value once the statement
# returns; a reader
# calls kv_current_revision() in a loop, and a watcher follows every event
# with blocking kv_watch, recording the revisions they saw; the server is
# stopped with -m immediate mid-load and restarted.  Then every
# acknowledged revision is there with its key and value, the history is
# gap-free, and the counter is at least every revision acknowledged or
# seen by the reader or the watcher before the crash.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use List::Util qw(max);
use NosqlTest;

my $node = nosql_node('kv_crash', extra_conf => "fsync = on\nsynchronous_commit = on");
$node->safe_psql('postgres', 'CREATE EXTENSION nosql');

my $dir = $PostgreSQL::Test::Utils::tmp_check;
my $connstr = $node->connstr('postgres');
my %acked;						# revision => "key|value", every round
my $max_seen = 0;				# by a reader or a watcher, every round

# a psql script file of $n lines made by $line->($i)
sub script
{
	my ($name, $n, $line) = @_;
	my $file = "$dir/kv_crash_$name.sql";
	open my $fh, '>', $file or die "cannot write $file: $!";
	print $fh "\\set ON_ERROR_STOP 1\n";
	print $fh $line->($_) for 1 .. $n;
	close $fh;
	return $file;
}

sub current_revision
{
	return $node->safe_psql('postgres', 'SELECT nosql.kv_current_revision()');
}

for my $round (1 .. 3)
{
	my $base = current_revision();
	my %files;
	for my $w (1 .. 4)
	{
		$files{"w$w"} = script("r${round}_w$w", 20000, sub {
			my $i = shift;
			my ($k, $v) = ("r$round/w$w/" . ($i % 10), "r$round-w$w-$i");
			# writers 3 and 4 make puts that are whole statements, which
			# the apply worker takes when writers queue (src/kv_apply.c)
			return "SELECT '$k', '$v', nosql.kv_put('$k', '$v');\n" if $w <= 2;
			return "SELECT nosql.kv_put('$k', '$v') AS rev \\gset\n\\echo $k|$v|:rev\n";
		});
	}
	$files{reader} = script("r${round}_reader", 100000,
		sub { "SELECT nosql.kv_current_revision();\n" });
	$files{watcher} = "$dir/kv_crash_r${round}_watcher.sql";
	{
		open my $fh, '>', $files{watcher} or die;
		print $fh "\\set ON_ERROR_STOP 1\n\\set last $base\n";
		print $fh "SELECT coalesce(max(revision), :last) AS last FROM nosql.kv_watch('', '', :last + 1, max_wait_ms => 1000) \\gset\n\\echo :last\n"
		  for 1 .. 20000;
		close $fh;
	}

	my (%out, @handles);
	for my $client (sort keys %files)
	{
		$out{$client} = "$dir/kv_crash_r${round}_$client.out";
		push @handles, IPC::Run::start(
			[ 'psql', '-X', '-q', '-A', '-t', '-d', $connstr, '-f', $files{$client} ],
			'>', $out{$client}, '2>', '/dev/null');
	}

	# crash in the middle of the load
	ok($node->poll_query_until('postgres',
			"SELECT nosql.kv_current_revision() >= $base + 600"),
		"round $round: 600 writes before the crash");
	note("round $round: the apply worker applied "
		  . $node->safe_psql('postgres', 'SELECT coalesce(sum(applied), 0) FROM nosql.kv_apply_stats()')
		  . ' puts so far');
	$node->stop('immediate');
	$_->finish for @handles;

	# what the clients heard before the crash
	my @acked_now;
	for my $w (1 .. 4)
	{
		for (split /\n/, slurp_file($out{"w$w"}))
		{
			my ($k, $v, $rev) = split /\|/;
			next unless defined $rev;
			$acked{$rev} = "$k|$v";
			push @acked_now, $rev;
		}
	}
	my @read = grep { /^\d+$/ } split /\n/, slurp_file($out{reader});
	my @watched = grep { /^\d+$/ } split /\n/, slurp_file($out{watcher});
	my @decreasing = grep { $read[$_] < $read[ $_ - 1 ] } 1 .. $#read;
	is(scalar(@decreasing), 0, "round $round: the reader never saw the revision go back");
	$max_seen = max($max_seen, @read, @watched);
	note("round $round: acknowledged " . scalar(@acked_now) . ' puts, the reader saw up to '
		  . max(0, @read) . ', the watcher up to ' . max(0, @watched));
	ok(@acked_now > 0 && @read > 0 && @watched > 0,
		"round $round: writes acknowledged, revisions read and watched before the crash");

	$node->start;
	my %history = map { my ($rev, $kv) = split /\|/, $_, 2; ($rev => $kv) }
	  split /\n/, $node->safe_psql('postgres',
		q{SELECT mod_revision || '|' || key || '|' || convert_from(value, 'UTF8') FROM nosql.kv_history});
	my @lost = grep { !defined $history{$_} || $history{$_} ne $acked{$_} } sort { $a <=> $b } keys %acked;
	is(scalar(@lost), 0, "round $round: every acknowledged revision is there with its key and value")
	  or diag("lost or changed: @lost[0 .. ($#lost < 9 ? $#lost : 9)]");
	my $top = max(keys %history);
	is($node->safe_psql('postgres',
			q{SELECT count(*) = count(DISTINCT mod_revision) AND min(mod_revision) = 2 AND count(*) = max(mod_revision) - 1 FROM nosql.kv_history}),
		't', "round $round: the history is gap-free (revisions 2..$top once each)");
	my @unacked = grep { $_ > $base && !$acked{$_} } keys %history;
	ok(@unacked <= 4, "round $round: at most the in-flight puts committed unacknowledged (" . scalar(@unacked) . ')');

	my $counter = current_revision();
	is($counter, $top, "round $round: the counter is the history's last revision");
	ok($counter >= max(keys %acked), "round $round: the counter ($counter) is at least every acknowledged revision");
	ok($counter >= $max_seen, "round $round: the counter ($counter) is at least every revision read or watched before the crash ($max_seen)");
}

$node->stop;
done_testing();
