/*-------------------------------------------------------------------------
 *
 * conformance_filter.c
 *	  Run the recorded MongoDB conformance cases that only need the filter
 *	  compiler and matcher (src/query_*.c), without a server.
 *
 *	  conformance_filter [-v] [-a AREA_PREFIX]... [CASES_FILE]
 *
 * CASES_FILE (default: $CONFORMANCE_CASES, else
 * ../../../shared/conformance/functional-tests.jsonl) holds one case per
 * line, as described in that directory's README.md.  A case is runnable
 * here when its events are create_collection (without options), inserts
 * into the collection, exactly one find command with only a "filter", and
 * one expect of that command.  The filter is compiled once and evaluated
 * over the inserted documents in insertion order; the first batch (101
 * documents) is compared with the expectation by the README's rules:
 * documents compare as key sets, numbers are type-strict, -0.0 is not 0.0,
 * NaN equals NaN only with nan_equal, and ignore_doc_order compares the
 * batch as a multiset; an expected error must come with the same code (and
 * contain error_msg when one is given).
 *
 * A $near or $nearSphere needs a geospatial index, as in MongoDB: the
 * create_index events of the case are remembered and a $near without a
 * suitable one fails with NoQueryExecutionPlans (291), as the server's
 * find does; the documents a $near matches come back nearest first.
 *
 * A case whose filter uses an operator we do not implement yet (compile
 * error NotImplemented, 238) is counted as skipped, with the reason, as are
 * the cases that need anything but a plain find.
 *
 * Values are read with src/bson_json.c's Extended JSON parser.  Keys
 * "$regex" and "$options" are read literally (as the test suite sent
 * them), not as the legacy regex wrapper: they are renamed before parsing
 * and restored in the BSON.
 *
 * Output: a line per area (the id up to its third "/"), the skip reasons,
 * and "conformance-filter: N passed, N failed (N skipped)"; -v prints each
 * failure.  The exit status is 0 unless the file cannot be read.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bson_compare.h"
#include "bson_json.h"
#include "lib/stringinfo.h"
#include "query.h"
#include "../common/test_bson_keys.h"

#define CF_DEFAULT_CASES	"../../../shared/conformance/functional-tests.jsonl"
#define CF_BATCH_SIZE		101
#define CF_MAX_AREAS		256
#define CF_MAX_REASONS		128
#define CF_MAX_DOCS			100000
#define CF_ESCAPE			'\x01'
#define CF_MAX_INDEXES		16

/* Counts of one area */
typedef struct CfArea
{
	char		name[128];
	int			passed;
	int			failed;
	int			skipped;
} CfArea;

/* Counts of one reason to skip */
typedef struct CfReason
{
	char		text[160];
	int			count;
} CfReason;

static CfArea cf_areas[CF_MAX_AREAS];
static int	cf_nareas = 0;
static CfReason cf_reasons[CF_MAX_REASONS];
static int	cf_nreasons = 0;
static bool cf_verbose = false;

/*
 * CfAreaOf
 *		The counters of the area of a case id (up to the third '/').
 */
static CfArea *
CfAreaOf(const char *id)
{
	char		name[128];
	int			slashes = 0;
	size_t		n = 0;

	while (id[n] != '\0' && n < sizeof(name) - 1)
	{
		if (id[n] == '/' && ++slashes == 3)
			break;
		if (id[n] == ':')
			break;
		name[n] = id[n];
		n++;
	}
	name[n] = '\0';

	for (int i = 0; i < cf_nareas; i++)
	{
		if (strcmp(cf_areas[i].name, name) == 0)
			return &cf_areas[i];
	}
	if (cf_nareas == CF_MAX_AREAS)
		return &cf_areas[CF_MAX_AREAS - 1];
	strlcpy(cf_areas[cf_nareas].name, name, sizeof(cf_areas[0].name));
	return &cf_areas[cf_nareas++];
}

/*
 * CfSkip
 *		Count a skipped case under a reason.
 */
static void
CfSkip(CfArea *area, const char *reason)
{
	area->skipped++;
	for (int i = 0; i < cf_nreasons; i++)
	{
		if (strcmp(cf_reasons[i].text, reason) == 0)
		{
			cf_reasons[i].count++;
			return;
		}
	}
	if (cf_nreasons < CF_MAX_REASONS)
	{
		strlcpy(cf_reasons[cf_nreasons].text, reason, sizeof(cf_reasons[0].text));
		cf_reasons[cf_nreasons++].count = 1;
	}
}

/*
 * CfEscapeKeys
 *		Copy JSON text, renaming the keys "$regex" and "$options" (to start
 *		with \u0001) so that the parser does not read them as the legacy
 *		regex wrapper.
 */
static char *
CfEscapeKeys(const char *line, size_t len)
{
	StringInfoData out;
	size_t		i = 0;

	initStringInfo(&out);
	while (i < len)
	{
		if (line[i] == '"' && line[i + 1] == '$' &&
			(strncmp(line + i, "\"$regex\"", 8) == 0 ||
			 strncmp(line + i, "\"$options\"", 10) == 0))
		{
			size_t		keylen = line[i + 2] == 'r' ? 8 : 10;
			size_t		j = i + keylen;

			while (j < len && line[j] == ' ')
				j++;
			if (j < len && line[j] == ':')
			{
				appendStringInfoString(&out, "\"\\u0001");
				appendBinaryStringInfo(&out, line + i + 2, keylen - 2);
				i += keylen;
				continue;
			}
		}
		appendStringInfoChar(&out, line[i]);
		i++;
	}
	return out.data;
}

/*
 * CfParseLine
 *		Parse one case into out (bson_destroy it); false if it does not
 *		parse.
 */
static bool
CfParseLine(const char *line, size_t len, bson_t *out)
{
	char	   *text = CfEscapeKeys(line, len);
	BsonParsed	parsed;
	char	   *error = NULL;
	bson_iter_t it;
	bool		ok;

	ok = BsonParseJson(text, strlen(text), &parsed, &error);
	pfree(text);
	if (!ok)
	{
		if (error != NULL)
			pfree(error);
		return false;
	}
	bson_init(out);
	if (bson_iter_init(&it, &parsed.doc))
		TestRestoreDollarKeys(&it, out, CF_ESCAPE);
	bson_destroy(&parsed.doc);
	return true;
}

/*
 * CfValuesEqual
 *		The README's value equality: type-strict, documents as key sets,
 *		-0.0 distinct from 0.0, a double NaN equal to NaN only with
 *		nan_equal; decimal128s are equal when their encodings are, as the
 *		suite's own Decimal128 comparison has it.
 */
static bool
CfValuesEqual(const bson_iter_t *a, const bson_iter_t *b, bool nan_equal)
{
	bson_type_t type = bson_iter_type(a);

	if (type != bson_iter_type(b))
		return false;

	switch (type)
	{
		case BSON_TYPE_DOUBLE:
			{
				double		x = bson_iter_double(a);
				double		y = bson_iter_double(b);

				if (isnan(x) || isnan(y))
					return isnan(x) && isnan(y) && nan_equal;
				return x == y && signbit(x) == signbit(y);
			}
		case BSON_TYPE_DECIMAL128:
			{
				bson_decimal128_t x;
				bson_decimal128_t y;

				/* as pymongo's Decimal128 equality: the same encoding */
				bson_iter_decimal128(a, &x);
				bson_iter_decimal128(b, &y);
				return x.high == y.high && x.low == y.low;
			}
		case BSON_TYPE_DOCUMENT:
			{
				bson_iter_t ai;
				bson_iter_t bi;
				int			na = 0;
				int			nb = 0;

				if (!bson_iter_recurse(a, &ai) || !bson_iter_recurse(b, &bi))
					return false;
				while (bson_iter_next(&bi))
					nb++;
				while (bson_iter_next(&ai))
				{
					bson_iter_t found;

					na++;
					if (!bson_iter_recurse(b, &found) ||
						!bson_iter_find(&found, bson_iter_key(&ai)) ||
						!CfValuesEqual(&ai, &found, nan_equal))
						return false;
				}
				return na == nb;
			}
		case BSON_TYPE_ARRAY:
			{
				bson_iter_t ai;
				bson_iter_t bi;

				if (!bson_iter_recurse(a, &ai) || !bson_iter_recurse(b, &bi))
					return false;
				for (;;)
				{
					bool		more_a = bson_iter_next(&ai);
					bool		more_b = bson_iter_next(&bi);

					if (more_a != more_b)
						return false;
					if (!more_a)
						return true;
					if (!CfValuesEqual(&ai, &bi, nan_equal))
						return false;
				}
			}
		default:
			return BsonCompareValues(a, b) == 0;
	}
}

/*
 * CfDocsEqual
 *		CfValuesEqual of two documents given as bson_t.
 */
static bool
CfDocsEqual(const bson_t *a, const bson_t *b, bool nan_equal)
{
	bson_t		wa = BSON_INITIALIZER;
	bson_t		wb = BSON_INITIALIZER;
	bson_iter_t ia;
	bson_iter_t ib;
	bool		equal;

	bson_append_document(&wa, "d", 1, a);
	bson_append_document(&wb, "d", 1, b);
	equal = bson_iter_init_find(&ia, &wa, "d") && bson_iter_init_find(&ib, &wb, "d") &&
		CfValuesEqual(&ia, &ib, nan_equal);
	bson_destroy(&wa);
	bson_destroy(&wb);
	return equal;
}

/*
 * CfPrintDoc
 *		Print a document's canonical Extended JSON for a failure report.
 */
static void
CfPrintDoc(const char *label, const bson_t *doc)
{
	char	   *json = bson_as_canonical_extended_json(doc, NULL);

	printf("    %s %s\n", label, json != NULL ? json : "(unprintable)");
	bson_free(json);
}

/*
 * CfHasKey
 *		Whether a key occurs at any depth under an iterator's container.
 */
static bool
CfHasKey(const bson_iter_t *container, const char *key)
{
	bson_iter_t it;

	if (!bson_iter_recurse(container, &it))
		return false;
	while (bson_iter_next(&it))
	{
		if (strcmp(bson_iter_key(&it), key) == 0)
			return true;
		if ((BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it)) &&
			CfHasKey(&it, key))
			return true;
	}
	return false;
}

/* One case, as read from its events */
/* A geospatial index of a case: its field and whether it is 2dsphere */
typedef struct CfGeoIndex
{
	char		path[128];
	bool		sphere;
} CfGeoIndex;

typedef struct CfCase
{
	const char *id;
	bson_t	  **docs;			/* inserted documents, in order */
	int			ndocs;
	bson_iter_t filter;
	bson_iter_t expect;
	int			nindexes;		/* the geospatial indexes created */
	CfGeoIndex	indexes[CF_MAX_INDEXES];
} CfCase;

/* The distance of each matched document, for $near's order */
static double cf_distances[CF_MAX_DOCS];

/*
 * CfByDistance
 *		qsort comparator of document numbers by distance, then insertion
 *		order (what MongoDB's geoNear stage gives for ties).
 */
static int
CfByDistance(const void *a, const void *b)
{
	int			i = *(const int *) a;
	int			j = *(const int *) b;

	if (cf_distances[i] != cf_distances[j])
		return cf_distances[i] < cf_distances[j] ? -1 : 1;
	return i - j;
}

/*
 * CfNearIndexMissing
 *		Whether a $near lacks the index MongoDB needs: a 2dsphere index on
 *		its path for a GeoJSON point, a 2d or 2dsphere one for a legacy pair
 *		(the server's find does the same check on the catalog).
 */
static bool
CfNearIndexMissing(const CfCase *c, const BsonNearSpec *near)
{
	for (int i = 0; i < c->nindexes; i++)
	{
		if (strcmp(c->indexes[i].path, near->path) == 0 &&
			(c->indexes[i].sphere || !near->geojson))
			return false;
	}
	return true;
}

/*
 * CfRun
 *		Run one runnable case; returns whether it passed (with -v, prints
 *		why not).
 */
static bool
CfRun(const CfCase *c)
{
	const uint8_t *fdata;
	uint32_t	flen;
	BsonFilter *filter;
	BsonQueryError error;
	bson_iter_t it;
	const char *kind = "";
	bool		passed = false;
	bool		nan_equal = false;
	bool		ignore_order = false;
	static int	matched[CF_MAX_DOCS];
	int			nmatched = 0;
	BsonNearSpec near;
	bool		has_near = false;

	if (bson_iter_recurse(&c->expect, &it) && bson_iter_find(&it, "kind") &&
		BSON_ITER_HOLDS_UTF8(&it))
		kind = bson_iter_utf8(&it, NULL);
	if (bson_iter_recurse(&c->expect, &it) && bson_iter_find(&it, "nan_equal"))
		nan_equal = bson_iter_as_bool(&it);
	if (bson_iter_recurse(&c->expect, &it) && bson_iter_find(&it, "ignore_doc_order"))
		ignore_order = bson_iter_as_bool(&it);

	bson_iter_document(&c->filter, &flen, &fdata);
	filter = BsonFilterCompile(fdata, flen, &error);
	if (filter != NULL && BsonFilterGetNear(filter, &near))
	{
		has_near = true;
		if (CfNearIndexMissing(c, &near))
		{
			BsonFilterFree(filter);
			filter = NULL;
			error.code = MONGO_NO_QUERY_EXECUTION_PLANS;
			error.message = pstrdup("unable to find index for $geoNear query");
		}
	}

	if (strcmp(kind, "error") == 0)
	{
		int			code = -1;
		const char *msg = NULL;

		if (bson_iter_recurse(&c->expect, &it) && bson_iter_find(&it, "error_code"))
			code = (int) bson_iter_as_int64(&it);
		if (bson_iter_recurse(&c->expect, &it) && bson_iter_find(&it, "error_msg") &&
			BSON_ITER_HOLDS_UTF8(&it))
			msg = bson_iter_utf8(&it, NULL);
		passed = filter == NULL && error.code == code &&
			(msg == NULL || strstr(error.message, msg) != NULL);
		if (!passed && cf_verbose)
		{
			printf("FAIL %s\n    expected error %d%s%s, got ", c->id, code,
				   msg ? " " : "", msg ? msg : "");
			if (filter == NULL)
				printf("error %d %s\n", error.code, error.message);
			else
				printf("success\n");
		}
	}
	else if (strcmp(kind, "success") == 0 || strcmp(kind, "no_error") == 0)
	{
		if (filter == NULL)
		{
			if (cf_verbose)
				printf("FAIL %s\n    expected success, got error %d %s\n",
					   c->id, error.code, error.message);
		}
		else
		{
			for (int i = 0; i < c->ndocs && (has_near || nmatched < CF_BATCH_SIZE); i++)
			{
				if (BsonFilterMatches(filter, bson_get_data(c->docs[i]), c->docs[i]->len))
				{
					matched[nmatched++] = i;
					if (has_near)
						cf_distances[i] = BsonNearDistance(&near, bson_get_data(c->docs[i]),
														   c->docs[i]->len);
				}
			}
			/* $near returns the nearest first */
			if (has_near)
			{
				qsort(matched, nmatched, sizeof(int), CfByDistance);
				nmatched = Min(nmatched, CF_BATCH_SIZE);
			}
			if (strcmp(kind, "no_error") == 0)
				passed = true;
			else
			{
				bool		used[CF_BATCH_SIZE] = {false};
				int			nexpected = 0;
				bson_iter_t exp;

				passed = bson_iter_recurse(&c->expect, &it) &&
					bson_iter_find(&it, "expected") && bson_iter_recurse(&it, &exp);
				while (passed && bson_iter_next(&exp))
				{
					const uint8_t *edata;
					uint32_t	elen;
					bson_t		edoc;
					bool		found = false;

					if (!BSON_ITER_HOLDS_DOCUMENT(&exp))
					{
						passed = false;
						break;
					}
					bson_iter_document(&exp, &elen, &edata);
					if (!bson_init_static(&edoc, edata, elen))
					{
						passed = false;
						break;
					}
					for (int j = 0; j < nmatched && !found; j++)
					{
						if (used[j] || (!ignore_order && j != nexpected))
							continue;
						if (CfDocsEqual(&edoc, c->docs[matched[j]], nan_equal))
						{
							used[j] = true;
							found = true;
						}
					}
					if (!found)
					{
						passed = false;
						if (cf_verbose)
						{
							printf("FAIL %s\n", c->id);
							CfPrintDoc("expected, not returned:", &edoc);
						}
					}
					nexpected++;
				}
				if (passed && nexpected != nmatched)
				{
					passed = false;
					if (cf_verbose)
					{
						printf("FAIL %s\n    expected %d documents, returned %d\n",
							   c->id, nexpected, nmatched);
						for (int j = 0; j < nmatched; j++)
						{
							if (!used[j])
								CfPrintDoc("extra:", c->docs[matched[j]]);
						}
					}
				}
			}
		}
	}

	if (!passed && cf_verbose)
	{
		bson_t		fdoc;

		if (bson_init_static(&fdoc, fdata, flen))
			CfPrintDoc("filter:", &fdoc);
	}
	if (filter != NULL)
		BsonFilterFree(filter);
	else if (error.message != NULL)
		pfree(error.message);
	return passed;
}

/*
 * CfHandleCase
 *		Classify one parsed case, run it if it is runnable, count it.
 */
static void
CfHandleCase(const bson_t *tc, int nprefixes, char **prefixes)
{
	bson_iter_t it;
	bson_iter_t events;
	const char *id = "";
	CfArea	   *area;
	CfCase		c;
	int			ncommands = 0;
	int			nexpects = 0;
	bool		have_filter = false;
	char		reason[160];
	static bson_t *docs[CF_MAX_DOCS];

	if (bson_iter_init_find(&it, tc, "id") && BSON_ITER_HOLDS_UTF8(&it))
		id = bson_iter_utf8(&it, NULL);
	if (nprefixes > 0)
	{
		bool		selected = false;

		for (int i = 0; i < nprefixes; i++)
			selected |= strncmp(id, prefixes[i], strlen(prefixes[i])) == 0;
		if (!selected)
			return;
	}
	area = CfAreaOf(id);

	memset(&c, 0, sizeof(c));
	c.id = id;
	c.docs = docs;
	reason[0] = '\0';

	if (!bson_iter_init_find(&it, tc, "events") || !bson_iter_recurse(&it, &events))
	{
		CfSkip(area, "no events");
		return;
	}
	while (reason[0] == '\0' && bson_iter_next(&events))
	{
		bson_iter_t ev;
		const char *op = "";

		if (!bson_iter_recurse(&events, &ev) || !bson_iter_find(&ev, "op"))
			continue;
		op = bson_iter_utf8(&ev, NULL);

		if (strcmp(op, "insert") == 0)
		{
			bson_iter_t d;
			bson_iter_t doc;

			if (!bson_iter_recurse(&events, &d) || !bson_iter_find(&d, "documents") ||
				!bson_iter_recurse(&d, &doc))
				continue;
			while (bson_iter_next(&doc) && reason[0] == '\0')
			{
				const uint8_t *data;
				uint32_t	len;
				bson_iter_t idit;
				bool		duplicate = false;
				bson_t	   *copy;

				if (!BSON_ITER_HOLDS_DOCUMENT(&doc) || c.ndocs == CF_MAX_DOCS)
				{
					snprintf(reason, sizeof(reason), "insert of a non-document or too many");
					break;
				}
				bson_iter_document(&doc, &len, &data);
				copy = bson_new_from_data(data, len);
				if (!bson_iter_init_find(&idit, copy, "_id"))
				{
					bson_destroy(copy);
					snprintf(reason, sizeof(reason), "insert without _id (generated ObjectId)");
					break;
				}
				/* an ordered insert stops at a duplicate key */
				for (int i = 0; i < c.ndocs && !duplicate; i++)
				{
					bson_iter_t other;

					duplicate = bson_iter_init_find(&other, c.docs[i], "_id") &&
						BsonCompareValues(&idit, &other) == 0;
				}
				if (duplicate)
				{
					bson_destroy(copy);
					break;
				}
				c.docs[c.ndocs++] = copy;
			}
		}
		else if (strcmp(op, "create_collection") == 0)
		{
			bson_iter_t o;
			bson_iter_t sub;

			if (bson_iter_recurse(&events, &o) && bson_iter_find(&o, "options") &&
				BSON_ITER_HOLDS_DOCUMENT(&o) && bson_iter_recurse(&o, &sub) &&
				bson_iter_next(&sub))
				snprintf(reason, sizeof(reason), "create_collection with options");
		}
		else if (strcmp(op, "create_index") == 0)
		{
			bson_iter_t o;
			bson_iter_t sub;

			/*
			 * An index changes no find result, but a unique or partial one
			 * may refuse inserts and a text or geo one enables operators.
			 */
			if (bson_iter_recurse(&events, &o) && bson_iter_find(&o, "options") &&
				BSON_ITER_HOLDS_DOCUMENT(&o) && bson_iter_recurse(&o, &sub))
			{
				while (bson_iter_next(&sub))
				{
					if (strcmp(bson_iter_key(&sub), "name") != 0)
						snprintf(reason, sizeof(reason), "create_index with options");
				}
			}
			/* remember 2d and 2dsphere keys ([[path, type], ...]) for $near */
			if (bson_iter_recurse(&events, &o) && bson_iter_find(&o, "keys") &&
				bson_iter_recurse(&o, &sub))
			{
				while (bson_iter_next(&sub))
				{
					bson_iter_t pair;
					const char *path;
					const char *type;

					if (!bson_iter_recurse(&sub, &pair) || !bson_iter_next(&pair) ||
						!BSON_ITER_HOLDS_UTF8(&pair))
						continue;
					path = bson_iter_utf8(&pair, NULL);
					if (!bson_iter_next(&pair) || !BSON_ITER_HOLDS_UTF8(&pair))
						continue;
					type = bson_iter_utf8(&pair, NULL);
					if ((strcmp(type, "2d") == 0 || strcmp(type, "2dsphere") == 0) &&
						c.nindexes < CF_MAX_INDEXES)
					{
						strlcpy(c.indexes[c.nindexes].path, path,
								sizeof(c.indexes[c.nindexes].path));
						c.indexes[c.nindexes].sphere = strcmp(type, "2dsphere") == 0;
						c.nindexes++;
					}
				}
			}
		}
		else if (strcmp(op, "command") == 0)
		{
			bson_iter_t cmd;
			bson_iter_t key;

			ncommands++;
			if (!bson_iter_recurse(&events, &cmd) || !bson_iter_find(&cmd, "command") ||
				!bson_iter_recurse(&cmd, &key) || !bson_iter_next(&key))
			{
				snprintf(reason, sizeof(reason), "malformed command");
				break;
			}
			if (strcmp(bson_iter_key(&key), "find") != 0)
			{
				snprintf(reason, sizeof(reason), "command %s", bson_iter_key(&key));
				break;
			}
			while (bson_iter_next(&key))
			{
				if (strcmp(bson_iter_key(&key), "filter") == 0)
				{
					if (!BSON_ITER_HOLDS_DOCUMENT(&key))
					{
						snprintf(reason, sizeof(reason), "find filter not a document");
						break;
					}
					c.filter = key;
					have_filter = true;
				}
				else
				{
					snprintf(reason, sizeof(reason), "find with %s", bson_iter_key(&key));
					break;
				}
			}
		}
		else if (strcmp(op, "expect") == 0)
		{
			nexpects++;
			c.expect = events;
		}
		else
			snprintf(reason, sizeof(reason), "event %s", op);
	}

	if (reason[0] == '\0' && (ncommands != 1 || nexpects != 1))
		snprintf(reason, sizeof(reason), "more than one command or expectation");
	if (reason[0] == '\0' && !have_filter)
		snprintf(reason, sizeof(reason), "find without a filter");
	if (reason[0] == '\0')
	{
		bson_iter_t ex;

		if (bson_iter_recurse(&c.expect, &ex) && bson_iter_find(&ex, "kind") &&
			BSON_ITER_HOLDS_UTF8(&ex) && strcmp(bson_iter_utf8(&ex, NULL), "error") != 0 &&
			strcmp(bson_iter_utf8(&ex, NULL), "no_error") != 0 &&
			(!bson_iter_recurse(&c.expect, &ex) || !bson_iter_find(&ex, "compare") ||
			 !BSON_ITER_HOLDS_UTF8(&ex) ||
			 strcmp(bson_iter_utf8(&ex, NULL), "cursor.firstBatch") != 0))
			snprintf(reason, sizeof(reason), "expectation other than cursor.firstBatch");
	}
	/* values the recorder could not serialize (pytest.approx of NaN) */
	if (reason[0] == '\0' && CfHasKey(&c.expect, "$repr"))
		snprintf(reason, sizeof(reason), "expectation not recorded as a value ($repr)");

	if (reason[0] == '\0')
	{
		const uint8_t *fdata;
		uint32_t	flen;
		BsonFilter *probe;
		BsonQueryError error;

		/* what we do not implement yet is skipped, not failed */
		bson_iter_document(&c.filter, &flen, &fdata);
		probe = BsonFilterCompile(fdata, flen, &error);
		if (probe != NULL)
			BsonFilterFree(probe);
		else
		{
			if (error.code == MONGO_NOT_IMPLEMENTED)
			{
				const char *space = strchr(error.message, ' ');

				snprintf(reason, sizeof(reason), "not implemented yet: %.*s",
						 space ? (int) (space - error.message) : 40, error.message);
			}
			pfree(error.message);
		}
	}

	if (reason[0] != '\0')
		CfSkip(area, reason);
	else if (CfRun(&c))
		area->passed++;
	else
		area->failed++;

	for (int i = 0; i < c.ndocs; i++)
		bson_destroy(c.docs[i]);
}

int
main(int argc, char **argv)
{
	const char *path = getenv("CONFORMANCE_CASES");
	char	   *prefixes[64];
	int			nprefixes = 0;
	FILE	   *f;
	char	   *line = NULL;
	size_t		cap = 0;
	ssize_t		len;
	int			unparsed = 0;
	int			passed = 0;
	int			failed = 0;
	int			skipped = 0;

	if (path == NULL || path[0] == '\0')
		path = CF_DEFAULT_CASES;
	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "-v") == 0)
			cf_verbose = true;
		else if (strcmp(argv[i], "-a") == 0 && i + 1 < argc && nprefixes < 64)
			prefixes[nprefixes++] = argv[++i];
		else
			path = argv[i];
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	f = fopen(path, "r");
	if (f == NULL)
	{
		perror(path);
		return 2;
	}
	while ((len = getline(&line, &cap, f)) > 0)
	{
		bson_t		tc;

		if (!CfParseLine(line, (size_t) len, &tc))
		{
			unparsed++;
			continue;
		}
		CfHandleCase(&tc, nprefixes, prefixes);
		bson_destroy(&tc);
	}
	free(line);
	fclose(f);

	for (int i = 0; i < cf_nareas; i++)
	{
		CfArea	   *a = &cf_areas[i];
		int			run = a->passed + a->failed;

		printf("%-45s %5d passed %5d failed %5d skipped",
			   a->name, a->passed, a->failed, a->skipped);
		if (run > 0)
			printf("  (%.1f%% of runnable)", 100.0 * a->passed / run);
		printf("\n");
		passed += a->passed;
		failed += a->failed;
		skipped += a->skipped;
	}
	printf("skipped, by reason:\n");
	for (int i = 0; i < cf_nreasons; i++)
		printf("  %6d  %s\n", cf_reasons[i].count, cf_reasons[i].text);
	if (unparsed > 0)
		printf("  %6d  lines that do not parse\n", unparsed);
	printf("conformance-filter: %d passed, %d failed (%d skipped)\n",
		   passed, failed, skipped + unparsed);
	return 0;
}
