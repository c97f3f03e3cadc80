/*-------------------------------------------------------------------------
 *
 * bson_path.c
 *	  Finding a member of a BSON document or array by name or index.
 *
 * libbson's iterator decodes and checks every element it passes, which
 * made doc->'field' slower than jsonb's binary search.  Here elements are
 * skipped by their type's size alone, keys compared in place, and only the
 * member found is handed to libbson: an iterator positioned on it with
 * bson_iter_init_from_data_at_offset, which checks that element.  Every
 * length read is bounds-checked against the container, so even corrupt
 * bytes cannot make it read outside them.
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include "bson_path.h"

/*
 * Little-endian int32 at p, as an unsigned length.
 */
static inline uint32_t
BsonPathLength(const uint8_t *p)
{
	uint32_t	v;

	memcpy(&v, p, sizeof(v));
	return BSON_UINT32_FROM_LE(v);
}

/*
 * Size of the value of an element of the given type starting at p, with
 * avail bytes left in the container; 0 when malformed (no value is empty
 * but those of the four types handled by the caller).
 */
static uint32_t
BsonPathValueSize(uint8_t type, const uint8_t *p, uint32_t avail)
{
	uint32_t	n;

	switch (type)
	{
		case BSON_TYPE_BOOL:
			return 1;
		case BSON_TYPE_INT32:
			return 4;
		case BSON_TYPE_DOUBLE:
		case BSON_TYPE_DATE_TIME:
		case BSON_TYPE_TIMESTAMP:
		case BSON_TYPE_INT64:
			return 8;
		case BSON_TYPE_OID:
			return 12;
		case BSON_TYPE_DECIMAL128:
			return 16;
		case BSON_TYPE_UTF8:
		case BSON_TYPE_CODE:
		case BSON_TYPE_SYMBOL:
			if (avail < 4)
				return 0;
			n = BsonPathLength(p);
			return n > avail - 4 ? 0 : n + 4;
		case BSON_TYPE_DOCUMENT:
		case BSON_TYPE_ARRAY:
		case BSON_TYPE_CODEWSCOPE:
			if (avail < 4)
				return 0;
			n = BsonPathLength(p);
			return n > avail ? 0 : n;
		case BSON_TYPE_BINARY:
			if (avail < 5)
				return 0;
			n = BsonPathLength(p);
			return n > avail - 5 ? 0 : n + 5;
		case BSON_TYPE_DBPOINTER:
			if (avail < 4)
				return 0;
			n = BsonPathLength(p);
			return n > avail - 4 || avail - 4 - n < 12 ? 0 : n + 16;
		case BSON_TYPE_REGEX:
			{
				const uint8_t *e1 = memchr(p, 0, avail);
				const uint8_t *e2;

				if (e1 == NULL)
					return 0;
				e2 = memchr(e1 + 1, 0, avail - (e1 + 1 - p));
				return e2 == NULL ? 0 : (uint32_t) (e2 + 1 - p);
			}
		default:
			return 0;
	}
}

/*
 * See bson_path.h.
 */
bool
BsonFindMember(const uint8_t *data, uint32_t len, const char *key, int keylen,
			   uint32_t index, bson_iter_t *it)
{
	uint32_t	off = 4;
	uint32_t	end;

	if (len < 5 || BsonPathLength(data) != len)
		return false;
	end = len - 1;				/* the document's terminating NUL */

	while (off < end)
	{
		uint8_t		type = data[off];
		uint32_t	key_off = off + 1;
		uint32_t	p = key_off;
		uint32_t	value_off;
		uint32_t	size;
		bool		match;

		/*
		 * Keys are short: plain loops beat memchr's and memcmp's setup.
		 * Compare while looking for the key's end.
		 */
		if (key != NULL)
		{
			int			i = 0;

			while (p < end && i < keylen && data[p] == (uint8_t) key[i])
				p++, i++;
			match = (i == keylen && p < end && data[p] == 0);
		}
		else
			match = (index-- == 0);
		while (p < end && data[p] != 0)
			p++;
		if (p >= end)
			return false;
		value_off = p + 1;

		if (match)
			return bson_iter_init_from_data_at_offset(it, data, len, off,
													  value_off - 1 - key_off);

		if (type == BSON_TYPE_NULL || type == BSON_TYPE_UNDEFINED ||
			type == BSON_TYPE_MINKEY || type == BSON_TYPE_MAXKEY)
			size = 0;
		else if ((size = BsonPathValueSize(type, data + value_off, end - value_off)) == 0 ||
				 size > end - value_off)
			return false;
		off = value_off + size;
	}
	return false;
}
