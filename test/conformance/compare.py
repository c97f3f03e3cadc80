"""The pure half of the conformance runner (run.py): no database in here.

  * parse_case: a line of functional-tests.jsonl (canonical Extended JSON)
    into typed values that keep every BSON type apart (int32, int64, double,
    decimal128, dates over the whole int64 range, ...);
  * encode / decode: those values to and from BSON bytes;
  * Names / substitute: the per-case placeholders ($test, $db, $coll...);
  * check_expect: the comparison rules of
    ../../../shared/conformance/README.md, which are the suite's own
    (documentdb/functional-tests, framework/assertions.py, as driven through
    pymongo's db.command()).

Why not bson.json_util and bson.BSON from python3-pymongo 3.11: its
json_util reads {"$regex": ..., "$options": ...} as a legacy regex value
(the suite sends them as query operators), turns {"$ref", "$id"} documents
into DBRef objects, and both json_util and the BSON codec hold dates as
datetime, which cannot hold the int64 extremes some cases store.  So this
module has its own small codec; test_compare.py checks it against pymongo's
C codec wherever pymongo can represent the value.  pymongo's Decimal128 is
used for the decimal128 string conversions.
"""
import base64
import hashlib
import json
import math
import os
import re
import struct
import sys
import threading
import time

try:
    from bson.decimal128 import Decimal128 as _PyDecimal128
except ImportError:  # an interpreter other than Debian's (e.g. pyenv's python3)
    sys.path.append("/usr/lib/python3/dist-packages")
    from bson.decimal128 import Decimal128 as _PyDecimal128

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


# ---------------------------------------------------------------------------
# Values.  Documents are dicts (insertion-ordered), arrays are lists, strings
# str, doubles float, booleans bool, null None.  Everything else has a class
# here; int32 and int64 are distinct int subclasses.
# ---------------------------------------------------------------------------

class Int32(int):
    """A BSON int32."""
    __slots__ = ()

    def __repr__(self):
        return "Int32(%d)" % int(self)

    __str__ = int.__repr__


class Int64(int):
    """A BSON int64."""
    __slots__ = ()

    def __repr__(self):
        return "Int64(%d)" % int(self)

    __str__ = int.__repr__


class _Value:
    """Base of the other BSON values: equality and hash on (type, fields)."""
    __slots__ = ()

    def _key(self):
        return tuple(getattr(self, s) for s in self.__slots__)

    def __eq__(self, other):
        return type(self) is type(other) and self._key() == other._key()

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash((type(self).__name__,) + self._key())

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join(repr(v) for v in self._key()))


class Decimal128(_Value):
    """A BSON decimal128, held as its 16 bytes (little-endian BID)."""
    __slots__ = ("bid",)

    def __init__(self, bid):
        if len(bid) != 16:
            raise ValueError("decimal128 needs 16 bytes")
        self.bid = bytes(bid)

    @classmethod
    def from_string(cls, s):
        return cls(_PyDecimal128(s).bid)

    def __str__(self):
        return str(_PyDecimal128.from_bid(self.bid))

    def is_nan(self):
        # combination field 11111 0 (qNaN) or 11111 1 (sNaN)
        return (self.bid[15] & 0x7C) == 0x7C

    def __repr__(self):
        return 'Decimal128("%s")' % self


class ObjectId(_Value):
    __slots__ = ("oid",)

    def __init__(self, oid):
        if len(oid) != 12:
            raise ValueError("an ObjectId has 12 bytes")
        self.oid = bytes(oid)

    _lock = threading.Lock()
    _counter = int.from_bytes(os.urandom(3), "big")
    _random = os.urandom(5)
    _pid = os.getpid()

    @classmethod
    def generate(cls):
        """A new ObjectId the way drivers make them (time, random, counter)."""
        with cls._lock:
            if cls._pid != os.getpid():  # a forked worker gets its own random part
                cls._pid = os.getpid()
                cls._random = os.urandom(5)
            cls._counter = (cls._counter + 1) & 0xFFFFFF
            counter = cls._counter
        return cls(struct.pack(">I", int(time.time()) & 0xFFFFFFFF) + cls._random +
                   counter.to_bytes(3, "big"))

    def __repr__(self):
        return 'ObjectId("%s")' % self.oid.hex()


class Binary(_Value):
    __slots__ = ("subtype", "data")

    def __init__(self, subtype, data):
        if not 0 <= subtype <= 255:
            raise ValueError("binary subtype out of range")
        self.subtype = subtype
        self.data = bytes(data)

    def __repr__(self):
        return 'BinData(%d, "%s")' % (self.subtype, base64.b64encode(self.data).decode())


class DateTime(_Value):
    """A BSON UTC datetime: milliseconds since the epoch, any int64."""
    __slots__ = ("ms",)

    def __init__(self, ms):
        if not INT64_MIN <= ms <= INT64_MAX:
            raise ValueError("datetime out of int64 range")
        self.ms = int(ms)

    def __repr__(self):
        return "Date(%d)" % self.ms


class Timestamp(_Value):
    __slots__ = ("t", "i")

    def __init__(self, t, i):
        if not (0 <= t <= 0xFFFFFFFF and 0 <= i <= 0xFFFFFFFF):
            raise ValueError("timestamp fields are uint32")
        self.t = int(t)
        self.i = int(i)

    def __repr__(self):
        return "Timestamp(%d, %d)" % (self.t, self.i)


class Regex(_Value):
    __slots__ = ("pattern", "options")

    def __init__(self, pattern, options):
        self.pattern = pattern
        self.options = options

    def __repr__(self):
        return "/%s/%s" % (self.pattern, self.options)


class DBPointer(_Value):
    __slots__ = ("ns", "oid")

    def __init__(self, ns, oid):
        self.ns = ns
        self.oid = oid


class Code(_Value):
    __slots__ = ("code",)

    def __init__(self, code):
        self.code = code


class CodeWithScope(_Value):
    __slots__ = ("code", "scope")

    def __init__(self, code, scope):
        self.code = code
        self.scope = scope

    def __hash__(self):
        return hash(("CodeWithScope", self.code))


class Symbol(_Value):
    __slots__ = ("symbol",)

    def __init__(self, symbol):
        self.symbol = symbol


class _Singleton(_Value):
    __slots__ = ()

    def __repr__(self):
        return type(self).__name__


class MinKey(_Singleton):
    __slots__ = ()


class MaxKey(_Singleton):
    __slots__ = ()


class Undefined(_Singleton):
    __slots__ = ()


# ---------------------------------------------------------------------------
# Canonical Extended JSON -> values
# ---------------------------------------------------------------------------

class CaseError(Exception):
    """A case that cannot be loaded or run as written (not an engine failure)."""


_INT_RE = re.compile(r"-?[0-9]+\Z")


def _parse_int_token(s):
    """A bare JSON integer, as bson.json_util reads it: int32 when it fits."""
    v = int(s)
    if INT32_MIN <= v <= INT32_MAX:
        return Int32(v)
    if INT64_MIN <= v <= INT64_MAX:
        return Int64(v)
    raise ValueError("integer %s does not fit in int64" % s)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _wrapper(d):
    """The typed value a canonical Extended JSON wrapper object stands for,
    or None when d is an ordinary document.  Only exact canonical shapes are
    read; anything else (such as the query operator {"$regex": ...,
    "$options": ...}) stays a document, the way the suite sent it."""
    if not d or not next(iter(d)).startswith("$"):
        return None
    keys = set(d)
    if len(keys) == 1:
        (k, v), = d.items()
        if k == "$numberInt" and isinstance(v, str) and _INT_RE.match(v):
            n = int(v)
            if INT32_MIN <= n <= INT32_MAX:
                return Int32(n)
        elif k == "$numberLong" and isinstance(v, str) and _INT_RE.match(v):
            n = int(v)
            if INT64_MIN <= n <= INT64_MAX:
                return Int64(n)
        elif k == "$numberDouble" and isinstance(v, str):
            try:
                return float(v)
            except ValueError:
                return None
        elif k == "$numberDecimal" and isinstance(v, str):
            try:
                return Decimal128.from_string(v)
            except Exception:
                return None
        elif k == "$oid" and isinstance(v, str) and re.fullmatch(r"[0-9a-fA-F]{24}", v):
            return ObjectId(bytes.fromhex(v))
        elif k == "$date" and type(v) is Int64:
            return DateTime(v)
        elif k == "$binary" and isinstance(v, dict) and set(v) == {"base64", "subType"} \
                and isinstance(v["base64"], str) and isinstance(v["subType"], str) \
                and re.fullmatch(r"[0-9a-fA-F]{1,2}", v["subType"]):
            return Binary(int(v["subType"], 16), base64.b64decode(v["base64"], validate=True))
        elif k == "$timestamp" and isinstance(v, dict) and set(v) == {"t", "i"} \
                and _is_int(v["t"]) and _is_int(v["i"]):
            return Timestamp(v["t"], v["i"])
        elif k == "$regularExpression" and isinstance(v, dict) and \
                set(v) == {"pattern", "options"} and isinstance(v["pattern"], str) and \
                isinstance(v["options"], str):
            return Regex(v["pattern"], v["options"])
        elif k in ("$minKey", "$maxKey") and _is_int(v) and v == 1:
            return MinKey() if k == "$minKey" else MaxKey()
        elif k == "$undefined" and v is True:
            return Undefined()
        elif k == "$symbol" and isinstance(v, str):
            return Symbol(v)
        elif k == "$code" and isinstance(v, str):
            return Code(v)
        elif k == "$dbPointer" and isinstance(v, dict) and set(v) == {"$ref", "$id"} \
                and isinstance(v["$ref"], str) and type(v["$id"]) is ObjectId:
            return DBPointer(v["$ref"], v["$id"])
    elif keys == {"$code", "$scope"} and isinstance(d["$code"], str) and \
            isinstance(d["$scope"], dict):
        return CodeWithScope(d["$code"], d["$scope"])
    return None


def _object_pairs(pairs):
    d = dict(pairs)
    if len(d) != len(pairs):
        raise ValueError("duplicate key in a JSON object")
    w = _wrapper(d)
    return d if w is None else w


def loads(text):
    """Canonical Extended JSON text -> values (also used for the metadata:
    integers there come back as Int32, which is an int)."""
    return json.loads(text, object_pairs_hook=_object_pairs, parse_int=_parse_int_token)


def parse_case(line):
    """One line of the cases file -> {"id": ..., "events": [...], ...}.
    Raises CaseError when the line cannot be read."""
    try:
        case = loads(line)
    except RecursionError:
        raise CaseError("nested too deeply for the JSON reader")
    except (ValueError, TypeError) as e:
        raise CaseError("not valid Extended JSON: %s" % e)
    if not isinstance(case, dict) or not isinstance(case.get("id"), str) or \
            not isinstance(case.get("events"), list):
        raise CaseError("not a case object with an id and events")
    return case


# ---------------------------------------------------------------------------
# BSON
# ---------------------------------------------------------------------------

class BSONError(Exception):
    pass


_pack_i32 = struct.Struct("<i").pack
_pack_i64 = struct.Struct("<q").pack
_pack_f64 = struct.Struct("<d").pack
_unpack_i32 = struct.Struct("<i").unpack_from
_unpack_u32 = struct.Struct("<I").unpack_from
_unpack_i64 = struct.Struct("<q").unpack_from
_unpack_f64 = struct.Struct("<d").unpack_from


def _cstring(s, what):
    b = s.encode("utf-8")
    if b"\x00" in b:
        raise BSONError("%s contains a NUL byte: %r" % (what, s))
    return b + b"\x00"


def _string(s):
    b = s.encode("utf-8")
    return _pack_i32(len(b) + 1) + b + b"\x00"


def _element(key, v, out):
    name = _cstring(key, "field name")
    t = type(v)
    if t is float:
        out += b"\x01" + name + _pack_f64(v)
    elif t is str:
        out += b"\x02" + name + _string(v)
    elif isinstance(v, dict):
        out += b"\x03" + name
        _document(v, out)
    elif t is list or t is tuple:
        out += b"\x04" + name
        _document({str(i): x for i, x in enumerate(v)}, out)
    elif t is Binary:
        data = v.data
        if v.subtype == 2:  # the old binary subtype repeats the length inside
            data = _pack_i32(len(data)) + data
        out += b"\x05" + name + _pack_i32(len(data)) + bytes([v.subtype]) + data
    elif t is Undefined:
        out += b"\x06" + name
    elif t is ObjectId:
        out += b"\x07" + name + v.oid
    elif t is bool:
        out += b"\x08" + name + (b"\x01" if v else b"\x00")
    elif t is DateTime:
        out += b"\x09" + name + _pack_i64(v.ms)
    elif v is None:
        out += b"\x0a" + name
    elif t is Regex:
        out += b"\x0b" + name + _cstring(v.pattern, "regex pattern") + \
            _cstring(v.options, "regex options")
    elif t is DBPointer:
        out += b"\x0c" + name + _string(v.ns) + v.oid.oid
    elif t is Code:
        out += b"\x0d" + name + _string(v.code)
    elif t is Symbol:
        out += b"\x0e" + name + _string(v.symbol)
    elif t is CodeWithScope:
        body = bytearray(_string(v.code))
        _document(v.scope, body)
        out += b"\x0f" + name + _pack_i32(len(body) + 4) + body
    elif t is Int32:
        out += b"\x10" + name + _pack_i32(v)
    elif t is Timestamp:
        out += b"\x11" + name + struct.pack("<II", v.i, v.t)
    elif t is Int64:
        out += b"\x12" + name + _pack_i64(v)
    elif t is int:  # a plain int, as pymongo encodes one
        if INT32_MIN <= v <= INT32_MAX:
            out += b"\x10" + name + _pack_i32(v)
        elif INT64_MIN <= v <= INT64_MAX:
            out += b"\x12" + name + _pack_i64(v)
        else:
            raise BSONError("integer %d does not fit in int64" % v)
    elif t is Decimal128:
        out += b"\x13" + name + v.bid
    elif t is MinKey:
        out += b"\xff" + name
    elif t is MaxKey:
        out += b"\x7f" + name
    else:
        raise BSONError("cannot encode %s" % t.__name__)


def _document(doc, out):
    start = len(out)
    out += b"\x00\x00\x00\x00"
    for k, v in doc.items():
        if not isinstance(k, str):
            raise BSONError("field names must be strings")
        _element(k, v, out)
    out += b"\x00"
    out[start:start + 4] = _pack_i32(len(out) - start)


def encode(doc):
    """A document (dict) -> BSON bytes, field order kept."""
    if not isinstance(doc, dict):
        raise BSONError("only a document can be encoded")
    out = bytearray()
    _document(doc, out)
    return bytes(out)


def _read_cstring(b, pos, end):
    nul = b.find(b"\x00", pos, end)
    if nul < 0:
        raise BSONError("unterminated cstring at %d" % pos)
    return b[pos:nul].decode("utf-8"), nul + 1


def _read_string(b, pos, end):
    if pos + 4 > end:
        raise BSONError("truncated string at %d" % pos)
    n = _unpack_i32(b, pos)[0]
    if n < 1 or pos + 4 + n > end or b[pos + 4 + n - 1] != 0:
        raise BSONError("bad string length at %d" % pos)
    return b[pos + 4:pos + 4 + n - 1].decode("utf-8"), pos + 4 + n


def _need(pos, n, end):
    if pos + n > end:
        raise BSONError("truncated value at %d" % pos)


def _read_document(b, pos, end, is_array):
    """The document or array at b[pos:], and the position after it."""
    _need(pos, 5, end)
    n = _unpack_i32(b, pos)[0]
    if n < 5 or pos + n > end:
        raise BSONError("bad document length %d at %d" % (n, pos))
    stop = pos + n - 1
    if b[stop] != 0:
        raise BSONError("document at %d does not end with NUL" % pos)
    p = pos + 4
    doc = {}
    items = []
    while p < stop:
        t = b[p]
        key, p = _read_cstring(b, p + 1, stop)
        if t == 0x01:
            _need(p, 8, stop)
            v = _unpack_f64(b, p)[0]
            p += 8
        elif t == 0x02:
            v, p = _read_string(b, p, stop)
        elif t == 0x03:
            v, p = _read_document(b, p, stop, False)
        elif t == 0x04:
            v, p = _read_document(b, p, stop, True)
        elif t == 0x05:
            _need(p, 5, stop)
            ln = _unpack_i32(b, p)[0]
            sub = b[p + 4]
            if ln < 0:
                raise BSONError("negative binary length at %d" % p)
            _need(p + 5, ln, stop)
            data = b[p + 5:p + 5 + ln]
            if sub == 2:
                if ln < 4 or _unpack_i32(data, 0)[0] != ln - 4:
                    raise BSONError("bad old-binary (subtype 2) length at %d" % p)
                data = data[4:]
            v = Binary(sub, data)
            p += 5 + ln
        elif t == 0x06:
            v = Undefined()
        elif t == 0x07:
            _need(p, 12, stop)
            v = ObjectId(b[p:p + 12])
            p += 12
        elif t == 0x08:
            _need(p, 1, stop)
            if b[p] > 1:
                raise BSONError("boolean byte %d at %d" % (b[p], p))
            v = b[p] == 1
            p += 1
        elif t == 0x09:
            _need(p, 8, stop)
            v = DateTime(_unpack_i64(b, p)[0])
            p += 8
        elif t == 0x0A:
            v = None
        elif t == 0x0B:
            pat, p = _read_cstring(b, p, stop)
            opts, p = _read_cstring(b, p, stop)
            v = Regex(pat, opts)
        elif t == 0x0C:
            ns, p = _read_string(b, p, stop)
            _need(p, 12, stop)
            v = DBPointer(ns, ObjectId(b[p:p + 12]))
            p += 12
        elif t == 0x0D:
            s, p = _read_string(b, p, stop)
            v = Code(s)
        elif t == 0x0E:
            s, p = _read_string(b, p, stop)
            v = Symbol(s)
        elif t == 0x0F:
            _need(p, 4, stop)
            total = _unpack_i32(b, p)[0]
            if total < 14 or p + total > stop:
                raise BSONError("bad code-with-scope length at %d" % p)
            code, q = _read_string(b, p + 4, p + total)
            scope, q = _read_document(b, q, p + total, False)
            if q != p + total:
                raise BSONError("code-with-scope length mismatch at %d" % p)
            v = CodeWithScope(code, scope)
            p += total
        elif t == 0x10:
            _need(p, 4, stop)
            v = Int32(_unpack_i32(b, p)[0])
            p += 4
        elif t == 0x11:
            _need(p, 8, stop)
            i, ts = struct.unpack_from("<II", b, p)
            v = Timestamp(ts, i)
            p += 8
        elif t == 0x12:
            _need(p, 8, stop)
            v = Int64(_unpack_i64(b, p)[0])
            p += 8
        elif t == 0x13:
            _need(p, 16, stop)
            v = Decimal128(b[p:p + 16])
            p += 16
        elif t == 0xFF:
            v = MinKey()
        elif t == 0x7F:
            v = MaxKey()
        else:
            raise BSONError("unknown element type 0x%02x at %d" % (t, p))
        if is_array:
            if key != str(len(items)):
                raise BSONError("array key %r where %r belongs" % (key, str(len(items))))
            items.append(v)
        else:
            if key in doc:
                raise BSONError("duplicate field name %r" % key)
            doc[key] = v
    if p != stop:
        raise BSONError("element overruns its document at %d" % p)
    return (items if is_array else doc), pos + n


def decode(data):
    """BSON bytes -> a document (dict).  Strict: lengths, NULs, UTF-8, boolean
    bytes, array keys, no duplicate field names.  Raises BSONError."""
    b = bytes(data)
    try:
        doc, end = _read_document(b, 0, len(b), False)
    except UnicodeDecodeError as e:
        raise BSONError("invalid UTF-8: %s" % e)
    except RecursionError:
        raise BSONError("nested too deeply to decode")
    if end != len(b):
        raise BSONError("%d trailing bytes after the document" % (len(b) - end))
    return doc


# ---------------------------------------------------------------------------
# Placeholders
# ---------------------------------------------------------------------------

class Names:
    """The fresh names of one case.

    They are built like the suite's own fixtures (framework/fixtures.py, run
    without xdist, i.e. worker "master"), so they have the lengths the
    expectations were recorded with: some cases pad a collection name to
    exactly the 255-byte namespace limit from those lengths.  The 8 hex
    digits of the hash also cover a per-run nonce, so two runs (or a
    crashed run's leftovers) never share a database."""

    def __init__(self, case_id, nonce=""):
        h = hashlib.sha256((nonce + case_id).encode()).hexdigest()[:8]
        test_name = case_id.split("::")[-1] if "::" in case_id else case_id
        abbreviated = test_name.replace("[", "_").replace("]", "_")
        self.db = ("test_master_%s_%s" % (h, abbreviated[:20]))[:63]
        self.coll = ("coll_master_%s_%s" % (h, abbreviated[:25]))[:100]


# Inside documents: "$db" as a whole string or before a "." ("$db.$coll"),
# and "$coll" at the start of a string or after a "." ("$db.$coll_x",
# "system.buckets.$coll_ts"), whatever follows it ("$coll_foreign",
# "$coll.dotted", "$coll中中中").  Field names are never replaced ("$collStats"
# is a stage), and neither is "$test": in the data it is the placeholder of
# an event's "database" only; the three "$test" strings inside commands are
# literal collection names of the source tests (test_create_name
# dollar_start and the like).
_DOC_PLACEHOLDER = re.compile(r"^\$db(?=\.|$)|(?:^|(?<=\.))\$coll")
_DB_PLACEHOLDER = re.compile(r"^\$(?:test|db)")


def substitute_string(s, names):
    return _DOC_PLACEHOLDER.sub(
        lambda m: names.db if m.group(0) == "$db" else names.coll, s)


def substitute_database(s, names):
    """The "database" field of a command event: "$test" (or "$db")."""
    return _DB_PLACEHOLDER.sub(lambda m: names.db, s)


def substitute(v, names):
    """A copy of v with the placeholders in its string values replaced."""
    t = type(v)
    if t is str:
        return substitute_string(v, names)
    if t is dict:
        return {k: substitute(x, names) for k, x in v.items()}
    if t is list:
        return [substitute(x, names) for x in v]
    if t is CodeWithScope:
        return CodeWithScope(v.code, substitute(v.scope, names))
    return v


# ---------------------------------------------------------------------------
# Showing values (in failure reasons)
# ---------------------------------------------------------------------------

def fmt(v, limit=300):
    s = _fmt(v)
    return s if len(s) <= limit else s[:limit] + "...(%d chars)" % len(s)


def _fmt_double(x):
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    r = repr(x)
    return r if ("." in r or "e" in r) else r + ".0"


def _fmt(v):
    t = type(v)
    if t is dict:
        return "{" + ", ".join("%s: %s" % (json.dumps(k, ensure_ascii=False), _fmt(x))
                               for k, x in v.items()) + "}"
    if t is list:
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    if t is str:
        return json.dumps(v, ensure_ascii=False)
    if t is bool:
        return "true" if v else "false"
    if v is None:
        return "null"
    if t is float:
        return _fmt_double(v)
    if t is Int32 or t is int:
        return str(int(v))
    if t is Int64:
        return "NumberLong(%d)" % v
    if t is Decimal128:
        return 'NumberDecimal("%s")' % v
    return repr(v)


def type_name(v):
    t = type(v)
    return {float: "double", str: "string", dict: "object", list: "array", bool: "bool",
            type(None): "null", Int32: "int", Int64: "long", int: "int",
            Decimal128: "decimal", ObjectId: "objectId", Binary: "binData",
            DateTime: "date", Timestamp: "timestamp", Regex: "regex", MinKey: "minKey",
            MaxKey: "maxKey", Undefined: "undefined", Symbol: "symbol", Code: "javascript",
            CodeWithScope: "javascriptWithScope", DBPointer: "dbPointer"}.get(t, t.__name__)


# ---------------------------------------------------------------------------
# Comparison (README "Comparison is the suite's own")
# ---------------------------------------------------------------------------

# framework/assertions.py _REPLICATION_GOSSIP_FIELDS: dropped from raw replies
# (and from a dict expectation), top level only.
GOSSIP_FIELDS = frozenset({"$clusterTime", "operationTime", "electionId", "opTime"})


def strip_gossip(v):
    if type(v) is not dict:
        return v
    return {k: x for k, x in v.items() if k not in GOSSIP_FIELDS}


def _is_nan(v):
    t = type(v)
    return (t is float and math.isnan(v)) or (t is Decimal128 and v.is_nan())


def scalar_equal(a, b, nan_equal=False):
    """Two non-container values.  Types must be the same BSON type (int32 1,
    int64 1, double 1.0, decimal 1 and true all differ); doubles compare by
    value except that -0.0 is not 0.0 and NaN equals NaN only with nan_equal;
    decimal128 compares by its 128 bits (pymongo's Decimal128 ==, so 1.0 is
    not 1.00, and a NaN equals the same NaN), any NaN equals any NaN of the
    same type with nan_equal; regexes compare pattern and option set
    (pymongo's Regex == compares flags); the rest by value."""
    ta = type(a)
    if ta is not type(b):
        return False
    if ta is float:
        if math.isnan(a) or math.isnan(b):
            return nan_equal and math.isnan(a) and math.isnan(b)
        if a == 0.0 and b == 0.0:
            return math.copysign(1.0, a) == math.copysign(1.0, b)
        return a == b
    if ta is Decimal128:
        if nan_equal and a.is_nan() and b.is_nan():
            return True
        return a.bid == b.bid
    if ta is Regex:
        return a.pattern == b.pattern and set(a.options) == set(b.options)
    if ta is CodeWithScope:
        return a.code == b.code and value_diff(a.scope, b.scope, "", nan_equal) is None
    return a == b


def _join(path, key):
    if isinstance(key, int):
        return "%s[%d]" % (path, key)
    return "%s.%s" % (path, key) if path else key


def _mismatch(path, expected, actual):
    where = path or "(top)"
    if type(expected) is not type(actual):
        return "%s: expected %s %s, got %s %s" % (
            where, type_name(expected), fmt(expected, 150), type_name(actual), fmt(actual, 150))
    return "%s: expected %s, got %s" % (where, fmt(expected, 150), fmt(actual, 150))


_APPROX = re.compile(r"^(\S+) \u00b1 (\S+)$")


def approx_diff(expected, actual, path):
    """The suite records pytest.approx expectations as {"$repr": "v \u00b1 tol"}
    ("nan \u00b1 ???" for NaN): a double within tol of v (NaN for nan).
    None when it holds, else the mismatch."""
    m = _APPROX.match(expected["$repr"])
    if m is None or type(actual) is not float:
        return _mismatch(path, expected, actual)
    value, tol = m.group(1), m.group(2)
    if value == "nan":
        return None if math.isnan(actual) else _mismatch(path, expected, actual)
    try:
        v = float(value)
        t = float(tol) if tol != "???" else 0.0
    except ValueError:
        return _mismatch(path, expected, actual)
    if math.isinf(v):
        return None if actual == v else _mismatch(path, expected, actual)
    if math.isnan(actual) or abs(actual - v) > t:
        return _mismatch(path, expected, actual)
    return None


def value_diff(expected, actual, path="", nan_equal=False):
    """None when equal by the suite's rules (documents as key sets, arrays in
    order, scalars by scalar_equal), else where and how they differ."""
    te = type(expected)
    if te is dict and set(expected) == {"$repr"} and type(expected["$repr"]) is str:
        return approx_diff(expected, actual, path)
    if te is dict:
        if type(actual) is not dict:
            return _mismatch(path, expected, actual)
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        if missing or extra:
            parts = []
            if missing:
                parts.append("missing field(s) %s" % ", ".join(map(json.dumps, missing)))
            if extra:
                parts.append("unexpected field(s) %s" % ", ".join(map(json.dumps, extra)))
            return "%s: %s; expected %s, got %s" % (
                path or "(top)", "; ".join(parts), fmt(expected, 150), fmt(actual, 150))
        for k, x in expected.items():
            d = value_diff(x, actual[k], _join(path, k), nan_equal)
            if d:
                return d
        return None
    if te is list:
        if type(actual) is not list:
            return _mismatch(path, expected, actual)
        if len(expected) != len(actual):
            return "%s: expected %d elements, got %d; expected %s, got %s" % (
                path or "(top)", len(expected), len(actual), fmt(expected, 150),
                fmt(actual, 150))
        for i, (x, y) in enumerate(zip(expected, actual)):
            d = value_diff(x, y, _join(path, i), nan_equal)
            if d:
                return d
        return None
    if type(actual) in (dict, list) or not scalar_equal(expected, actual, nan_equal):
        return _mismatch(path, expected, actual)
    return None


def multiset_diff(expected, actual, path, element_diff):
    """Arrays compared as multisets: same length, and each expected element
    matched by a distinct equal actual element (equality is an equivalence
    here, so a greedy matching is exact)."""
    if len(expected) != len(actual):
        return "%s: expected %d elements (in any order), got %d; expected %s, got %s" % (
            path or "(top)", len(expected), len(actual), fmt(expected, 150), fmt(actual, 150))
    unused = list(range(len(actual)))
    for i, x in enumerate(expected):
        for n, j in enumerate(unused):
            if element_diff(x, actual[j], _join(path, j)) is None:
                del unused[n]
                break
        else:
            return "%s: nothing in the actual array (in any order) equals expected[%d] %s; " \
                   "actual %s" % (path or "(top)", i, fmt(x, 150), fmt(actual, 200))
    return None


def _fields_unordered_diff(expected, actual, path, fields, nan_equal):
    """A document whose top-level fields named in `fields` compare as
    multisets when both sides are arrays (the suite's ignore_order_in)."""
    if type(expected) is not dict or type(actual) is not dict:
        return value_diff(expected, actual, path, nan_equal)
    d = value_diff({k: None for k in expected}, {k: None for k in actual}, path)
    if d:
        return value_diff(expected, actual, path, nan_equal)  # the key-set message
    for k, x in expected.items():
        p = _join(path, k)
        if k in fields and type(x) is list and type(actual[k]) is list:
            d = multiset_diff(x, actual[k], p,
                              lambda e, a, q: value_diff(e, a, q, nan_equal))
        else:
            d = value_diff(x, actual[k], p, nan_equal)
        if d:
            return d
    return None


def success_diff(expected, actual, path, ignore_doc_order=False, ignore_order_in=None,
                 nan_equal=False):
    """The whole `success` comparison of an expected value with the extracted
    result (a first batch, or a raw reply already stripped of gossip)."""
    fields = frozenset(ignore_order_in or ())
    if fields:
        def element(e, a, p):
            return _fields_unordered_diff(e, a, p, fields, nan_equal)
    else:
        def element(e, a, p):
            return value_diff(e, a, p, nan_equal)
    if type(expected) is list and type(actual) is list:
        if ignore_doc_order:
            return multiset_diff(expected, actual, path, element)
        if len(expected) != len(actual):
            return value_diff(expected, actual, path, nan_equal)  # the length message
        for i, (e, a) in enumerate(zip(expected, actual)):
            d = element(e, a, _join(path, i))
            if d:
                return d
        return None
    # a document (raw reply): ignore_order_in applies to its top-level fields,
    # ignore_doc_order has nothing to reorder
    return element(expected, actual, path)


def partial_diff(expected, actual, path="", nan_equal=False):
    """success_partial: only what expected names is compared, recursively --
    fields of documents, and the first len(expected) elements of arrays (the
    suite's _extract_partial zips the arrays)."""
    if type(expected) is dict and type(actual) is dict:
        for k, x in expected.items():
            if k not in actual:
                return "%s: missing field %s; got %s" % (path or "(top)", json.dumps(k),
                                                          fmt(actual, 150))
            d = partial_diff(x, actual[k], _join(path, k), nan_equal)
            if d:
                return d
        return None
    if type(expected) is list and type(actual) is list:
        if len(actual) < len(expected):
            return "%s: expected at least %d elements, got %d; got %s" % (
                path or "(top)", len(expected), len(actual), fmt(actual, 150))
        for i, x in enumerate(expected):
            d = partial_diff(x, actual[i], _join(path, i), nan_equal)
            if d:
                return d
        return None
    return value_diff(expected, actual, path, nan_equal)


def _truthy(v):
    """Python truthiness of the value pymongo would have decoded."""
    t = type(v)
    if v is None or t is Undefined:
        return False
    if t in (bool, float, str, dict, list, Int32, Int64, int):
        return bool(v)
    if t is Binary:
        return bool(v.data)
    if t is Symbol:
        return bool(v.symbol)
    if t is Code:
        return bool(v.code)
    return True


class Outcome:
    """What one command produced: a decoded reply, or a runner-level failure
    (a Postgres error raised by run_command, an undecodable reply)."""
    __slots__ = ("reply", "failure")

    def __init__(self, reply=None, failure=None):
        self.reply = reply
        self.failure = failure

    def describe(self):
        if self.failure is not None:
            return self.failure
        return fmt(self.reply, 300)


def classify(reply):
    """(is_error, code, errmsg) of a reply, as pymongo's db.command() sees it:
    an error when "ok" is missing or falsy (OperationFailure, with the
    reply's code; with no "errmsg" pymongo fails with KeyError, i.e. no
    code); anything else is a result, even with writeErrors."""
    if "ok" not in reply:
        return True, reply.get("code"), reply.get("$err")
    if _truthy(reply["ok"]):
        return False, None, None
    if "errmsg" not in reply:
        return True, None, None
    return True, reply.get("code"), reply["errmsg"]


def _code_text(code, msg):
    s = "code %s" % (fmt(code, 40) if type(code) is not Int32 else int(code))
    if type(code) not in (Int32, type(None)):
        s += " (a %s)" % type_name(code)
    if msg is not None:
        s += ": %s" % (msg if isinstance(msg, str) else fmt(msg, 100))
    return s[:400]


EXPECT_FIELDS = {
    "success": {"op", "command_index", "kind", "expected", "compare", "ignore_doc_order",
                "ignore_order_in", "nan_equal"},
    "success_partial": {"op", "command_index", "kind", "expected", "compare"},
    "error": {"op", "command_index", "kind", "error_code", "error_msg"},
    "no_error": {"op", "command_index", "kind"},
}


class Unsupported(Exception):
    """Something in a case this runner does not implement."""


def check_expect(expect, outcome):
    """(passed, reason) for one expect event (placeholders already replaced)
    against the Outcome of its command.  Raises Unsupported for expectations
    it does not know how to apply."""
    kind = expect.get("kind")
    allowed = EXPECT_FIELDS.get(kind)
    if allowed is None:
        raise Unsupported("expect kind %r" % (kind,))
    extra = sorted(set(expect) - allowed)
    if extra:
        raise Unsupported("expect %s with field(s) %s" % (kind, ", ".join(extra)))
    if outcome.failure is not None:
        return False, outcome.failure
    reply = outcome.reply
    is_error, code, msg = classify(reply)

    if kind == "no_error":
        if is_error:
            return False, "expected success, got error %s" % _code_text(code, msg)
        return True, ""

    if kind == "error":
        want = expect.get("error_code")
        want_msg = expect.get("error_msg")
        if not _is_int(want) or not (want_msg is None or isinstance(want_msg, str)):
            raise Unsupported("error expectation with error_code %r, error_msg %r"
                              % (want, want_msg))
        if not is_error:
            if "writeErrors" not in reply:
                return False, "expected error %d, command succeeded: %s" % (
                    want, fmt(reply, 300))
            # the suite: the first write error stands for the command's error
            we = reply["writeErrors"]
            if type(we) is not list or not we or type(we[0]) is not dict or \
                    "code" not in we[0] or "errmsg" not in we[0]:
                return False, "expected error %d; reply has malformed writeErrors: %s" % (
                    want, fmt(reply, 300))
            code, msg = we[0]["code"], we[0]["errmsg"]
            source = "writeErrors[0]"
        else:
            source = "error"
        if type(code) is not Int32 or code != want:
            return False, "expected error code %d, got %s %s" % (
                want, source, _code_text(code, msg))
        if want_msg is not None and not (isinstance(msg, str) and want_msg in msg):
            return False, "error code %d as expected, but the message %s does not " \
                          "contain %s" % (want, fmt(msg, 200), json.dumps(want_msg))
        return True, ""

    # success, success_partial
    compare = expect.get("compare")
    if "expected" not in expect:
        raise Unsupported("%s expectation without 'expected'" % kind)
    expected = expect["expected"]
    if is_error:
        return False, "expected success, got error %s" % _code_text(code, msg)

    if kind == "success_partial":
        if compare != "raw_reply":
            raise Unsupported("success_partial with compare %r" % (compare,))
        d = partial_diff(strip_gossip(expected), strip_gossip(reply), "", False)
        return (d is None), (d or "")

    ido = expect.get("ignore_doc_order")
    ioi = expect.get("ignore_order_in")
    nan_equal = expect.get("nan_equal")
    if ido not in (None, True, False) or nan_equal not in (None, True, False) or \
            not (ioi is None or (type(ioi) is list and all(type(f) is str for f in ioi))):
        raise Unsupported("success options ignore_doc_order=%r ignore_order_in=%r "
                          "nan_equal=%r" % (ido, ioi, nan_equal))
    if compare == "cursor.firstBatch":
        cursor = reply.get("cursor")
        if type(cursor) is not dict or "firstBatch" not in cursor:
            return False, "reply has no cursor.firstBatch: %s" % fmt(reply, 300)
        actual = cursor["firstBatch"]
        path = "cursor.firstBatch"
    elif compare == "raw_reply":
        actual = strip_gossip(reply)
        expected = strip_gossip(expected)
        path = ""
    else:
        raise Unsupported("success with compare %r" % (compare,))
    d = success_diff(expected, actual, path, bool(ido), ioi, bool(nan_equal))
    return (d is None), (d or "")


# ---------------------------------------------------------------------------
# Areas
# ---------------------------------------------------------------------------

def area_of(case_id):
    """The area of a case id: its first three directories
    ("core/operator/query/...::t" -> "core/operator/query"); an id with a
    file above that depth gets the directories it has
    ("core/collation/test_x.py::t" -> "core/collation")."""
    path = case_id.split("::", 1)[0]
    parts = path.split("/")[:-1]  # the directories, not the file
    return "/".join(parts[:3]) if parts else path
