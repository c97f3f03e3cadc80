/*-------------------------------------------------------------------------
 *
 * expr.c
 *	  MongoDB aggregation expressions: the parser, the evaluator of the
 *	  node kinds, variables, and the helpers the operator families share.
 *
 * Design note
 * -----------
 * MongoDB's expression language has five shapes: a constant; a string
 * starting with "$", a field path of $$CURRENT ("$a.b") or of a variable
 * ("$$ROOT.a", "$$v.x"); an object whose fields are expressions (an
 * object literal), unless its single field starts with "$", which makes it
 * an operator; an array of expressions; and an operator {$op: args}, whose
 * arguments are an array or a single value.  Parsing builds that tree
 * once; operators come from tables kept by the files of each family
 * (expr_arith.c, ...), looked up by name.
 *
 * Variables are resolved while parsing: $$ROOT, $$CURRENT, $$REMOVE, $$NOW
 * and $$CLUSTER_TIME are built in, the others are the command's let
 * variables and those $let, $map, $filter and $reduce bind, each given a
 * slot of the evaluation context.  An undefined variable is an error when
 * parsing (17276), as in MongoDB.
 *
 * Evaluation produces a bson_value_t.  "Missing" (a field that is not
 * there, $$REMOVE) is BSON_TYPE_EOD and is distinct from null: an object
 * literal drops a missing field, an array literal makes it null.  A field
 * path through an array maps over its elements (MongoDB's
 * ExpressionFieldPath): "$a.b" on {a: [{b: 1}, {c: 2}, {b: 3}]} is [1, 3].
 * Results are built in the evaluation's arena (AggArena), which the caller
 * resets between documents; parsed trees live in their scope's arena.
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

#include "lib/stringinfo.h"

#include "bson_compare.h"
#include "bson_json.h"
#include "collation.h"
#include "expr_internal.h"
#include "pure.h"

/* ---- arenas ---- */

typedef struct AggArenaChunk
{
	struct AggArenaChunk *next;
	/* the allocation follows, MAXALIGNed */
} AggArenaChunk;

#define AGG_CHUNK_HEADER	MAXALIGN(sizeof(AggArenaChunk))

void *
AggArenaAlloc(AggArena *arena, size_t size)
{
	AggArenaChunk *chunk;

	if (arena == NULL)
		return palloc0(size);
	chunk = palloc0(AGG_CHUNK_HEADER + size);
	arena->allocated += AGG_CHUNK_HEADER + size;
	chunk->next = arena->chunks;
	arena->chunks = chunk;
	return (char *) chunk + AGG_CHUNK_HEADER;
}

void
AggArenaReset(AggArena *arena)
{
	while (arena->chunks != NULL)
	{
		AggArenaChunk *next = arena->chunks->next;

		pfree(arena->chunks);
		arena->chunks = next;
	}
	arena->allocated = 0;
}

/* ---- scopes ---- */

typedef struct AggScopeVar
{
	char	   *name;
	int			slot;
	int			level;			/* nesting level that defined it */
} AggScopeVar;

struct AggExprScope
{
	AggArena	arena;			/* the scope's variables and parsed trees */
	AggScopeVar *vars;
	int			nvars;
	int			maxvars;
	int			nslots;
	int			level;
};

AggExprScope *
AggExprScopeNew(void)
{
	return palloc0(sizeof(AggExprScope));
}

void
AggExprScopeFree(AggExprScope *scope)
{
	if (scope == NULL)
		return;
	AggArenaReset(&scope->arena);
	pfree(scope);
}

char *
AggParseStrdup(AggExprParser *p, const char *s)
{
	size_t		len = strlen(s);
	char	   *copy = AggParseAlloc(p, len + 1);

	memcpy(copy, s, len + 1);
	return copy;
}

/* Define a variable at the current level; returns its slot */
int
AggExprScopeDefine(AggExprScope *scope, const char *name)
{
	if (scope->nvars == scope->maxvars)
	{
		AggScopeVar *more;

		scope->maxvars = Max(8, scope->maxvars * 2);
		more = AggArenaAlloc(&scope->arena, sizeof(AggScopeVar) * scope->maxvars);
		if (scope->nvars > 0)
			memcpy(more, scope->vars, sizeof(AggScopeVar) * scope->nvars);
		scope->vars = more;
	}
	{
		size_t		len = strlen(name);
		char	   *copy = AggArenaAlloc(&scope->arena, len + 1);

		memcpy(copy, name, len + 1);
		scope->vars[scope->nvars].name = copy;
	}
	scope->vars[scope->nvars].slot = scope->nslots++;
	scope->vars[scope->nvars].level = scope->level;
	return scope->vars[scope->nvars++].slot;
}

int
AggExprScopeSlots(const AggExprScope *scope)
{
	return scope->nslots;
}

void
AggExprScopePush(AggExprScope *scope)
{
	scope->level++;
}

/* Forget the variables of the innermost level (their slots stay used) */
void
AggExprScopePop(AggExprScope *scope)
{
	while (scope->nvars > 0 && scope->vars[scope->nvars - 1].level == scope->level)
		scope->nvars--;
	scope->level--;
}

static int
AggExprScopeFind(const AggExprScope *scope, const char *name, size_t len)
{
	for (int i = scope->nvars - 1; i >= 0; i--)
		if (strlen(scope->vars[i].name) == len && memcmp(scope->vars[i].name, name, len) == 0)
			return scope->vars[i].slot;
	return -1;
}

/* ---- errors ---- */

/* MongoDB's codeName of the codes expressions raise */
static const char *
AggCodeName(int code)
{
	static char location[32];

	switch (code)
	{
		case 2:
			return "BadValue";
		case 9:
			return "FailedToParse";
		case 14:
			return "TypeMismatch";
		case 15:
			return "Overflow";
		case AGG_ERR_MEMORY_LIMIT:
			return "ExceededMemoryLimit";
		case 168:
			return "InvalidPipelineOperator";
		case 241:
			return "ConversionFailure";
		case MONGO_NOT_IMPLEMENTED:
			return "NotImplemented";
		default:
			snprintf(location, sizeof(location), "Location%d", code);
			return location;
	}
}

bool
AggExprFail(BsonQueryError *error, int code, const char *format,...)
{
	va_list		args;

	va_start(args, format);
	BsonErrorSetV(error, true, code, AggCodeName(code), format, args);
	va_end(args);
	return false;
}

/*
 * A user variable name: starts with a lowercase letter (or a non-ASCII
 * byte), then letters, digits, _ or non-ASCII (16866/16867/16868).
 */
bool
AggExprCheckVariableName(AggExprParser *p, const char *name)
{
	unsigned char c = (unsigned char) name[0];

	if (name[0] == '\0')
		return AggExprFail(p->error, 16866, "empty variable names are not allowed");
	if (!((c >= 'a' && c <= 'z') || c >= 0x80))
		return AggExprFail(p->error, 16867,
						   "'%s' starts with an invalid character for a user variable name", name);
	for (const char *s = name + 1; *s; s++)
	{
		c = (unsigned char) *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_' || c >= 0x80))
			return AggExprFail(p->error, 16868,
							   "'%s' contains an invalid character for a variable name: '%c'",
							   name, *s);
	}
	return true;
}

/* ---- values ---- */

double
AggNumberAsDouble(const bson_value_t *v)
{
	switch (v->value_type)
	{
		case BSON_TYPE_INT32:
			return v->value.v_int32;
		case BSON_TYPE_INT64:
			return (double) v->value.v_int64;
		case BSON_TYPE_DOUBLE:
			return v->value.v_double;
		case BSON_TYPE_DECIMAL128:
			/* libbson's bson_iter_as_double() gives 0 for decimals */
			return AggDecimalToDouble(&v->value.v_decimal128);
		default:
			return 0;
	}
}

void
AggSetNull(bson_value_t *out)
{
	out->value_type = BSON_TYPE_NULL;
}

void
AggSetBool(bson_value_t *out, bool b)
{
	out->value_type = BSON_TYPE_BOOL;
	out->value.v_bool = b;
}

void
AggSetInt32(bson_value_t *out, int32_t i)
{
	out->value_type = BSON_TYPE_INT32;
	out->value.v_int32 = i;
}

void
AggSetInt64(bson_value_t *out, int64_t i)
{
	out->value_type = BSON_TYPE_INT64;
	out->value.v_int64 = i;
}

void
AggSetDouble(bson_value_t *out, double d)
{
	out->value_type = BSON_TYPE_DOUBLE;
	out->value.v_double = d;
}

void
AggSetString(AggExprContext *cx, bson_value_t *out, const char *s, uint32_t len)
{
	char	   *copy = AggArenaAlloc(cx != NULL ? cx->arena : NULL, len + 1);

	memcpy(copy, s, len);
	copy[len] = '\0';
	out->value_type = BSON_TYPE_UTF8;
	out->value.v_utf8.str = copy;
	out->value.v_utf8.len = len;
}

void
AggSetFromBson(AggExprContext *cx, bson_value_t *out, const bson_t *b, bool array)
{
	uint8_t    *copy = AggArenaAlloc(cx != NULL ? cx->arena : NULL, b->len);

	memcpy(copy, bson_get_data(b), b->len);
	out->value_type = array ? BSON_TYPE_ARRAY : BSON_TYPE_DOCUMENT;
	out->value.v_doc.data = copy;
	out->value.v_doc.data_len = b->len;
}

/*
 * An iterator positioned on a value.  holder must outlive the iterator
 * (it may hold a copy of the value).
 */
void
AggValueIter(const bson_value_t *v, bson_t *holder, bson_iter_t *it)
{
	bool		ok;

	bson_init(holder);
	if (v->value_type == BSON_TYPE_EOD)
		ok = bson_append_undefined(holder, "", 0);
	else
		ok = bson_append_value(holder, "", 0, v);
	if (!ok)
	{
		/*
		 * A value libbson will not copy: an embedded document or array of a
		 * corrupt document (input is validated, so only damage on disk
		 * gets here).  It stands as null rather than leave the iterator
		 * unset, which libbson's accessors abort on.
		 */
		bson_reinit(holder);
		bson_append_null(holder, "", 0);
	}
	bson_iter_init(it, holder);
	bson_iter_next(it);
}

int
AggValueCompare(const bson_value_t *a, const bson_value_t *b,
				const struct BsonCollation *collation)
{
	bson_t		ha;
	bson_t		hb;
	bson_iter_t ia;
	bson_iter_t ib;
	int			cmp;

	/* missing compares as less than null, equal to another missing */
	if (a->value_type == BSON_TYPE_EOD || b->value_type == BSON_TYPE_EOD)
	{
		if (a->value_type == b->value_type)
			return 0;
		return a->value_type == BSON_TYPE_EOD ? -1 : 1;
	}
	AggValueIter(a, &ha, &ia);
	AggValueIter(b, &hb, &ib);
	cmp = collation != NULL ? BsonCompareValuesCollated(&ia, &ib, collation) :
		BsonCompareValues(&ia, &ib);
	bson_destroy(&ha);
	bson_destroy(&hb);
	return cmp;
}

const char *
AggTypeName(const bson_value_t *v)
{
	if (v->value_type == BSON_TYPE_EOD)
		return "missing";
	return BsonTypeName(v->value_type);
}

/* A decimal that is an integer in [INT32_MIN, INT32_MAX] */
static bool
AggDecimalToInt32(const bson_decimal128_t *dec, int32_t *out)
{
	BsonDecimal d;
	uint128		c;
	int			e;

	BsonDecodeDecimal128(dec, &d);
	if (d.kind != BSON_NUMBER_FINITE)
		return false;
	c = d.coefficient;
	e = d.exponent;
	/* drop trailing zeros while the exponent is negative */
	while (e < 0 && c != 0 && c % 10 == 0)
	{
		c /= 10;
		e++;
	}
	if (c == 0)
	{
		*out = 0;
		return true;
	}
	if (e < 0)
		return false;
	for (; e > 0; e--)
	{
		c *= 10;
		if (c > (uint128) INT32_MAX + 1)
			return false;
	}
	if (c > (uint128) INT32_MAX + (d.negative ? 1 : 0))
		return false;
	*out = d.negative ? (int32_t) (-(int64_t) c) : (int32_t) c;
	return true;
}

bool
AggValueToInt32(const bson_value_t *v, int32_t *out)
{
	switch (v->value_type)
	{
		case BSON_TYPE_INT32:
			*out = v->value.v_int32;
			return true;
		case BSON_TYPE_INT64:
			if (v->value.v_int64 < INT32_MIN || v->value.v_int64 > INT32_MAX)
				return false;
			*out = (int32_t) v->value.v_int64;
			return true;
		case BSON_TYPE_DOUBLE:
			{
				double		d = v->value.v_double;

				if (!(d >= INT32_MIN && d <= INT32_MAX) || d != floor(d))
					return false;
				*out = (int32_t) d;
				return true;
			}
		case BSON_TYPE_DECIMAL128:
			return AggDecimalToInt32(&v->value.v_decimal128, out);
		default:
			return false;
	}
}

/* The Extended JSON text of a value, for messages (in the arena) */
const char *
AggValueText(AggExprContext *cx, const bson_value_t *v)
{
	StringInfoData buf;
	bson_t		holder;
	bson_iter_t it;
	char	   *text;

	if (v->value_type == BSON_TYPE_EOD)
		return "missing";
	initStringInfo(&buf);
	AggValueIter(v, &holder, &it);
	BsonPrintValue(&buf, &it, BSON_JSON_RELAXED);
	bson_destroy(&holder);
	text = AggArenaAlloc(cx != NULL ? cx->arena : NULL, buf.len + 1);
	memcpy(text, buf.data, buf.len + 1);
	pfree(buf.data);
	return text;
}

bool
AggValueTrue(const bson_value_t *v)
{
	switch (v->value_type)
	{
		case BSON_TYPE_EOD:
		case BSON_TYPE_NULL:
		case BSON_TYPE_UNDEFINED:
			return false;
		case BSON_TYPE_BOOL:
			return v->value.v_bool;
		case BSON_TYPE_INT32:
			return v->value.v_int32 != 0;
		case BSON_TYPE_INT64:
			return v->value.v_int64 != 0;
		case BSON_TYPE_DOUBLE:
			return v->value.v_double != 0;	/* NaN is true */
		case BSON_TYPE_DECIMAL128:
			{
				BsonDecimal d;

				/* exactly: 1E-6176 is true although no double holds it */
				BsonDecodeDecimal128(&v->value.v_decimal128, &d);
				return d.kind != BSON_NUMBER_FINITE || d.coefficient != 0;
			}
		default:
			return true;
	}
}

/* ---- the operator tables ---- */

static const AggExprOp *AggExprLookupOp(const char *name);

/* MongoDB's aggregation expression operators (sorted, for bsearch) */
static const char *const agg_expression_names[] = {
	"$abs",
	"$acos",
	"$acosh",
	"$add",
	"$addToSet",
	"$allElementsTrue",
	"$and",
	"$anyElementTrue",
	"$arrayElemAt",
	"$arrayToObject",
	"$asin",
	"$asinh",
	"$atan",
	"$atan2",
	"$atanh",
	"$avg",
	"$binarySize",
	"$bitAnd",
	"$bitNot",
	"$bitOr",
	"$bitXor",
	"$bsonSize",
	"$ceil",
	"$cmp",
	"$concat",
	"$concatArrays",
	"$cond",
	"$convert",
	"$cos",
	"$cosh",
	"$covariancePop",
	"$covarianceSamp",
	"$createObjectId",
	"$dateAdd",
	"$dateDiff",
	"$dateFromParts",
	"$dateFromString",
	"$dateSubtract",
	"$dateToParts",
	"$dateToString",
	"$dateTrunc",
	"$dayOfMonth",
	"$dayOfWeek",
	"$dayOfYear",
	"$degreesToRadians",
	"$deserializeEJSON",
	"$divide",
	"$encStrContains",
	"$encStrEndsWith",
	"$encStrNormalizedEq",
	"$encStrStartsWith",
	"$eq",
	"$exp",
	"$filter",
	"$first",
	"$firstN",
	"$floor",
	"$function",
	"$getField",
	"$gt",
	"$gte",
	"$hash",
	"$hour",
	"$ifNull",
	"$in",
	"$indexOfArray",
	"$indexOfBytes",
	"$indexOfCP",
	"$isArray",
	"$isNumber",
	"$isoDayOfWeek",
	"$isoWeek",
	"$isoWeekYear",
	"$last",
	"$lastN",
	"$let",
	"$literal",
	"$ln",
	"$log",
	"$log10",
	"$lt",
	"$lte",
	"$ltrim",
	"$map",
	"$max",
	"$maxN",
	"$median",
	"$mergeObjects",
	"$meta",
	"$millisecond",
	"$min",
	"$minN",
	"$minute",
	"$mod",
	"$month",
	"$multiply",
	"$ne",
	"$not",
	"$objectToArray",
	"$or",
	"$percentile",
	"$pow",
	"$radiansToDegrees",
	"$rand",
	"$range",
	"$reduce",
	"$regexFind",
	"$regexFindAll",
	"$regexMatch",
	"$replaceAll",
	"$replaceOne",
	"$reverseArray",
	"$round",
	"$rtrim",
	"$second",
	"$serializeEJSON",
	"$setDifference",
	"$setEquals",
	"$setField",
	"$setIntersection",
	"$setIsSubset",
	"$setUnion",
	"$sigmoid",
	"$sin",
	"$sinh",
	"$size",
	"$slice",
	"$sortArray",
	"$split",
	"$sqrt",
	"$stdDevPop",
	"$stdDevSamp",
	"$strLenBytes",
	"$strLenCP",
	"$strcasecmp",
	"$substr",
	"$substrBytes",
	"$substrCP",
	"$subtract",
	"$sum",
	"$switch",
	"$tan",
	"$tanh",
	"$toBool",
	"$toDate",
	"$toDecimal",
	"$toDouble",
	"$toHashedIndexKey",
	"$toInt",
	"$toLong",
	"$toLower",
	"$toObjectId",
	"$toString",
	"$toUUID",
	"$toUpper",
	"$trim",
	"$trunc",
	"$tsIncrement",
	"$tsSecond",
	"$type",
	"$unsetField",
	"$week",
	"$year",
	"$zip"
};

static int
AggNameCompare(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/*
 * Whether name is one of MongoDB's expression operators, implemented here
 * or not (the others are unknown: 168 in aggregation, 31325 in find).
 */
bool
AggExprKnownName(const char *name)
{
	return bsearch(&name, agg_expression_names, lengthof(agg_expression_names),
				   sizeof(const char *), AggNameCompare) != NULL;
}

/* Whether an operator is implemented */
bool
AggExprOperatorExists(const char *name)
{
	return AggExprLookupOp(name) != NULL;
}

static const AggExprOp *const op_tables[] = {
	AggExprOpsArith,
	AggExprOpsLogic,
	AggExprOpsArray,
	AggExprOpsString,
	AggExprOpsType,
	AggExprOpsObject,
	AggExprOpsDate,
	NULL
};

static const AggExprOp *
AggExprLookupOp(const char *name)
{
	for (int t = 0; op_tables[t] != NULL; t++)
		for (const AggExprOp *op = op_tables[t]; op->name != NULL; op++)
			if (strcmp(op->name, name) == 0)
				return op;
	return NULL;
}

/* ---- parsing ---- */

static AggExpr *
AggExprNew(AggExprParser *p, AggExprKind kind, int nargs)
{
	AggExpr    *e = AggParseAlloc(p, sizeof(AggExpr));

	e->kind = kind;
	e->nargs = nargs;
	if (nargs > 0)
		e->args = AggParseAlloc(p, sizeof(AggExpr *) * nargs);
	return e;
}

AggExpr *
AggExprNewOp(AggExprParser *p, const AggExprOp *op, int nargs)
{
	AggExpr    *e = AggExprNew(p, AGG_EXPR_OP, nargs);

	e->op = op;
	return e;
}

/* A copy of a value whose bytes the tree owns */
static void
AggCopyValue(AggExprParser *p, const bson_value_t *src, bson_value_t *dst)
{
	bson_t		holder;
	bson_iter_t it;

	*dst = *src;
	switch (src->value_type)
	{
		case BSON_TYPE_UTF8:
			{
				char	   *copy = AggParseAlloc(p, src->value.v_utf8.len + 1);

				memcpy(copy, src->value.v_utf8.str, src->value.v_utf8.len);
				dst->value.v_utf8.str = copy;
				break;
			}
		case BSON_TYPE_DOCUMENT:
		case BSON_TYPE_ARRAY:
			{
				uint8_t    *copy = AggParseAlloc(p, src->value.v_doc.data_len);

				memcpy(copy, src->value.v_doc.data, src->value.v_doc.data_len);
				dst->value.v_doc.data = copy;
				break;
			}
		default:
			/* other variable-length values: a copy of the whole element */
			if (src->value_type == BSON_TYPE_BINARY || src->value_type == BSON_TYPE_REGEX ||
				src->value_type == BSON_TYPE_CODE || src->value_type == BSON_TYPE_SYMBOL ||
				src->value_type == BSON_TYPE_CODEWSCOPE || src->value_type == BSON_TYPE_DBPOINTER)
			{
				uint8_t    *bytes;

				AggValueIter(src, &holder, &it);
				bytes = AggParseAlloc(p, holder.len);
				memcpy(bytes, bson_get_data(&holder), holder.len);
				bson_destroy(&holder);
				bson_iter_init_from_data(&it, bytes, holder.len);
				bson_iter_next(&it);
				*dst = *bson_iter_value(&it);
			}
			break;
	}
}

static AggExpr *
AggExprConst(AggExprParser *p, const bson_value_t *v)
{
	AggExpr    *e = AggExprNew(p, AGG_EXPR_CONST, 0);

	AggCopyValue(p, v, &e->value);
	return e;
}

/* Split "a.b.c" into components; each must be a valid field name */
static bool
AggSplitPath(AggExprParser *p, const char *full, const char *s, size_t len, AggExpr *e)
{
	int			n = 1;
	const char *start = s;

	for (size_t i = 0; i < len; i++)
		if (s[i] == '.')
			n++;
	e->path = AggParseAlloc(p, sizeof(char *) * n);
	e->npath = 0;
	for (size_t i = 0; i <= len; i++)
	{
		if (i == len || s[i] == '.')
		{
			size_t		clen = (s + i) - start;

			if (clen == 0)
				return AggExprFail(p->error, AGG_ERR_FIELD_PATH_EMPTY,
								   "FieldPath field names may not be empty strings.");
			if (start[0] == '$')
				return AggExprFail(p->error, AGG_ERR_FIELD_PATH_DOLLAR,
								   "FieldPath field names may not start with '$'. Consider using $getField or $setField.");
			e->path[e->npath] = AggParseAlloc(p, clen + 1);
			memcpy(e->path[e->npath], start, clen);
			e->path[e->npath][clen] = '\0';
			e->npath++;
			start = s + i + 1;
		}
	}
	(void) full;
	return true;
}

/* "$a.b" or "$$var.a.b" */
static AggExpr *
AggParseFieldPath(AggExprParser *p, const char *s, size_t len)
{
	AggExpr    *e = AggExprNew(p, AGG_EXPR_FIELD, 0);

	if (len == 1)
	{
		AggExprFail(p->error, 16872, "'$' by itself is not a valid FieldPath");
		return NULL;
	}
	if (memchr(s, '\0', len) != NULL)
	{
		AggExprFail(p->error, 16411, "FieldPath field names may not contain embedded null characters");
		return NULL;
	}
	if (s[1] != '$')
	{
		e->var = AGG_VAR_CURRENT;
		if (!AggSplitPath(p, s, s + 1, len - 1, e))
			return NULL;
		return e;
	}
	else
	{
		const char *name = s + 2;
		const char *dot = memchr(name, '.', len - 2);
		size_t		nlen = dot != NULL ? (size_t) (dot - name) : len - 2;
		char	   *copy = AggParseAlloc(p, nlen + 1);
		int			slot;

		memcpy(copy, name, nlen);
		copy[nlen] = '\0';
		if (strcmp(copy, "ROOT") == 0)
			e->var = AGG_VAR_ROOT;
		else if (strcmp(copy, "CURRENT") == 0)
			e->var = AGG_VAR_CURRENT;
		else if (strcmp(copy, "REMOVE") == 0)
			e->var = AGG_VAR_REMOVE;
		else if (strcmp(copy, "NOW") == 0)
			e->var = AGG_VAR_NOW;
		else if (strcmp(copy, "CLUSTER_TIME") == 0)
			e->var = AGG_VAR_CLUSTER_TIME;
		else
		{
			if (nlen == 0)
			{
				AggExprFail(p->error, MONGO_FAILED_TO_PARSE, "empty variable names are not allowed");
				return NULL;
			}
			slot = AggExprScopeFind(p->scope, name, nlen);
			if (slot < 0)
			{
				/* an invalid name is reported as such first */
				if (!AggExprCheckVariableName(p, copy))
					return NULL;
				AggExprFail(p->error, AGG_ERR_UNDEFINED_VARIABLE,
							"Use of undefined variable: %s", copy);
				return NULL;
			}
			e->var = slot;
		}
		if (dot != NULL && !AggSplitPath(p, s, dot + 1, len - (dot + 1 - s), e))
			return NULL;
		return e;
	}
}

/* {$op: args} */
static AggExpr *
AggParseOperator(AggExprParser *p, const bson_iter_t *it)
{
	bson_iter_t field;
	const char *name;
	const AggExprOp *op;
	AggExpr    *e;

	bson_iter_recurse(it, &field);
	bson_iter_next(&field);
	name = bson_iter_key(&field);
	{
		bson_iter_t more = field;
		int			n = 1;

		while (bson_iter_next(&more))
			n++;
		if (n > 1)
		{
			AggExprFail(p->error, AGG_ERR_EXPRESSION_OBJECT,
						"an expression specification must contain exactly one field, the name of the expression. Found %d fields",
						n);
			return NULL;
		}
	}
	op = AggExprLookupOp(name);
	if (op == NULL && AggExprKnownName(name))
	{
		AggExprFail(p->error, MONGO_NOT_IMPLEMENTED,
					"expression %s is not supported yet", name);
		return NULL;
	}
	if (op == NULL)
	{
		AggExprFail(p->error, AGG_ERR_INVALID_PIPELINE_OP, "Unrecognized expression '%s'", name);
		return NULL;
	}
	if (op->parse != NULL)
	{
		e = AggExprNewOp(p, op, 0);
		if (!op->parse(p, e, &field))
			return NULL;
		return e;
	}
	/* positional arguments: an array, or one value */
	if (BSON_ITER_HOLDS_ARRAY(&field))
	{
		bson_iter_t elem;
		int			n = 0;

		bson_iter_recurse(&field, &elem);
		while (bson_iter_next(&elem))
			n++;
		e = AggExprNewOp(p, op, n);
		bson_iter_recurse(&field, &elem);
		for (int i = 0; bson_iter_next(&elem); i++)
			if ((e->args[i] = AggExprParseSub(p, &elem)) == NULL)
				return NULL;
	}
	else
	{
		e = AggExprNewOp(p, op, 1);
		if ((e->args[0] = AggExprParseSub(p, &field)) == NULL)
			return NULL;
	}
	if (e->nargs < op->min_args || (op->max_args >= 0 && e->nargs > op->max_args))
	{
		if (op->min_args == op->max_args)
			AggExprFail(p->error, AGG_ERR_ARITY,
						"Expression %s takes exactly %d arguments. %d were passed in.",
						op->name, op->min_args, e->nargs);
		else if (op->max_args < 0)
			AggExprFail(p->error, AGG_ERR_ARITY,
						"Expression %s takes at least %d arguments, and at most -1. %d were passed in.",
						op->name, op->min_args, e->nargs);
		else
			AggExprFail(p->error, AGG_ERR_RANGED_ARITY,
						"Expression %s takes at least %d arguments, and at most %d, but %d were passed in.",
						op->name, op->min_args, op->max_args, e->nargs);
		return NULL;
	}
	return e;
}

bool
AggParseArgsByName(AggExprParser *p, AggExpr *e, const bson_iter_t *doc,
				   const char *const *names, int nnames, const char **unknown)
{
	bson_iter_t it;

	*unknown = NULL;
	e->nargs = nnames;
	e->args = AggParseAlloc(p, sizeof(AggExpr *) * nnames);
	bson_iter_recurse(doc, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);
		int			i;

		for (i = 0; i < nnames; i++)
			if (strcmp(key, names[i]) == 0)
				break;
		if (i == nnames)
		{
			*unknown = key;
			return false;
		}
		if ((e->args[i] = AggExprParseSub(p, &it)) == NULL)
			return false;
	}
	return true;
}

AggExpr *
AggExprParseSub(AggExprParser *p, const bson_iter_t *it)
{
	AggExpr    *e;

	PURE_CHECK_STACK();
	if (p->depth >= AGG_EXPR_MAX_DEPTH)
	{
		AggExprFail(p->error, 15, "expression nested too deeply");
		return NULL;
	}
	p->depth++;
	switch (bson_iter_type(it))
	{
		case BSON_TYPE_UTF8:
			{
				uint32_t	len;
				const char *s = bson_iter_utf8(it, &len);

				if (len > 0 && s[0] == '$')
					e = AggParseFieldPath(p, s, len);
				else
					e = AggExprConst(p, bson_iter_value((bson_iter_t *) it));
				break;
			}
		case BSON_TYPE_ARRAY:
			{
				bson_iter_t elem;
				int			n = 0;

				bson_iter_recurse(it, &elem);
				while (bson_iter_next(&elem))
					n++;
				e = AggExprNew(p, AGG_EXPR_ARRAY, n);
				bson_iter_recurse(it, &elem);
				for (int i = 0; e != NULL && bson_iter_next(&elem); i++)
					if ((e->args[i] = AggExprParseSub(p, &elem)) == NULL)
						e = NULL;
				break;
			}
		case BSON_TYPE_DOCUMENT:
			{
				bson_iter_t field;
				int			n = 0;

				bson_iter_recurse(it, &field);
				if (bson_iter_next(&field) && bson_iter_key(&field)[0] == '$')
				{
					e = AggParseOperator(p, it);
					break;
				}
				bson_iter_recurse(it, &field);
				while (bson_iter_next(&field))
					n++;
				e = AggExprNew(p, AGG_EXPR_OBJECT, n);
				e->names = AggParseAlloc(p, sizeof(char *) * Max(n, 1));
				bson_iter_recurse(it, &field);
				for (int i = 0; e != NULL && bson_iter_next(&field); i++)
				{
					const char *key = bson_iter_key(&field);

					if (key[0] == '$')
					{
						AggExprFail(p->error, AGG_ERR_OBJECT_DOLLAR,
									"field path references must be prefixed with a '$' ('%s')", key);
						e = NULL;
						break;
					}
					if (strchr(key, '.') != NULL)
					{
						AggExprFail(p->error, AGG_ERR_OBJECT_DOT,
									"FieldPath field names may not contain '.'.");
						e = NULL;
						break;
					}
					e->names[i] = AggParseStrdup(p, key);
					if ((e->args[i] = AggExprParseSub(p, &field)) == NULL)
						e = NULL;
				}
				break;
			}
		default:
			e = AggExprConst(p, bson_iter_value((bson_iter_t *) it));
			break;
	}
	p->depth--;
	return e;
}

AggExpr *
AggExprParse(const bson_iter_t *it, AggExprScope *scope, BsonQueryError *error)
{
	AggExprParser p;

	Assert(scope != NULL);
	p.scope = scope;
	p.arena = &scope->arena;
	p.error = error;
	p.depth = 0;
	return AggExprParseSub(&p, it);
}

bool
AggExprIsConstant(const AggExpr *expr)
{
	switch (expr->kind)
	{
		case AGG_EXPR_CONST:
			return true;
		case AGG_EXPR_FIELD:
			return false;
		case AGG_EXPR_OBJECT:
		case AGG_EXPR_ARRAY:
			for (int i = 0; i < expr->nargs; i++)
				if (!AggExprIsConstant(expr->args[i]))
					return false;
			return true;
		case AGG_EXPR_OP:
			return false;
	}
	return false;
}

/* ---- evaluation ---- */

/*
 * The value at path[from...] below a value: through documents, and
 * through arrays by mapping over their elements (documents recurse, other
 * elements, nested arrays included, are skipped: "$a.b" on
 * {a: [[{b: 1}]]} is []).
 */
static void
AggPathValue(AggExprContext *cx, const bson_value_t *v, char **path, int npath, int from,
			 bson_value_t *out)
{
	if (from == npath)
	{
		*out = *v;
		return;
	}
	if (v->value_type == BSON_TYPE_DOCUMENT)
	{
		bson_iter_t it;

		if (bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len) &&
			bson_iter_find(&it, path[from]))
		{
			bson_value_t child = *bson_iter_value(&it);

			AggPathValue(cx, &child, path, npath, from + 1, out);
			return;
		}
		out->value_type = BSON_TYPE_EOD;
		return;
	}
	if (v->value_type == BSON_TYPE_ARRAY)
	{
		bson_iter_t it;
		bson_t		result = BSON_INITIALIZER;
		int			n = 0;

		if (bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len))
			while (bson_iter_next(&it))
			{
				bson_value_t elem = *bson_iter_value(&it);
				bson_value_t sub;
				char		key[16];

				/* only documents: nested arrays are skipped, as in MongoDB */
				if (elem.value_type != BSON_TYPE_DOCUMENT)
					continue;
				AggPathValue(cx, &elem, path, npath, from, &sub);
				if (sub.value_type == BSON_TYPE_EOD)
					continue;
				snprintf(key, sizeof(key), "%d", n++);
				bson_append_value(&result, key, -1, &sub);
			}
		AggSetFromBson(cx, out, &result, true);
		bson_destroy(&result);
		return;
	}
	out->value_type = BSON_TYPE_EOD;
}

bool
AggExprEval(const AggExpr *expr, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	PURE_CHECK_STACK();
	switch (expr->kind)
	{
		case AGG_EXPR_CONST:
			*out = expr->value;
			return true;
		case AGG_EXPR_FIELD:
			{
				bson_value_t base;

				switch (expr->var)
				{
					case AGG_VAR_CURRENT:
						if (cx->current != NULL)
						{
							base.value_type = BSON_TYPE_DOCUMENT;
							base.value.v_doc.data = (uint8_t *) cx->current;
							base.value.v_doc.data_len = cx->current_len;
							break;
						}
						/* FALLTHROUGH */
					case AGG_VAR_ROOT:
						if (cx->root == NULL)
						{
							out->value_type = BSON_TYPE_EOD;
							return true;
						}
						base.value_type = BSON_TYPE_DOCUMENT;
						base.value.v_doc.data = (uint8_t *) cx->root;
						base.value.v_doc.data_len = cx->root_len;
						break;
					case AGG_VAR_REMOVE:
						out->value_type = BSON_TYPE_EOD;
						return true;
					case AGG_VAR_NOW:
						base.value_type = BSON_TYPE_DATE_TIME;
						base.value.v_datetime = cx->now_ms;
						break;
					case AGG_VAR_CLUSTER_TIME:
						base.value_type = BSON_TYPE_TIMESTAMP;
						base.value.v_timestamp.timestamp = (uint32_t) (cx->now_ms / 1000);
						base.value.v_timestamp.increment = 1;
						break;
					default:
						if (expr->var >= cx->nslots)
							return AggExprFail(error, AGG_ERR_UNDEFINED_VARIABLE,
											   "Use of undefined variable");
						base = cx->slots[expr->var];
						break;
				}
				if (expr->npath == 0)
				{
					*out = base;
					return true;
				}
				AggPathValue(cx, &base, expr->path, expr->npath, 0, out);
				return true;
			}
		case AGG_EXPR_OBJECT:
			{
				bson_t		doc = BSON_INITIALIZER;

				for (int i = 0; i < expr->nargs; i++)
				{
					bson_value_t v;

					if (!AggExprEval(expr->args[i], cx, &v, error))
					{
						bson_destroy(&doc);
						return false;
					}
					if (v.value_type != BSON_TYPE_EOD)
						bson_append_value(&doc, expr->names[i], -1, &v);
				}
				AggSetFromBson(cx, out, &doc, false);
				bson_destroy(&doc);
				return true;
			}
		case AGG_EXPR_ARRAY:
			{
				bson_t		arr = BSON_INITIALIZER;

				for (int i = 0; i < expr->nargs; i++)
				{
					bson_value_t v;
					char		key[16];

					if (!AggExprEval(expr->args[i], cx, &v, error))
					{
						bson_destroy(&arr);
						return false;
					}
					snprintf(key, sizeof(key), "%d", i);
					if (v.value_type == BSON_TYPE_EOD)
						bson_append_null(&arr, key, -1);
					else
						bson_append_value(&arr, key, -1, &v);
				}
				AggSetFromBson(cx, out, &arr, true);
				bson_destroy(&arr);
				return true;
			}
		case AGG_EXPR_OP:
			return expr->op->eval(expr, cx, out, error);
	}
	return AggExprFail(error, 1, "unknown expression node");
}
