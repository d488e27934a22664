"""Spoken number words for Mandarin and English: value -> canonical words and all accepted variants."""

from __future__ import annotations

from decimal import Decimal

_ZH_DIGITS = "零一二三四五六七八九"
_EN_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_EN_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()

#: Largest absolute integer part the number words cover (ranges beyond it are a grammar error).
MAX_SPOKEN_NUMBER = 9999


def is_chinese(language: str) -> bool:
    """True for the Chinese language codes (zh, zh-cn, zh-hk, zh-tw, cmn ...)."""
    return language.lower().startswith(("zh", "cmn", "yue"))


# ---------------------------------------------------------------------------- Mandarin


def _zh_below_10000(n: int, liang: bool) -> list[str]:
    """All spoken forms of 0 <= n <= 9999; the first one is canonical."""
    if n < 10:
        return [_ZH_DIGITS[n]]
    if n < 20:
        # 十五 is how it is said alone; 一十五 is accepted too.
        rest = "" if n == 10 else _ZH_DIGITS[n - 10]
        return ["十" + rest, "一十" + rest]
    if n < 100:
        tens, ones = divmod(n, 10)
        return [_ZH_DIGITS[tens] + "十" + ("" if ones == 0 else _ZH_DIGITS[ones])]
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        heads = [_ZH_DIGITS[hundreds] + "百"]
        if hundreds == 2:
            heads = ["两百", "二百"] if liang else ["二百", "两百"]
        if rest == 0:
            return heads
        if rest < 10:
            tails = ["零" + _ZH_DIGITS[rest]]
        elif rest < 20:
            tails = ["一十" + ("" if rest == 10 else _ZH_DIGITS[rest - 10])]
        else:
            tails = _zh_below_10000(rest, liang)
        return [head + tail for head in heads for tail in tails]
    thousands, rest = divmod(n, 1000)
    heads = [_ZH_DIGITS[thousands] + "千"]
    if thousands == 2:
        heads = ["两千", "二千"]
    if rest == 0:
        return heads
    if rest < 100:
        # 一千零五, 一千零二十; the teens keep their 一: 一千零一十五.
        if 10 <= rest < 20:
            tails = ["零一十" + ("" if rest == 10 else _ZH_DIGITS[rest - 10])]
        else:
            tails = ["零" + _zh_below_10000(rest, liang)[0]]
    else:
        tails = _zh_below_10000(rest, liang)
    return [head + tail for head in heads for tail in tails]


def _zh_forms(value: Decimal) -> list[str]:
    sign = "负" if value < 0 else ""
    value = abs(value)
    integral = int(value)
    forms = _zh_below_10000(integral, liang=True)
    fraction = value - integral
    if fraction:
        digits = format(fraction, "f").split(".")[1].rstrip("0")
        forms = [form + "点" + "".join(_ZH_DIGITS[int(d)] for d in digits) for form in forms]
    return [sign + form for form in forms]


# ---------------------------------------------------------------------------- English


def _en_below_100(n: int) -> str:
    if n < 20:
        return _EN_ONES[n]
    tens, ones = divmod(n, 10)
    return _EN_TENS[tens] + ("" if ones == 0 else " " + _EN_ONES[ones])


def _en_below_10000(n: int) -> list[str]:
    if n < 100:
        return [_en_below_100(n)]
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        head = _EN_ONES[hundreds] + " hundred"
        if rest == 0:
            return [head]
        tail = _en_below_100(rest)
        return [f"{head} {tail}", f"{head} and {tail}"]
    thousands, rest = divmod(n, 1000)
    head = _EN_ONES[thousands] + " thousand"
    if rest == 0:
        return [head]
    forms = [f"{head} {tail}" for tail in _en_below_10000(rest)]
    if rest < 100:
        forms.append(f"{head} and {_en_below_100(rest)}")
    return forms


def _en_forms(value: Decimal) -> list[str]:
    sign = "minus " if value < 0 else ""
    value = abs(value)
    integral = int(value)
    forms = _en_below_10000(integral)
    fraction = value - integral
    if fraction:
        digits = format(fraction, "f").split(".")[1].rstrip("0")
        forms = [form + " point " + " ".join(_EN_ONES[int(d)] for d in digits) for form in forms]
    return [sign + form for form in forms]


# ---------------------------------------------------------------------------- public


def _as_decimal(value: float | int | Decimal) -> Decimal:
    decimal = Decimal(str(value))
    if abs(int(decimal)) > MAX_SPOKEN_NUMBER:
        raise ValueError(f"{value} is outside the spoken number range ±{MAX_SPOKEN_NUMBER}")
    return decimal


def number_variants(value: float | int | Decimal, language: str) -> list[str]:
    """All accepted spoken forms of ``value`` in ``language``; the first is the canonical one."""
    decimal = _as_decimal(value)
    return _zh_forms(decimal) if is_chinese(language) else _en_forms(decimal)


def number_words(value: float | int | Decimal, language: str) -> str:
    """The canonical spoken form: 二十六 / "twenty six" (no digits, no hyphens)."""
    return number_variants(value, language)[0]


def digits_to_words(digits: str, language: str) -> str | None:
    """Spoken form of a written number such as ``50`` or ``-3.5``; None when it cannot be spoken."""
    try:
        decimal = Decimal(digits)
        return number_words(decimal, language)
    except (ArithmeticError, ValueError):
        return None
