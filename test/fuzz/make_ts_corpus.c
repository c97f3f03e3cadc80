/*-------------------------------------------------------------------------
 *
 * make_ts_corpus.c
 *	  Write the seed corpus of fuzz_ts_codec: blocks of every column type
 *	  and method (with and without NULLs, through zstd or not), and value
 *	  inputs for the round trips (a flag byte, then 8 bytes a value).
 *
 *	  make -C test/fuzz corpus-ts
 *	  (runs build/make_ts_corpus corpus/ts_codec)
 *
 * The files are kept in the repository; rerun this only to change them.
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ts_codec.h"

static int	status = 0;

static void
WriteFile(const char *dir, const char *name, const uint8_t *buf, size_t len)
{
	char		path[1024];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
	{
		perror(path);
		status = 1;
	}
}

/* Write the block in b under name (with the method), and empty b */
static void
WriteBlock(const char *dir, const char *name, TsBuffer *b)
{
	char		full[256];

	snprintf(full, sizeof(full), "block_%s_%s", name,
			 ts_block_method(b->data, b->len));
	WriteFile(dir, full, b->data, b->len);
	b->len = 0;
}

int
main(int argc, char **argv)
{
	static double d[200];
	static int64_t iv[200];
	static int32_t i4[200];
	static bool bv[200];
	static bool nulls[200];
	static const char *tv[200];
	static uint32_t tl[200];
	static const char *const words[] = {"cpu", "mem", "disk", "us-east-1"};
	uint64_t	st = 1;
	uint8_t		raw[1 + 8 * 64];
	TsBuffer	b;

	if (argc != 2)
	{
		fprintf(stderr, "usage: make_ts_corpus DIRECTORY\n");
		return 2;
	}
	ts_buffer_init(&b);
	for (int i = 0; i < 200; i++)
	{
		st = st * 6364136223846793005ULL + 1442695040888963407ULL;
		nulls[i] = (st >> 40) % 7 == 0;
		iv[i] = 757382400000000LL + i * 10000000LL + (int64_t) ((st >> 33) % 2001) - 1000;
		i4[i] = (int32_t) (st >> 32);
		bv[i] = (i / 17) % 2;
		tv[i] = words[(st >> 50) % 4];
		tl[i] = strlen(tv[i]);
	}

	/* float8: gorilla/ordered (a full-precision walk), decimal, raw */
	d[0] = 50;
	for (int i = 1; i < 200; i++)
		d[i] = d[i - 1] + sin(i * 0.7) * 1.37;
	ts_encode_float8(d, NULL, 200, &b, NULL);
	WriteBlock(argv[1], "float8", &b);
	ts_encode_float8(d, NULL, 2, &b, NULL);
	WriteBlock(argv[1], "float8_two", &b);
	for (int i = 0; i < 200; i++)
		d[i] = round(d[i] * 10) / 10;
	d[7] = -0.0;
	d[50] = NAN;
	ts_encode_float8(d, nulls, 200, &b, NULL);
	WriteBlock(argv[1], "float8_nulls", &b);
	for (int i = 0; i < 200; i++)
		d[i] = (double) (i * 1000);
	ts_encode_float8(d, NULL, 200, &b, NULL);
	WriteBlock(argv[1], "float8_ints", &b);
	ts_encode_float8(d, nulls, 0, &b, NULL);
	WriteBlock(argv[1], "float8_empty", &b);

	/* timestamps and integers */
	ts_encode_timestamp(iv, NULL, 200, &b, NULL);
	WriteBlock(argv[1], "timestamp_jitter", &b);
	for (int i = 0; i < 200; i++)
		iv[i] = 757382400000000LL + i * 10000000LL;
	ts_encode_timestamp(iv, NULL, 200, &b, NULL);
	WriteBlock(argv[1], "timestamp_regular", &b);
	ts_encode_int8(iv, nulls, 200, &b, NULL);
	WriteBlock(argv[1], "int8_nulls", &b);
	ts_encode_int4(i4, NULL, 200, &b, NULL);
	WriteBlock(argv[1], "int4", &b);
	for (int i = 0; i < 200; i++)
		i4[i] = i % 5;
	ts_encode_int4(i4, NULL, 200, &b, NULL);
	WriteBlock(argv[1], "int4_small", &b);

	/* bool, text */
	ts_encode_bool(bv, NULL, 200, &b, NULL);
	WriteBlock(argv[1], "bool", &b);
	for (int i = 0; i < 200; i++)
		bv[i] = (i * 7919) % 3 == 0;
	ts_encode_bool(bv, nulls, 200, &b, NULL);
	WriteBlock(argv[1], "bool_nulls", &b);
	ts_encode_text(tv, tl, nulls, 200, &b, NULL);
	WriteBlock(argv[1], "text_dict", &b);
	ts_encode_text(tv, tl, NULL, 3, &b, NULL);
	WriteBlock(argv[1], "text_plain", &b);
	for (int i = 0; i < 200; i++)
		tv[i] = "the same long value repeated again and again in the block";
	for (int i = 0; i < 200; i++)
		tl[i] = strlen(tv[i]) - (i % 50);
	ts_encode_text(tv, tl, NULL, 200, &b, NULL);
	WriteBlock(argv[1], "text_long", &b);

	/* value inputs: each flag byte over the same 64 values */
	for (int flags = 0; flags < 16; flags++)
	{
		char		name[64];

		raw[0] = (uint8_t) flags;
		for (int i = 0; i < 64; i++)
		{
			double		v = 20.0 + i * 0.25;
			uint64_t	u;

			memcpy(&u, &v, 8);
			memcpy(raw + 1 + 8 * i, &u, 8);
		}
		snprintf(name, sizeof(name), "values_%02x", flags);
		WriteFile(argv[1], name, raw, sizeof(raw));
	}
	ts_buffer_free(&b);
	return status;
}
