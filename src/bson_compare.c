/*-------------------------------------------------------------------------
 *
 * bson_compare.c
 *	  MongoDB's total order over BSON values, and a hash consistent with it.
 *
 * Design note
 * -----------
 * MongoDB orders values first by a "canonical type" bracket (MinKey, then
 * undefined, null, numbers, strings and symbols, documents, arrays, binary,
 * ObjectId, bool, date, timestamp, regex, DBPointer, code, code with scope,
 * MaxKey), then by value inside the bracket.  We use MongoDB's own bracket
 * numbers (canonicalizeBSONType) so that they can be stored or compared
 * with what MongoDB tools report.
 *
 * Numbers are the only interesting bracket, because int32, int64, double
 * and decimal128 compare with each other by value.  MongoDB's rules are:
 * integers and doubles compare exactly (an int64 is never rounded to a
 * double), and a decimal128 compares with a double after the double has been
 * converted to the decimal128 nearest to it (rounded to 34 significant
 * digits, ties to even).  We implement this by mapping every number to an
 * extended decimal value: NaN (equal to every NaN, below everything else),
 * -Infinity, a finite decimal coefficient * 10^exponent, or +Infinity.  An
 * integer maps exactly, a decimal128 maps to itself and a double d maps to
 * D(d), its rounding to 34 digits.  D is strictly increasing on doubles
 * (adjacent doubles differ by at least one part in 2^53, far more than the
 * rounding error of one part in 10^34), preserves integers below 2^63
 * exactly, and keeps non-integral doubles non-integral; so comparing two
 * doubles, or an integer with a double, directly gives the same answer as
 * comparing their images.  Every comparison is therefore a comparison of
 * images, which makes the order total and transitive across all four types.
 * Two doubles or an integer and a double are compared without building
 * decimals; the decimal path is only taken when a decimal128 is involved.
 *
 * The decimal128 is decoded from its BID encoding here (both combination
 * field forms; a coefficient above 10^34 - 1, which includes every value of
 * the second form, is non-canonical and means zero).  D(d) is computed
 * exactly with 128-bit arithmetic when d has at most 34 significant digits
 * (small integers, and binary fractions such as 0.5 or 1.375), otherwise
 * from the C library's correctly rounded "%.33e" conversion.
 *
 * The hash must agree with the comparison, so it is a function of the
 * image: numbers that are integral and fit an int64 hash as that int64; the
 * remaining numbers that equal the image of some double hash as that
 * double's bits (a decimal128 finds its double by correctly rounded strtod
 * and checks that the double's image is the decimal itself); all other
 * decimals hash as their coefficient with trailing zeros stripped and the
 * exponent adjusted.  -0.0 is the integer 0 and every NaN hashes alike.
 *
 * Choices where MongoDB's documentation is silent follow its source code
 * (compareElementValues): binary data compares by length, then subtype,
 * then bytes, where the length of the old binary subtype 2 includes its
 * redundant inner length header (libbson hides the header, so we add its 4
 * bytes back); DBPointer compares by namespace length, then namespace
 * bytes, then ObjectId; regular expressions compare pattern then flags with
 * strcmp; code with scope compares the code, then the scope document.
 * Arrays compare their values only, ignoring the keys.
 *
 * IDENTIFICATION
 *	  src/bson_compare.c
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hashfn.h"
#ifndef FRONTEND
#include "miscadmin.h"
#endif

#include "bson_compare.h"

#ifndef HAVE_INT128
#error "bson_compare.c needs a 128-bit integer type to decode decimal128"
#endif

/* MongoDB's canonical type numbers (canonicalizeBSONType) */
#define BSON_ORDER_MINKEY			(-1)
#define BSON_ORDER_UNDEFINED		0
#define BSON_ORDER_NULL				5
#define BSON_ORDER_NUMBER			10
#define BSON_ORDER_STRING			15
#define BSON_ORDER_DOCUMENT			20
#define BSON_ORDER_ARRAY			25
#define BSON_ORDER_BINARY			30
#define BSON_ORDER_OID				35
#define BSON_ORDER_BOOL				40
#define BSON_ORDER_DATE				45
#define BSON_ORDER_TIMESTAMP		47
#define BSON_ORDER_REGEX			50
#define BSON_ORDER_DBPOINTER		55
#define BSON_ORDER_CODE				60
#define BSON_ORDER_CODEWSCOPE		65
#define BSON_ORDER_MAXKEY			127

/* decimal128 (IEEE 754-2008, binary integer decimal encoding) */
#define BSON_DEC_EXPONENT_BIAS		6176
#define BSON_DEC_MAX_DIGITS			34

/* Three-way comparison of two scalars, as -1, 0 or 1 */
#define BSON_CMP3(a, b)				(((a) > (b)) - ((a) < (b)))

/* 10^19 is the largest power of ten that fits a uint64 */
#define BSON_POW10_19	((uint128) UINT64CONST(10000000000000000000))

/* Powers of ten 10^0 .. 10^34 */
static const uint128 BsonPow10[BSON_DEC_MAX_DIGITS + 1] = {
	UINT64CONST(1),
	UINT64CONST(10),
	UINT64CONST(100),
	UINT64CONST(1000),
	UINT64CONST(10000),
	UINT64CONST(100000),
	UINT64CONST(1000000),
	UINT64CONST(10000000),
	UINT64CONST(100000000),
	UINT64CONST(1000000000),
	UINT64CONST(10000000000),
	UINT64CONST(100000000000),
	UINT64CONST(1000000000000),
	UINT64CONST(10000000000000),
	UINT64CONST(100000000000000),
	UINT64CONST(1000000000000000),
	UINT64CONST(10000000000000000),
	UINT64CONST(100000000000000000),
	UINT64CONST(1000000000000000000),
	BSON_POW10_19,
	BSON_POW10_19 * UINT64CONST(10),
	BSON_POW10_19 * UINT64CONST(100),
	BSON_POW10_19 * UINT64CONST(1000),
	BSON_POW10_19 * UINT64CONST(10000),
	BSON_POW10_19 * UINT64CONST(100000),
	BSON_POW10_19 * UINT64CONST(1000000),
	BSON_POW10_19 * UINT64CONST(10000000),
	BSON_POW10_19 * UINT64CONST(100000000),
	BSON_POW10_19 * UINT64CONST(1000000000),
	BSON_POW10_19 * UINT64CONST(10000000000),
	BSON_POW10_19 * UINT64CONST(100000000000),
	BSON_POW10_19 * UINT64CONST(1000000000000),
	BSON_POW10_19 * UINT64CONST(10000000000000),
	BSON_POW10_19 * UINT64CONST(100000000000000),
	BSON_POW10_19 * UINT64CONST(1000000000000000)
};

/* The largest canonical decimal128 coefficient, 10^34 - 1 */
#define BSON_DEC_MAX_COEFFICIENT	(BsonPow10[BSON_DEC_MAX_DIGITS] - 1)

/* The empty document, iterated in place of a malformed embedded one */
static const uint8_t BsonEmptyDocument[5] = {5, 0, 0, 0, 0};

/* A fixed value mixed into the hash of every NaN */
#define BSON_HASH_NAN_TAG	UINT64CONST(0x6e616e)

static int	CompareElements(bson_iter_t *a, bson_iter_t *b, bool compare_keys,
							const BsonCollation *collation);
static uint64 HashElements(bson_iter_t *it, bool hash_keys, uint64 seed);


/*
 * BsonCanonicalTypeOrder
 *		MongoDB's canonical type number of a BSON type.
 *
 * EOD (the end-of-document marker MongoDB calls EOO) shares undefined's
 * bracket as in MongoDB.  libbson's iterator never yields other type codes;
 * they would land in that bracket too and compare equal to each other.
 */
int
BsonCanonicalTypeOrder(bson_type_t type)
{
	switch (type)
	{
		case BSON_TYPE_MINKEY:
			return BSON_ORDER_MINKEY;
		case BSON_TYPE_EOD:
		case BSON_TYPE_UNDEFINED:
			return BSON_ORDER_UNDEFINED;
		case BSON_TYPE_NULL:
			return BSON_ORDER_NULL;
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
		case BSON_TYPE_DOUBLE:
		case BSON_TYPE_DECIMAL128:
			return BSON_ORDER_NUMBER;
		case BSON_TYPE_UTF8:
		case BSON_TYPE_SYMBOL:
			return BSON_ORDER_STRING;
		case BSON_TYPE_DOCUMENT:
			return BSON_ORDER_DOCUMENT;
		case BSON_TYPE_ARRAY:
			return BSON_ORDER_ARRAY;
		case BSON_TYPE_BINARY:
			return BSON_ORDER_BINARY;
		case BSON_TYPE_OID:
			return BSON_ORDER_OID;
		case BSON_TYPE_BOOL:
			return BSON_ORDER_BOOL;
		case BSON_TYPE_DATE_TIME:
			return BSON_ORDER_DATE;
		case BSON_TYPE_TIMESTAMP:
			return BSON_ORDER_TIMESTAMP;
		case BSON_TYPE_REGEX:
			return BSON_ORDER_REGEX;
		case BSON_TYPE_DBPOINTER:
			return BSON_ORDER_DBPOINTER;
		case BSON_TYPE_CODE:
			return BSON_ORDER_CODE;
		case BSON_TYPE_CODEWSCOPE:
			return BSON_ORDER_CODEWSCOPE;
		case BSON_TYPE_MAXKEY:
			return BSON_ORDER_MAXKEY;
	}
	return BSON_ORDER_UNDEFINED;
}


/* ----------------------------------------------------------------
 *		Numbers
 * ----------------------------------------------------------------
 */

/*
 * DecimalDigits
 *		Number of decimal digits of a non-zero coefficient below 10^34.
 */
static int
DecimalDigits(uint128 coefficient)
{
	int			digits = 1;

	while (digits < BSON_DEC_MAX_DIGITS && coefficient >= BsonPow10[digits])
		digits++;
	return digits;
}

/*
 * DecodeDecimal128
 *		Decode a BID-encoded decimal128 into an extended decimal.
 *
 * The combination field (bits 62..58 of the high word) selects NaN (11111,
 * quiet or signalling alike), infinity (11110), or a finite number.  A finite
 * number whose bits 62..61 are 11 uses the second form, whose implied
 * coefficient prefix 100 makes it at least 2^113 > 10^34 - 1, so it is
 * non-canonical and its value is zero; otherwise the exponent is in bits
 * 62..49 and the coefficient in the remaining 113 bits, and a coefficient
 * above 10^34 - 1 is non-canonical and also means zero.
 */
void
BsonDecodeDecimal128(const bson_decimal128_t *dec, BsonDecimal *out)
{
	uint64		high = dec->high;
	uint32		combination = (uint32) ((high >> 58) & 0x1F);
	uint128		coefficient;

	out->negative = (high >> 63) != 0;
	out->exponent = 0;
	out->coefficient = 0;

	if (combination == 0x1F)
	{
		out->kind = BSON_NUMBER_NAN;
		return;
	}
	if (combination == 0x1E)
	{
		out->kind = BSON_NUMBER_INFINITY;
		return;
	}

	out->kind = BSON_NUMBER_FINITE;
	if (((high >> 61) & 0x3) == 0x3)
	{
		out->exponent = (int) ((high >> 47) & 0x3FFF) - BSON_DEC_EXPONENT_BIAS;
		return;
	}

	out->exponent = (int) ((high >> 49) & 0x3FFF) - BSON_DEC_EXPONENT_BIAS;
	coefficient = ((uint128) (high & UINT64CONST(0x1FFFFFFFFFFFF)) << 64) |
		(uint128) dec->low;
	if (coefficient <= BSON_DEC_MAX_COEFFICIENT)
		out->coefficient = coefficient;
}

/*
 * Int64ToDecimal
 *		The exact extended decimal of an integer.
 */
static void
Int64ToDecimal(int64 value, BsonDecimal *out)
{
	out->kind = BSON_NUMBER_FINITE;
	out->negative = value < 0;
	out->exponent = 0;
	/* unsigned negation, so that INT64_MIN does not overflow */
	out->coefficient = value < 0 ? (uint128) (UINT64CONST(0) - (uint64) value)
		: (uint128) (uint64) value;
}

/*
 * DoubleToDecimal
 *		MongoDB's conversion of a double to decimal128: the decimal with at
 *		most 34 significant digits nearest to it, ties to even.
 *
 * When the double has at most 34 significant digits the conversion is exact
 * and done with integer arithmetic: |d| = m * 2^e with m odd is the integer
 * m << e when e >= 0, and m * 5^-e * 10^e when e < 0.  Otherwise we rely on
 * the C library printing the correctly rounded 34-digit mantissa.
 */
static void
DoubleToDecimal(double value, BsonDecimal *out)
{
	uint64		bits;
	uint64		mantissa;
	int			biased_exponent;
	int			exponent;

	out->negative = signbit(value) != 0;
	out->exponent = 0;
	out->coefficient = 0;

	if (isnan(value))
	{
		out->kind = BSON_NUMBER_NAN;
		return;
	}
	out->kind = isinf(value) ? BSON_NUMBER_INFINITY : BSON_NUMBER_FINITE;
	if (isinf(value) || value == 0.0)
		return;

	memcpy(&bits, &value, sizeof(bits));
	biased_exponent = (int) ((bits >> 52) & 0x7FF);
	mantissa = bits & ((UINT64CONST(1) << 52) - 1);
	if (biased_exponent == 0)
		exponent = -1074;		/* subnormal */
	else
	{
		mantissa |= UINT64CONST(1) << 52;
		exponent = biased_exponent - 1075;
	}
	while ((mantissa & 1) == 0)
	{
		mantissa >>= 1;
		exponent++;
	}

	if (exponent >= 0)
	{
		/* m < 2^53, so m << e < 2^112 < 10^34 while e <= 59 */
		if (exponent <= 59)
		{
			out->coefficient = (uint128) mantissa << exponent;
			return;
		}
	}
	else
	{
		uint128		coefficient = mantissa;
		int			i;

		for (i = 0; i < -exponent; i++)
		{
			if (coefficient > BSON_DEC_MAX_COEFFICIENT / 5)
				break;
			coefficient *= 5;
		}
		if (i == -exponent)
		{
			out->coefficient = coefficient;
			out->exponent = exponent;
			return;
		}
	}

	/* more than 34 significant digits: round them in the C library */
	{
		char		buf[64];
		const char *p;
		uint128		coefficient = 0;
		int			digits = 0;

		snprintf(buf, sizeof(buf), "%.*e", BSON_DEC_MAX_DIGITS - 1, fabs(value));
		for (p = buf; *p != '\0' && *p != 'e'; p++)
		{
			if (*p >= '0' && *p <= '9' && digits < BSON_DEC_MAX_DIGITS)
			{
				coefficient = coefficient * 10 + (uint128) (*p - '0');
				digits++;
			}
		}
		out->coefficient = coefficient;
		out->exponent = (*p == 'e' ? atoi(p + 1) : 0) - (digits - 1);
	}
}

/*
 * NumberToDecimal
 *		The extended decimal MongoDB compares a number as, when a decimal128
 *		takes part in the comparison.
 */
static void
NumberToDecimal(const bson_iter_t *it, BsonDecimal *out)
{
	bson_decimal128_t dec;

	switch (bson_iter_type(it))
	{
		case BSON_TYPE_INT32:
			Int64ToDecimal(bson_iter_int32(it), out);
			break;
		case BSON_TYPE_INT64:
			Int64ToDecimal(bson_iter_int64(it), out);
			break;
		case BSON_TYPE_DOUBLE:
			DoubleToDecimal(bson_iter_double(it), out);
			break;
		case BSON_TYPE_DECIMAL128:
			if (bson_iter_decimal128(it, &dec))
				BsonDecodeDecimal128(&dec, out);
			else
				Int64ToDecimal(0, out);
			break;
		default:
			Int64ToDecimal(0, out);
			break;
	}
}

/*
 * DecimalSign
 *		-1, 0 or 1 for a non-NaN extended decimal.
 */
static int
DecimalSign(const BsonDecimal *d)
{
	if (d->kind == BSON_NUMBER_FINITE && d->coefficient == 0)
		return 0;
	return d->negative ? -1 : 1;
}

/*
 * CompareDecimals
 *		Exact comparison of two extended decimals (NaN lowest, NaN == NaN).
 *
 * Nonzero finite values of the same sign compare first by adjusted exponent
 * (the power of ten of their leading digit); when those are equal the
 * exponents differ by at most 33, so the coefficient with the larger
 * exponent can be scaled to the other's exponent within 34 digits.
 */
static int
CompareDecimals(const BsonDecimal *a, const BsonDecimal *b)
{
	int			sign_a;
	int			sign_b;
	int			magnitude;

	if (a->kind == BSON_NUMBER_NAN)
		return b->kind == BSON_NUMBER_NAN ? 0 : -1;
	if (b->kind == BSON_NUMBER_NAN)
		return 1;

	sign_a = DecimalSign(a);
	sign_b = DecimalSign(b);
	if (sign_a != sign_b)
		return BSON_CMP3(sign_a, sign_b);
	if (sign_a == 0)
		return 0;

	if (a->kind == BSON_NUMBER_INFINITY || b->kind == BSON_NUMBER_INFINITY)
		magnitude = BSON_CMP3(a->kind == BSON_NUMBER_INFINITY,
							  b->kind == BSON_NUMBER_INFINITY);
	else
	{
		int			adjusted_a = a->exponent + DecimalDigits(a->coefficient);
		int			adjusted_b = b->exponent + DecimalDigits(b->coefficient);
		uint128		ca = a->coefficient;
		uint128		cb = b->coefficient;

		if (adjusted_a != adjusted_b)
			magnitude = BSON_CMP3(adjusted_a, adjusted_b);
		else
		{
			if (a->exponent > b->exponent)
				ca *= BsonPow10[a->exponent - b->exponent];
			else if (b->exponent > a->exponent)
				cb *= BsonPow10[b->exponent - a->exponent];
			magnitude = BSON_CMP3(ca, cb);
		}
	}
	return sign_a > 0 ? magnitude : -magnitude;
}

/*
 * CompareDoubles
 *		Compare two doubles, NaN equal to NaN and below every other value.
 */
static int
CompareDoubles(double a, double b)
{
	if (isnan(a))
		return isnan(b) ? 0 : -1;
	if (isnan(b))
		return 1;
	return BSON_CMP3(a, b);
}

/*
 * CompareInt64Double
 *		Exact comparison of an int64 and a double.
 *
 * Doubles at or beyond +-2^63 (both exactly representable) are outside the
 * int64 range; inside it the integer part of the double converts exactly,
 * and the (exact) fractional remainder breaks a tie.
 */
static int
CompareInt64Double(int64 i, double d)
{
	int64		truncated;
	double		fraction;

	if (isnan(d))
		return 1;
	if (d >= 9223372036854775808.0)
		return -1;
	if (d < -9223372036854775808.0)
		return 1;

	truncated = (int64) d;
	if (i != truncated)
		return BSON_CMP3(i, truncated);
	fraction = d - (double) truncated;
	return BSON_CMP3(0.0, fraction);
}

/*
 * IteratorInt64
 *		The value of an int32 or int64 element.
 */
static int64
IteratorInt64(const bson_iter_t *it)
{
	if (bson_iter_type(it) == BSON_TYPE_INT32)
		return bson_iter_int32(it);
	return bson_iter_int64(it);
}

/*
 * CompareNumbers
 *		Compare two values of the number bracket by value.
 */
static int
CompareNumbers(const bson_iter_t *a, const bson_iter_t *b)
{
	bson_type_t ta = bson_iter_type(a);
	bson_type_t tb = bson_iter_type(b);

	if (ta == BSON_TYPE_DECIMAL128 || tb == BSON_TYPE_DECIMAL128)
	{
		BsonDecimal da;
		BsonDecimal db;

		NumberToDecimal(a, &da);
		NumberToDecimal(b, &db);
		return CompareDecimals(&da, &db);
	}
	if (ta == BSON_TYPE_DOUBLE && tb == BSON_TYPE_DOUBLE)
		return CompareDoubles(bson_iter_double(a), bson_iter_double(b));
	if (ta == BSON_TYPE_DOUBLE)
		return -CompareInt64Double(IteratorInt64(b), bson_iter_double(a));
	if (tb == BSON_TYPE_DOUBLE)
		return CompareInt64Double(IteratorInt64(a), bson_iter_double(b));
	return BSON_CMP3(IteratorInt64(a), IteratorInt64(b));
}


/* ----------------------------------------------------------------
 *		Other scalars and containers
 * ----------------------------------------------------------------
 */

/*
 * CompareBytes
 *		Byte-wise comparison, a proper prefix first.
 */
static int
CompareBytes(const void *a, uint32 alen, const void *b, uint32 blen)
{
	uint32		common = Min(alen, blen);

	if (common > 0)
	{
		int			cmp = memcmp(a, b, common);

		if (cmp != 0)
			return cmp < 0 ? -1 : 1;
	}
	return BSON_CMP3(alen, blen);
}

/*
 * IteratorString
 *		The bytes and length of a string or a symbol (which may hold NULs).
 */
static const char *
IteratorString(const bson_iter_t *it, uint32 *len)
{
	if (bson_iter_type(it) == BSON_TYPE_SYMBOL)
		return bson_iter_symbol(it, len);
	return bson_iter_utf8(it, len);
}

/*
 * IteratorBinary
 *		The subtype and bytes of a binary value, and the length MongoDB
 *		compares it by.
 *
 * libbson strips the redundant inner length header of the old binary
 * subtype 2; MongoDB counts it, so it is added back to the length.  When
 * the lengths and subtypes are equal, the headers are equal too, so
 * comparing the remaining bytes matches MongoDB's memcmp.
 */
static const uint8_t *
IteratorBinary(const bson_iter_t *it, bson_subtype_t *subtype, uint32 *len,
			   uint64 *order_len)
{
	const uint8_t *data = NULL;

	*len = 0;
	bson_iter_binary(it, subtype, len, &data);
	*order_len = (uint64) *len +
		(*subtype == BSON_SUBTYPE_BINARY_DEPRECATED ? sizeof(int32) : 0);
	return data;
}

/*
 * IteratorChild
 *		Start iterating the document or array an iterator points at.
 *
 * A malformed embedded value is iterated as the empty document, so that
 * both the order and the hash stay defined on it.
 */
static void
IteratorChild(const bson_iter_t *it, bson_iter_t *child)
{
	if (!bson_iter_recurse(it, child))
		bson_iter_init_from_data(child, BsonEmptyDocument,
								 sizeof(BsonEmptyDocument));
}

/*
 * IteratorFromData
 *		Start iterating a document given as bytes (empty if malformed).
 */
static void
IteratorFromData(bson_iter_t *it, const uint8_t *data, uint32 len)
{
	if (data == NULL || !bson_iter_init_from_data(it, data, len))
		bson_iter_init_from_data(it, BsonEmptyDocument,
								 sizeof(BsonEmptyDocument));
}

/*
 * CompareSameBracket
 *		Compare two values of the same canonical type bracket; strings and
 *		symbols (also inside documents and arrays) under a collation unless
 *		it is NULL.
 */
static int
CompareSameBracket(const bson_iter_t *a, const bson_iter_t *b, int order,
				   const BsonCollation *collation)
{
	switch (order)
	{
		case BSON_ORDER_NUMBER:
			return CompareNumbers(a, b);

		case BSON_ORDER_STRING:
			{
				uint32		alen;
				uint32		blen;
				const char *as = IteratorString(a, &alen);
				const char *bs = IteratorString(b, &blen);

				if (collation != NULL)
					return BsonCollationCompareStrings(collation, as, alen, bs, blen);
				return CompareBytes(as, alen, bs, blen);
			}

		case BSON_ORDER_DOCUMENT:
		case BSON_ORDER_ARRAY:
			{
				bson_iter_t ca;
				bson_iter_t cb;

				IteratorChild(a, &ca);
				IteratorChild(b, &cb);
				return CompareElements(&ca, &cb, order == BSON_ORDER_DOCUMENT,
									   collation);
			}

		case BSON_ORDER_BINARY:
			{
				bson_subtype_t asub;
				bson_subtype_t bsub;
				uint32		alen;
				uint32		blen;
				uint64		aorder;
				uint64		border;
				const uint8_t *ad = IteratorBinary(a, &asub, &alen, &aorder);
				const uint8_t *bd = IteratorBinary(b, &bsub, &blen, &border);

				if (aorder != border)
					return BSON_CMP3(aorder, border);
				if (asub != bsub)
					return BSON_CMP3((uint8) asub, (uint8) bsub);
				return CompareBytes(ad, alen, bd, blen);
			}

		case BSON_ORDER_OID:
			return CompareBytes(bson_iter_oid(a)->bytes, 12,
								bson_iter_oid(b)->bytes, 12);

		case BSON_ORDER_BOOL:
			return BSON_CMP3((int) bson_iter_bool(a), (int) bson_iter_bool(b));

		case BSON_ORDER_DATE:
			return BSON_CMP3(bson_iter_date_time(a), bson_iter_date_time(b));

		case BSON_ORDER_TIMESTAMP:
			{
				uint32		at;
				uint32		ai;
				uint32		bt;
				uint32		bi;

				bson_iter_timestamp(a, &at, &ai);
				bson_iter_timestamp(b, &bt, &bi);
				if (at != bt)
					return BSON_CMP3(at, bt);
				return BSON_CMP3(ai, bi);
			}

		case BSON_ORDER_REGEX:
			{
				const char *aopt;
				const char *bopt;
				const char *apat = bson_iter_regex(a, &aopt);
				const char *bpat = bson_iter_regex(b, &bopt);
				int			cmp = strcmp(apat, bpat);

				if (cmp == 0)
					cmp = strcmp(aopt, bopt);
				return BSON_CMP3(cmp, 0);
			}

		case BSON_ORDER_DBPOINTER:
			{
				uint32		alen;
				uint32		blen;
				const char *ans;
				const char *bns;
				const bson_oid_t *aoid;
				const bson_oid_t *boid;
				int			cmp;

				bson_iter_dbpointer(a, &alen, &ans, &aoid);
				bson_iter_dbpointer(b, &blen, &bns, &boid);
				if (alen != blen)
					return BSON_CMP3(alen, blen);
				cmp = CompareBytes(ans, alen, bns, blen);
				if (cmp == 0)
					cmp = CompareBytes(aoid->bytes, 12, boid->bytes, 12);
				return cmp;
			}

		case BSON_ORDER_CODE:
			{
				uint32		alen;
				uint32		blen;
				const char *ac = bson_iter_code(a, &alen);
				const char *bc = bson_iter_code(b, &blen);

				return CompareBytes(ac, alen, bc, blen);
			}

		case BSON_ORDER_CODEWSCOPE:
			{
				uint32		alen;
				uint32		blen;
				uint32		ascope_len;
				uint32		bscope_len;
				const uint8_t *ascope;
				const uint8_t *bscope;
				const char *ac = bson_iter_codewscope(a, &alen, &ascope_len, &ascope);
				const char *bc = bson_iter_codewscope(b, &blen, &bscope_len, &bscope);
				int			cmp = CompareBytes(ac, alen, bc, blen);
				bson_iter_t sa;
				bson_iter_t sb;

				if (cmp != 0)
					return cmp;
				IteratorFromData(&sa, ascope, ascope_len);
				IteratorFromData(&sb, bscope, bscope_len);
				return CompareElements(&sa, &sb, true, collation);
			}

		default:
			/* MinKey, undefined, null, MaxKey: one value each */
			return 0;
	}
}

/*
 * CompareElements
 *		Compare the remaining elements of two documents or arrays.
 *
 * Each pair compares by canonical type, then (for documents) by field name,
 * then by value; the document that runs out first is the smaller.
 */
static int
CompareElements(bson_iter_t *a, bson_iter_t *b, bool compare_keys,
				const BsonCollation *collation)
{
#ifndef FRONTEND
	check_stack_depth();
#endif

	for (;;)
	{
		bool		more_a = bson_iter_next(a);
		bool		more_b = bson_iter_next(b);
		int			order_a;
		int			order_b;
		int			cmp;

		if (!more_a || !more_b)
			return BSON_CMP3(more_a, more_b);

		order_a = BsonCanonicalTypeOrder(bson_iter_type(a));
		order_b = BsonCanonicalTypeOrder(bson_iter_type(b));
		if (order_a != order_b)
			return BSON_CMP3(order_a, order_b);

		if (compare_keys)
		{
			cmp = strcmp(bson_iter_key(a), bson_iter_key(b));
			if (cmp != 0)
				return BSON_CMP3(cmp, 0);
		}

		cmp = CompareSameBracket(a, b, order_a, collation);
		if (cmp != 0)
			return cmp;
	}
}

/*
 * BsonCompareValues
 *		MongoDB's comparison of the values two iterators point at.
 */
int
BsonCompareValues(const bson_iter_t *a, const bson_iter_t *b)
{
	int			order_a = BsonCanonicalTypeOrder(bson_iter_type(a));
	int			order_b = BsonCanonicalTypeOrder(bson_iter_type(b));

	if (order_a != order_b)
		return BSON_CMP3(order_a, order_b);
	return CompareSameBracket(a, b, order_a, NULL);
}

/*
 * BsonCompareValuesCollated
 *		BsonCompareValues with strings compared under a collation.
 */
int
BsonCompareValuesCollated(const bson_iter_t *a, const bson_iter_t *b,
						  const BsonCollation *collation)
{
	int			order_a = BsonCanonicalTypeOrder(bson_iter_type(a));
	int			order_b = BsonCanonicalTypeOrder(bson_iter_type(b));

	if (order_a != order_b)
		return BSON_CMP3(order_a, order_b);
	return CompareSameBracket(a, b, order_a, collation);
}

/*
 * BsonCompareDocuments
 *		MongoDB's comparison of two whole documents.
 */
int
BsonCompareDocuments(const uint8_t *a, uint32_t alen,
					 const uint8_t *b, uint32_t blen)
{
	bson_iter_t ia;
	bson_iter_t ib;

	IteratorFromData(&ia, a, alen);
	IteratorFromData(&ib, b, blen);
	return CompareElements(&ia, &ib, true, NULL);
}


/* ----------------------------------------------------------------
 *		Hashing
 * ----------------------------------------------------------------
 */

/*
 * HashBytes
 *		Hash a byte string.
 */
static uint64
HashBytes(const void *data, uint32 len, uint64 seed)
{
	return hash_bytes_extended((const unsigned char *) data, (int) len, seed);
}

/*
 * HashInt64
 *		Hash of a number whose value is an integer that fits an int64.
 */
static uint64
HashInt64(int64 value, uint64 seed)
{
	return HashBytes(&value, sizeof(value), seed);
}

/*
 * HashDoubleBits
 *		Hash of a number that equals a non-integral (or huge) double.
 */
static uint64
HashDoubleBits(double value, uint64 seed)
{
	uint64		bits;

	memcpy(&bits, &value, sizeof(bits));
	return HashBytes(&bits, sizeof(bits), seed);
}

/*
 * HashNaN
 *		Hash of every NaN, double or decimal.
 */
static uint64
HashNaN(uint64 seed)
{
	return hash_bytes_uint32_extended((uint32) BSON_HASH_NAN_TAG, seed);
}

/*
 * HashDouble
 *		Hash of a double, by the class of its value (see the design note).
 */
static uint64
HashDouble(double value, uint64 seed)
{
	if (isnan(value))
		return HashNaN(seed);
	if (value >= -9223372036854775808.0 && value < 9223372036854775808.0 &&
		value == floor(value))
		return HashInt64((int64) value, seed);	/* -0.0 too */
	return HashDoubleBits(value, seed);
}

/*
 * NormalizeDecimal
 *		Strip the trailing zeros of a finite coefficient, raising the
 *		exponent, so that equal values have one representation.
 */
static void
NormalizeDecimal(BsonDecimal *d)
{
	if (d->coefficient == 0)
	{
		d->exponent = 0;
		d->negative = false;
		return;
	}
	while (d->coefficient % 10 == 0)
	{
		d->coefficient /= 10;
		d->exponent++;
	}
}

/*
 * DecimalToInt64
 *		The value of a normalized finite decimal as an int64, if it is an
 *		integer in the int64 range.
 */
static bool
DecimalToInt64(const BsonDecimal *d, int64 *value)
{
	uint128		magnitude;

	if (d->coefficient == 0)
	{
		*value = 0;
		return true;
	}
	if (d->exponent < 0 ||
		DecimalDigits(d->coefficient) + d->exponent > 19)
		return false;

	magnitude = d->coefficient * BsonPow10[d->exponent];	/* < 10^19 */
	if (d->negative)
	{
		if (magnitude > (uint128) PG_INT64_MAX + 1)
			return false;
		*value = (int64) (UINT64CONST(0) - (uint64) magnitude);
	}
	else
	{
		if (magnitude > (uint128) PG_INT64_MAX)
			return false;
		*value = (int64) magnitude;
	}
	return true;
}

/*
 * DecimalToNearestDouble
 *		The double nearest to a finite decimal (correctly rounded).
 *
 * Small coefficients and exponents take Clinger's fast path: both operands
 * are exact doubles and one IEEE operation rounds correctly.  Otherwise
 * the decimal is printed and read back with strtod.
 */
static double
DecimalToNearestDouble(const BsonDecimal *d)
{
	static const double exact_pow10[] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
		1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22
	};
	double		result;

	if (d->coefficient < ((uint128) 1 << 53) &&
		d->exponent >= -22 && d->exponent <= 22)
	{
		result = (double) (uint64) d->coefficient;
		if (d->exponent >= 0)
			result *= exact_pow10[d->exponent];
		else
			result /= exact_pow10[-d->exponent];
	}
	else
	{
		char		digits[BSON_DEC_MAX_DIGITS + 1];
		char		buf[BSON_DEC_MAX_DIGITS + 16];
		int			ndigits = 0;
		int			pos = 0;
		uint128		c = d->coefficient;

		do
		{
			digits[ndigits++] = (char) ('0' + (int) (c % 10));
			c /= 10;
		} while (c != 0 && ndigits < BSON_DEC_MAX_DIGITS);
		while (ndigits > 0)
			buf[pos++] = digits[--ndigits];
		snprintf(buf + pos, sizeof(buf) - pos, "e%d", d->exponent);
		result = strtod(buf, NULL);
	}
	return d->negative ? -result : result;
}

/*
 * HashDecimal128
 *		Hash of a decimal128, by the class of its value (see the design
 *		note).
 */
static uint64
HashDecimal128(const bson_iter_t *it, uint64 seed)
{
	BsonDecimal d;
	int64		integer;
	double		nearest;
	uint64		hash;

	NumberToDecimal(it, &d);
	if (d.kind == BSON_NUMBER_NAN)
		return HashNaN(seed);
	if (d.kind == BSON_NUMBER_INFINITY)
		return HashDoubleBits(d.negative ? -INFINITY : INFINITY, seed);

	NormalizeDecimal(&d);
	if (DecimalToInt64(&d, &integer))
		return HashInt64(integer, seed);

	nearest = DecimalToNearestDouble(&d);
	if (!isinf(nearest) && nearest != 0.0)
	{
		BsonDecimal image;

		DoubleToDecimal(nearest, &image);
		if (CompareDecimals(&d, &image) == 0)
			return HashDoubleBits(nearest, seed);
	}

	/* no int64 or double has this value: hash the normalized decimal */
	hash = HashBytes(&d.coefficient, sizeof(d.coefficient), seed);
	hash = hash_combine64(hash, hash_bytes_uint32_extended((uint32) d.exponent,
														   seed));
	return hash_combine64(hash, d.negative ? 1 : 0);
}

/*
 * HashNumber
 *		Hash of a value of the number bracket.
 */
static uint64
HashNumber(const bson_iter_t *it, uint64 seed)
{
	switch (bson_iter_type(it))
	{
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
			return HashInt64(IteratorInt64(it), seed);
		case BSON_TYPE_DOUBLE:
			return HashDouble(bson_iter_double(it), seed);
		case BSON_TYPE_DECIMAL128:
			return HashDecimal128(it, seed);
		default:
			return HashInt64(0, seed);
	}
}

/*
 * HashSameBracket
 *		Hash of a value within its canonical type bracket.
 */
static uint64
HashSameBracket(const bson_iter_t *it, int order, uint64 seed)
{
	switch (order)
	{
		case BSON_ORDER_NUMBER:
			return HashNumber(it, seed);

		case BSON_ORDER_STRING:
			{
				uint32		len;
				const char *s = IteratorString(it, &len);

				return HashBytes(s, len, seed);
			}

		case BSON_ORDER_DOCUMENT:
		case BSON_ORDER_ARRAY:
			{
				bson_iter_t child;

				IteratorChild(it, &child);
				return HashElements(&child, order == BSON_ORDER_DOCUMENT, seed);
			}

		case BSON_ORDER_BINARY:
			{
				bson_subtype_t subtype;
				uint32		len;
				uint64		order_len;
				const uint8_t *data = IteratorBinary(it, &subtype, &len, &order_len);

				return hash_combine64(hash_bytes_uint32_extended((uint32) subtype, seed),
									  HashBytes(data, len, seed));
			}

		case BSON_ORDER_OID:
			return HashBytes(bson_iter_oid(it)->bytes, 12, seed);

		case BSON_ORDER_BOOL:
			return hash_bytes_uint32_extended(bson_iter_bool(it) ? 1 : 0, seed);

		case BSON_ORDER_DATE:
			return HashInt64(bson_iter_date_time(it), seed);

		case BSON_ORDER_TIMESTAMP:
			{
				uint32		t;
				uint32		i;

				bson_iter_timestamp(it, &t, &i);
				return hash_combine64(hash_bytes_uint32_extended(t, seed),
									  hash_bytes_uint32_extended(i, seed));
			}

		case BSON_ORDER_REGEX:
			{
				const char *options;
				const char *pattern = bson_iter_regex(it, &options);

				return hash_combine64(HashBytes(pattern, strlen(pattern), seed),
									  HashBytes(options, strlen(options), seed));
			}

		case BSON_ORDER_DBPOINTER:
			{
				uint32		len;
				const char *ns;
				const bson_oid_t *oid;

				bson_iter_dbpointer(it, &len, &ns, &oid);
				return hash_combine64(HashBytes(ns, len, seed),
									  HashBytes(oid->bytes, 12, seed));
			}

		case BSON_ORDER_CODE:
			{
				uint32		len;
				const char *code = bson_iter_code(it, &len);

				return HashBytes(code, len, seed);
			}

		case BSON_ORDER_CODEWSCOPE:
			{
				uint32		len;
				uint32		scope_len;
				const uint8_t *scope;
				const char *code = bson_iter_codewscope(it, &len, &scope_len, &scope);
				bson_iter_t scope_it;

				IteratorFromData(&scope_it, scope, scope_len);
				return hash_combine64(HashBytes(code, len, seed),
									  HashElements(&scope_it, true, seed));
			}

		default:
			/* MinKey, undefined, null, MaxKey: the bracket says it all */
			return 0;
	}
}

/*
 * HashElements
 *		Hash the remaining elements of a document (with their field names)
 *		or an array (values only), in order.
 */
static uint64
HashElements(bson_iter_t *it, bool hash_keys, uint64 seed)
{
	uint64		hash = seed;

#ifndef FRONTEND
	check_stack_depth();
#endif

	while (bson_iter_next(it))
	{
		if (hash_keys)
			hash = hash_combine64(hash, HashBytes(bson_iter_key(it),
												  bson_iter_key_len(it), seed));
		hash = hash_combine64(hash, BsonHashValue(it, seed));
	}
	return hash;
}

/*
 * BsonHashValue
 *		Hash of the value an iterator points at: its canonical type bracket
 *		combined with the hash of the value within the bracket.
 */
uint64_t
BsonHashValue(const bson_iter_t *it, uint64_t seed)
{
	int			order = BsonCanonicalTypeOrder(bson_iter_type(it));

	return hash_combine64(hash_bytes_uint32_extended((uint32) order, seed),
						  HashSameBracket(it, order, seed));
}

/*
 * BsonHashDocument
 *		Hash of a whole document; equal to BsonHashValue of an embedded
 *		document with the same bytes.
 */
uint64_t
BsonHashDocument(const uint8_t *data, uint32_t len, uint64_t seed)
{
	bson_iter_t it;

	IteratorFromData(&it, data, len);
	return hash_combine64(hash_bytes_uint32_extended((uint32) BSON_ORDER_DOCUMENT,
													 seed),
						  HashElements(&it, true, seed));
}

/*
 * BsonTypeName
 *		MongoDB's name of a BSON type, as $type and error messages spell it
 *		("missing" for no value).
 */
const char *
BsonTypeName(bson_type_t type)
{
	switch (type)
	{
		case BSON_TYPE_DOUBLE:
			return "double";
		case BSON_TYPE_UTF8:
			return "string";
		case BSON_TYPE_DOCUMENT:
			return "object";
		case BSON_TYPE_ARRAY:
			return "array";
		case BSON_TYPE_BINARY:
			return "binData";
		case BSON_TYPE_UNDEFINED:
			return "undefined";
		case BSON_TYPE_OID:
			return "objectId";
		case BSON_TYPE_BOOL:
			return "bool";
		case BSON_TYPE_DATE_TIME:
			return "date";
		case BSON_TYPE_NULL:
			return "null";
		case BSON_TYPE_REGEX:
			return "regex";
		case BSON_TYPE_DBPOINTER:
			return "dbPointer";
		case BSON_TYPE_CODE:
			return "javascript";
		case BSON_TYPE_SYMBOL:
			return "symbol";
		case BSON_TYPE_CODEWSCOPE:
			return "javascriptWithScope";
		case BSON_TYPE_INT32:
			return "int";
		case BSON_TYPE_TIMESTAMP:
			return "timestamp";
		case BSON_TYPE_INT64:
			return "long";
		case BSON_TYPE_DECIMAL128:
			return "decimal";
		case BSON_TYPE_MAXKEY:
			return "maxKey";
		case BSON_TYPE_MINKEY:
			return "minKey";
		case BSON_TYPE_EOD:
			return "missing";
	}
	return "unknown";
}
