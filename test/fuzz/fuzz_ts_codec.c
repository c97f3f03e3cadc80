/*-------------------------------------------------------------------------
 *
 * fuzz_ts_codec.c
 *	  libFuzzer target for the time-series column codecs (src/ts_codec.c).
 *
 * The input is first given, as a block, to every decoder: each must
 * return an error or at most the capacity's rows, read nothing outside the
 * input and leak nothing (the sanitizers watch).  A block that decodes is
 * encoded again and the result must decode to the same values.
 *
 * The input is then read as values, the first byte choosing how: its low
 * bits select NULLs (none, some or all) and a transformation of the
 * doubles (as they are, small decimals with a few stray bit patterns, or
 * integers), so that every float8 method is reached.  The values are
 * encoded as float8, int8, timestamps, int4, bool and text, and each must
 * decode to exactly what was encoded, bit for bit.
 *
 * Last, the input is read as a container of column blocks (a directory
 * that must point inside it) and built into one (whose columns must come
 * back).
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_codec.h"

#define FUZZ_ROWS TS_BLOCK_MAX_ROWS

static double f_vals[FUZZ_ROWS];
static double f_out[FUZZ_ROWS];
static int64_t i_vals[FUZZ_ROWS];
static int64_t i_out[FUZZ_ROWS];
static int32_t i4_vals[FUZZ_ROWS];
static int32_t i4_out[FUZZ_ROWS];
static bool b_vals[FUZZ_ROWS];
static bool b_out[FUZZ_ROWS];
static bool nulls[FUZZ_ROWS];
static bool out_nulls[FUZZ_ROWS];
static const char *t_vals[FUZZ_ROWS];
static uint32_t t_lens[FUZZ_ROWS];
static uint32_t t_offsets[FUZZ_ROWS + 1];

static void
FuzzTsFail(const uint8_t *data, size_t size, const char *what)
{
	fprintf(stderr, "input (%zu bytes):", size);
	for (size_t i = 0; i < size && i < 4096; i++)
		fprintf(stderr, "%s%02x", i % 32 == 0 ? "\n  " : " ", data[i]);
	fprintf(stderr, "\nfuzz oracle failed: %s\n", what);
	fflush(stderr);
	abort();
}

static uint64_t
FuzzBits(double d)
{
	uint64_t	u;

	memcpy(&u, &d, 8);
	return u;
}

/* The rows must hold the values; NULL rows zero */
static void
FuzzCheckNulls(const uint8_t *data, size_t size, int n, const bool *in)
{
	for (int i = 0; i < n; i++)
		if (out_nulls[i] != (in != NULL && in[i]))
			FuzzTsFail(data, size, "the NULLs change through the codec");
}

/*
 * Every decoder on the raw input; a block that decodes must re-encode to a
 * block with the same values.
 */
static void
FuzzDecoders(const uint8_t *data, size_t size)
{
	TsBuffer	buf;
	TsBuffer	text;
	int			n;

	ts_buffer_init(&buf);
	ts_buffer_init(&text);

	n = ts_decode_float8(data, size, f_vals, nulls, FUZZ_ROWS);
	if (n > FUZZ_ROWS)
		FuzzTsFail(data, size, "float8 decoded too many rows");
	if (n >= 0)
	{
		if (ts_encode_float8(f_vals, nulls, n, &buf, NULL) == 0 ||
			ts_decode_float8(buf.data, buf.len, f_out, out_nulls, n) != n)
			FuzzTsFail(data, size, "a decoded float8 block does not round-trip");
		FuzzCheckNulls(data, size, n, nulls);
		for (int i = 0; i < n; i++)
			if (FuzzBits(f_out[i]) != FuzzBits(f_vals[i]))
				FuzzTsFail(data, size, "a decoded float8 block changes");
	}

	n = ts_decode_timestamp(data, size, i_vals, nulls, FUZZ_ROWS);
	if (n > FUZZ_ROWS)
		FuzzTsFail(data, size, "timestamps decoded too many rows");
	n = ts_decode_int8(data, size, i_vals, nulls, FUZZ_ROWS);
	if (n > FUZZ_ROWS)
		FuzzTsFail(data, size, "int8 decoded too many rows");
	if (n >= 0)
	{
		buf.len = 0;
		if (ts_encode_int8(i_vals, nulls, n, &buf, NULL) == 0 ||
			ts_decode_int8(buf.data, buf.len, i_out, out_nulls, n) != n ||
			memcmp(i_out, i_vals, sizeof(int64_t) * n) != 0)
			FuzzTsFail(data, size, "a decoded int8 block does not round-trip");
		FuzzCheckNulls(data, size, n, nulls);
	}
	n = ts_decode_int4(data, size, i4_vals, nulls, FUZZ_ROWS);
	if (n > FUZZ_ROWS)
		FuzzTsFail(data, size, "int4 decoded too many rows");
	n = ts_decode_bool(data, size, b_vals, nulls, FUZZ_ROWS);
	if (n > FUZZ_ROWS)
		FuzzTsFail(data, size, "bool decoded too many rows");
	n = ts_decode_text(data, size, &text, t_offsets, nulls, FUZZ_ROWS);
	if (n > FUZZ_ROWS)
		FuzzTsFail(data, size, "text decoded too many rows");
	if (n >= 0)
	{
		TsBuffer	text2;

		for (int i = 0; i < n; i++)
		{
			t_vals[i] = (const char *) text.data + t_offsets[i];
			t_lens[i] = t_offsets[i + 1] - t_offsets[i];
		}
		ts_buffer_init(&text2);
		buf.len = 0;
		if (ts_encode_text(t_vals, t_lens, nulls, n, &buf, NULL) == 0 ||
			ts_decode_text(buf.data, buf.len, &text2, t_offsets, out_nulls, n) != n ||
			text2.len != text.len ||
			(text.len > 0 && memcmp(text.data, text2.data, text.len) != 0))
			FuzzTsFail(data, size, "a decoded text block does not round-trip");
		FuzzCheckNulls(data, size, n, nulls);
		ts_buffer_free(&text2);
	}
	ts_buffer_free(&text);
	ts_buffer_free(&buf);
}

/*
 * The input as values, through every encoder and back.
 */
static void
FuzzRoundTrips(const uint8_t *data, size_t size)
{
	uint8_t		flags;
	const uint8_t *p;
	size_t		len;
	int			n;
	int			nnull_mode;
	int			transform;
	bool	   *nl;
	TsBuffer	buf;
	TsBuffer	text;

	if (size < 1)
		return;
	flags = data[0];
	p = data + 1;
	len = size - 1;
	nnull_mode = flags & 3;
	transform = (flags >> 2) & 3;
	n = (int) (len / 8);
	if (n > FUZZ_ROWS)
		n = FUZZ_ROWS;
	nl = nnull_mode == 0 ? NULL : nulls;
	for (int i = 0; i < n; i++)
	{
		uint64_t	u;
		double		d;

		memcpy(&u, p + 8 * i, 8);
		memcpy(&d, &u, 8);
		if (transform == 1 && (u >> 60) != 0xf)
			d = (double) (int16_t) u / (double) (1 + (u >> 16) % 3 * 9);
		else if (transform == 2 && (u >> 60) != 0xf)
			d = (double) (int64_t) (int32_t) u;
		else if (transform == 3 && (u >> 60) != 0xf)
			d = (double) (int16_t) u / 1000.0;
		f_vals[i] = d;
		i_vals[i] = (int64_t) u;
		if (transform == 2)
			i_vals[i] = (int64_t) (int16_t) u + (i > 0 ? i_vals[i - 1] : 0);
		i4_vals[i] = (int32_t) u;
		b_vals[i] = (u & 0x100) != 0;
		nulls[i] = nnull_mode == 3 || (nnull_mode == 2 && (u & 7) == 0) ||
			(nnull_mode == 1 && i % 3 == 1);
	}

	ts_buffer_init(&buf);
	if (ts_encode_float8(f_vals, nl, n, &buf, NULL) == 0 ||
		ts_decode_float8(buf.data, buf.len, f_out, out_nulls, n) != n)
		FuzzTsFail(data, size, "float8 values do not round-trip");
	FuzzCheckNulls(data, size, n, nl);
	for (int i = 0; i < n; i++)
		if (!(nl && nl[i]) && FuzzBits(f_out[i]) != FuzzBits(f_vals[i]))
			FuzzTsFail(data, size, "a float8 value changes through the codec");

	for (int kind = 0; kind < 2; kind++)
	{
		buf.len = 0;
		if ((kind == 0 ? ts_encode_int8(i_vals, nl, n, &buf, NULL) :
			 ts_encode_timestamp(i_vals, nl, n, &buf, NULL)) == 0 ||
			(kind == 0 ? ts_decode_int8(buf.data, buf.len, i_out, out_nulls, n) :
			 ts_decode_timestamp(buf.data, buf.len, i_out, out_nulls, n)) != n)
			FuzzTsFail(data, size, "int64 values do not round-trip");
		FuzzCheckNulls(data, size, n, nl);
		for (int i = 0; i < n; i++)
			if (!(nl && nl[i]) && i_out[i] != i_vals[i])
				FuzzTsFail(data, size, "an int64 value changes through the codec");
	}

	buf.len = 0;
	if (ts_encode_int4(i4_vals, nl, n, &buf, NULL) == 0 ||
		ts_decode_int4(buf.data, buf.len, i4_out, out_nulls, n) != n)
		FuzzTsFail(data, size, "int4 values do not round-trip");
	for (int i = 0; i < n; i++)
		if (!(nl && nl[i]) && i4_out[i] != i4_vals[i])
			FuzzTsFail(data, size, "an int4 value changes through the codec");

	buf.len = 0;
	if (ts_encode_bool(b_vals, nl, n, &buf, NULL) == 0 ||
		ts_decode_bool(buf.data, buf.len, b_out, out_nulls, n) != n)
		FuzzTsFail(data, size, "bool values do not round-trip");
	for (int i = 0; i < n; i++)
		if (!(nl && nl[i]) && b_out[i] != b_vals[i])
			FuzzTsFail(data, size, "a bool value changes through the codec");

	/* text: the input cut at its bytes below 4 */
	n = 0;
	for (size_t start = 1, i = 1; i <= size && n < FUZZ_ROWS; i++)
	{
		if (i == size || data[i] < 4)
		{
			t_vals[n] = (const char *) data + start;
			t_lens[n] = (uint32_t) (i - start);
			nulls[n] = i < size && data[i] == 0 && nnull_mode != 0;
			n++;
			start = i + 1;
		}
	}
	buf.len = 0;
	ts_buffer_init(&text);
	if (ts_encode_text(t_vals, t_lens, nulls, n, &buf, NULL) == 0 ||
		ts_decode_text(buf.data, buf.len, &text, t_offsets, out_nulls, n) != n)
		FuzzTsFail(data, size, "text values do not round-trip");
	for (int i = 0; i < n; i++)
	{
		uint32_t	l = t_offsets[i + 1] - t_offsets[i];

		if (out_nulls[i] != nulls[i] ||
			(!nulls[i] && (l != t_lens[i] ||
						   (l > 0 && memcmp(text.data + t_offsets[i], t_vals[i], l) != 0))))
			FuzzTsFail(data, size, "a text value changes through the codec");
	}
	ts_buffer_free(&text);
	ts_buffer_free(&buf);
}

/*
 * The input as a container of column blocks: a directory that checks must
 * point inside the input, every entry found by its column number, and each
 * column's bytes read as a block.  Then the input split in two is built
 * into a container whose columns must come back byte for byte.
 */
static void
FuzzContainer(const uint8_t *data, size_t size)
{
	int			ncols = ts_container_columns(data, size, size);
	TsBuffer	b;
	int			attno[2] = {7, 3};
	size_t		off[2];
	size_t		len[2];

	for (int i = 0; i < ncols; i++)
	{
		int			a;
		size_t		o;
		size_t		l;
		size_t		fo;
		size_t		fl;
		TsColumnType type;

		ts_container_entry(data, i, &a, &o, &l);
		if (o > size || l > size - o)
			FuzzTsFail(data, size, "container entry outside the input");
		if (ts_container_find(data, size, size, a, &fo, &fl) != 1 || fo > size || fl > size - fo)
			FuzzTsFail(data, size, "container entry not found again");
		(void) ts_block_info(data + o, l, &type);
	}
	if (ncols < 0 && ts_container_find(data, size, size, 1, &off[0], &len[0]) != TS_ERR_CORRUPT)
		FuzzTsFail(data, size, "find accepts a directory that does not check");

	off[0] = 0;
	len[0] = size / 2;
	off[1] = size / 2;
	len[1] = size - size / 2;
	ts_buffer_init(&b);
	if (ts_container_build(2, attno, off, len, data, size, &b) != ts_container_header_size(2) + size)
		FuzzTsFail(data, size, "container build");
	for (int i = 0; i < 2; i++)
	{
		size_t		o;
		size_t		l;

		if (ts_container_find(b.data, b.len, b.len, attno[i], &o, &l) != 1 || l != len[i] ||
			(l > 0 && memcmp(b.data + o, data + off[i], l) != 0))
			FuzzTsFail(data, size, "container column does not come back");
	}
	ts_buffer_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzDecoders(data, size);
	FuzzRoundTrips(data, size);
	FuzzContainer(data, size);
	return 0;
}
