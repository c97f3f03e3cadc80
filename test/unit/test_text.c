/*-------------------------------------------------------------------------
 *
 * test_text.c
 *	  Unit tests of $text in the filter compiler (query_parse.c): its
 *	  parameters, MongoDB's errors and placement rules, and the text hook
 *	  the matcher calls (here a trivial one: the search string must occur
 *	  in the document's field "t").
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "query.h"
#include "query_cases.h"
#include "unit.h"

/*
 * A trivial text matcher: the document's "t" contains the search string,
 * compared case-insensitively unless $caseSensitive.  state, when set,
 * must be the test's marker.
 */
static int	TextMarker;

static bool
TestTextHook(const BsonTextQuery *query, void *state, const uint8_t *doc, uint32_t len)
{
	bson_t		b;
	bson_iter_t it;
	const char *s;

	if (state != NULL && state != &TextMarker)
		return false;
	if (!bson_init_static(&b, doc, len) || !bson_iter_init_find(&it, &b, "t") ||
		!BSON_ITER_HOLDS_UTF8(&it))
		return false;
	s = bson_iter_utf8(&it, NULL);
	if (query->case_sensitive)
		return strstr(s, query->search) != NULL;
	for (; *s != '\0'; s++)
	{
		if (pg_strncasecmp(s, query->search, query->search_len) == 0)
			return true;
	}
	return false;
}

TEST(text_errors)
{
	static const ErrorCase cases[] = {
		{"{'$text': 'x'}", MONGO_BAD_VALUE, "$text expects an object"},
		{"{'$text': {}}", MONGO_NO_SUCH_KEY, "$search"},
		{"{'$text': {'$language': 'en'}}", MONGO_NO_SUCH_KEY, "$search"},
		{"{'$text': {'$search': 1}}", MONGO_TYPE_MISMATCH, "\"$search\" had the wrong type"},
		{"{'$text': {'$search': null}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$text': {'$search': ['a']}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$text': {'$search': 'a', '$language': 1}}", MONGO_TYPE_MISMATCH, "$language"},
		{"{'$text': {'$search': 'a', '$language': null}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$text': {'$search': 'a', '$caseSensitive': 1}}", MONGO_TYPE_MISMATCH, "Expected bool"},
		{"{'$text': {'$search': 'a', '$caseSensitive': 'true'}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$text': {'$search': 'a', '$diacriticSensitive': null}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$text': {'$search': 'a', '$unknown': true}}", MONGO_BAD_VALUE, "extra fields in $text"},
		/* placement */
		{"{'$and': [{'$text': {'$search': 'a'}}, {'$text': {'$search': 'b'}}]}", MONGO_BAD_VALUE, "Too many text expressions"},
		{"{'$text': {'$search': 'a'}, '$or': [{'$text': {'$search': 'b'}}]}", MONGO_BAD_VALUE, "Too many text expressions"},
		{"{'$nor': [{'$text': {'$search': 'a'}}]}", MONGO_BAD_VALUE, "not allowed in nor"},
		{"{'$not': {'$text': {'$search': 'a'}}}", MONGO_BAD_VALUE, "unknown top level operator: $not"},
		{"{'a': {'$not': {'$text': {'$search': 'a'}}}}", MONGO_BAD_VALUE, NULL},
		{"{'a': {'$elemMatch': {'$text': {'$search': 'a'}}}}", MONGO_BAD_VALUE, "top-level document"},
		{"{'a': {'$text': {'$search': 'a'}}}", MONGO_BAD_VALUE, "unknown operator: $text"},
		{"{'l': {'$near': [0, 0]}, '$text': {'$search': 'a'}}", MONGO_BAD_VALUE, "text and geoNear"},
		{"{'$text': {'$search': 'a'}, 'l': {'$near': [0, 0]}}", MONGO_BAD_VALUE, "text and geoNear"},
	};

	RUN_ERRORS(cases);
}

TEST(text_restricted)
{
	bson_t	   *doc = ParseJson("{'$text': {'$search': 'a'}}", __FILE__, __LINE__);
	BsonQueryError error = {0};
	BsonFilter *filter;

	filter = BsonFilterCompileRestricted(bson_get_data(doc), doc->len, 0, &error);
	CHECK(filter == NULL);
	CHECK_EQ(error.code, MONGO_BAD_VALUE);
	CHECK_STR_EQ(error.message, "$text is not allowed in this context");
	pfree(error.message);

	filter = BsonFilterCompileRestricted(bson_get_data(doc), doc->len,
										 BSON_FILTER_ALLOW_TEXT, &error);
	CHECK(filter != NULL);
	BsonFilterFree(filter);
	bson_destroy(doc);
}

TEST(text_parameters)
{
	BsonQueryError error = {0};
	BsonTextQuery text;
	BsonFilter *filter;

	filter = Compile("{'$text': {'$search': 'Coffee -tea', '$language': 'fr', "
					 "'$caseSensitive': true, '$diacriticSensitive': false}}",
					 &error, __FILE__, __LINE__);
	CHECK(filter != NULL);
	CHECK(BsonFilterGetText(filter, &text));
	CHECK_STR_EQ(text.search, "Coffee -tea");
	CHECK_EQ(text.search_len, 11);
	CHECK_STR_EQ(text.language, "fr");
	CHECK(text.case_sensitive);
	CHECK(!text.diacritic_sensitive);
	CHECK(!text.or_with_others);
	BsonFilterFree(filter);

	/* an empty $language is the index's default */
	filter = Compile("{'$text': {'$search': '', '$language': ''}}", &error, __FILE__, __LINE__);
	CHECK(filter != NULL);
	CHECK(BsonFilterGetText(filter, &text));
	CHECK(text.language == NULL);
	CHECK_EQ(text.search_len, 0);
	BsonFilterFree(filter);

	/* under $or: alone, or beside other clauses */
	filter = Compile("{'$or': [{'$text': {'$search': 'a'}}]}", &error, __FILE__, __LINE__);
	CHECK(filter != NULL);
	CHECK(BsonFilterGetText(filter, &text));
	CHECK(!text.or_with_others);
	BsonFilterFree(filter);
	filter = Compile("{'$or': [{'$text': {'$search': 'a'}}, {'s': 1}]}", &error,
					 __FILE__, __LINE__);
	CHECK(filter != NULL);
	CHECK(BsonFilterGetText(filter, &text));
	CHECK(text.or_with_others);
	BsonFilterFree(filter);

	filter = Compile("{'a': 1}", &error, __FILE__, __LINE__);
	CHECK(filter != NULL);
	CHECK(!BsonFilterGetText(filter, &text));
	BsonFilterFree(filter);
}

TEST(text_matching)
{
	static const MatchCase cases[] = {
		{"{'$text': {'$search': 'fox'}}", "{'t': 'the brown fox'}", true},
		{"{'$text': {'$search': 'FOX'}}", "{'t': 'the brown fox'}", true},
		{"{'$text': {'$search': 'FOX', '$caseSensitive': true}}", "{'t': 'the brown fox'}", false},
		{"{'$text': {'$search': 'dog'}}", "{'t': 'the brown fox'}", false},
		{"{'$text': {'$search': 'fox'}}", "{'u': 'the brown fox'}", false},
		{"{'$text': {'$search': 'fox'}, 'n': 1}", "{'t': 'fox', 'n': 1}", true},
		{"{'$text': {'$search': 'fox'}, 'n': 1}", "{'t': 'fox', 'n': 2}", false},
		{"{'$or': [{'$text': {'$search': 'fox'}}, {'n': 1}]}", "{'t': 'dog', 'n': 1}", true},
		{"{'$and': [{'n': 1}, {'$text': {'$search': 'fox'}}]}", "{'t': 'fox', 'n': 1}", true},
	};
	BsonQueryError error = {0};
	BsonFilter *filter;
	bson_t	   *doc;

	/* no hook: $text matches nothing */
	BsonFilterSetTextHook(NULL);
	filter = Compile("{'$text': {'$search': 'fox'}}", &error, __FILE__, __LINE__);
	doc = ParseJson("{'t': 'fox'}", __FILE__, __LINE__);
	CHECK(!BsonFilterMatches(filter, bson_get_data(doc), doc->len));

	BsonFilterSetTextHook(TestTextHook);
	CHECK(BsonFilterMatches(filter, bson_get_data(doc), doc->len));
	/* the hook receives the filter's state */
	BsonFilterSetTextState(filter, &TextMarker);
	CHECK(BsonFilterMatches(filter, bson_get_data(doc), doc->len));
	BsonFilterSetTextState(filter, &error);
	CHECK(!BsonFilterMatches(filter, bson_get_data(doc), doc->len));
	BsonFilterFree(filter);
	bson_destroy(doc);

	RUN_MATCHES(cases);
	BsonFilterSetTextHook(NULL);
}
