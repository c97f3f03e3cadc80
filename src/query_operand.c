/*-------------------------------------------------------------------------
 *
 * query_operand.c
 *	  The operands of a MongoDB filter's leaf operators: values to compare,
 *	  $in lists, $size, $mod, $type, bit tests and regular expressions.
 *
 * Each operand is checked as MongoDB checks it (with its error codes) and
 * converted once into what the matcher needs, so that matching a document
 * never parses or allocates:
 *
 *	- a comparison keeps an iterator on its operand plus its type, type
 *	  bracket, NaN-ness and string length;
 *	- $in sorts its values with BsonCompareValues (the matcher bisects) and
 *	  compiles its regexes; null in the list also matches a missing field;
 *	- $size, $mod, $type and the bit tests convert their numbers exactly:
 *	  doubles and decimal128s truncate toward zero, and NaN, infinities and
 *	  values beyond int64 are errors where MongoDB makes them errors;
 *	- a regular expression is compiled once with PCRE2, always in UTF mode
 *	  (BSON strings are UTF-8) with MongoDB's options i, m, s, x and u, and
 *	  given one match-data block.  PCRE2 allocates through palloc in the
 *	  memory context current at compile time, so its memory (including the
 *	  backtracking frames pcre2_match may grow) lives exactly as long as the
 *	  filter's.  A match limit turns a catastrophically backtracking
 *	  pattern into a non-match instead of a hang.
 *
 * IDENTIFICATION
 *	  src/query_operand.c
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include <math.h>

#ifndef FRONTEND
#include "utils/memutils.h"
#endif

#include "bson_compare.h"
#include "query_internal.h"

/* MongoDB's limit on the length of a regular expression */
#define QUERY_MAX_REGEX_LENGTH		32764

/* PCRE2 limits of one match: steps of backtracking and heap (KiB) */
#define QUERY_REGEX_MATCH_LIMIT		10000000
#define QUERY_REGEX_HEAP_LIMIT		65536

/* $type's names of BSON types, with their codes */
static const struct
{
	const char *name;
	int			code;
}			query_type_aliases[] = {
	{"double", BSON_TYPE_DOUBLE},
	{"string", BSON_TYPE_UTF8},
	{"object", BSON_TYPE_DOCUMENT},
	{"array", BSON_TYPE_ARRAY},
	{"binData", BSON_TYPE_BINARY},
	{"undefined", BSON_TYPE_UNDEFINED},
	{"objectId", BSON_TYPE_OID},
	{"bool", BSON_TYPE_BOOL},
	{"date", BSON_TYPE_DATE_TIME},
	{"null", BSON_TYPE_NULL},
	{"regex", BSON_TYPE_REGEX},
	{"dbPointer", BSON_TYPE_DBPOINTER},
	{"javascript", BSON_TYPE_CODE},
	{"symbol", BSON_TYPE_SYMBOL},
	{"javascriptWithScope", BSON_TYPE_CODEWSCOPE},
	{"int", BSON_TYPE_INT32},
	{"timestamp", BSON_TYPE_TIMESTAMP},
	{"long", BSON_TYPE_INT64},
	{"decimal", BSON_TYPE_DECIMAL128},
	{"minKey", -1},
	{"maxKey", 127},
};


/* ----------------------------------------------------------------
 *		Regular expressions
 * ----------------------------------------------------------------
 */

/*
 * QueryPcreAlloc
 *		PCRE2's allocator: palloc in the memory context the filter was
 *		compiled in (data), returning NULL rather than raising on failure.
 */
static void *
QueryPcreAlloc(PCRE2_SIZE size, void *data)
{
#ifdef FRONTEND
	return palloc_extended(Max(size, 1), MCXT_ALLOC_NO_OOM);
#else
	return MemoryContextAllocExtended((MemoryContext) data, Max(size, 1),
									  MCXT_ALLOC_NO_OOM);
#endif
}

/*
 * QueryPcreFree
 *		PCRE2's deallocator.
 */
static void
QueryPcreFree(void *ptr, void *data)
{
	if (ptr != NULL)
		pfree(ptr);
}

/*
 * QueryRegexContexts
 *		Create the filter's PCRE2 contexts on first use.
 */
static bool
QueryRegexContexts(QueryParser *parser)
{
	BsonFilter *filter = parser->filter;
	void	   *memory_data = NULL;

	if (filter->match_context != NULL)
		return true;

#ifndef FRONTEND
	memory_data = CurrentMemoryContext;
#endif
	filter->general_context = pcre2_general_context_create(QueryPcreAlloc,
														   QueryPcreFree,
														   memory_data);
	if (filter->general_context != NULL)
		filter->compile_context =
			pcre2_compile_context_create(filter->general_context);
	if (filter->compile_context != NULL)
		filter->match_context =
			pcre2_match_context_create(filter->general_context);
	if (filter->match_context == NULL)
	{
		QueryFail(parser, MONGO_BAD_VALUE,
				  "out of memory compiling a regular expression");
		return false;
	}
	pcre2_set_match_limit(filter->match_context, QUERY_REGEX_MATCH_LIMIT);
	pcre2_set_heap_limit(filter->match_context, QUERY_REGEX_HEAP_LIMIT);
	return true;
}

/*
 * QueryCompileRegex
 *		Check options and pattern as MongoDB does and compile the regex
 *		into *regex.
 */
bool
QueryCompileRegex(QueryParser *parser, const char *pattern, uint32_t plen,
				  const char *options, uint32_t olen, QueryRegex *regex)
{
	BsonFilter *filter = parser->filter;
	uint32_t	flags = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
	int			errcode;
	PCRE2_SIZE	erroffset;

	for (uint32_t i = 0; i < olen; i++)
	{
		switch (options[i])
		{
			case 'i':
				flags |= PCRE2_CASELESS;
				break;
			case 'm':
				flags |= PCRE2_MULTILINE;
				break;
			case 's':
				flags |= PCRE2_DOTALL;
				break;
			case 'x':
				flags |= PCRE2_EXTENDED;
				break;
			case 'u':
				/* UTF mode is always on */
				break;
			default:
				if (options[i] >= 0x20 && options[i] < 0x7F)
					QueryFail(parser, MONGO_REGEX_BAD_OPTION,
							  "invalid flag in regex options: %c", options[i]);
				else
					QueryFail(parser, MONGO_REGEX_BAD_OPTION,
							  "invalid flag in regex options: \\x%02x",
							  (unsigned char) options[i]);
				return false;
		}
	}
	if (memchr(pattern, '\0', plen) != NULL)
	{
		QueryFail(parser, MONGO_BAD_VALUE,
				  "Regular expression cannot contain an embedded null byte");
		return false;
	}
	if (plen > QUERY_MAX_REGEX_LENGTH)
	{
		QueryFail(parser, MONGO_BAD_VALUE, "Regular expression is too long");
		return false;
	}
	if (!QueryRegexContexts(parser))
		return false;

	/* register it before compiling so that BsonFilterFree finds it */
	if (filter->nregexes == filter->maxregexes)
	{
		filter->maxregexes = Max(8, filter->maxregexes * 2);
		if (filter->regexes == NULL)
			filter->regexes = palloc(filter->maxregexes * sizeof(QueryRegex *));
		else
			filter->regexes = repalloc(filter->regexes,
									   filter->maxregexes * sizeof(QueryRegex *));
	}
	filter->regexes[filter->nregexes++] = regex;

	regex->pattern = QueryStrdup(filter, pattern, plen);
	regex->options = QueryStrdup(filter, options, olen);
	regex->match_context = filter->match_context;
	regex->code = pcre2_compile((PCRE2_SPTR) pattern, plen, flags, &errcode,
								&erroffset, filter->compile_context);
	if (regex->code == NULL)
	{
		PCRE2_UCHAR message[256];

		if (pcre2_get_error_message(errcode, message, sizeof(message)) < 0)
			strlcpy((char *) message, "unknown error", sizeof(message));
		QueryFail(parser, MONGO_REGEX_INVALID,
				  "Regular expression is invalid: %s", (char *) message);
		return false;
	}
	/* one pair of offsets is enough to learn whether it matched */
	regex->match_data = pcre2_match_data_create(1, filter->general_context);
	if (regex->match_data == NULL)
	{
		QueryFail(parser, MONGO_BAD_VALUE,
				  "out of memory compiling a regular expression");
		return false;
	}
	return true;
}

/*
 * QueryCompileRegexValue
 *		Compile a BSON regular expression value.
 */
static bool
QueryCompileRegexValue(QueryParser *parser, const bson_iter_t *value,
					   QueryRegex *regex)
{
	const char *options;
	const char *pattern = bson_iter_regex(value, &options);

	if (pattern == NULL)
	{
		QueryFail(parser, MONGO_BAD_VALUE, "malformed regular expression");
		return false;
	}
	return QueryCompileRegex(parser, pattern, strlen(pattern), options,
							 strlen(options), regex);
}

/*
 * QueryNewRegexNode
 *		A regex leaf from a BSON regular expression value.
 */
QueryNode *
QueryNewRegexNode(QueryParser *parser, const QueryPath *path,
				  const bson_iter_t *value)
{
	QueryNode  *node = QueryNewNode(parser, QUERY_REGEX, path);

	if (!QueryCompileRegexValue(parser, value, &node->u.regex))
		return NULL;
	return node;
}

/*
 * QueryParseRegexDocument
 *		{$regex: ..., $options: ...}: the pattern from $regex (a string or
 *		a regex), the options from either, but not from both.
 */
QueryNode *
QueryParseRegexDocument(QueryParser *parser, const QueryPath *path,
						const bson_iter_t *ops)
{
	bson_iter_t it;
	const char *pattern = "";
	uint32_t	plen = 0;
	const char *options = "";
	uint32_t	olen = 0;
	QueryNode  *node;

	if (!bson_iter_recurse(ops, &it))
		return QueryFail(parser, MONGO_BAD_VALUE, "malformed $regex");
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "$regex") == 0)
		{
			if (BSON_ITER_HOLDS_UTF8(&it))
				pattern = bson_iter_utf8(&it, &plen);
			else if (BSON_ITER_HOLDS_REGEX(&it))
			{
				const char *flags;

				pattern = bson_iter_regex(&it, &flags);
				plen = strlen(pattern);
				if (flags[0] != '\0')
				{
					if (olen > 0)
						return QueryFail(parser, MONGO_REGEX_OPTIONS_TWICE_REGEX,
										 "options set in both $regex and $options");
					options = flags;
					olen = strlen(flags);
				}
			}
			else
				return QueryFail(parser, MONGO_BAD_VALUE, "$regex has to be a string");
		}
		else if (strcmp(key, "$options") == 0)
		{
			if (!BSON_ITER_HOLDS_UTF8(&it))
				return QueryFail(parser, MONGO_BAD_VALUE, "$options has to be a string");
			if (olen > 0)
				return QueryFail(parser, MONGO_REGEX_OPTIONS_TWICE_OPTIONS,
								 "options set in both $regex and $options");
			options = bson_iter_utf8(&it, &olen);
		}
	}

	node = QueryNewNode(parser, QUERY_REGEX, path);
	if (!QueryCompileRegex(parser, pattern, plen, options, olen, &node->u.regex))
		return NULL;
	return node;
}


/* ----------------------------------------------------------------
 *		Values and numbers
 * ----------------------------------------------------------------
 */

/*
 * QueryTruthy
 *		MongoDB's truth value of an operand: false, zero, null and
 *		undefined are false, anything else (NaN included) is true.
 */
bool
QueryTruthy(const bson_iter_t *it)
{
	switch (bson_iter_type(it))
	{
		case BSON_TYPE_BOOL:
			return bson_iter_bool(it);
		case BSON_TYPE_INT32:
			return bson_iter_int32(it) != 0;
		case BSON_TYPE_INT64:
			return bson_iter_int64(it) != 0;
		case BSON_TYPE_DOUBLE:
			return bson_iter_double(it) != 0.0;
		case BSON_TYPE_DECIMAL128:
			{
				int64_t		v;
				QueryIntStatus s = QueryNumberToInt64(it, &v);

				return s != QUERY_INT_EXACT || v != 0;
			}
		case BSON_TYPE_NULL:
		case BSON_TYPE_UNDEFINED:
		case BSON_TYPE_EOD:
			return false;
		default:
			return true;
	}
}

/*
 * QueryNewCompare
 *		A $eq, $lt, $lte, $gt or $gte leaf (also the equality of a plain
 *		{path: value} and of the values of $all).
 */
QueryNode *
QueryNewCompare(QueryParser *parser, QueryOp op, const QueryPath *path,
				const bson_iter_t *operand)
{
	QueryNode  *node;
	bson_type_t type = bson_iter_type(operand);

	if (type == BSON_TYPE_UNDEFINED)
		return QueryFail(parser, MONGO_BAD_VALUE, "cannot compare to undefined");
	if (type == BSON_TYPE_REGEX && op != QUERY_EQ)
		return QueryFail(parser, MONGO_BAD_VALUE,
						 "Can't have RegEx as arg to predicate over field '%s'.",
						 path->dotted);

	node = QueryNewNode(parser, op, path);
	node->u.cmp.value = *operand;
	node->u.cmp.type = type;
	node->u.cmp.bracket = BsonCanonicalTypeOrder(type);
	node->u.cmp.collation = parser->filter->collation;
	if (type == BSON_TYPE_DOUBLE)
		node->u.cmp.is_nan = isnan(bson_iter_double(operand));
	else if (type == BSON_TYPE_DECIMAL128)
	{
		bson_decimal128_t dec;

		node->u.cmp.is_nan = bson_iter_decimal128(operand, &dec) &&
			QueryDecimalIsNaN(&dec);
	}
	else if (type == BSON_TYPE_UTF8)
		(void) bson_iter_utf8(operand, &node->u.cmp.string_len);
	return node;
}

/*
 * QueryCompareValues
 *		qsort comparator of $in operands.
 */
static int
QueryCompareValues(const void *a, const void *b, void *collation)
{
	return BsonCompareValuesCollated(&((const QueryValue *) a)->it,
									 &((const QueryValue *) b)->it,
									 (const BsonCollation *) collation);
}

/*
 * QueryParseIn
 *		$in and $nin: an array of values and regexes, no operators.
 */
QueryNode *
QueryParseIn(QueryParser *parser, const QueryPath *path, const char *name,
			 const bson_iter_t *operand)
{
	QueryNode  *node;
	QueryIn    *in;
	bson_iter_t it;
	int			n;

	if (!BSON_ITER_HOLDS_ARRAY(operand))
		return QueryFail(parser, MONGO_BAD_VALUE, "%s needs an array", name);

	n = QueryCountElements(operand);
	node = QueryNewNode(parser, QUERY_IN, path);
	in = &node->u.in;
	in->collation = parser->filter->collation;
	in->values = QueryAlloc(parser->filter, n * sizeof(QueryValue));
	in->regexes = QueryAlloc(parser->filter, n * sizeof(QueryRegex));

	if (!bson_iter_recurse(operand, &it))
		return QueryFail(parser, MONGO_BAD_VALUE, "%s needs an array", name);
	while (bson_iter_next(&it))
	{
		if (QueryIsExpressionDocument(&it, false))
			return QueryFail(parser, MONGO_BAD_VALUE, "cannot nest $ under %s", name);
		switch (bson_iter_type(&it))
		{
			case BSON_TYPE_REGEX:
				if (!QueryCompileRegexValue(parser, &it, &in->regexes[in->nregexes]))
					return NULL;
				in->nregexes++;
				break;
			case BSON_TYPE_UNDEFINED:
				return QueryFail(parser, MONGO_BAD_VALUE,
								 "InMatchExpression equality cannot be undefined");
			case BSON_TYPE_NULL:
				in->has_null = true;
				/* FALLTHROUGH */
			default:
				in->values[in->nvalues++].it = it;
				break;
		}
	}
	if (in->nvalues > 1)
		qsort_arg(in->values, in->nvalues, sizeof(QueryValue), QueryCompareValues,
				  (void *) in->collation);
	return node;
}

/*
 * QueryParseSize
 *		$size: a non-negative whole number that fits an int32.
 */
QueryNode *
QueryParseSize(QueryParser *parser, const QueryPath *path,
			   const bson_iter_t *operand)
{
	QueryNode  *node;
	int64_t		size = 0;

	switch (QueryNumberToInt64(operand, &size))
	{
		case QUERY_INT_NOT_NUMBER:
			return QueryFail(parser, MONGO_BAD_VALUE, "$size needs a number");
		case QUERY_INT_NAN:
		case QUERY_INT_FRACTION:
			return QueryFail(parser, MONGO_BAD_VALUE, "$size must be a whole number");
		case QUERY_INT_RANGE:
			return QueryFail(parser, MONGO_BAD_VALUE,
							 "$size must be representable as a 32-bit integer");
		case QUERY_INT_EXACT:
			break;
	}
	if (size < 0)
		return QueryFail(parser, MONGO_BAD_VALUE, "$size may not be negative");
	if (size > PG_INT32_MAX)
		return QueryFail(parser, MONGO_BAD_VALUE,
						 "$size must be representable as a 32-bit integer");

	node = QueryNewNode(parser, QUERY_SIZE, path);
	node->u.size = size;
	return node;
}

/*
 * QueryParseModPart
 *		The divisor or the remainder of $mod, truncated toward zero.
 */
static bool
QueryParseModPart(QueryParser *parser, const bson_iter_t *it, const char *what,
				  int64_t *out)
{
	switch (QueryNumberToInt64(it, out))
	{
		case QUERY_INT_EXACT:
		case QUERY_INT_FRACTION:
			return true;
		case QUERY_INT_NOT_NUMBER:
			QueryFail(parser, MONGO_BAD_VALUE, "malformed mod, %s not a number", what);
			return false;
		case QUERY_INT_NAN:
			QueryFailValue(parser, MONGO_BAD_VALUE, it,
						   "malformed mod, %s value is invalid :: caused by :: "
						   "Unable to coerce NaN to integral type: ", what);
			return false;
		case QUERY_INT_RANGE:
			break;
	}
	QueryFailValue(parser, MONGO_BAD_VALUE, it,
				   "malformed mod, %s value is invalid :: caused by :: "
				   "Out of bounds coercing to integral value: ", what);
	return false;
}

/*
 * QueryParseMod
 *		$mod: [divisor, remainder], two numbers, divisor not zero.
 */
QueryNode *
QueryParseMod(QueryParser *parser, const QueryPath *path,
			  const bson_iter_t *operand)
{
	QueryNode  *node;
	bson_iter_t it;
	bson_iter_t divisor;
	bson_iter_t remainder;

	if (!BSON_ITER_HOLDS_ARRAY(operand) || !bson_iter_recurse(operand, &it))
		return QueryFail(parser, MONGO_BAD_VALUE, "malformed mod, needs to be an array");
	if (!bson_iter_next(&it))
		return QueryFail(parser, MONGO_BAD_VALUE, "malformed mod, not enough elements");
	divisor = it;
	if (!BSON_ITER_HOLDS_NUMBER(&divisor) && !BSON_ITER_HOLDS_DECIMAL128(&divisor))
		return QueryFail(parser, MONGO_BAD_VALUE, "malformed mod, divisor not a number");
	if (!bson_iter_next(&it))
		return QueryFail(parser, MONGO_BAD_VALUE, "malformed mod, not enough elements");
	remainder = it;
	if (!BSON_ITER_HOLDS_NUMBER(&remainder) && !BSON_ITER_HOLDS_DECIMAL128(&remainder))
		return QueryFail(parser, MONGO_BAD_VALUE, "malformed mod, remainder not a number");
	if (bson_iter_next(&it))
		return QueryFail(parser, MONGO_BAD_VALUE, "malformed mod, too many elements");

	node = QueryNewNode(parser, QUERY_MOD, path);
	if (!QueryParseModPart(parser, &divisor, "divisor", &node->u.mod.divisor) ||
		!QueryParseModPart(parser, &remainder, "remainder", &node->u.mod.remainder))
		return NULL;
	if (node->u.mod.divisor == 0)
		return QueryFail(parser, MONGO_BAD_VALUE, "divisor cannot be 0");
	return node;
}

/*
 * QueryLookupTypeAlias
 *		Add the types a $type alias names ("number": the four numeric
 *		types) to a set of QueryNode.u.types bits; false if unknown.
 */
bool
QueryLookupTypeAlias(const char *alias, uint32_t *types)
{
	if (strcmp(alias, "number") == 0)
	{
		*types |= (UINT32_C(1) << BSON_TYPE_DOUBLE) |
			(UINT32_C(1) << BSON_TYPE_INT32) |
			(UINT32_C(1) << BSON_TYPE_INT64) |
			(UINT32_C(1) << BSON_TYPE_DECIMAL128);
		return true;
	}
	for (size_t i = 0; i < lengthof(query_type_aliases); i++)
	{
		if (strcmp(alias, query_type_aliases[i].name) == 0)
		{
			int			code = query_type_aliases[i].code;

			if (code == -1)
				*types |= UINT32_C(1) << QUERY_TYPE_BIT_MINKEY;
			else if (code == 127)
				*types |= UINT32_C(1) << QUERY_TYPE_BIT_MAXKEY;
			else
				*types |= UINT32_C(1) << code;
			return true;
		}
	}
	return false;
}

/*
 * QueryParseTypeCode
 *		One $type argument (a code or an alias) into the set of types.
 */
static bool
QueryParseTypeCode(QueryParser *parser, const bson_iter_t *it, uint32_t *types)
{
	int64_t		code;

	if (BSON_ITER_HOLDS_UTF8(it))
	{
		const char *alias = bson_iter_utf8(it, NULL);

		if (QueryLookupTypeAlias(alias, types))
			return true;
		QueryFail(parser, MONGO_BAD_VALUE, "Unknown type name alias: %s", alias);
		return false;
	}

	switch (QueryNumberToInt64(it, &code))
	{
		case QUERY_INT_NOT_NUMBER:
			QueryFail(parser, MONGO_TYPE_MISMATCH,
					  "type must be represented as a number or a string");
			return false;
		case QUERY_INT_EXACT:
			if (code == -1 || code == 127 || (code >= 1 && code <= 19))
				goto found;
			break;
		default:
			break;
	}
	QueryFailValue(parser, MONGO_BAD_VALUE, it, "Invalid numerical type code: ");
	return false;

found:
	if (code == -1)
		*types |= UINT32_C(1) << QUERY_TYPE_BIT_MINKEY;
	else if (code == 127)
		*types |= UINT32_C(1) << QUERY_TYPE_BIT_MAXKEY;
	else
		*types |= UINT32_C(1) << code;
	return true;
}

/*
 * QueryParseType
 *		$type: a code, an alias, or an array of them.
 */
QueryNode *
QueryParseType(QueryParser *parser, const QueryPath *path,
			   const bson_iter_t *operand)
{
	QueryNode  *node = QueryNewNode(parser, QUERY_TYPE, path);

	if (BSON_ITER_HOLDS_ARRAY(operand))
	{
		bson_iter_t it;

		if (!bson_iter_recurse(operand, &it))
			return QueryFail(parser, MONGO_BAD_VALUE, "malformed $type");
		while (bson_iter_next(&it))
		{
			if (!QueryParseTypeCode(parser, &it, &node->u.types))
				return NULL;
		}
		if (node->u.types == 0)
			return QueryFail(parser, MONGO_FAILED_TO_PARSE,
							 "%s must match at least one type", path->dotted);
		return node;
	}
	if (!QueryParseTypeCode(parser, operand, &node->u.types))
		return NULL;
	return node;
}

/*
 * QueryParseBits
 *		$bitsAllSet and friends: a non-negative bit mask, an array of bit
 *		positions, or binary data whose set bits are the positions.
 */
QueryNode *
QueryParseBits(QueryParser *parser, QueryOp op, const QueryPath *path,
			   const char *name, const bson_iter_t *operand)
{
	QueryNode  *node = QueryNewNode(parser, op, path);
	QueryBits  *bits = &node->u.bits;
	int64_t		number;

	if (BSON_ITER_HOLDS_ARRAY(operand))
	{
		bson_iter_t it;
		int			n = QueryCountElements(operand);

		bits->positions = QueryAlloc(parser->filter, n * sizeof(uint32_t));
		if (!bson_iter_recurse(operand, &it))
			return QueryFail(parser, MONGO_BAD_VALUE, "malformed %s", name);
		while (bson_iter_next(&it))
		{
			QueryIntStatus status = QueryNumberToInt64(&it, &number);

			if (status != QUERY_INT_EXACT)
				return QueryFailValue(parser, MONGO_BAD_VALUE, &it,
									  "bit positions must be an integer but got: %s: ",
									  bson_iter_key(&it));
			if (number < 0)
				return QueryFailValue(parser, MONGO_BAD_VALUE, &it,
									  "bit positions must be >= 0 but got: %s: ",
									  bson_iter_key(&it));
			if (number > PG_INT32_MAX)
				return QueryFailValue(parser, MONGO_BAD_VALUE, &it,
									  "bit positions cannot be represented as a 32-bit signed integer: %s: ",
									  bson_iter_key(&it));
			bits->positions[bits->npositions++] = (uint32_t) number;
			/* numbers are sign-extended: every bit from 63 up is bit 63 */
			bits->mask |= UINT64_C(1) << Min(number, 63);
		}
		return node;
	}

	if (BSON_ITER_HOLDS_BINARY(operand))
	{
		bson_subtype_t subtype;

		/* binary values are tested byte by byte against the mask's bytes */
		bson_iter_binary(operand, &subtype, &bits->mask_len, &bits->mask_bytes);
		for (uint32_t i = 0; i < bits->mask_len; i++)
		{
			/* numbers are sign-extended: every bit from 63 up is bit 63 */
			if (i < 8)
				bits->mask |= (uint64_t) bits->mask_bytes[i] << (8 * i);
			else if (bits->mask_bytes[i] != 0)
				bits->mask |= UINT64_C(1) << 63;
		}
		return node;
	}

	switch (QueryNumberToInt64(operand, &number))
	{
		case QUERY_INT_NOT_NUMBER:
			return QueryFailValue(parser, MONGO_BAD_VALUE, operand,
								  "%s: %s takes an Array, a number, or a BinData but received: ",
								  path->dotted, name);
		case QUERY_INT_NAN:
			return QueryFailValue(parser, MONGO_FAILED_TO_PARSE, operand,
								  "Expected an integer, but found NaN in: %s: ", name);
		case QUERY_INT_RANGE:
			return QueryFailValue(parser, MONGO_FAILED_TO_PARSE, operand,
								  "Cannot represent as a 64-bit integer: %s: ", name);
		case QUERY_INT_FRACTION:
			if (BSON_ITER_HOLDS_DECIMAL128(operand))
				return QueryFailValue(parser, MONGO_FAILED_TO_PARSE, operand,
									  "Cannot represent as a 64-bit integer: %s: ", name);
			return QueryFailValue(parser, MONGO_FAILED_TO_PARSE, operand,
								  "Expected an integer: %s: ", name);
		case QUERY_INT_EXACT:
			break;
	}
	if (number < 0)
		return QueryFailValue(parser, MONGO_FAILED_TO_PARSE, operand,
							  "Expected a positive number in: %s: ", name);

	bits->mask = (uint64_t) number;
	bits->positions = QueryAlloc(parser->filter, 64 * sizeof(uint32_t));
	for (int bit = 0; bit < 64; bit++)
	{
		if ((bits->mask >> bit) & 1)
			bits->positions[bits->npositions++] = bit;
	}
	return node;
}
