/*-------------------------------------------------------------------------
 *
 * update_upsert.c
 *	  The seed document of an upsert, from the query's equalities.
 *
 * When an upsert matches nothing, MongoDB inserts a document built from
 * the query's equality predicates, and then applies the update to it (with
 * $setOnInsert active).  The equalities are those of the top-level
 * conjunction: a literal value or $eq (a single-valued $in counts, as
 * MongoDB rewrites it to $eq), also inside $and and inside an $or of a
 * single branch.  Regular expressions, $nor and every other operator are
 * left out.  Two equalities on one path, or
 * on a path and its prefix, cannot both be set (NotSingleValueField, 54).
 *
 * The seed is built by compiling the equalities as one $set and applying
 * it to an empty document, so dotted paths create nested documents exactly
 * as $set does, with the same errors; _id is then moved first.
 *
 * IDENTIFICATION
 *	  src/update_upsert.c
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "update_internal.h"

/* Deepest nesting of $and/$or the seed builder follows */
#define UPSERT_MAX_DEPTH			100

/* The equalities found so far */
typedef struct UpsertEqualities
{
	int			n;
	int			max;
	const char **paths;
	bson_value_t *values;
} UpsertEqualities;

/*
 * UpsertAdd
 *		Record an equality, refusing a path already taken (or a prefix of
 *		one, or one of its prefixes).
 */
static bool
UpsertAdd(UpsertEqualities *eq, const char *path, const bson_iter_t *value,
		  BsonQueryError *error)
{
	size_t		len = strlen(path);

	for (int i = 0; i < eq->n; i++)
	{
		const char *other = eq->paths[i];
		size_t		olen = strlen(other);

		if (olen == len && strcmp(other, path) == 0)
			return UpdateFail(error, MONGO_NOT_SINGLE_VALUE_FIELD,
							  "cannot infer query fields to set, path '%s' is matched twice",
							  path);
		if ((olen < len && strncmp(other, path, olen) == 0 && path[olen] == '.') ||
			(len < olen && strncmp(other, path, len) == 0 && other[len] == '.'))
			return UpdateFail(error, MONGO_NOT_SINGLE_VALUE_FIELD,
							  "cannot infer query fields to set, both paths '%s' and '%s' are matched",
							  path, other);
	}
	if (eq->n == eq->max)
	{
		int			newmax = Max(8, eq->max * 2);

		if (eq->max == 0)
		{
			eq->paths = palloc(newmax * sizeof(const char *));
			eq->values = palloc(newmax * sizeof(bson_value_t));
		}
		else
		{
			eq->paths = repalloc(eq->paths, newmax * sizeof(const char *));
			eq->values = repalloc(eq->values, newmax * sizeof(bson_value_t));
		}
		eq->max = newmax;
	}
	eq->paths[eq->n] = path;
	eq->values[eq->n] = *bson_iter_value((bson_iter_t *) value);
	eq->n++;
	return true;
}

/*
 * UpsertIsOperatorDocument
 *		Whether a field's value is a document of query operators.
 */
static bool
UpsertIsOperatorDocument(const bson_iter_t *value)
{
	bson_iter_t it;

	return BSON_ITER_HOLDS_DOCUMENT(value) && bson_iter_recurse(value, &it) &&
		bson_iter_next(&it) && bson_iter_key(&it)[0] == '$';
}

/*
 * UpsertCollect
 *		The equalities of one conjunction of a filter.
 */
static bool
UpsertCollect(UpsertEqualities *eq, bson_iter_t *it, BsonQueryError *error,
			  int depth)
{
	if (depth > UPSERT_MAX_DEPTH)
		return true;

	while (bson_iter_next(it))
	{
		const char *key = bson_iter_key(it);

		if (strcmp(key, "$and") == 0 || strcmp(key, "$or") == 0)
		{
			bson_iter_t branches;
			bson_iter_t branch;
			int			n = 0;

			if (!BSON_ITER_HOLDS_ARRAY(it) || !bson_iter_recurse(it, &branches))
				continue;
			while (bson_iter_next(&branches))
				n++;
			if (key[1] == 'o' && n != 1)
				continue;
			bson_iter_recurse(it, &branches);
			while (bson_iter_next(&branches))
			{
				if (BSON_ITER_HOLDS_DOCUMENT(&branches) &&
					bson_iter_recurse(&branches, &branch) &&
					!UpsertCollect(eq, &branch, error, depth + 1))
					return false;
			}
			continue;
		}
		if (key[0] == '$' || BSON_ITER_HOLDS_REGEX(it))
			continue;

		if (UpsertIsOperatorDocument(it))
		{
			bson_iter_t ops;

			bson_iter_recurse(it, &ops);
			while (bson_iter_next(&ops))
			{
				const char *op = bson_iter_key(&ops);

				if (strcmp(op, "$eq") == 0)
				{
					if (!UpsertAdd(eq, key, &ops, error))
						return false;
				}
				else if (strcmp(op, "$in") == 0 && BSON_ITER_HOLDS_ARRAY(&ops))
				{
					bson_iter_t values;
					bson_iter_t only;
					int			n = 0;

					bson_iter_recurse(&ops, &values);
					while (bson_iter_next(&values))
					{
						if (n++ == 0)
							only = values;
					}
					if (n == 1 && !BSON_ITER_HOLDS_REGEX(&only) &&
						!UpsertAdd(eq, key, &only, error))
						return false;
				}
			}
			continue;
		}
		if (!UpsertAdd(eq, key, it, error))
			return false;
	}
	return true;
}

/*
 * See update.h.
 */
bool
BsonUpsertSeed(const uint8_t *filter, uint32_t len, bson_t *out,
			   BsonQueryError *error)
{
	UpsertEqualities eq = {0};
	bson_t		query;
	bson_iter_t it;
	bson_t		update;
	bson_t		set;
	bson_t		empty;
	bson_t		seed;
	BsonUpdate *u;
	bool		ok;
	bool		modified;

	error->code = 0;
	error->code_name = NULL;
	error->message = NULL;

	if (!bson_init_static(&query, filter, len) || !bson_iter_init(&it, &query))
		return UpdateFail(error, MONGO_FAILED_TO_PARSE, "the filter is not a valid BSON document");
	ok = UpsertCollect(&eq, &it, error, 0);
	if (ok && eq.n > 0)
	{
		bson_init(&update);
		bson_append_document_begin(&update, "$set", 4, &set);
		for (int i = 0; i < eq.n; i++)
			bson_append_value(&set, eq.paths[i], -1, &eq.values[i]);
		bson_append_document_end(&update, &set);

		u = BsonUpdateCompile(bson_get_data(&update), update.len, NULL, 0, error);
		bson_destroy(&update);
		ok = (u != NULL);
		if (ok)
		{
			bson_init(&empty);
			bson_init(&seed);
			ok = BsonUpdateApply(u, bson_get_data(&empty), empty.len, -1, true,
								 0, &seed, &modified, error);
			if (ok)
			{
				bson_iter_t id;

				/* _id first, then the rest in order */
				if (bson_iter_init_find(&id, &seed, "_id"))
					bson_append_iter(out, "_id", 3, &id);
				bson_iter_init(&it, &seed);
				while (bson_iter_next(&it))
				{
					if (strcmp(bson_iter_key(&it), "_id") != 0)
						bson_append_iter(out, NULL, 0, &it);
				}
			}
			bson_destroy(&seed);
			bson_destroy(&empty);
			BsonUpdateFree(u);
		}
	}
	if (eq.max > 0)
	{
		pfree(eq.paths);
		pfree(eq.values);
	}
	return ok;
}
