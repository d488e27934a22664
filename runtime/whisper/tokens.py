"""Whisper's byte-level BPE vocabulary: token id ↔ bytes, special tokens, and a byte trie of the text tokens."""

from __future__ import annotations

from pathlib import Path

from runtime.errors import ModelLoadError


def _byte_alphabet() -> dict[str, int]:
    """GPT-2's printable stand-ins for bytes (vocabulary.txt spells tokens with them) → the byte."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(char): byte for byte, char in zip(printable, chars)}


_BYTE_OF = _byte_alphabet()


class TokenTrie:
    """Byte trie of the text tokens in flat tables (one dict of edges, not a dict per node): node 0 is the root."""

    def __init__(self, token_bytes: list[bytes]) -> None:
        self.edges: dict[int, int] = {}  # node << 8 | byte -> child node
        self.token: list[int] = [-1]  # node -> the token ending there, -1 if none
        self.inner = bytearray(1)  # node -> 1 when it has children
        edges, token, inner = self.edges, self.token, self.inner
        for token_id, data in enumerate(token_bytes):
            node = 0
            for byte in data:
                key = node << 8 | byte
                child = edges.get(key)
                if child is None:
                    child = edges[key] = len(token)
                    token.append(-1)
                    inner.append(0)
                    inner[node] = 1
                node = child
            token[node] = token_id


class WhisperVocabulary:
    """Token strings of a Whisper model: text tokens as bytes, specials by name."""

    def __init__(self, tokens: list[str], source: str = "vocabulary") -> None:
        self.tokens = tokens
        self.special = {tok: i for i, tok in enumerate(tokens) if tok.startswith("<|") and tok.endswith("|>")}
        try:
            self.eot = self.special["<|endoftext|>"]
            self.sot = self.special["<|startoftranscript|>"]
            self.transcribe = self.special["<|transcribe|>"]
            self.no_timestamps = self.special["<|notimestamps|>"]
        except KeyError as exc:
            raise ModelLoadError(f"{source}: special token {exc.args[0]} is missing; not a Whisper vocabulary") from None
        self.multilingual = "<|zh|>" in self.special
        self.no_speech = self.special.get("<|nocaptions|>", self.special.get("<|nospeech|>"))
        self.num_text_tokens = self.eot  # text tokens come first, then <|endoftext|> and the specials
        #: Language code → its ``<|xx|>`` token id (empty on an English-only model).
        self.language_codes = {tok[2:-2]: i for tok, i in self.special.items()
                               if self.multilingual and 2 <= len(tok) - 4 <= 3 and tok[2:-2].isalpha()
                               and tok[2:-2].islower()}
        try:
            self._bytes = [bytes(_BYTE_OF[ch] for ch in tok) for tok in tokens[: self.num_text_tokens]]
        except KeyError as exc:
            raise ModelLoadError(f"{source}: token with character {exc.args[0]!r} is not byte-level BPE") from None
        self._trie: TokenTrie | None = None

    @classmethod
    def from_file(cls, path: Path) -> "WhisperVocabulary":
        """Read vocabulary.txt (one token per line, CTranslate2's layout)."""
        try:
            tokens = path.read_text(encoding="utf-8").split("\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"{path}: cannot read the vocabulary ({exc})") from None
        if tokens and tokens[-1] == "":
            tokens.pop()
        return cls(tokens, str(path))

    def __len__(self) -> int:
        return len(self.tokens)

    def language_token(self, language: str) -> int | None:
        """Id of ``<|xx|>`` for a language code (zh-cn → zh), None when the model has no such language."""
        code = language.lower().replace("_", "-").split("-")[0]
        if code == "cmn":
            code = "zh"
        return self.special.get(f"<|{code}|>")

    def bytes_of(self, token: int) -> bytes:
        """The bytes of a text token (b"" for special tokens)."""
        return self._bytes[token] if token < self.num_text_tokens else b""

    def text_of(self, tokens) -> str:
        """Decoded text of a token sequence (special tokens dropped, broken UTF-8 replaced)."""
        return b"".join(self.bytes_of(t) for t in tokens).decode("utf-8", "replace")

    def trie(self) -> TokenTrie:
        """Byte trie of every text token (built on first use)."""
        if self._trie is None:
            self._trie = TokenTrie(self._bytes)
        return self._trie
