"""Tests of the conformance runner without a server:

    python3 -m unittest discover -s test/conformance -p 'test_*.py'

The comparison rules, the placeholders, the Extended JSON and BSON codec
(checked against pymongo's C codec), and whole cases from the cases file run
against a fake session.  Cases are taken from CONFORMANCE_CASES, else
../shared/conformance/functional-tests.jsonl beside the checkout; the tests
that need it are skipped when it is absent.
"""
import io
import json
import math
import os
import struct
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare as C  # noqa: E402
import run as R  # noqa: E402

import bson  # noqa: E402  (compare.py made it importable)
from bson.binary import UuidRepresentation  # noqa: E402
from bson.codec_options import CodecOptions  # noqa: E402
from bson.son import SON  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.environ.get("CONFORMANCE_CASES") or os.path.normpath(
    os.path.join(HERE, "..", "..", "..", "shared", "conformance", "functional-tests.jsonl"))

_lines = None


def case_lines():
    global _lines
    if _lines is None:
        _lines = {}
        with open(CASES, encoding="utf-8") as f:
            for line in f:
                _lines[json.loads(line)["id"]] = line
    return _lines


def need_cases(test):
    return unittest.skipUnless(os.path.exists(CASES), "no cases file at " + CASES)(test)


def case(case_id):
    return C.parse_case(case_lines()[case_id])


def ej(text):
    return C.loads(text)


def expect(**kw):
    e = {"op": "expect", "command_index": 0}
    e.update(kw)
    return e


def ok_reply(**fields):
    r = {"ok": 1.0}
    r.update(fields)
    return C.Outcome(reply=r)


def cursor_reply(batch):
    return C.Outcome(reply={"cursor": {"firstBatch": batch, "id": C.Int64(0),
                                       "ns": "db.c"}, "ok": 1.0})


def batch_expect(expected, **kw):
    return expect(kind="success", expected=expected, compare="cursor.firstBatch",
                  ignore_doc_order=kw.pop("ignore_doc_order", False),
                  ignore_order_in=kw.pop("ignore_order_in", None), **kw)


class TestExtendedJson(unittest.TestCase):
    def test_number_types(self):
        v = ej('{"a": {"$numberInt": "1"}, "b": {"$numberLong": "1"}, '
               '"c": {"$numberDouble": "1.0"}, "d": {"$numberDecimal": "1"}}')
        self.assertIs(type(v["a"]), C.Int32)
        self.assertIs(type(v["b"]), C.Int64)
        self.assertIs(type(v["c"]), float)
        self.assertIs(type(v["d"]), C.Decimal128)
        self.assertEqual(str(v["d"]), "1")

    def test_special_doubles(self):
        v = ej('[{"$numberDouble": "-0.0"}, {"$numberDouble": "NaN"}, '
               '{"$numberDouble": "Infinity"}, {"$numberDouble": "-Infinity"}]')
        self.assertEqual(math.copysign(1, v[0]), -1.0)
        self.assertTrue(math.isnan(v[1]))
        self.assertEqual(v[2], float("inf"))
        self.assertEqual(v[3], float("-inf"))

    def test_bare_json_numbers_follow_json_util(self):
        v = ej('[1, 2147483648, 1.5]')
        self.assertIs(type(v[0]), C.Int32)
        self.assertIs(type(v[1]), C.Int64)
        self.assertIs(type(v[2]), float)

    def test_int32_range_is_checked(self):
        v = ej('{"$numberInt": "2147483648"}')  # not a valid int32: stays a document
        self.assertIs(type(v), dict)

    def test_dates_over_the_whole_int64_range(self):
        v = ej('[{"$date": {"$numberLong": "-9223372036854775808"}}, '
               '{"$date": {"$numberLong": "9223372036854775807"}}]')
        self.assertEqual(v[0], C.DateTime(-(1 << 63)))
        self.assertEqual(v[1].ms, (1 << 63) - 1)

    def test_regex_operator_stays_a_document(self):
        v = ej('{"a": {"$regex": "^x", "$options": "i"}}')
        self.assertEqual(v["a"], {"$regex": "^x", "$options": "i"})
        self.assertIs(type(v["a"]), dict)
        v = ej('{"a": {"$regex": {"$regularExpression": {"pattern": "^x", "options": "i"}}}}')
        self.assertEqual(v["a"]["$regex"], C.Regex("^x", "i"))

    def test_dbref_shaped_documents_stay_documents(self):
        v = ej('{"$ref": "c", "$id": {"$numberInt": "1"}}')
        self.assertEqual(list(v), ["$ref", "$id"])

    def test_other_wrappers(self):
        v = ej('{"o": {"$oid": "507f1f77bcf86cd799439011"}, '
               '"b": {"$binary": {"base64": "AQI=", "subType": "04"}}, '
               '"t": {"$timestamp": {"t": {"$numberInt": "5"}, "i": {"$numberInt": "7"}}}, '
               '"mn": {"$minKey": {"$numberInt": "1"}}, "mx": {"$maxKey": 1}, '
               '"u": {"$undefined": true}, "s": {"$symbol": "x"}, "c": {"$code": "f()"}, '
               '"cs": {"$code": "f()", "$scope": {"a": {"$numberInt": "1"}}}, '
               '"p": {"$dbPointer": {"$ref": "a.b", "$id": {"$oid": "507f1f77bcf86cd799439011"}}}}')
        self.assertEqual(v["o"].oid.hex(), "507f1f77bcf86cd799439011")
        self.assertEqual(v["b"], C.Binary(4, b"\x01\x02"))
        self.assertEqual(v["t"], C.Timestamp(5, 7))
        self.assertEqual(v["mn"], C.MinKey())
        self.assertEqual(v["mx"], C.MaxKey())
        self.assertEqual(v["u"], C.Undefined())
        self.assertEqual(v["s"], C.Symbol("x"))
        self.assertEqual(v["c"], C.Code("f()"))
        self.assertIs(type(v["cs"]), C.CodeWithScope)
        self.assertEqual(v["p"].ns, "a.b")

    def test_key_order_is_kept(self):
        self.assertEqual(list(ej('{"b": 1, "a": 2, "c": 3}')), ["b", "a", "c"])

    def test_duplicate_keys_are_refused(self):
        with self.assertRaises(C.CaseError):
            C.parse_case('{"id": "x", "events": [], "id": "y"}')

    def test_bad_line(self):
        with self.assertRaises(C.CaseError):
            C.parse_case('{"id": "x", "events": [')
        with self.assertRaises(C.CaseError):
            C.parse_case('[1, 2]')


class TestBson(unittest.TestCase):
    def test_known_bytes(self):
        self.assertEqual(C.encode({"a": C.Int32(1)}),
                         b"\x0c\x00\x00\x00\x10a\x00\x01\x00\x00\x00\x00")
        self.assertEqual(C.encode({"a": C.Int64(1)}),
                         b"\x10\x00\x00\x00\x12a\x00" + struct.pack("<q", 1) + b"\x00")
        self.assertEqual(C.encode({"a": 1.0}),
                         b"\x10\x00\x00\x00\x01a\x00" + struct.pack("<d", 1.0) + b"\x00")
        self.assertEqual(C.encode({"a": [True]}),
                         b"\x11\x00\x00\x00\x04a\x00\x09\x00\x00\x00\x080\x00\x01\x00\x00")

    def test_round_trip_keeps_every_type(self):
        doc = ej(r'''{"i": {"$numberInt": "-7"}, "l": {"$numberLong": "-7"},
            "d": {"$numberDouble": "-0.0"}, "n": {"$numberDouble": "NaN"},
            "m": {"$numberDecimal": "-1.50E+3"}, "s": "\u00e9\u4e16\ud83c\udf89",
            "z": "a\u0000b", "o": {"$oid": "507f1f77bcf86cd799439011"},
            "t": true, "f": false, "nul": null,
            "dt": {"$date": {"$numberLong": "-9223372036854775808"}},
            "r": {"$regularExpression": {"pattern": "a.b", "options": "imsx"}},
            "ts": {"$timestamp": {"t": {"$numberLong": "4294967295"}, "i": {"$numberInt": "1"}}},
            "b0": {"$binary": {"base64": "", "subType": "00"}},
            "b2": {"$binary": {"base64": "AQID", "subType": "02"}},
            "bff": {"$binary": {"base64": "KgAAAA==", "subType": "ff"}},
            "mn": {"$minKey": 1}, "mx": {"$maxKey": 1}, "u": {"$undefined": true},
            "sym": {"$symbol": "s"}, "c": {"$code": "x"},
            "cs": {"$code": "x", "$scope": {"a": {"$numberInt": "1"}}},
            "p": {"$dbPointer": {"$ref": "a.b", "$id": {"$oid": "507f1f77bcf86cd799439011"}}},
            "arr": [[], {}, [{"$numberInt": "1"}, {"$numberLong": "1"}]],
            "$weird.key": {"$regex": "x"}}''')
        data = C.encode(doc)
        back = C.decode(data)
        self.assertEqual(list(back), list(doc))
        self.assertEqual(C.encode(back), data)  # byte-exact, field order kept
        for k in doc:
            self.assertIs(type(back[k]), type(doc[k]), k)
        self.assertEqual(math.copysign(1, back["d"]), -1.0)
        self.assertTrue(math.isnan(back["n"]))
        self.assertEqual(back["b2"], C.Binary(2, b"\x01\x02\x03"))
        self.assertIsNone(C.value_diff(doc, back, "", nan_equal=True))
        self.assertIsNotNone(C.value_diff(doc, back, "", nan_equal=False))  # NaN inside

    def test_pymongo_reads_our_bytes_as_the_same_values(self):
        doc = ej('''{"i": {"$numberInt": "1"}, "l": {"$numberLong": "1"},
            "d": {"$numberDouble": "1.0"}, "m": {"$numberDecimal": "1.0"},
            "dt": {"$date": {"$numberLong": "1000"}}, "b": {"$binary": {"base64": "AQ==",
            "subType": "80"}}, "r": {"$regularExpression": {"pattern": "x", "options": "i"}},
            "ts": {"$timestamp": {"t": 5, "i": 7}}, "o": {"$oid": "507f1f77bcf86cd799439011"},
            "a": [{"$minKey": 1}, {"$maxKey": 1}, null, true, "s"]}''')
        got = bson.BSON(C.encode(doc)).decode(CodecOptions(document_class=SON))
        self.assertIs(type(got["i"]), int)
        self.assertIs(type(got["l"]), bson.int64.Int64)
        self.assertIs(type(got["d"]), float)
        self.assertEqual(str(got["m"]), "1.0")
        self.assertEqual(got["dt"].microsecond, 0)
        self.assertEqual(got["dt"].second, 1)
        self.assertEqual((got["b"].subtype, bytes(got["b"])), (0x80, b"\x01"))
        self.assertEqual((got["r"].pattern, got["r"].flags), ("x", 2))
        self.assertEqual((got["ts"].time, got["ts"].inc), (5, 7))
        self.assertEqual(str(got["o"]), "507f1f77bcf86cd799439011")
        self.assertEqual(list(got), list(doc))
        # and pymongo's bytes for that decoded document are ours
        self.assertEqual(bson.BSON.encode(got, codec_options=CodecOptions(document_class=SON)),
                         C.encode(doc))

    @need_cases
    def test_every_case_loads_and_encodes_like_pymongo(self):
        """All lines parse (the 16 nested more than 100 levels too) and every
        command, document list and expectation encodes; where pymongo 3.11
        can represent the value, its decode-and-encode gives our bytes."""
        opts = CodecOptions(document_class=SON,
                            uuid_representation=UuidRepresentation.UNSPECIFIED)
        compared = 0
        for line in case_lines().values():
            c = C.parse_case(line)
            for ev in c["events"]:
                for key in ("command", "documents", "expected"):
                    if key not in ev:
                        continue
                    data = C.encode({"v": ev[key]})
                    self.assertEqual(C.encode(C.decode(data)), data, c["id"])
                    try:
                        theirs = bson.BSON.encode(bson.BSON(data).decode(opts),
                                                  codec_options=opts)
                    except Exception:
                        continue  # dates beyond datetime, odd UUID lengths, subtype 255
                    if b"$ref" in data:
                        continue  # pymongo turns a {"$ref": ...} document into a DBRef
                    self.assertEqual(theirs, data, c["id"])
                    compared += 1
        self.assertGreater(compared, 70000)

    def test_decode_is_strict(self):
        good = C.encode({"a": True, "b": [1]})
        bad_bool = good.replace(b"\x08a\x00\x01", b"\x08a\x00\x02")
        bad_key = good.replace(b"\x100\x00", b"\x101\x00")
        dup = C.encode({"a": C.Int32(1), "b": C.Int32(2)}).replace(b"\x10b\x00", b"\x10a\x00")
        bad_utf8 = C.encode({"a": "xy"}).replace(b"xy", b"\xff\xfe")
        for name, data in [("boolean", bad_bool), ("array key", bad_key), ("duplicate", dup),
                           ("utf-8", bad_utf8), ("trailing", good + b"\x00"),
                           ("truncated", good[:-1]), ("empty", b"")]:
            with self.assertRaises(C.BSONError, msg=name):
                C.decode(data)

    def test_unencodable(self):
        with self.assertRaises(C.BSONError):
            C.encode({"a\x00b": 1})
        with self.assertRaises(C.BSONError):
            C.encode({"a": object()})


class TestScalars(unittest.TestCase):
    def eq(self, a, b, nan_equal=False):
        return C.value_diff(a, b, "", nan_equal) is None

    def test_numeric_types_are_strict(self):
        values = [C.Int32(1), C.Int64(1), 1.0, C.Decimal128.from_string("1"), True]
        for i, a in enumerate(values):
            for j, b in enumerate(values):
                self.assertEqual(self.eq(a, b), i == j, (a, b))

    def test_same_type_compares_by_value(self):
        self.assertTrue(self.eq(C.Int64(5), C.Int64(5)))
        self.assertFalse(self.eq(C.Int64(5), C.Int64(6)))
        self.assertTrue(self.eq(2.5, 2.5))
        self.assertFalse(self.eq(2.5, 2.25))
        self.assertTrue(self.eq("a", "a"))
        self.assertFalse(self.eq("a", "A"))
        self.assertTrue(self.eq(None, None))
        self.assertFalse(self.eq(None, C.Undefined()))
        self.assertFalse(self.eq("x", C.Symbol("x")))
        self.assertTrue(self.eq(C.DateTime(5), C.DateTime(5)))
        self.assertFalse(self.eq(C.DateTime(5), C.Timestamp(0, 5)))
        self.assertFalse(self.eq(C.Binary(0, b"a"), C.Binary(4, b"a")))

    def test_negative_zero(self):
        self.assertFalse(self.eq(-0.0, 0.0))
        self.assertFalse(self.eq(0.0, -0.0))
        self.assertTrue(self.eq(-0.0, -0.0))
        self.assertFalse(self.eq(C.Decimal128.from_string("-0"),
                                 C.Decimal128.from_string("0")))

    def test_nan(self):
        nan = float("nan")
        self.assertFalse(self.eq(nan, nan))
        self.assertTrue(self.eq(nan, nan, nan_equal=True))
        self.assertFalse(self.eq(nan, 1.0, nan_equal=True))
        self.assertFalse(self.eq(1.0, nan, nan_equal=True))
        dnan = C.Decimal128.from_string("NaN")
        # decimal128 compares by its bits (pymongo's Decimal128 ==)
        self.assertTrue(self.eq(dnan, C.Decimal128.from_string("NaN")))
        self.assertTrue(self.eq(dnan, C.Decimal128.from_string("-NaN"), nan_equal=True))
        self.assertFalse(self.eq(dnan, C.Decimal128.from_string("-NaN")))
        # NaN stays type-strict, even with nan_equal
        self.assertFalse(self.eq(nan, dnan, nan_equal=True))

    def test_decimal_compares_bits(self):
        self.assertTrue(self.eq(C.Decimal128.from_string("1.0"),
                                C.Decimal128.from_string("1.0")))
        self.assertFalse(self.eq(C.Decimal128.from_string("1.0"),
                                 C.Decimal128.from_string("1.00")))

    def test_regex_options_are_a_set(self):
        self.assertTrue(self.eq(C.Regex("a", "im"), C.Regex("a", "mi")))
        self.assertFalse(self.eq(C.Regex("a", "i"), C.Regex("a", "")))
        self.assertFalse(self.eq(C.Regex("a", "i"), C.Regex("b", "i")))


class TestApprox(unittest.TestCase):
    """pytest.approx expectations recorded as {"$repr": "v \u00b1 tol"}."""

    def diff(self, repr_text, actual):
        return C.value_diff({"r": {"$repr": repr_text}}, {"r": actual})

    def test_within_and_outside_tolerance(self):
        self.assertIsNone(self.diff("2.0 \u00b1 2.0e-06", 2.000001))
        self.assertIsNotNone(self.diff("2.0 \u00b1 2.0e-06", 2.01))

    def test_nan(self):
        self.assertIsNone(self.diff("nan \u00b1 ???", float("nan")))
        self.assertIsNotNone(self.diff("nan \u00b1 ???", 1.0))

    def test_only_doubles(self):
        self.assertIsNotNone(self.diff("2.0 \u00b1 2.0e-06", C.Int32(2)))
        self.assertIsNotNone(self.diff("not an approx", 2.0))


class TestDocumentsAndArrays(unittest.TestCase):
    def test_documents_are_key_sets(self):
        a = ej('{"a": 1, "b": {"c": 2, "d": 3}}')
        b = ej('{"b": {"d": 3, "c": 2}, "a": 1}')
        self.assertIsNone(C.value_diff(a, b))
        self.assertIn("missing", C.value_diff(a, {"a": C.Int32(1)}))
        self.assertIn("unexpected", C.value_diff({"a": C.Int32(1)}, a))
        d = C.value_diff(a, ej('{"a": 1, "b": {"c": {"$numberLong": "2"}, "d": 3}}'))
        self.assertIn("b.c", d)
        self.assertIn("NumberLong(2)", d)

    def test_arrays_are_ordered(self):
        self.assertIsNone(C.value_diff(ej("[1, 2]"), ej("[1, 2]")))
        self.assertIsNotNone(C.value_diff(ej("[1, 2]"), ej("[2, 1]")))
        self.assertIsNotNone(C.value_diff(ej("[1, 2]"), ej("[1, 2, 3]")))
        self.assertIsNotNone(C.value_diff(ej("[1]"), ej("{\"0\": 1}")))

    def test_ignore_doc_order_is_a_multiset(self):
        e = batch_expect(ej('[{"a": 1}, {"a": 1}, {"a": 2}]'), ignore_doc_order=True)
        self.assertTrue(C.check_expect(e, cursor_reply(ej('[{"a": 2}, {"a": 1}, {"a": 1}]')))[0])
        # duplicates count
        self.assertFalse(C.check_expect(e, cursor_reply(ej('[{"a": 2}, {"a": 2}, {"a": 1}]')))[0])
        self.assertFalse(C.check_expect(e, cursor_reply(ej('[{"a": 1}, {"a": 2}]')))[0])
        # still type-strict inside
        self.assertFalse(C.check_expect(e, cursor_reply(
            ej('[{"a": 2}, {"a": 1}, {"a": {"$numberLong": "1"}}]')))[0])
        # field order inside the documents does not matter
        e = batch_expect(ej('[{"a": 1, "b": 2}, {"a": 0}]'), ignore_doc_order=True)
        self.assertTrue(C.check_expect(e, cursor_reply(ej('[{"a": 0}, {"b": 2, "a": 1}]')))[0])
        # without the flag, order matters
        e = batch_expect(ej('[{"a": 1}, {"a": 2}]'))
        self.assertFalse(C.check_expect(e, cursor_reply(ej('[{"a": 2}, {"a": 1}]')))[0])

    def test_ignore_order_in(self):
        e = batch_expect(ej('[{"_id": 1, "r": [1, 2, 2], "s": [1, 2]}]'), ignore_order_in=["r"])
        self.assertTrue(C.check_expect(e, cursor_reply(
            ej('[{"_id": 1, "r": [2, 1, 2], "s": [1, 2]}]')))[0])
        self.assertFalse(C.check_expect(e, cursor_reply(  # multiplicity
            ej('[{"_id": 1, "r": [2, 1, 1], "s": [1, 2]}]')))[0])
        self.assertFalse(C.check_expect(e, cursor_reply(  # "s" keeps its order
            ej('[{"_id": 1, "r": [2, 1, 2], "s": [2, 1]}]')))[0])
        self.assertFalse(C.check_expect(e, cursor_reply(  # types
            ej('[{"_id": 1, "r": [2, 1, 2.0], "s": [1, 2]}]')))[0])
        # nested arrays inside the field's elements keep their order
        e = batch_expect(ej('[{"r": [[1, 2], [3]]}]'), ignore_order_in=["r"])
        self.assertTrue(C.check_expect(e, cursor_reply(ej('[{"r": [[3], [1, 2]]}]')))[0])
        self.assertFalse(C.check_expect(e, cursor_reply(ej('[{"r": [[3], [2, 1]]}]')))[0])
        # on a raw reply: the reply's top-level fields
        e = expect(kind="success", expected=ej('{"values": [1, 2], "ok": 1.0}'),
                   compare="raw_reply", ignore_doc_order=False, ignore_order_in=["values"])
        self.assertTrue(C.check_expect(e, ok_reply(values=ej("[2, 1]")))[0])
        self.assertFalse(C.check_expect(e, ok_reply(values=ej("[2, 2]")))[0])

    def test_ignore_doc_order_with_ignore_order_in(self):
        e = batch_expect(ej('[{"k": 1, "r": [1, 2]}, {"k": 2, "r": [3]}]'),
                         ignore_doc_order=True, ignore_order_in=["r"])
        self.assertTrue(C.check_expect(e, cursor_reply(
            ej('[{"k": 2, "r": [3]}, {"r": [2, 1], "k": 1}]')))[0])
        self.assertFalse(C.check_expect(e, cursor_reply(
            ej('[{"k": 2, "r": [3]}, {"r": [2, 2], "k": 1}]')))[0])

    def test_nan_equal_in_a_batch(self):
        exp = ej('[{"v": {"$numberDouble": "NaN"}}]')
        got = ej('[{"v": {"$numberDouble": "NaN"}}]')
        self.assertFalse(C.check_expect(batch_expect(exp), cursor_reply(got))[0])
        self.assertTrue(C.check_expect(batch_expect(exp, nan_equal=True), cursor_reply(got))[0])
        self.assertFalse(C.check_expect(batch_expect(exp, nan_equal=True),
                                        cursor_reply(ej('[{"v": 1.5}]')))[0])


class TestRawReplyAndPartial(unittest.TestCase):
    def test_gossip_fields_are_dropped_at_the_top_only(self):
        e = expect(kind="success", expected=ej('{"ok": {"$numberDouble": "1.0"}}'),
                   compare="raw_reply", ignore_doc_order=False, ignore_order_in=None)
        gossip = {"$clusterTime": {"clusterTime": C.Timestamp(1, 1)},
                  "operationTime": C.Timestamp(1, 1), "electionId": C.ObjectId(b"x" * 12),
                  "opTime": {"ts": C.Timestamp(1, 1)}}
        self.assertTrue(C.check_expect(e, ok_reply(**gossip))[0])
        self.assertFalse(C.check_expect(e, ok_reply(n=C.Int32(0)))[0])
        self.assertFalse(C.check_expect(e, ok_reply(lastCommittedOpTime=C.Timestamp(1, 1)))[0])
        self.assertFalse(C.check_expect(e, C.Outcome(reply={"ok": C.Int32(1)}))[0])
        e = expect(kind="success", expected=ej('{"ok": 1.0, "x": {}}'), compare="raw_reply",
                   ignore_doc_order=False, ignore_order_in=None)
        self.assertFalse(C.check_expect(e, ok_reply(x={"opTime": C.Int32(1)}))[0])

    def test_success_partial(self):
        e = expect(kind="success_partial", compare="raw_reply",
                   expected=ej('{"n": 1, "a": {"b": 2}, "arr": [{"x": 1}]}'))
        good = ok_reply(n=C.Int32(1), a={"b": C.Int32(2), "c": C.Int32(3)},
                        arr=[{"x": C.Int32(1), "y": C.Int32(0)}, {"z": C.Int32(9)}],
                        extra="ignored")
        self.assertTrue(C.check_expect(e, good)[0])
        for bad in [ok_reply(n=C.Int64(1), a={"b": C.Int32(2)}, arr=[{"x": C.Int32(1)}]),
                    ok_reply(n=C.Int32(1), a={"c": C.Int32(2)}, arr=[{"x": C.Int32(1)}]),
                    ok_reply(n=C.Int32(1), a={"b": C.Int32(2)}, arr=[]),
                    ok_reply(n=C.Int32(1), a={"b": C.Int32(2)}, arr=[{"x": 1.0}]),
                    ok_reply(n=C.Int32(1), a=C.Int32(2), arr=[{"x": C.Int32(1)}]),
                    ok_reply(a={"b": C.Int32(2)}, arr=[{"x": C.Int32(1)}]),
                    C.Outcome(reply={"ok": 0.0, "errmsg": "no", "code": C.Int32(2)})]:
            self.assertFalse(C.check_expect(e, bad)[0], C.fmt(bad.reply))

    def test_first_batch_must_be_there(self):
        e = batch_expect([])
        self.assertTrue(C.check_expect(e, cursor_reply([]))[0])
        self.assertFalse(C.check_expect(e, ok_reply())[0])
        self.assertFalse(C.check_expect(e, ok_reply(cursor={"nextBatch": []}))[0])


class TestErrors(unittest.TestCase):
    def err(self, code, msg="boom", **extra):
        r = {"ok": 0.0, "errmsg": msg, "code": code, "codeName": "X"}
        r.update(extra)
        return C.Outcome(reply=r)

    def test_code(self):
        e = expect(kind="error", error_code=C.Int32(26))
        self.assertTrue(C.check_expect(e, self.err(C.Int32(26)))[0])
        self.assertFalse(C.check_expect(e, self.err(C.Int32(73)))[0])
        self.assertFalse(C.check_expect(e, self.err(C.Int64(26)))[0])  # type-strict
        self.assertFalse(C.check_expect(e, self.err(26.0))[0])
        self.assertFalse(C.check_expect(e, ok_reply())[0])
        self.assertFalse(C.check_expect(e, C.Outcome(failure="postgres error XX000: x"))[0])
        # pymongo needs errmsg to read an error
        self.assertFalse(C.check_expect(e, C.Outcome(reply={"ok": 0.0, "code": C.Int32(26)}))[0])
        # a reply without "ok" is an error too (OperationFailure with its code)
        self.assertTrue(C.check_expect(e, C.Outcome(reply={"code": C.Int32(26)}))[0])
        # ok: false / 0 (int) are falsy as well
        self.assertTrue(C.check_expect(e, C.Outcome(reply={"ok": False, "errmsg": "",
                                                           "code": C.Int32(26)}))[0])

    def test_write_errors_count_as_the_error(self):
        e = expect(kind="error", error_code=C.Int32(11000))
        r = ok_reply(n=C.Int32(0), writeErrors=[
            {"index": C.Int32(0), "code": C.Int32(11000), "errmsg": "E11000 dup"},
            {"index": C.Int32(1), "code": C.Int32(2), "errmsg": "other"}])
        self.assertTrue(C.check_expect(e, r)[0])
        e2 = expect(kind="error", error_code=C.Int32(2))
        self.assertFalse(C.check_expect(e2, r)[0])  # only the first write error counts
        self.assertFalse(C.check_expect(e, ok_reply(writeErrors=[]))[0])

    def test_message(self):
        e = expect(kind="error", error_code=C.Int32(2), error_msg="bad value")
        self.assertTrue(C.check_expect(e, self.err(C.Int32(2), "a bad value here"))[0])
        self.assertFalse(C.check_expect(e, self.err(C.Int32(2), "a Bad Value here"))[0])
        e = expect(kind="error", error_code=C.Int32(2), error_msg=None)
        self.assertTrue(C.check_expect(e, self.err(C.Int32(2), "anything"))[0])

    def test_no_error(self):
        e = expect(kind="no_error")
        self.assertTrue(C.check_expect(e, ok_reply())[0])
        self.assertTrue(C.check_expect(e, C.Outcome(reply={"ok": C.Int32(1)}))[0])
        self.assertFalse(C.check_expect(e, self.err(C.Int32(2)))[0])
        self.assertFalse(C.check_expect(e, C.Outcome(failure="postgres error 42883: x"))[0])
        # like the suite (assertNotError), a reply with writeErrors did not fail
        self.assertTrue(C.check_expect(e, ok_reply(writeErrors=[
            {"index": C.Int32(0), "code": C.Int32(2), "errmsg": "x"}]))[0])

    def test_success_when_the_command_failed(self):
        e = batch_expect([])
        ok, reason = C.check_expect(e, self.err(C.Int32(2), "nope"))
        self.assertFalse(ok)
        self.assertIn("nope", reason)

    def test_unsupported(self):
        for e in [expect(kind="sorta"), expect(kind="success", expected=[], compare="cursor.x"),
                  expect(kind="no_error", whatever=1),
                  expect(kind="success_partial", expected={}, compare="cursor.firstBatch")]:
            with self.assertRaises(C.Unsupported):
                C.check_expect(e, ok_reply())


class TestPlaceholders(unittest.TestCase):
    names = C.Names("core/x/test_a.py::test_a[mongodb-b]", "nonce")

    def test_names_follow_the_suite_fixtures(self):
        n = self.names
        self.assertTrue(n.db.startswith("test_master_"))
        self.assertTrue(n.coll.startswith("coll_master_"))
        self.assertEqual(n.db[20:], "_test_a_mongodb-b_")
        self.assertEqual(n.coll[20:], "_test_a_mongodb-b_")
        self.assertNotEqual(C.Names("a::b", "1").db, C.Names("a::b", "2").db)

    def test_strings(self):
        n = self.names
        s = lambda x: C.substitute(x, n)  # noqa: E731
        self.assertEqual(s("$coll"), n.coll)
        self.assertEqual(s("$coll_foreign"), n.coll + "_foreign")
        self.assertEqual(s("$coll.dotted"), n.coll + ".dotted")
        self.assertEqual(s("$coll\u4e2d"), n.coll + "\u4e2d")
        self.assertEqual(s("$db.$coll_x"), n.db + "." + n.coll + "_x")
        self.assertEqual(s("$db"), n.db)
        self.assertEqual(s("system.buckets.$coll_ts"), "system.buckets." + n.coll + "_ts")
        self.assertEqual(s("$db.system.js"), n.db + ".system.js")
        for literal in ["$test", "$dbx", "$$coll", "a$coll", "$x", "coll", "$collStats"[1:]]:
            self.assertEqual(s(literal), literal)

    def test_keys_are_not_replaced(self):
        n = self.names
        v = C.substitute(ej('{"aggregate": "$coll", "pipeline": [{"$collStats": {}}, '
                            '{"$lookup": {"from": "$coll_f", "as": "$coll"}}], '
                            '"$coll": "$coll"}'), n)
        self.assertEqual(list(v), ["aggregate", "pipeline", "$coll"])
        self.assertEqual(v["$coll"], n.coll)
        self.assertIn("$collStats", v["pipeline"][0])
        self.assertEqual(v["pipeline"][1]["$lookup"]["from"], n.coll + "_f")

    def test_database_field(self):
        n = self.names
        self.assertEqual(C.substitute_database("$test", n), n.db)
        self.assertEqual(C.substitute_database("admin", n), "admin")
        ev = R.substitute_event({"op": "command", "database": "$test",
                                 "command": {"create": "$test"}}, n)
        self.assertEqual(ev["database"], n.db)
        self.assertEqual(ev["command"]["create"], "$test")  # a literal name in the source

    @need_cases
    def test_name_lengths_reproduce_the_recorded_namespace_limits(self):
        base = ("core/collections/commands/convertToCapped/test_convertToCapped_namespace.py::"
                "test_convert_to_capped_namespace[mongodb-%s]")
        for which, total in [("name_at_max_length", 255 - 26), ("name_exceeds_max_length",
                                                                 255 - 26 + 1)]:
            c = case(base % which)
            n = C.Names(c["id"], "some nonce")
            coll = C.substitute(c["events"][0]["collection"], n)
            self.assertEqual(len(n.db.encode()) + len(coll.encode()), total)
        c = case("core/collections/commands/cloneCollectionAsCapped/"
                 "test_cloneCollectionAsCapped_namespace.py::"
                 "test_clone_collection_as_capped_namespace[mongodb-ascii_at_limit]")
        n = C.Names(c["id"], "")
        ns = n.db + "." + C.substitute(c["events"][0]["collection"], n)
        self.assertEqual(len(ns.encode()), 255)


class FakeSession:
    """Stands for run.Session: answers commands with a function."""

    def __init__(self, answer):
        self.answer = answer
        self.sent = []

    def run(self, database, doc):
        self.sent.append((database, doc))
        C.decode(C.encode(doc))  # it must be encodable
        return self.answer(database, doc)


def echo_expected(c, names, perturb=None, drop_missing=False):
    """A fake server that answers the case's calls in order: ok to setup
    events (or "ns not found" to drop_collection with drop_missing), the
    reply the expectation describes to the expected command (perturb may
    change it), ok to anything else."""
    exp = [e for e in c["events"] if e["op"] == "expect"][0]
    plan = []
    k = 0
    for e in c["events"]:
        if e["op"] == "command":
            plan.append(("command", k))
            k += 1
        elif e["op"] != "expect":
            plan.append(("setup", e["op"]))
    calls = [0]

    def answer(database, doc):
        what, n = plan[calls[0]] if calls[0] < len(plan) else ("other", None)
        calls[0] += 1
        if what == "setup" and n == "drop_collection" and drop_missing:
            return C.Outcome(reply={"ok": 0.0, "errmsg": "ns not found",
                                    "code": C.Int32(26), "codeName": "NamespaceNotFound"})
        if what != "command" or n != exp["command_index"]:
            return C.Outcome(reply={"ok": 1.0})
        e = R.substitute_event(exp, names)
        if e["kind"] == "error":
            return C.Outcome(reply={"ok": 0.0, "errmsg": "x", "code": C.Int32(e["error_code"]),
                                    "codeName": "X"})
        if e["kind"] == "no_error":
            return C.Outcome(reply={"ok": 1.0})
        value = e["expected"]
        if perturb:
            value = perturb(value)
        if e.get("compare") == "cursor.firstBatch":
            return C.Outcome(reply={"cursor": {"firstBatch": value, "id": C.Int64(0),
                                               "ns": names.db + ".x"}, "ok": 1.0})
        return C.Outcome(reply=value)
    return answer


def strings(v):
    """Every string value in v (not the field names)."""
    if type(v) is str:
        yield v
    elif type(v) is dict:
        for x in v.values():
            yield from strings(x)
    elif type(v) is list:
        for x in v:
            yield from strings(x)


def int32_to_int64(v):
    """The first int32 anywhere in v, made an int64 (None if there is none)."""
    done = [False]

    def walk(x):
        if done[0]:
            return x
        if type(x) is C.Int32:
            done[0] = True
            return C.Int64(x)
        if type(x) is dict:
            return {k: walk(y) for k, y in x.items()}
        if type(x) is list:
            return [walk(y) for y in x]
        return x
    out = walk(v)
    return out if done[0] else None


@need_cases
class TestWholeCases(unittest.TestCase):
    IDS = [
        # success, cursor.firstBatch
        "core/operator/query/comparison/eq/test_eq_bson_wiring.py::"
        "test_eq_bson_wiring[mongodb-double]",
        # error
        "core/collections/commands/create/test_create_name.py::"
        "test_create_name[mongodb-dollar_start]",
        # raw_reply
        "core/query-planning/commands/planCacheListFilters/test_planCacheListFilters_core.py::"
        "test_planCacheListFilters_core[mongodb-name_accepts_long_suffix]",
    ]

    def pick(self, pred, n=3):
        found = []
        for cid, line in case_lines().items():
            if pred(line):
                found.append(cid)
                if len(found) == n:
                    break
        self.assertTrue(found)
        return found

    def run_with(self, cid, perturb=None):
        c = case(cid)
        names = C.Names(cid, "n")
        session = FakeSession(echo_expected(c, names, perturb))
        got_id, status, cause, reason = R.run_case(session, case_lines()[cid], "n")
        self.assertEqual(got_id, cid)
        return status, cause, reason, session

    def sample(self):
        ids = [i for i in self.IDS if i in case_lines()]
        ids += self.pick(lambda l: '"nan_equal":true' in l)
        ids += self.pick(lambda l: '"ignore_order_in":["' in l)
        ids += self.pick(lambda l: '"ignore_doc_order":true' in l)
        ids += self.pick(lambda l: '"success_partial"' in l)
        ids += self.pick(lambda l: '"no_error"' in l)
        ids += self.pick(lambda l: '"op":"create_index"' in l and '"kind":"success"' in l)
        ids += self.pick(lambda l: '"op":"drop_collection"' in l)
        ids += self.pick(lambda l: '"database":"admin"' in l)
        return ids

    def test_cases_pass_against_a_server_that_answers_as_expected(self):
        for cid in self.sample():
            status, cause, reason, session = self.run_with(cid)
            self.assertEqual(status, "passed", "%s: %s" % (cid, reason))
            names = C.Names(cid, "n")
            # the case's database is dropped at the end
            self.assertEqual(session.sent[-1], (names.db, {"dropDatabase": 1}))
            # no placeholder reaches the server
            for database, doc in session.sent:
                for text in strings(doc):
                    self.assertFalse(text.startswith("$coll") or text.startswith("$db.")
                                     or text == "$db", (cid, text))
                self.assertNotEqual(database, "$test")

    def test_a_changed_type_fails(self):
        failed = 0
        for cid in self.sample():
            c = case(cid)
            kind = [e for e in c["events"] if e["op"] == "expect"][0]["kind"]
            if kind not in ("success", "success_partial"):
                continue
            exp = [e for e in c["events"] if e["op"] == "expect"][0]["expected"]
            if int32_to_int64(exp) is None:
                continue
            status, cause, reason, _ = self.run_with(
                cid, perturb=lambda v: int32_to_int64(v) or v)
            self.assertEqual(status, "failed", cid)
            self.assertEqual(cause, "mismatch")
            self.assertIn("NumberLong", reason)
            failed += 1
        self.assertGreater(failed, 3)

    def test_postgres_errors_fail_the_case_with_the_message(self):
        cid = self.IDS[0]
        session = FakeSession(lambda d, c: C.Outcome(
            failure="postgres error 42883: function nosql.run_command(text, nosql.bson) "
                    "does not exist"))
        _, status, cause, reason = R.run_case(session, case_lines()[cid], "n")
        self.assertEqual((status, cause), ("failed", "postgres error"))
        self.assertIn("run_command(text, nosql.bson) does not exist", reason)
        self.assertIn("setup event 0", reason)
        self.assertEqual(session.sent[-1][1], {"dropDatabase": 1})  # cleanup still tried

    def test_an_error_reply_in_setup_fails_the_case(self):
        cid = self.IDS[0]
        session = FakeSession(lambda d, c: C.Outcome(reply={
            "ok": 1.0, "n": C.Int32(0),
            "writeErrors": [{"index": C.Int32(0), "code": C.Int32(2), "errmsg": "x"}]}))
        _, status, cause, reason = R.run_case(session, case_lines()[cid], "n")
        self.assertEqual((status, cause), ("failed", "setup"))

    def test_drop_of_a_missing_collection_is_fine_in_setup(self):
        cid = self.pick(lambda l: '"op":"drop_collection"' in l and '"kind":"no_error"' not in l
                        and '"kind":"error"' in l, 1)[0]
        c = case(cid)
        names = C.Names(cid, "n")
        answer = echo_expected(c, names, drop_missing=True)
        _, status, cause, reason = R.run_case(FakeSession(answer), case_lines()[cid], "n")
        self.assertEqual(status, "passed", reason)
        # any other error of a setup drop fails the case
        answer = echo_expected(c, names)

        def other_error(database, doc):
            if "drop" in doc and database == names.db:
                answer(database, doc)
                return C.Outcome(reply={"ok": 0.0, "errmsg": "no", "code": C.Int32(13)})
            return answer(database, doc)
        _, status, cause, reason = R.run_case(FakeSession(other_error), case_lines()[cid], "n")
        self.assertEqual((status, cause), ("failed", "setup"), reason)

    def test_unsupported_events_and_kinds_fail(self):
        base = json.loads(case_lines()[self.IDS[0]])
        for mutate in [lambda c: c["events"].insert(0, {"op": "sleep"}),
                       lambda c: c["events"][-1].update(kind="maybe"),
                       lambda c: c["events"][-1].update(command_index=7),
                       lambda c: c["events"][-1].update(extra=True),
                       lambda c: c["events"].pop()]:
            c = json.loads(json.dumps(base))
            mutate(c)
            session = FakeSession(lambda d, x: C.Outcome(reply={"ok": 1.0}))
            _, status, cause, reason = R.run_case(session, json.dumps(c), "n")
            self.assertEqual((status, cause), ("failed", "unsupported"), reason)
            self.assertTrue(reason.startswith("unsupported by runner"))
            self.assertEqual(len(session.sent), 1)  # only the cleanup

    def test_a_line_that_does_not_load(self):
        _, status, cause, reason = R.run_case(FakeSession(None), '{"id": "x", "ev', "n")
        self.assertEqual((status, cause), ("failed", "load"))
        self.assertTrue(reason.startswith("failed to load"))


class TestSetupCommands(unittest.TestCase):
    def test_create_index_like_pymongo(self):
        cmd = R.setup_command(ej('{"op": "create_index", "collection": "c", "keys": "a", '
                                 '"options": {"unique": true}}'))
        self.assertEqual(cmd, {"createIndexes": "c", "indexes": [
            {"unique": True, "name": "a_1", "key": {"a": 1}}]})
        self.assertIs(type(cmd["indexes"][0]["key"]["a"]), int)  # int32 on the wire
        cmd = R.setup_command(ej('{"op": "create_index", "collection": "c", "keys": '
                                 '[["loc", "2dsphere"], ["b", {"$numberInt": "-1"}]], '
                                 '"options": {"collation": {"locale": "fr"}, "name": null}}'))
        spec = cmd["indexes"][0]
        self.assertEqual(spec["name"], "loc_2dsphere_b_-1")
        self.assertEqual(list(spec), ["name", "key", "collation"])
        cmd = R.setup_command(ej('{"op": "create_index", "collection": "c", "keys": '
                                 '{"a": {"$numberInt": "1"}, "b": {"$numberLong": "-1"}}, '
                                 '"options": {}}'))
        self.assertEqual(cmd["indexes"][0]["name"], "a_1_b_-1")
        self.assertIs(type(cmd["indexes"][0]["key"]["b"]), C.Int64)
        cmd = R.setup_command(ej('{"op": "create_index", "collection": "c", "keys": '
                                 '["x", ["y", "text"]], "options": {}}'))
        self.assertEqual(cmd["indexes"][0]["key"], {"x": 1, "y": "text"})
        for bad in ['[]', '{}', '[["a"]]', '7', '[[1, 1]]']:
            with self.assertRaises(C.Unsupported):
                R.validate(ej('{"id": "x", "events": [{"op": "create_index", "collection": "c", '
                              '"keys": %s, "options": {}}, {"op": "command", "database": "d", '
                              '"command": {}}, {"op": "expect", "command_index": 0, '
                              '"kind": "no_error"}]}' % bad))

    def test_insert_puts_id_first_and_adds_it(self):
        cmd = R.setup_command(ej('{"op": "insert", "collection": "c", "documents": '
                                 '[{"a": 1, "_id": 2}, {"b": 1}]}'))
        self.assertEqual(list(cmd), ["insert", "ordered", "documents"])
        self.assertEqual(list(cmd["documents"][0]), ["_id", "a"])
        self.assertIs(type(cmd["documents"][1]["_id"]), C.ObjectId)
        self.assertNotEqual(C.ObjectId.generate(), C.ObjectId.generate())

    def test_create_collection_size_is_a_double(self):
        cmd = R.setup_command(ej('{"op": "create_collection", "collection": "c", "options": '
                                 '{"capped": true, "size": {"$numberInt": "4096"}}}'))
        self.assertEqual(cmd, {"create": "c", "capped": True, "size": 4096.0})
        self.assertIs(type(cmd["size"]), float)


class TestMainAndRatchet(unittest.TestCase):
    """run.main over a small cases file, with a fake session."""

    LINES = [
        {"id": "core/a/b/test_x.py::test_x[mongodb-pass]", "events": [
            {"op": "command", "database": "$test", "command": {"ping": {"$numberInt": "1"}}},
            {"op": "expect", "command_index": 0, "kind": "no_error"}]},
        {"id": "core/a/b/test_x.py::test_x[mongodb-fail]", "events": [
            {"op": "command", "database": "$test", "command": {"ping": {"$numberInt": "1"}}},
            {"op": "expect", "command_index": 0, "kind": "error", "error_code": 2}]},
        {"id": "core/c/test_y.py::test_y[mongodb-odd]", "events": [
            {"op": "teleport"}, {"op": "expect", "command_index": 0, "kind": "no_error"}]},
    ]

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.cases = os.path.join(self.dir.name, "cases.jsonl")
        with open(self.cases, "w") as f:
            for c in self.LINES:
                f.write(json.dumps(c) + "\n")
            f.write('{"id": "core/a/b/test_z.py::broken", "events": [\n')
        self.saved = R.Session
        R.Session = lambda dsn, timeout: FakeSession(lambda d, c: C.Outcome(reply={"ok": 1.0}))

    def tearDown(self):
        R.Session = self.saved
        self.dir.cleanup()

    def main(self, *args):
        out = io.StringIO()
        with redirect_stdout(out), redirect_stderr(io.StringIO()):
            code = R.main(["--cases", self.cases] + list(args))
        return code, out.getvalue()

    def test_counts_areas_and_report(self):
        report = os.path.join(self.dir.name, "r.jsonl")
        code, out = self.main("--report", report)
        self.assertEqual(code, 0)
        self.assertEqual(out.splitlines()[-1], "1 passed, 3 failed")
        self.assertRegex(out, r"core/a/b +1 +2 ")
        self.assertRegex(out, r"core/c +0 +1 ")
        self.assertIn("cases that failed to load: 1", out)
        self.assertIn("cases unsupported by the runner: 1", out)
        with open(report) as f:
            rows = [json.loads(l) for l in f]
        self.assertEqual([r["status"] for r in rows], ["passed", "failed", "failed", "failed"])
        self.assertEqual(rows[1]["cause"], "mismatch")
        self.assertEqual(rows[3]["cause"], "load")
        self.assertEqual(rows[3]["id"], "core/a/b/test_z.py::broken")

    def test_area_filter(self):
        code, out = self.main("--area", "core/c/")
        self.assertEqual(out.splitlines()[-1], "0 passed, 1 failed")

    def test_ratchet(self):
        ratchet = os.path.join(self.dir.name, "ratchet.txt")
        with open(ratchet, "w") as f:
            f.write("core/a/b/test_x.py::test_x[mongodb-pass]\n")
        code, out = self.main("--ratchet", ratchet)
        self.assertEqual(code, 0, out)
        with open(ratchet, "a") as f:
            f.write("core/a/b/test_x.py::test_x[mongodb-fail]\n")
        code, out = self.main("--ratchet", ratchet)
        self.assertEqual(code, 1)
        self.assertIn("REGRESSION (in the ratchet, fails now): "
                      "core/a/b/test_x.py::test_x[mongodb-fail]", out)
        self.assertEqual(out.splitlines()[-1], "1 passed, 3 failed")
        # outside the selected areas the ratchet is not checked...
        code, out = self.main("--ratchet", ratchet, "--area", "core/c")
        self.assertEqual(code, 0)
        # ...and not rewritten
        with open(ratchet, "a") as f:
            f.write("other/area/x.py::kept\n")
        code, out = self.main("--ratchet", ratchet, "--update-ratchet", "--area", "core/a")
        self.assertEqual(code, 0)
        with open(ratchet) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines, [
            "core/a/b/test_x.py::test_x[mongodb-pass]", "other/area/x.py::kept"])

    def test_jobs(self):
        R.Session = self.saved  # forked workers need a real connection: none here
        code, out = self.main("--jobs", "2", "--dsn", "host=/nonexistent port=1")
        self.assertEqual(code, 2)


class TestAreas(unittest.TestCase):
    def test_area_of(self):
        self.assertEqual(C.area_of("core/operator/query/misc/regex/test_r.py::t[x/y]"),
                         "core/operator/query")
        self.assertEqual(C.area_of("core/collation/test_c.py::t"), "core/collation")
        self.assertEqual(C.area_of("system/replication/commands/test_r.py::t"),
                         "system/replication/commands")


if __name__ == "__main__":
    unittest.main()
