/*-------------------------------------------------------------------------
 *
 * bson_json.h
 *	  MongoDB Extended JSON v2 (canonical and relaxed) to and from BSON.
 *
 * Builds for the server and, with -DFRONTEND, for the unit tests and fuzz
 * targets: JSON is tokenised by PostgreSQL's own lexer (common/jsonapi.h)
 * and BSON is built and read with libbson.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_BSON_JSON_H
#define NOSQL_BSON_JSON_H

#include <bson/bson.h>

#include "lib/stringinfo.h"

/* Input limits, as MongoDB's */
#define BSON_MAX_DOC_SIZE		(16 * 1024 * 1024)	/* bytes of one document */
#define BSON_MAX_DEPTH		100 /* nested documents and arrays */

/*
 * Result of parsing: a document, or a single non-document value wrapped as
 * the only element (key "") of a document.
 */
typedef struct BsonParsed
{
	bson_t		doc;			/* owned; bson_destroy when done */
	bool		is_scalar;		/* doc is {"": value} holding a non-document */
} BsonParsed;

typedef enum BsonJsonMode
{
	BSON_JSON_RELAXED,			/* relaxed, but every type survives a round trip */
	BSON_JSON_CANONICAL,		/* canonical Extended JSON */
	BSON_JSON_RELAXED_PLAIN		/* relaxed with every integer a plain number,
								 * for json/jsonb */
} BsonJsonMode;

/*
 * Parse Extended JSON (or plain JSON) text.  In the server an invalid input
 * raises an ERROR; in frontend builds it returns false with *errmsg set
 * (palloc'd).  On success out->doc must be destroyed by the caller.
 */
extern bool BsonParseJson(const char *json, size_t len, BsonParsed *out,
						  char **error);

/*
 * Append the Extended JSON text of a validated document to buf; with
 * is_scalar, the text of its only element's value.
 */
extern void BsonPrintJson(StringInfo buf, const uint8_t *data, uint32_t len,
						  bool is_scalar, BsonJsonMode mode);

/* Append the Extended JSON text of the value an iterator points at */
extern void BsonPrintValue(StringInfo buf, const bson_iter_t *it,
						   BsonJsonMode mode);

/*
 * Check raw bytes: structure, lengths, terminators, UTF-8, type codes,
 * nesting depth, regex options, boolean bytes.  Returns NULL when valid,
 * else a palloc'd message.  *degenerate is set when the bytes are valid but
 * not canonical (array keys not "0", "1", ...; regex options out of order):
 * store BsonCanonicalize's output instead.
 */
extern char *BsonValidateBytes(const uint8_t *data, size_t len, bool *degenerate);

/*
 * The same for a document or, with is_scalar, for the {"": value} wrapper
 * of a non-document, which does not count as a nesting level.
 */
extern char *BsonValidateValueBytes(const uint8_t *data, size_t len,
									bool is_scalar, bool *degenerate);

/* A document with up to max_depth levels of nesting (for commands) */
extern char *BsonValidateBytesDepth(const uint8_t *data, size_t len, int max_depth,
									bool *degenerate);

/*
 * Whether the Extended JSON text of valid bytes reads back as the same
 * bytes: false when a document in them starts with an Extended JSON
 * keyword and spells a typed value (e.g. {"$oid": "..."} stored from
 * bytes); such values are valid but have no faithful text form.
 */
extern bool BsonHasTextForm(const uint8_t *data, size_t len);

/* Rebuild valid bytes in canonical form into out (bson_destroy it) */
extern void BsonCanonicalize(const uint8_t *data, size_t len, bson_t *out);

#endif							/* NOSQL_BSON_JSON_H */
