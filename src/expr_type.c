/*-------------------------------------------------------------------------
 *
 * expr_type.c
 *	  Type expression operators: $type, $isNumber, $convert and its
 *	  shortcuts ($toBool, $toInt, $toLong, $toDouble, $toDecimal,
 *	  $toString, $toDate, $toObjectId), and the accumulator-style
 *	  expressions $sum, $avg, $min, $max, $stdDevPop and $stdDevSamp.
 *
 * Design note
 * -----------
 * $convert evaluates all of its arguments first (an error in onError or
 * onNull is raised even when it is not used, as in MongoDB), then
 * converts.  A null or missing input gives onNull (null by default); a
 * conversion that cannot be made fails with ConversionFailure (241), or
 * gives onError when there is one.  The conversions follow MongoDB's
 * table: numbers convert to each other with truncation toward zero and
 * overflow checks, strings parse as base-10 numbers (no whitespace, no
 * hexadecimal), as ISO-8601 dates or as 24-digit ObjectIds; binData
 * converts to and from strings in a named format and to and from numbers
 * by their little- or big-endian bytes.
 *
 * The accumulators take either one argument, whose array elements they
 * accumulate (a non-array is one value), or several arguments, which
 * they accumulate as they are.  $sum keeps the narrowest exact type
 * (int32, widening to int64 then double on overflow), a double makes a
 * double and a decimal a decimal; non-numbers are ignored.
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include <math.h>

#include "lib/stringinfo.h"

#include "bson_compare.h"
#include "bson_decimal.h"
#include "expr_internal.h"

/* MongoDB's ConversionFailure */
#define AGG_ERR_CONVERSION		241
#define AGG_ERR_FAILED_TO_PARSE	9

/* ---- shared numeric helpers ---- */

/* A decimal as the nearest double (through its exact string) */
double
AggDecimalToDouble(const bson_decimal128_t *dec)
{
	char		buf[BSON_DECIMAL128_STRING];

	bson_decimal128_to_string(dec, buf);
	return strtod(buf, NULL);
}

/* A number as an exact decimal (doubles rounded to 15 digits, as MongoDB) */
void
AggNumberAsDecimal(const bson_value_t *v, BsonDecimal *out)
{
	switch (v->value_type)
	{
		case BSON_TYPE_INT32:
			BsonDecimalFromInt64(v->value.v_int32, out);
			break;
		case BSON_TYPE_INT64:
			BsonDecimalFromInt64(v->value.v_int64, out);
			break;
		case BSON_TYPE_DOUBLE:
			BsonDecimalFromDouble(v->value.v_double, out);
			break;
		default:
			BsonDecodeDecimal128(&v->value.v_decimal128, out);
			break;
	}
}

/*
 * A double as the decimal of its 34 leading digits, without trailing
 * zeros (MongoDB's conversion in $sum and $avg: 3.14 becomes
 * 3.140000000000000124344978758017533, 6.0 becomes 6).
 */
void
AggDoubleToDecimalExact(double x, BsonDecimal *out)
{
	char		buf[64];
	char		digits[40];
	int			n = 0;
	int			exp10;
	char	   *e;
	bson_decimal128_t d128;

	if (!isfinite(x) || x == 0)
	{
		bson_value_t v;

		AggSetDouble(&v, x);
		AggNumberAsDecimal(&v, out);
		return;
	}
	snprintf(buf, sizeof(buf), "%.33e", fabs(x));
	e = strchr(buf, 'e');
	exp10 = atoi(e + 1);
	for (char *p = buf; p < e; p++)
		if (*p >= '0' && *p <= '9')
			digits[n++] = *p;
	while (n > 1 && digits[n - 1] == '0')
		n--;
	digits[n] = '\0';
	snprintf(buf, sizeof(buf), "%s%sE%d", x < 0 ? "-" : "", digits, exp10 - (n - 1));
	bson_decimal128_from_string(buf, &d128);
	BsonDecodeDecimal128(&d128, out);
}

void
AggSetDecimal(bson_value_t *out, const BsonDecimal *d)
{
	out->value_type = BSON_TYPE_DECIMAL128;
	BsonEncodeDecimal128(d, &out->value.v_decimal128);
}

/*
 * A finite decimal truncated toward zero to an int64; false when it is
 * not finite or out of range.
 */
bool
AggDecimalToInt64(const BsonDecimal *d, int64_t *out)
{
	uint128		c = d->coefficient;
	uint128		limit = d->negative ? (uint128) INT64_MAX + 1 : (uint128) INT64_MAX;

	if (d->kind != BSON_NUMBER_FINITE)
		return false;
	if (d->exponent < 0)
	{
		for (int i = 0; i < -d->exponent && c != 0; i++)
			c /= 10;
	}
	else
	{
		for (int i = 0; i < d->exponent && c != 0; i++)
		{
			if (c > limit)
				return false;
			c *= 10;
		}
	}
	if (c > limit)
		return false;
	if (d->negative)
		*out = c == (uint128) INT64_MAX + 1 ? INT64_MIN : -(int64_t) c;
	else
		*out = (int64_t) c;
	return true;
}

/*
 * x / n for a positive integer n, rounded half to even to 34 digits; an
 * exact quotient keeps the smallest exponent at or above x's (as IEEE
 * 754's preferred exponent asks).
 */
void
AggDecimalDivideInt(const BsonDecimal *x, int64_t n, BsonDecimal *out)
{
	uint128		q;
	uint128		r;
	uint128		big = 1;
	int			exponent = x->exponent;

	Assert(n > 0);
	*out = *x;
	if (x->kind != BSON_NUMBER_FINITE)
		return;
	for (int i = 0; i < 33; i++)
		big *= 10;
	q = x->coefficient / (uint128) n;
	r = x->coefficient % (uint128) n;
	while (r != 0 && q < big && exponent > BSON_DECIMAL_MIN_EXPONENT)
	{
		q = q * 10 + (r * 10) / (uint128) n;
		r = (r * 10) % (uint128) n;
		exponent--;
	}
	if (r != 0 && (r * 2 > (uint128) n || (r * 2 == (uint128) n && (q & 1))))
	{
		q++;
		if (q == big * 10)
		{
			q /= 10;
			exponent++;
		}
	}
	out->coefficient = q;
	out->exponent = exponent;
}

/* ---- $type, $isNumber ---- */

static bool
AggType(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t v;
	const char *name;

	if (!AggEvalArg(e, 0, cx, &v, error))
		return false;
	name = AggTypeName(&v);
	AggSetString(cx, out, name, (uint32_t) strlen(name));
	return true;
}

static bool
AggIsNumber(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t v;

	if (!AggEvalArg(e, 0, cx, &v, error))
		return false;
	AggSetBool(out, AggValueIsNumber(&v));
	return true;
}

/* ---- $convert ---- */

/* The arguments of $convert, in e->args */
enum
{
	CONV_INPUT,
	CONV_TO,
	CONV_ON_ERROR,
	CONV_ON_NULL,
	CONV_FORMAT,
	CONV_BYTE_ORDER,
	CONV_NARGS
};

static const char *const conv_arg_names[CONV_NARGS] = {
	"input", "to", "onError", "onNull", "format", "byteOrder"
};

/* binData string formats */
typedef enum AggBinFormat
{
	AGG_FMT_NONE,
	AGG_FMT_AUTO,
	AGG_FMT_BASE64,
	AGG_FMT_BASE64URL,
	AGG_FMT_HEX,
	AGG_FMT_UTF8,
	AGG_FMT_UUID
} AggBinFormat;

/* What a conversion targets */
typedef struct AggConvTarget
{
	bson_type_t type;
	int			subtype;		/* binData */
	AggBinFormat format;
	bool		big_endian;
} AggConvTarget;

static const struct
{
	const char *name;
	bson_type_t type;
}			agg_type_names[] = {
	{"double", BSON_TYPE_DOUBLE},
	{"string", BSON_TYPE_UTF8},
	{"object", BSON_TYPE_DOCUMENT},
	{"array", BSON_TYPE_ARRAY},
	{"binData", BSON_TYPE_BINARY},
	{"undefined", BSON_TYPE_UNDEFINED},
	{"objectId", BSON_TYPE_OID},
	{"bool", BSON_TYPE_BOOL},
	{"date", BSON_TYPE_DATE_TIME},
	{"null", BSON_TYPE_NULL},
	{"regex", BSON_TYPE_REGEX},
	{"dbPointer", BSON_TYPE_DBPOINTER},
	{"javascript", BSON_TYPE_CODE},
	{"symbol", BSON_TYPE_SYMBOL},
	{"javascriptWithScope", BSON_TYPE_CODEWSCOPE},
	{"int", BSON_TYPE_INT32},
	{"timestamp", BSON_TYPE_TIMESTAMP},
	{"long", BSON_TYPE_INT64},
	{"decimal", BSON_TYPE_DECIMAL128},
	{"minKey", BSON_TYPE_MINKEY},
	{"maxKey", BSON_TYPE_MAXKEY},
};

/* Whether a BSON type number is a real type */
static bool
AggTypeNumberValid(int64_t n)
{
	return (n >= 1 && n <= 19) || n == -1 || n == 127;
}

static bson_type_t
AggTypeFromNumber(int64_t n)
{
	if (n == -1)
		return BSON_TYPE_MINKEY;
	if (n == 127)
		return BSON_TYPE_MAXKEY;
	return (bson_type_t) n;
}

static bool
AggConvertParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	const char *key;

	if (!BSON_ITER_HOLDS_DOCUMENT(arg))
	{
		bson_value_t v = *bson_iter_value((bson_iter_t *) arg);

		return AggExprFail(p->error, AGG_ERR_FAILED_TO_PARSE,
						   "$convert expects an object of named arguments but found: %s",
						   AggTypeName(&v));
	}
	if (!AggParseArgsByName(p, e, arg, conv_arg_names, CONV_NARGS, &key))
		return key ? AggExprFail(p->error, AGG_ERR_FAILED_TO_PARSE,
								 "$convert found an unknown argument: %s", key) : false;
	if (e->args[CONV_INPUT] == NULL)
		return AggExprFail(p->error, AGG_ERR_FAILED_TO_PARSE,
						   "Missing 'input' parameter to $convert");
	if (e->args[CONV_TO] == NULL)
		return AggExprFail(p->error, AGG_ERR_FAILED_TO_PARSE,
						   "Missing 'to' parameter to $convert");
	return true;
}

/* The shortcuts: one argument, bare or in a one-element array */
static bool
AggToParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	e->nargs = 1;
	e->args = AggParseAlloc(p, sizeof(AggExpr *));
	if (BSON_ITER_HOLDS_ARRAY(arg))
	{
		bson_iter_t it;
		int			n = 0;

		bson_iter_recurse(arg, &it);
		while (bson_iter_next(&it))
			n++;
		if (n != 1)
			return AggExprFail(p->error, 50723, "%s requires a single argument, got %d",
							   e->op->name, n);
		bson_iter_recurse(arg, &it);
		bson_iter_next(&it);
		return (e->args[0] = AggExprParseSub(p, &it)) != NULL;
	}
	return (e->args[0] = AggExprParseSub(p, arg)) != NULL;
}

/* The 'to' of $convert: a type name or number, or {type, subtype} */
static bool
AggConvertTarget(const bson_value_t *to, AggConvTarget *target, bool *is_null,
				 BsonQueryError *error)
{
	bson_value_t type = *to;
	bool		have_subtype = false;
	bson_value_t subtype;

	*is_null = false;
	target->subtype = 0;
	if (to->value_type == BSON_TYPE_DOCUMENT)
	{
		bson_iter_t it;

		type.value_type = BSON_TYPE_EOD;
		bson_iter_init_from_data(&it, to->value.v_doc.data, to->value.v_doc.data_len);
		while (bson_iter_next(&it))
		{
			if (strcmp(bson_iter_key(&it), "type") == 0)
				type = *bson_iter_value(&it);
			else if (strcmp(bson_iter_key(&it), "subtype") == 0)
			{
				subtype = *bson_iter_value(&it);
				have_subtype = true;
			}
			/* other fields are ignored, as in MongoDB */
		}
		if (AggValueNullish(&type))
			return AggExprFail(error, AGG_ERR_FAILED_TO_PARSE,
							   "$convert's 'to.type' must be a string or a number");
	}
	if (AggValueNullish(&type))
	{
		*is_null = true;
		return true;
	}
	if (type.value_type == BSON_TYPE_UTF8)
	{
		for (size_t i = 0; i < lengthof(agg_type_names); i++)
			if (strcmp(type.value.v_utf8.str, agg_type_names[i].name) == 0)
			{
				target->type = agg_type_names[i].type;
				goto subtype;
			}
		return AggExprFail(error, AGG_ERR_BAD_VALUE, "Unknown type name: %s",
						   type.value.v_utf8.str);
	}
	if (AggValueIsNumber(&type))
	{
		double		d = AggNumberAsDouble(&type);

		if (!isfinite(d) || d != trunc(d))
			return AggExprFail(error, AGG_ERR_FAILED_TO_PARSE,
							   "In $convert, numeric 'to' argument is not an integer");
		if (!AggTypeNumberValid((int64_t) d) || d < -1 || d > 127)
		{
			if (to->value_type == BSON_TYPE_DOCUMENT)
				return AggExprFail(error, AGG_ERR_FAILED_TO_PARSE,
								   "In $convert, numeric value for 'to.type' does not correspond to a BSON type: %g", d);
			return AggExprFail(error, AGG_ERR_CONVERSION,
							   "In $convert, numeric value for 'to' does not correspond to a BSON type: %g", d);
		}
		target->type = AggTypeFromNumber((int64_t) d);
		goto subtype;
	}
	return AggExprFail(error, AGG_ERR_FAILED_TO_PARSE,
					   "$convert's 'to' argument must be a string or number, but is %s",
					   AggTypeName(&type));

subtype:
	if (have_subtype && !AggValueNullish(&subtype))
	{
		double		d;

		if (!AggValueIsNumber(&subtype))
			return AggExprFail(error, 4341108,
							   "In $convert, 'to.subtype' must be a number, but is %s",
							   AggTypeName(&subtype));
		d = AggNumberAsDouble(&subtype);
		if (!isfinite(d) || d != trunc(d))
			return AggExprFail(error, 4341106,
							   "In $convert, 'to.subtype' must be an integer, but is %g", d);
		if (!((d >= 0 && d <= 9) || (d >= 128 && d <= 255)))
			return AggExprFail(error, 4341107, "In $convert, invalid numeric subtype: %g", d);
		target->subtype = (int) d;
	}
	else if (have_subtype)
		return AggExprFail(error, 4341108,
						   "In $convert, 'to.subtype' must be a number, but is %s",
						   AggTypeName(&subtype));
	return true;
}

static bool
AggConvFail(BsonQueryError *error, const bson_value_t *in, bson_type_t to)
{
	bson_value_t t;

	t.value_type = to;
	return AggExprFail(error, AGG_ERR_CONVERSION,
					   "Unsupported conversion from %s to %s in $convert with no onError value",
					   AggTypeName(in), AggTypeName(&t));
}

static bool
AggConvOverflow(BsonQueryError *error)
{
	return AggExprFail(error, AGG_ERR_CONVERSION,
					   "Conversion would overflow target type in $convert with no onError value");
}

static bool
AggConvParseFail(BsonQueryError *error, const char *what, const char *s)
{
	return AggExprFail(error, AGG_ERR_CONVERSION,
					   "Failed to parse %s '%s' in $convert with no onError value", what, s);
}

/* A base-10 integer string: optional sign, digits only */
static bool
AggParseInt64(const char *s, uint32_t len, int64_t *out)
{
	uint32_t	i = 0;
	bool		neg = false;
	uint64_t	acc = 0;

	if (len > 0 && (s[0] == '-' || s[0] == '+'))
	{
		neg = s[0] == '-';
		i++;
	}
	if (i == len)
		return false;
	for (; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (acc > (UINT64_C(1) << 63) / 10)
			return false;
		acc = acc * 10 + (uint64_t) (s[i] - '0');
		if (acc > (UINT64_C(1) << 63))
			return false;
	}
	if (!neg && acc > (uint64_t) INT64_MAX)
		return false;
	*out = neg ? (int64_t) (0 - acc) : (int64_t) acc;
	return true;
}

/* A decimal floating-point string as strtod reads it, minus its extensions */
static bool
AggParseDouble(const char *s, uint32_t len, double *out)
{
	char	   *end;

	if (len == 0 || strlen(s) != len)
		return false;
	/* no whitespace, no "nan(...)" */
	for (uint32_t i = 0; i < len; i++)
		if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' ||
			s[i] == '\v' || s[i] == '\f' || s[i] == '(')
			return false;
	errno = 0;
	*out = strtod(s, &end);
	if (end != s + len)
		return false;
	/* out of range, either way, is a failure */
	if (errno == ERANGE)
		return false;
	return true;
}

/*
 * A decimal string as MongoDB's $convert reads it: libbson's syntax, but
 * digits past the 34th are dropped (MongoDB truncates them) instead of
 * failing.
 */
static bool
AggParseDecimal(const char *s, uint32_t len, bson_decimal128_t *out)
{
	char		digits[40];
	int			ndigits = 0;
	int			dropped = 0;	/* integer digits past the 34th */
	int			frac = 0;		/* digits kept after the point */
	bool		seen_point = false;
	const char *p = s;
	const char *end = s + len;
	bool		neg = false;
	long		exponent = 0;
	char		buf[128];

	if (len == 0 || strlen(s) != len)
		return false;
	if (bson_decimal128_from_string(s, out))
		return true;
	/* libbson refuses inexact strings: cut them ourselves */
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	for (; p < end && ((*p >= '0' && *p <= '9') || (*p == '.' && !seen_point)); p++)
	{
		if (*p == '.')
			seen_point = true;
		else if (ndigits == 0 && *p == '0')
			frac += seen_point;
		else if (ndigits < 34)
		{
			digits[ndigits++] = *p;
			frac += seen_point;
		}
		else
			dropped += !seen_point;
	}
	if (ndigits < 34)
		return false;
	if (p < end)
	{
		char	   *eend;

		if (*p != 'e' && *p != 'E')
			return false;
		p++;
		if (p >= end || !((*p >= '0' && *p <= '9') || *p == '+' || *p == '-'))
			return false;
		errno = 0;
		exponent = strtol(p, &eend, 10);
		if (eend != end || errno != 0 || exponent > 100000 || exponent < -100000)
			return false;
	}
	exponent += dropped - frac;
	snprintf(buf, sizeof(buf), "%s%.34sE%ld", neg ? "-" : "", digits, exponent);
	return bson_decimal128_from_string(buf, out);
}

/* ---- dates ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date */
int64_t
AggDaysFromCivil(int64_t y, int m, int d)
{
	int64_t		era;
	int64_t		yoe;
	int64_t		doy;
	int64_t		doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The date of a day number (the inverse of AggDaysFromCivil) */
void
AggCivilFromDays(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t		era;
	int64_t		doe;
	int64_t		yoe;
	int64_t		doy;
	int64_t		mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/*
 * A date as MongoDB prints it: "%Y-%m-%dT%H:%M:%S.%LZ"; false outside
 * years 0 to 9999 (18537).
 */
bool
AggFormatDate(int64_t ms, char *buf, size_t size, BsonQueryError *error)
{
	int64_t		days = ms / 86400000;
	int64_t		rem = ms % 86400000;
	int64_t		y;
	int			m;
	int			d;

	if (rem < 0)
	{
		rem += 86400000;
		days--;
	}
	AggCivilFromDays(days, &y, &m, &d);
	if (y < 0 || y > 9999)
		return AggExprFail(error, 18537,
						   "Could not convert date to string: date component was outside the supported range of 0-9999: %lld",
						   (long long) y);
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (int) y, m, d,
			 (int) (rem / 3600000), (int) (rem / 60000 % 60), (int) (rem / 1000 % 60),
			 (int) (rem % 1000));
	return true;
}

static bool
AggIsSpace(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
		c == '\0';
}

/* Read exactly n digits */
static bool
AggDigits(const char **s, const char *end, int n, int *out)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (*s >= end || **s < '0' || **s > '9')
			return false;
		v = v * 10 + (**s - '0');
		(*s)++;
	}
	*out = v;
	return true;
}

/* Skip whitespace, NUL bytes and no-break spaces (U+00A0) */
static const char *
AggSkipSpace(const char *s, const char *end)
{
	while (s < end)
	{
		if (AggIsSpace((unsigned char) *s))
			s++;
		else if (end - s >= 2 && (unsigned char) s[0] == 0xC2 && (unsigned char) s[1] == 0xA0)
			s += 2;
		else
			break;
	}
	return s;
}

/*
 * An ISO-8601-style date string: YYYY-MM-DD, then optionally a time
 * (after 'T' or spaces) HH:MM[:SS[.fraction]] and a zone ('Z', "UTC",
 * "GMT" or +HH[[:]MM]).  Without a zone the time is UTC.
 */
bool
AggParseDate(const char *str, uint32_t len, int64_t *out)
{
	const char *s = str;
	const char *end = str + len;
	int			y;
	int			mo;
	int			d;
	int			h = 0;
	int			mi = 0;
	int			sec = 0;
	int64_t		ms = 0;
	int64_t		offset_min = 0;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	s = AggSkipSpace(s, end);
	while (end > s && (AggIsSpace((unsigned char) end[-1]) ||
					   (end - s >= 2 && (unsigned char) end[-2] == 0xC2 &&
						(unsigned char) end[-1] == 0xA0)))
		end -= AggIsSpace((unsigned char) end[-1]) ? 1 : 2;
	if (!AggDigits(&s, end, 4, &y) || s >= end || *s++ != '-' ||
		!AggDigits(&s, end, 2, &mo) || s >= end || *s++ != '-' ||
		!AggDigits(&s, end, 2, &d))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return false;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return false;
	if (s < end)
	{
		if (*s == 'T' || *s == 't')
			s++;
		else if (AggSkipSpace(s, end) == s)
			return false;
		s = AggSkipSpace(s, end);
		if (!AggDigits(&s, end, 2, &h) || s >= end || *s++ != ':' ||
			!AggDigits(&s, end, 2, &mi))
			return false;
		if (s < end && *s == ':')
		{
			s++;
			if (!AggDigits(&s, end, 2, &sec))
				return false;
			if (s < end && (*s == '.' || *s == ','))
			{
				int64_t		scale = 100;

				s++;
				if (s >= end || *s < '0' || *s > '9')
					return false;
				while (s < end && *s >= '0' && *s <= '9')
				{
					ms += (*s - '0') * scale;
					scale /= 10;
					s++;
				}
			}
		}
		if (h > 24 || mi > 59 || sec > 60)
			return false;
		s = AggSkipSpace(s, end);
		if (s < end)
		{
			if (*s == 'Z' || *s == 'z')
				s++;
			else if (end - s >= 3 && (strncmp(s, "UTC", 3) == 0 || strncmp(s, "GMT", 3) == 0))
				s += 3;
			else if (*s == '+' || *s == '-')
			{
				int			sign = *s == '-' ? -1 : 1;
				int			oh;
				int			om = 0;

				s++;
				if (!AggDigits(&s, end, 2, &oh))
					return false;
				if (s < end && *s == ':')
					s++;
				if (s < end && !AggDigits(&s, end, 2, &om))
					return false;
				if (oh > 23 || om > 59)
					return false;
				offset_min = sign * (oh * 60 + om);
			}
			else
				return false;
		}
		if (s != end)
			return false;
	}
	*out = (AggDaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
			offset_min * 60) * 1000 + ms;
	return true;
}

/* ---- binData ---- */

static const char agg_b64[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char agg_b64url[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Bytes to base64 (padded) or base64url (unpadded) */
static void
AggBase64Encode(const uint8_t *data, uint32_t len, bool url, StringInfo out)
{
	const char *tab = url ? agg_b64url : agg_b64;

	for (uint32_t i = 0; i < len; i += 3)
	{
		uint32_t	n = (uint32_t) data[i] << 16;
		int			k = Min(3, (int) (len - i));

		if (k > 1)
			n |= (uint32_t) data[i + 1] << 8;
		if (k > 2)
			n |= data[i + 2];
		appendStringInfoChar(out, tab[(n >> 18) & 63]);
		appendStringInfoChar(out, tab[(n >> 12) & 63]);
		if (k > 1)
			appendStringInfoChar(out, tab[(n >> 6) & 63]);
		else if (!url)
			appendStringInfoChar(out, '=');
		if (k > 2)
			appendStringInfoChar(out, tab[n & 63]);
		else if (!url)
			appendStringInfoChar(out, '=');
	}
}

/* base64 (padding required) or base64url (padding optional) to bytes */
static bool
AggBase64Decode(const char *s, uint32_t len, bool url, StringInfo out)
{
	const char *tab = url ? agg_b64url : agg_b64;
	uint32_t	acc = 0;
	int			bits = 0;
	uint32_t	data_len = len;

	while (data_len > 0 && s[data_len - 1] == '=')
		data_len--;
	if (len - data_len > 2)
		return false;
	if (!url && len % 4 != 0)
		return false;
	if (url && data_len % 4 == 1)
		return false;
	for (uint32_t i = 0; i < data_len; i++)
	{
		const char *p = s[i] != '\0' ? strchr(tab, s[i]) : NULL;

		if (p == NULL)
			return false;
		acc = (acc << 6) | (uint32_t) (p - tab);
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			appendStringInfoChar(out, (char) ((acc >> bits) & 0xFF));
		}
	}
	return true;
}

static int
AggHexValue(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
AggHexDecode(const char *s, uint32_t len, StringInfo out)
{
	if (len % 2 != 0)
		return false;
	for (uint32_t i = 0; i < len; i += 2)
	{
		int			a = AggHexValue(s[i]);
		int			b = AggHexValue(s[i + 1]);

		if (a < 0 || b < 0)
			return false;
		appendStringInfoChar(out, (char) (a * 16 + b));
	}
	return true;
}

/* "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" to 16 bytes */
static bool
AggUuidDecode(const char *s, uint32_t len, StringInfo out)
{
	if (len != 36)
		return false;
	for (uint32_t i = 0; i < len;)
	{
		int			a;
		int			b;

		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (s[i] != '-')
				return false;
			i++;
			continue;
		}
		a = AggHexValue(s[i]);
		b = AggHexValue(s[i + 1]);
		if (a < 0 || b < 0)
			return false;
		appendStringInfoChar(out, (char) (a * 16 + b));
		i += 2;
	}
	return true;
}

static void
AggUuidEncode(const uint8_t *d, StringInfo out)
{
	for (int i = 0; i < 16; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			appendStringInfoChar(out, '-');
		appendStringInfo(out, "%02x", d[i]);
	}
}

/* Whether bytes are valid UTF-8 */
static bool
AggValidUtf8(const uint8_t *s, uint32_t len)
{
	return bson_utf8_validate((const char *) s, len, false);
}

/* binData to a string in a format */
static bool
AggBinToString(AggExprContext *cx, const bson_value_t *in, AggBinFormat fmt, bson_value_t *out,
			   BsonQueryError *error)
{
	const uint8_t *data = in->value.v_binary.data;
	uint32_t	len = in->value.v_binary.data_len;
	StringInfoData buf;

	if (fmt == AGG_FMT_NONE)
		return AggExprFail(error, 4341115,
						   "Format must be specified when converting from 'binData' to 'string'");
	initStringInfo(&buf);
	if (fmt == AGG_FMT_AUTO)
		fmt = in->value.v_binary.subtype == BSON_SUBTYPE_UUID && len == 16 ?
			AGG_FMT_UUID : AGG_FMT_BASE64;
	switch (fmt)
	{
		case AGG_FMT_BASE64:
		case AGG_FMT_BASE64URL:
			AggBase64Encode(data, len, fmt == AGG_FMT_BASE64URL, &buf);
			break;
		case AGG_FMT_HEX:
			for (uint32_t i = 0; i < len; i++)
				appendStringInfo(&buf, "%02X", data[i]);
			break;
		case AGG_FMT_UTF8:
			if (!AggValidUtf8(data, len) || memchr(data, 0, len) != NULL)
			{
				pfree(buf.data);
				return AggExprFail(error, AGG_ERR_CONVERSION,
								   "Failed to convert binData to a UTF-8 string in $convert with no onError value");
			}
			appendBinaryStringInfo(&buf, (const char *) data, (int) len);
			break;
		default:
			if (in->value.v_binary.subtype != BSON_SUBTYPE_UUID || len != 16)
			{
				pfree(buf.data);
				return AggExprFail(error, AGG_ERR_CONVERSION,
								   "Failed to convert binData to a UUID string in $convert with no onError value");
			}
			AggUuidEncode(data, &buf);
			break;
	}
	AggSetString(cx, out, buf.data, (uint32_t) buf.len);
	pfree(buf.data);
	return true;
}

static void
AggSetBinary(AggExprContext *cx, bson_value_t *out, const uint8_t *data, uint32_t len,
			 int subtype)
{
	uint8_t    *copy = AggEvalAlloc(cx, Max(len, 1));

	memcpy(copy, data, len);
	out->value_type = BSON_TYPE_BINARY;
	out->value.v_binary.data = copy;
	out->value.v_binary.data_len = len;
	out->value.v_binary.subtype = (bson_subtype_t) subtype;
}

/* A string to binData in a format */
static bool
AggStringToBin(AggExprContext *cx, const bson_value_t *in, const AggConvTarget *t,
			   bson_value_t *out, BsonQueryError *error)
{
	const char *s = in->value.v_utf8.str;
	uint32_t	len = in->value.v_utf8.len;
	StringInfoData buf;
	bool		ok;

	if (t->format == AGG_FMT_NONE)
		return AggExprFail(error, 4341115,
						   "Format must be specified when converting from 'string' to 'binData'");
	if (t->format == AGG_FMT_AUTO)
		return AggExprFail(error, AGG_ERR_CONVERSION,
						   "Format 'auto' is not supported when converting from 'string' to 'binData' in $convert with no onError value");
	if ((t->format == AGG_FMT_UUID) != (t->subtype == BSON_SUBTYPE_UUID))
		return AggExprFail(error, AGG_ERR_CONVERSION,
						   "Only the UUID format can produce UUID subtype binData in $convert with no onError value");
	initStringInfo(&buf);
	switch (t->format)
	{
		case AGG_FMT_BASE64:
		case AGG_FMT_BASE64URL:
			ok = AggBase64Decode(s, len, t->format == AGG_FMT_BASE64URL, &buf);
			break;
		case AGG_FMT_HEX:
			ok = AggHexDecode(s, len, &buf);
			break;
		case AGG_FMT_UTF8:
			appendBinaryStringInfo(&buf, s, (int) len);
			ok = true;
			break;
		default:
			ok = AggUuidDecode(s, len, &buf);
			break;
	}
	if (ok)
		AggSetBinary(cx, out, (const uint8_t *) buf.data, (uint32_t) buf.len, t->subtype);
	pfree(buf.data);
	if (!ok)
		return AggExprFail(error, AGG_ERR_CONVERSION,
						   "Failed to parse BinData '%.*s' in $convert with no onError value",
						   (int) Min(len, 100), s);
	return true;
}

/* The bytes of a number, little-endian unless asked */
static void
AggNumberToBin(AggExprContext *cx, const uint8_t *le, uint32_t n, const AggConvTarget *t,
			   bson_value_t *out)
{
	uint8_t		bytes[8];

	for (uint32_t i = 0; i < n; i++)
		bytes[i] = t->big_endian ? le[n - 1 - i] : le[i];
	AggSetBinary(cx, out, bytes, n, t->subtype);
}

/* Little-endian bytes of binData in the byte order asked */
static void
AggBinBytes(const bson_value_t *in, const AggConvTarget *t, uint8_t *le)
{
	uint32_t	n = in->value.v_binary.data_len;

	for (uint32_t i = 0; i < n; i++)
		le[i] = t->big_endian ? in->value.v_binary.data[n - 1 - i] : in->value.v_binary.data[i];
}

/* ---- conversions ---- */

/* A double as MongoDB prints it: the shortest form that reads back */
static void
AggFormatDouble(double d, char *buf, size_t size)
{
	if (isnan(d))
		snprintf(buf, size, "NaN");
	else if (isinf(d))
		snprintf(buf, size, d > 0 ? "Infinity" : "-Infinity");
	else
	{
		for (int prec = 1; prec <= 17; prec++)
		{
			snprintf(buf, size, "%.*g", prec, d);
			if (strtod(buf, NULL) == d)
				break;
		}
	}
}

/* Convert in (not null) to the target; false and *error on failure */
static bool
AggConvertValue(AggExprContext *cx, const bson_value_t *in, const AggConvTarget *t,
				bson_value_t *out, BsonQueryError *error)
{
	bson_type_t from = in->value_type;

	/* to the same type: the value itself (binData: unless the subtype differs) */
	if (from == t->type && from != BSON_TYPE_BINARY)
	{
		*out = *in;
		return true;
	}
	switch (t->type)
	{
		case BSON_TYPE_DOUBLE:
			switch (from)
			{
				case BSON_TYPE_INT32:
				case BSON_TYPE_INT64:
					AggSetDouble(out, AggNumberAsDouble(in));
					return true;
				case BSON_TYPE_DECIMAL128:
					{
						double		d = AggDecimalToDouble(&in->value.v_decimal128);
						BsonDecimal dec;

						BsonDecodeDecimal128(&in->value.v_decimal128, &dec);
						if (dec.kind == BSON_NUMBER_FINITE &&
							(isinf(d) || (d == 0 && dec.coefficient != 0)))
							return AggConvOverflow(error);
						AggSetDouble(out, d);
						return true;
					}
				case BSON_TYPE_BOOL:
					AggSetDouble(out, in->value.v_bool ? 1 : 0);
					return true;
				case BSON_TYPE_DATE_TIME:
					AggSetDouble(out, (double) in->value.v_datetime);
					return true;
				case BSON_TYPE_UTF8:
					{
						double		d;

						if (!AggParseDouble(in->value.v_utf8.str, in->value.v_utf8.len, &d))
							return AggConvParseFail(error, "number", in->value.v_utf8.str);
						AggSetDouble(out, d);
						return true;
					}
				case BSON_TYPE_BINARY:
					{
						uint32_t	n = in->value.v_binary.data_len;
						uint8_t		le[8];

						if (n != 4 && n != 8)
							return AggExprFail(error, AGG_ERR_CONVERSION,
											   "Failed to convert binData to double in $convert with no onError value: binData length must be 4 or 8, but is %u", n);
						AggBinBytes(in, t, le);
						if (n == 4)
						{
							float		f;

							memcpy(&f, le, 4);
							AggSetDouble(out, f);
						}
						else
						{
							double		d;

							memcpy(&d, le, 8);
							AggSetDouble(out, d);
						}
						return true;
					}
				default:
					return AggConvFail(error, in, t->type);
			}
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
			{
				int64_t		r;
				bool		is_int = t->type == BSON_TYPE_INT32;

				switch (from)
				{
					case BSON_TYPE_INT32:
						r = in->value.v_int32;
						break;
					case BSON_TYPE_INT64:
						r = in->value.v_int64;
						break;
					case BSON_TYPE_DOUBLE:
						{
							double		d = in->value.v_double;

							if (isnan(d) || isinf(d))
								return AggExprFail(error, AGG_ERR_CONVERSION,
												   "Attempt to convert %s value to integer type in $convert with no onError value",
												   isnan(d) ? "NaN" : "infinity");
							d = trunc(d);
							if (!(d >= -9.2233720368547758e18 && d < 9.2233720368547758e18))
								return AggConvOverflow(error);
							r = (int64_t) d;
							break;
						}
					case BSON_TYPE_DECIMAL128:
						{
							BsonDecimal dec;

							BsonDecodeDecimal128(&in->value.v_decimal128, &dec);
							if (dec.kind != BSON_NUMBER_FINITE)
								return AggExprFail(error, AGG_ERR_CONVERSION,
												   "Attempt to convert %s value to integer type in $convert with no onError value",
												   dec.kind == BSON_NUMBER_NAN ? "NaN" : "infinity");
							if (!AggDecimalToInt64(&dec, &r))
								return AggConvOverflow(error);
							break;
						}
					case BSON_TYPE_BOOL:
						r = in->value.v_bool ? 1 : 0;
						break;
					case BSON_TYPE_DATE_TIME:
						if (is_int)
							return AggConvFail(error, in, t->type);
						r = in->value.v_datetime;
						break;
					case BSON_TYPE_UTF8:
						if (!AggParseInt64(in->value.v_utf8.str, in->value.v_utf8.len, &r) ||
							strlen(in->value.v_utf8.str) != in->value.v_utf8.len ||
							(is_int && (r < INT32_MIN || r > INT32_MAX)))
							return AggConvParseFail(error, "number", in->value.v_utf8.str);
						break;
					case BSON_TYPE_BINARY:
						{
							uint32_t	n = in->value.v_binary.data_len;
							uint8_t		le[8];

							if (!(n == 1 || n == 2 || n == 4 || (!is_int && n == 8)))
								return AggExprFail(error, AGG_ERR_CONVERSION,
												   "Failed to convert binData to %s in $convert with no onError value: unsupported length %u",
												   is_int ? "int" : "long", n);
							AggBinBytes(in, t, le);
							/* sign-extend the little-endian bytes */
							r = (int8_t) le[n - 1];
							for (int i = (int) n - 2; i >= 0; i--)
								r = (int64_t) ((uint64_t) r << 8) | le[i];
							break;
						}
					default:
						return AggConvFail(error, in, t->type);
				}
				if (is_int)
				{
					if (r < INT32_MIN || r > INT32_MAX)
						return AggConvOverflow(error);
					AggSetInt32(out, (int32_t) r);
				}
				else
					AggSetInt64(out, r);
				return true;
			}
		case BSON_TYPE_DECIMAL128:
			{
				BsonDecimal dec;

				switch (from)
				{
					case BSON_TYPE_INT32:
					case BSON_TYPE_INT64:
					case BSON_TYPE_DOUBLE:
						AggNumberAsDecimal(in, &dec);
						break;
					case BSON_TYPE_BOOL:
						BsonDecimalFromInt64(in->value.v_bool ? 1 : 0, &dec);
						break;
					case BSON_TYPE_DATE_TIME:
						BsonDecimalFromInt64(in->value.v_datetime, &dec);
						break;
					case BSON_TYPE_UTF8:
						{
							const char *s = in->value.v_utf8.str;
							bson_decimal128_t d128;

							if (!AggParseDecimal(s, in->value.v_utf8.len, &d128))
								return AggConvParseFail(error, "string to decimal", s);
							out->value_type = BSON_TYPE_DECIMAL128;
							out->value.v_decimal128 = d128;
							return true;
						}
					default:
						return AggConvFail(error, in, t->type);
				}
				AggSetDecimal(out, &dec);
				return true;
			}
		case BSON_TYPE_BOOL:
			AggSetBool(out, AggValueTrue(in));
			return true;
		case BSON_TYPE_DATE_TIME:
			switch (from)
			{
				case BSON_TYPE_INT64:
					out->value_type = BSON_TYPE_DATE_TIME;
					out->value.v_datetime = in->value.v_int64;
					return true;
				case BSON_TYPE_DOUBLE:
				case BSON_TYPE_DECIMAL128:
					{
						bson_value_t ms;
						AggConvTarget lt = *t;

						lt.type = BSON_TYPE_INT64;
						if (!AggConvertValue(cx, in, &lt, &ms, error))
							return false;
						out->value_type = BSON_TYPE_DATE_TIME;
						out->value.v_datetime = ms.value.v_int64;
						return true;
					}
				case BSON_TYPE_OID:
					out->value_type = BSON_TYPE_DATE_TIME;
					out->value.v_datetime = (int64_t) (int32_t) bson_oid_get_time_t(&in->value.v_oid) * 1000;
					return true;
				case BSON_TYPE_TIMESTAMP:
					out->value_type = BSON_TYPE_DATE_TIME;
					out->value.v_datetime = (int64_t) in->value.v_timestamp.timestamp * 1000;
					return true;
				case BSON_TYPE_UTF8:
					{
						int64_t		ms;

						if (!AggParseDate(in->value.v_utf8.str, in->value.v_utf8.len, &ms))
							return AggExprFail(error, AGG_ERR_CONVERSION,
											   "Error parsing date string '%s' in $convert with no onError value",
											   in->value.v_utf8.str);
						out->value_type = BSON_TYPE_DATE_TIME;
						out->value.v_datetime = ms;
						return true;
					}
				default:
					return AggConvFail(error, in, t->type);
			}
		case BSON_TYPE_OID:
			if (from == BSON_TYPE_UTF8)
			{
				if (in->value.v_utf8.len != 24 ||
					!bson_oid_is_valid(in->value.v_utf8.str, 24))
					return AggExprFail(error, AGG_ERR_CONVERSION,
									   "Failed to parse objectId '%s' in $convert with no onError value: Invalid string length for parsing to OID, expected 24 but found %u",
									   in->value.v_utf8.str, in->value.v_utf8.len);
				out->value_type = BSON_TYPE_OID;
				bson_oid_init_from_string(&out->value.v_oid, in->value.v_utf8.str);
				return true;
			}
			return AggConvFail(error, in, t->type);
		case BSON_TYPE_UTF8:
			{
				char		buf[128];

				switch (from)
				{
					case BSON_TYPE_DOUBLE:
						AggFormatDouble(in->value.v_double, buf, sizeof(buf));
						break;
					case BSON_TYPE_INT32:
						snprintf(buf, sizeof(buf), "%d", in->value.v_int32);
						break;
					case BSON_TYPE_INT64:
						snprintf(buf, sizeof(buf), "%lld", (long long) in->value.v_int64);
						break;
					case BSON_TYPE_DECIMAL128:
						bson_decimal128_to_string(&in->value.v_decimal128, buf);
						break;
					case BSON_TYPE_BOOL:
						snprintf(buf, sizeof(buf), "%s", in->value.v_bool ? "true" : "false");
						break;
					case BSON_TYPE_OID:
						bson_oid_to_string(&in->value.v_oid, buf);
						break;
					case BSON_TYPE_DATE_TIME:
						if (!AggFormatDate(in->value.v_datetime, buf, sizeof(buf), error))
							return false;
						break;
					case BSON_TYPE_BINARY:
						return AggBinToString(cx, in, t->format, out, error);
					default:
						return AggConvFail(error, in, t->type);
				}
				AggSetString(cx, out, buf, (uint32_t) strlen(buf));
				return true;
			}
		case BSON_TYPE_BINARY:
			switch (from)
			{
				case BSON_TYPE_BINARY:
					if (in->value.v_binary.subtype != (bson_subtype_t) t->subtype)
						return AggExprFail(error, AGG_ERR_CONVERSION,
										   "Conversions between different binData subtypes are not supported in $convert with no onError value");
					*out = *in;
					return true;
				case BSON_TYPE_UTF8:
					return AggStringToBin(cx, in, t, out, error);
				case BSON_TYPE_INT32:
					{
						uint8_t		le[4];
						uint32_t	u = (uint32_t) in->value.v_int32;

						for (int i = 0; i < 4; i++)
							le[i] = (uint8_t) (u >> (8 * i));
						AggNumberToBin(cx, le, 4, t, out);
						return true;
					}
				case BSON_TYPE_INT64:
				case BSON_TYPE_DOUBLE:
					{
						uint8_t		le[8];
						uint64_t	u;

						if (from == BSON_TYPE_INT64)
							u = (uint64_t) in->value.v_int64;
						else
							memcpy(&u, &in->value.v_double, 8);
						for (int i = 0; i < 8; i++)
							le[i] = (uint8_t) (u >> (8 * i));
						AggNumberToBin(cx, le, 8, t, out);
						return true;
					}
				default:
					return AggConvFail(error, in, t->type);
			}
		default:
			return AggConvFail(error, in, t->type);
	}
}

/* The format argument: a name, or null/missing for none */
static bool
AggConvertFormat(const bson_value_t *v, AggBinFormat *fmt, BsonQueryError *error)
{
	static const struct
	{
		const char *name;
		AggBinFormat fmt;
	}			formats[] = {
		{"auto", AGG_FMT_AUTO}, {"base64", AGG_FMT_BASE64}, {"base64url", AGG_FMT_BASE64URL},
		{"hex", AGG_FMT_HEX}, {"utf8", AGG_FMT_UTF8}, {"uuid", AGG_FMT_UUID}
	};

	*fmt = AGG_FMT_NONE;
	if (AggValueNullish(v))
		return true;
	if (v->value_type != BSON_TYPE_UTF8)
		return AggExprFail(error, 4341114,
						   "$convert requires that 'format' be a string, found: %s",
						   AggTypeName(v));
	for (size_t i = 0; i < lengthof(formats); i++)
		if (strcmp(v->value.v_utf8.str, formats[i].name) == 0)
		{
			*fmt = formats[i].fmt;
			return true;
		}
	return AggExprFail(error, 4341125, "Invalid format value for $convert: %s",
					   v->value.v_utf8.str);
}

/* The conversion of $convert and of the shortcuts */
static bool
AggConvertEval(const AggExpr *e, AggExprContext *cx, bson_type_t shortcut, bson_value_t *out,
			   BsonQueryError *error)
{
	bson_value_t vals[CONV_NARGS];
	AggConvTarget target;
	bool		to_null = false;
	BsonQueryError conv_error = {0};

	for (int i = 0; i < e->nargs; i++)
	{
		vals[i].value_type = BSON_TYPE_EOD;
		if (e->args[i] != NULL && !AggEvalArg(e, i, cx, &vals[i], error))
			return false;
	}
	memset(&target, 0, sizeof(target));
	target.type = shortcut;

	/* a null input makes onNull, whatever the other arguments are */
	if (AggValueNullish(&vals[CONV_INPUT]))
	{
		if (shortcut == BSON_TYPE_EOD && e->args[CONV_ON_NULL] != NULL)
			*out = vals[CONV_ON_NULL];
		else
			AggSetNull(out);
		return true;
	}
	if (shortcut == BSON_TYPE_EOD)
	{
		if (!AggConvertTarget(&vals[CONV_TO], &target, &to_null, error))
			return false;
		if (to_null)
		{
			AggSetNull(out);
			return true;
		}
		if (!AggConvertFormat(&vals[CONV_FORMAT], &target.format, error))
			return false;
		if (!AggValueNullish(&vals[CONV_BYTE_ORDER]))
		{
			const bson_value_t *bo = &vals[CONV_BYTE_ORDER];

			if (bo->value_type != BSON_TYPE_UTF8)
				return AggExprFail(error, 9130001,
								   "$convert requires that 'byteOrder' be a string, found: %s",
								   AggTypeName(bo));
			if (strcmp(bo->value.v_utf8.str, "big") == 0)
				target.big_endian = true;
			else if (strcmp(bo->value.v_utf8.str, "little") != 0)
				return AggExprFail(error, 9130002,
								   "Invalid 'byteOrder' argument to $convert: %s",
								   bo->value.v_utf8.str);
		}
	}
	if (AggConvertValue(cx, &vals[CONV_INPUT], &target, out, &conv_error))
	{
		if (conv_error.message != NULL)
			pfree(conv_error.message);
		return true;
	}
	if (shortcut == BSON_TYPE_EOD && e->args[CONV_ON_ERROR] != NULL)
	{
		if (conv_error.message != NULL)
			pfree(conv_error.message);
		*out = vals[CONV_ON_ERROR];
		return true;
	}
	*error = conv_error;
	return false;
}

static bool
AggConvert(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	return AggConvertEval(e, cx, BSON_TYPE_EOD, out, error);
}

/* $toBool, $toInt, ...: $convert without onError and onNull */
static bool
AggToType(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	const char *name = e->op->name + 3;
	bson_type_t type;

	if (strcmp(name, "Bool") == 0)
		type = BSON_TYPE_BOOL;
	else if (strcmp(name, "Int") == 0)
		type = BSON_TYPE_INT32;
	else if (strcmp(name, "Long") == 0)
		type = BSON_TYPE_INT64;
	else if (strcmp(name, "Double") == 0)
		type = BSON_TYPE_DOUBLE;
	else if (strcmp(name, "Decimal") == 0)
		type = BSON_TYPE_DECIMAL128;
	else if (strcmp(name, "String") == 0)
		type = BSON_TYPE_UTF8;
	else if (strcmp(name, "Date") == 0)
		type = BSON_TYPE_DATE_TIME;
	else
		type = BSON_TYPE_OID;
	return AggConvertEval(e, cx, type, out, error);
}

/* ---- accumulator-style expressions ---- */

/*
 * Call fn on each value the operator accumulates: the elements of its one
 * argument when that is an array, else its arguments.
 */
typedef void (*AggAccumFn) (const bson_value_t *v, void *state);

static bool
AggAccumulate(const AggExpr *e, AggExprContext *cx, AggAccumFn fn, void *state,
			  BsonQueryError *error)
{
	for (int i = 0; i < e->nargs; i++)
	{
		bson_value_t v;

		if (!AggEvalArg(e, i, cx, &v, error))
			return false;
		if (e->nargs == 1 && v.value_type == BSON_TYPE_ARRAY)
		{
			bson_iter_t it;

			if (bson_iter_init_from_data(&it, v.value.v_doc.data, v.value.v_doc.data_len))
				while (bson_iter_next(&it))
					fn(bson_iter_value(&it), state);
			return true;
		}
		fn(&v, state);
	}
	return true;
}


static void
AggSumAddDouble(AggSumState *s, double x)
{
	double		t = s->dsum + x;

	if (fabs(s->dsum) >= fabs(x))
		s->dcomp += (s->dsum - t) + x;
	else
		s->dcomp += (x - t) + s->dsum;
	s->dsum = t;
}

/* Add a value to a $sum/$avg state (non-numbers are ignored) */
void
AggSumAdd(const bson_value_t *v, void *state)
{
	AggSumState *s = state;

	switch (v->value_type)
	{
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
			{
				int64_t		x = v->value_type == BSON_TYPE_INT32 ? v->value.v_int32 :
					v->value.v_int64;
				int64_t		sum;

				if (v->value_type == BSON_TYPE_INT64)
					s->widest = Max(s->widest, 1);
				if (!s->ioverflow && !__builtin_add_overflow(s->isum, x, &sum))
					s->isum = sum;
				else
				{
					/* past int64: the exact part moves to the double sum */
					if (!s->ioverflow)
						AggSumAddDouble(s, (double) s->isum);
					s->ioverflow = true;
					s->isum = 0;
					AggSumAddDouble(s, (double) x);
				}
				break;
			}
		case BSON_TYPE_DOUBLE:
			s->widest = Max(s->widest, 2);
			AggSumAddDouble(s, v->value.v_double);
			break;
		case BSON_TYPE_DECIMAL128:
			{
				BsonDecimal d;

				s->widest = 3;
				BsonDecodeDecimal128(&v->value.v_decimal128, &d);
				if (s->have_decimal)
					BsonDecimalAdd(&s->decsum, &d, &s->decsum);
				else
					s->decsum = d;
				s->have_decimal = true;
				break;
			}
		default:
			return;
	}
	s->count++;
}

/* The sum of the non-decimal values as a double */
static double
AggSumDouble(const AggSumState *s)
{
	/* an infinite or NaN sum has no compensation (it would be NaN) */
	double		d = isfinite(s->dsum) ? s->dsum + s->dcomp : s->dsum;

	return s->ioverflow ? d : d + (double) s->isum;
}

/* The total as a decimal: the decimals plus the integers plus the doubles */
static void
AggSumDecimal(const AggSumState *s, BsonDecimal *out)
{
	BsonDecimal other;
	double		dpart = isfinite(s->dsum) ? s->dsum + s->dcomp : s->dsum;

	BsonDecimalFromInt64(s->ioverflow ? 0 : s->isum, &other);
	if (s->ioverflow || dpart != 0)
	{
		BsonDecimal dd;

		AggDoubleToDecimalExact(dpart, &dd);
		BsonDecimalAdd(&other, &dd, &other);
	}
	if (s->have_decimal)
		BsonDecimalAdd(&s->decsum, &other, out);
	else
		*out = other;
}

/* The result of a $sum (avg false) or $avg (avg true) state */
void
AggSumResult(const AggSumState *s, bool avg, bson_value_t *out)
{
	if (avg && s->count == 0)
		AggSetNull(out);
	else if (s->widest == 3)
	{
		BsonDecimal d;

		AggSumDecimal(s, &d);
		if (avg)
			AggDecimalDivideInt(&d, s->count, &d);
		AggSetDecimal(out, &d);
	}
	else if (avg)
	{
		if (!s->ioverflow && s->widest < 2)
			AggSetDouble(out, (double) s->isum / (double) s->count);
		else
			AggSetDouble(out, AggSumDouble(s) / (double) s->count);
	}
	else if (s->widest == 2 || s->ioverflow)
		AggSetDouble(out, AggSumDouble(s));
	else if (s->widest == 0 && s->isum >= INT32_MIN && s->isum <= INT32_MAX)
		AggSetInt32(out, (int32_t) s->isum);
	else
		AggSetInt64(out, s->isum);
}

static bool
AggSum(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	AggSumState s = {0};

	if (!AggAccumulate(e, cx, AggSumAdd, &s, error))
		return false;
	AggSumResult(&s, strcmp(e->op->name, "$avg") == 0, out);
	return true;
}

/* The state of $min and $max */
typedef struct AggMinMaxState
{
	bool		max;
	bool		have;
	bson_value_t best;
	const struct BsonCollation *collation;
} AggMinMaxState;

static void
AggMinMaxAdd(const bson_value_t *v, void *state)
{
	AggMinMaxState *s = state;
	int			c;

	if (AggValueNullish(v))
		return;
	if (!s->have)
	{
		s->best = *v;
		s->have = true;
		return;
	}
	c = AggValueCompare(v, &s->best, s->collation);
	if (s->max ? c > 0 : c < 0)
		s->best = *v;
}

static bool
AggMinMax(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	AggMinMaxState s = {0};

	s.max = strcmp(e->op->name, "$max") == 0;
	s.collation = cx->collation;
	if (!AggAccumulate(e, cx, AggMinMaxAdd, &s, error))
		return false;
	if (s.have)
		*out = s.best;
	else
		AggSetNull(out);
	return true;
}


/* Add a value to a standard deviation state (non-numbers are ignored) */
void
AggStdDevAdd(const bson_value_t *v, void *state)
{
	AggStdDevState *s = state;
	double		x;
	double		delta;

	if (!AggValueIsNumber(v))
		return;
	x = AggNumberAsDouble(v);
	s->count++;
	delta = x - s->mean;
	s->mean += delta / (double) s->count;
	s->m2 += delta * (x - s->mean);
}

static bool
AggStdDev(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	AggStdDevState s = {0};
	bool		samp = strcmp(e->op->name, "$stdDevSamp") == 0;

	if (!AggAccumulate(e, cx, AggStdDevAdd, &s, error))
		return false;
	if (s.count == 0 || (samp && s.count == 1))
		AggSetNull(out);
	else
		AggSetDouble(out, sqrt(Max(s.m2, 0) / (double) (samp ? s.count - 1 : s.count)));
	return true;
}

const AggExprOp AggExprOpsType[] = {
	{"$type", AggType, NULL, 1, 1},
	{"$isNumber", AggIsNumber, NULL, 1, 1},
	{"$convert", AggConvert, AggConvertParse, 0, 0},
	{"$toBool", AggToType, AggToParse, 1, 1},
	{"$toInt", AggToType, AggToParse, 1, 1},
	{"$toLong", AggToType, AggToParse, 1, 1},
	{"$toDouble", AggToType, AggToParse, 1, 1},
	{"$toDecimal", AggToType, AggToParse, 1, 1},
	{"$toString", AggToType, AggToParse, 1, 1},
	{"$toDate", AggToType, AggToParse, 1, 1},
	{"$toObjectId", AggToType, AggToParse, 1, 1},
	{"$sum", AggSum, NULL, 0, -1},
	{"$avg", AggSum, NULL, 0, -1},
	{"$min", AggMinMax, NULL, 0, -1},
	{"$max", AggMinMax, NULL, 0, -1},
	{"$stdDevPop", AggStdDev, NULL, 0, -1},
	{"$stdDevSamp", AggStdDev, NULL, 0, -1},
	{NULL}
};
