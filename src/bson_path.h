/*-------------------------------------------------------------------------
 *
 * bson_path.h
 *	  Finding a member of a BSON document or array by name or index.
 *
 * Pure code (libbson and C only), shared by the server and the unit tests.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_BSON_PATH_H
#define NOSQL_BSON_PATH_H

#include <bson/bson.h>

/*
 * Point *it at the member named key (keylen bytes) of the document, or at
 * element number index of the array (when key is NULL), given as the
 * document's or array's BSON bytes.  Returns false when there is no such
 * member or the bytes are malformed.
 */
extern bool BsonFindMember(const uint8_t *data, uint32_t len,
						   const char *key, int keylen, uint32_t index,
						   bson_iter_t *it);

#endif							/* NOSQL_BSON_PATH_H */
