/*-------------------------------------------------------------------------
 *
 * collation.h
 *	  MongoDB collations ({locale, strength, caseLevel, caseFirst,
 *	  numericOrdering, alternate, maxVariable, backwards, normalization}):
 *	  how strings compare in filters, sorts and distinct.
 *
 * A collation compiles to an ICU collator.  The simple collation
 * ({locale: "simple"}) compiles to NULL, and every function taking a
 * collation treats NULL as MongoDB's binary comparison of strings, so
 * callers keep a single code path.
 *
 * Pure code (libbson, ICU and PostgreSQL's src/common only), built into
 * the server and, with -DFRONTEND, into the unit tests.  Memory comes from
 * palloc; in the server the ICU collator is closed when the memory context
 * the collation was compiled in goes away.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_COLLATION_H
#define NOSQL_COLLATION_H

#include <bson/bson.h>

#include "query.h"

/* MongoDB error codes of invalid collation documents */
#define MONGO_COLLATION_MISSING_FIELD	40414
#define MONGO_COLLATION_UNKNOWN_FIELD	40415

typedef struct BsonCollation BsonCollation;

/*
 * Compile a collation document given as BSON bytes.  Returns false and
 * fills *error (MongoDB's code and message) when it is invalid; otherwise
 * sets *out to the compiled collation, or to NULL for the simple one.
 */
extern bool BsonCollationCompile(const uint8_t *data, uint32_t len,
								 BsonCollation **out, BsonQueryError *error);

/*
 * Whether a collation document is the simple collation: {locale: "simple"}
 * (checked with BsonCollationCompile first).
 */
extern bool BsonCollationIsSimple(const uint8_t *data, uint32_t len);

/* Compare two strings (UTF-8, lengths in bytes) under a collation: <0, 0, >0 */
extern int	BsonCollationCompareStrings(const BsonCollation *collation,
										const char *a, uint32_t alen,
										const char *b, uint32_t blen);

/*
 * The sort key of a string: bytes that compare with memcmp (a shorter
 * prefix first) as the strings compare under the collation.  The key never
 * holds a zero byte.  Returns a palloc'd buffer and its length.
 */
extern uint8_t *BsonCollationSortKey(const BsonCollation *collation,
									 const char *str, uint32_t len,
									 uint32_t *keylen);

/*
 * Whether two compiled collations compare strings alike (NULL, the simple
 * collation, equals only itself).
 */
extern bool BsonCollationEqual(const BsonCollation *a, const BsonCollation *b);

/*
 * Append a value to a document with every string and symbol in it (inside
 * documents and arrays too) replaced by a string holding its sort key
 * (encoded as valid UTF-8, in the same byte order), so that
 * BsonCompareValues orders the results as BsonCompareValuesCollated orders
 * the originals.  Field names are kept.
 */
extern void BsonCollationAppendKeyed(const BsonCollation *collation, bson_t *out,
									 const char *key, int keylen,
									 const bson_iter_t *value);

/* Release a compiled collation (NULL is allowed) */
extern void BsonCollationFree(BsonCollation *collation);

#endif							/* NOSQL_COLLATION_H */
