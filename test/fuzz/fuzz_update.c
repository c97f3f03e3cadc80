/*-------------------------------------------------------------------------
 *
 * fuzz_update.c
 *	  libFuzzer target for the MongoDB update engine (src/update_*.c).
 *
 * The input is an update document's BSON bytes, optionally followed by a
 * second document whose first element, when it is an array, is taken as
 * the arrayFilters (each length prefix says where its document ends).
 * Bytes that BsonValidateBytes rejects are skipped, as the server would
 * never pass them on.  An update that does not compile must come with an
 * error code, a code name and a message.  One that compiles is applied to
 * a fixed set of documents, with no position and with positions 0 and 1,
 * as an update and as an upsert: every application must either fail with
 * a complete error or give valid BSON.  The update bytes are also used as
 * a query filter for BsonUpsertSeed, under the same oracle.  Everything is
 * freed: the sanitizers report any leak, overread or undefined behaviour.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <stdio.h>
#include <stdlib.h>

#include "bson_json.h"
#include "update.h"

/* The documents every compiled update is applied to */
static const char *const fuzz_doc_texts[] = {
	"{}",
	"{\"_id\": 1, \"a\": 1, \"b\": \"x\", \"c\": null}",
	"{\"_id\": 2, \"a\": [1, 5, [2, 3], {\"b\": 4}], \"b\": {\"c\": [{\"d\": 1}, {\"d\": [2, null]}]}}",
	"{\"_id\": {\"k\": 1}, \"a\": [{\"b\": 1, \"c\": [1, 2]}, {\"b\": [2, 3]}, {\"0\": {\"b\": 5}}, 7], \"x\": \"abc\"}",
	"{\"a\": {\"0\": 1, \"b\": {\"c\": \"ABC\"}}, \"\": 0, \"x\": [\"a\", \"b\"], \"n\": {\"$numberLong\": \"9223372036854775807\"}}",
	"{\"_id\": 3, \"a\": {\"$numberDouble\": \"NaN\"}, \"b\": {\"$numberDecimal\": \"-1.5E+3\"}, \"c\": {\"$numberLong\": \"-9223372036854775808\"}, \"d\": 1e300, \"e\": -0.0, \"f\": 2147483647}",
	"{\"_id\": 4, \"a\": [[[1]], [[{\"b\": 1}]]], \"b\": [], \"c\": [[]], \"z\": true, \"t\": {\"$timestamp\": {\"t\": 1, \"i\": 2}}}",
};

#define FUZZ_NDOCS	lengthof(fuzz_doc_texts)

static bson_t *fuzz_docs[FUZZ_NDOCS];

/*
 * Report a broken invariant with the input's bytes and stop: libFuzzer
 * catches the abort and saves the input.
 */
static void
FuzzUpdateFail(const uint8_t *data, size_t size, const char *what)
{
	fprintf(stderr, "update (%zu bytes):", size);
	for (size_t i = 0; i < size; i++)
		fprintf(stderr, "%s%02x", i % 32 == 0 ? "\n  " : " ", data[i]);
	fprintf(stderr, "\nfuzz oracle failed: %s\n", what);
	fflush(stderr);
	abort();
}

/*
 * Check a failed call's error, and free its message.
 */
static void
FuzzCheckError(const uint8_t *data, size_t size, BsonQueryError *error)
{
	if (error->code == 0 || error->code_name == NULL || error->message == NULL ||
		error->message[0] == '\0')
		FuzzUpdateFail(data, size, "an error without a code, a code name and a message");
	pfree(error->message);
}

/*
 * Check a result document: valid BSON.
 */
static void
FuzzCheckResult(const uint8_t *data, size_t size, const bson_t *out)
{
	bool		degenerate;
	char	   *problem = BsonValidateBytes(bson_get_data(out), out->len, &degenerate);

	if (problem != NULL)
	{
		fprintf(stderr, "invalid result: %s\n", problem);
		FuzzUpdateFail(data, size, "a result that is not valid BSON");
	}
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
			fprintf(stderr, "fuzz_update: document %zu does not parse: %s\n", i, error);
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
	BsonUpdate *u;
	BsonQueryError error;
	const uint8_t *af = NULL;
	uint32_t	af_len = 0;
	size_t		total = size;
	bson_t		seed;

	if (size > UINT32_MAX)
		return 0;
	/* the update is what its length prefix says; then maybe the filters */
	if (size >= 5)
	{
		uint32_t	prefix;

		memcpy(&prefix, data, sizeof(prefix));
		prefix = BSON_UINT32_FROM_LE(prefix);
		if (prefix >= 5 && prefix < size)
		{
			const uint8_t *rest = data + prefix;
			uint32_t	rest_len = (uint32_t) (size - prefix);

			size = prefix;
			problem = BsonValidateBytes(rest, rest_len, &degenerate);
			if (problem != NULL)
				pfree(problem);
			else
			{
				bson_t		holder;
				bson_iter_t it;

				if (bson_init_static(&holder, rest, rest_len) &&
					bson_iter_init(&it, &holder) && bson_iter_next(&it) &&
					BSON_ITER_HOLDS_ARRAY(&it))
					bson_iter_array(&it, &af_len, &af);
			}
		}
	}
	problem = BsonValidateBytes(data, size, &degenerate);
	if (problem != NULL)
	{
		pfree(problem);
		return 0;
	}

	/* the bytes as a query: an upsert seed */
	bson_init(&seed);
	if (BsonUpsertSeed(data, (uint32_t) size, &seed, &error))
		FuzzCheckResult(data, total, &seed);
	else
		FuzzCheckError(data, total, &error);
	bson_destroy(&seed);

	u = BsonUpdateCompile(data, (uint32_t) size, af, af_len, &error);
	if (u == NULL)
	{
		FuzzCheckError(data, total, &error);
		return 0;
	}

	for (size_t i = 0; i < FUZZ_NDOCS; i++)
	{
		static const int32_t positions[] = {-1, 0, 1};

		for (size_t p = 0; p < lengthof(positions); p++)
		{
			for (int insert = 0; insert < 2; insert++)
			{
				bson_t		out;
				bool		modified;

				bson_init(&out);
				if (BsonUpdateApply(u, bson_get_data(fuzz_docs[i]), fuzz_docs[i]->len,
									positions[p], insert == 1, 1700000000000LL,
									&out, &modified, &error))
					FuzzCheckResult(data, total, &out);
				else
					FuzzCheckError(data, total, &error);
				bson_destroy(&out);
			}
		}
	}
	BsonUpdateFree(u);
	return 0;
}
