# Upgrade path: for every version the packaging offers, installing that
# version and updating to the default one must give exactly the objects a
# fresh install of the default version gives.  Also checks that the update
# graph reaches the default version from everywhere and that DROP EXTENSION
# leaves nothing behind.
use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NosqlTest;

my $node = nosql_node('upgrade');

my $default = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'nosql'");
ok($default ne '', "default version is $default");

my @versions = split /\n/,
  $node->safe_psql('postgres',
	"SELECT version FROM pg_available_extension_versions WHERE name = 'nosql' ORDER BY version");
ok((grep { $_ eq $default } @versions), 'default version is installable');

# Every version can be updated to the default one.
my $unreachable = $node->safe_psql(
	'postgres', qq{
	SELECT string_agg(source, ', ') FROM pg_extension_update_paths('nosql')
	 WHERE target = '$default' AND source <> target AND path IS NULL});
is($unreachable, '', 'every version has an update path to the default');

# A normalized description of every object of the extension.
sub objects
{
	my ($db) = @_;
	return $node->safe_psql(
		$db, q{
		SELECT string_agg(d, E'\n' ORDER BY d) FROM (
		  SELECT pg_describe_object(classid, objid, 0) ||
		         coalesce(' : ' || CASE WHEN (SELECT prokind FROM pg_proc WHERE oid = objid) = 'a'
		                         THEN NULL ELSE pg_get_functiondef(objid) END, '') AS d
		    FROM pg_depend
		   WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
		     AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'nosql')
		     AND classid = 'pg_proc'::regclass
		  UNION ALL
		  SELECT pg_describe_object(classid, objid, 0)
		    FROM pg_depend
		   WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
		     AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'nosql')
		     AND classid <> 'pg_proc'::regclass) s});
}

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION nosql');
my $fresh = objects('fresh');
isnt($fresh, '', 'a fresh install creates objects');

foreach my $v (grep { $_ ne $default } @versions)
{
	my $db = "from_$v";
	$db =~ s/\W/_/g;
	$node->safe_psql('postgres', qq{CREATE DATABASE "$db"});
	$node->safe_psql($db, qq{CREATE EXTENSION nosql VERSION '$v'});
	$node->safe_psql($db, 'ALTER EXTENSION nosql UPDATE');
	is($node->safe_psql($db, q{SELECT extversion FROM pg_extension WHERE extname = 'nosql'}),
		$default, "$v updates to $default");
	is(objects($db), $fresh, "$v updated to $default has the objects of a fresh install");
}

# DROP EXTENSION removes every object.  (The schema named in the control
# file is created by CREATE EXTENSION but, as for every extension, is not a
# member of it and stays.)
$node->safe_psql('fresh', 'DROP EXTENSION nosql');
is( $node->safe_psql(
		'fresh', q{
		SELECT (SELECT count(*) FROM pg_proc WHERE pronamespace = 'nosql'::regnamespace)
		     + (SELECT count(*) FROM pg_type WHERE typnamespace = 'nosql'::regnamespace)
		     + (SELECT count(*) FROM pg_class WHERE relnamespace = 'nosql'::regnamespace)
		     + (SELECT count(*) FROM pg_operator WHERE oprnamespace = 'nosql'::regnamespace)}),
	'0',
	'DROP EXTENSION leaves no object behind');
$node->safe_psql('fresh', 'CREATE EXTENSION nosql');
is(objects('fresh'), $fresh, 'the extension can be installed again after DROP');

$node->stop;
done_testing();
