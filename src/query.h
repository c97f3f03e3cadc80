/*-------------------------------------------------------------------------
 *
 * query.h
 *	  MongoDB query filters: compiled once, matched against many documents.
 *
 * Pure code (libbson, PCRE2 and PostgreSQL's src/common only), built into
 * the server and, with -DFRONTEND, into the unit tests and fuzz targets.
 * Memory comes from palloc (the caller's current memory context).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_QUERY_H
#define NOSQL_QUERY_H

#include <bson/bson.h>

/* MongoDB error codes the filter compiler reports */
#define MONGO_BAD_VALUE				2
#define MONGO_FAILED_TO_PARSE		9
#define MONGO_TYPE_MISMATCH			14
#define MONGO_NOT_IMPLEMENTED		238 /* $expr, $text, geo: not yet */

/* An error in MongoDB's terms: code, codeName and message (errmsg) */
typedef struct BsonQueryError
{
	int			code;
	const char *code_name;
	char	   *message;		/* palloc'd */
} BsonQueryError;

typedef struct BsonFilter BsonFilter;

/*
 * Compile a filter document given as BSON bytes.  Returns NULL and fills
 * *error when the filter is invalid, with MongoDB's error code and message.
 */
extern BsonFilter *BsonFilterCompile(const uint8_t *data, uint32_t len,
									 BsonQueryError *error);

/*
 * As BsonFilterCompile, with strings compared under a collation (see
 * collation.h; NULL is the simple collation) by every comparison and
 * equality except $regex.  The collation must outlive the filter.
 */
struct BsonCollation;
extern BsonFilter *BsonFilterCompileCollated(const uint8_t *data, uint32_t len,
											 const struct BsonCollation *collation,
											 BsonQueryError *error);

/* Whether a document (BSON bytes) matches a compiled filter */
extern bool BsonFilterMatches(const BsonFilter *filter, const uint8_t *doc,
							  uint32_t len);

/*
 * As BsonFilterMatches, also giving the index of the array element that
 * made the match, for the positional $ operator of projections and updates
 * (-1 when no array was involved).  This is MongoDB's "elemMatchKey": the
 * element of the outermost array the matching predicate's path traversed,
 * or the element an $elemMatch accepted; when several predicates of an
 * $and traverse arrays, the last one to match wins, as in MongoDB.
 */
extern bool BsonFilterMatchesWithPosition(const BsonFilter *filter,
										  const uint8_t *doc, uint32_t len,
										  int32_t *array_index);

/* Release a compiled filter (including its compiled regular expressions) */
extern void BsonFilterFree(BsonFilter *filter);

#endif							/* NOSQL_QUERY_H */
