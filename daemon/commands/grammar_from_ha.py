"""Make voicecmd grammars from Home Assistant's own sentences (PyPI home-assistant-intents) and your areas/entities."""

from __future__ import annotations

import argparse
import logging
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

from daemon.errors import ConfigError
from daemon.grammar.numbers import MAX_SPOKEN_NUMBER

_LOGGER = logging.getLogger(__name__)

# The intents voicecmd serves (turn on/off incl. covers and scenes, lights, covers, climate, fans, media volume).
DEFAULT_INTENTS: tuple[str, ...] = (
    "HassTurnOn", "HassTurnOff", "HassLightSet", "HassSetPosition", "HassClimateSetTemperature",
    "HassFanSetSpeed", "HassSetVolume", "HassSetVolumeRelative", "HassMediaPlayerMute", "HassMediaPlayerUnmute",
)
# voicecmd language -> home-assistant-intents data file
LANGUAGES: dict[str, str] = {"en": "en", "zh-cn": "zh-CN"}
# Lists Home Assistant fills at run time from its registries; here they come from the home file.
HOME_LISTS = ("area", "name", "floor")
ATTRIBUTION = (
    "Sentence templates, lists and expansion rules from home-assistant-intents {version} "
    "(https://github.com/home-assistant/intents), (c) the Home Assistant contributors, licensed under "
    "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/). Converted and filtered to the intents "
    "{intents} and the areas/entities of {home} by `voicecmd grammar from-ha-intents`."
)
_LIST_REF = re.compile(r"\{([^{}:]+)(?::[^{}]+)?\}")
_RULE_REF = re.compile(r"<([^<>]+)>")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``voicecmd grammar from-ha-intents ...``."""
    sub = parser.add_subparsers(dest="grammar_action", metavar="ACTION", required=True)
    conv = sub.add_parser("from-ha-intents", help="convert home-assistant-intents sentences into voicecmd grammars",
                          description="Write voicecmd grammar files made from the sentence templates of PyPI "
                                      "home-assistant-intents (CC BY 4.0) plus your areas and entities.")
    conv.add_argument("--language", required=True, choices=sorted(LANGUAGES), help="grammar language")
    conv.add_argument("--entities", type=Path, required=True, metavar="YAML",
                      help="your areas, floors and entities (home-assistant/intents _fixtures.yaml format)")
    conv.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="output directory")
    conv.add_argument("--intents", nargs="+", default=list(DEFAULT_INTENTS), metavar="NAME",
                      help=f"intents to convert (default: {' '.join(DEFAULT_INTENTS)})")


# --------------------------------------------------------------------------------------------------------------
# The home file


@dataclass(frozen=True)
class HomeEntity:
    """One named thing HA can control: its spoken name(s), domain and area."""

    name: str
    domain: str
    area: Optional[str] = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Home:
    """Areas, floors and entities of the user's home (what HA would put into the {area}/{floor}/{name} lists)."""

    areas: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> aliases
    floors: dict[str, tuple[str, ...]] = field(default_factory=dict)
    entities: tuple[HomeEntity, ...] = ()

    @property
    def domains(self) -> set[str]:
        """Domains of the named entities."""
        return {e.domain for e in self.entities}

    @staticmethod
    def from_dict(data: Any, where: str = "entities") -> "Home":
        """Validate ``{areas: [...], floors: [...], entities: [...]}`` (names as strings or ``{name, aliases}``)."""
        if not isinstance(data, Mapping):
            raise ConfigError(f"{where}: expected a mapping with areas/floors/entities")
        unknown = set(data) - {"language", "areas", "floors", "entities"}
        if unknown:
            raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: areas, floors, entities)")

        def named(items: Any, key: str) -> dict[str, tuple[str, ...]]:
            out: dict[str, tuple[str, ...]] = {}
            for i, item in enumerate(items or []):
                if isinstance(item, str):
                    item = {"name": item}
                if not isinstance(item, Mapping) or not isinstance(item.get("name"), str) or not item["name"]:
                    raise ConfigError(f"{where}: {key}[{i}]: expected a name or a mapping with 'name'")
                out[item["name"]] = tuple(str(a) for a in item.get("aliases") or ())
            return out

        areas, floors = named(data.get("areas"), "areas"), named(data.get("floors"), "floors")
        area_ids = {}
        for i, item in enumerate(data.get("areas") or []):
            if isinstance(item, Mapping) and item.get("id"):
                area_ids[str(item["id"])] = item["name"]
        entities = []
        for i, item in enumerate(data.get("entities") or []):
            if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
                raise ConfigError(f"{where}: entities[{i}]: expected a mapping with 'name' and 'domain' (or 'id')")
            domain = item.get("domain") or str(item.get("id", "")).partition(".")[0]
            if not domain:
                raise ConfigError(f"{where}: entities[{i}] ({item['name']}): give 'domain' (light, cover ...) "
                                  "or an entity id like light.kitchen")
            area = item.get("area")
            area = area_ids.get(str(area), area) if area is not None else None
            entities.append(HomeEntity(item["name"], str(domain), area,
                                       tuple(str(a) for a in item.get("aliases") or ())))
        return Home(areas, floors, tuple(entities))


def load_home(path: Path) -> Home:
    """Read the home file."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML ({str(exc).splitlines()[0]})") from None
    return Home.from_dict(data, str(path))


# --------------------------------------------------------------------------------------------------------------
# Conversion (pure: HA language data + home -> grammar documents)


def _refs(template: str, pattern: re.Pattern) -> set[str]:
    return {m.strip() for m in pattern.findall(template)}


def _home_lists(home: Home) -> dict[str, Any]:
    def values(names: dict[str, tuple[str, ...]]) -> list[Any]:
        out: list[Any] = []
        for name, aliases in names.items():
            out.append({"in": _escape(name), "out": name})
            out.extend({"in": _escape(alias), "out": name} for alias in aliases)
        return out

    lists: dict[str, Any] = {}
    if home.areas:
        lists["area"] = {"values": values(home.areas)}
    if home.floors:
        lists["floor"] = {"values": values(home.floors)}
    if home.entities:
        names = []
        for entity in home.entities:
            context: dict[str, Any] = {"domain": entity.domain}
            for spoken in (entity.name, *entity.aliases):
                names.append({"in": _escape(spoken), "out": entity.name, "context": context})
        lists["name"] = {"values": names}
    return lists


def _escape(text: str) -> str:
    """A user's name as literal template text."""
    return re.sub(r"([()\[\]{}<>|;\\])", r"\\\1", text)


def _voicecmd_template(template: str) -> str:
    """hassil's optional space (``day[ ]light``, ``[ ]%``) is an empty optional to voicecmd, whose words split at
    spaces anyway: write a plain space."""
    return template.replace("[ ]", " ")


def _speakable_list(spec: Any) -> Any:
    """Value templates as voicecmd writes them; ranges clipped to the numbers voicecmd can speak (colour
    temperatures go to 10000 K in HA)."""
    if isinstance(spec, Mapping) and isinstance(spec.get("values"), list):
        values = [{**v, "in": _voicecmd_template(v["in"])} if isinstance(v, Mapping) and isinstance(v.get("in"), str)
                  else v for v in spec["values"]]
        return {**spec, "values": values}
    if not isinstance(spec, Mapping) or not isinstance(spec.get("range"), Mapping):
        return spec
    rng = dict(spec["range"])
    start, stop, step = rng.get("from", 0), rng.get("to", 0), rng.get("step", 1) or 1
    if not all(isinstance(v, (int, float)) for v in (start, stop, step)) or abs(stop) <= MAX_SPOKEN_NUMBER:
        return spec
    limit = MAX_SPOKEN_NUMBER // step * step * (1 if stop > 0 else -1)  # the last speakable step
    rng["to"] = limit
    return {**spec, "range": rng}


def _domains_of(block: Mapping[str, Any]) -> Optional[set[str]]:
    """Domains a data block is about (fixed slot or required context), or None when it is not restricted."""
    found: set[str] = set()
    for source in (block.get("slots") or {}, block.get("requires_context") or {}):
        value = source.get("domain")
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, list):
            found.update(str(v) for v in value)
    return found or None


@dataclass
class Conversion:
    """The grammar documents written by ``convert`` and what was left out."""

    common: dict[str, Any]
    intents: dict[str, dict[str, Any]]
    dropped_blocks: int = 0
    kept_blocks: int = 0


def convert(ha: Mapping[str, Any], home: Home, intents: Iterable[str], language: str) -> Conversion:
    """Keep the data blocks of ``intents`` whose lists exist (HA's own lists without wildcards, plus the home's
    areas/floors/entities) and whose domains the home has; strip context HA takes from the satellite (its area)."""
    ha_lists = {name: _speakable_list(spec) for name, spec in (ha.get("lists") or {}).items()
                if not (isinstance(spec, Mapping) and spec.get("wildcard"))}
    home_lists = _home_lists(home)
    available = set(ha_lists) | set(home_lists)
    rules = {name: _voicecmd_template(body) for name, body in (ha.get("expansion_rules") or {}).items()}
    domains = home.domains

    def rule_ok(name: str, seen: frozenset = frozenset()) -> bool:
        if name not in rules or name in seen:
            return name in rules
        body = rules[name]
        return _refs(body, _LIST_REF) <= available and all(rule_ok(r, seen | {name}) for r in _refs(body, _RULE_REF))

    used_lists: set[str] = set()
    used_rules: set[str] = set()

    def collect_rules(template: str) -> None:
        for rule in _refs(template, _RULE_REF):
            if rule not in used_rules:
                used_rules.add(rule)
                used_lists.update(_refs(rules[rule], _LIST_REF))
                collect_rules(rules[rule])

    out_intents: dict[str, dict[str, Any]] = {}
    conversion = Conversion(common={}, intents=out_intents)
    for intent in intents:
        spec = (ha.get("intents") or {}).get(intent)
        if spec is None:
            raise ConfigError(f"--intents: {intent!r} is not an intent of home-assistant-intents ({language})")
        blocks = []
        for block in spec.get("data") or []:
            block_domains = _domains_of(block)
            if block_domains is not None and domains and not block_domains & domains:
                conversion.dropped_blocks += 1
                continue
            sentences = [_voicecmd_template(s) for s in block.get("sentences") or []]
            sentences = [s for s in sentences
                         if _refs(s, _LIST_REF) <= available and all(rule_ok(r) for r in _refs(s, _RULE_REF))]
            if not sentences:
                conversion.dropped_blocks += 1
                continue
            new: dict[str, Any] = {"sentences": sentences}
            if block.get("slots"):
                new["slots"] = dict(block["slots"])
            requires = {k: v for k, v in (block.get("requires_context") or {}).items()
                        if not (isinstance(v, Mapping) and "slot" in v)}  # the satellite's area: HA adds it
            if requires:
                new["requires_context"] = requires
            excludes = dict(block.get("excludes_context") or {})
            if excludes:
                new["excludes_context"] = excludes
            if block.get("metadata"):
                new["metadata"] = dict(block["metadata"])
            for s in sentences:
                used_lists.update(_refs(s, _LIST_REF))
                collect_rules(s)
            blocks.append(new)
            conversion.kept_blocks += 1
        if blocks:
            out_intents[intent] = {"language": language, "intents": {intent: {"data": blocks}}}
    lists = {name: ha_lists[name] for name in sorted(used_lists) if name in ha_lists}
    lists.update({name: spec for name, spec in home_lists.items() if name in used_lists})
    common: dict[str, Any] = {"language": language}
    if ha.get("settings"):
        common["settings"] = dict(ha["settings"])
    if ha.get("skip_words"):
        common["skip_words"] = list(ha["skip_words"])
    common["lists"] = lists
    common["expansion_rules"] = {name: rules[name] for name in sorted(used_rules)}
    conversion.common = common
    return conversion


# --------------------------------------------------------------------------------------------------------------
# Command


def load_ha_language(language: str) -> tuple[Mapping[str, Any], str]:
    """home-assistant-intents' merged data for a language, and the package version."""
    try:
        import home_assistant_intents
    except ImportError:
        raise ConfigError("home-assistant-intents is not installed: pip install 'voicecmd[ha]' "
                          "(or pip install home-assistant-intents)") from None
    from importlib.metadata import PackageNotFoundError, version

    data = home_assistant_intents.get_intents(LANGUAGES[language])
    if data is None:
        raise ConfigError(f"--language {language}: home-assistant-intents has no {LANGUAGES[language]} data")
    try:
        ha_version = version("home-assistant-intents")
    except PackageNotFoundError:  # pragma: no cover - imported but without metadata
        ha_version = "(unknown version)"
    return data, ha_version


def write_grammar(conversion: Conversion, output: Path, attribution: str) -> list[Path]:
    """Write ``_common.yaml`` and one file per intent, each headed by the attribution; returns the files."""
    import textwrap

    import yaml

    output.mkdir(parents=True, exist_ok=True)
    lines = textwrap.wrap(attribution, 110, break_on_hyphens=False, break_long_words=False)
    header = "".join(f"# {line}\n" for line in lines) + "# Generated file: edit the home file and re-run instead.\n\n"
    written = []
    docs = {"_common.yaml": conversion.common, **{f"{name}.yaml": doc for name, doc in conversion.intents.items()}}
    for filename, doc in docs.items():
        path = output / filename
        body = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=4096, default_flow_style=False)
        path.write_text(header + body, encoding="utf-8")
        written.append(path)
    (output / "ATTRIBUTION.md").write_text(
        "# Attribution\n\n" + attribution + "\n\nChanges: only the data blocks of the intents above whose lists "
        "exist in this home were kept; wildcard lists were left out; requirements on the satellite's area "
        "(`requires_context: {area: {slot: true}}`) were removed, since Home Assistant adds that area itself.\n",
        encoding="utf-8")
    return written


def _spoken_key(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text).lower().replace(" ", "")


def resolve_name_collisions(conversion: Conversion, output: Path, attribution: str,
                            max_rounds: int = 20) -> list[str]:
    """Home Assistant prefers the reading with an entity ``name`` when a sentence also reads as area/domain
    ("turn on the bedroom lamp"); voicecmd wants one reading per sentence. Leave such spoken names out of
    {name} (the sentence then means the area/domain command) until the grammar is unambiguous; returns them."""
    from daemon.grammar import load_grammar
    from daemon.grammar.ambiguity import find_ambiguities

    removed: list[str] = []
    names = conversion.common.get("lists", {}).get("name")
    for _ in range(max_rounds):
        if names is None:
            break
        grammar = load_grammar(sorted(output.glob("*.yaml")))
        found, _complete = find_ambiguities(grammar.word_graph(), limit=50)
        spoken = set()
        for item in found:
            with_name = [m for m in (item.first, item.second) if "name" in m.slots]
            if len(with_name) == 1:
                spoken.add(_spoken_key(str(with_name[0].raw_slots.get("name", ""))))
        keep = [v for v in names["values"] if _spoken_key(v["in"]) not in spoken]
        if not spoken or len(keep) == len(names["values"]) or not keep:
            break
        removed.extend(v["in"] for v in names["values"] if v not in keep)
        names["values"] = keep
        write_grammar(conversion, output, attribution)
    return removed


def run(args: argparse.Namespace) -> int:
    """Convert and write; prints a summary line."""
    home = load_home(args.entities)
    if not home.areas and not home.entities:
        raise ConfigError(f"{args.entities}: no areas and no entities: nothing to say the commands about")
    ha, ha_version = load_ha_language(args.language)
    conversion = convert(ha, home, args.intents, args.language)
    if not conversion.intents:
        raise ConfigError("no sentence of the chosen intents fits this home (add areas or entities)")
    attribution = ATTRIBUTION.format(version=ha_version, intents=", ".join(conversion.intents),
                                     home=args.entities.name)
    files = write_grammar(conversion, args.output, attribution)
    for spoken in resolve_name_collisions(conversion, args.output, attribution):
        print(f"note: {spoken!r} left out of {{name}}: Home Assistant's own sentences already read it as an "
              "area/device command (give the entity an alias to name it)", file=sys.stderr)
    print(f"wrote {len(files)} grammar files to {args.output} ({len(conversion.intents)} intents, "
          f"{conversion.kept_blocks} data blocks kept, {conversion.dropped_blocks} left out); "
          f"check with: voicecmd check-grammar {args.output}")
    return 0
