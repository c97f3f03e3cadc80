/*-------------------------------------------------------------------------
 *
 * fuzz_projection.c
 *	  libFuzzer target for MongoDB find projections and sort documents
 *	  (src/projection.c, src/sort.c).
 *
 * The input is taken as a projection document's BSON bytes; bytes that
 * BsonValidateBytes rejects are skipped, as the server would never pass
 * them on.  Valid bytes are compiled as a projection: a rejection must come
 * with an error code, a code name and a message.  A compiled projection is
 * applied to a fixed set of documents (arrays of documents, nested arrays,
 * scalars where paths expect documents, every kind of number), with the
 * positional index -1, 0, 1 and 7: each result must be a valid BSON
 * document, and each failure must come with a code and a message.  Bytes
 * after the projection (its length prefix says where it ends) are projected
 * too, when they are a valid document.
 *
 * The same bytes are compiled as a sort document; a compiled sort must
 * order the fixed documents consistently (cmp(a, b) = -cmp(b, a), and
 * cmp(a, a) = 0), and BsonSortKey must give a value for each of its paths.
 * Everything is freed: the sanitizers report any leak, overread or
 * undefined behaviour.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <stdio.h>
#include <stdlib.h>

#include "bson_json.h"
#include "projection.h"
#include "sort.h"

/* The documents every compiled projection is applied to */
static const char *const fuzz_doc_texts[] = {
	"{}",
	"{\"_id\": 1, \"a\": 1, \"b\": \"x\", \"c\": null}",
	"{\"_id\": 2, \"a\": [1, 5, [2, 3], {\"b\": 4}], \"b\": {\"c\": [{\"d\": 1}, {\"d\": [2, null]}]}}",
	"{\"a\": [{\"b\": 1, \"c\": [1, 2]}, {\"b\": [2, 3]}, {\"0\": {\"b\": 5}}, 7], \"x\": \"abc\", \"_id\": {\"x\": 1}}",
	"{\"_id\": 3, \"a\": {\"0\": 1, \"b\": {\"c\": \"ABC\"}}, \"\": 0, \"d\": [\"a\", \"b\", 3]}",
	"{\"a\": {\"$numberDouble\": \"NaN\"}, \"b\": {\"$numberDecimal\": \"-1.5E+3\"}, \"c\": {\"$numberLong\": \"-9223372036854775808\"}, \"d\": 1e300, \"e\": -0.0}",
	"{\"a\": [[[1]], [[{\"b\": 1}]]], \"b\": [], \"c\": [[]], \"x\": {\"$symbol\": \"abc\"}, \"y\": {\"$undefined\": true}, \"z\": true}",
	"{\"a\": [{\"b\": [{\"c\": [{\"d\": 1}]}]}], \"b\": {\"$timestamp\": {\"t\": 1, \"i\": 2}}, \"d\": [0, -1, 255, 2.5, {\"$numberDecimal\": \"NaN\"}]}",
	"{\"a\": 5, \"a\": [1, 2], \"b\": {\"c\": 1, \"c\": [3]}}",
};

#define FUZZ_NDOCS	lengthof(fuzz_doc_texts)

static bson_t *fuzz_docs[FUZZ_NDOCS];

static const int32_t fuzz_positions[] = {-1, 0, 1, 7};

/*
 * Report a broken invariant with the input's bytes and stop: libFuzzer
 * catches the abort and saves the input.
 */
static void
FuzzProjectionFail(const uint8_t *data, size_t size, const char *what)
{
	fprintf(stderr, "input (%zu bytes):", size);
	for (size_t i = 0; i < size; i++)
		fprintf(stderr, "%s%02x", i % 32 == 0 ? "\n  " : " ", data[i]);
	fprintf(stderr, "\nfuzz oracle failed: %s\n", what);
	fflush(stderr);
	abort();
}

/*
 * Check an error: it must have a code, a code name and a message.
 */
static void
FuzzCheckError(const BsonQueryError *error, const uint8_t *data, size_t size,
			   const char *what)
{
	if (error->code == 0 || error->code_name == NULL || error->message == NULL ||
		error->message[0] == '\0')
		FuzzProjectionFail(data, size, what);
}

/*
 * Apply a projection to one document at every position; check the results.
 */
static void
FuzzApply(const BsonProjection *p, const uint8_t *doc, uint32_t len,
		  const uint8_t *data, size_t size)
{
	for (size_t i = 0; i < lengthof(fuzz_positions); i++)
	{
		BsonQueryError error;
		bson_t		out;

		if (BsonProjectionApply(p, doc, len, fuzz_positions[i], &out, &error))
		{
			bool		degenerate;
			char	   *problem = BsonValidateBytes(bson_get_data(&out), out.len,
													&degenerate);

			if (problem != NULL)
			{
				fprintf(stderr, "invalid output: %s\n", problem);
				FuzzProjectionFail(data, size, "a projection produced invalid BSON");
			}
			if (error.message != NULL)
				FuzzProjectionFail(data, size, "a projection succeeded with an error");
		}
		else
		{
			FuzzCheckError(&error, data, size,
						   "a projection failed without a code, a code name and a message");
			pfree(error.message);
		}
		bson_destroy(&out);
	}
}

/*
 * Compile the input as a sort and check that it orders consistently.
 */
static void
FuzzSort(const uint8_t *data, size_t size)
{
	BsonQueryError error;
	BsonSortSpec *s = BsonSortCompile(data, (uint32_t) size, &error);

	if (s == NULL)
	{
		FuzzCheckError(&error, data, size,
					   "a sort was rejected without a code, a code name and a message");
		pfree(error.message);
		return;
	}
	for (size_t i = 0; i < FUZZ_NDOCS; i++)
	{
		const uint8_t *a = bson_get_data(fuzz_docs[i]);
		uint32_t	alen = fuzz_docs[i]->len;

		for (int f = 0; f < BsonSortFieldCount(s); f++)
		{
			bson_value_t key;

			BsonSortKey(a, alen, BsonSortFieldPath(s, f), BsonSortFieldDescending(s, f), &key);
			if (key.value_type == BSON_TYPE_EOD)
				FuzzProjectionFail(data, size, "a sort key without a value");
		}
		for (size_t j = 0; j < FUZZ_NDOCS; j++)
		{
			const uint8_t *b = bson_get_data(fuzz_docs[j]);
			uint32_t	blen = fuzz_docs[j]->len;
			int			ab = BsonSortCompareDocs(s, a, alen, b, blen);
			int			ba = BsonSortCompareDocs(s, b, blen, a, alen);

			if ((ab > 0) != (ba < 0) || (ab < 0) != (ba > 0) || (i == j && ab != 0))
				FuzzProjectionFail(data, size, "a sort orders inconsistently");
		}
	}
	BsonSortFree(s);
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
			fprintf(stderr, "fuzz_projection: document %zu does not parse: %s\n", i, error);
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
	BsonProjection *p;
	BsonQueryError error;
	const uint8_t *extra = NULL;
	uint32_t	extra_len = 0;

	if (size > UINT32_MAX)
		return 0;
	/* the projection is what its length prefix says; the rest is a document */
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

	FuzzSort(data, size);

	p = BsonProjectionCompile(data, (uint32_t) size, &error);
	if (p == NULL)
	{
		FuzzCheckError(&error, data, size,
					   "a projection was rejected without a code, a code name and a message");
		pfree(error.message);
		return 0;
	}
	if (error.message != NULL)
		FuzzProjectionFail(data, size, "a projection compiled but left an error message");

	for (size_t i = 0; i < FUZZ_NDOCS; i++)
		FuzzApply(p, bson_get_data(fuzz_docs[i]), fuzz_docs[i]->len, data, size);

	if (extra != NULL)
	{
		/* a private copy, so that an overread is caught exactly */
		uint8_t    *copy = palloc(extra_len);

		memcpy(copy, extra, extra_len);
		problem = BsonValidateBytes(copy, extra_len, &degenerate);
		if (problem == NULL)
			FuzzApply(p, copy, extra_len, data, size);
		else
			pfree(problem);
		pfree(copy);
	}
	BsonProjectionFree(p);
	return 0;
}
