/*-------------------------------------------------------------------------
 *
 * sort.h
 *	  MongoDB sort specifications ({a: 1, "b.c": -1}) and the order they
 *	  put documents in.
 *
 * Pure code (libbson and PostgreSQL's src/common only), built into the
 * server and, with -DFRONTEND, into the unit tests and fuzz targets.
 * Memory comes from palloc; errors are returned in a BsonQueryError, never
 * raised.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_SORT_H
#define NOSQL_SORT_H

#include <bson/bson.h>

#include "collation.h"
#include "query.h"

/* Most fields a sort may have (MongoDB's compound key limit) */
#define BSON_SORT_MAX_FIELDS		32

typedef struct BsonSortSpec BsonSortSpec;

/*
 * Compile a sort document given as BSON bytes.  Returns NULL and fills
 * *error (message palloc'd) when it is invalid.  An empty document is a
 * valid sort with no fields.
 */
extern BsonSortSpec *BsonSortCompile(const uint8_t *spec, uint32_t len,
									 BsonQueryError *error);

/* The sort fields, in order ($natural is not one of them) */
extern int	BsonSortFieldCount(const BsonSortSpec *s);
extern const char *BsonSortFieldPath(const BsonSortSpec *s, int i);
extern bool BsonSortFieldDescending(const BsonSortSpec *s, int i);

/*
 * Whether the sort names $natural (storage order; not implemented here),
 * and its direction: 1 or -1.
 */
extern bool BsonSortIsNatural(const BsonSortSpec *s);
extern int	BsonSortNaturalDirection(const BsonSortSpec *s);

/*
 * The value MongoDB sorts a document by for one dotted path: through
 * arrays, the smallest of the values reached for an ascending sort, the
 * largest for a descending one; a missing field is null, and an empty
 * array (alone) is undefined, which sorts before null.  *out points into
 * doc (or is a null or undefined value of its own).
 */
extern void BsonSortKey(const uint8_t *doc, uint32_t len, const char *path,
						bool descending, bson_value_t *out);

/*
 * As BsonSortKey, choosing the smallest or largest array element with
 * strings compared under a collation (NULL: simple).
 */
extern void BsonSortKeyCollated(const uint8_t *doc, uint32_t len, const char *path,
								bool descending, const BsonCollation *collation,
								bson_value_t *out);

/* Compare two sort keys in MongoDB's order (<0, 0, >0) */
extern int	BsonSortCompareKeys(const bson_value_t *a, const bson_value_t *b);

/*
 * Compare two documents under a sort: field by field, each by its sort
 * key, reversed for descending fields.  0 when every key is equal.
 */
extern int	BsonSortCompareDocs(const BsonSortSpec *s, const uint8_t *a, uint32_t alen,
								const uint8_t *b, uint32_t blen);

/* Release a compiled sort */
extern void BsonSortFree(BsonSortSpec *s);

#endif							/* NOSQL_SORT_H */
