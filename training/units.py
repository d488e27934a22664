"""Unit inventory: CJK characters + English sentencepiece BPE pieces -> units.txt and bpe.model; text -> unit ids."""

from __future__ import annotations

import logging
import argparse
import re
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

_LOGGER = logging.getLogger(__name__)

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
CJK_OR_STRETCH = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
SPECIALS_HEAD = ("<blank>", "<unk>")
SOS_EOS = "<sos/eos>"


def _grammar_words(lang: str) -> set[str]:
    """Every word on an arc of the shipped grammar's word graph (one CJK character, or one English word)."""
    from daemon.grammar import load_grammar  # noqa: PLC0415

    graph = load_grammar([REPO_ROOT / "grammars" / lang]).word_graph()
    return {arc.word for arcs in graph.arcs for arc in arcs if arc.word}


def build_units(sentences_tsv: Path, out_dir: Path, bpe_size: int, seed: int) -> None:
    """Write units.txt and bpe.model (English pieces trained on the English sentences, uppercase)."""
    import sentencepiece as spm  # noqa: PLC0415

    rows = [line.split("\t") for line in sentences_tsv.read_text(encoding="utf-8").splitlines()[1:] if line]
    zh_text = [r[4] for r in rows if r[1].startswith("zh")]
    en_text = [r[4].upper() for r in rows if r[1].startswith("en")]
    chars = set(CJK.findall("".join(zh_text)))
    chars |= {ch for w in _grammar_words("zh") for ch in CJK.findall(w)}
    en_words = sorted(w.upper() for w in _grammar_words("en"))
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "en.txt"
        # Grammar words are repeated so that every one of them is covered well by the pieces.
        corpus.write_text("\n".join(en_text + en_words * 3) + "\n", encoding="utf-8")
        spm.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(out_dir / "bpe"), vocab_size=bpe_size,
                                       model_type="bpe", character_coverage=1.0,
                                       bos_id=-1, eos_id=-1, unk_id=0, minloglevel=2)
    sp = spm.SentencePieceProcessor(model_file=str(out_dir / "bpe.model"))
    pieces = [sp.id_to_piece(i) for i in range(sp.get_piece_size()) if not sp.is_unknown(i) and not sp.is_control(i)]
    symbols = list(SPECIALS_HEAD) + sorted(chars) + pieces + [SOS_EOS]
    (out_dir / "units.txt").write_text("".join(f"{s} {i}\n" for i, s in enumerate(symbols)), encoding="utf-8")
    (out_dir / "bpe.vocab").unlink(missing_ok=True)
    print(f"{len(symbols)} units: {len(chars)} CJK characters, {len(pieces)} BPE pieces")


class TextEncoder:
    """Text -> unit ids as WeNet's tokenize_by_bpe_model does: CJK characters one by one, other stretches by BPE."""

    def __init__(self, units_txt: Path, bpe_model: Path) -> None:
        import sentencepiece as spm  # noqa: PLC0415

        self.symbols = [line.split()[0] for line in units_txt.read_text(encoding="utf-8").splitlines() if line.strip()]
        self.ids = {s: i for i, s in enumerate(self.symbols)}
        self.sp = spm.SentencePieceProcessor(model_file=str(bpe_model))

    def encode(self, text: str) -> list[int]:
        """Unit ids of a sentence (unknown units map to <unk>)."""
        out: list[int] = []
        for part in CJK_OR_STRETCH.findall(text):
            if CJK.fullmatch(part):
                out.append(self.ids.get(part, 1))
            elif part.strip():
                out += [self.ids.get(p, 1) for p in self.sp.encode(part.strip().upper(), out_type=str)]
        return out


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=Path("/work/corpus"))
    parser.add_argument("--out", type=Path, default=None, help="default: <corpus>/lang")
    parser.add_argument("--bpe-size", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args(argv)
    build_units(args.corpus / "sentences.tsv", args.out or args.corpus / "lang", args.bpe_size, args.seed)


if __name__ == "__main__":
    main()
