/*-------------------------------------------------------------------------
 *
 * ts_copy.c
 *	  COPY FROM into a time-series table, compressing on the way the
 *	  rows of partitions that are due for compression.
 *
 * Design note.  A bulk load of points whose partition is older than the
 * table's compress_after would be written to the heap and its indexes,
 * then read back, deleted and written again as blocks by the policy.  This
 * path writes them as blocks at once: rows are read with PostgreSQL's own
 * COPY parser (BeginCopyFrom/NextCopyFrom, so formats, options, defaults,
 * column lists and error context are COPY's), routed by the executor's
 * partition routing, checked against the partition's NOT NULL and CHECK
 * constraints, and then either buffered per series for a block
 * (ts_compress.c, TsDirect*) when their partition is due, or inserted into
 * the partition's heap and indexes as COPY would insert them.
 *
 * The path is taken only where it behaves like COPY: COPY FROM (the client,
 * a server file or a program, with COPY's privileges) into the time-series
 * table itself, without WHERE or FREEZE, with nosql
 * preloaded (every backend must read blocks), no triggers on the table or
 * its partitions (foreign keys are triggers), no unique or exclusion
 * index (compression refuses them too), no row-level security, no
 * stored generated columns, only heap partitions, and no change stream
 * that must decode the rows (a slot of plugin nosql: the points would not
 * reach it).  A partition is due when its range ended before now() minus
 * compress_after; one without a block table yet gets one, by
 * nosql.timeseries_compress_partition, when the table's owner loads it
 * (the block table belongs to the owner) and no query uses the partition
 * (it is then the load's until it commits: see TsCompressSettle);
 * otherwise its rows go to the heap for the policy to compress.
 * Everything else is COPY's own path.
 *
 * Routing goes down the whole partition tree, so a table whose time ranges
 * are split by hash of the series columns gets its rows into the leaves,
 * which are the partitions the catalog lists, compresses and reads.  Rows
 * of many series alternate between those leaves, so the load finds a
 * leaf's decision and compressor by its OID in a hash table rather than a
 * list, and counts the rows buffered by all its compressors together.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/copy.h"
#include "commands/progress.h"
#include "executor/execPartition.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "pgstat.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"

#include "cdc.h"
#include "timeseries.h"
#include "ts_compress.h"

bool		nosql_timeseries_compress_copy = true;

/* A partition due for compression, or one the load has routed rows to */
typedef struct TsCopyTarget
{
	Oid			partition;		/* hash key */
	bool		due;			/* due for compression, not decided yet */
	bool		has_blocks;
	TsDirect   *direct;			/* its compressor, once rows came */
} TsCopyTarget;

/*
 * The due partitions of a time-series table that COPY may compress, in a
 * hash table by partition, or NULL with *eligible false when the load must
 * take COPY's own path (NULL with *eligible true: none is due).
 */
static HTAB *
TsCopyTargets(Oid relid, bool *eligible)
{
	HTAB	   *targets = NULL;
	MemoryContext caller = CurrentMemoryContext;
	Datum		arg = ObjectIdGetDatum(relid);
	Oid			argtype = OIDOID;
	bool		isnull;
	int			rc;

	*eligible = false;
	/* the library may be preloaded in a database without the extension */
	{
		Oid			nsp = get_namespace_oid("nosql", true);

		if (!OidIsValid(nsp) || !OidIsValid(get_relname_relid("timeseries", nsp)) ||
			!OidIsValid(get_relname_relid("timeseries_partition", nsp)))
			return NULL;
	}
	SPI_connect();
	/* a time-series table with a compression policy */
	rc = SPI_execute_with_args("SELECT 1 FROM nosql.timeseries t"
							   " WHERE t.relid OPERATOR(pg_catalog.=) $1"
							   "   AND t.compress_after IS NOT NULL",
							   1, &argtype, &arg, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed == 0)
		goto done;
	/*
	 * No triggers anywhere, only heap partitions, and no unique or
	 * exclusion index (blocks are not in the partitions' indexes, so
	 * nothing could check the rows they hold against it)
	 */
	rc = SPI_execute_with_args("SELECT EXISTS (SELECT FROM pg_catalog.pg_partition_tree($1) p"
							   "   JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.relid"
							   "  WHERE p.isleaf AND (c.relkind OPERATOR(pg_catalog.<>) 'r' OR c.relam OPERATOR(pg_catalog.<>)"
							   "        (SELECT a.oid FROM pg_catalog.pg_am a WHERE a.amname OPERATOR(pg_catalog.=) 'heap'))"
							   "     OR EXISTS (SELECT FROM pg_catalog.pg_trigger g"
							   "                 WHERE g.tgrelid OPERATOR(pg_catalog.=) p.relid)"
							   "     OR EXISTS (SELECT FROM pg_catalog.pg_index i"
							   "                 WHERE i.indrelid OPERATOR(pg_catalog.=) p.relid"
							   "                   AND (i.indisunique OR i.indisexclusion)))",
							   1, &argtype, &arg, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1 ||
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) ||
		isnull)
		goto done;
	/* its partitions due for compression */
	rc = SPI_execute_with_args("SELECT p.partition, p.blocks IS NOT NULL"
							   "  FROM nosql.timeseries t"
							   "  JOIN nosql.timeseries_partition p ON p.relid OPERATOR(pg_catalog.=) t.relid"
							   " WHERE t.relid OPERATOR(pg_catalog.=) $1 AND p.range_end IS NOT NULL"
							   "   AND p.range_end OPERATOR(pg_catalog.<=)"
							   "       (pg_catalog.now() OPERATOR(pg_catalog.-) t.compress_after)",
							   1, &argtype, &arg, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		goto done;
	if (SPI_processed > 0)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(TsCopyTarget);
		ctl.hcxt = caller;
		targets = hash_create("nosql COPY partitions", Max(SPI_processed, 16), &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		Oid			partition = DatumGetObjectId(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		TsCopyTarget *t = hash_search(targets, &partition, HASH_ENTER, NULL);

		t->has_blocks = DatumGetBool(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
		t->due = true;
		t->direct = NULL;
	}
	*eligible = true;
done:
	SPI_finish();
	return targets;
}

/* Give a due partition its block table (as nosql.timeseries_compress_partition does) */
static void
TsCopyMakeBlocks(Oid partition)
{
	Datum		arg = ObjectIdGetDatum(partition);
	Oid			argtype = REGCLASSOID;

	SPI_connect();
	if (SPI_execute_with_args("SELECT nosql.timeseries_compress_partition($1)",
							  1, &argtype, &arg, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not make the block table of \"%s\"", get_rel_name(partition));
	SPI_finish();
}

/*
 * The compressor of a routed partition, or NULL: its rows go to the heap.
 * *buffered counts the rows buffered by the load's compressors.
 */
static TsDirect *
TsCopyDirect(HTAB *targets, ResultRelInfo *rri, int64 *buffered)
{
	Relation	part = rri->ri_RelationDesc;
	Oid			relid = RelationGetRelid(part);
	TsCopyTarget *t;
	TsChunkInfo *info;

	t = hash_search(targets, &relid, HASH_FIND, NULL);
	if (t == NULL)
		return NULL;			/* not due */
	if (t->direct != NULL)
		return t->direct;
	if (!t->due)
		return NULL;
	/* decided once per partition */
	t->due = false;
	if (!t->has_blocks)
	{
		/*
		 * The partition becomes compressed: no query may span that
		 * (TsCompressSettle), so it is ours until the load commits; if
		 * queries keep using it, its rows go to the heap.
		 */
		if (!pg_class_ownercheck(relid, GetUserId()) ||
			!TsCompressSettle(part, 1000))
			return NULL;
		TsCopyMakeBlocks(relid);
		CommandCounterIncrement();
	}
	info = TsLookupChunk(relid);
	if (info == NULL)
		return NULL;
	t->direct = TsDirectBegin(part, info, buffered);
	return t->direct;
}

/* Every compressor of the load makes its buffers blocks */
static void
TsCopyFlushAll(HTAB *targets)
{
	HASH_SEQ_STATUS status;
	TsCopyTarget *t;

	hash_seq_init(&status, targets);
	while ((t = hash_seq_search(&status)) != NULL)
		if (t->direct != NULL)
			TsDirectFlushAll(t->direct);
}

/*
 * TsCopyFrom
 *		Run a COPY FROM into a time-series table with compression of its
 *		due partitions' rows; false when the statement is not one this
 *		path takes (the caller then runs COPY as usual).
 */
bool
TsCopyFrom(PlannedStmt *pstmt, const char *queryString, QueryCompletion *qc)
{
	CopyStmt   *stmt = (CopyStmt *) pstmt->utilityStmt;
	ListCell   *lc;
	Oid			relid;
	Relation	rel;
	bool		eligible;
	HTAB	   *targets;
	RangeTblEntry *rte;
	List	   *attnums;
	EState	   *estate;
	ResultRelInfo *root;
	ModifyTableState *mtstate;
	PartitionTupleRouting *proute;
	ParseState *pstate;
	CopyFromState cstate;
	ExprContext *econtext;
	TupleTableSlot *rootslot;
	BulkInsertState bistate;
	ErrorContextCallback errcallback;
	CommandId	cid;
	uint64		processed = 0;
	int64		buffered = 0;
	ResultRelInfo *lastpart = NULL;
	TsDirect   *lastdirect = NULL;
	MemoryContext oldcxt = CurrentMemoryContext;

	if (!nosql_timeseries_compress_copy || !TsScanPreloaded() ||
		!stmt->is_from || stmt->relation == NULL || stmt->query != NULL ||
		stmt->whereClause != NULL)
		return false;
	/* a server file or program: COPY's own path says who may not */
	if (stmt->filename != NULL &&
		!has_privs_of_role(GetUserId(), stmt->is_program ?
						   ROLE_PG_EXECUTE_SERVER_PROGRAM : ROLE_PG_READ_SERVER_FILES))
		return false;
	foreach(lc, stmt->options)
	{
		DefElem    *opt = lfirst_node(DefElem, lc);

		if (strcmp(opt->defname, "freeze") == 0)
			return false;
	}
	relid = RangeVarGetRelid(stmt->relation, RowExclusiveLock, true);
	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_PARTITIONED_TABLE ||
		get_rel_persistence(relid) == RELPERSISTENCE_TEMP)
		return false;
	targets = TsCopyTargets(relid, &eligible);
	if (!eligible || targets == NULL)
		return false;
	rel = table_open(relid, NoLock);

	/* what DoCopy checks, in its order */
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = relid;
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_INSERT;
	attnums = CopyGetAttnums(RelationGetDescr(rel), rel, stmt->attlist);
	foreach(lc, attnums)
		rte->insertedCols = bms_add_member(rte->insertedCols,
										   lfirst_int(lc) - FirstLowInvalidHeapAttributeNumber);
	ExecCheckRTPerms(list_make1(rte), true);
	if (check_enable_rls(relid, InvalidOid, false) == RLS_ENABLED ||
		(rel->rd_att->constr != NULL && rel->rd_att->constr->has_generated_stored))
	{
		table_close(rel, NoLock);
		return false;
	}
	PreventCommandIfReadOnly("COPY FROM");
	PreventCommandIfParallelMode("COPY FROM");
	/*
	 * A change stream decodes the points from heap inserts.  The look gives
	 * the transaction its xid first, so that a slot made after it does not
	 * decode this load.
	 */
	if (CdcSlotWanted())
	{
		table_close(rel, NoLock);
		return false;
	}

	/* from here on, what CopyFrom does */
	estate = CreateExecutorState();
	ExecInitRangeTable(estate, list_make1(rte));
	root = makeNode(ResultRelInfo);
	ExecInitResultRelation(estate, root, 1);
	mtstate = makeNode(ModifyTableState);
	mtstate->ps.plan = NULL;
	mtstate->ps.state = estate;
	mtstate->operation = CMD_INSERT;
	mtstate->mt_nrels = 1;
	mtstate->resultRelInfo = root;
	mtstate->rootResultRelInfo = root;
	proute = ExecSetupPartitionTupleRouting(estate, rel);

	pstate = make_parsestate(NULL);
	pstate->p_sourcetext = queryString;
	cstate = BeginCopyFrom(pstate, rel, NULL, stmt->filename, stmt->is_program,
						   NULL, stmt->attlist, stmt->options);
	econtext = GetPerTupleExprContext(estate);
	rootslot = ExecInitExtraTupleSlot(estate, RelationGetDescr(rel), &TTSOpsVirtual);
	bistate = GetBulkInsertState();
	cid = GetCurrentCommandId(true);

	errcallback.callback = CopyFromErrorCallback;
	errcallback.arg = (void *) cstate;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	for (;;)
	{
		ResultRelInfo *part;
		TupleTableSlot *slot;
		TsDirect   *direct;

		CHECK_FOR_INTERRUPTS();
		ResetPerTupleExprContext(estate);
		MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
		ExecClearTuple(rootslot);
		if (!NextCopyFrom(cstate, econtext, rootslot->tts_values, rootslot->tts_isnull))
			break;
		ExecStoreVirtualTuple(rootslot);

		part = ExecFindPartition(mtstate, root, proute, rootslot, estate);
		slot = rootslot;
		if (part->ri_RootToPartitionMap != NULL)
			slot = execute_attr_map_slot(part->ri_RootToPartitionMap->attrMap,
										 rootslot, part->ri_PartitionTupleSlot);
		if (part->ri_RelationDesc->rd_att->constr != NULL)
			ExecConstraints(part, slot, estate);

		MemoryContextSwitchTo(oldcxt);
		/* loads come in time order mostly: the same partition again */
		if (part != lastpart)
		{
			ReleaseBulkInsertStatePin(bistate);
			lastdirect = TsCopyDirect(targets, part, &buffered);
			lastpart = part;
		}
		direct = lastdirect;
		if (direct != NULL)
		{
			TsDirectAdd(direct, slot);
			if (buffered >= TS_DIRECT_MAX_ROWS)
				TsCopyFlushAll(targets);
		}
		else
		{
			MemoryContextSwitchTo(GetPerTupleMemoryContext(estate));
			table_tuple_insert(part->ri_RelationDesc, slot, cid, 0, bistate);
			if (part->ri_NumIndices > 0)
				list_free(ExecInsertIndexTuples(part, slot, estate, false, false,
												NULL, NIL));
			MemoryContextSwitchTo(oldcxt);
		}
		pgstat_progress_update_param(PROGRESS_COPY_TUPLES_PROCESSED, ++processed);
	}
	MemoryContextSwitchTo(oldcxt);
	error_context_stack = errcallback.previous;

	{
		HASH_SEQ_STATUS status;
		TsCopyTarget *t;

		hash_seq_init(&status, targets);
		while ((t = hash_seq_search(&status)) != NULL)
			if (t->direct != NULL)
				TsDirectEnd(t->direct);
	}
	hash_destroy(targets);
	FreeBulkInsertState(bistate);
	EndCopyFrom(cstate);
	ExecResetTupleTable(estate->es_tupleTable, false);
	ExecCleanupTupleRouting(mtstate, proute);
	ExecCloseResultRelations(estate);
	ExecCloseRangeTableRelations(estate);
	FreeExecutorState(estate);
	table_close(rel, NoLock);

	if (qc)
		SetQueryCompletion(qc, CMDTAG_COPY, processed);
	return true;
}
