/*-------------------------------------------------------------------------
 *
 * make_query_corpus.c
 *	  Write the seed corpus of fuzz_query: MongoDB filters as BSON, one
 *	  file each, built with libbson from Extended JSON.
 *
 *	  make -C test/fuzz corpus-query   (runs build/make_query_corpus corpus/query)
 *
 * libbson's JSON reader takes {"$regex": ..., "$options": ...} for a legacy
 * regex and "$type" for part of a legacy binary, so those keys are written
 * with "%" instead of "$" and renamed after parsing.  The files are kept in
 * the repository; rerun this only to change them.
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
}			corpus_filters[] = {
	{"empty", "{}"},
	{"equality", "{\"a\": 1, \"b\": \"x\"}"},
	{"equality_null", "{\"a\": null}"},
	{"equality_array", "{\"a\": [1, 5]}"},
	{"equality_document", "{\"a\": {\"b\": 1, \"c\": [2]}}"},
	{"dotted_paths", "{\"a.b\": 1, \"a.0.b\": 2, \"b.c.d\": null}"},
	{"comparisons", "{\"a\": {\"$gt\": 1, \"$lt\": {\"$numberDecimal\": \"9.5\"}}, \"b\": {\"$gte\": \"a\", \"$lte\": {\"$maxKey\": 1}}}"},
	{"ne_nin", "{\"a\": {\"$ne\": 5}, \"b\": {\"$nin\": [1, null, \"x\"]}}"},
	{"in_regex", "{\"a\": {\"$in\": [1, 2.5, {\"$numberLong\": \"3\"}, {\"$regularExpression\": {\"pattern\": \"^x\", \"options\": \"i\"}}, null, [1]]}}"},
	{"exists", "{\"a\": {\"$exists\": true}, \"z\": {\"$exists\": false}}"},
	{"type_alias", "{\"a\": {\"%type\": \"number\"}, \"b\": {\"%type\": \"string\"}}"},
	{"type_codes", "{\"a\": {\"%type\": [1, 16, \"array\", -1, 127]}}"},
	{"mod", "{\"a\": {\"$mod\": [4, 1]}, \"d\": {\"$mod\": [2.5, {\"$numberDecimal\": \"0\"}]}}"},
	{"size", "{\"a\": {\"$size\": 4}, \"b\": {\"$size\": 0}}"},
	{"all", "{\"a\": {\"$all\": [1, 5]}}"},
	{"all_elem_match", "{\"a\": {\"$all\": [{\"$elemMatch\": {\"b\": 4}}, {\"$elemMatch\": {\"$gt\": 1}}]}}"},
	{"elem_match_value", "{\"a\": {\"$elemMatch\": {\"$gt\": 1, \"$lt\": 6}}}"},
	{"elem_match_object", "{\"a\": {\"$elemMatch\": {\"b\": {\"$in\": [1, 2]}, \"c\": {\"$size\": 2}}}}"},
	{"regex_value", "{\"x\": {\"$regularExpression\": {\"pattern\": \"^a.c$\", \"options\": \"ims\"}}}"},
	{"regex_operator", "{\"x\": {\"%regex\": \"b+\", \"%options\": \"xi\"}}"},
	{"regex_bad", "{\"x\": {\"%regex\": \"(a|\"}}"},
	{"regex_backtracking", "{\"x\": {\"%regex\": \"^(a|aa)+$\"}}"},
	{"not", "{\"a\": {\"$not\": {\"$gt\": 2}}, \"x\": {\"$not\": {\"$regularExpression\": {\"pattern\": \"z\", \"options\": \"\"}}}}"},
	{"and_or_nor", "{\"$and\": [{\"a\": 1}, {\"$or\": [{\"b\": 2}, {\"c\": null}]}], \"$nor\": [{\"d\": 3}]}"},
	{"bits_mask", "{\"a\": {\"$bitsAllSet\": 1, \"$bitsAnyClear\": 6}}"},
	{"bits_positions", "{\"d\": {\"$bitsAnySet\": [0, 63, 200], \"$bitsAllClear\": []}}"},
	{"bits_binary", "{\"a\": {\"$bitsAllSet\": {\"$binary\": {\"base64\": \"AQI=\", \"subType\": \"00\"}}}}"},
	{"comment_always", "{\"$comment\": \"seed\", \"$alwaysTrue\": 1}"},
	{"nested_logic", "{\"$or\": [{\"a\": {\"$elemMatch\": {\"$or\": [{\"b\": 1}, {\"b\": {\"$exists\": false}}]}}}, {\"b.c\": {\"$elemMatch\": {\"d\": {\"%type\": \"array\"}}}}]}"},
	{"geo_within_polygon", "{\"loc\": {\"$geoWithin\": {\"$geometry\": {\"type\": \"Polygon\", \"coordinates\": [[[-10, -10], [10, -10], [10, 10], [-10, 10], [-10, -10]], [[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]]]}}}}"},
	{"geo_within_legacy", "{\"$or\": [{\"b\": {\"$geoWithin\": {\"$box\": [[0, 0], [10, 10]]}}}, {\"b\": {\"$geoWithin\": {\"$polygon\": [[0, 0], [3, 0], [0, 3]]}}}, {\"a\": {\"$geoWithin\": {\"$center\": [[0, 0], 5]}}}, {\"a\": {\"$geoWithin\": {\"$centerSphere\": [[0, 0], 0.1]}}}]}"},
	{"geo_intersects", "{\"d\": {\"$geoIntersects\": {\"$geometry\": {\"type\": \"GeometryCollection\", \"geometries\": [{\"type\": \"LineString\", \"coordinates\": [[180, -5], [180, 5]]}, {\"type\": \"MultiPolygon\", \"coordinates\": [[[[0, 0], [1, 0], [1, 1], [0, 0]]]]}]}}}}"},
	{"geo_big_polygon", "{\"c\": {\"$geoIntersects\": {\"$geometry\": {\"type\": \"Polygon\", \"coordinates\": [[[-10, -10], [-10, 10], [10, 10], [10, -10], [-10, -10]]], \"crs\": {\"type\": \"name\", \"properties\": {\"name\": \"urn:x-mongodb:crs:strictwinding:EPSG:4326\"}}}}}}"},
	{"geo_near", "{\"loc\": {\"$near\": {\"$geometry\": {\"type\": \"Point\", \"coordinates\": [0, 0]}, \"$minDistance\": 1, \"$maxDistance\": 500000}}}"},
	{"geo_near_legacy", "{\"loc\": {\"$nearSphere\": [0, 0], \"$maxDistance\": 0.5}, \"a\": {\"$exists\": true}}"},
	{"unknown_operator", "{\"a\": {\"$foo\": 1}}"},
	{"unsupported", "{\"$expr\": {\"$eq\": [\"$a\", 1]}}"},
	{"text", "{\"$text\": {\"$search\": \"coffee -tea \\\"brown fox\\\"\", \"$language\": \"en\", \"$caseSensitive\": false, \"$diacriticSensitive\": true}}"},
	{"text_or", "{\"$or\": [{\"$text\": {\"$search\": \"a\"}}, {\"b\": 1}], \"c\": {\"$gt\": 2}}"},
	{"text_bad", "{\"$and\": [{\"$text\": {\"$search\": 1}}, {\"$nor\": [{\"$text\": {}}]}]}"},
	{"numbers", "{\"a\": {\"$numberDouble\": \"NaN\"}, \"b\": {\"$numberDecimal\": \"-1.5E+3\"}, \"c\": {\"$lt\": {\"$numberLong\": \"-9223372036854775807\"}}}"},
	{"schema_scalars", "{\"$jsonSchema\": {\"required\": [\"a\"], \"properties\": {\"a\": {\"bsonType\": [\"int\", \"array\"], \"minimum\": 1, \"items\": {\"type\": \"object\"}}, \"x\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 3, \"pattern\": \"^a\"}}}}"},
	{"schema_objects", "{\"$jsonSchema\": {\"properties\": {\"_id\": {}}, \"patternProperties\": {\"^[a-c]$\": {\"not\": {\"type\": \"null\"}}}, \"additionalProperties\": {\"bsonType\": \"number\", \"multipleOf\": 0.5}, \"minProperties\": 1, \"maxProperties\": 5, \"dependencies\": {\"a\": [\"b\"], \"x\": {\"required\": [\"c\"]}}}}"},
	{"schema_logic", "{\"$or\": [{\"$jsonSchema\": {\"anyOf\": [{\"required\": [\"z\"]}, {\"properties\": {\"d\": {\"enum\": [1e300, {\"a\": 1}, [1, 2], null]}}}], \"oneOf\": [{\"minProperties\": 2}, {\"maxProperties\": 1}]}}, {\"a\": {\"$elemMatch\": {\"$jsonSchema\": {\"allOf\": [{\"required\": [\"b\"]}], \"not\": {\"required\": [\"c\"]}}}}}]}"},
	{"schema_arrays", "{\"$jsonSchema\": {\"properties\": {\"a\": {\"items\": [{\"bsonType\": \"int\"}, {\"uniqueItems\": true}], \"additionalItems\": false, \"minItems\": 1, \"maxItems\": 4}, \"d\": {\"uniqueItems\": true, \"items\": {\"exclusiveMinimum\": true, \"minimum\": {\"$numberDecimal\": \"-1\"}}}}}}"},
	{"schema_bad", "{\"$jsonSchema\": {\"properties\": {\"a\": {\"type\": \"integer\"}}}}"},
};

int
main(int argc, char **argv)
{
	if (argc != 2)
	{
		fprintf(stderr, "usage: make_query_corpus DIRECTORY\n");
		return 2;
	}

	for (size_t i = 0; i < sizeof(corpus_filters) / sizeof(corpus_filters[0]); i++)
	{
		bson_error_t error;
		bson_t	   *parsed = bson_new_from_json((const uint8_t *) corpus_filters[i].json,
												-1, &error);
		bson_t		doc = BSON_INITIALIZER;
		bson_iter_t it;
		char		path[1024];
		FILE	   *f;

		if (parsed == NULL)
		{
			fprintf(stderr, "%s: %s\n", corpus_filters[i].name, error.message);
			return 1;
		}
		if (bson_iter_init(&it, parsed))
			TestRestoreDollarKeys(&it, &doc, '%');
		snprintf(path, sizeof(path), "%s/%s.bson", argv[1], corpus_filters[i].name);
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
