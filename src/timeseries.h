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

#endif							/* TIMESERIES_H */
