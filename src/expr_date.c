/*-------------------------------------------------------------------------
 *
 * expr_date.c
 *	  Date expression operators: the date parts ($year, $month, ...,
 *	  $isoWeek), $dateToString, $dateFromString, $dateToParts,
 *	  $dateFromParts, $dateAdd, $dateSubtract, $dateDiff, $dateTrunc,
 *	  $tsSecond and $tsIncrement.
 *
 * Design note
 * -----------
 * A date is a count of milliseconds since the epoch (UTC), an int64 that
 * may be anywhere in its range.  Calendar work happens on a "local time":
 * a day number (days since 1970-01-01 in the proleptic Gregorian
 * calendar) and the milliseconds into that day, so that no arithmetic
 * overflows even at +-2^63 ms.  The time zone gives the offset to add to
 * a UTC instant to get the local time; a fixed offset ("+05:30") needs
 * nothing more, an Olson name ("Europe/Paris") asks ICU for the offset at
 * that instant (ICU holds the tz database; we do not).  Going from a
 * local time back to UTC asks ICU for the offset of a local time: a time
 * skipped by a DST change takes the offset from before it, a repeated
 * time its first occurrence.
 *
 * The operators take MongoDB's argument forms and validate the same way,
 * with the same codes: the date parts accept an expression, a one-element
 * array or {date, timezone}; the others take a document of named
 * arguments, checked when parsing.  A null or missing argument gives null
 * (or onNull); dates may also be given as timestamps or ObjectIds.
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include <math.h>

#include <unicode/ucal.h>
#include <unicode/ustring.h>

#include "common/int.h"
#include "lib/stringinfo.h"

#include "bson_decimal.h"
#include "expr_internal.h"

#define MS_PER_SECOND	INT64CONST(1000)
#define MS_PER_MINUTE	INT64CONST(60000)
#define MS_PER_HOUR		INT64CONST(3600000)
#define MS_PER_DAY		INT64CONST(86400000)

/* MongoDB's codes shared by the date operators */
#define AGG_ERR_DATE_TYPE		16006	/* can't convert to Date */
#define AGG_ERR_TZ_TYPE			40517
#define AGG_ERR_TZ_UNKNOWN		40485
#define AGG_ERR_CONVERSION		241
#define AGG_ERR_UNIT_TYPE		5439013
#define AGG_ERR_SOW_TYPE		5439015
#define AGG_ERR_SOW_VALUE		5439016

/* ---- integer helpers ---- */

/* floor(a / b) for b > 0 */
static inline int64_t
AggFloorDiv(int64_t a, int64_t b)
{
	int64_t		q = a / b;

	if ((a % b) != 0 && a < 0)
		q--;
	return q;
}

/* a mod b in [0, b) for b > 0 */
static inline int64_t
AggFloorMod(int64_t a, int64_t b)
{
	int64_t		r = a % b;

	return r < 0 ? r + b : r;
}

/*
 * A number that is an integer exactly (1.0 is, 1.5 and NaN are not) and
 * fits an int64.
 */
static bool
AggValueToInt64Exact(const bson_value_t *v, int64_t *out)
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

				/* 2^63 itself is out of range, -2^63 is in */
				if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0) ||
					d != floor(d))
					return false;
				*out = (int64_t) d;
				return true;
			}
		case BSON_TYPE_DECIMAL128:
			{
				BsonDecimal d;
				BsonDecimal back;

				BsonDecodeDecimal128(&v->value.v_decimal128, &d);
				if (!AggDecimalToInt64(&d, out))
					return false;
				BsonDecimalFromInt64(*out, &back);
				return BsonDecimalEqual(&d, &back);
			}
		default:
			return false;
	}
}

/* ---- the calendar ---- */

/* A local time: a day number and the milliseconds into it */
typedef struct AggLocalTime
{
	int64_t		days;
	int64_t		ms;				/* [0, MS_PER_DAY) */
} AggLocalTime;

/* The parts of a local time */
typedef struct AggDateParts
{
	int64_t		year;
	int			month;			/* 1-12 */
	int			day;			/* 1-31 */
	int			hour;
	int			minute;
	int			second;
	int			millisecond;
	int			dow;			/* 0 = Sunday */
	int			doy;			/* 1-366 */
	int64_t		iso_year;
	int			iso_week;		/* 1-53 */
	int			iso_dow;		/* 1 = Monday */
	int			week;			/* 0-53, weeks starting on Sunday */
} AggDateParts;

static const int agg_month_days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

static bool
AggIsLeap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
AggDaysInMonth(int64_t y, int m)
{
	return m == 2 && AggIsLeap(y) ? 29 : agg_month_days[m - 1];
}

/* Day of the week of a day number (0 = Sunday; 1970-01-01 was a Thursday) */
static int
AggDayOfWeek(int64_t days)
{
	return (int) AggFloorMod(days + 4, 7);
}

/* The day number of the Monday of ISO week 1 of a year */
static int64_t
AggIsoWeekOneMonday(int64_t iso_year)
{
	int64_t		jan4 = AggDaysFromCivil(iso_year, 1, 4);
	int			dow = AggDayOfWeek(jan4);

	return jan4 - (dow == 0 ? 6 : dow - 1);
}

static void
AggSplitLocal(const AggLocalTime *t, AggDateParts *p)
{
	int64_t		thursday;

	AggCivilFromDays(t->days, &p->year, &p->month, &p->day);
	p->hour = (int) (t->ms / MS_PER_HOUR);
	p->minute = (int) (t->ms / MS_PER_MINUTE % 60);
	p->second = (int) (t->ms / MS_PER_SECOND % 60);
	p->millisecond = (int) (t->ms % 1000);
	p->dow = AggDayOfWeek(t->days);
	p->doy = (int) (t->days - AggDaysFromCivil(p->year, 1, 1) + 1);
	p->iso_dow = p->dow == 0 ? 7 : p->dow;
	/* the ISO week is the one of its Thursday */
	thursday = t->days - (p->iso_dow - 1) + 3;
	{
		int64_t		ty;
		int			tm;
		int			td;

		AggCivilFromDays(thursday, &ty, &tm, &td);
		p->iso_year = ty;
		p->iso_week = (int) ((thursday - AggDaysFromCivil(ty, 1, 1)) / 7 + 1);
	}
	p->week = (p->doy - 1 + 7 - p->dow) / 7;
}

/* ---- time zones ---- */

typedef struct AggTimeZone
{
	bool		utc;			/* UTC itself (the default) */
	int64_t		offset_ms;		/* a fixed offset */
	UCalendar  *cal;			/* an Olson zone (cached, not owned) */
} AggTimeZone;

/*
 * Calendars of the zones used lately, kept open: opening one reads the tz
 * database.  A small round-robin cache for the life of the process.
 */
#define AGG_TZ_CACHE_SIZE	16
#define AGG_TZ_NAME_MAX		64

typedef struct AggTzCacheEntry
{
	char		name[AGG_TZ_NAME_MAX];
	UCalendar  *cal;
} AggTzCacheEntry;

static AggTzCacheEntry agg_tz_cache[AGG_TZ_CACHE_SIZE];
static int	agg_tz_cache_next;

/* ICU's range of instants; offsets beyond it are those at its ends */
#define AGG_ICU_MIN_MS	(-1.8e17)
#define AGG_ICU_MAX_MS	(1.8e17)

/* An Olson zone's calendar; NULL when ICU does not know the name as such */
static UCalendar *
AggOlsonZone(const char *name, uint32_t len)
{
	UChar		uname[AGG_TZ_NAME_MAX];
	UChar		canonical[AGG_TZ_NAME_MAX * 2];
	UChar		id[AGG_TZ_NAME_MAX * 2];
	UBool		system = false;
	UErrorCode	status = U_ZERO_ERROR;
	UCalendar  *cal;
	int32_t		idlen;

	if (len == 0 || len >= AGG_TZ_NAME_MAX)
		return NULL;
	/* tz names are ASCII letters, digits and _ / + - */
	for (uint32_t i = 0; i < len; i++)
	{
		char		c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			  c == '_' || c == '/' || c == '+' || c == '-'))
			return NULL;
	}
	for (int i = 0; i < AGG_TZ_CACHE_SIZE; i++)
		if (agg_tz_cache[i].cal != NULL && strlen(agg_tz_cache[i].name) == len &&
			memcmp(agg_tz_cache[i].name, name, len) == 0)
			return agg_tz_cache[i].cal;

	u_charsToUChars(name, uname, (int32_t) len);
	ucal_getCanonicalTimeZoneID(uname, (int32_t) len, canonical, lengthof(canonical),
								&system, &status);
	if (U_FAILURE(status) || !system)
		return NULL;
	cal = ucal_open(uname, (int32_t) len, "", UCAL_GREGORIAN, &status);
	if (U_FAILURE(status) || cal == NULL)
		return NULL;
	/* ICU falls back to a default zone: the name must be the zone's own */
	idlen = ucal_getTimeZoneID(cal, id, lengthof(id), &status);
	if (U_FAILURE(status) || idlen != (int32_t) len || u_memcmp(id, uname, idlen) != 0)
	{
		ucal_close(cal);
		return NULL;
	}
	/* the proleptic Gregorian calendar throughout */
	ucal_setGregorianChange(cal, -1.8e17, &status);

	if (agg_tz_cache[agg_tz_cache_next].cal != NULL)
		ucal_close(agg_tz_cache[agg_tz_cache_next].cal);
	memcpy(agg_tz_cache[agg_tz_cache_next].name, name, len);
	agg_tz_cache[agg_tz_cache_next].name[len] = '\0';
	agg_tz_cache[agg_tz_cache_next].cal = cal;
	agg_tz_cache_next = (agg_tz_cache_next + 1) % AGG_TZ_CACHE_SIZE;
	return cal;
}

static bool
AggTwoDigits(const char *s, int *out)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return false;
	*out = (s[0] - '0') * 10 + (s[1] - '0');
	return true;
}

/*
 * A time zone by name: an Olson name, or an offset +HH, +HHMM or +HH:MM
 * (any two digits each, as MongoDB takes them).
 */
static bool
AggTimeZoneLookup(const char *name, uint32_t len, AggTimeZone *tz)
{
	memset(tz, 0, sizeof(*tz));
	if (len > 0 && (name[0] == '+' || name[0] == '-'))
	{
		int			hh;
		int			mm = 0;
		int			sign = name[0] == '-' ? -1 : 1;

		if (len != 3 && len != 5 && len != 6)
			return false;
		if (!AggTwoDigits(name + 1, &hh))
			return false;
		if (len == 5 && !AggTwoDigits(name + 3, &mm))
			return false;
		if (len == 6 && (name[3] != ':' || !AggTwoDigits(name + 4, &mm)))
			return false;
		tz->offset_ms = sign * (hh * MS_PER_HOUR + mm * MS_PER_MINUTE);
		return true;
	}
	if (len == 3 && memcmp(name, "UTC", 3) == 0)
	{
		tz->utc = true;
		return true;
	}
	tz->cal = AggOlsonZone(name, len);
	return tz->cal != NULL;
}

/* The offset of a zone at a UTC instant */
static int64_t
AggZoneOffset(const AggTimeZone *tz, int64_t utc)
{
	UErrorCode	status = U_ZERO_ERROR;
	double		t = (double) utc;
	int32_t		zone;
	int32_t		dst;

	if (tz->cal == NULL)
		return tz->offset_ms;
	t = Max(AGG_ICU_MIN_MS, Min(AGG_ICU_MAX_MS, t));
	ucal_setMillis(tz->cal, t, &status);
	zone = ucal_get(tz->cal, UCAL_ZONE_OFFSET, &status);
	dst = ucal_get(tz->cal, UCAL_DST_OFFSET, &status);
	if (U_FAILURE(status))
		return 0;
	return (int64_t) zone + dst;
}

/* The local time of a UTC instant */
static void
AggToLocal(const AggTimeZone *tz, int64_t utc, AggLocalTime *t)
{
	t->days = AggFloorDiv(utc, MS_PER_DAY);
	t->ms = AggFloorMod(utc, MS_PER_DAY) + AggZoneOffset(tz, utc);
	t->days += AggFloorDiv(t->ms, MS_PER_DAY);
	t->ms = AggFloorMod(t->ms, MS_PER_DAY);
}

/* The parts of a UTC instant in a zone */
static void
AggDateSplit(const AggTimeZone *tz, int64_t utc, AggDateParts *p)
{
	AggLocalTime t;

	AggToLocal(tz, utc, &t);
	AggSplitLocal(&t, p);
}

/*
 * The UTC instant of a local time (days may be out of the usual range,
 * ms anything); false when it is out of range of a date.
 */
static bool
AggFromLocal(const AggTimeZone *tz, int64_t days, int64_t ms, int64_t *utc)
{
	int64_t		local;
	int64_t		offset;

	if (pg_mul_s64_overflow(days, MS_PER_DAY, &local) ||
		pg_add_s64_overflow(local, ms, &local))
		return false;
	if (tz->cal != NULL)
	{
		UErrorCode	status = U_ZERO_ERROR;
		int32_t		raw = 0;
		int32_t		dst = 0;
		double		t = Max(AGG_ICU_MIN_MS, Min(AGG_ICU_MAX_MS, (double) local));

		ucal_setMillis(tz->cal, t, &status);
		ucal_getTimeZoneOffsetFromLocal(tz->cal, UCAL_TZ_LOCAL_FORMER, UCAL_TZ_LOCAL_FORMER,
										&raw, &dst, &status);
		offset = U_FAILURE(status) ? 0 : (int64_t) raw + dst;
	}
	else
		offset = tz->offset_ms;
	return !pg_sub_s64_overflow(local, offset, utc);
}

/* ---- argument helpers ---- */

/*
 * A date argument: a date, a timestamp (its seconds) or an ObjectId (its
 * creation time, seconds as a signed int32).
 */
static bool
AggDateValue(const bson_value_t *v, int64_t *ms)
{
	switch (v->value_type)
	{
		case BSON_TYPE_DATE_TIME:
			*ms = v->value.v_datetime;
			return true;
		case BSON_TYPE_TIMESTAMP:
			*ms = (int64_t) v->value.v_timestamp.timestamp * 1000;
			return true;
		case BSON_TYPE_OID:
			{
				const uint8_t *b = v->value.v_oid.bytes;
				int32_t		secs = (int32_t) (((uint32_t) b[0] << 24) | ((uint32_t) b[1] << 16) |
											  ((uint32_t) b[2] << 8) | b[3]);

				*ms = (int64_t) secs * 1000;
				return true;
			}
		default:
			return false;
	}
}

/* A date for the date parts, $dateToString and $dateToParts (16006) */
static bool
AggCoerceDate(const bson_value_t *v, int64_t *ms, BsonQueryError *error)
{
	if (!AggDateValue(v, ms))
		return AggExprFail(error, AGG_ERR_DATE_TYPE, "can't convert from BSON type %s to Date",
						   AggTypeName(v));
	return true;
}

/*
 * Evaluate a timezone argument (NULL: UTC).  *isnull when it is null or
 * missing (the operator's result is then null).
 */
static bool
AggEvalTimeZone(const AggExpr *arg, const char *opname, AggExprContext *cx, AggTimeZone *tz,
				bool *isnull, BsonQueryError *error)
{
	bson_value_t v;

	*isnull = false;
	memset(tz, 0, sizeof(*tz));
	tz->utc = true;
	if (arg == NULL)
		return true;
	if (!AggExprEval(arg, cx, &v, error))
		return false;
	if (AggValueNullish(&v))
	{
		*isnull = true;
		return true;
	}
	if (v.value_type != BSON_TYPE_UTF8)
		return AggExprFail(error, AGG_ERR_TZ_TYPE,
						   "%s: timezone must evaluate to a string, found %s", opname,
						   AggTypeName(&v));
	if (!AggTimeZoneLookup(v.value.v_utf8.str, v.value.v_utf8.len, tz))
		return AggExprFail(error, AGG_ERR_TZ_UNKNOWN, "unrecognized time zone identifier: \"%s\"",
						   v.value.v_utf8.str);
	return true;
}

/*
 * Parse a document of named arguments into e->args (by the position of
 * the name in names; absent ones stay NULL).
 */
static bool
AggParseNamedArgs(AggExprParser *p, AggExpr *e, const bson_iter_t *arg,
				  const char *const *names, int nnames, int not_object_code,
				  int unknown_code)
{
	const char *key;

	if (!BSON_ITER_HOLDS_DOCUMENT(arg))
		return AggExprFail(p->error, not_object_code,
						   "%s only supports an object as its argument", e->op->name);
	if (AggParseArgsByName(p, e, arg, names, nnames, &key))
		return true;
	if (key)
		AggExprFail(p->error, unknown_code, "Unrecognized argument to %s: %s", e->op->name, key);
	return false;
}

static bool
AggRequireArg(AggExprParser *p, AggExpr *e, int i, const char *name, int code)
{
	if (e->args[i] == NULL)
		return AggExprFail(p->error, code, "Missing '%s' parameter to %s", name, e->op->name);
	return true;
}

/* Time units of $dateAdd, $dateDiff and $dateTrunc */
typedef enum AggTimeUnit
{
	AGG_UNIT_YEAR,
	AGG_UNIT_QUARTER,
	AGG_UNIT_MONTH,
	AGG_UNIT_WEEK,
	AGG_UNIT_DAY,
	AGG_UNIT_HOUR,
	AGG_UNIT_MINUTE,
	AGG_UNIT_SECOND,
	AGG_UNIT_MILLISECOND
} AggTimeUnit;

static const char *const agg_unit_names[] = {
	"year", "quarter", "month", "week", "day", "hour", "minute", "second", "millisecond"
};

static const int64_t agg_unit_ms[] = {
	0, 0, 0, 7 * MS_PER_DAY, MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, MS_PER_SECOND, 1
};

/* A unit argument's value (5439013 when not a string, 9 when unknown) */
static bool
AggTimeUnitValue(const char *opname, const bson_value_t *v, AggTimeUnit *unit,
				 BsonQueryError *error)
{
	if (v->value_type != BSON_TYPE_UTF8)
		return AggExprFail(error, AGG_ERR_UNIT_TYPE, "%s requires 'unit' to be a string, but got %s",
						   opname, AggTypeName(v));
	for (int i = 0; i < (int) lengthof(agg_unit_names); i++)
		if (strcmp(v->value.v_utf8.str, agg_unit_names[i]) == 0 &&
			strlen(agg_unit_names[i]) == v->value.v_utf8.len)
		{
			*unit = (AggTimeUnit) i;
			return true;
		}
	return AggExprFail(error, MONGO_FAILED_TO_PARSE, "%s parameter 'unit' value parsing failed :: caused by :: unknown time unit value: %s",
					   opname, v->value.v_utf8.str);
}

/* A startOfWeek argument's value: a day name, 0 = Sunday */
static bool
AggStartOfWeekValue(const char *opname, const bson_value_t *v, int *dow, BsonQueryError *error)
{
	static const char *const names[] = {
		"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"
	};

	if (v->value_type != BSON_TYPE_UTF8)
		return AggExprFail(error, AGG_ERR_SOW_TYPE,
						   "%s requires 'startOfWeek' to be a string, but got %s", opname,
						   AggTypeName(v));
	for (int i = 0; i < 7; i++)
		if (pg_strcasecmp(v->value.v_utf8.str, names[i]) == 0 ||
			(v->value.v_utf8.len == 3 && pg_strncasecmp(v->value.v_utf8.str, names[i], 3) == 0))
		{
			*dow = i;
			return true;
		}
	return AggExprFail(error, AGG_ERR_SOW_VALUE,
					   "%s parameter 'startOfWeek' value cannot be recognized as a day of a week: %s",
					   opname, v->value.v_utf8.str);
}

static void
AggSetDate(bson_value_t *out, int64_t ms)
{
	out->value_type = BSON_TYPE_DATE_TIME;
	out->value.v_datetime = ms;
}

/* ---- $year, $month, ... ---- */

/*
 * The date parts take an expression, an array of one, or {date,
 * timezone}: args[0] is the date, args[1] the timezone (or NULL).
 */
static bool
AggDatePartParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	e->nargs = 2;
	e->args = AggParseAlloc(p, sizeof(AggExpr *) * 2);
	if (BSON_ITER_HOLDS_ARRAY(arg))
	{
		bson_iter_t it;
		int			n = 0;

		bson_iter_recurse(arg, &it);
		while (bson_iter_next(&it))
			n++;
		if (n != 1)
			return AggExprFail(p->error, 40536, "%s takes exactly 1 arguments. %d were passed in.",
							   e->op->name, n);
		bson_iter_recurse(arg, &it);
		bson_iter_next(&it);
		return (e->args[0] = AggExprParseSub(p, &it)) != NULL;
	}
	if (BSON_ITER_HOLDS_DOCUMENT(arg))
	{
		bson_iter_t it;

		bson_iter_recurse(arg, &it);
		if (bson_iter_next(&it) && bson_iter_key(&it)[0] == '$')
			return (e->args[0] = AggExprParseSub(p, arg)) != NULL;
		bson_iter_recurse(arg, &it);
		while (bson_iter_next(&it))
		{
			const char *key = bson_iter_key(&it);
			int			i;

			if (strcmp(key, "date") == 0)
				i = 0;
			else if (strcmp(key, "timezone") == 0)
				i = 1;
			else
				return AggExprFail(p->error, 40535, "unrecognized option to %s: \"%s\"",
								   e->op->name, key);
			if ((e->args[i] = AggExprParseSub(p, &it)) == NULL)
				return false;
		}
		if (e->args[0] == NULL)
			return AggExprFail(p->error, 40539, "missing 'date' argument to %s, provided: %s",
							   e->op->name, "{}");
		return true;
	}
	return (e->args[0] = AggExprParseSub(p, arg)) != NULL;
}

static bool
AggDatePart(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	const char *name = e->op->name;
	bson_value_t date;
	AggTimeZone tz;
	bool		isnull;
	int64_t		ms;
	AggDateParts p;

	if (!AggEvalArg(e, 0, cx, &date, error))
		return false;
	if (!AggEvalTimeZone(e->args[1], name, cx, &tz, &isnull, error))
		return false;
	if (isnull || AggValueNullish(&date))
	{
		AggSetNull(out);
		return true;
	}
	if (!AggCoerceDate(&date, &ms, error))
		return false;
	AggDateSplit(&tz, ms, &p);
	if (strcmp(name, "$year") == 0)
		AggSetInt32(out, (int32_t) p.year);
	else if (strcmp(name, "$month") == 0)
		AggSetInt32(out, p.month);
	else if (strcmp(name, "$dayOfMonth") == 0)
		AggSetInt32(out, p.day);
	else if (strcmp(name, "$dayOfWeek") == 0)
		AggSetInt32(out, p.dow + 1);
	else if (strcmp(name, "$dayOfYear") == 0)
		AggSetInt32(out, p.doy);
	else if (strcmp(name, "$hour") == 0)
		AggSetInt32(out, p.hour);
	else if (strcmp(name, "$minute") == 0)
		AggSetInt32(out, p.minute);
	else if (strcmp(name, "$second") == 0)
		AggSetInt32(out, p.second);
	else if (strcmp(name, "$millisecond") == 0)
		AggSetInt32(out, p.millisecond);
	else if (strcmp(name, "$week") == 0)
		AggSetInt32(out, p.week);
	else if (strcmp(name, "$isoWeek") == 0)
		AggSetInt32(out, p.iso_week);
	else if (strcmp(name, "$isoWeekYear") == 0)
		AggSetInt64(out, p.iso_year);
	else
		AggSetInt32(out, p.iso_dow);
	/* $isoWeekYear is a long in MongoDB only beyond int range */
	if (out->value_type == BSON_TYPE_INT64 && out->value.v_int64 >= INT32_MIN &&
		out->value.v_int64 <= INT32_MAX)
		AggSetInt32(out, (int32_t) out->value.v_int64);
	return true;
}

/* ---- $dateToString ---- */

enum
{
	D2S_DATE, D2S_FORMAT, D2S_TIMEZONE, D2S_ON_NULL, D2S_NARGS
};

static const char *const d2s_names[] = {"date", "format", "timezone", "onNull"};

static bool
AggDateToStringParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	if (!AggParseNamedArgs(p, e, arg, d2s_names, D2S_NARGS, 18629, 18534))
		return false;
	return AggRequireArg(p, e, D2S_DATE, "date", 18628);
}

static const char *const agg_month_names[] = {
	"January", "February", "March", "April", "May", "June", "July", "August",
	"September", "October", "November", "December"
};

/* Check a format string (18535, 18536); the specifiers MongoDB knows */
static bool
AggCheckFormat(const char *f, uint32_t len, const char *allowed, BsonQueryError *error)
{
	for (uint32_t i = 0; i < len; i++)
	{
		if (f[i] != '%')
			continue;
		if (i + 1 >= len)
			return AggExprFail(error, 18535, "Unmatched '%%' at end of format string");
		if (f[i + 1] == '\0' || strchr(allowed, f[i + 1]) == NULL)
			return AggExprFail(error, 18536, "Invalid format character '%%%c' in format string",
							   f[i + 1]);
		i++;
	}
	return true;
}

#define AGG_FORMAT_OUT_SPECS	"dGHjLmMSuUVwYzZbB%"

static bool
AggAppendYear(StringInfo buf, int64_t y, BsonQueryError *error)
{
	if (y < 0 || y > 9999)
		return AggExprFail(error, 18537,
						   "Could not convert date to string: date component was outside the supported range of 0-9999: %lld",
						   (long long) y);
	appendStringInfo(buf, "%04d", (int) y);
	return true;
}

/* Format a date by a (checked) format string */
static bool
AggFormatDateString(const AggTimeZone *tz, int64_t ms, const char *f, uint32_t len,
					StringInfo buf, BsonQueryError *error)
{
	AggDateParts p;
	int64_t		offset = AggZoneOffset(tz, ms);
	int64_t		offmin = offset / MS_PER_MINUTE;

	AggDateSplit(tz, ms, &p);
	for (uint32_t i = 0; i < len; i++)
	{
		if (f[i] != '%')
		{
			appendStringInfoChar(buf, f[i]);
			continue;
		}
		i++;
		switch (f[i])
		{
			case 'd':
				appendStringInfo(buf, "%02d", p.day);
				break;
			case 'G':
				if (!AggAppendYear(buf, p.iso_year, error))
					return false;
				break;
			case 'H':
				appendStringInfo(buf, "%02d", p.hour);
				break;
			case 'j':
				appendStringInfo(buf, "%03d", p.doy);
				break;
			case 'L':
				appendStringInfo(buf, "%03d", p.millisecond);
				break;
			case 'm':
				appendStringInfo(buf, "%02d", p.month);
				break;
			case 'M':
				appendStringInfo(buf, "%02d", p.minute);
				break;
			case 'S':
				appendStringInfo(buf, "%02d", p.second);
				break;
			case 'u':
				appendStringInfo(buf, "%d", p.iso_dow);
				break;
			case 'U':
				appendStringInfo(buf, "%02d", p.week);
				break;
			case 'V':
				appendStringInfo(buf, "%02d", p.iso_week);
				break;
			case 'w':
				appendStringInfo(buf, "%d", p.dow + 1);
				break;
			case 'Y':
				if (!AggAppendYear(buf, p.year, error))
					return false;
				break;
			case 'z':
				{
					int64_t		a = offmin < 0 ? -offmin : offmin;

					appendStringInfo(buf, "%c%02d%02d", offmin < 0 ? '-' : '+',
									 (int) (a / 60), (int) (a % 60));
					break;
				}
			case 'Z':
				appendStringInfo(buf, "%lld", (long long) offmin);
				break;
			case 'b':
				appendBinaryStringInfo(buf, agg_month_names[p.month - 1], 3);
				break;
			case 'B':
				appendStringInfoString(buf, agg_month_names[p.month - 1]);
				break;
			case '%':
				appendStringInfoChar(buf, '%');
				break;
		}
	}
	return true;
}

static bool
AggDateToString(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t date;
	bson_value_t format;
	AggTimeZone tz;
	bool		isnull;
	const char *f;
	uint32_t	flen;
	int64_t		ms;
	StringInfoData buf;

	format.value_type = BSON_TYPE_EOD;
	if (e->args[D2S_FORMAT] != NULL && !AggEvalArg(e, D2S_FORMAT, cx, &format, error))
		return false;
	if (!AggEvalArg(e, D2S_DATE, cx, &date, error))
		return false;
	if (!AggEvalTimeZone(e->args[D2S_TIMEZONE], "$dateToString", cx, &tz, &isnull, error))
		return false;
	if (isnull)
	{
		AggSetNull(out);
		return true;
	}
	if (e->args[D2S_FORMAT] != NULL)
	{
		if (AggValueNullish(&format))
		{
			AggSetNull(out);
			return true;
		}
		if (format.value_type != BSON_TYPE_UTF8)
			return AggExprFail(error, 18533,
							   "$dateToString requires that 'format' be a string, found: %s with value %s",
							   AggTypeName(&format), AggValueText(cx, &format));
		f = format.value.v_utf8.str;
		flen = format.value.v_utf8.len;
		if (!AggCheckFormat(f, flen, AGG_FORMAT_OUT_SPECS, error))
			return false;
	}
	else
	{
		f = tz.utc ? "%Y-%m-%dT%H:%M:%S.%LZ" : "%Y-%m-%dT%H:%M:%S.%L";
		flen = strlen(f);
	}
	if (AggValueNullish(&date))
	{
		if (e->args[D2S_ON_NULL] != NULL)
			return AggEvalArg(e, D2S_ON_NULL, cx, out, error);
		AggSetNull(out);
		return true;
	}
	if (!AggCoerceDate(&date, &ms, error))
		return false;
	initStringInfo(&buf);
	if (!AggFormatDateString(&tz, ms, f, flen, &buf, error))
	{
		pfree(buf.data);
		return false;
	}
	AggSetString(cx, out, buf.data, buf.len);
	pfree(buf.data);
	return true;
}

/* ---- $dateToParts ---- */

enum
{
	D2P_DATE, D2P_TIMEZONE, D2P_ISO, D2P_NARGS
};

static const char *const d2p_names[] = {"date", "timezone", "iso8601"};

static bool
AggDateToPartsParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	if (!AggParseNamedArgs(p, e, arg, d2p_names, D2P_NARGS, 40524, 40520))
		return false;
	return AggRequireArg(p, e, D2P_DATE, "date", 40522);
}

static void
AggAppendPart(bson_t *doc, const char *key, int64_t v)
{
	if (v >= INT32_MIN && v <= INT32_MAX)
		bson_append_int32(doc, key, -1, (int32_t) v);
	else
		bson_append_int64(doc, key, -1, v);
}

static bool
AggDateToParts(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t date;
	bson_value_t iso;
	AggTimeZone tz;
	bool		isnull;
	bool		iso8601 = false;
	int64_t		ms;
	AggDateParts p;
	bson_t		doc = BSON_INITIALIZER;

	if (!AggEvalArg(e, D2P_DATE, cx, &date, error))
		return false;
	if (!AggEvalTimeZone(e->args[D2P_TIMEZONE], "$dateToParts", cx, &tz, &isnull, error))
		return false;
	if (isnull)
	{
		AggSetNull(out);
		return true;
	}
	if (e->args[D2P_ISO] != NULL)
	{
		if (!AggEvalArg(e, D2P_ISO, cx, &iso, error))
			return false;
		if (AggValueNullish(&iso))
		{
			AggSetNull(out);
			return true;
		}
		if (iso.value_type != BSON_TYPE_BOOL)
			return AggExprFail(error, 40521, "iso8601 must evaluate to a bool, found %s",
							   AggTypeName(&iso));
		iso8601 = iso.value.v_bool;
	}
	if (AggValueNullish(&date))
	{
		AggSetNull(out);
		return true;
	}
	if (!AggCoerceDate(&date, &ms, error))
		return false;
	AggDateSplit(&tz, ms, &p);
	if (iso8601)
	{
		AggAppendPart(&doc, "isoWeekYear", p.iso_year);
		AggAppendPart(&doc, "isoWeek", p.iso_week);
		AggAppendPart(&doc, "isoDayOfWeek", p.iso_dow);
	}
	else
	{
		AggAppendPart(&doc, "year", p.year);
		AggAppendPart(&doc, "month", p.month);
		AggAppendPart(&doc, "day", p.day);
	}
	AggAppendPart(&doc, "hour", p.hour);
	AggAppendPart(&doc, "minute", p.minute);
	AggAppendPart(&doc, "second", p.second);
	AggAppendPart(&doc, "millisecond", p.millisecond);
	AggSetFromBson(cx, out, &doc, false);
	bson_destroy(&doc);
	return true;
}

/* ---- $dateFromParts ---- */

enum
{
	DFP_YEAR, DFP_MONTH, DFP_DAY, DFP_HOUR, DFP_MINUTE, DFP_SECOND, DFP_MILLISECOND,
	DFP_ISO_YEAR, DFP_ISO_WEEK, DFP_ISO_DOW, DFP_TIMEZONE, DFP_NARGS
};

static const char *const dfp_names[] = {
	"year", "month", "day", "hour", "minute", "second", "millisecond",
	"isoWeekYear", "isoWeek", "isoDayOfWeek", "timezone"
};

static bool
AggDateFromPartsParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	bool		natural;
	bool		iso;

	if (!AggParseNamedArgs(p, e, arg, dfp_names, DFP_NARGS, 40519, 40518))
		return false;
	natural = e->args[DFP_YEAR] != NULL || e->args[DFP_MONTH] != NULL ||
		e->args[DFP_DAY] != NULL;
	iso = e->args[DFP_ISO_YEAR] != NULL || e->args[DFP_ISO_WEEK] != NULL ||
		e->args[DFP_ISO_DOW] != NULL;
	if (natural && iso)
		return AggExprFail(p->error, 40489,
						   "$dateFromParts does not allow mixing natural dates with ISO dates");
	if (e->args[DFP_YEAR] == NULL && e->args[DFP_ISO_YEAR] == NULL)
		return AggExprFail(p->error, 40516,
						   "$dateFromParts requires either 'year' or 'isoWeekYear' to be present");
	return true;
}

static bool
AggDateFromParts(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	int64_t		part[DFP_TIMEZONE];
	static const int64_t defaults[] = {1970, 1, 1, 0, 0, 0, 0, 1970, 1, 1};
	AggTimeZone tz;
	bool		isnull;
	bool		iso = e->args[DFP_ISO_YEAR] != NULL;
	int64_t		days;
	int64_t		ms;
	int64_t		result;

	for (int i = 0; i < DFP_TIMEZONE; i++)
	{
		bson_value_t v;

		part[i] = defaults[i];
		if (e->args[i] == NULL)
			continue;
		if (!AggEvalArg(e, i, cx, &v, error))
			return false;
		if (AggValueNullish(&v))
		{
			AggSetNull(out);
			return true;
		}
		if (!AggValueIsNumber(&v) || !AggValueToInt64Exact(&v, &part[i]))
			return AggExprFail(error, 40515, "'%s' must evaluate to an integer, found %s with value %s",
							   dfp_names[i], AggTypeName(&v), AggValueText(cx, &v));
		if (i == DFP_YEAR || i == DFP_ISO_YEAR)
		{
			if (part[i] < 1 || part[i] > 9999)
				return AggExprFail(error, i == DFP_YEAR ? 40523 : 31095,
								   "'%s' must evaluate to an integer in the range 1 to 9999, found %lld",
								   dfp_names[i], (long long) part[i]);
		}
		else if (part[i] < -32768 || part[i] > 32767)
			return AggExprFail(error, 31034,
							   "'%s' must evaluate to a value in the range [-32768, 32767]; value %lld is not in range",
							   dfp_names[i], (long long) part[i]);
	}
	if (!AggEvalTimeZone(e->args[DFP_TIMEZONE], "$dateFromParts", cx, &tz, &isnull, error))
		return false;
	if (isnull)
	{
		AggSetNull(out);
		return true;
	}
	if (iso)
		days = AggIsoWeekOneMonday(part[DFP_ISO_YEAR]) + (part[DFP_ISO_WEEK] - 1) * 7 +
			(part[DFP_ISO_DOW] - 1);
	else
	{
		int64_t		months = part[DFP_MONTH] - 1;
		int64_t		y = part[DFP_YEAR] + AggFloorDiv(months, 12);

		days = AggDaysFromCivil(y, (int) AggFloorMod(months, 12) + 1, 1) + part[DFP_DAY] - 1;
	}
	ms = part[DFP_HOUR] * MS_PER_HOUR + part[DFP_MINUTE] * MS_PER_MINUTE +
		part[DFP_SECOND] * MS_PER_SECOND + part[DFP_MILLISECOND];
	if (!AggFromLocal(&tz, days, ms, &result))
		return AggExprFail(error, 40523, "$dateFromParts: date out of range");
	AggSetDate(out, result);
	return true;
}

/* ---- $dateFromString ---- */

enum
{
	DFS_STRING, DFS_FORMAT, DFS_TIMEZONE, DFS_ON_ERROR, DFS_ON_NULL, DFS_NARGS
};

static const char *const dfs_names[] = {"dateString", "format", "timezone", "onError", "onNull"};

static bool
AggDateFromStringParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	if (!AggParseNamedArgs(p, e, arg, dfs_names, DFS_NARGS, 40540, 40541))
		return false;
	return AggRequireArg(p, e, DFS_STRING, "dateString", 40542);
}

/* What a date string gives */
typedef struct AggParsedDate
{
	int64_t		year;
	int			month;
	int			day;
	int			hour;
	int			minute;
	int			second;
	int			millisecond;
	int			doy;			/* %j: added to January 1st, as MongoDB does */
	bool		has_doy;
	int64_t		iso_year;
	int			iso_week;
	int			iso_dow;
	bool		has_year;
	bool		has_iso;
	bool		has_offset;
	int64_t		offset_ms;
	const char *zone;			/* a zone name in the string */
	uint32_t	zone_len;
} AggParsedDate;

/* Up to max digits (at least min) */
static bool
AggReadNumber(const char **s, const char *end, int min, int max, int64_t *out)
{
	int64_t		v = 0;
	int			n = 0;

	while (*s < end && n < max && **s >= '0' && **s <= '9')
	{
		v = v * 10 + (**s - '0');
		(*s)++;
		n++;
	}
	*out = v;
	return n >= min;
}

/* A month name (3 letters or the full name, any case): 1-12, 0 if none */
static int
AggReadMonthName(const char **s, const char *end)
{
	for (int m = 0; m < 12; m++)
	{
		size_t		full = strlen(agg_month_names[m]);

		if ((size_t) (end - *s) >= full && pg_strncasecmp(*s, agg_month_names[m], full) == 0)
		{
			*s += full;
			return m + 1;
		}
	}
	for (int m = 0; m < 12; m++)
		if (end - *s >= 3 && pg_strncasecmp(*s, agg_month_names[m], 3) == 0)
		{
			*s += 3;
			return m + 1;
		}
	return 0;
}

/* A zone offset: Z, +HH, +HHMM, +HH:MM */
static bool
AggReadOffset(const char **s, const char *end, AggParsedDate *d)
{
	int			sign;
	int64_t		hh;
	int64_t		mm = 0;

	if (*s < end && (**s == 'Z' || **s == 'z'))
	{
		(*s)++;
		d->has_offset = true;
		d->offset_ms = 0;
		return true;
	}
	if (*s >= end || (**s != '+' && **s != '-'))
		return false;
	sign = **s == '-' ? -1 : 1;
	(*s)++;
	if (!AggReadNumber(s, end, 2, 2, &hh))
		return false;
	if (*s < end && **s == ':')
		(*s)++;
	if (*s < end && **s >= '0' && **s <= '9' && !AggReadNumber(s, end, 2, 2, &mm))
		return false;
	d->has_offset = true;
	d->offset_ms = sign * (hh * MS_PER_HOUR + mm * MS_PER_MINUTE);
	return true;
}

/* Fractional seconds: the first three digits are milliseconds */
static void
AggReadFraction(const char **s, const char *end, AggParsedDate *d)
{
	int			scale = 100;

	while (*s < end && **s >= '0' && **s <= '9')
	{
		d->millisecond += (**s - '0') * scale;
		scale /= 10;
		(*s)++;
	}
}

/* A time: HH:MM[:SS[.fff]] */
static bool
AggReadTime(const char **s, const char *end, AggParsedDate *d)
{
	int64_t		v;

	if (!AggReadNumber(s, end, 1, 2, &v))
		return false;
	d->hour = (int) v;
	if (*s >= end || **s != ':')
		return false;
	(*s)++;
	if (!AggReadNumber(s, end, 2, 2, &v))
		return false;
	d->minute = (int) v;
	if (*s < end && **s == ':')
	{
		(*s)++;
		if (!AggReadNumber(s, end, 2, 2, &v))
			return false;
		d->second = (int) v;
		if (*s < end && (**s == '.' || **s == ','))
		{
			(*s)++;
			AggReadFraction(s, end, d);
		}
	}
	return true;
}

/* A zone after a time: an offset, "UTC"/"GMT", or an Olson name */
static bool
AggReadZone(const char **s, const char *end, AggParsedDate *d)
{
	const char *start = *s;

	if (AggReadOffset(s, end, d))
		return true;
	*s = start;
	while (*s < end && **s != ' ')
		(*s)++;
	d->zone = start;
	d->zone_len = *s - start;
	return d->zone_len > 0;
}

static const char *
AggSkipSpaces(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s;
}

/*
 * A date string without a format: ISO 8601 (YYYY-MM-DD, then a time
 * after 'T' or a space, then a zone), or "<month name> <day> <year>"
 * and an optional time, or YYYY/MM/DD.
 */
static bool
AggParseFreeDate(const char *str, uint32_t len, AggParsedDate *d)
{
	const char *s = str;
	const char *end = str + len;
	int64_t		v;

	s = AggSkipSpaces(s, end);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (s >= end)
		return false;
	if (*s >= '0' && *s <= '9')
	{
		char		sep;

		if (!AggReadNumber(&s, end, 4, 4, &d->year) || s >= end)
			return false;
		sep = *s;
		if (sep != '-' && sep != '/')
			return false;
		s++;
		if (!AggReadNumber(&s, end, 1, 2, &v) || s >= end || *s != sep)
			return false;
		d->month = (int) v;
		s++;
		if (!AggReadNumber(&s, end, 1, 2, &v))
			return false;
		d->day = (int) v;
	}
	else
	{
		int			m = AggReadMonthName(&s, end);

		if (m == 0)
			return false;
		d->month = m;
		while (s < end && *s != ' ' && *s != '-' && !(*s >= '0' && *s <= '9'))
			s++;				/* "October" read as "Oct": the rest of the word */
		s = AggSkipSpaces(s, end);
		if (s < end && *s == '-')
			s++;
		if (!AggReadNumber(&s, end, 1, 2, &v))
			return false;
		d->day = (int) v;
		if (s < end && *s == ',')
			s++;
		s = AggSkipSpaces(s, end);
		if (s < end && *s == '-')
			s++;
		if (!AggReadNumber(&s, end, 4, 4, &d->year))
			return false;
	}
	d->has_year = true;
	if (s < end)
	{
		if (*s == 'T' || *s == 't' || *s == ' ')
			s++;
		else
			return false;
		s = AggSkipSpaces(s, end);
		if (!AggReadTime(&s, end, d))
			return false;
		s = AggSkipSpaces(s, end);
		if (s < end && !AggReadZone(&s, end, d))
			return false;
		s = AggSkipSpaces(s, end);
	}
	return s == end;
}

/* MongoDB's $dateFromString format specifiers */
#define AGG_FORMAT_IN_SPECS		"dGHjLmMSuVYzZb%"

/* A date string by a (checked) format */
static bool
AggParseFormattedDate(const char *str, uint32_t len, const char *f, uint32_t flen,
					  AggParsedDate *d)
{
	const char *s = str;
	const char *end = str + len;

	for (uint32_t i = 0; i < flen; i++)
	{
		int64_t		v;

		if (f[i] != '%')
		{
			if (s >= end || *s != f[i])
				return false;
			s++;
			continue;
		}
		i++;
		switch (f[i])
		{
			case 'Y':
				if (!AggReadNumber(&s, end, 4, 4, &d->year))
					return false;
				d->has_year = true;
				break;
			case 'G':
				if (!AggReadNumber(&s, end, 4, 4, &d->iso_year))
					return false;
				d->has_iso = true;
				break;
			case 'm':
				if (!AggReadNumber(&s, end, 1, 2, &v))
					return false;
				d->month = (int) v;
				break;
			case 'd':
				if (!AggReadNumber(&s, end, 1, 2, &v))
					return false;
				d->day = (int) v;
				break;
			case 'H':
				if (!AggReadNumber(&s, end, 1, 2, &v))
					return false;
				d->hour = (int) v;
				break;
			case 'M':
				if (!AggReadNumber(&s, end, 1, 2, &v))
					return false;
				d->minute = (int) v;
				break;
			case 'S':
				if (!AggReadNumber(&s, end, 1, 2, &v))
					return false;
				d->second = (int) v;
				break;
			case 'L':
				{
					const char *start = s;

					AggReadFraction(&s, end, d);
					if (s == start)
						return false;
					break;
				}
			case 'j':
				if (!AggReadNumber(&s, end, 1, 3, &v) || v > 366)
					return false;
				d->doy = (int) v;
				d->has_doy = true;
				break;
			case 'V':
				if (!AggReadNumber(&s, end, 1, 2, &v))
					return false;
				d->iso_week = (int) v;
				d->has_iso = true;
				break;
			case 'u':
				if (!AggReadNumber(&s, end, 1, 1, &v))
					return false;
				d->iso_dow = (int) v;
				d->has_iso = true;
				break;
			case 'z':
				if (!AggReadOffset(&s, end, d))
					return false;
				break;
			case 'Z':
				{
					int			sign = 1;

					if (s < end && (*s == '+' || *s == '-'))
					{
						sign = *s == '-' ? -1 : 1;
						s++;
					}
					if (!AggReadNumber(&s, end, 1, 4, &v))
						return false;
					d->has_offset = true;
					d->offset_ms = sign * v * MS_PER_MINUTE;
					break;
				}
			case 'b':
				{
					int			m = AggReadMonthName(&s, end);

					if (m == 0)
						return false;
					d->month = m;
					break;
				}
			case '%':
				if (s >= end || *s != '%')
					return false;
				s++;
				break;
		}
	}
	return s == end;
}

static bool
AggDateFromStringFail(const AggExpr *e, AggExprContext *cx, bson_value_t *out,
					  BsonQueryError *error, const char *fmt, const char *s)
{
	if (e->args[DFS_ON_ERROR] != NULL)
		return AggEvalArg(e, DFS_ON_ERROR, cx, out, error);
	return AggExprFail(error, AGG_ERR_CONVERSION, fmt, s);
}

static bool
AggDateFromString(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t str;
	bson_value_t format;
	AggTimeZone tz;
	bool		isnull;
	AggParsedDate d;
	bool		ok;
	int64_t		days;
	int64_t		ms;
	int64_t		result;

	if (!AggEvalArg(e, DFS_STRING, cx, &str, error))
		return false;
	format.value_type = BSON_TYPE_EOD;
	if (e->args[DFS_FORMAT] != NULL)
	{
		if (!AggEvalArg(e, DFS_FORMAT, cx, &format, error))
			return false;
		if (AggValueNullish(&format))
		{
			AggSetNull(out);
			return true;
		}
		if (format.value_type != BSON_TYPE_UTF8)
			return AggExprFail(error, 40684,
							   "$dateFromString requires that 'format' be a string, found: %s with value %s",
							   AggTypeName(&format), AggValueText(cx, &format));
		if (!AggCheckFormat(format.value.v_utf8.str, format.value.v_utf8.len,
							AGG_FORMAT_IN_SPECS, error))
			return false;
	}
	if (!AggEvalTimeZone(e->args[DFS_TIMEZONE], "$dateFromString", cx, &tz, &isnull, error))
		return false;
	if (isnull)
	{
		AggSetNull(out);
		return true;
	}
	if (AggValueNullish(&str))
	{
		if (e->args[DFS_ON_NULL] != NULL)
			return AggEvalArg(e, DFS_ON_NULL, cx, out, error);
		AggSetNull(out);
		return true;
	}
	if (str.value_type != BSON_TYPE_UTF8)
		return AggDateFromStringFail(e, cx, out, error,
									 "$dateFromString requires that 'dateString' be a string, found: %s",
									 AggTypeName(&str));

	memset(&d, 0, sizeof(d));
	d.month = 1;
	d.day = 1;
	if (format.value_type == BSON_TYPE_UTF8)
	{
		ok = AggParseFormattedDate(str.value.v_utf8.str, str.value.v_utf8.len,
								   format.value.v_utf8.str, format.value.v_utf8.len, &d);
		if (ok && !d.has_year && !d.has_iso)
			d.year = 1970;
	}
	else
		ok = AggParseFreeDate(str.value.v_utf8.str, str.value.v_utf8.len, &d);
	if (!ok)
		return AggDateFromStringFail(e, cx, out, error,
									 "an incomplete date/time string has been found, with elements missing: \"%s\"",
									 str.value.v_utf8.str);
	/* the parts must make a real date and time */
	if (d.month < 1 || d.month > 12 || d.day < 1 || d.day > AggDaysInMonth(d.year, d.month) ||
		d.hour > 24 || d.minute > 59 || d.second > 60 || d.doy > (AggIsLeap(d.year) ? 366 : 365))
		return AggDateFromStringFail(e, cx, out, error,
									 "Error parsing date string '%s'; The parsed date was invalid",
									 str.value.v_utf8.str);
	if (d.zone != NULL)
	{
		AggTimeZone ztz;

		if (d.zone_len == 3 && (memcmp(d.zone, "UTC", 3) == 0 || memcmp(d.zone, "GMT", 3) == 0))
		{
			d.has_offset = true;
			d.offset_ms = 0;
		}
		else if (!AggTimeZoneLookup(d.zone, d.zone_len, &ztz))
			return AggDateFromStringFail(e, cx, out, error,
										 "Error parsing date string '%s'; unknown time zone",
										 str.value.v_utf8.str);
		else if (e->args[DFS_TIMEZONE] != NULL && !tz.utc)
			return AggDateFromStringFail(e, cx, out, error,
										 "you cannot pass in a date/time string with time zone information ('%s') together with a timezone argument",
										 str.value.v_utf8.str);
		else
			tz = ztz;
	}
	if (d.has_offset && e->args[DFS_TIMEZONE] != NULL && !tz.utc)
		return AggDateFromStringFail(e, cx, out, error,
									 "you cannot pass in a date/time string with GMT offset together with a timezone argument: '%s'",
									 str.value.v_utf8.str);
	if (d.has_offset)
	{
		memset(&tz, 0, sizeof(tz));
		tz.offset_ms = d.offset_ms;
	}

	if (d.has_iso)
		days = AggIsoWeekOneMonday(d.iso_year) + ((d.iso_week > 0 ? d.iso_week : 1) - 1) * 7 +
			((d.iso_dow > 0 ? d.iso_dow : 1) - 1);
	else if (d.has_doy)
		days = AggDaysFromCivil(d.year, 1, 1) + d.doy;
	else
		days = AggDaysFromCivil(d.year, d.month, d.day);
	ms = d.hour * MS_PER_HOUR + d.minute * MS_PER_MINUTE + d.second * MS_PER_SECOND +
		d.millisecond;
	if (!AggFromLocal(&tz, days, ms, &result))
		return AggDateFromStringFail(e, cx, out, error, "date out of range: '%s'",
									 str.value.v_utf8.str);
	AggSetDate(out, result);
	return true;
}

/* ---- $dateAdd, $dateSubtract ---- */

enum
{
	DADD_START, DADD_UNIT, DADD_AMOUNT, DADD_TIMEZONE, DADD_NARGS
};

static const char *const dadd_names[] = {"startDate", "unit", "amount", "timezone"};

static bool
AggDateAddParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	if (!AggParseNamedArgs(p, e, arg, dadd_names, DADD_NARGS, 5166400, 5166401))
		return false;
	if (e->args[DADD_START] == NULL || e->args[DADD_UNIT] == NULL ||
		e->args[DADD_AMOUNT] == NULL)
		return AggExprFail(p->error, 5166402,
						   "%s requires startDate, unit, and amount to be present", e->op->name);
	return true;
}

/*
 * A date plus an amount of units in a zone: units of a day or more move
 * the local calendar date (months clamp the day to the month's last),
 * smaller units add milliseconds.  False on overflow.
 */
static bool
AggDateAddUnits(const AggTimeZone *tz, int64_t start, AggTimeUnit unit, int64_t amount,
				int64_t *result)
{
	AggLocalTime t;
	int64_t		delta;

	if (unit >= AGG_UNIT_HOUR)
		return !pg_mul_s64_overflow(amount, agg_unit_ms[unit], &delta) &&
			!pg_add_s64_overflow(start, delta, result);
	AggToLocal(tz, start, &t);
	if (unit == AGG_UNIT_DAY || unit == AGG_UNIT_WEEK)
	{
		int64_t		days;

		if (pg_mul_s64_overflow(amount, unit == AGG_UNIT_WEEK ? 7 : 1, &delta) ||
			pg_add_s64_overflow(t.days, delta, &days))
			return false;
		/* in UTC whole days are exact */
		if (tz->cal == NULL)
			return !pg_mul_s64_overflow(delta, MS_PER_DAY, &delta) &&
				!pg_add_s64_overflow(start, delta, result);
		return AggFromLocal(tz, days, t.ms, result);
	}
	else
	{
		int64_t		y;
		int			m;
		int			d;
		int64_t		months;
		int64_t		ny;
		int			nm;

		if (pg_mul_s64_overflow(amount, unit == AGG_UNIT_YEAR ? 12 :
								unit == AGG_UNIT_QUARTER ? 3 : 1, &delta))
			return false;
		AggCivilFromDays(t.days, &y, &m, &d);
		/* keep the year far from int64's ends before the calendar math */
		if (delta > INT64CONST(1) << 40 || delta < -(INT64CONST(1) << 40))
			return false;
		months = y * 12 + (m - 1) + delta;
		ny = AggFloorDiv(months, 12);
		nm = (int) AggFloorMod(months, 12) + 1;
		d = Min(d, AggDaysInMonth(ny, nm));
		return AggFromLocal(tz, AggDaysFromCivil(ny, nm, d), t.ms, result);
	}
}

static bool
AggDateAdd(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	const char *name = e->op->name;
	bson_value_t start;
	bson_value_t unitv;
	bson_value_t amount;
	AggTimeZone tz;
	bool		isnull;
	AggTimeUnit unit;
	int64_t		ms;
	int64_t		n;
	int64_t		result;

	if (!AggEvalArg(e, DADD_START, cx, &start, error) ||
		!AggEvalArg(e, DADD_UNIT, cx, &unitv, error) ||
		!AggEvalArg(e, DADD_AMOUNT, cx, &amount, error))
		return false;
	if (!AggEvalTimeZone(e->args[DADD_TIMEZONE], name, cx, &tz, &isnull, error))
		return false;
	if (isnull || AggValueNullish(&start) || AggValueNullish(&unitv) ||
		AggValueNullish(&amount))
	{
		AggSetNull(out);
		return true;
	}
	if (!AggDateValue(&start, &ms))
		return AggExprFail(error, 5166403,
						   "%s requires startDate to be convertible to a date", name);
	if (!AggTimeUnitValue(name, &unitv, &unit, error))
		return false;
	if (!AggValueToInt64Exact(&amount, &n))
		return AggExprFail(error, 5166405, "%s expects integer amount of time units", name);
	if (strcmp(name, "$dateSubtract") == 0)
	{
		if (n == INT64_MIN)
			return AggExprFail(error, 6045000,
							   "invalid %s 'amount' parameter value: %lld", name, (long long) n);
		n = -n;
	}
	if (!AggDateAddUnits(&tz, ms, unit, n, &result))
		return AggExprFail(error, 5976500,
						   "%s overflowed: the result is out of the range of dates", name);
	AggSetDate(out, result);
	return true;
}

/* ---- $dateDiff ---- */

/*
 * Whether all arguments are constants.  MongoDB folds such an expression
 * when parsing, where a null startOfWeek is ignored for units other than
 * week; evaluated per document, a null startOfWeek makes the result null.
 */
static bool
AggDateArgsConstant(const AggExpr *e)
{
	for (int i = 0; i < e->nargs; i++)
		if (e->args[i] != NULL && !AggExprIsConstant(e->args[i]))
			return false;
	return true;
}

enum
{
	DDIFF_START, DDIFF_END, DDIFF_UNIT, DDIFF_TIMEZONE, DDIFF_SOW, DDIFF_NARGS
};

static const char *const ddiff_names[] = {"startDate", "endDate", "unit", "timezone", "startOfWeek"};

static bool
AggDateDiffParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	if (!AggParseNamedArgs(p, e, arg, ddiff_names, DDIFF_NARGS, 5166301, 5166302))
		return false;
	return AggRequireArg(p, e, DDIFF_START, "startDate", 5166303) &&
		AggRequireArg(p, e, DDIFF_END, "endDate", 5166304) &&
		AggRequireArg(p, e, DDIFF_UNIT, "unit", 5166305);
}

/* The index of a day's week, weeks starting on sow (0 = Sunday) */
static int64_t
AggWeekIndex(int64_t days, int sow)
{
	int			back = (AggDayOfWeek(days) - sow + 7) % 7;

	return AggFloorDiv(days - back, 7);
}

static bool
AggDateDiff(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t start;
	bson_value_t end;
	bson_value_t unitv;
	bson_value_t sowv;
	AggTimeZone tz;
	bool		isnull;
	AggTimeUnit unit;
	int			sow = 0;
	int64_t		s;
	int64_t		t;
	AggLocalTime ls;
	AggLocalTime le;
	int64_t		result;

	if (!AggEvalArg(e, DDIFF_START, cx, &start, error) ||
		!AggEvalArg(e, DDIFF_END, cx, &end, error) ||
		!AggEvalArg(e, DDIFF_UNIT, cx, &unitv, error))
		return false;
	sowv.value_type = BSON_TYPE_EOD;
	if (e->args[DDIFF_SOW] != NULL && !AggEvalArg(e, DDIFF_SOW, cx, &sowv, error))
		return false;
	if (!AggEvalTimeZone(e->args[DDIFF_TIMEZONE], "$dateDiff", cx, &tz, &isnull, error))
		return false;
	if (isnull || AggValueNullish(&start) || AggValueNullish(&end) ||
		AggValueNullish(&unitv))
	{
		AggSetNull(out);
		return true;
	}
	if (!AggDateValue(&start, &s))
		return AggExprFail(error, 5166307,
						   "$dateDiff requires 'startDate' to be a date, but got %s",
						   AggTypeName(&start));
	if (!AggDateValue(&end, &t))
		return AggExprFail(error, 5166307,
						   "$dateDiff requires 'endDate' to be a date, but got %s",
						   AggTypeName(&end));
	if (!AggTimeUnitValue("$dateDiff", &unitv, &unit, error))
		return false;
	if (e->args[DDIFF_SOW] != NULL && AggValueNullish(&sowv) &&
		(unit == AGG_UNIT_WEEK || !AggDateArgsConstant(e)))
	{
		AggSetNull(out);
		return true;
	}
	if (unit == AGG_UNIT_WEEK && e->args[DDIFF_SOW] != NULL &&
		!AggStartOfWeekValue("$dateDiff", &sowv, &sow, error))
		return false;
	AggToLocal(&tz, s, &ls);
	AggToLocal(&tz, t, &le);
	switch (unit)
	{
		case AGG_UNIT_MILLISECOND:
			if (pg_sub_s64_overflow(t, s, &result))
				return AggExprFail(error, 5166308, "dateDiff overflowed");
			break;
		case AGG_UNIT_SECOND:
		case AGG_UNIT_MINUTE:
		case AGG_UNIT_HOUR:
			{
				int64_t		u = agg_unit_ms[unit];
				int64_t		offset = AggZoneOffset(&tz, s);
				int64_t		a;
				int64_t		b;

				/*
				 * Elapsed units, with boundaries on the start's local clock
				 * (a DST change does not count)
				 */
				if (pg_add_s64_overflow(s, offset, &a) || pg_add_s64_overflow(t, offset, &b))
				{
					a = s;
					b = t;
				}
				result = AggFloorDiv(b, u) - AggFloorDiv(a, u);
				break;
			}
		case AGG_UNIT_DAY:
			result = le.days - ls.days;
			break;
		case AGG_UNIT_WEEK:
			result = AggWeekIndex(le.days, sow) - AggWeekIndex(ls.days, sow);
			break;
		default:
			{
				int64_t		y1,
							y2;
				int			m1,
							m2,
							d1,
							d2;

				AggCivilFromDays(ls.days, &y1, &m1, &d1);
				AggCivilFromDays(le.days, &y2, &m2, &d2);
				if (unit == AGG_UNIT_YEAR)
					result = y2 - y1;
				else if (unit == AGG_UNIT_QUARTER)
					result = (y2 * 4 + (m2 - 1) / 3) - (y1 * 4 + (m1 - 1) / 3);
				else
					result = (y2 * 12 + m2) - (y1 * 12 + m1);
				break;
			}
	}
	/* MongoDB gives an int when the count fits one */
	if (result >= INT32_MIN && result <= INT32_MAX)
		AggSetInt32(out, (int32_t) result);
	else
		AggSetInt64(out, result);
	return true;
}

/* ---- $dateTrunc ---- */

enum
{
	DTR_DATE, DTR_UNIT, DTR_BIN, DTR_TIMEZONE, DTR_SOW, DTR_NARGS
};

static const char *const dtr_names[] = {"date", "unit", "binSize", "timezone", "startOfWeek"};

static bool
AggDateTruncParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	if (!AggParseNamedArgs(p, e, arg, dtr_names, DTR_NARGS, 5439007, 5439008))
		return false;
	return AggRequireArg(p, e, DTR_DATE, "date", 5439009) &&
		AggRequireArg(p, e, DTR_UNIT, "unit", 5439010);
}

static bool
AggDateTrunc(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t date;
	bson_value_t unitv;
	bson_value_t binv;
	bson_value_t sowv;
	AggTimeZone tz;
	bool		isnull;
	AggTimeUnit unit;
	int64_t		bin = 1;
	int			sow = 0;
	int64_t		ms;
	AggLocalTime t;
	int64_t		result;

	if (!AggEvalArg(e, DTR_DATE, cx, &date, error) ||
		!AggEvalArg(e, DTR_UNIT, cx, &unitv, error))
		return false;
	binv.value_type = BSON_TYPE_EOD;
	sowv.value_type = BSON_TYPE_EOD;
	if (e->args[DTR_BIN] != NULL && !AggEvalArg(e, DTR_BIN, cx, &binv, error))
		return false;
	if (e->args[DTR_SOW] != NULL && !AggEvalArg(e, DTR_SOW, cx, &sowv, error))
		return false;
	if (!AggEvalTimeZone(e->args[DTR_TIMEZONE], "$dateTrunc", cx, &tz, &isnull, error))
		return false;
	if (isnull || AggValueNullish(&date) || AggValueNullish(&unitv) ||
		(e->args[DTR_BIN] != NULL && AggValueNullish(&binv)))
	{
		AggSetNull(out);
		return true;
	}
	if (!AggDateValue(&date, &ms))
		return AggExprFail(error, 5166307,
						   "$dateTrunc requires 'date' to be a date, but got %s", AggTypeName(&date));
	if (!AggTimeUnitValue("$dateTrunc", &unitv, &unit, error))
		return false;
	if (e->args[DTR_BIN] != NULL)
	{
		if (!AggValueIsNumber(&binv) || !AggValueToInt64Exact(&binv, &bin))
			return AggExprFail(error, 5439017,
							   "$dateTrunc requires 'binSize' to be a 64-bit integer, but got value '%s' of type %s",
							   AggValueText(cx, &binv), AggTypeName(&binv));
		if (bin <= 0)
			return AggExprFail(error, 5439018,
							   "$dateTrunc requires 'binSize' to be greater than 0, but got value %lld",
							   (long long) bin);
	}
	if (e->args[DTR_SOW] != NULL && AggValueNullish(&sowv) &&
		(unit == AGG_UNIT_WEEK || !AggDateArgsConstant(e)))
	{
		AggSetNull(out);
		return true;
	}
	if (unit == AGG_UNIT_WEEK && e->args[DTR_SOW] != NULL &&
		!AggStartOfWeekValue("$dateTrunc", &sowv, &sow, error))
		return false;
	AggToLocal(&tz, ms, &t);
	if (unit >= AGG_UNIT_DAY)
	{
		/* bins of a fixed length from 2000-01-01T00:00 local time */
		int64_t		width;
		int64_t		ref = AggDaysFromCivil(2000, 1, 1);
		int64_t		since;
		int64_t		binno;

		if (pg_mul_s64_overflow(bin, agg_unit_ms[unit], &width))
			return AggExprFail(error, 5439002,
							   "$dateTrunc: binSize is too large for the unit %s",
							   agg_unit_names[unit]);
		if (unit == AGG_UNIT_DAY)
		{
			binno = AggFloorDiv(t.days - ref, bin);
			if (!AggFromLocal(&tz, ref + binno * bin, 0, &result))
				return AggExprFail(error, 5439002, "$dateTrunc: result out of range");
			AggSetDate(out, result);
			return true;
		}
		/* milliseconds since the reference, as int128-free pieces */
		since = (t.days - ref);
		{
			int64_t		per = MS_PER_DAY;
			int64_t		local;

			if (pg_mul_s64_overflow(since, per, &local) ||
				pg_add_s64_overflow(local, t.ms, &local))
			{
				/* beyond int64 in local ms: bins in whole days when they divide */
				return AggExprFail(error, 5439002, "$dateTrunc: date out of range");
			}
			/* the date's own offset holds: a repeated hour truncates in itself */
			if (pg_sub_s64_overflow(ms, AggFloorMod(local, width), &result))
				return AggExprFail(error, 5439002, "$dateTrunc: result out of range");
		}
		AggSetDate(out, result);
		return true;
	}
	if (unit == AGG_UNIT_WEEK)
	{
		/* weeks from the first start of week on or after 2000-01-01 */
		int64_t		ref = AggDaysFromCivil(2000, 1, 1);
		int64_t		width;

		ref += (sow - AggDayOfWeek(ref) + 7) % 7;
		if (pg_mul_s64_overflow(bin, 7, &width))
			return AggExprFail(error, 5439002, "$dateTrunc: binSize is too large");
		if (!AggFromLocal(&tz, ref + AggFloorDiv(t.days - ref, width) * width, 0, &result))
			return AggExprFail(error, 5439002, "$dateTrunc: result out of range");
		AggSetDate(out, result);
		return true;
	}
	else
	{
		/* months from 2000-01 */
		int64_t		y;
		int			m;
		int			d;
		int64_t		width;
		int64_t		months;

		if (pg_mul_s64_overflow(bin, unit == AGG_UNIT_YEAR ? 12 :
								unit == AGG_UNIT_QUARTER ? 3 : 1, &width) ||
			width > INT32_MAX)
			return AggExprFail(error, 5439006, "$dateTrunc: binSize is too large for the unit %s",
							   agg_unit_names[unit]);
		AggCivilFromDays(t.days, &y, &m, &d);
		months = (y - 2000) * 12 + (m - 1);
		months = AggFloorDiv(months, width) * width;
		if (!AggFromLocal(&tz, AggDaysFromCivil(2000 + AggFloorDiv(months, 12),
												(int) AggFloorMod(months, 12) + 1, 1),
						  0, &result))
			return AggExprFail(error, 5439006, "$dateTrunc: result out of range");
		AggSetDate(out, result);
		return true;
	}
}

/* ---- $tsSecond, $tsIncrement ---- */

static bool
AggTimestampPart(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bool		second = strcmp(e->op->name, "$tsSecond") == 0;
	bson_value_t v;

	if (!AggEvalArg(e, 0, cx, &v, error))
		return false;
	if (AggValueNullish(&v))
	{
		AggSetNull(out);
		return true;
	}
	if (v.value_type != BSON_TYPE_TIMESTAMP)
		return AggExprFail(error, second ? 5687301 : 5687302,
						   "Argument to %s must be a timestamp, but is %s", e->op->name,
						   AggTypeName(&v));
	AggSetInt64(out, second ? v.value.v_timestamp.timestamp : v.value.v_timestamp.increment);
	return true;
}

const AggExprOp AggExprOpsDate[] = {
	{"$year", AggDatePart, AggDatePartParse, 1, 1},
	{"$month", AggDatePart, AggDatePartParse, 1, 1},
	{"$dayOfMonth", AggDatePart, AggDatePartParse, 1, 1},
	{"$dayOfWeek", AggDatePart, AggDatePartParse, 1, 1},
	{"$dayOfYear", AggDatePart, AggDatePartParse, 1, 1},
	{"$hour", AggDatePart, AggDatePartParse, 1, 1},
	{"$minute", AggDatePart, AggDatePartParse, 1, 1},
	{"$second", AggDatePart, AggDatePartParse, 1, 1},
	{"$millisecond", AggDatePart, AggDatePartParse, 1, 1},
	{"$week", AggDatePart, AggDatePartParse, 1, 1},
	{"$isoWeek", AggDatePart, AggDatePartParse, 1, 1},
	{"$isoWeekYear", AggDatePart, AggDatePartParse, 1, 1},
	{"$isoDayOfWeek", AggDatePart, AggDatePartParse, 1, 1},
	{"$dateToString", AggDateToString, AggDateToStringParse, 0, 0},
	{"$dateToParts", AggDateToParts, AggDateToPartsParse, 0, 0},
	{"$dateFromParts", AggDateFromParts, AggDateFromPartsParse, 0, 0},
	{"$dateFromString", AggDateFromString, AggDateFromStringParse, 0, 0},
	{"$dateAdd", AggDateAdd, AggDateAddParse, 0, 0},
	{"$dateSubtract", AggDateAdd, AggDateAddParse, 0, 0},
	{"$dateDiff", AggDateDiff, AggDateDiffParse, 0, 0},
	{"$dateTrunc", AggDateTrunc, AggDateTruncParse, 0, 0},
	{"$tsSecond", AggTimestampPart, NULL, 1, 1},
	{"$tsIncrement", AggTimestampPart, NULL, 1, 1},
	{NULL}
};

/*
 * AggDateAddUTC
 *		A date (milliseconds) plus amount of a unit named unit ("year" to
 *		"millisecond") in UTC, as $dateAdd computes it: months clamp the
 *		day to the month's last.  False on overflow or an unknown unit.
 */
bool
AggDateAddUTC(int64_t start, const char *unit, int64_t amount, int64_t *result)
{
	AggTimeZone tz = {true, 0, NULL};

	for (int i = 0; i < (int) lengthof(agg_unit_names); i++)
		if (strcmp(agg_unit_names[i], unit) == 0)
			return AggDateAddUnits(&tz, start, (AggTimeUnit) i, amount, result);
	return false;
}
