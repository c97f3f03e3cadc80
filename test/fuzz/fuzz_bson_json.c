/*-------------------------------------------------------------------------
 *
 * fuzz_bson_json.c
 *	  libFuzzer target for the text input of bson (what bson_in does):
 *	  Extended JSON parsing, printing, and the round trip between them.
 *
 * The input is taken as the text a cstring input function receives: up to
 * the first NUL, at most FUZZ_MAX_TEXT bytes, and valid UTF-8 (the server
 * verifies text in the database encoding before any input function sees
 * it, so other inputs are skipped rather than reported).
 *
 * When BsonParseJson accepts the text, the result must
 *	- pass BsonValidateValueBytes and be canonical (not "degenerate"), so that
 *	  bson::bytea::bson gives back the same bytes;
 *	- if it is a wrapped non-document, be exactly {"": value};
 *	- print, in relaxed and in canonical mode, as valid UTF-8 that parses
 *	  back to the same bytes and the same is_scalar, and prints again to the
 *	  same text;
 *	- print in the plain mode of the json/jsonb casts as text that parses.
 * When it rejects the text, it must say why.  Either way every allocation
 * must be freed (LeakSanitizer).
 *
 * NaN: text can only spell a double NaN as {"$numberDouble": "NaN"}, which
 * reads as the one canonical quiet NaN (plain JSON has no NaN, and
 * $numberDouble refuses strtod's other spellings such as "nan(0x1)"), so a
 * NaN with another payload or sign cannot come from text.  The target
 * checks that instead of masking it, and compares bytes exactly.
 *
 *-------------------------------------------------------------------------
 */
#include "fuzz_common.h"

/* Longest text tried; libFuzzer's -max_len normally stays below */
#define FUZZ_MAX_TEXT		(256 * 1024)

/*
 * Report a failed round trip with everything needed to reproduce it.
 */
static void
FuzzFailRoundTrip(const char *what, const char *input, size_t input_len,
				  const BsonParsed *first, const char *mode,
				  const StringInfoData *printed, const BsonParsed *second)
{
	FuzzTextDump("input", input, input_len);
	fprintf(stderr, "first parse: is_scalar=%d\n", first->is_scalar);
	FuzzHexDump("first bytes", bson_get_data(&first->doc), first->doc.len);
	if (mode != NULL)
		fprintf(stderr, "mode: %s\n", mode);
	if (printed != NULL)
		FuzzTextDump("printed", printed->data, printed->len);
	if (second != NULL)
	{
		fprintf(stderr, "second parse: is_scalar=%d\n", second->is_scalar);
		FuzzHexDump("second bytes", bson_get_data(&second->doc), second->doc.len);
	}
	FuzzFail(what);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *) data;
	const char *nul = memchr(data, '\0', size);
	size_t		len = nul ? (size_t) (nul - text) : size;
	BsonParsed	first;
	char	   *error = NULL;
	char	   *problem;
	bool		degenerate;
	uint8_t    *copy;

	if (len > FUZZ_MAX_TEXT || !FuzzIsServerText(text, (int) len))
		return 0;

	if (!BsonParseJson(text, len, &first, &error))
	{
		if (error == NULL || error[0] == '\0')
		{
			FuzzTextDump("input", text, len);
			FuzzFail("BsonParseJson failed without a message");
		}
		pfree(error);
		return 0;
	}

	/* the value must come back unchanged through bson::bytea::bson */
	problem = BsonValidateValueBytes(bson_get_data(&first.doc), first.doc.len,
									 first.is_scalar, &degenerate);
	if (problem != NULL)
	{
		fprintf(stderr, "BsonValidateValueBytes: %s\n", problem);
		FuzzFailRoundTrip("parsed bytes fail validation", text, len, &first,
						  NULL, NULL, NULL);
	}
	if (degenerate)
		FuzzFailRoundTrip("parsed bytes are not canonical", text, len, &first,
						  NULL, NULL, NULL);
	if (first.is_scalar && !FuzzWrapperShapeOk(bson_get_data(&first.doc), first.doc.len))
		FuzzFailRoundTrip("wrapped value is not {\"\": non-document}", text, len,
						  &first, NULL, NULL, NULL);

	/* text spells only the canonical NaN: see the note at the top */
	copy = palloc(first.doc.len);
	memcpy(copy, bson_get_data(&first.doc), first.doc.len);
	if (FuzzCanonicalizeNaNs(copy, first.doc.len) != 0)
		FuzzFailRoundTrip("text produced a non-canonical NaN", text, len, &first,
						  NULL, NULL, NULL);
	pfree(copy);

	for (size_t m = 0; m < lengthof(fuzz_modes); m++)
	{
		StringInfoData printed;
		StringInfoData reprinted;
		BsonParsed	second;

		initStringInfo(&printed);
		BsonPrintJson(&printed, bson_get_data(&first.doc), first.doc.len,
					  first.is_scalar, fuzz_modes[m].mode);
		if (!FuzzIsServerText(printed.data, printed.len))
			FuzzFailRoundTrip("output is not valid UTF-8 without NULs", text, len,
							  &first, fuzz_modes[m].name, &printed, NULL);
		if (!BsonParseJson(printed.data, printed.len, &second, &error))
		{
			fprintf(stderr, "BsonParseJson: %s\n", error);
			FuzzFailRoundTrip("output does not parse", text, len, &first,
							  fuzz_modes[m].name, &printed, NULL);
		}
		if (second.is_scalar != first.is_scalar ||
			second.doc.len != first.doc.len ||
			memcmp(bson_get_data(&second.doc), bson_get_data(&first.doc),
				   first.doc.len) != 0)
			FuzzFailRoundTrip("output parses to other bytes", text, len, &first,
							  fuzz_modes[m].name, &printed, &second);

		initStringInfo(&reprinted);
		BsonPrintJson(&reprinted, bson_get_data(&second.doc), second.doc.len,
					  second.is_scalar, fuzz_modes[m].mode);
		if (reprinted.len != printed.len ||
			memcmp(reprinted.data, printed.data, printed.len) != 0)
		{
			FuzzTextDump("reprinted", reprinted.data, reprinted.len);
			FuzzFailRoundTrip("output is not stable", text, len, &first,
							  fuzz_modes[m].name, &printed, &second);
		}
		pfree(reprinted.data);
		pfree(printed.data);
		bson_destroy(&second.doc);
	}

	/* the json and jsonb casts print this way: it must at least be JSON */
	{
		StringInfoData plain;
		BsonParsed	third;

		initStringInfo(&plain);
		BsonPrintJson(&plain, bson_get_data(&first.doc), first.doc.len,
					  first.is_scalar, BSON_JSON_RELAXED_PLAIN);
		if (!BsonParseJson(plain.data, plain.len, &third, &error))
		{
			fprintf(stderr, "BsonParseJson: %s\n", error);
			FuzzFailRoundTrip("plain output does not parse", text, len, &first,
							  "relaxed plain", &plain, NULL);
		}
		bson_destroy(&third.doc);
		pfree(plain.data);
	}

	bson_destroy(&first.doc);
	return 0;
}
