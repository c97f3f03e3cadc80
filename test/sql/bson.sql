-- The bson type: every BSON type in Extended JSON v2 (relaxed and canonical),
-- plain JSON, input errors and limits, text and binary round trips, casts,
-- paths, containment, MongoDB's order with btree and hash indexes, ObjectId.
SET search_path = nosql, public;
SET TIME ZONE 'UTC';
SET DateStyle = 'ISO, YMD';

-- Text of a value in both output modes, and its MongoDB type name.
CREATE FUNCTION pg_temp.forms(v bson, OUT type text, OUT relaxed text, OUT canonical text)
LANGUAGE plpgsql AS $$
DECLARE
    saved text := current_setting('nosql.bson_output');
BEGIN
    type := nosql.bson_typeof(v);
    PERFORM set_config('nosql.bson_output', 'relaxed', true);
    relaxed := v::text;
    PERFORM set_config('nosql.bson_output', 'canonical', true);
    canonical := v::text;
    PERFORM set_config('nosql.bson_output', saved, true);
END $$;

-- the setting: relaxed by default, canonical on demand, nothing else
SHOW nosql.bson_output;
SELECT '{"a": 1, "b": 2.5}'::bson;
SET nosql.bson_output = canonical;
SELECT '{"a": 1, "b": 2.5}'::bson;
RESET nosql.bson_output;
SET nosql.bson_output = strict;

\x on

---------------------------------------------------------------------------
-- double
---------------------------------------------------------------------------
-- Shortest round-trip digits, ".0" to stay a double, E notation as in the
-- Extended JSON examples; non-finite values only as $numberDouble.
SELECT input, (pg_temp.forms(input::bson)).*
  FROM (VALUES ('1.0'), ('-1.0'), ('-0.0'), ('0.1'), ('1.5'), ('1e300'),
               ('5e-324'), ('1.7976931348623157e308'), ('123456789012.5'),
               ('{"$numberDouble": "1"}'), ('{"$numberDouble": "-0.0"}'),
               ('{"$numberDouble": "1.0E+300"}'),
               ('{"$numberDouble": "Infinity"}'), ('{"$numberDouble": "-Infinity"}'),
               ('{"$numberDouble": "NaN"}')) AS t(input);
SELECT '{"$numberDouble": "inf"}'::bson;
SELECT '{"$numberDouble": "0x10"}'::bson;
SELECT '{"$numberDouble": "1.0.0"}'::bson;
SELECT '{"$numberDouble": 1.5}'::bson;

---------------------------------------------------------------------------
-- string
---------------------------------------------------------------------------
-- Unicode as is, the escapes JSON requires, control characters as \u00XX,
-- NUL characters kept (BSON strings are length-prefixed).
SELECT input, (pg_temp.forms(input::bson)).*
  FROM (VALUES ('""'), ('"héllo wörld €"'), ('"\u00e9\ud834\udd1e"'),
               ('"quote \" backslash \\ slash \/"'), ('"\b\f\n\r\t"'),
               ('"\u0001\u001f"'), ('"a\u0000b"')) AS t(input);
SELECT '"\ud834\udd1e"'::bson::bytea = '"𝄞"'::bson::bytea AS surrogate_pair;
SELECT '"\ud834"'::bson;
SELECT '"\udd1e"'::bson;
SELECT E'"tab\there"'::bson;
SELECT '"\x"'::bson;

---------------------------------------------------------------------------
-- document and array
---------------------------------------------------------------------------
-- Keys keep their order; duplicate keys are kept as given.
SELECT input, (pg_temp.forms(input::bson)).*
  FROM (VALUES ('{}'), ('{"b": 1, "a": {"d": [], "c": {}}}'),
               ('{"a": 1, "a": 2, "b": 3, "a": 4}'), ('{"": 1, "a.b": 2, "$x": 3, "é": 4}'),
               ('[]'), ('[1, "two", [3], {"four": 4}]'),
               ('  { "spaced" :  [ 1 , 2 ] }  ')) AS t(input);
SELECT '{"a": 1, "a": 2}'::bson -> 'a' AS first_duplicate_wins;
SELECT '{"k\u0000": 1}'::bson;

---------------------------------------------------------------------------
-- binary
---------------------------------------------------------------------------
-- Subtypes 00 (generic), 02 (old binary, with its inner length), 04 (UUID,
-- read from $uuid or $binary), 80 (user defined); the legacy form
-- {"$binary": base64, "$type": hex} in either key order.
SELECT input, (pg_temp.forms(input::bson)).*
  FROM (VALUES ('{"$binary": {"base64": "", "subType": "00"}}'),
               ('{"$binary": {"base64": "AQIDBA==", "subType": "00"}}'),
               ('{"$binary": {"base64": "AQIDBA==", "subType": "2"}}'),
               ('{"$uuid": "73ffd264-44b3-4c69-90e8-e7d1dfc035d4"}'),
               ('{"$binary": {"base64": "c//SZESzTGmQ6OfR38A11A==", "subType": "04"}}'),
               ('{"$binary": {"base64": "AQIDBA==", "subType": "80"}}'),
               ('{"$binary": {"base64": "AQIDBA==", "subType": "fF"}}'),
               ('{"$binary": "AQIDBA==", "$type": "80"}'),
               ('{"$type": "00", "$binary": "AQIDBA=="}')) AS t(input);
-- the bytes: subtype 02 repeats the length inside the payload
SELECT '{"x": {"$binary": {"base64": "AQIDBA==", "subType": "00"}}}'::bson::bytea AS generic,
       '{"x": {"$binary": {"base64": "AQIDBA==", "subType": "02"}}}'::bson::bytea AS old_binary;
SELECT '{"$uuid": "73ffd264-44b3-4c69-90e8-e7d1dfc035d4"}'::bson
       = '{"$binary": {"base64": "c//SZESzTGmQ6OfR38A11A==", "subType": "04"}}' AS same_uuid;
SELECT '{"$binary": {"base64": "AQID*A==", "subType": "00"}}'::bson;
SELECT '{"$binary": {"base64": "AQIDBA=", "subType": "00"}}'::bson;
SELECT '{"$binary": {"base64": "AQIDBA==", "subType": "100"}}'::bson;
SELECT '{"$binary": {"base64": "AQIDBA==", "subType": "zz"}}'::bson;
SELECT '{"$binary": {"base64": "AQIDBA==", "subType": 0}}'::bson;
SELECT '{"$binary": {"base64": "AQIDBA==", "subType": "00", "x": 1}}'::bson;
SELECT '{"$binary": "AQIDBA==", "$type": "00", "x": 1}'::bson;
SELECT '{"$uuid": "73ffd264-44b3-4c69-90e8-e7d1dfc035d"}'::bson;
SELECT '{"$uuid": "73ffd26444b34c6990e8e7d1dfc035d4"}'::bson;
SELECT '{"$uuid": "73ffd264-44b3-4c69-90e8-e7d1dfc035dz"}'::bson;

---------------------------------------------------------------------------
-- undefined, ObjectId, boolean, null
---------------------------------------------------------------------------
SELECT input, (pg_temp.forms(input::bson)).*
  FROM (VALUES ('{"$undefined": true}'), ('{"$oid": "57e193d7a9cc81b4027498b5"}'),
               ('{"$oid": "57E193D7A9CC81B4027498B5"}'), ('true'), ('false'),
               ('null')) AS t(input);
SELECT '{"$undefined": false}'::bson;
SELECT '{"$oid": "57e193d7a9cc81b4027498b"}'::bson;
SELECT '{"$oid": "57e193d7a9cc81b4027498bg"}'::bson;
SELECT '{"$oid": 5}'::bson;
SELECT '{"$oid": "57e193d7a9cc81b4027498b5", "x": 1}'::bson;

---------------------------------------------------------------------------
-- date
---------------------------------------------------------------------------
-- Relaxed: ISO-8601 for 1970 to 9999, milliseconds only when not zero;
-- {"$numberLong": ...} outside that range and always in canonical mode.
-- Input offsets are applied; fractions below a millisecond are dropped.
SELECT input, (pg_temp.forms(input::bson)).*
  FROM (VALUES ('{"$date": "1970-01-01T00:00:00Z"}'),
               ('{"$date": "1970-01-01T00:00:00.000Z"}'),
               ('{"$date": "2012-12-24T12:15:30.501Z"}'),
               ('{"$date": "2012-12-24T12:15:30.5+01:00"}'),
               ('{"$date": "2012-12-24T12:15:30-0130"}'),
               ('{"$date": "2012-12-24T12:15:30.1239Z"}'),
               ('{"$date": "2000-02-29T23:59:59.999Z"}'),
               ('{"$date": "9999-12-31T23:59:59.999Z"}'),
               ('{"$date": "1969-12-31T23:59:59.999Z"}'),
               ('{"$date": {"$numberLong": "-1"}}'),
               ('{"$date": {"$numberLong": "-62135596800000"}}'),
               ('{"$date": {"$numberLong": "253402300799999"}}'),
               ('{"$date": {"$numberLong": "253402300800000"}}'),
               ('{"$date": {"$numberLong": "-9223372036854775808"}}'),
               ('{"$date": {"$numberLong": "9223372036854775807"}}')) AS t(input);
SELECT '{"$date": "2012-13-01T00:00:00Z"}'::bson;
SELECT '{"$date": "2013-02-29T00:00:00Z"}'::bson;
SELECT '{"$date": "2012-12-24"}'::bson;
SELECT '{"$date": "2012-12-24T12:15:30"}'::bson;
SELECT '{"$date": "2012-12-24T12:15:30+24:00"}'::bson;
SELECT '{"$date": "2012-12-24 12:15:30Z"}'::bson;
SELECT '{"$date": "yesterday"}'::bson;
SELECT '{"$date": 1356351330501}'::bson;
SELECT '{"$date": {"$numberInt": "1"}}'::bson;
SELECT '{"$date": {"$numberLong": "1"}, "x": 1}'::bson;

---------------------------------------------------------------------------
-- regular expression
---------------------------------------------------------------------------
-- Options are stored in alphabetical order; only i, l, m, s, u, x, once
-- each.  The legacy {"$regex": ..., "$options": ...} form is a regex too.
SELECT input, (pg_temp.forms(input::bson)).*
  FROM (VALUES ('{"$regularExpression": {"pattern": "^ab+c$", "options": ""}}'),
               ('{"$regularExpression": {"pattern": "a", "options": "xsmi"}}'),
               ('{"$regularExpression": {"pattern": "a\"b/\\d", "options": "ul"}}'),
               ('{"$regularExpression": {"options": "i", "pattern": "swapped"}}'),
               ('{"$regex": "^x", "$options": "mi"}'),
               ('{"$options": "i", "$regex": "options first"}')) AS t(input);
SELECT '{"$regularExpression": {"pattern": "a", "options": "q"}}'::bson;
SELECT '{"$regularExpression": {"pattern": "a", "options": "ii"}}'::bson;
SELECT '{"$regularExpression": {"pattern": "a\u0000", "options": ""}}'::bson;
SELECT '{"$regularExpression": {"pattern": "a"}}'::bson;

---------------------------------------------------------------------------
-- DBPointer, JavaScript code, symbol, code with scope
---------------------------------------------------------------------------
SELECT input, (pg_temp.forms(input::bson)).*
  FROM (VALUES ('{"$dbPointer": {"$ref": "db.coll", "$id": {"$oid": "57e193d7a9cc81b4027498b5"}}}'),
               ('{"$code": "function() { return \"x\"; }"}'),
               ('{"$code": "a\u0000b"}'),
               ('{"$symbol": "sym"}'),
               ('{"$symbol": "a\u0000b"}'),
               ('{"$code": "x + y", "$scope": {"x": 1, "y": {"$numberLong": "2"}}}'),
               ('{"$scope": {}, "$code": "scope first"}')) AS t(input);
SELECT '{"$dbPointer": {"$ref": "db.coll", "$id": "57e193d7a9cc81b4027498b5"}}'::bson;
SELECT '{"$code": 1}'::bson;
SELECT '{"$code": "x", "$scope": 1}'::bson;
SELECT '{"$code": "x", "$scope": {}, "y": 1}'::bson;
SELECT '{"$symbol": 1}'::bson;

---------------------------------------------------------------------------
-- int32, int64, timestamp
---------------------------------------------------------------------------
-- Relaxed output keeps int64 an int64: a plain number would read back as
-- int32 when it fits, so such an int64 stays {"$numberLong": ...}.
SELECT input, (pg_temp.forms(input::bson)).*
  FROM (VALUES ('42'), ('-2147483648'), ('{"$numberInt": "2147483647"}'),
               ('{"$numberInt": "-0"}'), ('{"$numberLong": "5"}'),
               ('{"$numberLong": "-2147483649"}'), ('{"$numberLong": "9223372036854775807"}'),
               ('{"$numberLong": "-9223372036854775808"}'),
               ('{"$timestamp": {"t": 1234567890, "i": 1}}'),
               ('{"$timestamp": {"t": 4294967295, "i": 4294967295}}'),
               ('{"$timestamp": {"i": 7, "t": 0}}')) AS t(input);
SELECT '{"$numberInt": "2147483648"}'::bson;
SELECT '{"$numberInt": "-2147483649"}'::bson;
SELECT '{"$numberInt": "12a"}'::bson;
SELECT '{"$numberInt": "1.0"}'::bson;
SELECT '{"$numberInt": "+1"}'::bson;
SELECT '{"$numberInt": ""}'::bson;
SELECT '{"$numberInt": 1}'::bson;
SELECT '{"$numberInt": "1\u0000"}'::bson;
SELECT '{"$numberLong": "9223372036854775808"}'::bson;
SELECT '{"$numberLong": "-9223372036854775809"}'::bson;
SELECT '{"$numberLong": "1e3"}'::bson;
SELECT '{"$timestamp": {"t": -1, "i": 1}}'::bson;
SELECT '{"$timestamp": {"t": 4294967296, "i": 1}}'::bson;
SELECT '{"$timestamp": {"t": 1}}'::bson;

---------------------------------------------------------------------------
-- decimal128
---------------------------------------------------------------------------
-- The coefficient and exponent are kept: 1.50 is not 1.5.
SELECT input, (pg_temp.forms(input::bson)).*
  FROM (VALUES ('{"$numberDecimal": "1.50"}'), ('{"$numberDecimal": "-0.00"}'),
               ('{"$numberDecimal": "1E+3"}'), ('{"$numberDecimal": "0.000001234"}'),
               ('{"$numberDecimal": "1234567890123456789012345678901234"}'),
               ('{"$numberDecimal": "NaN"}'), ('{"$numberDecimal": "Infinity"}'),
               ('{"$numberDecimal": "-Infinity"}')) AS t(input);
SELECT '{"$numberDecimal": "1.50"}'::bson::bytea = '{"$numberDecimal": "1.5"}'::bson::bytea AS same_bytes,
       '{"$numberDecimal": "1.50"}'::bson = '{"$numberDecimal": "1.5"}' AS equal;
SELECT '{"$numberDecimal": "1.5.0"}'::bson;
SELECT '{"$numberDecimal": 1.5}'::bson;

---------------------------------------------------------------------------
-- MinKey and MaxKey
---------------------------------------------------------------------------
SELECT input, (pg_temp.forms(input::bson)).*
  FROM (VALUES ('{"$minKey": 1}'), ('{"$maxKey": 1}')) AS t(input);
SELECT '{"$minKey": 0}'::bson;
SELECT '{"$maxKey": true}'::bson;

---------------------------------------------------------------------------
-- plain JSON numbers
---------------------------------------------------------------------------
-- Integers that fit int32 are int32, then int64; integers beyond int64 and
-- numbers with a fraction or exponent are doubles.
SELECT input, (pg_temp.forms(input::bson)).*
  FROM (VALUES ('0'), ('-0'), ('2147483647'), ('2147483648'), ('-2147483648'),
               ('-2147483649'), ('9223372036854775807'), ('-9223372036854775808'),
               ('9223372036854775808'), ('-9223372036854775809'),
               ('123456789012345678901234567890'), ('1.0'), ('1e2'), ('1E-2'),
               ('-0.0')) AS t(input);

\x off

---------------------------------------------------------------------------
-- query-operator-like documents
---------------------------------------------------------------------------
-- $regex, $options and $type are also query operators: when their shape is
-- not a value they stay documents.  Other keywords must spell a value.
SELECT input::bson AS value, bson_typeof(input::bson)
  FROM (VALUES ('{"$regex": 5}'), ('{"$regex": "a"}'), ('{"$regex": "a", "$options": "q"}'),
               ('{"$type": "string"}'), ('{"$type": 2}'), ('{"$options": "i"}'),
               ('{"$scope": {}}'), ('{"$gt": 1}'), ('{"a": {"$in": [1, 2]}}'),
               ('{"x": 1, "$oid": "57e193d7a9cc81b4027498b5"}'),
               ('{"$regex": "a", "$options": "i"}')) AS t(input);
SELECT '{"a": {"$numberLong": "1", "b": 2}}'::bson;

---------------------------------------------------------------------------
-- malformed input
---------------------------------------------------------------------------
SELECT ''::bson;
SELECT '   '::bson;
SELECT '{"a": 1'::bson;
SELECT '{"a": 1,}'::bson;
SELECT '{a: 1}'::bson;
SELECT '{"a" 1}'::bson;
SELECT '[1, 2'::bson;
SELECT '{"a": 1} x'::bson;
SELECT '{"a": 1} {"b": 2}'::bson;
SELECT '01'::bson;
SELECT 'NaN'::bson;
SELECT '{"a": undefined}'::bson;
SELECT '"unterminated'::bson;

---------------------------------------------------------------------------
-- limits: nesting depth and document size
---------------------------------------------------------------------------
-- 100 levels of documents and arrays are accepted, 101 are not, however the
-- levels are written; the inside of a value such as $timestamp is no level.
SELECT (repeat('{"a": ', 99) || '{}' || repeat('}', 99))::bson IS NOT NULL AS docs_100;
SELECT (repeat('{"a": ', 100) || '{}' || repeat('}', 100))::bson;
SELECT (repeat('[', 100) || repeat(']', 100))::bson IS NOT NULL AS arrays_100;
SELECT (repeat('[', 101) || repeat(']', 101))::bson;
SELECT (repeat('{"a": [', 50) || repeat(']}', 50))::bson IS NOT NULL AS mixed_100;
SELECT (repeat('{"a": [', 50) || '{}' || repeat(']}', 50))::bson;
SELECT (repeat('{"$type": ', 100) || '1' || repeat('}', 100))::bson IS NOT NULL AS operators_100;
SELECT (repeat('{"$type": ', 101) || '1' || repeat('}', 101))::bson;
SELECT (repeat('{"a": ', 100) || '{"$timestamp": {"t": 1, "i": 2}}' || repeat('}', 100))::bson
       IS NOT NULL AS timestamp_at_100;
SELECT (repeat('{"a": ', 99) || '{"$code": "x", "$scope": {}}' || repeat('}', 99))::bson
       IS NOT NULL AS scope_at_100;
SELECT (repeat('{"a": ', 100) || '{"$code": "x", "$scope": {}}' || repeat('}', 100))::bson;
SELECT (repeat('[', 100000) || repeat(']', 100000))::bson;
-- 16 MiB (16,777,216 bytes) is the largest document; {"a": "..."} takes 13
-- bytes besides the string's characters.
SELECT octet_length(('{"a": "' || repeat('x', 16777216 - 13) || '"}')::bson::bytea) AS max_size;
SELECT ('{"a": "' || repeat('x', 16777216 - 12) || '"}')::bson;

---------------------------------------------------------------------------
-- round trips: x::text::bson = x, byte for byte, in both output modes
---------------------------------------------------------------------------
CREATE TEMP TABLE samples (id serial PRIMARY KEY, v bson);
INSERT INTO samples (v) VALUES
    ('{}'), ('[]'), ('1'), ('"s"'), ('null'), ('true'),
    ('{"int": 1, "long": {"$numberLong": "1"}, "big": 12345678901, "double": 1.0,
      "negzero": -0.0, "tiny": 5e-324, "huge": 1.7976931348623157e308, "third": 0.3333333333333333,
      "inf": {"$numberDouble": "Infinity"}, "nan": {"$numberDouble": "NaN"},
      "dec": {"$numberDecimal": "1.50"}, "decnan": {"$numberDecimal": "NaN"},
      "decexp": {"$numberDecimal": "-1.2E-6000"}}'),
    ('{"s": "héllo \"\\/\b\f\n\r\t\u0001", "nul": "a\u0000b", "sym": {"$symbol": "x\u0000"},
      "": "empty key", "dup": 1, "dup": 2}'),
    ('{"bin": [{"$binary": {"base64": "", "subType": "00"}},
               {"$binary": {"base64": "AQIDBA==", "subType": "02"}},
               {"$uuid": "73ffd264-44b3-4c69-90e8-e7d1dfc035d4"},
               {"$binary": {"base64": "/w==", "subType": "80"}}]}'),
    ('{"oid": {"$oid": "57e193d7a9cc81b4027498b5"}, "u": {"$undefined": true},
      "min": {"$minKey": 1}, "max": {"$maxKey": 1}, "b": false, "n": null}'),
    ('{"dates": [{"$date": "1970-01-01T00:00:00Z"}, {"$date": "2012-12-24T12:15:30.501Z"},
                 {"$date": {"$numberLong": "-1"}}, {"$date": {"$numberLong": "253402300800000"}},
                 {"$date": {"$numberLong": "-9223372036854775808"}},
                 {"$date": {"$numberLong": "9223372036854775807"}}]}'),
    ('{"re": {"$regularExpression": {"pattern": "a\"b\\d/", "options": "misx"}},
      "ptr": {"$dbPointer": {"$ref": "db.c", "$id": {"$oid": "57e193d7a9cc81b4027498b5"}}},
      "code": {"$code": "f(\"\u0000\")"},
      "cws": {"$code": "x", "$scope": {"x": {"$numberLong": "1"}, "r": {"$regex": "a", "$options": "i"}}},
      "ts": {"$timestamp": {"t": 4294967295, "i": 1}}}'),
    ('{"ops": {"$regex": 5, "$type": "string"}, "q": {"$gt": {"$date": "2020-01-01T00:00:00Z"}}}'),
    ('[[[{"a": [1, {"$numberLong": "2"}, 3.0, {"$numberDecimal": "4"}]}]]]'),
    ('{"$numberDecimal": "-0"}'), ('{"$date": "2000-01-01T00:00:00Z"}'), ('{"$maxKey": 1}');
INSERT INTO samples (v) VALUES ((repeat('[', 100) || repeat(']', 100))::bson),
    ((repeat('{"a": ', 100) || '{"$timestamp": {"t": 1, "i": 2}}' || repeat('}', 100))::bson);
SELECT count(*) AS samples,
       count(*) FILTER (WHERE v::text::bson = v) AS equal,
       count(*) FILTER (WHERE v::text::bson::bytea = v::bytea) AS same_bytes
  FROM samples;
SET nosql.bson_output = canonical;
SELECT count(*) AS samples,
       count(*) FILTER (WHERE v::text::bson = v) AS equal,
       count(*) FILTER (WHERE v::text::bson::bytea = v::bytea) AS same_bytes
  FROM samples;
RESET nosql.bson_output;
\x on
SELECT id, (pg_temp.forms(v)).* FROM samples WHERE id IN (7, 11) ORDER BY id;
\x off
-- json and jsonb keep the types JSON has and the Extended JSON of the
-- others, so values come back equal through json (not byte for byte: an
-- int64 may come back an int32); jsonb orders keys, keeps the last of
-- duplicates and cannot hold NUL characters
SELECT count(*) FILTER (WHERE v::json::bson = v) AS via_json,
       count(*) FILTER (WHERE strpos(v::text, '\u0000') = 0) AS without_nul,
       count(*) FILTER (WHERE CASE WHEN strpos(v::text, '\u0000') = 0
                                   THEN v::jsonb::bson::jsonb = v::jsonb END) AS via_jsonb
  FROM samples;
SELECT '"a\u0000b"'::bson::json AS json;
SELECT '"a\u0000b"'::bson::jsonb AS jsonb;

---------------------------------------------------------------------------
-- binary: bytea casts, send/receive, validation
---------------------------------------------------------------------------
-- A document's bytes are exactly its BSON; a non-document is the wrapper
-- {"": value} followed by the byte 01.
SELECT '{"a": 1}'::bson::bytea AS document, '1'::bson::bytea AS int32,
       '[1, 2]'::bson::bytea AS array;
SELECT '\x0c0000001061000100000000'::bytea::bson AS from_bytes,
       '\x0b0000001000010000000001'::bytea::bson AS scalar_from_bytes,
       '\x0500000000'::bytea::bson AS empty;
SELECT bson_send('{"a": 1}') AS send, bson_send('{"a": 1}') = '{"a": 1}'::bson::bytea AS same,
       bson_send('"x"') AS send_scalar;
-- binary COPY goes through bson_send and bson_recv
\getenv abs_builddir PG_ABS_BUILDDIR
\set copy_file :abs_builddir '/results/bson_copy.bin'
COPY (SELECT id, v FROM samples ORDER BY id) TO :'copy_file' WITH (FORMAT binary);
CREATE TEMP TABLE samples_copy (id int, v bson);
COPY samples_copy FROM :'copy_file' WITH (FORMAT binary);
SELECT count(*) AS copied, count(*) FILTER (WHERE c.v::bytea = s.v::bytea) AS same_bytes
  FROM samples s JOIN samples_copy c USING (id);
-- bson_recv validates: a bytea sent in binary is read as a bson value
CREATE TEMP TABLE raw (b bytea);
INSERT INTO raw VALUES ('\x0c0000001061000100000000'), ('\x0c0000001461000100000000');
COPY raw TO :'copy_file' WITH (FORMAT binary);
CREATE TEMP TABLE received (v bson);
COPY received FROM :'copy_file' WITH (FORMAT binary);
DELETE FROM raw WHERE b <> '\x0c0000001061000100000000';
COPY raw TO :'copy_file' WITH (FORMAT binary);
COPY received FROM :'copy_file' WITH (FORMAT binary);
SELECT * FROM received;
-- corrupt bytes
SELECT ''::bytea::bson;
SELECT '\x05000000'::bytea::bson;
SELECT '\x0d0000001061000100000000'::bytea::bson;       -- length prefix too big
SELECT '\x0b0000001061000100000000'::bytea::bson;       -- length prefix too small
SELECT '\x0c0000001061000100000001'::bytea::bson;       -- no terminator
SELECT '\x0c0000001461000100000000'::bytea::bson;       -- type code 0x14
SELECT '\x0e00000002610002000000ff0000'::bytea::bson;   -- string not UTF-8
SELECT '\x0f00000002610003000000c0800000'::bytea::bson; -- overlong NUL
SELECT '\x100000000e610004000000eda0800000'::bytea::bson;  -- symbol with a surrogate
SELECT '\x0c00000010ff000100000000'::bytea::bson;       -- field name not UTF-8
SELECT '\x0e00000002610003000000610000'::bytea::bson;   -- string runs into the end
SELECT '\x090000000861000200'::bytea::bson;             -- boolean byte 2
SELECT '\x1b0000000461001400000010300001000000103100020000000000'::bytea::bson;  -- nested length
SELECT '\x1b0000000361001200000010300001000000103100020000000000'::bytea::bson;  -- nested document cut
SELECT '\x150000000562000800000002050000000102030400'::bytea::bson;  -- subtype 02 inner length
SELECT '\x0d0000000b72006100697a0000'::bytea::bson;     -- regex option z
SELECT '\x0d0000000b7200610069690000'::bytea::bson;     -- regex option twice
SELECT '\x0d0000000b72006100696d0000'::bytea::bson AS regex_from_bytes;
SELECT '\x0c000000106100010000000001'::bytea::bson;     -- marker after a document
SELECT '\x0c000000030005000000000001'::bytea::bson;     -- a document in a wrapper
SELECT '\x12000000100001000000106100020000000001'::bytea::bson;  -- two elements in a wrapper
-- Valid but degenerate bytes are stored in canonical form, as the BSON
-- corpus specifies: array keys other than "0", "1", ... and regex options
-- out of order, also inside a code-with-scope's scope.
SELECT b::bson AS value, b::bson::bytea AS stored
  FROM (VALUES ('\x1b0000000461001300000010300001000000103200020000000000'::bytea),
               ('\x1b0000000461001300000010310001000000103000020000000000'),
               ('\x0d0000000b720061006d690000'),
               ('\x1f0000000f6300170000000200000078000d0000000b720061006d69000000')) AS t(b);
-- depth counts the same in bytes as in text
SELECT (repeat('[', 100) || repeat(']', 100))::bson::bytea::bson IS NOT NULL AS arrays_100;
SELECT (repeat('{"a": ', 99) || '{"$code": "x", "$scope": {}}' || repeat('}', 99))::bson::bytea::bson
       IS NOT NULL AS scope_at_100;
SELECT (('{"a": "' || repeat('x', 16777216 - 13) || '"}')::bson::bytea || '\x00'::bytea)::bson;

---------------------------------------------------------------------------
-- casts to and from jsonb and json
---------------------------------------------------------------------------
-- JSON types natively (every integer as a plain number), the others as
-- Extended JSON objects.
SELECT '{"i": 1, "l": {"$numberLong": "5"}, "d": 1.5, "w": 2.0, "s": "x", "b": true, "n": null,
         "a": [1, [2]], "o": {"p": {}}}'::bson::jsonb;
SELECT '{"oid": {"$oid": "57e193d7a9cc81b4027498b5"}, "date": {"$date": "2012-12-24T12:15:30.501Z"},
         "old": {"$date": {"$numberLong": "-1"}}, "dec": {"$numberDecimal": "1.50"},
         "nan": {"$numberDouble": "NaN"}, "bin": {"$binary": {"base64": "AQ==", "subType": "80"}},
         "re": {"$regularExpression": {"pattern": "a", "options": "i"}}, "u": {"$undefined": true},
         "ts": {"$timestamp": {"t": 1, "i": 2}}, "min": {"$minKey": 1}}'::bson::jsonb;
SELECT '{"b": 1, "a": 2, "b": 3}'::bson::jsonb AS jsonb_keeps_last,
       '{"b": 1, "a": 2, "b": 3}'::bson::json AS json_keeps_all;
SELECT '{"l": {"$numberLong": "5"}, "big": 9007199254740993, "code": {"$code": "f()"}}'::bson::json;
SELECT '[1, "a"]'::bson::jsonb, '"str"'::bson::jsonb, '12345678901'::bson::json, 'null'::bson::jsonb;
-- and back: Extended JSON objects in JSON become their types
SELECT j::bson AS value, bson_typeof(j::bson)
  FROM (VALUES ('{"b": 1, "a": [1.5, "x", null]}'::jsonb), ('{"$oid": "57e193d7a9cc81b4027498b5"}'),
               ('{"$regex": "a", "$options": "i"}'), ('{"$binary": "AQ==", "$type": "80"}'),
               ('{"$date": "2020-01-01T00:00:00Z"}'), ('1e2'), ('1.50'), ('12345678901234567890')) AS t(j);
SELECT '{"a": {"$oid": "bad"}}'::jsonb::bson;
SELECT '{"b": 1, "a": {"$numberLong": "7"}, "b": 2}'::json::bson;
-- plain JSON survives jsonb -> bson -> jsonb unchanged
SELECT j, j::bson::jsonb::text = j::text AS round_trip
  FROM (VALUES ('{"b": 1, "a": [1, 2.5, "x", {"c": null}], "d": true}'::jsonb), ('[1, "two", 3.0]'),
               ('"str"'), ('12345678901'), ('-0.5'), ('null'), ('{}'), ('[]'),
               ('{"nested": {"deep": [[], {}, [{"x": false}]]}}')) AS t(j);

---------------------------------------------------------------------------
-- scalar casts
---------------------------------------------------------------------------
-- doubles and decimals round to the nearest integer, halves away from zero;
-- a double converts by its exact integer value or its shortest digits
SELECT v, v::numeric AS "numeric", v::float8 AS "float8", v::int8 AS "int8"
  FROM (VALUES ('1'::bson), ('-7'), ('{"$numberLong": "9007199254740993"}'), ('2.5'), ('-2.5'),
               ('0.49999999999999994'), ('{"$numberDouble": "-0.0"}'), ('1e18'),
               ('1.2345678901234568E+17'), ('1152921504606846976.0'), ('0.1'),
               ('{"$numberDecimal": "1.50"}'), ('{"$numberDecimal": "-2.5"}'),
               ('{"$numberDecimal": "1E+3"}')) AS t(v);
SELECT v, v::int4 AS "int4"
  FROM (VALUES ('1'::bson), ('{"$numberLong": "-2147483648"}'), ('2147483647.4'), ('-2.5'),
               ('{"$numberDecimal": "7.5"}')) AS t(v);
SELECT '{"$numberDouble": "NaN"}'::bson::numeric AS nan, '{"$numberDouble": "-Infinity"}'::bson::numeric AS neginf,
       '{"$numberDecimal": "Infinity"}'::bson::float8 AS inf, '{"$numberDecimal": "NaN"}'::bson::float8 AS decnan;
SELECT '{"$numberLong": "9223372036854775807"}'::bson::int8;
SELECT '{"$numberLong": "2147483648"}'::bson::int4;
SELECT '2147483647.5'::bson::int4;
SELECT '-2147483648.4'::bson::int4;
SELECT '1e300'::bson::int4;
SELECT '1e300'::bson::int8;
SELECT '{"$numberDecimal": "9223372036854775808"}'::bson::int8;
SELECT '{"$numberDouble": "NaN"}'::bson::int8;
SELECT '{"$numberDouble": "Infinity"}'::bson::int4;
SELECT '"1"'::bson::int4;
SELECT 'true'::bson::numeric;
SELECT 'null'::bson::float8;
SELECT '[1]'::bson::int8;
SELECT '{"a": 1}'::bson::int4;
SELECT 'true'::bson::bool, 'false'::bson::bool;
SELECT '1'::bson::bool;
SELECT '{"a": true}'::bson::bool;
SELECT '"text"'::bson::text AS string, '{"a": "x"}'::bson::text AS document, '1.5'::bson::text AS double;
SELECT '{"$date": "2012-12-24T12:15:30.501Z"}'::bson::timestamptz,
       '{"$date": {"$numberLong": "-62135596800000"}}'::bson::timestamptz AS year_1;
SELECT '{"$date": {"$numberLong": "9223372036854775807"}}'::bson::timestamptz;
SELECT '{"$date": {"$numberLong": "-9223372036854775808"}}'::bson::timestamptz;
SELECT '"2012-12-24T12:15:30Z"'::bson::timestamptz;
SELECT '{"$timestamp": {"t": 1, "i": 1}}'::bson::timestamptz;
SELECT '{"d": {"$date": "2012-12-24T12:15:30Z"}}'::bson::timestamptz;

---------------------------------------------------------------------------
-- paths: -> ->> #> #>>
---------------------------------------------------------------------------
CREATE TEMP TABLE paths (d bson);
INSERT INTO paths VALUES ('{"a": {"b": [10, {"c": "deep"}, [30, 31]], "s": "str", "n": null,
    "u": {"$undefined": true}, "i": {"$numberLong": "7"}, "t": {"$date": "2020-01-01T00:00:00Z"}},
    "x.y": "dotted key", "arr": [1, 2, 3], "": "empty key", "0": "zero"}');
SELECT d -> 'a' -> 's' AS chained, d -> 'a.s' AS dotted, d -> 'a.b.0' AS index0,
       d -> 'a.b.1.c' AS into_array, d -> 'a.b.2.1' AS nested_array, d -> 'a.b.-1' AS last
  FROM paths;
SELECT d -> 'arr' -> 0 AS first, d -> 'arr' -> 2 AS third, d -> 'arr' -> -1 AS last,
       d -> 'arr' -> -3 AS minus3, d -> '' AS empty_key, d -> '0' AS zero_key
  FROM paths;
-- missing paths are NULL
SELECT d -> 'nope' IS NULL AS missing, d -> 'a.s.x' IS NULL AS through_string,
       d -> 'a.b.3' IS NULL AS past_end, d -> 'arr' -> 3 IS NULL AS index_past_end,
       d -> 'arr' -> -4 IS NULL AS before_start, d -> 'a.b.x' IS NULL AS name_in_array,
       d -> 'x.y' IS NULL AS dotted_key, d -> 0 IS NULL AS index_of_document,
       '5'::bson -> 'a' IS NULL AS field_of_scalar
  FROM paths;
-- ->>: strings unquoted, null and undefined as SQL NULL, others as Extended JSON
SELECT d ->> 'a.s' AS string, d ->> 'a.n' IS NULL AS null_is_null, d ->> 'a.u' IS NULL AS undefined_is_null,
       d ->> 'a.i' AS int64, d ->> 'a.t' AS date, d ->> 'a.b' AS array, d ->> 'arr.1' AS int32
  FROM paths;
SET nosql.bson_output = canonical;
SELECT d ->> 'a.i' AS int64, d ->> 'arr.1' AS int32, d -> 'a.t' AS date FROM paths;
RESET nosql.bson_output;
-- #> and #>> with text[] paths, for keys with dots
SELECT d #> '{a,b,1,c}' AS value, d #>> '{a,b,1,c}' AS text, d #> '{x.y}' AS dotted_key,
       d #> '{a,b,-1,0}' AS negative_index, d #> '{arr,2}' AS arr2
  FROM paths;
SELECT d #> '{a,zz}' IS NULL AS missing, d #> '{a,NULL}' IS NULL AS null_part,
       d #>> '{a,n}' IS NULL AS null_value, d #> '{}' = d AS empty_path
  FROM paths;
SELECT '[1, [2, 3]]'::bson -> 1 -> 0 AS nested, '[1, [2, 3]]'::bson -> '1.1' AS dotted,
       '[1, [2, 3]]'::bson #>> '{1}' AS text;

---------------------------------------------------------------------------
-- containment: @> and <@ as jsonb's
---------------------------------------------------------------------------
SELECT x, '{"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2, [3, 4]], "s": "t"}'::bson @> x AS contained
  FROM (VALUES ('{}'::bson), ('{"a": 1}'), ('{"a": 1.0}'), ('{"a": {"$numberDecimal": "1.00"}}'),
               ('{"a": 2}'), ('{"b": {"c": 2}}'), ('{"b": {}}'), ('{"b": {"c": 2, "x": 1}}'),
               ('{"e": [2, 1]}'), ('{"e": [1, 1]}'), ('{"e": []}'), ('{"e": [[4]]}'), ('{"e": [4]}'),
               ('{"e": 1}'), ('{"s": {"$symbol": "t"}}'), ('{"z": null}'), ('{"a": 1, "s": "t"}')) AS t(x);
-- a top-level array contains the scalars among its elements, as in jsonb
SELECT '[1, 2, 3]'::bson @> '[3, 1]' AS subset, '[1, 2, 3]'::bson @> '[4]' AS missing,
       '[1, 2, 3]'::bson @> '3' AS scalar, '[1, [3]]'::bson @> '3' AS nested_scalar,
       '3'::bson @> '[3]' AS scalar_contains_array, '"a"'::bson @> '"a"' AS equal_scalars,
       '[{"a": 1, "b": 2}]'::bson @> '[{"a": 1}]' AS documents_in_arrays,
       '[{"a": 1}]'::bson @> '{"a": 1}' AS array_contains_document, '{}'::bson @> '[]' AS kinds;
SELECT '{"a": 1}'::bson <@ '{"a": 1, "b": 2}' AS contained_by, '{"a": 1, "b": 2}'::bson <@ '{"a": 1}' AS not_contained;
-- the same answers as jsonb for plain JSON
SELECT a, b, a::bson @> b::bson AS bson, a @> b AS jsonb
  FROM (VALUES ('{"a": [1, {"b": 2, "c": 3}]}'::jsonb, '{"a": [{"c": 3}]}'::jsonb),
               ('[1, 2]', '1'), ('[[1, 2]]', '[1]'), ('[[1, 2]]', '[[1]]'),
               ('{"a": [1, 2]}', '{"a": 1}'), ('1', '[1]'), ('{"a": null}', '{"a": null}')) AS t(a, b);

---------------------------------------------------------------------------
-- ordering: MongoDB's cross-type order, equality, btree and hash indexes
---------------------------------------------------------------------------
CREATE TEMP TABLE ordered (v bson);
INSERT INTO ordered VALUES
    ('{"$maxKey": 1}'), ('{"$code": "f()", "$scope": {}}'), ('{"$code": "f()"}'),
    ('{"$dbPointer": {"$ref": "db.c", "$id": {"$oid": "57e193d7a9cc81b4027498b5"}}}'),
    ('{"$regularExpression": {"pattern": "a", "options": "i"}}'),
    ('{"$timestamp": {"t": 1, "i": 2}}'), ('{"$timestamp": {"t": 1, "i": 1}}'),
    ('{"$date": "2020-01-01T00:00:00Z"}'), ('{"$date": {"$numberLong": "-1"}}'),
    ('true'), ('false'), ('{"$oid": "57e193d7a9cc81b4027498b5"}'), ('{"$oid": "000000000000000000000000"}'),
    ('{"$binary": {"base64": "AQI=", "subType": "00"}}'), ('{"$binary": {"base64": "Aw==", "subType": "80"}}'),
    ('{"$binary": {"base64": "Ag==", "subType": "00"}}'),
    ('[1]'), ('[]'), ('[0, 5]'), ('{"b": 1}'), ('{"a": "x"}'), ('{"a": 2}'), ('{"a": 1, "b": 1}'), ('{"a": 1}'), ('{}'),
    ('"abc"'), ('{"$symbol": "abb"}'), ('""'),
    ('{"$numberDouble": "Infinity"}'), ('{"$numberDecimal": "2.5"}'), ('{"$numberLong": "2"}'),
    ('1.5'), ('1'), ('{"$numberDecimal": "0.5"}'), ('-3'), ('{"$numberLong": "-9223372036854775808"}'),
    ('{"$numberDecimal": "-Infinity"}'), ('{"$numberDouble": "NaN"}'),
    ('null'), ('{"$undefined": true}'), ('{"$minKey": 1}');
SELECT v, bson_typeof(v) FROM ordered ORDER BY v;
SELECT v FROM ordered ORDER BY v DESC LIMIT 3;
-- equality across numeric types, by value; NaN equals NaN
SELECT '1'::bson = '1.0' AS int_double, '1'::bson = '{"$numberLong": "1"}' AS int_long,
       '1'::bson = '{"$numberDecimal": "1.00"}' AS int_decimal,
       '1.0'::bson = '{"$numberDecimal": "1.00"}' AS double_decimal,
       '{"$numberDouble": "-0.0"}'::bson = '0' AS negative_zero,
       '{"$numberDouble": "NaN"}'::bson = '{"$numberDecimal": "NaN"}' AS nans,
       '"abc"'::bson = '{"$symbol": "abc"}' AS string_symbol;
-- exact: an int64 is never rounded to a double, a double not to 15 digits
SELECT '9007199254740993'::bson = '9007199254740992.0' AS rounded,
       '9007199254740993'::bson > '9007199254740992.0' AS exact,
       '0.1'::bson = '{"$numberDecimal": "0.1"}' AS tenth,
       '0.5'::bson = '{"$numberDecimal": "0.5"}' AS half;
-- documents: element by element, type, then field name, then value
SELECT '{"a": 2}'::bson < '{"b": 1}' AS by_name, '{"a": "x"}'::bson > '{"b": 1}' AS by_type_first,
       '{"a": 1}'::bson < '{"a": 1, "b": 1}' AS prefix_first, '{"a": 1, "b": 2}'::bson <> '{"b": 2, "a": 1}' AS order_matters,
       '{"a": 1}'::bson = '{"a": 1.0}' AS values_by_value, '[1, 2]'::bson = '[1.0, {"$numberLong": "2"}]' AS arrays;
SELECT bson_cmp('1', '2') AS lt, bson_cmp('2', '1') AS gt, bson_cmp('1', '1.0') AS eq,
       '1'::bson <> '2' AS ne, '1'::bson <= '1.0' AS le, '2'::bson >= '{"$numberDecimal": "1.99"}' AS ge;
-- a btree index
CREATE TEMP TABLE docs (id int, d bson);
INSERT INTO docs SELECT i, ('{"a": ' || i || '}')::bson FROM generate_series(1, 1000) i;
CREATE INDEX docs_d ON docs (d);
ANALYZE docs;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM docs WHERE d = '{"a": 5}';
SELECT id FROM docs WHERE d = '{"a": 5.0}';
SELECT id FROM docs WHERE d = '{"a": {"$numberDecimal": "5.00"}}';
EXPLAIN (COSTS OFF) SELECT id, d FROM docs WHERE d > '{"a": 997}' ORDER BY d;
SELECT id, d FROM docs WHERE d > '{"a": 997}' ORDER BY d;
SELECT id FROM docs WHERE d >= '{"a": 999.5}';
RESET enable_seqscan;
-- a hash index, hash aggregation and a hash join group equal numbers
CREATE TEMP TABLE nums (v bson);
INSERT INTO nums VALUES ('1'), ('1.0'), ('{"$numberLong": "1"}'), ('{"$numberDecimal": "1.00"}'),
    ('2'), ('{"$numberDouble": "2.0"}'), ('"1"'), ('{"$symbol": "1"}'), ('{"a": 1}'), ('{"a": 1.0}'),
    ('{"$numberDouble": "-0.0"}'), ('0'), ('{"$numberDecimal": "-0E+3"}'),
    ('{"$numberDouble": "NaN"}'), ('{"$numberDecimal": "NaN"}');
CREATE INDEX nums_v ON nums USING hash (v);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM nums WHERE v = '1';
SELECT count(*) FROM nums WHERE v = '{"$numberLong": "1"}';
RESET enable_seqscan;
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT v, count(*) FROM nums GROUP BY v;
SELECT count(*), array_agg(bson_typeof(v) ORDER BY bson_typeof(v)) AS types
  FROM nums GROUP BY v ORDER BY 2;
RESET enable_sort;
SET enable_mergejoin = off;
SET enable_nestloop = off;
EXPLAIN (COSTS OFF) SELECT count(*) FROM nums a JOIN nums b ON a.v = b.v;
SELECT count(*) AS pairs FROM nums a JOIN nums b ON a.v = b.v;
RESET enable_mergejoin;
RESET enable_nestloop;
SELECT bson_hash('1') = bson_hash('1.0') AS int_double,
       bson_hash('1') = bson_hash('{"$numberDecimal": "1.00"}') AS int_decimal,
       bson_hash_extended('1', 42) = bson_hash_extended('{"$numberLong": "1"}', 42) AS extended,
       bson_hash('"a"') = bson_hash('{"$symbol": "a"}') AS string_symbol,
       bson_hash('{"$numberDouble": "-0.0"}') = bson_hash('0') AS negative_zero;

---------------------------------------------------------------------------
-- ObjectId
---------------------------------------------------------------------------
SELECT bson_typeof(objectid()) AS type, objectid()::text ~ '^\{"\$oid": "[0-9a-f]{24}"\}$' AS form;
CREATE TEMP TABLE oids AS SELECT i, objectid() AS id FROM generate_series(1, 1000) i;
SELECT count(DISTINCT id) AS distinct_ids FROM oids;
-- increasing within a session (time, then this process's counter)
SELECT bool_and(id < next_id) AS increasing
  FROM (SELECT id, lead(id) OVER (ORDER BY i) AS next_id FROM oids) s WHERE next_id IS NOT NULL;
SELECT bool_and(objectid_time(id) BETWEEN date_trunc('second', now()) - interval '1 minute'
                                      AND now() + interval '1 minute') AS time_close
  FROM oids;
SELECT objectid_time('{"$oid": "57e193d7a9cc81b4027498b5"}');
SELECT objectid_time('1');
SELECT objectid_time('{"id": {"$oid": "57e193d7a9cc81b4027498b5"}}');
