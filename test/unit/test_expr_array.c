/*-------------------------------------------------------------------------
 *
 * test_expr_array.c
 *	  Unit tests of the array and set expression operators (expr_array.c),
 *	  through the expression engine's API: parse, evaluate against a
 *	  document, compare the value (types included) or the error code.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "bson_json.h"
#include "expr.h"
#include "expr_cases.h"
#include "lib/stringinfo.h"
#include "unit.h"

/* Cases are ExprCase (expr_cases.h), their values "{'v': ...}" ("{}": missing) */
/* An expression that fails, when parsed or on the document */
typedef struct ExprErrorCase
{
	const char *expr;
	const char *doc;
	int			code;
} ExprErrorCase;

/* Results are {'v': value} here */
#define RUN_EXPRS(cases) \
	for (size_t i_ = 0; i_ < lengthof(cases); i_++) \
		CheckExprKeyed(&(cases)[i_], "v", __FILE__, __LINE__)
#define RUN_EXPR_ERRORS(cases) \
	for (size_t i_ = 0; i_ < lengthof(cases); i_++) \
	{ \
		ExprCase	c_ = {(cases)[i_].expr, (cases)[i_].doc, NULL, (cases)[i_].code}; \
		CheckExprKeyed(&c_, "v", __FILE__, __LINE__); \
	}

TEST(expr_array_access)
{
	static const ExprCase cases[] = {
		{"{'$arrayElemAt': [[1, 2, 3], 0]}", "{}", "{'v': 1}"},
		{"{'$arrayElemAt': [[1, 2, 3], -1]}", "{}", "{'v': 3}"},
		{"{'$arrayElemAt': [[1, 2, 3], 3]}", "{}", "{}"},
		{"{'$arrayElemAt': [[1, 2, 3], 1.0]}", "{}", "{'v': 2}"},
		{"{'$arrayElemAt': ['$nope', 1]}", "{}", "{'v': null}"},
		{"{'$first': [[]]}", "{}", "{}"},
		{"{'$first': [['a', 'b']]}", "{}", "{'v': 'a'}"},
		{"{'$last': '$a'}", "{'a': [1, 2]}", "{'v': 2}"},
		{"{'$size': '$a'}", "{'a': [1, [2, 3]]}", "{'v': 2}"},
		{"{'$isArray': ['$a']}", "{'a': []}", "{'v': true}"},
		{"{'$isArray': '$nope'}", "{}", "{'v': false}"},
		{"{'$in': [2, [1, 2.0]]}", "{}", "{'v': true}"},
		{"{'$in': ['$nope', [null]]}", "{}", "{'v': false}"},
		{"{'$indexOfArray': [['a', 'b', 'a'], 'a', 1]}", "{}", "{'v': 2}"},
		{"{'$indexOfArray': [['a', 'b', 'a'], 'a', 1, 2]}", "{}", "{'v': -1}"},
		{"{'$indexOfArray': [null, 'a']}", "{}", "{'v': null}"},
		{"{'$slice': [[1, 2, 3, 4], 2]}", "{}", "{'v': [1, 2]}"},
		{"{'$slice': [[1, 2, 3, 4], -2]}", "{}", "{'v': [3, 4]}"},
		{"{'$slice': [[1, 2, 3, 4], -3, 2]}", "{}", "{'v': [2, 3]}"},
		{"{'$slice': [[1, 2, 3, 4], 10, 2]}", "{}", "{'v': []}"},
		{"{'$slice': ['$nope', 1]}", "{}", "{'v': null}"},
		{"{'$reverseArray': [[1, [2], 3]]}", "{}", "{'v': [3, [2], 1]}"},
		{"{'$concatArrays': [[1], ['$a'], []]}", "{'a': 2}", "{'v': [1, 2]}"},
		{"{'$concatArrays': [[1], '$nope']}", "{}", "{'v': null}"},
		{"{'$range': [0, 5, 2]}", "{}", "{'v': [0, 2, 4]}"},
		{"{'$range': [5, 0, -2]}", "{}", "{'v': [5, 3, 1]}"},
		{"{'$range': [0, 5, -1]}", "{}", "{'v': []}"},
		{"{'$range': [2147483646, 2147483647]}", "{}", "{'v': [2147483646]}"},
	};
	static const ExprErrorCase errors[] = {
		{"{'$arrayElemAt': [[1], 'x']}", "{}", 28690},
		{"{'$arrayElemAt': [1, 0]}", "{}", 28689},
		{"{'$arrayElemAt': [[1], 1.5]}", "{}", 28691},
		{"{'$arrayElemAt': [[1]]}", "{}", 16020},
		{"{'$size': '$nope'}", "{}", 17124},
		{"{'$in': [1, 'x']}", "{}", 40081},
		{"{'$indexOfArray': ['x', 1]}", "{}", 40090},
		{"{'$indexOfArray': [[1], 1, null]}", "{}", 9711600},
		{"{'$indexOfArray': [[1], 1, -1]}", "{}", 9711601},
		{"{'$indexOfArray': [[1]]}", "{}", 28667},
		{"{'$slice': ['x', 1]}", "{}", 28724},
		{"{'$slice': [[1], 'x']}", "{}", 28725},
		{"{'$slice': [[1], 1.5]}", "{}", 28726},
		{"{'$slice': [[1], 0, 'x']}", "{}", 28727},
		{"{'$slice': [[1], 0, 0]}", "{}", 28729},
		{"{'$reverseArray': 1}", "{}", 34435},
		{"{'$concatArrays': [[1], 1]}", "{}", 28664},
		{"{'$range': [null, 1]}", "{}", 34443},
		{"{'$range': [0.5, 1]}", "{}", 34444},
		{"{'$range': [0, 'x']}", "{}", 34445},
		{"{'$range': [0, 1, 0]}", "{}", 34449},
		/* more elements than MongoDB's $range memory limit */
		{"{'$range': [-2147483648, 2147483647]}", "{}", 146},
	};

	RUN_EXPRS(cases);
	RUN_EXPR_ERRORS(errors);
}

TEST(expr_array_variables)
{
	static const ExprCase cases[] = {
		{"{'$map': {'input': [1, 2], 'as': 'x', 'in': {'$add': ['$$x', 1]}}}", "{}", "{'v': [2, 3]}"},
		{"{'$map': {'input': '$a', 'in': '$$this.b'}}", "{'a': [{'b': 1}, {}]}", "{'v': [1, null]}"},
		{"{'$map': {'input': null, 'in': 1}}", "{}", "{'v': null}"},
		/* nested: each level has its own variable */
		{"{'$map': {'input': [[1, 2], [3]], 'as': 'o', 'in': {'$map': {'input': '$$o', 'in': {'$multiply': ['$$this', {'$size': '$$o'}]}}}}}",
		"{}", "{'v': [[2, 4], [3]]}"},
		{"{'$filter': {'input': [1, 2, 3, 4], 'cond': {'$gt': ['$$this', 1]}}}", "{}", "{'v': [2, 3, 4]}"},
		{"{'$filter': {'input': [1, 2, 3, 4], 'as': 'n', 'cond': {'$gt': ['$$n', 1]}, 'limit': 2}}",
		"{}", "{'v': [2, 3]}"},
		{"{'$filter': {'input': [1, 2], 'cond': true, 'limit': null}}", "{}", "{'v': [1, 2]}"},
		{"{'$reduce': {'input': [1, 2, 3], 'initialValue': 0, 'in': {'$add': ['$$value', '$$this']}}}",
		"{}", "{'v': 6}"},
		{"{'$reduce': {'input': [], 'initialValue': 'x', 'in': 1}}", "{}", "{'v': 'x'}"},
		{"{'$reduce': {'input': [[1], [2, 3]], 'initialValue': [], 'in': {'$concatArrays': ['$$value', '$$this']}}}",
		"{}", "{'v': [1, 2, 3]}"},
		{"{'$zip': {'inputs': [[1, 2], ['a']]}}", "{}", "{'v': [[1, 'a']]}"},
		{"{'$zip': {'inputs': [[1, 2], ['a']], 'useLongestLength': true, 'defaults': [0, 'z']}}",
		"{}", "{'v': [[1, 'a'], [2, 'z']]}"},
		{"{'$zip': {'inputs': [[1], null]}}", "{}", "{'v': null}"},
		{"{'$sortArray': {'input': [3, 'a', 1, null], 'sortBy': 1}}", "{}", "{'v': [null, 1, 3, 'a']}"},
		{"{'$sortArray': {'input': [{'a': 2, 'b': 1}, {'a': 1}, {'a': 2, 'b': 0}], 'sortBy': {'a': -1, 'b': 1}}}",
		"{}", "{'v': [{'a': 2, 'b': 0}, {'a': 2, 'b': 1}, {'a': 1}]}"},
		{"{'$sortArray': {'input': '$nope', 'sortBy': 1}}", "{}", "{'v': null}"},
	};
	static const ExprErrorCase errors[] = {
		{"{'$map': 1}", "{}", 16878},
		{"{'$map': {'input': [], 'in': 1, 'x': 1}}", "{}", 16879},
		{"{'$map': {'in': 1}}", "{}", 16880},
		{"{'$map': {'input': []}}", "{}", 16882},
		{"{'$map': {'input': 1, 'in': 1}}", "{}", 16883},
		{"{'$map': {'input': [], 'as': 1, 'in': 1}}", "{}", 9},
		{"{'$map': {'input': [], 'as': 'Bad', 'in': 1}}", "{}", 16867},
		/* the variable is not visible outside, nor in input */
		{"{'$map': {'input': '$$x', 'as': 'x', 'in': 1}}", "{}", 17276},
		{"{'$filter': []}", "{}", 28646},
		{"{'$filter': {'input': [], 'cond': 1, 'x': 1}}", "{}", 28647},
		{"{'$filter': {'cond': 1}}", "{}", 28648},
		{"{'$filter': {'input': []}}", "{}", 28650},
		{"{'$filter': {'input': 'x', 'cond': 1}}", "{}", 28651},
		{"{'$filter': {'input': [1], 'cond': 1, 'limit': 1.5}}", "{}", 327391},
		{"{'$filter': {'input': [1], 'cond': 1, 'limit': 0}}", "{}", 327392},
		{"{'$reduce': 1}", "{}", 40075},
		{"{'$reduce': {'input': [], 'initialValue': 0, 'in': 1, 'x': 1}}", "{}", 40076},
		{"{'$reduce': {'initialValue': 0, 'in': 1}}", "{}", 40077},
		{"{'$reduce': {'input': [], 'in': 1}}", "{}", 40078},
		{"{'$reduce': {'input': [], 'initialValue': 0}}", "{}", 40079},
		{"{'$reduce': {'input': 1, 'initialValue': 0, 'in': 1}}", "{}", 40080},
		{"{'$zip': 1}", "{}", 34460},
		{"{'$zip': {'inputs': 1}}", "{}", 34461},
		{"{'$zip': {'inputs': [[1]], 'useLongestLength': true, 'defaults': 1}}", "{}", 34462},
		{"{'$zip': {'inputs': [[1]], 'useLongestLength': 1}}", "{}", 34463},
		{"{'$zip': {'inputs': [[1]], 'x': 1}}", "{}", 34464},
		{"{'$zip': {}}", "{}", 34465},
		{"{'$zip': {'inputs': [[1]], 'defaults': [1]}}", "{}", 34466},
		{"{'$zip': {'inputs': [[1]], 'useLongestLength': true, 'defaults': [1, 2]}}", "{}", 34467},
		{"{'$zip': {'inputs': [[1], 'x']}}", "{}", 34468},
		{"{'$sortArray': 1}", "{}", 2942500},
		{"{'$sortArray': {'input': [], 'sortBy': 1, 'x': 1}}", "{}", 2942501},
		{"{'$sortArray': {'sortBy': 1}}", "{}", 2942502},
		{"{'$sortArray': {'input': []}}", "{}", 2942503},
		{"{'$sortArray': {'input': 1, 'sortBy': 1}}", "{}", 2942504},
		{"{'$sortArray': {'input': [], 'sortBy': {}}}", "{}", 2942505},
		{"{'$sortArray': {'input': [], 'sortBy': 2}}", "{}", 2942506},
		{"{'$sortArray': {'input': [], 'sortBy': 'x'}}", "{}", 2942507},
	};

	RUN_EXPRS(cases);
	RUN_EXPR_ERRORS(errors);
}

TEST(expr_array_sets)
{
	static const ExprCase cases[] = {
		{"{'$setUnion': [[1, 2, 1], [2.0, 3], []]}", "{}", "{'v': [1, 2, 3]}"},
		{"{'$setUnion': []}", "{}", "{'v': []}"},
		{"{'$setUnion': [[1], null]}", "{}", "{'v': null}"},
		{"{'$setIntersection': [[3, 1, 2, 1], [1, 3], [3, 1, 5]]}", "{}", "{'v': [3, 1]}"},
		{"{'$setIntersection': [[1], '$nope']}", "{}", "{'v': null}"},
		{"{'$setDifference': [[1, 2, 2, 3], [2]]}", "{}", "{'v': [1, 3]}"},
		{"{'$setDifference': [null, [2]]}", "{}", "{'v': null}"},
		{"{'$setEquals': [[1, 2, 2], [2, 1], [1.0, 2]]}", "{}", "{'v': true}"},
		{"{'$setEquals': [[1], [1, 2]]}", "{}", "{'v': false}"},
		{"{'$setIsSubset': [[1, 1], [1, 2]]}", "{}", "{'v': true}"},
		{"{'$setIsSubset': [[1, 3], [1, 2]]}", "{}", "{'v': false}"},
		{"{'$anyElementTrue': [[0, null, false]]}", "{}", "{'v': false}"},
		{"{'$anyElementTrue': [[0, [], false]]}", "{}", "{'v': true}"},
		{"{'$allElementsTrue': [[]]}", "{}", "{'v': true}"},
		{"{'$allElementsTrue': [[1, {'$numberDecimal': '0E-10'}]]}", "{}", "{'v': false}"},
		{"{'$allElementsTrue': [[1, {'$numberDecimal': '1E-6176'}]]}", "{}", "{'v': true}"},
	};
	static const ExprErrorCase errors[] = {
		{"{'$setUnion': [[1], 1]}", "{}", 17043},
		{"{'$setIntersection': 1}", "{}", 17047},
		{"{'$setDifference': [1, []]}", "{}", 17048},
		{"{'$setDifference': [[], 1]}", "{}", 17049},
		{"{'$setDifference': [[]]}", "{}", 16020},
		{"{'$setEquals': [[1]]}", "{}", 17045},
		{"{'$setEquals': [[1], 'x']}", "{}", 5887502},
		{"{'$setEquals': [[1], {'a': 1}]}", "{}", 5887502},
		{"{'$setEquals': [[1], '$nope']}", "{}", 17044},
		{"{'$setIsSubset': [null, []]}", "{}", 17046},
		{"{'$setIsSubset': [[], null]}", "{}", 17042},
		{"{'$anyElementTrue': ['$nope']}", "{}", 17041},
		{"{'$allElementsTrue': [1]}", "{}", 17040},
	};

	RUN_EXPRS(cases);
	RUN_EXPR_ERRORS(errors);
}

/* Results and loops are bounded: MongoDB's ExceededMemoryLimit (146) */
TEST(expr_array_limits)
{
	static const ExprErrorCase errors[] = {
		/* doubling an array 40 times */
		{"{'$reduce': {'input': {'$range': [0, 40]}, 'initialValue': [1], 'in': {'$concatArrays': ['$$value', '$$value']}}}",
		"{}", 146},
	};
	static const ExprCase cases[] = {
		/* a million elements is fine */
		{"{'$size': {'$range': [0, 1000000]}}", "{}", "{'v': 1000000}"},
	};

	RUN_EXPR_ERRORS(errors);
	RUN_EXPRS(cases);
}
