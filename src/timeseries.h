/*-------------------------------------------------------------------------
 *
 * timeseries.h
 *	  Time series: the query functions (ts_sql.c): time buckets, the
 *	  first/last aggregates and the gap-filling window functions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef TIMESERIES_H
#define TIMESERIES_H

#include "datatype/timestamp.h"
#include "pgtime.h"

/*
 * Default origins of time buckets, as TimescaleDB documents them: buckets
 * narrower than a month start from Monday 2000-01-03 00:00, buckets of
 * months and years from 2000-01-01 00:00 (PostgreSQL's epoch, so 0).
 */
#define TS_BUCKET_ORIGIN	((Timestamp) (2 * USECS_PER_DAY))
#define TS_BUCKET_MONTH_ORIGIN	((Timestamp) 0)

/* COPY compresses the rows of partitions due for compression (ts_copy.c) */
extern bool nosql_timeseries_compress_copy;

/*
 * The start of the bucket of width "width" that holds the finite timestamp
 * "ts" (a timestamptz counts as a timestamp in UTC); origin NULL for the
 * default; offset, when not NULL, shifts the buckets.  Errors for a width
 * that is not positive, mixes months with days or time, and for a result out
 * of the range of timestamps.
 */
extern Timestamp TsBucketTimestamp(const Interval *width, Timestamp ts,
								   const Timestamp *origin,
								   const Interval *offset);

/*
 * The local start of the bucket of the finite timestamptz ts in the local
 * time of zone (what time_bucket with a time zone turns back into a
 * timestamptz); *local receives ts's local time.
 */
extern Timestamp TsBucketZoneLocal(const Interval *width, TimestampTz ts,
								   text *zone, const TimestampTz *origin,
								   const Interval *offset, Timestamp *local);

/* How a time zone argument maps times to local times (TsZoneResolve) */
typedef enum TsZoneKind
{
	TS_ZONE_FIXED,				/* a fixed-offset abbreviation */
	TS_ZONE_NAMED,				/* a zone of pg_tzset: tz */
	TS_ZONE_OTHER				/* a dynamic abbreviation, or not a zone */
} TsZoneKind;

typedef struct TsZone
{
	TsZoneKind	kind;
	pg_tz	   *tz;
} TsZone;

extern void TsZoneResolve(text *zone, TsZone *result);
extern bool TsZoneSameOffset(const TsZone *zone, TimestampTz a, TimestampTz b);

#endif							/* TIMESERIES_H */
