/*-------------------------------------------------------------------------
 *
 * conformance_update.c
 *	  Driver of conformance_update.py: runs update commands of recorded
 *	  MongoDB cases on the update engine alone (src/update_*.c), without a
 *	  server.
 *
 * Reads one request a line on stdin, canonical Extended JSON:
 *
 *	{"docs": [...], "updates": [{"q": ..., "u": ..., "arrayFilters": [...],
 *	  "upsert": bool, "multi": bool}, ...], "find": filter}
 *
 * applies the updates in order to the collection "docs" (the query picks
 * the documents, the first one unless multi, and gives the positional
 * index; an upsert that matches nothing inserts the seed updated with
 * $setOnInsert active), stops at the first error, and writes one line:
 *
 *	{"ok": 1, "n": N, "nModified": N, "find": [documents the filter matches]}
 *	{"ok": 0, "code": N, "errmsg": "..."}
 *
 * Keys spelled with a leading \u0001 are turned back into "$" keys (the
 * caller renames "$regex" and "$options" so that they are read as keys).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <stdio.h>

#include "bson_json.h"
#include "lib/stringinfo.h"
#include "query.h"
#include "update.h"
#include "../common/test_bson_keys.h"

#define CU_MAX_DOCS		10000

/* The collection */
static bson_t *cu_docs[CU_MAX_DOCS];
static int	cu_ndocs;

/*
 * CuFail
 *		Print an error reply (and free the message).
 */
static void
CuFail(int code, char *message)
{
	bson_t		reply = BSON_INITIALIZER;
	char	   *json;

	bson_append_int32(&reply, "ok", 2, 0);
	bson_append_int32(&reply, "code", 4, code);
	bson_append_utf8(&reply, "errmsg", 6, message ? message : "", -1);
	json = bson_as_canonical_extended_json(&reply, NULL);
	printf("%s\n", json);
	bson_free(json);
	bson_destroy(&reply);
	if (message != NULL)
		pfree(message);
}

/*
 * CuRunUpdate
 *		One update statement; false (reply printed) on error.
 */
static bool
CuRunUpdate(bson_iter_t *stmt, int *n, int *nmodified)
{
	bson_iter_t it;
	const uint8_t *qdata = NULL,
			   *udata = NULL,
			   *afdata = NULL;
	uint32_t	qlen = 0,
				ulen = 0,
				aflen = 0;
	bool		upsert = false;
	bool		multi = false;
	BsonFilter *filter;
	BsonUpdate *update;
	BsonQueryError error;
	int			matched = 0;

	bson_iter_recurse(stmt, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "q") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it))
			bson_iter_document(&it, &qlen, &qdata);
		else if (strcmp(key, "u") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it))
			bson_iter_document(&it, &ulen, &udata);
		else if (strcmp(key, "u") == 0 && BSON_ITER_HOLDS_ARRAY(&it))
		{
			BsonUpdatePipelineError(&error);
			CuFail(error.code, error.message);
			return false;
		}
		else if (strcmp(key, "u") == 0)
		{
			CuFail(9, pstrdup("bad u"));
			return false;
		}
		else if (strcmp(key, "arrayFilters") == 0 && BSON_ITER_HOLDS_ARRAY(&it))
			bson_iter_array(&it, &aflen, &afdata);
		else if (strcmp(key, "upsert") == 0)
			upsert = bson_iter_as_bool(&it);
		else if (strcmp(key, "multi") == 0)
			multi = bson_iter_as_bool(&it);
	}
	if (qdata == NULL || udata == NULL)
	{
		CuFail(9, pstrdup("missing q or u"));
		return false;
	}

	filter = BsonFilterCompile(qdata, qlen, &error);
	if (filter == NULL)
	{
		CuFail(error.code, error.message);
		return false;
	}
	update = BsonUpdateCompile(udata, ulen, afdata, aflen, &error);
	if (update == NULL)
	{
		BsonFilterFree(filter);
		CuFail(error.code, error.message);
		return false;
	}
	if (multi && BsonUpdateIsReplacement(update))
	{
		BsonFilterFree(filter);
		BsonUpdateFree(update);
		CuFail(9, pstrdup("multi update is not supported for replacement-style update"));
		return false;
	}

	for (int i = 0; i < cu_ndocs; i++)
	{
		int32_t		position = -1;
		bson_t		out;
		bool		modified;

		if (!BsonFilterMatchesWithPosition(filter, bson_get_data(cu_docs[i]),
										   cu_docs[i]->len, &position))
			continue;
		matched++;
		bson_init(&out);
		if (!BsonUpdateApply(update, bson_get_data(cu_docs[i]), cu_docs[i]->len,
							 position, false, 1700000000000LL, &out, &modified,
							 &error))
		{
			bson_destroy(&out);
			BsonFilterFree(filter);
			BsonUpdateFree(update);
			CuFail(error.code, error.message);
			return false;
		}
		if (modified)
		{
			bson_destroy(cu_docs[i]);
			cu_docs[i] = bson_copy(&out);
			(*nmodified)++;
		}
		bson_destroy(&out);
		if (!multi)
			break;
	}
	*n += matched;

	if (matched == 0 && upsert && cu_ndocs < CU_MAX_DOCS)
	{
		bson_t		seed;
		bson_t		out;
		bool		modified;

		bson_init(&seed);
		if (!BsonUpsertSeed(qdata, qlen, &seed, &error))
		{
			bson_destroy(&seed);
			BsonFilterFree(filter);
			BsonUpdateFree(update);
			CuFail(error.code, error.message);
			return false;
		}
		bson_init(&out);
		if (!BsonUpdateApply(update, bson_get_data(&seed), seed.len, -1, true,
							 1700000000000LL, &out, &modified, &error))
		{
			bson_destroy(&seed);
			bson_destroy(&out);
			BsonFilterFree(filter);
			BsonUpdateFree(update);
			CuFail(error.code, error.message);
			return false;
		}
		cu_docs[cu_ndocs++] = bson_copy(&out);
		bson_destroy(&seed);
		bson_destroy(&out);
		(*n)++;
	}
	BsonFilterFree(filter);
	BsonUpdateFree(update);
	return true;
}

/*
 * CuRequest
 *		One request line.
 */
static void
CuRequest(const bson_t *req)
{
	bson_iter_t it;
	bson_iter_t sub;
	int			n = 0;
	int			nmodified = 0;
	bson_t		reply = BSON_INITIALIZER;
	bson_t		found;
	char	   *json;
	int			k = 0;

	cu_ndocs = 0;
	if (bson_iter_init_find(&it, req, "docs") && bson_iter_recurse(&it, &sub))
	{
		while (bson_iter_next(&sub) && cu_ndocs < CU_MAX_DOCS)
		{
			const uint8_t *data;
			uint32_t	len;

			bson_iter_document(&sub, &len, &data);
			cu_docs[cu_ndocs++] = bson_new_from_data(data, len);
		}
	}

	if (bson_iter_init_find(&it, req, "updates") && bson_iter_recurse(&it, &sub))
	{
		while (bson_iter_next(&sub))
		{
			if (!CuRunUpdate(&sub, &n, &nmodified))
				goto done;
		}
	}

	bson_append_int32(&reply, "ok", 2, 1);
	bson_append_int32(&reply, "n", 1, n);
	bson_append_int32(&reply, "nModified", 9, nmodified);
	bson_append_array_begin(&reply, "find", 4, &found);
	if (bson_iter_init_find(&it, req, "find") && BSON_ITER_HOLDS_DOCUMENT(&it))
	{
		const uint8_t *data;
		uint32_t	len;
		BsonQueryError error;
		BsonFilter *filter;

		bson_iter_document(&it, &len, &data);
		filter = BsonFilterCompile(data, len, &error);
		for (int i = 0; filter != NULL && i < cu_ndocs; i++)
		{
			if (BsonFilterMatches(filter, bson_get_data(cu_docs[i]), cu_docs[i]->len))
			{
				char		key[16];

				snprintf(key, sizeof(key), "%d", k++);
				bson_append_document(&found, key, -1, cu_docs[i]);
			}
		}
		if (filter != NULL)
			BsonFilterFree(filter);
		else
			pfree(error.message);
	}
	bson_append_array_end(&reply, &found);
	json = bson_as_canonical_extended_json(&reply, NULL);
	printf("%s\n", json);
	bson_free(json);
done:
	bson_destroy(&reply);
	for (int i = 0; i < cu_ndocs; i++)
		bson_destroy(cu_docs[i]);
}

/*
 * main
 *		A request a line, a reply a line.
 */
int
main(int argc, char **argv)
{
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((len = getline(&line, &cap, stdin)) > 0)
	{
		BsonParsed	parsed;
		char	   *error = NULL;
		bson_t		req = BSON_INITIALIZER;
		bson_iter_t it;

		if (!BsonParseJson(line, len, &parsed, &error))
		{
			CuFail(-1, error);
			continue;
		}
		if (bson_iter_init(&it, &parsed.doc))
			TestRestoreDollarKeys(&it, &req, '\x01');
		bson_destroy(&parsed.doc);
		CuRequest(&req);
		bson_destroy(&req);
	}
	free(line);
	return 0;
}
