/*-------------------------------------------------------------------------
 *
 * make_corpus.c
 *	  Write the seed corpus of fuzz_bson_bytes: small valid BSON values,
 *	  built with libbson, one file each.
 *
 *	  make -C test/fuzz corpus      (runs build/make_corpus corpus/bson_bytes)
 *
 * A document is written as its bytes; any other value as the wrapper the
 * bson type stores it in, {"": value} followed by the marker byte 0x01.
 * The files are kept in the repository; rerun this only to change them.
 *
 *-------------------------------------------------------------------------
 */
#include <bson/bson.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The marker byte after a wrapped non-document (src/bson.h) */
#define CORPUS_SCALAR_MARKER	0x01

static const char *corpus_dir;

/*
 * Write one seed: the document's bytes, plus the marker for a wrapper.
 */
static void
CorpusWrite(const char *name, const bson_t *doc, bool is_scalar)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s.bson", corpus_dir, name);
	f = fopen(path, "wb");
	if (f == NULL ||
		fwrite(bson_get_data(doc), 1, doc->len, f) != doc->len ||
		(is_scalar && fputc(CORPUS_SCALAR_MARKER, f) == EOF) ||
		fclose(f) != 0)
	{
		perror(path);
		exit(1);
	}
}

/*
 * A decimal128 from its string, or exit.
 */
static bson_decimal128_t
CorpusDecimal(const char *text)
{
	bson_decimal128_t dec;

	if (!bson_decimal128_from_string(text, &dec))
	{
		fprintf(stderr, "bad decimal128 literal %s\n", text);
		exit(1);
	}
	return dec;
}

/*
 * A double from its bit pattern (for NaN payloads).
 */
static double
CorpusDoubleBits(uint64_t bits)
{
	double		d;

	memcpy(&d, &bits, sizeof(d));
	return d;
}

int
main(int argc, char **argv)
{
	bson_t		doc;
	bson_t		child;
	bson_t		grandchild;
	bson_t		scope;
	bson_oid_t	oid;
	bson_decimal128_t dec;
	static const uint8_t bytes[] = {0x00, 0x01, 0x02, 0xfe, 0xff};
	static const uint8_t uuid[16] = {0x73, 0xff, 0xd2, 0x64, 0x44, 0xb3, 0x4c, 0x69,
	0x90, 0xe8, 0xe7, 0xd1, 0xdf, 0xc0, 0x35, 0xd4};

	if (argc != 2)
	{
		fprintf(stderr, "usage: make_corpus DIRECTORY\n");
		return 2;
	}
	corpus_dir = argv[1];
	bson_oid_init_from_string(&oid, "5f3e1d2c4b5a69788796a5b4");

	/* documents */
	bson_init(&doc);
	CorpusWrite("empty_document", &doc, false);
	bson_destroy(&doc);

	bson_init(&doc);
	bson_append_double(&doc, "double", -1, 1.5);
	bson_append_utf8(&doc, "string", -1, "text", -1);
	bson_append_document_begin(&doc, "document", -1, &child);
	bson_append_int32(&child, "x", -1, 1);
	bson_append_document_end(&doc, &child);
	bson_append_array_begin(&doc, "array", -1, &child);
	bson_append_int32(&child, "0", -1, 1);
	bson_append_utf8(&child, "1", -1, "two", -1);
	bson_append_array_end(&doc, &child);
	bson_append_binary(&doc, "binary", -1, BSON_SUBTYPE_BINARY, bytes, sizeof(bytes));
	bson_append_undefined(&doc, "undefined", -1);
	bson_append_oid(&doc, "oid", -1, &oid);
	bson_append_bool(&doc, "bool", -1, true);
	bson_append_date_time(&doc, "date", -1, INT64_C(1356351330000));
	bson_append_null(&doc, "null", -1);
	bson_append_regex(&doc, "regex", -1, "^a.*b$", "imx");
	bson_append_dbpointer(&doc, "dbpointer", -1, "db.coll", &oid);
	bson_append_code(&doc, "code", -1, "function() { return 1; }");
	bson_append_symbol(&doc, "symbol", -1, "sym", -1);
	bson_init(&scope);
	bson_append_int32(&scope, "x", -1, 1);
	bson_append_code_with_scope(&doc, "codewscope", -1, "return x;", &scope);
	bson_destroy(&scope);
	bson_append_int32(&doc, "int32", -1, -7);
	bson_append_timestamp(&doc, "timestamp", -1, 1700000000, 3);
	bson_append_int64(&doc, "int64", -1, INT64_C(1) << 40);
	dec = CorpusDecimal("1.23E-4");
	bson_append_decimal128(&doc, "decimal", -1, &dec);
	bson_append_minkey(&doc, "minkey", -1);
	bson_append_maxkey(&doc, "maxkey", -1);
	CorpusWrite("every_type", &doc, false);
	bson_destroy(&doc);

	bson_init(&doc);
	bson_append_int32(&doc, "int32_min", -1, INT32_MIN);
	bson_append_int32(&doc, "int32_max", -1, INT32_MAX);
	bson_append_int64(&doc, "int64_min", -1, INT64_MIN);
	bson_append_int64(&doc, "int64_max", -1, INT64_MAX);
	bson_append_int64(&doc, "int64_small", -1, 5);
	bson_append_double(&doc, "negzero", -1, -0.0);
	bson_append_double(&doc, "subnormal", -1, 4.9406564584124654e-324);
	bson_append_double(&doc, "max", -1, 1.7976931348623157e308);
	bson_append_double(&doc, "inf", -1, INFINITY);
	bson_append_double(&doc, "neginf", -1, -INFINITY);
	bson_append_double(&doc, "nan", -1, NAN);
	bson_append_double(&doc, "integral", -1, 1e15);
	CorpusWrite("number_edges", &doc, false);
	bson_destroy(&doc);

	/* NaNs with a sign and a payload: text gives them back as plain NaN */
	bson_init(&doc);
	bson_append_double(&doc, "negnan", -1, CorpusDoubleBits(UINT64_C(0xfff8000000000000)));
	bson_append_double(&doc, "payload", -1, CorpusDoubleBits(UINT64_C(0x7ff0000000000001)));
	CorpusWrite("nan_payloads", &doc, false);
	bson_destroy(&doc);

	bson_init(&doc);
	dec = CorpusDecimal("1.234567890123456789012345678901234E+6144");
	bson_append_decimal128(&doc, "max", -1, &dec);
	dec = CorpusDecimal("-0E-6176");
	bson_append_decimal128(&doc, "negzero", -1, &dec);
	dec = CorpusDecimal("NaN");
	bson_append_decimal128(&doc, "nan", -1, &dec);
	dec = CorpusDecimal("-Infinity");
	bson_append_decimal128(&doc, "neginf", -1, &dec);
	dec = CorpusDecimal("100");
	bson_append_decimal128(&doc, "hundred", -1, &dec);
	dec = CorpusDecimal("1E+2");
	bson_append_decimal128(&doc, "hundred_exp", -1, &dec);
	CorpusWrite("decimals", &doc, false);
	bson_destroy(&doc);

	bson_init(&doc);
	bson_append_date_time(&doc, "epoch", -1, 0);
	bson_append_date_time(&doc, "before_1970", -1, -1);
	bson_append_date_time(&doc, "year_1", -1, INT64_C(-62135596800000));
	bson_append_date_time(&doc, "year_9999", -1, INT64_C(253402300799999));
	bson_append_date_time(&doc, "year_10000", -1, INT64_C(253402300800000));
	bson_append_date_time(&doc, "min", -1, INT64_MIN);
	bson_append_date_time(&doc, "max", -1, INT64_MAX);
	CorpusWrite("dates", &doc, false);
	bson_destroy(&doc);

	bson_init(&doc);
	bson_append_binary(&doc, "generic", -1, BSON_SUBTYPE_BINARY, bytes, sizeof(bytes));
	bson_append_binary(&doc, "empty", -1, BSON_SUBTYPE_BINARY, NULL, 0);
	bson_append_binary(&doc, "old", -1, BSON_SUBTYPE_BINARY_DEPRECATED, bytes, sizeof(bytes));
	bson_append_binary(&doc, "uuid", -1, BSON_SUBTYPE_UUID, uuid, sizeof(uuid));
	bson_append_binary(&doc, "md5", -1, BSON_SUBTYPE_MD5, uuid, sizeof(uuid));
	bson_append_binary(&doc, "user", -1, BSON_SUBTYPE_USER, bytes, 1);
	CorpusWrite("binaries", &doc, false);
	bson_destroy(&doc);

	bson_init(&doc);
	bson_append_regex(&doc, "none", -1, "", "");
	bson_append_regex(&doc, "all", -1, "a|b", "ilmsux");
	bson_append_regex(&doc, "escapes", -1, "\\d+\"\\/", "s");
	CorpusWrite("regexes", &doc, false);
	bson_destroy(&doc);

	bson_init(&doc);
	bson_append_utf8(&doc, "grüße", -1, "日本語 🎉 ÿ", -1);
	bson_append_utf8(&doc, "controls", -1, "\x01\x1f\t\n\"\\", -1);
	bson_append_utf8(&doc, "", -1, "", 0);
	bson_append_utf8(&doc, "dup", -1, "first", -1);
	bson_append_utf8(&doc, "dup", -1, "second", -1);
	CorpusWrite("strings_and_keys", &doc, false);
	bson_destroy(&doc);

	bson_init(&doc);
	bson_append_document_begin(&doc, "a", -1, &child);
	bson_append_array_begin(&child, "b", -1, &grandchild);
	bson_init(&scope);
	bson_append_document(&grandchild, "0", -1, &scope);
	bson_append_array_end(&child, &grandchild);
	bson_append_document_end(&doc, &child);
	bson_init(&scope);
	bson_append_array_begin(&scope, "list", -1, &child);
	bson_append_regex(&child, "0", -1, "x", "i");
	bson_append_array_end(&scope, &child);
	bson_append_code_with_scope(&doc, "code", -1, "list[0]", &scope);
	bson_destroy(&scope);
	CorpusWrite("nested", &doc, false);
	bson_destroy(&doc);

	/* 99 documents below the root: the deepest a document may be */
	{
		bson_t		levels[100];

		bson_init(&levels[0]);
		for (int i = 1; i < 100; i++)
			bson_append_document_begin(&levels[i - 1], "d", 1, &levels[i]);
		for (int i = 99; i > 0; i--)
			bson_append_document_end(&levels[i - 1], &levels[i]);
		CorpusWrite("nesting_limit", &levels[0], false);
		bson_destroy(&levels[0]);
	}

	/* wrapped non-documents */
	bson_init(&doc);
	bson_append_int32(&doc, "", 0, 42);
	CorpusWrite("scalar_int32", &doc, true);
	bson_destroy(&doc);

	bson_init(&doc);
	bson_append_utf8(&doc, "", 0, "a string", -1);
	CorpusWrite("scalar_string", &doc, true);
	bson_destroy(&doc);

	bson_init(&doc);
	bson_append_double(&doc, "", 0, -0.0);
	CorpusWrite("scalar_negzero", &doc, true);
	bson_destroy(&doc);

	bson_init(&doc);
	bson_append_array_begin(&doc, "", 0, &child);
	bson_append_null(&child, "0", -1);
	bson_append_array_begin(&child, "1", -1, &grandchild);
	bson_append_array_end(&child, &grandchild);
	bson_append_array_end(&doc, &child);
	CorpusWrite("scalar_array", &doc, true);
	bson_destroy(&doc);

	bson_init(&doc);
	bson_append_date_time(&doc, "", 0, INT64_C(-2208988800000));
	CorpusWrite("scalar_date_1900", &doc, true);
	bson_destroy(&doc);

	bson_init(&doc);
	bson_append_int64(&doc, "", 0, 1);
	CorpusWrite("scalar_int64_small", &doc, true);
	bson_destroy(&doc);

	bson_init(&doc);
	bson_append_minkey(&doc, "", 0);
	CorpusWrite("scalar_minkey", &doc, true);
	bson_destroy(&doc);

	bson_init(&doc);
	dec = CorpusDecimal("-1.5E-6000");
	bson_append_decimal128(&doc, "", 0, &dec);
	CorpusWrite("scalar_decimal", &doc, true);
	bson_destroy(&doc);

	bson_init(&doc);
	bson_init(&scope);
	bson_append_utf8(&scope, "s", -1, "é", -1);
	bson_append_code_with_scope(&doc, "", 0, "s + 1", &scope);
	bson_destroy(&scope);
	CorpusWrite("scalar_code_with_scope", &doc, true);
	bson_destroy(&doc);

	return 0;
}
