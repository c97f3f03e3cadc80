/*-------------------------------------------------------------------------
 *
 * make_projection_corpus.c
 *	  Write the seed corpus of fuzz_projection: MongoDB find projections
 *	  (and a few sort documents, which the target also compiles) as BSON,
 *	  one file each, built with libbson from Extended JSON.
 *
 *	  make -C test/fuzz corpus-projection
 *	  (runs build/make_projection_corpus corpus/projection)
 *
 * libbson's JSON reader takes {"$regex": ..., "$options": ...} for a legacy
 * regex, so those keys are written with "%" instead of "$" and renamed after
 * parsing.  The files are kept in the repository; rerun this only to change
 * them.
 *
 *-------------------------------------------------------------------------
 */
#include <bson/bson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/test_bson_keys.h"

static const struct
{
	const char *name;
	const char *json;
}			corpus_projections[] = {
	{"empty", "{}"},
	{"inclusion", "{\"a\": 1, \"b\": true}"},
	{"exclusion", "{\"a\": 0, \"b\": false, \"_id\": 0}"},
	{"id_only", "{\"_id\": 1}"},
	{"dotted_inclusion", "{\"a.b\": 1, \"a.c.d\": 1, \"x.0\": 1}"},
	{"dotted_exclusion", "{\"a.b\": 0, \"b.c\": {\"$numberDecimal\": \"0\"}}"},
	{"nested_object", "{\"a\": {\"b\": 1, \"c\": {\"d\": 1}}}"},
	{"slice_number", "{\"a\": {\"$slice\": -2}, \"d\": {\"$slice\": {\"$numberDouble\": \"NaN\"}}}"},
	{"slice_skip_limit", "{\"a\": {\"$slice\": [1, 2]}, \"b.c\": {\"$slice\": [-3, 1]}}"},
	{"slice_expression", "{\"a\": {\"$slice\": [\"$d\", -1, 2]}, \"b\": {\"$slice\": [[1, 2, 3], 2]}}"},
	{"slice_bad", "{\"a\": {\"$slice\": [0, 0]}}"},
	{"elem_match_object", "{\"a\": {\"$elemMatch\": {\"b\": {\"$gte\": 1}, \"c\": {\"$size\": 2}}}}"},
	{"elem_match_value", "{\"d\": {\"$elemMatch\": {\"$gt\": 0, \"%regex\": \"^a\"}}, \"x\": 1}"},
	{"positional", "{\"a.$\": 1, \"b\": {\"$slice\": 1}}"},
	{"positional_dotted", "{\"a.b.$\": true, \"_id\": 0}"},
	{"literals", "{\"v\": \"text\", \"n\": null, \"l\": {\"$literal\": {\"$x\": 1}}, \"arr\": [1, \"$a\", {\"k\": \"$b.c\"}]}"},
	{"field_paths", "{\"r\": \"$$ROOT\", \"c\": \"$$CURRENT.a.b\", \"g\": \"$$REMOVE\", \"a.z\": \"$x\"}"},
	{"collision", "{\"a\": 1, \"a.b\": 1}"},
	{"mixed", "{\"a\": 1, \"b\": 0}"},
	{"not_implemented", "{\"a\": {\"$add\": [1, 2]}, \"m\": {\"$meta\": \"textScore\"}}"},
	{"sort", "{\"a\": 1, \"b.c\": -1, \"$natural\": 1}"},
	{"sort_meta", "{\"a\": {\"$meta\": \"textScore\"}}"},
};

int
main(int argc, char **argv)
{
	if (argc != 2)
	{
		fprintf(stderr, "usage: make_projection_corpus DIRECTORY\n");
		return 2;
	}

	for (size_t i = 0; i < sizeof(corpus_projections) / sizeof(corpus_projections[0]); i++)
	{
		bson_error_t error;
		bson_t	   *parsed = bson_new_from_json((const uint8_t *) corpus_projections[i].json,
												-1, &error);
		bson_t		doc = BSON_INITIALIZER;
		bson_iter_t it;
		char		path[1024];
		FILE	   *f;

		if (parsed == NULL)
		{
			fprintf(stderr, "%s: %s\n", corpus_projections[i].name, error.message);
			return 1;
		}
		if (bson_iter_init(&it, parsed))
			TestRestoreDollarKeys(&it, &doc, '%');
		snprintf(path, sizeof(path), "%s/%s.bson", argv[1], corpus_projections[i].name);
		f = fopen(path, "wb");
		if (f == NULL || fwrite(bson_get_data(&doc), 1, doc.len, f) != doc.len ||
			fclose(f) != 0)
		{
			perror(path);
			return 1;
		}
		bson_destroy(&doc);
		bson_destroy(parsed);
	}
	return 0;
}
