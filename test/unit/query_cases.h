/*-------------------------------------------------------------------------
 *
 * query_cases.h
 *	  Table-driven checks of the filter compiler and matcher, shared by
 *	  the unit tests of query_*.c (test_query.c, test_query_schema.c).
 *
 * Filters and documents are written as Extended JSON with single quotes
 * (turned into double quotes before parsing).  Keys "$regex" and
 * "$options" are read as keys, not as the legacy regex wrapper.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_QUERY_CASES_H
#define NOSQL_QUERY_CASES_H

#include "query.h"

/* A filter and a document, and whether the filter matches it */
typedef struct MatchCase
{
	const char *filter;
	const char *doc;
	bool		match;
} MatchCase;

/* A filter that must not compile, with MongoDB's code */
typedef struct ErrorCase
{
	const char *filter;
	int			code;
	const char *message;		/* a substring of the message, or NULL */
} ErrorCase;

/* A filter, a matching document and the positional index it gives */
typedef struct PositionCase
{
	const char *filter;
	const char *doc;
	int			position;
} PositionCase;

/* A document from single-quoted Extended JSON (NULL: reported failure) */
extern bson_t *ParseJson(const char *json, const char *file, int line);

/* Compile a filter written as JSON (NULL: error filled, code -1 if unparsable) */
extern BsonFilter *Compile(const char *json, BsonQueryError *error,
						   const char *file, int line);

/* Check tables of cases, reporting failures at the caller's file and line */
extern void RunMatchCases(const MatchCase *cases, int n, const char *file, int line);
extern void RunErrorCases(const ErrorCase *cases, int n, const char *file, int line);
extern void RunPositionCases(const PositionCase *cases, int n, const char *file,
							 int line);

#define RUN_MATCHES(cases)	RunMatchCases(cases, lengthof(cases), __FILE__, __LINE__)
#define RUN_ERRORS(cases)	RunErrorCases(cases, lengthof(cases), __FILE__, __LINE__)
#define RUN_POSITIONS(cases) RunPositionCases(cases, lengthof(cases), __FILE__, __LINE__)

#endif							/* NOSQL_QUERY_CASES_H */
