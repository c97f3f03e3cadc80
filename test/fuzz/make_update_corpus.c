/*-------------------------------------------------------------------------
 *
 * make_update_corpus.c
 *	  Write the seed corpus of fuzz_update: MongoDB update documents as
 *	  BSON, one file each, built with libbson from Extended JSON; a seed
 *	  with array filters is followed by the document {"f": [filters]}.
 *
 *	  make -C test/fuzz corpus-update   (runs build/make_update_corpus corpus/update)
 *
 * libbson's JSON reader takes {"$regex": ..., "$options": ...} for a legacy
 * regex, so those keys are written with "%" instead of "$" and renamed
 * after parsing.  The files are kept in the repository; rerun this only to
 * change them.
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
	const char *filters;		/* {"f": [...]} or NULL */
}			corpus_updates[] = {
	{"set", "{\"$set\": {\"a\": 1, \"b.c\": \"x\"}}", NULL},
	{"set_array_index", "{\"$set\": {\"a.0\": 9, \"a.5.b\": 1}}", NULL},
	{"set_order", "{\"$set\": {\"z\": 1, \"a\": 2, \"10\": 3, \"9\": 4}}", NULL},
	{"unset", "{\"$unset\": {\"a\": \"\", \"b.c\": 1, \"x.1\": 1}}", NULL},
	{"inc", "{\"$inc\": {\"a\": 1, \"f\": 1, \"n\": 1, \"d\": 0.5}}", NULL},
	{"mul", "{\"$mul\": {\"a\": 2, \"c\": -1, \"new\": {\"$numberLong\": \"3\"}}}", NULL},
	{"inc_decimal", "{\"$inc\": {\"b\": {\"$numberDecimal\": \"0.5\"}, \"a\": {\"$numberDecimal\": \"1\"}, \"d\": {\"$numberDecimal\": \"9.999999999999999999999999999999999E+6144\"}, \"f\": {\"$numberDecimal\": \"-0\"}}}", NULL},
	{"mul_decimal", "{\"$mul\": {\"b\": {\"$numberDecimal\": \"-1.1E-6176\"}, \"e\": {\"$numberDecimal\": \"Infinity\"}, \"new\": {\"$numberDecimal\": \"2.50\"}, \"c\": 0.1}}", NULL},
	{"min_max", "{\"$min\": {\"a\": 0}, \"$max\": {\"b\": \"zz\", \"c\": {\"$maxKey\": 1}}}", NULL},
	{"rename", "{\"$rename\": {\"a\": \"r\", \"b.c\": \"s.t\"}}", NULL},
	{"rename_errors", "{\"$rename\": {\"a\": \"a.b\"}}", NULL},
	{"set_on_insert", "{\"$setOnInsert\": {\"i\": 1}, \"$set\": {\"j\": 2}}", NULL},
	{"current_date", "{\"$currentDate\": {\"d\": true, \"t\": {\"$type\": \"timestamp\"}}}", NULL},
	{"push", "{\"$push\": {\"a\": 1, \"b\": [1, 2]}}", NULL},
	{"push_each", "{\"$push\": {\"a\": {\"$each\": [3, 1, 2], \"$sort\": 1, \"$slice\": -2, \"$position\": 0}}}", NULL},
	{"push_sort_pattern", "{\"$push\": {\"a\": {\"$each\": [{\"b\": 0}], \"$sort\": {\"b\": -1, \"c.d\": 1}}}}", NULL},
	{"add_to_set", "{\"$addToSet\": {\"a\": {\"b\": 4}, \"x\": {\"$each\": [\"a\", \"z\", \"z\"]}}}", NULL},
	{"pop", "{\"$pop\": {\"a\": 1, \"x\": -1}}", NULL},
	{"pull_value", "{\"$pull\": {\"a\": 5, \"x\": \"a\"}}", NULL},
	{"pull_condition", "{\"$pull\": {\"a\": {\"$gte\": 2}, \"x\": {\"%regex\": \"^a\"}}}", NULL},
	{"pull_object", "{\"$pull\": {\"a\": {\"b\": {\"$in\": [1, 2]}}}}", NULL},
	{"pull_all", "{\"$pullAll\": {\"a\": [1, 5, 7], \"x\": [\"b\"]}}", NULL},
	{"bit", "{\"$bit\": {\"a\": {\"and\": 5, \"or\": {\"$numberLong\": \"8\"}, \"xor\": 1}}}", NULL},
	{"positional", "{\"$set\": {\"a.$\": 0}, \"$inc\": {\"x.$\": 1}}", NULL},
	{"positional_all", "{\"$inc\": {\"a.$[].b\": 1}, \"$push\": {\"c.$[]\": 1}}", NULL},
	{"array_filters", "{\"$set\": {\"a.$[e].b\": 0, \"x.$[s]\": \"y\"}}",
	"{\"f\": [{\"e.b\": {\"$gt\": 0}}, {\"s\": {\"$in\": [\"a\", \"b\"]}}]}"},
	{"array_filters_nested", "{\"$set\": {\"a.$[o].$[i]\": 1}}",
	"{\"f\": [{\"o\": {\"%type\": \"array\"}}, {\"$or\": [{\"i\": 1}, {\"i\": {\"$exists\": false}}]}]}"},
	{"array_filters_unused", "{\"$set\": {\"a\": 1}}", "{\"f\": [{\"x\": 1}]}"},
	{"conflict", "{\"$set\": {\"a\": 1}, \"$inc\": {\"a.b\": 1}}", NULL},
	{"unknown_operator", "{\"$foo\": {\"a\": 1}}", NULL},
	{"replacement", "{\"a\": 1, \"b\": {\"c\": [1, 2]}}", NULL},
	{"replacement_id", "{\"_id\": 1, \"x\": 2}", NULL},
	{"upsert_filter", "{\"_id\": 5, \"a.b\": 1, \"$and\": [{\"c\": {\"$eq\": 2}}], \"d\": {\"$in\": [3]}}", NULL},
	{"dollar_field", "{\"$set\": {\"$x\": 1, \"a.$y\": 2}}", NULL},
};

/*
 * Write one seed file.
 */
static int
WriteSeed(const char *dir, const char *name, const char *json, const char *filters)
{
	bson_error_t error;
	bson_t	   *parsed = bson_new_from_json((const uint8_t *) json, -1, &error);
	bson_t		doc = BSON_INITIALIZER;
	bson_iter_t it;
	char		path[1024];
	FILE	   *f;

	if (parsed == NULL)
	{
		fprintf(stderr, "%s: %s\n", name, error.message);
		return 1;
	}
	if (bson_iter_init(&it, parsed))
		TestRestoreDollarKeys(&it, &doc, '%');
	snprintf(path, sizeof(path), "%s/%s.bson", dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(bson_get_data(&doc), 1, doc.len, f) != doc.len)
	{
		perror(path);
		return 1;
	}
	if (filters != NULL)
	{
		bson_t	   *fparsed = bson_new_from_json((const uint8_t *) filters, -1, &error);
		bson_t		fdoc = BSON_INITIALIZER;

		if (fparsed == NULL)
		{
			fprintf(stderr, "%s filters: %s\n", name, error.message);
			return 1;
		}
		if (bson_iter_init(&it, fparsed))
			TestRestoreDollarKeys(&it, &fdoc, '%');
		if (fwrite(bson_get_data(&fdoc), 1, fdoc.len, f) != fdoc.len)
		{
			perror(path);
			return 1;
		}
		bson_destroy(&fdoc);
		bson_destroy(fparsed);
	}
	if (fclose(f) != 0)
	{
		perror(path);
		return 1;
	}
	bson_destroy(&doc);
	bson_destroy(parsed);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc != 2)
	{
		fprintf(stderr, "usage: make_update_corpus DIRECTORY\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(corpus_updates) / sizeof(corpus_updates[0]); i++)
	{
		if (WriteSeed(argv[1], corpus_updates[i].name, corpus_updates[i].json,
					  corpus_updates[i].filters) != 0)
			return 1;
	}
	return 0;
}
