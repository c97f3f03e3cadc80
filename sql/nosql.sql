-- nosql: document, key-value, coordination, time-series and change-stream
-- workloads inside PostgreSQL.  This file is the single source of the install
-- script; the build copies it to nosql--<version>.sql.
\echo Use "CREATE EXTENSION nosql" to load this file. \quit

---------------------------------------------------------------------------
-- Foundation
---------------------------------------------------------------------------

-- Types and functions are for every role; data objects carry their own grants.
GRANT USAGE ON SCHEMA nosql TO PUBLIC;

CREATE FUNCTION nosql.version() RETURNS text
    AS 'MODULE_PATHNAME', 'nosql_version'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.version() IS
    'version of the loaded nosql library';

CREATE FUNCTION nosql.worker_wakeup() RETURNS boolean
    AS 'MODULE_PATHNAME', 'worker_wakeup'
    LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION nosql.worker_wakeup() IS
    'ask the nosql launcher to start this database''s background worker now; false when the library is not preloaded';
REVOKE ALL ON FUNCTION nosql.worker_wakeup() FROM PUBLIC;

-- Start this database's background worker without waiting for the launcher's
-- next round (a no-op when nosql is not in shared_preload_libraries).
SELECT nosql.worker_wakeup();

---------------------------------------------------------------------------
-- bson: any BSON value
---------------------------------------------------------------------------

CREATE TYPE nosql.bson;

CREATE FUNCTION nosql.bson_in(cstring) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_in(cstring) IS 'bson input: Extended JSON v2 or plain JSON';
CREATE FUNCTION nosql.bson_out(nosql.bson) RETURNS cstring
    AS 'MODULE_PATHNAME', 'bson_out' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_out(nosql.bson) IS 'bson output: Extended JSON, relaxed or canonical by nosql.bson_output';
CREATE FUNCTION nosql.bson_recv(internal) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_recv(internal) IS 'bson binary input: BSON bytes, validated';
CREATE FUNCTION nosql.bson_send(nosql.bson) RETURNS bytea
    AS 'MODULE_PATHNAME', 'bson_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_send(nosql.bson) IS 'bson binary output: the BSON bytes';

CREATE TYPE nosql.bson (
    INPUT = nosql.bson_in,
    OUTPUT = nosql.bson_out,
    RECEIVE = nosql.bson_recv,
    SEND = nosql.bson_send,
    INTERNALLENGTH = VARIABLE,
    STORAGE = extended,
    ALIGNMENT = int4,
    CATEGORY = 'U'
);
COMMENT ON TYPE nosql.bson IS 'a BSON value: a document, an array or a scalar of any BSON type';

-- casts
CREATE FUNCTION nosql.bson(bytea) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_from_bytea' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson(bytea) IS 'bson from BSON bytes, validated';
CREATE FUNCTION nosql.bytea(nosql.bson) RETURNS bytea
    AS 'MODULE_PATHNAME', 'bson_to_bytea' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bytea(nosql.bson) IS 'the BSON bytes of a bson value';
CREATE FUNCTION nosql.bson(jsonb) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_from_jsonb' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson(jsonb) IS 'bson from jsonb; Extended JSON objects become their BSON types';
CREATE FUNCTION nosql.jsonb(nosql.bson) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'bson_to_jsonb' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.jsonb(nosql.bson) IS 'jsonb of a bson value: JSON types natively, others as Extended JSON objects';
CREATE FUNCTION nosql.bson(json) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_from_json' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson(json) IS 'bson from json; Extended JSON objects become their BSON types';
CREATE FUNCTION nosql.json(nosql.bson) RETURNS json
    AS 'MODULE_PATHNAME', 'bson_to_json' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.json(nosql.bson) IS 'json of a bson value: JSON types natively, others as Extended JSON objects';
CREATE FUNCTION nosql.text(nosql.bson) RETURNS text
    AS 'MODULE_PATHNAME', 'bson_to_text' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.text(nosql.bson) IS 'Extended JSON text of a bson value';
CREATE FUNCTION nosql."numeric"(nosql.bson) RETURNS numeric
    AS 'MODULE_PATHNAME', 'bson_to_numeric' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql."numeric"(nosql.bson) IS 'a bson number as numeric';
CREATE FUNCTION nosql.float8(nosql.bson) RETURNS double precision
    AS 'MODULE_PATHNAME', 'bson_to_float8' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.float8(nosql.bson) IS 'a bson number as double precision';
CREATE FUNCTION nosql.int8(nosql.bson) RETURNS bigint
    AS 'MODULE_PATHNAME', 'bson_to_int8' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.int8(nosql.bson) IS 'a bson number as bigint (rounded)';
CREATE FUNCTION nosql.int4(nosql.bson) RETURNS integer
    AS 'MODULE_PATHNAME', 'bson_to_int4' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.int4(nosql.bson) IS 'a bson number as integer (rounded)';
CREATE FUNCTION nosql.bool(nosql.bson) RETURNS boolean
    AS 'MODULE_PATHNAME', 'bson_to_bool' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bool(nosql.bson) IS 'a bson boolean as boolean';
CREATE FUNCTION nosql.timestamptz(nosql.bson) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'bson_to_timestamptz' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.timestamptz(nosql.bson) IS 'a bson date as timestamp with time zone';

CREATE CAST (bytea AS nosql.bson) WITH FUNCTION nosql.bson(bytea);
CREATE CAST (nosql.bson AS bytea) WITH FUNCTION nosql.bytea(nosql.bson);
CREATE CAST (jsonb AS nosql.bson) WITH FUNCTION nosql.bson(jsonb);
CREATE CAST (nosql.bson AS jsonb) WITH FUNCTION nosql.jsonb(nosql.bson);
CREATE CAST (json AS nosql.bson) WITH FUNCTION nosql.bson(json);
CREATE CAST (nosql.bson AS json) WITH FUNCTION nosql.json(nosql.bson);
CREATE CAST (nosql.bson AS text) WITH FUNCTION nosql.text(nosql.bson);
CREATE CAST (nosql.bson AS numeric) WITH FUNCTION nosql."numeric"(nosql.bson);
CREATE CAST (nosql.bson AS double precision) WITH FUNCTION nosql.float8(nosql.bson);
CREATE CAST (nosql.bson AS bigint) WITH FUNCTION nosql.int8(nosql.bson);
CREATE CAST (nosql.bson AS integer) WITH FUNCTION nosql.int4(nosql.bson);
CREATE CAST (nosql.bson AS boolean) WITH FUNCTION nosql.bool(nosql.bson);
CREATE CAST (nosql.bson AS timestamptz) WITH FUNCTION nosql.timestamptz(nosql.bson);

CREATE FUNCTION nosql.bson_typeof(nosql.bson) RETURNS text
    AS 'MODULE_PATHNAME', 'bson_typeof' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_typeof(nosql.bson) IS 'MongoDB type name ($type alias) of a bson value';

-- ordering: MongoDB's cross-type sort order
CREATE FUNCTION nosql.bson_cmp(nosql.bson, nosql.bson) RETURNS integer
    AS 'MODULE_PATHNAME', 'bson_cmp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_cmp(nosql.bson, nosql.bson) IS 'compare bson values in MongoDB''s sort order';
CREATE FUNCTION nosql.bson_eq(nosql.bson, nosql.bson) RETURNS boolean
    AS 'MODULE_PATHNAME', 'bson_eq' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_eq(nosql.bson, nosql.bson) IS 'implementation of = for bson';
CREATE FUNCTION nosql.bson_ne(nosql.bson, nosql.bson) RETURNS boolean
    AS 'MODULE_PATHNAME', 'bson_ne' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_ne(nosql.bson, nosql.bson) IS 'implementation of <> for bson';
CREATE FUNCTION nosql.bson_lt(nosql.bson, nosql.bson) RETURNS boolean
    AS 'MODULE_PATHNAME', 'bson_lt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_lt(nosql.bson, nosql.bson) IS 'implementation of < for bson';
CREATE FUNCTION nosql.bson_le(nosql.bson, nosql.bson) RETURNS boolean
    AS 'MODULE_PATHNAME', 'bson_le' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_le(nosql.bson, nosql.bson) IS 'implementation of <= for bson';
CREATE FUNCTION nosql.bson_gt(nosql.bson, nosql.bson) RETURNS boolean
    AS 'MODULE_PATHNAME', 'bson_gt' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_gt(nosql.bson, nosql.bson) IS 'implementation of > for bson';
CREATE FUNCTION nosql.bson_ge(nosql.bson, nosql.bson) RETURNS boolean
    AS 'MODULE_PATHNAME', 'bson_ge' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_ge(nosql.bson, nosql.bson) IS 'implementation of >= for bson';
CREATE FUNCTION nosql.bson_hash(nosql.bson) RETURNS integer
    AS 'MODULE_PATHNAME', 'bson_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_hash(nosql.bson) IS 'hash of a bson value, consistent with =';
CREATE FUNCTION nosql.bson_hash_extended(nosql.bson, bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'bson_hash_extended' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_hash_extended(nosql.bson, bigint) IS 'seeded 64-bit hash of a bson value, consistent with =';

CREATE OPERATOR nosql.= (
    LEFTARG = nosql.bson, RIGHTARG = nosql.bson, FUNCTION = nosql.bson_eq,
    COMMUTATOR = OPERATOR(nosql.=), NEGATOR = OPERATOR(nosql.<>),
    RESTRICT = eqsel, JOIN = eqjoinsel, HASHES, MERGES);
COMMENT ON OPERATOR nosql.= (nosql.bson, nosql.bson) IS 'equal in MongoDB''s order (1 = 1.0)';
CREATE OPERATOR nosql.<> (
    LEFTARG = nosql.bson, RIGHTARG = nosql.bson, FUNCTION = nosql.bson_ne,
    COMMUTATOR = OPERATOR(nosql.<>), NEGATOR = OPERATOR(nosql.=),
    RESTRICT = neqsel, JOIN = neqjoinsel);
COMMENT ON OPERATOR nosql.<> (nosql.bson, nosql.bson) IS 'not equal in MongoDB''s order';
CREATE OPERATOR nosql.< (
    LEFTARG = nosql.bson, RIGHTARG = nosql.bson, FUNCTION = nosql.bson_lt,
    COMMUTATOR = OPERATOR(nosql.>), NEGATOR = OPERATOR(nosql.>=),
    RESTRICT = scalarltsel, JOIN = scalarltjoinsel);
COMMENT ON OPERATOR nosql.< (nosql.bson, nosql.bson) IS 'less than in MongoDB''s order';
CREATE OPERATOR nosql.<= (
    LEFTARG = nosql.bson, RIGHTARG = nosql.bson, FUNCTION = nosql.bson_le,
    COMMUTATOR = OPERATOR(nosql.>=), NEGATOR = OPERATOR(nosql.>),
    RESTRICT = scalarlesel, JOIN = scalarlejoinsel);
COMMENT ON OPERATOR nosql.<= (nosql.bson, nosql.bson) IS 'less than or equal in MongoDB''s order';
CREATE OPERATOR nosql.> (
    LEFTARG = nosql.bson, RIGHTARG = nosql.bson, FUNCTION = nosql.bson_gt,
    COMMUTATOR = OPERATOR(nosql.<), NEGATOR = OPERATOR(nosql.<=),
    RESTRICT = scalargtsel, JOIN = scalargtjoinsel);
COMMENT ON OPERATOR nosql.> (nosql.bson, nosql.bson) IS 'greater than in MongoDB''s order';
CREATE OPERATOR nosql.>= (
    LEFTARG = nosql.bson, RIGHTARG = nosql.bson, FUNCTION = nosql.bson_ge,
    COMMUTATOR = OPERATOR(nosql.<=), NEGATOR = OPERATOR(nosql.<),
    RESTRICT = scalargesel, JOIN = scalargejoinsel);
COMMENT ON OPERATOR nosql.>= (nosql.bson, nosql.bson) IS 'greater than or equal in MongoDB''s order';

CREATE OPERATOR CLASS nosql.bson_ops
    DEFAULT FOR TYPE nosql.bson USING btree AS
        OPERATOR 1 nosql.< ,
        OPERATOR 2 nosql.<= ,
        OPERATOR 3 nosql.= ,
        OPERATOR 4 nosql.>= ,
        OPERATOR 5 nosql.> ,
        FUNCTION 1 nosql.bson_cmp(nosql.bson, nosql.bson);
COMMENT ON OPERATOR CLASS nosql.bson_ops USING btree IS 'MongoDB''s sort order over bson values';
COMMENT ON OPERATOR FAMILY nosql.bson_ops USING btree IS 'MongoDB''s sort order over bson values';

CREATE OPERATOR CLASS nosql.bson_hash_ops
    DEFAULT FOR TYPE nosql.bson USING hash AS
        OPERATOR 1 nosql.= ,
        FUNCTION 1 nosql.bson_hash(nosql.bson),
        FUNCTION 2 nosql.bson_hash_extended(nosql.bson, bigint);
COMMENT ON OPERATOR CLASS nosql.bson_hash_ops USING hash IS 'hashing of bson values consistent with =';
COMMENT ON OPERATOR FAMILY nosql.bson_hash_ops USING hash IS 'hashing of bson values consistent with =';

-- paths and containment
CREATE FUNCTION nosql.bson_get_path(nosql.bson, text) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_get_path' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_get_path(nosql.bson, text) IS 'value at a field name or dotted path (numeric parts index arrays)';
CREATE FUNCTION nosql.bson_get_path_text(nosql.bson, text) RETURNS text
    AS 'MODULE_PATHNAME', 'bson_get_path_text' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_get_path_text(nosql.bson, text) IS 'value at a field name or dotted path, as text';
CREATE FUNCTION nosql.bson_get_index(nosql.bson, integer) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_get_index' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_get_index(nosql.bson, integer) IS 'array element (negative counts from the end)';
CREATE FUNCTION nosql.bson_get_array_path(nosql.bson, text[]) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_get_array_path' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_get_array_path(nosql.bson, text[]) IS 'value at a path given as an array of keys';
CREATE FUNCTION nosql.bson_get_array_path_text(nosql.bson, text[]) RETURNS text
    AS 'MODULE_PATHNAME', 'bson_get_array_path_text' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_get_array_path_text(nosql.bson, text[]) IS 'value at a path given as an array of keys, as text';
CREATE FUNCTION nosql.bson_contains(nosql.bson, nosql.bson) RETURNS boolean
    AS 'MODULE_PATHNAME', 'bson_contains' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_contains(nosql.bson, nosql.bson) IS 'implementation of @> for bson';
CREATE FUNCTION nosql.bson_contained(nosql.bson, nosql.bson) RETURNS boolean
    AS 'MODULE_PATHNAME', 'bson_contained' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_contained(nosql.bson, nosql.bson) IS 'implementation of <@ for bson';

CREATE OPERATOR nosql.-> (LEFTARG = nosql.bson, RIGHTARG = text, FUNCTION = nosql.bson_get_path);
COMMENT ON OPERATOR nosql.-> (nosql.bson, text) IS 'value at a field name or dotted path';
CREATE OPERATOR nosql.-> (LEFTARG = nosql.bson, RIGHTARG = integer, FUNCTION = nosql.bson_get_index);
COMMENT ON OPERATOR nosql.-> (nosql.bson, integer) IS 'array element';
CREATE OPERATOR nosql.->> (LEFTARG = nosql.bson, RIGHTARG = text, FUNCTION = nosql.bson_get_path_text);
COMMENT ON OPERATOR nosql.->> (nosql.bson, text) IS 'value at a field name or dotted path, as text';
CREATE OPERATOR nosql.#> (LEFTARG = nosql.bson, RIGHTARG = text[], FUNCTION = nosql.bson_get_array_path);
COMMENT ON OPERATOR nosql.#> (nosql.bson, text[]) IS 'value at a path of keys';
CREATE OPERATOR nosql.#>> (LEFTARG = nosql.bson, RIGHTARG = text[], FUNCTION = nosql.bson_get_array_path_text);
COMMENT ON OPERATOR nosql.#>> (nosql.bson, text[]) IS 'value at a path of keys, as text';
CREATE OPERATOR nosql.@> (
    LEFTARG = nosql.bson, RIGHTARG = nosql.bson, FUNCTION = nosql.bson_contains,
    COMMUTATOR = OPERATOR(nosql.<@), RESTRICT = matchingsel, JOIN = matchingjoinsel);
COMMENT ON OPERATOR nosql.@> (nosql.bson, nosql.bson) IS 'contains';
CREATE OPERATOR nosql.<@ (
    LEFTARG = nosql.bson, RIGHTARG = nosql.bson, FUNCTION = nosql.bson_contained,
    COMMUTATOR = OPERATOR(nosql.@>), RESTRICT = matchingsel, JOIN = matchingjoinsel);
COMMENT ON OPERATOR nosql.<@ (nosql.bson, nosql.bson) IS 'is contained by';

-- ObjectId
CREATE FUNCTION nosql.objectid() RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'objectid' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.objectid() IS 'a new ObjectId';
CREATE FUNCTION nosql.objectid_time(nosql.bson) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'objectid_time' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.objectid_time(nosql.bson) IS 'creation time recorded in an ObjectId';

-- MongoDB filters
CREATE FUNCTION nosql.bson_matches(nosql.bson, nosql.bson) RETURNS boolean
    AS 'MODULE_PATHNAME', 'bson_matches' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_matches(nosql.bson, nosql.bson) IS 'whether a document matches a MongoDB filter (implementation of @@)';
CREATE OPERATOR nosql.@@ (
    LEFTARG = nosql.bson, RIGHTARG = nosql.bson, FUNCTION = nosql.bson_matches,
    RESTRICT = matchingsel, JOIN = matchingjoinsel);
COMMENT ON OPERATOR nosql.@@ (nosql.bson, nosql.bson) IS 'document matches a MongoDB filter';

-- GIN indexing of @@ (src/bson_gin.c): keys are (dotted path, value) pairs
-- as bytea, compared bytewise by pg_catalog.byteacmp
CREATE FUNCTION nosql.bson_gin_extract_value(nosql.bson, internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'bson_gin_extract_value' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_gin_extract_value(nosql.bson, internal, internal) IS 'GIN support: the (path, value) keys of a document';
CREATE FUNCTION nosql.bson_gin_extract_query(nosql.bson, internal, int2, internal, internal, internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'bson_gin_extract_query' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_gin_extract_query(nosql.bson, internal, int2, internal, internal, internal, internal) IS 'GIN support: the keys a MongoDB filter searches for';
CREATE FUNCTION nosql.bson_gin_consistent(internal, int2, nosql.bson, int4, internal, internal, internal, internal) RETURNS boolean
    AS 'MODULE_PATHNAME', 'bson_gin_consistent' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_gin_consistent(internal, int2, nosql.bson, int4, internal, internal, internal, internal) IS 'GIN support: whether a document may match a MongoDB filter';
CREATE FUNCTION nosql.bson_gin_triconsistent(internal, int2, nosql.bson, int4, internal, internal, internal) RETURNS "char"
    AS 'MODULE_PATHNAME', 'bson_gin_triconsistent' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_gin_triconsistent(internal, int2, nosql.bson, int4, internal, internal, internal) IS 'GIN support: whether a document may match a MongoDB filter (ternary)';
CREATE FUNCTION nosql.bson_gin_compare_partial(bytea, bytea, int2, internal) RETURNS int4
    AS 'MODULE_PATHNAME', 'bson_gin_compare_partial' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_gin_compare_partial(bytea, bytea, int2, internal) IS 'GIN support: whether a key lies in the range a filter condition searches';
CREATE FUNCTION nosql.bson_gin_options(internal) RETURNS void
    AS 'MODULE_PATHNAME', 'bson_gin_options' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_gin_options(internal) IS 'GIN support: the options of bson_gin_ops (paths: the comma-separated dotted paths an index holds keys for)';

CREATE OPERATOR CLASS nosql.bson_gin_ops
    FOR TYPE nosql.bson USING gin AS
        OPERATOR 1 nosql.@@ (nosql.bson, nosql.bson),
        FUNCTION 1 pg_catalog.byteacmp(bytea, bytea),
        FUNCTION 2 nosql.bson_gin_extract_value(nosql.bson, internal, internal),
        FUNCTION 3 nosql.bson_gin_extract_query(nosql.bson, internal, int2, internal, internal, internal, internal),
        FUNCTION 4 nosql.bson_gin_consistent(internal, int2, nosql.bson, int4, internal, internal, internal, internal),
        FUNCTION 5 nosql.bson_gin_compare_partial(bytea, bytea, int2, internal),
        FUNCTION 6 nosql.bson_gin_triconsistent(internal, int2, nosql.bson, int4, internal, internal, internal),
        FUNCTION 7 nosql.bson_gin_options(internal),
        STORAGE bytea;
COMMENT ON OPERATOR CLASS nosql.bson_gin_ops USING gin IS 'GIN index of documents'' (path, value) pairs serving MongoDB filters (@@)';
COMMENT ON OPERATOR FAMILY nosql.bson_gin_ops USING gin IS 'GIN index of documents'' (path, value) pairs serving MongoDB filters (@@)';

-- keys of the btree indexes behind MongoDB's ordered indexes (src/index_key.c)
CREATE FUNCTION nosql.bson_index_key(document nosql.bson, path text) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_index_key' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_index_key(nosql.bson, text) IS 'key of a single-field index: the value at a dotted path, null when missing, NULL when an array is on the path';
CREATE FUNCTION nosql.bson_index_key(document nosql.bson, path text, paths text[]) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_index_key_compound' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_index_key(nosql.bson, text, text[]) IS 'key of one field of a compound index over paths: NULL when an array is on any of the paths';
CREATE FUNCTION nosql.bson_index_key(document nosql.bson, path text, paths text[], collation nosql.bson) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_index_key_collated' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_index_key(nosql.bson, text, text[], nosql.bson) IS 'key of one field of an index with a MongoDB collation: strings replaced by their collation sort keys';
CREATE FUNCTION nosql.bson_unique_multikey() RETURNS trigger
    AS 'MODULE_PATHNAME', 'bson_unique_multikey' LANGUAGE C;
COMMENT ON FUNCTION nosql.bson_unique_multikey() IS 'trigger beside a unique single-field index: array elements are unique keys too, as in MongoDB';
CREATE FUNCTION nosql.bson_index_multikey(document nosql.bson, paths text[]) RETURNS boolean
    AS 'MODULE_PATHNAME', 'bson_index_multikey' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_index_multikey(nosql.bson, text[]) IS 'whether an array lies on one of the paths (a multikey document of an index over them)';
CREATE FUNCTION nosql.bson_index_present(document nosql.bson, paths text[]) RETURNS boolean
    AS 'MODULE_PATHNAME', 'bson_index_present' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_index_present(nosql.bson, text[]) IS 'whether a document has one of the paths (the predicate of sparse indexes)';
CREATE FUNCTION nosql.bson_index_hash(document nosql.bson, path text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'bson_index_hash' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_index_hash(nosql.bson, text) IS 'key of a hashed index: the hash of the value at a dotted path';
CREATE FUNCTION nosql.bson_near_distance(nosql.bson, nosql.bson) RETURNS float8
    AS 'MODULE_PATHNAME', 'bson_near_distance' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_near_distance(nosql.bson, nosql.bson) IS 'distance from a document to the point of the $near or $nearSphere of a MongoDB filter (meters for GeoJSON, radians for legacy $nearSphere, coordinate units for legacy $near; NULL without one)';
CREATE FUNCTION nosql.bson_matches(document nosql.bson, filter nosql.bson, collation nosql.bson) RETURNS boolean
    AS 'MODULE_PATHNAME', 'bson_matches_collated' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_matches(nosql.bson, nosql.bson, nosql.bson) IS 'whether a document matches a MongoDB filter with strings compared under a MongoDB collation';
CREATE FUNCTION nosql.bson_matches_text(document nosql.bson, filter nosql.bson, text_index nosql.bson) RETURNS boolean
    AS 'MODULE_PATHNAME', 'bson_matches_text' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_matches_text(nosql.bson, nosql.bson, nosql.bson) IS 'whether a document matches a MongoDB filter whose $text searches the fields of a text index spec';
CREATE FUNCTION nosql.bson_matches_text(document nosql.bson, filter nosql.bson, text_index nosql.bson, collation nosql.bson) RETURNS boolean
    AS 'MODULE_PATHNAME', 'bson_matches_text_collated' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_matches_text(nosql.bson, nosql.bson, nosql.bson, nosql.bson) IS 'whether a document matches a MongoDB filter with a $text over a text index spec, strings compared under a MongoDB collation';

---------------------------------------------------------------------------
-- Documents: collections and the MongoDB command interface
---------------------------------------------------------------------------

-- The tables of the collections.  Roles create collections (tables) here
-- and own them; REVOKE CREATE ON SCHEMA nosql_data FROM PUBLIC to restrict
-- who may create collections.
CREATE SCHEMA nosql_data;
COMMENT ON SCHEMA nosql_data IS 'tables of the nosql document collections';
GRANT USAGE, CREATE ON SCHEMA nosql_data TO PUBLIC;

-- A user catalog table: the change stream output plugin reads it while
-- decoding, to know which table is which collection (src/cdc_output.c).
CREATE TABLE nosql.collection (
    database text NOT NULL,
    name text NOT NULL,
    relation regclass,
    options nosql.bson NOT NULL,
    uuid uuid NOT NULL,
    created timestamptz NOT NULL DEFAULT now(),
    indexes nosql.bson,
    PRIMARY KEY (database, name)
) WITH (user_catalog_table = true);
COMMENT ON TABLE nosql.collection IS 'catalog of the document collections: one row per collection or view';
GRANT SELECT ON nosql.collection TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('nosql.collection', '');

-- Index builds that run in the background (createIndexes with
-- background: true, or nosql.background_index_builds = on): one row per
-- index while a background worker builds it with CREATE INDEX
-- CONCURRENTLY; the row goes when the index is ready, or stays with state
-- 'failed' and the error when the build failed (the index spec is then
-- removed, as MongoDB removes an index whose build failed).  Rows with
-- companion = true build the multikey GIN index beside an ordered index
-- whose documents got arrays after it was built (queued by the database's
-- worker; their failure leaves the index as it was).
CREATE TABLE nosql.index_build (
    id serial PRIMARY KEY,
    relation oid NOT NULL,
    database text NOT NULL,
    collection text NOT NULL,
    name text NOT NULL,
    spec nosql.bson NOT NULL,
    role oid NOT NULL,
    companion boolean NOT NULL DEFAULT false,
    state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'building', 'failed')),
    pid integer,
    code integer,
    error text,
    created timestamptz NOT NULL DEFAULT now(),
    started timestamptz,
    finished timestamptz
);
CREATE INDEX ON nosql.index_build (relation);
COMMENT ON SEQUENCE nosql.index_build_id_seq IS 'identifiers of the background index builds';
COMMENT ON TABLE nosql.index_build IS 'index builds running in the background, and the failed ones';
GRANT SELECT ON nosql.index_build TO PUBLIC;

-- Backends cache their collection lookups; every change of the catalog
-- empties the caches.
CREATE FUNCTION nosql.collection_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'collection_changed' LANGUAGE C;
COMMENT ON FUNCTION nosql.collection_changed() IS 'statement trigger: invalidate the backends'' cached collection lookups';
CREATE TRIGGER collection_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON nosql.collection
    FOR EACH STATEMENT EXECUTE FUNCTION nosql.collection_changed();
COMMENT ON TRIGGER collection_changed ON nosql.collection IS 'invalidate the backends'' cached collection lookups';

CREATE VIEW nosql.collections AS
    SELECT database, name, relation, options,
           CASE WHEN relation IS NULL THEN 'view' ELSE 'collection' END AS type,
           uuid, created
      FROM nosql.collection;
COMMENT ON VIEW nosql.collections IS 'the document collections and views, with the table of each';
GRANT SELECT ON nosql.collections TO PUBLIC;

-- A collection whose table is dropped by SQL leaves the catalog with it.
CREATE FUNCTION nosql.collection_table_dropped() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM nosql.collection c
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND d.objid = c.relation::oid;
END
$$;
COMMENT ON FUNCTION nosql.collection_table_dropped() IS 'event trigger: forget collections whose table was dropped';
REVOKE ALL ON FUNCTION nosql.collection_table_dropped() FROM PUBLIC;
CREATE EVENT TRIGGER nosql_collection_table_dropped ON sql_drop
    EXECUTE FUNCTION nosql.collection_table_dropped();
COMMENT ON EVENT TRIGGER nosql_collection_table_dropped IS 'forget collections whose table was dropped by SQL';

CREATE FUNCTION nosql.run_command(database text, command nosql.bson) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'run_command' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.run_command(text, nosql.bson) IS 'run a MongoDB command document; returns MongoDB''s reply (errors as {ok: 0, code, codeName, errmsg})';
CREATE FUNCTION nosql.run_command_bytes(database text, command bytea) RETURNS bytea
    AS 'MODULE_PATHNAME', 'run_command_bytes' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.run_command_bytes(text, bytea) IS 'run_command over raw BSON bytes, as a wire-protocol front end sends them';

CREATE FUNCTION nosql.bson_sort_value(document nosql.bson, path text, descending boolean) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_sort_value' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_sort_value(nosql.bson, text, boolean) IS 'the value MongoDB sorts a document by for one path (smallest array element ascending, largest descending)';
CREATE FUNCTION nosql.bson_sort_value(document nosql.bson, path text, descending boolean, collation nosql.bson) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_sort_value_collated' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_sort_value(nosql.bson, text, boolean, nosql.bson) IS 'the value MongoDB sorts a document by for one path under a MongoDB collation, its strings replaced by their collation sort keys';

-- The ergonomic SQL functions: 'coll' is a collection of the database named
-- by nosql.database, 'db.coll' names the database.
CREATE FUNCTION nosql.create_collection(name text, options nosql.bson DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'nosql_create_collection' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.create_collection(text, nosql.bson) IS 'create a collection (options as for MongoDB''s create command)';
CREATE FUNCTION nosql.drop_collection(name text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'nosql_drop_collection' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.drop_collection(text) IS 'drop a collection; false when it did not exist';
CREATE FUNCTION nosql.insert_one(coll text, document nosql.bson) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'nosql_insert_one' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.insert_one(text, nosql.bson) IS 'insert a document (an ObjectId _id is added when missing); returns its _id';
CREATE FUNCTION nosql.insert_many(coll text, documents nosql.bson) RETURNS bigint
    AS 'MODULE_PATHNAME', 'nosql_insert_many' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.insert_many(text, nosql.bson) IS 'insert an array of documents, all or none; returns how many';
CREATE FUNCTION nosql.find(coll text, filter nosql.bson DEFAULT NULL, projection nosql.bson DEFAULT NULL,
                           sort nosql.bson DEFAULT NULL, skip bigint DEFAULT 0, "limit" bigint DEFAULT NULL)
    RETURNS SETOF nosql.bson
    AS 'MODULE_PATHNAME', 'nosql_find' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.find(text, nosql.bson, nosql.bson, nosql.bson, bigint, bigint) IS 'the documents matching a MongoDB filter, projected, sorted, skipped and limited';
CREATE FUNCTION nosql.aggregate(coll text, pipeline nosql.bson) RETURNS SETOF nosql.bson
    AS 'MODULE_PATHNAME', 'nosql_aggregate' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.aggregate(text, nosql.bson) IS 'the documents a MongoDB aggregation pipeline (a JSON array of stages) returns';
CREATE FUNCTION nosql.bson_aggregate_stream(document nosql.bson, chain nosql.bson) RETURNS SETOF nosql.bson
    AS 'MODULE_PATHNAME', 'bson_aggregate_stream' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_aggregate_stream(nosql.bson, nosql.bson) IS 'the documents a run of streaming aggregation stages ($match, $project, $addFields, $unset, $replaceRoot, $unwind) makes of one document (used by the SQL of aggregate)';
CREATE FUNCTION nosql.bson_aggregate_count(n bigint, field text) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_aggregate_count' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_aggregate_count(bigint, text) IS 'the document of an aggregation $count stage: {field: n}';
CREATE FUNCTION nosql.bson_aggregate_documents(documents nosql.bson) RETURNS SETOF nosql.bson
    AS 'MODULE_PATHNAME', 'bson_aggregate_documents' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_aggregate_documents(nosql.bson) IS 'the documents of an array, the source of a $documents pipeline';

-- the metadata stages (src/agg_meta.c): the sources of their pipelines
CREATE FUNCTION nosql.bson_aggregate_coll_stats(database text, collection text, spec nosql.bson) RETURNS SETOF nosql.bson
    AS 'MODULE_PATHNAME', 'bson_aggregate_coll_stats' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION nosql.bson_aggregate_coll_stats(text, text, nosql.bson) IS 'the document of a $collStats stage: the table''s counters and sizes (needs SELECT on it)';
CREATE FUNCTION nosql.bson_aggregate_index_stats(database text, collection text) RETURNS SETOF nosql.bson
    AS 'MODULE_PATHNAME', 'bson_aggregate_index_stats' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION nosql.bson_aggregate_index_stats(text, text) IS 'the documents of an $indexStats stage: one per index, with the idx_scan counters behind it';
CREATE FUNCTION nosql.bson_aggregate_plan_cache_stats(database text, collection text) RETURNS SETOF nosql.bson
    AS 'MODULE_PATHNAME', 'bson_aggregate_plan_cache_stats' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION nosql.bson_aggregate_plan_cache_stats(text, text) IS 'the documents of a $planCacheStats stage: this backend''s saved plans of the commands'' queries reading the collection';
CREATE FUNCTION nosql.bson_aggregate_cluster_catalog(database text, spec nosql.bson) RETURNS SETOF nosql.bson
    AS 'MODULE_PATHNAME', 'bson_aggregate_cluster_catalog' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION nosql.bson_aggregate_cluster_catalog(text, nosql.bson) IS 'the documents of a $listClusterCatalog stage: the collections and views of the database (of all on admin)';
CREATE FUNCTION nosql.bson_aggregate_query_settings(spec nosql.bson) RETURNS SETOF nosql.bson
    AS 'MODULE_PATHNAME', 'bson_aggregate_query_settings' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION nosql.bson_aggregate_query_settings(nosql.bson) IS 'the documents of a $querySettings stage: none, there is no query settings store';
CREATE FUNCTION nosql.bson_aggregate_current_op(spec nosql.bson) RETURNS SETOF nosql.bson
    AS 'MODULE_PATHNAME', 'bson_aggregate_current_op' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION nosql.bson_aggregate_current_op(nosql.bson) IS 'the documents of a $currentOp stage: a document per backend of pg_stat_activity';

-- $lookup (src/agg_lookup.c): a correlated subquery over the foreign table
CREATE FUNCTION nosql.bson_lookup_filter(document nosql.bson, local_field text, foreign_field text) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_lookup_filter' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_lookup_filter(nosql.bson, text, text) IS 'the filter {foreign_field: {$in: values of local_field}} of a $lookup equality match for one document';
CREATE FUNCTION nosql.bson_lookup_keys(document nosql.bson, local_field text) RETURNS nosql.bson[]
    AS 'MODULE_PATHNAME', 'bson_lookup_keys' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_lookup_keys(nosql.bson, text) IS 'the values of local_field a $lookup matches (an array''s elements, null when none), as index keys';
CREATE FUNCTION nosql.bson_lookup_set(document nosql.bson, as_field text, matches nosql.bson[]) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_lookup_set' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_lookup_set(nosql.bson, text, nosql.bson[]) IS 'the document with the documents a $lookup matched as the array at the path as_field';
CREATE FUNCTION nosql.bson_lookup_let(document nosql.bson, spec nosql.bson) RETURNS nosql.bson[]
    AS 'MODULE_PATHNAME', 'bson_lookup_let' LANGUAGE C STABLE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.bson_lookup_let(nosql.bson, nosql.bson) IS 'the documents of the sub-pipeline of a $lookup with let variables for one outer document (spec {db, from, let, pipeline, local, foreign, collation, now}): the let values bound into the pipeline, run as an aggregate of its own';

-- $geoNear (src/agg_geonear.c): the documents of a query by
-- nosql.bson_near_distance, with their distance and location set
CREATE FUNCTION nosql.bson_geo_near_result(document nosql.bson, distance float8, spec nosql.bson, near nosql.bson) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_geo_near_result' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_geo_near_result(nosql.bson, float8, nosql.bson, nosql.bson) IS 'a document $geoNear returns: the distance (times spec.m) at the path spec.f, the location nearest to the point of the $near filter near at the path spec.l';

-- metadata ($meta) of the documents of a pipeline (src/agg_stages.c)
CREATE FUNCTION nosql.bson_meta_set(document nosql.bson, name text, value float8) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_meta_set' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_meta_set(nosql.bson, text, float8) IS 'the document with the metadata value name (the score of $rankFusion) set, for $meta';
CREATE FUNCTION nosql.bson_meta_strip(document nosql.bson) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_meta_strip' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_meta_strip(nosql.bson) IS 'the document without the metadata a pipeline stage gave it (what the pipeline returns)';

-- $group (src/agg_group.c): GROUP BY nosql.bson_group_key(...) with one
-- nosql.bson_group_accumulate(...) per accumulator
CREATE FUNCTION nosql.bson_group_key(document nosql.bson, spec nosql.bson) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_group_key' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_group_key(nosql.bson, nosql.bson) IS 'the $group key of a document: the value of the _id expression of spec {e, c} (null when missing; strings as collation sort keys under c)';
CREATE FUNCTION nosql.bson_group_accumulate_transition(state internal, document nosql.bson, spec nosql.bson, ord bigint) RETURNS internal
    AS 'MODULE_PATHNAME', 'bson_group_accumulate_transition' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_group_accumulate_transition(internal, nosql.bson, nosql.bson, bigint) IS 'transition function of nosql.bson_group_accumulate';
CREATE FUNCTION nosql.bson_group_accumulate_final(state internal) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_group_accumulate_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_group_accumulate_final(internal) IS 'final function of nosql.bson_group_accumulate';
CREATE FUNCTION nosql.bson_group_accumulate_combine(a internal, b internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'bson_group_accumulate_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_group_accumulate_combine(internal, internal) IS 'combine function of nosql.bson_group_accumulate (partial states of parallel workers)';
CREATE FUNCTION nosql.bson_group_accumulate_serialize(state internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'bson_group_accumulate_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_group_accumulate_serialize(internal) IS 'serialization function of nosql.bson_group_accumulate';
CREATE FUNCTION nosql.bson_group_accumulate_deserialize(data bytea, state internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'bson_group_accumulate_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_group_accumulate_deserialize(bytea, internal) IS 'deserialization function of nosql.bson_group_accumulate';
CREATE AGGREGATE nosql.bson_group_accumulate(document nosql.bson, spec nosql.bson, ord bigint) (
    SFUNC = nosql.bson_group_accumulate_transition,
    STYPE = internal,
    FINALFUNC = nosql.bson_group_accumulate_final,
    COMBINEFUNC = nosql.bson_group_accumulate_combine,
    SERIALFUNC = nosql.bson_group_accumulate_serialize,
    DESERIALFUNC = nosql.bson_group_accumulate_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE nosql.bson_group_accumulate(nosql.bson, nosql.bson, bigint) IS 'a $group accumulator ($sum, $avg, $push, ...) over the documents of a group: spec {k: kind, e: expression, c: collation}; ord numbers the input in order for $first, $last and $push';
CREATE FUNCTION nosql.bson_group_result(id nosql.bson, names nosql.bson, results nosql.bson[]) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_group_result' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_group_result(nosql.bson, nosql.bson, nosql.bson[]) IS 'the document of a $group: {_id: id, name: result, ...} with the names {f: [...]}';
-- $facet (src/agg_facet.c): WITH f AS MATERIALIZED (...) and one
-- nosql.bson_facet_array(...) per sub-pipeline over it
CREATE FUNCTION nosql.bson_facet_array_transition(state internal, document nosql.bson) RETURNS internal
    AS 'MODULE_PATHNAME', 'bson_facet_array_transition' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_facet_array_transition(internal, nosql.bson) IS 'transition function of nosql.bson_facet_array';
CREATE FUNCTION nosql.bson_facet_array_final(state internal) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_facet_array_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_facet_array_final(internal) IS 'final function of nosql.bson_facet_array';
CREATE AGGREGATE nosql.bson_facet_array(document nosql.bson) (
    SFUNC = nosql.bson_facet_array_transition,
    STYPE = internal,
    FINALFUNC = nosql.bson_facet_array_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE nosql.bson_facet_array(nosql.bson) IS 'the array of the documents of a $facet sub-pipeline, in their order (MongoDB''s error past 16 MiB)';
CREATE FUNCTION nosql.bson_facet_result(names nosql.bson, facets nosql.bson[]) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_facet_result' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_facet_result(nosql.bson, nosql.bson[]) IS 'the document of a $facet: {name: array, ...} with the names {f: [...]}';

-- $bucketAuto (src/agg_facet.c): the bucket of each document in the
-- sorted order from a running aggregate, then a GROUP BY on it
CREATE FUNCTION nosql.bson_bucket_auto_transition(state internal, key nosql.bson, total bigint, buckets integer, granularity text) RETURNS internal
    AS 'MODULE_PATHNAME', 'bson_bucket_auto_transition' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_bucket_auto_transition(internal, nosql.bson, bigint, integer, text) IS 'transition function of nosql.bson_bucket_auto_index';
CREATE FUNCTION nosql.bson_bucket_auto_final(state internal) RETURNS bigint
    AS 'MODULE_PATHNAME', 'bson_bucket_auto_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_bucket_auto_final(internal) IS 'final function of nosql.bson_bucket_auto_index';
CREATE AGGREGATE nosql.bson_bucket_auto_index(key nosql.bson, total bigint, buckets integer, granularity text) (
    SFUNC = nosql.bson_bucket_auto_transition,
    STYPE = internal,
    FINALFUNC = nosql.bson_bucket_auto_final
);
COMMENT ON AGGREGATE nosql.bson_bucket_auto_index(nosql.bson, bigint, integer, text) IS 'used as a running window aggregate over the sorted groupBy values of $bucketAuto: the bucket (from 0) of the current document';
CREATE FUNCTION nosql.bson_bucket_auto_bounds(first nosql.bson, last nosql.bson, previous_last nosql.bson, next_first nosql.bson, granularity text) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_bucket_auto_bounds' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_bucket_auto_bounds(nosql.bson, nosql.bson, nosql.bson, nosql.bson, text) IS 'the _id {min, max} of a $bucketAuto bucket from its first and last values and its neighbours'' (rounded by a granularity)';

-- $graphLookup (src/agg_lookup.c): a recursive CTE per input document
CREATE FUNCTION nosql.bson_graph_start(value nosql.bson) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_graph_start' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_graph_start(nosql.bson) IS 'the document {v: value} of a $graphLookup''s startWith value, matched like a $lookup''s localField v';
CREATE FUNCTION nosql.bson_graph_filter(document nosql.bson, from_field text, to_field text) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_graph_filter' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_graph_filter(nosql.bson, text, text) IS 'the filter {to_field: {$in: values of from_field}} of a $graphLookup step, NULL when from_field is missing';
CREATE FUNCTION nosql.bson_graph_depth(document nosql.bson, depth_field text, depth bigint) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_graph_depth' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_graph_depth(nosql.bson, text, bigint) IS 'the document with its $graphLookup depth (a long) in depth_field';

-- $setWindowFields (src/agg_window.c): window functions over the documents,
-- nosql.bson_group_accumulate among them
CREATE FUNCTION nosql.bson_window_result(document nosql.bson, names nosql.bson, results nosql.bson[]) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_window_result' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_window_result(nosql.bson, nosql.bson, nosql.bson[]) IS 'a document with its $setWindowFields output fields set: names {f: [paths], d: [values for empty windows]}';
CREATE FUNCTION nosql.bson_window_number(n bigint) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_window_number' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_window_number(bigint) IS 'a rank of $setWindowFields as a bson int (long beyond the int range)';
CREATE FUNCTION nosql.bson_window_range_key(value nosql.bson) RETURNS float8
    AS 'MODULE_PATHNAME', 'bson_window_range_key' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_window_range_key(nosql.bson) IS 'the sortBy value of a range window as a number (MongoDB error 5429414 for other types)';
CREATE FUNCTION nosql.bson_window_date_key(value nosql.bson) RETURNS timestamp
    AS 'MODULE_PATHNAME', 'bson_window_date_key' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_window_date_key(nosql.bson) IS 'the sortBy value of a time range window (with a unit) as a UTC timestamp (MongoDB error 5429513 for other types)';
CREATE FUNCTION nosql.bson_window_derivative(first nosql.bson, last nosql.bson, unit float8) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_window_derivative' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_window_derivative(nosql.bson, nosql.bson, float8) IS '$derivative from the [input, sortBy] pairs of the first and last documents of its window (per unit milliseconds when unit is not 0)';
CREATE FUNCTION nosql.bson_window_trapezoid(pair nosql.bson, previous nosql.bson, unit float8) RETURNS float8
    AS 'MODULE_PATHNAME', 'bson_window_trapezoid' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_window_trapezoid(nosql.bson, nosql.bson, float8) IS 'for $integral: the trapezoid between a document''s [input, sortBy] pair and the previous one''s (MongoDB''s errors 5423900, 5423901, 5423902 for bad pairs)';
CREATE FUNCTION nosql.bson_window_integral(sum float8, first float8, n bigint, unit float8) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_window_integral' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_window_integral(float8, float8, bigint, float8) IS '$integral of a window of n documents: the sum of its trapezoids less the first one''s (per unit milliseconds when unit is not 0)';
CREATE FUNCTION nosql.bson_window_linear_fill(pair nosql.bson, previous nosql.bson, before nosql.bson, after nosql.bson) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_window_linear_fill' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_window_linear_fill(nosql.bson, nosql.bson, nosql.bson, nosql.bson) IS '$linearFill of a document: its value, or the value on the line between the last non-null [input, sortBy] pair before it and the first after it';

-- $densify (src/agg_densify.c): the documents sorted by partition and value,
-- each with the values before and after it (window functions), and the
-- documents generated in the gaps by a set-returning function.
CREATE FUNCTION nosql.bson_densify_value(document nosql.bson, path text, dates boolean) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_densify_value' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_densify_value(nosql.bson, text, boolean) IS 'the value $densify reads at path: NULL when null or missing, a number (dates false) or a date (dates true), MongoDB''s errors 6053600 and 5733201 otherwise';
CREATE FUNCTION nosql.bson_value_smaller(a nosql.bson, b nosql.bson) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_value_smaller' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_value_smaller(nosql.bson, nosql.bson) IS 'the smaller of two bson values in MongoDB''s order';
CREATE FUNCTION nosql.bson_value_larger(a nosql.bson, b nosql.bson) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'bson_value_larger' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.bson_value_larger(nosql.bson, nosql.bson) IS 'the larger of two bson values in MongoDB''s order';
CREATE AGGREGATE nosql.bson_value_min(nosql.bson) (
    SFUNC = nosql.bson_value_smaller, STYPE = nosql.bson, COMBINEFUNC = nosql.bson_value_smaller,
    SORTOP = OPERATOR(nosql.<), PARALLEL = SAFE);
COMMENT ON AGGREGATE nosql.bson_value_min(nosql.bson) IS 'the smallest bson value in MongoDB''s order';
CREATE AGGREGATE nosql.bson_value_max(nosql.bson) (
    SFUNC = nosql.bson_value_larger, STYPE = nosql.bson, COMBINEFUNC = nosql.bson_value_larger,
    SORTOP = OPERATOR(nosql.>), PARALLEL = SAFE);
COMMENT ON AGGREGATE nosql.bson_value_max(nosql.bson) IS 'the largest bson value in MongoDB''s order';
CREATE FUNCTION nosql.bson_densify_generate(document nosql.bson, v nosql.bson, pv nosql.bson, nv nosql.bson, lo nosql.bson, hi nosql.bson, spec nosql.bson)
    RETURNS TABLE (document nosql.bson, tail boolean, generated boolean)
    AS 'MODULE_PATHNAME', 'bson_densify_generate' LANGUAGE C IMMUTABLE PARALLEL SAFE ROWS 2;
COMMENT ON FUNCTION nosql.bson_densify_generate(nosql.bson, nosql.bson, nosql.bson, nosql.bson, nosql.bson, nosql.bson, nosql.bson) IS 'a document of $densify after the documents generated since the one before it in its partition, and for the last of its partition the documents generated after it (tail) (v, pv, nv: its value and its neighbours'' in its partition; lo, hi: the smallest and largest values of the range; spec: the stage''s description)';
CREATE FUNCTION nosql.bson_densify_limit(generated boolean) RETURNS boolean
    AS 'MODULE_PATHNAME', 'bson_densify_limit' LANGUAGE C WINDOW VOLATILE PARALLEL RESTRICTED;
COMMENT ON FUNCTION nosql.bson_densify_limit(boolean) IS 'a window function over the output of $densify counting its generated documents (MongoDB error 5897900 beyond 500000)';
CREATE FUNCTION nosql.find_one(coll text, filter nosql.bson DEFAULT NULL, projection nosql.bson DEFAULT NULL)
    RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'nosql_find_one' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.find_one(text, nosql.bson, nosql.bson) IS 'one document matching a MongoDB filter, or NULL';
-- no default for filter: count(text) must stay the aggregate for SQL users
-- with nosql on their search_path
CREATE FUNCTION nosql.count(coll text, filter nosql.bson) RETURNS bigint
    AS 'MODULE_PATHNAME', 'nosql_count' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.count(text, nosql.bson) IS 'number of documents matching a MongoDB filter (NULL or {}: all)';
CREATE FUNCTION nosql.distinct(coll text, key text, filter nosql.bson DEFAULT NULL) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'nosql_distinct' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.distinct(text, text, nosql.bson) IS 'array of the distinct values at a path (arrays unwound), as MongoDB''s distinct';
CREATE FUNCTION nosql.update_one(coll text, filter nosql.bson, update nosql.bson, upsert boolean DEFAULT false)
    RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'nosql_update_one' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.update_one(text, nosql.bson, nosql.bson, boolean) IS 'apply update operators to the first matching document; returns {matchedCount, modifiedCount, upsertedId}';
CREATE FUNCTION nosql.update_many(coll text, filter nosql.bson, update nosql.bson, upsert boolean DEFAULT false)
    RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'nosql_update_many' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.update_many(text, nosql.bson, nosql.bson, boolean) IS 'apply update operators to every matching document; returns {matchedCount, modifiedCount, upsertedId}';
CREATE FUNCTION nosql.replace_one(coll text, filter nosql.bson, replacement nosql.bson, upsert boolean DEFAULT false)
    RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'nosql_replace_one' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.replace_one(text, nosql.bson, nosql.bson, boolean) IS 'replace the first matching document (keeping its _id); returns {matchedCount, modifiedCount, upsertedId}';
CREATE FUNCTION nosql.delete_one(coll text, filter nosql.bson) RETURNS bigint
    AS 'MODULE_PATHNAME', 'nosql_delete_one' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.delete_one(text, nosql.bson) IS 'delete the first matching document; returns 0 or 1';
CREATE FUNCTION nosql.delete_many(coll text, filter nosql.bson) RETURNS bigint
    AS 'MODULE_PATHNAME', 'nosql_delete_many' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.delete_many(text, nosql.bson) IS 'delete every matching document; returns how many';
CREATE FUNCTION nosql.find_one_and_update(coll text, filter nosql.bson, update nosql.bson,
                                          sort nosql.bson DEFAULT NULL, return_new boolean DEFAULT false,
                                          upsert boolean DEFAULT false, projection nosql.bson DEFAULT NULL)
    RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'nosql_find_one_and_update' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.find_one_and_update(text, nosql.bson, nosql.bson, nosql.bson, boolean, boolean, nosql.bson) IS 'update the first matching document (in sort order) and return it, before or (return_new) after';
CREATE FUNCTION nosql.create_indexes_sql(database text, command nosql.bson) RETURNS SETOF text
    AS 'MODULE_PATHNAME', 'nosql_create_indexes_sql' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.create_indexes_sql(text, nosql.bson) IS 'the CREATE INDEX CONCURRENTLY statements of a createIndexes command (run them, e.g. with \gexec, then the command)';
CREATE FUNCTION nosql.create_index(coll text, keys nosql.bson, options nosql.bson DEFAULT NULL) RETURNS text
    AS 'MODULE_PATHNAME', 'nosql_create_index' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.create_index(text, nosql.bson, nosql.bson) IS 'record an index on a collection (as createIndexes); returns its name';
CREATE FUNCTION nosql.drop_index(coll text, name text) RETURNS void
    AS 'MODULE_PATHNAME', 'nosql_drop_index' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.drop_index(text, text) IS 'drop an index of a collection by name';

---------------------------------------------------------------------------
-- Key-value: an etcd v3 store (src/kv.c, src/kv_sql.c, docs/kv.md)
---------------------------------------------------------------------------

CREATE TYPE nosql.kv AS (
    key text,
    value bytea,
    create_revision bigint,
    mod_revision bigint,
    version bigint,
    lease bigint
);
COMMENT ON TYPE nosql.kv IS 'a key-value pair as etcd''s KeyValue: key, value, create_revision, mod_revision, version, lease';

CREATE FUNCTION nosql.kv_key_head(key text) RETURNS text
    AS 'MODULE_PATHNAME', 'kv_key_head' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.kv_key_head(text) IS 'the part of a key-value key the store indexes: its first 1024 bytes, cut at a character boundary';

-- Every version of every key, one row per write; a delete is a tombstone
-- row.  Keyed by revision (mod_revision, sub) as etcd's backend is; the
-- key index by the keys' heads, in byte order ("C"), serves the latest
-- version of a key at a revision and scans of key ranges (src/kv.c).
CREATE TABLE nosql.kv_history (
    key text COLLATE "C" NOT NULL,
    mod_revision bigint NOT NULL,
    sub integer NOT NULL DEFAULT 0,
    create_revision bigint NOT NULL,
    version bigint NOT NULL,
    value bytea,
    lease bigint NOT NULL DEFAULT 0,
    deleted boolean NOT NULL DEFAULT false,
    PRIMARY KEY (mod_revision, sub),
    CHECK (deleted = (value IS NULL))
);
CREATE INDEX kv_history_key ON nosql.kv_history (nosql.kv_key_head(key), mod_revision);
COMMENT ON TABLE nosql.kv_history IS 'the key-value store: every version of every key at its revision (mod_revision, sub), deletes as tombstones (deleted, no value)';
SELECT pg_catalog.pg_extension_config_dump('nosql.kv_history', '');

-- The writers' lock of the store: writers take EXCLUSIVE on this empty
-- table at their first write and keep it to their commit, so revisions
-- are gap-free and in commit order (src/kv.c).  The store's revision is
-- the highest one in nosql.kv_history.
CREATE TABLE nosql.kv_revision ();
COMMENT ON TABLE nosql.kv_revision IS 'the key-value store''s writers'' lock: an empty table that writers lock EXCLUSIVE until they commit';

-- The revision the store was last compacted at, one row (none: never);
-- apart from the counter so that compaction never blocks writers.
CREATE TABLE nosql.kv_compaction (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    revision bigint NOT NULL CHECK (revision >= 1)
);
COMMENT ON TABLE nosql.kv_compaction IS 'the revision the key-value store was last compacted at: at most one row (none: never)';
SELECT pg_catalog.pg_extension_config_dump('nosql.kv_compaction', '');

-- Writers keep the store's revision in shared memory for the next writer
-- (src/kv.c); changes to the tables by other means make them forget it.
CREATE FUNCTION nosql.kv_store_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'kv_store_changed' LANGUAGE C;
COMMENT ON FUNCTION nosql.kv_store_changed() IS 'internal: trigger that makes key-value writers read the revision from the history again';
CREATE TRIGGER kv_history_changed AFTER UPDATE OR DELETE OR TRUNCATE ON nosql.kv_history
    FOR EACH STATEMENT EXECUTE FUNCTION nosql.kv_store_changed();
CREATE TRIGGER kv_compaction_changed AFTER UPDATE OR DELETE OR TRUNCATE ON nosql.kv_compaction
    FOR EACH STATEMENT EXECUTE FUNCTION nosql.kv_store_changed();

CREATE FUNCTION nosql.kv_put(key text, value bytea, lease bigint DEFAULT 0) RETURNS bigint
    AS 'MODULE_PATHNAME', 'kv_put' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.kv_put(text, bytea, bigint) IS 'etcd Put: write a new version of a key at a new revision; returns the revision';
CREATE FUNCTION nosql.kv_put(key text, value text, lease bigint DEFAULT 0) RETURNS bigint
    AS 'MODULE_PATHNAME', 'kv_put_text' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.kv_put(text, text, bigint) IS 'etcd Put of a text value (its bytes in the database encoding); returns the revision';
CREATE FUNCTION nosql.kv_put_prev(key text, value bytea, lease bigint DEFAULT 0,
                                  ignore_value boolean DEFAULT false, ignore_lease boolean DEFAULT false,
                                  OUT revision bigint, OUT prev_kv nosql.kv)
    AS 'MODULE_PATHNAME', 'kv_put_prev' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.kv_put_prev(text, bytea, bigint, boolean, boolean) IS 'etcd Put with prev_kv, ignore_value and ignore_lease: the revision and the version replaced (NULL: none)';
CREATE FUNCTION nosql.kv_put_prev(key text, value text, lease bigint DEFAULT 0,
                                  ignore_value boolean DEFAULT false, ignore_lease boolean DEFAULT false,
                                  OUT revision bigint, OUT prev_kv nosql.kv)
    AS 'MODULE_PATHNAME', 'kv_put_prev' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.kv_put_prev(text, text, bigint, boolean, boolean) IS 'etcd Put of a text value with prev_kv, ignore_value and ignore_lease';
CREATE FUNCTION nosql.kv_get(key text, revision bigint DEFAULT 0, serializable boolean DEFAULT false)
    RETURNS nosql.kv
    AS 'MODULE_PATHNAME', 'kv_get' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.kv_get(text, bigint, boolean) IS 'etcd Range of one key: the key as of a revision (0: the current one), NULL when it does not exist';
CREATE FUNCTION nosql.kv_range(key text, range_end text DEFAULT NULL, "limit" bigint DEFAULT 0,
                               revision bigint DEFAULT 0, serializable boolean DEFAULT false,
                               keys_only boolean DEFAULT false,
                               sort_order text DEFAULT 'NONE', sort_target text DEFAULT 'KEY',
                               min_mod_revision bigint DEFAULT 0, max_mod_revision bigint DEFAULT 0,
                               min_create_revision bigint DEFAULT 0, max_create_revision bigint DEFAULT 0)
    RETURNS SETOF nosql.kv
    AS 'MODULE_PATHNAME', 'kv_range' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.kv_range(text, text, bigint, bigint, boolean, boolean, text, text, bigint, bigint, bigint, bigint) IS 'etcd Range: the keys of [key, range_end) in byte order (range_end NULL: the key; '''': every key >= key) as of a revision, with etcd''s options; at most limit (0: all)';
CREATE FUNCTION nosql.kv_prefix(prefix text, "limit" bigint DEFAULT 0, revision bigint DEFAULT 0,
                                serializable boolean DEFAULT false,
                                keys_only boolean DEFAULT false,
                                sort_order text DEFAULT 'NONE', sort_target text DEFAULT 'KEY',
                                min_mod_revision bigint DEFAULT 0, max_mod_revision bigint DEFAULT 0,
                                min_create_revision bigint DEFAULT 0, max_create_revision bigint DEFAULT 0)
    RETURNS SETOF nosql.kv
    AS 'MODULE_PATHNAME', 'kv_prefix' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.kv_prefix(text, bigint, bigint, boolean, boolean, text, text, bigint, bigint, bigint, bigint) IS 'etcd Range with a prefix: the keys starting with prefix ('''': all keys) as of a revision, with kv_range''s options';
CREATE FUNCTION nosql.kv_count(key text, range_end text DEFAULT NULL, revision bigint DEFAULT 0,
                               serializable boolean DEFAULT false)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'kv_count' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.kv_count(text, text, bigint, boolean) IS 'etcd Range with count_only: how many keys the range has as of a revision';
CREATE FUNCTION nosql.kv_delete(key text, range_end text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'kv_delete' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.kv_delete(text, text) IS 'etcd DeleteRange: delete the keys of a range (as kv_range) at one new revision; returns how many (0: no revision)';
CREATE FUNCTION nosql.kv_delete_prev(key text, range_end text DEFAULT NULL) RETURNS SETOF nosql.kv
    AS 'MODULE_PATHNAME', 'kv_delete_prev' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.kv_delete_prev(text, text) IS 'etcd DeleteRange with prev_kv: delete the keys of a range at one new revision; returns the deleted versions';
CREATE FUNCTION nosql.kv_compact(revision bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'kv_compact' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.kv_compact(bigint) IS 'etcd Compact: remove the versions superseded at or below a revision (reads below it then fail); returns how many versions were removed';
CREATE FUNCTION nosql.kv_txn(request nosql.bson) RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'kv_txn' LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.kv_txn(nosql.bson) IS 'etcd Txn: compares, then the success or failure ops as one request at one revision; request and reply are etcd''s TxnRequest and TxnResponse';
CREATE FUNCTION nosql.kv_current_revision() RETURNS bigint
    AS 'MODULE_PATHNAME', 'kv_current_revision' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.kv_current_revision() IS 'the key-value store''s revision (etcd''s header revision): 1 when new, then that of the last write';

CREATE FUNCTION nosql.kv_apply_stats(OUT database oid, OUT pid integer,
                                     OUT batches bigint, OUT applied bigint)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'kv_apply_stats' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION nosql.kv_apply_stats() IS 'the running key-value apply workers: their database, pid, the transactions (batches) they committed and the puts applied in them';

-- Access to the store: the kv_* calls run as their caller, so the table
-- privileges below are the permission model, and row-level security on
-- nosql.kv_history restricts a role to key prefixes.
CREATE FUNCTION nosql.kv_grant(role regrole, access text DEFAULT 'write', prefix text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    who text := role::text;
    name text := 'kv ' || md5(role::oid::text || ' ' || coalesce(prefix, ''));
    keys text := CASE WHEN prefix IS NULL THEN 'true'
                      ELSE format('pg_catalog.starts_with(key, %L)', prefix) END;
    old record;
BEGIN
    IF access NOT IN ('read', 'write', 'admin') THEN
        RAISE EXCEPTION 'invalid key-value access "%"', access
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Access is read, write or admin.';
    END IF;
    IF prefix = '' THEN
        RAISE EXCEPTION 'an empty key prefix is every key: leave prefix NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA nosql TO %s', who);
    EXECUTE format('GRANT SELECT ON nosql.kv_history, nosql.kv_compaction TO %s', who);
    IF access IN ('write', 'admin') THEN
        EXECUTE format('GRANT INSERT ON nosql.kv_history TO %s', who);
        IF to_regclass('nosql.kv_lease') IS NOT NULL THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON nosql.kv_lease TO %s', who);
        END IF;
    ELSIF to_regclass('nosql.kv_lease') IS NOT NULL THEN
        EXECUTE format('GRANT SELECT ON nosql.kv_lease TO %s', who);
    END IF;
    IF access = 'admin' THEN
        EXECUTE format('GRANT DELETE ON nosql.kv_history TO %s', who);
        EXECUTE format('GRANT INSERT, UPDATE ON nosql.kv_compaction TO %s', who);
    END IF;
    -- the role's keys: a policy per role and prefix, replaced when granted again
    FOR old IN SELECT pol.polname FROM pg_policy pol
                WHERE pol.polrelid = 'nosql.kv_history'::regclass
                  AND pol.polname IN (name || ' read', name || ' write', name || ' admin')
    LOOP
        EXECUTE format('DROP POLICY %I ON nosql.kv_history', old.polname);
    END LOOP;
    EXECUTE format('CREATE POLICY %I ON nosql.kv_history FOR SELECT TO %s USING (%s)',
                   name || ' read', who, keys);
    IF access IN ('write', 'admin') THEN
        EXECUTE format('CREATE POLICY %I ON nosql.kv_history FOR INSERT TO %s WITH CHECK (%s)',
                       name || ' write', who, keys);
    END IF;
    IF access = 'admin' THEN
        EXECUTE format('CREATE POLICY %I ON nosql.kv_history FOR DELETE TO %s USING (%s)',
                       name || ' admin', who, keys);
    END IF;
    IF prefix IS NOT NULL THEN
        ALTER TABLE nosql.kv_history ENABLE ROW LEVEL SECURITY;
    END IF;
END;
$$;
COMMENT ON FUNCTION nosql.kv_grant(regrole, text, text) IS 'let a role read (read), also write (write) or also compact (admin) the key-value store, or only the keys with a prefix (row-level security on nosql.kv_history)';

CREATE FUNCTION nosql.kv_revoke(role regrole) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    p record;
BEGIN
    FOR p IN SELECT pol.polname FROM pg_policy pol
              WHERE pol.polrelid = 'nosql.kv_history'::regclass
                AND pol.polroles = ARRAY[role::oid]
                AND pol.polname LIKE 'kv %'
    LOOP
        EXECUTE format('DROP POLICY %I ON nosql.kv_history', p.polname);
    END LOOP;
    EXECUTE format('REVOKE ALL ON nosql.kv_history, nosql.kv_revision, nosql.kv_compaction FROM %s', role);
    IF to_regclass('nosql.kv_lease') IS NOT NULL THEN
        EXECUTE format('REVOKE ALL ON nosql.kv_lease FROM %s', role);
    END IF;
END;
$$;
COMMENT ON FUNCTION nosql.kv_revoke(regrole) IS 'take back what nosql.kv_grant gave a role on the key-value store (every prefix)';

-- Watch: etcd's Watch over the history (src/kv_watch.c, docs/kv.md "Watch")
CREATE TYPE nosql.kv_event AS (
    revision bigint,
    type text,
    key text,
    value bytea,
    create_revision bigint,
    mod_revision bigint,
    version bigint,
    lease bigint,
    prev_value bytea
);
COMMENT ON TYPE nosql.kv_event IS 'an event of a key-value watch as etcd''s Event: revision, type (PUT or DELETE), the key''s version after it (a DELETE: key and mod_revision only), and prev_value with prev_kv';

CREATE FUNCTION nosql.kv_watch(key text, range_end text DEFAULT NULL, start_revision bigint DEFAULT 0,
                               max_wait_ms integer DEFAULT 0, prev_kv boolean DEFAULT false,
                               filters text[] DEFAULT '{}') RETURNS SETOF nosql.kv_event
    AS 'MODULE_PATHNAME', 'kv_watch' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.kv_watch(text, text, bigint, integer, boolean, text[]) IS 'etcd Watch: the events of a key range (as kv_range) from start_revision on (0: only new ones) in revision order; with max_wait_ms > 0 waits for the first ones; filters NOPUT, NODELETE';

-- Recipes: locks and elections as etcd's concurrency package builds them on
-- the store (docs/kv.md "Locks and elections").  A waiter's key is
-- <name>/<lease in hex> (a unique suffix for lease 0); the holder or leader
-- is the key with the lowest create_revision, which is the fencing token.
-- The blocking calls are procedures: each commits its key before waiting, so
-- that other sessions see it and the store's writers' lock is not held
-- while waiting.  Call them with CALL outside a transaction block.

-- A waiter's key under a name: etcd's <prefix><lease id in hex>
CREATE FUNCTION nosql.kv_waiter_key(name text, lease bigint) RETURNS text
    LANGUAGE sql VOLATILE SET search_path = pg_catalog AS $$
    SELECT name || '/' || CASE WHEN lease <> 0 THEN to_hex(lease)
                               ELSE 'x' || md5(random()::text || clock_timestamp()::text) END
$$;
COMMENT ON FUNCTION nosql.kv_waiter_key(text, bigint) IS 'internal: the key a lock or election waiter writes, <name>/<lease in hex>';

-- Put a waiter's key unless the session already has it (etcd keeps its
-- create_revision then); its create_revision.
CREATE FUNCTION nosql.kv_enqueue(key text, value text, lease bigint) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog AS $$
BEGIN
    IF key IS NULL OR value IS NULL OR lease IS NULL THEN
        RAISE EXCEPTION 'arguments of a key-value recipe must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM nosql.kv_txn(format(
        '{"compare": [{"key": %s, "target": "CREATE", "result": "EQUAL", "create_revision": 0}], '
        '"success": [{"request_put": {"key": %s, "value": %s, "lease": {"$numberLong": "%s"}}}]}',
        to_json(key), to_json(key), to_json(value), lease)::nosql.bson);
    RETURN (nosql.kv_get(key)).create_revision;
END;
$$;
COMMENT ON FUNCTION nosql.kv_enqueue(text, text, bigint) IS 'internal: write a lock or election waiter''s key if absent; its create_revision';

-- Wait until no key under prefix/ was created before revision; false when
-- the time ran out (timeout_ms <= 0: no limit).
CREATE FUNCTION nosql.kv_wait_turn(name text, revision bigint, timeout_ms integer) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog AS $$
DECLARE
    prefix text := name || '/';
    deadline timestamptz := CASE WHEN timeout_ms > 0
                                 THEN clock_timestamp() + timeout_ms * interval '1 ms' END;
    before nosql.kv;
    seen bigint;
    wait_ms integer;
BEGIN
    LOOP
        -- the last waiter before us: wait for its delete, as etcd's waitDeletes
        seen := nosql.kv_current_revision();
        SELECT * INTO before FROM nosql.kv_prefix(prefix, "limit" => 1, sort_order => 'DESCEND',
                                                  sort_target => 'CREATE',
                                                  max_create_revision => revision - 1);
        IF before.key IS NULL THEN
            RETURN true;
        END IF;
        LOOP
            wait_ms := CASE WHEN deadline IS NULL THEN 1000
                            ELSE least(1000, greatest(0, ceil(extract(epoch FROM deadline - clock_timestamp()) * 1000)::integer)) END;
            IF deadline IS NOT NULL AND wait_ms <= 0 THEN
                RETURN false;
            END IF;
            EXIT WHEN EXISTS (SELECT FROM nosql.kv_watch(before.key, NULL, seen + 1, wait_ms,
                                                          filters => '{NOPUT}'));
            IF nosql.kv_get(before.key) IS NULL THEN
                EXIT;           -- gone while we looked (a compaction, say)
            END IF;
        END LOOP;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION nosql.kv_wait_turn(text, bigint, integer) IS 'internal: wait until every lock or election waiter before a revision is gone';

-- Queue a waiter's key under a name and wait for its turn: the body of
-- lock and campaign.
CREATE PROCEDURE nosql.kv_queue(name text, value text, lease bigint, timeout_ms integer,
                                what text, INOUT key text, INOUT revision bigint)
    LANGUAGE plpgsql AS $$
DECLARE
    mine text;
BEGIN
    IF name IS NULL OR name = '' THEN
        RAISE EXCEPTION '% name must not be empty', what USING ERRCODE = 'invalid_parameter_value';
    END IF;
    mine := nosql.kv_waiter_key(name, lease);
    revision := nosql.kv_enqueue(mine, value, lease);
    COMMIT;
    IF NOT nosql.kv_wait_turn(name, revision, timeout_ms) THEN
        PERFORM nosql.kv_delete(mine);
        COMMIT;
        RAISE EXCEPTION '% "%" not % within % ms', what, name,
            CASE what WHEN 'lock' THEN 'acquired' ELSE 'won' END, timeout_ms
            USING ERRCODE = 'lock_not_available';
    END IF;
    key := mine;
END;
$$;
COMMENT ON PROCEDURE nosql.kv_queue(text, text, bigint, integer, text, text, bigint) IS 'internal: queue a lock or election waiter and wait for its turn';

CREATE PROCEDURE nosql.lock(name text, lease bigint DEFAULT 0, timeout_ms integer DEFAULT 0,
                            INOUT key text DEFAULT NULL, INOUT revision bigint DEFAULT NULL)
    LANGUAGE plpgsql AS $$
BEGIN
    CALL nosql.kv_queue(name, '', lease, timeout_ms, 'lock', key, revision);
END;
$$;
COMMENT ON PROCEDURE nosql.lock(text, bigint, integer, text, bigint) IS 'etcd Lock: wait (CALL, outside a transaction block) until the lock is held; key and its create revision, the fencing token';

CREATE FUNCTION nosql.try_lock(name text, lease bigint DEFAULT 0, OUT key text, OUT revision bigint)
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog AS $$
DECLARE
    reply nosql.bson;
    mine text;
BEGIN
    IF name IS NULL OR name = '' THEN
        RAISE EXCEPTION 'lock name must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF lease IS NULL THEN
        RAISE EXCEPTION 'lease of a key-value recipe must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    mine := nosql.kv_waiter_key(name, lease);
    -- held when no key is under the name: every key there has create_revision 0 then
    reply := nosql.kv_txn(format(
        '{"compare": [{"key": %s, "range_end": %s, "target": "CREATE", "result": "EQUAL", "create_revision": 0}], '
        '"success": [{"request_put": {"key": %s, "value": "", "lease": {"$numberLong": "%s"}}}]}',
        to_json(name || '/'), to_json(name || '0'), to_json(mine), lease)::nosql.bson);
    IF (reply OPERATOR(nosql.->) 'succeeded')::text = 'true' THEN
        key := mine;
        revision := (nosql.kv_get(mine)).create_revision;
    END IF;
END;
$$;
COMMENT ON FUNCTION nosql.try_lock(text, bigint) IS 'take a lock if nobody holds or waits for it (any transaction); key and fencing token, or NULLs';

CREATE FUNCTION nosql.unlock(key text) RETURNS boolean
    LANGUAGE sql VOLATILE STRICT SET search_path = pg_catalog AS $$
    SELECT nosql.kv_delete(key) > 0
$$;
COMMENT ON FUNCTION nosql.unlock(text) IS 'etcd Unlock: delete the lock key lock() returned; whether it was there';

CREATE PROCEDURE nosql.campaign(election text, value text, lease bigint DEFAULT 0,
                                timeout_ms integer DEFAULT 0,
                                INOUT key text DEFAULT NULL, INOUT revision bigint DEFAULT NULL)
    LANGUAGE plpgsql AS $$
BEGIN
    CALL nosql.kv_queue(election, value, lease, timeout_ms, 'election', key, revision);
END;
$$;
COMMENT ON PROCEDURE nosql.campaign(text, text, bigint, integer, text, bigint) IS 'etcd Campaign: wait (CALL, outside a transaction block) until elected; the leader key and its create revision';

CREATE FUNCTION nosql.proclaim(key text, revision bigint, value text) RETURNS bigint
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog AS $$
DECLARE
    reply nosql.bson;
BEGIN
    IF key IS NULL OR revision IS NULL OR value IS NULL THEN
        RAISE EXCEPTION 'arguments of a key-value recipe must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    reply := nosql.kv_txn(format(
        '{"compare": [{"key": %s, "target": "CREATE", "result": "EQUAL", "create_revision": {"$numberLong": "%s"}}], '
        '"success": [{"request_put": {"key": %s, "value": %s, "ignore_lease": true}}]}',
        to_json(key), revision, to_json(key), to_json(value))::nosql.bson);
    IF (reply OPERATOR(nosql.->) 'succeeded')::text <> 'true' THEN
        RAISE EXCEPTION 'election: not leader'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Key "%s" with create revision %s is no longer held.', key, revision);
    END IF;
    RETURN nosql.kv_current_revision();
END;
$$;
COMMENT ON FUNCTION nosql.proclaim(text, bigint, text) IS 'etcd Proclaim: the leader (key, revision from campaign) announces a new value; the revision';

CREATE FUNCTION nosql.leader(election text) RETURNS nosql.kv
    LANGUAGE sql VOLATILE STRICT SET search_path = pg_catalog AS $$
    SELECT * FROM nosql.kv_prefix(election || '/', "limit" => 1, sort_order => 'ASCEND',
                                  sort_target => 'CREATE')
$$;
COMMENT ON FUNCTION nosql.leader(text) IS 'etcd Leader: the leader''s key and value (lowest create revision), NULL when there is none';

CREATE FUNCTION nosql.resign(key text, revision bigint) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog AS $$
DECLARE
    reply nosql.bson;
BEGIN
    IF key IS NULL OR revision IS NULL THEN
        RAISE EXCEPTION 'arguments of a key-value recipe must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    reply := nosql.kv_txn(format(
        '{"compare": [{"key": %s, "target": "CREATE", "result": "EQUAL", "create_revision": {"$numberLong": "%s"}}], '
        '"success": [{"request_delete_range": {"key": %s}}]}',
        to_json(key), revision, to_json(key))::nosql.bson);
    RETURN (reply OPERATOR(nosql.->) 'succeeded')::text = 'true';
END;
$$;
COMMENT ON FUNCTION nosql.resign(text, bigint) IS 'etcd Resign: the leader (key, revision from campaign) steps down; whether it still led';

CREATE FUNCTION nosql.observe(election text, after_revision bigint DEFAULT 0, max_wait_ms integer DEFAULT 0)
    RETURNS nosql.kv
    LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog AS $$
DECLARE
    current nosql.kv;
    seen bigint;
BEGIN
    IF election IS NULL OR after_revision IS NULL OR max_wait_ms IS NULL THEN
        RAISE EXCEPTION 'arguments of a key-value recipe must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    seen := nosql.kv_current_revision();
    current := nosql.leader(election);
    IF current.key IS NOT NULL AND current.mod_revision > after_revision THEN
        RETURN current;
    END IF;
    IF max_wait_ms > 0 THEN
        -- any event under the election may change its leader
        PERFORM FROM nosql.kv_watch(election || '/', election || '0', seen + 1, max_wait_ms);
        current := nosql.leader(election);
        IF current.key IS NOT NULL AND current.mod_revision > after_revision THEN
            RETURN current;
        END IF;
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION nosql.observe(text, bigint, integer) IS 'etcd Observe: the leader once it changed after a revision (waiting up to max_wait_ms), NULL when it did not';

-- Leases (etcd's Lease API; src/kv_lease.c, docs/kv.md "Leases").  A key
-- is attached to the lease of its latest version; revoking or expiring a
-- lease deletes its keys at one revision.  The background worker revokes
-- expired leases.
CREATE TABLE nosql.kv_lease (
    id bigint PRIMARY KEY CHECK (id > 0),
    granted_ttl bigint NOT NULL CHECK (granted_ttl > 0),
    expires_at timestamptz NOT NULL
);
CREATE INDEX kv_lease_expires_at ON nosql.kv_lease (expires_at);
COMMENT ON TABLE nosql.kv_lease IS 'the key-value store''s leases: id, granted TTL in seconds, deadline (the worker revokes the lease then)';
SELECT pg_catalog.pg_extension_config_dump('nosql.kv_lease', '');
-- the versions that carry a lease, to find a lease's keys
CREATE INDEX kv_history_lease ON nosql.kv_history (lease) WHERE lease <> 0;

CREATE FUNCTION nosql.lease_grant(ttl_seconds bigint, id bigint DEFAULT 0) RETURNS bigint
    AS 'MODULE_PATHNAME', 'lease_grant' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.lease_grant(bigint, bigint) IS 'etcd LeaseGrant: a lease of ttl_seconds (at least 2, etcd''s minimum) with the id given or, for 0, a new random one; returns the id';
CREATE FUNCTION nosql.lease_revoke(id bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'lease_revoke' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.lease_revoke(bigint) IS 'etcd LeaseRevoke: end a lease and delete its keys at one revision; returns how many keys were deleted';
CREATE FUNCTION nosql.lease_keepalive(id bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'lease_keepalive' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.lease_keepalive(bigint) IS 'etcd LeaseKeepAlive (once): renew a lease to its granted TTL; returns that TTL';
CREATE FUNCTION nosql.lease_ttl(id bigint, keys boolean DEFAULT false,
                                OUT id bigint, OUT ttl bigint, OUT granted_ttl bigint, OUT keys text[])
    AS 'MODULE_PATHNAME', 'lease_ttl' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.lease_ttl(bigint, boolean) IS 'etcd LeaseTimeToLive: the seconds a lease has left (-1: no such lease), its granted TTL and, with keys, its keys';
CREATE FUNCTION nosql.lease_list() RETURNS SETOF bigint
    AS 'MODULE_PATHNAME', 'lease_list' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.lease_list() IS 'etcd LeaseLeases: the ids of every lease';

---------------------------------------------------------------------------
-- Coordination: the Raft group that replicates the key-value store
-- (src/raft_*.c, docs/raft.md).  The tables are the member's durable
-- state, written only by its raft worker.
---------------------------------------------------------------------------

CREATE TABLE nosql.raft_state (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    term bigint NOT NULL,
    vote bigint NOT NULL,
    commit_index bigint NOT NULL,
    snap_index bigint NOT NULL,
    snap_term bigint NOT NULL,
    snap_voters bigint[] NOT NULL,
    snap_learners bigint[] NOT NULL,
    applied_index bigint NOT NULL,
    applied_term bigint NOT NULL,
    applied_voters bigint[] NOT NULL,
    applied_learners bigint[] NOT NULL,
    last_conf_index bigint NOT NULL
);
COMMENT ON TABLE nosql.raft_state IS 'this raft member''s durable state: term, vote, commit index, compaction point and applied index with its configuration';
CREATE TABLE nosql.raft_log (
    idx bigint PRIMARY KEY,
    term bigint NOT NULL,
    type smallint NOT NULL,
    data bytea NOT NULL
);
COMMENT ON TABLE nosql.raft_log IS 'this raft member''s log after the compaction point';
CREATE TABLE nosql.raft_member (
    node_id bigint PRIMARY KEY,
    address text NOT NULL
);
COMMENT ON TABLE nosql.raft_member IS 'the raft group''s members and their addresses (host:port)';
REVOKE ALL ON nosql.raft_state, nosql.raft_log, nosql.raft_member FROM PUBLIC;

CREATE FUNCTION nosql.raft_status_info(OUT node_id bigint, OUT role text, OUT term bigint,
                                       OUT leader_id bigint, OUT commit_index bigint,
                                       OUT applied_index bigint, OUT members jsonb,
                                       OUT last_leader_contact timestamptz,
                                       OUT first_index bigint, OUT last_index bigint)
    AS 'MODULE_PATHNAME', 'raft_status_info' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION nosql.raft_status_info() IS 'this raft member''s view of its group (see the view nosql.raft_status)';
CREATE VIEW nosql.raft_status AS
    SELECT * FROM nosql.raft_status_info() WHERE node_id IS NOT NULL;
COMMENT ON VIEW nosql.raft_status IS 'one row on a raft member: its id, role, term, the leader, commit and applied index, members with their match index and last contact';
CREATE FUNCTION nosql.raft_add_member(node_id bigint, address text, learner boolean DEFAULT false) RETURNS void
    AS 'MODULE_PATHNAME', 'raft_add_member' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION nosql.raft_add_member(bigint, text, boolean) IS 'add a member to the raft group: as a learner, then (unless learner) as a voter once it has caught up';
CREATE FUNCTION nosql.raft_remove_member(node_id bigint) RETURNS void
    AS 'MODULE_PATHNAME', 'raft_remove_member' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION nosql.raft_remove_member(bigint) IS 'remove a member from the raft group';
CREATE FUNCTION nosql.raft_transfer_leadership(node_id bigint) RETURNS void
    AS 'MODULE_PATHNAME', 'raft_transfer_leadership' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION nosql.raft_transfer_leadership(bigint) IS 'ask the raft leader to hand leadership to a member';
REVOKE ALL ON FUNCTION nosql.raft_add_member(bigint, text, boolean), nosql.raft_remove_member(bigint),
    nosql.raft_transfer_leadership(bigint) FROM PUBLIC;

---------------------------------------------------------------------------
-- Time series: queries (src/ts_sql.c, docs/timeseries.md "Queries")
---------------------------------------------------------------------------

-- time_bucket: TimescaleDB's buckets.  Sub-month widths count from Monday
-- 2000-01-03, months and years from 2000-01-01; a timestamptz is bucketed
-- in UTC unless a time zone is given.
CREATE FUNCTION nosql.time_bucket(bucket_width interval, ts timestamptz) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'time_bucket_timestamp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket(interval, timestamptz) IS 'the start of the bucket of bucket_width holding ts, in UTC (origin 2000-01-03, or 2000-01-01 for months and years)';
CREATE FUNCTION nosql.time_bucket(bucket_width interval, ts timestamptz, origin timestamptz) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'time_bucket_timestamp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket(interval, timestamptz, timestamptz) IS 'the start of the bucket of bucket_width holding ts, buckets aligned to origin, in UTC';
CREATE FUNCTION nosql.time_bucket(bucket_width interval, ts timestamptz, "offset" interval) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'time_bucket_timestamp_offset' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket(interval, timestamptz, interval) IS 'the start of the bucket of bucket_width holding ts, buckets shifted by offset, in UTC';
CREATE FUNCTION nosql.time_bucket(bucket_width interval, ts timestamptz, timezone text,
                                  origin timestamptz DEFAULT NULL, "offset" interval DEFAULT NULL) RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'time_bucket_timezone' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket(interval, timestamptz, text, timestamptz, interval) IS 'the start of the bucket of bucket_width holding ts, bucketed in the local time of a time zone (origin and offset too); NULL origin or offset: the default';
CREATE FUNCTION nosql.time_bucket(bucket_width interval, ts timestamp) RETURNS timestamp
    AS 'MODULE_PATHNAME', 'time_bucket_timestamp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket(interval, timestamp) IS 'the start of the bucket of bucket_width holding ts (origin 2000-01-03, or 2000-01-01 for months and years)';
CREATE FUNCTION nosql.time_bucket(bucket_width interval, ts timestamp, origin timestamp) RETURNS timestamp
    AS 'MODULE_PATHNAME', 'time_bucket_timestamp' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket(interval, timestamp, timestamp) IS 'the start of the bucket of bucket_width holding ts, buckets aligned to origin';
CREATE FUNCTION nosql.time_bucket(bucket_width interval, ts timestamp, "offset" interval) RETURNS timestamp
    AS 'MODULE_PATHNAME', 'time_bucket_timestamp_offset' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket(interval, timestamp, interval) IS 'the start of the bucket of bucket_width holding ts, buckets shifted by offset';
CREATE FUNCTION nosql.time_bucket(bucket_width interval, ts date) RETURNS date
    AS 'MODULE_PATHNAME', 'time_bucket_date' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket(interval, date) IS 'the date of the start of the bucket of bucket_width holding ts (origin 2000-01-03, or 2000-01-01 for months and years)';
CREATE FUNCTION nosql.time_bucket(bucket_width interval, ts date, origin date) RETURNS date
    AS 'MODULE_PATHNAME', 'time_bucket_date' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket(interval, date, date) IS 'the date of the start of the bucket of bucket_width holding ts, buckets aligned to origin';
CREATE FUNCTION nosql.time_bucket(bucket_width interval, ts date, "offset" interval) RETURNS date
    AS 'MODULE_PATHNAME', 'time_bucket_date_offset' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket(interval, date, interval) IS 'the date of the start of the bucket of bucket_width holding ts, buckets shifted by offset';
CREATE FUNCTION nosql.time_bucket(bucket_width bigint, ts bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'time_bucket_int8' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket(bigint, bigint) IS 'the start of the bucket of bucket_width holding ts, buckets aligned to 0';
CREATE FUNCTION nosql.time_bucket(bucket_width bigint, ts bigint, "offset" bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'time_bucket_int8' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket(bigint, bigint, bigint) IS 'the start of the bucket of bucket_width holding ts, buckets aligned to offset';
CREATE FUNCTION nosql.time_bucket(bucket_width integer, ts integer) RETURNS integer
    AS 'MODULE_PATHNAME', 'time_bucket_int4' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket(integer, integer) IS 'the start of the bucket of bucket_width holding ts, buckets aligned to 0';
CREATE FUNCTION nosql.time_bucket(bucket_width integer, ts integer, "offset" integer) RETURNS integer
    AS 'MODULE_PATHNAME', 'time_bucket_int4' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket(integer, integer, integer) IS 'the start of the bucket of bucket_width holding ts, buckets aligned to offset';
CREATE FUNCTION nosql.time_bucket(bucket_width smallint, ts smallint) RETURNS smallint
    AS 'MODULE_PATHNAME', 'time_bucket_int2' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket(smallint, smallint) IS 'the start of the bucket of bucket_width holding ts, buckets aligned to 0';
CREATE FUNCTION nosql.time_bucket(bucket_width smallint, ts smallint, "offset" smallint) RETURNS smallint
    AS 'MODULE_PATHNAME', 'time_bucket_int2' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket(smallint, smallint, smallint) IS 'the start of the bucket of bucket_width holding ts, buckets aligned to offset';

-- Gap filling in plain SQL: the buckets of a range LEFT JOINed to the data
CREATE FUNCTION nosql.time_bucket_series(bucket_width interval, start timestamptz, finish timestamptz)
    RETURNS SETOF timestamptz
    AS 'MODULE_PATHNAME', 'time_bucket_series' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket_series(interval, timestamptz, timestamptz) IS 'the starts of the buckets of time_bucket(bucket_width, ...) that cover [start, finish), in order';
CREATE FUNCTION nosql.time_bucket_series(bucket_width interval, start timestamptz, finish timestamptz, origin timestamptz)
    RETURNS SETOF timestamptz
    AS 'MODULE_PATHNAME', 'time_bucket_series' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket_series(interval, timestamptz, timestamptz, timestamptz) IS 'the starts of the buckets of time_bucket(bucket_width, ..., origin) that cover [start, finish), in order';
CREATE FUNCTION nosql.time_bucket_series(bucket_width interval, start timestamptz, finish timestamptz,
                                         timezone text, origin timestamptz DEFAULT NULL)
    RETURNS SETOF timestamptz
    AS 'MODULE_PATHNAME', 'time_bucket_series_timezone' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket_series(interval, timestamptz, timestamptz, text, timestamptz) IS 'the starts of the buckets of time_bucket(bucket_width, ..., timezone, origin) that cover [start, finish), in order';
CREATE FUNCTION nosql.time_bucket_series(bucket_width interval, start timestamp, finish timestamp)
    RETURNS SETOF timestamp
    AS 'MODULE_PATHNAME', 'time_bucket_series' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket_series(interval, timestamp, timestamp) IS 'the starts of the buckets of time_bucket(bucket_width, ...) that cover [start, finish), in order';
CREATE FUNCTION nosql.time_bucket_series(bucket_width interval, start timestamp, finish timestamp, origin timestamp)
    RETURNS SETOF timestamp
    AS 'MODULE_PATHNAME', 'time_bucket_series' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.time_bucket_series(interval, timestamp, timestamp, timestamp) IS 'the starts of the buckets of time_bucket(bucket_width, ..., origin) that cover [start, finish), in order';

CREATE FUNCTION nosql.locf(value anyelement, treat_null_as_missing boolean DEFAULT true) RETURNS anyelement
    AS 'MODULE_PATHNAME', 'locf' LANGUAGE C WINDOW IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.locf(anyelement, boolean) IS 'window function, last observation carried forward: the value of the last row up to this one (window order) whose value is not NULL or whose treat_null_as_missing is false';
CREATE FUNCTION nosql.interpolate(value float8, "time" timestamptz) RETURNS float8
    AS 'MODULE_PATHNAME', 'interpolate' LANGUAGE C WINDOW IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.interpolate(float8, timestamptz) IS 'window function: the value, or when NULL the linear interpolation by time between the rows with a value before and after it (window order); NULL at the edges';
CREATE FUNCTION nosql.interpolate(value float8, "time" timestamp) RETURNS float8
    AS 'MODULE_PATHNAME', 'interpolate' LANGUAGE C WINDOW IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.interpolate(float8, timestamp) IS 'window function: the value, or when NULL the linear interpolation by time between the rows with a value before and after it (window order); NULL at the edges';
CREATE FUNCTION nosql.interpolate(value float8, "time" date) RETURNS float8
    AS 'MODULE_PATHNAME', 'interpolate' LANGUAGE C WINDOW IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.interpolate(float8, date) IS 'window function: the value, or when NULL the linear interpolation by date between the rows with a value before and after it (window order); NULL at the edges';
CREATE FUNCTION nosql.interpolate(value float8, "time" bigint) RETURNS float8
    AS 'MODULE_PATHNAME', 'interpolate' LANGUAGE C WINDOW IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.interpolate(float8, bigint) IS 'window function: the value, or when NULL the linear interpolation by time between the rows with a value before and after it (window order); NULL at the edges';

-- first and last: the value at the smallest or largest time, any type,
-- parallel (an internal state serialized with the value's bytes)
CREATE FUNCTION nosql.first_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'first_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.first_combine(internal, internal) IS 'combine function of nosql.first';
CREATE FUNCTION nosql.last_combine(internal, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'last_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.last_combine(internal, internal) IS 'combine function of nosql.last';
CREATE FUNCTION nosql.first_last_serialize(internal) RETURNS bytea
    AS 'MODULE_PATHNAME', 'first_last_serialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.first_last_serialize(internal) IS 'serialization function of nosql.first and nosql.last';
CREATE FUNCTION nosql.first_last_deserialize(bytea, internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'first_last_deserialize' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.first_last_deserialize(bytea, internal) IS 'deserialization function of nosql.first and nosql.last';
CREATE FUNCTION nosql.first_transition(internal, anyelement, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'first_transition' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.first_transition(internal, anyelement, timestamptz) IS 'transition function of nosql.first';
CREATE FUNCTION nosql.last_transition(internal, anyelement, timestamptz) RETURNS internal
    AS 'MODULE_PATHNAME', 'last_transition' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.last_transition(internal, anyelement, timestamptz) IS 'transition function of nosql.last';
CREATE FUNCTION nosql.first_last_final(internal, anyelement, timestamptz) RETURNS anyelement
    AS 'MODULE_PATHNAME', 'first_last_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.first_last_final(internal, anyelement, timestamptz) IS 'final function of nosql.first and nosql.last';
CREATE AGGREGATE nosql.first(value anyelement, "time" timestamptz) (
    SFUNC = nosql.first_transition, STYPE = internal,
    FINALFUNC = nosql.first_last_final, FINALFUNC_EXTRA,
    COMBINEFUNC = nosql.first_combine,
    SERIALFUNC = nosql.first_last_serialize, DESERIALFUNC = nosql.first_last_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE nosql.first(anyelement, timestamptz) IS 'the value of the row with the smallest time (NULL values count, NULL times do not; ties: the first row read)';
CREATE AGGREGATE nosql.last(value anyelement, "time" timestamptz) (
    SFUNC = nosql.last_transition, STYPE = internal,
    FINALFUNC = nosql.first_last_final, FINALFUNC_EXTRA,
    COMBINEFUNC = nosql.last_combine,
    SERIALFUNC = nosql.first_last_serialize, DESERIALFUNC = nosql.first_last_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE nosql.last(anyelement, timestamptz) IS 'the value of the row with the largest time (NULL values count, NULL times do not; ties: the last row read)';
CREATE FUNCTION nosql.first_transition(internal, anyelement, timestamp) RETURNS internal
    AS 'MODULE_PATHNAME', 'first_transition' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.first_transition(internal, anyelement, timestamp) IS 'transition function of nosql.first';
CREATE FUNCTION nosql.last_transition(internal, anyelement, timestamp) RETURNS internal
    AS 'MODULE_PATHNAME', 'last_transition' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.last_transition(internal, anyelement, timestamp) IS 'transition function of nosql.last';
CREATE FUNCTION nosql.first_last_final(internal, anyelement, timestamp) RETURNS anyelement
    AS 'MODULE_PATHNAME', 'first_last_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.first_last_final(internal, anyelement, timestamp) IS 'final function of nosql.first and nosql.last';
CREATE AGGREGATE nosql.first(value anyelement, "time" timestamp) (
    SFUNC = nosql.first_transition, STYPE = internal,
    FINALFUNC = nosql.first_last_final, FINALFUNC_EXTRA,
    COMBINEFUNC = nosql.first_combine,
    SERIALFUNC = nosql.first_last_serialize, DESERIALFUNC = nosql.first_last_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE nosql.first(anyelement, timestamp) IS 'the value of the row with the smallest time (NULL values count, NULL times do not; ties: the first row read)';
CREATE AGGREGATE nosql.last(value anyelement, "time" timestamp) (
    SFUNC = nosql.last_transition, STYPE = internal,
    FINALFUNC = nosql.first_last_final, FINALFUNC_EXTRA,
    COMBINEFUNC = nosql.last_combine,
    SERIALFUNC = nosql.first_last_serialize, DESERIALFUNC = nosql.first_last_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE nosql.last(anyelement, timestamp) IS 'the value of the row with the largest time (NULL values count, NULL times do not; ties: the last row read)';
CREATE FUNCTION nosql.first_transition(internal, anyelement, date) RETURNS internal
    AS 'MODULE_PATHNAME', 'first_transition' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.first_transition(internal, anyelement, date) IS 'transition function of nosql.first';
CREATE FUNCTION nosql.last_transition(internal, anyelement, date) RETURNS internal
    AS 'MODULE_PATHNAME', 'last_transition' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.last_transition(internal, anyelement, date) IS 'transition function of nosql.last';
CREATE FUNCTION nosql.first_last_final(internal, anyelement, date) RETURNS anyelement
    AS 'MODULE_PATHNAME', 'first_last_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.first_last_final(internal, anyelement, date) IS 'final function of nosql.first and nosql.last';
CREATE AGGREGATE nosql.first(value anyelement, "time" date) (
    SFUNC = nosql.first_transition, STYPE = internal,
    FINALFUNC = nosql.first_last_final, FINALFUNC_EXTRA,
    COMBINEFUNC = nosql.first_combine,
    SERIALFUNC = nosql.first_last_serialize, DESERIALFUNC = nosql.first_last_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE nosql.first(anyelement, date) IS 'the value of the row with the smallest time (NULL values count, NULL times do not; ties: the first row read)';
CREATE AGGREGATE nosql.last(value anyelement, "time" date) (
    SFUNC = nosql.last_transition, STYPE = internal,
    FINALFUNC = nosql.first_last_final, FINALFUNC_EXTRA,
    COMBINEFUNC = nosql.last_combine,
    SERIALFUNC = nosql.first_last_serialize, DESERIALFUNC = nosql.first_last_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE nosql.last(anyelement, date) IS 'the value of the row with the largest time (NULL values count, NULL times do not; ties: the last row read)';
CREATE FUNCTION nosql.first_transition(internal, anyelement, bigint) RETURNS internal
    AS 'MODULE_PATHNAME', 'first_transition' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.first_transition(internal, anyelement, bigint) IS 'transition function of nosql.first';
CREATE FUNCTION nosql.last_transition(internal, anyelement, bigint) RETURNS internal
    AS 'MODULE_PATHNAME', 'last_transition' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.last_transition(internal, anyelement, bigint) IS 'transition function of nosql.last';
CREATE FUNCTION nosql.first_last_final(internal, anyelement, bigint) RETURNS anyelement
    AS 'MODULE_PATHNAME', 'first_last_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION nosql.first_last_final(internal, anyelement, bigint) IS 'final function of nosql.first and nosql.last';
CREATE AGGREGATE nosql.first(value anyelement, "time" bigint) (
    SFUNC = nosql.first_transition, STYPE = internal,
    FINALFUNC = nosql.first_last_final, FINALFUNC_EXTRA,
    COMBINEFUNC = nosql.first_combine,
    SERIALFUNC = nosql.first_last_serialize, DESERIALFUNC = nosql.first_last_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE nosql.first(anyelement, bigint) IS 'the value of the row with the smallest time (NULL values count, NULL times do not; ties: the first row read)';
CREATE AGGREGATE nosql.last(value anyelement, "time" bigint) (
    SFUNC = nosql.last_transition, STYPE = internal,
    FINALFUNC = nosql.first_last_final, FINALFUNC_EXTRA,
    COMBINEFUNC = nosql.last_combine,
    SERIALFUNC = nosql.first_last_serialize, DESERIALFUNC = nosql.first_last_deserialize,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE nosql.last(anyelement, bigint) IS 'the value of the row with the largest time (NULL values count, NULL times do not; ties: the last row read)';

---------------------------------------------------------------------------
-- Change streams: nosql.watch over one decoder per database
-- (src/cdc_watch.c, docs/cdc.md "Watching")
---------------------------------------------------------------------------

-- The change log: the database's decoder copies every collection change
-- event of the output plugin here, one row per event, keyed by its resume
-- token (fixed-width hex: text order under "C" is commit order).  An
-- ordinary logged table, so that it reaches physical standbys.  Readable
-- only by its owner: nosql.watch reads it for its callers.
CREATE TABLE nosql.change_log (
    token text COLLATE "C" PRIMARY KEY,
    database text NOT NULL,
    coll text,                      -- NULL for a dropDatabase event
    event nosql.bson NOT NULL,
    logged timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX change_log_logged ON nosql.change_log (logged);
-- startAtOperationTime: the first token whose clusterTime is at or after a
-- time, from the events since then
CREATE INDEX change_log_cluster_time ON nosql.change_log ((event OPERATOR(nosql.->) 'clusterTime'));
COMMENT ON TABLE nosql.change_log IS 'change stream events of the collections, one row per event by resume token (_id._data), written by the database''s decoder';

-- One row: the token before which the change log is incomplete (where
-- the decoder's slot was created, or the newest event retention removed),
-- and the time until which events may be missing: when the slot was ready
-- (the default, set as the decoder inserts the row), or the newest
-- wallTime retention removed.
CREATE TABLE nosql.change_stream_horizon (
    token text COLLATE "C" NOT NULL,
    since timestamptz NOT NULL DEFAULT now(),
    lost_until timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);
CREATE UNIQUE INDEX change_stream_horizon_one ON nosql.change_stream_horizon ((true));
COMMENT ON TABLE nosql.change_stream_horizon IS 'the resume token before which nosql.change_log is incomplete, and the commit time until which events may be missing: resuming from before the token, or starting at an operation time in or before that time''s second, is ChangeStreamHistoryLost';

-- MongoDB's cluster parameters (getClusterParameter, setClusterParameter;
-- src/cluster_parameter.c): one row per parameter ever set, its whole
-- value and when it was set.  changeStreamOptions' preAndPostImages.
-- expireAfterSeconds limits how long nosql.watch gives pre-images.  Every
-- role may read it; setting a parameter needs INSERT and UPDATE (grant
-- them to make a role MongoDB's clusterManager for setClusterParameter).
CREATE TABLE nosql.cluster_parameter (
    name text PRIMARY KEY,
    value nosql.bson NOT NULL,
    cluster_parameter_time timestamptz NOT NULL
);
COMMENT ON TABLE nosql.cluster_parameter IS 'MongoDB cluster parameters set with setClusterParameter (changeStreamOptions, changeStreams, pauseMigrationsDuringMultiUpdates): name, value without _id and clusterParameterTime, and the time of the setting; a parameter without a row has its default';
SELECT pg_catalog.pg_extension_config_dump('nosql.cluster_parameter', '');
GRANT SELECT ON nosql.cluster_parameter TO PUBLIC;

CREATE FUNCTION nosql.watch(coll text, pipeline nosql.bson DEFAULT NULL,
                            resume_after nosql.bson DEFAULT NULL, start_after nosql.bson DEFAULT NULL,
                            full_document text DEFAULT 'default', max_wait_ms integer DEFAULT 0,
                            full_document_before_change text DEFAULT 'off',
                            start_at_operation_time nosql.bson DEFAULT NULL,
                            show_expanded_events boolean DEFAULT false)
    RETURNS SETOF nosql.bson
    AS 'MODULE_PATHNAME', 'watch' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.watch(text, nosql.bson, nosql.bson, nosql.bson, text, integer, text, nosql.bson, boolean) IS 'MongoDB change stream: the change events of a collection (''db.coll''), a database (''db'') or every collection (NULL) after resume_after/start_after, or from the first event whose clusterTime is at or after start_at_operation_time (a bson timestamp), else from now, in commit order, through the pipeline; with max_wait_ms > 0 waits for the first ones; full_document_before_change off, whenAvailable or required gives the pre-images of collections with changeStreamPreAndPostImages; show_expanded_events adds MongoDB''s expanded events (create, createIndexes, dropIndexes, modify), collectionUUID and disambiguatedPaths';

CREATE FUNCTION nosql.watch_stream(coll text, pipeline nosql.bson DEFAULT NULL,
                                   resume_after nosql.bson DEFAULT NULL, start_after nosql.bson DEFAULT NULL,
                                   full_document text DEFAULT 'default',
                                   full_document_before_change text DEFAULT 'off',
                                   start_at_operation_time nosql.bson DEFAULT NULL,
                                   max_events bigint DEFAULT 0, idle_timeout_ms integer DEFAULT 0,
                                   show_expanded_events boolean DEFAULT false)
    RETURNS SETOF nosql.bson
    AS 'MODULE_PATHNAME', 'watch_stream' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.watch_stream(text, nosql.bson, nosql.bson, nosql.bson, text, text, nosql.bson, bigint, integer, boolean) IS 'MongoDB change stream in one call: the events of nosql.watch as they are logged, in commit order, until max_events (0: no limit), idle_timeout_ms without an event (0: never), or an invalidate; call it in the select list (COPY (SELECT nosql.watch_stream(...)) TO STDOUT, or libpq single-row mode) so that rows leave as they come';

CREATE FUNCTION nosql.watch_start_token() RETURNS nosql.bson
    AS 'MODULE_PATHNAME', 'watch_start_token' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.watch_start_token() IS 'the resume token of now: pass it as resume_after to start a change stream that misses nothing between calls';

CREATE FUNCTION nosql.change_log_trim(keep interval DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'change_log_trim' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.change_log_trim(interval) IS 'change log retention now: delete the events logged longer than keep ago (NULL: nosql.change_log_retention) and move the history horizon past them; returns how many';
REVOKE ALL ON FUNCTION nosql.change_log_trim(interval) FROM PUBLIC;

CREATE FUNCTION nosql.change_stream_decoders(OUT database oid, OUT pid integer, OUT ready boolean,
                                             OUT batches bigint, OUT events bigint)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'change_stream_decoders' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.change_stream_decoders() IS 'the running change stream decoders: database, pid, ready, transactions that copied events, events copied';

CREATE VIEW nosql.change_streams AS
SELECT n.slot_name,
       d.pid AS decoder_pid,
       d.events AS decoded_events,
       CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL
            ELSE pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.confirmed_flush_lsn)::bigint
       END AS lag_bytes,
       CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL
            ELSE pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), s.restart_lsn)::bigint
       END AS retained_wal_bytes,
       (SELECT count(*) FROM nosql.change_log) AS log_rows,
       (SELECT min(token) FROM nosql.change_log) AS oldest_token,
       (SELECT max(token) FROM nosql.change_log) AS newest_token,
       (SELECT token FROM nosql.change_stream_horizon) AS horizon
  FROM (SELECT 'nosql_cdc_' OPERATOR(pg_catalog.||) oid::text AS slot_name, oid
          FROM pg_catalog.pg_database
         WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database()) n
  LEFT JOIN pg_catalog.pg_replication_slots s ON s.slot_name OPERATOR(pg_catalog.=) n.slot_name
  LEFT JOIN nosql.change_stream_decoders() d ON d.database OPERATOR(pg_catalog.=) n.oid;
COMMENT ON VIEW nosql.change_streams IS 'the change stream decoder of this database: its slot (absent when none was created), pid, events copied, lag and retained WAL in bytes, the change log''s rows, oldest and newest tokens, and the history horizon';
GRANT SELECT ON nosql.change_streams TO pg_monitor;

-- The streams being read: nosql.watch calls while they run, open
-- $changeStream cursors (src/cdc_watchers.c).  Every role may look: the
-- function shows all watchers to superusers, roles with REPLICATION or
-- SELECT on nosql.change_log and members of pg_read_all_stats, and to
-- others only their own.
CREATE FUNCTION nosql.change_stream_get_watchers(OUT datid oid, OUT pid integer, OUT roleid oid,
                                                 OUT kind text, OUT cursor_id bigint,
                                                 OUT database text, OUT coll text,
                                                 OUT resume_token text, OUT started timestamptz,
                                                 OUT last_read timestamptz, OUT events bigint)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'change_stream_get_watchers' LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION nosql.change_stream_get_watchers() IS 'the change streams being read on the server (every role''s to those who may watch every collection or read all statistics, else the caller''s own): the backend''s database and pid, role, kind (watch, stream or cursor), cursor id, namespace, resume point, start, last read and events returned';

CREATE VIEW nosql.change_stream_watchers AS
SELECT w.pid,
       pg_catalog.pg_get_userbyid(w.roleid) AS role,
       w.kind,
       w.cursor_id,
       w.database,
       w.coll,
       w.resume_token,
       w.started,
       w.last_read,
       w.events,
       GREATEST(0, pg_catalog.pg_wal_lsn_diff(
           (pg_catalog.substr(n.newest, 1, 8) OPERATOR(pg_catalog.||) '/'
            OPERATOR(pg_catalog.||) pg_catalog.substr(n.newest, 9, 8))::pg_catalog.pg_lsn,
           (pg_catalog.substr(w.resume_token, 1, 8) OPERATOR(pg_catalog.||) '/'
            OPERATOR(pg_catalog.||) pg_catalog.substr(w.resume_token, 9, 8))::pg_catalog.pg_lsn))::bigint
           AS lag_bytes
  FROM nosql.change_stream_get_watchers() w,
       (SELECT pg_catalog.max(token) AS newest FROM nosql.change_log) n
 WHERE w.datid OPERATOR(pg_catalog.=)
       (SELECT oid FROM pg_catalog.pg_database WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database());
COMMENT ON VIEW nosql.change_stream_watchers IS 'the change streams being read in this database (nosql.watch and nosql.watch_stream calls while they run, open $changeStream cursors): pid, role, kind, cursor id, namespace (NULL: every database or collection), resume point, start, last read, events returned, and the WAL between the resume point and the newest event of the change log';
GRANT SELECT ON nosql.change_stream_watchers TO PUBLIC;

---------------------------------------------------------------------------
-- The compressed block of one column of one series (ts_codec.c): its bytes
-- in bytea's text form, checked on input by decoding them.
CREATE TYPE nosql.tsblock;
CREATE FUNCTION nosql.tsblock_in(cstring) RETURNS nosql.tsblock
    AS 'MODULE_PATHNAME', 'tsblock_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION nosql.tsblock_out(nosql.tsblock) RETURNS cstring
    AS 'MODULE_PATHNAME', 'tsblock_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION nosql.tsblock_recv(internal) RETURNS nosql.tsblock
    AS 'MODULE_PATHNAME', 'tsblock_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION nosql.tsblock_send(nosql.tsblock) RETURNS bytea
    AS 'MODULE_PATHNAME', 'tsblock_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE TYPE nosql.tsblock (
    INPUT = nosql.tsblock_in, OUTPUT = nosql.tsblock_out,
    RECEIVE = nosql.tsblock_recv, SEND = nosql.tsblock_send,
    INTERNALLENGTH = VARIABLE, ALIGNMENT = int4, STORAGE = external
);
COMMENT ON FUNCTION nosql.tsblock_in(cstring) IS 'input of nosql.tsblock: bytea text form, decoded to check it';
COMMENT ON FUNCTION nosql.tsblock_out(nosql.tsblock) IS 'output of nosql.tsblock: bytea text form';
COMMENT ON FUNCTION nosql.tsblock_recv(internal) IS 'binary input of nosql.tsblock, decoded to check it';
COMMENT ON FUNCTION nosql.tsblock_send(nosql.tsblock) IS 'binary output of nosql.tsblock';
COMMENT ON TYPE nosql.tsblock IS 'a compressed block of one column of a time-series table (see nosql.tsblock_info)';
CREATE FUNCTION nosql.tsblock_info(nosql.tsblock) RETURNS text
    AS 'MODULE_PATHNAME', 'tsblock_info' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.tsblock_info(nosql.tsblock) IS 'what a compressed block holds: codec type, rows, encoding method, bytes (per column for a container of a block row''s columns)';
CREATE FUNCTION nosql.tsblock_column(nosql.tsblock, integer) RETURNS nosql.tsblock
    AS 'MODULE_PATHNAME', 'tsblock_column' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.tsblock_column(nosql.tsblock, integer) IS 'the block of one column (by the partition''s column number) in a container of a block row''s columns; NULL if it has none';

-- Time series: tables partitioned by time (docs/timeseries.md "Storage").
-- nosql.create_timeseries turns an ordinary table into a table partitioned
-- by range of its time column, with a default partition for rows no range
-- partition takes; the database's background worker creates partitions
-- ahead of time (never inside a user's insert), moves rows out of the
-- default partition into partitions of their own, and drops partitions
-- older than drop_after (nosql.timeseries_maintain).  With hash_partitions,
-- each time range is itself partitioned by hash of the segment_by columns
-- into that many leaf partitions (docs/timeseries.md "Hash partitioning"):
-- the catalog lists the leaves, each with its time range and its parent;
-- compression, COPY and reading work per leaf, retention per time range.
---------------------------------------------------------------------------

CREATE TABLE nosql.timeseries (
    relid regclass PRIMARY KEY,
    time_column name NOT NULL,
    segment_by name[] NOT NULL DEFAULT '{}',
    hash_partitions int4,               -- NULL: time ranges are not split by hash
    chunk_interval interval NOT NULL,
    compress_after interval,
    drop_after interval,
    created timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_maintenance timestamptz,
    last_retention timestamptz,
    partitions_dropped bigint NOT NULL DEFAULT 0,
    last_error text,
    last_compression timestamptz,
    rows_compressed bigint NOT NULL DEFAULT 0,
    -- the time ranges made from now on are split this way; a hash
    -- partition key is made of the segment_by columns
    CHECK (hash_partitions IS NULL OR (hash_partitions OPERATOR(pg_catalog.>=) 2
                                       AND hash_partitions OPERATOR(pg_catalog.<=) 1024
                                       AND pg_catalog.cardinality(segment_by) OPERATOR(pg_catalog.>) 0))
);
COMMENT ON TABLE nosql.timeseries IS 'the time-series tables: time column, series (segment_by) columns, number of hash partitions per time range, partition width, compression and retention ages, and the background worker''s last runs';
SELECT pg_catalog.pg_extension_config_dump('nosql.timeseries', '');
-- everyone reads the catalog; a role writes the rows of its own tables only
-- (the functions that keep it run with the caller's rights, and the
-- background worker runs them as each table's owner)
GRANT SELECT, INSERT, UPDATE, DELETE ON nosql.timeseries TO PUBLIC;
ALTER TABLE nosql.timeseries ENABLE ROW LEVEL SECURITY;
CREATE POLICY timeseries_read ON nosql.timeseries FOR SELECT USING (true);
CREATE POLICY timeseries_owner ON nosql.timeseries FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE'));

CREATE TABLE nosql.timeseries_partition (
    relid regclass NOT NULL REFERENCES nosql.timeseries ON DELETE CASCADE,
    partition regclass PRIMARY KEY,
    range_start timestamptz,            -- NULL for the default partition
    range_end timestamptz,
    blocks regclass,                    -- its block table, once compressed
    block_types regtype[],              -- the column types it was compressed with, by attnum
    parent regclass,                    -- a hash leaf's time range partition (NULL: not split by hash)
    hash_remainder int4,                -- a hash leaf's remainder (modulus: nosql.timeseries.hash_partitions)
    CHECK ((range_start IS NULL) = (range_end IS NULL)),
    CHECK ((parent IS NULL) = (hash_remainder IS NULL)),
    CHECK (parent IS NULL OR range_start IS NOT NULL)
) WITH (user_catalog_table = true);
-- A user catalog table: the change stream output plugin reads it while
-- decoding, to know which table is a partition of which time-series table
-- (src/cdc_output.c).  Its writes log a few bytes more WAL, and ALTER
-- TABLE refuses to rewrite it (a column's new type, a column added with a
-- volatile default): an upgrade must change it without a rewrite.
-- one partition per time range, or one leaf per remainder of a range split
-- by hash; one default partition
CREATE UNIQUE INDEX timeseries_partition_range ON nosql.timeseries_partition (relid, range_start, hash_remainder) NULLS NOT DISTINCT;
CREATE INDEX timeseries_partition_parent ON nosql.timeseries_partition (parent);
COMMENT ON TABLE nosql.timeseries_partition IS 'the partitions of the time-series tables that hold rows (with hash partitioning, the leaves of each time range, with their parent), their time ranges [range_start, range_end) (NULL: the default partition), and the block tables of compressed partitions';
SELECT pg_catalog.pg_extension_config_dump('nosql.timeseries_partition', '');
-- a row names a partition of the table, both owned by the role writing it
GRANT SELECT, INSERT, UPDATE, DELETE ON nosql.timeseries_partition TO PUBLIC;
ALTER TABLE nosql.timeseries_partition ENABLE ROW LEVEL SECURITY;
CREATE POLICY timeseries_partition_read ON nosql.timeseries_partition FOR SELECT USING (true);
CREATE POLICY timeseries_partition_owner ON nosql.timeseries_partition FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE')
                AND pg_catalog.pg_has_role(CURRENT_USER, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) partition), 'USAGE')
                AND CASE WHEN parent IS NULL
                         THEN EXISTS (SELECT FROM pg_catalog.pg_inherits i
                                       WHERE i.inhrelid OPERATOR(pg_catalog.=) partition AND i.inhparent OPERATOR(pg_catalog.=) relid)
                         -- a hash leaf: a partition of a partition of the table
                         ELSE EXISTS (SELECT FROM pg_catalog.pg_inherits i
                                       WHERE i.inhrelid OPERATOR(pg_catalog.=) partition AND i.inhparent OPERATOR(pg_catalog.=) parent)
                              AND EXISTS (SELECT FROM pg_catalog.pg_inherits i
                                           WHERE i.inhrelid OPERATOR(pg_catalog.=) parent AND i.inhparent OPERATOR(pg_catalog.=) relid) END);
-- The output plugin caches the catalog: every change of it makes decoding
-- read it again, from the next change on.
CREATE FUNCTION nosql.timeseries_partition_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'timeseries_partition_changed' LANGUAGE C;
COMMENT ON FUNCTION nosql.timeseries_partition_changed() IS 'statement trigger: make the change stream decoders read the time-series partitions again';
CREATE TRIGGER timeseries_partition_changed AFTER INSERT OR UPDATE OF relid, partition OR DELETE OR TRUNCATE
    ON nosql.timeseries_partition FOR EACH STATEMENT EXECUTE FUNCTION nosql.timeseries_partition_changed();
COMMENT ON TRIGGER timeseries_partition_changed ON nosql.timeseries_partition IS 'make the change stream decoders read the time-series partitions again';

-- Rows moved into a partition by the maintenance are no new points: the
-- change stream skips the inserts into a relation between two calls, on
-- and off (src/cdc_message.c).  The maintenance runs as the table's owner,
-- which the function checks.
CREATE FUNCTION nosql.timeseries_move_marker(relation regclass, moving boolean) RETURNS void
    AS 'MODULE_PATHNAME', 'timeseries_move_marker' LANGUAGE C STRICT;
COMMENT ON FUNCTION nosql.timeseries_move_marker(regclass, boolean) IS 'internal: start (true) or end (false) a move of rows into a time-series table or partition, whose inserts the change stream does not emit as points';

-- The start of the partition of a time: widths aligned on 2000-01-03 (a Monday)
CREATE FUNCTION nosql.timeseries_partition_start(width interval, t timestamptz) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN pg_catalog.date_bin(width, t, '2000-01-03 00:00:00+00'::timestamptz);
COMMENT ON FUNCTION nosql.timeseries_partition_start(interval, timestamptz) IS 'internal: the start of the time-series partition a time falls in';

-- Whether a type can be a column of a hash partition key
CREATE FUNCTION nosql.timeseries_hashable(regtype) RETURNS boolean
    AS 'MODULE_PATHNAME', 'timeseries_hashable' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION nosql.timeseries_hashable(regtype) IS 'internal: whether a type has the default hash operator class PostgreSQL''s hash partitioning needs';

-- A free name for a relation a time-series table makes: base (cut, by
-- whole characters, so that the name with suffix fits in NAMEDATALEN - 1
-- bytes whatever the encoding) then suffix; when a relation of the schema
-- already has that name (another table whose name begins the same way, or
-- a user's table), _1, _2, ... goes before the suffix.
CREATE FUNCTION nosql.timeseries_relation_name(nsp name, base text, suffix text) RETURNS text
    LANGUAGE plpgsql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cut text;
    candidate text;
    n int := 0;
BEGIN
    LOOP
        cut := base;
        LOOP
            candidate := cut || CASE WHEN n = 0 THEN '' ELSE '_' || n END || suffix;
            EXIT WHEN octet_length(candidate) <= 63 OR cut = '';
            cut := left(cut, -1);
        END LOOP;
        IF octet_length(candidate) > 63 THEN
            RAISE EXCEPTION 'no name fits for a relation with suffix "%"', suffix
                USING ERRCODE = 'name_too_long';
        END IF;
        IF NOT EXISTS (SELECT FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
                        WHERE s.nspname = nsp AND c.relname = candidate) THEN
            RETURN candidate;
        END IF;
        n := n + 1;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION nosql.timeseries_relation_name(name, text, text) IS 'internal: a name not in use in a schema for a relation a time-series table makes (base cut to fit, then suffix)';

-- Create the range partition [start, start + width) of a time-series table,
-- moving its rows out of the default partition first; owned by the table's
-- owner.  With hash_partitions, the range partition is itself partitioned
-- by hash of the segment_by columns, and its leaves (one per remainder)
-- are what the catalog lists.  Internal: called by create_timeseries and
-- timeseries_maintain.
CREATE FUNCTION nosql.timeseries_add_partition(ts nosql.timeseries, start timestamptz)
RETURNS regclass
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel_schema name;
    rel_name name;
    owner name;
    stamp text;
    part_name text;
    leaf_name text;
    hash_key text;
    finish timestamptz := start OPERATOR(pg_catalog.+) ts.chunk_interval;
    dflt regclass;
    part regclass;
    leaves regclass[] := '{}';
BEGIN
    SELECT n.nspname, c.relname, pg_get_userbyid(c.relowner) INTO rel_schema, rel_name, owner
      FROM pg_class c JOIN pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
     WHERE c.oid OPERATOR(pg_catalog.=) ts.relid;
    stamp := pg_catalog.to_char(start AT TIME ZONE 'UTC', 'YYYYMMDD"_"HH24MISS');
    part_name := nosql.timeseries_relation_name(rel_schema, pg_catalog.left(rel_name, 40), '_ts_' OPERATOR(pg_catalog.||) stamp);
    SELECT p.partition INTO dflt FROM nosql.timeseries_partition p
     WHERE p.relid OPERATOR(pg_catalog.=) ts.relid AND p.range_start IS NULL;
    -- a table of its own, filled from the default partition, then attached
    IF ts.hash_partitions IS NULL THEN
        EXECUTE pg_catalog.format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)',
                                  rel_schema, part_name, ts.relid);
    ELSE
        SELECT pg_catalog.string_agg(pg_catalog.quote_ident(x.col), ', ' ORDER BY x.i) INTO hash_key
          FROM pg_catalog.unnest(ts.segment_by) WITH ORDINALITY x(col, i);
        EXECUTE pg_catalog.format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)'
                                  ' PARTITION BY HASH (%s)', rel_schema, part_name, ts.relid, hash_key);
    END IF;
    part := pg_catalog.format('%I.%I', rel_schema, part_name)::regclass;
    EXECUTE pg_catalog.format('ALTER TABLE %s OWNER TO %I', part, owner);
    IF ts.hash_partitions IS NOT NULL THEN
        -- the leaves: <table>_ts_<start>_h<remainder>, the table's name cut
        -- to 36 characters so that a remainder up to 1023 fits in a name
        FOR i IN 0 .. ts.hash_partitions OPERATOR(pg_catalog.-) 1 LOOP
            leaf_name := nosql.timeseries_relation_name(rel_schema, pg_catalog.left(rel_name, 36),
                '_ts_' OPERATOR(pg_catalog.||) stamp OPERATOR(pg_catalog.||) '_h' OPERATOR(pg_catalog.||) i);
            EXECUTE pg_catalog.format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES WITH (MODULUS %s, REMAINDER %s)',
                                      rel_schema, leaf_name, part, ts.hash_partitions, i);
            leaves := leaves OPERATOR(pg_catalog.||) pg_catalog.format('%I.%I', rel_schema, leaf_name)::regclass;
            EXECUTE pg_catalog.format('ALTER TABLE %s OWNER TO %I', leaves[i OPERATOR(pg_catalog.+) 1], owner);
        END LOOP;
    END IF;
    IF dflt IS NOT NULL THEN
        -- points emitted when they came into the default partition
        PERFORM nosql.timeseries_move_marker(ts.relid, true);
        EXECUTE pg_catalog.format(
            'WITH moved AS (DELETE FROM %s WHERE %I OPERATOR(pg_catalog.>=) $1 AND %I OPERATOR(pg_catalog.<) $2 RETURNING *) INSERT INTO %s SELECT * FROM moved',
            dflt, ts.time_column, ts.time_column, part) USING start, finish;
        PERFORM nosql.timeseries_move_marker(ts.relid, false);
    END IF;
    EXECUTE pg_catalog.format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%L) TO (%L)',
                              ts.relid, part, start, finish);
    IF ts.hash_partitions IS NULL THEN
        INSERT INTO nosql.timeseries_partition (relid, partition, range_start, range_end)
        VALUES (ts.relid, part, start, finish);
    ELSE
        INSERT INTO nosql.timeseries_partition (relid, partition, range_start, range_end, parent, hash_remainder)
        SELECT ts.relid, l.leaf, start, finish, part, (l.i OPERATOR(pg_catalog.-) 1)::int4
          FROM pg_catalog.unnest(leaves) WITH ORDINALITY l(leaf, i);
    END IF;
    RETURN part;
END;
$$;
COMMENT ON FUNCTION nosql.timeseries_add_partition(nosql.timeseries, timestamptz) IS 'internal: create and attach the partition of a time-series table that starts at start (with hash partitioning, a partition of the time range split into its hash leaves), moving its rows out of the default partition';

CREATE FUNCTION nosql.create_timeseries(relation regclass, time_column name,
                                        segment_by name[] DEFAULT '{}',
                                        chunk_interval interval DEFAULT '1 day',
                                        compress_after interval DEFAULT NULL,
                                        drop_after interval DEFAULT NULL,
                                        hash_partitions int DEFAULT NULL)
RETURNS regclass
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    rel record;
    col record;
    ts nosql.timeseries;
    old_name text;
    old regclass;
    cols text;
    starts timestamptz[];
    s timestamptz;
    dep record;
BEGIN
    IF relation IS NULL OR time_column IS NULL OR segment_by IS NULL OR chunk_interval IS NULL THEN
        RAISE EXCEPTION 'arguments of nosql.create_timeseries must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT c.oid, c.relname, c.relkind, c.relispartition, n.nspname, c.relowner
      INTO rel FROM pg_class c JOIN pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
     WHERE c.oid OPERATOR(pg_catalog.=) relation;
    IF rel.relkind OPERATOR(pg_catalog.<>) 'r' OR rel.relispartition THEN
        RAISE EXCEPTION '% is not an ordinary table', relation USING ERRCODE = 'wrong_object_type',
            HINT = 'nosql.create_timeseries converts a table that is not partitioned yet.';
    END IF;
    IF NOT pg_has_role(current_user, rel.relowner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', relation USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF EXISTS (SELECT FROM nosql.timeseries t WHERE t.relid OPERATOR(pg_catalog.=) relation) THEN
        RAISE EXCEPTION '% is already a time-series table', relation USING ERRCODE = 'duplicate_object';
    END IF;
    IF EXISTS (SELECT FROM pg_inherits WHERE inhrelid OPERATOR(pg_catalog.=) relation OR inhparent OPERATOR(pg_catalog.=) relation) THEN
        RAISE EXCEPTION '% has inheritance children or parents', relation USING ERRCODE = 'wrong_object_type';
    END IF;
    SELECT a.attname, a.atttypid, a.attnotnull INTO col FROM pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) relation AND a.attname OPERATOR(pg_catalog.=) time_column
       AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'column "%" of % does not exist', time_column, relation USING ERRCODE = 'undefined_column';
    END IF;
    IF col.atttypid OPERATOR(pg_catalog.<>) 'timestamptz'::regtype THEN
        RAISE EXCEPTION 'time column "%" must be of type timestamp with time zone, not %', time_column, col.atttypid::regtype
            USING ERRCODE = 'datatype_mismatch';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.unnest(segment_by) s(name)
                WHERE NOT EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid OPERATOR(pg_catalog.=) relation
                                     AND a.attname OPERATOR(pg_catalog.=) s.name AND a.attnum OPERATOR(pg_catalog.>) 0
                                     AND NOT a.attisdropped)) THEN
        RAISE EXCEPTION 'a segment_by column of % does not exist', relation USING ERRCODE = 'undefined_column';
    END IF;
    IF time_column OPERATOR(pg_catalog.=) ANY (segment_by) THEN
        RAISE EXCEPTION 'the time column cannot be a segment_by column' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF chunk_interval OPERATOR(pg_catalog.<=) interval '0' OR pg_catalog.date_part('month', chunk_interval) OPERATOR(pg_catalog.<>) 0
       OR pg_catalog.date_part('year', chunk_interval) OPERATOR(pg_catalog.<>) 0 THEN
        RAISE EXCEPTION 'invalid chunk_interval %', chunk_interval USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Use a positive interval of days, hours, minutes or seconds (months vary in length).';
    END IF;
    IF chunk_interval OPERATOR(pg_catalog.<) interval '1 minute' THEN
        RAISE EXCEPTION 'chunk_interval % is too small', chunk_interval USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Partitions of at least a minute; a partition per few hours or days suits most data.';
    END IF;
    IF compress_after OPERATOR(pg_catalog.<) interval '0' OR drop_after OPERATOR(pg_catalog.<=) interval '0' THEN
        RAISE EXCEPTION 'compress_after and drop_after must be positive' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF hash_partitions IS NOT NULL THEN
        IF hash_partitions OPERATOR(pg_catalog.<) 2 OR hash_partitions OPERATOR(pg_catalog.>) 1024 THEN
            RAISE EXCEPTION 'hash_partitions must be between 2 and 1024, not %', hash_partitions
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Leave it NULL to partition by time alone.';
        END IF;
        IF pg_catalog.cardinality(segment_by) OPERATOR(pg_catalog.=) 0 THEN
            RAISE EXCEPTION 'hash_partitions needs segment_by columns' USING ERRCODE = 'invalid_parameter_value',
                HINT = 'The series (segment_by) columns are the hash partition key.';
        END IF;
        IF (SELECT pg_catalog.count(DISTINCT x) FROM pg_catalog.unnest(segment_by) x) OPERATOR(pg_catalog.<>) pg_catalog.cardinality(segment_by) THEN
            RAISE EXCEPTION 'a segment_by column is named twice' USING ERRCODE = 'duplicate_column';
        END IF;
        -- PostgreSQL's hash partitioning needs a default hash operator class
        FOR dep IN SELECT a.attname, a.atttypid FROM pg_attribute a
                    WHERE a.attrelid OPERATOR(pg_catalog.=) relation AND a.attname OPERATOR(pg_catalog.=) ANY (segment_by)
                      AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
                      AND NOT nosql.timeseries_hashable(a.atttypid) LOOP
            RAISE EXCEPTION 'segment_by column "%" of type % cannot be a hash partition key', dep.attname, dep.atttypid::regtype
                USING ERRCODE = 'undefined_object',
                      DETAIL = 'The type has no default operator class for access method "hash".';
        END LOOP;
        -- PostgreSQL's rule for unique keys of partitioned tables, at each level
        FOR dep IN SELECT i.indexrelid::regclass AS idx FROM pg_index i
                    WHERE i.indrelid OPERATOR(pg_catalog.=) relation AND (i.indisunique OR i.indisexclusion)
                      AND EXISTS (SELECT FROM pg_attribute a
                                   WHERE a.attrelid OPERATOR(pg_catalog.=) relation AND a.attname OPERATOR(pg_catalog.=) ANY (segment_by)
                                     AND a.attnum OPERATOR(pg_catalog.<>) ALL (i.indkey::int2[])) LOOP
            RAISE EXCEPTION 'unique index % of % does not include every segment_by column', dep.idx, relation
                USING ERRCODE = 'feature_not_supported',
                      HINT = 'A unique key of a table partitioned by hash must include the hash partition key (the segment_by columns).';
        END LOOP;
    END IF;
    -- objects that depend on the table's identity would follow the old one
    FOR dep IN SELECT DISTINCT r.ev_class::regclass AS view FROM pg_depend d JOIN pg_rewrite r ON r.oid OPERATOR(pg_catalog.=) d.objid
                WHERE d.refobjid OPERATOR(pg_catalog.=) relation AND d.classid OPERATOR(pg_catalog.=) 'pg_rewrite'::regclass
                  AND r.ev_class OPERATOR(pg_catalog.<>) relation LOOP
        RAISE EXCEPTION '% is used by view %', relation, dep.view USING ERRCODE = 'dependent_objects_still_exist',
            HINT = 'Drop the view, convert the table, and create the view again.';
    END LOOP;
    IF EXISTS (SELECT FROM pg_constraint WHERE confrelid OPERATOR(pg_catalog.=) relation) THEN
        RAISE EXCEPTION '% is referenced by a foreign key', relation USING ERRCODE = 'dependent_objects_still_exist';
    END IF;

    EXECUTE pg_catalog.format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', relation);
    old_name := nosql.timeseries_relation_name(rel.nspname, pg_catalog.left(rel.relname, 40), '_ts_convert');
    EXECUTE pg_catalog.format('ALTER TABLE %s RENAME TO %I', relation, old_name);
    old := pg_catalog.format('%I.%I', rel.nspname, old_name)::regclass;
    EXECUTE pg_catalog.format('CREATE TABLE %I.%I (LIKE %s INCLUDING ALL) PARTITION BY RANGE (%I)',
                              rel.nspname, rel.relname, old, time_column);
    relation := pg_catalog.format('%I.%I', rel.nspname, rel.relname)::regclass;
    EXECUTE pg_catalog.format('ALTER TABLE %s OWNER TO %I', relation, pg_get_userbyid(rel.relowner));
    -- the privileges of the old table
    FOR dep IN SELECT a.privilege_type, a.grantee, a.is_grantable
                 FROM pg_class c, pg_catalog.aclexplode(c.relacl) a
                WHERE c.oid OPERATOR(pg_catalog.=) old AND a.grantee OPERATOR(pg_catalog.<>) c.relowner LOOP
        EXECUTE pg_catalog.format('GRANT %s ON %s TO %s%s', dep.privilege_type, relation,
                                  CASE WHEN dep.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                                       ELSE pg_catalog.quote_ident(pg_get_userbyid(dep.grantee)) END,
                                  CASE WHEN dep.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
    -- sequences owned by the old table's columns belong to the new one
    FOR dep IN SELECT s.relid AS seq, a.attname
                 FROM pg_depend d JOIN pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) d.refobjid AND a.attnum OPERATOR(pg_catalog.=) d.refobjsubid
                 CROSS JOIN LATERAL (SELECT d.objid::regclass AS relid) s
                WHERE d.refobjid OPERATOR(pg_catalog.=) old AND d.classid OPERATOR(pg_catalog.=) 'pg_class'::regclass
                  AND d.deptype OPERATOR(pg_catalog.=) 'a'
                  AND (SELECT relkind FROM pg_class WHERE oid OPERATOR(pg_catalog.=) d.objid) OPERATOR(pg_catalog.=) 'S' LOOP
        EXECUTE pg_catalog.format('ALTER SEQUENCE %s OWNED BY %s.%I', dep.seq, relation, dep.attname);
    END LOOP;

    INSERT INTO nosql.timeseries (relid, time_column, segment_by, hash_partitions, chunk_interval, compress_after, drop_after)
    VALUES (relation, time_column, segment_by, hash_partitions, chunk_interval, compress_after, drop_after)
    RETURNING * INTO ts;
    old_name := nosql.timeseries_relation_name(rel.nspname, pg_catalog.left(rel.relname, 40), '_ts_default');
    EXECUTE pg_catalog.format('CREATE TABLE %I.%I PARTITION OF %s DEFAULT', rel.nspname, old_name, relation);
    INSERT INTO nosql.timeseries_partition (relid, partition)
    VALUES (relation, pg_catalog.format('%I.%I', rel.nspname, old_name)::regclass);

    -- partitions for the rows there are, and for now and the next two
    EXECUTE pg_catalog.format('SELECT pg_catalog.array_agg(DISTINCT nosql.timeseries_partition_start($1, %I)) FROM %s',
                              time_column, old) USING chunk_interval INTO starts;
    starts := COALESCE(starts, '{}');
    -- (with hash partitioning, every time range makes hash_partitions of them)
    IF pg_catalog.cardinality(starts) OPERATOR(pg_catalog.*) COALESCE(hash_partitions, 1) OPERATOR(pg_catalog.>) 10000 THEN
        RAISE EXCEPTION 'the rows of % fall into more than 10,000 partitions of %', relation, chunk_interval
            USING ERRCODE = 'program_limit_exceeded', HINT = 'Use a larger chunk_interval.';
    END IF;
    s := nosql.timeseries_partition_start(chunk_interval, pg_catalog.now());
    FOR i IN 0 .. 2 LOOP
        starts := starts OPERATOR(pg_catalog.||) (s OPERATOR(pg_catalog.+) (chunk_interval OPERATOR(pg_catalog.*) i));
    END LOOP;
    FOR s IN SELECT DISTINCT x FROM pg_catalog.unnest(starts) x WHERE x IS NOT NULL ORDER BY 1 LOOP
        PERFORM nosql.timeseries_add_partition(ts, s);
    END LOOP;

    SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
      FROM pg_attribute a
     WHERE a.attrelid OPERATOR(pg_catalog.=) old AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped
       AND a.attgenerated OPERATOR(pg_catalog.=) '';
    -- the table's rows, no new points
    PERFORM nosql.timeseries_move_marker(relation, true);
    EXECUTE pg_catalog.format('INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s', relation, cols, cols, old);
    PERFORM nosql.timeseries_move_marker(relation, false);
    EXECUTE pg_catalog.format('DROP TABLE %s', old);
    RETURN relation;
END;
$$;
COMMENT ON FUNCTION nosql.create_timeseries(regclass, name, name[], interval, interval, interval, int) IS 'turn an ordinary table into a time-series table partitioned by its time column, and with hash_partitions each time range by hash of the segment_by columns (its rows are kept; partitions are created ahead of time by the background worker)';

-- Compression (src/ts_compress.c, src/ts_scan.c; docs/timeseries.md
-- "Compression").  A compressed partition keeps the rows written since its
-- last compression in its heap and older rows in its block table: one row
-- per block of up to 1,000 rows of one series (segment_by values), ordered
-- by time.  SELECT reads both (the custom scan "Nosql Decompress");
-- UPDATE and DELETE first move the blocks they may reach back into rows.
CREATE FUNCTION nosql.timeseries_compress_rows(partition regclass) RETURNS bigint
    AS 'MODULE_PATHNAME', 'timeseries_compress_rows' LANGUAGE C STRICT;
COMMENT ON FUNCTION nosql.timeseries_compress_rows(regclass) IS 'internal: move the rows of a partition''s heap into its block table';
CREATE FUNCTION nosql.timeseries_decompress_rows(partition regclass) RETURNS bigint
    AS 'MODULE_PATHNAME', 'timeseries_decompress_rows' LANGUAGE C STRICT;
COMMENT ON FUNCTION nosql.timeseries_decompress_rows(regclass) IS 'internal: move every block of a partition back into rows of its heap';
CREATE FUNCTION nosql.timeseries_heap_rows(partition regclass, stop_at bigint DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'timeseries_heap_rows' LANGUAGE C;
COMMENT ON FUNCTION nosql.timeseries_heap_rows(regclass, bigint) IS 'the rows of a partition''s heap alone, not in blocks (what the next compression would move), counting up to stop_at';
CREATE FUNCTION nosql.timeseries_reclaim(partition regclass) RETURNS boolean
    AS 'MODULE_PATHNAME', 'timeseries_reclaim' LANGUAGE C STRICT;
COMMENT ON FUNCTION nosql.timeseries_reclaim(regclass) IS 'give back the space of a compressed partition''s heap and indexes once every row left in its heap is dead to everyone (false: not now)';
CREATE FUNCTION nosql.timeseries_link_blocks(partition regclass, blocks regclass) RETURNS void
    AS 'MODULE_PATHNAME', 'timeseries_link_blocks' LANGUAGE C STRICT;
COMMENT ON FUNCTION nosql.timeseries_link_blocks(regclass, regclass) IS 'internal: make a block table part of its partition (dropped with it, not droppable alone)';

-- Compress one partition: make its block table the first time, then move
-- its heap's rows into blocks.  Returns the rows moved.
CREATE FUNCTION nosql.timeseries_compress_partition(part regclass) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p nosql.timeseries_partition;
    ts nosql.timeseries;
    rel record;
    a record;
    cols text := '';
    segs text := '';
    types regtype[];
    bname text;
    blk regclass;
BEGIN
    SELECT * INTO p FROM nosql.timeseries_partition x WHERE x.partition OPERATOR(pg_catalog.=) part;
    IF NOT FOUND OR p.range_start IS NULL THEN
        IF EXISTS (SELECT FROM nosql.timeseries_partition x WHERE x.parent OPERATOR(pg_catalog.=) part) THEN
            RAISE EXCEPTION '% is not a range partition of a time-series table', part
                USING ERRCODE = 'wrong_object_type',
                      HINT = 'It is a time range split by hash: compress its partitions (the rows of nosql.timeseries_partition whose parent it is).';
        END IF;
        RAISE EXCEPTION '% is not a range partition of a time-series table', part
            USING ERRCODE = 'wrong_object_type';
    END IF;
    SELECT * INTO ts FROM nosql.timeseries t WHERE t.relid OPERATOR(pg_catalog.=) p.relid;
    SELECT n.nspname, c.relname, c.relowner INTO rel
      FROM pg_class c JOIN pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
     WHERE c.oid OPERATOR(pg_catalog.=) part;
    IF NOT pg_has_role(current_user, rel.relowner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', part USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF EXISTS (SELECT FROM pg_index i WHERE i.indrelid OPERATOR(pg_catalog.=) part AND i.indisunique) THEN
        RAISE EXCEPTION 'cannot compress %: it has a unique index', part
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Uniqueness cannot be checked against compressed rows; drop the unique index or constraint to compress.';
    END IF;
    IF p.blocks IS NULL THEN
        types := pg_catalog.array_fill(NULL::regtype, ARRAY[(SELECT c.relnatts FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) part)::int]);
        FOR a IN SELECT x.attnum, x.attname, x.atttypid, x.atttypmod, x.attcollation
                   FROM pg_attribute x
                  WHERE x.attrelid OPERATOR(pg_catalog.=) part AND x.attnum OPERATOR(pg_catalog.>) 0 AND NOT x.attisdropped
                  ORDER BY x.attnum LOOP
            IF a.attname OPERATOR(pg_catalog.=) ts.time_column THEN
                -- the container of the block's time and value columns
                cols := cols OPERATOR(pg_catalog.||) pg_catalog.format(', t%s nosql.tsblock', a.attnum);
                types[a.attnum] := a.atttypid;
            ELSIF a.attname OPERATOR(pg_catalog.=) ANY (ts.segment_by) THEN
                cols := cols OPERATOR(pg_catalog.||) pg_catalog.format(', s%s %s', a.attnum, pg_catalog.format_type(a.atttypid, a.atttypmod))
                    OPERATOR(pg_catalog.||) COALESCE((SELECT pg_catalog.format(' COLLATE %I.%I', cn.nspname, co.collname)
                                                        FROM pg_collation co JOIN pg_namespace cn ON cn.oid OPERATOR(pg_catalog.=) co.collnamespace
                                                       WHERE co.oid OPERATOR(pg_catalog.=) a.attcollation), '');
                segs := segs OPERATOR(pg_catalog.||) pg_catalog.format('s%s, ', a.attnum);
            ELSE
                -- the column's NULLs in the block, and for ordered numeric and
                -- time types its smallest and largest value (blocks are skipped by them)
                cols := cols OPERATOR(pg_catalog.||) pg_catalog.format(', c%s_nulls int4', a.attnum);
                IF a.atttypid OPERATOR(pg_catalog.=) ANY ('{int2,int4,int8,float4,float8,date,timestamp,timestamptz}'::regtype[]) THEN
                    cols := cols OPERATOR(pg_catalog.||) pg_catalog.format(', c%s_min %s, c%s_max %s', a.attnum,
                                pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnum, pg_catalog.format_type(a.atttypid, a.atttypmod));
                END IF;
                -- and for int2/int4/int8 its sum (aggregates read whole blocks
                -- from these; NULL when an int8 sum does not fit in int8)
                IF a.atttypid OPERATOR(pg_catalog.=) ANY ('{int2,int4,int8}'::regtype[]) THEN
                    cols := cols OPERATOR(pg_catalog.||) pg_catalog.format(', c%s_sum int8', a.attnum);
                END IF;
                types[a.attnum] := a.atttypid;
            END IF;
        END LOOP;
        -- <partition>_blocks; a name too long for that is cut and made
        -- unique by the partition's OID (cut alone, the names of partitions
        -- that differ only at their end, hash leaves, would collide)
        IF pg_catalog.octet_length(rel.relname) OPERATOR(pg_catalog.<=) 56 THEN
            bname := nosql.timeseries_relation_name(rel.nspname, rel.relname, '_blocks');
        ELSE
            bname := nosql.timeseries_relation_name(rel.nspname, pg_catalog.left(rel.relname, 40),
                '_' OPERATOR(pg_catalog.||) part::oid OPERATOR(pg_catalog.||) '_blocks');
        END IF;
        EXECUTE pg_catalog.format('CREATE TABLE %I.%I (rows int4 NOT NULL, min_time timestamptz NOT NULL, max_time timestamptz NOT NULL%s)',
                                  rel.nspname, bname, cols);
        blk := pg_catalog.format('%I.%I', rel.nspname, bname)::regclass;
        EXECUTE pg_catalog.format('ALTER TABLE %s OWNER TO %I', blk, pg_catalog.pg_get_userbyid(rel.relowner));
        EXECUTE pg_catalog.format('CREATE INDEX ON %s (%smin_time)', blk, segs);
        PERFORM nosql.timeseries_link_blocks(part, blk);
        UPDATE nosql.timeseries_partition x SET blocks = blk, block_types = types
         WHERE x.partition OPERATOR(pg_catalog.=) part;
    END IF;
    RETURN nosql.timeseries_compress_rows(part);
END;
$$;
COMMENT ON FUNCTION nosql.timeseries_compress_partition(regclass) IS 'compress one partition of a time-series table now (its block table is made the first time); returns the rows moved into blocks';

CREATE FUNCTION nosql.compress_timeseries(relation regclass, older_than interval DEFAULT '0')
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ts nosql.timeseries;
    p record;
    n bigint := 0;
BEGIN
    IF relation IS NULL OR older_than IS NULL THEN
        RAISE EXCEPTION 'arguments of nosql.compress_timeseries must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF older_than OPERATOR(pg_catalog.<) interval '0' THEN
        RAISE EXCEPTION 'older_than must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO ts FROM nosql.timeseries t WHERE t.relid OPERATOR(pg_catalog.=) relation;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not a time-series table', relation USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT pg_has_role(current_user, (SELECT c.relowner FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relation), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', relation USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- the catalog row first, as the maintenance round does, then the partitions
    PERFORM FROM nosql.timeseries t WHERE t.relid OPERATOR(pg_catalog.=) relation FOR UPDATE;
    FOR p IN SELECT x.partition FROM nosql.timeseries_partition x
              WHERE x.relid OPERATOR(pg_catalog.=) relation AND x.range_start IS NOT NULL
                AND x.range_end OPERATOR(pg_catalog.<=) (pg_catalog.now() OPERATOR(pg_catalog.-) older_than)
              ORDER BY x.range_start, x.hash_remainder LOOP
        n := n OPERATOR(pg_catalog.+) nosql.timeseries_compress_partition(p.partition);
    END LOOP;
    UPDATE nosql.timeseries t
       SET last_compression = pg_catalog.now(), rows_compressed = t.rows_compressed OPERATOR(pg_catalog.+) n
     WHERE t.relid OPERATOR(pg_catalog.=) relation;
    RETURN n;
END;
$$;
COMMENT ON FUNCTION nosql.compress_timeseries(regclass, interval) IS 'compress now the partitions of a time-series table whose whole range is older than older_than; returns the rows moved into blocks';

-- The background worker's compression step for one table: compress the
-- oldest partition older than compress_after that has rows in its heap (or
-- has never been compressed); NULL when there is none.  The worker calls it
-- in a transaction of its own until it returns NULL.
CREATE FUNCTION nosql.timeseries_compress_next(relation regclass) RETURNS regclass
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ts nosql.timeseries;
    p record;
    n bigint;
BEGIN
    SELECT * INTO ts FROM nosql.timeseries t WHERE t.relid OPERATOR(pg_catalog.=) relation FOR UPDATE;
    IF NOT FOUND OR ts.compress_after IS NULL THEN
        RETURN NULL;
    END IF;
    FOR p IN SELECT x.partition, x.blocks FROM nosql.timeseries_partition x
              WHERE x.relid OPERATOR(pg_catalog.=) relation AND x.range_start IS NOT NULL
                AND x.range_end OPERATOR(pg_catalog.<=) (pg_catalog.now() OPERATOR(pg_catalog.-) ts.compress_after)
              ORDER BY x.range_start, x.hash_remainder LOOP
        IF p.blocks IS NULL OR nosql.timeseries_heap_rows(p.partition, 1) OPERATOR(pg_catalog.>) 0 THEN
            n := nosql.timeseries_compress_partition(p.partition);
            UPDATE nosql.timeseries t
               SET last_compression = pg_catalog.now(), rows_compressed = t.rows_compressed OPERATOR(pg_catalog.+) n
             WHERE t.relid OPERATOR(pg_catalog.=) relation;
            RETURN p.partition;
        END IF;
    END LOOP;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION nosql.timeseries_compress_next(regclass) IS 'the background worker''s compression step: compress the oldest partition older than compress_after with rows in its heap; NULL when none is left';

CREATE FUNCTION nosql.decompress_timeseries(relation regclass) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p record;
    n bigint := 0;
BEGIN
    IF NOT EXISTS (SELECT FROM nosql.timeseries t WHERE t.relid OPERATOR(pg_catalog.=) relation) THEN
        RAISE EXCEPTION '% is not a time-series table', relation USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT pg_has_role(current_user, (SELECT c.relowner FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relation), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', relation USING ERRCODE = 'insufficient_privilege';
    END IF;
    FOR p IN SELECT x.partition FROM nosql.timeseries_partition x
              WHERE x.relid OPERATOR(pg_catalog.=) relation AND x.blocks IS NOT NULL ORDER BY x.range_start, x.hash_remainder LOOP
        n := n OPERATOR(pg_catalog.+) nosql.timeseries_decompress_rows(p.partition);
    END LOOP;
    RETURN n;
END;
$$;
COMMENT ON FUNCTION nosql.decompress_timeseries(regclass) IS 'move every compressed row of a time-series table back into its partitions'' heaps; returns the rows moved';

-- The background worker's round for one time-series table (or all): the
-- partitions of the next two intervals, the rows of the default partition
-- moved into partitions of their own, retention.  Runs with the caller's
-- rights (the worker runs it as the table's owner) on the tables the
-- caller owns.
CREATE FUNCTION nosql.timeseries_maintain(relation regclass DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ts nosql.timeseries;
    s timestamptz;
    p record;
    dflt regclass;
    dropped bigint;
BEGIN
    FOR ts IN SELECT * FROM nosql.timeseries t
               WHERE (relation IS NULL OR t.relid OPERATOR(pg_catalog.=) relation)
                 AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid OPERATOR(pg_catalog.=) t.relid), 'USAGE')
               ORDER BY t.relid FOR UPDATE OF t LOOP
        -- ahead of time: the partitions of now and the next two intervals
        s := nosql.timeseries_partition_start(ts.chunk_interval, pg_catalog.now());
        FOR i IN 0 .. 2 LOOP
            IF NOT EXISTS (SELECT FROM nosql.timeseries_partition x
                            WHERE x.relid OPERATOR(pg_catalog.=) ts.relid AND x.range_start OPERATOR(pg_catalog.=) s) THEN
                PERFORM nosql.timeseries_add_partition(ts, s);
            END IF;
            s := s OPERATOR(pg_catalog.+) ts.chunk_interval;
        END LOOP;
        -- rows no partition took (old or far-future times)
        SELECT x.partition INTO dflt FROM nosql.timeseries_partition x
         WHERE x.relid OPERATOR(pg_catalog.=) ts.relid AND x.range_start IS NULL;
        IF dflt IS NOT NULL THEN
            FOR p IN EXECUTE pg_catalog.format(
                'SELECT DISTINCT nosql.timeseries_partition_start($1, %I) AS start FROM %s ORDER BY 1 LIMIT 100',
                ts.time_column, dflt) USING ts.chunk_interval LOOP
                IF NOT EXISTS (SELECT FROM nosql.timeseries_partition x
                                WHERE x.relid OPERATOR(pg_catalog.=) ts.relid AND x.range_start OPERATOR(pg_catalog.=) p.start) THEN
                    PERFORM nosql.timeseries_add_partition(ts, p.start);
                END IF;
            END LOOP;
        END IF;
        -- the space compression freed: heaps and indexes of compressed
        -- partitions whose remaining rows are all dead to everyone
        FOR p IN SELECT x.partition FROM nosql.timeseries_partition x
                  WHERE x.relid OPERATOR(pg_catalog.=) ts.relid AND x.blocks IS NOT NULL LOOP
            PERFORM nosql.timeseries_reclaim(p.partition);
        END LOOP;
        -- retention: partitions wholly older than drop_after; a time range
        -- split by hash goes whole (its partition, with every leaf)
        dropped := 0;
        IF ts.drop_after IS NOT NULL THEN
            FOR p IN SELECT COALESCE(x.parent, x.partition) AS range_partition, pg_catalog.count(*) AS leaves
                       FROM nosql.timeseries_partition x
                      WHERE x.relid OPERATOR(pg_catalog.=) ts.relid
                        AND x.range_end OPERATOR(pg_catalog.<=) (pg_catalog.now() OPERATOR(pg_catalog.-) ts.drop_after)
                      GROUP BY 1 LOOP
                EXECUTE pg_catalog.format('DROP TABLE %s', p.range_partition);
                DELETE FROM nosql.timeseries_partition x
                 WHERE x.partition OPERATOR(pg_catalog.=) p.range_partition OR x.parent OPERATOR(pg_catalog.=) p.range_partition;
                dropped := dropped OPERATOR(pg_catalog.+) p.leaves;
            END LOOP;
        END IF;
        UPDATE nosql.timeseries t
           SET last_maintenance = pg_catalog.now(),
               last_retention = CASE WHEN ts.drop_after IS NULL THEN NULL ELSE pg_catalog.now() END,
               partitions_dropped = t.partitions_dropped OPERATOR(pg_catalog.+) dropped,
               last_error = NULL
         WHERE t.relid OPERATOR(pg_catalog.=) ts.relid;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION nosql.timeseries_maintain(regclass) IS 'run the background worker''s round now for a time-series table (NULL: every one the caller owns): partitions ahead of time (with their hash leaves), rows out of the default partition, retention';

CREATE FUNCTION nosql.timeseries_size(relation regclass) RETURNS bigint
LANGUAGE sql STABLE STRICT SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
    SELECT CASE WHEN NOT EXISTS (SELECT FROM nosql.timeseries t WHERE t.relid OPERATOR(pg_catalog.=) relation)
                THEN NULL
                ELSE (COALESCE((SELECT pg_catalog.sum(pg_catalog.pg_total_relation_size(p.relid))
                                  FROM pg_catalog.pg_partition_tree(relation) p), 0)
                      OPERATOR(pg_catalog.+)
                      COALESCE((SELECT pg_catalog.sum(pg_catalog.pg_total_relation_size(x.blocks))
                                  FROM nosql.timeseries_partition x
                                 WHERE x.relid OPERATOR(pg_catalog.=) relation AND x.blocks IS NOT NULL), 0))::bigint END;
END;
COMMENT ON FUNCTION nosql.timeseries_size(regclass) IS 'the bytes a time-series table occupies: every partition and block table with their indexes and TOAST (NULL for a table that is not a time-series table)';

CREATE VIEW nosql.timeseries_info AS
SELECT t.relid AS "table", t.time_column, t.segment_by, t.hash_partitions, t.chunk_interval, t.compress_after, t.drop_after,
       (SELECT pg_catalog.count(*) FROM nosql.timeseries_partition p
         WHERE p.relid OPERATOR(pg_catalog.=) t.relid AND p.range_start IS NOT NULL) AS partitions,
       (SELECT pg_catalog.count(DISTINCT p.range_start) FROM nosql.timeseries_partition p
         WHERE p.relid OPERATOR(pg_catalog.=) t.relid) AS time_ranges,
       (SELECT pg_catalog.min(p.range_start) FROM nosql.timeseries_partition p WHERE p.relid OPERATOR(pg_catalog.=) t.relid) AS oldest,
       (SELECT pg_catalog.max(p.range_end) FROM nosql.timeseries_partition p WHERE p.relid OPERATOR(pg_catalog.=) t.relid) AS newest,
       nosql.timeseries_size(t.relid) AS size,
       (SELECT pg_catalog.count(*) FROM nosql.timeseries_partition p
         WHERE p.relid OPERATOR(pg_catalog.=) t.relid AND p.blocks IS NOT NULL) AS compressed_partitions,
       t.last_maintenance, t.last_retention, t.partitions_dropped, t.last_compression, t.rows_compressed, t.last_error
  FROM nosql.timeseries t;
COMMENT ON VIEW nosql.timeseries_info IS 'the time-series tables with their partitions (with hash partitioning, the leaves), size, and the background worker''s last maintenance and retention runs';
GRANT SELECT ON nosql.timeseries_info TO PUBLIC;

-- A time-series table or partition dropped by SQL leaves the catalog with it.
CREATE FUNCTION nosql.timeseries_table_dropped() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM nosql.timeseries_partition p
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND (d.objid = p.partition::oid OR d.objid = p.relid::oid OR d.objid = p.parent::oid);
    DELETE FROM nosql.timeseries t
     USING pg_event_trigger_dropped_objects() d
     WHERE d.classid = 'pg_class'::regclass AND d.objsubid = 0
       AND d.objid = t.relid::oid;
END
$$;
COMMENT ON FUNCTION nosql.timeseries_table_dropped() IS 'event trigger: forget time-series tables and partitions that were dropped';
REVOKE ALL ON FUNCTION nosql.timeseries_table_dropped() FROM PUBLIC;
CREATE EVENT TRIGGER nosql_timeseries_table_dropped ON sql_drop
    EXECUTE FUNCTION nosql.timeseries_table_dropped();
COMMENT ON EVENT TRIGGER nosql_timeseries_table_dropped IS 'forget time-series tables and partitions dropped by SQL';

---------------------------------------------------------------------------
-- Time series: rollups (src/ts_rollup.c, docs/timeseries.md "Rollups").
-- A rollup is an ordinary table of per-bucket aggregates of a time-series
-- table, kept up to date by nosql.refresh_rollup: buckets from the
-- watermark up to the last complete one are materialized, and buckets
-- below it that late writes invalidated are computed again from the raw
-- rows.  Statement triggers on the source (installed while it has a
-- rollup) log the time range each late write touched; refresh consumes the
-- log in its own transaction.  Buckets whose raw rows retention may have
-- dropped are never computed again.
---------------------------------------------------------------------------

CREATE TABLE nosql.timeseries_rollup (
    rollup regclass PRIMARY KEY,
    source regclass NOT NULL REFERENCES nosql.timeseries ON DELETE CASCADE,
    bucket_width interval NOT NULL,
    group_by name[] NOT NULL DEFAULT '{}',
    aggregates text[] NOT NULL,
    refresh_lag interval NOT NULL DEFAULT '0',
    schedule interval NOT NULL DEFAULT '1 minute',
    watermark timestamptz,              -- buckets before it are materialized
    created timestamptz NOT NULL DEFAULT pg_catalog.now(),
    last_run timestamptz,
    last_duration interval,
    last_error text,
    rows_written bigint NOT NULL DEFAULT 0
);
CREATE INDEX timeseries_rollup_source ON nosql.timeseries_rollup (source);
COMMENT ON TABLE nosql.timeseries_rollup IS 'the rollups of time-series tables: source, bucket width, grouping and aggregates, refresh settings, watermark (buckets before it are materialized) and the last refresh';
SELECT pg_catalog.pg_extension_config_dump('nosql.timeseries_rollup', '');
GRANT SELECT, INSERT, UPDATE, DELETE ON nosql.timeseries_rollup TO PUBLIC;
ALTER TABLE nosql.timeseries_rollup ENABLE ROW LEVEL SECURITY;
CREATE POLICY timeseries_rollup_read ON nosql.timeseries_rollup FOR SELECT USING (true);
CREATE POLICY timeseries_rollup_owner ON nosql.timeseries_rollup FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rollup), 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rollup), 'USAGE')
                AND pg_catalog.pg_has_role(CURRENT_USER, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) source), 'USAGE'));

-- The late writes of a source: [range_start, range_end] (both included) is
-- the time range one statement wrote, deleted or updated below the highest
-- watermark of the source's rollups.  Written by whoever writes the source
-- (the statement triggers run with the writer's rights), moved to the
-- rollups' own logs by a refresh.
CREATE TABLE nosql.timeseries_invalidation (
    source regclass NOT NULL,
    range_start timestamptz NOT NULL,
    range_end timestamptz NOT NULL
);
CREATE INDEX timeseries_invalidation_source ON nosql.timeseries_invalidation (source);
SELECT pg_catalog.pg_extension_config_dump('nosql.timeseries_invalidation', '');
COMMENT ON TABLE nosql.timeseries_invalidation IS 'internal: time ranges of a time-series table written below the watermark of one of its rollups, not yet handed to the rollups';
GRANT SELECT, INSERT, DELETE ON nosql.timeseries_invalidation TO PUBLIC;
ALTER TABLE nosql.timeseries_invalidation ENABLE ROW LEVEL SECURITY;
CREATE POLICY timeseries_invalidation_read ON nosql.timeseries_invalidation FOR SELECT USING (true);
-- a writer of the table logs its writes (a bogus range costs a recomputation, never a wrong bucket)
CREATE POLICY timeseries_invalidation_writer ON nosql.timeseries_invalidation FOR INSERT
    WITH CHECK (pg_catalog.has_table_privilege(source, 'INSERT, UPDATE, DELETE'));
CREATE POLICY timeseries_invalidation_owner ON nosql.timeseries_invalidation FOR DELETE
    USING (pg_catalog.pg_has_role(CURRENT_USER, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) source), 'USAGE'));

-- The ranges each rollup must compute again (from the source's log).
CREATE TABLE nosql.timeseries_rollup_invalidation (
    rollup regclass NOT NULL REFERENCES nosql.timeseries_rollup ON DELETE CASCADE,
    range_start timestamptz NOT NULL,
    range_end timestamptz NOT NULL
);
CREATE INDEX timeseries_rollup_invalidation_rollup ON nosql.timeseries_rollup_invalidation (rollup);
SELECT pg_catalog.pg_extension_config_dump('nosql.timeseries_rollup_invalidation', '');
COMMENT ON TABLE nosql.timeseries_rollup_invalidation IS 'internal: time ranges below the watermark of a rollup that its next refresh computes again';
GRANT SELECT, INSERT, DELETE ON nosql.timeseries_rollup_invalidation TO PUBLIC;
ALTER TABLE nosql.timeseries_rollup_invalidation ENABLE ROW LEVEL SECURITY;
CREATE POLICY timeseries_rollup_invalidation_read ON nosql.timeseries_rollup_invalidation FOR SELECT USING (true);
-- the owner of the rollup, or of its source (a refresh of a sibling rollup hands ranges over)
CREATE POLICY timeseries_rollup_invalidation_owner ON nosql.timeseries_rollup_invalidation FOR ALL
    USING (pg_catalog.pg_has_role(CURRENT_USER, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rollup), 'USAGE'))
    WITH CHECK (pg_catalog.pg_has_role(CURRENT_USER, (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) rollup), 'USAGE')
                OR pg_catalog.pg_has_role(CURRENT_USER,
                       (SELECT c.relowner FROM pg_catalog.pg_class c
                         WHERE c.oid OPERATOR(pg_catalog.=) (SELECT r.source FROM nosql.timeseries_rollup r
                                                               WHERE r.rollup OPERATOR(pg_catalog.=) timeseries_rollup_invalidation.rollup)), 'USAGE'));

-- One aggregate entry of a rollup ('avg(cpu) AS cpu_avg'), checked by
-- parsing "SELECT entry FROM source": a single aggregate call, not volatile,
-- without subqueries, with an alias, which it returns.
CREATE FUNCTION nosql.timeseries_rollup_check(source regclass, aggregate text) RETURNS name
    AS 'MODULE_PATHNAME', 'timeseries_rollup_check' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION nosql.timeseries_rollup_check(regclass, text) IS 'internal: check that a rollup aggregate entry is one aggregate call with an alias over the source; returns the alias';

-- The statement trigger of a source with rollups (src/ts_rollup.c): logs
-- the time range a statement touched when it reaches below the highest
-- watermark (always in a REPEATABLE READ or SERIALIZABLE transaction, whose
-- snapshot may not see a refresh that committed while the statement waited
-- for its lock).  Its argument is the time column.
CREATE FUNCTION nosql.timeseries_rollup_log() RETURNS trigger
    AS 'MODULE_PATHNAME', 'timeseries_rollup_log' LANGUAGE C;
COMMENT ON FUNCTION nosql.timeseries_rollup_log() IS 'internal: statement trigger of a time-series table with rollups; logs the time range of a write below a rollup''s watermark';

-- Install or remove the statement triggers of a source (internal).
CREATE FUNCTION nosql.timeseries_rollup_triggers(source regclass, install boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    time_column name;
    trigger_name name;
BEGIN
    SELECT t.time_column INTO time_column FROM nosql.timeseries t WHERE t.relid OPERATOR(pg_catalog.=) source;
    IF NOT install THEN
        FOR trigger_name IN SELECT t.tgname FROM pg_trigger t
                             WHERE t.tgrelid OPERATOR(pg_catalog.=) source
                               AND t.tgname OPERATOR(pg_catalog.=) ANY ('{nosql_rollup_insert,nosql_rollup_update,nosql_rollup_delete}'::name[]) LOOP
            EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', trigger_name, source);
        END LOOP;
    ELSIF NOT EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid OPERATOR(pg_catalog.=) source
                         AND t.tgname OPERATOR(pg_catalog.=) 'nosql_rollup_insert') THEN
        EXECUTE pg_catalog.format('CREATE TRIGGER nosql_rollup_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS nosql_new_rows'
                                  ' FOR EACH STATEMENT EXECUTE FUNCTION nosql.timeseries_rollup_log(%L)', source, time_column);
        EXECUTE pg_catalog.format('CREATE TRIGGER nosql_rollup_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS nosql_old_rows NEW TABLE AS nosql_new_rows'
                                  ' FOR EACH STATEMENT EXECUTE FUNCTION nosql.timeseries_rollup_log(%L)', source, time_column);
        EXECUTE pg_catalog.format('CREATE TRIGGER nosql_rollup_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS nosql_old_rows'
                                  ' FOR EACH STATEMENT EXECUTE FUNCTION nosql.timeseries_rollup_log(%L)', source, time_column);
    END IF;
END;
$$;
COMMENT ON FUNCTION nosql.timeseries_rollup_triggers(regclass, boolean) IS 'internal: install (or remove) the statement triggers that log late writes of a time-series table with rollups';

-- The SELECT that computes the buckets of a rollup over [lower, upper) of
-- its source's time (lower and upper: SQL expressions such as '$1');
-- entries were checked by timeseries_rollup_check.
CREATE FUNCTION nosql.timeseries_rollup_query(r nosql.timeseries_rollup, lower text, upper text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    time_column name;
    groups text := '';
    g name;
BEGIN
    SELECT t.time_column INTO time_column FROM nosql.timeseries t WHERE t.relid OPERATOR(pg_catalog.=) r.source;
    FOREACH g IN ARRAY r.group_by LOOP
        groups := groups OPERATOR(pg_catalog.||) ', ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(g);
    END LOOP;
    RETURN pg_catalog.format('SELECT nosql.time_bucket(%L::interval, %I) AS bucket%s, %s FROM %s'
                             ' WHERE %I OPERATOR(pg_catalog.>=) %s AND %I OPERATOR(pg_catalog.<) %s'
                             ' GROUP BY 1%s',
                             r.bucket_width, time_column, groups, pg_catalog.array_to_string(r.aggregates, ', '),
                             r.source, time_column, lower, time_column, upper,
                             (SELECT pg_catalog.string_agg(', ' OPERATOR(pg_catalog.||) (i OPERATOR(pg_catalog.+) 1), '' ORDER BY i)
                                FROM pg_catalog.generate_series(1, pg_catalog.cardinality(r.group_by)) i));
END;
$$;
COMMENT ON FUNCTION nosql.timeseries_rollup_query(nosql.timeseries_rollup, text, text) IS 'internal: the query computing the buckets of a rollup over a time range of its source';

CREATE FUNCTION nosql.create_rollup(source regclass, rollup text, bucket_width interval, aggregates text[],
                                    group_by name[] DEFAULT '{}',
                                    refresh_lag interval DEFAULT '0',
                                    schedule interval DEFAULT '1 minute')
RETURNS regclass
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ts nosql.timeseries;
    owner oid;
    parts text[];
    rel_schema name;
    rel_name name;
    result regclass;
    alias name;
    aliases name[] := '{}';
    entry text;
    g name;
    r nosql.timeseries_rollup;
BEGIN
    IF source IS NULL OR rollup IS NULL OR bucket_width IS NULL OR aggregates IS NULL OR group_by IS NULL
       OR refresh_lag IS NULL OR schedule IS NULL THEN
        RAISE EXCEPTION 'arguments of nosql.create_rollup must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO ts FROM nosql.timeseries t WHERE t.relid OPERATOR(pg_catalog.=) source;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not a time-series table', source USING ERRCODE = 'wrong_object_type',
            HINT = 'Convert it with nosql.create_timeseries first.';
    END IF;
    SELECT c.relowner, n.nspname INTO owner, rel_schema
      FROM pg_class c JOIN pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
     WHERE c.oid OPERATOR(pg_catalog.=) source;
    IF NOT pg_has_role(current_user, owner, 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', source USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- the width: what time_bucket accepts (positive, months not mixed with days)
    PERFORM nosql.time_bucket(bucket_width, pg_catalog.now());
    IF (refresh_lag OPERATOR(pg_catalog.<) interval '0') THEN
        RAISE EXCEPTION 'refresh_lag must not be negative' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (schedule OPERATOR(pg_catalog.<=) interval '0') THEN
        RAISE EXCEPTION 'schedule must be a positive interval' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.cardinality(aggregates) OPERATOR(pg_catalog.=) 0 THEN
        RAISE EXCEPTION 'a rollup needs at least one aggregate' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass entries such as ''avg(cpu) AS cpu_avg''.';
    END IF;
    FOREACH g IN ARRAY group_by LOOP
        IF g IS NULL OR NOT EXISTS (SELECT FROM pg_attribute a
                                     WHERE a.attrelid OPERATOR(pg_catalog.=) source AND a.attname OPERATOR(pg_catalog.=) g
                                       AND a.attnum OPERATOR(pg_catalog.>) 0 AND NOT a.attisdropped) THEN
            RAISE EXCEPTION 'group_by column "%" of % does not exist', g, source USING ERRCODE = 'undefined_column';
        END IF;
        IF (g OPERATOR(pg_catalog.=) 'bucket') THEN
            RAISE EXCEPTION 'group_by column "bucket" would clash with the bucket column' USING ERRCODE = 'duplicate_column';
        END IF;
    END LOOP;
    FOREACH entry IN ARRAY aggregates LOOP
        IF entry IS NULL THEN
            RAISE EXCEPTION 'aggregates of nosql.create_rollup must not be null' USING ERRCODE = 'null_value_not_allowed';
        END IF;
        alias := nosql.timeseries_rollup_check(source, entry);
        IF (alias OPERATOR(pg_catalog.=) ANY (aliases)) OR (alias OPERATOR(pg_catalog.=) ANY (group_by))
           OR (alias OPERATOR(pg_catalog.=) 'bucket') THEN
            RAISE EXCEPTION 'column "%" of the rollup is named twice', alias USING ERRCODE = 'duplicate_column';
        END IF;
        aliases := aliases OPERATOR(pg_catalog.||) alias;
    END LOOP;
    -- the rollup's name, in the source's schema unless qualified
    parts := pg_catalog.parse_ident(rollup);
    IF pg_catalog.cardinality(parts) OPERATOR(pg_catalog.=) 1 THEN
        rel_name := parts[1];
    ELSIF pg_catalog.cardinality(parts) OPERATOR(pg_catalog.=) 2 THEN
        rel_schema := parts[1];
        rel_name := parts[2];
    ELSE
        RAISE EXCEPTION 'invalid rollup name "%"', rollup USING ERRCODE = 'invalid_name',
            HINT = 'Name the rollup table as table or schema.table.';
    END IF;
    IF pg_catalog.to_regclass(pg_catalog.format('%I.%I', rel_schema, rel_name)) IS NOT NULL THEN
        RAISE EXCEPTION 'relation "%.%" already exists', rel_schema, rel_name USING ERRCODE = 'duplicate_table';
    END IF;

    r.rollup := NULL;
    r.source := source;
    r.bucket_width := bucket_width;
    r.group_by := group_by;
    r.aggregates := aggregates;
    EXECUTE pg_catalog.format('CREATE TABLE %I.%I AS %s WITH NO DATA', rel_schema, rel_name,
                              nosql.timeseries_rollup_query(r, 'NULL::timestamptz', 'NULL::timestamptz'));
    result := pg_catalog.format('%I.%I', rel_schema, rel_name)::regclass;
    EXECUTE pg_catalog.format('CREATE UNIQUE INDEX ON %s (bucket%s) NULLS NOT DISTINCT', result,
                              (SELECT pg_catalog.string_agg(', ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(x), '' ORDER BY o)
                                 FROM pg_catalog.unnest(group_by) WITH ORDINALITY u(x, o)));
    INSERT INTO nosql.timeseries_rollup (rollup, source, bucket_width, group_by, aggregates, refresh_lag, schedule)
    VALUES (result, source, bucket_width, group_by, aggregates, refresh_lag, schedule);
    PERFORM nosql.timeseries_rollup_triggers(source, true);
    RETURN result;
END;
$$;
COMMENT ON FUNCTION nosql.create_rollup(regclass, text, interval, text[], name[], interval, interval) IS 'create a rollup of a time-series table: a table of aggregates per time bucket (and group_by columns), kept up to date by the background worker';

-- Bring a rollup up to date: materialize the buckets from its watermark up
-- to the last complete bucket before now() - refresh_lag (or before
-- up_to), then compute again the buckets below the watermark that late
-- writes invalidated, from the raw rows (whole buckets: DELETE, then
-- INSERT ... SELECT ... GROUP BY).  A bucket that starts before the oldest
-- range partition of the source is never computed again: retention may
-- have dropped some of its raw rows.  Returns the rows written.
CREATE FUNCTION nosql.refresh_rollup(rollup regclass, up_to timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r nosql.timeseries_rollup;
    ts nosql.timeseries;
    started timestamptz := pg_catalog.clock_timestamp();
    query text;
    old_mark timestamptz;
    new_mark timestamptz;
    oldest timestamptz;
    floor_bucket timestamptz;
    dflt regclass;
    inv record;
    cur_start timestamptz;
    cur_end timestamptz;
    a timestamptz;
    b timestamptz;
    n bigint;
    written bigint := 0;
    kept boolean;
BEGIN
    IF rollup IS NULL THEN
        RAISE EXCEPTION 'rollup must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM nosql.timeseries_rollup x WHERE x.rollup OPERATOR(pg_catalog.=) refresh_rollup.rollup) THEN
        RAISE EXCEPTION '% is not a rollup', rollup USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT pg_has_role(current_user, (SELECT c.relowner FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) refresh_rollup.rollup), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', rollup USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- The tables first, then the catalog row: DROP TABLE of the rollup or
    -- of its source locks the table, then its event trigger deletes the
    -- row, so taking the row first would deadlock with it.
    SELECT * INTO r FROM nosql.timeseries_rollup x WHERE x.rollup OPERATOR(pg_catalog.=) refresh_rollup.rollup;
    -- no write through the source between the snapshot of this refresh and
    -- its commit: a concurrent write below the new watermark would be seen
    -- neither by this refresh nor by the triggers (which read the old one)
    EXECUTE pg_catalog.format('LOCK TABLE ONLY %s IN SHARE MODE', r.source);
    EXECUTE pg_catalog.format('LOCK TABLE %s IN ROW EXCLUSIVE MODE', rollup);
    -- one refresh of a rollup at a time
    SELECT * INTO r FROM nosql.timeseries_rollup x WHERE x.rollup OPERATOR(pg_catalog.=) refresh_rollup.rollup FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not a rollup', rollup USING ERRCODE = 'wrong_object_type';
    END IF;
    SELECT * INTO ts FROM nosql.timeseries t WHERE t.relid OPERATOR(pg_catalog.=) r.source;
    query := nosql.timeseries_rollup_query(r, '$1', '$2');

    -- hand the source's late writes to the logs of its rollups
    WITH moved AS (DELETE FROM nosql.timeseries_invalidation i WHERE i.source OPERATOR(pg_catalog.=) r.source
                   RETURNING i.range_start, i.range_end)
    INSERT INTO nosql.timeseries_rollup_invalidation (rollup, range_start, range_end)
    SELECT x.rollup, m.range_start, m.range_end
      FROM moved m JOIN nosql.timeseries_rollup x
        ON x.source OPERATOR(pg_catalog.=) r.source AND (m.range_start OPERATOR(pg_catalog.<) x.watermark);

    -- new buckets: [watermark, the bucket of up_to or now() - refresh_lag)
    old_mark := r.watermark;
    new_mark := nosql.time_bucket(r.bucket_width, COALESCE(up_to, pg_catalog.now() OPERATOR(pg_catalog.-) r.refresh_lag));
    IF old_mark IS NULL THEN
        EXECUTE pg_catalog.format('SELECT nosql.time_bucket($1, pg_catalog.min(%I)) FROM %s', ts.time_column, r.source)
           USING r.bucket_width INTO old_mark;
        old_mark := LEAST(COALESCE(old_mark, new_mark), new_mark);
    END IF;
    IF (new_mark OPERATOR(pg_catalog.>) old_mark) THEN
        EXECUTE pg_catalog.format('DELETE FROM %s WHERE bucket OPERATOR(pg_catalog.>=) $1 AND bucket OPERATOR(pg_catalog.<) $2', r.rollup)
          USING old_mark, new_mark;
        EXECUTE pg_catalog.format('INSERT INTO %s %s', r.rollup, query) USING old_mark, new_mark;
        GET DIAGNOSTICS n = ROW_COUNT;
        written := written OPERATOR(pg_catalog.+) n;
    ELSE
        new_mark := old_mark;
    END IF;

    -- late writes: whole buckets below the old watermark, from the oldest
    -- bucket whose raw rows are all still there
    SELECT pg_catalog.min(p.range_start) INTO oldest FROM nosql.timeseries_partition p
     WHERE p.relid OPERATOR(pg_catalog.=) r.source AND p.range_start IS NOT NULL;
    SELECT p.partition INTO dflt FROM nosql.timeseries_partition p
     WHERE p.relid OPERATOR(pg_catalog.=) r.source AND p.range_start IS NULL;
    IF oldest IS NULL THEN
        floor_bucket := '-infinity';
    ELSE
        floor_bucket := nosql.time_bucket(r.bucket_width, oldest);
        IF (floor_bucket OPERATOR(pg_catalog.<) oldest) THEN
            floor_bucket := floor_bucket OPERATOR(pg_catalog.+) r.bucket_width;
        END IF;
    END IF;
    cur_start := NULL;
    FOR inv IN
        WITH consumed AS (DELETE FROM nosql.timeseries_rollup_invalidation i
                           WHERE i.rollup OPERATOR(pg_catalog.=) r.rollup
                          RETURNING i.range_start, i.range_end)
        SELECT nosql.time_bucket(r.bucket_width, c.range_start) AS lo,
               nosql.time_bucket(r.bucket_width, c.range_end) OPERATOR(pg_catalog.+) r.bucket_width AS hi,
               c.range_start, c.range_end
          FROM consumed c
         WHERE (c.range_start OPERATOR(pg_catalog.<) old_mark)
         ORDER BY 1, 2
    LOOP
        -- the part older than every partition: backfill still in the
        -- default partition waits for the maintenance to give it a
        -- partition of its own; the rest is retention's past, forgotten
        IF dflt IS NOT NULL AND (inv.lo OPERATOR(pg_catalog.<) floor_bucket) THEN
            b := LEAST(inv.range_end, floor_bucket OPERATOR(pg_catalog.-) interval '1 microsecond');
            EXECUTE pg_catalog.format('SELECT EXISTS (SELECT FROM %s WHERE %I OPERATOR(pg_catalog.>=) $1 AND %I OPERATOR(pg_catalog.<=) $2)',
                                      dflt, ts.time_column, ts.time_column)
               USING inv.range_start, b INTO kept;
            IF kept THEN
                INSERT INTO nosql.timeseries_rollup_invalidation (rollup, range_start, range_end)
                VALUES (r.rollup, inv.range_start, b);
            END IF;
        END IF;
        a := GREATEST(inv.lo, floor_bucket);
        b := LEAST(inv.hi, old_mark);
        IF (a OPERATOR(pg_catalog.>=) b) THEN
            CONTINUE;
        END IF;
        -- merge overlapping and adjacent ranges, compute each merged one once
        IF cur_start IS NOT NULL AND (a OPERATOR(pg_catalog.<=) cur_end) THEN
            cur_end := GREATEST(cur_end, b);
            CONTINUE;
        END IF;
        IF cur_start IS NOT NULL THEN
            EXECUTE pg_catalog.format('DELETE FROM %s WHERE bucket OPERATOR(pg_catalog.>=) $1 AND bucket OPERATOR(pg_catalog.<) $2', r.rollup)
              USING cur_start, cur_end;
            EXECUTE pg_catalog.format('INSERT INTO %s %s', r.rollup, query) USING cur_start, cur_end;
            GET DIAGNOSTICS n = ROW_COUNT;
            written := written OPERATOR(pg_catalog.+) n;
        END IF;
        cur_start := a;
        cur_end := b;
    END LOOP;
    IF cur_start IS NOT NULL THEN
        EXECUTE pg_catalog.format('DELETE FROM %s WHERE bucket OPERATOR(pg_catalog.>=) $1 AND bucket OPERATOR(pg_catalog.<) $2', r.rollup)
          USING cur_start, cur_end;
        EXECUTE pg_catalog.format('INSERT INTO %s %s', r.rollup, query) USING cur_start, cur_end;
        GET DIAGNOSTICS n = ROW_COUNT;
        written := written OPERATOR(pg_catalog.+) n;
    END IF;

    UPDATE nosql.timeseries_rollup x
       SET watermark = new_mark,
           last_run = pg_catalog.now(),
           last_duration = pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) started,
           last_error = NULL,
           rows_written = x.rows_written OPERATOR(pg_catalog.+) written
     WHERE x.rollup OPERATOR(pg_catalog.=) r.rollup;
    RETURN written;
END;
$$;
COMMENT ON FUNCTION nosql.refresh_rollup(regclass, timestamptz) IS 'bring a rollup up to date: materialize the complete buckets after its watermark (up to now() - refresh_lag, or up_to) and compute again the buckets late writes invalidated; returns the rows written';

CREATE FUNCTION nosql.drop_rollup(rollup regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF rollup IS NULL THEN
        RAISE EXCEPTION 'rollup must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT FROM nosql.timeseries_rollup x WHERE x.rollup OPERATOR(pg_catalog.=) drop_rollup.rollup) THEN
        RAISE EXCEPTION '% is not a rollup', rollup USING ERRCODE = 'wrong_object_type';
    END IF;
    IF NOT pg_has_role(current_user, (SELECT c.relowner FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) drop_rollup.rollup), 'USAGE') THEN
        RAISE EXCEPTION 'must be owner of table %', rollup USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- the event trigger forgets it and removes the source's triggers with the last rollup
    EXECUTE pg_catalog.format('DROP TABLE %s', rollup);
END;
$$;
COMMENT ON FUNCTION nosql.drop_rollup(regclass) IS 'drop a rollup: its table, its catalog row, and the source''s triggers with its last rollup';

CREATE VIEW nosql.timeseries_rollups AS
SELECT r.rollup, r.source, r.bucket_width, r.group_by, r.refresh_lag, r.schedule, r.watermark,
       (SELECT pg_catalog.count(*) FROM nosql.timeseries_rollup_invalidation i
         WHERE i.rollup OPERATOR(pg_catalog.=) r.rollup)
       OPERATOR(pg_catalog.+)
       (SELECT pg_catalog.count(*) FROM nosql.timeseries_invalidation i
         WHERE i.source OPERATOR(pg_catalog.=) r.source AND (i.range_start OPERATOR(pg_catalog.<) r.watermark)) AS pending_invalidations,
       r.last_run, r.last_duration, r.rows_written, r.last_error
  FROM nosql.timeseries_rollup r;
COMMENT ON VIEW nosql.timeseries_rollups IS 'the rollups of time-series tables: settings, watermark, late writes waiting for a refresh, and the last refresh';
GRANT SELECT ON nosql.timeseries_rollups TO PUBLIC;

-- A rollup or its source dropped by SQL leaves the catalog with it; the
-- source of the last rollup loses its triggers.
CREATE FUNCTION nosql.timeseries_rollup_dropped() RETURNS event_trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    src record;
BEGIN
    FOR src IN
        WITH gone AS (DELETE FROM nosql.timeseries_rollup r
                       USING pg_event_trigger_dropped_objects() d
                       WHERE d.classid OPERATOR(pg_catalog.=) 'pg_class'::regclass AND d.objsubid OPERATOR(pg_catalog.=) 0
                         AND (d.objid OPERATOR(pg_catalog.=) r.rollup::oid OR d.objid OPERATOR(pg_catalog.=) r.source::oid)
                      RETURNING r.source)
        SELECT DISTINCT g.source FROM gone g
    LOOP
        IF NOT EXISTS (SELECT FROM nosql.timeseries_rollup r WHERE r.source OPERATOR(pg_catalog.=) src.source) THEN
            DELETE FROM nosql.timeseries_invalidation i WHERE i.source OPERATOR(pg_catalog.=) src.source;
            IF EXISTS (SELECT FROM pg_class c WHERE c.oid OPERATOR(pg_catalog.=) src.source) THEN
                PERFORM nosql.timeseries_rollup_triggers(src.source, false);
            END IF;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION nosql.timeseries_rollup_dropped() IS 'event trigger: forget rollups whose table or source was dropped, and remove the triggers of a source without rollups';
REVOKE ALL ON FUNCTION nosql.timeseries_rollup_dropped() FROM PUBLIC;
CREATE EVENT TRIGGER nosql_timeseries_rollup_dropped ON sql_drop
    EXECUTE FUNCTION nosql.timeseries_rollup_dropped();
COMMENT ON EVENT TRIGGER nosql_timeseries_rollup_dropped IS 'forget rollups dropped by SQL, with their sources';
