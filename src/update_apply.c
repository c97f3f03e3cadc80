/*-------------------------------------------------------------------------
 *
 * update_apply.c
 *	  Applying a compiled MongoDB update to a document.
 *
 * Design note
 * -----------
 * The document is loaded into a mutable tree of values (UpdateValue), but
 * lazily: a value keeps pointing at its bytes in the input until an update
 * path descends into it, and only then are its members listed.  Untouched
 * subdocuments are copied back byte for byte when the result is written.
 *
 * The update tree (update_internal.h) is walked against the document tree
 * as MongoDB walks its UpdateNodes:
 *
 *	- An object node looks up each child by field name (in a document) or
 *	  by index (in an array; a field name that is not a number cannot be
 *	  created there: PathNotViable, 28).  A missing member is created as an
 *	  empty document when the path below it creates something; an index
 *	  past the end of an array pads it with nulls.  A scalar in the way
 *	  cannot hold the path below it (PathNotViable), unless the operators
 *	  below never create anything ($unset, $pop, $pull...): then nothing
 *	  happens.
 *	- The positional child "$" takes the index the query matched, and is
 *	  merged with a named child of the same index; two leaves meeting on
 *	  one element conflict (40), as in MongoDB.
 *	- An array node applies each of its "$[]" and "$[identifier]" children
 *	  to every element they select; an array filter selects an element
 *	  when it matches the document {identifier: element}.
 *	- A leaf applies its operator to the member it names, present or not.
 *
 * Whether the update modified the document is decided at the end, by
 * comparing the bytes of the result with those of the input: that is
 * MongoDB's rule (a field set to an identical value of the same type does
 * not count), and it needs no bookkeeping in the operators.
 *
 * Everything allocated while applying comes from an arena released before
 * returning; errors are MongoDB's, reported through BsonQueryError.
 *
 * IDENTIFICATION
 *	  src/update_apply.c
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include <math.h>

#include "common/int.h"
#include "lib/stringinfo.h"

#include "bson_compare.h"
#include "bson_decimal.h"
#include "bson_json.h"
#include "pure.h"
#include "update_internal.h"

/* A value of the document being updated */
typedef struct UpdateValue
{
	const char *key;			/* name of a document's member */
	bool		expanded;		/* a document or array with items listed */
	bson_type_t type;			/* when expanded */
	bson_value_t value;			/* when not expanded */
	int			n;				/* when expanded: the members */
	int			max;
	struct UpdateValue **items;
} UpdateValue;

/* Where an operator acts: a member of a document or array, maybe missing */
typedef struct UpdateSlot
{
	UpdateValue *parent;		/* an expanded document or array */
	int			index;			/* of the member, -1 when missing */
	const char *name;			/* the member's field name (documents) */
	int64_t		array_index;	/* the member's index (arrays) */
} UpdateSlot;

/* State of one application */
typedef struct UpdateApplier
{
	const BsonUpdate *u;
	int32_t		position;
	bool		is_insert;
	int64_t		now_ms;
	BsonQueryError *error;
	UpdateArena arena;
	UpdateValue *root;
	int			array_depth;	/* arrays entered on the way down */
	int			depth;
	const char *path[UPDATE_MAX_DEPTH + 2]; /* components on the way down */
} UpdateApplier;

static bool UpdateApplyNode(UpdateApplier *a, const UpdateNode *node,
							UpdateSlot *slot);


/* ----------------------------------------------------------------
 *		The document tree
 * ----------------------------------------------------------------
 */

/*
 * UpdateNewValue
 *		A value node for a BSON value (not copied: it must outlive the
 *		application, as the input document and the update do).
 */
static UpdateValue *
UpdateNewValue(UpdateApplier *a, const bson_value_t *value)
{
	UpdateValue *v = UpdateAlloc(&a->arena, sizeof(UpdateValue));

	v->value = *value;
	return v;
}

/*
 * UpdateNewContainer
 *		An empty, expanded document or array.
 */
static UpdateValue *
UpdateNewContainer(UpdateApplier *a, bson_type_t type)
{
	UpdateValue *v = UpdateAlloc(&a->arena, sizeof(UpdateValue));

	v->expanded = true;
	v->type = type;
	return v;
}

/*
 * UpdateValueType
 *		The BSON type of a value node.
 */
static inline bson_type_t
UpdateValueType(const UpdateValue *v)
{
	return v->expanded ? v->type : v->value.value_type;
}

/*
 * UpdateIsContainer
 *		Whether a value node is a document or an array.
 */
static inline bool
UpdateIsContainer(const UpdateValue *v)
{
	bson_type_t t = UpdateValueType(v);

	return t == BSON_TYPE_DOCUMENT || t == BSON_TYPE_ARRAY;
}

/*
 * UpdateReserve
 *		Room for one more member in an expanded container.
 */
static void
UpdateReserve(UpdateApplier *a, UpdateValue *v, int extra)
{
	if (v->n + extra > v->max)
	{
		int			newmax = Max(v->n + extra, Max(8, v->max * 2));
		UpdateValue **items = UpdateAlloc(&a->arena, newmax * sizeof(UpdateValue *));

		if (v->n > 0)
			memcpy(items, v->items, v->n * sizeof(UpdateValue *));
		v->items = items;
		v->max = newmax;
	}
}

/*
 * UpdateInsertItem
 *		Insert a member at a position of an expanded container.
 */
static void
UpdateInsertItem(UpdateApplier *a, UpdateValue *parent, int pos, UpdateValue *item)
{
	UpdateReserve(a, parent, 1);
	memmove(&parent->items[pos + 1], &parent->items[pos],
			(parent->n - pos) * sizeof(UpdateValue *));
	parent->items[pos] = item;
	parent->n++;
}

/*
 * UpdateRemoveItem
 *		Remove the member at a position of an expanded container.
 */
static void
UpdateRemoveItem(UpdateValue *parent, int pos)
{
	memmove(&parent->items[pos], &parent->items[pos + 1],
			(parent->n - pos - 1) * sizeof(UpdateValue *));
	parent->n--;
}

/*
 * UpdateExpand
 *		List the members of a document or array value from its bytes.
 */
static void
UpdateExpand(UpdateApplier *a, UpdateValue *v)
{
	bson_t		doc;
	bson_iter_t it;
	bson_type_t type = v->value.value_type;

	if (v->expanded)
		return;
	Assert(type == BSON_TYPE_DOCUMENT || type == BSON_TYPE_ARRAY);
	v->expanded = true;
	v->type = type;
	v->n = 0;
	if (!bson_init_static(&doc, v->value.value.v_doc.data,
						  v->value.value.v_doc.data_len) ||
		!bson_iter_init(&it, &doc))
		return;
	while (bson_iter_next(&it))
	{
		UpdateValue *item = UpdateNewValue(a, bson_iter_value(&it));

		item->key = bson_iter_key(&it);
		UpdateReserve(a, v, 1);
		v->items[v->n++] = item;
	}
}

/*
 * UpdateFindKey
 *		The position of a document's member, or -1.
 */
static int
UpdateFindKey(const UpdateValue *doc, const char *name)
{
	for (int i = 0; i < doc->n; i++)
	{
		if (strcmp(doc->items[i]->key, name) == 0)
			return i;
	}
	return -1;
}

/*
 * UpdateWrite
 *		Append a value node to a BSON document under a key.
 */
static void
UpdateWrite(bson_t *out, const char *key, const UpdateValue *v)
{
	PURE_CHECK_STACK();

	if (!v->expanded)
	{
		bson_append_value(out, key, -1, &v->value);
		return;
	}
	if (v->type == BSON_TYPE_ARRAY)
	{
		bson_t		child;

		bson_append_array_begin(out, key, -1, &child);
		for (int i = 0; i < v->n; i++)
		{
			char		buf[16];
			const char *ikey;

			bson_uint32_to_string(i, &ikey, buf, sizeof(buf));
			UpdateWrite(&child, ikey, v->items[i]);
		}
		bson_append_array_end(out, &child);
	}
	else
	{
		bson_t		child;

		bson_append_document_begin(out, key, -1, &child);
		for (int i = 0; i < v->n; i++)
			UpdateWrite(&child, v->items[i]->key, v->items[i]);
		bson_append_document_end(out, &child);
	}
}

/*
 * UpdateValueIter
 *		An iterator on a value node, through the temporary document
 *		{"": value} (bson_destroy *tmp afterwards).
 */
static void
UpdateValueIter(const UpdateValue *v, bson_t *tmp, bson_iter_t *it)
{
	bson_init(tmp);
	UpdateWrite(tmp, "", v);
	bson_iter_init(it, tmp);
	bson_iter_next(it);
}

/*
 * UpdateBsonValueIter
 *		The same for a plain BSON value.
 */
static void
UpdateBsonValueIter(const bson_value_t *v, bson_t *tmp, bson_iter_t *it)
{
	bson_init(tmp);
	bson_append_value(tmp, "", 0, v);
	bson_iter_init(it, tmp);
	bson_iter_next(it);
}

/*
 * UpdateCompareValue
 *		MongoDB's comparison of a value node with a BSON value, strings
 *		under a collation (NULL: simple).
 */
static int
UpdateCompareValue(const UpdateValue *x, const bson_value_t *y,
				   const BsonCollation *collation)
{
	bson_t		tx,
				ty;
	bson_iter_t ix,
				iy;
	int			cmp;

	UpdateValueIter(x, &tx, &ix);
	UpdateBsonValueIter(y, &ty, &iy);
	cmp = BsonCompareValuesCollated(&ix, &iy, collation);
	bson_destroy(&tx);
	bson_destroy(&ty);
	return cmp;
}

/*
 * UpdatePathText
 *		The dotted path of the current position, plus one more component
 *		(NULL for none), for messages (in the arena).
 */
static char *
UpdatePathText(UpdateApplier *a, const char *last)
{
	StringInfoData buf;
	char	   *copy;

	initStringInfo(&buf);
	for (int i = 0; i < a->depth; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? "." : "", a->path[i]);
	if (last != NULL)
		appendStringInfo(&buf, "%s%s", a->depth > 0 ? "." : "", last);
	copy = UpdateAlloc(&a->arena, buf.len + 1);
	memcpy(copy, buf.data, buf.len + 1);
	pfree(buf.data);
	return copy;
}

/*
 * UpdateValueText
 *		The Extended JSON text of a value node, for messages (in the arena).
 */
static char *
UpdateValueText(UpdateApplier *a, const UpdateValue *v)
{
	bson_t		tmp;
	bson_iter_t it;
	StringInfoData buf;
	char	   *copy;

	UpdateValueIter(v, &tmp, &it);
	initStringInfo(&buf);
	BsonPrintValue(&buf, &it, BSON_JSON_RELAXED);
	bson_destroy(&tmp);
	copy = UpdateAlloc(&a->arena, buf.len + 1);
	memcpy(copy, buf.data, buf.len + 1);
	pfree(buf.data);
	return copy;
}

/*
 * UpdateIndexName
 *		The decimal text of an array index (in the arena).
 */
static const char *
UpdateIndexName(UpdateApplier *a, int64_t index)
{
	char	   *name = UpdateAlloc(&a->arena, 24);

	snprintf(name, 24, INT64_FORMAT, index);
	return name;
}


/* ----------------------------------------------------------------
 *		Slots
 * ----------------------------------------------------------------
 */

/*
 * UpdateSlotGet
 *		The member a slot names, or NULL when it is missing.
 */
static inline UpdateValue *
UpdateSlotGet(const UpdateSlot *slot)
{
	return slot->index >= 0 ? slot->parent->items[slot->index] : NULL;
}

/*
 * UpdateSlotPut
 *		Store a value in a slot: replace the member, or create it (an array
 *		is padded with nulls up to the index).
 */
static bool
UpdateSlotPut(UpdateApplier *a, UpdateSlot *slot, UpdateValue *v)
{
	UpdateValue *parent = slot->parent;

	if (slot->index >= 0)
	{
		v->key = parent->items[slot->index]->key;
		parent->items[slot->index] = v;
		return true;
	}
	if (parent->type == BSON_TYPE_ARRAY)
	{
		bson_value_t null_value;

		if (slot->array_index > UPDATE_MAX_PAD_INDEX)
			return UpdateFail(a->error, MONGO_BAD_VALUE,
							  "can't backfill array to larger than %d elements",
							  UPDATE_MAX_PAD_INDEX);
		null_value.value_type = BSON_TYPE_NULL;
		UpdateReserve(a, parent, (int) (slot->array_index - parent->n + 1));
		while (parent->n < slot->array_index)
			parent->items[parent->n++] = UpdateNewValue(a, &null_value);
		slot->index = parent->n;
		parent->items[parent->n++] = v;
		return true;
	}
	v->key = slot->name;
	slot->index = parent->n;
	UpdateInsertItem(a, parent, parent->n, v);
	return true;
}

/*
 * UpdateSlotPutValue
 *		UpdateSlotPut of a plain BSON value.
 */
static bool
UpdateSlotPutValue(UpdateApplier *a, UpdateSlot *slot, const bson_value_t *value)
{
	return UpdateSlotPut(a, slot, UpdateNewValue(a, value));
}

/*
 * UpdateSlotRemove
 *		Remove a slot's member: from a document, or set to null in an array
 *		(MongoDB's $unset keeps array positions).
 */
static void
UpdateSlotRemove(UpdateApplier *a, UpdateSlot *slot)
{
	if (slot->index < 0)
		return;
	if (slot->parent->type == BSON_TYPE_ARRAY)
	{
		bson_value_t null_value;

		null_value.value_type = BSON_TYPE_NULL;
		UpdateSlotPutValue(a, slot, &null_value);
		return;
	}
	UpdateRemoveItem(slot->parent, slot->index);
	slot->index = -1;
}


/* ----------------------------------------------------------------
 *		Arithmetic
 * ----------------------------------------------------------------
 */

/*
 * UpdateIsNumberType
 *		Whether a BSON type is one of the four numeric types.
 */
static inline bool
UpdateIsNumberType(bson_type_t t)
{
	return t == BSON_TYPE_INT32 || t == BSON_TYPE_INT64 ||
		t == BSON_TYPE_DOUBLE || t == BSON_TYPE_DECIMAL128;
}

/*
 * UpdateNumberAsDouble
 *		A non-decimal number as a double.
 */
static double
UpdateNumberAsDouble(const bson_value_t *v)
{
	switch (v->value_type)
	{
		case BSON_TYPE_INT32:
			return v->value.v_int32;
		case BSON_TYPE_INT64:
			return (double) v->value.v_int64;
		default:
			return v->value.v_double;
	}
}

/*
 * UpdateNumberAsDecimal
 *		A number as MongoDB converts it for decimal arithmetic: integers
 *		exactly, doubles to 15 significant digits.
 */
static void
UpdateNumberAsDecimal(const bson_value_t *v, BsonDecimal *out)
{
	switch (v->value_type)
	{
		case BSON_TYPE_INT32:
			BsonDecimalFromInt64(v->value.v_int32, out);
			break;
		case BSON_TYPE_INT64:
			BsonDecimalFromInt64(v->value.v_int64, out);
			break;
		case BSON_TYPE_DOUBLE:
			BsonDecimalFromDouble(v->value.v_double, out);
			break;
		default:
			BsonDecodeDecimal128(&v->value.v_decimal128, out);
			break;
	}
}

/*
 * UpdateArithmetic
 *		$inc (is_mul false) or $mul of two numbers, with MongoDB's type
 *		rules: a decimal128 involved gives a decimal128 (bson_decimal.c); a
 *		double involved gives a double; two int32 give an int32, or an int64
 *		when the result does not fit; an int64 involved gives an int64, and
 *		its overflow is an error (BadValue).
 */
static bool
UpdateArithmetic(UpdateApplier *a, bool is_mul, const bson_value_t *x,
				 const bson_value_t *y, bson_value_t *result, const char *path)
{
	bson_type_t tx = x->value_type;
	bson_type_t ty = y->value_type;

	if (tx == BSON_TYPE_DECIMAL128 || ty == BSON_TYPE_DECIMAL128)
	{
		BsonDecimal dx;
		BsonDecimal dy;
		BsonDecimal dr;

		UpdateNumberAsDecimal(x, &dx);
		UpdateNumberAsDecimal(y, &dy);
		if (is_mul)
			BsonDecimalMultiply(&dx, &dy, &dr);
		else
			BsonDecimalAdd(&dx, &dy, &dr);
		result->value_type = BSON_TYPE_DECIMAL128;
		BsonEncodeDecimal128(&dr, &result->value.v_decimal128);
		return true;
	}
	if (tx == BSON_TYPE_DOUBLE || ty == BSON_TYPE_DOUBLE)
	{
		double		dx = UpdateNumberAsDouble(x);
		double		dy = UpdateNumberAsDouble(y);

		result->value_type = BSON_TYPE_DOUBLE;
		result->value.v_double = is_mul ? dx * dy : dx + dy;
		return true;
	}
	else
	{
		int64_t		ix = tx == BSON_TYPE_INT32 ? x->value.v_int32 : x->value.v_int64;
		int64_t		iy = ty == BSON_TYPE_INT32 ? y->value.v_int32 : y->value.v_int64;
		int64_t		r;
		bool		overflow;

		overflow = is_mul ? pg_mul_s64_overflow(ix, iy, &r) :
			pg_add_s64_overflow(ix, iy, &r);
		if (overflow)
			return UpdateFail(a->error, MONGO_BAD_VALUE,
							  "Failed to apply %s operations to current value (" INT64_FORMAT ") for the field '%s'",
							  is_mul ? "$mul" : "$inc", ix, path);
		if (tx == BSON_TYPE_INT32 && ty == BSON_TYPE_INT32 &&
			r >= PG_INT32_MIN && r <= PG_INT32_MAX)
		{
			result->value_type = BSON_TYPE_INT32;
			result->value.v_int32 = (int32_t) r;
		}
		else
		{
			result->value_type = BSON_TYPE_INT64;
			result->value.v_int64 = r;
		}
		return true;
	}
}


/*
 * UpdateNumbersIdentical
 *		Whether an arithmetic result is "identical" to the value it
 *		replaces, in which case MongoDB leaves the value alone: the same
 *		type and an equal value (so -0.0 + 0.0 keeps -0.0, and
 *		NumberDecimal("1") + NumberDecimal("0.00") keeps 1 rather than
 *		1.00; a NaN result always replaces).
 */
static bool
UpdateNumbersIdentical(const bson_value_t *x, const bson_value_t *y)
{
	if (x->value_type != y->value_type)
		return false;
	switch (x->value_type)
	{
		case BSON_TYPE_INT32:
			return x->value.v_int32 == y->value.v_int32;
		case BSON_TYPE_INT64:
			return x->value.v_int64 == y->value.v_int64;
		case BSON_TYPE_DOUBLE:
			return x->value.v_double == y->value.v_double;
		case BSON_TYPE_DECIMAL128:
			{
				BsonDecimal dx;
				BsonDecimal dy;

				BsonDecodeDecimal128(&x->value.v_decimal128, &dx);
				BsonDecodeDecimal128(&y->value.v_decimal128, &dy);
				return BsonDecimalEqual(&dx, &dy);
			}
		default:
			return false;
	}
}


/* ----------------------------------------------------------------
 *		Array operators
 * ----------------------------------------------------------------
 */

/* One element being sorted by $push's $sort, with its sort keys */
typedef struct UpdateSortItem
{
	UpdateValue *value;
	bson_t	   *keys;			/* {"": value} or the pattern's values; a
								 * bson_t from bson_new, which is aligned as
								 * bson_t must be (palloc'd structs are not) */
} UpdateSortItem;

/*
 * UpdateSortKeys
 *		The document of sort keys of an element: the element itself, or
 *		for a pattern the value of each of its paths in the element (null
 *		when missing or when the element is not a document).  keys is an
 *		empty bson_t from bson_new: bson_init on it would mark the heap
 *		struct static, and bson_destroy would then leak it.
 */
static void
UpdateSortKeys(const UpdateLeaf *leaf, const UpdateValue *v, bson_t *keys)
{
	bson_t		pattern;
	bson_iter_t pit;
	bson_t		elem;
	bool		is_doc;

	if (leaf->sort == UPDATE_SORT_VALUE)
	{
		UpdateWrite(keys, "", v);
		return;
	}

	bson_init(&elem);
	UpdateWrite(&elem, "", v);
	is_doc = (UpdateValueType(v) == BSON_TYPE_DOCUMENT);
	bson_init_static(&pattern, leaf->sort_pattern, leaf->sort_pattern_len);
	bson_iter_init(&pit, &pattern);
	while (bson_iter_next(&pit))
	{
		bson_iter_t it;
		bson_iter_t found;
		bool		ok = false;

		if (is_doc && bson_iter_init(&it, &elem) && bson_iter_next(&it) &&
			bson_iter_recurse(&it, &found))
		{
			/* the pattern's path, below the element */
			ok = bson_iter_find_descendant(&found, bson_iter_key(&pit), &it);
			if (ok)
				found = it;
		}
		if (ok)
			bson_append_iter(keys, "", 0, &found);
		else
			bson_append_null(keys, "", 0);
	}
	bson_destroy(&elem);
}

/*
 * UpdateSortCompare
 *		Order of two elements under $push's $sort.
 */
static int
UpdateSortCompare(const UpdateLeaf *leaf, const UpdateSortItem *x, const UpdateSortItem *y,
				  const BsonCollation *collation)
{
	bson_iter_t ix,
				iy,
				pit;
	bson_t		pattern;

	bson_iter_init(&ix, x->keys);
	bson_iter_init(&iy, y->keys);
	if (leaf->sort == UPDATE_SORT_PATTERN)
	{
		bson_init_static(&pattern, leaf->sort_pattern, leaf->sort_pattern_len);
		bson_iter_init(&pit, &pattern);
	}
	while (bson_iter_next(&ix) && bson_iter_next(&iy))
	{
		int			direction = leaf->sort_direction;
		int			cmp;

		if (leaf->sort == UPDATE_SORT_PATTERN)
		{
			int64_t		d = 1;

			bson_iter_next(&pit);
			if (BSON_ITER_HOLDS_INT32(&pit))
				d = bson_iter_int32(&pit);
			else if (BSON_ITER_HOLDS_INT64(&pit))
				d = bson_iter_int64(&pit);
			else if (BSON_ITER_HOLDS_DOUBLE(&pit))
				d = bson_iter_double(&pit) < 0 ? -1 : 1;
			else if (BSON_ITER_HOLDS_DECIMAL128(&pit))
			{
				bson_decimal128_t dec;
				BsonDecimal decoded;

				bson_iter_decimal128(&pit, &dec);
				BsonDecodeDecimal128(&dec, &decoded);
				d = decoded.negative ? -1 : 1;
			}
			direction = d < 0 ? -1 : 1;
		}
		cmp = BsonCompareValuesCollated(&ix, &iy, collation);
		if (cmp != 0)
			return cmp * direction;
	}
	return 0;
}

/*
 * UpdateSortArray
 *		Stable sort of an expanded array by $push's $sort (a merge sort).
 */
static void
UpdateSortArray(UpdateApplier *a, const UpdateLeaf *leaf, UpdateValue *array)
{
	int			n = array->n;
	UpdateSortItem *items;
	UpdateSortItem *tmp;

	if (n < 2)
		return;
	items = palloc(n * sizeof(UpdateSortItem));
	tmp = palloc(n * sizeof(UpdateSortItem));
	for (int i = 0; i < n; i++)
	{
		items[i].value = array->items[i];
		items[i].keys = bson_new();
		UpdateSortKeys(leaf, array->items[i], items[i].keys);
	}

	/* bottom-up merge sort: stable, n log n comparisons */
	for (int width = 1; width < n; width *= 2)
	{
		for (int lo = 0; lo < n; lo += 2 * width)
		{
			int			mid = Min(lo + width, n);
			int			hi = Min(lo + 2 * width, n);
			int			i = lo,
						j = mid,
						k = lo;

			while (i < mid && j < hi)
			{
				if (UpdateSortCompare(leaf, &items[j], &items[i], a->u->collation) < 0)
					tmp[k++] = items[j++];
				else
					tmp[k++] = items[i++];
			}
			while (i < mid)
				tmp[k++] = items[i++];
			while (j < hi)
				tmp[k++] = items[j++];
		}
		memcpy(items, tmp, n * sizeof(UpdateSortItem));
	}

	for (int i = 0; i < n; i++)
	{
		array->items[i] = items[i].value;
		bson_destroy(items[i].keys);	/* from bson_new: frees the struct too */
	}
	pfree(items);
	pfree(tmp);
}

/*
 * UpdatePush
 *		$push: insert the values at $position (default: the end), then
 *		$sort, then $slice.
 */
static bool
UpdatePush(UpdateApplier *a, const UpdateLeaf *leaf, UpdateSlot *slot)
{
	UpdateValue *array = UpdateSlotGet(slot);
	int64_t		pos;

	if (array == NULL)
	{
		array = UpdateNewContainer(a, BSON_TYPE_ARRAY);
		if (!UpdateSlotPut(a, slot, array))
			return false;
	}
	else if (UpdateValueType(array) != BSON_TYPE_ARRAY)
		return UpdateFail(a->error, MONGO_BAD_VALUE,
						  "The field '%s' must be an array but is of type %s",
						  UpdatePathText(a, NULL),
						  BsonTypeName(UpdateValueType(array)));
	UpdateExpand(a, array);

	pos = array->n;
	if (leaf->has_position)
	{
		if (leaf->position >= 0)
			pos = Min(leaf->position, array->n);
		else
			pos = Max(0, array->n + leaf->position);
	}
	UpdateReserve(a, array, leaf->neach);
	for (int i = 0; i < leaf->neach; i++)
		UpdateInsertItem(a, array, (int) pos + i, UpdateNewValue(a, &leaf->each[i]));

	if (leaf->sort != UPDATE_SORT_NONE)
		UpdateSortArray(a, leaf, array);

	if (leaf->has_slice)
	{
		if (leaf->slice >= 0)
		{
			if (leaf->slice < array->n)
				array->n = (int) leaf->slice;
		}
		else if (-leaf->slice < array->n)
		{
			int			drop = array->n - (int) (-leaf->slice);

			memmove(array->items, array->items + drop,
					(array->n - drop) * sizeof(UpdateValue *));
			array->n -= drop;
		}
	}
	return true;
}

/*
 * UpdateAddToSet
 *		$addToSet: append each value not already equal to an element.
 */
static bool
UpdateAddToSet(UpdateApplier *a, const UpdateLeaf *leaf, UpdateSlot *slot)
{
	UpdateValue *array = UpdateSlotGet(slot);

	if (array == NULL)
	{
		array = UpdateNewContainer(a, BSON_TYPE_ARRAY);
		if (!UpdateSlotPut(a, slot, array))
			return false;
	}
	else if (UpdateValueType(array) != BSON_TYPE_ARRAY)
		return UpdateFail(a->error, MONGO_BAD_VALUE,
						  "Cannot apply $addToSet to non-array field. Field named '%s' has non-array type %s",
						  UpdatePathText(a, NULL),
						  BsonTypeName(UpdateValueType(array)));
	UpdateExpand(a, array);

	for (int i = 0; i < leaf->neach; i++)
	{
		bool		found = false;

		for (int j = 0; j < array->n && !found; j++)
			found = (UpdateCompareValue(array->items[j], &leaf->each[i],
										a->u->collation) == 0);
		if (!found)
			UpdateInsertItem(a, array, array->n, UpdateNewValue(a, &leaf->each[i]));
	}
	return true;
}

/*
 * UpdatePullMatches
 *		Whether $pull removes an element.
 */
static bool
UpdatePullMatches(const UpdateLeaf *leaf, const UpdateValue *v,
				  const BsonCollation *collation)
{
	bson_t		tmp;
	bool		match;

	switch (leaf->pull_kind)
	{
		case UPDATE_PULL_EQUAL:
			return UpdateCompareValue(v, &leaf->operand, collation) == 0;
		case UPDATE_PULL_OBJECT:
			if (UpdateValueType(v) != BSON_TYPE_DOCUMENT)
				return false;
			bson_init(&tmp);
			if (v->expanded)
			{
				for (int i = 0; i < v->n; i++)
					UpdateWrite(&tmp, v->items[i]->key, v->items[i]);
			}
			else
			{
				bson_destroy(&tmp);
				return BsonFilterMatches(leaf->pull_filter, v->value.value.v_doc.data,
										 v->value.value.v_doc.data_len);
			}
			break;
		case UPDATE_PULL_WRAPPED:
			bson_init(&tmp);
			UpdateWrite(&tmp, "", v);
			break;
		default:
			return false;
	}
	match = BsonFilterMatches(leaf->pull_filter, bson_get_data(&tmp), tmp.len);
	bson_destroy(&tmp);
	return match;
}

/*
 * UpdateCull
 *		$pop, $pull and $pullAll: remove elements of an existing array.
 */
static bool
UpdateCull(UpdateApplier *a, const UpdateLeaf *leaf, UpdateSlot *slot)
{
	UpdateValue *array = UpdateSlotGet(slot);
	int			kept = 0;

	if (array == NULL)
		return true;
	if (UpdateValueType(array) != BSON_TYPE_ARRAY)
	{
		if (leaf->op == UPDATE_OP_POP)
			return UpdateFail(a->error, MONGO_TYPE_MISMATCH,
							  "Path '%s' contains an element of non-array type '%s'",
							  UpdatePathText(a, NULL),
							  BsonTypeName(UpdateValueType(array)));
		return UpdateFail(a->error, MONGO_BAD_VALUE,
						  "Cannot apply %s to a non-array value",
						  leaf->op == UPDATE_OP_PULL ? "$pull" : "$pullAll");
	}
	UpdateExpand(a, array);

	if (leaf->op == UPDATE_OP_POP)
	{
		if (array->n > 0)
			UpdateRemoveItem(array, leaf->position > 0 ? array->n - 1 : 0);
		return true;
	}

	for (int i = 0; i < array->n; i++)
	{
		UpdateValue *item = array->items[i];
		bool		drop = false;

		if (leaf->op == UPDATE_OP_PULL)
			drop = UpdatePullMatches(leaf, item, a->u->collation);
		else
		{
			for (int j = 0; j < leaf->neach && !drop; j++)
				drop = (UpdateCompareValue(item, &leaf->each[j], a->u->collation) == 0);
		}
		if (!drop)
			array->items[kept++] = item;
	}
	array->n = kept;
	return true;
}


/* ----------------------------------------------------------------
 *		Leaves
 * ----------------------------------------------------------------
 */

/*
 * UpdateRename
 *		$rename, applied at the destination: move the source's value (found
 *		from the root, never through an array) to the slot.
 */
static bool
UpdateRename(UpdateApplier *a, const UpdateLeaf *leaf, UpdateSlot *slot)
{
	UpdateValue *parent = a->root;
	int			index = -1;
	bool		through_array = false;
	UpdateValue *value;

	for (int i = 0; i < leaf->nfrom; i++)
	{
		if (i > 0)
		{
			UpdateValue *cur = parent->items[index];

			if (!UpdateIsContainer(cur))
				return true;
			UpdateExpand(a, cur);
			if (cur->type == BSON_TYPE_ARRAY)
				through_array = true;
			parent = cur;
		}
		if (parent->type == BSON_TYPE_ARRAY)
		{
			int64_t		k;

			if (!UpdateIsNumericPart(leaf->from[i], &k) || k >= parent->n)
				return true;
			index = (int) k;
		}
		else if ((index = UpdateFindKey(parent, leaf->from[i])) < 0)
			return true;
	}
	/* a->path[0] is the destination's first component */
	if (strcmp(leaf->from[0], "_id") == 0 || strcmp(a->path[0], "_id") == 0)
		return UpdateFail(a->error, MONGO_IMMUTABLE_FIELD,
						  "Performing an update on the path '_id' would modify the immutable field '_id'");
	if (through_array)
		return UpdateFail(a->error, MONGO_BAD_VALUE,
						  "The source field cannot be an array element, '%s' has an array on its path",
						  leaf->path);
	if (a->array_depth > 0)
		return UpdateFail(a->error, MONGO_BAD_VALUE,
						  "The destination field cannot be an array element, '%s' has an array on its path",
						  leaf->path);

	value = parent->items[index];
	UpdateRemoveItem(parent, index);
	/* the removal may have moved the destination's siblings */
	slot->index = UpdateFindKey(slot->parent, slot->name);
	return UpdateSlotPut(a, slot, value);
}

/*
 * UpdateApplyLeaf
 *		Apply a leaf's operator to its slot.
 */
static bool
UpdateApplyLeaf(UpdateApplier *a, const UpdateLeaf *leaf, UpdateSlot *slot)
{
	UpdateValue *cur = UpdateSlotGet(slot);
	bson_value_t result;
	bson_value_t zero;

	/* "$" fields are refused in stored documents, not in upserted ones */
	if (leaf->dollar_path && !a->is_insert &&
		leaf->op != UPDATE_OP_UNSET && leaf->op != UPDATE_OP_RENAME_SOURCE &&
		leaf->op != UPDATE_OP_POP && leaf->op != UPDATE_OP_PULL &&
		leaf->op != UPDATE_OP_PULL_ALL)
		return UpdateFail(a->error, MONGO_DOLLAR_PREFIXED_FIELD,
						  "The dollar ($) prefixed field in '%s' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith.",
						  leaf->path);

	switch (leaf->op)
	{
		case UPDATE_OP_SET_ON_INSERT:
			if (!a->is_insert)
				return true;
			/* FALLTHROUGH */
		case UPDATE_OP_SET:
			return UpdateSlotPutValue(a, slot, &leaf->operand);

		case UPDATE_OP_UNSET:
			UpdateSlotRemove(a, slot);
			return true;

		case UPDATE_OP_RENAME_SOURCE:
			return true;

		case UPDATE_OP_RENAME:
			return UpdateRename(a, leaf, slot);

		case UPDATE_OP_INC:
		case UPDATE_OP_MUL:
			if (cur == NULL)
			{
				if (leaf->op == UPDATE_OP_INC)
					return UpdateSlotPutValue(a, slot, &leaf->operand);
				/*
				 * $mul of a missing field: the multiplier times int32 zero,
				 * as MongoDB computes it (so a zero of the multiplier's
				 * type, and NaN for an infinite decimal)
				 */
				zero.value_type = BSON_TYPE_INT32;
				zero.value.v_int32 = 0;
				if (!UpdateArithmetic(a, true, &leaf->operand, &zero, &result,
									  leaf->path))
					return false;
				return UpdateSlotPutValue(a, slot, &result);
			}
			if (!UpdateIsNumberType(UpdateValueType(cur)))
				return UpdateFail(a->error, MONGO_TYPE_MISMATCH,
								  "Cannot apply %s to a value of non-numeric type. The field '%s' has non-numeric type %s",
								  leaf->op == UPDATE_OP_INC ? "$inc" : "$mul",
								  UpdatePathText(a, NULL),
								  BsonTypeName(UpdateValueType(cur)));
			if (!UpdateArithmetic(a, leaf->op == UPDATE_OP_MUL, &cur->value,
								  &leaf->operand, &result, leaf->path))
				return false;
			if (UpdateNumbersIdentical(&cur->value, &result))
				return true;
			return UpdateSlotPutValue(a, slot, &result);

		case UPDATE_OP_MIN:
		case UPDATE_OP_MAX:
			if (cur != NULL)
			{
				int			cmp = UpdateCompareValue(cur, &leaf->operand, a->u->collation);

				if (leaf->op == UPDATE_OP_MIN ? cmp <= 0 : cmp >= 0)
					return true;
			}
			return UpdateSlotPutValue(a, slot, &leaf->operand);

		case UPDATE_OP_CURRENT_DATE:
			if (leaf->timestamp)
			{
				result.value_type = BSON_TYPE_TIMESTAMP;
				result.value.v_timestamp.timestamp = (uint32_t) (a->now_ms / 1000);
				result.value.v_timestamp.increment = 1;
			}
			else
			{
				result.value_type = BSON_TYPE_DATE_TIME;
				result.value.v_datetime = a->now_ms;
			}
			return UpdateSlotPutValue(a, slot, &result);

		case UPDATE_OP_PUSH:
			return UpdatePush(a, leaf, slot);

		case UPDATE_OP_ADD_TO_SET:
			return UpdateAddToSet(a, leaf, slot);

		case UPDATE_OP_POP:
		case UPDATE_OP_PULL:
		case UPDATE_OP_PULL_ALL:
			return UpdateCull(a, leaf, slot);

		case UPDATE_OP_BIT:
			{
				int64_t		v = 0;
				bool		is_int64 = false;

				if (cur != NULL)
				{
					bson_type_t t = UpdateValueType(cur);

					if (t == BSON_TYPE_INT32)
						v = cur->value.value.v_int32;
					else if (t == BSON_TYPE_INT64)
					{
						v = cur->value.value.v_int64;
						is_int64 = true;
					}
					else
						return UpdateFail(a->error, MONGO_BAD_VALUE,
										  "Cannot apply $bit to a value of non-integral type. The field '%s' has non-integral type %s",
										  UpdatePathText(a, NULL), BsonTypeName(t));
				}
				for (int i = 0; i < leaf->nbits; i++)
				{
					const UpdateBitOp *bit = &leaf->bits[i];

					if (bit->op == 'a')
						v &= bit->operand;
					else if (bit->op == 'o')
						v |= bit->operand;
					else
						v ^= bit->operand;
					is_int64 |= bit->is_int64;
					if (!is_int64)
						v = (int32_t) v;
				}
				if (is_int64)
				{
					result.value_type = BSON_TYPE_INT64;
					result.value.v_int64 = v;
				}
				else
				{
					result.value_type = BSON_TYPE_INT32;
					result.value.v_int32 = (int32_t) v;
				}
				return UpdateSlotPutValue(a, slot, &result);
			}
	}
	return true;
}


/* ----------------------------------------------------------------
 *		The tree walk
 * ----------------------------------------------------------------
 */

/*
 * UpdateNodeCreates
 *		Whether a subtree may create fields (a missing member on its way is
 *		then created), or with viable_only, whether it needs a path it could
 *		create fields along: only $unset, $pull and $pullAll accept meeting
 *		a scalar (or an array under a field name) on their way, and do
 *		nothing there; the others fail with PathNotViable, $pop included,
 *		although it creates nothing.
 */
static bool
UpdateNodeCreates(const UpdateApplier *a, const UpdateNode *node, bool viable_only)
{
	if (node->kind == UPDATE_NODE_LEAF)
	{
		switch (node->leaf->op)
		{
			case UPDATE_OP_UNSET:
			case UPDATE_OP_RENAME_SOURCE:
			case UPDATE_OP_PULL:
			case UPDATE_OP_PULL_ALL:
				return false;
			case UPDATE_OP_POP:
				return viable_only;
			case UPDATE_OP_SET_ON_INSERT:
				return a->is_insert;
			default:
				return true;
		}
	}
	if (node->positional != NULL &&
		UpdateNodeCreates(a, node->positional, viable_only))
		return true;
	for (int i = 0; i < node->nchildren; i++)
	{
		if (UpdateNodeCreates(a, node->children[i], viable_only))
			return true;
	}
	return false;
}

/*
 * UpdateApplyMerged
 *		Apply two nodes that reach the same member (a positional or array
 *		filter child and another): leaves there conflict, as in MongoDB.
 */
static bool
UpdateApplyMerged(UpdateApplier *a, const UpdateNode *x, const UpdateNode *y,
				  UpdateSlot *slot, const char *name)
{
	if (x->kind == UPDATE_NODE_LEAF || y->kind == UPDATE_NODE_LEAF)
		return UpdateFail(a->error, MONGO_CONFLICTING_UPDATE_OPS,
						  "Update created a conflict at '%s'",
						  UpdatePathText(a, name));
	return UpdateApplyNode(a, x, slot) && UpdateApplyNode(a, y, slot);
}

/*
 * UpdateApplyNamed
 *		Apply an object node's child to the member it names.
 */
static bool
UpdateApplyNamed(UpdateApplier *a, const UpdateNode *child, const UpdateNode *other,
				 UpdateValue *container, const char *name)
{
	UpdateSlot	slot;
	bool		ok;

	slot.parent = container;
	slot.name = name;
	slot.array_index = -1;
	if (container->type == BSON_TYPE_ARRAY)
	{
		int64_t		index;

		if (!UpdateIsNumericPart(name, &index))
		{
			if (!UpdateNodeCreates(a, child, true) &&
				(other == NULL || !UpdateNodeCreates(a, other, true)))
				return true;
			return UpdateFail(a->error, MONGO_PATH_NOT_VIABLE,
							  "Cannot create field '%s' in element {%s: %s}",
							  name, a->depth > 0 ? a->path[a->depth - 1] : "",
							  UpdateValueText(a, container));
		}
		slot.index = index < container->n ? (int) index : -1;
		slot.array_index = index;
	}
	else
		slot.index = UpdateFindKey(container, name);

	if (a->depth > UPDATE_MAX_DEPTH)
		return UpdateFail(a->error, MONGO_BAD_VALUE, "update path too deep");
	a->path[a->depth++] = name;
	if (other != NULL)
		ok = UpdateApplyMerged(a, child, other, &slot, NULL);
	else
		ok = UpdateApplyNode(a, child, &slot);
	a->depth--;
	return ok;
}

/*
 * UpdateApplyObject
 *		An object node's children, in order, on an expanded container; the
 *		positional child goes where its index's name sorts (byte-wise, as
 *		MongoDB compares them), merged with a child of the same name.
 */
static bool
UpdateApplyObject(UpdateApplier *a, const UpdateNode *node, UpdateValue *container)
{
	const char *posname = NULL;

	if (node->positional != NULL)
	{
		if (a->position < 0)
			return UpdateFail(a->error, MONGO_BAD_VALUE,
							  "The positional operator did not find the match needed from the query.");
		posname = UpdateIndexName(a, a->position);
	}

	for (int i = 0; i < node->nchildren; i++)
	{
		const UpdateNode *child = node->children[i];

		if (posname != NULL && strcmp(child->name, posname) == 0)
		{
			if (!UpdateApplyNamed(a, node->positional, child, container, posname))
				return false;
			posname = NULL;
			continue;
		}
		if (posname != NULL && strcmp(posname, child->name) < 0)
		{
			if (!UpdateApplyNamed(a, node->positional, NULL, container, posname))
				return false;
			posname = NULL;
		}
		if (!UpdateApplyNamed(a, child, NULL, container, child->name))
			return false;
	}
	if (posname != NULL)
		return UpdateApplyNamed(a, node->positional, NULL, container, posname);
	return true;
}

/*
 * UpdateFilterSelects
 *		Whether an array filter selects an element: the filter matches the
 *		document {identifier: element}.
 */
static bool
UpdateFilterSelects(const UpdateApplier *a, int filter, const UpdateValue *item)
{
	const UpdateArrayFilter *af = &a->u->filters[filter];
	bson_t		wrapper;
	bool		match;

	bson_init(&wrapper);
	UpdateWrite(&wrapper, af->identifier, item);
	match = BsonFilterMatches(af->filter, bson_get_data(&wrapper), wrapper.len);
	bson_destroy(&wrapper);
	return match;
}

/*
 * UpdateApplyArray
 *		An array node's "$[]" and "$[identifier]" children on each element
 *		they select.
 */
static bool
UpdateApplyArray(UpdateApplier *a, const UpdateNode *node, UpdateValue *array)
{
	const UpdateNode **selected = UpdateAlloc(&a->arena,
											  Max(node->nchildren, 1) * sizeof(UpdateNode *));

	for (int i = 0; i < array->n; i++)
	{
		UpdateSlot	slot;
		const char *name = UpdateIndexName(a, i);
		int			nselected = 0;
		bool		ok = true;

		/* every filter looks at the element as it was */
		for (int c = 0; c < node->nchildren; c++)
		{
			const UpdateNode *child = node->children[c];

			if (child->filter < 0 ||
				UpdateFilterSelects(a, child->filter, array->items[i]))
				selected[nselected++] = child;
		}
		if (nselected == 0)
			continue;

		slot.parent = array;
		slot.index = i;
		slot.name = name;
		slot.array_index = i;
		if (a->depth > UPDATE_MAX_DEPTH)
			return UpdateFail(a->error, MONGO_BAD_VALUE, "update path too deep");
		a->path[a->depth++] = name;
		for (int c = 0; c < nselected && ok; c++)
		{
			if (nselected > 1 && selected[c]->kind == UPDATE_NODE_LEAF)
				ok = UpdateFail(a->error, MONGO_CONFLICTING_UPDATE_OPS,
								"Update created a conflict at '%s'",
								UpdatePathText(a, NULL));
			else
				ok = UpdateApplyNode(a, selected[c], &slot);
		}
		a->depth--;
		if (!ok)
			return false;
	}
	return true;
}

/*
 * UpdateApplyNode
 *		Apply a node of the update tree to the member a slot names.
 */
static bool
UpdateApplyNode(UpdateApplier *a, const UpdateNode *node, UpdateSlot *slot)
{
	UpdateValue *cur;
	bool		ok;

	PURE_CHECK_STACK();

	if (node->kind == UPDATE_NODE_LEAF)
		return UpdateApplyLeaf(a, node->leaf, slot);

	/* MongoDB checks the positional operator before the path */
	if (node->positional != NULL && a->position < 0)
		return UpdateFail(a->error, MONGO_BAD_VALUE,
						  "The positional operator did not find the match needed from the query.");

	cur = UpdateSlotGet(slot);
	if (cur == NULL)
	{
		UpdateValue *doc;
		int			old_n = slot->parent->n;

		if (node->kind == UPDATE_NODE_ARRAY)
			return UpdateFail(a->error, MONGO_BAD_VALUE,
							  "The path '%s' must exist in the document in order to apply array updates.",
							  UpdatePathText(a, NULL));
		if (!UpdateNodeCreates(a, node, false))
			return true;

		/* create the document, and take it back if nothing went in it */
		doc = UpdateNewContainer(a, BSON_TYPE_DOCUMENT);
		if (!UpdateSlotPut(a, slot, doc))
			return false;
		if (!UpdateApplyObject(a, node, doc))
			return false;
		if (doc->n == 0)
		{
			if (slot->parent->type == BSON_TYPE_ARRAY)
				slot->parent->n = old_n;
			else
				UpdateRemoveItem(slot->parent, slot->index);
			slot->index = -1;
		}
		return true;
	}

	if (!UpdateIsContainer(cur))
	{
		if (node->kind == UPDATE_NODE_ARRAY)
			return UpdateFail(a->error, MONGO_BAD_VALUE,
							  "Cannot apply array updates to non-array element %s: %s",
							  UpdatePathText(a, NULL), UpdateValueText(a, cur));
		if (!UpdateNodeCreates(a, node, true))
			return true;
		return UpdateFail(a->error, MONGO_PATH_NOT_VIABLE,
						  "Cannot create field '%s' in element {%s: %s}",
						  node->nchildren > 0 ? node->children[0]->name : "$",
						  a->depth > 0 ? a->path[a->depth - 1] : "",
						  UpdateValueText(a, cur));
	}

	UpdateExpand(a, cur);
	if (cur->type == BSON_TYPE_ARRAY)
		a->array_depth++;
	if (node->kind == UPDATE_NODE_ARRAY)
	{
		if (cur->type != BSON_TYPE_ARRAY)
			ok = UpdateFail(a->error, MONGO_BAD_VALUE,
							"Cannot apply array updates to non-array element %s: %s",
							UpdatePathText(a, NULL), UpdateValueText(a, cur));
		else
			ok = UpdateApplyArray(a, node, cur);
	}
	else
		ok = UpdateApplyObject(a, node, cur);
	if (cur->type == BSON_TYPE_ARRAY)
		a->array_depth--;
	return ok;
}


/* ----------------------------------------------------------------
 *		Entry points
 * ----------------------------------------------------------------
 */

/*
 * UpdateCheckId
 *		_id is immutable: the result must keep the input's _id, equal in
 *		MongoDB's comparison (ImmutableField, 66).
 */
static bool
UpdateCheckId(BsonQueryError *error, const uint8_t *doc, uint32_t len,
			  const bson_t *out)
{
	bson_t		before;
	bson_iter_t old_id;
	bson_iter_t new_id;

	if (!bson_init_static(&before, doc, len) ||
		!bson_iter_init_find(&old_id, &before, "_id"))
		return true;
	if (!bson_iter_init_find(&new_id, out, "_id") ||
		BsonCompareValues(&old_id, &new_id) != 0 ||
		bson_iter_type(&old_id) != bson_iter_type(&new_id))
		return UpdateFail(error, MONGO_IMMUTABLE_FIELD,
						  "Performing an update on the path '_id' would modify the immutable field '_id'");
	return true;
}

/*
 * UpdateReplace
 *		A replacement document: the input's _id first, then the
 *		replacement's other fields.
 */
static bool
UpdateReplace(const BsonUpdate *u, const uint8_t *doc, uint32_t len,
			  bson_t *out, BsonQueryError *error)
{
	bson_t		before;
	bson_t		replacement;
	bson_iter_t old_id;
	bson_iter_t new_id;
	bson_iter_t it;
	bool		has_old = bson_init_static(&before, doc, len) &&
		bson_iter_init_find(&old_id, &before, "_id");
	bool		has_new;

	bson_init_static(&replacement, u->data, u->len);
	has_new = bson_iter_init_find(&new_id, &replacement, "_id");
	if (has_old && has_new &&
		(BsonCompareValues(&old_id, &new_id) != 0 ||
		 bson_iter_type(&old_id) != bson_iter_type(&new_id)))
		return UpdateFail(error, MONGO_IMMUTABLE_FIELD,
						  "After applying the update, the (immutable) field '_id' was found to have been altered");
	if (has_old)
		bson_append_iter(out, "_id", 3, &old_id);
	else if (has_new)
		bson_append_iter(out, "_id", 3, &new_id);
	bson_iter_init(&it, &replacement);
	while (bson_iter_next(&it))
	{
		if (strcmp(bson_iter_key(&it), "_id") != 0)
			bson_append_iter(out, NULL, 0, &it);
	}
	return true;
}

/*
 * See update.h.
 */
bool
BsonUpdateApply(const BsonUpdate *u, const uint8_t *doc, uint32_t len,
				int32_t position, bool is_insert, int64_t now_ms,
				bson_t *out, bool *modified, BsonQueryError *error)
{
	UpdateApplier a;
	bool		ok;

	error->code = 0;
	error->code_name = NULL;
	error->message = NULL;
	*modified = false;

	if (u->is_replacement)
		ok = UpdateReplace(u, doc, len, out, error);
	else
	{
		bson_value_t root_value;

		memset(&a, 0, sizeof(a));
		a.u = u;
		a.position = position;
		a.is_insert = is_insert;
		a.now_ms = now_ms;
		a.error = error;

		root_value.value_type = BSON_TYPE_DOCUMENT;
		root_value.value.v_doc.data = (uint8_t *) doc;
		root_value.value.v_doc.data_len = len;
		a.root = UpdateNewValue(&a, &root_value);
		UpdateExpand(&a, a.root);
		ok = UpdateApplyObject(&a, u->root, a.root);
		if (ok)
		{
			for (int i = 0; i < a.root->n; i++)
				UpdateWrite(out, a.root->items[i]->key, a.root->items[i]);
			ok = UpdateCheckId(error, doc, len, out);
		}
		UpdateArenaFree(&a.arena);
	}

	if (ok && out->len > BSON_MAX_DOC_SIZE)
		ok = UpdateFail(error, MONGO_DOCUMENT_TOO_LARGE,
						"Resulting document after update is larger than %d",
						BSON_MAX_DOC_SIZE);
	/* a replacement always counts as a modification, as in MongoDB */
	if (ok)
		*modified = u->is_replacement ||
			out->len != len || memcmp(bson_get_data(out), doc, len) != 0;
	return ok;
}
