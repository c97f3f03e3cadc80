/*-------------------------------------------------------------------------
 *
 * indexes.c
 *	  The PostgreSQL indexes behind MongoDB's index specs, and their use by
 *	  the queries of the commands.
 *
 * Which PostgreSQL index serves which MongoDB index:
 *
 * - Ascending/descending keys, single-field or compound: a btree over one
 *	 nosql.bson_index_key expression per field (index_key.c explains the
 *	 keys), with DESC where the spec says -1.  It serves equality, ranges
 *	 (both ends in one scan), $in, prefix regexes and compound prefixes,
 *	 and ordered scans for sorts; unique specs make it UNIQUE (MongoDB's
 *	 missing field is the key null, so two documents without the field
 *	 collide as in MongoDB), sparse specs make it partial (WHERE
 *	 nosql.bson_index_present(document, paths)) and partialFilterExpression
 *	 makes it partial on the filter (WHERE document @@ filter).  Documents
 *	 with an array on the index's paths have NULL keys: when the index has
 *	 any when it is built, a GIN index (bson_gin_ops restricted to the
 *	 index's paths) is built beside it for the array matches, and the
 *	 conditions on those paths go to it instead.  With a collation (the
 *	 spec's, or the collection's default it inherits) the key expressions
 *	 are nosql.bson_index_key(document, path, paths, collation): strings,
 *	 also inside embedded documents, become their ICU sort keys, so that
 *	 the btree compares them as the collation does.
 * - Hashed: a btree over nosql.bson_index_hash (bigint), for equality.
 * - Wildcard ($**, path.$**): a GIN index of bson_gin_ops over every path
 *	 (a superset of what the spec names; the matcher rechecks).
 * - Text, 2d and 2dsphere: recorded only (their queries scan).
 *
 * The PostgreSQL names are nosql_ix_<table oid>_<hash of the MongoDB
 * name>_<kind><hash of the definition>, so that a changed definition gets
 * a new index; hidden indexes are renamed nosql_hx_..., and the planner
 * hook below removes those from the planner's view (MongoDB's hidden
 * indexes are maintained but not used).
 *
 * A query's filter is split into its top-level conditions (through
 * $and).  Each condition on an indexed path becomes key conditions of one
 * index:
 *
 *	((k1 = $1 AND k2 > $2 AND k2 <= $3) OR
 *	 (k1 IS NULL AND document OPERATOR(nosql.@@) $4))
 *
 * where $4 holds the conditions the index answered; the conditions whose
 * key conditions are exact leave the filter, the rest stay in the
 * remaining filter, checked as document @@ $n.  PostgreSQL then chooses by
 * cost between the index (the expression statistics of the index give the
 * selectivities) and a scan.
 *
 * A query under a collation (its own or the collection's default) is
 * planned alike, its matcher being nosql.bson_matches(document, $n,
 * collation) in both places.  An index serves it where its keys compare as
 * the query does, MongoDB's rule: one with the query's collation (the same
 * ICU collator: BsonCollationEqual) serves every condition, the values
 * translated into sort keys by the function that builds the keys
 * (BsonCollationAppendKeyed); any other one, the primary key included,
 * only conditions whose values hold no string.  The ends of a type bracket
 * ("" and {} for strings) bound keyed strings as they bound strings, so
 * ranges stay within their type.  Prefix regexes compare bytes whatever
 * the collation, so their ranges need keys that are the strings: indexes
 * without a collation.  Sorts read an index with the query's collation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "funcapi.h"
#include "access/xact.h"
#include "utils/tuplestore.h"
#include "catalog/namespace.h"
#include "catalog/index.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "optimizer/plancat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "bson_compare.h"
#include "bson_json.h"
#include "documents.h"
#include "nosql.h"
#include "sort.h"

/* The kinds of PostgreSQL index behind a MongoDB index */
typedef enum IndexKind
{
	INDEX_NONE,					/* recorded only */
	INDEX_ORDERED,				/* btree over bson_index_key */
	INDEX_HASHED,				/* btree over bson_index_hash */
	INDEX_GIN					/* bson_gin_ops over every path */
} IndexKind;

/* A MongoDB index spec as far as its PostgreSQL index is concerned */
typedef struct IndexDef
{
	const char *name;			/* MongoDB name */
	IndexKind	kind;
	int			nfields;
	char	  **paths;
	bool	   *descending;
	bool		unique;
	bool		sparse;
	bool		hidden;
	bool		collated;		/* keys under a non-simple collation */
	BsonCollation *collation;	/* ... compiled, when collated */
	const uint8_t *key;			/* the key pattern document */
	uint32_t	key_len;
	const uint8_t *partial;		/* partialFilterExpression or NULL */
	uint32_t	partial_len;
	char	   *predicate;		/* WHERE clause of the index, or NULL */
	char	  **exprs;			/* key expression of each field */
	char	   *pgname;			/* the PostgreSQL index */
	char	   *companion;		/* its multikey GIN index (ordered) */
	char	   *trigger;		/* its unique-elements trigger, or NULL */
	char	   *trigger_sql;	/* CREATE TRIGGER ... */
	char	  **trigger_args;	/* its arguments */
	int			trigger_nargs;
	char	   *create;			/* CREATE INDEX ... with %s for the name */
	char	   *gin_paths;		/* wildcard: the paths option, NULL for all */
} IndexDef;

static get_relation_info_hook_type prev_get_relation_info_hook = NULL;

/*
 * nosql.create_indexes_sql() runs createIndexes with these set: IndexSync
 * then collects CREATE INDEX CONCURRENTLY statements instead of building.
 */
static bool index_dry_run = false;
static List *index_dry_run_statements = NIL;
static MemoryContext index_dry_run_context = NULL;

/* Whether IndexSync only collects statements (nosql.create_indexes_sql) */
bool
IndexDryRun(void)
{
	return index_dry_run;
}

/* Keep a statement of a dry run, with CONCURRENTLY after INDEX */
static void
DryRunAdd(const char *create)
{
	const char *at = strstr(create, "INDEX ");
	MemoryContext old = MemoryContextSwitchTo(index_dry_run_context);

	if (at == NULL)
		index_dry_run_statements = lappend(index_dry_run_statements, pstrdup(create));
	else
		index_dry_run_statements = lappend(index_dry_run_statements,
										   psprintf("%.*sINDEX CONCURRENTLY %s",
													(int) (at - create), create, at + 6));
	MemoryContextSwitchTo(old);
}

static void DescribeDuplicate(const bson_t *pattern, const char *detail, const Collection *c,
							  const char *mongo_name, char **message, bson_t **extra);

/* ---- index definitions ---- */

/* path as a SQL string literal */
static char *
Lit(const char *s)
{
	return quote_literal_cstr(s);
}

/* ARRAY['a', 'b.c']::text[] */
static char *
PathsArray(const IndexDef *d)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfoString(&s, "ARRAY[");
	for (int i = 0; i < d->nfields; i++)
		appendStringInfo(&s, "%s%s", i > 0 ? ", " : "", Lit(d->paths[i]));
	appendStringInfoString(&s, "]::text[]");
	return s.data;
}

/* The canonical extended JSON text of a document, as a bson literal */
static char *
BsonLiteral(const uint8_t *data, uint32_t len)
{
	Bson	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), data, len);
	return psprintf("%s::nosql.bson", Lit(BsonToCString(b, BSON_JSON_CANONICAL)));
}

/* The key pattern of a definition as Extended JSON text */
static char *
KeyPatternJson(const IndexDef *d)
{
	Bson	   *kp = palloc(VARHDRSZ + d->key_len);

	SET_VARSIZE(kp, VARHDRSZ + d->key_len);
	memcpy(VARDATA(kp), d->key, d->key_len);
	return BsonToCString(kp, BSON_JSON_RELAXED);
}

/* Whether a collation document is a non-simple one */
static bool
CollationNonSimple(const bson_iter_t *it)
{
	bson_iter_t c;

	if (!BSON_ITER_HOLDS_DOCUMENT(it) || !bson_iter_recurse(it, &c))
		return false;
	if (bson_iter_find(&c, "locale") && BSON_ITER_HOLDS_UTF8(&c) &&
		strcmp(bson_iter_utf8(&c, NULL), "simple") == 0)
		return false;
	return true;
}

/*
 * Parse one index spec; NULL when it has no usable key or name (specs are
 * validated when they are created, so this only guards).
 */
/*
 * The paths option of the GIN of a wildcard index: "a.$**" for a key
 * a.$**, one "f.$**" per field of an inclusion wildcardProjection of $**,
 * plain paths for the other fields of a compound wildcard key; NULL for
 * every path ($** alone or with an exclusion projection, and paths the
 * option cannot spell).
 */
static char *
WildcardPaths(const IndexDef *d, const bson_iter_t *projection)
{
	StringInfoData out;

	initStringInfo(&out);
	for (int i = 0; i < d->nfields; i++)
	{
		const char *path = d->paths[i];
		if (strchr(path, ',') != NULL)
			return NULL;
		if (strcmp(path, "$**") == 0)
		{
			bson_iter_t p;
			bool		any = false;

			if (projection == NULL || !bson_iter_recurse(projection, &p))
				return NULL;
			while (bson_iter_next(&p))
			{
				const char *f = bson_iter_key(&p);

				if (strchr(f, ',') != NULL)
					return NULL;
				/* an exclusion (other than _id's) leaves everything else */
				if (!bson_iter_as_bool(&p))
				{
					if (strcmp(f, "_id") == 0)
						continue;
					return NULL;
				}
				appendStringInfo(&out, "%s%s.$**", out.len > 0 ? "," : "", f);
				any = true;
			}
			if (!any)
				return NULL;
		}
		else
			appendStringInfo(&out, "%s%s", out.len > 0 ? "," : "", path);	/* a.$** or a plain field */
	}
	/* the option's syntax: comma-separated, no blanks at the ends, no "$" components */
	if (strpbrk(out.data, " \t\n") != NULL || strstr(out.data, ",,") != NULL)
		return NULL;
	for (const char *c = out.data; *c; c++)
		if (*c == '$' && !(strncmp(c, "$**", 3) == 0 && (c == out.data || c[-1] == '.')))
			return NULL;
	return out.data;
}

static IndexDef *
IndexDefParse(const Collection *c, const bson_iter_t *spec)
{
	IndexDef   *d = palloc0(sizeof(IndexDef));
	bson_iter_t f;
	bson_iter_t key;
	bool		has_key = false;
	bool		collated = false;
	char	   *collation_literal = NULL;
	const uint8_t *collation_data = NULL;
	uint32_t	collation_len = 0;
	bool		wildcard = false;
	bool		has_projection = false;
	bson_iter_t projection;
	bool		special = false;
	bool		hashed = false;
	int			n = 0;
	uint32		namehash;
	uint32		defhash;
	StringInfoData sql;
	char		letter;

	if (!BSON_ITER_HOLDS_DOCUMENT(spec) || !bson_iter_recurse(spec, &f))
		return NULL;
	while (bson_iter_next(&f))
	{
		const char *k = bson_iter_key(&f);

		if (strcmp(k, "name") == 0 && BSON_ITER_HOLDS_UTF8(&f))
			d->name = bson_iter_utf8(&f, NULL);
		else if (strcmp(k, "key") == 0 && BSON_ITER_HOLDS_DOCUMENT(&f))
		{
			key = f;
			has_key = true;
		}
		else if (strcmp(k, "unique") == 0)
			d->unique = bson_iter_as_bool(&f);
		else if (strcmp(k, "sparse") == 0)
			d->sparse = bson_iter_as_bool(&f);
		else if (strcmp(k, "hidden") == 0)
			d->hidden = bson_iter_as_bool(&f);
		else if (strcmp(k, "collation") == 0 && (collated = CollationNonSimple(&f)))
		{
			bson_iter_document(&f, &collation_len, &collation_data);
			collation_literal = BsonLiteral(collation_data, collation_len);
		}
		else if (strcmp(k, "partialFilterExpression") == 0 && BSON_ITER_HOLDS_DOCUMENT(&f))
			bson_iter_document(&f, &d->partial_len, &d->partial);
		else if (strcmp(k, "wildcardProjection") == 0 && BSON_ITER_HOLDS_DOCUMENT(&f))
		{
			projection = f;
			has_projection = true;
		}
	}
	if (d->name == NULL || !has_key)
		return NULL;
	bson_iter_document(&key, &d->key_len, &d->key);

	/* the key pattern */
	{
		bson_iter_t k;
		int			count = 0;

		bson_iter_recurse(&key, &k);
		while (bson_iter_next(&k))
			count++;
		d->paths = palloc(sizeof(char *) * Max(count, 1));
		d->descending = palloc0(sizeof(bool) * Max(count, 1));
		bson_iter_recurse(&key, &k);
		while (bson_iter_next(&k))
		{
			const char *path = bson_iter_key(&k);
			double		dir;

			if (strstr(path, "$**") != NULL)
				wildcard = true;
			else if (BSON_ITER_HOLDS_UTF8(&k))
			{
				if (strcmp(bson_iter_utf8(&k, NULL), "hashed") == 0)
					hashed = true;
				else
					special = true;
			}
			else if (BsonIterAsDouble(&k, &dir) && dir != 0)
				d->descending[n] = dir < 0;
			else
				special = true;
			d->paths[n++] = pstrdup(path);
		}
		d->nfields = n;
	}
	if (n == 0)
		return NULL;

	if (special)
		d->kind = INDEX_NONE;
	else if (wildcard)
		d->kind = INDEX_GIN;
	else if (hashed)
		d->kind = (n == 1) ? INDEX_HASHED : INDEX_NONE;
	else
		d->kind = INDEX_ORDERED;
	d->collated = collated && d->kind == INDEX_ORDERED;
	if (d->kind == INDEX_NONE)
		return d;
	/* the collator of the keys, for comparing with a query's collation */
	if (d->collated)
		d->collated = (d->collation = CompileCollation(collation_data, collation_len)) != NULL;

	/* the index's predicate */
	if (d->partial != NULL)
		d->predicate = psprintf("document OPERATOR(nosql.@@) %s",
								BsonLiteral(d->partial, d->partial_len));
	else if (d->sparse && d->kind != INDEX_GIN)
		d->predicate = psprintf("nosql.bson_index_present(document, %s)", PathsArray(d));

	/* the key expressions and the CREATE INDEX */
	d->exprs = palloc(sizeof(char *) * n);
	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE %sINDEX %%s ON %s ", d->unique ? "UNIQUE " : "",
					 c->qualified);
	switch (d->kind)
	{
		case INDEX_ORDERED:
			letter = 'b';
			appendStringInfoChar(&sql, '(');
			for (int i = 0; i < n; i++)
			{
				if (d->collated)
					d->exprs[i] = psprintf("nosql.bson_index_key(document, %s::text, %s, %s)",
										   Lit(d->paths[i]), PathsArray(d), collation_literal);
				else if (n == 1)
					d->exprs[i] = psprintf("nosql.bson_index_key(document, %s::text)",
										   Lit(d->paths[i]));
				else
					d->exprs[i] = psprintf("nosql.bson_index_key(document, %s::text, %s)",
										   Lit(d->paths[i]), PathsArray(d));
				appendStringInfo(&sql, "%s%s%s", i > 0 ? ", " : "", d->exprs[i],
								 d->descending[i] ? " DESC" : "");
			}
			appendStringInfoChar(&sql, ')');
			break;
		case INDEX_HASHED:
			letter = 'h';
			d->exprs[0] = psprintf("nosql.bson_index_hash(document, %s::text)", Lit(d->paths[0]));
			appendStringInfo(&sql, "(%s)", d->exprs[0]);
			break;
		default:
			{
				char	   *paths = WildcardPaths(d, has_projection ? &projection : NULL);

				d->gin_paths = paths;
				letter = 'g';
				if (paths != NULL)
					appendStringInfo(&sql, "USING gin (document nosql.bson_gin_ops (paths = %s))",
									 Lit(paths));
				else
					appendStringInfoString(&sql, "USING gin (document nosql.bson_gin_ops)");
				break;
			}
	}
	if (d->predicate != NULL)
		appendStringInfo(&sql, " WHERE %s", d->predicate);
	d->create = sql.data;

	namehash = hash_bytes((const unsigned char *) d->name, strlen(d->name));
	defhash = hash_bytes((const unsigned char *) sql.data, sql.len);
	d->pgname = psprintf("nosql_%cx_%u_%08x_%c%08x", d->hidden ? 'h' : 'i', c->relid,
						 namehash, letter, defhash);
	if (d->kind == INDEX_ORDERED)
		d->companion = psprintf("nosql_%cx_%u_%08x_m%08x", d->hidden ? 'h' : 'i', c->relid,
								namehash, defhash);
	if (d->kind == INDEX_ORDERED && d->unique)
	{
		StringInfoData exprs;
		char	   *collation_json = "";

		if (d->collated)
		{
			Bson	   *cd = palloc(VARHDRSZ + collation_len);

			SET_VARSIZE(cd, VARHDRSZ + collation_len);
			memcpy(VARDATA(cd), collation_data, collation_len);
			collation_json = BsonToCString(cd, BSON_JSON_RELAXED);
		}
		initStringInfo(&exprs);
		for (int i = 0; i < n; i++)
			appendStringInfo(&exprs, ", %s", Lit(d->exprs[i]));
		d->trigger_nargs = 5 + n;
		d->trigger_args = palloc(sizeof(char *) * d->trigger_nargs);
		d->trigger_args[0] = (char *) d->name;
		d->trigger_args[1] = d->paths[0];
		d->trigger_args[2] = KeyPatternJson(d);
		d->trigger_args[3] = d->predicate != NULL ? d->predicate : "";
		d->trigger_args[4] = collation_json;
		for (int i = 0; i < n; i++)
			d->trigger_args[5 + i] = d->exprs[i];
		d->trigger = psprintf("nosql_uq_%u_%08x_%08x", c->relid, namehash, defhash);
		d->trigger_sql = psprintf("CREATE TRIGGER %s AFTER INSERT OR UPDATE OF document ON %s "
								  "FOR EACH ROW EXECUTE FUNCTION nosql.bson_unique_multikey(%s, %s, %s, %s, %s%s)",
								  quote_identifier(d->trigger), c->qualified, Lit(d->name),
								  Lit(d->paths[0]), Lit(KeyPatternJson(d)),
								  Lit(d->predicate != NULL ? d->predicate : ""),
								  Lit(collation_json), exprs.data);
	}
	return d;
}

/* The definitions of a collection's index specs (kinds other than NONE) */
static List *
IndexDefs(const Collection *c)
{
	List	   *defs = NIL;
	bson_iter_t it;

	if (c->indexes == NULL || !bson_iter_init(&it, c->indexes))
		return NIL;
	while (bson_iter_next(&it))
	{
		IndexDef   *d = IndexDefParse(c, &it);

		if (d != NULL && d->kind != INDEX_NONE)
			defs = lappend(defs, d);
	}
	return defs;
}

/*
 * The definitions of a collection's specs for planning, kept per backend:
 * every find would otherwise parse the specs and build their CREATE INDEX
 * texts again.  An entry is valid while the collection's table, name and
 * spec bytes are the same; the last few collections are kept.
 */
#define DEFS_CACHE_SIZE 16

typedef struct IndexDefsCacheEntry
{
	Oid			relid;
	char	   *qualified;
	uint32_t	len;
	uint8_t    *bytes;
	List	   *defs;
	MemoryContext context;		/* holds all of the above */
} IndexDefsCacheEntry;

static IndexDefsCacheEntry defs_cache[DEFS_CACHE_SIZE];
static int	defs_cache_next = 0;

static List *
IndexDefsCached(const Collection *c)
{
	const uint8_t *bytes;
	uint32_t	len;
	IndexDefsCacheEntry *e;
	MemoryContext old;
	Collection	copy;
	bson_t		specs;

	if (c->indexes == NULL)
		return NIL;
	bytes = bson_get_data(c->indexes);
	len = c->indexes->len;
	for (int i = 0; i < DEFS_CACHE_SIZE; i++)
	{
		e = &defs_cache[i];
		if (e->context != NULL && e->relid == c->relid && e->len == len &&
			strcmp(e->qualified, c->qualified) == 0 && memcmp(e->bytes, bytes, len) == 0)
			return e->defs;
	}
	e = &defs_cache[defs_cache_next];
	defs_cache_next = (defs_cache_next + 1) % DEFS_CACHE_SIZE;
	if (e->context == NULL)
		e->context = AllocSetContextCreate(CacheMemoryContext, "nosql index definitions",
										   ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(e->context);
	e->defs = NIL;
	e->len = 0;
	old = MemoryContextSwitchTo(e->context);
	e->relid = c->relid;
	e->qualified = pstrdup(c->qualified);
	e->bytes = palloc(len);
	memcpy(e->bytes, bytes, len);
	/* the definitions point into the kept copy of the specs */
	copy = *c;
	if (!bson_init_static(&specs, e->bytes, len))
		elog(ERROR, "corrupt index specs");
	copy.indexes = &specs;
	copy.qualified = e->qualified;
	e->defs = IndexDefs(&copy);
	e->len = len;
	MemoryContextSwitchTo(old);
	return e->defs;
}

/* The same name under the other visibility (nosql_ix_ <-> nosql_hx_) */
static char *
TwinName(const char *name)
{
	char	   *twin = pstrdup(name);

	if (strncmp(twin, "nosql_ix_", 9) == 0)
		twin[6] = 'h';
	else if (strncmp(twin, "nosql_hx_", 9) == 0)
		twin[6] = 'i';
	return twin;
}

static bool
NameIn(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp((char *) lfirst(lc), name) == 0)
			return true;
	return false;
}

static void
ExecUtility(const char *sql)
{
	int			rc = SPI_execute(sql, false, 0);

	if (rc != SPI_OK_UTILITY)
		elog(ERROR, "could not run \"%s\": %s", sql, SPI_result_code_string(rc));
}

/*
 * Whether an ordered index holds NULL keys (documents with arrays, or
 * values too large for a key); with multikey, whether it holds documents
 * with arrays.
 */
static bool
IndexHasNullKeys(const Collection *c, const IndexDef *d, bool multikey)
{
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT 1 FROM %s WHERE %s IS NULL", c->qualified, d->exprs[0]);
	if (multikey)
		appendStringInfo(&sql, " AND nosql.bson_index_multikey(document, %s)", PathsArray(d));
	if (d->predicate != NULL)
		appendStringInfo(&sql, " AND %s", d->predicate);
	appendStringInfoString(&sql, " LIMIT 1");
	if (SPI_execute(sql.data, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not probe the index %s", d->pgname);
	return SPI_processed > 0;
}

/*
 * Build the PostgreSQL index of a spec; a unique index over duplicate keys
 * fails with MongoDB's error 11000 naming the key.
 */
static void
IndexBuild(const Collection *c, const IndexDef *d)
{
	MemoryContext caller = CurrentMemoryContext;

	if (index_dry_run)
	{
		DryRunAdd(psprintf(d->create, quote_identifier(d->pgname)));
		return;
	}
	PG_TRY();
	{
		ExecUtility(psprintf(d->create, quote_identifier(d->pgname)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		char	   *message;
		bson_t	   *extra;
		bson_t		pattern;

		MemoryContextSwitchTo(caller);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_UNIQUE_VIOLATION)
			PG_RE_THROW();
		FlushErrorState();
		if (bson_init_static(&pattern, d->key, d->key_len))
		{
			DescribeDuplicate(&pattern, edata->detail, c, d->name, &message, &extra);
			MongoRaiseExtra(MONGO_DUPLICATE_KEY, extra,
							"Index build failed: %s.%s :: caused by :: %s",
							c->database, c->name, message);
		}
		ReThrowError(edata);
	}
	PG_END_TRY();
}

static void UniqueMultikeyCheck(Relation rel, const char *relname, char **args, int nargs,
								Bson *doc, bool lock);

/*
 * A unique single-field index built over documents with arrays: their
 * elements must be unique keys too (MongoDB refuses the build, 11000).
 */
static void
UniqueValidateExisting(const Collection *c, const IndexDef *d)
{
	List	   *docs = NIL;
	MemoryContext caller = CurrentMemoryContext;
	Relation	rel;
	ListCell   *lc;

	if (SPI_execute(psprintf("SELECT document FROM %s WHERE %s IS NULL AND "
							 "nosql.bson_index_multikey(document, %s)%s%s",
							 c->qualified, d->exprs[0], PathsArray(d),
							 d->predicate != NULL ? " AND " : "",
							 d->predicate != NULL ? d->predicate : ""), true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read the multikey documents of %s", c->qualified);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		v = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		MemoryContext old = MemoryContextSwitchTo(caller);

		if (!isnull)
			docs = lappend(docs, PG_DETOAST_DATUM_COPY(v));
		MemoryContextSwitchTo(old);
	}
	if (docs == NIL)
		return;
	rel = table_open(c->relid, AccessShareLock);
	foreach(lc, docs)
		UniqueMultikeyCheck(rel, c->qualified, d->trigger_args, d->trigger_nargs,
							(Bson *) lfirst(lc), false);
	table_close(rel, AccessShareLock);
}

/* CREATE INDEX of the multikey GIN beside an ordered index */
static char *
CompanionCreate(const Collection *c, const IndexDef *d)
{
	StringInfoData paths;

	initStringInfo(&paths);
	for (int i = 0; i < d->nfields; i++)
		appendStringInfo(&paths, "%s%s", i > 0 ? "," : "", d->paths[i]);
	return psprintf("CREATE INDEX %s ON %s USING gin "
					"(document nosql.bson_gin_ops (paths = %s))%s%s",
					quote_identifier(d->companion), c->qualified,
					Lit(paths.data),
					d->predicate != NULL ? " WHERE " : "",
					d->predicate != NULL ? d->predicate : "");
}

static bool CompanionExists(const IndexDef *d);

/* Whether a PostgreSQL index is one of the specs being built in the background */
static bool
BuildingOwns(List *building, const char *pgname)
{
	ListCell   *lc;

	foreach(lc, building)
	{
		IndexDef   *d = (IndexDef *) lfirst(lc);

		if (strcmp(d->pgname, pgname) == 0 || strcmp(TwinName(d->pgname), pgname) == 0 ||
			(d->companion != NULL && (strcmp(d->companion, pgname) == 0 ||
									  strcmp(TwinName(d->companion), pgname) == 0)))
			return true;
	}
	return false;
}

/* Whether an array of specs has one of that name (one IndexDefs skips) */
static bool
IndexSpecNamed(const bson_t *specs, const char *name)
{
	bson_iter_t it;

	if (specs == NULL || !bson_iter_init(&it, specs))
		return false;
	while (bson_iter_next(&it))
	{
		bson_iter_t n;
		bson_t		spec;
		uint32_t	len;
		const uint8_t *data;

		if (!BSON_ITER_HOLDS_DOCUMENT(&it))
			continue;
		bson_iter_document(&it, &len, &data);
		if (bson_init_static(&spec, data, len) && bson_iter_init_find(&n, &spec, "name") &&
			BSON_ITER_HOLDS_UTF8(&n) && strcmp(bson_iter_utf8(&n, NULL), name) == 0)
			return true;
	}
	return false;
}

/*
 * The CREATE INDEX CONCURRENTLY statements that build one index spec of a
 * collection (index_build.c runs them): its btree or GIN, and the
 * multikey GIN beside an ordered index when documents have arrays; each
 * preceded by dropping what an interrupted build left.  Needs SPI.
 */
List *
IndexConcurrentStatements(const Collection *c, const char *name, bool companion_only)
{
	List	   *defs = IndexDefs(c);
	List	   *out = NIL;
	ListCell   *lc;

	foreach(lc, defs)
	{
		IndexDef   *d = (IndexDef *) lfirst(lc);
		const char *names[2] = {d->pgname, d->companion};
		MemoryContext old;

		if (strcmp(d->name, name) != 0 || d->kind == INDEX_NONE ||
			(companion_only && d->kind != INDEX_ORDERED))
			continue;
		for (int j = companion_only ? 1 : 0; j < 2; j++)
			if (names[j] != NULL)
			{
				out = lappend(out, psprintf("DROP INDEX CONCURRENTLY IF EXISTS %s",
											quote_qualified_identifier("nosql_data", names[j])));
				out = lappend(out, psprintf("DROP INDEX CONCURRENTLY IF EXISTS %s",
											quote_qualified_identifier("nosql_data",
																	   TwinName(names[j]))));
			}
		/* the statements of a dry run of this index alone */
		old = index_dry_run_context;
		index_dry_run_context = CurrentMemoryContext;
		index_dry_run_statements = NIL;
		index_dry_run = true;
		PG_TRY();
		{
			if (!companion_only)
				IndexBuild(c, d);
			if (d->kind == INDEX_ORDERED && IndexHasNullKeys(c, d, true))
				DryRunAdd(CompanionCreate(c, d));
		}
		PG_FINALLY();
		{
			index_dry_run = false;
			index_dry_run_context = old;
		}
		PG_END_TRY();
		out = list_concat(out, index_dry_run_statements);
		index_dry_run_statements = NIL;
	}
	return out;
}

/*
 * The names of the ordered indexes of a collection that have documents
 * with arrays but no multikey GIN beside them (it is built with the index
 * only when the arrays were there first).  Needs SPI.
 */
List *
IndexCompanionsWanted(const Collection *c)
{
	List	   *names = NIL;
	ListCell   *lc;

	foreach(lc, IndexDefs(c))
	{
		IndexDef   *d = (IndexDef *) lfirst(lc);

		if (d->kind == INDEX_ORDERED && d->companion != NULL && !CompanionExists(d) &&
			!OidIsValid(get_relname_relid(TwinName(d->companion),
										  get_namespace_oid("nosql_data", false))) &&
			IndexHasNullKeys(c, d, true))
			names = lappend(names, (char *) d->name);
	}
	return names;
}

/*
 * Make the collection's PostgreSQL indexes match its index specs (see the
 * head comment): create the missing ones, rename those whose visibility
 * changed, drop those no spec wants.  Runs as the calling role, which owns
 * the table (checked by the caller).  Index builds run under
 * maintenance_work_mem and are WAL-logged like any CREATE INDEX.
 */
void
IndexSync(const Collection *c, const bson_t *specs)
{
	char		prefix_i[NAMEDATALEN];
	char		prefix_h[NAMEDATALEN];
	Collection	copy;
	List	   *defs;
	List	   *have = NIL;
	List	   *kept = NIL;
	List	   *building = NIL;
	ListCell   *lc;

	if (c->is_view || !OidIsValid(c->relid))
		return;
	copy = *c;
	copy.indexes = (bson_t *) specs;
	defs = IndexDefs(&copy);
	snprintf(prefix_i, sizeof(prefix_i), "nosql_ix_%u_", c->relid);
	snprintf(prefix_h, sizeof(prefix_h), "nosql_hx_%u_", c->relid);

	SPI_connect();

	/*
	 * The specs being built in the background are their builders' business
	 * (index_build.c); builds of specs no longer wanted are aborted.
	 */
	if (!index_dry_run)
	{
		foreach(lc, IndexBuildsInFlight(c->relid))
		{
			char	   *name = (char *) lfirst(lc);
			ListCell   *ld;
			bool		wanted = false;

			foreach(ld, defs)
				if (strcmp(((IndexDef *) lfirst(ld))->name, name) == 0)
				{
					building = lappend(building, lfirst(ld));
					wanted = true;
				}
			if (!wanted && !IndexSpecNamed(specs, name))
				IndexBuildAbort(c->relid, name);
		}
	}
	{
		Oid			types[3] = {OIDOID, TEXTOID, TEXTOID};
		Datum		values[3];
		List	   *invalid = NIL;
		ListCell   *li;

		values[0] = ObjectIdGetDatum(c->relid);
		values[1] = CStringGetTextDatum(psprintf("%s%%", prefix_i));
		values[2] = CStringGetTextDatum(psprintf("%s%%", prefix_h));

		if (SPI_execute_with_args("SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
								  "WHERE i.indrelid = $1 AND (c.relname LIKE $2 OR c.relname LIKE $3)",
								  3, types, values, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not list the indexes of %s", c->qualified);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

			/* a failed CREATE INDEX CONCURRENTLY leaves an invalid index: rebuild it */
			if (strcmp(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2), "t") == 0)
				have = lappend(have, name);
			else
				invalid = lappend(invalid, name);
		}
		foreach(li, invalid)
		{
			char	   *drop;

			if (BuildingOwns(building, (char *) lfirst(li)))
				continue;
			drop = psprintf("DROP INDEX IF EXISTS %s",
										quote_qualified_identifier("nosql_data", (char *) lfirst(li)));

			if (index_dry_run)
				DryRunAdd(drop);
			else
				ExecUtility(drop);
		}
	}

	/* keep or rename what is wanted */
	foreach(lc, defs)
	{
		IndexDef   *d = (IndexDef *) lfirst(lc);
		const char *names[2] = {d->pgname, d->companion};

		for (int j = 0; j < 2; j++)
		{
			char	   *twin;

			if (names[j] == NULL)
				continue;
			twin = TwinName(names[j]);
			if (NameIn(have, names[j]))
				kept = lappend(kept, (char *) names[j]);
			else if (NameIn(have, twin) && !index_dry_run)
			{
				ExecUtility(psprintf("ALTER INDEX %s RENAME TO %s",
									 quote_qualified_identifier("nosql_data", twin),
									 quote_identifier(names[j])));
				kept = lappend(kept, twin);
				have = lappend(have, (char *) names[j]);
			}
		}
	}
	/* drop the others */
	foreach(lc, have)
	{
		char	   *name = (char *) lfirst(lc);
		bool		wanted = NameIn(kept, name);
		ListCell   *ld;

		foreach(ld, defs)
		{
			IndexDef   *d = (IndexDef *) lfirst(ld);

			if (strcmp(d->pgname, name) == 0 ||
				(d->companion != NULL && strcmp(d->companion, name) == 0))
				wanted = true;
		}
		if (!wanted && !index_dry_run)
			ExecUtility(psprintf("DROP INDEX IF EXISTS %s",
								 quote_qualified_identifier("nosql_data", name)));
	}
	/* build the missing ones */
	foreach(lc, defs)
	{
		IndexDef   *d = (IndexDef *) lfirst(lc);

		if (NameIn(have, d->pgname) || list_member_ptr(building, d))
			continue;
		IndexBuild(c, d);
		if (d->kind == INDEX_ORDERED && !NameIn(have, d->companion) &&
			IndexHasNullKeys(c, d, true))
		{
			char	   *create = CompanionCreate(c, d);

			if (index_dry_run)
				DryRunAdd(create);
			else
				ExecUtility(create);
		}
	}
	/* the unique-elements triggers */
	{
		Oid			types[2] = {OIDOID, TEXTOID};
		Datum		values[2];
		List	   *triggers = NIL;

		values[0] = ObjectIdGetDatum(c->relid);
		values[1] = CStringGetTextDatum(psprintf("nosql\\_uq\\_%u\\_%%", c->relid));
		if (SPI_execute_with_args("SELECT tgname FROM pg_trigger WHERE tgrelid = $1 AND tgname LIKE $2",
								  2, types, values, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not list the triggers of %s", c->qualified);
		for (uint64 i = 0; i < SPI_processed; i++)
			triggers = lappend(triggers, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
		foreach(lc, triggers)
		{
			char	   *name = (char *) lfirst(lc);
			bool		wanted = false;
			ListCell   *ld;

			foreach(ld, defs)
			{
				IndexDef   *d = (IndexDef *) lfirst(ld);

				if (d->trigger != NULL && strcmp(d->trigger, name) == 0)
					wanted = true;
			}
			if (!wanted && !index_dry_run)
				ExecUtility(psprintf("DROP TRIGGER IF EXISTS %s ON %s", quote_identifier(name),
									 c->qualified));
		}
		foreach(lc, defs)
		{
			IndexDef   *d = (IndexDef *) lfirst(lc);

			if (d->trigger != NULL && !NameIn(triggers, d->trigger) && !index_dry_run &&
				!list_member_ptr(building, d))
			{
				ExecUtility(d->trigger_sql);
				UniqueValidateExisting(&copy, d);
			}
		}
	}
	SPI_finish();
}

/*
 * The spec of the index a PostgreSQL index serves (for error 11000), or
 * NULL.
 */
bool
IndexSpecOfPgIndex(const Collection *c, const char *pgname, bson_t *key_pattern,
				   const char **mongo_name)
{
	bson_iter_t it;

	if (c->indexes == NULL || !bson_iter_init(&it, c->indexes))
		return false;
	while (bson_iter_next(&it))
	{
		IndexDef   *d = IndexDefParse(c, &it);

		if (d == NULL || d->pgname == NULL ||
			(strcmp(d->pgname, pgname) != 0 && strcmp(TwinName(d->pgname), pgname) != 0))
			continue;
		*mongo_name = d->name;
		return bson_init_static(key_pattern, d->key, d->key_len);
	}
	return false;
}

/*
 * The prefix of the PostgreSQL names of a MongoDB index (its btree, its
 * GIN beside it), for nosql.plan_hint; "_id_" gives the primary key's name.
 */
char *
IndexPgPrefix(const Collection *c, const char *mongo_name)
{
	if (strcmp(mongo_name, "_id_") == 0)
		return psprintf("%s_pkey", get_rel_name(c->relid));
	return psprintf("nosql_ix_%u_%08x_", c->relid,
					hash_bytes((const unsigned char *) mongo_name, strlen(mongo_name)));
}

/* ---- hidden indexes ---- */

/*
 * get_relation_info_hook: hidden indexes (nosql_hx_...) of the tables of
 * collections are not the planner's to use.
 */
static void
IndexRelationInfo(PlannerInfo *root, Oid relationObjectId, bool inhparent,
				  RelOptInfo *rel)
{
	Oid			data_namespace;

	if (prev_get_relation_info_hook)
		prev_get_relation_info_hook(root, relationObjectId, inhparent, rel);
	if (rel->indexlist == NIL)
		return;
	data_namespace = get_namespace_oid("nosql_data", true);
	if (!OidIsValid(data_namespace) || get_rel_namespace(relationObjectId) != data_namespace)
		return;
	{
		List	   *keep = NIL;
		ListCell   *lc;

		bool		hinted = nosql_plan_hint != NULL && nosql_plan_hint[0] != '\0';

		foreach(lc, rel->indexlist)
		{
			IndexOptInfo *info = (IndexOptInfo *) lfirst(lc);
			char	   *name = get_rel_name(info->indexoid);

			if (name == NULL || strncmp(name, "nosql_hx_", 9) == 0)
				continue;
			/* a hint: only the hinted index's PostgreSQL indexes */
			if (hinted && strncmp(name, nosql_plan_hint, strlen(nosql_plan_hint)) != 0)
				continue;
			keep = lappend(keep, info);
		}
		rel->indexlist = keep;
	}
}

void
IndexInit(void)
{
	prev_get_relation_info_hook = get_relation_info_hook;
	get_relation_info_hook = IndexRelationInfo;
}

/* ---- planning: the key conditions of a filter ---- */

/*
 * The index a hint names: planning uses only that one (NULL: any).  Set
 * by each entry point for the planning of one filter.
 */
static const char *plan_hint = NULL;

/* The first index the planning of a filter chose (IndexReturnKeyPattern) */
static const IndexDef *plan_first = NULL;
static bool plan_used_id = false;

/*
 * The collation of the query being planned (NULL: simple) and the
 * parameter holding its document (0: none), set alike.
 */
static const BsonCollation *plan_collation = NULL;
static int	plan_collation_param = 0;

/* One top-level condition of a filter, {path: value} */
typedef struct Conjunct
{
	const char *path;
	bson_iter_t value;
	bool		used;			/* answered by an index */
	bool		exact;			/* ... by its key conditions alone */
} Conjunct;

/* One key condition: expr op value, or expr = ANY(values) */
typedef struct KeyQual
{
	const char *op;
	Datum		value;			/* bson scalar, or bson[] for "IN" */
	bool		bound;			/* a type bracket's end: any collation's */
} KeyQual;

/* What a condition gives the key column of its path */
typedef struct CondKeys
{
	bool		equality;		/* = or IN only */
	bool		exact;			/* the quals decide the condition */
	bool		non_null;		/* only documents having the path match */
	bool		strings;		/* a value holds strings: collation-dependent */
	bool		regex;			/* quals of a prefix regex: byte-wise */
	List	   *quals;			/* of KeyQual */
	List	   *in_values;		/* the values of an $in (bson scalars) */
} CondKeys;

/* A bson scalar datum from a value */
static Datum
ScalarDatum(const bson_value_t *v)
{
	return PointerGetDatum(BsonFromValue(v));
}

static bool
IterIsNaN(const bson_iter_t *it)
{
	double		d;

	return BsonIterAsDouble(it, &d) && isnan(d);
}

/* Whether key equality decides {path: value} for a non-array key */
static bool
EqualityExact(const bson_iter_t *v)
{
	switch (bson_iter_type(v))
	{
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
		case BSON_TYPE_DOUBLE:
		case BSON_TYPE_DECIMAL128:
			return !IterIsNaN(v);
		case BSON_TYPE_UTF8:
		case BSON_TYPE_DATE_TIME:
		case BSON_TYPE_OID:
		case BSON_TYPE_BOOL:
		case BSON_TYPE_TIMESTAMP:
			return true;
		default:
			return false;
	}
}

/* Whether key equality is implied by {path: value} (then it may be used) */
static bool
EqualityUsable(const bson_iter_t *v)
{
	switch (bson_iter_type(v))
	{
		case BSON_TYPE_REGEX:
		case BSON_TYPE_ARRAY:
		case BSON_TYPE_UNDEFINED:
		case BSON_TYPE_EOD:
			return false;
		default:
			return !IterIsNaN(v);
	}
}

/* The bracket of a value a range may use (as a representative type), or -1 */
static int
RangeBracket(const bson_iter_t *v)
{
	switch (bson_iter_type(v))
	{
		case BSON_TYPE_INT32:
		case BSON_TYPE_INT64:
		case BSON_TYPE_DOUBLE:
		case BSON_TYPE_DECIMAL128:
			return IterIsNaN(v) ? -1 : BSON_TYPE_DOUBLE;
		case BSON_TYPE_UTF8:
			return BSON_TYPE_UTF8;
		case BSON_TYPE_DATE_TIME:
			return BSON_TYPE_DATE_TIME;
		case BSON_TYPE_OID:
			return BSON_TYPE_OID;
		case BSON_TYPE_BOOL:
			return BSON_TYPE_BOOL;
		case BSON_TYPE_TIMESTAMP:
			return BSON_TYPE_TIMESTAMP;
		default:
			return -1;
	}
}

static void
AddQual(CondKeys *k, const char *op, Datum value, bool bound)
{
	KeyQual    *q = palloc(sizeof(KeyQual));

	q->op = op;
	q->value = value;
	q->bound = bound;
	k->quals = lappend(k->quals, q);
}

/*
 * Whether a value holds a string or symbol (inside documents and arrays
 * too): how it compares then depends on the collation.
 */
static bool
ValueHasStrings(const bson_iter_t *v)
{
	bson_iter_t child;

	check_stack_depth();
	switch (bson_iter_type(v))
	{
		case BSON_TYPE_UTF8:
		case BSON_TYPE_SYMBOL:
			return true;
		case BSON_TYPE_DOCUMENT:
		case BSON_TYPE_ARRAY:
			if (!bson_iter_recurse(v, &child))
				return true;
			while (bson_iter_next(&child))
				if (ValueHasStrings(&child))
					return true;
			return false;
		default:
			return false;
	}
}

/*
 * The bounds of a bracket a range stays inside: *hi_op is "<=" or "<"
 * (strings end before the smallest document).
 */
static void
BracketBounds(int bracket, Datum *lo, Datum *hi, const char **hi_op)
{
	bson_value_t l;
	bson_value_t h;
	bson_t		empty = BSON_INITIALIZER;

	*hi_op = "<=";
	switch (bracket)
	{
		case BSON_TYPE_DOUBLE:
			l.value_type = h.value_type = BSON_TYPE_DOUBLE;
			l.value.v_double = -INFINITY;
			h.value.v_double = INFINITY;
			break;
		case BSON_TYPE_UTF8:
			l.value_type = BSON_TYPE_UTF8;
			l.value.v_utf8.str = "";
			l.value.v_utf8.len = 0;
			h.value_type = BSON_TYPE_DOCUMENT;
			h.value.v_doc.data = (uint8_t *) bson_get_data(&empty);
			h.value.v_doc.data_len = empty.len;
			*hi_op = "<";
			break;
		case BSON_TYPE_DATE_TIME:
			l.value_type = h.value_type = BSON_TYPE_DATE_TIME;
			l.value.v_datetime = PG_INT64_MIN;
			h.value.v_datetime = PG_INT64_MAX;
			break;
		case BSON_TYPE_OID:
			l.value_type = h.value_type = BSON_TYPE_OID;
			memset(l.value.v_oid.bytes, 0, 12);
			memset(h.value.v_oid.bytes, 0xff, 12);
			break;
		case BSON_TYPE_BOOL:
			l.value_type = h.value_type = BSON_TYPE_BOOL;
			l.value.v_bool = false;
			h.value.v_bool = true;
			break;
		default:				/* BSON_TYPE_TIMESTAMP */
			l.value_type = h.value_type = BSON_TYPE_TIMESTAMP;
			l.value.v_timestamp.timestamp = l.value.v_timestamp.increment = 0;
			h.value.v_timestamp.timestamp = h.value.v_timestamp.increment = PG_UINT32_MAX;
			break;
	}
	*lo = ScalarDatum(&l);
	*hi = ScalarDatum(&h);
}

/*
 * The literal prefix of an anchored regex with harmless options, with the
 * range [lo, hi) its matches lie in; false when there is none.
 */
static bool
RegexPrefixRange(const char *pattern, const char *options, Datum *lo, Datum *hi)
{
	StringInfoData prefix;
	const char *p;
	bson_value_t v;

	for (p = options; *p; p++)
		if (*p != 's' && *p != 'u')
			return false;
	if (pattern[0] != '^')
		return false;
	initStringInfo(&prefix);
	for (p = pattern + 1; *p; p++)
	{
		if (strchr(".[]{}()\\*+?|^$", *p) != NULL)
		{
			/* a quantifier makes the last character optional */
			if ((*p == '*' || *p == '?' || *p == '{') && prefix.len > 0)
				prefix.data[--prefix.len] = '\0';
			break;
		}
		appendStringInfoChar(&prefix, *p);
	}
	if (prefix.len == 0 || (unsigned char) prefix.data[prefix.len - 1] == 0xff)
		return false;
	v.value_type = BSON_TYPE_UTF8;
	v.value.v_utf8.str = prefix.data;
	v.value.v_utf8.len = prefix.len;
	*lo = ScalarDatum(&v);
	prefix.data[prefix.len - 1]++;
	*hi = ScalarDatum(&v);
	return true;
}

/* The key conditions of a condition value; false when it has none */
static bool
CondTranslate(const bson_iter_t *value, CondKeys *k)
{
	bson_iter_t ops;

	memset(k, 0, sizeof(*k));
	k->exact = true;
	if (BSON_ITER_HOLDS_REGEX(value))
	{
		const char *options;
		const char *pattern = bson_iter_regex(value, &options);
		Datum		lo,
					hi;

		if (!RegexPrefixRange(pattern, options, &lo, &hi))
			return false;
		AddQual(k, ">=", lo, false);
		AddQual(k, "<", hi, false);
		k->exact = false;
		k->non_null = true;
		k->regex = true;
		return true;
	}
	if (BSON_ITER_HOLDS_DOCUMENT(value) && bson_iter_recurse(value, &ops) &&
		bson_iter_next(&ops) && bson_iter_key(&ops)[0] == '$')
	{
		int			bracket = -1;
		bool		lower = false;
		bool		upper = false;
		bool		only_equality = true;

		bson_iter_recurse(value, &ops);
		while (bson_iter_next(&ops))
		{
			const char *op = bson_iter_key(&ops);

			if (strcmp(op, "$eq") == 0)
			{
				if (!EqualityUsable(&ops))
				{
					k->exact = false;
					continue;
				}
				AddQual(k, "=", ScalarDatum(bson_iter_value(&ops)), false);
				k->exact &= EqualityExact(&ops);
				k->strings |= ValueHasStrings(&ops);
				if (!BSON_ITER_HOLDS_NULL(&ops))
					k->non_null = true;
			}
			else if (strcmp(op, "$gt") == 0 || strcmp(op, "$gte") == 0 ||
					 strcmp(op, "$lt") == 0 || strcmp(op, "$lte") == 0)
			{
				int			b = RangeBracket(&ops);

				only_equality = false;
				if (b < 0 || (bracket >= 0 && b != bracket))
				{
					k->exact = false;
					continue;
				}
				bracket = b;
				if (op[1] == 'g')
				{
					AddQual(k, op[3] == 'e' ? ">=" : ">", ScalarDatum(bson_iter_value(&ops)),
							false);
					lower = true;
				}
				else
				{
					AddQual(k, op[3] == 'e' ? "<=" : "<", ScalarDatum(bson_iter_value(&ops)),
							false);
					upper = true;
				}
				k->non_null = true;
				k->strings |= ValueHasStrings(&ops);
			}
			else if (strcmp(op, "$in") == 0 && BSON_ITER_HOLDS_ARRAY(&ops) && k->in_values == NIL)
			{
				bson_iter_t e;
				List	   *vals = NIL;
				bool		ok = true;
				bool		has_null = false;

				bson_iter_recurse(&ops, &e);
				while (bson_iter_next(&e))
				{
					if (!EqualityUsable(&e))
					{
						ok = false;
						break;
					}
					k->exact &= EqualityExact(&e);
					k->strings |= ValueHasStrings(&e);
					has_null |= BSON_ITER_HOLDS_NULL(&e);
					vals = lappend(vals, DatumGetPointer(ScalarDatum(bson_iter_value(&e))));
				}
				if (!ok)
				{
					k->exact = false;
					continue;
				}
				k->in_values = vals;
				AddQual(k, "IN", (Datum) 0, false);
				if (!has_null)
					k->non_null = true;
			}
			else if (strcmp(op, "$regex") == 0 && (BSON_ITER_HOLDS_UTF8(&ops) ||
												   BSON_ITER_HOLDS_REGEX(&ops)))
			{
				const char *pattern;
				const char *options = "";
				bson_iter_t o;
				Datum		lo,
							hi;

				only_equality = false;
				k->exact = false;
				if (BSON_ITER_HOLDS_UTF8(&ops))
					pattern = bson_iter_utf8(&ops, NULL);
				else
					pattern = bson_iter_regex(&ops, &options);
				bson_iter_recurse(value, &o);
				if (bson_iter_find(&o, "$options") && BSON_ITER_HOLDS_UTF8(&o))
					options = bson_iter_utf8(&o, NULL);
				if (RegexPrefixRange(pattern, options, &lo, &hi))
				{
					AddQual(k, ">=", lo, false);
					AddQual(k, "<", hi, false);
					k->non_null = true;
					k->regex = true;
				}
			}
			else if (strcmp(op, "$options") == 0)
				continue;
			else
				k->exact = false;
		}
		if (bracket >= 0 && (!lower || !upper))
		{
			Datum		lo,
						hi;
			const char *hi_op;

			BracketBounds(bracket, &lo, &hi, &hi_op);
			if (!lower)
				AddQual(k, ">=", lo, true);
			if (!upper)
				AddQual(k, hi_op, hi, true);
		}
		k->equality = only_equality;
		return k->quals != NIL;
	}
	if (!EqualityUsable(value))
		return false;
	{
		bson_iter_t v = *value;

		AddQual(k, "=", ScalarDatum(bson_iter_value(&v)), false);
	}
	k->equality = true;
	k->exact = EqualityExact(value);
	k->strings = ValueHasStrings(value);
	k->non_null = !BSON_ITER_HOLDS_NULL(value);
	return true;
}

/*
 * Memory for structs holding bson_iter_t, which libbson declares 128-byte
 * aligned (palloc only MAXALIGNs).
 */
static void *
AllocIterAligned(Size size)
{
	return (void *) TYPEALIGN(128, palloc0(size + 128));
}

/* The planning state of one filter */
typedef struct FilterPlan
{
	int			nconj;
	Conjunct   *conj;
	CondKeys   *keys;			/* per conjunct; quals NIL when none */
	List	   *others;			/* top-level operators kept as they are */
	bool	   *others_done;	/* ... unless answered by indexes ($or) */
} FilterPlan;

/* Append the condition an iterator points at ({key: value}) */
static void
ConjunctAdd(FilterPlan *fp, int *max, const bson_iter_t *it)
{
	if (fp->nconj == *max)
	{
		Conjunct   *more = AllocIterAligned(sizeof(Conjunct) * *max * 2);

		memcpy(more, fp->conj, sizeof(Conjunct) * *max);
		fp->conj = more;
		*max *= 2;
	}
	fp->conj[fp->nconj].path = bson_iter_key(it);
	fp->conj[fp->nconj].value = *it;
	fp->conj[fp->nconj].used = false;
	fp->conj[fp->nconj].exact = false;
	fp->nconj++;
}

/* Split a filter into its conditions (through $and) */
static void
FilterSplit(const uint8_t *filter, uint32_t len, FilterPlan *fp)
{
	bson_iter_t it;
	int			max = 8;

	fp->nconj = 0;
	fp->conj = AllocIterAligned(sizeof(Conjunct) * max);
	fp->others = NIL;
	if (!bson_iter_init_from_data(&it, filter, len))
		return;
	while (bson_iter_next(&it))
	{
		const char *key = bson_iter_key(&it);
		bson_iter_t *copy;

		if (key[0] == '$')
		{
			bson_iter_t elems;
			bool		flat = strcmp(key, "$and") == 0 && BSON_ITER_HOLDS_ARRAY(&it);

			/* an $and whose elements are plain conditions is flattened */
			if (flat && bson_iter_recurse(&it, &elems))
			{
				while (bson_iter_next(&elems))
				{
					bson_iter_t f;

					if (!BSON_ITER_HOLDS_DOCUMENT(&elems) || !bson_iter_recurse(&elems, &f))
						flat = false;
					else
						while (bson_iter_next(&f))
							if (bson_iter_key(&f)[0] == '$')
								flat = false;
				}
			}
			if (!flat)
			{
				copy = AllocIterAligned(sizeof(bson_iter_t));
				*copy = it;
				fp->others = lappend(fp->others, copy);
				continue;
			}
			bson_iter_recurse(&it, &elems);
			while (bson_iter_next(&elems))
			{
				bson_iter_t f;

				bson_iter_recurse(&elems, &f);
				while (bson_iter_next(&f))
					ConjunctAdd(fp, &max, &f);
			}
			continue;
		}
		ConjunctAdd(fp, &max, &it);
	}
	fp->keys = palloc0(sizeof(CondKeys) * Max(fp->nconj, 1));
	fp->others_done = palloc0(sizeof(bool) * Max(list_length(fp->others), 1));
	for (int i = 0; i < fp->nconj; i++)
		if (!CondTranslate(&fp->conj[i].value, &fp->keys[i]))
			fp->keys[i].quals = NIL;
}

/*
 * A filter document of the conditions selected by want (one of them
 * as it is, several under $and), with the kept operators when others.
 */
static Bson *
FilterOf(const FilterPlan *fp, const bool *want, bool others)
{
	bson_t		out = BSON_INITIALIZER;
	int			n = 0;
	int			last = -1;
	Bson	   *b;
	ListCell   *lc;

	if (others)
		foreach(lc, fp->others)
		{
			bson_iter_t *it = (bson_iter_t *) lfirst(lc);

			if (!fp->others_done[foreach_current_index(lc)])
				bson_append_iter(&out, bson_iter_key(it), -1, it);
		}
	for (int i = 0; i < fp->nconj; i++)
		if (want[i])
		{
			n++;
			last = i;
		}
	if (n == 1)
		bson_append_iter(&out, fp->conj[last].path, -1, &fp->conj[last].value);
	else if (n > 1)
	{
		bson_t		arr;
		int			j = 0;

		bson_append_array_begin(&out, "$and", 4, &arr);
		for (int i = 0; i < fp->nconj; i++)
		{
			char		idx[16];
			bson_t		elem;

			if (!want[i])
				continue;
			snprintf(idx, sizeof(idx), "%d", j++);
			bson_append_document_begin(&arr, idx, -1, &elem);
			bson_append_iter(&elem, fp->conj[i].path, -1, &fp->conj[i].value);
			bson_append_document_end(&arr, &elem);
		}
		bson_append_array_end(&out, &arr);
	}
	b = BsonFromDocument(&out, false);
	bson_destroy(&out);
	return b;
}

/* Whether the filter implies one top-level condition {path: cond} of a partial filter */
static bool
ImpliesCondition(const FilterPlan *fp, const bson_iter_t *pc)
{
	const char *path = bson_iter_key(pc);
	bson_iter_t ops;
	const char *op = NULL;
	bson_iter_t bound;

	/*
	 * The partial filter is the index's predicate, document @@ filter: its
	 * strings compare byte-wise, which a query's strings under a collation
	 * do not.
	 */
	if (plan_collation != NULL && ValueHasStrings(pc))
		return false;
	if (BSON_ITER_HOLDS_DOCUMENT(pc) && bson_iter_recurse(pc, &ops) && bson_iter_next(&ops) &&
		bson_iter_key(&ops)[0] == '$')
	{
		op = bson_iter_key(&ops);
		bound = ops;
		if (bson_iter_next(&ops))
			op = NULL;			/* several operators: identical conditions only */
	}
	for (int i = 0; i < fp->nconj; i++)
	{
		const Conjunct *q = &fp->conj[i];
		const CondKeys *k = &fp->keys[i];

		if (strcmp(q->path, path) != 0)
			continue;
		/* the same condition */
		if (bson_iter_type(&q->value) == bson_iter_type(pc) &&
			BsonCompareValues(&q->value, pc) == 0)
			return true;
		if (op == NULL)
			continue;
		if (strcmp(op, "$exists") == 0 && bson_iter_as_bool(&bound) && k->non_null &&
			k->quals != NIL)
			return true;
		/* a bound implied by the query's equality or bound on the same side */
		if ((strcmp(op, "$gt") == 0 || strcmp(op, "$gte") == 0 ||
			 strcmp(op, "$lt") == 0 || strcmp(op, "$lte") == 0) && RangeBracket(&bound) >= 0)
		{
			bool		greater = op[1] == 'g';
			bool		strict = op[3] != 'e';
			bson_iter_t qops;

			if (!BSON_ITER_HOLDS_DOCUMENT(&q->value))
			{
				int			c;

				if (RangeBracket(&q->value) != RangeBracket(&bound))
					continue;
				c = BsonCompareValues(&q->value, &bound);
				if (greater ? (strict ? c > 0 : c >= 0) : (strict ? c < 0 : c <= 0))
					return true;
				continue;
			}
			bson_iter_recurse(&q->value, &qops);
			while (bson_iter_next(&qops))
			{
				const char *qop = bson_iter_key(&qops);
				int			c;

				if (RangeBracket(&qops) != RangeBracket(&bound))
					continue;
				c = BsonCompareValues(&qops, &bound);
				if (strcmp(qop, "$eq") == 0 &&
					(greater ? (strict ? c > 0 : c >= 0) : (strict ? c < 0 : c <= 0)))
					return true;
				if (greater && (strcmp(qop, "$gt") == 0 || strcmp(qop, "$gte") == 0) &&
					(c > 0 || (c == 0 && (!strict || strcmp(qop, "$gt") == 0))))
					return true;
				if (!greater && (strcmp(qop, "$lt") == 0 || strcmp(qop, "$lte") == 0) &&
					(c < 0 || (c == 0 && (!strict || strcmp(qop, "$lt") == 0))))
					return true;
			}
		}
	}
	return false;
}

/* Whether the filter implies a partial index's filter */
static bool
ImpliesPartial(const FilterPlan *fp, const IndexDef *d)
{
	bson_iter_t it;

	if (!bson_iter_init_from_data(&it, d->partial, d->partial_len))
		return false;
	while (bson_iter_next(&it))
	{
		if (strcmp(bson_iter_key(&it), "$and") == 0 && BSON_ITER_HOLDS_ARRAY(&it))
		{
			bson_iter_t e;

			bson_iter_recurse(&it, &e);
			while (bson_iter_next(&e))
			{
				bson_iter_t f;

				if (!BSON_ITER_HOLDS_DOCUMENT(&e) || !bson_iter_recurse(&e, &f))
					return false;
				while (bson_iter_next(&f))
					if (bson_iter_key(&f)[0] == '$' || !ImpliesCondition(fp, &f))
						return false;
			}
		}
		else if (bson_iter_key(&it)[0] == '$' || !ImpliesCondition(fp, &it))
			return false;
	}
	return true;
}

/* The hashed-index key of a key value (a scalar or a document) */
static int64
KeyDatumHash(const Bson *b)
{
	bson_iter_t it;
	bson_t		holder;
	bson_t		wrapper = BSON_INITIALIZER;
	int64		h;

	if (BsonValueIter(b, &it, &holder))
		return IndexHashValue(&it);
	if (!bson_init_static(&holder, BsonBytes(b), BsonDocLen(b)))
		elog(ERROR, "corrupt bson value");
	bson_append_document(&wrapper, "", 0, &holder);
	if (!bson_iter_init(&it, &wrapper) || !bson_iter_next(&it))
		elog(ERROR, "corrupt bson value");
	h = IndexHashValue(&it);
	bson_destroy(&wrapper);
	return h;
}

/*
 * A key value (a scalar or a document) with its strings replaced by their
 * sort keys under a collation, as nosql.bson_index_key builds the keys of
 * an index with that collation.
 */
static Datum
KeyDatumCollated(Datum value, const BsonCollation *collation)
{
	const Bson *b = (const Bson *) DatumGetPointer(value);
	bson_iter_t it;
	bson_t		holder;
	bson_t		wrapper = BSON_INITIALIZER;
	bson_t		keyed = BSON_INITIALIZER;
	Bson	   *result;

	if (!BsonValueIter(b, &it, &holder))
	{
		if (!bson_init_static(&holder, BsonBytes(b), BsonDocLen(b)))
			elog(ERROR, "corrupt bson value");
		bson_append_document(&wrapper, "", 0, &holder);
		if (!bson_iter_init(&it, &wrapper) || !bson_iter_next(&it))
			elog(ERROR, "corrupt bson value");
	}
	BsonCollationAppendKeyed(collation, &keyed, "", 0, &it);
	if (!bson_iter_init(&it, &keyed) || !bson_iter_next(&it))
		elog(ERROR, "could not build a key value");
	result = BsonFromIter(&it);
	bson_destroy(&keyed);
	bson_destroy(&wrapper);
	return PointerGetDatum(result);
}

/*
 * Append "expr op $n" for every qual of a condition; keying is the
 * collation of the index's keys (NULL: simple), which the values are
 * translated into.
 */
static void
AppendQuals(StringInfo sql, const char *expr, const CondKeys *k, bool *first,
			const BsonCollation *keying, Datum *values, Oid *types, int *nparams)
{
	ListCell   *lc;
	Oid			bsonoid = BsonTypeOid();

	foreach(lc, k->quals)
	{
		KeyQual    *q = (KeyQual *) lfirst(lc);

		if (!*first)
			appendStringInfoString(sql, " AND ");
		*first = false;
		if (strcmp(q->op, "IN") == 0)
		{
			int			n = list_length(k->in_values);
			Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
			int			i = 0;
			ListCell   *lv;
			int16		typlen;
			bool		typbyval;
			char		typalign;

			foreach(lv, k->in_values)
			{
				elems[i] = PointerGetDatum(lfirst(lv));
				if (keying != NULL)
					elems[i] = KeyDatumCollated(elems[i], keying);
				i++;
			}
			get_typlenbyvalalign(bsonoid, &typlen, &typbyval, &typalign);
			values[*nparams] = PointerGetDatum(construct_array(elems, n, bsonoid, typlen,
															   typbyval, typalign));
			types[*nparams] = get_array_type(bsonoid);
			(*nparams)++;
			appendStringInfo(sql, "%s OPERATOR(nosql.=) ANY ($%d)", expr, *nparams);
		}
		else
		{
			values[*nparams] = keying != NULL && !q->bound ?
				KeyDatumCollated(q->value, keying) : q->value;
			types[*nparams] = bsonoid;
			(*nparams)++;
			appendStringInfo(sql, "%s OPERATOR(nosql.%s) $%d", expr, q->op, *nparams);
		}
	}
}

/* The collation of an index's keys (NULL: simple); a NULL d is the _id index */
static const BsonCollation *
KeyCollation(const IndexDef *d)
{
	return d != NULL && d->collated ? d->collation : NULL;
}

/*
 * Whether the key conditions of a condition may use an index (NULL: the
 * primary key on _id) under the query's collation, as MongoDB decides: an
 * index whose collation is the query's serves every condition, any other
 * only conditions whose values hold no strings.  A prefix regex compares
 * bytes whatever the collation: its range needs keys that are the strings
 * themselves.
 */
static bool
CondUsable(const CondKeys *k, const IndexDef *d)
{
	const BsonCollation *keys = KeyCollation(d);

	if (k->quals == NIL || (k->regex && keys != NULL))
		return false;
	return !k->strings || BsonCollationEqual(keys, plan_collation);
}

/* Append the matcher's check of the filter in $param, under the query's collation */
static void
AppendMatch(StringInfo sql, int param)
{
	if (plan_collation_param > 0)
		appendStringInfo(sql, "nosql.bson_matches(document, $%d, $%d)", param,
						 plan_collation_param);
	else
		appendStringInfo(sql, "document OPERATOR(nosql.@@) $%d", param);
}

/* The number of parameters the quals of a condition take */
static int
QualCount(const CondKeys *k)
{
	return list_length(k->quals);
}

/*
 * Whether an ordered index has a multikey GIN index beside it (then its
 * paths are served by that one).
 */
static bool
CompanionExists(const IndexDef *d)
{
	Oid			nsp = get_namespace_oid("nosql_data", true);

	return OidIsValid(nsp) && OidIsValid(get_relname_relid(d->companion, nsp));
}

/*
 * Parameters the index conditions may take: the rest of FIND_MAX_PARAMS is
 * for the remaining filter, the collation and the sort (32 fields at most).
 */
#define PLAN_PARAMS_ROOM (FIND_MAX_PARAMS - 48)

/* Where the one ordered-index group of a filter's SQL lies (IndexPlanFilterSplit) */
typedef struct IndexSplit
{
	int			groups;			/* ordered-index groups written */
	int			start;			/* offset of its "((" */
	int			or_at;			/* offset of its ") OR (" */
	int			end;			/* offset after its "))" */
	bool		equality;		/* its key conditions are equalities ($in too) */
} IndexSplit;

static bool PlanFilter(const Collection *c, const uint8_t *filter, uint32_t len,
					   StringInfo sql, Datum *values, Oid *types, int *nparams,
					   bool *indexed, int depth, IndexSplit *split);

/*
 * IndexPlanFilter
 *		Write the WHERE conditions of a filter (without "WHERE"), using the
 *		collection's indexes; parameters are added from *nparams on.
 *		Under a collation (NULL: simple), collation_param is the parameter
 *		holding its document, and the conditions the indexes leave are
 *		checked by nosql.bson_matches(document, $n, $collation_param).
 *		Returns false when nothing needs checking (an empty filter).
 */
bool
IndexPlanFilter(const Collection *c, const uint8_t *filter, uint32_t len, const char *hint,
				const BsonCollation *collation, int collation_param,
				StringInfo sql, Datum *values, Oid *types, int *nparams)
{
	bool		indexed;

	Assert(collation == NULL || collation_param > 0);
	plan_hint = hint;
	plan_collation = collation;
	plan_collation_param = collation != NULL ? collation_param : 0;
	return PlanFilter(c, filter, len, sql, values, types, nparams, &indexed, 0, NULL);
}


/*
 * The key pattern of the index a find with returnKey reads: the hinted one,
 * else the first the planning of its filter chooses; false when none (a
 * scan, whose documents MongoDB returns empty).
 */
bool
IndexReturnKeyPattern(const Collection *c, const uint8_t *filter, uint32_t len,
					  const char *hint, const uint8_t **key, uint32_t *key_len)
{
	static const uint8_t id_key[] = {
		/* {"_id": 1} */
		14, 0, 0, 0, 0x10, '_', 'i', 'd', 0, 1, 0, 0, 0, 0
	};
	ListCell   *lc;

	if (c == NULL || c->is_view || (hint != NULL && strcmp(hint, "$natural") == 0))
		return false;
	if (hint != NULL && strcmp(hint, "_id_") == 0)
	{
		*key = id_key;
		*key_len = sizeof(id_key);
		return true;
	}
	if (hint != NULL)
	{
		foreach(lc, IndexDefsCached(c))
		{
			IndexDef   *d = (IndexDef *) lfirst(lc);

			if (strcmp(d->name, hint) == 0 && d->kind != INDEX_NONE)
			{
				*key = d->key;
				*key_len = d->key_len;
				return true;
			}
		}
		return false;
	}
	if (len <= 5)
		return false;
	{
		StringInfoData scratch;
		Datum	   *values = palloc(sizeof(Datum) * FIND_MAX_PARAMS);
		Oid		   *types = palloc(sizeof(Oid) * FIND_MAX_PARAMS);
		int			nparams = 0;
		bool		indexed;

		initStringInfo(&scratch);
		plan_hint = NULL;
		plan_collation = NULL;
		plan_collation_param = 0;
		plan_first = NULL;
		plan_used_id = false;
		(void) PlanFilter(c, filter, len, &scratch, values, types, &nparams, &indexed, 0, NULL);
		if (plan_used_id)
		{
			*key = id_key;
			*key_len = sizeof(id_key);
			return true;
		}
		if (plan_first != NULL)
		{
			*key = plan_first->key;
			*key_len = plan_first->key_len;
			return true;
		}
	}
	return false;
}

/*
 * IndexPlanFilterSplit
 *		The conditions of a filter as two disjoint halves when one ordered
 *		index answers it: where_keys (the key conditions, which an
 *		index-only scan can count) and where_null (the documents with NULL
 *		keys, checked by the matcher); the rest of the conditions is in
 *		both.  The collation is as for IndexPlanFilter.  *equality tells
 *		whether the key conditions are equalities ($in too).  False when
 *		the filter is not of that form.
 */
bool
IndexPlanFilterSplit(const Collection *c, const uint8_t *filter, uint32_t len, const char *hint,
					 const BsonCollation *collation, int collation_param,
					 StringInfo where_keys, StringInfo where_null, bool *equality,
					 Datum *values, Oid *types, int *nparams)
{
	bool		indexed;
	IndexSplit	split = {0};
	StringInfoData sql;
	const char *sep = ") OR (";

	Assert(collation == NULL || collation_param > 0);
	plan_hint = hint;
	plan_collation = collation;
	plan_collation_param = collation != NULL ? collation_param : 0;
	initStringInfo(&sql);
	if (!PlanFilter(c, filter, len, &sql, values, types, nparams, &indexed, 0, &split) ||
		split.groups != 1)
		return false;
	/* prefix ( keys ) suffix, and prefix ( null branch ) suffix */
	appendBinaryStringInfo(where_keys, sql.data, split.start);
	appendBinaryStringInfo(where_keys, sql.data + split.start + 1, split.or_at - split.start);
	appendStringInfoString(where_keys, sql.data + split.end);
	appendBinaryStringInfo(where_null, sql.data, split.start);
	appendStringInfoChar(where_null, '(');
	appendBinaryStringInfo(where_null, sql.data + split.or_at + strlen(sep),
						   split.end - 1 - (split.or_at + (int) strlen(sep)));
	appendStringInfoString(where_null, sql.data + split.end);
	*equality = split.equality;
	return true;
}

/*
 * An $or whose branches all use indexes, as the OR of their conditions
 * (PostgreSQL's BitmapOr); false (nothing written) otherwise.
 */
static bool
PlanOr(const Collection *c, const bson_iter_t *or, StringInfo sql, Datum *values,
	   Oid *types, int *nparams, int depth)
{
	bson_iter_t it;
	StringInfoData out;
	int			saved = *nparams;
	bool		first = true;

	if (depth > 2 || !BSON_ITER_HOLDS_ARRAY(or) || !bson_iter_recurse(or, &it))
		return false;
	initStringInfo(&out);
	while (bson_iter_next(&it))
	{
		const uint8_t *data;
		uint32_t	len;
		StringInfoData branch;
		bool		indexed = false;

		if (!BSON_ITER_HOLDS_DOCUMENT(&it) || *nparams >= PLAN_PARAMS_ROOM)
		{
			*nparams = saved;
			return false;
		}
		bson_iter_document(&it, &len, &data);
		initStringInfo(&branch);
		if (!PlanFilter(c, data, len, &branch, values, types, nparams, &indexed, depth + 1,
						NULL) ||
			!indexed)
		{
			*nparams = saved;
			return false;
		}
		appendStringInfo(&out, "%s(%s)", first ? "" : " OR ", branch.data);
		first = false;
	}
	if (first)
		return false;
	appendStringInfo(sql, "(%s)", out.data);
	return true;
}

static bool
PlanFilter(const Collection *c, const uint8_t *filter, uint32_t len, StringInfo sql,
		   Datum *values, Oid *types, int *nparams, bool *indexed, int depth,
		   IndexSplit *split)
{
	FilterPlan	fp;
	List	   *defs = IndexDefsCached(c);
	bool	   *want;
	bool		any = false;
	bool		first_clause = true;
	int			room = PLAN_PARAMS_ROOM;

	FilterSplit(filter, len, &fp);
	want = palloc0(sizeof(bool) * Max(fp.nconj, 1));

	/* _id: the primary key answers its conditions (_id is never an array) */
	for (int i = 0; i < fp.nconj; i++)
	{
		bool		first = true;

		if (strcmp(fp.conj[i].path, "_id") != 0 || !CondUsable(&fp.keys[i], NULL) ||
			*nparams + QualCount(&fp.keys[i]) > room ||
			(plan_hint != NULL && strcmp(plan_hint, "_id_") != 0))
			continue;
		if (!first_clause)
			appendStringInfoString(sql, " AND ");
		first_clause = false;
		AppendQuals(sql, "_id", &fp.keys[i], &first, NULL, values, types, nparams);
		plan_used_id = true;
		*indexed = true;
		fp.conj[i].used = true;
		fp.conj[i].exact = fp.keys[i].exact;
	}

	/* then the best remaining index, as long as one answers something */
	for (;;)
	{
		IndexDef   *best = NULL;
		int			gstart;
		int			gor;
		int			best_score = 0;
		int			best_cols = 0;
		ListCell   *lc;

		foreach(lc, defs)
		{
			IndexDef   *d = (IndexDef *) lfirst(lc);
			int			score = 0;
			int			cols = 0;
			bool		present = false;

			if (d->hidden || (d->kind != INDEX_ORDERED && d->kind != INDEX_HASHED))
				continue;
			if (plan_hint != NULL && strcmp(plan_hint, d->name) != 0)
				continue;
			/*
			 * The GIN beside a multikey index serves its paths for document
			 * @@ filter; under a collation the matcher is bson_matches,
			 * which no GIN serves, so the btree does (its NULL keys read by
			 * the matcher).
			 */
			if (d->kind == INDEX_ORDERED && plan_collation == NULL && CompanionExists(d))
				continue;
			for (int col = 0; col < d->nfields; col++)
			{
				bool		found = false;
				bool		range = false;

				for (int i = 0; i < fp.nconj; i++)
				{
					if (fp.conj[i].used || !CondUsable(&fp.keys[i], d) ||
						strcmp(fp.conj[i].path, d->paths[col]) != 0)
						continue;
					if (d->kind == INDEX_HASHED && !fp.keys[i].equality)
						continue;
					found = true;
					score += fp.keys[i].equality ? 3 : 2;
					if (!fp.keys[i].equality)
						range = true;
					if (fp.keys[i].non_null)
						present = true;
				}
				if (!found)
					break;
				cols++;
				if (range)
					break;
			}
			if (score == 0)
				continue;
			if (d->sparse && !present)
				continue;
			if (d->partial != NULL && !ImpliesPartial(&fp, d))
				continue;
			if (d->unique)
				score++;
			if (score > best_score || (score == best_score && cols > best_cols))
			{
				best = d;
				best_score = score;
				best_cols = cols;
			}
		}
		if (best == NULL)
			break;
		if (plan_first == NULL)
			plan_first = best;

		/* the conditions it answers */
		{
			bool	   *covered = palloc0(sizeof(bool) * Max(fp.nconj, 1));
			bool		first = true;
			int			need = 1;

			for (int col = 0; col < best->nfields && col < best_cols; col++)
				for (int i = 0; i < fp.nconj; i++)
					if (!fp.conj[i].used && CondUsable(&fp.keys[i], best) &&
						strcmp(fp.conj[i].path, best->paths[col]) == 0 &&
						(best->kind != INDEX_HASHED || fp.keys[i].equality))
					{
						covered[i] = true;
						need += QualCount(&fp.keys[i]);
					}
			if (*nparams + need > room)
				break;
			if (!first_clause)
				appendStringInfoString(sql, " AND ");
			first_clause = false;
			gstart = sql->len;
			appendStringInfoChar(sql, '(');
			if (best->kind == INDEX_HASHED)
			{
				/* hash equality; the matcher decides (hashes collide) */
				for (int i = 0; i < fp.nconj; i++)
				{
					ListCell   *lq;

					if (!covered[i])
						continue;
					foreach(lq, fp.keys[i].quals)
					{
						KeyQual    *q = (KeyQual *) lfirst(lq);

						if (!first)
							appendStringInfoString(sql, " AND ");
						first = false;
						if (strcmp(q->op, "IN") == 0)
						{
							int			n = list_length(fp.keys[i].in_values);
							Datum	   *h = palloc(sizeof(Datum) * Max(n, 1));
							int			j = 0;
							ListCell   *lv;

							foreach(lv, fp.keys[i].in_values)
								h[j++] = Int64GetDatum(KeyDatumHash((Bson *) lfirst(lv)));
							values[*nparams] = PointerGetDatum(construct_array(h, n, INT8OID, 8,
																			   FLOAT8PASSBYVAL,
																			   TYPALIGN_DOUBLE));
							types[*nparams] = INT8ARRAYOID;
							(*nparams)++;
							appendStringInfo(sql, "%s = ANY ($%d)", best->exprs[0], *nparams);
						}
						else
						{
							values[*nparams] = Int64GetDatum(KeyDatumHash((Bson *) DatumGetPointer(q->value)));
							types[*nparams] = INT8OID;
							(*nparams)++;
							appendStringInfo(sql, "%s = $%d", best->exprs[0], *nparams);
						}
					}
					fp.conj[i].used = true;
					fp.conj[i].exact = false;
				}
				appendStringInfoChar(sql, ')');
			}
			else
			{
				appendStringInfoChar(sql, '(');
				for (int col = 0; col < best->nfields && col < best_cols; col++)
					for (int i = 0; i < fp.nconj; i++)
						if (covered[i] && strcmp(fp.conj[i].path, best->paths[col]) == 0)
						{
							AppendQuals(sql, best->exprs[col], &fp.keys[i], &first,
										KeyCollation(best), values, types, nparams);
							fp.conj[i].used = true;
							fp.conj[i].exact = fp.keys[i].exact;
						}
				/* the documents the keys cannot judge: arrays, huge values */
				values[*nparams] = PointerGetDatum(FilterOf(&fp, covered, false));
				types[*nparams] = BsonTypeOid();
				(*nparams)++;
				gor = sql->len;
				appendStringInfo(sql, ") OR (%s IS NULL AND ", best->exprs[0]);
				AppendMatch(sql, *nparams);
				appendStringInfoString(sql, "))");
				if (split != NULL)
				{
					split->groups++;
					split->start = gstart;
					split->or_at = gor;
					split->end = sql->len;
					split->equality = true;
					for (int i = 0; i < fp.nconj; i++)
						if (covered[i] && !fp.keys[i].equality)
							split->equality = false;
				}
			}
			if (best->predicate != NULL)
				appendStringInfo(sql, " AND %s", best->predicate);
			any = true;
			*indexed = true;
		}
	}

	/* $or over indexed conditions */
	{
		ListCell   *lc;

		foreach(lc, fp.others)
		{
			bson_iter_t *it = (bson_iter_t *) lfirst(lc);
			StringInfoData or;

			if (strcmp(bson_iter_key(it), "$or") != 0 || *nparams > room)
				continue;
			initStringInfo(&or);
			if (!PlanOr(c, it, &or, values, types, nparams, depth))
				continue;
			if (!first_clause)
				appendStringInfoString(sql, " AND ");
			first_clause = false;
			appendStringInfoString(sql, or.data);
			fp.others_done[foreach_current_index(lc)] = true;
			*indexed = true;
		}
	}

	/* what is left for the matcher */
	for (int i = 0; i < fp.nconj; i++)
		want[i] = !(fp.conj[i].used && fp.conj[i].exact);
	{
		bool		rest = false;

		for (int i = 0; i < list_length(fp.others); i++)
			rest |= !fp.others_done[i];
		for (int i = 0; i < fp.nconj; i++)
			rest |= want[i];
		if (rest)
		{
			values[*nparams] = PointerGetDatum(FilterOf(&fp, want, true));
			types[*nparams] = BsonTypeOid();
			(*nparams)++;
			if (!first_clause)
				appendStringInfoString(sql, " AND ");
			first_clause = false;
			AppendMatch(sql, *nparams);
			any = true;
		}
	}
	return any || !first_clause;
}

/*
 * IndexPlanSort
 *		Write an ORDER BY list an index can produce in order for a sort
 *		under a collation (NULL: simple), or return false.  The index must
 *		have the sort's collation: its keys then order as
 *		nosql.bson_sort_value under that collation does.  An ordered index
 *		serves a sort while it has no NULL keys (no document with an array
 *		on its paths, no key too large): MongoDB's rule for multikey indexes
 *		and sorts.
 */
/* Whether a wildcard index covers a path (not _id; below its paths option) */
static bool
WildcardCovers(const IndexDef *d, const char *path)
{
	char	   *list;
	char	   *entry;
	char	   *save = NULL;

	if (strcmp(path, "_id") == 0 || path[0] == '$')
		return false;
	if (d->gin_paths == NULL)
		return true;
	list = pstrdup(d->gin_paths);
	for (entry = strtok_r(list, ",", &save); entry != NULL; entry = strtok_r(NULL, ",", &save))
	{
		size_t		len = strlen(entry);

		if (len > 4 && strcmp(entry + len - 4, ".$**") == 0)
		{
			len -= 4;
			if (strncmp(path, entry, len) == 0 && (path[len] == '\0' || path[len] == '.'))
				return true;
		}
		else if (strcmp(path, entry) == 0)
			return true;
	}
	return false;
}

/*
 * A hinted wildcard index must cover a path the filter has a condition on;
 * MongoDB cannot plan the query otherwise (291).
 */
void
IndexHintCheck(const Collection *c, const char *hint, const uint8_t *filter, uint32_t len)
{
	ListCell   *lc;

	if (c == NULL || c->is_view || hint == NULL)
		return;
	foreach(lc, IndexDefsCached(c))
	{
		IndexDef   *d = (IndexDef *) lfirst(lc);
		FilterPlan	fp;

		if (d->kind != INDEX_GIN || strcmp(d->name, hint) != 0)
			continue;
		FilterSplit(filter, len, &fp);
		for (int i = 0; i < fp.nconj; i++)
			if (WildcardCovers(d, fp.conj[i].path))
				return;
		MongoRaise(MONGO_NO_QUERY_EXECUTION_PLANS,
				   "error processing query: planner returned error :: caused by :: hint provided does not correspond to an index that can answer the query");
	}
}

/*
 * min/max of a find: the hinted ordered index's keys from min (inclusive)
 * to max (exclusive), in the index's order, as
 *	(k1 > $1) OR (k1 = $1 AND k2 < $2) OR (k1 = $1 AND k2 = $2)
 * (the comparisons following each field's direction).  min and max must
 * name the index's fields in order (51174); without a hint, 51173.
 * Documents whose keys are NULL in the btree (arrays on the index's paths,
 * values over 1 kB) are outside every bound.  order gets the index's order
 * (ORDER BY), in which MongoDB returns what such a scan reads.
 */
bool
IndexMinMax(const Collection *c, const char *hint, const uint8_t *min, uint32_t min_len,
			const uint8_t *max, uint32_t max_len, StringInfo sql, StringInfo order,
			Datum *values, Oid *types, int *nparams)
{
	IndexDef	id_def = {0};
	IndexDef   *d = NULL;
	const uint8_t *bounds[2] = {min, max};
	uint32_t	lens[2] = {min_len, max_len};
	bool		first = true;
	ListCell   *lc;

	if (hint == NULL || strcmp(hint, "$natural") == 0)
		MongoRaise(MONGO_MINMAX_NO_HINT,
				   "When using min()/max() a hint of which index to use must be provided");
	if (c == NULL || c->is_view)
		return false;
	if (strcmp(hint, "_id_") == 0)
	{
		static char *id_path = "_id";
		static char *id_expr = "_id";
		static bool id_desc = false;

		id_def.kind = INDEX_ORDERED;
		id_def.nfields = 1;
		id_def.paths = &id_path;
		id_def.exprs = &id_expr;
		id_def.descending = &id_desc;
		d = &id_def;
	}
	else
		foreach(lc, IndexDefsCached(c))
			if (strcmp(((IndexDef *) lfirst(lc))->name, hint) == 0)
				d = lfirst(lc);
	if (d == NULL || d->kind != INDEX_ORDERED)
		MongoRaise(MONGO_MINMAX_INCONSISTENT, "The index chosen is not consistent with min/max");
	if (d->collated)
		MongoRaise(MONGO_NOT_IMPLEMENTED,
				   "min/max over an index with a collation is not supported yet");

	appendStringInfoChar(sql, '(');
	for (int b = 0; b < 2; b++)
	{
		bson_t		doc;
		bson_iter_t it;
		int			field = 0;
		int		   *params;
		const char *strict;

		if (bounds[b] == NULL)
			continue;
		if (!bson_init_static(&doc, bounds[b], lens[b]) || !bson_iter_init(&it, &doc))
			MongoRaise(MONGO_MINMAX_INCONSISTENT, "The index chosen is not consistent with min/max");
		params = palloc(sizeof(int) * d->nfields);
		while (bson_iter_next(&it))
		{
			if (field >= d->nfields || strcmp(bson_iter_key(&it), d->paths[field]) != 0 ||
				*nparams >= FIND_MAX_PARAMS - 8)
				MongoRaise(MONGO_MINMAX_INCONSISTENT,
						   "The index chosen is not consistent with min/max");
			values[*nparams] = PointerGetDatum(BsonFromIter(&it));
			types[*nparams] = BsonTypeOid();
			params[field++] = ++(*nparams);
		}
		if (field != d->nfields)
			MongoRaise(MONGO_MINMAX_INCONSISTENT, "The index chosen is not consistent with min/max");

		/* min: after the bound in index order, or at it; max: before it */
		appendStringInfo(sql, "%s(", first ? "" : " AND ");
		first = false;
		for (int i = 0; i < d->nfields + (b == 0 ? 1 : 0); i++)
		{
			appendStringInfo(sql, "%s(", i > 0 ? " OR " : "");
			for (int j = 0; j < i && j < d->nfields; j++)
				appendStringInfo(sql, "%s%s OPERATOR(nosql.=) $%d", j > 0 ? " AND " : "",
								 d->exprs[j], params[j]);
			if (i < d->nfields)
			{
				strict = (b == 0) != d->descending[i] ? ">" : "<";
				appendStringInfo(sql, "%s%s OPERATOR(nosql.%s) $%d", i > 0 ? " AND " : "",
								 d->exprs[i], strict, params[i]);
			}
			appendStringInfoChar(sql, ')');
		}
		appendStringInfoChar(sql, ')');
	}
	appendStringInfoChar(sql, ')');
	/* the order of the index, which MongoDB's bounded scan returns */
	for (int i = 0; i < d->nfields; i++)
		appendStringInfo(order, "%s%s%s", i > 0 ? ", " : "", d->exprs[i],
						 d->descending[i] ? " DESC" : "");
	return true;
}

bool
IndexPlanSort(const Collection *c, const BsonSortSpec *sort, const BsonCollation *collation,
			  StringInfo sql)
{
	int			n = BsonSortFieldCount(sort);
	List	   *defs;
	ListCell   *lc;

	if (n == 1 && strcmp(BsonSortFieldPath(sort, 0), "_id") == 0 && collation == NULL)
	{
		appendStringInfo(sql, "_id%s", BsonSortFieldDescending(sort, 0) ? " DESC" : "");
		return true;
	}
	defs = IndexDefsCached(c);
	foreach(lc, defs)
	{
		IndexDef   *d = (IndexDef *) lfirst(lc);
		bool		same = true;
		bool		reversed = true;
		bool		found;

		if (d->kind != INDEX_ORDERED || d->hidden || d->predicate != NULL ||
			d->nfields < n || !BsonCollationEqual(KeyCollation(d), collation))
			continue;
		for (int i = 0; i < n; i++)
		{
			if (strcmp(d->paths[i], BsonSortFieldPath(sort, i)) != 0)
				same = reversed = false;
			else if (d->descending[i] == BsonSortFieldDescending(sort, i))
				reversed = false;
			else
				same = false;
		}
		if (!same && !reversed)
			continue;
		if (CompanionExists(d))
			continue;
		SPI_connect();
		found = IndexHasNullKeys(c, d, false);
		SPI_finish();
		if (found)
			continue;
		for (int i = 0; i < n; i++)
			appendStringInfo(sql, "%s%s%s", i > 0 ? ", " : "", d->exprs[i],
							 BsonSortFieldDescending(sort, i) ? " DESC" : "");
		return true;
	}
	return false;
}

/* ---- duplicate keys ---- */

/*
 * The key values PostgreSQL's unique violation reports ("Key (expr, ...)
 * =(v1, v2) already exists."), parsed into an array iterator; false when
 * the detail is missing (no SELECT privilege) or not of that form.
 */
static bool
DuplicateValues(const char *detail, BsonParsed *parsed, bson_iter_t *values)
{
	const char *start;
	const char *end;
	char	   *text;
	char	   *error = NULL;
	bson_iter_t top;

	if (detail == NULL || (start = strstr(detail, ")=(")) == NULL)
		return false;
	start += 3;
	end = strstr(start, ") already exists");
	if (end == NULL)
		end = strstr(start, ") is duplicated");	/* from an index build */
	if (end == NULL)
		return false;
	while (strstr(end + 1, ") already exists") != NULL)
		end = strstr(end + 1, ") already exists");
	text = psprintf("[%.*s]", (int) (end - start), start);
	if (!BsonParseJson(text, strlen(text), parsed, &error))
		return false;
	if (!bson_iter_init(&top, &parsed->doc) || !bson_iter_next(&top) ||
		!BSON_ITER_HOLDS_ARRAY(&top) || !bson_iter_recurse(&top, values))
		return false;
	return true;
}

/*
 * IndexDuplicateDescribe
 *		MongoDB's message and keyPattern/keyValue for a unique violation of
 *		the _id or a secondary index of a collection; false when the index
 *		is not one of ours.  Runs after the failed subtransaction is gone.
 */
bool
IndexDuplicateDescribe(const char *constraint, const char *schema, const char *detail,
					   char **message, bson_t **extra)
{
	Oid			nsp = get_namespace_oid("nosql_data", true);
	Oid			indexoid;
	Oid			relid;
	char	   *database = NULL;
	char	   *name = NULL;
	Collection *c;
	bson_t		pattern;
	const char *mongo_name = NULL;
	bool		is_id = false;
	MemoryContext caller;
	static const uint8_t id_pattern[] = {
		14, 0, 0, 0, 0x10, '_', 'i', 'd', 0, 1, 0, 0, 0, 0
	};

	if (constraint == NULL || !OidIsValid(nsp) || schema == NULL ||
		strcmp(schema, "nosql_data") != 0)
		return false;
	indexoid = get_relname_relid(constraint, nsp);
	if (!OidIsValid(indexoid) || !OidIsValid(relid = IndexGetRelation(indexoid, true)))
		return false;

	caller = CurrentMemoryContext;
	SPI_connect();
	{
		Oid			types[1] = {OIDOID};
		Datum		args[1];

		args[0] = ObjectIdGetDatum(relid);
		if (SPI_execute_with_args("SELECT database, name FROM nosql.collection WHERE relation = $1",
								  1, types, args, NULL, true, 1) == SPI_OK_SELECT &&
			SPI_processed == 1)
		{
			MemoryContext old = MemoryContextSwitchTo(caller);

			database = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
			name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
			MemoryContextSwitchTo(old);
		}
	}
	SPI_finish();
	if (database == NULL || name == NULL || (c = CollectionLookup(database, name)) == NULL)
		return false;

	if (indexoid == get_relname_relid(psprintf("%s_pkey", get_rel_name(relid)), nsp))
	{
		is_id = true;
		mongo_name = "_id_";
		if (!bson_init_static(&pattern, id_pattern, sizeof(id_pattern)))
			return false;
	}
	else if (!IndexSpecOfPgIndex(c, constraint, &pattern, &mongo_name))
		return false;

	(void) is_id;
	DescribeDuplicate(&pattern, detail, c, mongo_name, message, extra);
	return true;
}

/*
 * MongoDB's keyPattern/keyValue (in *extra) and message for a duplicate
 * key of the index mongo_name with the given key pattern.
 */
static void
DescribeDuplicate(const bson_t *pattern, const char *detail, const Collection *c,
				  const char *mongo_name, char **message, bson_t **extra)
{
	BsonParsed	parsed;
	bson_iter_t values;
	bool		have_values;
	StringInfoData dup;
	bson_t	   *out;
	bson_t		kv;
	bson_iter_t pk;

	have_values = DuplicateValues(detail, &parsed, &values);
	out = bson_new();
	bson_append_document(out, "keyPattern", -1, pattern);
	BSON_APPEND_DOCUMENT_BEGIN(out, "keyValue", &kv);
	initStringInfo(&dup);
	appendStringInfoString(&dup, "{ ");
	if (bson_iter_init(&pk, pattern))
	{
		bool		first = true;

		while (bson_iter_next(&pk))
		{
			bool		has = have_values && bson_iter_next(&values);

			if (has)
				bson_append_iter(&kv, bson_iter_key(&pk), -1, &values);
			else
				bson_append_null(&kv, bson_iter_key(&pk), -1);
			appendStringInfo(&dup, "%s%s: ", first ? "" : ", ", bson_iter_key(&pk));
			if (has)
				BsonPrintValue(&dup, &values, BSON_JSON_RELAXED);
			else
				appendStringInfoString(&dup, "null");
			first = false;
		}
	}
	appendStringInfoString(&dup, " }");
	bson_append_document_end(out, &kv);
	*extra = out;
	*message = psprintf("E11000 duplicate key error collection: %s.%s index: %s dup key: %s",
						c->database, c->name, mongo_name, dup.data);
}

/* ---- unique indexes over array elements ---- */

static int
IndexHashCompare(const ListCell *a, const ListCell *b)
{
	int64		x = *(int64 *) lfirst(a);
	int64		y = *(int64 *) lfirst(b);

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* 11000 for a key (one value per field) an array element shares with another document */
static void
UniqueMultikeyRaise(const char *collection, char **args, char **paths, int npaths,
					const bson_value_t *key)
{
	bson_t	   *extra = bson_new();
	bson_t		kv;
	BsonParsed	pattern;
	char	   *error = NULL;
	StringInfoData dup;

	if (BsonParseJson(args[2], strlen(args[2]), &pattern, &error))
		bson_append_document(extra, "keyPattern", -1, &pattern.doc);
	BSON_APPEND_DOCUMENT_BEGIN(extra, "keyValue", &kv);
	initStringInfo(&dup);
	appendStringInfoString(&dup, "{ ");
	for (int i = 0; i < npaths; i++)
	{
		bson_t		one = BSON_INITIALIZER;
		bson_iter_t it;

		bson_append_value(&kv, paths[i], -1, &key[i]);
		bson_append_value(&one, "", 0, &key[i]);
		bson_iter_init(&it, &one);
		bson_iter_next(&it);
		appendStringInfo(&dup, "%s%s: ", i > 0 ? ", " : "", paths[i]);
		BsonPrintValue(&dup, &it, BSON_JSON_RELAXED);
		bson_destroy(&one);
	}
	appendStringInfoString(&dup, " }");
	bson_append_document_end(extra, &kv);
	MongoRaiseExtra(MONGO_DUPLICATE_KEY, extra,
					"E11000 duplicate key error collection: %s index: %s dup key: %s",
					collection, args[0], dup.data);
}

/*
 * Append to keys (an array being built) the index keys MongoDB gives a
 * document for a dotted path: the value, each element of an array met on
 * the way or at the end (an empty array: undefined), null when missing.
 */
static void
MultikeyKeys(bson_iter_t *container, const char *path, bson_t *keys, int *n)
{
	const char *dot = strchr(path, '.');
	int			plen = dot != NULL ? (int) (dot - path) : (int) strlen(path);
	bson_iter_t it = *container;
	char		idx[16];

	if (!bson_iter_find_w_len(&it, path, plen))
	{
		snprintf(idx, sizeof(idx), "%d", (*n)++);
		bson_append_null(keys, idx, -1);
		return;
	}
	if (BSON_ITER_HOLDS_ARRAY(&it))
	{
		bson_iter_t e;
		bool		empty = true;

		bson_iter_recurse(&it, &e);
		while (bson_iter_next(&e))
		{
			empty = false;
			if (dot == NULL)
			{
				snprintf(idx, sizeof(idx), "%d", (*n)++);
				bson_append_iter(keys, idx, -1, &e);
			}
			else if (BSON_ITER_HOLDS_DOCUMENT(&e))
			{
				bson_iter_t child;

				bson_iter_recurse(&e, &child);
				MultikeyKeys(&child, dot + 1, keys, n);
			}
		}
		if (empty)
		{
			snprintf(idx, sizeof(idx), "%d", (*n)++);
			bson_append_undefined(keys, idx, -1);
		}
		return;
	}
	if (dot == NULL)
	{
		snprintf(idx, sizeof(idx), "%d", (*n)++);
		bson_append_iter(keys, idx, -1, &it);
		return;
	}
	if (BSON_ITER_HOLDS_DOCUMENT(&it))
	{
		bson_iter_t child;

		bson_iter_recurse(&it, &child);
		MultikeyKeys(&child, dot + 1, keys, n);
		return;
	}
	snprintf(idx, sizeof(idx), "%d", (*n)++);
	bson_append_null(keys, idx, -1);
}

/* The keys of a document for a path, as an array document */
static void
DocumentKeys(const Bson *doc, const char *path, bson_t *keys)
{
	bson_iter_t it;
	int			n = 0;

	bson_init(keys);
	if (!BsonIsScalar(doc) && bson_iter_init_from_data(&it, BsonBytes(doc), BsonDocLen(doc)))
		MultikeyKeys(&it, path, keys, &n);
}

/*
 * nosql.bson_unique_multikey() — AFTER INSERT OR UPDATE OF document row
 * trigger beside a unique single-field index (arguments: the MongoDB index
 * name, the path, the key pattern as JSON).  The btree makes non-array
 * keys unique; documents with an array on the path have NULL keys there,
 * so this checks them the way MongoDB does, element by element: no other
 * document may hold one of the new document's keys, as a value or in an
 * array.  Concurrent writers of the same keys are serialized by
 * transaction-level advisory locks on the keys' hashes, taken before the
 * check (which reads with a new snapshot, so it sees what they committed).
 */
/*
 * The index keys of a document, one tuple of values per key (the values of
 * the fields of the key pattern: MongoDB's keys of a multikey document are
 * one per element of its array).  False when two fields have several
 * values (arrays of documents reaching two fields, which MongoDB keys
 * element by element, not as a product): such documents are not checked.
 */
static bool
KeyTuples(const Bson *doc, char **paths, int npaths, List **tuples)
{
	bson_t	   *sets = palloc(sizeof(bson_t) * npaths);
	int		   *counts = palloc0(sizeof(int) * npaths);
	int			wide = -1;
	bson_iter_t it;

	for (int i = 0; i < npaths; i++)
	{
		DocumentKeys(doc, paths[i], &sets[i]);
		bson_iter_init(&it, &sets[i]);
		while (bson_iter_next(&it))
			counts[i]++;
		if (counts[i] > 1)
		{
			if (wide >= 0)
				return false;
			wide = i;
		}
	}
	*tuples = NIL;
	for (int e = 0; e < (wide >= 0 ? counts[wide] : 1); e++)
	{
		bson_value_t *tuple = palloc(sizeof(bson_value_t) * npaths);

		for (int i = 0; i < npaths; i++)
		{
			int			want = i == wide ? e : 0;
			int			k = 0;

			bson_iter_init(&it, &sets[i]);
			while (bson_iter_next(&it) && k++ < want)
				;
			bson_value_copy(bson_iter_value(&it), &tuple[i]);
		}
		*tuples = lappend(*tuples, tuple);
	}
	return true;
}

/* Whether two keys are equal (MongoDB's equality; undefined: empty array) */
static bool
KeyTuplesEqual(const bson_value_t *a, const bson_value_t *b, int npaths)
{
	for (int i = 0; i < npaths; i++)
	{
		bson_t		ha = BSON_INITIALIZER;
		bson_t		hb = BSON_INITIALIZER;
		bson_iter_t ia;
		bson_iter_t ib;
		bool		same;

		if ((a[i].value_type == BSON_TYPE_UNDEFINED) != (b[i].value_type == BSON_TYPE_UNDEFINED))
			return false;
		if (a[i].value_type == BSON_TYPE_UNDEFINED)
			continue;
		bson_append_value(&ha, "", 0, &a[i]);
		bson_append_value(&hb, "", 0, &b[i]);
		bson_iter_init(&ia, &ha);
		bson_iter_init(&ib, &hb);
		bson_iter_next(&ia);
		bson_iter_next(&ib);
		same = BsonCompareValues(&ia, &ib) == 0;
		bson_destroy(&ha);
		bson_destroy(&hb);
		if (!same)
			return false;
	}
	return true;
}

/*
 * The tuples of keys with their strings replaced by the collation's sort
 * keys, as a collated index holds them (the same list without a collation).
 */
static List *
KeyTuplesKeyed(List *tuples, int npaths, const BsonCollation *collation)
{
	List	   *out = NIL;
	ListCell   *lc;

	if (collation == NULL)
		return tuples;
	foreach(lc, tuples)
	{
		bson_value_t *tuple = lfirst(lc);
		bson_value_t *keyed = palloc(sizeof(bson_value_t) * npaths);

		for (int i = 0; i < npaths; i++)
		{
			bson_t		one = BSON_INITIALIZER;
			bson_t		k = BSON_INITIALIZER;
			bson_iter_t it;

			bson_append_value(&one, "", 0, &tuple[i]);
			bson_iter_init(&it, &one);
			bson_iter_next(&it);
			if (tuple[i].value_type == BSON_TYPE_UNDEFINED)
				bson_value_copy(&tuple[i], &keyed[i]);
			else
			{
				BsonCollationAppendKeyed(collation, &k, "", 0, &it);
				bson_iter_init(&it, &k);
				bson_iter_next(&it);
				bson_value_copy(bson_iter_value(&it), &keyed[i]);
			}
			bson_destroy(&one);
			bson_destroy(&k);
		}
		out = lappend(out, keyed);
	}
	return out;
}

/* The paths of a key pattern given as JSON (a trigger argument) */
static int
KeyPatternPaths(const char *json, char ***paths)
{
	BsonParsed	pattern;
	char	   *error = NULL;
	bson_iter_t it;
	int			n = 0;

	if (!BsonParseJson(json, strlen(json), &pattern, &error) || !bson_iter_init(&it, &pattern.doc))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("invalid key pattern \"%s\" for nosql.bson_unique_multikey()", json)));
	*paths = palloc(sizeof(char *) * 32);
	while (bson_iter_next(&it) && n < 32)
		(*paths)[n++] = pstrdup(bson_iter_key(&it));
	return n;
}

/*
 * Check one document of a unique index against the others (see
 * bson_unique_multikey); lock: take the advisory locks first.  relname is
 * the schema-qualified table; args are the trigger's: index name, first
 * path, key pattern (JSON), then (triggers made since these were added)
 * the index's predicate (SQL over document; empty for none), its
 * collation (JSON; empty for none) and the key expression of each field.
 */
static void
UniqueMultikeyCheck(Relation rel, const char *relname, char **args, int nargs, Bson *doc,
					bool lock)
{
	bool		isnull;
	bson_iter_t id;
	List	   *tuples;
	List	   *hashes = NIL;
	ListCell   *lc;
	bool		multikey;
	char	  **paths;
	int			npaths;
	const char *predicate = nargs > 3 && args[3][0] != '\0' ? args[3] : NULL;
	const BsonCollation *collation = NULL;
	char	  **exprs;
	List	   *keyed;
	StringInfoData pathsarray;
	bson_t		cond = BSON_INITIALIZER;
	bson_t		conj;
	Oid			t[3];
	Datum		v[3];
	uint64		seed = (uint64) hash_bytes((const unsigned char *) args[0], strlen(args[0])) ^
		RelationGetRelid(rel);

	if (BsonIsScalar(doc) || !bson_iter_init_from_data(&id, BsonBytes(doc), BsonDocLen(doc)) ||
		!bson_iter_find(&id, "_id"))
		return;
	npaths = KeyPatternPaths(args[2], &paths);
	if (npaths == 0 || !KeyTuples(doc, paths, npaths, &tuples))
		return;
	if (nargs > 4 && args[4][0] != '\0')
	{
		BsonParsed	parsed;
		char	   *error = NULL;

		if (!BsonParseJson(args[4], strlen(args[4]), &parsed, &error))
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("invalid collation \"%s\" for nosql.bson_unique_multikey()", args[4])));
		collation = CompileCollation(bson_get_data(&parsed.doc), parsed.doc.len);
	}
	exprs = palloc(sizeof(char *) * npaths);
	initStringInfo(&pathsarray);
	appendStringInfoString(&pathsarray, "ARRAY[");
	for (int i = 0; i < npaths; i++)
		appendStringInfo(&pathsarray, "%s%s", i > 0 ? ", " : "", Lit(paths[i]));
	appendStringInfoString(&pathsarray, "]::text[]");
	for (int i = 0; i < npaths; i++)
	{
		if (nargs >= 5 + npaths)
			exprs[i] = args[5 + i];
		else if (npaths == 1)
			exprs[i] = psprintf("nosql.bson_index_key(document, %s::text)", Lit(paths[i]));
		else
			exprs[i] = psprintf("nosql.bson_index_key(document, %s::text, %s)",
								Lit(paths[i]), pathsarray.data);
	}
	multikey = IndexMultikey(doc, paths, npaths);
	keyed = KeyTuplesKeyed(tuples, npaths, collation);

	/* one key hash per tuple, locked in hash order */
	foreach(lc, keyed)
	{
		bson_value_t *tuple = lfirst(lc);
		uint64		h = seed;

		for (int i = 0; i < npaths; i++)
		{
			bson_t		one = BSON_INITIALIZER;
			bson_iter_t it;

			bson_append_value(&one, "", 0, &tuple[i]);
			bson_iter_init(&it, &one);
			bson_iter_next(&it);
			h = BsonHashValue(&it, h);
			bson_destroy(&one);
		}
		hashes = lappend(hashes, palloc(sizeof(int64)));
		*(int64 *) llast(hashes) = (int64) h;
	}
	list_sort(hashes, IndexHashCompare);

	/* the other multikey documents that may share a key: each field in its values */
	bson_append_array_begin(&cond, "$and", 4, &conj);
	for (int i = 0; i < npaths; i++)
	{
		bson_t		field;
		bson_t		ors;
		bson_t		alt;
		bson_t		op;
		bson_t		vals;
		int			nvals = 0;
		bool		has_empty = false;
		char		idx[16];

		snprintf(idx, sizeof(idx), "%d", i);
		bson_append_document_begin(&conj, idx, -1, &field);
		bson_append_array_begin(&field, "$or", 3, &ors);
		bson_append_document_begin(&ors, "0", 1, &alt);
		bson_append_document_begin(&alt, paths[i], -1, &op);
		bson_append_array_begin(&op, "$in", 3, &vals);
		foreach(lc, tuples)
		{
			bson_value_t *tuple = lfirst(lc);

			if (tuple[i].value_type == BSON_TYPE_UNDEFINED)
			{
				has_empty = true;
				continue;
			}
			snprintf(idx, sizeof(idx), "%d", nvals++);
			bson_append_value(&vals, idx, -1, &tuple[i]);
		}
		bson_append_array_end(&op, &vals);
		bson_append_document_end(&alt, &op);
		bson_append_document_end(&ors, &alt);
		if (has_empty)
		{
			bson_append_document_begin(&ors, "1", 1, &alt);
			bson_append_document_begin(&alt, paths[i], -1, &op);
			BSON_APPEND_INT32(&op, "$size", 0);
			bson_append_document_end(&alt, &op);
			bson_append_document_end(&ors, &alt);
		}
		bson_append_array_end(&field, &ors);
		bson_append_document_end(&conj, &field);
	}
	bson_append_array_end(&cond, &conj);

	SPI_connect();
	t[0] = t[1] = t[2] = BsonTypeOid();
	v[0] = PointerGetDatum(BsonFromIter(&id));
	v[1] = PointerGetDatum(doc);

	/* a document outside a sparse or partial index has no keys to check */
	if (predicate != NULL)
	{
		if (SPI_execute_with_args(psprintf("SELECT 1 FROM (SELECT $2 AS document) d WHERE %s "
										   "AND $1 IS NOT NULL", predicate),
								  2, t, v, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not check a unique index");
		if (SPI_processed == 0)
		{
			SPI_finish();
			bson_destroy(&cond);
			return;
		}
	}
	foreach(lc, lock ? hashes : NIL)
	{
		Oid			lt[1] = {INT8OID};
		Datum		lv[1];

		lv[0] = Int64GetDatum(*(int64 *) lfirst(lc));
		if (SPI_execute_with_args("SELECT pg_catalog.pg_advisory_xact_lock($1)", 1, lt, lv, NULL,
								  false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not lock an index key");
	}
	{
		char	   *sql;

		v[1] = PointerGetDatum(BsonFromDocument(&cond, false));
		if (collation != NULL)
		{
			/* candidates: the same values under the collation */
			BsonParsed	parsed;
			char	   *error = NULL;

			if (!BsonParseJson(args[4], strlen(args[4]), &parsed, &error))
				elog(ERROR, "invalid collation of a unique index");
			v[2] = PointerGetDatum(BsonFromDocument(&parsed.doc, false));
			sql = psprintf("SELECT document FROM %s WHERE %s IS NULL AND _id OPERATOR(nosql.<>) $1 "
						   "AND nosql.bson_matches(document, $2, $3)%s%s", relname, exprs[0],
						   predicate != NULL ? " AND " : "", predicate != NULL ? predicate : "");
		}
		else
			sql = psprintf("SELECT document FROM %s WHERE %s IS NULL AND _id OPERATOR(nosql.<>) $1 "
						   "AND document OPERATOR(nosql.@@) $2%s%s", relname, exprs[0],
						   predicate != NULL ? " AND " : "", predicate != NULL ? predicate : "");
		if (SPI_execute_with_args(sql, collation != NULL ? 3 : 2, t, v, NULL, false, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not check a unique index");
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			Bson	   *other = DatumGetBsonP(SPI_getbinval(SPI_tuptable->vals[r],
															SPI_tuptable->tupdesc, 1, &isnull));
			List	   *others;
			ListCell   *la;
			ListCell   *lb;

			if (!KeyTuples(other, paths, npaths, &others))
				continue;
			others = KeyTuplesKeyed(others, npaths, collation);
			foreach(la, keyed)
				foreach(lb, others)
					if (KeyTuplesEqual(lfirst(la), lfirst(lb), npaths))
						UniqueMultikeyRaise(RelationGetRelationName(rel), args, paths, npaths,
											lfirst(la));
		}
		/* a multikey document against the non-array keys of the btree */
		if (multikey)
		{
			foreach(lc, keyed)
			{
				bson_value_t *tuple = lfirst(lc);
				StringInfoData q;
				bool		skip = false;
				Datum	   *kv = palloc(sizeof(Datum) * (npaths + 1));
				Oid		   *kt = palloc(sizeof(Oid) * (npaths + 1));

				initStringInfo(&q);
				appendStringInfo(&q, "SELECT 1 FROM %s WHERE _id OPERATOR(nosql.<>) $1", relname);
				kv[0] = v[0];
				kt[0] = BsonTypeOid();
				for (int i = 0; i < npaths && !skip; i++)
				{
					bson_t		one = BSON_INITIALIZER;
					bson_iter_t it;

					if (tuple[i].value_type == BSON_TYPE_UNDEFINED)
						skip = true;	/* empty arrays are never btree keys */
					bson_append_value(&one, "", 0, &tuple[i]);
					bson_iter_init(&it, &one);
					bson_iter_next(&it);
					kv[i + 1] = PointerGetDatum(BsonFromIter(&it));
					kt[i + 1] = BsonTypeOid();
					appendStringInfo(&q, " AND %s OPERATOR(nosql.=) $%d", exprs[i], i + 2);
					bson_destroy(&one);
				}
				if (skip)
					continue;
				if (predicate != NULL)
					appendStringInfo(&q, " AND %s", predicate);
				appendStringInfoString(&q, " LIMIT 1");
				if (SPI_execute_with_args(q.data, npaths + 1, kt, kv, NULL, false, 1) != SPI_OK_SELECT)
					elog(ERROR, "could not check a unique index");
				if (SPI_processed > 0)
					UniqueMultikeyRaise(RelationGetRelationName(rel), args, paths, npaths, tuple);
			}
		}
	}
	SPI_finish();
	bson_destroy(&cond);
}

PG_FUNCTION_INFO_V1(bson_unique_multikey);
Datum
bson_unique_multikey(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	tuple;
	Relation	rel;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) || trigdata->tg_trigger->tgnargs < 3)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("nosql.bson_unique_multikey() must be an AFTER ROW trigger with 3 or more arguments")));
	tuple = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	rel = trigdata->tg_relation;
	desc = RelationGetDescr(rel);
	d = heap_getattr(tuple, SPI_fnumber(desc, "document"), desc, &isnull);
	if (!isnull)
		UniqueMultikeyCheck(rel, quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
															RelationGetRelationName(rel)),
							trigdata->tg_trigger->tgargs, trigdata->tg_trigger->tgnargs,
							DatumGetBsonP(d), true);
	return PointerGetDatum(tuple);
}

/*
 * nosql.create_indexes_sql(database, command): the CREATE INDEX
 * CONCURRENTLY statements a createIndexes command would build, for
 * building them without blocking writers (psql: \gexec); the createIndexes
 * that follows finds them built and only records the specs (and creates
 * the unique-elements triggers).  The command is run and rolled back, so
 * its errors are createIndexes' own; the collection must exist.
 */
PG_FUNCTION_INFO_V1(nosql_create_indexes_sql);
Datum
nosql_create_indexes_sql(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *database = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Bson	   *command = PG_GETARG_BSON_P(1);
	MemoryContext caller = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	List	   *statements;
	ListCell   *lc;
	bson_iter_t it;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	if (BsonIsScalar(command) ||
		!bson_iter_init_from_data(&it, BsonBytes(command), BsonDocLen(command)) ||
		!bson_iter_next(&it) || strcmp(bson_iter_key(&it), "createIndexes") != 0 ||
		!BSON_ITER_HOLDS_UTF8(&it))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("nosql.create_indexes_sql takes a createIndexes command on a collection")));
	if (CollectionLookup(database, bson_iter_utf8(&it, NULL)) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("collection \"%s.%s\" does not exist", database, bson_iter_utf8(&it, NULL)),
				 errhint("Create the collection first; its indexes can then be built concurrently.")));

	index_dry_run_context = caller;
	index_dry_run_statements = NIL;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(caller);
	PG_TRY();
	{
		bson_t	   *reply = bson_new();

		index_dry_run = true;
		CommandExecute(database, BsonBytes(command), BsonDocLen(command), reply);
		index_dry_run = false;
	}
	PG_CATCH();
	{
		index_dry_run = false;
		MemoryContextSwitchTo(caller);
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(caller);
		CurrentResourceOwner = owner;
		PG_RE_THROW();
	}
	PG_END_TRY();
	statements = index_dry_run_statements;
	index_dry_run_statements = NIL;
	/* nothing of the command stays */
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(caller);
	CurrentResourceOwner = owner;

	foreach(lc, statements)
	{
		Datum		value = CStringGetTextDatum((char *) lfirst(lc));
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	return (Datum) 0;
}

/*
 * The key expression of an ordered index that can answer a $lookup's
 * equality on path for every foreign document (its first field, over all
 * documents, keys without a collation), or NULL.  The expression reads the
 * column "document" of the row in scope.
 */
const char *
IndexLookupKeyExpr(const Collection *c, const char *path)
{
	ListCell   *lc;

	if (c == NULL || c->is_view)
		return NULL;
	if (strcmp(path, "_id") == 0)
		return "_id";
	foreach(lc, IndexDefsCached(c))
	{
		IndexDef   *d = (IndexDef *) lfirst(lc);

		if (d->kind == INDEX_ORDERED && !d->hidden && !d->sparse && d->partial == NULL &&
			!d->collated && d->nfields >= 1 && strcmp(d->paths[0], path) == 0)
			return d->exprs[0];
	}
	return NULL;
}
