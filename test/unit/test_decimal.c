/*-------------------------------------------------------------------------
 *
 * test_decimal.c
 *	  Unit tests of decimal128 arithmetic (bson_decimal.c): addition and
 *	  multiplication with IEEE 754-2008 rounding (ties to even, 34 digits,
 *	  overflow to infinity, gradual underflow, signed zeros, NaN and
 *	  infinities), MongoDB's 15-digit conversion of doubles, the encoding,
 *	  and value equality.
 *
 * Operands and results are written as decimal strings and go through
 * libbson's bson_decimal128_from_string/to_string, so a result must match
 * in coefficient and exponent (1.0 is not 1).  The expected values were
 * computed with Python's decimal module in decimal128's context
 * (prec=34, Emin=-6143, Emax=6144, clamp=1, ROUND_HALF_EVEN), against which
 * the module was also checked on random operands.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <math.h>

#include "bson_decimal.h"
#include "unit.h"

/* One binary operation: x op y = result */
typedef struct DecimalCase
{
	const char *x;
	const char *y;
	const char *result;
} DecimalCase;

/*
 * Decode
 *		A decimal from its string form.
 */
static void
Decode(const char *text, BsonDecimal *out)
{
	bson_decimal128_t dec;

	if (!bson_decimal128_from_string(text, &dec))
		UnitFail(__FILE__, __LINE__, "bad decimal in a test: %s", text);
	BsonDecodeDecimal128(&dec, out);
}

/*
 * Encode
 *		The string form of a decimal, through its BID encoding.
 */
static void
Encode(const BsonDecimal *d, char *text)
{
	bson_decimal128_t dec;

	BsonEncodeDecimal128(d, &dec);
	bson_decimal128_to_string(&dec, text);
}

/*
 * Canonical
 *		A decimal string as libbson prints it (so that the tables may write
 *		numbers as Python prints them).
 */
static void
Canonical(const char *text, char *out)
{
	bson_decimal128_t dec;

	bson_decimal128_from_string(text, &dec);
	bson_decimal128_to_string(&dec, out);
}

/*
 * RunDecimalCases
 *		Check a table of sums (multiply false) or products.
 */
static void
RunDecimalCases(const DecimalCase *cases, int n, bool multiply,
				const char *file, int line)
{
	for (int i = 0; i < n; i++)
	{
		BsonDecimal x;
		BsonDecimal y;
		BsonDecimal r;
		char		got[BSON_DECIMAL128_STRING];
		char		want[BSON_DECIMAL128_STRING];

		Decode(cases[i].x, &x);
		Decode(cases[i].y, &y);
		if (multiply)
			BsonDecimalMultiply(&x, &y, &r);
		else
			BsonDecimalAdd(&x, &y, &r);
		Encode(&r, got);
		Canonical(cases[i].result, want);
		UnitChecks++;
		if (strcmp(got, want) != 0)
			UnitFail(file, line, "%s %s %s: got %s, expected %s", cases[i].x,
					 multiply ? "*" : "+", cases[i].y, got, want);
	}
}

#define RUN_DECIMAL_CASES(cases, multiply) \
	RunDecimalCases(cases, (int) lengthof(cases), multiply, __FILE__, __LINE__)

TEST(decimal_add)
{
	static const DecimalCase cases[] = {
{"1", "1", "2"},
		{"10.5", "2.5", "13.0"},
		{"1.000", "0", "1.000"},
		{"0", "-0", "0"},
		{"-0", "-0", "-0"},
		{"-0", "0", "0"},
		{"5", "-5", "0"},
		{"-5", "5", "0"},
		{"0E+10", "0E-10", "0E-10"},
		{"1E+100", "1", "1.000000000000000000000000000000000E+100"},
		{"1E+100", "-1", "1.000000000000000000000000000000000E+100"},
		{"1E+100", "0.5", "1.000000000000000000000000000000000E+100"},
		{"1E+100", "-0.5", "1.000000000000000000000000000000000E+100"},
		{"1234567890123456789012345678901234", "0.5", "1234567890123456789012345678901234"},
		{"1234567890123456789012345678901235", "0.5", "1234567890123456789012345678901236"},
		{"1234567890123456789012345678901234", "0.50000000000000000001", "1234567890123456789012345678901235"},
		{"9999999999999999999999999999999999", "1", "1.000000000000000000000000000000000E+34"},
		{"9.999999999999999999999999999999999E+6144", "9.999999999999999999999999999999999E+6144", "Infinity"},
		{"-9.999999999999999999999999999999999E+6144", "-1E+6111", "-Infinity"},
		{"9.999999999999999999999999999999999E+6144", "-9.999999999999999999999999999999999E+6144", "0E+6111"},
		{"1E-6176", "1E-6176", "2E-6176"},
		{"1E-6176", "-1E-6176", "0E-6176"},
		{"1E+6111", "0E-6176", "1.000000000000000000000000000000000E+6111"},
		{"0E+6111", "0E+6111", "0E+6111"},
		{"NaN", "1", "NaN"},
		{"1", "NaN", "NaN"},
		{"Infinity", "-Infinity", "NaN"},
		{"-Infinity", "-Infinity", "-Infinity"},
		{"Infinity", "1E+6111", "Infinity"},
		{"-Infinity", "5", "-Infinity"},
		{"0.1", "0.2", "0.3"},
		{"1E+50", "-1E-50", "1.000000000000000000000000000000000E+50"},
		{"100", "-0.001", "99.999"},
	};

	RUN_DECIMAL_CASES(cases, false);
}

TEST(decimal_multiply)
{
	static const DecimalCase cases[] = {
		{"2", "3", "6"},
		{"-2", "3", "-6"},
		{"-0", "-1", "0"},
		{"-5", "0", "-0"},
		{"0E+10", "1", "0E+10"},
		{"-0E-10", "1", "-0E-10"},
		{"1.1", "1.1", "1.21"},
		{"1234567890123456789012345678901234", "1.1", "1358024679135802467913580246791357"},
		{"9.999999999999999999999999999999999E+6144", "2", "Infinity"},
		{"9.999999999999999999999999999999999E+6144", "-2", "-Infinity"},
		{"1E+6111", "10", "1.0E+6112"},
		{"1E+6100", "1E+11", "1E+6111"},
		{"1E+6000", "1E+6000", "Infinity"},
		{"1E-6176", "0.1", "0E-6176"},
		{"1E-6176", "0.5", "0E-6176"},
		{"3E-6176", "0.5", "2E-6176"},
		{"1E-6176", "0.6", "1E-6176"},
		{"1E-3000", "1E-3000", "1E-6000"},
		{"0E+6111", "0E+6111", "0E+6111"},
		{"0E-6176", "0E-6176", "0E-6176"},
		{"Infinity", "0", "NaN"},
		{"-0", "Infinity", "NaN"},
		{"Infinity", "-2", "-Infinity"},
		{"-Infinity", "-Infinity", "Infinity"},
		{"NaN", "0", "NaN"},
		{"Infinity", "NaN", "NaN"},
		{"9999999999999999999999999999999999", "9999999999999999999999999999999999", "9.999999999999999999999999999999998E+67"},
		{"0.5", "0.5", "0.25"},
		{"15", "0.1", "1.5"},
		{"1.5", "2", "3.0"},
	};

	RUN_DECIMAL_CASES(cases, true);
}

/* Addition and multiplication commute, exactly */
TEST(decimal_commutes)
{
	static const char *const values[] = {
		"0", "-0", "1", "-1", "0.5", "1.000", "1E+100", "-1E-6176",
		"9.999999999999999999999999999999999E+6144",
		"1234567890123456789012345678901234", "3E-6176", "0E+6111",
		"Infinity", "-Infinity", "NaN", "0.001", "-99.999"
	};

	for (int i = 0; i < (int) lengthof(values); i++)
	{
		for (int j = 0; j < (int) lengthof(values); j++)
		{
			BsonDecimal x;
			BsonDecimal y;
			BsonDecimal r1;
			BsonDecimal r2;
			char		t1[BSON_DECIMAL128_STRING];
			char		t2[BSON_DECIMAL128_STRING];

			Decode(values[i], &x);
			Decode(values[j], &y);
			BsonDecimalAdd(&x, &y, &r1);
			BsonDecimalAdd(&y, &x, &r2);
			Encode(&r1, t1);
			Encode(&r2, t2);
			CHECK_STR_EQ(t1, t2);
			BsonDecimalMultiply(&x, &y, &r1);
			BsonDecimalMultiply(&y, &x, &r2);
			Encode(&r1, t1);
			Encode(&r2, t2);
			CHECK_STR_EQ(t1, t2);
		}
	}
}

/* MongoDB's Decimal128(double, kRoundTo15Digits) */
TEST(decimal_from_double)
{
	static const struct
	{
		double		value;
		const char *result;
	}			cases[] = {
		{10.5, "10.5000000000000"},
		{2.5, "2.50000000000000"},
		{0.1, "0.100000000000000"},
		{-0.1, "-0.100000000000000"},
		{1.0 / 3, "0.333333333333333"},
		{0.30000000000000004, "0.300000000000000"},
		{9.9999999999999995, "10.0000000000000"},
		{1e16, "1.00000000000000E+16"},
		{12345678901234567890.0, "1.23456789012346E+19"},
		{5e-324, "4.94065645841247E-324"},
		{1.7976931348623157e308, "1.79769313486232E+308"},
		{-0.0, "-0"},
		{0.0, "0"},
		{1e-5, "0.0000100000000000000"},
		{123.456, "123.456000000000"},
		{0.5, "0.500000000000000"},
	};

	for (int i = 0; i < (int) lengthof(cases); i++)
	{
		BsonDecimal d;
		char		got[BSON_DECIMAL128_STRING];

		BsonDecimalFromDouble(cases[i].value, &d);
		Encode(&d, got);
		CHECK_STR_EQ(got, cases[i].result);
	}
}

/* Special doubles, integers, and the encoding */
TEST(decimal_conversions)
{
	BsonDecimal d;
	bson_decimal128_t dec;
	bson_decimal128_t want;
	char		text[BSON_DECIMAL128_STRING];

	BsonDecimalFromDouble(INFINITY, &d);
	CHECK(d.kind == BSON_NUMBER_INFINITY && !d.negative);
	BsonDecimalFromDouble(-INFINITY, &d);
	CHECK(d.kind == BSON_NUMBER_INFINITY && d.negative);
	BsonDecimalFromDouble(NAN, &d);
	CHECK(d.kind == BSON_NUMBER_NAN);
	BsonEncodeDecimal128(&d, &dec);
	CHECK_EQ_U64(dec.high, UINT64CONST(0x7C00000000000000));
	CHECK_EQ_U64(dec.low, 0);

	BsonDecimalFromInt64(PG_INT64_MIN, &d);
	Encode(&d, text);
	CHECK_STR_EQ(text, "-9223372036854775808");
	BsonDecimalFromInt64(PG_INT64_MAX, &d);
	Encode(&d, text);
	CHECK_STR_EQ(text, "9223372036854775807");
	BsonDecimalFromInt64(0, &d);
	Encode(&d, text);
	CHECK_STR_EQ(text, "0");

	/* the encoding is libbson's */
	Decode("-1.5E-10", &d);
	BsonEncodeDecimal128(&d, &dec);
	bson_decimal128_from_string("-1.5E-10", &want);
	CHECK_EQ_U64(dec.high, want.high);
	CHECK_EQ_U64(dec.low, want.low);
	Decode("9.999999999999999999999999999999999E+6144", &d);
	BsonEncodeDecimal128(&d, &dec);
	bson_decimal128_from_string("9.999999999999999999999999999999999E+6144", &want);
	CHECK_EQ_U64(dec.high, want.high);
	CHECK_EQ_U64(dec.low, want.low);
	Decode("-Infinity", &d);
	BsonEncodeDecimal128(&d, &dec);
	CHECK_EQ_U64(dec.high, UINT64CONST(0xF800000000000000));
}

/* Equality by value */
TEST(decimal_equal)
{
	static const struct
	{
		const char *x;
		const char *y;
		bool		equal;
	}			cases[] = {
		{"1", "1.000", true},
		{"-0", "0E+10", true},
		{"100", "1E+2", true},
		{"1E+2", "1.00E+2", true},
		{"1", "-1", false},
		{"1", "1.000000000000000000000000000000001", false},
		{"1E-6176", "0", false},
		{"Infinity", "Infinity", true},
		{"Infinity", "-Infinity", false},
		{"Infinity", "9.999999999999999999999999999999999E+6144", false},
		{"NaN", "NaN", false},
		{"NaN", "1", false},
	};

	for (int i = 0; i < (int) lengthof(cases); i++)
	{
		BsonDecimal x;
		BsonDecimal y;

		Decode(cases[i].x, &x);
		Decode(cases[i].y, &y);
		UnitChecks++;
		if (BsonDecimalEqual(&x, &y) != cases[i].equal ||
			BsonDecimalEqual(&y, &x) != cases[i].equal)
			UnitFail(__FILE__, __LINE__, "%s == %s should be %s", cases[i].x,
					 cases[i].y, cases[i].equal ? "true" : "false");
	}
}
