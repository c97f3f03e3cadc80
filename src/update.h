/*-------------------------------------------------------------------------
 *
 * update.h
 *	  MongoDB update documents: compiled once, applied to many documents.
 *
 * An update is either an operator document ({$set: {...}, $inc: {...}})
 * or a replacement document.  It compiles to a tree of the paths it
 * touches, validated as MongoDB validates them (unknown operators,
 * conflicting paths, array filters), and is then applied to documents.
 *
 * Pure code (libbson, PCRE2 through the filter engine, and PostgreSQL's
 * src/common only), built into the server and, with -DFRONTEND, into the
 * unit tests and fuzz targets.  Memory comes from palloc (the caller's
 * current memory context); errors are reported in MongoDB's terms through
 * a BsonQueryError (query.h), never by ereport.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_UPDATE_H
#define NOSQL_UPDATE_H

#include <bson/bson.h>

#include "collation.h"
#include "query.h"

/* MongoDB error codes the update engine reports, beyond those of query.h */
#define MONGO_PATH_NOT_VIABLE			28
#define MONGO_CONFLICTING_UPDATE_OPS	40
#define MONGO_DOLLAR_PREFIXED_FIELD		52
#define MONGO_NOT_SINGLE_VALUE_FIELD	54
#define MONGO_EMPTY_FIELD_NAME			56
#define MONGO_IMMUTABLE_FIELD			66
#define MONGO_DOCUMENT_TOO_LARGE		17419

typedef struct BsonUpdate BsonUpdate;

/*
 * Compile an update document given as BSON bytes: the operator form (its
 * first key starts with "$", and then every key must be an operator) or a
 * replacement document.  array_filters, when not NULL, are the bytes of the
 * arrayFilters array (a BSON array, i.e. a document with keys "0", "1",
 * ...).  Returns NULL and fills *error (message palloc'd) when the update
 * or its array filters are invalid.  The compiled update keeps copies of
 * what it needs: the inputs may be freed afterwards.
 */
extern BsonUpdate *BsonUpdateCompile(const uint8_t *update, uint32_t len,
									 const uint8_t *array_filters,
									 uint32_t af_len, BsonQueryError *error);

/*
 * As BsonUpdateCompile, with strings compared under a collation (NULL:
 * simple) by $addToSet, $pull, $pullAll, $min, $max, $push's $sort and the
 * array filters.  The collation must outlive the compiled update.
 */
extern BsonUpdate *BsonUpdateCompileCollated(const uint8_t *update, uint32_t len,
											 const uint8_t *array_filters,
											 uint32_t af_len,
											 const BsonCollation *collation,
											 BsonQueryError *error);

/*
 * MongoDB's pipeline-style update (an array of stages) is not built yet:
 * this fills *error with NotImplemented (238), for callers that meet one.
 */
extern void BsonUpdatePipelineError(BsonQueryError *error);

/* Whether the update is a replacement document */
extern bool BsonUpdateIsReplacement(const BsonUpdate *u);

/* Whether the update uses the positional $ operator (needs the position) */
extern bool BsonUpdateNeedsPosition(const BsonUpdate *u);

/*
 * Apply a compiled update to a document (BSON bytes).
 *
 * position: the index of the array element the query matched (its
 * elemMatchKey, see BsonFilterMatchesWithPosition), for the positional $;
 * -1 when there is none.  is_insert: the document is the seed of an upsert
 * (BsonUpsertSeed), which makes $setOnInsert act.  now_ms: the current time
 * in milliseconds since the epoch, for $currentDate (a timestamp gets its
 * seconds and an increment of 1).
 *
 * *out must be an initialized, empty bson_t (bson_init); on success it
 * holds the new document (the caller bson_destroys it in any case),
 * *modified says whether it differs from the input (MongoDB's no-op rule:
 * setting a field to an identical value of the same type modifies nothing),
 * and true is returned.  On a MongoDB error, false is returned with *error
 * filled; *out is then unspecified.
 */
extern bool BsonUpdateApply(const BsonUpdate *u, const uint8_t *doc,
							uint32_t len, int32_t position, bool is_insert,
							int64_t now_ms, bson_t *out, bool *modified,
							BsonQueryError *error);

/*
 * Describe what an update changed in a document, as a change event's
 * updateDescription: updated gets updatedFields (dotted path -> new
 * value), removed the removedFields array, truncated the truncatedArrays
 * array ({field, newSize}); all three initialized, empty.  u is the
 * compiled operator update that turned old into new, NULL for a pipeline
 * update (described as the plain difference).  update_describe.c.
 */
extern void BsonUpdateDescribe(const BsonUpdate *u, const uint8_t *old,
							   uint32_t old_len, const uint8_t *new,
							   uint32_t new_len, bson_t *updated,
							   bson_t *removed, bson_t *truncated);
extern void BsonUpdateDescribeAll(const BsonUpdate *u, const uint8_t *old,
								  uint32_t old_len, const uint8_t *new,
								  uint32_t new_len, bson_t *updated,
								  bson_t *removed, bson_t *truncated,
								  bson_t *disambiguated);

/* Release a compiled update (including its compiled filters) */
extern void BsonUpdateFree(BsonUpdate *u);

/*
 * Build the seed document of an upsert from a query filter: the equality
 * predicates (a literal value or $eq, at the top level or inside a
 * top-level $and, or an $or with a single branch), dotted paths becoming
 * nested documents, _id first.  *out must be an initialized, empty
 * bson_t.  Returns false with *error filled on MongoDB's errors:
 * NotSingleValueField (54) for two equalities on one path or on a path and
 * its prefix, and the path errors of $set.  An _id the filter does not give
 * is left to the caller (which generates an ObjectId).
 */
extern bool BsonUpsertSeed(const uint8_t *filter, uint32_t len, bson_t *out,
						   BsonQueryError *error);

#endif							/* NOSQL_UPDATE_H */
