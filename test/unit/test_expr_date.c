/*-------------------------------------------------------------------------
 *
 * test_expr_date.c
 *	  Unit tests of the date aggregation expressions (src/expr_date.c):
 *	  calendar parts in time zones (fixed offsets and ICU's Olson zones,
 *	  across DST changes), formatting and parsing, date arithmetic,
 *	  truncation and differences, MongoDB's error codes, and the ends of
 *	  the date range (+-2^63 ms) where nothing may overflow.
 *
 * Expressions, documents and results are Extended JSON with single
 * quotes; a result is compared as the canonical Extended JSON of
 * {'r': <value>} ({} when the value is missing).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "bson_json.h"
#include "expr.h"
#include "expr_cases.h"
#include "lib/stringinfo.h"
#include "unit.h"

#define D(ms) "{'$date': {'$numberLong': '" #ms "'}}"
#define R_DATE(ms) "{'r': {'$date': {'$numberLong': '" #ms "'}}}"
#define R_INT(i) "{'r': {'$numberInt': '" #i "'}}"

TEST(expr_date_parts)
{
	static const ExprCase cases[] = {
		/* 2024-06-15T10:30:45.123Z, a Saturday */
		{"{'$year': '$d'}", "{'d': " D(1718447445123) "}", R_INT(2024)},
		{"{'$month': ['$d']}", "{'d': " D(1718447445123) "}", R_INT(6)},
		{"{'$dayOfMonth': {'date': '$d'}}", "{'d': " D(1718447445123) "}", R_INT(15)},
		{"{'$dayOfWeek': '$d'}", "{'d': " D(1718447445123) "}", R_INT(7)},
		{"{'$isoDayOfWeek': '$d'}", "{'d': " D(1718447445123) "}", R_INT(6)},
		{"{'$dayOfYear': '$d'}", "{'d': " D(1718447445123) "}", R_INT(167)},
		{"{'$hour': '$d'}", "{'d': " D(1718447445123) "}", R_INT(10)},
		{"{'$minute': '$d'}", "{'d': " D(1718447445123) "}", R_INT(30)},
		{"{'$second': '$d'}", "{'d': " D(1718447445123) "}", R_INT(45)},
		{"{'$millisecond': '$d'}", "{'d': " D(1718447445123) "}", R_INT(123)},
		{"{'$week': '$d'}", "{'d': " D(1718447445123) "}", R_INT(23)},
		{"{'$isoWeek': '$d'}", "{'d': " D(1718447445123) "}", R_INT(24)},
		{"{'$isoWeekYear': '$d'}", "{'d': " D(1718447445123) "}", R_INT(2024)},
		/* 2021-01-01 belongs to ISO week 53 of 2020 */
		{"{'$isoWeek': " D(1609459200000) "}", "{}", R_INT(53)},
		{"{'$isoWeekYear': " D(1609459200000) "}", "{}", R_INT(2020)},
		/* time zones: offsets, Olson names and DST */
		{"{'$hour': {'date': " D(1718447445123) ", 'timezone': '+05:30'}}", "{}", R_INT(16)},
		{"{'$minute': {'date': " D(1718447445123) ", 'timezone': '+0530'}}", "{}", R_INT(0)},
		{"{'$hour': {'date': " D(1718447445123) ", 'timezone': '-08'}}", "{}", R_INT(2)},
		{"{'$hour': {'date': " D(1718447445123) ", 'timezone': 'America/New_York'}}", "{}", R_INT(6)},
		{"{'$hour': {'date': " D(1704110400000) ", 'timezone': 'America/New_York'}}", "{}", R_INT(7)},
		{"{'$year': {'date': " D(1735686000000) ", 'timezone': 'Europe/Helsinki'}}", "{}", R_INT(2025)},
		{"{'$year': {'date': '$d', 'timezone': '$tz'}}", "{'d': " D(0) "}", "{'r': null}"},
		{"{'$year': {'date': " D(0) ", 'timezone': 'america/new_york'}}", "{}", NULL, 40485},
		{"{'$year': {'date': " D(0) ", 'timezone': '+100:00'}}", "{}", NULL, 40485},
		{"{'$year': {'date': " D(0) ", 'timezone': 'Z'}}", "{}", NULL, 40485},
		{"{'$year': {'date': " D(0) ", 'timezone': ''}}", "{}", NULL, 40485},
		{"{'$year': {'date': " D(0) ", 'timezone': 'Etc/Unknown'}}", "{}", NULL, 40485},
		{"{'$year': {'date': " D(0) ", 'timezone': 5}}", "{}", NULL, 40517},
		/* timestamps and ObjectIds are dates */
		{"{'$year': {'$timestamp': {'t': 4294967295, 'i': 1}}}", "{}", R_INT(2106)},
		{"{'$year': {'$oid': '800000000000000000000000'}}", "{}", R_INT(1901)},
		/* null, missing, wrong types, argument forms */
		{"{'$year': '$nosuch'}", "{}", "{'r': null}"},
		{"{'$year': 'x'}", "{}", NULL, 16006},
		{"{'$year': []}", "{}", NULL, 40536},
		{"{'$year': {'timezone': 'UTC'}}", "{}", NULL, 40539},
		{"{'$year': {'date': 1, 'x': 1}}", "{}", NULL, 40535},
		/* the ends of the range */
		{"{'$year': " D(9223372036854775807) "}", "{}", R_INT(292278994)},
		{"{'$year': " D(-9223372036854775808) "}", "{}", R_INT(-292275055)},
		{"{'$type': {'$isoWeek': {'date': " D(-9223372036854775808) ", 'timezone': 'Asia/Tokyo'}}}",
		"{}", "{'r': 'int'}"},
		{"{'$tsSecond': {'$timestamp': {'t': 7, 'i': 3}}}", "{}", "{'r': {'$numberLong': '7'}}"},
		{"{'$tsIncrement': {'$timestamp': {'t': 7, 'i': 3}}}", "{}", "{'r': {'$numberLong': '3'}}"},
		{"{'$tsSecond': 1}", "{}", NULL, 5687301},
	};

	CHECK_EXPRS(cases);
}

TEST(expr_date_to_from_string)
{
	static const ExprCase cases[] = {
		{"{'$dateToString': {'date': " D(1718447445123) "}}", "{}",
		"{'r': '2024-06-15T10:30:45.123Z'}"},
		{"{'$dateToString': {'date': " D(1704110400000) ", 'timezone': 'America/New_York'}}", "{}",
		"{'r': '2024-01-01T07:00:00.000'}"},
		{"{'$dateToString': {'date': " D(1718447445123) ", 'format': '%G-W%V-%u %j %U %w %b %B %%'}}",
		"{}", "{'r': '2024-W24-6 167 23 7 Jun June %'}"},
		{"{'$dateToString': {'date': " D(1388564139736) ", 'format': '%H:%M%z %Z', 'timezone': '+04:30'}}",
		"{}", "{'r': '12:45+0430 270'}"},
		{"{'$dateToString': {'date': '$no', 'onNull': 'none'}}", "{}", "{'r': 'none'}"},
		{"{'$dateToString': {'date': " D(0) ", 'format': '%x'}}", "{}", NULL, 18536},
		{"{'$dateToString': {'date': " D(0) ", 'format': '%'}}", "{}", NULL, 18535},
		{"{'$dateToString': {'date': " D(0) ", 'format': 1}}", "{}", NULL, 18533},
		{"{'$dateToString': {'date': " D(9223372036854775807) "}}", "{}", NULL, 18537},
		{"{'$dateToString': {'format': '%Y'}}", "{}", NULL, 18628},
		{"{'$dateToString': 1}", "{}", NULL, 18629},
		{"{'$dateFromString': {'dateString': '2017-02-08T12:10:40.787'}}", "{}", R_DATE(1486555840787)},
		{"{'$dateFromString': {'dateString': '2017-02-08T12:10:40.787', 'timezone': 'America/New_York'}}",
		"{}", R_DATE(1486573840787)},
		{"{'$dateFromString': {'dateString': '2017-02-08T12:10:40+05:00'}}", "{}", R_DATE(1486537840000)},
		{"{'$dateFromString': {'dateString': 'oct 20 2020'}}", "{}", R_DATE(1603152000000)},
		{"{'$dateFromString': {'dateString': '06-15-2018', 'format': '%m-%d-%Y'}}", "{}",
		R_DATE(1529020800000)},
		{"{'$dateFromString': {'dateString': '2024-W24-6', 'format': '%G-W%V-%u'}}", "{}",
		R_DATE(1718409600000)},
		{"{'$dateFromString': {'dateString': '2024-06-15 +330', 'format': '%Y-%m-%d %Z'}}", "{}",
		R_DATE(1718389800000)},
		{"{'$dateFromString': {'dateString': '2019-02-29'}}", "{}", NULL, 241},
		{"{'$dateFromString': {'dateString': 'bad', 'onError': 0}}", "{}", R_INT(0)},
		{"{'$dateFromString': {'dateString': 1}}", "{}", NULL, 241},
		{"{'$dateFromString': {'dateString': '2017-02-08T12:10:40Z', 'timezone': 'Europe/Paris'}}", "{}",
		NULL, 241},
		{"{'$dateFromString': {'dateString': 'x', 'format': '%Q'}}", "{}", NULL, 18536},
		{"{'$dateFromString': {'dateString': 'x', 'format': 1}}", "{}", NULL, 40684},
		{"{'$dateFromString': {'format': '%Y'}}", "{}", NULL, 40542},
		{"{'$dateFromString': {'dateString': 'x', 'y': 1}}", "{}", NULL, 40541},
	};

	CHECK_EXPRS(cases);
}

TEST(expr_date_parts_documents)
{
	static const ExprCase cases[] = {
		{"{'$dateToParts': {'date': " D(1718447445123) "}}", "{}",
		"{'r': {'year': {'$numberInt': '2024'}, 'month': {'$numberInt': '6'}, "
		"'day': {'$numberInt': '15'}, 'hour': {'$numberInt': '10'}, 'minute': {'$numberInt': '30'}, "
		"'second': {'$numberInt': '45'}, 'millisecond': {'$numberInt': '123'}}}"},
		{"{'$dateToParts': {'date': " D(1718447445123) ", 'iso8601': true}}", "{}",
		"{'r': {'isoWeekYear': {'$numberInt': '2024'}, 'isoWeek': {'$numberInt': '24'}, "
		"'isoDayOfWeek': {'$numberInt': '6'}, 'hour': {'$numberInt': '10'}, "
		"'minute': {'$numberInt': '30'}, 'second': {'$numberInt': '45'}, "
		"'millisecond': {'$numberInt': '123'}}}"},
		{"{'$dateToParts': {'date': " D(0) ", 'iso8601': 1}}", "{}", NULL, 40521},
		{"{'$dateToParts': {}}", "{}", NULL, 40522},
		{"{'$dateFromParts': {'year': 2017, 'month': 14, 'day': 1, 'hour': 12}}", "{}",
		R_DATE(1517486400000)},
		{"{'$dateFromParts': {'year': 2020, 'month': 1, 'day': 1, 'millisecond': -1}}", "{}",
		R_DATE(1577836799999)},
		{"{'$dateFromParts': {'isoWeekYear': 2017, 'isoWeek': 6, 'isoDayOfWeek': 3, 'hour': 12}}", "{}",
		R_DATE(1486555200000)},
		{"{'$dateFromParts': {'year': 2016, 'month': 12, 'day': 31, 'hour': 23, 'minute': 46, "
		"'second': 12, 'timezone': 'America/New_York'}}", "{}", R_DATE(1483245972000)},
		{"{'$dateFromParts': {'year': 2020, 'month': 1, 'day': 1, 'hour': 12, 'timezone': '+99:99'}}",
		"{}", R_DATE(1577517660000)},
		{"{'$dateFromParts': {'year': 10000}}", "{}", NULL, 40523},
		{"{'$dateFromParts': {'year': 2020, 'month': 40000}}", "{}", NULL, 31034},
		{"{'$dateFromParts': {'year': 2017.5}}", "{}", NULL, 40515},
		{"{'$dateFromParts': {'year': 2017, 'isoWeek': 6}}", "{}", NULL, 40489},
		{"{'$dateFromParts': {'month': 1}}", "{}", NULL, 40516},
		{"{'$dateFromParts': {'year': '$no'}}", "{}", "{'r': null}"},
	};

	CHECK_EXPRS(cases);
}

TEST(expr_date_arithmetic)
{
	static const ExprCase cases[] = {
		/* 2020-01-31 + 1 month clamps to February's last day */
		{"{'$dateAdd': {'startDate': " D(1580428800000) ", 'unit': 'month', 'amount': 1}}", "{}",
		R_DATE(1582934400000)},
		{"{'$dateSubtract': {'startDate': " D(1582934400000) ", 'unit': 'day', 'amount': 29}}", "{}",
		R_DATE(1580428800000)},
		{"{'$dateAdd': {'startDate': " D(0) ", 'unit': 'hour', 'amount': 2.0}}", "{}",
		R_DATE(7200000)},
		/* a day across a DST change keeps the local time */
		{"{'$dateAdd': {'startDate': " D(1615680000000) ", 'unit': 'day', 'amount': 1, "
		"'timezone': 'America/New_York'}}", "{}", R_DATE(1615762800000)},
		{"{'$dateAdd': {'startDate': " D(0) ", 'unit': 'day', 'amount': 1.5}}", "{}", NULL, 5166405},
		{"{'$dateAdd': {'startDate': 1, 'unit': 'day', 'amount': 1}}", "{}", NULL, 5166403},
		{"{'$dateAdd': {'startDate': " D(0) ", 'unit': 'Day', 'amount': 1}}", "{}", NULL, 9},
		{"{'$dateAdd': {'startDate': " D(0) ", 'unit': 1, 'amount': 1}}", "{}", NULL, 5439013},
		{"{'$dateAdd': {'startDate': " D(0) ", 'unit': 'day'}}", "{}", NULL, 5166402},
		{"{'$dateAdd': {'startDate': " D(0) ", 'unit': 'month', "
		"'amount': {'$numberLong': '-30000000000'}}}", "{}", NULL, 5976500},
		{"{'$dateAdd': {'startDate': " D(9223372036854775807) ", 'unit': 'millisecond', 'amount': 1}}",
		"{}", NULL, 5976500},
		{"{'$dateSubtract': {'startDate': " D(0) ", 'unit': 'year', "
		"'amount': {'$numberLong': '-9223372036854775808'}}}", "{}", NULL, 6045000},
		{"{'$dateAdd': {'startDate': null, 'unit': 'x', 'amount': 1}}", "{}", "{'r': null}"},
		/* differences count boundaries */
		{"{'$dateDiff': {'startDate': " D(1704067199999) ", 'endDate': " D(1704067200000) ", "
		"'unit': 'year'}}", "{}", R_INT(1)},
		{"{'$dateDiff': {'startDate': " D(1704067200000) ", 'endDate': " D(1706745600000) ", "
		"'unit': 'week', 'startOfWeek': 'MON'}}", "{}", R_INT(4)},
		{"{'$dateDiff': {'startDate': " D(1615701600000) ", 'endDate': " D(1615708800000) ", "
		"'unit': 'hour', 'timezone': 'America/New_York'}}", "{}", R_INT(2)},
		{"{'$dateDiff': {'startDate': " D(-9223372036854775808) ", 'endDate': " D(9223372036854775807) ", "
		"'unit': 'millisecond'}}", "{}", NULL, 5166308},
		{"{'$dateDiff': {'startDate': " D(-9223372036854775808) ", 'endDate': " D(9223372036854775807) ", "
		"'unit': 'year'}}", "{}", R_INT(584554049)},
		{"{'$dateDiff': {'startDate': " D(0) ", 'endDate': " D(0) ", 'unit': 'week', 'startOfWeek': 1}}",
		"{}", NULL, 5439015},
		{"{'$dateDiff': {'startDate': " D(0) ", 'endDate': " D(0) ", 'unit': 'week', 'startOfWeek': 'x'}}",
		"{}", NULL, 5439016},
		{"{'$dateDiff': {'endDate': " D(0) ", 'unit': 'day'}}", "{}", NULL, 5166303},
		/* truncation */
		{"{'$dateTrunc': {'date': " D(1718447445123) ", 'unit': 'hour', 'binSize': 4}}", "{}",
		R_DATE(1718438400000)},
		{"{'$dateTrunc': {'date': " D(1718447445123) ", 'unit': 'week'}}", "{}", R_DATE(1717891200000)},
		{"{'$dateTrunc': {'date': " D(1718447445123) ", 'unit': 'quarter'}}", "{}", R_DATE(1711929600000)},
		{"{'$dateTrunc': {'date': " D(1636266600000) ", 'unit': 'hour', 'timezone': 'America/New_York'}}",
		"{}", R_DATE(1636264800000)},
		{"{'$dateTrunc': {'date': " D(0) ", 'unit': 'day', 'binSize': 0}}", "{}", NULL, 5439018},
		{"{'$dateTrunc': {'date': " D(0) ", 'unit': 'day', 'binSize': 'x'}}", "{}", NULL, 5439017},
		{"{'$dateTrunc': {'date': " D(0) ", 'unit': 'hour', "
		"'binSize': {'$numberLong': '2562047788016999'}}}", "{}", NULL, 5439002},
		{"{'$dateTrunc': {'date': " D(-9223372036854775808) ", 'unit': 'second'}}", "{}", NULL, 5439002},
		{"{'$type': {'$dateTrunc': {'date': " D(9223372036854775807) ", 'unit': 'year', "
		"'timezone': 'Europe/Paris'}}}", "{}", "{'r': 'date'}"},
		{"{'$dateTrunc': {'date': 'x', 'unit': 'day'}}", "{}", NULL, 5166307},
		{"{'$dateTrunc': {'unit': 'day'}}", "{}", NULL, 5439009},
	};

	CHECK_EXPRS(cases);
}

/*
 * Every operator at the ends of the date range, in several zones and with
 * extreme amounts: results or errors, but no overflow (UBSan checks).
 */
TEST(expr_date_extremes)
{
	static const char *const dates[] = {
		"-9223372036854775808", "9223372036854775807", "-62135596800001", "253402300800000", "0"
	};
	static const char *const zones[] = {"UTC", "+99:99", "-99:99", "America/New_York", "Pacific/Apia"};
	static const char *const exprs[] = {
		"{'$dayOfYear': {'date': %s, 'timezone': '%s'}}",
		"{'$isoWeekYear': {'date': %s, 'timezone': '%s'}}",
		"{'$dateToParts': {'date': %s, 'timezone': '%s', 'iso8601': true}}",
		"{'$dateToString': {'date': %s, 'timezone': '%s', 'format': '%%d %%j %%U %%V %%z %%Z'}}",
		"{'$dateAdd': {'startDate': %s, 'timezone': '%s', 'unit': 'month', 'amount': {'$numberLong': '9223372036854775807'}}}",
		"{'$dateAdd': {'startDate': %s, 'timezone': '%s', 'unit': 'week', 'amount': {'$numberLong': '-9223372036854775807'}}}",
		"{'$dateSubtract': {'startDate': %s, 'timezone': '%s', 'unit': 'quarter', 'amount': 1}}",
		"{'$dateDiff': {'startDate': %s, 'endDate': {'$date': {'$numberLong': '9223372036854775807'}}, 'timezone': '%s', 'unit': 'hour'}}",
		"{'$dateDiff': {'startDate': %s, 'endDate': {'$date': {'$numberLong': '-9223372036854775808'}}, 'timezone': '%s', 'unit': 'week'}}",
		"{'$dateTrunc': {'date': %s, 'timezone': '%s', 'unit': 'week', 'binSize': {'$numberLong': '9223372036854775807'}}}",
		"{'$dateTrunc': {'date': %s, 'timezone': '%s', 'unit': 'millisecond', 'binSize': 7}}",
		"{'$dateTrunc': {'date': %s, 'timezone': '%s', 'unit': 'day', 'binSize': 3}}",
		"{'$dateTrunc': {'date': %s, 'timezone': '%s', 'unit': 'year', 'binSize': 1000}}",
	};

	for (int d = 0; d < (int) lengthof(dates); d++)
		for (int z = 0; z < (int) lengthof(zones); z++)
			for (int x = 0; x < (int) lengthof(exprs); x++)
			{
				char		date[80];
				char		text[512];
				ExprCase	c = {text, "{}", NULL, -1};
				AggExprScope *scope = AggExprScopeNew();
				AggArena	arena = {0};
				AggExprContext cx = {0};
				BsonQueryError error = {0};
				bson_t	   *spec;
				bson_iter_t it;
				AggExpr    *expr;
				bson_value_t v;

				snprintf(date, sizeof(date), "{'$date': {'$numberLong': '%s'}}", dates[d]);
				snprintf(text, sizeof(text), exprs[x], date, zones[z]);
				{
					char		wrapped[600];

					snprintf(wrapped, sizeof(wrapped), "{'e': %s}", c.expr);
					spec = ExprJson(wrapped, __FILE__, __LINE__);
				}
				if (spec != NULL)
				{
					bson_iter_init(&it, spec);
					bson_iter_next(&it);
					expr = AggExprParse(&it, scope, &error);
					if (expr == NULL)
						UnitFail(__FILE__, __LINE__, "%s does not parse", c.expr);
					else
					{
						cx.arena = &arena;
						(void) AggExprEval(expr, &cx, &v, &error);
					}
					bson_destroy(spec);
				}
				if (error.message != NULL)
					pfree(error.message);
				AggArenaReset(&arena);
				AggExprScopeFree(scope);
				UnitChecks++;
			}
}
