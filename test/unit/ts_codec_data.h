/*-------------------------------------------------------------------------
 *
 * ts_codec_data.h
 *	  The data sets of issue 10 on which the time-series codecs are sized
 *	  (test_ts_codec.c) and timed (ts_codec_bench.c).
 *
 *	  A	  float8 random walks at full precision, TSBS "cpu"-like: each
 *		  metric starts uniform in [0, 100] and adds a normal(0, 1) step
 *		  clamped to [0, 100] every 10 s
 *	  B	  the same walks rounded to 0.1 (round(x * 10) / 10)
 *	  C	  counters: monotonic, increments uniform in 0..1000
 *	  T	  timestamps every 10 s, exactly or with a jitter of +-1 ms
 *
 * Series are generated one at a time from a seed, so that a caller can
 * size any number of them without holding them all.  Each header user
 * includes it once.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_TS_CODEC_DATA_H
#define NOSQL_TS_CODEC_DATA_H

#include <math.h>
#include <stdint.h>

#define TSD_POINTS		8640	/* one day every 10 s */
#define TSD_HOSTS		100
#define TSD_METRICS		10
#define TSD_BLOCK		1000
#define TSD_INTERVAL	INT64_C(10000000)	/* 10 s in microseconds */
/* 2024-01-01 00:00:00 UTC in microseconds since 2000-01-01 */
#define TSD_START		INT64_C(757382400000000)

/* splitmix64: a small, good, seedable generator */
static inline uint64_t
TsdNext(uint64_t *state)
{
	uint64_t	z = (*state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/* uniform in [0, 1) with 53 random bits */
static inline double
TsdUniform(uint64_t *state)
{
	return (double) (TsdNext(state) >> 11) * 0x1p-53;
}

/* normal(0, 1), Box-Muller */
static inline double
TsdNormal(uint64_t *state)
{
	double		u1 = TsdUniform(state);
	double		u2 = TsdUniform(state);

	if (u1 < 0x1p-60)
		u1 = 0x1p-60;
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Data A (rounded = false) or B (true): one series of TSD_POINTS values */
static inline void
TsdWalk(uint64_t seed, bool rounded, double *out)
{
	uint64_t	st = seed * 7919 + 1;
	double		x = TsdUniform(&st) * 100.0;

	for (int i = 0; i < TSD_POINTS; i++)
	{
		x += TsdNormal(&st);
		if (x < 0.0)
			x = 0.0;
		if (x > 100.0)
			x = 100.0;
		out[i] = rounded ? round(x * 10.0) / 10.0 : x;
	}
}

/* Data C: one counter series */
static inline void
TsdCounter(uint64_t seed, int64_t *out)
{
	uint64_t	st = seed * 104729 + 3;
	int64_t		c = (int64_t) (TsdNext(&st) % 1000000);

	for (int i = 0; i < TSD_POINTS; i++)
	{
		c += (int64_t) (TsdNext(&st) % 1001);
		out[i] = c;
	}
}

/* Timestamps of one series, with a jitter of +-jitter microseconds */
static inline void
TsdTimes(uint64_t seed, int64_t jitter, int64_t *out)
{
	uint64_t	st = seed * 15485863 + 5;

	for (int i = 0; i < TSD_POINTS; i++)
	{
		out[i] = TSD_START + i * TSD_INTERVAL;
		if (jitter > 0)
			out[i] += (int64_t) (TsdNext(&st) % (2 * jitter + 1)) - jitter;
	}
}

#endif							/* NOSQL_TS_CODEC_DATA_H */
