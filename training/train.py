"""CTC training of the command model on the corpus features, with dynamic chunks, SpecAugment, resumable checkpoints."""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from training.model import CommandModel, ModelConfig, count_parameters  # noqa: E402
from training.units import TextEncoder  # noqa: E402

_LOGGER = logging.getLogger("training.train")

DEPLOY_CHUNK = 8
DEPLOY_LEFT_CHUNKS = 16


def load_cmvn(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Mean and inverse standard deviation from a WeNet JSON global_cmvn file."""
    stats = json.loads(path.read_text())
    n = float(stats["frame_num"])
    mean = np.array(stats["mean_stat"]) / n
    var = np.maximum(np.array(stats["var_stat"]) / n - mean ** 2, 1e-20)
    return mean.astype(np.float32), (1.0 / np.sqrt(var)).astype(np.float32)


class FeatureSet:
    """Utterances of a feats .npz (concatenated float16 fbank + lengths + texts) with their unit ids."""

    def __init__(self, path: Path, encoder: TextEncoder, copies: set[int] | None = None) -> None:
        data = np.load(path)
        lengths = data["lengths"]
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        keys = [str(k) for k in data["keys"]]
        keep = [i for i, k in enumerate(keys) if copies is None or int(k.rsplit("#", 1)[1]) in copies]
        feats = data["feats"]
        self.feats = feats if len(keep) == len(keys) else np.concatenate([feats[offsets[i]:offsets[i + 1]] for i in keep])
        self.lengths = lengths[keep]
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        self.keys = [keys[i] for i in keep]
        self.texts = [str(data["texts"][i]) for i in keep]
        self.targets = [encoder.encode(t) for t in self.texts]

    def __len__(self) -> int:
        return len(self.lengths)

    def item(self, i: int) -> np.ndarray:
        """(T, 80) float32 features of utterance i."""
        return self.feats[self.offsets[i]: self.offsets[i + 1]].astype(np.float32)

    def batches(self, max_frames: int, rng: random.Random) -> list[list[int]]:
        """Length-sorted batches of at most `max_frames` padded frames, in random order."""
        order = sorted(range(len(self)), key=lambda i: (self.lengths[i], rng.random()))
        batches, current, longest = [], [], 0
        for i in order:
            longest_next = max(longest, int(self.lengths[i]))
            if current and longest_next * (len(current) + 1) > max_frames:
                batches.append(current)
                current, longest_next = [], int(self.lengths[i])
            current.append(i)
            longest = longest_next
        if current:
            batches.append(current)
        rng.shuffle(batches)
        return batches


def collate(data: FeatureSet, idx: list[int]):
    """Padded features, lengths, concatenated targets and target lengths."""
    feats = [torch.from_numpy(data.item(i)) for i in idx]
    lens = torch.tensor([f.shape[0] for f in feats])
    padded = torch.nn.utils.rnn.pad_sequence(feats, batch_first=True)
    targets = [torch.tensor(data.targets[i], dtype=torch.long) for i in idx]
    return padded, lens, torch.cat(targets), torch.tensor([len(t) for t in targets])


def spec_augment(feats: torch.Tensor, lens: torch.Tensor, fill: torch.Tensor, rng: random.Random) -> torch.Tensor:
    """Two frequency masks (<= 10 bins) and two time masks (<= 40 frames, <= 10 % of the utterance)."""
    feats = feats.clone()
    for b in range(feats.size(0)):
        t = int(lens[b])
        for _ in range(2):
            w = rng.randint(0, 10)
            f0 = rng.randint(0, feats.size(2) - w)
            feats[b, :t, f0:f0 + w] = fill[f0:f0 + w]
        for _ in range(2):
            w = rng.randint(0, max(1, min(40, t // 10)))
            t0 = rng.randint(0, max(0, t - w))
            feats[b, t0:t0 + w, :] = fill
    return feats


def pick_chunking(rng: random.Random) -> tuple[int, int]:
    """Dynamic chunk training: mostly the deployed 8-frame chunks, sometimes other chunk sizes and left contexts.

    Full attention and heavy chunk randomisation kept this small model on the CTC plateau much longer here."""
    if rng.random() < 0.85:
        return DEPLOY_CHUNK, DEPLOY_LEFT_CHUNKS
    return rng.randint(4, 16), rng.choice([-1, rng.randint(4, 16)])


def greedy_ids(logp: torch.Tensor, length: int) -> list[int]:
    """Best path, repeats collapsed, blanks dropped."""
    best = logp[:length].argmax(-1).tolist()
    out, prev = [], -1
    for t in best:
        if t != prev and t != 0:
            out.append(t)
        prev = t
    return out


def edit_distance(a: list[int], b: list[int]) -> int:
    """Levenshtein distance of two id lists."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


@torch.no_grad()
def evaluate(model: CommandModel, data: FeatureSet, max_frames: int) -> tuple[float, float]:
    """(mean CTC loss per utterance, unit error rate) at the deployed chunking."""
    model.eval()
    ctc = torch.nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    total_loss, errors, units = 0.0, 0, 0
    for idx in data.batches(max_frames, random.Random(0)):
        feats, lens, targets, target_lens = collate(data, idx)
        logp, out_lens = model(feats, lens, DEPLOY_CHUNK, DEPLOY_LEFT_CHUNKS)
        total_loss += float(ctc(logp.transpose(0, 1), targets, out_lens, target_lens))
        for b, i in enumerate(idx):
            errors += edit_distance(greedy_ids(logp[b], int(out_lens[b])), data.targets[i])
            units += len(data.targets[i])
    model.train()
    return total_loss / max(1, len(data)), errors / max(1, units)


def learning_rate(step: int, peak: float, warmup: int, progress: float | None = None) -> float:
    """Linear warm-up to `peak`; then Noam 1/sqrt decay, or (given the elapsed share of a time budget)
    hold the peak for the first half and cosine-decay to 5 % of it by the end."""
    step = max(1, step)
    if step < warmup:
        return peak * step / warmup
    if progress is None:
        return peak * math.sqrt(warmup / step)
    if progress < 0.5:
        return peak
    return peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, (progress - 0.5) / 0.5))))


def train(args: argparse.Namespace) -> Path:
    """Train (or resume) until `epochs` or `max_minutes`; returns the checkpoint directory."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lang_dir = Path(args.lang_dir)
    encoder = TextEncoder(lang_dir / "units.txt", lang_dir / "bpe.model")
    copies = {int(c) for c in args.copies.split(",")} if args.copies else None
    train_set = FeatureSet(Path(args.train), encoder, copies)
    dev_set = FeatureSet(Path(args.dev), encoder) if args.dev else None
    cfg = ModelConfig(vocab_size=len(encoder.symbols), output_size=args.dim, attention_heads=args.heads,
                      linear_units=args.linear, num_blocks=args.blocks, cnn_module_kernel=args.kernel)
    model = CommandModel(cfg)
    mean, istd = load_cmvn(Path(args.cmvn))
    model.global_cmvn.mean.copy_(torch.from_numpy(mean))
    model.global_cmvn.istd.copy_(torch.from_numpy(istd))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98), eps=1e-9, weight_decay=1e-6)
    step, epoch, batch_in_epoch = 0, 0, 0
    state = {"elapsed_s": 0.0}
    last = out / "last.pt"
    if args.init and not last.exists():
        model.load_state_dict(torch.load(args.init, map_location="cpu", weights_only=False)["model"])
        _LOGGER.info("initialised from %s", args.init)
    if last.exists():
        state = torch.load(last, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step, epoch, batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        state.setdefault("elapsed_s", 0.0)
        _LOGGER.info("resumed at epoch %d batch %d (step %d)", epoch, batch_in_epoch, step)
    _LOGGER.info("%d parameters, %d training utterances (%.2f h), vocab %d", count_parameters(model), len(train_set),
                 train_set.lengths.sum() / 360000, cfg.vocab_size)
    (out / "config.json").write_text(json.dumps({"model": cfg.to_dict(), "args": vars(args)}, indent=1, default=str))
    ctc = torch.nn.CTCLoss(blank=0, reduction="sum", zero_infinity=True)
    fill = torch.from_numpy(mean)
    started = time.time() - state["elapsed_s"]
    model.train()

    def save(path: Path) -> None:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step, "epoch": epoch,
                    "batch_in_epoch": batch_in_epoch, "config": cfg.to_dict(),
                    "elapsed_s": time.time() - started}, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").replace(path)

    last_save = time.time()
    while epoch < args.epochs:
        rng = random.Random(args.seed * 1000 + epoch)
        batches = train_set.batches(args.max_frames, rng)
        running, count = 0.0, 0
        for b in range(batch_in_epoch, len(batches)):
            feats, lens, targets, target_lens = collate(train_set, batches[b])
            if args.spec_augment:
                feats = spec_augment(feats, lens, fill, rng)
            chunk, left = pick_chunking(rng)
            progress = (time.time() - started) / 60 / args.max_minutes if args.schedule == "time" else None
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(step + 1, args.lr, args.warmup, progress)
            logp, out_lens = model(feats, lens, chunk, left)
            loss = ctc(logp.transpose(0, 1), targets, out_lens, target_lens) / feats.size(0)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            step += 1
            batch_in_epoch = b + 1
            running += loss.item()
            count += 1
            if step % args.log_every == 0:
                _LOGGER.info("epoch %d batch %d/%d step %d loss %.3f lr %.2e %.1f min", epoch, b + 1, len(batches),
                             step, running / count, optimizer.param_groups[0]["lr"],
                             (time.time() - started) / 60)
                running, count = 0.0, 0
            if time.time() - last_save > 180:
                save(last)
                last_save = time.time()
            if args.max_steps and step >= args.max_steps or (time.time() - started) / 60 > args.max_minutes:
                save(last)
                _LOGGER.info("stopping at step %d (limit reached)", step)
                return out
        epoch += 1
        batch_in_epoch = 0
        save(last)
        save(out / f"epoch{epoch:03d}.pt")
        if dev_set is not None:
            dev_loss, uer = evaluate(model, dev_set, args.max_frames)
            _LOGGER.info("epoch %d done: dev loss %.3f, greedy unit error rate %.3f", epoch, dev_loss, uer)
    return out


def parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--corpus", type=Path, default=Path("/work/corpus"))
    p.add_argument("--train", default=None)
    p.add_argument("--dev", default=None)
    p.add_argument("--cmvn", default=None)
    p.add_argument("--lang-dir", default=None)
    p.add_argument("--out", default=None)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--linear", type=int, default=320)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--blocks", type=int, default=6)
    p.add_argument("--kernel", type=int, default=7)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup", type=int, default=400)
    p.add_argument("--max-frames", type=int, default=8000)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--max-minutes", type=float, default=45.0)
    p.add_argument("--max-steps", type=int, default=0)
    p.add_argument("--schedule", choices=["noam", "time"], default="noam",
                   help="time: hold the peak for half of --max-minutes, then cosine decay")
    p.add_argument("--spec-augment", action=argparse.BooleanOptionalAction, default=True,
                   help="SpecAugment masks (off speeds up leaving the CTC blank plateau on this small corpus)")
    p.add_argument("--copies", default="", help="train only on these augmented copies, e.g. 0 (the lightly augmented one)")
    p.add_argument("--init", default=None, help="start from this checkpoint's weights (new optimizer and schedule)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=20261124)
    p.add_argument("--log-every", type=int, default=20)
    return p


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point; default paths are inside --corpus."""
    args = parser().parse_args(argv)
    corpus = args.corpus
    args.train = args.train or str(corpus / "feats" / "train.npz")
    args.dev = args.dev if args.dev is not None else str(corpus / "feats" / "dev.npz")
    args.cmvn = args.cmvn or str(corpus / "global_cmvn")
    args.lang_dir = args.lang_dir or str(corpus / "lang")
    args.out = args.out or str(corpus / "exp")
    args.corpus = str(corpus)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train(args)


if __name__ == "__main__":
    main()
