# Helpers shared by the nosql TAP tests.
package NosqlTest;

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use Exporter 'import';

our @EXPORT = qw(nosql_node wait_for_value run_command watch_ids table_indexes amcheck_btrees index_counts);

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
	# Debian's security releases of PostgreSQL 15 load only the output
	# plugins listed in output_plugin_libraries; other builds lack it.
	if (`postgres --describe-config 2>/dev/null` =~ /^output_plugin_libraries\t/m)
	{
		open my $fh, '<', "$ENV{NOSQL_SRCDIR}/test/output_plugins.conf"
		  or die "cannot read test/output_plugins.conf: $!";
		local $/;
		$node->append_conf('postgresql.conf', <$fh>);
	}
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

# The reply (as text) of nosql.run_command on $node, in database 'postgres',
# for the MongoDB database $db (default 'db') and the command $cmd (JSON).
sub run_command
{
	my ($node, $cmd, $db) = @_;
	$db //= 'db';
	$cmd =~ s/'/''/g;
	return $node->safe_psql('postgres', "SELECT nosql.run_command('$db', '$cmd')");
}

# The _ids (documentKey) of the change events of namespace $ns after the
# resume token $token (JSON text), in order and comma-separated, read with
# nosql.watch (which blocks up to a second while there are none), until
# $done->(list of ids) is true or $timeout seconds (default 60) pass.
sub watch_ids
{
	my ($node, $ns, $token, $done, $timeout) = @_;
	my $deadline = time + ($timeout // 60);
	my $ids = '';
	$token =~ s/'/''/g;
	while (1)
	{
		$ids = $node->safe_psql('postgres', qq(
			SELECT coalesce(string_agg(e -> 'documentKey' ->> '_id', ',' ORDER BY n), '')
			  FROM (SELECT e, row_number() OVER () AS n
			          FROM nosql.watch('$ns', resume_after => '$token', max_wait_ms => 1000) e) s));
		last if $done->(split /,/, $ids) || time > $deadline;
		usleep(100_000);
	}
	return $ids;
}

# ---- the PostgreSQL indexes behind a collection's index specs ----
#
# These helpers name no index kind: "the indexes of a collection" are every
# index of its table whose name starts with nosql_ix_, plus the primary key,
# whatever access method createIndexes used for them.

# The indexes of the collection's table $table (as 'db.coll'): a list of
# hashes {name, am, valid, ready, live, unique, primary}, by name.
sub table_indexes
{
	my ($node, $dbname, $table) = @_;
	my $rows = $node->safe_psql($dbname, qq{
		SELECT c.relname, am.amname, i.indisvalid, i.indisready, i.indislive, i.indisunique, i.indisprimary
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
		WHERE i.indrelid = 'nosql_data."$table"'::regclass
		  AND (c.relname LIKE 'nosql\\_ix\\_%' OR i.indisprimary)
		ORDER BY c.relname});
	my @indexes;
	for (split /\n/, $rows)
	{
		my ($name, $am, $valid, $ready, $live, $unique, $primary) = split /\|/;
		push @indexes, {
			name => $name, am => $am, valid => $valid eq 't', ready => $ready eq 't',
			live => $live eq 't', unique => $unique eq 't', primary => $primary eq 't' };
	}
	return @indexes;
}

# amcheck on every btree index of the table: bt_index_check and
# bt_index_parent_check with heapallindexed (every heap tuple has its index
# entry).  Needs CREATE EXTENSION amcheck.  Returns the names checked and
# the errors, one a problem index.
sub amcheck_btrees
{
	my ($node, $dbname, $table) = @_;
	my (@checked, @errors);
	for my $index (grep { $_->{am} eq 'btree' } table_indexes($node, $dbname, $table))
	{
		my $qname = qq{nosql_data."$index->{name}"};
		my ($ret, $out, $err) = $node->psql($dbname,
			qq{SELECT bt_index_check('$qname'::regclass, true); SELECT bt_index_parent_check('$qname'::regclass, true)});
		push @checked, $index->{name};
		push @errors, "$index->{name}: $err" if $ret != 0 || $err =~ /ERROR/;
	}
	return (\@checked, \@errors);
}

# For every filter (a JSON text), the number of documents of $table it
# matches and the index the plan used ('' for none), in one session with
# the given settings, e.g. 'SET enable_seqscan = off'.  With $only set,
# the other nosql_ix_ indexes are dropped in a transaction rolled back at
# the end, so that the plans can use no other.  Each filter is planned with
# its value as a constant (EXECUTE), as the commands' queries are.
# Returns a list of [count, index used].
sub index_counts
{
	my ($node, $dbname, $table, $filters, $settings, $only) = @_;
	my $array = join(',', map { my $f = $_; $f =~ s/'/''/g; "'$f'" } @$filters);
	my $drop = '';
	if (defined $only)
	{
		$drop = join('', map { qq{DROP INDEX nosql_data."$_->{name}";\n} }
			  grep { $_->{name} =~ /^nosql_ix_/ && $_->{name} ne $only } table_indexes($node, $dbname, $table));
	}
	(my $tab = $table) =~ s/'/''/g;
	my $out = $node->safe_psql($dbname, qq{
		BEGIN;
		$drop
		$settings;
		CREATE FUNCTION pg_temp.index_count(filter text, OUT n bigint, OUT used text) AS \$\$
		DECLARE
			db text := split_part('$tab', '.', 1);
			coll text := substr('$tab', length(split_part('$tab', '.', 1)) + 2);
			reply text;
		BEGIN
			-- the count command's own SQL (src/indexes.c) and its plan, from explain
			reply := nosql.run_command(db, format('{"explain": {"count": %s, "query": %s}, "verbosity": "queryPlanner"}',
			                                     to_json(coll), filter)::nosql.bson)::text;
			used := coalesce(substring(reply FROM '"Index Name": "([^"]+)"'), '');
			n := (nosql.run_command(db, format('{"count": %s, "query": %s}', to_json(coll), filter)::nosql.bson)->>'n')::bigint;
		END
		\$\$ LANGUAGE plpgsql;
		SELECT n || '|' || used FROM unnest(ARRAY[$array]::text[]) WITH ORDINALITY AS f(filter, i),
		     pg_temp.index_count(f.filter) ORDER BY i;
		ROLLBACK;});
	return map { [ split /\|/, $_, -1 ] } split /\n/, $out;
}

BEGIN
{
	# prove runs from the source directory
	$ENV{NOSQL_SRCDIR} //= Cwd::getcwd();
}

use Cwd ();

1;
