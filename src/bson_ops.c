/*-------------------------------------------------------------------------
 *
 * bson_ops.c
 *	  Operators and functions on bson values: MongoDB's order (comparison
 *	  operators, btree and hash support), path access (-> ->> #> #>>),
 *	  containment (@>), ObjectId generation.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "bson.h"
#include "bson_compare.h"
#include "bson_path.h"

/* ---- ordering ---- */

/*
 * Compare two bson values in MongoDB's order.  A document and a
 * non-document differ in canonical type; two non-documents compare as
 * values, two documents as documents.
 */
static int
BsonCompare(const Bson *a, const Bson *b)
{
	bson_iter_t ia,
				ib;
	bson_t		ha,
				hb;
	bool		a_scalar;
	bool		b_scalar;

	/*
	 * The common case of index keys (_id): two scalars of one type that
	 * compare by their bytes' value, read straight from the wrappers
	 * ({"": value}: the type byte at offset 4, the value at offset 6).
	 */
	if (BsonIsScalar(a) && BsonIsScalar(b))
	{
		const uint8_t *pa = BsonBytes(a);
		const uint8_t *pb = BsonBytes(b);

		if (pa[4] == pb[4])
		{
			switch ((bson_type_t) pa[4])
			{
				case BSON_TYPE_INT32:
					{
						int32_t		x,
									y;

						memcpy(&x, pa + 6, 4);
						memcpy(&y, pb + 6, 4);
						x = (int32_t) BSON_UINT32_FROM_LE(x);
						y = (int32_t) BSON_UINT32_FROM_LE(y);
						return x < y ? -1 : (x > y ? 1 : 0);
					}
				case BSON_TYPE_INT64:
				case BSON_TYPE_DATE_TIME:
					{
						int64_t		x,
									y;

						memcpy(&x, pa + 6, 8);
						memcpy(&y, pb + 6, 8);
						x = (int64_t) BSON_UINT64_FROM_LE(x);
						y = (int64_t) BSON_UINT64_FROM_LE(y);
						return x < y ? -1 : (x > y ? 1 : 0);
					}
				case BSON_TYPE_OID:
					{
						int			c = memcmp(pa + 6, pb + 6, 12);

						return c < 0 ? -1 : (c > 0 ? 1 : 0);
					}
				case BSON_TYPE_UTF8:
					{
						int32_t		la,
									lb;
						int			c;

						/* lengths include the NUL; compare the bytes, then lengths */
						memcpy(&la, pa + 6, 4);
						memcpy(&lb, pb + 6, 4);
						la = (int32_t) BSON_UINT32_FROM_LE(la) - 1;
						lb = (int32_t) BSON_UINT32_FROM_LE(lb) - 1;
						c = memcmp(pa + 10, pb + 10, Min(la, lb));
						if (c != 0)
							return c < 0 ? -1 : 1;
						return la < lb ? -1 : (la > lb ? 1 : 0);
					}
				default:
					break;
			}
		}
	}

	a_scalar = BsonValueIter(a, &ia, &ha);
	b_scalar = BsonValueIter(b, &ib, &hb);

	if (a_scalar && b_scalar)
		return BsonCompareValues(&ia, &ib);
	if (!a_scalar && !b_scalar)
		return BsonCompareDocuments(BsonBytes(a), BsonDocLen(a),
									BsonBytes(b), BsonDocLen(b));
	if (a_scalar)
		return BsonCanonicalTypeOrder(bson_iter_type(&ia)) <
			BsonCanonicalTypeOrder(BSON_TYPE_DOCUMENT) ? -1 : 1;
	return BsonCanonicalTypeOrder(BSON_TYPE_DOCUMENT) <
		BsonCanonicalTypeOrder(bson_iter_type(&ib)) ? -1 : 1;
}

PG_FUNCTION_INFO_V1(bson_cmp);
Datum
bson_cmp(PG_FUNCTION_ARGS)
{
	Bson	   *a = PG_GETARG_BSON_P(0);
	Bson	   *b = PG_GETARG_BSON_P(1);
	int			result = BsonCompare(a, b);

	PG_FREE_IF_COPY(a, 0);
	PG_FREE_IF_COPY(b, 1);
	PG_RETURN_INT32(result < 0 ? -1 : (result > 0 ? 1 : 0));
}

#define BSON_CMP_FUNCTION(name, op) \
PG_FUNCTION_INFO_V1(name); \
Datum \
name(PG_FUNCTION_ARGS) \
{ \
	Bson	   *a = PG_GETARG_BSON_P(0); \
	Bson	   *b = PG_GETARG_BSON_P(1); \
	int			result = BsonCompare(a, b); \
	\
	PG_FREE_IF_COPY(a, 0); \
	PG_FREE_IF_COPY(b, 1); \
	PG_RETURN_BOOL(result op 0); \
}

BSON_CMP_FUNCTION(bson_eq, ==)
BSON_CMP_FUNCTION(bson_ne, !=)
BSON_CMP_FUNCTION(bson_lt, <)
BSON_CMP_FUNCTION(bson_le, <=)
BSON_CMP_FUNCTION(bson_gt, >)
BSON_CMP_FUNCTION(bson_ge, >=)

/*
 * Hash consistent with bson_eq: equal numbers of different types hash
 * alike.
 */
static uint64
BsonHash(const Bson *b, uint64 seed)
{
	bson_iter_t it;
	bson_t		holder;

	if (BsonValueIter(b, &it, &holder))
		return BsonHashValue(&it, seed);
	return BsonHashDocument(BsonBytes(b), BsonDocLen(b), seed);
}

PG_FUNCTION_INFO_V1(bson_hash);
Datum
bson_hash(PG_FUNCTION_ARGS)
{
	Bson	   *b = PG_GETARG_BSON_P(0);
	uint64		h = BsonHash(b, 0);

	PG_FREE_IF_COPY(b, 0);
	PG_RETURN_INT32((int32) (h ^ (h >> 32)));
}

PG_FUNCTION_INFO_V1(bson_hash_extended);
Datum
bson_hash_extended(PG_FUNCTION_ARGS)
{
	Bson	   *b = PG_GETARG_BSON_P(0);
	uint64		h = BsonHash(b, (uint64) PG_GETARG_INT64(1));

	PG_FREE_IF_COPY(b, 0);
	PG_RETURN_INT64((int64) h);
}

/* ---- paths ---- */

/*
 * Step from a container value (its BSON bytes) into its member named part:
 * a field of a document, or, for an array, the element whose index part
 * spells (a negative index counts from the end).  Returns false when there
 * is none.
 */
static bool
BsonStep(const uint8_t *data, uint32_t len, bool is_array, const char *part,
		 int partlen, bson_iter_t *result)
{
	int64		index = 0;
	bool		negative = false;
	int			i = 0;

	if (!is_array)
		return BsonFindMember(data, len, part, partlen, 0, result);

	if (partlen > 0 && part[0] == '-')
	{
		negative = true;
		i = 1;
	}
	if (i >= partlen || partlen - i > 9)
		return false;
	for (; i < partlen; i++)
	{
		if (part[i] < '0' || part[i] > '9')
			return false;
		index = index * 10 + (part[i] - '0');
	}
	if (negative)
	{
		bson_t		arr;
		int64		n;

		if (!bson_init_static(&arr, data, len))
			return false;
		n = bson_count_keys(&arr);
		index = n - index;
		if (index < 0)
			return false;
	}
	return BsonFindMember(data, len, NULL, 0, (uint32_t) index, result);
}

/*
 * Follow a path given as parts (at least one).  On success *it points at
 * the value; holder must outlive it.
 */
static bool
BsonFollow(const Bson *b, int nparts, const char **parts, const int *lens,
		   bson_iter_t *it, bson_t *holder)
{
	const uint8_t *data;
	uint32_t	len;
	bool		is_array;

	if (BsonValueIter(b, it, holder))
	{
		/* a non-document: only an array can be stepped into */
		if (!BSON_ITER_HOLDS_ARRAY(it))
			return false;
		bson_iter_array(it, &len, &data);
		is_array = true;
	}
	else
	{
		data = BsonBytes(b);
		len = BsonDocLen(b);
		is_array = false;
	}

	for (int i = 0; i < nparts; i++)
	{
		if (!BsonStep(data, len, is_array, parts[i], lens[i], it))
			return false;
		if (i == nparts - 1)
			return true;
		if (BSON_ITER_HOLDS_DOCUMENT(it))
		{
			bson_iter_document(it, &len, &data);
			is_array = false;
		}
		else if (BSON_ITER_HOLDS_ARRAY(it))
		{
			bson_iter_array(it, &len, &data);
			is_array = true;
		}
		else
			return false;
	}
	return false;
}

/*
 * Split a dotted path into parts (pointing into path).
 */
static int
BsonSplitPath(const char *path, int len, const char ***parts, int **lens)
{
	int			n = 1;
	int			start = 0;
	int			k = 0;

	for (int i = 0; i < len; i++)
		n += (path[i] == '.');
	*parts = palloc(sizeof(char *) * n);
	*lens = palloc(sizeof(int) * n);
	for (int i = 0; i <= len; i++)
	{
		if (i == len || path[i] == '.')
		{
			(*parts)[k] = path + start;
			(*lens)[k] = i - start;
			k++;
			start = i + 1;
		}
	}
	return n;
}

/*
 * The text ->> and #>> give: a string's own text, SQL NULL for null, the
 * Extended JSON of anything else.
 */
static text *
BsonIterAsText(const bson_iter_t *it, bool *isnull)
{
	uint32_t	len;

	*isnull = false;
	switch (bson_iter_type(it))
	{
		case BSON_TYPE_UTF8:
			{
				const char *s = bson_iter_utf8(it, &len);
				char	   *conv = pg_any_to_server(s, len, PG_UTF8);

				return cstring_to_text_with_len(conv, conv == s ? (int) len : (int) strlen(conv));
			}
		case BSON_TYPE_NULL:
		case BSON_TYPE_UNDEFINED:
			*isnull = true;
			return NULL;
		default:
			{
				StringInfoData buf;
				char	   *conv;

				initStringInfo(&buf);
				BsonPrintValue(&buf, it, (BsonJsonMode) bson_output_mode);
				conv = pg_any_to_server(buf.data, buf.len, PG_UTF8);
				return cstring_to_text(conv);
			}
	}
}

/*
 * Parts of a text[] path; -1 when one is NULL.
 */
static int
BsonArrayPath(ArrayType *path, const char ***parts, int **lens)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;

	deconstruct_array(path, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	*parts = palloc(sizeof(char *) * Max(n, 1));
	*lens = palloc(sizeof(int) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			return -1;
		(*parts)[i] = VARDATA_ANY(DatumGetTextPP(elems[i]));
		(*lens)[i] = VARSIZE_ANY_EXHDR(DatumGetTextPP(elems[i]));
	}
	return n;
}

/*
 * The result of a path operator: the value at the path as bson, or as_text
 * as ->> gives it; SQL NULL where there is none.  An empty path is the
 * value itself.
 */
static Datum
BsonPathResult(FunctionCallInfo fcinfo, Bson *b, int nparts, const char **parts,
			   const int *lens, bool as_text)
{
	bson_iter_t it;
	bson_t		holder;
	bool		isnull;
	text	   *result;

	if (nparts < 0)
		PG_RETURN_NULL();
	if (nparts == 0)
	{
		if (as_text)
			PG_RETURN_TEXT_P(cstring_to_text(BsonToCString(b, (BsonJsonMode) bson_output_mode)));
		PG_RETURN_BSON_P(b);
	}
	if (!BsonFollow(b, nparts, parts, lens, &it, &holder))
		PG_RETURN_NULL();
	if (!as_text)
		PG_RETURN_BSON_P(BsonFromIter(&it));
	result = BsonIterAsText(&it, &isnull);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(result);
}

/*
 * bson -> text, bson ->> text: the value at a field name or dotted path.
 */
static Datum
BsonDottedPath(FunctionCallInfo fcinfo, bool as_text)
{
	text	   *path = PG_GETARG_TEXT_PP(1);
	const char **parts;
	int		   *lens;
	int			n = BsonSplitPath(VARDATA_ANY(path), VARSIZE_ANY_EXHDR(path), &parts, &lens);

	return BsonPathResult(fcinfo, PG_GETARG_BSON_P(0), n, parts, lens, as_text);
}

PG_FUNCTION_INFO_V1(bson_get_path);
Datum
bson_get_path(PG_FUNCTION_ARGS)
{
	return BsonDottedPath(fcinfo, false);
}

PG_FUNCTION_INFO_V1(bson_get_path_text);
Datum
bson_get_path_text(PG_FUNCTION_ARGS)
{
	return BsonDottedPath(fcinfo, true);
}

/*
 * bson -> integer: an array element (negative counts from the end).
 */
PG_FUNCTION_INFO_V1(bson_get_index);
Datum
bson_get_index(PG_FUNCTION_ARGS)
{
	Bson	   *b = PG_GETARG_BSON_P(0);
	char	   *part = psprintf("%d", PG_GETARG_INT32(1));
	int			len = strlen(part);
	const char *parts[1] = {part};

	/* only arrays have elements: a document field named "0" is not one */
	if (!BsonIsScalar(b))
		PG_RETURN_NULL();
	return BsonPathResult(fcinfo, b, 1, parts, &len, false);
}

/*
 * bson #> text[], bson #>> text[]: the value at a path of keys.
 */
static Datum
BsonKeysPath(FunctionCallInfo fcinfo, bool as_text)
{
	const char **parts;
	int		   *lens;
	int			n = BsonArrayPath(PG_GETARG_ARRAYTYPE_P(1), &parts, &lens);

	return BsonPathResult(fcinfo, PG_GETARG_BSON_P(0), n, parts, lens, as_text);
}

PG_FUNCTION_INFO_V1(bson_get_array_path);
Datum
bson_get_array_path(PG_FUNCTION_ARGS)
{
	return BsonKeysPath(fcinfo, false);
}

PG_FUNCTION_INFO_V1(bson_get_array_path_text);
Datum
bson_get_array_path_text(PG_FUNCTION_ARGS)
{
	return BsonKeysPath(fcinfo, true);
}

/* ---- containment ---- */

static bool BsonContainsValue(const bson_iter_t *a, const bson_iter_t *b);

/*
 * Whether every member of container b is contained in a member of container
 * a: for documents, the member of the same name; for arrays, any element.
 */
static bool
BsonContainsMembers(const bson_iter_t *a, const bson_iter_t *b, bool by_name)
{
	bson_iter_t bi = *b;

	check_stack_depth();
	while (bson_iter_next(&bi))
	{
		bson_iter_t ai = *a;
		bool		found = false;

		while (!found && bson_iter_next(&ai))
			found = (!by_name || strcmp(bson_iter_key(&ai), bson_iter_key(&bi)) == 0) &&
				BsonContainsValue(&ai, &bi);
		if (!found)
			return false;
	}
	return true;
}

/*
 * Containment of values, as jsonb's @>: documents by members, arrays by
 * elements, anything else by equality in MongoDB's order.
 */
static bool
BsonContainsValue(const bson_iter_t *a, const bson_iter_t *b)
{
	bson_iter_t ac,
				bc;

	if ((BSON_ITER_HOLDS_DOCUMENT(a) && BSON_ITER_HOLDS_DOCUMENT(b)) ||
		(BSON_ITER_HOLDS_ARRAY(a) && BSON_ITER_HOLDS_ARRAY(b)))
		return bson_iter_recurse(a, &ac) && bson_iter_recurse(b, &bc) &&
			BsonContainsMembers(&ac, &bc, BSON_ITER_HOLDS_DOCUMENT(a));
	return BsonCompareValues(a, b) == 0;
}

PG_FUNCTION_INFO_V1(bson_contains);
Datum
bson_contains(PG_FUNCTION_ARGS)
{
	Bson	   *a = PG_GETARG_BSON_P(0);
	Bson	   *b = PG_GETARG_BSON_P(1);
	bson_iter_t ia,
				ib;
	bson_t		ha,
				hb;
	bool		a_scalar = BsonValueIter(a, &ia, &ha);
	bool		b_scalar = BsonValueIter(b, &ib, &hb);

	if (a_scalar != b_scalar)
		PG_RETURN_BOOL(false);
	if (a_scalar && BSON_ITER_HOLDS_ARRAY(&ia) && !BSON_ITER_HOLDS_ARRAY(&ib))
	{
		bson_iter_t elem;

		/* as jsonb's: a top-level array contains a scalar among its elements */
		if (!bson_iter_recurse(&ia, &elem))
			elog(ERROR, "corrupt bson value");
		while (bson_iter_next(&elem))
		{
			if (BsonContainsValue(&elem, &ib))
				PG_RETURN_BOOL(true);
		}
		PG_RETURN_BOOL(false);
	}
	if (a_scalar)
		PG_RETURN_BOOL(BsonContainsValue(&ia, &ib));
	if (!bson_init_static(&ha, BsonBytes(a), BsonDocLen(a)) ||
		!bson_init_static(&hb, BsonBytes(b), BsonDocLen(b)) ||
		!bson_iter_init(&ia, &ha) || !bson_iter_init(&ib, &hb))
		elog(ERROR, "corrupt bson value");
	PG_RETURN_BOOL(BsonContainsMembers(&ia, &ib, true));
}

PG_FUNCTION_INFO_V1(bson_contained);
Datum
bson_contained(PG_FUNCTION_ARGS)
{
	return DirectFunctionCall2(bson_contains, PG_GETARG_DATUM(1), PG_GETARG_DATUM(0));
}

/* ---- ObjectId ---- */

/*
 * nosql.objectid(): a new ObjectId (4-byte timestamp, 5 random bytes per
 * process, 3-byte counter), from libbson's fork-aware generator.
 */
PG_FUNCTION_INFO_V1(objectid);
Datum
objectid(PG_FUNCTION_ARGS)
{
	bson_oid_t	oid;
	bson_t		wrapper;
	Bson	   *result;

	bson_oid_init(&oid, NULL);
	bson_init(&wrapper);
	bson_append_oid(&wrapper, "", 0, &oid);
	result = BsonFromDocument(&wrapper, true);
	bson_destroy(&wrapper);
	PG_RETURN_BSON_P(result);
}

/*
 * nosql.objectid_time(bson): the creation time inside an ObjectId.
 */
PG_FUNCTION_INFO_V1(objectid_time);
Datum
objectid_time(PG_FUNCTION_ARGS)
{
	Bson	   *b = PG_GETARG_BSON_P(0);
	bson_iter_t it;
	bson_t		holder;

	if (!BsonValueIter(b, &it, &holder) || !BSON_ITER_HOLDS_OID(&it))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bson value is not an ObjectId")));
	PG_RETURN_TIMESTAMPTZ(time_t_to_timestamptz(bson_oid_get_time_t(bson_iter_oid(&it))));
}
