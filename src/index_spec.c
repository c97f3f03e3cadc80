/*-------------------------------------------------------------------------
 *
 * index_spec.c
 *	  MongoDB's validation of index specifications (createIndexes), and
 *	  the comparisons of specs that decide whether an index exists.
 *
 * MongoDB checks a specification in stages, and the stage decides the error
 * code a client sees, so the checks here keep its order:
 *
 *	1. the field names (InvalidIndexSpecificationOption 197, all fields
 *	   first), then each field in document order: its type (TypeMismatch
 *	   14), the key pattern (CannotCreateIndex 67), a wildcardProjection
 *	   (BadValue 2, FailedToParse 9 and the projection parser's codes); then
 *	   the required key and name (FailedToParse 9); the _id index's fields
 *	   (197, BadValue 2) and the reserved names (2);
 *	2. the TTL option (67) and, on time-series collections, the index types
 *	   and options they cannot have;
 *	3. the rules of each index type: collation support, wildcard options,
 *	   sparse with partialFilterExpression, the operators a partial filter
 *	   may use, text and 2dsphere options (all 67);
 *	4. conflicts with the existing indexes (IndexOptionsConflict 85,
 *	   IndexKeySpecsConflict 86), done by createIndexes with
 *	   IndexSpecCompare;
 *	5. what the index's access method reads when it is built: 2d bits and
 *	   bounds (InvalidOptions 72), hashed keys (16764, 31303), the number
 *	   of key fields (13103).
 *
 * IndexSpecValidate does 1 to 3 and returns the spec as it is recorded: v,
 * key, name, the other options in their order, and the collation in full
 * (the collection's default when the spec has none, nothing when simple),
 * as listIndexes shows it.  IndexSpecCheckBuild does 5.
 *
 * Whether two specs are the same index follows MongoDB's "index
 * signature": the key pattern (all text fields of a text index being one
 * key, {_fts: "text", _ftsx: 1}), the collation, the partial filter,
 * unique, sparse and the wildcard projection.  Specs that agree on those
 * are one index, whatever their names; same-named specs that differ only in
 * other options (hidden, expireAfterSeconds, text weights...) conflict.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"

#include "bson_compare.h"
#include "collation.h"
#include "documents.h"

/* MongoDB's codes raised only here */
#define MONGO_TOO_MANY_KEY_FIELDS		13103
#define MONGO_HASHED_UNIQUE				16764
#define MONGO_HASHED_TWICE				31303
#define MONGO_PROJECTION_PATH_COLLISION	31249
#define MONGO_PROJECTION_PATH_PREFIX	31250
#define MONGO_PROJECTION_INCLUSION_IN_EXCLUSION	31253
#define MONGO_PROJECTION_EXCLUSION_IN_INCLUSION	31254
#define MONGO_PROJECTION_EMPTY_SUB		51270
#define MONGO_PROJECTION_COMPUTED		51271
#define MONGO_WILDCARD_TWO_WILDCARDS	7246201
#define MONGO_WILDCARD_STRING_VALUE		7246202
#define MONGO_WILDCARD_INCLUSION		7246208
#define MONGO_WILDCARD_NOT_EXCLUDED		7246209

#define INDEX_MAX_KEY_PATTERN_SIZE		2048
#define INDEX_MAX_KEY_FIELDS			32

/* The field names an index specification may have */
static const char *const index_spec_fields[] = {
	"key", "name", "v", "ns", "_id", "background", "unique", "sparse", "hidden",
	"partialFilterExpression", "expireAfterSeconds", "storageEngine", "collation",
	"weights", "default_language", "language_override", "textIndexVersion",
	"2dsphereIndexVersion", "bits", "min", "max", "bucketSize", "coarsestIndexedLevel",
	"finestIndexedLevel", "wildcardProjection", "columnstoreProjection",
	"columnstoreCompressor", "dropDups", "originalSpec", "clustered", "prepareUnique",
	NULL
};

/* The field names an _id index specification may have */
static const char *const id_index_spec_fields[] = {
	"key", "name", "v", "ns", "_id", "collation", NULL
};

/* Options a spec may have that are not part of its signature */
static const char *const signature_fields[] = {
	"key", "name", "v", "ns", "background", "collation", "partialFilterExpression",
	"unique", "sparse", "wildcardProjection", NULL
};

/* The languages of text indexes (default_language) */
static const char *const text_languages[] = {
	"none", "danish", "da", "dutch", "nl", "english", "en", "finnish", "fi", "french",
	"fr", "german", "de", "hungarian", "hu", "italian", "it", "norwegian", "nb",
	"portuguese", "pt", "romanian", "ro", "russian", "ru", "spanish", "es", "swedish",
	"sv", "turkish", "tr", NULL
};

static bool
NameIn(const char *name, const char *const *names)
{
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

/* A number option as a double (NaN when it is not a number) */
static double
IterNumber(const bson_iter_t *it)
{
	double		d = NAN;

	BsonIterAsDouble(it, &d);
	return d;
}

/* A boolean option given as a bool or a number: is it set? */
static bool
OptionTruthy(const bson_iter_t *it)
{
	double		d;

	if (BsonIterAsDouble(it, &d))
		return d != 0;
	return bson_iter_as_bool(it);
}

/* Is a key pattern field name a wildcard ("$**" or "a.$**")? */
static bool
IsWildcardField(const char *name)
{
	size_t		len = strlen(name);

	return strcmp(name, "$**") == 0 ||
		(len > 4 && strcmp(name + len - 4, ".$**") == 0);
}

/*
 * The index type of a key pattern, as MongoDB's findPluginName: the first
 * string value, else "wildcard" for a wildcard field, else "" (btree).
 */
const char *
IndexKeyPlugin(const bson_iter_t *key)
{
	bson_iter_t k;

	bson_iter_recurse(key, &k);
	while (bson_iter_next(&k))
	{
		if (BSON_ITER_HOLDS_UTF8(&k))
			return bson_iter_utf8(&k, NULL);
		if (IsWildcardField(bson_iter_key(&k)))
			return "wildcard";
	}
	return "";
}

/* The key pattern of a recorded spec, or false */
static bool
SpecKey(const bson_t *spec, bson_iter_t *key)
{
	return bson_iter_init_find(key, spec, "key") && BSON_ITER_HOLDS_DOCUMENT(key);
}

/*
 * Check a key pattern (MongoDB's validateKeyPattern, and the duplicate
 * fields check before it).
 */
static void
CheckKeyPattern(const bson_iter_t *key)
{
	bson_iter_t k;
	const char *plugin;
	uint32_t	len;
	const uint8_t *data;
	int			wildcards = 0;

	bson_iter_recurse(key, &k);
	while (bson_iter_next(&k))
	{
		bson_iter_t other;

		bson_iter_recurse(key, &other);
		while (bson_iter_next(&other) && other.off < k.off)
			if (strcmp(bson_iter_key(&other), bson_iter_key(&k)) == 0)
				MongoRaise(MONGO_BAD_VALUE,
						   "The field '%s' appears multiple times in the index key pattern",
						   bson_iter_key(&k));
	}

	bson_iter_document(key, &len, &data);
	if (len > INDEX_MAX_KEY_PATTERN_SIZE)
		MongoRaise(MONGO_CANNOT_CREATE_INDEX, "Index key pattern too large.");
	if (len <= 5)
		MongoRaise(MONGO_CANNOT_CREATE_INDEX, "Index keys cannot be empty.");

	plugin = IndexKeyPlugin(key);
	if (strcmp(plugin, "geoHaystack") == 0)
		MongoRaise(MONGO_CANNOT_CREATE_INDEX,
				   "GeoHaystack indexes cannot be created in version 5.0 and above");
	if (plugin[0] != '\0' && strcmp(plugin, "text") != 0 && strcmp(plugin, "2d") != 0 &&
		strcmp(plugin, "2dsphere") != 0 && strcmp(plugin, "hashed") != 0 &&
		strcmp(plugin, "wildcard") != 0)
		MongoRaise(MONGO_CANNOT_CREATE_INDEX, "Unknown index plugin '%s'", plugin);

	if (strcmp(plugin, "wildcard") == 0)
	{
		bson_iter_recurse(key, &k);
		while (bson_iter_next(&k))
			if (IsWildcardField(bson_iter_key(&k)))
				wildcards++;
		if (wildcards > 1)
			MongoRaise(MONGO_WILDCARD_TWO_WILDCARDS,
					   "A wildcard index can have only one wildcard field");
	}

	bson_iter_recurse(key, &k);
	while (bson_iter_next(&k))
	{
		const char *field = bson_iter_key(&k);
		const char *str = BSON_ITER_HOLDS_UTF8(&k) ? bson_iter_utf8(&k, NULL) : NULL;
		const char *part;
		int			i;

		if (BsonIterIsNumber(&k))
		{
			double		d = 0;

			BsonIterAsDouble(&k, &d);
			if (isnan(d))
				MongoRaise(MONGO_CANNOT_CREATE_INDEX,
						   "Values in the index key pattern cannot be NaN.");
			if (d == 0)
				MongoRaise(MONGO_CANNOT_CREATE_INDEX,
						   "Values in the index key pattern cannot be 0.");
		}
		else if (str == NULL)
			MongoRaise(MONGO_CANNOT_CREATE_INDEX,
					   "Values in v:2 index key pattern cannot be of type %s. Only numbers > 0, numbers < 0, and strings are allowed.",
					   BsonTypeName(bson_iter_type(&k)));

		if (str != NULL && strcmp(plugin, str) != 0)
			MongoRaise(MONGO_CANNOT_CREATE_INDEX,
					   "Can't use more than one index plugin for a single index.");
		if (str != NULL && strcmp(str, "wildcard") == 0)
			MongoRaise(IsWildcardField(field) ? MONGO_CANNOT_CREATE_INDEX :
					   MONGO_WILDCARD_STRING_VALUE,
					   "The key pattern value for an 'wildcard' index must be a non-zero number, not a string.");

		if (field[0] == '\0')
			MongoRaise(MONGO_CANNOT_CREATE_INDEX, "Index keys cannot be an empty field.");
		if (strcmp(field, "$**") == 0 && (str == NULL || strcmp(str, "text") == 0))
			continue;
		if (strcmp(field, "_fts") == 0 && (str == NULL || strcmp(str, "text") != 0))
			MongoRaise(MONGO_CANNOT_CREATE_INDEX,
					   "Index key contains an illegal field name: '_fts'");

		/* each dotted part: not empty, no '$' but a DBRef's or a final $** */
		part = field;
		for (i = 0;; i++)
		{
			const char *dot = strchr(part, '.');
			size_t		plen = dot != NULL ? (size_t) (dot - part) : strlen(part);

			if (plen == 0)
				MongoRaise(MONGO_CANNOT_CREATE_INDEX,
						   "Index keys cannot contain an empty field.");
			if (part[0] == '$')
			{
				bool		dbref = i > 0 &&
					((plen == 3 && (strncmp(part, "$db", 3) == 0 ||
									strncmp(part, "$id", 3) == 0)) ||
					 (plen == 4 && strncmp(part, "$ref", 4) == 0));
				bool		wildcard = dot == NULL && plen == 3 &&
					strncmp(part, "$**", 3) == 0 && strcmp(plugin, "wildcard") == 0;

				if (!dbref && !wildcard)
					MongoRaise(MONGO_CANNOT_CREATE_INDEX,
							   "Index key contains an illegal field name: field name starts with '$'.");
			}
			if (dot == NULL)
				break;
			part = dot + 1;
		}
	}

	bson_iter_recurse(key, &k);
	while (bson_iter_next(&k))
		if (BSON_ITER_HOLDS_UTF8(&k) && bson_iter_utf8(&k, NULL)[0] == '\0')
			MongoRaise(MONGO_CANNOT_CREATE_INDEX,
					   "Values in the index key pattern cannot be empty strings");
}

/* ---- wildcard projections ---- */

/* One path of a wildcard projection, flattened */
typedef struct ProjectionPath
{
	char	   *path;
	bool		include;
} ProjectionPath;

/*
 * Flatten a projection into paths, as MongoDB's projection parser reads
 * it: values are numbers or bools (inclusion or exclusion) or nested
 * projections; anything else would be a computed field, which index
 * projections cannot have.
 */
static void
ProjectionFlatten(const bson_iter_t *doc, const char *prefix, List **paths)
{
	bson_iter_t f;
	bool		any = false;

	check_stack_depth();
	bson_iter_recurse(doc, &f);
	while (bson_iter_next(&f))
	{
		const char *k = bson_iter_key(&f);
		char	   *path = prefix != NULL ? psprintf("%s.%s", prefix, k) : pstrdup(k);

		any = true;
		if (k[0] == '$')
			MongoRaise(MONGO_BAD_VALUE,
					   "FieldPath field names may not start with '$'. Consider using $getField or $setField.");
		if (BsonIterIsNumber(&f) || BSON_ITER_HOLDS_BOOL(&f))
		{
			ProjectionPath *p = palloc(sizeof(ProjectionPath));

			p->path = path;
			p->include = OptionTruthy(&f);
			*paths = lappend(*paths, p);
		}
		else if (BSON_ITER_HOLDS_DOCUMENT(&f))
		{
			bson_iter_t first;

			bson_iter_recurse(&f, &first);
			if (bson_iter_next(&first) && bson_iter_key(&first)[0] == '$')
				MongoRaise(MONGO_PROJECTION_COMPUTED,
						   "Cannot use an expression in a wildcard projection: %s", path);
			ProjectionFlatten(&f, path, paths);
		}
		else
			MongoRaise(MONGO_PROJECTION_COMPUTED,
					   "Cannot add a computed field to a wildcard projection: %s", path);
	}
	if (!any && prefix != NULL)
		MongoRaise(MONGO_PROJECTION_EMPTY_SUB,
				   "An empty sub-projection is not a valid value. Found empty object at path");
}

/*
 * Check a wildcardProjection (its field type and placement were checked by
 * the caller): one mode (inclusion or exclusion, _id aside), no path that
 * is a prefix of another; in a compound wildcard index the projection
 * excludes every other key field.
 */
static void
CheckWildcardProjection(const bson_iter_t *key, const bson_iter_t *projection)
{
	List	   *paths = NIL;
	ListCell   *lc;
	ListCell   *lc2;
	int			mode = -1;		/* 1 inclusion, 0 exclusion */
	bson_iter_t k;
	int			nkeys = 0;

	ProjectionFlatten(projection, NULL, &paths);
	foreach(lc, paths)
	{
		ProjectionPath *p = lfirst(lc);
		size_t		plen = strlen(p->path);

		/* a path under or over an earlier one collides with it */
		foreach(lc2, paths)
		{
			ProjectionPath *q = lfirst(lc2);
			size_t		qlen = strlen(q->path);

			if (q == p)
				break;
			if (strncmp(p->path, q->path, qlen) == 0 &&
				(p->path[qlen] == '\0' || p->path[qlen] == '.'))
				MongoRaise(MONGO_PROJECTION_PATH_COLLISION,
						   "Path collision at %s remaining portion %s", p->path,
						   p->path[qlen] == '.' ? p->path + qlen + 1 : "");
			if (strncmp(q->path, p->path, plen) == 0 && q->path[plen] == '.')
				MongoRaise(MONGO_PROJECTION_PATH_PREFIX, "Path collision at %s", p->path);
		}

		if (strcmp(p->path, "_id") == 0)
			continue;
		if (mode == -1)
			mode = p->include ? 1 : 0;
		else if (mode == 1 && !p->include)
			MongoRaise(MONGO_PROJECTION_EXCLUSION_IN_INCLUSION,
					   "Cannot do exclusion on field %s in inclusion projection", p->path);
		else if (mode == 0 && p->include)
			MongoRaise(MONGO_PROJECTION_INCLUSION_IN_EXCLUSION,
					   "Cannot do inclusion on field %s in exclusion projection", p->path);
	}

	/* a compound wildcard index: the projection excludes the other fields */
	bson_iter_recurse(key, &k);
	while (bson_iter_next(&k))
		nkeys++;
	if (nkeys < 2)
		return;
	if (mode == 1)
		MongoRaise(MONGO_WILDCARD_INCLUSION,
				   "The wildcardProjection of a compound wildcard index must be an exclusion projection");
	bson_iter_recurse(key, &k);
	while (bson_iter_next(&k))
	{
		const char *field = bson_iter_key(&k);
		bool		excluded = false;

		if (IsWildcardField(field))
			continue;
		foreach(lc, paths)
		{
			ProjectionPath *p = lfirst(lc);
			size_t		plen = strlen(p->path);

			if (!p->include && strncmp(field, p->path, plen) == 0 &&
				(field[plen] == '\0' || field[plen] == '.'))
				excluded = true;
		}
		if (!excluded)
			MongoRaise(MONGO_WILDCARD_NOT_EXCLUDED,
					   "The wildcardProjection of a compound wildcard index must exclude the non-wildcard field '%s'",
					   field);
	}
}

/* ---- partial filters ---- */

/* Is a document an operator document ({$gt: 1}) rather than a value? */
static bool
IsOperatorDocument(const bson_iter_t *it)
{
	bson_iter_t f;
	const char *k;

	if (!BSON_ITER_HOLDS_DOCUMENT(it))
		return false;
	bson_iter_recurse(it, &f);
	if (!bson_iter_next(&f))
		return false;
	k = bson_iter_key(&f);
	return k[0] == '$' && strcmp(k, "$ref") != 0 && strcmp(k, "$id") != 0 &&
		strcmp(k, "$db") != 0;
}

/*
 * The query features a partial filter cannot use at all (MongoDB's parser
 * refuses them "in this context" before anything else is checked).
 */
static void
CheckPartialFeatures(const bson_iter_t *doc)
{
	bson_iter_t f;

	check_stack_depth();
	bson_iter_recurse(doc, &f);
	while (bson_iter_next(&f))
	{
		const char *k = bson_iter_key(&f);

		if (strcmp(k, "$expr") == 0 || strcmp(k, "$jsonSchema") == 0)
			MongoRaise(MONGO_QUERY_FEATURE_NOT_ALLOWED, "%s is not allowed in this context", k);
		if (strcmp(k, "$where") == 0 || strcmp(k, "$text") == 0)
			MongoRaise(MONGO_BAD_VALUE, "%s is not allowed in this context", k);
		if ((strcmp(k, "$and") == 0 || strcmp(k, "$or") == 0 || strcmp(k, "$nor") == 0) &&
			BSON_ITER_HOLDS_ARRAY(&f))
		{
			bson_iter_t e;

			bson_iter_recurse(&f, &e);
			while (bson_iter_next(&e))
				if (BSON_ITER_HOLDS_DOCUMENT(&e))
					CheckPartialFeatures(&e);
		}
		else if (k[0] != '$' && IsOperatorDocument(&f))
		{
			bson_iter_t op;

			bson_iter_recurse(&f, &op);
			while (bson_iter_next(&op))
			{
				const char *o = bson_iter_key(&op);

				if (strcmp(o, "$near") == 0 || strcmp(o, "$nearSphere") == 0 ||
					strcmp(o, "$geoNear") == 0)
					MongoRaise(MONGO_BAD_VALUE,
							   "$geoNear, $near, and $nearSphere are not allowed in this context");
			}
		}
	}
}

/*
 * The expressions a partial filter may have (MongoDB's
 * checkValidFilterExpressions): equality, $exists: true, $gt, $gte, $lt,
 * $lte, $type, $in without regular expressions, geo predicates, and $and
 * and $or of those.
 */
static void
CheckPartialExpressions(const bson_iter_t *doc)
{
	bson_iter_t f;

	check_stack_depth();
	bson_iter_recurse(doc, &f);
	while (bson_iter_next(&f))
	{
		const char *k = bson_iter_key(&f);

		if (strcmp(k, "$and") == 0 || strcmp(k, "$or") == 0)
		{
			bson_iter_t e;

			bson_iter_recurse(&f, &e);
			while (bson_iter_next(&e))
				CheckPartialExpressions(&e);
			continue;
		}
		if (strcmp(k, "$comment") == 0)
			continue;
		if (k[0] == '$')
			MongoRaise(MONGO_CANNOT_CREATE_INDEX,
					   "Expression not supported in partial index: %s", k);
		if (BSON_ITER_HOLDS_REGEX(&f))
			MongoRaise(MONGO_CANNOT_CREATE_INDEX,
					   "Expression not supported in partial index: %s regex", k);
		if (IsOperatorDocument(&f))
		{
			bson_iter_t op;

			bson_iter_recurse(&f, &op);
			while (bson_iter_next(&op))
			{
				const char *o = bson_iter_key(&op);
				bool		ok;

				ok = strcmp(o, "$eq") == 0 || strcmp(o, "$gt") == 0 ||
					strcmp(o, "$gte") == 0 || strcmp(o, "$lt") == 0 ||
					strcmp(o, "$lte") == 0 || strcmp(o, "$type") == 0 ||
					strcmp(o, "$geoWithin") == 0 || strcmp(o, "$geoIntersects") == 0 ||
					strcmp(o, "$within") == 0;
				if (strcmp(o, "$exists") == 0)
					ok = OptionTruthy(&op);
				else if (strcmp(o, "$in") == 0)
				{
					bson_iter_t e;

					ok = true;
					bson_iter_recurse(&op, &e);
					while (bson_iter_next(&e))
						if (BSON_ITER_HOLDS_REGEX(&e))
							ok = false;
				}
				if (!ok)
					MongoRaise(MONGO_CANNOT_CREATE_INDEX,
							   "Expression not supported in partial index: %s %s", k,
							   strcmp(o, "$exists") == 0 || strcmp(o, "$ne") == 0 ||
							   strcmp(o, "$nin") == 0 ? "$not" : o);
			}
		}
	}
}

/* ---- options of the index types ---- */

/* A number option that must be a whole number in [lo, hi] */
static bool
WholeInRange(const bson_iter_t *it, double lo, double hi)
{
	double		d = NAN;

	BsonIterAsDouble(it, &d);
	return !isnan(d) && d == floor(d) && d >= lo && d <= hi;
}

/* The options of a text index (MongoDB's FTSSpec::fixSpec) */
static void
CheckTextSpec(const bson_t *spec, const bson_iter_t *key)
{
	bson_iter_t k;
	bson_iter_t it;
	int			state = 0;		/* 0 before the text fields, 1 in them, 2 after */

	bson_iter_recurse(key, &k);
	while (bson_iter_next(&k))
	{
		bool		text = BSON_ITER_HOLDS_UTF8(&k);

		if (text && state == 2)
			MongoRaise(MONGO_CANNOT_CREATE_INDEX,
					   "text index fields must be adjacent in the key pattern");
		if (text)
			state = 1;
		else if (state == 1)
			state = 2;
	}

	if (bson_iter_init_find(&it, spec, "weights"))
	{
		bson_iter_t w;

		if (BSON_ITER_HOLDS_UTF8(&it))
		{
			if (strcmp(bson_iter_utf8(&it, NULL), "$**") != 0)
				MongoRaise(MONGO_CANNOT_CREATE_INDEX,
						   "text index option 'weights' must be an object or \"$**\"");
		}
		else if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			MongoRaise(MONGO_CANNOT_CREATE_INDEX,
					   "text index option 'weights' must be an object");
		bson_iter_recurse(&it, &w);
		while (bson_iter_next(&w))
		{
			const char *field = bson_iter_key(&w);
			double		d = NAN;

			if (!BsonIterAsDouble(&w, &d))
				MongoRaise(MONGO_CANNOT_CREATE_INDEX,
						   "weight for text index needs numeric type");
			if (!(d > 0 && d < 99999))
				MongoRaise(MONGO_CANNOT_CREATE_INDEX,
						   "text index weights must be in the exclusive interval (0,99999) but found %g for field '%s'",
						   d, field);
			if (field[0] == '\0' || (field[0] == '$' && strcmp(field, "$**") != 0))
				MongoRaise(MONGO_CANNOT_CREATE_INDEX,
						   "text index weight field names cannot be empty or start with '$': '%s'",
						   field);
		}
	}
	if (bson_iter_init_find(&it, spec, "default_language") &&
		!NameIn(bson_iter_utf8(&it, NULL), text_languages))
		MongoRaise(MONGO_CANNOT_CREATE_INDEX, "default_language is not valid: %s",
				   bson_iter_utf8(&it, NULL));
	if (bson_iter_init_find(&it, spec, "language_override"))
	{
		const char *o = bson_iter_utf8(&it, NULL);

		if (o[0] == '\0' || o[0] == '$' || strchr(o, '.') != NULL)
			MongoRaise(MONGO_CANNOT_CREATE_INDEX, "language_override is not valid: '%s'", o);
	}
	if (bson_iter_init_find(&it, spec, "textIndexVersion") && !WholeInRange(&it, 1, 3))
		MongoRaise(MONGO_CANNOT_CREATE_INDEX,
				   "Currently only textIndexVersion 1, 2 and 3 are supported");
}

/* The options of a 2dsphere index (MongoDB's S2AccessMethod::fixSpec) */
static void
Check2dsphereSpec(const bson_t *spec)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, spec, "2dsphereIndexVersion") && !WholeInRange(&it, 1, 3))
		MongoRaise(MONGO_CANNOT_CREATE_INDEX,
				   "unsupported geo index version { 2dsphereIndexVersion : %g }, only support versions: [1,2,3]",
				   IterNumber(&it));
	if (bson_iter_init_find(&it, spec, "coarsestIndexedLevel") && !WholeInRange(&it, 0, 30))
		MongoRaise(MONGO_CANNOT_CREATE_INDEX,
				   "coarsestIndexedLevel must be between 0 and 30");
	if (bson_iter_init_find(&it, spec, "finestIndexedLevel") && !WholeInRange(&it, 0, 30))
		MongoRaise(MONGO_CANNOT_CREATE_INDEX, "finestIndexedLevel must be between 0 and 30");
}

/* One weight of a text index */
typedef struct TextWeight
{
	const char *field;
	double		weight;
} TextWeight;

static int
TextWeightCompare(const void *a, const void *b)
{
	return strcmp(((const TextWeight *) a)->field, ((const TextWeight *) b)->field);
}

/*
 * The key of a text index as MongoDB records it: its text fields are one
 * key, {_fts: "text", _ftsx: 1}, where the first of them was (their names
 * go to the weights).
 */
static void
AppendTextKey(bson_t *out, const bson_iter_t *key)
{
	bson_t		k;
	bson_iter_t it;
	bool		text = false;

	BSON_APPEND_DOCUMENT_BEGIN(out, "key", &k);
	bson_iter_recurse(key, &it);
	while (bson_iter_next(&it))
	{
		if (BSON_ITER_HOLDS_UTF8(&it) && strcmp(bson_iter_utf8(&it, NULL), "text") == 0)
		{
			if (!text)
			{
				BSON_APPEND_UTF8(&k, "_fts", "text");
				BSON_APPEND_INT32(&k, "_ftsx", 1);
			}
			text = true;
			continue;
		}
		bson_append_iter(&k, NULL, 0, &it);
	}
	bson_append_document_end(out, &k);
}

/*
 * The options of a text index as MongoDB records them: the weights of all
 * its fields (1 unless given; sorted by field), default_language,
 * language_override and textIndexVersion with their defaults.
 */
static void
AppendTextOptions(bson_t *out, const bson_iter_t *key, const bson_t *spec)
{
	TextWeight *weights;
	int			n = 0;
	int			max = 8;
	bson_iter_t it;
	bson_t		w;

	weights = palloc(sizeof(TextWeight) * max);
	bson_iter_recurse(key, &it);
	while (bson_iter_next(&it))
	{
		if (!BSON_ITER_HOLDS_UTF8(&it) || strcmp(bson_iter_utf8(&it, NULL), "text") != 0)
			continue;
		if (n == max)
			weights = repalloc(weights, sizeof(TextWeight) * (max *= 2));
		weights[n].field = bson_iter_key(&it);
		weights[n++].weight = 1;
	}
	if (bson_iter_init_find(&it, spec, "weights"))
	{
		bson_iter_t e;

		if (BSON_ITER_HOLDS_UTF8(&it))
		{
			if (n == max)
				weights = repalloc(weights, sizeof(TextWeight) * (max *= 2));
			weights[n].field = "$**";
			weights[n++].weight = 1;
		}
		bson_iter_recurse(&it, &e);
		while (bson_iter_next(&e))
		{
			int			i;

			for (i = 0; i < n; i++)
				if (strcmp(weights[i].field, bson_iter_key(&e)) == 0)
					break;
			if (i == n)
			{
				if (n == max)
					weights = repalloc(weights, sizeof(TextWeight) * (max *= 2));
				n++;
			}
			weights[i].field = bson_iter_key(&e);
			weights[i].weight = IterNumber(&e);
		}
	}
	qsort(weights, n, sizeof(TextWeight), TextWeightCompare);
	BSON_APPEND_DOCUMENT_BEGIN(out, "weights", &w);
	for (int i = 0; i < n; i++)
	{
		if (weights[i].weight == floor(weights[i].weight))
			BSON_APPEND_INT32(&w, weights[i].field, (int32) weights[i].weight);
		else
			BSON_APPEND_DOUBLE(&w, weights[i].field, weights[i].weight);
	}
	bson_append_document_end(out, &w);
	BSON_APPEND_UTF8(out, "default_language",
					 bson_iter_init_find(&it, spec, "default_language") ?
					 bson_iter_utf8(&it, NULL) : "english");
	BSON_APPEND_UTF8(out, "language_override",
					 bson_iter_init_find(&it, spec, "language_override") ?
					 bson_iter_utf8(&it, NULL) : "language");
	BSON_APPEND_INT32(out, "textIndexVersion",
					  bson_iter_init_find(&it, spec, "textIndexVersion") ?
					  (int32) IterNumber(&it) : 3);
}

/* ---- TTL ---- */

/*
 * expireAfterSeconds: a number, not NaN, within a 32-bit integer (as
 * MongoDB's safe conversions take it), not negative.
 */
static void
CheckExpireAfterSeconds(const bson_iter_t *it)
{
	double		d;

	if (!BsonIterIsNumber(it))
		MongoRaise(MONGO_CANNOT_CREATE_INDEX,
				   "TTL index 'expireAfterSeconds' option must be numeric, but received a type of '%s'",
				   BsonTypeName(bson_iter_type(it)));
	d = IterNumber(it);
	if (isnan(d))
		MongoRaise(MONGO_CANNOT_CREATE_INDEX,
				   "TTL index 'expireAfterSeconds' option must not be NaN");
	d = BSON_ITER_HOLDS_DECIMAL128(it) ? rint(d) : trunc(d);
	if (d < INT32_MIN || d > INT32_MAX)
		MongoRaise(MONGO_CANNOT_CREATE_INDEX,
				   "TTL index 'expireAfterSeconds' must be within the range of a 32-bit integer");
	if (d < 0)
		MongoRaise(MONGO_CANNOT_CREATE_INDEX,
				   "TTL index 'expireAfterSeconds' option cannot be less than 0");
}

/* ---- collations ---- */

/*
 * Append the full form of a collation, as MongoDB records it in an index
 * spec (every option with its default), or nothing for the simple one.
 * The collation is checked (and its errors raised) by compiling it.
 */
static void
AppendFullCollation(bson_t *out, const uint8_t *data, uint32_t len)
{
	BsonCollation *compiled = CompileCollation(data, len);
	bson_t		in;
	bson_iter_t it;
	bson_t		c;
	const char *locale = "";
	bool		case_level = false,
				numeric = false,
				normalization = false,
				backwards = false;
	const char *case_first = "off",
			   *alternate = "non-ignorable",
			   *max_variable = "punct";
	int32		strength = 3;

	if (compiled == NULL)
		return;
	BsonCollationFree(compiled);
	if (!bson_init_static(&in, data, len) || !bson_iter_init(&it, &in))
		return;
	while (bson_iter_next(&it))
	{
		const char *k = bson_iter_key(&it);

		if (strcmp(k, "locale") == 0 && BSON_ITER_HOLDS_UTF8(&it))
			locale = bson_iter_utf8(&it, NULL);
		else if (strcmp(k, "caseLevel") == 0)
			case_level = OptionTruthy(&it);
		else if (strcmp(k, "caseFirst") == 0 && BSON_ITER_HOLDS_UTF8(&it))
			case_first = bson_iter_utf8(&it, NULL);
		else if (strcmp(k, "strength") == 0 && BsonIterIsNumber(&it))
			strength = (int32) IterNumber(&it);
		else if (strcmp(k, "numericOrdering") == 0)
			numeric = OptionTruthy(&it);
		else if (strcmp(k, "alternate") == 0 && BSON_ITER_HOLDS_UTF8(&it))
			alternate = bson_iter_utf8(&it, NULL);
		else if (strcmp(k, "maxVariable") == 0 && BSON_ITER_HOLDS_UTF8(&it))
			max_variable = bson_iter_utf8(&it, NULL);
		else if (strcmp(k, "normalization") == 0)
			normalization = OptionTruthy(&it);
		else if (strcmp(k, "backwards") == 0)
			backwards = OptionTruthy(&it);
	}
	BSON_APPEND_DOCUMENT_BEGIN(out, "collation", &c);
	BSON_APPEND_UTF8(&c, "locale", locale);
	BSON_APPEND_BOOL(&c, "caseLevel", case_level);
	BSON_APPEND_UTF8(&c, "caseFirst", case_first);
	BSON_APPEND_INT32(&c, "strength", strength);
	BSON_APPEND_BOOL(&c, "numericOrdering", numeric);
	BSON_APPEND_UTF8(&c, "alternate", alternate);
	BSON_APPEND_UTF8(&c, "maxVariable", max_variable);
	BSON_APPEND_BOOL(&c, "normalization", normalization);
	BSON_APPEND_BOOL(&c, "backwards", backwards);
	BSON_APPEND_UTF8(&c, "version", "57.1");
	bson_append_document_end(out, &c);
}

/* ---- a whole spec ---- */

/* The type checks of validateIndexSpec for the options that have one */
static void
CheckOptionType(const bson_iter_t *f)
{
	const char *k = bson_iter_key(f);

	if (strcmp(k, "background") == 0 || strcmp(k, "unique") == 0 ||
		strcmp(k, "sparse") == 0 || strcmp(k, "dropDups") == 0 ||
		strcmp(k, "prepareUnique") == 0 || strcmp(k, "clustered") == 0)
	{
		if (!BsonIterIsNumber(f) && !BSON_ITER_HOLDS_BOOL(f))
			MongoRaise(MONGO_TYPE_MISMATCH,
					   "The field '%s' has value of type %s, which is not convertible to bool",
					   k, BsonTypeName(bson_iter_type(f)));
	}
	else if (strcmp(k, "default_language") == 0 || strcmp(k, "language_override") == 0)
	{
		if (!BSON_ITER_HOLDS_UTF8(f))
			MongoRaise(MONGO_TYPE_MISMATCH, "The field '%s' must be a string, but got %s",
					   k, BsonTypeName(bson_iter_type(f)));
	}
	else if (strcmp(k, "2dsphereIndexVersion") == 0 || strcmp(k, "textIndexVersion") == 0 ||
			 strcmp(k, "bits") == 0 || strcmp(k, "min") == 0 || strcmp(k, "max") == 0 ||
			 strcmp(k, "coarsestIndexedLevel") == 0 || strcmp(k, "finestIndexedLevel") == 0)
	{
		if (!BsonIterIsNumber(f))
			MongoRaise(MONGO_TYPE_MISMATCH, "The field '%s' must be a number, but got %s",
					   k, BsonTypeName(bson_iter_type(f)));
	}
	else if (strcmp(k, "weights") == 0)
	{
		if (!BSON_ITER_HOLDS_DOCUMENT(f) && !BSON_ITER_HOLDS_ARRAY(f) && !BSON_ITER_HOLDS_UTF8(f))
			MongoRaise(MONGO_TYPE_MISMATCH, "The field '%s' must be an object, but got %s",
					   k, BsonTypeName(bson_iter_type(f)));
	}
	else if (strcmp(k, "hidden") == 0)
	{
		if (!BSON_ITER_HOLDS_BOOL(f))
			MongoRaise(MONGO_TYPE_MISMATCH, "The field '%s' must be a bool, but got %s",
					   k, BsonTypeName(bson_iter_type(f)));
	}
}

/* Is a key pattern the _id index's ({_id: 1} or {_id: -1})? */
static bool
IsIdKeyPattern(const bson_iter_t *key)
{
	bson_iter_t k;
	int64		v;

	bson_iter_recurse(key, &k);
	if (!bson_iter_next(&k) || strcmp(bson_iter_key(&k), "_id") != 0 ||
		!BsonIterIsNumber(&k))
		return false;
	v = (int64) IterNumber(&k);
	return (v == 1 || v == -1) && !bson_iter_next(&k);
}

static int
KeyFieldCount(const bson_iter_t *key)
{
	bson_iter_t k;
	int			n = 0;

	bson_iter_recurse(key, &k);
	while (bson_iter_next(&k))
		n++;
	return n;
}

/*
 * Validate one element of createIndexes' indexes (stages 1 to 3 of the
 * header comment) and build the spec as recorded in *out (initialized
 * here).  Returns whether it is the _id index's spec (which exists
 * already).
 */
bool
IndexSpecValidate(const bson_iter_t *elem, const IndexSpecContext *cx, bson_t *out)
{
	bson_t		spec;
	bson_iter_t f;
	bson_iter_t key;
	bson_iter_t it;
	const char *name = NULL;
	const char *plugin;
	bool		has_key = false;
	bool		is_id;
	int32		version = 2;
	const uint8_t *collation = NULL;
	uint32_t	collation_len = 0;
	bool		sparse = false,
				unique = false,
				prepare_unique = false;

	if (!BSON_ITER_HOLDS_DOCUMENT(elem))
		MongoRaise(MONGO_TYPE_MISMATCH, "The field 'indexes' must be an array of objects");

	/* unknown fields: refused, or dropped with ignoreUnknownIndexOptions */
	bson_init(&spec);
	bson_iter_recurse(elem, &f);
	while (bson_iter_next(&f))
	{
		if (!NameIn(bson_iter_key(&f), index_spec_fields))
		{
			if (cx->ignore_unknown)
				continue;
			MongoRaise(MONGO_INVALID_INDEX_SPEC_OPTION,
					   "The field '%s' is not valid for an index specification",
					   bson_iter_key(&f));
		}
		bson_append_iter(&spec, NULL, 0, &f);
	}

	/* each field, in order */
	bson_iter_init(&f, &spec);
	while (bson_iter_next(&f))
	{
		const char *k = bson_iter_key(&f);

		CheckOptionType(&f);
		if (strcmp(k, "key") == 0)
		{
			if (!BSON_ITER_HOLDS_DOCUMENT(&f))
				MongoRaise(MONGO_TYPE_MISMATCH, "The field 'key' must be an object, but got %s",
						   BsonTypeName(bson_iter_type(&f)));
			CheckKeyPattern(&f);
			if (strcmp(IndexKeyPlugin(&f), "wildcard") == 0 && KeyFieldCount(&f) > 1 &&
				!bson_iter_init_find(&it, &spec, "wildcardProjection"))
			{
				bson_iter_t k2;

				bson_iter_recurse(&f, &k2);
				if (bson_iter_find(&k2, "$**"))
					MongoRaise(MONGO_CANNOT_CREATE_INDEX,
							   "Compound wildcard indexes on all fields must also specify 'wildcardProjection' option");
			}
			key = f;
			has_key = true;
		}
		else if (strcmp(k, "name") == 0)
		{
			if (!BSON_ITER_HOLDS_UTF8(&f))
				MongoRaise(MONGO_TYPE_MISMATCH, "The field 'name' must be a string, but got %s",
						   BsonTypeName(bson_iter_type(&f)));
			name = bson_iter_utf8(&f, NULL);
		}
		else if (strcmp(k, "v") == 0)
		{
			double		d;

			if (!BsonIterIsNumber(&f))
				MongoRaise(MONGO_TYPE_MISMATCH, "The field 'v' must be a number, but got %s",
						   BsonTypeName(bson_iter_type(&f)));
			d = IterNumber(&f);
			if (isnan(d) || d != floor(d) || d < INT32_MIN || d > INT32_MAX)
				MongoRaise(MONGO_BAD_VALUE,
						   "Index version must be representable as a 32-bit integer");
			if (d != 1 && d != 2)
				MongoRaise(MONGO_CANNOT_CREATE_INDEX,
						   "Invalid index specification; cannot create an index with v=%d",
						   (int) d);
			version = (int32) d;
		}
		else if (strcmp(k, "originalSpec") == 0 || strcmp(k, "collation") == 0)
		{
			uint32_t	len;
			const uint8_t *data;

			if (!BSON_ITER_HOLDS_DOCUMENT(&f))
				MongoRaise(MONGO_TYPE_MISMATCH, "The field '%s' must be an object, but got %s",
						   k, BsonTypeName(bson_iter_type(&f)));
			bson_iter_document(&f, &len, &data);
			if (len <= 5)
				MongoRaise(MONGO_BAD_VALUE, "The field '%s' cannot be an empty object.", k);
			if (strcmp(k, "collation") == 0)
			{
				collation = data;
				collation_len = len;
			}
		}
		else if (strcmp(k, "partialFilterExpression") == 0)
		{
			if (!BSON_ITER_HOLDS_DOCUMENT(&f))
				MongoRaise(MONGO_TYPE_MISMATCH,
						   "The field 'partialFilterExpression' must be an object, but got %s",
						   BsonTypeName(bson_iter_type(&f)));
			CheckPartialFeatures(&f);
			{
				uint32_t	len;
				const uint8_t *data;

				bson_iter_document(&f, &len, &data);
				(void) CompileFilter(data, len);
			}
		}
		else if (strcmp(k, "wildcardProjection") == 0)
		{
			bson_iter_t skey;
			bson_iter_t star;
			uint32_t	len;
			const uint8_t *data;

			if (!bson_iter_init_find(&skey, &spec, "key") || !BSON_ITER_HOLDS_DOCUMENT(&skey) ||
				strcmp(IndexKeyPlugin(&skey), "wildcard") != 0)
				MongoRaise(MONGO_BAD_VALUE,
						   "The field 'wildcardProjection' is only allowed in 'wildcard' indexes");
			if (!BSON_ITER_HOLDS_DOCUMENT(&f))
				MongoRaise(MONGO_TYPE_MISMATCH,
						   "The field 'wildcardProjection' must be a non-empty object, but got %s",
						   BsonTypeName(bson_iter_type(&f)));
			bson_iter_recurse(&skey, &star);
			if (!bson_iter_find(&star, "$**"))
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "The field 'wildcardProjection' is only allowed when 'key' is {\"$**\": ±1}");
			bson_iter_document(&f, &len, &data);
			if (len <= 5)
				MongoRaise(MONGO_FAILED_TO_PARSE,
						   "The 'wildcardProjection' field can't be an empty object");
			CheckWildcardProjection(&skey, &f);
		}
		else if (strcmp(k, "storageEngine") == 0)
		{
			uint32_t	len;
			const uint8_t *data;

			if (!BSON_ITER_HOLDS_DOCUMENT(&f))
				MongoRaise(MONGO_CANNOT_CREATE_INDEX,
						   "\"storageEngine\" options must be a document if present");
			bson_iter_document(&f, &len, &data);
			if (len <= 5)
				MongoRaise(MONGO_CANNOT_CREATE_INDEX,
						   "Empty \"storageEngine\" options are invalid. Please remove the field or include valid options.");
			CheckStorageEngine(&f, true);
		}
		else if (strcmp(k, "unique") == 0)
			unique = OptionTruthy(&f);
		else if (strcmp(k, "sparse") == 0)
			sparse = OptionTruthy(&f);
		else if (strcmp(k, "prepareUnique") == 0)
			prepare_unique = OptionTruthy(&f);
	}
	if (!has_key)
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "The 'key' field is a required property of an index specification");
	if (name == NULL)
		MongoRaise(MONGO_FAILED_TO_PARSE,
				   "The 'name' field is a required property of an index specification");
	plugin = IndexKeyPlugin(&key);
	if (collation != NULL && version < 2)
		MongoRaise(MONGO_CANNOT_CREATE_INDEX,
				   "cannot create an index with the 'collation' option and v=%d", version);
	if (strcmp(plugin, "text") != 0 && bson_iter_init_find(&it, &spec, "weights"))
		MongoRaise(MONGO_CANNOT_CREATE_INDEX,
				   "the field 'weights' can only be specified with text indexes");
	if (unique && prepare_unique)
		MongoRaise(MONGO_CANNOT_CREATE_INDEX,
				   "cannot create an index with the 'unique' option and the 'prepareUnique' option");

	/* the _id index, and the names reserved for it and for "all indexes" */
	is_id = IsIdKeyPattern(&key);
	if (is_id)
	{
		bson_iter_t k;

		bson_iter_init(&f, &spec);
		while (bson_iter_next(&f))
			if (!NameIn(bson_iter_key(&f), id_index_spec_fields))
				MongoRaise(MONGO_INVALID_INDEX_SPEC_OPTION,
						   "The field '%s' is not valid for an _id index specification",
						   bson_iter_key(&f));
		bson_iter_recurse(&key, &k);
		bson_iter_next(&k);
		if (IterNumber(&k) != 1)
			MongoRaise(MONGO_BAD_VALUE,
					   "The field 'key' for an _id index must be {_id: 1}");
	}
	else
	{
		if (strcmp(name, "_id_") == 0)
			MongoRaise(MONGO_BAD_VALUE,
					   "The index name '_id_' is reserved for the _id index, which must have key pattern {_id: 1}");
		if (strcmp(name, "*") == 0)
			MongoRaise(MONGO_BAD_VALUE, "The index name '*' is not valid.");
	}

	/* TTL */
	if (bson_iter_init_find(&it, &spec, "expireAfterSeconds"))
	{
		CheckExpireAfterSeconds(&it);
		if (KeyFieldCount(&key) != 1)
			MongoRaise(MONGO_CANNOT_CREATE_INDEX,
					   "TTL indexes are single-field indexes, compound indexes do not support TTL");
	}

	/* time-series collections index their buckets */
	if (cx->timeseries)
	{
		if (bson_iter_init_find(&it, &spec, "unique") && OptionTruthy(&it))
			MongoRaise(MONGO_INVALID_OPTIONS,
					   "Unique indexes are not supported on time-series collections");
		if (sparse)
			MongoRaise(MONGO_INVALID_OPTIONS,
					   "Sparse indexes are not supported on time-series collections");
		if (strcmp(plugin, "wildcard") == 0)
			MongoRaise(MONGO_WILDCARD_TWO_WILDCARDS,
					   "A wildcard index can have only one wildcard field");
		if (strcmp(plugin, "hashed") == 0 || strcmp(plugin, "2d") == 0 ||
			strcmp(plugin, "text") == 0)
			MongoRaise(MONGO_CANNOT_CREATE_INDEX,
					   "Index type '%s' is not supported on time-series collections", plugin);
		if (bson_iter_init_find(&it, &spec, "expireAfterSeconds") &&
			!bson_iter_init_find(&it, &spec, "partialFilterExpression"))
			MongoRaise(MONGO_INVALID_OPTIONS,
					   "TTL indexes on time-series collections require a partialFilterExpression on the metaField");
	}

	/* the rules of the index types */
	if (name[0] == '\0')
		MongoRaise(MONGO_CANNOT_CREATE_INDEX, "index name cannot be empty");
	if (collation == NULL && cx->default_collation != NULL && version >= 2)
	{
		collation = cx->default_collation;
		collation_len = cx->default_collation_len;
	}
	if (collation != NULL)
	{
		BsonCollation *compiled = CompileCollation(collation, collation_len);

		if (compiled != NULL && strcmp(plugin, "") != 0 && strcmp(plugin, "2dsphere") != 0 &&
			strcmp(plugin, "hashed") != 0 && strcmp(plugin, "wildcard") != 0)
			MongoRaise(MONGO_CANNOT_CREATE_INDEX,
					   "Index type '%s' does not support collation", plugin);
		if (compiled == NULL)
			collation = NULL;
		BsonCollationFree(compiled);
	}
	if (strcmp(plugin, "wildcard") == 0)
	{
		if (sparse)
			MongoRaise(MONGO_CANNOT_CREATE_INDEX,
					   "Index type 'wildcard' does not support the 'sparse' option");
		if (unique)
			MongoRaise(MONGO_CANNOT_CREATE_INDEX,
					   "Index type 'wildcard' does not support the 'unique' option");
		if (bson_iter_init_find(&it, &spec, "expireAfterSeconds"))
			MongoRaise(MONGO_CANNOT_CREATE_INDEX,
					   "cannot make a TTL index :: caused by :: Index type 'wildcard' does not support the 'expireAfterSeconds' option");
		if (version < 2)
			MongoRaise(MONGO_CANNOT_CREATE_INDEX,
					   "Index type 'wildcard' is not allowed with index version v: %d", version);
	}
	if (bson_iter_init_find(&it, &spec, "partialFilterExpression"))
	{
		if (sparse)
			MongoRaise(MONGO_CANNOT_CREATE_INDEX,
					   "cannot mix \"partialFilterExpression\" and \"sparse\" options");
		CheckPartialExpressions(&it);
	}
	if (strcmp(plugin, "text") == 0)
		CheckTextSpec(&spec, &key);
	else if (strcmp(plugin, "2dsphere") == 0)
		Check2dsphereSpec(&spec);

	/* the spec as recorded: v, key, name, the options, the collation */
	bson_init(out);
	BSON_APPEND_INT32(out, "v", version);
	if (strcmp(plugin, "text") == 0)
		AppendTextKey(out, &key);
	else
		bson_append_iter(out, "key", 3, &key);
	BSON_APPEND_UTF8(out, "name", name);
	bson_iter_init(&f, &spec);
	while (bson_iter_next(&f))
	{
		const char *k = bson_iter_key(&f);

		if (strcmp(k, "key") == 0 || strcmp(k, "name") == 0 || strcmp(k, "v") == 0 ||
			strcmp(k, "ns") == 0 || strcmp(k, "collation") == 0)
			continue;
		if (strcmp(plugin, "text") == 0 &&
			(strcmp(k, "weights") == 0 || strcmp(k, "default_language") == 0 ||
			 strcmp(k, "language_override") == 0 || strcmp(k, "textIndexVersion") == 0))
			continue;
		bson_append_iter(out, NULL, 0, &f);
	}
	if (strcmp(plugin, "text") == 0)
		AppendTextOptions(out, &key, &spec);
	if (collation != NULL)
		AppendFullCollation(out, collation, collation_len);
	return is_id;
}

/* ---- comparing specs ---- */

/* Are two documents equal in MongoDB's comparison (1 equals 1.0)? */
static bool
DocumentsEquivalent(const bson_iter_t *a, const bson_iter_t *b)
{
	bson_iter_t x,
				y;

	if (!BSON_ITER_HOLDS_DOCUMENT(a) || !BSON_ITER_HOLDS_DOCUMENT(b))
		return false;
	bson_iter_recurse(a, &x);
	bson_iter_recurse(b, &y);
	for (;;)
	{
		bool		nx = bson_iter_next(&x);
		bool		ny = bson_iter_next(&y);

		if (nx != ny)
			return false;
		if (!nx)
			return true;
		if (strcmp(bson_iter_key(&x), bson_iter_key(&y)) != 0 ||
			BsonCompareValues(&x, &y) != 0)
			return false;
	}
}

/*
 * A key pattern as MongoDB keeps it: the text fields of a text index are
 * one key, {_fts: "text", _ftsx: 1}, where the first of them was.  The
 * result is a document {"k": <key>} so that callers iterate to its value.
 */
static bson_t *
NormalizedKey(const bson_iter_t *key)
{
	bson_t	   *wrap = bson_new();
	bson_t		k;
	bson_iter_t it;
	bool		text = false;

	BSON_APPEND_DOCUMENT_BEGIN(wrap, "k", &k);
	bson_iter_recurse(key, &it);
	if (bson_iter_find(&it, "_fts"))
		text = true;			/* recorded as MongoDB records it */
	bson_iter_recurse(key, &it);
	while (bson_iter_next(&it))
	{
		if (BSON_ITER_HOLDS_UTF8(&it) && strcmp(bson_iter_utf8(&it, NULL), "text") == 0 &&
			strcmp(bson_iter_key(&it), "_fts") != 0)
		{
			if (!text)
			{
				BSON_APPEND_UTF8(&k, "_fts", "text");
				BSON_APPEND_INT32(&k, "_ftsx", 1);
			}
			text = true;
			continue;
		}
		bson_append_iter(&k, NULL, 0, &it);
	}
	bson_append_document_end(wrap, &k);
	return wrap;
}

/* Do two key patterns name the same index key (text fields as one)? */
static bool
KeysEquivalent(const bson_iter_t *a, const bson_iter_t *b, bool normalize_b)
{
	bson_t	   *na = NormalizedKey(a);
	bson_t	   *nb = normalize_b ? NormalizedKey(b) : NULL;
	bson_iter_t ia,
				ib;
	bool		equal;

	bson_iter_init_find(&ia, na, "k");
	if (nb != NULL)
		bson_iter_init_find(&ib, nb, "k");
	else
		ib = *b;
	equal = DocumentsEquivalent(&ia, &ib);
	bson_destroy(na);
	if (nb != NULL)
		bson_destroy(nb);
	return equal;
}

/* Does a recorded spec have this key pattern (dropIndexes, collMod)? */
bool
IndexSpecHasKey(const bson_t *spec, const bson_iter_t *key)
{
	bson_iter_t k;

	return SpecKey(spec, &k) && KeysEquivalent(&k, key, false);
}

/* The full collation of a recorded spec (older specs kept it as given) */
static bson_t *
SpecCollation(const bson_t *spec)
{
	bson_iter_t it;
	bson_t	   *out = bson_new();
	uint32_t	len;
	const uint8_t *data;

	if (bson_iter_init_find(&it, spec, "collation") && BSON_ITER_HOLDS_DOCUMENT(&it))
	{
		bson_iter_document(&it, &len, &data);
		AppendFullCollation(out, data, len);
	}
	return out;
}

/* Is option `name` set the same way in both specs (a document option)? */
static bool
SameDocumentOption(const bson_t *a, const bson_t *b, const char *name)
{
	bson_iter_t x,
				y;
	bool		hx = bson_iter_init_find(&x, a, name);
	bool		hy = bson_iter_init_find(&y, b, name);

	if (hx != hy)
		return false;
	return !hx || DocumentsEquivalent(&x, &y);
}

/* Is boolean option `name` the same in both specs (absent: false)? */
static bool
SameBoolOption(const bson_t *a, const bson_t *b, const char *name)
{
	bson_iter_t x,
				y;
	bool		vx = bson_iter_init_find(&x, a, name) && OptionTruthy(&x);
	bool		vy = bson_iter_init_find(&y, b, name) && OptionTruthy(&y);

	return vx == vy;
}

/* Do the options outside the signature agree (as sets of fields)? */
static bool
SameOtherOptions(const bson_t *a, const bson_t *b)
{
	bson_iter_t x,
				y;
	int			na = 0,
				nb = 0;

	bson_iter_init(&x, a);
	while (bson_iter_next(&x))
	{
		if (NameIn(bson_iter_key(&x), signature_fields))
			continue;
		na++;
		if (!bson_iter_init_find(&y, b, bson_iter_key(&x)) || BsonCompareValues(&x, &y) != 0)
			return false;
	}
	bson_iter_init(&y, b);
	while (bson_iter_next(&y))
		if (!NameIn(bson_iter_key(&y), signature_fields))
			nb++;
	return na == nb;
}

/*
 * Compare a requested spec with a recorded one: the same index (identical,
 * or equivalent when options outside the signature differ), or different.
 */
IndexSpecMatch
IndexSpecCompare(const bson_t *a, const bson_t *b)
{
	bson_iter_t ka,
				kb;
	bson_t	   *ca,
			   *cb;
	bool		same;

	if (!SpecKey(a, &ka) || !SpecKey(b, &kb) || !KeysEquivalent(&ka, &kb, true))
		return INDEX_SPEC_DIFFERENT;
	ca = SpecCollation(a);
	cb = SpecCollation(b);
	same = ca->len == cb->len && memcmp(bson_get_data(ca), bson_get_data(cb), ca->len) == 0;
	bson_destroy(ca);
	bson_destroy(cb);
	if (!same || !SameDocumentOption(a, b, "partialFilterExpression") ||
		!SameBoolOption(a, b, "unique") || !SameBoolOption(a, b, "sparse") ||
		!SameDocumentOption(a, b, "wildcardProjection"))
		return INDEX_SPEC_DIFFERENT;
	return SameOtherOptions(a, b) ? INDEX_SPEC_IDENTICAL : INDEX_SPEC_EQUIVALENT;
}

/* The name of a recorded spec ("" when it has none) */
const char *
IndexSpecName(const bson_t *spec)
{
	bson_iter_t it;

	if (bson_iter_init_find(&it, spec, "name") && BSON_ITER_HOLDS_UTF8(&it))
		return bson_iter_utf8(&it, NULL);
	return "";
}

/* Is a recorded spec a text index? */
bool
IndexSpecIsText(const bson_t *spec)
{
	bson_iter_t k;

	return SpecKey(spec, &k) && strcmp(IndexKeyPlugin(&k), "text") == 0;
}

/*
 * What the index's access method checks when it is built (stage 5): the
 * number of key fields, hashed keys, a 2d index's bits and bounds.
 */
void
IndexSpecCheckBuild(const bson_t *spec)
{
	bson_iter_t key;
	bson_iter_t k;
	bson_iter_t it;
	const char *plugin;
	int			hashed = 0;

	if (!SpecKey(spec, &key))
		return;
	if (KeyFieldCount(&key) > INDEX_MAX_KEY_FIELDS)
		MongoRaise(MONGO_TOO_MANY_KEY_FIELDS,
				   "Index key pattern has more than %d fields", INDEX_MAX_KEY_FIELDS);
	plugin = IndexKeyPlugin(&key);
	if (strcmp(plugin, "hashed") == 0)
	{
		bson_iter_recurse(&key, &k);
		while (bson_iter_next(&k))
			if (BSON_ITER_HOLDS_UTF8(&k))
				hashed++;
		if (hashed > 1)
			MongoRaise(MONGO_HASHED_TWICE,
					   "A maximum of one index field is allowed to be hashed but found %d for 'key'",
					   hashed);
		if (bson_iter_init_find(&it, spec, "unique") && OptionTruthy(&it))
			MongoRaise(MONGO_HASHED_UNIQUE,
					   "Currently hashed indexes cannot guarantee uniqueness. Use a regular index.");
	}
	else if (strcmp(plugin, "2d") == 0)
	{
		double		min = -180,
					max = 180;

		if (bson_iter_init_find(&it, spec, "bits"))
		{
			double		bits = trunc(IterNumber(&it));

			if (!(bits >= 1 && bits <= 32))
				MongoRaise(MONGO_INVALID_OPTIONS,
						   "bits in geo index must be between 1 and 32");
		}
		if (bson_iter_init_find(&it, spec, "min"))
			min = IterNumber(&it);
		if (bson_iter_init_find(&it, spec, "max"))
			max = IterNumber(&it);
		if (!(max > min))
			MongoRaise(MONGO_INVALID_OPTIONS, "max must be greater than min");
	}
}
