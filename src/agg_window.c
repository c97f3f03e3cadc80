/*-------------------------------------------------------------------------
 *
 * agg_window.c
 *	  The $setWindowFields stage as PostgreSQL window functions.
 *
 * Design note
 * -----------
 * $setWindowFields {partitionBy, sortBy, output: {f: {<op>: arg, window}}}
 * becomes one query level over the query so far (agg_pipeline.c):
 *
 *	SELECT nosql.bson_window_result(w.document, $names, ARRAY[w.r0, ...])
 *	  FROM (SELECT s.document, s.pk, s.k0,
 *				   <function> OVER (PARTITION BY s.pk ORDER BY s.k0 <frame>) AS r0,
 *				   ...
 *			  FROM (SELECT s.document,
 *						   nosql.bson_group_key(s.document, $partition) AS pk,
 *						   nosql.bson_sort_value(s.document, 'path', false) AS k0,
 *						   ... AS rk
 *					  FROM (...) s) s
 *			 ORDER BY s.pk, s.k0) w
 *
 * so PostgreSQL's WindowAgg node computes every output field, over input
 * its Sort node ordered (and spilled beyond work_mem).  The partition key
 * is the value of the partitionBy expression, computed as $group computes
 * its key (strings as collation sort keys under a collation, missing as
 * null); the sort keys are the values $sort orders by.
 *
 * The functions: the $group accumulators ($sum, $avg, $min, $max, $first,
 * $last, $push, $addToSet, $count, $stdDevPop, $stdDevSamp) are the
 * aggregate nosql.bson_group_accumulate used as a window aggregate (its
 * final function leaves the state as it is, so PostgreSQL may call it for
 * every row of a growing frame); $rank, $denseRank and $documentNumber are
 * rank(), dense_rank() and row_number(); $shift is lead() or lag() of the
 * output expression's value with its default.  $derivative is computed by
 * nosql.bson_window_derivative from first_value() and last_value() of the
 * pairs [input, sortBy value] over the frame; $integral sums over the frame
 * the trapezoid each document makes with the one before it (lag(), one
 * query level further in), less the first one's, which lies before the
 * frame; $linearFill takes the last non-null pair of an ascending running
 * frame and of a descending one ($locf over the pairs of non-null inputs)
 * and interpolates between them (nosql.bson_window_linear_fill).
 *
 * Frames: a "documents" window is ROWS BETWEEN; a "range" window is RANGE
 * BETWEEN over one more sort key rk, the sortBy field as float8 (numbers)
 * or, with a unit, as timestamp (dates, in UTC, with interval offsets, so
 * that month, quarter and year windows follow the calendar).  Those keys
 * raise MongoDB's errors for a value of another type.  Without a window a
 * function sees its whole partition, as in MongoDB.
 *
 * IDENTIFICATION
 *	  src/agg_window.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "agg.h"
#include "bson.h"
#include "bson_compare.h"
#include "documents.h"
#include "nosql.h"
#include "query.h"

/* The kinds of window bounds */
typedef enum WindowBoundKind
{
	WINDOW_UNBOUNDED,
	WINDOW_CURRENT,
	WINDOW_OFFSET
} WindowBoundKind;

typedef struct WindowBound
{
	WindowBoundKind kind;
	double		offset;			/* documents: a whole number */
} WindowBound;

/* A parsed window: {documents | range: [lower, upper], unit} */
typedef struct WindowFrame
{
	bool		given;			/* the window field was there */
	bool		range;			/* range, else documents */
	WindowBound lower;
	WindowBound upper;
	const char *unit;			/* range with a unit, or NULL */
} WindowFrame;

/* The units of time-based range windows */
static const char *const window_units[] = {
	"year", "quarter", "month", "week", "day", "hour", "minute", "second", "millisecond",
	NULL
};

/* A sortBy field */
typedef struct WindowSortKey
{
	const char *path;
	bool		desc;
} WindowSortKey;

/* Parse one bound of a window (9) */
static WindowBound
WindowParseBound(const bson_iter_t *it, bool range, const char *what)
{
	WindowBound b = {WINDOW_OFFSET, 0};

	if (BSON_ITER_HOLDS_UTF8(it))
	{
		const char *s = bson_iter_utf8(it, NULL);

		if (strcmp(s, "unbounded") == 0)
			b.kind = WINDOW_UNBOUNDED;
		else if (strcmp(s, "current") == 0)
			b.kind = WINDOW_CURRENT;
		else
			MongoRaise(MONGO_FAILED_TO_PARSE,
					   "Window bounds must be 'unbounded', 'current', or a number, not '%s'", s);
		return b;
	}
	if (!BsonIterIsNumber(it) || BSON_ITER_HOLDS_BOOL(it))
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "Window bounds of %s must be 'unbounded', 'current', or a number, found %s",
				   what, BsonTypeName(bson_iter_type(it)));
	(void) BsonIterAsDouble(it, &b.offset);
	if (isnan(b.offset))
		MongoRaise(MONGO_FAILED_TO_PARSE, "Window bounds cannot be NaN");
	if (!range && (b.offset != floor(b.offset) || isinf(b.offset) ||
				   fabs(b.offset) > 9.007199254740992e15))
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "Numeric document-based bounds must be an integer");
	return b;
}

/* The position of a bound, to compare lower and upper */
static double
WindowBoundPosition(const WindowBound *b, bool lower)
{
	if (b->kind == WINDOW_UNBOUNDED)
		return lower ? -INFINITY : INFINITY;
	if (b->kind == WINDOW_CURRENT)
		return 0;
	return b->offset;
}

/* Parse a window specification (9, 5339900) */
static WindowFrame
WindowParseFrame(const bson_iter_t *window)
{
	WindowFrame f = {0};
	bson_iter_t it;
	bool		have_docs = false;
	bool		have_range = false;
	bool		have_unit = false;

	f.given = true;
	f.lower.kind = WINDOW_UNBOUNDED;
	f.upper.kind = WINDOW_UNBOUNDED;
	if (!BSON_ITER_HOLDS_DOCUMENT(window))
		MongoRaise(MONGO_FAILED_TO_PARSE, "'window' field must be an object");
	bson_iter_recurse(window, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "documents") == 0 || strcmp(key, "range") == 0)
		{
			bool		range = key[0] == 'r';
			bson_iter_t b;
			bson_iter_t lo;
			bson_iter_t hi;

			if (have_docs || have_range)
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "Window bounds can specify either 'documents' or 'range', not both");
			if (range)
				have_range = true;
			else
				have_docs = true;
			f.range = range;
			if (!BSON_ITER_HOLDS_ARRAY(&it))
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "Window bounds must be a 2-element array: {'%s': [lower, upper]}", key);
			bson_iter_recurse(&it, &b);
			if (!bson_iter_next(&b))
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "Window bounds must be a 2-element array: {'%s': [lower, upper]}", key);
			lo = b;
			if (!bson_iter_next(&b))
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "Window bounds must be a 2-element array: {'%s': [lower, upper]}", key);
			hi = b;
			if (bson_iter_next(&b))
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "Window bounds must be a 2-element array: {'%s': [lower, upper]}", key);
			f.lower = WindowParseBound(&lo, range, key);
			f.upper = WindowParseBound(&hi, range, key);
		}
		else if (strcmp(key, "unit") == 0)
		{
			const char *u;
			int			i;

			if (!BSON_ITER_HOLDS_UTF8(&it))
				MongoRaise(MONGO_FAILED_TO_PARSE, "'unit' must be a string, found %s",
						   BsonTypeName(bson_iter_type(&it)));
			u = bson_iter_utf8(&it, NULL);
			for (i = 0; window_units[i] != NULL; i++)
				if (strcmp(window_units[i], u) == 0)
					break;
			if (window_units[i] == NULL)
				MongoRaise(MONGO_FAILED_TO_PARSE, "unknown time unit value: %s", u);
			f.unit = window_units[i];
			have_unit = true;
		}
		else
			MongoRaise(MONGO_FAILED_TO_PARSE, "'window' field that has an unknown argument: %s",
					   key);
	}
	if (have_unit && !have_range)
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "Window bounds can only specify 'unit' with range-based bounds");
	if (have_unit && ((f.lower.kind == WINDOW_OFFSET && f.lower.offset != floor(f.lower.offset)) ||
					  (f.upper.kind == WINDOW_OFFSET && f.upper.offset != floor(f.upper.offset))))
		MongoRaise(5429407, "With a 'unit', range-based bounds must be an integer");
	if (WindowBoundPosition(&f.lower, true) > WindowBoundPosition(&f.upper, false))
		MongoRaise(5339900, "Lower bound must not exceed upper bound");
	return f;
}

/* Does a frame cover whole partitions? */
static bool
WindowFrameIsWhole(const WindowFrame *f)
{
	return f->lower.kind == WINDOW_UNBOUNDED && f->upper.kind == WINDOW_UNBOUNDED;
}

/* Append one bound of a frame clause */
static void
WindowAppendBound(StringInfo sql, const WindowFrame *f, const WindowBound *b, bool lower)
{
	if (b->kind == WINDOW_UNBOUNDED)
	{
		appendStringInfoString(sql, lower ? "UNBOUNDED PRECEDING" : "UNBOUNDED FOLLOWING");
		return;
	}
	if (b->kind == WINDOW_CURRENT)
	{
		appendStringInfoString(sql, "CURRENT ROW");
		return;
	}
	if (!f->range)
		appendStringInfo(sql, "%.0f", fabs(b->offset));
	else if (f->unit == NULL)
	{
		char		buf[64];

		snprintf(buf, sizeof(buf), "%.17g", fabs(b->offset));
		appendStringInfo(sql, "'%s'::float8", buf);
	}
	else if (strcmp(f->unit, "quarter") == 0)
		appendStringInfo(sql, "interval '%.0f months'", fabs(b->offset) * 3);
	else if (strcmp(f->unit, "millisecond") == 0)
		appendStringInfo(sql, "interval '%.0f milliseconds'", fabs(b->offset));
	else
		appendStringInfo(sql, "interval '%.0f %ss'", fabs(b->offset), f->unit);
	appendStringInfoString(sql, b->offset < 0 ? " PRECEDING" : " FOLLOWING");
}

/* The OVER clause of a function */
static void
WindowAppendOver(StringInfo sql, bool partition, int nsort, const WindowSortKey *sort,
				 const WindowFrame *f, bool ranking)
{
	bool		order = false;

	appendStringInfoString(sql, " OVER (");
	if (partition)
		appendStringInfoString(sql, "PARTITION BY s.pk");
	if (f != NULL && f->range && !WindowFrameIsWhole(f))
	{
		appendStringInfo(sql, "%sORDER BY s.rk", partition ? " " : "");
		order = true;
	}
	else if (nsort > 0 && (ranking || f == NULL || !WindowFrameIsWhole(f)))
	{
		appendStringInfo(sql, "%sORDER BY ", partition ? " " : "");
		for (int i = 0; i < nsort; i++)
			appendStringInfo(sql, "%ss.k%d%s", i > 0 ? ", " : "", i, sort[i].desc ? " DESC" : "");
		order = true;
	}
	if (f != NULL)
	{
		if (WindowFrameIsWhole(f))
			appendStringInfo(sql, "%sROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING",
							 partition || order ? " " : "");
		else
		{
			appendStringInfo(sql, "%s%s BETWEEN ", partition || order ? " " : "",
							 f->range ? "RANGE" : "ROWS");
			WindowAppendBound(sql, f, &f->lower, true);
			appendStringInfoString(sql, " AND ");
			WindowAppendBound(sql, f, &f->upper, false);
		}
	}
	appendStringInfoChar(sql, ')');
}

/* Check a frame against the sortBy; a range frame needs the key rk */
static void
WindowCheckFrame(const WindowFrame *frame, int nsort, const WindowSortKey *sort,
				 bool *need_range, const char **range_unit)
{
	if (WindowFrameIsWhole(frame))
		return;
	if (frame->range)
	{
		if (nsort != 1)
			MongoRaise(5339902, "Range-based window requires sortBy a single field");
		if (sort[0].desc)
			MongoRaise(8947401, "Range-based window requires an ascending sortBy");
		if (*need_range && (*range_unit == NULL) != (frame->unit == NULL))
			MongoRaise(MONGO_NOT_IMPLEMENTED,
					   "range windows with and without a unit in one $setWindowFields are not supported yet");
		*need_range = true;
		*range_unit = frame->unit;
	}
	else if (nsort == 0)
		MongoRaise(5339901, "Document-based bounds require a sortBy");
}

/* Is op a rank-style function? */
static bool
WindowIsRank(const char *op)
{
	return strcmp(op, "$rank") == 0 || strcmp(op, "$denseRank") == 0 ||
		strcmp(op, "$documentNumber") == 0;
}

/* The window functions MongoDB has that are not implemented here yet */
static const char *const window_later_functions[] = {
	"$minN", "$maxN", "$firstN", "$lastN", "$topN",
	"$bottomN", "$top", "$bottom", "$median", "$percentile", NULL
};

/* A whole number of $shift's by (9) */
static int64
WindowShiftBy(const bson_iter_t *it)
{
	double		d = 0;
	int64		v = 0;

	if (!BsonIterIsNumber(it) || BSON_ITER_HOLDS_BOOL(it) || !BsonIterAsDouble(it, &d) ||
		d != floor(d) || fabs(d) > 2147483647.0)
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "$shift's 'by' field must be an integer, but found %s",
				   BsonTypeName(bson_iter_type(it)));
	v = (int64) d;
	return v;
}


/* The parameter of the expression spec of expr */
static int
WindowExprParam(bson_t *holder, AggParamFn param, void *parg)
{
	bson_iter_t it;
	int			n;

	bson_iter_init_find(&it, holder, "e");
	n = param(parg, AggGroupExpressionSpec(&it, NULL, 0));
	bson_destroy(holder);
	return n;
}

/*
 * The parameter of the expression [input, "$<sortBy field>"]: a value and
 * its position in the order of the sortBy field.
 */
static int
WindowPairParam(const bson_iter_t *input, const WindowSortKey *sort, AggParamFn param,
				void *parg)
{
	bson_t		e;
	bson_t		arr;

	bson_init(&e);
	bson_append_array_begin(&e, "e", 1, &arr);
	bson_append_iter(&arr, "0", 1, input);
	bson_append_utf8(&arr, "1", 1, psprintf("$%s", sort[0].path), -1);
	bson_append_array_end(&e, &arr);
	return WindowExprParam(&e, param, parg);
}

/*
 * The parameter of the $locf accumulator of the pairs [input, "$<sortBy
 * field>"] of the documents whose input is not null: the last such pair.
 */
static int
WindowLocfPairParam(const bson_iter_t *input, const WindowSortKey *sort, AggParamFn param,
					void *parg)
{
	bson_t		e;
	bson_t		cond;
	bson_t		args;
	bson_t		test;
	bson_t		eqargs;
	bson_t		ifnull;
	bson_t		inargs;
	bson_t		arr;
	bson_iter_t it;
	int			n;

	bson_init(&e);
	bson_append_document_begin(&e, "e", 1, &cond);
	bson_append_array_begin(&cond, "$cond", -1, &args);
	bson_append_document_begin(&args, "0", 1, &test);
	bson_append_array_begin(&test, "$eq", -1, &eqargs);
	bson_append_document_begin(&eqargs, "0", 1, &ifnull);
	bson_append_array_begin(&ifnull, "$ifNull", -1, &inargs);
	bson_append_iter(&inargs, "0", 1, input);
	bson_append_null(&inargs, "1", 1);
	bson_append_array_end(&ifnull, &inargs);
	bson_append_document_end(&eqargs, &ifnull);
	bson_append_null(&eqargs, "1", 1);
	bson_append_array_end(&test, &eqargs);
	bson_append_document_end(&args, &test);
	bson_append_null(&args, "1", 1);
	bson_append_array_begin(&args, "2", 1, &arr);
	bson_append_iter(&arr, "0", 1, input);
	bson_append_utf8(&arr, "1", 1, psprintf("$%s", sort[0].path), -1);
	bson_append_array_end(&args, &arr);
	bson_append_array_end(&cond, &args);
	bson_append_document_end(&e, &cond);
	bson_iter_init_find(&it, &e, "e");
	n = param(parg, AggGroupWindowAccumulator("$locf", &it, NULL, 0));
	bson_destroy(&e);
	return n;
}

/* The units $derivative and $integral take, in milliseconds (5490704 beyond a week) */
static double
WindowRateUnit(const bson_iter_t *it, const char *op)
{
	static const struct
	{
		const char *name;
		double		ms;
	}			units[] = {
		{"week", 604800000.0}, {"day", 86400000.0}, {"hour", 3600000.0},
		{"minute", 60000.0}, {"second", 1000.0}, {"millisecond", 1.0}, {NULL, 0}
	};
	const char *u;

	if (!BSON_ITER_HOLDS_UTF8(it))
		MongoRaise(MONGO_FAILED_TO_PARSE, "%s 'unit' must be a string, found %s", op,
				   BsonTypeName(bson_iter_type(it)));
	u = bson_iter_utf8(it, NULL);
	for (int i = 0; units[i].name != NULL; i++)
		if (strcmp(units[i].name, u) == 0)
			return units[i].ms;
	for (int i = 0; window_units[i] != NULL; i++)
		if (strcmp(window_units[i], u) == 0)
			MongoRaise(5490704, "%s 'unit' must be a fixed-size unit: week or smaller, not %s",
					   op, u);
	MongoRaise(MONGO_FAILED_TO_PARSE, "unknown time unit value: %s", u);
	return 0;					/* not reached */
}

/*
 * The argument {input, unit} of $derivative and $integral: the parameter
 * of the expression [input, "$<sortBy field>"] (a value and its position)
 * and the unit in milliseconds (0: none).
 */
static int
WindowRateArgs(const bson_iter_t *arg, const char *op, const WindowSortKey *sort,
			   AggParamFn param, void *parg, double *unit_ms)
{
	bson_iter_t it;
	bson_iter_t input;
	bool		have_input = false;

	*unit_ms = 0;
	if (!BSON_ITER_HOLDS_DOCUMENT(arg))
		MongoRaise(MONGO_FAILED_TO_PARSE, "%s expects an object, but got a %s", op,
				   BsonTypeName(bson_iter_type(arg)));
	bson_iter_recurse(arg, &it);
	while (bson_iter_next(&it))
	{
		const char *k = bson_iter_key(&it);

		if (strcmp(k, "input") == 0)
		{
			input = it;
			have_input = true;
		}
		else if (strcmp(k, "unit") == 0)
			*unit_ms = WindowRateUnit(&it, op);
		else
			MongoRaise(MONGO_FAILED_TO_PARSE, "%s got unexpected argument: %s", op, k);
	}
	if (!have_input)
		MongoRaise(MONGO_FAILED_TO_PARSE, "%s requires an 'input' expression", op);
	return WindowPairParam(&input, sort, param, parg);
}

/* $expMovingAvg: {input, N | alpha} (9) */
static Bson *
WindowExpMovingAvg(const bson_iter_t *arg)
{
	bson_iter_t it;
	bson_iter_t input;
	bool		have_input = false;
	bool		have_n = false;
	bool		have_alpha = false;
	double		alpha = 0;

	if (!BSON_ITER_HOLDS_DOCUMENT(arg))
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "$expMovingAvg must have exactly two fields: 'input', and either 'N' or 'alpha'");
	bson_iter_recurse(arg, &it);
	while (bson_iter_next(&it))
	{
		const char *k = bson_iter_key(&it);
		double		d = 0;

		if (strcmp(k, "input") == 0)
		{
			input = it;
			have_input = true;
		}
		else if (strcmp(k, "N") == 0)
		{
			if (!BsonIterIsNumber(&it) || BSON_ITER_HOLDS_BOOL(&it) ||
				!BsonIterAsDouble(&it, &d) || d != floor(d) || d <= 0)
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "'N' field must be a positive integer for $expMovingAvg");
			alpha = 2.0 / (d + 1);
			have_n = true;
		}
		else if (strcmp(k, "alpha") == 0)
		{
			if (!BsonIterIsNumber(&it) || BSON_ITER_HOLDS_BOOL(&it) ||
				!BsonIterAsDouble(&it, &d) || !(d > 0 && d < 1))
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "'alpha' must be between 0 and 1 (exclusive) for $expMovingAvg");
			alpha = d;
			have_alpha = true;
		}
		else
			MongoRaise(MONGO_FAILED_TO_PARSE, "Got unrecognized field in $expMovingAvg: %s", k);
	}
	if (!have_input || have_n == have_alpha)
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "$expMovingAvg must have exactly two fields: 'input', and either 'N' or 'alpha'");
	return AggGroupWindowExpMovingAvg(&input, alpha);
}

/* The default of an output field whose frame is empty */
static void
WindowAppendDefault(bson_t *defaults, const char *key, const char *op)
{
	if (strcmp(op, "$sum") == 0 || strcmp(op, "$count") == 0)
		bson_append_int32(defaults, key, -1, 0);
	else if (strcmp(op, "$push") == 0 || strcmp(op, "$addToSet") == 0)
	{
		bson_t		empty;

		bson_append_array_begin(defaults, key, -1, &empty);
		bson_append_array_end(defaults, &empty);
	}
	else
		bson_append_null(defaults, key, -1);
}

/*
 * Translate a $setWindowFields stage over the query input into out,
 * adding its parameters with param.  collation is the command's
 * non-simple collation or NULL.  input_order ($fill): without a sortBy,
 * the documents are in the order they come in.
 */
void
AggWindowTranslate(const bson_iter_t *spec, const uint8_t *collation, uint32_t collation_len,
				   bool input_order, AggParamFn param, void *arg, const char *input,
				   StringInfo out)
{
	bson_iter_t it;
	bson_iter_t partition;
	bson_iter_t sortby;
	bson_iter_t output;
	bool		have_partition = false;
	bool		have_sort = false;
	bool		have_output = false;
	WindowSortKey *sort = NULL;
	int			nsort = 0;
	StringInfoData funcs;
	StringInfoData pre;
	StringInfoData keys;
	bson_t		names;
	bson_t		defaults;
	int			nout = 0;
	const char *range_unit = NULL;
	bool		need_range = false;
	int			cp = 0;

	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "the $setWindowFields stage specification must be an object, found %s",
				   BsonTypeName(bson_iter_type(spec)));
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "partitionBy") == 0)
		{
			partition = it;
			have_partition = true;
		}
		else if (strcmp(key, "sortBy") == 0)
		{
			if (!BSON_ITER_HOLDS_DOCUMENT(&it))
				MongoRaise(MONGO_TYPE_MISMATCH,
						   "BSON field '$setWindowFields.sortBy' is the wrong type '%s', expected type 'object'",
						   BsonTypeName(bson_iter_type(&it)));
			sortby = it;
			have_sort = true;
		}
		else if (strcmp(key, "output") == 0)
		{
			if (!BSON_ITER_HOLDS_DOCUMENT(&it))
				MongoRaise(MONGO_TYPE_MISMATCH,
						   "BSON field '$setWindowFields.output' is the wrong type '%s', expected type 'object'",
						   BsonTypeName(bson_iter_type(&it)));
			output = it;
			have_output = true;
		}
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD,
					   "BSON field '$setWindowFields.%s' is an unknown field.", key);
	}
	if (!have_output)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field '$setWindowFields.output' is missing but a required field");

	/* sortBy: a $sort specification */
	if (have_sort)
	{
		int			max = 0;

		bson_iter_recurse(&sortby, &it);
		while (bson_iter_next(&it))
			max++;
		sort = palloc0(sizeof(WindowSortKey) * (max + 1));
		bson_iter_recurse(&sortby, &it);
		while (bson_iter_next(&it))
		{
			double		d = 0;

			AggFieldPathCheck(bson_iter_key(&it), bson_iter_key_len(&it));
			if (BSON_ITER_HOLDS_DOCUMENT(&it))
				MongoRaise(MONGO_NOT_IMPLEMENTED,
						   "$meta in the sortBy of $setWindowFields is not supported yet");
			if (!BsonIterIsNumber(&it) || BSON_ITER_HOLDS_BOOL(&it))
				MongoRaise(15974, "Illegal key in $sort specification: %s: %s",
						   bson_iter_key(&it), BsonTypeName(bson_iter_type(&it)));
			(void) BsonIterAsDouble(&it, &d);
			if (d != 1 && d != -1)
				MongoRaise(15975,
						   "$sort key ordering must be 1 (for ascending) or -1 (for descending)");
			sort[nsort].path = bson_iter_key(&it);
			sort[nsort].desc = d < 0;
			nsort++;
		}
	}

	if (input_order && nsort == 0)
	{
		/* the input's own order: its row numbers */
		sort = palloc0(sizeof(WindowSortKey));
		sort[0].path = NULL;
		nsort = 1;
	}

	/* the output fields, each one window function */
	initStringInfo(&funcs);
	initStringInfo(&pre);
	bson_init(&names);
	bson_init(&defaults);
	bson_iter_recurse(&output, &it);
	while (bson_iter_next(&it))
	{
		const char *name = bson_iter_key(&it);
		bson_iter_t f;
		bson_iter_t op_it;
		bson_iter_t window;
		const char *op = NULL;
		bool		have_window = false;
		WindowFrame frame = {0};
		char		key[16];
		const char *keyp;

		AggFieldPathCheck(name, bson_iter_key_len(&it));
		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			MongoRaise(MONGO_FAILED_TO_PARSE,
					   "The field '%s' must be an object", name);
		/* the function is the first $-field, as MongoDB finds it */
		bson_iter_recurse(&it, &f);
		while (bson_iter_next(&f))
		{
			if (strcmp(bson_iter_key(&f), "window") == 0)
			{
				window = f;
				have_window = true;
			}
			else if (op == NULL && bson_iter_key(&f)[0] == '$')
			{
				op = bson_iter_key(&f);
				op_it = f;
			}
		}
		if (op == NULL)
			MongoRaise(MONGO_FAILED_TO_PARSE, "Expected a $-prefixed window function, %s",
					   name);
		/* then the other fields, as that function's parser does */
		bson_iter_recurse(&it, &f);
		while (bson_iter_next(&f))
		{
			const char *k = bson_iter_key(&f);

			if (strcmp(k, op) == 0)
				continue;
			if (WindowIsRank(op))
				MongoRaise(5371601, "Rank style window functions take no other arguments");
			if (strcmp(k, "window") == 0)
				continue;
			if (k[0] == '$')
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "Cannot specify multiple functions in window function spec");
			MongoRaise(MONGO_FAILED_TO_PARSE, "Window function found an unknown argument: %s",
					   k);
		}
		if (have_window)
			frame = WindowParseFrame(&window);
		else
		{
			frame.lower.kind = WINDOW_UNBOUNDED;
			frame.upper.kind = WINDOW_UNBOUNDED;
		}

		if (nout > 0)
			appendStringInfoString(&funcs, ", ");
		if (WindowIsRank(op))
		{
			bson_iter_t empty;

			if (!BSON_ITER_HOLDS_DOCUMENT(&op_it) || (bson_iter_recurse(&op_it, &empty) &&
													  bson_iter_next(&empty)))
				MongoRaise(5371603, "%s must be specified with '{}' as the value", op);
			if (nsort != 1)
				MongoRaise(5371602,
						   "%s must be specified with a top level sortBy expression with exactly one element",
						   op);
			appendStringInfo(&funcs, "nosql.bson_window_number(%s()",
							 strcmp(op, "$rank") == 0 ? "rank" :
							 strcmp(op, "$denseRank") == 0 ? "dense_rank" : "row_number");
			WindowAppendOver(&funcs, have_partition, nsort, sort, NULL, true);
			appendStringInfoChar(&funcs, ')');
			bson_uint32_to_string(nout, &keyp, key, sizeof(key));
			bson_append_null(&defaults, keyp, -1);
		}
		else if (strcmp(op, "$shift") == 0)
		{
			bson_iter_t s;
			bool		have_out = false;
			bool		have_by = false;
			bool		have_default = false;
			bson_iter_t out_it;
			bson_iter_t def_it;
			int64		by = 0;

			if (have_window)
				MongoRaise(MONGO_FAILED_TO_PARSE, "$shift does not accept a 'window' field");
			if (!BSON_ITER_HOLDS_DOCUMENT(&op_it))
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "Argument to $shift must be an object, found %s",
						   BsonTypeName(bson_iter_type(&op_it)));
			bson_iter_recurse(&op_it, &s);
			while (bson_iter_next(&s))
			{
				const char *k = bson_iter_key(&s);

				if (strcmp(k, "output") == 0)
				{
					out_it = s;
					have_out = true;
				}
				else if (strcmp(k, "by") == 0)
				{
					by = WindowShiftBy(&s);
					have_by = true;
				}
				else if (strcmp(k, "default") == 0)
				{
					def_it = s;
					have_default = true;
				}
				else
					MongoRaise(MONGO_FAILED_TO_PARSE, "Unknown argument in $shift: %s", k);
			}
			if (!have_out)
				MongoRaise(MONGO_FAILED_TO_PARSE, "$shift requires an 'output' expression");
			if (!have_by)
				MongoRaise(MONGO_FAILED_TO_PARSE, "$shift requires 'by' as an integer value");
			if (nsort == 0)
				MongoRaise(5339901, "$shift requires a sortBy");
			appendStringInfo(&funcs, "%s(nosql.bson_group_key(s.document, $%d), " INT64_FORMAT,
							 by < 0 ? "lag" : "lead",
							 param(arg, AggGroupExpressionSpec(&out_it, NULL, 0)),
							 by < 0 ? -by : by);
			if (have_default)
				appendStringInfo(&funcs, ", nosql.bson_group_key('{}'::nosql.bson, $%d)",
								 param(arg, AggGroupExpressionSpec(&def_it, NULL, 0)));
			appendStringInfoChar(&funcs, ')');
			WindowAppendOver(&funcs, have_partition, nsort, sort, NULL, true);
			bson_uint32_to_string(nout, &keyp, key, sizeof(key));
			bson_append_null(&defaults, keyp, -1);
		}
		else if (strcmp(op, "$derivative") == 0 || strcmp(op, "$integral") == 0)
		{
			double		unit_ms;
			int			pp;
			char		unit[64];

			if (nsort == 0)
				MongoRaise(MONGO_FAILED_TO_PARSE, "%s requires a sortBy", op);
			if (nsort != 1)
				MongoRaise(MONGO_FAILED_TO_PARSE, "%s requires a sortBy of exactly one field",
						   op);
			if (op[1] == 'd' && !have_window)
				MongoRaise(MONGO_FAILED_TO_PARSE, "$derivative requires explicit window bounds");
			pp = WindowRateArgs(&op_it, op, sort, param, arg, &unit_ms);
			WindowCheckFrame(&frame, nsort, sort, &need_range, &range_unit);
			snprintf(unit, sizeof(unit), "'%.17g'::float8", unit_ms);
			if (op[1] == 'd')
			{
				/* the first and the last document of the window */
				appendStringInfo(&funcs,
								 "nosql.bson_window_derivative(first_value(nosql.bson_group_key(s.document, $%d))",
								 pp);
				WindowAppendOver(&funcs, have_partition, nsort, sort, &frame, false);
				appendStringInfo(&funcs, ", last_value(nosql.bson_group_key(s.document, $%d))", pp);
				WindowAppendOver(&funcs, have_partition, nsort, sort, &frame, false);
				appendStringInfo(&funcs, ", %s)", unit);
			}
			else
			{
				/*
				 * a%d: the trapezoid between a document and the one before
				 * it; the window's sum less the first one's (which reaches
				 * before the window)
				 */
				appendStringInfo(&pre,
								 ", nosql.bson_window_trapezoid(nosql.bson_group_key(s.document, $%d), lag(nosql.bson_group_key(s.document, $%d))",
								 pp, pp);
				WindowAppendOver(&pre, have_partition, nsort, sort, NULL, true);
				appendStringInfo(&pre, ", %s) AS a%d", unit, nout);
				appendStringInfo(&funcs, "nosql.bson_window_integral(sum(s.a%d)", nout);
				WindowAppendOver(&funcs, have_partition, nsort, sort, &frame, false);
				if (frame.lower.kind == WINDOW_UNBOUNDED)
					appendStringInfoString(&funcs, ", NULL::float8");
				else
				{
					appendStringInfo(&funcs, ", first_value(s.a%d)", nout);
					WindowAppendOver(&funcs, have_partition, nsort, sort, &frame, false);
				}
				appendStringInfoString(&funcs, ", count(*)");
				WindowAppendOver(&funcs, have_partition, nsort, sort, &frame, false);
				appendStringInfo(&funcs, ", %s)", unit);
			}
			bson_uint32_to_string(nout, &keyp, key, sizeof(key));
			bson_append_null(&defaults, keyp, -1);
		}
		else if (strcmp(op, "$linearFill") == 0)
		{
			int			pp;
			int			lp;

			if (have_window)
				MongoRaise(MONGO_FAILED_TO_PARSE, "$linearFill does not accept a 'window' field");
			if (nsort != 1 || sort[0].path == NULL)
				MongoRaise(605001,
						   "$linearFill must be specified with a top level sortBy expression with exactly one element");
			pp = WindowPairParam(&op_it, sort, param, arg);
			lp = WindowLocfPairParam(&op_it, sort, param, arg);
			/* the pair, the one before, the last non-null one so far each way */
			appendStringInfo(&funcs,
							 "nosql.bson_window_linear_fill(nosql.bson_group_key(s.document, $%d), lag(nosql.bson_group_key(s.document, $%d))",
							 pp, pp);
			WindowAppendOver(&funcs, have_partition, nsort, sort, NULL, true);
			appendStringInfo(&funcs, ", nosql.bson_group_accumulate(s.document, $%d, 0::bigint) OVER (%sORDER BY s.k0%s ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)",
							 lp, have_partition ? "PARTITION BY s.pk " : "",
							 sort[0].desc ? " DESC" : "");
			appendStringInfo(&funcs, ", nosql.bson_group_accumulate(s.document, $%d, 0::bigint) OVER (%sORDER BY s.k0%s ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))",
							 lp, have_partition ? "PARTITION BY s.pk " : "",
							 sort[0].desc ? "" : " DESC");
			bson_uint32_to_string(nout, &keyp, key, sizeof(key));
			bson_append_null(&defaults, keyp, -1);
		}
		else
		{
			Bson	   *acc;

			if (strcmp(op, "$locf") == 0 || strcmp(op, "$expMovingAvg") == 0)
			{
				/* running functions: the documents up to the current one */
				if (have_window)
					MongoRaise(MONGO_FAILED_TO_PARSE, "%s does not accept a 'window' field", op);
				if (nsort == 0)
					MongoRaise(5339901, "%s requires a sortBy", op);
				frame.lower.kind = WINDOW_UNBOUNDED;
				frame.upper.kind = WINDOW_CURRENT;
				frame.range = false;
			}
			if (strcmp(op, "$expMovingAvg") == 0)
				acc = WindowExpMovingAvg(&op_it);
			else
				acc = AggGroupWindowAccumulator(op, &op_it, collation, collation_len);
			if (acc == NULL)
			{
				for (int i = 0; window_later_functions[i] != NULL; i++)
					if (strcmp(window_later_functions[i], op) == 0)
						MongoRaise(MONGO_NOT_IMPLEMENTED,
								   "the window function %s is not supported yet", op);
				MongoRaise(MONGO_FAILED_TO_PARSE, "Unrecognized window function, %s", op);
			}
			WindowCheckFrame(&frame, nsort, sort, &need_range, &range_unit);
			appendStringInfo(&funcs, "nosql.bson_group_accumulate(s.document, $%d, 0::bigint)",
							 param(arg, acc));
			WindowAppendOver(&funcs, have_partition, nsort, sort, &frame, false);
			bson_uint32_to_string(nout, &keyp, key, sizeof(key));
			WindowAppendDefault(&defaults, keyp, op);
		}
		appendStringInfo(&funcs, " AS r%d", nout);
		bson_uint32_to_string(nout, &keyp, key, sizeof(key));
		bson_append_utf8(&names, keyp, -1, name, -1);
		nout++;
	}
	if (nout == 0)
		MongoRaise(MONGO_FAILED_TO_PARSE, "$setWindowFields requires at least one output field");

	/* the keys: partition, sort values, the range key */
	initStringInfo(&keys);
	appendStringInfoString(&keys, "s.document");
	if (have_partition)
		appendStringInfo(&keys, ", nosql.bson_group_key(s.document, $%d) AS pk",
						 param(arg, AggGroupExpressionSpec(&partition, collation, collation_len)));
	if (collation != NULL && nsort > 0)
	{
		bson_t		c;

		bson_init_static(&c, collation, collation_len);
		cp = param(arg, BsonDatumFromBson(&c));
	}
	for (int i = 0; i < nsort; i++)
	{
		if (sort[i].path == NULL)
		{
			appendStringInfo(&keys, ", row_number() OVER () AS k%d", i);
			continue;
		}
		appendStringInfo(&keys, ", nosql.bson_sort_value(s.document, %s, %s",
						 quote_literal_cstr(sort[i].path), sort[i].desc ? "true" : "false");
		if (cp > 0)
			appendStringInfo(&keys, ", $%d", cp);
		appendStringInfo(&keys, ") AS k%d", i);
	}
	if (need_range)
	{
		bson_t		e;
		bson_iter_t ei;
		char	   *path = psprintf("$%s", sort[0].path);

		bson_init(&e);
		bson_append_utf8(&e, "e", 1, path, -1);
		bson_iter_init_find(&ei, &e, "e");
		appendStringInfo(&keys, ", nosql.bson_window_%s_key(nosql.bson_group_key(s.document, $%d)) AS rk",
						 range_unit != NULL ? "date" : "range",
						 param(arg, AggGroupExpressionSpec(&ei, NULL, 0)));
		bson_destroy(&e);
	}

	{
		bson_t		desc;
		int			np;

		bson_init(&desc);
		bson_append_array(&desc, "f", 1, &names);
		bson_append_array(&desc, "d", 1, &defaults);
		np = param(arg, BsonDatumFromBson(&desc));
		bson_destroy(&desc);
		appendStringInfo(out, "SELECT nosql.bson_window_result(w.document, $%d, ARRAY[", np);
	}
	for (int i = 0; i < nout; i++)
		appendStringInfo(out, "%sw.r%d", i > 0 ? ", " : "", i);
	if (pre.len > 0)
		appendStringInfo(out, "]::nosql.bson[]) AS document FROM (SELECT s.document, %s FROM (SELECT s.*%s FROM (SELECT %s FROM (%s) s) s) s",
						 funcs.data, pre.data, keys.data, input);
	else
		appendStringInfo(out, "]::nosql.bson[]) AS document FROM (SELECT s.document, %s FROM (SELECT %s FROM (%s) s) s",
						 funcs.data, keys.data, input);
	if (have_partition || nsort > 0)
	{
		appendStringInfoString(out, " ORDER BY ");
		if (have_partition)
			appendStringInfoString(out, "s.pk");
		for (int i = 0; i < nsort; i++)
			appendStringInfo(out, "%ss.k%d%s", i > 0 || have_partition ? ", " : "", i,
							 sort[i].desc ? " DESC" : "");
	}
	appendStringInfoString(out, ") w");
	bson_destroy(&names);
	bson_destroy(&defaults);
}

/* ---- $fill ---- */

/*
 * Check a $fill stage and describe it as the stages it is: window holds a
 * $setWindowFields specification {partitionBy, sortBy, output: {f:
 * {$locf: "$f"} or {$linearFill: "$f"}}} (false: none) and set an $addFields specification
 * {f: {$ifNull: ["$f", value]}} (false: none).
 */
bool
AggFillDescribe(const bson_iter_t *spec, bson_t *window, bson_t *set, bool *have_set)
{
	bson_iter_t it;
	bson_iter_t output;
	bson_iter_t partition;
	bson_iter_t fields;
	bson_iter_t sortby;
	bool		have_output = false;
	bool		have_partition = false;
	bool		have_fields = false;
	bool		have_sort = false;
	int			nsort = 0;
	bson_t		out;
	int			nlocf = 0;

	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(MONGO_FAILED_TO_PARSE, "$fill specification must be an object, found %s",
				   BsonTypeName(bson_iter_type(spec)));
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "output") == 0)
		{
			if (!BSON_ITER_HOLDS_DOCUMENT(&it))
				MongoRaise(MONGO_TYPE_MISMATCH,
						   "BSON field '$fill.output' is the wrong type '%s', expected type 'object'",
						   BsonTypeName(bson_iter_type(&it)));
			output = it;
			have_output = true;
		}
		else if (strcmp(key, "partitionBy") == 0)
		{
			partition = it;
			have_partition = true;
		}
		else if (strcmp(key, "partitionByFields") == 0)
		{
			bson_iter_t f;

			if (!BSON_ITER_HOLDS_ARRAY(&it))
				MongoRaise(MONGO_TYPE_MISMATCH,
						   "BSON field '$fill.partitionByFields' is the wrong type '%s', expected type 'array'",
						   BsonTypeName(bson_iter_type(&it)));
			bson_iter_recurse(&it, &f);
			while (bson_iter_next(&f))
			{
				if (!BSON_ITER_HOLDS_UTF8(&f))
					MongoRaise(MONGO_TYPE_MISMATCH,
							   "BSON field '$fill.partitionByFields' must hold strings, found %s",
							   BsonTypeName(bson_iter_type(&f)));
				AggFieldPathCheck(bson_iter_utf8(&f, NULL), (uint32_t) strlen(bson_iter_utf8(&f, NULL)));
			}
			fields = it;
			have_fields = true;
		}
		else if (strcmp(key, "sortBy") == 0)
		{
			bson_iter_t f;

			if (!BSON_ITER_HOLDS_DOCUMENT(&it))
				MongoRaise(MONGO_TYPE_MISMATCH,
						   "BSON field '$fill.sortBy' is the wrong type '%s', expected type 'object'",
						   BsonTypeName(bson_iter_type(&it)));
			bson_iter_recurse(&it, &f);
			while (bson_iter_next(&f))
			{
				AggFieldPathCheck(bson_iter_key(&f), bson_iter_key_len(&f));
				nsort++;
			}
			sortby = it;
			have_sort = true;
		}
		else
			MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field '$fill.%s' is an unknown field.",
					   key);
	}
	if (!have_output)
		MongoRaise(MONGO_IDL_MISSING_FIELD,
				   "BSON field '$fill.output' is missing but a required field");
	if (have_partition && have_fields)
		MongoRaise(6050204, "Maximum one of 'partitionBy' and 'partitionByFields' can be specified in '$fill'");

	bson_init(&out);
	*have_set = false;
	bson_iter_recurse(&output, &it);
	while (bson_iter_next(&it))
	{
		const char *name = bson_iter_key(&it);
		bson_iter_t f;
		bool		have_method = false;
		bool		have_value = false;
		bool		linear = false;
		bson_iter_t value;
		char	   *path = psprintf("$%s", name);

		AggFieldPathCheck(name, bson_iter_key_len(&it));
		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			MongoRaise(MONGO_TYPE_MISMATCH, "$fill output field '%s' must be an object", name);
		bson_iter_recurse(&it, &f);
		while (bson_iter_next(&f))
		{
			const char *k = bson_iter_key(&f);

			if (strcmp(k, "method") == 0)
			{
				const char *m;

				if (!BSON_ITER_HOLDS_UTF8(&f))
					MongoRaise(MONGO_TYPE_MISMATCH, "$fill 'method' must be a string");
				m = bson_iter_utf8(&f, NULL);
				if (strcmp(m, "linear") == 0)
				{
					if (nsort != 1)
						MongoRaise(605001, "The sortBy field must be present and have one field when using method 'linear' in $fill");
					linear = true;
				}
				else if (strcmp(m, "locf") != 0)
					MongoRaise(6050202, "Method must be either 'locf' or 'linear'");
				have_method = true;
			}
			else if (strcmp(k, "value") == 0)
			{
				value = f;
				have_value = true;
			}
			else
				MongoRaise(MONGO_IDL_UNKNOWN_FIELD, "BSON field '$fill.output.%s' is an unknown field.", k);
		}
		if (have_method == have_value)
			MongoRaise(6050203, "Exactly one of 'value' and 'method' must be specified in $fill output field '%s'",
					   name);
		if (have_method)
		{
			bson_t		fn;

			if (nlocf++ == 0)
			{
				bson_init(window);
				if (have_partition)
					bson_append_iter(window, "partitionBy", -1, &partition);
				else if (have_fields)
				{
					bson_t		arr;
					bson_iter_t p;
					int			n = 0;

					bson_iter_recurse(&fields, &p);
					bson_append_array_begin(window, "partitionBy", -1, &arr);
					while (bson_iter_next(&p))
					{
						char		key[16];
						const char *keyp;

						bson_uint32_to_string(n++, &keyp, key, sizeof(key));
						bson_append_utf8(&arr, keyp, -1,
										 psprintf("$%s", bson_iter_utf8(&p, NULL)), -1);
					}
					bson_append_array_end(window, &arr);
				}
				if (have_sort)
					bson_append_iter(window, "sortBy", -1, &sortby);
			}
			bson_append_document_begin(&out, name, -1, &fn);
			bson_append_utf8(&fn, linear ? "$linearFill" : "$locf", -1, path, -1);
			bson_append_document_end(&out, &fn);
		}
		else
		{
			bson_t		fn;
			bson_t		args;

			if (!*have_set)
				bson_init(set);
			*have_set = true;
			bson_append_document_begin(set, name, -1, &fn);
			bson_append_array_begin(&fn, "$ifNull", -1, &args);
			bson_append_utf8(&args, "0", 1, path, -1);
			bson_append_iter(&args, "1", 1, &value);
			bson_append_array_end(&fn, &args);
			bson_append_document_end(set, &fn);
		}
	}
	if (nlocf > 0)
		bson_append_document(window, "output", -1, &out);
	bson_destroy(&out);
	return nlocf > 0;
}

/* ---- SQL functions ---- */

/* Set the value at a dotted path of a document, into out (agg_lookup.c) */
void
AggWindowSetPath(const uint8_t *data, uint32_t len, const char *path, const bson_iter_t *value,
				 bson_t *out)
{
	bson_iter_t v = *value;

	AggSetDottedPath(data, len, path, bson_iter_value(&v), out);
}

/*
 * nosql.bson_window_result(document bson, names bson, results bson[])
 *		RETURNS bson
 *
 * The document with its $setWindowFields output fields set: names is
 * {f: [paths], d: [values for an empty window]}.
 */
PG_FUNCTION_INFO_V1(bson_window_result);
Datum
bson_window_result(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	Bson	   *names = PG_GETARG_BSON_P(1);
	ArrayType  *results = PG_GETARG_ARRAYTYPE_P(2);
	Datum	   *values;
	bool	   *nulls;
	int			n;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	bson_t		namesdoc;
	bson_iter_t it;
	bson_iter_t fit;
	bson_iter_t dit;
	uint8_t    *data;
	uint32_t	len;
	Bson	   *result;

	get_typlenbyvalalign(ARR_ELEMTYPE(results), &typlen, &typbyval, &typalign);
	deconstruct_array(results, ARR_ELEMTYPE(results), typlen, typbyval, typalign,
					  &values, &nulls, &n);
	if (!bson_init_static(&namesdoc, BsonBytes(names), BsonDocLen(names)) ||
		!bson_iter_init_find(&it, &namesdoc, "f") || !bson_iter_recurse(&it, &fit) ||
		!bson_iter_init_find(&it, &namesdoc, "d") || !bson_iter_recurse(&it, &dit))
		elog(ERROR, "invalid $setWindowFields output names");
	data = (uint8_t *) BsonBytes(doc);
	len = BsonDocLen(doc);
	for (int i = 0; i < n && bson_iter_next(&fit) && bson_iter_next(&dit); i++)
	{
		const char *name = bson_iter_utf8(&fit, NULL);
		bson_t		out;
		bson_t		holder;
		bson_iter_t v;
		bool		wrapped = false;

		if (nulls[i])
			v = dit;
		else if (!BsonValueIter(DatumGetBsonP(values[i]), &v, &holder))
		{
			Bson	   *r = DatumGetBsonP(values[i]);
			bson_t		sub;

			/* a document result: wrap it to have an iterator on it */
			bson_init(&holder);
			bson_init_static(&sub, BsonBytes(r), BsonDocLen(r));
			bson_append_document(&holder, "", 0, &sub);
			bson_iter_init(&v, &holder);
			bson_iter_next(&v);
			wrapped = true;
		}
		bson_init(&out);
		AggWindowSetPath(data, len, name, &v, &out);
		if (wrapped)
			bson_destroy(&holder);
		data = palloc(out.len);
		memcpy(data, bson_get_data(&out), out.len);
		len = out.len;
		bson_destroy(&out);
	}
	{
		bson_t		final;

		bson_init_static(&final, data, len);
		result = BsonDatumFromBson(&final);
	}
	PG_RETURN_BSON_P(result);
}

/*
 * nosql.bson_window_number(n bigint) RETURNS bson
 *
 * A rank as a bson value: an int, or a long beyond the int range.
 */
PG_FUNCTION_INFO_V1(bson_window_number);
Datum
bson_window_number(PG_FUNCTION_ARGS)
{
	int64		n = PG_GETARG_INT64(0);
	bson_value_t v;

	if (n >= PG_INT32_MIN && n <= PG_INT32_MAX)
	{
		v.value_type = BSON_TYPE_INT32;
		v.value.v_int32 = (int32_t) n;
	}
	else
	{
		v.value_type = BSON_TYPE_INT64;
		v.value.v_int64 = n;
	}
	PG_RETURN_BSON_P(BsonFromValue(&v));
}

/*
 * nosql.bson_window_range_key(value bson) RETURNS float8
 *
 * The sortBy value of a range window as a number (5429414 otherwise).
 */
PG_FUNCTION_INFO_V1(bson_window_range_key);
Datum
bson_window_range_key(PG_FUNCTION_ARGS)
{
	Bson	   *value = PG_GETARG_BSON_P(0);
	bson_t		holder;
	bson_iter_t it;
	double		d = 0;

	if (!BsonValueIter(value, &it, &holder) || !BsonIterIsNumber(&it) ||
		BSON_ITER_HOLDS_BOOL(&it) || !BsonIterAsDouble(&it, &d))
		MongoRaise(5429414,
				   "Invalid range: Expected the sortBy field to be a number, but it was %s",
				   BsonValueIter(value, &it, &holder) ? BsonTypeName(bson_iter_type(&it)) :
				   "object");
	PG_RETURN_FLOAT8(d);
}

/*
 * nosql.bson_window_date_key(value bson) RETURNS timestamp
 *
 * The sortBy value of a time range window as a UTC timestamp (5429513
 * otherwise).
 */
PG_FUNCTION_INFO_V1(bson_window_date_key);
Datum
bson_window_date_key(PG_FUNCTION_ARGS)
{
	Bson	   *value = PG_GETARG_BSON_P(0);
	bson_t		holder;
	bson_iter_t it;
	int64		ms;
	Timestamp	ts;

	if (!BsonValueIter(value, &it, &holder) || !BSON_ITER_HOLDS_DATE_TIME(&it))
		MongoRaise(5429513,
				   "Invalid range: Expected the sortBy field to be a Date, but it was %s",
				   BsonValueIter(value, &it, &holder) ? BsonTypeName(bson_iter_type(&it)) :
				   "object");
	ms = bson_iter_date_time(&it);
	if (ms > (int64) 9000000000000000 || ms < -(int64) 9000000000000000)
		MongoRaise(MONGO_NOT_IMPLEMENTED, "a date beyond PostgreSQL's timestamp range cannot be in a time range window");
	/* milliseconds since 1970 to microseconds since 2000 */
	ts = (ms - (int64) 946684800000) * 1000;
	if (!IS_VALID_TIMESTAMP(ts))
		MongoRaise(MONGO_NOT_IMPLEMENTED, "a date beyond PostgreSQL's timestamp range cannot be in a time range window");
	PG_RETURN_TIMESTAMP(ts);
}

/* ---- $derivative, $integral, $linearFill ---- */

/* The value and the position of a pair [value, position]; false: NULL */
static bool
WindowPair(FunctionCallInfo fcinfo, int arg, bson_t *holder, bson_iter_t *value,
		   bson_iter_t *pos)
{
	bson_iter_t it;
	bson_iter_t arr;

	if (PG_ARGISNULL(arg))
		return false;
	if (!BsonValueIter(PG_GETARG_BSON_P(arg), &it, holder) || !BSON_ITER_HOLDS_ARRAY(&it))
		return false;
	if (!bson_iter_recurse(&it, &arr) || !bson_iter_next(&arr))
		return false;
	*value = arr;
	if (!bson_iter_next(&arr))
		return false;
	*pos = arr;
	return true;
}

/* A number, not a boolean, as a double */
static bool
WindowNumber(const bson_iter_t *it, double *d)
{
	return BsonIterIsNumber(it) && !BSON_ITER_HOLDS_BOOL(it) && BsonIterAsDouble(it, d);
}

/* Null, undefined or missing (a pair holds missing as null) */
static bool
WindowNullish(const bson_iter_t *it)
{
	return BSON_ITER_HOLDS_NULL(it) || BSON_ITER_HOLDS_UNDEFINED(it);
}

/* A bson double */
static Bson *
WindowDouble(double d)
{
	bson_value_t v;

	v.value_type = BSON_TYPE_DOUBLE;
	v.value.v_double = d;
	return BsonFromValue(&v);
}

/*
 * The position of $derivative: the sortBy value as a number, in
 * milliseconds for a date (with a unit only: 5624900 otherwise, 5624901 for
 * a date without one, 5624902 for another type).
 */
static double
WindowDerivativePosition(const bson_iter_t *pos, bool unit)
{
	double		d = 0;

	if (unit)
	{
		if (!BSON_ITER_HOLDS_DATE_TIME(pos))
			MongoRaise(5624900, "$derivative with 'unit' expects the sortBy field to be a Date");
		return (double) bson_iter_date_time(pos);
	}
	if (BSON_ITER_HOLDS_DATE_TIME(pos))
		MongoRaise(5624901, "$derivative where the sortBy is a Date requires an 'unit'");
	if (!WindowNumber(pos, &d))
		MongoRaise(5624902, "$derivative (with no 'unit') expects the sortBy field to be numeric");
	return d;
}

/*
 * nosql.bson_window_derivative(first bson, last bson, unit float8)
 *		RETURNS bson
 *
 * $derivative over a window whose first and last documents' [input,
 * sortBy] pairs are first and last: the rise over the run, per unit
 * milliseconds when unit is not 0; null for an empty window or a run of 0.
 * A null or missing input fails with 5624903.
 */
PG_FUNCTION_INFO_V1(bson_window_derivative);
Datum
bson_window_derivative(PG_FUNCTION_ARGS)
{
	double		unit = PG_GETARG_FLOAT8(2);
	bson_t		h1;
	bson_t		h2;
	bson_iter_t v1;
	bson_iter_t p1;
	bson_iter_t v2;
	bson_iter_t p2;
	double		x1;
	double		x2;
	double		y1 = 0;
	double		y2 = 0;

	if (!WindowPair(fcinfo, 0, &h1, &v1, &p1) || !WindowPair(fcinfo, 1, &h2, &v2, &p2))
		PG_RETURN_NULL();
	x1 = WindowDerivativePosition(&p1, unit > 0);
	x2 = WindowDerivativePosition(&p2, unit > 0);
	if (WindowNullish(&v1) || WindowNullish(&v2))
		MongoRaise(5624903, "$derivative input must not be null or missing");
	if (!WindowNumber(&v2, &y2) || !WindowNumber(&v1, &y1))
		MongoRaise(16556, "cant $subtract a %s from a %s",
				   BsonTypeName(bson_iter_type(&v1)), BsonTypeName(bson_iter_type(&v2)));
	if (x2 - x1 == 0)
		PG_RETURN_NULL();
	PG_RETURN_BSON_P(WindowDouble((y2 - y1) / (x2 - x1) * (unit > 0 ? unit : 1)));
}

/*
 * A document's [input, sortBy] pair for $integral: the position (a date's
 * milliseconds with a unit) and the value (5423900 for an input that is
 * not a number or a sortBy value neither number nor date, 5423901 for a
 * number with a unit, 5423902 for a date without one).
 */
static void
WindowIntegralPoint(const bson_iter_t *v, const bson_iter_t *p, bool unit, double *x,
					double *y)
{
	bool		date = BSON_ITER_HOLDS_DATE_TIME(p);

	if (!WindowNumber(v, y) || (!date && !WindowNumber(p, x)))
		MongoRaise(5423900,
				   "The input value of $integral window function must be a vector of 2 value, the first value must be numeric or date type and the second must be numeric.");
	if (unit && !date)
		MongoRaise(5423901, "$integral with 'unit' expects the sortBy field to be a Date");
	if (!unit && date)
		MongoRaise(5423902, "$integral (with no 'unit') expects the sortBy field to be numeric");
	if (date)
		*x = (double) bson_iter_date_time(p);
}

/*
 * nosql.bson_window_trapezoid(pair bson, previous bson, unit float8)
 *		RETURNS float8
 *
 * The area of the trapezoid between a document's [input, sortBy] pair and
 * the one before it (NULL for the first), with a date sortBy in value
 * times milliseconds.  Every document's pair is checked.
 */
PG_FUNCTION_INFO_V1(bson_window_trapezoid);
Datum
bson_window_trapezoid(PG_FUNCTION_ARGS)
{
	bool		unit = PG_GETARG_FLOAT8(2) > 0;
	bson_t		h1;
	bson_t		h2;
	bson_iter_t v1;
	bson_iter_t p1;
	bson_iter_t v2;
	bson_iter_t p2;
	double		x1 = 0;
	double		x2 = 0;
	double		y1 = 0;
	double		y2 = 0;

	if (!WindowPair(fcinfo, 0, &h2, &v2, &p2))
		PG_RETURN_NULL();
	WindowIntegralPoint(&v2, &p2, unit, &x2, &y2);
	if (!WindowPair(fcinfo, 1, &h1, &v1, &p1))
		PG_RETURN_NULL();
	WindowIntegralPoint(&v1, &p1, unit, &x1, &y1);
	if (isnan(x1) || isnan(x2) || isnan(y1) || isnan(y2))
		PG_RETURN_FLOAT8(0);
	PG_RETURN_FLOAT8((y1 + y2) * (x2 - x1) / 2.0);
}

/*
 * nosql.bson_window_integral(sum float8, first float8, n bigint,
 *		unit float8) RETURNS bson
 *
 * $integral over a window of n documents: the sum of its trapezoids less
 * the first one's (NULL: none), per unit milliseconds when unit is not 0;
 * null for an empty window, the int 0 for one document without a unit.
 */
PG_FUNCTION_INFO_V1(bson_window_integral);
Datum
bson_window_integral(PG_FUNCTION_ARGS)
{
	double		sum = PG_ARGISNULL(0) ? 0 : PG_GETARG_FLOAT8(0);
	double		first = PG_ARGISNULL(1) ? 0 : PG_GETARG_FLOAT8(1);
	double		unit = PG_ARGISNULL(3) ? 0 : PG_GETARG_FLOAT8(3);

	if (PG_ARGISNULL(2) || PG_GETARG_INT64(2) == 0)
		PG_RETURN_NULL();
	if (PG_GETARG_INT64(2) == 1 && unit == 0)
		return DirectFunctionCall1(bson_window_number, Int64GetDatum(0));
	PG_RETURN_BSON_P(WindowDouble((sum - first) / (unit > 0 ? unit : 1)));
}

/*
 * The position of $linearFill: a number, or a date's milliseconds (14
 * otherwise); date says which.
 */
static double
WindowFillPosition(const bson_iter_t *pos, bool *date)
{
	double		d = 0;

	*date = BSON_ITER_HOLDS_DATE_TIME(pos);
	if (*date)
		return (double) bson_iter_date_time(pos);
	if (!WindowNumber(pos, &d))
		MongoRaise(MONGO_TYPE_MISMATCH,
				   "Value of the sortBy field must be numeric or a date, but found %s",
				   BsonTypeName(bson_iter_type(pos)));
	return d;
}

/*
 * nosql.bson_window_linear_fill(pair bson, previous bson, before bson,
 *		after bson) RETURNS bson
 *
 * $linearFill of a document whose [input, sortBy] pair is pair (previous:
 * the document's before it): its value, or for a null one the value on the
 * line between the last non-null pair before it and the first after it
 * (null without both).  Values neither numbers nor nullish and sortBy
 * values neither numbers nor dates (or of another kind than the previous
 * one's) fail with 14, repeated sortBy values with 6050106.
 */
PG_FUNCTION_INFO_V1(bson_window_linear_fill);
Datum
bson_window_linear_fill(PG_FUNCTION_ARGS)
{
	bson_t		h;
	bson_t		hp;
	bson_t		h1;
	bson_t		h2;
	bson_iter_t v;
	bson_iter_t p;
	bson_iter_t pv;
	bson_iter_t pp;
	bson_iter_t v1;
	bson_iter_t p1;
	bson_iter_t v2;
	bson_iter_t p2;
	double		x;
	double		x1;
	double		x2;
	double		y1 = 0;
	double		y2 = 0;
	bool		date;
	bool		pdate;

	if (!WindowPair(fcinfo, 0, &h, &v, &p))
		PG_RETURN_NULL();
	if (!WindowNullish(&v) && !WindowNumber(&v, &y1))
		MongoRaise(MONGO_TYPE_MISMATCH, "Value to be filled must be numeric or nullish, but found %s",
				   BsonTypeName(bson_iter_type(&v)));
	x = WindowFillPosition(&p, &date);
	if (WindowPair(fcinfo, 1, &hp, &pv, &pp))
	{
		if (BsonCompareValues(&p, &pp) == 0)
			MongoRaise(6050106, "There can be no repeated values in the sort field");
		(void) WindowFillPosition(&pp, &pdate);
		if (date != pdate)
			MongoRaise(MONGO_TYPE_MISMATCH,
					   "Conflicting sort value types, previously received type %s, but found %s",
					   BsonTypeName(bson_iter_type(&pp)), BsonTypeName(bson_iter_type(&p)));
	}
	if (!WindowNullish(&v))
		PG_RETURN_BSON_P(BsonFromIter(&v));
	if (!WindowPair(fcinfo, 2, &h1, &v1, &p1) || !WindowPair(fcinfo, 3, &h2, &v2, &p2) ||
		!WindowNumber(&v1, &y1) || !WindowNumber(&v2, &y2))
		PG_RETURN_NULL();
	x1 = WindowFillPosition(&p1, &pdate);
	x2 = WindowFillPosition(&p2, &pdate);
	PG_RETURN_BSON_P(WindowDouble(y1 + (x - x1) * ((y2 - y1) / (x2 - x1))));
}
