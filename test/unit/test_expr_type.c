/*-------------------------------------------------------------------------
 *
 * test_expr_type.c
 *	  Unit tests of the type, object and accumulator-style aggregation
 *	  expressions (src/expr_type.c, src/expr_object.c): results with their
 *	  exact BSON types, null and missing handling, and MongoDB's error
 *	  codes at parse time and at evaluation time.
 *
 * Expressions, documents and results are Extended JSON with single
 * quotes; a result is compared as the canonical Extended JSON of
 * {'r': <value>} ({} when the value is missing).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "bson_json.h"
#include "expr.h"
#include "expr_cases.h"
#include "lib/stringinfo.h"
#include "unit.h"

TEST(expr_type_and_convert)
{
	static const ExprCase cases[] = {
		{"{'$type': '$a'}", "{'a': 1}", "{'r': 'int'}"},
		{"{'$type': '$nosuch'}", "{}", "{'r': 'missing'}"},
		{"{'$isNumber': {'$numberDecimal': '1'}}", "{}", "{'r': true}"},
		{"{'$isNumber': '1'}", "{}", "{'r': false}"},
		/* numbers */
		{"{'$toInt': 1.9}", "{}", "{'r': {'$numberInt': '1'}}"},
		{"{'$toInt': -1.9}", "{}", "{'r': {'$numberInt': '-1'}}"},
		{"{'$toInt': {'$numberLong': '2147483648'}}", "{}", NULL, 241},
		{"{'$toInt': {'$numberDouble': 'NaN'}}", "{}", NULL, 241},
		{"{'$toInt': '+0042'}", "{}", "{'r': {'$numberInt': '42'}}"},
		{"{'$toInt': '1e2'}", "{}", NULL, 241},
		{"{'$toInt': ' 1'}", "{}", NULL, 241},
		{"{'$toLong': {'$numberDecimal': '-9223372036854775808.9'}}", "{}",
		"{'r': {'$numberLong': '-9223372036854775808'}}"},
		{"{'$toLong': {'$numberDecimal': '9223372036854775808'}}", "{}", NULL, 241},
		{"{'$toLong': {'$date': {'$numberLong': '-5'}}}", "{}", "{'r': {'$numberLong': '-5'}}"},
		{"{'$toDouble': '0x1p1'}", "{}", "{'r': {'$numberDouble': '2.0'}}"},
		{"{'$toDouble': '1e400'}", "{}", NULL, 241},
		{"{'$toDouble': {'$numberDecimal': '1E+400'}}", "{}", NULL, 241},
		{"{'$toDouble': {'$numberDecimal': '2.5'}}", "{}", "{'r': {'$numberDouble': '2.5'}}"},
		{"{'$toDecimal': 2.5}", "{}", "{'r': {'$numberDecimal': '2.50000000000000'}}"},
		{"{'$toDecimal': '12345678901234567890123456789012345'}", "{}",
		"{'r': {'$numberDecimal': '1.234567890123456789012345678901234E+34'}}"},
		{"{'$toDecimal': 'abc'}", "{}", NULL, 241},
		{"{'$toBool': {'$numberDecimal': '1E-6176'}}", "{}", "{'r': true}"},
		{"{'$toBool': ''}", "{}", "{'r': true}"},
		{"{'$toBool': 0}", "{}", "{'r': false}"},
		{"{'$toBool': null}", "{}", "{'r': null}"},
		/* strings, dates, ObjectIds */
		{"{'$toString': 2.5}", "{}", "{'r': '2.5'}"},
		{"{'$toString': {'$numberDecimal': '1.10'}}", "{}", "{'r': '1.10'}"},
		{"{'$toString': {'$date': {'$numberLong': '1000'}}}", "{}",
		"{'r': '1970-01-01T00:00:01.000Z'}"},
		{"{'$toString': {'$date': {'$numberLong': '253402300800000'}}}", "{}", NULL, 18537},
		{"{'$toDate': '2018-03-20T12:00:00+0500'}", "{}",
		"{'r': {'$date': {'$numberLong': '1521529200000'}}}"},
		{"{'$toDate': ' 2024-06-15 12:30:45.5 Z '}", "{}",
		"{'r': {'$date': {'$numberLong': '1718454645500'}}}"},
		{"{'$toDate': '2023-02-29'}", "{}", NULL, 241},
		{"{'$toDate': 1}", "{}", NULL, 241},
		{"{'$toDate': {'$oid': 'ffffffff0000000000000000'}}", "{}",
		"{'r': {'$date': {'$numberLong': '-1000'}}}"},
		{"{'$toObjectId': '507f1f77bcf86cd799439011'}", "{}",
		"{'r': {'$oid': '507f1f77bcf86cd799439011'}}"},
		{"{'$toObjectId': '507f1f77bcf86cd79943901g'}", "{}", NULL, 241},
		/* $convert's arguments */
		{"{'$convert': {'input': 'x', 'to': 'int', 'onError': 0}}", "{}", "{'r': {'$numberInt': '0'}}"},
		{"{'$convert': {'input': '$no', 'to': 'int', 'onNull': 'n'}}", "{}", "{'r': 'n'}"},
		{"{'$convert': {'input': '$no', 'to': 'BOOL', 'format': 1}}", "{}", "{'r': null}"},
		{"{'$convert': {'input': 1, 'to': null}}", "{}", "{'r': null}"},
		{"{'$convert': {'input': 1, 'to': 'BOOL'}}", "{}", NULL, 2},
		{"{'$convert': {'input': 1, 'to': 16}}", "{}", "{'r': {'$numberInt': '1'}}"},
		{"{'$convert': {'input': 1, 'to': {'type': null}}}", "{}", NULL, 9},
		{"{'$convert': {'input': 1, 'to': 'int', 'onError': {'$divide': [1, 0]}}}", "{}", NULL, 2},
		{"{'$convert': {'input': 1}}", "{}", NULL, 9},
		{"{'$convert': {'input': 1, 'to': 'int', 'x': 1}}", "{}", NULL, 9},
		{"{'$convert': 1}", "{}", NULL, 9},
		{"{'$toInt': [1, 2]}", "{}", NULL, 50723},
		{"{'$toInt': [' 7']}", "{}", NULL, 241},
		/* binData */
		{"{'$convert': {'input': 'aGVsbG8=', 'to': 'binData', 'format': 'base64'}}", "{}",
		"{'r': {'$binary': {'base64': 'aGVsbG8=', 'subType': '00'}}}"},
		{"{'$convert': {'input': {'$binary': {'base64': 'Pj4+Pg==', 'subType': '00'}}, 'to': 'string', 'format': 'base64url'}}",
		"{}", "{'r': 'Pj4-Pg'}"},
		{"{'$convert': {'input': {'$binary': {'base64': 'aGVsbG8=', 'subType': '00'}}, 'to': 'string'}}",
		"{}", NULL, 4341115},
		{"{'$convert': {'input': 42, 'to': 'binData', 'byteOrder': 'big'}}", "{}",
		"{'r': {'$binary': {'base64': 'AAAAKg==', 'subType': '00'}}}"},
		{"{'$convert': {'input': {'$binary': {'base64': 'AIA=', 'subType': '00'}}, 'to': 'int'}}",
		"{}", "{'r': {'$numberInt': '-32768'}}"},
		{"{'$convert': {'input': 'abc', 'to': 'binData', 'format': 'hex'}}", "{}", NULL, 241},
		{"{'$convert': {'input': 1, 'to': 'binData', 'byteOrder': 'middle'}}", "{}", NULL, 9130002},
		{"{'$convert': {'input': 1, 'to': {'type': 'binData', 'subtype': 10}}}", "{}", NULL, 4341107},
	};

	CHECK_EXPRS(cases);
}

TEST(expr_accumulators)
{
	static const ExprCase cases[] = {
		{"{'$sum': [1, 2]}", "{}", "{'r': {'$numberInt': '3'}}"},
		{"{'$sum': [2147483647, 1]}", "{}", "{'r': {'$numberLong': '2147483648'}}"},
		{"{'$sum': [{'$numberLong': '9223372036854775807'}, 1]}", "{}",
		"{'r': {'$numberDouble': '9.2233720368547758E+18'}}"},
		{"{'$sum': '$a'}", "{'a': [1, 'x', 2.5, null]}", "{'r': {'$numberDouble': '3.5'}}"},
		{"{'$sum': '$a'}", "{'a': 'x'}", "{'r': {'$numberInt': '0'}}"},
		{"{'$sum': [[1, 2], 3]}", "{}", "{'r': {'$numberInt': '3'}}"},
		{"{'$sum': [{'$numberDecimal': '0.5'}, 0.5]}", "{}", "{'r': {'$numberDecimal': '1.0'}}"},
		{"{'$sum': [{'$numberDecimal': '1'}, 3.14]}", "{}",
		"{'r': {'$numberDecimal': '4.140000000000000124344978758017533'}}"},
		{"{'$sum': [{'$numberDouble': 'Infinity'}, 1]}", "{}",
		"{'r': {'$numberDouble': 'Infinity'}}"},
		{"{'$avg': [1, 2]}", "{}", "{'r': {'$numberDouble': '1.5'}}"},
		{"{'$avg': '$a'}", "{'a': []}", "{'r': null}"},
		{"{'$avg': [{'$numberDecimal': '1'}, {'$numberDecimal': '2'}]}", "{}",
		"{'r': {'$numberDecimal': '1.5'}}"},
		{"{'$avg': [{'$numberDecimal': '1'}, 0, 0]}", "{}",
		"{'r': {'$numberDecimal': '0.3333333333333333333333333333333333'}}"},
		{"{'$min': [3, null, 1, 'a']}", "{}", "{'r': {'$numberInt': '1'}}"},
		{"{'$max': [3, null, 1, 'a']}", "{}", "{'r': 'a'}"},
		{"{'$max': '$a'}", "{'a': [null]}", "{'r': null}"},
		{"{'$min': []}", "{}", "{'r': null}"},
		{"{'$stdDevPop': [1, 3]}", "{}", "{'r': {'$numberDouble': '1.0'}}"},
		{"{'$stdDevSamp': [1]}", "{}", "{'r': null}"},
		{"{'$stdDevSamp': [1, 3]}", "{}", "{'r': {'$numberDouble': '1.4142135623730951'}}"},
		{"{'$avg': '$'}", "{}", NULL, 16872},
		{"{'$avg': '$$'}", "{}", NULL, 9},
	};

	CHECK_EXPRS(cases);
}

TEST(expr_objects)
{
	static const ExprCase cases[] = {
		{"{'$mergeObjects': [{'a': 1, 'b': 1}, null, {'a': 2, 'c': 3}]}", "{}",
		"{'r': {'a': 2, 'b': 1, 'c': 3}}"},
		{"{'$mergeObjects': '$a'}", "{'a': [{'x': 1}, {'x': 2, 'y': 3}]}", "{'r': {'x': 2, 'y': 3}}"},
		{"{'$mergeObjects': []}", "{}", "{'r': {}}"},
		{"{'$mergeObjects': [{'a': 1}, 'x']}", "{}", NULL, 40400},
		{"{'$getField': 'a.b'}", "{'a.b': 1}", "{'r': {'$numberInt': '1'}}"},
		{"{'$getField': {'field': 'x', 'input': 5}}", "{}", "{}"},
		{"{'$getField': {'field': 'x', 'input': null}}", "{}", "{'r': null}"},
		{"{'$getField': {'field': '$x', 'input': {}}}", "{}", NULL, 5654602},
		{"{'$getField': {'field': 1, 'input': {}}}", "{}", NULL, 3041704},
		{"{'$getField': {'input': {}}}", "{}", NULL, 3041702},
		{"{'$setField': {'field': 'b', 'input': {'a': 1, 'b': 2, 'c': 3}, 'value': 9}}", "{}",
		"{'r': {'a': 1, 'b': 9, 'c': 3}}"},
		{"{'$setField': {'field': {'$literal': '$x'}, 'input': {}, 'value': 1}}", "{}",
		"{'r': {'$x': 1}}"},
		{"{'$setField': {'field': 'b', 'input': {'b': 2}, 'value': '$$REMOVE'}}", "{}", "{'r': {}}"},
		{"{'$setField': {'field': 'b', 'input': 1, 'value': 1}}", "{}", NULL, 4161105},
		{"{'$setField': {'field': {'$toString': 'a'}, 'input': {}, 'value': 1}}", "{}", NULL, 4161106},
		{"{'$setField': {'field': 1, 'input': {}, 'value': 1}}", "{}", NULL, 4161107},
		{"{'$setField': {'field': 'x', 'value': 1}}", "{}", NULL, 4161109},
		{"{'$setField': 1}", "{}", NULL, 4161100},
		{"{'$unsetField': {'field': 'a', 'input': {'a': 1, 'b': 2}}}", "{}", "{'r': {'b': 2}}"},
		{"{'$unsetField': {'field': '$x', 'input': {}}}", "{}", NULL, 4161108},
		{"{'$unsetField': {'field': 'a', 'input': {}, 'value': 1}}", "{}", NULL, 4161101},
		{"{'$objectToArray': {'a': 1}}", "{}", "{'r': [{'k': 'a', 'v': {'$numberInt': '1'}}]}"},
		{"{'$objectToArray': 1}", "{}", NULL, 40390},
		{"{'$arrayToObject': [[['a', 1], ['b', 2], ['a', 3]]]}", "{}",
		"{'r': {'a': {'$numberInt': '3'}, 'b': {'$numberInt': '2'}}}"},
		{"{'$arrayToObject': [[{'k': 'a', 'v': 1}]]}", "{}", "{'r': {'a': {'$numberInt': '1'}}}"},
		{"{'$arrayToObject': [[['a', 1], {'k': 'b', 'v': 2}]]}", "{}", NULL, 40396},
		{"{'$arrayToObject': [[['a']]]}", "{}", NULL, 40397},
		{"{'$arrayToObject': [[{'k': 1, 'v': 2}]]}", "{}", NULL, 40394},
		{"{'$arrayToObject': [[1]]}", "{}", NULL, 40398},
		{"{'$arrayToObject': 'x'}", "{}", NULL, 40386},
	};

	CHECK_EXPRS(cases);
}
