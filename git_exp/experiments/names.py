"""Experiment names: memorable `adjective-noun` pairs, or the user's own."""
from __future__ import annotations

import random
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


def generate(taken: set[str], rng: random.Random | None = None) -> str:
    """A name not in TAKEN; adds a number once the pairs run short."""
    rng = rng or random.Random()
    for _ in range(64):
        name = f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}"
        if name not in taken:
            return name
    base = f"{rng.choice(ADJECTIVES)}-{rng.choice(NOUNS)}"
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def validate(name: str) -> str:
    """Names become one ref component: Git's ref rules, and no '/'."""
    bad = (not _VALID.match(name) or ".." in name or name.endswith((".", ".lock"))
           or "@{" in name or len(name) > 200)
    if bad:
        raise ExpError(f"invalid experiment name '{name}'",
                       hint="use letters, digits, '-', '_', '.' and '+'; no '/', no '..', "
                            "and not ending in '.lock'")
    if len(name) == 40 and all(c in "0123456789abcdef" for c in name):
        raise ExpError(f"invalid experiment name '{name}': it looks like a commit sha",
                       hint="pick a name that is not 40 hex digits")
    return name
