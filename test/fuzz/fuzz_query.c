/*-------------------------------------------------------------------------
 *
 * fuzz_query.c
 *	  libFuzzer target for the MongoDB filter compiler and matcher
 *	  (src/query_parse.c, src/query_match.c).
 *
 * The input is taken as a filter document's BSON bytes.  Bytes that
 * BsonValidateBytes rejects are what the server would never hand to the
 * compiler, and are skipped.  Valid bytes are compiled; a filter that does
 * not compile must come with an error code, a code name and a message.  A
 * filter that compiles is matched against a fixed set of documents (arrays
 * of documents, nested arrays, numeric field names, every kind of number,
 * strings, binary data), with and without the positional index, and the
 * two must agree: same answer, and an index of -1 whenever there is no
 * match.  Bytes after the filter (its length prefix says where it ends)
 * are matched as one more document, unvalidated: the matcher must survive
 * corrupt documents too.  Then everything is freed: the sanitizers report
 * any leak, overread or undefined behaviour.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bson_json.h"
#include "query.h"

/* The documents every compiled filter is matched against */
static const char *const fuzz_doc_texts[] = {
	"{}",
	"{\"a\": 1, \"b\": \"x\", \"c\": null}",
	"{\"a\": [1, 5, [2, 3], {\"b\": 4}], \"b\": {\"c\": [{\"d\": 1}, {\"d\": [2, null]}]}}",
	"{\"a\": [{\"b\": 1, \"c\": [1, 2]}, {\"b\": [2, 3]}, {\"0\": {\"b\": 5}}, 7], \"x\": \"abc\"}",
	"{\"a\": {\"0\": 1, \"b\": {\"c\": \"ABC\\ndef\"}}, \"\": 0, \"x\": [\"a\", \"b\", {\"$regularExpression\": {\"pattern\": \"^a\", \"options\": \"i\"}}]}",
	"{\"a\": {\"$numberDouble\": \"NaN\"}, \"b\": {\"$numberDecimal\": \"-1.5E+3\"}, \"c\": {\"$numberLong\": \"-9223372036854775808\"}, \"d\": 1e300, \"e\": -0.0}",
	"{\"a\": {\"$binary\": {\"base64\": \"AQIDBA==\", \"subType\": \"00\"}}, \"b\": {\"$minKey\": 1}, \"c\": {\"$maxKey\": 1}, \"d\": {\"$date\": \"2020-01-01T00:00:00Z\"}, \"e\": {\"$oid\": \"57e193d7a9cc81b4027498b5\"}}",
	"{\"a\": [[[1]], [[{\"b\": 1}]]], \"b\": [], \"c\": [[]], \"x\": {\"$symbol\": \"abc\"}, \"y\": {\"$undefined\": true}, \"z\": true}",
	"{\"a\": {\"type\": \"Point\", \"coordinates\": [1, 2]}, \"b\": [[0, 0], [5, 5], {\"x\": 1, \"y\": 2}], \"c\": {\"type\": \"Polygon\", \"coordinates\": [[[0, 0], [3, 0], [3, 3], [0, 0]]]}, \"d\": {\"type\": \"LineString\", \"coordinates\": [[179, 0], [-179, 1]]}, \"loc\": [1, 1]}",
	"{\"loc\": {\"type\": \"GeometryCollection\", \"geometries\": [{\"type\": \"MultiPoint\", \"coordinates\": [[0, 90], [180, -90]]}, {\"type\": \"MultiPolygon\", \"coordinates\": [[[[0, 0], [1, 0], [1, 1], [0, 0]]]]}]}, \"a\": {\"type\": \"Point\", \"coordinates\": []}, \"b\": {\"type\": \"Polygon\", \"coordinates\": [[[0, 0], [0, 0], [0, 0], [0, 0]]]}}",
	"{\"a\": [{\"b\": [{\"c\": [{\"d\": 1}]}]}], \"b\": {\"$timestamp\": {\"t\": 1, \"i\": 2}}, \"c\": {\"$code\": \"f()\"}, \"d\": [0, -1, 255, 2.5, {\"$numberDecimal\": \"NaN\"}]}",
};

#define FUZZ_NDOCS	lengthof(fuzz_doc_texts)

static bson_t *fuzz_docs[FUZZ_NDOCS];

/*
 * Report a broken invariant with the filter's bytes and stop: libFuzzer
 * catches the abort and saves the input.
 */
static void
FuzzQueryFail(const uint8_t *data, size_t size, const char *what)
{
	fprintf(stderr, "filter (%zu bytes):", size);
	for (size_t i = 0; i < size; i++)
		fprintf(stderr, "%s%02x", i % 32 == 0 ? "\n  " : " ", data[i]);
	fprintf(stderr, "\nfuzz oracle failed: %s\n", what);
	fflush(stderr);
	abort();
}

/*
 * Parse the fixed documents once.
 */
int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	for (size_t i = 0; i < FUZZ_NDOCS; i++)
	{
		BsonParsed	parsed;
		char	   *error = NULL;

		if (!BsonParseJson(fuzz_doc_texts[i], strlen(fuzz_doc_texts[i]), &parsed, &error))
		{
			fprintf(stderr, "fuzz_query: document %zu does not parse: %s\n", i, error);
			abort();
		}
		/* a bson_t may point into itself: copy, never assign */
		fuzz_docs[i] = bson_copy(&parsed.doc);
		bson_destroy(&parsed.doc);
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool		degenerate;
	char	   *problem;
	BsonFilter *filter;
	BsonNearSpec near;
	BsonQueryError error;
	const uint8_t *extra = NULL;
	uint32_t	extra_len = 0;

	if (size > UINT32_MAX)
		return 0;
	/* the filter is what its length prefix says; the rest is a document */
	if (size >= 5)
	{
		uint32_t	prefix;

		memcpy(&prefix, data, sizeof(prefix));
		prefix = BSON_UINT32_FROM_LE(prefix);
		if (prefix >= 5 && prefix < size)
		{
			extra = data + prefix;
			extra_len = (uint32_t) (size - prefix);
			size = prefix;
		}
	}
	problem = BsonValidateBytes(data, size, &degenerate);
	if (problem != NULL)
	{
		pfree(problem);
		return 0;
	}

	filter = BsonFilterCompile(data, (uint32_t) size, &error);
	if (filter == NULL)
	{
		if (error.code == 0 || error.code_name == NULL || error.message == NULL ||
			error.message[0] == '\0')
			FuzzQueryFail(data, size,
						  "a filter was rejected without a code, a code name and a message");
		pfree(error.message);
		return 0;
	}
	if (error.message != NULL)
		FuzzQueryFail(data, size, "a filter compiled but left an error message");

	for (size_t i = 0; i < FUZZ_NDOCS; i++)
	{
		const uint8_t *doc = bson_get_data(fuzz_docs[i]);
		uint32_t	len = fuzz_docs[i]->len;
		int32_t		position = -2;
		bool		matched = BsonFilterMatches(filter, doc, len);
		bool		matched2 = BsonFilterMatchesWithPosition(filter, doc, len, &position);

		if (matched != matched2 || position < -1 || (!matched && position != -1))
		{
			fprintf(stderr, "document %zu: matches %d, with position %d at %d\n",
					i, matched, matched2, position);
			FuzzQueryFail(data, size,
						  "BsonFilterMatches and BsonFilterMatchesWithPosition disagree");
		}
	}
	/* the distances of a $near, for every document */
	if (BsonFilterGetNear(filter, &near))
	{
		for (size_t i = 0; i < FUZZ_NDOCS; i++)
		{
			double		d = BsonNearDistance(&near, bson_get_data(fuzz_docs[i]),
											 fuzz_docs[i]->len);

			if (isnan(d) || d < 0)
				FuzzQueryFail(data, size, "a $near distance that is NaN or negative");
		}
	}
	if (extra != NULL)
	{
		/* a private copy, so that an overread is caught exactly */
		uint8_t    *copy = palloc(extra_len);
		int32_t		position = -2;
		bool		matched;

		memcpy(copy, extra, extra_len);
		matched = BsonFilterMatchesWithPosition(filter, copy, extra_len, &position);
		if (position < -1 || (!matched && position != -1))
			FuzzQueryFail(data, size, "a bad position for a corrupt document");
		pfree(copy);
	}
	BsonFilterFree(filter);
	return 0;
}
