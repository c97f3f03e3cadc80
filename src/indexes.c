/*-------------------------------------------------------------------------
 *
 * indexes.c
 *	  The PostgreSQL indexes behind MongoDB's index specs, and the use of
 *	  them by the queries of the commands.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "documents.h"

/* ---- the PostgreSQL indexes behind MongoDB's index specs ---- */

/*
 * The paths of a key pattern that a path-restricted bson_gin_ops index can
 * serve ("a,b.c"), or NULL when the spec is not one it can serve: every
 * key must be an ascending or descending path ({a: 1, "b.c": -1}); text,
 * geo and hashed keys and wildcards are served otherwise or not yet.
 */
static char *
IndexGinPaths(const bson_iter_t *spec)
{
	bson_iter_t f;
	bson_iter_t key;
	StringInfoData paths;

	bson_iter_recurse(spec, &f);
	if (!bson_iter_find(&f, "key") || !BSON_ITER_HOLDS_DOCUMENT(&f))
		return NULL;
	initStringInfo(&paths);
	bson_iter_recurse(&f, &key);
	while (bson_iter_next(&key))
	{
		const char *path = bson_iter_key(&key);

		if (!BsonIterIsNumber(&key) || strchr(path, ',') != NULL ||
			strstr(path, "$**") != NULL || path[0] == '$')
			return NULL;
		if (paths.len > 0)
			appendStringInfoChar(&paths, ',');
		appendStringInfoString(&paths, path);
	}
	return paths.len > 0 ? paths.data : NULL;
}

/*
 * Make the collection's PostgreSQL indexes match its index specs: one GIN
 * index (nosql.bson_gin_ops restricted to the spec's paths) for every spec
 * it can serve, named nosql_ix_<table oid>_<hash of the MongoDB name>; the
 * others of that prefix are dropped.  Runs as the calling role, which owns
 * the table (checked by the caller).  Uniqueness is not enforced by these
 * indexes (the indexing work).
 */
void
IndexSync(const Collection *c, const bson_t *specs)
{
	char		prefix[NAMEDATALEN];
	List	   *wanted = NIL;
	List	   *create = NIL;
	bson_iter_t it;
	ListCell   *lc;

	if (c->is_view || !OidIsValid(c->relid))
		return;
	snprintf(prefix, sizeof(prefix), "nosql_ix_%u_", c->relid);
	bson_iter_init(&it, specs);
	while (bson_iter_next(&it))
	{
		bson_iter_t f;
		char	   *paths;
		char	   *name;

		if (!BSON_ITER_HOLDS_DOCUMENT(&it) || (paths = IndexGinPaths(&it)) == NULL)
			continue;
		bson_iter_recurse(&it, &f);
		if (!bson_iter_find(&f, "name") || !BSON_ITER_HOLDS_UTF8(&f))
			continue;
		name = psprintf("%s%08x", prefix,
						hash_bytes((const unsigned char *) bson_iter_utf8(&f, NULL),
								   strlen(bson_iter_utf8(&f, NULL))));
		wanted = lappend(wanted, name);
		create = lappend(create, psprintf("CREATE INDEX IF NOT EXISTS %s ON %s USING gin "
										  "(document nosql.bson_gin_ops (paths = %s))",
										  quote_identifier(name), c->qualified,
										  quote_literal_cstr(paths)));
	}

	SPI_connect();
	{
		Oid			types[2] = {OIDOID, TEXTOID};
		Datum		values[2];

		values[0] = ObjectIdGetDatum(c->relid);
		values[1] = CStringGetTextDatum(psprintf("%s%%", prefix));
		if (SPI_execute_with_args("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
								  "WHERE i.indrelid = $1 AND c.relname LIKE $2",
								  2, types, values, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not list the indexes of %s", c->qualified);
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			char	   *have = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
			bool		keep = false;

			foreach(lc, wanted)
				if (strcmp((char *) lfirst(lc), have) == 0)
					keep = true;
			if (!keep)
				SPI_execute(psprintf("DROP INDEX %s",
									 quote_qualified_identifier("nosql_data", have)),
							false, 0);
		}
	}
	foreach(lc, create)
		if (SPI_execute((char *) lfirst(lc), false, 0) != SPI_OK_UTILITY)
			elog(ERROR, "could not create an index on %s", c->qualified);
	SPI_finish();
}

