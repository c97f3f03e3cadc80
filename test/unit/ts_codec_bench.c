/*-------------------------------------------------------------------------
 *
 * ts_codec_bench.c
 *	  Sizes and speeds of the time-series column codecs on the data
 *	  sets (ts_codec_data.h): 100 hosts x 10 metrics x 8,640 points, blocks
 *	  of 1,000 rows per series.  Built with -O2 and without sanitizers:
 *
 *	  make -C test/unit ts-bench
 *
 * Prints, per data set, the bytes per value (blocks with their headers, no
 * statistics) and the encode and decode throughput in values per second
 * (one core, best of three decode passes over all the blocks).
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ts_codec.h"
#include "ts_codec_data.h"

#define NSERIES (TSD_HOSTS * TSD_METRICS)

static double
Now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef enum
{
	KIND_FLOAT,
	KIND_INT8,
	KIND_TIMESTAMP
} Kind;

/*
 * Encode nseries series of TSD_POINTS values (given by gen) into blocks,
 * then decode them all; print the figures.
 */
static void
Run(const char *name, Kind kind, int nseries,
	void (*gen) (int series, double *f, int64_t *i))
{
	double	   *f = malloc(sizeof(double) * TSD_POINTS * (size_t) nseries);
	int64_t    *iv = malloc(sizeof(int64_t) * TSD_POINTS * (size_t) nseries);
	double	   *fo = malloc(sizeof(double) * TSD_BLOCK);
	int64_t    *io = malloc(sizeof(int64_t) * TSD_BLOCK);
	size_t	   *offs = malloc(sizeof(size_t) * (nseries * 10 + 1));
	int		   *rows = malloc(sizeof(int) * (nseries * 10));
	TsBuffer	b;
	int			nblocks = 0;
	double		t0,
				enc,
				dec = 1e9;
	double		nvals = (double) nseries * TSD_POINTS;
	double		check = 0;

	for (int s = 0; s < nseries; s++)
		gen(s, f + (size_t) s * TSD_POINTS, iv + (size_t) s * TSD_POINTS);
	ts_buffer_init(&b);
	ts_buffer_reserve(&b, 16 * TSD_POINTS * (size_t) nseries);
	t0 = Now();
	for (int s = 0; s < nseries; s++)
	{
		for (int start = 0; start < TSD_POINTS; start += TSD_BLOCK)
		{
			int			n = TSD_POINTS - start < TSD_BLOCK ? TSD_POINTS - start : TSD_BLOCK;
			size_t		at = (size_t) s * TSD_POINTS + start;

			offs[nblocks] = b.len;
			rows[nblocks++] = n;
			if (kind == KIND_FLOAT)
				ts_encode_float8(f + at, NULL, n, &b, NULL);
			else if (kind == KIND_INT8)
				ts_encode_int8(iv + at, NULL, n, &b, NULL);
			else
				ts_encode_timestamp(iv + at, NULL, n, &b, NULL);
		}
	}
	enc = Now() - t0;
	offs[nblocks] = b.len;
	for (int pass = 0; pass < 3; pass++)
	{
		double		d;

		t0 = Now();
		for (int k = 0; k < nblocks; k++)
		{
			const uint8_t *p = b.data + offs[k];
			size_t		len = offs[k + 1] - offs[k];
			int			rc;

			if (kind == KIND_FLOAT)
			{
				rc = ts_decode_float8(p, len, fo, NULL, TSD_BLOCK);
				check += fo[rc - 1];
			}
			else
			{
				rc = kind == KIND_INT8 ? ts_decode_int8(p, len, io, NULL, TSD_BLOCK) :
					ts_decode_timestamp(p, len, io, NULL, TSD_BLOCK);
				check += io[rc - 1];
			}
			if (rc != rows[k])
			{
				fprintf(stderr, "%s: block %d decodes to %d\n", name, k, rc);
				exit(1);
			}
		}
		d = Now() - t0;
		if (d < dec)
			dec = d;
	}
	printf("%-34s %7.4f bytes/value  encode %6.1f M values/s  decode %7.1f M values/s\n",
		   name, b.len / nvals, nvals / enc / 1e6, nvals / dec / 1e6);
	if (check == 12345.678)
		printf("\n");
	ts_buffer_free(&b);
	free(f);
	free(iv);
	free(fo);
	free(io);
	free(offs);
	free(rows);
}

static void
GenA(int s, double *f, int64_t *i)
{
	TsdWalk(s + 1, false, f);
}

static void
GenB(int s, double *f, int64_t *i)
{
	TsdWalk(s + 1, true, f);
}

static void
GenC(int s, double *f, int64_t *i)
{
	TsdCounter(s + 1, i);
	for (int k = 0; k < TSD_POINTS; k++)
		f[k] = (double) i[k];
}

static void
GenT(int s, double *f, int64_t *i)
{
	TsdTimes(s + 1, 0, i);
}

static void
GenTJ(int s, double *f, int64_t *i)
{
	TsdTimes(s + 1, 1000, i);
}

int
main(void)
{
	printf("%d series x %d points, blocks of %d rows\n", NSERIES, TSD_POINTS,
		   TSD_BLOCK);
	Run("A float8 full-precision walks", KIND_FLOAT, NSERIES, GenA);
	Run("B float8 walks rounded to 0.1", KIND_FLOAT, NSERIES, GenB);
	Run("C counters as int8", KIND_INT8, NSERIES, GenC);
	Run("C counters as float8", KIND_FLOAT, NSERIES, GenC);
	Run("timestamps every 10 s", KIND_TIMESTAMP, TSD_HOSTS, GenT);
	Run("timestamps every 10 s +-1 ms", KIND_TIMESTAMP, TSD_HOSTS, GenTJ);
	return 0;
}
