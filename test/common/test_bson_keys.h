/*-------------------------------------------------------------------------
 *
 * test_bson_keys.h
 *	  Test helper: copy a BSON document, turning keys that start with a
 *	  marker byte back into "$" keys.
 *
 * Test inputs are written as JSON and read with libbson's reader, which
 * turns {"$regex": ..., "$options": ...} into a regex value; tests that
 * mean the query operator spell the keys with a marker instead and restore
 * them with this.  Shared by test/unit and test/fuzz.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_TEST_BSON_KEYS_H
#define NOSQL_TEST_BSON_KEYS_H

#include <stdio.h>
#include <string.h>

#include <bson/bson.h>

/*
 * Copy the elements under an iterator into out, at every depth, with a key
 * starting with marker renamed to start with '$'.
 */
static void
TestRestoreDollarKeys(bson_iter_t *it, bson_t *out, char marker)
{
	while (bson_iter_next(it))
	{
		const char *key = bson_iter_key(it);
		char		fixed[256];

		if (key[0] == marker && strlen(key) < sizeof(fixed))
		{
			snprintf(fixed, sizeof(fixed), "%s", key);
			fixed[0] = '$';
			key = fixed;
		}
		if (BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it))
		{
			bson_t		child;
			bson_iter_t sub;
			bool		is_array = BSON_ITER_HOLDS_ARRAY(it);

			if (is_array)
				bson_append_array_begin(out, key, -1, &child);
			else
				bson_append_document_begin(out, key, -1, &child);
			if (bson_iter_recurse(it, &sub))
				TestRestoreDollarKeys(&sub, &child, marker);
			if (is_array)
				bson_append_array_end(out, &child);
			else
				bson_append_document_end(out, &child);
		}
		else
			bson_append_iter(out, key, -1, it);
	}
}

#endif							/* NOSQL_TEST_BSON_KEYS_H */
