# Helpers shared by the nosql TAP tests.
package NosqlTest;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use Exporter 'import';

our @EXPORT = qw(nosql_node wait_for_value);

# A new, started node configured like the regression instance
# (test/nosql.conf), plus any extra configuration lines given.
sub nosql_node
{
	my ($name, %opts) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(allows_streaming => $opts{allows_streaming} // 0);
	my $conf = do
	{
		local $/;
		open my $fh, '<', "$ENV{NOSQL_SRCDIR}/test/nosql.conf"
		  or die "cannot read test/nosql.conf: $!";
		<$fh>;
	};
	$node->append_conf('postgresql.conf', $conf);
	$node->append_conf('postgresql.conf', $opts{extra_conf})
	  if defined $opts{extra_conf};
	$node->start unless $opts{no_start};
	return $node;
}

# Run $query on $node until it returns $expected or $timeout seconds pass;
# returns the last value seen.
sub wait_for_value
{
	my ($node, $dbname, $query, $expected, $timeout) = @_;
	$timeout //= $PostgreSQL::Test::Utils::timeout_default;
	my $deadline = time + $timeout;
	my $value;
	while (1)
	{
		$value = $node->safe_psql($dbname, $query);
		return $value if $value eq $expected || time > $deadline;
		usleep(100_000);
	}
}

BEGIN
{
	# prove runs from the source directory
	$ENV{NOSQL_SRCDIR} //= Cwd::getcwd();
}

use Cwd ();

1;
