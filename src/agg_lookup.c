/*-------------------------------------------------------------------------
 *
 * agg_lookup.c
 *	  The row functions behind the SQL of $lookup.
 *
 * agg_pipeline.c translates {$lookup: {from, localField, foreignField, as}}
 * into a correlated subquery over the foreign collection's table:
 *
 *	SELECT nosql.bson_lookup_set(s.document, 'as',
 *			 ARRAY(SELECT document FROM foreign
 *				   WHERE document @@ nosql.bson_lookup_filter(s.document, 'lf', 'ff')))
 *	  FROM (...) s
 *
 * The filter is MongoDB's equality match of a $lookup, {ff: {$in: values}},
 * where the values are those of localField (an array's elements, null
 * when there are none), so that a missing or null local value matches
 * foreign documents where foreignField is null or missing.  When an ordered
 * index serves foreignField, the condition is written against its key
 * expression first,
 *
 *	(key = ANY (nosql.bson_lookup_keys(s.document, 'lf')) OR
 *	 (key IS NULL AND document @@ nosql.bson_lookup_filter(...)))
 *
 * (index_key.c explains the NULL keys), which PostgreSQL runs as a nested
 * loop over parameterized index scans.
 *
 * IDENTIFICATION
 *	  src/agg_lookup.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "agg.h"
#include "bson.h"
#include "documents.h"

/*
 * Append to values (an array being built) the values a dotted path reaches
 * in a document, through arrays as MongoDB's localField does; an array at
 * the end gives its elements.
 */
static void
LookupCollect(const bson_iter_t *doc, const char *path, bson_t *values, uint32_t *n)
{
	bson_iter_t it;
	const char *dot = strchr(path, '.');
	size_t		partlen = dot ? (size_t) (dot - path) : strlen(path);

	check_stack_depth();
	if (!bson_iter_recurse(doc, &it))
		return;
	while (bson_iter_next(&it))
	{
		char		key[16];
		const char *keyp;

		if (bson_iter_key_len(&it) != partlen || strncmp(bson_iter_key(&it), path, partlen) != 0)
			continue;
		if (dot == NULL)
		{
			if (BSON_ITER_HOLDS_ARRAY(&it))
			{
				bson_iter_t el;

				bson_iter_recurse(&it, &el);
				while (bson_iter_next(&el))
				{
					bson_uint32_to_string((*n)++, &keyp, key, sizeof(key));
					bson_append_iter(values, keyp, -1, &el);
				}
			}
			else
			{
				bson_uint32_to_string((*n)++, &keyp, key, sizeof(key));
				bson_append_iter(values, keyp, -1, &it);
			}
		}
		else if (BSON_ITER_HOLDS_DOCUMENT(&it))
			LookupCollect(&it, dot + 1, values, n);
		else if (BSON_ITER_HOLDS_ARRAY(&it))
		{
			bson_iter_t el;

			bson_iter_recurse(&it, &el);
			while (bson_iter_next(&el))
				if (BSON_ITER_HOLDS_DOCUMENT(&el))
					LookupCollect(&el, dot + 1, values, n);
		}
		return;
	}
}

/* The $in values of localField in a document: {"v": [values]} */
static void
LookupValues(const Bson *doc, const char *path, bson_t *out)
{
	bson_t		arr;
	bson_t		d;
	bson_iter_t root;
	uint32_t	n = 0;

	bson_init_static(&d, BsonBytes(doc), BsonDocLen(doc));
	bson_init(out);
	bson_append_array_begin(out, "v", 1, &arr);
	/* iterate the document as the value of a wrapper */
	{
		bson_t		wrap;

		bson_init(&wrap);
		bson_append_document(&wrap, "d", 1, &d);
		bson_iter_init_find(&root, &wrap, "d");
		LookupCollect(&root, path, &arr, &n);
		if (n == 0)
			bson_append_null(&arr, "0", 1);
		bson_append_array_end(out, &arr);
		bson_destroy(&wrap);
	}
}

/*
 * nosql.bson_lookup_filter(document bson, local text, foreign text) RETURNS bson
 *
 * The filter {foreign: {$in: [the values of local]}} of a $lookup's
 * equality match for one input document.
 */
PG_FUNCTION_INFO_V1(bson_lookup_filter);
Datum
bson_lookup_filter(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	char	   *local = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *foreign = text_to_cstring(PG_GETARG_TEXT_PP(2));
	bson_t		values;
	bson_t		filter;
	bson_t		cond;
	bson_iter_t it;
	Bson	   *result;

	LookupValues(doc, local, &values);
	bson_iter_init_find(&it, &values, "v");
	bson_init(&filter);
	bson_append_document_begin(&filter, foreign, -1, &cond);
	bson_append_iter(&cond, "$in", 3, &it);
	bson_append_document_end(&filter, &cond);
	result = BsonDatumFromBson(&filter);
	bson_destroy(&filter);
	bson_destroy(&values);
	PG_RETURN_BSON_P(result);
}

/*
 * nosql.bson_lookup_keys(document bson, local text) RETURNS bson[]
 *
 * The values of localField as index keys (bson scalars), for the key
 * condition of an indexed foreignField.
 */
PG_FUNCTION_INFO_V1(bson_lookup_keys);
Datum
bson_lookup_keys(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	char	   *local = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bson_t		values;
	bson_iter_t it;
	bson_iter_t el;
	Datum	   *elems;
	int			n = 0;
	int			cap = 8;
	/* nosql.bson: a varlena aligned as int4 (sql/nosql.sql) */
	const int16 typlen = -1;
	const bool	typbyval = false;
	const char	typalign = TYPALIGN_INT;
	Oid			bsonoid = BsonTypeOid();

	LookupValues(doc, local, &values);
	bson_iter_init_find(&it, &values, "v");
	bson_iter_recurse(&it, &el);
	elems = palloc(sizeof(Datum) * cap);
	while (bson_iter_next(&el))
	{
		if (n == cap)
		{
			cap *= 2;
			elems = repalloc(elems, sizeof(Datum) * cap);
		}
		elems[n++] = PointerGetDatum(BsonFromIter(&el));
	}
	bson_destroy(&values);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, n, bsonoid, typlen, typbyval, typalign));
}

/*
 * Copy doc into out with the dotted path set to value, as MongoDB sets a
 * $lookup's "as" field (and $geoNear's distanceField): the field keeps its
 * place, missing fields are added at the end, and what is not a document
 * on the way is replaced by one.
 */
void
AggSetDottedPath(const uint8_t *data, uint32_t len, const char *path,
				 const bson_value_t *value, bson_t *out)
{
	bson_t		d;
	bson_iter_t it;
	const char *dot = strchr(path, '.');
	size_t		partlen = dot ? (size_t) (dot - path) : strlen(path);
	bool		done = false;

	check_stack_depth();
	if (data != NULL)
	{
		bson_init_static(&d, data, len);
		bson_iter_init(&it, &d);
		while (bson_iter_next(&it))
		{
			if (done || bson_iter_key_len(&it) != partlen ||
				strncmp(bson_iter_key(&it), path, partlen) != 0)
			{
				bson_append_iter(out, NULL, 0, &it);
				continue;
			}
			done = true;
			if (dot == NULL)
				bson_append_value(out, path, partlen, value);
			else
			{
				bson_t		sub;
				const uint8_t *sdata = NULL;
				uint32_t	slen = 0;

				if (BSON_ITER_HOLDS_DOCUMENT(&it))
					bson_iter_document(&it, &slen, &sdata);
				bson_append_document_begin(out, path, partlen, &sub);
				AggSetDottedPath(sdata, slen, dot + 1, value, &sub);
				bson_append_document_end(out, &sub);
			}
		}
	}
	if (!done)
	{
		if (dot == NULL)
			bson_append_value(out, path, partlen, value);
		else
		{
			bson_t		sub;

			bson_append_document_begin(out, path, partlen, &sub);
			AggSetDottedPath(NULL, 0, dot + 1, value, &sub);
			bson_append_document_end(out, &sub);
		}
	}
}

/*
 * nosql.bson_lookup_set(document bson, as text, matches bson[]) RETURNS bson
 *
 * The document with the foreign documents a $lookup found as the array at
 * the path "as".
 */
PG_FUNCTION_INFO_V1(bson_lookup_set);
Datum
bson_lookup_set(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	char	   *path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	ArrayType  *matches = PG_GETARG_ARRAYTYPE_P(2);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	/* nosql.bson: a varlena aligned as int4 (sql/nosql.sql) */
	const int16 typlen = -1;
	const bool	typbyval = false;
	const char	typalign = TYPALIGN_INT;
	bson_t		arr;
	bson_t		out;
	Bson	   *result;

	deconstruct_array(matches, BsonTypeOid(), typlen, typbyval, typalign, &elems, &nulls, &n);
	bson_init(&arr);
	for (int i = 0; i < n; i++)
	{
		Bson	   *m;
		bson_t		md;
		char		key[16];
		const char *keyp;

		if (nulls[i])
			continue;
		m = DatumGetBsonP(elems[i]);
		bson_init_static(&md, BsonBytes(m), BsonDocLen(m));
		bson_uint32_to_string((uint32_t) i, &keyp, key, sizeof(key));
		if (!bson_append_document(&arr, keyp, -1, &md))
			MongoRaise(4568, "Total size of documents in %s matching pipeline's $lookup stage exceeds 16793600 bytes",
					   path);
	}
	bson_init(&out);
	{
		bson_value_t v;

		v.value_type = BSON_TYPE_ARRAY;
		v.value.v_doc.data = (uint8_t *) bson_get_data(&arr);
		v.value.v_doc.data_len = arr.len;
		AggSetDottedPath(BsonBytes(doc), BsonDocLen(doc), path, &v, &out);
	}
	result = BsonDatumFromBson(&out);
	bson_destroy(&out);
	bson_destroy(&arr);
	PG_RETURN_BSON_P(result);
}

/* ---- $graphLookup ---- */

/*
 * nosql.bson_graph_start(value bson) RETURNS bson
 *
 * {v: value}: a startWith value as a document whose field v the $lookup
 * functions read (an array's elements are the values to match); NULL for
 * an empty array, which matches nothing.
 */
PG_FUNCTION_INFO_V1(bson_graph_start);
Datum
bson_graph_start(PG_FUNCTION_ARGS)
{
	Bson	   *value = PG_GETARG_BSON_P(0);
	bson_iter_t it;
	bson_t		holder;
	bson_t		out;
	Bson	   *result;

	bson_init(&out);
	if (BsonValueIter(value, &it, &holder))
	{
		bson_iter_t el;

		/* an empty array starts nowhere (the $lookup functions read null) */
		if (BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &el) && !bson_iter_next(&el))
			PG_RETURN_NULL();
		bson_append_iter(&out, "v", 1, &it);
	}
	else
	{
		bson_t		d;

		bson_init_static(&d, BsonBytes(value), BsonDocLen(value));
		bson_append_document(&out, "v", 1, &d);
	}
	result = BsonDatumFromBson(&out);
	bson_destroy(&out);
	PG_RETURN_BSON_P(result);
}

/*
 * nosql.bson_graph_filter(document bson, from text, to text) RETURNS bson
 *
 * The filter {to: {$in: [the values of from]}} of a $graphLookup step from
 * a found document; NULL (no step) when from is missing, as MongoDB does
 * not follow a missing connectFromField.
 */
PG_FUNCTION_INFO_V1(bson_graph_filter);
Datum
bson_graph_filter(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	char	   *from = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *to = text_to_cstring(PG_GETARG_TEXT_PP(2));
	bson_t		values;
	bson_t		arr;
	bson_t		filter;
	bson_t		cond;
	bson_t		d;
	bson_t		wrap;
	bson_iter_t root;
	uint32_t	n = 0;
	Bson	   *result;

	bson_init_static(&d, BsonBytes(doc), BsonDocLen(doc));
	bson_init(&values);
	bson_append_array_begin(&values, "v", 1, &arr);
	bson_init(&wrap);
	bson_append_document(&wrap, "d", 1, &d);
	bson_iter_init_find(&root, &wrap, "d");
	LookupCollect(&root, from, &arr, &n);
	bson_append_array_end(&values, &arr);
	bson_destroy(&wrap);
	if (n == 0)
	{
		bson_destroy(&values);
		PG_RETURN_NULL();
	}
	bson_iter_init_find(&root, &values, "v");
	bson_init(&filter);
	bson_append_document_begin(&filter, to, -1, &cond);
	bson_append_iter(&cond, "$in", 3, &root);
	bson_append_document_end(&filter, &cond);
	result = BsonDatumFromBson(&filter);
	bson_destroy(&filter);
	bson_destroy(&values);
	PG_RETURN_BSON_P(result);
}

/*
 * nosql.bson_graph_depth(document bson, field text, depth bigint) RETURNS bson
 *
 * The document with depthField set to the number of steps that found it
 * (a long, as MongoDB's).
 */
PG_FUNCTION_INFO_V1(bson_graph_depth);
Datum
bson_graph_depth(PG_FUNCTION_ARGS)
{
	Bson	   *doc = PG_GETARG_BSON_P(0);
	char	   *field = text_to_cstring(PG_GETARG_TEXT_PP(1));
	int64		depth = PG_GETARG_INT64(2);
	bson_t		d;
	bson_t		out;
	bson_iter_t it;
	bool		done = false;
	Bson	   *result;

	bson_init_static(&d, BsonBytes(doc), BsonDocLen(doc));
	bson_init(&out);
	bson_iter_init(&it, &d);
	while (bson_iter_next(&it))
	{
		if (strcmp(bson_iter_key(&it), field) == 0)
		{
			bson_append_int64(&out, field, -1, depth);
			done = true;
		}
		else
			bson_append_iter(&out, NULL, 0, &it);
	}
	if (!done)
		bson_append_int64(&out, field, -1, depth);
	result = BsonDatumFromBson(&out);
	bson_destroy(&out);
	PG_RETURN_BSON_P(result);
}
