/*-------------------------------------------------------------------------
 *
 * nosql.c
 *	  Entry point of the nosql extension.
 *
 * _PG_init only delegates to each capability; the work lives in the files
 * named after the capability (bson_*.c, worker.c, guc.c, ...).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "cdc.h"
#include "kv.h"
#include "nosql.h"
#include "raft.h"

PG_MODULE_MAGIC;

#if PG_VERSION_NUM < 160000
void		_PG_init(void);
#endif

/*
 * Library load: register settings first (the worker reads them), then the
 * capabilities.
 */
void
_PG_init(void)
{
	GucInit();
	BsonInit();
	TextInit();
	WorkerInit();
	KvWatchInit();
	KvApplyInit();
	RaftInit();
	CdcWatchInit();
	CdcWatchersInit();
	IndexInit();
	CatalogInit();
	QueryInit();
	TsScanInit();
	GucReservePrefix();
}

/*
 * nosql.version() — the version of the loaded library.  It can differ from
 * the installed SQL objects' version (pg_extension.extversion) between
 * "make install" and "ALTER EXTENSION nosql UPDATE".
 */
PG_FUNCTION_INFO_V1(nosql_version);
Datum
nosql_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(NOSQL_VERSION));
}
