/*-------------------------------------------------------------------------
 *
 * agg_group.c
 *	  The $group stage: its key, its accumulators as one PostgreSQL
 *	  aggregate, and the document it outputs per group.
 *
 * Design note
 * -----------
 * A $group becomes a GROUP BY over the query so far (agg_pipeline.c):
 *
 *	SELECT nosql.bson_group_result(g.key, $names,
 *			   ARRAY[nosql.bson_group_accumulate(g.document, $acc1, g.ord), ...])
 *	  FROM (SELECT nosql.bson_group_key(s.document, $key) AS key, s.document,
 *				   row_number() OVER () AS ord
 *			  FROM (...) s) g
 *	 GROUP BY g.key
 *
 * so PostgreSQL's HashAggregate (or a sort and GroupAggregate) does the
 * grouping, and a hash aggregation that outgrows work_mem spills the
 * input rows of the groups that do not fit to disk, as PostgreSQL 15 does
 * for any aggregate.  Only each group's accumulator states are in memory.
 *
 * The key is a bson value, whose btree and hash operator classes are
 * MongoDB's equality (1, 1.0 and NumberLong(1) are one group).  A missing
 * _id is null.  Under a non-simple collation the key has its strings
 * replaced by their collation sort keys, so strings equal under the
 * collation are one group, and the _id output is the first document's
 * own value (a $first of the _id expression).
 *
 * Every accumulator is one aggregate, nosql.bson_group_accumulate(document,
 * spec, ord), whose spec {k: kind, e: expression, c: collation} says what
 * to compute; it is compiled once per query and kept in fn_extra.  The
 * states are plain palloc'd memory in the aggregate context (never a
 * bson_t, whose alignment palloc does not give): counters, sums, one value
 * or a list of values as BSON bytes.
 *
 * Input order: $first, $last, $push, $mergeObjects and $concatArrays
 * depend on the order documents arrive in ($addToSet and $setUnion list
 * their values in it too, so that results are deterministic).  Rather than ordered
 * aggregates (which PostgreSQL 15 cannot hash) the query numbers the
 * input rows in their order (row_number() over the ordered subquery) and
 * the states keep the numbers: $first keeps the value of the lowest,
 * $last of the highest, and the lists are sorted by them at the end.
 * Results then do not depend on the plan (a hash aggregation that
 * spills, an unstable sort before a GroupAggregate, partial aggregates of
 * parallel workers combined in any order).  Without such accumulators
 * the number is the constant 0 and costs nothing.
 *
 * $push, $addToSet, $concatArrays and $setUnion fail with MongoDB's
 * ExceededMemoryLimit (146) when their list passes 100 MiB.
 *
 * IDENTIFICATION
 *	  src/agg_group.c
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
#include "utils/memutils.h"

#include "agg.h"
#include "bson.h"
#include "bson_compare.h"
#include "bson_decimal.h"
#include "collation.h"
#include "documents.h"
#include "expr_internal.h"
#include "nosql.h"
#include "query.h"
#include "sort.h"

/* MongoDB's limit on the memory of one $push or $addToSet */
#define GROUP_MAX_LIST_BYTES	((Size) 100 * 1024 * 1024)

typedef enum GroupAccKind
{
	GROUP_ACC_SUM,
	GROUP_ACC_AVG,
	GROUP_ACC_MIN,
	GROUP_ACC_MAX,
	GROUP_ACC_FIRST,
	GROUP_ACC_LAST,
	GROUP_ACC_PUSH,
	GROUP_ACC_ADD_TO_SET,
	GROUP_ACC_COUNT,
	GROUP_ACC_MERGE_OBJECTS,
	GROUP_ACC_STDDEV_POP,
	GROUP_ACC_STDDEV_SAMP,
	GROUP_ACC_CONCAT_ARRAYS,
	GROUP_ACC_SET_UNION,
	/* window functions only ($setWindowFields, agg_window.c) */
	GROUP_ACC_COVARIANCE_POP,
	GROUP_ACC_COVARIANCE_SAMP,
	GROUP_ACC_LOCF,
	GROUP_ACC_EXP_MOVING_AVG,
	/* the ranked accumulators: a bounded list of entries (GroupRanked*) */
	GROUP_ACC_TOP,
	GROUP_ACC_BOTTOM,
	GROUP_ACC_TOP_N,
	GROUP_ACC_BOTTOM_N,
	GROUP_ACC_FIRST_N,
	GROUP_ACC_LAST_N,
	GROUP_ACC_MAX_N,
	GROUP_ACC_MIN_N,
	GROUP_ACC_MEDIAN,
	GROUP_ACC_PERCENTILE
} GroupAccKind;

#define GROUP_ACC_IS_RANKED(k)	((k) >= GROUP_ACC_TOP)
#define GROUP_ACC_IS_SORTED(k)	((k) >= GROUP_ACC_TOP && (k) <= GROUP_ACC_BOTTOM_N)
#define GROUP_ACC_IS_PERCENTILE(k)	((k) == GROUP_ACC_MEDIAN || (k) == GROUP_ACC_PERCENTILE)

/* $percentile's methods */
#define GROUP_PCT_APPROXIMATE	0
#define GROUP_PCT_DISCRETE		1
#define GROUP_PCT_CONTINUOUS	2

/* The accumulators of $group, by name */
static const struct
{
	const char *name;
	GroupAccKind kind;
	bool		ordered;		/* depends on the input order */
}			group_accumulators[] =
{
	{"$sum", GROUP_ACC_SUM, false},
	{"$avg", GROUP_ACC_AVG, false},
	{"$min", GROUP_ACC_MIN, false},
	{"$max", GROUP_ACC_MAX, false},
	{"$first", GROUP_ACC_FIRST, true},
	{"$last", GROUP_ACC_LAST, true},
	{"$push", GROUP_ACC_PUSH, true},
	{"$addToSet", GROUP_ACC_ADD_TO_SET, true},
	{"$count", GROUP_ACC_COUNT, false},
	{"$mergeObjects", GROUP_ACC_MERGE_OBJECTS, true},
	{"$stdDevPop", GROUP_ACC_STDDEV_POP, false},
	{"$stdDevSamp", GROUP_ACC_STDDEV_SAMP, false},
	{"$concatArrays", GROUP_ACC_CONCAT_ARRAYS, true},
	{"$setUnion", GROUP_ACC_SET_UNION, true},
	{"$top", GROUP_ACC_TOP, true},
	{"$bottom", GROUP_ACC_BOTTOM, true},
	{"$topN", GROUP_ACC_TOP_N, true},
	{"$bottomN", GROUP_ACC_BOTTOM_N, true},
	{"$firstN", GROUP_ACC_FIRST_N, true},
	{"$lastN", GROUP_ACC_LAST_N, true},
	{"$maxN", GROUP_ACC_MAX_N, false},
	{"$minN", GROUP_ACC_MIN_N, false},
	{"$median", GROUP_ACC_MEDIAN, false},
	{"$percentile", GROUP_ACC_PERCENTILE, false},
	{NULL}
};

/* The accumulators MongoDB has that are not implemented here yet */
static const char *const group_later_accumulators[] = {
	"$accumulator", NULL
};

static void GroupAppendConstant(bson_t *out, const char *key, const bson_iter_t *it,
								int code, const char *message);

/* A compiled accumulator or key specification */
typedef struct GroupAcc
{
	GroupAccKind kind;
	AggExprScope *scope;
	AggExpr    *expr;
	BsonCollation *collation;	/* NULL: simple */
	uint8_t    *spec;			/* the specification's bytes */
	uint32_t	spec_len;
	bool		bucket;			/* a $bucket key: spec has b (and d) */
	bool		classic;		/* spec has x: MongoDB's classic engine codes */
	bool		keep_missing;	/* spec has u: a missing key is SQL NULL */
	/* the ranked accumulators */
	int64		n;				/* how many values ($top, $bottom: 1) */
	int			nsort;			/* $top/$bottom...: the sortBy fields */
	char	  **sort_paths;
	bool	   *sort_desc;
	int			npcts;			/* $percentile: p, $median: 0.5 */
	double	   *pcts;
	int			method;			/* GROUP_PCT_* */
	double		alpha;			/* $expMovingAvg's weight (spec a) */
} GroupAcc;

/*
 * The state of an accumulator.  Values are kept as the bytes of the
 * document {"": value}; lists as entries [int64 ord][uint32 len][bytes].
 */
typedef struct GroupAccState
{
	const GroupAcc *acc;
	int64		count;
	AggSumState sum;
	AggStdDevState stddev;
	double		cov_mean_x;		/* $covariancePop/Samp: means and co-moment */
	double		cov_mean_y;
	double		cov_c;
	double		ema;			/* $expMovingAvg: the average so far */
	bool		have;			/* val holds a value */
	int64		ord;			/* its input number */
	uint8_t    *val;
	uint32_t	val_len;
	char	   *list;			/* the entries of a list */
	Size		list_len;
	Size		list_cap;
	int64		nitems;
	int64		last_ord;
	bool		unsorted;		/* entries arrived out of order */
	uint32_t   *slots;			/* $addToSet/$setUnion: offset + 1 by hash */
	uint32_t	nslots;
} GroupAccState;

/* A reference to a list entry: its input number and offset */
typedef struct GroupEntryRef
{
	int64		ord;
	Size		pos;
} GroupEntryRef;

/* ---- specifications ---- */

/*
 * Raise an expression error.  MongoDB runs $group in its slot-based engine,
 * whose division and modulo by zero have codes of their own.
 */
static void
GroupRaise(const BsonQueryError *error)
{
	int			code = error->code;
	const char *message = error->message ? error->message : "invalid expression";

	if (code == AGG_ERR_BAD_VALUE && strncmp(message, "can't $divide by zero", 21) == 0)
		code = 4848401;
	else if (code == 16610)
		code = 4848403;
	MongoRaise(code, "%s", message);
}

/* Reject inclusion-style fields in an _id object (17390) */
static void
GroupCheckIdObject(const bson_iter_t *id)
{
	bson_iter_t it;

	if (!BSON_ITER_HOLDS_DOCUMENT(id))
		return;
	bson_iter_recurse(id, &it);
	if (bson_iter_next(&it) && bson_iter_key(&it)[0] == '$')
		return;					/* an operator */
	bson_iter_recurse(id, &it);
	while (bson_iter_next(&it))
		if (BsonIterIsNumber(&it) || BSON_ITER_HOLDS_BOOL(&it))
			MongoRaise(17390, "$group does not support inclusion-style expressions");
}

/* A groupBy of $bucket or $bucketAuto: a $-path or an operator object */
static bool
GroupIsExpression(const bson_iter_t *it)
{
	bson_iter_t first;

	if (BSON_ITER_HOLDS_UTF8(it))
		return bson_iter_utf8(it, NULL)[0] == '$';
	return BSON_ITER_HOLDS_DOCUMENT(it) && bson_iter_recurse(it, &first) &&
		bson_iter_next(&first) && bson_iter_key(&first)[0] == '$';
}

/* Parse an expression to raise its errors now */
static void
GroupCheckExpression(const bson_iter_t *it)
{
	AggExprScope *scope = AggExprScopeNew();
	BsonQueryError error = {0};

	if (AggExprParse(it, scope, &error) == NULL)
		GroupRaise(&error);
	AggExprScopeFree(scope);
}

/* Append the command's collation to a specification */
static void
GroupAppendCollation(bson_t *spec, const uint8_t *collation, uint32_t collation_len)
{
	bson_t		c;

	if (collation == NULL)
		return;
	bson_init_static(&c, collation, collation_len);
	bson_append_document(spec, "c", 1, &c);
}

/* An accumulator specification {k, e, c} as a bson datum */
static Bson *
GroupAccSpec(GroupAccKind kind, const bson_iter_t *expr, const uint8_t *collation,
			 uint32_t collation_len)
{
	bson_t		spec;
	Bson	   *result;

	bson_init(&spec);
	bson_append_int32(&spec, "k", 1, (int32_t) kind);
	bson_append_iter(&spec, "e", 1, expr);
	GroupAppendCollation(&spec, collation, collation_len);
	result = BsonDatumFromBson(&spec);
	bson_destroy(&spec);
	return result;
}

/*
 * The specification of a ranked accumulator ($topN, $firstN, $percentile,
 * ...), whose argument is an object of named fields, checked as MongoDB
 * does: {k, e: input or output, n, s: sortBy, p, m: method, c}.
 */
static Bson *
GroupRankedSpec(GroupAccKind kind, const char *op, const bson_iter_t *arg,
				const uint8_t *collation, uint32_t collation_len)
{
	bool		sorted = GROUP_ACC_IS_SORTED(kind);
	bool		pct = GROUP_ACC_IS_PERCENTILE(kind);
	bool		takes_n = !pct && kind != GROUP_ACC_TOP && kind != GROUP_ACC_BOTTOM;
	const char *input_name = sorted ? "output" : "input";
	bson_iter_t it;
	bson_iter_t input;
	bson_iter_t nval;
	bson_iter_t sort_by;
	bson_iter_t pval;
	bool		have_input = false;
	bool		have_n = false;
	bool		have_sort = false;
	bool		have_p = false;
	int			method = -1;
	bson_t		spec;
	Bson	   *result;

	if (!BSON_ITER_HOLDS_DOCUMENT(arg))
	{
		if (pct)
			MongoRaise(AGG_ERR_TYPE_MISMATCH, "specification of %s must be an object, found %s",
					   op, BsonTypeName(bson_iter_type(arg)));
		MongoRaise(sorted ? 5788001 : 5787900, "specification of %s must be an object, found %s",
				   op, BsonTypeName(bson_iter_type(arg)));
	}
	bson_iter_recurse(arg, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, input_name) == 0)
		{
			input = it;
			have_input = true;
		}
		else if (takes_n && strcmp(key, "n") == 0)
		{
			nval = it;
			have_n = true;
		}
		else if (sorted && strcmp(key, "sortBy") == 0)
		{
			sort_by = it;
			have_sort = true;
		}
		else if (kind == GROUP_ACC_PERCENTILE && strcmp(key, "p") == 0)
		{
			pval = it;
			have_p = true;
		}
		else if (pct && strcmp(key, "method") == 0)
		{
			const char *m;

			if (!BSON_ITER_HOLDS_UTF8(&it))
				MongoRaise(AGG_ERR_TYPE_MISMATCH,
						   "BSON field '%s.method' is the wrong type '%s', expected type 'string'",
						   op, BsonTypeName(bson_iter_type(&it)));
			m = bson_iter_utf8(&it, NULL);
			if (strcmp(m, "approximate") == 0)
				method = GROUP_PCT_APPROXIMATE;
			else if (strcmp(m, "discrete") == 0)
				method = GROUP_PCT_DISCRETE;
			else if (strcmp(m, "continuous") == 0)
				method = GROUP_PCT_CONTINUOUS;
			else
				MongoRaise(AGG_ERR_BAD_VALUE,
						   "Enumeration value '%s' for field '%s.method' is not a valid value.",
						   m, op);
		}
		else if (pct)
			MongoRaise(40415, "BSON field '%s.%s' is an unknown field.", op, key);
		else
			MongoRaise(sorted ? 5788002 : 5787901, "Unknown argument for '%s' to %s", key, op);
	}
	if (pct)
	{
		if (!have_input)
			MongoRaise(40414, "BSON field '%s.input' is missing but a required field", op);
		if (kind == GROUP_ACC_PERCENTILE && !have_p)
			MongoRaise(40414, "BSON field '%s.p' is missing but a required field", op);
		if (method < 0)
			MongoRaise(40414, "BSON field '%s.method' is missing but a required field", op);
	}
	else
	{
		if (takes_n && !have_n)
			MongoRaise(sorted ? 5788003 : 5787906, "Missing value for 'n'");
		if (!have_input)
			MongoRaise(sorted ? 5788004 : 5787907, "Missing value for '%s'", input_name);
		if (sorted && !have_sort)
			MongoRaise(5788005, "Missing value for 'sortBy'");
	}

	bson_init(&spec);
	bson_append_int32(&spec, "k", 1, (int32_t) kind);
	GroupCheckExpression(&input);
	bson_append_iter(&spec, "e", 1, &input);
	if (have_n)
	{
		bson_t		holder;
		bson_iter_t v;
		int64		count = 0;

		bson_init(&holder);
		GroupAppendConstant(&holder, "n", &nval, MONGO_NOT_IMPLEMENTED,
							"an 'n' that depends on the documents is not supported yet");
		bson_iter_init_find(&v, &holder, "n");
		if (!BsonIterIsNumber(&v) || !BsonIterAsInt64(&v, &count) ||
			(BSON_ITER_HOLDS_DOUBLE(&v) && bson_iter_double(&v) != (double) count) ||
			count <= 0)
			MongoRaise(7548606, "Value for 'n' must be a positive integral number, found: %s",
					   BsonTypeName(bson_iter_type(&v)));
		bson_append_int64(&spec, "n", 1, count);
		bson_destroy(&holder);
	}
	if (have_sort)
	{
		const uint8_t *data;
		uint32_t	len;
		BsonQueryError error = {0};

		if (!BSON_ITER_HOLDS_DOCUMENT(&sort_by))
			MongoRaise(5788005, "expected 'sortBy' to be an object, found %s",
					   BsonTypeName(bson_iter_type(&sort_by)));
		bson_iter_document(&sort_by, &len, &data);
		if (BsonSortCompile(data, len, &error) == NULL)
			MongoRaise(error.code, "%s", error.message);
		bson_append_iter(&spec, "s", 1, &sort_by);
	}
	if (pct)
	{
		bson_t		ps;
		int			np = 0;

		bson_append_array_begin(&spec, "p", 1, &ps);
		if (kind == GROUP_ACC_MEDIAN)
			bson_append_double(&ps, "0", 1, 0.5);
		else
		{
			bson_iter_t e;

			if (!BSON_ITER_HOLDS_ARRAY(&pval))
				MongoRaise(7750301, "The 'p' field for %s must be an array of numeric values, found %s",
						   op, BsonTypeName(bson_iter_type(&pval)));
			bson_iter_recurse(&pval, &e);
			while (bson_iter_next(&e))
			{
				double		d = 0;
				char		k[16];
				const char *kp;

				if (!BsonIterIsNumber(&e) || !BsonIterAsDouble(&e, &d))
					MongoRaise(7750302, "The 'p' field for %s must be an array of numeric values, found %s",
							   op, BsonTypeName(bson_iter_type(&e)));
				if (!(d >= 0 && d <= 1))
					MongoRaise(7750303, "The 'p' field for %s must contain values between 0.0 and 1.0, found %g",
							   op, d);
				bson_uint32_to_string(np++, &kp, k, sizeof(k));
				bson_append_double(&ps, kp, -1, d);
			}
			if (np == 0)
				MongoRaise(7750301, "The 'p' field for %s must be a non-empty array", op);
		}
		bson_append_array_end(&spec, &ps);
		bson_append_int32(&spec, "m", 1, method);
	}
	GroupAppendCollation(&spec, collation, collation_len);
	result = BsonDatumFromBson(&spec);
	bson_destroy(&spec);
	return result;
}

/*
 * The specification nosql.bson_group_accumulate takes for the accumulator
 * op of a window function ($setWindowFields, agg_window.c), its argument
 * checked; NULL when op is not a $group accumulator windows accept.
 */
Bson *
AggGroupWindowAccumulator(const char *op, const bson_iter_t *arg, const uint8_t *collation,
						  uint32_t collation_len)
{
	static const char *const window_ops[] = {
		"$sum", "$avg", "$min", "$max", "$first", "$last", "$push", "$addToSet",
		"$stdDevPop", "$stdDevSamp", NULL
	};

	for (int i = 0; window_ops[i] != NULL; i++)
	{
		if (strcmp(window_ops[i], op) != 0)
			continue;
		for (int j = 0; group_accumulators[j].name != NULL; j++)
			if (strcmp(group_accumulators[j].name, op) == 0)
			{
				GroupCheckExpression(arg);
				return GroupAccSpec(group_accumulators[j].kind, arg, collation, collation_len);
			}
	}
	if (strcmp(op, "$covariancePop") == 0 || strcmp(op, "$covarianceSamp") == 0)
	{
		GroupCheckExpression(arg);
		return GroupAccSpec(op[11] == 'P' ? GROUP_ACC_COVARIANCE_POP : GROUP_ACC_COVARIANCE_SAMP,
							arg, collation, collation_len);
	}
	if (strcmp(op, "$locf") == 0)
	{
		GroupCheckExpression(arg);
		return GroupAccSpec(GROUP_ACC_LOCF, arg, collation, collation_len);
	}
	if (strcmp(op, "$count") == 0)
	{
		bson_t		one;
		bson_iter_t one_it;
		Bson	   *spec;

		/* $count is $sum: 1 */
		bson_init(&one);
		bson_append_int32(&one, "", 0, 1);
		bson_iter_init(&one_it, &one);
		bson_iter_next(&one_it);
		spec = GroupAccSpec(GROUP_ACC_SUM, &one_it, NULL, 0);
		bson_destroy(&one);
		return spec;
	}
	/* $topN, $firstN, $median, ...: in input (frame) order, ord 0 */
	for (int j = 0; group_accumulators[j].name != NULL; j++)
		if (strcmp(group_accumulators[j].name, op) == 0 &&
			GROUP_ACC_IS_RANKED(group_accumulators[j].kind))
			return GroupRankedSpec(group_accumulators[j].kind, op, arg, collation, collation_len);
	return NULL;
}

/* $expMovingAvg's specification: the input expression and its weight */
Bson *
AggGroupWindowExpMovingAvg(const bson_iter_t *input, double alpha)
{
	bson_t		spec;
	Bson	   *result;

	GroupCheckExpression(input);
	bson_init(&spec);
	bson_append_int32(&spec, "k", 1, (int32_t) GROUP_ACC_EXP_MOVING_AVG);
	bson_append_iter(&spec, "e", 1, input);
	bson_append_double(&spec, "a", 1, alpha);
	result = BsonDatumFromBson(&spec);
	bson_destroy(&spec);
	return result;
}

/*
 * The specification {e, c} nosql.bson_group_key takes to evaluate an
 * expression (checked now) on each document; collation may be NULL.
 */
Bson *
AggGroupExpressionSpec(const bson_iter_t *expr, const uint8_t *collation,
					   uint32_t collation_len)
{
	bson_t		keyspec;
	Bson	   *result;

	GroupCheckExpression(expr);
	bson_init(&keyspec);
	bson_append_iter(&keyspec, "e", 1, expr);
	GroupAppendCollation(&keyspec, collation, collation_len);
	result = BsonDatumFromBson(&keyspec);
	bson_destroy(&keyspec);
	return result;
}

/*
 * Check a $group specification as MongoDB does and describe its SQL: the
 * key's specification, the output field names (a bson array) and each
 * field's accumulator specification.  collation is the command's
 * non-simple collation or NULL.
 */
void
AggGroupDescribe(const bson_iter_t *spec, const uint8_t *collation, uint32_t collation_len,
				 AggGroupSpec *out)
{
	bson_iter_t it;
	bool		have_id = false;
	bson_t		names;
	int			max;
	int			n = 0;

	memset(out, 0, sizeof(*out));
	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(15947, "a group's fields must be specified in an object");
	max = 0;
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
		max++;
	out->accs = palloc0(sizeof(Bson *) * (max + 1));
	bson_init(&names);
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		const char *name = bson_iter_key(&it);
		bson_iter_t acc;
		bson_iter_t arg;
		const char *op;
		int			kind = -1;
		char		key[16];
		const char *keyp;

		if (strcmp(name, "_id") == 0)
		{
			bson_t		keyspec;

			if (have_id)
				MongoRaise(16406, "duplicate field name specified in object literal: _id");
			have_id = true;
			GroupCheckIdObject(&it);
			GroupCheckExpression(&it);
			bson_init(&keyspec);
			bson_append_iter(&keyspec, "e", 1, &it);
			GroupAppendCollation(&keyspec, collation, collation_len);
			out->key = BsonDatumFromBson(&keyspec);
			bson_destroy(&keyspec);
			if (collation != NULL)
			{
				out->id_first = GroupAccSpec(GROUP_ACC_FIRST, &it, collation, collation_len);
				out->need_ord = true;
			}
			continue;
		}
		if (name[0] == '$')
			MongoRaise(40236, "The field name '%s' cannot be an operator name", name);
		if (strchr(name, '.') != NULL)
			MongoRaise(40235, "The field name '%s' cannot contain '.'", name);
		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			MongoRaise(40234, "The field '%s' must be an accumulator object", name);
		bson_iter_recurse(&it, &acc);
		if (!bson_iter_next(&acc))
			MongoRaise(40238, "The field '%s' must specify one accumulator", name);
		op = bson_iter_key(&acc);
		arg = acc;
		if (op[0] != '$')
			MongoRaise(40234, "The field '%s' must be an accumulator object", name);
		if (bson_iter_next(&acc))
			MongoRaise(40238, "The field '%s' must specify one accumulator", name);
		for (int i = 0; group_accumulators[i].name != NULL; i++)
			if (strcmp(group_accumulators[i].name, op) == 0)
			{
				kind = group_accumulators[i].kind;
				if (group_accumulators[i].ordered)
					out->need_ord = true;
			}
		if (kind < 0)
		{
			for (int i = 0; group_later_accumulators[i] != NULL; i++)
				if (strcmp(group_later_accumulators[i], op) == 0)
					MongoRaise(MONGO_NOT_IMPLEMENTED,
							   "the %s accumulator is not supported yet", op);
			MongoRaise(15952, "unknown group operator '%s'", op);
		}
		if (GROUP_ACC_IS_RANKED(kind))
			out->accs[n] = GroupRankedSpec((GroupAccKind) kind, op, &arg, collation, collation_len);
		else if (BSON_ITER_HOLDS_ARRAY(&arg))
			MongoRaise(40237, "The %s accumulator is a unary operator", op);
		else if (kind == GROUP_ACC_COUNT)
		{
			bson_iter_t empty;
			bson_t		one;
			bson_iter_t one_it;

			if (!BSON_ITER_HOLDS_DOCUMENT(&arg))
				MongoRaise(AGG_ERR_TYPE_MISMATCH, "$count takes no arguments, i.e. $count:{}");
			bson_iter_recurse(&arg, &empty);
			if (bson_iter_next(&empty))
				MongoRaise(AGG_ERR_BAD_VALUE, "$count takes no arguments, i.e. $count:{}");
			/* $count is $sum: 1 */
			bson_init(&one);
			bson_append_int32(&one, "", 0, 1);
			bson_iter_init(&one_it, &one);
			bson_iter_next(&one_it);
			out->accs[n] = GroupAccSpec(GROUP_ACC_SUM, &one_it, NULL, 0);
			bson_destroy(&one);
		}
		else
		{
			GroupCheckExpression(&arg);
			out->accs[n] = GroupAccSpec(kind, &arg, collation, collation_len);
		}
		bson_uint32_to_string(n, &keyp, key, sizeof(key));
		bson_append_utf8(&names, keyp, -1, name, -1);
		n++;
	}
	if (!have_id)
		MongoRaise(15955, "a group specification must include an _id");
	{
		/* duplicate output fields */
		bson_iter_t a;

		bson_iter_init(&a, &names);
		while (bson_iter_next(&a))
		{
			bson_iter_t b = a;

			while (bson_iter_next(&b))
				if (strcmp(bson_iter_utf8(&a, NULL), bson_iter_utf8(&b, NULL)) == 0)
					MongoRaise(16406, "duplicate field name specified in object literal: %s",
							   bson_iter_utf8(&a, NULL));
		}
	}
	{
		bson_t		wrap;

		bson_init(&wrap);
		bson_append_array(&wrap, "f", 1, &names);
		out->names = BsonDatumFromBson(&wrap);
		bson_destroy(&wrap);
	}
	bson_destroy(&names);
	out->naccs = n;
}

/* ---- $bucket ---- */

/*
 * A constant of $bucket's boundaries or default: a literal, or an
 * expression object that needs no document (else code).  Appended to out
 * under key.
 */
static void
GroupAppendConstant(bson_t *out, const char *key, const bson_iter_t *it, int code,
					const char *message)
{
	bson_iter_t first;
	AggExprScope *scope;
	AggExpr    *expr;
	BsonQueryError error = {0};
	AggExprContext cx = {0};
	AggArena	arena = {NULL};
	bson_value_t v;

	if (!(BSON_ITER_HOLDS_UTF8(it) && bson_iter_utf8(it, NULL)[0] == '$') &&
		(!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &first) ||
		 !bson_iter_next(&first) || bson_iter_key(&first)[0] != '$'))
	{
		bson_append_iter(out, key, -1, it);
		return;
	}
	scope = AggExprScopeNew();
	expr = AggExprParse(it, scope, &error);
	if (expr == NULL)
		GroupRaise(&error);
	if (!AggExprIsConstant(expr))
		MongoRaise(code, "%s", message);
	cx.arena = &arena;
	if (!AggExprEval(expr, &cx, &v, &error))
		GroupRaise(&error);
	if (v.value_type == BSON_TYPE_EOD)
		MongoRaise(code, "%s", message);
	bson_append_value(out, key, -1, &v);
	AggArenaReset(&arena);
	AggExprScopeFree(scope);
}

/* The output of $bucket and $bucketAuto without one: {count: {$sum: 1}} */
static void
GroupAppendCount(bson_t *group)
{
	bson_t		count;

	bson_append_document_begin(group, "count", 5, &count);
	bson_append_int32(&count, "$sum", 4, 1);
	bson_append_document_end(group, &count);
}

/*
 * Check a $bucket specification as MongoDB does and describe it as the
 * $group it is: the key is the lower boundary of the bucket the groupBy
 * value falls in (or the default), the fields are the output
 * accumulators ({count: {$sum: 1}} when there is no output).  The caller
 * sorts the groups by _id.
 */
void
AggBucketDescribe(const bson_iter_t *spec, const uint8_t *collation, uint32_t collation_len,
				  AggGroupSpec *out)
{
	bson_iter_t it;
	bson_iter_t group_by;
	bson_iter_t output;
	bool		have_group_by = false;
	bool		have_boundaries = false;
	bool		have_output = false;
	bool		have_default = false;
	bson_t		bounds;
	bson_t		deflt;
	bson_t		group;
	bson_t		keyspec;
	bson_iter_t git;
	int			nbounds = 0;
	Bson	   *group_datum;
	const BsonCollation *compiled = collation != NULL ?
		CompileCollation(collation, collation_len) : NULL;

	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(40201, "Argument to $bucket stage must be an object, but found type: %s.",
				   BsonTypeName(bson_iter_type(spec)));
	bson_init(&bounds);
	bson_init(&deflt);
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "groupBy") == 0)
		{
			if (!GroupIsExpression(&it))
				MongoRaise(40202, "The $bucket 'groupBy' field must be defined as a $-prefixed path or an expression, but found: %s.",
						   BsonTypeName(bson_iter_type(&it)));
			GroupCheckExpression(&it);
			group_by = it;
			have_group_by = true;
		}
		else if (strcmp(key, "boundaries") == 0)
		{
			bson_iter_t b;
			bson_iter_t prev;
			bson_iter_t cur;
			char		k[16];
			const char *kp;

			if (!BSON_ITER_HOLDS_ARRAY(&it))
				MongoRaise(40200, "The $bucket 'boundaries' field must be an array, but found type: %s.",
						   BsonTypeName(bson_iter_type(&it)));
			bson_reinit(&bounds);
			nbounds = 0;
			bson_iter_recurse(&it, &b);
			while (bson_iter_next(&b))
			{
				bson_uint32_to_string(nbounds++, &kp, k, sizeof(k));
				GroupAppendConstant(&bounds, kp, &b, 40191,
									"The $bucket 'boundaries' field must be an array of constant values");
			}
			if (nbounds < 2)
				MongoRaise(40192, "The $bucket 'boundaries' field must have at least 2 values, but found %d value(s).",
						   nbounds);
			bson_iter_init(&prev, &bounds);
			bson_iter_next(&prev);
			cur = prev;
			while (bson_iter_next(&cur))
			{
				if (BsonCanonicalTypeOrder(bson_iter_type(&prev)) !=
					BsonCanonicalTypeOrder(bson_iter_type(&cur)))
					MongoRaise(40193, "All values in the the 'boundaries' option to $bucket must have the same type. Found conflicting types %s and %s.",
							   BsonTypeName(bson_iter_type(&prev)),
							   BsonTypeName(bson_iter_type(&cur)));
				if (BsonCompareValuesCollated(&prev, &cur, compiled) >= 0)
					MongoRaise(40194, "The 'boundaries' option to $bucket must be sorted in ascending order");
				prev = cur;
			}
			have_boundaries = true;
		}
		else if (strcmp(key, "default") == 0)
		{
			bson_reinit(&deflt);
			GroupAppendConstant(&deflt, "d", &it, 40195,
								"The $bucket 'default' field must be a constant expression");
			have_default = true;
		}
		else if (strcmp(key, "output") == 0)
		{
			if (!BSON_ITER_HOLDS_DOCUMENT(&it))
				MongoRaise(40196, "The $bucket 'output' field must be an object, but found type: %s.",
						   BsonTypeName(bson_iter_type(&it)));
			output = it;
			have_output = true;
		}
		else
			MongoRaise(40197, "Unrecognized option to $bucket: %s.", key);
	}
	if (!have_group_by || !have_boundaries)
		MongoRaise(40198, "$bucket requires 'groupBy' and 'boundaries' to be specified.");
	if (have_default)
	{
		bson_iter_t d;
		bson_iter_t lo;
		bson_iter_t hi;

		bson_iter_init_find(&d, &deflt, "d");
		bson_iter_init(&lo, &bounds);
		bson_iter_next(&lo);
		bson_iter_init(&it, &bounds);
		while (bson_iter_next(&it))
			hi = it;
		if (BsonCanonicalTypeOrder(bson_iter_type(&d)) ==
			BsonCanonicalTypeOrder(bson_iter_type(&lo)) &&
			BsonCompareValuesCollated(&d, &lo, compiled) >= 0 &&
			BsonCompareValuesCollated(&d, &hi, compiled) < 0)
			MongoRaise(40199, "The $bucket 'default' field must be less than the lowest boundary or greater than or equal to the highest boundary.");
	}

	/* the $group: {_id: groupBy, ...output} */
	bson_init(&group);
	{
		bson_t		g;

		bson_append_document_begin(&group, "g", 1, &g);
		bson_append_iter(&g, "_id", 3, &group_by);
		if (have_output)
		{
			bson_iter_t f;

			bson_iter_recurse(&output, &f);
			while (bson_iter_next(&f))
			{
				if (strcmp(bson_iter_key(&f), "_id") == 0)
					MongoRaise(15948, "a group's _id may only be specified once");
				bson_append_iter(&g, bson_iter_key(&f), -1, &f);
			}
		}
		else
			GroupAppendCount(&g);
		bson_append_document_end(&group, &g);
	}
	/* the group's specification lives in a datum that outlives this call */
	group_datum = BsonDatumFromBson(&group);
	bson_destroy(&group);
	{
		bson_t		c;

		bson_init_static(&c, BsonBytes(group_datum), BsonDocLen(group_datum));
		bson_iter_init_find(&git, &c, "g");
		AggGroupDescribe(&git, collation, collation_len, out);
		/* the key: {e: groupBy, b: boundaries, d: default, c: collation} */
		bson_iter_init_find(&git, &c, "g");
		bson_iter_recurse(&git, &git);
		bson_iter_find(&git, "_id");
		bson_init(&keyspec);
		bson_append_iter(&keyspec, "e", 1, &git);
		bson_append_array(&keyspec, "b", 1, &bounds);
		if (have_default)
		{
			bson_iter_t d;

			bson_iter_init_find(&d, &deflt, "d");
			bson_append_iter(&keyspec, "d", 1, &d);
		}
		GroupAppendCollation(&keyspec, collation, collation_len);
		out->key = BsonDatumFromBson(&keyspec);
		bson_destroy(&keyspec);
	}
	/* the key is the boundary itself, not the groupBy value's $first */
	out->id_first = NULL;
	bson_destroy(&bounds);
	bson_destroy(&deflt);
}

/*
 * The key of a document under $bucket: the lower boundary of the bucket
 * its groupBy value v falls in, else the default (else MongoDB's $switch
 * error, as $bucket is a $switch over the boundaries there).
 */
static Bson *
GroupBucketKey(const GroupAcc *acc, const bson_value_t *v)
{
	bson_t		spec;
	bson_iter_t it;
	bson_iter_t b;
	bson_iter_t lower;
	bool		have_lower = false;

	bson_init_static(&spec, acc->spec, acc->spec_len);
	if (v->value_type != BSON_TYPE_EOD && bson_iter_init_find(&it, &spec, "b") &&
		bson_iter_recurse(&it, &b))
	{
		while (bson_iter_next(&b))
		{
			const bson_value_t *bv = bson_iter_value(&b);

			if (AggValueCompare(v, bv, acc->collation) < 0)
			{
				if (have_lower)
					return BsonFromIter(&lower);
				break;
			}
			lower = b;
			have_lower = true;
		}
	}
	if (bson_iter_init_find(&it, &spec, "d"))
	{
		bson_type_t t = bson_iter_type(&it);

		if (t == BSON_TYPE_MINKEY || t == BSON_TYPE_MAXKEY)
		{
			/* MongoDB outputs these defaults as the document {"": value} */
			bson_t		wrap;
			Bson	   *result;

			bson_init(&wrap);
			bson_append_iter(&wrap, "", 0, &it);
			result = BsonDatumFromBson(&wrap);
			bson_destroy(&wrap);
			return result;
		}
		return BsonFromIter(&it);
	}
	MongoRaise(40066, "$switch could not find a matching branch for an input, and no default was specified.");
}

/* Compile a key or accumulator specification in the current context */
static GroupAcc *
GroupAccCompile(const uint8_t *data, uint32_t len)
{
	GroupAcc   *acc = palloc0(sizeof(GroupAcc));
	bson_iter_t it;
	BsonQueryError error = {0};

	acc->spec = palloc(len);
	memcpy(acc->spec, data, len);
	acc->spec_len = len;
	if (!bson_iter_init_from_data(&it, acc->spec, len))
		elog(ERROR, "invalid $group specification");
	acc->scope = AggExprScopeNew();
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "k") == 0)
			acc->kind = (GroupAccKind) bson_iter_int32(&it);
		else if (strcmp(key, "e") == 0)
		{
			acc->expr = AggExprParse(&it, acc->scope, &error);
			if (acc->expr == NULL)
				GroupRaise(&error);
		}
		else if (strcmp(key, "c") == 0)
		{
			const uint8_t *c;
			uint32_t	clen;

			bson_iter_document(&it, &clen, &c);
			acc->collation = CompileCollation(c, clen);
		}
		else if (strcmp(key, "b") == 0)
			acc->bucket = true;
		else if (strcmp(key, "x") == 0)
			acc->classic = true;
		else if (strcmp(key, "u") == 0)
			acc->keep_missing = true;
		else if (strcmp(key, "a") == 0)
			acc->alpha = bson_iter_double(&it);
		else if (strcmp(key, "n") == 0)
			acc->n = bson_iter_int64(&it);
		else if (strcmp(key, "m") == 0)
			acc->method = bson_iter_int32(&it);
		else if (strcmp(key, "s") == 0)
		{
			bson_iter_t f;
			int			i = 0;

			bson_iter_recurse(&it, &f);
			while (bson_iter_next(&f))
				acc->nsort++;
			acc->sort_paths = palloc(sizeof(char *) * Max(acc->nsort, 1));
			acc->sort_desc = palloc(sizeof(bool) * Max(acc->nsort, 1));
			bson_iter_recurse(&it, &f);
			while (bson_iter_next(&f))
			{
				double		d = 1;

				acc->sort_paths[i] = pstrdup(bson_iter_key(&f));
				(void) BsonIterAsDouble(&f, &d);
				acc->sort_desc[i++] = d < 0;
			}
		}
		else if (strcmp(key, "p") == 0)
		{
			bson_iter_t e;
			int			i = 0;

			bson_iter_recurse(&it, &e);
			while (bson_iter_next(&e))
				acc->npcts++;
			acc->pcts = palloc(sizeof(double) * Max(acc->npcts, 1));
			bson_iter_recurse(&it, &e);
			while (bson_iter_next(&e))
				acc->pcts[i++] = bson_iter_double(&e);
		}
	}
	if (acc->kind == GROUP_ACC_TOP || acc->kind == GROUP_ACC_BOTTOM)
		acc->n = 1;
	if (acc->expr == NULL)
		elog(ERROR, "$group specification without an expression");
	return acc;
}

/* The compiled specification of a call, cached in fn_extra */
static GroupAcc *
GroupAccCached(FunctionCallInfo fcinfo, const Bson *spec)
{
	GroupAcc   *acc = fcinfo->flinfo->fn_extra;
	uint32_t	len = BsonDocLen(spec);

	if (acc == NULL || acc->spec_len != len || memcmp(acc->spec, BsonBytes(spec), len) != 0)
	{
		MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);

		acc = GroupAccCompile(BsonBytes(spec), len);
		fcinfo->flinfo->fn_extra = acc;
		MemoryContextSwitchTo(old);
	}
	return acc;
}

/* Evaluate a compiled expression on a document; false: missing */
static void
GroupEval(const GroupAcc *acc, const Bson *doc, AggArena *arena, bson_value_t *out)
{
	AggExprContext cx = {0};
	BsonQueryError error = {0};
	int			nslots = AggExprScopeSlots(acc->scope);

	cx.root = BsonBytes(doc);
	cx.root_len = BsonDocLen(doc);
	cx.arena = arena;
	cx.collation = acc->collation;
	cx.nslots = nslots;
	cx.slots = nslots > 0 ? AggArenaAlloc(arena, sizeof(bson_value_t) * nslots) : NULL;
	if (!AggExprEval(acc->expr, &cx, out, &error))
	{
		/* stages MongoDB runs in its classic engine keep the codes of expressions */
		if (acc->classic)
			MongoRaise(error.code, "%s", error.message ? error.message : "invalid expression");
		GroupRaise(&error);
	}
}

/* ---- the key ---- */

/*
 * nosql.bson_group_key(document bson, spec bson) RETURNS bson
 *
 * The group key of a document: the value of the _id expression (null when
 * missing), its strings replaced by their sort keys under a collation.
 */
PG_FUNCTION_INFO_V1(bson_group_key);
Datum
bson_group_key(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	GroupAcc   *acc = GroupAccCached(fcinfo, PG_GETARG_BSON_P(1));
	AggArena	arena = {NULL};
	bson_value_t v;
	bson_t		holder;
	bson_iter_t it;
	Bson	   *result;

	if (!acc->bucket && !acc->keep_missing && acc->collation == NULL &&
		acc->expr->kind == AGG_EXPR_FIELD &&
		(acc->expr->var == AGG_VAR_ROOT || acc->expr->var == AGG_VAR_CURRENT) &&
		acc->expr->npath == 1 && !BsonIsScalar(doc))
	{
		/* a top-level field ("$a"): its value as it is, null when missing */
		bson_t		d;

		if (bson_init_static(&d, BsonBytes(doc), BsonDocLen(doc)) &&
			bson_iter_init_find_w_len(&it, &d, acc->expr->path[0], -1) &&
			!BSON_ITER_HOLDS_NULL(&it) && !BSON_ITER_HOLDS_UNDEFINED(&it))
			PG_RETURN_BSON_P(BsonFromIter(&it));
		bson_init(&holder);
		bson_append_null(&holder, "", 0);
		bson_iter_init(&it, &holder);
		bson_iter_next(&it);
		result = BsonFromIter(&it);
		bson_destroy(&holder);
		PG_RETURN_BSON_P(result);
	}
	GroupEval(acc, doc, &arena, &v);
	if (acc->bucket)
	{
		result = GroupBucketKey(acc, &v);
		AggArenaReset(&arena);
		PG_RETURN_BSON_P(result);
	}
	if (acc->keep_missing && v.value_type == BSON_TYPE_EOD)
	{
		/* $graphLookup's startWith: missing starts nowhere */
		AggArenaReset(&arena);
		PG_RETURN_NULL();
	}
	bson_init(&holder);
	if (AggValueNullish(&v))
		bson_append_null(&holder, "", 0);
	else if (acc->collation != NULL)
	{
		bson_t		value_holder;
		bson_iter_t vi;

		AggValueIter(&v, &value_holder, &vi);
		BsonCollationAppendKeyed(acc->collation, &holder, "", 0, &vi);
		bson_destroy(&value_holder);
	}
	else
		bson_append_value(&holder, "", 0, &v);
	bson_iter_init(&it, &holder);
	bson_iter_next(&it);
	result = BsonFromIter(&it);
	bson_destroy(&holder);
	AggArenaReset(&arena);
	PG_RETURN_BSON_P(result);
}

/* ---- accumulator states ---- */

/* The bytes of {"": v} in memory of the context */
static uint8_t *
GroupValueBytes(const bson_value_t *v, uint32_t *len)
{
	bson_t		b;
	uint8_t    *bytes;

	bson_init(&b);
	bson_append_value(&b, "", 0, v);
	*len = b.len;
	bytes = palloc(b.len);
	memcpy(bytes, bson_get_data(&b), b.len);
	bson_destroy(&b);
	return bytes;
}

/* An iterator on the value of {"": v} bytes */
static void
GroupValueIter(const uint8_t *bytes, uint32_t len, bson_iter_t *it)
{
	if (!bson_iter_init_from_data(it, bytes, len) || !bson_iter_next(it))
		elog(ERROR, "invalid $group state value");
}

/* Replace the state's value */
static void
GroupStateSetValue(GroupAccState *s, const bson_value_t *v, int64 ord)
{
	if (s->val != NULL)
		pfree(s->val);
	s->val = GroupValueBytes(v, &s->val_len);
	s->have = true;
	s->ord = ord;
}

/* The hash of a list entry's value */
static uint64
GroupEntryHash(const char *entry)
{
	uint32_t	len;
	bson_iter_t it;

	memcpy(&len, entry + 8, 4);
	GroupValueIter((const uint8_t *) entry + 12, len, &it);
	return BsonHashValue(&it, 0);
}

/* Put the entry at offset into the set's hash table */
static void
GroupSetInsertSlot(GroupAccState *s, uint32_t offset, uint64 hash)
{
	uint32_t	mask = s->nslots - 1;
	uint32_t	i = (uint32_t) hash & mask;

	while (s->slots[i] != 0)
		i = (i + 1) & mask;
	s->slots[i] = offset + 1;
}

/* Grow the set's hash table to keep it at most half full */
static void
GroupSetGrow(GroupAccState *s)
{
	Size		off = 0;

	if (s->slots != NULL && (uint64) s->nitems * 2 < s->nslots)
		return;
	if (s->slots != NULL)
		pfree(s->slots);
	s->nslots = s->nslots == 0 ? 16 : s->nslots * 2;
	s->slots = palloc0(sizeof(uint32_t) * s->nslots);
	while (off < s->list_len)
	{
		uint32_t	len;

		memcpy(&len, s->list + off + 8, 4);
		GroupSetInsertSlot(s, (uint32_t) off, GroupEntryHash(s->list + off));
		off += 12 + len;
	}
}

/* Append an entry (ord, {"": v} bytes) to the state's list */
static void
GroupListAppendBytes(GroupAccState *s, int64 ord, const uint8_t *bytes, uint32_t len,
					 const char *name)
{
	Size		need = s->list_len + 12 + len;

	if (need > GROUP_MAX_LIST_BYTES)
		MongoRaise(AGG_ERR_MEMORY_LIMIT,
				   "%s used too much memory and cannot spill to disk. Memory limit: %zu bytes",
				   name, GROUP_MAX_LIST_BYTES);
	if (need > s->list_cap)
	{
		Size		cap = Max(s->list_cap * 2, Max(need, 256));

		s->list = s->list == NULL ? palloc(cap) : repalloc(s->list, cap);
		s->list_cap = cap;
	}
	memcpy(s->list + s->list_len, &ord, 8);
	memcpy(s->list + s->list_len + 8, &len, 4);
	memcpy(s->list + s->list_len + 12, bytes, len);
	s->list_len = need;
	if (s->nitems > 0 && ord < s->last_ord)
		s->unsorted = true;
	s->last_ord = Max(s->last_ord, ord);
	s->nitems++;
}

/* Add a value to a set unless an equal one is there */
static void
GroupSetAddBytes(GroupAccState *s, int64 ord, const uint8_t *bytes, uint32_t len,
				 const char *name)
{
	bson_iter_t it;
	uint64		hash;
	uint32_t	mask;
	uint32_t	i;

	GroupSetGrow(s);
	GroupValueIter(bytes, len, &it);
	hash = BsonHashValue(&it, 0);
	mask = s->nslots - 1;
	for (i = (uint32_t) hash & mask; s->slots[i] != 0; i = (i + 1) & mask)
	{
		const char *entry = s->list + s->slots[i] - 1;
		uint32_t	elen;
		bson_iter_t other;

		memcpy(&elen, entry + 8, 4);
		GroupValueIter((const uint8_t *) entry + 12, elen, &other);
		if (BsonCompareValues(&it, &other) == 0)
		{
			int64		other_ord;

			/* keep the first occurrence's number: sets list values in input order */
			memcpy(&other_ord, entry, 8);
			if (ord < other_ord)
			{
				memcpy((char *) entry, &ord, 8);
				s->unsorted = true;
			}
			return;
		}
	}
	{
		uint32_t	offset = (uint32_t) s->list_len;

		GroupListAppendBytes(s, ord, bytes, len, name);
		GroupSetInsertSlot(s, offset, hash);
	}
}

static void
GroupListAppend(GroupAccState *s, int64 ord, const bson_value_t *v, bool set,
				const char *name)
{
	uint32_t	len;
	uint8_t    *bytes = GroupValueBytes(v, &len);

	if (set)
		GroupSetAddBytes(s, ord, bytes, len, name);
	else
		GroupListAppendBytes(s, ord, bytes, len, name);
	pfree(bytes);
}

/* Merge the fields of a document into the state's document */
static void
GroupMergeDocument(GroupAccState *s, const bson_value_t *v, int64 ord)
{
	bson_t		merged;
	bson_t		incoming;
	bson_iter_t it;
	bson_value_t result;

	bson_init(&merged);
	if (!bson_init_static(&incoming, v->value.v_doc.data, v->value.v_doc.data_len))
		elog(ERROR, "invalid document in $mergeObjects");
	if (s->have)
	{
		bson_iter_t cur;
		bson_t		curdoc;
		const uint8_t *data;
		uint32_t	len;

		GroupValueIter(s->val, s->val_len, &cur);
		bson_iter_document(&cur, &len, &data);
		bson_init_static(&curdoc, data, len);
		bson_iter_init(&it, &curdoc);
		while (bson_iter_next(&it))
		{
			bson_iter_t repl;

			if (bson_iter_init_find(&repl, &incoming, bson_iter_key(&it)))
				bson_append_iter(&merged, bson_iter_key(&it), -1, &repl);
			else
				bson_append_iter(&merged, bson_iter_key(&it), -1, &it);
		}
		bson_iter_init(&it, &incoming);
		while (bson_iter_next(&it))
		{
			bson_iter_t old;

			if (!bson_iter_init_find(&old, &curdoc, bson_iter_key(&it)))
				bson_append_iter(&merged, bson_iter_key(&it), -1, &it);
		}
	}
	else
		bson_concat(&merged, &incoming);
	result.value_type = BSON_TYPE_DOCUMENT;
	result.value.v_doc.data = (uint8_t *) bson_get_data(&merged);
	result.value.v_doc.data_len = merged.len;
	GroupStateSetValue(s, &result, ord);
	bson_destroy(&merged);
}

/* ---- the ranked accumulators ---- */

/*
 * $top, $bottom, $topN, $bottomN, $firstN, $lastN, $maxN, $minN, $median
 * and $percentile keep entries as a list does ([ord][len][bytes of {"":
 * value, "": sort key, ...}]).  Those with an n sort their entries by rank
 * whenever there are twice as many as they need and keep the best n, so
 * that their memory follows n, not the size of the group; $median and
 * $percentile keep every number (as a double) and rank them at the end,
 * which makes their results exact (within MongoDB's "approximate"), under
 * the 100 MiB limit of a list.
 */

/* The $group name of an accumulator kind, for messages */
static const char *
GroupAccName(GroupAccKind kind)
{
	for (int i = 0; group_accumulators[i].name != NULL; i++)
		if (group_accumulators[i].kind == kind)
			return group_accumulators[i].name;
	return "accumulator";
}

/* Does the accumulator keep the last entries of its order (else the first)? */
static bool
GroupRankedKeepsLast(GroupAccKind kind)
{
	return kind == GROUP_ACC_LAST_N || kind == GROUP_ACC_BOTTOM || kind == GROUP_ACC_BOTTOM_N;
}

/* An iterator on the value of the entry at pos; next gives its sort keys */
static void
GroupEntryIter(const GroupAccState *s, Size pos, bson_iter_t *it)
{
	uint32_t	len;

	memcpy(&len, s->list + pos + 8, 4);
	GroupValueIter((const uint8_t *) s->list + pos + 12, len, it);
}

/* Order two entries by rank: best first, then by input number */
static int
GroupRankCmp(const void *a, const void *b, void *arg)
{
	const GroupAccState *s = arg;
	const GroupAcc *acc = s->acc;
	const GroupEntryRef *x = a;
	const GroupEntryRef *y = b;
	bson_iter_t xi;
	bson_iter_t yi;
	int			c = 0;

	if (acc->kind != GROUP_ACC_FIRST_N && acc->kind != GROUP_ACC_LAST_N)
	{
		GroupEntryIter(s, x->pos, &xi);
		GroupEntryIter(s, y->pos, &yi);
		if (!GROUP_ACC_IS_SORTED(acc->kind))
		{
			c = AggValueCompare(bson_iter_value(&xi), bson_iter_value(&yi), acc->collation);
			if (acc->kind == GROUP_ACC_MAX_N)
				c = -c;
		}
		else
			for (int i = 0; i < acc->nsort && c == 0; i++)
			{
				if (!bson_iter_next(&xi) || !bson_iter_next(&yi))
					elog(ERROR, "invalid $group state entry");
				c = acc->collation != NULL ?
					AggValueCompare(bson_iter_value(&xi), bson_iter_value(&yi), acc->collation) :
					BsonSortCompareKeys(bson_iter_value(&xi), bson_iter_value(&yi));
				if (acc->sort_desc[i])
					c = -c;
			}
	}
	if (c != 0)
		return c;
	if (x->ord != y->ord)
		return x->ord < y->ord ? -1 : 1;
	return x->pos < y->pos ? -1 : (x->pos > y->pos ? 1 : 0);
}

/* The entries of a ranked state in rank order (*count of them) */
static GroupEntryRef *
GroupRankedSort(const GroupAccState *s, int64 *count)
{
	GroupEntryRef *refs = palloc(sizeof(GroupEntryRef) * Max(s->nitems, 1));
	Size		off = 0;
	int64		n = 0;

	while (off < s->list_len)
	{
		uint32_t	len;

		memcpy(&refs[n].ord, s->list + off, 8);
		refs[n].pos = off;
		memcpy(&len, s->list + off + 8, 4);
		off += 12 + len;
		n++;
	}
	qsort_arg(refs, n, sizeof(GroupEntryRef), GroupRankCmp, (void *) s);
	*count = n;
	return refs;
}

/* Which of count ranked entries the accumulator keeps: [*from, *to) */
static void
GroupRankedRange(const GroupAcc *acc, int64 count, int64 *from, int64 *to)
{
	int64		keep = GROUP_ACC_IS_PERCENTILE(acc->kind) ? count : Min(count, acc->n);

	*from = GroupRankedKeepsLast(acc->kind) ? count - keep : 0;
	*to = *from + keep;
}

/* Keep only the n best entries */
static void
GroupRankedCompact(GroupAccState *s)
{
	int64		count;
	int64		from;
	int64		to;
	GroupEntryRef *refs = GroupRankedSort(s, &count);
	char	   *list;
	Size		len = 0;

	GroupRankedRange(s->acc, count, &from, &to);
	for (int64 i = from; i < to; i++)
	{
		uint32_t	l;

		memcpy(&l, s->list + refs[i].pos + 8, 4);
		len += 12 + l;
	}
	list = palloc(Max(len, 1));
	len = 0;
	s->last_ord = 0;
	for (int64 i = from; i < to; i++)
	{
		uint32_t	l;

		memcpy(&l, s->list + refs[i].pos + 8, 4);
		memcpy(list + len, s->list + refs[i].pos, 12 + l);
		len += 12 + l;
		s->last_ord = Max(s->last_ord, refs[i].ord);
	}
	pfree(s->list);
	pfree(refs);
	s->list = list;
	s->list_len = s->list_cap = len;
	s->nitems = to - from;
	/* $firstN and $lastN rank by input number: the list is in order */
	s->unsorted = s->acc->kind != GROUP_ACC_FIRST_N && s->acc->kind != GROUP_ACC_LAST_N;
}

/* Compact when the list holds twice what the accumulator keeps */
static void
GroupRankedBound(GroupAccState *s)
{
	const GroupAcc *acc = s->acc;

	if (!GROUP_ACC_IS_PERCENTILE(acc->kind) && acc->n < PG_INT64_MAX / 4 &&
		s->nitems >= 2 * acc->n + 8)
		GroupRankedCompact(s);
}

/* Add a document's value to a ranked state */
static void
GroupRankedAdd(GroupAccState *s, const Bson *doc, const bson_value_t *v, int64 ord)
{
	const GroupAcc *acc = s->acc;
	bson_value_t value = *v;
	bson_t		entry;

	if (GROUP_ACC_IS_PERCENTILE(acc->kind))
	{
		/* numbers only, as doubles */
		if (!AggValueIsNumber(v))
			return;
		AggSetDouble(&value, AggNumberAsDouble(v));
	}
	else if (acc->kind == GROUP_ACC_MAX_N || acc->kind == GROUP_ACC_MIN_N)
	{
		if (AggValueNullish(v))
			return;
	}
	else if (value.value_type == BSON_TYPE_EOD)
		AggSetNull(&value);
	/* the first n in input order: a later document cannot enter */
	if (acc->kind == GROUP_ACC_FIRST_N && s->nitems >= acc->n && !s->unsorted &&
		ord >= s->last_ord)
		return;
	bson_init(&entry);
	bson_append_value(&entry, "", 0, &value);
	for (int i = 0; i < acc->nsort; i++)
	{
		bson_value_t key;

		if (BsonIsScalar(doc))
			key.value_type = BSON_TYPE_NULL;
		else
			BsonSortKeyCollated(BsonBytes(doc), BsonDocLen(doc), acc->sort_paths[i],
								acc->sort_desc[i], acc->collation, &key);
		bson_append_value(&entry, "", 0, &key);
	}
	GroupListAppendBytes(s, ord, bson_get_data(&entry), entry.len, GroupAccName(acc->kind));
	bson_destroy(&entry);
	GroupRankedBound(s);
}

/* A percentile of n ranked numbers */
static void
GroupPercentile(const GroupAccState *s, const GroupEntryRef *refs, int64 n, double p,
				bson_value_t *out)
{
	bson_iter_t it;
	double		d;

	if (n == 0)
	{
		AggSetNull(out);
		return;
	}
	if (s->acc->method == GROUP_PCT_CONTINUOUS)
	{
		double		pos = p * (double) (n - 1);
		int64		lo = (int64) floor(pos);
		int64		hi = (int64) ceil(pos);
		double		lv;
		double		hv;

		GroupEntryIter(s, refs[lo].pos, &it);
		lv = bson_iter_double(&it);
		GroupEntryIter(s, refs[hi].pos, &it);
		hv = bson_iter_double(&it);
		d = lo == hi ? lv : lv + (pos - (double) lo) * (hv - lv);
	}
	else
	{
		/* the smallest value with at least p of the values at or below it */
		int64		idx = (int64) ceil(p * (double) n) - 1;

		idx = Max(0, Min(idx, n - 1));
		GroupEntryIter(s, refs[idx].pos, &it);
		d = bson_iter_double(&it);
	}
	AggSetDouble(out, d);
}

/* The result of a ranked state */
static Bson *
GroupRankedResult(const GroupAccState *s)
{
	const GroupAcc *acc = s->acc;
	int64		count;
	int64		from;
	int64		to;
	GroupEntryRef *refs = GroupRankedSort(s, &count);
	bson_t		doc;
	bson_t		array;
	bson_iter_t it;
	Bson	   *result;

	GroupRankedRange(acc, count, &from, &to);
	bson_init(&doc);
	if (acc->kind == GROUP_ACC_MEDIAN)
	{
		bson_value_t v;

		GroupPercentile(s, refs, count, acc->pcts[0], &v);
		bson_append_value(&doc, "", 0, &v);
	}
	else if (acc->kind == GROUP_ACC_PERCENTILE)
	{
		bson_append_array_begin(&doc, "", 0, &array);
		for (int i = 0; i < acc->npcts; i++)
		{
			bson_value_t v;
			char		key[16];
			const char *keyp;

			GroupPercentile(s, refs, count, acc->pcts[i], &v);
			bson_uint32_to_string(i, &keyp, key, sizeof(key));
			bson_append_value(&array, keyp, -1, &v);
		}
		bson_append_array_end(&doc, &array);
	}
	else if (acc->kind == GROUP_ACC_TOP || acc->kind == GROUP_ACC_BOTTOM)
	{
		if (from == to)
			bson_append_null(&doc, "", 0);
		else
		{
			GroupEntryIter(s, refs[from].pos, &it);
			bson_append_iter(&doc, "", 0, &it);
		}
	}
	else
	{
		bson_append_array_begin(&doc, "", 0, &array);
		for (int64 i = from; i < to; i++)
		{
			char		key[24];
			const char *keyp;

			GroupEntryIter(s, refs[i].pos, &it);
			bson_uint32_to_string((uint32_t) (i - from), &keyp, key, sizeof(key));
			if (!bson_append_iter(&array, keyp, -1, &it))
				MongoRaise(AGG_ERR_MEMORY_LIMIT, "the result of the accumulator is too large");
		}
		bson_append_array_end(&doc, &array);
	}
	bson_iter_init(&it, &doc);
	bson_iter_next(&it);
	result = BsonFromIter(&it);
	bson_destroy(&doc);
	pfree(refs);
	return result;
}

/* Add one input value to a state */
static void
GroupStateAdd(GroupAccState *s, const bson_value_t *v, int64 ord)
{
	const GroupAcc *acc = s->acc;

	switch (acc->kind)
	{
		case GROUP_ACC_SUM:
		case GROUP_ACC_AVG:
		case GROUP_ACC_COUNT:
			AggSumAdd(v, &s->sum);
			break;
		case GROUP_ACC_STDDEV_POP:
		case GROUP_ACC_STDDEV_SAMP:
			AggStdDevAdd(v, &s->stddev);
			break;
		case GROUP_ACC_MIN:
		case GROUP_ACC_MAX:
			if (AggValueNullish(v))
				break;
			if (s->have)
			{
				bson_value_t best;
				bson_iter_t it;
				int			c;

				GroupValueIter(s->val, s->val_len, &it);
				best = *bson_iter_value(&it);
				c = AggValueCompare(v, &best, acc->collation);
				if (acc->kind == GROUP_ACC_MIN ? c >= 0 : c <= 0)
					break;
			}
			GroupStateSetValue(s, v, ord);
			break;
		case GROUP_ACC_FIRST:
		case GROUP_ACC_LAST:
			{
				bson_value_t null_value;

				if (s->have && (acc->kind == GROUP_ACC_FIRST ? ord >= s->ord : ord < s->ord))
					break;
				if (v->value_type == BSON_TYPE_EOD)
				{
					null_value.value_type = BSON_TYPE_NULL;
					v = &null_value;
				}
				GroupStateSetValue(s, v, ord);
				break;
			}
		case GROUP_ACC_PUSH:
			if (v->value_type != BSON_TYPE_EOD)
				GroupListAppend(s, ord, v, false, "$push");
			break;
		case GROUP_ACC_ADD_TO_SET:
			if (v->value_type != BSON_TYPE_EOD)
				GroupListAppend(s, ord, v, true, "$addToSet");
			break;
		case GROUP_ACC_CONCAT_ARRAYS:
		case GROUP_ACC_SET_UNION:
			{
				bson_iter_t it;
				bool		set = acc->kind == GROUP_ACC_SET_UNION;
				const char *name = set ? "$setUnion" : "$concatArrays";

				if (v->value_type == BSON_TYPE_EOD)
					break;
				if (v->value_type != BSON_TYPE_ARRAY)
					MongoRaise(AGG_ERR_TYPE_MISMATCH,
							   "%s requires array inputs, but input %s is of type %s",
							   name, "value", AggTypeName(v));
				if (!bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len))
					elog(ERROR, "invalid array in %s", name);
				while (bson_iter_next(&it))
				{
					GroupListAppend(s, ord, bson_iter_value(&it), set, name);
				}
				break;
			}
		case GROUP_ACC_COVARIANCE_POP:
		case GROUP_ACC_COVARIANCE_SAMP:
			{
				bson_iter_t it;
				bson_value_t xy[2];
				int			n = 0;
				double		x;
				double		y;
				double		dx;

				/* [x, y]: pairs where both are numbers count */
				if (v->value_type != BSON_TYPE_ARRAY ||
					!bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len))
					break;
				while (n < 2 && bson_iter_next(&it))
					xy[n++] = *bson_iter_value(&it);
				if (n < 2 || !AggValueIsNumber(&xy[0]) || !AggValueIsNumber(&xy[1]))
					break;
				x = AggNumberAsDouble(&xy[0]);
				y = AggNumberAsDouble(&xy[1]);
				s->count++;
				dx = x - s->cov_mean_x;
				s->cov_mean_x += dx / (double) s->count;
				s->cov_mean_y += (y - s->cov_mean_y) / (double) s->count;
				s->cov_c += dx * (y - s->cov_mean_y);
				break;
			}
		case GROUP_ACC_LOCF:
			/* the last value that is not null */
			if (!AggValueNullish(v))
				GroupStateSetValue(s, v, ord);
			break;
		case GROUP_ACC_EXP_MOVING_AVG:
			{
				double		x;

				if (!AggValueIsNumber(v))
					break;
				x = AggNumberAsDouble(v);
				s->ema = s->have ? acc->alpha * x + (1 - acc->alpha) * s->ema : x;
				s->have = true;
				break;
			}
		case GROUP_ACC_MERGE_OBJECTS:
			if (AggValueNullish(v))
				break;
			if (v->value_type != BSON_TYPE_DOCUMENT)
				MongoRaise(5911200, "$mergeObjects requires object inputs, but input %s is of type %s",
						   "value", AggTypeName(v));
			if (s->have && ord < s->ord)
				s->unsorted = true;
			GroupMergeDocument(s, v, Max(ord, s->ord));
			break;
		default:
			/* the ranked accumulators go through GroupRankedAdd */
			elog(ERROR, "unexpected $group accumulator %d", (int) acc->kind);
	}
}

/* A new state in the aggregate context */
static GroupAccState *
GroupStateNew(FunctionCallInfo fcinfo, const GroupAcc *acc)
{
	MemoryContext aggcontext;
	GroupAccState *s;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "nosql.bson_group_accumulate called in non-aggregate context");
	s = MemoryContextAllocZero(aggcontext, sizeof(GroupAccState));
	s->acc = acc;
	return s;
}

/*
 * nosql.bson_group_accumulate_transition(state internal, document bson,
 *		spec bson, ord bigint) RETURNS internal
 */
PG_FUNCTION_INFO_V1(bson_group_accumulate_transition);
Datum
bson_group_accumulate_transition(PG_FUNCTION_ARGS)
{
	GroupAccState *s = PG_ARGISNULL(0) ? NULL : (GroupAccState *) PG_GETARG_POINTER(0);
	MemoryContext aggcontext;
	MemoryContext old;
	Bson	   *doc;
	GroupAcc   *acc;
	AggArena	arena = {NULL};
	bson_value_t v;
	int64		ord = PG_ARGISNULL(3) ? 0 : PG_GETARG_INT64(3);

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "nosql.bson_group_accumulate called in non-aggregate context");
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_POINTER(s);
	doc = PG_GETARG_BSON_P(1);
	acc = GroupAccCached(fcinfo, PG_GETARG_BSON_P(2));
	if (s == NULL)
		s = GroupStateNew(fcinfo, acc);
	GroupEval(acc, doc, &arena, &v);
	old = MemoryContextSwitchTo(aggcontext);
	if (GROUP_ACC_IS_RANKED(acc->kind))
		GroupRankedAdd(s, doc, &v, ord);
	else
		GroupStateAdd(s, &v, ord);
	MemoryContextSwitchTo(old);
	AggArenaReset(&arena);
	PG_RETURN_POINTER(s);
}

/* Compare list entries by their input numbers, then their positions */

static int
GroupEntryRefCmp(const void *a, const void *b)
{
	const GroupEntryRef *x = a;
	const GroupEntryRef *y = b;

	if (x->ord != y->ord)
		return x->ord < y->ord ? -1 : 1;
	return x->pos < y->pos ? -1 : (x->pos > y->pos ? 1 : 0);
}

/* The array of a list state's values, in input order */
static Bson *
GroupListResult(const GroupAccState *s)
{
	GroupEntryRef *refs = palloc(sizeof(GroupEntryRef) * Max(s->nitems, 1));
	Size		off = 0;
	int64		n = 0;
	bson_t		doc;
	bson_t		array;
	bson_iter_t it;
	Bson	   *result;

	while (off < s->list_len)
	{
		uint32_t	len;

		memcpy(&refs[n].ord, s->list + off, 8);
		refs[n].pos = off;
		memcpy(&len, s->list + off + 8, 4);
		off += 12 + len;
		n++;
	}
	if (s->unsorted)
		qsort(refs, n, sizeof(GroupEntryRef), GroupEntryRefCmp);
	bson_init(&doc);
	bson_append_array_begin(&doc, "", 0, &array);
	for (int64 i = 0; i < n; i++)
	{
		uint32_t	len;
		bson_iter_t v;
		char		key[24];
		const char *keyp;

		memcpy(&len, s->list + refs[i].pos + 8, 4);
		GroupValueIter((const uint8_t *) s->list + refs[i].pos + 12, len, &v);
		bson_uint32_to_string((uint32_t) i, &keyp, key, sizeof(key));
		if (!bson_append_iter(&array, keyp, -1, &v))
			MongoRaise(AGG_ERR_MEMORY_LIMIT, "the result of the accumulator is too large");
	}
	bson_append_array_end(&doc, &array);
	bson_iter_init(&it, &doc);
	bson_iter_next(&it);
	result = BsonFromIter(&it);
	bson_destroy(&doc);
	pfree(refs);
	return result;
}

/* nosql.bson_group_accumulate_final(state internal) RETURNS bson */
PG_FUNCTION_INFO_V1(bson_group_accumulate_final);
Datum
bson_group_accumulate_final(PG_FUNCTION_ARGS)
{
	GroupAccState *s = PG_ARGISNULL(0) ? NULL : (GroupAccState *) PG_GETARG_POINTER(0);
	bson_value_t v;

	if (s == NULL)
		PG_RETURN_NULL();
	switch (s->acc->kind)
	{
		case GROUP_ACC_SUM:
		case GROUP_ACC_COUNT:
			AggSumResult(&s->sum, false, &v);
			break;
		case GROUP_ACC_AVG:
			AggSumResult(&s->sum, true, &v);
			break;
		case GROUP_ACC_STDDEV_POP:
		case GROUP_ACC_STDDEV_SAMP:
			{
				bool		samp = s->acc->kind == GROUP_ACC_STDDEV_SAMP;
				const AggStdDevState *sd = &s->stddev;

				if (sd->count == 0 || (samp && sd->count == 1))
					AggSetNull(&v);
				else
					AggSetDouble(&v, sqrt(Max(sd->m2, 0) /
										  (double) (samp ? sd->count - 1 : sd->count)));
				break;
			}
		case GROUP_ACC_COVARIANCE_POP:
		case GROUP_ACC_COVARIANCE_SAMP:
			{
				bool		samp = s->acc->kind == GROUP_ACC_COVARIANCE_SAMP;

				if (s->count == 0 || (samp && s->count == 1))
					AggSetNull(&v);
				else
					AggSetDouble(&v, s->cov_c / (double) (samp ? s->count - 1 : s->count));
				break;
			}
		case GROUP_ACC_EXP_MOVING_AVG:
			if (s->have)
				AggSetDouble(&v, s->ema);
			else
				AggSetNull(&v);
			break;
		case GROUP_ACC_MIN:
		case GROUP_ACC_MAX:
		case GROUP_ACC_FIRST:
		case GROUP_ACC_LAST:
		case GROUP_ACC_LOCF:
			if (!s->have)
			{
				AggSetNull(&v);
				break;
			}
			{
				bson_iter_t it;

				GroupValueIter(s->val, s->val_len, &it);
				PG_RETURN_BSON_P(BsonFromIter(&it));
			}
		case GROUP_ACC_MERGE_OBJECTS:
			if (!s->have)
			{
				bson_t		empty;

				bson_init(&empty);
				PG_RETURN_BSON_P(BsonDatumFromBson(&empty));
			}
			{
				bson_iter_t it;

				GroupValueIter(s->val, s->val_len, &it);
				PG_RETURN_BSON_P(BsonFromIter(&it));
			}
		case GROUP_ACC_PUSH:
		case GROUP_ACC_ADD_TO_SET:
		case GROUP_ACC_CONCAT_ARRAYS:
		case GROUP_ACC_SET_UNION:
			PG_RETURN_BSON_P(GroupListResult(s));
		case GROUP_ACC_TOP:
		case GROUP_ACC_BOTTOM:
		case GROUP_ACC_TOP_N:
		case GROUP_ACC_BOTTOM_N:
		case GROUP_ACC_FIRST_N:
		case GROUP_ACC_LAST_N:
		case GROUP_ACC_MAX_N:
		case GROUP_ACC_MIN_N:
		case GROUP_ACC_MEDIAN:
		case GROUP_ACC_PERCENTILE:
			PG_RETURN_BSON_P(GroupRankedResult(s));
		default:
			elog(ERROR, "unknown $group accumulator %d", (int) s->acc->kind);
	}
	PG_RETURN_BSON_P(BsonFromValue(&v));
}

/*
 * nosql.bson_group_accumulate_combine(internal, internal) RETURNS internal
 *
 * Merge two partial states (of parallel workers).
 */
PG_FUNCTION_INFO_V1(bson_group_accumulate_combine);
Datum
bson_group_accumulate_combine(PG_FUNCTION_ARGS)
{
	GroupAccState *a = PG_ARGISNULL(0) ? NULL : (GroupAccState *) PG_GETARG_POINTER(0);
	GroupAccState *b = PG_ARGISNULL(1) ? NULL : (GroupAccState *) PG_GETARG_POINTER(1);
	MemoryContext aggcontext;
	MemoryContext old;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "nosql.bson_group_accumulate called in non-aggregate context");
	if (b == NULL)
		PG_RETURN_POINTER(a);
	old = MemoryContextSwitchTo(aggcontext);
	if (a == NULL)
	{
		a = palloc0(sizeof(GroupAccState));
		a->acc = b->acc;
	}
	switch (a->acc->kind)
	{
		case GROUP_ACC_SUM:
		case GROUP_ACC_AVG:
		case GROUP_ACC_COUNT:
			{
				AggSumState *x = &a->sum;
				const AggSumState *y = &b->sum;
				bson_value_t part;
				int			widest = Max(x->widest, y->widest);
				int64		count = x->count + y->count;

				/* add b's parts as values: its integers, doubles and decimal */
				if (!y->ioverflow)
				{
					AggSetInt64(&part, y->isum);
					AggSumAdd(&part, x);
				}
				AggSetDouble(&part, isfinite(y->dsum) ? y->dsum + y->dcomp : y->dsum);
				if (part.value.v_double != 0 || !isfinite(y->dsum))
					AggSumAdd(&part, x);
				if (y->have_decimal)
				{
					bson_decimal128_t d128;

					BsonEncodeDecimal128(&y->decsum, &d128);
					part.value_type = BSON_TYPE_DECIMAL128;
					part.value.v_decimal128 = d128;
					AggSumAdd(&part, x);
				}
				x->widest = widest;
				x->count = count;
				break;
			}
		case GROUP_ACC_STDDEV_POP:
		case GROUP_ACC_STDDEV_SAMP:
			{
				AggStdDevState *x = &a->stddev;
				const AggStdDevState *y = &b->stddev;
				int64		n = x->count + y->count;

				if (y->count > 0)
				{
					double		delta = y->mean - x->mean;

					x->m2 += y->m2 + delta * delta * (double) x->count * (double) y->count / (double) n;
					x->mean += delta * (double) y->count / (double) n;
					x->count = n;
				}
				break;
			}
		case GROUP_ACC_MIN:
		case GROUP_ACC_MAX:
		case GROUP_ACC_FIRST:
		case GROUP_ACC_LAST:
			if (b->have)
			{
				bson_iter_t it;

				GroupValueIter(b->val, b->val_len, &it);
				if (a->acc->kind == GROUP_ACC_FIRST || a->acc->kind == GROUP_ACC_LAST)
				{
					if (!a->have || (a->acc->kind == GROUP_ACC_FIRST ? b->ord < a->ord : b->ord >= a->ord))
						GroupStateSetValue(a, bson_iter_value(&it), b->ord);
				}
				else
					GroupStateAdd(a, bson_iter_value(&it), b->ord);
			}
			break;
		case GROUP_ACC_MERGE_OBJECTS:
			if (b->have)
			{
				bson_iter_t it;

				GroupValueIter(b->val, b->val_len, &it);
				if (a->have && b->ord < a->ord)
				{
					/* b came first: merge a over b */
					uint8_t    *aval = a->val;
					uint32_t	alen = a->val_len;
					int64		aord = a->ord;
					bson_iter_t ait;

					a->val = NULL;
					a->have = false;
					GroupStateSetValue(a, bson_iter_value(&it), b->ord);
					GroupValueIter(aval, alen, &ait);
					GroupMergeDocument(a, bson_iter_value(&ait), aord);
				}
				else
					GroupMergeDocument(a, bson_iter_value(&it), b->ord);
			}
			break;
		case GROUP_ACC_COVARIANCE_POP:
		case GROUP_ACC_COVARIANCE_SAMP:
		case GROUP_ACC_LOCF:
		case GROUP_ACC_EXP_MOVING_AVG:
			/* window functions: never partial */
			elog(ERROR, "window accumulator %d cannot be combined", (int) a->acc->kind);
			break;
		case GROUP_ACC_PUSH:
		case GROUP_ACC_ADD_TO_SET:
		case GROUP_ACC_CONCAT_ARRAYS:
		case GROUP_ACC_SET_UNION:
			{
				Size		off = 0;
				bool		set = a->acc->kind == GROUP_ACC_ADD_TO_SET ||
					a->acc->kind == GROUP_ACC_SET_UNION;

				while (off < b->list_len)
				{
					int64		ord;
					uint32_t	len;

					memcpy(&ord, b->list + off, 8);
					memcpy(&len, b->list + off + 8, 4);
					if (set)
						GroupSetAddBytes(a, ord, (const uint8_t *) b->list + off + 12, len,
										 "$addToSet");
					else
						GroupListAppendBytes(a, ord, (const uint8_t *) b->list + off + 12, len,
											 "$push");
					off += 12 + len;
				}
				break;
			}
		default:
			{
				/* the ranked accumulators: b's entries, then the bound */
				Size		off = 0;

				while (off < b->list_len)
				{
					int64		ord;
					uint32_t	len;

					memcpy(&ord, b->list + off, 8);
					memcpy(&len, b->list + off + 8, 4);
					GroupListAppendBytes(a, ord, (const uint8_t *) b->list + off + 12, len,
										 GroupAccName(a->acc->kind));
					off += 12 + len;
					GroupRankedBound(a);
				}
				break;
			}
	}
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(a);
}

/*
 * nosql.bson_group_accumulate_serialize(internal) RETURNS bytea
 *
 * [spec length][spec][the fixed fields][value length][value][list].
 */
PG_FUNCTION_INFO_V1(bson_group_accumulate_serialize);
Datum
bson_group_accumulate_serialize(PG_FUNCTION_ARGS)
{
	GroupAccState *s = (GroupAccState *) PG_GETARG_POINTER(0);
	StringInfoData buf;
	uint32_t	val_len = s->have ? s->val_len : 0;
	uint64		list_len = s->list_len;

	initStringInfo(&buf);
	appendBinaryStringInfo(&buf, (char *) &s->acc->spec_len, 4);
	appendBinaryStringInfo(&buf, (char *) s->acc->spec, s->acc->spec_len);
	appendBinaryStringInfo(&buf, (char *) &s->count, 8);
	appendBinaryStringInfo(&buf, (char *) &s->sum, sizeof(AggSumState));
	appendBinaryStringInfo(&buf, (char *) &s->stddev, sizeof(AggStdDevState));
	appendBinaryStringInfo(&buf, (char *) &s->have, 1);
	appendBinaryStringInfo(&buf, (char *) &s->ord, 8);
	appendBinaryStringInfo(&buf, (char *) &s->unsorted, 1);
	appendBinaryStringInfo(&buf, (char *) &val_len, 4);
	if (val_len > 0)
		appendBinaryStringInfo(&buf, (char *) s->val, val_len);
	appendBinaryStringInfo(&buf, (char *) &list_len, 8);
	if (list_len > 0)
		appendBinaryStringInfo(&buf, s->list, s->list_len);
	{
		bytea	   *result = palloc(VARHDRSZ + buf.len);

		SET_VARSIZE(result, VARHDRSZ + buf.len);
		memcpy(VARDATA(result), buf.data, buf.len);
		PG_RETURN_BYTEA_P(result);
	}
}

/* Read n bytes of a serialized state */
static const char *
GroupRead(const char *p, const char *end, void *out, Size n)
{
	if (p + n > end)
		elog(ERROR, "invalid serialized $group state");
	memcpy(out, p, n);
	return p + n;
}

/* nosql.bson_group_accumulate_deserialize(bytea, internal) RETURNS internal */
PG_FUNCTION_INFO_V1(bson_group_accumulate_deserialize);
Datum
bson_group_accumulate_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	const char *p = VARDATA_ANY(data);
	const char *end = p + VARSIZE_ANY_EXHDR(data);
	MemoryContext aggcontext;
	MemoryContext old;
	GroupAccState *s;
	uint32_t	spec_len;
	uint32_t	val_len;
	uint64		list_len;
	GroupAcc   *acc = fcinfo->flinfo->fn_extra;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "nosql.bson_group_accumulate called in non-aggregate context");
	p = GroupRead(p, end, &spec_len, 4);
	if (p + spec_len > end)
		elog(ERROR, "invalid serialized $group state");
	if (acc == NULL || acc->spec_len != spec_len || memcmp(acc->spec, p, spec_len) != 0)
	{
		old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
		acc = GroupAccCompile((const uint8_t *) p, spec_len);
		fcinfo->flinfo->fn_extra = acc;
		MemoryContextSwitchTo(old);
	}
	p += spec_len;
	old = MemoryContextSwitchTo(aggcontext);
	s = palloc0(sizeof(GroupAccState));
	s->acc = acc;
	p = GroupRead(p, end, &s->count, 8);
	p = GroupRead(p, end, &s->sum, sizeof(AggSumState));
	p = GroupRead(p, end, &s->stddev, sizeof(AggStdDevState));
	p = GroupRead(p, end, &s->have, 1);
	p = GroupRead(p, end, &s->ord, 8);
	p = GroupRead(p, end, &s->unsorted, 1);
	p = GroupRead(p, end, &val_len, 4);
	if (val_len > 0)
	{
		s->val = palloc(val_len);
		p = GroupRead(p, end, s->val, val_len);
		s->val_len = val_len;
	}
	p = GroupRead(p, end, &list_len, 8);
	if (list_len > 0)
	{
		bool		set = acc->kind == GROUP_ACC_ADD_TO_SET || acc->kind == GROUP_ACC_SET_UNION;

		s->list = palloc(list_len);
		p = GroupRead(p, end, s->list, list_len);
		s->list_len = s->list_cap = list_len;
		for (Size off = 0; off < s->list_len;)
		{
			uint32_t	len;
			int64		ord;

			memcpy(&ord, s->list + off, 8);
			memcpy(&len, s->list + off + 8, 4);
			s->last_ord = Max(s->last_ord, ord);
			s->nitems++;
			off += 12 + len;
		}
		if (set)
			GroupSetGrow(s);
	}
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(s);
}

/* ---- the output document ---- */

/*
 * nosql.bson_group_result(id bson, names bson, results bson[]) RETURNS bson
 *
 * The document of a group: {_id: id, name1: result1, ...}.
 */
PG_FUNCTION_INFO_V1(bson_group_result);
Datum
bson_group_result(PG_FUNCTION_ARGS)
{
	Bson	   *names = PG_GETARG_BSON_P(1);
	ArrayType  *results = PG_GETARG_ARRAYTYPE_P(2);
	Datum	   *values;
	bool	   *nulls;
	int			n;
	bson_t		doc;
	bson_t		namesdoc;
	bson_iter_t it;
	bson_iter_t nit;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Bson	   *result;

	get_typlenbyvalalign(ARR_ELEMTYPE(results), &typlen, &typbyval, &typalign);
	deconstruct_array(results, ARR_ELEMTYPE(results), typlen, typbyval, typalign,
					  &values, &nulls, &n);
	bson_init(&doc);
	if (PG_ARGISNULL(0))
		bson_append_null(&doc, "_id", 3);
	else
	{
		Bson	   *id = PG_GETARG_BSON_P(0);
		bson_t		holder;

		if (BsonValueIter(id, &it, &holder))
			bson_append_iter(&doc, "_id", 3, &it);
		else
		{
			bson_t		sub;

			bson_init_static(&sub, BsonBytes(id), BsonDocLen(id));
			bson_append_document(&doc, "_id", 3, &sub);
		}
	}
	if (!bson_init_static(&namesdoc, BsonBytes(names), BsonDocLen(names)) ||
		!bson_iter_init_find(&it, &namesdoc, "f"))
		elog(ERROR, "invalid $group field names");
	bson_iter_recurse(&it, &nit);
	for (int i = 0; i < n && bson_iter_next(&nit); i++)
	{
		const char *name = bson_iter_utf8(&nit, NULL);

		if (nulls[i])
			bson_append_null(&doc, name, -1);
		else
		{
			Bson	   *v = DatumGetBsonP(values[i]);
			bson_t		holder;

			if (BsonValueIter(v, &it, &holder))
				bson_append_iter(&doc, name, -1, &it);
			else
			{
				bson_t		sub;

				bson_init_static(&sub, BsonBytes(v), BsonDocLen(v));
				bson_append_document(&doc, name, -1, &sub);
			}
		}
	}
	result = BsonDatumFromBson(&doc);
	bson_destroy(&doc);
	PG_RETURN_BSON_P(result);
}

/* ---- $bucketAuto ---- */

/* The granularities of $bucketAuto (agg_facet.c rounds by them) */
static const char *const bucket_auto_granularities[] = {
	"R5", "R10", "R20", "R40", "R80", "1-2-5", "E6", "E12", "E24", "E48", "E96",
	"E192", "POWERSOF2", NULL
};

/*
 * Check a $bucketAuto specification as MongoDB does and describe its SQL
 * (agg_pipeline.c): the key that sorts the documents (the groupBy value,
 * as a $group key), the $first and $last of groupBy that give each
 * bucket's bounds, and the output accumulators ({count: {$sum: 1}} when
 * there is no output or an empty one).
 */
void
AggBucketAutoDescribe(const bson_iter_t *spec, const uint8_t *collation,
					  uint32_t collation_len, AggBucketAutoSpec *out)
{
	bson_iter_t it;
	bson_iter_t group_by;
	bson_iter_t output;
	bool		have_group_by = false;
	bool		have_buckets = false;
	bool		have_output = false;
	bson_t		group;
	bson_t		bounds;
	bson_t		keyspec;
	bson_iter_t git;
	Bson	   *group_datum;
	Bson	   *bounds_datum;

	memset(out, 0, sizeof(*out));
	if (!BSON_ITER_HOLDS_DOCUMENT(spec))
		MongoRaise(40240, "The argument to $bucketAuto must be an object, but found type: %s.",
				   BsonTypeName(bson_iter_type(spec)));
	bson_iter_recurse(spec, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "groupBy") == 0)
		{
			if (!GroupIsExpression(&it))
				MongoRaise(40239, "The $bucketAuto 'groupBy' field must be defined as a $-prefixed path or an expression object, but found: %s.",
						   BsonTypeName(bson_iter_type(&it)));
			GroupCheckExpression(&it);
			group_by = it;
			have_group_by = true;
		}
		else if (strcmp(key, "buckets") == 0)
		{
			double		d = 0;

			if (!BsonIterIsNumber(&it))
				MongoRaise(40241, "The $bucketAuto 'buckets' field must be a numeric value, but found type: %s.",
						   BsonTypeName(bson_iter_type(&it)));
			(void) BsonIterAsDouble(&it, &d);
			if (isnan(d) || d != floor(d) || d < PG_INT32_MIN || d > PG_INT32_MAX)
				MongoRaise(40242, "The $bucketAuto 'buckets' field must be representable as a 32-bit integer");
			if (d <= 0)
				MongoRaise(40243, "The $bucketAuto 'buckets' field must be greater than 0, but found: %d",
						   (int) d);
			out->buckets = (int32) d;
			have_buckets = true;
		}
		else if (strcmp(key, "output") == 0)
		{
			if (!BSON_ITER_HOLDS_DOCUMENT(&it))
				MongoRaise(40244, "The $bucketAuto 'output' field must be an object, but found type: %s.",
						   BsonTypeName(bson_iter_type(&it)));
			output = it;
			have_output = true;
		}
		else if (strcmp(key, "granularity") == 0)
		{
			const char *g;
			int			i;

			if (!BSON_ITER_HOLDS_UTF8(&it))
				MongoRaise(40261, "The $bucketAuto 'granularity' field must be a string, but found type: %s.",
						   BsonTypeName(bson_iter_type(&it)));
			g = bson_iter_utf8(&it, NULL);
			for (i = 0; bucket_auto_granularities[i] != NULL; i++)
				if (strcmp(bucket_auto_granularities[i], g) == 0)
					break;
			if (bucket_auto_granularities[i] == NULL)
				MongoRaise(40257, "Unknown rounding granularity '%s'", g);
			out->granularity = bucket_auto_granularities[i];
		}
		else
			MongoRaise(40245, "Unrecognized option to $bucketAuto: %s.", key);
	}
	if (!have_group_by || !have_buckets)
		MongoRaise(40246, "$bucketAuto requires 'groupBy' and 'buckets' to be specified");

	/* the outputs, as a $group {_id: null, ...output} */
	bson_init(&group);
	{
		bson_t		g;
		bool		any = false;

		bson_append_document_begin(&group, "g", 1, &g);
		bson_append_null(&g, "_id", 3);
		if (have_output)
		{
			bson_iter_t f;

			bson_iter_recurse(&output, &f);
			while (bson_iter_next(&f))
			{
				if (strcmp(bson_iter_key(&f), "_id") == 0)
					MongoRaise(15948, "a group's _id may only be specified once");
				bson_append_iter(&g, bson_iter_key(&f), -1, &f);
				any = true;
			}
		}
		if (!any)
			GroupAppendCount(&g);
		bson_append_document_end(&group, &g);
	}
	group_datum = BsonDatumFromBson(&group);
	bson_destroy(&group);
	{
		bson_t		c;

		bson_init_static(&c, BsonBytes(group_datum), BsonDocLen(group_datum));
		bson_iter_init_find(&git, &c, "g");
		AggGroupDescribe(&git, collation, collation_len, &out->group);
	}
	/* MongoDB runs $bucketAuto in its classic engine: x marks the specs */
	for (int i = 0; i < out->group.naccs; i++)
	{
		bson_t		a;
		bson_t		copy;

		bson_init_static(&a, BsonBytes(out->group.accs[i]), BsonDocLen(out->group.accs[i]));
		bson_init(&copy);
		bson_concat(&copy, &a);
		bson_append_bool(&copy, "x", 1, true);
		out->group.accs[i] = BsonDatumFromBson(&copy);
		bson_destroy(&copy);
	}

	/* the bounds: groupBy's $first and $last in the sorted order */
	bson_init(&bounds);
	bson_append_iter(&bounds, "e", 1, &group_by);
	bounds_datum = BsonDatumFromBson(&bounds);
	bson_destroy(&bounds);
	{
		bson_t		c;
		bson_iter_t e;

		bson_init_static(&c, BsonBytes(bounds_datum), BsonDocLen(bounds_datum));
		bson_iter_init_find(&e, &c, "e");
		out->first = GroupAccSpec(GROUP_ACC_FIRST, &e, NULL, 0);
		out->last = GroupAccSpec(GROUP_ACC_LAST, &e, NULL, 0);
		/* the sort key: groupBy, its strings as collation keys */
		bson_init(&keyspec);
		bson_append_iter(&keyspec, "e", 1, &e);
		GroupAppendCollation(&keyspec, collation, collation_len);
		out->key = BsonDatumFromBson(&keyspec);
		bson_destroy(&keyspec);
	}
}
