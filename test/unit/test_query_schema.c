/*-------------------------------------------------------------------------
 *
 * test_query_schema.c
 *	  Unit tests of $jsonSchema (query_schema.c): every keyword's
 *	  semantics, the keywords that ignore values of other types, numbers
 *	  across types, combination with the other operators, and the error
 *	  codes of malformed schemas.
 *
 * Expected results follow MongoDB's documentation of $jsonSchema and the
 * recorded behaviour of MongoDB 8 (functional-tests.jsonl).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "query.h"
#include "query_cases.h"
#include "unit.h"


/* ----------------------------------------------------------------
 *		Types
 * ----------------------------------------------------------------
 */

TEST(schema_types)
{
	static const MatchCase cases[] = {
		{"{'$jsonSchema': {}}", "{'a': 1}", true},
		{"{'$jsonSchema': {'bsonType': 'object'}}", "{'a': 1}", true},
		{"{'$jsonSchema': {'type': 'object'}}", "{'a': 1}", true},
		/* the document is an object: other top-level types match nothing */
		{"{'$jsonSchema': {'type': 'string'}}", "{'a': 1}", false},
		{"{'$jsonSchema': {'bsonType': ['string', 'array']}}", "{'a': 1}", false},
		{"{'$jsonSchema': {'type': ['string', 'object']}}", "{'a': 1}", true},
		/* a property's type, exact */
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'int'}}}}", "{'x': 1}", true},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'int'}}}}", "{'x': 1.0}", false},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'int'}}}}",
		"{'x': {'$numberLong': '1'}}", false},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'long'}}}}",
		"{'x': {'$numberLong': '1'}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'long'}}}}", "{'x': 1}", false},
		/* a missing property is not checked */
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'int'}}}}", "{'y': 'a'}", true},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'number'}}}}", "{'x': 1.5}", true},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'number'}}}}",
		"{'x': {'$numberDecimal': '1'}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'number'}}}}", "{'x': '1'}", false},
		{"{'$jsonSchema': {'properties': {'x': {'type': 'number'}}}}", "{'x': 2}", true},
		{"{'$jsonSchema': {'properties': {'x': {'type': 'boolean'}}}}", "{'x': true}", true},
		{"{'$jsonSchema': {'properties': {'x': {'type': 'boolean'}}}}", "{'x': 1}", false},
		{"{'$jsonSchema': {'properties': {'x': {'type': 'null'}}}}", "{'x': null}", true},
		{"{'$jsonSchema': {'properties': {'x': {'type': 'string'}}}}", "{'x': 'a'}", true},
		{"{'$jsonSchema': {'properties': {'x': {'type': 'string'}}}}",
		"{'x': {'$symbol': 'a'}}", false},
		{"{'$jsonSchema': {'properties': {'x': {'type': 'object'}}}}", "{'x': {}}", true},
		/* arrays are values: never traversed */
		{"{'$jsonSchema': {'properties': {'x': {'type': 'array'}}}}", "{'x': [1]}", true},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'int'}}}}", "{'x': [1]}", false},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'array'}}}}", "{'x': 1}", false},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': ['int', 'string']}}}}",
		"{'x': 'a'}", true},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': ['int', 'string']}}}}",
		"{'x': true}", false},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'objectId'}}}}",
		"{'x': {'$oid': '57e193d7a9cc81b4027498b5'}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'date'}}}}",
		"{'x': {'$date': '2020-01-01T00:00:00Z'}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'binData'}}}}",
		"{'x': {'$binary': {'base64': 'AQI=', 'subType': '00'}}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'regex'}}}}",
		"{'x': {'$regularExpression': {'pattern': 'a', 'options': ''}}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'timestamp'}}}}",
		"{'x': {'$timestamp': {'t': 1, 'i': 2}}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'decimal'}}}}",
		"{'x': {'$numberDecimal': '1.5'}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'double'}}}}", "{'x': 1.5}", true},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'minKey'}}}}",
		"{'x': {'$minKey': 1}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'maxKey'}}}}",
		"{'x': {'$maxKey': 1}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'maxKey'}}}}",
		"{'x': {'$minKey': 1}}", false},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'javascript'}}}}",
		"{'x': {'$code': 'f()'}}", true},
	};

	RUN_MATCHES(cases);
}


/* ----------------------------------------------------------------
 *		Numbers
 * ----------------------------------------------------------------
 */

TEST(schema_numbers)
{
	static const MatchCase cases[] = {
		{"{'$jsonSchema': {'properties': {'x': {'minimum': 5}}}}", "{'x': 5}", true},
		{"{'$jsonSchema': {'properties': {'x': {'minimum': 5}}}}", "{'x': 4}", false},
		{"{'$jsonSchema': {'properties': {'x': {'minimum': 5}}}}", "{'x': 4.9}", false},
		{"{'$jsonSchema': {'properties': {'x': {'minimum': 5}}}}",
		"{'x': {'$numberDecimal': '5.0'}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'minimum': 5}}}}",
		"{'x': {'$numberLong': '6'}}", true},
		/* numeric keywords ignore everything but numbers */
		{"{'$jsonSchema': {'properties': {'x': {'minimum': 5}}}}", "{'x': 'a'}", true},
		{"{'$jsonSchema': {'properties': {'x': {'minimum': 5}}}}", "{'x': [1]}", true},
		{"{'$jsonSchema': {'minimum': 5}}", "{'x': 1}", true},
		/* NaN is above and below nothing, but is its own bound */
		{"{'$jsonSchema': {'properties': {'x': {'minimum': 5}}}}",
		"{'x': {'$numberDouble': 'NaN'}}", false},
		{"{'$jsonSchema': {'properties': {'x': {'maximum': 5}}}}",
		"{'x': {'$numberDouble': 'NaN'}}", false},
		{"{'$jsonSchema': {'properties': {'x': {'maximum': {'$numberDouble': 'NaN'}}}}}",
		"{'x': {'$numberDecimal': 'NaN'}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'maximum': {'$numberDouble': 'NaN'}}}}}",
		"{'x': 1}", false},
		{"{'$jsonSchema': {'properties': {'x': {'maximum': {'$numberDouble': 'NaN'}, "
			"'exclusiveMaximum': true}}}}", "{'x': {'$numberDouble': 'NaN'}}", false},
		{"{'$jsonSchema': {'properties': {'x': {'minimum': 5, 'exclusiveMinimum': true}}}}",
		"{'x': 5}", false},
		{"{'$jsonSchema': {'properties': {'x': {'minimum': 5, 'exclusiveMinimum': true}}}}",
		"{'x': 5.1}", true},
		{"{'$jsonSchema': {'properties': {'x': {'minimum': 5, 'exclusiveMinimum': false}}}}",
		"{'x': 5}", true},
		{"{'$jsonSchema': {'properties': {'x': {'maximum': 10, 'exclusiveMaximum': true}}}}",
		"{'x': 10}", false},
		{"{'$jsonSchema': {'properties': {'x': {'maximum': 10, 'exclusiveMaximum': true}}}}",
		"{'x': 9}", true},
		{"{'$jsonSchema': {'properties': {'x': {'maximum': 10}}}}", "{'x': 10.0}", true},
		{"{'$jsonSchema': {'properties': {'x': {'maximum': 10}}}}",
		"{'x': {'$numberDouble': 'Infinity'}}", false},
		/* exact across int64 and double */
		{"{'$jsonSchema': {'properties': {'x': {'minimum': {'$numberLong': '9007199254740993'}}}}}",
		"{'x': 9007199254740992.0}", false},
		{"{'$jsonSchema': {'properties': {'x': {'minimum': 1, 'maximum': 3}}}}",
		"{'x': 2}", true},
		{"{'$jsonSchema': {'properties': {'x': {'minimum': 1, 'maximum': 3}}}}",
		"{'x': 4}", false},
	};

	RUN_MATCHES(cases);
}

TEST(schema_multiple_of)
{
	static const MatchCase cases[] = {
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 3}}}}", "{'x': 9}", true},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 3}}}}", "{'x': 10}", false},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 3}}}}", "{'x': -9}", true},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 3}}}}", "{'x': 0}", true},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 3}}}}", "{'x': 9.0}", true},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 3}}}}", "{'x': 9.5}", false},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 3}}}}",
		"{'x': {'$numberDecimal': '9.00'}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 3}}}}",
		"{'x': {'$numberLong': '-9223372036854775808'}}", false},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 2}}}}",
		"{'x': {'$numberLong': '-9223372036854775808'}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 3}}}}",
		"{'x': {'$numberDouble': 'NaN'}}", false},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 3}}}}",
		"{'x': {'$numberDouble': 'Infinity'}}", false},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 3}}}}", "{'x': 'a'}", true},
		/* in decimal, doubles taken to 15 digits: 0.3 is a multiple of 0.1 */
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 0.1}}}}", "{'x': 0.3}", true},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 0.1}}}}", "{'x': 0.5}", true},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 0.1}}}}", "{'x': 0.35}", false},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': {'$numberDecimal': '0.01'}}}}}",
		"{'x': 1.23}", true},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': {'$numberDecimal': '0.01'}}}}}",
		"{'x': 1.234}", false},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 1e-300}}}}", "{'x': 1}", true},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 1e300}}}}", "{'x': 1e300}", true},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 1e300}}}}", "{'x': 1}", false},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 2}}}}",
		"{'x': {'$numberDecimal': '1E+6000'}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': 3}}}}",
		"{'x': {'$numberDecimal': '1E+6000'}}", false},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': {'$numberDecimal': '1E+6000'}}}}}",
		"{'x': {'$numberDecimal': '1E-6000'}}", false},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': {'$numberLong': '1000000000000'}}}}}",
		"{'x': {'$numberLong': '3000000000000'}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': {'$numberDouble': 'Infinity'}}}}}",
		"{'x': 0}", true},
		{"{'$jsonSchema': {'properties': {'x': {'multipleOf': {'$numberDouble': 'Infinity'}}}}}",
		"{'x': 5}", false},
	};

	RUN_MATCHES(cases);
}


/* ----------------------------------------------------------------
 *		Strings
 * ----------------------------------------------------------------
 */

TEST(schema_strings)
{
	static const MatchCase cases[] = {
		{"{'$jsonSchema': {'properties': {'x': {'minLength': 2}}}}", "{'x': 'ab'}", true},
		{"{'$jsonSchema': {'properties': {'x': {'minLength': 2}}}}", "{'x': 'a'}", false},
		{"{'$jsonSchema': {'properties': {'x': {'minLength': 2.0}}}}", "{'x': 'a'}", false},
		/* lengths count code points, not bytes */
		{"{'$jsonSchema': {'properties': {'x': {'minLength': 2}}}}", "{'x': '\\u00e9'}", false},
		{"{'$jsonSchema': {'properties': {'x': {'maxLength': 1}}}}", "{'x': '\\u00e9'}", true},
		{"{'$jsonSchema': {'properties': {'x': {'maxLength': 2}}}}",
		"{'x': '\\u65e5\\u672c'}", true},
		{"{'$jsonSchema': {'properties': {'x': {'maxLength': 1}}}}",
		"{'x': '\\u65e5\\u672c'}", false},
		{"{'$jsonSchema': {'properties': {'x': {'maxLength': 0}}}}", "{'x': ''}", true},
		/* string keywords ignore everything but strings */
		{"{'$jsonSchema': {'properties': {'x': {'minLength': 2}}}}", "{'x': 1}", true},
		{"{'$jsonSchema': {'properties': {'x': {'minLength': 2}}}}", "{'x': ['a']}", true},
		{"{'$jsonSchema': {'properties': {'x': {'minLength': 2}}}}",
		"{'x': {'$symbol': 'a'}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'pattern': '^a'}}}}", "{'x': 'abc'}", true},
		{"{'$jsonSchema': {'properties': {'x': {'pattern': '^a'}}}}", "{'x': 'bc'}", false},
		/* unanchored */
		{"{'$jsonSchema': {'properties': {'x': {'pattern': 'b'}}}}", "{'x': 'abc'}", true},
		{"{'$jsonSchema': {'properties': {'x': {'pattern': '^a'}}}}", "{'x': 1}", true},
		{"{'$jsonSchema': {'properties': {'x': {'pattern': '^a'}}}}",
		"{'x': {'$symbol': 'b'}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'pattern': '^.$'}}}}", "{'x': '\\u00e9'}", true},
		{"{'$jsonSchema': {'properties': {'x': {'pattern': '^[a-z]+$', 'minLength': 2, "
			"'maxLength': 3}}}}", "{'x': 'abc'}", true},
		{"{'$jsonSchema': {'properties': {'x': {'pattern': '^[a-z]+$', 'minLength': 2, "
			"'maxLength': 3}}}}", "{'x': 'abcd'}", false},
	};

	RUN_MATCHES(cases);
}


/* ----------------------------------------------------------------
 *		Arrays
 * ----------------------------------------------------------------
 */

TEST(schema_arrays)
{
	static const MatchCase cases[] = {
		{"{'$jsonSchema': {'properties': {'x': {'minItems': 2}}}}", "{'x': [1, 2]}", true},
		{"{'$jsonSchema': {'properties': {'x': {'minItems': 2}}}}", "{'x': [1]}", false},
		{"{'$jsonSchema': {'properties': {'x': {'maxItems': 1}}}}", "{'x': [1, 2]}", false},
		{"{'$jsonSchema': {'properties': {'x': {'maxItems': 1}}}}", "{'x': []}", true},
		{"{'$jsonSchema': {'properties': {'x': {'maxItems': 1}}}}", "{'x': 'abc'}", true},
		{"{'$jsonSchema': {'properties': {'x': {'uniqueItems': true}}}}", "{'x': [1, 2]}", true},
		{"{'$jsonSchema': {'properties': {'x': {'uniqueItems': true}}}}", "{'x': [1, 1]}", false},
		{"{'$jsonSchema': {'properties': {'x': {'uniqueItems': true}}}}", "{'x': [1, 1.0]}", false},
		{"{'$jsonSchema': {'properties': {'x': {'uniqueItems': true}}}}",
		"{'x': [{'a': 1, 'b': 2}, {'b': 2, 'a': 1}]}", false},
		{"{'$jsonSchema': {'properties': {'x': {'uniqueItems': true}}}}",
		"{'x': [{'a': 1}, {'a': 1, 'b': 2}]}", true},
		{"{'$jsonSchema': {'properties': {'x': {'uniqueItems': true}}}}",
		"{'x': ['abc', 'ABC']}", true},
		{"{'$jsonSchema': {'properties': {'x': {'uniqueItems': true}}}}",
		"{'x': [[1], [1]]}", false},
		{"{'$jsonSchema': {'properties': {'x': {'uniqueItems': true}}}}",
		"{'x': [[1, 2], [2, 1]]}", true},
		{"{'$jsonSchema': {'properties': {'x': {'uniqueItems': true}}}}",
		"{'x': [1, '1', true, null]}", true},
		{"{'$jsonSchema': {'properties': {'x': {'uniqueItems': false}}}}", "{'x': [1, 1]}", true},
		{"{'$jsonSchema': {'properties': {'x': {'items': {'bsonType': 'int'}}}}}",
		"{'x': [1, 2]}", true},
		{"{'$jsonSchema': {'properties': {'x': {'items': {'bsonType': 'int'}}}}}",
		"{'x': [1, 'a']}", false},
		{"{'$jsonSchema': {'properties': {'x': {'items': {'bsonType': 'int'}}}}}",
		"{'x': []}", true},
		{"{'$jsonSchema': {'properties': {'x': {'items': {'bsonType': 'int'}}}}}",
		"{'x': 'a'}", true},
		/* items as a list: by position, then additionalItems */
		{"{'$jsonSchema': {'properties': {'x': {'items': [{'bsonType': 'int'}, "
			"{'bsonType': 'string'}]}}}}", "{'x': [1, 'a']}", true},
		{"{'$jsonSchema': {'properties': {'x': {'items': [{'bsonType': 'int'}, "
			"{'bsonType': 'string'}]}}}}", "{'x': ['a', 1]}", false},
		{"{'$jsonSchema': {'properties': {'x': {'items': [{'bsonType': 'int'}, "
			"{'bsonType': 'string'}]}}}}", "{'x': [1, 'a', true]}", true},
		{"{'$jsonSchema': {'properties': {'x': {'items': [{'bsonType': 'int'}, "
			"{'bsonType': 'string'}]}}}}", "{'x': [1]}", true},
		{"{'$jsonSchema': {'properties': {'x': {'items': [{'bsonType': 'int'}, "
			"{'bsonType': 'string'}], 'additionalItems': false}}}}", "{'x': [1, 'a', true]}", false},
		{"{'$jsonSchema': {'properties': {'x': {'items': [{'bsonType': 'int'}, "
			"{'bsonType': 'string'}], 'additionalItems': false}}}}", "{'x': [1, 'a']}", true},
		{"{'$jsonSchema': {'properties': {'x': {'items': [{'bsonType': 'int'}], "
			"'additionalItems': {'bsonType': 'bool'}}}}}", "{'x': [1, true, false]}", true},
		{"{'$jsonSchema': {'properties': {'x': {'items': [{'bsonType': 'int'}], "
			"'additionalItems': {'bsonType': 'bool'}}}}}", "{'x': [1, true, 2]}", false},
		{"{'$jsonSchema': {'properties': {'x': {'items': [], 'additionalItems': false}}}}",
		"{'x': []}", true},
		{"{'$jsonSchema': {'properties': {'x': {'items': [], 'additionalItems': false}}}}",
		"{'x': [1]}", false},
		/* additionalItems means nothing without a list of items */
		{"{'$jsonSchema': {'properties': {'x': {'items': {}, 'additionalItems': false}}}}",
		"{'x': [1, 2, 3]}", true},
		{"{'$jsonSchema': {'properties': {'x': {'additionalItems': false}}}}",
		"{'x': [1, 2, 3]}", true},
		/* nested arrays */
		{"{'$jsonSchema': {'properties': {'x': {'items': {'items': {'minimum': 0}}}}}}",
		"{'x': [[1, 2], [3]]}", true},
		{"{'$jsonSchema': {'properties': {'x': {'items': {'items': {'minimum': 0}}}}}}",
		"{'x': [[1, 2], [-3]]}", false},
	};

	RUN_MATCHES(cases);
}


/* ----------------------------------------------------------------
 *		Objects
 * ----------------------------------------------------------------
 */

TEST(schema_objects)
{
	static const MatchCase cases[] = {
		{"{'$jsonSchema': {'required': ['a']}}", "{'a': null}", true},
		{"{'$jsonSchema': {'required': ['a']}}", "{'b': 1}", false},
		{"{'$jsonSchema': {'required': ['a', 'b']}}", "{'a': 1, 'b': 1}", true},
		{"{'$jsonSchema': {'required': ['a', 'b']}}", "{'a': 1}", false},
		/* names are literal: no paths */
		{"{'$jsonSchema': {'required': ['a.b']}}", "{'a': {'b': 1}}", false},
		{"{'$jsonSchema': {'properties': {'a.b': {'bsonType': 'int'}}}}",
		"{'a': {'b': 'x'}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'required': ['y']}}}}", "{'x': {'y': 1}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'required': ['y']}}}}", "{'x': {}}", false},
		{"{'$jsonSchema': {'properties': {'x': {'required': ['y']}}}}", "{'x': 5}", true},
		{"{'$jsonSchema': {'properties': {'x': {'required': ['y']}}}}", "{'x': [{}]}", true},
		{"{'$jsonSchema': {'properties': {'a': {'properties': {'b': {'bsonType': 'string'}}}}}}",
		"{'a': {'b': 'x'}}", true},
		{"{'$jsonSchema': {'properties': {'a': {'properties': {'b': {'bsonType': 'string'}}}}}}",
		"{'a': {'b': 1}}", false},
		/* an array of objects is not an object */
		{"{'$jsonSchema': {'properties': {'a': {'properties': {'b': {'bsonType': 'string'}}}}}}",
		"{'a': [{'b': 1}]}", true},
		{"{'$jsonSchema': {'minProperties': 2}}", "{'_id': 1, 'a': 1}", true},
		{"{'$jsonSchema': {'minProperties': 2}}", "{'_id': 1}", false},
		{"{'$jsonSchema': {'maxProperties': 1}}", "{'_id': 1, 'a': 1}", false},
		{"{'$jsonSchema': {'maxProperties': 1}}", "{'_id': 1}", true},
		{"{'$jsonSchema': {'properties': {'x': {'maxProperties': 0}}}}", "{'x': {}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'maxProperties': 0}}}}", "{'x': {'a': 1}}", false},
		/* additionalProperties counts _id at the top level */
		{"{'$jsonSchema': {'properties': {'_id': {}, 'a': {}}, 'additionalProperties': false}}",
		"{'_id': 1, 'a': 1}", true},
		{"{'$jsonSchema': {'properties': {'_id': {}, 'a': {}}, 'additionalProperties': false}}",
		"{'_id': 1, 'b': 1}", false},
		{"{'$jsonSchema': {'properties': {'a': {}}, 'additionalProperties': false}}",
		"{'_id': 1, 'a': 1}", false},
		{"{'$jsonSchema': {'additionalProperties': true}}", "{'_id': 1, 'a': 1}", true},
		{"{'$jsonSchema': {'properties': {'_id': {}}, 'additionalProperties': "
			"{'bsonType': 'int'}}}", "{'_id': 'x', 'b': 1}", true},
		{"{'$jsonSchema': {'properties': {'_id': {}}, 'additionalProperties': "
			"{'bsonType': 'int'}}}", "{'_id': 'x', 'b': 'y'}", false},
		{"{'$jsonSchema': {'patternProperties': {'^s_': {'bsonType': 'string'}}}}",
		"{'s_a': 'x', 'b': 1}", true},
		{"{'$jsonSchema': {'patternProperties': {'^s_': {'bsonType': 'string'}}}}",
		"{'s_a': 1}", false},
		/* a property matching a pattern must satisfy both */
		{"{'$jsonSchema': {'properties': {'s_a': {'minLength': 2}}, "
			"'patternProperties': {'^s_': {'bsonType': 'string'}}}}", "{'s_a': 'x'}", false},
		{"{'$jsonSchema': {'properties': {'_id': {}}, 'patternProperties': {'^x': {}}, "
			"'additionalProperties': false}}", "{'_id': 1, 'xa': 1}", true},
		{"{'$jsonSchema': {'properties': {'_id': {}}, 'patternProperties': {'^x': {}}, "
			"'additionalProperties': false}}", "{'_id': 1, 'y': 1}", false},
		{"{'$jsonSchema': {'dependencies': {'a': ['b']}}}", "{'a': 1, 'b': 1}", true},
		{"{'$jsonSchema': {'dependencies': {'a': ['b']}}}", "{'a': 1}", false},
		{"{'$jsonSchema': {'dependencies': {'a': ['b']}}}", "{'b': 1}", true},
		{"{'$jsonSchema': {'dependencies': {'a': {'required': ['c']}}}}", "{'a': 1, 'c': 1}", true},
		{"{'$jsonSchema': {'dependencies': {'a': {'required': ['c']}}}}", "{'a': 1}", false},
		{"{'$jsonSchema': {'dependencies': {'a': {'required': ['c']}}}}", "{'b': 1}", true},
		{"{'$jsonSchema': {'properties': {'x': {'dependencies': {'a': {'properties': "
			"{'b': {'bsonType': 'int'}}}}}}}}", "{'x': {'a': 1, 'b': 'no'}}", false},
		{"{'$jsonSchema': {'properties': {'x': {'dependencies': {'a': {'properties': "
			"{'b': {'bsonType': 'int'}}}}}}}}", "{'x': {'a': 1, 'b': 2}}", true},
	};

	RUN_MATCHES(cases);
}


/* ----------------------------------------------------------------
 *		enum, logic, encrypt
 * ----------------------------------------------------------------
 */

TEST(schema_enum)
{
	static const MatchCase cases[] = {
		{"{'$jsonSchema': {'properties': {'x': {'enum': [1, 2]}}}}", "{'x': 1}", true},
		{"{'$jsonSchema': {'properties': {'x': {'enum': [1, 2]}}}}", "{'x': 1.0}", true},
		{"{'$jsonSchema': {'properties': {'x': {'enum': [1, 2]}}}}",
		"{'x': {'$numberDecimal': '2.00'}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'enum': [1, 2]}}}}", "{'x': 3}", false},
		{"{'$jsonSchema': {'properties': {'x': {'enum': [1, 2]}}}}", "{'x': '1'}", false},
		{"{'$jsonSchema': {'properties': {'x': {'enum': [1, 2]}}}}", "{'x': [1]}", false},
		{"{'$jsonSchema': {'properties': {'x': {'enum': ['abc']}}}}", "{'x': 'ABC'}", false},
		{"{'$jsonSchema': {'properties': {'x': {'enum': ['a', null]}}}}", "{'x': null}", true},
		/* enum says nothing about a missing property */
		{"{'$jsonSchema': {'properties': {'x': {'enum': [1]}}}}", "{'y': 1}", true},
		{"{'$jsonSchema': {'properties': {'x': {'enum': [{'a': 1, 'b': 2}]}}}}",
		"{'x': {'b': 2, 'a': 1}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'enum': [{'a': 1, 'b': 2}]}}}}",
		"{'x': {'a': 1}}", false},
		{"{'$jsonSchema': {'properties': {'x': {'enum': [[1, 2]]}}}}", "{'x': [1, 2]}", true},
		{"{'$jsonSchema': {'properties': {'x': {'enum': [[1, 2]]}}}}", "{'x': [2, 1]}", false},
		{"{'$jsonSchema': {'properties': {'x': {'enum': [[{'a': 1, 'b': 1}]]}}}}",
		"{'x': [{'b': 1, 'a': 1}]}", true},
		/* at the top level: the whole document */
		{"{'$jsonSchema': {'enum': [{'_id': 1, 'a': 1}, 5]}}", "{'a': 1, '_id': 1}", true},
		{"{'$jsonSchema': {'enum': [{'_id': 1, 'a': 1}]}}", "{'_id': 2}", false},
		{"{'$jsonSchema': {'properties': {'x': {'bsonType': 'int', 'enum': [1, 'a']}}}}",
		"{'x': 'a'}", false},
	};

	RUN_MATCHES(cases);
}

TEST(schema_logic)
{
	static const MatchCase cases[] = {
		{"{'$jsonSchema': {'properties': {'x': {'allOf': [{'minimum': 1}, {'maximum': 5}]}}}}",
		"{'x': 3}", true},
		{"{'$jsonSchema': {'properties': {'x': {'allOf': [{'minimum': 1}, {'maximum': 5}]}}}}",
		"{'x': 6}", false},
		{"{'$jsonSchema': {'properties': {'x': {'anyOf': [{'bsonType': 'int'}, "
			"{'bsonType': 'string'}]}}}}", "{'x': 'a'}", true},
		{"{'$jsonSchema': {'properties': {'x': {'anyOf': [{'bsonType': 'int'}, "
			"{'bsonType': 'string'}]}}}}", "{'x': true}", false},
		{"{'$jsonSchema': {'properties': {'x': {'oneOf': [{'multipleOf': 3}, "
			"{'multipleOf': 5}]}}}}", "{'x': 3}", true},
		{"{'$jsonSchema': {'properties': {'x': {'oneOf': [{'multipleOf': 3}, "
			"{'multipleOf': 5}]}}}}", "{'x': 15}", false},
		{"{'$jsonSchema': {'properties': {'x': {'oneOf': [{'multipleOf': 3}, "
			"{'multipleOf': 5}]}}}}", "{'x': 7}", false},
		{"{'$jsonSchema': {'properties': {'x': {'not': {'bsonType': 'string'}}}}}",
		"{'x': 'a'}", false},
		{"{'$jsonSchema': {'properties': {'x': {'not': {'bsonType': 'string'}}}}}",
		"{'x': 1}", true},
		{"{'$jsonSchema': {'not': {}}}", "{'a': 1}", false},
		{"{'$jsonSchema': {'not': {'required': ['a']}}}", "{'b': 1}", true},
		{"{'$jsonSchema': {'not': {'required': ['a']}}}", "{'a': 1}", false},
		{"{'$jsonSchema': {'anyOf': [{'required': ['a']}, {'required': ['b']}]}}",
		"{'b': 1}", true},
		{"{'$jsonSchema': {'oneOf': [{'required': ['a']}, {'required': ['b']}]}}",
		"{'a': 1, 'b': 1}", false},
		{"{'$jsonSchema': {'title': 't', 'description': 'd'}}", "{'a': 1}", true},
	};

	RUN_MATCHES(cases);
}

TEST(schema_encrypt)
{
	static const MatchCase cases[] = {
		{"{'$jsonSchema': {'properties': {'x': {'encrypt': {}}}}}",
		"{'x': {'$binary': {'base64': 'AQI=', 'subType': '06'}}}", true},
		{"{'$jsonSchema': {'properties': {'x': {'encrypt': {}}}}}",
		"{'x': {'$binary': {'base64': 'AQI=', 'subType': '00'}}}", false},
		{"{'$jsonSchema': {'properties': {'x': {'encrypt': {'bsonType': 'string', "
			"'algorithm': 'AEAD_AES_256_CBC_HMAC_SHA_512-Random', 'keyId': '/k'}}}}}",
		"{'x': 'plain'}", false},
		{"{'$jsonSchema': {'properties': {'x': {'encrypt': {}}}}}", "{'y': 1}", true},
	};

	RUN_MATCHES(cases);
}


/* ----------------------------------------------------------------
 *		With the other operators
 * ----------------------------------------------------------------
 */

TEST(schema_in_filters)
{
	static const MatchCase cases[] = {
		{"{'$jsonSchema': {'required': ['a']}, 'b': 1}", "{'a': 1, 'b': 1}", true},
		{"{'$jsonSchema': {'required': ['a']}, 'b': 1}", "{'a': 1, 'b': 2}", false},
		{"{'b': 1, '$jsonSchema': {'required': ['a']}}", "{'b': 1}", false},
		{"{'$or': [{'$jsonSchema': {'required': ['a']}}, {'b': 1}]}", "{'b': 1}", true},
		{"{'$or': [{'$jsonSchema': {'required': ['a']}}, {'b': 1}]}", "{'b': 2}", false},
		{"{'$nor': [{'$jsonSchema': {'required': ['a']}}]}", "{'a': 1}", false},
		{"{'$nor': [{'$jsonSchema': {'required': ['a']}}]}", "{'b': 1}", true},
		{"{'$and': [{'$jsonSchema': {'required': ['a']}}, {'$jsonSchema': {'required': ['b']}}]}",
		"{'a': 1, 'b': 1}", true},
		/* in an $elemMatch: each element that is a document */
		{"{'arr': {'$elemMatch': {'$jsonSchema': {'required': ['a']}}}}",
		"{'arr': [{'b': 1}, {'a': 1}]}", true},
		{"{'arr': {'$elemMatch': {'$jsonSchema': {'required': ['a']}}}}",
		"{'arr': [{'b': 1}, 5]}", false},
	};

	RUN_MATCHES(cases);
}

/*
 * NestedSchema
 *		{$jsonSchema: {not: {not: ... {}}}} with depth "not"s, built as BSON
 *		(deeper than the JSON parser accepts).
 */
static bson_t *
NestedSchema(int depth)
{
	bson_t	   *inner = bson_new();
	bson_t	   *filter = bson_new();

	for (int i = 0; i < depth; i++)
	{
		bson_t	   *outer = bson_new();

		BSON_APPEND_DOCUMENT(outer, "not", inner);
		bson_destroy(inner);
		inner = outer;
	}
	BSON_APPEND_DOCUMENT(filter, "$jsonSchema", inner);
	bson_destroy(inner);
	return filter;
}

TEST(schema_nesting)
{
	bson_t	   *ok = NestedSchema(50);
	bson_t	   *deep = NestedSchema(150);
	bson_t	   *doc = BCON_NEW("a", BCON_INT32(1));
	BsonQueryError error;
	BsonFilter *filter;

	/* an even number of "not"s around the empty schema: matches */
	filter = BsonFilterCompile(bson_get_data(ok), ok->len, &error);
	CHECK(filter != NULL);
	if (filter != NULL)
	{
		CHECK(BsonFilterMatches(filter, bson_get_data(doc), doc->len));
		BsonFilterFree(filter);
	}

	filter = BsonFilterCompile(bson_get_data(deep), deep->len, &error);
	CHECK(filter == NULL);
	if (filter == NULL)
	{
		CHECK_EQ(error.code, MONGO_BAD_VALUE);
		/* the BSON nesting limit is met first; either way, BadValue */
		CHECK(strstr(error.message, "nested") != NULL);
		pfree(error.message);
	}
	else
		BsonFilterFree(filter);

	bson_destroy(ok);
	bson_destroy(deep);
	bson_destroy(doc);
}


/* ----------------------------------------------------------------
 *		Errors
 * ----------------------------------------------------------------
 */

TEST(schema_errors_structure)
{
	static const ErrorCase cases[] = {
		{"{'$jsonSchema': 'x'}", MONGO_TYPE_MISMATCH, "$jsonSchema must be an object"},
		{"{'$jsonSchema': [1]}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': true}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'foo': 1}}", MONGO_FAILED_TO_PARSE, "Unknown $jsonSchema keyword: foo"},
		{"{'$jsonSchema': {'properties': {'a': {'$ref': '#/x'}}}}", MONGO_FAILED_TO_PARSE,
		"is not currently supported"},
		{"{'$jsonSchema': {'$schema': 'x'}}", MONGO_FAILED_TO_PARSE, "'$schema'"},
		{"{'$jsonSchema': {'default': 1}}", MONGO_FAILED_TO_PARSE, "not currently supported"},
		{"{'$jsonSchema': {'definitions': {}}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'format': 'email'}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'id': 'x'}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'minimum': 1, 'minimum': 2}}", MONGO_FAILED_TO_PARSE, "Duplicate"},
		/* the first error found wins: unknown keywords before values */
		{"{'$jsonSchema': {'minimum': 'x', 'foo': 1}}", MONGO_FAILED_TO_PARSE, "foo"},
		{"{'$jsonSchema': {'a': 1}, 'b': {'$foo': 1}}", MONGO_FAILED_TO_PARSE, NULL},
	};

	RUN_ERRORS(cases);
}

TEST(schema_errors_types)
{
	static const ErrorCase cases[] = {
		{"{'$jsonSchema': {'type': 'integer'}}", MONGO_FAILED_TO_PARSE, "'integer'"},
		{"{'$jsonSchema': {'bsonType': 'integer'}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'type': ['string', 'integer']}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'type': 'int'}}", MONGO_BAD_VALUE, "Unknown type name alias: int"},
		{"{'$jsonSchema': {'type': 'double'}}", MONGO_BAD_VALUE, NULL},
		{"{'$jsonSchema': {'bsonType': 'boolean'}}", MONGO_BAD_VALUE, NULL},
		{"{'$jsonSchema': {'bsonType': 'foo'}}", MONGO_BAD_VALUE, NULL},
		{"{'$jsonSchema': {'bsonType': ['foo']}}", MONGO_BAD_VALUE, NULL},
		{"{'$jsonSchema': {'type': 1}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'bsonType': {}}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'type': [1]}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'type': []}}", MONGO_FAILED_TO_PARSE, "at least one type"},
		{"{'$jsonSchema': {'type': ['string', 'string']}}", MONGO_FAILED_TO_PARSE, "duplicate"},
		{"{'$jsonSchema': {'type': 'object', 'bsonType': 'object'}}", MONGO_FAILED_TO_PARSE,
		"Cannot specify both"},
	};

	RUN_ERRORS(cases);
}

TEST(schema_errors_keywords)
{
	static const ErrorCase cases[] = {
		{"{'$jsonSchema': {'minimum': 'a'}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'maximum': null}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'exclusiveMinimum': true}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'exclusiveMaximum': false}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'minimum': 1, 'exclusiveMinimum': 1}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'minLength': -1}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'minLength': 1.5}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'maxLength': 'a'}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'maxLength': {'$numberDecimal': '0.5'}}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'minItems': {'$numberDouble': 'NaN'}}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'maxItems': 1e30}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'minProperties': true}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'maxProperties': -2}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'pattern': 1}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'pattern': {'$regularExpression': {'pattern': 'a', 'options': ''}}}}",
		MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'pattern': '(a'}}", 51091, NULL},
		{"{'$jsonSchema': {'multipleOf': 0}}", MONGO_FAILED_TO_PARSE, "positive"},
		{"{'$jsonSchema': {'multipleOf': -1}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'multipleOf': {'$numberDouble': 'NaN'}}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'multipleOf': 'a'}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'items': 1}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'items': [1]}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'items': [{'foo': 1}]}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'additionalItems': 1}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'uniqueItems': 1}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'required': []}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'required': 'a'}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'required': [1]}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'required': ['a', 'a']}}", MONGO_FAILED_TO_PARSE, "duplicate"},
		{"{'$jsonSchema': {'properties': 1}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'properties': {'a': 1}}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'properties': {'a': {'minLength': -1}}}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'patternProperties': {'(': {}}}}", MONGO_BAD_VALUE, NULL},
		{"{'$jsonSchema': {'patternProperties': {'a': 1}}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'patternProperties': []}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'additionalProperties': 1}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'dependencies': 1}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'dependencies': {'a': 1}}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'dependencies': {'a': []}}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'dependencies': {'a': [1]}}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'dependencies': {'a': ['b', 'b']}}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'allOf': []}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'allOf': {}}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'anyOf': ['a']}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'oneOf': [null]}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'oneOf': [[]]}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'not': 1}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'not': []}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'enum': []}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'enum': 1}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'enum': [1, 1]}}", MONGO_FAILED_TO_PARSE, "duplicate"},
		{"{'$jsonSchema': {'title': 1}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'description': {}}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'encrypt': 1}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'encrypt': {}, 'bsonType': 'object'}}", MONGO_FAILED_TO_PARSE, NULL},
		{"{'$jsonSchema': {'encrypt': {'foo': 1}}}", 40415, "unknown field"},
		{"{'$jsonSchema': {'encrypt': {'algorithm': 'x'}}}", MONGO_BAD_VALUE, NULL},
		{"{'$jsonSchema': {'encrypt': {'keyId': 1}}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'$jsonSchema': {'encrypt': {'bsonType': 'foo'}}}", MONGO_BAD_VALUE, NULL},
		{"{'$jsonSchema': {'encryptMetadata': {}}}", MONGO_FAILED_TO_PARSE, NULL},
	};

	RUN_ERRORS(cases);
}

TEST(schema_accepted_values)
{
	static const MatchCase cases[] = {
		{"{'$jsonSchema': {'minLength': {'$numberLong': '9223372036854775807'}}}", "{}", true},
		{"{'$jsonSchema': {'maxItems': 3.0, 'minItems': {'$numberDecimal': '1'}}}", "{}", true},
		{"{'$jsonSchema': {'minimum': {'$numberDecimal': '0.5'}, 'exclusiveMinimum': true}}",
		"{}", true},
		{"{'$jsonSchema': {'bsonType': ['object', 'number', 'undefined']}}", "{}", true},
		{"{'$jsonSchema': {'items': []}}", "{}", true},
		{"{'$jsonSchema': {'encryptMetadata': {'keyId': '/a'}}}", "{}", true},
	};

	RUN_MATCHES(cases);
}
