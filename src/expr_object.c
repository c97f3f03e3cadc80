/*-------------------------------------------------------------------------
 *
 * expr_object.c
 *	  Object expression operators: $mergeObjects, $getField, $setField,
 *	  $unsetField, $objectToArray, $arrayToObject, and $meta (a document's
 *	  metadata: the pipeline sets it around each evaluation).
 *
 * Objects are built field by field in a small ordered list, as MongoDB's
 * MutableDocument does: setting a field that is already there replaces
 * its value in place, a new field goes last.
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#include "miscadmin.h"
#endif

#include "lib/stringinfo.h"

#include "expr_internal.h"

/* ---- ordered fields ---- */

typedef struct AggField
{
	const char *key;
	uint32_t	keylen;
	bson_value_t value;			/* EOD: removed */
} AggField;

typedef struct AggFieldList
{
	AggField   *fields;
	int			n;
	int			max;
} AggFieldList;

/* Set a field: in place when it is there, else last */
static void
AggFieldSet(AggFieldList *list, const char *key, uint32_t keylen, const bson_value_t *v)
{
	for (int i = 0; i < list->n; i++)
		if (list->fields[i].keylen == keylen && memcmp(list->fields[i].key, key, keylen) == 0)
		{
			list->fields[i].value = *v;
			return;
		}
	if (list->n == list->max)
	{
		list->max = Max(16, list->max * 2);
		list->fields = list->fields == NULL ? palloc(sizeof(AggField) * list->max) :
			repalloc(list->fields, sizeof(AggField) * list->max);
	}
	list->fields[list->n].key = key;
	list->fields[list->n].keylen = keylen;
	list->fields[list->n].value = *v;
	list->n++;
}

/* Set every field of a document */
static void
AggFieldSetAll(AggFieldList *list, const bson_value_t *doc)
{
	bson_iter_t it;

	if (!bson_iter_init_from_data(&it, doc->value.v_doc.data, doc->value.v_doc.data_len))
		return;
	while (bson_iter_next(&it))
		AggFieldSet(list, bson_iter_key(&it), bson_iter_key_len(&it), bson_iter_value(&it));
}

/* The list as a document value (removed fields left out); frees the list */
static void
AggFieldFinish(AggExprContext *cx, AggFieldList *list, bson_value_t *out)
{
	bson_t		doc = BSON_INITIALIZER;

	for (int i = 0; i < list->n; i++)
		if (list->fields[i].value.value_type != BSON_TYPE_EOD)
			bson_append_value(&doc, list->fields[i].key, (int) list->fields[i].keylen,
							  &list->fields[i].value);
	AggSetFromBson(cx, out, &doc, false);
	bson_destroy(&doc);
	if (list->fields != NULL)
		pfree(list->fields);
}

/* ---- $mergeObjects ---- */

/* Merge one input into the list (null and missing are skipped) */
static bool
AggMergeOne(AggFieldList *list, const bson_value_t *v, BsonQueryError *error)
{
	if (AggValueNullish(v))
		return true;
	if (v->value_type != BSON_TYPE_DOCUMENT)
	{
		if (list->fields != NULL)
			pfree(list->fields);
		list->fields = NULL;
		return AggExprFail(error, 40400,
						   "$mergeObjects requires object inputs, but input is of type %s",
						   AggTypeName(v));
	}
	AggFieldSetAll(list, v);
	return true;
}

static bool
AggMergeObjects(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	AggFieldList list = {0};

	for (int i = 0; i < e->nargs; i++)
	{
		bson_value_t v;

		if (!AggEvalArg(e, i, cx, &v, error))
		{
			if (list.fields != NULL)
				pfree(list.fields);
			return false;
		}
		if (e->nargs == 1 && v.value_type == BSON_TYPE_ARRAY)
		{
			/* one array argument: merge its elements */
			bson_iter_t it;

			if (bson_iter_init_from_data(&it, v.value.v_doc.data, v.value.v_doc.data_len))
				while (bson_iter_next(&it))
					if (!AggMergeOne(&list, bson_iter_value(&it), error))
						return false;
			continue;
		}
		if (!AggMergeOne(&list, &v, error))
			return false;
	}
	AggFieldFinish(cx, &list, out);
	return true;
}

/* ---- $getField, $setField, $unsetField ---- */

/* The parsed arguments: args[0] field (a constant string), [1] input, [2] value */
enum
{
	FIELD_FIELD,
	FIELD_INPUT,
	FIELD_VALUE,
	FIELD_NARGS
};

/*
 * The 'field' argument: a constant string ($literal or a string that is not
 * a field path), without NUL bytes.
 */
static bool
AggFieldArgCheck(AggExprParser *p, const char *opname, const bson_iter_t *arg,
				 const AggExpr *field, bool get)
{
	if (BSON_ITER_HOLDS_UTF8(arg))
	{
		uint32_t	len;
		const char *s = bson_iter_utf8(arg, &len);

		if (len > 0 && s[0] == '$')
			return AggExprFail(p->error, get ? 5654602 : 4161108,
							   "A string that represents a field path ($) is not allowed in %s's 'field' argument. Consider using {$literal: '%s'}",
							   opname, s);
	}
	if (field->kind != AGG_EXPR_CONST)
	{
		/* {$literal: ...} and {$const: ...} parse to a node holding their constant */
		if (field->kind == AGG_EXPR_OP && field->nargs == 0 &&
			(strcmp(field->op->name, "$literal") == 0 || strcmp(field->op->name, "$const") == 0))
			;
		else if (field->kind == AGG_EXPR_OBJECT && field->nargs == 0)
			return AggExprFail(p->error, get ? 3041704 : 4161107,
							   "%s requires 'field' to evaluate to type String, but got object",
							   opname);
		else
			return AggExprFail(p->error, get ? 5654601 : 4161106,
							   "%s requires 'field' to evaluate to a constant, but got a non-constant argument",
							   opname);
	}
	return true;
}

/* The constant string of a checked 'field' argument */
static bool
AggFieldArgValue(AggExprParser *p, const char *opname, AggExpr *field, bool get)
{
	bson_value_t v;

	if (field->kind == AGG_EXPR_CONST)
		v = field->value;
	else
	{
		/* $literal: its constant, in the tree's arena */
		v = *(const bson_value_t *) field->data;
		field->kind = AGG_EXPR_CONST;
		field->value = v;
	}
	if (v.value_type != BSON_TYPE_UTF8)
		return AggExprFail(p->error, get ? 3041704 : 4161107,
						   "%s requires 'field' to evaluate to type String, but got %s",
						   opname, AggTypeName(&v));
	if (strlen(v.value.v_utf8.str) != v.value.v_utf8.len)
		return AggExprFail(p->error, 9534700,
						   "%s: 'field' cannot contain an embedded null byte", opname);
	return true;
}

static bool
AggGetFieldParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	bson_iter_t it;
	bson_iter_t field_it;
	bool		have_field = false;

	e->nargs = 2;
	e->args = AggParseAlloc(p, sizeof(AggExpr *) * 2);
	if (!BSON_ITER_HOLDS_DOCUMENT(arg) ||
		(bson_iter_recurse(arg, &it) && bson_iter_next(&it) && bson_iter_key(&it)[0] == '$'))
	{
		/* the shorthand: {$getField: <field>} of $$CURRENT */
		if ((e->args[0] = AggExprParseSub(p, arg)) == NULL)
			return false;
		if (!AggFieldArgCheck(p, "$getField", arg, e->args[0], true) ||
			!AggFieldArgValue(p, "$getField", e->args[0], true))
			return false;
		e->args[1] = NULL;
		return true;
	}
	bson_iter_recurse(arg, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);

		if (strcmp(key, "field") == 0)
		{
			field_it = it;
			have_field = true;
			if ((e->args[0] = AggExprParseSub(p, &it)) == NULL)
				return false;
		}
		else if (strcmp(key, "input") == 0)
		{
			if ((e->args[1] = AggExprParseSub(p, &it)) == NULL)
				return false;
		}
		else
			return AggExprFail(p->error, 3041701, "$getField found an unknown argument: %s", key);
	}
	if (!have_field)
		return AggExprFail(p->error, 3041702, "$getField requires 'field' to be specified");
	if (e->args[1] == NULL)
		return AggExprFail(p->error, 3041703, "$getField requires 'input' to be specified");
	return AggFieldArgCheck(p, "$getField", &field_it, e->args[0], true) &&
		AggFieldArgValue(p, "$getField", e->args[0], true);
}

/* The value of a field of a document value; EOD when absent */
static void
AggLookupField(const bson_value_t *doc, const char *key, uint32_t keylen, bson_value_t *out)
{
	bson_iter_t it;

	out->value_type = BSON_TYPE_EOD;
	if (!bson_iter_init_from_data(&it, doc->value.v_doc.data, doc->value.v_doc.data_len))
		return;
	while (bson_iter_next(&it))
		if (bson_iter_key_len(&it) == keylen && memcmp(bson_iter_key(&it), key, keylen) == 0)
		{
			*out = *bson_iter_value(&it);
			return;
		}
}

static bool
AggGetField(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t input;
	const bson_value_t *field = &e->args[0]->value;

	if (e->args[1] == NULL)
	{
		const uint8_t *current = cx->current != NULL ? cx->current : cx->root;

		if (current == NULL)
		{
			out->value_type = BSON_TYPE_EOD;
			return true;
		}
		input.value_type = BSON_TYPE_DOCUMENT;
		input.value.v_doc.data = (uint8_t *) current;
		input.value.v_doc.data_len = cx->current != NULL ? cx->current_len : cx->root_len;
	}
	else if (!AggEvalArg(e, 1, cx, &input, error))
		return false;
	if (input.value_type == BSON_TYPE_NULL || input.value_type == BSON_TYPE_UNDEFINED)
	{
		AggSetNull(out);
		return true;
	}
	if (input.value_type != BSON_TYPE_DOCUMENT)
	{
		out->value_type = BSON_TYPE_EOD;
		return true;
	}
	AggLookupField(&input, field->value.v_utf8.str, field->value.v_utf8.len, out);
	return true;
}

/* $setField: {field, input, value}; $unsetField: {field, input} */
static bool
AggSetFieldParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	bool		unset = strcmp(e->op->name, "$unsetField") == 0;
	const char *opname = e->op->name;
	bson_iter_t it;
	bson_iter_t field_it;

	if (!BSON_ITER_HOLDS_DOCUMENT(arg))
		return AggExprFail(p->error, 4161100, "%s only supports an object as its argument",
						   opname);
	e->nargs = FIELD_NARGS;
	e->args = AggParseAlloc(p, sizeof(AggExpr *) * FIELD_NARGS);
	bson_iter_recurse(arg, &it);
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);
		int			i;

		if (strcmp(key, "field") == 0)
		{
			i = FIELD_FIELD;
			field_it = it;
		}
		else if (strcmp(key, "input") == 0)
			i = FIELD_INPUT;
		else if (strcmp(key, "value") == 0 && !unset)
			i = FIELD_VALUE;
		else
			return AggExprFail(p->error, 4161101, "%s found an unknown argument: %s",
							   opname, key);
		if ((e->args[i] = AggExprParseSub(p, &it)) == NULL)
			return false;
	}
	if (e->args[FIELD_FIELD] == NULL)
		return AggExprFail(p->error, 4161102, "%s requires 'field' to be specified", opname);
	if (e->args[FIELD_VALUE] == NULL && !unset)
		return AggExprFail(p->error, 4161103, "%s requires 'value' to be specified", opname);
	if (e->args[FIELD_INPUT] == NULL)
		return AggExprFail(p->error, 4161109, "%s requires 'input' to be specified", opname);
	return AggFieldArgCheck(p, opname, &field_it, e->args[FIELD_FIELD], false) &&
		AggFieldArgValue(p, opname, e->args[FIELD_FIELD], false);
}

static bool
AggSetField(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	const bson_value_t *field = &e->args[FIELD_FIELD]->value;
	bson_value_t input;
	bson_value_t value;
	AggFieldList list = {0};

	if (!AggEvalArg(e, FIELD_INPUT, cx, &input, error))
		return false;
	value.value_type = BSON_TYPE_EOD;
	if (e->args[FIELD_VALUE] != NULL && !AggEvalArg(e, FIELD_VALUE, cx, &value, error))
		return false;
	if (AggValueNullish(&input))
	{
		AggSetNull(out);
		return true;
	}
	if (input.value_type != BSON_TYPE_DOCUMENT)
		return AggExprFail(error, 4161105,
						   "%s requires 'input' to evaluate to type Object", e->op->name);
	AggFieldSetAll(&list, &input);
	AggFieldSet(&list, field->value.v_utf8.str, field->value.v_utf8.len, &value);
	AggFieldFinish(cx, &list, out);
	return true;
}

/* ---- $objectToArray, $arrayToObject ---- */

static bool
AggObjectToArray(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t v;
	bson_iter_t it;
	bson_t		arr = BSON_INITIALIZER;
	int			n = 0;

	if (!AggEvalArg(e, 0, cx, &v, error))
		return false;
	if (AggValueNullish(&v))
	{
		AggSetNull(out);
		return true;
	}
	if (v.value_type != BSON_TYPE_DOCUMENT)
		return AggExprFail(error, 40390, "$objectToArray requires a document input, found: %s",
						   AggTypeName(&v));
	if (bson_iter_init_from_data(&it, v.value.v_doc.data, v.value.v_doc.data_len))
		while (bson_iter_next(&it))
		{
			bson_t		pair;
			char		key[16];

			snprintf(key, sizeof(key), "%d", n++);
			bson_append_document_begin(&arr, key, -1, &pair);
			bson_append_utf8(&pair, "k", 1, bson_iter_key(&it), (int) bson_iter_key_len(&it));
			bson_append_value(&pair, "v", 1, bson_iter_value(&it));
			bson_append_document_end(&arr, &pair);
		}
	AggSetFromBson(cx, out, &arr, true);
	bson_destroy(&arr);
	return true;
}

/* One [k, v] or {k, v} element of $arrayToObject's input */
static bool
AggArrayToObjectPair(const bson_value_t *elem, bool arrays, const char **key, uint32_t *keylen,
					 bson_value_t *value, BsonQueryError *error)
{
	bson_iter_t it;
	bson_value_t k = {0};
	int			n = 0;

	k.value_type = BSON_TYPE_EOD;
	value->value_type = BSON_TYPE_EOD;
	if (arrays)
	{
		if (elem->value_type != BSON_TYPE_ARRAY)
			return AggExprFail(error, 40396,
							   "$arrayToObject requires a consistent input format. Elements must all be arrays or all be objects. Object found: %s",
							   AggTypeName(elem));
		bson_iter_init_from_data(&it, elem->value.v_doc.data, elem->value.v_doc.data_len);
		while (bson_iter_next(&it))
		{
			if (n == 0)
				k = *bson_iter_value(&it);
			else if (n == 1)
				*value = *bson_iter_value(&it);
			n++;
		}
		if (n != 2)
			return AggExprFail(error, 40397,
							   "$arrayToObject requires an array of size 2 arrays,found array of size: %d", n);
		if (k.value_type != BSON_TYPE_UTF8)
			return AggExprFail(error, 40395,
							   "$arrayToObject requires an array of key-value pairs, where the key must be of type string. Found key type: %s",
							   AggTypeName(&k));
	}
	else
	{
		if (elem->value_type != BSON_TYPE_DOCUMENT)
			return AggExprFail(error, 40391,
							   "$arrayToObject requires a consistent input format. Elements must all be arrays or all be objects. Array found: %s",
							   AggTypeName(elem));
		bson_iter_init_from_data(&it, elem->value.v_doc.data, elem->value.v_doc.data_len);
		while (bson_iter_next(&it))
		{
			if (strcmp(bson_iter_key(&it), "k") == 0)
				k = *bson_iter_value(&it);
			else if (strcmp(bson_iter_key(&it), "v") == 0)
				*value = *bson_iter_value(&it);
			n++;
		}
		if (n != 2)
			return AggExprFail(error, 40392,
							   "$arrayToObject requires an object keys of 'k' and 'v'. Found incorrect number of keys:%d", n);
		if (k.value_type == BSON_TYPE_EOD || value->value_type == BSON_TYPE_EOD)
			return AggExprFail(error, 40393,
							   "$arrayToObject requires an object with keys 'k' and 'v'. Missing either or both keys");
		if (k.value_type != BSON_TYPE_UTF8)
			return AggExprFail(error, 40394,
							   "$arrayToObject requires an object with keys 'k' and 'v', where the value of 'k' must be of type string. Found type: %s",
							   AggTypeName(&k));
	}
	if (strlen(k.value.v_utf8.str) != k.value.v_utf8.len)
		return AggExprFail(error, arrays ? 4940400 : 4940401,
						   "Key field cannot contain an embedded null byte");
	*key = k.value.v_utf8.str;
	*keylen = k.value.v_utf8.len;
	return true;
}

static bool
AggArrayToObject(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t v;
	bson_iter_t it;
	AggFieldList list = {0};
	bool		first = true;
	bool		arrays = false;

	if (!AggEvalArg(e, 0, cx, &v, error))
		return false;
	if (AggValueNullish(&v))
	{
		AggSetNull(out);
		return true;
	}
	if (v.value_type != BSON_TYPE_ARRAY)
		return AggExprFail(error, 40386, "$arrayToObject requires an array input, found: %s",
						   AggTypeName(&v));
	if (bson_iter_init_from_data(&it, v.value.v_doc.data, v.value.v_doc.data_len))
		while (bson_iter_next(&it))
		{
			const bson_value_t *elem = bson_iter_value(&it);
			const char *key = NULL;
			uint32_t	keylen = 0;
			bson_value_t value;

			if (first)
			{
				if (elem->value_type != BSON_TYPE_ARRAY && elem->value_type != BSON_TYPE_DOCUMENT)
					return AggExprFail(error, 40398,
									   "Unrecognised input type format for $arrayToObject: %s",
									   AggTypeName(elem));
				arrays = elem->value_type == BSON_TYPE_ARRAY;
				first = false;
			}
			if (!AggArrayToObjectPair(elem, arrays, &key, &keylen, &value, error))
			{
				if (list.fields != NULL)
					pfree(list.fields);
				return false;
			}
			AggFieldSet(&list, key, keylen, &value);
		}
	AggFieldFinish(cx, &list, out);
	return true;
}

/* ---- $meta ---- */

/*
 * The metadata of the document being evaluated ({name: value}), set by the
 * pipeline's streaming stages around their evaluation (agg_stages.c), NULL
 * elsewhere.
 */
static const uint8_t *agg_meta;
static uint32_t agg_meta_len;

void
AggExprSetMeta(const uint8_t *meta, uint32_t len)
{
	agg_meta = meta;
	agg_meta_len = len;
}

/* The metadata names MongoDB knows, and whether a missing one is an error */
typedef struct AggMetaName
{
	const char *name;
	bool		required;		/* 40218 when the document has none */
} AggMetaName;

static const AggMetaName agg_meta_names[] = {
	{"textScore", true}, {"randVal", false}, {"searchScore", false},
	{"searchHighlights", false}, {"geoNearDistance", true}, {"geoNearPoint", true},
	{"recordId", false}, {"indexKey", false}, {"sortKey", false},
	{"searchScoreDetails", false}, {"searchSequenceToken", false},
	{"vectorSearchScore", false}, {"score", true}, {"scoreDetails", true},
	{"timeseriesBucketMinTime", false}, {"timeseriesBucketMaxTime", false},
	{"changeStreamControlEvent", false}
};

/* {$meta: "name"} */
static bool
AggMetaParse(AggExprParser *p, AggExpr *e, const bson_iter_t *arg)
{
	const char *name;

	if (!BSON_ITER_HOLDS_UTF8(arg))
		return AggExprFail(p->error, 17307, "$meta only supports string arguments");
	name = bson_iter_utf8(arg, NULL);
	for (size_t i = 0; i < lengthof(agg_meta_names); i++)
		if (strcmp(name, agg_meta_names[i].name) == 0)
		{
			e->data = (void *) &agg_meta_names[i];
			e->value.value_type = BSON_TYPE_UTF8;
			e->value.value.v_utf8.str = (char *) agg_meta_names[i].name;
			e->value.value.v_utf8.len = strlen(agg_meta_names[i].name);
			return true;
		}
	return AggExprFail(p->error, 17308, "Unsupported argument to $meta: %s", name);
}

static bool
AggMeta(const AggExpr *e, AggExprContext *cx, bson_value_t *out, BsonQueryError *error)
{
	bson_value_t meta;

	(void) cx;
	out->value_type = BSON_TYPE_EOD;
	if (agg_meta != NULL)
	{
		meta.value_type = BSON_TYPE_DOCUMENT;
		meta.value.v_doc.data = (uint8_t *) agg_meta;
		meta.value.v_doc.data_len = agg_meta_len;
		AggLookupField(&meta, e->value.value.v_utf8.str, e->value.value.v_utf8.len, out);
	}
	if (out->value_type == BSON_TYPE_EOD && ((const AggMetaName *) e->data)->required)
		return AggExprFail(error, 40218, "query requires %s metadata, but it is not available",
						   e->value.value.v_utf8.str);
	return true;
}

const AggExprOp AggExprOpsObject[] = {
	{"$mergeObjects", AggMergeObjects, NULL, 0, -1},
	{"$getField", AggGetField, AggGetFieldParse, 0, 0},
	{"$setField", AggSetField, AggSetFieldParse, 0, 0},
	{"$unsetField", AggSetField, AggSetFieldParse, 0, 0},
	{"$objectToArray", AggObjectToArray, NULL, 1, 1},
	{"$arrayToObject", AggArrayToObject, NULL, 1, 1},
	{"$meta", AggMeta, AggMetaParse, 0, 0},
	{NULL}
};
