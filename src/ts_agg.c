/*-------------------------------------------------------------------------
 *
 * ts_agg.c
 *	  Aggregates over time-series tables answered from the statistics of
 *	  compressed blocks: the custom node "Nosql Block Aggregate".
 *
 * Design note.  Each block row keeps its row count, first and last time,
 * and per value column its NULL count, smallest and largest value and (for
 * int2/int4/int8) its sum.  A query such as
 *
 *		SELECT host, time_bucket('1 day', time), count(*), min(cpu), avg(n)
 *		  FROM metrics WHERE time >= '...' AND time < '...' GROUP BY 1, 2
 *
 * can take a block whose rows all satisfy the WHERE clause and fall in one
 * time bucket from those statistics without decoding it.
 * create_upper_paths_hook offers a path for the grouping of a time-series
 * table when:
 *
 *	- the query reads that table alone, with no HAVING, grouping sets or
 *	  row-level security;
 *	- every qual is a time bound or reads segment_by columns only (so that
 *	  a block inside the time bounds whose series passes has every row
 *	  passing);
 *	- it groups by segment_by columns and time_bucket(constant width, time
 *	  [, constant origin | constant offset]) or time_bucket(constant width,
 *	  time, constant time zone [, constant origin [, constant offset]]), or
 *	  not at all;
 *	- it selects those grouping expressions and count(*), count(column),
 *	  min and max of int2/int4/int8/float4/float8/date/timestamp/timestamptz
 *	  columns and of the time column, and sum and avg of int2/int4/int8
 *	  columns, nothing else.
 *
 * The time_bucket variants without a time zone never decrease as the time
 * grows, so a block whose first and last time share a bucket has all its
 * rows in it.  The node evaluates the bucket expression itself, on the
 * block's first and last time, so the buckets are time_bucket's own.
 *
 * Local time goes back when summer time ends, so with a time zone the
 * ends of a block bound nothing in general.  But where the zone's UTC
 * offset does not change, local time is the time plus a constant and grows
 * with it: a block whose first and last time have one local bucket, with
 * no transition of the zone in between, has all its rows in that bucket.
 * The local buckets are compared, not time_bucket's results, because
 * turning a local time back into a timestamptz is not monotone (a bucket
 * starting in the hour skipped in spring reads as the hour after, the
 * result of a later bucket).  The next transition comes from
 * pg_next_dst_boundary, a binary search over the zone's transitions; a
 * fixed-offset abbreviation has none; a dynamic abbreviation is not
 * followed (its blocks are decoded).
 *
 * The node visits the partitions left after pruning: their heap rows (not
 * compressed yet) one by one with the quals; their blocks by the same
 * filters as the decompressing scan (through the block table's index when
 * a qual fixes its first segment column); a block inside the time bounds and in
 * one bucket from its statistics; any other block decoded (only the
 * columns needed) and filtered row by row.  The results are those of the
 * ordinary plan: the statistics are exact (min/max order NaN above every
 * number, as PostgreSQL's min and max do; an int8 block sum that overflows
 * is kept NULL and the block decoded), sums of int8 and averages add in
 * 128 bits and end as PostgreSQL's numeric_poly_sum/avg and int8_avg do:
 * the numeric sum, divided by the numeric count with numeric_div.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/nbtree.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
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
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "timeseries.h"
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
	TSA_SUM,					/* of int2/int4: int8 */
	TSA_SUM_NUMERIC,			/* of int8: numeric */
	TSA_AVG						/* of int2/int4/int8: numeric */
} TsAggKind;

static bool
TsAggStatType(Oid typid)
{
	return TsHasValueStats(typid);
}

/*
 * Is expr nosql.time_bucket(<constant interval>, <time column>
 * [, <constant origin timestamptz> | <constant offset interval>]), or
 * nosql.time_bucket(<constant interval>, <time column>, <constant time
 * zone text> [, <constant origin or NULL> [, <constant offset or NULL>]])?
 *
 * The variants without a time zone never decrease as the time grows: when
 * the first and the last time of a block fall in one bucket, so does every
 * time between, and the block can join that bucket from its statistics.
 * The variant of a time zone buckets local time, which goes back when
 * summer time ends; TsAggBlockStats takes a block from its statistics only
 * when the zone's UTC offset does not change inside it.
 */
static bool
TsAggIsBucket(Expr *expr, Index varno, TsChunkInfo *info)
{
	FuncExpr   *f;
	Const	   *width;
	Var		   *var;
	char	   *name;
	Oid			nsp;
	ListCell   *lc;

	if (!IsA(expr, FuncExpr))
		return false;
	f = (FuncExpr *) expr;
	if (f->funcresulttype != TIMESTAMPTZOID || f->funcretset || f->funcvariadic ||
		list_length(f->args) < 2 || list_length(f->args) > 5)
		return false;
	width = (Const *) linitial(f->args);
	var = (Var *) lsecond(f->args);
	if (!IsA(width, Const) || width->consttype != INTERVALOID || width->constisnull ||
		!IsA(var, Var) || var->varno != (int) varno || var->varlevelsup != 0 ||
		var->varattno != info->time_attno || var->vartype != TIMESTAMPTZOID)
		return false;
	for_each_from(lc, f->args, 2)
	{
		Const	   *extra = (Const *) lfirst(lc);
		int			n = foreach_current_index(lc);

		if (!IsA(extra, Const))
			return false;
		if (n == 2 && extra->consttype == TEXTOID)
		{
			/* the time zone */
			if (extra->constisnull)
				return false;
		}
		else if (n == 2 && list_length(f->args) == 3)
		{
			/* origin or offset, without a time zone */
			if (extra->constisnull ||
				(extra->consttype != TIMESTAMPTZOID && extra->consttype != INTERVALOID))
				return false;
		}
		else if (n == 2 ||
				 extra->consttype != (n == 3 ? TIMESTAMPTZOID : INTERVALOID))
			return false;		/* origin and offset after a time zone, or NULL */
	}
	nsp = get_namespace_oid("nosql", true);
	name = get_func_name(f->funcid);
	return OidIsValid(nsp) && get_func_namespace(f->funcid) == nsp &&
		name != NULL && strcmp(name, "time_bucket") == 0;
}

/*
 * The kind and column of an output expression, or false when the node
 * cannot compute it.  A grouping expression's "column" is its place in
 * groupexprs.
 */
static bool
TsAggClassify(Expr *expr, Index varno, TsChunkInfo *info, List *groupexprs,
			  int *kind, AttrNumber *attno)
{
	ListCell   *lc;

	foreach(lc, groupexprs)
	{
		if (equal(expr, lfirst(lc)))
		{
			*kind = TSA_GROUP;
			*attno = foreach_current_index(lc);
			return true;
		}
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
				/* a partition whose blocks keep no sum decodes them */
				*kind = TSA_SUM;
				return role == TS_ROLE_VALUE;
#ifdef HAVE_INT128
			case F_SUM_INT8:
				*kind = TSA_SUM_NUMERIC;
				return role == TS_ROLE_VALUE;
			case F_AVG_INT2:
			case F_AVG_INT4:
			case F_AVG_INT8:
				*kind = TSA_AVG;
				return role == TS_ROLE_VALUE;
#endif
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
	List	   *groupexprs = NIL;
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

	/* grouping by segment columns and time buckets */
	foreach(lc, parse->groupClause)
	{
		SortGroupClause *sgc = lfirst_node(SortGroupClause, lc);
		TargetEntry *te = get_sortgroupclause_tle(sgc, parse->targetList);
		Var		   *var = (Var *) te->expr;

		if (!OidIsValid(sgc->eqop) || !sgc->hashable)
			return;
		if (IsA(var, Var))
		{
			if (var->varno != (int) input_rel->relid || var->varlevelsup != 0 ||
				var->varattno < 1 || var->varattno > info->natts ||
				info->role[var->varattno - 1] != TS_ROLE_SEGMENT)
				return;
		}
		else if (!TsAggIsBucket(te->expr, input_rel->relid, info))
			return;
		groupexprs = lappend(groupexprs, te->expr);
		pull_varattnos((Node *) te->expr, input_rel->relid, &attrs);
	}

	/* the output: grouping columns and the aggregates it knows */
	foreach(lc, output_rel->reltarget->exprs)
	{
		int			kind;
		AttrNumber	attno;

		if (!TsAggClassify((Expr *) lfirst(lc), input_rel->relid, info, groupexprs,
						   &kind, &attno))
			return;
		kinds = lappend_int(kinds, kind);
		attnos = lappend_int(attnos, attno);
		if (kind != TSA_GROUP && attno > 0)
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
			/*
			 * every compressed partition keeps the same roles and statistics
			 * (but sums: a partition without them decodes its blocks)
			 */
			while ((y = bms_next_member(plain, y)) >= 0)
				if (y > pinfo->natts || pinfo->role[y - 1] != info->role[y - 1] ||
					(pinfo->stat_min[y - 1] == 0) != (info->stat_min[y - 1] == 0) ||
					(pinfo->stat_nulls[y - 1] == 0) != (info->stat_nulls[y - 1] == 0))
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
	cp->custom_private = list_make5(parts, kinds, attnos, quals, groupexprs);
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
	 * parts, kinds, attnos, quals and grouping expressions (Vars of the
	 * parent, evaluated on rows of the partitions, which share its column
	 * numbers), the parent's range table index, the grouping expressions' =
	 * operators
	 */
	cscan->custom_private = lappend(list_copy(best_path->custom_private), groupops);
	cscan->methods = &TsAggScanMethods;
	return &cscan->scan.plan;
}

/* ---- execution ---- */

/*
 * A time bucket with a time zone: its constant arguments, and the zone as
 * AT TIME ZONE reads it (resolved when the first block needs it)
 */
typedef struct TsAggZone
{
	Interval   *width;
	text	   *zone;
	TimestampTz origin;
	bool		has_origin;
	Interval   *offset;			/* or NULL */
	bool		resolved;
	TsZone		tz;
} TsAggZone;

typedef struct TsAggAcc
{
	int64		count;			/* count; values summed for avg */
	Datum		value;			/* min, max, sum of int2/int4 */
	bool		isnull;
#ifdef HAVE_INT128
	int128		wide;			/* sum of int8 and avg: exact, as PostgreSQL's */
#endif
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
	AttrNumber *groupattno;		/* a segment column, or 0: groupstate's */
	ExprState **groupstate;		/* a time bucket */
	struct TsAggZone **zones;	/* a time bucket's time zone, or NULL */
	int			nbucket;		/* how many */
	Datum	   *rowbuckets;		/* a row's buckets */
	bool	   *rownulls;
	/* the group of the last row of the block being decoded, and its buckets */
	TsAggAcc   *lastacc;
	Datum	   *lastbuckets;
	TupleTableSlot *timeslot;	/* a partition row holding one time */
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

/*
 * The constant arguments of a time bucket with a time zone (TsAggIsBucket
 * checked them), or NULL for a bucket without one
 */
static TsAggZone *
TsAggZoneOf(FuncExpr *f)
{
	TsAggZone  *z;
	Const	   *c;

	if (list_length(f->args) < 3 || ((Const *) lthird(f->args))->consttype != TEXTOID)
		return NULL;
	z = palloc0(sizeof(TsAggZone));
	z->width = DatumGetIntervalP(((Const *) linitial(f->args))->constvalue);
	z->zone = DatumGetTextPP(((Const *) lthird(f->args))->constvalue);
	if (list_length(f->args) > 3 && !(c = (Const *) lfourth(f->args))->constisnull)
	{
		z->origin = DatumGetTimestampTz(c->constvalue);
		z->has_origin = true;
	}
	if (list_length(f->args) > 4 && !(c = (Const *) list_nth(f->args, 4))->constisnull)
		z->offset = DatumGetIntervalP(c->constvalue);
	return z;
}

static void
TsAggBegin(CustomScanState *node, EState *estate, int eflags)
{
	TsAggState *state = (TsAggState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	List	   *kinds = lsecond(cscan->custom_private);
	List	   *attnos = lthird(cscan->custom_private);
	List	   *quals = lfourth(cscan->custom_private);
	List	   *groupexprs = list_nth(cscan->custom_private, 4);
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

	state->ngroup = list_length(groupexprs);
	if (state->ngroup > 0)
	{
		TupleDesc	keydesc = CreateTemplateTupleDesc(state->ngroup);
		AttrNumber *keycols = palloc(sizeof(AttrNumber) * state->ngroup);
		Oid		   *eqops = palloc(sizeof(Oid) * state->ngroup);
		Oid		   *colls = palloc(sizeof(Oid) * state->ngroup);
		Oid		   *eqfuncs;
		FmgrInfo   *hashfuncs;

		state->groupattno = palloc0(sizeof(AttrNumber) * state->ngroup);
		state->groupstate = palloc0(sizeof(ExprState *) * state->ngroup);
		state->zones = palloc0(sizeof(TsAggZone *) * state->ngroup);
		state->rowbuckets = palloc0(sizeof(Datum) * state->ngroup);
		state->rownulls = palloc0(sizeof(bool) * state->ngroup);
		state->lastbuckets = palloc0(sizeof(Datum) * state->ngroup);
		i = 0;
		forboth(lc, groupexprs, la, groupops)
		{
			Expr	   *expr = (Expr *) lfirst(lc);
			Oid			coll = exprCollation((Node *) expr);

			TupleDescInitEntry(keydesc, i + 1, NULL, exprType((Node *) expr),
							   exprTypmod((Node *) expr), 0);
			TupleDescInitEntryCollation(keydesc, i + 1, coll);
			if (IsA(expr, Var))
				state->groupattno[i] = ((Var *) expr)->varattno;
			else
			{
				state->groupstate[i] = ExecInitExpr(expr, &node->ss.ps);
				state->nbucket++;
				state->zones[i] = TsAggZoneOf((FuncExpr *) expr);
			}
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

/*
 * The accumulators of a group: of the segment values in segvalues/segnulls
 * (by partition attno) and the time buckets in bucketvals/bucketnulls (by
 * place in the grouping)
 */
static TsAggAcc *
TsAggGroup(TsAggState *state, Datum *segvalues, bool *segnulls,
		   Datum *bucketvals, bool *bucketnulls)
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
		AttrNumber	a = state->groupattno[i];

		state->keyslot->tts_values[i] = a > 0 ? segvalues[a - 1] : bucketvals[i];
		state->keyslot->tts_isnull[i] = a > 0 ? segnulls[a - 1] : bucketnulls[i];
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

/*
 * The time buckets of the row in the expression context's scan tuple, into
 * vals/nulls (by place in the grouping)
 */
static void
TsAggBuckets(TsAggState *state, ExprContext *econtext, Datum *vals, bool *nulls)
{
	for (int i = 0; i < state->ngroup; i++)
		if (state->groupstate[i] != NULL)
			vals[i] = ExecEvalExpr(state->groupstate[i], econtext, &nulls[i]);
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

/*
 * count values summing to sum into a sum of int8 or an avg: 128 bits hold
 * any sum of fewer than 2^64 int8 values, so nothing overflows (as in
 * PostgreSQL's own accumulation)
 */
static void
TsAggAddWide(TsAggAcc *acc, int64 count, int64 sum)
{
#ifdef HAVE_INT128
	acc->wide += sum;
	acc->count += count;
	if (count > 0)
		acc->isnull = false;
#else
	elog(ERROR, "sum of int8 needs 128-bit integers");
#endif
}

/*
 * Are the row's buckets those of the last row of the block (whose segment
 * values are the block's own)?
 */
static bool
TsAggSameBuckets(TsAggState *state)
{
	for (int i = 0; i < state->ngroup; i++)
		if (state->groupstate[i] != NULL &&
			(state->rownulls[i] ||
			 DatumGetTimestampTz(state->rowbuckets[i]) != DatumGetTimestampTz(state->lastbuckets[i])))
			return false;
	return true;
}

/*
 * One row that passed the quals, in the expression context's scan tuple.
 * inblock: the row comes from the block being decoded, after the rows
 * passed since TsAggCompute last reset lastacc; a block's rows share its
 * series and come in time order, so most share the last row's group and
 * need no look-up in the hash table.
 */
static void
TsAggRow(TsAggState *state, TupleTableSlot *slot, bool inblock)
{
	Datum	   *segvalues;
	bool	   *segnulls;
	TsAggAcc   *acc;

	slot_getallattrs(slot);
	segvalues = slot->tts_values;
	segnulls = slot->tts_isnull;
	if (state->nbucket > 0)
		TsAggBuckets(state, state->css.ss.ps.ps_ExprContext, state->rowbuckets, state->rownulls);
	if (inblock && state->lastacc != NULL && TsAggSameBuckets(state))
		acc = state->lastacc;
	else
	{
		acc = TsAggGroup(state, segvalues, segnulls, state->rowbuckets, state->rownulls);
		if (inblock && state->ngroup > 0)
		{
			memcpy(state->lastbuckets, state->rowbuckets, sizeof(Datum) * state->ngroup);
			state->lastacc = acc;
			for (int i = 0; i < state->ngroup; i++)
				if (state->groupstate[i] != NULL && state->rownulls[i])
					state->lastacc = NULL;
		}
	}
	for (int i = 0; i < state->nout; i++)
	{
		AttrNumber	a = state->attno[i];
		Oid			typid;
		int64		v;

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
			case TSA_SUM_NUMERIC:
			case TSA_AVG:
				if (slot->tts_isnull[a - 1])
					break;
				typid = TupleDescAttr(slot->tts_tupleDescriptor, a - 1)->atttypid;
				if (typid == INT2OID)
					v = DatumGetInt16(slot->tts_values[a - 1]);
				else if (typid == INT4OID)
					v = DatumGetInt32(slot->tts_values[a - 1]);
				else
					v = DatumGetInt64(slot->tts_values[a - 1]);
				if (state->kind[i] == TSA_SUM)
					TsAggAddSum(&acc[i], v);
				else
					TsAggAddWide(&acc[i], 1, v);
				break;
		}
	}
}

/*
 * Do all the times from lo to hi fall in one bucket of the time zone's
 * bucket z?  They do when the zone's UTC offset is the same throughout
 * (so local time grows with the time) and the local buckets of lo and hi
 * are one: local buckets never decrease as local time grows.  Called after
 * time_bucket itself ran on lo, so a zone that is not recognized has
 * already been reported with time_bucket's own error.
 */
static bool
TsAggZoneOneBucket(TsAggZone *z, TimestampTz lo, TimestampTz hi)
{
	Timestamp	lolocal;
	Timestamp	hilocal;

	if (TIMESTAMP_NOT_FINITE(lo) || TIMESTAMP_NOT_FINITE(hi))
		return false;
	if (TsBucketZoneLocal(z->width, lo, z->zone, z->has_origin ? &z->origin : NULL,
						  z->offset, &lolocal) !=
		TsBucketZoneLocal(z->width, hi, z->zone, z->has_origin ? &z->origin : NULL,
						  z->offset, &hilocal))
		return false;
	/* the same offset at both ends (cheap, and a check on the next test) */
	if (lolocal - lo != hilocal - hi)
		return false;
	if (!z->resolved)
	{
		TsZoneResolve(z->zone, &z->tz);
		z->resolved = true;
	}
	return TsZoneSameOffset(&z->tz, lo, hi);
}

/*
 * A block inside the time bounds whose series passes: from its statistics.
 * False when a statistic it needs is missing, or when its first and last
 * times lie in different time buckets (the caller decodes it).  timeslot:
 * a virtual slot of the partition's row type.
 */
static bool
TsAggBlockStats(TsAggState *state, TsChunkInfo *info, TupleTableSlot *blockslot,
				TupleTableSlot *timeslot)
{
	bool		isnull;
	int32		rows = DatumGetInt32(slot_getattr(blockslot, TS_BLK_ROWS, &isnull));
	Datum	   *segvalues = palloc0(sizeof(Datum) * info->natts);
	bool	   *segnulls = palloc(sizeof(bool) * info->natts);
	Datum	   *bucketvals = palloc0(sizeof(Datum) * Max(state->ngroup, 1));
	bool	   *bucketnulls = palloc0(sizeof(bool) * Max(state->ngroup, 1));
	TsAggAcc   *acc;

	/* every needed statistic there? (NULL sums only for all-NULL columns) */
	for (int i = 0; i < state->nout; i++)
	{
		AttrNumber	a = state->attno[i];

		if (state->kind[i] == TSA_SUM || state->kind[i] == TSA_SUM_NUMERIC ||
			state->kind[i] == TSA_AVG)
		{
			bool		sumnull;
			bool		nullsnull;
			int32		nulls;

			if (info->stat_sum[a - 1] == 0 || info->stat_nulls[a - 1] == 0)
				return false;
			(void) slot_getattr(blockslot, info->stat_sum[a - 1], &sumnull);
			nulls = DatumGetInt32(slot_getattr(blockslot, info->stat_nulls[a - 1], &nullsnull));
			if (nullsnull || (sumnull && nulls != rows))
				return false;
		}
	}

	/*
	 * its time buckets: those of its first time, if its last is there too.
	 * A bucket of a time zone compares local buckets (local time is
	 * monotone when the UTC offset does not change): comparing the results
	 * would not do, as two local buckets can map to one time (the bucket
	 * starting in the hour that summer time skips is read as the hour
	 * after).
	 */
	if (state->nbucket > 0)
	{
		ExprContext *econtext = state->css.ss.ps.ps_ExprContext;
		Datum		t[2];
		int			ta = info->time_attno;

		t[0] = slot_getattr(blockslot, TS_BLK_MIN_TIME, &isnull);
		t[1] = slot_getattr(blockslot, TS_BLK_MAX_TIME, &isnull);
		for (int k = 0; k < 2; k++)
		{
			ExecClearTuple(timeslot);
			memset(timeslot->tts_isnull, true, sizeof(bool) * timeslot->tts_tupleDescriptor->natts);
			timeslot->tts_values[ta - 1] = t[k];
			timeslot->tts_isnull[ta - 1] = false;
			ExecStoreVirtualTuple(timeslot);
			ResetExprContext(econtext);
			econtext->ecxt_scantuple = timeslot;
			for (int i = 0; i < state->ngroup; i++)
			{
				Datum		b;
				bool		bnull;

				if (state->groupstate[i] == NULL || (k == 1 && state->zones[i] != NULL))
					continue;
				/* a time bucket is a timestamptz, passed by value */
				b = ExecEvalExpr(state->groupstate[i], econtext, &bnull);
				if (bnull)
					return false;
				if (k == 0)
					bucketvals[i] = b;
				else if (DatumGetTimestampTz(b) != DatumGetTimestampTz(bucketvals[i]))
					return false;
			}
		}
		for (int i = 0; i < state->ngroup; i++)
		{
			MemoryContext old;
			bool		one;

			if (state->zones[i] == NULL)
				continue;
			/* AT TIME ZONE allocates a little: in the per-tuple context */
			old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
			one = TsAggZoneOneBucket(state->zones[i], DatumGetTimestampTz(t[0]),
									 DatumGetTimestampTz(t[1]));
			MemoryContextSwitchTo(old);
			if (!one)
				return false;
		}
	}

	memset(segnulls, true, sizeof(bool) * info->natts);
	for (int a = 0; a < info->natts; a++)
		if (info->role[a] == TS_ROLE_SEGMENT)
			segvalues[a] = slot_getattr(blockslot, info->blk_attno[a], &segnulls[a]);
	acc = TsAggGroup(state, segvalues, segnulls, bucketvals, bucketnulls);
	for (int i = 0; i < state->nout; i++)
	{
		AttrNumber	a = state->attno[i];
		TsColumnRole role = (state->kind[i] != TSA_GROUP && a > 0) ? info->role[a - 1] : TS_ROLE_NONE;
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
			case TSA_SUM_NUMERIC:
			case TSA_AVG:
				v = slot_getattr(blockslot, info->stat_sum[a - 1], &vnull);
				if (!vnull)
					TsAggAddWide(&acc[i],
								 rows - DatumGetInt32(slot_getattr(blockslot, info->stat_nulls[a - 1], &isnull)),
								 DatumGetInt64(v));
				break;
		}
	}
	return true;
}

/*
 * An index of the block table whose first column is a segment column that
 * a qual "column = constant" fixes, and the scan key for it; NULL when
 * none (the blocks are then read in full, each filtered).
 */
static Relation
TsAggBlockIndex(TsAggState *state, TsChunkInfo *info, Relation blocks, ScanKey key)
{
	List	   *indexes = RelationGetIndexList(blocks);
	ListCell   *li;
	Relation	found = NULL;

	foreach(li, indexes)
	{
		Relation	index = index_open(lfirst_oid(li), AccessShareLock);
		ListCell   *lc;

		if (index->rd_rel->relam == BTREE_AM_OID && index->rd_index->indnatts > 0)
		{
			foreach(lc, state->segclauses)
			{
				OpExpr	   *op = (OpExpr *) lfirst(lc);
				Var		   *var;
				Const	   *c;

				if (!IsA(op, OpExpr) || list_length(op->args) != 2)
					continue;
				var = (Var *) linitial(op->args);
				c = (Const *) lsecond(op->args);
				if (!IsA(var, Var) || !IsA(c, Const) || c->constisnull ||
					var->varattno < 1 || var->varattno > info->natts ||
					info->role[var->varattno - 1] != TS_ROLE_SEGMENT ||
					info->blk_attno[var->varattno - 1] != index->rd_index->indkey.values[0] ||
					c->consttype != var->vartype ||
					TupleDescAttr(RelationGetDescr(index), 0)->atttypid != var->vartype ||
					get_op_opfamily_strategy(op->opno, index->rd_opfamily[0]) != BTEqualStrategyNumber)
					continue;
				ScanKeyEntryInitialize(key, 0, 1, BTEqualStrategyNumber, InvalidOid,
									   index->rd_indcollation[0], get_opcode(op->opno),
									   c->constvalue);
				found = index;
				break;
			}
		}
		if (found != NULL)
			break;
		index_close(index, AccessShareLock);
	}
	list_free(indexes);
	return found;
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
				TsAggRow(state, slot, false);
				state->heap_rows++;
			}
		}
		table_endscan(scan);

		info = TsLookupChunk(relid);
		if (info != NULL)
		{
			Relation	blocks = table_open(info->blocks, AccessShareLock);
			TupleTableSlot *blockslot = table_slot_create(blocks, NULL);
			ScanKeyData key;
			Relation	bindex = TsAggBlockIndex(state, info, blocks, &key);
			TableScanDesc bscan = NULL;
			IndexScanDesc iscan = NULL;
			bool	   *wanted = palloc0(sizeof(bool) * Max(desc->natts, 1));

			for (int i = 0; i < state->nout; i++)
				if (state->kind[i] != TSA_GROUP && state->attno[i] > 0 &&
					state->attno[i] <= desc->natts)
					wanted[state->attno[i] - 1] = true;
			filter.econtext = CreateExprContext(estate);
			filter.segslot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
			filter.segqual = state->segclauses != NIL
				? ExecInitQual(state->segclauses, &state->css.ss.ps) : NULL;
			/* the blocks of one series through the index, or all */
			if (bindex != NULL)
			{
				iscan = index_beginscan(blocks, bindex, estate->es_snapshot, 1, 0);
				index_rescan(iscan, &key, 1, NULL, 0);
			}
			else
				bscan = table_beginscan(blocks, estate->es_snapshot, 0, NULL);
			while (iscan != NULL
				   ? index_getnext_slot(iscan, ForwardScanDirection, blockslot)
				   : table_scan_getnextslot(bscan, ForwardScanDirection, blockslot))
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
					TsAggBlockStats(state, info, blockslot, rowslot))
				{
					state->blocks_stats++;
					continue;
				}
				/*
				 * decode the columns needed, and take the rows that pass (all
				 * of them when the block is inside the time bounds: its
				 * series passed)
				 */
				{
					MemoryContext old = MemoryContextSwitchTo(blockcxt);
					TsBlockData data;
					ExprState  *qual = (min_time >= filter.lo && max_time <= filter.hi) ? NULL : state->qual;

					TsDecodeBlock(info, desc, blockslot, wanted, &data);
					state->lastacc = NULL;
					for (int r = 0; r < data.nrows; r++)
					{
						TsBlockRowToSlot(info, desc, &data, r, rowslot);
						ResetExprContext(econtext);
						econtext->ecxt_scantuple = rowslot;
						if (qual == NULL || ExecQual(qual, econtext))
							TsAggRow(state, rowslot, true);
					}
					state->lastacc = NULL;
					MemoryContextSwitchTo(old);
					MemoryContextReset(blockcxt);
				}
				state->blocks_decoded++;
			}
			if (iscan != NULL)
			{
				index_endscan(iscan);
				index_close(bindex, AccessShareLock);
			}
			else
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

#ifdef HAVE_INT128
/* A 128-bit integer as a numeric (of scale 0) */
static Datum
TsAggInt128Numeric(int128 v)
{
	char		buf[48];
	char	   *p = buf + sizeof(buf) - 1;
	uint128		u = v < 0 ? -(uint128) v : (uint128) v;

	if (v >= PG_INT64_MIN && v <= PG_INT64_MAX)
		return NumericGetDatum(int64_to_numeric((int64) v));
	*p = '\0';
	do
	{
		*--p = '0' + (int) (u % 10);
		u /= 10;
	} while (u > 0);
	if (v < 0)
		*--p = '-';
	return DirectFunctionCall3(numeric_in, CStringGetDatum(p),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}
#endif

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
				slot->tts_values[i] = slot_getattr(key, state->attno[i] + 1, &slot->tts_isnull[i]);
				break;
			case TSA_COUNT_STAR:
			case TSA_COUNT:
				slot->tts_values[i] = Int64GetDatum(acc[i].count);
				slot->tts_isnull[i] = false;
				break;
#ifdef HAVE_INT128
			case TSA_SUM_NUMERIC:
			case TSA_AVG:
				/* as numeric_poly_sum and numeric_poly_avg compute them */
				slot->tts_isnull[i] = acc[i].isnull || acc[i].count == 0;
				if (slot->tts_isnull[i])
					break;
				slot->tts_values[i] = TsAggInt128Numeric(acc[i].wide);
				if (state->kind[i] == TSA_AVG)
					slot->tts_values[i] = DirectFunctionCall2(numeric_div, slot->tts_values[i],
															  NumericGetDatum(int64_to_numeric(acc[i].count)));
				break;
#endif
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
		(void) TsAggGroup(state, NULL, NULL, NULL, NULL);
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
