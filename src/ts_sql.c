/*-------------------------------------------------------------------------
 *
 * ts_sql.c
 *	  The query functions of time series: nosql.time_bucket,
 *	  nosql.time_bucket_series, the aggregates nosql.first and nosql.last,
 *	  and the gap-filling window functions nosql.locf and nosql.interpolate.
 *
 * Design note
 * -----------
 * time_bucket follows TimescaleDB's documented behaviour, so that queries
 * written for it give the same answers: a bucket narrower than a month is a
 * fixed number of microseconds (days count as 24 hours, as in date_bin)
 * counted from an origin, by default Monday 2000-01-03 00:00; a bucket of
 * months or years is a number of calendar months counted from 2000-01-01;
 * a width mixing the two has no meaning and is refused.  A timestamptz is
 * bucketed in UTC, which keeps the function immutable; the variant with a
 * time zone buckets the local time of that zone and turns the bucket's
 * local start back into a timestamptz, so that days start at local
 * midnight across DST changes.  An offset shifts the buckets: the bucket of
 * ts - offset, plus offset.
 *
 * The bucket of ts is found without forming ts - origin, which overflows
 * for timestamps at opposite ends of the range: with r the remainder of
 * ts - origin modulo the width, computed from the remainders of ts and
 * origin (each in [0, width)), the bucket starts at ts - r.  Remainders are
 * taken towards minus infinity, so times before the origin fall into the
 * bucket below them rather than being truncated towards the origin.  Only
 * ts - r can leave the range of timestamps, and that is an error.  Infinite
 * timestamps are their own bucket, as in date_bin.  Month buckets count
 * whole months between origin and ts, step back one bucket when the day and
 * time of the origin come later in the month than ts's, and add the months
 * to the origin with the day clamped to the month's length, as PostgreSQL's
 * timestamp + interval does.
 *
 * first and last keep the value of the row with the smallest or largest
 * time, of any type: the state is internal, holds the value's type and a
 * copy of it, and serializes with datumSerialize, as a parallel query
 * passes its parameters to workers (a state crosses only between processes
 * of one server, never to disk or another version).  Among rows of equal
 * time, first keeps the first row it reads and last the last one, as if the
 * rows were sorted stably by time; a parallel plan reads them in no
 * particular order.
 *
 * Gap filling is plain SQL: time_bucket_series generates the buckets of a
 * range, a LEFT JOIN and GROUP BY put the data in them, and the window
 * functions locf and interpolate fill the empty ones.  Both read the rows of
 * their partition by position and remember in partition-local memory how far
 * they have looked, so a partition costs one pass (interpolate looks ahead
 * to the next value once per gap).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/int.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "funcapi.h"
#include "parser/scansup.h"
#include "pgtime.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "windowapi.h"

#include "timeseries.h"

/* Years beyond these cannot be a timestamp; checked before building one */
#define TS_YEAR_LIMIT	300000

/* A bucket width: a number of months, or of microseconds when months is 0 */
typedef struct TsWidth
{
	int32		months;
	int64		usecs;
} TsWidth;

static void
TsTimestampOutOfRange(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
			 errmsg("timestamp out of range")));
}

/* Check a bucket width and split it into months or microseconds */
static TsWidth
TsWidthOf(const Interval *width)
{
	TsWidth		w = {0, 0};

	if (width->month != 0 && (width->day != 0 || width->time != 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bucket width cannot combine months or years with days or time"),
				 errhint("Use a width of whole months, or one of days and time.")));
	if (width->month != 0)
		w.months = width->month;
	else if (pg_mul_s64_overflow(width->day, USECS_PER_DAY, &w.usecs) ||
			 pg_add_s64_overflow(w.usecs, width->time, &w.usecs))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("interval out of range")));
	if (w.months < 0 || (w.months == 0 && w.usecs <= 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bucket width must be greater than zero")));
	return w;
}

/* a mod w towards minus infinity, for w > 0: in [0, w) */
static inline int64
TsFloorMod(int64 a, int64 w)
{
	int64		r = a % w;

	return r < 0 ? r + w : r;
}

/*
 * origin + months, the day clamped to the length of the month reached.
 * False when the result is not a timestamp.
 */
static bool
TsAddMonths(Timestamp origin, int64 months, Timestamp *result)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int64		total;
	int64		year;
	int			mon;

	if (timestamp2tm(origin, NULL, &tm, &fsec, NULL, NULL) != 0)
		return false;
	total = (int64) tm.tm_year * MONTHS_PER_YEAR + (tm.tm_mon - 1);
	if (pg_add_s64_overflow(total, months, &total))
		return false;
	year = total / MONTHS_PER_YEAR;
	mon = (int) (total % MONTHS_PER_YEAR);
	if (mon < 0)
	{
		mon += MONTHS_PER_YEAR;
		year--;
	}
	if (year < -TS_YEAR_LIMIT || year > TS_YEAR_LIMIT)
		return false;
	tm.tm_year = (int) year;
	tm.tm_mon = mon + 1;
	if (tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1])
		tm.tm_mday = day_tab[isleap(tm.tm_year)][tm.tm_mon - 1];
	if (tm2timestamp(&tm, fsec, NULL, result) != 0 || !IS_VALID_TIMESTAMP(*result))
		return false;
	return true;
}

/*
 * The start of the month bucket holding ts, with *index its distance from
 * the origin in months
 */
static Timestamp
TsBucketMonths(int32 months, Timestamp ts, Timestamp origin, int64 *index)
{
	struct pg_tm tt;
	struct pg_tm ot;
	fsec_t		fsec;
	int64		diff;
	int64		k;
	Timestamp	result;

	if (timestamp2tm(ts, NULL, &tt, &fsec, NULL, NULL) != 0 ||
		timestamp2tm(origin, NULL, &ot, &fsec, NULL, NULL) != 0)
		TsTimestampOutOfRange();
	diff = ((int64) tt.tm_year * MONTHS_PER_YEAR + tt.tm_mon) -
		((int64) ot.tm_year * MONTHS_PER_YEAR + ot.tm_mon);
	k = diff / months;
	if (diff % months < 0)
		k--;
	/* k * months lies within months of diff: no overflow */
	if (!TsAddMonths(origin, k * months, &result))
		TsTimestampOutOfRange();
	/* the origin's day and time come later in the month than ts's */
	if (result > ts)
	{
		k--;
		if (!TsAddMonths(origin, k * months, &result))
			TsTimestampOutOfRange();
	}
	if (index)
		*index = k * months;
	return result;
}

/* The start of the fixed-width bucket holding ts (see the design note) */
static Timestamp
TsBucketFixed(int64 usecs, Timestamp ts, Timestamp origin)
{
	int64		r;
	Timestamp	result;

	r = TsFloorMod(TsFloorMod(ts, usecs) - TsFloorMod(origin, usecs), usecs);
	if (pg_sub_s64_overflow(ts, r, &result) || !IS_VALID_TIMESTAMP(result))
		TsTimestampOutOfRange();
	return result;
}

/* Refuse an infinite origin, as date_bin does */
static void
TsCheckOrigin(Timestamp origin)
{
	if (TIMESTAMP_NOT_FINITE(origin))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("origin out of range")));
}

Timestamp
TsBucketTimestamp(const Interval *width, Timestamp ts, const Timestamp *origin,
				  const Interval *offset)
{
	TsWidth		w = TsWidthOf(width);
	Timestamp	o;
	Timestamp	result;

	if (origin)
		TsCheckOrigin(*origin);
	if (TIMESTAMP_NOT_FINITE(ts))
		return ts;
	if (offset)
		ts = DatumGetTimestamp(DirectFunctionCall2(timestamp_mi_interval,
												   TimestampGetDatum(ts),
												   IntervalPGetDatum(offset)));
	if (origin)
		o = *origin;
	else
		o = w.months > 0 ? TS_BUCKET_MONTH_ORIGIN : TS_BUCKET_ORIGIN;
	if (w.months > 0)
		result = TsBucketMonths(w.months, ts, o, NULL);
	else
		result = TsBucketFixed(w.usecs, ts, o);
	if (offset)
		result = DatumGetTimestamp(DirectFunctionCall2(timestamp_pl_interval,
													   TimestampGetDatum(result),
													   IntervalPGetDatum(offset)));
	return result;
}

/*
 * nosql.time_bucket(bucket_width interval, ts timestamp [, origin timestamp]),
 * and the same for timestamptz (buckets in UTC: a timestamptz is the same
 * microseconds since 2000-01-01 00:00 UTC, so the SQL functions of both
 * types call this one)
 */
PG_FUNCTION_INFO_V1(time_bucket_timestamp);
Datum
time_bucket_timestamp(PG_FUNCTION_ARGS)
{
	Timestamp	origin;

	if (PG_NARGS() > 2)
		origin = PG_GETARG_TIMESTAMP(2);
	PG_RETURN_TIMESTAMP(TsBucketTimestamp(PG_GETARG_INTERVAL_P(0),
										  PG_GETARG_TIMESTAMP(1),
										  PG_NARGS() > 2 ? &origin : NULL,
										  NULL));
}

/*
 * nosql.time_bucket(bucket_width interval, ts timestamp | timestamptz,
 * "offset" interval); for timestamptz the offset is added in UTC too
 */
PG_FUNCTION_INFO_V1(time_bucket_timestamp_offset);
Datum
time_bucket_timestamp_offset(PG_FUNCTION_ARGS)
{
	PG_RETURN_TIMESTAMP(TsBucketTimestamp(PG_GETARG_INTERVAL_P(0),
										  PG_GETARG_TIMESTAMP(1), NULL,
										  PG_GETARG_INTERVAL_P(2)));
}

/* A date as a timestamp at its midnight (infinite dates stay infinite) */
static Timestamp
TsDateTimestamp(Datum date)
{
	return DatumGetTimestamp(DirectFunctionCall1(date_timestamp, date));
}

/*
 * nosql.time_bucket(bucket_width interval, ts date [, origin date]): the
 * date of the bucket's start
 */
PG_FUNCTION_INFO_V1(time_bucket_date);
Datum
time_bucket_date(PG_FUNCTION_ARGS)
{
	Timestamp	origin;
	Timestamp	result;

	if (PG_NARGS() > 2)
		origin = TsDateTimestamp(PG_GETARG_DATUM(2));
	result = TsBucketTimestamp(PG_GETARG_INTERVAL_P(0),
							   TsDateTimestamp(PG_GETARG_DATUM(1)),
							   PG_NARGS() > 2 ? &origin : NULL, NULL);
	PG_RETURN_DATUM(DirectFunctionCall1(timestamp_date, TimestampGetDatum(result)));
}

/*
 * nosql.time_bucket(bucket_width interval, ts date, "offset" interval)
 */
PG_FUNCTION_INFO_V1(time_bucket_date_offset);
Datum
time_bucket_date_offset(PG_FUNCTION_ARGS)
{
	Timestamp	result;

	result = TsBucketTimestamp(PG_GETARG_INTERVAL_P(0),
							   TsDateTimestamp(PG_GETARG_DATUM(1)), NULL,
							   PG_GETARG_INTERVAL_P(2));
	PG_RETURN_DATUM(DirectFunctionCall1(timestamp_date, TimestampGetDatum(result)));
}

/* A timestamptz as the local time of a zone, and back */
static Timestamp
TsToLocal(text *zone, TimestampTz ts)
{
	return DatumGetTimestamp(DirectFunctionCall2(timestamptz_zone,
												 PointerGetDatum(zone),
												 TimestampTzGetDatum(ts)));
}

static TimestampTz
TsFromLocal(text *zone, Timestamp local)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone,
												   PointerGetDatum(zone),
												   TimestampGetDatum(local)));
}

/*
 * The bucket of the finite ts in the local time of zone, as a local
 * timestamp: the bucket of ts's local time, origin and offset taken in local
 * time too (origin and offset NULL for the default).  *local receives ts's
 * local time.  time_bucket_timezone turns the result back into a
 * timestamptz; the Block Aggregate node compares the local buckets of a
 * block's first and last time (ts_agg.c).
 */
Timestamp
TsBucketZoneLocal(const Interval *width, TimestampTz ts, text *zone,
				  const TimestampTz *origin, const Interval *offset,
				  Timestamp *local)
{
	Timestamp	lorigin;

	*local = TsToLocal(zone, ts);
	if (origin)
		lorigin = TsToLocal(zone, *origin);
	return TsBucketTimestamp(width, *local, origin ? &lorigin : NULL, offset);
}

/*
 * nosql.time_bucket(bucket_width interval, ts timestamptz, timezone text,
 * origin timestamptz DEFAULT NULL, "offset" interval DEFAULT NULL): the
 * bucket of ts's local time in the zone, origin and offset taken in local
 * time too.  Not strict: a NULL origin or offset is the default.
 */
PG_FUNCTION_INFO_V1(time_bucket_timezone);
Datum
time_bucket_timezone(PG_FUNCTION_ARGS)
{
	text	   *zone;
	Timestamp	local;
	TimestampTz origin;
	Timestamp	result;
	bool		has_origin = PG_NARGS() > 3 && !PG_ARGISNULL(3);
	bool		has_offset = PG_NARGS() > 4 && !PG_ARGISNULL(4);

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		PG_RETURN_NULL();
	zone = PG_GETARG_TEXT_PP(2);
	if (has_origin)
		origin = PG_GETARG_TIMESTAMPTZ(3);
	result = TsBucketZoneLocal(PG_GETARG_INTERVAL_P(0), PG_GETARG_TIMESTAMPTZ(1),
							   zone, has_origin ? &origin : NULL,
							   has_offset ? PG_GETARG_INTERVAL_P(4) : NULL, &local);
	if (TIMESTAMP_NOT_FINITE(result))
		PG_RETURN_TIMESTAMPTZ(result);
	PG_RETURN_TIMESTAMPTZ(TsFromLocal(zone, result));
}

/*
 * How the time zone argument of time_bucket maps times to local times, as
 * PostgreSQL's AT TIME ZONE (timestamptz_zone, which TsToLocal calls)
 * decides it: a fixed-offset abbreviation of the timezone_abbreviations
 * set first, then a dynamic abbreviation, then a zone name or POSIX zone
 * specification through pg_tzset (so 'UTC+3' is three hours west of UTC,
 * the POSIX sign, as in AT TIME ZONE).  Never fails: a zone that is not
 * recognized is TS_ZONE_OTHER, and time_bucket itself reports it.
 */
void
TsZoneResolve(text *zone, TsZone *result)
{
	char		tzname[TZ_STRLEN_MAX + 1];
	char	   *lowzone;
	int			type;
	int			val;
	pg_tz	   *tzp;

	text_to_cstring_buffer(zone, tzname, sizeof(tzname));
	lowzone = downcase_truncate_identifier(tzname, strlen(tzname), false);
	type = DecodeTimezoneAbbrev(0, lowzone, &val, &tzp);
	result->tz = NULL;
	if (type == TZ || type == DTZ)
		result->kind = TS_ZONE_FIXED;
	else if (type == DYNTZ)
	{
		/*
		 * the offset of a dynamic abbreviation is its meaning at the time,
		 * or else the zone's offset at the local time: not worth following
		 */
		result->kind = TS_ZONE_OTHER;
	}
	else if ((tzp = pg_tzset(tzname)) != NULL)
	{
		result->kind = TS_ZONE_NAMED;
		result->tz = tzp;
	}
	else
		result->kind = TS_ZONE_OTHER;
	pfree(lowzone);
}

/*
 * Does the zone keep one UTC offset from a through b (finite, a <= b)?  A
 * fixed abbreviation always does; a zone name when its next transition
 * after a (pg_next_dst_boundary, the binary search PostgreSQL's own
 * DetermineTimeZoneOffset uses) comes after b.  Local time is found from
 * the whole seconds of a time (timestamp2tm), and a transition at second s
 * applies from s on, so no transition may fall in (floor(a), floor(b)]
 * seconds.  False when unsure.
 */
bool
TsZoneSameOffset(const TsZone *zone, TimestampTz a, TimestampTz b)
{
	pg_time_t	sa;
	pg_time_t	sb;
	pg_time_t	boundary;
	long int	before_gmtoff;
	long int	after_gmtoff;
	int			before_isdst;
	int			after_isdst;
	int			found;

	if (a > b)
		return false;			/* not a block's time range */
	if (zone->kind == TS_ZONE_FIXED)
		return true;
	if (zone->kind != TS_ZONE_NAMED || TIMESTAMP_NOT_FINITE(a) || TIMESTAMP_NOT_FINITE(b))
		return false;
	/* whole seconds since 1970, rounded down as timestamp2tm does */
	sa = (pg_time_t) (a / USECS_PER_SEC - (a % USECS_PER_SEC < 0 ? 1 : 0)) +
		(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
	sb = (pg_time_t) (b / USECS_PER_SEC - (b % USECS_PER_SEC < 0 ? 1 : 0)) +
		(POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY;
	if (sa == sb)
		return true;
	found = pg_next_dst_boundary(&sa, &before_gmtoff, &before_isdst, &boundary,
								 &after_gmtoff, &after_isdst, zone->tz);
	if (found == 0)
		return true;			/* no transition after a */
	return found == 1 && boundary > sb;
}

/*
 * The integer bucket of ts: floor((ts - offset) / width) * width + offset,
 * computed from remainders so that nothing overflows but a result below the
 * type's range (then an error naming the type)
 */
static int64
TsBucketInteger(int64 width, int64 ts, int64 offset, int64 min,
				const char *type)
{
	int64		r;
	int64		result;

	if (width <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bucket width must be greater than zero")));
	r = TsFloorMod(TsFloorMod(ts, width) - TsFloorMod(offset, width), width);
	if (pg_sub_s64_overflow(ts, r, &result) || result < min)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s out of range", type)));
	return result;
}

/*
 * nosql.time_bucket(bucket_width bigint, ts bigint [, "offset" bigint]),
 * and the integer and smallint variants: buckets aligned to 0
 */
PG_FUNCTION_INFO_V1(time_bucket_int8);
Datum
time_bucket_int8(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(TsBucketInteger(PG_GETARG_INT64(0), PG_GETARG_INT64(1),
									PG_NARGS() > 2 ? PG_GETARG_INT64(2) : 0,
									PG_INT64_MIN, "bigint"));
}

PG_FUNCTION_INFO_V1(time_bucket_int4);
Datum
time_bucket_int4(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32((int32) TsBucketInteger(PG_GETARG_INT32(0), PG_GETARG_INT32(1),
											PG_NARGS() > 2 ? PG_GETARG_INT32(2) : 0,
											PG_INT32_MIN, "integer"));
}

PG_FUNCTION_INFO_V1(time_bucket_int2);
Datum
time_bucket_int2(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT16((int16) TsBucketInteger(PG_GETARG_INT16(0), PG_GETARG_INT16(1),
											PG_NARGS() > 2 ? PG_GETARG_INT16(2) : 0,
											PG_INT16_MIN, "smallint"));
}

/* The state of a time_bucket_series call between rows */
typedef struct TsSeries
{
	TsWidth		width;
	Timestamp	next;			/* fixed width: the next bucket's start */
	Timestamp	origin;			/* months: the origin */
	int64		index;			/* months: the next bucket's months from it */
	bool		done;			/* the next bucket is past the range of
								 * timestamps */
	TimestampTz finish;
	text	   *zone;			/* NULL: buckets in UTC */
	bool		returned;		/* with a zone: a bucket was returned */
	TimestampTz last;			/* with a zone: the last one */
} TsSeries;

/*
 * The first call of time_bucket_series: the bucket holding start, in the
 * zone's local time when there is a zone
 */
static TsSeries *
TsSeriesBegin(const Interval *width, Timestamp start, Timestamp finish,
			  const Timestamp *origin, text *zone)
{
	TsSeries   *s = palloc0(sizeof(TsSeries));
	Timestamp	o;

	s->width = TsWidthOf(width);
	if (origin)
		TsCheckOrigin(*origin);
	if (TIMESTAMP_NOT_FINITE(start) || TIMESTAMP_NOT_FINITE(finish))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("start and finish of a bucket series must be finite")));
	s->finish = finish;
	s->zone = zone;
	if (zone)
	{
		start = TsToLocal(zone, start);
		if (origin)
		{
			o = TsToLocal(zone, *origin);
			origin = &o;
		}
	}
	if (origin)
		o = *origin;
	else
		o = s->width.months > 0 ? TS_BUCKET_MONTH_ORIGIN : TS_BUCKET_ORIGIN;
	if (s->width.months > 0)
	{
		(void) TsBucketMonths(s->width.months, start, o, &s->index);
		s->origin = o;
	}
	else
		s->next = TsBucketFixed(s->width.usecs, start, o);
	return s;
}

/* The next bucket start of a series before its finish; false at the end */
static bool
TsSeriesNext(TsSeries *s, TimestampTz *result)
{
	for (;;)
	{
		Timestamp	b;
		TimestampTz out;

		if (s->done)
			return false;
		if (s->width.months > 0)
		{
			if (!TsAddMonths(s->origin, s->index, &b))
				return false;
			if (pg_add_s64_overflow(s->index, s->width.months, &s->index))
				s->done = true;
		}
		else
		{
			b = s->next;
			if (pg_add_s64_overflow(s->next, s->width.usecs, &s->next) ||
				!IS_VALID_TIMESTAMP(s->next))
				s->done = true;
		}
		out = s->zone ? TsFromLocal(s->zone, b) : b;
		if (out >= s->finish)
		{
			s->done = true;
			return false;
		}
		/* a local start in a DST gap repeats the instant of the next one */
		if (s->zone && s->returned && out <= s->last)
			continue;
		s->returned = true;
		s->last = out;
		*result = out;
		return true;
	}
}

/* The rows of a time_bucket_series call */
static Datum
TsSeriesRows(FunctionCallInfo fcinfo, const Interval *width, Timestamp start,
			 Timestamp finish, const Timestamp *origin, text *zone)
{
	FuncCallContext *funcctx;
	TimestampTz result;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext old;

		funcctx = SRF_FIRSTCALL_INIT();
		old = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		funcctx->user_fctx = TsSeriesBegin(width, start, finish, origin,
										   zone ? DatumGetTextPCopy(PointerGetDatum(zone)) : NULL);
		MemoryContextSwitchTo(old);
	}
	funcctx = SRF_PERCALL_SETUP();
	if (TsSeriesNext((TsSeries *) funcctx->user_fctx, &result))
		SRF_RETURN_NEXT(funcctx, TimestampTzGetDatum(result));
	SRF_RETURN_DONE(funcctx);
}

/*
 * nosql.time_bucket_series(bucket_width interval, start timestamptz, finish
 * timestamptz [, origin timestamptz]): the starts of the buckets that
 * cover [start, finish), as time_bucket aligns them; also the function of
 * the timestamp variant (the same microseconds, bucketed the same way)
 */
PG_FUNCTION_INFO_V1(time_bucket_series);
Datum
time_bucket_series(PG_FUNCTION_ARGS)
{
	Timestamp	origin;

	if (PG_NARGS() > 3)
		origin = PG_GETARG_TIMESTAMPTZ(3);
	return TsSeriesRows(fcinfo, PG_GETARG_INTERVAL_P(0), PG_GETARG_TIMESTAMPTZ(1),
						PG_GETARG_TIMESTAMPTZ(2), PG_NARGS() > 3 ? &origin : NULL,
						NULL);
}

/*
 * nosql.time_bucket_series(bucket_width interval, start timestamptz, finish
 * timestamptz, timezone text, origin timestamptz DEFAULT NULL): the buckets
 * of time_bucket with the same zone and origin.  Not strict, for the
 * default origin; other NULL arguments give no rows.
 */
PG_FUNCTION_INFO_V1(time_bucket_series_timezone);
Datum
time_bucket_series_timezone(PG_FUNCTION_ARGS)
{
	Timestamp	origin;
	bool		has_origin = PG_NARGS() > 4 && !PG_ARGISNULL(4);
	int			i;

	for (i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
		{
			ReturnSetInfo *rsi = (ReturnSetInfo *) fcinfo->resultinfo;

			rsi->isDone = ExprEndResult;
			PG_RETURN_NULL();
		}
	if (has_origin)
		origin = PG_GETARG_TIMESTAMPTZ(4);
	return TsSeriesRows(fcinfo, PG_GETARG_INTERVAL_P(0), PG_GETARG_TIMESTAMPTZ(1),
						PG_GETARG_TIMESTAMPTZ(2), has_origin ? &origin : NULL,
						PG_GETARG_TEXT_PP(3));
}

/*
 * A time of first/last, locf or interpolate as a number that sorts as the
 * time does: timestamps and bigints as they are, dates as days.  False for
 * an infinite timestamp or date (they still sort first or last).
 */
static bool
TsTimeKey(Datum time, Oid type, int64 *key)
{
	if (type == DATEOID)
	{
		DateADT		d = DatumGetDateADT(time);

		*key = d;
		return !DATE_NOT_FINITE(d);
	}
	*key = DatumGetInt64(time);
	if (type == TIMESTAMPOID || type == TIMESTAMPTZOID)
		return !TIMESTAMP_NOT_FINITE(*key);
	return true;
}

/* The state of first and last */
typedef struct TsFirstLast
{
	Oid			type;			/* of the value */
	int16		typlen;
	bool		typbyval;
	Oid			timetype;
	bool		found;			/* a row with a time was read */
	bool		isnull;			/* its value is NULL */
	int64		time;			/* its time, as TsTimeKey gives it */
	Datum		value;			/* its value, in the aggregate's context */
} TsFirstLast;

/* Replace the value of a state by a copy of another, in the state's context */
static void
TsFirstLastSet(TsFirstLast *state, MemoryContext context, int64 time,
			   Datum value, bool isnull)
{
	MemoryContext old = MemoryContextSwitchTo(context);

	if (state->found && !state->isnull && !state->typbyval)
		pfree(DatumGetPointer(state->value));
	state->found = true;
	state->time = time;
	state->isnull = isnull;
	state->value = isnull ? (Datum) 0 :
		datumCopy(value, state->typbyval, state->typlen);
	MemoryContextSwitchTo(old);
}

static MemoryContext
TsAggContext(FunctionCallInfo fcinfo, const char *name)
{
	MemoryContext context;

	if (!AggCheckCallContext(fcinfo, &context))
		elog(ERROR, "%s called in a non-aggregate context", name);
	return context;
}

/* The transition of first (last = false) and last */
static Datum
TsFirstLastTransition(FunctionCallInfo fcinfo, bool last)
{
	MemoryContext context = TsAggContext(fcinfo, last ? "nosql.last" : "nosql.first");
	TsFirstLast *state;
	int64		time;

	if (PG_ARGISNULL(0))
	{
		state = MemoryContextAllocZero(context, sizeof(TsFirstLast));
		state->type = get_fn_expr_argtype(fcinfo->flinfo, 1);
		state->timetype = get_fn_expr_argtype(fcinfo->flinfo, 2);
		if (!OidIsValid(state->type) || !OidIsValid(state->timetype))
			elog(ERROR, "could not determine the argument types of first/last");
		get_typlenbyval(state->type, &state->typlen, &state->typbyval);
	}
	else
		state = (TsFirstLast *) PG_GETARG_POINTER(0);

	/* rows without a time do not count */
	if (PG_ARGISNULL(2))
		PG_RETURN_POINTER(state);
	(void) TsTimeKey(PG_GETARG_DATUM(2), state->timetype, &time);
	if (!state->found ||
		(last ? time >= state->time : time < state->time))
		TsFirstLastSet(state, context, time, PG_GETARG_DATUM(1), PG_ARGISNULL(1));
	PG_RETURN_POINTER(state);
}

/*
 * nosql.first_transition(internal, anyelement, time), for every type of
 * time: timestamptz, timestamp, date, bigint
 */
PG_FUNCTION_INFO_V1(first_transition);
Datum
first_transition(PG_FUNCTION_ARGS)
{
	return TsFirstLastTransition(fcinfo, false);
}

/* nosql.last_transition(internal, anyelement, time) */
PG_FUNCTION_INFO_V1(last_transition);
Datum
last_transition(PG_FUNCTION_ARGS)
{
	return TsFirstLastTransition(fcinfo, true);
}

/* The combine function of first and last: state1 read before state2 */
static Datum
TsFirstLastCombine(FunctionCallInfo fcinfo, bool last)
{
	MemoryContext context = TsAggContext(fcinfo, last ? "nosql.last" : "nosql.first");
	TsFirstLast *s1 = PG_ARGISNULL(0) ? NULL : (TsFirstLast *) PG_GETARG_POINTER(0);
	TsFirstLast *s2 = PG_ARGISNULL(1) ? NULL : (TsFirstLast *) PG_GETARG_POINTER(1);

	if (s2 == NULL || !s2->found)
	{
		if (s1 == NULL)
			PG_RETURN_NULL();
		PG_RETURN_POINTER(s1);
	}
	if (s1 == NULL)
	{
		s1 = MemoryContextAllocZero(context, sizeof(TsFirstLast));
		s1->type = s2->type;
		s1->typlen = s2->typlen;
		s1->typbyval = s2->typbyval;
		s1->timetype = s2->timetype;
	}
	if (!s1->found ||
		(last ? s2->time >= s1->time : s2->time < s1->time))
		TsFirstLastSet(s1, context, s2->time, s2->value, s2->isnull);
	PG_RETURN_POINTER(s1);
}

/* nosql.first_combine(internal, internal) */
PG_FUNCTION_INFO_V1(first_combine);
Datum
first_combine(PG_FUNCTION_ARGS)
{
	return TsFirstLastCombine(fcinfo, false);
}

/* nosql.last_combine(internal, internal) */
PG_FUNCTION_INFO_V1(last_combine);
Datum
last_combine(PG_FUNCTION_ARGS)
{
	return TsFirstLastCombine(fcinfo, true);
}

/* The serialized state: this header, then the value by datumSerialize */
typedef struct TsFirstLastWire
{
	Oid			type;
	Oid			timetype;
	bool		found;
	int64		time;
} TsFirstLastWire;

/*
 * nosql.first_last_serialize(internal) RETURNS bytea, of first and last.  A
 * TOASTed value goes detoasted, so that the state stands alone.
 */
PG_FUNCTION_INFO_V1(first_last_serialize);
Datum
first_last_serialize(PG_FUNCTION_ARGS)
{
	TsFirstLast *state = (TsFirstLast *) PG_GETARG_POINTER(0);
	TsFirstLastWire wire;
	Datum		value = state->value;
	bool		isnull = !state->found || state->isnull;
	Size		size;
	bytea	   *result;
	char	   *p;

	(void) TsAggContext(fcinfo, "nosql.first_last_serialize");
	if (!isnull && state->typlen == -1)
		value = PointerGetDatum(PG_DETOAST_DATUM(value));
	memset(&wire, 0, sizeof(wire));
	wire.type = state->type;
	wire.timetype = state->timetype;
	wire.found = state->found;
	wire.time = state->time;
	size = sizeof(wire) + datumEstimateSpace(value, isnull, state->typbyval, state->typlen);
	result = palloc(VARHDRSZ + size);
	SET_VARSIZE(result, VARHDRSZ + size);
	p = VARDATA(result);
	memcpy(p, &wire, sizeof(wire));
	p += sizeof(wire);
	datumSerialize(value, isnull, state->typbyval, state->typlen, &p);
	PG_RETURN_BYTEA_P(result);
}

/* nosql.first_last_deserialize(bytea, internal) RETURNS internal */
PG_FUNCTION_INFO_V1(first_last_deserialize);
Datum
first_last_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *bytes = PG_GETARG_BYTEA_PP(0);
	TsFirstLastWire wire;
	TsFirstLast *state;
	char	   *p;

	(void) TsAggContext(fcinfo, "nosql.first_last_deserialize");
	if (VARSIZE_ANY_EXHDR(bytes) < sizeof(wire))
		elog(ERROR, "first/last state of %zu bytes is too short",
			 (size_t) VARSIZE_ANY_EXHDR(bytes));
	p = VARDATA_ANY(bytes);
	memcpy(&wire, p, sizeof(wire));
	p += sizeof(wire);
	state = palloc0(sizeof(TsFirstLast));
	state->type = wire.type;
	state->timetype = wire.timetype;
	get_typlenbyval(state->type, &state->typlen, &state->typbyval);
	state->found = wire.found;
	state->time = wire.time;
	/* datumRestore copies a by-reference value into the current context */
	state->value = datumRestore(&p, &state->isnull);
	PG_RETURN_POINTER(state);
}

/*
 * nosql.first_last_final(internal, anyelement, time) RETURNS anyelement:
 * the value kept, NULL when no row had a time
 */
PG_FUNCTION_INFO_V1(first_last_final);
Datum
first_last_final(PG_FUNCTION_ARGS)
{
	TsFirstLast *state = PG_ARGISNULL(0) ? NULL : (TsFirstLast *) PG_GETARG_POINTER(0);

	if (state == NULL || !state->found || state->isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(state->value);
}

/*
 * How far locf has read its partition: rows before "read" are read, and
 * "observed" is one more than the position of the last observation among
 * them (0: none yet).  Partition-local memory starts zeroed.
 */
typedef struct TsLocf
{
	int64		read;
	int64		observed;
} TsLocf;

/*
 * nosql.locf(value anyelement, treat_null_as_missing boolean DEFAULT true),
 * a window function: the value of the last row up to this one, in the
 * window's order, that is an observation: whose value is not NULL, or whose
 * treat_null_as_missing is false (then its NULL is the observation).  NULL
 * before the first observation.
 */
PG_FUNCTION_INFO_V1(locf);
Datum
locf(PG_FUNCTION_ARGS)
{
	WindowObject winobj = PG_WINDOW_OBJECT();
	TsLocf	   *st = WinGetPartitionLocalMemory(winobj, sizeof(TsLocf));
	int64		current = WinGetCurrentPosition(winobj);
	Datum		value = (Datum) 0;
	bool		isnull = true;
	bool		isout;
	bool		read_current = false;
	int64		pos;

	for (pos = st->read; pos <= current; pos++)
	{
		read_current = (pos == current);
		value = WinGetFuncArgInPartition(winobj, 0, pos, WINDOW_SEEK_HEAD,
										 false, &isnull, &isout);
		if (!isnull)
			st->observed = pos + 1;
		else if (PG_NARGS() > 1)
		{
			bool		flagnull;
			Datum		flag = WinGetFuncArgInPartition(winobj, 1, pos,
														WINDOW_SEEK_HEAD, false,
														&flagnull, &isout);

			if (!flagnull && !DatumGetBool(flag))
				st->observed = pos + 1;
		}
	}
	if (st->read <= current)
		st->read = current + 1;
	if (st->observed == 0)
	{
		WinSetMarkPosition(winobj, current);
		PG_RETURN_NULL();
	}
	/* earlier rows are needed no more */
	WinSetMarkPosition(winobj, st->observed - 1);
	if (st->observed - 1 != current || !read_current)
		value = WinGetFuncArgInPartition(winobj, 0, st->observed - 1,
										 WINDOW_SEEK_HEAD, false, &isnull, &isout);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(value);
}

/*
 * How far interpolate has read its partition: rows before "read" are read;
 * "before" and "after" are one more than the positions of the anchors
 * (rows with a value and a time) before the current row and after the
 * gap being filled (0: none found); "end" once no anchor follows "after".
 */
typedef struct TsInterpolate
{
	int64		read;
	int64		before;
	int64		after;
	bool		end;
} TsInterpolate;

/*
 * The value and time of a row of the partition; false unless it is an
 * anchor: both set, the time finite
 */
static bool
TsAnchor(WindowObject winobj, int64 pos, Oid timetype, double *value,
		 int64 *time, bool *isout)
{
	bool		isnull;
	Datum		v;
	Datum		t;

	v = WinGetFuncArgInPartition(winobj, 0, pos, WINDOW_SEEK_HEAD, false,
								 &isnull, isout);
	if (*isout || isnull)
		return false;
	*value = DatumGetFloat8(v);
	t = WinGetFuncArgInPartition(winobj, 1, pos, WINDOW_SEEK_HEAD, false,
								 &isnull, isout);
	if (isnull)
		return false;
	return TsTimeKey(t, timetype, time);
}

/*
 * nosql.interpolate(value float8, time timestamptz | timestamp | date |
 * bigint), a window function: the value when it is not NULL, else the
 * value on the line between the anchors (rows with a value and a finite
 * time) before and after this row in the window's order, at this row's
 * time.  NULL without both anchors, or without a finite time.
 */
PG_FUNCTION_INFO_V1(interpolate);
Datum
interpolate(PG_FUNCTION_ARGS)
{
	WindowObject winobj = PG_WINDOW_OBJECT();
	TsInterpolate *st = WinGetPartitionLocalMemory(winobj, sizeof(TsInterpolate));
	int64		current = WinGetCurrentPosition(winobj);
	Oid			timetype = get_fn_expr_argtype(fcinfo->flinfo, 1);
	double		v0,
				v1;
	int64		t0,
				t1,
				t,
				d,
				d1;
	bool		isnull;
	bool		isout;
	int64		pos;
	Datum		value;
	Datum		time;

	/* the anchors before this row, when rows were skipped */
	for (pos = st->read; pos < current; pos++)
		if (TsAnchor(winobj, pos, timetype, &v0, &t0, &isout))
			st->before = pos + 1;
	if (st->read <= current)
		st->read = current + 1;
	if (TsAnchor(winobj, current, timetype, &v0, &t0, &isout))
	{
		st->before = current + 1;
		/* earlier rows are needed no more */
		WinSetMarkPosition(winobj, current);
	}
	value = WinGetFuncArgInPartition(winobj, 0, current, WINDOW_SEEK_HEAD,
									 false, &isnull, &isout);
	if (!isnull)
		PG_RETURN_DATUM(value);
	if (st->before > 0)
		WinSetMarkPosition(winobj, st->before - 1);
	time = WinGetFuncArgInPartition(winobj, 1, current, WINDOW_SEEK_HEAD,
									false, &isnull, &isout);
	if (isnull || st->before == 0 || !TsTimeKey(time, timetype, &t))
		PG_RETURN_NULL();

	/* the anchor after the gap, looked for once per gap */
	if (st->after <= current && !st->end)
	{
		st->after = 0;
		for (pos = current + 1;; pos++)
		{
			CHECK_FOR_INTERRUPTS();
			if (TsAnchor(winobj, pos, timetype, &v1, &t1, &isout))
			{
				st->after = pos + 1;
				break;
			}
			if (isout)
			{
				st->end = true;
				break;
			}
		}
	}
	if (st->after == 0)
		PG_RETURN_NULL();

	if (!TsAnchor(winobj, st->before - 1, timetype, &v0, &t0, &isout) ||
		!TsAnchor(winobj, st->after - 1, timetype, &v1, &t1, &isout))
		elog(ERROR, "interpolate lost its anchors at rows " INT64_FORMAT " and " INT64_FORMAT,
			 st->before - 1, st->after - 1);
	if (t1 == t0)
		PG_RETURN_FLOAT8(v0);
	/* differences of times in int64 when they fit, for precision */
	if (pg_sub_s64_overflow(t, t0, &d) || pg_sub_s64_overflow(t1, t0, &d1))
		PG_RETURN_FLOAT8(v0 + (v1 - v0) * (((double) t - (double) t0) /
										   ((double) t1 - (double) t0)));
	PG_RETURN_FLOAT8(v0 + (v1 - v0) * ((double) d / (double) d1));
}
