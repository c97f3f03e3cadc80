/*-------------------------------------------------------------------------
 *
 * query_match.c
 *	  Matching documents against a compiled MongoDB filter.
 *
 * Design note
 * -----------
 * A leaf of the filter tree is one operator on one dotted path.  Matching
 * a leaf means asking the operator about every value the path reaches in
 * the document, and the leaf matches if the operator accepts any of them.
 * Which values a path reaches is the heart of MongoDB's query semantics,
 * and we follow its element iterator exactly:
 *
 *	- Components are looked up through nested documents.  A component that
 *	  is missing, or that meets a scalar before the path ends, reaches one
 *	  "missing" value (which {a: null}, {a: {$exists: false}} and the like
 *	  care about).
 *	- When the path meets an array before its end, each element that is a
 *	  document is searched for the rest of the path (implicit traversal;
 *	  each such element that lacks the rest reaches "missing").  Elements
 *	  that are not documents reach nothing, unless the next component is
 *	  a number equal to the element's index: then the element itself is
 *	  entered (positional path), which also works for nested arrays.  Both
 *	  readings of a numeric component are tried, so "a.0" reaches the first
 *	  element of an array a and the field "0" of its document elements.
 *	- When the path ends on an array, every element is reached, and then
 *	  the array itself (so {a: 5} matches a: [1, 5] and {a: [1, 5]} matches
 *	  a: [1, 5]), except for $size and $elemMatch, which look at the array
 *	  only.  Nested arrays are not flattened further.
 *
 * Logical nodes combine their children's answers; $not and $nor negate a
 * whole path's answer, so {a: {$ne: 5}} rejects a: [1, 5].  The children
 * of a value-form $elemMatch have no path: they are asked about one array
 * element at a time (QueryMatchValue), as MongoDB's matchesSingleElement.
 *
 * The positional operator needs the index of the array element that made
 * the match: the element of the outermost array a path traversed, or for
 * $elemMatch the element it accepted.  It is recorded when a leaf
 * matches, and, as in MongoDB, a later leaf of an $and overwrites an
 * earlier one's.  $nor, $not and $or record none (MongoDB matches their
 * branches without MatchDetails), except an $or that MongoDB's optimizer
 * rewrites before matching: one branch is that branch, and equalities on
 * one path become an $in, which records the first element it matches.
 *
 * Comparisons follow MongoDB's type brackets: values of different
 * canonical types never compare, except that anything is below MaxKey and
 * above MinKey, and a missing field equals null.  NaN equals NaN and is
 * neither below nor above anything.  Values are walked in place with
 * libbson iterators and bson_path's BsonFindMember; nothing is allocated.
 *
 * IDENTIFICATION
 *	  src/query_match.c
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include <math.h>
#include <sys/time.h>


#include "bson_compare.h"
#include "bson_path.h"
#include "expr.h"
#include "pure.h"
#include "query_internal.h"

#ifndef HAVE_INT128
#error "query_match.c needs a 128-bit integer type to convert decimal128"
#endif


/* The errors of $expr (BsonFilterSetExprErrorHook); NULL: no match */
static BsonExprErrorHook QueryExprErrorHook = NULL;

/*
 * $expr: the expression evaluated with the document as $$ROOT, true when
 * its value is (MongoDB's truthiness).  Its memory is freed at once.
 */
static bool
QueryMatchExpr(const QueryNode *node, const uint8_t *data, uint32_t len)
{
	AggArena	arena = {NULL};
	AggExprContext cx = {0};
	BsonQueryError error = {0};
	bson_value_t v;
	bool		result;
	struct timeval tv;

	gettimeofday(&tv, NULL);
	cx.root = data;
	cx.root_len = len;
	cx.arena = &arena;
	cx.now_ms = (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000;
	cx.nslots = node->u.expr.nslots;
	cx.collation = node->u.expr.collation;
	cx.in_filter = true;
	cx.slots = cx.nslots > 0 ? AggArenaAlloc(&arena, sizeof(bson_value_t) * cx.nslots) : NULL;
	if (!AggExprEval(node->u.expr.expr, &cx, &v, &error))
	{
		AggArenaReset(&arena);
		if (QueryExprErrorHook != NULL)
			QueryExprErrorHook(&error);
		if (error.message != NULL)
			pfree(error.message);
		return false;
	}
	result = AggValueTrue(&v);
	AggArenaReset(&arena);
	return result;
}

/* The matcher of $text (BsonFilterSetTextHook); NULL: $text matches nothing */
static BsonTextMatchHook QueryTextHook = NULL;

static bool QueryMatchValue(const QueryNode *node, const bson_iter_t *value,
							int32_t *position);
static bool QueryMatchPath(const QueryNode *node, const uint8_t *data,
						   uint32_t len, int part, int32_t offset,
						   int32_t *position);
static bool QueryMatchArrayPath(const QueryNode *node, const bson_iter_t *array,
								int part, int32_t offset, int32_t *position);
static void QueryWalkPath(const QueryNode *node, const uint8_t *data, uint32_t len,
						  int part, QueryValueFn fn, void *arg);


/* ----------------------------------------------------------------
 *		Numbers
 * ----------------------------------------------------------------
 */

/*
 * QueryDoubleToInt64
 *		Truncate a double toward zero into an int64.
 */
static QueryIntStatus
QueryDoubleToInt64(double d, int64_t *out)
{
	double		t;

	if (isnan(d))
		return QUERY_INT_NAN;
	if (isinf(d))
		return QUERY_INT_RANGE;
	t = trunc(d);
	/* -2^63 is exact as a double; 2^63 is the first value out of range */
	if (t >= 9223372036854775808.0 || t < -9223372036854775808.0)
		return QUERY_INT_RANGE;
	*out = (int64_t) t;
	return t == d ? QUERY_INT_EXACT : QUERY_INT_FRACTION;
}

/*
 * QueryDecimalToInt64
 *		Truncate a decimal128 toward zero into an int64 (a non-canonical
 *		coefficient means zero).
 */
static QueryIntStatus
QueryDecimalToInt64(const bson_decimal128_t *dec, int64_t *out)
{
	BsonDecimal d;
	bool		negative;
	uint128		coefficient;
	uint128		limit;
	int			exponent;
	bool		inexact = false;

	BsonDecodeDecimal128(dec, &d);
	if (d.kind == BSON_NUMBER_NAN)
		return QUERY_INT_NAN;
	if (d.kind == BSON_NUMBER_INFINITY)
		return QUERY_INT_RANGE;
	negative = d.negative;
	coefficient = d.coefficient;
	exponent = d.exponent;

	while (exponent < 0 && coefficient != 0)
	{
		if (coefficient % 10 != 0)
			inexact = true;
		coefficient /= 10;
		exponent++;
	}
	limit = negative ? ((uint128) 1 << 63) : (((uint128) 1 << 63) - 1);
	while (exponent > 0 && coefficient != 0)
	{
		if (coefficient > limit / 10)
			return QUERY_INT_RANGE;
		coefficient *= 10;
		exponent--;
	}
	if (coefficient > limit)
		return QUERY_INT_RANGE;
	if (negative)
		*out = coefficient == ((uint128) 1 << 63) ? PG_INT64_MIN :
			-(int64_t) coefficient;
	else
		*out = (int64_t) coefficient;
	return inexact ? QUERY_INT_FRACTION : QUERY_INT_EXACT;
}

/*
 * QueryNumberToInt64
 *		Truncate any BSON number toward zero into an int64; *out is set
 *		unless the number is NaN, infinite or out of range.
 */
QueryIntStatus
QueryNumberToInt64(const bson_iter_t *it, int64_t *out)
{
	switch (bson_iter_type(it))
	{
		case BSON_TYPE_INT32:
			*out = bson_iter_int32(it);
			return QUERY_INT_EXACT;
		case BSON_TYPE_INT64:
			*out = bson_iter_int64(it);
			return QUERY_INT_EXACT;
		case BSON_TYPE_DOUBLE:
			return QueryDoubleToInt64(bson_iter_double(it), out);
		case BSON_TYPE_DECIMAL128:
			{
				bson_decimal128_t dec;

				if (!bson_iter_decimal128(it, &dec))
					return QUERY_INT_NOT_NUMBER;
				return QueryDecimalToInt64(&dec, out);
			}
		default:
			return QUERY_INT_NOT_NUMBER;
	}
}

/*
 * QueryValueIsNaN
 *		Whether a value is a double or decimal128 NaN.
 */
static inline bool
QueryValueIsNaN(const bson_iter_t *it)
{
	bson_decimal128_t dec;

	switch (bson_iter_type(it))
	{
		case BSON_TYPE_DOUBLE:
			return isnan(bson_iter_double(it));
		case BSON_TYPE_DECIMAL128:
			return bson_iter_decimal128(it, &dec) && QueryDecimalIsNaN(&dec);
		default:
			return false;
	}
}


/* ----------------------------------------------------------------
 *		Operators on one value
 * ----------------------------------------------------------------
 */

/*
 * QueryMatchCompare
 *		$eq, $lt, $lte, $gt and $gte on one value (NULL: missing), with
 *		MongoDB's type brackets and NaN rules.
 */
static bool
QueryMatchCompare(const QueryNode *node, const bson_iter_t *value)
{
	const QueryCompare *cmp = &node->u.cmp;
	QueryOp		op = node->op;
	bson_type_t type = value != NULL ? bson_iter_type(value) : BSON_TYPE_EOD;
	int			c;

	if (type != cmp->type)
	{
		int			bracket = value == NULL ? QUERY_BRACKET_MISSING :
			BsonCanonicalTypeOrder(type);

		if (bracket != cmp->bracket)
		{
			/* a missing field equals null (but, since 8.0, undefined does not) */
			if (value == NULL && cmp->bracket == QUERY_BRACKET_NULL)
				return op == QUERY_EQ || op == QUERY_LTE || op == QUERY_GTE;
			if (cmp->type == BSON_TYPE_MAXKEY)
				return op == QUERY_LT || op == QUERY_LTE;
			if (cmp->type == BSON_TYPE_MINKEY)
				return op == QUERY_GT || op == QUERY_GTE;
			return false;
		}
	}

	if (op == QUERY_EQ)
	{
		/* strings of different lengths cannot be equal (but may collate so) */
		if (type == BSON_TYPE_UTF8 && cmp->type == BSON_TYPE_UTF8 &&
			cmp->collation == NULL)
		{
			uint32_t	len;

			(void) bson_iter_utf8(value, &len);
			if (len != cmp->string_len)
				return false;
		}
	}
	else
	{
		bool		nan = QueryValueIsNaN(value);

		if (nan || cmp->is_nan)
			return (op == QUERY_LTE || op == QUERY_GTE) && nan && cmp->is_nan;
	}

	c = BsonCompareValuesCollated(value, &cmp->value, cmp->collation);
	switch (op)
	{
		case QUERY_EQ:
			return c == 0;
		case QUERY_LT:
			return c < 0;
		case QUERY_LTE:
			return c <= 0;
		case QUERY_GT:
			return c > 0;
		case QUERY_GTE:
			return c >= 0;
		default:
			return false;
	}
}

/*
 * QueryMatchRegex
 *		A regex operand on one value: strings and symbols must match it,
 *		regular expressions must be the same pattern with the same options.
 */
static bool
QueryMatchRegex(const QueryRegex *regex, const bson_iter_t *value)
{
	const char *str;
	const char *options;
	uint32_t	len;

	switch (bson_iter_type(value))
	{
		case BSON_TYPE_UTF8:
			str = bson_iter_utf8(value, &len);
			break;
		case BSON_TYPE_SYMBOL:
			str = bson_iter_symbol(value, &len);
			break;
		case BSON_TYPE_REGEX:
			str = bson_iter_regex(value, &options);
			return str != NULL && strcmp(str, regex->pattern) == 0 &&
				strcmp(options, regex->options) == 0;
		default:
			return false;
	}
	if (str == NULL)
		return false;
	return QueryMatchRegexString(regex, str, len);
}

/*
 * QueryMatchRegexString
 *		Whether a compiled regex finds a match in a string of len bytes.
 */
bool
QueryMatchRegexString(const QueryRegex *regex, const char *str, uint32_t len)
{
	/*
	 * A negative result is no match, or a match limit reached: a regex that
	 * backtracks catastrophically matches nothing rather than hanging.
	 */
	return pcre2_match(regex->code, (PCRE2_SPTR) str, len, 0, 0,
					   regex->match_data, regex->match_context) >= 0;
}

/*
 * QueryMatchIn
 *		$in on one value (NULL: missing): binary search of the sorted
 *		operands, then the regexes.
 */
static bool
QueryMatchIn(const QueryIn *in, const bson_iter_t *value)
{
	int			lo = 0;
	int			hi = in->nvalues - 1;

	if (value == NULL)
		return in->has_null;

	while (lo <= hi)
	{
		int			mid = lo + (hi - lo) / 2;
		int			c = BsonCompareValuesCollated(value, &in->values[mid].it,
												  in->collation);

		if (c == 0)
			return true;
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}

	for (int i = 0; i < in->nregexes; i++)
	{
		if (QueryMatchRegex(&in->regexes[i], value))
			return true;
	}
	return false;
}

/*
 * QueryMatchMod
 *		$mod on one value: numbers truncated toward zero; NaN, infinities
 *		and values beyond int64 never match.
 */
static bool
QueryMatchMod(const QueryNode *node, const bson_iter_t *value)
{
	int64_t		dividend;
	QueryIntStatus status = QueryNumberToInt64(value, &dividend);

	if (status != QUERY_INT_EXACT && status != QUERY_INT_FRACTION)
		return false;
	/* INT64_MIN % -1 overflows; anything modulo -1 is 0 */
	if (node->u.mod.divisor == -1)
		return node->u.mod.remainder == 0;
	return dividend % node->u.mod.divisor == node->u.mod.remainder;
}

/*
 * QueryMatchBits
 *		The bit tests on one value: integral numbers (as 64-bit two's
 *		complement, sign-extended) and binary data (bytes in order, least
 *		significant bit first, zero-extended), against bit positions or a
 *		binary mask.
 */
static bool
QueryMatchBits(const QueryNode *node, const bson_iter_t *value)
{
	const QueryBits *bits = &node->u.bits;
	QueryOp		op = node->op;
	int64_t		number;

	if (BSON_ITER_HOLDS_BINARY(value))
	{
		const uint8_t *bytes;
		uint32_t	len;
		bson_subtype_t subtype;

		bson_iter_binary(value, &subtype, &len, &bytes);
		if (bits->mask_bytes != NULL)
		{
			for (uint32_t i = 0; i < bits->mask_len; i++)
			{
				uint8_t		m = bits->mask_bytes[i];
				uint8_t		set = (i < len ? bytes[i] : 0) & m;

				if (m == 0)
					continue;
				if (op == QUERY_BITS_ALL_SET && set != m)
					return false;
				if (op == QUERY_BITS_ALL_CLEAR && set != 0)
					return false;
				if (op == QUERY_BITS_ANY_SET && set != 0)
					return true;
				if (op == QUERY_BITS_ANY_CLEAR && set != m)
					return true;
			}
			return op == QUERY_BITS_ALL_SET || op == QUERY_BITS_ALL_CLEAR;
		}
		for (int i = 0; i < bits->npositions; i++)
		{
			uint32_t	pos = bits->positions[i];
			bool		set = pos / 8 < len && (bytes[pos / 8] >> (pos % 8)) & 1;

			/* stop at the first bit that decides */
			if (set && (op == QUERY_BITS_ALL_CLEAR || op == QUERY_BITS_ANY_SET))
				return op == QUERY_BITS_ANY_SET;
			if (!set && (op == QUERY_BITS_ALL_SET || op == QUERY_BITS_ANY_CLEAR))
				return op == QUERY_BITS_ANY_CLEAR;
		}
		return op == QUERY_BITS_ALL_SET || op == QUERY_BITS_ALL_CLEAR;
	}

	switch (bson_iter_type(value))
	{
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
		case BSON_TYPE_DOUBLE:
		case BSON_TYPE_DECIMAL128:
			/* only integers in range take part */
			if (QueryNumberToInt64(value, &number) != QUERY_INT_EXACT)
				return false;
			break;
		default:
			return false;
	}

	switch (op)
	{
		case QUERY_BITS_ALL_SET:
			return ((uint64_t) number & bits->mask) == bits->mask;
		case QUERY_BITS_ALL_CLEAR:
			return ((uint64_t) number & bits->mask) == 0;
		case QUERY_BITS_ANY_SET:
			return ((uint64_t) number & bits->mask) != 0;
		case QUERY_BITS_ANY_CLEAR:
			return ((uint64_t) number & bits->mask) != bits->mask;
		default:
			return false;
	}
}

/*
 * QueryMatchElemMatch
 *		$elemMatch on one value: an array with an element that satisfies
 *		every child (value form) or that is a document or array the
 *		sub-filter matches (object form).
 */
static bool
QueryMatchElemMatch(const QueryNode *node, const bson_iter_t *value,
					int32_t *position)
{
	bson_iter_t element;
	int32_t		index = 0;

	if (!BSON_ITER_HOLDS_ARRAY(value) || !bson_iter_recurse(value, &element))
		return false;

	for (; bson_iter_next(&element); index++)
	{
		bool		ok;

		if (node->op == QUERY_ELEM_MATCH_OBJECT)
		{
			const uint8_t *data;
			uint32_t	len;

			if (BSON_ITER_HOLDS_DOCUMENT(&element))
				bson_iter_document(&element, &len, &data);
			else if (BSON_ITER_HOLDS_ARRAY(&element))
				bson_iter_array(&element, &len, &data);
			else
				continue;
			ok = QueryMatchDocument(node->children[0], data, len, NULL);
		}
		else
		{
			ok = true;
			for (int i = 0; ok && i < node->nchildren; i++)
				ok = QueryMatchValue(node->children[i], &element, NULL);
		}

		if (ok)
		{
			if (position != NULL)
				*position = index;
			return true;
		}
	}
	return false;
}

/*
 * QueryArrayLength
 *		Number of elements of an array value.
 */
static int64_t
QueryArrayLength(const bson_iter_t *value)
{
	bson_iter_t element;
	int64_t		n = 0;

	if (!bson_iter_recurse(value, &element))
		return -1;
	while (bson_iter_next(&element))
		n++;
	return n;
}

/*
 * QueryMatchValue
 *		Whether a node accepts one value (NULL: a missing field), as
 *		MongoDB's matchesSingleElement.  Sets *position (when not NULL) to
 *		the element an $elemMatch accepted.
 */
static bool
QueryMatchValue(const QueryNode *node, const bson_iter_t *value,
				int32_t *position)
{
	/*
	 * No stack check here, on the hottest path: this recursion follows the
	 * filter's operators, whose nesting the compiler bounds, and every way
	 * into a document goes through QueryMatchDocument or QueryMatchPath.
	 */
	switch (node->op)
	{
		case QUERY_AND:
			for (int i = 0; i < node->nchildren; i++)
			{
				if (!QueryMatchValue(node->children[i], value, position))
					return false;
			}
			return true;
		case QUERY_OR:
			for (int i = 0; i < node->nchildren; i++)
			{
				if (QueryMatchValue(node->children[i], value, position))
					return true;
			}
			return false;
		case QUERY_NOR:
			for (int i = 0; i < node->nchildren; i++)
			{
				if (QueryMatchValue(node->children[i], value, NULL))
					return false;
			}
			return true;
		case QUERY_NOT:
			return !QueryMatchValue(node->children[0], value, NULL);
		case QUERY_TRUE:
			return true;
		case QUERY_FALSE:
			return false;
		case QUERY_EQ:
		case QUERY_LT:
		case QUERY_LTE:
		case QUERY_GT:
		case QUERY_GTE:
			return QueryMatchCompare(node, value);
		case QUERY_IN:
			return QueryMatchIn(&node->u.in, value);
		case QUERY_EXISTS:
			return value != NULL;
		default:
			break;
	}

	/* the remaining operators never accept a missing field */
	if (value == NULL)
		return false;

	switch (node->op)
	{
		case QUERY_REGEX:
			return QueryMatchRegex(&node->u.regex, value);
		case QUERY_TYPE:
			{
				int			bit = QueryTypeBit(bson_iter_type(value));

				return bit != 0 && (node->u.types & (UINT32_C(1) << bit)) != 0;
			}
		case QUERY_MOD:
			return QueryMatchMod(node, value);
		case QUERY_SIZE:
			return BSON_ITER_HOLDS_ARRAY(value) &&
				QueryArrayLength(value) == node->u.size;
		case QUERY_ELEM_MATCH_OBJECT:
		case QUERY_ELEM_MATCH_VALUE:
			return QueryMatchElemMatch(node, value, position);
		case QUERY_BITS_ALL_SET:
		case QUERY_BITS_ALL_CLEAR:
		case QUERY_BITS_ANY_SET:
		case QUERY_BITS_ANY_CLEAR:
			return QueryMatchBits(node, value);
		case QUERY_GEO_WITHIN:
		case QUERY_GEO_INTERSECTS:
		case QUERY_GEO_NEAR:
			return QueryMatchGeo(node, value);
		default:
			return false;
	}
}


/* ----------------------------------------------------------------
 *		Paths
 * ----------------------------------------------------------------
 */

/*
 * QueryYield
 *		Offer one value a path reached to a leaf; on a match record the
 *		position: the outermost traversed array's element when there is
 *		one, else whatever an $elemMatch accepted.
 */
static inline bool
QueryYield(const QueryNode *node, const bson_iter_t *value, int32_t offset,
		   int32_t *position)
{
	int32_t		inner = -1;

	if (!QueryMatchValue(node, value, position != NULL ? &inner : NULL))
		return false;
	if (position != NULL)
	{
		if (offset >= 0)
			*position = offset;
		else if (inner >= 0)
			*position = inner;
	}
	return true;
}

/*
 * QueryLeafExpandsArrays
 *		Whether a leaf looks at the elements of an array its path ends on
 *		(everything but $size and $elemMatch, which look at the array).
 */
static inline bool
QueryLeafExpandsArrays(QueryOp op)
{
	return op != QUERY_SIZE && op != QUERY_ELEM_MATCH_OBJECT &&
		op != QUERY_ELEM_MATCH_VALUE;
}

/*
 * QueryMatchLeafValue
 *		Offer the value a whole path ends on: an array's elements first
 *		(each with its index as position), then the value itself.
 */
static bool
QueryMatchLeafValue(const QueryNode *node, const bson_iter_t *value,
					int32_t offset, int32_t *position)
{
	if (BSON_ITER_HOLDS_ARRAY(value) && QueryLeafExpandsArrays(node->op))
	{
		bson_iter_t element;
		int32_t		index = 0;

		if (bson_iter_recurse(value, &element))
		{
			for (; bson_iter_next(&element); index++)
			{
				if (QueryYield(node, &element, offset >= 0 ? offset : index,
							   position))
					return true;
			}
		}
	}
	return QueryYield(node, value, offset, position);
}

/*
 * QueryPartIsKey
 *		Whether a numeric path component names an array element by its key.
 */
static inline bool
QueryPartIsKey(const QueryPathPart *part, const bson_iter_t *element)
{
	return part->is_index && bson_iter_key_len(element) == (uint32_t) part->len &&
		memcmp(bson_iter_key(element), part->name, part->len) == 0;
}

/*
 * QueryMatchPath
 *		Offer a leaf every value its path reaches from component `part` on,
 *		starting in a document.  offset is the index in the outermost array
 *		traversed so far (-1: none).
 */
static bool
QueryMatchPath(const QueryNode *node, const uint8_t *data, uint32_t len,
			   int part, int32_t offset, int32_t *position)
{
	bson_iter_t it;

	PURE_CHECK_STACK();

	for (;;)
	{
		const QueryPathPart *p = &node->path[part];

		if (!BsonFindMember(data, len, p->name, p->len, 0, &it))
			return QueryYield(node, NULL, offset, position);
		if (part == node->npath - 1)
			return QueryMatchLeafValue(node, &it, offset, position);

		switch (bson_iter_type(&it))
		{
			case BSON_TYPE_DOCUMENT:
				bson_iter_document(&it, &len, &data);
				part++;
				break;
			case BSON_TYPE_ARRAY:
				return QueryMatchArrayPath(node, &it, part + 1, offset, position);
			default:
				/* a scalar before the end of the path: the path is missing */
				return QueryYield(node, NULL, offset, position);
		}
	}
}

/*
 * QueryMatchArrayPath
 *		Offer a leaf every value its path reaches from component `part` on,
 *		starting in an array met before the end of the path.
 */
static bool
QueryMatchArrayPath(const QueryNode *node, const bson_iter_t *array, int part,
					int32_t offset, int32_t *position)
{
	const QueryPathPart *p = &node->path[part];
	bool		last = part == node->npath - 1;
	bson_iter_t element;
	int32_t		index = 0;

	PURE_CHECK_STACK();

	if (!bson_iter_recurse(array, &element))
		return false;

	for (; bson_iter_next(&element); index++)
	{
		bool		is_key = QueryPartIsKey(p, &element);

		if (BSON_ITER_HOLDS_DOCUMENT(&element))
		{
			const uint8_t *data;
			uint32_t	len;

			bson_iter_document(&element, &len, &data);
			/* implicit traversal: the rest of the path inside the element */
			if (QueryMatchPath(node, data, len, part,
							   offset >= 0 ? offset : index, position))
				return true;
			/* and the element itself when the component is its index */
			if (is_key)
			{
				if (last ? QueryYield(node, &element, offset, position) :
					QueryMatchPath(node, data, len, part + 1, offset, position))
					return true;
			}
		}
		else if (is_key)
		{
			if (last)
			{
				if (QueryYield(node, &element, offset, position))
					return true;
			}
			else if (BSON_ITER_HOLDS_ARRAY(&element))
			{
				if (QueryMatchArrayPath(node, &element, part + 1, offset, position))
					return true;
			}
		}
	}
	return false;
}


/*
 * QueryWalkArray
 *		QueryWalkValues from component `part` on, in an array met before
 *		the end of the path.
 */
static void
QueryWalkArray(const QueryNode *node, const bson_iter_t *array, int part,
			   QueryValueFn fn, void *arg)
{
	const QueryPathPart *p = &node->path[part];
	bool		last = part == node->npath - 1;
	bson_iter_t element;

	PURE_CHECK_STACK();

	if (!bson_iter_recurse(array, &element))
		return;
	while (bson_iter_next(&element))
	{
		bool		is_key = QueryPartIsKey(p, &element);

		if (BSON_ITER_HOLDS_DOCUMENT(&element))
		{
			const uint8_t *data;
			uint32_t	len;

			bson_iter_document(&element, &len, &data);
			QueryWalkPath(node, data, len, part, fn, arg);
			if (is_key)
			{
				if (last)
					fn(&element, arg);
				else
					QueryWalkPath(node, data, len, part + 1, fn, arg);
			}
		}
		else if (is_key)
		{
			if (last)
				fn(&element, arg);
			else if (BSON_ITER_HOLDS_ARRAY(&element))
				QueryWalkArray(node, &element, part + 1, fn, arg);
		}
	}
}

/*
 * QueryWalkPath
 *		QueryWalkValues from component `part` on, in a document.
 */
static void
QueryWalkPath(const QueryNode *node, const uint8_t *data, uint32_t len, int part,
			  QueryValueFn fn, void *arg)
{
	bson_iter_t it;

	PURE_CHECK_STACK();

	for (;;)
	{
		const QueryPathPart *p = &node->path[part];

		if (!BsonFindMember(data, len, p->name, p->len, 0, &it))
			return;
		if (part == node->npath - 1)
		{
			if (BSON_ITER_HOLDS_ARRAY(&it))
			{
				bson_iter_t element;

				if (bson_iter_recurse(&it, &element))
				{
					while (bson_iter_next(&element))
						fn(&element, arg);
				}
			}
			fn(&it, arg);
			return;
		}
		if (BSON_ITER_HOLDS_DOCUMENT(&it))
		{
			bson_iter_document(&it, &len, &data);
			part++;
		}
		else
		{
			if (BSON_ITER_HOLDS_ARRAY(&it))
				QueryWalkArray(node, &it, part + 1, fn, arg);
			return;
		}
	}
}

/*
 * QueryWalkValues
 *		Call fn on every value a leaf's path reaches in a document, as
 *		QueryMatchPath offers them (missing values excepted).
 */
void
QueryWalkValues(const QueryNode *node, const uint8_t *data, uint32_t len,
				QueryValueFn fn, void *arg)
{
	if (node->npath > 0)
		QueryWalkPath(node, data, len, 0, fn, arg);
}


/* ----------------------------------------------------------------
 *		Documents
 * ----------------------------------------------------------------
 */

/*
 * QueryUnwrap
 *		A node as MongoDB's optimizer leaves it: an $and or $or of one child
 *		is that child.
 */
static const QueryNode *
QueryUnwrap(const QueryNode *node)
{
	while ((node->op == QUERY_AND || node->op == QUERY_OR) &&
		   node->nchildren == 1)
		node = node->children[0];
	return node;
}

/*
 * QueryIsEquality
 *		Whether a node is one MongoDB's optimizer folds into an $in: $eq to
 *		anything but a regex (which $eq compares literally and $in would
 *		match as a pattern), a regex, or an $in of one value (which the
 *		optimizer has already turned into one of those).
 */
static bool
QueryIsEquality(const QueryNode *node)
{
	switch (node->op)
	{
		case QUERY_EQ:
			return node->u.cmp.type != BSON_TYPE_REGEX;
		case QUERY_REGEX:
			return true;
		case QUERY_IN:
			return node->u.in.nvalues + node->u.in.nregexes == 1;
		default:
			return false;
	}
}

/*
 * QuerySamePath
 *		Whether two leaves have the same path.
 */
static bool
QuerySamePath(const QueryNode *a, const QueryNode *b)
{
	if (a->npath != b->npath)
		return false;
	for (int i = 0; i < a->npath; i++)
	{
		if (a->path[i].len != b->path[i].len ||
			memcmp(a->path[i].name, b->path[i].name, a->path[i].len) != 0)
			return false;
	}
	return true;
}

/*
 * QueryOrIsIn
 *		Whether MongoDB's optimizer rewrites an $or as one $in, the only
 *		form of $or through which a match position is recorded
 *		(OrMatchExpression matches its branches without MatchDetails): an
 *		$or of one branch is that branch, and one whose branches are all
 *		equalities on one path ({$or: [{a: 1}, {a: /x/}]}) is {a: {$in:
 *		[1, /x/]}}.  A nested $or of several branches never qualifies: the
 *		optimizer makes it an $in (not an equality) or flattens into its
 *		parent a branch that is not one, or on another path.
 */
static bool
QueryOrIsIn(const QueryNode *node)
{
	const QueryNode *first = NULL;

	if (node->nchildren == 1)
		return true;
	for (int i = 0; i < node->nchildren; i++)
	{
		const QueryNode *child = QueryUnwrap(node->children[i]);

		if (!QueryIsEquality(child))
			return false;
		if (first == NULL)
			first = child;
		else if (!QuerySamePath(first, child))
			return false;
	}
	return true;
}

/*
 * QueryMatchOrAsIn
 *		An $or that QueryOrIsIn accepts, matched as the $in it stands for:
 *		the position is that of the first element in the path's traversal
 *		that any branch accepts, i.e. the smallest a matching branch
 *		records.  A match that records none leaves *position alone, as a
 *		leaf does.
 */
static bool
QueryMatchOrAsIn(const QueryNode *node, const uint8_t *data, uint32_t len,
				 int32_t *position)
{
	bool		matched = false;
	int32_t		best = -1;

	for (int i = 0; i < node->nchildren; i++)
	{
		int32_t		branch = -1;

		if (QueryMatchDocument(node->children[i], data, len, &branch))
		{
			matched = true;
			if (branch >= 0 && (best < 0 || branch < best))
				best = branch;
		}
	}
	if (matched && best >= 0)
		*position = best;
	return matched;
}

/*
 * QueryMatchDocument
 *		Whether a node of the filter tree matches a whole document (its
 *		BSON bytes).  *position (when not NULL) receives the positional
 *		index of the leaf that matched last, and is left alone when no leaf
 *		involved an array.
 */
bool
QueryMatchDocument(const QueryNode *node, const uint8_t *data, uint32_t len,
				   int32_t *position)
{
	PURE_CHECK_STACK();

	switch (node->op)
	{
		case QUERY_AND:
			for (int i = 0; i < node->nchildren; i++)
			{
				if (!QueryMatchDocument(node->children[i], data, len, position))
					return false;
			}
			return true;
		case QUERY_OR:
			if (position != NULL && QueryOrIsIn(node))
				return QueryMatchOrAsIn(node, data, len, position);
			/* MongoDB's $or records no position */
			for (int i = 0; i < node->nchildren; i++)
			{
				if (QueryMatchDocument(node->children[i], data, len, NULL))
					return true;
			}
			return false;
		case QUERY_NOR:
			for (int i = 0; i < node->nchildren; i++)
			{
				if (QueryMatchDocument(node->children[i], data, len, NULL))
					return false;
			}
			return true;
		case QUERY_NOT:
			return !QueryMatchDocument(node->children[0], data, len, NULL);
		case QUERY_TRUE:
			return true;
		case QUERY_FALSE:
			return false;
		case QUERY_JSON_SCHEMA:
			return QuerySchemaMatchDocument(node->u.schema, data, len);
		case QUERY_TEXT:
			if (QueryTextHook == NULL)
				return false;
			return QueryTextHook(&node->u.text->query, node->u.text->state, data, len);
		case QUERY_EXPR:
			return QueryMatchExpr(node, data, len);
		default:
			if (node->npath == 0)
				return false;
			return QueryMatchPath(node, data, len, 0, -1, position);
	}
}

/*
 * BsonFilterSetExprErrorHook
 *		Register what happens to the errors of $expr evaluations.
 */
void
BsonFilterSetExprErrorHook(BsonExprErrorHook hook)
{
	QueryExprErrorHook = hook;
}

/*
 * BsonFilterSetTextHook
 *		Register the matcher of $text (the server's, or a unit test's).
 */
void
BsonFilterSetTextHook(BsonTextMatchHook hook)
{
	QueryTextHook = hook;
}

/*
 * BsonFilterGetText
 *		Whether a filter has a $text; *out gets its parameters.
 */
bool
BsonFilterGetText(const BsonFilter *filter, BsonTextQuery *out)
{
	if (filter->text == NULL)
		return false;
	*out = filter->text->query;
	return true;
}

/*
 * BsonFilterSetTextState
 *		The state the text hook receives when this filter's $text matches.
 */
void
BsonFilterSetTextState(BsonFilter *filter, void *state)
{
	if (filter->text != NULL)
		filter->text->state = state;
}

/*
 * BsonFilterMatches
 *		Whether a document (BSON bytes) matches a compiled filter.
 */
bool
BsonFilterMatches(const BsonFilter *filter, const uint8_t *doc, uint32_t len)
{
	return QueryMatchDocument(filter->root, doc, len, NULL);
}

/*
 * BsonFilterMatchesWithPosition
 *		BsonFilterMatches, also giving the positional index (-1: none).
 */
bool
BsonFilterMatchesWithPosition(const BsonFilter *filter, const uint8_t *doc,
							  uint32_t len, int32_t *array_index)
{
	*array_index = -1;
	if (QueryMatchDocument(filter->root, doc, len, array_index))
		return true;
	*array_index = -1;
	return false;
}
