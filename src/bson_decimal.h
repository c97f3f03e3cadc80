/*-------------------------------------------------------------------------
 *
 * bson_decimal.h
 *	  decimal128 arithmetic for $inc and $mul: addition and multiplication
 *	  of IEEE 754-2008 decimals, and MongoDB's conversions to decimal.
 *
 * Values are the extended decimals of bson_compare.h (NaN, a signed
 * infinity, or a signed coefficient below 10^34 times a power of ten).
 * Every result is rounded as IEEE 754-2008 decimal128 rounds with
 * roundTiesToEven: 34 significant digits, exponents from -6176 to 6111,
 * overflow to infinity, gradual underflow to zero.
 *
 * Pure code: depends only on libbson and PostgreSQL's src/common, so it
 * builds both into the server and into the unit tests and fuzz targets
 * (compiled with -DFRONTEND).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_BSON_DECIMAL_H
#define NOSQL_BSON_DECIMAL_H

#include <bson/bson.h>

#include "bson_compare.h"

/* The exponent range of decimal128's coefficient * 10^exponent form */
#define BSON_DECIMAL_MIN_EXPONENT	(-6176)
#define BSON_DECIMAL_MAX_EXPONENT	6111

/* The exact decimal of an integer (exponent 0) */
extern void BsonDecimalFromInt64(int64_t value, BsonDecimal *out);

/*
 * MongoDB's conversion of a double taking part in decimal arithmetic: the
 * double rounded to 34 significant digits, then to exactly 15 (so 10.5
 * becomes 10.5000000000000).  Zeros keep their sign with exponent 0;
 * infinities and NaN map to themselves.
 */
extern void BsonDecimalFromDouble(double value, BsonDecimal *out);

/* x + y and x * y, rounded to decimal128 */
extern void BsonDecimalAdd(const BsonDecimal *x, const BsonDecimal *y,
						   BsonDecimal *out);
extern void BsonDecimalMultiply(const BsonDecimal *x, const BsonDecimal *y,
								BsonDecimal *out);

/*
 * Whether two decimals are equal in value (1.0 equals 1, -0 equals 0,
 * infinities of one sign are equal; NaN equals nothing).
 */
extern bool BsonDecimalEqual(const BsonDecimal *x, const BsonDecimal *y);

/*
 * The BID encoding of a decimal in range (as every result of the functions
 * above is): NaN is the canonical quiet NaN.
 */
extern void BsonEncodeDecimal128(const BsonDecimal *d, bson_decimal128_t *out);

#endif							/* NOSQL_BSON_DECIMAL_H */
