/*-------------------------------------------------------------------------
 *
 * expr_array.c
 *	  Array and set expression operators: $arrayElemAt, $first, $last,
 *	  $concatArrays, $filter, $map, $reduce, $in, $indexOfArray, $isArray,
 *	  $range, $reverseArray, $size, $slice, $zip, $sortArray, and $setEquals,
 *	  $setIntersection, $setUnion, $setDifference, $setIsSubset,
 *	  $anyElementTrue, $allElementsTrue.
 *
 * Design note
 * -----------
 * Arrays come in as bson_value_t arrays (bytes in the document, the
 * expression tree or the evaluation's arena); most operators first take
 * their elements into a C array of values pointing into those bytes, then
 * build the result with a bson_t on the stack, copied to the arena at the
 * end.  A result is capped at AGG_MAX_EVAL_BYTES, and the operators that
 * loop over an expression ($map, $filter, $reduce) stop once the
 * evaluation's arena holds more than a few times that: MongoDB fails such
 * expressions with ExceededMemoryLimit (146) as well.
 *
 * The set operators compare values as $eq does (numbers by value, strings
 * under the collation).  They sort the elements' indexes by value (then by
 * position, so a run of equal values starts with the first occurrence),
 * which makes deduplication O(n log n) and membership a binary search;
 * results keep the order of first occurrence.
 *
 * $map, $filter and $reduce bind variables: the element ("as", $$this by
 * default) and, for $reduce, $$value.  Each gets a slot when parsing, set
 * before each evaluation of the inner expression.
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#include "miscadmin.h"
#endif

#include <math.h>

#include "bson_compare.h"
#include "expr_internal.h"
#include "sort.h"

#ifdef FRONTEND
#define ARRAY_CHECK_INTERRUPTS()	((void) 0)
#else
#define ARRAY_CHECK_INTERRUPTS()	CHECK_FOR_INTERRUPTS()
#endif

/* What the arena of an evaluation may hold before a loop gives up */
#define AGG_MAX_ARENA_BYTES		(4 * AGG_MAX_EVAL_BYTES)

/* $range: MongoDB's estimate of a value's size, and its memory limit */
#define AGG_RANGE_VALUE_BYTES	16
#define AGG_RANGE_MAX_BYTES		((int64_t) 64 * 1024 * 1024)

/* ---- helpers ---- */

/* The elements of an array value, in the arena; *n their number */
static bson_value_t *
AggArrayElements(AggExprContext *cx, const bson_value_t *arr, int *n)
{
	bson_iter_t it;
	bson_value_t *vals;
	int			count = 0;

	Assert(arr->value_type == BSON_TYPE_ARRAY);
	if (bson_iter_init_from_data(&it, arr->value.v_doc.data, arr->value.v_doc.data_len))
		while (bson_iter_next(&it))
			count++;
	vals = AggEvalAlloc(cx, sizeof(bson_value_t) * Max(count, 1));
	*n = 0;
	if (bson_iter_init_from_data(&it, arr->value.v_doc.data, arr->value.v_doc.data_len))
		while (bson_iter_next(&it) && *n < count)
			vals[(*n)++] = *bson_iter_value(&it);
	return vals;
}

/* The number of elements of an array value */
static int
AggArrayLength(const bson_value_t *arr)
{
	bson_iter_t it;
	int			count = 0;

	if (bson_iter_init_from_data(&it, arr->value.v_doc.data, arr->value.v_doc.data_len))
		while (bson_iter_next(&it))
			count++;
	return count;
}

static bool
AggMemoryLimit(BsonQueryError *error)
{
	return AggExprFail(error, AGG_ERR_MEMORY_LIMIT,
					   "array expression would use more than the memory limit of %zu bytes",
					   (size_t) AGG_MAX_EVAL_BYTES);
}

/*
 * Append a value to an array being built (its n-th element); missing
 * becomes null, as in MongoDB's arrays.
 */
static bool
AggArrayPush(bson_t *arr, uint32_t *n, const bson_value_t *v, BsonQueryError *error)
{
	char		buf[16];
	const char *key;
	size_t		klen = bson_uint32_to_string(*n, &key, buf, sizeof(buf));
	bool		ok;

	if (v->value_type == BSON_TYPE_EOD)
		ok = bson_append_null(arr, key, (int) klen);
	else
		ok = bson_append_value(arr, key, (int) klen, v);
	(*n)++;
	if (!ok || arr->len > AGG_MAX_EVAL_BYTES)
		return AggMemoryLimit(error);
	return true;
}

/* The array built: into the arena, and the bson_t released */
static void
AggArrayFinish(AggExprContext *cx, bson_t *arr, bson_value_t *out)
{
	AggSetFromBson(cx, out, arr, true);
	bson_destroy(arr);
}

/* Whether an evaluation has outgrown its arena (checked in loops) */
static bool
AggArenaOverLimit(AggExprContext *cx, BsonQueryError *error)
{
	ARRAY_CHECK_INTERRUPTS();
	if (cx->arena != NULL && cx->arena->allocated > AGG_MAX_ARENA_BYTES)
		return AggMemoryLimit(error);
	return false;
}

/* Set a variable's slot (checked against the context's slots) */
static bool
AggSetSlot(AggExprContext *cx, int slot, const bson_value_t *v, BsonQueryError *error)
{
	if (slot < 0 || slot >= cx->nslots)
		return AggExprFail(error, 1, "variable slot out of range");
	cx->slots[slot] = *v;
	return true;
}

/* ---- sorting values by index ---- */

typedef struct AggIndexSort
{
	const bson_value_t *vals;
	const struct BsonCollation *collation;
	bool		descending;
} AggIndexSort;

/* qsort_arg comparator of indexes into values: by value, then by index */
static int
AggCompareIndexes(const void *a, const void *b, void *arg)
{
	const AggIndexSort *s = arg;
	int			ia = *(const int *) a;
	int			ib = *(const int *) b;
	int			c = AggValueCompare(&s->vals[ia], &s->vals[ib], s->collation);

	if (c != 0)
		return s->descending ? -c : c;
	return ia < ib ? -1 : (ia > ib ? 1 : 0);
}

static int
AggCompareInts(const void *a, const void *b)
{
	int			ia = *(const int *) a;
	int			ib = *(const int *) b;

	return ia < ib ? -1 : (ia > ib ? 1 : 0);
}

/*
 * The distinct values of vals[0..n-1]: indexes of their first occurrences,
 * sorted by value (for AggSetContains).  Returns their number.
 */
static int
AggSetDistinct(AggExprContext *cx, const bson_value_t *vals, int n, int **out)
{
	int		   *idx = AggEvalAlloc(cx, sizeof(int) * Max(n, 1));
	AggIndexSort s = {vals, cx->collation, false};
	int			m = 0;

	for (int i = 0; i < n; i++)
		idx[i] = i;
	qsort_arg(idx, n, sizeof(int), AggCompareIndexes, &s);
	for (int i = 0; i < n; i++)
		if (m == 0 || AggValueCompare(&vals[idx[m - 1]], &vals[idx[i]], cx->collation) != 0)
			idx[m++] = idx[i];
	*out = idx;
	return m;
}

/* Whether v is one of the distinct values AggSetDistinct found */
static bool
AggSetContains(AggExprContext *cx, const bson_value_t *vals, const int *idx, int m,
			   const bson_value_t *v)
{
	int			lo = 0;
	int			hi = m - 1;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			c = AggValueCompare(&vals[idx[mid]], v, cx->collation);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

/* An array of the values at the given indexes, in index order */
static bool
AggSetResult(AggExprContext *cx, const bson_value_t *vals, int *idx, int m,
			 bson_value_t *out, BsonQueryError *error)
{
	bson_t		arr = BSON_INITIALIZER;
	uint32_t	k = 0;

	qsort(idx, m, sizeof(int), AggCompareInts);
	for (int i = 0; i < m; i++)
		if (!AggArrayPush(&arr, &k, &vals[idx[i]], error))
		{
			bson_destroy(&arr);
			return false;
		}
	AggArrayFinish(cx, &arr, out);
	return true;
}

/* ---- $arrayElemAt, $first, $last ---- */

/* The element at index i (negative: from the end), or missing */
static void
AggElementAt(AggExprContext *cx, const bson_value_t *arr, int64_t i, bson_value_t *out)
{
	int			n;
	bson_value_t *vals = AggArrayElements(cx, arr, &n);

	if (i < 0)
		i += n;
	if (i < 0 || i >= n)
		out->value_type = BSON_TYPE_EOD;
	else
		*out = vals[i];
}

static bool
AggArrayElemAt(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t arr;
	bson_value_t idx;
	int32_t		i;

	if (!AggEvalArg(e, 0, cx, &arr, error) || !AggEvalArg(e, 1, cx, &idx, error))
		return false;
	if (AggValueNullish(&arr) || AggValueNullish(&idx))
	{
		AggSetNull(out);
		return true;
	}
	if (arr.value_type != BSON_TYPE_ARRAY)
		return AggExprFail(error, 28689,
						   "$arrayElemAt's first argument must be an array, but is %s",
						   AggTypeName(&arr));
	if (!AggValueIsNumber(&idx))
		return AggExprFail(error, 28690,
						   "$arrayElemAt's second argument must be a numeric value, but is %s",
						   AggTypeName(&idx));
	if (!AggValueToInt32(&idx, &i))
		return AggExprFail(error, 28691,
						   "$arrayElemAt's second argument must be representable as a 32-bit integer: %s",
						   AggValueText(cx, &idx));
	AggElementAt(cx, &arr, i, out);
	return true;
}

/* $first and $last of an array (the accumulators are elsewhere) */
static bool
AggFirstLast(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t arr;

	if (!AggEvalArg(e, 0, cx, &arr, error))
		return false;
	if (AggValueNullish(&arr))
	{
		AggSetNull(out);
		return true;
	}
	if (arr.value_type != BSON_TYPE_ARRAY)
		return AggExprFail(error, 28689, "%s's argument must be an array, but is %s",
						   e->op->name, AggTypeName(&arr));
	AggElementAt(cx, &arr, strcmp(e->op->name, "$first") == 0 ? 0 : -1, out);
	return true;
}

/* ---- $concatArrays, $reverseArray, $size, $isArray, $in ---- */

static bool
AggConcatArrays(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_t		arr = BSON_INITIALIZER;
	uint32_t	k = 0;

	for (int i = 0; i < e->nargs; i++)
	{
		bson_value_t v;
		bson_iter_t it;

		if (!AggEvalArg(e, i, cx, &v, error))
			goto fail;
		if (AggValueNullish(&v))
		{
			bson_destroy(&arr);
			AggSetNull(out);
			return true;
		}
		if (v.value_type != BSON_TYPE_ARRAY)
		{
			AggExprFail(error, 28664, "$concatArrays only supports arrays, not %s",
						AggTypeName(&v));
			goto fail;
		}
		if (bson_iter_init_from_data(&it, v.value.v_doc.data, v.value.v_doc.data_len))
			while (bson_iter_next(&it))
				if (!AggArrayPush(&arr, &k, bson_iter_value(&it), error))
					goto fail;
	}
	AggArrayFinish(cx, &arr, out);
	return true;

fail:
	bson_destroy(&arr);
	return false;
}

static bool
AggReverseArray(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t v;
	bson_value_t *vals;
	bson_t		arr = BSON_INITIALIZER;
	uint32_t	k = 0;
	int			n;

	if (!AggEvalArg(e, 0, cx, &v, error))
		return false;
	if (AggValueNullish(&v))
	{
		bson_destroy(&arr);
		AggSetNull(out);
		return true;
	}
	if (v.value_type != BSON_TYPE_ARRAY)
	{
		bson_destroy(&arr);
		return AggExprFail(error, 34435,
						   "The argument to $reverseArray must be an array, but was of type: %s",
						   AggTypeName(&v));
	}
	vals = AggArrayElements(cx, &v, &n);
	for (int i = n - 1; i >= 0; i--)
		if (!AggArrayPush(&arr, &k, &vals[i], error))
		{
			bson_destroy(&arr);
			return false;
		}
	AggArrayFinish(cx, &arr, out);
	return true;
}

static bool
AggSize(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t v;

	if (!AggEvalArg(e, 0, cx, &v, error))
		return false;
	if (v.value_type != BSON_TYPE_ARRAY)
		return AggExprFail(error, 17124,
						   "The argument to $size must be an array. Type of argument was %s",
						   AggTypeName(&v));
	AggSetInt32(out, AggArrayLength(&v));
	return true;
}

static bool
AggIsArray(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t v;

	if (!AggEvalArg(e, 0, cx, &v, error))
		return false;
	AggSetBool(out, v.value_type == BSON_TYPE_ARRAY);
	return true;
}

static bool
AggIn(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t x;
	bson_value_t arr;
	bson_iter_t it;

	if (!AggEvalArg(e, 0, cx, &x, error) || !AggEvalArg(e, 1, cx, &arr, error))
		return false;
	if (arr.value_type != BSON_TYPE_ARRAY)
		return AggExprFail(error, 40081, "$in requires an array as a second argument, found: %s",
						   AggTypeName(&arr));
	AggSetBool(out, false);
	if (bson_iter_init_from_data(&it, arr.value.v_doc.data, arr.value.v_doc.data_len))
		while (bson_iter_next(&it))
			if (AggValueCompare(&x, bson_iter_value(&it),
								cx->in_filter ? NULL : cx->collation) == 0)
			{
				AggSetBool(out, true);
				break;
			}
	return true;
}

/* ---- $indexOfArray ---- */

/* A start or end index of $indexOfArray: an integral, nonnegative number */
static bool
AggIndexBound(AggExprContext *cx, const bson_value_t *v, const char *which, int32_t *out,
			  BsonQueryError *error)
{
	if (!AggValueIsNumber(v) || !AggValueToInt32(v, out))
		return AggExprFail(error, 9711600,
						   "$indexOfArray requires an integral %s index, found a value of type: %s, with value: %s",
						   which, AggTypeName(v), AggValueText(cx, v));
	if (*out < 0)
		return AggExprFail(error, 9711601,
						   "$indexOfArray requires a nonnegative %s index, found: %d",
						   which, *out);
	return true;
}

static bool
AggIndexOfArray(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t arr;
	bson_value_t search;
	bson_value_t *vals;
	int32_t		start = 0;
	int32_t		end;
	int			n;

	if (!AggEvalArg(e, 0, cx, &arr, error) || !AggEvalArg(e, 1, cx, &search, error))
		return false;
	if (AggValueNullish(&arr))
	{
		AggSetNull(out);
		return true;
	}
	if (arr.value_type != BSON_TYPE_ARRAY)
		return AggExprFail(error, 40090,
						   "$indexOfArray requires an array as a first argument, found: %s",
						   AggTypeName(&arr));
	vals = AggArrayElements(cx, &arr, &n);
	end = n;
	if (e->nargs > 2)
	{
		bson_value_t v;

		if (!AggEvalArg(e, 2, cx, &v, error) || !AggIndexBound(cx, &v, "starting", &start, error))
			return false;
	}
	if (e->nargs > 3)
	{
		bson_value_t v;

		if (!AggEvalArg(e, 3, cx, &v, error) || !AggIndexBound(cx, &v, "ending", &end, error))
			return false;
		end = Min(end, n);
	}
	AggSetInt32(out, -1);
	for (int32_t i = start; i < end; i++)
		if (AggValueCompare(&vals[i], &search, cx->collation) == 0)
		{
			AggSetInt32(out, i);
			break;
		}
	return true;
}

/* ---- $range ---- */

/* One bound of $range: a number that is an int32 */
static bool
AggRangeArg(AggExprContext *cx, const bson_value_t *v, const char *which, int type_code,
			int32_t *out, BsonQueryError *error)
{
	if (!AggValueIsNumber(v))
		return AggExprFail(error, type_code,
						   "$range requires a numeric %s value, found value of type: %s",
						   which, AggTypeName(v));
	if (!AggValueToInt32(v, out))
		return AggExprFail(error, type_code + 1,
						   "$range requires a%s %s value that can be represented as a 32-bit integer, found value: %s",
						   strcmp(which, "ending") == 0 ? "n" : "", which, AggValueText(cx, v));
	return true;
}

static bool
AggRange(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t v;
	int32_t		start;
	int32_t		end;
	int32_t		step = 1;
	int64_t		count = 0;
	bson_t		arr = BSON_INITIALIZER;
	uint32_t	k = 0;

	if (!AggEvalArg(e, 0, cx, &v, error) ||
		!AggRangeArg(cx, &v, "starting", 34443, &start, error) ||
		!AggEvalArg(e, 1, cx, &v, error) ||
		!AggRangeArg(cx, &v, "ending", 34445, &end, error))
		goto fail;
	if (e->nargs > 2)
	{
		if (!AggEvalArg(e, 2, cx, &v, error) ||
			!AggRangeArg(cx, &v, "step", 34447, &step, error))
			goto fail;
		if (step == 0)
		{
			AggExprFail(error, 34449, "$range requires a non-zero step value");
			goto fail;
		}
	}
	if ((step > 0 && start < end) || (step < 0 && start > end))
	{
		int64_t		span = (int64_t) end - start;

		count = (span + step + (step > 0 ? -1 : 1)) / step;
	}
	if (count * AGG_RANGE_VALUE_BYTES > AGG_RANGE_MAX_BYTES)
	{
		AggExprFail(error, AGG_ERR_MEMORY_LIMIT,
					"$range would use too much memory (%lld bytes) and cannot spill to disk. Memory limit: %lld bytes",
					(long long) (count * AGG_RANGE_VALUE_BYTES), (long long) AGG_RANGE_MAX_BYTES);
		goto fail;
	}
	for (int64_t i = 0; i < count; i++)
	{
		bson_value_t x;

		AggSetInt32(&x, (int32_t) (start + i * step));
		if (!AggArrayPush(&arr, &k, &x, error))
			goto fail;
	}
	AggArrayFinish(cx, &arr, out);
	return true;

fail:
	bson_destroy(&arr);
	return false;
}

/* ---- $slice ---- */

static bool
AggSlice(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	static const char *const ordinal[] = {"First", "Second", "Third"};
	bson_value_t args[3];
	int32_t		num[3] = {0, 0, 0};
	bson_value_t *vals;
	int64_t		n;
	int64_t		start;
	int64_t		count;
	bson_t		arr = BSON_INITIALIZER;
	uint32_t	k = 0;
	int			len;

	memset(args, 0, sizeof(args));
	for (int i = 0; i < e->nargs; i++)
		if (!AggEvalArg(e, i, cx, &args[i], error))
			goto fail;
	for (int i = 0; i < e->nargs; i++)
		if (AggValueNullish(&args[i]))
		{
			bson_destroy(&arr);
			AggSetNull(out);
			return true;
		}
	if (args[0].value_type != BSON_TYPE_ARRAY)
	{
		AggExprFail(error, 28724, "First argument to $slice must be an array, but is of type: %s",
					AggTypeName(&args[0]));
		goto fail;
	}
	for (int i = 1; i < e->nargs; i++)
	{
		/* 28725/28726 for the second argument, 28727/28728 for the third */
		int			code = i == 1 ? 28725 : 28727;

		if (!AggValueIsNumber(&args[i]))
		{
			AggExprFail(error, code, "%s argument to $slice must be a numeric value, but is of type: %s",
						ordinal[i], AggTypeName(&args[i]));
			goto fail;
		}
		if (!AggValueToInt32(&args[i], &num[i]))
		{
			AggExprFail(error, code + 1, "%s argument to $slice can't be represented as a 32-bit integer: %s",
						ordinal[i], AggValueText(cx, &args[i]));
			goto fail;
		}
	}
	if (e->nargs == 3 && num[2] <= 0)
	{
		AggExprFail(error, 28729, "Third argument to $slice must be positive: %d", num[2]);
		goto fail;
	}
	vals = AggArrayElements(cx, &args[0], &len);
	n = len;
	if (e->nargs == 2)
	{
		/* n: the first n elements; -n: the last n */
		start = num[1] >= 0 ? 0 : Max(n + num[1], 0);
		count = num[1] >= 0 ? Min((int64_t) num[1], n) : n - start;
	}
	else
	{
		/* [position, n]: a negative position counts from the end */
		start = num[1] >= 0 ? Min((int64_t) num[1], n) : Max(n + num[1], 0);
		count = Min((int64_t) num[2], n - start);
	}
	for (int64_t i = start; i < start + count; i++)
		if (!AggArrayPush(&arr, &k, &vals[i], error))
			goto fail;
	AggArrayFinish(cx, &arr, out);
	return true;

fail:
	bson_destroy(&arr);
	return false;
}

/* ---- $map, $filter, $reduce: operators that bind variables ---- */

typedef struct AggLoopData
{
	int			slot;			/* the element ("as"; $$this for $reduce) */
	int			value_slot;		/* $$value of $reduce */
} AggLoopData;

/*
 * The name of the "as" variable of $map/$filter: a string that is a valid
 * user variable name; "this" when absent.
 */
static bool
AggParseAsName(AggExprParser *p, const char *opname, const bson_iter_t *as, const char **name)
{
	uint32_t	len;

	if (as == NULL)
	{
		*name = "this";
		return true;
	}
	if (!BSON_ITER_HOLDS_UTF8(as))
		return AggExprFail(p->error, 9, "%s 'as' must be a string, found: %s", opname,
						   BsonTypeName(bson_iter_type(as)));
	*name = bson_iter_utf8(as, &len);
	if (len == 0 || strlen(*name) != len)
		return AggExprFail(p->error, 9, "empty variable names are not allowed");
	return AggExprCheckVariableName(p, *name);
}

/*
 * $map: {input, as, in}; $filter: {input, as, cond, limit}.  args: input,
 * in/cond, then limit (NULL when absent).
 */
static bool
AggMapFilterParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	bool		filter = strcmp(e->op->name, "$filter") == 0;
	const char *inner_name = filter ? "cond" : "in";
	bson_iter_t it;
	bson_iter_t input;
	bson_iter_t as;
	bson_iter_t inner;
	bson_iter_t limit;
	bool		have_input = false;
	bool		have_as = false;
	bool		have_inner = false;
	bool		have_limit = false;
	const char *name = NULL;
	AggLoopData *data;

	if (!BSON_ITER_HOLDS_DOCUMENT(arg))
		return AggExprFail(p->error, filter ? 28646 : 16878,
						   "%s only supports an object as its argument", e->op->name);
	bson_iter_recurse(arg, &it);
	while (bson_iter_next(&it))
	{
		const char *k = bson_iter_key(&it);

		if (strcmp(k, "input") == 0)
		{
			input = it;
			have_input = true;
		}
		else if (strcmp(k, "as") == 0)
		{
			as = it;
			have_as = true;
		}
		else if (strcmp(k, inner_name) == 0)
		{
			inner = it;
			have_inner = true;
		}
		else if (filter && strcmp(k, "limit") == 0)
		{
			limit = it;
			have_limit = true;
		}
		else
			return AggExprFail(p->error, filter ? 28647 : 16879,
							   "Unrecognized parameter to %s: %s", e->op->name, k);
	}
	if (!have_input)
		return AggExprFail(p->error, filter ? 28648 : 16880,
						   "Missing 'input' parameter to %s", e->op->name);
	if (!have_inner)
		return AggExprFail(p->error, filter ? 28650 : 16882,
						   "Missing '%s' parameter to %s", inner_name, e->op->name);
	if (!AggParseAsName(p, e->op->name, have_as ? &as : NULL, &name))
		return false;

	e->nargs = 3;
	e->args = AggParseAlloc(p, sizeof(AggExpr *) * 3);
	data = AggParseAlloc(p, sizeof(AggLoopData));
	e->data = data;
	/* input and limit are outside the variable's scope */
	if ((e->args[0] = AggExprParseSub(p, &input)) == NULL)
		return false;
	if (have_limit && (e->args[2] = AggExprParseSub(p, &limit)) == NULL)
		return false;
	AggExprScopePush(p->scope);
	data->slot = AggExprScopeDefine(p->scope, name);
	e->args[1] = AggExprParseSub(p, &inner);
	AggExprScopePop(p->scope);
	return e->args[1] != NULL;
}

static bool
AggMap(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	const AggLoopData *data = e->data;
	bson_value_t input;
	bson_t		arr = BSON_INITIALIZER;
	uint32_t	k = 0;
	bson_iter_t it;

	if (!AggEvalArg(e, 0, cx, &input, error))
		goto fail;
	if (AggValueNullish(&input))
	{
		bson_destroy(&arr);
		AggSetNull(out);
		return true;
	}
	if (input.value_type != BSON_TYPE_ARRAY)
	{
		AggExprFail(error, 16883, "input to $map must be an array not %s", AggTypeName(&input));
		goto fail;
	}
	if (bson_iter_init_from_data(&it, input.value.v_doc.data, input.value.v_doc.data_len))
		while (bson_iter_next(&it))
		{
			bson_value_t v;

			if (AggArenaOverLimit(cx, error) ||
				!AggSetSlot(cx, data->slot, bson_iter_value(&it), error) ||
				!AggEvalArg(e, 1, cx, &v, error) ||
				!AggArrayPush(&arr, &k, &v, error))
				goto fail;
		}
	AggArrayFinish(cx, &arr, out);
	return true;

fail:
	bson_destroy(&arr);
	return false;
}

static bool
AggFilter(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	const AggLoopData *data = e->data;
	bson_value_t input;
	int64_t		limit = -1;
	bson_t		arr = BSON_INITIALIZER;
	uint32_t	k = 0;
	bson_iter_t it;

	if (!AggEvalArg(e, 0, cx, &input, error))
		goto fail;
	if (AggValueNullish(&input))
	{
		bson_destroy(&arr);
		AggSetNull(out);
		return true;
	}
	if (input.value_type != BSON_TYPE_ARRAY)
	{
		AggExprFail(error, 28651, "input to $filter must be an array not %s", AggTypeName(&input));
		goto fail;
	}
	if (e->args[2] != NULL)
	{
		bson_value_t v;
		int32_t		l;

		if (!AggEvalArg(e, 2, cx, &v, error))
			goto fail;
		if (!AggValueNullish(&v))
		{
			if (!AggValueToInt32(&v, &l))
			{
				AggExprFail(error, 327391,
							"$filter: limit must be represented as a 32-bit integral value: %s",
							AggValueText(cx, &v));
				goto fail;
			}
			if (l < 1)
			{
				AggExprFail(error, 327392, "$filter: limit must be greater than 0: %d", l);
				goto fail;
			}
			limit = l;
		}
	}
	if (bson_iter_init_from_data(&it, input.value.v_doc.data, input.value.v_doc.data_len))
		while ((limit < 0 || k < limit) && bson_iter_next(&it))
		{
			bson_value_t elem = *bson_iter_value(&it);
			bson_value_t v;

			if (AggArenaOverLimit(cx, error) ||
				!AggSetSlot(cx, data->slot, &elem, error) ||
				!AggEvalArg(e, 1, cx, &v, error))
				goto fail;
			if (AggValueTrue(&v) && !AggArrayPush(&arr, &k, &elem, error))
				goto fail;
		}
	AggArrayFinish(cx, &arr, out);
	return true;

fail:
	bson_destroy(&arr);
	return false;
}

/*
 * $reduce: {input, initialValue, in}; args: input, initialValue, in.
 * (bson_iter_t is 128-byte aligned: three variables, not an array.)
 */
static bool
AggReduceParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	bson_iter_t it;
	bson_iter_t input;
	bson_iter_t initial;
	bson_iter_t in;
	bool		have_input = false;
	bool		have_initial = false;
	bool		have_in = false;
	AggLoopData *data;

	if (!BSON_ITER_HOLDS_DOCUMENT(arg))
		return AggExprFail(p->error, 40075, "$reduce requires an object as an argument, found: %s",
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
		else if (strcmp(k, "initialValue") == 0)
		{
			initial = it;
			have_initial = true;
		}
		else if (strcmp(k, "in") == 0)
		{
			in = it;
			have_in = true;
		}
		else
			return AggExprFail(p->error, 40076, "$reduce found an unknown argument: %s", k);
	}
	if (!have_input)
		return AggExprFail(p->error, 40077, "$reduce requires 'input' to be specified");
	if (!have_initial)
		return AggExprFail(p->error, 40078, "$reduce requires 'initialValue' to be specified");
	if (!have_in)
		return AggExprFail(p->error, 40079, "$reduce requires 'in' to be specified");
	e->nargs = 3;
	e->args = AggParseAlloc(p, sizeof(AggExpr *) * 3);
	data = AggParseAlloc(p, sizeof(AggLoopData));
	e->data = data;
	if ((e->args[0] = AggExprParseSub(p, &input)) == NULL ||
		(e->args[1] = AggExprParseSub(p, &initial)) == NULL)
		return false;
	/* this and value are reserved names: defined directly */
	AggExprScopePush(p->scope);
	data->slot = AggExprScopeDefine(p->scope, "this");
	data->value_slot = AggExprScopeDefine(p->scope, "value");
	e->args[2] = AggExprParseSub(p, &in);
	AggExprScopePop(p->scope);
	return e->args[2] != NULL;
}

static bool
AggReduce(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	const AggLoopData *data = e->data;
	bson_value_t input;
	bson_value_t acc;
	bson_iter_t it;

	if (!AggEvalArg(e, 0, cx, &input, error))
		return false;
	if (AggValueNullish(&input))
	{
		AggSetNull(out);
		return true;
	}
	if (input.value_type != BSON_TYPE_ARRAY)
		return AggExprFail(error, 40080, "$reduce requires that 'input' be an array, found: %s",
						   AggTypeName(&input));
	if (!AggEvalArg(e, 1, cx, &acc, error))
		return false;
	if (bson_iter_init_from_data(&it, input.value.v_doc.data, input.value.v_doc.data_len))
		while (bson_iter_next(&it))
		{
			if (AggArenaOverLimit(cx, error) ||
				!AggSetSlot(cx, data->slot, bson_iter_value(&it), error) ||
				!AggSetSlot(cx, data->value_slot, &acc, error) ||
				!AggEvalArg(e, 2, cx, &acc, error))
				return false;
		}
	*out = acc;
	return true;
}

/* ---- $zip ---- */

typedef struct AggZipData
{
	int			ninputs;		/* args: the inputs, then the defaults */
	bool		longest;
	bool		has_defaults;
} AggZipData;

static int
AggCountElements(const bson_iter_t *arr)
{
	bson_iter_t it;
	int			n = 0;

	bson_iter_recurse(arr, &it);
	while (bson_iter_next(&it))
		n++;
	return n;
}

static bool
AggZipParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	bson_iter_t it;
	bson_iter_t inputs;
	bson_iter_t defaults;
	bool		have_inputs = false;
	bool		have_defaults = false;
	AggZipData *data = AggParseAlloc(p, sizeof(AggZipData));
	int			ndefaults = 0;

	if (!BSON_ITER_HOLDS_DOCUMENT(arg))
		return AggExprFail(p->error, 34460, "$zip only supports an object as an argument, found %s",
						   BsonTypeName(bson_iter_type(arg)));
	bson_iter_recurse(arg, &it);
	while (bson_iter_next(&it))
	{
		const char *k = bson_iter_key(&it);

		if (strcmp(k, "inputs") == 0)
		{
			if (!BSON_ITER_HOLDS_ARRAY(&it))
				return AggExprFail(p->error, 34461, "inputs must be an array of expressions, found %s",
								   BsonTypeName(bson_iter_type(&it)));
			inputs = it;
			have_inputs = true;
		}
		else if (strcmp(k, "defaults") == 0)
		{
			if (!BSON_ITER_HOLDS_ARRAY(&it))
				return AggExprFail(p->error, 34462, "defaults must be an array of expressions, found %s",
								   BsonTypeName(bson_iter_type(&it)));
			defaults = it;
			have_defaults = true;
		}
		else if (strcmp(k, "useLongestLength") == 0)
		{
			if (!BSON_ITER_HOLDS_BOOL(&it))
				return AggExprFail(p->error, 34463, "useLongestLength must be a bool, found %s",
								   BsonTypeName(bson_iter_type(&it)));
			data->longest = bson_iter_bool(&it);
		}
		else
			return AggExprFail(p->error, 34464, "$zip found an unknown argument: %s", k);
	}
	if (have_inputs)
		data->ninputs = AggCountElements(&inputs);
	if (data->ninputs == 0)
		return AggExprFail(p->error, 34465, "$zip requires at least one input array");
	if (have_defaults)
	{
		if (!data->longest)
			return AggExprFail(p->error, 34466, "cannot specify defaults unless useLongestLength is true");
		ndefaults = AggCountElements(&defaults);
		if (ndefaults != data->ninputs)
			return AggExprFail(p->error, 34467, "defaults and inputs must have the same length");
		data->has_defaults = true;
	}
	e->nargs = data->ninputs + ndefaults;
	e->args = AggParseAlloc(p, sizeof(AggExpr *) * e->nargs);
	e->data = data;
	bson_iter_recurse(&inputs, &it);
	for (int i = 0; bson_iter_next(&it) && i < data->ninputs; i++)
		if ((e->args[i] = AggExprParseSub(p, &it)) == NULL)
			return false;
	if (have_defaults)
	{
		bson_iter_recurse(&defaults, &it);
		for (int i = 0; bson_iter_next(&it) && i < ndefaults; i++)
			if ((e->args[data->ninputs + i] = AggExprParseSub(p, &it)) == NULL)
				return false;
	}
	return true;
}

static bool
AggZip(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	const AggZipData *data = e->data;
	int			k = data->ninputs;
	bson_value_t **vals = AggEvalAlloc(cx, sizeof(bson_value_t *) * k);
	int		   *lens = AggEvalAlloc(cx, sizeof(int) * k);
	bson_value_t *dflt = AggEvalAlloc(cx, sizeof(bson_value_t) * k);
	int			rows = 0;
	bson_t		arr = BSON_INITIALIZER;
	uint32_t	n = 0;

	for (int i = 0; i < k; i++)
	{
		bson_value_t v;

		if (!AggEvalArg(e, i, cx, &v, error))
			goto fail;
		if (AggValueNullish(&v))
		{
			bson_destroy(&arr);
			AggSetNull(out);
			return true;
		}
		if (v.value_type != BSON_TYPE_ARRAY)
		{
			AggExprFail(error, 34468, "$zip found a non-array expression in input: %s",
						AggValueText(cx, &v));
			goto fail;
		}
		vals[i] = AggArrayElements(cx, &v, &lens[i]);
		if (i == 0)
			rows = lens[i];
		else
			rows = data->longest ? Max(rows, lens[i]) : Min(rows, lens[i]);
	}
	for (int i = 0; i < k; i++)
	{
		if (!data->has_defaults)
			AggSetNull(&dflt[i]);
		else if (!AggEvalArg(e, k + i, cx, &dflt[i], error))
			goto fail;
	}
	for (int r = 0; r < rows; r++)
	{
		bson_t		row = BSON_INITIALIZER;
		uint32_t	m = 0;
		bson_value_t rv;

		for (int i = 0; i < k; i++)
			if (!AggArrayPush(&row, &m, r < lens[i] ? &vals[i][r] : &dflt[i], error))
			{
				bson_destroy(&row);
				goto fail;
			}
		rv.value_type = BSON_TYPE_ARRAY;
		rv.value.v_doc.data = (uint8_t *) bson_get_data(&row);
		rv.value.v_doc.data_len = row.len;
		if (!AggArrayPush(&arr, &n, &rv, error))
		{
			bson_destroy(&row);
			goto fail;
		}
		bson_destroy(&row);
	}
	AggArrayFinish(cx, &arr, out);
	return true;

fail:
	bson_destroy(&arr);
	return false;
}

/* ---- $sortArray ---- */

typedef struct AggSortArrayData
{
	int			direction;		/* sortBy: 1 or -1, or 0 for a pattern */
	int			nfields;		/* the pattern's fields */
	char	  **paths;
	bool	   *descending;
} AggSortArrayData;

/* A sortBy number: 1 or -1 exactly */
static bool
AggSortDirection(const bson_iter_t *it, int *dir)
{
	bson_value_t v = *bson_iter_value((bson_iter_t *) it);
	int32_t		i;

	if (!AggValueIsNumber(&v) || !AggValueToInt32(&v, &i) || (i != 1 && i != -1))
		return false;
	*dir = i;
	return true;
}

static bool
AggSortArrayParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	bson_iter_t it;
	bson_iter_t input;
	bson_iter_t sortby;
	bool		have_input = false;
	bool		have_sortby = false;
	AggSortArrayData *data = AggParseAlloc(p, sizeof(AggSortArrayData));

	if (!BSON_ITER_HOLDS_DOCUMENT(arg))
		return AggExprFail(p->error, 2942500, "$sortArray requires an object as an argument, found: %s",
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
		else if (strcmp(k, "sortBy") == 0)
		{
			sortby = it;
			have_sortby = true;
		}
		else
			return AggExprFail(p->error, 2942501, "$sortArray found an unknown argument: %s", k);
	}
	if (!have_input)
		return AggExprFail(p->error, 2942502, "$sortArray requires 'input' to be specified");
	if (!have_sortby)
		return AggExprFail(p->error, 2942503, "$sortArray requires 'sortBy' to be specified");
	if (BSON_ITER_HOLDS_DOCUMENT(&sortby))
	{
		int			n = 0;

		/*
		 * A sort pattern {path: 1 or -1, ...}.  Unlike a $sort stage's, its
		 * paths may start with "$" (they name fields of the elements).
		 */
		bson_iter_recurse(&sortby, &it);
		while (bson_iter_next(&it))
		{
			int			dir;

			if (!AggSortDirection(&it, &dir))
				return AggExprFail(p->error, 2942505,
								   "$sortArray sortBy must be a valid sort pattern: %s must be 1 or -1",
								   bson_iter_key(&it));
			if (bson_iter_key(&it)[0] == '\0')
				return AggExprFail(p->error, 2942505,
								   "$sortArray sortBy must be a valid sort pattern: empty field name");
			n++;
		}
		if (n == 0)
			return AggExprFail(p->error, 2942505, "$sortArray sortBy must not be empty");
		data->nfields = n;
		data->paths = AggParseAlloc(p, sizeof(char *) * n);
		data->descending = AggParseAlloc(p, sizeof(bool) * n);
		bson_iter_recurse(&sortby, &it);
		for (int i = 0; bson_iter_next(&it) && i < n; i++)
		{
			int			dir = 1;

			(void) AggSortDirection(&it, &dir);
			data->paths[i] = AggParseStrdup(p, bson_iter_key(&it));
			data->descending[i] = dir < 0;
		}
	}
	else if (AggValueIsNumber(bson_iter_value(&sortby)))
	{
		if (!AggSortDirection(&sortby, &data->direction))
			return AggExprFail(p->error, 2942506, "$sortArray sortBy must be 1 or -1");
	}
	else
		return AggExprFail(p->error, 2942507, "$sortArray sortBy must be either a number or an object");
	e->nargs = 1;
	e->args = AggParseAlloc(p, sizeof(AggExpr *));
	e->data = data;
	e->args[0] = AggExprParseSub(p, &input);
	return e->args[0] != NULL;
}

typedef struct AggPatternSort
{
	const AggSortArrayData *data;
	const bson_value_t *keys;	/* nfields per element */
	const struct BsonCollation *collation;
} AggPatternSort;

static int
AggComparePattern(const void *a, const void *b, void *arg)
{
	const AggPatternSort *s = arg;
	int			ia = *(const int *) a;
	int			ib = *(const int *) b;
	int			nf = s->data->nfields;

	for (int f = 0; f < nf; f++)
	{
		int			c = AggValueCompare(&s->keys[ia * nf + f], &s->keys[ib * nf + f],
										s->collation);

		if (c != 0)
			return s->data->descending[f] ? -c : c;
	}
	return ia < ib ? -1 : (ia > ib ? 1 : 0);
}

static bool
AggSortArray(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	const AggSortArrayData *data = e->data;
	bson_value_t input;
	bson_value_t *vals;
	int		   *idx;
	int			n;
	bson_t		arr = BSON_INITIALIZER;
	uint32_t	k = 0;

	if (!AggEvalArg(e, 0, cx, &input, error))
		goto fail;
	if (AggValueNullish(&input))
	{
		bson_destroy(&arr);
		AggSetNull(out);
		return true;
	}
	if (input.value_type != BSON_TYPE_ARRAY)
	{
		AggExprFail(error, 2942504, "The input argument to $sortArray must be an array, but was of type: %s",
					AggTypeName(&input));
		goto fail;
	}
	vals = AggArrayElements(cx, &input, &n);
	idx = AggEvalAlloc(cx, sizeof(int) * Max(n, 1));
	for (int i = 0; i < n; i++)
		idx[i] = i;
	if (data->direction != 0)
	{
		AggIndexSort s = {vals, cx->collation, data->direction < 0};

		qsort_arg(idx, n, sizeof(int), AggCompareIndexes, &s);
	}
	else
	{
		int			nf = data->nfields;
		bson_value_t *keys = AggEvalAlloc(cx, sizeof(bson_value_t) * Max(n * nf, 1));
		AggPatternSort s = {data, keys, cx->collation};

		/* the sort keys of each element; those of a non-document are null */
		for (int i = 0; i < n; i++)
			for (int f = 0; f < nf; f++)
			{
				if (vals[i].value_type == BSON_TYPE_DOCUMENT)
					BsonSortKeyCollated(vals[i].value.v_doc.data, vals[i].value.v_doc.data_len,
										data->paths[f], data->descending[f], cx->collation,
										&keys[i * nf + f]);
				else
					AggSetNull(&keys[i * nf + f]);
			}
		qsort_arg(idx, n, sizeof(int), AggComparePattern, &s);
	}
	for (int i = 0; i < n; i++)
		if (!AggArrayPush(&arr, &k, &vals[idx[i]], error))
			goto fail;
	AggArrayFinish(cx, &arr, out);
	return true;

fail:
	bson_destroy(&arr);
	return false;
}

/* ---- set operators ---- */

/*
 * $setEquals: two or more arrays; a constant that is not an array is
 * refused when parsing (5887502), as MongoDB does.
 */
static bool
AggSetEqualsParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	bson_iter_t it;
	int			n = 0;

	if (BSON_ITER_HOLDS_ARRAY(arg))
		n = AggCountElements(arg);
	if (n < 2)
		return AggExprFail(p->error, 17045, "$setEquals needs at least two arguments had: %d",
						   BSON_ITER_HOLDS_ARRAY(arg) ? n : 1);
	e->nargs = n;
	e->args = AggParseAlloc(p, sizeof(AggExpr *) * n);
	bson_iter_recurse(arg, &it);
	for (int i = 0; bson_iter_next(&it) && i < n; i++)
	{
		if ((e->args[i] = AggExprParseSub(p, &it)) == NULL)
			return false;
		if (e->args[i]->kind == AGG_EXPR_CONST && e->args[i]->value.value_type != BSON_TYPE_ARRAY)
			return AggExprFail(p->error, 5887502,
							   "All operands of $setEquals must be arrays. One argument is of type: %s",
							   AggTypeName(&e->args[i]->value));
		if (e->args[i]->kind == AGG_EXPR_OBJECT && AggExprIsConstant(e->args[i]))
			return AggExprFail(p->error, 5887502,
							   "All operands of $setEquals must be arrays. One argument is of type: object");
	}
	return true;
}

static bool
AggSetEquals(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t *first = NULL;
	int		   *first_idx = NULL;
	int			first_m = 0;

	AggSetBool(out, true);
	for (int i = 0; i < e->nargs; i++)
	{
		bson_value_t v;
		bson_value_t *vals;
		int		   *idx;
		int			n;
		int			m;

		if (!AggEvalArg(e, i, cx, &v, error))
			return false;
		if (v.value_type != BSON_TYPE_ARRAY)
			return AggExprFail(error, 17044,
							   "All operands of $setEquals must be arrays. One argument is of type: %s",
							   AggTypeName(&v));
		vals = AggArrayElements(cx, &v, &n);
		m = AggSetDistinct(cx, vals, n, &idx);
		if (i == 0)
		{
			first = vals;
			first_idx = idx;
			first_m = m;
			continue;
		}
		/* both sorted and distinct: equal sets are equal element by element */
		if (m != first_m)
			AggSetBool(out, false);
		else
			for (int j = 0; j < m; j++)
				if (AggValueCompare(&first[first_idx[j]], &vals[idx[j]], cx->collation) != 0)
				{
					AggSetBool(out, false);
					break;
				}
	}
	return true;
}

/* $setIntersection and $setUnion: any number of arrays; null if one is null */
static bool
AggSetIntersectionUnion(const AggExpr *e, AggExprContext *cx, bson_value_t *out,
						BsonQueryError *error)
{
	bool		is_union = strcmp(e->op->name, "$setUnion") == 0;
	bson_value_t *args = AggEvalAlloc(cx, sizeof(bson_value_t) * Max(e->nargs, 1));
	bson_value_t *all;
	int			total = 0;

	for (int i = 0; i < e->nargs; i++)
	{
		if (!AggEvalArg(e, i, cx, &args[i], error))
			return false;
		if (AggValueNullish(&args[i]))
		{
			AggSetNull(out);
			return true;
		}
		if (args[i].value_type != BSON_TYPE_ARRAY)
			return AggExprFail(error, is_union ? 17043 : 17047,
							   "All operands of %s must be arrays. One argument is of type: %s",
							   e->op->name, AggTypeName(&args[i]));
		total += AggArrayLength(&args[i]);
	}
	if (e->nargs == 0)
	{
		bson_t		empty = BSON_INITIALIZER;

		AggArrayFinish(cx, &empty, out);
		return true;
	}
	if (is_union)
	{
		int		   *idx;
		int			m;

		/* every element, in order; the first occurrence of each value */
		all = AggEvalAlloc(cx, sizeof(bson_value_t) * Max(total, 1));
		total = 0;
		for (int i = 0; i < e->nargs; i++)
		{
			int			n;
			bson_value_t *vals = AggArrayElements(cx, &args[i], &n);

			memcpy(all + total, vals, sizeof(bson_value_t) * n);
			total += n;
		}
		m = AggSetDistinct(cx, all, total, &idx);
		return AggSetResult(cx, all, idx, m, out, error);
	}
	else
	{
		int			n;
		bson_value_t *vals = AggArrayElements(cx, &args[0], &n);
		int		   *idx;
		int			m = AggSetDistinct(cx, vals, n, &idx);

		/* the distinct values of the first array that every other one has */
		for (int i = 1; i < e->nargs && m > 0; i++)
		{
			int			on;
			bson_value_t *other = AggArrayElements(cx, &args[i], &on);
			int		   *oidx;
			int			om = AggSetDistinct(cx, other, on, &oidx);
			int			keep = 0;

			for (int j = 0; j < m; j++)
				if (AggSetContains(cx, other, oidx, om, &vals[idx[j]]))
					idx[keep++] = idx[j];
			m = keep;
		}
		return AggSetResult(cx, vals, idx, m, out, error);
	}
}

/* $setDifference: the distinct elements of the first array not in the second */
static bool
AggSetDifference(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t a;
	bson_value_t b;
	bson_value_t *av;
	bson_value_t *bv;
	int		   *aidx;
	int		   *bidx;
	int			an;
	int			bn;
	int			am;
	int			bm;
	int			keep = 0;

	if (!AggEvalArg(e, 0, cx, &a, error) || !AggEvalArg(e, 1, cx, &b, error))
		return false;
	if (AggValueNullish(&a) || AggValueNullish(&b))
	{
		AggSetNull(out);
		return true;
	}
	if (a.value_type != BSON_TYPE_ARRAY)
		return AggExprFail(error, 17048,
						   "both operands of $setDifference must be arrays. First argument is of type: %s",
						   AggTypeName(&a));
	if (b.value_type != BSON_TYPE_ARRAY)
		return AggExprFail(error, 17049,
						   "both operands of $setDifference must be arrays. Second argument is of type: %s",
						   AggTypeName(&b));
	av = AggArrayElements(cx, &a, &an);
	bv = AggArrayElements(cx, &b, &bn);
	am = AggSetDistinct(cx, av, an, &aidx);
	bm = AggSetDistinct(cx, bv, bn, &bidx);
	for (int j = 0; j < am; j++)
		if (!AggSetContains(cx, bv, bidx, bm, &av[aidx[j]]))
			aidx[keep++] = aidx[j];
	return AggSetResult(cx, av, aidx, keep, out, error);
}

/* $setIsSubset: whether every element of the first array is in the second */
static bool
AggSetIsSubset(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t a;
	bson_value_t b;
	bson_value_t *av;
	bson_value_t *bv;
	int		   *bidx;
	int			an;
	int			bn;
	int			bm;

	if (!AggEvalArg(e, 0, cx, &a, error) || !AggEvalArg(e, 1, cx, &b, error))
		return false;
	if (a.value_type != BSON_TYPE_ARRAY)
		return AggExprFail(error, 17046,
						   "both operands of $setIsSubset must be arrays. First argument is of type: %s",
						   AggTypeName(&a));
	if (b.value_type != BSON_TYPE_ARRAY)
		return AggExprFail(error, 17042,
						   "both operands of $setIsSubset must be arrays. Second argument is of type: %s",
						   AggTypeName(&b));
	av = AggArrayElements(cx, &a, &an);
	bv = AggArrayElements(cx, &b, &bn);
	bm = AggSetDistinct(cx, bv, bn, &bidx);
	AggSetBool(out, true);
	for (int j = 0; j < an; j++)
		if (!AggSetContains(cx, bv, bidx, bm, &av[j]))
		{
			AggSetBool(out, false);
			break;
		}
	return true;
}

/* $anyElementTrue and $allElementsTrue: [array] */
static bool
AggElementsTrue(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bool		any = strcmp(e->op->name, "$anyElementTrue") == 0;
	bson_value_t v;
	bson_iter_t it;

	if (!AggEvalArg(e, 0, cx, &v, error))
		return false;
	if (v.value_type != BSON_TYPE_ARRAY)
		return AggExprFail(error, any ? 17041 : 17040, "%s's argument must be an array, but is %s",
						   e->op->name, AggTypeName(&v));
	AggSetBool(out, !any);
	if (bson_iter_init_from_data(&it, v.value.v_doc.data, v.value.v_doc.data_len))
		while (bson_iter_next(&it))
			if (AggValueTrue(bson_iter_value(&it)) == any)
			{
				AggSetBool(out, any);
				break;
			}
	return true;
}

/* ---- $firstN, $lastN, $maxN, $minN, $median, $percentile over arrays ---- */

/* {input, n} of the N operators; {input, method} and p of the percentiles */
static bool
AggNParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	static const char *const n_names[] = {"input", "n"};
	static const char *const pct_names[] = {"input", "method", "p"};
	bool		pct = strcmp(e->op->name, "$median") == 0 ||
		strcmp(e->op->name, "$percentile") == 0;
	bool		median = strcmp(e->op->name, "$median") == 0;
	const char *k;

	if (!BSON_ITER_HOLDS_DOCUMENT(arg))
		return AggExprFail(p->error, pct ? AGG_ERR_TYPE_MISMATCH : 5787900,
						   "specification of %s must be an object, found %s",
						   e->op->name, BsonTypeName(bson_iter_type(arg)));
	if (!AggParseArgsByName(p, e, arg, pct ? pct_names : n_names, pct ? (median ? 2 : 3) : 2, &k))
	{
		if (k == NULL)
			return false;
		if (pct)
			return AggExprFail(p->error, 40415, "BSON field '%s.%s' is an unknown field.",
							   e->op->name, k);
		return AggExprFail(p->error, 5787901, "Unknown argument for '%s' to %s", k, e->op->name);
	}
	if (e->args[0] == NULL)
		return pct ? AggExprFail(p->error, 40414, "BSON field '%s.input' is missing but a required field",
								 e->op->name) :
			AggExprFail(p->error, 5787907, "Missing value for 'input'");
	if (!pct && e->args[1] == NULL)
		return AggExprFail(p->error, 5787906, "Missing value for 'n'");
	if (pct)
	{
		const AggExpr *m = e->args[1];
		const char *name;

		if (m == NULL)
			return AggExprFail(p->error, 40414, "BSON field '%s.method' is missing but a required field",
							   e->op->name);
		if (m->kind != AGG_EXPR_CONST || m->value.value_type != BSON_TYPE_UTF8)
			return AggExprFail(p->error, AGG_ERR_TYPE_MISMATCH,
							   "BSON field '%s.method' is the wrong type, expected type 'string'",
							   e->op->name);
		name = m->value.value.v_utf8.str;
		if (strcmp(name, "approximate") != 0 && strcmp(name, "discrete") != 0 &&
			strcmp(name, "continuous") != 0)
			return AggExprFail(p->error, AGG_ERR_BAD_VALUE,
							   "Enumeration value '%s' for field '%s.method' is not a valid value.",
							   name, e->op->name);
		if (!median && e->args[2] == NULL)
			return AggExprFail(p->error, 40414, "BSON field '%s.p' is missing but a required field",
							   e->op->name);
	}
	return true;
}

/* An N operator: the first, last, largest or smallest n elements */
static bool
AggNEval(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	const char *name = e->op->name;
	bson_value_t in;
	bson_value_t nv;
	bson_value_t *vals;
	int		   *idx;
	int			count;
	int			m = 0;
	int64_t		n;
	bson_t		arr = BSON_INITIALIZER;
	uint32_t	k = 0;
	bool		maxn = strcmp(name, "$maxN") == 0;
	bool		minn = strcmp(name, "$minN") == 0;
	bool		lastn = strcmp(name, "$lastN") == 0;

	if (!AggEvalArg(e, 1, cx, &nv, error) || !AggEvalArg(e, 0, cx, &in, error))
	{
		bson_destroy(&arr);
		return false;
	}
	if (!AggValueIsNumber(&nv) || AggNumberAsDouble(&nv) != floor(AggNumberAsDouble(&nv)) ||
		AggNumberAsDouble(&nv) < 1 || AggNumberAsDouble(&nv) > (double) INT32_MAX)
	{
		bson_destroy(&arr);
		return AggExprFail(error, 5787902, "Value for 'n' must be a positive integral number, found: %s",
						   AggValueText(cx, &nv));
	}
	n = (int64_t) AggNumberAsDouble(&nv);
	if (in.value_type != BSON_TYPE_ARRAY)
	{
		bson_destroy(&arr);
		return AggExprFail(error, 5788200, "Input must be an array, found: %s",
						   AggTypeName(&in));
	}
	vals = AggArrayElements(cx, &in, &count);
	idx = AggEvalAlloc(cx, sizeof(int) * Max(count, 1));
	for (int i = 0; i < count; i++)
		if (!((maxn || minn) && AggValueNullish(&vals[i])))
			idx[m++] = i;
	if (maxn || minn)
	{
		AggIndexSort so = {vals, cx->collation, maxn};

		qsort_arg(idx, m, sizeof(int), AggCompareIndexes, &so);
	}
	for (int i = lastn ? Max(0, m - (int) Min(n, m)) : 0; i < m && (lastn || i < n); i++)
		if (!AggArrayPush(&arr, &k, &vals[idx[i]], error))
		{
			bson_destroy(&arr);
			return false;
		}
	AggArrayFinish(cx, &arr, out);
	return true;
}

static int
AggCompareDoubles(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	if (isnan(x) || isnan(y))
		return isnan(x) ? (isnan(y) ? 0 : -1) : 1;
	return x < y ? -1 : (x > y ? 1 : 0);
}

/* One percentile of the n sorted numbers d */
static double
AggPercentileOf(const double *d, int n, double p, bool continuous)
{
	if (continuous)
	{
		double		pos = p * (double) (n - 1);
		int			lo = (int) floor(pos);
		int			hi = (int) ceil(pos);

		return lo == hi ? d[lo] : d[lo] + (pos - (double) lo) * (d[hi] - d[lo]);
	}
	else
	{
		int			i = (int) ceil(p * (double) n) - 1;

		return d[Max(0, Min(i, n - 1))];
	}
}

/* $median and $percentile of a number or of an array's numbers */
static bool
AggPercentileEval(const AggExpr *e, AggExprContext *cx, bson_value_t *out,
				  BsonQueryError *error)
{
	bool		median = strcmp(e->op->name, "$median") == 0;
	bool		continuous = strcmp(e->args[1]->value.value.v_utf8.str, "continuous") == 0;
	bson_value_t in;
	bson_value_t pv;
	bson_value_t *vals;
	bson_value_t *ps = NULL;
	double	   *d;
	int			count = 0;
	int			nd = 0;
	int			np = 1;
	bson_t		arr = BSON_INITIALIZER;
	uint32_t	k = 0;

	if (!AggEvalArg(e, 0, cx, &in, error))
	{
		bson_destroy(&arr);
		return false;
	}
	if (!median)
	{
		if (!AggEvalArg(e, 2, cx, &pv, error))
		{
			bson_destroy(&arr);
			return false;
		}
		if (pv.value_type != BSON_TYPE_ARRAY || AggArrayLength(&pv) == 0)
		{
			bson_destroy(&arr);
			return AggExprFail(error, 7750301, "The 'p' field for %s must be a non-empty array of numeric values",
							   e->op->name);
		}
		ps = AggArrayElements(cx, &pv, &np);
		for (int i = 0; i < np; i++)
		{
			double		x;

			if (!AggValueIsNumber(&ps[i]))
			{
				bson_destroy(&arr);
				return AggExprFail(error, 7750302, "The 'p' field for %s must be an array of numeric values",
								   e->op->name);
			}
			x = AggNumberAsDouble(&ps[i]);
			if (!(x >= 0 && x <= 1))
			{
				bson_destroy(&arr);
				return AggExprFail(error, 7750303, "The 'p' field for %s must contain values between 0.0 and 1.0",
								   e->op->name);
			}
		}
	}
	if (in.value_type == BSON_TYPE_ARRAY)
		vals = AggArrayElements(cx, &in, &count);
	else
	{
		vals = &in;
		count = 1;
	}
	d = AggEvalAlloc(cx, sizeof(double) * Max(count, 1));
	for (int i = 0; i < count; i++)
		if (AggValueIsNumber(&vals[i]))
			d[nd++] = AggNumberAsDouble(&vals[i]);
	qsort(d, nd, sizeof(double), AggCompareDoubles);
	if (median)
	{
		bson_destroy(&arr);
		if (nd == 0)
			AggSetNull(out);
		else
			AggSetDouble(out, AggPercentileOf(d, nd, 0.5, continuous));
		return true;
	}
	for (int i = 0; i < np; i++)
	{
		bson_value_t r;

		if (nd == 0)
			AggSetNull(&r);
		else
			AggSetDouble(&r, AggPercentileOf(d, nd, AggNumberAsDouble(&ps[i]), continuous));
		if (!AggArrayPush(&arr, &k, &r, error))
		{
			bson_destroy(&arr);
			return false;
		}
	}
	AggArrayFinish(cx, &arr, out);
	return true;
}

const AggExprOp AggExprOpsArray[] = {
	{"$arrayElemAt", AggArrayElemAt, NULL, 2, 2},
	{"$first", AggFirstLast, NULL, 1, 1},
	{"$last", AggFirstLast, NULL, 1, 1},
	{"$concatArrays", AggConcatArrays, NULL, 0, -1},
	{"$filter", AggFilter, AggMapFilterParse, 0, -1},
	{"$map", AggMap, AggMapFilterParse, 0, -1},
	{"$reduce", AggReduce, AggReduceParse, 0, -1},
	{"$in", AggIn, NULL, 2, 2},
	{"$indexOfArray", AggIndexOfArray, NULL, 2, 4},
	{"$isArray", AggIsArray, NULL, 1, 1},
	{"$range", AggRange, NULL, 2, 3},
	{"$reverseArray", AggReverseArray, NULL, 1, 1},
	{"$size", AggSize, NULL, 1, 1},
	{"$slice", AggSlice, NULL, 2, 3},
	{"$zip", AggZip, AggZipParse, 0, -1},
	{"$sortArray", AggSortArray, AggSortArrayParse, 0, -1},
	{"$setEquals", AggSetEquals, AggSetEqualsParse, 0, -1},
	{"$setIntersection", AggSetIntersectionUnion, NULL, 0, -1},
	{"$setUnion", AggSetIntersectionUnion, NULL, 0, -1},
	{"$setDifference", AggSetDifference, NULL, 2, 2},
	{"$setIsSubset", AggSetIsSubset, NULL, 2, 2},
	{"$anyElementTrue", AggElementsTrue, NULL, 1, 1},
	{"$allElementsTrue", AggElementsTrue, NULL, 1, 1},
	{"$firstN", AggNEval, AggNParse, 0, -1},
	{"$lastN", AggNEval, AggNParse, 0, -1},
	{"$maxN", AggNEval, AggNParse, 0, -1},
	{"$minN", AggNEval, AggNParse, 0, -1},
	{"$median", AggPercentileEval, AggNParse, 0, -1},
	{"$percentile", AggPercentileEval, AggNParse, 0, -1},
	{NULL}
};
