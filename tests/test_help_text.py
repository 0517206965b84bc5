"""The Help Center's text analysis without a database: roots, stop words, snippets, sanitising."""

from __future__ import annotations

import re

import pytest
import snowballstemmer

from api.paging import decode_cursor, encode_cursor
from api.problems import Problem
from domain.help import Locale, query_terms, render, slugify, snippet, terms

# The issue's examples: a query's affixed forms and an article's must share a root.
AFFIXED = [
    ("pengembalian", "dikembalikan", "kembali"),
    ("pengiriman", "dikirim", "kirim"),
    ("pembayaran", "dibayar", "bayar"),
    ("penarikan", "ditarik", "tarik"),
    ("pesanan", "dipesan", "pesan"),
    ("pembatalan", "dibatalkan", "batal"),
    ("penerimaan", "diterima", "terima"),
    ("keterlambatan", "terlambat", "lambat"),
    ("pengajuan", "mengajukan", "aju"),
    ("peretasan", "diretas", "retas"),
]


@pytest.mark.parametrize(("noun", "verb", "root"), AFFIXED)
def test_affixed_forms_share_their_root(noun: str, verb: str, root: str) -> None:
    assert terms(noun) == [root]
    assert terms(verb) == [root]


def test_snowball_indonesian_gets_the_issue_examples_wrong_which_is_why_it_is_not_used() -> None:
    snowball = snowballstemmer.stemmer("indonesian")
    assert snowball.stemWord("pengembalian") == "embali" != snowball.stemWord("dikembalikan")
    assert snowball.stemWord("pengiriman") == "irim" != snowball.stemWord("dikirim")
    assert terms("pengembalian dana") == terms("dana dikembalikan")[::-1] == ["kembali", "dana"]


def test_stop_words_go_meaningful_words_stay() -> None:
    assert query_terms("yang dan di ke") == []
    assert query_terms("the and of", Locale.EN) == []
    # Words of Sastrawi's stop list that mean something in a help center are searched for.
    assert query_terms("barang kembali tiga hari") == ["barang", "kembali", "tiga", "hari"]


def test_english_is_stemmed_as_english() -> None:
    assert query_terms("Refunds were refunded", Locale.EN) == ["refund"]
    assert query_terms("shipping shipped", Locale.EN) == ["ship"]


def test_accents_and_case_fold() -> None:
    assert terms("PENGEMBALIÁN") == ["kembali"]


def test_snippet_marks_the_matched_words_and_escapes_the_rest() -> None:
    text = (
        "Awal. " * 40
        + "Dana <b>dikembalikan</b> ke Saldo pembeli setelah pengembalian disetujui. "
        + "x " * 40
    )
    found = snippet(text, query_terms("pengembalian dana"), Locale.ID)
    assert "<mark>Dana</mark>" in found and "<mark>dikembalikan</mark>" in found
    assert "<mark>pengembalian</mark>" in found
    assert "&lt;b&gt;" in found and "<b>" not in found
    assert found.startswith("…") and found.endswith("…")


@pytest.mark.parametrize(
    "markdown",
    [
        "<script>alert(1)</script>hello",
        '<img src="x.png" onerror="alert(1)">',
        "[click](javascript:alert(1))",
        '<a href="javascript:alert(1)">click</a>',
        '<a href="JaVaScRiPt:alert(1)" onclick="steal()">click</a>',
        "<iframe src='https://evil.example'></iframe><style>body{}</style>",
        '<p onmouseover="x()">text</p>',
    ],
)
def test_rendering_removes_dangerous_markup(markdown: str) -> None:
    safe = render(markdown).html.lower()
    for tag in ("<script", "<iframe", "<style"):
        assert tag not in safe, safe
    assert not re.search(r"<[^>]*\bon[a-z]+\s*=", safe), safe  # no event handler attribute
    assert not re.search(r"<[^>]*(href|src)\s*=\s*[\"']?\s*javascript:", safe), safe  # no script link


def test_rendering_keeps_ordinary_markdown() -> None:
    rendered = render(
        "# Judul\n\n**Terima Solusi** dan [Pusat Bantuan](https://example.com/bantuan)\n\n- satu"
    )
    assert "<h1>Judul</h1>" in rendered.html and "<strong>Terima Solusi</strong>" in rendered.html
    assert 'href="https://example.com/bantuan"' in rendered.html and 'rel="noopener noreferrer nofollow"' in (
        rendered.html
    )
    assert rendered.text == "Judul Terima Solusi dan Pusat Bantuan satu"


def test_slugs() -> None:
    assert slugify("Ajukan Banding: menyanggah komplain!") == "ajukan-banding-menyanggah-komplain"
    assert slugify("Tokopedia Care membalas dalam 1\u00d724 jam") == "tokopedia-care-membalas-dalam-1x24-jam"
    assert terms("1\u00d724 jam") == terms("1x24 jam") == ["1x24", "jam"]
    assert slugify("???") == "article"


def test_cursors_round_trip_and_foreign_ones_are_refused() -> None:
    assert decode_cursor(encode_cursor([42]), (int,)) == [42]
    assert decode_cursor(None, (int,)) is None
    for bad in ("nonsense", encode_cursor(["42"]), encode_cursor([1, 2]), "%%%"):
        with pytest.raises(Problem) as refused:
            decode_cursor(bad, (int,))
        assert refused.value.status == 422 and refused.value.extra["errors"][0]["field"] == "cursor"
