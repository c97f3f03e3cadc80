/*-------------------------------------------------------------------------
 *
 * test_ts_codec.c
 *	  Unit tests of the time-series column codecs (src/ts_codec.c): exact
 *	  round trips of random and adversarial blocks of every type, errors
 *	  (never crashes) on truncated and corrupted blocks, the statistics,
 *	  and the sizes of the data sets (ts_codec_data.h), printed as
 *	  bytes per value and checked against the targets.
 *
 *-------------------------------------------------------------------------
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_codec.h"
#include "ts_codec_data.h"
#include "unit.h"

static uint64_t tc_rng = 42;

static uint64_t
TcRand(void)
{
	return TsdNext(&tc_rng);
}

static double
TcBitsDouble(uint64_t u)
{
	double		d;

	memcpy(&d, &u, 8);
	return d;
}

static uint64_t
TcDoubleBits(double d)
{
	uint64_t	u;

	memcpy(&u, &d, 8);
	return u;
}

/*
 * Check that every prefix (all of them for short blocks, a sample of long
 * ones) is rejected, and that corrupting bytes never crashes and never
 * yields more rows than the capacity.  decode is called through a small
 * adapter per type.
 */
typedef int (*TcDecodeFn) (const uint8_t *buf, size_t len, int capacity);

static void *tc_out;
static bool *tc_nulls;

static int
TcDecodeFloat(const uint8_t *buf, size_t len, int capacity)
{
	return ts_decode_float8(buf, len, tc_out, tc_nulls, capacity);
}

static int
TcDecodeInt8(const uint8_t *buf, size_t len, int capacity)
{
	return ts_decode_int8(buf, len, tc_out, tc_nulls, capacity);
}

static int
TcDecodeTimestamp(const uint8_t *buf, size_t len, int capacity)
{
	return ts_decode_timestamp(buf, len, tc_out, tc_nulls, capacity);
}

static int
TcDecodeInt4(const uint8_t *buf, size_t len, int capacity)
{
	return ts_decode_int4(buf, len, tc_out, tc_nulls, capacity);
}

static int
TcDecodeBool(const uint8_t *buf, size_t len, int capacity)
{
	return ts_decode_bool(buf, len, tc_out, tc_nulls, capacity);
}

static int
TcDecodeText(const uint8_t *buf, size_t len, int capacity)
{
	TsBuffer	data;
	uint32_t   *offsets = malloc(sizeof(uint32_t) * (capacity + 1));
	int			rc;

	ts_buffer_init(&data);
	rc = ts_decode_text(buf, len, &data, offsets, tc_nulls, capacity);
	ts_buffer_free(&data);
	free(offsets);
	return rc;
}

static void
TcAbuse(const char *file, int line, const uint8_t *block, size_t len, int n,
		TcDecodeFn decode)
{
	uint8_t    *copy = malloc(len + 1);
	size_t		step = len <= 300 ? 1 : len / 150;

	/* every prefix (or a sample) is an error */
	for (size_t cut = 0; cut < len; cut += step)
	{
		memcpy(copy, block, cut);
		if (decode(copy, cut, n) >= 0)
			UnitFail(file, line, "a block cut to %zu of %zu bytes decodes",
					 cut, len);
	}
	/* a byte more is an error */
	memcpy(copy, block, len);
	copy[len] = 0;
	if (decode(copy, len + 1, n) >= 0)
		UnitFail(file, line, "a block with a trailing byte decodes");
	/* too little room */
	if (n > 0 && decode(block, len, n - 1) != TS_ERR_CAPACITY)
		UnitFail(file, line, "a block decodes into too little room");
	/* random corruption: no crash (the sanitizers watch), rows <= n */
	for (int trial = 0; trial < 200; trial++)
	{
		int			flips = 1 + (int) (TcRand() % 3);
		int			rc;

		memcpy(copy, block, len);
		for (int f = 0; f < flips; f++)
			copy[TcRand() % len] ^= (uint8_t) (1 + TcRand() % 255);
		rc = decode(copy, len, n);
		if (rc > n)
			UnitFail(file, line, "a corrupt block decodes to %d rows", rc);
	}
	free(copy);
	UnitChecks++;
}

#define ABUSE(block, len, n, fn) TcAbuse(__FILE__, __LINE__, block, len, n, fn)

/*
 * Encode and decode float8s; bit-exact comparison.  Returns the block size.
 */
static size_t
TcFloat(const char *file, int line, const double *v, const bool *nulls, int n,
		bool abuse)
{
	TsBuffer	b;
	TsStats		st;
	double	   *out = malloc(sizeof(double) * (n + 1));
	bool	   *on = malloc(n + 1);
	size_t		len;
	int			rc;

	ts_buffer_init(&b);
	len = ts_encode_float8(v, nulls, n, &b, &st);
	UnitChecks++;
	if (len == 0 || len != b.len)
		UnitFail(file, line, "float8 encoding of %d values failed", n);
	rc = ts_decode_float8(b.data, b.len, out, on, n);
	if (rc != n)
		UnitFail(file, line, "float8 decoding returned %d, not %d (%s)", rc, n,
				 ts_error_message(rc));
	for (int i = 0; rc == n && i < n; i++)
	{
		bool		isnull = nulls != NULL && nulls[i];

		if (on[i] != isnull ||
			(!isnull && TcDoubleBits(out[i]) != TcDoubleBits(v[i])) ||
			(isnull && TcDoubleBits(out[i]) != 0))
		{
			UnitFail(file, line, "float8 row %d of %d: %016llx became %016llx "
					 "(method %s)", i, n,
					 (unsigned long long) TcDoubleBits(v[i]),
					 (unsigned long long) TcDoubleBits(out[i]),
					 ts_block_method(b.data, b.len));
			break;
		}
	}
	if (st.count != n)
		UnitFail(file, line, "float8 stats count %d, not %d", st.count, n);
	if (abuse)
	{
		tc_out = out;
		tc_nulls = on;
		ABUSE(b.data, b.len, n, TcDecodeFloat);
	}
	ts_buffer_free(&b);
	free(out);
	free(on);
	return len;
}

#define ROUND_FLOAT(v, nulls, n) TcFloat(__FILE__, __LINE__, v, nulls, n, true)

/*
 * Encode and decode int64s as timestamps and as int8.
 */
static size_t
TcInt64(const char *file, int line, const int64_t *v, const bool *nulls,
		int n, bool abuse)
{
	size_t		len = 0;

	for (int kind = 0; kind < 2; kind++)
	{
		TsBuffer	b;
		TsStats		st;
		int64_t    *out = malloc(sizeof(int64_t) * (n + 1));
		bool	   *on = malloc(n + 1);
		int			rc;

		ts_buffer_init(&b);
		len = kind == 0 ? ts_encode_timestamp(v, nulls, n, &b, &st) :
			ts_encode_int8(v, nulls, n, &b, &st);
		UnitChecks++;
		if (len == 0)
			UnitFail(file, line, "int64 encoding of %d values failed", n);
		rc = kind == 0 ? ts_decode_timestamp(b.data, b.len, out, on, n) :
			ts_decode_int8(b.data, b.len, out, on, n);
		if (rc != n)
			UnitFail(file, line, "int64 decoding returned %d, not %d", rc, n);
		for (int i = 0; rc == n && i < n; i++)
		{
			bool		isnull = nulls != NULL && nulls[i];

			if (on[i] != isnull || (!isnull && out[i] != v[i]) ||
				(isnull && out[i] != 0))
			{
				UnitFail(file, line, "int64 row %d: %lld became %lld", i,
						 (long long) v[i], (long long) out[i]);
				break;
			}
		}
		/* the other integer type refuses the block */
		if (kind == 1 && ts_decode_timestamp(b.data, b.len, out, on, n) !=
			TS_ERR_TYPE)
			UnitFail(file, line, "an int8 block decodes as timestamps");
		if (abuse)
		{
			tc_out = out;
			tc_nulls = on;
			ABUSE(b.data, b.len, n,
				  kind == 0 ? TcDecodeTimestamp : TcDecodeInt8);
		}
		ts_buffer_free(&b);
		free(out);
		free(on);
	}
	return len;
}

#define ROUND_INT64(v, nulls, n) TcInt64(__FILE__, __LINE__, v, nulls, n, true)

/* Fill nulls: none, all, or each with probability 1/every */
static bool *
TcNulls(int n, int every)
{
	bool	   *nulls = malloc(n + 1);

	for (int i = 0; i < n; i++)
		nulls[i] = every == 1 || (every > 1 && TcRand() % every == 0);
	return nulls;
}

/* The special doubles */
static const double tc_special[] = {
	0.0, -0.0, 1.0, -1.0, 0.1, -2.5, DBL_MAX, -DBL_MAX, DBL_MIN, -DBL_MIN,
	DBL_TRUE_MIN, -DBL_TRUE_MIN, 4.9e-320, INFINITY, -INFINITY, NAN,
	9223372036854775807.0, -9223372036854775808.0, 9007199254740993.0,
	1e300, 123456.789, 0.000001, 1e-7
};

TEST(ts_float8_special)
{
	int			ns = sizeof(tc_special) / sizeof(tc_special[0]);
	double		v[64];
	uint64_t	payloads[] = {
		UINT64_C(0x7ff0000000000001), UINT64_C(0xfff0000000000001),
		UINT64_C(0x7ff8000000000000), UINT64_C(0xfff8000000000000),
		UINT64_C(0x7fffffffffffffff), UINT64_C(0xffffffffffffffff),
		UINT64_C(0x7ff4000000dead01), UINT64_C(0x8000000000000000),
		UINT64_C(0x0000000000000001), UINT64_C(0x800fffffffffffff)
	};

	/* each alone, n = 1 */
	for (int i = 0; i < ns; i++)
		ROUND_FLOAT(&tc_special[i], NULL, 1);
	for (int i = 0; i < 10; i++)
	{
		double		d = TcBitsDouble(payloads[i]);

		ROUND_FLOAT(&d, NULL, 1);
	}
	/* all together, in several orders */
	for (int round = 0; round < 20; round++)
	{
		for (int i = 0; i < 64; i++)
			v[i] = TcRand() % 3 == 0 ?
				TcBitsDouble(payloads[TcRand() % 10]) :
				tc_special[TcRand() % ns];
		ROUND_FLOAT(v, NULL, 64);
	}
	/* -0.0 and NaN payloads inside decimal-looking data: exceptions */
	for (int i = 0; i < 64; i++)
		v[i] = (double) (i % 7) / 10.0;
	v[5] = -0.0;
	v[17] = TcBitsDouble(payloads[6]);
	v[40] = -INFINITY;
	ROUND_FLOAT(v, NULL, 64);
	for (int i = 0; i < 64; i++)
		v[i] = (double) (i * 3);
	v[0] = -0.0;
	v[63] = NAN;
	ROUND_FLOAT(v, NULL, 64);
}

TEST(ts_float8_random)
{
	static double v[TS_BLOCK_MAX_ROWS];
	int			sizes[] = {0, 1, 2, 3, 31, 32, 33, 63, 64, 65, 129, 1000, 10000};

	for (int s = 0; s < (int) (sizeof(sizes) / sizeof(sizes[0])); s++)
	{
		int			n = sizes[s];

		for (int kind = 0; kind < 8; kind++)
		{
			bool	   *nulls = TcNulls(n, kind % 4 == 3 ? 5 : (kind == 2 ? 1 : 0));
			double		x = 50.0;

			for (int i = 0; i < n; i++)
			{
				switch (kind)
				{
					case 0:		/* any bit pattern */
						v[i] = TcBitsDouble(TcRand());
						break;
					case 1:		/* a random walk */
						x += TsdNormal(&tc_rng);
						v[i] = x;
						break;
					case 2:		/* all NULL */
					case 3:
						v[i] = round(x * 100) / 100;
						x += TsdNormal(&tc_rng);
						break;
					case 4:		/* integers, huge ones too */
						v[i] = (double) (int64_t) (TcRand() >> (TcRand() % 64));
						break;
					case 5:		/* few decimals with exceptions */
						v[i] = TcRand() % 50 == 0 ? TcBitsDouble(TcRand()) :
							(double) (int64_t) (TcRand() % 100000) / 1000.0;
						break;
					case 6:		/* repeats */
						v[i] = TcRand() % 4 == 0 ? x++ : x;
						break;
					default:	/* subnormals and tiny values */
						v[i] = TcBitsDouble(TcRand() % 1000000) *
							(TcRand() % 2 ? 1 : -1);
						break;
				}
			}
			TcFloat(__FILE__, __LINE__, v, nulls, n, n <= 1000);
			free(nulls);
		}
	}
}

TEST(ts_float8_methods)
{
	double		v[1000];
	TsBuffer	b;
	TsStats		st;

	/* rounded to 0.1: decimal, far below a byte a value */
	for (int i = 0; i < 1000; i++)
		v[i] = round((50 + 10 * sin(i / 30.0)) * 10) / 10;
	ts_buffer_init(&b);
	ts_encode_float8(v, NULL, 1000, &b, &st);
	CHECK(strncmp(ts_block_method(b.data, b.len), "decimal", 7) == 0);
	CHECK(b.len < 1000);
	CHECK(st.has_minmax && !st.has_nan);
	CHECK(st.min_float >= 40 && st.max_float <= 60);
	/* a constant: a few bytes */
	for (int i = 0; i < 1000; i++)
		v[i] = 3.14159;
	b.len = 0;
	ts_encode_float8(v, NULL, 1000, &b, &st);
	CHECK(b.len < 24);
	CHECK(st.sum_float > 3141.58 && st.sum_float < 3141.6);
	/* NaN: noted, not in min/max, in the sum */
	v[10] = NAN;
	b.len = 0;
	ts_encode_float8(v, NULL, 1000, &b, &st);
	CHECK(st.has_nan && st.has_minmax && st.min_float == 3.14159);
	CHECK(isnan(st.sum_float));
	ts_buffer_free(&b);
}

TEST(ts_int64_adversarial)
{
	static int64_t v[TS_BLOCK_MAX_ROWS];
	const int64_t extremes[] = {INT64_MIN, INT64_MAX, 0, -1, 1, INT64_MIN + 1,
	INT64_MAX - 1};
	int			sizes[] = {0, 1, 2, 3, 33, 64, 65, 100, 1000, 10000};

	for (int s = 0; s < (int) (sizeof(sizes) / sizeof(sizes[0])); s++)
	{
		int			n = sizes[s];

		for (int kind = 0; kind < 9; kind++)
		{
			bool	   *nulls = TcNulls(n, kind == 7 ? 1 : (kind == 8 ? 3 : 0));

			for (int i = 0; i < n; i++)
			{
				switch (kind)
				{
					case 0:		/* extremes: every delta overflows */
						v[i] = extremes[TcRand() % 7];
						break;
					case 1:		/* random */
						v[i] = (int64_t) TcRand();
						break;
					case 2:		/* regular timestamps */
						v[i] = TSD_START + i * TSD_INTERVAL;
						break;
					case 3:		/* backfill: out of order and duplicates */
						v[i] = TSD_START + (int64_t) (TcRand() % 50) * TSD_INTERVAL;
						break;
					case 4:		/* mostly regular, some duplicates and gaps */
						v[i] = i == 0 ? 0 : v[i - 1] +
							(TcRand() % 10 == 0 ? (int64_t) (TcRand() % 3) *
							 TSD_INTERVAL : TSD_INTERVAL);
						break;
					case 5:		/* descending */
						v[i] = INT64_MAX - i * (int64_t) 1000;
						break;
					case 6:		/* alternating extremes */
						v[i] = i % 2 ? INT64_MIN : INT64_MAX;
						break;
					default:	/* with NULLs */
						v[i] = TSD_START + i * TSD_INTERVAL;
						break;
				}
			}
			TcInt64(__FILE__, __LINE__, v, nulls, n, n <= 1000);
			free(nulls);
		}
	}
}

TEST(ts_timestamp_sizes)
{
	int64_t		v[1000];
	TsBuffer	b;
	TsStats		st;

	for (int i = 0; i < 1000; i++)
		v[i] = TSD_START + i * TSD_INTERVAL;
	ts_buffer_init(&b);
	ts_encode_timestamp(v, NULL, 1000, &b, &st);
	CHECK(strncmp(ts_block_method(b.data, b.len), "delta", 5) == 0);
	CHECK(b.len <= 24);
	CHECK_EQ(st.min_int, TSD_START);
	CHECK_EQ(st.max_int, TSD_START + 999 * TSD_INTERVAL);
	CHECK(!st.sum_overflow);
	CHECK_EQ(st.sum_int, 1000 * TSD_START + 499500 * TSD_INTERVAL);
	/* the sum of int8 extremes overflows */
	v[0] = INT64_MAX;
	v[1] = 1;
	b.len = 0;
	ts_encode_int8(v, NULL, 2, &b, &st);
	CHECK(st.sum_overflow);
	ts_buffer_free(&b);
}

TEST(ts_int4)
{
	int32_t		v[1000];
	int32_t		out[1000];
	bool		on[1000];
	bool	   *nulls = TcNulls(1000, 4);
	TsBuffer	b;
	TsStats		st;
	int64_t		sum = 0;

	for (int i = 0; i < 1000; i++)
	{
		v[i] = i % 3 == 0 ? INT32_MIN : (i % 3 == 1 ? INT32_MAX : (int32_t) TcRand());
		if (!nulls[i])
			sum += v[i];
	}
	ts_buffer_init(&b);
	CHECK(ts_encode_int4(v, nulls, 1000, &b, &st) > 0);
	CHECK_EQ(ts_decode_int4(b.data, b.len, out, on, 1000), 1000);
	for (int i = 0; i < 1000; i++)
		CHECK(on[i] == nulls[i] && (nulls[i] ? out[i] == 0 : out[i] == v[i]));
	CHECK_EQ(st.sum_int, sum);
	CHECK(!st.sum_overflow);
	{
		int			nnull = 0;

		for (int i = 0; i < 1000; i++)
			nnull += nulls[i];
		CHECK_EQ(st.null_count, nnull);
		CHECK_EQ(st.count, 1000);
	}
	tc_out = out;
	tc_nulls = on;
	ABUSE(b.data, b.len, 1000, TcDecodeInt4);
	/* an int8 block of larger values is not int4 */
	{
		int64_t		big[2] = {1, INT64_C(1) << 40};

		b.len = 0;
		ts_encode_int8(big, NULL, 2, &b, &st);
		CHECK_EQ(ts_decode_int4(b.data, b.len, out, on, 1000), TS_ERR_TYPE);
	}
	ts_buffer_free(&b);
	free(nulls);
}

TEST(ts_bool)
{
	bool		v[3000];
	bool		out[3000];
	bool		on[3000];
	TsBuffer	b;
	TsStats		st;
	int			sizes[] = {0, 1, 7, 8, 9, 1000, 3000};

	ts_buffer_init(&b);
	for (int s = 0; s < 7; s++)
	{
		for (int kind = 0; kind < 4; kind++)
		{
			int			n = sizes[s];
			bool	   *nulls = TcNulls(n, kind == 3 ? 3 : (kind == 2 ? 1 : 0));
			int			trues = 0;

			for (int i = 0; i < n; i++)
			{
				v[i] = kind == 0 ? (TcRand() & 1) != 0 : (i / 100) % 2 != 0;
				if (!nulls[i] && v[i])
					trues++;
			}
			b.len = 0;
			CHECK(ts_encode_bool(v, nulls, n, &b, &st) > 0);
			CHECK_EQ(ts_decode_bool(b.data, b.len, out, on, n), n);
			for (int i = 0; i < n; i++)
				CHECK(on[i] == nulls[i] && out[i] == (nulls[i] ? false : v[i]));
			CHECK_EQ(st.sum_int, trues);
			tc_out = out;
			tc_nulls = on;
			if (n > 0)
				ABUSE(b.data, b.len, n, TcDecodeBool);
			free(nulls);
		}
	}
	/* long runs are small */
	for (int i = 0; i < 3000; i++)
		v[i] = i >= 1500;
	b.len = 0;
	ts_encode_bool(v, NULL, 3000, &b, &st);
	CHECK(b.len < 12);
	ts_buffer_free(&b);
}

TEST(ts_text)
{
	static const char *const words[] = {"", "us-east-1", "us-west-2",
	"eu-central-1", "ap-south-1", "a much longer value than the others"};
	const char *vals[2000];
	uint32_t	lens[2000];
	char		rnd[2000][24];
	uint32_t	offsets[2001];
	bool		on[2000];
	TsBuffer	b;
	TsBuffer	data;
	TsStats		st;
	int			sizes[] = {0, 1, 2, 100, 2000};

	ts_buffer_init(&b);
	ts_buffer_init(&data);
	for (int s = 0; s < 5; s++)
	{
		for (int kind = 0; kind < 5; kind++)
		{
			int			n = sizes[s];
			bool	   *nulls = TcNulls(n, kind == 3 ? 4 : (kind == 4 ? 1 : 0));
			int			rc;

			for (int i = 0; i < n; i++)
			{
				if (kind == 0 || kind == 3)
				{
					vals[i] = words[TcRand() % 6];
					lens[i] = strlen(vals[i]);
				}
				else
				{
					/* distinct values, with zero bytes inside */
					snprintf(rnd[i], sizeof(rnd[i]), "host-%llu-x",
							 (unsigned long long) (TcRand() % (kind == 2 ? 100000000 : 1000)));
					rnd[i][2] = kind == 2 ? '\0' : rnd[i][2];
					vals[i] = rnd[i];
					lens[i] = 5 + strlen(rnd[i] + 5);
				}
			}
			b.len = 0;
			data.len = 7;		/* the values are appended after what is there */
			ts_buffer_reserve(&data, 0);
			CHECK(ts_encode_text(vals, lens, nulls, n, &b, &st) > 0);
			{
				int			nnull = 0;

				for (int i = 0; i < n; i++)
					nnull += nulls[i];
				CHECK_EQ(st.null_count, nnull);
			}
			rc = ts_decode_text(b.data, b.len, &data, offsets, on, n);
			CHECK_EQ(rc, n);
			for (int i = 0; rc == n && i < n; i++)
			{
				uint32_t	l = offsets[i + 1] - offsets[i];

				CHECK(on[i] == nulls[i]);
				if (nulls[i])
					CHECK_EQ(l, 0);
				else
					CHECK(l == lens[i] &&
						  memcmp(data.data + 7 + offsets[i], vals[i], l) == 0);
			}
			tc_nulls = on;
			if (n > 0)
				ABUSE(b.data, b.len, n, TcDecodeText);
			free(nulls);
		}
	}
	/* few distinct values: a dictionary */
	for (int i = 0; i < 2000; i++)
	{
		vals[i] = words[1 + i % 4];
		lens[i] = strlen(vals[i]);
	}
	b.len = 0;
	ts_encode_text(vals, lens, NULL, 2000, &b, &st);
	CHECK(strncmp(ts_block_method(b.data, b.len), "dictionary", 10) == 0);
	CHECK(b.len < 600);
	ts_buffer_free(&b);
	ts_buffer_free(&data);
}

TEST(ts_errors)
{
	double		v[4] = {1, 2, 3, 4};
	double		out[4];
	bool		on[4];
	bool		nulls[4] = {false, true, false, false};
	TsBuffer	b;

	ts_buffer_init(&b);
	CHECK_EQ(ts_encode_float8(v, NULL, -1, &b, NULL), 0);
	CHECK_EQ(ts_encode_float8(v, NULL, TS_BLOCK_MAX_ROWS + 1, &b, NULL), 0);
	CHECK(ts_encode_float8(v, nulls, 4, &b, NULL) > 0);
	CHECK_EQ(ts_decode_float8(b.data, b.len, out, NULL, 4), TS_ERR_NULLS);
	CHECK_EQ(ts_decode_float8(b.data, b.len, out, on, 3), TS_ERR_CAPACITY);
	CHECK_EQ(ts_decode_int8(b.data, b.len, (int64_t *) out, on, 4), TS_ERR_TYPE);
	CHECK_EQ(ts_decode_float8(NULL, 0, out, on, 4), TS_ERR_CORRUPT);
	CHECK_EQ(ts_block_info(b.data, b.len, NULL), 4);
	CHECK_STR_EQ(ts_block_method(b.data, 1), "invalid");
	CHECK(strlen(ts_error_message(TS_ERR_NOMEM)) > 0);
	/* two blocks in one buffer */
	{
		size_t		first = b.len;
		TsBuffer	c;

		CHECK(ts_encode_float8(v, NULL, 4, &b, NULL) > 0);
		CHECK_EQ(ts_decode_float8(b.data + first, b.len - first, out, on, 4), 4);
		CHECK(out[3] == 4.0);
		ts_buffer_init(&c);
		ts_buffer_free(&c);
	}
	ts_buffer_free(&b);
}

TEST(ts_container)
{
	double		v[4] = {1, 2, 3, 4};
	int64_t		t[4] = {10, 20, 30, 40};
	TsBuffer	cols;
	TsBuffer	c;
	int			attno[2] = {1, 5};
	size_t		off[2];
	size_t		len[2];
	size_t		o;
	size_t		l;
	int			a;
	double		out[4];

	ts_buffer_init(&cols);
	ts_buffer_init(&c);
	off[0] = 0;
	len[0] = ts_encode_timestamp(t, NULL, 4, &cols, NULL);
	off[1] = cols.len;
	len[1] = ts_encode_float8(v, NULL, 4, &cols, NULL);
	CHECK(len[0] > 0 && len[1] > 0);
	CHECK_EQ(ts_container_build(2, attno, off, len, cols.data, cols.len, &c),
			 ts_container_header_size(2) + cols.len);
	CHECK_EQ(c.data[0], TS_CONTAINER_MAGIC);
	CHECK_EQ(ts_container_columns(c.data, c.len, c.len), 2);
	/* the directory alone is enough to find a column */
	CHECK_EQ(ts_container_find(c.data, ts_container_header_size(2), c.len, 5, &o, &l), 1);
	CHECK_EQ(l, len[1]);
	CHECK_EQ(ts_decode_float8(c.data + o, l, out, NULL, 4), 4);
	CHECK(out[2] == 3.0);
	ts_container_entry(c.data, 0, &a, &o, &l);
	CHECK_EQ(a, 1);
	CHECK_EQ(ts_container_find(c.data, c.len, c.len, 2, &o, &l), 0);
	/* damaged: magic, truncated directory, an entry pointing outside */
	CHECK_EQ(ts_container_columns(c.data, 3, c.len), TS_ERR_CORRUPT);
	CHECK_EQ(ts_container_columns(c.data, c.len, c.len - 1), TS_ERR_CORRUPT);
	CHECK_EQ(ts_container_find(c.data, 8, c.len, 5, &o, &l), TS_ERR_CORRUPT);
	c.data[0] = 0x12;
	CHECK_EQ(ts_container_columns(c.data, c.len, c.len), TS_ERR_CORRUPT);
	c.data[0] = TS_CONTAINER_MAGIC;
	c.data[TS_CONTAINER_HEADER + TS_CONTAINER_ENTRY + 6] = 0xFF;	/* length */
	CHECK_EQ(ts_container_columns(c.data, c.len, c.len), TS_ERR_CORRUPT);
	/* a column outside the data is refused at build */
	len[1] = cols.len;
	c.len = 0;
	CHECK_EQ(ts_container_build(2, attno, off, len, cols.data, cols.len, &c), 0);
	CHECK_EQ(ts_container_build(0, attno, off, len, NULL, 0, &c), ts_container_header_size(0));
	CHECK_EQ(ts_container_columns(c.data, c.len, c.len), 0);
	ts_buffer_free(&cols);
	ts_buffer_free(&c);
}

/* ----------------------------------------------------------------
 * The sizes of the data sets
 * ----------------------------------------------------------------
 */

/* Bytes of the float8 blocks of one series of TSD_POINTS values */
static size_t
TcSeriesFloat(const double *v, TsBuffer *b, int *methods)
{
	size_t		total = 0;

	for (int start = 0; start < TSD_POINTS; start += TSD_BLOCK)
	{
		int			n = TSD_POINTS - start < TSD_BLOCK ? TSD_POINTS - start : TSD_BLOCK;
		const char *m;

		b->len = 0;
		total += ts_encode_float8(v + start, NULL, n, b, NULL);
		m = ts_block_method(b->data, b->len);
		methods[m[0] == 'g' ? 0 : m[0] == 'd' ? 1 : m[0] == 'o' ? 2 :
				m[0] == 's' ? 3 : 4]++;
	}
	return total;
}

static size_t
TcSeriesInt(const int64_t *v, bool timestamps, TsBuffer *b)
{
	size_t		total = 0;

	for (int start = 0; start < TSD_POINTS; start += TSD_BLOCK)
	{
		int			n = TSD_POINTS - start < TSD_BLOCK ? TSD_POINTS - start : TSD_BLOCK;

		b->len = 0;
		total += timestamps ? ts_encode_timestamp(v + start, NULL, n, b, NULL) :
			ts_encode_int8(v + start, NULL, n, b, NULL);
	}
	return total;
}

/*
 * The data sets (TS_SIZE_HOSTS hosts, 10 by default under the
 * sanitizers; ts_codec_bench does all 100), in bytes per value.
 */
TEST(ts_sizes)
{
	const char *env = getenv("TS_SIZE_HOSTS");
	int			hosts = env ? atoi(env) : 10;
	double	   *v = malloc(sizeof(double) * TSD_POINTS);
	int64_t    *iv = malloc(sizeof(int64_t) * TSD_POINTS);
	size_t		a = 0,
				bsz = 0,
				ci = 0,
				cf = 0,
				tr = 0,
				tj = 0;
	int			ma[5] = {0},
				mb[5] = {0},
				mc[5] = {0};
	double		nv = (double) hosts * TSD_METRICS * TSD_POINTS;
	double		nt = (double) hosts * TSD_POINTS;
	TsBuffer	b;

	ts_buffer_init(&b);
	for (int h = 0; h < hosts; h++)
	{
		for (int metric = 0; metric < TSD_METRICS; metric++)
		{
			uint64_t	seed = (uint64_t) h * TSD_METRICS + metric + 1;

			TsdWalk(seed, false, v);
			a += TcSeriesFloat(v, &b, ma);
			TsdWalk(seed, true, v);
			bsz += TcSeriesFloat(v, &b, mb);
			TsdCounter(seed, iv);
			ci += TcSeriesInt(iv, false, &b);
			for (int i = 0; i < TSD_POINTS; i++)
				v[i] = (double) iv[i];
			cf += TcSeriesFloat(v, &b, mc);
		}
		TsdTimes(h + 1, 0, iv);
		tr += TcSeriesInt(iv, true, &b);
		TsdTimes(h + 1, 1000, iv);
		tj += TcSeriesInt(iv, true, &b);
	}
	printf("ts_sizes: %d hosts x %d metrics x %d points, blocks of %d rows\n",
		   hosts, TSD_METRICS, TSD_POINTS, TSD_BLOCK);
	printf("ts_sizes: A full-precision walks   %.3f bytes/value "
		   "(gorilla %d, decimal %d, ordered %d, split %d, raw %d blocks)\n",
		   a / nv, ma[0], ma[1], ma[2], ma[3], ma[4]);
	printf("ts_sizes: B walks rounded to 0.1   %.3f bytes/value "
		   "(gorilla %d, decimal %d, ordered %d, split %d, raw %d blocks)\n",
		   bsz / nv, mb[0], mb[1], mb[2], mb[3], mb[4]);
	printf("ts_sizes: C counters as int8       %.3f bytes/value\n", ci / nv);
	printf("ts_sizes: C counters as float8     %.3f bytes/value\n", cf / nv);
	printf("ts_sizes: timestamps every 10 s    %.4f bytes/value\n", tr / nt);
	printf("ts_sizes: timestamps +-1 ms jitter %.3f bytes/value\n", tj / nt);
	/* the targets, where the data's entropy allows them */
	CHECK(bsz / nv <= 2.49);
	CHECK(tr / nt <= 0.054);
	CHECK(cf / nv <= ci / nv + 0.01);
	CHECK(a / nv <= 6.4);
	ts_buffer_free(&b);
	free(v);
	free(iv);
}
