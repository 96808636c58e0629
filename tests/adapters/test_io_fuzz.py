"""Hostile model files: thousands of deterministic corruptions of real model files (byte flips, truncations,
every JSON field replaced by a value of every type or removed, zip entries renamed, duplicated, removed or
stored with unsupported compression methods, flags and versions, huge declared sizes, malformed .npy
headers). Loading either refuses with a ValueError saying what is wrong, or gives a model that works;
nothing else may escape (no NotImplementedError, KeyError, MemoryError... from zipfile, json or NumPy)."""
from __future__ import annotations

import bz2
import copy
import functools
import io
import json
import struct
import zipfile
import zlib

import numpy as np
import pytest

import mlp
from mlp import MLP
from mlp.data import Preprocessor

# a fitted Preprocessor's config as the model file holds it: a numeric and a categorical column, text labels
PREPROCESSOR = {"format": "mlp.data.Preprocessor", "version": 1, "features": ["height", "color"], "target": "kind",
                "task": "binary", "encoders": [
                    {"column": "height", "kind": "numeric", "mean": 166.25, "std": 11.92424001771182},
                    {"column": "color", "kind": "categorical", "categories": ["blue", "green", "red"]}],
                "class_names": ["short", "tall"], "label_kind": "text", "target_scale": None,
                "transforms": [], "transform_scales": []}


def base_models() -> dict[str, bytes]:
    """Real model files: with preprocessing, history and Adam state; float32 NAdam (its mu_product); no optimizer."""
    pre = Preprocessor.from_config(PREPROCESSOR)
    a = MLP(seed=0).sequential([pre.n_inputs, 4, "relu", pre.n_outputs, pre.output_activation])
    a.set_loss(pre.default_loss).set_optimizer("adam")
    rows = np.random.default_rng(3).normal(size=(12, pre.n_inputs))
    a.fit(rows, (rows[:, :1] > 0).astype(float), epochs=2)
    a.preprocessor = pre
    X = np.random.default_rng(0).normal(size=(8, 3))
    b = MLP(seed=1, dtype="float32").sequential([3, 3, "tanh", "dropout(0.25)", 2]).set_loss("huber")
    b.set_optimizer("nadam").fit(X, X[:, :2], epochs=2, batch_size=4)
    c = MLP(seed=2).sequential([3, 2, "softmax"])
    return {"adam+pre": a.to_bytes(), "nadam-f32": b.to_bytes(), "bare": c.to_bytes()}


BASES = base_models()


def outcome(blob: bytes) -> str:
    """'refused' (a clear ValueError) or 'loaded' (and the model works); anything else propagates."""
    try:
        model = mlp.from_bytes(blob)
    except ValueError as e:
        msg = str(e)
        assert msg and len(msg) < 2000, msg
        return "refused"
    model.predict(np.zeros((2, model.n_inputs)))
    repr(model), repr(model.history), model.summary()
    mlp.from_bytes(model.to_bytes())
    return "loaded"


def run_cases(cases) -> dict[str, int]:
    """Run (description, blob) cases; fail listing the first few that raised something other than ValueError."""
    counts, leaks = {"refused": 0, "loaded": 0}, []
    for desc, blob in cases:
        try:
            counts[outcome(blob)] += 1
        except Exception as e:  # noqa: BLE001 - the point: report any leak with its case
            leaks.append(f"{desc}: {type(e).__name__}: {e}"[:300])
    assert not leaks, f"{len(leaks)} leaks, e.g.:\n" + "\n".join(leaks[:10])
    return counts


# ---------------------------------------------------------------- raw bytes
def test_byte_flips_and_truncations():
    rng = np.random.default_rng(1234)
    cases = []
    for name, blob in BASES.items():
        variants = {name: blob}
        for method in (zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):  # the same file, other methods
            variants[f"{name}/m{method}"] = repack(blob, method)
        for vname, v in variants.items():
            assert outcome(v) == "loaded", vname
            for i in range(150):
                b = bytearray(v)
                for _ in range(rng.integers(1, 4)):
                    pos = int(rng.integers(0, len(b)))
                    b[pos] ^= int(rng.integers(1, 256))
                cases.append((f"{vname} flip #{i}", bytes(b)))
            for i in range(40):
                cases.append((f"{vname} truncated #{i}", v[:int(rng.integers(0, len(v)))]))
            cases.append((f"{vname} + trailing junk", v + bytes(rng.integers(0, 256, 64, dtype=np.uint8))))
    counts = run_cases(cases)
    assert counts["refused"] > 0.5 * len(cases)


def repack(blob: bytes, method: int) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(blob))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=method) as zf:
        for n in src.namelist():
            zf.writestr(n, src.read(n))
    return out.getvalue()


# ---------------------------------------------------------------- JSON fields
REPLACEMENTS = [None, True, False, 0, 1, -1, 2 ** 63, 10 ** 30, 0.5, -1e308, 1e308, "", "x", "relu", "0",
                "\u0000", [], [1], ["a", None], [[[]]], {}, {"a": 1}, {"name": "adam"}]


def paths(obj, prefix=()):
    """Every path to a value in a JSON document (lists: their first two items and the last)."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i in sorted({0, 1, len(obj) - 1} & set(range(len(obj)))):
            yield from paths(obj[i], prefix + (i,))


def edited(meta, path, value, delete=False):
    meta = copy.deepcopy(meta)
    if not path:
        return value
    node = meta
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return meta


def with_json(blob: bytes, text: bytes) -> bytes:
    """The model file with model.json replaced (entries stored: the JSON is what is under test here)."""
    return make_zip([(n, text if n == "model.json" else data) for n, data in entries_of(blob)], method=0)


def test_every_json_field_edited_to_every_type():
    cases = []
    for name, blob in BASES.items():
        meta = json.loads(zipfile.ZipFile(io.BytesIO(blob)).read("model.json"))
        for path in paths(meta):
            for value in REPLACEMENTS:
                text = json.dumps(edited(meta, path, value)).encode()
                cases.append((f"{name} {path} = {value!r}", with_json(blob, text)))
            if path:
                text = json.dumps(edited(meta, path, None, True)).encode()
                cases.append((f"{name} del {path}", with_json(blob, text)))
        for path in (p for p in paths(meta) if isinstance(_get(meta, p), dict)):
            cases.append((f"{name} {path} + unknown key", with_json(blob, json.dumps(
                edited(meta, path + ("zz_unknown",), 1)).encode())))
    assert len(cases) > 2000
    counts = run_cases(cases)
    assert counts["refused"] > 0.4 * len(cases) and counts["loaded"] > 0


def _get(obj, path):
    for key in path:
        obj = obj[key]
    return obj


def test_json_text_itself_broken():
    blob = BASES["adam+pre"]
    text = zipfile.ZipFile(io.BytesIO(blob)).read("model.json")
    meta = json.loads(text)
    bad = [b"", b"{", b"[]", b"null", b"\xff\xfe{}", text.replace(b"0.9", b"NaN", 1),
           text.replace(b"0.9", b"Infinity", 1),
           text.replace(b"0.9", b"1e999", 1), text.replace(b": 2,", b": " + b"9" * 5000 + b",", 1),
           b"[" * 100000 + b"]" * 100000, json.dumps({**meta, "format_version": 1.0}).encode(),
           json.dumps({**meta, "format_version": True}).encode(), text.replace(b"{", b"{\"format\": 1, ", 1),
           text + b"garbage", text.decode().encode("utf-16")]
    messages = []
    for i, t in enumerate(bad):
        with pytest.raises(ValueError) as info:
            mlp.from_bytes(with_json(blob, t))
        messages.append(str(info.value))
    assert "model.json cannot be read" in messages[0]
    assert "NaN is not a number a model file holds" in messages[5]
    assert "1e999 is too large a number" in messages[7]
    assert "format_version is 1.0, not a version number" in messages[10]
    assert "the key 'format' appears twice" in messages[12]


# ---------------------------------------------------------------- zip structure, written by hand
@functools.lru_cache(maxsize=16)
def entries_of(blob: bytes) -> tuple[tuple[str, bytes], ...]:
    src = zipfile.ZipFile(io.BytesIO(blob))
    return tuple((n, src.read(n)) for n in src.namelist())


def make_zip(entries, method=8, edits=None) -> bytes:
    """A zip archive, field by field. ``edits[i]`` overrides fields of entry i: name (bytes), method,
    flags, version (needed to extract), crc, csize/usize (declared, central directory), payload, extra."""
    edits = edits or {}
    out, central = bytearray(), bytearray()
    for i, (name, data) in enumerate(entries):
        e = {"name": name.encode(), "method": method, "flags": 0, "version": 20, "crc": zlib.crc32(data), "extra": b""}
        if method == 8:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            e["payload"] = c.compress(data) + c.flush()
        else:
            e["payload"] = data
        e["csize"], e["usize"] = len(e["payload"]), len(data)
        e.update(edits.get(i, {}))
        off = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, e["version"], e["flags"], e["method"], 0, 0x21, e["crc"],
                           e["csize"] & 0xFFFFFFFF, e["usize"] & 0xFFFFFFFF, len(e["name"]), 0)
        out += e["name"] + e["payload"]
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, e["version"], e["flags"], e["method"], 0, 0x21,
                               e["crc"], e["csize"] & 0xFFFFFFFF, e["usize"] & 0xFFFFFFFF, len(e["name"]),
                               len(e["extra"]), 0, 0, 0, 0, off) + e["name"] + e["extra"]
    n = len(entries)
    return bytes(out + central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), len(out), 0))


UNSUPPORTED_METHODS = [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 13, 15, 16, 17, 18, 19, 20, 93, 94, 95, 96, 97, 98, 99, 255,
                       0xFFFF]


def structural_cases():
    for name, blob in BASES.items():
        entries = list(entries_of(blob))
        for method in (0, 8):
            yield f"{name} rebuilt m{method}", make_zip(entries, method), "loaded"
        for i, (ename, data) in enumerate(entries):
            tag = f"{name}[{ename}]"
            for m in UNSUPPORTED_METHODS:
                yield f"{tag} method {m}", make_zip(entries, 8, {i: {"method": m}}), "refused"
            for flags, why in ((0x1, "encrypted"), (0x20, "patched data"), (0x40, "strong encryption"),
                               (0x41, "strong encryption"), (0x800, "utf-8 name")):
                yield f"{tag} flags {flags:#x} ({why})", make_zip(entries, 8, {i: {"flags": flags}}), \
                    "loaded" if flags == 0x800 else "refused"
            bad_name = {i: {"flags": 0x800, "name": b"\xff\xfe.npy"}}
            yield f"{tag} bad utf-8 name", make_zip(entries, 8, bad_name), "refused"
            for v in (64, 99, 255, 0xFFFF):
                yield f"{tag} version {v}", make_zip(entries, 8, {i: {"version": v}}), "refused"
            for size in (len(data) + 1, 2 ** 31, 2 ** 32 - 2):
                yield f"{tag} declares {size} bytes", make_zip(entries, 8, {i: {"usize": size}}), "refused"
            yield f"{tag} declares fewer bytes", make_zip(entries, 8, {i: {"usize": max(len(data) - 7, 0)}}), "refused"
            yield f"{tag} huge compressed size", make_zip(entries, 0, {i: {"csize": 2 ** 32 - 2}}), "refused"
            big = struct.pack("<HHQQ", 1, 16, 2 ** 60, 2 ** 60)   # zip64 sizes: 1 EiB
            yield f"{tag} zip64 1 EiB", make_zip(entries, 8, {i: {"usize": 0xFFFFFFFF, "csize": 0xFFFFFFFF,
                                                                     "extra": big}}), "refused"
            broken = {i: {"usize": 0xFFFFFFFF, "extra": b"\x01\x00\x08"}}
            yield f"{tag} broken zip64 extra", make_zip(entries, 8, broken), "refused"
            yield f"{tag} bad crc", make_zip(entries, 8, {i: {"crc": zlib.crc32(data) ^ 1}}), "refused"
            yield f"{tag} bad deflate", make_zip(entries, 8, {i: {"payload": b"\xff" * 40}}), "refused"
            bad_bz2 = {i: {"payload": bz2.compress(data)[:-9] + b"x" * 9}}
            yield f"{tag} bad bzip2", make_zip(entries, 12, bad_bz2), "refused"
            bad_lzma = {i: {"payload": b"\x09\x04\x05\x00" + b"\x5d" + bytes(30)}}
            yield f"{tag} bad lzma", make_zip(entries, 14, bad_lzma), "refused"
            without = entries[:i] + entries[i + 1:]
            yield f"{tag} removed", make_zip(without), "any"
            for dup in (data, b"other"):
                yield f"{tag} duplicated", make_zip(entries + [(ename, dup)]), "refused"
            for new in ("", "/", "../" + ename, ename.upper(), ename + "/", ename + "\x00", "optimizer/evil.npy",
                        "optimizer/", "é" + ename, "model.json" if ename != "model.json" else "params.npy"):
                renamed = entries[:i] + [(new, data)] + entries[i + 1:]
                yield f"{tag} renamed {new!r}", make_zip(renamed), "any"
        yield f"{name} 500 junk entries", make_zip(entries + [(f"junk/{k}", b"x") for k in range(500)]), "loaded"


def test_zip_structure_renamed_duplicated_unsupported_huge():
    cases = list(structural_cases())
    assert len(cases) > 600
    for desc, blob, expected in cases:
        try:
            got = outcome(blob)
        except Exception as e:  # noqa: BLE001
            pytest.fail(f"{desc}: {type(e).__name__}: {e}")
        assert expected in ("any", got), f"{desc}: {got}, expected {expected}"


def test_the_eight_unsupported_feature_errors_name_the_problem():
    entries = list(entries_of(BASES["adam+pre"]))
    expect = {  # what zipfile raises (NotImplementedError/RuntimeError) and what the message says instead
        "method 9": ({1: {"method": 9}}, "compression method 9 (deflate64)"),
        "method 99": ({1: {"method": 99}}, "compression method 99"),
        "method 97": ({0: {"method": 97}}, "compression method 97 (wavpack)"),
        "method 1": ({0: {"method": 1}}, "compression method 1 (shrink)"),
        "method 13": ({0: {"method": 13}}, "compression method 13"),
        "patched": ({0: {"flags": 0x20}}, "compressed patched data (flag bit 5)"),
        "strong": ({1: {"flags": 0x40}}, "strong encryption (flag bit 6)"),
        "version": ({0: {"version": 64}}, "zip file version 6.4"),
        "encrypted": ({1: {"flags": 0x1}}, "encrypted"),
    }
    for what, (edits, text) in expect.items():
        with pytest.raises(ValueError) as info:
            mlp.from_bytes(make_zip(entries, 8, edits))
        msg = str(info.value)
        assert text in msg and "not support" in msg, (what, msg)


# ---------------------------------------------------------------- .npy entries
def npy(arr, version=None) -> bytes:
    out = io.BytesIO()
    if version is None:
        np.save(out, arr, allow_pickle=True)
    else:
        np.lib.format.write_array(out, arr, version=version, allow_pickle=True)
    return out.getvalue()


def header(d: str, version=b"\x01\x00", pad=None) -> bytes:
    h = d.encode("latin1")
    h += b" " * ((pad if pad is not None else 64 - (10 + len(h) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY" + version + struct.pack("<H", len(h)) + h


def test_malformed_arrays():
    blob = BASES["adam+pre"]
    entries = list(entries_of(blob))
    n = mlp.from_bytes(blob).n_params
    good = dict(entries)["params.npy"]
    bodies = {
        "object array (pickle)": npy(np.array([{}] * n, dtype=object)),
        "float32": npy(np.zeros(n, np.float32)), "big-endian": npy(np.zeros(n, ">f8")),
        "2-D": npy(np.zeros((1, n))), "0-d": npy(np.float64(1)),
        "fortran 2-D": npy(np.asfortranarray(np.zeros((n, 2)))),
        "strings": npy(np.array(["a"] * n)), "void": npy(np.zeros(n, "V8")), "structured": npy(np.zeros(n, "f8,f8")),
        "complex": npy(np.zeros(n, complex)), "nan": npy(np.full(n, np.nan)), "inf": npy(np.full(n, np.inf)),
        "one short": npy(np.zeros(n - 1)), "one more": npy(np.zeros(n + 1)),
        "version 3.0": npy(np.zeros(n), version=(3, 0)), "version 9.9": b"\x93NUMPY\x09\x09" + good[8:],
        "shape 10**12": header("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }") + bytes(8 * n),
        "shape -1": header("{'descr': '<f8', 'fortran_order': False, 'shape': (-1,), }") + bytes(8 * n),
        "no dict": header("[1, 2, 3]") + bytes(8 * n), "code": header("__import__('os').system('false')"),
        "nested": header("{'descr': " + "[" * 3000 + "]" * 3000 + "}"),
        "huge header len": b"\x93NUMPY\x01\x00\xff\xff" + b" " * 100,
        "truncated data": good[:-5], "extra data": good + b"\x00" * 8, "header only": good[:128],
        "empty": b"", "not npy": b"PK\x03\x04" + bytes(100), "missing key": header("{'descr': '<f8', 'shape': (3,)}"),
        "bad descr": header("{'descr': 'not a dtype', 'fortran_order': False, 'shape': (3,), }"),
    }
    for what, body in bodies.items():
        for target in ("params.npy", "optimizer/exp_avg.npy"):
            edited_entries = [(k, body if k == target else v) for k, v in entries]
            with pytest.raises(ValueError) as info:
                mlp.from_bytes(make_zip(edited_entries))
            assert target in str(info.value), (what, target, str(info.value))


# ---------------------------------------------------------------- the same files in Pyodide (the static site's runtime)
_PYODIDE_CODE = r"""
import sys, json, zipfile
import numpy as np
import mlp
got = []
with zipfile.ZipFile("/cases/cases.zip") as cases:
    for name in cases.namelist():
        try:
            m = mlp.from_bytes(cases.read(name))
            m.predict(np.zeros((1, m.n_inputs)))
            got.append("loaded")
        except ValueError:
            got.append("refused")
        except Exception as e:
            got.append(f"LEAK {type(e).__name__}: {e}"[:200])
json.dumps({"python": sys.version.split()[0], "numpy": np.__version__, "got": got})
"""


def test_pyodide_refuses_the_same_files_alike(tmp_path):
    """A sample of the cases above, opened by the engine in Pyodide 0.27.7 (Python 3.12, NumPy 2.0.2): each
    file is refused with a ValueError or loaded exactly as in CPython."""
    from tests._browser import run_in_pyodide

    rng = np.random.default_rng(7)
    cases = [(desc, blob) for desc, blob, _ in structural_cases()][::2]
    blob = BASES["adam+pre"]
    meta = json.loads(zipfile.ZipFile(io.BytesIO(blob)).read("model.json"))
    for path in paths(meta):
        for value in REPLACEMENTS[::6]:
            cases.append((f"{path}={value!r}", with_json(blob, json.dumps(edited(meta, path, value)).encode())))
    for i in range(100):
        b = bytearray(blob)
        b[int(rng.integers(0, len(b)))] ^= int(rng.integers(1, 256))
        cases.append((f"flip {i}", bytes(b)))
    expected = [outcome(b) for _, b in cases]
    archive = tmp_path / "cases.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i, (_, b) in enumerate(cases):
            zf.writestr(f"{i:05d}", b)
    res = json.loads(run_in_pyodide(_PYODIDE_CODE, {tmp_path: "/cases"}))
    assert res["python"].startswith("3.12") and res["numpy"] == "2.0.2"
    differ = [f"{desc}: CPython {e}, Pyodide {g}" for (desc, _), e, g in zip(cases, expected, res["got"]) if e != g]
    assert len(res["got"]) == len(cases) > 600
    assert not differ, f"{len(differ)} differ, e.g.:\n" + "\n".join(differ[:10])


def test_an_archive_listing_too_many_entries_is_refused_before_it_is_parsed():
    entries = list(entries_of(BASES["bare"]))
    many = make_zip(entries + [(f"junk/{k}", b"") for k in range(30000)])   # a 1.6 MB directory
    with pytest.raises(ValueError, match="zip directory takes 1,[0-9,]+ bytes"):
        mlp.from_bytes(many)
    blob = make_zip(entries)
    end = blob.rfind(b"PK\x05\x06")
    lying = blob[:end + 12] + struct.pack("<I", 5 << 20) + blob[end + 16:]      # the end record claims 5 MiB
    with pytest.raises(ValueError, match="zip directory takes 5,242,880 bytes"):
        mlp.from_bytes(lying)
    # a zip64 end record (behind its locator) that claims a 1 TiB directory
    record = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, 3, 3, 1 << 40, 0)
    locator = struct.pack("<IIQI", 0x07064B50, 0, end, 1)
    eocd = blob[end:end + 10] + struct.pack("<HI", 0xFFFF, 0xFFFFFFFF) + blob[end + 16:]
    with pytest.raises(ValueError, match="zip directory takes 1,099,511,627,776 bytes"):
        mlp.from_bytes(blob[:end] + record + locator + eocd)
    assert outcome(make_zip(entries + [(f"junk/{k}", b"") for k in range(2000)])) == "loaded"
