/*-------------------------------------------------------------------------
 *
 * expr_internal.h
 *	  The parsed form of aggregation expressions, shared by the core
 *	  (expr.c) and the files of the operator families (expr_*.c).
 *
 * An expression parses to a tree of AggExprs: constants, field paths
 * ("$a.b", "$$var.a"), object and array literals, and operator nodes.  An
 * operator is an entry of an AggExprOp table: its name, how many arguments
 * it takes (its arguments are an array, or one value that is the single
 * argument), and its evaluation function; operators with named arguments
 * ({$cond: {if, then, else}}, {$let: {vars, in}}, ...) bring their own
 * parse function, which fills args/names or data.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_EXPR_INTERNAL_H
#define NOSQL_EXPR_INTERNAL_H

#include "bson_compare.h"
#include "expr.h"

/* Deepest nesting of expressions */
#define AGG_EXPR_MAX_DEPTH		200

/* Variables that are not user slots */
#define AGG_VAR_ROOT			(-1)
#define AGG_VAR_CURRENT			(-2)
#define AGG_VAR_REMOVE			(-3)
#define AGG_VAR_NOW				(-4)
#define AGG_VAR_CLUSTER_TIME	(-5)

/* MongoDB's error codes the core and several families raise */
#define AGG_ERR_TYPE_MISMATCH		14
#define AGG_ERR_BAD_VALUE			2
#define AGG_ERR_INVALID_PIPELINE_OP	168
#define AGG_ERR_ARITY				16020
#define AGG_ERR_RANGED_ARITY		28667
#define AGG_ERR_MEMORY_LIMIT		146
#define AGG_ERR_UNDEFINED_VARIABLE	17276
#define AGG_ERR_FIELD_PATH_DOLLAR	16873
#define AGG_ERR_FIELD_PATH_EMPTY	15998
#define AGG_ERR_FIELD_PATH_DOT		40353
#define AGG_ERR_EMPTY_FIELD_PATH	40352
#define AGG_ERR_DOLLAR_ALONE		16872
#define AGG_ERR_VARIABLE_NAME		16866
#define AGG_ERR_OBJECT_DOLLAR		16404
#define AGG_ERR_OBJECT_DOT			16412
#define AGG_ERR_EXPRESSION_OBJECT	15983
#define AGG_ERR_ARGS_NOT_ARRAY		16021

typedef enum AggExprKind
{
	AGG_EXPR_CONST,
	AGG_EXPR_FIELD,				/* var (ROOT/CURRENT/slot) then path */
	AGG_EXPR_OBJECT,
	AGG_EXPR_ARRAY,
	AGG_EXPR_OP
} AggExprKind;

typedef struct AggExprParser AggExprParser;

typedef bool (*AggExprEvalFn) (const AggExpr *expr, AggExprContext *cx, bson_value_t *out,
							   BsonQueryError *error);
typedef bool (*AggExprParseFn) (AggExprParser *p, AggExpr *expr, const bson_iter_t *arg);

typedef struct AggExprOp
{
	const char *name;			/* "$add" */
	AggExprEvalFn eval;
	AggExprParseFn parse;		/* NULL: positional arguments */
	int			min_args;
	int			max_args;		/* -1: any number */
} AggExprOp;

struct AggExpr
{
	AggExprKind kind;
	bson_value_t value;			/* CONST (its bytes owned by the tree) */
	int			var;			/* FIELD: AGG_VAR_* or a slot */
	int			npath;			/* FIELD: the components after the variable */
	char	  **path;
	int			nargs;			/* OBJECT, ARRAY, OP */
	AggExpr   **args;
	char	  **names;			/* OBJECT field names; OP named arguments */
	const AggExprOp *op;
	void	   *data;			/* operator-specific */
};

struct AggExprParser
{
	AggExprScope *scope;
	AggArena   *arena;			/* the scope's: where the tree lives */
	BsonQueryError *error;
	int			depth;
};

/* Memory for a parse (the tree's arena) */
static inline void *
AggParseAlloc(AggExprParser *p, size_t size)
{
	return AggArenaAlloc(p->arena, size);
}

extern char *AggParseStrdup(AggExprParser *p, const char *s);

/* Memory for an evaluation's results */
static inline void *
AggEvalAlloc(AggExprContext *cx, size_t size)
{
	return AggArenaAlloc(cx->arena, size);
}

/* Parse a sub-expression (depth-checked) */
extern AggExpr *AggExprParseSub(AggExprParser *p, const bson_iter_t *it);

/*
 * Parse a document of named arguments into e->args by the position of each
 * name in names (absent ones stay NULL), in document order.  On a key that
 * is not in names it returns false with *unknown pointing at the key, for
 * the caller to report in the operator's own words; on a failed
 * sub-expression it returns false with *unknown NULL (the error is set).
 */
extern bool AggParseArgsByName(AggExprParser *p, AggExpr *e, const bson_iter_t *doc,
							   const char *const *names, int nnames,
							   const char **unknown);

/* A new node of an operator with room for nargs arguments */
extern AggExpr *AggExprNewOp(AggExprParser *p, const AggExprOp *op, int nargs);

/* Scopes for the operators that bind variables ($let, $map, ...) */
extern void AggExprScopePush(AggExprScope *scope);
extern void AggExprScopePop(AggExprScope *scope);
extern bool AggExprCheckVariableName(AggExprParser *p, const char *name);

/* Record an error; returns false (or NULL through a cast) */
extern bool AggExprFail(BsonQueryError *error, int code, const char *format,...)
			pg_attribute_printf(3, 4);

/* Evaluate argument i of an operator node */
static inline bool
AggEvalArg(const AggExpr *expr, int i, AggExprContext *cx, bson_value_t *out,
		   BsonQueryError *error)
{
	return AggExprEval(expr->args[i], cx, out, error);
}

/* ---- values ---- */

/* missing (EOD), null or undefined */
static inline bool
AggValueNullish(const bson_value_t *v)
{
	return v->value_type == BSON_TYPE_EOD || v->value_type == BSON_TYPE_NULL ||
		v->value_type == BSON_TYPE_UNDEFINED;
}

static inline bool
AggValueIsNumber(const bson_value_t *v)
{
	return v->value_type == BSON_TYPE_INT32 || v->value_type == BSON_TYPE_INT64 ||
		v->value_type == BSON_TYPE_DOUBLE || v->value_type == BSON_TYPE_DECIMAL128;
}

extern double AggNumberAsDouble(const bson_value_t *v);
extern void AggSetNull(bson_value_t *out);
extern void AggSetBool(bson_value_t *out, bool b);
extern void AggSetInt32(bson_value_t *out, int32_t i);
extern void AggSetInt64(bson_value_t *out, int64_t i);
extern void AggSetDouble(bson_value_t *out, double d);
extern void AggSetString(AggExprContext *cx, bson_value_t *out, const char *s, uint32_t len);

/* A document or array value from a bson_t being built (its bytes copied) */
extern void AggSetFromBson(AggExprContext *cx, bson_value_t *out, const bson_t *b, bool array);

/* An iterator over a value (for the comparison and path functions) */
extern void AggValueIter(const bson_value_t *v, bson_t *holder, bson_iter_t *it);

/* MongoDB's comparison of two values (missing sorts as null's bracket) */
extern int	AggValueCompare(const bson_value_t *a, const bson_value_t *b,
							const struct BsonCollation *collation);

/* MongoDB's type name of a value ("missing" for EOD) */
extern const char *AggTypeName(const bson_value_t *v);

/* The Extended JSON text of a value, for messages (in the arena) */
extern const char *AggValueText(AggExprContext *cx, const bson_value_t *v);

/*
 * A number that is an int32 exactly (1.0 is, 1.5 and 2^31 are not); false
 * for other values.
 */
extern bool AggValueToInt32(const bson_value_t *v, int32_t *out);

/*
 * Most bytes one evaluation may hold in its arena, and the largest array
 * or document an operator builds: MongoDB's 100 MB limit of a stage.
 */
#define AGG_MAX_EVAL_BYTES		((size_t) 100 * 1024 * 1024)
/*
 * MongoDB's coerceToString (null and missing are "", numbers, dates and
 * timestamps printed); 16007 for the other types
 */
extern bool AggCoerceToString(AggExprContext *cx, const bson_value_t *v, const char **s,
							  uint32_t *len, BsonQueryError *error);
/* ---- numeric and date helpers (expr_type.c) ---- */

struct BsonDecimal;

/* A decimal128 as the nearest double */
extern double AggDecimalToDouble(const bson_decimal128_t *dec);

/* A number as a decimal (doubles rounded to 15 digits, as MongoDB does) */
extern void AggNumberAsDecimal(const bson_value_t *v, struct BsonDecimal *out);
extern void AggSetDecimal(bson_value_t *out, const struct BsonDecimal *d);

/* A double as the decimal of its 34 leading digits, trailing zeros dropped */
extern void AggDoubleToDecimalExact(double x, struct BsonDecimal *out);

/* A finite decimal truncated to an int64; false when NaN, infinite or out of range */
extern bool AggDecimalToInt64(const struct BsonDecimal *d, int64_t *out);

/* x / n (n > 0), rounded to 34 digits */
extern void AggDecimalDivideInt(const struct BsonDecimal *x, int64_t n,
								struct BsonDecimal *out);

/* Days since 1970-01-01 of a proleptic Gregorian date, and back */
extern int64_t AggDaysFromCivil(int64_t y, int m, int d);
extern void AggCivilFromDays(int64_t z, int64_t *y, int *m, int *d);

/* A date as "%Y-%m-%dT%H:%M:%S.%LZ" (buf of 32 bytes); false (18537) outside years 0-9999 */
extern bool AggFormatDate(int64_t ms, char *buf, size_t size, BsonQueryError *error);

/* An ISO-8601 date string as ms since the epoch; false when it is not one */
extern bool AggParseDate(const char *s, uint32_t len, int64_t *out);

/* The state of $sum and $avg */
typedef struct AggSumState
{
	int			widest;			/* 0 int32, 1 int64, 2 double, 3 decimal */
	int64_t		count;
	int64_t		isum;			/* exact while !ioverflow */
	bool		ioverflow;
	double		dsum;			/* Neumaier-compensated sum of the non-decimals */
	double		dcomp;
	bool		have_decimal;
	BsonDecimal decsum;
} AggSumState;

/* Add a value to a $sum/$avg state; the result of $sum (avg false) or $avg */
extern void AggSumAdd(const bson_value_t *v, void *state);
extern void AggSumResult(const AggSumState *s, bool avg, bson_value_t *out);

/* The state of the standard deviations: Welford's running mean */
typedef struct AggStdDevState
{
	int64_t		count;
	double		mean;
	double		m2;
} AggStdDevState;

/* Add a value to a standard deviation state */
extern void AggStdDevAdd(const bson_value_t *v, void *state);

/* The operator families (tables end with a NULL name) */
extern const AggExprOp AggExprOpsArith[];
extern const AggExprOp AggExprOpsLogic[];
extern const AggExprOp AggExprOpsArray[];
extern const AggExprOp AggExprOpsString[];
extern const AggExprOp AggExprOpsType[];
extern const AggExprOp AggExprOpsObject[];
extern const AggExprOp AggExprOpsDate[];

#endif							/* NOSQL_EXPR_INTERNAL_H */
