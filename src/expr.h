/*-------------------------------------------------------------------------
 *
 * expr.h
 *	  MongoDB aggregation expressions: parsing an expression into a tree
 *	  and evaluating it against a document.
 *
 * A pure module (no catalogs, no SPI, no ereport): errors come back in a
 * BsonQueryError with MongoDB's code, so the module runs in the C unit
 * tests under the sanitizers as well as in the backend.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_EXPR_H
#define NOSQL_EXPR_H

#include <bson/bson.h>

#include "query.h"

typedef struct AggExpr AggExpr;
typedef struct AggExprScope AggExprScope;
struct BsonCollation;

/*
 * The variables in scope while an expression is parsed: the user variables
 * of the command (let) and those $let, $map, $filter and $reduce bind.
 * Each gets a slot of the evaluation context.
 */
extern AggExprScope *AggExprScopeNew(void);
extern int	AggExprScopeDefine(AggExprScope *scope, const char *name);
extern int	AggExprScopeSlots(const AggExprScope *scope);

/*
 * Free a scope and every expression parsed with it (they live in its
 * arena).
 */
extern void AggExprScopeFree(AggExprScope *scope);

/*
 * Memory of evaluations: a chain of chunks, freed at once.  The caller
 * resets it between documents so that evaluation memory stays bounded.
 */
typedef struct AggArena
{
	struct AggArenaChunk *chunks;
	size_t		allocated;		/* bytes held, to bound evaluations */
} AggArena;

extern void *AggArenaAlloc(AggArena *arena, size_t size);
extern void AggArenaReset(AggArena *arena);

/*
 * Parse the expression an iterator points at.  NULL and *error filled when
 * it is invalid (MongoDB's code and message).
 */
extern AggExpr *AggExprParse(const bson_iter_t *it, AggExprScope *scope,
							 BsonQueryError *error);

/* Whether a name is a MongoDB expression operator / implemented here */
extern bool AggExprKnownName(const char *name);
extern bool AggExprOperatorExists(const char *name);

/* Whether an expression is a constant (its value needs no document) */
extern bool AggExprIsConstant(const AggExpr *expr);

/* What an evaluation sees */
typedef struct AggExprContext
{
	const uint8_t *root;		/* $$ROOT (and $$CURRENT): document bytes */
	uint32_t	root_len;
	const uint8_t *current;		/* $$CURRENT when not the root ($redact) */
	uint32_t	current_len;
	bson_value_t *slots;		/* the user variables, by slot */
	int			nslots;
	int64_t		now_ms;			/* $$NOW, ms since the epoch */
	const struct BsonCollation *collation;	/* string comparisons; NULL: simple */
	bool		in_filter;		/* a filter's $expr: $in compares simply, as
								 * MongoDB's does there */
	AggArena   *arena;			/* where results are allocated */
} AggExprContext;

/*
 * Evaluate an expression.  *out is the value; BSON_TYPE_EOD means missing
 * ($$REMOVE, a missing field).  Strings, documents and arrays of the result
 * are in cx->arena (or point into the root document or the expression).
 * False and *error filled when the evaluation fails.
 */
extern bool AggExprEval(const AggExpr *expr, AggExprContext *cx, bson_value_t *out,
						BsonQueryError *error);

/*
 * The metadata ({name: value}: score, geoNearDistance, ...) that $meta
 * reads while the documents of a pipeline stage are evaluated; NULL: none.
 * The caller sets it around an evaluation and clears it after.
 */
extern void AggExprSetMeta(const uint8_t *meta, uint32_t len);

/* Whether a value is "true" for $cond, $and, $or, $not, $match's $expr */
extern bool AggValueTrue(const bson_value_t *v);

/* A date plus amount of a unit in UTC, as $dateAdd ($densify) */
extern bool AggDateAddUTC(int64_t start, const char *unit, int64_t amount, int64_t *result);

#endif							/* NOSQL_EXPR_H */
