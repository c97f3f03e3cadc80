/*-------------------------------------------------------------------------
 *
 * nosql.h
 *	  Declarations shared by every part of the nosql extension: the
 *	  per-capability initialisation entry points called from _PG_init and
 *	  the GUC variables.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_H
#define NOSQL_H

#include "datatype/timestamp.h"

#define NOSQL_VERSION "0.1"

/* guc.c */
extern char *nosql_database;
extern int	nosql_worker_naptime;
extern int	nosql_ttl_interval;
extern int	nosql_kv_quota;
extern int	nosql_cursor_timeout;
extern char *nosql_plan_hint;

extern void GucInit(void);
extern void GucReservePrefix(void);

/* worker.c */
extern void WorkerInit(void);
extern struct BackgroundWorkerHandle *WorkerStartDynamic(const char *function, const char *name,
														 const char *type, Datum main_arg,
														 const void *extra, Size extra_len,
														 pid_t notify_pid);
extern void WorkerLeaseDeadline(TimestampTz deadline);
extern bool WorkerTransaction(void (*body) (void *arg), void *arg);

/* ts_scan.c */
extern void TsScanInit(void);

/* ts_store.c */
extern void TsRound(void);

/* ts_rollup.c */
extern void TsRollupRound(void);

/* ttl.c */
extern void TtlRound(void);

/* index_build.c */
extern void IndexBuildRound(void);

/* bson_io.c */
extern void BsonInit(void);

/* indexes.c, catalog.c, query_sql.c */
extern void IndexInit(void);
extern void QueryInit(void);
extern void CatalogInit(void);

/* text_sql.c: the $text query operator */
extern void TextInit(void);

#endif							/* NOSQL_H */
