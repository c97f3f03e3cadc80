/*-------------------------------------------------------------------------
 *
 * ts_codec.c
 *	  Column codecs of the compressed time-series blocks.
 *
 * Design note
 * -----------
 * A block is one column of up to TS_BLOCK_MAX_ROWS rows of one series:
 *
 *	  byte 0	  0x10 | column type (the high nibble is the format version)
 *	  byte 1	  method (bits 0-3), null mode (bits 4-5), zstd (bit 7)
 *	  varint	  n, the rows
 *	  nulls		  mode 0: none; 1: all NULL (no payload follows);
 *				  2: varint null count, varint run count, the runs (varints,
 *				  alternately non-NULL and NULL, the first non-NULL one
 *				  possibly empty); 3: varint null count and a bitmap
 *	  payload	  the m = n - nulls values, by the method; with the zstd bit,
 *				  varint raw length and one zstd frame of the payload
 *
 * Varints are unsigned LEB128; signed ones are zigzag-coded first.  The
 * zstd stage is kept only where it makes the block smaller.
 *
 * Integers of every kind go through one packer.  A sequence of m int64 is
 * turned into residuals of order 0 (the values), 1 (deltas) or 2 (deltas of
 * deltas, wrapping, so that INT64_MIN next to INT64_MAX is exact); the first
 * `order' residuals are written as varints and the others are cut into
 * chunks of 64 (TS_PACK_GROUP).  A chunk stores its minimum (the frame of
 * reference) and every value minus that minimum in the fewest bits that
 * hold the largest, packed least significant bit first; a run of at least
 * 32 equal residuals is one chunk of three bytes however long it is, and a
 * chunk is cut short where such a run begins.  Regular timestamps thus cost
 * their first value, their interval and one run: about 20 bytes a block.
 * The frame of reference beats zigzag for counters (deltas 0..1000 take 10
 * bits, not 11) and for jittered intervals.  The encoder sizes the three
 * orders without writing them and keeps the smallest.
 *
 * Simple8b (Anh & Moffat) packs a variable number of values in 64-bit words
 * with a 4-bit selector; we chose per-chunk widths instead because the
 * frame of reference needs a per-chunk base anyway, all widths up to 64
 * (and so every int64 delta) fit without escapes, and unpacking one width
 * over 64 values is a tight loop.
 *
 * float8 has five methods; the encoder sizes each and keeps the smallest:
 *
 *	- decimal: when the values are integers, or decimals of k <= 6 digits
 *	  (the double equals the decimal r / 10^k correctly rounded, exactly
 *	  what parsing the value printed with k decimals gives), the integers r
 *	  go through the packer and decode as (double) r / 10^k, which IEEE
 *	  division rounds correctly.  A few values that fit no such k (NaN,
 *	  infinities, -0.0, a stray full-precision value) are exceptions kept
 *	  as raw bits with their positions.
 *	- gorilla: the XOR scheme of Pelkonen et al. (VLDB 2015).  A value equal
 *	  to the previous one costs the bit 0; otherwise the XOR's meaningful
 *	  bits are written with control 10 inside the previous window (leading
 *	  and trailing zeros) or with control 11, 6 bits of leading zeros, 6
 *	  bits of length and a new window.  The paper reuses any window the XOR
 *	  fits, so a window only grows; we open a new one also when that saves
 *	  more bits than its 12-bit header costs.
 *	- ordered: the bit patterns mapped to unsigned integers in the order of
 *	  the values (negative patterns inverted), through the packer.  For
 *	  full-precision random walks the deltas of these integers are the
 *	  steps in units of the last place, narrower than Gorilla's XORs.
 *	- split: the same residuals zigzag-coded in chunks of 64 with a width
 *	  byte each; the top 8 bits of every value go to one stream through
 *	  zstd, whose entropy coder pays for the bell shape of the steps (a
 *	  normal step costs about log2(sigma) + 2.05 bits, bit-packing spends
 *	  about 1.5 bits more), the bits below are packed.
 *	- raw: eight bytes a value, the bound of the others.
 *
 * Booleans are runs or a bitmap, whichever is smaller; text is a dictionary
 * (the distinct values and packed indices) or the values one after the
 * other with packed lengths, then zstd where it wins.
 *
 * Decoding trusts nothing: every read is checked against the bytes left,
 * counts against the rows, widths against 64, and the payload must end
 * exactly where the block does.  Scratch memory is bounded by the rows; a
 * zstd frame is decompressed in a buffer that grows only as output really
 * comes (to the declared raw length), with a 2 MB window limit.
 *
 * IDENTIFICATION
 *	  src/ts_codec.c
 *
 *-------------------------------------------------------------------------
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "ts_codec.h"

#define TS_FORMAT_VERSION	1

/* byte 1 of a block */
#define TS_METHOD_MASK		0x0f
#define TS_NULLS_SHIFT		4
#define TS_NULLS_MASK		0x30
#define TS_ZSTD_FLAG		0x80

/* null modes */
#define TS_NULLS_NONE		0
#define TS_NULLS_ALL		1
#define TS_NULLS_RUNS		2
#define TS_NULLS_BITMAP		3

/* integer methods: the residual order */
#define TS_INT_ORDER_MAX	2

/* float8 methods */
#define TS_FLOAT_RAW		0
#define TS_FLOAT_GORILLA	1
#define TS_FLOAT_DECIMAL	2
#define TS_FLOAT_ORDERED	3
#define TS_FLOAT_SPLIT		4

/* bool methods */
#define TS_BOOL_RUNS		0
#define TS_BOOL_BITMAP		1

/* text methods */
#define TS_TEXT_PLAIN		0
#define TS_TEXT_DICT		1

/* the packer's chunks: a header byte 0..64 is the width of a full chunk */
#define TS_PACK_GROUP		64
#define TS_PACK_RUN_MIN		32
#define TS_CHUNK_SHORT		65
#define TS_CHUNK_RUN		66

/* the split form: the narrowest residuals worth it */
#define TS_SPLIT_MIN_WIDTH	24

/* decimal float8: the most decimals, and how many exceptions to tolerate */
#define TS_DECIMAL_MAX_K	6
#define TS_DECIMAL_MAX_EXC(m)	((m) / 8 + 1)

/* zstd: the level, the smallest payload worth a try, the window limit */
#define TS_ZSTD_LEVEL		3
#define TS_ZSTD_MIN_INPUT	64
#define TS_ZSTD_WINDOW_LOG_MAX	21

#define TS_MAX_VARINT		10

static const double ts_pow10[TS_DECIMAL_MAX_K + 1] = {
	1.0, 10.0, 100.0, 1000.0, 10000.0, 100000.0, 1000000.0
};

/* ----------------------------------------------------------------
 * Memory
 * ----------------------------------------------------------------
 */
static void *(*ts_alloc_fn) (size_t) = malloc;
static void *(*ts_realloc_fn) (void *, size_t) = realloc;
static void (*ts_free_fn) (void *) = free;

/*
 * Install the allocator of the codecs (NULL restores the default).
 */
void
ts_set_allocator(void *(*alloc_fn) (size_t),
				 void *(*realloc_fn) (void *, size_t),
				 void (*free_fn) (void *))
{
	ts_alloc_fn = alloc_fn ? alloc_fn : malloc;
	ts_realloc_fn = realloc_fn ? realloc_fn : realloc;
	ts_free_fn = free_fn ? free_fn : free;
}

static void *
TsAlloc(size_t size)
{
	return ts_alloc_fn(size == 0 ? 1 : size);
}

static void
TsFree(void *p)
{
	if (p != NULL)
		ts_free_fn(p);
}

/*
 * Start an empty buffer.
 */
void
ts_buffer_init(TsBuffer *buf)
{
	buf->data = NULL;
	buf->len = 0;
	buf->cap = 0;
}

/*
 * Release a buffer's memory; it is empty again.
 */
void
ts_buffer_free(TsBuffer *buf)
{
	TsFree(buf->data);
	ts_buffer_init(buf);
}

/*
 * Make room for extra more bytes (and allocate, even for none, so that
 * buf->data is not NULL); false if the allocator failed.
 */
bool
ts_buffer_reserve(TsBuffer *buf, size_t extra)
{
	size_t		need;
	size_t		cap;
	uint8_t    *p;

	if (extra > SIZE_MAX / 2 - buf->len)
		return false;
	need = buf->len + extra;
	/* an empty buffer gets memory too, so that data is never NULL */
	if (need <= buf->cap && buf->data != NULL)
		return true;
	cap = buf->cap < 64 ? 64 : buf->cap;
	while (cap < need)
		cap *= 2;
	p = buf->data == NULL ? TsAlloc(cap) : ts_realloc_fn(buf->data, cap);
	if (p == NULL)
		return false;
	buf->data = p;
	buf->cap = cap;
	return true;
}

/* ----------------------------------------------------------------
 * Bytes, varints, bits
 * ----------------------------------------------------------------
 */
static inline uint64_t
TsLoad64(const uint8_t *p)
{
	uint64_t	v;

	memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline void
TsStore64(uint8_t *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	memcpy(p, &v, 8);
}

static inline uint64_t
TsDoubleBits(double d)
{
	uint64_t	u;

	memcpy(&u, &d, 8);
	return u;
}

static inline double
TsBitsDouble(uint64_t u)
{
	double		d;

	memcpy(&d, &u, 8);
	return d;
}

static inline uint64_t
TsZigzag(uint64_t x)
{
	return (x << 1) ^ (0 - (x >> 63));
}

static inline uint64_t
TsUnzigzag(uint64_t u)
{
	return (u >> 1) ^ (0 - (u & 1));
}

/* The bits needed to hold x (0 for 0) */
static inline int
TsBitWidth(uint64_t x)
{
	return x == 0 ? 0 : 64 - __builtin_clzll(x);
}

static inline size_t
TsVarintSize(uint64_t v)
{
	size_t		n = 1;

	while (v >= 0x80)
	{
		v >>= 7;
		n++;
	}
	return n;
}

static inline uint8_t *
TsPutVarint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80)
	{
		*p++ = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t) v;
	return p;
}

/* A bounded reader over the input */
typedef struct TsReader
{
	const uint8_t *p;
	const uint8_t *end;
} TsReader;

static inline bool
TsGetByte(TsReader *rd, uint8_t *b)
{
	if (rd->p >= rd->end)
		return false;
	*b = *rd->p++;
	return true;
}

static bool
TsGetVarint(TsReader *rd, uint64_t *v)
{
	uint64_t	x = 0;

	for (int shift = 0; shift < 64; shift += 7)
	{
		uint8_t		b;

		if (!TsGetByte(rd, &b))
			return false;
		/* the tenth byte holds the 64th bit only */
		if (shift == 63 && b > 1)
			return false;
		x |= (uint64_t) (b & 0x7f) << shift;
		if ((b & 0x80) == 0)
		{
			*v = x;
			return true;
		}
	}
	return false;
}

/* A varint that must be at most max */
static bool
TsGetCount(TsReader *rd, uint64_t max, uint64_t *v)
{
	return TsGetVarint(rd, v) && *v <= max;
}

/*
 * The w bits (0..64) at bit position pos of src[0..nbytes), least
 * significant first; the caller has checked that they lie inside.
 */
static inline uint64_t
TsBitsAt(const uint8_t *src, size_t nbytes, uint64_t pos, int w)
{
	size_t		byte = pos >> 3;
	int			shift = pos & 7;
	uint64_t	word;
	uint64_t	v;

	if (w == 0)
		return 0;
	if (byte + 8 <= nbytes)
		word = TsLoad64(src + byte);
	else
	{
		word = 0;
		for (size_t i = 0; byte + i < nbytes; i++)
			word |= (uint64_t) src[byte + i] << (8 * i);
	}
	v = word >> shift;
	/* bits beyond the word's 64 come from the ninth byte */
	if (shift + w > 64)
		v |= (uint64_t) src[byte + 8] << (64 - shift);
	return w == 64 ? v : v & ((UINT64_C(1) << w) - 1);
}

/* A writer of bits, least significant first, into reserved memory */
typedef struct TsBitWriter
{
	uint8_t    *p;
	uint64_t	acc;
	int			nacc;			/* bits in acc, always below 64 */
} TsBitWriter;

static inline void
TsBitPut(TsBitWriter *bw, uint64_t v, int w)
{
	if (w == 0)
		return;
	if (w < 64)
		v &= (UINT64_C(1) << w) - 1;
	bw->acc |= v << bw->nacc;
	if (bw->nacc + w >= 64)
	{
		int			used = 64 - bw->nacc;

		TsStore64(bw->p, bw->acc);
		bw->p += 8;
		bw->acc = used < 64 ? v >> used : 0;
		bw->nacc = bw->nacc + w - 64;
	}
	else
		bw->nacc += w;
}

static inline uint8_t *
TsBitFlush(TsBitWriter *bw)
{
	while (bw->nacc > 0)
	{
		*bw->p++ = (uint8_t) bw->acc;
		bw->acc >>= 8;
		bw->nacc -= 8;
	}
	bw->nacc = 0;
	return bw->p;
}

/* A reader of bits over a bounded input */
typedef struct TsBitReader
{
	const uint8_t *p;
	size_t		nbytes;
	uint64_t	pos;
	uint64_t	nbits;
} TsBitReader;

static inline bool
TsBitGet(TsBitReader *br, int w, uint64_t *v)
{
	if ((uint64_t) w > br->nbits - br->pos)
		return false;
	*v = TsBitsAt(br->p, br->nbytes, br->pos, w);
	br->pos += w;
	return true;
}

/* ----------------------------------------------------------------
 * The packer: chunks of frame-of-reference bit-packed integers
 * ----------------------------------------------------------------
 */
typedef struct TsChunk
{
	int			kind;			/* width 0..64, TS_CHUNK_SHORT or _RUN */
	int			count;
	int			width;
	uint64_t	base;
} TsChunk;

/*
 * Plan the chunk that starts at r[i] of r[0..m).
 */
static void
TsPackPlan(const uint64_t *r, int m, int i, TsChunk *ch)
{
	int			rem = m - i;
	int			run = 1;
	int			end;
	int64_t		lo;
	int64_t		hi;

	while (run < rem && r[i + run] == r[i])
		run++;
	if (run >= TS_PACK_RUN_MIN)
	{
		ch->kind = TS_CHUNK_RUN;
		ch->count = run;
		ch->width = 0;
		ch->base = r[i];
		return;
	}

	/* a full chunk, unless a long run begins inside it */
	end = i + (rem < TS_PACK_GROUP ? rem : TS_PACK_GROUP);
	for (int j = i + run; j < end; j++)
	{
		int			k;

		if (r[j] == r[j - 1] || j + 1 >= m || r[j + 1] != r[j])
			continue;
		k = j + 1;
		while (k < m && k - j < TS_PACK_RUN_MIN && r[k] == r[j])
			k++;
		if (k - j >= TS_PACK_RUN_MIN)
		{
			end = j;
			break;
		}
	}

	lo = hi = (int64_t) r[i];
	for (int j = i + 1; j < end; j++)
	{
		int64_t		x = (int64_t) r[j];

		if (x < lo)
			lo = x;
		if (x > hi)
			hi = x;
	}
	ch->count = end - i;
	ch->width = TsBitWidth((uint64_t) hi - (uint64_t) lo);
	ch->base = (uint64_t) lo;
	ch->kind = ch->count == (rem < TS_PACK_GROUP ? rem : TS_PACK_GROUP) ?
		ch->width : TS_CHUNK_SHORT;
}

static size_t
TsChunkSize(const TsChunk *ch)
{
	size_t		size = 1 + TsVarintSize(TsZigzag(ch->base));

	if (ch->kind == TS_CHUNK_RUN)
		return size + TsVarintSize(ch->count);
	if (ch->kind == TS_CHUNK_SHORT)
		size += TsVarintSize(ch->count) + 1;
	return size + ((size_t) ch->count * ch->width + 7) / 8;
}

/*
 * The bytes TsPackWrite() will write for r[0..m).
 */
static size_t
TsPackSize(const uint64_t *r, int m)
{
	size_t		size = 0;

	for (int i = 0; i < m;)
	{
		TsChunk		ch;

		TsPackPlan(r, m, i, &ch);
		size += TsChunkSize(&ch);
		i += ch.count;
	}
	return size;
}

/*
 * Pack r[0..m) at p, which has room for TsPackSize(r, m) bytes.
 */
static uint8_t *
TsPackWrite(const uint64_t *r, int m, uint8_t *p)
{
	for (int i = 0; i < m;)
	{
		TsChunk		ch;
		TsBitWriter bw;

		TsPackPlan(r, m, i, &ch);
		if (ch.kind == TS_CHUNK_RUN)
		{
			*p++ = TS_CHUNK_RUN;
			p = TsPutVarint(p, ch.count);
			p = TsPutVarint(p, TsZigzag(ch.base));
			i += ch.count;
			continue;
		}
		*p++ = (uint8_t) ch.kind;
		if (ch.kind == TS_CHUNK_SHORT)
		{
			p = TsPutVarint(p, ch.count);
			*p++ = (uint8_t) ch.width;
		}
		p = TsPutVarint(p, TsZigzag(ch.base));
		bw.p = p;
		bw.acc = 0;
		bw.nacc = 0;
		for (int j = 0; j < ch.count; j++)
			TsBitPut(&bw, r[i + j] - ch.base, ch.width);
		p = TsBitFlush(&bw);
		i += ch.count;
	}
	return p;
}

/*
 * Unpack count values of width w (1..64) plus base from src[0..nbytes).
 */
static void
TsBitUnpack(const uint8_t *src, size_t nbytes, int count, int w,
			uint64_t base, uint64_t *out)
{
	uint64_t	pos = 0;
	int			k = 0;

	if (w <= 56)
	{
		uint64_t	mask = (UINT64_C(1) << w) - 1;

		/* while a whole word can be loaded: no bounds logic per value */
		for (; k < count && (pos >> 3) + 8 <= nbytes; k++, pos += w)
			out[k] = base + ((TsLoad64(src + (pos >> 3)) >> (pos & 7)) & mask);
	}
	for (; k < count; k++, pos += w)
		out[k] = base + TsBitsAt(src, nbytes, pos, w);
}

/*
 * Read m packed values into out; false if the input is malformed.
 */
static bool
TsPackRead(TsReader *rd, uint64_t *out, int m)
{
	int			i = 0;

	while (i < m)
	{
		uint8_t		h;
		uint64_t	count;
		uint64_t	base;
		int			w;
		size_t		nbytes;

		if (!TsGetByte(rd, &h))
			return false;
		if (h == TS_CHUNK_RUN)
		{
			if (!TsGetCount(rd, m - i, &count) || count == 0 ||
				!TsGetVarint(rd, &base))
				return false;
			base = TsUnzigzag(base);
			for (uint64_t j = 0; j < count; j++)
				out[i + j] = base;
			i += (int) count;
			continue;
		}
		if (h == TS_CHUNK_SHORT)
		{
			uint8_t		wb;

			if (!TsGetCount(rd, m - i, &count) || count == 0 ||
				!TsGetByte(rd, &wb) || wb > 64)
				return false;
			w = wb;
		}
		else if (h <= 64)
		{
			count = m - i < TS_PACK_GROUP ? m - i : TS_PACK_GROUP;
			w = h;
		}
		else
			return false;
		if (!TsGetVarint(rd, &base))
			return false;
		base = TsUnzigzag(base);
		nbytes = ((size_t) count * w + 7) / 8;
		if (nbytes > (size_t) (rd->end - rd->p))
			return false;
		if (w == 0)
		{
			for (uint64_t j = 0; j < count; j++)
				out[i + j] = base;
		}
		else
			TsBitUnpack(rd->p, nbytes, (int) count, w, base, out + i);
		rd->p += nbytes;
		i += (int) count;
	}
	return true;
}

/* ----------------------------------------------------------------
 * Integer sequences: residuals of order 0, 1 or 2, then the packer
 * ----------------------------------------------------------------
 */

/*
 * The residuals of x[0..m) of the given order, into r[0..m).
 */
static void
TsResiduals(const uint64_t *x, int m, int order, uint64_t *r)
{
	if (order == 0 || m == 0)
	{
		memcpy(r, x, sizeof(uint64_t) * m);
		return;
	}
	r[0] = x[0];
	if (order == 1)
	{
		for (int i = 1; i < m; i++)
			r[i] = x[i] - x[i - 1];
		return;
	}
	if (m > 1)
		r[1] = x[1] - x[0];
	for (int i = 2; i < m; i++)
		r[i] = (x[i] - x[i - 1]) - (x[i - 1] - x[i - 2]);
}

static int
TsHeads(int order, int m)
{
	return order < m ? order : m;
}

/* The bytes of the sequence of residuals r[0..m) of the given order */
static size_t
TsSeqSize(const uint64_t *r, int m, int order)
{
	int			heads = TsHeads(order, m);
	size_t		size = 0;

	for (int i = 0; i < heads; i++)
		size += TsVarintSize(TsZigzag(r[i]));
	return size + TsPackSize(r + heads, m - heads);
}

static uint8_t *
TsSeqWrite(const uint64_t *r, int m, int order, uint8_t *p)
{
	int			heads = TsHeads(order, m);

	for (int i = 0; i < heads; i++)
		p = TsPutVarint(p, TsZigzag(r[i]));
	return TsPackWrite(r + heads, m - heads, p);
}

/*
 * Turn residuals of the given order in x[0..m) back into values, in place.
 */
static void
TsIntegrate(uint64_t *x, int m, int order)
{
	if (order == 1)
	{
		for (int i = 1; i < m; i++)
			x[i] += x[i - 1];
	}
	else if (order == 2 && m > 1)
	{
		uint64_t	d = x[1];

		x[1] += x[0];
		for (int i = 2; i < m; i++)
		{
			d += x[i];
			x[i] = x[i - 1] + d;
		}
	}
}

/*
 * Read the heads of a sequence of m values of the given order into x.
 */
static bool
TsHeadsRead(TsReader *rd, int m, int order, uint64_t *x)
{
	int			heads = TsHeads(order, m);

	for (int i = 0; i < heads; i++)
	{
		if (!TsGetVarint(rd, &x[i]))
			return false;
		x[i] = TsUnzigzag(x[i]);
	}
	return true;
}

/*
 * Read a sequence of m values of the given order into x.
 */
static bool
TsSeqRead(TsReader *rd, int m, int order, uint64_t *x)
{
	int			heads = TsHeads(order, m);

	if (!TsHeadsRead(rd, m, order, x) ||
		!TsPackRead(rd, x + heads, m - heads))
		return false;
	TsIntegrate(x, m, order);
	return true;
}

/*
 * The order whose sequence of x[0..m) is smallest, and its size; r is
 * scratch of m values and holds that order's residuals on return.
 */
static int
TsSeqBest(const uint64_t *x, int m, uint64_t *r, size_t *size)
{
	int			best = 0;
	size_t		best_size = SIZE_MAX;

	for (int order = 0; order <= TS_INT_ORDER_MAX; order++)
	{
		size_t		s;

		TsResiduals(x, m, order, r);
		s = TsSeqSize(r, m, order);
		if (s < best_size)
		{
			best = order;
			best_size = s;
		}
	}
	if (best != TS_INT_ORDER_MAX)
		TsResiduals(x, m, best, r);
	*size = best_size;
	return best;
}

/* ----------------------------------------------------------------
 * zstd
 * ----------------------------------------------------------------
 */
static ZSTD_CCtx *ts_zstd_cctx = NULL;
static ZSTD_DCtx *ts_zstd_dctx = NULL;

/*
 * Compress src into dst (of dstcap bytes); 0 if it failed or did not fit.
 * The contexts are kept for the process's life (zstd allocates them with
 * malloc).
 */
static size_t
TsZstdCompress(const uint8_t *src, size_t srclen, uint8_t *dst, size_t dstcap)
{
	size_t		ret;

	if (ts_zstd_cctx == NULL && (ts_zstd_cctx = ZSTD_createCCtx()) == NULL)
		return 0;
	ret = ZSTD_compressCCtx(ts_zstd_cctx, dst, dstcap, src, srclen,
							TS_ZSTD_LEVEL);
	return ZSTD_isError(ret) ? 0 : ret;
}

/*
 * Decompress the one frame src[0..srclen) that must hold exactly rawlen
 * bytes, into *out (allocated; the caller frees it).  The buffer grows as
 * output comes, so a corrupt raw length allocates nothing much.
 */
static int
TsZstdDecompress(const uint8_t *src, size_t srclen, size_t rawlen,
				 uint8_t **out)
{
	size_t		cap = rawlen < 65536 ? rawlen + 1 : 65536;
	uint8_t    *buf;
	ZSTD_inBuffer in = {src, srclen, 0};
	ZSTD_outBuffer ob;

	*out = NULL;
	if (ts_zstd_dctx == NULL)
	{
		if ((ts_zstd_dctx = ZSTD_createDCtx()) == NULL)
			return TS_ERR_NOMEM;
		ZSTD_DCtx_setParameter(ts_zstd_dctx, ZSTD_d_windowLogMax,
							   TS_ZSTD_WINDOW_LOG_MAX);
	}
	ZSTD_DCtx_reset(ts_zstd_dctx, ZSTD_reset_session_only);
	if ((buf = TsAlloc(cap)) == NULL)
		return TS_ERR_NOMEM;
	ob.dst = buf;
	ob.size = cap;
	ob.pos = 0;
	for (;;)
	{
		size_t		in_before = in.pos;
		size_t		out_before = ob.pos;
		size_t		ret = ZSTD_decompressStream(ts_zstd_dctx, &ob, &in);

		if (ZSTD_isError(ret))
			break;
		if (ret == 0)
		{
			/* the frame is complete: it must be all of the input */
			if (in.pos != in.size || ob.pos != rawlen)
				break;
			*out = buf;
			return 0;
		}
		if (ob.pos == ob.size)
		{
			uint8_t    *p;

			/* one byte past the declared length shows it is a lie */
			if (ob.size > rawlen)
				break;
			cap = ob.size * 2 > rawlen ? rawlen + 1 : ob.size * 2;
			if ((p = ts_realloc_fn(buf, cap)) == NULL)
			{
				TsFree(buf);
				return TS_ERR_NOMEM;
			}
			buf = p;
			ob.dst = buf;
			ob.size = cap;
		}
		else if (in.pos == in_before && ob.pos == out_before)
			break;				/* truncated */
	}
	TsFree(buf);
	return TS_ERR_CORRUPT;
}

/* ----------------------------------------------------------------
 * The split form of wide residuals
 * ----------------------------------------------------------------
 */

/*
 * Write residuals r[0..m) of the given order in the split form at dst
 * (room for 10 * m + 64 bytes): the order, the heads, then the others
 * zigzag-coded in chunks of TS_PACK_GROUP, each with the width of its
 * largest (one byte a chunk); the top 8 bits of every value (all of a
 * value narrower than 8 bits) form one stream, through zstd where that
 * wins, so that zstd's entropy coder pays for the bell shape of the
 * residuals, which bit-packing cannot; the bits below are packed, chunk by
 * chunk.  Returns the size, or 0 when the residuals are too narrow for
 * the form to be worth it.
 */
static size_t
TsSplitWrite(const uint64_t *r, int m, int order, uint8_t *dst)
{
	int			heads = TsHeads(order, m);
	int			cnt = m - heads;
	int			nchunks = (cnt + TS_PACK_GROUP - 1) / TS_PACK_GROUP;
	uint8_t    *p = dst;
	uint8_t    *widths;
	uint8_t    *top;
	uint8_t    *z;
	size_t		zcap;
	size_t		zlen;
	int			maxw = 0;

	if (cnt < TS_PACK_GROUP)
		return 0;
	zcap = ZSTD_compressBound(cnt);
	if ((top = TsAlloc(cnt + zcap + nchunks)) == NULL)
		return 0;
	z = top + cnt;
	widths = z + zcap;
	for (int c = 0; c < nchunks; c++)
	{
		int			start = heads + c * TS_PACK_GROUP;
		int			end = start + TS_PACK_GROUP < m ? start + TS_PACK_GROUP : m;
		uint64_t	acc = 0;
		int			low;

		for (int i = start; i < end; i++)
			acc |= TsZigzag(r[i]);
		widths[c] = (uint8_t) TsBitWidth(acc);
		if (widths[c] > maxw)
			maxw = widths[c];
		low = widths[c] > 8 ? widths[c] - 8 : 0;
		for (int i = start; i < end; i++)
			top[i - heads] = (uint8_t) (TsZigzag(r[i]) >> low);
	}
	if (maxw < TS_SPLIT_MIN_WIDTH)
	{
		TsFree(top);
		return 0;
	}
	zlen = TsZstdCompress(top, cnt, z, zcap);

	*p++ = (uint8_t) order;
	for (int i = 0; i < heads; i++)
		p = TsPutVarint(p, TsZigzag(r[i]));
	memcpy(p, widths, nchunks);
	p += nchunks;
	if (zlen > 0 && zlen < (size_t) cnt)
	{
		p = TsPutVarint(p, zlen);
		memcpy(p, z, zlen);
		p += zlen;
	}
	else
	{
		p = TsPutVarint(p, 0);
		memcpy(p, top, cnt);
		p += cnt;
	}
	for (int c = 0; c < nchunks; c++)
	{
		int			start = heads + c * TS_PACK_GROUP;
		int			end = start + TS_PACK_GROUP < m ? start + TS_PACK_GROUP : m;
		int			low = widths[c] > 8 ? widths[c] - 8 : 0;
		TsBitWriter bw = {p, 0, 0};

		for (int i = start; i < end; i++)
			TsBitPut(&bw, TsZigzag(r[i]), low);
		p = TsBitFlush(&bw);
	}
	TsFree(top);
	return p - dst;
}

/*
 * Read m values in the split form into x.
 */
static int
TsSplitRead(TsReader *rd, int m, uint64_t *x)
{
	uint8_t		order;
	uint64_t	zlen;
	uint8_t    *owned = NULL;
	const uint8_t *top;
	const uint8_t *widths;
	int			heads;
	int			cnt;
	int			nchunks;

	if (!TsGetByte(rd, &order) || order > TS_INT_ORDER_MAX ||
		!TsHeadsRead(rd, m, order, x))
		return TS_ERR_CORRUPT;
	heads = TsHeads(order, m);
	cnt = m - heads;
	nchunks = (cnt + TS_PACK_GROUP - 1) / TS_PACK_GROUP;
	if (cnt == 0 || rd->end - rd->p < nchunks)
		return TS_ERR_CORRUPT;
	widths = rd->p;
	rd->p += nchunks;
	if (!TsGetVarint(rd, &zlen) || zlen > (uint64_t) (rd->end - rd->p))
		return TS_ERR_CORRUPT;
	if (zlen == 0)
	{
		if ((size_t) (rd->end - rd->p) < (size_t) cnt)
			return TS_ERR_CORRUPT;
		top = rd->p;
		rd->p += cnt;
	}
	else
	{
		int			rc = TsZstdDecompress(rd->p, zlen, cnt, &owned);

		if (rc < 0)
			return rc;
		top = owned;
		rd->p += zlen;
	}
	for (int c = 0; c < nchunks; c++)
	{
		int			start = heads + c * TS_PACK_GROUP;
		int			count = (m - start < TS_PACK_GROUP ? m - start : TS_PACK_GROUP);
		int			low;
		size_t		nbytes;

		if (widths[c] > 64)
		{
			TsFree(owned);
			return TS_ERR_CORRUPT;
		}
		low = widths[c] > 8 ? widths[c] - 8 : 0;
		nbytes = ((size_t) count * low + 7) / 8;
		if (nbytes > (size_t) (rd->end - rd->p))
		{
			TsFree(owned);
			return TS_ERR_CORRUPT;
		}
		if (low > 0)
			TsBitUnpack(rd->p, nbytes, count, low, 0, x + start);
		else
			memset(x + start, 0, sizeof(uint64_t) * count);
		for (int i = start; i < start + count; i++)
			x[i] = TsUnzigzag(((uint64_t) top[i - heads] << low) | x[i]);
		rd->p += nbytes;
	}
	TsFree(owned);
	TsIntegrate(x, m, order);
	return 0;
}

/* ----------------------------------------------------------------
 * Blocks: header, NULLs, payload
 * ----------------------------------------------------------------
 */

/* The NULL section of nulls[0..n) with nnull NULLs: mode and bytes */
static int
TsNullMode(const bool *nulls, int n, int nnull, size_t *size)
{
	size_t		runs_size = 0;
	size_t		bitmap_size;
	uint64_t	nruns = 0;
	bool		cur = false;
	uint64_t	len = 0;

	*size = 0;
	if (nnull == 0)
		return TS_NULLS_NONE;
	if (nnull == n)
		return TS_NULLS_ALL;
	for (int i = 0; i < n; i++)
	{
		if (nulls[i] != cur)
		{
			runs_size += TsVarintSize(len);
			nruns++;
			cur = nulls[i];
			len = 0;
		}
		len++;
	}
	runs_size += TsVarintSize(len) + TsVarintSize(nruns + 1);
	bitmap_size = ((size_t) n + 7) / 8;
	if (runs_size <= bitmap_size)
	{
		*size = TsVarintSize(nnull) + runs_size;
		return TS_NULLS_RUNS;
	}
	*size = TsVarintSize(nnull) + bitmap_size;
	return TS_NULLS_BITMAP;
}

static uint8_t *
TsNullWrite(const bool *nulls, int n, int nnull, int mode, uint8_t *p)
{
	if (mode == TS_NULLS_RUNS)
	{
		uint64_t	nruns = 1;
		bool		cur = false;
		uint64_t	len = 0;

		for (int i = 1; i < n; i++)
			if (nulls[i] != nulls[i - 1])
				nruns++;
		if (nulls[0])
			nruns++;			/* an empty first non-NULL run */
		p = TsPutVarint(p, nnull);
		p = TsPutVarint(p, nruns);
		for (int i = 0; i < n; i++)
		{
			if (nulls[i] != cur)
			{
				p = TsPutVarint(p, len);
				cur = nulls[i];
				len = 0;
			}
			len++;
		}
		p = TsPutVarint(p, len);
	}
	else if (mode == TS_NULLS_BITMAP)
	{
		p = TsPutVarint(p, nnull);
		memset(p, 0, ((size_t) n + 7) / 8);
		for (int i = 0; i < n; i++)
			if (nulls[i])
				p[i >> 3] |= 1 << (i & 7);
		p += ((size_t) n + 7) / 8;
	}
	return p;
}

/*
 * Append a block: header, NULLs and payload[0..plen), through zstd where
 * that is smaller and allowed.  Returns the bytes appended, 0 on failure.
 */
static size_t
TsFinishBlock(TsBuffer *out, TsColumnType type, int method,
			  const bool *nulls, int n, int nnull,
			  const uint8_t *payload, size_t plen, bool try_zstd)
{
	size_t		nsize;
	int			mode = TsNullMode(nulls, n, nnull, &nsize);
	size_t		start = out->len;
	size_t		zcap = 0;
	size_t		zlen = 0;
	uint8_t    *p;
	uint8_t    *hdr;

	if (try_zstd && plen >= TS_ZSTD_MIN_INPUT)
		zcap = ZSTD_compressBound(plen);
	if (!ts_buffer_reserve(out, 2 + TS_MAX_VARINT + nsize + TS_MAX_VARINT +
						   (zcap > plen ? zcap : plen)))
		return 0;
	hdr = out->data + start;
	p = hdr + 2;
	hdr[0] = (TS_FORMAT_VERSION << 4) | type;
	hdr[1] = method | (mode << TS_NULLS_SHIFT);
	p = TsPutVarint(p, n);
	p = TsNullWrite(nulls, n, nnull, mode, p);
	if (zcap > 0)
	{
		uint8_t    *z = p + TsVarintSize(plen);

		zlen = TsZstdCompress(payload, plen, z, zcap);
		if (zlen > 0 && zlen + TsVarintSize(plen) < plen)
		{
			hdr[1] |= TS_ZSTD_FLAG;
			p = TsPutVarint(p, plen);
			p += zlen;
			out->len = p - out->data;
			return out->len - start;
		}
	}
	if (plen > 0)
		memcpy(p, payload, plen);
	p += plen;
	out->len = p - out->data;
	return out->len - start;
}

/* An opened block */
typedef struct TsBlock
{
	int			method;
	int			n;
	int			nnull;
	TsReader	rd;				/* over the payload */
	uint8_t    *owned;			/* a decompressed payload */
} TsBlock;

/*
 * Parse a block's header and NULLs (into nulls), and find its payload.
 * The caller frees blk->owned.
 */
static int
TsOpenBlock(const uint8_t *buf, size_t len, TsColumnType type,
			bool *nulls, int capacity, TsBlock *blk)
{
	TsReader	rd = {buf, buf + len};
	uint8_t		b0;
	uint8_t		b1;
	uint64_t	n;
	uint64_t	nnull = 0;
	int			mode;

	blk->owned = NULL;
	if (buf == NULL || !TsGetByte(&rd, &b0) || !TsGetByte(&rd, &b1) ||
		(b0 >> 4) != TS_FORMAT_VERSION)
		return TS_ERR_CORRUPT;
	if ((b0 & 0x0f) != type)
		return TS_ERR_TYPE;
	if (!TsGetCount(&rd, TS_BLOCK_MAX_ROWS, &n))
		return TS_ERR_CORRUPT;
	if (n > (uint64_t) (capacity < 0 ? 0 : capacity))
		return TS_ERR_CAPACITY;
	blk->method = b1 & TS_METHOD_MASK;
	blk->n = (int) n;
	mode = (b1 & TS_NULLS_MASK) >> TS_NULLS_SHIFT;
	if (b1 & 0x40)
		return TS_ERR_CORRUPT;
	if (mode != TS_NULLS_NONE && nulls == NULL)
		return TS_ERR_NULLS;
	if (mode == TS_NULLS_NONE)
	{
		if (nulls != NULL && n > 0)
			memset(nulls, 0, n);
	}
	else if (mode == TS_NULLS_ALL)
	{
		if (n == 0)
			return TS_ERR_CORRUPT;
		memset(nulls, 1, n);
		nnull = n;
	}
	else if (mode == TS_NULLS_RUNS)
	{
		uint64_t	nruns;
		uint64_t	pos = 0;
		uint64_t	seen = 0;

		if (!TsGetCount(&rd, n, &nnull) || nnull == 0 || nnull == n ||
			!TsGetCount(&rd, n + 1, &nruns) || nruns < 2)
			return TS_ERR_CORRUPT;
		for (uint64_t r = 0; r < nruns; r++)
		{
			uint64_t	rl;

			if (!TsGetCount(&rd, n - pos, &rl) || (rl == 0 && r > 0))
				return TS_ERR_CORRUPT;
			memset(nulls + pos, (r & 1) != 0, rl);
			if (r & 1)
				seen += rl;
			pos += rl;
		}
		if (pos != n || seen != nnull)
			return TS_ERR_CORRUPT;
	}
	else
	{
		size_t		nbytes = ((size_t) n + 7) / 8;
		uint64_t	seen = 0;

		if (!TsGetCount(&rd, n, &nnull) || nnull == 0 || nnull == n ||
			nbytes > (size_t) (rd.end - rd.p))
			return TS_ERR_CORRUPT;
		for (uint64_t i = 0; i < n; i++)
		{
			nulls[i] = (rd.p[i >> 3] >> (i & 7)) & 1;
			seen += nulls[i];
		}
		/* the bits past n are zero */
		if ((n & 7) != 0 && (rd.p[nbytes - 1] >> (n & 7)) != 0)
			return TS_ERR_CORRUPT;
		if (seen != nnull)
			return TS_ERR_CORRUPT;
		rd.p += nbytes;
	}
	blk->nnull = (int) nnull;

	if (b1 & TS_ZSTD_FLAG)
	{
		uint64_t	rawlen;
		int			rc;

		/* the payload of n values is bounded by type */
		if (mode == TS_NULLS_ALL ||
			!TsGetCount(&rd, type == TS_COL_TEXT ? TS_TEXT_MAX_BYTES :
						64 + 24 * n, &rawlen) ||
			rawlen == 0 || rd.p >= rd.end)
			return TS_ERR_CORRUPT;
		rc = TsZstdDecompress(rd.p, rd.end - rd.p, rawlen, &blk->owned);
		if (rc < 0)
			return rc;
		rd.p = blk->owned;
		rd.end = blk->owned + rawlen;
	}
	else if (mode == TS_NULLS_ALL && rd.p != rd.end)
		return TS_ERR_CORRUPT;
	blk->rd = rd;
	return 0;
}

/*
 * Spread m compact 8-byte values over the n rows of which the NULL ones
 * get zero, in place (from the end, so nothing is overwritten too early).
 */
static void
TsScatter64(uint64_t *v, const bool *nulls, int n, int m)
{
	int			j = m - 1;

	if (m == n)
		return;
	for (int i = n - 1; i >= 0; i--)
		v[i] = nulls[i] ? 0 : v[j--];
}

/*
 * Gather the non-NULL values of v[0..n) into dst; returns their count.
 */
static int
TsGather64(const uint64_t *v, const bool *nulls, int n, uint64_t *dst)
{
	int			m = 0;

	for (int i = 0; i < n; i++)
		if (nulls == NULL || !nulls[i])
			dst[m++] = v[i];
	return m;
}

static void
TsStatsInit(TsStats *stats, int n)
{
	memset(stats, 0, sizeof(TsStats));
	stats->count = n;
}

static bool
TsCheckArgs(int n, TsBuffer *out)
{
	return n >= 0 && n <= TS_BLOCK_MAX_ROWS && out != NULL;
}

/* ----------------------------------------------------------------
 * Integer columns: timestamps, int8, int4
 * ----------------------------------------------------------------
 */

/*
 * Encode n int64 (the NULL ones ignored) as a block of the given type.
 */
static size_t
TsEncodeInt64(TsColumnType type, const int64_t *values, const bool *nulls,
			  int n, TsBuffer *out, TsStats *stats)
{
	uint64_t   *x;
	uint64_t   *r;
	uint8_t    *payload;
	int			m;
	int			order = 0;
	size_t		size = 0;
	size_t		result;
	TsStats		st;

	if (!TsCheckArgs(n, out) || (n > 0 && values == NULL))
		return 0;
	x = TsAlloc(sizeof(uint64_t) * n * 2);
	if (x == NULL)
		return 0;
	r = x + n;
	m = TsGather64((const uint64_t *) values, nulls, n, x);

	TsStatsInit(&st, n);
	st.null_count = n - m;
	for (int i = 0; i < m; i++)
	{
		int64_t		v = (int64_t) x[i];

		if (i == 0 || v < st.min_int)
			st.min_int = v;
		if (i == 0 || v > st.max_int)
			st.max_int = v;
		if (!st.sum_overflow &&
			__builtin_add_overflow(st.sum_int, v, &st.sum_int))
			st.sum_overflow = true;
	}
	st.has_minmax = m > 0;
	if (st.sum_overflow)
		st.sum_int = 0;

	if (m > 0)
		order = TsSeqBest(x, m, r, &size);
	payload = TsAlloc(size);
	if (payload == NULL)
	{
		TsFree(x);
		return 0;
	}
	if (m > 0)
		TsSeqWrite(r, m, order, payload);
	result = TsFinishBlock(out, type, order, nulls, n, n - m, payload, size,
						   true);
	TsFree(payload);
	TsFree(x);
	if (result > 0 && stats != NULL)
		*stats = st;
	return result;
}

/*
 * Decode an integer block into values (int64).
 */
static int
TsDecodeInt64(TsColumnType type, const uint8_t *buf, size_t len,
			  int64_t *values, bool *nulls, int capacity)
{
	TsBlock		blk;
	int			rc;
	int			m;

	rc = TsOpenBlock(buf, len, type, nulls, capacity, &blk);
	if (rc < 0)
		return rc;
	m = blk.n - blk.nnull;
	rc = TS_ERR_CORRUPT;
	if (blk.method <= TS_INT_ORDER_MAX &&
		TsSeqRead(&blk.rd, m, blk.method, (uint64_t *) values) &&
		blk.rd.p == blk.rd.end)
	{
		if (m < blk.n)
			TsScatter64((uint64_t *) values, nulls, blk.n, m);
		rc = blk.n;
	}
	TsFree(blk.owned);
	return rc;
}

/*
 * Encode a block of timestamps (int64 microseconds, in any order).
 */
size_t
ts_encode_timestamp(const int64_t *values, const bool *nulls, int n,
					TsBuffer *out, TsStats *stats)
{
	return TsEncodeInt64(TS_COL_TIMESTAMP, values, nulls, n, out, stats);
}

/*
 * Encode a block of int8.
 */
size_t
ts_encode_int8(const int64_t *values, const bool *nulls, int n,
			   TsBuffer *out, TsStats *stats)
{
	return TsEncodeInt64(TS_COL_INT8, values, nulls, n, out, stats);
}

/*
 * Encode a block of int4 (widened to int64: the sums cannot overflow).
 */
size_t
ts_encode_int4(const int32_t *values, const bool *nulls, int n,
			   TsBuffer *out, TsStats *stats)
{
	int64_t    *wide;
	size_t		result;

	if (!TsCheckArgs(n, out) || (n > 0 && values == NULL))
		return 0;
	if ((wide = TsAlloc(sizeof(int64_t) * n)) == NULL)
		return 0;
	for (int i = 0; i < n; i++)
		wide[i] = values[i];
	result = TsEncodeInt64(TS_COL_INT4, wide, nulls, n, out, stats);
	TsFree(wide);
	return result;
}

/*
 * Decode a block of timestamps.
 */
int
ts_decode_timestamp(const uint8_t *buf, size_t len, int64_t *values,
					bool *nulls, int capacity)
{
	return TsDecodeInt64(TS_COL_TIMESTAMP, buf, len, values, nulls, capacity);
}

/*
 * Decode a block of int8.
 */
int
ts_decode_int8(const uint8_t *buf, size_t len, int64_t *values,
			   bool *nulls, int capacity)
{
	return TsDecodeInt64(TS_COL_INT8, buf, len, values, nulls, capacity);
}

/*
 * Decode a block of int4; a value outside int4 is corruption.
 */
int
ts_decode_int4(const uint8_t *buf, size_t len, int32_t *values,
			   bool *nulls, int capacity)
{
	int64_t    *wide;
	int			rc;
	int			n;

	rc = ts_block_info(buf, len, NULL);
	if (rc < 0)
		return rc;
	n = rc < capacity ? rc : (capacity < 0 ? 0 : capacity);
	if ((wide = TsAlloc(sizeof(int64_t) * n)) == NULL)
		return TS_ERR_NOMEM;
	rc = TsDecodeInt64(TS_COL_INT4, buf, len, wide, nulls, n);
	for (int i = 0; i < rc; i++)
	{
		if (wide[i] < INT32_MIN || wide[i] > INT32_MAX)
		{
			rc = TS_ERR_CORRUPT;
			break;
		}
		values[i] = (int32_t) wide[i];
	}
	TsFree(wide);
	return rc;
}

/* ----------------------------------------------------------------
 * float8
 * ----------------------------------------------------------------
 */

/*
 * Write the Gorilla stream of bits[0..m) (m >= 1) at p, which has room
 * for 10 * m + 16 bytes.
 */
static uint8_t *
TsGorillaWrite(const uint64_t *bits, int m, uint8_t *p)
{
	TsBitWriter bw = {p, 0, 0};
	uint64_t	prev = bits[0];
	int			win_lead = -1;	/* no window yet */
	int			win_len = 0;

	TsBitPut(&bw, prev, 64);
	for (int i = 1; i < m; i++)
	{
		uint64_t	x = bits[i] ^ prev;
		int			lead;
		int			trail;
		int			len;

		prev = bits[i];
		if (x == 0)
		{
			TsBitPut(&bw, 0, 1);
			continue;
		}
		lead = __builtin_clzll(x);
		trail = __builtin_ctzll(x);
		len = 64 - lead - trail;
		/*
		 * Reuse the window the XOR fits in, unless a fresh, tight one saves
		 * more than its 12 header bits.
		 */
		if (win_lead >= 0 && lead >= win_lead &&
			trail >= 64 - win_lead - win_len && win_len - len <= 12)
		{
			TsBitPut(&bw, 1, 2);	/* control bits 1, 0 */
			TsBitPut(&bw, x >> (64 - win_lead - win_len), win_len);
			continue;
		}
		TsBitPut(&bw, 3, 2);	/* control bits 1, 1 */
		TsBitPut(&bw, lead, 6);
		TsBitPut(&bw, len - 1, 6);
		TsBitPut(&bw, x >> trail, len);
		win_lead = lead;
		win_len = len;
	}
	return TsBitFlush(&bw);
}

static bool
TsGorillaRead(TsReader *rd, int m, double *out)
{
	TsBitReader br;
	uint64_t	prev;
	int			win_lead = -1;
	int			win_len = 0;

	br.p = rd->p;
	br.nbytes = rd->end - rd->p;
	br.pos = 0;
	br.nbits = (uint64_t) br.nbytes * 8;
	if (!TsBitGet(&br, 64, &prev))
		return false;
	out[0] = TsBitsDouble(prev);
	for (int i = 1; i < m; i++)
	{
		uint64_t	c;
		uint64_t	x;

		if (!TsBitGet(&br, 1, &c))
			return false;
		if (c == 0)
		{
			out[i] = TsBitsDouble(prev);
			continue;
		}
		if (!TsBitGet(&br, 1, &c))
			return false;
		if (c == 1)
		{
			uint64_t	lead;
			uint64_t	len;

			if (!TsBitGet(&br, 6, &lead) || !TsBitGet(&br, 6, &len))
				return false;
			len++;
			if (lead + len > 64)
				return false;
			win_lead = (int) lead;
			win_len = (int) len;
		}
		else if (win_lead < 0)
			return false;
		if (!TsBitGet(&br, win_len, &x))
			return false;
		prev ^= x << (64 - win_lead - win_len);
		out[i] = TsBitsDouble(prev);
	}
	/* the stream ends in its last byte */
	if ((br.pos + 7) / 8 != br.nbytes)
		return false;
	rd->p = rd->end;
	return true;
}

/*
 * Whether the double with bit pattern bits is exactly the decimal r / 10^k
 * for some integer r (found in *r), as decoding computes it.
 */
static inline bool
TsDecimalFits(uint64_t bits, int k, int64_t *r)
{
	double		v = TsBitsDouble(bits);

	if (k == 0)
	{
		if (!(v >= -0x1p63 && v < 0x1p63))
			return false;
		*r = (int64_t) v;
		return TsDoubleBits((double) *r) == bits;
	}
	else
	{
		double		s = v * ts_pow10[k];

		if (!(fabs(s) < 0x1p53))
			return false;
		*r = (int64_t) (s < 0 ? s - 0.5 : s + 0.5);
		return TsDoubleBits((double) *r / ts_pow10[k]) == bits;
	}
}

/*
 * Find the fewest decimals k for which all but a few of bits[0..m) are
 * decimals; false if there is none.
 */
static bool
TsDecimalScale(const uint64_t *bits, int m, int *kp)
{
	int			k = 0;
	int			nexc = 0;
	int64_t		r;

	for (int i = 0; i < m; i++)
	{
		int			j = k;

		while (j <= TS_DECIMAL_MAX_K && !TsDecimalFits(bits[i], j, &r))
			j++;
		if (j > TS_DECIMAL_MAX_K)
		{
			if (++nexc > TS_DECIMAL_MAX_EXC(m))
				return false;
		}
		else
			k = j;
	}
	*kp = k;
	return true;
}

/*
 * The integers of bits[0..m) at scale k into x (an exception repeats the
 * integer before it), and the exceptions' positions into exc; returns the
 * number of exceptions.
 */
static int
TsDecimalInts(const uint64_t *bits, int m, int k, uint64_t *x, int *exc)
{
	int			nexc = 0;
	int64_t		last = 0;

	for (int i = 0; i < m; i++)
	{
		int64_t		r;

		if (TsDecimalFits(bits[i], k, &r))
			last = r;
		else
			exc[nexc++] = i;
		x[i] = (uint64_t) last;
	}
	return nexc;
}

/* The order-preserving map of double bit patterns to unsigned integers */
static inline uint64_t
TsOrderedFromBits(uint64_t b)
{
	return (b >> 63) ? ~b : b ^ (UINT64_C(1) << 63);
}

static inline uint64_t
TsBitsFromOrdered(uint64_t u)
{
	return (u >> 63) ? u ^ (UINT64_C(1) << 63) : ~u;
}

/*
 * Encode a block of float8.
 */
size_t
ts_encode_float8(const double *values, const bool *nulls, int n,
				 TsBuffer *out, TsStats *stats)
{
	uint64_t   *bits;
	uint64_t   *x;
	uint64_t   *r;
	int		   *exc = NULL;
	uint8_t    *payload = NULL;
	uint8_t    *split = NULL;
	size_t		split_size;
	int			m;
	int			method = TS_FLOAT_RAW;
	size_t		size;
	size_t		result = 0;
	int			k = 0;
	int			nexc = 0;
	int			dec_order = 0;
	size_t		dec_size = SIZE_MAX;
	int			ord_order;
	size_t		ord_size;
	size_t		gor_size;
	TsStats		st;

	if (!TsCheckArgs(n, out) || (n > 0 && values == NULL))
		return 0;
	bits = TsAlloc(sizeof(uint64_t) * n * 3);
	if (bits == NULL)
		return 0;
	x = bits + n;
	r = x + n;
	m = 0;
	for (int i = 0; i < n; i++)
		if (nulls == NULL || !nulls[i])
			bits[m++] = TsDoubleBits(values[i]);

	TsStatsInit(&st, n);
	st.null_count = n - m;
	for (int i = 0; i < m; i++)
	{
		double		v = TsBitsDouble(bits[i]);

		st.sum_float += v;
		if (isnan(v))
			st.has_nan = true;
		else if (!st.has_minmax)
		{
			st.min_float = st.max_float = v;
			st.has_minmax = true;
		}
		else
		{
			if (v < st.min_float)
				st.min_float = v;
			if (v > st.max_float)
				st.max_float = v;
		}
	}

	if (m == 0)
	{
		result = TsFinishBlock(out, TS_COL_FLOAT8, TS_FLOAT_RAW, nulls, n, n,
							   NULL, 0, false);
		goto done;
	}

	/* Gorilla, written at once into the payload buffer */
	payload = TsAlloc(10 * (size_t) m + 16 + 8 * (size_t) m);
	if (payload == NULL)
		goto done;
	gor_size = TsGorillaWrite(bits, m, payload) - payload;
	method = TS_FLOAT_GORILLA;
	size = gor_size;
	if (8 * (size_t) m <= size)
	{
		method = TS_FLOAT_RAW;
		size = 8 * (size_t) m;
	}

	/* decimals: scale, exceptions, integers */
	if (TsDecimalScale(bits, m, &k))
	{
		exc = TsAlloc(sizeof(int) * m);
		if (exc == NULL)
			goto done;
		nexc = TsDecimalInts(bits, m, k, x, exc);
		dec_order = TsSeqBest(x, m, r, &dec_size);
		dec_size += 1 + TsVarintSize(nexc) + 8 * (size_t) nexc;
		for (int i = 0; i < nexc; i++)
			dec_size += TsVarintSize(exc[i] - (i > 0 ? exc[i - 1] : 0));
		if (dec_size <= size)
		{
			method = TS_FLOAT_DECIMAL;
			size = dec_size;
		}
	}

	/* ordered bit patterns */
	for (int i = 0; i < m; i++)
		x[i] = TsOrderedFromBits(bits[i]);
	ord_order = TsSeqBest(x, m, r, &ord_size);
	ord_size += 1;
	if (ord_size < size)
	{
		method = TS_FLOAT_ORDERED;
		size = ord_size;
	}

	/* the same residuals, split */
	if ((split = TsAlloc(10 * (size_t) m + 64)) == NULL)
		goto done;
	split_size = TsSplitWrite(r, m, ord_order, split);
	if (split_size > 0 && split_size < size)
	{
		method = TS_FLOAT_SPLIT;
		size = split_size;
	}

	if (method == TS_FLOAT_RAW)
	{
		for (int i = 0; i < m; i++)
			TsStore64(payload + 8 * i, bits[i]);
	}
	else if (method == TS_FLOAT_ORDERED)
	{
		/* r holds the residuals of the ordered patterns */
		payload[0] = (uint8_t) ord_order;
		TsSeqWrite(r, m, ord_order, payload + 1);
	}
	else if (method == TS_FLOAT_DECIMAL)
	{
		uint8_t    *p = payload;

		TsDecimalInts(bits, m, k, x, exc);
		TsResiduals(x, m, dec_order, r);
		*p++ = (uint8_t) (k | (dec_order << 4));
		p = TsPutVarint(p, nexc);
		for (int i = 0; i < nexc; i++)
		{
			p = TsPutVarint(p, exc[i] - (i > 0 ? exc[i - 1] : 0));
			TsStore64(p, bits[exc[i]]);
			p += 8;
		}
		p = TsSeqWrite(r, m, dec_order, p);
	}
	result = TsFinishBlock(out, TS_COL_FLOAT8, method, nulls, n, n - m,
						   method == TS_FLOAT_SPLIT ? split : payload, size,
						   method == TS_FLOAT_DECIMAL || method == TS_FLOAT_RAW);

done:
	TsFree(split);
	TsFree(exc);
	TsFree(payload);
	TsFree(bits);
	if (result > 0 && stats != NULL)
		*stats = st;
	return result;
}

/*
 * Decode m integers of a decimal payload and turn them into doubles.
 */
static bool
TsDecimalRead(TsReader *rd, int m, double *out)
{
	uint8_t		b;
	int			k;
	int			order;
	uint64_t	nexc;
	uint64_t   *x;
	const uint8_t *exc_start;
	bool		ok;

	if (!TsGetByte(rd, &b))
		return false;
	k = b & 0x0f;
	order = b >> 4;
	if (k > TS_DECIMAL_MAX_K || order > TS_INT_ORDER_MAX ||
		!TsGetCount(rd, m, &nexc))
		return false;
	/* skip the exceptions now, patch them in after the integers */
	exc_start = rd->p;
	for (uint64_t i = 0; i < nexc; i++)
	{
		uint64_t	gap;

		if (!TsGetVarint(rd, &gap) || rd->end - rd->p < 8)
			return false;
		rd->p += 8;
	}
	if ((x = TsAlloc(sizeof(uint64_t) * m)) == NULL)
		return false;
	ok = TsSeqRead(rd, m, order, x);
	if (ok && k == 0)
	{
		for (int i = 0; i < m; i++)
			out[i] = (double) (int64_t) x[i];
	}
	else if (ok)
	{
		double		p10 = ts_pow10[k];

		for (int i = 0; i < m; i++)
			out[i] = (double) (int64_t) x[i] / p10;
	}
	TsFree(x);
	if (ok)
	{
		TsReader	er = {exc_start, rd->p};
		uint64_t	pos = 0;

		for (uint64_t i = 0; i < nexc; i++)
		{
			uint64_t	gap;

			TsGetVarint(&er, &gap);
			if (gap >= (uint64_t) m - pos || (i > 0 && gap == 0))
				return false;
			pos += gap;
			out[pos] = TsBitsDouble(TsLoad64(er.p));
			er.p += 8;
		}
	}
	return ok;
}

/*
 * Decode a block of float8.
 */
int
ts_decode_float8(const uint8_t *buf, size_t len, double *values,
				 bool *nulls, int capacity)
{
	TsBlock		blk;
	int			rc;
	int			m;
	bool		ok = false;

	rc = TsOpenBlock(buf, len, TS_COL_FLOAT8, nulls, capacity, &blk);
	if (rc < 0)
		return rc;
	m = blk.n - blk.nnull;
	if (m == 0)
		ok = blk.rd.p == blk.rd.end;
	else if (blk.method == TS_FLOAT_RAW)
	{
		if ((size_t) (blk.rd.end - blk.rd.p) == 8 * (size_t) m)
		{
			for (int i = 0; i < m; i++)
				values[i] = TsBitsDouble(TsLoad64(blk.rd.p + 8 * i));
			blk.rd.p = blk.rd.end;
			ok = true;
		}
	}
	else if (blk.method == TS_FLOAT_GORILLA)
		ok = TsGorillaRead(&blk.rd, m, values);
	else if (blk.method == TS_FLOAT_DECIMAL)
		ok = TsDecimalRead(&blk.rd, m, values);
	else if (blk.method == TS_FLOAT_ORDERED)
	{
		uint8_t		order;

		if (TsGetByte(&blk.rd, &order) && order <= TS_INT_ORDER_MAX)
		{
			uint64_t   *x = TsAlloc(sizeof(uint64_t) * m);

			if (x == NULL)
			{
				TsFree(blk.owned);
				return TS_ERR_NOMEM;
			}
			ok = TsSeqRead(&blk.rd, m, order, x);
			for (int i = 0; ok && i < m; i++)
				values[i] = TsBitsDouble(TsBitsFromOrdered(x[i]));
			TsFree(x);
		}
	}
	else if (blk.method == TS_FLOAT_SPLIT)
	{
		uint64_t   *x = TsAlloc(sizeof(uint64_t) * m);

		rc = x == NULL ? TS_ERR_NOMEM : TsSplitRead(&blk.rd, m, x);
		if (rc == TS_ERR_NOMEM)
		{
			TsFree(x);
			TsFree(blk.owned);
			return rc;
		}
		ok = rc == 0;
		for (int i = 0; ok && i < m; i++)
			values[i] = TsBitsDouble(TsBitsFromOrdered(x[i]));
		TsFree(x);
	}
	rc = TS_ERR_CORRUPT;
	if (ok && blk.rd.p == blk.rd.end)
	{
		if (m < blk.n)
		{
			int			j = m - 1;

			for (int i = blk.n - 1; i >= 0; i--)
				values[i] = nulls[i] ? 0.0 : values[j--];
		}
		rc = blk.n;
	}
	TsFree(blk.owned);
	return rc;
}

/* ----------------------------------------------------------------
 * bool
 * ----------------------------------------------------------------
 */

/*
 * Encode a block of booleans: runs (first value, run count, run lengths)
 * or a bitmap, whichever is smaller.
 */
size_t
ts_encode_bool(const bool *values, const bool *nulls, int n,
			   TsBuffer *out, TsStats *stats)
{
	uint8_t    *payload;
	uint8_t    *p;
	bool	   *v;
	int			m = 0;
	uint64_t	nruns = 0;
	size_t		runs_size;
	size_t		bitmap_size;
	size_t		result;
	int			method;
	TsStats		st;

	if (!TsCheckArgs(n, out) || (n > 0 && values == NULL))
		return 0;
	if ((v = TsAlloc(n)) == NULL)
		return 0;
	TsStatsInit(&st, n);
	for (int i = 0; i < n; i++)
		if (nulls == NULL || !nulls[i])
			v[m++] = values[i];
	st.null_count = n - m;
	st.has_minmax = m > 0;
	st.min_int = 1;
	for (int i = 0; i < m; i++)
	{
		st.sum_int += v[i];
		if (v[i] < st.min_int)
			st.min_int = v[i];
		if (v[i] > st.max_int)
			st.max_int = v[i];
	}
	if (m == 0)
		st.min_int = 0;

	runs_size = m > 0 ? 1 : 0;
	for (int i = 0, start = 0; i < m; i++)
	{
		if (i + 1 == m || v[i + 1] != v[i])
		{
			runs_size += TsVarintSize(i + 1 - start);
			nruns++;
			start = i + 1;
		}
	}
	runs_size += m > 0 ? TsVarintSize(nruns) : 0;
	bitmap_size = ((size_t) m + 7) / 8;
	method = runs_size <= bitmap_size ? TS_BOOL_RUNS : TS_BOOL_BITMAP;
	if ((payload = TsAlloc(runs_size + bitmap_size)) == NULL)
	{
		TsFree(v);
		return 0;
	}
	p = payload;
	if (m > 0 && method == TS_BOOL_RUNS)
	{
		*p++ = v[0];
		p = TsPutVarint(p, nruns);
		for (int i = 0, start = 0; i < m; i++)
		{
			if (i + 1 == m || v[i + 1] != v[i])
			{
				p = TsPutVarint(p, i + 1 - start);
				start = i + 1;
			}
		}
	}
	else if (m > 0)
	{
		memset(p, 0, bitmap_size);
		for (int i = 0; i < m; i++)
			if (v[i])
				p[i >> 3] |= 1 << (i & 7);
		p += bitmap_size;
	}
	result = TsFinishBlock(out, TS_COL_BOOL, method, nulls, n, n - m,
						   payload, p - payload, false);
	TsFree(payload);
	TsFree(v);
	if (result > 0 && stats != NULL)
		*stats = st;
	return result;
}

/*
 * Decode a block of booleans.
 */
int
ts_decode_bool(const uint8_t *buf, size_t len, bool *values, bool *nulls,
			   int capacity)
{
	TsBlock		blk;
	TsReader   *rd = &blk.rd;
	int			rc;
	int			m;
	bool		ok = false;

	rc = TsOpenBlock(buf, len, TS_COL_BOOL, nulls, capacity, &blk);
	if (rc < 0)
		return rc;
	m = blk.n - blk.nnull;
	if (m == 0)
		ok = true;
	else if (blk.method == TS_BOOL_RUNS)
	{
		uint8_t		first;
		uint64_t	nruns;
		uint64_t	pos = 0;

		if (TsGetByte(rd, &first) && first <= 1 &&
			TsGetCount(rd, m, &nruns) && nruns > 0)
		{
			ok = true;
			for (uint64_t r = 0; ok && r < nruns; r++)
			{
				uint64_t	rl;

				if (!TsGetCount(rd, m - pos, &rl) || rl == 0)
					ok = false;
				else
				{
					memset(values + pos, first ^ (r & 1), rl);
					pos += rl;
				}
			}
			ok = ok && pos == (uint64_t) m;
		}
	}
	else if (blk.method == TS_BOOL_BITMAP)
	{
		size_t		nbytes = ((size_t) m + 7) / 8;

		if ((size_t) (rd->end - rd->p) == nbytes &&
			((m & 7) == 0 || (rd->p[nbytes - 1] >> (m & 7)) == 0))
		{
			for (int i = 0; i < m; i++)
				values[i] = (rd->p[i >> 3] >> (i & 7)) & 1;
			rd->p += nbytes;
			ok = true;
		}
	}
	rc = TS_ERR_CORRUPT;
	if (ok && rd->p == rd->end)
	{
		if (m < blk.n)
		{
			int			j = m - 1;

			for (int i = blk.n - 1; i >= 0; i--)
				values[i] = nulls[i] ? false : values[j--];
		}
		rc = blk.n;
	}
	TsFree(blk.owned);
	return rc;
}

/* ----------------------------------------------------------------
 * text
 * ----------------------------------------------------------------
 */

static uint64_t
TsHashBytes(const char *s, uint32_t len)
{
	uint64_t	h = UINT64_C(0xcbf29ce484222325);

	for (uint32_t i = 0; i < len; i++)
		h = (h ^ (uint8_t) s[i]) * UINT64_C(0x100000001b3);
	return h ^ (h >> 29);
}

/*
 * Encode a block of text values (lengths[i] bytes at values[i]): a
 * dictionary when values repeat, else plain, then zstd where it wins.
 */
size_t
ts_encode_text(const char *const *values, const uint32_t *lengths,
			   const bool *nulls, int n, TsBuffer *out, TsStats *stats)
{
	int		   *rows;			/* the non-NULL rows */
	int		   *table = NULL;
	int		   *dict = NULL;	/* a row of each distinct value */
	uint64_t   *idx = NULL;
	uint64_t   *lens = NULL;
	uint8_t    *payload = NULL;
	uint8_t    *p;
	int			m = 0;
	int			ndict = 0;
	size_t		total = 0;
	size_t		dict_bytes = 0;
	size_t		plain_size;
	size_t		dict_size = SIZE_MAX;
	size_t		tsize;
	size_t		result = 0;
	TsStats		st;

	if (!TsCheckArgs(n, out) || (n > 0 && (values == NULL || lengths == NULL)))
		return 0;
	if ((rows = TsAlloc(sizeof(int) * n)) == NULL)
		return 0;
	for (int i = 0; i < n; i++)
		if (nulls == NULL || !nulls[i])
		{
			rows[m++] = i;
			total += lengths[i];
		}
	TsStatsInit(&st, n);
	st.null_count = n - m;
	if (total > TS_TEXT_MAX_BYTES)
		goto done;

	/* the distinct values, through an open-addressing hash table */
	tsize = 16;
	while (tsize < 2 * (size_t) m)
		tsize *= 2;
	table = TsAlloc(sizeof(int) * tsize);
	dict = TsAlloc(sizeof(int) * (m + 1));
	idx = TsAlloc(sizeof(uint64_t) * (m + 1));
	lens = TsAlloc(sizeof(uint64_t) * (m + 1));
	if (table == NULL || dict == NULL || idx == NULL || lens == NULL)
		goto done;
	memset(table, -1, sizeof(int) * tsize);
	for (int j = 0; j < m; j++)
	{
		int			row = rows[j];
		size_t		h = TsHashBytes(values[row], lengths[row]) & (tsize - 1);

		for (;;)
		{
			int			d = table[h];

			if (d < 0)
			{
				table[h] = ndict;
				dict[ndict] = row;
				dict_bytes += lengths[row];
				idx[j] = ndict++;
				break;
			}
			if (lengths[dict[d]] == lengths[row] &&
				(lengths[row] == 0 ||
				 memcmp(values[dict[d]], values[row], lengths[row]) == 0))
			{
				idx[j] = d;
				break;
			}
			h = (h + 1) & (tsize - 1);
		}
	}

	/* plain: the lengths, then the bytes */
	for (int j = 0; j < m; j++)
		lens[j] = lengths[rows[j]];
	plain_size = TsPackSize(lens, m) + total;
	if (ndict < m)
	{
		uint64_t   *dlens = lens + 0;	/* reused below for the dictionary */

		dict_size = TsVarintSize(ndict) + TsPackSize(idx, m) + dict_bytes;
		for (int d = 0; d < ndict; d++)
			dlens[d] = lengths[dict[d]];
		dict_size += TsPackSize(dlens, ndict);
	}
	payload = TsAlloc(plain_size < dict_size ? plain_size : dict_size);
	if (payload == NULL)
		goto done;
	p = payload;
	if (dict_size < plain_size)
	{
		/* lens holds the dictionary's lengths */
		p = TsPutVarint(p, ndict);
		p = TsPackWrite(lens, ndict, p);
		for (int d = 0; d < ndict; d++)
		{
			if (lengths[dict[d]] > 0)
				memcpy(p, values[dict[d]], lengths[dict[d]]);
			p += lengths[dict[d]];
		}
		p = TsPackWrite(idx, m, p);
		result = TsFinishBlock(out, TS_COL_TEXT, TS_TEXT_DICT, nulls, n,
							   n - m, payload, p - payload, true);
	}
	else
	{
		for (int j = 0; j < m; j++)
			lens[j] = lengths[rows[j]];
		p = TsPackWrite(lens, m, p);
		for (int j = 0; j < m; j++)
		{
			if (lengths[rows[j]] > 0)
				memcpy(p, values[rows[j]], lengths[rows[j]]);
			p += lengths[rows[j]];
		}
		result = TsFinishBlock(out, TS_COL_TEXT, TS_TEXT_PLAIN, nulls, n,
							   n - m, payload, p - payload, true);
	}

done:
	TsFree(payload);
	TsFree(lens);
	TsFree(idx);
	TsFree(dict);
	TsFree(table);
	TsFree(rows);
	if (result > 0 && stats != NULL)
		*stats = st;
	return result;
}

/*
 * Decode a block of text.
 */
int
ts_decode_text(const uint8_t *buf, size_t len, TsBuffer *data,
			   uint32_t *offsets, bool *nulls, int capacity)
{
	TsBlock		blk;
	TsReader   *rd = &blk.rd;
	uint64_t   *lens = NULL;
	uint64_t   *idx = NULL;
	const uint8_t *bytes = NULL;
	uint64_t	ndict = 0;
	uint64_t	total = 0;
	uint64_t	src_total = 0;
	size_t		base;
	uint8_t    *dst;
	int			rc;
	int			m;
	int			j = 0;
	uint32_t	off = 0;

	rc = TsOpenBlock(buf, len, TS_COL_TEXT, nulls, capacity, &blk);
	if (rc < 0)
		return rc;
	m = blk.n - blk.nnull;
	rc = TS_ERR_CORRUPT;
	if (m > 0)
	{
		if (blk.method == TS_TEXT_DICT)
		{
			if (!TsGetCount(rd, m, &ndict) || ndict == 0)
				goto done;
		}
		else if (blk.method == TS_TEXT_PLAIN)
			ndict = m;
		else
			goto done;
		lens = TsAlloc(sizeof(uint64_t) * ndict);
		if (lens == NULL)
		{
			rc = TS_ERR_NOMEM;
			goto done;
		}
		if (!TsPackRead(rd, lens, (int) ndict))
			goto done;
		for (uint64_t d = 0; d < ndict; d++)
		{
			if (lens[d] > (uint64_t) (rd->end - rd->p) - src_total)
				goto done;
			src_total += lens[d];
		}
		bytes = rd->p;
		rd->p += src_total;
		if (blk.method == TS_TEXT_DICT)
		{
			idx = TsAlloc(sizeof(uint64_t) * m);
			if (idx == NULL)
			{
				rc = TS_ERR_NOMEM;
				goto done;
			}
			if (!TsPackRead(rd, idx, m))
				goto done;
			for (int i = 0; i < m; i++)
			{
				if (idx[i] >= ndict)
					goto done;
				total += lens[idx[i]];
				if (total > TS_TEXT_MAX_BYTES)
					goto done;
			}
		}
		else
			total = src_total;
	}
	if (rd->p != rd->end)
		goto done;

	/* the dictionary's offsets, in place of its lengths */
	for (uint64_t d = 0, o = 0; d < ndict; d++)
	{
		uint64_t	l = lens[d];

		lens[d] = o;
		o += l;
	}
	if (!ts_buffer_reserve(data, total))
	{
		rc = TS_ERR_NOMEM;
		goto done;
	}
	base = data->len;
	dst = data->data + base;
	offsets[0] = 0;
	for (int i = 0; i < blk.n; i++)
	{
		if (blk.nnull == 0 || !nulls[i])
		{
			uint64_t	d = idx != NULL ? idx[j] : (uint64_t) j;
			uint64_t	start = lens[d];
			uint64_t	l = (d + 1 < ndict ? lens[d + 1] : src_total) - start;

			if (l > 0)
				memcpy(dst + off, bytes + start, l);
			off += (uint32_t) l;
			j++;
		}
		offsets[i + 1] = off;
	}
	data->len = base + total;
	rc = blk.n;

done:
	TsFree(idx);
	TsFree(lens);
	TsFree(blk.owned);
	return rc;
}

/* ----------------------------------------------------------------
 * Information
 * ----------------------------------------------------------------
 */

/*
 * The row count of a block (and its column type into *type, if not NULL),
 * or a negative TS_ERR_* code.
 */
int
ts_block_info(const uint8_t *buf, size_t len, TsColumnType *type)
{
	TsReader	rd = {buf, buf + len};
	uint8_t		b0;
	uint8_t		b1;
	uint64_t	n;

	if (buf == NULL || !TsGetByte(&rd, &b0) || !TsGetByte(&rd, &b1) ||
		(b0 >> 4) != TS_FORMAT_VERSION ||
		(b0 & 0x0f) < TS_COL_TIMESTAMP || (b0 & 0x0f) > TS_COL_TEXT ||
		!TsGetCount(&rd, TS_BLOCK_MAX_ROWS, &n))
		return TS_ERR_CORRUPT;
	if (type != NULL)
		*type = (TsColumnType) (b0 & 0x0f);
	return (int) n;
}

/*
 * The name of a block's method ("delta2", "gorilla", "decimal+zstd", ...).
 */
const char *
ts_block_method(const uint8_t *buf, size_t len)
{
	static const char *const int_names[2][3] = {
		{"raw", "delta", "delta2"}, {"raw+zstd", "delta+zstd", "delta2+zstd"}
	};
	static const char *const float_names[2][5] = {
		{"raw", "gorilla", "decimal", "ordered", "split"},
		{"raw+zstd", "gorilla+zstd", "decimal+zstd", "ordered+zstd",
		"split+zstd"}
	};
	static const char *const bool_names[2][2] = {
		{"runs", "bitmap"}, {"runs+zstd", "bitmap+zstd"}
	};
	static const char *const text_names[2][2] = {
		{"plain", "dictionary"}, {"plain+zstd", "dictionary+zstd"}
	};
	TsColumnType type;
	int			method;
	int			z;

	if (ts_block_info(buf, len, &type) < 0)
		return "invalid";
	method = buf[1] & TS_METHOD_MASK;
	z = (buf[1] & TS_ZSTD_FLAG) != 0;
	switch (type)
	{
		case TS_COL_TIMESTAMP:
		case TS_COL_INT8:
		case TS_COL_INT4:
			return method <= 2 ? int_names[z][method] : "invalid";
		case TS_COL_FLOAT8:
			return method <= 4 ? float_names[z][method] : "invalid";
		case TS_COL_BOOL:
			return method <= 1 ? bool_names[z][method] : "invalid";
		case TS_COL_TEXT:
			return method <= 1 ? text_names[z][method] : "invalid";
	}
	return "invalid";
}

/*
 * A message for a TS_ERR_* code.
 */
const char *
ts_error_message(int code)
{
	switch (code)
	{
		case TS_ERR_CORRUPT:
			return "the block is corrupt or truncated";
		case TS_ERR_TYPE:
			return "the block holds another column type";
		case TS_ERR_CAPACITY:
			return "the block holds more rows than there is room for";
		case TS_ERR_NOMEM:
			return "out of memory";
		case TS_ERR_NULLS:
			return "the block holds NULLs but no null flags were given";
	}
	return code >= 0 ? "no error" : "unknown error";
}

/* ----------------------------------------------------------------
 * Containers of the columns of one block row
 * ----------------------------------------------------------------
 */

static void
TsPut16(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xFF;
	p[1] = (v >> 8) & 0xFF;
}

static void
TsPut32(uint8_t *p, uint32_t v)
{
	TsPut16(p, v & 0xFFFF);
	TsPut16(p + 2, v >> 16);
}

static uint32_t
TsGet16(const uint8_t *p)
{
	return (uint32_t) p[0] | ((uint32_t) p[1] << 8);
}

static uint32_t
TsGet32(const uint8_t *p)
{
	return TsGet16(p) | (TsGet16(p + 2) << 16);
}

size_t
ts_container_header_size(int ncols)
{
	return TS_CONTAINER_HEADER + (size_t) ncols * TS_CONTAINER_ENTRY;
}

size_t
ts_container_build(int ncols, const int *attno, const size_t *offset,
				   const size_t *length, const uint8_t *data, size_t len,
				   TsBuffer *out)
{
	size_t		header = ts_container_header_size(ncols);
	uint8_t    *p;

	if (ncols < 0 || ncols > 0xFFFF || len > UINT32_MAX || out == NULL ||
		(len > 0 && data == NULL))
		return 0;
	for (int i = 0; i < ncols; i++)
		if (attno[i] < 0 || attno[i] > 0xFFFF || offset[i] > len || length[i] > len - offset[i])
			return 0;
	if (!ts_buffer_reserve(out, header + len))
		return 0;
	p = out->data + out->len;
	p[0] = TS_CONTAINER_MAGIC;
	p[1] = 0;
	TsPut16(p + 2, (uint32_t) ncols);
	for (int i = 0; i < ncols; i++)
	{
		uint8_t    *e = p + TS_CONTAINER_HEADER + i * TS_CONTAINER_ENTRY;

		TsPut16(e, (uint32_t) attno[i]);
		TsPut32(e + 2, (uint32_t) offset[i]);
		TsPut32(e + 6, (uint32_t) length[i]);
	}
	if (len > 0)
		memcpy(p + header, data, len);
	out->len += header + len;
	return header + len;
}

int
ts_container_columns(const uint8_t *buf, size_t len, size_t total)
{
	int			ncols;
	size_t		header;

	if (buf == NULL || len < TS_CONTAINER_HEADER || len > total ||
		buf[0] != TS_CONTAINER_MAGIC || buf[1] != 0)
		return TS_ERR_CORRUPT;
	ncols = (int) TsGet16(buf + 2);
	header = ts_container_header_size(ncols);
	if (len < header)
		return TS_ERR_CORRUPT;
	for (int i = 0; i < ncols; i++)
	{
		const uint8_t *e = buf + TS_CONTAINER_HEADER + i * TS_CONTAINER_ENTRY;
		size_t		off = TsGet32(e + 2);
		size_t		l = TsGet32(e + 6);

		if (off > total - header || l > total - header - off)
			return TS_ERR_CORRUPT;
	}
	return ncols;
}

void
ts_container_entry(const uint8_t *buf, int i, int *attno, size_t *offset, size_t *length)
{
	const uint8_t *e = buf + TS_CONTAINER_HEADER + i * TS_CONTAINER_ENTRY;

	*attno = (int) TsGet16(e);
	*offset = ts_container_header_size((int) TsGet16(buf + 2)) + TsGet32(e + 2);
	*length = TsGet32(e + 6);
}

int
ts_container_find(const uint8_t *buf, size_t len, size_t total, int attno,
				  size_t *offset, size_t *length)
{
	int			ncols = ts_container_columns(buf, len, total);

	if (ncols < 0)
		return ncols;
	for (int i = 0; i < ncols; i++)
	{
		int			a;

		ts_container_entry(buf, i, &a, offset, length);
		if (a == attno)
			return 1;
	}
	return 0;
}
