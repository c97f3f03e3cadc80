/*-------------------------------------------------------------------------
 *
 * update_describe.c
 *	  What an update changed in a document, in the shape of a MongoDB
 *	  change event's updateDescription.
 *
 * Design note
 * -----------
 * The change stream (cdc_output.c) reports an update as the paths it
 * changed: updatedFields (dotted path -> new value), removedFields and
 * truncatedArrays.  Rather than have every operator of update_apply.c log
 * what it did, the description is computed once the update is applied,
 * from the document before and after, walking both side by side.  The
 * walk is guided by the compiled update, so that the paths come out as
 * MongoDB reports them for an operator update:
 *
 *	- A path an operator names (with "$", "$[]" and "$[id]" matching any
 *	  array index) is reported whole: $set of a document or an array gives
 *	  the new value at that path, not the members that differ; so do
 *	  $pull, $pop and $addToSet, which rewrite the array.  A $push without
 *	  $sort, $slice or $position that only appended reports each new
 *	  element as "path.N", as MongoDB logs an append.
 *	- Above those paths the walk descends: a member only one document has
 *	  is removed or added whole (so $set of "a.b.c" on a document without
 *	  "a" reports "a": {b: {c: ...}}, the outermost member created), an
 *	  array grown by padding reports its new elements by index.
 *
 * A pipeline update (no compiled operator tree) is described by the plain
 * difference of the two documents, as MongoDB describes one: members that
 * differ are descended into, an array that got shorter is reported in
 * truncatedArrays with its new size (its remaining elements by index),
 * one that got longer by its new elements.
 *
 * Two values are the same when they have the same type and the same bytes
 * (MongoDB's no-op rule for updates).  _id never changes.
 *
 * disambiguatedPaths.  A dotted path does not say whether "a.0" is
 * element 0 of array a or field "0" of document a, nor where a field
 * name with a dot in it begins and ends.  The walk knows, since it walks
 * the documents: for each path it reports whose component is a field
 * named by digits only, or a field name with a dot, it also gives the
 * path's components (field names as strings, array indexes as integers),
 * when the caller asks (BsonUpdateDescribeAll).  Other paths, the usual
 * ones, are left out.
 *
 * Pure code: libbson and palloc only (unit-tested in test/unit).
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "lib/stringinfo.h"

#include "pure.h"
#include "update_internal.h"

/* An operator's path, split into components */
typedef struct DescribePattern
{
	const UpdateLeaf *leaf;
	int			ncomponents;
	char	  **components;
} DescribePattern;

/* State of one description */
typedef struct Describer
{
	int			npatterns;		/* 0 for a pipeline update */
	DescribePattern *patterns;
	bool		pipeline;
	int			depth;
	const char *path[UPDATE_MAX_DEPTH + 2]; /* components on the way down */
	bool		index[UPDATE_MAX_DEPTH + 2];	/* which of them index arrays */
	StringInfoData name;		/* scratch: a dotted path */
	bson_t	   *updated;
	bson_t	   *removed;
	bson_t	   *truncated;
	uint32_t	nremoved;
	uint32_t	ntruncated;
	bson_t	   *disambiguated;	/* or NULL: not asked for */
} Describer;

/* How the walk stands at a path with respect to the update's operators */
typedef enum DescribeMatch
{
	DESCRIBE_NONE,				/* no operator path reaches it */
	DESCRIBE_DESCEND,			/* an operator path goes below it */
	DESCRIBE_LEAF				/* an operator path ends at it */
} DescribeMatch;

static void DescribeValue(Describer *d, const bson_iter_t *old, const bson_iter_t *new);

/* Whether a component of an operator path matches any array index */
static bool
DescribeWildcard(const char *component)
{
	return component[0] == '$' &&
		(component[1] == '\0' || component[1] == '[');
}

/*
 * Where the walk's current path stands against the operators' paths; the
 * leaf whose path ends here in *leaf.
 */
static DescribeMatch
DescribeMatchPath(const Describer *d, const UpdateLeaf **leaf)
{
	DescribeMatch result = DESCRIBE_NONE;

	for (int i = 0; i < d->npatterns; i++)
	{
		const DescribePattern *p = &d->patterns[i];
		bool		match = p->ncomponents >= d->depth;

		for (int c = 0; match && c < d->depth; c++)
			match = DescribeWildcard(p->components[c]) ||
				strcmp(p->components[c], d->path[c]) == 0;
		if (!match)
			continue;
		if (p->ncomponents == d->depth)
		{
			*leaf = p->leaf;
			return DESCRIBE_LEAF;
		}
		result = DESCRIBE_DESCEND;
	}
	return result;
}

/* The current path, dotted, with one more component when last is given */
static const char *
DescribePathText(Describer *d, const char *last)
{
	resetStringInfo(&d->name);
	for (int i = 0; i < d->depth; i++)
	{
		if (i > 0)
			appendStringInfoChar(&d->name, '.');
		appendStringInfoString(&d->name, d->path[i]);
	}
	if (last != NULL)
	{
		if (d->depth > 0)
			appendStringInfoChar(&d->name, '.');
		appendStringInfoString(&d->name, last);
	}
	return d->name.data;
}

/* Whether a field name is ambiguous in a dotted path: digits only, or a dot */
static bool
DescribeAmbiguousName(const char *name)
{
	const char *c = name;

	if (strchr(name, '.') != NULL)
		return true;
	while (*c >= '0' && *c <= '9')
		c++;
	return c != name && *c == '\0';
}

/*
 * disambiguatedPaths gets path (the current path, plus last, which indexes
 * an array when last_index) with its components, when one of them is an
 * ambiguous field name.
 */
static void
DescribeDisambiguate(Describer *d, const char *path, const char *last, bool last_index)
{
	bson_t		components;
	bool		ambiguous = false;
	int			n = d->depth + (last != NULL ? 1 : 0);

	if (d->disambiguated == NULL)
		return;
	for (int i = 0; i < n && !ambiguous; i++)
	{
		bool		is_index = i < d->depth ? d->index[i] : last_index;
		const char *name = i < d->depth ? d->path[i] : last;

		ambiguous = !is_index && DescribeAmbiguousName(name);
	}
	if (!ambiguous)
		return;
	bson_append_array_begin(d->disambiguated, path, -1, &components);
	for (int i = 0; i < n; i++)
	{
		bool		is_index = i < d->depth ? d->index[i] : last_index;
		const char *name = i < d->depth ? d->path[i] : last;
		char		key[16];

		snprintf(key, sizeof(key), "%d", i);
		if (is_index)
			bson_append_int32(&components, key, -1, (int32_t) strtol(name, NULL, 10));
		else
			bson_append_utf8(&components, key, -1, name, -1);
	}
	bson_append_array_end(d->disambiguated, &components);
}

/*
 * updatedFields gets the current path (plus last, an array index when
 * last_index) with a value
 */
static void
DescribeUpdated(Describer *d, const char *last, bool last_index, const bson_iter_t *value)
{
	const char *path = DescribePathText(d, last);

	bson_append_iter(d->updated, path, -1, value);
	DescribeDisambiguate(d, path, last, last_index);
}

/* removedFields gets the current path plus a member's name */
static void
DescribeRemoved(Describer *d, const char *last)
{
	char		key[16];
	const char *path = DescribePathText(d, last);

	snprintf(key, sizeof(key), "%u", d->nremoved++);
	bson_append_utf8(d->removed, key, -1, path, -1);
	DescribeDisambiguate(d, path, last, false);
}

/* truncatedArrays gets the current path and an array's new size */
static void
DescribeTruncated(Describer *d, uint32_t size)
{
	char		key[16];
	bson_t		entry;
	const char *path = DescribePathText(d, NULL);

	DescribeDisambiguate(d, path, NULL, false);
	snprintf(key, sizeof(key), "%u", d->ntruncated++);
	bson_append_document_begin(d->truncated, key, -1, &entry);
	bson_append_utf8(&entry, "field", 5, path, -1);
	bson_append_int32(&entry, "newSize", 7, (int32_t) size);
	bson_append_document_end(d->truncated, &entry);
}

/* Whether two values are the same: same type, same bytes */
static bool
DescribeSame(const bson_iter_t *x, const bson_iter_t *y)
{
	/* a value's bytes run from its offset to the next element's */
	uint32_t	xlen = x->next_off - x->d1;
	uint32_t	ylen = y->next_off - y->d1;

	return bson_iter_type(x) == bson_iter_type(y) && xlen == ylen &&
		memcmp(x->raw + x->d1, y->raw + y->d1, xlen) == 0;
}

/*
 * Push a component on the walk's path; false when the path is as deep as
 * an update path may be (stored documents are far shallower): the value is
 * then reported whole.
 */
static bool
DescribePush(Describer *d, const char *component, bool is_index)
{
	if (d->depth >= UPDATE_MAX_DEPTH)
		return false;
	d->index[d->depth] = is_index;
	d->path[d->depth++] = component;
	return true;
}

/* Walk two documents' members: both of the current path */
static void
DescribeDocument(Describer *d, const bson_iter_t *old, const bson_iter_t *new)
{
	bson_iter_t oit,
				nit,
				found;

	PURE_CHECK_STACK();
	/* members added or changed, in the new document's order */
	if (!bson_iter_recurse(new, &nit))
		return;
	while (bson_iter_next(&nit))
	{
		const char *key = bson_iter_key(&nit);

		if (d->depth == 0 && strcmp(key, "_id") == 0)
			continue;
		if (!bson_iter_recurse(old, &oit) || !bson_iter_find_w_len(&oit, key, -1))
		{
			DescribeUpdated(d, key, false, &nit);
			continue;
		}
		found = oit;
		if (DescribeSame(&found, &nit))
			continue;
		if (!DescribePush(d, key, false))
		{
			DescribeUpdated(d, key, false, &nit);
			continue;
		}
		DescribeValue(d, &found, &nit);
		d->depth--;
	}
	/* members removed, in the old document's order */
	if (!bson_iter_recurse(old, &oit))
		return;
	while (bson_iter_next(&oit))
	{
		const char *key = bson_iter_key(&oit);

		if (!bson_iter_recurse(new, &nit) || !bson_iter_find_w_len(&nit, key, -1))
			DescribeRemoved(d, key);
	}
}

/* Number of elements of an array iterator's value */
static uint32_t
DescribeArrayLength(const bson_iter_t *array)
{
	bson_iter_t it;
	uint32_t	n = 0;

	if (bson_iter_recurse(array, &it))
		while (bson_iter_next(&it))
			n++;
	return n;
}

/*
 * Walk two arrays of the current path.  append_only: the elements the old
 * array has must be unchanged (a $push): false when they are not.
 */
static bool
DescribeArray(Describer *d, const bson_iter_t *old, const bson_iter_t *new,
			  bool append_only)
{
	uint32_t	nold = DescribeArrayLength(old);
	uint32_t	nnew = DescribeArrayLength(new);
	bson_iter_t oit,
				nit;
	uint32_t	i;

	PURE_CHECK_STACK();
	if (append_only || (nnew < nold && !d->pipeline))
	{
		/* reported whole unless the old elements are a prefix of the new */
		if (nnew < nold)
			return false;
		if (!bson_iter_recurse(old, &oit) || !bson_iter_recurse(new, &nit))
			return false;
		while (bson_iter_next(&oit))
		{
			if (!bson_iter_next(&nit) || !DescribeSame(&oit, &nit))
				return false;
		}
	}
	if (nnew < nold)
		DescribeTruncated(d, nnew);
	if (!bson_iter_recurse(old, &oit) || !bson_iter_recurse(new, &nit))
		return true;
	for (i = 0; bson_iter_next(&nit); i++)
	{
		const char *key = bson_iter_key(&nit);

		if (i < nold && bson_iter_next(&oit))
		{
			if (DescribeSame(&oit, &nit))
				continue;
			if (!DescribePush(d, key, true))
			{
				DescribeUpdated(d, key, true, &nit);
				continue;
			}
			DescribeValue(d, &oit, &nit);
			d->depth--;
		}
		else
			DescribeUpdated(d, key, true, &nit);
	}
	return true;
}

/*
 * Describe the change of the value at the current path, from old to new
 * (both present, and not the same).
 */
static void
DescribeValue(Describer *d, const bson_iter_t *old, const bson_iter_t *new)
{
	const UpdateLeaf *leaf = NULL;
	DescribeMatch match = d->pipeline ? DESCRIBE_NONE : DescribeMatchPath(d, &leaf);

	if (match == DESCRIBE_LEAF)
	{
		/* a plain $push that appended reports the new elements */
		if (leaf->op == UPDATE_OP_PUSH && !leaf->has_slice && !leaf->has_position &&
			leaf->sort == UPDATE_SORT_NONE &&
			BSON_ITER_HOLDS_ARRAY(old) && BSON_ITER_HOLDS_ARRAY(new) &&
			DescribeArray(d, old, new, true))
			return;
		DescribeUpdated(d, NULL, false, new);
		return;
	}
	if (BSON_ITER_HOLDS_DOCUMENT(old) && BSON_ITER_HOLDS_DOCUMENT(new))
		DescribeDocument(d, old, new);
	else if (BSON_ITER_HOLDS_ARRAY(old) && BSON_ITER_HOLDS_ARRAY(new))
	{
		if (!DescribeArray(d, old, new, false))
			DescribeUpdated(d, NULL, false, new);
	}
	else
		DescribeUpdated(d, NULL, false, new);
}

/* Split a dotted operator path into its components */
static void
DescribeSplit(DescribePattern *p)
{
	char	   *copy = pstrdup(p->leaf->path);
	int			n = 1;

	for (char *c = copy; *c; c++)
		if (*c == '.')
			n++;
	p->components = palloc(n * sizeof(char *));
	p->ncomponents = 0;
	for (char *start = copy;;)
	{
		char	   *dot = strchr(start, '.');

		p->components[p->ncomponents++] = start;
		if (dot == NULL)
			break;
		*dot = '\0';
		start = dot + 1;
	}
}

/*
 * Describe what an update changed, from the document before (old) and
 * after (new).  u is the compiled operator update, NULL for a pipeline
 * update.  updated gets updatedFields (a document), removed the
 * removedFields (an array) and truncated the truncatedArrays (an array of
 * {field, newSize}): all three initialised, empty.
 */
void
BsonUpdateDescribe(const BsonUpdate *u, const uint8_t *old, uint32_t old_len,
				   const uint8_t *new, uint32_t new_len, bson_t *updated,
				   bson_t *removed, bson_t *truncated)
{
	BsonUpdateDescribeAll(u, old, old_len, new, new_len, updated, removed,
						  truncated, NULL);
}

/*
 * BsonUpdateDescribe, and disambiguated (initialised, empty; or NULL) gets
 * disambiguatedPaths: the ambiguous paths reported, each with its
 * components.
 */
void
BsonUpdateDescribeAll(const BsonUpdate *u, const uint8_t *old, uint32_t old_len,
					  const uint8_t *new, uint32_t new_len, bson_t *updated,
					  bson_t *removed, bson_t *truncated, bson_t *disambiguated)
{
	Describer	d;
	bson_t		olddoc,
				newdoc;
	bson_t		oldwrap,
				newwrap;
	bson_iter_t oit,
				nit;

	memset(&d, 0, sizeof(d));
	d.pipeline = u == NULL;
	if (u != NULL)
	{
		d.patterns = palloc0(Max(u->nleaves, 1) * sizeof(DescribePattern));
		for (int i = 0; i < u->nleaves; i++)
		{
			d.patterns[i].leaf = u->leaves[i];
			DescribeSplit(&d.patterns[i]);
		}
		d.npatterns = u->nleaves;
	}
	initStringInfo(&d.name);
	d.updated = updated;
	d.removed = removed;
	d.truncated = truncated;
	d.disambiguated = disambiguated;

	/* iterators of the two documents as values, to walk them as members */
	if (!bson_init_static(&olddoc, old, old_len) ||
		!bson_init_static(&newdoc, new, new_len))
		return;					/* not documents: the caller's bug */
	bson_init(&oldwrap);
	bson_init(&newwrap);
	bson_append_document(&oldwrap, "", 0, &olddoc);
	bson_append_document(&newwrap, "", 0, &newdoc);
	if (bson_iter_init_find(&oit, &oldwrap, "") &&
		bson_iter_init_find(&nit, &newwrap, ""))
		DescribeDocument(&d, &oit, &nit);
	bson_destroy(&oldwrap);
	bson_destroy(&newwrap);
	pfree(d.name.data);
	/* the components of a pattern point into one copy of its path */
	for (int i = 0; i < d.npatterns; i++)
	{
		pfree(d.patterns[i].components[0]);
		pfree(d.patterns[i].components);
	}
	if (d.patterns != NULL)
		pfree(d.patterns);
}
