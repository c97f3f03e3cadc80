/*-------------------------------------------------------------------------
 *
 * update_internal.h
 *	  The compiled form of a MongoDB update, shared by the compiler
 *	  (update_parse.c) and the applier (update_apply.c).
 *
 * An operator update compiles to a tree of path components, as MongoDB's
 * UpdateNode tree: object nodes (children by field name, kept in MongoDB's
 * application order, plus at most one positional "$" child), array nodes
 * (children "$[]" and "$[identifier]", applied to each element they
 * select) and leaves (one operator with its operand).  A replacement
 * document compiles to no tree at all.
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_UPDATE_INTERNAL_H
#define NOSQL_UPDATE_INTERNAL_H

#include "update.h"

/* Deepest nesting of path components in an update path */
#define UPDATE_MAX_DEPTH			200

/* Largest array index an update may create (padding with nulls) */
#define UPDATE_MAX_PAD_INDEX		1500000

typedef enum UpdateOp
{
	UPDATE_OP_SET,
	UPDATE_OP_UNSET,
	UPDATE_OP_INC,
	UPDATE_OP_MUL,
	UPDATE_OP_MIN,
	UPDATE_OP_MAX,
	UPDATE_OP_RENAME,			/* at the destination */
	UPDATE_OP_RENAME_SOURCE,	/* placeholder at the source: applies nothing */
	UPDATE_OP_SET_ON_INSERT,
	UPDATE_OP_CURRENT_DATE,
	UPDATE_OP_PUSH,
	UPDATE_OP_ADD_TO_SET,
	UPDATE_OP_POP,
	UPDATE_OP_PULL,
	UPDATE_OP_PULL_ALL,
	UPDATE_OP_BIT
} UpdateOp;

/* How $pull decides that an element goes */
typedef enum UpdatePullKind
{
	UPDATE_PULL_EQUAL,			/* equal to a non-document value */
	UPDATE_PULL_OBJECT,			/* a document the filter matches */
	UPDATE_PULL_WRAPPED			/* {"": element} matches {"": condition} */
} UpdatePullKind;

/* $push's $sort */
typedef enum UpdateSortKind
{
	UPDATE_SORT_NONE,
	UPDATE_SORT_VALUE,			/* whole elements, sort_direction */
	UPDATE_SORT_PATTERN			/* {field: 1 or -1, ...} */
} UpdateSortKind;

/* One and/or/xor of $bit */
typedef struct UpdateBitOp
{
	char		op;				/* 'a', 'o' or 'x' */
	bool		is_int64;
	int64_t		operand;
} UpdateBitOp;

/* One operator applied at one path */
typedef struct UpdateLeaf
{
	UpdateOp	op;
	const char *path;			/* dotted, as written (for messages) */
	bool		dollar_path;	/* a component starts with "$" (not positional) */
	bson_value_t operand;		/* points into the update's copy */

	/* $push and $addToSet: the values, and $push's modifiers */
	int			neach;
	bson_value_t *each;
	bool		has_slice;
	int64_t		slice;
	bool		has_position;
	int64_t		position;
	UpdateSortKind sort;
	int			sort_direction; /* for UPDATE_SORT_VALUE */
	const uint8_t *sort_pattern;	/* for UPDATE_SORT_PATTERN */
	uint32_t	sort_pattern_len;

	/* $pull */
	UpdatePullKind pull_kind;
	BsonFilter *pull_filter;

	/* $bit */
	int			nbits;
	UpdateBitOp *bits;

	/* $currentDate */
	bool		timestamp;

	/* $rename: the source path */
	int			nfrom;
	char	  **from;
} UpdateLeaf;

typedef enum UpdateNodeKind
{
	UPDATE_NODE_OBJECT,
	UPDATE_NODE_ARRAY,
	UPDATE_NODE_LEAF
} UpdateNodeKind;

typedef struct UpdateNode UpdateNode;

struct UpdateNode
{
	UpdateNodeKind kind;
	const char *name;			/* the path component under the parent */
	int			filter;			/* children of array nodes: -1 for "$[]",
								 * else the index of the array filter */
	UpdateLeaf *leaf;			/* leaves */
	int			nchildren;		/* object and array nodes */
	int			maxchildren;
	UpdateNode **children;		/* object nodes: in application order */
	UpdateNode *positional;		/* object nodes: the child "$" */
};

/* One array filter: its identifier and compiled filter */
typedef struct UpdateArrayFilter
{
	char	   *identifier;
	BsonFilter *filter;
	bool		used;
} UpdateArrayFilter;

/*
 * Memory of a compiled update or of one application: palloc'd chunks
 * chained together, released at once.
 */
typedef struct UpdateArena
{
	void	   *chunks;
} UpdateArena;

/* The compiled update: BsonUpdate of update.h */
struct BsonUpdate
{
	UpdateArena arena;
	bool		is_replacement;
	bool		needs_position;
	uint8_t    *data;			/* copy of the update's bytes */
	uint32_t	len;
	UpdateNode *root;			/* operator form */
	int			nfilters;
	UpdateArrayFilter *filters;
	int			nleaves;		/* every leaf, for BsonUpdateFree */
	int			maxleaves;
	UpdateLeaf **leaves;
	const BsonCollation *collation; /* how strings compare (NULL: simple) */
};

/* update_parse.c: memory, errors and helpers shared with the applier */
extern void *UpdateAlloc(UpdateArena *arena, size_t size);
extern void UpdateArenaFree(UpdateArena *arena);
extern bool UpdateFail(BsonQueryError *error, int code, const char *format,...)
			pg_attribute_printf(3, 4);
extern bool UpdateIsNumericPart(const char *name, int64_t *index);

#endif							/* NOSQL_UPDATE_INTERNAL_H */
