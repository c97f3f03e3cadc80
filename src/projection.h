/*-------------------------------------------------------------------------
 *
 * projection.h
 *	  MongoDB find projections: compiled once, applied to many documents.
 *
 * Pure code (libbson, the filter engine of query.h and PostgreSQL's
 * src/common only), built into the server and, with -DFRONTEND, into the
 * unit tests and fuzz targets.  Memory comes from palloc (the caller's
 * current memory context); errors are returned in a BsonQueryError with
 * MongoDB's code, code name and message, never raised.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_PROJECTION_H
#define NOSQL_PROJECTION_H

#include <bson/bson.h>

#include "collation.h"
#include "query.h"

typedef struct BsonProjection BsonProjection;

/*
 * Compile a projection document given as BSON bytes.  Returns NULL and
 * fills *error (message palloc'd) when the projection is invalid.
 */
extern BsonProjection *BsonProjectionCompile(const uint8_t *spec, uint32_t len,
											 BsonQueryError *error);

/*
 * As BsonProjectionCompile, the filters of $elemMatch comparing strings
 * under a collation (NULL: simple), which must outlive the projection.
 */
extern BsonProjection *BsonProjectionCompileCollated(const uint8_t *spec, uint32_t len,
													 const BsonCollation *collation,
													 BsonQueryError *error);

/*
 * What a projection document is: a find projection, an aggregation
 * $project (no positional, $elemMatch or find-syntax $slice), or an
 * $addFields/$set (every field computed, numbers and booleans being values,
 * the rest of the document kept).
 */
typedef enum BsonProjectionMode
{
	BSON_PROJECTION_FIND,
	BSON_PROJECTION_AGGREGATE,
	BSON_PROJECTION_ADD_FIELDS
} BsonProjectionMode;

extern BsonProjection *BsonProjectionCompileMode(const uint8_t *spec, uint32_t len,
												 const BsonCollation *collation,
												 BsonProjectionMode mode,
												 BsonQueryError *error);

/* Whether the projection has a positional "a.$" (it needs the query's match) */
extern bool BsonProjectionNeedsPosition(const BsonProjection *p);

/* Whether the projection keeps only the fields it names (else it removes) */
extern bool BsonProjectionIsInclusion(const BsonProjection *p);

/*
 * Apply a compiled projection to a document.  position is the query's
 * elemMatchKey (BsonFilterMatchesWithPosition), -1 if none.  *out is
 * initialized here and belongs to the caller (bson_destroy) whatever the
 * result; on a runtime error (the positional operator found no element,
 * an expression failed) it returns false and fills *error.
 */
extern bool BsonProjectionApply(const BsonProjection *p, const uint8_t *doc,
								uint32_t len, int32_t position, bson_t *out,
								BsonQueryError *error);

/* Release a compiled projection (and the filters of its $elemMatch) */
extern void BsonProjectionFree(BsonProjection *p);

#endif							/* NOSQL_PROJECTION_H */
