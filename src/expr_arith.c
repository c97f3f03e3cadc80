/*-------------------------------------------------------------------------
 *
 * expr_arith.c
 *	  Arithmetic and comparison expression operators.
 *
 * MongoDB's numeric rules: int32 results that overflow widen to int64,
 * int64 results that overflow become doubles, a double operand makes a
 * double and a decimal128 operand a decimal128 (exact, bson_decimal.c).
 * null or missing operands make null.  $add and $subtract also take dates
 * (milliseconds).
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include <math.h>

#include "common/pg_prng.h"

#include "bson_compare.h"
#include "bson_decimal.h"
#include "expr_internal.h"

/* The numeric kinds, widest last */
typedef enum AggNumKind
{
	AGG_NUM_INT32,
	AGG_NUM_INT64,
	AGG_NUM_DOUBLE,
	AGG_NUM_DECIMAL
} AggNumKind;

static AggNumKind
AggNumKindOf(const bson_value_t *v)
{
	switch (v->value_type)
	{
		case BSON_TYPE_INT32:
			return AGG_NUM_INT32;
		case BSON_TYPE_INT64:
			return AGG_NUM_INT64;
		case BSON_TYPE_DOUBLE:
			return AGG_NUM_DOUBLE;
		default:
			return AGG_NUM_DECIMAL;
	}
}

static int64_t
AggNumAsInt64(const bson_value_t *v)
{
	return v->value_type == BSON_TYPE_INT32 ? v->value.v_int32 : v->value.v_int64;
}

/* An integer result: int32 when both were int32 and it fits */
static void
AggSetInteger(bson_value_t *out, int64_t r, bool int32_ok)
{
	if (int32_ok && r >= INT32_MIN && r <= INT32_MAX)
		AggSetInt32(out, (int32_t) r);
	else
		AggSetInt64(out, r);
}

/* x + y or x * y of two numbers, by the rules above */
static void
AggNumArith(const bson_value_t *x, const bson_value_t *y, bool mul, bson_value_t *out)
{
	AggNumKind k = Max(AggNumKindOf(x), AggNumKindOf(y));

	if (k == AGG_NUM_DECIMAL)
	{
		BsonDecimal a;
		BsonDecimal b;
		BsonDecimal r;

		AggNumberAsDecimal(x, &a);
		AggNumberAsDecimal(y, &b);
		if (mul)
			BsonDecimalMultiply(&a, &b, &r);
		else
			BsonDecimalAdd(&a, &b, &r);
		AggSetDecimal(out, &r);
	}
	else if (k == AGG_NUM_DOUBLE)
	{
		double		a = AggNumberAsDouble(x);
		double		b = AggNumberAsDouble(y);

		AggSetDouble(out, mul ? a * b : a + b);
	}
	else
	{
		int64_t		a = AggNumAsInt64(x);
		int64_t		b = AggNumAsInt64(y);
		int64_t		r;
		bool		overflow = mul ? __builtin_mul_overflow(a, b, &r) :
			__builtin_add_overflow(a, b, &r);

		if (overflow)
			AggSetDouble(out, mul ? (double) a * (double) b : (double) a + (double) b);
		else
			AggSetInteger(out, r, k == AGG_NUM_INT32);
	}
}

/* $add: numbers and at most one date */
static bool
AggAdd(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t sum;
	bool		have_date = false;
	bool		is_null = false;

	AggSetInt32(&sum, 0);
	for (int i = 0; i < e->nargs; i++)
	{
		bson_value_t v;

		if (!AggEvalArg(e, i, cx, &v, error))
			return false;
		if (AggValueNullish(&v))
		{
			is_null = true;
			continue;
		}
		if (v.value_type == BSON_TYPE_DATE_TIME)
		{
			if (have_date)
				return AggExprFail(error, 16612, "only one date allowed in an $add expression");
			have_date = true;
			v.value_type = BSON_TYPE_INT64;
			v.value.v_int64 = v.value.v_datetime;
		}
		else if (!AggValueIsNumber(&v))
			return AggExprFail(error, AGG_ERR_TYPE_MISMATCH,
							   "$add only supports numeric or date types, not %s", AggTypeName(&v));
		AggNumArith(&sum, &v, false, &sum);
	}
	if (is_null)
	{
		AggSetNull(out);
		return true;
	}
	if (have_date)
	{
		double		ms = AggNumberAsDouble(&sum);

		if (sum.value_type == BSON_TYPE_INT64 || sum.value_type == BSON_TYPE_INT32)
			ms = (double) AggNumAsInt64(&sum);
		if (!(ms >= -9.2233720368547758e18 && ms < 9.2233720368547758e18))
			return AggExprFail(error, 15, "date overflow in $add");
		out->value_type = BSON_TYPE_DATE_TIME;
		out->value.v_datetime = sum.value_type == BSON_TYPE_DOUBLE ||
			sum.value_type == BSON_TYPE_DECIMAL128 ? (int64_t) llround(ms) : AggNumAsInt64(&sum);
		return true;
	}
	*out = sum;
	return true;
}

static bool
AggMultiply(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t prod;
	bool		is_null = false;

	AggSetInt32(&prod, 1);
	for (int i = 0; i < e->nargs; i++)
	{
		bson_value_t v;

		if (!AggEvalArg(e, i, cx, &v, error))
			return false;
		if (AggValueNullish(&v))
		{
			is_null = true;
			continue;
		}
		if (!AggValueIsNumber(&v))
			return AggExprFail(error, AGG_ERR_TYPE_MISMATCH,
							   "$multiply only supports numeric types, not %s", AggTypeName(&v));
		AggNumArith(&prod, &v, true, &prod);
	}
	if (is_null)
		AggSetNull(out);
	else
		*out = prod;
	return true;
}

/* Evaluate the two arguments of a binary operator; false on error */
static bool
AggEvalTwo(const AggExpr *e, AggExprContext *cx, bson_value_t *a, bson_value_t *b,
		   BsonQueryError *error)
{
	return AggEvalArg(e, 0, cx, a, error) && AggEvalArg(e, 1, cx, b, error);
}

static bool
AggSubtract(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t a;
	bson_value_t b;

	if (!AggEvalTwo(e, cx, &a, &b, error))
		return false;
	if (AggValueNullish(&a) || AggValueNullish(&b))
	{
		AggSetNull(out);
		return true;
	}
	if (a.value_type == BSON_TYPE_DATE_TIME)
	{
		if (b.value_type == BSON_TYPE_DATE_TIME)
		{
			AggSetInt64(out, a.value.v_datetime - b.value.v_datetime);
			return true;
		}
		if (AggValueIsNumber(&b))
		{
			double		d = AggNumberAsDouble(&b);

			out->value_type = BSON_TYPE_DATE_TIME;
			out->value.v_datetime = (b.value_type == BSON_TYPE_INT32 || b.value_type == BSON_TYPE_INT64) ?
				a.value.v_datetime - AggNumAsInt64(&b) : a.value.v_datetime - (int64_t) llround(d);
			return true;
		}
		return AggExprFail(error, AGG_ERR_TYPE_MISMATCH, "cant $subtract a %s from a Date",
						   AggTypeName(&b));
	}
	if (!AggValueIsNumber(&a) || !AggValueIsNumber(&b))
		return AggExprFail(error, AGG_ERR_TYPE_MISMATCH, "cant $subtract %s from %s",
						   AggTypeName(&b), AggTypeName(&a));
	{
		bson_value_t neg = b;

		/* a - b = a + (-b), with -b exact in its own type or wider */
		switch (b.value_type)
		{
			case BSON_TYPE_INT32:
				AggSetInt64(&neg, -(int64_t) b.value.v_int32);
				if (neg.value.v_int64 >= INT32_MIN && neg.value.v_int64 <= INT32_MAX &&
					a.value_type == BSON_TYPE_INT32)
					AggSetInt32(&neg, (int32_t) neg.value.v_int64);
				break;
			case BSON_TYPE_INT64:
				if (b.value.v_int64 == INT64_MIN)
					AggSetDouble(&neg, -(double) b.value.v_int64);
				else
					neg.value.v_int64 = -b.value.v_int64;
				break;
			case BSON_TYPE_DOUBLE:
				neg.value.v_double = -b.value.v_double;
				break;
			default:
				{
					BsonDecimal d;
					BsonDecimal m1;
					BsonDecimal r;

					AggNumberAsDecimal(&b, &d);
					BsonDecimalFromInt64(-1, &m1);
					BsonDecimalMultiply(&d, &m1, &r);
					AggSetDecimal(&neg, &r);
				}
				break;
		}
		AggNumArith(&a, &neg, false, out);
		/* int32 - int32 stays int32 when it fits */
		if (a.value_type == BSON_TYPE_INT32 && b.value_type == BSON_TYPE_INT32 &&
			out->value_type == BSON_TYPE_INT64 &&
			out->value.v_int64 >= INT32_MIN && out->value.v_int64 <= INT32_MAX)
			AggSetInt32(out, (int32_t) out->value.v_int64);
	}
	return true;
}

/* ---- exact decimal division and rounding ---- */

#define DEC_DIGITS	34

static uint128
DecPow10(int n)
{
	uint128		r = 1;

	while (n-- > 0)
		r *= 10;
	return r;
}

static int
DecDigits(uint128 c)
{
	int			n = 0;

	while (c > 0)
	{
		c /= 10;
		n++;
	}
	return n;
}

/*
 * x / y, rounded half to even to 34 digits, with IEEE 754-2008's ideal
 * exponent (x's minus y's) when the quotient is exact: 10 / 2 is 5, 1 / 3
 * is 0.3333333333333333333333333333333333.  y is not zero.
 */
static void
DecDivide(const BsonDecimal *x, const BsonDecimal *y, BsonDecimal *out)
{
	uint128		q;
	uint128		r;
	int			exp = x->exponent - y->exponent;
	int			ideal = exp;

	memset(out, 0, sizeof(*out));
	out->negative = x->negative != y->negative;
	if (x->kind == BSON_NUMBER_NAN || y->kind == BSON_NUMBER_NAN ||
		(x->kind == BSON_NUMBER_INFINITY && y->kind == BSON_NUMBER_INFINITY))
	{
		out->kind = BSON_NUMBER_NAN;
		return;
	}
	if (x->kind == BSON_NUMBER_INFINITY)
	{
		out->kind = BSON_NUMBER_INFINITY;
		return;
	}
	out->kind = BSON_NUMBER_FINITE;
	if (y->kind == BSON_NUMBER_INFINITY || x->coefficient == 0)
	{
		out->coefficient = 0;
		out->exponent = y->kind == BSON_NUMBER_INFINITY ? 0 : Max(ideal, BSON_DECIMAL_MIN_EXPONENT);
		return;
	}
	q = x->coefficient / y->coefficient;
	r = x->coefficient % y->coefficient;
	/* more digits while there is a remainder and room */
	while (r != 0 && DecDigits(q) < DEC_DIGITS && exp > BSON_DECIMAL_MIN_EXPONENT)
	{
		q = q * 10 + (r * 10) / y->coefficient;
		r = (r * 10) % y->coefficient;
		exp--;
	}
	/* too many digits (a huge integer quotient): drop them, rounding */
	while (DecDigits(q) > DEC_DIGITS)
	{
		r = (q % 10 != 0 || r != 0) ? 1 : 0;	/* sticky */
		q /= 10;
		exp++;
	}
	if (r != 0)
	{
		/* half to even on the rest */
		uint128		twice = r * 2;

		if (twice > y->coefficient || (twice == y->coefficient && (q & 1)))
		{
			q++;
			if (DecDigits(q) > DEC_DIGITS)
			{
				q /= 10;
				exp++;
			}
		}
	}
	else
	{
		/* exact: no trailing zeros beyond the ideal exponent */
		while (exp < ideal && q != 0 && q % 10 == 0)
		{
			q /= 10;
			exp++;
		}
	}
	out->coefficient = q;
	out->exponent = exp;
	if (exp > BSON_DECIMAL_MAX_EXPONENT)
		out->kind = BSON_NUMBER_INFINITY;
}

typedef enum DecRound
{
	DEC_ROUND_HALF_EVEN,
	DEC_ROUND_TRUNC,
	DEC_ROUND_CEIL,
	DEC_ROUND_FLOOR
} DecRound;

/* A decimal rounded to 10^-place (its exponent becomes -place at most) */
static void
DecRoundTo(const BsonDecimal *x, int place, DecRound mode, BsonDecimal *out)
{
	int			target = -place;
	int			shift;
	uint128		q;
	uint128		r;
	uint128		div;
	bool		up = false;

	*out = *x;
	if (x->kind != BSON_NUMBER_FINITE || x->exponent >= target)
		return;
	shift = target - x->exponent;
	if (shift > DEC_DIGITS + 1)
	{
		q = 0;
		r = x->coefficient;
		div = 0;				/* "10^shift": larger than any coefficient */
	}
	else
	{
		div = DecPow10(shift);
		q = x->coefficient / div;
		r = x->coefficient % div;
	}
	if (r != 0)
	{
		switch (mode)
		{
			case DEC_ROUND_TRUNC:
				break;
			case DEC_ROUND_CEIL:
				up = !x->negative;
				break;
			case DEC_ROUND_FLOOR:
				up = x->negative;
				break;
			case DEC_ROUND_HALF_EVEN:
				if (div != 0)
				{
					uint128		half = div / 2;

					up = r > half || (r == half && (q & 1));
				}
				break;
		}
	}
	if (up)
		q++;
	out->coefficient = q;
	out->exponent = target;
	if (q == 0 && mode != DEC_ROUND_HALF_EVEN && mode != DEC_ROUND_TRUNC)
		out->negative = x->negative;
}

static bool
AggDivide(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t a;
	bson_value_t b;

	if (!AggEvalTwo(e, cx, &a, &b, error))
		return false;
	if (AggValueNullish(&a) || AggValueNullish(&b))
	{
		AggSetNull(out);
		return true;
	}
	if (!AggValueIsNumber(&a) || !AggValueIsNumber(&b))
		return AggExprFail(error, AGG_ERR_TYPE_MISMATCH, "$divide only supports numeric types, not %s and %s",
						   AggTypeName(&a), AggTypeName(&b));
	if (AggNumberAsDouble(&b) == 0 && b.value_type != BSON_TYPE_DECIMAL128)
		return AggExprFail(error, AGG_ERR_BAD_VALUE, "can't $divide by zero");
	if (a.value_type == BSON_TYPE_DECIMAL128 || b.value_type == BSON_TYPE_DECIMAL128)
	{
		BsonDecimal x;
		BsonDecimal y;
		BsonDecimal r;

		AggNumberAsDecimal(&a, &x);
		AggNumberAsDecimal(&b, &y);
		if (y.kind == BSON_NUMBER_FINITE && y.coefficient == 0)
			return AggExprFail(error, AGG_ERR_BAD_VALUE, "can't $divide by zero");
		DecDivide(&x, &y, &r);
		AggSetDecimal(out, &r);
		return true;
	}
	AggSetDouble(out, AggNumberAsDouble(&a) / AggNumberAsDouble(&b));
	return true;
}

static bool
AggMod(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t a;
	bson_value_t b;
	AggNumKind	k;

	if (!AggEvalTwo(e, cx, &a, &b, error))
		return false;
	if (AggValueNullish(&a) || AggValueNullish(&b))
	{
		AggSetNull(out);
		return true;
	}
	if (!AggValueIsNumber(&a) || !AggValueIsNumber(&b))
		return AggExprFail(error, 16611, "$mod only supports numeric types, not %s and %s",
						   AggTypeName(&a), AggTypeName(&b));
	if (AggNumberAsDouble(&b) == 0)
		return AggExprFail(error, 16610, "can't $mod by zero");
	k = Max(AggNumKindOf(&a), AggNumKindOf(&b));
	if (k >= AGG_NUM_DOUBLE)
	{
		double		r = fmod(AggNumberAsDouble(&a), AggNumberAsDouble(&b));

		if (k == AGG_NUM_DECIMAL)
		{
			BsonDecimal d;

			BsonDecimalFromDouble(r, &d);
			AggSetDecimal(out, &d);
		}
		else
			AggSetDouble(out, r);
		return true;
	}
	{
		int64_t		x = AggNumAsInt64(&a);
		int64_t		y = AggNumAsInt64(&b);

		AggSetInteger(out, y == -1 ? 0 : x % y, k == AGG_NUM_INT32);
	}
	return true;
}

/* One numeric argument, or null; *done when the result is already set */
static bool
AggOneNumber(const AggExpr *e, AggExprContext *cx, const char *name, int code,
			 bson_value_t *v, bson_value_t *out, bool *done, BsonQueryError *error)
{
	*done = false;
	if (!AggEvalArg(e, 0, cx, v, error))
		return false;
	if (AggValueNullish(v))
	{
		AggSetNull(out);
		*done = true;
		return true;
	}
	if (!AggValueIsNumber(v))
		return AggExprFail(error, code, "%s only supports numeric types, not %s", name,
						   AggTypeName(v));
	return true;
}

static bool
AggAbs(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t v;
	bool		done;

	if (!AggOneNumber(e, cx, "$abs", 28765, &v, out, &done, error))
		return false;
	if (done)
		return true;
	switch (v.value_type)
	{
		case BSON_TYPE_INT32:
			AggSetInteger(out, llabs((int64_t) v.value.v_int32), true);
			break;
		case BSON_TYPE_INT64:
			if (v.value.v_int64 == INT64_MIN)
				return AggExprFail(error, 28680, "can't take $abs of long long min");
			AggSetInt64(out, llabs(v.value.v_int64));
			break;
		case BSON_TYPE_DOUBLE:
			AggSetDouble(out, fabs(v.value.v_double));
			break;
		default:
			*out = v;
			out->value.v_decimal128.high &= ~(UINT64_C(1) << 63);
			break;
	}
	return true;
}

/* $ceil, $floor, $sqrt, $exp, $ln, $log10 over doubles (decimals through double) */
static bool
AggUnaryMath(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	const char *name = e->op->name;
	bson_value_t v;
	bool		done;
	double		x;
	double		r;
	if (!AggOneNumber(e, cx, name, 28765, &v, out, &done, error))
		return false;
	if (done)
		return true;
	if ((strcmp(name, "$ceil") == 0 || strcmp(name, "$floor") == 0) &&
		(v.value_type == BSON_TYPE_INT32 || v.value_type == BSON_TYPE_INT64))
	{
		*out = v;
		return true;
	}
	if ((strcmp(name, "$ceil") == 0 || strcmp(name, "$floor") == 0) &&
		v.value_type == BSON_TYPE_DECIMAL128)
	{
		/* exactly, to an integral decimal */
		BsonDecimal d;
		BsonDecimal rd;

		AggNumberAsDecimal(&v, &d);
		DecRoundTo(&d, 0, name[1] == 'c' ? DEC_ROUND_CEIL : DEC_ROUND_FLOOR, &rd);
		AggSetDecimal(out, &rd);
		return true;
	}
	x = AggNumberAsDouble(&v);
	if (strcmp(name, "$ceil") == 0)
		r = ceil(x);
	else if (strcmp(name, "$floor") == 0)
		r = floor(x);
	else if (strcmp(name, "$sqrt") == 0)
	{
		if (x < 0)
			return AggExprFail(error, 28714, "$sqrt's argument must be greater than or equal to 0");
		r = sqrt(x);
	}
	else if (strcmp(name, "$exp") == 0)
		r = exp(x);
	else if (strcmp(name, "$ln") == 0)
	{
		if (!(x > 0) && !isnan(x))
			return AggExprFail(error, 28766, "$ln's argument must be a positive number, but is %g", x);
		r = log(x);
	}
	else
	{
		if (!(x > 0) && !isnan(x))
			return AggExprFail(error, 28761, "$log10's argument must be a positive number, but is %g", x);
		r = log10(x);
	}
	if (v.value_type == BSON_TYPE_DECIMAL128)
	{
		BsonDecimal d;

		BsonDecimalFromDouble(r, &d);
		AggSetDecimal(out, &d);
	}
	else
		AggSetDouble(out, r);
	return true;
}

static bool
AggLog(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t a;
	bson_value_t b;
	double		x;
	double		base;

	if (!AggEvalTwo(e, cx, &a, &b, error))
		return false;
	if (AggValueNullish(&a) || AggValueNullish(&b))
	{
		AggSetNull(out);
		return true;
	}
	if (!AggValueIsNumber(&a))
		return AggExprFail(error, 28756, "$log's argument must be numeric, not %s", AggTypeName(&a));
	if (!AggValueIsNumber(&b))
		return AggExprFail(error, 28757, "$log's base must be numeric, not %s", AggTypeName(&b));
	x = AggNumberAsDouble(&a);
	base = AggNumberAsDouble(&b);
	if (!(x > 0) && !isnan(x))
		return AggExprFail(error, 28758, "$log's argument must be a positive number, but is %g", x);
	if ((!(base > 0) || base == 1) && !isnan(base))
		return AggExprFail(error, 28759,
						   "$log's base must be a positive number not equal to 1, but is %g", base);
	AggSetDouble(out, log(x) / log(base));
	return true;
}

static bool
AggPow(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t a;
	bson_value_t b;

	if (!AggEvalTwo(e, cx, &a, &b, error))
		return false;
	if (AggValueNullish(&a) || AggValueNullish(&b))
	{
		AggSetNull(out);
		return true;
	}
	if (!AggValueIsNumber(&a))
		return AggExprFail(error, 28762, "$pow's base must be numeric, not %s", AggTypeName(&a));
	if (!AggValueIsNumber(&b))
		return AggExprFail(error, 28763, "$pow's exponent must be numeric, not %s", AggTypeName(&b));
	if (AggNumberAsDouble(&a) == 0 && AggNumberAsDouble(&b) < 0)
		return AggExprFail(error, 28764, "$pow cannot take a base of 0 and a negative exponent");
	if (Max(AggNumKindOf(&a), AggNumKindOf(&b)) <= AGG_NUM_INT64 && AggNumAsInt64(&b) >= 0)
	{
		/* integers: exact while it fits, by repeated squaring */
		int64_t		base = AggNumAsInt64(&a);
		int64_t		exp = AggNumAsInt64(&b);
		int64_t		r = 1;
		bool		overflow = false;

		while (exp > 0 && !overflow)
		{
			if (exp & 1)
				overflow = __builtin_mul_overflow(r, base, &r);
			exp >>= 1;
			if (exp > 0 && !overflow)
				overflow = __builtin_mul_overflow(base, base, &base);
		}
		if (!overflow)
		{
			AggSetInteger(out, r, a.value_type == BSON_TYPE_INT32 && b.value_type == BSON_TYPE_INT32);
			return true;
		}
	}
	else if (Max(AggNumKindOf(&a), AggNumKindOf(&b)) <= AGG_NUM_INT64)
	{
		/* a negative integer exponent: 1 and -1 stay integers */
		int64_t		base = AggNumAsInt64(&a);

		if (base == 1 || base == -1)
		{
			AggSetInteger(out, (base == -1 && (AggNumAsInt64(&b) & 1)) ? -1 : 1,
						  a.value_type == BSON_TYPE_INT32 && b.value_type == BSON_TYPE_INT32);
			return true;
		}
	}
	if (a.value_type == BSON_TYPE_DECIMAL128 || b.value_type == BSON_TYPE_DECIMAL128)
	{
		BsonDecimal d;

		BsonDecimalFromDouble(pow(AggNumberAsDouble(&a), AggNumberAsDouble(&b)), &d);
		AggSetDecimal(out, &d);
		return true;
	}
	AggSetDouble(out, pow(AggNumberAsDouble(&a), AggNumberAsDouble(&b)));
	return true;
}

/* $round and $trunc: [number, place (-20..100, default 0)] */
static bool
AggRoundTrunc(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bool		is_round = strcmp(e->op->name, "$round") == 0;
	bson_value_t v;
	bson_value_t p;
	int64_t		place = 0;
	double		x;
	double		scale;
	double		r;

	if (!AggEvalArg(e, 0, cx, &v, error))
		return false;
	if (e->nargs > 1)
	{
		if (!AggEvalArg(e, 1, cx, &p, error))
			return false;
		if (AggValueNullish(&p))
		{
			AggSetNull(out);
			return true;
		}
		if (!AggValueIsNumber(&p))
			return AggExprFail(error, 16004, "%s requires \"place\" to be a numeric value",
							   e->op->name);
		place = (int64_t) AggNumberAsDouble(&p);
		if (AggNumberAsDouble(&p) != (double) place)
			return AggExprFail(error, 31109,
							   "%s requires \"place\" to be an integral value", e->op->name);
		if (place < -20 || place > 100)
			return AggExprFail(error, 51083,
							   "%s requires \"place\" to be an integer between -20 and 100, but was %lld",
							   e->op->name, (long long) place);
	}
	if (AggValueNullish(&v))
	{
		AggSetNull(out);
		return true;
	}
	if (!AggValueIsNumber(&v))
		return AggExprFail(error, 51081, "%s only supports numeric types, not %s",
						   e->op->name, AggTypeName(&v));
	if ((v.value_type == BSON_TYPE_INT32 || v.value_type == BSON_TYPE_INT64) && place >= 0)
	{
		*out = v;
		return true;
	}
	if (v.value_type == BSON_TYPE_INT32 || v.value_type == BSON_TYPE_INT64)
	{
		int64_t		n = AggNumAsInt64(&v);
		int64_t		m = 1;

		for (int64_t i = 0; i < -place && m <= INT64_MAX / 10; i++)
			m *= 10;
		if (-place > 18)
			AggSetInteger(out, 0, v.value_type == BSON_TYPE_INT32);
		else if (is_round)
		{
			int64_t		q = n / m;
			int64_t		rem = n % m;

			/* half to even on the digit left of the place */
			if (llabs(rem) * 2 > m || (llabs(rem) * 2 == m && (q % 2 != 0)))
				q += n < 0 ? -1 : 1;
			AggSetInteger(out, q * m, v.value_type == BSON_TYPE_INT32);
		}
		else
			AggSetInteger(out, (n / m) * m, v.value_type == BSON_TYPE_INT32);
		return true;
	}
	if (v.value_type == BSON_TYPE_DECIMAL128)
	{
		/* exactly */
		BsonDecimal d;
		BsonDecimal rd;

		AggNumberAsDecimal(&v, &d);
		DecRoundTo(&d, (int) place, is_round ? DEC_ROUND_HALF_EVEN : DEC_ROUND_TRUNC, &rd);
		AggSetDecimal(out, &rd);
		return true;
	}
	x = AggNumberAsDouble(&v);
	scale = pow(10.0, (double) place);
	if (isnan(x) || isinf(x))
		r = x;
	else if (is_round)
		r = rint(x * scale) / scale;
	else
		r = trunc(x * scale) / scale;
	if (v.value_type == BSON_TYPE_DECIMAL128)
	{
		BsonDecimal d;

		BsonDecimalFromDouble(r, &d);
		AggSetDecimal(out, &d);
	}
	else
		AggSetDouble(out, r);
	return true;
}

/* ---- comparisons ---- */

static bool
AggCompareOp(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t a;
	bson_value_t b;
	int			c;
	const char *name = e->op->name;

	if (!AggEvalTwo(e, cx, &a, &b, error))
		return false;
	c = AggValueCompare(&a, &b, cx->collation);
	if (strcmp(name, "$cmp") == 0)
		AggSetInt32(out, c < 0 ? -1 : (c > 0 ? 1 : 0));
	else if (strcmp(name, "$eq") == 0)
		AggSetBool(out, c == 0);
	else if (strcmp(name, "$ne") == 0)
		AggSetBool(out, c != 0);
	else if (strcmp(name, "$gt") == 0)
		AggSetBool(out, c > 0);
	else if (strcmp(name, "$gte") == 0)
		AggSetBool(out, c >= 0);
	else if (strcmp(name, "$lt") == 0)
		AggSetBool(out, c < 0);
	else
		AggSetBool(out, c <= 0);
	return true;
}

/* $sigmoid: 1 / (1 + e^-x) */
static bool
AggSigmoid(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t v;
	bool		done;
	double		r;

	if (!AggOneNumber(e, cx, "$sigmoid", AGG_ERR_TYPE_MISMATCH, &v, out, &done, error))
		return false;
	if (done)
		return true;
	r = 1.0 / (1.0 + exp(-AggNumberAsDouble(&v)));
	if (v.value_type == BSON_TYPE_DECIMAL128)
	{
		BsonDecimal d;

		BsonDecimalFromDouble(r, &d);
		AggSetDecimal(out, &d);
	}
	else
		AggSetDouble(out, r);
	return true;
}

/* $rand: {} -> a double in [0, 1) */
static bool
AggRandParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	bson_iter_t it;

	if (!BSON_ITER_HOLDS_DOCUMENT(arg))
		return AggExprFail(p->error, 10065, "invalid parameter: expected an object ($rand)");
	bson_iter_recurse(arg, &it);
	if (bson_iter_next(&it))
		return AggExprFail(p->error, 3040501, "$rand not expecting any arguments");
	e->nargs = 0;
	return true;
}

static bool
AggRand(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	AggSetDouble(out, pg_prng_double(&pg_global_prng_state));
	return true;
}

const AggExprOp AggExprOpsArith[] = {
	{"$rand", AggRand, AggRandParse, 0, 0},
	{"$sigmoid", AggSigmoid, NULL, 1, 1},
	{"$add", AggAdd, NULL, 0, -1},
	{"$subtract", AggSubtract, NULL, 2, 2},
	{"$multiply", AggMultiply, NULL, 0, -1},
	{"$divide", AggDivide, NULL, 2, 2},
	{"$mod", AggMod, NULL, 2, 2},
	{"$abs", AggAbs, NULL, 1, 1},
	{"$ceil", AggUnaryMath, NULL, 1, 1},
	{"$floor", AggUnaryMath, NULL, 1, 1},
	{"$sqrt", AggUnaryMath, NULL, 1, 1},
	{"$exp", AggUnaryMath, NULL, 1, 1},
	{"$ln", AggUnaryMath, NULL, 1, 1},
	{"$log10", AggUnaryMath, NULL, 1, 1},
	{"$log", AggLog, NULL, 2, 2},
	{"$pow", AggPow, NULL, 2, 2},
	{"$round", AggRoundTrunc, NULL, 1, 2},
	{"$trunc", AggRoundTrunc, NULL, 1, 2},
	{"$cmp", AggCompareOp, NULL, 2, 2},
	{"$eq", AggCompareOp, NULL, 2, 2},
	{"$ne", AggCompareOp, NULL, 2, 2},
	{"$gt", AggCompareOp, NULL, 2, 2},
	{"$gte", AggCompareOp, NULL, 2, 2},
	{"$lt", AggCompareOp, NULL, 2, 2},
	{"$lte", AggCompareOp, NULL, 2, 2},
	{NULL}
};
