/*-------------------------------------------------------------------------
 *
 * agg_facet.c
 *	  The row functions behind the SQL of $facet and $bucketAuto.
 *
 * Design note
 * -----------
 * agg_pipeline.c translates {$facet: {a: [...], b: [...]}} into
 *
 *	WITH f AS MATERIALIZED (the query so far)
 *	SELECT nosql.bson_facet_result($names, ARRAY[
 *			 (SELECT nosql.bson_facet_array(q.document) FROM (pipeline a over f) q),
 *			 (SELECT nosql.bson_facet_array(q.document) FROM (pipeline b over f) q)])
 *
 * so the input runs once (PostgreSQL keeps the CTE in a tuplestore, which
 * spills to disk) and every facet reads it.  nosql.bson_facet_array is an
 * aggregate that builds one BSON array of the facet's documents in their
 * order; it stops with MongoDB's error as soon as the array would not fit
 * in a document, so a facet never holds more than 16 MiB.
 *
 * $bucketAuto sorts the documents by their groupBy value and numbers them;
 * the bucket of each document comes from a running (window) aggregate,
 * nosql.bson_bucket_auto_index(key, total, buckets, granularity) OVER
 * (ORDER BY ord ROWS UNBOUNDED PRECEDING), whose state is only the bucket
 * being filled: MongoDB fills a bucket with round(total / buckets)
 * documents, then keeps adding those equal to the last one (with a
 * granularity: those below the rounded-up last value), and the last
 * bucket takes what is left.  A GROUP BY on the index then runs the
 * output accumulators of agg_group.c, and nosql.bson_bucket_auto_bounds
 * makes each bucket's {min, max} from its first and last value and its
 * neighbours' (max is the next bucket's min; with a granularity the
 * bounds are rounded in the preferred number series).
 *
 * IDENTIFICATION
 *	  src/agg_facet.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "agg.h"
#include "bson.h"
#include "bson_compare.h"
#include "bson_json.h"
#include "documents.h"

/* MongoDB's code for a $facet output that is too large */
#define FACET_ERR_TOO_LARGE		4031700

/* ---- $facet ---- */

/*
 * The state of nosql.bson_facet_array: the bytes of the array being built
 * (a length placeholder, then the elements) and their number.
 */
typedef struct FacetArrayState
{
	StringInfoData buf;
	uint32		n;
} FacetArrayState;

static void
FacetRaiseTooLarge(Size len)
{
	MongoRaise(FACET_ERR_TOO_LARGE,
			   "document constructed by $facet is %zu bytes, which exceeds the limit of %d bytes",
			   len, BSON_MAX_DOC_SIZE);
}

/*
 * nosql.bson_facet_array_transition(state internal, document bson)
 *
 * Append a document to the facet's array.
 */
PG_FUNCTION_INFO_V1(bson_facet_array_transition);
Datum
bson_facet_array_transition(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	FacetArrayState *state;
	Bson	   *doc;
	char		key[16];
	int			keylen;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "bson_facet_array_transition called in non-aggregate context");
	if (PG_ARGISNULL(0))
	{
		MemoryContext old = MemoryContextSwitchTo(aggcontext);

		state = palloc0(sizeof(FacetArrayState));
		initStringInfo(&state->buf);
		appendBinaryStringInfo(&state->buf, "\0\0\0\0", 4);
		MemoryContextSwitchTo(old);
	}
	else
		state = (FacetArrayState *) PG_GETARG_POINTER(0);
	if (PG_ARGISNULL(1))
		PG_RETURN_POINTER(state);
	doc = PG_GETARG_BSON_P(1);
	keylen = snprintf(key, sizeof(key), "%u", state->n);
	/* the element, the final NUL and the wrapper of the result must fit */
	if ((Size) state->buf.len + 2 + keylen + BsonDocLen(doc) + 8 > BSON_MAX_DOC_SIZE)
		FacetRaiseTooLarge((Size) state->buf.len + 2 + keylen + BsonDocLen(doc));
	appendStringInfoCharMacro(&state->buf, BSON_TYPE_DOCUMENT);
	appendBinaryStringInfo(&state->buf, key, keylen + 1);
	appendBinaryStringInfo(&state->buf, (const char *) BsonBytes(doc), BsonDocLen(doc));
	state->n++;
	PG_RETURN_POINTER(state);
}

/*
 * nosql.bson_facet_array_final(state internal) RETURNS bson
 *
 * The array of the facet's documents (an empty one when there were none).
 */
PG_FUNCTION_INFO_V1(bson_facet_array_final);
Datum
bson_facet_array_final(PG_FUNCTION_ARGS)
{
	FacetArrayState *state = PG_ARGISNULL(0) ? NULL :
		(FacetArrayState *) PG_GETARG_POINTER(0);
	StringInfoData bytes;
	uint32_t	len;
	bson_t		arr;
	bson_t		wrap;
	bson_iter_t it;
	Bson	   *result;

	/* a copy: the state must stay as it is (the final function may rerun) */
	initStringInfo(&bytes);
	if (state != NULL)
		appendBinaryStringInfo(&bytes, state->buf.data, state->buf.len);
	else
		appendBinaryStringInfo(&bytes, "\0\0\0\0", 4);
	appendStringInfoChar(&bytes, '\0');
	len = BSON_UINT32_TO_LE((uint32_t) bytes.len);
	memcpy(bytes.data, &len, 4);
	if (!bson_init_static(&arr, (const uint8_t *) bytes.data, bytes.len))
		elog(ERROR, "invalid $facet array");
	bson_init(&wrap);
	bson_append_array(&wrap, "", 0, &arr);
	bson_iter_init(&it, &wrap);
	bson_iter_next(&it);
	result = BsonFromIter(&it);
	bson_destroy(&wrap);
	pfree(bytes.data);
	PG_RETURN_BSON_P(result);
}

/*
 * nosql.bson_facet_result(names bson, facets bson[]) RETURNS bson
 *
 * The document of a $facet: {name1: array1, ...}; names is {f: [names]}.
 */
PG_FUNCTION_INFO_V1(bson_facet_result);
Datum
bson_facet_result(PG_FUNCTION_ARGS)
{
	Bson	   *names = PG_GETARG_BSON_P(0);
	ArrayType  *facets = PG_GETARG_ARRAYTYPE_P(1);
	Datum	   *values;
	bool	   *nulls;
	int			n;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	bson_t		namesdoc;
	bson_iter_t it;
	bson_iter_t nit;
	bson_t		doc;
	Bson	   *result;

	get_typlenbyvalalign(ARR_ELEMTYPE(facets), &typlen, &typbyval, &typalign);
	deconstruct_array(facets, ARR_ELEMTYPE(facets), typlen, typbyval, typalign,
					  &values, &nulls, &n);
	if (!bson_init_static(&namesdoc, BsonBytes(names), BsonDocLen(names)) ||
		!bson_iter_init_find(&it, &namesdoc, "f") || !BSON_ITER_HOLDS_ARRAY(&it))
		elog(ERROR, "invalid $facet field names");
	bson_iter_recurse(&it, &nit);
	bson_init(&doc);
	for (int i = 0; i < n && bson_iter_next(&nit); i++)
	{
		const char *name = bson_iter_utf8(&nit, NULL);
		bson_iter_t v;
		bson_t		holder;

		if (nulls[i] || !BsonValueIter(DatumGetBsonP(values[i]), &v, &holder))
		{
			bson_t		empty;

			bson_init(&empty);
			bson_append_array(&doc, name, -1, &empty);
			continue;
		}
		if ((Size) doc.len + bson_iter_key_len(&nit) + 2 + bson_iter_value(&v)->value.v_doc.data_len >
			BSON_MAX_DOC_SIZE)
			FacetRaiseTooLarge((Size) doc.len + bson_iter_value(&v)->value.v_doc.data_len);
		bson_append_iter(&doc, name, -1, &v);
	}
	result = BsonDatumFromBson(&doc);
	bson_destroy(&doc);
	PG_RETURN_BSON_P(result);
}

/* ---- $bucketAuto ---- */

/* The preferred number series of $bucketAuto's granularities */
static const double series_r5[] = {1.0, 1.6, 2.5, 4.0, 6.3};
static const double series_r10[] = {1.0, 1.25, 1.6, 2.0, 2.5, 3.15, 4.0, 5.0, 6.3, 8.0};
static const double series_r20[] = {
	1.0, 1.12, 1.25, 1.4, 1.6, 1.8, 2.0, 2.24, 2.5, 2.8, 3.15, 3.55, 4.0, 4.5, 5.0,
	5.6, 6.3, 7.1, 8.0, 9.0
};
static const double series_r40[] = {
	1.0, 1.06, 1.12, 1.18, 1.25, 1.32, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 2.12, 2.24,
	2.36, 2.5, 2.65, 2.8, 3.0, 3.15, 3.35, 3.55, 3.75, 4.0, 4.25, 4.5, 4.75, 5.0, 5.3,
	5.6, 6.0, 6.3, 6.7, 7.1, 7.5, 8.0, 8.5, 9.0, 9.5
};
static const double series_r80[] = {
	1.0, 1.03, 1.06, 1.09, 1.12, 1.15, 1.18, 1.22, 1.25, 1.28, 1.32, 1.36, 1.4, 1.45,
	1.5, 1.55, 1.6, 1.65, 1.7, 1.75, 1.8, 1.85, 1.9, 1.95, 2.0, 2.06, 2.12, 2.18, 2.24,
	2.3, 2.36, 2.43, 2.5, 2.58, 2.65, 2.72, 2.8, 2.9, 3.0, 3.07, 3.15, 3.25, 3.35, 3.45,
	3.55, 3.65, 3.75, 3.87, 4.0, 4.12, 4.25, 4.37, 4.5, 4.62, 4.75, 4.87, 5.0, 5.15,
	5.3, 5.45, 5.6, 5.8, 6.0, 6.15, 6.3, 6.5, 6.7, 6.9, 7.1, 7.3, 7.5, 7.75, 8.0, 8.25,
	8.5, 8.75, 9.0, 9.25, 9.5, 9.75
};
static const double series_125[] = {1.0, 2.0, 5.0};
static const double series_e6[] = {1.0, 1.5, 2.2, 3.3, 4.7, 6.8};
static const double series_e12[] = {
	1.0, 1.2, 1.5, 1.8, 2.2, 2.7, 3.3, 3.9, 4.7, 5.6, 6.8, 8.2
};
static const double series_e24[] = {
	1.0, 1.1, 1.2, 1.3, 1.5, 1.6, 1.8, 2.0, 2.2, 2.4, 2.7, 3.0, 3.3, 3.6, 3.9, 4.3, 4.7,
	5.1, 5.6, 6.2, 6.8, 7.5, 8.2, 9.1
};
static const double series_e48[] = {
	1.0, 1.05, 1.1, 1.15, 1.21, 1.27, 1.33, 1.4, 1.47, 1.54, 1.62, 1.69, 1.78, 1.87,
	1.96, 2.05, 2.15, 2.26, 2.37, 2.49, 2.61, 2.74, 2.87, 3.01, 3.16, 3.32, 3.48, 3.65,
	3.83, 4.02, 4.22, 4.42, 4.64, 4.87, 5.11, 5.36, 5.62, 5.9, 6.19, 6.49, 6.81, 7.15,
	7.5, 7.87, 8.25, 8.66, 9.09, 9.53
};
static const double series_e96[] = {
	1.0, 1.02, 1.05, 1.07, 1.1, 1.13, 1.15, 1.18, 1.21, 1.24, 1.27, 1.3, 1.33, 1.37,
	1.4, 1.43, 1.47, 1.5, 1.54, 1.58, 1.62, 1.65, 1.69, 1.74, 1.78, 1.82, 1.87, 1.91,
	1.96, 2.0, 2.05, 2.1, 2.15, 2.21, 2.26, 2.32, 2.37, 2.43, 2.49, 2.55, 2.61, 2.67,
	2.74, 2.8, 2.87, 2.94, 3.01, 3.09, 3.16, 3.24, 3.32, 3.4, 3.48, 3.57, 3.65, 3.74,
	3.83, 3.92, 4.02, 4.12, 4.22, 4.32, 4.42, 4.53, 4.64, 4.75, 4.87, 4.99, 5.11, 5.23,
	5.36, 5.49, 5.62, 5.76, 5.9, 6.04, 6.19, 6.34, 6.49, 6.65, 6.81, 6.98, 7.15, 7.32,
	7.5, 7.68, 7.87, 8.06, 8.25, 8.45, 8.66, 8.87, 9.09, 9.31, 9.53, 9.76
};
static const double series_e192[] = {
	1.0, 1.01, 1.02, 1.04, 1.05, 1.06, 1.07, 1.09, 1.1, 1.11, 1.13, 1.14, 1.15, 1.17,
	1.18, 1.2, 1.21, 1.23, 1.24, 1.26, 1.27, 1.29, 1.3, 1.32, 1.33, 1.35, 1.37, 1.38,
	1.4, 1.42, 1.43, 1.45, 1.47, 1.49, 1.5, 1.52, 1.54, 1.56, 1.58, 1.6, 1.62, 1.64,
	1.65, 1.67, 1.69, 1.72, 1.74, 1.76, 1.78, 1.8, 1.82, 1.84, 1.87, 1.89, 1.91, 1.93,
	1.96, 1.98, 2.0, 2.03, 2.05, 2.08, 2.1, 2.13, 2.15, 2.18, 2.21, 2.23, 2.26, 2.29,
	2.32, 2.34, 2.37, 2.4, 2.43, 2.46, 2.49, 2.52, 2.55, 2.58, 2.61, 2.64, 2.67, 2.71,
	2.74, 2.77, 2.8, 2.84, 2.87, 2.91, 2.94, 2.98, 3.01, 3.05, 3.09, 3.12, 3.16, 3.2,
	3.24, 3.28, 3.32, 3.36, 3.4, 3.44, 3.48, 3.52, 3.57, 3.61, 3.65, 3.7, 3.74, 3.79,
	3.83, 3.88, 3.92, 3.97, 4.02, 4.07, 4.12, 4.17, 4.22, 4.27, 4.32, 4.37, 4.42, 4.48,
	4.53, 4.59, 4.64, 4.7, 4.75, 4.81, 4.87, 4.93, 4.99, 5.05, 5.11, 5.17, 5.23, 5.3,
	5.36, 5.42, 5.49, 5.56, 5.62, 5.69, 5.76, 5.83, 5.9, 5.97, 6.04, 6.12, 6.19, 6.26,
	6.34, 6.42, 6.49, 6.57, 6.65, 6.73, 6.81, 6.9, 6.98, 7.06, 7.15, 7.23, 7.32, 7.41,
	7.5, 7.59, 7.68, 7.77, 7.87, 7.96, 8.06, 8.16, 8.25, 8.35, 8.45, 8.56, 8.66, 8.76,
	8.87, 8.98, 9.09, 9.2, 9.31, 9.42, 9.53, 9.65, 9.76, 9.88
};

#define SERIES(name, s) {name, s, lengthof(s)}

static const struct
{
	const char *name;
	const double *series;
	int			n;
}			bucket_auto_series[] =
{
	SERIES("R5", series_r5),
	SERIES("R10", series_r10),
	SERIES("R20", series_r20),
	SERIES("R40", series_r40),
	SERIES("R80", series_r80),
	SERIES("1-2-5", series_125),
	SERIES("E6", series_e6),
	SERIES("E12", series_e12),
	SERIES("E24", series_e24),
	SERIES("E48", series_e48),
	SERIES("E96", series_e96),
	SERIES("E192", series_e192),
	{NULL}
};

/*
 * Round a value of a bucket's bounds by a granularity, up (the smallest
 * number of the series above it) or down (the largest below it), as
 * MongoDB's granularity rounders do; they accept non-negative numbers only.
 */
static void
BucketAutoRound(const char *granularity, const bson_iter_t *it, bool up, bson_value_t *out)
{
	double		x = 0;

	if (!BsonIterIsNumber(it))
		MongoRaise(40258, "$bucketAuto can specify a 'granularity' with numeric boundaries only, but found a value with type: %s",
				   BsonTypeName(bson_iter_type(it)));
	(void) BsonIterAsDouble(it, &x);
	if (isnan(x))
		MongoRaise(40259, "$bucketAuto can specify a 'granularity' with numeric boundaries only, but found a NaN");
	if (x < 0)
		MongoRaise(40260, "$bucketAuto can specify a 'granularity' with non-negative numbers only, but found: %g",
				   x);
	out->value_type = BSON_TYPE_DOUBLE;
	if (x == 0 || isinf(x))
	{
		out->value.v_double = x;
		return;
	}
	if (strcmp(granularity, "POWERSOF2") == 0)
	{
		int			e;
		double		m = frexp(x, &e);	/* x = m * 2^e, m in [0.5, 1) */
		double		r;

		if (up)
			r = ldexp(1.0, e);
		else
			r = ldexp(1.0, m == 0.5 ? e - 2 : e - 1);
		out->value.v_double = r;
		/* integers stay integers while the result is one */
		if ((BSON_ITER_HOLDS_INT32(it) || BSON_ITER_HOLDS_INT64(it)) && r >= 1)
		{
			if (BSON_ITER_HOLDS_INT32(it) && r <= PG_INT32_MAX)
			{
				out->value_type = BSON_TYPE_INT32;
				out->value.v_int32 = (int32_t) r;
			}
			else if (r < 9.2233720368547758e18)
			{
				out->value_type = BSON_TYPE_INT64;
				out->value.v_int64 = (int64_t) r;
			}
		}
		return;
	}
	for (int s = 0; bucket_auto_series[s].name != NULL; s++)
	{
		const double *series = bucket_auto_series[s].series;
		int			n = bucket_auto_series[s].n;
		double		mult = 1.0;

		if (strcmp(bucket_auto_series[s].name, granularity) != 0)
			continue;
		if (up)
		{
			/* scale the series so that x lies within it */
			while (x >= series[n - 1] * mult)
				mult *= 10.0;
			while (x < series[0] * mult)
				mult /= 10.0;
			for (int i = 0; i < n; i++)
				if (series[i] * mult > x)
				{
					out->value.v_double = series[i] * mult;
					return;
				}
			out->value.v_double = series[0] * mult * 10.0;
		}
		else
		{
			while (x > series[n - 1] * mult)
				mult *= 10.0;
			while (x <= series[0] * mult)
				mult /= 10.0;
			for (int i = n - 1; i >= 0; i--)
				if (series[i] * mult < x)
				{
					out->value.v_double = series[i] * mult;
					return;
				}
			out->value.v_double = series[n - 1] * mult / 10.0;
		}
		return;
	}
	elog(ERROR, "unknown $bucketAuto granularity \"%s\"", granularity);
}

/*
 * The state of nosql.bson_bucket_auto_index: the bucket being filled, its
 * size so far and its last value (or, once full with a granularity, the
 * rounded-up bound below which values still join it).
 */
typedef struct BucketAutoState
{
	int64		index;
	int64		count;
	int64		approx;			/* documents per bucket */
	Bson	   *last;			/* the last key added */
	Bson	   *bound;			/* with a granularity, once full; else NULL */
} BucketAutoState;

/* A copy of a bson datum in a context */
static Bson *
BucketAutoCopy(MemoryContext cxt, const Bson *b)
{
	Size		len = VARSIZE_ANY(b);
	Bson	   *copy = MemoryContextAlloc(cxt, len);

	memcpy(copy, b, len);
	return copy;
}

/* Compare two bson scalars (or documents) in MongoDB's order */
static int
BucketAutoCompare(const Bson *a, const Bson *b)
{
	bson_iter_t ai;
	bson_iter_t bi;
	bson_t		ah;
	bson_t		bh;
	bson_t		ad;
	bson_t		bd;
	bson_t		aw;
	bson_t		bw;
	int			c;

	/* documents are compared as the value of a wrapper */
	bson_init(&aw);
	bson_init(&bw);
	if (!BsonValueIter(a, &ai, &ah))
	{
		bson_init_static(&ad, BsonBytes(a), BsonDocLen(a));
		bson_append_document(&aw, "", 0, &ad);
		bson_iter_init(&ai, &aw);
		bson_iter_next(&ai);
	}
	if (!BsonValueIter(b, &bi, &bh))
	{
		bson_init_static(&bd, BsonBytes(b), BsonDocLen(b));
		bson_append_document(&bw, "", 0, &bd);
		bson_iter_init(&bi, &bw);
		bson_iter_next(&bi);
	}
	c = BsonCompareValues(&ai, &bi);
	bson_destroy(&aw);
	bson_destroy(&bw);
	return c;
}

/* A bson value as an iterator (documents through a wrapper in holder) */
static void
BucketAutoIter(const Bson *v, bson_iter_t *it, bson_t *holder)
{
	if (!BsonValueIter(v, it, holder))
	{
		bson_t		d;

		bson_init_static(&d, BsonBytes(v), BsonDocLen(v));
		bson_init(holder);
		bson_append_document(holder, "", 0, &d);
		bson_iter_init(it, holder);
		bson_iter_next(it);
	}
}

/*
 * nosql.bson_bucket_auto_transition(state internal, key bson, total bigint,
 *									  buckets integer, granularity text)
 *
 * Add the next document (in the sorted order) to the buckets.
 */
PG_FUNCTION_INFO_V1(bson_bucket_auto_transition);
Datum
bson_bucket_auto_transition(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	BucketAutoState *state;
	Bson	   *key;
	int64		total = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2);
	int32		buckets = PG_ARGISNULL(3) ? 1 : PG_GETARG_INT32(3);
	char	   *granularity = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "bson_bucket_auto_transition called in non-aggregate context");
	if (PG_ARGISNULL(1))
		elog(ERROR, "bson_bucket_auto_transition called with a null key");
	key = PG_GETARG_BSON_P(1);
	if (PG_ARGISNULL(0))
	{
		double		approx = round((double) total / (double) Max(buckets, 1));

		state = MemoryContextAllocZero(aggcontext, sizeof(BucketAutoState));
		state->approx = approx < 1 ? 1 : (int64) approx;
		state->count = 1;
		state->last = BucketAutoCopy(aggcontext, key);
		PG_RETURN_POINTER(state);
	}
	state = (BucketAutoState *) PG_GETARG_POINTER(0);
	if (state->index == buckets - 1 || state->count < state->approx)
	{
		/* the last bucket takes the rest; the others fill up first */
		state->count++;
		if (state->index < buckets - 1)
		{
			pfree(state->last);
			state->last = BucketAutoCopy(aggcontext, key);
		}
		PG_RETURN_POINTER(state);
	}
	if (granularity != NULL && state->bound == NULL)
	{
		bson_iter_t it;
		bson_t		holder;
		bson_value_t up;
		MemoryContext old;

		BucketAutoIter(state->last, &it, &holder);
		BucketAutoRound(granularity, &it, true, &up);
		old = MemoryContextSwitchTo(aggcontext);
		state->bound = BsonFromValue(&up);
		MemoryContextSwitchTo(old);
	}
	if (granularity != NULL ? BucketAutoCompare(key, state->bound) < 0 :
		BucketAutoCompare(key, state->last) == 0)
	{
		/* equal values (or values below the rounded bound) stay together */
		state->count++;
		pfree(state->last);
		state->last = BucketAutoCopy(aggcontext, key);
		PG_RETURN_POINTER(state);
	}
	state->index++;
	state->count = 1;
	pfree(state->last);
	state->last = BucketAutoCopy(aggcontext, key);
	if (state->bound != NULL)
		pfree(state->bound);
	state->bound = NULL;
	PG_RETURN_POINTER(state);
}

/*
 * nosql.bson_bucket_auto_final(state internal) RETURNS bigint
 *
 * The bucket of the last document added.
 */
PG_FUNCTION_INFO_V1(bson_bucket_auto_final);
Datum
bson_bucket_auto_final(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_INT64(((BucketAutoState *) PG_GETARG_POINTER(0))->index);
}

/*
 * nosql.bson_bucket_auto_bounds(first bson, last bson, previous_last bson,
 *								 next_first bson, granularity text) RETURNS bson
 *
 * The _id {min, max} of a bucket from its first and last groupBy values
 * and those of its neighbours (NULL at the ends).
 */
PG_FUNCTION_INFO_V1(bson_bucket_auto_bounds);
Datum
bson_bucket_auto_bounds(PG_FUNCTION_ARGS)
{
	char	   *granularity = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));
	bson_t		doc;
	bson_iter_t it;
	bson_t		holder;
	Bson	   *result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		elog(ERROR, "bson_bucket_auto_bounds called without the bucket's values");
	bson_init(&doc);
	if (granularity == NULL)
	{
		BucketAutoIter(PG_GETARG_BSON_P(0), &it, &holder);
		bson_append_iter(&doc, "min", 3, &it);
		BucketAutoIter(PG_GETARG_BSON_P(PG_ARGISNULL(3) ? 1 : 3), &it, &holder);
		bson_append_iter(&doc, "max", 3, &it);
	}
	else
	{
		bson_value_t v;

		if (PG_ARGISNULL(2))
		{
			BucketAutoIter(PG_GETARG_BSON_P(0), &it, &holder);
			BucketAutoRound(granularity, &it, false, &v);
		}
		else
		{
			BucketAutoIter(PG_GETARG_BSON_P(2), &it, &holder);
			BucketAutoRound(granularity, &it, true, &v);
		}
		bson_append_value(&doc, "min", 3, &v);
		BucketAutoIter(PG_GETARG_BSON_P(1), &it, &holder);
		BucketAutoRound(granularity, &it, true, &v);
		bson_append_value(&doc, "max", 3, &v);
	}
	result = BsonDatumFromBson(&doc);
	bson_destroy(&doc);
	PG_RETURN_BSON_P(result);
}
