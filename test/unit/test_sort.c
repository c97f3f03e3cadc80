/*-------------------------------------------------------------------------
 *
 * test_sort.c
 *	  Unit tests of MongoDB sort specifications and sort keys (src/sort.c):
 *	  validation and its error codes, the key of a document for a path
 *	  (arrays, missing fields, empty arrays, nested arrays), and the order
 *	  of documents under compound sorts.
 *
 * Documents are Extended JSON with single quotes.  Expectations follow
 * MongoDB 8 (its documented comparison/sort order and the recorded cases).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "bson_json.h"
#include "lib/stringinfo.h"
#include "sort.h"
#include "unit.h"

/* A sort document that must not compile */
typedef struct SortErrorCase
{
	const char *spec;
	int			code;
} SortErrorCase;

/* The sort key of a document for a path: expected as {'k': value} */
typedef struct SortKeyCase
{
	const char *doc;
	const char *path;
	bool		descending;
	const char *expected;
} SortKeyCase;

/* Documents listed in the order a sort must put them */
typedef struct SortOrderCase
{
	const char *spec;
	const char *docs[6];		/* NULL-terminated, already sorted */
} SortOrderCase;

/*
 * ParseJsonS
 *		A document from single-quoted Extended JSON, or NULL.
 */
static bson_t *
ParseJsonS(const char *json, const char *file, int line)
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
 * CompileSort
 *		Compile a sort from JSON (NULL with *error on failure).
 */
static BsonSortSpec *
CompileSort(const char *json, BsonQueryError *error, const char *file, int line)
{
	bson_t	   *spec = ParseJsonS(json, file, line);
	BsonSortSpec *s;

	error->message = NULL;
	if (spec == NULL)
		return NULL;
	s = BsonSortCompile(bson_get_data(spec), spec->len, error);
	bson_destroy(spec);
	return s;
}

TEST(sort_compile)
{
	BsonQueryError error;
	BsonSortSpec *s;

	s = CompileSort("{'a': 1, 'b.c': -1, 'd': 1.0, 'e': {'$numberLong': '-1'}, "
					"'f': {'$numberDecimal': '1.00'}, 'g': -1.0}", &error, __FILE__, __LINE__);
	CHECK(s != NULL);
	if (s != NULL)
	{
		CHECK_EQ(BsonSortFieldCount(s), 6);
		CHECK_STR_EQ(BsonSortFieldPath(s, 0), "a");
		CHECK(!BsonSortFieldDescending(s, 0));
		CHECK_STR_EQ(BsonSortFieldPath(s, 1), "b.c");
		CHECK(BsonSortFieldDescending(s, 1));
		CHECK(!BsonSortFieldDescending(s, 2));
		CHECK(BsonSortFieldDescending(s, 3));
		CHECK(!BsonSortFieldDescending(s, 4));
		CHECK(BsonSortFieldDescending(s, 5));
		CHECK(!BsonSortIsNatural(s));
		BsonSortFree(s);
	}

	s = CompileSort("{}", &error, __FILE__, __LINE__);
	CHECK(s != NULL && BsonSortFieldCount(s) == 0);
	BsonSortFree(s);

	s = CompileSort("{'$natural': -1}", &error, __FILE__, __LINE__);
	CHECK(s != NULL && BsonSortIsNatural(s) && BsonSortNaturalDirection(s) == -1 &&
		  BsonSortFieldCount(s) == 0);
	BsonSortFree(s);

	s = CompileSort("{'$natural': 1, 'x': 1}", &error, __FILE__, __LINE__);
	CHECK(s != NULL && BsonSortIsNatural(s) && BsonSortNaturalDirection(s) == 1 &&
		  BsonSortFieldCount(s) == 1);
	BsonSortFree(s);
}

TEST(sort_compile_errors)
{
	static const SortErrorCase cases[] = {
		{"{'a': 0}", 15975},
		{"{'a': 2}", 15975},
		{"{'a': -2}", 15975},
		{"{'a': 0.5}", 15975},
		{"{'a': -0.0}", 15975},
		{"{'a': {'$numberDouble': 'NaN'}}", 15975},
		{"{'a': {'$numberDecimal': '1.5'}}", 15975},
		{"{'$natural': 0}", 15975},
		{"{'a': 'asc'}", 15974},
		{"{'a': true}", 15974},
		{"{'a': null}", 15974},
		{"{'a': [1]}", 15974},
		{"{'a': {'$date': '2020-01-01T00:00:00Z'}}", 15974},
		{"{'a': {'$oid': '000000000000000000000001'}}", 15974},
		{"{'a': {'$foo': 1}}", 17312},
		{"{'a': {'$meta': 'textScore', 'b': 1}}", 17312},
		{"{'a': {'$meta': 'textScore'}}", 238},
		{"{'a': {'$meta': 'searchScore'}}", 238},
		{"{'a': {'$meta': 'unknown'}}", 31138},
		{"{'a': {'$meta': 'indexKey'}}", 31138},
		{"{'a': {'$meta': ''}}", 31138},
		{"{'a': {'$meta': 1}}", 31138},
		{"{'': 1}", 40352},
		{"{'a.': 1}", 40353},
		{"{'.a': 1}", 15998},
		{"{'a..b': 1}", 15998},
		{"{'$a': 1}", 16410},
		{"{'a.$b': 1}", 16410},
		{"{'$': 1}", 16410},
		{"{'a': 1, 'a': -1}", 7472500},
	};
	StringInfoData many;

	for (size_t i = 0; i < lengthof(cases); i++)
	{
		BsonQueryError error;
		BsonSortSpec *s = CompileSort(cases[i].spec, &error, __FILE__, __LINE__);

		UnitChecks++;
		if (s != NULL)
		{
			UnitFail(__FILE__, __LINE__, "%s: compiled, expected %d", cases[i].spec,
					 cases[i].code);
			BsonSortFree(s);
		}
		else if (error.message != NULL)
		{
			if (error.code != cases[i].code || error.code_name == NULL)
				UnitFail(__FILE__, __LINE__, "%s: error %d (%s), expected %d",
						 cases[i].spec, error.code, error.message, cases[i].code);
			pfree(error.message);
		}
	}

	/* 33 fields, and a path of 201 components */
	initStringInfo(&many);
	appendStringInfoChar(&many, '{');
	for (int i = 0; i < 33; i++)
		appendStringInfo(&many, "%s'f%d': 1", i > 0 ? ", " : "", i);
	appendStringInfoChar(&many, '}');
	{
		BsonQueryError error;
		BsonSortSpec *s = CompileSort(many.data, &error, __FILE__, __LINE__);

		CHECK(s == NULL && error.code == 13103);
		if (error.message)
			pfree(error.message);
	}
	resetStringInfo(&many);
	appendStringInfoString(&many, "{'a");
	for (int i = 0; i < 200; i++)
		appendStringInfoString(&many, ".a");
	appendStringInfoString(&many, "': 1}");
	{
		BsonQueryError error;
		BsonSortSpec *s = CompileSort(many.data, &error, __FILE__, __LINE__);

		CHECK(s == NULL && error.code == 15);
		if (error.message)
			pfree(error.message);
	}
	pfree(many.data);
}

TEST(sort_keys)
{
	static const SortKeyCase cases[] = {
		{"{'a': 5}", "a", false, "{'k': 5}"},
		{"{'a': 5}", "a", true, "{'k': 5}"},
		/* missing is null, wherever the path stops */
		{"{'b': 5}", "a", false, "{'k': null}"},
		{"{'a': 5}", "a.b", false, "{'k': null}"},
		{"{'a': {'c': 1}}", "a.b", false, "{'k': null}"},
		{"{'a': {'b': {'c': 'x'}}}", "a.b.c", false, "{'k': 'x'}"},
		/* arrays: the smallest element ascending, the largest descending */
		{"{'a': [3, 1, 2]}", "a", false, "{'k': 1}"},
		{"{'a': [3, 1, 2]}", "a", true, "{'k': 3}"},
		{"{'a': [3, 'x', null]}", "a", false, "{'k': null}"},
		{"{'a': [3, 'x', null]}", "a", true, "{'k': 'x'}"},
		{"{'a': [1, {'$numberLong': '0'}, 0.5]}", "a", false, "{'k': {'$numberLong': '0'}}"},
		/* the empty array is undefined: before null */
		{"{'a': []}", "a", false, "{'k': {'$undefined': true}}"},
		{"{'a': []}", "a", true, "{'k': {'$undefined': true}}"},
		/* nested arrays are whole elements */
		{"{'a': [[1, 2], 5]}", "a", false, "{'k': 5}"},
		{"{'a': [[1, 2], 5]}", "a", true, "{'k': [1, 2]}"},
		/* through arrays of documents */
		{"{'a': [{'b': 3}, {'b': 1}]}", "a.b", false, "{'k': 1}"},
		{"{'a': [{'b': 3}, {'b': 1}]}", "a.b", true, "{'k': 3}"},
		{"{'a': [{'b': 3}, {'c': 1}]}", "a.b", false, "{'k': null}"},
		{"{'a': [{'b': 3}, {'c': 1}]}", "a.b", true, "{'k': 3}"},
		{"{'a': [{'b': [4, 2]}, {'b': 3}]}", "a.b", false, "{'k': 2}"},
		{"{'a': [{'b': [4, 2]}, {'b': 3}]}", "a.b", true, "{'k': 4}"},
		{"{'a': [1, {'b': 3}]}", "a.b", false, "{'k': null}"},
		{"{'a': []}", "a.b", false, "{'k': null}"},
		/* a numeric component indexes an array */
		{"{'a': [{'b': 9}, {'b': 1}]}", "a.0.b", false, "{'k': 9}"},
		{"{'a': [5, 6]}", "a.1", false, "{'k': 6}"},
		{"{'a': [5, 6]}", "a.7", false, "{'k': null}"},
		{"{'a': {'0': 'z'}}", "a.0", false, "{'k': 'z'}"},
		/* documents are keys too */
		{"{'a': {'x': 1}}", "a", false, "{'k': {'x': 1}}"},
	};

	for (size_t i = 0; i < lengthof(cases); i++)
	{
		bson_t	   *doc = ParseJsonS(cases[i].doc, __FILE__, __LINE__);
		bson_t	   *expected = ParseJsonS(cases[i].expected, __FILE__, __LINE__);
		bson_value_t key;
		bson_t		got;

		if (doc == NULL || expected == NULL)
			continue;
		BsonSortKey(bson_get_data(doc), doc->len, cases[i].path, cases[i].descending, &key);
		bson_init(&got);
		bson_append_value(&got, "k", 1, &key);
		UnitChecks++;
		if (got.len != expected->len ||
			memcmp(bson_get_data(&got), bson_get_data(expected), got.len) != 0)
		{
			StringInfoData text;

			initStringInfo(&text);
			BsonPrintJson(&text, bson_get_data(&got), got.len, false, BSON_JSON_CANONICAL);
			UnitFail(__FILE__, __LINE__, "key of %s for %s%s: %s, expected %s",
					 cases[i].doc, cases[i].path, cases[i].descending ? " (desc)" : "",
					 text.data, cases[i].expected);
			pfree(text.data);
		}
		bson_destroy(&got);
		bson_destroy(doc);
		bson_destroy(expected);
	}
}

TEST(sort_compare_keys)
{
	bson_value_t a;
	bson_value_t b;

	a.value_type = BSON_TYPE_INT32;
	a.value.v_int32 = 1;
	b.value_type = BSON_TYPE_DOUBLE;
	b.value.v_double = 1.0;
	CHECK_EQ(BsonSortCompareKeys(&a, &b), 0);
	b.value.v_double = 1.5;
	CHECK(BsonSortCompareKeys(&a, &b) < 0);
	b.value_type = BSON_TYPE_NULL;
	CHECK(BsonSortCompareKeys(&a, &b) > 0);
	a.value_type = BSON_TYPE_UNDEFINED;
	CHECK(BsonSortCompareKeys(&a, &b) < 0);
}

TEST(sort_order)
{
	static const SortOrderCase cases[] = {
		{"{'a': 1}", {"{'a': null}", "{'a': 1}", "{'a': 2.5}", "{'a': 'x'}", "{'a': {'b': 1}}", NULL}},
		{"{'a': -1}", {"{'a': {'b': 1}}", "{'a': 'x'}", "{'a': 2.5}", "{'a': 1}", "{'a': null}", NULL}},
		/* arrays sort by their smallest element ascending, largest descending */
		{"{'a': 1}", {"{'a': [0, 10]}", "{'a': 1}", "{'a': [5, 2]}", "{'a': 3}", NULL}},
		{"{'a': -1}", {"{'a': [0, 10]}", "{'a': [5, 2]}", "{'a': 3}", "{'a': 1}", NULL}},
		/* the empty array before a missing field (null) */
		{"{'a': 1}", {"{'a': []}", "{'b': 1}", "{'a': 0}", NULL}},
		/* compound: ties broken by the next field */
		{"{'a': 1, 'b': -1}", {"{'a': 1, 'b': 3}", "{'a': 1, 'b': 2}", "{'a': 2, 'b': 9}", NULL}},
		{"{'x.y': 1}", {"{'x': {'y': 1}}", "{'x': [{'y': 2}, {'y': 5}]}", "{'x': {'y': 3}}", NULL}},
	};

	for (size_t i = 0; i < lengthof(cases); i++)
	{
		BsonQueryError error;
		BsonSortSpec *s = CompileSort(cases[i].spec, &error, __FILE__, __LINE__);
		bson_t	   *docs[6];
		int			n = 0;

		if (s == NULL)
		{
			UnitFail(__FILE__, __LINE__, "%s does not compile", cases[i].spec);
			continue;
		}
		while (n < 6 && cases[i].docs[n] != NULL)
		{
			docs[n] = ParseJsonS(cases[i].docs[n], __FILE__, __LINE__);
			n++;
		}
		for (int x = 0; x < n; x++)
		{
			for (int y = 0; y < n; y++)
			{
				int			cmp = BsonSortCompareDocs(s, bson_get_data(docs[x]), docs[x]->len,
													  bson_get_data(docs[y]), docs[y]->len);
				int			want = x < y ? -1 : (x > y ? 1 : 0);

				UnitChecks++;
				if ((cmp < 0 ? -1 : cmp > 0 ? 1 : 0) != want)
					UnitFail(__FILE__, __LINE__, "%s: %s vs %s gives %d, expected %d",
							 cases[i].spec, cases[i].docs[x], cases[i].docs[y], cmp, want);
			}
		}
		for (int x = 0; x < n; x++)
			bson_destroy(docs[x]);
		BsonSortFree(s);
	}
}
