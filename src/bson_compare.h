/*-------------------------------------------------------------------------
 *
 * bson_compare.h
 *	  MongoDB's total order over BSON values, and a hash consistent with it.
 *
 * Pure code: depends only on libbson and PostgreSQL's src/common, so it
 * builds both into the server and into the unit tests and fuzz targets
 * (compiled with -DFRONTEND).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_BSON_COMPARE_H
#define NOSQL_BSON_COMPARE_H

#include <bson/bson.h>

#include "collation.h"

/* The kinds of values in the number bracket */
typedef enum BsonNumberKind
{
	BSON_NUMBER_NAN,
	BSON_NUMBER_FINITE,
	BSON_NUMBER_INFINITY
} BsonNumberKind;

/*
 * An extended decimal: NaN, a signed infinity, or
 * (-1)^negative * coefficient * 10^exponent with coefficient < 10^34.
 */
typedef struct BsonDecimal
{
	BsonNumberKind kind;
	bool		negative;
	int			exponent;
	uint128		coefficient;
} BsonDecimal;

/*
 * MongoDB's canonical type bracket of a BSON type (its canonicalizeBSONType
 * numbers): values of different brackets sort by bracket.  MinKey -1,
 * undefined 0, null 5, numbers 10 (int32, int64, double and decimal128
 * share it), string and symbol 15, document 20, array 25, binary 30,
 * ObjectId 35, bool 40, date 45, timestamp 47, regex 50, DBPointer 55,
 * code 60, code with scope 65, MaxKey 127.
 */
extern int	BsonCanonicalTypeOrder(bson_type_t type);

/*
 * Compare the values the two iterators point at (the element names are not
 * compared).  Returns <0, 0, >0.  Numbers compare by value across types,
 * exactly (an int64 and a double are never rounded into each other); a
 * decimal128 compares with a double after the double is rounded to the
 * nearest 34-digit decimal, as MongoDB does; NaN is equal to NaN and lower
 * than every other number, and -0.0 equals 0.  Strings and symbols compare
 * byte-wise.  Documents compare element by element (canonical type, then
 * field name, then value), arrays element by element (values only), a
 * shorter prefix first.  The design note in bson_compare.c lists the rules
 * of the other types.  Nested documents recurse (with check_stack_depth()
 * in the server); a malformed embedded document compares as empty.
 */
extern int	BsonCompareValues(const bson_iter_t *a, const bson_iter_t *b);

/*
 * As BsonCompareValues, comparing strings and symbols (also inside
 * documents and arrays, but never field names) under a collation; NULL is
 * the simple collation and gives exactly BsonCompareValues.
 */
extern int	BsonCompareValuesCollated(const bson_iter_t *a, const bson_iter_t *b,
									  const BsonCollation *collation);

/*
 * Compare two whole documents given as BSON bytes (each validated), as
 * BsonCompareValues compares two embedded documents.
 */
extern int	BsonCompareDocuments(const uint8_t *a, uint32_t alen,
								 const uint8_t *b, uint32_t blen);

/*
 * 64-bit hash of the value an iterator points at, consistent with
 * BsonCompareValues: values that compare equal hash equal (so 1, 1L, 1.0
 * and NumberDecimal("1.00") hash alike, as do a string and a symbol with the
 * same text).
 */
extern uint64_t BsonHashValue(const bson_iter_t *it, uint64_t seed);

/*
 * Hash of a whole document, consistent with BsonCompareDocuments, and equal
 * to BsonHashValue of the same document embedded in another.
 */
extern uint64_t BsonHashDocument(const uint8_t *data, uint32_t len, uint64_t seed);

/*
 * Decode decimal128's binary integer decimal encoding: NaN (quiet or
 * signalling), infinity, or a finite value; a non-canonical coefficient
 * (more than 34 digits, or the second combination form) means zero, as
 * IEEE 754-2008 says.
 */
extern void BsonDecodeDecimal128(const bson_decimal128_t *dec, BsonDecimal *out);

/* MongoDB's name of a BSON type ("int", "objectId", ...; "missing" for EOD) */
extern const char *BsonTypeName(bson_type_t type);

#endif							/* NOSQL_BSON_COMPARE_H */
