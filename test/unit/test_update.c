/*-------------------------------------------------------------------------
 *
 * test_update.c
 *	  Unit tests of the MongoDB update engine (update_parse.c,
 *	  update_apply.c, update_upsert.c): every operator, paths through
 *	  documents and arrays, positional and filtered updates, error codes,
 *	  the no-op rule and upsert seeds.
 *
 * Documents and updates are written as Extended JSON with single quotes.
 * Results are compared as canonical Extended JSON text, so field order and
 * numeric types both count.  Expected results follow MongoDB 8's
 * documented behaviour and the recorded conformance cases.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "bson_json.h"
#include "lib/stringinfo.h"
#include "update.h"
#include "unit.h"

/* An update applied to a document, and the result (or error code) */
typedef struct UpdateCase
{
	const char *doc;
	const char *update;
	const char *result;			/* canonical-free: relaxed JSON, or NULL */
	int			code;			/* expected error code when result is NULL */
} UpdateCase;

/* Fixed time for $currentDate */
#define TEST_NOW_MS		1700000000000LL


/* ----------------------------------------------------------------
 *		Helpers
 * ----------------------------------------------------------------
 */

/*
 * Json
 *		A document from single-quoted Extended JSON (NULL, reported, if it
 *		does not parse).
 */
static bson_t *
Json(const char *json, const char *file, int line)
{
	StringInfoData text;
	BsonParsed	parsed;
	char	   *error = NULL;
	bson_t	   *out;

	initStringInfo(&text);
	for (const char *p = json; *p != '\0'; p++)
		appendStringInfoChar(&text, *p == '\'' ? '"' : *p);
	if (!BsonParseJson(text.data, text.len, &parsed, &error))
	{
		UnitFail(file, line, "test JSON does not parse: %s: %s", json, error);
		pfree(error);
		pfree(text.data);
		return NULL;
	}
	pfree(text.data);
	out = bson_copy(&parsed.doc);
	bson_destroy(&parsed.doc);
	return out;
}

/*
 * Text
 *		Relaxed Extended JSON of a document, in the form the tables use
 *		(double quotes become single quotes); pfree it.
 */
static char *
Text(const bson_t *doc)
{
	StringInfoData buf;

	initStringInfo(&buf);
	BsonPrintJson(&buf, bson_get_data(doc), doc->len, false, BSON_JSON_RELAXED);
	for (int i = 0; i < buf.len; i++)
	{
		if (buf.data[i] == '"')
			buf.data[i] = '\'';
	}
	return buf.data;
}

/*
 * Normalize
 *		The expected text through a parse and print, so that the tables
 *		may be written loosely.
 */
static char *
Normalize(const char *json, const char *file, int line)
{
	bson_t	   *doc = Json(json, file, line);
	char	   *text;

	if (doc == NULL)
		return pstrdup("(unparsable)");
	text = Text(doc);
	bson_destroy(doc);
	return text;
}

/*
 * Apply
 *		Compile an update (with optional array filters) and apply it;
 *		returns the result's text, or NULL with *code set.
 */
static char *
Apply(const char *doc_json, const char *update_json, const char *filters_json,
	  int32_t position, bool is_insert, bool *modified, int *code,
	  const char *file, int line)
{
	bson_t	   *doc = Json(doc_json, file, line);
	bson_t	   *update = Json(update_json, file, line);
	bson_t	   *filters = NULL;
	bson_t		af;
	BsonQueryError error;
	BsonUpdate *u;
	char	   *result = NULL;
	bool		dummy;

	*code = -1;
	if (modified == NULL)
		modified = &dummy;
	if (doc == NULL || update == NULL)
		goto done;
	bson_init(&af);
	if (filters_json != NULL)
	{
		/* written as {'a': [filters]}: use the array */
		bson_iter_t it;
		const uint8_t *data;
		uint32_t	len;

		filters = Json(filters_json, file, line);
		if (filters == NULL || !bson_iter_init(&it, filters) || !bson_iter_next(&it))
			goto done;
		bson_iter_array(&it, &len, &data);
		u = BsonUpdateCompile(bson_get_data(update), update->len, data, len, &error);
	}
	else
		u = BsonUpdateCompile(bson_get_data(update), update->len, NULL, 0, &error);
	bson_destroy(&af);
	if (u == NULL)
	{
		*code = error.code;
		if (error.message == NULL || error.code_name == NULL)
			UnitFail(file, line, "error %d without a message or code name", error.code);
		else
			pfree(error.message);
		goto done;
	}
	else
	{
		bson_t		out;

		bson_init(&out);
		if (BsonUpdateApply(u, bson_get_data(doc), doc->len, position, is_insert,
							TEST_NOW_MS, &out, modified, &error))
		{
			result = Text(&out);
			*code = 0;
		}
		else
		{
			*code = error.code;
			if (error.message == NULL || error.code_name == NULL)
				UnitFail(file, line, "error %d without a message or code name", error.code);
			else
				pfree(error.message);
		}
		bson_destroy(&out);
		BsonUpdateFree(u);
	}
done:
	if (doc)
		bson_destroy(doc);
	if (update)
		bson_destroy(update);
	if (filters)
		bson_destroy(filters);
	return result;
}

/*
 * RunCases
 *		Check a table of updates.
 */
static void
RunCases(const UpdateCase *cases, int n, const char *file, int line)
{
	for (int i = 0; i < n; i++)
	{
		int			code;
		char	   *got = Apply(cases[i].doc, cases[i].update, NULL, -1, false,
								NULL, &code, file, line);

		UnitChecks++;
		if (cases[i].result != NULL)
		{
			char	   *want = Normalize(cases[i].result, file, line);

			if (got == NULL)
				UnitFail(file, line, "case %d: %s on %s: error %d, expected %s",
						 i, cases[i].update, cases[i].doc, code, want);
			else if (strcmp(got, want) != 0)
				UnitFail(file, line, "case %d: %s on %s:\n    got      %s\n    expected %s",
						 i, cases[i].update, cases[i].doc, got, want);
			pfree(want);
		}
		else if (got != NULL)
			UnitFail(file, line, "case %d: %s on %s: %s, expected error %d",
					 i, cases[i].update, cases[i].doc, got, cases[i].code);
		else if (code != cases[i].code)
			UnitFail(file, line, "case %d: %s on %s: error %d, expected %d",
					 i, cases[i].update, cases[i].doc, code, cases[i].code);
		if (got != NULL)
			pfree(got);
	}
}

#define RUN_CASES(cases) RunCases(cases, lengthof(cases), __FILE__, __LINE__)

/*
 * CheckApply
 *		One update with array filters, position or insert mode.
 */
static void
CheckApply(const char *doc, const char *update, const char *filters,
		   int32_t position, bool is_insert, const char *result, int code,
		   const char *file, int line)
{
	int			got_code;
	char	   *got = Apply(doc, update, filters, position, is_insert, NULL,
							&got_code, file, line);

	UnitChecks++;
	if (result != NULL)
	{
		char	   *want = Normalize(result, file, line);

		if (got == NULL)
			UnitFail(file, line, "%s on %s: error %d, expected %s", update, doc,
					 got_code, want);
		else if (strcmp(got, want) != 0)
			UnitFail(file, line, "%s on %s:\n    got      %s\n    expected %s",
					 update, doc, got, want);
		pfree(want);
	}
	else if (got != NULL)
		UnitFail(file, line, "%s on %s: %s, expected error %d", update, doc, got, code);
	else if (got_code != code)
		UnitFail(file, line, "%s on %s: error %d, expected %d", update, doc, got_code, code);
	if (got != NULL)
		pfree(got);
}

#define CHECK_APPLY(doc, update, filters, position, is_insert, result, code) \
	CheckApply(doc, update, filters, position, is_insert, result, code, __FILE__, __LINE__)


/* ----------------------------------------------------------------
 *		Field operators
 * ----------------------------------------------------------------
 */

TEST(update_set)
{
	static const UpdateCase cases[] = {
		{"{'_id': 1}", "{'$set': {'a': 1}}", "{'_id': 1, 'a': 1}"},
		{"{'_id': 1, 'a': 1}", "{'$set': {'a': 'x'}}", "{'_id': 1, 'a': 'x'}"},
		{"{'_id': 1}", "{'$set': {'a.b.c': 1}}", "{'_id': 1, 'a': {'b': {'c': 1}}}"},
		{"{'_id': 1, 'a': {'x': 1}}", "{'$set': {'a.b': 2}}", "{'_id': 1, 'a': {'x': 1, 'b': 2}}"},
		/* new fields appear in field-name order */
		{"{'_id': 1}", "{'$set': {'z': 1, 'b': 2, 'a': 3}}", "{'_id': 1, 'a': 3, 'b': 2, 'z': 1}"},
		/* numeric names in numeric order */
		{"{'_id': 1}", "{'$set': {'a.10': 1, 'a.9': 2}}", "{'_id': 1, 'a': {'9': 2, '10': 1}}"},
		/* arrays: index, past the end pads with nulls */
		{"{'_id': 1, 'a': [1, 2]}", "{'$set': {'a.0': 9}}", "{'_id': 1, 'a': [9, 2]}"},
		{"{'_id': 1, 'a': [1]}", "{'$set': {'a.3': 9}}", "{'_id': 1, 'a': [1, null, null, 9]}"},
		{"{'_id': 1, 'a': [{'b': 1}]}", "{'$set': {'a.0.c': 2}}", "{'_id': 1, 'a': [{'b': 1, 'c': 2}]}"},
		{"{'_id': 1, 'a': [1]}", "{'$set': {'a.2.b': 1}}", "{'_id': 1, 'a': [1, null, {'b': 1}]}"},
		/* a path through a scalar */
		{"{'_id': 1, 'a': 1}", "{'$set': {'a.b': 1}}", NULL, MONGO_PATH_NOT_VIABLE},
		{"{'_id': 1, 'a': [1]}", "{'$set': {'a.b': 1}}", NULL, MONGO_PATH_NOT_VIABLE},
		/* a whole document, $-prefixed nested keys allowed in values */
		{"{'_id': 1}", "{'$set': {'a': {'x': [1, {'y': 2}]}}}", "{'_id': 1, 'a': {'x': [1, {'y': 2}]}}"},
		{"{'_id': 1}", "{'$set': {}}", "{'_id': 1}"},
		/* _id */
		{"{'_id': 1}", "{'$set': {'_id': 1}}", "{'_id': 1}"},
		{"{'_id': 1}", "{'$set': {'_id': 2}}", NULL, MONGO_IMMUTABLE_FIELD},
		{"{'_id': {'a': 1}}", "{'$set': {'_id.a': 2}}", NULL, MONGO_IMMUTABLE_FIELD},
		/* path syntax */
		{"{'_id': 1}", "{'$set': {'': 1}}", NULL, MONGO_EMPTY_FIELD_NAME},
		{"{'_id': 1}", "{'$set': {'a..b': 1}}", NULL, MONGO_EMPTY_FIELD_NAME},
		{"{'_id': 1}", "{'$set': {'a.': 1}}", NULL, MONGO_EMPTY_FIELD_NAME},
		{"{'_id': 1}", "{'$set': {'$a': 1}}", NULL, MONGO_DOLLAR_PREFIXED_FIELD},
		{"{'_id': 1}", "{'$set': {'$': 1}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1}", "{'$set': {'a.$.b.$': 1}}", NULL, MONGO_BAD_VALUE},
	};

	RUN_CASES(cases);
}

TEST(update_unset)
{
	static const UpdateCase cases[] = {
		{"{'_id': 1, 'a': 1, 'b': 2}", "{'$unset': {'a': ''}}", "{'_id': 1, 'b': 2}"},
		{"{'_id': 1}", "{'$unset': {'a': 1}}", "{'_id': 1}"},
		{"{'_id': 1, 'a': {'b': 1, 'c': 2}}", "{'$unset': {'a.b': 1}}", "{'_id': 1, 'a': {'c': 2}}"},
		/* array elements become null */
		{"{'_id': 1, 'a': [1, 2, 3]}", "{'$unset': {'a.1': 1}}", "{'_id': 1, 'a': [1, null, 3]}"},
		/* through scalars, arrays and missing fields: nothing */
		{"{'_id': 1, 'a': 5}", "{'$unset': {'a.b': 1}}", "{'_id': 1, 'a': 5}"},
		{"{'_id': 1, 'a': [{'b': 1}]}", "{'$unset': {'a.b': 1}}", "{'_id': 1, 'a': [{'b': 1}]}"},
		{"{'_id': 1}", "{'$unset': {'x.y.z': 1}}", "{'_id': 1}"},
		{"{'_id': 1}", "{'$unset': {'_id': 1}}", NULL, MONGO_IMMUTABLE_FIELD},
	};

	RUN_CASES(cases);
}

TEST(update_inc_mul)
{
	static const UpdateCase cases[] = {
		{"{'_id': 1, 'a': 1}", "{'$inc': {'a': 2}}", "{'_id': 1, 'a': 3}"},
		{"{'_id': 1}", "{'$inc': {'a': 2}}", "{'_id': 1, 'a': 2}"},
		{"{'_id': 1, 'a': 1}", "{'$inc': {'a': 0.5}}", "{'_id': 1, 'a': 1.5}"},
		{"{'_id': 1, 'a': {'$numberLong': '1'}}", "{'$inc': {'a': 1}}", "{'_id': 1, 'a': {'$numberLong': '2'}}"},
		/* int32 overflow promotes to int64; int64 overflow fails */
		{"{'_id': 1, 'a': 2147483647}", "{'$inc': {'a': 1}}", "{'_id': 1, 'a': {'$numberLong': '2147483648'}}"},
		{"{'_id': 1, 'a': {'$numberLong': '9223372036854775807'}}", "{'$inc': {'a': 1}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': 1073741824}", "{'$mul': {'a': 2}}", "{'_id': 1, 'a': {'$numberLong': '2147483648'}}"},
		{"{'_id': 1, 'a': {'$numberLong': '-9223372036854775808'}}", "{'$mul': {'a': -1}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': 3}", "{'$mul': {'a': 2.5}}", "{'_id': 1, 'a': 7.5}"},
		/* $mul of a missing field: zero of the multiplier's type */
		{"{'_id': 1}", "{'$mul': {'a': 5}}", "{'_id': 1, 'a': 0}"},
		{"{'_id': 1}", "{'$mul': {'a': {'$numberLong': '5'}}}", "{'_id': 1, 'a': {'$numberLong': '0'}}"},
		{"{'_id': 1}", "{'$mul': {'a': 2.0}}", "{'_id': 1, 'a': 0.0}"},
		{"{'_id': 1}", "{'$mul': {'a': -2.0}}", "{'_id': 1, 'a': -0.0}"},
		/* -0.0 + 0.0 is "identical": the field is left alone */
		{"{'_id': 1, 'a': -0.0}", "{'$inc': {'a': 0.0}}", "{'_id': 1, 'a': -0.0}"},
		/* errors */
		{"{'_id': 1, 'a': 'x'}", "{'$inc': {'a': 1}}", NULL, MONGO_TYPE_MISMATCH},
		{"{'_id': 1, 'a': [1]}", "{'$mul': {'a': 2}}", NULL, MONGO_TYPE_MISMATCH},
		{"{'_id': 1, 'a': 1}", "{'$inc': {'a': 'x'}}", NULL, MONGO_TYPE_MISMATCH},
		{"{'_id': 1, 'a': 1}", "{'$mul': {'a': null}}", NULL, MONGO_TYPE_MISMATCH},
		{"{'_id': 1, 'a': 1}", "{'$inc': {'a.b': 1}}", NULL, MONGO_PATH_NOT_VIABLE},
		{"{'_id': 1}", "{'$mul': {'_id': 2}}", NULL, MONGO_IMMUTABLE_FIELD},
	};

	RUN_CASES(cases);
}

/* decimal128 operands: the result is a decimal128 (bson_decimal.c) */
TEST(update_inc_mul_decimal)
{
	static const UpdateCase cases[] = {
		/* the other operand converted: integers exactly, doubles to 15 digits */
		{"{'_id': 1, 'a': 10}", "{'$inc': {'a': {'$numberDecimal': '5'}}}", "{'_id': 1, 'a': {'$numberDecimal': '15'}}"},
		{"{'_id': 1, 'a': {'$numberLong': '-9223372036854775808'}}", "{'$inc': {'a': {'$numberDecimal': '-1'}}}", "{'_id': 1, 'a': {'$numberDecimal': '-9223372036854775809'}}"},
		{"{'_id': 1, 'a': 10.5}", "{'$inc': {'a': {'$numberDecimal': '2.5'}}}", "{'_id': 1, 'a': {'$numberDecimal': '13.0000000000000'}}"},
		{"{'_id': 1, 'a': {'$numberDecimal': '10.5'}}", "{'$inc': {'a': 2.5}}", "{'_id': 1, 'a': {'$numberDecimal': '13.00000000000000'}}"},
		{"{'_id': 1, 'a': {'$numberDecimal': '10.5'}}", "{'$inc': {'a': 5}}", "{'_id': 1, 'a': {'$numberDecimal': '15.5'}}"},
		{"{'_id': 1, 'a': {'$numberDecimal': '0'}}", "{'$inc': {'a': 0.1}}", "{'_id': 1, 'a': {'$numberDecimal': '0.100000000000000'}}"},
		{"{'_id': 1, 'a': {'$numberDecimal': '5'}}", "{'$mul': {'a': 2.0}}", "{'_id': 1, 'a': {'$numberDecimal': '10.00000000000000'}}"},
		{"{'_id': 1, 'a': {'$numberDecimal': '5'}}", "{'$mul': {'a': {'$numberLong': '3'}}}", "{'_id': 1, 'a': {'$numberDecimal': '15'}}"},
		{"{'_id': 1, 'a': {'$numberDecimal': '3.14'}}", "{'$mul': {'a': {'$numberDecimal': '-1'}}}", "{'_id': 1, 'a': {'$numberDecimal': '-3.14'}}"},
		/* rounding to 34 digits, overflow, underflow */
		{"{'_id': 1, 'a': {'$numberDecimal': '1234567890123456789012345678901234'}}", "{'$mul': {'a': {'$numberDecimal': '1.1'}}}", "{'_id': 1, 'a': {'$numberDecimal': '1358024679135802467913580246791357'}}"},
		{"{'_id': 1, 'a': {'$numberDecimal': '9.999999999999999999999999999999999E+6144'}}", "{'$inc': {'a': {'$numberDecimal': '9.999999999999999999999999999999999E+6144'}}}", "{'_id': 1, 'a': {'$numberDecimal': 'Infinity'}}"},
		{"{'_id': 1, 'a': {'$numberDecimal': '9.999999999999999999999999999999999E+6144'}}", "{'$mul': {'a': {'$numberDecimal': '-2'}}}", "{'_id': 1, 'a': {'$numberDecimal': '-Infinity'}}"},
		{"{'_id': 1, 'a': {'$numberDecimal': '1E-6176'}}", "{'$mul': {'a': {'$numberDecimal': '0.1'}}}", "{'_id': 1, 'a': {'$numberDecimal': '0E-6176'}}"},
		/* NaN and infinities */
		{"{'_id': 1, 'a': {'$numberDecimal': 'Infinity'}}", "{'$mul': {'a': {'$numberDecimal': '0'}}}", "{'_id': 1, 'a': {'$numberDecimal': 'NaN'}}"},
		{"{'_id': 1, 'a': {'$numberDecimal': 'Infinity'}}", "{'$inc': {'a': {'$numberDecimal': '-Infinity'}}}", "{'_id': 1, 'a': {'$numberDecimal': 'NaN'}}"},
		{"{'_id': 1, 'a': {'$numberDecimal': '-Infinity'}}", "{'$inc': {'a': 1}}", "{'_id': 1, 'a': {'$numberDecimal': '-Infinity'}}"},
		{"{'_id': 1, 'a': 1}", "{'$inc': {'a': {'$numberDecimal': 'NaN'}}}", "{'_id': 1, 'a': {'$numberDecimal': 'NaN'}}"},
		{"{'_id': 1, 'a': {'$numberDecimal': '1'}}", "{'$mul': {'a': {'$numberDouble': 'Infinity'}}}", "{'_id': 1, 'a': {'$numberDecimal': 'Infinity'}}"},
		/* equal results are left alone (-0 + 0 keeps -0, 1 + 0.00 keeps 1) */
		{"{'_id': 1, 'a': {'$numberDecimal': '-0'}}", "{'$inc': {'a': {'$numberDecimal': '0'}}}", "{'_id': 1, 'a': {'$numberDecimal': '-0'}}"},
		{"{'_id': 1, 'a': {'$numberDecimal': '-0'}}", "{'$mul': {'a': {'$numberDecimal': '-1'}}}", "{'_id': 1, 'a': {'$numberDecimal': '-0'}}"},
		{"{'_id': 1, 'a': {'$numberDecimal': '1'}}", "{'$inc': {'a': {'$numberDecimal': '0.00'}}}", "{'_id': 1, 'a': {'$numberDecimal': '1'}}"},
		{"{'_id': 1, 'a': {'$numberDecimal': '-5'}}", "{'$mul': {'a': {'$numberDecimal': '0'}}}", "{'_id': 1, 'a': {'$numberDecimal': '-0'}}"},
		/* $mul of a missing field: the multiplier times zero */
		{"{'_id': 1}", "{'$mul': {'a': {'$numberDecimal': '3'}}}", "{'_id': 1, 'a': {'$numberDecimal': '0'}}"},
		{"{'_id': 1}", "{'$mul': {'a': {'$numberDecimal': '-2.50'}}}", "{'_id': 1, 'a': {'$numberDecimal': '-0.00'}}"},
		{"{'_id': 1}", "{'$inc': {'a': {'$numberDecimal': '3.50'}}}", "{'_id': 1, 'a': {'$numberDecimal': '3.50'}}"},
		/* still a type error on a non-number */
		{"{'_id': 1, 'a': 'x'}", "{'$inc': {'a': {'$numberDecimal': '1'}}}", NULL, MONGO_TYPE_MISMATCH},
	};
	bool		modified;
	int			code;
	char	   *r;

	RUN_CASES(cases);

	/*
	 * A numerically equal result is a no-op.  (MongoDB counts NaN + 1 on a
	 * NaN as a modification; the bytes do not change, and the applier
	 * decides by the bytes, so here it is not one.)
	 */
	r = Apply("{'_id': 1, 'a': {'$numberDecimal': '2.0'}}", "{'$mul': {'a': {'$numberDecimal': '1'}}}", NULL, -1, false, &modified, &code, __FILE__, __LINE__);
	CHECK(r != NULL && !modified);
	pfree(r);
	r = Apply("{'_id': 1, 'a': 2}", "{'$mul': {'a': {'$numberDecimal': '1'}}}", NULL, -1, false, &modified, &code, __FILE__, __LINE__);
	CHECK(r != NULL && modified);
	pfree(r);
}

TEST(update_min_max)
{
	static const UpdateCase cases[] = {
		{"{'_id': 1, 'a': 5}", "{'$min': {'a': 3}}", "{'_id': 1, 'a': 3}"},
		{"{'_id': 1, 'a': 5}", "{'$min': {'a': 7}}", "{'_id': 1, 'a': 5}"},
		{"{'_id': 1, 'a': 5}", "{'$max': {'a': 7.5}}", "{'_id': 1, 'a': 7.5}"},
		{"{'_id': 1}", "{'$max': {'a': 1}}", "{'_id': 1, 'a': 1}"},
		/* equal values of another type: unchanged */
		{"{'_id': 1, 'a': 5}", "{'$min': {'a': 5.0}}", "{'_id': 1, 'a': 5}"},
		/* MongoDB's type order: numbers < strings, null < numbers */
		{"{'_id': 1, 'a': 5}", "{'$max': {'a': 'x'}}", "{'_id': 1, 'a': 'x'}"},
		{"{'_id': 1, 'a': 5}", "{'$min': {'a': null}}", "{'_id': 1, 'a': null}"},
		{"{'_id': 1, 'a': {'b': 1}}", "{'$max': {'a.b': 2}}", "{'_id': 1, 'a': {'b': 2}}"},
	};

	RUN_CASES(cases);
}

TEST(update_rename)
{
	static const UpdateCase cases[] = {
		{"{'_id': 1, 'a': 1, 'b': 2}", "{'$rename': {'a': 'c'}}", "{'_id': 1, 'b': 2, 'c': 1}"},
		{"{'_id': 1, 'a': 1, 'b': 2}", "{'$rename': {'a': 'b'}}", "{'_id': 1, 'b': 1}"},
		{"{'_id': 1, 'a': {'x': 1}}", "{'$rename': {'a.x': 'y.z'}}", "{'_id': 1, 'a': {}, 'y': {'z': 1}}"},
		{"{'_id': 1, 'a': {'x': 1, 'y': 2}}", "{'$rename': {'a.x': 'a.z'}}", "{'_id': 1, 'a': {'y': 2, 'z': 1}}"},
		/* a missing source: nothing, not even the destination's parents */
		{"{'_id': 1}", "{'$rename': {'a': 'b.c'}}", "{'_id': 1}"},
		{"{'_id': 1, 'a': 1, 'b': 5}", "{'$rename': {'a': 'b.x'}}", NULL, MONGO_PATH_NOT_VIABLE},
		{"{'_id': 1, 'a': [1]}", "{'$rename': {'a.0': 'b'}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': 1, 'b': [1]}", "{'$rename': {'a': 'b.0'}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': 1}", "{'$rename': {'a': 'a'}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': 1}", "{'$rename': {'a': 'a.b'}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': 1}", "{'$rename': {'a.b': 'a'}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': 1}", "{'$rename': {'a': 1}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': 1}", "{'$rename': {'a.$': 'b'}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': 1}", "{'$rename': {'a': 'b..c'}}", NULL, MONGO_EMPTY_FIELD_NAME},
		{"{'_id': 1, 'a': 1}", "{'$rename': {'a': '_id'}}", NULL, MONGO_IMMUTABLE_FIELD},
		{"{'_id': 1, 'a': 1}", "{'$rename': {'_id': 'b'}}", NULL, MONGO_IMMUTABLE_FIELD},
		{"{'_id': 1, 'a': 1}", "{'$rename': {'a': 'b'}, '$set': {'b': 1}}", NULL, MONGO_CONFLICTING_UPDATE_OPS},
		{"{'_id': 1, 'a': 1}", "{'$rename': {'a': 'b'}, '$set': {'a': 1}}", NULL, MONGO_CONFLICTING_UPDATE_OPS},
	};

	RUN_CASES(cases);
}

TEST(update_current_date_bit)
{
	static const UpdateCase cases[] = {
		{"{'_id': 1}", "{'$currentDate': {'d': true}}", "{'_id': 1, 'd': {'$date': {'$numberLong': '1700000000000'}}}"},
		{"{'_id': 1}", "{'$currentDate': {'d': {'$type': 'date'}}}", "{'_id': 1, 'd': {'$date': {'$numberLong': '1700000000000'}}}"},
		{"{'_id': 1}", "{'$currentDate': {'t': {'$type': 'timestamp'}}}", "{'_id': 1, 't': {'$timestamp': {'t': 1700000000, 'i': 1}}}"},
		{"{'_id': 1}", "{'$currentDate': {'d': {'$type': 'x'}}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1}", "{'$currentDate': {'d': 1}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1}", "{'$currentDate': {'d': {'other': 'date'}}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'v': 12}", "{'$bit': {'v': {'and': 10}}}", "{'_id': 1, 'v': 8}"},
		{"{'_id': 1, 'v': 12}", "{'$bit': {'v': {'or': 3, 'xor': 1}}}", "{'_id': 1, 'v': 14}"},
		{"{'_id': 1, 'v': 1}", "{'$bit': {'v': {'or': {'$numberLong': '2'}}}}", "{'_id': 1, 'v': {'$numberLong': '3'}}"},
		{"{'_id': 1}", "{'$bit': {'v': {'or': 5}}}", "{'_id': 1, 'v': 5}"},
		{"{'_id': 1, 'v': 1.5}", "{'$bit': {'v': {'or': 1}}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'v': 1}", "{'$bit': {'v': {'or': 1.0}}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'v': 1}", "{'$bit': {'v': {'nand': 1}}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'v': 1}", "{'$bit': {'v': {}}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'v': 1}", "{'$bit': {'v': 5}}", NULL, MONGO_BAD_VALUE},
	};

	RUN_CASES(cases);
}


/* ----------------------------------------------------------------
 *		Array operators
 * ----------------------------------------------------------------
 */

TEST(update_push)
{
	static const UpdateCase cases[] = {
		{"{'_id': 1, 'a': [1]}", "{'$push': {'a': 2}}", "{'_id': 1, 'a': [1, 2]}"},
		{"{'_id': 1}", "{'$push': {'a': 2}}", "{'_id': 1, 'a': [2]}"},
		{"{'_id': 1, 'a': [1]}", "{'$push': {'a': [2, 3]}}", "{'_id': 1, 'a': [1, [2, 3]]}"},
		{"{'_id': 1, 'a': [1]}", "{'$push': {'a': {'$each': [2, 3]}}}", "{'_id': 1, 'a': [1, 2, 3]}"},
		{"{'_id': 1, 'a': [1, 2]}", "{'$push': {'a': {'$each': [9], '$position': 1}}}", "{'_id': 1, 'a': [1, 9, 2]}"},
		{"{'_id': 1, 'a': [1, 2]}", "{'$push': {'a': {'$each': [9], '$position': -1}}}", "{'_id': 1, 'a': [1, 9, 2]}"},
		{"{'_id': 1, 'a': [1, 2]}", "{'$push': {'a': {'$each': [9], '$position': 10}}}", "{'_id': 1, 'a': [1, 2, 9]}"},
		{"{'_id': 1, 'a': [3, 1]}", "{'$push': {'a': {'$each': [2], '$sort': 1}}}", "{'_id': 1, 'a': [1, 2, 3]}"},
		{"{'_id': 1, 'a': [3, 1]}", "{'$push': {'a': {'$each': [2], '$sort': -1, '$slice': 2}}}", "{'_id': 1, 'a': [3, 2]}"},
		{"{'_id': 1, 'a': [1, 2, 3]}", "{'$push': {'a': {'$each': [4], '$slice': -2}}}", "{'_id': 1, 'a': [3, 4]}"},
		{"{'_id': 1, 'a': [1, 2, 3]}", "{'$push': {'a': {'$each': [], '$slice': 0}}}", "{'_id': 1, 'a': []}"},
		{"{'_id': 1, 'a': [{'s': 2, 'n': 'b'}, {'s': 1, 'n': 'a'}]}",
			"{'$push': {'a': {'$each': [{'s': 0}], '$sort': {'s': 1}}}}",
		"{'_id': 1, 'a': [{'s': 0}, {'s': 1, 'n': 'a'}, {'s': 2, 'n': 'b'}]}"},
		/* a stable sort: equal keys keep their order */
		{"{'_id': 1, 'a': [{'k': 1, 'i': 1}, {'k': 0, 'i': 2}, {'k': 1, 'i': 3}]}",
			"{'$push': {'a': {'$each': [], '$sort': {'k': -1}}}}",
		"{'_id': 1, 'a': [{'k': 1, 'i': 1}, {'k': 1, 'i': 3}, {'k': 0, 'i': 2}]}"},
		/* mixed types sort by MongoDB's type order */
		{"{'_id': 1, 'a': ['x', 2, null]}", "{'$push': {'a': {'$each': [1.5], '$sort': 1}}}", "{'_id': 1, 'a': [null, 1.5, 2, 'x']}"},
		{"{'_id': 1, 'a': 1}", "{'$push': {'a': 2}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': []}", "{'$push': {'a': {'$each': 1}}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': []}", "{'$push': {'a': {'$each': [1], '$bad': 1}}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': []}", "{'$push': {'a': {'$each': [1], '$slice': 1.5}}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': []}", "{'$push': {'a': {'$each': [1], '$slice': 'x'}}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': []}", "{'$push': {'a': {'$each': [1], '$sort': 2}}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': []}", "{'$push': {'a': {'$each': [1], '$sort': {}}}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': []}", "{'$push': {'a': {'$each': [1], '$sort': {'a': 'asc'}}}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': []}", "{'$push': {'a': {'$each': [1], '$position': 'x'}}}", NULL, MONGO_BAD_VALUE},
	};

	RUN_CASES(cases);
}

TEST(update_add_to_set)
{
	static const UpdateCase cases[] = {
		{"{'_id': 1, 'a': [1, 2]}", "{'$addToSet': {'a': 3}}", "{'_id': 1, 'a': [1, 2, 3]}"},
		{"{'_id': 1, 'a': [1, 2]}", "{'$addToSet': {'a': 2}}", "{'_id': 1, 'a': [1, 2]}"},
		/* numbers are equal across types */
		{"{'_id': 1, 'a': [1, 2]}", "{'$addToSet': {'a': 2.0}}", "{'_id': 1, 'a': [1, 2]}"},
		/* documents: field order counts */
		{"{'_id': 1, 'a': [{'x': 1, 'y': 2}]}", "{'$addToSet': {'a': {'y': 2, 'x': 1}}}",
		"{'_id': 1, 'a': [{'x': 1, 'y': 2}, {'y': 2, 'x': 1}]}"},
		{"{'_id': 1}", "{'$addToSet': {'a': {'$each': [1, 1, 2]}}}", "{'_id': 1, 'a': [1, 2]}"},
		{"{'_id': 1, 'a': [2]}", "{'$addToSet': {'a': {'$each': [1, 2, 3]}}}", "{'_id': 1, 'a': [2, 1, 3]}"},
		{"{'_id': 1, 'a': 'x'}", "{'$addToSet': {'a': 1}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': []}", "{'$addToSet': {'a': {'$each': 1}}}", NULL, MONGO_TYPE_MISMATCH},
		{"{'_id': 1, 'a': []}", "{'$addToSet': {'a': {'$each': [1], '$sort': 1}}}", NULL, MONGO_BAD_VALUE},
	};

	RUN_CASES(cases);
}

TEST(update_pop_pull)
{
	static const UpdateCase cases[] = {
		{"{'_id': 1, 'a': [1, 2, 3]}", "{'$pop': {'a': 1}}", "{'_id': 1, 'a': [1, 2]}"},
		{"{'_id': 1, 'a': [1, 2, 3]}", "{'$pop': {'a': -1}}", "{'_id': 1, 'a': [2, 3]}"},
		{"{'_id': 1, 'a': []}", "{'$pop': {'a': 1}}", "{'_id': 1, 'a': []}"},
		{"{'_id': 1}", "{'$pop': {'a': 1}}", "{'_id': 1}"},
		{"{'_id': 1, 'a': 1}", "{'$pop': {'a': 1}}", NULL, MONGO_TYPE_MISMATCH},
		{"{'_id': 1, 'a': [1]}", "{'$pop': {'a': 2}}", NULL, MONGO_FAILED_TO_PARSE},
		{"{'_id': 1, 'a': [1]}", "{'$pop': {'a': 'x'}}", NULL, MONGO_FAILED_TO_PARSE},
		{"{'_id': 1, 'a': [{'b': [1]}]}", "{'$pop': {'a.b': 1}}", NULL, MONGO_PATH_NOT_VIABLE},
		/* $pull: a value, a condition on the element, a filter on documents */
		{"{'_id': 1, 'a': [1, 2, 1, 3]}", "{'$pull': {'a': 1}}", "{'_id': 1, 'a': [2, 3]}"},
		{"{'_id': 1, 'a': [1, 5, 7, 3]}", "{'$pull': {'a': {'$gte': 5}}}", "{'_id': 1, 'a': [1, 3]}"},
		{"{'_id': 1, 'a': [1, 5, 7, 3]}", "{'$pull': {'a': {'$in': [1, 7]}}}", "{'_id': 1, 'a': [5, 3]}"},
		{"{'_id': 1, 'a': [{'x': 1, 'y': 1}, {'x': 2}]}", "{'$pull': {'a': {'x': 1}}}", "{'_id': 1, 'a': [{'x': 2}]}"},
		{"{'_id': 1, 'a': [{'x': 1}, 1]}", "{'$pull': {'a': {}}}", "{'_id': 1, 'a': [1]}"},
		{"{'_id': 1, 'a': [[1, 2], [3]]}", "{'$pull': {'a': [1, 2]}}", "{'_id': 1, 'a': [[3]]}"},
		{"{'_id': 1, 'a': ['ab', 'cd']}", "{'$pull': {'a': {'$regex': '^a'}}}", "{'_id': 1, 'a': ['cd']}"},
		{"{'_id': 1, 'a': [{'b': [1, 2]}, {'b': [3]}]}", "{'$pull': {'a': {'b': 2}}}", "{'_id': 1, 'a': [{'b': [3]}]}"},
		{"{'_id': 1}", "{'$pull': {'a': 1}}", "{'_id': 1}"},
		{"{'_id': 1, 'a': 1}", "{'$pull': {'a.b': 1}}", "{'_id': 1, 'a': 1}"},
		{"{'_id': 1, 'a': 1}", "{'$pull': {'a': 1}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': [1]}", "{'$pull': {'a': {'$bad': 1}}}", NULL, MONGO_BAD_VALUE},
		/* $pullAll: equality with every listed value */
		{"{'_id': 1, 'a': [1, 2, 3, 1.0]}", "{'$pullAll': {'a': [1, 3]}}", "{'_id': 1, 'a': [2]}"},
		{"{'_id': 1, 'a': [{'x': 1, 'y': 2}]}", "{'$pullAll': {'a': [{'y': 2, 'x': 1}]}}", "{'_id': 1, 'a': [{'x': 1, 'y': 2}]}"},
		{"{'_id': 1, 'a': [1]}", "{'$pullAll': {'a': 1}}", NULL, MONGO_BAD_VALUE},
		{"{'_id': 1, 'a': 'x'}", "{'$pullAll': {'a': [1]}}", NULL, MONGO_BAD_VALUE},
	};

	RUN_CASES(cases);
}


/* ----------------------------------------------------------------
 *		Update documents
 * ----------------------------------------------------------------
 */

TEST(update_document_errors)
{
	static const UpdateCase cases[] = {
		{"{'_id': 1}", "{'$foo': {'a': 1}}", NULL, MONGO_FAILED_TO_PARSE},
		{"{'_id': 1}", "{'$set': 1}", NULL, MONGO_FAILED_TO_PARSE},
		{"{'_id': 1}", "{'$set': {'a': 1}, 'b': 1}", NULL, MONGO_FAILED_TO_PARSE},
		{"{'_id': 1}", "{'$set': {'a': 1}, '$inc': {'a': 1}}", NULL, MONGO_CONFLICTING_UPDATE_OPS},
		{"{'_id': 1}", "{'$set': {'a': 1, 'a.b': 1}}", NULL, MONGO_CONFLICTING_UPDATE_OPS},
		{"{'_id': 1}", "{'$set': {'a.b': 1}, '$unset': {'a': 1}}", NULL, MONGO_CONFLICTING_UPDATE_OPS},
		{"{'_id': 1}", "{'$set': {'a.b': 1, 'a.c': 1}}", "{'_id': 1, 'a': {'b': 1, 'c': 1}}"},
		{"{'_id': 1}", "{'$set': {'a.0': 1, 'a.$[]': 1}}", NULL, MONGO_CONFLICTING_UPDATE_OPS},
		{"{'_id': 1}", "{'$setOnInsert': {'a': 1}, '$set': {'a': 2}}", NULL, MONGO_CONFLICTING_UPDATE_OPS},
		/* replacement: the _id stays first, a different one fails */
		{"{'_id': 1, 'a': 1}", "{'b': 2}", "{'_id': 1, 'b': 2}"},
		{"{'_id': 1, 'a': 1}", "{'b': 2, '_id': 1}", "{'_id': 1, 'b': 2}"},
		{"{'_id': 1, 'a': 1}", "{}", "{'_id': 1}"},
		{"{'_id': 1, 'a': 1}", "{'_id': 2}", NULL, MONGO_IMMUTABLE_FIELD},
		{"{'_id': 1, 'a': 1}", "{'a': 1, '$set': {'b': 1}}", NULL, MONGO_DOLLAR_PREFIXED_FIELD},
	};

	RUN_CASES(cases);
}

TEST(update_api)
{
	bson_t	   *update = Json("{'$set': {'a.$.b': 1}}", __FILE__, __LINE__);
	bson_t	   *repl = Json("{'a': 1}", __FILE__, __LINE__);
	BsonQueryError error;
	BsonUpdate *u;

	u = BsonUpdateCompile(bson_get_data(update), update->len, NULL, 0, &error);
	CHECK(u != NULL);
	CHECK(BsonUpdateNeedsPosition(u));
	CHECK(!BsonUpdateIsReplacement(u));
	BsonUpdateFree(u);
	u = BsonUpdateCompile(bson_get_data(repl), repl->len, NULL, 0, &error);
	CHECK(u != NULL);
	CHECK(BsonUpdateIsReplacement(u));
	CHECK(!BsonUpdateNeedsPosition(u));
	BsonUpdateFree(u);
	BsonUpdatePipelineError(&error);
	CHECK_EQ(error.code, MONGO_NOT_IMPLEMENTED);
	pfree(error.message);
	bson_destroy(update);
	bson_destroy(repl);
}

TEST(update_no_op_rule)
{
	bool		modified;
	int			code;
	char	   *r;

	r = Apply("{'_id': 1, 'a': 1}", "{'$set': {'a': 1}}", NULL, -1, false, &modified, &code, __FILE__, __LINE__);
	CHECK(r != NULL && !modified);
	pfree(r);
	r = Apply("{'_id': 1, 'a': 1}", "{'$set': {'a': 1.0}}", NULL, -1, false, &modified, &code, __FILE__, __LINE__);
	CHECK(r != NULL && modified);
	pfree(r);
	r = Apply("{'_id': 1, 'a': 1}", "{'$unset': {'b': 1}}", NULL, -1, false, &modified, &code, __FILE__, __LINE__);
	CHECK(r != NULL && !modified);
	pfree(r);
	r = Apply("{'_id': 1, 'a': [1]}", "{'$addToSet': {'a': 1}}", NULL, -1, false, &modified, &code, __FILE__, __LINE__);
	CHECK(r != NULL && !modified);
	pfree(r);
	r = Apply("{'_id': 1, 'a': 5}", "{'$max': {'a': 1}}", NULL, -1, false, &modified, &code, __FILE__, __LINE__);
	CHECK(r != NULL && !modified);
	pfree(r);
	r = Apply("{'_id': 1, 'a': 5}", "{'$inc': {'a': 0}}", NULL, -1, false, &modified, &code, __FILE__, __LINE__);
	CHECK(r != NULL && !modified);
	pfree(r);
	/* a replacement always counts */
	r = Apply("{'_id': 1, 'a': 5}", "{'a': 5}", NULL, -1, false, &modified, &code, __FILE__, __LINE__);
	CHECK(r != NULL && modified);
	pfree(r);
}


/* ----------------------------------------------------------------
 *		Positional updates and array filters
 * ----------------------------------------------------------------
 */

TEST(update_positional)
{
	CHECK_APPLY("{'_id': 1, 'a': [1, 2, 3]}", "{'$set': {'a.$': 9}}", NULL, 1, false,
				"{'_id': 1, 'a': [1, 9, 3]}", 0);
	CHECK_APPLY("{'_id': 1, 'a': [{'b': 1}, {'b': 2}]}", "{'$inc': {'a.$.b': 10}}", NULL, 1, false,
				"{'_id': 1, 'a': [{'b': 1}, {'b': 12}]}", 0);
	CHECK_APPLY("{'_id': 1, 'a': [1, 2, 3]}", "{'$set': {'a.$': 9}}", NULL, -1, false,
				NULL, MONGO_BAD_VALUE);
	CHECK_APPLY("{'_id': 1, 'a': 5}", "{'$set': {'a.$': 9}}", NULL, -1, false,
				NULL, MONGO_BAD_VALUE);
	/* merged with the named child of the same index: leaves conflict */
	CHECK_APPLY("{'_id': 1, 'a': [1, 2]}", "{'$set': {'a.$': 9, 'a.1': 8}}", NULL, 1, false,
				NULL, MONGO_CONFLICTING_UPDATE_OPS);
	CHECK_APPLY("{'_id': 1, 'a': [1, 2]}", "{'$set': {'a.$': 9, 'a.0': 8}}", NULL, 1, false,
				"{'_id': 1, 'a': [8, 9]}", 0);
	/* $[]: every element */
	CHECK_APPLY("{'_id': 1, 'a': [1, 2, 3]}", "{'$inc': {'a.$[]': 10}}", NULL, -1, false,
				"{'_id': 1, 'a': [11, 12, 13]}", 0);
	CHECK_APPLY("{'_id': 1, 'a': [{'b': [1, 2]}, {'b': [3]}]}", "{'$set': {'a.$[].b.$[]': 0}}", NULL, -1, false,
				"{'_id': 1, 'a': [{'b': [0, 0]}, {'b': [0]}]}", 0);
	CHECK_APPLY("{'_id': 1, 'a': [[1], [2]]}", "{'$push': {'a.$[]': 0}}", NULL, -1, false,
				"{'_id': 1, 'a': [[1, 0], [2, 0]]}", 0);
	CHECK_APPLY("{'_id': 1}", "{'$set': {'a.$[]': 1}}", NULL, -1, false,
				NULL, MONGO_BAD_VALUE);
	CHECK_APPLY("{'_id': 1, 'a': {'b': 1}}", "{'$set': {'a.$[]': 1}}", NULL, -1, false,
				NULL, MONGO_BAD_VALUE);
	CHECK_APPLY("{'_id': 1}", "{'$set': {'$[].a': 1}}", NULL, -1, false,
				NULL, MONGO_BAD_VALUE);
}

TEST(update_array_filters)
{
	CHECK_APPLY("{'_id': 1, 'a': [1, 5, 8]}", "{'$set': {'a.$[x]': 0}}",
				"{'f': [{'x': {'$gte': 5}}]}", -1, false,
				"{'_id': 1, 'a': [1, 0, 0]}", 0);
	CHECK_APPLY("{'_id': 1, 'a': [{'k': 1, 'v': 1}, {'k': 2, 'v': 1}]}", "{'$inc': {'a.$[e].v': 5}}",
				"{'f': [{'e.k': 2}]}", -1, false,
				"{'_id': 1, 'a': [{'k': 1, 'v': 1}, {'k': 2, 'v': 6}]}", 0);
	CHECK_APPLY("{'_id': 1, 'a': [1, 5, 8]}", "{'$set': {'a.$[x]': 0, 'a.$[y]': 1}}",
				"{'f': [{'x': 1}, {'y': 8}]}", -1, false,
				"{'_id': 1, 'a': [0, 5, 1]}", 0);
	/* two filters selecting one element: a conflict */
	CHECK_APPLY("{'_id': 1, 'a': [1, 5, 8]}", "{'$set': {'a.$[x]': 0, 'a.$[y]': 1}}",
				"{'f': [{'x': 5}, {'y': {'$gt': 1}}]}", -1, false,
				NULL, MONGO_CONFLICTING_UPDATE_OPS);
	CHECK_APPLY("{'_id': 1, 'a': [1]}", "{'$set': {'a.$[x]': 0}}",
				"{'f': [{'y': 1}]}", -1, false, NULL, MONGO_BAD_VALUE);
	CHECK_APPLY("{'_id': 1, 'a': [1]}", "{'$set': {'a.0': 0}}",
				"{'f': [{'y': 1}]}", -1, false, NULL, MONGO_FAILED_TO_PARSE);
	CHECK_APPLY("{'_id': 1, 'a': [1]}", "{'$set': {'a.$[X]': 0}}",
				"{'f': [{'X': 1}]}", -1, false, NULL, MONGO_BAD_VALUE);
	CHECK_APPLY("{'_id': 1, 'a': [1]}", "{'$set': {'a.$[x]': 0}}",
				"{'f': [{'x': 1}, {'x': 2}]}", -1, false, NULL, MONGO_FAILED_TO_PARSE);
	CHECK_APPLY("{'_id': 1, 'a': [1]}", "{'$set': {'a.$[x]': 0}}",
				"{'f': [{'x': 1, 'y': 2}]}", -1, false, NULL, MONGO_FAILED_TO_PARSE);
	CHECK_APPLY("{'_id': 1, 'a': [1]}", "{'$set': {'a.$[x]': 0}}",
				"{'f': [{}]}", -1, false, NULL, MONGO_FAILED_TO_PARSE);
	CHECK_APPLY("{'_id': 1, 'a': [1, 2]}", "{'$set': {'a.$[x]': 0}}",
				"{'f': [{'$or': [{'x': 1}, {'x': 2}]}]}", -1, false,
				"{'_id': 1, 'a': [0, 0]}", 0);
	CHECK_APPLY("{'_id': 1, 'a': [1]}", "{'$set': {'a.$[x]': 0}}",
				"{'f': [{'x': {'$bad': 1}}]}", -1, false, NULL, MONGO_BAD_VALUE);
	/* the special operators MongoDB bans in array filters, with its codes */
	CHECK_APPLY("{'_id': 1, 'a': ['hello']}", "{'$set': {'a.$[x]': 0}}",
				"{'f': [{'$text': {'$search': 'hello'}}]}", -1, false, NULL, MONGO_BAD_VALUE);
	CHECK_APPLY("{'_id': 1, 'a': [1]}", "{'$set': {'a.$[x]': 0}}",
				"{'f': [{'$where': 'true'}]}", -1, false, NULL, MONGO_BAD_VALUE);
	CHECK_APPLY("{'_id': 1, 'a': [1]}", "{'$set': {'a.$[x]': 0}}",
				"{'f': [{'$expr': {'$gt': ['$x', 1]}}]}", -1, false, NULL,
				MONGO_QUERY_FEATURE_NOT_ALLOWED);
	CHECK_APPLY("{'_id': 1, 'a': [1]}", "{'$set': {'a.$[x]': 0}}",
				"{'f': [{'$jsonSchema': {}}]}", -1, false, NULL,
				MONGO_QUERY_FEATURE_NOT_ALLOWED);
	CHECK_APPLY("{'_id': 1, 'a': [{'loc': [0, 0]}]}", "{'$set': {'a.$[x].y': 1}}",
				"{'f': [{'x.loc': {'$near': [0, 0]}}]}", -1, false, NULL,
				MONGO_GEO_NEAR_NOT_ALLOWED);
	CHECK_APPLY("{'_id': 1, 'a': [{'loc': [0, 0]}]}", "{'$set': {'a.$[x].y': 1}}",
				"{'f': [{'x': {'$elemMatch': {'loc': {'$nearSphere': [0, 0]}}}}]}", -1, false,
				NULL, MONGO_GEO_NEAR_NOT_ALLOWED);
	/* the first error wins */
	CHECK_APPLY("{'_id': 1, 'a': [1]}", "{'$set': {'a.$[x]': 0}}",
				"{'f': [{'x': {'$bad': 1}, '$expr': 1}]}", -1, false, NULL, MONGO_BAD_VALUE);
}

TEST(update_set_on_insert)
{
	CHECK_APPLY("{'_id': 1}", "{'$setOnInsert': {'a': 1}, '$set': {'b': 2}}", NULL, -1, false,
				"{'_id': 1, 'b': 2}", 0);
	CHECK_APPLY("{'_id': 1}", "{'$setOnInsert': {'a': 1}, '$set': {'b': 2}}", NULL, -1, true,
				"{'_id': 1, 'a': 1, 'b': 2}", 0);
	CHECK_APPLY("{'_id': 1}", "{'$setOnInsert': {'_id': 2}}", NULL, -1, true,
				NULL, MONGO_IMMUTABLE_FIELD);
	/* "$" fields: refused in stored documents, created in upserted ones */
	CHECK_APPLY("{'_id': 1}", "{'$setOnInsert': {'$x': 1}}", NULL, -1, true,
				"{'_id': 1, '$x': 1}", 0);
}


/* ----------------------------------------------------------------
 *		Upsert seeds
 * ----------------------------------------------------------------
 */

/*
 * CheckSeed
 *		The seed of a filter, or its error code.
 */
static void
CheckSeed(const char *filter, const char *result, int code, const char *file, int line)
{
	bson_t	   *f = Json(filter, file, line);
	bson_t		out;
	BsonQueryError error;

	if (f == NULL)
		return;
	UnitChecks++;
	bson_init(&out);
	if (BsonUpsertSeed(bson_get_data(f), f->len, &out, &error))
	{
		char	   *got = Text(&out);

		if (result == NULL)
			UnitFail(file, line, "seed of %s: %s, expected error %d", filter, got, code);
		else
		{
			char	   *want = Normalize(result, file, line);

			if (strcmp(got, want) != 0)
				UnitFail(file, line, "seed of %s: %s, expected %s", filter, got, want);
			pfree(want);
		}
		pfree(got);
	}
	else
	{
		if (result != NULL || error.code != code)
			UnitFail(file, line, "seed of %s: error %d %s", filter, error.code, error.message);
		pfree(error.message);
	}
	bson_destroy(&out);
	bson_destroy(f);
}

#define CHECK_SEED(filter, result, code) CheckSeed(filter, result, code, __FILE__, __LINE__)

TEST(update_upsert_seed)
{
	CHECK_SEED("{}", "{}", 0);
	CHECK_SEED("{'a': 1, '_id': 5}", "{'_id': 5, 'a': 1}", 0);
	CHECK_SEED("{'a.b': 1, 'a.c': {'$eq': 2}}", "{'a': {'b': 1, 'c': 2}}", 0);
	CHECK_SEED("{'a': {'$gt': 1}, 'b': {'$in': [3]}, 'c': {'$in': [1, 2]}}", "{'b': 3}", 0);
	CHECK_SEED("{'$and': [{'a': 1}, {'b': 2}]}", "{'a': 1, 'b': 2}", 0);
	CHECK_SEED("{'$or': [{'a': 1}]}", "{'a': 1}", 0);
	CHECK_SEED("{'$or': [{'a': 1}, {'b': 2}]}", "{}", 0);
	CHECK_SEED("{'a': {'$regex': 'x'}, 'b': {'x': 1}}", "{'b': {'x': 1}}", 0);
	CHECK_SEED("{'$and': [{'a': 1}, {'a': 2}]}", NULL, MONGO_NOT_SINGLE_VALUE_FIELD);
	CHECK_SEED("{'a': 1, 'a.b': 2}", NULL, MONGO_NOT_SINGLE_VALUE_FIELD);
}

TEST(update_upsert_flow)
{
	bson_t	   *f = Json("{'_id': 7, 'x': {'$gt': 1}, 'n': 2}", __FILE__, __LINE__);
	bson_t	   *upd = Json("{'$inc': {'n': 1}, '$setOnInsert': {'made': true}}", __FILE__, __LINE__);
	bson_t		seed,
				out;
	BsonQueryError error;
	BsonUpdate *u;
	bool		modified;

	bson_init(&seed);
	bson_init(&out);
	CHECK(BsonUpsertSeed(bson_get_data(f), f->len, &seed, &error));
	u = BsonUpdateCompile(bson_get_data(upd), upd->len, NULL, 0, &error);
	CHECK(u != NULL);
	if (u != NULL)
	{
		CHECK(BsonUpdateApply(u, bson_get_data(&seed), seed.len, -1, true, 0, &out,
							  &modified, &error));
		{
			char	   *got = Text(&out);
			char	   *want = Normalize("{'_id': 7, 'n': 3, 'made': true}", __FILE__, __LINE__);

			CHECK_STR_EQ(got, want);
			pfree(got);
			pfree(want);
		}
		BsonUpdateFree(u);
	}
	bson_destroy(&seed);
	bson_destroy(&out);
	bson_destroy(f);
	bson_destroy(upd);
}

TEST(update_too_large)
{
	/* $push a 9 MB string twice: the result passes 16 MB */
	size_t		n = 9 * 1024 * 1024;
	char	   *big = palloc(n + 1);
	bson_t		doc = BSON_INITIALIZER;
	bson_t		update = BSON_INITIALIZER;
	bson_t		push,
				each,
				out;
	BsonQueryError error;
	BsonUpdate *u;
	bool		modified;

	memset(big, 'x', n);
	big[n] = '\0';
	bson_append_int32(&doc, "_id", 3, 1);
	bson_append_document_begin(&update, "$push", 5, &push);
	bson_append_document_begin(&push, "a", 1, &each);
	{
		bson_t		arr;

		bson_append_array_begin(&each, "$each", 5, &arr);
		bson_append_utf8(&arr, "0", 1, big, (int) n);
		bson_append_utf8(&arr, "1", 1, big, (int) n);
		bson_append_array_end(&each, &arr);
	}
	bson_append_document_end(&push, &each);
	bson_append_document_end(&update, &push);
	u = BsonUpdateCompile(bson_get_data(&update), update.len, NULL, 0, &error);
	CHECK(u != NULL);
	if (u != NULL)
	{
		bson_init(&out);
		CHECK(!BsonUpdateApply(u, bson_get_data(&doc), doc.len, -1, false, 0,
							   &out, &modified, &error));
		CHECK_EQ(error.code, MONGO_DOCUMENT_TOO_LARGE);
		if (error.message != NULL)
			pfree(error.message);
		bson_destroy(&out);
		BsonUpdateFree(u);
	}
	bson_destroy(&doc);
	bson_destroy(&update);
	pfree(big);
}

/*
 * Describe
 *		The updateDescription of an update (u NULL: a pipeline update from
 *		old to new_json) as {u: updatedFields, r: removedFields, t:
 *		truncatedArrays}, in the tables' form; pfree it.
 */
static char *
Describe(const char *old_json, const char *update_json, const char *new_json)
{
	bson_t	   *old = Json(old_json, __FILE__, __LINE__);
	bson_t	   *update = update_json ? Json(update_json, __FILE__, __LINE__) : NULL;
	bson_t	   *given = new_json ? Json(new_json, __FILE__, __LINE__) : NULL;
	BsonUpdate *u = NULL;
	BsonQueryError error = {0};
	bson_t		out,
				updated,
				removed,
				truncated,
				result;
	bool		modified;
	char	   *text;

	bson_init(&out);
	if (update != NULL)
	{
		u = BsonUpdateCompile(bson_get_data(update), update->len, NULL, 0, &error);
		if (u == NULL || !BsonUpdateApply(u, bson_get_data(old), old->len, -1, false,
										  TEST_NOW_MS, &out, &modified, &error))
			return pstrdup("error");
	}
	else
		bson_concat(&out, given);
	bson_init(&updated);
	bson_init(&removed);
	bson_init(&truncated);
	BsonUpdateDescribe(u, bson_get_data(old), old->len, bson_get_data(&out), out.len,
					   &updated, &removed, &truncated);
	bson_init(&result);
	bson_append_document(&result, "u", 1, &updated);
	bson_append_array(&result, "r", 1, &removed);
	bson_append_array(&result, "t", 1, &truncated);
	text = Text(&result);
	bson_destroy(&result);
	bson_destroy(&updated);
	bson_destroy(&removed);
	bson_destroy(&truncated);
	bson_destroy(&out);
	if (u != NULL)
		BsonUpdateFree(u);
	bson_destroy(old);
	if (update)
		bson_destroy(update);
	if (given)
		bson_destroy(given);
	return text;
}

TEST(update_describe)
{
	static const struct
	{
		const char *doc;
		const char *update;		/* NULL: a pipeline update to result */
		const char *result;
		const char *expected;
	}			cases[] = {
		{"{'_id': 1, 'a': 1}", "{'$set': {'a': 2}}", NULL, "{'u': {'a': 2}, 'r': [], 't': []}"},
		{"{'_id': 1, 'a': {'b': 1}}", "{'$set': {'a': {'b': 1, 'c': 2}}}", NULL,
		"{'u': {'a': {'b': 1, 'c': 2}}, 'r': [], 't': []}"},
		{"{'_id': 1, 'a': {'b': 1}}", "{'$set': {'a.c': 2, 'x.y': 1}}", NULL,
		"{'u': {'a.c': 2, 'x': {'y': 1}}, 'r': [], 't': []}"},
		{"{'_id': 1, 'a': [1, 2]}", "{'$push': {'a': 3}}", NULL, "{'u': {'a.2': 3}, 'r': [], 't': []}"},
		{"{'_id': 1, 'a': [1, 2]}", "{'$push': {'a': {'$each': [3], '$sort': -1}}}", NULL,
		"{'u': {'a': [3, 2, 1]}, 'r': [], 't': []}"},
		{"{'_id': 1, 'a': [1, 2]}", "{'$addToSet': {'a': 3}}", NULL, "{'u': {'a': [1, 2, 3]}, 'r': [], 't': []}"},
		{"{'_id': 1, 'a': [1, 2]}", "{'$pop': {'a': 1}}", NULL, "{'u': {'a': [1]}, 'r': [], 't': []}"},
		{"{'_id': 1, 'a': [{'b': 1}, {'b': 2}]}", "{'$inc': {'a.$[].b': 1}}", NULL,
		"{'u': {'a.0.b': 2, 'a.1.b': 3}, 'r': [], 't': []}"},
		{"{'_id': 1, 'a': 1, 'b': {'c': 1}}", "{'$rename': {'a': 'z'}, '$unset': {'b.c': 1}}", NULL,
		"{'u': {'z': 1}, 'r': ['b.c', 'a'], 't': []}"},
		{"{'_id': 1, 'a': [1, 2, 3], 'b': 1}", NULL, "{'_id': 1, 'a': [1, 5], 'c': 2}",
		"{'u': {'a.1': 5, 'c': 2}, 'r': ['b'], 't': [{'field': 'a', 'newSize': 2}]}"},
		{"{'_id': 1, 'a': [1]}", NULL, "{'_id': 1, 'a': {'0': 1}}", "{'u': {'a': {'0': 1}}, 'r': [], 't': []}"},
	};

	for (int i = 0; i < (int) lengthof(cases); i++)
	{
		char	   *got = Describe(cases[i].doc, cases[i].update, cases[i].result);

		if (strcmp(got, cases[i].expected) != 0)
			UnitFail(__FILE__, __LINE__, "case %d: got %s, expected %s", i, got, cases[i].expected);
		UnitChecks++;
		pfree(got);
	}
}
