/*-------------------------------------------------------------------------
 *
 * ts_scan.c
 *	  Queries over compressed partitions of time-series tables: a custom
 *	  scan that reads a partition's heap and its blocks, and the executor
 *	  hook that moves blocks back into rows before an UPDATE, DELETE or
 *	  SELECT ... FOR UPDATE reaches them.
 *
 * Design note.  The planner sees a compressed partition as the ordinary
 * table it is; set_rel_pathlist_hook replaces its paths with one custom
 * path, "Nosql Decompress", whose node returns the heap's rows as they
 * are and then the rows of the blocks, decoded.  The partition's own
 * quals and projection run on top as for any scan, so the results are
 * exactly those of the rows the blocks hold.  From the quals the node
 * takes two things to skip blocks without decoding them: bounds on the
 * time column (time <op> expression without Vars or volatile functions,
 * evaluated when the scan starts, so parameters and now() work), checked
 * against each block's min_time and max_time; and the quals that read
 * the segment_by columns only, evaluated once per block on its segment
 * values (only those the planner would let run before row-level security
 * quals).  It decodes only the columns the query reads.
 *
 * A row in a block has no ctid, so a partition that is the target of an
 * UPDATE, DELETE or MERGE, or is locked by FOR UPDATE/SHARE, keeps its
 * ordinary paths; before such a statement runs, the ExecutorStart hook
 * moves the blocks its quals may reach back into the heap (the same time
 * bounds and segment quals decide which) and advances the command counter
 * so that the statement sees them.
 *
 * The library must be loaded by shared_preload_libraries: a backend
 * without the hook would plan a compressed partition as its heap only.
 * nosql.compress_timeseries refuses to run otherwise.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/parallel.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/genam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "commands/tablecmds.h"
#include "tcop/utility.h"
#include "catalog/pg_am.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/plancat.h"
#include "optimizer/prep.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "access/nbtree.h"
#include "access/stratnum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "storage/bufmgr.h"
#include "storage/bufpage.h"
#include "utils/rel.h"
#include "access/skey.h"
#include "utils/selfuncs.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "nosql.h"
#include "ts_compress.h"

static set_rel_pathlist_hook_type prev_set_rel_pathlist_hook = NULL;
static get_relation_info_hook_type prev_get_relation_info_hook = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;

/* ---- quals ---- */

/* The btree operator family of timestamptz */
static Oid
TsTimeOpfamily(void)
{
	return lookup_type_cache(TIMESTAMPTZOID, TYPECACHE_BTREE_OPFAMILY)->btree_opf;
}

/* The btree operator family of a type's default opclass (InvalidOid: none) */
static Oid
TsBtreeFamily(Oid typid)
{
	return lookup_type_cache(typid, TYPECACHE_BTREE_OPFAMILY)->btree_opf;
}

static Node *
TsStrip(Node *node)
{
	while (node != NULL && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node;
}

static bool
TsIsTimeVar(Node *node, Index varno, TsChunkInfo *info)
{
	Var		   *var;

	node = TsStrip(node);
	if (node == NULL || !IsA(node, Var))
		return false;
	var = (Var *) node;
	return var->varno == (int) varno && var->varlevelsup == 0 &&
		var->varattno == info->time_attno;
}

/*
 * Params the executor sets (not the client's) or subqueries in an
 * expression: things that cannot be evaluated before a plan runs, nor
 * carried in a node's private list.
 */
bool
TsHasExecParam(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Param) && ((Param *) node)->paramkind != PARAM_EXTERN)
		return true;
	if (IsA(node, SubLink) || IsA(node, SubPlan) || IsA(node, AlternativeSubPlan))
		return true;
	return expression_tree_walker(node, TsHasExecParam, context);
}

/* An expression whose value is fixed for the whole scan */
static bool
TsIsPseudoConstant(Node *node)
{
	return !contain_var_clause(node) && !contain_volatile_functions(node) &&
		!contain_subplans(node);
}

/*
 * What a qual of the scan of partition "varno" tells about blocks:
 * TS_CLAUSE_TIME with a btree strategy and the bound for "time <op>
 * bound", TS_CLAUSE_SEGMENT for a qual that reads only segment_by columns
 * of the partition, TS_CLAUSE_OTHER for the rest.
 */
/* A value column with min/max statistics, as a Var of the scan */
static AttrNumber
TsValueVar(Node *node, Index varno, TsChunkInfo *info)
{
	Var		   *var;

	node = TsStrip(node);
	if (node == NULL || !IsA(node, Var))
		return 0;
	var = (Var *) node;
	if (var->varno != (int) varno || var->varlevelsup != 0 ||
		var->varattno < 1 || var->varattno > info->natts ||
		info->role[var->varattno - 1] != TS_ROLE_VALUE ||
		info->stat_min[var->varattno - 1] == 0)
		return 0;
	return var->varattno;
}

/* The strategy of "b <op> x" as "x <op'> b" */
static int
TsCommute(int strat)
{
	switch (strat)
	{
		case BTLessStrategyNumber:
			return BTGreaterStrategyNumber;
		case BTLessEqualStrategyNumber:
			return BTGreaterEqualStrategyNumber;
		case BTGreaterStrategyNumber:
			return BTLessStrategyNumber;
		case BTGreaterEqualStrategyNumber:
			return BTLessEqualStrategyNumber;
		default:
			return strat;
	}
}

int
TsClassifyClause(Expr *clause, Index varno, TsChunkInfo *info,
				 int *strategy, Expr **bound, AttrNumber *attno)
{
	if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *left = linitial(op->args);
		Node	   *right = lsecond(op->args);
		AttrNumber	a;
		bool		var_left = true;

		/* value column <op> bound, in the column type's own btree order */
		if ((a = TsValueVar(left, varno, info)) == 0)
		{
			a = TsValueVar(right, varno, info);
			var_left = false;
		}
		if (a != 0 && TsIsPseudoConstant(var_left ? right : left))
		{
			Oid			typid = info->typid[a - 1];
			Oid			family = TsBtreeFamily(typid);
			Node	   *other = TsStrip(var_left ? right : left);

			if (OidIsValid(family) && exprType(other) == typid)
			{
				int			strat = get_op_opfamily_strategy(op->opno, family);
				Oid			lefttype;
				Oid			righttype;
				int			s2;

				if (strat != 0)
				{
					get_op_opfamily_properties(op->opno, family, false,
											   &s2, &lefttype, &righttype);
					if (lefttype == typid && righttype == typid)
					{
						*strategy = var_left ? strat : TsCommute(strat);
						*bound = (Expr *) other;
						*attno = a;
						return TS_CLAUSE_VALUE;
					}
				}
			}
		}
	}
	if (IsA(clause, OpExpr) && list_length(((OpExpr *) clause)->args) == 2)
	{
		OpExpr	   *op = (OpExpr *) clause;
		Node	   *left = linitial(op->args);
		Node	   *right = lsecond(op->args);
		Oid			family = TsTimeOpfamily();
		int			strat;

		if (OidIsValid(family) && exprType(TsStrip(left)) == TIMESTAMPTZOID &&
			exprType(TsStrip(right)) == TIMESTAMPTZOID)
		{
			strat = get_op_opfamily_strategy(op->opno, family);
			if (strat != 0 && TsIsTimeVar(left, varno, info) && TsIsPseudoConstant(right))
			{
				*strategy = strat;
				*bound = (Expr *) right;
				return TS_CLAUSE_TIME;
			}
			if (strat != 0 && TsIsTimeVar(right, varno, info) && TsIsPseudoConstant(left))
			{
				/* bound <op> time: the other way round */
				*strategy = TsCommute(strat);
				*bound = (Expr *) left;
				return TS_CLAUSE_TIME;
			}
		}
	}
	{
		Bitmapset  *attrs = NULL;
		List	   *vars = pull_var_clause((Node *) clause, PVC_RECURSE_AGGREGATES |
										   PVC_RECURSE_WINDOWFUNCS |
										   PVC_RECURSE_PLACEHOLDERS);
		ListCell   *lc;

		if (vars == NIL || contain_volatile_functions((Node *) clause) ||
			contain_subplans((Node *) clause))
			return TS_CLAUSE_OTHER;
		foreach(lc, vars)
		{
			Var		   *var = (Var *) lfirst(lc);

			if (!IsA(var, Var) || var->varno != (int) varno || var->varlevelsup != 0 ||
				var->varattno <= 0 || var->varattno > info->natts ||
				info->role[var->varattno - 1] != TS_ROLE_SEGMENT)
				return TS_CLAUSE_OTHER;
			attrs = bms_add_member(attrs, var->varattno);
		}
		bms_free(attrs);
		return TS_CLAUSE_SEGMENT;
	}
}

/*
 * Evaluate the time bounds into filter->lo/hi (inclusive) and ->empty.
 */
void
TsFilterBounds(TsBlockFilter *filter, List *strategies, List *boundstates,
			   ExprContext *econtext)
{
	ListCell   *ls;
	ListCell   *lb;

	filter->empty = false;
	filter->lo = PG_INT64_MIN;
	filter->hi = PG_INT64_MAX;
	forboth(ls, strategies, lb, boundstates)
	{
		ExprState  *state = (ExprState *) lfirst(lb);
		bool		isnull;
		TimestampTz v;

		v = DatumGetTimestampTz(ExecEvalExprSwitchContext(state, econtext, &isnull));
		if (isnull)
		{
			/* a comparison with NULL is never true */
			filter->empty = true;
			return;
		}
		switch (lfirst_int(ls))
		{
			case BTLessStrategyNumber:
				if (v == PG_INT64_MIN)
					filter->empty = true;
				else
					filter->hi = Min(filter->hi, v - 1);
				break;
			case BTLessEqualStrategyNumber:
				filter->hi = Min(filter->hi, v);
				break;
			case BTEqualStrategyNumber:
				filter->lo = Max(filter->lo, v);
				filter->hi = Min(filter->hi, v);
				break;
			case BTGreaterEqualStrategyNumber:
				filter->lo = Max(filter->lo, v);
				break;
			case BTGreaterStrategyNumber:
				if (v == PG_INT64_MAX)
					filter->empty = true;
				else
					filter->lo = Max(filter->lo, v + 1);
				break;
		}
	}
	if (filter->lo > filter->hi)
		filter->empty = true;
}

/*
 * Evaluate the bounds of the value quals into filter->v*; a NULL bound
 * makes the filter empty.
 */
void
TsFilterValues(TsBlockFilter *filter, TsChunkInfo *info, List *attnos,
			   List *strategies, List *boundstates, ExprContext *econtext)
{
	int			n = list_length(attnos);
	int			i = 0;
	ListCell   *la;
	ListCell   *ls;
	ListCell   *lb;

	filter->nvalues = 0;
	if (n == 0 || filter->empty)
		return;
	filter->vattno = palloc(sizeof(AttrNumber) * n);
	filter->vstrategy = palloc(sizeof(int) * n);
	filter->vbound = palloc(sizeof(Datum) * n);
	filter->vcmp = palloc(sizeof(FmgrInfo) * n);
	filter->vcoll = palloc(sizeof(Oid) * n);
	forthree(la, attnos, ls, strategies, lb, boundstates)
	{
		AttrNumber	a = lfirst_int(la);
		TypeCacheEntry *tce = lookup_type_cache(info->typid[a - 1], TYPECACHE_CMP_PROC_FINFO);
		bool		isnull;
		Datum		v;

		v = ExecEvalExprSwitchContext((ExprState *) lfirst(lb), econtext, &isnull);
		if (isnull)
		{
			filter->empty = true;
			return;
		}
		if (!OidIsValid(tce->cmp_proc))
			continue;
		filter->vattno[i] = a;
		filter->vstrategy[i] = lfirst_int(ls);
		filter->vbound[i] = v;
		fmgr_info_copy(&filter->vcmp[i], &tce->cmp_proc_finfo, CurrentMemoryContext);
		filter->vcoll[i] = InvalidOid;
		i++;
	}
	filter->nvalues = i;
}

/* ---- planning ---- */

static Plan *TsPlanPath(PlannerInfo *root, RelOptInfo *rel,
						struct CustomPath *best_path, List *tlist,
						List *clauses, List *custom_plans);
static Node *TsCreateScanState(CustomScan *cscan);

static const CustomPathMethods TsPathMethods = {
	.CustomName = "Nosql Decompress",
	.PlanCustomPath = TsPlanPath,
};

static const CustomScanMethods TsScanMethods = {
	.CustomName = "Nosql Decompress",
	.CreateCustomScanState = TsCreateScanState,
};

/* Is the relation a partition (the only relations that have blocks)? */
bool
TsMaybeChunk(RangeTblEntry *rte)
{
	return rte->rtekind == RTE_RELATION && rte->relkind == RELKIND_RELATION &&
		get_rel_relispartition(rte->relid);
}

/* The planner's row count of a compressed partition counts its blocks' rows */
static void
TsRelationInfo(PlannerInfo *root, Oid relid, bool inhparent, RelOptInfo *rel)
{
	TsChunkInfo *info;

	if (prev_get_relation_info_hook)
		prev_get_relation_info_hook(root, relid, inhparent, rel);
	if (inhparent || !get_rel_relispartition(relid))
		return;
	info = TsLookupChunk(relid);
	if (info != NULL)
	{
		/*
		 * The block table's size: its pages now, times the density of its
		 * last ANALYZE or VACUUM, or the density its row width gives if it
		 * never had one.  Not pg_class alone: a block table written by
		 * compression and never vacuumed has relpages 0 and reltuples -1
		 * there, and an ANALYZE of the partition (autovacuum's) finds its
		 * heap empty, so the partition would cost nothing and the plans
		 * above it would go wrong.  Nor estimate_rel_size(), which counts
		 * a never vacuumed table as at least 10 pages: ten times too many
		 * blocks for a small partition.  The planner would lock the table
		 * anyway: the scan reads it.
		 */
		Relation	brel = try_relation_open(info->blocks, AccessShareLock);

		if (brel != NULL)
		{
			BlockNumber pages = RelationGetNumberOfBlocks(brel);
			double		density;

			if (brel->rd_rel->reltuples >= 0 && brel->rd_rel->relpages > 0)
				density = brel->rd_rel->reltuples / brel->rd_rel->relpages;
			else
			{
				int32		width = get_rel_data_width(brel, NULL) +
					MAXALIGN(SizeofHeapTupleHeader) + sizeof(ItemIdData);

				density = (BLCKSZ - SizeOfPageHeaderData) / width;
			}
			rel->pages += pages;
			rel->tuples += rint(density * pages) * TS_BLOCK_ROWS;
			relation_close(brel, NoLock);
		}
	}
}

static void
TsSetRelPathlist(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
	TsChunkInfo *info;
	CustomPath *cp;
	PlanRowMark *rc;

	if (prev_set_rel_pathlist_hook)
		prev_set_rel_pathlist_hook(root, rel, rti, rte);
	if (IS_DUMMY_REL(rel) || !TsMaybeChunk(rte) ||
		(rel->reloptkind != RELOPT_BASEREL && rel->reloptkind != RELOPT_OTHER_MEMBER_REL))
		return;
	info = TsLookupChunk(rte->relid);
	if (info == NULL)
		return;
	/* rows that are written or locked need a ctid: the executor hook decompresses */
	if (bms_is_member(rti, root->all_result_relids))
		return;
	rc = get_plan_rowmark(root->rowMarks, rti);
	if (rc != NULL && rc->markType != ROW_MARK_COPY)
		return;

	cp = makeNode(CustomPath);
	cp->path.pathtype = T_CustomScan;
	cp->path.parent = rel;
	cp->path.pathtarget = rel->reltarget;
	cp->path.param_info = get_baserel_parampathinfo(root, rel, rel->lateral_relids);
	cp->path.parallel_aware = false;
	cp->path.parallel_safe = rel->consider_parallel;
	cp->path.parallel_workers = 0;
	cp->path.rows = cp->path.param_info ? cp->path.param_info->ppi_rows : rel->rows;

	/*
	 * Cost: every row of the block table's main heap is read (its pages),
	 * but only the fraction of blocks that the time, series and value
	 * quals admit is decoded and returned row by row.
	 */
	{
		List	   *skipping = NIL;
		List	   *others = NIL;
		ListCell   *lc;
		Selectivity frac;
		Selectivity time_share = 1.0;
		double		lo = (double) info->range_start;
		double		hi = (double) info->range_end;
		bool		time_unknown = false;

		/*
		 * The statistics of a compressed partition describe its heap only,
		 * so the share of time is taken from its range: constant bounds
		 * cut it exactly, others count as a third.  The other quals that
		 * skip blocks take PostgreSQL's estimates.
		 */
		foreach(lc, rel->baserestrictinfo)
		{
			RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
			int			strategy;
			Expr	   *bound;
			AttrNumber	attno;
			int			kind = TsClassifyClause(ri->clause, rti, info, &strategy, &bound, &attno);

			if (kind == TS_CLAUSE_TIME)
			{
				Node	   *b = TsStrip((Node *) bound);
				double		v;

				if (!IsA(b, Const) || ((Const *) b)->constisnull)
				{
					time_unknown = true;
					continue;
				}
				v = (double) DatumGetTimestampTz(((Const *) b)->constvalue);
				if (strategy == BTLessStrategyNumber || strategy == BTLessEqualStrategyNumber)
					hi = Min(hi, v);
				else if (strategy == BTGreaterStrategyNumber || strategy == BTGreaterEqualStrategyNumber)
					lo = Max(lo, v);
				else
					hi = lo;	/* one instant */
			}
			else if (kind != TS_CLAUSE_OTHER)
				skipping = lappend(skipping, ri);
			else
				others = lappend(others, ri);
		}
		if (info->range_end > info->range_start)
			time_share = Max(hi - lo, 0.0) / ((double) info->range_end - (double) info->range_start);
		if (time_unknown)
			time_share *= DEFAULT_INEQ_SEL;
		time_share = Min(time_share, 1.0);
		frac = time_share * (skipping == NIL ? 1.0
							 : clauselist_selectivity(root, skipping, rti, JOIN_INNER, NULL));
		/* the rows, estimated the same way (PostgreSQL's estimate saw the heap) */
		if (cp->path.param_info == NULL)
		{
			double		old_rows = rel->rows;

			rel->rows = clamp_row_est(rel->tuples * frac *
									  (others == NIL ? 1.0
									   : clauselist_selectivity(root, others, rti, JOIN_INNER, NULL)));
			cp->path.rows = rel->rows;

			/*
			 * The parent's row count was summed from its partitions' before
			 * their paths were made; it sizes the Gather above them.  A
			 * hash leaf's time range partition was summed from its leaves
			 * and the table from the time ranges: every ancestor counts.
			 */
			if (rel->reloptkind == RELOPT_OTHER_MEMBER_REL && root->append_rel_array != NULL)
			{
				Index		child = rti;

				while (root->append_rel_array[child] != NULL)
				{
					Index		up = root->append_rel_array[child]->parent_relid;
					RelOptInfo *parent = root->simple_rel_array[up];

					if (parent == NULL)
						break;
					parent->rows = clamp_row_est(parent->rows - old_rows + rel->rows);
					child = up;
				}
			}
		}
		frac = Min(Max(frac, 1.0 / TS_BLOCK_ROWS), 1.0);
		list_free(others);
		cp->path.startup_cost = rel->baserestrictcost.startup;
		cp->path.total_cost = cp->path.startup_cost + rel->pages * seq_page_cost +
			frac * rel->tuples * (cpu_tuple_cost + rel->baserestrictcost.per_tuple +
								  cpu_operator_cost);
		list_free(skipping);
	}
	cp->path.pathkeys = NIL;
	/*
	 * The scan projects (ExecScan with the projection set up at its
	 * start), so no Result node goes above it to compute, say, a
	 * time_bucket per row: that node cost as much as the decoding.
	 */
#ifdef CUSTOMPATH_SUPPORT_PROJECTION
	cp->flags = CUSTOMPATH_SUPPORT_PROJECTION;
#else
	cp->flags = 0;
#endif
	cp->methods = &TsPathMethods;

	rel->pathlist = NIL;
	rel->partial_pathlist = NIL;
	add_path(rel, &cp->path);

	/* a parallel-aware one: the processes share out the pages of heap and block table */
	if (rel->consider_parallel && rel->lateral_relids == NULL)
	{
		int			workers = compute_parallel_worker(rel, rel->pages, -1,
													  max_parallel_workers_per_gather);

		if (workers > 0)
		{
			CustomPath *pp = makeNode(CustomPath);

			memcpy(pp, cp, sizeof(CustomPath));
			pp->path.param_info = NULL;
			pp->path.parallel_aware = true;
			pp->path.parallel_safe = true;
			pp->path.parallel_workers = workers;
			pp->path.rows = clamp_row_est(rel->rows / (workers + (parallel_leader_participation ? 0.7 : 0)));
			pp->path.total_cost = pp->path.startup_cost +
				(cp->path.total_cost - cp->path.startup_cost) / (workers + 1);
			add_partial_path(rel, &pp->path);
		}
	}
}

static Plan *
TsPlanPath(PlannerInfo *root, RelOptInfo *rel, struct CustomPath *best_path,
		   List *tlist, List *clauses, List *custom_plans)
{
	CustomScan *cscan = makeNode(CustomScan);
	RangeTblEntry *rte = planner_rt_fetch(rel->relid, root);
	TsChunkInfo *info = TsLookupChunk(rte->relid);
	List	   *strategies = NIL;
	List	   *bounds = NIL;
	List	   *segclauses = NIL;
	List	   *wanted = NIL;
	List	   *vattnos = NIL;
	List	   *vstrategies = NIL;
	List	   *vbounds = NIL;
	List	   *indexkey = NIL;
	List	   *keyexprs = NIL;
	Bitmapset  *attrs = NULL;
	ListCell   *lc;

	foreach(lc, clauses)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		int			strategy;
		Expr	   *bound;
		AttrNumber	attno;
		int			kind;

		pull_varattnos((Node *) ri->clause, rel->relid, &attrs);
		if (info == NULL || ri->pseudoconstant)
			continue;
		kind = TsClassifyClause(ri->clause, rel->relid, info, &strategy, &bound, &attno);
		if (kind == TS_CLAUSE_TIME)
		{
			strategies = lappend_int(strategies, strategy);
			bounds = lappend(bounds, bound);
		}
		else if (kind == TS_CLAUSE_VALUE &&
				 (ri->security_level <= rel->baserestrict_min_security || ri->leakproof))
		{
			vattnos = lappend_int(vattnos, attno);
			vstrategies = lappend_int(vstrategies, strategy);
			vbounds = lappend(vbounds, bound);
		}
		else if (kind == TS_CLAUSE_SEGMENT &&
				 (ri->security_level <= rel->baserestrict_min_security || ri->leakproof))
			segclauses = lappend(segclauses, ri->clause);
	}
	pull_varattnos((Node *) rel->reltarget->exprs, rel->relid, &attrs);
	if (bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs))
	{
		int			natts = TsRelNatts(rte->relid);

		for (int a = 1; a <= natts; a++)
			wanted = lappend_int(wanted, a);
	}
	else
	{
		int			x = -1;

		while ((x = bms_next_member(attrs, x)) >= 0)
		{
			AttrNumber	a = x + FirstLowInvalidHeapAttributeNumber;

			if (a > 0)
				wanted = lappend_int(wanted, a);
		}
	}

	/*
	 * An equality on the first segment_by column picks the blocks through
	 * the block table's index (segment columns, min_time).
	 */
	{
		AttrNumber	first = 0;
		Expr	   *keyexpr = NULL;
		Oid			keyop = InvalidOid;

		for (int a = 0; info != NULL && a < info->natts && first == 0; a++)
			if (info->role[a] == TS_ROLE_SEGMENT)
				first = a + 1;
		foreach(lc, segclauses)
		{
			OpExpr	   *op = (OpExpr *) lfirst(lc);
			Node	   *l;
			Node	   *r;
			Oid			family;

			if (first == 0 || !IsA(op, OpExpr) || list_length(op->args) != 2)
				continue;
			l = TsStrip(linitial(op->args));
			r = TsStrip(lsecond(op->args));
			if (!IsA(l, Var) || ((Var *) l)->varattno != first || !TsIsPseudoConstant(r) ||
				exprType(r) != exprType(l))
				continue;
			family = TsBtreeFamily(exprType(l));
			if (!OidIsValid(family) ||
				get_op_opfamily_strategy(op->opno, family) != BTEqualStrategyNumber)
				continue;
			keyexpr = (Expr *) r;
			keyop = op->opno;
			break;
		}
		indexkey = keyexpr != NULL ? list_make2_oid(first, keyop) : NIL;
		if (keyexpr != NULL)
			keyexprs = list_make1(keyexpr);
	}

	/* which quals a block decides for all its rows (time bounds, segment quals) */
	{
		List	   *decided = NIL;

		foreach(lc, clauses)
		{
			RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
			int			strategy;
			Expr	   *bound;
			AttrNumber	attno;
			int			kind;

			if (ri->pseudoconstant)
				continue;
			kind = info == NULL ? TS_CLAUSE_OTHER
				: TsClassifyClause(ri->clause, rel->relid, info, &strategy, &bound, &attno);
			decided = lappend_int(decided,
								  kind == TS_CLAUSE_TIME ||
								  (kind == TS_CLAUSE_SEGMENT && list_member_ptr(segclauses, ri->clause)));
		}
		vstrategies = list_make2(vstrategies, decided);
	}
	cscan->scan.plan.targetlist = tlist;
	cscan->scan.plan.qual = extract_actual_clauses(clauses, false);
	cscan->scan.scanrelid = rel->relid;
	cscan->flags = best_path->flags;
	cscan->custom_exprs = list_concat(list_concat(list_concat(bounds, vbounds), segclauses), keyexprs);
	cscan->custom_private = list_make5(strategies, list_make1_int(list_length(segclauses)),
									   wanted, vattnos, linitial(vstrategies));
	cscan->custom_private = lappend(cscan->custom_private, lsecond(vstrategies));
	cscan->custom_private = lappend(cscan->custom_private, indexkey);
	cscan->custom_scan_tlist = NIL;
	cscan->methods = &TsScanMethods;
	return &cscan->scan.plan;
}

/* ---- execution ---- */

typedef struct TsScanState
{
	CustomScanState css;
	TsChunkInfo *info;
	Relation	blocks;
	TableScanDesc heapscan;
	TableScanDesc blockscan;
	TupleTableSlot *heapslot;
	TupleTableSlot *blockslot;
	TupleTableSlot *rowslot;
	int			phase;			/* 0: heap, 1: blocks, 2: done */
	List	   *strategies;
	List	   *boundstates;
	List	   *vattnos;
	List	   *vstrategies;
	List	   *vboundstates;
	ExprState  *allqual;		/* every qual: heap rows, blocks not inside the bounds */
	ExprState  *otherqual;		/* the quals a block does not decide */
	bool		inside;			/* the current block passes the decided quals whole */
	/* blocks through the block table's index: first segment column = key */
	AttrNumber	keyattno;
	Oid			keyop;
	ExprState  *keystate;
	IndexScanDesc indexscan;
	Relation	blockindex;
	TsBlockFilter filter;
	bool		filter_ready;
	bool	   *wanted;
	TsBlockData data;
	int			row;
	MemoryContext blockcxt;
	int64		blocks_read;
	int64		blocks_skipped;
	/* a parallel scan: the shared states of the two table scans */
	ParallelTableScanDesc pheap;
	ParallelTableScanDesc pblocks;
} TsScanState;

static void TsBeginScan(CustomScanState *node, EState *estate, int eflags);
static TupleTableSlot *TsExecScan(CustomScanState *node);
static void TsEndScan(CustomScanState *node);
static void TsRescan(CustomScanState *node);
static void TsExplain(CustomScanState *node, List *ancestors, ExplainState *es);
static Size TsEstimateDSM(CustomScanState *node, ParallelContext *pcxt);
static void TsInitializeDSM(CustomScanState *node, ParallelContext *pcxt, void *coordinate);
static void TsReInitializeDSM(CustomScanState *node, ParallelContext *pcxt, void *coordinate);
static void TsInitializeWorker(CustomScanState *node, shm_toc *toc, void *coordinate);

static const CustomExecMethods TsExecMethods = {
	.CustomName = "Nosql Decompress",
	.BeginCustomScan = TsBeginScan,
	.ExecCustomScan = TsExecScan,
	.EndCustomScan = TsEndScan,
	.ReScanCustomScan = TsRescan,
	.EstimateDSMCustomScan = TsEstimateDSM,
	.InitializeDSMCustomScan = TsInitializeDSM,
	.ReInitializeDSMCustomScan = TsReInitializeDSM,
	.InitializeWorkerCustomScan = TsInitializeWorker,
	.ExplainCustomScan = TsExplain,
};

static Node *
TsCreateScanState(CustomScan *cscan)
{
	TsScanState *state = (TsScanState *) newNode(sizeof(TsScanState), T_CustomScanState);

	state->css.methods = &TsExecMethods;
	return (Node *) state;
}

static void
TsBeginScan(CustomScanState *node, EState *estate, int eflags)
{
	TsScanState *state = (TsScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	Relation	rel = node->ss.ss_currentRelation;
	TupleDesc	desc = RelationGetDescr(rel);
	List	   *strategies = linitial(cscan->custom_private);
	int			nseg = linitial_int((List *) lsecond(cscan->custom_private));
	List	   *wanted = lthird(cscan->custom_private);
	List	   *vattnos = lfourth(cscan->custom_private);
	int			nbounds = list_length(strategies);
	int			nvalues = list_length(vattnos);
	List	   *segclauses = NIL;
	ListCell   *lc;
	int			i = 0;

	/*
	 * The scan returns heap slots and virtual slots: the quals and the
	 * projection must not assume one kind.
	 */
	node->ss.ps.scanopsfixed = false;
	ExecAssignScanProjectionInfoWithVarno(&node->ss, cscan->scan.scanrelid);

	/*
	 * The quals run here, not in ExecScan: the rows of a block whose time
	 * range lies inside the bounds and whose series passes need only the
	 * quals a block does not decide.
	 */
	node->ss.ps.qual = NULL;
	state->allqual = ExecInitQual(cscan->scan.plan.qual, &node->ss.ps);
	{
		List	   *others = NIL;
		List	   *decided = list_length(cscan->custom_private) > 5
			? list_nth(cscan->custom_private, 5) : NIL;
		ListCell   *lq;
		ListCell   *ld;

		forboth(lq, cscan->scan.plan.qual, ld, decided)
			if (!lfirst_int(ld))
				others = lappend(others, lfirst(lq));
		state->otherqual = ExecInitQual(others, &node->ss.ps);
	}

	state->info = TsLookupChunk(RelationGetRelid(rel));
	state->strategies = strategies;
	state->vattnos = vattnos;
	state->vstrategies = list_nth(cscan->custom_private, 4);
	foreach(lc, cscan->custom_exprs)
	{
		if (i < nbounds)
			state->boundstates = lappend(state->boundstates,
										 ExecInitExpr((Expr *) lfirst(lc), &node->ss.ps));
		else if (i < nbounds + nvalues)
			state->vboundstates = lappend(state->vboundstates,
										  ExecInitExpr((Expr *) lfirst(lc), &node->ss.ps));
		else if (i >= nbounds + nvalues + nseg)
			state->keystate = ExecInitExpr((Expr *) lfirst(lc), &node->ss.ps);
		else
			segclauses = lappend(segclauses, lfirst(lc));
		i++;
	}
	Assert(list_length(segclauses) == nseg);
	if (list_length(cscan->custom_private) > 6 && list_nth(cscan->custom_private, 6) != NIL)
	{
		List	   *key = list_nth(cscan->custom_private, 6);

		state->keyattno = (AttrNumber) linitial_oid(key);
		state->keyop = lsecond_oid(key);
	}
	state->filter.econtext = CreateExprContext(estate);
	state->filter.segslot = ExecInitExtraTupleSlot(estate, desc, &TTSOpsVirtual);
	if (segclauses != NIL)
		state->filter.segqual = ExecInitQual(segclauses, &node->ss.ps);
	state->wanted = palloc0(sizeof(bool) * Max(desc->natts, 1));
	foreach(lc, wanted)
	{
		int			a = lfirst_int(lc);

		if (a >= 1 && a <= desc->natts)
			state->wanted[a - 1] = true;
	}
	state->heapslot = table_slot_create(rel, &estate->es_tupleTable);
	state->rowslot = ExecInitExtraTupleSlot(estate, desc, &TTSOpsVirtual);
	if (state->info != NULL && !(eflags & EXEC_FLAG_EXPLAIN_ONLY))
	{
		state->blocks = table_open(state->info->blocks, AccessShareLock);
		state->blockslot = table_slot_create(state->blocks, &estate->es_tupleTable);
		if (state->keystate != NULL && state->keyattno >= 1 &&
			state->keyattno <= state->info->natts &&
			state->info->role[state->keyattno - 1] == TS_ROLE_SEGMENT)
		{
			List	   *indexes = RelationGetIndexList(state->blocks);
			ListCell   *li;

			foreach(li, indexes)
			{
				Relation	index = index_open(lfirst_oid(li), AccessShareLock);

				if (index->rd_index->indnatts > 0 &&
					index->rd_index->indkey.values[0] == state->info->blk_attno[state->keyattno - 1] &&
					index->rd_rel->relam == BTREE_AM_OID)
				{
					state->blockindex = index;
					break;
				}
				index_close(index, AccessShareLock);
			}
			list_free(indexes);
		}
	}
	state->blockcxt = AllocSetContextCreate(estate->es_query_cxt, "nosql decompress scan",
											ALLOCSET_DEFAULT_SIZES);
}

static TupleTableSlot *
TsScanNext(ScanState *ss)
{
	TsScanState *state = (TsScanState *) ss;
	EState	   *estate = ss->ps.state;
	Relation	rel = ss->ss_currentRelation;

	if (!state->filter_ready)
	{
		TsFilterBounds(&state->filter, state->strategies, state->boundstates,
					   ss->ps.ps_ExprContext);
		if (state->info != NULL)
			TsFilterValues(&state->filter, state->info, state->vattnos, state->vstrategies,
						   state->vboundstates, ss->ps.ps_ExprContext);
		state->filter_ready = true;
	}
	if (state->phase == 0)
	{
		if (state->heapscan == NULL)
			state->heapscan = state->pheap != NULL
				? table_beginscan_parallel(rel, state->pheap)
				: table_beginscan(rel, estate->es_snapshot, 0, NULL);
		while (table_scan_getnextslot(state->heapscan, ForwardScanDirection, state->heapslot))
		{
			ExprContext *econtext = ss->ps.ps_ExprContext;

			ResetExprContext(econtext);
			econtext->ecxt_scantuple = state->heapslot;
			if (state->allqual == NULL || ExecQual(state->allqual, econtext))
				return state->heapslot;
			InstrCountFiltered1(ss, 1);
		}
		state->phase = state->blocks != NULL && !state->filter.empty ? 1 : 2;
	}
	while (state->phase == 1)
	{
		while (state->row < state->data.nrows)
		{
			int			row = state->row++;
			TimestampTz t = state->data.times[row];
			ExprContext *econtext = ss->ps.ps_ExprContext;
			ExprState  *qual = state->inside ? state->otherqual : state->allqual;

			if (t < state->filter.lo || t > state->filter.hi)
			{
				InstrCountFiltered1(ss, 1);
				continue;
			}
			TsBlockRowToSlot(state->info, RelationGetDescr(rel), &state->data, row,
							 state->rowslot);
			if (qual != NULL)
			{
				ResetExprContext(econtext);
				econtext->ecxt_scantuple = state->rowslot;
				if (!ExecQual(qual, econtext))
				{
					InstrCountFiltered1(ss, 1);
					continue;
				}
			}
			return state->rowslot;
		}
		if (state->blockscan == NULL && state->indexscan == NULL)
		{
			if (state->blockindex != NULL && state->pblocks == NULL)
			{
				/* the blocks of one series, through the index */
				ScanKeyData key;
				bool		isnull;
				Datum		v = ExecEvalExprSwitchContext(state->keystate, ss->ps.ps_ExprContext, &isnull);

				if (isnull)
				{
					state->phase = 2;
					break;
				}
				ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid,
									   state->blockindex->rd_indcollation[0],
									   get_opcode(state->keyop), v);
				state->indexscan = index_beginscan(state->blocks, state->blockindex,
												   estate->es_snapshot, 1, 0);
				index_rescan(state->indexscan, &key, 1, NULL, 0);
			}
			else
				state->blockscan = state->pblocks != NULL
					? table_beginscan_parallel(state->blocks, state->pblocks)
					: table_beginscan(state->blocks, estate->es_snapshot, 0, NULL);
		}
		MemoryContextReset(state->blockcxt);
		state->data.nrows = 0;
		state->row = 0;
		for (;;)
		{
			CHECK_FOR_INTERRUPTS();
			if (state->indexscan != NULL
				? !index_getnext_slot(state->indexscan, ForwardScanDirection, state->blockslot)
				: !table_scan_getnextslot(state->blockscan, ForwardScanDirection, state->blockslot))
			{
				state->phase = 2;
				break;
			}
			ResetExprContext(state->filter.econtext);
			if (!TsBlockPasses(state->info, &state->filter, state->blockslot))
			{
				state->blocks_skipped++;
				continue;
			}
			{
				MemoryContext old = MemoryContextSwitchTo(state->blockcxt);
				bool		isnull;

				TsDecodeBlock(state->info, RelationGetDescr(rel), state->blockslot,
							  state->wanted, &state->data);
				MemoryContextSwitchTo(old);
				state->inside =
					DatumGetTimestampTz(slot_getattr(state->blockslot, TS_BLK_MIN_TIME, &isnull)) >= state->filter.lo &&
					DatumGetTimestampTz(slot_getattr(state->blockslot, TS_BLK_MAX_TIME, &isnull)) <= state->filter.hi;
			}
			state->blocks_read++;
			break;
		}
	}
	return ExecClearTuple(ss->ss_ScanTupleSlot);
}

static bool
TsScanRecheck(ScanState *ss, TupleTableSlot *slot)
{
	TsScanState *state = (TsScanState *) ss;
	ExprContext *econtext = ss->ps.ps_ExprContext;

	if (state->allqual == NULL)
		return true;
	econtext->ecxt_scantuple = slot;
	return ExecQual(state->allqual, econtext);
}

static TupleTableSlot *
TsExecScan(CustomScanState *node)
{
	return ExecScan(&node->ss, TsScanNext, TsScanRecheck);
}

static void
TsEndScan(CustomScanState *node)
{
	TsScanState *state = (TsScanState *) node;

	if (state->heapscan)
		table_endscan(state->heapscan);
	if (state->blockscan)
		table_endscan(state->blockscan);
	if (state->indexscan)
		index_endscan(state->indexscan);
	if (state->blockindex)
		index_close(state->blockindex, NoLock);
	if (state->blocks)
		table_close(state->blocks, NoLock);
}

static void
TsRescan(CustomScanState *node)
{
	TsScanState *state = (TsScanState *) node;

	if (state->heapscan)
		table_rescan(state->heapscan, NULL);
	if (state->blockscan)
		table_rescan(state->blockscan, NULL);
	if (state->indexscan)
	{
		/* the key may have changed: begin again */
		index_endscan(state->indexscan);
		state->indexscan = NULL;
	}
	state->phase = 0;
	state->filter_ready = false;
	state->data.nrows = 0;
	state->row = 0;
	MemoryContextReset(state->blockcxt);
	ExecScanReScan(&node->ss);
}

/* ---- parallel scans: heap and block table pages shared out ---- */

static Size
TsEstimateDSM(CustomScanState *node, ParallelContext *pcxt)
{
	TsScanState *state = (TsScanState *) node;
	Snapshot	snapshot = node->ss.ps.state->es_snapshot;
	Size		size = MAXALIGN(table_parallelscan_estimate(node->ss.ss_currentRelation, snapshot));

	if (state->blocks != NULL)
		size = add_size(size, MAXALIGN(table_parallelscan_estimate(state->blocks, snapshot)));
	return size;
}

static void
TsAttachDSM(TsScanState *state, void *coordinate)
{
	Snapshot	snapshot = state->css.ss.ps.state->es_snapshot;

	state->pheap = (ParallelTableScanDesc) coordinate;
	if (state->blocks != NULL)
		state->pblocks = (ParallelTableScanDesc)
			((char *) coordinate +
			 MAXALIGN(table_parallelscan_estimate(state->css.ss.ss_currentRelation, snapshot)));
}

static void
TsInitializeDSM(CustomScanState *node, ParallelContext *pcxt, void *coordinate)
{
	TsScanState *state = (TsScanState *) node;
	Snapshot	snapshot = node->ss.ps.state->es_snapshot;

	TsAttachDSM(state, coordinate);
	table_parallelscan_initialize(node->ss.ss_currentRelation, state->pheap, snapshot);
	if (state->pblocks != NULL)
		table_parallelscan_initialize(state->blocks, state->pblocks, snapshot);
}

static void
TsReInitializeDSM(CustomScanState *node, ParallelContext *pcxt, void *coordinate)
{
	TsScanState *state = (TsScanState *) node;

	table_parallelscan_reinitialize(node->ss.ss_currentRelation, state->pheap);
	if (state->pblocks != NULL)
		table_parallelscan_reinitialize(state->blocks, state->pblocks);
}

static void
TsInitializeWorker(CustomScanState *node, shm_toc *toc, void *coordinate)
{
	TsAttachDSM((TsScanState *) node, coordinate);
}

static void
TsExplain(CustomScanState *node, List *ancestors, ExplainState *es)
{
	TsScanState *state = (TsScanState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;

	if (state->info != NULL)
		ExplainPropertyText("Blocks", get_rel_name(state->info->blocks), es);
	if (list_length((List *) linitial(cscan->custom_private)) > 0)
		ExplainPropertyText("Block Filter", "time bounds", es);
	if (state->filter.segqual != NULL)
		ExplainPropertyText("Block Filter", "segment quals", es);
	if (list_length((List *) lfourth(cscan->custom_private)) > 0)
		ExplainPropertyText("Block Filter", "value bounds", es);
	if (state->blockindex != NULL)
		ExplainPropertyText("Block Index", RelationGetRelationName(state->blockindex), es);
	if (es->analyze)
	{
		ExplainPropertyInteger("Blocks Decompressed", NULL, state->blocks_read, es);
		ExplainPropertyInteger("Blocks Skipped", NULL, state->blocks_skipped, es);
	}
}

/* ---- writes: decompress before the statement runs ---- */

typedef struct TsQualWalk
{
	Bitmapset  *rtis;			/* the scans wanted */
	List	  **quals;			/* per rti: the quals of its scan */
	bool	   *seen;
} TsQualWalk;

static void TsCollectQuals(Plan *plan, TsQualWalk *walk);

static void
TsCollectQualsList(List *plans, TsQualWalk *walk)
{
	ListCell   *lc;

	foreach(lc, plans)
		TsCollectQuals(lfirst(lc), walk);
}

static void
TsCollectQuals(Plan *plan, TsQualWalk *walk)
{
	if (plan == NULL)
		return;
	check_stack_depth();
	switch (nodeTag(plan))
	{
		case T_SeqScan:
		case T_SampleScan:
		case T_IndexScan:
		case T_IndexOnlyScan:
		case T_BitmapHeapScan:
		case T_TidScan:
		case T_TidRangeScan:
			{
				Index		rti = ((Scan *) plan)->scanrelid;

				if (bms_is_member(rti, walk->rtis))
				{
					walk->seen[rti] = true;
					walk->quals[rti] = list_concat(walk->quals[rti], plan->qual);
					if (IsA(plan, IndexScan))
						walk->quals[rti] = list_concat(walk->quals[rti],
													   ((IndexScan *) plan)->indexqualorig);
					else if (IsA(plan, BitmapHeapScan))
						walk->quals[rti] = list_concat(walk->quals[rti],
													   ((BitmapHeapScan *) plan)->bitmapqualorig);
				}
				break;
			}
		case T_Append:
			TsCollectQualsList(((Append *) plan)->appendplans, walk);
			break;
		case T_MergeAppend:
			TsCollectQualsList(((MergeAppend *) plan)->mergeplans, walk);
			break;
		case T_SubqueryScan:
			TsCollectQuals(((SubqueryScan *) plan)->subplan, walk);
			break;
		case T_CustomScan:
			TsCollectQualsList(((CustomScan *) plan)->custom_plans, walk);
			break;
		case T_BitmapAnd:
			TsCollectQualsList(((BitmapAnd *) plan)->bitmapplans, walk);
			break;
		case T_BitmapOr:
			TsCollectQualsList(((BitmapOr *) plan)->bitmapplans, walk);
			break;
		default:
			break;
	}
	TsCollectQuals(plan->lefttree, walk);
	TsCollectQuals(plan->righttree, walk);
}

/*
 * Before a statement that writes or locks rows of compressed partitions:
 * move the blocks it may reach back into rows, and let it see them.
 */
static void
TsPrepareModify(QueryDesc *qd)
{
	PlannedStmt *stmt = qd->plannedstmt;
	Bitmapset  *rtis = NULL;
	ListCell   *lc;
	int			nrt = list_length(stmt->rtable);
	TsQualWalk	walk;
	bool		changed = false;

	/* an INSERT's rows go to the heap: only rows that are changed need a ctid */
	if (stmt->commandType == CMD_UPDATE || stmt->commandType == CMD_DELETE ||
		stmt->commandType == CMD_MERGE)
		foreach(lc, stmt->resultRelations)
			rtis = bms_add_member(rtis, lfirst_int(lc));
	foreach(lc, stmt->rowMarks)
	{
		PlanRowMark *rc = lfirst_node(PlanRowMark, lc);

		if (rc->markType != ROW_MARK_COPY)
			rtis = bms_add_member(rtis, rc->rti);
	}
	{
		Bitmapset  *chunks = NULL;
		int			x = -1;

		while ((x = bms_next_member(rtis, x)) >= 0)
		{
			RangeTblEntry *rte;

			if (x < 1 || x > nrt)
				continue;
			rte = rt_fetch(x, stmt->rtable);
			if (TsMaybeChunk(rte) && TsLookupChunk(rte->relid) != NULL)
				chunks = bms_add_member(chunks, x);
		}
		bms_free(rtis);
		rtis = chunks;
	}
	if (rtis == NULL)
		return;

	walk.rtis = rtis;
	walk.quals = palloc0(sizeof(List *) * (nrt + 1));
	walk.seen = palloc0(sizeof(bool) * (nrt + 1));
	TsCollectQuals(stmt->planTree, &walk);
	TsCollectQualsList(stmt->subplans, &walk);

	{
		int			x = -1;

		while ((x = bms_next_member(rtis, x)) >= 0)
		{
			RangeTblEntry *rte = rt_fetch(x, stmt->rtable);
			TsChunkInfo *info = TsLookupChunk(rte->relid);
			Relation	chunk;
			TsBlockFilter filter;
			List	   *strategies = NIL;
			List	   *boundstates = NIL;
			List	   *segclauses = NIL;
			List	   *vattnos = NIL;
			List	   *vstrategies = NIL;
			List	   *vboundstates = NIL;
			ExprContext *econtext;
			int64		rows;

			if (info == NULL)
				continue;
			chunk = table_open(rte->relid, RowExclusiveLock);
			econtext = CreateStandaloneExprContext();
			econtext->ecxt_param_list_info = qd->params;
			memset(&filter, 0, sizeof(filter));
			filter.econtext = econtext;
			filter.segslot = MakeSingleTupleTableSlot(RelationGetDescr(chunk), &TTSOpsVirtual);
			foreach(lc, walk.quals[x])
			{
				Expr	   *clause = (Expr *) lfirst(lc);
				int			strategy;
				Expr	   *bound;
				AttrNumber	attno;
				int			kind;

				if (TsHasExecParam((Node *) clause, NULL))
					continue;
				kind = TsClassifyClause(clause, x, info, &strategy, &bound, &attno);
				if (kind == TS_CLAUSE_TIME)
				{
					strategies = lappend_int(strategies, strategy);
					boundstates = lappend(boundstates, ExecInitExpr(bound, NULL));
				}
				else if (kind == TS_CLAUSE_VALUE && !contain_leaked_vars((Node *) clause))
				{
					vattnos = lappend_int(vattnos, attno);
					vstrategies = lappend_int(vstrategies, strategy);
					vboundstates = lappend(vboundstates, ExecInitExpr(bound, NULL));
				}
				else if (kind == TS_CLAUSE_SEGMENT && !contain_leaked_vars((Node *) clause))
					segclauses = lappend(segclauses, clause);
			}
			if (!walk.seen[x])
			{
				/* no scan of its own to learn from: every block */
				strategies = NIL;
				boundstates = NIL;
				segclauses = NIL;
				vattnos = NIL;
				vstrategies = NIL;
				vboundstates = NIL;
			}
			if (segclauses != NIL)
				filter.segqual = ExecInitQual(segclauses, NULL);
			TsFilterBounds(&filter, strategies, boundstates, econtext);
			TsFilterValues(&filter, info, vattnos, vstrategies, vboundstates, econtext);
			rows = TsDecompressBlocks(chunk, info, &filter);
			(void) rows;
			changed = true;
			ExecDropSingleTupleTableSlot(filter.segslot);
			FreeExprContext(econtext, true);
			table_close(chunk, NoLock);
		}
	}
	if (changed)
	{
		CommandCounterIncrement();
		qd->snapshot->curcid = GetCurrentCommandId(false);
	}
}

static void
TsExecutorStart(QueryDesc *qd, int eflags)
{
	if (!(eflags & EXEC_FLAG_EXPLAIN_ONLY) &&
		(qd->plannedstmt->commandType != CMD_SELECT || qd->plannedstmt->rowMarks != NIL))
		TsPrepareModify(qd);
	if (prev_ExecutorStart)
		prev_ExecutorStart(qd, eflags);
	else
		standard_ExecutorStart(qd, eflags);
}

/* ---- setup ---- */

/* ---- TRUNCATE empties the block tables too ---- */

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/* The block tables of the compressed partitions a TRUNCATE reaches */
static List *
TsTruncatedBlocks(TruncateStmt *stmt)
{
	List	   *blocks = NIL;
	ListCell   *lc;

	foreach(lc, stmt->relations)
	{
		RangeVar   *rv = lfirst_node(RangeVar, lc);
		Oid			relid = RangeVarGetRelid(rv, NoLock, true);
		List	   *rels;
		ListCell   *lr;

		if (!OidIsValid(relid))
			continue;
		rels = rv->inh ? find_all_inheritors(relid, NoLock, NULL) : list_make1_oid(relid);
		foreach(lr, rels)
		{
			Oid			child = lfirst_oid(lr);
			TsChunkInfo *info;

			if (get_rel_relkind(child) != RELKIND_RELATION || !get_rel_relispartition(child))
				continue;
			info = TsLookupChunk(child);
			if (info != NULL)
				blocks = list_append_unique_oid(blocks, info->blocks);
		}
	}
	return blocks;
}

static void
TsProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				 ProcessUtilityContext context, ParamListInfo params,
				 QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	List	   *blocks = NIL;
	ListCell   *lc;

	if (IsA(pstmt->utilityStmt, TruncateStmt))
		blocks = TsTruncatedBlocks((TruncateStmt *) pstmt->utilityStmt);
	/* a load into a time-series table compresses what is due (ts_copy.c) */
	if (IsA(pstmt->utilityStmt, CopyStmt) && TsCopyFrom(pstmt, queryString, qc))
		return;
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);

	/*
	 * The TRUNCATE of the partitions passed its privilege checks; their
	 * block tables, owned by the table's owner, are emptied as that owner.
	 */
	foreach(lc, blocks)
	{
		Oid			blk = lfirst_oid(lc);
		TruncateStmt *trunc = makeNode(TruncateStmt);
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(blk));
		Oid			owner;
		Oid			save_userid;
		int			save_sec;

		if (!HeapTupleIsValid(tup))
			continue;
		owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
		ReleaseSysCache(tup);
		trunc->relations = list_make1(makeRangeVar(get_namespace_name(get_rel_namespace(blk)),
												   get_rel_name(blk), -1));
		trunc->restart_seqs = false;
		trunc->behavior = DROP_RESTRICT;
		GetUserIdAndSecContext(&save_userid, &save_sec);
		SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
		ExecuteTruncate(trunc);
		SetUserIdAndSecContext(save_userid, save_sec);
	}
}

static bool ts_preloaded = false;

/* Was the library loaded by shared_preload_libraries (so every backend has the hooks)? */
bool
TsScanPreloaded(void)
{
	return ts_preloaded;
}

void
TsScanInit(void)
{
	ts_preloaded = process_shared_preload_libraries_in_progress;
	RegisterCustomScanMethods(&TsScanMethods);
	prev_set_rel_pathlist_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = TsSetRelPathlist;
	prev_get_relation_info_hook = get_relation_info_hook;
	get_relation_info_hook = TsRelationInfo;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = TsExecutorStart;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = TsProcessUtility;
	TsAggInit();
}
