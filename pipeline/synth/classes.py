"""Embedded EPIC-KITCHENS-100 class rows and annotation statistics used by ``egoimu synth epic``.

The real class files may not be shipped, so this module holds a compact table of the classes the
generator draws: real ``id``, ``key`` and ``category``, and a few real raw ``instances`` with their
counts (tests check every row against the real ``EPIC_100_verb_classes.csv`` /
``EPIC_100_noun_classes.csv`` under ``../shared/data``).

All numbers were computed once at development time from the real
``EPIC_100_uda_target_val.csv`` (7,906 labelled segments of 55 extension videos, all with IMU):

- ``VerbRow.count``: segments of that verb class (the generator draws verbs with these weights, i.e.
  EPIC's skew: take 23 %, put 17 %, wash 9 %, open 7 %, insert 7 %, close 5 %, ...; the 20 most
  frequent classes cover 91.6 % of the segments).
- ``VerbRow.log_dur_mu`` / ``log_dur_sd``: mean and standard deviation of ln(stop - start) in seconds.
- ``VerbRow.instances``: the most frequent raw verbs of the class with their counts.
- ``VerbRow.nouns``: the most frequent noun classes seen with the verb, with counts.
- ``NounRow.instances``: the most frequent raw nouns of the class with their counts.
- ``GAP_QUANTILES_S``: the 0, 5, ..., 100 % quantiles of (start of a segment - stop of the previous
  segment) in one video, segments ordered by start; negative = overlap (29 % of them). The two end
  points are clipped (real: -25.78 s and 95.99 s).
- ``NARRATION_OFFSET_QUANTILES_S``: the same quantiles of (narration_timestamp - start), ends clipped
  (real: -13.18 s and 3690 s).
- ``MULTI_NOUN_FRACTION``: share of segments with more than one noun (``all_nouns``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VerbRow:
    """One embedded verb class (real id/key/category) and its statistics (see the module docstring)."""

    id: int
    key: str
    category: str
    count: int
    log_dur_mu: float
    log_dur_sd: float
    instances: tuple[tuple[str, int], ...]
    nouns: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class NounRow:
    """One embedded noun class (real id/key/category) and its most frequent raw instances."""

    id: int
    key: str
    category: str
    instances: tuple[tuple[str, int], ...]


VERBS: tuple[VerbRow, ...] = (
    VerbRow(0, "take", "retrieve", 1811, 0.18, 0.66,
            (("pick-up", 1229), ("take", 509), ("take-from", 60), ("grab", 4)),
            ((4, 132), (9, 116), (7, 89), (5, 76))),
    VerbRow(1, "put", "leave", 1380, 0.18, 0.64,
            (("put-down", 549), ("put", 471), ("put-on", 257), ("place", 55)),
            ((6, 106), (7, 79), (9, 79), (4, 78))),
    VerbRow(2, "wash", "clean", 701, 1.31, 0.88,
            (("rinse", 298), ("wash", 259), ("wipe", 99), ("clean", 17)),
            ((11, 69), (42, 60), (2, 56), (9, 56))),
    VerbRow(3, "open", "access", 543, 0.25, 0.72,
            (("open", 540), ("open-up", 2), ("open-with", 1)),
            ((3, 189), (8, 90), (12, 77), (26, 27))),
    VerbRow(5, "insert", "leave", 539, 0.34, 0.71,
            (("put-in", 392), ("put-into", 132), ("place-in", 5), ("place-into", 4)),
            ((4, 28), (1, 27), (2, 23), (5, 21))),
    VerbRow(4, "close", "block", 403, 0.16, 0.63,
            (("close", 399), ("screw-on", 3), ("screw-onto", 1)),
            ((3, 133), (8, 84), (12, 68), (6, 17))),
    VerbRow(6, "turn-on", "access", 284, 0.13, 0.63,
            (("turn-on", 282), ("start", 2)),
            ((0, 230), (44, 16), (24, 13), (46, 6))),
    VerbRow(8, "turn-off", "block", 245, -0.16, 0.59,
            (("turn-off", 245),),
            ((0, 225), (24, 11), (46, 5), (50, 2))),
    VerbRow(11, "move", "transition", 229, 0.25, 0.64,
            (("move", 209), ("move-to", 7), ("move-onto", 3), ("move-around", 2)),
            ((0, 34), (5, 19), (33, 13), (18, 13))),
    VerbRow(9, "pour", "merge", 191, 1.11, 0.83,
            (("pour-into", 87), ("pour-in", 34), ("pour-out", 22), ("pour", 22)),
            ((27, 68), (31, 15), (22, 13), (7, 10))),
    VerbRow(7, "cut", "split", 169, 1.67, 1.06,
            (("chop", 74), ("cut", 49), ("slice", 28), ("cut-into", 5)),
            ((30, 21), (51, 18), (16, 16), (56, 16))),
    VerbRow(12, "remove", "retrieve", 127, 0.90, 0.90,
            (("take-out", 50), ("take-off", 30), ("remove-from", 25), ("remove", 16)),
            ((6, 31), (32, 9), (37, 6), (11, 6))),
    VerbRow(10, "mix", "merge", 121, 2.21, 0.79,
            (("stir", 103), ("mix", 8), ("stir-into", 3), ("whisk-in", 2)),
            ((5, 26), (71, 16), (94, 15), (34, 10))),
    VerbRow(29, "scrub", "clean", 89, 1.39, 0.85,
            (("scrub", 86), ("scour", 2), ("scrub-down", 1)),
            ((4, 10), (5, 9), (7, 9), (1, 8))),
    VerbRow(18, "squeeze", "manipulate", 79, 0.27, 0.94,
            (("squeeze", 60), ("squeeze-out", 10), ("juice", 4), ("squash", 4)),
            ((9, 58), (22, 9), (105, 4), (51, 3))),
    VerbRow(25, "scrape", "clean", 70, 1.18, 0.75,
            (("scrape", 28), ("scrape-into", 18), ("scrape-off", 13), ("scrape-out", 4)),
            ((34, 9), (4, 5), (18, 5), (51, 5))),
    VerbRow(15, "shake", "manipulate", 68, 0.62, 0.68,
            (("shake", 64), ("shake-off", 3), ("jiggle", 1)),
            ((5, 14), (11, 13), (39, 11), (61, 6))),
    VerbRow(14, "dry", "clean", 67, 0.99, 0.85,
            (("dry", 67),),
            ((11, 35), (7, 4), (4, 3), (106, 3))),
    VerbRow(20, "empty", "split", 67, 0.71, 0.77,
            (("empty", 62), ("empty-into", 4), ("empty-out", 1)),
            ((7, 25), (39, 7), (5, 5), (232, 4))),
    VerbRow(16, "scoop", "retrieve", 59, 1.48, 0.78,
            (("scoop", 22), ("spoon", 14), ("spoon-onto", 8), ("ladle", 8)),
            ((34, 14), (69, 9), (115, 9), (55, 5))),
)
NOUNS: tuple[NounRow, ...] = (
    NounRow(0, "tap", "appliances", (("tap", 495), ("flow:tap", 2))),
    NounRow(1, "spoon", "cutlery", (("spoon", 210), ("spoon:slotted", 7))),
    NounRow(2, "plate", "crockery", (("plate", 226), ("saucer", 3), ("content:plate", 2))),
    NounRow(3, "cupboard", "storage", (("cupboard", 313), ("door", 13), ("content:cupboard", 1))),
    NounRow(4, "knife", "cutlery", (("knife", 297), ("knife:paring", 9), ("knife:chef", 6))),
    NounRow(5, "pan", "cookware", (("saucepan", 145), ("pan", 129), ("saucepan:large", 8))),
    NounRow(6, "lid", "containers", (("lid", 169), ("lid:saucepan", 40), ("lid:tupperware", 19))),
    NounRow(7, "bowl", "crockery", (("bowl", 192), ("bowl:washing:up", 71), ("bowl:large", 18))),
    NounRow(8, "drawer", "furniture", (("drawer", 168), ("drawer:freezer", 10), ("drawer:vegetable", 6))),
    NounRow(9, "sponge", "cleaning equipment and material", (("sponge", 359), ("pad:scouring", 4))),
    NounRow(11, "hand", "hand", (("hand", 133),)),
    NounRow(12, "fridge", "appliances", (("fridge", 152), ("item:fridge", 2), ("top:fridge", 1))),
    NounRow(16, "onion", "vegetables", (("onion", 70), ("piece:onion", 13), ("part:onion:piece", 1))),
    NounRow(18, "board:chopping", "utensils",
            (("board:chopping", 110), ("board:cutting", 24), ("board:draining", 6))),
    NounRow(22, "liquid:washing", "cleaning equipment and material",
            (("liquid:washing:up", 68), ("liquid:dishwashing", 19), ("detergent", 10))),
    NounRow(24, "hob", "appliances", (("hob", 46), ("grid", 4), ("stove", 3))),
    NounRow(26, "package", "containers", (("packaging", 29), ("packet:cheese", 17), ("packet", 9))),
    NounRow(27, "water", "drinks", (("water", 93), ("water:tonic", 4), ("water:hot", 1))),
    NounRow(30, "potato", "vegetables", (("potato:sweet", 34), ("potato", 20))),
    NounRow(31, "oil", "spices and herbs and sauces", (("oil", 26), ("oil:olive", 23), ("oil:sesame", 1))),
    NounRow(32, "cheese", "dairy and eggs", (("cheese", 64), ("mozzarella", 19), ("slice:cheese", 7))),
    NounRow(33, "bread", "baked goods and grains", (("bread", 40), ("piece:pitta", 31), ("bread:pitta", 22))),
    NounRow(34, "food", "prepared food", (("food", 57), ("topping", 7), ("bit:food", 4))),
    NounRow(37, "pepper", "vegetables", (("pepper", 66), ("piece:pepper", 33), ("pepper:bell", 19))),
    NounRow(39, "colander", "utensils", (("colander", 61), ("strainer:sink", 27), ("sieve", 26))),
    NounRow(42, "top", "furniture", (("counter", 33), ("surface", 29), ("top", 8))),
    NounRow(44, "kettle", "appliances", (("kettle", 101),)),
    NounRow(46, "oven", "appliances", (("oven", 46), ("cooker", 2))),
    NounRow(50, "maker:coffee", "appliances", (("v60", 35), ("grinder", 7), ("grinder:coffee", 3))),
    NounRow(51, "garlic", "vegetables", (("garlic", 45), ("clove:garlic", 14), ("piece:garlic", 6))),
    NounRow(55, "rice", "baked goods and grains", (("rice", 44),)),
    NounRow(56, "mushroom", "vegetables", (("mushroom", 38), ("piece:mushroom", 5))),
    NounRow(61, "can", "containers", (("can", 41), ("tin:chopped:tomato", 5), ("tin:coffee:bean", 5))),
    NounRow(69, "chilli", "spices and herbs and sauces", (("chilli", 31), ("flake:chilli", 4))),
    NounRow(71, "mixture", "prepared food",
            (("mixture", 13), ("mixture:passata", 11), ("mixture:lemon:curd", 6))),
    NounRow(94, "vegetable", "vegetables", (("vegetable", 30), ("piece:vegetable", 4))),
    NounRow(105, "lemon", "fruits and nuts", (("lemon", 20), ("half:lemon", 12), ("zest:lemon", 5))),
    NounRow(106, "juicer", "utensils", (("piece:lemon:squeezer", 31), ("juicer", 8), ("squeezer:lemon", 4))),
    NounRow(115, "spreads", "prepared food", (("curd:lemon", 15), ("honey", 4))),
    NounRow(232, "pan:dust", "cleaning equipment and material", (("dustpan", 8),)),
)

GAP_QUANTILES_S = (-3.0, -0.83, -0.39, -0.22, -0.13, -0.05, 0.0, 0.04, 0.08, 0.1, 0.1, 0.18, 0.3, 0.43,
                   0.58, 0.78, 1.04, 1.37, 1.96, 3.29, 8.0)
NARRATION_OFFSET_QUANTILES_S = (-1.0, -0.19, -0.05, 0.04, 0.12, 0.19, 0.251, 0.311, 0.373, 0.433, 0.503,
                                0.59, 0.681, 0.777, 0.9, 1.05, 1.263, 1.534, 2.008, 2.73, 4.0)
MULTI_NOUN_FRACTION = 0.202
SEGMENTS_PER_MINUTE = 19.5  # real density of labelled segments in IMU videos (README)

VERB_BY_ID: dict[int, VerbRow] = {v.id: v for v in VERBS}
NOUN_BY_ID: dict[int, NounRow] = {n.id: n for n in NOUNS}
