/*-------------------------------------------------------------------------
 *
 * bson_decimal.c
 *	  decimal128 arithmetic for $inc and $mul.
 *
 * Design note
 * -----------
 * MongoDB computes $inc and $mul in decimal128 as soon as one operand is a
 * decimal128, after converting the other operand: an integer exactly, a
 * double to 15 significant digits.  The arithmetic is IEEE 754-2008's with
 * roundTiesToEven, which we implement on the extended decimals of
 * bson_compare.h rather than on the BID bits: decode, compute exactly (or
 * exactly enough), round once, encode.
 *
 * Rounding works on a little-endian array of decimal digits, the exact
 * coefficient of the result, with its exponent.  It drops as few low digits
 * as it must so that at most 34 remain and the exponent is at least -6176
 * (one rounding for both, so a subnormal result is never rounded twice),
 * rounds half to even on the dropped digits, and then handles an exponent
 * above 6111: a zero is clamped, a short coefficient is padded with zeros
 * (the value is unchanged), and anything else overflows to infinity.
 *
 * A product of two coefficients below 10^34 has at most 68 digits: it is
 * formed digit by digit, exactly.  A sum is formed in 128 bits: the operand
 * with the larger exponent is shifted left (multiplied by ten) until it
 * either lines up with the other or reaches 37 digits.  In the second case
 * the other operand lies wholly below the last digit kept, and is shifted
 * right instead, its lost digits summarised by one guard digit that is 1
 * when any of them was non-zero.  The exact result then has at least 37
 * digits, so rounding drops at least three, of which the guard is the
 * lowest; a guard of 1 stands for any value strictly between 0 and 10 there
 * without changing the rounding (the half-way point is a multiple of ten),
 * for sums and differences alike.
 *
 * Results follow IEEE 754-2008 in the details MongoDB shows: the exponent
 * of an exact sum is the smaller of the two (1.000 + 0 is 1.000), that of
 * an exact product the sum of the two; x + (-x) is +0, the sum of two zeros
 * is negative only if both are; NaN propagates, Infinity - Infinity and
 * Infinity * 0 are NaN.
 *
 * IDENTIFICATION
 *	  src/bson_decimal.c
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

#include "bson_decimal.h"

#ifndef HAVE_INT128
#error "bson_decimal.c needs a 128-bit integer type"
#endif

/* Significant digits of decimal128 */
#define DECIMAL_PRECISION			34

/* Significant digits MongoDB keeps of a double converted to decimal */
#define DECIMAL_DOUBLE_PRECISION	15

/* Bias of the exponent in the BID encoding */
#define DECIMAL_EXPONENT_BIAS		6176

/* Digits the larger operand of a sum is widened to, at most */
#define DECIMAL_SUM_DIGITS			37

/* Digits of an exact product, at most (two coefficients below 10^34) */
#define DECIMAL_PRODUCT_DIGITS		(2 * DECIMAL_PRECISION)

/* Digits of a uint128, at most */
#define DECIMAL_UINT128_DIGITS		39

/* 10^19, the largest power of ten that fits a uint64 */
#define DECIMAL_POW10_19	((uint128) UINT64CONST(10000000000000000000))

/* Powers of ten 10^0 .. 10^38 */
static const uint128 DecimalPow10[DECIMAL_UINT128_DIGITS] = {
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
	DECIMAL_POW10_19,
	DECIMAL_POW10_19 * UINT64CONST(10),
	DECIMAL_POW10_19 * UINT64CONST(100),
	DECIMAL_POW10_19 * UINT64CONST(1000),
	DECIMAL_POW10_19 * UINT64CONST(10000),
	DECIMAL_POW10_19 * UINT64CONST(100000),
	DECIMAL_POW10_19 * UINT64CONST(1000000),
	DECIMAL_POW10_19 * UINT64CONST(10000000),
	DECIMAL_POW10_19 * UINT64CONST(100000000),
	DECIMAL_POW10_19 * UINT64CONST(1000000000),
	DECIMAL_POW10_19 * UINT64CONST(10000000000),
	DECIMAL_POW10_19 * UINT64CONST(100000000000),
	DECIMAL_POW10_19 * UINT64CONST(1000000000000),
	DECIMAL_POW10_19 * UINT64CONST(10000000000000),
	DECIMAL_POW10_19 * UINT64CONST(100000000000000),
	DECIMAL_POW10_19 * UINT64CONST(1000000000000000),
	DECIMAL_POW10_19 * UINT64CONST(10000000000000000),
	DECIMAL_POW10_19 * UINT64CONST(100000000000000000),
	DECIMAL_POW10_19 * UINT64CONST(1000000000000000000),
	DECIMAL_POW10_19 * DECIMAL_POW10_19
};


/* ----------------------------------------------------------------
 *		Helpers
 * ----------------------------------------------------------------
 */

/*
 * DecimalSetNaN, DecimalSetInfinity
 *		The special values.
 */
static void
DecimalSetNaN(BsonDecimal *out)
{
	out->kind = BSON_NUMBER_NAN;
	out->negative = false;
	out->exponent = 0;
	out->coefficient = 0;
}

static void
DecimalSetInfinity(bool negative, BsonDecimal *out)
{
	out->kind = BSON_NUMBER_INFINITY;
	out->negative = negative;
	out->exponent = 0;
	out->coefficient = 0;
}

/*
 * DecimalToDigits
 *		The decimal digits of an integer, least significant first; returns
 *		their number (0 for 0).
 */
static int
DecimalToDigits(uint128 value, uint8 *digit)
{
	int			n = 0;

	while (value != 0)
	{
		digit[n++] = (uint8) (value % 10);
		value /= 10;
	}
	return n;
}

/*
 * DecimalRound
 *		The decimal (-1)^negative * digits * 10^exponent rounded half to even
 *		to at most precision significant digits and to decimal128's exponent
 *		range, as the design note describes.  digit[] holds n digits, least
 *		significant first, and may have leading zeros.
 */
static void
DecimalRound(const uint8 *digit, int n, int exponent, bool negative,
			 int precision, BsonDecimal *out)
{
	uint128		coefficient = 0;
	int			drop = 0;

	while (n > 0 && digit[n - 1] == 0)
		n--;
	if (n > precision)
		drop = n - precision;
	if (exponent + drop < BSON_DECIMAL_MIN_EXPONENT)
		drop = BSON_DECIMAL_MIN_EXPONENT - exponent;

	for (int i = n - 1; i >= drop; i--)
		coefficient = coefficient * 10 + digit[i];

	if (drop > 0)
	{
		int			round_digit = drop - 1 < n ? digit[drop - 1] : 0;
		bool		sticky = false;

		for (int i = 0; i < Min(drop - 1, n); i++)
		{
			if (digit[i] != 0)
			{
				sticky = true;
				break;
			}
		}
		if (round_digit > 5 ||
			(round_digit == 5 && (sticky || (coefficient & 1) != 0)))
		{
			coefficient++;
			/* 99...9 rounded up to one digit too many */
			if (coefficient == DecimalPow10[precision])
			{
				coefficient = DecimalPow10[precision - 1];
				drop++;
			}
		}
	}
	exponent += drop;

	if (exponent > BSON_DECIMAL_MAX_EXPONENT)
	{
		/* pad with zeros while there is room: the value stays exact */
		while (exponent > BSON_DECIMAL_MAX_EXPONENT &&
			   coefficient < DecimalPow10[DECIMAL_PRECISION - 1])
		{
			coefficient *= 10;
			exponent--;
		}
		if (exponent > BSON_DECIMAL_MAX_EXPONENT)
		{
			DecimalSetInfinity(negative, out);
			return;
		}
	}

	out->kind = BSON_NUMBER_FINITE;
	out->negative = negative;
	out->exponent = exponent;
	out->coefficient = coefficient;
}

/*
 * DecimalRoundWide
 *		DecimalRound of a 128-bit coefficient.
 */
static void
DecimalRoundWide(uint128 coefficient, int exponent, bool negative,
				 BsonDecimal *out)
{
	uint8		digit[DECIMAL_UINT128_DIGITS];
	int			n = DecimalToDigits(coefficient, digit);

	DecimalRound(digit, n, exponent, negative, DECIMAL_PRECISION, out);
}

/*
 * DecimalDigitCount
 *		Number of decimal digits of an integer (0 for 0).
 */
static int
DecimalDigitCount(uint128 value)
{
	int			n = 0;

	while (n < DECIMAL_UINT128_DIGITS && value >= DecimalPow10[n])
		n++;
	return n;
}


/* ----------------------------------------------------------------
 *		Conversions
 * ----------------------------------------------------------------
 */

/*
 * BsonDecimalFromInt64
 *		The exact decimal of an integer.
 */
void
BsonDecimalFromInt64(int64_t value, BsonDecimal *out)
{
	out->kind = BSON_NUMBER_FINITE;
	out->negative = value < 0;
	out->exponent = 0;
	/* unsigned negation, so that INT64_MIN does not overflow */
	out->coefficient = value < 0 ? (uint128) (UINT64CONST(0) - (uint64) value)
		: (uint128) (uint64) value;
}

/*
 * BsonDecimalFromDouble
 *		MongoDB's Decimal128(double, kRoundTo15Digits).
 *
 * MongoDB converts the double to the nearest 34-digit decimal, then
 * quantizes it to exactly 15 significant digits.  The C library prints the
 * correctly rounded 34-digit mantissa ("%.33e" keeps trailing zeros, so 0.5
 * has 34 digits too), and DecimalRound rounds those to 15: the same two
 * roundings, in the same order.
 */
void
BsonDecimalFromDouble(double value, BsonDecimal *out)
{
	char		buf[64];
	uint8		digit[DECIMAL_PRECISION];
	int			n = 0;
	const char *p;
	int			exponent;

	if (isnan(value))
	{
		DecimalSetNaN(out);
		return;
	}
	if (isinf(value))
	{
		DecimalSetInfinity(value < 0, out);
		return;
	}
	if (value == 0.0)
	{
		out->kind = BSON_NUMBER_FINITE;
		out->negative = signbit(value) != 0;
		out->exponent = 0;
		out->coefficient = 0;
		return;
	}

	snprintf(buf, sizeof(buf), "%.*e", DECIMAL_PRECISION - 1, fabs(value));
	/* the digits, most significant first in buf, go in reverse */
	for (p = buf; *p != '\0' && *p != 'e'; p++)
	{
		if (*p >= '0' && *p <= '9' && n < DECIMAL_PRECISION)
			n++;
	}
	exponent = (*p == 'e' ? atoi(p + 1) : 0) - (n - 1);
	{
		int			i = n;

		for (p = buf; *p != '\0' && *p != 'e' && i > 0; p++)
		{
			if (*p >= '0' && *p <= '9')
				digit[--i] = (uint8) (*p - '0');
		}
	}
	DecimalRound(digit, n, exponent, value < 0, DECIMAL_DOUBLE_PRECISION, out);
}

/*
 * BsonEncodeDecimal128
 *		The BID encoding of a decimal in range: the sign, the biased
 *		exponent in bits 62..49 and the coefficient (below 2^113) in the
 *		remaining bits, as libbson and MongoDB write it.
 */
void
BsonEncodeDecimal128(const BsonDecimal *d, bson_decimal128_t *out)
{
	uint64		sign = d->negative ? UINT64CONST(0x8000000000000000) : 0;

	switch (d->kind)
	{
		case BSON_NUMBER_NAN:
			out->high = UINT64CONST(0x7C00000000000000);
			out->low = 0;
			break;
		case BSON_NUMBER_INFINITY:
			out->high = sign | UINT64CONST(0x7800000000000000);
			out->low = 0;
			break;
		case BSON_NUMBER_FINITE:
			Assert(d->coefficient < DecimalPow10[DECIMAL_PRECISION]);
			Assert(d->exponent >= BSON_DECIMAL_MIN_EXPONENT &&
				   d->exponent <= BSON_DECIMAL_MAX_EXPONENT);
			out->high = sign |
				((uint64) (d->exponent + DECIMAL_EXPONENT_BIAS) << 49) |
				(uint64) (d->coefficient >> 64);
			out->low = (uint64) d->coefficient;
			break;
	}
}


/* ----------------------------------------------------------------
 *		Arithmetic
 * ----------------------------------------------------------------
 */

/*
 * BsonDecimalAdd
 *		x + y, rounded once (see the design note for the guard digit).
 */
void
BsonDecimalAdd(const BsonDecimal *x, const BsonDecimal *y, BsonDecimal *out)
{
	const BsonDecimal *a = x;
	const BsonDecimal *b = y;
	uint128		sa;
	uint128		sb;
	uint128		sum;
	int			exponent;
	bool		negative;

	if (x->kind == BSON_NUMBER_NAN || y->kind == BSON_NUMBER_NAN)
	{
		DecimalSetNaN(out);
		return;
	}
	if (x->kind == BSON_NUMBER_INFINITY || y->kind == BSON_NUMBER_INFINITY)
	{
		if (x->kind == y->kind && x->negative != y->negative)
			DecimalSetNaN(out);
		else
			DecimalSetInfinity(x->kind == BSON_NUMBER_INFINITY ?
							   x->negative : y->negative, out);
		return;
	}

	/* a has the larger exponent */
	if (a->exponent < b->exponent)
	{
		a = y;
		b = x;
	}
	if (a->coefficient == 0)
	{
		/* a zero adds nothing, and b's exponent is the smaller */
		sa = 0;
		sb = b->coefficient;
		exponent = b->exponent;
	}
	else
	{
		int			distance = a->exponent - b->exponent;
		int			shift = Min(distance,
								DECIMAL_SUM_DIGITS - DecimalDigitCount(a->coefficient));
		int			rest = distance - shift;

		sa = a->coefficient * DecimalPow10[shift];
		exponent = a->exponent - shift;
		if (rest == 0)
			sb = b->coefficient;
		else
		{
			/* b lies below a's last digit: keep a guard digit for it */
			uint128		quotient = 0;
			bool		sticky = b->coefficient != 0;

			if (rest < DECIMAL_UINT128_DIGITS)
			{
				quotient = b->coefficient / DecimalPow10[rest];
				sticky = quotient * DecimalPow10[rest] != b->coefficient;
			}
			sa *= 10;
			sb = quotient * 10 + (sticky ? 1 : 0);
			exponent--;
		}
	}

	if (a->negative == b->negative)
	{
		sum = sa + sb;
		negative = a->negative;
	}
	else if (sa >= sb)
	{
		sum = sa - sb;
		negative = a->negative;
	}
	else
	{
		sum = sb - sa;
		negative = b->negative;
	}
	/* an exact zero is +0 unless both operands are negative */
	if (sum == 0)
		negative = a->negative && b->negative;
	DecimalRoundWide(sum, exponent, negative, out);
}

/*
 * BsonDecimalMultiply
 *		x * y: the exact product of the coefficients, rounded once.
 */
void
BsonDecimalMultiply(const BsonDecimal *x, const BsonDecimal *y, BsonDecimal *out)
{
	bool		negative = x->negative != y->negative;
	uint8		xd[DECIMAL_UINT128_DIGITS];
	uint8		yd[DECIMAL_UINT128_DIGITS];
	uint8		product[DECIMAL_PRODUCT_DIGITS + 2];
	int			nx;
	int			ny;

	if (x->kind == BSON_NUMBER_NAN || y->kind == BSON_NUMBER_NAN)
	{
		DecimalSetNaN(out);
		return;
	}
	if (x->kind == BSON_NUMBER_INFINITY || y->kind == BSON_NUMBER_INFINITY)
	{
		if ((x->kind == BSON_NUMBER_FINITE && x->coefficient == 0) ||
			(y->kind == BSON_NUMBER_FINITE && y->coefficient == 0))
			DecimalSetNaN(out);
		else
			DecimalSetInfinity(negative, out);
		return;
	}

	/* schoolbook multiplication, one decimal digit at a time */
	nx = DecimalToDigits(x->coefficient, xd);
	ny = DecimalToDigits(y->coefficient, yd);
	memset(product, 0, sizeof(product));
	for (int i = 0; i < nx; i++)
	{
		int			carry = 0;
		int			j;

		for (j = 0; j < ny; j++)
		{
			int			t = product[i + j] + xd[i] * yd[j] + carry;

			product[i + j] = (uint8) (t % 10);
			carry = t / 10;
		}
		for (j = i + ny; carry != 0; j++)
		{
			int			t = product[j] + carry;

			product[j] = (uint8) (t % 10);
			carry = t / 10;
		}
	}
	DecimalRound(product, nx + ny, x->exponent + y->exponent, negative,
				 DECIMAL_PRECISION, out);
}

/*
 * BsonDecimalEqual
 *		Equality by value, for the no-op rule of $inc and $mul.
 */
bool
BsonDecimalEqual(const BsonDecimal *x, const BsonDecimal *y)
{
	uint128		cx = x->coefficient;
	uint128		cy = y->coefficient;
	int			ex = x->exponent;
	int			ey = y->exponent;

	if (x->kind == BSON_NUMBER_NAN || y->kind == BSON_NUMBER_NAN)
		return false;
	if (x->kind != y->kind)
		return false;
	if (x->kind == BSON_NUMBER_INFINITY)
		return x->negative == y->negative;
	if (cx == 0 || cy == 0)
		return cx == cy;
	if (x->negative != y->negative)
		return false;
	/* the same value has one form without trailing zeros */
	while (cx % 10 == 0)
	{
		cx /= 10;
		ex++;
	}
	while (cy % 10 == 0)
	{
		cy /= 10;
		ey++;
	}
	return cx == cy && ex == ey;
}
