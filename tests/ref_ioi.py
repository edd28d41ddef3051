#!/usr/bin/env python3
"""Reference IOI generator: the IOI paper's "mixed" dataset as the notebook's
generate_data_and_caches(N, seed=S, only_ioi=True) builds it (docs/design.md, "IOI prompts"),
driven by CPython's own `random` module.  Prints the N prompts, one a line.

usage: ref_ioi.py N SEED"""
import random
import sys

BABA = [
    "Then, [B] and [A] went to the [PLACE]. [B] gave a [OBJECT] to [A]",
    "Then, [B] and [A] had a lot of fun at the [PLACE]. [B] gave a [OBJECT] to [A]",
    "Then, [B] and [A] were working at the [PLACE]. [B] decided to give a [OBJECT] to [A]",
    "Then, [B] and [A] were thinking about going to the [PLACE]. [B] wanted to give a [OBJECT] to [A]",
    "Then, [B] and [A] had a long argument, and afterwards [B] said to [A]",
    "After [B] and [A] went to the [PLACE], [B] gave a [OBJECT] to [A]",
    "When [B] and [A] got a [OBJECT] at the [PLACE], [B] decided to give it to [A]",
]

NAMES = """Aaron Adam Alan Alex Alice Amy Anderson Andre Andrew Andy Anna Anthony
Arthur Austin Blake Brandon Brian Carter Charles Charlie Christian Christopher Clark Cole Collins
Connor Crew Crystal Daniel David Dean Edward Elizabeth Emily Eric Eva Ford Frank George Georgia
Graham Grant Henry Ian Jack Jacob Jake James Jamie Jane Jason Jay Jennifer Jeremy Jessica John
Jonathan Jordan Joseph Joshua Justin Kate Kelly Kevin Kyle Laura Leon Lewis Lisa Louis Luke
Madison Marco Marcus Maria Mark Martin Mary Matthew Max Michael Michelle Morgan Patrick Paul Peter
Prince Rachel Richard River Robert Roman Rose Ruby Russell Ryan Sarah Scott Sean Simon Stephen
Steven Sullivan Taylor Thomas Tyler Victoria Warren William""".split()
PLACES = "store garden restaurant school hospital office house station".split()
OBJECTS = "ring kiss bone basketball computer necklace drink snack".split()
assert len(NAMES) == 109


def abba_from_baba(templates):
    # The original's character walk: within the first clause, [B] -> [A]
    # and the first [A] -> [B].
    out = list(templates)
    for i, t in enumerate(out):
        first_clause = True
        for j in range(1, len(t) - 1):
            if t[j - 1:j + 2] == "[B]" and first_clause:
                t = t[:j] + "A" + t[j + 1:]
            elif t[j - 1:j + 2] == "[A]" and first_clause:
                first_clause = False
                t = t[:j] + "B" + t[j + 1:]
        out[i] = t
    return out


def prompts(n, seed):
    random.seed(seed)
    templates = BABA[:7] + abba_from_baba(BABA)[:7]
    random.shuffle(templates)
    nouns = {"[PLACE]": PLACES, "[OBJECT]": OBJECTS}
    out = []
    for _ in range(n):
        t = random.choice(templates)
        n1 = n2 = n3 = ""
        while len({n1, n2, n3}) < 3:
            n1 = random.choice(NAMES)
            n2 = random.choice(NAMES)
            n3 = random.choice(NAMES)
        chosen = {k: random.choice(v) for k, v in nouns.items()}
        for k, v in chosen.items():
            t = t.replace(k, v)
        out.append(t.replace("[A]", n1).replace("[B]", n2))
    return out


if __name__ == "__main__":
    for p in prompts(int(sys.argv[1]), int(sys.argv[2])):
        print(p)
