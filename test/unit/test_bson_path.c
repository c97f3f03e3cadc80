/*-------------------------------------------------------------------------
 *
 * test_bson_path.c
 *	  Unit tests of finding members by name and index (bson_path.c),
 *	  including truncated and corrupt bytes, which must never be read
 *	  beyond.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "bson_path.h"
#include "unit.h"

/*
 * A document with one member of every type, built with libbson.
 */
static bson_t *
EveryType(void)
{
	bson_t	   *b = bson_new();
	bson_t		sub;
	bson_oid_t	oid;
	bson_decimal128_t dec;

	bson_oid_init_from_string(&oid, "57e193d7a9cc81b4027498b5");
	bson_decimal128_from_string("1.5", &dec);
	bson_append_double(b, "double", -1, 1.5);
	bson_append_utf8(b, "string", -1, "a\0b", 3);
	bson_append_document_begin(b, "doc", -1, &sub);
	bson_append_int32(&sub, "x", -1, 1);
	bson_append_document_end(b, &sub);
	bson_append_array_begin(b, "array", -1, &sub);
	bson_append_int32(&sub, "0", -1, 10);
	bson_append_null(&sub, "1", -1);
	bson_append_int32(&sub, "2", -1, 30);
	bson_append_array_end(b, &sub);
	bson_append_binary(b, "binary", -1, BSON_SUBTYPE_BINARY, (const uint8_t *) "xyz", 3);
	bson_append_undefined(b, "undefined", -1);
	bson_append_oid(b, "oid", -1, &oid);
	bson_append_bool(b, "bool", -1, true);
	bson_append_date_time(b, "date", -1, 42);
	bson_append_null(b, "null", -1);
	bson_append_regex(b, "regex", -1, "^a", "i");
	bson_append_dbpointer(b, "dbpointer", -1, "db.c", &oid);
	bson_append_code(b, "code", -1, "f()");
	bson_append_symbol(b, "symbol", -1, "s", 1);
	{
		bson_t		scope = BSON_INITIALIZER;

		bson_append_int32(&scope, "y", -1, 2);
		bson_append_code_with_scope(b, "cws", -1, "g()", &scope);
		bson_destroy(&scope);
	}
	bson_append_int32(b, "int32", -1, 7);
	bson_append_timestamp(b, "timestamp", -1, 1, 2);
	bson_append_int64(b, "int64", -1, 8);
	bson_append_decimal128(b, "decimal", -1, &dec);
	bson_append_minkey(b, "minkey", -1);
	bson_append_maxkey(b, "maxkey", -1);
	bson_append_int32(b, "last", -1, 99);
	return b;
}

TEST(path_finds_every_member)
{
	bson_t	   *b = EveryType();
	bson_iter_t it;
	bson_iter_t ref;

	/* each member is found where libbson's own iterator finds it */
	CHECK(bson_iter_init(&ref, b));
	while (bson_iter_next(&ref))
	{
		const char *key = bson_iter_key(&ref);

		CHECK(BsonFindMember(bson_get_data(b), b->len, key, strlen(key), 0, &it));
		CHECK_STR_EQ(bson_iter_key(&it), key);
		CHECK_EQ(bson_iter_type(&it), bson_iter_type(&ref));
	}
	CHECK(BsonFindMember(bson_get_data(b), b->len, "last", 4, 0, &it));
	CHECK_EQ(bson_iter_int32(&it), 99);
	CHECK(!BsonFindMember(bson_get_data(b), b->len, "las", 3, 0, &it));
	CHECK(!BsonFindMember(bson_get_data(b), b->len, "lastx", 5, 0, &it));
	CHECK(!BsonFindMember(bson_get_data(b), b->len, "nope", 4, 0, &it));
	bson_destroy(b);
}

TEST(path_array_index)
{
	bson_t	   *b = EveryType();
	bson_iter_t it;
	const uint8_t *data;
	uint32_t	len;

	CHECK(BsonFindMember(bson_get_data(b), b->len, "array", 5, 0, &it));
	bson_iter_array(&it, &len, &data);
	CHECK(BsonFindMember(data, len, NULL, 0, 0, &it) && bson_iter_int32(&it) == 10);
	CHECK(BsonFindMember(data, len, NULL, 0, 1, &it) && BSON_ITER_HOLDS_NULL(&it));
	CHECK(BsonFindMember(data, len, NULL, 0, 2, &it) && bson_iter_int32(&it) == 30);
	CHECK(!BsonFindMember(data, len, NULL, 0, 3, &it));
	bson_destroy(b);
}

TEST(path_never_reads_outside_corrupt_bytes)
{
	bson_t	   *b = EveryType();
	uint32_t	len = b->len;
	uint8_t    *copy;
	bson_iter_t it;

	/*
	 * Truncate the document at every length and corrupt every byte in
	 * turn: looking up the last member must fail or succeed, never read
	 * outside the buffer (ASan checks: each copy is exactly its length).
	 */
	for (uint32_t cut = 0; cut <= len; cut++)
	{
		copy = malloc(cut ? cut : 1);
		memcpy(copy, bson_get_data(b), cut);
		if (cut >= 4)
		{
			uint32_t	le = BSON_UINT32_TO_LE(cut);

			memcpy(copy, &le, 4);	/* claim the truncated length */
		}
		(void) BsonFindMember(copy, cut, "last", 4, 0, &it);
		(void) BsonFindMember(copy, cut, NULL, 0, 5, &it);
		free(copy);
	}
	for (uint32_t i = 4; i < len; i++)
	{
		for (int v = 0; v < 256; v += 51)
		{
			copy = malloc(len);
			memcpy(copy, bson_get_data(b), len);
			copy[i] = (uint8_t) v;
			(void) BsonFindMember(copy, len, "last", 4, 0, &it);
			free(copy);
		}
	}
	CHECK(true);
	bson_destroy(b);
}
