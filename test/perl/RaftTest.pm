# RaftTest -- helpers of the TAP tests of nosql's raft groups: a group of
# real PostgreSQL servers on 127.0.0.1, optionally with every link between
# two members through test/raft/raftproxy.py so that a test can cut them.
package RaftTest;

use strict;
use warnings;

use Exporter 'import';
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep time);
use IO::Socket::INET;
use NosqlTest;

# Debian's python3 (with python3-psycopg2), unless NOSQL_PYTHON names another
our $python = $ENV{NOSQL_PYTHON} // (-x '/usr/bin/python3' ? '/usr/bin/python3' : 'python3');

our @EXPORT = qw(raft_group raft_add_node raft_leader raft_status raft_diag raft_wait_leader
  raft_wait_converged raft_contents raft_proxy_command raft_stop_proxy
  raft_run_load raft_lincheck);

# raft_group($name, $n, proxy => 0|1, conf => "extra lines", secret => ...)
# Returns a hash: nodes => [node objects, index 0 is member 1], ids,
# raft_ports, proxy (control port) when proxied.
sub raft_group
{
	my ($name, $n, %opts) = @_;
	my $g = { name => $name, secret => $opts{secret} // 'test-secret',
		conf => $opts{conf} // '', nodes => [], raft_ports => {},
		proxy_links => [] };
	$g->{raft_ports}{$_} = PostgreSQL::Test::Cluster::get_free_port()
	  for 1 .. $n;
	if ($opts{proxy})
	{
		# one directed link "a-b" per pair: a dials b through it
		for my $a (1 .. $n)
		{
			for my $b (1 .. $n)
			{
				next if $a == $b;
				my $port = PostgreSQL::Test::Cluster::get_free_port();
				$g->{link_port}{"$a-$b"} = $port;
				push @{ $g->{proxy_links} }, "$a-$b:$port:$g->{raft_ports}{$b}";
			}
		}
		raft_start_proxy($g);
	}
	for my $id (1 .. $n)
	{
		push @{ $g->{nodes} }, raft_make_node($g, $id, [ 1 .. $n ], 0);
	}
	$_->start for @{ $g->{nodes} };
	$_->safe_psql('postgres', 'CREATE EXTENSION nosql') for @{ $g->{nodes} };
	return $g;
}

# The peers string member $id uses to reach @ids
sub raft_peers_for
{
	my ($g, $id, $ids) = @_;
	return join(
		',',
		map {
			my $port =
				$_ == $id ? $g->{raft_ports}{$_}
			  : $g->{link_port}{"$id-$_"} // $g->{raft_ports}{$_};
			"$_=127.0.0.1:$port"
		} @$ids);
}

sub raft_make_node
{
	my ($g, $id, $ids, $join) = @_;
	my $conf = join("\n",
		"shared_preload_libraries = 'nosql'",
		"fsync = on",
		"nosql.raft_node_id = $id",
		"nosql.raft_listen = '127.0.0.1:$g->{raft_ports}{$id}'",
		"nosql.raft_peers = '" . raft_peers_for($g, $id, $ids) . "'",
		"nosql.raft_secret = '$g->{secret}'",
		($join ? "nosql.raft_join = on" : ()),
		$g->{conf});
	return nosql_node("$g->{name}_$id", extra_conf => $conf, no_start => 1);
}

# A new member $id (not started in the group): its port, proxy links
# must already exist when the group is proxied.
sub raft_add_node
{
	my ($g, $id) = @_;
	$g->{raft_ports}{$id} //= PostgreSQL::Test::Cluster::get_free_port();
	my @ids = sort { $a <=> $b } (keys %{ $g->{raft_ports} });
	my $node = raft_make_node($g, $id, \@ids, 1);
	$g->{nodes}[ $id - 1 ] = $node;
	$node->start;
	$node->safe_psql('postgres', 'CREATE EXTENSION nosql');
	return $node;
}

sub raft_start_proxy
{
	my ($g) = @_;
	my $control = PostgreSQL::Test::Cluster::get_free_port();
	my ($out, $err) = ('', '');
	my $log = "$PostgreSQL::Test::Utils::tmp_check/raftproxy_$control.log";
	my @cmd = ($python, "$ENV{NOSQL_SRCDIR}/test/raft/raftproxy.py",
		'--control', $control, '--log', $log, map { ('--link', $_) } @{ $g->{proxy_links} });
	my $h = IPC::Run::start(\@cmd, '>', \$out, '2>', \$err);
	my $deadline = time + 30;
	while ($out !~ /raftproxy: ready/ && time < $deadline)
	{
		$h->pump_nb;
		usleep(50_000);
	}
	die "raftproxy did not start: $err" unless $out =~ /raftproxy: ready/;
	$g->{proxy} = $control;
	$g->{proxy_handle} = $h;
	$g->{proxy_log} = $log;
}

# One command to the proxy; returns its reply line
sub raft_proxy_command
{
	my ($g, $cmd) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $g->{proxy},
		Proto => 'tcp') or die "cannot reach raftproxy: $!";
	print $s "$cmd\n";
	my $reply = <$s>;
	close $s;
	$reply //= '';
	chomp $reply;
	return $reply;
}

sub raft_stop_proxy
{
	my ($g) = @_;
	return unless $g->{proxy_handle};
	eval { raft_proxy_command($g, 'quit') };
	$g->{proxy_handle}->kill_kill;
	$g->{proxy_handle}->finish;
}

# The row of nosql.raft_status on a node, as a hash ('' when it is down)
sub raft_status
{
	my ($node) = @_;
	my ($rc, $out) = (0, '');
	$rc = $node->psql('postgres',
		"SELECT node_id, role, term, coalesce(leader_id, 0), commit_index, applied_index FROM nosql.raft_status",
		stdout => \$out, on_error_stop => 0);
	return {} if $rc != 0 || $out eq '';
	my @f = split /\|/, $out;
	return { id => $f[0], role => $f[1], term => $f[2], leader => $f[3],
		commit => $f[4], applied => $f[5] };
}

# Every running member's whole view of the group, and the raft lines of
# its server log, as test notes: for a failed liveness check, so that the
# run that failed says why (CI keeps only the output)
sub raft_diag
{
	my ($g) = @_;
	for my $node (grep { defined $_ && $_->{_pid} } @{ $g->{nodes} })
	{
		my $out = '';
		$node->psql('postgres', 'SELECT * FROM nosql.raft_status',
			stdout => \$out, on_error_stop => 0);
		Test::More::diag($node->name . ": $out");
		# a worker that stopped looping shows what it waits for
		$out = '';
		$node->psql('postgres',
			"SELECT pid, wait_event_type, wait_event, state, xact_start, query FROM pg_stat_activity WHERE backend_type = 'nosql raft'",
			stdout => \$out, on_error_stop => 0);
		Test::More::diag($node->name . " worker: $out");
		my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile);
		my @lines = grep { /raft: |"nosql raft"|WARNING/ && !/statement:/ } split /\n/, $log;
		splice(@lines, 0, @lines - 40) if @lines > 40;
		Test::More::diag($node->name . " log: $_") for @lines;
	}
	if ($g->{proxy})
	{
		Test::More::diag('proxy: ' . raft_proxy_command($g, 'status'));
		# what the proxy saw of each connection lately
		my @lines = -e $g->{proxy_log}
		  ? split(/\n/, PostgreSQL::Test::Utils::slurp_file($g->{proxy_log})) : ();
		splice(@lines, 0, @lines - 60) if @lines > 60;
		Test::More::diag("proxy log: $_") for @lines;
	}
	return;
}

# The leader's node object, as the running members agree, or undef
sub raft_leader
{
	my ($g) = @_;
	my %votes;
	for my $node (grep { defined $_ && $_->{_pid} } @{ $g->{nodes} })
	{
		my $st = raft_status($node);
		$votes{ $st->{leader} }++ if $st->{leader};
	}
	for my $id (keys %votes)
	{
		my $node = $g->{nodes}[ $id - 1 ];
		next unless $node && $node->{_pid};
		my $st = raft_status($node);
		return $node if ($st->{role} // '') eq 'leader';
	}
	return undef;
}

sub raft_wait_leader
{
	my ($g, $timeout) = @_;
	my $deadline = time + ($timeout // 60);
	while (time < $deadline)
	{
		my $l = raft_leader($g);
		return $l if $l;
		usleep(100_000);
	}
	return undef;
}

# A digest of a node's whole store (every version) and its revision
sub raft_contents
{
	my ($node) = @_;
	return $node->safe_psql('postgres',
		"SELECT count(*) || ':' || coalesce(max(mod_revision), 0) || ':' || md5(coalesce(string_agg(key || '/' || mod_revision || '/' || sub || '/' || create_revision || '/' || version || '/' || coalesce(encode(value, 'hex'), '-') || '/' || lease, ',' ORDER BY mod_revision, sub), '')) FROM nosql.kv_history");
}

# Wait until the running members have applied the same index and hold the
# same store; returns the digest or undef
sub raft_wait_converged
{
	my ($g, $timeout) = @_;
	my $deadline = time + ($timeout // 60);
	my @nodes = grep { defined $_ && $_->{_pid} } @{ $g->{nodes} };
	while (time < $deadline)
	{
		my %applied = map { (raft_status($_)->{applied} // -1) => 1 } @nodes;
		if (keys %applied == 1)
		{
			my %digest = map { raft_contents($_) => 1 } @nodes;
			return (keys %digest)[0] if keys %digest == 1;
		}
		usleep(200_000);
	}
	return undef;
}

# Start test/raft/raftload.py against the group's nodes; returns the
# IPC::Run handle and the history file
sub raft_run_load
{
	my ($g, %opts) = @_;
	my $history = "$PostgreSQL::Test::Utils::tmp_check/$g->{name}_history_"
	  . ($opts{tag} // 'load') . '.jsonl';
	my @dsn = map {
		('--dsn', 'host=' . $_->host . ' port=' . $_->port . ' dbname=postgres')
	} grep { defined $_ } @{ $g->{nodes} };
	my @cmd = ($python, "$ENV{NOSQL_SRCDIR}/test/raft/raftload.py", @dsn,
		'--clients', $opts{clients} // 6, '--keys', $opts{keys} // 8,
		'--duration', $opts{duration} // 10, '--history', $history,
		'--seed', $opts{seed} // 1,
		($opts{stale} ? ('--stale-read-injection', $opts{stale}) : ()));
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(\@cmd, '>', \$out, '2>', \$err);
	return { handle => $h, history => $history, out => \$out, err => \$err };
}

# Wait for the load to end, then check its history; returns (exit code,
# output of lincheck)
sub raft_lincheck
{
	my ($load) = @_;
	$load->{handle}->finish;
	note(${ $load->{out} });
	note(${ $load->{err} }) if ${ $load->{err} } ne '';
	my ($out, $err) = ('', '');
	IPC::Run::run([ $python, "$ENV{NOSQL_SRCDIR}/test/raft/lincheck.py",
		$load->{history} ], '>', \$out, '2>', \$err);
	return ($? >> 8, $out . $err, ${ $load->{out} });
}

1;
