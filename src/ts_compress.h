/*-------------------------------------------------------------------------
 *
 * ts_compress.h
 *	  Compressed partitions of time-series tables: what the storage side
 *	  (ts_compress.c) tells the query side (ts_scan.c).
 *
 * A compressed partition keeps its rows in two places: rows written after
 * its last compression in its own heap, as any partition, and older rows
 * in its block table, one row per block of up to TS_BLOCK_ROWS rows of one
 * series (one value of the segment_by columns) ordered by time.  The block
 * table's columns, named after the partition's column numbers so that
 * renaming a column changes nothing:
 *
 *	rows		int4		rows in the block
 *	min_time	timestamptz the block's first and last time
 *	max_time	timestamptz
 *	t<n>		nosql.tsblock	the time column (attribute n of the partition)
 *	s<n>		the column's own type: a segment_by column, one value per block
 *	c<n>		nosql.tsblock	every other column, compressed
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_TS_COMPRESS_H
#define NOSQL_TS_COMPRESS_H

#include "access/attnum.h"
#include "access/tupdesc.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"
#include "nodes/plannodes.h"
#include "tcop/cmdtag.h"
#include "utils/relcache.h"

#include "ts_codec.h"

/* Rows per block: the compressor cuts each series into blocks this long */
#define TS_BLOCK_ROWS 1000

/* The fixed columns of a block table */
#define TS_BLK_ROWS 1
#define TS_BLK_MIN_TIME 2
#define TS_BLK_MAX_TIME 3

/* How the values of one partition column are kept */
typedef enum TsColumnRole
{
	TS_ROLE_NONE = 0,			/* dropped, or added after compression */
	TS_ROLE_TIME,				/* the time column (t<n>) */
	TS_ROLE_SEGMENT,			/* a segment_by column (s<n>) */
	TS_ROLE_VALUE				/* compressed (c<n>) */
} TsColumnRole;

/* What the query side needs to know of a compressed partition */
typedef struct TsChunkInfo
{
	Oid			chunk;			/* the partition */
	Oid			blocks;			/* its block table */
	int			natts;			/* attributes of the partition */
	TimestampTz range_start;	/* its range [range_start, range_end) */
	TimestampTz range_end;
	AttrNumber	time_attno;		/* the time column of the partition */
	/* per partition attribute, index attno - 1 */
	TsColumnRole *role;
	AttrNumber *blk_attno;		/* its column in the block table (0: none) */
	TsColumnType *codec;		/* the codec its values use (TS_ROLE_VALUE/TIME) */
	Oid		   *typid;			/* its type */
	/* the block table's statistics of a value column (0: none) */
	AttrNumber *stat_nulls;		/* c<n>_nulls: NULLs in the block */
	AttrNumber *stat_min;		/* c<n>_min, c<n>_max: smallest and largest */
	AttrNumber *stat_max;		/* value (NaN counts as the largest) */
	AttrNumber *stat_sum;		/* c<n>_sum: the sum (int2, int4 and int8
								 * columns; NULL when an int8 sum overflows) */
} TsChunkInfo;

/*
 * Which blocks a scan or a decompression wants: the time bounds
 * [lo, hi] (inclusive) known from the query, and a predicate on the
 * segment_by columns alone (NULL: none), evaluated with the block's
 * segment values in segslot.
 */
typedef struct TsBlockFilter
{
	bool		empty;			/* the bounds admit no time */
	TimestampTz lo;
	TimestampTz hi;
	ExprState  *segqual;
	ExprContext *econtext;
	TupleTableSlot *segslot;	/* the partition's row type, segments only */
	/* "column <op> bound" on value columns, checked against c<n>_min/max */
	int			nvalues;
	AttrNumber *vattno;
	int		   *vstrategy;
	Datum	   *vbound;			/* NULL bound: the filter is empty */
	FmgrInfo   *vcmp;			/* the type's btree comparison */
	Oid		   *vcoll;
} TsBlockFilter;

/*
 * A block decoded into arrays, one per partition attribute that the
 * reader wants (the others stay NULL).
 */
typedef struct TsBlockData
{
	int			nrows;
	int64	   *times;			/* the time column, always decoded */
	Datum	  **values;			/* per attribute, or NULL */
	bool	  **nulls;
	Datum	   *segvalues;		/* the segment columns, per attribute */
	bool	   *segnulls;
} TsBlockData;

/* ts_compress.c */
extern TsChunkInfo *TsLookupChunk(Oid relid);
extern int	TsRelNatts(Oid relid);
extern void TsCodecSetup(void);
extern void TsDecodeBlock(TsChunkInfo *info, TupleDesc chunkdesc,
						  TupleTableSlot *blockslot, const bool *wanted,
						  TsBlockData *out);
extern void TsBlockRowToSlot(TsChunkInfo *info, TupleDesc chunkdesc,
							 TsBlockData *data, int row,
							 TupleTableSlot *slot);
extern bool TsBlockPasses(TsChunkInfo *info, TsBlockFilter *filter,
						  TupleTableSlot *blockslot);
extern int64 TsDecompressBlocks(Relation chunk, TsChunkInfo *info,
								TsBlockFilter *filter);
extern void TsCompressLockBlocks(Oid blocks);
extern bool TsCompressSettle(Relation chunk, int wait_ms);

/*
 * compression of rows as they come, into a compressed partition (COPY);
 * the rows buffered by all the compressors of one load stay under
 * TS_DIRECT_MAX_ROWS
 */
#define TS_DIRECT_MAX_ROWS 250000
typedef struct TsDirect TsDirect;
extern TsDirect *TsDirectBegin(Relation chunk, TsChunkInfo *info, int64 *buffered);
extern void TsDirectAdd(TsDirect *d, TupleTableSlot *slot);
extern void TsDirectFlushAll(TsDirect *d);
extern int64 TsDirectEnd(TsDirect *d);
extern bool TsCopyFrom(PlannedStmt *pstmt, const char *queryString,
					   QueryCompletion *qc);

/* ts_agg.c */
extern void TsAggInit(void);

/* ts_scan.c */
extern bool TsScanPreloaded(void);
extern bool TsMaybeChunk(RangeTblEntry *rte);
extern bool TsHasExecParam(Node *node, void *context);
extern int	TsClassifyClause(Expr *clause, Index varno, TsChunkInfo *info,
							 int *strategy, Expr **bound, AttrNumber *attno);
extern void TsFilterBounds(TsBlockFilter *filter, List *strategies,
						   List *boundstates, ExprContext *econtext);
extern void TsFilterValues(TsBlockFilter *filter, TsChunkInfo *info,
						   List *attnos, List *strategies, List *boundstates,
						   ExprContext *econtext);
extern bool TsHasValueStats(Oid typid);

/* what TsClassifyClause finds */
#define TS_CLAUSE_OTHER 0
#define TS_CLAUSE_TIME 1		/* time op pseudo-constant */
#define TS_CLAUSE_SEGMENT 2		/* reads segment_by columns only */
#define TS_CLAUSE_VALUE 3		/* value column op pseudo-constant */

#endif							/* NOSQL_TS_COMPRESS_H */
