/*-------------------------------------------------------------------------
 *
 * expr_string.c
 *	  String expression operators: $concat, $substr, $substrBytes,
 *	  $substrCP, $strLenBytes, $strLenCP, $toLower, $toUpper, $strcasecmp,
 *	  $trim, $ltrim, $rtrim, $split, $indexOfBytes, $indexOfCP,
 *	  $replaceOne, $replaceAll, $regexMatch, $regexFind, $regexFindAll.
 *
 * Design note
 * -----------
 * Strings are UTF-8.  The "Bytes" operators count bytes and refuse to cut
 * a character in two ($substrBytes: 28656/28657); the "CP" operators count
 * code points, found by their lead bytes as MongoDB does (a byte that is
 * not a continuation byte starts a code point), so invalid UTF-8 never
 * makes them read past the end.  Case mapping ($toLower, $toUpper,
 * $strcasecmp) is ASCII only, as in MongoDB.
 *
 * Several operators accept any value convertible to a string (null and
 * missing become "", numbers, dates and timestamps their printed forms);
 * that conversion, MongoDB's coerceToString, is AggCoerceToString, shared
 * through expr_internal.h.
 *
 * Regular expressions are compiled with PCRE2 in UTF mode (MongoDB's
 * options i, m, s, x and u; \s and \w stay ASCII as in MongoDB).  A
 * constant pattern with constant options is compiled once while parsing;
 * the others are compiled per evaluation.  PCRE2 allocates through the
 * arena of the tree or of the evaluation, so compiled patterns and match
 * data go away with them; every match has a backtracking and a heap limit.
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#include "miscadmin.h"
#endif

#include <math.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "bson_compare.h"
#include "expr_internal.h"

#ifdef FRONTEND
#define STRING_CHECK_INTERRUPTS()	((void) 0)
#else
#define STRING_CHECK_INTERRUPTS()	CHECK_FOR_INTERRUPTS()
#endif

/* MongoDB's largest user document, the bound of a string result here */
#define AGG_STRING_MAX_BYTES		(16 * 1024 * 1024)

/* MongoDB's limits of regular expressions in expressions */
#define AGG_REGEX_MAX_PATTERN		16384
#define AGG_REGEX_FIND_ALL_MAX		(64 * 1024 * 1024)

/* PCRE2 limits of one match: steps of backtracking and heap (KiB) */
#define AGG_REGEX_MATCH_LIMIT		10000000
#define AGG_REGEX_HEAP_LIMIT		65536

/* ---- UTF-8 ---- */

static inline bool
AggUtf8Continuation(unsigned char c)
{
	return (c & 0xC0) == 0x80;
}

/* The length of the code point a lead byte starts (1 for a stray byte) */
static inline uint32_t
AggUtf8Length(unsigned char c)
{
	if (c < 0x80)
		return 1;
	if ((c & 0xE0) == 0xC0)
		return 2;
	if ((c & 0xF0) == 0xE0)
		return 3;
	if ((c & 0xF8) == 0xF0)
		return 4;
	return 1;
}

/* The byte after the code point at pos, never past len */
static inline uint32_t
AggUtf8Next(const char *s, uint32_t len, uint32_t pos)
{
	uint32_t	n = AggUtf8Length((unsigned char) s[pos]);

	return len - pos < n ? len : pos + n;
}

/* The number of code points of s[0..len) */
static int64_t
AggUtf8Count(const char *s, uint32_t len)
{
	int64_t		n = 0;

	for (uint32_t i = 0; i < len; i++)
		if (!AggUtf8Continuation((unsigned char) s[i]))
			n++;
	return n;
}

/* ---- conversions ---- */

static void
AggAppendDouble(char *buf, size_t size, double d)
{
	if (isnan(d))
		strlcpy(buf, "nan", size);
	else if (isinf(d))
		strlcpy(buf, d > 0 ? "inf" : "-inf", size);
	else
		snprintf(buf, size, "%g", d);
}

/* Split ms since the epoch into days and the ms of the day */
static void
AggSplitMillis(int64_t ms, int64_t *days, int64_t *msofday)
{
	*days = ms / 86400000;
	*msofday = ms % 86400000;
	if (*msofday < 0)
	{
		*msofday += 86400000;
		(*days)--;
	}
}

static void
StrFormatDate(char *buf, size_t size, int64_t ms)
{
	int64_t		days;
	int64_t		msofday;
	int64_t		year;
	int			month;
	int			day;

	AggSplitMillis(ms, &days, &msofday);
	AggCivilFromDays(days, &year, &month, &day);
	snprintf(buf, size, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
			 (long long) year, month, day, (int) (msofday / 3600000),
			 (int) (msofday / 60000 % 60), (int) (msofday / 1000 % 60),
			 (int) (msofday % 1000));
}

/* A timestamp as MongoDB prints it: "Jan  1 00:00:00:42" (UTC) */
static void
AggFormatTimestamp(char *buf, size_t size, uint32_t seconds, uint32_t increment)
{
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int64_t		days;
	int64_t		secofday;
	int64_t		year;
	int			month;
	int			day;

	days = seconds / 86400;
	secofday = seconds % 86400;
	AggCivilFromDays(days, &year, &month, &day);
	snprintf(buf, size, "%s %2d %02d:%02d:%02d:%u", months[month - 1], day,
			 (int) (secofday / 3600), (int) (secofday / 60 % 60), (int) (secofday % 60),
			 increment);
}

/*
 * MongoDB's coerceToString: strings, symbols and code as they are, null
 * and missing as "", numbers, dates and timestamps printed; other types
 * fail with 16007.
 */
bool
AggCoerceToString(AggExprContext *cx, const bson_value_t *v, const char **s, uint32_t *len,
				  BsonQueryError *error)
{
	char		buf[64];

	switch (v->value_type)
	{
		case BSON_TYPE_UTF8:
			*s = v->value.v_utf8.str;
			*len = v->value.v_utf8.len;
			return true;
		case BSON_TYPE_SYMBOL:
			*s = v->value.v_symbol.symbol;
			*len = v->value.v_symbol.len;
			return true;
		case BSON_TYPE_CODE:
			*s = v->value.v_code.code;
			*len = v->value.v_code.code_len;
			return true;
		case BSON_TYPE_EOD:
		case BSON_TYPE_NULL:
		case BSON_TYPE_UNDEFINED:
			*s = "";
			*len = 0;
			return true;
		case BSON_TYPE_INT32:
			snprintf(buf, sizeof(buf), "%d", v->value.v_int32);
			break;
		case BSON_TYPE_INT64:
			snprintf(buf, sizeof(buf), "%lld", (long long) v->value.v_int64);
			break;
		case BSON_TYPE_DOUBLE:
			AggAppendDouble(buf, sizeof(buf), v->value.v_double);
			break;
		case BSON_TYPE_DECIMAL128:
			StaticAssertStmt(sizeof(buf) >= BSON_DECIMAL128_STRING, "decimal buffer");
			bson_decimal128_to_string(&v->value.v_decimal128, buf);
			break;
		case BSON_TYPE_DATE_TIME:
			StrFormatDate(buf, sizeof(buf), v->value.v_datetime);
			break;
		case BSON_TYPE_TIMESTAMP:
			AggFormatTimestamp(buf, sizeof(buf), v->value.v_timestamp.timestamp,
							   v->value.v_timestamp.increment);
			break;
		default:
			return AggExprFail(error, 16007, "can't convert from BSON type %s to String",
							   AggTypeName(v));
	}
	{
		bson_value_t out;

		AggSetString(cx, &out, buf, (uint32_t) strlen(buf));
		*s = out.value.v_utf8.str;
		*len = out.value.v_utf8.len;
	}
	return true;
}

/*
 * A decimal128 rounded to the nearest int64 (ties to even), as MongoDB's
 * Decimal128::toLong.  False for NaN, infinities and values out of range;
 * *exact says whether no rounding happened.
 */
static bool
StrDecimalToInt64(const bson_decimal128_t *dec, int64_t *out, bool *exact)
{
	BsonDecimal d;
	uint128		q;
	uint128		limit;

	BsonDecodeDecimal128(dec, &d);
	if (d.kind != BSON_NUMBER_FINITE)
		return false;
	limit = (uint128) 1 << 63;
	*exact = true;
	q = d.coefficient;
	if (d.exponent >= 0)
	{
		for (int i = 0; i < d.exponent && q != 0; i++)
		{
			q *= 10;
			if (q > limit)
				return false;
		}
	}
	else if (d.exponent < -34)
	{
		*exact = q == 0;
		q = 0;
	}
	else
	{
		uint128		divisor = 1;
		uint128		r;

		for (int i = 0; i < -d.exponent; i++)
			divisor *= 10;
		r = q % divisor;
		q /= divisor;
		*exact = r == 0;
		if (2 * r > divisor || (2 * r == divisor && (q & 1) != 0))
			q++;
	}
	if (q > limit || (q == limit && !d.negative))
		return false;
	*out = d.negative ? (int64_t) (0 - (uint64_t) q) : (int64_t) q;
	return true;
}

/*
 * MongoDB's coerceToLong of a number: doubles truncate and fail with 31109
 * out of range; decimals round to even and become INT64_MIN out of range
 * (the integer indefinite of the decimal library MongoDB uses).
 */
static bool
AggCoerceToInt64(const bson_value_t *v, int64_t *out, BsonQueryError *error)
{
	switch (v->value_type)
	{
		case BSON_TYPE_INT32:
			*out = v->value.v_int32;
			return true;
		case BSON_TYPE_INT64:
			*out = v->value.v_int64;
			return true;
		case BSON_TYPE_DOUBLE:
			{
				double		d = v->value.v_double;

				if (!(d >= -9.2233720368547758e18 && d < 9.2233720368547758e18))
				{
					char		buf[64];

					AggAppendDouble(buf, sizeof(buf), d);
					return AggExprFail(error, 31109, "Can't coerce out of range value %s to long", buf);
				}
				*out = (int64_t) d;
				return true;
			}
		default:
			{
				bool		exact;

				if (!StrDecimalToInt64(&v->value.v_decimal128, out, &exact))
					*out = INT64_MIN;
				return true;
			}
	}
}

/*
 * MongoDB's Value::integral(): a number with an integer value that an
 * int32 holds; *out is that value.
 */
static bool
AggIntegral32(const bson_value_t *v, int32_t *out)
{
	switch (v->value_type)
	{
		case BSON_TYPE_INT32:
			*out = v->value.v_int32;
			return true;
		case BSON_TYPE_INT64:
			if (v->value.v_int64 < INT32_MIN || v->value.v_int64 > INT32_MAX)
				return false;
			*out = (int32_t) v->value.v_int64;
			return true;
		case BSON_TYPE_DOUBLE:
			{
				double		d = v->value.v_double;

				if (!(d >= INT32_MIN && d <= INT32_MAX) || d != floor(d))
					return false;
				*out = (int32_t) d;
				return true;
			}
		case BSON_TYPE_DECIMAL128:
			{
				int64_t		i;
				bool		exact;

				if (!StrDecimalToInt64(&v->value.v_decimal128, &i, &exact) || !exact ||
					i < INT32_MIN || i > INT32_MAX)
					return false;
				*out = (int32_t) i;
				return true;
			}
		default:
			return false;
	}
}

/* A printed form of a value for messages (numbers and strings) */
static const char *
AggValueForMessage(AggExprContext *cx, const bson_value_t *v)
{
	const char *s;
	uint32_t	len;
	BsonQueryError ignored;

	memset(&ignored, 0, sizeof(ignored));
	if (v->value_type == BSON_TYPE_UTF8)
		return v->value.v_utf8.str;
	if (AggValueIsNumber(v) && AggCoerceToString(cx, v, &s, &len, &ignored))
		return s;
	return AggTypeName(v);
}

/* A string result bounded by MongoDB's document size */
static bool
AggCheckStringSize(size_t len, const char *opname, BsonQueryError *error)
{
	if (len > AGG_STRING_MAX_BYTES)
		return AggExprFail(error, 10334,
						   "%s would produce a string of %zu bytes, larger than the maximum of %d",
						   opname, len, AGG_STRING_MAX_BYTES);
	return true;
}

/* ---- $concat, lengths, case ---- */

static bool
AggConcat(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t *parts = AggEvalAlloc(cx, sizeof(bson_value_t) * Max(e->nargs, 1));
	size_t		total = 0;
	char	   *buf;
	size_t		pos = 0;

	for (int i = 0; i < e->nargs; i++)
	{
		if (!AggEvalArg(e, i, cx, &parts[i], error))
			return false;
		if (AggValueNullish(&parts[i]))
		{
			AggSetNull(out);
			return true;
		}
		if (parts[i].value_type != BSON_TYPE_UTF8)
			return AggExprFail(error, 16702, "$concat only supports strings, not %s",
							   AggTypeName(&parts[i]));
		total += parts[i].value.v_utf8.len;
		if (!AggCheckStringSize(total, "$concat", error))
			return false;
	}
	buf = AggEvalAlloc(cx, total + 1);
	for (int i = 0; i < e->nargs; i++)
	{
		memcpy(buf + pos, parts[i].value.v_utf8.str, parts[i].value.v_utf8.len);
		pos += parts[i].value.v_utf8.len;
	}
	out->value_type = BSON_TYPE_UTF8;
	out->value.v_utf8.str = buf;
	out->value.v_utf8.len = (uint32_t) total;
	return true;
}

static bool
AggStrLenBytes(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t v;

	if (!AggEvalArg(e, 0, cx, &v, error))
		return false;
	if (v.value_type != BSON_TYPE_UTF8)
		return AggExprFail(error, 34473, "$strLenBytes requires a string argument, found: %s",
						   AggTypeName(&v));
	if (v.value.v_utf8.len > INT32_MAX)
		return AggExprFail(error, 34470, "string length could not be represented as an int.");
	AggSetInt32(out, (int32_t) v.value.v_utf8.len);
	return true;
}

static bool
AggStrLenCP(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t v;

	if (!AggEvalArg(e, 0, cx, &v, error))
		return false;
	if (v.value_type != BSON_TYPE_UTF8)
		return AggExprFail(error, 34471, "$strLenCP requires a string argument, found: %s",
						   AggTypeName(&v));
	AggSetInt32(out, (int32_t) AggUtf8Count(v.value.v_utf8.str, v.value.v_utf8.len));
	return true;
}

/* $toLower and $toUpper: ASCII letters only */
static bool
AggChangeCase(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error,
			  bool upper)
{
	bson_value_t v;
	const char *s;
	uint32_t	len;
	char	   *buf;

	if (!AggEvalArg(e, 0, cx, &v, error))
		return false;
	if (!AggCoerceToString(cx, &v, &s, &len, error))
		return false;
	AggSetString(cx, out, s, len);
	buf = (char *) out->value.v_utf8.str;
	for (uint32_t i = 0; i < len; i++)
	{
		if (upper && buf[i] >= 'a' && buf[i] <= 'z')
			buf[i] -= 'a' - 'A';
		else if (!upper && buf[i] >= 'A' && buf[i] <= 'Z')
			buf[i] += 'a' - 'A';
	}
	return true;
}

static bool
AggToLower(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	return AggChangeCase(e, cx, out, error, false);
}

static bool
AggToUpper(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	return AggChangeCase(e, cx, out, error, true);
}

static inline unsigned char
AggAsciiLower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* $strcasecmp: -1, 0 or 1, comparing bytes with ASCII letters folded */
static bool
AggStrcasecmp(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t a;
	bson_value_t b;
	const char *sa;
	const char *sb;
	uint32_t	la;
	uint32_t	lb;
	int			cmp = 0;

	if (!AggEvalArg(e, 0, cx, &a, error) || !AggEvalArg(e, 1, cx, &b, error))
		return false;
	if (!AggCoerceToString(cx, &a, &sa, &la, error) ||
		!AggCoerceToString(cx, &b, &sb, &lb, error))
		return false;
	for (uint32_t i = 0; i < Min(la, lb) && cmp == 0; i++)
	{
		unsigned char ca = AggAsciiLower((unsigned char) sa[i]);
		unsigned char cb = AggAsciiLower((unsigned char) sb[i]);

		if (ca != cb)
			cmp = ca < cb ? -1 : 1;
	}
	if (cmp == 0 && la != lb)
		cmp = la < lb ? -1 : 1;
	AggSetInt32(out, cmp);
	return true;
}

/* ---- substrings ---- */

/* $substrBytes and its alias $substr: [string, start, length] in bytes */
static bool
AggSubstrBytes(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t sv;
	bson_value_t startv;
	bson_value_t lenv;
	const char *s;
	uint32_t	len;
	int64_t		start;
	int64_t		count;
	uint64_t	n;

	if (!AggEvalArg(e, 0, cx, &sv, error) || !AggEvalArg(e, 1, cx, &startv, error) ||
		!AggEvalArg(e, 2, cx, &lenv, error))
		return false;
	if (!AggCoerceToString(cx, &sv, &s, &len, error))
		return false;
	if (!AggValueIsNumber(&startv))
		return AggExprFail(error, 16034,
						   "$substrBytes: starting index must be a numeric type (is BSON type %s)",
						   AggTypeName(&startv));
	if (!AggValueIsNumber(&lenv))
		return AggExprFail(error, 16035,
						   "$substrBytes: length must be a numeric type (is BSON type %s)",
						   AggTypeName(&lenv));
	if (!AggCoerceToInt64(&startv, &start, error))
		return false;
	if (!AggCoerceToInt64(&lenv, &count, error))
		return false;
	if (start < 0)
		return AggExprFail(error, 50752,
						   "$substrBytes: starting index must be non-negative (got: %lld)",
						   (long long) start);
	if ((uint64_t) start >= len)
	{
		AggSetString(cx, out, "", 0);
		return true;
	}
	if (AggUtf8Continuation((unsigned char) s[start]))
		return AggExprFail(error, 28656,
						   "$substrBytes: Invalid range, starting index is a UTF-8 continuation byte.");
	/* a negative length means the rest of the string */
	n = count < 0 ? (uint64_t) (len - start) : Min((uint64_t) count, (uint64_t) (len - start));
	if (start + n < len && AggUtf8Continuation((unsigned char) s[start + n]))
		return AggExprFail(error, 28657,
						   "$substrBytes: Invalid range, ending index is in the middle of a UTF-8 character.");
	AggSetString(cx, out, s + start, (uint32_t) n);
	return true;
}

/* $substrCP: [string, start, length] in code points */
static bool
AggSubstrCP(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t sv;
	bson_value_t startv;
	bson_value_t lenv;
	const char *s;
	uint32_t	len;
	int32_t		start;
	int32_t		count;
	uint32_t	from = 0;
	uint32_t	to;

	if (!AggEvalArg(e, 0, cx, &sv, error) || !AggEvalArg(e, 1, cx, &startv, error) ||
		!AggEvalArg(e, 2, cx, &lenv, error))
		return false;
	if (!AggCoerceToString(cx, &sv, &s, &len, error))
		return false;
	if (!AggValueIsNumber(&startv))
		return AggExprFail(error, 34450,
						   "$substrCP: starting index must be a numeric type (is BSON type %s)",
						   AggTypeName(&startv));
	if (!AggIntegral32(&startv, &start))
		return AggExprFail(error, 34451,
						   "$substrCP: starting index cannot be represented as a 32-bit integral value: %s",
						   AggValueForMessage(cx, &startv));
	if (!AggValueIsNumber(&lenv))
		return AggExprFail(error, 34452,
						   "$substrCP: length must be a numeric type (is BSON type %s)",
						   AggTypeName(&lenv));
	if (!AggIntegral32(&lenv, &count))
		return AggExprFail(error, 34453,
						   "$substrCP: length cannot be represented as a 32-bit integral value: %s",
						   AggValueForMessage(cx, &lenv));
	if (count < 0)
		return AggExprFail(error, 34454, "$substrCP: length must be a nonnegative integer.");
	if (start < 0)
		return AggExprFail(error, 34455, "$substrCP: the starting index must be nonnegative integer.");
	for (int32_t i = 0; i < start && from < len; i++)
		from = AggUtf8Next(s, len, from);
	to = from;
	for (int32_t i = 0; i < count && to < len; i++)
		to = AggUtf8Next(s, len, to);
	AggSetString(cx, out, s + from, to - from);
	return true;
}

/* ---- $indexOfBytes, $indexOfCP ---- */

/* Positional arguments with an arity error of the operator's own code */
static bool
AggParsePositional(AggExprParser *p, AggExpr *e, const bson_iter_t *arg, int code)
{
	const AggExprOp *op = e->op;

	if (BSON_ITER_HOLDS_ARRAY(arg))
	{
		bson_iter_t elem;
		int			n = 0;

		bson_iter_recurse(arg, &elem);
		while (bson_iter_next(&elem))
			n++;
		e->nargs = n;
		e->args = AggParseAlloc(p, sizeof(AggExpr *) * Max(n, 1));
		bson_iter_recurse(arg, &elem);
		for (int i = 0; bson_iter_next(&elem); i++)
			if ((e->args[i] = AggExprParseSub(p, &elem)) == NULL)
				return false;
	}
	else
	{
		e->nargs = 1;
		e->args = AggParseAlloc(p, sizeof(AggExpr *));
		if ((e->args[0] = AggExprParseSub(p, arg)) == NULL)
			return false;
	}
	if (e->nargs < op->min_args || e->nargs > op->max_args)
		return AggExprFail(p->error, code,
						   "Expression %s takes at least %d arguments, and at most %d, but %d were passed in.",
						   op->name, op->min_args, op->max_args, e->nargs);
	return true;
}

static bool
AggIndexOfParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	return AggParsePositional(p, e, arg, 28667);
}

/* A start or end index of $indexOf*: an integral, nonnegative number */
static bool
AggIndexArg(const AggExpr *e, int i, AggExprContext *cx, const char *what, int32_t *out,
			BsonQueryError *error)
{
	bson_value_t v;

	if (!AggEvalArg(e, i, cx, &v, error))
		return false;
	if (!AggIntegral32(&v, out))
		return AggExprFail(error, 40096,
						   "%s requires an integral %s, found a value of type: %s, with value: %s",
						   e->op->name, what, AggTypeName(&v), AggValueForMessage(cx, &v));
	if (*out < 0)
		return AggExprFail(error, 40097, "%s requires a nonnegative %s, found: %d",
						   e->op->name, what, *out);
	return true;
}

/*
 * $indexOfBytes and $indexOfCP: [string, substring, start, end].  null
 * when the string is null or missing; -1 when not found.
 */
static bool
AggIndexOf(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error,
		   bool cp)
{
	bson_value_t sv;
	bson_value_t tv;
	const char *s;
	const char *t;
	uint32_t	len;
	uint32_t	tlen;
	int32_t		start = 0;
	int32_t		end = INT32_MAX;
	uint32_t	pos = 0;

	if (!AggEvalArg(e, 0, cx, &sv, error))
		return false;
	if (AggValueNullish(&sv))
	{
		AggSetNull(out);
		return true;
	}
	if (sv.value_type != BSON_TYPE_UTF8)
		return AggExprFail(error, cp ? 40093 : 40091,
						   "%s requires a string as the first argument, found: %s",
						   e->op->name, AggTypeName(&sv));
	if (!AggEvalArg(e, 1, cx, &tv, error))
		return false;
	if (tv.value_type != BSON_TYPE_UTF8)
		return AggExprFail(error, cp ? 40094 : 40092,
						   "%s requires a string as the second argument, found: %s",
						   e->op->name, AggTypeName(&tv));
	s = sv.value.v_utf8.str;
	len = sv.value.v_utf8.len;
	t = tv.value.v_utf8.str;
	tlen = tv.value.v_utf8.len;
	if (e->nargs > 2 && !AggIndexArg(e, 2, cx, "starting index", &start, error))
		return false;
	if (e->nargs > 3 && !AggIndexArg(e, 3, cx, "ending index", &end, error))
		return false;
	AggSetInt32(out, -1);
	if (start > end)
		return true;
	if (!cp)
	{
		uint32_t	stop = Min((uint32_t) end, len);

		if ((uint32_t) start > len)
			return true;
		for (pos = start; pos + tlen <= stop; pos++)
			if (memcmp(s + pos, t, tlen) == 0)
			{
				AggSetInt32(out, (int32_t) pos);
				return true;
			}
		return true;
	}
	/* code points: find the byte of the starting index */
	for (int32_t i = 0; i < start; i++)
	{
		if (pos >= len)
			return true;
		pos = AggUtf8Next(s, len, pos);
	}
	/* the empty string holds the empty string at 0, as in MongoDB */
	if (len == 0 && tlen == 0 && start == 0)
	{
		AggSetInt32(out, 0);
		return true;
	}
	/* a match must start before the ending index (it may end after it) */
	for (int32_t i = start; i < end && pos < len; i++)
	{
		if (pos + tlen <= len && memcmp(s + pos, t, tlen) == 0)
		{
			AggSetInt32(out, i);
			return true;
		}
		pos = AggUtf8Next(s, len, pos);
	}
	return true;
}

static bool
AggIndexOfBytes(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	return AggIndexOf(e, cx, out, error, false);
}

static bool
AggIndexOfCP(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	return AggIndexOf(e, cx, out, error, true);
}

/* ---- $split ---- */

static bool
AggSplit(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t sv;
	bson_value_t dv;
	const char *s;
	const char *d;
	uint32_t	len;
	uint32_t	dlen;
	uint32_t	from = 0;
	uint32_t	n = 0;
	bson_t		arr = BSON_INITIALIZER;

	if (!AggEvalArg(e, 0, cx, &sv, error) || !AggEvalArg(e, 1, cx, &dv, error))
		return false;
	if (AggValueNullish(&sv))
	{
		AggSetNull(out);
		return true;
	}
	if (sv.value_type != BSON_TYPE_UTF8)
		return AggExprFail(error, 40085,
						   "$split requires an expression that evaluates to a string as a first argument, found: %s",
						   AggTypeName(&sv));
	if (AggValueNullish(&dv))
	{
		AggSetNull(out);
		return true;
	}
	if (dv.value_type != BSON_TYPE_UTF8)
		return AggExprFail(error, 10503900,
						   "$split requires an expression that evaluates to a string as a second argument, found: %s",
						   AggTypeName(&dv));
	s = sv.value.v_utf8.str;
	len = sv.value.v_utf8.len;
	d = dv.value.v_utf8.str;
	dlen = dv.value.v_utf8.len;
	if (dlen == 0)
		return AggExprFail(error, 40087, "$split requires a non-empty separator");
	for (uint32_t pos = 0;; )
	{
		const char *hit = NULL;
		char		key[16];

		STRING_CHECK_INTERRUPTS();
		for (; pos + dlen <= len; pos++)
			if (memcmp(s + pos, d, dlen) == 0)
			{
				hit = s + pos;
				break;
			}
		snprintf(key, sizeof(key), "%u", n++);
		if (hit == NULL)
		{
			bson_append_utf8(&arr, key, -1, s + from, (int) (len - from));
			break;
		}
		bson_append_utf8(&arr, key, -1, s + from, (int) (pos - from));
		pos += dlen;
		from = pos;
		if (arr.len > AGG_STRING_MAX_BYTES)
		{
			bson_destroy(&arr);
			return AggExprFail(error, 10334, "$split would produce an array larger than the maximum document size");
		}
	}
	AggSetFromBson(cx, out, &arr, true);
	bson_destroy(&arr);
	return true;
}

/* ---- $trim, $ltrim, $rtrim ---- */

#define AGG_TRIM_LEFT	1
#define AGG_TRIM_RIGHT	2

/* args: input, chars (NULL when absent); data: the sides */
static bool
AggTrimParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	static const char *const names[] = {"input", "chars"};
	const char *k;

	if (!BSON_ITER_HOLDS_DOCUMENT(arg))
		return AggExprFail(p->error, 50696, "%s requires an object as an argument, found: %s",
						   e->op->name, BsonTypeName(bson_iter_type(arg)));
	if (!AggParseArgsByName(p, e, arg, names, 2, &k))
		return k ? AggExprFail(p->error, 50694, "%s found an unknown argument: %s", e->op->name, k) : false;
	if (e->args[0] == NULL)
		return AggExprFail(p->error, 50695, "%s requires an 'input' field", e->op->name);
	return true;
}

/* MongoDB's default characters to trim: the null character and whitespace */
static bool
AggTrimDefault(const char *c, uint32_t n)
{
	uint32_t	cp;

	if (n == 1)
		return c[0] == '\0' || c[0] == ' ' || (c[0] >= '\t' && c[0] <= '\r');
	if (n == 2)
		return (unsigned char) c[0] == 0xC2 && (unsigned char) c[1] == 0xA0;
	if (n != 3)
		return false;
	cp = (((unsigned char) c[0] & 0x0F) << 12) | (((unsigned char) c[1] & 0x3F) << 6) |
		((unsigned char) c[2] & 0x3F);
	return cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A);
}

/* Whether the code point c[0..n) is one of chars (NULL: the default set) */
static bool
AggTrimMember(const char *c, uint32_t n, const char *chars, uint32_t clen)
{
	if (chars == NULL)
		return AggTrimDefault(c, n);
	for (uint32_t pos = 0; pos < clen;)
	{
		uint32_t	next = AggUtf8Next(chars, clen, pos);

		if (next - pos == n && memcmp(chars + pos, c, n) == 0)
			return true;
		pos = next;
	}
	return false;
}

static bool
AggTrim(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error,
		int sides)
{
	bson_value_t in;
	const char *s;
	uint32_t	len;
	const char *chars = NULL;
	uint32_t	clen = 0;
	uint32_t	from = 0;
	uint32_t	to;

	if (!AggEvalArg(e, 0, cx, &in, error))
		return false;
	if (AggValueNullish(&in))
	{
		AggSetNull(out);
		return true;
	}
	if (in.value_type != BSON_TYPE_UTF8)
		return AggExprFail(error, 50699, "%s requires its input to be a string, got %s (of type %s) instead.",
						   e->op->name, AggValueForMessage(cx, &in), AggTypeName(&in));
	if (e->args[1] != NULL)
	{
		bson_value_t cv;

		if (!AggEvalArg(e, 1, cx, &cv, error))
			return false;
		if (AggValueNullish(&cv))
		{
			AggSetNull(out);
			return true;
		}
		if (cv.value_type != BSON_TYPE_UTF8)
			return AggExprFail(error, 50700, "%s requires 'chars' to be a string, got %s (of type %s) instead.",
							   e->op->name, AggValueForMessage(cx, &cv), AggTypeName(&cv));
		chars = cv.value.v_utf8.str;
		clen = cv.value.v_utf8.len;
	}
	s = in.value.v_utf8.str;
	len = in.value.v_utf8.len;
	to = len;
	if (sides & AGG_TRIM_LEFT)
		while (from < len)
		{
			uint32_t	next = AggUtf8Next(s, len, from);

			if (!AggTrimMember(s + from, next - from, chars, clen))
				break;
			from = next;
		}
	if (sides & AGG_TRIM_RIGHT)
		while (to > from)
		{
			uint32_t	last = to - 1;

			while (last > from && AggUtf8Continuation((unsigned char) s[last]))
				last--;
			if (!AggTrimMember(s + last, to - last, chars, clen))
				break;
			to = last;
		}
	AggSetString(cx, out, s + from, to - from);
	return true;
}

static bool
AggTrimBoth(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	return AggTrim(e, cx, out, error, AGG_TRIM_LEFT | AGG_TRIM_RIGHT);
}

static bool
AggTrimLeft(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	return AggTrim(e, cx, out, error, AGG_TRIM_LEFT);
}

static bool
AggTrimRight(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	return AggTrim(e, cx, out, error, AGG_TRIM_RIGHT);
}

/* ---- $replaceOne, $replaceAll ---- */

/* args: input, find, replacement */
static bool
AggReplaceParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	static const char *const names[] = {"input", "find", "replacement"};
	const char *k;

	if (!BSON_ITER_HOLDS_DOCUMENT(arg))
		return AggExprFail(p->error, 51751, "%s requires an object as an argument, found: %s",
						   e->op->name, BsonTypeName(bson_iter_type(arg)));
	if (!AggParseArgsByName(p, e, arg, names, 3, &k))
		return k ? AggExprFail(p->error, 51750, "%s found an unknown argument: %s", e->op->name, k) : false;
	if (e->args[0] == NULL)
		return AggExprFail(p->error, 51749, "%s requires 'input' to be specified", e->op->name);
	if (e->args[1] == NULL)
		return AggExprFail(p->error, 51748, "%s requires 'find' to be specified", e->op->name);
	if (e->args[2] == NULL)
		return AggExprFail(p->error, 51747, "%s requires 'replacement' to be specified", e->op->name);
	return true;
}

static bool
AggReplace(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error,
		   bool all)
{
	static const char *const names[] = {"input", "find", "replacement"};
	static const int codes[] = {10503904, 10503901, 10503902};
	bson_value_t v[3];
	const char *s;
	const char *f;
	const char *r;
	uint32_t	len;
	uint32_t	flen;
	uint32_t	rlen;
	bool		null = false;
	size_t		total;
	uint32_t	nhits = 0;
	char	   *buf;
	size_t		bpos = 0;
	uint32_t	from = 0;

	for (int i = 0; i < 3; i++)
	{
		if (!AggEvalArg(e, i, cx, &v[i], error))
			return false;
		if (AggValueNullish(&v[i]))
			null = true;
		else if (v[i].value_type != BSON_TYPE_UTF8)
			return AggExprFail(error, codes[i], "%s requires that '%s' be a string, found: %s",
							   e->op->name, names[i], AggTypeName(&v[i]));
	}
	if (null)
	{
		AggSetNull(out);
		return true;
	}
	s = v[0].value.v_utf8.str;
	len = v[0].value.v_utf8.len;
	f = v[1].value.v_utf8.str;
	flen = v[1].value.v_utf8.len;
	r = v[2].value.v_utf8.str;
	rlen = v[2].value.v_utf8.len;

	/* count the replacements (an empty find matches before each code point and at the end) */
	if (flen == 0)
		nhits = all ? (uint32_t) AggUtf8Count(s, len) + 1 : 1;
	else
		for (uint32_t pos = 0; pos + flen <= len;)
		{
			if (memcmp(s + pos, f, flen) == 0)
			{
				nhits++;
				if (!all)
					break;
				pos += flen;
			}
			else
				pos++;
		}
	total = (size_t) len - (size_t) nhits * flen + (size_t) nhits * rlen;
	if (!AggCheckStringSize(total, e->op->name, error))
		return false;
	buf = AggEvalAlloc(cx, total + 1);
	if (flen == 0)
	{
		for (uint32_t pos = 0, done = 0;; done++)
		{
			if (done < nhits)
			{
				memcpy(buf + bpos, r, rlen);
				bpos += rlen;
			}
			if (pos >= len)
				break;
			{
				uint32_t	next = all ? AggUtf8Next(s, len, pos) : len;

				memcpy(buf + bpos, s + pos, next - pos);
				bpos += next - pos;
				pos = next;
			}
		}
	}
	else
	{
		uint32_t	done = 0;

		for (uint32_t pos = 0; pos + flen <= len && done < nhits;)
		{
			if (memcmp(s + pos, f, flen) == 0)
			{
				memcpy(buf + bpos, s + from, pos - from);
				bpos += pos - from;
				memcpy(buf + bpos, r, rlen);
				bpos += rlen;
				pos += flen;
				from = pos;
				done++;
			}
			else
				pos++;
		}
		memcpy(buf + bpos, s + from, len - from);
		bpos += len - from;
	}
	Assert(bpos == total);
	out->value_type = BSON_TYPE_UTF8;
	out->value.v_utf8.str = buf;
	out->value.v_utf8.len = (uint32_t) total;
	return true;
}

static bool
AggReplaceOne(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	return AggReplace(e, cx, out, error, false);
}

static bool
AggReplaceAll(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	return AggReplace(e, cx, out, error, true);
}

/* ---- regular expressions ---- */

typedef enum AggRegexMode
{
	AGG_REGEX_MATCH,
	AGG_REGEX_FIND,
	AGG_REGEX_FIND_ALL
} AggRegexMode;

/* args: input, regex, options (NULL when absent) */
typedef struct AggRegexData
{
	AggRegexMode mode;
	pcre2_code *code;			/* compiled while parsing, or NULL */
} AggRegexData;

/* PCRE2's allocator: the arena given as its data; freed with the arena */
static void *
AggPcreAlloc(PCRE2_SIZE size, void *data)
{
	return AggArenaAlloc((AggArena *) data, Max(size, 1));
}

static void
AggPcreFree(void *ptr, void *data)
{
	/* the arena frees everything at once */
}

/* The operator's name in messages */
static const char *
AggRegexName(const AggRegexData *data)
{
	switch (data->mode)
	{
		case AGG_REGEX_MATCH:
			return "$regexMatch";
		case AGG_REGEX_FIND:
			return "$regexFind";
		default:
			return "$regexFindAll";
	}
}

/*
 * The pattern and options of the regex and options values, checked as
 * MongoDB checks them (51105 to 51110).  *pattern is NULL when the regex
 * is null or missing.
 */
static bool
AggRegexArgs(const AggRegexData *data, const bson_value_t *regex, const bson_value_t *options,
			 const char **pattern, const char **flags, BsonQueryError *error)
{
	const char *name = AggRegexName(data);

	bool		have_options = false;

	*pattern = NULL;
	*flags = "";
	if (options != NULL && !AggValueNullish(options))
	{
		have_options = true;
		if (options->value_type != BSON_TYPE_UTF8)
			return AggExprFail(error, 51106, "%s needs 'options' to be of type string", name);
		if (strlen(options->value.v_utf8.str) != options->value.v_utf8.len)
			return AggExprFail(error, 51110,
							   "%s: 'options' to $regex cannot contain an embedded null byte", name);
		*flags = options->value.v_utf8.str;
	}
	if (regex->value_type == BSON_TYPE_REGEX)
	{
		const char *rflags = regex->value.v_regex.options;

		if (rflags != NULL && rflags[0] != '\0')
		{
			if (have_options)
				return AggExprFail(error, 51107,
								   "%s: found regex option(s) specified in both 'regex' and 'option' fields",
								   name);
			*flags = rflags;
		}
		*pattern = regex->value.v_regex.regex;
	}
	else if (regex->value_type == BSON_TYPE_UTF8)
	{
		if (strlen(regex->value.v_utf8.str) != regex->value.v_utf8.len)
			return AggExprFail(error, 51109,
							   "%s: regular expression cannot contain an embedded null byte", name);
		*pattern = regex->value.v_utf8.str;
	}
	else if (!AggValueNullish(regex))
		return AggExprFail(error, 51105, "%s needs 'regex' to be of type string or regex", name);
	return true;
}

/* Compile a pattern, its memory in arena */
static pcre2_code *
AggRegexCompile(const AggRegexData *data, const char *pattern, const char *flags,
				AggArena *arena, BsonQueryError *error)
{
	uint32_t	options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
	pcre2_general_context *gcx;
	pcre2_compile_context *ccx;
	pcre2_code *code;
	int			errcode;
	PCRE2_SIZE	erroffset;

	for (const char *f = flags; *f; f++)
	{
		switch (*f)
		{
			case 'i':
				options |= PCRE2_CASELESS;
				break;
			case 'm':
				options |= PCRE2_MULTILINE;
				break;
			case 's':
				options |= PCRE2_DOTALL;
				break;
			case 'x':
				options |= PCRE2_EXTENDED;
				break;
			case 'u':
				/* UTF mode is always on */
				break;
			default:
				AggExprFail(error, 51108, "%s invalid flag in regex options: %c",
							AggRegexName(data), *f);
				return NULL;
		}
	}
	gcx = pcre2_general_context_create(AggPcreAlloc, AggPcreFree, arena);
	ccx = gcx != NULL ? pcre2_compile_context_create(gcx) : NULL;
	if (ccx == NULL)
	{
		AggExprFail(error, AGG_ERR_BAD_VALUE, "out of memory compiling a regular expression");
		return NULL;
	}
	pcre2_set_max_pattern_length(ccx, AGG_REGEX_MAX_PATTERN);
	code = pcre2_compile((PCRE2_SPTR) pattern, PCRE2_ZERO_TERMINATED, options, &errcode,
						 &erroffset, ccx);
	if (code == NULL)
	{
		PCRE2_UCHAR message[256];

		if (pcre2_get_error_message(errcode, message, sizeof(message)) < 0)
			strlcpy((char *) message, "unknown error", sizeof(message));
		AggExprFail(error, 51111, "Invalid Regex in %s: %s", AggRegexName(data), (char *) message);
		return NULL;
	}
	return code;
}

static bool
AggRegexParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg, AggRegexMode mode)
{
	AggRegexData *data = AggParseAlloc(p, sizeof(AggRegexData));
	static const char *const names[] = {"input", "regex", "options"};
	const char *name;
	const char *k;

	data->mode = mode;
	e->data = data;
	name = AggRegexName(data);
	if (!BSON_ITER_HOLDS_DOCUMENT(arg))
		return AggExprFail(p->error, 51103, "%s expects an object of named arguments but found: %s",
						   name, BsonTypeName(bson_iter_type(arg)));
	if (!AggParseArgsByName(p, e, arg, names, 3, &k))
		return k ? AggExprFail(p->error, 31024, "%s found an unknown argument: %s", name, k) : false;
	if (e->args[0] == NULL)
		return AggExprFail(p->error, 31022, "%s requires 'input' parameter", name);
	if (e->args[1] == NULL)
		return AggExprFail(p->error, 31023, "%s requires 'regex' parameter", name);

	/* a constant pattern is compiled once, and its errors are parse errors */
	if (e->args[1]->kind == AGG_EXPR_CONST &&
		(e->args[2] == NULL || e->args[2]->kind == AGG_EXPR_CONST))
	{
		const char *pattern;
		const char *flags;

		if (!AggRegexArgs(data, &e->args[1]->value, e->args[2] != NULL ? &e->args[2]->value : NULL,
						  &pattern, &flags, p->error))
			return false;
		if (pattern != NULL &&
			(data->code = AggRegexCompile(data, pattern, flags, p->arena, p->error)) == NULL)
			return false;
	}
	return true;
}

static bool
AggRegexMatchParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	return AggRegexParse(p, e, arg, AGG_REGEX_MATCH);
}

static bool
AggRegexFindParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	return AggRegexParse(p, e, arg, AGG_REGEX_FIND);
}

static bool
AggRegexFindAllParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	return AggRegexParse(p, e, arg, AGG_REGEX_FIND_ALL);
}

/* Fill doc with {match, idx, captures} of a match */
static void
AggRegexMatchDoc(bson_t *doc, const char *s, const PCRE2_SIZE *ov, int ngroups, int32_t idx)
{
	bson_t		caps;

	bson_append_utf8(doc, "match", 5, s + ov[0], (int) (ov[1] - ov[0]));
	bson_append_int32(doc, "idx", 3, idx);
	bson_append_array_begin(doc, "captures", 8, &caps);
	for (int g = 1; g <= ngroups; g++)
	{
		char		gkey[16];

		snprintf(gkey, sizeof(gkey), "%d", g - 1);
		if (ov[2 * g] == PCRE2_UNSET)
			bson_append_null(&caps, gkey, -1);
		else
			bson_append_utf8(&caps, gkey, -1, s + ov[2 * g], (int) (ov[2 * g + 1] - ov[2 * g]));
	}
	bson_append_array_end(doc, &caps);
}

static bool
AggRegexEval(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	const AggRegexData *data = e->data;
	const char *name = AggRegexName(data);
	bson_value_t input;
	bson_value_t regex;
	bson_value_t options;
	const char *pattern;
	const char *flags;
	pcre2_code *code = data->code;
	pcre2_general_context *gcx;
	pcre2_match_context *mcx;
	pcre2_match_data *md;
	const char *s;
	uint32_t	len;
	uint32_t	ngroups;
	PCRE2_SIZE	pos = 0;
	int64_t		cpidx = 0;
	PCRE2_SIZE	cppos = 0;
	bson_t		all = BSON_INITIALIZER;
	uint32_t	nfound = 0;
	bool		ok = true;

	if (e->args[2] != NULL && !AggEvalArg(e, 2, cx, &options, error))
		return false;
	if (!AggEvalArg(e, 1, cx, &regex, error))
		return false;
	if (!AggRegexArgs(data, &regex, e->args[2] != NULL ? &options : NULL, &pattern, &flags, error))
		return false;
	if (!AggEvalArg(e, 0, cx, &input, error))
		return false;
	if (!AggValueNullish(&input) && input.value_type != BSON_TYPE_UTF8)
		return AggExprFail(error, 51104, "%s needs 'input' to be of type string", name);
	if (AggValueNullish(&input) || pattern == NULL)
	{
		if (data->mode == AGG_REGEX_MATCH)
			AggSetBool(out, false);
		else if (data->mode == AGG_REGEX_FIND)
			AggSetNull(out);
		else
			AggSetFromBson(cx, out, &all, true);
		return true;
	}
	if (code == NULL && (code = AggRegexCompile(data, pattern, flags, cx->arena, error)) == NULL)
		return false;

	gcx = pcre2_general_context_create(AggPcreAlloc, AggPcreFree, cx->arena);
	mcx = gcx != NULL ? pcre2_match_context_create(gcx) : NULL;
	md = mcx != NULL ? pcre2_match_data_create_from_pattern(code, gcx) : NULL;
	if (md == NULL)
		return AggExprFail(error, AGG_ERR_BAD_VALUE, "out of memory matching a regular expression");
	pcre2_set_match_limit(mcx, AGG_REGEX_MATCH_LIMIT);
	pcre2_set_heap_limit(mcx, AGG_REGEX_HEAP_LIMIT);
	pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &ngroups);
	s = input.value.v_utf8.str;
	len = input.value.v_utf8.len;

	/* every match from pos on; after an empty match, from the next code point */
	do
	{
		int			rc;
		PCRE2_SIZE *ov;
		char		key[16];

		STRING_CHECK_INTERRUPTS();
		rc = pcre2_match(code, (PCRE2_SPTR) s, len, pos, 0, md, mcx);
		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0)
		{
			ok = AggExprFail(error, 51156,
							 "Error occurred while executing the regular expression in %s. Result code: %d",
							 name, rc);
			break;
		}
		if (data->mode == AGG_REGEX_MATCH)
		{
			AggSetBool(out, true);
			bson_destroy(&all);
			return true;
		}
		ov = pcre2_get_ovector_pointer(md);
		/* the code point index of the match */
		cpidx += AggUtf8Count(s + cppos, (uint32_t) (ov[0] - cppos));
		cppos = ov[0];
		if (data->mode == AGG_REGEX_FIND)
		{
			bson_t		doc = BSON_INITIALIZER;

			AggRegexMatchDoc(&doc, s, ov, (int) ngroups, (int32_t) cpidx);
			AggSetFromBson(cx, out, &doc, false);
			bson_destroy(&doc);
			bson_destroy(&all);
			return true;
		}
		snprintf(key, sizeof(key), "%u", nfound++);
		{
			bson_t		doc;

			bson_append_document_begin(&all, key, -1, &doc);
			AggRegexMatchDoc(&doc, s, ov, (int) ngroups, (int32_t) cpidx);
			bson_append_document_end(&all, &doc);
		}
		if (all.len > AGG_REGEX_FIND_ALL_MAX)
		{
			ok = AggExprFail(error, 51151,
							 "$regexFindAll: the size of buffer to store output exceeded the 64MB limit");
			break;
		}
		if (ov[1] > ov[0])
			pos = ov[1];
		else if (ov[0] >= len)
			break;
		else
			pos = AggUtf8Next(s, len, (uint32_t) ov[0]);
	} while (pos < len);

	if (ok)
	{
		if (data->mode == AGG_REGEX_MATCH)
			AggSetBool(out, false);
		else if (data->mode == AGG_REGEX_FIND)
			AggSetNull(out);
		else
			AggSetFromBson(cx, out, &all, true);
	}
	bson_destroy(&all);
	return ok;
}

const AggExprOp AggExprOpsString[] = {
	{"$concat", AggConcat, NULL, 0, -1},
	{"$substr", AggSubstrBytes, NULL, 3, 3},
	{"$substrBytes", AggSubstrBytes, NULL, 3, 3},
	{"$substrCP", AggSubstrCP, NULL, 3, 3},
	{"$strLenBytes", AggStrLenBytes, NULL, 1, 1},
	{"$strLenCP", AggStrLenCP, NULL, 1, 1},
	{"$toLower", AggToLower, NULL, 1, 1},
	{"$toUpper", AggToUpper, NULL, 1, 1},
	{"$strcasecmp", AggStrcasecmp, NULL, 2, 2},
	{"$trim", AggTrimBoth, AggTrimParse, 0, -1},
	{"$ltrim", AggTrimLeft, AggTrimParse, 0, -1},
	{"$rtrim", AggTrimRight, AggTrimParse, 0, -1},
	{"$split", AggSplit, NULL, 2, 2},
	{"$indexOfBytes", AggIndexOfBytes, AggIndexOfParse, 2, 4},
	{"$indexOfCP", AggIndexOfCP, AggIndexOfParse, 2, 4},
	{"$replaceOne", AggReplaceOne, AggReplaceParse, 0, -1},
	{"$replaceAll", AggReplaceAll, AggReplaceParse, 0, -1},
	{"$regexMatch", AggRegexEval, AggRegexMatchParse, 0, -1},
	{"$regexFind", AggRegexEval, AggRegexFindParse, 0, -1},
	{"$regexFindAll", AggRegexEval, AggRegexFindAllParse, 0, -1},
	{NULL}
};
