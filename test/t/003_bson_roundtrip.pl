# Random bson values survive every way in and out: text in relaxed and in
# canonical output mode, bytea, and COPY BINARY (bson_send/bson_recv), byte
# for byte.  The same values check the order and the hash: bson_cmp is
# antisymmetric, transitive on random triples and agrees with ORDER BY and
# with the operators, and values that are equal hash alike (also across
# number types).
#
# The values are generated here as canonical Extended JSON by a seeded PRNG
# that covers every BSON type, nesting up to the 100-level limit, Unicode
# (escaped and raw, astral planes, NUL), and numbers, dates and decimal128
# at their edges.  The seed is printed; NOSQL_SEED=<seed> repeats a run.
use strict;
use warnings;

use Encode qw(encode);
use MIME::Base64 qw(encode_base64);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use NosqlTest;

my $seed = $ENV{NOSQL_SEED} // 20261122;
die "NOSQL_SEED must be an integer\n" unless $seed =~ /^\d+$/;
diag("random seed $seed (NOSQL_SEED=$seed repeats this run)");
srand($seed);

my $n_random = 2500;    # random values, besides the fixed cases below
my $max_depth = 5;      # nesting of random values

# every BSON type must be generated at least once (checked below)
my %types_seen;
my @all_types = qw(double string document array binary undefined objectId
  bool date null regex dbPointer javascript symbol javascriptWithScope int
  timestamp long decimal minKey maxKey);

# ---------------------------------------------------------------- generator

sub pick { return $_[ int(rand(@_)) ]; }
sub chance { return rand() < $_[0]; }

# A random 64-bit unsigned integer (Perl's IVs are 64 bits here)
sub rand_u64
{
	return (int(rand(2**32)) << 32) | int(rand(2**32));
}

# A random signed 64-bit integer as a decimal string
sub rand_i64
{
	my $mag = rand_u64() >> 1;    # 0 .. 2^63-1
	return chance(0.5) ? "-$mag" : "$mag";
}

# One random code point, never a surrogate
sub rand_char
{
	my $r = rand();
	return chr(32 + int(rand(95))) if $r < 0.55;                # ASCII
	return chr(1 + int(rand(31))) if $r < 0.62;                 # controls
	return pick("\"", "\\", "/", "\x7f") if $r < 0.68;
	return chr(0xa0 + int(rand(0x60))) if $r < 0.76;            # Latin-1
	return chr(0x4e00 + int(rand(0x5200))) if $r < 0.84;        # CJK
	return chr(pick(0xfffd, 0xfeff, 0xe000, 0x2028, 0x2029, 0x7ff, 0x800))
	  if $r < 0.88;
	return chr(0x1f600 + int(rand(0x50))) if $r < 0.96;         # emoji
	return chr(pick(0x10000, 0x10ffff, 0x1d11e, 0x20000));
}

# A random string; NULs only where allowed
sub rand_string
{
	my ($allow_nul) = @_;
	my $len = pick(0, 1, 2, 3, 5, 8, 13, 20, 40);
	my $s = join('', map { rand_char() } 1 .. $len);
	if ($allow_nul && chance(0.03))
	{
		my $at = int(rand(length($s) + 1));
		substr($s, $at, 0) = "\0";
	}
	return $s;
}

# JSON string literal, escaping at random where JSON allows a choice
sub json_string
{
	my ($s) = @_;
	my $out = '"';
	foreach my $c (split //, $s)
	{
		my $cp = ord($c);
		if ($c eq '"') { $out .= '\\"'; }
		elsif ($c eq '\\') { $out .= '\\\\'; }
		elsif ($c eq '/' && chance(0.5)) { $out .= '\\/'; }
		elsif ($cp < 0x20)
		{
			my %short = (8 => 'b', 9 => 't', 10 => 'n', 12 => 'f', 13 => 'r');
			$out .=
			  ($short{$cp} && chance(0.5))
			  ? "\\$short{$cp}"
			  : sprintf('\\u%04x', $cp);
		}
		elsif ($cp >= 0x80 && chance(0.3))
		{
			if ($cp >= 0x10000)
			{
				my $v = $cp - 0x10000;
				$out .= sprintf('\\u%04X\\u%04x',
					0xd800 + ($v >> 10),
					0xdc00 + ($v & 0x3ff));
			}
			else { $out .= sprintf('\\u%04x', $cp); }
		}
		else { $out .= $c; }
	}
	return $out . '"';
}

# A field name: never NUL, never an Extended JSON keyword
sub rand_key
{
	my $r = rand();
	return pick('a', 'b', '_id', 'x', 'name', 'value') if $r < 0.35;
	return '' if $r < 0.38;
	return 'a.b.c' if $r < 0.40;
	return '$x_' . int(rand(100)) if $r < 0.43;    # a $ key that is no keyword
	return '' . int(rand(20)) if $r < 0.46;
	my $k = rand_string(0);
	$k =~ s/^\$/_/;
	return $k;
}

sub rand_hex { return join('', map { sprintf('%02x', int(rand(256))) } 1 .. $_[0]); }
sub rand_bytes { return join('', map { chr(int(rand(256))) } 1 .. $_[0]); }

# Text of a double for $numberDouble
sub double_text
{
	my $r = rand();
	if ($r < 0.35)
	{
		return pick(
			'0.0', '-0.0', '1.0', '-1.5', '0.1', 'Infinity', '-Infinity', 'NaN',
			'5e-324', '-5e-324', '2.2250738585072009e-308',
			'2.2250738585072014e-308', '1.7976931348623157e+308',
			'-1.7976931348623157e+308', '9007199254740993', '1e21', '1e-7',
			'123456789012345678', '4294967296', '-2147483649');
	}
	my $d = unpack('d<', pack('Q<', rand_u64()));
	return 'NaN' if $d != $d;
	return $d > 0 ? 'Infinity' : '-Infinity' if $d * 0 != 0;
	return sprintf('%.17g', $d);
}

# Text of a decimal128 for $numberDecimal
sub decimal_text
{
	return pick(
		'0', '-0', '0E+6111', '-0E-6176', '1E-6176', 'NaN', 'Infinity',
		'-Infinity', '9999999999999999999999999999999999E+6111',
		'-1.000000000000000000000000000000000E+6144', '0.001', '1.50',
		'1E+3', '-12345678901234567890123456789.01234')
	  if chance(0.3);
	my $digits = 1 + int(rand(34));
	my $coef = join('', 1 + int(rand(9)), map { int(rand(10)) } 2 .. $digits);
	my $exp = -6176 + int(rand(6111 + 6176 + 1));
	return (chance(0.5) ? '-' : '') . $coef . 'E' . ($exp >= 0 ? "+$exp" : $exp);
}

sub int32_text
{
	return pick('0', '1', '-1', '2147483647', '-2147483648') if chance(0.3);
	return '' . (int(rand(2**32)) - 2**31);
}

sub int64_text
{
	return pick('0', '-1', '2147483647', '2147483648', '-2147483649',
		'9223372036854775807', '-9223372036854775808', '42')
	  if chance(0.3);
	return rand_i64();
}

sub date_text
{
	my $r = rand();
	return pick(
		'0', '-1', '-62135596800000', '-62135596800001', '253402300799999',
		'253402300800000', '-9223372036854775808', '9223372036854775807',
		'-2208988800000', '951782400000')
	  if $r < 0.3;
	return '' . (int(rand(2 * 10**13)) - 10**13) if $r < 0.65;
	return rand_i64();
}

sub uint32_text
{
	return pick('0', '1', '2147483648', '4294967295') if chance(0.3);
	return '' . int(rand(2**32));
}

sub regex_options
{
	return join('', grep { chance(0.4) } qw(i l m s u x));
}

sub oid_json { return '{"$oid": "' . rand_hex(12) . '"}'; }

# A random value of the given type as canonical Extended JSON
sub value_of_type
{
	my ($type, $depth) = @_;
	$types_seen{$type} = 1;
	if ($type eq 'double') { return '{"$numberDouble": "' . double_text() . '"}'; }
	if ($type eq 'string') { return json_string(rand_string(1)); }
	if ($type eq 'document') { return rand_document($depth + 1); }
	if ($type eq 'array') { return rand_array($depth + 1); }
	if ($type eq 'binary')
	{
		my $sub = pick(0, 0, 1, 2, 3, 4, 4, 5, 6, 7, 8, 0x80, 0xff);
		my $len = ($sub == 3 || $sub == 4) ? 16 : pick(0, 1, 2, 3, 5, 16, 40);
		return '{"$binary": {"base64": "'
		  . encode_base64(rand_bytes($len), '')
		  . sprintf('", "subType": "%02x"}}', $sub);
	}
	if ($type eq 'undefined') { return '{"$undefined": true}'; }
	if ($type eq 'objectId') { return oid_json(); }
	if ($type eq 'bool') { return pick('true', 'false'); }
	if ($type eq 'date') { return '{"$date": {"$numberLong": "' . date_text() . '"}}'; }
	if ($type eq 'null') { return 'null'; }
	if ($type eq 'regex')
	{
		return '{"$regularExpression": {"pattern": '
		  . json_string(rand_string(0))
		  . ', "options": "'
		  . regex_options() . '"}}';
	}
	if ($type eq 'dbPointer')
	{
		return '{"$dbPointer": {"$ref": '
		  . json_string(rand_string(0))
		  . ', "$id": '
		  . oid_json() . '}}';
	}
	if ($type eq 'javascript') { return '{"$code": ' . json_string(rand_string(1)) . '}'; }
	if ($type eq 'symbol') { return '{"$symbol": ' . json_string(rand_string(1)) . '}'; }
	if ($type eq 'javascriptWithScope')
	{
		return '{"$code": '
		  . json_string(rand_string(1))
		  . ', "$scope": '
		  . rand_document($depth + 1) . '}';
	}
	if ($type eq 'int') { return '{"$numberInt": "' . int32_text() . '"}'; }
	if ($type eq 'timestamp')
	{
		return '{"$timestamp": {"t": ' . uint32_text() . ', "i": ' . uint32_text() . '}}';
	}
	if ($type eq 'long') { return '{"$numberLong": "' . int64_text() . '"}'; }
	if ($type eq 'decimal') { return '{"$numberDecimal": "' . decimal_text() . '"}'; }
	if ($type eq 'minKey') { return '{"$minKey": 1}'; }
	if ($type eq 'maxKey') { return '{"$maxKey": 1}'; }
	die "unknown type $type";
}

sub rand_value
{
	my ($depth) = @_;
	my @types = @all_types;
	# containers thin out with depth, and stop at $max_depth
	@types = grep { !/^(document|array|javascriptWithScope)$/ } @types
	  if $depth >= $max_depth || chance($depth / $max_depth);
	return value_of_type(pick(@types), $depth);
}

sub rand_document
{
	my ($depth) = @_;
	$types_seen{document} = 1;

	# a document whose first key is a keyword that spells no value (a query
	# operator, say) stays a document
	if (chance(0.02))
	{
		return pick(
			'{"$regex": {"$numberInt": "1"}}',
			'{"$type": "string"}',
			'{"$options": "i", "a": null}',
			'{"$scope": {"x": {"$numberLong": "5"}}}');
	}
	my @members;
	my $n = pick(0, 1, 1, 2, 3, 3, 4, 6);
	for (1 .. $n)
	{
		my $key = (@members && chance(0.05)) ? $members[-1][0] : rand_key();
		push @members, [ $key, rand_value($depth) ];
	}
	return '{' . join(', ', map { json_string($_->[0]) . ': ' . $_->[1] } @members) . '}';
}

sub rand_array
{
	my ($depth) = @_;
	$types_seen{array} = 1;
	my $n = pick(0, 1, 2, 3, 5, 8);
	return '[' . join(', ', map { rand_value($depth) } 1 .. $n) . ']';
}

# ---------------------------------------------------------------- the values

my @values;    # canonical Extended JSON, id = index + 1

for (1 .. $n_random)
{
	# mostly documents, as stored in collections; the rest any value
	push @values, chance(0.7) ? rand_document(0) : rand_value(0);
}

# every type also alone at the top, as a wrapped value
push @values, value_of_type($_, 0) foreach @all_types;

# nesting at the limit: 100 levels in all, counted as the parser does
push @values, ('{"d": ' x 99) . '{}' . ('}' x 99);
push @values, ('[' x 100) . (']' x 100);
push @values, ('{"a": [' x 50) . ']}' x 50;
push @values,
    '{"c": {"$code": "s", "$scope": '
  . ('{"d": ' x 98) . '{}'
  . ('}' x 98) . '}}';

# Values equal across types, for the hash check (and the order)
my @equal_groups = (
	[
		'{"$numberInt": "1"}', '{"$numberLong": "1"}',
		'{"$numberDouble": "1.0"}', '{"$numberDecimal": "1"}',
		'{"$numberDecimal": "1.000"}', '{"$numberDecimal": "0.1E+1"}'
	],
	[
		'{"$numberInt": "0"}', '{"$numberLong": "0"}',
		'{"$numberDouble": "0.0"}', '{"$numberDouble": "-0.0"}',
		'{"$numberDecimal": "0"}', '{"$numberDecimal": "-0"}',
		'{"$numberDecimal": "0E+10"}', '{"$numberDecimal": "-0E-20"}'
	],
	[
		'{"$numberInt": "-7"}', '{"$numberLong": "-7"}',
		'{"$numberDouble": "-7.0"}', '{"$numberDecimal": "-7.0"}'
	],
	[
		'{"$numberLong": "1099511627776"}',
		'{"$numberDouble": "1099511627776.0"}',
		'{"$numberDecimal": "1099511627776"}'
	],
	[ '{"$numberDouble": "1.5"}', '{"$numberDecimal": "1.5"}', '{"$numberDecimal": "15E-1"}' ],
	[ '{"$numberDouble": "NaN"}', '{"$numberDecimal": "NaN"}' ],
	[ '{"$numberDouble": "Infinity"}', '{"$numberDecimal": "Infinity"}' ],
	[ '{"$numberDouble": "-Infinity"}', '{"$numberDecimal": "-Infinity"}' ],
	[ '"abc"', '{"$symbol": "abc"}' ],
	[ '{"a": {"$numberInt": "1"}}', '{"a": {"$numberDouble": "1.0"}}', '{"a": {"$numberLong": "1"}}' ],
	[
		'[{"$numberInt": "1"}, {"$numberInt": "2"}]',
		'[{"$numberDouble": "1.0"}, {"$numberDecimal": "2.00"}]'
	],
	[
		'{"x": [{"y": {"$numberInt": "0"}}]}',
		'{"x": [{"y": {"$numberDouble": "-0.0"}}]}'
	],
	[ '{"$minKey": 1}', '{"$minKey": 1}' ],
	[ '{"$maxKey": 1}', '{"$maxKey": 1}' ],
);
my $first_group_id = @values + 1;
my @group_of;    # [id, group number] of each value of a group
for my $g (0 .. $#equal_groups)
{
	foreach my $v (@{ $equal_groups[$g] })
	{
		push @values, $v;
		push @group_of, [ scalar @values, $g ];
	}
}
my $n_values = @values;

my @missing = grep { !$types_seen{$_} } @all_types;
is("@missing", '', 'the generator produced every BSON type');

# ---------------------------------------------------------------- loading

$ENV{PGCLIENTENCODING} = 'UTF8';
my $node = nosql_node('roundtrip');
$node->safe_psql('postgres',
	"CREATE DATABASE rt TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'");
$node->safe_psql('rt', 'CREATE EXTENSION nosql');

my $dir = PostgreSQL::Test::Utils::tempdir();
my $csv = "$dir/values.csv";
open(my $fh, '>:raw', $csv) or die "cannot write $csv: $!";
for my $i (0 .. $#values)
{
	(my $q = $values[$i]) =~ s/"/""/g;

	# Encode's lax "utf8" also writes the noncharacters (U+10FFFF) the
	# strict "UTF-8" refuses
	print $fh encode('utf8', ($i + 1) . ",\"$q\"\n");
}
close($fh);

# random pairs and triples of ids for the order checks
my $pairs = "$dir/pairs.csv";
open($fh, '>', $pairs) or die "cannot write $pairs: $!";
printf $fh "%d,%d,%d\n", map { 1 + int(rand($n_values)) } 1 .. 3 for 1 .. 5000;
close($fh);

$node->safe_psql(
	'rt', qq{
	CREATE TABLE src (id int PRIMARY KEY, t text);
	COPY src FROM '$csv' WITH (FORMAT csv, ENCODING 'UTF8');
	CREATE TABLE vals (id int PRIMARY KEY, v nosql.bson);
	CREATE TABLE bad (id int, err text);
	DO \$\$
	DECLARE
		r record;
	BEGIN
		FOR r IN SELECT * FROM src ORDER BY id LOOP
			BEGIN
				INSERT INTO vals VALUES (r.id, r.t::nosql.bson);
			EXCEPTION WHEN others THEN
				INSERT INTO bad VALUES (r.id, SQLERRM);
			END;
		END LOOP;
	END
	\$\$;
	CREATE TABLE triples (a int, b int, c int);
	COPY triples FROM '$pairs' WITH (FORMAT csv);
	CREATE TABLE groups (id int, g int);
	INSERT INTO groups VALUES @{[ join(', ', map { "($_->[0], $_->[1])" } @group_of) ]};

	-- NULL when v comes back as the same bytes, else what went wrong
	CREATE FUNCTION text_trip(v nosql.bson) RETURNS text LANGUAGE plpgsql AS \$\$
	BEGIN
		IF v::text::nosql.bson::bytea = v::bytea THEN
			RETURN NULL;
		END IF;
		RETURN 'reads back as ' || v::text::nosql.bson::text;
	EXCEPTION WHEN others THEN
		RETURN 'error: ' || SQLERRM;
	END \$\$;
	CREATE FUNCTION bytea_trip(v nosql.bson) RETURNS text LANGUAGE plpgsql AS \$\$
	BEGIN
		IF v::bytea::nosql.bson OPERATOR(nosql.=) v AND
		   v::bytea::nosql.bson::bytea = v::bytea THEN
			RETURN NULL;
		END IF;
		RETURN 'reads back as ' || v::bytea::nosql.bson::text;
	EXCEPTION WHEN others THEN
		RETURN 'error: ' || SQLERRM;
	END \$\$;
});

# Run a query that counts problems; on a count other than 0, show the rows
# of the detail query.
sub expect_none
{
	my ($name, $count_sql, $detail_sql) = @_;
	my $count = $node->safe_psql('rt', $count_sql);
	is($count, '0', $name);
	diag("first problems:\n" . $node->safe_psql('rt', $detail_sql))
	  if $count ne '0' && defined $detail_sql;
}

expect_none(
	"all $n_values generated values load",
	'SELECT count(*) FROM bad',
	q{SELECT b.id, b.err, left(s.t, 300) FROM bad b JOIN src s USING (id)
	  ORDER BY b.id LIMIT 5});
is($node->safe_psql('rt', 'SELECT count(*) FROM vals'), $n_values, 'vals holds every value');

# ---------------------------------------------------------------- (a) text

foreach my $mode (qw(relaxed canonical))
{
	expect_none(
		"text round trip in $mode output mode, byte for byte",
		"SET nosql.bson_output = $mode;
		 SELECT count(*) FROM vals WHERE text_trip(v) IS NOT NULL",
		"SET nosql.bson_output = $mode;
		 SELECT id, left(v::text, 300), left(text_trip(v), 300) FROM vals
		  WHERE text_trip(v) IS NOT NULL ORDER BY id LIMIT 5");
}

# the text of a value does not depend on how often it went round
expect_none(
	'canonical text is stable',
	q{SET nosql.bson_output = canonical;
	  SELECT count(*) FROM vals WHERE v::text::nosql.bson::text <> v::text});

# ---------------------------------------------------------------- (b) COPY BINARY

my $bin = "$dir/vals.bin";
$node->safe_psql(
	'rt', qq{
	COPY vals TO '$bin' WITH (FORMAT binary);
	CREATE TABLE vals2 (id int PRIMARY KEY, v nosql.bson);
	COPY vals2 FROM '$bin' WITH (FORMAT binary);
});
expect_none(
	'COPY BINARY out and in gives the same bytes',
	q{SELECT count(*) FROM vals a FULL JOIN vals2 b USING (id)
	   WHERE a.v::bytea IS DISTINCT FROM b.v::bytea},
	q{SELECT id, left(a.v::text, 200), left(b.v::text, 200)
	    FROM vals a FULL JOIN vals2 b USING (id)
	   WHERE a.v::bytea IS DISTINCT FROM b.v::bytea ORDER BY id LIMIT 5});

# ---------------------------------------------------------------- (c) bytea

expect_none(
	'bytea round trip: v::bytea::bson = v, same bytes',
	'SELECT count(*) FROM vals WHERE bytea_trip(v) IS NOT NULL',
	q{SELECT id, left(v::text, 300), left(bytea_trip(v), 300) FROM vals
	   WHERE bytea_trip(v) IS NOT NULL ORDER BY id LIMIT 5});

# ---------------------------------------------------------------- (d) order

expect_none('bson_cmp(v, v) = 0',
	'SELECT count(*) FROM vals WHERE nosql.bson_cmp(v, v) <> 0');

expect_none(
	'bson_cmp(a, b) = -bson_cmp(b, a) on 5000 random pairs, and the operators agree',
	q{SELECT count(*) FROM triples t JOIN vals a ON a.id = t.a JOIN vals b ON b.id = t.b
	   WHERE sign(nosql.bson_cmp(a.v, b.v)) <> -sign(nosql.bson_cmp(b.v, a.v))
	      OR (a.v OPERATOR(nosql.<) b.v) <> (nosql.bson_cmp(a.v, b.v) < 0)
	      OR (a.v OPERATOR(nosql.=) b.v) <> (nosql.bson_cmp(a.v, b.v) = 0)
	      OR (a.v OPERATOR(nosql.>=) b.v) <> (nosql.bson_cmp(a.v, b.v) >= 0)},
	q{SELECT a.id, b.id, nosql.bson_cmp(a.v, b.v), nosql.bson_cmp(b.v, a.v),
	         left(a.v::text, 100), left(b.v::text, 100)
	    FROM triples t JOIN vals a ON a.id = t.a JOIN vals b ON b.id = t.b
	   WHERE sign(nosql.bson_cmp(a.v, b.v)) <> -sign(nosql.bson_cmp(b.v, a.v))
	   LIMIT 5});

expect_none(
	'bson_cmp is transitive on 5000 random triples',
	q{SELECT count(*) FROM triples t
	    JOIN vals a ON a.id = t.a JOIN vals b ON b.id = t.b JOIN vals c ON c.id = t.c
	   WHERE nosql.bson_cmp(a.v, b.v) <= 0 AND nosql.bson_cmp(b.v, c.v) <= 0
	     AND nosql.bson_cmp(a.v, c.v) > 0});

expect_none(
	'ORDER BY v sorts so that every adjacent pair has bson_cmp <= 0',
	q{SELECT count(*) FROM (SELECT v, lead(v) OVER (ORDER BY v) AS next FROM vals) s
	   WHERE next IS NOT NULL AND nosql.bson_cmp(v, next) > 0},
	q{SELECT left(v::text, 150), left(next::text, 150)
	    FROM (SELECT v, lead(v) OVER (ORDER BY v) AS next FROM vals) s
	   WHERE next IS NOT NULL AND nosql.bson_cmp(v, next) > 0 LIMIT 5});

# the same through a btree index scan
expect_none(
	'an index scan on the btree opclass returns the same order',
	q{CREATE INDEX vals_v ON vals (v);
	  SET enable_seqscan = off; SET enable_bitmapscan = off;
	  SELECT count(*) FROM (SELECT v, lead(v) OVER (ORDER BY v) AS next FROM vals) s
	   WHERE next IS NOT NULL AND nosql.bson_cmp(v, next) > 0});

# ---------------------------------------------------------------- (e) hash

# the values meant to be equal across types (else the hash check below
# would not see them)
expect_none(
	'the groups of values equal across types compare equal',
	q{SELECT count(*) FROM groups x JOIN groups y ON x.g = y.g AND x.id < y.id
	    JOIN vals a ON a.id = x.id JOIN vals b ON b.id = y.id
	   WHERE NOT a.v OPERATOR(nosql.=) b.v},
	q{SELECT a.id, b.id, a.v::text, b.v::text
	    FROM groups x JOIN groups y ON x.g = y.g AND x.id < y.id
	    JOIN vals a ON a.id = x.id JOIN vals b ON b.id = y.id
	   WHERE NOT a.v OPERATOR(nosql.=) b.v LIMIT 10});

# the groups and a fifth of the random values, each against each
$node->safe_psql('rt',
	"CREATE TABLE sample AS SELECT * FROM vals WHERE id >= $first_group_id OR id % 5 = 0");
my $equal_pairs = $node->safe_psql('rt',
	'SELECT count(*) FROM sample a JOIN sample b ON a.v OPERATOR(nosql.=) b.v AND a.id < b.id');
cmp_ok($equal_pairs, '>=', 50, "the sample holds $equal_pairs pairs of equal values");

expect_none(
	'equal values have equal bson_hash and bson_hash_extended',
	q{SELECT count(*) FROM sample a JOIN sample b ON a.v OPERATOR(nosql.=) b.v
	   WHERE nosql.bson_hash(a.v) <> nosql.bson_hash(b.v)
	      OR nosql.bson_hash_extended(a.v, 42) <> nosql.bson_hash_extended(b.v, 42)},
	q{SELECT a.id, b.id, left(a.v::text, 100), left(b.v::text, 100)
	    FROM sample a JOIN sample b ON a.v OPERATOR(nosql.=) b.v
	   WHERE nosql.bson_hash(a.v) <> nosql.bson_hash(b.v)
	      OR nosql.bson_hash_extended(a.v, 42) <> nosql.bson_hash_extended(b.v, 42)
	   LIMIT 5});

# a hash join finds exactly the pairs a nested loop finds
my $join_sql =
  'SELECT count(*) FROM sample a JOIN sample b ON a.v OPERATOR(nosql.=) b.v';
my $by_loop = $node->safe_psql('rt',
	"SET enable_hashjoin = off; SET enable_mergejoin = off; $join_sql");
my $by_hash = $node->safe_psql('rt',
	"SET enable_nestloop = off; SET enable_mergejoin = off; $join_sql");
is($by_hash, $by_loop, "a hash join on = finds the $by_loop pairs a nested loop finds");

$node->stop;
done_testing();
