-- Date aggregation expressions in aggregate and find: the date parts with
-- time zones, $dateToString/$dateFromString, $dateToParts/$dateFromParts,
-- $dateAdd/$dateSubtract, $dateDiff, $dateTrunc.  Their semantics are
-- unit-tested in test/unit/test_expr_date.c; this checks the SQL surface
-- and errors.
SET search_path = public, nosql;

SELECT run_command('exprdate', '{"insert": "t", "documents": [
  {"_id": 1, "d": {"$date": "2024-06-15T10:30:45.123Z"}, "s": "2017-02-08T12:10:40.787",
   "tz": "America/New_York"},
  {"_id": 2, "d": {"$date": "2021-03-14T06:30:00Z"}, "s": "oct 20 2020", "tz": "+05:30"},
  {"_id": 3, "s": null}]}');

-- parts, in UTC and in the document's zone
SELECT run_command('exprdate', '{"aggregate": "t", "cursor": {}, "pipeline": [
  {"$sort": {"_id": 1}},
  {"$project": {"y": {"$year": "$d"}, "dow": {"$dayOfWeek": "$d"},
   "isoWeek": {"$isoWeek": ["$d"]}, "h": {"$hour": {"date": "$d", "timezone": "$tz"}},
   "parts": {"$dateToParts": {"date": "$d", "timezone": "$tz", "iso8601": true}}}}]}');

-- formatting and parsing
SELECT run_command('exprdate', '{"find": "t", "sort": {"_id": 1}, "projection": {
  "str": {"$dateToString": {"date": "$d", "timezone": "$tz", "onNull": "none"}},
  "fmt": {"$dateToString": {"date": "$d", "format": "%G-W%V-%u %j %z %Z %b"}},
  "parsed": {"$dateFromString": {"dateString": "$s", "onNull": "no string"}},
  "fromParts": {"$dateFromParts": {"year": 2017, "month": 14, "day": 1, "timezone": "Europe/Paris"}}}}');

-- arithmetic, differences and truncation (a DST change in New York on 2021-03-14)
SELECT run_command('exprdate', '{"aggregate": "t", "cursor": {}, "pipeline": [
  {"$match": {"d": {"$exists": true}}}, {"$sort": {"_id": 1}},
  {"$project": {
   "plusMonth": {"$dateAdd": {"startDate": "$d", "unit": "month", "amount": 1}},
   "minusDay": {"$dateSubtract": {"startDate": "$d", "unit": "day", "amount": 1, "timezone": "America/New_York"}},
   "weeks": {"$dateDiff": {"startDate": {"$date": "2024-01-01T00:00:00Z"}, "endDate": "$d", "unit": "week", "startOfWeek": "mon"}},
   "quarter": {"$dateTrunc": {"date": "$d", "unit": "quarter"}},
   "hours": {"$dateTrunc": {"date": "$d", "unit": "hour", "binSize": 4, "timezone": "$tz"}}}}]}');

-- errors
SELECT run_command('exprdate', '{"aggregate": "t", "cursor": {}, "pipeline": [{"$project": {"x": {"$year": "$s"}}}]}');
SELECT run_command('exprdate', '{"aggregate": "t", "cursor": {}, "pipeline": [{"$project": {"x": {"$year": {"date": "$d", "timezone": "Mars/Olympus"}}}}]}');
SELECT run_command('exprdate', '{"aggregate": "t", "cursor": {}, "pipeline": [{"$project": {"x": {"$dateToString": {"date": "$d", "format": "%Q"}}}}]}');
SELECT run_command('exprdate', '{"aggregate": "t", "cursor": {}, "pipeline": [{"$project": {"x": {"$dateFromString": {"dateString": "2019-02-29"}}}}]}');
SELECT run_command('exprdate', '{"aggregate": "t", "cursor": {}, "pipeline": [{"$project": {"x": {"$dateAdd": {"startDate": "$d", "unit": "days", "amount": 1}}}}]}');
SELECT run_command('exprdate', '{"aggregate": "t", "cursor": {}, "pipeline": [{"$project": {"x": {"$dateAdd": {"startDate": "$d", "unit": "day", "amount": 1.5}}}}]}');
SELECT run_command('exprdate', '{"aggregate": "t", "cursor": {}, "pipeline": [{"$project": {"x": {"$dateTrunc": {"date": "$d", "unit": "day", "binSize": 0}}}}]}');
SELECT run_command('exprdate', '{"aggregate": "t", "cursor": {}, "pipeline": [{"$project": {"x": {"$dateFromParts": {"year": 2017, "isoWeek": 1}}}}]}');
SELECT run_command('exprdate', '{"aggregate": "t", "cursor": {}, "pipeline": [{"$project": {"x": {"$dateDiff": {"startDate": "$d", "unit": "day"}}}}]}');

SELECT run_command('exprdate', '{"dropDatabase": 1}');
