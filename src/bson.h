/*-------------------------------------------------------------------------
 *
 * bson.h
 *	  The bson type: any BSON value stored as a varlena of BSON bytes.
 *
 * A document is stored as exactly its BSON bytes.  Any other value (a
 * scalar or a top-level array) is stored as the one-element document
 * {"": value} followed by one marker byte, so the varlena payload is one
 * byte longer than the document's own length prefix says; users never see
 * the wrapper.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_BSON_H
#define NOSQL_BSON_H

#include <bson/bson.h>

#include "fmgr.h"

#include "bson_json.h"

#define BSON_SCALAR_MARKER	0x01

typedef struct varlena Bson;

#define DatumGetBsonP(X)		((Bson *) PG_DETOAST_DATUM_PACKED(X))
#define PG_GETARG_BSON_P(n)		DatumGetBsonP(PG_GETARG_DATUM(n))
#define PG_RETURN_BSON_P(x)		PG_RETURN_POINTER(x)

/* The BSON document bytes (possibly the wrapper of a non-document value) */
static inline const uint8_t *
BsonBytes(const Bson *b)
{
	return (const uint8_t *) VARDATA_ANY(b);
}

/* Length of the BSON document, from its own length prefix */
static inline uint32_t
BsonDocLen(const Bson *b)
{
	int32_t		len;

	memcpy(&len, VARDATA_ANY(b), sizeof(len));
	return (uint32_t) BSON_UINT32_FROM_LE(len);
}

/* Whether the value is a wrapped non-document */
static inline bool
BsonIsScalar(const Bson *b)
{
	return VARSIZE_ANY_EXHDR(b) == BsonDocLen(b) + 1;
}

extern int	bson_output_mode;

/* bson_io.c */
extern Bson *BsonFromDocument(const bson_t *doc, bool is_scalar);
extern Bson *BsonFromIter(const bson_iter_t *it);
extern Bson *BsonFromValue(const bson_value_t *v);
extern bool BsonValueIter(const Bson *b, bson_iter_t *it, bson_t *holder);
extern char *BsonToCString(const Bson *b, BsonJsonMode mode);
extern const char *BsonTypeName(bson_type_t type);

#endif							/* NOSQL_BSON_H */
