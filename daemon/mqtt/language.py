"""The language of an utterance, derived from what was recognised: text with CJK characters is Chinese, other text
is in the language of the grammar data it matched (the grammar's non-Chinese language)."""

from __future__ import annotations

import re
from typing import Iterable, Optional, Sequence

__all__ = ["is_chinese_code", "has_cjk", "utterance_language"]

_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ebef]")


def is_chinese_code(language: str) -> bool:
    """True for zh, zh-cn, zh-tw, cmn, yue ... language codes."""
    return language.lower().startswith(("zh", "cmn", "yue"))


def has_cjk(text: str) -> bool:
    """True when ``text`` has at least one CJK ideograph."""
    return _CJK.search(text) is not None


def utterance_language(text: str, languages: Sequence[str], matched: Iterable[str] = ()) -> Optional[str]:
    """The language code of an utterance's ``text`` among a grammar's ``languages``.

    ``matched`` are the languages of the grammar data blocks the utterance could have matched (an intent's blocks),
    used to tell apart several non-Chinese languages. CJK text gives the grammar's Chinese code ("zh" when it has
    none); other text the matched (else the first) non-Chinese language; empty text the grammar's only language, or
    None when it has several.

    >>> utterance_language("把客厅的灯打开", ["en", "zh-cn"])
    'zh-cn'
    >>> utterance_language("turn on the light", ["zh-cn", "en"])
    'en'
    """
    if not text.strip():
        return languages[0] if len(languages) == 1 else None
    if has_cjk(text):
        return next((lang for lang in languages if is_chinese_code(lang)), "zh")
    others = [lang for lang in languages if not is_chinese_code(lang)]
    preferred = [lang for lang in matched if not is_chinese_code(lang) and (lang in others or not others)]
    if preferred:
        return preferred[0]
    if others:
        return others[0]
    return languages[0] if languages else None
