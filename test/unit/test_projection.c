/*-------------------------------------------------------------------------
 *
 * test_projection.c
 *	  Unit tests of MongoDB find projections (src/projection.c): inclusion
 *	  and exclusion, _id, dotted paths through arrays, $slice, $elemMatch,
 *	  the positional operator, literals and "$path" values, and MongoDB's
 *	  error codes at compile time and at apply time.
 *
 * Projections, documents and expected results are Extended JSON with
 * single quotes.  Results compare as BSON bytes: field order and numeric
 * types both count.  Expectations follow MongoDB 8 (the recorded cases of
 * core/operator/projection and the documentation).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "bson_json.h"
#include "lib/stringinfo.h"
#include "projection.h"
#include "unit.h"

/* A projection applied to a document, and what it gives */
typedef struct ProjCase
{
	const char *proj;
	const char *doc;
	int			position;		/* the query's match position, -1 if none */
	const char *expected;
} ProjCase;

/* A projection that must not compile, with MongoDB's code */
typedef struct ProjErrorCase
{
	const char *proj;
	int			code;
	const char *message;		/* a substring of the message, or NULL */
} ProjErrorCase;

/* A projection that compiles but fails on a document */
typedef struct ProjApplyErrorCase
{
	const char *proj;
	const char *doc;
	int			position;
	int			code;
} ProjApplyErrorCase;


/* ----------------------------------------------------------------
 *		Helpers
 * ----------------------------------------------------------------
 */

/*
 * ParseJsonQ
 *		A document from single-quoted Extended JSON, or NULL (reported at
 *		the caller's line).
 */
static bson_t *
ParseJsonQ(const char *json, const char *file, int line)
{
	char	   *text = pstrdup(json);
	BsonParsed	parsed;
	char	   *error = NULL;
	bson_t	   *out;

	for (char *p = text; *p != '\0'; p++)
	{
		if (*p == '\'')
			*p = '"';
	}
	if (!BsonParseJson(text, strlen(text), &parsed, &error))
	{
		UnitFail(file, line, "JSON does not parse: %s: %s", json, error);
		pfree(text);
		return NULL;
	}
	pfree(text);
	out = bson_copy(&parsed.doc);
	bson_destroy(&parsed.doc);
	return out;
}

/*
 * JsonOf
 *		The relaxed Extended JSON of a document (palloc'd).
 */
static char *
JsonOf(const bson_t *doc)
{
	StringInfoData buf;

	initStringInfo(&buf);
	BsonPrintJson(&buf, bson_get_data(doc), doc->len, false, BSON_JSON_CANONICAL);
	return buf.data;
}

/*
 * Compile
 *		Compile a projection from JSON; NULL with *error filled if it does
 *		not compile (or does not parse).
 */
static BsonProjection *
Compile(const char *json, BsonQueryError *error, const char *file, int line)
{
	bson_t	   *spec = ParseJsonQ(json, file, line);
	BsonProjection *p;

	error->message = NULL;
	if (spec == NULL)
		return NULL;
	p = BsonProjectionCompile(bson_get_data(spec), spec->len, error);
	bson_destroy(spec);
	return p;
}

/*
 * CheckProjection
 *		Apply a projection and compare the result with the expectation.
 */
static void
CheckProjection(const ProjCase *c, const char *file, int line)
{
	BsonQueryError error;
	BsonProjection *p = Compile(c->proj, &error, file, line);
	bson_t	   *doc;
	bson_t	   *expected;
	bson_t		out;

	UnitChecks++;
	if (p == NULL)
	{
		UnitFail(file, line, "%s: does not compile: %d %s", c->proj, error.code,
				 error.message ? error.message : "");
		if (error.message)
			pfree(error.message);
		return;
	}
	doc = ParseJsonQ(c->doc, file, line);
	expected = ParseJsonQ(c->expected, file, line);
	if (doc != NULL && expected != NULL)
	{
		if (!BsonProjectionApply(p, bson_get_data(doc), doc->len, c->position,
								 &out, &error))
		{
			UnitFail(file, line, "%s on %s: error %d %s", c->proj, c->doc,
					 error.code, error.message);
			pfree(error.message);
		}
		else if (out.len != expected->len ||
				 memcmp(bson_get_data(&out), bson_get_data(expected), out.len) != 0)
		{
			char	   *got = JsonOf(&out);
			char	   *want = JsonOf(expected);

			UnitFail(file, line, "%s on %s:\n    got      %s\n    expected %s",
					 c->proj, c->doc, got, want);
			pfree(got);
			pfree(want);
		}
		bson_destroy(&out);
	}
	if (doc)
		bson_destroy(doc);
	if (expected)
		bson_destroy(expected);
	BsonProjectionFree(p);
}

/*
 * CheckCompileError
 *		A projection must fail to compile with a code (and message part).
 */
static void
CheckCompileError(const ProjErrorCase *c, const char *file, int line)
{
	BsonQueryError error;
	BsonProjection *p = Compile(c->proj, &error, file, line);

	UnitChecks++;
	if (p != NULL)
	{
		UnitFail(file, line, "%s: compiled, expected error %d", c->proj, c->code);
		BsonProjectionFree(p);
		return;
	}
	if (error.message == NULL)
		return;					/* did not parse: reported already */
	if (error.code != c->code)
		UnitFail(file, line, "%s: error %d (%s), expected %d", c->proj, error.code,
				 error.message, c->code);
	else if (error.code_name == NULL || error.code_name[0] == '\0')
		UnitFail(file, line, "%s: no code name", c->proj);
	else if (c->message != NULL && strstr(error.message, c->message) == NULL)
		UnitFail(file, line, "%s: message \"%s\" lacks \"%s\"", c->proj,
				 error.message, c->message);
	pfree(error.message);
}

/*
 * CheckApplyError
 *		A projection must compile and then fail on a document.
 */
static void
CheckApplyError(const ProjApplyErrorCase *c, const char *file, int line)
{
	BsonQueryError error;
	BsonProjection *p = Compile(c->proj, &error, file, line);
	bson_t	   *doc;
	bson_t		out;

	UnitChecks++;
	if (p == NULL)
	{
		UnitFail(file, line, "%s: does not compile: %s", c->proj,
				 error.message ? error.message : "");
		if (error.message)
			pfree(error.message);
		return;
	}
	doc = ParseJsonQ(c->doc, file, line);
	if (doc != NULL)
	{
		if (BsonProjectionApply(p, bson_get_data(doc), doc->len, c->position, &out, &error))
			UnitFail(file, line, "%s on %s: succeeded, expected error %d", c->proj,
					 c->doc, c->code);
		else
		{
			if (error.code != c->code)
				UnitFail(file, line, "%s on %s: error %d (%s), expected %d", c->proj,
						 c->doc, error.code, error.message, c->code);
			pfree(error.message);
		}
		bson_destroy(&out);
		bson_destroy(doc);
	}
	BsonProjectionFree(p);
}

#define RUN_PROJECTIONS(cases) \
	for (size_t i_ = 0; i_ < lengthof(cases); i_++) \
		CheckProjection(&(cases)[i_], __FILE__, __LINE__)
#define RUN_COMPILE_ERRORS(cases) \
	for (size_t i_ = 0; i_ < lengthof(cases); i_++) \
		CheckCompileError(&(cases)[i_], __FILE__, __LINE__)
#define RUN_APPLY_ERRORS(cases) \
	for (size_t i_ = 0; i_ < lengthof(cases); i_++) \
		CheckApplyError(&(cases)[i_], __FILE__, __LINE__)


/* ----------------------------------------------------------------
 *		Inclusion, exclusion, _id
 * ----------------------------------------------------------------
 */

TEST(projection_inclusion)
{
	static const ProjCase cases[] = {
		{"{'a': 1}", "{'_id': 1, 'a': 2, 'b': 3}", -1, "{'_id': 1, 'a': 2}"},
		{"{'a': true, 'b': 1}", "{'_id': 1, 'a': 10, 'b': 20, 'c': 30}", -1,
		"{'_id': 1, 'a': 10, 'b': 20}"},
		/* document order, not projection order */
		{"{'b': 1, 'a': 1}", "{'a': 1, 'b': 2, '_id': 3}", -1, "{'a': 1, 'b': 2, '_id': 3}"},
		/* any non-zero number includes: doubles, longs, decimals, NaN */
		{"{'a': 0.5}", "{'_id': 1, 'a': 2, 'b': 3}", -1, "{'_id': 1, 'a': 2}"},
		{"{'a': -1}", "{'_id': 1, 'a': 2, 'b': 3}", -1, "{'_id': 1, 'a': 2}"},
		{"{'a': {'$numberLong': '5'}}", "{'_id': 1, 'a': 2, 'b': 3}", -1, "{'_id': 1, 'a': 2}"},
		{"{'a': {'$numberDecimal': '0.1'}}", "{'_id': 1, 'a': 2, 'b': 3}", -1, "{'_id': 1, 'a': 2}"},
		{"{'a': {'$numberDouble': 'NaN'}}", "{'_id': 1, 'a': 2, 'b': 3}", -1, "{'_id': 1, 'a': 2}"},
		/* missing fields stay missing */
		{"{'z': 1}", "{'_id': 1, 'a': 2}", -1, "{'_id': 1}"},
		{"{'a': 1}", "{'a': 2}", -1, "{'a': 2}"},
		/* _id excluded from an inclusion */
		{"{'a': 1, '_id': 0}", "{'_id': 1, 'a': 10, 'b': 20}", -1, "{'a': 10}"},
		{"{'_id': false, 'a': 1}", "{'_id': 1, 'a': 10, 'b': 20}", -1, "{'a': 10}"},
		/* {_id: 1} alone is an inclusion of _id only */
		{"{'_id': 1}", "{'_id': 1, 'a': 10}", -1, "{'_id': 1}"},
		{"{'_id': 1, 'a': 1}", "{'_id': 1, 'a': 10, 'b': 2}", -1, "{'_id': 1, 'a': 10}"},
		/* values of any type are copied as they are */
		{"{'a': 1}", "{'_id': 1, 'a': {'x': [1, {'$numberLong': '2'}]}}", -1,
		"{'_id': 1, 'a': {'x': [1, {'$numberLong': '2'}]}}"},
	};

	RUN_PROJECTIONS(cases);
}

TEST(projection_exclusion)
{
	static const ProjCase cases[] = {
		{"{'a': 0}", "{'_id': 1, 'a': 2, 'b': 3}", -1, "{'_id': 1, 'b': 3}"},
		{"{'a': false, 'b': 0.0}", "{'_id': 1, 'a': 2, 'b': 3, 'c': 4}", -1, "{'_id': 1, 'c': 4}"},
		{"{'a': {'$numberDecimal': '0'}}", "{'_id': 1, 'a': 2, 'b': 3}", -1, "{'_id': 1, 'b': 3}"},
		{"{'_id': 0}", "{'_id': 1, 'a': 2}", -1, "{'a': 2}"},
		{"{'_id': 0, 'a': 0}", "{'_id': 1, 'a': 2, 'b': 3}", -1, "{'b': 3}"},
		/* _id: 1 is allowed in an exclusion and changes nothing */
		{"{'_id': 1, 'a': 0}", "{'_id': 1, 'a': 2, 'b': 3}", -1, "{'_id': 1, 'b': 3}"},
		{"{'a': 0, '_id': 1}", "{'_id': 1, 'a': 2, 'b': 3}", -1, "{'_id': 1, 'b': 3}"},
		{"{}", "{'_id': 1, 'a': 2}", -1, "{'_id': 1, 'a': 2}"},
		{"{'z': 0}", "{'_id': 1, 'a': 2}", -1, "{'_id': 1, 'a': 2}"},
	};

	RUN_PROJECTIONS(cases);
}

TEST(projection_dotted_paths)
{
	static const ProjCase cases[] = {
		{"{'obj.x': 1}", "{'_id': 1, 'obj': {'x': 10, 'y': 20, 'z': 30}}", -1,
		"{'_id': 1, 'obj': {'x': 10}}"},
		{"{'obj.y': 0}", "{'_id': 1, 'obj': {'x': 10, 'y': 20}}", -1,
		"{'_id': 1, 'obj': {'x': 10}}"},
		/* a nested projection object is the same as dotted paths */
		{"{'obj': {'x': 1}}", "{'_id': 1, 'obj': {'x': 10, 'y': 20}}", -1,
		"{'_id': 1, 'obj': {'x': 10}}"},
		{"{'obj': {'y': 0}}", "{'_id': 1, 'obj': {'x': 10, 'y': 20}}", -1,
		"{'_id': 1, 'obj': {'x': 10}}"},
		/* inclusion into a document without the field leaves {} */
		{"{'obj.x': 1}", "{'_id': 1, 'obj': {'y': 20}}", -1, "{'_id': 1, 'obj': {}}"},
		/* inclusion through a scalar drops it; exclusion keeps it */
		{"{'a.b': 1}", "{'_id': 1, 'a': 2}", -1, "{'_id': 1}"},
		{"{'a.b': 0}", "{'_id': 1, 'a': 2}", -1, "{'_id': 1, 'a': 2}"},
		/* through arrays: documents keep b, scalars go (inclusion) */
		{"{'a.b': 1}", "{'_id': 1, 'a': [1, {'b': 2, 'c': 3}, {'c': 4}, 'x']}", -1,
		"{'_id': 1, 'a': [{'b': 2}, {}]}"},
		{"{'a.b': 0}", "{'_id': 1, 'a': [1, {'b': 2, 'c': 3}, {'c': 4}, 'x']}", -1,
		"{'_id': 1, 'a': [1, {'c': 3}, {'c': 4}, 'x']}"},
		/* nested arrays are walked too */
		{"{'a.b': 1}", "{'_id': 1, 'a': [[{'b': 1, 'c': 2}, 3], {'b': 4}]}", -1,
		"{'_id': 1, 'a': [[{'b': 1}], {'b': 4}]}"},
		{"{'a.b': 0}", "{'_id': 1, 'a': [[{'b': 1, 'c': 2}, 3], {'b': 4}]}", -1,
		"{'_id': 1, 'a': [[{'c': 2}, 3], {}]}"},
		{"{'a.b.c': 1}", "{'_id': 1, 'a': {'b': [{'c': 1, 'd': 2}, {'d': 3}], 'e': 4}}", -1,
		"{'_id': 1, 'a': {'b': [{'c': 1}, {}]}}"},
		/* two paths below one prefix */
		{"{'a.b': 1, 'a.c': 1}", "{'_id': 1, 'a': {'c': 1, 'd': 2, 'b': 3}}", -1,
		"{'_id': 1, 'a': {'c': 1, 'b': 3}}"},
		{"{'a.b': 0, 'a.c': 0}", "{'_id': 1, 'a': {'c': 1, 'd': 2, 'b': 3}}", -1,
		"{'_id': 1, 'a': {'d': 2}}"},
		/* _id sub-fields */
		{"{'_id.x': 1}", "{'_id': {'x': 1, 'y': 2}, 'a': 1}", -1, "{'_id': {'x': 1}}"},
		{"{'_id.x': 0}", "{'_id': {'x': 1, 'y': 2}, 'a': 1}", -1, "{'_id': {'y': 2}, 'a': 1}"},
		/* numeric components are field names, not indexes */
		{"{'a.0': 1}", "{'_id': 1, 'a': [{'0': 5, '1': 6}, 7]}", -1, "{'_id': 1, 'a': [{'0': 5}]}"},
	};

	RUN_PROJECTIONS(cases);
}


/* ----------------------------------------------------------------
 *		$slice
 * ----------------------------------------------------------------
 */

TEST(projection_slice)
{
	static const ProjCase cases[] = {
		{"{'arr': {'$slice': 2}}", "{'_id': 1, 'arr': [1, 2, 3, 4, 5], 't': 'x'}", -1,
		"{'_id': 1, 'arr': [1, 2], 't': 'x'}"},
		{"{'arr': {'$slice': -2}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1, "{'_id': 1, 'arr': [2, 3]}"},
		{"{'arr': {'$slice': 5}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1, "{'_id': 1, 'arr': [1, 2, 3]}"},
		{"{'arr': {'$slice': -5}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1, "{'_id': 1, 'arr': [1, 2, 3]}"},
		{"{'arr': {'$slice': 0}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1, "{'_id': 1, 'arr': []}"},
		{"{'arr': {'$slice': 1.5}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1, "{'_id': 1, 'arr': [1]}"},
		{"{'arr': {'$slice': {'$numberDecimal': '2'}}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1,
		"{'_id': 1, 'arr': [1, 2]}"},
		{"{'arr': {'$slice': {'$numberDouble': 'Infinity'}}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1,
		"{'_id': 1, 'arr': [1, 2, 3]}"},
		{"{'arr': {'$slice': {'$numberDouble': '-Infinity'}}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1,
		"{'_id': 1, 'arr': [1, 2, 3]}"},
		{"{'arr': {'$slice': {'$numberDouble': 'NaN'}}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1,
		"{'_id': 1, 'arr': []}"},
		{"{'arr': {'$slice': {'$numberLong': '-9223372036854775808'}}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1,
		"{'_id': 1, 'arr': [1, 2, 3]}"},
		/* [skip, limit] */
		{"{'arr': {'$slice': [1, 2]}}", "{'_id': 1, 'arr': [10, 20, 30, 40]}", -1,
		"{'_id': 1, 'arr': [20, 30]}"},
		{"{'arr': {'$slice': [3, 2]}}", "{'_id': 1, 'arr': [1, 2, 3, 4]}", -1, "{'_id': 1, 'arr': [4]}"},
		{"{'arr': {'$slice': [10, 2]}}", "{'_id': 1, 'arr': [1, 2, 3, 4]}", -1, "{'_id': 1, 'arr': []}"},
		{"{'arr': {'$slice': [-3, 2]}}", "{'_id': 1, 'arr': [1, 2, 3, 4]}", -1, "{'_id': 1, 'arr': [2, 3]}"},
		{"{'arr': {'$slice': [-5, 2]}}", "{'_id': 1, 'arr': [1, 2, 3, 4]}", -1, "{'_id': 1, 'arr': [1, 2]}"},
		{"{'arr': {'$slice': [2147483647, 1]}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1, "{'_id': 1, 'arr': []}"},
		{"{'arr': {'$slice': [-2147483648, 1]}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1, "{'_id': 1, 'arr': [1]}"},
		{"{'arr': {'$slice': [1.5, 1]}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1, "{'_id': 1, 'arr': [2]}"},
		{"{'arr': {'$slice': [0, 1.5]}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1, "{'_id': 1, 'arr': [1]}"},
		/* non-arrays are left alone, missing fields stay missing */
		{"{'arr': {'$slice': 1}}", "{'_id': 1, 'arr': 42}", -1, "{'_id': 1, 'arr': 42}"},
		{"{'arr': {'$slice': 1}}", "{'_id': 1, 'arr': {'n': 'd'}}", -1, "{'_id': 1, 'arr': {'n': 'd'}}"},
		{"{'arr': {'$slice': 1}}", "{'_id': 1, 'other': 'v'}", -1, "{'_id': 1, 'other': 'v'}"},
		/* elements of any type, nested arrays whole */
		{"{'arr': {'$slice': -1}}", "{'_id': 1, 'arr': [[1, 2], [3, 4]]}", -1, "{'_id': 1, 'arr': [[3, 4]]}"},
		/* in an inclusion, the sliced field is included */
		{"{'arr': {'$slice': 1}, 'a': 1}", "{'_id': 1, 'arr': [1, 2], 'a': 'x', 'b': 'y'}", -1,
		"{'_id': 1, 'arr': [1], 'a': 'x'}"},
		{"{'d.c': {'$slice': 2}, '_id': 1}", "{'_id': 1, 'd': {'c': [1, 2, 3], 's': 'L'}}", -1,
		"{'_id': 1, 'd': {'c': [1, 2]}}"},
		/* in an exclusion, everything else stays */
		{"{'d.c': {'$slice': 1}}", "{'_id': 1, 'd': {'c': [1, 2, 3], 's': 'L'}, 'x': 1}", -1,
		"{'_id': 1, 'd': {'c': [1], 's': 'L'}, 'x': 1}"},
		{"{'arr': {'$slice': 1}, 'x': 0}", "{'_id': 1, 'arr': [1, 2], 'x': 1, 'y': 2}", -1,
		"{'_id': 1, 'arr': [1], 'y': 2}"},
		/* through arrays of documents */
		{"{'items.tags': {'$slice': 1}}",
			"{'_id': 1, 'items': [{'n': 'a', 'tags': ['x', 'y']}, {'n': 'b', 'tags': ['p', 'q']}, 5]}", -1,
		"{'_id': 1, 'items': [{'n': 'a', 'tags': ['x']}, {'n': 'b', 'tags': ['p']}, 5]}"},
		{"{'a.b': {'$slice': 1}, 'a.c': {'$slice': -1}}", "{'_id': 1, 'a': {'b': [1, 2], 'c': [4, 5], 'd': 'k'}}", -1,
		"{'_id': 1, 'a': {'b': [1], 'c': [5], 'd': 'k'}}"},
		{"{'a.b.c.d.e': {'$slice': 2}}", "{'_id': 1, 'a': {'b': {'c': {'d': {'e': [1, 2, 3]}}}}}", -1,
		"{'_id': 1, 'a': {'b': {'c': {'d': {'e': [1, 2]}}}}}"},
		/* the aggregation form: [array, n] when find() syntax does not apply */
		{"{'arr': {'$slice': [['a', 'b', 'c'], 2]}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1,
		"{'_id': 1, 'arr': ['a', 'b']}"},
		{"{'arr': {'$slice': [null, 2]}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1, "{'_id': 1, 'arr': null}"},
		{"{'arr': {'$slice': [0, null]}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1, "{'_id': 1, 'arr': null}"},
		{"{'s': {'$slice': ['$arr', -1]}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1, "{'_id': 1, 's': [3]}"},
		{"{'s': {'$slice': ['$arr', 1, 1]}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1, "{'_id': 1, 's': [2]}"},
		{"{'s': {'$slice': ['$arr', -2, 5]}}", "{'_id': 1, 'arr': [1, 2, 3]}", -1, "{'_id': 1, 's': [2, 3]}"},
	};

	RUN_PROJECTIONS(cases);
}

TEST(projection_slice_errors)
{
	static const ProjErrorCase errors[] = {
		{"{'arr': {'$slice': 'x'}}", 28667, "Invalid $slice syntax"},
		{"{'arr': {'$slice': true}}", 28667, NULL},
		{"{'arr': {'$slice': null}}", 28667, NULL},
		{"{'arr': {'$slice': {'k': 'v'}}}", 28667, NULL},
		{"{'arr': {'$slice': {'$date': '2020-01-01T00:00:00Z'}}}", 28667, NULL},
		{"{'arr': {'$slice': [1]}}", 28667, "but 1 were passed in"},
		{"{'arr': {'$slice': []}}", 28667, NULL},
		{"{'arr': {'$slice': [1, 2, 3, 4]}}", 28667, NULL},
		/* collisions */
		{"{'instock': {'$slice': 1}, 'instock.warehouse': 1}", 31249,
		"Path collision at instock.warehouse remaining portion warehouse"},
		{"{'arr': {'$slice': 1}, 'arr.$': 1}", 31250, "Path collision at arr"},
		{"{'grades.$': 1, 'grades': {'$slice': 1}}", 28667, NULL},
		/* two keys in the operator object: a nested projection with a "$" field */
		{"{'arr': {'$slice': 1, '$elemMatch': {}}}", 16410, NULL},
	};
	static const ProjApplyErrorCase apply_errors[] = {
		/* not find() syntax, so the aggregation $slice, which fails on a document */
		{"{'arr': {'$slice': [1, 2, 3]}}", "{'_id': 1, 'arr': [1]}", -1, 28724},
		{"{'arr': {'$slice': [0, -1]}}", "{'_id': 1, 'arr': [1]}", -1, 28724},
		{"{'arr': {'$slice': [0, 0]}}", "{'_id': 1, 'arr': [1]}", -1, 28724},
		{"{'arr': {'$slice': [0, 0.5]}}", "{'_id': 1, 'arr': [1]}", -1, 28724},
		{"{'arr': {'$slice': ['h', 'h']}}", "{'_id': 1, 'arr': [1]}", -1, 28724},
		{"{'arr': {'$slice': [{'k': 'v'}, {'k': 'v'}]}}", "{'_id': 1, 'arr': [1]}", -1, 28724},
		{"{'arr': {'$slice': [0, 'b']}}", "{'_id': 1, 'arr': [1]}", -1, 28724},
		{"{'s': {'$slice': ['$arr', 'b']}}", "{'_id': 1, 'arr': [1]}", -1, 28725},
		{"{'s': {'$slice': ['$arr', 1.5]}}", "{'_id': 1, 'arr': [1]}", -1, 28726},
		{"{'s': {'$slice': ['$arr', 0, 0]}}", "{'_id': 1, 'arr': [1]}", -1, 28729},
	};

	RUN_COMPILE_ERRORS(errors);
	RUN_APPLY_ERRORS(apply_errors);
}


/* ----------------------------------------------------------------
 *		$elemMatch
 * ----------------------------------------------------------------
 */

TEST(projection_elem_match)
{
	static const ProjCase cases[] = {
		{"{'arr': {'$elemMatch': {'x': {'$gt': 3}}}}", "{'_id': 1, 'arr': [{'x': 1}, {'x': 5}, {'x': 10}]}", -1,
		"{'_id': 1, 'arr': [{'x': 5}]}"},
		{"{'arr': {'$elemMatch': {'x': 1, 'y': 2}}}", "{'_id': 1, 'arr': [{'x': 1, 'y': 9}, {'x': 1, 'y': 2}]}", -1,
		"{'_id': 1, 'arr': [{'x': 1, 'y': 2}]}"},
		/* no match, or not an array: the field goes */
		{"{'arr': {'$elemMatch': {'x': 1, 'y': 2}}}", "{'_id': 1, 'arr': [{'x': 1, 'y': 9}, {'x': 3, 'y': 2}]}", -1,
		"{'_id': 1}"},
		{"{'arr': {'$elemMatch': {'$gte': 1}}}", "{'_id': 1, 'arr': []}", -1, "{'_id': 1}"},
		{"{'arr': {'$elemMatch': {'$gte': 1}}}", "{'_id': 1, 'arr': 42}", -1, "{'_id': 1}"},
		{"{'arr': {'$elemMatch': {'$gte': 1}}}", "{'_id': 1, 'arr': {'x': 1}}", -1, "{'_id': 1}"},
		/* scalars: the value form */
		{"{'tags': {'$elemMatch': {'$eq': 'b'}}}", "{'_id': 1, 'tags': ['a', 'b', 'c']}", -1,
		"{'_id': 1, 'tags': ['b']}"},
		{"{'s': {'$elemMatch': {'$gte': 80, '$lt': 85}}}", "{'_id': 2, 's': [75, 88, 89]}", -1, "{'_id': 2}"},
		{"{'s': {'$elemMatch': {'$gte': 80, '$lt': 85}}}", "{'_id': 1, 's': [82, 85, 88]}", -1, "{'_id': 1, 's': [82]}"},
		/* a field name does not match scalars */
		{"{'tags': {'$elemMatch': {'sport': 'b'}}}", "{'_id': 1, 'tags': ['b', 'c']}", -1, "{'_id': 1}"},
		/* {} matches the first document or array */
		{"{'arr': {'$elemMatch': {}}}", "{'_id': 1, 'arr': [42, 'h', [1, 2], {'x': 1}]}", -1,
		"{'_id': 1, 'arr': [[1, 2]]}"},
		/* numbers compare across types; the element keeps its own */
		{"{'arr': {'$elemMatch': {'$eq': 5}}}", "{'_id': 1, 'arr': [5.0]}", -1, "{'_id': 1, 'arr': [5.0]}"},
		/* $elemMatch alone is an inclusion */
		{"{'arr': {'$elemMatch': {'$gte': 2}}}", "{'_id': 1, 'arr': [1, 2, 3], 'name': 'A'}", -1,
		"{'_id': 1, 'arr': [2]}"},
		/* with inclusions: appended after them, as a computed field */
		{"{'arr': {'$elemMatch': {'$gte': 2}}, 'name': 1}", "{'_id': 1, 'arr': [1, 2, 3], 'name': 'A', 'age': 3}", -1,
		"{'_id': 1, 'name': 'A', 'arr': [2]}"},
		/* with exclusions: in place */
		{"{'arr': {'$elemMatch': {'$gte': 2}}, 'city': 0}", "{'_id': 1, 'arr': [1, 2, 3], 'name': 'A', 'city': 'N'}", -1,
		"{'_id': 1, 'arr': [2], 'name': 'A'}"},
		{"{'arr': {'$elemMatch': {'$gte': 2}}, '_id': 0}", "{'_id': 1, 'arr': [1, 2, 3], 'name': 'A'}", -1,
		"{'arr': [2]}"},
		/* on _id, which is then not included by default */
		{"{'_id': {'$elemMatch': {'$gte': 1}}}", "{'_id': 1, 'x': 'h'}", -1, "{}"},
		{"{'a': {'$elemMatch': {'$gte': 2}}, 'b': {'$elemMatch': {'$gte': 20}}}",
			"{'_id': 1, 'a': [1, 2, 3], 'b': [10, 20, 30]}", -1, "{'_id': 1, 'a': [2], 'b': [20]}"},
		{"{'arr': {'$elemMatch': {'x': null}}}", "{'_id': 1, 'arr': [{'x': 5}, {'x': null}, {'a': 1}]}", -1,
		"{'_id': 1, 'arr': [{'x': null}]}"},
		{"{'arr': {'$elemMatch': {'x': {'$exists': false}}}}", "{'_id': 1, 'arr': [{'x': 1}, {'a': 5}]}", -1,
		"{'_id': 1, 'arr': [{'a': 5}]}"},
		{"{'arr': {'$elemMatch': {'$or': [{'x': 1}, {'x': 10}]}}}",
			"{'_id': 1, 'arr': [{'x': 5}, {'x': 10, 'y': 'c'}, {'x': 1}]}", -1,
		"{'_id': 1, 'arr': [{'x': 10, 'y': 'c'}]}"},
		{"{'arr': {'$elemMatch': {'s': {'$elemMatch': {'$gte': 10}}}}}",
			"{'_id': 1, 'arr': [{'s': [1, 2]}, {'s': [10, 20]}]}", -1, "{'_id': 1, 'arr': [{'s': [10, 20]}]}"},
		{"{'arr1': {'$slice': 1}, 'arr2': {'$elemMatch': {'x': 2}}}",
			"{'_id': 1, 'arr1': [1, 2, 3], 'arr2': [{'x': 1}, {'x': 2}]}", -1,
		"{'_id': 1, 'arr1': [1], 'arr2': [{'x': 2}]}"},
	};
	static const ProjErrorCase errors[] = {
		{"{'arr': {'$elemMatch': null}}", 31274, "elemMatch: Invalid argument, object required"},
		{"{'arr': {'$elemMatch': 5}}", 31274, NULL},
		{"{'arr': {'$elemMatch': []}}", 31274, NULL},
		{"{'arr': {'$elemMatch': 'x'}}", 31274, NULL},
		{"{'a.b': {'$elemMatch': {'$gt': 0}}}", 31275, "nested field"},
		{"{'a': {'b': {'$elemMatch': {'$gt': 0}}}}", 31275, NULL},
		{"{'$foo': {'$elemMatch': {'$gt': 0}}}", 16410, NULL},
		{"{'a..b': {'$elemMatch': {'$gt': 0}}}", 15998, NULL},
		{"{'arr': {'$elemMatch': {'$gte': 2}, '$slice': 1}}", 16410, NULL},
		{"{'arr': {'$elemMatch': {'$gte': 2}, 'extra': 1}}", 16410, NULL},
		{"{'other.$': 1, 'arr': {'$elemMatch': {'$gte': 2}}}", 31255, NULL},
		{"{'arr': {'$elemMatch': {'$gte': 2}}, 'other.$': 1}", 31256, NULL},
		{"{'arr': {'$elemMatch': {'$where': 'this.x == 1'}}}", 2, NULL},
		{"{'arr': {'$elemMatch': {'$expr': {'$eq': ['$x', 1]}}}}", 2, NULL},
		{"{'arr': {'$elemMatch': {'$text': {'$search': 'x'}}}}", 2, NULL},
		{"{'arr': {'$elemMatch': {'$sampleRate': 0.5}}}", 2, NULL},
		{"{'arr': {'$elemMatch': {'$rand': {}}}}", 2, NULL},
		{"{'arr': {'$elemMatch': {'$or': []}}}", 2, NULL},
		{"{'arr': {'$elemMatch': {'loc': {'$near': [0, 0]}}}}", 5626500, NULL},
		{"{'arr': {'$elemMatch': {'loc': {'$nearSphere': [0, 0]}}}}", 5626500, NULL},
		{"{'arr': {'$elemMatch': {'x': {'$foo': 1}}}}", 2, NULL},
	};

	RUN_PROJECTIONS(cases);
	RUN_COMPILE_ERRORS(errors);
}


/* ----------------------------------------------------------------
 *		The positional operator
 * ----------------------------------------------------------------
 */

TEST(projection_positional)
{
	static const ProjCase cases[] = {
		{"{'arr.$': 1}", "{'_id': 1, 'arr': [10, 20, 30], 'x': 1}", 1, "{'_id': 1, 'arr': [20]}"},
		{"{'arr.$': true}", "{'_id': 1, 'arr': [10, 20, 30]}", 0, "{'_id': 1, 'arr': [10]}"},
		{"{'arr.$': 1.0}", "{'_id': 1, 'arr': [10, 20, 30]}", 2, "{'_id': 1, 'arr': [30]}"},
		{"{'arr.$': {'$numberDecimal': '1'}}", "{'_id': 1, 'arr': [10, 20, 30]}", 2, "{'_id': 1, 'arr': [30]}"},
		{"{'s.$': 1}", "{'_id': 1, 's': [{'n': 'A', 'v': 70}, {'n': 'B', 'v': 85}]}", 1,
		"{'_id': 1, 's': [{'n': 'B', 'v': 85}]}"},
		{"{'arr.$': 1, '_id': 0}", "{'_id': 1, 'arr': [10, 20, 30]}", 1, "{'arr': [20]}"},
		{"{'arr.$': 1, 'name': 1}", "{'_id': 1, 'arr': [10, 20], 'name': 't', 'e': 'x'}", 1,
		"{'_id': 1, 'arr': [20], 'name': 't'}"},
		/* not an array: the value as it is; missing: missing */
		{"{'name.$': 1}", "{'_id': 1, 'name': 'test'}", -1, "{'_id': 1, 'name': 'test'}"},
		{"{'arr.$': 1}", "{'_id': 1, 'arr': null}", -1, "{'_id': 1, 'arr': null}"},
		{"{'arr.$': 1}", "{'_id': 1, 'other': 'v'}", -1, "{'_id': 1}"},
		/* dotted: the first array on the path */
		{"{'x.y.$': 1}", "{'_id': 1, 'x': {'y': [10, 20, 30]}}", 1, "{'_id': 1, 'x': {'y': [20]}}"},
		{"{'x.y.$': 1}", "{'_id': 1, 'x': {'other': 'v'}}", -1, "{'_id': 1, 'x': {}}"},
		{"{'x.y.$': 1}", "{'_id': 1, 'x': {'y': 's'}}", -1, "{'_id': 1, 'x': {'y': 's'}}"},
		{"{'a.b.$': 1}", "{'_id': 1, 'a': {'b': [10, 20, 30], 'c': [100, 200, 300]}}", 1,
		"{'_id': 1, 'a': {'b': [20]}}"},
		{"{'l1.l2.items.$': 1}", "{'_id': 1, 'l1': {'l2': {'items': [100, 200, 300]}}}", 1,
		"{'_id': 1, 'l1': {'l2': {'items': [200]}}}"},
		/* an array of documents on the path: its matching element, narrowed */
		{"{'a.b.$': 1}", "{'_id': 1, 'a': [{'b': 1, 'c': 2}, {'b': 3, 'c': 4}]}", 1,
		"{'_id': 1, 'a': [{'b': 3}]}"},
		/* nested arrays: the element is an array */
		{"{'arr.$': 1}", "{'_id': 1, 'arr': [[1, 2], [3, 4]]}", 1, "{'_id': 1, 'arr': [[3, 4]]}"},
		/* with $slice on another field */
		{"{'a.$': 1, 'b': {'$slice': 2}}", "{'_id': 1, 'a': [1, 2, 3, 4], 'b': [10, 20, 30]}", 2,
		"{'_id': 1, 'a': [3], 'b': [10, 20]}"},
	};
	static const ProjErrorCase errors[] = {
		{"{'arr.$': 'hello'}", 31308, NULL},
		{"{'arr.$': ['a']}", 31308, NULL},
		{"{'arr.$': null}", 31308, NULL},
		{"{'arr.$': {'$oid': '000000000000000000000000'}}", 31308, NULL},
		{"{'arr.$': {'$minKey': 1}}", 31308, NULL},
		{"{'arr.$': {'key': 'value'}}", 31271, NULL},
		{"{'a.$': 1, 'b.$': 1}", 31276, "more than one positional"},
		{"{'a.$': 1, 'b': 0}", 31254, "Cannot do exclusion on field b in inclusion projection"},
		{"{'b': 0, 'a.$': 1}", 31253, "Cannot do inclusion on field a in exclusion projection"},
		{"{'arr.$': 1, 'arr': {'$elemMatch': {'x': 2}}}", 31255, NULL},
		{"{'arr.$': 1, 'arr.y': 1}", 31249, "Path collision at arr.y remaining portion y"},
		{"{'arr.$': 1, 'arr': 1}", 31250, NULL},
		{"{'$': 1}", 16410, NULL},
		{"{'a.$.b': 1}", 31394, "middle of a path"},
		{"{'a.$.$': 1}", 31394, NULL},
		{"{'$.a': 1}", 16410, NULL},
		{"{'arr.$': 0}", 31395, NULL},
	};
	static const ProjApplyErrorCase apply_errors[] = {
		{"{'arr.$': 1}", "{'_id': 1, 'arr': [1, 2, 3]}", -1, 51246},
		{"{'arr.$': 1}", "{'_id': 1, 'arr': []}", -1, 51246},
		{"{'b.$': 1}", "{'_id': 1, 'a': [1, 2, 3, 4, 5], 'b': [10, 20]}", 4, 51247},
		{"{'x.y.$': 1}", "{'_id': 1, 'x': {'y': [1]}}", 1, 51247},
	};
	BsonQueryError error;
	BsonProjection *p;

	RUN_PROJECTIONS(cases);
	RUN_COMPILE_ERRORS(errors);
	RUN_APPLY_ERRORS(apply_errors);

	p = Compile("{'a.$': 1}", &error, __FILE__, __LINE__);
	CHECK(p != NULL && BsonProjectionNeedsPosition(p) && BsonProjectionIsInclusion(p));
	BsonProjectionFree(p);
	p = Compile("{'a': 1}", &error, __FILE__, __LINE__);
	CHECK(p != NULL && !BsonProjectionNeedsPosition(p));
	BsonProjectionFree(p);
}


/* ----------------------------------------------------------------
 *		Literals, "$path" values and expressions
 * ----------------------------------------------------------------
 */

TEST(projection_computed)
{
	static const ProjCase cases[] = {
		{"{'_id': 1, 'val': {'$literal': 1}}", "{'_id': 1, 'a': 10}", -1, "{'_id': 1, 'val': 1}"},
		{"{'v': {'$literal': '$a'}}", "{'_id': 1, 'a': 10}", -1, "{'_id': 1, 'v': '$a'}"},
		{"{'v': {'$literal': {'x': 1}}}", "{'_id': 1}", -1, "{'_id': 1, 'v': {'x': 1}}"},
		/* strings, null and other non-numbers are literals */
		{"{'v': 'hello'}", "{'_id': 1, 'a': 10}", -1, "{'_id': 1, 'v': 'hello'}"},
		{"{'v': null}", "{'_id': 1}", -1, "{'_id': 1, 'v': null}"},
		{"{'v': {'$oid': '000000000000000000000001'}}", "{'_id': 1}", -1,
		"{'_id': 1, 'v': {'$oid': '000000000000000000000001'}}"},
		{"{'v': [1, 'x', '$a', '$zz']}", "{'_id': 1, 'a': 10}", -1, "{'_id': 1, 'v': [1, 'x', 10, null]}"},
		{"{'v': [{'k': '$a', 'm': '$zz'}]}", "{'_id': 1, 'a': 10}", -1, "{'_id': 1, 'v': [{'k': 10}]}"},
		/* field paths */
		{"{'v': '$a'}", "{'_id': 1, 'a': 10}", -1, "{'_id': 1, 'v': 10}"},
		{"{'v': '$a.b'}", "{'_id': 1, 'a': {'b': 'x'}}", -1, "{'_id': 1, 'v': 'x'}"},
		{"{'v': '$zz'}", "{'_id': 1, 'a': 10}", -1, "{'_id': 1}"},
		{"{'v': '$a.b'}", "{'_id': 1, 'a': [{'b': 1}, {'c': 2}, 3, {'b': 4}, [{'b': 5}]]}", -1,
		"{'_id': 1, 'v': [1, 4]}"},
		{"{'v': '$$ROOT'}", "{'_id': 1, 'a': 10}", -1, "{'_id': 1, 'v': {'_id': 1, 'a': 10}}"},
		{"{'v': '$$CURRENT.a'}", "{'_id': 1, 'a': 10}", -1, "{'_id': 1, 'v': 10}"},
		{"{'v': '$$REMOVE'}", "{'_id': 1, 'a': 10}", -1, "{'_id': 1}"},
		/* computed fields replace a field in place, or are appended */
		{"{'b': 'new', 'a': 1}", "{'_id': 1, 'b': 'old', 'a': 2}", -1, "{'_id': 1, 'a': 2, 'b': 'new'}"},
		{"{'_id': 'x'}", "{'_id': 1, 'a': 2}", -1, "{'_id': 'x'}"},
		/* dotted computed paths */
		{"{'a.b': 'lit'}", "{'_id': 1, 'a': {'c': 1}}", -1, "{'_id': 1, 'a': {'b': 'lit'}}"},
		{"{'a.b': 'lit'}", "{'_id': 1, 'a': 5}", -1, "{'_id': 1, 'a': {'b': 'lit'}}"},
		{"{'a.b': 'lit'}", "{'_id': 1}", -1, "{'_id': 1, 'a': {'b': 'lit'}}"},
		/* the inclusion pass drops the scalar first, as in MongoDB */
		{"{'a.b': 'lit'}", "{'_id': 1, 'a': [{'b': 1}, 2, {'c': 3}]}", -1,
		"{'_id': 1, 'a': [{'b': 'lit'}, {'b': 'lit'}]}"},
		{"{'a.b': 1, 'a.c': 'lit'}", "{'_id': 1, 'a': {'c': 1, 'b': 2, 'd': 3}}", -1,
		"{'_id': 1, 'a': {'b': 2, 'c': 'lit'}}"},
		{"{'a': {'b': 1, 'c': '$x'}}", "{'_id': 1, 'x': 7, 'a': {'b': 2, 'd': 3}}", -1,
		"{'_id': 1, 'a': {'b': 2, 'c': 7}}"},
		/* operators, through the expression engine (expr.c) */
		{"{'v': {'$add': [1, 2]}}", "{'_id': 1}", -1, "{'_id': 1, 'v': 3}"},
		{"{'v': {'$cond': [{'$gt': ['$a', 1]}, 'big', 'small']}}", "{'_id': 1, 'a': 5}", -1,
		"{'_id': 1, 'v': 'big'}"},
		{"{'v': {'$let': {'vars': {'x': 2}, 'in': {'$multiply': ['$$x', '$a']}}}}",
		"{'_id': 1, 'a': 5}", -1, "{'_id': 1, 'v': 10}"},
		{"{'v': {'$ifNull': ['$nope', '$$REMOVE']}}", "{'_id': 1}", -1, "{'_id': 1}"},
		/* exact decimal128 division and rounding */
		{"{'v': {'$divide': [{'$numberDecimal': '10'}, {'$numberDecimal': '2'}]}}", "{'_id': 1}", -1,
		"{'_id': 1, 'v': {'$numberDecimal': '5'}}"},
		{"{'v': {'$divide': [{'$numberDecimal': '1'}, 3]}}", "{'_id': 1}", -1,
		"{'_id': 1, 'v': {'$numberDecimal': '0.3333333333333333333333333333333333'}}"},
		{"{'v': {'$ceil': {'$numberDecimal': '1.2'}}}", "{'_id': 1}", -1,
		"{'_id': 1, 'v': {'$numberDecimal': '2'}}"},
		{"{'v': {'$floor': {'$numberDecimal': '-1.2'}}}", "{'_id': 1}", -1,
		"{'_id': 1, 'v': {'$numberDecimal': '-2'}}"},
		{"{'v': {'$round': [{'$numberDecimal': '2.5'}, 0]}}", "{'_id': 1}", -1,
		"{'_id': 1, 'v': {'$numberDecimal': '2'}}"},
		{"{'v': {'$round': [{'$numberDecimal': '3.5'}, 0]}}", "{'_id': 1}", -1,
		"{'_id': 1, 'v': {'$numberDecimal': '4'}}"},
		{"{'v': {'$trunc': [{'$numberDecimal': '3.789'}, 2]}}", "{'_id': 1}", -1,
		"{'_id': 1, 'v': {'$numberDecimal': '3.78'}}"},
		{"{'v': {'$add': ['$a.b', 1]}}", "{'_id': 1, 'a': {'b': 2147483647}}", -1,
		"{'_id': 1, 'v': {'$numberLong': '2147483648'}}"},
	};
	static const ProjErrorCase errors[] = {
		{"{'v': {'$function': {'body': 'x', 'args': [], 'lang': 'js'}}}", 238, "$function"},
		{"{'v': {'$add': [1, {'$nosuch': 1}]}}", 168, "$nosuch"},
		{"{'v': {'$add': ['$$undefinedvar', 1]}}", 17276, NULL},
		{"{'v': {'$subtract': [1]}}", 16020, NULL},
		{"{'v': {'$meta': 'textScore'}}", 238, "$meta"},
		{"{'v': [{'$function': {}}]}", 238, NULL},
		{"{'v': {'$literal': 1, '$x': 2}}", 16410, NULL},
		{"{'v': '$'}", 16872, NULL},
		{"{'v': '$a..b'}", 15998, NULL},
		{"{'v': '$$NOW'}", 238, NULL},
		{"{'v': '$$nope'}", 17276, NULL},
		{"{'a': 0, 'v': 'x'}", 31252, NULL},
		{"{'v': 'x', 'a': 0}", 31254, NULL},
		{"{'v': {}}", 51270, NULL},
	};

	RUN_PROJECTIONS(cases);
	RUN_COMPILE_ERRORS(errors);
}


/* ----------------------------------------------------------------
 *		Errors of shape
 * ----------------------------------------------------------------
 */

TEST(projection_errors)
{
	static const ProjErrorCase errors[] = {
		{"{'a': 1, 'b': 0}", 31254, "Cannot do exclusion on field b in inclusion projection"},
		{"{'a': 0, 'b': 1}", 31253, "Cannot do inclusion on field b in exclusion projection"},
		{"{'a.c': 1, 'b.d': 0}", 31254, "field b.d"},
		{"{'a': 1, 'a.b': 1}", 31249, "Path collision at a.b remaining portion b"},
		{"{'a.b': 1, 'a': 1}", 31250, "Path collision at a"},
		{"{'a': 1, 'a.b.c': 1}", 31249, "Path collision at a.b.c remaining portion b.c"},
		{"{'x.a': 1, 'x.a.b.c': 1}", 31249, "Path collision at a.b.c remaining portion b.c"},
		{"{'a': 1, 'a': 1}", 31250, NULL},
		{"{'a': {'b': 1}, 'a.b': 1}", 31250, NULL},
		{"{'': 1}", 40352, NULL},
		{"{'a.': 1}", 40353, NULL},
		{"{'.a': 1}", 15998, NULL},
		{"{'a..b': 1}", 15998, NULL},
		{"{'$a': 1}", 16410, NULL},
		{"{'a.$b': 1}", 16410, NULL},
		{"{'a': {'$b': 1, 'c': 1}}", 16410, NULL},
		{"{'a': {}}", 51270, NULL},
	};

	RUN_COMPILE_ERRORS(errors);
}

TEST(projection_memory)
{
	/* compile and apply many times: the sanitizers report any leak */
	const char *specs[] = {
		"{'a.b': 1, 'c': {'$slice': [1, 2]}, 'd': {'$elemMatch': {'x': {'$regex': '^a'}}}}",
		"{'a.b': 0, 'c': {'$slice': -1}}",
		"{'a.$': 1, 'v': [1, '$a', {'k': '$b'}]}",
		"{'a': 1, 'b': 0}",
		"{'arr': {'$elemMatch': {'$foo': 1}}}",
	};
	const char *doc = "{'_id': 1, 'a': [{'b': 1, 'c': 2}, 3], 'b': 'x', 'c': [1, 2, 3], "
		"'d': [{'x': 'abc'}, {'x': 'b'}]}";
	bson_t	   *d = ParseJsonQ(doc, __FILE__, __LINE__);

	for (size_t i = 0; i < lengthof(specs); i++)
	{
		BsonQueryError error;
		BsonProjection *p = Compile(specs[i], &error, __FILE__, __LINE__);
		bson_t		out;

		if (p == NULL)
		{
			CHECK(error.message != NULL);
			pfree(error.message);
			continue;
		}
		for (int round = 0; round < 3; round++)
		{
			if (!BsonProjectionApply(p, bson_get_data(d), d->len, 0, &out, &error))
				pfree(error.message);
			bson_destroy(&out);
		}
		BsonProjectionFree(p);
	}
	bson_destroy(d);
}
