/*-------------------------------------------------------------------------
 *
 * cdc_ring.c
 *	  A shared-memory ring of the newest change events the decoders logged,
 *	  so that watchers read them without a query of nosql.change_log.
 *
 * Design note
 * -----------
 * A read of the log costs a query: planning is cached, but the executor,
 * the index scan, the join with nosql.collection and the privilege checks
 * cost some 0.1 ms a read, for every watcher, for the same few new events.
 * With many watchers that is the server's work; the ring makes it a copy.
 *
 * Each decoder, once the transaction that logged a batch of events has
 * committed (so that an event is in the ring only when it is visible in
 * the log), appends the batch to the ring in token order, before it
 * publishes its "copied" position and broadcasts to the watchers.  The
 * ring is two circular arrays: fixed-size entries (the token, the
 * database OID, where the bytes are) and the bytes (the event's database
 * and collection names and the event), both evicted oldest first.
 *
 * Coverage.  The ring holds a suffix of each database's log, and which one
 * is recorded per database: "covered", the token up to which events may be
 * missing from the ring.  A decoder that starts (the first, or after a
 * crash or an exit, when the ring may lack anything) sets it to the log's
 * newest token; evicting an event raises it to that event's token; a
 * batch too large for the ring raises it to the batch's last token.  A
 * reader whose resume point is at or after covered (after it, when the
 * read includes the resume point's own event) finds every event after it
 * in the ring; any other reader reads the log.  Every state has a
 * generation: a new decoder of the database (after DROP EXTENSION and
 * CREATE EXTENSION, or a DROP DATABASE and an OID used again) starts a new
 * one, and the entries of older generations are never returned.  A
 * decoder that exits clears its state: readers then read the log.
 *
 * The horizon.  Retention deletes the oldest events of the log; a reader
 * whose resume point is before the horizon gets ChangeStreamHistoryLost
 * even when the ring still holds the events.  The ring keeps a copy of the
 * horizon per database, read by the decoder as it starts and raised by
 * retention as it moves the horizon (before its transaction commits: a
 * retention that then fails makes the ring's readers see history lost a
 * little early, never late).  The horizon table edited by hand, and events
 * inserted into or deleted from the log by hand, are seen by reads of the
 * log only; readers of positions after the current WAL position (tokens
 * that only a hand-made row can carry) read the log.
 *
 * Readers copy under the lock held shared and do everything else (the
 * privilege checks, the pipeline, the output) after releasing it.  The
 * lock is held exclusively only to append or evict, a few hundred events
 * at a time.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "port/atomics.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"

#include "bson.h"
#include "cdc.h"

/* Events appended under one hold of the lock */
#define CDC_RING_APPEND_CHUNK 256
/* The ring has one entry per this many bytes of data, at least */
#define CDC_RING_BYTES_PER_ENTRY 128

/* One event in the ring */
typedef struct CdcRingEntry
{
	uint64		pos;			/* of its bytes in the data area (grows) */
	uint32		len;			/* bytes there, MAXALIGNed */
	uint32		gen;			/* its database state's generation */
	Oid			dboid;
	uint16		db_len;			/* the event's database name */
	int16		coll_len;		/* its collection name; -1: none */
	uint32		event_len;		/* the event's BSON */
	char		token[CDC_TOKEN_LEN + 1];
} CdcRingEntry;

/* What the ring holds of one database's log */
typedef struct CdcRingDatabase
{
	Oid			dboid;			/* InvalidOid: no decoder appends */
	uint32		gen;
	char		covered[CDC_TOKEN_LEN + 1]; /* events up to it may be missing */
	char		horizon[CDC_TOKEN_LEN + 1]; /* the log's, "": none */
} CdcRingDatabase;

typedef struct CdcRingShared
{
	LWLock	   *lock;
	uint32		next_gen;
	uint64		first;			/* oldest entry's number */
	uint64		next;			/* the next entry's number */
	pg_atomic_uint64 appended;	/* next, for readers without the lock */
	uint64		tail;			/* the oldest entry's data position */
	uint64		head;			/* where the next entry's data may go */
	uint64		nentries;
	uint64		data_size;
	char	   *data;			/* this backend's address of the data area */
	CdcRingDatabase dbs[CDC_DECODERS];
	CdcRingEntry entries[FLEXIBLE_ARRAY_MEMBER];
} CdcRingShared;

/* nosql.change_stream_ring_size, kB; 0: no ring */
int			nosql_change_stream_ring_size = 16384;

/* nosql.change_stream_ring: whether reads use the ring */
bool		nosql_change_stream_ring = true;

static CdcRingShared *cdc_ring = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* The ring's data bytes and entries for the size setting */
static void
CdcRingSizes(uint64 *data_size, uint64 *nentries)
{
	*data_size = MAXALIGN_DOWN((uint64) nosql_change_stream_ring_size * 1024);
	*nentries = Max(*data_size / CDC_RING_BYTES_PER_ENTRY, 16);
}

static Size
CdcRingShmemSize(void)
{
	uint64		data_size;
	uint64		nentries;

	CdcRingSizes(&data_size, &nentries);
	return add_size(MAXALIGN(add_size(offsetof(CdcRingShared, entries),
									  mul_size(nentries, sizeof(CdcRingEntry)))),
					data_size);
}

static void
CdcRingShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	if (nosql_change_stream_ring_size == 0)
		return;
	RequestAddinShmemSpace(CdcRingShmemSize());
	RequestNamedLWLockTranche("nosql change stream ring", 1);
}

static void
CdcRingShmemStartup(void)
{
	bool		found;
	uint64		data_size;
	uint64		nentries;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	if (nosql_change_stream_ring_size == 0)
		return;
	CdcRingSizes(&data_size, &nentries);
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	cdc_ring = ShmemInitStruct("nosql change stream ring", CdcRingShmemSize(), &found);
	if (!found)
	{
		memset(cdc_ring, 0, offsetof(CdcRingShared, entries));
		cdc_ring->lock = &(GetNamedLWLockTranche("nosql change stream ring"))->lock;
		cdc_ring->nentries = nentries;
		cdc_ring->data_size = data_size;
		cdc_ring->next_gen = 1;
		pg_atomic_init_u64(&cdc_ring->appended, 0);
	}
	/* the area's address may differ per process (EXEC_BACKEND) */
	cdc_ring->data = (char *) cdc_ring +
		MAXALIGN(offsetof(CdcRingShared, entries) + nentries * sizeof(CdcRingEntry));
	LWLockRelease(AddinShmemInitLock);
}

/*
 * CdcRingInit
 *		The ring's settings, and its shared memory when preloaded.
 */
void
CdcRingInit(void)
{
	DefineCustomBoolVariable("nosql.change_stream_ring",
							 "Read change stream events from the shared ring when it holds them.",
							 "Off: every read queries nosql.change_log (the same events, at more cost).",
							 &nosql_change_stream_ring,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	/*
	 * The ring needs shared memory, so only a preloaded library has one;
	 * loaded later, PostgreSQL refuses new PGC_POSTMASTER settings (a
	 * FATAL error), so the size is defined only at preload.
	 */
	if (!process_shared_preload_libraries_in_progress)
		return;
	DefineCustomIntVariable("nosql.change_stream_ring_size",
							"Shared memory for the newest change stream events.",
							"Watchers read events from this ring instead of nosql.change_log while it holds them; 0 turns the ring off.",
							&nosql_change_stream_ring_size,
							16384,
							0,
							1024 * 1024,
							PGC_POSTMASTER,
							GUC_UNIT_KB,
							NULL, NULL, NULL);
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = CdcRingShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = CdcRingShmemStartup;
}

/* Whether reads may use the ring */
bool
CdcRingEnabled(void)
{
	return cdc_ring != NULL && nosql_change_stream_ring;
}

/* Raise a token buffer to token */
static void
CdcRingRaise(char *buf, const char *token)
{
	if (strcmp(token, buf) > 0)
		strlcpy(buf, token, CDC_TOKEN_LEN + 1);
}

/*
 * CdcRingAttach
 *		A decoder (slot: its place among the decoders) starts appending the
 *		events of its database: covered is the log's newest token (the ring
 *		may lack everything up to it), horizon the log's horizon.
 */
void
CdcRingAttach(int slot, Oid dboid, const char *covered, const char *horizon)
{
	CdcRingDatabase *d;

	if (cdc_ring == NULL)
		return;
	Assert(slot >= 0 && slot < CDC_DECODERS);
	d = &cdc_ring->dbs[slot];
	LWLockAcquire(cdc_ring->lock, LW_EXCLUSIVE);
	d->dboid = dboid;
	d->gen = cdc_ring->next_gen++;
	strlcpy(d->covered, covered, sizeof(d->covered));
	strlcpy(d->horizon, horizon, sizeof(d->horizon));
	LWLockRelease(cdc_ring->lock);
}

/*
 * CdcRingDetach
 *		The decoder of slot exits: readers of its database read the log
 *		until the next one attaches.
 */
void
CdcRingDetach(int slot)
{
	if (cdc_ring == NULL)
		return;
	LWLockAcquire(cdc_ring->lock, LW_EXCLUSIVE);
	cdc_ring->dbs[slot].dboid = InvalidOid;
	LWLockRelease(cdc_ring->lock);
}

/* The state of a database, or NULL; under the lock */
static CdcRingDatabase *
CdcRingFindDatabase(Oid dboid)
{
	for (int i = 0; i < CDC_DECODERS; i++)
		if (cdc_ring->dbs[i].dboid == dboid)
			return &cdc_ring->dbs[i];
	return NULL;
}

/*
 * CdcRingRaiseHorizon
 *		Retention moved the log's horizon of this database to token.
 */
void
CdcRingRaiseHorizon(Oid dboid, const char *token)
{
	CdcRingDatabase *d;

	if (cdc_ring == NULL)
		return;
	LWLockAcquire(cdc_ring->lock, LW_EXCLUSIVE);
	d = CdcRingFindDatabase(dboid);
	if (d != NULL)
		CdcRingRaise(d->horizon, token);
	LWLockRelease(cdc_ring->lock);
}

/* Evict the oldest entry; under the lock held exclusively */
static void
CdcRingEvict(void)
{
	CdcRingEntry *e = &cdc_ring->entries[cdc_ring->first % cdc_ring->nentries];

	Assert(cdc_ring->first < cdc_ring->next);
	for (int i = 0; i < CDC_DECODERS; i++)
	{
		CdcRingDatabase *d = &cdc_ring->dbs[i];

		if (d->dboid == e->dboid && d->gen == e->gen)
			CdcRingRaise(d->covered, e->token);
	}
	cdc_ring->first++;
	if (cdc_ring->first < cdc_ring->next)
		cdc_ring->tail = cdc_ring->entries[cdc_ring->first % cdc_ring->nentries].pos;
	else
		cdc_ring->tail = cdc_ring->head;
}

/* A record of a pending batch, as CdcRingPendingAdd lays it out */
typedef struct CdcRingRecord
{
	uint32		event_len;
	uint16		db_len;
	int16		coll_len;
	char		token[CDC_TOKEN_LEN + 1];
} CdcRingRecord;

/*
 * CdcRingPendingAdd
 *		Add an event logged in the decoder's transaction to what it appends
 *		once that commits.  A batch larger than the ring keeps its newest
 *		events only and remembers the last token it dropped.
 */
void
CdcRingPendingAdd(CdcRingPending *p, const char *token, const char *db, const char *coll,
				  const uint8_t *event, uint32 event_len)
{
	CdcRingRecord rec;
	uint64		size;

	if (cdc_ring == NULL)
		return;
	if (p->buf.data == NULL)
	{
		/* it outlives the transaction (and SPI) it is filled in */
		MemoryContext old = MemoryContextSwitchTo(p->cxt);

		initStringInfo(&p->buf);
		MemoryContextSwitchTo(old);
	}
	memset(&rec, 0, sizeof(rec));
	rec.event_len = event_len;
	rec.db_len = (uint16) Min(strlen(db), PG_UINT16_MAX);
	rec.coll_len = coll != NULL ? (int16) Min(strlen(coll), PG_INT16_MAX) : -1;
	strlcpy(rec.token, token, sizeof(rec.token));
	size = sizeof(rec) + rec.db_len + Max(rec.coll_len, 0) + event_len;
	if (p->buf.len + size > cdc_ring->data_size)
	{
		/* what is in the buffer, and maybe this one, cannot all fit */
		if (p->count > 0)
		{
			CdcRingRecord last;

			memcpy(&last, p->buf.data + p->last, sizeof(last));
			CdcRingRaise(p->missing, last.token);
		}
		resetStringInfo(&p->buf);
		p->count = 0;
		if (size > cdc_ring->data_size)
		{
			CdcRingRaise(p->missing, token);
			return;
		}
	}
	p->last = p->buf.len;
	appendBinaryStringInfo(&p->buf, (const char *) &rec, sizeof(rec));
	appendBinaryStringInfo(&p->buf, db, rec.db_len);
	if (rec.coll_len > 0)
		appendBinaryStringInfo(&p->buf, coll, rec.coll_len);
	appendBinaryStringInfo(&p->buf, (const char *) event, event_len);
	p->count++;
}

/* Append one event; under the lock held exclusively */
static void
CdcRingAppendOne(CdcRingDatabase *d, const CdcRingRecord *rec, const char *names,
				 const char *event)
{
	uint32		names_len = rec->db_len + Max(rec->coll_len, 0);
	uint64		len = MAXALIGN((uint64) names_len + rec->event_len);
	uint64		pos;
	CdcRingEntry *e;
	char	   *dst;

	for (;;)
	{
		uint64		phys = cdc_ring->head % cdc_ring->data_size;

		/* an entry's bytes do not wrap: it starts over at the area's start */
		pos = phys + len > cdc_ring->data_size ?
			cdc_ring->head + (cdc_ring->data_size - phys) : cdc_ring->head;
		if (cdc_ring->next - cdc_ring->first < cdc_ring->nentries &&
			pos + len - cdc_ring->tail <= cdc_ring->data_size)
			break;
		if (cdc_ring->first == cdc_ring->next)
		{
			/* empty: start at the area's start, where it fits */
			cdc_ring->head = cdc_ring->tail =
				(cdc_ring->head + cdc_ring->data_size - 1) / cdc_ring->data_size *
				cdc_ring->data_size;
			continue;
		}
		CdcRingEvict();
	}
	if (cdc_ring->first == cdc_ring->next)
		cdc_ring->tail = pos;
	e = &cdc_ring->entries[cdc_ring->next % cdc_ring->nentries];
	e->pos = pos;
	e->len = (uint32) len;
	e->gen = d->gen;
	e->dboid = d->dboid;
	e->db_len = rec->db_len;
	e->coll_len = rec->coll_len;
	e->event_len = rec->event_len;
	memcpy(e->token, rec->token, sizeof(e->token));
	dst = cdc_ring->data + pos % cdc_ring->data_size;
	memcpy(dst, names, names_len);
	memcpy(dst + names_len, event, rec->event_len);
	cdc_ring->head = pos + len;
	cdc_ring->next++;
}

/*
 * CdcRingPublish
 *		Append the decoder's committed batch (the decoder of slot), in
 *		token order, and empty it.
 */
void
CdcRingPublish(int slot, CdcRingPending *p)
{
	CdcRingDatabase *d;
	int			off = 0;

	if (cdc_ring == NULL)
		return;
	d = &cdc_ring->dbs[slot];
	while (off < p->buf.len || p->missing[0] != '\0')
	{
		LWLockAcquire(cdc_ring->lock, LW_EXCLUSIVE);
		if (p->missing[0] != '\0')
		{
			CdcRingRaise(d->covered, p->missing);
			p->missing[0] = '\0';
		}
		for (int n = 0; n < CDC_RING_APPEND_CHUNK && off < p->buf.len; n++)
		{
			CdcRingRecord rec;
			const char *names;

			memcpy(&rec, p->buf.data + off, sizeof(rec));
			names = p->buf.data + off + sizeof(rec);
			CdcRingAppendOne(d, &rec, names,
							 names + rec.db_len + Max(rec.coll_len, 0));
			off += sizeof(rec) + rec.db_len + Max(rec.coll_len, 0) + rec.event_len;
		}
		pg_atomic_write_u64(&cdc_ring->appended, cdc_ring->next);
		LWLockRelease(cdc_ring->lock);
	}
	if (p->buf.data != NULL)
	{
		pfree(p->buf.data);
		p->buf.data = NULL;
	}
	p->count = 0;
	p->last = 0;
}

/*
 * CdcRingRead
 *		Copy the events of database dboid after token after (from it, with
 *		inclusive) whose namespace matches db and coll (NULL: any), at most
 *		max_events of them, as CdcRingEvents into *events (in the current
 *		memory context), with the log's horizon as the ring knows it into
 *		horizon, and into version the ring's count of appended events when
 *		every event of it was looked at (0: not).  Returns false, copying nothing, when the ring may lack
 *		some of those events (or there is no ring): the caller reads the log.
 */
bool
CdcRingRead(Oid dboid, const char *after, bool inclusive, const char *db, const char *coll,
			int max_events, List **events, char *horizon, uint64 *version)
{
	CdcRingDatabase *d;
	uint64		i;
	int			n = 0;
	char		now[CDC_TOKEN_LEN + 1];

	*events = NIL;
	if (!CdcRingEnabled())
		return false;
	/* only a hand-made row of the log has a token from the future */
	CdcResumeToken(now, GetXLogInsertRecPtr(), 0);
	if (strcmp(after, now) > 0)
		return false;
	LWLockAcquire(cdc_ring->lock, LW_SHARED);
	d = CdcRingFindDatabase(dboid);
	if (d == NULL ||
		(inclusive ? strcmp(after, d->covered) <= 0 : strcmp(after, d->covered) < 0))
	{
		LWLockRelease(cdc_ring->lock);
		return false;
	}
	strlcpy(horizon, d->horizon, CDC_TOKEN_LEN + 1);

	/* the first event after the resume point: readers are mostly near the head */
	for (i = cdc_ring->next; i > cdc_ring->first; i--)
	{
		CdcRingEntry *e = &cdc_ring->entries[(i - 1) % cdc_ring->nentries];
		int			cmp;

		if (e->dboid != dboid || e->gen != d->gen)
			continue;
		cmp = strcmp(e->token, after);
		if (cmp < 0 || (cmp == 0 && !inclusive))
			break;
	}
	for (; i < cdc_ring->next && n < max_events; i++)
	{
		CdcRingEntry *e = &cdc_ring->entries[i % cdc_ring->nentries];
		const char *src = cdc_ring->data + e->pos % cdc_ring->data_size;
		CdcRingEvent *ev;
		Bson	   *event;

		if (e->dboid != dboid || e->gen != d->gen)
			continue;
		if (db != NULL && (e->db_len != strlen(db) || memcmp(src, db, e->db_len) != 0))
			continue;
		if (coll != NULL &&
			(e->coll_len < 0 || (size_t) e->coll_len != strlen(coll) ||
			 memcmp(src + e->db_len, coll, e->coll_len) != 0))
			continue;
		ev = palloc(sizeof(CdcRingEvent));
		memcpy(ev->token, e->token, sizeof(ev->token));
		ev->db = pnstrdup(src, e->db_len);
		ev->coll = e->coll_len >= 0 ? pnstrdup(src + e->db_len, e->coll_len) : NULL;
		event = palloc(VARHDRSZ + e->event_len);
		SET_VARSIZE(event, VARHDRSZ + e->event_len);
		memcpy(VARDATA(event), src + e->db_len + Max(e->coll_len, 0), e->event_len);
		ev->event = event;
		*events = lappend(*events, ev);
		n++;
	}
	/* everything appended so far was looked at, unless max_events cut it */
	*version = n < max_events ? cdc_ring->next : 0;
	LWLockRelease(cdc_ring->lock);
	return true;
}

/*
 * CdcRingVersion
 *		How many events were ever appended: a reader whose last read of the
 *		ring saw this many (CdcRingRead's version) has nothing new to read.
 *		Read without the lock; a reader that prepared to sleep on the
 *		decoders' condition variable before the check is woken by the
 *		broadcast that follows any later append.
 */
uint64
CdcRingVersion(void)
{
	return cdc_ring != NULL ? pg_atomic_read_u64(&cdc_ring->appended) : 0;
}
