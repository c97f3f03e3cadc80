/*-------------------------------------------------------------------------
 *
 * ts_agg.c
 *	  Aggregates over time-series tables answered from the statistics of
 *	  compressed blocks: the custom node "Nosql Block Aggregate".
 *
 * Design note.  Each block row keeps its row count, first and last time,
 * and per value column its NULL count, smallest and largest value and (for
 * int2/int4) its sum.  A query such as
 *
 *		SELECT host, count(*), min(cpu), max(cpu), max(time)
 *		  FROM metrics WHERE time >= '...' AND time < '...' GROUP BY host
 *
 * can take a block whose rows all satisfy the WHERE clause from those
 * statistics without decoding it.  create_upper_paths_hook offers a path
 * for the grouping of a time-series table when:
 *
 *	- the query reads that table alone, with no HAVING, grouping sets or
 *	  row-level security;
 *	- every qual is a time bound or reads segment_by columns only (so that
 *	  a block inside the time bounds whose series passes has every row
 *	  passing);
 *	- it groups by segment_by columns only (or not at all);
 *	- it selects those columns and count(*), count(column), min and max of
 *	  int2/int4/int8/float4/float8/date/timestamp/timestamptz columns and of
 *	  the time column, and sum of int2/int4 columns, nothing else.
 *
 * The node visits the partitions left after pruning: their heap rows (not
 * compressed yet) one by one with the quals; their blocks by the same
 * filters as the decompressing scan; a block inside the time bounds from
 * its statistics; any other block decoded (only the columns needed) and
 * filtered row by row.  The results are those of the ordinary plan: the
 * statistics are exact (min/max order NaN above every number, as
 * PostgreSQL's min and max do).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/nbtree.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_aggregate.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "common/int.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planner.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "ts_compress.h"

static create_upper_paths_hook_type prev_create_upper_paths_hook = NULL;

/* What an output column is */
typedef enum TsAggKind
{
	TSA_GROUP,					/* a grouping (segment_by) column */
	TSA_COUNT_STAR,
	TSA_COUNT,
	TSA_MIN,
	TSA_MAX,
	TSA_SUM						/* of int2/int4: int8 */
} TsAggKind;

static bool
TsAggStatType(Oid typid)
{
	return TsHasValueStats(typid);
}

/*
 * The kind and column of an output expression, or false when the node
 * cannot compute it.
 */
static bool
TsAggClassify(Expr *expr, Index varno, TsChunkInfo *info, List *groupattrs,
			  int *kind, AttrNumber *attno)
{
	if (IsA(expr, Var))
	{
		Var		   *var = (Var *) expr;

		if (var->varno != (int) varno || var->varlevelsup != 0 ||
			!list_member_int(groupattrs, var->varattno))
			return false;
		*kind = TSA_GROUP;
		*attno = var->varattno;
		return true;
	}
	if (IsA(expr, Aggref))
	{
		Aggref	   *agg = (Aggref *) expr;
		Var		   *var;
		AttrNumber	a;
		TsColumnRole role;

		if (agg->aggfilter != NULL || agg->aggorder != NIL || agg->aggdistinct != NIL ||
			agg->aggkind != AGGKIND_NORMAL || agg->agglevelsup != 0 ||
			agg->aggsplit != AGGSPLIT_SIMPLE)
			return false;
		if (agg->aggfnoid == F_COUNT_ && agg->aggstar)
		{
			*kind = TSA_COUNT_STAR;
			*attno = 0;
			return true;
		}
		if (list_length(agg->args) != 1)
			return false;
		var = (Var *) ((TargetEntry *) linitial(agg->args))->expr;
		if (!IsA(var, Var) || var->varno != (int) varno || var->varlevelsup != 0 ||
			var->varattno < 1 || var->varattno > info->natts)
			return false;
		a = var->varattno;
		role = info->role[a - 1];
		*attno = a;
		switch (agg->aggfnoid)
		{
			case F_COUNT_ANY:
				if (role == TS_ROLE_VALUE && info->stat_nulls[a - 1] == 0)
					return false;
				*kind = TSA_COUNT;
				return role != TS_ROLE_NONE;
			case F_MIN_INT2:
			case F_MIN_INT4:
			case F_MIN_INT8:
			case F_MIN_FLOAT4:
			case F_MIN_FLOAT8:
			case F_MIN_DATE:
			case F_MIN_TIMESTAMP:
			case F_MIN_TIMESTAMPTZ:
				*kind = TSA_MIN;
				break;
			case F_MAX_INT2:
			case F_MAX_INT4:
			case F_MAX_INT8:
			case F_MAX_FLOAT4:
			case F_MAX_FLOAT8:
			case F_MAX_DATE:
			case F_MAX_TIMESTAMP:
			case F_MAX_TIMESTAMPTZ:
				*kind = TSA_MAX;
				break;
			case F_SUM_INT2:
			case F_SUM_INT4:
				if (role != TS_ROLE_VALUE || info->stat_sum[a - 1] == 0)
					return false;
				*kind = TSA_SUM;
				return true;
			default:
				return false;
		}
		/* min and max */
		if (role == TS_ROLE_TIME)
			return true;
		return role == TS_ROLE_VALUE && TsAggStatType(info->typid[a - 1]) &&
			info->stat_min[a - 1] != 0;
	}
	return false;
}

/* ---- planning ---- */

static Plan *TsAggPlanPath(PlannerInfo *root, RelOptInfo *rel, struct CustomPath *best_path,
						   List *tlist, List *clauses, List *custom_plans);
static Node *TsAggCreateState(CustomScan *cscan);

static const CustomPathMethods TsAggPathMethods = {
	.CustomName = "Nosql Block Aggregate",
	.PlanCustomPath = TsAggPlanPath,
};

static const CustomScanMethods TsAggScanMethods = {
	.CustomName = "Nosql Block Aggregate",
	.CreateCustomScanState = TsAggCreateState,
};

/*
 * The leaf partitions of rel left after pruning, into *parts: its own
 * partitions, and those of a time range partitioned by hash (its live
 * leaves, pruned by the same quals).  False when one is neither a heap
 * table nor a partitioned one.
 */
static bool
TsAggLeaves(PlannerInfo *root, RelOptInfo *rel, List **parts)
{
	int			i = -1;

	check_stack_depth();
	while ((i = bms_next_member(rel->live_parts, i)) >= 0)
	{
		RelOptInfo *child = rel->part_rels[i];
		RangeTblEntry *crte;

		if (child == NULL || IS_DUMMY_REL(child))
			continue;
		crte = planner_rt_fetch(child->relid, root);
		if (crte->relkind == RELKIND_PARTITIONED_TABLE)
		{
			if (child->part_rels == NULL || !TsAggLeaves(root, child, parts))
				return false;
			continue;
		}
		if (crte->relkind != RELKIND_RELATION)
			return false;
		*parts = lappend_oid(*parts, crte->relid);
	}
	return true;
}

/* Do the partition's columns have the parent's numbers and types? */
static bool
TsAggSameColumns(Oid parent, Oid part, Bitmapset *attrs)
{
	int			x = -1;

	while ((x = bms_next_member(attrs, x)) >= 0)
	{
		char	   *a = get_attname(parent, x, true);
		char	   *b = get_attname(part, x, true);

		if (a == NULL || b == NULL || strcmp(a, b) != 0 ||
			get_atttype(parent, x) != get_atttype(part, x))
			return false;
	}
	return true;
}

static void
TsAggUpperPaths(PlannerInfo *root, UpperRelationKind stage, RelOptInfo *input_rel,
				RelOptInfo *output_rel, void *extra)
{
	Query	   *parse = root->parse;
	GroupPathExtraData *gextra = (GroupPathExtraData *) extra;
	RangeTblEntry *rte;
	TsChunkInfo *info = NULL;
	List	   *parts = NIL;
	List	   *groupattrs = NIL;
	List	   *kinds = NIL;
	List	   *attnos = NIL;
	List	   *quals = NIL;
	Bitmapset  *attrs = NULL;
	ListCell   *lc;
	CustomPath *cp;
	double		groups;

	if (prev_create_upper_paths_hook)
		prev_create_upper_paths_hook(root, stage, input_rel, output_rel, extra);
	if (stage != UPPERREL_GROUP_AGG || gextra == NULL ||
		gextra->patype != PARTITIONWISE_AGGREGATE_NONE)
		return;
	if (parse->commandType != CMD_SELECT || parse->groupingSets != NIL ||
		parse->havingQual != NULL || parse->hasWindowFuncs || parse->hasTargetSRFs ||
		parse->rowMarks != NIL || !parse->hasAggs)
		return;
	if (input_rel->reloptkind != RELOPT_BASEREL || IS_DUMMY_REL(input_rel) ||
		input_rel->part_scheme == NULL || input_rel->nparts <= 0 ||
		input_rel->part_rels == NULL || input_rel->lateral_relids != NULL)
		return;
	rte = planner_rt_fetch(input_rel->relid, root);
	if (rte->rtekind != RTE_RELATION || rte->relkind != RELKIND_PARTITIONED_TABLE ||
		rte->securityQuals != NIL || rte->tablesample != NULL)
		return;

	/* the live partitions; the first compressed one tells the columns' roles */
	if (!TsAggLeaves(root, input_rel, &parts))
		return;
	foreach(lc, parts)
	{
		info = TsLookupChunk(lfirst_oid(lc));
		if (info != NULL)
			break;
	}
	if (info == NULL)
		return;

	/* quals: time bounds and segment quals only, and no security barrier */
	foreach(lc, input_rel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		int			strategy;
		Expr	   *bound;
		AttrNumber	attno;
		int			kind;

		if (ri->security_level > 0 || ri->pseudoconstant ||
			TsHasExecParam((Node *) ri->clause, NULL))
			return;
		kind = TsClassifyClause(ri->clause, input_rel->relid, info, &strategy, &bound, &attno);
		if (kind != TS_CLAUSE_TIME && kind != TS_CLAUSE_SEGMENT)
			return;
		quals = lappend(quals, ri->clause);
		pull_varattnos((Node *) ri->clause, input_rel->relid, &attrs);
	}

	/* grouping by segment columns */
	foreach(lc, parse->groupClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *te = get_sortgroupclause_tle(sgc, parse->targetList);
		Var		   *var = (Var *) te->expr;

		if (!IsA(var, Var) || var->varno != (int) input_rel->relid || var->varlevelsup != 0 ||
			var->varattno < 1 || var->varattno > info->natts ||
			info->role[var->varattno - 1] != TS_ROLE_SEGMENT || !OidIsValid(sgc->eqop) ||
			!sgc->hashable)
			return;
		groupattrs = lappend_int(groupattrs, var->varattno);
	}

	/* the output: grouping columns and the aggregates it knows */
	foreach(lc, output_rel->reltarget->exprs)
	{
		int			kind;
		AttrNumber	attno;

		if (!TsAggClassify((Expr *) lfirst(lc), input_rel->relid, info, groupattrs,
						   &kind, &attno))
			return;
		kinds = lappend_int(kinds, kind);
		attnos = lappend_int(attnos, attno);
		if (attno > 0)
			attrs = bms_add_member(attrs, attno - FirstLowInvalidHeapAttributeNumber);
	}
	{
		/* pull_varattnos offsets the numbers; undo that for the check */
		Bitmapset  *plain = NULL;
		int			x = -1;

		while ((x = bms_next_member(attrs, x)) >= 0)
			if (x + FirstLowInvalidHeapAttributeNumber > 0)
				plain = bms_add_member(plain, x + FirstLowInvalidHeapAttributeNumber);
		foreach(lc, parts)
		{
			TsChunkInfo *pinfo = TsLookupChunk(lfirst_oid(lc));
			int			y = -1;

			if (!TsAggSameColumns(rte->relid, lfirst_oid(lc), plain))
				return;
			if (pinfo == NULL)
				continue;
			/* every compressed partition keeps the same roles and statistics */
			while ((y = bms_next_member(plain, y)) >= 0)
				if (y > pinfo->natts || pinfo->role[y - 1] != info->role[y - 1] ||
					(pinfo->stat_min[y - 1] == 0) != (info->stat_min[y - 1] == 0) ||
					(pinfo->stat_nulls[y - 1] == 0) != (info->stat_nulls[y - 1] == 0) ||
					(pinfo->stat_sum[y - 1] == 0) != (info->stat_sum[y - 1] == 0))
					return;
		}
	}

	groups = output_rel->pathlist != NIL ? ((Path *) linitial(output_rel->pathlist))->rows : 1;
	cp = makeNode(CustomPath);
	cp->path.pathtype = T_CustomScan;
	cp->path.parent = output_rel;
	cp->path.pathtarget = output_rel->reltarget;
	cp->path.param_info = NULL;
	cp->path.parallel_aware = false;
	cp->path.parallel_safe = false;
	cp->path.parallel_workers = 0;
	cp->path.rows = groups;

	/*
	 * Cheaper than decoding: the blocks' statistics stand for their rows.
	 * A tenth of the cheapest ordinary plan, at least something per group.
	 */
	{
		Cost		cheapest = input_rel->cheapest_total_path ? input_rel->cheapest_total_path->total_cost : 1000;

		cp->path.startup_cost = cheapest * 0.1 + groups * cpu_tuple_cost;
		cp->path.total_cost = cp->path.startup_cost + groups * cpu_tuple_cost;
	}
	cp->path.pathkeys = NIL;
	cp->flags = 0;
	cp->custom_private = list_make5(parts, kinds, attnos, quals, groupattrs);
	cp->custom_private = lappend(cp->custom_private, list_make1_int(input_rel->relid));
	cp->methods = &TsAggPathMethods;
	add_path(output_rel, &cp->path);
}

static Plan *
TsAggPlanPath(PlannerInfo *root, RelOptInfo *rel, struct CustomPath *best_path,
			  List *tlist, List *clauses, List *custom_plans)
{
	CustomScan *cscan = makeNode(CustomScan);
	List	   *scan_tlist = NIL;
	ListCell   *lc;
	int			resno = 1;
	List	   *groupops = NIL;
	Query	   *parse = root->parse;

	foreach(lc, best_path->path.pathtarget->exprs)
		scan_tlist = lappend(scan_tlist, makeTargetEntry(copyObject(lfirst(lc)), resno++, NULL, false));
	foreach(lc, parse->groupClause)
		groupops = lappend_oid(groupops, lfirst_node(SortGroupClause, lc)->eqop);

	cscan->scan.plan.targetlist = tlist;
	cscan->scan.plan.qual = NIL;
	cscan->scan.scanrelid = 0;
	cscan->flags = best_path->flags;
	cscan->custom_scan_tlist = scan_tlist;
	cscan->custom_exprs = NIL;
	/*
	 * parts, kinds, attnos, quals (Vars of the parent, evaluated on rows of
	 * the partitions, which share its column numbers), grouping columns,
	 * the parent's range table index, the grouping columns' = operators
	 */
	cscan->custom_private = lappend(list_copy(best_path->custom_private), groupops);
	cscan->methods = &TsAggScanMethods;
	return &cscan->scan.plan;
}

/* ---- execution ---- */

typedef struct TsAggAcc
{
	int64		count;
	Datum		value;
	bool		isnull;
} TsAggAcc;

typedef struct TsAggState
{
	CustomScanState css;
	List	   *parts;
	int			nout;
	int		   *kind;
	AttrNumber *attno;
	Oid		   *typid;
	FmgrInfo   *cmp;
	ExprState  *qual;			/* every qual, for rows */
	List	   *strategies;		/* time bounds, for blocks */
	List	   *boundstates;
	List	   *segclauses;
	int			ngroup;
	AttrNumber *groupattno;
	TupleTableSlot *keyslot;
	TupleTableSlot *outkeyslot;	/* the keys of the hash table's entries */
	TupleHashTable hash;
	MemoryContext tablecxt;
	TsAggAcc   *single;			/* no GROUP BY: the one group */
	bool		done;
	TupleHashIterator iter;
	bool		iterating;
	bool		emitted_single;
	int64		blocks_stats;
	int64		blocks_decoded;
	int64		blocks_skipped;
	int64		heap_rows;
} TsAggState;

static void TsAggBegin(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *TsAggExec(CustomScanState *node);
static void TsAggEnd(CustomScanState *node);
static void TsAggRescan(CustomScanState *node);
static void TsAggExplain(CustomScanState *node, List *ancestors, ExplainState *es);

static const CustomExecMethods TsAggExecMethods = {
	.CustomName = "Nosql Block Aggregate",
	.BeginCustomScan = TsAggBegin,
	.ExecCustomScan = TsAggExec,
	.EndCustomScan = TsAggEnd,
	.ReScanCustomScan = TsAggRescan,
	.ExplainCustomScan = TsAggExplain,
};

static Node *
TsAggCreateState(CustomScan *cscan)
{
	TsAggState *state = (TsAggState *) newNode(sizeof(TsAggState), T_CustomScanState);

	state->css.methods = &TsAggExecMethods;
	return (Node *) state;
}

static void
TsAggBegin(CustomScanState *node, EState *estate, int eflags)
{
	TsAggState *state = (TsAggState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	List	   *kinds = lsecond(cscan->custom_private);
	List	   *attnos = lthird(cscan->custom_private);
	List	   *quals = lfourth(cscan->custom_private);
	List	   *groupattrs = list_nth(cscan->custom_private, 4);
	Index		varno = linitial_int((List *) list_nth(cscan->custom_private, 5));
	List	   *groupops = list_nth(cscan->custom_private, 6);
	TupleDesc	scandesc = node->ss.ss_ScanTupleSlot->tts_tupleDescriptor;
	ListCell   *lc;
	ListCell   *la;
	int			i = 0;
	TsChunkInfo *info = NULL;

	state->parts = linitial(cscan->custom_private);
	state->nout = list_length(kinds);
	state->kind = palloc(sizeof(int) * state->nout);
	state->attno = palloc(sizeof(AttrNumber) * state->nout);
	state->typid = palloc(sizeof(Oid) * state->nout);
	state->cmp = palloc0(sizeof(FmgrInfo) * state->nout);
	forboth(lc, kinds, la, attnos)
	{
		state->kind[i] = lfirst_int(lc);
		state->attno[i] = lfirst_int(la);
		state->typid[i] = TupleDescAttr(scandesc, i)->atttypid;
		if (state->kind[i] == TSA_MIN || state->kind[i] == TSA_MAX)
			fmgr_info_copy(&state->cmp[i],
						   &lookup_type_cache(state->typid[i], TYPECACHE_CMP_PROC_FINFO)->cmp_proc_finfo,
						   CurrentMemoryContext);
		i++;
	}

	/* rows may come in heap slots or virtual slots */
	node->ss.ps.scanopsfixed = false;
	state->qual = ExecInitQual(quals, &node->ss.ps);
	state->tablecxt = AllocSetContextCreate(estate->es_query_cxt, "nosql block aggregate",
											ALLOCSET_DEFAULT_SIZES);

	/* the time bounds and segment quals decide which blocks to read */
	foreach(la, state->parts)
		if ((info = TsLookupChunk(lfirst_oid(la))) != NULL)
			break;
	foreach(lc, info != NULL ? quals : NIL)
	{
		Expr	   *clause = (Expr *) lfirst(lc);
		int			strategy;
		Expr	   *bound;
		AttrNumber	a;

		/* the plan's quals name the parent table, whose numbers the partitions share */
		if (TsClassifyClause(clause, varno, info, &strategy, &bound, &a) == TS_CLAUSE_TIME)
		{
			state->strategies = lappend_int(state->strategies, strategy);
			state->boundstates = lappend(state->boundstates, ExecInitExpr(bound, &node->ss.ps));
		}
		else
			state->segclauses = lappend(state->segclauses, clause);
	}

	state->ngroup = list_length(groupattrs);
	if (state->ngroup > 0)
	{
		TupleDesc	keydesc = CreateTemplateTupleDesc(state->ngroup);
		AttrNumber *keycols = palloc(sizeof(AttrNumber) * state->ngroup);
		Oid		   *eqops = palloc(sizeof(Oid) * state->ngroup);
		Oid		   *colls = palloc(sizeof(Oid) * state->ngroup);
		Oid		   *eqfuncs;
		FmgrInfo   *hashfuncs;
		Oid			parent = InvalidOid;

		state->groupattno = palloc(sizeof(AttrNumber) * state->ngroup);
		/* the types of the grouping columns: from the output where they are */
		i = 0;
		forboth(lc, groupattrs, la, groupops)
		{
			AttrNumber	a = lfirst_int(lc);
			int			k;
			Oid			typid = InvalidOid;
			int32		typmod = -1;
			Oid			coll = InvalidOid;

			for (k = 0; k < state->nout; k++)
				if (state->kind[k] == TSA_GROUP && state->attno[k] == a)
				{
					typid = TupleDescAttr(scandesc, k)->atttypid;
					typmod = TupleDescAttr(scandesc, k)->atttypmod;
					coll = TupleDescAttr(scandesc, k)->attcollation;
					break;
				}
			if (!OidIsValid(typid))
			{
				/* grouped by but not selected: the partition's column */
				if (!OidIsValid(parent))
					parent = linitial_oid(state->parts);
				get_atttypetypmodcoll(parent, a, &typid, &typmod, &coll);
			}
			TupleDescInitEntry(keydesc, i + 1, NULL, typid, typmod, 0);
			TupleDescInitEntryCollation(keydesc, i + 1, coll);
			state->groupattno[i] = a;
			keycols[i] = i + 1;
			eqops[i] = lfirst_oid(la);
			colls[i] = coll;
			i++;
		}
		state->keyslot = ExecInitExtraTupleSlot(estate, keydesc, &TTSOpsVirtual);
		state->outkeyslot = ExecInitExtraTupleSlot(estate, keydesc, &TTSOpsMinimalTuple);
		execTuplesHashPrepare(state->ngroup, eqops, &eqfuncs, &hashfuncs);
		state->hash = BuildTupleHashTableExt(&node->ss.ps, keydesc, state->ngroup, keycols,
											 eqfuncs, hashfuncs, colls, 64, 0,
											 estate->es_query_cxt, state->tablecxt,
											 node->ss.ps.ps_ExprContext->ecxt_per_tuple_memory,
											 false);
	}
}

/* The accumulators of the group of the segment values in vals/nulls (by partition attno) */
static TsAggAcc *
TsAggGroup(TsAggState *state, Datum *segvalues, bool *segnulls)
{
	TupleHashEntry entry;
	bool		isnew;

	if (state->ngroup == 0)
	{
		if (state->single == NULL)
		{
			state->single = MemoryContextAllocZero(state->tablecxt, sizeof(TsAggAcc) * state->nout);
			for (int i = 0; i < state->nout; i++)
				state->single[i].isnull = true;
		}
		return state->single;
	}
	ExecClearTuple(state->keyslot);
	for (int i = 0; i < state->ngroup; i++)
	{
		state->keyslot->tts_values[i] = segvalues[state->groupattno[i] - 1];
		state->keyslot->tts_isnull[i] = segnulls[state->groupattno[i] - 1];
	}
	ExecStoreVirtualTuple(state->keyslot);
	entry = LookupTupleHashEntry(state->hash, state->keyslot, &isnew, NULL);
	if (isnew)
	{
		TsAggAcc   *acc = MemoryContextAllocZero(state->tablecxt, sizeof(TsAggAcc) * state->nout);

		for (int i = 0; i < state->nout; i++)
			acc[i].isnull = true;
		entry->additional = acc;
	}
	return (TsAggAcc *) entry->additional;
}

static void
TsAggMinMax(TsAggState *state, int i, TsAggAcc *acc, Datum v)
{
	int			c;

	if (acc->isnull)
	{
		acc->value = v;
		acc->isnull = false;
		return;
	}
	c = DatumGetInt32(FunctionCall2Coll(&state->cmp[i], InvalidOid, v, acc->value));
	if ((state->kind[i] == TSA_MIN && c < 0) || (state->kind[i] == TSA_MAX && c > 0))
		acc->value = v;
}

static void
TsAggAddSum(TsAggAcc *acc, int64 v)
{
	int64		sum;

	if (acc->isnull)
	{
		acc->value = Int64GetDatum(v);
		acc->isnull = false;
		return;
	}
	if (pg_add_s64_overflow(DatumGetInt64(acc->value), v, &sum))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("bigint out of range")));
	acc->value = Int64GetDatum(sum);
}

/* One row that passed the quals */
static void
TsAggRow(TsAggState *state, TupleTableSlot *slot)
{
	Datum	   *segvalues;
	bool	   *segnulls;
	TsAggAcc   *acc;

	slot_getallattrs(slot);
	segvalues = slot->tts_values;
	segnulls = slot->tts_isnull;
	acc = TsAggGroup(state, segvalues, segnulls);
	for (int i = 0; i < state->nout; i++)
	{
		AttrNumber	a = state->attno[i];

		switch (state->kind[i])
		{
			case TSA_GROUP:
				break;
			case TSA_COUNT_STAR:
				acc[i].count++;
				break;
			case TSA_COUNT:
				if (!slot->tts_isnull[a - 1])
					acc[i].count++;
				break;
			case TSA_MIN:
			case TSA_MAX:
				if (!slot->tts_isnull[a - 1])
					TsAggMinMax(state, i, &acc[i], slot->tts_values[a - 1]);
				break;
			case TSA_SUM:
				if (!slot->tts_isnull[a - 1])
					TsAggAddSum(&acc[i],
								TupleDescAttr(slot->tts_tupleDescriptor, a - 1)->atttypid == INT2OID
								? (int64) DatumGetInt16(slot->tts_values[a - 1])
								: (int64) DatumGetInt32(slot->tts_values[a - 1]));
				break;
		}
	}
}

/*
 * A block inside the time bounds whose series passes: from its statistics.
 * False when a statistic it needs is missing (the caller decodes it).
 */
static bool
TsAggBlockStats(TsAggState *state, TsChunkInfo *info, TupleTableSlot *blockslot)
{
	bool		isnull;
	int32		rows = DatumGetInt32(slot_getattr(blockslot, TS_BLK_ROWS, &isnull));
	Datum	   *segvalues = palloc0(sizeof(Datum) * info->natts);
	bool	   *segnulls = palloc(sizeof(bool) * info->natts);
	TsAggAcc   *acc;

	/* every needed statistic there? (NULL sums only for all-NULL columns) */
	for (int i = 0; i < state->nout; i++)
	{
		AttrNumber	a = state->attno[i];

		if (state->kind[i] == TSA_SUM)
		{
			bool		sumnull;
			bool		nullsnull;
			int32		nulls;

			(void) slot_getattr(blockslot, info->stat_sum[a - 1], &sumnull);
			nulls = DatumGetInt32(slot_getattr(blockslot, info->stat_nulls[a - 1], &nullsnull));
			if (nullsnull || (sumnull && nulls != rows))
				return false;
		}
	}

	memset(segnulls, true, sizeof(bool) * info->natts);
	for (int a = 0; a < info->natts; a++)
		if (info->role[a] == TS_ROLE_SEGMENT)
			segvalues[a] = slot_getattr(blockslot, info->blk_attno[a], &segnulls[a]);
	acc = TsAggGroup(state, segvalues, segnulls);
	for (int i = 0; i < state->nout; i++)
	{
		AttrNumber	a = state->attno[i];
		TsColumnRole role = a > 0 ? info->role[a - 1] : TS_ROLE_NONE;
		Datum		v;
		bool		vnull;

		switch (state->kind[i])
		{
			case TSA_GROUP:
				break;
			case TSA_COUNT_STAR:
				acc[i].count += rows;
				break;
			case TSA_COUNT:
				if (role == TS_ROLE_VALUE)
					acc[i].count += rows - DatumGetInt32(slot_getattr(blockslot, info->stat_nulls[a - 1], &vnull));
				else if (role == TS_ROLE_TIME || !segnulls[a - 1])
					acc[i].count += rows;
				break;
			case TSA_MIN:
			case TSA_MAX:
				if (role == TS_ROLE_TIME)
					v = slot_getattr(blockslot, state->kind[i] == TSA_MIN ? TS_BLK_MIN_TIME : TS_BLK_MAX_TIME, &vnull);
				else
					v = slot_getattr(blockslot, state->kind[i] == TSA_MIN ? info->stat_min[a - 1] : info->stat_max[a - 1], &vnull);
				if (!vnull)
					TsAggMinMax(state, i, &acc[i], v);
				break;
			case TSA_SUM:
				v = slot_getattr(blockslot, info->stat_sum[a - 1], &vnull);
				if (!vnull)
					TsAggAddSum(&acc[i], DatumGetInt64(v));
				break;
		}
	}
	return true;
}

/* Visit every partition: heap rows, then blocks */
static void
TsAggCompute(TsAggState *state)
{
	EState	   *estate = state->css.ss.ps.state;
	ExprContext *econtext = state->css.ss.ps.ps_ExprContext;
	TsBlockFilter filter;
	ListCell   *lc;
	MemoryContext blockcxt = AllocSetContextCreate(CurrentMemoryContext, "nosql block aggregate block",
												   ALLOCSET_DEFAULT_SIZES);

	memset(&filter, 0, sizeof(filter));
	TsFilterBounds(&filter, state->strategies, state->boundstates, econtext);
	if (filter.empty)
		return;

	foreach(lc, state->parts)
	{
		Oid			relid = lfirst_oid(lc);
		Relation	rel = table_open(relid, AccessShareLock);
		TupleDesc	desc = RelationGetDescr(rel);
		TupleTableSlot *slot = table_slot_create(rel, NULL);
		TupleTableSlot *rowslot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
		TableScanDesc scan = table_beginscan(rel, estate->es_snapshot, 0, NULL);
		TsChunkInfo *info;

		while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
		{
			CHECK_FOR_INTERRUPTS();
			ResetExprContext(econtext);
			econtext->ecxt_scantuple = slot;
			if (state->qual == NULL || ExecQual(state->qual, econtext))
			{
				TsAggRow(state, slot);
				state->heap_rows++;
			}
		}
		table_endscan(scan);

		info = TsLookupChunk(relid);
		if (info != NULL)
		{
			Relation	blocks = table_open(info->blocks, AccessShareLock);
			TupleTableSlot *blockslot = table_slot_create(blocks, NULL);
			TableScanDesc bscan = table_beginscan(blocks, estate->es_snapshot, 0, NULL);
			bool	   *wanted = palloc0(sizeof(bool) * Max(desc->natts, 1));

			for (int i = 0; i < state->nout; i++)
				if (state->attno[i] > 0 && state->attno[i] <= desc->natts)
					wanted[state->attno[i] - 1] = true;
			filter.econtext = CreateExprContext(estate);
			filter.segslot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
			filter.segqual = state->segclauses != NIL
				? ExecInitQual(state->segclauses, &state->css.ss.ps) : NULL;
			while (table_scan_getnextslot(bscan, ForwardScanDirection, blockslot))
			{
				bool		isnull;
				TimestampTz min_time;
				TimestampTz max_time;

				CHECK_FOR_INTERRUPTS();
				ResetExprContext(filter.econtext);
				if (!TsBlockPasses(info, &filter, blockslot))
				{
					state->blocks_skipped++;
					continue;
				}
				min_time = DatumGetTimestampTz(slot_getattr(blockslot, TS_BLK_MIN_TIME, &isnull));
				max_time = DatumGetTimestampTz(slot_getattr(blockslot, TS_BLK_MAX_TIME, &isnull));
				if (min_time >= filter.lo && max_time <= filter.hi &&
					TsAggBlockStats(state, info, blockslot))
				{
					state->blocks_stats++;
					continue;
				}
				/* decode the columns needed, and take the rows that pass */
				{
					MemoryContext old = MemoryContextSwitchTo(blockcxt);
					TsBlockData data;

					TsDecodeBlock(info, desc, blockslot, wanted, &data);
					for (int r = 0; r < data.nrows; r++)
					{
						TsBlockRowToSlot(info, desc, &data, r, rowslot);
						ResetExprContext(econtext);
						econtext->ecxt_scantuple = rowslot;
						if (state->qual == NULL || ExecQual(state->qual, econtext))
							TsAggRow(state, rowslot);
					}
					MemoryContextSwitchTo(old);
					MemoryContextReset(blockcxt);
				}
				state->blocks_decoded++;
			}
			table_endscan(bscan);
			ExecDropSingleTupleTableSlot(blockslot);
			ExecDropSingleTupleTableSlot(filter.segslot);
			FreeExprContext(filter.econtext, true);
			filter.econtext = NULL;
			table_close(blocks, AccessShareLock);
		}
		ExecDropSingleTupleTableSlot(slot);
		ExecDropSingleTupleTableSlot(rowslot);
		table_close(rel, AccessShareLock);
	}
	MemoryContextDelete(blockcxt);
}

/* Fill the scan slot with one group's results */
static TupleTableSlot *
TsAggEmit(TsAggState *state, TsAggAcc *acc, TupleTableSlot *key)
{
	TupleTableSlot *slot = state->css.ss.ss_ScanTupleSlot;

	ExecClearTuple(slot);
	for (int i = 0; i < state->nout; i++)
	{
		switch (state->kind[i])
		{
			case TSA_GROUP:
				{
					int			g;

					for (g = 0; g < state->ngroup; g++)
						if (state->groupattno[g] == state->attno[i])
							break;
					slot->tts_values[i] = slot_getattr(key, g + 1, &slot->tts_isnull[i]);
					break;
				}
			case TSA_COUNT_STAR:
			case TSA_COUNT:
				slot->tts_values[i] = Int64GetDatum(acc[i].count);
				slot->tts_isnull[i] = false;
				break;
			default:
				slot->tts_values[i] = acc[i].value;
				slot->tts_isnull[i] = acc[i].isnull;
				break;
		}
	}
	return ExecStoreVirtualTuple(slot);
}

static TupleTableSlot *
TsAggExec(CustomScanState *node)
{
	TsAggState *state = (TsAggState *) node;
	TupleTableSlot *result;
	ExprContext *econtext = node->ss.ps.ps_ExprContext;

	if (!state->done)
	{
		MemoryContext old = MemoryContextSwitchTo(state->tablecxt);

		TsAggCompute(state);
		MemoryContextSwitchTo(old);
		state->done = true;
		if (state->ngroup > 0)
		{
			InitTupleHashIterator(state->hash, &state->iter);
			state->iterating = true;
		}
	}
	if (state->ngroup == 0)
	{
		if (state->emitted_single)
			return NULL;
		state->emitted_single = true;
		(void) TsAggGroup(state, NULL, NULL);
		result = TsAggEmit(state, state->single, NULL);
	}
	else
	{
		TupleHashEntry entry = ScanTupleHashTable(state->hash, &state->iter);

		if (entry == NULL)
			return NULL;
		ExecStoreMinimalTuple(entry->firstTuple, state->outkeyslot, false);
		result = TsAggEmit(state, (TsAggAcc *) entry->additional, state->outkeyslot);
	}
	if (node->ss.ps.ps_ProjInfo == NULL)
		return result;
	ResetExprContext(econtext);
	econtext->ecxt_scantuple = result;
	return ExecProject(node->ss.ps.ps_ProjInfo);
}

static void
TsAggEnd(CustomScanState *node)
{
	TsAggState *state = (TsAggState *) node;

	if (state->iterating)
		TermTupleHashIterator(&state->iter);
}

static void
TsAggRescan(CustomScanState *node)
{
	TsAggState *state = (TsAggState *) node;

	if (state->iterating)
		TermTupleHashIterator(&state->iter);
	state->iterating = false;
	state->done = false;
	state->emitted_single = false;
	state->single = NULL;
	if (state->hash != NULL)
		ResetTupleHashTable(state->hash);
	MemoryContextReset(state->tablecxt);
}

static void
TsAggExplain(CustomScanState *node, List *ancestors, ExplainState *es)
{
	TsAggState *state = (TsAggState *) node;

	ExplainPropertyInteger("Partitions", NULL, list_length(state->parts), es);
	if (es->analyze)
	{
		ExplainPropertyInteger("Blocks From Statistics", NULL, state->blocks_stats, es);
		ExplainPropertyInteger("Blocks Decompressed", NULL, state->blocks_decoded, es);
		ExplainPropertyInteger("Blocks Skipped", NULL, state->blocks_skipped, es);
		ExplainPropertyInteger("Uncompressed Rows", NULL, state->heap_rows, es);
	}
}

void
TsAggInit(void)
{
	RegisterCustomScanMethods(&TsAggScanMethods);
	prev_create_upper_paths_hook = create_upper_paths_hook;
	create_upper_paths_hook = TsAggUpperPaths;
}
