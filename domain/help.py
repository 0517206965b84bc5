"""Help Center articles (Pusat Bantuan): their vocabulary, the one text analysis that both
databases search with, snippets, and Markdown rendered to safe HTML.

Search works on roots. Indonesian builds words from a root with prefixes, suffixes and confixes
(``kembali`` → ``pengembalian``, ``dikembalikan``); a query's affixed forms must find each other.
Snowball's Indonesian stemmer (PostgreSQL's ``indonesian`` configuration) strips these wrongly
(``pengembalian`` → ``embali``, ``pengiriman`` → ``irim``), so the analysis here stems in Python
with Sastrawi (Nazief-Adriani with a dictionary of roots: ``pengembalian`` → ``kembali``) and the
databases index the stemmed text with no language rules of their own (SQLite FTS5's ``unicode61``
tokenizer, PostgreSQL's ``simple`` configuration): both search exactly the same tokens.
English articles are stemmed with Snowball's English (Porter2) stemmer.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

import nh3
import snowballstemmer
from markdown_it import MarkdownIt
from Sastrawi.Stemmer.StemmerFactory import StemmerFactory
from Sastrawi.StopWordRemover.StopWordRemoverFactory import StopWordRemoverFactory


class HelpTopic(StrEnum):
    """The nine help-center topics of the seed, and OTHER for the rest."""

    ACCOUNT = "ACCOUNT"
    ORDERS = "ORDERS"
    PAYMENT = "PAYMENT"
    SHIPPING = "SHIPPING"
    REFUNDS = "REFUNDS"
    BALANCE_WITHDRAWAL = "BALANCE_WITHDRAWAL"
    SALES = "SALES"
    PROMOTIONS = "PROMOTIONS"
    ACCOUNT_SECURITY = "ACCOUNT_SECURITY"
    OTHER = "OTHER"


class Locale(StrEnum):
    """The language an article is written in."""

    ID = "id"
    EN = "en"


class Audience(StrEnum):
    """Who an article is for; ``all`` articles are shown to buyers and sellers alike."""

    BUYER = "buyer"
    SELLER = "seller"
    ALL = "all"


class ArticleStatus(StrEnum):
    """Only published articles are shown to users (platform keys)."""

    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


# -- analysis ------------------------------------------------------------------------------------

#: Words of Sastrawi's stop list that mean something in a help center and are searched for.
_MEANINGFUL = frozenset(
    "kembali balik masuk keluar hari jam bulan tiga dua satu empat lima kasus masalah jawab jawaban "
    "baru akhir awal lama minta meminta diminta mohon pihak tempat naik tambah beri diberi diberikan "
    "memberikan buat membuat lanjut tanya ditanya bertanya pertanyaan tunjuk terima tuju tiba ganti "
    "jumlah kurang lebih tanpa kecil besar data".split()
)
_STOP_ID = frozenset(StopWordRemoverFactory().get_stop_words()) - _MEANINGFUL
_STOP_EN = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves please want need get got""".split()
)
#: Roots Sastrawi gets wrong on this domain's words (checked in tests/test_help_text.py).
_FIXES = {"penarikan": "tarik", "dipesan": "pesan", "memesan": "pesan", "pemesanan": "pesan"}

_WORD = re.compile(r"[0-9a-z]+(?:-[0-9a-z]+)*")
_DISPLAY_WORD = re.compile(r"\w+(?:-\w+)*")
#: What an indexed term looks like: safe to quote in FTS5 and tsquery syntax.
TERM = re.compile(r"^[0-9a-z]+$")


def fold(text: str) -> str:
    """Lower case without accents, so ``Pengembalián`` and ``pengembalian`` are one word; the
    seed's ``1x24`` written with a times sign is ``1x24``."""
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("\u00d7", "x"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@lru_cache(maxsize=1)
def _sastrawi() -> object:
    return StemmerFactory().create_stemmer()


@lru_cache(maxsize=1)
def _porter() -> snowballstemmer.stemmer:
    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str, locale: Locale = Locale.ID) -> str | None:
    """The root of one folded word, or None for a stop word."""
    if locale is Locale.EN:
        if word in _STOP_EN:
            return None
        root = _porter().stemWord(word.replace("-", ""))
        return root if isinstance(root, str) else None
    if word in _STOP_ID:
        return None
    if word in _FIXES:
        return _FIXES[word]
    stemmed: str = _sastrawi().stem(word)  # type: ignore[attr-defined]
    # Reduplication (``barang-barang``) comes back as one root; anything else loses its hyphen.
    return stemmed.replace(" ", "").replace("-", "") or None


def words(text: str, locale: Locale = Locale.ID) -> list[tuple[str, str]]:
    """Each word of ``text`` that is not a stop word, folded, with its root."""
    found = []
    for word in _WORD.findall(fold(text)):
        root = stem(word, locale)
        if root and TERM.match(root):
            found.append((word, root))
    return found


def terms(text: str, locale: Locale = Locale.ID) -> list[str]:
    """The indexed tokens of ``text``, in order: folded, stop words dropped, each word to its root."""
    return [root for _, root in words(text, locale)]


def query_terms(text: str, locale: Locale = Locale.ID) -> list[str]:
    """The distinct roots of a query, in the order typed."""
    return list(dict.fromkeys(terms(text, locale)))


def indexed(text: str, locale: Locale) -> str:
    """The text as the databases index it: its roots, separated by spaces."""
    return " ".join(terms(text, locale))


# -- snippets ------------------------------------------------------------------------------------


def snippet(text: str, wanted: Iterable[str], locale: Locale, *, width: int = 30) -> str:
    """HTML: the ``width`` words of ``text`` that hold most of the ``wanted`` roots, every word
    whose root is wanted inside ``<mark>``, everything else escaped."""
    wanted = set(wanted)
    spans, roots = _shown_words(text, locale)
    if not spans:
        return html.escape(text[:200])
    hits = [root if root in wanted else None for root in roots]
    # One pass with a sliding window: the first window holding the most distinct wanted roots,
    # then the most matched words.
    inside: dict[str, int] = {}
    matched = 0
    for root in hits[:width]:
        if root:
            inside[root] = inside.get(root, 0) + 1
            matched += 1
    best, best_score = 0, (len(inside), matched)
    for start in range(1, len(spans) - width + 1):
        leaving, entering = hits[start - 1], hits[start + width - 1]
        if leaving:
            matched -= 1
            if inside[leaving] == 1:
                del inside[leaving]
            else:
                inside[leaving] -= 1
        if entering:
            inside[entering] = inside.get(entering, 0) + 1
            matched += 1
        score = (len(inside), matched)
        if score > best_score:
            best, best_score = start, score
    chosen = spans[best : best + width]
    end = chosen[-1][1]
    out = ["…" if best > 0 else ""]
    position = chosen[0][0]
    for index, (start, stop) in enumerate(chosen, start=best):
        out.append(html.escape(text[position:start]))
        word = html.escape(text[start:stop])
        out.append(f"<mark>{word}</mark>" if hits[index] else word)
        position = stop
    out.append(html.escape(text[position:end]))
    out.append("…" if best + width < len(spans) else "")
    return "".join(out)


@lru_cache(maxsize=4096)
def _shown_words(text: str, locale: Locale) -> tuple[tuple[tuple[int, int], ...], tuple[str | None, ...]]:
    # The words of a body and their roots, kept for the bodies searches show most (a few MB):
    # a snippet then only looks up which roots are wanted.
    matches = list(_DISPLAY_WORD.finditer(text))
    return tuple(m.span() for m in matches), tuple(_root_of_shown(m.group(), locale) for m in matches)


@lru_cache(maxsize=200_000)
def _root_of_shown(word: str, locale: Locale) -> str | None:
    folded = fold(word)
    return stem(folded, locale) if _WORD.fullmatch(folded) else None


# -- Markdown ------------------------------------------------------------------------------------

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "li", "ol", "p", "pre", "s", "strong", "sub", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "th": {"align"}, "td": {"align"}}
_markdown = MarkdownIt("commonmark", {"html": True, "linkify": False}).enable("table").enable("strikethrough")


@dataclass(frozen=True)
class Rendered:
    """An article body as HTML safe to show, and as plain text for snippets."""

    html: str
    text: str


def render(markdown: str) -> Rendered:
    """Markdown to HTML, cleaned by ammonia (nh3): only harmless tags and attributes remain, links
    only to http, https and mailto (no ``javascript:``), no scripts, no event handlers."""
    clean = nh3.clean(
        _markdown.render(markdown),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    text = html.unescape(nh3.clean(clean, tags=set()))
    return Rendered(html=clean, text=" ".join(text.split()))


def slugify(title: str) -> str:
    """A URL slug of a title: ``Cara mengajukan komplain`` → ``cara-mengajukan-komplain``."""
    ascii_title = fold(title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title).strip("-")[:80].strip("-") or "article"
