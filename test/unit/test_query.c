/*-------------------------------------------------------------------------
 *
 * test_query.c
 *	  Unit tests of the MongoDB filter compiler and matcher (query_parse.c,
 *	  query_match.c): every operator's semantics, its error codes, paths
 *	  through documents and arrays, the positional index, and memory.
 *
 * Filters and documents are written as Extended JSON with single quotes
 * (turned into double quotes before parsing).  Keys "$regex" and
 * "$options" are read as keys, not as the legacy regex wrapper, so that
 * {'$regex': 'x', '$options': 'i'} is the operator document it looks like.
 * Expected results follow MongoDB 8's documented behaviour; where the
 * documentation is silent they follow its implementation (noted inline).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "bson_json.h"
#include "lib/stringinfo.h"
#include "query.h"
#include "query_cases.h"
#include "unit.h"


/* ----------------------------------------------------------------
 *		Equality, paths and arrays
 * ----------------------------------------------------------------
 */

TEST(query_equality)
{
	static const MatchCase cases[] = {
		{"{}", "{'a': 1}", true},
		{"{'a': 5}", "{'a': 5}", true},
		{"{'a': 5}", "{'a': 5.0}", true},
		{"{'a': 5}", "{'a': {'$numberLong': '5'}}", true},
		{"{'a': 5}", "{'a': {'$numberDecimal': '5.000'}}", true},
		{"{'a': 5}", "{'a': '5'}", false},
		{"{'a': 5}", "{'b': 5}", false},
		{"{'a': 5, 'b': 6}", "{'a': 5, 'b': 6}", true},
		{"{'a': 5, 'b': 6}", "{'a': 5, 'b': 7}", false},
		{"{'a': 'x'}", "{'a': {'$symbol': 'x'}}", true},
		{"{'a': 'x'}", "{'a': 'xy'}", false},
		{"{'a': true}", "{'a': 1}", false},
		/* -0.0 equals 0 */
		{"{'a': 0}", "{'a': -0.0}", true},
		/* large integers compare exactly with doubles */
		{"{'a': {'$numberLong': '9007199254740993'}}", "{'a': 9007199254740992.0}", false},
		{"{'a': {'$numberLong': '9007199254740992'}}", "{'a': 9007199254740992.0}", true},
		/* NaN equals NaN, across double and decimal */
		{"{'a': {'$numberDouble': 'NaN'}}", "{'a': {'$numberDouble': 'NaN'}}", true},
		{"{'a': {'$numberDouble': 'NaN'}}", "{'a': {'$numberDecimal': 'NaN'}}", true},
		{"{'a': {'$numberDouble': 'NaN'}}", "{'a': 0}", false},
		/* arrays: element-wise and whole */
		{"{'a': 5}", "{'a': [1, 5]}", true},
		{"{'a': 5}", "{'a': [1, 2]}", false},
		{"{'a': 5}", "{'a': [[5]]}", false},
		{"{'a': [1, 5]}", "{'a': [1, 5]}", true},
		{"{'a': [1, 5]}", "{'a': [5, 1]}", false},
		{"{'a': [1, 5]}", "{'a': [[1, 5], 2]}", true},
		{"{'a': [1, 5]}", "{'a': [1, 5, 6]}", false},
		{"{'a': []}", "{'a': []}", true},
		{"{'a': []}", "{'a': [[]]}", true},
		{"{'a': []}", "{}", false},
		/* documents: field order and names matter */
		{"{'a': {'b': 1, 'c': 2}}", "{'a': {'b': 1, 'c': 2}}", true},
		{"{'a': {'b': 1, 'c': 2}}", "{'a': {'c': 2, 'b': 1}}", false},
		{"{'a': {'b': 1}}", "{'a': [{'b': 1}]}", true},
		{"{'a': {}}", "{'a': {}}", true},
		/* not an operator document: literal equality */
		{"{'a': {'b': 1, '$gt': 2}}", "{'a': {'b': 1, '$gt': 2}}", true},
		{"{'a': {'$ref': 'c', '$id': 1}}", "{'a': {'$ref': 'c', '$id': 1}}", true},
		/* null: missing, null, or an array holding null */
		{"{'a': null}", "{}", true},
		{"{'a': null}", "{'a': null}", true},
		{"{'a': null}", "{'a': [1, null]}", true},
		{"{'a': null}", "{'a': []}", false},
		{"{'a': null}", "{'a': 0}", false},
		{"{'a': null}", "{'a': false}", false},
		/* MongoDB 8: null no longer matches undefined */
		{"{'a': null}", "{'a': {'$undefined': true}}", false},
		/* other types */
		{"{'a': {'$minKey': 1}}", "{'a': {'$minKey': 1}}", true},
		{"{'a': {'$maxKey': 1}}", "{'a': {'$minKey': 1}}", false},
		{"{'a': {'$date': '2020-01-01T00:00:00Z'}}", "{'a': {'$date': '2020-01-01T00:00:00Z'}}", true},
		{"{'a': {'$date': '2020-01-01T00:00:00Z'}}", "{'a': {'$numberLong': '1577836800000'}}", false},
		{"{'a': {'$oid': '57e193d7a9cc81b4027498b5'}}", "{'a': {'$oid': '57e193d7a9cc81b4027498b5'}}", true},
		{"{'a': {'$binary': {'base64': 'AQI=', 'subType': '00'}}}", "{'a': {'$binary': {'base64': 'AQI=', 'subType': '00'}}}", true},
		{"{'a': {'$binary': {'base64': 'AQI=', 'subType': '00'}}}", "{'a': {'$binary': {'base64': 'AQI=', 'subType': '05'}}}", false},
		{"{'a': {'$timestamp': {'t': 1, 'i': 2}}}", "{'a': {'$timestamp': {'t': 1, 'i': 2}}}", true},
		{"{'a': {'$code': 'f()'}}", "{'a': {'$code': 'f()'}}", true},
		{"{'a': {'$code': 'f()'}}", "{'a': 'f()'}", false},
		/* $eq is the same, and keeps documents literal */
		{"{'a': {'$eq': 5}}", "{'a': [5]}", true},
		{"{'a': {'$eq': {'$gt': 1}}}", "{'a': {'$gt': 1}}", true},
		{"{'a': {'$eq': {'$gt': 1}}}", "{'a': 2}", false},
		{"{'a': {'$eq': null}}", "{}", true},
		/* the empty field name is a field like any other */
		{"{'': 1}", "{'': 1}", true},
		{"{'': 1}", "{'a': 1}", false},
	};

	RUN_MATCHES(cases);
}

TEST(query_paths)
{
	static const MatchCase cases[] = {
		{"{'a.b': 1}", "{'a': {'b': 1}}", true},
		{"{'a.b': 1}", "{'a': {'b': 2}}", false},
		{"{'a.b.c': 1}", "{'a': {'b': {'c': 1}}}", true},
		/* implicit traversal of arrays of documents */
		{"{'a.b': 1}", "{'a': [{'b': 2}, {'b': 1}]}", true},
		{"{'a.b': 1}", "{'a': [{'b': [0, 1]}]}", true},
		{"{'a.b.c': 1}", "{'a': [{'b': [{'c': 1}]}]}", true},
		{"{'a.b': [0, 1]}", "{'a': [{'b': [0, 1]}]}", true},
		/* nested arrays are not traversed implicitly */
		{"{'a.b': 1}", "{'a': [[{'b': 1}]]}", false},
		{"{'a': 1}", "{'a': [[1]]}", false},
		/* scalars in the way: the path is missing */
		{"{'a.b': 1}", "{'a': 1}", false},
		{"{'a.b': 1}", "{'a': [1, 2]}", false},
		{"{'a.b': null}", "{'a': 1}", true},
		{"{'a.b': null}", "{}", true},
		{"{'a.b': null}", "{'a': {'c': 1}}", true},
		/* each document element without the field reaches "missing" */
		{"{'a.b': null}", "{'a': [{'c': 1}]}", true},
		{"{'a.b': null}", "{'a': [{'b': 1}, {'c': 1}]}", true},
		{"{'a.b': null}", "{'a': [{'b': 1}]}", false},
		/* but an array of scalars reaches nothing at all */
		{"{'a.b': null}", "{'a': [1, 2]}", false},
		{"{'a.b': null}", "{'a': []}", false},
		{"{'a.b': {'$ne': null}}", "{'a': [1, 2]}", true},
		/* numeric components index arrays... */
		{"{'a.0': 1}", "{'a': [1, 2]}", true},
		{"{'a.1': 2}", "{'a': [1, 2]}", true},
		{"{'a.1': 1}", "{'a': [1, 2]}", false},
		{"{'a.2': null}", "{'a': [1, 2]}", false},
		{"{'a.0.b': 1}", "{'a': [{'b': 1}]}", true},
		{"{'a.1.b': 1}", "{'a': [{'b': 1}, {'b': 2}]}", false},
		{"{'a.0.0': 1}", "{'a': [[1]]}", true},
		/* after an index, nested arrays are traversed */
		{"{'a.0.b': 1}", "{'a': [[{'b': 1}]]}", true},
		/* a path ending on an index yields the element, not its elements */
		{"{'a.0': 1}", "{'a': [[1]]}", false},
		{"{'a.0': [1]}", "{'a': [[1]]}", true},
		/* ... and also name fields "0" of documents */
		{"{'a.0': 1}", "{'a': {'0': 1}}", true},
		{"{'a.0': 1}", "{'a': [{'0': 1}]}", true},
		{"{'a.0.b': 1}", "{'a': [{'0': {'b': 1}}]}", true},
		/* only canonical indexes ("01" is a field name) */
		{"{'a.01': 2}", "{'a': [1, 2]}", false},
		{"{'a.01': 2}", "{'a': {'01': 2}}", true},
		/* an index through implicit traversal */
		{"{'a.b.0': 1}", "{'a': [{'b': [1]}]}", true},
		{"{'a.b.1': 1}", "{'a': [{'b': [1]}, {'b': [0, 1]}]}", true},
		/* empty components */
		{"{'a.': 1}", "{'a': {'': 1}}", true},
		{"{'.a': 1}", "{'': {'a': 1}}", true},
	};

	RUN_MATCHES(cases);
}


/* ----------------------------------------------------------------
 *		Comparisons
 * ----------------------------------------------------------------
 */

TEST(query_comparisons)
{
	static const MatchCase cases[] = {
		{"{'a': {'$gt': 5}}", "{'a': 6}", true},
		{"{'a': {'$gt': 5}}", "{'a': 5}", false},
		{"{'a': {'$gte': 5}}", "{'a': 5}", true},
		{"{'a': {'$lt': 5}}", "{'a': 4.5}", true},
		{"{'a': {'$lte': 5}}", "{'a': {'$numberDecimal': '5.0'}}", true},
		{"{'a': {'$lt': 5}}", "{'a': {'$numberDecimal': '5.0000000000000000000000000000001'}}", false},
		{"{'a': {'$gt': 5}}", "{'a': {'$numberLong': '6'}}", true},
		{"{'a': {'$gt': {'$numberLong': '9007199254740992'}}}", "{'a': {'$numberLong': '9007199254740993'}}", true},
		{"{'a': {'$gt': {'$numberLong': '9007199254740992'}}}", "{'a': 9007199254740992.0}", false},
		/* type brackets: no comparison across types */
		{"{'a': {'$gt': 5}}", "{'a': '6'}", false},
		{"{'a': {'$lt': 5}}", "{'a': '4'}", false},
		{"{'a': {'$lt': 'b'}}", "{'a': 'a'}", true},
		{"{'a': {'$lt': 'b'}}", "{'a': 1}", false},
		{"{'a': {'$gt': 5}}", "{'a': null}", false},
		{"{'a': {'$gt': 5}}", "{}", false},
		{"{'a': {'$lt': 5}}", "{}", false},
		{"{'a': {'$gt': 5}}", "{'a': true}", false},
		{"{'a': {'$gt': false}}", "{'a': true}", true},
		/* arrays: any element, or the whole array */
		{"{'a': {'$gt': 5}}", "{'a': [1, 6]}", true},
		{"{'a': {'$gt': 5}}", "{'a': [1, 2]}", false},
		{"{'a': {'$gt': 1, '$lt': 5}}", "{'a': [0, 10]}", true},
		{"{'a': {'$gt': [1]}}", "{'a': [2]}", true},
		{"{'a': {'$gt': [1]}}", "{'a': 2}", false},
		{"{'a': {'$lt': [1, 2]}}", "{'a': [1]}", true},
		{"{'a': {'$gt': {'b': 1}}}", "{'a': {'b': 2}}", true},
		/* MinKey and MaxKey bound every type, even a missing field */
		{"{'a': {'$lt': {'$maxKey': 1}}}", "{'a': 'x'}", true},
		{"{'a': {'$lt': {'$maxKey': 1}}}", "{}", true},
		{"{'a': {'$lt': {'$maxKey': 1}}}", "{'a': {'$maxKey': 1}}", false},
		{"{'a': {'$lte': {'$maxKey': 1}}}", "{'a': {'$maxKey': 1}}", true},
		{"{'a': {'$gt': {'$minKey': 1}}}", "{'a': null}", true},
		{"{'a': {'$gt': {'$minKey': 1}}}", "{}", true},
		{"{'a': {'$gt': {'$maxKey': 1}}}", "{'a': 1}", false},
		{"{'a': {'$lt': {'$minKey': 1}}}", "{'a': 1}", false},
		/* null bounds: a missing field is null */
		{"{'a': {'$gte': null}}", "{}", true},
		{"{'a': {'$lte': null}}", "{'a': null}", true},
		{"{'a': {'$lt': null}}", "{}", false},
		{"{'a': {'$gt': null}}", "{'a': 1}", false},
		/* NaN is equal to NaN and neither above nor below anything */
		{"{'a': {'$gt': {'$numberDouble': 'NaN'}}}", "{'a': 1}", false},
		{"{'a': {'$lt': {'$numberDouble': 'NaN'}}}", "{'a': 1}", false},
		{"{'a': {'$gt': {'$numberDouble': 'NaN'}}}", "{'a': {'$numberDouble': 'NaN'}}", false},
		{"{'a': {'$gte': {'$numberDouble': 'NaN'}}}", "{'a': {'$numberDouble': 'NaN'}}", true},
		{"{'a': {'$lte': {'$numberDecimal': 'NaN'}}}", "{'a': {'$numberDouble': 'NaN'}}", true},
		{"{'a': {'$lt': 1}}", "{'a': {'$numberDouble': 'NaN'}}", false},
		{"{'a': {'$gt': 1}}", "{'a': {'$numberDecimal': 'NaN'}}", false},
		{"{'a': {'$lt': 1}}", "{'a': {'$numberDouble': '-Infinity'}}", true},
		/* dates, strings, timestamps, ObjectIds */
		{"{'a': {'$gt': {'$date': '2020-01-01T00:00:00Z'}}}", "{'a': {'$date': '2021-01-01T00:00:00Z'}}", true},
		{"{'a': {'$gt': {'$date': '2020-01-01T00:00:00Z'}}}", "{'a': 1700000000000}", false},
		{"{'a': {'$gte': 'abc'}}", "{'a': 'abd'}", true},
		{"{'a': {'$gte': 'abc'}}", "{'a': {'$symbol': 'abd'}}", true},
		{"{'a': {'$gt': {'$timestamp': {'t': 1, 'i': 1}}}}", "{'a': {'$timestamp': {'t': 1, 'i': 2}}}", true},
		{"{'a': {'$lt': {'$oid': '57e193d7a9cc81b4027498b5'}}}", "{'a': {'$oid': '57e193d7a9cc81b4027498b4'}}", true},
	};

	RUN_MATCHES(cases);
}

TEST(query_ne_in_nin)
{
	static const MatchCase cases[] = {
		{"{'a': {'$ne': 5}}", "{'a': 4}", true},
		{"{'a': {'$ne': 5}}", "{'a': 5}", false},
		{"{'a': {'$ne': 5}}", "{}", true},
		/* $ne negates the whole field: an array holding 5 is rejected */
		{"{'a': {'$ne': 5}}", "{'a': [1, 5]}", false},
		{"{'a': {'$ne': 5}}", "{'a': [1, 2]}", true},
		{"{'a': {'$ne': null}}", "{}", false},
		{"{'a': {'$ne': null}}", "{'a': [1, null]}", false},
		{"{'a': {'$ne': null}}", "{'a': 0}", true},
		{"{'a': {'$ne': [1, 2]}}", "{'a': [1, 2]}", false},
		{"{'a.b': {'$ne': 1}}", "{'a': [{'b': 1}, {'b': 2}]}", false},
		{"{'a': {'$in': [1, 2]}}", "{'a': 2}", true},
		{"{'a': {'$in': [1, 2]}}", "{'a': 3}", false},
		{"{'a': {'$in': [1, 2]}}", "{'a': [3, 2]}", true},
		{"{'a': {'$in': [1, 2]}}", "{'a': 2.0}", true},
		{"{'a': {'$in': [1, 2]}}", "{'a': {'$numberDecimal': '2'}}", true},
		{"{'a': {'$in': [1, 2]}}", "{'a': '2'}", false},
		{"{'a': {'$in': []}}", "{'a': 1}", false},
		{"{'a': {'$in': []}}", "{}", false},
		{"{'a': {'$in': [null]}}", "{}", true},
		{"{'a': {'$in': [null]}}", "{'a': null}", true},
		{"{'a': {'$in': [null]}}", "{'a': {'$undefined': true}}", false},
		{"{'a': {'$in': [1]}}", "{}", false},
		{"{'a': {'$in': [[1, 2]]}}", "{'a': [1, 2]}", true},
		{"{'a': {'$in': [[1, 2]]}}", "{'a': [[1, 2]]}", true},
		{"{'a': {'$in': [{'b': 1}]}}", "{'a': {'b': 1}}", true},
		{"{'a': {'$in': [{'$numberDouble': 'NaN'}]}}", "{'a': {'$numberDecimal': 'NaN'}}", true},
		{"{'a': {'$in': ['x', {'$regularExpression': {'pattern': '^b', 'options': ''}}]}}", "{'a': 'bc'}", true},
		{"{'a': {'$in': ['x', {'$regularExpression': {'pattern': '^b', 'options': ''}}]}}", "{'a': 'x'}", true},
		{"{'a': {'$in': ['x', {'$regularExpression': {'pattern': '^b', 'options': ''}}]}}", "{'a': 'cb'}", false},
		{"{'a': {'$in': [{'$regularExpression': {'pattern': '^b', 'options': 'i'}}]}}", "{'a': ['x', 'B']}", true},
		{"{'a': {'$in': [3, 1, 2, 'b', 'a', null, true, 1.5]}}", "{'a': 1.5}", true},
		{"{'a': {'$in': [3, 1, 2, 'b', 'a', null, true, 1.5]}}", "{'a': 'a'}", true},
		{"{'a': {'$in': [3, 1, 2, 'b', 'a', null, true, 1.5]}}", "{'a': false}", false},
		{"{'a': {'$nin': [1, 2]}}", "{'a': 3}", true},
		{"{'a': {'$nin': [1, 2]}}", "{'a': [3, 1]}", false},
		{"{'a': {'$nin': [1, 2]}}", "{}", true},
		{"{'a': {'$nin': [null]}}", "{}", false},
		{"{'a': {'$nin': []}}", "{'a': 1}", true},
		{"{'a': {'$nin': [{'$regularExpression': {'pattern': 'x', 'options': ''}}]}}", "{'a': 'axb'}", false},
	};

	RUN_MATCHES(cases);
}

TEST(query_in_many_values)
{
	StringInfoData json;
	BsonQueryError error;
	BsonFilter *filter;
	bson_t	   *doc;

	/* a long $in list, unsorted, searched by bisection */
	initStringInfo(&json);
	appendStringInfoString(&json, "{'a': {'$in': [");
	for (int i = 0; i < 2000; i++)
		appendStringInfo(&json, "%s%d", i > 0 ? ", " : "", (i * 7919) % 4001);
	appendStringInfoString(&json, ", 'x', null]}}");
	filter = Compile(json.data, &error, __FILE__, __LINE__);
	CHECK(filter != NULL);
	if (filter != NULL)
	{
		for (int v = 0; v < 4001; v++)
		{
			bool		expected = false;
			char		text[64];

			for (int i = 0; i < 2000 && !expected; i++)
				expected = (i * 7919) % 4001 == v;
			snprintf(text, sizeof(text), "{'a': %d.0}", v);
			doc = ParseJson(text, __FILE__, __LINE__);
			CHECK_EQ(BsonFilterMatches(filter, bson_get_data(doc), doc->len), expected);
			bson_destroy(doc);
		}
		doc = ParseJson("{'a': 'x'}", __FILE__, __LINE__);
		CHECK(BsonFilterMatches(filter, bson_get_data(doc), doc->len));
		bson_destroy(doc);
		doc = ParseJson("{}", __FILE__, __LINE__);
		CHECK(BsonFilterMatches(filter, bson_get_data(doc), doc->len));
		bson_destroy(doc);
		BsonFilterFree(filter);
	}
	pfree(json.data);
}


/* ----------------------------------------------------------------
 *		Element operators
 * ----------------------------------------------------------------
 */

TEST(query_exists)
{
	static const MatchCase cases[] = {
		{"{'a': {'$exists': true}}", "{'a': null}", true},
		{"{'a': {'$exists': true}}", "{'a': []}", true},
		{"{'a': {'$exists': true}}", "{}", false},
		{"{'a': {'$exists': false}}", "{}", true},
		{"{'a': {'$exists': false}}", "{'a': null}", false},
		{"{'a.b': {'$exists': true}}", "{'a': [{'c': 1}, {'b': 1}]}", true},
		{"{'a.b': {'$exists': true}}", "{'a': [1, 2]}", false},
		{"{'a.b': {'$exists': false}}", "{'a': [{'c': 1}, {'b': 1}]}", false},
		{"{'a.1': {'$exists': true}}", "{'a': [5, 6]}", true},
		{"{'a.2': {'$exists': true}}", "{'a': [5, 6]}", false},
		/* the operand is read for its truth */
		{"{'a': {'$exists': 1}}", "{'a': 1}", true},
		{"{'a': {'$exists': 0}}", "{'a': 1}", false},
		{"{'a': {'$exists': null}}", "{}", true},
		{"{'a': {'$exists': 'no'}}", "{'a': 1}", true},
		{"{'a': {'$exists': {'$numberDecimal': '0.00'}}}", "{}", true},
		{"{'a': {'$exists': {'$numberDecimal': 'NaN'}}}", "{'a': 1}", true},
		{"{'a': {'$exists': -0.0}}", "{}", true},
		{"{'a': {'$exists': {}}}", "{'a': 1}", true},
	};

	RUN_MATCHES(cases);
}

TEST(query_type)
{
	static const MatchCase cases[] = {
		{"{'a': {'$type': 'double'}}", "{'a': 1.5}", true},
		{"{'a': {'$type': 'double'}}", "{'a': 1}", false},
		{"{'a': {'$type': 1}}", "{'a': 1.5}", true},
		{"{'a': {'$type': 1.0}}", "{'a': 1.5}", true},
		{"{'a': {'$type': {'$numberLong': '2'}}}", "{'a': 'x'}", true},
		{"{'a': {'$type': {'$numberDecimal': '2'}}}", "{'a': 'x'}", true},
		{"{'a': {'$type': 'string'}}", "{'a': {'$symbol': 'x'}}", false},
		{"{'a': {'$type': 'symbol'}}", "{'a': {'$symbol': 'x'}}", true},
		{"{'a': {'$type': 'int'}}", "{'a': {'$numberLong': '1'}}", false},
		{"{'a': {'$type': 'long'}}", "{'a': {'$numberLong': '1'}}", true},
		{"{'a': {'$type': 'decimal'}}", "{'a': {'$numberDecimal': 'NaN'}}", true},
		{"{'a': {'$type': 'number'}}", "{'a': {'$numberDecimal': '1'}}", true},
		{"{'a': {'$type': 'number'}}", "{'a': 1}", true},
		{"{'a': {'$type': 'number'}}", "{'a': '1'}", false},
		{"{'a': {'$type': 'object'}}", "{'a': {}}", true},
		{"{'a': {'$type': 'array'}}", "{'a': []}", true},
		{"{'a': {'$type': 'array'}}", "{'a': [[1]]}", true},
		{"{'a': {'$type': 'array'}}", "{'a': 1}", false},
		{"{'a': {'$type': 4}}", "{'a': [1]}", true},
		/* the elements of an array field count */
		{"{'a': {'$type': 'string'}}", "{'a': [1, 'x']}", true},
		{"{'a': {'$type': 'binData'}}", "{'a': {'$binary': {'base64': '', 'subType': '00'}}}", true},
		{"{'a': {'$type': 'undefined'}}", "{'a': {'$undefined': true}}", true},
		{"{'a': {'$type': 'objectId'}}", "{'a': {'$oid': '57e193d7a9cc81b4027498b5'}}", true},
		{"{'a': {'$type': 'bool'}}", "{'a': false}", true},
		{"{'a': {'$type': 'date'}}", "{'a': {'$date': '2020-01-01T00:00:00Z'}}", true},
		{"{'a': {'$type': 'null'}}", "{'a': null}", true},
		{"{'a': {'$type': 'null'}}", "{}", false},
		{"{'a': {'$type': 'regex'}}", "{'a': {'$regularExpression': {'pattern': 'x', 'options': ''}}}", true},
		{"{'a': {'$type': 'javascript'}}", "{'a': {'$code': 'f()'}}", true},
		{"{'a': {'$type': 'timestamp'}}", "{'a': {'$timestamp': {'t': 1, 'i': 1}}}", true},
		{"{'a': {'$type': 'minKey'}}", "{'a': {'$minKey': 1}}", true},
		{"{'a': {'$type': -1}}", "{'a': {'$minKey': 1}}", true},
		{"{'a': {'$type': 'maxKey'}}", "{'a': {'$maxKey': 1}}", true},
		{"{'a': {'$type': 127}}", "{'a': {'$maxKey': 1}}", true},
		{"{'a': {'$type': 127}}", "{'a': {'$minKey': 1}}", false},
		{"{'a': {'$type': ['string', 16]}}", "{'a': 1}", true},
		{"{'a': {'$type': ['string', 16]}}", "{'a': 'x'}", true},
		{"{'a': {'$type': ['string', 16]}}", "{'a': 1.0}", false},
		{"{'a.b': {'$type': 'int'}}", "{'a': [{'b': 'x'}, {'b': 2}]}", true},
	};

	RUN_MATCHES(cases);
}

TEST(query_mod)
{
	static const MatchCase cases[] = {
		{"{'a': {'$mod': [4, 0]}}", "{'a': 8}", true},
		{"{'a': {'$mod': [4, 0]}}", "{'a': 9}", false},
		{"{'a': {'$mod': [4, 1]}}", "{'a': 9}", true},
		{"{'a': {'$mod': [4, 0]}}", "{'a': -8}", true},
		{"{'a': {'$mod': [4, -1]}}", "{'a': -9}", true},
		{"{'a': {'$mod': [-4, 1]}}", "{'a': 9}", true},
		/* values are truncated toward zero */
		{"{'a': {'$mod': [4, 0]}}", "{'a': 8.9}", true},
		{"{'a': {'$mod': [4, 0]}}", "{'a': -8.9}", true},
		{"{'a': {'$mod': [4, 0]}}", "{'a': {'$numberDecimal': '8.99'}}", true},
		{"{'a': {'$mod': [4, 0]}}", "{'a': {'$numberLong': '8'}}", true},
		/* and so are the divisor and remainder */
		{"{'a': {'$mod': [4.7, 1.9]}}", "{'a': 5}", true},
		{"{'a': {'$mod': [{'$numberDecimal': '4.7'}, 1]}}", "{'a': 5}", true},
		/* NaN, infinities and values beyond int64 never match */
		{"{'a': {'$mod': [4, 0]}}", "{'a': {'$numberDouble': 'NaN'}}", false},
		{"{'a': {'$mod': [4, 0]}}", "{'a': {'$numberDouble': 'Infinity'}}", false},
		{"{'a': {'$mod': [4, 0]}}", "{'a': 1e19}", false},
		{"{'a': {'$mod': [4, 0]}}", "{'a': {'$numberDecimal': '1E+19'}}", false},
		{"{'a': {'$mod': [4, 0]}}", "{'a': {'$numberDecimal': 'NaN'}}", false},
		{"{'a': {'$mod': [4, 0]}}", "{'a': '8'}", false},
		{"{'a': {'$mod': [4, 0]}}", "{}", false},
		{"{'a': {'$mod': [4, 0]}}", "{'a': [1, 8]}", true},
		/* no overflow on INT64_MIN % -1 */
		{"{'a': {'$mod': [-1, 0]}}", "{'a': {'$numberLong': '-9223372036854775808'}}", true},
		{"{'a': {'$mod': [{'$numberLong': '-9223372036854775808'}, 5]}}", "{'a': 5}", true},
	};

	RUN_MATCHES(cases);
}

TEST(query_number_conversions)
{
	static const MatchCase cases[] = {
		/* decimal128 divisors and dividends, exactly converted */
		{"{'a': {'$mod': [{'$numberDecimal': '200E-2'}, 0]}}", "{'a': 4}", true},
		{"{'a': {'$mod': [{'$numberDecimal': '0.3E+1'}, 1]}}", "{'a': 4}", true},
		{"{'a': {'$mod': [{'$numberDecimal': '-9223372036854775808'}, 0]}}", "{'a': {'$numberLong': '-9223372036854775808'}}", true},
		{"{'a': {'$mod': [{'$numberDecimal': '9223372036854775807'}, 1]}}", "{'a': 1}", true},
		{"{'a': {'$mod': [10, 9]}}", "{'a': {'$numberDecimal': '9.999999999999999999999999999999999'}}", true},
		{"{'a': {'$mod': [10, 0]}}", "{'a': {'$numberDecimal': '-0.5'}}", true},
		{"{'a': {'$mod': [10, 0]}}", "{'a': {'$numberDecimal': '1E-6176'}}", true},
		{"{'a': {'$mod': [10, 0]}}", "{'a': {'$numberDecimal': '9.999999999999999999999999999999999E+6144'}}", false},
		{"{'a': {'$mod': [10, 8]}}", "{'a': {'$numberDecimal': '9223372036854775808'}}", false},
		{"{'a': {'$mod': [10, -8]}}", "{'a': {'$numberDecimal': '-9223372036854775808'}}", true},
		{"{'a': {'$mod': [10, 0]}}", "{'a': -9223372036854775808.0}", false},
		{"{'a': {'$mod': [2, 0]}}", "{'a': 9223372036854774784.0}", true},
		{"{'a': {'$size': {'$numberDecimal': '3E+0'}}}", "{'a': [1, 2, 3]}", true},
		{"{'a': {'$bitsAllSet': {'$numberDecimal': '5E+0'}}}", "{'a': 5}", true},
		{"{'a': {'$bitsAllSet': 4}}", "{'a': {'$numberDecimal': '4.0000'}}", true},
		{"{'a': {'$bitsAllSet': 4}}", "{'a': {'$numberDecimal': '4.5'}}", false},
	};
	static const ErrorCase errors[] = {
		{"{'a': {'$mod': [{'$numberDecimal': '9223372036854775808'}, 0]}}", MONGO_BAD_VALUE, "divisor value is invalid"},
		{"{'a': {'$mod': [{'$numberDecimal': '-9223372036854775809'}, 0]}}", MONGO_BAD_VALUE, "divisor value is invalid"},
		{"{'a': {'$mod': [{'$numberDecimal': '-Infinity'}, 0]}}", MONGO_BAD_VALUE, "divisor value is invalid"},
		{"{'a': {'$mod': [9223372036854775808.0, 0]}}", MONGO_BAD_VALUE, "divisor value is invalid"},
		{"{'a': {'$mod': [{'$numberDecimal': '1E-6176'}, 0]}}", MONGO_BAD_VALUE, "divisor cannot be 0"},
		{"{'a': {'$size': {'$numberDecimal': '1.000000000000000000000000000000001'}}}", MONGO_BAD_VALUE, "whole number"},
		{"{'a': {'$bitsAllSet': {'$numberDecimal': '-1'}}}", MONGO_FAILED_TO_PARSE, "positive"},
	};

	RUN_MATCHES(cases);
	RUN_ERRORS(errors);
}

TEST(query_size)
{
	static const MatchCase cases[] = {
		{"{'a': {'$size': 2}}", "{'a': [1, 2]}", true},
		{"{'a': {'$size': 2}}", "{'a': [1]}", false},
		{"{'a': {'$size': 0}}", "{'a': []}", true},
		{"{'a': {'$size': 0}}", "{}", false},
		{"{'a': {'$size': 2}}", "{'a': 'ab'}", false},
		{"{'a': {'$size': 2}}", "{'a': {'x': 1, 'y': 2}}", false},
		/* the array itself, not its elements */
		{"{'a': {'$size': 1}}", "{'a': [[1, 2]]}", true},
		{"{'a': {'$size': 2}}", "{'a': [[1, 2]]}", false},
		{"{'a.b': {'$size': 1}}", "{'a': [{'b': [1]}, {'b': 5}]}", true},
		{"{'a.0': {'$size': 2}}", "{'a': [[1, 2]]}", true},
		/* whole numbers of any type */
		{"{'a': {'$size': 2.0}}", "{'a': [1, 2]}", true},
		{"{'a': {'$size': {'$numberLong': '2'}}}", "{'a': [1, 2]}", true},
		{"{'a': {'$size': {'$numberDecimal': '2.00'}}}", "{'a': [1, 2]}", true},
		{"{'a': {'$size': {'$numberDecimal': '0.2E+1'}}}", "{'a': [1, 2]}", true},
		{"{'a': {'$not': {'$size': 2}}}", "{'a': 'x'}", true},
	};

	RUN_MATCHES(cases);
}

TEST(query_all)
{
	static const MatchCase cases[] = {
		{"{'a': {'$all': [1, 2]}}", "{'a': [2, 3, 1]}", true},
		{"{'a': {'$all': [1, 2]}}", "{'a': [1, 3]}", false},
		{"{'a': {'$all': [1]}}", "{'a': 1}", true},
		{"{'a': {'$all': [1, 1]}}", "{'a': [1]}", true},
		{"{'a': {'$all': []}}", "{'a': []}", false},
		{"{'a': {'$all': []}}", "{'a': [1]}", false},
		{"{'a': {'$all': [[1, 2]]}}", "{'a': [1, 2]}", true},
		{"{'a': {'$all': [[1, 2]]}}", "{'a': [[1, 2], 3]}", true},
		{"{'a': {'$all': [null]}}", "{}", true},
		{"{'a': {'$all': [{'$regularExpression': {'pattern': '^a', 'options': ''}}, {'$regularExpression': {'pattern': 'b$', 'options': ''}}]}}", "{'a': ['ab']}", true},
		{"{'a': {'$all': [{'$regularExpression': {'pattern': '^a', 'options': ''}}, 'x']}}", "{'a': ['ab', 'x']}", true},
		{"{'a': {'$all': [{'$regularExpression': {'pattern': '^a', 'options': ''}}, 'x']}}", "{'a': ['ab']}", false},
		{"{'a': {'$all': [{'b': 1}]}}", "{'a': [{'b': 1}]}", true},
		{"{'a': {'$all': [{'$foo': 1}]}}", "{'a': {'$foo': 1}}", true},
		{"{'a.b': {'$all': [1, 2]}}", "{'a': [{'b': 1}, {'b': 2}]}", true},
		{"{'a': {'$all': [{'$elemMatch': {'x': 1}}, {'$elemMatch': {'y': 2}}]}}", "{'a': [{'x': 1}, {'y': 2}]}", true},
		{"{'a': {'$all': [{'$elemMatch': {'x': 1}}, {'$elemMatch': {'y': 2}}]}}", "{'a': [{'x': 1}]}", false},
		{"{'a': {'$all': [{'$elemMatch': {'$gt': 1}}]}}", "{'a': [0, 2]}", true},
	};

	RUN_MATCHES(cases);
}

TEST(query_elem_match)
{
	static const MatchCase cases[] = {
		/* value form: one element satisfies every operator */
		{"{'a': {'$elemMatch': {'$gt': 1, '$lt': 3}}}", "{'a': [0, 4]}", false},
		{"{'a': {'$elemMatch': {'$gt': 1, '$lt': 3}}}", "{'a': [0, 2]}", true},
		{"{'a': {'$elemMatch': {'$gt': 1}}}", "{'a': 2}", false},
		{"{'a': {'$elemMatch': {'$gt': 1}}}", "{'a': [[2]]}", false},
		{"{'a': {'$elemMatch': {'$eq': [2]}}}", "{'a': [[2]]}", true},
		{"{'a': {'$elemMatch': {'$not': {'$gt': 5}}}}", "{'a': [6, 7]}", false},
		{"{'a': {'$elemMatch': {'$not': {'$gt': 5}}}}", "{'a': [6, 1]}", true},
		{"{'a': {'$elemMatch': {'$elemMatch': {'$eq': 1}}}}", "{'a': [[0, 1]]}", true},
		{"{'a': {'$elemMatch': {'$size': 2}}}", "{'a': [[0, 1]]}", true},
		{"{'a': {'$elemMatch': {'$regex': '^A', '$options': 'i'}}}", "{'a': ['x', 'abc']}", true},
		{"{'a': {'$elemMatch': {'$in': [null]}}}", "{'a': [null]}", true},
		{"{'a': {'$elemMatch': {'$exists': true}}}", "{'a': []}", false},
		{"{'a': {'$elemMatch': {'$type': 'string'}}}", "{'a': [1, 'x']}", true},
		/* object form: one element matches the whole sub-filter */
		{"{'a': {'$elemMatch': {'x': 1, 'y': 2}}}", "{'a': [{'x': 1}, {'y': 2}]}", false},
		{"{'a': {'$elemMatch': {'x': 1, 'y': 2}}}", "{'a': [{'x': 1, 'y': 2}]}", true},
		{"{'a': {'$elemMatch': {'x': {'$gt': 1}}}}", "{'a': [{'x': [0, 2]}]}", true},
		{"{'a': {'$elemMatch': {'x.y': 1}}}", "{'a': [{'x': [{'y': 1}]}]}", true},
		{"{'a': {'$elemMatch': {}}}", "{'a': [1, 2]}", false},
		{"{'a': {'$elemMatch': {}}}", "{'a': [1, {}]}", true},
		{"{'a': {'$elemMatch': {'0': 1}}}", "{'a': [[1]]}", true},
		{"{'a': {'$elemMatch': {'$or': [{'x': 1}, {'y': 1}]}}}", "{'a': [{'y': 1}]}", true},
		{"{'a': {'$elemMatch': {'$and': [{'x': 1}]}}}", "{'a': [{'x': 2}]}", false},
		{"{'a': {'$elemMatch': {'x': null}}}", "{'a': [{}]}", true},
		{"{'a': {'$elemMatch': {'x': null}}}", "{'a': [1]}", false},
		/* through implicit traversal */
		{"{'a.b': {'$elemMatch': {'$eq': 1}}}", "{'a': [{'b': [1]}]}", true},
		{"{'a.b': {'$elemMatch': {'$eq': 1}}}", "{'a': [{'b': 1}]}", false},
		{"{'a': {'$elemMatch': {'$gt': 1}}}", "{}", false},
		{"{'a': {'$not': {'$elemMatch': {'$gt': 1}}}}", "{'a': [0, 1]}", true},
	};

	RUN_MATCHES(cases);
}

TEST(query_regex)
{
	static const MatchCase cases[] = {
		{"{'a': {'$regularExpression': {'pattern': '^ab', 'options': ''}}}", "{'a': 'abc'}", true},
		{"{'a': {'$regularExpression': {'pattern': '^ab', 'options': ''}}}", "{'a': 'cab'}", false},
		{"{'a': {'$regularExpression': {'pattern': '^ab', 'options': ''}}}", "{'a': ['x', 'abc']}", true},
		{"{'a': {'$regularExpression': {'pattern': '^ab', 'options': ''}}}", "{'a': {'$symbol': 'abc'}}", true},
		{"{'a': {'$regularExpression': {'pattern': '1', 'options': ''}}}", "{'a': 1}", false},
		{"{'a': {'$regularExpression': {'pattern': '', 'options': ''}}}", "{'a': ''}", true},
		{"{'a': {'$regularExpression': {'pattern': '', 'options': ''}}}", "{}", false},
		/* a regex value in the document: same pattern and options */
		{"{'a': {'$regularExpression': {'pattern': '^ab', 'options': 'i'}}}", "{'a': {'$regularExpression': {'pattern': '^ab', 'options': 'i'}}}", true},
		{"{'a': {'$regularExpression': {'pattern': '^ab', 'options': 'i'}}}", "{'a': {'$regularExpression': {'pattern': '^ab', 'options': ''}}}", false},
		/* $eq with a regex compares regexes, it does not match strings */
		{"{'a': {'$eq': {'$regularExpression': {'pattern': 'b', 'options': ''}}}}", "{'a': 'abc'}", false},
		{"{'a': {'$eq': {'$regularExpression': {'pattern': 'b', 'options': ''}}}}", "{'a': {'$regularExpression': {'pattern': 'b', 'options': ''}}}", true},
		{"{'a': {'$regex': '^ab'}}", "{'a': 'abc'}", true},
		{"{'a': {'$regex': '^AB', '$options': 'i'}}", "{'a': 'abc'}", true},
		{"{'a': {'$options': 'i', '$regex': '^AB'}}", "{'a': 'abc'}", true},
		{"{'a': {'$regex': {'$regularExpression': {'pattern': '^AB', 'options': 'i'}}}}", "{'a': 'abc'}", true},
		{"{'a': {'$regex': {'$regularExpression': {'pattern': '^AB', 'options': ''}}, '$options': 'i'}}", "{'a': 'abc'}", true},
		{"{'a': {'$regex': '^b', '$options': 'm'}}", "{'a': 'a\\nb'}", true},
		{"{'a': {'$regex': '^b'}}", "{'a': 'a\\nb'}", false},
		{"{'a': {'$regex': 'a.b', '$options': 's'}}", "{'a': 'a\\nb'}", true},
		{"{'a': {'$regex': 'a.b'}}", "{'a': 'a\\nb'}", false},
		{"{'a': {'$regex': 'a b # comment', '$options': 'x'}}", "{'a': 'ab'}", true},
		{"{'a': {'$regex': 'ab', '$options': 'u'}}", "{'a': 'ab'}", true},
		/* UTF-8: characters, not bytes, and caseless beyond ASCII */
		{"{'a': {'$regex': '^.$'}}", "{'a': '\\u00e9'}", true},
		{"{'a': {'$regex': '^\\u00c9$', '$options': 'i'}}", "{'a': '\\u00e9'}", true},
		/* strings holding NUL are matched whole */
		{"{'a': {'$regex': 'b$'}}", "{'a': 'a\\u0000b'}", true},
		{"{'a': {'$regex': 'x', '$options': ''}}", "{'a': {'$regularExpression': {'pattern': 'x', 'options': ''}}}", true},
		{"{'a': {'$regex': 'x', '$not': {'$regex': 'y'}}}", "{'a': 'xy'}", false},
		{"{'a': {'$regex': 'x', '$not': {'$regex': 'y'}}}", "{'a': 'xz'}", true},
		{"{'a': {'$regex': 'acme.*corp', '$options': 'i', '$nin': ['acmeblahcorp']}}", "{'a': 'AcmeCorp'}", true},
	};

	RUN_MATCHES(cases);
}

TEST(query_regex_backtracking_is_bounded)
{
	BsonQueryError error;
	BsonFilter *filter = Compile("{'a': {'$regex': '^(a|aa)+$'}}", &error,
								 __FILE__, __LINE__);
	bson_t	   *doc;
	StringInfoData text;

	CHECK(filter != NULL);
	if (filter == NULL)
		return;
	initStringInfo(&text);
	appendStringInfoString(&text, "{'a': '");
	for (int i = 0; i < 60; i++)
		appendStringInfoChar(&text, 'a');
	appendStringInfoString(&text, "b'}");
	doc = ParseJson(text.data, __FILE__, __LINE__);

	/* exponential backtracking hits the match limit: no match, no hang */
	CHECK(!BsonFilterMatches(filter, bson_get_data(doc), doc->len));
	bson_destroy(doc);
	pfree(text.data);
	BsonFilterFree(filter);
}

TEST(query_bits)
{
	static const MatchCase cases[] = {
		{"{'a': {'$bitsAllSet': 5}}", "{'a': 7}", true},
		{"{'a': {'$bitsAllSet': 5}}", "{'a': 4}", false},
		{"{'a': {'$bitsAllSet': [0, 2]}}", "{'a': 7}", true},
		{"{'a': {'$bitsAllSet': []}}", "{'a': 0}", true},
		{"{'a': {'$bitsAnySet': []}}", "{'a': 7}", false},
		{"{'a': {'$bitsAnySet': 5}}", "{'a': 4}", true},
		{"{'a': {'$bitsAnySet': 5}}", "{'a': 2}", false},
		{"{'a': {'$bitsAllClear': 5}}", "{'a': 2}", true},
		{"{'a': {'$bitsAllClear': 5}}", "{'a': 3}", false},
		{"{'a': {'$bitsAnyClear': 5}}", "{'a': 4}", true},
		{"{'a': {'$bitsAnyClear': 5}}", "{'a': 5}", false},
		/* numbers are 64-bit two's complement, sign-extended */
		{"{'a': {'$bitsAllSet': [63, 100]}}", "{'a': -1}", true},
		{"{'a': {'$bitsAllSet': [63]}}", "{'a': 1}", false},
		{"{'a': {'$bitsAnySet': [200]}}", "{'a': {'$numberLong': '-5'}}", true},
		{"{'a': {'$bitsAllClear': [200]}}", "{'a': 5}", true},
		/* only integral values in range */
		{"{'a': {'$bitsAllSet': 1}}", "{'a': 3.0}", true},
		{"{'a': {'$bitsAllSet': 1}}", "{'a': 3.5}", false},
		{"{'a': {'$bitsAllClear': 1}}", "{'a': {'$numberDouble': 'NaN'}}", false},
		{"{'a': {'$bitsAllClear': 1}}", "{'a': 1e19}", false},
		{"{'a': {'$bitsAllSet': 1}}", "{'a': {'$numberDecimal': '3'}}", true},
		{"{'a': {'$bitsAllClear': 1}}", "{'a': 'x'}", false},
		{"{'a': {'$bitsAllClear': 1}}", "{}", false},
		{"{'a': {'$bitsAllSet': 1}}", "{'a': [2, 3]}", true},
		/* binary data: byte order, least significant bit first */
		{"{'a': {'$bitsAllSet': [0, 9]}}", "{'a': {'$binary': {'base64': 'AQI=', 'subType': '00'}}}", true},
		{"{'a': {'$bitsAllSet': [1]}}", "{'a': {'$binary': {'base64': 'AQI=', 'subType': '00'}}}", false},
		{"{'a': {'$bitsAllClear': [100]}}", "{'a': {'$binary': {'base64': 'AQI=', 'subType': '00'}}}", true},
		{"{'a': {'$bitsAnySet': [100]}}", "{'a': {'$binary': {'base64': 'AQI=', 'subType': '00'}}}", false},
		{"{'a': {'$bitsAnyClear': [0, 1]}}", "{'a': {'$binary': {'base64': 'AQI=', 'subType': '00'}}}", true},
		/* a binary mask names bit positions */
		{"{'a': {'$bitsAllSet': {'$binary': {'base64': 'BQ==', 'subType': '00'}}}}", "{'a': 7}", true},
		{"{'a': {'$bitsAllSet': {'$binary': {'base64': 'BQ==', 'subType': '00'}}}}", "{'a': 6}", false},
		{"{'a': {'$bitsAllSet': {'$binary': {'base64': 'AAAAAAAAAAAB', 'subType': '00'}}}}", "{'a': -1}", true},
		{"{'a': {'$bitsAllSet': {'$binary': {'base64': 'AAAAAAAAAAAB', 'subType': '00'}}}}", "{'a': {'$binary': {'base64': 'AAAAAAAAAAAB', 'subType': '00'}}}", true},
		/* a binary mask against binary data: byte by byte, zero-extended */
		{"{'a': {'$bitsAllSet': {'$binary': {'base64': 'AAE=', 'subType': '00'}}}}", "{'a': {'$binary': {'base64': 'AQ==', 'subType': '00'}}}", false},
		{"{'a': {'$bitsAllClear': {'$binary': {'base64': 'AAE=', 'subType': '00'}}}}", "{'a': {'$binary': {'base64': 'AQ==', 'subType': '00'}}}", true},
		{"{'a': {'$bitsAnySet': {'$binary': {'base64': 'AAE=', 'subType': '00'}}}}", "{'a': {'$binary': {'base64': 'AQ==', 'subType': '00'}}}", false},
		{"{'a': {'$bitsAnyClear': {'$binary': {'base64': 'AAE=', 'subType': '00'}}}}", "{'a': {'$binary': {'base64': 'AQ==', 'subType': '00'}}}", true},
		{"{'a': {'$bitsAllSet': {'$binary': {'base64': 'AQM=', 'subType': '00'}}}}", "{'a': {'$binary': {'base64': 'AQcA', 'subType': '00'}}}", true},
		{"{'a': {'$bitsAnyClear': {'$binary': {'base64': 'AQM=', 'subType': '00'}}}}", "{'a': {'$binary': {'base64': 'AQcA', 'subType': '00'}}}", false},
		{"{'a': {'$bitsAnySet': {'$binary': {'base64': 'AAI=', 'subType': '00'}}}}", "{'a': {'$binary': {'base64': 'AQcA', 'subType': '00'}}}", true},
		{"{'a': {'$bitsAllClear': {'$binary': {'base64': '', 'subType': '00'}}}}", "{'a': 7}", true},
		{"{'a': {'$bitsAnySet': {'$binary': {'base64': '', 'subType': '00'}}}}", "{'a': {'$binary': {'base64': 'AQ==', 'subType': '00'}}}", false},
		{"{'a': {'$bitsAllSet': {'$numberLong': '9223372036854775807'}}}", "{'a': -1}", true},
		{"{'a': {'$bitsAllSet': {'$numberDecimal': '6'}}}", "{'a': 6}", true},
	};

	RUN_MATCHES(cases);
}


/* ----------------------------------------------------------------
 *		Logical operators
 * ----------------------------------------------------------------
 */

TEST(query_logical)
{
	static const MatchCase cases[] = {
		{"{'$and': [{'a': 1}, {'b': 2}]}", "{'a': 1, 'b': 2}", true},
		{"{'$and': [{'a': 1}, {'b': 2}]}", "{'a': 1}", false},
		{"{'$and': [{'a': {'$gt': 1}}, {'a': {'$lt': 3}}]}", "{'a': [0, 4]}", true},
		{"{'$or': [{'a': 1}, {'b': 2}]}", "{'b': 2}", true},
		{"{'$or': [{'a': 1}, {'b': 2}]}", "{'c': 3}", false},
		{"{'$nor': [{'a': 1}, {'b': 2}]}", "{'c': 3}", true},
		{"{'$nor': [{'a': 1}, {'b': 2}]}", "{'a': 1}", false},
		{"{'$nor': [{'a': 5}]}", "{'a': [1, 5]}", false},
		{"{'$or': [{}]}", "{'a': 1}", true},
		{"{'$and': [{}]}", "{}", true},
		{"{'$or': [{'$and': [{'a': 1}, {'b': 1}]}, {'c': 1}]}", "{'a': 1, 'b': 1}", true},
		{"{'a': 1, '$or': [{'b': 1}, {'c': 1}]}", "{'a': 1, 'c': 1}", true},
		{"{'a': 1, '$or': [{'b': 1}, {'c': 1}]}", "{'a': 2, 'c': 1}", false},
		{"{'a': {'$not': {'$gt': 5}}}", "{'a': 6}", false},
		{"{'a': {'$not': {'$gt': 5}}}", "{'a': 4}", true},
		{"{'a': {'$not': {'$gt': 5}}}", "{}", true},
		{"{'a': {'$not': {'$gt': 5}}}", "{'a': 'x'}", true},
		{"{'a': {'$not': {'$gt': 5}}}", "{'a': [1, 6]}", false},
		{"{'a': {'$not': {'$gt': 1, '$lt': 5}}}", "{'a': 3}", false},
		{"{'a': {'$not': {'$gt': 1, '$lt': 5}}}", "{'a': 6}", true},
		{"{'a': {'$not': {'$regularExpression': {'pattern': '^x', 'options': ''}}}}", "{'a': 'xy'}", false},
		{"{'a': {'$not': {'$regularExpression': {'pattern': '^x', 'options': ''}}}}", "{'a': 'yx'}", true},
		{"{'a': {'$not': {'$not': {'$eq': 1}}}}", "{'a': 1}", true},
		{"{'a': {'$not': {'$exists': true}}}", "{}", true},
		{"{'$comment': 'anything', 'a': 1}", "{'a': 1}", true},
		{"{'$comment': {'x': [1]}}", "{'a': 1}", true},
		{"{'$alwaysTrue': 1}", "{}", true},
		{"{'$alwaysFalse': 1}", "{'a': 1}", false},
		{"{'$or': [{'$alwaysFalse': 1}, {'a': 1}]}", "{'a': 1}", true},
	};

	RUN_MATCHES(cases);
}


/* ----------------------------------------------------------------
 *		Errors
 * ----------------------------------------------------------------
 */

TEST(query_errors_structure)
{
	static const ErrorCase cases[] = {
		{"{'$foo': 1}", MONGO_BAD_VALUE, "unknown top level operator: $foo"},
		{"{'$eq': 5}", MONGO_BAD_VALUE, "unknown top level operator: $eq"},
		{"{'$not': {'a': 1}}", MONGO_BAD_VALUE, "unknown top level operator: $not"},
		{"{'$elemMatch': {'a': 1}}", MONGO_BAD_VALUE, "unknown top level operator"},
		{"{'a': {'$foo': 1}}", MONGO_BAD_VALUE, "unknown operator: $foo"},
		{"{'a': {'$gt': 1, 'b': 1}}", MONGO_BAD_VALUE, "unknown operator: b"},
		{"{'a': {'$or': [{'b': 1}]}}", MONGO_BAD_VALUE, "unknown operator: $or"},
		{"{'a': {'$comment': 'x'}}", MONGO_BAD_VALUE, "unknown operator: $comment"},
		{"{'a': {'$geometry': {}}}", MONGO_BAD_VALUE, "$geometry can only be used inside"},
		{"{'$and': []}", MONGO_BAD_VALUE, "nonempty array"},
		{"{'$or': []}", MONGO_BAD_VALUE, "nonempty array"},
		{"{'$nor': []}", MONGO_BAD_VALUE, "nonempty array"},
		{"{'$and': {'a': 1}}", MONGO_BAD_VALUE, "$and must be an array"},
		{"{'$or': null}", MONGO_BAD_VALUE, "$or must be an array"},
		{"{'$nor': 'x'}", MONGO_BAD_VALUE, "$nor must be an array"},
		{"{'$and': [1]}", MONGO_BAD_VALUE, "entries need to be full objects"},
		{"{'$or': [{'a': 1}, [{'a': 1}]]}", MONGO_BAD_VALUE, "entries need to be full objects"},
		{"{'$or': [{'$invalid': 1}]}", MONGO_BAD_VALUE, "unknown top level operator: $invalid"},
		{"{'a': {'$not': 5}}", MONGO_BAD_VALUE, "$not needs a regex or a document"},
		{"{'a': {'$not': [1]}}", MONGO_BAD_VALUE, "$not needs a regex or a document"},
		{"{'a': {'$not': {}}}", MONGO_BAD_VALUE, "$not cannot be empty"},
		{"{'a': {'$not': {'b': 1}}}", MONGO_BAD_VALUE, "unknown operator: b"},
		{"{'$alwaysTrue': 2}", MONGO_FAILED_TO_PARSE, "$alwaysTrue must be an integer value of 1"},
		{"{'$alwaysFalse': 'x'}", MONGO_FAILED_TO_PARSE, NULL},
		/* what we do not run */
		{"{'$where': 'true'}", MONGO_BAD_VALUE, "$where is not supported"},
		{"{'a': {'$elemMatch': {'$where': 'true'}}}", MONGO_BAD_VALUE, "top-level document"},
		{"{'a': {'$not': {'$where': 'true'}}}", MONGO_BAD_VALUE, "unknown operator: $where"},
		{"{'$expr': {'$nosuchop': ['$a', 1]}}", 168, "Unrecognized expression '$nosuchop'"},
		{"{'a': {'$elemMatch': {'$expr': {}}}}", MONGO_BAD_VALUE, "top-level document"},
		{"{'$jsonSchema': 1}", MONGO_TYPE_MISMATCH, "$jsonSchema must be an object"},
		{"{'$sampleRate': 0.5}", MONGO_NOT_IMPLEMENTED, "$sampleRate"},
		/* geospatial operands: more in test_geo.c */
		{"{'a': {'$geoWithin': {}}}", MONGO_BAD_VALUE, "$geoWithin needs a shape"},
		{"{'a': {'$geoIntersects': {}}}", MONGO_BAD_VALUE, "$geoIntersects needs a $geometry"},
		{"{'a': {'$within': {}}}", MONGO_BAD_VALUE, "$geoWithin needs a shape"},
	};

	RUN_ERRORS(cases);
}

TEST(query_errors_operands)
{
	static const ErrorCase cases[] = {
		{"{'a': {'$undefined': true}}", MONGO_BAD_VALUE, "cannot compare to undefined"},
		{"{'a': {'$eq': {'$undefined': true}}}", MONGO_BAD_VALUE, "cannot compare to undefined"},
		{"{'a': {'$gt': {'$undefined': true}}}", MONGO_BAD_VALUE, "cannot compare to undefined"},
		{"{'a': {'$gt': {'$regularExpression': {'pattern': 'x', 'options': ''}}}}", MONGO_BAD_VALUE, "Can't have RegEx as arg to predicate over field 'a'."},
		{"{'a.b': {'$lte': {'$regularExpression': {'pattern': 'x', 'options': ''}}}}", MONGO_BAD_VALUE, "field 'a.b'"},
		{"{'a': {'$ne': {'$regularExpression': {'pattern': 'x', 'options': ''}}}}", MONGO_BAD_VALUE, "Can't have regex as arg to $ne."},
		{"{'a': {'$in': 1}}", MONGO_BAD_VALUE, "$in needs an array"},
		{"{'a': {'$in': {'b': 1}}}", MONGO_BAD_VALUE, "$in needs an array"},
		{"{'a': {'$nin': null}}", MONGO_BAD_VALUE, "$nin needs an array"},
		{"{'a': {'$in': [{'$gt': 1}]}}", MONGO_BAD_VALUE, "cannot nest $ under $in"},
		{"{'a': {'$nin': [{'$regex': 'x'}]}}", MONGO_BAD_VALUE, "cannot nest $ under $nin"},
		{"{'a': {'$in': [{'$undefined': true}]}}", MONGO_BAD_VALUE, "undefined"},
		{"{'a': {'$all': 1}}", MONGO_BAD_VALUE, "$all needs an array"},
		{"{'a': {'$all': [{'$elemMatch': {'x': 1}}, 1]}}", MONGO_BAD_VALUE, "$all/$elemMatch has to be consistent"},
		{"{'a': {'$all': [1, {'$elemMatch': {'x': 1}}]}}", MONGO_BAD_VALUE, "no $ expressions in $all"},
		{"{'a': {'$all': [{'$gt': 1}]}}", MONGO_BAD_VALUE, "no $ expressions in $all"},
		{"{'a': {'$all': [{'$undefined': true}]}}", MONGO_BAD_VALUE, "undefined"},
		{"{'a': {'$elemMatch': 1}}", MONGO_BAD_VALUE, "$elemMatch needs an Object"},
		{"{'a': {'$elemMatch': [1]}}", MONGO_BAD_VALUE, "$elemMatch needs an Object"},
		{"{'a': {'$elemMatch': {'$gt': 1, 'b': 1}}}", MONGO_BAD_VALUE, "unknown operator: b"},
		{"{'a': {'$size': 'x'}}", MONGO_BAD_VALUE, "$size needs a number"},
		{"{'a': {'$size': null}}", MONGO_BAD_VALUE, "$size needs a number"},
		{"{'a': {'$size': -1}}", MONGO_BAD_VALUE, "$size may not be negative"},
		{"{'a': {'$size': 1.5}}", MONGO_BAD_VALUE, "whole number"},
		{"{'a': {'$size': {'$numberDouble': 'NaN'}}}", MONGO_BAD_VALUE, "whole number"},
		{"{'a': {'$size': {'$numberDouble': 'Infinity'}}}", MONGO_BAD_VALUE, NULL},
		{"{'a': {'$size': {'$numberLong': '2147483648'}}}", MONGO_BAD_VALUE, "32-bit"},
		{"{'a': {'$size': {'$numberDecimal': '3.5'}}}", MONGO_BAD_VALUE, NULL},
		{"{'a': {'$size': {'$gt': 1}}}", MONGO_BAD_VALUE, NULL},
		{"{'a': {'$mod': 3}}", MONGO_BAD_VALUE, "malformed mod, needs to be an array"},
		{"{'a': {'$mod': []}}", MONGO_BAD_VALUE, "not enough elements"},
		{"{'a': {'$mod': [4]}}", MONGO_BAD_VALUE, "not enough elements"},
		{"{'a': {'$mod': [4, 1, 2]}}", MONGO_BAD_VALUE, "too many elements"},
		{"{'a': {'$mod': ['4', 1]}}", MONGO_BAD_VALUE, "divisor not a number"},
		{"{'a': {'$mod': [4, null]}}", MONGO_BAD_VALUE, "remainder not a number"},
		{"{'a': {'$mod': [0, 0]}}", MONGO_BAD_VALUE, "divisor cannot be 0"},
		{"{'a': {'$mod': [0.5, 0]}}", MONGO_BAD_VALUE, "divisor cannot be 0"},
		{"{'a': {'$mod': [{'$numberDecimal': '-0'}, 0]}}", MONGO_BAD_VALUE, "divisor cannot be 0"},
		{"{'a': {'$mod': [{'$numberDouble': 'NaN'}, 0]}}", MONGO_BAD_VALUE, "divisor value is invalid"},
		{"{'a': {'$mod': [1e19, 0]}}", MONGO_BAD_VALUE, "divisor value is invalid"},
		{"{'a': {'$mod': [4, {'$numberDecimal': 'Infinity'}]}}", MONGO_BAD_VALUE, "remainder value is invalid"},
		{"{'a': {'$mod': [{'$numberDecimal': '1E+19'}, 0]}}", MONGO_BAD_VALUE, NULL},
		{"{'a': {'$type': null}}", MONGO_TYPE_MISMATCH, "type must be represented as a number or a string"},
		{"{'a': {'$type': true}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'a': {'$type': {}}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'a': {'$type': [[1]]}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'a': {'$type': ['string', null]}}", MONGO_TYPE_MISMATCH, NULL},
		{"{'a': {'$type': 'foo'}}", MONGO_BAD_VALUE, "Unknown type name alias: foo"},
		{"{'a': {'$type': 'Double'}}", MONGO_BAD_VALUE, "Unknown type name alias"},
		{"{'a': {'$type': ''}}", MONGO_BAD_VALUE, "Unknown type name alias"},
		{"{'a': {'$type': 0}}", MONGO_BAD_VALUE, "Invalid numerical type code"},
		{"{'a': {'$type': 20}}", MONGO_BAD_VALUE, "Invalid numerical type code"},
		{"{'a': {'$type': -2}}", MONGO_BAD_VALUE, "Invalid numerical type code"},
		{"{'a': {'$type': 1.5}}", MONGO_BAD_VALUE, "Invalid numerical type code"},
		{"{'a': {'$type': []}}", MONGO_FAILED_TO_PARSE, "must match at least one type"},
		{"{'a': {'$bitsAllSet': -1}}", MONGO_FAILED_TO_PARSE, "Expected a positive number"},
		{"{'a': {'$bitsAllSet': 1.5}}", MONGO_FAILED_TO_PARSE, "Expected an integer"},
		{"{'a': {'$bitsAnySet': {'$numberDouble': 'NaN'}}}", MONGO_FAILED_TO_PARSE, "NaN"},
		{"{'a': {'$bitsAnyClear': 1e19}}", MONGO_FAILED_TO_PARSE, "64-bit integer"},
		{"{'a': {'$bitsAllClear': {'$numberDecimal': '1.5'}}}", MONGO_FAILED_TO_PARSE, "64-bit integer"},
		{"{'a': {'$bitsAllSet': 'x'}}", MONGO_BAD_VALUE, "takes an Array, a number, or a BinData"},
		{"{'a': {'$bitsAllSet': null}}", MONGO_BAD_VALUE, "takes an Array"},
		{"{'a': {'$bitsAllSet': {'b': 1}}}", MONGO_BAD_VALUE, "takes an Array"},
		{"{'a': {'$bitsAllSet': [-1]}}", MONGO_BAD_VALUE, "bit positions must be >= 0"},
		{"{'a': {'$bitsAllSet': [1.5]}}", MONGO_BAD_VALUE, "bit positions must be an integer"},
		{"{'a': {'$bitsAllSet': ['x']}}", MONGO_BAD_VALUE, "bit positions must be an integer"},
		{"{'a': {'$bitsAllSet': [[1]]}}", MONGO_BAD_VALUE, "bit positions must be an integer"},
		{"{'a': {'$bitsAllSet': [{'$numberLong': '2147483648'}]}}", MONGO_BAD_VALUE, "32-bit signed integer"},
		{"{'a': {'$bitsAllSet': [{'$numberDecimal': 'NaN'}]}}", MONGO_BAD_VALUE, NULL},
	};

	RUN_ERRORS(cases);
}

TEST(query_errors_regex)
{
	static const ErrorCase cases[] = {
		{"{'a': {'$regex': '('}}", 51091, "Regular expression is invalid: "},
		{"{'a': {'$regex': '[a-'}}", 51091, NULL},
		{"{'a': {'$regularExpression': {'pattern': 'a)', 'options': ''}}}", 51091, NULL},
		{"{'a': {'$in': [{'$regularExpression': {'pattern': '*', 'options': ''}}]}}", 51091, NULL},
		{"{'a': {'$regex': 'x', '$options': 'g'}}", 51108, "invalid flag in regex options: g"},
		{"{'a': {'$regex': 'x', '$options': 'I'}}", 51108, NULL},
		{"{'a': {'$regex': 'x', '$options': 'i\\u0000m'}}", 51108, NULL},
		{"{'a': {'$regex': 'a\\u0000b'}}", MONGO_BAD_VALUE, "embedded null byte"},
		{"{'a': {'$regex': {'$regularExpression': {'pattern': 'x', 'options': 'i'}}, '$options': 'm'}}", 51075, "options set in both $regex and $options"},
		{"{'a': {'$options': 'm', '$regex': {'$regularExpression': {'pattern': 'x', 'options': 'i'}}}}", 51074, "options set in both $regex and $options"},
		{"{'a': {'$options': 'i'}}", MONGO_BAD_VALUE, "$options needs a $regex"},
		{"{'a': {'$regex': 1}}", MONGO_BAD_VALUE, "$regex has to be a string"},
		{"{'a': {'$regex': ['x']}}", MONGO_BAD_VALUE, "$regex has to be a string"},
		{"{'a': {'$regex': 'x', '$options': null}}", MONGO_BAD_VALUE, "$options has to be a string"},
		{"{'a': {'$regex': 'x', '$options': 1}}", MONGO_BAD_VALUE, "$options has to be a string"},
	};

	RUN_ERRORS(cases);
}

TEST(query_error_codes_and_names)
{
	BsonQueryError error;
	BsonFilter *filter;

	filter = Compile("{'a': {'$regex': '('}}", &error, __FILE__, __LINE__);
	CHECK(filter == NULL);
	CHECK_EQ(error.code, 51091);
	CHECK_STR_EQ(error.code_name, "Location51091");
	pfree(error.message);

	filter = Compile("{'$foo': 1}", &error, __FILE__, __LINE__);
	CHECK(filter == NULL);
	CHECK_STR_EQ(error.code_name, "BadValue");
	CHECK_STR_EQ(error.message, "unknown top level operator: $foo");
	pfree(error.message);

	filter = Compile("{'a': {'$type': null}}", &error, __FILE__, __LINE__);
	CHECK(filter == NULL);
	CHECK_STR_EQ(error.code_name, "TypeMismatch");
	pfree(error.message);

	filter = Compile("{'$expr': {'$nosuchop': 1}}", &error, __FILE__, __LINE__);
	CHECK(filter == NULL);
	CHECK_STR_EQ(error.code_name, "InvalidPipelineOperator");
	pfree(error.message);

	/* success leaves the error empty */
	filter = Compile("{'a': 1}", &error, __FILE__, __LINE__);
	CHECK(filter != NULL);
	CHECK_EQ(error.code, 0);
	CHECK(error.message == NULL);
	BsonFilterFree(filter);
	BsonFilterFree(NULL);
}


/* ----------------------------------------------------------------
 *		Positions
 * ----------------------------------------------------------------
 */

TEST(query_positions)
{
	static const PositionCase cases[] = {
		{"{'x': 1}", "{'x': 1}", -1},
		{"{'a': 5}", "{'a': [1, 5]}", 1},
		{"{'a': [1, 5]}", "{'a': [1, 5]}", -1},
		{"{'a': [1, 5]}", "{'a': [0, [1, 5]]}", 1},
		{"{'a.b': 2}", "{'a': [{'b': 1}, {'b': 2}]}", 1},
		/* the outermost array wins */
		{"{'a.b': 2}", "{'a': [{'b': 0}, {'b': [1, 2]}]}", 1},
		{"{'a.b': 2}", "{'a': {'b': [1, 2]}}", 1},
		{"{'a.b': null}", "{'a': [{'b': 1}, {'c': 1}]}", 1},
		/* a positional component is no traversal */
		{"{'a.1': 5}", "{'a': [1, 5]}", -1},
		{"{'a.1.b': 5}", "{'a': [1, {'b': [4, 5]}]}", 1},
		{"{'a': {'$elemMatch': {'$gt': 2}}}", "{'a': [1, 3]}", 1},
		{"{'a': {'$elemMatch': {'b': 2}}}", "{'a': [{'b': 1}, {'b': 2}]}", 1},
		{"{'a.b': {'$elemMatch': {'$gt': 2}}}", "{'a': [{'b': [0]}, {'b': [1, 3]}]}", 1},
		{"{'a': {'$all': [1, 2]}}", "{'a': [2, 1]}", 0},
		{"{'a': {'$in': [7, 8]}}", "{'a': [0, 8, 7]}", 1},
		{"{'a': {'$regex': 'x'}}", "{'a': ['a', 'x']}", 1},
		{"{'a': {'$size': 2}}", "{'a': [1, 2]}", -1},
		{"{'a': {'$ne': 5}}", "{'a': [1, 2]}", -1},
		{"{'a': {'$exists': true}}", "{'a': [1, 2]}", 0},
		/* an $and keeps the last array position */
		{"{'a': 1, 'b': 2}", "{'a': [0, 1], 'b': [2]}", 0},
		{"{'a': 1, 'b': 2}", "{'a': [0, 1], 'b': 2}", 1},
		/*
		 * $or records no position, except as MongoDB's optimizer rewrites
		 * it: one branch is that branch, and equalities on one path an $in
		 * (whose position is the first element any value matches)
		 */
		{"{'$or': [{'a': 9}, {'a': 1}]}", "{'a': [0, 1]}", 1},
		{"{'$or': [{'a': 1}, {'a': 0}]}", "{'a': [0, 1]}", 0},
		{"{'$or': [{'a': {'$eq': 1}}, {'a': {'$regularExpression': {'pattern': '^x', 'options': ''}}}, {'a': {'$in': [7]}}]}", "{'a': [7, 'xy', 1]}", 0},
		{"{'$or': [{'a': 1}]}", "{'a': [0, 1]}", 1},
		{"{'$or': [{'a': {'$gt': 0}}]}", "{'a': [0, 1]}", 1},
		{"{'$or': [{'$and': [{'a': 1}]}, {'a': 2}]}", "{'a': [2, 1]}", 0},
		{"{'$or': [{'a': 1}, {'b': 10}]}", "{'a': [0, 1], 'b': 10}", -1},
		{"{'$or': [{'arr': 20}, {'status': 'A'}]}", "{'arr': [10, 20], 'status': 'A'}", -1},
		{"{'$or': [{'a': 1}, {'a': {'$gt': 5}}]}", "{'a': [0, 1]}", -1},
		{"{'$or': [{'a': 1}, {'a': {'$in': [5, 6]}}]}", "{'a': [0, 1]}", -1},
		{"{'$or': [{'a': 1}, {'a': {'$eq': {'$regularExpression': {'pattern': 'x', 'options': ''}}}}]}", "{'a': [0, 1]}", -1},
		{"{'$or': [{'a': 1, 'b': 9}, {'c': 1}]}", "{'a': [0, 1], 'c': 1}", -1},
		{"{'$or': [{'$or': [{'a': 1}, {'a': 2}]}, {'a': 3}]}", "{'a': [0, 1]}", -1},
		/* an $and keeps an earlier leaf's position past such an $or */
		{"{'b': 2, '$or': [{'a': 1}, {'c': 1}]}", "{'a': [0, 1], 'b': [1, 2]}", 1},
		{"{'$nor': [{'a': 9}]}", "{'a': [0, 1]}", -1},
	};

	RUN_POSITIONS(cases);
}


/* ----------------------------------------------------------------
 *		Robustness
 * ----------------------------------------------------------------
 */

/*
 * NestedFilter
 *		{'$and': [{'$and': [ ... {'a': 1} ... ]}]} with depth $ands.
 */
static bson_t *
NestedFilter(int depth)
{
	bson_t	   *levels = palloc((depth + 1) * sizeof(bson_t));
	bson_t	   *result;

	bson_init(&levels[depth]);
	bson_append_int32(&levels[depth], "a", 1, 1);
	for (int i = depth - 1; i >= 0; i--)
	{
		bson_t		array;

		bson_init(&levels[i]);
		bson_append_array_begin(&levels[i], "$and", 4, &array);
		bson_append_document(&array, "0", 1, &levels[i + 1]);
		bson_append_array_end(&levels[i], &array);
		bson_destroy(&levels[i + 1]);
	}
	result = bson_copy(&levels[0]);
	bson_destroy(&levels[0]);
	pfree(levels);
	return result;
}

TEST(query_nesting)
{
	BsonQueryError error;
	BsonFilter *filter;
	bson_t	   *f;
	bson_t	   *doc = ParseJson("{'a': 1}", __FILE__, __LINE__);

	/* 49 $ands are 99 levels of BSON: accepted */
	f = NestedFilter(49);
	filter = BsonFilterCompile(bson_get_data(f), f->len, &error);
	CHECK(filter != NULL);
	if (filter != NULL)
	{
		CHECK(BsonFilterMatches(filter, bson_get_data(doc), doc->len));
		BsonFilterFree(filter);
	}
	else
		pfree(error.message);
	bson_destroy(f);

	/* deeper is rejected cleanly */
	f = NestedFilter(200);
	filter = BsonFilterCompile(bson_get_data(f), f->len, &error);
	CHECK(filter == NULL);
	if (filter == NULL)
	{
		CHECK_EQ(error.code, MONGO_BAD_VALUE);
		pfree(error.message);
	}
	else
		BsonFilterFree(filter);
	bson_destroy(f);
	bson_destroy(doc);
}

TEST(query_malformed_bytes)
{
	BsonQueryError error;
	static const uint8_t truncated[] = {0x10, 0, 0, 0, 0x10, 'a', 0, 1};
	static const uint8_t empty[] = {5, 0, 0, 0, 0};
	BsonFilter *filter;

	filter = BsonFilterCompile(truncated, sizeof(truncated), &error);
	CHECK(filter == NULL);
	CHECK_EQ(error.code, MONGO_BAD_VALUE);
	if (filter == NULL)
		pfree(error.message);

	filter = BsonFilterCompile(empty, sizeof(empty), &error);
	CHECK(filter != NULL);
	if (filter != NULL)
	{
		CHECK(BsonFilterMatches(filter, empty, sizeof(empty)));
		/* a corrupt document matches as if its fields were missing */
		BsonFilterFree(filter);
	}

	filter = BsonFilterCompile(empty, 0, &error);
	CHECK(filter == NULL);
	if (filter == NULL)
		pfree(error.message);
}

TEST(query_corrupt_documents)
{
	BsonQueryError error;
	BsonFilter *filter = Compile("{'a.b': null, 'c': {'$exists': false}}", &error,
								 __FILE__, __LINE__);
	bson_t	   *doc = ParseJson("{'a': [{'b': null}, {'x': 1}]}", __FILE__, __LINE__);
	uint8_t    *copy = palloc(doc->len);

	CHECK(filter != NULL);
	if (filter == NULL)
		return;
	CHECK(BsonFilterMatches(filter, bson_get_data(doc), doc->len));

	/* every truncation and every flipped byte: no crash, no overread */
	for (uint32_t cut = 0; cut < doc->len; cut++)
	{
		memcpy(copy, bson_get_data(doc), cut);
		(void) BsonFilterMatches(filter, copy, cut);
	}
	for (uint32_t pos = 0; pos < doc->len; pos++)
	{
		for (int bit = 0; bit < 8; bit++)
		{
			int32_t		position;

			memcpy(copy, bson_get_data(doc), doc->len);
			copy[pos] ^= 1 << bit;
			(void) BsonFilterMatchesWithPosition(filter, copy, doc->len, &position);
		}
	}
	pfree(copy);
	bson_destroy(doc);
	BsonFilterFree(filter);
}

TEST(query_regexes_are_freed)
{
	/* many regexes in one filter, and failures after some compiled */
	for (int round = 0; round < 50; round++)
	{
		BsonQueryError error;
		BsonFilter *filter;

		filter = Compile("{'a': {'$in': [{'$regularExpression': {'pattern': 'a', 'options': ''}}, {'$regularExpression': {'pattern': 'b', 'options': 'i'}}]}, 'b': {'$regex': 'c'}, 'c': {'$not': {'$regularExpression': {'pattern': 'd', 'options': ''}}}, 'd': {'$all': [{'$regularExpression': {'pattern': 'e', 'options': 's'}}]}, 'e': {'$regularExpression': {'pattern': 'f', 'options': 'm'}}}",
						 &error, __FILE__, __LINE__);
		CHECK(filter != NULL);
		BsonFilterFree(filter);

		filter = Compile("{'a': {'$regex': 'ok'}, 'b': {'$regex': '(bad'}}", &error,
						 __FILE__, __LINE__);
		CHECK(filter == NULL);
		if (filter == NULL)
			pfree(error.message);
	}
}

TEST(query_match_speed_smoke)
{
	BsonQueryError error;
	BsonFilter *filter = Compile("{'a': {'$gt': 5}, 'b.c': 'x'}", &error, __FILE__, __LINE__);
	bson_t	   *doc = ParseJson("{'_id': 1, 'a': 7, 'z': 'filler', 'b': {'y': 1, 'c': 'x'}}",
								__FILE__, __LINE__);
	int			n = 0;

	CHECK(filter != NULL);
	if (filter == NULL)
		return;
	for (int i = 0; i < 100000; i++)
		n += BsonFilterMatches(filter, bson_get_data(doc), doc->len);
	CHECK_EQ(n, 100000);
	bson_destroy(doc);
	BsonFilterFree(filter);
}
