/*-------------------------------------------------------------------------
 *
 * expr_cases.h
 *	  The case runner the unit tests of the aggregation expressions share
 *	  (expr_cases.c).
 *
 * Expressions, documents and results are Extended JSON with single
 * quotes; a result is compared as the canonical Extended JSON of
 * {'r': <value>} ({} when the value is missing).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_UNIT_EXPR_CASES_H
#define NOSQL_UNIT_EXPR_CASES_H

#include <bson/bson.h>

typedef struct ExprCase
{
	const char *expr;
	const char *doc;
	const char *expected;		/* {'r': value}, or NULL for an error */
	int			code;			/* the error's code */
} ExprCase;

/* A document from single-quoted Extended JSON (NULL on a parse failure) */
extern bson_t *ExprJson(const char *json, const char *file, int line);

/* One case whose result is {key: value} ({} when missing) */
extern void CheckExprKeyed(const ExprCase *c, const char *key, const char *file, int line);

/* Each case, its result {'r': value} */
extern void CheckExprs(const ExprCase *cases, int n, const char *file, int line);

#define CHECK_EXPRS(cases) CheckExprs(cases, lengthof(cases), __FILE__, __LINE__)

#endif							/* NOSQL_UNIT_EXPR_CASES_H */
