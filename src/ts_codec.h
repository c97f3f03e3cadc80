/*-------------------------------------------------------------------------
 *
 * ts_codec.h
 *	  Column codecs of the compressed time-series blocks: one column of one
 *	  block (one series, up to TS_BLOCK_MAX_ROWS rows ordered by time)
 *	  becomes one self-describing byte string, and back.
 *
 * The codecs are pure C with no PostgreSQL dependency (like the Raft core):
 * they are built into the extension and, with -DFRONTEND, into the unit
 * tests and the fuzz targets.  Nothing here raises an error: encoders
 * return the number of bytes they appended (0 on failure), decoders the
 * number of rows they decoded or a negative TS_ERR_* code.
 *
 * Encoders take n values and n null flags (nulls may be NULL: no NULLs);
 * the value of a NULL position is ignored.  They append one block to a
 * TsBuffer, so several columns may share a buffer, and fill a TsStats for
 * the caller to keep next to the block.  Decoders take the block's bytes
 * and a capacity; they return exactly what was encoded (every bit of every
 * double: NaN payloads, -0.0, infinities, subnormals), set the null flags
 * (nulls may be NULL if the caller knows there are none: a block with
 * NULLs is then rejected) and store 0 at NULL positions.  A decoder reads
 * only the len bytes it was given, and rejects a truncated, corrupt or
 * trailing-garbage block; the memory it allocates is bounded by the rows
 * and by the bytes the block really decompresses to.
 *
 * Memory: the codecs allocate with the functions given to
 * ts_set_allocator() (malloc/realloc/free by default), which may return
 * NULL (the codecs then return TS_ERR_NOMEM, or 0 from an encoder).
 *
 *-------------------------------------------------------------------------
 */
#ifndef NOSQL_TS_CODEC_H
#define NOSQL_TS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most rows one block may hold */
#define TS_BLOCK_MAX_ROWS 10000

/* The most bytes the values of one text block may hold (under 1 GB) */
#define TS_TEXT_MAX_BYTES ((size_t) 0x3fffffff)

/* What a decoder returns instead of a row count */
#define TS_ERR_CORRUPT (-1)		/* malformed, truncated or trailing bytes */
#define TS_ERR_TYPE (-2)		/* a block of another column type */
#define TS_ERR_CAPACITY (-3)	/* more rows than the caller has room for */
#define TS_ERR_NOMEM (-4)		/* the allocator returned NULL */
#define TS_ERR_NULLS (-5)		/* NULLs in the block but no nulls array */

/* The column types, the low nibble of a block's first byte */
typedef enum TsColumnType
{
	TS_COL_TIMESTAMP = 1,		/* int64 microseconds (timestamptz) */
	TS_COL_FLOAT8 = 2,
	TS_COL_INT8 = 3,
	TS_COL_INT4 = 4,
	TS_COL_BOOL = 5,
	TS_COL_TEXT = 6
} TsColumnType;

/* A growable byte buffer (ts_buffer_init, then append, then ts_buffer_free) */
typedef struct TsBuffer
{
	uint8_t    *data;
	size_t		len;
	size_t		cap;
} TsBuffer;

/*
 * What an encoder learns about its block for the caller: the storage layer
 * keeps it next to the block, so that a query skips blocks by min/max and
 * answers count/min/max/sum of whole blocks without decoding them.
 *
 * Integers (timestamps, int8, int4) fill the *_int fields; bool fills them
 * with 0/1 (sum_int counts the trues); float8 fills the *_float fields,
 * min/max ignoring NaN (has_nan says there was one) and sum_float adding
 * every non-NULL value in row order (so a NaN makes it NaN).  has_minmax is
 * false when no value took part (all NULL, all NaN, or a text column).
 */
typedef struct TsStats
{
	int32_t		count;			/* rows, NULLs included */
	int32_t		null_count;
	bool		has_minmax;
	bool		has_nan;
	bool		sum_overflow;	/* sum_int wrapped around (int8 only) */
	int64_t		min_int;
	int64_t		max_int;
	int64_t		sum_int;
	double		min_float;
	double		max_float;
	double		sum_float;
} TsStats;

extern void ts_set_allocator(void *(*alloc_fn) (size_t),
							 void *(*realloc_fn) (void *, size_t),
							 void (*free_fn) (void *));

extern void ts_buffer_init(TsBuffer *buf);
extern void ts_buffer_free(TsBuffer *buf);
extern bool ts_buffer_reserve(TsBuffer *buf, size_t extra);

/* The column type and row count of a block, without decoding it */
extern int	ts_block_info(const uint8_t *buf, size_t len, TsColumnType *type);

/* A short name of a block's encoding method, for tests and EXPLAIN */
extern const char *ts_block_method(const uint8_t *buf, size_t len);

/* A message for a TS_ERR_* code */
extern const char *ts_error_message(int code);

extern size_t ts_encode_timestamp(const int64_t *values, const bool *nulls,
								  int n, TsBuffer *out, TsStats *stats);
extern size_t ts_encode_int8(const int64_t *values, const bool *nulls,
							 int n, TsBuffer *out, TsStats *stats);
extern size_t ts_encode_int4(const int32_t *values, const bool *nulls,
							 int n, TsBuffer *out, TsStats *stats);
extern size_t ts_encode_float8(const double *values, const bool *nulls,
							   int n, TsBuffer *out, TsStats *stats);
extern size_t ts_encode_bool(const bool *values, const bool *nulls,
							 int n, TsBuffer *out, TsStats *stats);
extern size_t ts_encode_text(const char *const *values,
							 const uint32_t *lengths, const bool *nulls,
							 int n, TsBuffer *out, TsStats *stats);

extern int	ts_decode_timestamp(const uint8_t *buf, size_t len,
								int64_t *values, bool *nulls, int capacity);
extern int	ts_decode_int8(const uint8_t *buf, size_t len,
						   int64_t *values, bool *nulls, int capacity);
extern int	ts_decode_int4(const uint8_t *buf, size_t len,
						   int32_t *values, bool *nulls, int capacity);
extern int	ts_decode_float8(const uint8_t *buf, size_t len,
							 double *values, bool *nulls, int capacity);
extern int	ts_decode_bool(const uint8_t *buf, size_t len,
						   bool *values, bool *nulls, int capacity);

/*
 * Text values come back as one byte string (appended to *data) and
 * capacity + 1 offsets into what was appended: value i is the bytes
 * offsets[i] .. offsets[i + 1] of data->data + (data->len before the call);
 * a NULL is empty.
 */
extern int	ts_decode_text(const uint8_t *buf, size_t len, TsBuffer *data,
						   uint32_t *offsets, bool *nulls, int capacity);

/*
 * A container: the blocks of several columns of one block row in one byte
 * string.  The byte TS_CONTAINER_MAGIC (never a column block's first
 * byte), a reserved 0 byte, the column count (uint16), a directory entry
 * per column (column number uint16, offset uint32 from the end of the
 * directory, length uint32; little-endian) and the column blocks.
 */
#define TS_CONTAINER_MAGIC 0xFF
#define TS_CONTAINER_HEADER 4
#define TS_CONTAINER_ENTRY 10

/* Bytes of the header and directory of a container of ncols columns */
extern size_t ts_container_header_size(int ncols);

/*
 * Append a container of ncols columns (numbers in attno, their blocks at
 * offset/length in data) to out; returns the bytes appended, 0 on failure.
 */
extern size_t ts_container_build(int ncols, const int *attno, const size_t *offset,
								 const size_t *length, const uint8_t *data,
								 size_t len, TsBuffer *out);

/*
 * The directory of a container whose first len bytes (at least its
 * header and directory) are buf, total bytes long: its column count, or
 * TS_ERR_CORRUPT if the header, an entry or a column's bytes do not fit.
 */
extern int	ts_container_columns(const uint8_t *buf, size_t len, size_t total);

/* Entry i of a checked directory: column number, offset from the container's start, length */
extern void ts_container_entry(const uint8_t *buf, int i, int *attno,
							   size_t *offset, size_t *length);

/* The entry of column attno: 1 and its offset/length, 0 if absent, TS_ERR_CORRUPT */
extern int	ts_container_find(const uint8_t *buf, size_t len, size_t total, int attno,
							  size_t *offset, size_t *length);

#endif							/* NOSQL_TS_CODEC_H */
