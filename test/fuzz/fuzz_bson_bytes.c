/*-------------------------------------------------------------------------
 *
 * fuzz_bson_bytes.c
 *	  libFuzzer target for the binary input of bson (what bson_recv and
 *	  bytea::bson do): validation of raw bytes, then printing and the round
 *	  trip through text.
 *
 * The input is taken as bson_io.c's BsonFromBytes takes it: bytes whose
 * length prefix is one less than their length and whose last byte is the
 * scalar marker (0x01) are a wrapped non-document {"": value}, anything
 * else a document.  BsonValidateValueBytes decides; a wrapped value must
 * also be exactly one element named "" that is not a document.  Valid bytes
 * that are "degenerate" are stored as BsonCanonicalize makes them, which
 * must be valid, not degenerate, and keep the wrapper's shape.
 *
 * For the stored bytes, in relaxed and in canonical mode:
 *	- the text is valid UTF-8 without NULs (the server converts it to the
 *	  database encoding, which verifies it);
 *	- it parses, with the same is_scalar, to bytes that pass validation and
 *	  are not degenerate;
 *	- those bytes print to the same text (text stability);
 *	- those bytes equal the stored bytes once double NaNs are made canonical
 *	  (any NaN prints as "NaN", which reads back as the one quiet NaN, so
 *	  NaN payloads and signs cannot survive text; every other bit must).
 * The plain mode of the json/jsonb casts must print text that parses.
 *
 *-------------------------------------------------------------------------
 */
#include "fuzz_common.h"

/* The marker byte after a wrapped non-document (src/bson.h) */
#define FUZZ_SCALAR_MARKER	0x01

/*
 * Report a failed round trip with everything needed to reproduce it.
 */
static void
FuzzFailRoundTrip(const char *what, const uint8_t *input, size_t input_len,
				  bool is_scalar, const bson_t *stored, const char *mode,
				  const StringInfoData *printed, const BsonParsed *parsed)
{
	FuzzHexDump("input", input, input_len);
	fprintf(stderr, "is_scalar=%d\n", is_scalar);
	if (stored != NULL)
		FuzzHexDump("stored bytes", bson_get_data(stored), stored->len);
	if (mode != NULL)
		fprintf(stderr, "mode: %s\n", mode);
	if (printed != NULL)
		FuzzTextDump("printed", printed->data, printed->len);
	if (parsed != NULL)
	{
		fprintf(stderr, "parsed: is_scalar=%d\n", parsed->is_scalar);
		FuzzHexDump("parsed bytes", bson_get_data(&parsed->doc), parsed->doc.len);
	}
	FuzzFail(what);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		len = size;
	bool		is_scalar = false;
	bool		degenerate;
	int32_t		doclen = 0;
	char	   *problem;
	bson_t		stored;
	uint8_t    *expected;

	/* split off the scalar marker as BsonFromBytes does */
	if (size >= 4)
	{
		memcpy(&doclen, data, sizeof(doclen));
		doclen = (int32_t) BSON_UINT32_FROM_LE(doclen);
	}
	if (size >= 6 && (size_t) doclen == size - 1 &&
		data[size - 1] == FUZZ_SCALAR_MARKER)
	{
		is_scalar = true;
		len--;
	}

	problem = BsonValidateValueBytes(data, len, is_scalar, &degenerate);
	if (problem != NULL)
	{
		if (problem[0] == '\0')
			FuzzFail("BsonValidateValueBytes returned an empty message");
		pfree(problem);
		return 0;
	}
	if (is_scalar && !FuzzWrapperShapeOk(data, len))
		return 0;

	/* what the server stores */
	if (degenerate)
	{
		BsonCanonicalize(data, len, &stored);
		problem = BsonValidateValueBytes(bson_get_data(&stored), stored.len, is_scalar,
										 &degenerate);
		if (problem != NULL || degenerate)
		{
			fprintf(stderr, "BsonValidateValueBytes: %s\n", problem ? problem : "degenerate");
			FuzzFailRoundTrip("canonical form is not valid and canonical", data,
							  size, is_scalar, &stored, NULL, NULL, NULL);
		}
		if (is_scalar && !FuzzWrapperShapeOk(bson_get_data(&stored), stored.len))
			FuzzFailRoundTrip("canonical form lost the wrapper's shape", data,
							  size, is_scalar, &stored, NULL, NULL, NULL);
	}
	else if (!bson_init_static(&stored, data, len))
		FuzzFail("bson_init_static refused validated bytes");

	/*
	 * Documents that start with an Extended JSON keyword and spell a value
	 * are valid but read back as that value: no text round trip to check.
	 */
	if (!BsonHasTextForm(bson_get_data(&stored), stored.len))
	{
		bson_destroy(&stored);
		return 0;
	}

	/* what a text round trip must give back: NaNs made canonical */
	expected = palloc(stored.len);
	memcpy(expected, bson_get_data(&stored), stored.len);
	(void) FuzzCanonicalizeNaNs(expected, stored.len);

	for (size_t m = 0; m < lengthof(fuzz_modes); m++)
	{
		StringInfoData printed;
		StringInfoData reprinted;
		BsonParsed	parsed;
		char	   *error = NULL;

		initStringInfo(&printed);
		BsonPrintJson(&printed, bson_get_data(&stored), stored.len, is_scalar,
					  fuzz_modes[m].mode);
		if (!FuzzIsServerText(printed.data, printed.len))
			FuzzFailRoundTrip("output is not valid UTF-8 without NULs", data, size,
							  is_scalar, &stored, fuzz_modes[m].name, &printed, NULL);
		if (!BsonParseJson(printed.data, printed.len, &parsed, &error))
		{
			fprintf(stderr, "BsonParseJson: %s\n", error);
			FuzzFailRoundTrip("output of valid bytes does not parse", data, size,
							  is_scalar, &stored, fuzz_modes[m].name, &printed, NULL);
		}
		if (parsed.is_scalar != is_scalar)
			FuzzFailRoundTrip("output parses to another kind of value", data, size,
							  is_scalar, &stored, fuzz_modes[m].name, &printed, &parsed);

		problem = BsonValidateValueBytes(bson_get_data(&parsed.doc), parsed.doc.len,
										 parsed.is_scalar, &degenerate);
		if (problem != NULL || degenerate)
		{
			fprintf(stderr, "BsonValidateValueBytes: %s\n", problem ? problem : "degenerate");
			FuzzFailRoundTrip("output parses to bytes that are not valid and canonical",
							  data, size, is_scalar, &stored, fuzz_modes[m].name,
							  &printed, &parsed);
		}

		initStringInfo(&reprinted);
		BsonPrintJson(&reprinted, bson_get_data(&parsed.doc), parsed.doc.len,
					  parsed.is_scalar, fuzz_modes[m].mode);
		if (reprinted.len != printed.len ||
			memcmp(reprinted.data, printed.data, printed.len) != 0)
		{
			FuzzTextDump("reprinted", reprinted.data, reprinted.len);
			FuzzFailRoundTrip("output is not stable", data, size, is_scalar, &stored,
							  fuzz_modes[m].name, &printed, &parsed);
		}

		if (parsed.doc.len != stored.len ||
			memcmp(bson_get_data(&parsed.doc), expected, stored.len) != 0)
			FuzzFailRoundTrip("output parses to other bytes", data, size, is_scalar,
							  &stored, fuzz_modes[m].name, &printed, &parsed);

		pfree(reprinted.data);
		pfree(printed.data);
		bson_destroy(&parsed.doc);
	}

	/* the json and jsonb casts print this way: it must at least be JSON */
	{
		StringInfoData plain;
		BsonParsed	parsed;
		char	   *error = NULL;

		initStringInfo(&plain);
		BsonPrintJson(&plain, bson_get_data(&stored), stored.len, is_scalar,
					  BSON_JSON_RELAXED_PLAIN);
		if (!BsonParseJson(plain.data, plain.len, &parsed, &error))
		{
			fprintf(stderr, "BsonParseJson: %s\n", error);
			FuzzFailRoundTrip("plain output does not parse", data, size, is_scalar,
							  &stored, "relaxed plain", &plain, NULL);
		}
		bson_destroy(&parsed.doc);
		pfree(plain.data);
	}

	pfree(expected);
	bson_destroy(&stored);
	return 0;
}
