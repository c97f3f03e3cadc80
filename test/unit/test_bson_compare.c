/*-------------------------------------------------------------------------
 *
 * test_bson_compare.c
 *	  Unit tests of MongoDB's BSON value order and its hash (bson_compare.c).
 *
 * Every value under test is the field "v" of a small document built with
 * libbson (bson_append_* for scalars, extended JSON for containers); only
 * decimal128 bit patterns and NaN payloads are spelled out by hand.  The
 * double-to-decimal and decimal-pair vectors were computed independently
 * with Python's decimal module (exact conversion of the double, then
 * rounding to 34 digits, ties to even, as MongoDB's
 * Decimal128(double, kRoundTo34Digits) does).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <float.h>
#include <math.h>

#include "bson_compare.h"
#include "common/pg_prng.h"
#include "unit.h"

/* A value under test: the field "v" of a document */
typedef struct TestValue
{
	bson_t	   *doc;
	bson_iter_t it;
} TestValue;

#define MAX_TEST_VALUES		8192

static TestValue test_values[MAX_TEST_VALUES];
static int	n_test_values = 0;

/* Seeds every equality's hashes are compared under */
static const uint64 test_seeds[] = {0, 1, UINT64CONST(0x9e3779b97f4a7c15)};


/* ----------------------------------------------------------------
 *		Building values
 * ----------------------------------------------------------------
 */

/*
 * Wrap
 *		Register a document {"v": value} and point an iterator at "v".
 */
static const TestValue *
Wrap(bson_t *doc)
{
	TestValue  *tv;

	if (n_test_values >= MAX_TEST_VALUES)
	{
		fprintf(stderr, "test_bson_compare: too many test values\n");
		abort();
	}
	tv = &test_values[n_test_values++];
	tv->doc = doc;
	if (!bson_iter_init_find(&tv->it, doc, "v"))
	{
		fprintf(stderr, "test_bson_compare: no field \"v\"\n");
		abort();
	}
	return tv;
}

/*
 * ReleaseValues
 *		Free every value built so far (each test ends with this).
 */
static void
ReleaseValues(void)
{
	int			i;

	for (i = 0; i < n_test_values; i++)
		bson_destroy(test_values[i].doc);
	n_test_values = 0;
}

/* Extended JSON {"v": ...} for containers and anything awkward to append */
static const TestValue *
Json(const char *json)
{
	bson_error_t error;
	bson_t	   *doc = bson_new_from_json((const uint8_t *) json, -1, &error);

	if (doc == NULL)
	{
		fprintf(stderr, "test_bson_compare: bad JSON %s: %s\n", json, error.message);
		abort();
	}
	return Wrap(doc);
}

/* An int32 */
static const TestValue *
I32(int32 v)
{
	bson_t	   *doc = bson_new();

	bson_append_int32(doc, "v", 1, v);
	return Wrap(doc);
}

/* An int64 */
static const TestValue *
I64(int64 v)
{
	bson_t	   *doc = bson_new();

	bson_append_int64(doc, "v", 1, v);
	return Wrap(doc);
}

/* A double */
static const TestValue *
Dbl(double v)
{
	bson_t	   *doc = bson_new();

	bson_append_double(doc, "v", 1, v);
	return Wrap(doc);
}

/* A double given by its bits (NaN payloads, exact vectors) */
static const TestValue *
DblBits(uint64 bits)
{
	double		v;

	memcpy(&v, &bits, sizeof(v));
	return Dbl(v);
}

/* A decimal128 parsed by libbson */
static const TestValue *
Dec(const char *text)
{
	bson_decimal128_t dec;
	bson_t	   *doc = bson_new();

	if (!bson_decimal128_from_string(text, &dec))
	{
		fprintf(stderr, "test_bson_compare: bad decimal \"%s\"\n", text);
		abort();
	}
	bson_append_decimal128(doc, "v", 1, &dec);
	return Wrap(doc);
}

/* A decimal128 given by its BID encoding */
static const TestValue *
DecBits(uint64 high, uint64 low)
{
	bson_decimal128_t dec;
	bson_t	   *doc = bson_new();

	dec.high = high;
	dec.low = low;
	bson_append_decimal128(doc, "v", 1, &dec);
	return Wrap(doc);
}

/* A string of the given length (may hold NULs) */
static const TestValue *
StrN(const char *s, int len)
{
	bson_t	   *doc = bson_new();

	bson_append_utf8(doc, "v", 1, s, len);
	return Wrap(doc);
}

/* A string */
static const TestValue *
Str(const char *s)
{
	return StrN(s, (int) strlen(s));
}

/* A symbol of the given length (may hold NULs) */
static const TestValue *
SymN(const char *s, int len)
{
	bson_t	   *doc = bson_new();

	bson_append_symbol(doc, "v", 1, s, len);
	return Wrap(doc);
}

/* A symbol */
static const TestValue *
Sym(const char *s)
{
	return SymN(s, (int) strlen(s));
}

/* Binary data of a subtype */
static const TestValue *
Bin(bson_subtype_t subtype, const char *data, uint32 len)
{
	bson_t	   *doc = bson_new();

	bson_append_binary(doc, "v", 1, subtype, (const uint8_t *) data, len);
	return Wrap(doc);
}

/* An ObjectId from 24 hex digits */
static const TestValue *
ObjectId(const char *hex)
{
	bson_oid_t	oid;
	bson_t	   *doc = bson_new();

	bson_oid_init_from_string(&oid, hex);
	bson_append_oid(doc, "v", 1, &oid);
	return Wrap(doc);
}

/* A bool */
static const TestValue *
Bool(bool v)
{
	bson_t	   *doc = bson_new();

	bson_append_bool(doc, "v", 1, v);
	return Wrap(doc);
}

/* A UTC datetime (milliseconds) */
static const TestValue *
Date(int64 v)
{
	bson_t	   *doc = bson_new();

	bson_append_date_time(doc, "v", 1, v);
	return Wrap(doc);
}

/* A timestamp (seconds, increment) */
static const TestValue *
Ts(uint32 t, uint32 i)
{
	bson_t	   *doc = bson_new();

	bson_append_timestamp(doc, "v", 1, t, i);
	return Wrap(doc);
}

/* A regular expression */
static const TestValue *
Regex(const char *pattern, const char *options)
{
	bson_t	   *doc = bson_new();

	bson_append_regex(doc, "v", 1, pattern, options);
	return Wrap(doc);
}

/* A DBPointer (namespace, ObjectId in hex) */
static const TestValue *
DbPtr(const char *ns, const char *oidhex)
{
	bson_oid_t	oid;
	bson_t	   *doc = bson_new();

	bson_oid_init_from_string(&oid, oidhex);
	bson_append_dbpointer(doc, "v", 1, ns, &oid);
	return Wrap(doc);
}

/* JavaScript code */
static const TestValue *
Code(const char *code)
{
	bson_t	   *doc = bson_new();

	bson_append_code(doc, "v", 1, code);
	return Wrap(doc);
}

/* Code with scope; the scope is given as extended JSON */
static const TestValue *
CodeScope(const char *code, const char *scope_json)
{
	bson_error_t error;
	bson_t	   *scope = bson_new_from_json((const uint8_t *) scope_json, -1, &error);
	bson_t	   *doc = bson_new();

	if (scope == NULL)
		abort();
	bson_append_code_with_scope(doc, "v", 1, code, scope);
	bson_destroy(scope);
	return Wrap(doc);
}

/* MinKey */
static const TestValue *
MinKey(void)
{
	bson_t	   *doc = bson_new();

	bson_append_minkey(doc, "v", 1);
	return Wrap(doc);
}

/* MaxKey */
static const TestValue *
MaxKey(void)
{
	bson_t	   *doc = bson_new();

	bson_append_maxkey(doc, "v", 1);
	return Wrap(doc);
}

/* null */
static const TestValue *
Null(void)
{
	bson_t	   *doc = bson_new();

	bson_append_null(doc, "v", 1);
	return Wrap(doc);
}

/* undefined */
static const TestValue *
Undefined(void)
{
	bson_t	   *doc = bson_new();

	bson_append_undefined(doc, "v", 1);
	return Wrap(doc);
}


/* ----------------------------------------------------------------
 *		Checking relations
 * ----------------------------------------------------------------
 */

/* Sign of a comparison result */
static int
Sign(int x)
{
	return (x > 0) - (x < 0);
}

/* The order of two test values, as -1, 0 or 1 */
static int
Cmp(const TestValue *a, const TestValue *b)
{
	return Sign(BsonCompareValues(&a->it, &b->it));
}

/* The hash of a test value */
static uint64
Hash(const TestValue *a, uint64 seed)
{
	return BsonHashValue(&a->it, seed);
}

/*
 * Describe
 *		Extended JSON of a test value for failure messages (bson_free it).
 */
static char *
Describe(const TestValue *v)
{
	return bson_as_canonical_extended_json(v->doc, NULL);
}

/*
 * CheckRelation
 *		Check that cmp(a, b) has the expected sign, that cmp(b, a) has the
 *		opposite one, and that equal values hash alike under every seed.
 */
static void
CheckRelation(const char *file, int line, const char *aexpr, const char *bexpr,
			  const TestValue *a, const TestValue *b, int expected)
{
	static const char *const names[] = {"<", "==", ">"};
	int			ab = Cmp(a, b);
	int			ba = Cmp(b, a);
	size_t		i;

	UnitChecks++;
	if (ab != expected || ba != -expected)
	{
		char	   *as = Describe(a);
		char	   *bs = Describe(b);

		UnitFail(file, line, "expected %s %s %s: %s vs %s, got cmp %d, reverse %d",
				 aexpr, names[expected + 1], bexpr, as, bs, ab, ba);
		bson_free(as);
		bson_free(bs);
	}
	if (expected != 0)
		return;
	for (i = 0; i < lengthof(test_seeds); i++)
	{
		if (Hash(a, test_seeds[i]) != Hash(b, test_seeds[i]))
		{
			char	   *as = Describe(a);
			char	   *bs = Describe(b);

			UnitFail(file, line, "equal values %s and %s hash differently: %s vs %s",
					 aexpr, bexpr, as, bs);
			bson_free(as);
			bson_free(bs);
			return;
		}
	}
}

#define CHECK_LT(a, b)		CheckRelation(__FILE__, __LINE__, #a, #b, (a), (b), -1)
#define CHECK_GT(a, b)		CheckRelation(__FILE__, __LINE__, #a, #b, (a), (b), 1)
#define CHECK_SAME(a, b)	CheckRelation(__FILE__, __LINE__, #a, #b, (a), (b), 0)

/*
 * CheckList
 *		Check every pair of a NULL-terminated list: strictly ascending
 *		(expected -1) or all equal (expected 0).
 */
static void
CheckList(const char *file, int line, const TestValue *const *list, int expected)
{
	int			i;
	int			j;

	for (i = 0; list[i] != NULL; i++)
	{
		char		iname[32];

		snprintf(iname, sizeof(iname), "[%d]", i);
		CheckRelation(file, line, iname, iname, list[i], list[i], 0);
		for (j = i + 1; list[j] != NULL; j++)
		{
			char		jname[32];

			snprintf(jname, sizeof(jname), "[%d]", j);
			CheckRelation(file, line, iname, jname, list[i], list[j], expected);
		}
	}
}

#define CHECK_ASCENDING(...) \
	CheckList(__FILE__, __LINE__, (const TestValue *const[]) {__VA_ARGS__, NULL}, -1)
#define CHECK_ALL_SAME(...) \
	CheckList(__FILE__, __LINE__, (const TestValue *const[]) {__VA_ARGS__, NULL}, 0)


/* ----------------------------------------------------------------
 *		Brackets
 * ----------------------------------------------------------------
 */

/* MongoDB's canonical type number of every BSON type */
TEST(canonical_type_numbers)
{
	static const struct
	{
		bson_type_t type;
		int			order;
	}			expected[] = {
		{BSON_TYPE_MINKEY, -1},
		{BSON_TYPE_EOD, 0},
		{BSON_TYPE_UNDEFINED, 0},
		{BSON_TYPE_NULL, 5},
		{BSON_TYPE_INT32, 10},
		{BSON_TYPE_INT64, 10},
		{BSON_TYPE_DOUBLE, 10},
		{BSON_TYPE_DECIMAL128, 10},
		{BSON_TYPE_UTF8, 15},
		{BSON_TYPE_SYMBOL, 15},
		{BSON_TYPE_DOCUMENT, 20},
		{BSON_TYPE_ARRAY, 25},
		{BSON_TYPE_BINARY, 30},
		{BSON_TYPE_OID, 35},
		{BSON_TYPE_BOOL, 40},
		{BSON_TYPE_DATE_TIME, 45},
		{BSON_TYPE_TIMESTAMP, 47},
		{BSON_TYPE_REGEX, 50},
		{BSON_TYPE_DBPOINTER, 55},
		{BSON_TYPE_CODE, 60},
		{BSON_TYPE_CODEWSCOPE, 65},
		{BSON_TYPE_MAXKEY, 127},
	};
	size_t		i;

	for (i = 0; i < lengthof(expected); i++)
		CHECK_EQ(BsonCanonicalTypeOrder(expected[i].type), expected[i].order);
}

/*
 * Every value of a lower bracket sorts below every value of a higher one,
 * whatever the values: each bracket contributes its extremes.
 */
TEST(brackets_dominate_values)
{
#define BRACKET_WIDTH 8
	const TestValue *brackets[][BRACKET_WIDTH] = {
		{MinKey()},
		{Undefined()},
		{Null()},
		{Dbl(NAN), Dbl(-INFINITY), Dec("-Infinity"), I64(PG_INT64_MIN), I32(0),
			Dbl(INFINITY), Dec("Infinity"), Dec("9.999999999999999999999999999999999E+6144")},
		{Str(""), Sym(""), StrN("\0", 1), Str("\xff\xff"), Sym("zzz")},
		{Json("{\"v\": {}}"), Json("{\"v\": {\"a\": {\"$minKey\": 1}}}"),
			Json("{\"v\": {\"zzz\": {\"$maxKey\": 1}}}")},
		{Json("{\"v\": []}"), Json("{\"v\": [{\"$minKey\": 1}]}"),
			Json("{\"v\": [{\"$maxKey\": 1}]}")},
		{Bin(BSON_SUBTYPE_BINARY, "", 0), Bin(BSON_SUBTYPE_USER, "\xff\xff\xff", 3)},
		{ObjectId("000000000000000000000000"), ObjectId("ffffffffffffffffffffffff")},
		{Bool(false), Bool(true)},
		{Date(PG_INT64_MIN), Date(PG_INT64_MAX)},
		{Ts(0, 0), Ts(PG_UINT32_MAX, PG_UINT32_MAX)},
		{Regex("", ""), Regex("zzz", "x")},
		{DbPtr("", "000000000000000000000000"), DbPtr("zzz", "ffffffffffffffffffffffff")},
		{Code(""), Code("zzz")},
		{CodeScope("", "{}"), CodeScope("zzz", "{\"a\": {\"$maxKey\": 1}}")},
		{MaxKey()},
	};
	int			i;
	int			j;
	int			k;
	int			l;

	for (i = 0; i < (int) lengthof(brackets); i++)
	{
		for (k = 0; k < BRACKET_WIDTH && brackets[i][k] != NULL; k++)
		{
			/* the type says which bracket */
			CHECK_EQ(BsonCanonicalTypeOrder(bson_iter_type(&brackets[i][k]->it)),
					 BsonCanonicalTypeOrder(bson_iter_type(&brackets[i][0]->it)));

			for (j = i + 1; j < (int) lengthof(brackets); j++)
			{
				for (l = 0; l < BRACKET_WIDTH && brackets[j][l] != NULL; l++)
					CHECK_LT(brackets[i][k], brackets[j][l]);
			}
		}
	}
	ReleaseValues();
#undef BRACKET_WIDTH
}

/* The one-value brackets equal themselves and sit at the ends */
TEST(minkey_maxkey_null_undefined)
{
	CHECK_ALL_SAME(MinKey(), MinKey());
	CHECK_ALL_SAME(MaxKey(), MaxKey());
	CHECK_ALL_SAME(Null(), Null());
	CHECK_ALL_SAME(Undefined(), Undefined());
	CHECK_ASCENDING(MinKey(), Undefined(), Null(), Dbl(NAN), Str(""),
					CodeScope("\xff", "{\"a\": {\"$maxKey\": 1}}"), MaxKey());
	ReleaseValues();
}


/* ----------------------------------------------------------------
 *		Numbers
 * ----------------------------------------------------------------
 */

/* 1 == 1L == 1.0 == NumberDecimal("1.00"), and so on, with equal hashes */
TEST(numeric_equalities_across_types)
{
	CHECK_ALL_SAME(I32(1), I64(1), Dbl(1.0), Dec("1"), Dec("1.00"), Dec("1E0"),
				   Dec("0.1E1"), Dec("100E-2"), Dec("1.000000000000000000000000000000000"),
				   DecBits(UINT64CONST(0x3040000000000000), 1));
	CHECK_ALL_SAME(I32(-7), I64(-7), Dbl(-7.0), Dec("-7"), Dec("-7.0000"), Dec("-0.7E1"));
	CHECK_ALL_SAME(I32(0), I64(0), Dbl(0.0), Dbl(-0.0), Dec("0"), Dec("-0"),
				   Dec("0E-6176"), Dec("0E+6111"), Dec("-0.000"), Dec("-0E+10"));
	CHECK_ALL_SAME(I32(PG_INT32_MAX), I64(PG_INT32_MAX), Dbl(2147483647.0),
				   Dec("2147483647"), Dec("2.147483647E9"));
	CHECK_ALL_SAME(I32(PG_INT32_MIN), I64(PG_INT32_MIN), Dbl(-2147483648.0),
				   Dec("-2147483648"));
	CHECK_ALL_SAME(I64(INT64CONST(1) << 40), Dbl(1099511627776.0),
				   Dec("1099511627776"), Dec("1.099511627776E12"));
	CHECK_ALL_SAME(Dbl(0.5), Dec("0.5"), Dec("0.50000"), Dec("5E-1"));
	CHECK_ALL_SAME(Dbl(-1.375), Dec("-1.375"), Dec("-1375E-3"));
	CHECK_ASCENDING(I32(-2), Dbl(-1.5), I64(-1), Dec("-0.5"), I32(0), Dbl(0.25),
					Dec("0.3"), I32(1), Dec("1.000000000000000000000000000000001"),
					Dbl(1.0000000000000002), I64(2));
	ReleaseValues();
}

/* int64 against double is exact: no rounding of either into the other */
TEST(int64_double_exact)
{
	const int64 two53 = INT64CONST(1) << 53;

	/* 2^53 + 1 is not a double: a lossy conversion would call these equal */
	CHECK_GT(I64(two53 + 1), Dbl(9007199254740992.0));
	CHECK_LT(I64(two53 + 1), Dbl(9007199254740994.0));
	CHECK_SAME(I64(two53), Dbl(9007199254740992.0));
	CHECK_GT(I64(INT64CONST(4611686018427387905)), Dbl(4611686018427387904.0));

	/* INT64_MAX is below 2^63, the double (double) INT64_MAX rounds to */
	CHECK_LT(I64(PG_INT64_MAX), Dbl(9223372036854775807.0));
	CHECK_LT(I64(PG_INT64_MAX), Dbl(9223372036854775808.0));
	CHECK_GT(I64(PG_INT64_MAX), Dbl(nextafter(9223372036854775808.0, 0.0)));
	CHECK_LT(I64(PG_INT64_MAX), Dbl(INFINITY));

	/* INT64_MIN is -2^63 exactly */
	CHECK_SAME(I64(PG_INT64_MIN), Dbl(-9223372036854775808.0));
	CHECK_GT(I64(PG_INT64_MIN), Dbl(nextafter(-9223372036854775808.0, -INFINITY)));
	CHECK_GT(I64(PG_INT64_MIN + 1), Dbl(-9223372036854775808.0));
	CHECK_GT(I64(PG_INT64_MIN), Dbl(-INFINITY));
	CHECK_GT(I64(PG_INT64_MIN), Dbl(NAN));

	/* fractions */
	CHECK_LT(I32(5), Dbl(5.5));
	CHECK_GT(I32(6), Dbl(5.5));
	CHECK_GT(I32(-5), Dbl(-5.5));
	CHECK_LT(I32(-6), Dbl(-5.5));
	CHECK_LT(I32(0), Dbl(5e-324));
	CHECK_GT(I32(0), Dbl(-5e-324));
	CHECK_LT(I64(INT64CONST(4503599627370495)), Dbl(4503599627370495.5));
	CHECK_GT(I64(INT64CONST(4503599627370496)), Dbl(4503599627370495.5));
	CHECK_LT(I64(INT64CONST(-4503599627370495)), Dbl(-4503599627370494.5));

	/* int32 against int64 */
	CHECK_LT(I32(PG_INT32_MAX), I64((int64) PG_INT32_MAX + 1));
	CHECK_GT(I32(PG_INT32_MIN), I64((int64) PG_INT32_MIN - 1));
	CHECK_ASCENDING(I64(PG_INT64_MIN), I32(PG_INT32_MIN), I32(-1), I64(0),
					I32(PG_INT32_MAX), I64(PG_INT64_MAX));
	ReleaseValues();
}

/* Every NaN, double or decimal, quiet or signalling, is one value below -Infinity */
TEST(nan_is_one_value_below_all_numbers)
{
	CHECK_ALL_SAME(Dbl(NAN), Dbl(-NAN), DblBits(UINT64CONST(0x7ff0000000000001)),
				   DblBits(UINT64CONST(0x7ff8000000000123)),
				   DblBits(UINT64CONST(0xfff8000000000000)),
				   Dec("NaN"), DecBits(UINT64CONST(0xfc00000000000000), 0),
				   DecBits(UINT64CONST(0x7e00000000000000), 0),
				   DecBits(UINT64CONST(0x7c00000000000000), 12345),
				   DecBits(UINT64CONST(0x7c003fffffffffff), UINT64CONST(0xffffffffffffffff)));
	CHECK_ASCENDING(Dbl(NAN), Dbl(-INFINITY), Dbl(-DBL_MAX), I64(PG_INT64_MIN));
	CHECK_LT(Dec("NaN"), Dec("-Infinity"));
	CHECK_LT(Dbl(NAN), Dec("-9.999999999999999999999999999999999E+6144"));
	CHECK_LT(Dec("NaN"), I32(PG_INT32_MIN));
	CHECK_GT(Dbl(NAN), Null());
	ReleaseValues();
}

/* -0.0 equals 0 of every type */
TEST(negative_zero)
{
	CHECK_ALL_SAME(Dbl(-0.0), Dbl(0.0), I32(0), I64(0), Dec("-0E+10"), Dec("0.0"),
				   DecBits(UINT64CONST(0xb040000000000000), 0));
	CHECK_LT(Dbl(-0.0), Dbl(5e-324));
	CHECK_GT(Dbl(-0.0), Dbl(-5e-324));
	CHECK_LT(Dec("-0"), Dec("1E-6176"));
	CHECK_GT(Dec("-0"), Dec("-1E-6176"));
	ReleaseValues();
}

/* Decimal and double infinities are equal and enclose every finite number */
TEST(infinities)
{
	CHECK_ALL_SAME(Dbl(INFINITY), Dec("Infinity"), Dec("inf"),
				   DecBits(UINT64CONST(0x7800000000000123), 0x456));
	CHECK_ALL_SAME(Dbl(-INFINITY), Dec("-Infinity"),
				   DecBits(UINT64CONST(0xf900000000000000), 7));
	CHECK_ASCENDING(Dbl(-INFINITY), Dec("-9.999999999999999999999999999999999E+6144"),
					Dec("-1E+400"), Dbl(-DBL_MAX), I64(PG_INT64_MIN), I64(PG_INT64_MAX),
					Dbl(DBL_MAX), Dec("1E+400"),
					Dec("9.999999999999999999999999999999999E+6144"), Dbl(INFINITY));
	ReleaseValues();
}

/* Double bits, its 34-digit rounding D(d), and the decimals just above and below */
static const struct
{
	uint64		bits;
	const char *rounded;
	const char *up;
	const char *down;
}			double_vectors[] = {
	{UINT64CONST(0x3fb999999999999a), "0.1000000000000000055511151231257827", "0.1000000000000000055511151231257828", "0.1000000000000000055511151231257826"},	/* 0.1 */
	{UINT64CONST(0x3fc999999999999a), "0.2000000000000000111022302462515654", "0.2000000000000000111022302462515655", "0.2000000000000000111022302462515653"},	/* 0.2 */
	{UINT64CONST(0x3fd3333333333333), "0.2999999999999999888977697537484346", "0.2999999999999999888977697537484347", "0.2999999999999999888977697537484345"},	/* 0.3 */
	{UINT64CONST(0x3fd5555555555555), "0.3333333333333333148296162562473910", "0.3333333333333333148296162562473911", "0.3333333333333333148296162562473909"},	/* 1/3 */
	{UINT64CONST(0x3fe5555555555555), "0.6666666666666666296592325124947820", "0.6666666666666666296592325124947821", "0.6666666666666666296592325124947819"},	/* 2/3 */
	{UINT64CONST(0x40fe240c9fbe76c9), "123456.7890000000043073669075965881", "123456.7890000000043073669075965882", "123456.7890000000043073669075965880"},	/* 123456.789 */
	{UINT64CONST(0x44b52d02c7e14af6), "99999999999999991611392", "99999999999999991611392.00000000001", "99999999999999991611391.99999999999"},	/* 1e23 */
	{UINT64CONST(0x4480f0cf064dd592), "10000000000000000000000", "10000000000000000000000.00000000001", "9999999999999999999999.999999999999"},	/* 1e22 */
	{UINT64CONST(0x4630000000000000), "1267650600228229401496703205376", "1267650600228229401496703205376.001", "1267650600228229401496703205375.999"},	/* 2^100 */
	{UINT64CONST(0x46f0000000000000), "5192296858534827628530496329220096", "5192296858534827628530496329220097", "5192296858534827628530496329220095"},	/* 2^112 */
	{UINT64CONST(0x4700000000000000), "1.038459371706965525706099265844019E+34", "1.038459371706965525706099265844020E+34", "1.038459371706965525706099265844018E+34"},	/* 2^113, a tie */
	{UINT64CONST(0x4c70000000000000), "1.606938044258990275541962092341163E+60", "1.606938044258990275541962092341164E+60", "1.606938044258990275541962092341162E+60"},	/* 2^200 */
	{UINT64CONST(0x3c30000000000000), "8.673617379884035472059622406959534E-19", "8.673617379884035472059622406959535E-19", "8.673617379884035472059622406959533E-19"},	/* 2^-60 */
	{UINT64CONST(0x0000000000000001), "4.940656458412465441765687928682214E-324", "4.940656458412465441765687928682215E-324", "4.940656458412465441765687928682213E-324"},	/* smallest subnormal */
	{UINT64CONST(0x0010000000000000), "2.225073858507201383090232717332404E-308", "2.225073858507201383090232717332405E-308", "2.225073858507201383090232717332403E-308"},	/* DBL_MIN */
	{UINT64CONST(0x7fefffffffffffff), "1.797693134862315708145274237317044E+308", "1.797693134862315708145274237317045E+308", "1.797693134862315708145274237317043E+308"},	/* DBL_MAX */
	{UINT64CONST(0x400921fb54442d18), "3.141592653589793115997963468544185", "3.141592653589793115997963468544186", "3.141592653589793115997963468544184"},	/* pi */
	{UINT64CONST(0xc005bf0a8b145769), "-2.718281828459045090795598298427649", "-2.718281828459045090795598298427648", "-2.718281828459045090795598298427650"},	/* -e */
	{UINT64CONST(0x4340000000000000), "9007199254740992", "9007199254740992.000000000000000001", "9007199254740991.999999999999999999"},	/* 2^53 */
	{UINT64CONST(0x3fe0000000000000), "0.5", "0.5000000000000000000000000000000001", "0.4999999999999999999999999999999999"},	/* 0.5 */
	{UINT64CONST(0x3fd8000000000000), "0.375", "0.3750000000000000000000000000000001", "0.3749999999999999999999999999999999"},	/* 0.375 */
	{UINT64CONST(0xbff6000000000000), "-1.375", "-1.374999999999999999999999999999999", "-1.375000000000000000000000000000001"},	/* -1.375 */
	{UINT64CONST(0x3e10000000000000), "9.31322574615478515625E-10", "9.313225746154785156250000000000001E-10", "9.313225746154785156249999999999999E-10"},	/* 2^-30 */
	{UINT64CONST(0x3e7ad7f29abcaf48), "9.999999999999999547481118258862587E-8", "9.999999999999999547481118258862588E-8", "9.999999999999999547481118258862586E-8"},	/* 1e-7 */
	{UINT64CONST(0x4011666666666666), "4.349999999999999644728632119949907", "4.349999999999999644728632119949908", "4.349999999999999644728632119949906"},	/* 4.35 */
	{UINT64CONST(0x7e37e43c8800759c), "1.000000000000000052504760255204420E+300", "1.000000000000000052504760255204421E+300", "1.000000000000000052504760255204419E+300"},	/* 1e300 */
	{UINT64CONST(0x81a56e1fc2f8f359), "-1.000000000000000025059091835208760E-300", "-1.000000000000000025059091835208759E-300", "-1.000000000000000025059091835208761E-300"},	/* -1e-300 */
	/* 35 significant digits ending in 5: ties, rounded to even */
	{UINT64CONST(0x417f4b2bddd597c6), "32813757.86464669555425643920898438", "32813757.86464669555425643920898439", "32813757.86464669555425643920898437"},
	{UINT64CONST(0x4180894ee77ffe49), "34679260.93749672919511795043945312", "34679260.93749672919511795043945313", "34679260.93749672919511795043945311"},
	{UINT64CONST(0x4175b414cec026d2), "22757708.92191202193498611450195312", "22757708.92191202193498611450195313", "22757708.92191202193498611450195311"},
	{UINT64CONST(0x4181b2b3fe8ad4a3), "37115519.81778838485479354858398438", "37115519.81778838485479354858398439", "37115519.81778838485479354858398437"},
};

/*
 * A double equals exactly the decimal128 nearest to it at 34 digits, and
 * lies strictly between that decimal's neighbours.
 */
TEST(decimal_vs_double_rounds_double_to_34_digits)
{
	size_t		i;

	for (i = 0; i < lengthof(double_vectors); i++)
	{
		const TestValue *d = DblBits(double_vectors[i].bits);

		CHECK_SAME(d, Dec(double_vectors[i].rounded));
		CHECK_LT(d, Dec(double_vectors[i].up));
		CHECK_GT(d, Dec(double_vectors[i].down));
		ReleaseValues();
	}

	/* MongoDB: 0.1 as a double is 0.1000000000000000055511151231257827 */
	CHECK_GT(Dbl(0.1), Dec("0.1"));
	CHECK_LT(Dbl(0.3), Dec("0.3"));
	CHECK_LT(Dec("0.1"), Dbl(0.1));

	/* around 2^63 */
	CHECK_ALL_SAME(Dec("9223372036854775808"), Dbl(9223372036854775808.0),
				   Dec("9.223372036854775808E18"));
	CHECK_ALL_SAME(Dec("-9223372036854775808"), I64(PG_INT64_MIN),
				   Dbl(-9223372036854775808.0));
	CHECK_ALL_SAME(Dec("9223372036854775807"), I64(PG_INT64_MAX));
	CHECK_ASCENDING(I64(PG_INT64_MAX), Dec("9223372036854775807.5"),
					Dbl(9223372036854775808.0), Dec("9223372036854775808.000000000000001"));

	/* beyond the double range */
	CHECK_ASCENDING(Dbl(0.0), Dec("1E-400"), Dbl(5e-324));
	CHECK_ASCENDING(Dec("-1E+400"), Dbl(-DBL_MAX));
	ReleaseValues();
}

/* Decimal pairs and the sign of their comparison (exact, from Python) */
static const struct
{
	const char *a;
	const char *b;
	int			sign;
}			decimal_pairs[] = {
	{"100", "100.000000000000", 0},
	{"-1E+2017", "-1.000000000000000000000000000000001E+2017", 1},
	{"-1.0E+1603", "1", -1},
	{"-4.34540856E-16", "-4.345408562E-16", 1},
	{"1", "1.2", -1},
	{"1", "-0.1", 1},
	{"-6.55157338628041622042304423446943E-4674", "-4.7079564391486792933715264E+2519", 1},
	{"1E+4362", "1.8E+4362", -1},
	{"9.76984425E+5484", "1.37E+10", 1},
	{"5E-32", "5.4E-32", -1},
	{"-100000000000000.0", "-100000000000000.01", 1},
	{"-1.00E+3651", "-1.000000000000000000000000000000001E+3651", 1},
	{"5", "5.0000000000000000000000000000000", 0},
	{"5E+19", "49999999999999999999.99999999999999", 1},
	{"5E+162", "1", 1},
	{"-1.0", "-1.000000000000000000000000000000001", 1},
	{"-1", "-0.1", -1},
	{"1E-34", "9.999999999999999999999999999999999E-35", 1},
	{"0.1", "0.18", -1},
	{"-5E+3898", "-5.0E+3898", 0},
	{"-5", "-4.999999999999999999999999999999999", -1},
	{"8.704233553763187E+4377", "8.7042335537631870000000000000000E+4377", 0},
	{"1.000000000000000000000000000E-2997", "1.00000000000000000000000000000E-2997", 0},
	{"1E+3156", "1.6E+3156", -1},
	{"-0.1", "-0.09999999999999999999999999999999999", -1},
	{"-0.5", "-0.5000000000000000000000000000000001", 1},
	{"0.5", "6.9471728941614471449199978E-3622", 1},
	{"-1E-11", "-1.0000000000000000E-11", 0},
	{"-7.932220521964385544204476483893563E-1223", "-7.932220521964385544204476483893562E-1223", -1},
	{"-5E-993", "-5.000000000000000E-993", 0},
	{"-5.3", "-1E-11", -1},
	{"490667706772600250125319.943", "490667706772600250125319.9433", -1},
	{"5", "5.9", -1},
	{"-5E+3569", "-1997415827298.9", -1},
	{"100000000000000000000.0", "99999999999999999999.99999999999999", 1},
	{"-0.000003273973193178140623118434", "-0.0000032739731931781406231184341", 1},
	{"0.5", "0.4999999999999999999999999999999999", 1},
	{"10000000000000000000000000.0", "10000000000000000000000000.01", -1},
	{"-4211", "-4211.000000000000000000000000000001", 1},
	{"0.01", "0.01000000", 0},
	{"1E+6111", "9.999999999999999999999999999999999E+6144", -1},
	{"1E-6176", "0", 1},
	{"1E-6176", "1.000000000000000000000000000000000E-6143", -1},
};

/* Exact comparison of decimals, whatever their exponents */
TEST(decimal_vs_decimal)
{
	size_t		i;

	for (i = 0; i < lengthof(decimal_pairs); i++)
	{
		const TestValue *a = Dec(decimal_pairs[i].a);
		const TestValue *b = Dec(decimal_pairs[i].b);

		CheckRelation(__FILE__, __LINE__, decimal_pairs[i].a, decimal_pairs[i].b,
					  a, b, decimal_pairs[i].sign);
		ReleaseValues();
	}
}

/* Hand-made BID encodings: canonical, non-canonical, both forms */
TEST(decimal_encodings)
{
	/* 10^34 - 1 with exponent 0 is the largest canonical coefficient */
	CHECK_SAME(DecBits(UINT64CONST(0x3041ed09bead87c0), UINT64CONST(0x378d8e63ffffffff)),
			   Dec("9999999999999999999999999999999999"));
	/* 10^34 is non-canonical: zero */
	CHECK_ALL_SAME(DecBits(UINT64CONST(0x3041ed09bead87c0), UINT64CONST(0x378d8e6400000000)),
				   DecBits(UINT64CONST(0x3041ffffffffffff), UINT64CONST(0xffffffffffffffff)),
				   I32(0));
	/* negative non-canonical: still zero */
	CHECK_SAME(DecBits(UINT64CONST(0xb041ffffffffffff), UINT64CONST(0xffffffffffffffff)),
			   Dbl(0.0));
	/* second form (bits 62..61 = 11): coefficient >= 2^113, always zero */
	CHECK_ALL_SAME(DecBits(UINT64CONST(0x6000000000000000), 1),
				   DecBits(UINT64CONST(0x77ffffffffffffff), UINT64CONST(0xffffffffffffffff)),
				   DecBits(UINT64CONST(0xe000000000000000), 5),
				   I64(0), Dec("0E+100"));
	/* the exponent field: 1E+1 and 10 */
	CHECK_SAME(DecBits(UINT64CONST(0x3042000000000000), 1), I32(10));
	CHECK_SAME(DecBits(UINT64CONST(0x303e000000000000), 15), Dbl(1.5));
	/* extreme exponents */
	CHECK_SAME(DecBits(0, 1), Dec("1E-6176"));
	CHECK_SAME(DecBits(UINT64CONST(0x5ffe000000000000), 1), Dec("1E+6111"));
	/* libbson clamps 1E+6144 into 1000000000000000000000000000000000E+6111 */
	CHECK_SAME(Dec("1E+6144"), Dec("1000000000000000000000000000000000E+6111"));
	CHECK_LT(Dec("1E+6143"), Dec("1E+6144"));
	ReleaseValues();
}

/* Decimals against int32 and int64 around the int64 limits */
TEST(decimal_vs_integers)
{
	CHECK_ALL_SAME(Dec("-9223372036854775808"), I64(PG_INT64_MIN),
				   Dec("-9.223372036854775808000E+18"));
	CHECK_LT(Dec("-9223372036854775809"), I64(PG_INT64_MIN));
	CHECK_GT(Dec("-9223372036854775807.9"), I64(PG_INT64_MIN));
	CHECK_GT(Dec("9223372036854775807.0000000000001"), I64(PG_INT64_MAX));
	CHECK_LT(Dec("9223372036854775806.9999999999999"), I64(PG_INT64_MAX));
	CHECK_GT(Dec("9223372036854775806.0000000000001"), I64(PG_INT64_MAX - 1));
	CHECK_ALL_SAME(Dec("2147483647"), I32(PG_INT32_MAX), Dec("21474836470E-1"));
	CHECK_LT(Dec("0.9999999999999999999999999999999999"), I32(1));
	CHECK_GT(Dec("1.000000000000000000000000000000001"), I64(1));
	CHECK_GT(Dec("1E+20"), I64(PG_INT64_MAX));
	CHECK_LT(Dec("-1E+20"), I64(PG_INT64_MIN));
	CHECK_ALL_SAME(Dec("100E+10"), I64(INT64CONST(1000000000000)),
				   Dbl(1000000000000.0));
	ReleaseValues();
}

/* Hashes of numbers depend on the value only, not on the type */
TEST(numeric_hashes)
{
	/* a value that is not an int64 and not a double hashes as a decimal */
	CHECK_ALL_SAME(Dec("0.1"), Dec("0.10"), Dec("1E-1"), Dec("100000000000000000000E-21"));
	CHECK_ALL_SAME(Dec("123456789012345678901234567890"),
				   Dec("1.23456789012345678901234567890E+29"));
	/* integers beyond the int64 range that are doubles */
	CHECK_ALL_SAME(Dbl(1e30), Dec("1000000000000000019884624838656"));
	CHECK_ALL_SAME(Dbl(-DBL_MAX), Dec("-1.797693134862315708145274237317044E+308"));
	/* the seed matters */
	CHECK(Hash(I32(1), 0) != Hash(I32(1), 1));
	/* different values usually hash differently */
	CHECK(Hash(I32(1), 0) != Hash(I32(2), 0));
	CHECK(Hash(Dbl(0.5), 0) != Hash(Dec("0.5000000000000000000000000000000001"), 0));
	CHECK(Hash(Dbl(NAN), 0) != Hash(Dbl(0.0), 0));
	CHECK(Hash(Dbl(INFINITY), 0) != Hash(Dbl(-INFINITY), 0));
	ReleaseValues();
}


/* ----------------------------------------------------------------
 *		Strings, containers and the other scalars
 * ----------------------------------------------------------------
 */

/* Strings and symbols compare byte-wise, embedded NULs included */
TEST(strings_and_symbols)
{
	CHECK_ASCENDING(Str(""), Str("a"), StrN("a\0", 2), StrN("a\0b", 3), Str("a\x01"),
					Str("ab"), Str("b"), Str("\xc3\xa9"), Str("\xff"));
	CHECK_ALL_SAME(Str("abc"), Sym("abc"));
	CHECK_ALL_SAME(StrN("a\0b", 3), SymN("a\0b", 3));
	CHECK_ALL_SAME(Str(""), Sym(""));
	CHECK_GT(Sym("abd"), Str("abc"));
	CHECK_LT(Sym("ab"), Str("abc"));
	CHECK_LT(Str("B"), Str("a"));
	/* the embedded NUL counts: not a C string comparison */
	CHECK(Hash(StrN("a\0b", 3), 0) != Hash(StrN("a\0c", 3), 0));
	ReleaseValues();
}

/* Documents: element by element, type, then field name, then value */
TEST(documents)
{
	CHECK_ASCENDING(Json("{\"v\": {}}"),
					Json("{\"v\": {\"a\": {\"$minKey\": 1}}}"),
					Json("{\"v\": {\"a\": null}}"),
					Json("{\"v\": {\"a\": 1}}"),
					Json("{\"v\": {\"a\": 1, \"b\": 1}}"),
					Json("{\"v\": {\"a\": 2}}"),
					Json("{\"v\": {\"b\": 0}}"),
					Json("{\"v\": {\"a\": \"x\"}}"));
	/* the type comes before the field name */
	CHECK_LT(Json("{\"v\": {\"b\": 1}}"), Json("{\"v\": {\"a\": \"x\"}}"));
	/* field names compare byte-wise, and field order matters */
	CHECK_LT(Json("{\"v\": {\"B\": 1}}"), Json("{\"v\": {\"a\": 1}}"));
	CHECK_LT(Json("{\"v\": {\"a\": 1}}"), Json("{\"v\": {\"aa\": 0}}"));
	CHECK_LT(Json("{\"v\": {\"\": 5}}"), Json("{\"v\": {\"a\": 0}}"));
	CHECK_LT(Json("{\"v\": {\"a\": 1, \"b\": 2}}"), Json("{\"v\": {\"b\": 2, \"a\": 1}}"));
	/* values compare across numeric types */
	CHECK_ALL_SAME(Json("{\"v\": {\"a\": 1, \"b\": {\"c\": 2}}}"),
				   Json("{\"v\": {\"a\": 1.0, \"b\": {\"c\": {\"$numberLong\": \"2\"}}}}"),
				   Json("{\"v\": {\"a\": {\"$numberDecimal\": \"1.00\"}, \"b\": {\"c\": 2.0}}}"));
	/* nested */
	CHECK_ASCENDING(Json("{\"v\": {\"a\": {\"b\": 1}}}"),
					Json("{\"v\": {\"a\": {\"b\": 2}}}"),
					Json("{\"v\": {\"a\": {\"c\": 0}}}"),
					Json("{\"v\": {\"a\": []}}"));
	/* a document is never equal to an array with the same elements */
	CHECK_LT(Json("{\"v\": {\"0\": 5}}"), Json("{\"v\": [5]}"));
	/* the field name of the compared value itself is not compared */
	{
		bson_t	   *w = BCON_NEW("w", BCON_INT32(1));
		bson_iter_t it;

		CHECK(bson_iter_init_find(&it, w, "w"));
		CHECK_EQ(BsonCompareValues(&it, &I32(1)->it), 0);
		CHECK_EQ_U64(BsonHashValue(&it, 3), Hash(I64(1), 3));
		bson_destroy(w);
	}
	ReleaseValues();
}

/* Arrays: element by element, values only, a prefix first */
TEST(arrays)
{
	CHECK_ASCENDING(Json("{\"v\": []}"),
					Json("{\"v\": [null]}"),
					Json("{\"v\": [1]}"),
					Json("{\"v\": [1, 2]}"),
					Json("{\"v\": [1, 2, 0]}"),
					Json("{\"v\": [1, \"a\"]}"),
					Json("{\"v\": [1, [2]]}"),
					Json("{\"v\": [2]}"),
					Json("{\"v\": [[]]}"));
	CHECK_ALL_SAME(Json("{\"v\": [1, 2.5]}"),
				   Json("{\"v\": [{\"$numberLong\": \"1\"}, {\"$numberDecimal\": \"2.50\"}]}"));
	CHECK_LT(Json("{\"v\": [[1]]}"), Json("{\"v\": [[1, 2]]}"));

	/* array keys are not compared (libbson only checks the first is "0") */
	{
		bson_t	   *doc = bson_new();
		bson_t	   *elements = BCON_NEW("0", BCON_INT32(1), "5", BCON_INT32(2));

		bson_append_array(doc, "v", 1, elements);
		bson_destroy(elements);
		CHECK_SAME(Wrap(doc), Json("{\"v\": [1, 2]}"));
	}
	ReleaseValues();
}

/* BsonCompareDocuments and BsonHashDocument on top-level documents */
TEST(whole_documents)
{
	bson_t	   *a = BCON_NEW("a", BCON_INT32(1), "b", "[", BCON_INT32(1), BCON_INT32(2), "]");
	bson_t	   *b = BCON_NEW("a", BCON_DOUBLE(1.0), "b", "[", BCON_INT32(1), BCON_INT64(2), "]");
	bson_t	   *c = BCON_NEW("a", BCON_INT32(1), "b", "[", BCON_INT32(1), BCON_INT32(3), "]");
	bson_t	   *empty = bson_new();
	bson_t	   *wrapped = BCON_NEW("v", BCON_DOCUMENT(a));
	bson_iter_t it;
	uint64		seed;

	CHECK_EQ(BsonCompareDocuments(bson_get_data(a), a->len, bson_get_data(b), b->len), 0);
	CHECK(BsonCompareDocuments(bson_get_data(a), a->len, bson_get_data(c), c->len) < 0);
	CHECK(BsonCompareDocuments(bson_get_data(c), c->len, bson_get_data(a), a->len) > 0);
	CHECK(BsonCompareDocuments(bson_get_data(empty), empty->len, bson_get_data(a), a->len) < 0);
	CHECK_EQ(BsonCompareDocuments(bson_get_data(empty), empty->len,
								  bson_get_data(empty), empty->len), 0);
	for (seed = 0; seed < 3; seed++)
		CHECK_EQ_U64(BsonHashDocument(bson_get_data(a), a->len, seed),
					 BsonHashDocument(bson_get_data(b), b->len, seed));
	CHECK(BsonHashDocument(bson_get_data(a), a->len, 0) !=
		  BsonHashDocument(bson_get_data(c), c->len, 0));

	/* a whole document hashes like the same document embedded */
	CHECK(bson_iter_init_find(&it, wrapped, "v"));
	CHECK_EQ_U64(BsonHashDocument(bson_get_data(a), a->len, 42), BsonHashValue(&it, 42));

	bson_destroy(a);
	bson_destroy(b);
	bson_destroy(c);
	bson_destroy(empty);
	bson_destroy(wrapped);
}

/* 100 levels of {"a": ...}, the innermost value differing */
TEST(deep_nesting)
{
	bson_t	   *x = BCON_NEW("a", BCON_INT32(1));
	bson_t	   *y = BCON_NEW("a", BCON_DOUBLE(1.5));
	int			depth;

	for (depth = 0; depth < 100; depth++)
	{
		bson_t	   *outer_x = bson_new();
		bson_t	   *outer_y = bson_new();

		bson_append_document(outer_x, depth == 99 ? "v" : "a", 1, x);
		bson_append_document(outer_y, depth == 99 ? "v" : "a", 1, y);
		bson_destroy(x);
		bson_destroy(y);
		x = outer_x;
		y = outer_y;
	}
	CHECK_LT(Wrap(x), Wrap(y));
	CHECK_EQ_U64(BsonHashDocument(bson_get_data(x), x->len, 0),
				 BsonHashDocument(bson_get_data(x), x->len, 0));
	ReleaseValues();
}

/* Binary data: length, then subtype, then bytes */
TEST(binary)
{
	/* length first, then subtype, then bytes */
	CHECK_ASCENDING(Bin(BSON_SUBTYPE_BINARY, "", 0),
					Bin(BSON_SUBTYPE_FUNCTION, "", 0),
					Bin(BSON_SUBTYPE_BINARY, "\xff", 1),
					Bin(BSON_SUBTYPE_USER, "\x00", 1),
					Bin(BSON_SUBTYPE_BINARY, "aa", 2),
					Bin(BSON_SUBTYPE_BINARY, "ab", 2),
					Bin(BSON_SUBTYPE_UUID, "aa", 2),
					Bin(BSON_SUBTYPE_BINARY, "\x00\x00\x00", 3));
	CHECK_ALL_SAME(Bin(BSON_SUBTYPE_USER, "xyz", 3), Bin(BSON_SUBTYPE_USER, "xyz", 3));

	/*
	 * The old binary subtype 2 counts its inner 4-byte length, as MongoDB
	 * does: one data byte sorts as five bytes.
	 */
	CHECK_ASCENDING(Bin(BSON_SUBTYPE_BINARY, "abcd", 4),
					Bin(BSON_SUBTYPE_BINARY_DEPRECATED, "", 0),
					Bin(BSON_SUBTYPE_BINARY, "abcde", 5),
					Bin(BSON_SUBTYPE_BINARY_DEPRECATED, "a", 1),
					Bin(BSON_SUBTYPE_BINARY_DEPRECATED, "b", 1),
					Bin(BSON_SUBTYPE_USER, "abcde", 5),
					Bin(BSON_SUBTYPE_BINARY, "abcdef", 6));
	CHECK_ALL_SAME(Bin(BSON_SUBTYPE_BINARY_DEPRECATED, "ab", 2),
				   Bin(BSON_SUBTYPE_BINARY_DEPRECATED, "ab", 2));
	ReleaseValues();
}

/* ObjectId byte-wise, false < true, dates signed, timestamps unsigned */
TEST(oid_bool_date_timestamp)
{
	CHECK_ASCENDING(ObjectId("000000000000000000000000"), ObjectId("000000000000000000000001"),
					ObjectId("000000000000000000000100"), ObjectId("7f0000000000000000000000"),
					ObjectId("ff0000000000000000000000"));
	CHECK_ALL_SAME(ObjectId("5f1d7a2b3c4d5e6f70819203"), ObjectId("5f1d7a2b3c4d5e6f70819203"));
	CHECK_ASCENDING(Bool(false), Bool(true));
	CHECK_ALL_SAME(Bool(true), Bool(true));
	/* dates are signed */
	CHECK_ASCENDING(Date(PG_INT64_MIN), Date(-1), Date(0), Date(1), Date(PG_INT64_MAX));
	/* timestamps are unsigned: seconds, then increment */
	CHECK_ASCENDING(Ts(0, 0), Ts(0, 1), Ts(0, PG_UINT32_MAX), Ts(1, 0),
					Ts(0x7fffffff, PG_UINT32_MAX), Ts(0x80000000, 0),
					Ts(PG_UINT32_MAX, 0x80000000), Ts(PG_UINT32_MAX, PG_UINT32_MAX));
	CHECK_ALL_SAME(Ts(12, 34), Ts(12, 34));
	ReleaseValues();
}

/* Regular expressions: pattern, then flags */
TEST(regex)
{
	CHECK_ASCENDING(Regex("", ""), Regex("a", ""), Regex("a", "i"), Regex("a", "im"),
					Regex("a", "m"), Regex("ab", ""), Regex("b", "a"));
	/* libbson sorts the flags, so "mi" is "im" */
	CHECK_ALL_SAME(Regex("^x.*", "mi"), Regex("^x.*", "im"));
	ReleaseValues();
}

/* DBPointer, code, and code with scope */
TEST(dbpointer_code_codewscope)
{
	/* DBPointer: namespace length, then namespace bytes, then ObjectId */
	CHECK_ASCENDING(DbPtr("zz", "ffffffffffffffffffffffff"),
					DbPtr("aaa", "000000000000000000000000"),
					DbPtr("abc", "000000000000000000000000"),
					DbPtr("abc", "000000000000000000000001"),
					DbPtr("abd", "000000000000000000000000"));
	CHECK_ALL_SAME(DbPtr("db.c", "5f1d7a2b3c4d5e6f70819203"),
				   DbPtr("db.c", "5f1d7a2b3c4d5e6f70819203"));
	/* code: as strings */
	CHECK_ASCENDING(Code(""), Code("a"), Code("ab"), Code("b"));
	CHECK_ALL_SAME(Code("function () {}"), Code("function () {}"));
	/* code with scope: code, then the scope document */
	CHECK_ASCENDING(CodeScope("a", "{\"x\": 2}"),
					CodeScope("b", "{}"),
					CodeScope("b", "{\"x\": 1}"),
					CodeScope("b", "{\"y\": 0}"),
					CodeScope("b", "{\"x\": \"1\"}"));
	CHECK_ALL_SAME(CodeScope("f", "{\"x\": 1}"), CodeScope("f", "{\"x\": 1.0}"));
	ReleaseValues();
}

/* ----------------------------------------------------------------
 *		Randomized properties
 * ----------------------------------------------------------------
 */

#define RANDOM_GROUPS		800
#define RANDOM_GROUP_SIZE	4
#define RANDOM_POOL_SIZE	(RANDOM_GROUPS * RANDOM_GROUP_SIZE)
#define RANDOM_PAIRS		200000
#define RANDOM_TRIPLES		100000
#define RANDOM_SORTED_PAIRS	100000

/* What an exact reference comparison knows about a generated value */
typedef enum OracleKind
{
	ORACLE_NONE,				/* no exact reference value */
	ORACLE_NAN,
	ORACLE_VALUE				/* exactly "key" */
} OracleKind;

/* A generated value and its reference */
typedef struct RandomValue
{
	const TestValue *tv;
	OracleKind	oracle;
	long double key;			/* exact for every int64 and double */
} RandomValue;

/* The number a group of generated values is built around */
typedef struct RandomBase
{
	bool		is_integer;
	int64		integer;
	double		real;
} RandomBase;

/* A random double: special values, integers, binary fractions, any bits */
static double
RandomDouble(pg_prng_state *rng)
{
	static const double specials[] = {
		0.0, -0.0, INFINITY, -INFINITY, NAN, DBL_MAX, -DBL_MAX, 5e-324, -5e-324,
		DBL_MIN, 9223372036854775808.0, -9223372036854775808.0,
		9223372036854774784.0, 9007199254740992.0, 9007199254740994.0, 0.1, 0.5
	};
	uint64		bits;
	double		d;

	switch (pg_prng_uint64_range(rng, 0, 5))
	{
		case 0:
			return specials[pg_prng_uint64_range(rng, 0, lengthof(specials) - 1)];
		case 1:
			return (double) ((int64) pg_prng_uint64_range(rng, 0, 80) - 40) / 8.0;
		case 2:
			return ldexp((double) ((int64) pg_prng_uint64_range(rng, 0, 2000) - 1000),
						 (int) pg_prng_uint64_range(rng, 40, 70));
		case 3:
			return (pg_prng_double(rng) - 0.5) * 2000.0;
		default:
			bits = pg_prng_uint64(rng);
			memcpy(&d, &bits, sizeof(d));
			return d;
	}
}

/* A random int64: small, around 2^53 and 2^63, or any */
static int64
RandomInt64(pg_prng_state *rng)
{
	int64		offset = (int64) pg_prng_uint64_range(rng, 0, 6) - 3;

	switch (pg_prng_uint64_range(rng, 0, 5))
	{
		case 0:
			return (int64) pg_prng_uint64_range(rng, 0, 40) - 20;
		case 1:
			return (INT64CONST(1) << 53) + offset;
		case 2:
			return -(INT64CONST(1) << 53) + offset;
		case 3:
			return offset <= 0 ? PG_INT64_MAX + offset : PG_INT64_MIN + offset;
		case 4:
			return (int64) pg_prng_int32(rng);
		default:
			return (int64) pg_prng_uint64(rng);
	}
}

/* A decimal128 equal to an integer: its digits, "zeros" zeros, E-zeros */
static const TestValue *
DecimalOfInt64(int64 v, int zeros)
{
	char		buf[64];
	int			len = snprintf(buf, sizeof(buf), "%lld", (long long) v);
	int			i;

	for (i = 0; i < zeros; i++)
		buf[len++] = '0';
	snprintf(buf + len, sizeof(buf) - len, "E-%d", zeros);
	return Dec(buf);
}

/*
 * DecimalOfDouble
 *		The decimal128 MongoDB equates with a double: its 34-digit rounding.
 */
static const TestValue *
DecimalOfDouble(double d)
{
	char		buf[64];

	if (isnan(d))
		return Dec("NaN");
	if (isinf(d))
		return Dec(d > 0 ? "Infinity" : "-Infinity");
	snprintf(buf, sizeof(buf), "%.33e", d);
	return Dec(buf);
}

/* The number a group is built around: an int64 or a double */
static RandomBase
RandomNumberBase(pg_prng_state *rng)
{
	RandomBase	base = {false, 0, 0.0};

	if (pg_prng_uint64_range(rng, 0, 4) < 3)
	{
		base.is_integer = true;
		base.integer = RandomInt64(rng);
	}
	else
		base.real = RandomDouble(rng);
	return base;
}

/* A random value with no exact reference, of any bracket */
static const TestValue *
RandomOther(pg_prng_state *rng)
{
	char		buf[64];

	switch (pg_prng_uint64_range(rng, 0, 5))
	{
		case 0:
			return pg_prng_bool(rng) ? Null() : MinKey();
		case 1:
			return pg_prng_bool(rng) ? Str("1") : Sym("1");
		case 2:
			return pg_prng_bool(rng) ? Bool(pg_prng_bool(rng)) : Date(RandomInt64(rng));
		case 3:
			/* any small coefficient and exponent */
			snprintf(buf, sizeof(buf), "%s%lluE%d", pg_prng_bool(rng) ? "-" : "",
					 (unsigned long long) pg_prng_uint64_range(rng, 0, 999),
					 (int) pg_prng_uint64_range(rng, 0, 60) - 30);
			return Dec(buf);
		default:
			{
				/* a raw encoding: canonical or not, either form, NaN, Inf */
				uint64		high = pg_prng_uint64(rng);
				uint64		low = pg_prng_uint64(rng);

				if (pg_prng_bool(rng))
					high = (high & UINT64CONST(0x8001ffffffffffff)) |
						((uint64) (6176 + pg_prng_uint64_range(rng, 0, 80) - 40) << 49);
				return DecBits(high, low);
			}
	}
}

/*
 * RandomRepresentation
 *		One of the ways of writing a group's number: int32, int64, double or
 *		decimal128 of the same value, a nearby value, or now and then an
 *		unrelated value.  The exact reference is kept where it is known.
 */
static RandomValue
RandomRepresentation(pg_prng_state *rng, const RandomBase *base)
{
	RandomValue r = {NULL, ORACLE_NONE, 0};
	uint64		choice = pg_prng_uint64_range(rng, 0, 19);
	char		buf[64];

	if (choice == 0)
	{
		r.tv = RandomOther(rng);
		return r;
	}

	if (base->is_integer)
	{
		int64		v = base->integer;
		double		nearest = (double) v;

		r.oracle = ORACLE_VALUE;
		r.key = (long double) v;
		if (choice < 5 && v >= PG_INT32_MIN && v <= PG_INT32_MAX)
			r.tv = I32((int32) v);
		else if (choice < 9)
			r.tv = I64(v);
		else if (choice < 14)
		{
			/* the double nearest to the integer, which may differ from it */
			r.tv = Dbl(nearest);
			r.key = nearest;
		}
		else
			r.tv = DecimalOfInt64(v, (int) pg_prng_uint64_range(rng, 0, 12));
	}
	else
	{
		double		d = base->real;

		r.oracle = isnan(d) ? ORACLE_NAN : ORACLE_VALUE;
		r.key = d;
		if (choice < 6)
			r.tv = Dbl(d);
		else if (choice < 12)
			r.tv = DecimalOfDouble(d);
		else if (choice < 15 && d == floor(d) && fabs(d) < 9223372036854775808.0)
			r.tv = pg_prng_bool(rng) ? I64((int64) d)
				: DecimalOfInt64((int64) d, (int) pg_prng_uint64_range(rng, 0, 12));
		else if (choice < 18 && !isnan(d) && !isinf(d))
		{
			/* a short decimal near the double: no exact reference */
			snprintf(buf, sizeof(buf), "%.*g", (int) pg_prng_uint64_range(rng, 1, 20), d);
			r.tv = Dec(buf);
			r.oracle = ORACLE_NONE;
		}
		else if (isnan(d))
			r.tv = DblBits(UINT64CONST(0x7ff0000000000000) | (pg_prng_uint64(rng) >> 13) | 1);
		else
			r.tv = Dbl(d);
	}
	return r;
}

/* The reference order of two values with known exact values, or 2 */
static int
OracleCompare(const RandomValue *a, const RandomValue *b)
{
	if (a->oracle == ORACLE_NONE || b->oracle == ORACLE_NONE)
		return 2;
	if (a->oracle == ORACLE_NAN || b->oracle == ORACLE_NAN)
		return (a->oracle != ORACLE_NAN) - (b->oracle != ORACLE_NAN);
	return (a->key > b->key) - (a->key < b->key);
}

/* Report a failed random check with both values */
static void
RandomFail(const char *what, const TestValue *a, const TestValue *b, int got)
{
	char	   *as = Describe(a);
	char	   *bs = Describe(b);

	UnitFail(__FILE__, __LINE__, "%s: %s vs %s (cmp %d)", what, as, bs, got);
	bson_free(as);
	bson_free(bs);
}

/* qsort comparator over RandomValue */
static int
RandomValueCmp(const void *a, const void *b)
{
	return BsonCompareValues(&((const RandomValue *) a)->tv->it,
							 &((const RandomValue *) b)->tv->it);
}

/* A random pool index, in the group of "near" half of the time */
static int
RandomIndex(pg_prng_state *rng, int near)
{
	if (near >= 0 && pg_prng_bool(rng))
		return near - near % RANDOM_GROUP_SIZE +
			(int) pg_prng_uint64_range(rng, 0, RANDOM_GROUP_SIZE - 1);
	return (int) pg_prng_uint64_range(rng, 0, RANDOM_POOL_SIZE - 1);
}

/*
 * Antisymmetry, agreement with the exact reference, hash consistency and
 * transitivity over random mixed-type numbers (and a few other brackets).
 * The pool holds groups of values written around one number, so that
 * equal values of different types meet often; the seed is fixed.
 */
TEST(random_properties)
{
	static RandomValue pool[RANDOM_POOL_SIZE];
	pg_prng_state rng;
	long		equal_pairs = 0;
	long		oracle_pairs = 0;
	int			i;

	pg_prng_seed(&rng, UINT64CONST(0x6e6f73716c));
	for (i = 0; i < RANDOM_GROUPS; i++)
	{
		RandomBase	base = RandomNumberBase(&rng);
		int			k;

		for (k = 0; k < RANDOM_GROUP_SIZE; k++)
			pool[i * RANDOM_GROUP_SIZE + k] = RandomRepresentation(&rng, &base);
	}

	for (i = 0; i < RANDOM_PAIRS; i++)
	{
		int			x = RandomIndex(&rng, -1);
		const RandomValue *a = &pool[x];
		const RandomValue *b = &pool[RandomIndex(&rng, x)];
		int			ab = Cmp(a->tv, b->tv);
		int			ba = Cmp(b->tv, a->tv);
		int			expected = OracleCompare(a, b);

		UnitChecks++;
		if (ab != -ba)
			RandomFail("not antisymmetric", a->tv, b->tv, ab);
		if (expected != 2)
		{
			oracle_pairs++;
			if (ab != expected)
				RandomFail("disagrees with the exact reference", a->tv, b->tv, ab);
		}
		if (ab == 0)
		{
			uint64		seed = pg_prng_uint64(&rng);

			equal_pairs++;
			if (Hash(a->tv, seed) != Hash(b->tv, seed) ||
				Hash(a->tv, 0) != Hash(b->tv, 0))
				RandomFail("equal values hash differently", a->tv, b->tv, ab);
		}
	}

	for (i = 0; i < RANDOM_TRIPLES; i++)
	{
		int			x = RandomIndex(&rng, -1);
		int			y = RandomIndex(&rng, x);
		int			z = RandomIndex(&rng, y);
		int			ab = Cmp(pool[x].tv, pool[y].tv);
		int			bc = Cmp(pool[y].tv, pool[z].tv);
		int			ac = Cmp(pool[x].tv, pool[z].tv);

		/* a <= b <= c implies a <= c, strictly if either step is strict */
		UnitChecks++;
		if (ab <= 0 && bc <= 0 && ac != ((ab < 0 || bc < 0) ? -1 : 0))
			RandomFail("not transitive (a <= b <= c)", pool[x].tv, pool[z].tv, ac);
		if (ab >= 0 && bc >= 0 && ac != ((ab > 0 || bc > 0) ? 1 : 0))
			RandomFail("not transitive (a >= b >= c)", pool[x].tv, pool[z].tv, ac);
	}

	/* after sorting, every earlier value is <= every later one */
	qsort(pool, RANDOM_POOL_SIZE, sizeof(RandomValue), RandomValueCmp);
	for (i = 0; i + 1 < RANDOM_POOL_SIZE; i++)
	{
		UnitChecks++;
		if (Cmp(pool[i].tv, pool[i + 1].tv) > 0)
			RandomFail("sorted neighbours out of order", pool[i].tv, pool[i + 1].tv, 1);
	}
	for (i = 0; i < RANDOM_SORTED_PAIRS; i++)
	{
		int			x = RandomIndex(&rng, -1);
		int			y = RandomIndex(&rng, -1);

		UnitChecks++;
		if (x < y && Cmp(pool[x].tv, pool[y].tv) > 0)
			RandomFail("sorted values out of order", pool[x].tv, pool[y].tv, 1);
	}

	/* the pool must exercise equalities and the reference, or it tests little */
	CHECK(equal_pairs > RANDOM_PAIRS / 20);
	CHECK(oracle_pairs > RANDOM_PAIRS / 2);
	ReleaseValues();
}
