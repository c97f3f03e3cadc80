/*-------------------------------------------------------------------------
 *
 * test_expr_string.c
 *	  Unit tests of the string expression operators (src/expr_string.c):
 *	  a few cases per operator, with null and missing, code points against
 *	  bytes, invalid UTF-8, MongoDB's error codes, and regular expressions.
 *
 * Each case is an expression and a document in Extended JSON with single
 * quotes, and either the result ({'r': value}, or {} when missing) or
 * MongoDB's error code (at parse or at evaluation time).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "bson_json.h"
#include "expr.h"
#include "expr_cases.h"
#include "lib/stringinfo.h"
#include "unit.h"

TEST(expr_string_basic)
{
	static const ExprCase cases[] = {
		/* $concat */
		{"{'$concat': ['a', '$s', 'c']}", "{'s': 'b'}", "{'r': 'abc'}", 0},
		{"{'$concat': []}", "{}", "{'r': ''}", 0},
		{"{'$concat': ['a', '$nope', 1]}", "{}", "{'r': null}", 0},
		{"{'$concat': ['a', 1]}", "{}", NULL, 16702},
		/* lengths */
		{"{'$strLenBytes': 'h\\u00e9'}", "{}", "{'r': {'$numberInt': '3'}}", 0},
		{"{'$strLenCP': 'h\\u00e9\\ud83d\\ude00'}", "{}", "{'r': {'$numberInt': '3'}}", 0},
		{"{'$strLenBytes': '$nope'}", "{}", NULL, 34473},
		{"{'$strLenCP': null}", "{}", NULL, 34471},
		{"{'$strLenCP': ['a', 'b']}", "{}", NULL, 16020},
		/* case */
		{"{'$toUpper': 'ab\\u00e9Z'}", "{}", "{'r': 'AB\\u00e9Z'}", 0},
		{"{'$toLower': '$nope'}", "{}", "{'r': ''}", 0},
		{"{'$toLower': {'$numberDouble': '1000000'}}", "{}", "{'r': '1e+06'}", 0},
		{"{'$toUpper': {'$date': {'$numberLong': '-1000'}}}", "{}", "{'r': '1969-12-31T23:59:59.000Z'}", 0},
		{"{'$toUpper': {'$timestamp': {'t': 1704067200, 'i': 42}}}", "{}", "{'r': 'JAN  1 00:00:00:42'}", 0},
		{"{'$toLower': true}", "{}", NULL, 16007},
		{"{'$strcasecmp': ['ABC', 'abc']}", "{}", "{'r': {'$numberInt': '0'}}", 0},
		{"{'$strcasecmp': ['abc', 'abcd']}", "{}", "{'r': {'$numberInt': '-1'}}", 0},
		{"{'$strcasecmp': [null, 'a']}", "{}", "{'r': {'$numberInt': '-1'}}", 0},
		{"{'$strcasecmp': [[], 'a']}", "{}", NULL, 16007},
	};

	CHECK_EXPRS(cases);
}

TEST(expr_string_substr)
{
	static const ExprCase cases[] = {
		{"{'$substrBytes': ['hello', 1, 3]}", "{}", "{'r': 'ell'}", 0},
		{"{'$substr': ['hello', 2, -1]}", "{}", "{'r': 'llo'}", 0},
		{"{'$substrBytes': ['hello', 9, 1]}", "{}", "{'r': ''}", 0},
		{"{'$substrBytes': [{'$numberInt': '42'}, 0, 1]}", "{}", "{'r': '4'}", 0},
		{"{'$substrBytes': ['hello', {'$numberDecimal': '2.5'}, {'$numberDecimal': 'NaN'}]}", "{}",
		"{'r': 'llo'}", 0},
		{"{'$substrBytes': ['\\u00e9', 1, 1]}", "{}", NULL, 28656},
		{"{'$substrBytes': ['\\u00e9', 0, 1]}", "{}", NULL, 28657},
		{"{'$substrBytes': ['hello', -1, 1]}", "{}", NULL, 50752},
		{"{'$substrBytes': ['hello', {'$numberDouble': 'NaN'}, 1]}", "{}", NULL, 31109},
		{"{'$substrBytes': ['hello', 'x', 1]}", "{}", NULL, 16034},
		{"{'$substrBytes': ['hello', 0, null]}", "{}", NULL, 16035},
		{"{'$substrBytes': [{}, 0, 1]}", "{}", NULL, 16007},
		{"{'$substrCP': ['h\\u00e9llo', 1, 2]}", "{}", "{'r': '\\u00e9l'}", 0},
		{"{'$substrCP': ['abc', 5, 2]}", "{}", "{'r': ''}", 0},
		{"{'$substrCP': ['abc', 1.5, 1]}", "{}", NULL, 34451},
		{"{'$substrCP': ['abc', 0, -1]}", "{}", NULL, 34454},
		{"{'$substrCP': ['abc', -1, 1]}", "{}", NULL, 34455},
		{"{'$substrCP': ['abc', 0, true]}", "{}", NULL, 34452},
		{"{'$substrCP': ['abc', 'x', 1]}", "{}", NULL, 34450},
	};

	CHECK_EXPRS(cases);
}

TEST(expr_string_search)
{
	static const ExprCase cases[] = {
		{"{'$indexOfBytes': ['hello', 'l']}", "{}", "{'r': {'$numberInt': '2'}}", 0},
		{"{'$indexOfBytes': ['h\\u00e9llo', 'l', 3]}", "{}", "{'r': {'$numberInt': '3'}}", 0},
		{"{'$indexOfBytes': ['hello', 'z']}", "{}", "{'r': {'$numberInt': '-1'}}", 0},
		{"{'$indexOfBytes': ['$nope', 'z']}", "{}", "{'r': null}", 0},
		{"{'$indexOfBytes': ['hello']}", "{}", NULL, 28667},
		{"{'$indexOfBytes': [1, 'a']}", "{}", NULL, 40091},
		{"{'$indexOfBytes': ['a', 1]}", "{}", NULL, 40092},
		{"{'$indexOfBytes': ['a', 'a', 1.5]}", "{}", NULL, 40096},
		{"{'$indexOfBytes': ['a', 'a', -1]}", "{}", NULL, 40097},
		{"{'$indexOfCP': ['h\\u00e9llo', 'l']}", "{}", "{'r': {'$numberInt': '2'}}", 0},
		{"{'$indexOfCP': ['hello', 'llo', 0, 4]}", "{}", "{'r': {'$numberInt': '2'}}", 0},
		{"{'$indexOfCP': ['hello', '', 5]}", "{}", "{'r': {'$numberInt': '-1'}}", 0},
		{"{'$indexOfCP': ['', '']}", "{}", "{'r': {'$numberInt': '0'}}", 0},
		{"{'$indexOfCP': ['hello', 'l', 3, 2]}", "{}", "{'r': {'$numberInt': '-1'}}", 0},
		{"{'$indexOfCP': [1, 'a']}", "{}", NULL, 40093},
		{"{'$split': ['a-b--c', '-']}", "{}", "{'r': ['a', 'b', '', 'c']}", 0},
		{"{'$split': ['', '-']}", "{}", "{'r': ['']}", 0},
		{"{'$split': [null, 1]}", "{}", "{'r': null}", 0},
		{"{'$split': [1, '']}", "{}", NULL, 40085},
		{"{'$split': ['a', 1.5]}", "{}", NULL, 10503900},
		{"{'$split': ['a', '']}", "{}", NULL, 40087},
		{"{'$replaceOne': {'input': 'aXbX', 'find': 'X', 'replacement': '--'}}", "{}", "{'r': 'a--bX'}", 0},
		{"{'$replaceAll': {'input': 'aXbX', 'find': 'X', 'replacement': ''}}", "{}", "{'r': 'ab'}", 0},
		{"{'$replaceAll': {'input': '\\u00e9a', 'find': '', 'replacement': '.'}}", "{}", "{'r': '.\\u00e9.a.'}", 0},
		{"{'$replaceOne': {'input': 'ab', 'find': '', 'replacement': '.'}}", "{}", "{'r': '.ab'}", 0},
		{"{'$replaceAll': {'input': null, 'find': 1, 'replacement': 'b'}}", "{}", NULL, 10503901},
		{"{'$replaceAll': {'input': 'a', 'find': 'a', 'replacement': null}}", "{}", "{'r': null}", 0},
		{"{'$replaceAll': {'input': 'a', 'find': 'a'}}", "{}", NULL, 51747},
		{"{'$replaceOne': 'x'}", "{}", NULL, 51751},
	};

	CHECK_EXPRS(cases);
}

TEST(expr_string_trim)
{
	static const ExprCase cases[] = {
		{"{'$trim': {'input': ' \\u0000\\t a b \\n\\u00a0\\u2000'}}", "{}", "{'r': 'a b'}", 0},
		{"{'$ltrim': {'input': 'xxaxx', 'chars': 'x'}}", "{}", "{'r': 'axx'}", 0},
		{"{'$rtrim': {'input': 'a\\u00e9\\u00e9', 'chars': '\\u00e9'}}", "{}", "{'r': 'a'}", 0},
		{"{'$trim': {'input': 'aaa', 'chars': 'a'}}", "{}", "{'r': ''}", 0},
		{"{'$trim': {'input': null, 'chars': 1}}", "{}", "{'r': null}", 0},
		{"{'$trim': 'x'}", "{}", NULL, 50696},
		{"{'$trim': {'chars': 'x'}}", "{}", NULL, 50695},
		{"{'$trim': {'input': 'x', 'other': 1}}", "{}", NULL, 50694},
		{"{'$trim': {'input': 1}}", "{}", NULL, 50699},
		{"{'$trim': {'input': 'x', 'chars': 1}}", "{}", NULL, 50700},
	};

	CHECK_EXPRS(cases);
}

TEST(expr_string_regex)
{
	static const ExprCase cases[] = {
		{"{'$regexMatch': {'input': 'Hello', 'regex': '^h', 'options': 'i'}}", "{}", "{'r': true}", 0},
		{"{'$regexMatch': {'input': '$nope', 'regex': 'a'}}", "{}", "{'r': false}", 0},
		{"{'$regexFind': {'input': 'x\\u00e9ab', 'regex': '(a)(z)?b'}}", "{}",
		"{'r': {'match': 'ab', 'idx': {'$numberInt': '2'}, 'captures': ['a', null]}}", 0},
		{"{'$regexFind': {'input': 'abc', 'regex': 'z'}}", "{}", "{'r': null}", 0},
		{"{'$regexFindAll': {'input': 'abc', 'regex': '()'}}", "{}",
			"{'r': [{'match': '', 'idx': {'$numberInt': '0'}, 'captures': ['']}, "
			"{'match': '', 'idx': {'$numberInt': '1'}, 'captures': ['']}, "
		"{'match': '', 'idx': {'$numberInt': '2'}, 'captures': ['']}]}", 0},
		{"{'$regexFindAll': {'input': '\\u00e9a\\u00e9a', 'regex': 'a'}}", "{}",
			"{'r': [{'match': 'a', 'idx': {'$numberInt': '1'}, 'captures': []}, "
		"{'match': 'a', 'idx': {'$numberInt': '3'}, 'captures': []}]}", 0},
		{"{'$regexFindAll': {'input': '', 'regex': ''}}", "{}",
		"{'r': [{'match': '', 'idx': {'$numberInt': '0'}, 'captures': []}]}", 0},
		{"{'$regexFindAll': {'input': '$s', 'regex': '$p'}}", "{'s': 'aXa', 'p': {'$regularExpression': {'pattern': 'x', 'options': 'i'}}}",
		"{'r': [{'match': 'X', 'idx': {'$numberInt': '1'}, 'captures': []}]}", 0},
		{"{'$regexMatch': 'x'}", "{}", NULL, 51103},
		{"{'$regexMatch': {'regex': 'x'}}", "{}", NULL, 31022},
		{"{'$regexMatch': {'input': 'x'}}", "{}", NULL, 31023},
		{"{'$regexMatch': {'input': 'x', 'regex': 'x', 'y': 1}}", "{}", NULL, 31024},
		{"{'$regexMatch': {'input': 1, 'regex': null}}", "{}", NULL, 51104},
		{"{'$regexMatch': {'input': 'x', 'regex': 1}}", "{}", NULL, 51105},
		{"{'$regexMatch': {'input': null, 'regex': 'x', 'options': 1}}", "{}", NULL, 51106},
		{"{'$regexMatch': {'input': 'x', 'regex': {'$regularExpression': {'pattern': 'x', 'options': 'i'}}, 'options': ''}}",
		"{}", NULL, 51107},
		{"{'$regexMatch': {'input': 'x', 'regex': 'x', 'options': 'z'}}", "{}", NULL, 51108},
		{"{'$regexMatch': {'input': 'x', 'regex': '$p'}}", "{'p': 'a\\u0000'}", NULL, 51109},
		{"{'$regexMatch': {'input': 'x', 'regex': '(x'}}", "{}", NULL, 51111},
		{"{'$regexMatch': {'input': 'x', 'regex': '$p'}}", "{'p': '(x'}", NULL, 51111},
		/* catastrophic backtracking stops at the match limit */
		{"{'$regexMatch': {'input': 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!', 'regex': '(a+)+$'}}", "{}",
		NULL, 51156},
	};

	CHECK_EXPRS(cases);
}

/* Invalid UTF-8 never reads past the string */
TEST(expr_string_invalid_utf8)
{
	static const char *const exprs[] = {
		"{'$strLenCP': '$s'}",
		"{'$substrCP': ['$s', 1, 5]}",
		"{'$indexOfCP': ['$s', 'x']}",
		"{'$trim': {'input': '$s', 'chars': '$s'}}",
		"{'$rtrim': {'input': '$s'}}",
		"{'$replaceAll': {'input': '$s', 'find': '', 'replacement': 'y'}}",
		"{'$regexFindAll': {'input': '$s', 'regex': ''}}",
	};
	/* a lone lead byte at the end, and a stray continuation byte */
	static const uint8_t bad[] = {'a', 0x80, 'b', 0xE2, 0x82};

	for (size_t i = 0; i < lengthof(exprs); i++)
	{
		char	   *wrapped = psprintf("{'e': %s}", exprs[i]);
		bson_t	   *spec = ExprJson(wrapped, __FILE__, __LINE__);
		bson_t		doc = BSON_INITIALIZER;
		AggExprScope *scope = AggExprScopeNew();
		AggArena	arena = {NULL};
		BsonQueryError error = {0};
		AggExprContext cx = {0};
		AggExpr    *expr;
		bson_iter_t it;
		bson_value_t out;

		bson_append_utf8(&doc, "s", 1, (const char *) bad, sizeof(bad));
		bson_iter_init(&it, spec);
		bson_iter_next(&it);
		expr = AggExprParse(&it, scope, &error);
		CHECK(expr != NULL);
		cx.root = bson_get_data(&doc);
		cx.root_len = doc.len;
		cx.arena = &arena;
		if (expr != NULL)
			(void) AggExprEval(expr, &cx, &out, &error);
		if (error.message)
			pfree(error.message);
		AggArenaReset(&arena);
		AggExprScopeFree(scope);
		bson_destroy(&doc);
		bson_destroy(spec);
		pfree(wrapped);
	}
}
