"""Experiment names: memorable `adjective-noun` pairs, or the user's own."""
from __future__ import annotations

import os
import re

from git_exp.errors import ExpError

ADJECTIVES = """
able agile amber ample azure balmy bared beige blond bonny brave brisk broad
calm candid chief civic clean clear close coral cosy crisp cubic curly daily
dandy dense eager early east equal even fancy fine first fleet fluid focal
fresh frank funny gawky gentle giant glad gold grand green grown hairy handy
happy hardy hasty hazel hefty heroic hilly homey honest husky ideal inert
jaunty jolly jumbo keen kind large lean legal lemon level light lilac live
loyal lucid lunar lusty magic major maple merry mild minty modal moist mossy
murky naval neat nifty noble north novel oaken olive optic oval pale peaky
perky plain plump polar prime proud pulpy quick quiet rapid ready regal rigid
ripe rocky rosy round royal ruddy rural rusty sandy sassy scaly sharp shiny
silky sleek slick smart snowy solar solid sonic spicy stark steep stoic sunny
super sweet swift tamed tangy tawny tense tidal tidy timid toned tough trim
urban utter vague valid vapid vital vivid warm wavy whole windy witty woody
young zesty
""".split()

NOUNS = """
acorn agent alder alloy anvil apple arrow aspen atlas badge bagel bajra banjo
basil beach beret birch bison blade bloom board bongo booth boxer brace brain
bream brick brook brush bulb cabin camel canal cargo cedar chain chair chalk
charm chord cider cliff cloud clove cobra comet coral crane creek crepe crest
crumb cubit daisy delta depot diode ditch dodge drake drone dune eagle easel
ember fable fairy fault ferry fiber field finch fjord flask fleet flint flora
flute focus forge frame frost gable gecko genie ghost glade globe goose grain
grape graph grove guava guild gulch hatch haven hazel heron hinge holly honey
horse hound igloo inlet ivory jewel joint kayak kiosk koala ladle lance larch
latch lemur level lilac linen llama lodge lotus lunar lyric macaw manor maple
marsh mango medal melon mesa metro mirth moose motel mound nacho nexus noble
oasis ocean olive opera orbit otter oxbow panda pansy patio pearl pecan perch
piano pilot pinto pixel plaza plume polka poppy prism pulse quail quark quest
quill radar raven ridge rivet robin rodeo roost rover sable salon scarf scone
shale shark shelf shore siren skiff slate sloth smock spire spray squid stoat
stork sumac swale tango tapir thyme tiger toast topaz torch trail trout tulip
tunic umbra vault verge viola viper visor wagon whale wheat wharf willow yacht
yodel zebra
""".split()

_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


def _choice(words: list[str]) -> str:
    # os.urandom, not random: importing random costs run -S ~1 ms (hashlib, bisect,
    # math); a name needs no statistics, and 2**32 makes the modulo's bias nil.
    return words[int.from_bytes(os.urandom(4), "little") % len(words)]


def generate(taken: set[str]) -> str:
    """A name not in TAKEN; adds a number once the pairs run short."""
    for _ in range(64):
        name = f"{_choice(ADJECTIVES)}-{_choice(NOUNS)}"
        if name not in taken:
            return name
    base = f"{_choice(ADJECTIVES)}-{_choice(NOUNS)}"
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


# What Git would read as a revision rather than as our name: pseudo-refs
# (HEAD, FETCH_HEAD, ORIG_HEAD, ...), "@", an abbreviated object id (Git
# accepts 4 hex digits or more, either case) and `git describe` output
# (NAME-g<hex>), which resolves to the commit whatever NAME is.
_PSEUDO = re.compile(r"^(?:[A-Z_]*HEAD|@)$")
_HEX = re.compile(r"^[0-9a-fA-F]{4,}$")
_DESCRIBE = re.compile(r"-g[0-9a-fA-F]{4,}$")
_REVISION_HINT = ("experiment names are used wherever a revision is taken (git exp apply NAME, "
                  "git exp diff A B); pick a name Git cannot read as something else")


def validate(name: str, root: str | None = None) -> str:
    """Names become one ref component: Git's ref rules, and no '/'.

    With ROOT (the repository), a name that already means a branch, tag,
    remote or other ref there is refused too: `git exp apply main` must not
    have two meanings.
    """
    validate_all([name], root)
    return name


def validate_all(names: list[str], root: str | None = None) -> None:
    """validate() for many names with one `git` call for the refs they could clash with."""
    for name in names:
        _check_form(name)
    if root is not None and names:
        clashes = _ref_clashes(root, names)
        if clashes:
            name, ref = clashes[0]
            raise ExpError(f"invalid experiment name '{name}': it is also the name of {_kind_of(ref)}",
                           hint=_REVISION_HINT)


def _check_form(name: str) -> None:
    bad = (not _VALID.match(name) or ".." in name or name.endswith((".", ".lock"))
           or "@{" in name or len(name) > 200)
    if bad:
        raise ExpError(f"invalid experiment name '{name}'",
                       hint="use letters, digits, '-', '_', '.' and '+'; no '/', no '..', "
                            "and not ending in '.lock'")
    if _HEX.match(name):
        raise ExpError(f"invalid experiment name '{name}': it looks like a commit sha "
                       "(4 or more hex digits)", hint=_REVISION_HINT)
    if _PSEUDO.match(name):
        raise ExpError(f"invalid experiment name '{name}': Git reads it as a ref of its own",
                       hint=_REVISION_HINT)
    if _DESCRIBE.search(name):
        raise ExpError(f"invalid experiment name '{name}': Git reads '-g<hex>' at the end as a "
                       "commit (git describe's form)", hint=_REVISION_HINT)


def _ref_clashes(root: str, names: list[str]) -> list[tuple[str, str]]:
    """(name, ref) for each name Git's revision lookup would find as an existing ref."""
    from git_exp.git import git
    patterns = [f"refs/{where}{name}" for name in names
                for where in ("", "tags/", "heads/", "remotes/")]
    proc = git(["for-each-ref", "--format=%(refname)", *patterns], cwd=root, check=False)
    every = set(proc.stdout.decode("utf-8", "surrogateescape").split()) if proc.returncode == 0 else set()
    found = []
    for name in names:
        # The places `git rev-parse NAME` looks, in its order (gitrevisions(7)).
        for ref in (f"refs/{name}", f"refs/tags/{name}", f"refs/heads/{name}",
                    f"refs/remotes/{name}", f"refs/remotes/{name}/HEAD"):
            if ref in every:
                found.append((name, ref))
                break
    return found


def _kind_of(ref: str) -> str:
    for prefix, kind in (("refs/heads/", "the branch"), ("refs/tags/", "the tag"),
                         ("refs/remotes/", "the remote-tracking ref")):
        if ref.startswith(prefix):
            return f"{kind} '{ref[len(prefix):]}'"
    return f"the ref '{ref}'"
