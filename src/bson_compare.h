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

/*
 * MongoDB's canonical type bracket of a BSON type: values of different
 * brackets sort by bracket; numbers (int32, int64, double, decimal128) share
 * one bracket, as do string and symbol, and null and undefined sort
 * together just above MinKey (undefined first).
 */
extern int	BsonCanonicalTypeOrder(bson_type_t type);

/*
 * Compare the values the two iterators point at (the element names are not
 * compared).  Returns <0, 0, >0.  Numbers compare by value across types,
 * exactly (an int64 and a double are never rounded into each other); NaN is
 * equal to NaN and lower than every other number.  Documents compare element
 * by element (canonical type, then field name, then value), arrays element
 * by element, a shorter prefix first.
 */
extern int	BsonCompareValues(const bson_iter_t *a, const bson_iter_t *b);

/*
 * Compare two whole documents given as BSON bytes (each validated).
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

/* Hash of a whole document, consistent with BsonCompareDocuments */
extern uint64_t BsonHashDocument(const uint8_t *data, uint32_t len, uint64_t seed);

#endif							/* NOSQL_BSON_COMPARE_H */
