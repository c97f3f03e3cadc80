/*-------------------------------------------------------------------------
 *
 * test_bson_json.c
 *	  Unit tests of Extended JSON parsing and printing and of raw BSON
 *	  validation (bson_json.c), built standalone: errors come back as
 *	  messages instead of being raised.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "bson_json.h"
#include "unit.h"

/*
 * Parse text, print it in a mode, and return the text (palloc'd), or NULL
 * with the error in *error.
 */
static char *
RoundTrip(const char *json, BsonJsonMode mode, char **error, bool *is_scalar)
{
	BsonParsed	parsed;
	StringInfoData buf;

	*error = NULL;
	if (!BsonParseJson(json, strlen(json), &parsed, error))
		return NULL;
	initStringInfo(&buf);
	BsonPrintJson(&buf, bson_get_data(&parsed.doc), parsed.doc.len,
				  parsed.is_scalar, mode);
	if (is_scalar)
		*is_scalar = parsed.is_scalar;
	bson_destroy(&parsed.doc);
	return buf.data;
}

/*
 * Check that json prints as expected in a mode (NULL expected: an error
 * whose message contains expected_error).
 */
static void
ExpectPrint(const char *file, int line, const char *json, BsonJsonMode mode,
			const char *expected, const char *expected_error)
{
	char	   *error;
	char	   *out = RoundTrip(json, mode, &error, NULL);

	UnitChecks++;
	if (expected != NULL && (out == NULL || strcmp(out, expected) != 0))
		UnitFail(file, line, "%s printed %s, expected %s (error: %s)",
				 json, out ? out : "(error)", expected, error ? error : "none");
	else if (expected == NULL &&
			 (out != NULL || error == NULL || strstr(error, expected_error) == NULL))
		UnitFail(file, line, "%s: expected an error containing \"%s\", got %s / %s",
				 json, expected_error, out ? out : "(none)", error ? error : "(none)");
	if (out)
		pfree(out);
	if (error)
		pfree(error);
}

#define RELAXED(json, expected) \
	ExpectPrint(__FILE__, __LINE__, json, BSON_JSON_RELAXED, expected, NULL)
#define CANONICAL(json, expected) \
	ExpectPrint(__FILE__, __LINE__, json, BSON_JSON_CANONICAL, expected, NULL)
#define PARSE_ERROR(json, message) \
	ExpectPrint(__FILE__, __LINE__, json, BSON_JSON_RELAXED, NULL, message)

TEST(json_numbers_keep_their_types)
{
	RELAXED("{\"a\": 1, \"b\": 2147483648, \"c\": -2147483649, \"d\": 1.0}",
			"{\"a\": 1, \"b\": 2147483648, \"c\": -2147483649, \"d\": 1.0}");
	RELAXED("{\"a\": {\"$numberLong\": \"5\"}}", "{\"a\": {\"$numberLong\": \"5\"}}");
	RELAXED("{\"a\": 9223372036854775807, \"b\": -9223372036854775808}",
			"{\"a\": 9223372036854775807, \"b\": -9223372036854775808}");
	/* beyond int64: a double */
	RELAXED("{\"a\": 9223372036854775808}", "{\"a\": 9.223372036854776E+18}");
	RELAXED("{\"a\": 0.1, \"b\": -0.0, \"c\": 1e300, \"d\": 5e-324}",
			"{\"a\": 0.1, \"b\": -0.0, \"c\": 1.0E+300, \"d\": 5.0E-324}");
	CANONICAL("{\"a\": 1, \"b\": 2.5}",
			  "{\"a\": {\"$numberInt\": \"1\"}, \"b\": {\"$numberDouble\": \"2.5\"}}");
	CANONICAL("{\"a\": {\"$numberDouble\": \"-Infinity\"}}",
			  "{\"a\": {\"$numberDouble\": \"-Infinity\"}}");
}

TEST(json_top_level_values)
{
	char	   *error;
	bool		is_scalar;
	char	   *out;

	out = RoundTrip("[1, \"a\", null]", BSON_JSON_RELAXED, &error, &is_scalar);
	CHECK_STR_EQ(out, "[1, \"a\", null]");
	CHECK(is_scalar);
	pfree(out);
	out = RoundTrip("{\"$oid\": \"57e193d7a9cc81b4027498b5\"}", BSON_JSON_RELAXED, &error, &is_scalar);
	CHECK_STR_EQ(out, "{\"$oid\": \"57e193d7a9cc81b4027498b5\"}");
	CHECK(is_scalar);
	pfree(out);
	out = RoundTrip("{}", BSON_JSON_RELAXED, &error, &is_scalar);
	CHECK_STR_EQ(out, "{}");
	CHECK(!is_scalar);
	pfree(out);
	/* a query operator document is a document */
	out = RoundTrip("{\"$type\": \"string\"}", BSON_JSON_RELAXED, &error, &is_scalar);
	CHECK_STR_EQ(out, "{\"$type\": \"string\"}");
	CHECK(!is_scalar);
	pfree(out);
}

TEST(json_strings_and_escapes)
{
	RELAXED("{\"a\": \"x\\u0000y\\n\\t\\\"\\\\\\/\"}", "{\"a\": \"x\\u0000y\\n\\t\\\"\\\\/\"}");
	RELAXED("{\"a\": \"\\ud83d\\ude00\"}", "{\"a\": \"\xf0\x9f\x98\x80\"}");
	RELAXED("{\"\\u00e9\": \"\\u0001\"}", "{\"\xc3\xa9\": \"\\u0001\"}");
	PARSE_ERROR("{\"a\": \"\\ud83d\"}", "high surrogate");
	PARSE_ERROR("{\"a\": \"\\ude00\"}", "low surrogate");
	PARSE_ERROR("{\"a\\u0000\": 1}", "NUL");
	PARSE_ERROR("{\"a\": \"\xff\"}", "UTF-8");
}

TEST(json_wrappers)
{
	RELAXED("{\"d\": {\"$date\": \"2020-01-02T03:04:05.678+01:00\"}}",
			"{\"d\": {\"$date\": \"2020-01-02T02:04:05.678Z\"}}");
	RELAXED("{\"d\": {\"$date\": {\"$numberLong\": \"-1\"}}}",
			"{\"d\": {\"$date\": {\"$numberLong\": \"-1\"}}}");
	RELAXED("{\"r\": {\"$regex\": \"^a\", \"$options\": \"xi\"}}",
			"{\"r\": {\"$regularExpression\": {\"pattern\": \"^a\", \"options\": \"ix\"}}}");
	RELAXED("{\"u\": {\"$uuid\": \"73ffd264-44b3-4c69-90e8-e7d1dfc035d4\"}}",
			"{\"u\": {\"$binary\": {\"base64\": \"c//SZESzTGmQ6OfR38A11A==\", \"subType\": \"04\"}}}");
	RELAXED("{\"c\": {\"$code\": \"a\\u0000b\", \"$scope\": {\"x\": 1}}}",
			"{\"c\": {\"$code\": \"a\\u0000b\", \"$scope\": {\"x\": 1}}}");
	RELAXED("{\"t\": {\"$timestamp\": {\"t\": 4294967295, \"i\": 1}}}",
			"{\"t\": {\"$timestamp\": {\"t\": 4294967295, \"i\": 1}}}");
	PARSE_ERROR("{\"d\": {\"$date\": 42}}", "$date");
	PARSE_ERROR("{\"o\": {\"$oid\": \"57e193d7a9cc81b4027498b5\", \"x\": 1}}", "$oid");
	PARSE_ERROR("{\"n\": {\"$numberInt\": \"2147483648\"}}", "$numberInt");
	PARSE_ERROR("{\"n\": {\"$numberDouble\": \"inf\"}}", "$numberDouble");
	PARSE_ERROR("{\"b\": {\"$binary\": {\"base64\": \"!!\", \"subType\": \"00\"}}}", "base64");
	PARSE_ERROR("{\"r\": {\"$regularExpression\": {\"pattern\": \"a\", \"options\": \"q\"}}}", "options");
}

TEST(json_syntax_and_limits)
{
	StringInfoData deep;

	PARSE_ERROR("", "ended unexpectedly");
	PARSE_ERROR("[1, 2", "ended unexpectedly");
	PARSE_ERROR("{\"a\": 1} {\"b\": 2}", "end of input");
	PARSE_ERROR("{\"a\": 1,}", "Expected string");

	initStringInfo(&deep);
	for (int i = 0; i < 100; i++)
		appendStringInfoChar(&deep, '[');
	for (int i = 0; i < 100; i++)
		appendStringInfoChar(&deep, ']');
	{
		char	   *error;
		char	   *out = RoundTrip(deep.data, BSON_JSON_RELAXED, &error, NULL);

		CHECK(out != NULL);
		if (out)
			pfree(out);
	}
	resetStringInfo(&deep);
	for (int i = 0; i < 101; i++)
		appendStringInfoString(&deep, "{\"a\": ");
	appendStringInfoChar(&deep, '1');
	for (int i = 0; i < 101; i++)
		appendStringInfoChar(&deep, '}');
	PARSE_ERROR(deep.data, "nested more than 100");
	/* wrappers inside wrappers are bounded too, without deep recursion */
	resetStringInfo(&deep);
	for (int i = 0; i < 5000; i++)
		appendStringInfoString(&deep, "{\"$oid\": ");
	PARSE_ERROR(deep.data, "nested too deeply");
	pfree(deep.data);
}

TEST(bytes_validation)
{
	/* {"a": 1} */
	static const uint8_t ok[] = {12, 0, 0, 0, 0x10, 'a', 0, 1, 0, 0, 0, 0};
	/* ["x"] stored with key "5": valid but degenerate */
	static const uint8_t arr[] = {20, 0, 0, 0, 0x04, 'a', 0,
	12, 0, 0, 0, 0x10, '5', 0, 1, 0, 0, 0, 0, 0};
	static const uint8_t badbool[] = {9, 0, 0, 0, 0x08, 'a', 0, 2, 0};
	static const uint8_t badlen[] = {13, 0, 0, 0, 0x10, 'a', 0, 1, 0, 0, 0, 0};
	bool		degenerate;
	char	   *err;
	bson_t		canonical;

	CHECK(BsonValidateBytes(ok, sizeof(ok), &degenerate) == NULL);
	CHECK(!degenerate);
	CHECK(BsonValidateBytes(arr, sizeof(arr), &degenerate) == NULL);
	CHECK(degenerate);
	BsonCanonicalize(arr, sizeof(arr), &canonical);
	CHECK_EQ(canonical.len, sizeof(arr));
	CHECK(bson_get_data(&canonical)[12] == '0');
	bson_destroy(&canonical);
	CHECK((err = BsonValidateBytes(badbool, sizeof(badbool), &degenerate)) != NULL);
	if (err)
		pfree(err);
	CHECK((err = BsonValidateBytes(badlen, sizeof(badlen), &degenerate)) != NULL);
	if (err)
		pfree(err);
	CHECK((err = BsonValidateBytes(ok, 3, &degenerate)) != NULL);
	if (err)
		pfree(err);
}
