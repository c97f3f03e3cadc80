/*-------------------------------------------------------------------------
 *
 * agg_densify.c
 *	  The $densify stage as one SQL query level.
 *
 * Design note
 * -----------
 * $densify {field, partitionByFields, range: {step, unit, bounds}} fills
 * the gaps of a sequence of numbers or dates with documents holding only
 * the partition fields and the field.  It becomes, over the query so far
 * (agg_pipeline.c):
 *
 *	SELECT x.document FROM (SELECT g.document,
 *			nosql.bson_densify_limit(g.generated) OVER ()
 *	  FROM (SELECT w.document, w.v, lag(w.v) OVER o, lead(w.v) OVER o,
 *				   <lo>, <hi>, w.pk, row_number() OVER o
 *			  FROM (SELECT s.document,
 *						   nosql.bson_group_key(s.document, $parts) AS pk,
 *						   nosql.bson_densify_value(s.document, 'field', unit) AS v
 *					  FROM (...) s) w
 *			WINDOW o AS (PARTITION BY w.pk ORDER BY w.v NULLS FIRST)
 *			 ORDER BY w.pk, w.v NULLS FIRST) d(document, v, pv, nv, lo, hi, pk, rn)
 *	 CROSS JOIN LATERAL nosql.bson_densify_generate(d.document, d.v, d.pv,
 *				   d.nv, d.lo, d.hi, $spec)
 *				   WITH ORDINALITY g(document, tail, generated, n)) x
 *
 * so PostgreSQL sorts the documents by partition and value (spilling
 * beyond work_mem) and its WindowAgg gives each document the values before
 * and after it in its partition.  The set-returning function then emits,
 * in order, the steps since the value before (or from the start, for a
 * partition's first value), the document itself and, for the last document
 * of a partition, the steps to the end of the range (flagged tail): one gap
 * at a time, never the whole set in memory.  The steps are the start plus
 * whole numbers of steps, the start being the smallest value of all
 * documents ("full", whose largest value ends every partition's range,
 * included), of the partition ("partition") or the lower bound of the
 * explicit range (whose upper bound is excluded); a step a document of the
 * partition has is not generated again.  <lo> and <hi> are
 * nosql.bson_value_min/max as window aggregates.  Date steps add units in
 * UTC as $dateAdd does, months, quarters and years step after step as
 * MongoDB adds them (a day clamped to a shorter month stays clamped).
 *
 * The order is MongoDB's: it sorts by the partition and the field, but by
 * the field alone for "full", and with partitions it generates each
 * partition's last steps after the end of its input.  So with partitions
 * an explicit range sorts the output again to put the tails last, and
 * "full" sorts it by the value each document comes before (then partition,
 * document and the function's ordinality), the tails last.
 *
 * A window function over the output counts the generated documents as
 * they pass, for MongoDB's limit of 500000 in a stage.
 *
 * An explicit range without partitions fills its range even without a
 * document: one more row with a NULL document stands for the end of the
 * input and generates the whole range when no document has a value.
 *
 * IDENTIFICATION
 *	  src/agg_densify.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/int.h"
#include "fmgr.h"
#include "access/htup_details.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "windowapi.h"

#include "agg.h"
#include "bson.h"
#include "bson_compare.h"
#include "documents.h"
#include "expr.h"
#include "nosql.h"
#include "query.h"

/* MongoDB's internalQueryMaxAllowedDensifyDocs */
#define DENSIFY_MAX_DOCS	500000

/* The kinds of bounds */
typedef enum DensifyMode
{
	DENSIFY_FULL,
	DENSIFY_PARTITION,
	DENSIFY_RANGE
} DensifyMode;

static const char *const densify_units[] = {
	"year", "quarter", "month", "week", "day", "hour", "minute", "second", "millisecond",
	NULL
};

/* Milliseconds of the fixed units, roughly those of the calendar ones */
static const double densify_unit_ms[] = {
	31556952000.0, 7889238000.0, 2629746000.0, 604800000.0, 86400000.0, 3600000.0,
	60000.0, 1000.0, 1.0
};

/* A number, not a boolean */
static bool
DensifyIsNumber(const bson_iter_t *it)
{
	return BsonIterIsNumber(it) && !BSON_ITER_HOLDS_BOOL(it);
}

/* The wrong type of a field (14) */
static void
DensifyWrongType(const char *field, const bson_iter_t *it, const char *expected)
{
	MongoRaise(MONGO_TYPE_MISMATCH,
			   "BSON field '$densify.%s' is the wrong type '%s', expected type '%s'",
			   field, BsonTypeName(bson_iter_type(it)), expected);
}

/* Is a path the other or a prefix of it? */
static bool
DensifyPathPrefix(const char *prefix, const char *path)
{
	size_t		n = strlen(prefix);

	return strncmp(prefix, path, n) == 0 && (path[n] == '\0' || path[n] == '.');
}

/*
 * Translate a $densify stage over the query input into out, adding its
 * parameters with param.  Returns whether it has rows without any input
 * (an explicit range without partitions).
 */
bool
AggDensifyTranslate(const bson_iter_t *spec, AggParamFn param, void *arg, const char *input,
					StringInfo out)
{
	bson_iter_t it;
	bson_iter_t parts;
	bson_iter_t step;
	bson_iter_t bounds;
	bson_iter_t lo;
	bson_iter_t hi;
	const char *field = NULL;
	const char *unit = NULL;
	bool		have_parts = false;
	bool		have_range = false;
	bool		have_step = false;
	bool		have_bounds = false;
	int			nparts = 0;
	DensifyMode mode = DENSIFY_FULL;
	double		d = 0;
	bson_t		gen;
	bson_t		arr;
	bson_t		pk;
	bson_iter_t pk_it;
	int			gp;
	int			kp = 0;
	bool		sentinel;
	const char *lohi;

	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "The $densify stage specification must be an object, found %s",
				   BsonTypeName(bson_iter_type(spec)));
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "field") == 0)
		{
			if (!BSON_ITER_HOLDS_UTF8(&it))
				DensifyWrongType("field", &it, "string");
			field = bson_iter_utf8(&it, NULL);
		}
		else if (strcmp(key, "partitionByFields") == 0)
		{
			bson_iter_t p;

			if (!BSON_ITER_HOLDS_ARRAY(&it))
				DensifyWrongType("partitionByFields", &it, "array");
			bson_iter_recurse(&it, &p);
			while (bson_iter_next(&p))
			{
				if (!BSON_ITER_HOLDS_UTF8(&p))
					DensifyWrongType(psprintf("partitionByFields.%s", bson_iter_key(&p)), &p,
									 "string");
				nparts++;
			}
			parts = it;
			have_parts = true;
		}
		else if (strcmp(key, "range") == 0)
		{
			bson_iter_t r;

			if (!BSON_ITER_HOLDS_DOCUMENT(&it))
				DensifyWrongType("range", &it, "object");
			bson_iter_recurse(&it, &r);
			while (bson_iter_next(&r))
			{
				const char *rk = bson_iter_key(&r);

				if (strcmp(rk, "step") == 0)
				{
					if (!DensifyIsNumber(&r))
						MongoRaise(MONGO_TYPE_MISMATCH,
								   "BSON field '$densify.range.step' is the wrong type '%s', expected types '[int, decimal, double, long']",
								   BsonTypeName(bson_iter_type(&r)));
					step = r;
					have_step = true;
				}
				else if (strcmp(rk, "bounds") == 0)
				{
					bounds = r;
					have_bounds = true;
				}
				else if (strcmp(rk, "unit") == 0)
				{
					if (!BSON_ITER_HOLDS_UTF8(&r))
						DensifyWrongType("range.unit", &r, "string");
					unit = bson_iter_utf8(&r, NULL);
				}
				else
					MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
							   "BSON field '$densify.range.%s' is an unknown field.", rk);
			}
			if (!have_bounds)
				MongoRaise(MONGO_IDL_MISSING_FIELD,
						   "BSON field '$densify.range.bounds' is missing but a required field");
			if (!have_step)
				MongoRaise(MONGO_IDL_MISSING_FIELD,
						   "BSON field '$densify.range.step' is missing but a required field");
			have_range = true;
		}
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field '$densify.%s' is an unknown field.",
					   key);
	}
	if (field == NULL)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field '$densify.field' is missing but a required field");
	if (!have_range)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field '$densify.range' is missing but a required field");

	/* the range first, in MongoDB's order: the step, the unit, the bounds */
	(void) BsonIterAsDouble(&step, &d);
	if (!(d > 0))
		MongoRaise(5733401,
				   "The step parameter in a range statement must be a strictly positive numeric value");
	if (unit != NULL)
	{
		int			i;

		if (d != floor(d) || d > 9.0e15)
			MongoRaise(6586400,
					   "The step parameter in a range statement must be a whole number when densifying a date range");
		for (i = 0; densify_units[i] != NULL; i++)
			if (strcmp(densify_units[i], unit) == 0)
				break;
		if (densify_units[i] == NULL)
			MongoRaise(MONGO_FAILED_TO_PARSE, "unknown time unit value: %s", unit);
		unit = densify_units[i];
	}
	if (BSON_ITER_HOLDS_ARRAY(&bounds))
	{
		bson_iter_t b;
		int			n = 0;

		bson_iter_recurse(&bounds, &b);
		while (bson_iter_next(&b))
		{
			if (n == 0)
				lo = b;
			else if (n == 1)
				hi = b;
			n++;
		}
		if (n != 2)
			MongoRaise(5733403,
					   "A bounding array in a range statement must have exactly two elements");
		if (BsonCompareValues(&lo, &hi) > 0)
			MongoRaise(5733402,
					   "A bounding array must be an ascending array of either two dates or two numbers");
		if (DensifyIsNumber(&lo))
		{
			if (unit != NULL)
				MongoRaise(5733409, "Numeric bounds may not have unit parameter");
			if (!DensifyIsNumber(&hi))
				MongoRaise(5733406,
						   "A bounding array must contain either both dates or both numeric types");
			if (bson_iter_type(&lo) != bson_iter_type(&hi) ||
				bson_iter_type(&lo) != bson_iter_type(&step))
				MongoRaise(5876900,
						   "Upper bound, lower bound, and step must all have the same type");
		}
		else if (BSON_ITER_HOLDS_DATE_TIME(&lo))
		{
			if (!BSON_ITER_HOLDS_DATE_TIME(&hi))
				MongoRaise(5733405,
						   "A bounding array must contain either both dates or both numeric types");
			if (unit == NULL)
				MongoRaise(5733410, "A bounding array of dates must specify a unit");
		}
		else
			MongoRaise(5946800, "Explicit bounds must be numeric or dates");
		mode = DENSIFY_RANGE;
	}
	else if (BSON_ITER_HOLDS_UTF8(&bounds))
	{
		const char *s = bson_iter_utf8(&bounds, NULL);

		if (strcmp(s, "full") == 0)
			mode = DENSIFY_FULL;
		else if (strcmp(s, "partition") == 0)
			mode = DENSIFY_PARTITION;
		else
			MongoRaise(5946802, "Bounds string must either be 'full' or 'partition'");
	}
	else
		MongoRaise(5733404,
				   "The bounds in a range statement must be the string 'full', 'partition', or an ascending array of two numbers or two dates");

	/* then the partition fields and the field */
	if (have_parts)
	{
		bson_iter_t p;

		bson_iter_recurse(&parts, &p);
		while (bson_iter_next(&p))
		{
			const char *path = bson_iter_utf8(&p, NULL);

			AggFieldPathCheck(path, (uint32_t) strlen(path));
		}
	}
	AggFieldPathCheck(field, (uint32_t) strlen(field));
	if (mode == DENSIFY_PARTITION && nparts == 0)
		MongoRaise(5733408,
				   "One cannot specify the bounds as 'partition' without specifying a non-empty array of partitionByFields. You may have meant to specify 'full' bounds.");
	if (have_parts)
	{
		bson_iter_t p;

		bson_iter_recurse(&parts, &p);
		while (bson_iter_next(&p))
		{
			const char *path = bson_iter_utf8(&p, NULL);

			if (DensifyPathPrefix(field, path))
				MongoRaise(8993000,
						   "BSON field '$densify.partitionByFields' contains the field that is being densified");
			if (DensifyPathPrefix(path, field))
				MongoRaise(9554500,
						   "The field that is being densified contains the BSON field '$densify.partitionByFields'");
		}
	}

	/* the description nosql.bson_densify_generate reads */
	bson_init(&gen);
	bson_append_utf8(&gen, "f", 1, field, -1);
	bson_append_array_begin(&gen, "p", 1, &arr);
	if (have_parts)
	{
		bson_iter_t p;

		bson_iter_recurse(&parts, &p);
		while (bson_iter_next(&p))
			bson_append_iter(&arr, bson_iter_key(&p), -1, &p);
	}
	bson_append_array_end(&gen, &arr);
	bson_append_iter(&gen, "s", 1, &step);
	if (unit != NULL)
		bson_append_utf8(&gen, "u", 1, unit, -1);
	bson_append_int32(&gen, "m", 1, (int32_t) mode);
	if (mode == DENSIFY_RANGE)
	{
		bson_append_iter(&gen, "lo", 2, &lo);
		bson_append_iter(&gen, "hi", 2, &hi);
	}
	gp = param(arg, BsonDatumFromBson(&gen));
	bson_destroy(&gen);

	/*
	 * the partition key: the object of the partition fields' values, as
	 * MongoDB builds it ({a: {b: "$a.b"}}: missing fields are left out)
	 */
	if (nparts > 0)
	{
		bson_iter_t p;
		uint8_t    *data = NULL;
		uint32_t	len = 0;
		bson_t		obj;

		bson_iter_recurse(&parts, &p);
		while (bson_iter_next(&p))
		{
			bson_t		v;
			bson_iter_t vi;
			bson_t		o;

			bson_init(&v);
			bson_append_utf8(&v, "", 0, psprintf("$%s", bson_iter_utf8(&p, NULL)), -1);
			bson_iter_init(&vi, &v);
			bson_iter_next(&vi);
			bson_init(&o);
			AggWindowSetPath(data, len, bson_iter_utf8(&p, NULL), &vi, &o);
			data = palloc(o.len);
			memcpy(data, bson_get_data(&o), o.len);
			len = o.len;
			bson_destroy(&o);
			bson_destroy(&v);
		}
		bson_init_static(&obj, data, len);
		bson_init(&pk);
		bson_append_document(&pk, "e", 1, &obj);
		bson_iter_init_find(&pk_it, &pk, "e");
		kp = param(arg, AggGroupExpressionSpec(&pk_it, NULL, 0));
		bson_destroy(&pk);
	}

	sentinel = (mode == DENSIFY_RANGE && nparts == 0);
	if (mode == DENSIFY_FULL)
		lohi = "nosql.bson_value_min(w.v) OVER (), nosql.bson_value_max(w.v) OVER ()";
	else if (mode == DENSIFY_PARTITION)
		lohi = "nosql.bson_value_min(w.v) OVER (PARTITION BY w.pk), nosql.bson_value_max(w.v) OVER (PARTITION BY w.pk)";
	else if (sentinel)
		lohi = "NULL::nosql.bson, nosql.bson_value_max(w.v) OVER ()";
	else
		lohi = "NULL::nosql.bson, NULL::nosql.bson";

	appendStringInfo(out,
					 "SELECT x.document FROM (SELECT g.document, nosql.bson_densify_limit(g.generated) OVER ()"
					 " FROM (SELECT w.document, w.v, lag(w.v) OVER o, lead(w.v) OVER o, %s, w.pk, row_number() OVER o"
					 " FROM (SELECT s.document, ",
					 lohi);
	if (kp > 0)
		appendStringInfo(out, "nosql.bson_group_key(s.document, $%d)", kp);
	else
		appendStringInfoString(out, "NULL::nosql.bson");
	appendStringInfo(out, " AS pk, nosql.bson_densify_value(s.document, %s, %s) AS v FROM (%s) s",
					 quote_literal_cstr(field), unit != NULL ? "true" : "false", input);
	if (sentinel)
		appendStringInfoString(out,
							   " UNION ALL SELECT NULL::nosql.bson, NULL::nosql.bson, NULL::nosql.bson");
	appendStringInfo(out,
					 ") w WINDOW o AS (PARTITION BY w.pk ORDER BY w.v NULLS FIRST)"
					 " ORDER BY w.pk, w.v NULLS FIRST%s) d(document, v, pv, nv, lo, hi, pk, rn)"
					 " CROSS JOIN LATERAL nosql.bson_densify_generate(d.document, d.v, d.pv, d.nv, d.lo, d.hi, $%d) WITH ORDINALITY g(document, tail, generated, n)",
					 sentinel ? ", w.document IS NULL" : "", gp);
	/* with partitions, each partition's last steps come at the end */
	if (mode == DENSIFY_FULL && nparts > 0)
		appendStringInfoString(out,
							   " ORDER BY g.tail, CASE WHEN g.tail THEN d.pk END,"
							   " CASE WHEN NOT g.tail THEN d.v END NULLS FIRST, d.pk, d.rn, g.n");
	else if (mode == DENSIFY_RANGE && nparts > 0)
		appendStringInfoString(out, " ORDER BY g.tail, d.pk, d.rn, g.n");
	appendStringInfoString(out, ") x(document, n)");
	return sentinel;
}

/* ---- SQL functions ---- */

/*
 * nosql.bson_densify_value(document bson, path text, dates boolean)
 *		RETURNS bson
 *
 * The value $densify reads at path: NULL when missing or null, a number
 * (without a unit) or a date (with one); 6053600 for a number with a unit
 * or a date without one, 5733201 for other types.
 */
PG_FUNCTION_INFO_V1(bson_densify_value);
Datum
bson_densify_value(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		dates = PG_GETARG_BOOL(2);
	bson_t		d;
	bson_iter_t it;
	bson_iter_t v;

	if (BsonIsScalar(doc) || !bson_init_static(&d, BsonBytes(doc), BsonDocLen(doc)) ||
		!bson_iter_init(&it, &d) || !bson_iter_find_descendant(&it, path, &v) ||
		BSON_ITER_HOLDS_NULL(&v) || BSON_ITER_HOLDS_UNDEFINED(&v))
		PG_RETURN_NULL();
	if (DensifyIsNumber(&v))
	{
		if (dates)
			MongoRaise(6053600,
					   "PlanExecutor error during aggregation :: caused by :: Encountered numeric densify value in collection when step has a date unit.");
	}
	else if (BSON_ITER_HOLDS_DATE_TIME(&v))
	{
		if (!dates)
			MongoRaise(6053600,
					   "PlanExecutor error during aggregation :: caused by :: Encountered date densify value in collection when step does not have a date unit.");
	}
	else
		MongoRaise(5733201,
				   "PlanExecutor error during aggregation :: caused by :: Densify field type must be numeric or a date");
	PG_RETURN_BSON_P(BsonFromIter(&v));
}

/* The smaller or larger of two bson values */
static Datum
DensifyPick(FunctionCallInfo fcinfo, bool smaller)
{
	Bson	   *a = PG_GETARG_BSON_P(0);
	Bson	   *b = PG_GETARG_BSON_P(1);
	bson_t		ha;
	bson_t		hb;
	bson_iter_t ia;
	bson_iter_t ib;
	int			c;

	if (!BsonValueIter(a, &ia, &ha) || !BsonValueIter(b, &ib, &hb))
		elog(ERROR, "nosql.bson_value_min/max take bson values");
	c = BsonCompareValues(&ia, &ib);
	PG_RETURN_BSON_P((smaller ? c <= 0 : c >= 0) ? a : b);
}

/* nosql.bson_value_smaller(a bson, b bson) RETURNS bson */
PG_FUNCTION_INFO_V1(bson_value_smaller);
Datum
bson_value_smaller(PG_FUNCTION_ARGS)
{
	return DensifyPick(fcinfo, true);
}

/* nosql.bson_value_larger(a bson, b bson) RETURNS bson */
PG_FUNCTION_INFO_V1(bson_value_larger);
Datum
bson_value_larger(PG_FUNCTION_ARGS)
{
	return DensifyPick(fcinfo, false);
}

/* The state of one call of nosql.bson_densify_generate */
typedef struct DensifyState
{
	int			phase;			/* 0 steps before, 1 the document, 2 steps after, 3 done */
	Bson	   *doc;			/* NULL: the end of the input */
	uint8_t    *parts;			/* the generated documents' partition fields */
	uint32_t	parts_len;
	char	   *field;
	/* the steps: start + k * step */
	bool		date;
	const char *unit;			/* of a date step */
	int			unit_index;
	bool		integral;		/* int64 arithmetic */
	bool		int32;			/* start and step both int32 */
	int64		start_i;
	int64		step_i;
	double		start_d;
	double		step_d;
	int64		k;				/* the next step */
	/* the limits of the current phase: above low, below high */
	double		low;
	double		high;
	bool		high_incl;
	bool		have_high;
	/* the end of the range: above the last value of a partition */
	double		after_high;
	bool		after_incl;
	bool		have_after_high;
	bool		tail;			/* the document ends its partition: phase 2 */
	/* the last calendar step computed */
	bool		cache_valid;
	int64		cache_k;
	int64		cache_ms;
} DensifyState;

/* A bson value as a position: a number, or a date's milliseconds */
static double
DensifyPosition(const bson_iter_t *it)
{
	double		d = 0;

	if (BSON_ITER_HOLDS_DATE_TIME(it))
		return (double) bson_iter_date_time(it);
	(void) BsonIterAsDouble(it, &d);
	return d;
}

/* The position of a bson value argument; false when NULL */
static bool
DensifyArgPosition(FunctionCallInfo fcinfo, int arg, double *pos)
{
	bson_t		h;
	bson_iter_t it;

	if (PG_ARGISNULL(arg) || !BsonValueIter(PG_GETARG_BSON_P(arg), &it, &h))
		return false;
	*pos = DensifyPosition(&it);
	return true;
}

/*
 * Step k: its position, and its value appended to out as key; false when
 * it overflows.
 */
static bool
DensifyStep(DensifyState *st, int64 k, double *pos, bson_t *out, const char *key)
{
	if (st->date && st->unit_index <= 2)
	{
		int64		ms;
		int64		j;

		/*
		 * Months, quarters and years step from the step before, as MongoDB
		 * adds them, a day clamped to a shorter month staying so; from a day
		 * up to the 28th on, k steps at once are the same.
		 */
		if (st->cache_valid && st->cache_k <= k)
		{
			j = st->cache_k;
			ms = st->cache_ms;
		}
		else
		{
			j = 0;
			ms = st->start_i;
		}
		while (j < k)
		{
			int			y;
			int			m;
			int			d;
			int64		amount;

			CHECK_FOR_INTERRUPTS();
			j2date((int) floor((double) ms / 86400000.0) + UNIX_EPOCH_JDATE, &y, &m, &d);
			if (d <= 28)
			{
				if (pg_mul_s64_overflow(k - j, st->step_i, &amount) ||
					!AggDateAddUTC(ms, st->unit, amount, &ms))
					return false;
				j = k;
			}
			else
			{
				if (!AggDateAddUTC(ms, st->unit, st->step_i, &ms))
					return false;
				j++;
			}
		}
		st->cache_valid = true;
		st->cache_k = k;
		st->cache_ms = ms;
		*pos = (double) ms;
		if (out != NULL)
			bson_append_date_time(out, key, -1, ms);
	}
	else if (st->date)
	{
		int64		ms;
		int64		amount;

		if (pg_mul_s64_overflow(k, st->step_i, &amount) ||
			!AggDateAddUTC(st->start_i, st->unit, amount, &ms))
			return false;
		*pos = (double) ms;
		if (out != NULL)
			bson_append_date_time(out, key, -1, ms);
	}
	else if (st->integral)
	{
		int64		delta;
		int64		v;

		if (pg_mul_s64_overflow(k, st->step_i, &delta) ||
			pg_add_s64_overflow(st->start_i, delta, &v))
			return false;
		*pos = (double) v;
		if (out != NULL)
		{
			if (st->int32 && v >= PG_INT32_MIN && v <= PG_INT32_MAX)
				bson_append_int32(out, key, -1, (int32_t) v);
			else
				bson_append_int64(out, key, -1, v);
		}
	}
	else
	{
		double		v = st->start_d + (double) k * st->step_d;

		if (isinf(v))
			return false;
		*pos = v;
		if (out != NULL)
			bson_append_double(out, key, -1, v);
	}
	return true;
}

/* The first step above pos (at or above with incl) */
static int64
DensifyFirstStep(DensifyState *st, double pos, bool incl)
{
	double		size;
	double		est;
	int64		k;
	double		p;

	if (st->date)
		size = densify_unit_ms[st->unit_index] * (double) st->step_i;
	else if (st->integral)
		size = (double) st->step_i;
	else
		size = st->step_d;
	est = floor((pos - (st->date || st->integral ? (double) st->start_i : st->start_d)) / size);
	k = !(est > 0) ? 0 : est > 9.0e15 ? (int64) 9.0e15 : (int64) est;
	/* the estimate is close: move to the exact step */
	while (k > 0 && DensifyStep(st, k - 1, &p, NULL, NULL) && (incl ? p >= pos : p > pos))
		k--;
	while (DensifyStep(st, k, &p, NULL, NULL) && (incl ? p < pos : p <= pos))
		k++;
	return k;
}

/*
 * nosql.bson_densify_generate(document bson, v bson, pv bson, nv bson,
 *		lo bson, hi bson, spec bson) RETURNS SETOF bson
 *
 * A document of $densify (v: its value, pv and nv: the values before and
 * after it in its partition, lo and hi: the smallest and the largest value
 * of all ("full") or of the partition ("partition")) and the documents
 * generated around it, in order; spec is the stage's description
 * {f, p, s, u, m, lo, hi} (agg_densify.c).  A NULL document is the end of
 * an input densified over an explicit range.
 */
PG_FUNCTION_INFO_V1(bson_densify_generate);
Datum
bson_densify_generate(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;
	DensifyState *st;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;
		TupleDesc	tupdesc;
		Bson	   *spec = PG_GETARG_BSON_P(6);
		bson_t		sd;
		bson_iter_t it;
		bson_iter_t step;
		bson_iter_t rlo;
		bson_iter_t rhi;
		DensifyMode mode = DENSIFY_FULL;
		bool		have_v;
		double		v = 0;
		bool		have_range = false;

		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		st = palloc0(sizeof(DensifyState));
		funcctx->user_fctx = st;
		st->doc = PG_ARGISNULL(0) ? NULL : (Bson *) PG_DETOAST_DATUM_COPY(PG_GETARG_DATUM(0));
		if (!bson_init_static(&sd, BsonBytes(spec), BsonDocLen(spec)) || !bson_iter_init(&it, &sd))
			elog(ERROR, "invalid $densify description");
		while (bson_iter_next(&it))
		{
			const char *k = bson_iter_key(&it);

			if (strcmp(k, "f") == 0)
				st->field = pstrdup(bson_iter_utf8(&it, NULL));
			else if (strcmp(k, "s") == 0)
				step = it;
			else if (strcmp(k, "u") == 0)
			{
				const char *u = bson_iter_utf8(&it, NULL);

				for (int i = 0; densify_units[i] != NULL; i++)
					if (strcmp(densify_units[i], u) == 0)
					{
						st->unit = densify_units[i];
						st->unit_index = i;
					}
				st->date = true;
			}
			else if (strcmp(k, "m") == 0)
				mode = (DensifyMode) bson_iter_int32(&it);
			else if (strcmp(k, "lo") == 0)
			{
				rlo = it;
				have_range = true;
			}
			else if (strcmp(k, "hi") == 0)
				rhi = it;
			else if (strcmp(k, "p") == 0 && st->doc != NULL)
			{
				bson_iter_t p;
				bson_t		d;
				uint8_t    *data = NULL;
				uint32_t	len = 0;

				/* the partition fields of the document */
				bson_iter_recurse(&it, &p);
				bson_init_static(&d, BsonBytes(st->doc), BsonDocLen(st->doc));
				while (bson_iter_next(&p))
				{
					bson_iter_t di;
					bson_iter_t value;
					bson_t		o;

					if (!bson_iter_init(&di, &d) ||
						!bson_iter_find_descendant(&di, bson_iter_utf8(&p, NULL), &value))
						continue;
					bson_init(&o);
					AggWindowSetPath(data, len, bson_iter_utf8(&p, NULL), &value, &o);
					data = palloc(o.len);
					memcpy(data, bson_get_data(&o), o.len);
					len = o.len;
					bson_destroy(&o);
				}
				st->parts = data;
				st->parts_len = len;
			}
		}

		/* the start and the end of the steps */
		have_v = DensifyArgPosition(fcinfo, 1, &v);
		if (mode == DENSIFY_RANGE)
		{
			bson_iter_t *start = &rlo;

			if (!have_range)
				elog(ERROR, "invalid $densify description");
			st->after_high = DensifyPosition(&rhi);
			st->after_incl = false;
			st->have_after_high = true;
			if (st->date)
				st->start_i = bson_iter_date_time(start);
			else
			{
				st->integral = !BSON_ITER_HOLDS_DOUBLE(start) && !BSON_ITER_HOLDS_DECIMAL128(start) &&
					!BSON_ITER_HOLDS_DOUBLE(&step) && !BSON_ITER_HOLDS_DECIMAL128(&step);
				st->int32 = BSON_ITER_HOLDS_INT32(start) && BSON_ITER_HOLDS_INT32(&step);
				if (st->integral)
					(void) BsonIterAsInt64(start, &st->start_i);
				else
					st->start_d = DensifyPosition(start);
			}
		}
		else if (!PG_ARGISNULL(4))
		{
			bson_t		h;
			bson_iter_t start;

			if (!BsonValueIter(PG_GETARG_BSON_P(4), &start, &h))
				elog(ERROR, "invalid $densify bound");
			(void) DensifyArgPosition(fcinfo, 5, &st->after_high);
			st->after_incl = true;
			st->have_after_high = true;
			if (st->date)
				st->start_i = bson_iter_date_time(&start);
			else
			{
				st->integral = !BSON_ITER_HOLDS_DOUBLE(&start) &&
					!BSON_ITER_HOLDS_DECIMAL128(&start) &&
					!BSON_ITER_HOLDS_DOUBLE(&step) && !BSON_ITER_HOLDS_DECIMAL128(&step);
				st->int32 = BSON_ITER_HOLDS_INT32(&start) && BSON_ITER_HOLDS_INT32(&step);
				if (st->integral)
					(void) BsonIterAsInt64(&start, &st->start_i);
				else
					st->start_d = DensifyPosition(&start);
			}
		}
		else
			have_v = false;		/* no value in the partition: nothing to fill */
		if (st->date || st->integral)
			(void) BsonIterAsInt64(&step, &st->step_i);
		else
			st->step_d = DensifyPosition(&step);

		if (st->doc == NULL)
		{
			/* the end of the input: the whole range when nothing had a value */
			st->phase = 3;
			if (mode == DENSIFY_RANGE && PG_ARGISNULL(5))
			{
				st->phase = 2;
				st->k = 0;
				st->high = st->after_high;
				st->high_incl = false;
				st->have_high = true;
			}
		}
		else if (!have_v)
			st->phase = 1;		/* null or missing: the document alone */
		else
		{
			double		pv = 0;

			/* the steps since the value before it, or from the start */
			st->phase = 0;
			st->k = DensifyArgPosition(fcinfo, 2, &pv) ? DensifyFirstStep(st, pv, false) : 0;
			st->high = v;
			st->high_incl = false;
			st->have_high = true;
			if (st->have_after_high && !st->after_incl && st->after_high < v)
				st->high = st->after_high;
			/* the last of its partition: then the steps to the end */
			st->tail = PG_ARGISNULL(3) && st->have_after_high;
			st->low = v;
		}
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "nosql.bson_densify_generate must return a row");
		funcctx->tuple_desc = BlessTupleDesc(tupdesc);
		MemoryContextSwitchTo(old);
	}

	funcctx = SRF_PERCALL_SETUP();
	st = (DensifyState *) funcctx->user_fctx;
	for (;;)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		if (st->phase == 1)
		{
			/* the document, then the steps after it if it ends its partition */
			st->phase = 3;
			if (st->tail)
			{
				st->phase = 2;
				st->k = DensifyFirstStep(st, st->low, false);
				st->high = st->after_high;
				st->high_incl = st->after_incl;
			}
			values[0] = PointerGetDatum(st->doc);
			values[1] = BoolGetDatum(false);
			values[2] = BoolGetDatum(false);
			SRF_RETURN_NEXT(funcctx, HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc,
																	   values, nulls)));
		}
		if (st->phase == 0 || st->phase == 2)
		{
			double		pos;
			bson_t		value;
			bson_iter_t vi;
			bson_t		out;

			CHECK_FOR_INTERRUPTS();
			bson_init(&value);
			if (!DensifyStep(st, st->k, &pos, &value, "") ||
				(st->have_high && (st->high_incl ? pos > st->high : pos >= st->high)))
			{
				bson_destroy(&value);
				st->phase = st->phase == 0 ? 1 : 3;
				continue;
			}
			st->k++;
			bson_iter_init(&vi, &value);
			bson_iter_next(&vi);
			bson_init(&out);
			AggWindowSetPath(st->parts, st->parts_len, st->field, &vi, &out);
			values[0] = PointerGetDatum(BsonDatumFromBson(&out));
			values[1] = BoolGetDatum(st->phase == 2);
			values[2] = BoolGetDatum(true);
			bson_destroy(&out);
			bson_destroy(&value);
			SRF_RETURN_NEXT(funcctx, HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc,
																	   values, nulls)));
		}
		SRF_RETURN_DONE(funcctx);
	}
}

/*
 * nosql.bson_densify_limit(generated boolean) RETURNS boolean, a window
 * function over the output of $densify (OVER ()): counts the generated
 * documents as they pass and fails beyond MongoDB's limit (5897900).  It
 * needs no other row than the current one, so PostgreSQL keeps none.
 */
PG_FUNCTION_INFO_V1(bson_densify_limit);
Datum
bson_densify_limit(PG_FUNCTION_ARGS)
{
	WindowObject win = PG_WINDOW_OBJECT();
	int64	   *count = (int64 *) WinGetPartitionLocalMemory(win, sizeof(int64));
	bool		isnull;
	bool		generated = DatumGetBool(WinGetFuncArgCurrent(win, 0, &isnull));

	WinSetMarkPosition(win, WinGetCurrentPosition(win));
	if (!isnull && generated && ++*count > DENSIFY_MAX_DOCS)
		MongoRaise(5897900,
				   "PlanExecutor error during aggregation :: caused by :: Generated " INT64_FORMAT " documents in $densify, which is over the limit of %d. Increase the 'internalQueryMaxAllowedDensifyDocs' parameter to allow more generated documents",
				   *count, DENSIFY_MAX_DOCS);
	PG_RETURN_BOOL(true);
}
