/*-------------------------------------------------------------------------
 *
 * test_collation.c
 *	  Unit tests of MongoDB collations (src/collation.c) and of the engines
 *	  that take one: checking collation documents and their error codes,
 *	  string order under each option, sort keys agreeing with that order,
 *	  collated filters (every comparison but $regex) and collated sort keys
 *	  of arrays.
 *
 * Documents are Extended JSON with single quotes.  Expectations follow
 * MongoDB's documentation of collations (ICU's root order with the
 * attributes the document sets).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "bson_compare.h"
#include "bson_json.h"
#include "collation.h"
#include "query.h"
#include "sort.h"
#include "unit.h"

/*
 * ParseJsonC
 *		A document from single-quoted Extended JSON, or NULL.
 */
static bson_t *
ParseJsonC(const char *json, const char *file, int line)
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
 * Collation
 *		Compile a collation from JSON; *ok says whether it was valid.
 */
static BsonCollation *
Collation(const char *json, bool *ok, BsonQueryError *error, const char *file, int line)
{
	bson_t	   *doc = ParseJsonC(json, file, line);
	BsonCollation *c = NULL;

	*ok = false;
	if (doc == NULL)
		return NULL;
	*ok = BsonCollationCompile(bson_get_data(doc), doc->len, &c, error);
	bson_destroy(doc);
	return c;
}

/* A collation document that must not compile, and its MongoDB code */
typedef struct CollationErrorCase
{
	const char *spec;
	int			code;
} CollationErrorCase;

TEST(collation_compile)
{
	static const CollationErrorCase errors[] = {
		{"{}", 40414},
		{"{'strength': 2}", 40414},
		{"{'locale': 'en', 'backwards': null}", 14},
		{"{'locale': 1}", 14},
		{"{'locale': 'xx'}", 2},
		{"{'locale': 'en_ZZ'}", 2},
		{"{'locale': 'en', 'strength': 0}", 2},
		{"{'locale': 'en', 'strength': 6}", 2},
		{"{'locale': 'en', 'strength': 'one'}", 14},
		{"{'locale': 'en', 'caseLevel': 'yes'}", 14},
		{"{'locale': 'en', 'numericOrdering': 1}", 14},
		{"{'locale': 'en', 'caseFirst': 'middle'}", 2},
		{"{'locale': 'en', 'alternate': 'ignore'}", 2},
		{"{'locale': 'en', 'maxVariable': 'all'}", 2},
		{"{'locale': 'en', 'strength': 2, 'caseFirst': 'lower'}", 2},
		{"{'locale': 'en', 'colour': 1}", 40415},
	};
	BsonQueryError error;
	BsonCollation *c;
	bool		ok;

	/* the simple collation compiles to NULL, with or without other fields */
	c = Collation("{'locale': 'simple'}", &ok, &error, __FILE__, __LINE__);
	CHECK(ok && c == NULL);
	c = Collation("{'locale': 'en', 'strength': 1, 'caseLevel': true, 'caseFirst': 'upper', "
				  "'numericOrdering': true, 'alternate': 'shifted', 'maxVariable': 'space', "
				  "'backwards': false, 'normalization': true, 'version': '57.1'}",
				  &ok, &error, __FILE__, __LINE__);
	CHECK(ok && c != NULL);
	BsonCollationFree(c);
	/* null optional fields are absent; decimal and double strengths */
	c = Collation("{'locale': 'fr_CA', 'strength': {'$numberDecimal': '2'}, 'caseFirst': null}",
				  &ok, &error, __FILE__, __LINE__);
	CHECK(ok && c != NULL);
	BsonCollationFree(c);
	c = Collation("{'locale': 'de', 'strength': 1.0, 'caseFirst': 'off'}",
				  &ok, &error, __FILE__, __LINE__);
	CHECK(ok && c != NULL);
	BsonCollationFree(c);

	for (int i = 0; i < (int) lengthof(errors); i++)
	{
		c = Collation(errors[i].spec, &ok, &error, __FILE__, __LINE__);
		if (ok)
		{
			UnitFail(__FILE__, __LINE__, "collation %s compiled", errors[i].spec);
			BsonCollationFree(c);
			continue;
		}
		if (error.code != errors[i].code)
			UnitFail(__FILE__, __LINE__, "collation %s: code %d (%s), expected %d",
					 errors[i].spec, error.code, error.message, errors[i].code);
		pfree(error.message);
	}
	c = Collation("{'locale': 'xx'}", &ok, &error, __FILE__, __LINE__);
	CHECK(!ok);
	CHECK_STR_EQ(error.message, "Field 'locale' is invalid in: { locale: \"xx\" }");
	pfree(error.message);
}

/* Strings listed in the order a collation puts them ("=" between equals) */
typedef struct CollationOrderCase
{
	const char *spec;
	const char *strings[8];		/* NULL-terminated */
} CollationOrderCase;

/*
 * CheckSortKeyAgrees
 *		The sort keys of two strings compare as the strings do, and hold
 *		no zero byte.
 */
static void
CheckSortKeyAgrees(const BsonCollation *c, const char *a, const char *b, int expected,
				   const char *spec)
{
	uint32_t	alen;
	uint32_t	blen;
	uint8_t    *ka = BsonCollationSortKey(c, a, strlen(a), &alen);
	uint8_t    *kb = BsonCollationSortKey(c, b, strlen(b), &blen);
	int			cmp = memcmp(ka, kb, Min(alen, blen));

	if (cmp == 0)
		cmp = (alen > blen) - (alen < blen);
	cmp = (cmp > 0) - (cmp < 0);
	if (cmp != expected)
		UnitFail(__FILE__, __LINE__, "%s: sort keys of \"%s\" and \"%s\" compare %d, expected %d",
				 spec, a, b, cmp, expected);
	if (memchr(ka, 0, alen) != NULL || memchr(kb, 0, blen) != NULL)
		UnitFail(__FILE__, __LINE__, "%s: a sort key holds a zero byte", spec);
	pfree(ka);
	pfree(kb);
}

TEST(collation_order)
{
	static const CollationOrderCase cases[] = {
		{"{'locale': 'en'}", {"a", "A", "á", "b", "B", NULL}},
		{"{'locale': 'en', 'strength': 2}", {"a", "=", "A", "á", "=", "Á", "b", NULL}},
		{"{'locale': 'en', 'strength': 1}", {"cafe", "=", "CAFÉ", "=", "Café", "cafes", NULL}},
		{"{'locale': 'en', 'caseFirst': 'upper'}", {"A", "a", "B", "b", NULL}},
		{"{'locale': 'en', 'caseFirst': 'lower'}", {"a", "A", "b", "B", NULL}},
		{"{'locale': 'en', 'numericOrdering': true}", {"1", "2", "10", "file2", "file10", NULL}},
		{"{'locale': 'en'}", {"1", "10", "2", "file10", "file2", NULL}},
		{"{'locale': 'en', 'alternate': 'shifted'}", {"co op", "=", "co-op", "=", "coop", "cop", NULL}},
		{"{'locale': 'en', 'strength': 1, 'caseLevel': true}", {"a", "=", "á", "A", NULL}},
		{"{'locale': 'de', 'strength': 1}", {"apfel", "=", "Äpfel", "birne", NULL}},
		{"{'locale': 'sv'}", {"z", "å", "ä", "ö", NULL}},
	};

	for (int i = 0; i < (int) lengthof(cases); i++)
	{
		const CollationOrderCase *tc = &cases[i];
		BsonQueryError error;
		bool		ok;
		BsonCollation *c = Collation(tc->spec, &ok, &error, __FILE__, __LINE__);

		if (!ok || c == NULL)
		{
			UnitFail(__FILE__, __LINE__, "collation %s does not compile", tc->spec);
			continue;
		}
		for (int j = 0; tc->strings[j] != NULL && tc->strings[j + 1] != NULL; j++)
		{
			const char *a = tc->strings[j];
			const char *b;
			int			expected = -1;
			int			cmp;

			if (strcmp(a, "=") == 0)
				continue;
			b = tc->strings[j + 1];
			if (strcmp(b, "=") == 0)
			{
				expected = 0;
				b = tc->strings[j + 2];
			}
			cmp = BsonCollationCompareStrings(c, a, strlen(a), b, strlen(b));
			if (cmp != expected)
				UnitFail(__FILE__, __LINE__, "%s: \"%s\" vs \"%s\" is %d, expected %d",
						 tc->spec, a, b, cmp, expected);
			if (BsonCollationCompareStrings(c, b, strlen(b), a, strlen(a)) != -expected)
				UnitFail(__FILE__, __LINE__, "%s: \"%s\" vs \"%s\" is not antisymmetric",
						 tc->spec, a, b);
			CheckSortKeyAgrees(c, a, b, expected, tc->spec);
		}
		BsonCollationFree(c);
	}

	/* NULL is the simple collation: byte-wise, a prefix first */
	CHECK_EQ(BsonCollationCompareStrings(NULL, "B", 1, "a", 1), -1);
	CHECK_EQ(BsonCollationCompareStrings(NULL, "ab", 2, "a", 1), 1);
	CHECK_EQ(BsonCollationCompareStrings(NULL, "a\0b", 3, "a\0b", 3), 0);
}

/*
 * CompareJson
 *		BsonCompareValuesCollated of the 'v' fields of two documents.
 */
static int
CompareJson(const char *a, const char *b, const BsonCollation *c)
{
	bson_t	   *da = ParseJsonC(a, __FILE__, __LINE__);
	bson_t	   *db = ParseJsonC(b, __FILE__, __LINE__);
	bson_iter_t ia;
	bson_iter_t ib;
	int			cmp = 99;

	if (da != NULL && db != NULL && bson_iter_init_find(&ia, da, "v") &&
		bson_iter_init_find(&ib, db, "v"))
		cmp = BsonCompareValuesCollated(&ia, &ib, c);
	if (da != NULL)
		bson_destroy(da);
	if (db != NULL)
		bson_destroy(db);
	return cmp;
}

TEST(collation_compare_values)
{
	BsonQueryError error;
	bool		ok;
	BsonCollation *c = Collation("{'locale': 'en', 'strength': 2}", &ok, &error,
								 __FILE__, __LINE__);

	CHECK(ok && c != NULL);
	CHECK_EQ(CompareJson("{'v': 'ABC'}", "{'v': 'abc'}", c), 0);
	CHECK_EQ(CompareJson("{'v': 'ABC'}", "{'v': 'abc'}", NULL), -1);
	/* symbols compare with strings; brackets are unchanged */
	CHECK_EQ(CompareJson("{'v': {'$symbol': 'X'}}", "{'v': 'x'}", c), 0);
	CHECK_EQ(CompareJson("{'v': 5}", "{'v': 'a'}", c), -1);
	/* inside documents and arrays, but field names stay binary */
	CHECK_EQ(CompareJson("{'v': {'a': 'X', 'b': ['Y']}}", "{'v': {'a': 'x', 'b': ['y']}}", c), 0);
	CHECK(CompareJson("{'v': {'A': 'x'}}", "{'v': {'a': 'x'}}", c) != 0);
	BsonCollationFree(c);
}

TEST(collation_keyed_values)
{
	BsonQueryError error;
	bool		ok;
	BsonCollation *c = Collation("{'locale': 'en', 'strength': 1}", &ok, &error,
								 __FILE__, __LINE__);
	bson_t	   *a = ParseJsonC("{'v': {'k': ['Résumé', 3, {'n': 'X'}]}}", __FILE__, __LINE__);
	bson_t	   *b = ParseJsonC("{'v': {'k': ['resume', 3, {'n': 'x'}]}}", __FILE__, __LINE__);
	bson_t	   *d = ParseJsonC("{'v': {'k': ['resumes', 3, {'n': 'x'}]}}", __FILE__, __LINE__);
	bson_t		ka = BSON_INITIALIZER;
	bson_t		kb = BSON_INITIALIZER;
	bson_t		kd = BSON_INITIALIZER;
	bson_iter_t it;

	CHECK(ok && c != NULL && a != NULL && b != NULL && d != NULL);
	if (a == NULL || b == NULL || d == NULL)
		return;
	bson_iter_init_find(&it, a, "v");
	BsonCollationAppendKeyed(c, &ka, "v", 1, &it);
	bson_iter_init_find(&it, b, "v");
	BsonCollationAppendKeyed(c, &kb, "v", 1, &it);
	bson_iter_init_find(&it, d, "v");
	BsonCollationAppendKeyed(c, &kd, "v", 1, &it);
	/* keyed values compare binary as the originals do under the collation */
	CHECK_EQ(BsonCompareDocuments(bson_get_data(&ka), ka.len, bson_get_data(&kb), kb.len), 0);
	CHECK_EQ(BsonCompareDocuments(bson_get_data(&kb), kb.len, bson_get_data(&kd), kd.len), -1);
	/* the number and the field names survive */
	CHECK(bson_iter_init(&it, &ka) && bson_iter_find_descendant(&it, "v.k.1", &it) &&
		  BSON_ITER_HOLDS_INT32(&it) && bson_iter_int32(&it) == 3);
	CHECK(bson_iter_init(&it, &ka) && bson_iter_find_descendant(&it, "v.k.2.n", &it) &&
		  BSON_ITER_HOLDS_UTF8(&it));
	bson_destroy(&ka);
	bson_destroy(&kb);
	bson_destroy(&kd);
	bson_destroy(a);
	bson_destroy(b);
	bson_destroy(d);
	BsonCollationFree(c);
}

/*
 * Keyed strings are valid UTF-8 and compare binary as the strings do under
 * the collation, also where the sort keys hold bytes from 0x80 on.
 */
TEST(collation_keyed_utf8)
{
	static const char *const strings[] = {
		"", "a", "A", "á", "ab", "b", "Ä", "z", "é", "中", "中文", "日本", "Ω", "ω", "~", "0"
	};
	BsonQueryError error;
	bool		ok;
	BsonCollation *c = Collation("{'locale': 'en', 'strength': 3}", &ok, &error,
								 __FILE__, __LINE__);

	CHECK(ok && c != NULL);
	if (c == NULL)
		return;
	for (int i = 0; i < (int) lengthof(strings); i++)
		for (int j = 0; j < (int) lengthof(strings); j++)
		{
			bson_t		a = BSON_INITIALIZER;
			bson_t		b = BSON_INITIALIZER;
			bson_t		ka = BSON_INITIALIZER;
			bson_t		kb = BSON_INITIALIZER;
			bson_iter_t it;
			uint32_t	len;
			const char *s;
			int			expected;
			int			got;

			BSON_APPEND_UTF8(&a, "v", strings[i]);
			BSON_APPEND_UTF8(&b, "v", strings[j]);
			bson_iter_init_find(&it, &a, "v");
			BsonCollationAppendKeyed(c, &ka, "v", 1, &it);
			bson_iter_init_find(&it, &b, "v");
			BsonCollationAppendKeyed(c, &kb, "v", 1, &it);
			bson_iter_init_find(&it, &ka, "v");
			s = bson_iter_utf8(&it, &len);
			if (!bson_utf8_validate(s, len, false))
				UnitFail(__FILE__, __LINE__, "the keyed \"%s\" is not valid UTF-8", strings[i]);
			expected = BsonCollationCompareStrings(c, strings[i], strlen(strings[i]),
												   strings[j], strlen(strings[j]));
			got = BsonCompareDocuments(bson_get_data(&ka), ka.len, bson_get_data(&kb), kb.len);
			if ((expected > 0) - (expected < 0) != (got > 0) - (got < 0))
				UnitFail(__FILE__, __LINE__, "keyed \"%s\" and \"%s\" compare %d, expected %d",
						 strings[i], strings[j], got, expected);
			bson_destroy(&a);
			bson_destroy(&b);
			bson_destroy(&ka);
			bson_destroy(&kb);
		}
	BsonCollationFree(c);
}

/* Two collation documents and whether their collators are the same */
typedef struct CollationEqualCase
{
	const char *a;
	const char *b;
	bool		equal;
} CollationEqualCase;

TEST(collation_equal)
{
	static const CollationEqualCase cases[] = {
		{"{'locale': 'en', 'strength': 2}", "{'locale': 'en', 'strength': 2.0, 'caseLevel': false}", true},
		{"{'locale': 'en'}", "{'locale': 'en', 'strength': 3, 'caseFirst': 'off', 'numericOrdering': false, 'alternate': 'non-ignorable', 'maxVariable': 'punct', 'normalization': false, 'backwards': false, 'version': '57.1'}", true},
		{"{'locale': 'en', 'strength': 2}", "{'locale': 'en', 'strength': 1}", false},
		{"{'locale': 'en'}", "{'locale': 'fr'}", false},
		{"{'locale': 'en'}", "{'locale': 'en_US'}", false},
		{"{'locale': 'en'}", "{'locale': 'en', 'numericOrdering': true}", false},
		{"{'locale': 'en', 'alternate': 'shifted'}", "{'locale': 'en', 'alternate': 'shifted', 'maxVariable': 'space'}", false},
		{"{'locale': 'fr_CA'}", "{'locale': 'fr_CA', 'backwards': true}", true},
		{"{'locale': 'fr_CA'}", "{'locale': 'fr_CA', 'backwards': false}", false},
		{"{'locale': 'simple'}", "{'locale': 'simple'}", true},
		{"{'locale': 'simple'}", "{'locale': 'en'}", false},
	};

	for (int i = 0; i < (int) lengthof(cases); i++)
	{
		BsonQueryError error;
		bool		ok_a;
		bool		ok_b;
		BsonCollation *a = Collation(cases[i].a, &ok_a, &error, __FILE__, __LINE__);
		BsonCollation *b = Collation(cases[i].b, &ok_b, &error, __FILE__, __LINE__);

		if (!ok_a || !ok_b)
			UnitFail(__FILE__, __LINE__, "case %d does not compile", i);
		else if (BsonCollationEqual(a, b) != cases[i].equal ||
				 BsonCollationEqual(b, a) != cases[i].equal)
			UnitFail(__FILE__, __LINE__, "%s and %s: expected %s", cases[i].a, cases[i].b,
					 cases[i].equal ? "equal" : "different");
		BsonCollationFree(a);
		BsonCollationFree(b);
	}
}

/* A filter, a collation and whether each document matches */
typedef struct CollatedFilterCase
{
	const char *filter;
	const char *collation;
	const char *doc;
	bool		matches;
} CollatedFilterCase;

TEST(collation_filters)
{
	static const CollatedFilterCase cases[] = {
		{"{'x': 'apple'}", "{'locale': 'en', 'strength': 2}", "{'x': 'APPLE'}", true},
		{"{'x': 'apple'}", "{'locale': 'en'}", "{'x': 'APPLE'}", false},
		{"{'x': 'apple'}", "{'locale': 'simple'}", "{'x': 'APPLE'}", false},
		{"{'x': 'cafe'}", "{'locale': 'en', 'strength': 1}", "{'x': 'Café'}", true},
		{"{'x': 'cafe'}", "{'locale': 'en', 'strength': 2}", "{'x': 'Café'}", false},
		{"{'x': {'$ne': 'apple'}}", "{'locale': 'en', 'strength': 2}", "{'x': 'Apple'}", false},
		{"{'x': {'$gt': 'b'}}", "{'locale': 'en'}", "{'x': 'B'}", true},
		{"{'x': {'$gt': 'b'}}", "{'locale': 'simple'}", "{'x': 'B'}", false},
		{"{'x': {'$lt': 'file10'}}", "{'locale': 'en', 'numericOrdering': true}", "{'x': 'file9'}", true},
		{"{'x': {'$lt': 'file10'}}", "{'locale': 'en'}", "{'x': 'file9'}", false},
		{"{'x': {'$in': ['B', 'Z']}}", "{'locale': 'en', 'strength': 2}", "{'x': 'b'}", true},
		{"{'x': {'$in': ['b', 'A', 'z', 'c']}}", "{'locale': 'en', 'strength': 1}", "{'x': 'á'}", true},
		{"{'x': {'$nin': ['B']}}", "{'locale': 'en', 'strength': 2}", "{'x': 'b'}", false},
		{"{'x': 'b'}", "{'locale': 'en', 'strength': 2}", "{'x': ['a', 'B']}", true},
		{"{'x': ['a', 'b']}", "{'locale': 'en', 'strength': 2}", "{'x': ['A', 'B']}", true},
		{"{'x': {'k': 'v'}}", "{'locale': 'en', 'strength': 2}", "{'x': {'k': 'V'}}", true},
		{"{'x': {'$elemMatch': {'k': 'V'}}}", "{'locale': 'en', 'strength': 2}", "{'x': [{'k': 'v'}]}", true},
		{"{'x': {'$all': ['A', 'B']}}", "{'locale': 'en', 'strength': 2}", "{'x': ['b', 'a']}", true},
		{"{'x': 'co-op'}", "{'locale': 'en', 'alternate': 'shifted'}", "{'x': 'coop'}", true},
		{"{'x': {'$regex': '^apple$'}}", "{'locale': 'en', 'strength': 1}", "{'x': 'APPLE'}", false},
		{"{'x': 1}", "{'locale': 'en', 'strength': 1}", "{'x': 1.0}", true},
		{"{'x': 'a'}", "{'locale': 'en', 'strength': 1}", "{'y': 'a'}", false},
	};

	for (int i = 0; i < (int) lengthof(cases); i++)
	{
		const CollatedFilterCase *tc = &cases[i];
		BsonQueryError error;
		bool		ok;
		BsonCollation *c = Collation(tc->collation, &ok, &error, __FILE__, __LINE__);
		bson_t	   *f = ParseJsonC(tc->filter, __FILE__, __LINE__);
		bson_t	   *d = ParseJsonC(tc->doc, __FILE__, __LINE__);
		BsonFilter *filter;

		if (!ok || f == NULL || d == NULL)
		{
			UnitFail(__FILE__, __LINE__, "case %d does not parse", i);
			continue;
		}
		filter = BsonFilterCompileCollated(bson_get_data(f), f->len, c, &error);
		if (filter == NULL)
			UnitFail(__FILE__, __LINE__, "filter %s: %s", tc->filter, error.message);
		else if (BsonFilterMatches(filter, bson_get_data(d), d->len) != tc->matches)
			UnitFail(__FILE__, __LINE__, "filter %s under %s on %s: expected %s",
					 tc->filter, tc->collation, tc->doc, tc->matches ? "a match" : "no match");
		BsonFilterFree(filter);
		bson_destroy(f);
		bson_destroy(d);
		BsonCollationFree(c);
	}
}

TEST(collation_sort_keys)
{
	BsonQueryError error;
	bool		ok;
	BsonCollation *c = Collation("{'locale': 'en', 'numericOrdering': true}", &ok, &error,
								 __FILE__, __LINE__);
	bson_t	   *doc = ParseJsonC("{'x': ['item10', 'item9', 'Item100']}", __FILE__, __LINE__);
	bson_value_t key;

	CHECK(ok && c != NULL && doc != NULL);
	if (doc == NULL)
		return;
	/* ascending: the smallest element under the collation, not byte-wise */
	BsonSortKeyCollated(bson_get_data(doc), doc->len, "x", false, c, &key);
	CHECK(key.value_type == BSON_TYPE_UTF8 && strcmp(key.value.v_utf8.str, "item9") == 0);
	BsonSortKeyCollated(bson_get_data(doc), doc->len, "x", true, c, &key);
	CHECK(key.value_type == BSON_TYPE_UTF8 && strcmp(key.value.v_utf8.str, "Item100") == 0);
	BsonSortKey(bson_get_data(doc), doc->len, "x", false, &key);
	CHECK(key.value_type == BSON_TYPE_UTF8 && strcmp(key.value.v_utf8.str, "Item100") == 0);
	bson_destroy(doc);
	BsonCollationFree(c);
}
