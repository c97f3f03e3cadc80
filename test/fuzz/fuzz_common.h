/*-------------------------------------------------------------------------
 *
 * fuzz_common.h
 *	  Helpers shared by the libFuzzer targets of src/bson_json.c.
 *
 * Each target is one .c file that includes this header once.  The oracles
 * here stop the process with abort() and a description on stderr, which
 * libFuzzer reports as a crash and saves the input of.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_FUZZ_COMMON_H
#define NOSQL_FUZZ_COMMON_H

#include "postgres_fe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mb/pg_wchar.h"

#include "bson_json.h"

/* The quiet NaN that "NaN" parses to (strtod and the NAN macro agree) */
#define FUZZ_CANONICAL_NAN	UINT64_C(0x7ff8000000000000)

/* The printing modes whose output must parse back to the same bytes */
static const struct
{
	BsonJsonMode mode;
	const char *name;
}			fuzz_modes[] = {
	{BSON_JSON_RELAXED, "relaxed"},
	{BSON_JSON_CANONICAL, "canonical"},
};

/*
 * Print len bytes in hexadecimal, 32 to a line, for a failure report.
 */
static void
FuzzHexDump(const char *label, const uint8_t *data, size_t len)
{
	fprintf(stderr, "%s (%zu bytes):", label, len);
	for (size_t i = 0; i < len; i++)
		fprintf(stderr, "%s%02x", i % 32 == 0 ? "\n  " : " ", data[i]);
	fputc('\n', stderr);
}

/*
 * Print text for a failure report, with its length (it may hold NULs).
 */
static void
FuzzTextDump(const char *label, const char *text, size_t len)
{
	fprintf(stderr, "%s (%zu bytes): ", label, len);
	fwrite(text, 1, len, stderr);
	fputc('\n', stderr);
}

/*
 * Report a broken invariant and stop: libFuzzer catches the abort.
 */
static void
FuzzFail(const char *what)
{
	fprintf(stderr, "fuzz oracle failed: %s\n", what);
	fflush(stderr);
	abort();
}

/*
 * Rewrite, in place, every double NaN (any sign, any payload) below an
 * iterator to the one NaN that the text "NaN" reads back as.  Walks
 * documents, arrays and the scopes of code with scope.  Returns how many
 * NaNs had other bits than the canonical one.
 */
static int
FuzzCanonicalizeLevel(bson_iter_t *it)
{
	int			changed = 0;

	while (bson_iter_next(it))
	{
		switch (bson_iter_type(it))
		{
			case BSON_TYPE_DOUBLE:
				{
					/* the iterator points into the caller's writable copy */
					uint8_t    *value = (uint8_t *) (it->raw + it->d1);
					uint64_t	bits;

					memcpy(&bits, value, sizeof(bits));
					bits = BSON_UINT64_FROM_LE(bits);
					if (isnan(bson_iter_double(it)) && bits != FUZZ_CANONICAL_NAN)
					{
						bits = BSON_UINT64_TO_LE(FUZZ_CANONICAL_NAN);
						memcpy(value, &bits, sizeof(bits));
						changed++;
					}
				}
				break;
			case BSON_TYPE_DECIMAL128:
				{
					/*
					 * A NaN or infinity with a payload, or a non-canonical
					 * coefficient, keeps its bits in storage (the BSON corpus
					 * wants bytes to round-trip) but its text reads back as
					 * the canonical encoding.
					 */
					uint8_t    *value = (uint8_t *) (it->raw + it->d1);
					bson_decimal128_t dec;
					char		str[BSON_DECIMAL128_STRING];

					bson_iter_decimal128(it, &dec);
					bson_decimal128_to_string(&dec, str);
					if (bson_decimal128_from_string(str, &dec))
					{
						uint64_t	lo = BSON_UINT64_TO_LE(dec.low);
						uint64_t	hi = BSON_UINT64_TO_LE(dec.high);

						if (memcmp(value, &lo, 8) != 0 || memcmp(value + 8, &hi, 8) != 0)
						{
							memcpy(value, &lo, 8);
							memcpy(value + 8, &hi, 8);
							changed++;
						}
					}
				}
				break;
			case BSON_TYPE_DOCUMENT:
			case BSON_TYPE_ARRAY:
				{
					bson_iter_t child;

					if (bson_iter_recurse(it, &child))
						changed += FuzzCanonicalizeLevel(&child);
				}
				break;
			case BSON_TYPE_CODEWSCOPE:
				{
					uint32_t	code_len;
					uint32_t	scope_len;
					const uint8_t *scope;
					bson_t		sdoc;
					bson_iter_t child;

					(void) bson_iter_codewscope(it, &code_len, &scope_len, &scope);
					if (bson_init_static(&sdoc, scope, scope_len) &&
						bson_iter_init(&child, &sdoc))
						changed += FuzzCanonicalizeLevel(&child);
				}
				break;
			default:
				break;
		}
	}
	return changed;
}

/*
 * FuzzCanonicalizeLevel over a whole document: data must be a writable copy
 * of bytes that passed BsonValidateValueBytes.
 */
static int
FuzzCanonicalizeNaNs(uint8_t *data, uint32_t len)
{
	bson_t		doc;
	bson_iter_t it;

	if (!bson_init_static(&doc, data, len) || !bson_iter_init(&it, &doc))
		return 0;
	return FuzzCanonicalizeLevel(&it);
}

/*
 * Whether validated bytes are a proper wrapper of a non-document, as
 * bson_io.c's BsonFromBytes demands: one element, key "", not a document.
 */
static bool
FuzzWrapperShapeOk(const uint8_t *data, size_t len)
{
	bson_t		doc;
	bson_iter_t it;

	return bson_init_static(&doc, data, len) && bson_iter_init(&it, &doc) &&
		bson_iter_next(&it) && bson_iter_key_len(&it) == 0 &&
		!BSON_ITER_HOLDS_DOCUMENT(&it) && !bson_iter_next(&it);
}

/*
 * Whether text is valid UTF-8 without NULs: what the server's output
 * conversion (pg_any_to_server) and a cstring demand.
 */
static bool
FuzzIsServerText(const char *text, int len)
{
	return pg_encoding_verifymbstr(PG_UTF8, text, len) == len;
}

#endif							/* NOSQL_FUZZ_COMMON_H */
