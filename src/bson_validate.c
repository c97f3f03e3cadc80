/*-------------------------------------------------------------------------
 *
 * bson_validate.c
 *	  Validation of BSON bytes that come from outside (binary input,
 *	  bytea casts), and their canonical form.
 *
 * One walk with libbson's iterator, which checks each element's structure
 * as it passes, plus what it leaves to us: nested documents' own lengths
 * and terminators, UTF-8 of keys and strings (PostgreSQL's verifier),
 * nesting depth, regex options, decimal128 coefficients.  libbson's
 * bson_validate() is not used: it recurses without a limit (deeply nested
 * input crashed the server), skips nested documents it finds malformed and
 * does not check the UTF-8 of string values.
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "mb/pg_wchar.h"
#ifndef FRONTEND
#include "miscadmin.h"
#endif

#include "bson_json_int.h"

/* ----------------------------------------------------------------
 * Validation of raw bytes
 * ----------------------------------------------------------------
 */

/*
 * Whether len bytes are UTF-8 as PostgreSQL checks it (no surrogates, no
 * overlong forms), with NUL characters only when allow_nul.  libbson 1.23's
 * bson_validate() does not check the UTF-8 of string values (CDRIVER-4448)
 * and takes the overlong C0 80 for a NUL; the server would then fail to
 * print what it accepted.
 */
static bool
BsonUtf8IsValid(const char *s, size_t len, bool allow_nul)
{
	for (;;)
	{
		const char *nul = memchr(s, '\0', len);
		size_t		seglen = nul ? (size_t) (nul - s) : len;

		if (pg_encoding_verifymbstr(PG_UTF8, s, (int) seglen) != (int) seglen)
			return false;
		if (nul == NULL)
			return true;
		if (!allow_nul)
			return false;
		s += seglen + 1;
		len -= seglen + 1;
	}
}

static char *BsonValidateLevel(const bson_t *doc, const uint8_t *top, int max_depth,
							   bool is_array, int depth, bool *degenerate);

/*
 * Check the text of a value: UTF-8, and no NUL where BSON or libbson wants
 * a C string.
 */
static char *
BsonValidateText(bson_iter_t *it, const char *s, size_t len, bool allow_nul)
{
	if (!BsonUtf8IsValid(s, len, allow_nul))
		return psprintf("the value of field \"%s\" is not valid UTF-8%s",
						bson_iter_key(it), allow_nul ? "" : " or contains a NUL");
	return NULL;
}

/*
 * Whether a document whose first key is an Extended JSON keyword would read
 * back as a value (or fail to read) instead of as itself: always for the
 * strict keywords, for the others when the members spell a value, as
 * EjsonAppendWrapper decides.  Such a document has no faithful text form
 * (the ambiguity is Extended JSON's own); it is still valid BSON and is
 * accepted from bytes, since filters such as {"$regex": .., "$options": ..}
 * arrive that way.
 */
static bool
BsonIsWrapperShaped(const bson_t *doc, const char *first)
{
	const EjsonKeyword *kw = EjsonFindKeyword(first, (int) strlen(first));
	bson_iter_t a,
				b;

	if (kw == NULL)
		return false;
	if (kw->strict)
		return true;
	if (strcmp(first, "$regex") == 0 || strcmp(first, "$options") == 0)
	{
		uint32_t	plen;
		uint32_t	olen;
		const char *pattern;
		const char *options;
		char		sorted[8];

		if (!EjsonHasExactly(doc, "$regex", "$options") ||
			!EjsonMember(doc, "$regex", &a) || !ITER_IS(&a, BSON_TYPE_UTF8) ||
			!EjsonMember(doc, "$options", &b) || !ITER_IS(&b, BSON_TYPE_UTF8))
			return false;
		pattern = bson_iter_utf8(&a, &plen);
		options = bson_iter_utf8(&b, &olen);
		return strlen(pattern) == plen &&
			EjsonRegexOptions(options, olen, sorted, sizeof(sorted));
	}
	if (strcmp(first, "$type") == 0)
		return EjsonHasExactly(doc, "$binary", "$type") &&
			EjsonMember(doc, "$binary", &a) && ITER_IS(&a, BSON_TYPE_UTF8) &&
			EjsonMember(doc, "$type", &b) && ITER_IS(&b, BSON_TYPE_UTF8);
	/* $scope */
	return EjsonHasExactly(doc, "$code", "$scope") &&
		EjsonMember(doc, "$code", &a) && ITER_IS(&a, BSON_TYPE_UTF8) &&
		EjsonMember(doc, "$scope", &b) && ITER_IS(&b, BSON_TYPE_DOCUMENT);
}

/*
 * Whether the text of valid bytes reads back as the same bytes: false when
 * some document in them is wrapper-shaped (see BsonIsWrapperShaped).
 */
static bool
BsonLevelHasTextForm(const bson_t *doc)
{
	bson_iter_t it;
	bool		first = true;

	if (!bson_iter_init(&it, doc))
		return false;
	while (bson_iter_next(&it))
	{
		if (first && BsonIsWrapperShaped(doc, bson_iter_key(&it)))
			return false;
		first = false;
		if (BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it) ||
			BSON_ITER_HOLDS_CODEWSCOPE(&it))
		{
			const uint8_t *data;
			uint32_t	len;
			bson_t		child;

			if (BSON_ITER_HOLDS_CODEWSCOPE(&it))
			{
				uint32_t	code_len;

				(void) bson_iter_codewscope(&it, &code_len, &len, &data);
			}
			else if (BSON_ITER_HOLDS_ARRAY(&it))
				bson_iter_array(&it, &len, &data);
			else
				bson_iter_document(&it, &len, &data);
			if (!bson_init_static(&child, data, len) || !BsonLevelHasTextForm(&child))
				return false;
		}
	}
	return true;
}

/*
 * See bson_json.h.
 */
bool
BsonHasTextForm(const uint8_t *data, size_t len)
{
	bson_t		doc;

	return bson_init_static(&doc, data, len) && BsonLevelHasTextForm(&doc);
}

/*
 * Check a nested document's own length and terminator and validate it:
 * libbson's iterator checks only that it fits in its parent, and takes a
 * missing terminator for the end of the document.
 */
static char *
BsonValidateChild(bson_iter_t *it, const uint8_t *data, uint32_t len,
				  const uint8_t *top, int max_depth, bool is_array, int depth,
				  bool *degenerate)
{
	bson_t		child;

	if (!bson_init_static(&child, data, len))
		return psprintf("the length or terminator of the document at key \"%s\" is wrong",
						bson_iter_key(it));
	return BsonValidateLevel(&child, top, max_depth, is_array, depth, degenerate);
}

/*
 * Check what libbson's validator leaves to us, recursively: structure of
 * nested documents, UTF-8 of keys and of every string, nesting stays within
 * the limit (a code-with-scope's scope is a level too), regex options are
 * known letters, every value has a text form.  Array keys other than "0",
 * "1", ... and regex options out of order are valid but degenerate (the
 * BSON corpus says so): *degenerate is set and the caller stores the
 * canonical form instead.  depth is the level of doc: 1 for a top-level document, 0 for
 * the wrapper of a non-document; top is the start of the whole input, for
 * the byte offsets in messages.
 */
static char *
BsonValidateLevel(const bson_t *doc, const uint8_t *top, int max_depth, bool is_array,
				  int depth, bool *degenerate)
{
	bson_iter_t iter;
	bson_iter_t *it = &iter;
	uint32_t	index = 0;

#ifndef FRONTEND
	check_stack_depth();
#endif
	if (depth > max_depth)
		return psprintf("documents and arrays are nested more than %d levels deep",
						max_depth);
	if (!bson_iter_init(it, doc))
		return psprintf("invalid BSON document");
	while (bson_iter_next(it))
	{
		uint32_t	len;
		const char *s;
		char	   *err = NULL;

		if (!BsonUtf8IsValid(bson_iter_key(it), bson_iter_key_len(it), false))
			return psprintf("a field name is not valid UTF-8");
		if (is_array)
		{
			char		buf[16];
			const char *expected;

			bson_uint32_to_string(index++, &expected, buf, sizeof(buf));
			if (strcmp(bson_iter_key(it), expected) != 0)
				*degenerate = true;
		}
		switch (bson_iter_type(it))
		{
			case BSON_TYPE_DOCUMENT:
			case BSON_TYPE_ARRAY:
				{
					const uint8_t *data;

					if (BSON_ITER_HOLDS_ARRAY(it))
						bson_iter_array(it, &len, &data);
					else
						bson_iter_document(it, &len, &data);
					err = BsonValidateChild(it, data, len, top, max_depth, BSON_ITER_HOLDS_ARRAY(it),
											depth + 1, degenerate);
				}
				break;
			case BSON_TYPE_UTF8:
				s = bson_iter_utf8(it, &len);
				err = BsonValidateText(it, s, len, true);
				break;
			case BSON_TYPE_SYMBOL:
				s = bson_iter_symbol(it, &len);
				err = BsonValidateText(it, s, len, true);
				break;
			case BSON_TYPE_CODE:
				s = bson_iter_code(it, &len);
				err = BsonValidateText(it, s, len, true);
				break;
			case BSON_TYPE_DBPOINTER:
				{
					const bson_oid_t *oid;

					bson_iter_dbpointer(it, &len, &s, &oid);
					err = BsonValidateText(it, s, len, false);
				}
				break;
			case BSON_TYPE_CODEWSCOPE:
				{
					uint32_t	scope_len;
					const uint8_t *scope;

					s = bson_iter_codewscope(it, &len, &scope_len, &scope);
					/* libbson does not check that the code string ends in NUL */
					if (s[len] != '\0')
						err = psprintf("the code at key \"%s\" is not terminated",
									   bson_iter_key(it));
					else
						err = BsonValidateText(it, s, len, true);
					if (err == NULL)
						err = BsonValidateChild(it, scope, scope_len, top, max_depth, false,
												depth + 1, degenerate);
				}
				break;
			case BSON_TYPE_DECIMAL128:
				{
					bson_decimal128_t dec;

					/*
					 * Kept bit for bit, as the BSON corpus wants (NaN with a
					 * payload, the non-canonical zero of the 11 form).  A
					 * coefficient above 10^34 - 1 in the normal form is not
					 * a decimal128 value at all (libbson would print 35
					 * digits that read back as another number): refuse it.
					 */
					bson_iter_decimal128(it, &dec);
					if (((dec.high >> 61) & 3) != 3)
					{
						uint64_t	coef_high = dec.high & UINT64_C(0x0001FFFFFFFFFFFF);

						if (coef_high > UINT64_C(0x0001ED09BEAD87C0) ||
							(coef_high == UINT64_C(0x0001ED09BEAD87C0) &&
							 dec.low > UINT64_C(0x378D8E63FFFFFFFF)))
							err = psprintf("the decimal128 at key \"%s\" has a coefficient of more than 34 digits",
										   bson_iter_key(it));
					}
				}
				break;
			case BSON_TYPE_REGEX:
				{
					const char *options;
					char		sorted[8];

					s = bson_iter_regex(it, &options);
					if (!BsonUtf8IsValid(s, strlen(s), false))
						return BsonValidateText(it, s, strlen(s), false);
					if (!EjsonRegexOptions(options, strlen(options), sorted, sizeof(sorted)))
						return psprintf("regular expression options \"%s\" are not distinct letters among i, l, m, s, u, x",
										options);
					if (strcmp(sorted, options) != 0)
						*degenerate = true;
				}
				break;
			default:
				break;
		}
		if (err != NULL)
			return err;
	}
	if (it->err_off != 0)
		return psprintf("invalid BSON at byte %zu (bad length, type, terminator or UTF-8)",
						(size_t) (bson_get_data(doc) - top) + it->err_off);
	return NULL;
}

/*
 * Validate raw BSON bytes; see bson_json.h.
 */
char *
BsonValidateBytes(const uint8_t *data, size_t len, bool *degenerate)
{
	return BsonValidateValueBytes(data, len, false, degenerate);
}

/*
 * Validate the raw bytes of a document or, with is_scalar, of the {"": value}
 * wrapper of a non-document (which is no nesting level); see bson_json.h.
 */
char *
BsonValidateValueBytes(const uint8_t *data, size_t len, bool is_scalar,
					   bool *degenerate)
{
	bson_t		doc;

	*degenerate = false;
	if (len < 5)
		return psprintf("%zu bytes are too short for a BSON document", len);
	if (len > BSON_MAX_DOC_SIZE)
		return psprintf("the document is %zu bytes; the limit is %d bytes",
						len, BSON_MAX_DOC_SIZE);
	if (!bson_init_static(&doc, data, len))
		return psprintf("the length prefix or terminator does not match the %zu bytes given",
						len);

	/*
	 * Not libbson's bson_validate(): it recurses without a limit (deep input
	 * overflows the stack), skips nested documents it finds malformed, and
	 * does not check the UTF-8 of string values.  libbson's iterator checks
	 * each element's structure as BsonValidateLevel walks, and the walk
	 * checks the rest; one pass instead of two.
	 */
	return BsonValidateLevel(&doc, data, BSON_MAX_DEPTH, false, is_scalar ? 0 : 1,
							 degenerate);
}

/*
 * Validate the raw bytes of a document allowing max_depth levels of nesting
 * (commands may nest deeper than stored documents).
 */
char *
BsonValidateBytesDepth(const uint8_t *data, size_t len, int max_depth, bool *degenerate)
{
	bson_t		doc;

	*degenerate = false;
	if (len < 5)
		return psprintf("%zu bytes are too short for a BSON document", len);
	if (len > BSON_MAX_DOC_SIZE)
		return psprintf("the document is %zu bytes; the limit is %d bytes",
						len, BSON_MAX_DOC_SIZE);
	if (!bson_init_static(&doc, data, len))
		return psprintf("the length prefix or terminator does not match the %zu bytes given",
						len);
	return BsonValidateLevel(&doc, data, max_depth, false, 1, degenerate);
}

/*
 * Copy the members of a valid document or array into out, giving arrays
 * their canonical keys and regex options their canonical order.
 */
static void
BsonCanonicalizeLevel(bson_iter_t *it, bool is_array, bson_t *out)
{
	uint32_t	index = 0;

#ifndef FRONTEND
	check_stack_depth();
#endif
	while (bson_iter_next(it))
	{
		char		buf[16];
		const char *key = bson_iter_key(it);
		int			keylen = (int) bson_iter_key_len(it);

		if (is_array)
			keylen = (int) bson_uint32_to_string(index++, &key, buf, sizeof(buf));
		switch (bson_iter_type(it))
		{
			case BSON_TYPE_DOCUMENT:
			case BSON_TYPE_ARRAY:
				{
					bson_iter_t child;
					bson_t		sub;
					bool		arr = BSON_ITER_HOLDS_ARRAY(it);

					if (!bson_iter_recurse(it, &child))
						break;
					if (arr)
						bson_append_array_begin(out, key, keylen, &sub);
					else
						bson_append_document_begin(out, key, keylen, &sub);
					BsonCanonicalizeLevel(&child, arr, &sub);
					if (arr)
						bson_append_array_end(out, &sub);
					else
						bson_append_document_end(out, &sub);
				}
				break;
			case BSON_TYPE_REGEX:
				{
					const char *options;
					const char *pattern = bson_iter_regex(it, &options);
					char		sorted[8];

					if (!EjsonRegexOptions(options, strlen(options), sorted, sizeof(sorted)))
						sorted[0] = '\0';	/* cannot happen after validation */
					bson_append_regex(out, key, keylen, pattern, sorted);
				}
				break;
			case BSON_TYPE_CODE:
				{
					uint32_t	len;
					const char *code = bson_iter_code(it, &len);

					/* not bson_append_iter: it would cut the code at a NUL */
					EjsonAppendCode(out, key, keylen, code, len, NULL);
				}
				break;
			case BSON_TYPE_CODEWSCOPE:
				{
					uint32_t	len;
					uint32_t	scope_len;
					const uint8_t *scope;
					const char *code = bson_iter_codewscope(it, &len, &scope_len, &scope);
					bson_t		sdoc;
					bson_t		canonical;
					bson_iter_t child;

					bson_init(&canonical);
					if (bson_init_static(&sdoc, scope, scope_len) &&
						bson_iter_init(&child, &sdoc))
						BsonCanonicalizeLevel(&child, false, &canonical);
					EjsonAppendCode(out, key, keylen, code, len, &canonical);
					bson_destroy(&canonical);
				}
				break;
			default:
				bson_append_iter(out, key, keylen, it);
				break;
		}
	}
}

/*
 * The canonical form of valid but degenerate BSON bytes; see bson_json.h.
 */
void
BsonCanonicalize(const uint8_t *data, size_t len, bson_t *out)
{
	bson_t		doc;
	bson_iter_t it;

	bson_init(out);
	if (bson_init_static(&doc, data, len) && bson_iter_init(&it, &doc))
		BsonCanonicalizeLevel(&it, false, out);
}
