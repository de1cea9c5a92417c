#!/usr/bin/env python3
"""Regenerates test/fixtures/sacrebleu.json with reference scores from sacreBLEU.

The TypeScript metrics in src/eval are checked against these numbers in
test/eval-bleu.test.ts and test/eval-chrf.test.ts. The JSON is committed, so
the tests never need Python; run this only to refresh it:

    python3 scripts/sacrebleu_fixtures.py   # needs `import sacrebleu` (2.x)

All sentences below were written for this file.
"""
import json
import logging
import os
import sys

import sacrebleu
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

# (hypothesis, reference, second reference or None)
PAIRS = [
    ("The committee approved the new budget on Tuesday.",
     "On Tuesday, the committee approved the new budget.",
     "The new budget was approved by the committee on Tuesday."),
    ("It's a long way to the station, isn't it?",
     "It is a long way to the station, isn't it?",
     None),
    ("Le chat s'est endormi près de la fenêtre.",
     "Le chat s'est assoupi près de la fenêtre.",
     "Le chat s'endormit à côté de la fenêtre."),
    ("Nous avons mangé des crêpes à Noël.",
     "Nous avons mangé des crêpes pour Noël.",
     "À Noël, nous avons mangé des crêpes."),
    ("Il a dit : « Je reviendrai demain ! »",
     "Il a dit\u00a0: «\u00a0Je reviens demain\u00a0!\u00a0»",
     "Il a déclaré : « Je serai de retour demain. »"),
    ("The price rose from 3.50 to 4,20 euros in 2019-2020.",
     "Prices went up from 3.50 to 4.20 euros between 2019 and 2020.",
     None),
    ("Tom &amp; Jerry said &quot;hello&quot; &lt;twice&gt;.",
     "Tom & Jerry said \"hello\" twice.",
     "Tom and Jerry said &quot;hello&quot; two times."),
    ("",
     "Nothing was translated here.",
     "Nothing got translated."),
    ("Yes.",
     "Yes, of course, I will come with you.",
     "Yes, I'll come along."),
    ("Où est la bibliothèque municipale ?",
     "Où se trouve la bibliothèque municipale ?",
     None),
    ("A well-known, state-of-the-art model \u2014 really?",
     "A well known state-of-the-art model -- really?",
     "A famous, state-of-the-art model: really?"),
    ("L\u2019économie française a progressé de 0,7 % l\u2019an dernier.",
     "L'économie française a crû de 0,7 % l'année dernière.",
     "L\u2019économie française a progressé de 0,7\u202f% l\u2019année passée."),
    ("THE MEETING IS CANCELLED.",
     "The meeting is cancelled.",
     "The meeting has been called off."),
    ("Merci beaucoup \U0001F642 à bientôt !",
     "Merci beaucoup à bientôt \U0001F642 !",
     None),
    ("After the storm, the villagers gathered in the square to repair the roofs, "
     "clear the roads and share what food they had left.",
     "After the storm the villagers met in the square to repair roofs, clear roads, "
     "and share the food they still had.",
     "Once the storm had passed, villagers gathered on the square to mend the roofs, "
     "clear the roads and share their remaining food."),
    ("the the the the the the",
     "the cat is on the mat",
     "there is a cat on the mat"),
    ("Je n'ai pas vu « Les Misérables » au théâtre.",
     "Je n'ai jamais vu « Les Misérables » au théâtre.",
     None),
    ("See section 4.2: results/discussion (p. 17).",
     "See section 4.2 : results and discussion (page 17).",
     "Refer to section 4.2 (results/discussion), p. 17."),
    ("Bonjour\tle monde  ",
     "Bonjour le monde",
     "Salut tout le monde !"),
    ("Pourquoi pas ?",
     "Pourquoi pas?",
     None),
    ("Completely unrelated output",
     "Rien à voir avec la phrase.",
     None),
    ("Prix\u202f: 12\u00a0€, livraison incluse.",
     "Prix : 12 €, livraison comprise.",
     "Tarif : 12 euros, livraison incluse."),
]

# Option names as the TypeScript API spells them, mapped to sacreBLEU's.
BLEU_VARIANTS = [
    {},
    {"smoothMethod": "none"},
    {"smoothMethod": "floor"},
    {"smoothMethod": "floor", "smoothValue": 0.2},
    {"smoothMethod": "add-k"},
    {"smoothMethod": "add-k", "smoothValue": 2},
    {"lowercase": True},
    {"tokenize": "none"},
    {"effectiveOrder": True},
]

CHRF_VARIANTS = [
    {},
    {"wordOrder": 2},
    {"epsSmoothing": True},
    {"wordOrder": 2, "epsSmoothing": True},
    {"lowercase": True},
    {"whitespace": True},
    {"beta": 1},
    {"charOrder": 4, "wordOrder": 1, "beta": 3},
]


def bleu_metric(opts, sentence=False):
    return BLEU(
        smooth_method=opts.get("smoothMethod", "exp"),
        smooth_value=opts.get("smoothValue"),
        tokenize=opts.get("tokenize", "13a"),
        lowercase=opts.get("lowercase", False),
        effective_order=opts.get("effectiveOrder", sentence),
    )


def chrf_metric(opts):
    return CHRF(
        char_order=opts.get("charOrder", CHRF.CHAR_ORDER),
        word_order=opts.get("wordOrder", CHRF.WORD_ORDER),
        beta=opts.get("beta", CHRF.BETA),
        lowercase=opts.get("lowercase", False),
        whitespace=opts.get("whitespace", False),
        eps_smoothing=opts.get("epsSmoothing", False),
    )


def bleu_dict(s, opts):
    d = {
        "score": s.score,
        "precisions": list(s.precisions),
        "bp": s.bp,
        "sysLen": s.sys_len,
        "refLen": s.ref_len,
    }
    # add-k smoothing adds k to sacreBLEU's counts in place; ours are reported raw.
    if opts.get("smoothMethod") != "add-k":
        d["counts"] = [int(c) for c in s.counts]
        d["totals"] = [int(t) for t in s.totals]
    return d


def main():
    # Quiet the "enable effective_order" advice: the no-effective-order case is deliberate.
    logging.getLogger("sacrebleu").setLevel(logging.ERROR)

    hyps = [p[0] for p in PAIRS]
    refs1 = [p[1] for p in PAIRS]
    refs2 = [p[2] for p in PAIRS]

    out = {
        "generator": "scripts/sacrebleu_fixtures.py",
        "sacrebleu": sacrebleu.__version__,
        "tokenize13a": [],
        "corpora": {},
        "corpusBleu": [],
        "sentenceBleu": [],
        "corpusChrf": [],
        "sentenceChrf": [],
    }

    tok = Tokenizer13a()
    for h, r1, r2 in PAIRS:
        for s in (h, r1, r2):
            if s is not None:
                out["tokenize13a"].append({"input": s, "output": tok(s)})

    corpora = {
        "single": (hyps, [refs1]),
        "multi": (hyps, [refs1, refs2]),
        "first5": (hyps[:5], [refs1[:5]]),
    }
    for name, (h, r) in corpora.items():
        out["corpora"][name] = {"hyps": h, "refs": r}
        for opts in BLEU_VARIANTS:
            s = bleu_metric(opts).corpus_score(h, r)
            out["corpusBleu"].append(
                {"corpus": name, "options": opts, "expected": bleu_dict(s, opts)})
        for opts in CHRF_VARIANTS:
            s = chrf_metric(opts).corpus_score(h, r)
            out["corpusChrf"].append(
                {"corpus": name, "options": opts, "expected": {"score": s.score}})

    for h, r1, r2 in PAIRS:
        for refs in [[r1]] + ([[r1, r2]] if r2 is not None else []):
            for opts in ({}, {"smoothMethod": "floor"}, {"effectiveOrder": False}):
                s = bleu_metric(opts, sentence=True).sentence_score(h, refs)
                out["sentenceBleu"].append(
                    {"hyp": h, "refs": refs, "options": opts, "expected": bleu_dict(s, opts)})
            for opts in ({}, {"wordOrder": 2}, {"epsSmoothing": True}):
                s = chrf_metric(opts).sentence_score(h, refs)
                out["sentenceChrf"].append(
                    {"hyp": h, "refs": refs, "options": opts, "expected": {"score": s.score}})

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "sacrebleu.json")
    # One case per line: small, and diffs stay readable when sacreBLEU changes.
    def dump(v):
        return json.dumps(v, ensure_ascii=False)

    lines = []
    for key, val in out.items():
        if isinstance(val, list):
            body = ",\n".join("  " + dump(x) for x in val)
            lines.append(f"{dump(key)}: [\n{body}\n ]")
        elif isinstance(val, dict):
            body = ",\n".join(f"  {dump(k)}: {dump(x)}" for k, x in val.items())
            lines.append(f"{dump(key)}: {{\n{body}\n }}")
        else:
            lines.append(f"{dump(key)}: {dump(val)}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("{\n " + ",\n ".join(lines) + "\n}\n")
    print(f"wrote {os.path.normpath(path)}: "
          + ", ".join(f"{k}={len(v)}" for k, v in out.items() if isinstance(v, list)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
