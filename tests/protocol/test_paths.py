"""Path validation (ZooKeeper's ``PathUtils.validatePath``) and chroot handling."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trio_zookeeper._protocol import Chroot, validate_path

from .strategies import protocol_settings


def java_validate_path(path: str) -> str | None:
    """A line-by-line port of ``PathUtils.validatePath(String)`` (3.8.0).

    Works on UTF-16 code units as Java does, so a non-BMP character is two
    surrogates. Returns Java's reason, or None when the path is valid.
    """
    units = path.encode("utf-16-be", "surrogatepass")
    chars = [chr(int.from_bytes(units[i : i + 2], "big")) for i in range(0, len(units), 2)]
    if not chars:
        return "Path length must be > 0"
    if chars[0] != "/":
        return "Path must start with / character"
    if len(chars) == 1:
        return None
    if chars[-1] == "/":
        return "Path must not end with / character"
    lastc = "/"
    for i in range(1, len(chars)):
        c = chars[i]
        if c == "\0":
            return f"null character not allowed @{i}"
        if c == "/" and lastc == "/":
            return f"empty node name specified @{i}"
        if c == "." and lastc == ".":
            if chars[i - 2] == "/" and (i + 1 == len(chars) or chars[i + 1] == "/"):
                return f"relative paths not allowed @{i}"
        elif c == ".":
            if chars[i - 1] == "/" and (i + 1 == len(chars) or chars[i + 1] == "/"):
                return f"relative paths not allowed @{i}"
        elif (
            "\u0000" < c <= "\u001f"
            or "\u007f" <= c <= "\u009f"
            or "\ud800" <= c <= "\uf8ff"
            or "\ufff0" <= c <= "\uffff"
        ):
            return f"invalid character @{i}"
        lastc = c
    return None


def java_validate_path_sequential(path: str, sequential: bool) -> str | None:
    # PathUtils.validatePath(String, boolean): the server appends the number.
    return java_validate_path(path + "1" if sequential else path)


VALID = [
    "/",
    "/a",
    "/a/b",
    "/a.b",
    "/...",
    "/a/..b",
    "/.a",
    "/a./b",
    "/\u00e9/\u65e5\u672c",
    "/ ",
    "/\u00a0",
    "/\uffef",
]


@pytest.mark.parametrize("path", VALID)
def test_valid_paths(path: str) -> None:
    assert validate_path(path) is path
    assert java_validate_path(path) is None


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "may not be empty"),
        ("a", "must start with '/'"),
        ("a/b", "must start with '/'"),
        ("/a/", "may not end with '/'"),
        ("//", "may not end with '/'"),
        ("/a//b", "empty segment"),
        ("//a", "empty segment"),
        ("/.", "relative segment '.'"),
        ("/..", "relative segment '..'"),
        ("/a/./b", "relative segment '.'"),
        ("/a/../b", "relative segment '..'"),
        ("/a/.", "relative segment '.'"),
        ("/a\0b", "U\\+0000 at index 2"),
        ("/\u0001", "U\\+0001"),
        ("/a\u001f", "U\\+001F"),
        ("/\u007f", "U\\+007F"),
        ("/\u009f", "U\\+009F"),
        ("/\ud800", "U\\+D800"),
        ("/\ue000", "U\\+E000"),
        ("/\uf8ff", "U\\+F8FF"),
        ("/\ufff0", "U\\+FFF0"),
        ("/\uffff", "U\\+FFFF"),
        ("/x\U0001f600", "U\\+1F600 at index 2"),
    ],
)
def test_invalid_paths_name_the_problem(path: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as info:
        validate_path(path)
    assert repr(path) in str(info.value)
    assert java_validate_path(path) is not None


@pytest.mark.parametrize("bad", [None, b"/a", 1, ["/a"]])
def test_non_string_paths(bad: object) -> None:
    with pytest.raises(TypeError, match="must be a str"):
        validate_path(bad)


def test_boundary_characters_are_valid() -> None:
    for c in ("\u0020", "\u007e", "\u00a0", "\ud7ff", "\uf900", "\uffef"):
        assert validate_path(f"/a{c}b") == f"/a{c}b"


def test_sequential_paths_may_end_with_a_slash() -> None:
    assert validate_path("/lock/", sequential=True) == "/lock/"
    assert validate_path("/lock/n-", sequential=True) == "/lock/n-"
    assert validate_path("/", sequential=True) == "/"
    with pytest.raises(ValueError, match="may not end with '/'"):
        validate_path("/lock/")
    for bad in ("/a//", "/./", "/../", "", "a/"):
        with pytest.raises(ValueError, match="invalid path"):
            validate_path(bad, sequential=True)


path_text = st.text(
    st.sampled_from(
        "/.a\0\u0001\u001f\u007f\u009f\u00a0\u00e9\ud7ff\ue000\uf900\ufff0\uffff\U0001f600"
    ),
    max_size=8,
) | st.text(st.characters(codec="utf-8"), max_size=8).map(lambda s: "/" + s)


@protocol_settings(max_examples=400)
@given(path=path_text, sequential=st.booleans())
def test_validate_path_agrees_with_java(path: str, sequential: bool) -> None:
    java = java_validate_path_sequential(path, sequential)
    try:
        validate_path(path, sequential=sequential)
    except ValueError:
        assert java is not None, f"Java accepts {path!r}"
    else:
        assert java is None, f"Java rejects {path!r}: {java}"


# -------------------------------------------------------------------- chroot
def test_no_chroot_does_nothing() -> None:
    for root in (None, "", "/"):
        chroot = Chroot(root)
        assert not chroot
        assert repr(chroot) == "Chroot('/')"
        for path in ("/", "/a", "/a/b"):
            assert chroot.apply(path) == path
            assert chroot.strip(path) == path


def test_chroot_apply_and_strip() -> None:
    chroot = Chroot("/app/x")
    assert chroot
    assert repr(chroot) == "Chroot('/app/x')"
    assert chroot.apply("/") == "/app/x"
    assert chroot.apply("/a") == "/app/x/a"
    assert chroot.apply("/a/b") == "/app/x/a/b"
    unroot = chroot.strip  # (not str.strip: ruff's B005 would think so)
    assert unroot("/app/x") == "/"
    assert unroot("/app/x/a") == "/a"
    assert unroot("/app/x/a/b") == "/a/b"


@pytest.mark.parametrize("outside", ["/", "/app", "/app/xy", "/app/x2/a", "/other", "/ap"])
def test_strip_leaves_paths_outside_the_chroot_unchanged(outside: str) -> None:
    assert Chroot("/app/x").strip(outside) == outside


@pytest.mark.parametrize("root", ["app", "/app/", "/a//b", "/a/../b"])
def test_invalid_chroot(root: str) -> None:
    with pytest.raises(ValueError, match="invalid path"):
        Chroot(root)


segments = st.text(
    st.characters(codec="utf-8", exclude_characters="/").filter(
        lambda c: java_validate_path("/x" + c) is None
    ),
    min_size=1,
    max_size=6,
).filter(lambda s: s not in (".", ".."))
valid_paths = st.lists(segments, max_size=4).map(lambda parts: "/" + "/".join(parts))


@protocol_settings(max_examples=200)
@given(root=valid_paths, path=valid_paths)
def test_strip_inverts_apply(root: str, path: str) -> None:
    assert validate_path(path) == path
    chroot = Chroot(root)
    applied = chroot.apply(path)
    assert validate_path(applied) == applied
    assert applied.startswith(root)
    assert chroot.strip(applied) == path
